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
import { checkInteger, checkSignal, checkString, checkStrings, shown } from "../validate.ts";
import { rpcDynamic } from "../transport/rpc.ts";
import { agg, type Aggregation } from "./aggregation.ts";
import type { SessionCore, TableExport, TableInfo } from "./core.ts";
import { tableInfo } from "./core.ts";
import { schemaFromHeader } from "../arrow/ipc.ts";
import { describeTicket } from "./ticket.ts";
import { type UpdateByOperation, updateByRequest } from "./update_by.ts";
import {
  conditionalFormat,
  formatColumns,
  moveOrRename,
  outerJoin,
  pct,
  rangeJoin,
  snapshotWhen,
  type SnapshotWhenOptions,
  whereIn,
} from "./more_ops.ts";
import { PartitionedTable } from "./partitioned.ts";
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

function naturalJoinType(type: NaturalJoinType): number {
  const n = NATURAL_JOIN_TYPES[type];
  if (!Object.hasOwn(NATURAL_JOIN_TYPES, type)) {
    throw DeephavenError.invalid(
      `naturalJoin() types are ${Object.keys(NATURAL_JOIN_TYPES).map((k) => `"${k}"`).join(", ")}; got ${
        shown(type)
      }`,
    );
  }
  return n;
}

/** A ticket message (init shape). @ignore */
export type Ticket = { ticket: Uint8Array };
/** A table reference message naming a ticket (init shape). @ignore */
export type SourceRef = { ref: { case: "ticket"; value: Ticket } };

/** Makes the handle of a new export (a `TableRef` or a subclass such as `InputTable`). @ignore */
export type MakeRef<R extends TableRef> = (
  core: SessionCore,
  exp: TableExport,
  info: Promise<TableInfo>,
  description: string,
) => R;

/**
 * What the operation modules (update_by, more_ops, partitioned, ...) get from a handle: its session, and a way
 * to derive a table from it as the built-in operations do (not public API). The `send` functions get the
 * references of the tables they read as arguments and must not hold any handle (see `createRef`).
 * @ignore
 */
export interface RefOps {
  /** The handle's session. */
  readonly core: SessionCore;
  /** The handle (for reading it before an operation is sent; never to be held by a `send` function). */
  readonly source: TableRef;
  /**
   * A table derived from the handle: `send` gets the result ticket and the references of the handle and of
   * `deps`, in that order (read when sent, so a re-creation names the current tickets).
   */
  derive(
    op: string,
    send: (result: Ticket, sources: SourceRef[]) => Promise<ExportedTableCreationResponse | TableInfo>,
    deps?: readonly TableRef[],
  ): TableRef;
  /** A table of the same session made by `send` from the tables `deps` (see `createRef`). */
  create<R extends TableRef = TableRef>(
    description: string,
    send: (result: Ticket, sources: SourceRef[]) => Promise<ExportedTableCreationResponse | TableInfo>,
    deps?: readonly TableRef[],
    make?: MakeRef<R>,
  ): R;
}

let opsOf: (t: TableRef) => RefOps;

/**
 * The operation helpers of a handle (for the operation modules; not public API).
 * @ignore
 */
export function refOps(t: TableRef): RefOps {
  return opsOf(t);
}

function toList(x: string | readonly string[] | undefined): string[] {
  return checkStrings(x, "Table operations take column names, formulas or filters");
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
const exportsOf = new WeakMap<object, TableExport>();

/**
 * The session inside a handle (for the barrage layer; not public API).
 * @ignore
 */
export function coreOf(ref: TableRef): SessionCore {
  return cores.get(ref) as SessionCore;
}

/**
 * The export a handle holds (for the session; not public API).
 * @ignore
 */
export function exportOf(ref: TableRef): TableExport {
  return exportsOf.get(ref) as TableExport;
}

function sourceRef(ticket: Uint8Array): SourceRef {
  return { ref: { case: "ticket", value: { ticket } } };
}

/**
 * A table handle, or a DeephavenError `INVALID_ARGUMENT`.
 * @ignore
 */
export function checkRef(x: unknown, what: string): TableRef {
  if (!(x instanceof TableRef)) {
    throw DeephavenError.invalid(`${what} needs a TableRef (a server table handle), got ${shown(x)}`);
  }
  return x;
}

/**
 * How to create a table again: made in its own scope, so that the function holds `send` and `what` only (a
 * closure made inside `createRef` would share its scope, and with it the handles in `deps`).
 */
function maker(
  send: (result: Ticket, sources: SourceRef[]) => Promise<ExportedTableCreationResponse | TableInfo>,
  what: string,
): TableExport["make"] {
  return async (t, from) => {
    const r = await send({ ticket: t }, from.map(sourceRef));
    if ("success" in r) tableInfo(r as ExportedTableCreationResponse, what);
  };
}

/**
 * Creates a handle whose creation RPC is already under way. `send` gets the
 * result ticket and the tickets of `deps` (as source references, in order) and
 * returns the server's creation response; `deps` are the handles the new table
 * reads, whose failure explains this one's. `send` must not hold any handle:
 * it is kept to create the table again after a new server session, while the
 * handles may be collected.
 * @ignore
 */
export function createRef<R extends TableRef = TableRef>(
  core: SessionCore,
  description: string,
  send: (result: Ticket, sources: SourceRef[]) => Promise<ExportedTableCreationResponse | TableInfo>,
  deps: readonly TableRef[] = [],
  make: MakeRef<R> = (...args) => new TableRef(...args) as R,
): R {
  const what = `Table operation ${description}`;
  const sources = deps.map(exportOf);
  const exp: TableExport = {
    ticket: core.newExportTicket(),
    sources,
    held: true,
    readers: new Set(),
    make: maker(send, what),
  };
  const info = (async (): Promise<TableInfo> => {
    let sent: Promise<ExportedTableCreationResponse | TableInfo>;
    try {
      core.checkAlive(what);
      sent = send({ ticket: exp.ticket }, sources.map((e) => sourceRef(e.ticket)));
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
  // The sources are released (when their handles go) only after this creation is done.
  const settled = info.then(() => {}, () => {});
  for (const src of sources) {
    src.readers.add(settled);
    settled.then(() => src.readers.delete(settled));
  }
  const ref = make(core, exp, info, description);
  core.track(exp, ref);
  return ref;
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
  readonly #export: TableExport;
  readonly #core: SessionCore;
  readonly #info: Promise<TableInfo>;
  readonly #description: string;
  #closed = false;

  /**
   * Use the session's methods to make handles.
   * @ignore
   */
  constructor(core: SessionCore, exp: TableExport, info: Promise<TableInfo>, description: string) {
    this.#core = core;
    cores.set(this, core);
    exportsOf.set(this, exp);
    this.#export = exp;
    this.#info = info;
    this.#description = description;
  }

  /**
   * The export ticket of this table in its session. It can change when the
   * table had to be re-created after a reconnection.
   */
  get ticket(): Uint8Array {
    return this.#export.ticket;
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
    checkSignal(signal, "toArrow()");
    const info = await this.#info;
    this.#checkOpen("toArrow()");
    return await this.#core.exchangeSnapshot(this.ticket, signal, info.schemaHeader);
  }

  /**
   * Releases the server table. Handles derived from it stay valid. Safe to call twice. A handle that is
   * garbage-collected without `close()` is released then; `close()` (or `await using`) releases it at once.
   */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    try {
      await this.#info;
    } catch {
      // Nothing was created, but the export may still exist in a failed state.
    }
    await this.#core.releaseExport(this.#export);
  }

  /**
   * Closes the handle at the end of an `await using` block.
   *
   * @example
   * ```ts ignore
   * {
   *   await using t = session.emptyTable(5).update("X = i");
   *   console.log((await t.toArrow()).numRows);
   * } // released here
   * ```
   */
  async [Symbol.asyncDispose](): Promise<void> {
    await this.close();
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

  /**
   * This table's current reference. A request that reads it holds this handle for as long as the result can
   * be re-created; requests get their sources' references as arguments instead (see `#unary`).
   */
  #source(): SourceRef {
    return { ref: { case: "ticket", value: { ticket: this.ticket } } };
  }

  static {
    opsOf = (t) => ({
      core: t.#core,
      source: t,
      derive: (op, send, deps) => t.#derive(op, send, deps),
      create: (description, send, deps, make) => createRef(t.#core, description, send, deps, make),
    });
  }

  #derive(
    op: string,
    send: (result: Ticket, sources: SourceRef[]) => Promise<ExportedTableCreationResponse | TableInfo>,
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
      const none: TableExport = {
        ticket: this.#core.newExportTicket(),
        sources: [],
        held: false,
        readers: new Set(),
        make: () => Promise.reject(err),
      };
      return new TableRef(this.#core, none, info, description);
    }
    for (const d of deps) {
      checkRef(d, `Table operation ${description}`);
      if (d.#core !== this.#core) {
        throw new DeephavenError(
          `Table operation ${description} failed: both tables must belong to the same session; ` +
            "fetch the other table into this session first",
          { code: GrpcCode.INVALID_ARGUMENT },
        );
      }
    }
    return createRef(this.#core, description, send, [this, ...deps]);
  }

  /**
   * An operation of one RPC whose request `request` builds from the result ticket, this table's reference and
   * those of `deps` (in order). `request` must not hold a handle (see `createRef`).
   */
  #unary<M extends keyof typeof TableService.method>(
    method: M,
    op: string,
    request: (result: Ticket, source: SourceRef, others: SourceRef[]) => Record<string, unknown>,
    deps: readonly TableRef[] = [],
  ): TableRef {
    const spec = rpcDynamic<Record<string, unknown>, ExportedTableCreationResponse>(
      TableService.method[method],
    );
    const channel = this.#core.channel;
    const what = `Table operation ${this.#description}.${op}`;
    return this.#derive(
      op,
      (result, [source, ...others]) => channel.unary(spec, request(result, source, others), { what }),
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

  /**
   * Removes columns.
   *
   * @example
   * ```ts ignore
   * const t = session.emptyTable(5).update(["X = i", "Y = X * 2", "Z = X * 3"]).dropColumns(["Y", "Z"]);
   * ```
   */
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
    const dirs = typeof order === "string"
      ? cols.map(() => order)
      : checkStrings(order, "sort() needs directions");
    for (const d of dirs) {
      if (d !== "ASC" && d !== "DESC") {
        throw DeephavenError.invalid(`sort() directions are "ASC" or "DESC", got ${shown(d)}`);
      }
    }
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

  /**
   * Groups rows into arrays per group (undo with {@linkcode TableRef.ungroup}).
   *
   * @example
   * ```ts ignore
   * const t = session.emptyTable(6).update(["Sym = i % 2 == 0 ? `A` : `B`", "X = i"]);
   * const grouped = t.groupBy("Sym"); // 2 rows; X holds int arrays [0, 2, 4] and [1, 3, 5]
   * ```
   */
  groupBy(by?: string | string[]): TableRef {
    return this.#aggAll("groupBy", "group", by);
  }

  /** Number of rows per group, in column `column`. */
  countBy(column: string, by?: string | string[]): TableRef {
    checkString(column, "countBy() needs the name of the count column", true);
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
    for (const a of list) {
      if (typeof a !== "object" || a === null || !("wire" in a)) {
        throw DeephavenError.invalid(
          `aggBy() needs aggregations built with agg (such as agg.sum("X")), got ${shown(a)}`,
        );
      }
    }
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

  /**
   * The distinct combinations of the given columns (of every column when none are given).
   *
   * @example
   * ```ts ignore
   * const syms = session.emptyTable(100).update("Sym = i % 3 == 0 ? `A` : `B`").selectDistinct("Sym");
   * ```
   */
  selectDistinct(columns?: string | string[]): TableRef {
    const columnNames = toList(columns);
    return this.#unary("selectDistinct", `selectDistinct(${show(columnNames)})`, (resultId, sourceId) => ({
      resultId,
      sourceId,
      columnNames,
    }));
  }

  /**
   * Expands array columns (all of them, or the given ones) into one row per element; with `nullFill`, arrays
   * of different lengths in one row are padded with nulls.
   *
   * @example
   * ```ts ignore
   * const t = session.emptyTable(6).update(["Sym = i % 2 == 0 ? `A` : `B`", "X = i"]);
   * const back = t.groupBy("Sym").ungroup(); // 6 rows again, grouped by Sym
   * ```
   */
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

  /**
   * Makes the row keys flat (0..size-1), e.g. after a `where` that left gaps.
   *
   * @example
   * ```ts ignore
   * const flat = session.emptyTable(10).update("X = i").where("X % 2 == 0").flatten();
   * ```
   */
  flatten(): TableRef {
    return this.#unary("flatten", "flatten()", (resultId, sourceId) => ({ resultId, sourceId }));
  }

  /** Rows from position `start` (inclusive) to `stop` (exclusive); negative positions count from the end. */
  slice(start: number, stop: number): TableRef {
    checkInteger(start, "slice() needs a start position");
    checkInteger(stop, "slice() needs a stop position");
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
    checkRef(table, `${name}()`);
    const columnsToMatch = toList(on);
    const columnsToAdd = toList(joins);
    return this.#unary(
      method,
      `${name}(${table.#description}, ${show(columnsToMatch)}, ${show(columnsToAdd)})`,
      (resultId, leftId, [rightId]) => ({
        resultId,
        leftId,
        rightId,
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
      type === undefined ? {} : { joinType: naturalJoinType(type) },
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
    checkRef(table, `${name}()`);
    const keys = toList(on);
    if (keys.length === 0) throw DeephavenError.invalid(`${name}() needs at least the as-of column in 'on'`);
    const columnsToAdd = toList(joins);
    return this.#unary(
      method,
      `${name}(${table.#description}, ${show(keys)}, ${show(columnsToAdd)})`,
      (resultId, leftId, [rightId]) => ({
        resultId,
        leftId,
        rightId,
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

  // ---- More operations (issue 15): implemented in update_by.ts, more_ops.ts and partitioned.ts. ----

  /**
   * Computes columns over the rows in order, per group of the `by` columns: cumulative sums, minimums,
   * maximums and products, forward fill, deltas, exponential moving statistics and rolling windows, by ticks
   * (rows) or by time. Build the operations with `uby`.
   *
   * @example
   * ```ts ignore
   * import { uby } from "@dh/deephaven";
   *
   * const t = session.emptyTable(10).update(["Sym = i % 2 == 0 ? `A` : `B`", "X = i"]);
   * const u = t.updateBy([uby.cumSum("SumX = X"), uby.rollingAvgTick("AvgX = X", 3)], "Sym");
   * ```
   *
   * @param ops One operation or several.
   * @param by Group-by columns; none computes over the whole table.
   * @returns The table with the computed columns added.
   */
  updateBy(ops: UpdateByOperation | UpdateByOperation[], by?: string | string[]): TableRef {
    const { description, operations, groupByColumns } = updateByRequest(ops, by);
    return this.#unary("updateBy", description, (resultId, sourceId) => ({
      resultId,
      sourceId,
      operations,
      groupByColumns,
    }));
  }

  /**
   * Keeps the rows whose values in `cols` appear in `filterTable` (which may tick: the result follows it).
   *
   * @example
   * ```ts ignore
   * const wanted = session.emptyTable(2).update("Sym = i == 0 ? `A` : `C`");
   * const t = trades.whereIn(wanted, "Sym");
   * ```
   *
   * @param filterTable The table of wanted values.
   * @param cols Columns to match, `"Col"` or `"Col = FilterCol"`.
   * @returns The filtered table.
   */
  whereIn(filterTable: TableRef, cols: string | string[]): TableRef {
    return whereIn(this.#ops(), filterTable, cols, false);
  }

  /**
   * Keeps the rows whose values in `cols` do not appear in `filterTable`.
   *
   * @example
   * ```ts ignore
   * const t = trades.whereNotIn(session.emptyTable(1).update("Sym = `A`"), "Sym");
   * ```
   *
   * @param filterTable The table of unwanted values.
   * @param cols Columns to match, `"Col"` or `"Col = FilterCol"`.
   * @returns The filtered table.
   */
  whereNotIn(filterTable: TableRef, cols: string | string[]): TableRef {
    return whereIn(this.#ops(), filterTable, cols, true);
  }

  /**
   * Renames columns in place (`"New = Old"`); a column whose name a rename takes is dropped, as on the server.
   *
   * @example
   * ```ts ignore
   * const t = session.emptyTable(3).update(["X = i", "Y = i * 2"]).renameColumns(["A = X", "B = Y"]);
   * ```
   *
   * @param cols `"New = Old"` pairs.
   * @returns The table with the columns renamed.
   */
  renameColumns(cols: string | string[]): TableRef {
    return moveOrRename(this.#ops(), `renameColumns(${show(cols)})`, cols, () => -1);
  }

  /**
   * Moves columns to position `index` (0 is first), in the order given (`"New = Old"` also renames).
   *
   * @example
   * ```ts ignore
   * const t = session.emptyTable(3).update(["A = i", "B = i", "C = i"]).moveColumns(1, "C"); // A, C, B
   * ```
   *
   * @param index The position of the first moved column.
   * @param cols The columns to move.
   * @returns The table with the columns moved.
   */
  moveColumns(index: number, cols: string | string[]): TableRef {
    if (!Number.isSafeInteger(index)) {
      throw DeephavenError.invalid(`moveColumns() needs a whole index, got ${index}`);
    }
    return moveOrRename(this.#ops(), `moveColumns(${index}, ${show(cols)})`, cols, () => Math.max(0, index));
  }

  /**
   * Moves columns to the front, in the order given.
   *
   * @example
   * ```ts ignore
   * const t = session.emptyTable(3).update(["A = i", "B = i", "C = i"]).moveColumnsUp("C"); // C, A, B
   * ```
   *
   * @param cols The columns to move.
   * @returns The table with the columns moved.
   */
  moveColumnsUp(cols: string | string[]): TableRef {
    return moveOrRename(this.#ops(), `moveColumnsUp(${show(cols)})`, cols, () => 0);
  }

  /**
   * Moves columns to the end, in the order given.
   *
   * @example
   * ```ts ignore
   * const t = session.emptyTable(3).update(["A = i", "B = i", "C = i"]).moveColumnsDown("A"); // B, C, A
   * ```
   *
   * @param cols The columns to move.
   * @returns The table with the columns moved.
   */
  moveColumnsDown(cols: string | string[]): TableRef {
    return moveOrRename(this.#ops(), `moveColumnsDown(${show(cols)})`, cols, (n, moved) => n - moved);
  }

  /**
   * The first `percent` (0 to 1) of the rows, rounded up; for a ticking table it follows the table's size.
   * This is the server's `head_pct`, which the server offers only in its Python API: it is computed through
   * the session's Python console (the server must have one).
   *
   * @example
   * ```ts ignore
   * const t = session.emptyTable(10).update("X = i").headPct(0.25); // 3 rows: X = 0, 1, 2
   * ```
   *
   * @param percent The fraction of rows.
   * @returns The table.
   */
  headPct(percent: number): TableRef {
    return pct(this.#ops(), true, percent);
  }

  /**
   * The last `percent` (0 to 1) of the rows, rounded up; see {@linkcode TableRef.headPct}.
   *
   * @example
   * ```ts ignore
   * const t = session.emptyTable(10).update("X = i").tailPct(0.25); // 3 rows: X = 7, 8, 9
   * ```
   *
   * @param percent The fraction of rows.
   * @returns The table.
   */
  tailPct(percent: number): TableRef {
    return pct(this.#ops(), false, percent);
  }

  /**
   * Snapshots this table each time `trigger` ticks, stamped with the trigger's last row (pydeephaven's
   * `snapshot_when`).
   *
   * @example
   * ```ts ignore
   * const every5s = session.timeTable("PT5s").renameColumns("SnapTime = Timestamp");
   * const snaps = quotes.snapshotWhen(every5s, { history: true });
   * ```
   *
   * @param trigger The table whose ticks take the snapshots.
   * @param options Stamp columns and the `initial`, `incremental` and `history` flags.
   * @returns The snapshot table.
   */
  snapshotWhen(trigger: TableRef, options: SnapshotWhenOptions = {}): TableRef {
    return snapshotWhen(this.#ops(), trigger, options);
  }

  /**
   * Left outer join: every pair of matching left and right rows, and each left row without a match once, with
   * nulls in the right columns (the server's `deephaven.experimental.outer_joins`, computed through the
   * session's Python console).
   *
   * @example
   * ```ts ignore
   * const t = orders.leftOuterJoin(fills, "OrderId", ["FillQty = Qty"]);
   * ```
   *
   * @param table The right table.
   * @param on Key columns or `"Left = Right"` pairs; none pairs every left row with every right row.
   * @param joins Right columns to add (all but the keys when absent); `"New = Old"` renames.
   * @param reserveBits Bits of the row key given to right rows (the server's default when absent).
   * @returns The joined table.
   */
  leftOuterJoin(
    table: TableRef,
    on?: string | string[],
    joins?: string | string[],
    reserveBits?: number,
  ): TableRef {
    return outerJoin(this.#ops(), false, table, on, joins, reserveBits);
  }

  /**
   * Full outer join: like {@linkcode TableRef.leftOuterJoin}, plus each right row without a match once, with
   * nulls in the left columns.
   *
   * @example
   * ```ts ignore
   * const t = left.fullOuterJoin(right, "Key");
   * ```
   *
   * @param table The right table.
   * @param on Key columns or `"Left = Right"` pairs.
   * @param joins Right columns to add; `"New = Old"` renames.
   * @param reserveBits Bits of the row key given to right rows.
   * @returns The joined table.
   */
  fullOuterJoin(
    table: TableRef,
    on?: string | string[],
    joins?: string | string[],
    reserveBits?: number,
  ): TableRef {
    return outerJoin(this.#ops(), true, table, on, joins, reserveBits);
  }

  /**
   * Range join: for each left row, aggregates the right rows with the same exact-match keys whose range
   * column falls in the left row's range. `on` lists the exact matches, then the range match, e.g.
   * `["Sym", "LStart < RTime < LEnd"]`: `<=` includes an end, and a leading `<-` or trailing `->` (as in
   * `"<- LStart <= RTime <= LEnd ->"`) also takes the closest row before or after the range. The server
   * supports `agg.group` aggregations here.
   *
   * @example
   * ```ts ignore
   * import { agg } from "@dh/deephaven";
   *
   * const t = windows.rangeJoin(trades, ["Sym", "Start <= Time < End"], agg.group("Prices = Px"));
   * ```
   *
   * @param table The right table.
   * @param on Exact match columns, then the range match expression.
   * @param aggs The aggregations of the matching right rows.
   * @returns The joined table.
   */
  rangeJoin(table: TableRef, on: string | string[], aggs: Aggregation | Aggregation[]): TableRef {
    return rangeJoin(this.#ops(), table, on, aggs);
  }

  /**
   * Adds formatting columns the Deephaven UI reads: `"X = `RED`"` colours column X, `"X = Decimal(`0.00`)"`
   * formats its numbers, `"* = ..."` colours whole rows. The colour is any expression the server's
   * `ColorUtil.toLong` takes (`` `RED` ``, `bgfg(...)`, a formula of the row).
   *
   * @example
   * ```ts ignore
   * const t = quotes.formatColumns(["Px = Px > 100 ? `GREEN` : `RED`", "Px = Decimal(`0.00`)"]);
   * ```
   *
   * @param formats The formats.
   * @returns The table with formatting columns (`X__TABLE_STYLE_FORMAT`, ...).
   */
  formatColumns(formats: string | string[]): TableRef {
    return formatColumns(this.#ops(), `formatColumns(${show(formats)})`, formats);
  }

  /**
   * Colours column `column` with `formula` where `condition` holds.
   *
   * @example
   * ```ts ignore
   * const t = quotes.formatColumnWhere("Px", "Px > 100", "`GREEN`");
   * ```
   *
   * @param column The column.
   * @param condition A filter expression of the row.
   * @param formula The colour.
   * @returns The table with the formatting column.
   */
  formatColumnWhere(column: string, condition: string, formula: string): TableRef {
    return formatColumns(
      this.#ops(),
      `formatColumnWhere(${JSON.stringify(column)}, ${JSON.stringify(condition)}, ${
        JSON.stringify(formula)
      })`,
      conditionalFormat(column, condition, formula),
    );
  }

  /**
   * Colours whole rows with `formula` where `condition` holds.
   *
   * @example
   * ```ts ignore
   * const t = quotes.formatRowWhere("Sym == `A`", "`YELLOW`");
   * ```
   *
   * @param condition A filter expression of the row.
   * @param formula The colour.
   * @returns The table with the row formatting column.
   */
  formatRowWhere(condition: string, formula: string): TableRef {
    return formatColumns(
      this.#ops(),
      `formatRowWhere(${JSON.stringify(condition)}, ${JSON.stringify(formula)})`,
      conditionalFormat("*", condition, formula),
    );
  }

  /**
   * Splits the table by key columns into a partitioned table: one constituent table per distinct key.
   *
   * @example
   * ```ts ignore
   * const bySym = trades.partitionBy("Sym");
   * console.log(await bySym.keys()); // [["A"], ["B"]]
   * const a = bySym.getTable("A");
   * ```
   *
   * @param by The key columns.
   * @param dropKeys Leave the key columns out of the constituents. Default `false`.
   * @returns The partitioned table.
   */
  partitionBy(by: string | string[], dropKeys = false): PartitionedTable {
    const keys = toList(by);
    if (keys.length === 0) throw DeephavenError.invalid("partitionBy() needs at least one key column");
    if (this.#closed) {
      throw new DeephavenError(
        `partitionBy() of ${this.#description} failed: the table was closed; use a handle that is still open`,
        { code: GrpcCode.FAILED_PRECONDITION },
      );
    }
    return new PartitionedTable(this.#ops(), keys, dropKeys);
  }

  #ops(): RefOps {
    return opsOf(this);
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
