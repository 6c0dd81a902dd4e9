/**
 * Decodes Arrow record batches as Barrage sends them into column chunks of
 * the local table's storage kinds.
 *
 * Barrage batches are not always readable by apache-arrow: in modification
 * batches every column has its own length (its `FieldNode.length`), and
 * unsubscribed columns have length 0. So each column is decoded here from its
 * own field node and buffers. Nulls become Deephaven sentinels (fixed-width)
 * or `null` (objects), whichever null mode the server used.
 *
 * @module
 */

import * as arrow from "../deps/apache_arrow.ts";
import { DeephavenError, GrpcCode } from "../errors.ts";
import { checkArrowMessage } from "../arrow/guard.ts";
import {
  type Chunk,
  type ColumnKind,
  columnKind,
  NULLS,
  nullSentinel,
  toJs,
  TYPED,
  Utf8Chunk,
} from "../table/column.ts";
import type { GrowableTypedArrayConstructor } from "../table/grow.ts";
import { bigIntFromBytes, decimalText, fixedDecimalText } from "../table/decimal.ts";

export { bigIntFromBytes, decimalText };

/** One decoded record batch: a chunk per schema column (lengths may differ). */
export interface DecodedBatch {
  /** `RecordBatch.length` (the longest column). */
  length: number;
  /** One chunk per schema field, in schema order. */
  columns: Chunk[];
}

function malformed(what: string): DeephavenError {
  return new DeephavenError(
    `Malformed Barrage record batch: ${what}; report this with the server version`,
    { code: GrpcCode.DATA_LOSS },
  );
}

/** The error of a malformed record batch (DATA_LOSS), for the streaming decoder's own checks. */
export const malformedBatch: (what: string) => DeephavenError = malformed;

type TypedCtor = GrowableTypedArrayConstructor;

class Cursor {
  node = 0;
  buffer = 0;
  /**
   * Whether the server sent Deephaven's null sentinels instead of validity bitmaps (`useDeephavenNulls`): a
   * column sent in a narrower Arrow type than it is stored in then marks null with that type's lowest value.
   */
  deephavenNulls = false;
  constructor(
    readonly meta: {
      nodes: { length: number; nullCount: number }[];
      buffers: { offset: number; length: number }[];
    },
    readonly body: Uint8Array,
  ) {}

  nextNode(): { length: number; nullCount: number } {
    const n = this.meta.nodes[this.node++];
    if (!n) throw malformed("fewer field nodes than schema columns");
    const length = Number(n.length), nullCount = Number(n.nullCount);
    if (!(length >= 0) || length > 0x7fffffff || !(nullCount >= 0) || nullCount > length) {
      throw malformed("a field node has an impossible length");
    }
    return { length, nullCount };
  }

  nextBuffer(): Uint8Array {
    const b = this.meta.buffers[this.buffer++];
    if (!b) throw malformed("fewer buffers than the schema needs");
    const off = Number(b.offset), len = Number(b.length);
    if (!(off >= 0) || !(len >= 0) || off + len > this.body.length) {
      throw malformed("a buffer lies outside the message body");
    }
    return this.body.subarray(off, off + len);
  }
}

function view<T extends TypedCtor>(T: T, bytes: Uint8Array, count: number): InstanceType<T> {
  const size = T.BYTES_PER_ELEMENT;
  if (bytes.length < count * size) throw malformed("a value buffer is shorter than its column");
  if ((bytes.byteOffset % size) === 0) {
    return new T(bytes.buffer as ArrayBuffer, bytes.byteOffset, count) as InstanceType<T>;
  }
  const copy = new Uint8Array(count * size);
  copy.set(bytes.subarray(0, count * size));
  return new T(copy.buffer, 0, count) as InstanceType<T>;
}

function isValid(validity: Uint8Array | undefined, i: number): boolean {
  return validity === undefined || (validity[i >> 3] & (1 << (i & 7))) !== 0;
}

function readValidity(cur: Cursor, length: number, nullCount: number): Uint8Array | undefined {
  const v = cur.nextBuffer();
  if (nullCount === 0 || v.length === 0) return undefined;
  if (v.length * 8 < length) throw malformed("a validity buffer is shorter than its column");
  return v;
}

/** Scales int64 values to nanoseconds (for non-nanosecond time units). */
function scale(values: BigInt64Array, factor: bigint, validity: Uint8Array | undefined): BigInt64Array {
  const out = new BigInt64Array(values.length);
  for (let i = 0; i < values.length; i++) {
    out[i] = isValid(validity, i) && values[i] !== NULLS.int64 ? values[i] * factor : values[i];
  }
  return out;
}

const UNIT_TO_NS: Record<number, bigint> = {
  [arrow.TimeUnit.SECOND]: 1_000_000_000n,
  [arrow.TimeUnit.MILLISECOND]: 1_000_000n,
  [arrow.TimeUnit.MICROSECOND]: 1_000n,
  [arrow.TimeUnit.NANOSECOND]: 1n,
};

function fixedWidth(cur: Cursor, field: arrow.Field, kind: ColumnKind): Chunk {
  const { length, nullCount } = cur.nextNode();
  const validity = readValidity(cur, length, nullCount);
  const data = cur.nextBuffer();
  const t = field.type;
  let values: Chunk;
  if (kind === "bool") {
    if (data.length * 8 < length) throw malformed("a boolean buffer is shorter than its column");
    const out = new Int8Array(length);
    for (let i = 0; i < length; i++) out[i] = (data[i >> 3] >> (i & 7)) & 1;
    values = out;
  } else if (kind === "date" && (t as arrow.Date_).unit === arrow.DateUnit.DAY) {
    const days = view(Int32Array, data, length);
    const out = new BigInt64Array(length);
    const dhNull = cur.deephavenNulls ? NULLS.int32 : undefined;
    for (let i = 0; i < length; i++) {
      out[i] = days[i] === dhNull ? NULLS.int64 : BigInt(days[i]) * 86_400_000n;
    }
    values = out;
  } else if (kind === "time" && (t as arrow.Time).bitWidth === 32) {
    const v = view(Int32Array, data, length);
    const f = UNIT_TO_NS[(t as arrow.Time).unit];
    const out = new BigInt64Array(length);
    const dhNull = cur.deephavenNulls ? NULLS.int32 : undefined;
    for (let i = 0; i < length; i++) out[i] = v[i] === dhNull ? NULLS.int64 : BigInt(v[i]) * f;
    values = out;
  } else if (arrow.DataType.isFloat(t) && t.precision === arrow.Precision.HALF) {
    // Float16 into float32 storage: every half-precision value is a float32 exactly.
    const h = view(Uint16Array, data, length);
    const out = new Float32Array(length);
    const dhNull = cur.deephavenNulls ? 0x8000 : undefined;
    const sentinel = Math.fround(NULLS.float32);
    for (let i = 0; i < length; i++) out[i] = h[i] === dhNull ? sentinel : arrow.util.uint16ToFloat64(h[i]);
    values = out;
  } else if (arrow.DataType.isInt(t) && !t.isSigned && t.bitWidth === 8) {
    // uint8 into short storage (as Deephaven reads it).
    const v = view(Int8Array, data, length);
    const out = new Int16Array(length);
    const dhNull = cur.deephavenNulls ? NULLS.int8 : undefined;
    for (let i = 0; i < length; i++) out[i] = v[i] === dhNull ? NULLS.int16 : v[i] & 0xff;
    values = out;
  } else if (arrow.DataType.isInt(t) && !t.isSigned && t.bitWidth === 32) {
    // uint32 into long storage (as Deephaven reads it).
    const v = view(Int32Array, data, length);
    const out = new BigInt64Array(length);
    const dhNull = cur.deephavenNulls ? NULLS.int32 : undefined;
    for (let i = 0; i < length; i++) out[i] = v[i] === dhNull ? NULLS.int64 : BigInt(v[i] >>> 0);
    values = out;
  } else {
    const T = TYPED[kind] as TypedCtor;
    values = view(T, data, length);
    const unit = kind === "timestamp" || kind === "time" || kind === "duration"
      ? (t as arrow.Timestamp).unit
      : undefined;
    if (unit !== undefined && unit !== arrow.TimeUnit.NANOSECOND) {
      values = scale(values as BigInt64Array, UNIT_TO_NS[unit], validity);
    }
  }
  if (validity) {
    const sentinel = nullSentinel(kind);
    if (values.buffer === cur.body.buffer) values = (values as Int32Array).slice(); // never write into the message
    const v = values as unknown as unknown[];
    for (let i = 0; i < length; i++) if (!isValid(validity, i)) v[i] = sentinel;
  }
  return values;
}

function offsets(cur: Cursor, length: number): Int32Array {
  const b = cur.nextBuffer();
  if (length === 0) return new Int32Array(1);
  const o = view(Int32Array, b, length + 1);
  for (let i = 0; i < length; i++) {
    if (o[i] < 0 || o[i + 1] < o[i]) throw malformed("offsets are not increasing");
  }
  return o;
}

/**
 * A string column as Arrow string data: views of the message's offsets, bytes and validity (the table copies
 * the bytes once, in a block; nothing is decoded here).
 */
function strings(cur: Cursor): Utf8Chunk {
  const { length, nullCount } = cur.nextNode();
  const validity = readValidity(cur, length, nullCount);
  const o = offsets(cur, length);
  const data = cur.nextBuffer();
  if (length > 0 && o[length] > data.length) throw malformed("string data is shorter than its offsets");
  return new Utf8Chunk(o, data, validity);
}

function binaries(cur: Cursor, kind: ColumnKind): unknown[] {
  const { length, nullCount } = cur.nextNode();
  const validity = readValidity(cur, length, nullCount);
  const o = offsets(cur, length);
  const data = cur.nextBuffer();
  if (length > 0 && o[length] > data.length) throw malformed("binary data is shorter than its offsets");
  const out = new Array<unknown>(length);
  for (let i = 0; i < length; i++) {
    if (!isValid(validity, i)) {
      out[i] = null;
      continue;
    }
    const b = data.subarray(o[i], o[i + 1]);
    if (kind === "bigint") out[i] = bigIntFromBytes(b);
    else if (kind === "decimal") {
      if (b.length < 4) throw malformed("a BigDecimal value is shorter than its scale");
      const sc = new DataView(b.buffer, b.byteOffset, 4).getInt32(0, true);
      out[i] = decimalText(bigIntFromBytes(b.subarray(4)), sc);
    } else out[i] = b.slice();
  }
  return out;
}

/**
 * Values of a fixed width in bytes: FixedSizeBinary (byte arrays), Decimal128/256 (decimal text with the
 * type's scale) and uint64 (bigint, as Deephaven reads it: a BigInteger).
 */
function fixedBinaries(cur: Cursor, t: arrow.DataType): unknown[] {
  const { length, nullCount } = cur.nextNode();
  const validity = readValidity(cur, length, nullCount);
  const data = cur.nextBuffer();
  const width = arrow.DataType.isFixedSizeBinary(t)
    ? t.byteWidth
    : arrow.DataType.isDecimal(t)
    ? t.bitWidth / 8
    : 8;
  if (data.length < length * width) throw malformed("a value buffer is shorter than its column");
  const out = new Array<unknown>(length);
  const u64 = arrow.DataType.isInt(t) ? view(BigInt64Array, data, length) : undefined;
  const dhNull = cur.deephavenNulls ? NULLS.int64 : undefined;
  for (let i = 0; i < length; i++) {
    if (!isValid(validity, i) || (u64 && u64[i] === dhNull)) out[i] = null;
    else if (u64) out[i] = BigInt.asUintN(64, u64[i]);
    else {
      const b = data.subarray(i * width, (i + 1) * width);
      out[i] = arrow.DataType.isDecimal(t) ? fixedDecimalText(b, t.scale) : b.slice();
    }
  }
  return out;
}

function lists(cur: Cursor, field: arrow.Field, name: string): unknown[] {
  const { length, nullCount } = cur.nextNode();
  const validity = readValidity(cur, length, nullCount);
  const fixed = field.type.typeId === arrow.Type.FixedSizeList;
  const size = fixed ? (field.type as arrow.FixedSizeList).listSize : 0;
  if (fixed && size <= 0 && length > 0) {
    // Rows of a zero-size list carry no bytes, so nothing in the message bounds how many there are.
    throw new DeephavenError(
      `Column ${JSON.stringify(name)} is a fixed-size list of size 0, which is not supported`,
      { code: GrpcCode.UNIMPLEMENTED },
    );
  }
  const o = fixed ? undefined : offsets(cur, length);
  const childField = (field.type as arrow.List).children[0];
  const childKind = columnKind(childField);
  const decoded = column(cur, childField, name);
  const child = (decoded instanceof Utf8Chunk ? decoded.toArray() : decoded) as unknown[];
  if (fixed && length * size > child.length) throw malformed("a fixed-size list has fewer values than rows");
  const out = new Array<unknown>(length);
  for (let i = 0; i < length; i++) {
    if (!isValid(validity, i)) {
      out[i] = null;
      continue;
    }
    const start = o ? o[i] : i * size, end = o ? o[i + 1] : (i + 1) * size;
    if (end > child.length) throw malformed("list offsets run past the list values");
    const row = new Array<unknown>(end - start);
    for (let j = start; j < end; j++) row[j - start] = toJs(childKind, child[j]);
    out[i] = row;
  }
  return out;
}

/**
 * `length` nulls that take no memory: an array-like whose every index reads `undefined`, which column
 * storage reads as null. An Arrow Null column holds only nulls, and its length (up to 2^31 - 1) is not
 * bounded by the message size (it has no buffers), so allocating it would let a few bytes of header cost
 * gigabytes.
 */
function nulls(length: number): unknown[] {
  return Object.freeze({ length }) as unknown as unknown[];
}

/**
 * Whether the decoder reads a field's values (and not only its nulls): every type but Null and the types
 * it refuses (see {@linkcode unsupportedType}).
 *
 * @param field The field.
 * @returns `true` when its values can be read.
 */
export function decodable(field: arrow.Field): boolean {
  const kind = columnKind(field);
  if (kind === "list") return decodable((field.type as arrow.List).children[0]);
  return kind !== "other";
}

/** The error for a column of an Arrow type this module cannot read (`field` may be a list's element). */
export function unsupportedType(column: string, field: arrow.Field): DeephavenError {
  const dh = field.metadata.get("deephaven:type");
  return new DeephavenError(
    `Column ${JSON.stringify(column)} has the Arrow type ${field.type}${dh ? ` (${dh})` : ""}, which this ` +
      "module cannot read; leave the column out (the columns option, or view() on the server) or convert it " +
      "on the server, e.g. to a String",
    { code: GrpcCode.UNIMPLEMENTED },
  );
}

function skipUnknown(cur: Cursor, field: arrow.Field, name: string): unknown[] {
  const { length } = cur.nextNode();
  const t = field.type;
  // A column of a type this module cannot read is an error as soon as it holds values: never a column of
  // nulls that only looks empty. (A Null column holds only nulls; an unsubscribed column has no rows.)
  if (length > 0 && !arrow.DataType.isNull(t)) throw unsupportedType(name, field);
  // Consume the buffers of the layout so later columns stay aligned.
  const nBuffers = arrow.DataType.isNull(t) ? 0 : arrow.DataType.isStruct(t) ? 1 : 2;
  for (let i = 0; i < nBuffers; i++) cur.nextBuffer();
  for (const c of t.children ?? []) column(cur, c, name);
  return nulls(length);
}

function column(cur: Cursor, field: arrow.Field, name: string = field.name): Chunk {
  const kind = columnKind(field);
  const t = field.type;
  switch (kind) {
    case "string":
      return strings(cur);
    case "bigint":
    case "decimal":
    case "binary":
      return arrow.DataType.isBinary(t) ? binaries(cur, kind) : fixedBinaries(cur, t);
    case "list":
      return lists(cur, field, name);
    case "other":
      return skipUnknown(cur, field, name);
    default:
      return fixedWidth(cur, field, kind);
  }
}

/** A field node of a record batch: a column's length and null count. */
export interface FieldNode {
  length: number;
  nullCount: number;
}

/** A buffer of a record batch: where it lies in the message body. */
export interface BatchBuffer {
  offset: number;
  length: number;
}

/** The metadata of a record batch message: its length, field nodes and buffers. */
export interface BatchLayout {
  length: number;
  nodes: FieldNode[];
  buffers: BatchBuffer[];
}

/**
 * Reads and checks the header of a record batch message (a dictionary batch or compression is refused).
 * Node and buffer values are checked as the columns read them.
 *
 * @param header The flatbuffer Arrow `Message` (FlightData `data_header`).
 * @returns Its length, field nodes and buffers.
 */
export function readBatchHeader(header: Uint8Array): BatchLayout {
  checkArrowMessage(header);
  let msg: arrow.Message;
  try {
    msg = arrow.Message.decode(header);
  } catch (e) {
    throw malformed(`cannot decode the message header (${(e as Error).message})`);
  }
  if (msg.headerType !== arrow.MessageHeader.RecordBatch) {
    if (msg.headerType === arrow.MessageHeader.DictionaryBatch) {
      throw new DeephavenError(
        "Dictionary-encoded columns are not supported; turn off dictionary encoding on the server",
        { code: GrpcCode.UNIMPLEMENTED },
      );
    }
    throw malformed("expected a RecordBatch message");
  }
  type Numeric = number | bigint;
  let meta: {
    length: Numeric;
    compression: unknown;
    nodes: { length: Numeric; nullCount: Numeric }[];
    buffers: { offset: Numeric; length: Numeric }[];
  };
  try {
    meta = msg.header() as unknown as typeof meta;
  } catch (e) {
    // apache-arrow throws a TypeError for 64-bit lengths and offsets beyond 2^53.
    throw malformed(`cannot decode the record batch header (${(e as Error).message})`);
  }
  if (meta.compression) {
    throw new DeephavenError(
      "Compressed record batches are not supported; turn off compression on the server",
      {
        code: GrpcCode.UNIMPLEMENTED,
      },
    );
  }
  return {
    length: Number(meta.length),
    nodes: meta.nodes.map((n) => ({ length: Number(n.length), nullCount: Number(n.nullCount) })),
    buffers: meta.buffers.map((b) => ({ offset: Number(b.offset), length: Number(b.length) })),
  };
}

/**
 * How many field nodes and buffers a field's column takes in a record batch, in the order the decoder
 * reads them (see `column`): 2 buffers for fixed-width columns, 3 for strings and binaries, lists their
 * validity (and offsets) then their child, other types their layout's buffers then their children.
 *
 * @param field The field.
 * @returns The counts.
 */
export function layoutOf(field: arrow.Field): { nodes: number; buffers: number } {
  const t = field.type;
  let nodes = 1, buffers: number;
  // By the Arrow type's layout (not the column kind: a uint64 or a Decimal128 is a BigInteger or BigDecimal
  // column with two buffers, a Binary-encoded one has three).
  switch (t.typeId) {
    case arrow.Type.Null:
      buffers = 0;
      break;
    case arrow.Type.Utf8:
    case arrow.Type.Binary:
    case arrow.Type.LargeUtf8:
    case arrow.Type.LargeBinary:
      buffers = 3;
      break;
    case arrow.Type.FixedSizeList:
    case arrow.Type.Struct:
      buffers = 1;
      break;
    default:
      buffers = 2;
  }
  for (const c of t.children ?? []) {
    const l = layoutOf(c);
    nodes += l.nodes;
    buffers += l.buffers;
  }
  return { nodes, buffers };
}

/**
 * Decodes one column from its own field nodes and buffers (offsets into `body`, which must be 8-byte
 * aligned), as {@linkcode decodeRecordBatch} decodes it inside a whole batch.
 *
 * @param field The column's field.
 * @param nodes Its field nodes (see {@linkcode layoutOf}).
 * @param buffers Its buffers.
 * @param body The bytes the buffers lie in.
 * @param deephavenNulls Whether the stream marks nulls with Deephaven's sentinels (see
 *   {@linkcode decodeRecordBatch}).
 * @returns The decoded chunk.
 */
export function decodeColumn(
  field: arrow.Field,
  nodes: FieldNode[],
  buffers: BatchBuffer[],
  body: Uint8Array,
  deephavenNulls = false,
): Chunk {
  const cur = new Cursor({ nodes, buffers }, body);
  cur.deephavenNulls = deephavenNulls;
  return column(cur, field);
}

/**
 * Decodes a record batch message into per-column chunks.
 *
 * @param header The flatbuffer Arrow `Message` (FlightData `data_header`).
 * @param body The message body (FlightData `data_body`).
 * @param schema The stream's schema.
 * @param deephavenNulls Whether the stream marks nulls with Deephaven's sentinels (a Barrage subscription
 *   or snapshot with `useDeephavenNulls`) rather than with validity bitmaps only (Arrow IPC, DoGet).
 * @returns The decoded batch.
 */
export function decodeRecordBatch(
  header: Uint8Array,
  body: Uint8Array,
  schema: arrow.Schema,
  deephavenNulls = false,
): DecodedBatch {
  const meta = readBatchHeader(header);
  // A plain, 8-byte aligned Uint8Array: typed views need alignment, and a Node Buffer's slice() is not a copy.
  let plain = new Uint8Array(body.buffer, body.byteOffset, body.byteLength);
  if (plain.byteOffset % 8 !== 0) {
    plain = new Uint8Array(body.byteLength);
    plain.set(body);
  }
  const cur = new Cursor(meta, plain);
  cur.deephavenNulls = deephavenNulls;
  const columns: Chunk[] = [];
  for (const f of schema.fields) columns.push(column(cur, f));
  return { length: meta.length, columns };
}
