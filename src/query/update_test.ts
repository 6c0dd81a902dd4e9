/**
 * Local `update()` column types: learned from all the current values or given, never guessed from one
 * value; values that do not fit fail the derived table instead of turning into wrong values.
 */

import assert from "node:assert/strict";
import * as arrow from "../deps/apache_arrow.ts";
import { DeephavenError } from "../errors.ts";
import { appendArrow } from "../barrage/from_arrow.ts";
import { createLocalTable, type LocalTable, type TableWriter } from "../table/local_table.ts";
import { Instant } from "../table/time.ts";

const md = (t: string) => new Map([["deephaven:type", t]]);

/** An empty live table of `Sym` (String) and `Ts` (Instant), and a function that appends rows to it. */
function source(): { t: LocalTable; append: (rows: { Sym: string | null; Ts: bigint | null }[]) => void } {
  const fields = [
    new arrow.Field("Sym", new arrow.Utf8(), true, md("java.lang.String")),
    new arrow.Field("Ts", new arrow.TimestampNanosecond("UTC"), true, md("java.time.Instant")),
  ];
  const schema = new arrow.Schema(fields);
  const { table: t, writer } = createLocalTable(schema);
  const append = (rows: { Sym: string | null; Ts: bigint | null }[]) => appendRows(writer, schema, rows);
  return { t, append };
}

function appendRows(
  writer: TableWriter,
  schema: arrow.Schema,
  rows: { Sym: string | null; Ts: bigint | null }[],
): void {
  const children = [
    arrow.vectorFromArray(rows.map((r) => r.Sym), new arrow.Utf8()).data[0],
    arrow.makeData({
      type: new arrow.TimestampNanosecond("UTC"),
      length: rows.length,
      data: BigInt64Array.from(rows, (r) => r.Ts ?? 0n),
      nullBitmap: Uint8Array.from(
        { length: 8 },
        (_, b) => rows.reduce((m, r, i) => (i >> 3 === b && r.Ts !== null ? m | (1 << (i & 7)) : m), 0),
      ),
      nullCount: rows.filter((r) => r.Ts === null).length,
    }),
  ];
  appendArrow(
    writer,
    new arrow.Table([
      new arrow.RecordBatch(
        schema,
        arrow.makeData({ type: new arrow.Struct(schema.fields), length: rows.length, children }),
      ),
    ]),
  );
}

const invalid = (pattern: RegExp) => (e: unknown) =>
  e instanceof DeephavenError && e.codeName === "INVALID_ARGUMENT" && pattern.test(e.message);

Deno.test("update() on an empty table asks for the type, and a given String type stays strings", () => {
  const { t, append } = source();
  assert.throws(
    () => t.update({ Label: (r) => `${r.Sym}!` }),
    invalid(/"Label".*no rows yet.*type: "String"/),
  );
  const u = t.update({ Label: { type: "String", value: (r) => `${r.Sym}!` } });
  assert.equal(u.schema.fields[2].type.toString(), "Utf8");
  append([{ Sym: "A", Ts: 1n }, { Sym: "123", Ts: null }]);
  assert.deepEqual(u.column("Label"), ["A!", "123!"]);
  assert.equal(u.toArrow().getChild("Label")!.get(1), "123!");
});

Deno.test("update() learns a type from all the current values, never from the first one alone", () => {
  const { t, append } = source();
  append([{ Sym: null, Ts: -1n }, { Sym: "B", Ts: 5n }]);
  // The first value is null, the second a string: a String column.
  const s = t.update({ S: (r) => r.Sym });
  assert.equal(s.schema.fields[2].metadata.get("deephaven:type"), "java.lang.String");
  assert.deepEqual(s.column("S"), [null, "B"]);
  // Instants stay exact (a pre-1970 one included) and make an Instant column.
  const i = t.update({ Later: (r) => new Instant((r.Ts as Instant).epochNanos + 1n) });
  assert.deepEqual(i.column("Later"), [new Instant(0n), new Instant(6n)]);
  assert.equal(i.schema.fields[2].metadata.get("deephaven:type"), "java.time.Instant");
  // Mixed values, only nulls, or values of no Deephaven type: the type is asked for.
  assert.throws(
    () => t.update({ M: (r) => (r.Sym === null ? 1 : "x") }),
    invalid(/the number 1 and the string "x"/),
  );
  assert.throws(() => t.update({ N: () => null }), invalid(/only nulls/));
  assert.throws(
    () => t.update({ O: () => ({}) }),
    invalid(/cannot tell the type of column "O" from an Object/),
  );
  assert.throws(
    () => t.update({ P: { type: "str" as "String", value: () => "" } }),
    invalid(/unknown type "str"/),
  );
});

Deno.test("update() columns of given types hold exactly what they read back as", () => {
  const { t, append } = source();
  append([{ Sym: "A", Ts: -1_000_000_001n }]);
  const u = t.update({
    C: { type: "char", value: () => "é" },
    I: { type: "int", value: () => 7 },
    L: { type: "long", value: () => 2n ** 62n },
    D: { type: "LocalDate", value: () => "1969-07-20" },
    T: { type: "LocalTime", value: () => "20:17:40.000000001" },
    Bd: { type: "BigDecimal", value: () => "-12.50" },
    Bi: { type: "BigInteger", value: () => -(10n ** 30n) },
    Ts: { type: "Instant", value: (r) => r.Ts },
    Dur: { type: "Duration", value: () => -5n },
  });
  const row = u.row(0);
  assert.deepEqual(row, {
    Sym: "A",
    Ts: new Instant(-1_000_000_001n),
    C: "é",
    I: 7,
    L: 2n ** 62n,
    D: "1969-07-20",
    T: "20:17:40.000000001",
    Bd: "-12.50",
    Bi: -(10n ** 30n),
    Dur: -5n,
  });
  // The Arrow form is the server's for each type, and reads back the same.
  const back = u.toArrow();
  assert.deepEqual(
    back.schema.fields.map((f) => String(f.type)),
    [
      "Utf8",
      "Uint16",
      "Int32",
      "Int64",
      "Date64<MILLISECOND>",
      "Time64<NANOSECOND>",
      "Binary",
      "Binary",
      "Timestamp<NANOSECOND, UTC>",
      "Duration<NANOSECOND>",
    ],
  );
});

Deno.test("a later value that does not fit the column's type fails the derived table, never becomes a wrong value", () => {
  const { t, append } = source();
  append([{ Sym: "1", Ts: 0n }]);
  const n = t.update({ N: (r) => (r.Sym === "1" ? 1.5 : r.Sym) });
  assert.equal(n.schema.fields[2].metadata.get("deephaven:type"), "double");
  append([{ Sym: "x", Ts: 0n }]);
  assert.equal(n.state, "failed");
  assert.match(n.error!.message, /Column "N" of update\(\) is double, and the function gave the string "x"/);
  assert.equal(t.size, 2, "the source is unharmed");
  // Values that do not fit when the column is made: update() itself refuses.
  assert.throws(
    () => t.update({ C: { type: "char", value: () => "ab" } }),
    invalid(/"C" \(char\) cannot hold the string "ab"/),
  );
});
