/**
 * {@linkcode Session}: a logged-in connection to a Deephaven server, the Deno
 * counterpart of pydeephaven's `Session`.
 *
 * @module
 */

import type { Table } from "../deps/apache_arrow.ts";
import { DeephavenError } from "../errors.ts";
import { rpc, rpcDynamic } from "../transport/rpc.ts";
import { type ConnectOptions, type ReconnectOptions, SessionCore, type SessionState } from "./core.ts";
import { checkRef, coreOf, createRef, exportOf, TableRef } from "./table_ref.ts";
import {
  checkArrowTable,
  checkFunction,
  checkOptions,
  checkSignal,
  checkString,
  shown,
} from "../validate.ts";
import { describeTicket, scopeTicket, type SharedTicket, ticketBytes, type TicketLike } from "./ticket.ts";
import { doPut } from "./do_put.ts";
import { consoleTicket, execute } from "./script_op.ts";
import { createInputTable, type InputTable, type InputTableOptions } from "./input_table.ts";
import { type FieldInfo, type FieldsChange, listFields, SCOPE_APPLICATION, watchFields } from "./fields.ts";
import {
  type ExportedTableCreationResponse,
  TableService,
} from "../generated/proto/deephaven_core/proto/table_pb.ts";
import { SessionService } from "../generated/proto/deephaven_core/proto/session_pb.ts";
import { ConsoleService } from "../generated/proto/deephaven_core/proto/console_pb.ts";

export type { ConnectOptions, FieldInfo, FieldsChange, ReconnectOptions, SessionState };

const sessionCores = new WeakMap<Session, SessionCore>();

/**
 * The inside of a session or of a table handle's session (for the barrage layer; not public API).
 * @ignore
 */
export function sessionCoreOf(x: Session | TableRef): SessionCore {
  return x instanceof TableRef ? coreOf(x) : (sessionCores.get(x) as SessionCore);
}

/** Options of {@linkcode Session.timeTable}. */
export interface TimeTableOptions {
  /** Period between rows: an ISO-8601 duration such as `"PT1s"`, or nanoseconds. */
  period: string | number | bigint;
  /** First timestamp: a `Date`, epoch nanoseconds, or a Deephaven time string. Default: now. */
  startTime?: Date | bigint | string;
  /** Make a blink table (each cycle keeps only its new rows). Default `false`. */
  blinkTable?: boolean;
}

/** Refuses time table options the server could not take (before anything is sent). */
function checkTimeTable(o: TimeTableOptions): void {
  const p = o.period;
  const ok = typeof p === "string"
    ? p.length > 0
    : typeof p === "number"
    ? Number.isSafeInteger(p) && p > 0
    : typeof p === "bigint" && p > 0n;
  if (!ok) {
    throw DeephavenError.invalid(
      `timeTable() needs a period: an ISO-8601 duration such as "PT1s", or whole nanoseconds > 0; got ${
        shown(p)
      }`,
    );
  }
  const t = o.startTime;
  if (
    t !== undefined && !(t instanceof Date && !Number.isNaN(t.getTime())) && typeof t !== "bigint" &&
    typeof t !== "string"
  ) {
    throw DeephavenError.invalid(
      `timeTable() needs a start time: a valid Date, epoch nanoseconds (bigint) or a time string; got ${
        shown(t)
      }`,
    );
  }
}

/**
 * A session with a Deephaven server.
 *
 * @example Usage
 * ```ts ignore
 * import { Session } from "./session.ts";
 *
 * await using session = await Session.connect({ host: "localhost", port: 10000 });
 * const t = session.timeTable("PT1s").update(["X = 0.1 * i", "Y = Math.sin(X)"]);
 * console.log((await t.toArrow()).numRows);
 * ```
 */
export class Session {
  readonly #core: SessionCore;

  private constructor(core: SessionCore) {
    this.#core = core;
    sessionCores.set(this, core);
  }

  /**
   * Connects and logs in. The login is the first `GetConfigurationConstants`
   * call, sent with the `authorization` header; the server answers with a
   * Bearer token that later calls use (and that rotates over time).
   *
   * @param options Host, port, auth, TLS, headers.
   * @returns The open session.
   * @throws {DeephavenError} `UNAUTHENTICATED` for bad credentials, `UNAVAILABLE` for an unreachable server.
   */
  static async connect(options: ConnectOptions = {}): Promise<Session> {
    const core = new SessionCore(options);
    await core.login(options.connectTimeoutMs ?? 30_000, options.signal);
    return new Session(core);
  }

  /** Server host. */
  get host(): string {
    return this.#core.host;
  }

  /** Server port. */
  get port(): number {
    return this.#core.port;
  }

  /** Whether TLS is used. */
  get useTls(): boolean {
    return this.#core.useTls;
  }

  /**
   * `"connected"`, `"reconnecting"` (after a transport error, while reconnection is on), `"failed"` (gave
   * up, or the credentials were refused) or `"closed"`.
   */
  get state(): SessionState {
    return this.#core.state;
  }

  /**
   * Calls `cb` whenever the connection state changes.
   *
   * @param cb The listener.
   * @returns A function that removes the listener.
   */
  onStateChange(cb: (state: SessionState) => void): () => void {
    return this.#core.onStateChange(cb);
  }

  /** Whether the session is open and its token still refreshes. */
  get isAlive(): boolean {
    return this.#core.isAlive;
  }

  /** The server's session duration (`http.session.durationMs`); the token is refreshed every third of it. */
  get sessionDurationMs(): number {
    return this.#core.sessionDurationMs;
  }

  /** Configuration constants the server sent at login (e.g. `deephaven.version`). */
  get serverConfig(): ReadonlyMap<string, string> {
    return this.#core.config;
  }

  #table(
    description: string,
    method: keyof typeof TableService.method,
    request: (result: { ticket: Uint8Array }) => Record<string, unknown>,
  ): TableRef {
    const spec = rpcDynamic<Record<string, unknown>, ExportedTableCreationResponse>(
      TableService.method[method],
    );
    return createRef(
      this.#core,
      description,
      (result) =>
        this.#core.channel.unary(spec, request(result), {
          what: `Table operation ${description}`,
        }),
    );
  }

  /**
   * A static table of `size` rows and no columns; add columns with `update`.
   *
   * @param size Number of rows.
   * @returns The table handle.
   */
  emptyTable(size: number): TableRef {
    if (!Number.isSafeInteger(size) || size < 0) {
      throw DeephavenError.invalid(`emptyTable() needs a whole number of rows >= 0, got ${size}`);
    }
    return this.#table(`emptyTable(${size})`, "emptyTable", (resultId) => ({ resultId, size: BigInt(size) }));
  }

  /**
   * A ticking table with a `Timestamp` column that gains one row per period.
   *
   * @param period An ISO-8601 duration such as `"PT1s"`, nanoseconds, or options.
   * @returns The table handle.
   */
  timeTable(period: string | number | bigint | TimeTableOptions): TableRef {
    const o: TimeTableOptions = typeof period === "object" ? checkOptions(period, "timeTable()") : { period };
    checkTimeTable(o);
    const req: Record<string, unknown> = { blinkTable: o.blinkTable ?? false };
    req.period = typeof o.period === "string"
      ? { case: "periodString", value: o.period }
      : { case: "periodNanos", value: BigInt(o.period) };
    if (o.startTime !== undefined) {
      req.startTime = o.startTime instanceof Date
        ? { case: "startTimeNanos", value: BigInt(o.startTime.getTime()) * 1_000_000n }
        : typeof o.startTime === "bigint"
        ? { case: "startTimeNanos", value: o.startTime }
        : { case: "startTimeString", value: o.startTime };
    }
    const desc = `timeTable(${JSON.stringify(typeof o.period === "bigint" ? String(o.period) : o.period)}${
      o.blinkTable ? ", blink" : ""
    })`;
    return this.#table(desc, "timeTable", (resultId) => ({ resultId, ...req }));
  }

  /**
   * A table from the server's global scope, by variable name.
   *
   * @param name The variable name.
   * @returns The table handle (fails on use when there is no such table).
   */
  openTable(name: string): TableRef {
    checkString(name, "openTable() needs the name of a variable in the server's scope", true);
    return this.#fetch(`openTable(${JSON.stringify(name)})`, scopeTicket(name));
  }

  /**
   * A table by ticket, e.g. a {@linkcode SharedTicket} published by another
   * session or client. The table is copied into an export of this session,
   * so it stays usable here even if the publisher releases it later.
   *
   * @param ticket The ticket (or its bytes).
   * @returns The table handle.
   */
  fetchTable(ticket: TicketLike): TableRef {
    const bytes = ticketBytes(ticket);
    return this.#fetch(`fetchTable(${describeTicket(bytes)})`, bytes);
  }

  #fetch(description: string, source: Uint8Array): TableRef {
    return this.#table(description, "fetchTable", (resultId) => ({
      sourceId: { ref: { case: "ticket", value: { ticket: source } } },
      resultId,
    }));
  }

  /**
   * Merges tables with the same columns, one after another.
   *
   * @param tables The tables.
   * @param orderBy Optional key column to order the merged rows by.
   * @returns The merged table.
   */
  mergeTables(tables: TableRef[], orderBy?: string): TableRef {
    if (!Array.isArray(tables)) {
      throw DeephavenError.invalid(`mergeTables() needs a list of tables, got ${shown(tables)}`);
    }
    tables.forEach((t) => checkRef(t, "mergeTables()"));
    if (orderBy !== undefined) checkString(orderBy, "mergeTables() orders by a column name");
    if (tables.length === 0) throw DeephavenError.invalid("mergeTables() needs at least one table");
    const desc = `mergeTables([${tables.map((t) => t.description).join(", ")}])`;
    const spec = rpc(TableService.method.mergeTables);
    return createRef(
      this.#core,
      desc,
      (resultId, sourceIds) =>
        this.#core.channel.unary(spec, { resultId, sourceIds, keyColumn: orderBy ?? "" }, {
          what: `Table operation ${desc}`,
        }),
      tables,
    );
  }

  /**
   * Uploads an apache-arrow `Table` as a new static server table (Flight DoPut).
   *
   * @param table The data.
   * @returns The table handle.
   */
  importTable(table: Table): TableRef {
    checkArrowTable(table, "importTable()");
    const desc = `importTable(${table.numRows} rows)`;
    return createRef(
      this.#core,
      desc,
      (result) => doPut(this.#core, result.ticket, table, `Table operation ${desc}`),
    );
  }

  /**
   * Creates an input table: a server table that clients write to with `add` and (when keyed) `delete`. Its
   * columns come from an apache-arrow `Schema` or from an existing table (pydeephaven's `input_table`).
   *
   * @example
   * ```ts ignore
   * import { Field, Float64, Schema, Utf8 } from "apache-arrow";
   *
   * const quotes = session.inputTable({
   *   schema: new Schema([new Field("Sym", new Utf8()), new Field("Px", new Float64())]),
   *   keyColumns: "Sym",
   * });
   * await quotes.add([{ Sym: "A", Px: 1.5 }]);
   * const log = session.inputTable({ initTable: quotes }); // append-only, same columns
   * ```
   *
   * @param options The columns (`schema` or `initTable`), `keyColumns`, `blink`.
   * @returns The input table.
   * @throws {DeephavenError} `INVALID_ARGUMENT` for contradictory options or key columns the schema lacks.
   */
  inputTable(options: InputTableOptions): InputTable {
    this.#core.checkAlive("Creating an input table");
    return createInputTable(this.#core, options);
  }

  /**
   * Publishes a table under a shared ticket, so other sessions can fetch or
   * subscribe to it by `ticket.bytes`. It stays published while this session
   * holds the table.
   *
   * @param ticket The shared ticket, e.g. `SharedTicket.randomTicket()`.
   * @param table The table to publish.
   */
  async publishTable(ticket: SharedTicket, table: TableRef): Promise<void> {
    const shared = ticketBytes(ticket);
    checkRef(table, "publishTable()");
    await table.ready();
    const what = `Publishing ${table.description} under ${describeTicket(shared)}`;
    this.#core.checkAlive(what);
    await this.#core.channel.unary(rpc(SessionService.method.publishFromTicket), {
      sourceId: { ticket: table.ticket },
      resultId: { ticket: shared },
    }, { what });
    this.#core.registerPublication(shared, exportOf(table), table);
  }

  /**
   * The current data of a table as an apache-arrow `Table` (one Barrage snapshot, see `TableRef.toArrow`), by
   * handle or ticket. For a local table (a `LocalTable` in state `snapshot`) use
   * `barrageSession(...).snapshot()`.
   *
   * @example
   * ```ts ignore
   * const table = await session.toArrow(SharedTicket.fromHex(hex));
   * console.log(table.numRows);
   * ```
   *
   * @param table A handle, a shared ticket, or ticket bytes.
   * @param signal Aborts the transfer.
   * @returns The data as an apache-arrow `Table`.
   */
  async toArrow(table: TableRef | TicketLike, signal?: AbortSignal): Promise<Table> {
    checkSignal(signal, "toArrow()");
    if (table instanceof TableRef) return await table.toArrow(signal);
    return await this.#core.exchangeSnapshot(ticketBytes(table), signal);
  }

  #console(): Promise<Uint8Array> {
    return consoleTicket(this.#core);
  }

  /**
   * Runs Python code in the server's global scope (tables it assigns become
   * visible to {@linkcode Session.openTable}).
   *
   * @param code Python source.
   * @throws {DeephavenError} `INVALID_ARGUMENT` with the server's error when the script fails.
   */
  async runScript(code: string): Promise<void> {
    checkString(code, "runScript() needs Python source");
    this.#core.checkAlive("Running a script");
    await execute(this.#core, code, "Running a script");
  }

  /**
   * Assigns a table to a variable in the server's global scope.
   *
   * @param name The variable name.
   * @param table The table.
   */
  async bindTable(name: string, table: TableRef): Promise<void> {
    checkString(name, "bindTable() needs a variable name", true);
    checkRef(table, "bindTable()");
    await table.ready();
    const consoleId = await this.#console();
    await this.#core.channel.unary(rpc(ConsoleService.method.bindTableToVariable), {
      consoleId: { ticket: consoleId },
      variableName: name,
      tableId: { ticket: table.ticket },
    }, { what: `Binding ${table.description} to '${name}'` });
  }

  /**
   * Names of the tables in the server's global scope.
   *
   * @returns The names, sorted.
   */
  async tables(): Promise<string[]> {
    this.#core.checkAlive("Listing tables");
    return (await listFields(this.#core)).filter((f) =>
      f.applicationId === SCOPE_APPLICATION && f.type === "Table"
    )
      .map((f) => f.name).sort();
  }

  /**
   * The objects the server exposes now: the fields of its applications (application mode) and the variables
   * of its global scope (`applicationId` `"scope"`), tables and others, each with its ticket.
   *
   * @example
   * ```ts ignore
   * for (const f of await session.fields()) console.log(`${f.applicationId}/${f.name}: ${f.type}`);
   * const numbers = (await session.fields()).find((f) => f.name === "numbers")!;
   * console.log((await session.fetchTable(numbers.ticket).toArrow()).numRows);
   * ```
   *
   * @param signal Aborts the call.
   * @returns The fields, sorted by application id and name.
   */
  async fields(signal?: AbortSignal): Promise<FieldInfo[]> {
    return await listFields(this.#core, checkSignal(signal, "fields()"));
  }

  /**
   * Follows the server's fields as an async iterable: first every field visible now (as `created`), then each
   * change (a script that assigns or deletes a variable, an application that sets or removes a field). Across a
   * reconnection, the difference between before and after comes as one change. The iteration ends when
   * `signal` aborts, the loop breaks, or the session closes.
   *
   * @example
   * ```ts ignore
   * const ac = new AbortController();
   * for await (const change of session.fieldChanges({ signal: ac.signal })) {
   *   console.log(change.created.map((f) => f.name), change.removed.map((f) => f.name));
   * }
   * ```
   *
   * @param options `signal` ends the iteration.
   * @returns The changes.
   */
  fieldChanges(options: { signal?: AbortSignal } = {}): AsyncIterable<FieldsChange> {
    const core = this.#core;
    const signal = checkSignal(checkOptions(options, "fieldChanges()").signal, "fieldChanges()");
    return { [Symbol.asyncIterator]: () => watchFields(core, signal) };
  }

  /**
   * Calls `cb` with each change of the server's fields, as {@linkcode Session.fieldChanges} yields them (the
   * first call lists every field visible now, as `created`).
   *
   * @example
   * ```ts ignore
   * const stop = session.onFieldsChange((change) => console.log(change.created.map((f) => f.name)));
   * // ...
   * stop();
   * ```
   *
   * @param cb The listener.
   * @param onError Gets the error that ends the following (the session failed); without it, its message is
   *   written to the console.
   * @returns A function that stops following.
   */
  onFieldsChange(cb: (change: FieldsChange) => void, onError?: (error: DeephavenError) => void): () => void {
    checkFunction(cb, "onFieldsChange() needs a listener");
    if (onError !== undefined) checkFunction(onError, "onFieldsChange() takes an error listener");
    const ac = new AbortController();
    (async () => {
      try {
        for await (const change of this.fieldChanges({ signal: ac.signal })) cb(change);
      } catch (e) {
        if (ac.signal.aborted) return;
        const err = DeephavenError.from(e, "Following the server's fields");
        if (onError) onError(err);
        else console.error(err.message);
      }
    })();
    return () => ac.abort();
  }

  /**
   * Releases a ticket of this session.
   *
   * @param ticket The ticket.
   */
  async release(ticket: TicketLike): Promise<void> {
    await this.#core.release(ticketBytes(ticket));
  }

  /** Closes the session on the server (releasing its tables and published tickets) and the connection. */
  async close(): Promise<void> {
    await this.#core.close();
  }

  /** Closes the session, for `await using`. */
  async [Symbol.asyncDispose](): Promise<void> {
    await this.close();
  }

  /** A description without secrets. */
  toString(): string {
    return `Session(${this.#core.useTls ? "https" : "http"}://${this.#core.target}, ${this.#core.state})`;
  }

  /** Shows the session in `Deno.inspect` without secrets. */
  [Symbol.for("Deno.customInspect")](): string {
    return this.toString();
  }
}
