/**
 * The decoder on the Arrow types a Deephaven server keeps for imported tables (Float16, unsigned integers,
 * Decimal128/256, FixedSizeBinary, other time units), read exactly and written back unchanged by
 * `toArrow()`; and types it cannot read, refused with an error that names the column and the type.
 * (tests/barrage/exact_test.ts reads the same types from a real server.)
 */

import assert from "node:assert/strict";
import * as arrow from "../deps/apache_arrow.ts";
import { DeephavenError } from "../errors.ts";
import { assertArrowEqual } from "../../testing/compare.ts";
import { Instant } from "../table/time.ts";
import { arrowValues, localTableFromArrow } from "./from_arrow.ts";

const md = (t: string) => new Map([["deephaven:type", t]]);

/** A table of the given columns, 3 rows each, the last row null. */
function table(cols: [arrow.Field, ArrayBufferView][]): arrow.Table {
  const n = 3;
  const fields = cols.map(([f]) => f);
  const children = cols.map(([f, data]) =>
    // deno-lint-ignore no-explicit-any
    arrow.makeData({ type: f.type, length: n, data, nullBitmap: Uint8Array.of(0b011), nullCount: 1 } as any)
  );
  const schema = new arrow.Schema(fields);
  return new arrow.Table([
    new arrow.RecordBatch(schema, arrow.makeData({ type: new arrow.Struct(fields), length: n, children })),
  ]);
}

/** Little-endian 32-bit words of two's complement values of `words` words each. */
function words(values: bigint[], perValue: number): Uint32Array {
  const out = new Uint32Array(values.length * perValue);
  values.forEach((v, i) => {
    let x = BigInt.asUintN(perValue * 32, v);
    for (let k = 0; k < perValue; k++, x >>= 32n) out[i * perValue + k] = Number(x & 0xffffffffn);
  });
  return out;
}

const half = arrow.util.float64ToUint16;

Deno.test("uncommon Arrow types read exactly and toArrow() writes them back unchanged", () => {
  const source = table([
    [
      new arrow.Field("H", new arrow.Float16(), true, md("float")),
      Uint16Array.of(half(1.5), half(-0.0001), 0),
    ],
    [new arrow.Field("U8", new arrow.Uint8(), true, md("short")), Uint8Array.of(200, 1, 0)],
    [new arrow.Field("U32", new arrow.Uint32(), true, md("long")), Uint32Array.of(2 ** 31 + 5, 1, 0)],
    [
      new arrow.Field("U64", new arrow.Uint64(), true, md("java.math.BigInteger")),
      BigUint64Array.of(2n ** 63n + 5n, 1n, 0n),
    ],
    [
      new arrow.Field("D128", new arrow.Decimal(2, 10, 128), true, md("java.math.BigDecimal")),
      words([100n, -100n, 0n], 4),
    ],
    [
      new arrow.Field("D256", new arrow.Decimal(3, 40, 256), true, md("java.math.BigDecimal")),
      words([10n ** 39n, -2n, 0n], 8),
    ],
    [
      new arrow.Field("FB", new arrow.FixedSizeBinary(2), true, md("byte[]")),
      Uint8Array.of(1, 2, 3, 4, 0, 0),
    ],
    [
      new arrow.Field("Tms", new arrow.TimestampMillisecond("UTC"), true, md("java.time.Instant")),
      BigInt64Array.of(-1n, 1_700_000_000_123n, 0n),
    ],
    [
      new arrow.Field("T32", new arrow.TimeMillisecond(), true, md("java.time.LocalTime")),
      Int32Array.of(3_723_004, 1, 0),
    ],
    [
      new arrow.Field("Du", new arrow.DurationMicrosecond(), true, md("java.time.Duration")),
      BigInt64Array.of(5n, -7n, 0n),
    ],
    [
      new arrow.Field("D32", new arrow.DateDay(), true, md("java.time.LocalDate")),
      Int32Array.of(-3652, 19000, 0),
    ],
  ]);
  const t = localTableFromArrow(source);
  assert.deepEqual(t.row(0), {
    H: 1.5,
    U8: 200,
    U32: 2147483653n,
    U64: 9223372036854775813n,
    D128: "1.00",
    D256: "1000000000000000000000000000000000000.000",
    FB: Uint8Array.of(1, 2),
    Tms: new Instant(-1_000_000n),
    T32: "01:02:03.004",
    Du: 5000n,
    D32: "1960-01-02",
  });
  assert.equal(
    t.get(1, "H"),
    arrow.util.uint16ToFloat64(half(-0.0001)),
    "the exact half-precision value",
  );
  assert.equal(t.get(1, "D128"), "-1.00");
  assert.equal(t.get(1, "D256"), "-0.002");
  assert.equal(t.get(1, "Tms")!.toString(), "2023-11-14T22:13:20.123Z");
  assert.deepEqual(Object.values(t.row(2)), new Array(11).fill(null));
  assertArrowEqual(t.toArrow(), source, "toArrow() of the uncommon types");
  // The same values through arrowValues (what display and export read from an apache-arrow table).
  const get = arrowValues(source);
  source.schema.fields.forEach((f, j) => assert.deepEqual(get(1, j), t.get(1, f.name), f.name));
});

Deno.test("a column of a type the decoder cannot read is an error naming the column and the type", () => {
  const cases: [string, arrow.Table][] = [
    ["S", new arrow.Table({ S: arrow.vectorFromArray([{ x: 1 }, { x: 2 }]) })],
    ["L", new arrow.Table({ L: arrow.vectorFromArray(["a"], new arrow.LargeUtf8()) })],
    [
      "P",
      new arrow.Table({
        P: arrow.makeVector(
          arrow.makeData({ type: new arrow.IntervalYearMonth(), length: 1, data: Int32Array.of(3) }),
        ),
      }),
    ],
    ["LS", new arrow.Table({ LS: arrow.vectorFromArray([[{ x: 1 }]]) })],
  ];
  for (const [name, t] of cases) {
    const type = String(t.schema.fields[0].type);
    assert.throws(
      () => localTableFromArrow(t),
      (e) =>
        e instanceof DeephavenError && e.codeName === "UNIMPLEMENTED" &&
        e.message.includes(`Column "${name}"`) &&
        e.message.includes(name === "LS" ? "Struct" : type),
      name,
    );
  }
  // A Null column holds only nulls: it reads as such. An empty column of an unreadable type holds nothing.
  const nulls = localTableFromArrow(
    new arrow.Table({ N: arrow.vectorFromArray([null, null], new arrow.Null()) }),
  );
  assert.deepEqual(nulls.column("N"), [null, null]);
  const empty = localTableFromArrow(new arrow.Table({ S: arrow.vectorFromArray([], new arrow.LargeUtf8()) }));
  assert.equal(empty.size, 0);
  // Display and export of an apache-arrow table read such columns with apache-arrow's own values.
  const mixed = new arrow.Table({
    S: arrow.vectorFromArray(["a"], new arrow.LargeUtf8()),
    T: arrow.vectorFromArray([1n]),
  });
  const get = arrowValues(mixed);
  assert.deepEqual([get(0, 0), get(0, 1)], ["a", 1n]);
});
