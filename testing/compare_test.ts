import assert from "node:assert/strict";
import {
  Field,
  Float64,
  Int32,
  Int64,
  List,
  makeData,
  makeVector,
  Schema,
  Table,
  TimestampNanosecond,
  Utf8,
  vectorFromArray,
} from "../src/deps/apache_arrow.ts";
import { assertArrowEqual, cellEqual, showCell, vectorCells } from "./compare.ts";

function ts(values: bigint[]) {
  return makeVector(
    makeData({
      type: new TimestampNanosecond("UTC"),
      length: values.length,
      data: BigInt64Array.from(values),
    }),
  );
}

function table(over: Record<string, unknown> = {}): Table {
  return new Table({
    I: vectorFromArray([1, null, 3], new Int32()),
    L: vectorFromArray([1n, 2n ** 62n, null], new Int64()),
    D: vectorFromArray([0.5, Number.NaN, -0], new Float64()),
    S: vectorFromArray(["a", null, "c"], new Utf8()),
    T: ts([1n, 2n, 3n]),
    A: vectorFromArray([[1, 2], [], [3]], new List(new Field("item", new Int32(), true))),
    ...over,
  } as never);
}

Deno.test("assertArrowEqual accepts equal tables, NaN included", () => {
  assertArrowEqual(table(), table(), "same");
});

Deno.test("assertArrowEqual names the label, row and column of a differing value", () => {
  const cases: Array<[Record<string, unknown>, RegExp]> = [
    [{ I: vectorFromArray([1, 2, 3], new Int32()) }, /^op: row 1, column I: actual null, expected 2$/],
    [
      { L: vectorFromArray([1n, 2n ** 62n + 1n, null], new Int64()) },
      /row 1, column L: actual 4611686018427387904n/,
    ],
    [{ D: vectorFromArray([0.5, Number.NaN, 0], new Float64()) }, /row 2, column D: actual -0, expected 0/],
    [{ S: vectorFromArray(["a", null, "C"], new Utf8()) }, /row 2, column S: actual "c", expected "C"/],
    [{ T: ts([1n, 2n, 4n]) }, /row 2, column T: actual 3n, expected 4n/],
    [
      { A: vectorFromArray([[1, 2], [], [4]], new List(new Field("item", new Int32(), true))) },
      /row 2, column A: actual \[3\], expected \[4\]/,
    ],
  ];
  for (const [over, re] of cases) {
    assert.throws(() => assertArrowEqual(table(), table(over), "op"), (e: Error) => {
      assert.match(e.message, re);
      return true;
    });
  }
});

Deno.test("assertArrowEqual reports differing names, types, row counts and metadata", () => {
  assert.throws(
    () => assertArrowEqual(table(), new Table({ I: vectorFromArray([1], new Int32()) }), "x"),
    /column names differ/,
  );
  assert.throws(
    () => assertArrowEqual(table(), table({ I: vectorFromArray([1n, null, 3n], new Int64()) }), "x"),
    /column I has type Int32, expected Int64/,
  );
  const short = new Table({ I: vectorFromArray([1], new Int32()) });
  const long = new Table({ I: vectorFromArray([1, 2], new Int32()) });
  assert.throws(() => assertArrowEqual(short, long, "x"), /1 rows, expected 2/);
  const withMeta = new Table(
    new Schema([short.schema.fields[0].clone({ metadata: new Map([["deephaven:type", "int"]]) })]),
    short.batches,
  );
  assert.throws(() => assertArrowEqual(short, withMeta, "x"), /column I has metadata/);
  assertArrowEqual(short, withMeta, "x", { fieldMetadata: false });
});

Deno.test("vectorCells reads raw 64-bit timestamps across chunks; showCell and cellEqual", () => {
  const two = new Table({ T: ts([1n, 2n]) }).concat(new Table({ T: ts([3n]) }));
  assert.deepEqual(vectorCells(two.getChild("T")!), [1n, 2n, 3n]);
  assert.equal(showCell([1n, null, "x", -0]), `[1n, null, "x", -0]`);
  assert.ok(cellEqual(Number.NaN, Number.NaN));
  assert.ok(!cellEqual(0, -0));
  assert.ok(!cellEqual([1], [1, 2]));
});
