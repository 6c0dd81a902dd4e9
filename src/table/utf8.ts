/**
 * String columns as UTF-8 bytes, at about their Arrow size.
 *
 * A JS string costs a 16-byte header plus its characters rounded up to 8 bytes, and its array slot 8 more:
 * about 47 bytes for a 12-character value, where Arrow needs 16 (a 4-byte offset and the bytes). Here a
 * column keeps its values' bytes in one heap and, per slot, where they start (4 bytes) and how long they are
 * (1 byte; longer values keep their length aside): 5 bytes plus the bytes. Values are decoded when read.
 *
 * Writing a chunk of Arrow string data (a {@linkcode Utf8Chunk}, a view of the message) copies its bytes
 * into the heap in one block and computes starts and lengths from its offsets: nothing per value but
 * arithmetic on typed arrays. Overwritten and cleared values leave dead bytes behind; the heap is compacted
 * when they outweigh the live ones.
 *
 * @module
 */

import { DeephavenError, GrpcCode } from "../errors.ts";
import { allocTyped, growTyped } from "./grow.ts";

/** The start of a null value. */
const NULL = 0xffffffff;
/** Lengths from this one up are kept aside (the 1-byte length says only "long"). */
const LONG = 255;
/** A heap never grows past this (2 GiB: the most elements of growable storage). */
const MAX_HEAP = 2 ** 31;
/** Dead bytes are reclaimed once they exceed both this and the live bytes. */
const COMPACT_FROM = 1 << 20;

const decoder = new TextDecoder();
const encoder = new TextEncoder();

/**
 * A chunk of string values as Arrow lays them out: value `i` is `data[offsets[i], offsets[i + 1])`, null
 * where the validity bit is clear. The decoder's views of a message; the local table's own copies.
 */
export class Utf8Chunk {
  /** Number of values. */
  readonly length: number;
  /** `length + 1` offsets into `data`. */
  readonly offsets: Int32Array;
  /** The values' bytes. */
  readonly data: Uint8Array;
  /** Validity bitmap (bit `i` set: value `i` is not null); `undefined` when nothing is null. */
  readonly validity: Uint8Array | undefined;

  /**
   * @param offsets `length + 1` offsets into `data`.
   * @param data The values' bytes.
   * @param validity Validity bitmap, or `undefined` when nothing is null.
   */
  constructor(offsets: Int32Array, data: Uint8Array, validity?: Uint8Array) {
    this.length = Math.max(0, offsets.length - 1);
    this.offsets = offsets;
    this.data = data;
    this.validity = validity;
  }

  /** Whether value `i` is null. */
  isNull(i: number): boolean {
    const v = this.validity;
    return v !== undefined && (v[i >> 3] & (1 << (i & 7))) === 0;
  }

  /** Value `i` as a JS string (`null` for null). */
  get(i: number): string | null {
    if (this.isNull(i)) return null;
    return decode(this.data, this.offsets[i], this.offsets[i + 1] - this.offsets[i]);
  }

  /** The values as JS strings. */
  toArray(): (string | null)[] {
    return Array.from({ length: this.length }, (_, i) => this.get(i));
  }

  /**
   * A chunk of JS strings (`null` for null).
   *
   * @param values The values.
   * @returns The chunk.
   */
  static from(values: ArrayLike<unknown>): Utf8Chunk {
    const n = values.length;
    const offsets = new Int32Array(n + 1);
    let data = new Uint8Array(Math.max(16, n * 8));
    let validity: Uint8Array | undefined;
    let at = 0;
    for (let i = 0; i < n; i++) {
      const v = values[i];
      if (v === null || v === undefined) {
        validity ??= new Uint8Array((n + 7) >> 3).fill(0xff);
        validity[i >> 3] &= ~(1 << (i & 7));
      } else {
        const s = String(v);
        if (at + s.length * 3 > data.length) {
          const next = new Uint8Array(Math.max(at + s.length * 3, data.length * 2));
          next.set(data.subarray(0, at));
          data = next;
        }
        at += encoder.encodeInto(s, data.subarray(at)).written;
      }
      offsets[i + 1] = at;
    }
    return new Utf8Chunk(offsets, data.subarray(0, at), validity);
  }
}

const codes: number[] = [];

/** UTF-8 bytes to a string: short ASCII values through a code array, others through TextDecoder. */
function decode(bytes: Uint8Array, start: number, n: number): string {
  if (n === 0) return "";
  if (n <= 64) {
    for (let k = 0; k < n; k++) {
      const b = bytes[start + k];
      if (b >= 0x80) return decoder.decode(bytes.subarray(start, start + n));
      codes[k] = b;
    }
    codes.length = n;
    return String.fromCharCode.apply(null, codes);
  }
  return decoder.decode(bytes.subarray(start, start + n));
}

/**
 * Compares two UTF-8 byte strings in the order of JS (and Java) strings: UTF-16 code units. That is byte
 * order except where a character of U+E000–U+FFFF meets one above U+FFFF (a surrogate pair in UTF-16, which
 * sorts first there).
 */
function compareUtf8(a: Uint8Array, as: number, an: number, b: Uint8Array, bs: number, bn: number): number {
  const n = Math.min(an, bn);
  for (let i = 0; i < n; i++) {
    const x = a[as + i], y = b[bs + i];
    if (x === y) continue;
    // The differing character starts at the same place in both (their bytes agree up to here).
    let c = i;
    while (c > 0 && (a[as + c] & 0xc0) === 0x80) c--;
    const lx = a[as + c], ly = b[bs + c];
    const supX = lx >= 0xf0, supY = ly >= 0xf0;
    const highX = lx === 0xee || lx === 0xef, highY = ly === 0xee || ly === 0xef;
    if ((supX && highY) || (highX && supY)) return supX ? -1 : 1;
    return x < y ? -1 : 1;
  }
  return an === bn ? 0 : an < bn ? -1 : 1;
}

/**
 * The storage of one string column: per slot a start and a length into a heap of UTF-8 bytes.
 */
export class Utf8Store {
  #starts: Uint32Array = new Uint32Array(0);
  #lens: Uint8Array = new Uint8Array(0);
  /** Lengths of long values (at least {@linkcode LONG} bytes), by slot. */
  #long = new Map<number, number>();
  #heap: Uint8Array = new Uint8Array(0);
  /** Heap bytes in use (live and dead). */
  #used = 0;
  /** Heap bytes of overwritten and cleared values. */
  #dead = 0;
  /** The rows a table made at its final size will hold (see claim), for sizing its heap. */
  #expected = 0;

  /** Slot capacity. */
  get capacity(): number {
    return this.#starts.length;
  }

  /** Bytes held: slot arrays and heap, whole buffers. */
  get bytes(): number {
    return this.#starts.buffer.byteLength + this.#lens.buffer.byteLength + this.#heap.buffer.byteLength;
  }

  /**
   * Grows to at least `n` slots; new slots are unspecified until {@linkcode Utf8Store.settle} or written.
   * `exact`: empty storage of exactly `n` slots in plain buffers (see `ColumnStore.claim`).
   */
  claim(n: number, exact = false): void {
    if (n <= this.#starts.length) return;
    if (exact && this.#starts.length === 0) {
      this.#starts = new Uint32Array(n);
      this.#lens = new Uint8Array(n);
      this.#expected = n;
      return;
    }
    this.#starts = growTyped(this.#starts, this.#starts.length, n);
    this.#lens = growTyped(this.#lens, this.#lens.length, n);
  }

  /** Makes slots `[from, to)` null. */
  settle(from: number, to: number): void {
    this.#starts.fill(NULL, from, to);
    this.#lens.fill(0, from, to);
  }

  #length(slot: number): number {
    const l = this.#lens[slot];
    return l === LONG ? this.#long.get(slot)! : l;
  }

  /** Makes the value in `slot` null, its bytes dead (before it is replaced or cleared). */
  #release(slot: number): void {
    if (this.#starts[slot] === NULL) return;
    const l = this.#lens[slot];
    if (l === LONG) {
      this.#dead += this.#long.get(slot)!;
      this.#long.delete(slot);
    } else this.#dead += l;
    this.#starts[slot] = NULL;
    this.#lens[slot] = 0;
  }

  /** Room for `n` more heap bytes (compacting first when dead bytes dominate). */
  #reserve(n: number): void {
    if (this.#dead > COMPACT_FROM && this.#dead > this.#used - this.#dead) this.#compact();
    const need = this.#used + n;
    if (need <= this.#heap.length) return;
    if (need > MAX_HEAP) {
      throw new DeephavenError(
        `A string column cannot hold ${need} bytes; at most ${MAX_HEAP} fit: subscribe to a viewport or fewer rows`,
        { code: GrpcCode.RESOURCE_EXHAUSTED },
      );
    }
    this.#heap = growTyped(this.#heap, this.#used, need);
  }

  /** Moves the live values to a new heap, in slot order. */
  #compact(): void {
    const live = this.#used - this.#dead;
    const heap = allocTyped(Uint8Array, Math.max(live, 16)) as Uint8Array;
    const old = this.#heap, starts = this.#starts;
    let at = 0;
    for (let s = 0; s < starts.length; s++) {
      const st = starts[s];
      if (st === NULL) continue;
      const n = this.#length(s);
      if (n < 32) { for (let k = 0; k < n; k++) heap[at + k] = old[st + k]; }
      else heap.set(old.subarray(st, st + n), at);
      starts[s] = at;
      at += n;
    }
    this.#heap = heap;
    this.#used = at;
    this.#dead = 0;
  }

  #setLength(slot: number, n: number): void {
    if (n >= LONG) {
      this.#lens[slot] = LONG;
      this.#long.set(slot, n);
    } else this.#lens[slot] = n;
  }

  /**
   * Writes `count` values of an Arrow string chunk, from value `from`, into `slots[slotsFrom ...]`: their
   * bytes in one copy, then per slot its start and length.
   */
  writeChunk(chunk: Utf8Chunk, from: number, slots: Int32Array, slotsFrom: number, count: number): void {
    const o = chunk.offsets;
    const first = o[from], bytes = o[from + count] - first;
    for (let i = 0; i < count; i++) this.#release(slots[slotsFrom + i]);
    const { heap, base } = this.reserveRun(bytes);
    heap.set(chunk.data.subarray(first, first + bytes), base);
    this.#index(o, from, count, slots, slotsFrom, base - first, chunk.validity);
  }

  /**
   * Heap room for `bytes` bytes of values that the caller copies in itself (then
   * {@linkcode Utf8Store.setRun}): the heap and where they go. The heap stays valid until the next write.
   * `rows`: how many values the bytes hold (sizes the heap of a table made at its final size).
   */
  reserveRun(bytes: number, rows = 0): { heap: Uint8Array; base: number } {
    if (this.#heap.length === 0 && this.#expected > 0 && rows > 0) {
      // The first values of a table whose size is known (a snapshot): a heap for all of them at once, sized
      // from these, in a plain buffer (see claim); growing past it moves it to a resizable one.
      const estimate = Math.ceil((bytes / rows) * this.#expected * 1.02) + 4096;
      this.#heap = new Uint8Array(Math.min(Math.max(bytes, estimate), MAX_HEAP));
    }
    this.#reserve(bytes);
    const base = this.#used;
    this.#used += bytes;
    return { heap: this.#heap, base };
  }

  /**
   * Points the null slots `[first, first + count)` at values whose bytes were copied to the heap (see
   * {@linkcode Utf8Store.reserveRun}): value `i` starts at `offsets[i] + shift` in the heap.
   */
  setRun(first: number, count: number, offsets: Int32Array, shift: number, validity?: Uint8Array): void {
    this.#index(offsets, 0, count, first, 0, shift, validity);
  }

  /**
   * Sets starts and lengths of the target slots (an array, or consecutive from a first slot) of chunk values:
   * one pass of typed-array arithmetic, then the nulls (validity bits clear) and the long values apart.
   */
  #index(
    o: Int32Array,
    from: number,
    count: number,
    slots: Int32Array | number,
    slotsFrom: number,
    shift: number,
    validity: Uint8Array | undefined,
  ): void {
    const starts = this.#starts, lens = this.#lens;
    let longest = 0;
    if (typeof slots === "number") {
      for (let i = 0; i < count; i++) {
        const v = from + i, start = o[v], n = o[v + 1] - start;
        starts[slots + i] = start + shift;
        lens[slots + i] = n < LONG ? n : LONG;
        if (n > longest) longest = n;
      }
    } else {
      for (let i = 0; i < count; i++) {
        const v = from + i, start = o[v], n = o[v + 1] - start, slot = slots[slotsFrom + i];
        starts[slot] = start + shift;
        lens[slot] = n < LONG ? n : LONG;
        if (n > longest) longest = n;
      }
    }
    const slotOf = (i: number) => (typeof slots === "number" ? slots + i : slots[slotsFrom + i]);
    if (longest >= LONG) {
      for (let i = 0; i < count; i++) {
        const n = o[from + i + 1] - o[from + i];
        if (n >= LONG) this.#long.set(slotOf(i), n);
      }
    }
    if (validity !== undefined) {
      // Nulls: their bytes (normally none) are dead from the start.
      for (let i = 0; i < count; i++) {
        const v = from + i;
        if ((validity[v >> 3] & (1 << (v & 7))) !== 0) continue;
        const slot = slotOf(i), n = o[v + 1] - o[v];
        this.#dead += n;
        if (n >= LONG) this.#long.delete(slot);
        starts[slot] = NULL;
        lens[slot] = 0;
      }
    }
  }

  /** Writes JS values (`null` or `undefined` for null; others as `String(v)`). */
  writeValues(
    values: ArrayLike<unknown>,
    from: number,
    slots: Int32Array,
    slotsFrom: number,
    count: number,
  ): void {
    for (let i = 0; i < count; i++) {
      const slot = slots[slotsFrom + i];
      const v = values[from + i];
      this.#release(slot);
      if (v === null || v === undefined) continue;
      const s = String(v);
      this.#reserve(s.length * 3);
      const n = encoder.encodeInto(s, this.#heap.subarray(this.#used)).written;
      this.#starts[slot] = this.#used;
      this.#setLength(slot, n);
      this.#used += n;
    }
  }

  /** Clears a slot to null. */
  clear(slot: number): void {
    this.#release(slot);
  }

  /** Whether the value in `slot` is null. */
  isNull(slot: number): boolean {
    return this.#starts[slot] === NULL;
  }

  /** The value in `slot` (`null` for null). */
  get(slot: number): string | null {
    const st = this.#starts[slot];
    if (st === NULL) return null;
    return decode(this.#heap, st, this.#length(slot));
  }

  /** Compares the values in two slots: nulls first, then as JS strings compare. */
  compare(a: number, b: number): number {
    const sa = this.#starts[a], sb = this.#starts[b];
    if (sa === NULL || sb === NULL) return sa === sb ? 0 : sa === NULL ? -1 : 1;
    const h = this.#heap;
    return compareUtf8(h, sa, this.#length(a), h, sb, this.#length(b));
  }

  /** Compares the value in `slot` with UTF-8 bytes (nulls first), as JS strings compare. */
  compareBytes(slot: number, bytes: Uint8Array): number {
    const st = this.#starts[slot];
    if (st === NULL) return -1;
    return compareUtf8(this.#heap, st, this.#length(slot), bytes, 0, bytes.length);
  }

  /** The values of `slots`, in order, as a chunk of their own (one pass over the bytes). */
  gather(slots: Int32Array): Utf8Chunk {
    const n = slots.length;
    const offsets = new Int32Array(n + 1);
    let total = 0, nulls = 0;
    for (let i = 0; i < n; i++) {
      const s = slots[i];
      if (this.#starts[s] === NULL) nulls++;
      else total += this.#length(s);
      offsets[i + 1] = total;
    }
    const data = new Uint8Array(total);
    const validity = nulls > 0 ? new Uint8Array((n + 7) >> 3) : undefined;
    const heap = this.#heap;
    for (let i = 0; i < n; i++) {
      const s = slots[i], st = this.#starts[s];
      if (st === NULL) continue;
      if (validity) validity[i >> 3] |= 1 << (i & 7);
      const at = offsets[i], len = offsets[i + 1] - at;
      if (len < 32) { for (let k = 0; k < len; k++) data[at + k] = heap[st + k]; }
      else data.set(heap.subarray(st, st + len), at);
    }
    return new Utf8Chunk(offsets, data, validity);
  }
}
