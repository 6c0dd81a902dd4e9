/**
 * One table of what differs per column kind: the storage (typed array or JS array), the null sentinel,
 * whether the kind is numeric (and integral), how a stored value reads in JS and back, and how two stored
 * values compare. Storage, export, display and local queries look a kind up here instead of switching on
 * it. (Reading values, `ColumnStore.get`, keeps a short inline switch on its hot path.)
 *
 * @module
 */

import type { ColumnKind } from "./column.ts";
import type { GrowableTypedArrayConstructor } from "./grow.ts";
import { DeephavenError } from "../errors.ts";
import { compareDecimalText, toDecimalText } from "./decimal.ts";
import {
  formatLocalDate,
  formatTimeNanos,
  Instant,
  type InstantLike,
  parseLocalDate,
  parseTimeNanos,
} from "./time.ts";

export { formatTimeNanos };

/** Deephaven's null sentinels for fixed-width types (`io.deephaven.util.QueryConstants`). */
export const NULLS = {
  bool: -1,
  int8: -128,
  int16: -32768,
  char: 0xffff,
  int32: -2147483648,
  int64: -(2n ** 63n),
  float32: -3.4028234663852886e38,
  float64: -Number.MAX_VALUE,
} as const;

/** What differs per column kind. */
export interface KindOps {
  /** The typed array of a fixed-width kind; `undefined` when values are kept in a JS array. */
  readonly typed: GrowableTypedArrayConstructor | undefined;
  /** The raw value that stands for null in a fixed-width kind (`undefined`: JS `null`). */
  readonly nullSentinel: number | bigint | undefined;
  /** Numbers that sums and averages apply to. */
  readonly numeric: boolean;
  /** Integral numbers (sums stay exact integers). */
  readonly integer: boolean;
  /** Shown as a number (right-aligned) in tables: the numeric kinds but char, and BigInteger. */
  readonly shownAsNumber: boolean;
  /** The JS value of a raw stored value (what `LocalTable.get` returns). */
  toJs(v: unknown): unknown;
  /** The raw stored value of a JS value (the inverse of `toJs`). */
  toRaw(v: unknown): unknown;
  /** Compares two raw values: nulls first, NaN last. */
  compare(a: unknown, b: unknown): number;
}

function comparer(
  sentinel: number | bigint | undefined,
  byValue?: (a: unknown, b: unknown) => number,
): (a: unknown, b: unknown) => number {
  return (a, b) => {
    const an = a === null || a === undefined || (sentinel !== undefined && a === sentinel);
    const bn = b === null || b === undefined || (sentinel !== undefined && b === sentinel);
    if (an || bn) return an && bn ? 0 : an ? -1 : 1;
    if (byValue) return byValue(a, b);
    if (typeof a === "number" && typeof b === "number") {
      if (Number.isNaN(a) || Number.isNaN(b)) return Number.isNaN(a) ? (Number.isNaN(b) ? 0 : 1) : -1;
    }
    // deno-lint-ignore no-explicit-any
    const x = a as any, y = b as any;
    return x < y ? -1 : x > y ? 1 : 0;
  };
}

interface KindSpec {
  typed?: GrowableTypedArrayConstructor;
  nullSentinel?: number | bigint;
  numeric?: boolean;
  integer?: boolean;
  shownAsNumber?: boolean;
  toJs?: (v: unknown) => unknown;
  toRaw?: (v: unknown) => unknown;
  /** Orders two non-null raw values when `<` on them does not (decimal text). */
  compare?: (a: unknown, b: unknown) => number;
}

function kind(spec: KindSpec): KindOps {
  const s = spec.nullSentinel;
  const read = spec.toJs ?? ((v: unknown) => v);
  const write = spec.toRaw ?? ((v: unknown) => v);
  return {
    typed: spec.typed,
    nullSentinel: s,
    numeric: spec.numeric ?? false,
    integer: spec.integer ?? false,
    shownAsNumber: spec.shownAsNumber ?? spec.numeric ?? false,
    toJs: (v) => (v === null || v === undefined || (s !== undefined && v === s) ? null : read(v)),
    toRaw: (v) => (v === null || v === undefined ? (s ?? null) : write(v)),
    compare: comparer(s, spec.compare),
  };
}

const toNumber = (v: unknown) => Number(v);
const toLong = (v: unknown) => (typeof v === "bigint" ? v : BigInt(Math.trunc(Number(v))));

/** A char's UTF-16 code from a one-character string (what a char reads as) or a code number. */
function charCode(v: unknown): number {
  if (typeof v === "string" && v.length === 1 && v !== "\uffff") return v.charCodeAt(0);
  if (typeof v === "number" && Number.isInteger(v) && v >= 0 && v < 0xffff) return v;
  throw DeephavenError.invalid(
    `Cannot store ${JSON.stringify(v)} in a char column; give a one-character string (not "\\uffff", ` +
      "which Deephaven uses for null)",
  );
}

/** A BigInteger from a bigint, a whole number or integer text. */
function bigInteger(v: unknown): bigint {
  if (typeof v === "bigint") return v;
  if (
    (typeof v === "number" && Number.isSafeInteger(v)) ||
    (typeof v === "string" && /^\s*[+-]?\d+\s*$/.test(v))
  ) {
    return BigInt(typeof v === "string" ? v.trim().replace(/^\+/, "") : v);
  }
  throw DeephavenError.invalid(
    `Cannot store ${String(v)} in a BigInteger column; give a bigint, a safe whole number or integer text`,
  );
}

/** The operations of every column kind. */
export const KINDS: Readonly<Record<ColumnKind, KindOps>> = {
  bool: kind({
    typed: Int8Array,
    nullSentinel: NULLS.bool,
    toJs: (v) => v === 1,
    toRaw: (v) => (v ? 1 : 0),
  }),
  int8: kind({ typed: Int8Array, nullSentinel: NULLS.int8, numeric: true, integer: true, toRaw: toNumber }),
  int16: kind({
    typed: Int16Array,
    nullSentinel: NULLS.int16,
    numeric: true,
    integer: true,
    toRaw: toNumber,
  }),
  char: kind({
    typed: Uint16Array,
    nullSentinel: NULLS.char,
    numeric: true,
    integer: true,
    shownAsNumber: false,
    toJs: (v) => String.fromCharCode(v as number),
    toRaw: charCode,
  }),
  int32: kind({
    typed: Int32Array,
    nullSentinel: NULLS.int32,
    numeric: true,
    integer: true,
    toRaw: toNumber,
  }),
  int64: kind({
    typed: BigInt64Array,
    nullSentinel: NULLS.int64,
    numeric: true,
    integer: true,
    toRaw: toLong,
  }),
  float32: kind({
    typed: Float32Array,
    nullSentinel: Math.fround(NULLS.float32),
    numeric: true,
    toRaw: toNumber,
  }),
  float64: kind({ typed: Float64Array, nullSentinel: NULLS.float64, numeric: true, toRaw: toNumber }),
  timestamp: kind({
    typed: BigInt64Array,
    nullSentinel: NULLS.int64,
    toJs: (v) => new Instant(v as bigint),
    toRaw: (v) => Instant.from(v as InstantLike).epochNanos,
  }),
  date: kind({
    typed: BigInt64Array,
    nullSentinel: NULLS.int64,
    toJs: (v) => formatLocalDate(v as bigint),
    toRaw: (v) =>
      v instanceof Date
        ? BigInt(Math.floor(v.getTime() / 86_400_000)) * 86_400_000n
        : parseLocalDate(String(v)),
  }),
  time: kind({
    typed: BigInt64Array,
    nullSentinel: NULLS.int64,
    toJs: (v) => formatTimeNanos(v as bigint),
    toRaw: (v) => (typeof v === "bigint" ? v : parseTimeNanos(String(v))),
  }),
  duration: kind({ typed: BigInt64Array, nullSentinel: NULLS.int64, toRaw: toLong }),
  string: kind({ toRaw: (v) => String(v) }),
  bigint: kind({ shownAsNumber: true, toRaw: bigInteger }),
  decimal: kind({
    toRaw: toDecimalText,
    compare: (a, b) => compareDecimalText(a as string, b as string),
  }),
  binary: kind({}),
  list: kind({}),
  other: kind({}),
};
