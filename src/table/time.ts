/**
 * Exact time values: {@linkcode Instant} (what a Deephaven `Instant` or `ZonedDateTime` column reads as:
 * nanoseconds since the epoch, never rounded to a millisecond `Date`), and the ISO text of `LocalDate`
 * and `LocalTime` values, all without going through `Date`, so pre-1970 values and nanoseconds stay exact.
 *
 * @module
 */

import { DeephavenError } from "../errors.ts";

const NS_PER_MS = 1_000_000n;
const NS_PER_S = 1_000_000_000n;
const NS_PER_DAY = 86_400n * NS_PER_S;
const MS_PER_DAY = 86_400_000n;
/** Deephaven keeps instants as signed 64-bit nanoseconds; the lowest value stands for null. */
const MIN_NANOS = -(2n ** 63n) + 1n;
const MAX_NANOS = 2n ** 63n - 1n;

/** Anything {@linkcode Instant.from} reads as an instant. */
export type InstantLike = Instant | Date | bigint | number | string | Temporal.Instant;

function noNumber(): DeephavenError {
  return DeephavenError.invalid(
    "An Instant has no number value, so that no comparison silently drops its nanoseconds; compare " +
      "a.epochNanos with b.epochNanos, or use Instant.compare(a, b), a.equals(b) or a.toDate()",
  );
}

/** `a` divided by `b`, rounded down (toward negative infinity). */
function floorDiv(a: bigint, b: bigint): bigint {
  const q = a / b;
  return a % b !== 0n && (a < 0n) !== (b < 0n) ? q - 1n : q;
}

/** Days since 1970-01-01 of a proleptic Gregorian date (month 1-12). */
export function daysFromCivil(year: number, month: number, day: number): number {
  const y = month <= 2 ? year - 1 : year;
  const era = Math.floor(y / 400);
  const yoe = y - era * 400;
  const doy = Math.floor((153 * (month + (month > 2 ? -3 : 9)) + 2) / 5) + day - 1;
  const doe = yoe * 365 + Math.floor(yoe / 4) - Math.floor(yoe / 100) + doy;
  return era * 146097 + doe - 719468;
}

/** The proleptic Gregorian `[year, month, day]` of a day number (days since 1970-01-01). */
export function civilFromDays(days: number): [number, number, number] {
  const z = days + 719468;
  const era = Math.floor(z / 146097);
  const doe = z - era * 146097;
  const yoe = Math.floor(
    (doe - Math.floor(doe / 1460) + Math.floor(doe / 36524) - Math.floor(doe / 146096)) / 365,
  );
  const doy = doe - (365 * yoe + Math.floor(yoe / 4) - Math.floor(yoe / 100));
  const mp = Math.floor((5 * doy + 2) / 153);
  const day = doy - Math.floor((153 * mp + 2) / 5) + 1;
  const month = mp < 10 ? mp + 3 : mp - 9;
  return [yoe + era * 400 + (month <= 2 ? 1 : 0), month, day];
}

const pad = (n: number, width = 2) => String(n).padStart(width, "0");

/** A year as ISO 8601 and Java's `LocalDate.toString` write it: `0005`, `-0005`, `2024`, `+12345`. */
function isoYear(y: number): string {
  if (Math.abs(y) < 10000) return (y < 0 ? "-" : "") + pad(Math.abs(y), 4);
  return (y < 0 ? "-" : "+") + String(Math.abs(y));
}

/** `YYYY-MM-DD` of a day number. */
function isoDate(days: number): string {
  const [y, m, d] = civilFromDays(days);
  return `${isoYear(y)}-${pad(m)}-${pad(d)}`;
}

/**
 * The ISO text of a `LocalDate` stored as milliseconds since the epoch (Deephaven's `date64`): `2024-01-10`,
 * `1901-12-13`, `+12345-01-02` (as Java's `LocalDate.toString`).
 *
 * @param epochMillis Milliseconds since 1970-01-01 (at midnight).
 * @returns The date text.
 */
export function formatLocalDate(epochMillis: bigint): string {
  return isoDate(Number(floorDiv(epochMillis, MS_PER_DAY)));
}

const DATE = /^([+-]\d{4,9}|\d{4})-(\d{2})-(\d{2})$/;

function parseDate(text: string, what: string): number {
  const m = text.match(DATE);
  const y = m ? Number(m[1]) : NaN, mo = m ? Number(m[2]) : NaN, d = m ? Number(m[3]) : NaN;
  const days = daysFromCivil(y, mo, d);
  if (!m || mo < 1 || mo > 12 || d < 1 || civilFromDays(days)[2] !== d) {
    throw DeephavenError.invalid(
      `Cannot read ${JSON.stringify(text)} as ${what}; write YYYY-MM-DD, e.g. 2024-01-31`,
    );
  }
  return days;
}

/**
 * Reads ISO date text (`2024-01-31`, `-0044-03-15`, `+12345-01-02`) as Deephaven stores a `LocalDate`:
 * milliseconds since the epoch at midnight.
 *
 * @param text The date.
 * @returns Milliseconds since 1970-01-01.
 */
export function parseLocalDate(text: string): bigint {
  return BigInt(parseDate(text, "a date")) * MS_PER_DAY;
}

/**
 * Formats nanoseconds since midnight as `HH:MM:SS[.fraction]` (the fraction without trailing zeros).
 *
 * @param ns Nanoseconds since midnight.
 * @returns The time text.
 */
export function formatTimeNanos(ns: bigint): string {
  const total = Number(ns / NS_PER_S);
  const frac = Number(ns % NS_PER_S);
  const h = Math.floor(total / 3600), m = Math.floor((total % 3600) / 60), s = total % 60;
  const base = `${pad(h)}:${pad(m)}:${pad(s)}`;
  return frac ? `${base}.${pad(frac, 9).replace(/0+$/, "")}` : base;
}

const TIME = /^(\d{2}):(\d{2})(?::(\d{2})(?:[.,](\d{1,9}))?)?$/;

function parseClock(text: string, what: string): bigint {
  const m = text.match(TIME);
  const h = m ? Number(m[1]) : NaN, mi = m ? Number(m[2]) : NaN, s = m ? Number(m[3] ?? 0) : NaN;
  if (!m || h > 23 || mi > 59 || s > 59) {
    throw DeephavenError.invalid(
      `Cannot read ${JSON.stringify(text)} as ${what}; write HH:MM, HH:MM:SS or HH:MM:SS.fffffffff`,
    );
  }
  return BigInt((h * 60 + mi) * 60 + s) * NS_PER_S + BigInt((m[4] ?? "").padEnd(9, "0"));
}

/**
 * Reads a time of day (`10:30`, `10:30:15`, `10:30:15.123456789`) as nanoseconds since midnight, as
 * Deephaven stores a `LocalTime`.
 *
 * @param text The time.
 * @returns Nanoseconds since midnight.
 */
export function parseTimeNanos(text: string): bigint {
  return parseClock(text, "a time of day");
}

/** ISO 8601 text of an instant: 3, 6 or 9 fraction digits, as many as the value needs. */
function formatInstant(ns: bigint): string {
  const sub = Number(((ns % NS_PER_S) + NS_PER_S) % NS_PER_S);
  const secs = floorDiv(ns, NS_PER_S);
  const days = Number(floorDiv(secs, 86_400n));
  const sod = Number(secs - BigInt(days) * 86_400n);
  const digits = pad(sub, 9);
  const frac = digits.endsWith("000000")
    ? digits.slice(0, 3)
    : digits.endsWith("000")
    ? digits.slice(0, 6)
    : digits;
  return `${isoDate(days)}T${pad(Math.floor(sod / 3600))}:${pad(Math.floor(sod / 60) % 60)}:${
    pad(sod % 60)
  }.${frac}Z`;
}

const INSTANT =
  /^([+-]?\d{4,9}-\d{2}-\d{2})(?:[T ](\d{2}:\d{2}(?::\d{2}(?:[.,]\d{1,9})?)?))?\s*(Z|UTC|[+-]\d{2}:?\d{2})?$/i;

function parseInstant(text: string): bigint {
  const m = text.trim().match(INSTANT);
  if (!m || (m[2] !== undefined && m[3] === undefined)) {
    throw DeephavenError.invalid(
      `Cannot read ${JSON.stringify(text)} as an instant; write ISO 8601 with a zone, ` +
        "e.g. 2024-01-31T09:30:00.123456789Z or 2024-01-31T10:30:00+01:00 (a date alone is midnight UTC)",
    );
  }
  const days = parseDate(m[1], "an instant's date");
  const clock = m[2] === undefined ? 0n : parseClock(m[2], "an instant's time");
  let offset = 0n;
  const zone = m[3]?.toUpperCase();
  if (zone !== undefined && zone !== "Z" && zone !== "UTC") {
    const z = zone.replace(":", "");
    const minutes = Number(z.slice(1, 3)) * 60 + Number(z.slice(3, 5));
    offset = BigInt(z[0] === "-" ? -minutes : minutes) * 60n * NS_PER_S;
  }
  return BigInt(days) * NS_PER_DAY + clock - offset;
}

/**
 * A point in time with nanosecond precision: what an `Instant` (or `ZonedDateTime`) column of a Deephaven
 * table reads as. It keeps the exact epoch nanoseconds the server sent (`epochNanos`), so values before 1970
 * and below a millisecond are exact; `toDate()` gives a `Date` (rounded down to the millisecond) where one is
 * needed, and `toString()` (and `toJSON()`) the ISO 8601 text in UTC with 3, 6 or 9 fraction digits, as
 * many as the value needs (as Java's `Instant.toString`).
 *
 * An `Instant` is immutable. It has no number value: `<`, `>` or `-` on it throw rather than compare
 * milliseconds (as a `Date` would) or mix nanoseconds with the milliseconds of a `Date` or `Date.now()`.
 * Compare `a.epochNanos` with `b.epochNanos` (bigints), or use {@linkcode Instant.compare} and
 * {@linkcode Instant.equals}, which also take a `Date`, ISO text or epoch nanoseconds. In text (`${t}`,
 * `"at " + t`) it is its ISO text.
 *
 * @example Reading and comparing instants
 * ```ts
 * import { Instant } from "./time.ts";
 *
 * const t = new Instant(1_700_000_000_123_456_789n);
 * console.assert(t.toString() === "2023-11-14T22:13:20.123456789Z");
 * console.assert(t.toDate().getTime() === 1_700_000_000_123);
 * console.assert(new Instant(-1n).toString() === "1969-12-31T23:59:59.999999999Z");
 * console.assert(Instant.compare(t, "2023-11-14T22:13:20.123456788Z") > 0);
 * console.assert(t.equals(Instant.from("2023-11-14T23:13:20.123456789+01:00")));
 * console.assert(t.epochNanos - new Instant(1_700_000_000_000_000_000n).epochNanos === 123_456_789n);
 * ```
 */
export class Instant {
  /** Nanoseconds since 1970-01-01T00:00:00Z (negative before). */
  readonly epochNanos: bigint;

  /**
   * An instant of a number of nanoseconds since the epoch (`Instant.from` takes other forms).
   *
   * @param epochNanos Nanoseconds since the epoch, within Deephaven's range (a signed 64-bit value other
   *   than its lowest, which Deephaven uses for null).
   */
  constructor(epochNanos: bigint) {
    if (typeof epochNanos !== "bigint" || epochNanos < MIN_NANOS || epochNanos > MAX_NANOS) {
      throw DeephavenError.invalid(
        `An Instant needs a bigint of nanoseconds since the epoch within ±(2^63 - 1), got ${
          typeof epochNanos === "bigint" ? `${epochNanos}n` : String(epochNanos)
        }; use Instant.from() for a Date, ISO text or epoch milliseconds`,
      );
    }
    this.epochNanos = epochNanos;
  }

  /**
   * An instant from another form: an `Instant` (returned as it is), a `Date`, a `Temporal.Instant`, a
   * `bigint` of epoch nanoseconds, a `number` of epoch milliseconds (as `new Date(n)`), or ISO 8601 text
   * with a zone (`2024-01-31T09:30:00.123456789Z`, `...+01:00`; a date alone is midnight UTC).
   *
   * @example Usage
   * ```ts
   * import { Instant } from "./time.ts";
   * console.assert(Instant.from("1969-12-31T23:59:59.999999999Z").epochNanos === -1n);
   * console.assert(Instant.from(new Date(5)).epochNanos === 5_000_000n);
   * ```
   *
   * @param value The value.
   * @returns The instant.
   */
  static from(value: InstantLike): Instant {
    if (value instanceof Instant) return value;
    if (typeof value === "bigint") return new Instant(value);
    if (typeof value === "string") return new Instant(parseInstant(value));
    if (typeof Temporal !== "undefined" && value instanceof Temporal.Instant) {
      return new Instant(value.epochNanoseconds);
    }
    const ms = value instanceof Date ? value.getTime() : value;
    if (typeof ms !== "number" || !Number.isFinite(ms)) {
      throw DeephavenError.invalid(
        `Cannot read ${String(value)} as an instant; pass an Instant, a valid Date, ISO text, ` +
          "a bigint of epoch nanoseconds or a number of epoch milliseconds",
      );
    }
    // Fractions of a millisecond (a number from performance.timeOrigin, say) are kept to the nanosecond.
    const whole = Math.floor(ms);
    return new Instant(BigInt(whole) * NS_PER_MS + BigInt(Math.round((ms - whole) * 1e6)));
  }

  /**
   * Compares two instants (either may be anything {@linkcode Instant.from} reads): negative when `a` is
   * earlier, positive when later, 0 when equal. Suits `Array.prototype.sort`.
   *
   * @example Usage
   * ```ts
   * import { Instant } from "./time.ts";
   * const sorted = [new Instant(2n), new Instant(-5n)].sort(Instant.compare);
   * console.assert(sorted[0].epochNanos === -5n);
   * ```
   *
   * @param a An instant.
   * @param b Another instant.
   * @returns -1, 0 or 1.
   */
  static compare(a: InstantLike, b: InstantLike): number {
    const x = Instant.from(a).epochNanos, y = Instant.from(b).epochNanos;
    return x < y ? -1 : x > y ? 1 : 0;
  }

  /** Milliseconds since the epoch, rounded down (what `toDate().getTime()` gives). */
  get epochMillis(): number {
    return Number(floorDiv(this.epochNanos, NS_PER_MS));
  }

  /**
   * Whether `other` is the same instant, to the nanosecond.
   *
   * @param other An instant, or anything {@linkcode Instant.from} reads.
   * @returns `true` when equal.
   */
  equals(other: InstantLike): boolean {
    return Instant.from(other).epochNanos === this.epochNanos;
  }

  /** A `Date` of this instant, rounded down to the millisecond. */
  toDate(): Date {
    return new Date(this.epochMillis);
  }

  /** The same instant as a `Temporal.Instant` (exact). */
  toTemporal(): Temporal.Instant {
    return Temporal.Instant.fromEpochNanoseconds(this.epochNanos);
  }

  /** ISO 8601 text in UTC with 3, 6 or 9 fraction digits: `2023-11-14T22:13:20.123456789Z`. */
  toString(): string {
    return formatInstant(this.epochNanos);
  }

  /** The ISO text, as `JSON.stringify` writes it. */
  toJSON(): string {
    return this.toString();
  }

  /** Throws: an instant has no number value (see the class documentation). */
  valueOf(): never {
    throw noNumber();
  }

  /** The ISO text for string contexts; throws for number contexts (`<`, `-`). */
  [Symbol.toPrimitive](hint: string): string {
    if (hint === "number") throw noNumber();
    return this.toString();
  }

  /** Shows `Instant(2023-11-14T22:13:20.123456789Z)` in `Deno.inspect`. */
  [Symbol.for("Deno.customInspect")](): string {
    return `Instant(${this.toString()})`;
  }
}
