import assert from "node:assert/strict";
import {
  Bool,
  DateDay,
  Field,
  Float64,
  Int16,
  Int32,
  Int64,
  Int8,
  List,
  Schema,
  Table,
  TimestampMillisecond,
  TimestampNanosecond,
  Uint16,
  Utf8,
  vectorFromArray,
} from "../deps/apache_arrow.ts";
import { DeephavenError } from "../errors.ts";
import { conformArrow, rowsToArrow } from "./from_rows.ts";

const SCHEMA = new Schema([
  new Field(
    "S",
    new Utf8(),
    true,
    new Map([["deephaven:type", "java.lang.String"], ["deephaven:inputtable.isKey", "true"]]),
  ),
  new Field("B", new Int8()),
  new Field("H", new Int16()),
  new Field("I", new Int32()),
  new Field("L", new Int64()),
  new Field("C", new Uint16(), true, new Map([["deephaven:type", "char"]])),
  new Field("D", new Float64()),
  new Field("Ok", new Bool()),
  new Field("T", new TimestampNanosecond("UTC")),
  new Field("Day", new DateDay()),
]);

function invalid(f: () => unknown, pattern: RegExp): void {
  assert.throws(f, (e: unknown) => {
    assert.ok(e instanceof DeephavenError, `a DeephavenError, got ${e}`);
    assert.equal(e.codeName, "INVALID_ARGUMENT");
    assert.match(e.message, pattern);
    return true;
  });
}

Deno.test("rowsToArrow encodes every supported type exactly, nulls included", () => {
  const t = rowsToArrow(
    [
      {
        S: "a",
        B: 127,
        H: -32767,
        I: 2_147_483_647,
        L: 2n ** 62n,
        C: "x",
        D: -0.5,
        Ok: true,
        T: -1n,
        Day: "1969-12-31",
      },
      { S: "b", L: 9_007_199_254_740_991, T: new Date(Date.UTC(2024, 0, 1, 0, 0, 0, 5)) },
    ],
    SCHEMA,
    "Adding rows",
    ["S"],
  );
  assert.equal(t.numRows, 2);
  assert.deepEqual(
    t.schema.fields.map((f) => [f.name, String(f.type)]),
    SCHEMA.fields.map((f) => [f.name, String(f.type)]),
  );
  assert.equal(t.schema.fields[0].metadata.get("deephaven:type"), "java.lang.String");
  assert.equal(
    t.schema.fields[0].metadata.has("deephaven:inputtable.isKey"),
    false,
    "only deephaven:type is sent",
  );
  assert.equal(t.getChild("L")!.get(0), 2n ** 62n);
  assert.equal(t.getChild("L")!.get(1), 9_007_199_254_740_991n);
  assert.equal(t.getChild("C")!.get(0), "x".charCodeAt(0));
  assert.equal(t.getChild("I")!.get(1), null);
  assert.equal(t.getChild("Ok")!.get(1), null);
  const nanos = t.getChild("T")!.data[0].values as BigInt64Array;
  assert.deepEqual([...nanos], [-1n, 1_704_067_200_005_000_000n]);
  assert.equal((t.getChild("Day")!.data[0].values as Int32Array)[0], -1);
  assert.equal(rowsToArrow([], SCHEMA, "Adding rows").numRows, 0);
});

Deno.test("rowsToArrow refuses bad values, naming the row and column", () => {
  const add = (row: Record<string, unknown>) => () =>
    rowsToArrow([{ S: "k" }, row], SCHEMA, "Adding rows", ["S"]);
  invalid(add({ S: "z", I: "1" }), /Adding rows failed: row 1, column 'I' \(I(nt32)?\) needs a whole number/);
  invalid(add({ S: "z", I: 1.5 }), /row 1, column 'I'/);
  invalid(add({ S: "z", B: 128 }), /column 'B'/);
  invalid(add({ S: "z", B: -128 }), /column 'B'/); // Deephaven's null sentinel
  invalid(add({ S: "z", L: 2 ** 53 }), /column 'L'.*bigint or a safe integer/);
  invalid(add({ S: "z", C: "xy" }), /column 'C' \(char\) needs a one-character string/);
  invalid(add({ S: "z", D: "1" }), /column 'D'/);
  invalid(add({ S: "z", Ok: 1 }), /column 'Ok'/);
  invalid(add({ S: "z", T: 5 }), /column 'T'/);
  invalid(add({ S: "z", T: new Date(Number.NaN) }), /Date\(invalid\)/);
  invalid(add({ S: "z", Day: "2024-1-1" }), /column 'Day'/);
  invalid(add({ I: 1 }), /row 1 has no value for the key column 'S'/);
  invalid(add({ S: "z", Nope: 1 }), /row 1 has a column 'Nope'/);
  invalid(() => rowsToArrow([null as never], SCHEMA, "Adding rows"), /row 0 is null/);
  invalid(() => rowsToArrow([{ S: "a" }], SCHEMA, "Adding rows", ["K"]), /no column 'K'/);
  const ms = new Schema([new Field("T", new TimestampMillisecond())]);
  invalid(() => rowsToArrow([{ T: 1n }], ms, "Adding rows"), /column 'T'/); // not whole milliseconds
  const lists = new Schema([new Field("A", new List(new Field("item", new Int32())))]);
  invalid(() => rowsToArrow([{ A: [1] }], lists, "Adding rows"), /cannot be given in plain rows/);
});

Deno.test("conformArrow checks columns and types, reorders, and reads dictionary strings", () => {
  const schema = new Schema([new Field("S", new Utf8()), new Field("I", new Int32())]);
  const given = new Table({ I: vectorFromArray([1, 2], new Int32()), S: vectorFromArray(["a", "b"]) });
  const t = conformArrow(given, schema, "Adding rows", ["S"]);
  assert.deepEqual(t.schema.fields.map((f) => `${f.name}:${f.type}`), ["S:Utf8", "I:Int32"]);
  assert.deepEqual(t.toArray().map((r) => r.toJSON()), [{ S: "a", I: 1 }, { S: "b", I: 2 }]);
  invalid(
    () => conformArrow(new Table({ S: vectorFromArray(["a"], new Utf8()) }), schema, "X"),
    /no column 'I'/,
  );
  invalid(
    () =>
      conformArrow(
        new Table({ S: vectorFromArray(["a"], new Utf8()), I: vectorFromArray([1.5]) }),
        schema,
        "X",
      ),
    /column 'I' is Float64 in the data but Int32/,
  );
  invalid(
    () =>
      conformArrow(
        new Table({
          S: vectorFromArray(["a"], new Utf8()),
          I: vectorFromArray([1], new Int32()),
          Z: vectorFromArray([1], new Int32()),
        }),
        schema,
        "X",
      ),
    /column 'Z' that the table does not have/,
  );
  invalid(
    () =>
      conformArrow(
        new Table({ S: vectorFromArray([null, "b"], new Utf8()), I: vectorFromArray([1, 2], new Int32()) }),
        schema,
        "X",
        ["S"],
      ),
    /row 0 has no value for the key column 'S'/,
  );
  const keysOnly = conformArrow(given, schema, "Deleting", ["S"], ["S"]);
  assert.deepEqual(keysOnly.schema.fields.map((f) => f.name), ["S"]);
});
