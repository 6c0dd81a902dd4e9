/**
 * Exact decimal values: BigInteger and BigDecimal bytes as Deephaven sends them (Java's big-endian two's
 * complement, BigDecimal with an int32 scale first) and as Arrow's fixed-width `Decimal` types hold them
 * (little-endian two's complement with the type's scale), to and from `bigint` and plain decimal text.
 *
 * @module
 */

import { DeephavenError } from "../errors.ts";

/** Big-endian two's complement bytes to bigint (Java `BigInteger.toByteArray`). */
export function bigIntFromBytes(b: Uint8Array): bigint {
  if (b.length === 0) return 0n;
  let v = 0n;
  for (const x of b) v = (v << 8n) | BigInt(x);
  if (b[0] & 0x80) v -= 1n << BigInt(b.length * 8);
  return v;
}

/** Java `BigInteger.toByteArray()`: minimal big-endian two's complement. */
export function bigIntToBytes(v: bigint): Uint8Array {
  const bytes: number[] = [];
  let x = v;
  while (true) {
    const b = Number(x & 0xffn);
    bytes.unshift(b);
    x >>= 8n;
    if ((x === 0n && (b & 0x80) === 0) || (x === -1n && (b & 0x80) !== 0)) break;
  }
  return new Uint8Array(bytes);
}

/** Most zeros written out in plain decimal text; beyond that the exponent form is used. */
const MAX_PLAIN_ZEROS = 1000;

/**
 * Formats an unscaled value and scale as decimal text (`1234`, 2 → `"12.34"`). A scale that would need more
 * than 1000 padding zeros gives the exponent form instead (`1234`, -5000 → `"1234E+5000"`), so a damaged
 * scale (any 32-bit value) cannot make a gigabyte string.
 */
export function decimalText(unscaled: bigint, scale: number): string {
  const neg = unscaled < 0n;
  let digits = (neg ? -unscaled : unscaled).toString();
  if (-scale > MAX_PLAIN_ZEROS || scale - digits.length > MAX_PLAIN_ZEROS) {
    return `${neg ? "-" : ""}${digits}E${scale > 0 ? "-" : "+"}${Math.abs(scale)}`;
  }
  let s: string;
  if (scale <= 0) s = digits + "0".repeat(-scale);
  else {
    if (digits.length <= scale) digits = "0".repeat(scale - digits.length + 1) + digits;
    s = `${digits.slice(0, digits.length - scale)}.${digits.slice(digits.length - scale)}`;
  }
  return neg ? `-${s}` : s;
}

const DECIMAL = /^([+-]?)(\d*)(?:\.(\d*))?(?:[eE]([+-]?\d+))?$/;

/**
 * Reads decimal text (`-12.50`, `1E+3`, `.5`) as an unscaled value and a scale (`value = unscaled × 10^-scale`),
 * keeping the digits as written (`"12.50"` → 1250, 2).
 *
 * @param text The decimal text.
 * @returns The unscaled value and the scale.
 */
export function parseDecimal(text: string): { unscaled: bigint; scale: number } {
  const m = text.trim().match(DECIMAL);
  if (!m || (m[2] === "" && (m[3] ?? "") === "")) {
    throw DeephavenError.invalid(
      `Cannot read ${JSON.stringify(text)} as a decimal number; write digits with an optional sign, ` +
        "point and exponent, e.g. -12.50 or 1E+3",
    );
  }
  const frac = m[3] ?? "";
  const unscaled = BigInt(`${m[1] === "-" ? "-" : ""}${m[2] || "0"}${frac}`);
  return { unscaled, scale: frac.length - Number(m[4] ?? 0) };
}

/**
 * Compares two decimal texts by value (`"9"` < `"10"`, `"1.50"` = `"1.5"`): negative, 0 or positive.
 *
 * @param a Decimal text.
 * @param b Decimal text.
 * @returns The order of `a` against `b`.
 */
export function compareDecimalText(a: string, b: string): number {
  const x = parseDecimal(a), y = parseDecimal(b);
  const sx = x.unscaled < 0n ? -1 : x.unscaled > 0n ? 1 : 0;
  const sy = y.unscaled < 0n ? -1 : y.unscaled > 0n ? 1 : 0;
  if (sx !== sy || sx === 0) return sx - sy;
  // The position of the leading digit decides, unless it is the same: then the scales differ by less than
  // the digits, and aligning them is cheap even for a damaged scale.
  const ex = (sx < 0 ? -x.unscaled : x.unscaled).toString().length - x.scale;
  const ey = (sy < 0 ? -y.unscaled : y.unscaled).toString().length - y.scale;
  if (ex !== ey) return ex < ey ? -sx : sx;
  const scale = Math.max(x.scale, y.scale);
  const ux = x.unscaled * 10n ** BigInt(scale - x.scale), uy = y.unscaled * 10n ** BigInt(scale - y.scale);
  return ux < uy ? -1 : ux > uy ? 1 : 0;
}

/**
 * The plain decimal text of a value given as text, a number or a bigint, with its digits as given
 * (`"12.50"` stays `"12.50"`, `1e-7` becomes `"0.0000001"`).
 *
 * @param v Decimal text, a finite number or a bigint.
 * @returns The decimal text.
 */
export function toDecimalText(v: unknown): string {
  if (typeof v === "bigint") return v.toString();
  if (typeof v === "number" && Number.isFinite(v)) {
    const { unscaled, scale } = parseDecimal(String(v));
    return decimalText(unscaled, scale);
  }
  if (typeof v === "string") {
    const { unscaled, scale } = parseDecimal(v);
    return decimalText(unscaled, scale);
  }
  throw DeephavenError.invalid(
    `Cannot read ${
      String(v)
    } as a decimal number; give decimal text (e.g. "12.50"), a finite number or a bigint`,
  );
}

/** Encodes decimal text as Deephaven's BigDecimal bytes: int32-LE scale, then the unscaled BigInteger. */
export function decimalToBytes(text: string): Uint8Array {
  let { unscaled, scale } = parseDecimal(text);
  // Strip trailing zeros as Java's stripTrailingZeros does (the server sends BigDecimals so).
  if (unscaled === 0n) scale = 0;
  else {
    while (unscaled % 10n === 0n) {
      unscaled /= 10n;
      scale--;
    }
  }
  const u = bigIntToBytes(unscaled);
  const out = new Uint8Array(4 + u.length);
  new DataView(out.buffer).setInt32(0, scale, true);
  out.set(u, 4);
  return out;
}

/**
 * The value of an Arrow fixed-width decimal (little-endian two's complement of `bytes.length` bytes) with
 * the type's scale, as decimal text with that many fraction digits (`100`, scale 2 → `"1.00"`).
 *
 * @param bytes The value's bytes (16 for Decimal128, 32 for Decimal256).
 * @param scale The type's scale.
 * @returns The decimal text.
 */
export function fixedDecimalText(bytes: Uint8Array, scale: number): string {
  let v = 0n;
  for (let i = bytes.length - 1; i >= 0; i--) v = (v << 8n) | BigInt(bytes[i]);
  if (bytes.length > 0 && bytes[bytes.length - 1] & 0x80) v -= 1n << BigInt(bytes.length * 8);
  return decimalText(v, scale);
}

/**
 * Writes decimal text into an Arrow fixed-width decimal of a type's scale (little-endian two's complement),
 * refusing values that the type cannot hold exactly.
 *
 * @param text The decimal text.
 * @param scale The type's scale.
 * @param out Where to write (16 or 32 bytes).
 * @param column The column name, for the error message.
 */
export function writeFixedDecimal(text: string, scale: number, out: Uint8Array, column: string): void {
  const d = parseDecimal(text);
  let v = d.unscaled;
  if (d.scale < scale) v *= 10n ** BigInt(scale - d.scale);
  else if (d.scale > scale) {
    const f = 10n ** BigInt(d.scale - scale);
    if (v % f !== 0n) {
      throw DeephavenError.invalid(
        `The value ${text} of column ${JSON.stringify(column)} has more fraction digits than its type ` +
          `(scale ${scale}) holds; round it first`,
      );
    }
    v /= f;
  }
  const bits = BigInt(out.length * 8);
  if (v >= 1n << (bits - 1n) || v < -(1n << (bits - 1n))) {
    throw DeephavenError.invalid(
      `The value ${text} of column ${JSON.stringify(column)} does not fit its ${bits}-bit decimal type`,
    );
  }
  let x = BigInt.asUintN(Number(bits), v);
  for (let i = 0; i < out.length; i++) {
    out[i] = Number(x & 0xffn);
    x >>= 8n;
  }
}
