/**
 * {@linkcode LocalTable}: a table held in this process, columnar, addressed
 * by Deephaven row keys, and kept current by updates. Users read it; only its
 * producer writes it, through the {@linkcode TableWriter} handed out when the
 * table is made (as a ReadableStream hands its controller to `start`): a
 * Barrage subscription or snapshot, a local query, `localTableFromArrow`.
 * The rows live in a {@linkcode TableStorage} (`./storage.ts`).
 *
 * @module
 */

import {
  checkFunction,
  checkInteger,
  checkOptions,
  checkSignal,
  checkString,
  checkStrings,
} from "../validate.ts";
import * as arrow from "../deps/apache_arrow.ts";
import type { ArrowSchema } from "../arrow_types.ts";
import type { DeephavenError } from "../errors.ts";
import type { ColumnStore } from "./column.ts";
import { RowSet, type ShiftData } from "./rowset.ts";
import { columnToArrow } from "./to_arrow.ts";
import { type KeyedChange, type PositionalChange, TableStorage } from "./storage.ts";
// The local query engine (derived tables); it imports this module back, for types and for building tables.
import * as queries from "../query/ops.ts";
import type { ColumnType } from "../query/column_types.ts";

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

/**
 * A computed column of a type given explicitly (see {@linkcode LocalTable.update}): for a table that may be
 * empty when the column is made, for values that may all be null at first, or for a type other than the
 * one the values show (`int` rather than `double`, say).
 */
export interface ComputedColumn {
  /** The column's Deephaven type. */
  type: ColumnType;
  /** The value of the column for a row (`null` for null). */
  value: (row: Row) => unknown;
}

/**
 * Computed columns for {@linkcode LocalTable.update}: name to a function of the row (its type is learned
 * from its values), or to a {@linkcode ComputedColumn} with the type given.
 */
export type ComputedColumns = Record<string, ((row: Row) => unknown) | ComputedColumn>;

function names(x: string | string[] | undefined): string[] {
  return checkStrings(x, "Local queries take column names");
}

type Listener = (u: TableUpdate) => void;

/** How a table is made: its first state, what closing it releases, and who gets its writer. */
export interface TableSource {
  /** The initial state. Default `"live"`. */
  state?: TableState;
  /** Called once when the table closes (e.g. to cancel its stream). */
  onClose?: () => void;
  /** Receives the table's writer, once, before the constructor returns. */
  start?: (writer: TableWriter) => void;
}

let internals: (t: LocalTable) => TableStorage;

/**
 * The storage of a table, for the modules that read rows by slot (exporters, display, local queries).
 *
 * @param t The table.
 * @returns Its storage.
 */
export function storageOf(t: LocalTable): TableStorage {
  return internals(t);
}

/**
 * Makes a table and returns it with its writer.
 *
 * @param schema The Arrow schema.
 * @param source The initial state and what closing releases.
 * @returns The table and its writer.
 */
export function createLocalTable(
  schema: arrow.Schema,
  source: Omit<TableSource, "start"> = {},
): { table: LocalTable; writer: TableWriter } {
  let writer!: TableWriter;
  const table = new LocalTable(schema, { ...source, start: (w) => (writer = w) });
  return { table, writer };
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
  readonly #storage: TableStorage;
  #state: TableState;
  #error: DeephavenError | undefined;
  #listeners = new Set<Listener>();
  #stateListeners = new Set<(s: TableState) => void>();
  #lastUpdate: Date | undefined;
  #onClose: (() => void) | undefined;
  /** Total row count of the source table (differs from `size` for viewports). */
  #sourceSize: number | undefined;

  static {
    internals = (t) => t.#storage;
  }

  /**
   * Creates an empty table; `source.start` receives its writer. Tables are made by `subscribe`,
   * `snapshot`, local queries and `localTableFromArrow`.
   *
   * @param schema The Arrow schema.
   * @param source The initial state, what closing releases, and who gets the writer.
   * @ignore
   */
  constructor(schema: arrow.Schema, source: TableSource = {}) {
    this.#schema = schema;
    this.#storage = new TableStorage(schema);
    this.#state = source.state ?? "live";
    this.#onClose = source.onClose;
    source.start?.(
      new TableWriter(this.#storage, {
        emit: (u) => this.#emit(u),
        setState: (state, error) => this.#setState(state, error),
        setSourceSize: (n) => (this.#sourceSize = n),
        state: () => this.#state,
      }),
    );
  }

  /** The Arrow schema of the table, with Deephaven's metadata. */
  get schema(): ArrowSchema {
    return this.#schema;
  }

  /** Number of rows. */
  get size(): number {
    return this.#storage.size;
  }

  /** Column names, in schema order. */
  get columns(): string[] {
    return this.schema.fields.map((f) => f.name);
  }

  /** The row keys (for viewports: offsets within the viewport). */
  get rowSet(): RowSet {
    return this.#storage.rowSet;
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
    return this.#sourceSize ?? (this.#state === "snapshot" ? this.size : undefined);
  }

  #col(column: string | number): ColumnStore {
    return this.#storage.store(column);
  }

  #slot(row: number): number {
    return this.#storage.slotOf(row);
  }

  /**
   * The value at row position `row` of a column, exact: a `number` for byte, short, int, float and double;
   * a `bigint` for long, Duration (nanoseconds) and BigInteger; a one-character string for char; an
   * `Instant` (epoch nanoseconds) for Instant and ZonedDateTime; ISO text for LocalDate and
   * LocalTime; decimal text for BigDecimal; arrays for arrays and vectors; `null` for null.
   *
   * @example Exact values
   * ```ts ignore
   * const ts = table.get(0, "Timestamp") as Instant;
   * console.log(ts.epochNanos, `${ts}`); // 1700000000123456789n 2023-11-14T22:13:20.123456789Z
   * ```
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
    for (const c of this.#storage.columns) out[c.name] = c.get(slot);
    return out;
  }

  /** The row key at a position. */
  keyAt(row: number): bigint {
    this.#slot(row);
    return this.#storage.rowSet.keyAt(row);
  }

  /** Iterates over rows as objects. */
  *rows(): IterableIterator<Record<string, unknown>> {
    for (let i = 0; i < this.size; i++) yield this.row(i);
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
    const slots = this.#storage.slots();
    const out = new Array<unknown>(slots.length);
    for (let i = 0; i < slots.length; i++) out[i] = c.get(slots[i]);
    return out;
  }

  /**
   * The current state as an apache-arrow `Table`, with the same schema
   * (types and Deephaven metadata) as the server's.
   */
  toArrow(): arrow.Table {
    const slots = this.#storage.slots();
    const data = this.#storage.columns.map((c) => columnToArrow(c, slots));
    const batch = new arrow.RecordBatch(
      this.#schema,
      arrow.makeData({ type: new arrow.Struct(this.#schema.fields), length: slots.length, children: data }),
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
    checkFunction(cb, "onUpdate() needs a listener");
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
    checkFunction(cb, "onStateChange() needs a listener");
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
    checkSignal(signal, "updates()");
    checkInteger(maxQueued, "updates() needs maxQueued", 1);
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
          added: this.rowSet,
          removed: RowSet.EMPTY,
          modified: RowSet.EMPTY,
          modifiedColumns: [],
          shifted: false,
          isSnapshot: true,
          coalesced: true,
          size: this.size,
        }];
      } else if (queue.length > 0 && queue[0].coalesced) {
        queue[0] = { ...queue[0], added: this.rowSet, size: this.size };
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

  /** Moves the table to a new state and tells listeners (the writer's `setState`). */
  #setState(state: TableState, error?: DeephavenError): void {
    if (this.#state === "closed" || this.#state === state) return;
    if (this.#state === "failed" && state !== "closed") return;
    this.#state = state;
    if (error) this.#error = error;
    for (const cb of [...this.#stateListeners]) cb(state);
  }

  /** Stops updates and frees the stream (and views derived from this table). Safe to call twice. */
  close(): void {
    if (this.#state === "closed") return;
    this.#setState("closed");
    const f = this.#onClose;
    this.#onClose = undefined;
    f?.();
  }

  /**
   * Closes the table at the end of a `using` block.
   *
   * @example
   * ```ts ignore
   * {
   *   using snap = await bs.snapshot(ticket);
   *   console.log(snap.size);
   * } // closed here
   * ```
   */
  [Symbol.dispose](): void {
    this.close();
  }

  /**
   * Closes the table at the end of an `await using` block (a live table ends its subscription).
   *
   * @example
   * ```ts ignore
   * {
   *   await using live = await bs.subscribe(ticket);
   *   for await (const u of live.updates()) if (u.added.size > 0) break;
   * } // unsubscribed here
   * ```
   */
  [Symbol.asyncDispose](): Promise<void> {
    this.close();
    return Promise.resolve();
  }

  // ---- local queries: derived tables that stay live ----

  /**
   * The rows that pass a filter: a predicate over the row, or simple
   * comparisons such as `"X > 5"`, `"Sym == 'A'"`, `"Y != null"`, `"A < B"`
   * (several are and-ed). The result stays live as this table ticks. A timestamp compares exactly, with
   * ISO text, a bigint of epoch nanoseconds or another timestamp column; in a predicate, compare
   * `epochNanos` (an `Instant` has no number value).
   *
   * @example Filters
   * ```ts ignore
   * const big = live.where(["Qty > 50", "Sym != null"]);
   * const recent = live.where("Timestamp >= '2024-01-31T09:30:00.000000001Z'");
   * const after = live.where((r) => (r.Timestamp as Instant).epochNanos > 1706693400000000000n);
   * ```
   *
   * @param filter The predicate or comparisons.
   * @returns The derived table.
   */
  where(filter: RowFilter): LocalTable {
    if (typeof filter !== "function") checkStrings(filter, "where() needs a function of the row, or filters");
    return queries.where(this, filter);
  }

  /**
   * Keeps the given columns (`"A"`, or `"New = Old"` to rename).
   *
   * @param columns Columns to keep.
   * @returns The derived table.
   */
  view(columns: string | string[]): LocalTable {
    return queries.view(this, names(columns));
  }

  /**
   * Adds (or replaces) columns computed by JS functions of the row. A column's type is never guessed from
   * one value: without a `type`, it is learned from the function's values for all the rows the table holds
   * now (all strings make a `String` column, all numbers `double`, all bigints `long`, all booleans
   * `boolean`, all `Instant`s or `Date`s `Instant`), and an empty table, only nulls or mixed values are an
   * INVALID_ARGUMENT error that asks for the type: give it as `{ type, value }`. A later value that does
   * not fit the column's type fails the derived table (its `error` says which value), never becomes a
   * wrong value.
   *
   * @example Computed columns, their types learned or given
   * ```ts ignore
   * const withNotional = live.update({ Notional: (r) => (r.Price as number) * (r.Size as number) });
   * // On a table that may be empty, or a type the values do not show: give the type.
   * const labelled = live.where("Size > 1000").update({
   *   Label: { type: "String", value: (r) => `${r.Sym} block` },
   *   Lots: { type: "int", value: (r) => Math.floor((r.Size as number) / 100) },
   * });
   * ```
   *
   * @param columns Column name to a function of the row, or to `{ type, value }`.
   * @returns The derived table.
   */
  update(columns: ComputedColumns): LocalTable {
    checkOptions(columns, "update()");
    return queries.update(this, columns);
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
    return queries.sort(this, cols, typeof d === "boolean" ? cols.map(() => d) : d);
  }

  /** The first `n` rows, kept current. */
  head(n: number): LocalTable {
    return queries.head(this, n);
  }

  /** The last `n` rows, kept current. */
  tail(n: number): LocalTable {
    return queries.tail(this, n);
  }

  /**
   * Aggregations per group, e.g. `aggBy({ Total: "sum(Size)", N: "count()" }, "Sym")`.
   *
   * @param aggs Output column to `"op(Column)"`.
   * @param keys Group-by columns (none: one row for the whole table).
   * @returns The derived table.
   */
  aggBy(aggs: LocalAggregations, keys?: string | string[]): LocalTable {
    checkOptions(aggs, "aggBy()");
    return queries.aggBy(this, aggs, names(keys));
  }

  /** Number of rows per group, in column `column` (default `"Count"`). */
  countBy(keys?: string | string[], column = "Count"): LocalTable {
    checkString(column, "countBy() needs the name of the count column", true);
    return queries.aggBy(this, { [column]: "count()" }, names(keys));
  }

  /** The first row of each group. */
  firstBy(keys?: string | string[]): LocalTable {
    return queries.firstBy(this, names(keys));
  }

  /** The last row of each group (as pydeephaven's `last_by`). */
  lastBy(keys?: string | string[]): LocalTable {
    return queries.lastBy(this, names(keys));
  }

  /** A short description. */
  toString(): string {
    return `LocalTable(${this.size} rows × ${this.#schema.fields.length} columns, ${this.#state})`;
  }

  /** Shows a short description in `Deno.inspect`. */
  [Symbol.for("Deno.customInspect")](): string {
    return this.toString();
  }
}

/** What a {@linkcode TableWriter} may do to its table. */
interface TableAccess {
  emit(u: TableUpdate): TableUpdate;
  setState(state: TableState, error?: DeephavenError): void;
  setSourceSize(n: number | undefined): void;
  state(): TableState;
}

/**
 * The one way to change a {@linkcode LocalTable}: applies changes to its storage and tells its listeners.
 * Handed to the table's producer when the table is made (see {@linkcode TableSource.start}).
 */
export class TableWriter {
  readonly #storage: TableStorage;
  readonly #access: TableAccess;

  /**
   * @param storage The table's storage.
   * @param access The table's event and state hooks.
   */
  constructor(storage: TableStorage, access: TableAccess) {
    this.#storage = storage;
    this.#access = access;
  }

  /** The table's storage (rows by slot). */
  get storage(): TableStorage {
    return this.#storage;
  }

  /**
   * Applies a key-space change and notifies listeners.
   *
   * @param d The change.
   * @returns The update delivered, or `undefined` when the table is closed.
   */
  applyKeyed(d: KeyedChange): TableUpdate | undefined {
    if (this.#access.state() === "closed") return undefined;
    const c = this.#storage.applyKeyed(d);
    return this.#access.emit({
      ...c,
      isSnapshot: d.isSnapshot,
      resubscribed: d.resubscribed,
      size: this.#storage.size,
    });
  }

  /**
   * Applies a position-space change (for tables whose keys are their positions) and notifies listeners.
   *
   * @param d The change.
   * @returns The update delivered, or `undefined` when the table is closed.
   */
  applyPositional(d: PositionalChange): TableUpdate | undefined {
    if (this.#access.state() === "closed") return undefined;
    const c = this.#storage.applyPositional(d);
    return this.#access.emit({
      ...c,
      isSnapshot: d.isSnapshot,
      resubscribed: d.resubscribed,
      size: this.#storage.size,
    });
  }

  /**
   * Tells listeners about a change already made to the storage, for producers that build one change in
   * several steps: a snapshot that arrives in many messages is applied to the storage as it comes and
   * announced once, when it is complete.
   *
   * @param u The change (its `size` is taken from the table).
   * @returns The update delivered, or `undefined` when the table is closed.
   */
  announce(u: Omit<TableUpdate, "size">): TableUpdate | undefined {
    if (this.#access.state() === "closed") return undefined;
    return this.#access.emit({ ...u, size: this.#storage.size });
  }

  /**
   * Starts appending `n` rows written straight into the columns' storage (see `TableStorage.beginAppend`).
   *
   * @param n The number of rows.
   * @returns Their first slot, or `undefined` when the rows cannot be appended this way (or the table is
   *   closed): then append them with `applyPositional`.
   */
  beginAppend(n: number): number | undefined {
    if (this.#access.state() === "closed") return undefined;
    return this.#storage.beginAppend(n);
  }

  /** Gives up an append begun with {@linkcode TableWriter.beginAppend} before anything was written. */
  cancelAppend(): void {
    this.#storage.cancelAppend();
  }

  /**
   * Ends an append begun with {@linkcode TableWriter.beginAppend} and notifies listeners.
   *
   * @param first The first slot `beginAppend` returned.
   * @param n The number of rows.
   * @returns The update delivered.
   */
  endAppend(first: number, n: number): TableUpdate {
    const c = this.#storage.endAppend(first, n);
    return this.#access.emit({ ...c, isSnapshot: true, size: this.#storage.size });
  }

  /**
   * Moves the table to a new state (`closed` is final; `failed` only moves to `closed`).
   *
   * @param state The new state.
   * @param error The error, for `failed`.
   */
  setState(state: TableState, error?: DeephavenError): void {
    this.#access.setState(state, error);
  }

  /**
   * Records the source table's row count on the server (for viewports it differs from the local size).
   *
   * @param n The count, or `undefined` when unknown.
   */
  setSourceSize(n: number | undefined): void {
    this.#access.setSourceSize(n);
  }
}
