/**
 * Row sets: immutable sorted sets of Deephaven row keys, and the shift data that moves them.
 *
 * A Deephaven row key is a non-negative 64-bit integer. Keys can exceed 2^53 (merged and sorted tables spread
 * their keys over the whole int64 range), so the public API speaks `bigint`, and accepts `number` for
 * convenience wherever a key goes in.
 *
 * Storage. A {@linkcode RowSet} stores its keys as sorted, disjoint, coalesced (non-adjacent) inclusive ranges
 * in one flat typed array `[start0, end0, start1, end1, ...]`:
 *
 * - a `Float64Array` when every key is at most `Number.MAX_SAFE_INTEGER` (the usual case), or
 * - a `BigInt64Array` when some key is larger.
 *
 * Why two representations: reading a `BigInt64Array` allocates a bigint per element, and bigint arithmetic
 * allocates too. Measured here (Deno 2.9.3), a union of two 100k-range sets ran in about 1.4 ms on
 * `Float64Array` against 3 ms on `BigInt64Array`, and filling a 200k-entry array from decoded numbers took
 * 0.6 ms against 3.5 ms. One code path that handles both element types was slower still (V8 deoptimises on the
 * mixed types: 3.7 ms and 11 ms), so the hot paths come in a number version; the rare wide sets take a bigint
 * path. Set algebra on wide sets reuses the number code through coordinate compression (each range boundary is
 * replaced by its rank among all boundaries of both operands, which preserves order and adjacency).
 * Invariant: a set is stored wide exactly when its last key exceeds `Number.MAX_SAFE_INTEGER`.
 *
 * Positions (the index of a key in sorted order) are plain numbers; they come from a lazily built cumulative
 * count array and binary search.
 *
 * @example Usage
 * ```ts
 * import { RowSet } from "./rowset.ts";
 *
 * const rs = RowSet.fromRanges([[0, 9], [20, 29]]).union(RowSet.fromKeys([12]));
 * console.assert(rs.toString() === "{0-9,12,20-29}");
 * console.assert(rs.size === 21 && rs.keyAt(10) === 12n && rs.positionOf(20n) === 11);
 * ```
 *
 * @module
 */

import { DeephavenError, GrpcCode } from "../errors.ts";
import {
  compress,
  decompress,
  EMPTY_NUM,
  floorRangeBig,
  floorRangeNum,
  gallopEndBig,
  gallopNum,
  intersectNum,
  invalid,
  isSubsetNum,
  MAX_SAFE,
  MAX_SAFE_BIG,
  minusNum,
  normalizeKey,
  probeBig,
  probeNumber,
  type RangeStorage,
  type RowKey,
  shiftBig,
  shiftFailure,
  shiftNum,
  toBig,
  trimNum,
  unionNum,
} from "./rowset_ranges.ts";
import type { ShiftData } from "./shift_data.ts";
import { RowSetBuilder } from "./rowset_builder.ts";

export { ShiftData } from "./shift_data.ts";
export { RowSetBuilder } from "./rowset_builder.ts";
export { MAX_ROW_KEY, type RangeStorage, type RowKey } from "./rowset_ranges.ts";

/** Builds a RowSet from storage, applying the narrow/wide invariant. Set by RowSet's static block. */
let fromStorage: (data: RangeStorage) => RowSet;

/**
 * A row set from flat range storage (for ShiftData and RowSetBuilder).
 *
 * @param data The ranges.
 * @returns The row set.
 */
export function rowSetFromStorage(data: RangeStorage): RowSet {
  return fromStorage(data);
}

/**
 * An immutable sorted set of row keys, stored as disjoint coalesced ranges (see the module documentation).
 *
 * Construct with {@linkcode RowSet.fromRanges}, {@linkcode RowSet.fromKeys}, {@linkcode RowSet.range},
 * {@linkcode RowSetBuilder}, or the Barrage decoder.
 *
 * @example Usage
 * ```ts
 * import { RowSet } from "./rowset.ts";
 *
 * const all = RowSet.range(0, 99);
 * const some = RowSet.fromKeys([3, 4, 5, 50]);
 * console.assert(all.minus(some).rangeCount === 3);
 * console.assert(Array.from(all.positionRangesOf(some)).join() === "3,5,50,50");
 * ```
 */
export class RowSet implements Iterable<bigint> {
  static {
    fromStorage = (data: RangeStorage): RowSet => {
      if (data.length === 0) return RowSet.EMPTY;
      if (data instanceof BigInt64Array && data[data.length - 1] <= MAX_SAFE_BIG) {
        const num = new Float64Array(data.length);
        for (let i = 0; i < data.length; i++) num[i] = Number(data[i]);
        return new RowSet(num);
      }
      return new RowSet(data);
    };
  }

  /** The empty set. */
  static readonly EMPTY: RowSet = new RowSet(EMPTY_NUM);

  readonly #data: RangeStorage;
  readonly #wide: boolean;
  /** cum[i] = number of keys in ranges 0..i-1; length rangeCount + 1. Built on first use. */
  #cum: Float64Array | undefined = undefined;

  private constructor(data: RangeStorage) {
    this.#data = data;
    this.#wide = data instanceof BigInt64Array;
  }

  /**
   * Creates a set from inclusive `[start, end]` ranges given in any order; ranges may overlap or touch.
   *
   * @param ranges The ranges.
   * @returns The union of the ranges.
   * @throws {DeephavenError} INVALID_ARGUMENT for invalid keys or a range that ends before it starts.
   */
  static fromRanges(ranges: Iterable<readonly [RowKey, RowKey]>): RowSet {
    const list: Array<[number | bigint, number | bigint]> = [];
    let sorted = true, wide = false;
    for (const [start, end] of ranges) {
      const s = normalizeKey(start, "Range start"), e = normalizeKey(end, "Range end");
      if (s > e) throw invalid(`Range [${s}, ${e}] ends before it starts`);
      if (typeof e === "bigint") wide = true;
      if (list.length > 0 && s < list[list.length - 1][0]) sorted = false;
      list.push([s, e]);
    }
    if (list.length === 0) return RowSet.EMPTY;
    if (!sorted) list.sort((x, y) => (x[0] < y[0] ? -1 : x[0] > y[0] ? 1 : 0));
    const b = new RowSetBuilder(list.length);
    if (!wide) {
      let cs = list[0][0] as number, ce = list[0][1] as number;
      for (let i = 1; i < list.length; i++) {
        const s = list[i][0] as number, e = list[i][1] as number;
        if (s <= ce + 1) {
          if (e > ce) ce = e;
        } else {
          b.appendRange(cs, ce);
          cs = s;
          ce = e;
        }
      }
      b.appendRange(cs, ce);
    } else {
      let cs = BigInt(list[0][0]), ce = BigInt(list[0][1]);
      for (let i = 1; i < list.length; i++) {
        const s = BigInt(list[i][0]), e = BigInt(list[i][1]);
        if (s <= ce + 1n) {
          if (e > ce) ce = e;
        } else {
          b.appendRange(cs, ce);
          cs = s;
          ce = e;
        }
      }
      b.appendRange(cs, ce);
    }
    return b.build();
  }

  /**
   * Creates a set from keys given in any order; duplicates are ignored.
   *
   * @param keys The keys.
   * @returns The set.
   * @throws {DeephavenError} INVALID_ARGUMENT for an invalid key.
   */
  static fromKeys(keys: Iterable<RowKey>): RowSet {
    const nums: number[] = [];
    const bigs: bigint[] = [];
    for (const k of keys) {
      const n = normalizeKey(k, "Row key");
      if (typeof n === "number") nums.push(n);
      else bigs.push(n);
    }
    const b = new RowSetBuilder();
    if (nums.length > 0) {
      const sorted = Float64Array.from(nums).sort();
      let cs = sorted[0], ce = cs;
      for (let i = 1; i < sorted.length; i++) {
        const k = sorted[i];
        if (k === ce) continue;
        if (k === ce + 1) ce = k;
        else {
          b.appendRange(cs, ce);
          cs = ce = k;
        }
      }
      b.appendRange(cs, ce);
    }
    if (bigs.length > 0) {
      const sorted = BigInt64Array.from(bigs).sort();
      let cs = sorted[0], ce = cs;
      for (let i = 1; i < sorted.length; i++) {
        const k = sorted[i];
        if (k === ce) continue;
        if (k === ce + 1n) ce = k;
        else {
          b.appendRange(cs, ce);
          cs = ce = k;
        }
      }
      b.appendRange(cs, ce);
    }
    return b.build();
  }

  /**
   * Creates the set of all keys from `first` to `last` inclusive.
   *
   * @param first The first key.
   * @param last The last key, at least `first`.
   * @returns The set.
   * @throws {DeephavenError} INVALID_ARGUMENT for invalid keys or `last < first`.
   */
  static range(first: RowKey, last: RowKey): RowSet {
    return new RowSetBuilder(1).appendRange(first, last).build();
  }

  /**
   * The number of keys.
   *
   * @throws {DeephavenError} OUT_OF_RANGE when the count exceeds `Number.MAX_SAFE_INTEGER`.
   */
  get size(): number {
    const d = this.#data;
    if (d.length === 0) return 0;
    return this.#cumulative()[d.length >> 1];
  }

  /** Whether the set has no keys. */
  get isEmpty(): boolean {
    return this.#data.length === 0;
  }

  /** The number of disjoint, non-adjacent ranges. */
  get rangeCount(): number {
    return this.#data.length >> 1;
  }

  /**
   * The first key of range `i`.
   *
   * @param i Range index in `[0, rangeCount)`.
   * @returns The key.
   */
  rangeStart(i: number): bigint {
    this.#checkRangeIndex(i);
    return BigInt(this.#data[2 * i]);
  }

  /**
   * The last key of range `i`.
   *
   * @param i Range index in `[0, rangeCount)`.
   * @returns The key.
   */
  rangeEnd(i: number): bigint {
    this.#checkRangeIndex(i);
    return BigInt(this.#data[2 * i + 1]);
  }

  #checkRangeIndex(i: number): void {
    if (!Number.isInteger(i) || i < 0 || i >= this.rangeCount) {
      throw new DeephavenError(`Range index ${i} is outside [0, ${this.rangeCount})`, {
        code: GrpcCode.OUT_OF_RANGE,
      });
    }
  }

  /**
   * The flat storage `[start0, end0, start1, end1, ...]`: a `Float64Array` when every key is at most
   * `Number.MAX_SAFE_INTEGER`, otherwise a `BigInt64Array`. This is the set's own array, for fast loops:
   * do not modify it.
   *
   * @returns The storage.
   */
  flatRanges(): Float64Array | BigInt64Array {
    return this.#data;
  }

  /**
   * Iterates the ranges as inclusive `[start, end]` pairs.
   *
   * @returns An iterator of pairs.
   */
  *ranges(): IterableIterator<[bigint, bigint]> {
    const d = this.#data;
    for (let i = 0; i < d.length; i += 2) yield [BigInt(d[i]), BigInt(d[i + 1])];
  }

  /**
   * Iterates the keys in increasing order.
   *
   * @returns An iterator of keys.
   */
  *keys(): IterableIterator<bigint> {
    const d = this.#data;
    if (d instanceof Float64Array) {
      for (let i = 0; i < d.length; i += 2) {
        for (let k = d[i]; k <= d[i + 1]; k++) yield BigInt(k);
      }
    } else {
      for (let i = 0; i < d.length; i += 2) {
        for (let k = d[i]; k <= d[i + 1]; k++) yield k;
      }
    }
  }

  /**
   * Iterates the keys in increasing order (same as {@linkcode RowSet.keys}).
   *
   * @returns An iterator of keys.
   */
  [Symbol.iterator](): IterableIterator<bigint> {
    return this.keys();
  }

  /**
   * The smallest key.
   *
   * @returns The key, or undefined when empty.
   */
  first(): bigint | undefined {
    return this.#data.length === 0 ? undefined : BigInt(this.#data[0]);
  }

  /**
   * The largest key.
   *
   * @returns The key, or undefined when empty.
   */
  last(): bigint | undefined {
    const d = this.#data;
    return d.length === 0 ? undefined : BigInt(d[d.length - 1]);
  }

  /**
   * Whether `key` is in the set. Invalid keys (negative, fractional) are simply absent.
   *
   * @param key The key.
   * @returns True when present.
   */
  has(key: RowKey): boolean {
    return this.#rangeOf(key) >= 0;
  }

  /** The index of the range holding key, or -1. */
  #rangeOf(key: RowKey): number {
    const d = this.#data;
    if (d instanceof Float64Array) {
      const k = probeNumber(key);
      if (k < 0) return -1;
      const i = floorRangeNum(d, k);
      return i >= 0 && k <= d[2 * i + 1] ? i : -1;
    }
    const k = probeBig(key);
    if (k < 0n) return -1;
    const i = floorRangeBig(d, k);
    return i >= 0 && k <= d[2 * i + 1] ? i : -1;
  }

  /**
   * The key at a position (0 = smallest key).
   *
   * @param position Position in `[0, size)`.
   * @returns The key.
   * @throws {DeephavenError} OUT_OF_RANGE when the position is not in `[0, size)`.
   */
  keyAt(position: number): bigint {
    const d = this.#data;
    const n = d.length >> 1;
    const cum = n === 0 ? undefined : this.#cumulative();
    if (cum === undefined || !Number.isInteger(position) || position < 0 || position >= cum[n]) {
      throw new DeephavenError(`Position ${position} is outside the row set of size ${cum ? cum[n] : 0}`, {
        code: GrpcCode.OUT_OF_RANGE,
      });
    }
    // Last range i with cum[i] <= position.
    const i = gallopNum(cum, 1, 1, 0, n, position + 1);
    const off = position - cum[i];
    return d instanceof Float64Array ? BigInt(d[2 * i] + off) : d[2 * i] + BigInt(off);
  }

  /**
   * The position of a key (the number of smaller keys in the set).
   *
   * @param key The key.
   * @returns The position, or -1 when the key is absent.
   */
  positionOf(key: RowKey): number {
    const i = this.#rangeOf(key);
    if (i < 0) return -1;
    const cum = this.#cumulative();
    const d = this.#data;
    if (d instanceof Float64Array) return cum[i] + (probeNumber(key) - d[2 * i]);
    return cum[i] + Number(probeBig(key) - d[2 * i]);
  }

  /**
   * Whether both sets hold the same keys.
   *
   * @param other The set to compare with.
   * @returns True when equal.
   */
  equals(other: RowSet): boolean {
    if (this === other) return true;
    const a = this.#data, b = other.#data;
    if (a.length !== b.length || this.#wide !== other.#wide) return false;
    for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
    return true;
  }

  /**
   * The keys in either set.
   *
   * @param other The other set.
   * @returns The union.
   */
  union(other: RowSet): RowSet {
    if (other.isEmpty || this === other) return this;
    if (this.isEmpty) return other;
    const a = this.#data, b = other.#data;
    if (a instanceof Float64Array && b instanceof Float64Array) return fromStorage(unionNum(a, b));
    return RowSet.#wideOp(unionNum, a, b);
  }

  /**
   * The keys of this set that are not in `other`.
   *
   * @param other The keys to remove.
   * @returns The difference.
   */
  minus(other: RowSet): RowSet {
    if (this.isEmpty || other.isEmpty) return this;
    const a = this.#data, b = other.#data;
    if (a instanceof Float64Array && b instanceof Float64Array) return fromStorage(minusNum(a, b));
    return RowSet.#wideOp(minusNum, a, b);
  }

  /**
   * The keys in both sets.
   *
   * @param other The other set.
   * @returns The intersection.
   */
  intersect(other: RowSet): RowSet {
    if (this.isEmpty || this === other) return this;
    if (other.isEmpty) return other;
    const a = this.#data, b = other.#data;
    if (a instanceof Float64Array && b instanceof Float64Array) return fromStorage(intersectNum(a, b));
    return RowSet.#wideOp(intersectNum, a, b);
  }

  /**
   * Whether every key of this set is in `other`.
   *
   * @param other The candidate superset.
   * @returns True when this set is a subset of `other`.
   */
  isSubsetOf(other: RowSet): boolean {
    if (this.isEmpty || this === other) return true;
    const a = this.#data, b = other.#data;
    if (a instanceof Float64Array && b instanceof Float64Array) return isSubsetNum(a, b);
    if (this.#wide && !other.#wide) return false;
    const { ca, cb } = compress(toBig(a), toBig(b));
    return isSubsetNum(ca, cb);
  }

  static #wideOp(
    op: (a: Float64Array, b: Float64Array) => Float64Array,
    a: RangeStorage,
    b: RangeStorage,
  ): RowSet {
    const { ca, cb, points } = compress(toBig(a), toBig(b));
    return fromStorage(decompress(op(ca, cb), points));
  }

  /**
   * For a subset of this set, the positions of its keys in this set, as coalesced inclusive ranges flattened
   * to `[firstPos0, lastPos0, firstPos1, lastPos1, ...]`. One merge walk (galloping over this set's ranges).
   *
   * @param subset A subset of this set.
   * @returns The position ranges.
   * @throws {DeephavenError} INVALID_ARGUMENT when `subset` has a key that this set lacks.
   */
  positionRangesOf(subset: RowSet): Float64Array {
    const sub = subset.#data;
    if (sub.length === 0) return new Float64Array(0);
    const d = this.#data;
    const n = d.length >> 1;
    const notSubset = (key: number | bigint) =>
      invalid(
        `Cannot compute positions: row key ${key} is not in this row set (the argument must be a subset)`,
      );
    if (n === 0) throw notSubset(sub[0]);
    const cum = this.#cumulative();
    const out = new Float64Array(sub.length);
    let o = 0, i = 0;
    if (d instanceof Float64Array) {
      if (!(sub instanceof Float64Array)) throw notSubset(sub[sub.length - 1]);
      for (let k = 0; k < sub.length; k += 2) {
        const s = sub[k], e = sub[k + 1];
        i = gallopNum(d, 2, 1, i, n, s);
        if (i >= n || d[2 * i] > s) throw notSubset(s);
        if (e > d[2 * i + 1]) throw notSubset(d[2 * i + 1] + 1);
        const p = cum[i] + (s - d[2 * i]);
        const q = p + (e - s);
        if (o > 0 && out[o - 1] + 1 === p) out[o - 1] = q;
        else {
          out[o++] = p;
          out[o++] = q;
        }
      }
    } else {
      const sb = toBig(sub);
      for (let k = 0; k < sb.length; k += 2) {
        const s = sb[k], e = sb[k + 1];
        i = gallopEndBig(d, i, s);
        if (i >= n || d[2 * i] > s) throw notSubset(s);
        if (e > d[2 * i + 1]) throw notSubset(d[2 * i + 1] + 1n);
        const p = cum[i] + Number(s - d[2 * i]);
        const q = p + Number(e - s);
        if (o > 0 && out[o - 1] + 1 === p) out[o - 1] = q;
        else {
          out[o++] = p;
          out[o++] = q;
        }
      }
    }
    return trimNum(out, o);
  }

  /**
   * The keys at the given positions (used for viewports: positions are small numbers). Positions at or beyond
   * {@linkcode RowSet.size} are ignored.
   *
   * @param positions A set of positions.
   * @returns The keys at those positions.
   */
  subsetByPositions(positions: RowSet): RowSet {
    const d = this.#data;
    const n = d.length >> 1;
    if (n === 0 || positions.isEmpty) return RowSet.EMPTY;
    const cum = this.#cumulative();
    const size = cum[n];
    let pos = positions.#data;
    if (!(pos instanceof Float64Array)) {
      pos = positions.intersect(RowSet.range(0, size - 1)).#data as Float64Array;
    }
    const b = new RowSetBuilder((pos.length >> 1) + 8);
    let i = 0;
    for (let k = 0; k < pos.length; k += 2) {
      let p = pos[k];
      if (p >= size) break;
      const q = pos[k + 1] < size ? pos[k + 1] : size - 1;
      // First range i whose positions reach p: cum[i + 1] > p.
      i = gallopNum(cum, 1, 1, i, n, p + 1);
      while (p <= q) {
        const rangeLastPos = cum[i + 1] - 1;
        const take = q < rangeLastPos ? q : rangeLastPos;
        if (d instanceof Float64Array) {
          const ks = d[2 * i] + (p - cum[i]);
          b.appendRange(ks, ks + (take - p));
        } else {
          const ks = d[2 * i] + BigInt(p - cum[i]);
          b.appendRange(ks, ks + BigInt(take - p));
        }
        p = take + 1;
        if (take === rangeLastPos) i++;
      }
    }
    return b.build();
  }

  /**
   * Applies Deephaven shift semantics: every present key inside window `[starts[i], ends[i]]` moves by
   * `deltas[i]`; other keys stay. Shifts never reorder keys, so the result is built in one pass.
   *
   * @param shiftData The shifts.
   * @returns The shifted set.
   * @throws {DeephavenError} DATA_LOSS when the result would not be sorted and disjoint, or a key would leave
   *   [0, 2^63 - 1].
   */
  shift(shiftData: ShiftData): RowSet {
    const d = this.#data;
    if (d.length === 0 || shiftData.isEmpty) return this;
    const { starts, ends, deltas } = shiftData;
    const ns = starts.length;
    if (d instanceof Float64Array) {
      let narrow = true, maxUp = 0;
      const S = new Float64Array(ns), E = new Float64Array(ns), D = new Float64Array(ns);
      for (let i = 0; i < ns && narrow; i++) {
        const s = starts[i], e = ends[i], dt = deltas[i];
        if (s > MAX_SAFE_BIG || dt > MAX_SAFE_BIG || dt < -MAX_SAFE_BIG) narrow = false;
        else {
          S[i] = Number(s);
          E[i] = e > MAX_SAFE_BIG ? MAX_SAFE : Number(e); // keys above MAX_SAFE are absent from a narrow set
          D[i] = Number(dt);
          if (D[i] > maxUp) maxUp = D[i];
        }
      }
      if (narrow && d[d.length - 1] + maxUp <= MAX_SAFE) {
        const r = shiftNum(d, S, E, D);
        if (typeof r === "string") throw shiftFailure(r);
        return fromStorage(r);
      }
    }
    const r = shiftBig(toBig(d), starts, ends, deltas);
    if (typeof r === "string") throw shiftFailure(r);
    return fromStorage(r);
  }

  #cumulative(): Float64Array {
    let cum = this.#cum;
    if (cum !== undefined) return cum;
    const d = this.#data;
    const n = d.length >> 1;
    cum = new Float64Array(n + 1);
    let total = 0;
    if (d instanceof Float64Array) {
      for (let i = 0; i < n; i++) {
        total += d[2 * i + 1] - d[2 * i] + 1;
        if (total > MAX_SAFE) throw RowSet.#tooBig();
        cum[i + 1] = total;
      }
    } else {
      for (let i = 0; i < n; i++) {
        const len = d[2 * i + 1] - d[2 * i] + 1n;
        if (len > MAX_SAFE_BIG) throw RowSet.#tooBig();
        total += Number(len);
        if (total > MAX_SAFE) throw RowSet.#tooBig();
        cum[i + 1] = total;
      }
    }
    this.#cum = cum;
    return cum;
  }

  static #tooBig(): DeephavenError {
    return new DeephavenError(
      "The row set holds more than 2^53 - 1 keys, so its size and positions cannot be numbers; " +
        "work with its ranges instead",
      { code: GrpcCode.OUT_OF_RANGE },
    );
  }

  /**
   * Formats as `{0-9,12,20-29}`.
   *
   * @param maxRanges Stop after this many ranges and append `,...` (default: all).
   * @returns The text.
   */
  toString(maxRanges: number = Infinity): string {
    const d = this.#data;
    const parts: string[] = [];
    for (let i = 0; i < d.length; i += 2) {
      if (parts.length >= maxRanges) {
        parts.push("...");
        break;
      }
      parts.push(d[i] === d[i + 1] ? `${d[i]}` : `${d[i]}-${d[i + 1]}`);
    }
    return `{${parts.join(",")}}`;
  }

  /**
   * Formats for `Deno.inspect` and `console.log` (at most 50 ranges).
   *
   * @returns The text.
   */
  [Symbol.for("Deno.customInspect")](): string {
    let size: string;
    try {
      size = String(this.size);
    } catch {
      size = "> 2^53";
    }
    return `RowSet(size ${size}, ${this.rangeCount} ranges) ${this.toString(50)}`;
  }
}
