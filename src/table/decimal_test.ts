import assert from "node:assert/strict";
import { DeephavenError } from "../errors.ts";
import { mulberry32 } from "../../testing/prng.ts";
import {
  bigIntFromBytes,
  compareDecimalText,
  decimalText,
  decimalToBytes,
  fixedDecimalText,
  parseDecimal,
  toDecimalText,
  writeFixedDecimal,
} from "./decimal.ts";

Deno.test("decimal text reads back to the same unscaled value and scale, and orders by value", () => {
  const r = mulberry32(11);
  const values: { unscaled: bigint; scale: number }[] = [];
  for (let i = 0; i < 500; i++) {
    const digits = BigInt(Math.floor(r() * 1e12)) * BigInt(Math.floor(r() * 1e9));
    values.push({ unscaled: r() < 0.5 ? -digits : digits, scale: Math.floor(r() * 40) - 20 });
  }
  for (const v of values) {
    const text = decimalText(v.unscaled, v.scale);
    const back = parseDecimal(text);
    // Equal by value: unscaled × 10^-scale.
    assert.equal(compareDecimalText(text, decimalText(back.unscaled, back.scale)), 0, text);
    const bytes = decimalToBytes(text);
    const scale = new DataView(bytes.buffer).getInt32(0, true);
    assert.equal(compareDecimalText(decimalText(bigIntFromBytes(bytes.subarray(4)), scale), text), 0);
  }
  // The order by value equals the order of exact rationals (compared with a common scale).
  const exact = (v: { unscaled: bigint; scale: number }) => v.unscaled * 10n ** BigInt(40 - v.scale);
  for (let i = 1; i < values.length; i++) {
    const a = values[i - 1], b = values[i];
    const want = exact(a) < exact(b) ? -1 : exact(a) > exact(b) ? 1 : 0;
    assert.equal(
      Math.sign(compareDecimalText(decimalText(a.unscaled, a.scale), decimalText(b.unscaled, b.scale))),
      want,
    );
  }
  assert.ok(compareDecimalText("9", "10") < 0 && compareDecimalText("-9", "-10") > 0);
  assert.equal(compareDecimalText("1.50", "1.5"), 0);
  assert.ok(compareDecimalText("1234E+2147483647", "1E+2147483647") > 0, "damaged scales compare cheaply");
});

Deno.test("fixed-width decimals keep their type's scale and refuse what they cannot hold", () => {
  const out = new Uint8Array(16);
  writeFixedDecimal("-12.5", 3, out, "D");
  assert.equal(fixedDecimalText(out, 3), "-12.500");
  writeFixedDecimal("1E+3", 0, out, "D");
  assert.equal(fixedDecimalText(out, 0), "1000");
  assert.throws(() => writeFixedDecimal("0.001", 2, out, "D"), /more fraction digits/);
  assert.throws(() => writeFixedDecimal("1E+40", 0, out, "D"), /does not fit its 128-bit/);
  assert.equal(toDecimalText(1e-7), "0.0000001");
  assert.equal(toDecimalText("-0012.50"), "-12.50");
  assert.equal(toDecimalText(5n), "5");
  assert.throws(() => toDecimalText("1.2.3"), DeephavenError);
  assert.throws(() => toDecimalText(NaN), DeephavenError);
});
