import assert from "node:assert/strict";
import { loadRecordedStreams } from "../../testing/fixtures/recorded.ts";
import { tableDiffs } from "../../testing/compare.ts";
import { tableFromFlight } from "../arrow/ipc.ts";
import { ArrowSnapshotStream, arrowTableFromDeephavenNulls } from "./arrow_snapshot.ts";
import { create, toBinary } from "../deps/protobuf.ts";
import { FlightDataSchema } from "../generated/proto/arrow/flight/protocol/flight_pb.ts";
import { mulberry32 } from "../../testing/prng.ts";

const { streams } = loadRecordedStreams();
const snapshotOf = (name: string) => streams.find((s) => s.name === name)!.messages.slice(0, 2);

Deno.test("a snapshot with Deephaven nulls reads to the Arrow table of the same snapshot with Arrow nulls", () => {
  // The recorded types table: every column type, a row of nulls (list elements too) and a row of edge values.
  const dh = arrowTableFromDeephavenNulls(snapshotOf("types-dh-nulls"));
  const ar = tableFromFlight(snapshotOf("types-arrow-nulls"));
  assert.equal(dh.numRows, 7);
  assert.deepEqual(tableDiffs(dh, ar), []);
  // Without the bitmaps the two differ: the sentinels would read as values.
  assert.notDeepEqual(tableDiffs(tableFromFlight(snapshotOf("types-dh-nulls")), ar), []);
  const In = dh.getChild("In")!;
  assert.equal(In.get(5), null);
  assert.equal(In.nullCount, 1);
});

Deno.test("the same snapshot streamed in pieces of any size reads to the same Arrow table", () => {
  const messages = snapshotOf("types-dh-nulls").map((m) =>
    toBinary(FlightDataSchema, create(FlightDataSchema, m))
  );
  const expected = tableFromFlight(snapshotOf("types-arrow-nulls"));
  const r = mulberry32(4);
  for (let round = 0; round < 20; round++) {
    const stream = new ArrowSnapshotStream();
    const buf = new Uint8Array(4096);
    for (const bytes of messages) {
      const rx = stream.receive(bytes.length);
      for (let at = 0; at < bytes.length;) {
        const n = Math.min(bytes.length - at, 1 + Math.floor(r() * 40));
        buf.set(bytes.subarray(at, at + n));
        rx.write(buf, 0, n);
        buf.fill(0x5a, 0, n);
        at += n;
      }
      rx.end();
    }
    assert.deepEqual(tableDiffs(stream.done("test"), expected), [], `round ${round}`);
  }
});
