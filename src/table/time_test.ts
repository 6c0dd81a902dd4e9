import assert from "node:assert/strict";
import { DeephavenError } from "../errors.ts";
import { mulberry32 } from "../../testing/prng.ts";
import { formatLocalDate, formatTimeNanos, Instant, parseLocalDate, parseTimeNanos } from "./time.ts";

/** Temporal's text of an instant with all 9 fraction digits: an independent reference. */
function temporalText(ns: bigint): string {
  return Temporal.Instant.fromEpochNanoseconds(ns).toString({ fractionalSecondDigits: 9 });
}

/** Our text with the fraction padded to 9 digits, to compare with Temporal's. */
function nineDigits(text: string): string {
  return text.replace(/\.(\d+)Z$/, (_, f: string) => `.${f.padEnd(9, "0")}Z`);
}

Deno.test("Instant text keeps every nanosecond, before and after 1970, and reads back exactly", () => {
  const r = mulberry32(15);
  const samples = [
    0n,
    1n,
    -1n,
    999_999n,
    -1_000_000n,
    1_700_000_000_123_456_789n,
    -(2n ** 63n) + 1n,
    2n ** 63n - 1n,
  ];
  for (let i = 0; i < 2000; i++) {
    const hi = BigInt(Math.floor((r() - 0.5) * 2 ** 31));
    samples.push(hi * 2n ** 32n + BigInt(Math.floor(r() * 2 ** 32)));
  }
  for (const ns of samples) {
    const t = new Instant(ns);
    const text = t.toString();
    assert.equal(nineDigits(text), temporalText(ns), `text of ${ns}n`);
    assert.match(text, /\.(\d{3}|\d{6}|\d{9})Z$/, "3, 6 or 9 fraction digits");
    assert.equal(Instant.from(text).epochNanos, ns, `${text} reads back`);
    assert.equal(t.toDate().getTime(), Number(Temporal.Instant.fromEpochNanoseconds(ns).epochMilliseconds));
    assert.equal(t.toTemporal().epochNanoseconds, ns);
    assert.equal(JSON.stringify({ t }), `{"t":"${text}"}`);
  }
  assert.equal(new Instant(-1n).toString(), "1969-12-31T23:59:59.999999999Z");
  assert.equal(new Instant(1_000n).toString(), "1970-01-01T00:00:00.000001Z");
  assert.equal(new Instant(0n).toString(), "1970-01-01T00:00:00.000Z");
});

Deno.test("Instant.from reads ISO text with zones, Dates, epoch nanoseconds and milliseconds; bad input is INVALID_ARGUMENT", () => {
  assert.equal(Instant.from("2023-11-14T23:13:20.123456789+01:00").epochNanos, 1_700_000_000_123_456_789n);
  assert.equal(Instant.from("2023-11-14 22:13:20.1Z").epochNanos, 1_700_000_000_100_000_000n);
  assert.equal(Instant.from("1969-12-31T19:00-05:00").epochNanos, 0n);
  assert.equal(Instant.from("1960-01-01").epochNanos, -315_619_200_000_000_000n);
  assert.equal(Instant.from(new Date(-5)).epochNanos, -5_000_000n);
  assert.equal(Instant.from(-5).epochNanos, -5_000_000n);
  assert.equal(Instant.from(7n).epochNanos, 7n);
  assert.equal(Instant.from(Temporal.Instant.fromEpochNanoseconds(-3n)).epochNanos, -3n);
  for (const bad of ["2024-01-31T10:00:00", "2024-02-30T00:00Z", "yesterday", "2024-01-31T24:00Z"]) {
    assert.throws(
      () => Instant.from(bad),
      (e) => e instanceof DeephavenError && e.codeName === "INVALID_ARGUMENT",
      bad,
    );
  }
  assert.throws(() => Instant.from(new Date(NaN)), DeephavenError);
  assert.throws(() => new Instant(-(2n ** 63n)), /within/);
  assert.throws(() => new Instant(5 as unknown as bigint), /bigint/);
});

Deno.test("Instant compares exactly and has no number value to compare by mistake", () => {
  const a = new Instant(1_700_000_000_000_000_001n), b = new Instant(1_700_000_000_000_000_002n);
  assert.equal(Instant.compare(a, b), -1);
  assert.equal(Instant.compare(b, a), 1);
  assert.equal(Instant.compare(a, "2023-11-14T22:13:20.000000001Z"), 0);
  assert.ok(a.equals(1_700_000_000_000_000_001n) && !a.equals(b));
  assert.equal(a.toDate().getTime(), b.toDate().getTime(), "the same millisecond");
  assert.deepEqual([b, a].sort(Instant.compare), [a, b]);
  // deno-lint-ignore no-explicit-any
  const x = a as any, y = b as any;
  for (const f of [() => x < y, () => x - y, () => x > Date.now(), () => +x, () => x.valueOf()]) {
    assert.throws(f, (e) => e instanceof DeephavenError && /epochNanos/.test(e.message));
  }
  assert.equal(`${a}`, "2023-11-14T22:13:20.000000001Z");
  assert.equal("at " + a, "at 2023-11-14T22:13:20.000000001Z");
  assert.equal(Deno.inspect(a), "Instant(2023-11-14T22:13:20.000000001Z)");
  assert.notDeepStrictEqual(a, b);
  assert.deepStrictEqual(a, new Instant(a.epochNanos));
});

Deno.test("LocalDate text is exact for any day Deephaven can hold, and reads back", () => {
  const r = mulberry32(3);
  for (let i = 0; i < 2000; i++) {
    const days = Math.floor((r() - 0.5) * 2 * 3_000_000);
    const ms = BigInt(days) * 86_400_000n;
    const text = formatLocalDate(ms);
    const plain = Temporal.PlainDate.from("1970-01-01").add({ days }).toString();
    assert.equal(text, plain.replace(/^\+0*(\d{5,})/, "+$1").replace(/^-0*(\d{4,})/, "-$1"), `day ${days}`);
    assert.equal(parseLocalDate(text), ms);
  }
  assert.equal(formatLocalDate(-86_400_000n), "1969-12-31");
  assert.equal(formatLocalDate(parseLocalDate("+12345-01-02")), "+12345-01-02");
  assert.equal(formatLocalDate(parseLocalDate("0001-01-01")), "0001-01-01");
  assert.equal(formatLocalDate(parseLocalDate("-0044-03-15")), "-0044-03-15");
  assert.throws(() => parseLocalDate("2023-02-29"), DeephavenError);
});

Deno.test("LocalTime text keeps nanoseconds and reads back", () => {
  for (
    const [ns, text] of [[0n, "00:00:00"], [1n, "00:00:00.000000001"], [
      86_399_999_999_999n,
      "23:59:59.999999999",
    ]] as const
  ) {
    assert.equal(formatTimeNanos(ns), text);
    assert.equal(parseTimeNanos(text), ns);
  }
  assert.equal(parseTimeNanos("10:30"), 37_800_000_000_000n);
  assert.throws(() => parseTimeNanos("25:00"), DeephavenError);
});
