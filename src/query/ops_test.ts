/**
 * A seeded random property test of the local queries: a source local table is driven by hand-made updates
 * (adds, removes, modifications and shifts through `applyKeyed`, or position-space changes through
 * `applyPositional`), and after every step every derived table must equal a naive recomputation from the
 * source's current rows. Every table's update events are replayed into a mirror (a map of row key to values),
 * which must equal the table too: this checks that the events describe exactly what changed.
 *
 * @module
 */

import assert from "node:assert/strict";
import * as arrow from "../deps/apache_arrow.ts";
import { appendArrow } from "../barrage/from_arrow.ts";
import {
  createLocalTable,
  type LocalTable,
  type Row,
  type TableUpdate,
  type TableWriter,
} from "../table/local_table.ts";
import type { ColumnData } from "../table/storage.ts";

/** The writers of the source tables the tests build. */
const writers = new WeakMap<LocalTable, TableWriter>();

function writerOf(t: LocalTable): TableWriter {
  return writers.get(t)!;
}
import { RowSet, ShiftData } from "../table/rowset.ts";
import { NULLS, Utf8Chunk } from "../table/column.ts";
import { mulberry32 } from "../../testing/prng.ts";

// ---------------------------------------------------------------- random source rows

interface Rand {
  next: () => number;
  int: (lo: number, hi: number) => number;
  pick: <T>(xs: readonly T[]) => T;
  sample: <T>(xs: readonly T[], k: number) => T[];
}

function rand(seed: number): Rand {
  const next = mulberry32(seed);
  const int = (lo: number, hi: number) => lo + Math.floor(next() * (hi - lo + 1));
  return {
    next,
    int,
    pick: (xs) => xs[int(0, xs.length - 1)],
    sample: <T>(xs: readonly T[], k: number): T[] => {
      const copy = [...xs];
      for (let i = copy.length - 1; i > 0; i--) {
        const j = int(0, i);
        [copy[i], copy[j]] = [copy[j], copy[i]];
      }
      return copy.slice(0, Math.min(k, copy.length));
    },
  };
}

/** One source row as the model holds it (values as `LocalTable.get` returns them). */
interface Model {
  Sym: string | null;
  Qty: number | null;
  Px: number | null;
  Id: bigint | null;
}
const COLS = ["Sym", "Qty", "Px", "Id"] as const;
type Col = typeof COLS[number];

// Multi-byte, astral (a surrogate pair in UTF-16) and private-use (above the surrogates in UTF-16) symbols:
// strings are stored as UTF-8, which orders those two the other way round.
const SYMS = ["A", "B", "C", "D", null, "\u00e9t\u00e9", "\u{1F600}", "\uE000x"];

function randomValue(r: Rand, c: Col, nextId: () => bigint): Model[Col] {
  switch (c) {
    case "Sym":
      return r.pick(SYMS);
    case "Qty":
      return r.next() < 0.05 ? null : r.int(0, 100);
    case "Px": {
      const u = r.next();
      if (u < 0.08) return null;
      if (u < 0.11) return NaN;
      if (u < 0.12) return Infinity;
      if (u < 0.13) return -Infinity;
      if (u < 0.33) return r.int(-5, 5);
      return Math.round((r.next() * 200 - 100) * 100) / 100;
    }
    case "Id":
      return r.next() < 0.03 ? null : nextId();
  }
}

function randomRow(r: Rand, nextId: () => bigint): Model {
  return {
    Sym: randomValue(r, "Sym", nextId) as string | null,
    Qty: randomValue(r, "Qty", nextId) as number | null,
    Px: randomValue(r, "Px", nextId) as number | null,
    Id: randomValue(r, "Id", nextId) as bigint | null,
  };
}

/** Column data in the raw form the decoder produces (Deephaven null sentinels for fixed-width types). */
function rawChunk(c: Col, values: Model[Col][]): ColumnData {
  switch (c) {
    case "Sym":
      // As the decoder gives them (Arrow string data) or as local queries write them (JS strings).
      return [values.length % 2 ? Utf8Chunk.from(values) : values.slice()];
    case "Qty":
      return [Int32Array.from(values as (number | null)[], (v) => v ?? NULLS.int32)];
    case "Px":
      return [Float64Array.from(values as (number | null)[], (v) => v ?? NULLS.float64)];
    case "Id":
      return [BigInt64Array.from(values as (bigint | null)[], (v) => v ?? NULLS.int64)];
  }
}

function md(t: string): Map<string, string> {
  return new Map([["deephaven:type", t]]);
}

/** A live local table holding `rows` at keys 0..n-1, built from Arrow like a snapshot. */
function sourceTable(rows: Model[]): LocalTable {
  const fields = [
    new arrow.Field("Sym", new arrow.Utf8(), true, md("java.lang.String")),
    new arrow.Field("Qty", new arrow.Int32(), true, md("int")),
    new arrow.Field("Px", new arrow.Float64(), true, md("double")),
    new arrow.Field("Id", new arrow.Int64(), true, md("long")),
  ];
  const children = fields.map((f) =>
    arrow.vectorFromArray(rows.map((r) => r[f.name as Col]), f.type).data[0]
  );
  const schema = new arrow.Schema(fields);
  const batch = new arrow.RecordBatch(
    schema,
    arrow.makeData({ type: new arrow.Struct(fields), length: rows.length, children }),
  );
  const { table: t, writer } = createLocalTable(schema);
  appendArrow(writer, new arrow.Table([batch]));
  writers.set(t, writer);
  return t;
}

// ---------------------------------------------------------------- random updates

/** The model: rows by key, in key order. */
type Entry = { key: number; row: Model };

/** One random key-space update: removes, a shift, adds, per-column modifications. Updates `model`. */
function keyedStep(r: Rand, t: LocalTable, model: Entry[], nextId: () => bigint, big: boolean): void {
  // 1. Removes (pre-shift keys).
  const nRemove = big ? r.int(0, model.length) : r.int(0, Math.min(6, model.length));
  const removed = new Set(r.sample(model.map((e) => e.key), nRemove));
  let rest = model.filter((e) => !removed.has(e.key));
  // 2. A shift of one window of consecutive remaining rows into the free keys around it.
  let shifts: ShiftData | undefined;
  if (rest.length > 0 && r.next() < 0.35) {
    const i = r.int(0, rest.length - 1);
    const j = r.int(i, Math.min(rest.length - 1, i + r.int(0, 20)));
    const before = i > 0 ? rest[i - 1].key : -1;
    const after = j + 1 < rest.length ? rest[j + 1].key : Infinity;
    const down = rest[i].key - before - 1;
    const up = Math.min(after - rest[j].key - 1, 1000);
    const delta = r.int(-down, up);
    if (delta !== 0) {
      shifts = ShiftData.fromEntries([[rest[i].key, rest[j].key, delta]]);
      rest = rest.map((e, k) => (k >= i && k <= j ? { key: e.key + delta, row: e.row } : e));
    }
  }
  // 3. Adds at free keys.
  const nAdd = big ? r.int(0, 60) : r.int(0, 6);
  const taken = new Set(rest.map((e) => e.key));
  const maxKey = rest.length > 0 ? rest[rest.length - 1].key : 0;
  const addedKeys: number[] = [];
  for (let tries = 0; addedKeys.length < nAdd && tries < 1000; tries++) {
    const k = r.int(0, maxKey + 30);
    if (!taken.has(k)) {
      taken.add(k);
      addedKeys.push(k);
    }
  }
  addedKeys.sort((a, b) => a - b);
  const addedRows = addedKeys.map(() => randomRow(r, nextId));
  // 4. Modifications of rows that stay, per column.
  const nMod = r.int(0, Math.min(6, rest.length));
  const modEntries = r.sample(rest, nMod).sort((a, b) => a.key - b.key);
  const modKeys: number[][] = COLS.map(() => []);
  const modVals: Model[Col][][] = COLS.map(() => []);
  const changed = new Map<number, Model>();
  for (const e of modEntries) {
    const row = { ...e.row };
    const which = COLS.filter(() => r.next() < 0.5);
    if (which.length === 0) which.push(r.pick(COLS));
    for (const c of which) {
      // Sometimes the "new" value equals the old one, as servers may send.
      const v = r.next() < 0.1 ? row[c] : randomValue(r, c, nextId);
      (row as Record<Col, unknown>)[c] = v;
      const j = COLS.indexOf(c);
      modKeys[j].push(e.key);
      modVals[j].push(v);
    }
    changed.set(e.key, row);
  }
  writerOf(t).applyKeyed({
    isSnapshot: false,
    removed: RowSet.fromKeys([...removed].sort((a, b) => a - b)),
    shifts,
    added: RowSet.fromKeys(addedKeys),
    addData: COLS.map((c) => rawChunk(c, addedRows.map((row) => row[c]))),
    modified: modKeys.map((ks) => RowSet.fromKeys(ks)),
    modData: COLS.map((c, j) => rawChunk(c, modVals[j])),
  });
  const next = rest.map((e) => ({ key: e.key, row: changed.get(e.key) ?? e.row }));
  addedKeys.forEach((k, i) => next.push({ key: k, row: addedRows[i] }));
  next.sort((a, b) => a.key - b.key);
  model.splice(0, model.length, ...next);
}

/** One random position-space update (as a viewport delivers): removed offsets, added offsets, modifications. */
function positionalStep(r: Rand, t: LocalTable, model: Entry[], nextId: () => bigint, big: boolean): void {
  const n = model.length;
  const nRemove = big ? r.int(0, n) : r.int(0, Math.min(6, n));
  const removed = new Set(r.sample([...Array(n).keys()], nRemove));
  const rest = model.filter((_, i) => !removed.has(i));
  const nAdd = big ? r.int(0, 60) : r.int(0, 6);
  const size = rest.length + nAdd;
  const addedPos = new Set(r.sample([...Array(size).keys()], nAdd));
  const addedSorted = [...addedPos].sort((a, b) => a - b);
  const addedRows = addedSorted.map(() => randomRow(r, nextId));
  const rows: Model[] = [];
  let k = 0, a = 0;
  for (let p = 0; p < size; p++) rows.push(addedPos.has(p) ? addedRows[a++] : rest[k++].row);
  const stay = [...Array(size).keys()].filter((p) => !addedPos.has(p));
  const modPos = r.sample(stay, r.int(0, Math.min(6, stay.length))).sort((x, y) => x - y);
  const modKeys: number[][] = COLS.map(() => []);
  const modVals: Model[Col][][] = COLS.map(() => []);
  for (const p of modPos) {
    const row = { ...rows[p] };
    const which = COLS.filter(() => r.next() < 0.5);
    if (which.length === 0) which.push(r.pick(COLS));
    for (const c of which) {
      const v = randomValue(r, c, nextId);
      (row as Record<Col, unknown>)[c] = v;
      modKeys[COLS.indexOf(c)].push(p);
      modVals[COLS.indexOf(c)].push(v);
    }
    rows[p] = row;
  }
  writerOf(t).applyPositional({
    isSnapshot: false,
    removed: RowSet.fromKeys([...removed].sort((x, y) => x - y)),
    added: RowSet.fromKeys(addedSorted),
    addData: COLS.map((c) => rawChunk(c, addedRows.map((row) => row[c]))),
    modified: modKeys.map((ks) => RowSet.fromKeys(ks)),
    modData: COLS.map((c, j) => rawChunk(c, modVals[j])),
  });
  model.splice(0, model.length, ...rows.map((row, i) => ({ key: i, row })));
}

// ---------------------------------------------------------------- mirrors of update events

function shiftKey(k: bigint, s: ShiftData): bigint {
  for (let i = 0; i < s.length; i++) {
    if (k >= s.starts[i] && k <= s.ends[i]) return k + s.deltas[i];
  }
  return k;
}

/**
 * Replays a table's update events into a map of row key to values, reading only what each event says
 * changed (all columns of added rows, the modified columns of modified rows).
 */
class Mirror {
  rows = new Map<bigint, Record<string, unknown>>();
  errors: string[] = [];
  readonly stop: () => void;

  constructor(readonly label: string, readonly t: LocalTable) {
    for (let i = 0; i < t.size; i++) this.rows.set(t.keyAt(i), t.row(i));
    this.stop = t.onUpdate((u) => this.#apply(u));
  }

  #apply(u: TableUpdate): void {
    const t = this.t;
    for (const k of u.removed) {
      if (!this.rows.delete(k)) this.errors.push(`${this.label}: removed key ${k} was not present`);
    }
    if (u.shifted) {
      if (!u.shifts) this.errors.push(`${this.label}: shifted without shift data`);
      else {
        const next = new Map<bigint, Record<string, unknown>>();
        for (const [k, v] of this.rows) next.set(shiftKey(k, u.shifts), v);
        if (next.size !== this.rows.size) this.errors.push(`${this.label}: a shift merged two keys`);
        this.rows = next;
      }
    }
    for (const k of u.added) {
      if (this.rows.has(k)) this.errors.push(`${this.label}: added key ${k} was already present`);
      this.rows.set(k, t.row(t.rowSet.positionOf(k)));
    }
    for (const k of u.modified) {
      const row = this.rows.get(k);
      if (!row) {
        this.errors.push(`${this.label}: modified key ${k} is not present`);
        continue;
      }
      if (u.added.has(k)) this.errors.push(`${this.label}: key ${k} is both added and modified`);
      for (const c of u.modifiedColumns) row[c] = t.get(t.rowSet.positionOf(k), c);
    }
    if (this.rows.size !== u.size) {
      this.errors.push(
        `${this.label}: update says size ${u.size}, the replayed events give ${this.rows.size}`,
      );
    }
  }

  /** Differences between the replayed state and the table. */
  diff(): string[] {
    const out = this.errors.splice(0);
    const t = this.t;
    if (t.size !== this.rows.size) {
      out.push(`${this.label}: mirror has ${this.rows.size} rows, table ${t.size}`);
    }
    for (let i = 0; i < t.size && out.length < 5; i++) {
      const k = t.keyAt(i);
      const m = this.rows.get(k);
      const actual = t.row(i);
      if (!m) out.push(`${this.label}: key ${k} (row ${i}) is missing from the replayed events`);
      else if (!sameRow(m, actual)) {
        out.push(`${this.label}: key ${k} (row ${i}) replayed ${show(m)}, table ${show(actual)}`);
      }
    }
    return out;
  }
}

// ---------------------------------------------------------------- naive recomputation

function show(v: unknown): string {
  return JSON.stringify(
    v,
    (_k, x) =>
      typeof x === "bigint"
        ? `${x}n`
        : typeof x === "number" && !Number.isFinite(x)
        ? String(x)
        : x === undefined
        ? "undefined"
        : x,
  );
}

/** Same value: `===`, with NaN equal to NaN. */
function same(a: unknown, b: unknown): boolean {
  return a === b || (a !== a && b !== b);
}

/** A string that identifies a list of values (for grouping and sorting by key). */
function keyText(values: unknown[]): string {
  let out = "";
  for (const v of values) out += `${typeof v}:${String(v)}\u0000`;
  return out;
}

function sameRow(a: Record<string, unknown>, b: Record<string, unknown>): boolean {
  const ka = Object.keys(a);
  if (ka.length !== Object.keys(b).length) return false;
  return ka.every((k) => same(a[k], b[k]));
}

/** A double computed by an aggregation: its exact value and the scale of its rounding error. */
class Approx {
  constructor(readonly value: number, readonly scale: number, readonly squared = false) {}
}

/** Expected content of a derived table. */
interface Expected {
  columns: string[];
  rows: unknown[][];
  /** Row order is defined (else rows are compared sorted by the first `keys` columns). */
  ordered: boolean;
  keys: number;
}

/** Deephaven's order of doubles: null first, NaN last. */
function cmpValue(a: unknown, b: unknown): number {
  if (a === null || b === null) return a === null ? (b === null ? 0 : -1) : 1;
  if (typeof a === "number" && typeof b === "number") {
    if (Number.isNaN(a) || Number.isNaN(b)) return Number.isNaN(a) ? (Number.isNaN(b) ? 0 : 1) : -1;
  }
  // deno-lint-ignore no-explicit-any
  const x = a as any, y = b as any;
  return x < y ? -1 : x > y ? 1 : 0;
}

function sortRows(rows: Row[], cols: string[], desc: boolean[]): Row[] {
  return rows.map((r, i) => ({ r, i })).sort((p, q) => {
    for (let k = 0; k < cols.length; k++) {
      const c = cmpValue(p.r[cols[k]], q.r[cols[k]]);
      if (c !== 0) return desc[k] ? -c : c;
    }
    return p.i - q.i;
  }).map((x) => x.r);
}

function groupRows(rows: Row[], keys: string[]): Map<string, Row[]> {
  const out = new Map<string, Row[]>();
  for (const r of rows) {
    const k = keyText(keys.map((c) => r[c]));
    let g = out.get(k);
    if (!g) out.set(k, g = []);
    g.push(r);
  }
  return out;
}

function nonNull(rows: Row[], c: string): number[] {
  return rows.map((r) => r[c]).filter((v) => v !== null).map((v) => Number(v));
}

function moments(xs: number[]): { mean: number; meanAbs: number; meanSq: number } {
  const n = xs.length;
  const mean = xs.reduce((s, x) => s + x, 0) / n;
  const finite = xs.filter((x) => Number.isFinite(x));
  const meanAbs = finite.reduce((s, x) => s + Math.abs(x), 0) / Math.max(1, finite.length);
  const meanSq = finite.reduce((s, x) => s + x * x, 0) / Math.max(1, finite.length);
  return { mean, meanAbs, meanSq };
}

/** One aggregation over the rows of a group (in source order), as the Deephaven server computes it. */
function aggValue(op: string, col: string | undefined, rows: Row[]): unknown {
  if (op === "count") return BigInt(rows.length);
  const c = col as string;
  if (op === "first") return rows[0][c];
  if (op === "last") return rows[rows.length - 1][c];
  const raw = rows.map((r) => r[c]).filter((v) => v !== null);
  if (raw.length === 0) return null;
  if (op === "sum") {
    if (typeof raw[0] === "bigint") return (raw as bigint[]).reduce((s, x) => s + x, 0n);
    if (c === "Qty") return BigInt((raw as number[]).reduce((s, x) => s + x, 0));
    return (raw as number[]).reduce((s, x) => s + x, 0);
  }
  if (op === "min" || op === "max") {
    // NaN wins both (as the server does); otherwise the extreme of the non-null values.
    if (raw.some((v) => typeof v === "number" && Number.isNaN(v))) return NaN;
    return raw.reduce((best, v) => (op === "min" ? cmpValue(v, best) < 0 : cmpValue(v, best) > 0) ? v : best);
  }
  const xs = nonNull(rows, c);
  const { mean, meanAbs, meanSq } = moments(xs);
  if (op === "avg") return new Approx(mean, Math.max(Math.abs(mean), meanAbs));
  // std and var: sample variance; NaN for one value or any non-finite value.
  const n = xs.length;
  let variance = NaN;
  if (n > 1 && Number.isFinite(mean) && xs.every((x) => Number.isFinite(x))) {
    variance = xs.reduce((s, x) => s + (x - mean) * (x - mean), 0) / (n - 1);
  }
  if (op === "var") return new Approx(variance, Math.max(variance, meanSq));
  return new Approx(Math.sqrt(variance), Math.max(variance, meanSq), true);
}

function parseAgg(spec: string): [string, string | undefined] {
  const m = spec.match(/^(\w+)\((\w*)\)$/)!;
  return [m[1], m[2] || undefined];
}

function aggExpected(rows: Row[], aggs: Record<string, string>, keys: string[]): Expected {
  const groups = groupRows(rows, keys);
  const out: unknown[][] = [];
  for (const g of groups.values()) {
    out.push([
      ...keys.map((k) => g[0][k]),
      ...Object.values(aggs).map((s) => aggValue(...parseAgg(s), g)),
    ]);
  }
  return { columns: [...keys, ...Object.keys(aggs)], rows: out, ordered: false, keys: keys.length };
}

function pickExpected(rows: Row[], cols: string[], keys: string[], which: "first" | "last"): Expected {
  const others = cols.filter((c) => !keys.includes(c));
  const aggs = Object.fromEntries(others.map((c) => [c, `${which}(${c})`]));
  return aggExpected(rows, aggs, keys);
}

function plain(rows: Row[], cols: string[]): Expected {
  return { columns: cols, rows: rows.map((r) => cols.map((c) => r[c])), ordered: true, keys: 0 };
}

function close(actual: unknown, expected: unknown): boolean {
  if (expected instanceof Approx) {
    if (typeof actual !== "number") return false;
    const e = expected.value;
    if (Number.isNaN(e) || !Number.isFinite(e)) return Object.is(actual, e);
    const a = expected.squared ? actual * actual : actual;
    const x = expected.squared ? e * e : e;
    // Incremental sums keep rounding residue of earlier values, so the bound is relative to the size of the
    // values (at least 1: the data are of order 1 to 100).
    return Math.abs(a - x) <= 1e-9 * Math.max(expected.scale, 1);
  }
  return same(actual, expected);
}

/** Differences between a derived table and its expected content. */
function diffTable(label: string, t: LocalTable, exp: Expected): string[] {
  const out: string[] = [];
  if (show(t.columns) !== show(exp.columns)) {
    return [`${label}: columns ${show(t.columns)}, expected ${show(exp.columns)}`];
  }
  let actual = t.toObjects().map((r) => exp.columns.map((c) => r[c]));
  let expected = exp.rows;
  if (!exp.ordered) {
    const byKey = (rows: unknown[][]) =>
      rows.map((r) => ({ r, k: keyText(r.slice(0, exp.keys)) }))
        .sort((a, b) => (a.k < b.k ? -1 : a.k > b.k ? 1 : 0))
        .map((x) => x.r);
    actual = byKey(actual);
    expected = byKey(expected);
  }
  if (actual.length !== expected.length) {
    out.push(`${label}: ${actual.length} rows, expected ${expected.length}`);
  }
  for (let i = 0; i < Math.min(actual.length, expected.length) && out.length < 5; i++) {
    for (let j = 0; j < exp.columns.length; j++) {
      if (!close(actual[i][j], expected[i][j])) {
        const e = expected[i][j] instanceof Approx ? (expected[i][j] as Approx).value : expected[i][j];
        out.push(
          `${label}: row ${i} (${show(actual[i].slice(0, Math.max(1, exp.keys)))}), column ${
            exp.columns[j]
          }: actual ${show(actual[i][j])}, expected ${show(e)}`,
        );
      }
    }
  }
  return out;
}

// ---------------------------------------------------------------- the derived tables under test

const ALL_AGGS = {
  S: "sum(Qty)",
  A: "avg(Px)",
  Mn: "min(Px)",
  Mx: "max(Qty)",
  N: "count()",
  F: "first(Qty)",
  L: "last(Px)",
  Sd: "std(Px)",
  V: "var(Qty)",
};
const SRC_COLS = ["Sym", "Qty", "Px", "Id"];
const notional = (r: Row) => (r.Qty === null || r.Px === null ? null : (r.Qty as number) * (r.Px as number));
const bigPx = (r: Row) => r.Sym !== null && typeof r.Px === "number" && r.Px > 10;

interface Case {
  label: string;
  build: (src: LocalTable) => LocalTable;
  expect: (rows: Row[]) => Expected;
}

const CASES: Case[] = [
  {
    label: "where('Qty > 50')",
    build: (s) => s.where("Qty > 50"),
    expect: (rows) => plain(rows.filter((r) => r.Qty !== null && (r.Qty as number) > 50), SRC_COLS),
  },
  {
    label: "where(row => ...)",
    build: (s) => s.where(bigPx),
    expect: (rows) => plain(rows.filter(bigPx), SRC_COLS),
  },
  {
    label: "where('Px > 0')",
    build: (s) => s.where("Px > 0"),
    expect: (rows) => plain(rows.filter((r) => r.Px !== null && (r.Px as number) > 0), SRC_COLS),
  },
  {
    label: `where(["Sym == 'A'", "Qty <= Px"])`,
    build: (s) => s.where(["Sym == 'A'", "Qty <= Px"]),
    expect: (rows) =>
      plain(
        rows.filter((r) =>
          r.Sym === "A" && r.Qty !== null && r.Px !== null && (r.Qty as number) <= (r.Px as number)
        ),
        SRC_COLS,
      ),
  },
  {
    label: `where(["Sym > 'B'", "Sym != 'D'"])`,
    build: (s) => s.where(["Sym > 'B'", "Sym != 'D'"]),
    expect: (rows) =>
      plain(rows.filter((r) => typeof r.Sym === "string" && r.Sym > "B" && r.Sym !== "D"), SRC_COLS),
  },
  {
    label: "where(\"Sym == '\u{1F600}'\")",
    build: (s) => s.where("Sym == '\u{1F600}'"),
    expect: (rows) => plain(rows.filter((r) => r.Sym === "\u{1F600}"), SRC_COLS),
  },
  {
    label: "where('Sym != null')",
    build: (s) => s.where("Sym != null"),
    expect: (rows) => plain(rows.filter((r) => r.Sym !== null), SRC_COLS),
  },
  {
    label: "view(['Sym', 'P = Px'])",
    build: (s) => s.view(["Sym", "P = Px"]),
    expect: (rows) => plain(rows.map((r) => ({ Sym: r.Sym, P: r.Px })), ["Sym", "P"]),
  },
  {
    label: "update({Notional})",
    build: (s) => s.update({ Notional: notional }),
    expect: (rows) => plain(rows.map((r) => ({ ...r, Notional: notional(r) })), [...SRC_COLS, "Notional"]),
  },
  {
    label: "sort(['Px'], desc)",
    build: (s) => s.sort(["Px"], { descending: true }),
    expect: (rows) => plain(sortRows(rows, ["Px"], [true]), SRC_COLS),
  },
  {
    label: "sort(['Sym', 'Qty'], [asc, desc])",
    build: (s) => s.sort(["Sym", "Qty"], { descending: [false, true] }),
    expect: (rows) => plain(sortRows(rows, ["Sym", "Qty"], [false, true]), SRC_COLS),
  },
  { label: "head(5)", build: (s) => s.head(5), expect: (rows) => plain(rows.slice(0, 5), SRC_COLS) },
  { label: "tail(5)", build: (s) => s.tail(5), expect: (rows) => plain(rows.slice(-5), SRC_COLS) },
  { label: "head(0)", build: (s) => s.head(0), expect: () => plain([], SRC_COLS) },
  {
    label: "aggBy(all, 'Sym')",
    build: (s) => s.aggBy(ALL_AGGS, "Sym"),
    expect: (rows) => aggExpected(rows, ALL_AGGS, ["Sym"]),
  },
  {
    label: "aggBy(no keys)",
    build: (s) => s.aggBy({ N: "count()", S: "sum(Qty)", SI: "sum(Id)", MxI: "max(Id)", Mx: "max(Px)" }),
    expect: (rows) =>
      aggExpected(rows, { N: "count()", S: "sum(Qty)", SI: "sum(Id)", MxI: "max(Id)", Mx: "max(Px)" }, []),
  },
  {
    label: "aggBy(['Sym', 'Qty'])",
    build: (s) => s.aggBy({ N: "count()", L: "last(Px)", MnS: "min(Id)" }, ["Sym", "Qty"]),
    expect: (rows) => aggExpected(rows, { N: "count()", L: "last(Px)", MnS: "min(Id)" }, ["Sym", "Qty"]),
  },
  {
    label: "countBy('Sym')",
    build: (s) => s.countBy("Sym"),
    expect: (rows) => aggExpected(rows, { Count: "count()" }, ["Sym"]),
  },
  {
    label: "firstBy('Sym')",
    build: (s) => s.firstBy("Sym"),
    expect: (rows) => pickExpected(rows, SRC_COLS, ["Sym"], "first"),
  },
  {
    label: "lastBy('Sym')",
    build: (s) => s.lastBy("Sym"),
    expect: (rows) => pickExpected(rows, SRC_COLS, ["Sym"], "last"),
  },
  { label: "lastBy()", build: (s) => s.lastBy(), expect: (rows) => pickExpected(rows, SRC_COLS, [], "last") },
  {
    label: "where('Qty > 50').lastBy('Sym')",
    build: (s) => s.where("Qty > 50").lastBy("Sym"),
    expect: (rows) =>
      pickExpected(rows.filter((r) => r.Qty !== null && (r.Qty as number) > 50), SRC_COLS, ["Sym"], "last"),
  },
  {
    label: "sort(['Px'], desc).head(3)",
    build: (s) => s.sort(["Px"], { descending: true }).head(3),
    expect: (rows) => plain(sortRows(rows, ["Px"], [true]).slice(0, 3), SRC_COLS),
  },
  {
    label: "sort(['Qty']).tail(4)",
    build: (s) => s.sort(["Qty"]).tail(4),
    expect: (rows) => plain(sortRows(rows, ["Qty"], [false]).slice(-4), SRC_COLS),
  },
  {
    label: "update({Notional}).where(Notional > 100)",
    build: (s) =>
      s.update({ Notional: notional }).where((r) => typeof r.Notional === "number" && r.Notional > 100),
    expect: (rows) =>
      plain(
        rows.map((r) => ({ ...r, Notional: notional(r) })).filter((r) => (r.Notional ?? -Infinity) > 100),
        [...SRC_COLS, "Notional"],
      ),
  },
  {
    label: "lastBy('Sym').sort(['Px', 'Sym'])",
    build: (s) => s.lastBy("Sym").sort(["Px", "Sym"]),
    expect: (rows) => {
      const last = [...groupRows(rows, ["Sym"]).values()].map((g) => g[g.length - 1]);
      return plain(sortRows(last, ["Px", "Sym"], [false, false]), SRC_COLS);
    },
  },
  {
    label: "tail(8).where('Px > 0').aggBy(Sym)",
    build: (s) => s.tail(8).where("Px > 0").aggBy({ N: "count()", A: "avg(Px)" }, "Sym"),
    expect: (rows) =>
      aggExpected(rows.slice(-8).filter((r) => r.Px !== null && (r.Px as number) > 0), {
        N: "count()",
        A: "avg(Px)",
      }, ["Sym"]),
  },
  {
    label: "view(['Sym', 'P = Px']).sort(['P']).head(6)",
    build: (s) => s.view(["Sym", "P = Px"]).sort(["P"]).head(6),
    expect: (rows) =>
      plain(sortRows(rows.map((r) => ({ Sym: r.Sym, P: r.Px })), ["P"], [false]).slice(0, 6), ["Sym", "P"]),
  },
];

function modelRows(model: Entry[]): Row[] {
  return model.map((e) => ({ ...e.row }));
}

function runSeed(seed: number, mode: "keyed" | "positional", steps: number): { checks: number } {
  const r = rand(seed);
  let id = 0n;
  const nextId = () => (id += 1n) * (r.next() < 0.1 ? 1_000_000_007n : 1n);
  const initial = Array.from({ length: r.int(1, 40) }, () => randomRow(r, nextId));
  const src = sourceTable(initial);
  const model: Entry[] = initial.map((row, key) => ({ key, row }));
  const tables: { label: string; t: LocalTable; expect: (rows: Row[]) => Expected; mirror: Mirror }[] = [];
  const add = (c: Case, suffix = "") => {
    const t = c.build(src);
    tables.push({ label: c.label + suffix, t, expect: c.expect, mirror: new Mirror(c.label + suffix, t) });
  };
  CASES.forEach((c) => add(c));
  const srcMirror = new Mirror("source", src);
  let checks = 0;
  for (let step = 1; step <= steps; step++) {
    const big = r.next() < 0.02;
    if (mode === "keyed") keyedStep(r, src, model, nextId, big);
    else positionalStep(r, src, model, nextId, big);
    // Derived tables made mid-way start from the source's current content.
    if (step === Math.floor(steps / 2)) {
      for (const c of CASES.filter((_, i) => i % 3 === 0)) add(c, " (made mid-way)");
    }
    const rows = modelRows(model);
    const problems = [...diffTable("source", src, plain(rows, SRC_COLS)), ...srcMirror.diff()];
    for (const x of tables) {
      assert.equal(x.t.state, "live", `${x.label} is live (error: ${x.t.error?.message})`);
      problems.push(...diffTable(x.label, x.t, x.expect(rows)), ...x.mirror.diff());
      checks++;
    }
    if (problems.length > 0) {
      assert.fail(`seed ${seed} (${mode}), step ${step}:\n  ${problems.slice(0, 12).join("\n  ")}`);
    }
  }
  // Closing the source closes every derived table, chained ones too.
  src.close();
  for (const x of tables) assert.equal(x.t.state, "closed", `${x.label} closes with its source`);
  return { checks };
}

Deno.test("local queries equal a naive recomputation after every random key-space update", () => {
  let checks = 0;
  for (let seed = 1; seed <= 6; seed++) checks += runSeed(seed, "keyed", 400).checks;
  assert.ok(checks > 50_000, `${checks} table comparisons`);
});

Deno.test("local queries equal a naive recomputation after every random position-space update", () => {
  let checks = 0;
  for (let seed = 101; seed <= 104; seed++) checks += runSeed(seed, "positional", 400).checks;
  assert.ok(checks > 30_000, `${checks} table comparisons`);
});

Deno.test("a derived table tells its listeners about changes, and follows its source's state", () => {
  const src = sourceTable([
    { Sym: "A", Qty: 10, Px: 1.5, Id: 1n },
    { Sym: "B", Qty: 60, Px: 2.5, Id: 2n },
  ]);
  const big = src.where("Qty > 50");
  const last = big.lastBy("Sym");
  const seen: TableUpdate[] = [];
  const off = last.onUpdate((u) => seen.push(u));
  // A row that does not pass the filter changes nothing downstream.
  writerOf(src).applyKeyed({
    isSnapshot: false,
    removed: RowSet.EMPTY,
    shifts: undefined,
    added: RowSet.fromKeys([2]),
    addData: COLS.map((c) => rawChunk(c, [{ Sym: "B", Qty: 5, Px: 9, Id: 3n }[c]])),
    modified: COLS.map(() => RowSet.EMPTY),
    modData: COLS.map(() => []),
  });
  assert.equal(seen.length, 0, "no event when the derived table did not change");
  // A passing row of an existing group modifies that group's row.
  writerOf(src).applyKeyed({
    isSnapshot: false,
    removed: RowSet.EMPTY,
    shifts: undefined,
    added: RowSet.fromKeys([3]),
    addData: COLS.map((c) => rawChunk(c, [{ Sym: "B", Qty: 70, Px: 3.5, Id: 4n }[c]])),
    modified: COLS.map(() => RowSet.EMPTY),
    modData: COLS.map(() => []),
  });
  assert.equal(seen.length, 1);
  assert.equal(seen[0].added.size, 0);
  assert.equal(seen[0].modified.size, 1);
  assert.deepEqual(last.toObjects(), [{ Sym: "B", Qty: 70, Px: 3.5, Id: 4n }]);
  // A passing row of a new group adds a row.
  writerOf(src).applyKeyed({
    isSnapshot: false,
    removed: RowSet.EMPTY,
    shifts: undefined,
    added: RowSet.fromKeys([4]),
    addData: COLS.map((c) => rawChunk(c, [{ Sym: "C", Qty: 99, Px: null, Id: 5n }[c]])),
    modified: COLS.map(() => RowSet.EMPTY),
    modData: COLS.map(() => []),
  });
  assert.equal(seen.length, 2);
  assert.equal(seen[1].added.size, 1);
  assert.equal(last.size, 2);
  off();
  // State changes flow down the chain; closing the source closes every derived table.
  writerOf(src).setState("stale");
  assert.equal(big.state, "stale");
  assert.equal(last.state, "stale");
  src.close();
  assert.equal(big.state, "closed");
  assert.equal(last.state, "closed");
  // A table derived from a closed table is closed at once.
  assert.equal(src.head(2).state, "closed");
});

/** The sample variance of some numbers, two-pass (the reference for well-conditioned data). */
function twoPassVariance(xs: number[]): number {
  const mean = xs.reduce((a, b) => a + b, 0) / xs.length;
  return xs.reduce((a, x) => a + (x - mean) * (x - mean), 0) / (xs.length - 1);
}

Deno.test("std and var stay exact while huge values come and go, and when the mean dwarfs the spread", () => {
  const schema = new arrow.Schema([new arrow.Field("V", new arrow.Float64(), true)]);
  const { table: src, writer } = createLocalTable(schema);
  const stats = src.aggBy({ Var: "var(V)", Sd: "std(V)" });
  const r = rand(99);
  const values = new Map<number, number>();
  let nextKey = 0;
  const step = (add: number[], remove: number[]) => {
    const keys = add.map(() => nextKey++);
    writer.applyKeyed({
      isSnapshot: false,
      removed: RowSet.fromKeys(remove),
      shifts: undefined,
      added: RowSet.fromKeys(keys),
      addData: [[Float64Array.from(add)]],
      modified: [RowSet.EMPTY],
      modData: [[]],
    });
    for (const k of remove) values.delete(k);
    keys.forEach((k, i) => values.set(k, add[i]));
  };
  const check = (what: string) => {
    const want = twoPassVariance([...values.values()]);
    const got = stats.get(0, "Var") as number;
    assert.ok(Math.abs(got - want) <= 1e-12 * want, `${what}: var ${got}, expected ${want}`);
    assert.ok(Math.abs((stats.get(0, "Sd") as number) - Math.sqrt(want)) <= 1e-12 * Math.sqrt(want));
  };
  // 200 rounds: values of 1e15 arrive and leave, small ones stay (a running sum of doubles keeps the error
  // the large values left behind, which is far larger than the variance of the small ones).
  const small: number[] = [];
  for (let round = 0; round < 200; round++) {
    const big = Array.from({ length: 50 }, () => (r.next() - 0.5) * 1e15);
    const firstBig = nextKey;
    step(big, []);
    const keep = Array.from({ length: 5 }, () => r.int(-100, 100) / 8);
    small.push(...keep);
    step(keep, Array.from({ length: 50 }, (_, i) => firstBig + i));
  }
  assert.equal(values.size, small.length);
  check("after 10,000 huge values came and went");
  // Values around 1e9 that differ by about 1: n·Σx² and (Σx)² agree in their first 18 digits.
  step(Array.from({ length: 1000 }, () => 1e9 + r.int(0, 1000) / 256), [...values.keys()]);
  check("mean 1e9, spread 1");
  stats.close();
});
