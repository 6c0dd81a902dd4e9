/**
 * {@linkcode TableRef}: a handle to a table that lives on the server.
 *
 * A `TableRef` holds no data. Its operations (`update`, `where`, `lastBy`,
 * joins, ...) create new server tables and return new handles at once: each
 * operation's RPC is sent immediately and names its source by export ticket,
 * so a chain of operations costs no round trip per step. Errors surface when
 * the handle is used (`ready()`, `toArrow()`, `schema()`, ...).
 *
 * @module
 */

import type { Table } from "../deps/apache_arrow.ts";
import type { ArrowSchema } from "../arrow_types.ts";
import { DeephavenError, GrpcCode } from "../errors.ts";
import { rpcDynamic } from "../transport/rpc.ts";
import { agg, type Aggregation } from "./aggregation.ts";
import type { SessionCore, TableInfo } from "./core.ts";
import { tableInfo } from "./core.ts";
import { schemaFromHeader } from "../arrow/ipc.ts";
import { describeTicket } from "./ticket.ts";
import {
  type ExportedTableCreationResponse,
  TableService,
} from "../generated/proto/deephaven_core/proto/table_pb.ts";

/** Sort direction of one column. */
export type SortDirection = "ASC" | "DESC";

/** How a natural join treats several right rows with the same key. */
export type NaturalJoinType = "ERROR_ON_DUPLICATE" | "FIRST_MATCH" | "LAST_MATCH" | "EXACTLY_ONE_MATCH";

const NATURAL_JOIN_TYPES: Record<NaturalJoinType, number> = {
  ERROR_ON_DUPLICATE: 1,
  FIRST_MATCH: 2,
  LAST_MATCH: 3,
  EXACTLY_ONE_MATCH: 4,
};

type Ticket = { ticket: Uint8Array };
type SourceRef = { ref: { case: "ticket"; value: Ticket } };

function toList(x: string | readonly string[] | undefined): string[] {
  if (x === undefined) return [];
  return typeof x === "string" ? [x] : [...x];
}

function show(x: string | readonly string[] | undefined): string {
  return JSON.stringify(x ?? []);
}

function checkCount(n: number, what: string): bigint {
  if (!Number.isSafeInteger(n) || n < 0) {
    throw DeephavenError.invalid(`${what} needs a whole number of rows >= 0, got ${n}`);
  }
  return BigInt(n);
}

const cores = new WeakMap<object, SessionCore>();
const retargets = new WeakMap<object, (ticket: Uint8Array) => void>();

/**
 * The session inside a handle (for the barrage layer; not public API).
 * @ignore
 */
export function coreOf(ref: TableRef): SessionCore {
  return cores.get(ref) as SessionCore;
}

/**
 * Creates a handle whose creation RPC is already under way. `send` gets the
 * result ticket and returns the server's creation response; `deps` are the
 * handles the new table reads, whose failure explains this one's.
 * @ignore
 */
export function createRef(
  core: SessionCore,
  description: string,
  send: (result: Ticket) => Promise<ExportedTableCreationResponse | TableInfo>,
  deps: readonly TableRef[] = [],
): TableRef {
  const ticket = core.newExportTicket();
  const what = `Table operation ${description}`;
  const holder: { ref?: TableRef } = {};
  core.registerReplay(ticket, async (t) => {
    const r = await send({ ticket: t });
    if ("success" in r) tableInfo(r as ExportedTableCreationResponse, what);
  }, (t) => holder.ref && retargets.get(holder.ref)?.(t));
  const info = (async (): Promise<TableInfo> => {
    let sent: Promise<ExportedTableCreationResponse | TableInfo>;
    try {
      core.checkAlive(what);
      sent = send({ ticket });
    } catch (e) {
      throw e instanceof DeephavenError ? e : new DeephavenError(`${what} failed: ${(e as Error).message}`, {
        code: GrpcCode.INVALID_ARGUMENT,
        cause: e,
      });
    }
    try {
      const r = await sent;
      return "schemaHeader" in r && !("success" in r)
        ? r
        : tableInfo(r as ExportedTableCreationResponse, what);
    } catch (e) {
      // A failed source explains a failed result better than the server's "dependency failed".
      for (const d of deps) await d.ready();
      throw e;
    }
  })();
  info.catch(() => {}); // Surfaced by ready() and friends, never as an unhandled rejection.
  holder.ref = new TableRef(core, ticket, info, description);
  return holder.ref;
}

/**
 * A handle to a table on the server. Build one with a `Session`
 * (`emptyTable`, `timeTable`, `openTable`, `fetchTable`, ...) and derive
 * more with its operations. The data stays on the server until you ask for
 * it with {@linkcode TableRef.toArrow} or subscribe to it with Barrage.
 *
 * @example Usage
 * ```ts ignore
 * const t = session.emptyTable(10).update(["X = i", "Y = X * X"]).where("X > 3");
 * console.log((await t.toArrow()).numRows); // 6
 * await t.close();
 * ```
 */
export class TableRef {
  #ticket: Uint8Array;
  readonly #core: SessionCore;
  readonly #info: Promise<TableInfo>;
  readonly #description: string;
  #closed = false;

  /**
   * Use the session's methods to make handles.
   * @ignore
   */
  constructor(core: SessionCore, ticket: Uint8Array, info: Promise<TableInfo>, description: string) {
    this.#core = core;
    cores.set(this, core);
    retargets.set(this, (t) => (this.#ticket = t));
    this.#ticket = ticket;
    this.#info = info;
    this.#description = description;
  }

  /**
   * The export ticket of this table in its session. It can change when the
   * table had to be re-created after a reconnection.
   */
  get ticket(): Uint8Array {
    return this.#ticket;
  }

  /** How this table was made, e.g. `emptyTable(10).update(["X = i"])`. */
  get description(): string {
    return this.#description;
  }

  /** Whether {@linkcode TableRef.close} was called. */
  get closed(): boolean {
    return this.#closed;
  }

  /**
   * Waits until the server has created the table.
   *
   * @returns This handle.
   * @throws {DeephavenError} When the operation (or one it depends on) failed.
   */
  async ready(): Promise<this> {
    await this.#info;
    return this;
  }

  /** The table's Arrow schema, with Deephaven's column metadata (`deephaven:type`, ...). */
  async schema(): Promise<ArrowSchema> {
    return schemaFromHeader((await this.#info).schemaHeader);
  }

  /** Whether the table is static (never ticks). */
  async isStatic(): Promise<boolean> {
    return (await this.#info).isStatic;
  }

  /** Whether the table ticks. */
  async isRefreshing(): Promise<boolean> {
    return !(await this.#info).isStatic;
  }

  /**
   * The current number of rows, asked of the server now (a ticking table's
   * size changes).
   */
  async size(): Promise<number> {
    await this.#info;
    this.#checkOpen("size()");
    const info = await this.#core.tableInfoOf(this.ticket, `Size of ${this.#description}`);
    return info.size ?? 0;
  }

  /**
   * A static snapshot of the table as an apache-arrow `Table`: the record batches of a Barrage snapshot
   * (Flight DoExchange, Arrow validity for nulls), which the server produces with less work than a Flight
   * DoGet of the same table, and which become the table's buffers without a copy.
   *
   * @param signal Aborts the transfer.
   * @returns The snapshot.
   */
  async toArrow(signal?: AbortSignal): Promise<Table> {
    await this.#info;
    this.#checkOpen("toArrow()");
    return await this.#core.exchangeSnapshot(this.ticket, signal);
  }

  /** Releases the server table. Handles derived from it stay valid. Safe to call twice. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    try {
      await this.#info;
    } catch {
      // Nothing was created, but the export may still exist in a failed state.
    }
    this.#core.forgetReplay(this.ticket);
    await this.#core.release(this.ticket);
  }

  #checkOpen(what: string): void {
    if (this.#closed) {
      throw new DeephavenError(
        `${what} of ${this.#description} failed: the table was closed; use a handle that is still open`,
        { code: GrpcCode.FAILED_PRECONDITION },
      );
    }
    this.#core.checkAlive(`${what} of ${this.#description}`);
  }

  #source(): SourceRef {
    return { ref: { case: "ticket", value: { ticket: this.ticket } } };
  }

  #derive(
    op: string,
    send: (result: Ticket, source: SourceRef) => Promise<ExportedTableCreationResponse>,
    deps: readonly TableRef[] = [],
  ): TableRef {
    const description = `${this.#description}.${op}`;
    if (this.#closed) {
      const err = new DeephavenError(
        `Table operation ${description} failed: its source was closed; derive from a handle that is still open`,
        { code: GrpcCode.FAILED_PRECONDITION },
      );
      const info = Promise.reject(err);
      info.catch(() => {});
      return new TableRef(this.#core, this.#core.newExportTicket(), info, description);
    }
    for (const d of deps) {
      if (d.#core !== this.#core) {
        throw new DeephavenError(
          `Table operation ${description} failed: both tables must belong to the same session; ` +
            "fetch the other table into this session first",
          { code: GrpcCode.INVALID_ARGUMENT },
        );
      }
    }
    return createRef(this.#core, description, (result) => send(result, this.#source()), [this, ...deps]);
  }

  #unary<M extends keyof typeof TableService.method>(
    method: M,
    op: string,
    request: (result: Ticket, source: SourceRef) => Record<string, unknown>,
    deps: readonly TableRef[] = [],
  ): TableRef {
    const spec = rpcDynamic<Record<string, unknown>, ExportedTableCreationResponse>(
      TableService.method[method],
    );
    return this.#derive(
      op,
      (result, source) =>
        this.#core.channel.unary(spec, request(result, source), {
          what: `Table operation ${this.#description}.${op}`,
        }),
      deps,
    );
  }

  #select(method: "update" | "lazyUpdate" | "view" | "updateView" | "select", formulas?: string | string[]) {
    const columnSpecs = toList(formulas);
    return this.#unary(method, `${method}(${show(columnSpecs)})`, (resultId, sourceId) => ({
      resultId,
      sourceId,
      columnSpecs,
    }));
  }

  /**
   * Adds or replaces columns computed by Deephaven formulas, e.g. `"Y = X * 2"`.
   *
   * @param formulas One formula or a list.
   * @returns The new table.
   */
  update(formulas: string | string[]): TableRef {
    return this.#select("update", formulas);
  }

  /** Like {@linkcode TableRef.update}, computing values once per distinct input and caching them. */
  lazyUpdate(formulas: string | string[]): TableRef {
    return this.#select("lazyUpdate", formulas);
  }

  /** Keeps only the given columns (or formulas), computed on demand. */
  view(formulas: string | string[]): TableRef {
    return this.#select("view", formulas);
  }

  /** Adds columns computed on demand (formula columns, no storage). */
  updateView(formulas: string | string[]): TableRef {
    return this.#select("updateView", formulas);
  }

  /** Keeps only the given columns (or formulas), computed and stored; no argument selects every column. */
  select(formulas?: string | string[]): TableRef {
    return this.#select("select", formulas);
  }

  /** Removes columns. */
  dropColumns(columns: string | string[]): TableRef {
    const columnNames = toList(columns);
    return this.#unary("dropColumns", `dropColumns(${show(columnNames)})`, (resultId, sourceId) => ({
      resultId,
      sourceId,
      columnNames,
    }));
  }

  /**
   * Keeps rows matching Deephaven filter expressions, e.g. `"X > 3"`,
   * `"Sym in 'A', 'B'"`. Several filters are and-ed.
   */
  where(filters: string | string[]): TableRef {
    const list = toList(filters);
    return this.#unary("unstructuredFilter", `where(${show(list)})`, (resultId, sourceId) => ({
      resultId,
      sourceId,
      filters: list,
    }));
  }

  /**
   * Sorts by columns, ascending unless `order` says otherwise (one direction,
   * or one per column).
   */
  sort(orderBy: string | string[], order: SortDirection | SortDirection[] = "ASC"): TableRef {
    const cols = toList(orderBy);
    const dirs = typeof order === "string" ? cols.map(() => order) : order;
    if (dirs.length !== cols.length) {
      throw DeephavenError.invalid(
        `sort() got ${cols.length} columns but ${dirs.length} directions; give one per column`,
      );
    }
    const sorts = cols.map((columnName, i) => ({
      columnName,
      isAbsolute: false,
      direction: dirs[i] === "DESC" ? -1 : 1,
    }));
    return this.#unary("sort", `sort(${show(cols)}, ${JSON.stringify(order)})`, (resultId, sourceId) => ({
      resultId,
      sourceId,
      sorts,
    }));
  }

  /** Sorts by columns, descending. */
  sortDescending(orderBy: string | string[]): TableRef {
    return this.sort(orderBy, "DESC");
  }

  /** The first `n` rows. */
  head(n: number): TableRef {
    const numRows = checkCount(n, "head()");
    return this.#unary("head", `head(${n})`, (resultId, sourceId) => ({ resultId, sourceId, numRows }));
  }

  /** The last `n` rows. */
  tail(n: number): TableRef {
    const numRows = checkCount(n, "tail()");
    return this.#unary("tail", `tail(${n})`, (resultId, sourceId) => ({ resultId, sourceId, numRows }));
  }

  /** The first `n` rows of each group. */
  headBy(n: number, by: string | string[]): TableRef {
    const numRows = checkCount(n, "headBy()");
    const groupByColumnSpecs = toList(by);
    return this.#unary("headBy", `headBy(${n}, ${show(by)})`, (resultId, sourceId) => ({
      resultId,
      sourceId,
      numRows,
      groupByColumnSpecs,
    }));
  }

  /** The last `n` rows of each group. */
  tailBy(n: number, by: string | string[]): TableRef {
    const numRows = checkCount(n, "tailBy()");
    const groupByColumnSpecs = toList(by);
    return this.#unary("tailBy", `tailBy(${n}, ${show(by)})`, (resultId, sourceId) => ({
      resultId,
      sourceId,
      numRows,
      groupByColumnSpecs,
    }));
  }

  #aggAll(name: string, specCase: string, by?: string | string[], value: Record<string, unknown> = {}) {
    const groupByColumns = toList(by);
    return this.#unary("aggregateAll", `${name}(${show(groupByColumns)})`, (resultId, sourceId) => ({
      resultId,
      sourceId,
      spec: { type: { case: specCase, value } },
      groupByColumns,
    }));
  }

  /** The first row of each group (of the whole table when `by` is absent). */
  firstBy(by?: string | string[]): TableRef {
    return this.#aggAll("firstBy", "first", by);
  }

  /** The last row of each group. */
  lastBy(by?: string | string[]): TableRef {
    return this.#aggAll("lastBy", "last", by);
  }

  /** Sum of every non-key column per group. */
  sumBy(by?: string | string[]): TableRef {
    return this.#aggAll("sumBy", "sum", by);
  }

  /** Sum of absolute values of every non-key column per group. */
  absSumBy(by?: string | string[]): TableRef {
    return this.#aggAll("absSumBy", "absSum", by);
  }

  /** Mean of every non-key column per group. */
  avgBy(by?: string | string[]): TableRef {
    return this.#aggAll("avgBy", "avg", by);
  }

  /** Minimum of every non-key column per group. */
  minBy(by?: string | string[]): TableRef {
    return this.#aggAll("minBy", "min", by);
  }

  /** Maximum of every non-key column per group. */
  maxBy(by?: string | string[]): TableRef {
    return this.#aggAll("maxBy", "max", by);
  }

  /** Sample standard deviation of every non-key column per group. */
  stdBy(by?: string | string[]): TableRef {
    return this.#aggAll("stdBy", "std", by);
  }

  /** Sample variance of every non-key column per group. */
  varBy(by?: string | string[]): TableRef {
    return this.#aggAll("varBy", "var", by);
  }

  /** Median of every non-key column per group. */
  medianBy(by?: string | string[]): TableRef {
    return this.#aggAll("medianBy", "median", by, { averageEvenlyDivided: true });
  }

  /** Groups rows into arrays per group (undo with {@linkcode TableRef.ungroup}). */
  groupBy(by?: string | string[]): TableRef {
    return this.#aggAll("groupBy", "group", by);
  }

  /** Number of rows per group, in column `column`. */
  countBy(column: string, by?: string | string[]): TableRef {
    return this.aggBy([agg.count(column)], by);
  }

  /**
   * Several aggregations at once, per group.
   *
   * @param aggs Aggregations built with `agg`.
   * @param by Group-by columns; none aggregates the whole table.
   * @param preserveEmpty Keep a result row when the table is empty (no `by`).
   * @returns The new table.
   */
  aggBy(aggs: Aggregation | Aggregation[], by?: string | string[], preserveEmpty = false): TableRef {
    const list = Array.isArray(aggs) ? aggs : [aggs];
    if (list.length === 0) throw DeephavenError.invalid("aggBy() needs at least one aggregation");
    const groupByColumns = toList(by);
    return this.#unary(
      "aggregate",
      `aggBy([${list.map((a) => a.description).join(", ")}], ${show(groupByColumns)})`,
      (resultId, sourceId) => ({
        resultId,
        sourceId,
        preserveEmpty,
        aggregations: list.map((a) => a.wire),
        groupByColumns,
      }),
    );
  }

  /** The distinct combinations of the given columns. */
  selectDistinct(columns?: string | string[]): TableRef {
    const columnNames = toList(columns);
    return this.#unary("selectDistinct", `selectDistinct(${show(columnNames)})`, (resultId, sourceId) => ({
      resultId,
      sourceId,
      columnNames,
    }));
  }

  /** Expands array columns into one row per element. */
  ungroup(columns?: string | string[], nullFill = true): TableRef {
    const columnsToUngroup = toList(columns);
    return this.#unary("ungroup", `ungroup(${show(columnsToUngroup)})`, (resultId, sourceId) => ({
      resultId,
      sourceId,
      nullFill,
      columnsToUngroup,
    }));
  }

  /** A static server-side copy of the table's current state. */
  snapshot(): TableRef {
    return this.#unary("snapshot", "snapshot()", (resultId, sourceId) => ({ resultId, sourceId }));
  }

  /** Makes the row keys flat (0..size-1). */
  flatten(): TableRef {
    return this.#unary("flatten", "flatten()", (resultId, sourceId) => ({ resultId, sourceId }));
  }

  /** Rows from position `start` (inclusive) to `stop` (exclusive); negative positions count from the end. */
  slice(start: number, stop: number): TableRef {
    return this.#unary("slice", `slice(${start}, ${stop})`, (resultId, sourceId) => ({
      resultId,
      sourceId,
      firstPositionInclusive: BigInt(start),
      lastPositionExclusive: BigInt(stop),
    }));
  }

  #join(
    method: "naturalJoinTables" | "exactJoinTables" | "crossJoinTables",
    name: string,
    table: TableRef,
    on: string | string[] | undefined,
    joins: string | string[] | undefined,
    extra: Record<string, unknown> = {},
  ): TableRef {
    const columnsToMatch = toList(on);
    const columnsToAdd = toList(joins);
    return this.#unary(
      method,
      `${name}(${table.#description}, ${show(columnsToMatch)}, ${show(columnsToAdd)})`,
      (resultId, leftId) => ({
        resultId,
        leftId,
        rightId: table.#source(),
        columnsToMatch,
        columnsToAdd,
        ...extra,
      }),
      [table],
    );
  }

  /**
   * Adds columns from `table` where the keys match; at most one right row per key.
   *
   * @param table The right table.
   * @param on Key columns, or `"Left = Right"` match pairs.
   * @param joins Right columns to add (all but the keys when absent); `"New = Old"` renames.
   * @param type What to do with duplicate right keys.
   * @returns The new table.
   */
  naturalJoin(
    table: TableRef,
    on: string | string[],
    joins?: string | string[],
    type?: NaturalJoinType,
  ): TableRef {
    return this.#join(
      "naturalJoinTables",
      "naturalJoin",
      table,
      on,
      joins,
      type ? { joinType: NATURAL_JOIN_TYPES[type] } : {},
    );
  }

  /** Like {@linkcode TableRef.naturalJoin}, but every left row must match exactly one right row. */
  exactJoin(table: TableRef, on: string | string[], joins?: string | string[]): TableRef {
    return this.#join("exactJoinTables", "exactJoin", table, on, joins);
  }

  /**
   * Cross join: every matching pair of left and right rows (all pairs when
   * `on` is empty).
   */
  join(table: TableRef, on?: string | string[], joins?: string | string[], reserveBits = 10): TableRef {
    return this.#join("crossJoinTables", "join", table, on, joins, { reserveBits });
  }

  #asOf(
    method: "ajTables" | "rajTables",
    name: string,
    table: TableRef,
    on: string | string[],
    joins?: string | string[],
  ) {
    const keys = toList(on);
    if (keys.length === 0) throw DeephavenError.invalid(`${name}() needs at least the as-of column in 'on'`);
    const columnsToAdd = toList(joins);
    return this.#unary(
      method,
      `${name}(${table.#description}, ${show(keys)}, ${show(columnsToAdd)})`,
      (resultId, leftId) => ({
        resultId,
        leftId,
        rightId: table.#source(),
        exactMatchColumns: keys.slice(0, -1),
        asOfColumn: keys[keys.length - 1],
        columnsToAdd,
      }),
      [table],
    );
  }

  /**
   * As-of join: exact matches on all but the last `on` column, and the
   * closest right row at or before the left row on the last.
   */
  aj(table: TableRef, on: string | string[], joins?: string | string[]): TableRef {
    return this.#asOf("ajTables", "aj", table, on, joins);
  }

  /** Reverse as-of join: the closest right row at or after the left row on the last `on` column. */
  raj(table: TableRef, on: string | string[], joins?: string | string[]): TableRef {
    return this.#asOf("rajTables", "raj", table, on, joins);
  }

  /** A description without data, e.g. `TableRef(emptyTable(10), export 1)`. */
  toString(): string {
    return `TableRef(${this.#description}, ${describeTicket(this.ticket)}${this.#closed ? ", closed" : ""})`;
  }

  /** Shows the handle in `Deno.inspect` and `console.log` without data or secrets. */
  [Symbol.for("Deno.customInspect")](): string {
    return this.toString();
  }
}
