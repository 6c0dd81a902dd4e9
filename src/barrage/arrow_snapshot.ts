/**
 * Apache-arrow tables from Barrage snapshots taken with Deephaven's null values: the server marks a null of a
 * primitive column (byte, short, char, int, long, float, double, and the 64-bit times) with its type's
 * reserved value instead of a validity bitmap, which saves it a pass over every value; the validity bitmaps
 * are made here instead (one comparison a value), and the values stay where the message put them.
 *
 * @module
 */

import * as arrow from "../deps/apache_arrow.ts";
import { type FlightPayload, tableFromFlight } from "../arrow/ipc.ts";
import { NULLS } from "../table/column.ts";

/** Bit `i` of a new bitmap of `n` bits (all set first) is cleared for each null `i`. */
class Bitmap {
  bits: Uint8Array | undefined;
  nulls = 0;
  constructor(readonly n: number) {}
  clear(i: number): void {
    this.bits ??= new Uint8Array(((this.n + 63) >> 6) << 3).fill(0xff);
    this.bits[i >> 3] &= ~(1 << (i & 7));
    this.nulls++;
  }
}

// One loop per value type, so that each stays monomorphic (a loop over several typed-array types is many
// times slower).
function scanInt8(v: Int8Array, from: number, n: number, out: Bitmap): void {
  const nil = NULLS.int8;
  for (let i = 0; i < n; i++) if (v[from + i] === nil) out.clear(from + i);
}
function scanInt16(v: Int16Array, from: number, n: number, out: Bitmap): void {
  const nil = NULLS.int16;
  for (let i = 0; i < n; i++) if (v[from + i] === nil) out.clear(from + i);
}
function scanChar(v: Uint16Array, from: number, n: number, out: Bitmap): void {
  const nil = NULLS.char;
  for (let i = 0; i < n; i++) if (v[from + i] === nil) out.clear(from + i);
}
function scanInt32(v: Int32Array, from: number, n: number, out: Bitmap): void {
  const nil = NULLS.int32;
  for (let i = 0; i < n; i++) if (v[from + i] === nil) out.clear(from + i);
}
/** 64-bit values as 32-bit halves: Long.MIN_VALUE is a high half of 0x80000000 over a low half of 0. */
function scanInt64(v: Int32Array, from: number, n: number, out: Bitmap): void {
  for (let i = 0; i < n; i++) {
    const k = (from + i) * 2;
    if (v[k + 1] === -2147483648 && v[k] === 0) out.clear(from + i);
  }
}
const FLOAT_NULL = Math.fround(NULLS.float32);
function scanFloat32(v: Float32Array, from: number, n: number, out: Bitmap): void {
  for (let i = 0; i < n; i++) if (v[from + i] === FLOAT_NULL) out.clear(from + i);
}
function scanFloat64(v: Float64Array, from: number, n: number, out: Bitmap): void {
  const nil = NULLS.float64;
  for (let i = 0; i < n; i++) if (v[from + i] === nil) out.clear(from + i);
}

/** Marks the Deephaven nulls of a primitive column's values; `false` for types that have none. */
function scanNulls(
  type: arrow.DataType,
  values: ArrayBufferView,
  from: number,
  n: number,
  out: Bitmap,
): boolean {
  const view = <T>(T: new (b: ArrayBufferLike, o: number, l: number) => T, bpe: number): T =>
    new T(values.buffer, values.byteOffset, Math.floor(values.byteLength / bpe));
  const long = () => scanInt64(view(Int32Array, 4), from, n, out);
  switch (type.typeId) {
    case arrow.Type.Int: {
      const t = type as arrow.Int;
      if (!t.isSigned && t.bitWidth !== 16) return false;
      if (t.bitWidth === 8) scanInt8(view(Int8Array, 1), from, n, out);
      else if (t.bitWidth === 16) {
        if (t.isSigned) scanInt16(view(Int16Array, 2), from, n, out);
        else scanChar(view(Uint16Array, 2), from, n, out);
      } else if (t.bitWidth === 32) scanInt32(view(Int32Array, 4), from, n, out);
      else long();
      return true;
    }
    case arrow.Type.Float: {
      const p = (type as arrow.Float).precision;
      if (p === arrow.Precision.SINGLE) scanFloat32(view(Float32Array, 4), from, n, out);
      else if (p === arrow.Precision.DOUBLE) scanFloat64(view(Float64Array, 8), from, n, out);
      else return false;
      return true;
    }
    case arrow.Type.Timestamp:
    case arrow.Type.Duration:
      long();
      return true;
    case arrow.Type.Date:
      if ((type as arrow.Date_).unit !== arrow.DateUnit.MILLISECOND) return false;
      long();
      return true;
    case arrow.Type.Time:
      if ((type as arrow.Time).bitWidth !== 64) return false;
      long();
      return true;
    default:
      return false;
  }
}

/** The data with a validity bitmap for its Deephaven nulls (and its children's), or itself when none. */
function withNulls(data: arrow.Data): arrow.Data {
  const children = data.children.map(withNulls);
  const changedChildren = children.some((c, i) => c !== data.children[i]);
  const found = new Bitmap(data.offset + data.length);
  if (data.values && data.nullCount === 0 && data.length > 0) {
    scanNulls(data.type, data.values, data.offset, data.length, found);
  }
  const bitmap = found.bits;
  if (!bitmap && !changedChildren) return data;
  const buffers = [
    data.valueOffsets,
    data.values,
    bitmap ?? data.nullBitmap,
    data.typeIds,
  ] as unknown as Parameters<
    arrow.Data["clone"]
  >[4];
  return data.clone(
    data.type,
    data.offset,
    data.length,
    bitmap ? found.nulls : data.nullCount,
    buffers,
    children,
  );
}

/**
 * Reads the record batches of a Barrage snapshot taken with Deephaven's nulls into an apache-arrow `Table`
 * whose nulls are Arrow's (validity bitmaps), as a DoGet's or a snapshot with Arrow nulls would be.
 *
 * @param messages The snapshot's messages: its schema, then record batches.
 * @returns The table.
 */
export function arrowTableFromDeephavenNulls(messages: Iterable<FlightPayload>): arrow.Table {
  const t = tableFromFlight(messages);
  const batches = t.batches.map((b) => {
    const data = withNulls(b.data);
    return data === b.data ? b : new arrow.RecordBatch(t.schema, data as arrow.Data<arrow.Struct>);
  });
  return new arrow.Table(t.schema, batches);
}
