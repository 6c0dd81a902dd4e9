/**
 * {@linkcode Session}: a logged-in connection to a Deephaven server, the Deno
 * counterpart of pydeephaven's `Session`.
 *
 * @module
 */

import { type Table, tableToIPC } from "../deps/apache_arrow.ts";
import { DeephavenError, GrpcCode } from "../errors.ts";
import { rpc, rpcDynamic } from "../transport/rpc.ts";
import { type ConnectOptions, type ReconnectOptions, SessionCore, type SessionState } from "./core.ts";
import { coreOf, createRef, TableRef } from "./table_ref.ts";
import { describeTicket, scopeTicket, type SharedTicket, ticketBytes, type TicketLike } from "./ticket.ts";
import { ipcToFlight } from "../arrow/ipc.ts";
import {
  type ExportedTableCreationResponse,
  TableService,
} from "../generated/proto/deephaven_core/proto/table_pb.ts";
import { SessionService } from "../generated/proto/deephaven_core/proto/session_pb.ts";
import { ConsoleService } from "../generated/proto/deephaven_core/proto/console_pb.ts";
import { ApplicationService } from "../generated/proto/deephaven_core/proto/application_pb.ts";
import { FlightService } from "../generated/proto/arrow/flight/protocol/flight_pb.ts";

export type { ConnectOptions, ReconnectOptions, SessionState };

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
  #consoleId: Promise<Uint8Array> | undefined;

  private constructor(core: SessionCore) {
    this.#core = core;
    sessionCores.set(this, core);
    core.onNewSession(() => (this.#consoleId = undefined));
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
    const o: TimeTableOptions = typeof period === "object" ? period : { period };
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
    if (tables.length === 0) throw DeephavenError.invalid("mergeTables() needs at least one table");
    const desc = `mergeTables([${tables.map((t) => t.description).join(", ")}])`;
    const spec = rpc(TableService.method.mergeTables);
    return createRef(
      this.#core,
      desc,
      (resultId) =>
        this.#core.channel.unary(spec, {
          resultId,
          sourceIds: tables.map((t) => ({ ref: { case: "ticket" as const, value: { ticket: t.ticket } } })),
          keyColumn: orderBy ?? "",
        }, { what: `Table operation ${desc}` }),
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
    const desc = `importTable(${table.numRows} rows)`;
    return createRef(this.#core, desc, async (result) => {
      const what = `Table operation ${desc}`;
      const payloads = ipcToFlight(tableToIPC(table, "stream"));
      const id = new DataView(result.ticket.buffer).getInt32(1, true);
      const call = this.#core.channel.bidi(rpc(FlightService.method.doPut), { what });
      payloads.forEach((p, i) =>
        call.send({
          flightDescriptor: i === 0 ? { type: 1, path: ["export", String(id)] } : undefined,
          dataHeader: p.dataHeader,
          dataBody: p.dataBody,
        })
      );
      call.end();
      for await (const _ of call) { /* acks */ }
      return await this.#core.tableInfoOf(result.ticket, what);
    });
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
    await table.ready();
    const what = `Publishing ${table.description} under ${describeTicket(ticket.bytes)}`;
    this.#core.checkAlive(what);
    await this.#core.channel.unary(rpc(SessionService.method.publishFromTicket), {
      sourceId: { ticket: table.ticket },
      resultId: { ticket: ticket.bytes },
    }, { what });
    this.#core.registerPublication(ticket.bytes, table.ticket);
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
    if (table instanceof TableRef) return await table.toArrow(signal);
    return await this.#core.exchangeSnapshot(ticketBytes(table), signal);
  }

  async #console(): Promise<Uint8Array> {
    if (!this.#consoleId) {
      const ticket = this.#core.newExportTicket();
      this.#consoleId = this.#core.channel.unary(rpc(ConsoleService.method.startConsole), {
        resultId: { ticket },
        sessionType: "python",
      }, { what: "Starting a script console" }).then(() => ticket);
      this.#consoleId.catch(() => (this.#consoleId = undefined));
    }
    return await this.#consoleId;
  }

  /**
   * Runs Python code in the server's global scope (tables it assigns become
   * visible to {@linkcode Session.openTable}).
   *
   * @param code Python source.
   * @throws {DeephavenError} `INVALID_ARGUMENT` with the server's error when the script fails.
   */
  async runScript(code: string): Promise<void> {
    this.#core.checkAlive("Running a script");
    const consoleId = await this.#console();
    const r = await this.#core.channel.unary(rpc(ConsoleService.method.executeCommand), {
      consoleId: { ticket: consoleId },
      code,
    }, { what: "Running a script" });
    if (r.errorMessage) {
      throw new DeephavenError(`Running a script failed: ${r.errorMessage}`, {
        code: GrpcCode.INVALID_ARGUMENT,
        details: r.errorMessage,
      });
    }
  }

  /**
   * Assigns a table to a variable in the server's global scope.
   *
   * @param name The variable name.
   * @param table The table.
   */
  async bindTable(name: string, table: TableRef): Promise<void> {
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
    const ac = new AbortController();
    const names: string[] = [];
    for await (
      const update of this.#core.channel.serverStream(rpc(ApplicationService.method.listFields), {}, {
        what: "Listing tables",
        signal: ac.signal,
      })
    ) {
      for (const f of update.created) {
        if (f.applicationId === "scope" && f.typedTicket?.type === "Table") names.push(f.fieldName);
      }
      break; // The first message is the current state; the stream would go on with changes.
    }
    return names.sort();
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
