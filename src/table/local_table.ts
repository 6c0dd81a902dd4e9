/**
 * {@linkcode LocalTable}: a table held in this process, columnar, addressed
 * by Deephaven row keys, and kept current by updates.
 *
 * Layout: the row keys are a {@linkcode RowSet}; rows are stored in *slots*
 * (dense indexes into each column's typed storage); `posToSlot` maps row
 * positions (0..size-1, in key order) to slots. Removed rows free their slots
 * for reuse, so memory follows the live row count, not the key space. Shifts
 * change keys but never their order, so they touch only the RowSet.
 *
 * @module
 */

import * as arrow from "apache-arrow";
import type { ArrowSchema } from "../arrow_types.ts";
import { DeephavenError, GrpcCode } from "../errors.ts";
import { type Chunk, ColumnStore } from "./column.ts";
import { RowSet, ShiftData } from "./rowset.ts";
import { columnToArrow } from "./to_arrow.ts";
import { growTyped } from "./grow.ts";

/** The life state of a local table. */
export type TableState = "live" | "snapshot" | "stale" | "failed" | "closed";

/** One change of a local table, as delivered to listeners. */
export interface TableUpdate {
  /** Keys added (post-update key space). */
  readonly added: RowSet;
  /** Keys removed (pre-update key space). */
  readonly removed: RowSet;
  /** Keys whose values changed in at least one column (post-update key space). */
  readonly modified: RowSet;
  /** Names of the columns with modified values. */
  readonly modifiedColumns: readonly string[];
  /** Whether keys moved (shift). */
  readonly shifted: boolean;
  /** Whether this update (re)delivers a snapshot rather than a delta. */
  readonly isSnapshot: boolean;
  /**
   * Whether this stands for many updates that a slow `updates()` consumer
   * missed: the table is current, `added` holds all its rows.
   */
  readonly coalesced?: boolean;
  /**
   * Whether the table was subscribed again after a lost connection: this
   * update removes every row it held and adds the fresh snapshot.
   */
  readonly resubscribed?: boolean;
  /** Row count after the update. */
  readonly size: number;
  /** The key shifts of this update, when `shifted`. */
  readonly shifts?: ShiftData;
  /**
   * Storage slots of the removed (pre-update), added and modified rows, in
   * key order (for derived views).
   * @ignore
   */
  readonly slots?: {
    readonly removed: Int32Array;
    readonly added: Int32Array;
    readonly modified: Int32Array;
  };
}

const EMPTY_SLOTS: Int32Array = new Int32Array(0);

/** A row as local queries see it: column name to value. */
export type Row = Record<string, unknown>;

/** A filter for {@linkcode LocalTable.where}: a predicate over a row, or comparisons such as `"X > 5"`. */
export type RowFilter = ((row: Row) => boolean) | string | string[];

/** Options of {@linkcode LocalTable.sort}. */
export interface SortOptions {
  /** Sort descending: one flag for every column, or one per column. Default `false`. */
  descending?: boolean | boolean[];
}

/**
 * Aggregations for {@linkcode LocalTable.aggBy}: output column name to
 * `"op(Column)"`, with op one of sum, avg, min, max, count, first, last,
 * std, var (`"count()"` counts rows).
 */
export type LocalAggregations = Record<string, string>;

/** Computed columns for {@linkcode LocalTable.update}: name to a function of the row. */
export type ComputedColumns = Record<string, (row: Row) => unknown>;

/**
 * The implementation of local queries (registered by the query module).
 * @ignore
 */
export interface QueryEngine {
  where(t: LocalTable, filter: RowFilter): LocalTable;
  view(t: LocalTable, columns: string[]): LocalTable;
  update(t: LocalTable, columns: ComputedColumns): LocalTable;
  sort(t: LocalTable, columns: string[], descending: boolean[]): LocalTable;
  head(t: LocalTable, n: number): LocalTable;
  tail(t: LocalTable, n: number): LocalTable;
  aggBy(t: LocalTable, aggs: LocalAggregations, keys: string[]): LocalTable;
  firstBy(t: LocalTable, keys: string[]): LocalTable;
  lastBy(t: LocalTable, keys: string[]): LocalTable;
}

let engine: QueryEngine | undefined;

/**
 * Registers the local query implementation.
 * @ignore
 */
export function registerQueryEngine(e: QueryEngine): void {
  engine = e;
}

function queries(): QueryEngine {
  if (!engine) {
    throw new DeephavenError("Local queries are not loaded; import them from mod.ts", {
      code: GrpcCode.FAILED_PRECONDITION,
    });
  }
  return engine;
}

function names(x: string | string[] | undefined): string[] {
  return x === undefined ? [] : typeof x === "string" ? [x] : x;
}

/** Values to write for one column: chunks in order, their lengths summing to the target row count. */
export type ColumnData = readonly Chunk[];

/** A change in key space, as decoded from a Barrage message (full subscriptions and snapshots). @ignore */
export interface KeyedDelta {
  isSnapshot: boolean;
  resubscribed?: boolean;
  removed: RowSet;
  shifts: ShiftData | undefined;
  added: RowSet;
  /** Keys whose add data is present (defaults to `added`). */
  addedIncluded?: RowSet;
  /** Per column: add data in order of `addedIncluded` (empty for unsubscribed columns). */
  addData: ColumnData[];
  /** Per column: keys modified (post-shift space). */
  modified: RowSet[];
  /** Per column: modified values in order of `modified[i]`. */
  modData: ColumnData[];
}

/** A change in position space, as decoded for a viewport subscription. @ignore */
export interface PositionalDelta {
  isSnapshot: boolean;
  resubscribed?: boolean;
  /** Offsets removed from the old row list. */
  removed: RowSet;
  /** Offsets added in the new row list. */
  added: RowSet;
  addData: ColumnData[];
  /** Per column: offsets in the new list with modified values. */
  modified: RowSet[];
  modData: ColumnData[];
}

type Listener = (u: TableUpdate) => void;

/** The ranges of a RowSet of small numbers (positions) as flat [first, last] pairs. */
function flatRanges(rs: RowSet): Float64Array {
  const r = rs.flatRanges();
  if (r instanceof Float64Array) return r;
  throw new DeephavenError("Malformed viewport update: an offset is out of range", {
    code: GrpcCode.DATA_LOSS,
  });
}

/**
 * The key shifts that a position-space change implies for the rows that stay:
 * removing offsets moves later rows down, adding offsets moves them up. With
 * these, position-space tables emit ordinary key-space updates (removed in
 * the old space, then shifts, then added in the new space).
 */
function positionalShifts(removed: RowSet, added: RowSet, oldSize: number): ShiftData {
  if (removed.isEmpty && added.isEmpty) return ShiftData.EMPTY;
  const R = removed.isEmpty ? new Float64Array(0) : flatRanges(removed);
  const A = added.isEmpty ? new Float64Array(0) : flatRanges(added);
  const entries: [number, number, number][] = [];
  let oldPos = 0, newPos = 0, ri = 0, ai = 0;
  while (oldPos < oldSize) {
    if (ri < R.length && oldPos >= R[ri]) {
      oldPos = Math.max(oldPos, R[ri + 1] + 1);
      ri += 2;
      continue;
    }
    if (ai < A.length && newPos >= A[ai]) {
      newPos = Math.max(newPos, A[ai + 1] + 1);
      ai += 2;
      continue;
    }
    const endOld = ri < R.length ? R[ri] : oldSize;
    const endNew = ai < A.length ? A[ai] : Infinity;
    const len = Math.min(endOld - oldPos, endNew - newPos);
    const delta = newPos - oldPos;
    if (delta !== 0) {
      const last = entries[entries.length - 1];
      if (last && last[2] === delta && last[1] === oldPos - 1) last[1] = oldPos + len - 1;
      else entries.push([oldPos, oldPos + len - 1, delta]);
    }
    oldPos += len;
    newPos += len;
  }
  return entries.length ? ShiftData.fromEntries(entries) : ShiftData.EMPTY;
}

function* chunkValues(data: ColumnData): Generator<[Chunk, number]> {
  for (const c of data) yield [c, c.length];
}

/**
 * A local table: a snapshot, a live subscription, or a view derived from
 * another local table. Read it by position (`get`, `row`, iteration), export
 * it (`toArrow`, `toObjects`), and follow its changes (`onUpdate`,
 * `updates()`).
 *
 * @example Usage
 * ```ts ignore
 * const live = await barrage.subscribe(ticket);
 * await live.ready;
 * console.log(live.size, live.get(0, "X"));
 * for await (const u of live.updates()) console.log(u.added.size, "rows added");
 * ```
 */
export class LocalTable {
  readonly #schema: arrow.Schema;
  readonly #columns: ColumnStore[];
  readonly #byName: Map<string, number>;
  #rowSet: RowSet = RowSet.EMPTY;
  #posToSlot: Int32Array = new Int32Array(16);
  #size = 0;
  #free: number[] = [];
  #slotHigh = 0;
  #state: TableState;
  #error: DeephavenError | undefined;
  #listeners = new Set<Listener>();
  #stateListeners = new Set<(s: TableState) => void>();
  #lastUpdate: Date | undefined;
  #onClose: (() => void) | undefined;
  /** Total row count of the source table (differs from `size` for viewports). */
  #sourceSize: number | undefined;
  #slotToPos: Int32Array = new Int32Array(16);
  #posValidUpTo = 0;

  /**
   * Creates an empty table. Normally made by `subscribe` or `snapshot`.
   *
   * @param schema The Arrow schema.
   * @param state The initial state.
   * @param onClose Called once when the table closes (e.g. to cancel its stream).
   */
  constructor(schema: arrow.Schema, state: TableState = "live", onClose?: () => void) {
    this.#schema = schema;
    this.#columns = schema.fields.map((f) => new ColumnStore(f));
    this.#byName = new Map(schema.fields.map((f, i) => [f.name, i]));
    this.#state = state;
    this.#onClose = onClose;
  }

  /** The Arrow schema of the table, with Deephaven's metadata. */
  get schema(): ArrowSchema {
    return this.#schema;
  }

  /** Number of rows. */
  get size(): number {
    return this.#size;
  }

  /** Column names, in schema order. */
  get columns(): string[] {
    return this.schema.fields.map((f) => f.name);
  }

  /** The row keys (for viewports: offsets within the viewport). */
  get rowSet(): RowSet {
    return this.#rowSet;
  }

  /** `live`, `snapshot`, `stale`, `failed` or `closed`. */
  get state(): TableState {
    return this.#state;
  }

  /** The error that failed the table, when `state` is `failed`. */
  get error(): DeephavenError | undefined {
    return this.#error;
  }

  /** When the last update was applied. */
  get lastUpdated(): Date | undefined {
    return this.#lastUpdate;
  }

  /** Row count of the source table on the server, when known (for viewports it differs from `size`). */
  get sourceSize(): number | undefined {
    return this.#sourceSize ?? (this.#state === "snapshot" ? this.#size : undefined);
  }

  /** @ignore */
  set sourceSize(n: number | undefined) {
    this.#sourceSize = n;
  }

  #col(column: string | number): ColumnStore {
    const i = typeof column === "number" ? column : this.#byName.get(column);
    const c = i === undefined ? undefined : this.#columns[i];
    if (!c) {
      throw new DeephavenError(
        `No column ${JSON.stringify(column)}; the columns are ${
          this.columns.map((c) => JSON.stringify(c)).join(", ")
        }`,
        { code: GrpcCode.INVALID_ARGUMENT },
      );
    }
    return c;
  }

  #slot(row: number): number {
    if (!Number.isInteger(row) || row < 0 || row >= this.#size) {
      throw DeephavenError.invalid(`Row ${row} is out of range; the table has ${this.#size} rows`);
    }
    return this.#posToSlot[row];
  }

  /**
   * The value at row position `row` of a column.
   *
   * @param row Row position, 0-based.
   * @param column Column name or index.
   * @returns The value (`null` for null).
   */
  get(row: number, column: string | number): unknown {
    return this.#col(column).get(this.#slot(row));
  }

  /** The row at a position as an object of column name to value. */
  row(row: number): Record<string, unknown> {
    const slot = this.#slot(row);
    const out: Record<string, unknown> = {};
    for (const c of this.#columns) out[c.name] = c.get(slot);
    return out;
  }

  /** The row key at a position. */
  keyAt(row: number): bigint {
    this.#slot(row);
    return this.#rowSet.keyAt(row);
  }

  /** Iterates over rows as objects. */
  *rows(): IterableIterator<Record<string, unknown>> {
    for (let i = 0; i < this.#size; i++) yield this.row(i);
  }

  /** Iterates over rows as objects. */
  [Symbol.iterator](): IterableIterator<Record<string, unknown>> {
    return this.rows();
  }

  /** All rows as objects. */
  toObjects(): Record<string, unknown>[] {
    return [...this.rows()];
  }

  /** The values of one column, in row order. */
  column(column: string | number): unknown[] {
    const c = this.#col(column);
    const out = new Array<unknown>(this.#size);
    for (let i = 0; i < this.#size; i++) out[i] = c.get(this.#posToSlot[i]);
    return out;
  }

  /**
   * The slots of rows `[from, to)` in row order (for exporters and views).
   * @ignore
   */
  slots(from: number = 0, to: number = this.#size): Int32Array {
    return this.#posToSlot.subarray(from, to);
  }

  /**
   * The storage of a column (for exporters and views).
   * @ignore
   */
  store(column: string | number): ColumnStore {
    return this.#col(column);
  }

  /**
   * The current state as an apache-arrow `Table`, with the same schema
   * (types and Deephaven metadata) as the server's.
   */
  toArrow(): arrow.Table {
    const slots = this.slots();
    const data = this.#columns.map((c) => columnToArrow(c, slots));
    const batch = new arrow.RecordBatch(
      this.#schema,
      arrow.makeData({ type: new arrow.Struct(this.#schema.fields), length: this.#size, children: data }),
    );
    return new arrow.Table([batch]);
  }

  // ---- updates and events ----

  /**
   * Calls `cb` after every update.
   *
   * @param cb The listener.
   * @returns A function that removes the listener.
   */
  onUpdate(cb: (update: TableUpdate) => void): () => void {
    this.#listeners.add(cb);
    return () => this.#listeners.delete(cb);
  }

  /**
   * Calls `cb` whenever the state changes (e.g. `live` → `failed`).
   *
   * @param cb The listener.
   * @returns A function that removes the listener.
   */
  onStateChange(cb: (state: TableState) => void): () => void {
    this.#stateListeners.add(cb);
    return () => this.#stateListeners.delete(cb);
  }

  /**
   * The updates as an async iterable. Iteration ends when the table closes,
   * and throws when it fails. Updates that arrive while the loop body runs
   * are queued; past `maxQueued` they are replaced by one `coalesced` update,
   * so a slow consumer never holds unbounded memory.
   *
   * @param signal Ends the iteration early.
   * @param maxQueued Most updates kept waiting for a slow consumer. Default 1000.
   */
  updates(signal?: AbortSignal, maxQueued = 1000): AsyncIterable<TableUpdate> {
    return { [Symbol.asyncIterator]: () => this.#iterate(signal, maxQueued) };
  }

  #iterate(signal: AbortSignal | undefined, maxQueued: number): AsyncIterator<TableUpdate> {
    let queue: TableUpdate[] = [];
    let wake: (() => void) | undefined;
    const notify = () => {
      const w = wake;
      wake = undefined;
      w?.();
    };
    const offUpdate = this.onUpdate((u) => {
      if (queue.length >= maxQueued) {
        // The consumer fell far behind: keep memory bounded by replacing what waits with one
        // update that says so; the table itself holds the current state.
        queue = [{
          added: this.#rowSet,
          removed: RowSet.EMPTY,
          modified: RowSet.EMPTY,
          modifiedColumns: [],
          shifted: false,
          isSnapshot: true,
          coalesced: true,
          size: this.#size,
        }];
      } else if (queue.length > 0 && queue[0].coalesced) {
        queue[0] = { ...queue[0], added: this.#rowSet, size: this.#size };
      } else queue.push(u);
      notify();
    });
    const offState = this.onStateChange(notify);
    signal?.addEventListener("abort", notify, { once: true });
    const finish = (): IteratorResult<TableUpdate> => {
      offUpdate();
      offState();
      signal?.removeEventListener("abort", notify);
      return { done: true, value: undefined };
    };
    const next = async (): Promise<IteratorResult<TableUpdate>> => {
      while (true) {
        if (queue.length > 0) return { done: false, value: queue.shift() as TableUpdate };
        if (this.#state === "failed") {
          finish();
          throw this.#error;
        }
        if (this.#state === "closed" || this.#state === "snapshot" || signal?.aborted) return finish();
        await new Promise<void>((r) => (wake = r));
      }
    };
    return { next, return: () => Promise.resolve(finish()) };
  }

  #emit(u: TableUpdate): TableUpdate {
    this.#lastUpdate = new Date();
    for (const cb of [...this.#listeners]) {
      try {
        cb(u);
      } catch (e) {
        console.error("A table update listener threw:", e);
      }
    }
    return u;
  }

  /** @ignore Moves the table to a new state and tells listeners. */
  setState(state: TableState, error?: DeephavenError): void {
    if (this.#state === "closed" || this.#state === state) return;
    if (this.#state === "failed" && state !== "closed") return;
    this.#state = state;
    if (error) this.#error = error;
    for (const cb of [...this.#stateListeners]) cb(state);
  }

  /** Stops updates and frees the stream (and views derived from this table). Safe to call twice. */
  close(): void {
    if (this.#state === "closed") return;
    this.setState("closed");
    const f = this.#onClose;
    this.#onClose = undefined;
    f?.();
  }

  // ---- storage mechanics ----

  #allocSlots(n: number): Int32Array {
    const out = new Int32Array(n);
    let i = 0;
    while (i < n && this.#free.length > 0) out[i++] = this.#free.pop() as number;
    const start = this.#slotHigh;
    for (; i < n; i++) out[i] = this.#slotHigh++;
    if (this.#slotHigh > start) { for (const c of this.#columns) c.ensureCapacity(this.#slotHigh); }
    return out;
  }

  #ensurePosCapacity(n: number): void {
    if (n <= this.#posToSlot.length) return;
    this.#posToSlot = growTyped(this.#posToSlot, this.#size, n);
  }

  /** Removes rows at the given position ranges (flat [first, last] pairs, ascending); returns their slots. */
  #removePositions(ranges: Float64Array): Int32Array {
    if (ranges.length === 0) return EMPTY_SLOTS;
    const p = this.#posToSlot;
    let count = 0;
    for (let r = 0; r < ranges.length; r += 2) count += ranges[r + 1] - ranges[r] + 1;
    const freed = new Int32Array(count);
    let k = 0;
    let write = ranges[0];
    this.#posValidUpTo = Math.min(this.#posValidUpTo, write);
    for (let r = 0; r < ranges.length; r += 2) {
      const first = ranges[r], last = ranges[r + 1];
      for (let i = first; i <= last; i++) {
        const slot = p[i];
        freed[k++] = slot;
        this.#free.push(slot);
        for (const c of this.#columns) c.clear(slot);
      }
      const nextFirst = r + 2 < ranges.length ? ranges[r + 2] : this.#size;
      p.copyWithin(write, last + 1, nextFirst);
      write += nextFirst - (last + 1);
    }
    this.#size = write;
    return freed;
  }

  /** Inserts new rows at the given position ranges of the new row list; returns their slots in order. */
  #insertPositions(ranges: Float64Array, count: number): Int32Array {
    const slots = this.#allocSlots(count);
    if (count === 0) return slots;
    const newSize = this.#size + count;
    this.#ensurePosCapacity(newSize);
    this.#posValidUpTo = Math.min(this.#posValidUpTo, ranges[0]);
    const p = this.#posToSlot;
    if (ranges[0] === this.#size) {
      // Append: the common case for ticking tables.
      p.set(slots, this.#size);
    } else {
      // Walk from the end so nothing is overwritten before it moves.
      let src = this.#size - 1, dst = newSize - 1, s = count - 1;
      for (let r = ranges.length - 2; r >= 0; r -= 2) {
        const first = ranges[r], last = ranges[r + 1];
        const keep = dst - last; // old rows that sit after this inserted range
        p.copyWithin(last + 1, src - keep + 1, src + 1);
        src -= keep;
        for (let i = last; i >= first; i--) p[i] = slots[s--];
        dst = first - 1;
      }
    }
    this.#size = newSize;
    return slots;
  }

  /** The slots of the rows at the given position ranges, in order. */
  #slotsAt(ranges: Float64Array, count: number): Int32Array {
    const out = new Int32Array(count);
    let k = 0;
    for (let r = 0; r < ranges.length; r += 2) {
      for (let i = ranges[r]; i <= ranges[r + 1]; i++) out[k++] = this.#posToSlot[i];
    }
    return out;
  }

  #write(columnIndex: number, data: ColumnData, slots: Int32Array): void {
    const store = this.#columns[columnIndex];
    let k = 0;
    for (const [chunk, len] of chunkValues(data)) {
      const n = Math.min(len, slots.length - k);
      if (n <= 0) break;
      store.write(chunk, 0, slots, k, n);
      k += n;
    }
  }

  /**
   * Applies a key-space change (remove, shift, add, modify) and notifies listeners.
   * @ignore
   */
  applyKeyed(d: KeyedDelta): TableUpdate | undefined {
    if (this.#state === "closed") return undefined;
    // 1. Removes, in pre-shift key space.
    let removed = d.removed;
    let removedSlots: Int32Array = EMPTY_SLOTS;
    if (!removed.isEmpty) {
      removed = removed.intersect(this.#rowSet);
      removedSlots = this.#removePositions(this.#rowSet.positionRangesOf(removed));
      this.#rowSet = this.#rowSet.minus(removed);
    }
    // 2. Shifts: keys move, order and slots stay.
    const shifted = d.shifts !== undefined && !d.shifts.isEmpty;
    if (shifted) this.#rowSet = this.#rowSet.shift(d.shifts as ShiftData);
    // 3. Adds: new keys get slots at their positions.
    const fresh = d.added.minus(this.#rowSet);
    let addedSlots: Int32Array = EMPTY_SLOTS;
    if (!fresh.isEmpty) {
      const next = this.#rowSet.union(fresh);
      addedSlots = this.#insertPositions(next.positionRangesOf(fresh), fresh.size);
      this.#rowSet = next;
    }
    // 4. Add data, for the keys that carry it. Keys that were already here (growing snapshots) count as modified.
    const included = d.addedIncluded ?? d.added;
    let modified = RowSet.EMPTY;
    const modifiedColumns = new Set<string>();
    if (!included.isEmpty && d.addData.some((c) => c.length > 0)) {
      const slots = this.#slotsAt(this.#rowSet.positionRangesOf(included), included.size);
      d.addData.forEach((data, i) => {
        this.#write(i, data, slots);
      });
      const filled = included.minus(fresh);
      if (!filled.isEmpty) {
        modified = filled;
        d.addData.forEach((data, i) => {
          if (data.length > 0) modifiedColumns.add(this.#columns[i].name);
        });
      }
    }
    // 5. Modifications, per column.
    d.modified.forEach((keys, i) => {
      if (keys.isEmpty) return;
      const slots = this.#slotsAt(this.#rowSet.positionRangesOf(keys), keys.size);
      this.#write(i, d.modData[i] ?? [], slots);
      modifiedColumns.add(this.#columns[i].name);
      modified = modified.union(keys);
    });
    const modifiedSlots = modified.isEmpty
      ? EMPTY_SLOTS
      : this.#slotsAt(this.#rowSet.positionRangesOf(modified), modified.size);
    return this.#emit({
      added: fresh,
      removed,
      modified,
      modifiedColumns: [...modifiedColumns],
      shifted,
      isSnapshot: d.isSnapshot,
      resubscribed: d.resubscribed,
      size: this.#size,
      shifts: shifted ? d.shifts : undefined,
      slots: { removed: removedSlots, added: addedSlots, modified: modifiedSlots },
    });
  }

  /**
   * Applies a position-space change (viewports, sorted and windowed views) and notifies listeners.
   * @ignore
   */
  applyPositional(d: PositionalDelta): TableUpdate | undefined {
    if (this.#state === "closed") return undefined;
    const shifts = positionalShifts(d.removed, d.added, this.#size);
    let removedSlots: Int32Array = EMPTY_SLOTS;
    if (!d.removed.isEmpty) {
      const removedRanges = flatRanges(d.removed);
      if (removedRanges[removedRanges.length - 1] >= this.#size) {
        throw new DeephavenError(
          "Malformed viewport update: a removed offset is past the end of the viewport",
          {
            code: GrpcCode.DATA_LOSS,
          },
        );
      }
      removedSlots = this.#removePositions(removedRanges);
    }
    const added = d.added;
    let addedSlots: Int32Array = EMPTY_SLOTS;
    if (!added.isEmpty) {
      const ranges = flatRanges(added);
      if (ranges[ranges.length - 1] >= this.#size + added.size) {
        throw new DeephavenError(
          "Malformed viewport update: an added offset is past the end of the viewport",
          {
            code: GrpcCode.DATA_LOSS,
          },
        );
      }
      addedSlots = this.#insertPositions(ranges, added.size);
      d.addData.forEach((data, i) => this.#write(i, data, addedSlots));
    }
    this.#rowSet = this.#size > 0 ? RowSet.range(0, this.#size - 1) : RowSet.EMPTY;
    const modifiedColumns: string[] = [];
    let modified = RowSet.EMPTY;
    d.modified.forEach((offs, i) => {
      if (offs.isEmpty) return;
      const slots = this.#slotsAt(this.#rowSet.positionRangesOf(offs), offs.size);
      this.#write(i, d.modData[i] ?? [], slots);
      modifiedColumns.push(this.#columns[i].name);
      modified = modified.union(offs);
    });
    const modifiedSlots = modified.isEmpty
      ? EMPTY_SLOTS
      : this.#slotsAt(this.#rowSet.positionRangesOf(modified), modified.size);
    return this.#emit({
      added,
      removed: d.removed,
      modified,
      modifiedColumns,
      shifted: !shifts.isEmpty,
      isSnapshot: d.isSnapshot,
      resubscribed: d.resubscribed,
      size: this.#size,
      shifts: shifts.isEmpty ? undefined : shifts,
      slots: { removed: removedSlots, added: addedSlots, modified: modifiedSlots },
    });
  }

  /**
   * The current position of the row stored in `slot` (a live slot).
   * @ignore
   */
  positionOfSlot(slot: number): number {
    if (this.#posValidUpTo < this.#size) {
      if (this.#slotToPos.length < this.#slotHigh) {
        this.#slotToPos = growTyped(this.#slotToPos, this.#slotToPos.length, this.#slotHigh);
      }
      const p = this.#posToSlot, sp = this.#slotToPos;
      for (let i = this.#posValidUpTo; i < this.#size; i++) sp[p[i]] = i;
      this.#posValidUpTo = this.#size;
    }
    return this.#slotToPos[slot];
  }

  /**
   * The slot of the row at a position.
   * @ignore
   */
  slotAt(position: number): number {
    return this.#posToSlot[position];
  }

  /** @ignore Empties the table (for blink tables and resubscription). */
  clearRows(): RowSet {
    const removed = this.#rowSet;
    if (!removed.isEmpty) {
      this.#removePositions(new Float64Array([0, this.#size - 1]));
      this.#rowSet = RowSet.EMPTY;
    }
    return removed;
  }

  // ---- local queries: derived tables that stay live ----

  /**
   * The rows that pass a filter: a predicate over the row, or simple
   * comparisons such as `"X > 5"`, `"Sym == 'A'"`, `"Y != null"`, `"A < B"`
   * (several are and-ed). The result stays live as this table ticks.
   *
   * @param filter The predicate or comparisons.
   * @returns The derived table.
   */
  where(filter: RowFilter): LocalTable {
    return queries().where(this, filter);
  }

  /**
   * Keeps the given columns (`"A"`, or `"New = Old"` to rename).
   *
   * @param columns Columns to keep.
   * @returns The derived table.
   */
  view(columns: string | string[]): LocalTable {
    return queries().view(this, names(columns));
  }

  /**
   * Adds (or replaces) columns computed by JS functions of the row.
   *
   * @example Usage
   * ```ts ignore
   * const withNotional = live.update({ Notional: (r) => (r.Price as number) * (r.Size as number) });
   * ```
   *
   * @param columns Column name to function.
   * @returns The derived table.
   */
  update(columns: ComputedColumns): LocalTable {
    return queries().update(this, columns);
  }

  /**
   * Sorts rows by columns (nulls first, ties in this table's order).
   *
   * @param columns Sort columns, most significant first.
   * @param options Direction.
   * @returns The derived table.
   */
  sort(columns: string | string[], options: SortOptions = {}): LocalTable {
    const cols = names(columns);
    const d = options.descending ?? false;
    return queries().sort(this, cols, typeof d === "boolean" ? cols.map(() => d) : d);
  }

  /** The first `n` rows, kept current. */
  head(n: number): LocalTable {
    return queries().head(this, n);
  }

  /** The last `n` rows, kept current. */
  tail(n: number): LocalTable {
    return queries().tail(this, n);
  }

  /**
   * Aggregations per group, e.g. `aggBy({ Total: "sum(Size)", N: "count()" }, "Sym")`.
   *
   * @param aggs Output column to `"op(Column)"`.
   * @param keys Group-by columns (none: one row for the whole table).
   * @returns The derived table.
   */
  aggBy(aggs: LocalAggregations, keys?: string | string[]): LocalTable {
    return queries().aggBy(this, aggs, names(keys));
  }

  /** Number of rows per group, in column `column` (default `"Count"`). */
  countBy(keys?: string | string[], column = "Count"): LocalTable {
    return queries().aggBy(this, { [column]: "count()" }, names(keys));
  }

  /** The first row of each group. */
  firstBy(keys?: string | string[]): LocalTable {
    return queries().firstBy(this, names(keys));
  }

  /** The last row of each group (as pydeephaven's `last_by`). */
  lastBy(keys?: string | string[]): LocalTable {
    return queries().lastBy(this, names(keys));
  }

  /** A short description. */
  toString(): string {
    return `LocalTable(${this.#size} rows × ${this.#columns.length} columns, ${this.#state})`;
  }

  /** Shows a short description in `Deno.inspect`. */
  [Symbol.for("Deno.customInspect")](): string {
    return this.toString();
  }
}
