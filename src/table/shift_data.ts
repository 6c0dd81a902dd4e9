/**
 * {@linkcode ShiftData}: Deephaven's key shifts (windows of keys that move by a delta), read from Barrage
 * messages and applied to row sets.
 *
 * @module
 */

import { invalid, MAX_ROW_KEY, normalizeKey, type RowKey } from "./rowset_ranges.ts";

/**
 * Shift data: a list of windows `[starts[i], ends[i]]` whose present keys move by `deltas[i]` (Deephaven's
 * `RowSetShiftData`). Windows are sorted by start and disjoint. Immutable.
 *
 * @example Usage
 * ```ts
 * import { RowSet, ShiftData } from "./rowset.ts";
 *
 * const shifts = ShiftData.fromEntries([[10, 19, 5]]);
 * console.assert(RowSet.range(10, 12).shift(shifts).toString() === "{15-17}");
 * ```
 */
export class ShiftData {
  /** No shifts. */
  static readonly EMPTY: ShiftData = new ShiftData(
    new BigInt64Array(0),
    new BigInt64Array(0),
    new BigInt64Array(0),
  );

  /** First key of each window (inclusive). Do not modify. */
  readonly starts: BigInt64Array;
  /** Last key of each window (inclusive). Do not modify. */
  readonly ends: BigInt64Array;
  /** How far each window's keys move (negative moves toward 0). Do not modify. */
  readonly deltas: BigInt64Array;

  /**
   * Creates shift data from parallel arrays (kept, not copied).
   *
   * @param starts First key of each window.
   * @param ends Last key of each window.
   * @param deltas Distance each window's keys move.
   * @throws {DeephavenError} INVALID_ARGUMENT when the arrays differ in length, a window is empty or has a
   *   negative start, or windows are not sorted and disjoint.
   */
  constructor(starts: BigInt64Array, ends: BigInt64Array, deltas: BigInt64Array) {
    if (starts.length !== ends.length || starts.length !== deltas.length) {
      throw invalid(
        `Shift data needs as many starts (${starts.length}), ends (${ends.length}) and deltas (${deltas.length})`,
      );
    }
    for (let i = 0; i < starts.length; i++) {
      if (starts[i] < 0n || ends[i] < starts[i]) {
        throw invalid(`Shift window ${i} [${starts[i]}, ${ends[i]}] is not a non-empty range of row keys`);
      }
      if (i > 0 && starts[i] <= ends[i - 1]) {
        throw invalid(
          `Shift window ${i} [${starts[i]}, ${ends[i]}] does not come after window ${i - 1} ending at ${
            ends[i - 1]
          }; windows must be sorted and disjoint`,
        );
      }
    }
    this.starts = starts;
    this.ends = ends;
    this.deltas = deltas;
  }

  /**
   * Creates shift data from `[start, end, delta]` triples, sorted by start and disjoint.
   *
   * @param entries The windows and their deltas.
   * @returns The shift data.
   * @throws {DeephavenError} INVALID_ARGUMENT for invalid keys or windows.
   */
  static fromEntries(entries: Iterable<readonly [RowKey, RowKey, RowKey]>): ShiftData {
    const s: bigint[] = [], e: bigint[] = [], d: bigint[] = [];
    for (const [start, end, delta] of entries) {
      s.push(BigInt(normalizeKey(start, "Shift start")));
      e.push(BigInt(normalizeKey(end, "Shift end")));
      if (typeof delta === "number" && !Number.isSafeInteger(delta)) {
        throw invalid(`Shift delta ${delta} must be a safe integer or a bigint`);
      }
      const db = BigInt(delta);
      if (db < -MAX_ROW_KEY || db > MAX_ROW_KEY) {
        throw invalid(`Shift delta ${delta} is outside the int64 range`);
      }
      d.push(db);
    }
    if (s.length === 0) return ShiftData.EMPTY;
    return new ShiftData(BigInt64Array.from(s), BigInt64Array.from(e), BigInt64Array.from(d));
  }

  /** The number of windows. */
  get length(): number {
    return this.starts.length;
  }

  /** Whether there are no windows. */
  get isEmpty(): boolean {
    return this.starts.length === 0;
  }

  /**
   * Iterates the windows as `[start, end, delta]`.
   *
   * @returns An iterator of triples.
   */
  *entries(): IterableIterator<[bigint, bigint, bigint]> {
    for (let i = 0; i < this.starts.length; i++) yield [this.starts[i], this.ends[i], this.deltas[i]];
  }

  /**
   * Whether both have the same windows and deltas.
   *
   * @param other The shift data to compare with.
   * @returns True when equal.
   */
  equals(other: ShiftData): boolean {
    if (this.length !== other.length) return false;
    for (let i = 0; i < this.length; i++) {
      if (
        this.starts[i] !== other.starts[i] || this.ends[i] !== other.ends[i] ||
        this.deltas[i] !== other.deltas[i]
      ) return false;
    }
    return true;
  }

  /**
   * Formats as `{[10-19]+5,[30-39]-2}`.
   *
   * @returns The text.
   */
  toString(): string {
    const parts: string[] = [];
    for (let i = 0; i < this.length; i++) {
      const d = this.deltas[i];
      parts.push(`[${this.starts[i]}-${this.ends[i]}]${d < 0n ? "" : "+"}${d}`);
    }
    return `{${parts.join(",")}}`;
  }

  /**
   * Formats for `Deno.inspect` and `console.log`.
   *
   * @returns The text.
   */
  [Symbol.for("Deno.customInspect")](): string {
    return `ShiftData ${this.toString()}`;
  }
}
