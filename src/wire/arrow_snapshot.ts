/**
 * Apache-arrow tables from Barrage snapshots taken with Deephaven's null values: the server marks a null of a
 * primitive column (byte, short, char, int, long, float, double, and the 64-bit times) with its type's
 * reserved value instead of a validity bitmap, which saves it a pass over every value; the validity bitmaps
 * are made here instead (one comparison a value), and the values stay where the message put them.
 *
 * @module
 */

import * as arrow from "../deps/apache_arrow.ts";
import { DeephavenError, GrpcCode } from "../errors.ts";
import { type FlightPayload, schemaFromFlatbuffer, tableFromFlight } from "../arrow/ipc.ts";
import { NULLS } from "../table/column.ts";
import type { MessageReceiver } from "../transport/channel.ts";
import { type BatchLayout, layoutOf, readBatchHeader } from "./record_batch.ts";
import { type BodySink, FlightDataSplitter } from "./flight_stream.ts";

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

/** Marks the Deephaven nulls among values `[from, from + n)` of a primitive column. */
type Scanner = (from: number, n: number, out: Bitmap) => void;

/**
 * The scanner of a column's values (`bytes`, 8-byte aligned) for its type's Deephaven null, and the bytes a
 * value takes; `undefined` for types that have no such null.
 */
function scannerOf(
  type: arrow.DataType,
  bytes: ArrayBufferView,
): { scan: Scanner; width: number } | undefined {
  const view = <T>(T: new (b: ArrayBufferLike, o: number, l: number) => T, bpe: number): T =>
    new T(bytes.buffer, bytes.byteOffset, Math.floor(bytes.byteLength / bpe));
  const long = () => {
    const v = view(Int32Array, 4);
    return { scan: (f: number, n: number, o: Bitmap) => scanInt64(v, f, n, o), width: 8 };
  };
  switch (type.typeId) {
    case arrow.Type.Int: {
      const t = type as arrow.Int;
      if (t.bitWidth === 8 && t.isSigned) {
        const v = view(Int8Array, 1);
        return { scan: (f, n, o) => scanInt8(v, f, n, o), width: 1 };
      }
      if (t.bitWidth === 16 && t.isSigned) {
        const v = view(Int16Array, 2);
        return { scan: (f, n, o) => scanInt16(v, f, n, o), width: 2 };
      }
      if (t.bitWidth === 16) {
        const v = view(Uint16Array, 2);
        return { scan: (f, n, o) => scanChar(v, f, n, o), width: 2 };
      }
      if (t.bitWidth === 32 && t.isSigned) {
        const v = view(Int32Array, 4);
        return { scan: (f, n, o) => scanInt32(v, f, n, o), width: 4 };
      }
      return t.bitWidth === 64 && t.isSigned ? long() : undefined;
    }
    case arrow.Type.Float: {
      const p = (type as arrow.Float).precision;
      if (p === arrow.Precision.SINGLE) {
        const v = view(Float32Array, 4);
        return { scan: (f, n, o) => scanFloat32(v, f, n, o), width: 4 };
      }
      if (p === arrow.Precision.DOUBLE) {
        const v = view(Float64Array, 8);
        return { scan: (f, n, o) => scanFloat64(v, f, n, o), width: 8 };
      }
      return undefined;
    }
    case arrow.Type.Timestamp:
    case arrow.Type.Duration:
      return long();
    case arrow.Type.Date:
      return (type as arrow.Date_).unit === arrow.DateUnit.MILLISECOND ? long() : undefined;
    case arrow.Type.Time:
      return (type as arrow.Time).bitWidth === 64 ? long() : undefined;
    default:
      return undefined;
  }
}

/** Nulls found while a batch streamed in, per field node (pre-order); `undefined`: not looked for. */
type FoundNulls = (Bitmap | undefined)[];

/**
 * The data with a validity bitmap for its Deephaven nulls (and its children's), or itself when none. Field
 * nodes are counted in pre-order from `node.i`; `found` holds what was found already as the batch streamed.
 */
function withNulls(data: arrow.Data, found: FoundNulls | undefined, node: { i: number }): arrow.Data {
  const index = node.i++;
  const children = data.children.map((c) => withNulls(c, found, node));
  const changedChildren = children.some((c, i) => c !== data.children[i]);
  let nulls = found?.[index];
  if (!nulls && data.values && data.nullCount === 0 && data.length > 0) {
    nulls = new Bitmap(data.offset + data.length);
    scannerOf(data.type, data.values)?.scan(data.offset, data.length, nulls);
  }
  const bitmap = nulls?.bits;
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
    bitmap ? nulls!.nulls : data.nullCount,
    buffers,
    children,
  );
}

/** A batch's top-level data (a struct, not a field node) with its columns' nulls. */
function batchWithNulls(data: arrow.Data, found: FoundNulls | undefined): arrow.Data {
  const node = { i: 0 };
  const children = data.children.map((c) => withNulls(c, found, node));
  return children.every((c, i) => c === data.children[i])
    ? data
    : data.clone(data.type, data.offset, data.length, data.nullCount, undefined, children);
}

/**
 * Reads the record batches of a Barrage snapshot taken with Deephaven's nulls into an apache-arrow `Table`
 * whose nulls are Arrow's (validity bitmaps), as a DoGet's or a snapshot with Arrow nulls would be.
 *
 * @param messages The snapshot's messages: its schema, then record batches.
 * @param found What a stream found of each record batch's nulls as it arrived (see
 *   {@linkcode ArrowSnapshotStream}); the rest are looked for here.
 * @returns The table.
 */
export function arrowTableFromDeephavenNulls(
  messages: Iterable<FlightPayload>,
  found: (FoundNulls | undefined)[] = [],
): arrow.Table {
  const t = tableFromFlight(messages);
  const batches = t.batches.map((b, k) => {
    const data = batchWithNulls(b.data, found[k]);
    return data === b.data ? b : new arrow.RecordBatch(t.schema, data as arrow.Data<arrow.Struct>);
  });
  return new arrow.Table(t.schema, batches);
}

/** The field nodes of a schema in pre-order: each node's field and how many buffers it has of its own. */
function fieldNodes(schema: arrow.Schema): { field: arrow.Field; buffers: number }[] {
  const out: { field: arrow.Field; buffers: number }[] = [];
  const walk = (f: arrow.Field) => {
    const children: arrow.Field[] = f.type.children ?? [];
    const own = layoutOf(f).buffers -
      children.reduce((a: number, c: arrow.Field) => a + layoutOf(c).buffers, 0);
    out.push({ field: f, buffers: own });
    children.forEach(walk);
  };
  schema.fields.forEach(walk);
  return out;
}

/**
 * A Barrage snapshot (with Deephaven's nulls) read into an apache-arrow `Table` as its bytes arrive: each
 * message's body is copied once into a buffer of its own (8-byte aligned: it becomes the table's buffers),
 * and the values of primitive columns are looked through for nulls right after they are copied, while they
 * are still in the cache. Hand {@linkcode ArrowSnapshotStream.receive} to the channel as the call's message
 * receiver, and take the table when the call has ended.
 */
export class ArrowSnapshotStream {
  readonly #messages: FlightPayload[] = [];
  readonly #found: (FoundNulls | undefined)[] = [];
  #nodes: { field: arrow.Field; buffers: number }[] | undefined;
  #body: Uint8Array | undefined;
  #nulls: FoundNulls | undefined;

  /** The receiver of a message of `length` bytes (for `CallOptions.receive`). */
  receive(length: number): MessageReceiver {
    return new FlightDataSplitter(length, (h, _m, n) => this.#onBody(h, n), (m) => this.#onMessage(m));
  }

  #onBody(header: Uint8Array, length: number): BodySink {
    const body = this.#body = new Uint8Array(length);
    const scans = this.#nodes && header.length > 0 ? this.#plan(header, body) : [];
    let at = 0;
    return {
      write: (b, start, end) => {
        body.set(b.subarray(start, end), at);
        at += end - start;
        for (const s of scans) s(at);
      },
      finish: () => {},
    };
  }

  /** The scans of a batch's primitive columns: each looks through the values fully arrived by `at`. */
  #plan(header: Uint8Array, body: Uint8Array): ((at: number) => void)[] {
    let layout: BatchLayout;
    try {
      layout = readBatchHeader(header);
    } catch {
      return []; // the table reader reports it
    }
    const nodes = this.#nodes!;
    if (layout.nodes.length !== nodes.length) return [];
    const found: FoundNulls = this.#nulls = [];
    const scans: ((at: number) => void)[] = [];
    let buffer = 0;
    nodes.forEach(({ field, buffers }, i) => {
      const node = layout.nodes[i], values = layout.buffers[buffer + 1];
      buffer += buffers;
      if (buffers !== 2 || node.nullCount !== 0 || node.length === 0) return;
      if (!(values.offset >= 0) || values.offset + values.length > body.length || values.offset % 8 !== 0) {
        return;
      }
      const s = scannerOf(field.type, body.subarray(values.offset, values.offset + values.length));
      if (!s || values.length < node.length * s.width) return;
      const nulls = found[i] = new Bitmap(node.length);
      let done = 0;
      scans.push((at) => {
        const ready = Math.min(node.length, Math.floor((at - values.offset) / s.width));
        if (ready > done) {
          s.scan(done, ready - done, nulls);
          done = ready;
        }
      });
    });
    return scans;
  }

  #onMessage(m: { header: Uint8Array; body: Uint8Array | undefined }): void {
    const body = this.#body ?? m.body ?? new Uint8Array(0);
    this.#body = undefined;
    if (m.header.length === 0) return;
    if (!this.#nodes) {
      // The first message: the schema.
      this.#nodes = fieldNodes(schemaFromFlatbuffer(m.header));
    } else {
      this.#found.push(this.#nulls);
    }
    this.#nulls = undefined;
    this.#messages.push({ dataHeader: m.header, dataBody: body });
  }

  /**
   * The table, once the stream has ended.
   *
   * @throws {DeephavenError} When the server sent no data.
   */
  done(what: string): arrow.Table {
    if (this.#messages.length === 0) {
      throw new DeephavenError(`${what} failed: the server sent no data`, { code: GrpcCode.DATA_LOSS });
    }
    return arrowTableFromDeephavenNulls(this.#messages, this.#found);
  }
}
