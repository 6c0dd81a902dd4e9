/**
 * Local aggregations: `aggBy` (sum, avg, min, max, count, first, last, std, var per group), `firstBy` and
 * `lastBy`, maintained incrementally: each update touches only the groups of the changed rows.
 *
 * @module
 */

import * as arrow from "../deps/apache_arrow.ts";
import { type LocalAggregations, type LocalTable, storageOf } from "../table/local_table.ts";
import { RowSet } from "../table/rowset.ts";
import { type ColumnKind, nullSentinel } from "../table/column.ts";
import { KINDS } from "../table/kinds.ts";
import { bad, compareRaw, derive, growInt32, SlotReader } from "./derive.ts";

type AggOp = "sum" | "avg" | "min" | "max" | "count" | "first" | "last" | "std" | "var";
const AGG_OPS: ReadonlySet<string> = new Set([
  "sum",
  "avg",
  "min",
  "max",
  "count",
  "first",
  "last",
  "std",
  "var",
]);

interface AggSpec {
  name: string;
  op: AggOp;
  column: number;
}

/** Group bookkeeping shared by the aggregators of one aggBy. */
class Groups {
  readonly ids = new Map<unknown, number>();
  count: number[] = [];
  members: Set<number>[] = [];
  groupOf = new Int32Array(16).fill(-1);
  keyRaw: unknown[][];
  first: number[] = [];
  last: number[] = [];
  firstDirty: boolean[] = [];
  lastDirty: boolean[] = [];

  constructor(readonly reader: SlotReader, readonly keyCols: number[], readonly trackOrder: boolean) {
    this.keyRaw = keyCols.map(() => []);
  }

  keyOf(slot: number): unknown {
    const k = this.keyCols;
    if (k.length === 0) return "";
    if (k.length === 1) return this.reader.stores[k[0]].raw(slot);
    return k.map((j) => {
      const v = this.reader.stores[j].raw(slot);
      return `${typeof v}:${String(v)}`;
    }).join("\u0000");
  }

  add(slot: number): number {
    const key = this.keyOf(slot);
    let g = this.ids.get(key);
    if (g === undefined) {
      g = this.count.length;
      this.ids.set(key, g);
      this.count.push(0);
      this.members.push(new Set());
      this.first.push(-1);
      this.last.push(-1);
      this.firstDirty.push(false);
      this.lastDirty.push(false);
      this.keyCols.forEach((j, i) => (this.keyRaw[i][g!] = this.reader.stores[j].raw(slot)));
    }
    this.groupOf = growInt32(this.groupOf, slot + 1);
    this.groupOf[slot] = g;
    this.count[g]++;
    this.members[g].add(slot);
    if (this.trackOrder) {
      const src = this.reader.table;
      const pos = storageOf(src).positionOfSlot(slot);
      if (!this.firstDirty[g] && (this.first[g] < 0 || pos < storageOf(src).positionOfSlot(this.first[g]))) {
        this.first[g] = slot;
      }
      if (!this.lastDirty[g] && (this.last[g] < 0 || pos > storageOf(src).positionOfSlot(this.last[g]))) {
        this.last[g] = slot;
      }
    }
    return g;
  }

  remove(slot: number): number {
    const g = this.groupOf[slot];
    this.groupOf[slot] = -1;
    this.count[g]--;
    this.members[g].delete(slot);
    if (this.first[g] === slot) this.firstDirty[g] = true;
    if (this.last[g] === slot) this.lastDirty[g] = true;
    return g;
  }

  /** The first or last member by source position (recomputed when it left the group). */
  pick(g: number, which: "first" | "last"): number {
    const dirty = which === "first" ? this.firstDirty : this.lastDirty;
    const chosen = which === "first" ? this.first : this.last;
    if (dirty[g]) {
      const src = this.reader.table;
      let best = -1, bestPos = 0;
      for (const s of this.members[g]) {
        const p = storageOf(src).positionOfSlot(s);
        if (best < 0 || (which === "first" ? p < bestPos : p > bestPos)) {
          best = s;
          bestPos = p;
        }
      }
      chosen[g] = best;
      dirty[g] = false;
    }
    return chosen[g];
  }
}

/** One aggregated output column. */
interface Aggregator {
  readonly field: arrow.Field;
  add(g: number, slot: number): void;
  remove(g: number, slot: number): void;
  value(g: number): unknown;
}

function md(t: string): Map<string, string> {
  return new Map([["deephaven:type", t]]);
}

const F64 = new Float64Array(1);
const U32 = new Uint32Array(F64.buffer);

/** The number of trailing zero bits of a non-zero 32-bit integer. */
function ctz32(x: number): number {
  return 31 - Math.clz32(x & -x);
}

/**
 * A finite, non-zero double as `m · 2^e` with `m` an odd integer (so the exponent is as large as it can be and
 * the exact sums stay short).
 */
function decompose(v: number): [bigint, number] {
  F64[0] = v;
  const lo = U32[0], hi = U32[1];
  const bits = (hi >>> 20) & 0x7ff;
  let mhi = hi & 0xfffff;
  let e = -1074;
  if (bits !== 0) {
    mhi += 0x100000;
    e = bits - 1075;
  }
  const tz = lo !== 0 ? ctz32(lo) : 32 + ctz32(mhi);
  const m = (mhi * 4294967296 + lo) / 2 ** tz; // exact: below 2^53
  return [BigInt(hi >>> 31 ? -m : m), e + tz];
}

/** `x · 2^e` as the nearest double (for a non-negative `x` of any size). */
function scaled(x: bigint, e: number): number {
  if (x === 0n) return 0;
  const len = x.toString(16).length * 4;
  const sh = Math.max(0, len - 64);
  let out = Number(sh > 0 ? x >> BigInt(sh) : x);
  // Apply the power of two in steps that cannot overflow or underflow on the way.
  let p = e + sh;
  while (p !== 0) {
    const step = Math.max(-1000, Math.min(1000, p));
    out *= 2 ** step;
    p -= step;
  }
  return out;
}

/**
 * Exact sums of values and of their squares for std and var: integers in units of `2^scale`, so that adding
 * and removing values any number of times leaves no rounding residue (a running sum of doubles drifts, and
 * the variance of what remains can be swamped by the error left behind by large values that were removed).
 * The variance is computed once, from the exact sums.
 */
class ExactMoments {
  readonly scale: number[] = [];
  readonly s1: bigint[] = [];
  readonly s2: bigint[] = [];

  #ensure(g: number): void {
    while (this.scale.length <= g) {
      this.scale.push(0);
      this.s1.push(0n);
      this.s2.push(0n);
    }
  }

  /** Adds (`sign` 1) or removes (`sign` -1) `m · 2^e`. */
  change(g: number, m: bigint, e: number, sign: 1 | -1): void {
    this.#ensure(g);
    if (m === 0n) return;
    if (sign > 0 && this.s2[g] === 0n) {
      // No value but zeros: start again at this value's scale (the exact sums of what left are zero).
      this.scale[g] = e;
      this.s1[g] = 0n;
      this.s2[g] = 0n;
    } else if (e < this.scale[g]) {
      const d = BigInt(this.scale[g] - e);
      this.s1[g] <<= d;
      this.s2[g] <<= 2n * d;
      this.scale[g] = e;
    }
    const t = e > this.scale[g] ? m << BigInt(e - this.scale[g]) : m;
    if (sign > 0) {
      this.s1[g] += t;
      this.s2[g] += t * t;
    } else {
      this.s1[g] -= t;
      this.s2[g] -= t * t;
    }
  }

  /** The sample variance of the `n` values of group `g` (n > 1). */
  variance(g: number, n: number): number {
    this.#ensure(g);
    const num = BigInt(n) * this.s2[g] - this.s1[g] * this.s1[g]; // n·Σx² − (Σx)², exact and never negative
    return scaled(num, 2 * this.scale[g]) / n / (n - 1);
  }
}

class MomentAgg implements Aggregator {
  readonly field: arrow.Field;
  readonly #cache: Float64Array[] = [new Float64Array(16)];
  #big: (bigint | null)[] = [];
  readonly #isNull: Uint8Array[] = [new Uint8Array(16)];
  readonly sum: number[] = [];
  readonly sumSq: number[] = [];
  readonly bigSum: bigint[] = [];
  /** Non-null values per group (NaN and infinities included). */
  readonly n: number[] = [];
  /** NaN, +Infinity and -Infinity values per group: kept out of the sums, so removing them restores the sums. */
  readonly nan: number[] = [];
  readonly posInf: number[] = [];
  readonly negInf: number[] = [];
  readonly #kind: ColumnKind;
  /** Exact sums, for std and var. */
  readonly #exact: ExactMoments | undefined;

  constructor(readonly spec: AggSpec, readonly reader: SlotReader) {
    this.#kind = reader.stores[spec.column].kind;
    this.#exact = spec.op === "std" || spec.op === "var" ? new ExactMoments() : undefined;
    if (!KINDS[this.#kind].numeric) {
      throw bad(`${spec.op}(${reader.names[spec.column]}) needs a numeric column`);
    }
    const integerSum = spec.op === "sum" && KINDS[this.#kind].integer;
    this.field = integerSum
      ? new arrow.Field(spec.name, new arrow.Int64(), true, md("long"))
      : new arrow.Field(spec.name, new arrow.Float64(), true, md("double"));
  }

  #ensure(g: number, slot: number): void {
    while (this.sum.length <= g) {
      this.sum.push(0);
      this.sumSq.push(0);
      this.bigSum.push(0n);
      this.n.push(0);
      this.nan.push(0);
      this.posInf.push(0);
      this.negInf.push(0);
    }
    if (slot >= this.#cache[0].length) {
      const c = new Float64Array(Math.max(slot + 1, this.#cache[0].length * 2));
      c.set(this.#cache[0]);
      this.#cache[0] = c;
      const z = new Uint8Array(c.length);
      z.set(this.#isNull[0]);
      this.#isNull[0] = z;
    }
  }

  add(g: number, slot: number): void {
    this.#ensure(g, slot);
    const st = this.reader.stores[this.spec.column];
    if (st.isNull(slot)) {
      this.#isNull[0][slot] = 1;
      return;
    }
    this.#isNull[0][slot] = 0;
    const raw = st.raw(slot);
    const v = Number(raw);
    this.#cache[0][slot] = v;
    if (typeof raw === "bigint") {
      this.#big[slot] = raw;
      this.bigSum[g] += raw;
    }
    this.n[g]++;
    if (!Number.isFinite(v)) {
      (Number.isNaN(v) ? this.nan : v > 0 ? this.posInf : this.negInf)[g]++;
      return;
    }
    this.sum[g] += v;
    this.sumSq[g] += v * v;
    this.#exactChange(g, slot, v, 1);
  }

  /** Adds or removes a finite value in the exact sums. */
  #exactChange(g: number, slot: number, v: number, sign: 1 | -1): void {
    const exact = this.#exact;
    if (!exact || v === 0) return;
    const big = this.#kind === "int64" ? this.#big[slot] : undefined;
    const [m, e] = big !== undefined && big !== null ? [big, 0] : decompose(v);
    exact.change(g, m, e, sign);
  }

  remove(g: number, slot: number): void {
    if (this.#isNull[0][slot]) return;
    const v = this.#cache[0][slot];
    if (this.#kind === "int64") this.bigSum[g] -= this.#big[slot] ?? 0n;
    this.n[g]--;
    if (!Number.isFinite(v)) {
      (Number.isNaN(v) ? this.nan : v > 0 ? this.posInf : this.negInf)[g]--;
    } else {
      this.sum[g] -= v;
      this.sumSq[g] -= v * v;
      this.#exactChange(g, slot, v, -1);
    }
    if (this.n[g] === this.nan[g] + this.posInf[g] + this.negInf[g]) {
      // No finite values left: drop the rounding residue.
      this.sum[g] = 0;
      this.sumSq[g] = 0;
    }
  }

  value(g: number): unknown {
    const n = this.n[g] ?? 0;
    const op = this.spec.op;
    const isLong = this.field.type.typeId === arrow.Type.Int;
    if (n === 0) return isLong ? nullSentinel("int64") : nullSentinel("float64");
    if (isLong) return this.#kind === "int64" ? this.bigSum[g] : BigInt(this.sum[g]);
    // As the server: NaN (or both infinities) make sum and avg NaN, one infinity makes them that infinity,
    // and any of them makes std and var NaN.
    const nonFinite = this.nan[g] > 0 || (this.posInf[g] > 0 && this.negInf[g] > 0)
      ? NaN
      : this.posInf[g] > 0
      ? Infinity
      : this.negInf[g] > 0
      ? -Infinity
      : undefined;
    if (op === "sum") return nonFinite ?? this.sum[g];
    if (op === "avg") return nonFinite ?? this.sum[g] / n;
    if (nonFinite !== undefined) return NaN;
    const variance = n > 1 ? this.#exact!.variance(g, n) : NaN;
    return op === "var" ? variance : Math.sqrt(variance);
  }
}

class CountAgg implements Aggregator {
  readonly field: arrow.Field;
  constructor(name: string, readonly groups: Groups) {
    this.field = new arrow.Field(name, new arrow.Int64(), true, md("long"));
  }
  add(): void {}
  remove(): void {}
  value(g: number): unknown {
    return BigInt(this.groups.count[g]);
  }
}

class ExtremeAgg implements Aggregator {
  readonly field: arrow.Field;
  readonly #best: unknown[] = [];
  readonly #dirty: boolean[] = [];
  readonly #kind: ColumnKind;
  readonly #cache: unknown[] = [];
  /** NaN values per group: as on the server, any NaN makes both min and max NaN. */
  readonly #nan: number[] = [];

  constructor(readonly spec: AggSpec, readonly reader: SlotReader, readonly groups: Groups) {
    const f = (reader.table.schema as arrow.Schema).fields[spec.column];
    this.field = new arrow.Field(spec.name, f.type, true, f.metadata);
    this.#kind = reader.stores[spec.column].kind;
  }

  #better(a: unknown, b: unknown): boolean {
    const c = compareRaw(this.#kind, a, b);
    return this.spec.op === "min" ? c < 0 : c > 0;
  }

  #isNull(v: unknown): boolean {
    const s = nullSentinel(this.#kind);
    return v === null || v === undefined || (s !== undefined && v === s);
  }

  add(g: number, slot: number): void {
    const v = this.reader.stores[this.spec.column].raw(slot);
    this.#cache[slot] = v;
    if (typeof v === "number" && Number.isNaN(v)) {
      this.#nan[g] = (this.#nan[g] ?? 0) + 1;
      return;
    }
    if (this.#isNull(v) || this.#dirty[g]) return;
    if (this.#best[g] === undefined || this.#isNull(this.#best[g]) || this.#better(v, this.#best[g])) {
      this.#best[g] = v;
    }
  }

  remove(g: number, slot: number): void {
    const v = this.#cache[slot];
    if (typeof v === "number" && Number.isNaN(v)) this.#nan[g]--;
    else if (!this.#isNull(v) && compareRaw(this.#kind, v, this.#best[g]) === 0) this.#dirty[g] = true;
  }

  value(g: number): unknown {
    if (this.#dirty[g]) {
      let best: unknown = undefined;
      for (const s of this.groups.members[g]) {
        const v = this.#cache[s];
        if (typeof v === "number" && Number.isNaN(v)) continue;
        if (!this.#isNull(v) && (best === undefined || this.#better(v, best))) best = v;
      }
      this.#best[g] = best;
      this.#dirty[g] = false;
    }
    if (this.#nan[g] > 0) return NaN;
    const b = this.#best[g];
    return b === undefined ? (nullSentinel(this.#kind) ?? null) : b;
  }
}

class PickAgg implements Aggregator {
  readonly field: arrow.Field;
  constructor(readonly spec: AggSpec, readonly reader: SlotReader, readonly groups: Groups) {
    const f = (reader.table.schema as arrow.Schema).fields[spec.column];
    this.field = new arrow.Field(spec.name, f.type, true, f.metadata);
  }
  add(): void {}
  remove(): void {}
  value(g: number): unknown {
    const slot = this.groups.pick(g, this.spec.op as "first" | "last");
    return this.reader.stores[this.spec.column].raw(slot);
  }
}

function parseAggs(aggs: LocalAggregations, reader: SlotReader): AggSpec[] {
  const out: AggSpec[] = [];
  for (const [name, text] of Object.entries(aggs)) {
    const m = String(text).match(/^\s*([A-Za-z]+)\s*\(\s*([A-Za-z_][A-Za-z0-9_]*)?\s*\)\s*$/);
    if (!m || !AGG_OPS.has(m[1])) {
      throw bad(
        `Cannot read the aggregation ${JSON.stringify(text)} for ${JSON.stringify(name)}; ` +
          'write "op(Column)" with op one of sum, avg, min, max, count, first, last, std, var',
      );
    }
    const op = m[1] as AggOp;
    if (op !== "count" && !m[2]) throw bad(`${op}() for ${JSON.stringify(name)} needs a column`);
    out.push({ name, op, column: op === "count" && !m[2] ? -1 : reader.index(m[2]) });
  }
  return out;
}

function aggregate(source: LocalTable, specs: AggSpec[], keyNames: string[]): LocalTable {
  const reader = new SlotReader(source);
  const keyCols = keyNames.map((k) => reader.index(k));
  const needsOrder = specs.some((s) => s.op === "first" || s.op === "last");
  const groups = new Groups(reader, keyCols, needsOrder);
  const aggs: Aggregator[] = specs.map((s) => {
    switch (s.op) {
      case "count":
        return new CountAgg(s.name, groups);
      case "min":
      case "max":
        return new ExtremeAgg(s, reader, groups);
      case "first":
      case "last":
        return new PickAgg(s, reader, groups);
      default:
        return new MomentAgg(s, reader);
    }
  });
  const fields = (source.schema as arrow.Schema).fields;
  const keyFields = keyCols.map((j) => fields[j]);
  const names = [...keyFields.map((f) => f.name), ...aggs.map((a) => a.field.name)];
  const dup = names.find((n, i) => names.indexOf(n) !== i);
  if (dup) {
    throw bad(`The aggregation result would have two columns named ${JSON.stringify(dup)}; rename one`);
  }
  const schema = new arrow.Schema([...keyFields, ...aggs.map((a) => a.field)]);
  const present: boolean[] = [];
  const relevant = new Set([
    ...keyNames,
    ...specs.filter((s) => s.column >= 0).map((s) => reader.names[s.column]),
  ]);
  return derive(source, schema, (out, u) => {
    const slots = u.slots!;
    const touched = new Set<number>();
    const removeRow = (s: number) => {
      const g = groups.remove(s);
      for (const a of aggs) a.remove(g, s);
      touched.add(g);
    };
    const addRow = (s: number) => {
      const g = groups.add(s);
      for (const a of aggs) a.add(g, s);
      touched.add(g);
    };
    for (const s of slots.removed) removeRow(s);
    // A change of a key column moves a row between groups; other changes only refresh its values.
    const keysChanged = u.modifiedColumns.some((c) => keyNames.includes(c));
    const valuesChanged = u.modifiedColumns.some((c) => relevant.has(c));
    if (keysChanged) { for (const s of slots.modified) removeRow(s); }
    else if (valuesChanged) {
      for (const s of slots.modified) {
        const g = groups.groupOf[s];
        for (const a of aggs) {
          a.remove(g, s);
          a.add(g, s);
        }
        touched.add(g);
      }
    }
    for (const s of slots.added) addRow(s);
    if (keysChanged) { for (const s of slots.modified) addRow(s); }
    // Shifts keep the order of rows, so first/last picks stay valid.
    const order = [...touched].sort((a, b) => a - b);
    const added: number[] = [], removed: number[] = [], modified: number[] = [];
    for (const g of order) {
      if (groups.count[g] > 0) (present[g] ? modified : added).push(g);
      else if (present[g]) removed.push(g);
      present[g] = groups.count[g] > 0;
    }
    const column = (gs: number[], i: number): unknown[] =>
      i < keyCols.length
        ? gs.map((g) => groups.keyRaw[i][g])
        : gs.map((g) => aggs[i - keyCols.length].value(g));
    const ncol = keyCols.length + aggs.length;
    const modRows = RowSet.fromKeys(modified);
    const data = (gs: number[]) => Array.from({ length: ncol }, (_, i) => [column(gs, i)]);
    if (!u.isSnapshot && added.length + removed.length + modified.length === 0) return;
    out.applyKeyed({
      isSnapshot: u.isSnapshot,
      removed: RowSet.fromKeys(removed),
      shifts: undefined,
      added: RowSet.fromKeys(added),
      addData: data(added),
      modified: Array.from({ length: ncol }, () => modRows),
      modData: data(modified),
    });
  });
}

/** Local `aggBy` (see the LocalTable method). */
export function aggBy(source: LocalTable, aggs: LocalAggregations, keys: string[]): LocalTable {
  const reader = new SlotReader(source);
  if (Object.keys(aggs).length === 0) throw bad("aggBy() needs at least one aggregation");
  return aggregate(source, parseAggs(aggs, reader), keys);
}

function pickBy(source: LocalTable, keys: string[], op: "first" | "last"): LocalTable {
  const reader = new SlotReader(source);
  keys.forEach((k) => reader.index(k));
  const specs = reader.names
    .map((name, column) => ({ name, op, column }))
    .filter((s) => !keys.includes(s.name));
  if (specs.length === 0) throw bad(`${op}By() needs at least one column that is not a key`);
  return aggregate(source, specs, keys);
}

/** The first `n` rows of `t`, kept current. */

/** The first row of each group of `t`. */
export function firstBy(t: LocalTable, keys: string[]): LocalTable {
  return pickBy(t, keys, "first");
}

/** The last row of each group of `t`. */
export function lastBy(t: LocalTable, keys: string[]): LocalTable {
  return pickBy(t, keys, "last");
}
