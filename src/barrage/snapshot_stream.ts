/**
 * Barrage snapshots decoded as their bytes arrive: each record batch's column buffers go from the
 * socket's read buffer straight into the local table's storage, so that no message is assembled and every
 * value is copied once.
 *
 * A `FlightData` message is split into its fields as it streams ({@linkcode FlightDataSplitter}): the Arrow
 * header and the app metadata (small) are collected; when the body starts, the record batch's layout is
 * known, and {@linkcode SnapshotStream} routes each buffer of the body:
 * - fixed-width columns whose Arrow type is their storage type: values into the column's storage, then
 *   nulls (if the batch has a validity bitmap) patched to Deephaven's sentinels;
 * - string columns: bytes into the column's heap, then starts and lengths from the offsets;
 * - every other column: its buffers into a small buffer of its own, decoded as the record batch decoder
 *   decodes it (`decodeColumn`), then written.
 * Batches this cannot take (a table that reuses slots, columns of unusual lengths, overlapping buffers)
 * are assembled and decoded whole, as a message would be ({@linkcode UpdateApplier.feed}); so are the
 * errors of malformed batches, which then come out the same either way.
 *
 * @module
 */

import * as arrow from "../deps/apache_arrow.ts";
import { DeephavenError, GrpcCode } from "../errors.ts";
import { schemaFromFlatbuffer } from "../arrow/ipc.ts";
import { columnKind, type ColumnStore, nullSentinel, TYPED } from "../table/column.ts";
import { createLocalTable, type LocalTable, type TableWriter } from "../table/local_table.ts";
import type { MessageReceiver } from "../transport/channel.ts";
import { type BodySink, FlightDataSplitter, type SplitMessage } from "../wire/flight_stream.ts";
import {
  type BatchBuffer,
  type BatchLayout,
  decodeColumn,
  decodeRecordBatch,
  type FieldNode,
  layoutOf,
  malformedBatch,
  readBatchHeader,
} from "../wire/record_batch.ts";
import type { SnapshotProgress } from "./subscription.ts";
import { UpdateApplier } from "./applier.ts";

/** A region of the body and where its bytes go. */
interface Segment {
  offset: number;
  length: number;
  /** Receives bytes of the segment: `b[start, end)` at `at` bytes into it. */
  put(b: Uint8Array, start: number, end: number, at: number): void;
  /** Called once when the segment's first byte arrives (before `put`). */
  begin?(): void;
}

/** The Arrow byte width of a fixed-width field type, or 0. */
function byteWidth(type: arrow.DataType): number {
  const t = type as unknown as { bitWidth?: number; precision?: number; unit?: number };
  switch (type.typeId) {
    case arrow.Type.Int:
    case arrow.Type.Time:
      return (t.bitWidth ?? 0) / 8;
    case arrow.Type.Float:
      return t.precision === arrow.Precision.DOUBLE ? 8 : t.precision === arrow.Precision.SINGLE ? 4 : 0;
    case arrow.Type.Timestamp:
    case arrow.Type.Duration:
      return 8;
    case arrow.Type.Date:
      return t.unit === arrow.DateUnit.MILLISECOND ? 8 : 4;
    default:
      return 0;
  }
}

/** Whether a fixed-width field's values are its storage values byte for byte (no unit or width change). */
function storedAsIs(field: arrow.Field): boolean {
  const kind = columnKind(field);
  const T = TYPED[kind];
  if (!T || kind === "bool") return false;
  if (byteWidth(field.type) !== T.BYTES_PER_ELEMENT) return false;
  const unit = (field.type as unknown as { unit?: number }).unit;
  switch (kind) {
    case "timestamp":
    case "time":
    case "duration":
      return unit === arrow.TimeUnit.NANOSECOND;
    case "date":
      return unit === arrow.DateUnit.MILLISECOND;
    default:
      return true;
  }
}

/** A bitmap's bit `i`. */
function bit(bitmap: Uint8Array, i: number): boolean {
  return (bitmap[i >> 3] & (1 << (i & 7))) !== 0;
}

/**
 * The routing of one record batch's body into `n` appended rows from slot `first`: segments in body order,
 * and what to do once all bytes are in.
 */
class BatchRoute implements BodySink {
  readonly #segments: Segment[];
  readonly #finishers: (() => void)[];
  #pos = 0;
  #next = 0;
  #begun = -1;

  constructor(segments: Segment[], finishers: (() => void)[]) {
    this.#segments = segments.filter((s) => s.length > 0).sort((a, b) => a.offset - b.offset);
    this.#finishers = finishers;
  }

  /** Whether the segments do not overlap (else the batch is assembled instead). */
  get disjoint(): boolean {
    const s = this.#segments;
    for (let i = 1; i < s.length; i++) if (s[i].offset < s[i - 1].offset + s[i - 1].length) return false;
    return true;
  }

  write(b: Uint8Array, start: number, end: number): void {
    const segs = this.#segments;
    while (start < end && this.#next < segs.length) {
      const s = segs[this.#next];
      if (this.#pos < s.offset) {
        const skip = Math.min(s.offset - this.#pos, end - start);
        this.#pos += skip;
        start += skip;
        continue;
      }
      if (this.#begun !== this.#next) {
        this.#begun = this.#next;
        s.begin?.();
      }
      const at = this.#pos - s.offset;
      const take = Math.min(s.length - at, end - start);
      s.put(b, start, start + take, at);
      this.#pos += take;
      start += take;
      if (at + take === s.length) this.#next++;
    }
    this.#pos += end - start;
  }

  finish(): void {
    if (this.#next < this.#segments.length) throw malformedBatch("a buffer lies outside the message body");
    for (const f of this.#finishers) f();
  }
}

/** Copies segment bytes into a buffer at an offset. */
function into(buf: Uint8Array, base = 0): Segment["put"] {
  return (b, start, end, at) => buf.set(b.subarray(start, end), base + at);
}

/**
 * Plans the route of a batch of `n` rows into the storage from slot `first`; `undefined` when the batch is
 * one to assemble and decode whole (see the module documentation).
 */
function planRoute(
  schema: arrow.Schema,
  columns: ColumnStore[],
  layout: BatchLayout,
  bodyLength: number,
  first: number,
  n: number,
  deephavenNulls: boolean,
): BatchRoute | undefined {
  const segments: Segment[] = [];
  const finishers: (() => void)[] = [];
  let node = 0, buffer = 0;
  for (let j = 0; j < schema.fields.length; j++) {
    const field = schema.fields[j];
    const store = columns[j];
    const size = layoutOf(field);
    const nodes = layout.nodes.slice(node, node + size.nodes);
    const buffers = layout.buffers.slice(buffer, buffer + size.buffers);
    node += size.nodes;
    buffer += size.buffers;
    if (nodes.length < size.nodes || buffers.length < size.buffers) return undefined;
    for (const b of buffers) {
      if (!(b.offset >= 0) || !(b.length >= 0) || b.offset + b.length > bodyLength) return undefined;
    }
    const top = nodes[0];
    if (!(top.nullCount >= 0) || top.nullCount > top.length) return undefined;
    if (top.length === 0) continue; // not in this batch: its slots stay null
    if (top.length !== n) return undefined;
    if (!store.utf8 && !storedAsIs(field)) {
      routeCollected(field, store, nodes, buffers, first, n, segments, finishers, deephavenNulls);
      continue;
    }
    const validityBytes = top.nullCount > 0 && buffers[0].length > 0 ? Math.ceil(n / 8) : 0;
    if (validityBytes > buffers[0].length) return undefined;
    const validity = validityBytes > 0 ? new Uint8Array(validityBytes) : undefined;
    if (validity) segments.push({ offset: buffers[0].offset, length: validityBytes, put: into(validity) });
    if (store.utf8) {
      if (!routeStrings(store, buffers, first, n, validity, segments, finishers)) return undefined;
    } else {
      const values = buffers[1];
      const bytes = store.directBytes(first, n);
      if (values.length < bytes.length) return undefined;
      segments.push({ offset: values.offset, length: bytes.length, put: into(bytes) });
      const sentinel = nullSentinel(store.kind);
      finishers.push(() => {
        if (validity && sentinel !== undefined) {
          const d = store.data as unknown[];
          for (let i = 0; i < n; i++) if (!bit(validity, i)) d[first + i] = sentinel;
        }
        store.markWritten(first, first + n);
      });
    }
  }
  if (node !== layout.nodes.length || buffer !== layout.buffers.length) return undefined;
  const route = new BatchRoute(segments, finishers);
  return route.disjoint ? route : undefined;
}

/** Routes a string column: offsets collected, bytes into the column's heap, then starts and lengths. */
function routeStrings(
  store: ColumnStore,
  buffers: BatchBuffer[],
  first: number,
  n: number,
  validity: Uint8Array | undefined,
  segments: Segment[],
  finishers: (() => void)[],
): boolean {
  const [, off, data] = buffers;
  // The offsets must arrive before the bytes they point into (as Arrow lays them out).
  if (off.length < (n + 1) * 4 || off.offset + off.length > data.offset) return false;
  const offsets = new Int32Array(n + 1);
  const offsetBytes = new Uint8Array(offsets.buffer);
  segments.push({ offset: off.offset, length: offsetBytes.length, put: into(offsetBytes) });
  let heap: Uint8Array | undefined, base = 0, lo = 0, hi = 0;
  const check = () => {
    // As the record batch decoder checks them.
    for (let i = 0; i < n; i++) {
      if (offsets[i] < 0 || offsets[i + 1] < offsets[i]) throw malformedBatch("offsets are not increasing");
    }
    if (offsets[n] > data.length) throw malformedBatch("string data is shorter than its offsets");
    lo = offsets[0];
    hi = offsets[n];
  };
  let checked = false;
  const reserve = () => {
    if (checked) return;
    check();
    checked = true;
    ({ heap, base } = store.utf8!.reserveRun(hi - lo, n));
  };
  segments.push({
    offset: data.offset,
    length: data.length,
    begin: reserve,
    put: (b, start, end, at) => {
      // Only the bytes of the values, [lo, hi), go into the heap.
      const s = Math.max(at, lo), e = Math.min(at + end - start, hi);
      if (e > s) heap!.set(b.subarray(start + s - at, start + e - at), base + s - lo);
    },
  });
  finishers.push(() => {
    reserve(); // a column of empty values has no data bytes
    store.utf8!.setRun(first, n, offsets, base - lo, validity);
    store.markWritten(first, first + n);
  });
  return true;
}

/** Routes any other column: its buffers collected into a body of its own, then decoded and written. */
function routeCollected(
  field: arrow.Field,
  store: ColumnStore,
  nodes: FieldNode[],
  buffers: BatchBuffer[],
  first: number,
  n: number,
  segments: Segment[],
  finishers: (() => void)[],
  deephavenNulls: boolean,
): void {
  let size = 0;
  const rebased = buffers.map((b) => {
    const r = { offset: size, length: b.length };
    size += (b.length + 7) & ~7;
    return r;
  });
  const body = new Uint8Array(size);
  buffers.forEach((b, i) =>
    segments.push({ offset: b.offset, length: b.length, put: into(body, rebased[i].offset) })
  );
  finishers.push(() => {
    const chunk = decodeColumn(field, nodes, rebased, body, deephavenNulls);
    store.settle(first + n);
    store.write(chunk, 0, Int32Array.from({ length: n }, (_, i) => first + i), 0, n);
  });
}

/**
 * A progress report of a snapshot: `rows` received of `expectedRows` (when known; a table that grew since
 * counts its rows received), in `bytes`.
 */
export function snapshotProgress(
  rows: number,
  expectedRows: number | undefined,
  bytes: number,
): SnapshotProgress {
  return { rows, totalRows: expectedRows === undefined ? undefined : Math.max(expectedRows, rows), bytes };
}

/** Options of {@linkcode SnapshotStream}. */
export interface SnapshotStreamOptions {
  /** What the snapshot is, for errors. */
  what: string;
  /** Rows the snapshot will hold, when known (progress reports). */
  expectedRows?: number;
  /** Progress reports, after each message. */
  onProgress?: (progress: SnapshotProgress) => void;
  /** Whether the stream carries Deephaven null sentinels (default) rather than Arrow validity bitmaps. */
  deephavenNulls?: boolean;
}

/**
 * A Barrage snapshot built as its messages' bytes arrive: hand {@linkcode SnapshotStream.receive} to the
 * channel as the call's message receiver, and take the table when the call has ended.
 */
export class SnapshotStream {
  readonly #options: SnapshotStreamOptions;
  #schema: arrow.Schema | undefined;
  #table: LocalTable | undefined;
  #writer: TableWriter | undefined;
  #applier: UpdateApplier | undefined;
  #bytes = 0;
  /** The batch being streamed: its first slot and rows. */
  #run: { first: number; n: number } | undefined;
  #streamed = 0;

  /** How many record batches went straight into storage (the others were assembled and decoded whole). */
  get streamed(): number {
    return this.#streamed;
  }

  constructor(options: SnapshotStreamOptions) {
    this.#options = options;
  }

  get #deephavenNulls(): boolean {
    return this.#options.deephavenNulls ?? true;
  }

  /** The receiver of a message of `length` bytes (for `CallOptions.receive`). */
  receive(length: number): MessageReceiver {
    return new FlightDataSplitter(
      length,
      (h, m, n) => this.#onBody(h, m, n),
      (msg) => this.#onMessage(msg),
    );
  }

  /**
   * The table (state `snapshot`), once the stream has ended.
   *
   * @throws {DeephavenError} When the server sent no schema.
   */
  done(): LocalTable {
    if (!this.#table) {
      throw new DeephavenError(
        `${this.#options.what} failed: the server ended the stream before sending a schema`,
        {
          code: GrpcCode.UNAVAILABLE,
        },
      );
    }
    this.#writer!.setState("snapshot");
    return this.#table;
  }

  #onBody(header: Uint8Array, appMetadata: Uint8Array, bodyLength: number): BodySink | undefined {
    const applier = this.#applier, writer = this.#writer;
    if (!applier || !writer || header.length === 0) return undefined;
    applier.feedMetadata(appMetadata);
    this.#metadataFed = true;
    const layout = readBatchHeader(header);
    const n = layout.length;
    if (n === 0 || applier.appendable() < n) return undefined;
    const first = writer.beginAppend(n);
    if (first === undefined) return undefined;
    const route = planRoute(
      this.#schema!,
      writer.storage.columns,
      layout,
      bodyLength,
      first,
      n,
      this.#deephavenNulls,
    );
    if (!route) {
      // Assembled and decoded whole instead; nothing was written.
      writer.cancelAppend();
      return undefined;
    }
    this.#run = { first, n };
    this.#streamed++;
    return route;
  }

  /** Whether the message being split had its metadata fed already (when its body started). */
  #metadataFed = false;

  #onMessage(m: SplitMessage): void {
    const { header, appMetadata, body } = m;
    const fed = this.#metadataFed;
    this.#metadataFed = false;
    this.#bytes += m.bytes;
    if (!this.#schema) {
      const schema = this.#schema = schemaFromFlatbuffer(header);
      const { table, writer } = createLocalTable(schema);
      this.#table = table;
      this.#writer = writer;
      this.#applier = new UpdateApplier(schema, writer, () => "append", undefined, {
        deephavenNulls: this.#deephavenNulls,
      });
    } else if (m.sink) {
      const run = this.#run!;
      this.#run = undefined;
      this.#writer!.endAppend(run.first, run.n);
      this.#applier!.appended(run.n);
    } else {
      const applier = this.#applier!;
      if (!fed) applier.feedMetadata(appMetadata);
      if (header.length === 0) applier.finish();
      else {
        applier.feedBatch(
          decodeRecordBatch(header, body ?? new Uint8Array(0), this.#schema, this.#deephavenNulls),
        );
      }
    }
    const onProgress = this.#options.onProgress;
    if (onProgress && this.#applier) {
      onProgress(snapshotProgress(this.#applier.rowsReceived, this.#options.expectedRows, this.#bytes));
    }
  }
}
