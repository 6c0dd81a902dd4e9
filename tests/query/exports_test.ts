/**
 * Exports of a local table (and of an apache-arrow table) to CSV, JSON, Arrow IPC and Parquet, read back and
 * compared with the source: ints, 64-bit ints beyond 2^53, doubles (NaN, infinities, null), strings with
 * commas, quotes, newlines, empty and null, booleans, and nanosecond timestamps (also before 1970).
 */

import assert from "node:assert/strict";
import * as arrow from "apache-arrow";
import { localTableFromArrow } from "../../mod.ts";
import { fromParquet, toArrowIPC, toCSV, toJSON, toParquet, writeTable } from "../../src/export/mod.ts";
import type { LocalTable } from "../../src/table/local_table.ts";
import { nanos, parseCsv, parseIsoNanos, tableDiffs } from "../../testing/compare.ts";

function md(t: string): Map<string, string> {
  return new Map([["deephaven:type", t]]);
}

const NS = 1_000_000n;
const TS: (bigint | null)[] = [
  1_700_000_000_123_456_789n,
  0n,
  null,
  -1_000_000_001n, // 1969-12-31T23:59:58.999999999Z
  1_700_000_000_000n * NS, // whole milliseconds
  1_700_000_000_123_456_000n, // whole microseconds
  86_400_000_000_000n,
  1_234n,
  -86_400_000_000_000n * 365n,
];
const COLUMNS = {
  I: [1, -2, null, 2147483647, -2147483647, 0, 7, 8, 9],
  L: [2n ** 60n + 1n, -(2n ** 53n) - 3n, 0n, null, 9007199254740991n, -1n, 5n, 6n, 7n],
  D: [0.1, NaN, null, Infinity, -Infinity, -0.5, 1e-300, 123456789.125, 3],
  S: ["plain", "a,b", 'say "hi"', "line1\nline2", "cr\r\nlf", "", null, "unicode ✓ ü", " padded "],
  B: [true, false, null, true, false, true, null, false, true],
  T: TS,
};

/** The source: an Arrow table with Deephaven's types and metadata, as a local table. */
function source(): LocalTable {
  const fields = [
    new arrow.Field("I", new arrow.Int32(), true, md("int")),
    new arrow.Field("L", new arrow.Int64(), true, md("long")),
    new arrow.Field("D", new arrow.Float64(), true, md("double")),
    new arrow.Field("S", new arrow.Utf8(), true, md("java.lang.String")),
    new arrow.Field("B", new arrow.Bool(), true, md("java.lang.Boolean")),
    new arrow.Field("T", new arrow.TimestampNanosecond("UTC"), true, md("java.time.Instant")),
  ];
  const n = TS.length;
  const ts = arrow.makeData({
    type: new arrow.TimestampNanosecond("UTC"),
    length: n,
    data: BigInt64Array.from(TS, (v) => v ?? 0n),
    nullBitmap: Uint8Array.from([TS.slice(0, 8).reduce((b, v, i) => b | (v === null ? 0 : 1 << i), 0), 1]),
    nullCount: TS.filter((v) => v === null).length,
  });
  const children = [
    arrow.vectorFromArray(COLUMNS.I, new arrow.Int32()).data[0],
    arrow.vectorFromArray(COLUMNS.L, new arrow.Int64()).data[0],
    arrow.vectorFromArray(COLUMNS.D, new arrow.Float64()).data[0],
    arrow.vectorFromArray(COLUMNS.S, new arrow.Utf8()).data[0],
    arrow.vectorFromArray(COLUMNS.B, new arrow.Bool()).data[0],
    ts,
  ];
  const schema = new arrow.Schema(fields);
  const batch = new arrow.RecordBatch(
    schema,
    arrow.makeData({ type: new arrow.Struct(fields), length: n, children }),
  );
  return localTableFromArrow(new arrow.Table([batch]));
}

Deno.test("toCSV writes RFC 4180 that reads back to the source values", () => {
  const t = source();
  const csv = toCSV(t);
  assert.ok(csv.endsWith("\r\n"));
  const [header, ...records] = parseCsv(csv);
  assert.deepEqual(header.map((f) => f.value), ["I", "L", "D", "S", "B", "T"]);
  assert.equal(records.length, t.size);
  records.forEach((rec, r) => {
    assert.equal(rec.length, 6, `row ${r} has 6 fields`);
    const [I, L, D, S, B, T] = rec;
    const isNull = (f: { value: string; quoted: boolean }) => f.value === "" && !f.quoted;
    assert.equal(isNull(I) ? null : Number(I.value), COLUMNS.I[r], `I at row ${r}`);
    assert.equal(isNull(L) ? null : BigInt(L.value), COLUMNS.L[r], `L at row ${r}`);
    assert.ok(Object.is(isNull(D) ? null : Number(D.value), COLUMNS.D[r]), `D at row ${r}: ${D.value}`);
    assert.equal(isNull(S) ? null : S.value, COLUMNS.S[r], `S at row ${r}`);
    assert.equal(isNull(B) ? null : B.value === "true", COLUMNS.B[r], `B at row ${r}`);
    if (!isNull(B)) assert.ok(B.value === "true" || B.value === "false");
    assert.equal(isNull(T) ? null : parseIsoNanos(T.value), COLUMNS.T[r], `T at row ${r}: ${T.value}`);
  });
  // The empty string is quoted, null is an empty field.
  assert.deepEqual(records[5][3], { value: "", quoted: true });
  assert.deepEqual(records[6][3], { value: "", quoted: false });
  // The Arrow form of the same table gives the same text.
  assert.equal(toCSV(t.toArrow()), csv);
});

Deno.test("toJSON writes rows that parse back to the source values", () => {
  const t = source();
  const rows = JSON.parse(toJSON(t)) as Record<string, unknown>[];
  assert.equal(rows.length, t.size);
  rows.forEach((row, r) => {
    assert.deepEqual(Object.keys(row), ["I", "L", "D", "S", "B", "T"]);
    assert.equal(row.I, COLUMNS.I[r]);
    // 64-bit integers: numbers when exact, else decimal strings.
    const l = COLUMNS.L[r];
    if (l === null) assert.equal(row.L, null);
    else if (Number.isSafeInteger(Number(l))) assert.equal(row.L, Number(l));
    else assert.equal(row.L, l.toString(), `L at row ${r} is a string`);
    // Doubles: non-finite numbers as strings.
    const d = COLUMNS.D[r];
    if (d === null) assert.equal(row.D, null);
    else if (Number.isFinite(d)) assert.equal(row.D, d);
    else assert.equal(row.D, String(d));
    assert.equal(row.S, COLUMNS.S[r]);
    assert.equal(row.B, COLUMNS.B[r]);
    const ts = COLUMNS.T[r];
    if (ts === null) assert.equal(row.T, null);
    else assert.equal(parseIsoNanos(row.T as string), ts, `T at row ${r}: ${row.T}`);
  });
  assert.equal(toJSON(t.toArrow()), toJSON(t));
});

Deno.test("toArrowIPC (stream and file) reads back to the same table, types and metadata included", () => {
  const t = source();
  const expected = t.toArrow();
  for (const format of ["stream", "file"] as const) {
    const back = arrow.tableFromIPC(toArrowIPC(t, format));
    assert.deepEqual(tableDiffs(back, expected), [], format);
    assert.deepEqual(nanos(back, "T"), TS, `${format}: nanosecond timestamps`);
    for (const f of expected.schema.fields) {
      const g = back.schema.fields.find((x) => x.name === f.name)!;
      assert.equal(
        g.metadata.get("deephaven:type"),
        f.metadata.get("deephaven:type"),
        `${format}: ${f.name}`,
      );
    }
  }
});

Deno.test("toParquet reads back through fromParquet to the same values and types", async () => {
  const t = source();
  const expected = t.toArrow();
  const bytes = await toParquet(t);
  assert.equal(new TextDecoder().decode(bytes.slice(0, 4)), "PAR1");
  const back = await fromParquet(bytes);
  assert.deepEqual(tableDiffs(back, expected), []);
  assert.deepEqual(nanos(back, "T"), TS, "nanosecond timestamps");
  // From an Arrow table too.
  assert.deepEqual(tableDiffs(await fromParquet(await toParquet(expected)), expected), []);
});

Deno.test("writeTable picks the format from the extension and writes the same bytes as the exporters", async () => {
  const t = source();
  const dir = await Deno.makeTempDir({ prefix: "dh-exports-" });
  try {
    for (const ext of ["arrow", "csv", "json", "parquet"]) {
      const path = `${dir}/t.${ext}`;
      const n = await writeTable(t, path);
      const bytes = await Deno.readFile(path);
      assert.equal(n, bytes.length, `${ext}: the reported size`);
      const text = () => new TextDecoder().decode(bytes);
      if (ext === "csv") assert.equal(text(), toCSV(t));
      if (ext === "json") assert.equal(text(), toJSON(t));
      if (ext === "arrow") assert.deepEqual(tableDiffs(arrow.tableFromIPC(bytes), t.toArrow()), []);
      if (ext === "parquet") assert.deepEqual(tableDiffs(await fromParquet(bytes), t.toArrow()), []);
    }
    await assert.rejects(writeTable(t, `${dir}/t.txt`), /Cannot tell the format/);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
