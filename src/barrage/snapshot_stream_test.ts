/**
 * The streaming snapshot decoder (snapshot_stream.ts) against the message decoder, on messages recorded
 * from the real server: the same bytes, split at random points as a socket would deliver them, must build
 * the same table as the whole messages do; damaged bytes must fail the same way.
 */

import assert from "node:assert/strict";
import { create, toBinary } from "../deps/protobuf.ts";
import { FlightDataSchema } from "../generated/proto/arrow/flight/protocol/flight_pb.ts";
import { loadRecordedStreams, type RecordedStream } from "../../testing/fixtures/recorded.ts";
import { mulberry32 } from "../../testing/prng.ts";
import { schemaFromFlatbuffer } from "../arrow/ipc.ts";
import { createLocalTable, type LocalTable } from "../table/local_table.ts";
import { DeephavenError, GrpcCode } from "../errors.ts";
import { UpdateApplier } from "./applier.ts";
import { SnapshotStream } from "./snapshot_stream.ts";
import { layoutOf, readBatchHeader } from "../wire/record_batch.ts";

const { streams } = loadRecordedStreams();

function serialize(m: RecordedStream["messages"][number]): Uint8Array {
  return toBinary(FlightDataSchema, create(FlightDataSchema, m));
}

/** The table the message decoder builds from whole messages (rows appended, as a snapshot does). */
function byMessages(s: RecordedStream, messages = s.messages): LocalTable {
  const schema = schemaFromFlatbuffer(messages[0].dataHeader);
  const { table, writer } = createLocalTable(schema);
  const applier = new UpdateApplier(schema, writer, () => "append");
  for (const m of messages.slice(1)) applier.feed(m as Parameters<UpdateApplier["feed"]>[0]);
  return table;
}

/** The table the streaming decoder builds from the same messages' bytes, cut into pieces at random. */
function byBytes(messages: Uint8Array[], seed: number): { table: LocalTable; streamed: number } {
  const r = mulberry32(seed);
  const stream = new SnapshotStream({ what: "test" });
  // One read buffer, reused and overwritten as a socket's would be.
  const buf = new Uint8Array(1 << 16);
  for (const bytes of messages) {
    const rx = stream.receive(bytes.length);
    for (let at = 0; at < bytes.length;) {
      const n = Math.min(bytes.length - at, 1 + Math.floor(r() * (r() < 0.3 ? 8 : 3000)));
      const off = Math.floor(r() * (buf.length - n));
      buf.set(bytes.subarray(at, at + n), off);
      rx.write(buf, off, off + n);
      buf.fill(0xa5, off, off + n);
      at += n;
    }
    rx.end();
  }
  return { table: stream.done(), streamed: stream.streamed };
}

function assertSameTable(a: LocalTable, b: LocalTable, label: string): void {
  assert.equal(a.size, b.size, `${label}: size`);
  assert.deepEqual(a.columns, b.columns);
  for (let c = 0; c < a.columns.length; c++) {
    for (let i = 0; i < a.size; i++) {
      assert.deepEqual(a.get(i, c), b.get(i, c), `${label}: row ${i} column ${a.columns[c]}`);
    }
  }
}

Deno.test("streamed snapshot bytes, cut anywhere, build the table the whole messages build", () => {
  let streamed = 0;
  for (const s of streams) {
    const expected = byMessages(s);
    const bytes = s.messages.map(serialize);
    for (const seed of [1, 2, 3]) {
      const got = byBytes(bytes, seed);
      assertSameTable(got.table, expected, `${s.name} (seed ${seed})`);
      streamed += got.streamed;
    }
  }
  assert.ok(streamed > 0, "batches were streamed into storage, not only assembled");
});

Deno.test("the types table streams into storage: fixed-width, string and other columns", () => {
  for (const name of ["types-dh-nulls", "types-arrow-nulls"]) {
    const s = streams.find((x) => x.name === name)!;
    const got = byBytes(s.messages.map(serialize), 7);
    assert.equal(got.streamed, 1, `${name}: its snapshot batch was streamed`);
    assert.ok(got.table.size > 0);
    assertSameTable(got.table, byMessages(s), name);
  }
});

/** A copy of the types stream with one byte of the snapshot batch's body changed. */
function damaged(offsetOf: (layout: ReturnType<typeof readBatchHeader>) => number, value: number) {
  const s = streams.find((x) => x.name === "types-dh-nulls")!;
  const messages = s.messages.map((m) => ({ ...m, dataBody: m.dataBody.slice() }));
  const batch = messages[1];
  const at = offsetOf(readBatchHeader(batch.dataHeader));
  batch.dataBody[at] = value;
  return { s, messages };
}

Deno.test("damaged string offsets fail the streamed snapshot as they fail the message decoder", () => {
  const schema = schemaFromFlatbuffer(streams[0].messages[0].dataHeader);
  const st = schema.fields.findIndex((f) => f.name === "St");
  assert.ok(st >= 0);
  // The St column's offsets buffer: its second buffer (after validity).
  const { s, messages } = damaged((layout) => {
    let buffer = 0;
    for (let j = 0; j < st; j++) buffer += layoutOf(schema.fields[j]).buffers;
    return layout.buffers[buffer + 1].offset + 4 * 3 + 3; // the top byte of offset 3: makes it negative
  }, 0x80);
  const fails = (f: () => unknown) => {
    try {
      f();
    } catch (e) {
      return e;
    }
    assert.fail("expected an error");
  };
  const a = fails(() => byMessages(s, messages)) as DeephavenError;
  const b = fails(() => byBytes(messages.map(serialize), 5)) as DeephavenError;
  assert.ok(a instanceof DeephavenError && b instanceof DeephavenError);
  assert.equal(a.code, GrpcCode.DATA_LOSS);
  assert.equal(b.code, a.code);
  assert.equal(b.message, a.message);
});
