/**
 * Benchmarks for RowSet and its Barrage codec.
 *
 * Run: `deno bench -A bench/rowset_bench.ts`
 *
 * @module
 */

import { RowSet, RowSetBuilder, ShiftData } from "../src/table/rowset.ts";
import { decodeRowSet, encodeRowSet } from "../src/wire/rowset_codec.ts";

/** Builds `count` ranges starting at `first`, with small gaps and lengths that vary with `seed`. */
function manyRanges(count: number, seed: number, first = 0n): RowSet {
  const b = new RowSetBuilder(count);
  let k = 0;
  for (let i = 0; i < count; i++) {
    k += 2 + ((i * 7919 + seed) % 5);
    const end = k + ((i + seed) % 4);
    if (first === 0n) b.appendRange(k, end);
    else b.appendRange(first + BigInt(k), first + BigInt(end));
    k = end;
  }
  return b.build();
}

const oneRange = encodeRowSet(RowSet.range(0, 1_999_999));
const a = manyRanges(100_000, 1);
const b = manyRanges(100_000, 2);
const aBytes = encodeRowSet(a);
const wideA = manyRanges(100_000, 1, 2n ** 53n);
const wideBytes = encodeRowSet(wideA);
const subset = a.intersect(b);
const viewport = RowSet.range(50_000, 50_099);
const shifts = ShiftData.fromEntries([[50_000, 99_999, 100], [100_000, 2 ** 40, 500]]);

Deno.bench("decode: 1 range of 2M keys", { group: "decode" }, () => {
  decodeRowSet(oneRange);
});
Deno.bench(`decode: 100k ranges (${aBytes.length} bytes)`, { group: "decode" }, () => {
  decodeRowSet(aBytes);
});
Deno.bench("decode: 100k ranges above 2^53 (bigint storage)", { group: "decode" }, () => {
  decodeRowSet(wideBytes);
});
Deno.bench("encode: 100k ranges", { group: "encode" }, () => {
  encodeRowSet(a);
});
Deno.bench("union: 100k + 100k ranges", { group: "algebra" }, () => {
  a.union(b);
});
Deno.bench("minus: 100k - 100k ranges", { group: "algebra" }, () => {
  a.minus(b);
});
Deno.bench("intersect: 100k & 100k ranges", { group: "algebra" }, () => {
  a.intersect(b);
});
Deno.bench(
  `positionRangesOf: subset of ${subset.rangeCount} ranges in 100k ranges`,
  { group: "positions" },
  () => {
    a.positionRangesOf(subset);
  },
);
Deno.bench("union, then positionRangesOf on the new set (builds its cumulative counts)", {
  group: "positions",
}, () => {
  a.union(subset.minus(a)).union(RowSet.fromKeys([1])).positionRangesOf(subset);
});
Deno.bench("subsetByPositions: 100-row viewport of 100k ranges", { group: "positions" }, () => {
  a.subsetByPositions(viewport);
});
Deno.bench("shift: 100k ranges, 2 windows covering most keys", { group: "shift" }, () => {
  a.shift(shifts);
});
