/**
 * Local queries on local tables: `where`, `view`, `update`, `sort`, `head`,
 * `tail`, `aggBy`, `firstBy`, `lastBy`. Each returns a derived table that is
 * maintained incrementally from its source's updates: the work per update
 * follows the size of the change (plus, for `sort`, a binary search per
 * changed row and one move of the row index).
 *
 * @module
 */

import * as arrow from "apache-arrow";
import { DeephavenError, GrpcCode } from "../errors.ts";
import {
  type ComputedColumns,
  type LocalAggregations,
  type LocalTable,
  registerQueryEngine,
  type Row,
  type RowFilter,
} from "../table/local_table.ts";
import { RowSet } from "../table/rowset.ts";
import { type ColumnKind, columnKind, nullSentinel, toRaw } from "../table/column.ts";
import { derive, SlotReader } from "./derive.ts";

const EMPTY = RowSet.EMPTY;

function bad(message: string): DeephavenError {
  return new DeephavenError(message, { code: GrpcCode.INVALID_ARGUMENT });
}

function isEmptyUpdate(removed: RowSet, added: RowSet, modified: RowSet[], shifted: boolean): boolean {
  return !shifted && removed.isEmpty && added.isEmpty && modified.every((m) => m.isEmpty);
}

// ---------------------------------------------------------------- where

const COMPARISON = /^\s*([A-Za-z_][A-Za-z0-9_]*)\s*(==|=|!=|>=|<=|>|<)\s*(.+?)\s*$/;

function literal(text: string): { value: unknown } | undefined {
  if (/^-?\d+(\.\d+)?([eE][-+]?\d+)?$/.test(text)) return { value: Number(text) };
  if (/^-?\d+n$/.test(text)) return { value: BigInt(text.slice(0, -1)) };
  const q = text.match(/^'(.*)'$|^"(.*)"$|^`(.*)`$/);
  if (q) return { value: q[1] ?? q[2] ?? q[3] };
  if (text === "true" || text === "false") return { value: text === "true" };
  if (text === "null") return { value: null };
  return undefined;
}

function comparable(v: unknown): unknown {
  return v instanceof Date ? v.getTime() : v;
}

function compileComparison(expr: string, reader: SlotReader): (slot: number) => boolean {
  const m = expr.match(COMPARISON);
  if (!m) {
    throw bad(
      `Cannot read the filter ${
        JSON.stringify(expr)
      }; write "Column op value" with op one of == != < <= > >=, ` +
        "or pass a function of the row",
    );
  }
  const left = reader.index(m[1]);
  const op = m[2] === "=" ? "==" : m[2];
  const lit = literal(m[3]);
  const right = lit ? undefined : reader.index(m[3]);
  const ls = reader.stores[left];
  const rs = right === undefined ? undefined : reader.stores[right];
  return (slot) => {
    const a = comparable(ls.get(slot));
    const b = comparable(rs ? rs.get(slot) : lit!.value);
    if (op === "==") return a === b || (a !== null && b !== null && a == b);
    if (op === "!=") return !(a === b || (a !== null && b !== null && a == b));
    if (a === null || b === null) return false;
    // deno-lint-ignore no-explicit-any
    const x = a as any, y = b as any;
    return op === "<" ? x < y : op === "<=" ? x <= y : op === ">" ? x > y : x >= y;
  };
}

function compileFilter(filter: RowFilter, reader: SlotReader): (slot: number) => boolean {
  if (typeof filter === "function") return (slot) => Boolean(filter(reader.row(slot)));
  const parts = (typeof filter === "string" ? [filter] : filter).map((f) => compileComparison(f, reader));
  return (slot) => parts.every((p) => p(slot));
}

function where(source: LocalTable, filter: RowFilter): LocalTable {
  const reader = new SlotReader(source);
  const pass = compileFilter(filter, reader);
  // Rows keep the source's order; each update costs a search per changed row.
  const cmp = (a: number, b: number) => source.positionOfSlot(a) - source.positionOfSlot(b);
  return orderedView(source, reader, cmp, pass, () => false);
}

// ---------------------------------------------------------------- view / update

interface MappedColumn {
  field: arrow.Field;
  from?: number;
  fn?: (row: Row) => unknown;
  kind: ColumnKind;
}

function fieldFor(name: string, sample: unknown): arrow.Field {
  const md = (t: string) => new Map([["deephaven:type", t]]);
  if (typeof sample === "bigint") return new arrow.Field(name, new arrow.Int64(), true, md("long"));
  if (typeof sample === "string") {
    return new arrow.Field(name, new arrow.Utf8(), true, md("java.lang.String"));
  }
  if (typeof sample === "boolean") {
    return new arrow.Field(name, new arrow.Bool(), true, md("java.lang.Boolean"));
  }
  if (sample instanceof Date) {
    return new arrow.Field(name, new arrow.TimestampNanosecond("UTC"), true, md("java.time.Instant"));
  }
  return new arrow.Field(name, new arrow.Float64(), true, md("double"));
}

function mapped(source: LocalTable, columns: MappedColumn[]): LocalTable {
  const reader = new SlotReader(source);
  const schema = new arrow.Schema(columns.map((c) => c.field), (source.schema as arrow.Schema).metadata);
  const values = (c: MappedColumn, slots: Int32Array): unknown[] => {
    if (c.from !== undefined) return reader.rawColumn(c.from, slots);
    const out = new Array<unknown>(slots.length);
    for (let i = 0; i < slots.length; i++) out[i] = toRaw(c.kind, c.fn!(reader.row(slots[i])));
    return out;
  };
  return derive(source, schema, (out, u) => {
    const slots = u.slots!;
    const modCols = new Set(u.modifiedColumns);
    const affected = columns.map((c) =>
      !u.modified.isEmpty && (c.from === undefined ? modCols.size > 0 : modCols.has(reader.names[c.from]))
    );
    out.applyKeyed({
      isSnapshot: u.isSnapshot,
      removed: u.removed,
      shifts: u.shifted ? u.shifts : undefined,
      added: u.added,
      addData: columns.map((c) => [values(c, slots.added)]),
      modified: columns.map((_, j) => (affected[j] ? u.modified : EMPTY)),
      modData: columns.map((c, j) => (affected[j] ? [values(c, slots.modified)] : [])),
    });
  });
}

function view(source: LocalTable, specs: string[]): LocalTable {
  const reader = new SlotReader(source);
  if (specs.length === 0) throw bad("view() needs at least one column");
  const cols: MappedColumn[] = specs.map((spec) => {
    const m = spec.match(/^\s*([A-Za-z_][A-Za-z0-9_]*)\s*(?:=\s*([A-Za-z_][A-Za-z0-9_]*)\s*)?$/);
    if (!m) throw bad(`Cannot read the column ${JSON.stringify(spec)}; write "Name" or "NewName = Name"`);
    const from = reader.index(m[2] ?? m[1]);
    const f = (source.schema as arrow.Schema).fields[from];
    return {
      field: new arrow.Field(m[1], f.type, f.nullable, f.metadata),
      from,
      kind: reader.stores[from].kind,
    };
  });
  return mapped(source, cols);
}

function update(source: LocalTable, computed: ComputedColumns): LocalTable {
  const reader = new SlotReader(source);
  const fields = (source.schema as arrow.Schema).fields;
  const names = Object.keys(computed);
  if (names.length === 0) throw bad("update() needs at least one column");
  const cols: MappedColumn[] = fields
    .filter((f) => !(f.name in computed))
    .map((f) => ({ field: f, from: reader.index(f.name), kind: columnKind(f) }));
  for (const name of names) {
    const fn = computed[name];
    if (typeof fn !== "function") {
      throw bad(`update() column ${JSON.stringify(name)} needs a function of the row`);
    }
    let sample: unknown = null;
    for (let p = 0; p < source.size && (sample === null || sample === undefined); p++) {
      sample = fn(reader.row(source.slotAt(p)));
    }
    const field = fieldFor(name, sample);
    cols.push({ field, fn, kind: columnKind(field) });
  }
  return mapped(source, cols);
}

// ---------------------------------------------------------------- head / tail

function windowed(source: LocalTable, n: number, fromEnd: boolean): LocalTable {
  if (!Number.isSafeInteger(n) || n < 0) {
    throw bad(`${fromEnd ? "tail" : "head"}() needs a whole number >= 0, got ${n}`);
  }
  const reader = new SlotReader(source);
  const ncol = reader.stores.length;
  let win: number[] = [];
  return derive(source, source.schema as arrow.Schema, (out, u) => {
    const size = source.size;
    const m = Math.min(n, size);
    const start = fromEnd ? size - m : 0;
    const next: number[] = new Array(m);
    for (let i = 0; i < m; i++) next[i] = source.slotAt(start + i);
    const gone = new Set(u.slots!.removed);
    let i = 0;
    while (i < win.length && i < next.length && win[i] === next[i] && !gone.has(win[i])) i++;
    const removed = i < win.length ? RowSet.range(i, win.length - 1) : EMPTY;
    const added = i < next.length ? RowSet.range(i, next.length - 1) : EMPTY;
    const addSlots = Int32Array.from(next.slice(i));
    const modSet = new Set(u.slots!.modified);
    const modCols = new Set(u.modifiedColumns);
    const modPos: number[] = [];
    for (let p = 0; p < i; p++) if (modSet.has(next[p])) modPos.push(p);
    const modRows = RowSet.fromKeys(modPos);
    const modSlots = Int32Array.from(modPos.map((p) => next[p]));
    win = next;
    const modified = reader.names.map((nm) => (modCols.has(nm) ? modRows : EMPTY));
    if (isEmptyUpdate(removed, added, modified, false) && !u.isSnapshot) return;
    out.applyPositional({
      isSnapshot: u.isSnapshot,
      removed,
      added,
      addData: Array.from({ length: ncol }, (_, j) => [reader.rawColumn(j, addSlots)]),
      modified,
      modData: reader.names.map((nm, j) => (modCols.has(nm) ? [reader.rawColumn(j, modSlots)] : [])),
    });
  });
}

// ---------------------------------------------------------------- sort

/** Compares raw values of one kind: nulls first, NaN last. */
function compareRaw(kind: ColumnKind, a: unknown, b: unknown): number {
  const s = nullSentinel(kind);
  const an = a === null || a === undefined || (s !== undefined && a === s);
  const bn = b === null || b === undefined || (s !== undefined && b === s);
  if (an || bn) return an && bn ? 0 : an ? -1 : 1;
  if (typeof a === "number" && typeof b === "number") {
    if (Number.isNaN(a) || Number.isNaN(b)) return Number.isNaN(a) ? (Number.isNaN(b) ? 0 : 1) : -1;
  }
  // deno-lint-ignore no-explicit-any
  const x = a as any, y = b as any;
  return x < y ? -1 : x > y ? 1 : 0;
}

function growInt32(a: Int32Array, n: number): Int32Array<ArrayBuffer> {
  if (n <= a.length) return a as Int32Array<ArrayBuffer>;
  const next = new Int32Array(Math.max(n, a.length * 2, 16)).fill(-1);
  next.set(a);
  return next;
}

/**
 * A position-space view of a source: the rows that pass `pass`, ordered by
 * `cmp`. Rows are placed by binary search, so an update costs a search per
 * changed row (plus moving the row index), not a pass over the table. Used by
 * `sort` (order by values) and `where` (order by source position).
 */
function orderedView(
  source: LocalTable,
  reader: SlotReader,
  cmp: (a: number, b: number) => number,
  pass: ((slot: number) => boolean) | undefined,
  repositionOn: (modifiedColumns: readonly string[]) => boolean,
): LocalTable {
  const ncol = reader.stores.length;
  let outOfSrc = new Int32Array(16).fill(-1);
  let srcOfOut = new Int32Array(16).fill(-1);
  const inView = (s: number) => s < outOfSrc.length && outOfSrc[s] >= 0;
  return derive(source, source.schema as arrow.Schema, (out, u) => {
    const slots = u.slots!;
    const reposition = repositionOn(u.modifiedColumns);
    const leaving: number[] = [], arriving: number[] = [], inPlace: number[] = [];
    for (const s of slots.removed) if (inView(s)) leaving.push(s);
    for (const s of slots.modified) {
      const was = inView(s), now = pass ? pass(s) : true;
      if (was && now) {
        if (reposition) {
          leaving.push(s);
          arriving.push(s);
        } else inPlace.push(s);
      } else if (was) leaving.push(s);
      else if (now) arriving.push(s);
    }
    for (const s of slots.added) if (!pass || pass(s)) arriving.push(s);
    // 1. Rows that leave.
    if (leaving.length > 0) {
      const positions = leaving.map((s) => out.positionOfSlot(outOfSrc[s])).sort((a, b) => a - b);
      for (const s of leaving) outOfSrc[s] = -1;
      out.applyPositional({
        isSnapshot: false,
        removed: RowSet.fromKeys(positions),
        added: EMPTY,
        addData: [],
        modified: [],
        modData: [],
      });
    }
    // 2. Rows that arrive, each placed by binary search.
    if (arriving.length > 0 || u.isSnapshot) {
      arriving.sort(cmp);
      const m = out.size;
      const positions = arriving.map((s, i) => {
        let lo = 0, hi = m;
        while (lo < hi) {
          const mid = (lo + hi) >> 1;
          if (cmp(srcOfOut[out.slotAt(mid)], s) < 0) lo = mid + 1;
          else hi = mid;
        }
        return lo + i;
      });
      const srcSlots = Int32Array.from(arriving);
      const ev = out.applyPositional({
        isSnapshot: u.isSnapshot,
        removed: EMPTY,
        added: RowSet.fromKeys(positions),
        addData: Array.from({ length: ncol }, (_, j) => [reader.rawColumn(j, srcSlots)]),
        modified: [],
        modData: [],
      });
      const outSlots = ev?.slots?.added ?? new Int32Array(0);
      for (let i = 0; i < outSlots.length; i++) {
        outOfSrc = growInt32(outOfSrc, srcSlots[i] + 1);
        srcOfOut = growInt32(srcOfOut, outSlots[i] + 1);
        outOfSrc[srcSlots[i]] = outSlots[i];
        srcOfOut[outSlots[i]] = srcSlots[i];
      }
    }
    // 3. Values that changed in place.
    if (inPlace.length > 0 && u.modifiedColumns.length > 0) {
      const order = inPlace.sort((a, b) => out.positionOfSlot(outOfSrc[a]) - out.positionOfSlot(outOfSrc[b]));
      const rows = RowSet.fromKeys(order.map((s) => out.positionOfSlot(outOfSrc[s])));
      const srcSlots = Int32Array.from(order);
      const modCols = new Set(u.modifiedColumns);
      out.applyPositional({
        isSnapshot: false,
        removed: EMPTY,
        added: EMPTY,
        addData: [],
        modified: reader.names.map((n) => (modCols.has(n) ? rows : EMPTY)),
        modData: reader.names.map((n, j) => (modCols.has(n) ? [reader.rawColumn(j, srcSlots)] : [])),
      });
    }
  });
}

function sort(source: LocalTable, columns: string[], descending: boolean[]): LocalTable {
  if (columns.length === 0) throw bad("sort() needs at least one column");
  if (descending.length !== columns.length) {
    throw bad(
      `sort() got ${columns.length} columns but ${descending.length} directions; give one per column`,
    );
  }
  const reader = new SlotReader(source);
  const keys = columns.map((c) => reader.index(c));
  const sortCols = new Set(columns);
  const cmp = (a: number, b: number): number => {
    for (let k = 0; k < keys.length; k++) {
      const st = reader.stores[keys[k]];
      const c = compareRaw(st.kind, st.raw(a), st.raw(b));
      if (c !== 0) return descending[k] ? -c : c;
    }
    return source.positionOfSlot(a) - source.positionOfSlot(b);
  };
  return orderedView(source, reader, cmp, undefined, (cols) => cols.some((c) => sortCols.has(c)));
}

// ---------------------------------------------------------------- aggregations

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
const INTEGER: ReadonlySet<ColumnKind> = new Set(["int8", "int16", "int32", "int64", "char"]);
const NUMERIC: ReadonlySet<ColumnKind> = new Set([...INTEGER, "float32", "float64"]);

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
      const pos = src.positionOfSlot(slot);
      if (!this.firstDirty[g] && (this.first[g] < 0 || pos < src.positionOfSlot(this.first[g]))) {
        this.first[g] = slot;
      }
      if (!this.lastDirty[g] && (this.last[g] < 0 || pos > src.positionOfSlot(this.last[g]))) {
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
        const p = src.positionOfSlot(s);
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

  constructor(readonly spec: AggSpec, readonly reader: SlotReader) {
    this.#kind = reader.stores[spec.column].kind;
    if (!NUMERIC.has(this.#kind)) {
      throw bad(`${spec.op}(${reader.names[spec.column]}) needs a numeric column`);
    }
    const integerSum = spec.op === "sum" && INTEGER.has(this.#kind);
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
    const mean = this.sum[g] / n;
    const variance = n > 1 ? Math.max(0, (this.sumSq[g] - n * mean * mean) / (n - 1)) : NaN;
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

function aggBy(source: LocalTable, aggs: LocalAggregations, keys: string[]): LocalTable {
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

registerQueryEngine({
  where,
  view,
  update,
  sort,
  head: (t, n) => windowed(t, n, false),
  tail: (t, n) => windowed(t, n, true),
  aggBy,
  firstBy: (t, keys) => pickBy(t, keys, "first"),
  lastBy: (t, keys) => pickBy(t, keys, "last"),
});

/** Whether the local query engine is loaded (importing this module loads it). */
export const localQueriesLoaded = true;
