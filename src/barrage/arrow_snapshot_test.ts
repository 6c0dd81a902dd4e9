import assert from "node:assert/strict";
import { loadRecordedStreams } from "../../testing/fixtures/recorded.ts";
import { tableDiffs } from "../../testing/compare.ts";
import { tableFromFlight } from "../arrow/ipc.ts";
import { arrowTableFromDeephavenNulls } from "./arrow_snapshot.ts";

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
