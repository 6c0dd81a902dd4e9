/**
 * Growable typed storage without copies for large tables.
 *
 * Typed arrays of fixed length must be copied to grow, and for a table of millions of rows one such copy
 * (allocation, page faults, the copy, and the old buffer's collection) stalls a live update by tens of
 * milliseconds. Past {@linkcode RESIZABLE_FROM_BYTES}, storage therefore lives in a resizable `ArrayBuffer`
 * that reserves address space (64× its first size, at least 1 GiB) and commits memory only as it grows:
 * growth resizes in place and the typed array (length-tracking) stays the same object; past the reserve,
 * storage moves once into a new, larger reservation.
 *
 * @module
 */

import { DeephavenError, GrpcCode } from "../errors.ts";

/** Typed arrays used for column storage and row indexes. */
export type GrowableTypedArray =
  | Uint8Array
  | Int8Array
  | Int16Array
  | Uint16Array
  | Int32Array
  | Uint32Array
  | BigInt64Array
  | Float32Array
  | Float64Array;

/** Constructors of {@linkcode GrowableTypedArray}. */
export type GrowableTypedArrayConstructor =
  | Uint8ArrayConstructor
  | Int8ArrayConstructor
  | Int16ArrayConstructor
  | Uint16ArrayConstructor
  | Int32ArrayConstructor
  | Uint32ArrayConstructor
  | BigInt64ArrayConstructor
  | Float32ArrayConstructor
  | Float64ArrayConstructor;

/** Storage at least this large is kept in a resizable buffer (smaller storage is cheap to copy). */
export const RESIZABLE_FROM_BYTES = 256 * 1024;
/** A resizable buffer reserves this many times its first size (at least 1 GiB, at most a table's limit). */
const RESERVE_FACTOR = 64;
/** Resizable storage grows in steps of this many bytes. */
const RESIZE_STEP_BYTES = 64 * 1024;
/** Slots are `Int32Array` entries, so no storage needs more elements than this. */
const MAX_ELEMENTS = 2 ** 31;

/**
 * Returns typed storage of the same type as `current` with room for at least `n` elements, whose first
 * `used` elements equal those of `current`. That is `current` itself when it is large enough or could grow
 * in place (to `n` rounded up to 64 KiB: memory is committed only as it is used); else a new array of
 * about 1.5× the size. Elements past `used` are unspecified (zero in new memory).
 */
export function growTyped<A extends GrowableTypedArray>(current: A, used: number, n: number): A {
  if (n <= current.length) return current;
  const bpe = current.BYTES_PER_ELEMENT;
  const capacity = Math.min(Math.max(n, Math.ceil(current.length * 1.5), 16), MAX_ELEMENTS);
  if (n > capacity) {
    throw new DeephavenError(
      `Table storage cannot hold ${n} rows; at most ${MAX_ELEMENTS} rows fit in one table: subscribe to a viewport or fewer columns`,
      { code: GrpcCode.RESOURCE_EXHAUSTED },
    );
  }
  const buffer = current.buffer as ArrayBuffer;
  if (buffer.resizable && current.byteOffset === 0 && n * bpe <= buffer.maxByteLength) {
    // In place, so no spare room is needed: grow to `n` rounded up to a step of pages (fewer resizes).
    // (Steps and reservations are multiples of every element size.)
    buffer.resize(
      Math.min(Math.ceil((n * bpe) / RESIZE_STEP_BYTES) * RESIZE_STEP_BYTES, buffer.maxByteLength),
    );
    return current; // length-tracking: it now covers the whole buffer
  }
  const next = allocTyped(current.constructor as GrowableTypedArrayConstructor, capacity) as A;
  // deno-lint-ignore no-explicit-any
  (next as any).set(current.subarray(0, used));
  return next;
}

/**
 * A zero-filled typed array of `capacity` elements; in a resizable buffer when it is at least
 * {@linkcode RESIZABLE_FROM_BYTES} large.
 */
export function allocTyped(T: GrowableTypedArrayConstructor, capacity: number): GrowableTypedArray {
  const bytes = capacity * T.BYTES_PER_ELEMENT;
  if (bytes >= RESIZABLE_FROM_BYTES) {
    try {
      const reserve = Math.min(Math.max(bytes * RESERVE_FACTOR, 2 ** 30), MAX_ELEMENTS * T.BYTES_PER_ELEMENT);
      return new T(new ArrayBuffer(bytes, { maxByteLength: Math.max(reserve, bytes) }));
    } catch {
      // No address space to reserve: fall back to a buffer of fixed size (grown by copying).
    }
  }
  return new T(capacity);
}
