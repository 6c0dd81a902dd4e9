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
import { RowSet, type ShiftData } from "./rowset.ts";
import { columnToArrow } from "./to_arrow.ts";

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
  /** Row count after the update. */
  readonly size: number;
}

/** Values to write for one column: chunks in order, their lengths summing to the target row count. */
export type ColumnData = readonly Chunk[];

/** A change in key space, as decoded from a Barrage message (full subscriptions and snapshots). @ignore */
export interface KeyedDelta {
  isSnapshot: boolean;
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
  throw new DeephavenError("Malformed viewport update: an offset is out of range", { code: GrpcCode.DATA_LOSS });
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
      throw new RangeError(`Row ${row} is out of range; the table has ${this.#size} rows`);
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
   * are queued.
   *
   * @param signal Ends the iteration early.
   */
  updates(signal?: AbortSignal): AsyncIterable<TableUpdate> {
    return { [Symbol.asyncIterator]: () => this.#iterate(signal) };
  }

  #iterate(signal?: AbortSignal): AsyncIterator<TableUpdate> {
    const queue: TableUpdate[] = [];
    let wake: (() => void) | undefined;
    const notify = () => {
      const w = wake;
      wake = undefined;
      w?.();
    };
    const offUpdate = this.onUpdate((u) => {
      queue.push(u);
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

  #emit(u: TableUpdate): void {
    this.#lastUpdate = new Date();
    for (const cb of [...this.#listeners]) {
      try {
        cb(u);
      } catch (e) {
        console.error("A table update listener threw:", e);
      }
    }
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
    const next = new Int32Array(Math.max(n, this.#posToSlot.length * 2));
    next.set(this.#posToSlot.subarray(0, this.#size));
    this.#posToSlot = next;
  }

  /** Removes rows at the given position ranges (flat [first, last] pairs, ascending). */
  #removePositions(ranges: Float64Array): void {
    if (ranges.length === 0) return;
    const p = this.#posToSlot;
    let write = ranges[0];
    for (let r = 0; r < ranges.length; r += 2) {
      const first = ranges[r], last = ranges[r + 1];
      for (let i = first; i <= last; i++) {
        const slot = p[i];
        this.#free.push(slot);
        for (const c of this.#columns) c.clear(slot);
      }
      const nextFirst = r + 2 < ranges.length ? ranges[r + 2] : this.#size;
      p.copyWithin(write, last + 1, nextFirst);
      write += nextFirst - (last + 1);
    }
    this.#size = write;
  }

  /** Inserts new rows at the given position ranges of the new row list; returns their slots in order. */
  #insertPositions(ranges: Float64Array, count: number): Int32Array {
    const slots = this.#allocSlots(count);
    if (count === 0) return slots;
    const newSize = this.#size + count;
    this.#ensurePosCapacity(newSize);
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

  /** @ignore Applies a key-space change (remove, shift, add, modify) and notifies listeners. */
  applyKeyed(d: KeyedDelta): void {
    if (this.#state === "closed") return;
    // 1. Removes, in pre-shift key space.
    let removed = d.removed;
    if (!removed.isEmpty) {
      removed = removed.intersect(this.#rowSet);
      this.#removePositions(this.#rowSet.positionRangesOf(removed));
      this.#rowSet = this.#rowSet.minus(removed);
    }
    // 2. Shifts: keys move, order and slots stay.
    const shifted = d.shifts !== undefined && !d.shifts.isEmpty;
    if (shifted) this.#rowSet = this.#rowSet.shift(d.shifts as ShiftData);
    // 3. Adds: new keys get slots at their positions.
    const fresh = d.added.minus(this.#rowSet);
    if (!fresh.isEmpty) {
      const next = this.#rowSet.union(fresh);
      this.#insertPositions(next.positionRangesOf(fresh), fresh.size);
      this.#rowSet = next;
    }
    // 4. Add data, for the keys that carry it.
    const included = d.addedIncluded ?? d.added;
    if (!included.isEmpty && d.addData.some((c) => c.length > 0)) {
      const slots = this.#slotsAt(this.#rowSet.positionRangesOf(included), included.size);
      d.addData.forEach((data, i) => this.#write(i, data, slots));
    }
    // 5. Modifications, per column.
    const modifiedColumns: string[] = [];
    let modified = RowSet.EMPTY;
    d.modified.forEach((keys, i) => {
      if (keys.isEmpty) return;
      const slots = this.#slotsAt(this.#rowSet.positionRangesOf(keys), keys.size);
      this.#write(i, d.modData[i] ?? [], slots);
      modifiedColumns.push(this.#columns[i].name);
      modified = modified.union(keys);
    });
    this.#emit({
      added: d.isSnapshot ? fresh : d.added,
      removed,
      modified,
      modifiedColumns,
      shifted,
      isSnapshot: d.isSnapshot,
      size: this.#size,
    });
  }

  /** @ignore Applies a position-space change (viewports) and notifies listeners. */
  applyPositional(d: PositionalDelta): void {
    if (this.#state === "closed") return;
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
      this.#removePositions(removedRanges);
    }
    const added = d.added;
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
      const slots = this.#insertPositions(ranges, added.size);
      d.addData.forEach((data, i) => this.#write(i, data, slots));
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
    this.#emit({
      added,
      removed: d.removed,
      modified,
      modifiedColumns,
      shifted: false,
      isSnapshot: d.isSnapshot,
      size: this.#size,
    });
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

  /** A short description. */
  toString(): string {
    return `LocalTable(${this.#size} rows × ${this.#columns.length} columns, ${this.#state})`;
  }

  /** Shows a short description in `Deno.inspect`. */
  [Symbol.for("Deno.customInspect")](): string {
    return this.toString();
  }
}
