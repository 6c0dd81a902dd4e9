/**
 * The range arithmetic under {@linkcode ./rowset.ts}: flat sorted range arrays `[start0, end0, ...]` as
 * `Float64Array` (every key a safe integer, the usual case) or `BigInt64Array` (wide keys), and their twin
 * number and bigint code paths: key normalisation, searches, set algebra (number code, with coordinate
 * compression for wide sets), and shifts.
 *
 * @module
 */

import { DeephavenError, GrpcCode } from "../errors.ts";

/** A row key as accepted by this module: a non-negative integer as `bigint`, or as a safe-integer `number`. */
export type RowKey = bigint | number;

/** The flat range storage of a {@linkcode RowSet}: `[start0, end0, start1, end1, ...]`. */
export type RangeStorage = Float64Array | BigInt64Array;

export const MAX_SAFE = Number.MAX_SAFE_INTEGER;
export const MAX_SAFE_BIG = BigInt(Number.MAX_SAFE_INTEGER);
/** The largest row key, 2^63 - 1. */
export const MAX_ROW_KEY: bigint = 0x7fff_ffff_ffff_ffffn;

export const EMPTY_NUM = new Float64Array(0);

export function invalid(message: string): DeephavenError {
  return new DeephavenError(message, { code: GrpcCode.INVALID_ARGUMENT });
}

export function shiftFailure(detail: string): DeephavenError {
  return new DeephavenError(
    `Applying the row shift failed: ${detail}. The shift data does not fit this row set; if it came from a ` +
      "Barrage message, the message was malformed: please report it together with the Deephaven server version.",
    { code: GrpcCode.DATA_LOSS },
  );
}

/**
 * Checks a key and returns it as a number when it is at most `Number.MAX_SAFE_INTEGER`, else as a bigint.
 * Throws INVALID_ARGUMENT for anything that is not an integer in [0, 2^63 - 1].
 */
export function normalizeKey(key: RowKey, what: string): number | bigint {
  if (typeof key === "number") {
    if (Number.isSafeInteger(key) && key >= 0) return key;
    if (Number.isInteger(key) && key > 0) {
      throw invalid(`${what} ${key} is above 2^53 - 1 and cannot be exact as a number; pass it as a bigint`);
    }
    throw invalid(`${what} ${key} is not a row key; row keys are integers from 0 to 2^63 - 1`);
  }
  if (typeof key === "bigint") {
    if (key < 0n || key > MAX_ROW_KEY) {
      throw invalid(`${what} ${key} is not a row key; row keys are integers from 0 to 2^63 - 1`);
    }
    return key <= MAX_SAFE_BIG ? Number(key) : key;
  }
  throw invalid(`${what} must be a bigint or a number, not ${typeof key}`);
}

/** Converts a query key to a number for a narrow set: -1 when it cannot be a member of one. */
export function probeNumber(key: RowKey): number {
  if (typeof key === "number") return Number.isSafeInteger(key) && key >= 0 ? key : -1;
  if (typeof key === "bigint") return key >= 0n && key <= MAX_SAFE_BIG ? Number(key) : -1;
  return -1;
}

/** Converts a query key to a bigint for a wide set: -1n when it cannot be a member. */
export function probeBig(key: RowKey): bigint {
  if (typeof key === "bigint") return key >= 0n && key <= MAX_ROW_KEY ? key : -1n;
  if (typeof key === "number") return Number.isSafeInteger(key) && key >= 0 ? BigInt(key) : -1n;
  return -1n;
}

export function trimNum(a: Float64Array, len: number): Float64Array {
  return len === a.length ? a : a.slice(0, len);
}

export function trimBig(a: BigInt64Array, len: number): BigInt64Array {
  return len === a.length ? a : a.slice(0, len);
}

export function toBig(data: RangeStorage): BigInt64Array {
  if (data instanceof BigInt64Array) return data;
  const out = new BigInt64Array(data.length);
  for (let i = 0; i < data.length; i++) out[i] = BigInt(data[i]);
  return out;
}

// ---------------------------------------------------------------------------------------------------------
// Searches

/** Largest range index whose start is <= key, or -1. */
export function floorRangeNum(d: Float64Array, key: number): number {
  let lo = 0, hi = (d.length >> 1) - 1, ans = -1;
  while (lo <= hi) {
    const mid = (lo + hi) >>> 1;
    if (d[2 * mid] <= key) {
      ans = mid;
      lo = mid + 1;
    } else hi = mid - 1;
  }
  return ans;
}

/** Largest range index whose start is <= key, or -1. */
export function floorRangeBig(d: BigInt64Array, key: bigint): number {
  let lo = 0, hi = (d.length >> 1) - 1, ans = -1;
  while (lo <= hi) {
    const mid = (lo + hi) >>> 1;
    if (d[2 * mid] <= key) {
      ans = mid;
      lo = mid + 1;
    } else hi = mid - 1;
  }
  return ans;
}

/**
 * Galloping search: the first index `i` in `[from, count)` with `arr[i * stride + offset] >= key`, or `count`.
 * The values at that stride must be non-decreasing. Costs O(log distance) instead of O(distance).
 */
export function gallopNum(
  arr: Float64Array,
  stride: number,
  offset: number,
  from: number,
  count: number,
  key: number,
) {
  if (from >= count || arr[from * stride + offset] >= key) return from;
  let lo = from, step = 1, hi = from + 1;
  while (hi < count && arr[hi * stride + offset] < key) {
    lo = hi;
    step *= 2;
    hi = lo + step;
  }
  if (hi > count) hi = count;
  while (lo + 1 < hi) {
    const mid = (lo + hi) >>> 1;
    if (arr[mid * stride + offset] < key) lo = mid;
    else hi = mid;
  }
  return hi;
}

/** As {@linkcode gallopNum}, over range ends of a wide set: first range index >= from whose end is >= key. */
export function gallopEndBig(d: BigInt64Array, from: number, key: bigint): number {
  const count = d.length >> 1;
  if (from >= count || d[2 * from + 1] >= key) return from;
  let lo = from, step = 1, hi = from + 1;
  while (hi < count && d[2 * hi + 1] < key) {
    lo = hi;
    step *= 2;
    hi = lo + step;
  }
  if (hi > count) hi = count;
  while (lo + 1 < hi) {
    const mid = (lo + hi) >>> 1;
    if (d[2 * mid + 1] < key) lo = mid;
    else hi = mid;
  }
  return hi;
}

// ---------------------------------------------------------------------------------------------------------
// Set algebra on number storage (linear merge walks). Inputs are valid storages; outputs are coalesced.

export function unionNum(a: Float64Array, b: Float64Array): Float64Array {
  const out = new Float64Array(a.length + b.length);
  const na = a.length, nb = b.length;
  let i = 0, j = 0, o = 0;
  while (i < na || j < nb) {
    let s: number, e: number;
    if (j >= nb || (i < na && a[i] <= b[j])) {
      s = a[i];
      e = a[i + 1];
      i += 2;
    } else {
      s = b[j];
      e = b[j + 1];
      j += 2;
    }
    if (o > 0 && s <= out[o - 1] + 1) {
      if (e > out[o - 1]) out[o - 1] = e;
    } else {
      out[o++] = s;
      out[o++] = e;
    }
  }
  return trimNum(out, o);
}

export function intersectNum(a: Float64Array, b: Float64Array): Float64Array {
  const out = new Float64Array(a.length + b.length);
  const na = a.length, nb = b.length;
  let i = 0, j = 0, o = 0;
  while (i < na && j < nb) {
    const as = a[i], ae = a[i + 1], bs = b[j], be = b[j + 1];
    const lo = as > bs ? as : bs;
    const hi = ae < be ? ae : be;
    if (lo <= hi) {
      out[o++] = lo;
      out[o++] = hi;
    }
    if (ae < be) i += 2;
    else j += 2;
  }
  return trimNum(out, o);
}

export function minusNum(a: Float64Array, b: Float64Array): Float64Array {
  const out = new Float64Array(a.length + b.length);
  const na = a.length, nb = b.length;
  let j = 0, o = 0;
  for (let i = 0; i < na; i += 2) {
    let cur = a[i];
    const e = a[i + 1];
    while (j < nb && b[j + 1] < cur) j += 2;
    while (j < nb && b[j] <= e) {
      if (b[j] > cur) {
        out[o++] = cur;
        out[o++] = b[j] - 1;
      }
      if (b[j + 1] >= e) {
        cur = e + 1;
        break;
      }
      cur = b[j + 1] + 1;
      j += 2;
    }
    if (cur <= e) {
      out[o++] = cur;
      out[o++] = e;
    }
  }
  return trimNum(out, o);
}

export function isSubsetNum(a: Float64Array, b: Float64Array): boolean {
  const nb = b.length;
  let j = 0;
  for (let i = 0; i < a.length; i += 2) {
    const s = a[i];
    while (j < nb && b[j + 1] < s) j += 2;
    if (j >= nb || b[j] > s || a[i + 1] > b[j + 1]) return false;
  }
  return true;
}

/**
 * Coordinate compression for wide operands: every range `[s, e]` becomes the half-open boundary pair
 * `(s, e + 1)`; all boundaries of both sets are ranked, and each range is rewritten as `[rank(s), rank(e+1) - 1]`.
 * Order, overlap and adjacency are preserved, so the number algorithms give the compressed answer.
 */
export function compress(
  a: BigInt64Array,
  b: BigInt64Array,
): { ca: Float64Array; cb: Float64Array; points: bigint[] } {
  const ca = new Float64Array(a.length), cb = new Float64Array(b.length);
  const points: bigint[] = [];
  const na = a.length, nb = b.length;
  let i = 0, j = 0;
  while (i < na || j < nb) {
    const va = i < na ? ((i & 1) === 0 ? a[i] : a[i] + 1n) : undefined;
    const vb = j < nb ? ((j & 1) === 0 ? b[j] : b[j] + 1n) : undefined;
    const v = va === undefined ? vb! : vb === undefined ? va : va < vb ? va : vb;
    const rank = points.length;
    points.push(v);
    if (va === v) {
      ca[i] = (i & 1) === 0 ? rank : rank - 1;
      i++;
    }
    if (vb === v) {
      cb[j] = (j & 1) === 0 ? rank : rank - 1;
      j++;
    }
  }
  return { ca, cb, points };
}

export function decompress(r: Float64Array, points: bigint[]): BigInt64Array {
  const out = new BigInt64Array(r.length);
  for (let k = 0; k < r.length; k += 2) {
    out[k] = points[r[k]];
    out[k + 1] = points[r[k + 1] + 1] - 1n;
  }
  return out;
}

// ---------------------------------------------------------------------------------------------------------
// Shift application

/** Number-space shift; returns a failure detail string when the result would not be sorted and disjoint. */
export function shiftNum(
  d: Float64Array,
  S: Float64Array,
  E: Float64Array,
  D: Float64Array,
): Float64Array | string {
  const nr = d.length >> 1, ns = S.length;
  const out = new Float64Array(2 * (nr + 2 * ns));
  let o = 0, j = 0;
  for (let r = 0; r < 2 * nr; r += 2) {
    let cur = d[r];
    const e = d[r + 1];
    while (cur <= e) {
      while (j < ns && E[j] < cur) j++;
      let pe: number, delta: number;
      if (j < ns && S[j] <= cur) {
        pe = E[j] < e ? E[j] : e;
        delta = D[j];
      } else {
        pe = j < ns && S[j] - 1 < e ? S[j] - 1 : e;
        delta = 0;
      }
      const s2 = cur + delta, e2 = pe + delta;
      if (s2 < 0) return `row key ${cur} would move by ${delta} to ${s2}, below 0`;
      if (o > 0) {
        const last = out[o - 1];
        if (s2 <= last) {
          return `row keys ${cur}-${pe} would move by ${delta} to ${s2}-${e2}, onto or before row key ${last} ` +
            "that precedes them";
        }
        if (s2 === last + 1) {
          out[o - 1] = e2;
          cur = pe + 1;
          continue;
        }
      }
      out[o++] = s2;
      out[o++] = e2;
      cur = pe + 1;
    }
  }
  return trimNum(out, o);
}

/** Bigint-space shift; same contract as {@linkcode shiftNum}. */
export function shiftBig(
  d: BigInt64Array,
  S: BigInt64Array,
  E: BigInt64Array,
  D: BigInt64Array,
): BigInt64Array | string {
  const nr = d.length >> 1, ns = S.length;
  const out = new BigInt64Array(2 * (nr + 2 * ns));
  let o = 0, j = 0;
  for (let r = 0; r < 2 * nr; r += 2) {
    let cur = d[r];
    const e = d[r + 1];
    while (cur <= e) {
      while (j < ns && E[j] < cur) j++;
      let pe: bigint, delta: bigint;
      if (j < ns && S[j] <= cur) {
        pe = E[j] < e ? E[j] : e;
        delta = D[j];
      } else {
        pe = j < ns && S[j] - 1n < e ? S[j] - 1n : e;
        delta = 0n;
      }
      const s2 = cur + delta, e2 = pe + delta;
      if (s2 < 0n) return `row key ${cur} would move by ${delta} to ${s2}, below 0`;
      if (e2 > MAX_ROW_KEY) return `row key ${pe} would move by ${delta} to ${e2}, above 2^63 - 1`;
      if (o > 0) {
        const last = out[o - 1];
        if (s2 <= last) {
          return `row keys ${cur}-${pe} would move by ${delta} to ${s2}-${e2}, onto or before row key ${last} ` +
            "that precedes them";
        }
        if (s2 === last + 1n) {
          out[o - 1] = e2;
          cur = pe + 1n;
          continue;
        }
      }
      out[o++] = s2;
      out[o++] = e2;
      cur = pe + 1n;
    }
  }
  return trimBig(out, o);
}

// ---------------------------------------------------------------------------------------------------------
