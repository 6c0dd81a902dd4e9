/**
 * Builds apache-arrow column data from local column storage, in the
 * server's Arrow types (standard validity bitmaps for nulls).
 *
 * @module
 */

import * as arrow from "../deps/apache_arrow.ts";
import { type ColumnStore, nullSentinel } from "./column.ts";
import { KINDS } from "./kinds.ts";

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

/** Java `BigInteger.toByteArray()`: minimal big-endian two's complement. */
export function bigIntToBytes(v: bigint): Uint8Array {
  const bytes: number[] = [];
  let x = v;
  while (true) {
    const b = Number(x & 0xffn);
    bytes.unshift(b);
    x >>= 8n;
    if ((x === 0n && (b & 0x80) === 0) || (x === -1n && (b & 0x80) !== 0)) break;
  }
  return new Uint8Array(bytes);
}

/** Encodes decimal text as Deephaven's BigDecimal bytes: int32-LE scale, then the unscaled BigInteger. */
export function decimalToBytes(text: string): Uint8Array {
  let t = text.trim();
  const neg = t.startsWith("-");
  if (neg || t.startsWith("+")) t = t.slice(1);
  // The exponent form (`1234E+5000`) that decimalText uses for scales that need very many zeros.
  let exponent = 0;
  const e = t.search(/[eE]/);
  if (e >= 0) {
    exponent = Number(t.slice(e + 1));
    t = t.slice(0, e);
  }
  let [intPart, frac = ""] = t.split(".");
  // Strip trailing zeros as Java's stripTrailingZeros does.
  frac = frac.replace(/0+$/, "");
  let digits = (intPart + frac).replace(/^0+(?=\d)/, "");
  let scale = frac.length;
  if (scale === 0) {
    const m = digits.match(/0+$/);
    if (m && digits !== "0" && m[0].length < digits.length) {
      scale = -m[0].length;
      digits = digits.slice(0, digits.length - m[0].length);
    }
  }
  scale -= exponent;
  if (/^0*$/.test(digits)) {
    digits = "0";
    scale = 0;
  }
  const unscaled = BigInt(digits) * (neg ? -1n : 1n);
  const u = bigIntToBytes(unscaled);
  const out = new Uint8Array(4 + u.length);
  new DataView(out.buffer).setInt32(0, scale, true);
  out.set(u, 4);
  return out;
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
  let data: any = values;
  if (store.kind === "date" && (type as arrow.Date_).unit === arrow.DateUnit.DAY) {
    data = Int32Array.from(values as unknown as BigInt64Array, (v) => Number(v / 86_400_000n));
  }
  return arrow.makeData({
    type: type as arrow.Int,
    length: n,
    data,
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
