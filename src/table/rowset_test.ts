import assert from "node:assert/strict";
import { DeephavenError, GrpcCode } from "../errors.ts";
import { MAX_ROW_KEY, RowSet, RowSetBuilder, ShiftData } from "./rowset.ts";
import { mulberry32 } from "../../testing/prng.ts";

function int(rng: () => number, n: number): number {
  return Math.floor(rng() * n);
}

function assertDhError(fn: () => unknown, code: number, pattern?: RegExp): void {
  assert.throws(fn, (e: unknown) => {
    assert.ok(e instanceof DeephavenError, `expected DeephavenError, got ${e}`);
    assert.equal(e.code, code, `code of: ${e.message}`);
    if (pattern) assert.match(e.message, pattern);
    return true;
  });
}

// ------------------------------------------------------------------------------------------------
// Naive reference: a sorted array of distinct bigint keys.

function keysOf(rs: RowSet): bigint[] {
  return [...rs.keys()];
}

function naiveSet(keys: Iterable<bigint>): bigint[] {
  return [...new Set(keys)].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
}

function naiveRanges(keys: bigint[]): Array<[bigint, bigint]> {
  const out: Array<[bigint, bigint]> = [];
  for (const k of keys) {
    const last = out[out.length - 1];
    if (last && last[1] + 1n === k) last[1] = k;
    else out.push([k, k]);
  }
  return out;
}

function positionRangesNaive(keys: number[]): number[] {
  const out: number[] = [];
  for (const p of keys) {
    if (out.length > 0 && out[out.length - 1] + 1 === p) out[out.length - 1] = p;
    else out.push(p, p);
  }
  return out;
}

/** Random small key set: `base + [0, span)` with clustered runs, so ranges, gaps and single keys all occur. */
function randomKeys(rng: () => number, base: bigint, span: number): bigint[] {
  const out: bigint[] = [];
  const density = rng();
  let k = int(rng, 5);
  while (k < span) {
    if (rng() < density) {
      const run = 1 + int(rng, 8);
      for (let i = 0; i < run && k < span; i++, k++) out.push(base + BigInt(k));
    }
    k += 1 + int(rng, 6);
  }
  return out;
}

const BASES: Array<[string, bigint]> = [
  ["zero", 0n],
  ["2^31", 2n ** 31n - 100n],
  ["straddling 2^53", 2n ** 53n - 150n],
  ["2^62", 2n ** 62n],
  ["near 2^63-1", MAX_ROW_KEY - 400n],
];

// ------------------------------------------------------------------------------------------------

Deno.test("RowSet: construction and basic queries", () => {
  assert.equal(RowSet.EMPTY.size, 0);
  assert.equal(RowSet.EMPTY.isEmpty, true);
  assert.equal(RowSet.EMPTY.first(), undefined);
  assert.equal(RowSet.EMPTY.last(), undefined);
  assert.equal(RowSet.EMPTY.toString(), "{}");

  const rs = RowSet.fromRanges([[20, 29], [0, 9], [12n, 12n], [5, 7]]);
  assert.equal(rs.toString(), "{0-9,12,20-29}");
  assert.equal(rs.size, 21);
  assert.equal(rs.rangeCount, 3);
  assert.equal(rs.rangeStart(1), 12n);
  assert.equal(rs.rangeEnd(2), 29n);
  assert.deepEqual([...rs.ranges()], [[0n, 9n], [12n, 12n], [20n, 29n]]);
  assert.equal(rs.first(), 0n);
  assert.equal(rs.last(), 29n);
  assert.equal(rs.has(12), true);
  assert.equal(rs.has(13n), false);
  assert.equal(rs.has(-1), false);
  assert.equal(rs.has(1.5), false);
  assert.equal(rs.keyAt(10), 12n);
  assert.equal(rs.keyAt(11), 20n);
  assert.equal(rs.positionOf(20n), 11);
  assert.equal(rs.positionOf(13), -1);
  assert.equal(rs.positionOf(2n ** 62n), -1);
  assertDhError(() => rs.keyAt(21), GrpcCode.OUT_OF_RANGE);
  assertDhError(() => rs.keyAt(-1), GrpcCode.OUT_OF_RANGE);
  assertDhError(() => rs.rangeStart(3), GrpcCode.OUT_OF_RANGE);
  assert.match(Deno.inspect(rs), /RowSet\(size 21, 3 ranges\) \{0-9,12,20-29\}/);

  // Touching and overlapping input ranges coalesce.
  assert.equal(RowSet.fromRanges([[0, 4], [5, 9], [3, 6]]).toString(), "{0-9}");
  assert.equal(RowSet.fromKeys([5, 3, 4, 4, 10n, 0]).toString(), "{0,3-5,10}");
  assert.equal(RowSet.range(7, 7).toString(), "{7}");
  assert.ok(RowSet.fromKeys([]).equals(RowSet.EMPTY));
  assert.ok(RowSet.fromRanges([]).equals(RowSet.EMPTY));
});

Deno.test("RowSet: invalid keys are rejected with INVALID_ARGUMENT", () => {
  assertDhError(() => RowSet.range(5, 4), GrpcCode.INVALID_ARGUMENT, /ends before it starts/);
  assertDhError(() => RowSet.fromKeys([-1]), GrpcCode.INVALID_ARGUMENT, /not a row key/);
  assertDhError(() => RowSet.fromKeys([1.5]), GrpcCode.INVALID_ARGUMENT);
  assertDhError(() => RowSet.fromKeys([2 ** 60]), GrpcCode.INVALID_ARGUMENT, /pass it as a bigint/);
  assertDhError(() => RowSet.fromKeys([2n ** 63n]), GrpcCode.INVALID_ARGUMENT);
  assertDhError(() => RowSet.fromRanges([[0, 2n ** 64n]]), GrpcCode.INVALID_ARGUMENT);
});

Deno.test("RowSetBuilder: appends, merges adjacent ranges, rejects disorder, switches to bigint", () => {
  const b = new RowSetBuilder(1);
  for (let i = 0; i < 100; i++) b.appendRange(i * 10, i * 10 + 4);
  b.appendRange(995, 999); // adjacent to [990, 994]
  assert.equal(b.rangeCount, 100);
  const rs = b.build();
  assert.equal(rs.size, 505);
  assert.equal(rs.rangeEnd(99), 999n);
  assert.equal(b.rangeCount, 0, "build resets the builder");

  assertDhError(
    () => new RowSetBuilder().appendRange(10, 20).appendKey(20),
    GrpcCode.INVALID_ARGUMENT,
    /increasing/,
  );
  assertDhError(() => new RowSetBuilder().appendRange(10, 20).appendKey(3n), GrpcCode.INVALID_ARGUMENT);

  const big = 2n ** 60n;
  const w = new RowSetBuilder().appendRange(0, 9).appendRange(2 ** 53 - 1, 2 ** 53 - 1).appendKey(2n ** 53n)
    .appendRange(big, big + 5n).appendRange(big + 6n, big + 9n).build();
  assert.equal(w.toString(), `{0-9,9007199254740991-9007199254740992,${big}-${big + 9n}}`);
  assert.equal(w.size, 22);
  assert.equal(w.flatRanges() instanceof BigInt64Array, true);
  assert.equal(RowSet.range(0, 2 ** 53 - 1).flatRanges() instanceof Float64Array, true);
});

Deno.test("RowSet: size beyond 2^53 - 1 throws OUT_OF_RANGE, ranges still work", () => {
  const huge = RowSet.range(0n, MAX_ROW_KEY);
  assertDhError(() => huge.size, GrpcCode.OUT_OF_RANGE, /more than 2\^53 - 1/);
  assert.equal(huge.rangeCount, 1);
  assert.equal(huge.has(MAX_ROW_KEY), true);
  assert.equal(huge.last(), MAX_ROW_KEY);
  assert.match(Deno.inspect(huge), /size > 2\^53/);
  const justFits = RowSet.range(2n ** 62n, 2n ** 62n + BigInt(Number.MAX_SAFE_INTEGER) - 1n);
  assert.equal(justFits.size, Number.MAX_SAFE_INTEGER);
  assert.equal(justFits.keyAt(Number.MAX_SAFE_INTEGER - 1), 2n ** 62n + BigInt(Number.MAX_SAFE_INTEGER) - 1n);
});

Deno.test("RowSet: wide sets keep exact keys near 2^63 - 1", () => {
  const rs = RowSet.fromKeys([MAX_ROW_KEY, MAX_ROW_KEY - 1n, MAX_ROW_KEY - 3n, 7]);
  assert.equal(rs.toString(), `{7,${MAX_ROW_KEY - 3n},${MAX_ROW_KEY - 1n}-${MAX_ROW_KEY}}`);
  assert.equal(rs.keyAt(3), MAX_ROW_KEY);
  assert.equal(rs.positionOf(MAX_ROW_KEY - 1n), 2);
  assert.equal(rs.positionOf(MAX_ROW_KEY - 2n), -1);
  // Removing the wide part gives a narrow set that equals one built directly.
  const narrow = rs.minus(RowSet.range(2n ** 53n, MAX_ROW_KEY));
  assert.ok(narrow.equals(RowSet.fromKeys([7])));
  assert.equal(narrow.flatRanges() instanceof Float64Array, true);
});

for (const [name, base] of BASES) {
  Deno.test(`RowSet: set algebra and positions match a naive model (${name})`, () => {
    const rng = mulberry32(0xc0ffee ^ Number(base % 100000n));
    for (let iter = 0; iter < 400; iter++) {
      // Sometimes mix bases: one operand narrow, one wide.
      const baseB = iter % 5 === 0 ? BASES[int(rng, BASES.length)][1] : base;
      const ka = randomKeys(rng, base, 1 + int(rng, 300));
      const kb = randomKeys(rng, baseB, 1 + int(rng, 300));
      const a = RowSet.fromKeys(ka), b = RowSet.fromKeys(kb);
      const sa = naiveSet(ka), sb = naiveSet(kb);
      const inB = new Set(sb);
      const inA = new Set(sa);

      assert.deepEqual(keysOf(a), sa);
      assert.deepEqual([...a.ranges()], naiveRanges(sa));
      assert.equal(a.size, sa.length);
      assert.ok(RowSet.fromRanges(naiveRanges(sa).reverse()).equals(a));

      const union = naiveSet([...sa, ...sb]);
      const inter = sa.filter((k) => inB.has(k));
      const minus = sa.filter((k) => !inB.has(k));
      assert.deepEqual(keysOf(a.union(b)), union, "union");
      assert.deepEqual(keysOf(a.intersect(b)), inter, "intersect");
      assert.deepEqual(keysOf(a.minus(b)), minus, "minus");
      assert.equal(a.isSubsetOf(b), sa.every((k) => inB.has(k)), "isSubsetOf");
      assert.equal(a.intersect(b).isSubsetOf(b), true);
      assert.equal(a.equals(b), sa.length === sb.length && sa.every((k) => inB.has(k)));
      assert.ok(a.union(b).equals(RowSet.fromKeys(union)), "union equals rebuilt");
      assert.ok(a.minus(b).equals(RowSet.fromKeys(minus)), "minus equals rebuilt");

      // keyAt / positionOf for every key, and misses.
      for (let p = 0; p < sa.length; p++) {
        assert.equal(a.keyAt(p), sa[p]);
        assert.equal(a.positionOf(sa[p]), p);
      }
      for (const k of sb) assert.equal(a.positionOf(k), inA.has(k) ? sa.indexOf(k) : -1);

      // positionRangesOf a random subset.
      const subPositions = sa.map((_, i) => i).filter(() => rng() < 0.5);
      const subset = RowSet.fromKeys(subPositions.map((p) => sa[p]));
      assert.deepEqual(Array.from(a.positionRangesOf(subset)), positionRangesNaive(subPositions));
      if (!a.isEmpty) assert.deepEqual(Array.from(a.positionRangesOf(a)), [0, a.size - 1]);
      if (!sb.every((k) => inA.has(k)) && sb.length > 0) {
        assertDhError(() => a.positionRangesOf(b), GrpcCode.INVALID_ARGUMENT, /not in this row set/);
      }

      // subsetByPositions, including positions past the end.
      const positions = randomKeys(rng, 0n, sa.length + 20).map(Number);
      const expected = positions.filter((p) => p < sa.length).map((p) => sa[p]);
      assert.deepEqual(keysOf(a.subsetByPositions(RowSet.fromKeys(positions))), expected);
    }
  });
}

Deno.test("RowSet: set algebra on large random sets agrees with key-by-key rebuilding", () => {
  const rng = mulberry32(42);
  for (let iter = 0; iter < 20; iter++) {
    const ka = randomKeys(rng, 0n, 20000), kb = randomKeys(rng, 0n, 20000);
    const a = RowSet.fromKeys(ka), b = RowSet.fromKeys(kb);
    const inB = new Set(kb);
    assert.ok(a.minus(b).equals(RowSet.fromKeys(ka.filter((k) => !inB.has(k)))));
    assert.ok(a.intersect(b).equals(RowSet.fromKeys(ka.filter((k) => inB.has(k)))));
    assert.ok(a.union(b).equals(RowSet.fromKeys([...ka, ...kb])));
    assert.ok(a.union(b).minus(b).equals(a.minus(b)));
    assert.equal(a.union(b).size, a.size + b.size - a.intersect(b).size);
  }
});

// ------------------------------------------------------------------------------------------------
// Shifts

function naiveShift(keys: bigint[], entries: Array<[bigint, bigint, bigint]>): bigint[] | "invalid" {
  const out: bigint[] = [];
  for (const k of keys) {
    const hit = entries.find(([s, e]) => s <= k && k <= e);
    const moved = hit ? k + hit[2] : k;
    if (moved < 0n || moved > MAX_ROW_KEY) return "invalid";
    if (out.length > 0 && moved <= out[out.length - 1]) return "invalid";
    out.push(moved);
  }
  return out;
}

Deno.test("RowSet.shift: positive, negative, several windows, absent keys", () => {
  const rs = RowSet.fromRanges([[0, 4], [10, 19], [30, 31]]);
  const sh = (entries: Array<[number, number, number]>) =>
    rs.shift(ShiftData.fromEntries(entries)).toString();
  assert.equal(sh([[10, 19, 5]]), "{0-4,15-24,30-31}");
  assert.equal(sh([[10, 19, -5]]), "{0-14,30-31}", "moving down onto adjacency coalesces");
  assert.equal(sh([[0, 4, 1], [10, 19, 3], [30, 100, 10]]), "{1-5,13-22,40-41}");
  assert.equal(sh([[5, 9, 1000]]), "{0-4,10-19,30-31}", "a window with no present keys moves nothing");
  assert.equal(sh([[15, 25, 8]]), "{0-4,10-14,23-27,30-31}", "only the present keys of a window move");
  assert.equal(sh([[0, 31, -0]]), "{0-4,10-19,30-31}");
  assert.ok(rs.shift(ShiftData.EMPTY) === rs);

  assertDhError(() => sh([[10, 19, 11]]), GrpcCode.DATA_LOSS, /onto or before row key/);
  assertDhError(() => sh([[0, 4, -1]]), GrpcCode.DATA_LOSS, /below 0/);
  assertDhError(() => sh([[10, 19, -6]]), GrpcCode.DATA_LOSS, /report/);

  // Wide keys and shifts across 2^53.
  const w = RowSet.fromRanges([[0, 9], [2n ** 53n - 5n, 2n ** 53n - 1n]]);
  assert.equal(
    w.shift(ShiftData.fromEntries([[2n ** 53n - 5n, 2n ** 53n, 10]])).toString(),
    "{0-9,9007199254740997-9007199254741001}",
  );
  assert.equal(
    RowSet.range(MAX_ROW_KEY - 9n, MAX_ROW_KEY).shift(
      ShiftData.fromEntries([[MAX_ROW_KEY - 9n, MAX_ROW_KEY, -(2n ** 62n)]]),
    )
      .toString(),
    `{${MAX_ROW_KEY - 9n - 2n ** 62n}-${MAX_ROW_KEY - 2n ** 62n}}`,
  );
  assertDhError(
    () => RowSet.fromKeys([MAX_ROW_KEY - 1n]).shift(ShiftData.fromEntries([[0, MAX_ROW_KEY - 1n, 5]])),
    GrpcCode.DATA_LOSS,
    /above 2\^63 - 1/,
  );
});

Deno.test("ShiftData: validation and formatting", () => {
  const sd = ShiftData.fromEntries([[10, 19, 5], [30n, 39n, -2n]]);
  assert.equal(sd.length, 2);
  assert.equal(sd.toString(), "{[10-19]+5,[30-39]-2}");
  assert.deepEqual([...sd.entries()], [[10n, 19n, 5n], [30n, 39n, -2n]]);
  assert.ok(sd.equals(ShiftData.fromEntries([[10, 19, 5], [30, 39, -2]])));
  assert.match(Deno.inspect(sd), /ShiftData/);
  assertDhError(() => ShiftData.fromEntries([[10, 19, 5], [15, 25, 1]]), GrpcCode.INVALID_ARGUMENT, /sorted/);
  assertDhError(() => ShiftData.fromEntries([[10, 9, 5]]), GrpcCode.INVALID_ARGUMENT, /non-empty/);
  assertDhError(() => ShiftData.fromEntries([[0, 9, 0.5]]), GrpcCode.INVALID_ARGUMENT);
  assertDhError(
    () => new ShiftData(new BigInt64Array(1), new BigInt64Array(2), new BigInt64Array(1)),
    GrpcCode.INVALID_ARGUMENT,
  );
});

/** Random order-preserving shift for a key list: reassign keys to a random increasing sequence, then group. */
function randomValidShift(rng: () => number, keys: bigint[]): Array<[bigint, bigint, bigint]> {
  const entries: Array<[bigint, bigint, bigint]> = [];
  if (keys.length === 0) return entries;
  // New keys: increasing, each at least 1 after the previous, starting >= 0.
  const newKeys: bigint[] = [];
  let next = keys[0] - BigInt(int(rng, Number(keys[0] < 50n ? keys[0] : 50n) + 1));
  for (let i = 0; i < keys.length; i++) {
    const stay = rng() < 0.5 && keys[i] >= next;
    const k = stay ? keys[i] : next + BigInt(int(rng, 4));
    newKeys.push(k);
    next = k + 1n;
  }
  // Group consecutive keys with the same non-zero delta; windows are widened into the gaps at random.
  let i = 0;
  let prevEnd = -1n;
  while (i < keys.length) {
    const delta = newKeys[i] - keys[i];
    let j = i;
    while (j + 1 < keys.length && newKeys[j + 1] - keys[j + 1] === delta) j++;
    if (delta !== 0n) {
      const lowLimit = prevEnd + 1n;
      const highLimit = j + 1 < keys.length ? keys[j + 1] - 1n : keys[j] + 5n;
      let s = keys[i] - BigInt(int(rng, 3));
      if (s < lowLimit) s = lowLimit;
      let e = keys[j] + BigInt(int(rng, 3));
      if (e > highLimit) e = highLimit;
      entries.push([s, e, delta]);
      prevEnd = e;
    } else prevEnd = keys[j];
    i = j + 1;
  }
  return entries;
}

for (const [name, base] of BASES) {
  Deno.test(`RowSet.shift matches a naive model on random data (${name})`, () => {
    const rng = mulberry32(7 + Number(base % 1000n));
    let valid = 0, invalid = 0;
    for (let iter = 0; iter < 500; iter++) {
      const keys = naiveSet(randomKeys(rng, base, 1 + int(rng, 200)));
      const rs = RowSet.fromKeys(keys);
      let entries: Array<[bigint, bigint, bigint]>;
      if (iter % 3 === 0) {
        // Arbitrary windows and deltas: often invalid.
        entries = [];
        let at = base + BigInt(int(rng, 20));
        for (let n = int(rng, 4); n >= 0; n--) {
          const s = at, e = at + BigInt(int(rng, 40));
          entries.push([s, e, BigInt(int(rng, 61) - 30)]);
          at = e + 1n + BigInt(int(rng, 30));
        }
      } else entries = randomValidShift(rng, keys);
      if (entries.some(([s, e, d]) => e > MAX_ROW_KEY || s + d > MAX_ROW_KEY + 1000n)) continue;
      const sd = ShiftData.fromEntries(entries);
      const expected = naiveShift(keys, entries);
      if (expected === "invalid") {
        invalid++;
        assertDhError(() => rs.shift(sd), GrpcCode.DATA_LOSS);
      } else {
        valid++;
        assert.deepEqual(keysOf(rs.shift(sd)), expected, `shift ${sd} of ${rs}`);
      }
    }
    assert.ok(valid > 200, `valid cases: ${valid}`);
    assert.ok(invalid > 10, `invalid cases: ${invalid}`);
  });
}
