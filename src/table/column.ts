/**
 * Typed column storage of the local table.
 *
 * Each column is stored in slots (dense indexes chosen by the table's
 * redirection, not row keys). Fixed-width Deephaven types live in typed
 * arrays and mark nulls with Deephaven's own sentinels (which can never be
 * values), so no separate validity storage is needed; strings are UTF-8 bytes
 * in a heap of the column's own (`./utf8.ts`); decimals and arrays live in
 * plain JS arrays with `null`.
 *
 * @module
 */

import * as arrow from "../deps/apache_arrow.ts";
import {
  allocTyped,
  type GrowableTypedArray,
  type GrowableTypedArrayConstructor,
  growTyped,
} from "./grow.ts";
import { formatTimeNanos, KINDS, NULLS } from "./kinds.ts";
import { Utf8Chunk, Utf8Store } from "./utf8.ts";

export { formatTimeNanos, NULLS, Utf8Chunk };

/** How a column is stored and what its values look like in JS. */
export type ColumnKind =
  | "bool"
  | "int8"
  | "int16"
  | "char"
  | "int32"
  | "int64"
  | "float32"
  | "float64"
  | "timestamp"
  | "date"
  | "time"
  | "duration"
  | "string"
  | "bigint"
  | "decimal"
  | "binary"
  | "list"
  | "other";

/**
 * A decoded batch of one column: a typed array (nulls as sentinels), Arrow string data (a
 * {@linkcode Utf8Chunk}), or a JS array (nulls as `null`).
 */
export type Chunk = GrowableTypedArray | Utf8Chunk | unknown[];

/** The typed array constructor of each fixed-width kind. */
export const TYPED: Partial<Record<ColumnKind, GrowableTypedArrayConstructor>> = Object.fromEntries(
  Object.entries(KINDS).filter(([, k]) => k.typed !== undefined).map(([name, k]) => [name, k.typed]),
);

/** The sentinel stored for null in each fixed-width kind. */
export function nullSentinel(kind: ColumnKind): number | bigint | undefined {
  return KINDS[kind].nullSentinel;
}

/** The Deephaven type name of a field (`deephaven:type` metadata), or `undefined`. */
export function deephavenType(field: arrow.Field): string | undefined {
  return field.metadata.get("deephaven:type");
}

/**
 * Chooses the storage kind of a field from its Arrow type and Deephaven
 * metadata.
 *
 * @param field The Arrow field.
 * @returns The kind.
 */
export function columnKind(field: arrow.Field): ColumnKind {
  const t = field.type;
  const dh = deephavenType(field);
  switch (t.typeId) {
    case arrow.Type.Bool:
      return "bool";
    case arrow.Type.Int: {
      // Unsigned integers read as Deephaven reads them: uint8 as short, uint16 as char, uint32 as long,
      // uint64 as BigInteger (each fits exactly).
      const it = t as arrow.Int;
      if (it.bitWidth === 8) return it.isSigned ? "int8" : "int16";
      if (it.bitWidth === 16) return it.isSigned ? "int16" : "char";
      if (it.bitWidth === 32) return it.isSigned ? "int32" : "int64";
      return it.isSigned ? "int64" : "bigint";
    }
    case arrow.Type.Float: {
      // Float16 values read as float32 (every half-precision value is one exactly).
      const ft = t as arrow.Float;
      return ft.precision === arrow.Precision.DOUBLE ? "float64" : "float32";
    }
    case arrow.Type.Decimal:
      return "decimal";
    case arrow.Type.Timestamp:
      return "timestamp";
    case arrow.Type.Date:
      return "date";
    case arrow.Type.Time:
      return "time";
    case arrow.Type.Duration:
      return "duration";
    case arrow.Type.Utf8:
      return "string";
    case arrow.Type.FixedSizeBinary:
      return "binary";
    case arrow.Type.Binary:
      if (dh === "java.math.BigInteger") return "bigint";
      if (dh === "java.math.BigDecimal") return "decimal";
      return "binary";
    case arrow.Type.List:
    case arrow.Type.FixedSizeList:
      return "list";
    default:
      return "other";
  }
}

/**
 * The storage of one column: values by slot.
 */
export class ColumnStore {
  /** The column's Arrow field (name, type, Deephaven metadata). */
  readonly field: arrow.Field;
  /** Storage kind. */
  readonly kind: ColumnKind;
  /** Values by slot: a typed array for fixed-width kinds, else a JS array (empty for strings: see `utf8`). */
  data: GrowableTypedArray | unknown[];
  /** The storage of a string column (`undefined` for other kinds). */
  readonly utf8: Utf8Store | undefined;
  readonly #sentinel: number | bigint | undefined;
  /**
   * Slots below this hold a value or null. Storage past it (spare capacity from growing, or claimed slots
   * being written directly) is made null only when handed out (`ensureCapacity`, `settle`), so memory
   * that is never used is never touched, and memory written directly is written once.
   */
  #ready: number;

  /**
   * @param field The column's field.
   * @param capacity Initial slot capacity.
   */
  constructor(field: arrow.Field, capacity = 0) {
    this.field = field;
    this.kind = columnKind(field);
    this.#sentinel = nullSentinel(this.kind);
    if (this.kind === "string") {
      this.utf8 = new Utf8Store();
      this.data = [];
    } else this.data = TYPED[this.kind] ? allocTyped(TYPED[this.kind]!, 0) : [];
    this.#ready = 0;
    this.ensureCapacity(capacity);
  }

  /** Column name. */
  get name(): string {
    return this.field.name;
  }

  /** Current slot capacity. */
  get capacity(): number {
    return this.utf8 ? this.utf8.capacity : this.data.length;
  }

  /**
   * Bytes held outside the JS heap: typed storage (whole buffers, spare capacity included) and a string
   * column's slot arrays and heap. Values in JS arrays are not counted.
   */
  get bytes(): number {
    if (this.utf8) return this.utf8.bytes;
    return ArrayBuffer.isView(this.data) ? this.data.buffer.byteLength : 0;
  }

  /** Grows storage to hold at least `n` slots (large typed storage in place, see grow.ts); new slots read as null. */
  ensureCapacity(n: number): void {
    if (n <= this.#ready) return;
    if (!this.utf8 && !TYPED[this.kind]) {
      const arr = this.data as unknown[];
      const old = arr.length;
      const cap = Math.max(n, Math.ceil(old * 1.5), 16);
      arr.length = cap;
      arr.fill(null, old);
      this.#ready = cap;
      return;
    }
    this.claim(n);
    this.settle(n);
  }

  /**
   * Grows storage to hold at least `n` slots without making the new ones null, for a writer that fills
   * them directly ({@linkcode ColumnStore.directBytes}, `utf8.setRun`), then marks them
   * ({@linkcode ColumnStore.markWritten}) and makes what it did not write null
   * ({@linkcode ColumnStore.settle}). Memory is then written once, not first with nulls.
   *
   * `exact`, for empty storage whose final size is known (a snapshot): storage of exactly `n` slots in a
   * plain buffer, which the allocator can take from memory freed earlier (a resizable buffer is always
   * fresh memory, and each new page costs a fault); growing it later moves it to a resizable one.
   */
  claim(n: number, exact = false): void {
    if (this.utf8) this.utf8.claim(n, exact);
    else if (TYPED[this.kind]) {
      const d = this.data as GrowableTypedArray;
      if (n > d.length) {
        this.data = exact && this.#ready === 0 ? new (TYPED[this.kind]!)(n) : growTyped(d, d.length, n);
      }
    } else this.ensureCapacity(n);
  }

  /** Makes the slots below `n` that were claimed but neither written nor null, null. */
  settle(n: number): void {
    if (n <= this.#ready) return;
    if (this.utf8) this.utf8.settle(this.#ready, n);
    // Slots never written read as null (e.g. columns outside a subscription's column set).
    // deno-lint-ignore no-explicit-any
    else if (this.#sentinel !== undefined) (this.data as any).fill(this.#sentinel, this.#ready, n);
    this.#ready = n;
  }

  /** Records that claimed slots `[from, to)` were written directly. */
  markWritten(from: number, to: number): void {
    if (from <= this.#ready && to > this.#ready) this.#ready = to;
  }

  /**
   * The bytes of slots `[first, first + n)` of a fixed-width column (claimed), for writing values of the
   * storage's own type and width directly.
   */
  directBytes(first: number, n: number): Uint8Array {
    const d = this.data as GrowableTypedArray;
    const w = d.BYTES_PER_ELEMENT;
    return new Uint8Array(d.buffer, d.byteOffset + first * w, n * w);
  }

  /**
   * Writes `count` values of `chunk`, starting at `from`, into the given slots.
   *
   * @param chunk Decoded values of the same kind.
   * @param from First index in the chunk.
   * @param slots Target slots, one per value, starting at `slotsFrom`.
   * @param slotsFrom First index in `slots`.
   * @param count Number of values.
   */
  write(chunk: Chunk, from: number, slots: Int32Array, slotsFrom: number, count: number): void {
    if (count <= 0) return;
    if (this.utf8) {
      if (chunk instanceof Utf8Chunk) this.utf8.writeChunk(chunk, from, slots, slotsFrom, count);
      else this.utf8.writeValues(chunk as ArrayLike<unknown>, from, slots, slotsFrom, count);
      return;
    }
    const d = this.data;
    if (ArrayBuffer.isView(d) && ArrayBuffer.isView(chunk) && d.constructor === chunk.constructor) {
      const first = slots[slotsFrom];
      if (isRun(slots, slotsFrom, count)) {
        // Consecutive slots (a snapshot, an append): one block copy.
        (d as Int32Array).set((chunk as Int32Array).subarray(from, from + count), first);
      } else {
        scatterTyped(d as TypedChunk, chunk as TypedChunk, from, slots, slotsFrom, count);
      }
      return;
    }
    if (Array.isArray(d) && Array.isArray(chunk)) {
      scatterArray(d, chunk, from, slots, slotsFrom, count);
      return;
    }
    const dd = d as unknown[];
    const c = chunk as unknown[];
    for (let i = 0; i < count; i++) dd[slots[slotsFrom + i]] = c[from + i];
  }

  /** Clears a slot to null (frees object references; a reused slot reads null until written). */
  clear(slot: number): void {
    if (this.utf8) this.utf8.clear(slot);
    else (this.data as unknown[])[slot] = this.#sentinel ?? null;
  }

  /** Whether the value in `slot` is null. */
  isNull(slot: number): boolean {
    if (this.utf8) return this.utf8.isNull(slot);
    const v = (this.data as unknown[])[slot];
    if (this.#sentinel === undefined) return v === null || v === undefined;
    return v === this.#sentinel;
  }

  /**
   * The value in `slot` as JS sees it (see {@linkcode toJs}): numbers, `bigint` for 64-bit integers,
   * durations and BigInteger, an `Instant` for timestamps, ISO strings for dates and times, a
   * one-character string for char, decimal text for BigDecimal, arrays for lists, and `null`.
   */
  get(slot: number): unknown {
    const v = (this.data as unknown[])[slot];
    if (this.#sentinel !== undefined && v === this.#sentinel) return null;
    // Kinds stored as they read stay inline here: a call per value costs up to 2x on a numeric column.
    switch (this.kind) {
      case "bool":
      case "char":
      case "timestamp":
      case "date":
      case "time":
        return toJs(this.kind, v);
      case "string":
        return this.utf8!.get(slot);
      default:
        return v ?? null;
    }
  }

  /** The stored value without conversion (sentinels included; a string column's value as a JS string). */
  raw(slot: number): unknown {
    if (this.utf8) return this.utf8.get(slot);
    return (this.data as unknown[])[slot];
  }

  /** Compares the values in two slots: nulls first, NaN last (the kind's order; strings as JS compares them). */
  compareSlots(a: number, b: number): number {
    if (this.utf8) return this.utf8.compare(a, b);
    const d = this.data as unknown[];
    return KINDS[this.kind].compare(d[a], d[b]);
  }

  /**
   * The raw values of `slots`, in order, as a chunk of this column's kind (a typed array, string data, or a
   * JS array), for writing into another column of the same kind.
   */
  gather(slots: Int32Array): Chunk {
    if (this.utf8) return this.utf8.gather(slots);
    const d = this.data;
    if (ArrayBuffer.isView(d)) {
      const out = new (d.constructor as GrowableTypedArrayConstructor)(slots.length) as Int32Array;
      const src = d as Int32Array;
      for (let i = 0; i < slots.length; i++) out[i] = src[slots[i]];
      return out as unknown as Chunk;
    }
    const out = new Array<unknown>(slots.length);
    for (let i = 0; i < slots.length; i++) out[i] = d[slots[i]];
    return out;
  }
}

/**
 * Converts a stored value of a kind to what {@linkcode ColumnStore.get} returns: `null` for the kind's
 * null sentinel, `null` and `undefined`; a boolean for `bool`; a one-character string for `char`; an
 * `Instant` (exact nanoseconds) for timestamps; ISO strings for dates and times; anything else
 * as stored. The inverse of {@linkcode toRaw}.
 *
 * @param kind The column kind.
 * @param v The stored value.
 * @returns The JS value.
 */
export function toJs(kind: ColumnKind, v: unknown): unknown {
  return KINDS[kind].toJs(v);
}

/** A fixed-width chunk. */
type TypedChunk = GrowableTypedArray;

/**
 * Answers of {@linkcode isRun} per slot array: every column of an update is written to the same slots, in
 * the same pieces (one per record batch), so each piece's answer is asked for once per column. Keyed by
 * the piece's start; an answer is reused only while the piece's first and last slots are unchanged.
 */
const runs = new WeakMap<
  Int32Array,
  Map<number, { count: number; first: number; last: number; run: boolean }>
>();

/**
 * Whether `slots[from .. from + count)` are consecutive numbers. Answers are remembered per array and range
 * (slot arrays are made per update and not changed after).
 */
function isRun(slots: Int32Array, from: number, count: number): boolean {
  const first = slots[from], last = slots[from + count - 1];
  let known = runs.get(slots);
  const k = known?.get(from);
  if (k !== undefined && k.count === count && k.first === first && k.last === last) return k.run;
  let run = last === first + count - 1;
  for (let i = 1; run && i < count; i++) run = slots[from + i] === first + i;
  if (known === undefined) runs.set(slots, known = new Map());
  known.set(from, { count, first, last, run });
  return run;
}

/**
 * Copies `count` values of a typed chunk into scattered slots as raw bits, through integer views of the
 * value width: one monomorphic loop per width, and no `bigint` made per 64-bit value.
 */
function scatterTyped(
  d: TypedChunk,
  c: TypedChunk,
  from: number,
  slots: Int32Array,
  slotsFrom: number,
  count: number,
): void {
  const width = d.BYTES_PER_ELEMENT;
  if (width === 8) {
    const dw = new Int32Array(d.buffer, d.byteOffset, d.length * 2);
    const cw = new Int32Array(c.buffer, c.byteOffset, c.length * 2);
    scatter64(dw, cw, from, slots, slotsFrom, count);
  } else if (width === 4) {
    scatter32(
      new Int32Array(d.buffer, d.byteOffset, d.length),
      new Int32Array(c.buffer, c.byteOffset, c.length),
      from,
      slots,
      slotsFrom,
      count,
    );
  } else if (width === 2) {
    scatter16(
      new Uint16Array(d.buffer, d.byteOffset, d.length),
      new Uint16Array(c.buffer, c.byteOffset, c.length),
      from,
      slots,
      slotsFrom,
      count,
    );
  } else {
    scatter8(
      new Int8Array(d.buffer, d.byteOffset, d.length),
      new Int8Array(c.buffer, c.byteOffset, c.length),
      from,
      slots,
      slotsFrom,
      count,
    );
  }
}

function scatter64(
  d: Int32Array,
  c: Int32Array,
  from: number,
  slots: Int32Array,
  at: number,
  n: number,
): void {
  for (let i = 0; i < n; i++) {
    const s = slots[at + i] * 2, v = (from + i) * 2;
    d[s] = c[v];
    d[s + 1] = c[v + 1];
  }
}

function scatter32(
  d: Int32Array,
  c: Int32Array,
  from: number,
  slots: Int32Array,
  at: number,
  n: number,
): void {
  for (let i = 0; i < n; i++) d[slots[at + i]] = c[from + i];
}

function scatter16(
  d: Uint16Array,
  c: Uint16Array,
  from: number,
  slots: Int32Array,
  at: number,
  n: number,
): void {
  for (let i = 0; i < n; i++) d[slots[at + i]] = c[from + i];
}

function scatter8(d: Int8Array, c: Int8Array, from: number, slots: Int32Array, at: number, n: number): void {
  for (let i = 0; i < n; i++) d[slots[at + i]] = c[from + i];
}

function scatterArray(
  d: unknown[],
  c: unknown[],
  from: number,
  slots: Int32Array,
  at: number,
  n: number,
): void {
  for (let i = 0; i < n; i++) d[slots[at + i]] = c[from + i];
}

/**
 * Converts a JS value (as `get` returns it) to the raw stored form of a kind:
 * the inverse of {@linkcode ColumnStore.get}.
 *
 * @param kind The column kind.
 * @param v The JS value (`null`/`undefined` for null).
 * @returns The raw value.
 */
export function toRaw(kind: ColumnKind, v: unknown): unknown {
  return KINDS[kind].toRaw(v);
}
