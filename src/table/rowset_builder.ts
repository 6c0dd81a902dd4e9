/**
 * {@linkcode RowSetBuilder}: appends sorted ranges cheaply and builds a row set.
 *
 * @module
 */

import type { DeephavenError } from "../errors.ts";
import {
  EMPTY_NUM,
  invalid,
  MAX_SAFE,
  normalizeKey,
  type RowKey,
  trimBig,
  trimNum,
} from "./rowset_ranges.ts";
import { RowSet, rowSetFromStorage } from "./rowset.ts";

/**
 * Appends sorted ranges cheaply and builds a {@linkcode RowSet}. Each appended range must start after the end of
 * the previous one; a range that starts right after it is merged into it.
 *
 * @example Usage
 * ```ts
 * import { RowSetBuilder } from "./rowset.ts";
 *
 * const rs = new RowSetBuilder().appendRange(0, 4).appendRange(5, 9).appendKey(2n ** 60n).build();
 * console.assert(rs.toString() === "{0-9,1152921504606846976}");
 * ```
 */
export class RowSetBuilder {
  #num: Float64Array;
  #big: BigInt64Array | null = null;
  #len = 0;

  /**
   * Creates an empty builder.
   *
   * @param expectedRanges Initial capacity in ranges (a hint, capped at 2^22; the builder grows as needed). When
   *   it is exact, {@linkcode RowSetBuilder.build} hands over the array without copying.
   */
  constructor(expectedRanges = 8) {
    const n = Number.isFinite(expectedRanges)
      ? Math.min(Math.max(Math.floor(expectedRanges), 1), 1 << 22)
      : 8;
    this.#num = new Float64Array(2 * n);
  }

  /** The number of ranges appended so far (after merging adjacent ones). */
  get rangeCount(): number {
    return this.#len >> 1;
  }

  /**
   * Appends one key.
   *
   * @param key The key; must be greater than every key appended before.
   * @returns This builder.
   * @throws {DeephavenError} INVALID_ARGUMENT for an invalid or out-of-order key.
   */
  appendKey(key: RowKey): this {
    return this.appendRange(key, key);
  }

  /**
   * Appends the inclusive range `[start, end]`.
   *
   * @param start First key; must be greater than every key appended before.
   * @param end Last key, at least `start`.
   * @returns This builder.
   * @throws {DeephavenError} INVALID_ARGUMENT for invalid keys, `end < start`, or an out-of-order range.
   */
  appendRange(start: RowKey, end: RowKey): this {
    if (
      this.#big === null && typeof start === "number" && typeof end === "number" && start >= 0 &&
      start <= end &&
      end <= MAX_SAFE && Number.isInteger(start) && Number.isInteger(end)
    ) {
      this.#pushNum(start, end);
      return this;
    }
    return this.#appendSlow(start, end);
  }

  #appendSlow(start: RowKey, end: RowKey): this {
    const s = normalizeKey(start, "Range start"), e = normalizeKey(end, "Range end");
    if (s > e) throw invalid(`Range [${s}, ${e}] ends before it starts`);
    if (this.#big === null && typeof s === "number" && typeof e === "number") {
      this.#pushNum(s, e);
      return this;
    }
    if (this.#big === null) this.#toWide();
    this.#pushBig(BigInt(s), BigInt(e));
    return this;
  }

  #pushNum(s: number, e: number): void {
    const len = this.#len;
    let num = this.#num;
    if (len > 0) {
      const last = num[len - 1];
      if (s <= last) throw this.#orderError(s, e, last);
      if (s === last + 1) {
        num[len - 1] = e;
        return;
      }
    }
    if (len === num.length) {
      const grown = new Float64Array(num.length * 2);
      grown.set(num);
      this.#num = num = grown;
    }
    num[len] = s;
    num[len + 1] = e;
    this.#len = len + 2;
  }

  #pushBig(s: bigint, e: bigint): void {
    const len = this.#len;
    let big = this.#big!;
    if (len > 0) {
      const last = big[len - 1];
      if (s <= last) throw this.#orderError(s, e, last);
      if (s === last + 1n) {
        big[len - 1] = e;
        return;
      }
    }
    if (len === big.length) {
      const grown = new BigInt64Array(big.length * 2);
      grown.set(big);
      this.#big = big = grown;
    }
    big[len] = s;
    big[len + 1] = e;
    this.#len = len + 2;
  }

  #toWide(): void {
    const big = new BigInt64Array(Math.max(this.#num.length, 4));
    for (let i = 0; i < this.#len; i++) big[i] = BigInt(this.#num[i]);
    this.#big = big;
    this.#num = EMPTY_NUM;
  }

  #orderError(s: number | bigint, e: number | bigint, last: number | bigint): DeephavenError {
    return invalid(
      `Range [${s}, ${e}] does not come after the previous key ${last}; append ranges in increasing order ` +
        "(or use RowSet.fromRanges for unsorted input)",
    );
  }

  /**
   * Returns the set of everything appended and resets the builder to empty.
   *
   * @returns The row set.
   */
  build(): RowSet {
    const len = this.#len;
    const rs = len === 0
      ? RowSet.EMPTY
      : rowSetFromStorage(this.#big !== null ? trimBig(this.#big, len) : trimNum(this.#num, len));
    this.#len = 0;
    this.#big = null;
    this.#num = new Float64Array(16);
    return rs;
  }
}
