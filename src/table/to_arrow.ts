/**
 * Builds apache-arrow column data from local column storage, in the
 * server's Arrow types (standard validity bitmaps for nulls).
 *
 * @module
 */

import * as arrow from "../deps/apache_arrow.ts";
import { type ColumnStore, nullSentinel } from "./column.ts";
import { KINDS } from "./kinds.ts";
import { bigIntToBytes, decimalToBytes, writeFixedDecimal } from "./decimal.ts";

export { bigIntToBytes, decimalToBytes };

/** Set bits among the first `n` of a bitmap. */
function countBits(bitmap: Uint8Array, n: number): number {
  let c = 0;
  for (let i = 0; i < n; i++) c += (bitmap[i >> 3] >> (i & 7)) & 1;
  return c;
}

function validityOf(n: number, isNull: (i: number) => boolean): { bitmap: Uint8Array; nulls: number } {
  const bitmap = new Uint8Array(((n + 63) >> 6) << 3);
  let nulls = 0;
  for (let i = 0; i < n; i++) {
    if (isNull(i)) nulls++;
    else bitmap[i >> 3] |= 1 << (i & 7);
  }
  return { bitmap, nulls };
}

function binaryData(type: arrow.DataType, values: (Uint8Array | null)[]): arrow.Data {
  const n = values.length;
  const offsets = new Int32Array(n + 1);
  let total = 0;
  for (let i = 0; i < n; i++) {
    total += values[i]?.length ?? 0;
    offsets[i + 1] = total;
  }
  const data = new Uint8Array(total);
  for (let i = 0; i < n; i++) if (values[i]) data.set(values[i] as Uint8Array, offsets[i]);
  const { bitmap, nulls } = validityOf(n, (i) => values[i] === null);
  return arrow.makeData({
    type: type as arrow.Binary,
    length: n,
    valueOffsets: offsets,
    data,
    nullBitmap: nulls ? bitmap : undefined,
    nullCount: nulls,
  });
}

/** Nanoseconds per Arrow time unit (by `arrow.TimeUnit`). */
const NS_PER_UNIT = [1_000_000_000n, 1_000_000n, 1_000n, 1n];

/**
 * Values from storage (nanoseconds, milliseconds for dates, widened unsigned integers, float32 for Float16)
 * in the layout of their Arrow type: the inverse of what the decoder did.
 */
// deno-lint-ignore no-explicit-any
function wireValues(type: arrow.DataType, values: any): ArrayBufferView {
  if (arrow.DataType.isDate(type)) {
    return type.unit === arrow.DateUnit.DAY
      ? Int32Array.from(values as BigInt64Array, (v) => Number(v / 86_400_000n))
      : values;
  }
  if (arrow.DataType.isTimestamp(type) || arrow.DataType.isTime(type) || arrow.DataType.isDuration(type)) {
    const f = NS_PER_UNIT[type.unit];
    const v = f === 1n ? values as BigInt64Array : (values as BigInt64Array).map((x) => x / f);
    return arrow.DataType.isTime(type) && type.bitWidth === 32 ? Int32Array.from(v, Number) : v;
  }
  if (arrow.DataType.isFloat(type) && type.precision === arrow.Precision.HALF) {
    return Uint16Array.from(values as Float32Array, arrow.util.float64ToUint16);
  }
  if (arrow.DataType.isInt(type) && !type.isSigned && type.bitWidth === 8) return Uint8Array.from(values);
  if (arrow.DataType.isInt(type) && !type.isSigned && type.bitWidth === 32) {
    return Uint32Array.from(values as BigInt64Array, (x) => Number(BigInt.asUintN(32, x)));
  }
  return values;
}

/** The Arrow data of a fixed-width column (any kind with typed storage but bool). */
function fixedWidthToArrow(store: ColumnStore, slots: Int32Array): arrow.Data {
  const n = slots.length;
  const type = store.field.type;
  const sentinel = nullSentinel(store.kind);
  const src = store.data as Int32Array;
  // deno-lint-ignore no-explicit-any
  const T = (src as any).constructor as { new (n: number): Int32Array };
  const values = new T(n);
  for (let i = 0; i < n; i++) values[i] = src[slots[i]];
  const { bitmap, nulls } = validityOf(n, (i) => (values as unknown as unknown[])[i] === sentinel);
  // deno-lint-ignore no-explicit-any
  const data: any = wireValues(type, values);
  return arrow.makeData({
    type: type as arrow.Int,
    length: n,
    data,
    nullBitmap: nulls ? bitmap : undefined,
    nullCount: nulls,
  });
}

/** The Arrow data of a FixedSizeBinary, Decimal128/256 or uint64 (BigInteger) column. */
function fixedBinaryData(store: ColumnStore, slots: Int32Array): arrow.Data {
  const n = slots.length;
  const type = store.field.type;
  const raw = store.data as unknown[];
  const { bitmap, nulls } = validityOf(n, (i) => raw[slots[i]] === null || raw[slots[i]] === undefined);
  let data: ArrayBufferView;
  if (arrow.DataType.isInt(type)) {
    data = BigUint64Array.from(slots, (s) => BigInt.asUintN(64, (raw[s] as bigint | null) ?? 0n));
  } else {
    const width = arrow.DataType.isDecimal(type)
      ? type.bitWidth / 8
      : (type as arrow.FixedSizeBinary).byteWidth;
    const bytes = new Uint8Array(n * width);
    for (let i = 0; i < n; i++) {
      const v = raw[slots[i]];
      if (v === null || v === undefined) continue;
      const out = bytes.subarray(i * width, (i + 1) * width);
      if (arrow.DataType.isDecimal(type)) writeFixedDecimal(v as string, type.scale, out, store.name);
      else out.set((v as Uint8Array).subarray(0, width));
    }
    // apache-arrow keeps Decimal values as 32-bit words.
    data = arrow.DataType.isDecimal(type) ? new Uint32Array(bytes.buffer) : bytes;
  }
  return arrow.makeData({
    type: type as arrow.FixedSizeBinary,
    length: n,
    data: data as Uint8Array,
    nullBitmap: nulls ? bitmap : undefined,
    nullCount: nulls,
  });
}

/**
 * The Arrow data of one column for the rows in `slots` (in row order).
 *
 * @param store The column storage.
 * @param slots The slots of the rows, in row order.
 * @returns Arrow data of the column's field type.
 */
export function columnToArrow(store: ColumnStore, slots: Int32Array): arrow.Data {
  if (store.kind !== "bool" && KINDS[store.kind].typed !== undefined) return fixedWidthToArrow(store, slots);
  const n = slots.length;
  const type = store.field.type;
  const raw = store.data as unknown[];
  const binaryKind = store.kind === "binary" || store.kind === "bigint" || store.kind === "decimal";
  if (binaryKind && !arrow.DataType.isBinary(type)) return fixedBinaryData(store, slots);
  switch (store.kind) {
    case "bool": {
      const values = new Uint8Array(((n + 63) >> 6) << 3);
      for (let i = 0; i < n; i++) if (raw[slots[i]] === 1) values[i >> 3] |= 1 << (i & 7);
      const { bitmap, nulls } = validityOf(n, (i) => raw[slots[i]] === -1);
      return arrow.makeData({
        type: type as arrow.Bool,
        length: n,
        data: values,
        nullBitmap: nulls ? bitmap : undefined,
        nullCount: nulls,
      });
    }
    case "string": {
      const c = store.utf8!.gather(slots);
      return arrow.makeData({
        type: type as arrow.Utf8,
        length: n,
        valueOffsets: c.offsets,
        data: c.data,
        nullBitmap: c.validity,
        nullCount: c.validity ? n - countBits(c.validity, n) : 0,
      });
    }
    case "binary":
      return binaryData(type, Array.from(slots, (s) => (raw[s] as Uint8Array | null) ?? null));
    case "bigint":
      return binaryData(
        type,
        Array.from(slots, (s) => raw[s] == null ? null : bigIntToBytes(raw[s] as bigint)),
      );
    case "decimal":
      return binaryData(
        type,
        Array.from(slots, (s) => raw[s] == null ? null : decimalToBytes(raw[s] as string)),
      );
    default: {
      const b = arrow.makeBuilder({ type, nullValues: [null, undefined] });
      for (let i = 0; i < n; i++) b.append(store.kind === "list" ? raw[slots[i]] : null);
      return b.finish().flush();
    }
  }
}
