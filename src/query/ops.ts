/**
 * Local queries on local tables, the query engine that {@linkcode LocalTable}'s methods call: `where`
 * (filters in `./filter.ts`), `view`, `update`, `sort`, `head`, `tail` here, and the aggregations
 * (`aggBy`, `firstBy`, `lastBy`, in `./aggregate.ts`). Each returns a derived table that is maintained
 * incrementally from its source's updates: the work per update follows the size of the change (plus, for
 * `sort`, a binary search per changed row and one move of the row index).
 *
 * @module
 */

import * as arrow from "../deps/apache_arrow.ts";
import {
  type ComputedColumns,
  type LocalTable,
  type Row,
  type RowFilter,
  storageOf,
} from "../table/local_table.ts";
import { RowSet } from "../table/rowset.ts";
import { COLUMN_TYPES, computedRaw, fieldOfType, inferType, isColumnType } from "./column_types.ts";
import type { Chunk } from "../table/column.ts";
import { bad, derive, growInt32, isEmptyUpdate, SlotReader } from "./derive.ts";
import { compileFilter } from "./filter.ts";

export { aggBy, firstBy, lastBy } from "./aggregate.ts";

const EMPTY = RowSet.EMPTY;

/** Local `where` (see the LocalTable method). */
export function where(source: LocalTable, filter: RowFilter): LocalTable {
  const reader = new SlotReader(source);
  const pass = compileFilter(filter, reader);
  // Rows keep the source's order; each update costs a search per changed row.
  const cmp = (a: number, b: number) =>
    storageOf(source).positionOfSlot(a) - storageOf(source).positionOfSlot(b);
  return orderedView(source, reader, cmp, pass, () => false);
}

// ---------------------------------------------------------------- view / update

interface MappedColumn {
  field: arrow.Field;
  from?: number;
  fn?: (row: Row) => unknown;
  /** A computed column's conversion of its function's values to storage. */
  raw?: (v: unknown) => unknown;
  /** A computed column's values for the source's rows when it was made (used once, for the first update). */
  initial?: unknown[];
}

function mapped(source: LocalTable, columns: MappedColumn[]): LocalTable {
  const reader = new SlotReader(source);
  const schema = new arrow.Schema(columns.map((c) => c.field), (source.schema as arrow.Schema).metadata);
  return derive(source, schema, (out, u) => {
    const slots = u.slots!;
    // The rows of each slot array, made once for all computed columns.
    const rows = new Map<Int32Array, Row[]>();
    const rowsOf = (s: Int32Array) => {
      let r = rows.get(s);
      if (r === undefined) rows.set(s, r = Array.from(s, (slot) => reader.row(slot)));
      return r;
    };
    const values = (c: MappedColumn, s: Int32Array): Chunk => {
      if (c.from !== undefined) return reader.rawColumn(c.from, s);
      const initial = c.initial;
      c.initial = undefined;
      return (initial ?? rowsOf(s).map((r) => c.fn!(r))).map((v) => c.raw!(v));
    };
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

/** Local `view` (see the LocalTable method). */
export function view(source: LocalTable, specs: string[]): LocalTable {
  const reader = new SlotReader(source);
  if (specs.length === 0) throw bad("view() needs at least one column");
  const cols: MappedColumn[] = specs.map((spec) => {
    const m = spec.match(/^\s*([A-Za-z_][A-Za-z0-9_]*)\s*(?:=\s*([A-Za-z_][A-Za-z0-9_]*)\s*)?$/);
    if (!m) throw bad(`Cannot read the column ${JSON.stringify(spec)}; write "Name" or "NewName = Name"`);
    const from = reader.index(m[2] ?? m[1]);
    const f = (source.schema as arrow.Schema).fields[from];
    return { field: new arrow.Field(m[1], f.type, f.nullable, f.metadata), from };
  });
  return mapped(source, cols);
}

/** Local `update` (see the LocalTable method). */
export function update(source: LocalTable, computed: ComputedColumns): LocalTable {
  const reader = new SlotReader(source);
  const fields = (source.schema as arrow.Schema).fields;
  const names = Object.keys(computed);
  if (names.length === 0) throw bad("update() needs at least one column");
  const cols: MappedColumn[] = fields
    .filter((f) => !(f.name in computed))
    .map((f) => ({ field: f, from: reader.index(f.name) }));
  // The function's values for the current rows: they tell the type (when not given) and fill the first update.
  let rows: Row[] | undefined;
  for (const name of names) {
    const spec = computed[name];
    const fn = typeof spec === "function" ? spec : spec?.value;
    const given = typeof spec === "function" ? undefined : spec?.type;
    if (typeof fn !== "function") {
      throw bad(
        `update() column ${JSON.stringify(name)} needs a function of the row, or { type, value } with one`,
      );
    }
    if (given !== undefined && !isColumnType(given)) {
      throw bad(
        `update() column ${JSON.stringify(name)} has the unknown type ${JSON.stringify(given)}; ` +
          `the types are ${COLUMN_TYPES.join(", ")}`,
      );
    }
    rows ??= Array.from(storageOf(source).slots(), (slot) => reader.row(slot));
    const initial = rows.map((r) => fn(r));
    const type = given ?? inferType(name, initial);
    cols.push({ field: fieldOfType(name, type), fn, raw: computedRaw(name, type), initial });
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
    for (let i = 0; i < m; i++) next[i] = storageOf(source).slotAt(start + i);
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
      const positions = leaving.map((s) => out.storage.positionOfSlot(outOfSrc[s])).sort((a, b) => a - b);
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
      const m = out.storage.size;
      const positions = arriving.map((s, i) => {
        let lo = 0, hi = m;
        while (lo < hi) {
          const mid = (lo + hi) >> 1;
          if (cmp(srcOfOut[out.storage.slotAt(mid)], s) < 0) lo = mid + 1;
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
      const order = inPlace.sort((a, b) =>
        out.storage.positionOfSlot(outOfSrc[a]) - out.storage.positionOfSlot(outOfSrc[b])
      );
      const rows = RowSet.fromKeys(order.map((s) => out.storage.positionOfSlot(outOfSrc[s])));
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

/** Local `sort` (see the LocalTable method). */
export function sort(source: LocalTable, columns: string[], descending: boolean[]): LocalTable {
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
      const c = reader.stores[keys[k]].compareSlots(a, b);
      if (c !== 0) return descending[k] ? -c : c;
    }
    return storageOf(source).positionOfSlot(a) - storageOf(source).positionOfSlot(b);
  };
  return orderedView(source, reader, cmp, undefined, (cols) => cols.some((c) => sortCols.has(c)));
}

export function head(t: LocalTable, n: number): LocalTable {
  return windowed(t, n, false);
}

/** The last `n` rows of `t`, kept current. */
export function tail(t: LocalTable, n: number): LocalTable {
  return windowed(t, n, true);
}
