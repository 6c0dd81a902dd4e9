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

/** Deephaven's null of an Arrow type as the raw bits of a value: a typed-array view and the value in it. */
function nullOf(
  type: arrow.DataType,
): { view: (b: ArrayBufferView) => ArrayLike<number>; value: number; stride: number } | undefined {
  const v = <T extends ArrayLike<number>>(
    T: new (buf: ArrayBufferLike, off: number, len: number) => T,
    bpe: number,
  ) =>
  (b: ArrayBufferView) => new T(b.buffer, b.byteOffset, Math.floor(b.byteLength / bpe));
  switch (type.typeId) {
    case arrow.Type.Int: {
      const t = type as arrow.Int;
      if (t.bitWidth === 8 && t.isSigned) return { view: v(Int8Array, 1), value: NULLS.int8, stride: 1 };
      if (t.bitWidth === 16) {
        return t.isSigned
          ? { view: v(Int16Array, 2), value: NULLS.int16, stride: 1 }
          : { view: v(Uint16Array, 2), value: NULLS.char, stride: 1 };
      }
      if (t.bitWidth === 32 && t.isSigned) return { view: v(Int32Array, 4), value: NULLS.int32, stride: 1 };
      if (t.bitWidth === 64 && t.isSigned) return LONG;
      return undefined;
    }
    case arrow.Type.Float: {
      const p = (type as arrow.Float).precision;
      if (p === arrow.Precision.SINGLE) {
        return { view: v(Float32Array, 4), value: Math.fround(NULLS.float32), stride: 1 };
      }
      if (p === arrow.Precision.DOUBLE) return { view: v(Float64Array, 8), value: NULLS.float64, stride: 1 };
      return undefined;
    }
    case arrow.Type.Timestamp:
    case arrow.Type.Duration:
      return LONG;
    case arrow.Type.Date:
      return (type as arrow.Date_).unit === arrow.DateUnit.MILLISECOND ? LONG : undefined;
    case arrow.Type.Time:
      return (type as arrow.Time).bitWidth === 64 ? LONG : undefined;
    default:
      return undefined;
  }
}

/** A 64-bit null (Long.MIN_VALUE) seen as its high 32-bit half, the low half being 0 (checked apart). */
const LONG = {
  view: (b: ArrayBufferView) => new Int32Array(b.buffer, b.byteOffset, Math.floor(b.byteLength / 4)),
  value: -2147483648,
  stride: 2,
};

/** The data with a validity bitmap for its Deephaven nulls (and its children's), or itself when none. */
function withNulls(data: arrow.Data): arrow.Data {
  const children = data.children.map(withNulls);
  const changedChildren = children.some((c, i) => c !== data.children[i]);
  const n = nullOf(data.type);
  let bitmap: Uint8Array | undefined, nulls = 0;
  if (n && data.values && data.nullCount === 0 && data.length > 0) {
    const values = n.view(data.values), s = n.stride, off = data.offset, len = data.length;
    for (let i = 0; i < len; i++) {
      const k = (off + i) * s;
      // For 64-bit values the high half is compared here and the low half below.
      if (values[k + s - 1] !== n.value || (s === 2 && values[k] !== 0)) continue;
      if (!bitmap) bitmap = new Uint8Array(((off + len + 63) >> 6) << 3).fill(0xff);
      bitmap[(off + i) >> 3] &= ~(1 << ((off + i) & 7));
      nulls++;
    }
  }
  if (!bitmap && !changedChildren) return data;
  const buffers = [
    data.valueOffsets,
    data.values,
    bitmap ?? data.nullBitmap,
    data.typeIds,
  ] as unknown as Parameters<
    arrow.Data["clone"]
  >[4];
  return data.clone(data.type, data.offset, data.length, bitmap ? nulls : data.nullCount, buffers, children);
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
