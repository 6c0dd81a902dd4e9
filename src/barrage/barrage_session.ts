/**
 * {@linkcode barrageSession}: capture server tables as local tables, live
 * (`subscribe`) or static (`snapshot`), the Deno counterpart of Deephaven's
 * `deephaven.barrage.barrage_session`.
 *
 * @module
 */

import type { ArrowSchema } from "../arrow_types.ts";
import { DeephavenError, GrpcCode } from "../errors.ts";
import { Session, sessionCoreOf } from "../session/session.ts";
import type { ConnectOptions } from "../session/core.ts";
import { TableRef } from "../session/table_ref.ts";
import { checkFunction, checkInteger, checkOptions, checkSignal, checkStrings } from "../validate.ts";
import { describeTicket, ticketBytes, type TicketLike } from "../session/ticket.ts";
import { schemaFromHeader } from "../arrow/ipc.ts";
import type { LocalTable } from "../table/local_table.ts";
import { RowSet } from "../table/rowset.ts";
import { type LiveTable, snapshotTicket, type SubscribeOptions, subscribeTicket } from "./subscription.ts";

/** Options of {@linkcode barrageSession}: where and how to connect. */
export type BarrageSessionOptions = Pick<
  ConnectOptions,
  | "host"
  | "port"
  | "authType"
  | "authToken"
  | "useTls"
  | "tlsRootCerts"
  | "clientCertChain"
  | "clientPrivateKey"
  | "tlsServerName"
  | "extraHeaders"
  | "connectTimeoutMs"
>;

/** A table to capture: a ticket (e.g. a `SharedTicket` or its bytes) or a server table handle. */
export type Capturable = TicketLike | TableRef;

/**
 * One connection shared by every {@linkcode BarrageSession} handle made with
 * the same options; it closes when the last handle closes.
 */
class SharedConnection {
  readonly session: Session;
  readonly key: string;
  holders = 0;

  constructor(session: Session, key: string) {
    this.session = session;
    this.key = key;
  }

  /** One holder fewer; the last one closes the session. */
  async release(): Promise<void> {
    if (--this.holders > 0) return;
    if (cache.get(this.key)?.connection === this) cache.delete(this.key);
    await this.session.close();
  }
}

const cache = new Map<string, { promise: Promise<SharedConnection>; connection?: SharedConnection }>();

async function cacheKey(o: BarrageSessionOptions): Promise<string> {
  const material = JSON.stringify([
    o.host ?? "",
    o.port ?? 0,
    o.authType ?? "Anonymous",
    o.authToken ?? "",
    o.useTls ?? false,
    String(o.tlsRootCerts ?? ""),
    String(o.clientCertChain ?? ""),
    o.tlsServerName ?? "",
    o.extraHeaders ?? {},
  ]);
  const digest = await crypto.subtle.digest("SHA-256", new TextEncoder().encode(material));
  return Array.from(new Uint8Array(digest), (b) => b.toString(16).padStart(2, "0")).join("");
}

/**
 * A handle on a connection for capturing tables with Barrage. Get one with
 * {@linkcode barrageSession}: calls with the same options share one open
 * connection, each with a handle of its own. Closing a handle closes the
 * subscriptions made through it; the connection closes with its last handle.
 */
export class BarrageSession {
  readonly #connection: SharedConnection;
  readonly #tables = new Set<LocalTable>();
  #closed = false;

  /** @ignore */
  constructor(connection: SharedConnection) {
    this.#connection = connection;
  }

  /** The underlying session (also usable for server table operations), shared by the handles of one connection. */
  get session(): Session {
    return this.#connection.session;
  }

  /** Whether this handle is open and its session alive. */
  get isAlive(): boolean {
    return !this.#closed && this.session.isAlive;
  }

  #open(): void {
    if (this.#closed) {
      throw new DeephavenError("This Barrage session was closed; call barrageSession() again for a new one", {
        code: GrpcCode.FAILED_PRECONDITION,
      });
    }
  }

  async #target(
    table: Capturable,
  ): Promise<{ session: Session | undefined; ticket: Uint8Array; schema?: ArrowSchema }> {
    if (table instanceof TableRef) {
      await table.ready();
      return { session: undefined, ticket: table.ticket, schema: await table.schema() };
    }
    return { session: this.session, ticket: ticketBytes(table) };
  }

  /** The schema of a ticket's table, when column names must be resolved before subscribing. */
  async #schemaOf(ticket: Uint8Array, options: SubscribeOptions): Promise<ArrowSchema | undefined> {
    if (!options.columns) return undefined;
    const core = sessionCoreOf(this.session);
    const info = await core.tableInfoOf(ticket, `Looking up the columns of ${describeTicket(ticket)}`);
    return schemaFromHeader(info.schemaHeader);
  }

  #track<T extends LocalTable>(t: T): T {
    this.#tables.add(t);
    t.onStateChange((s) => {
      if (s === "closed") this.#tables.delete(t);
    });
    return t;
  }

  /**
   * Subscribes to a table: the result is a local table that holds the
   * current rows and keeps ticking. Each call is an independent subscription.
   *
   * @param table A shared ticket, its bytes, or a server table handle.
   * @param options Viewport, columns, update interval, null mode.
   * @returns The live table, once its initial snapshot is complete.
   * @throws {DeephavenError} When the ticket is unknown or released.
   */
  async subscribe(table: Capturable, options: SubscribeOptions = {}): Promise<LiveTable> {
    this.#open();
    checkCapture(options, "subscribe()");
    const t = await this.#target(table);
    const core = sessionCoreOf(table instanceof TableRef ? table : this.session);
    const current = table instanceof TableRef ? () => table.ticket : () => t.ticket;
    const schema = t.schema ?? await this.#schemaOf(t.ticket, options);
    return this.#track(await subscribeTicket(core, t.ticket, schema, options, current));
  }

  /**
   * A static snapshot of a table as a local table (state `snapshot`).
   *
   * @param table A shared ticket, its bytes, or a server table handle.
   * @param options Viewport, columns, null mode.
   * @returns The snapshot.
   */
  async snapshot(table: Capturable, options: SubscribeOptions = {}): Promise<LocalTable> {
    this.#open();
    checkCapture(options, "snapshot()");
    const t = await this.#target(table);
    const core = sessionCoreOf(table instanceof TableRef ? table : this.session);
    let expected: number | undefined;
    let schema = t.schema;
    if (options.onProgress) {
      // The table's size, for progress reports (one small call).
      const info = await core.tableInfoOf(t.ticket, `Looking up the size of ${describeTicket(t.ticket)}`);
      schema ??= schemaFromHeader(info.schemaHeader);
      expected = info.size === undefined ? undefined : viewportRows(options.viewport, info.size);
    }
    schema ??= await this.#schemaOf(t.ticket, options);
    return await snapshotTicket(core, t.ticket, schema, options, expected);
  }

  /**
   * Closes the subscriptions made through this handle, and the connection
   * when no other handle holds it. Closing twice does nothing.
   */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    for (const t of [...this.#tables]) t.close();
    await this.#connection.release();
  }

  /** Closes the session, for `await using`. */
  async [Symbol.asyncDispose](): Promise<void> {
    await this.close();
  }

  /** A description without secrets. */
  toString(): string {
    return `BarrageSession(${String(this.session)}, ${this.#tables.size} subscriptions)`;
  }

  /** Shows the session without secrets in `Deno.inspect`. */
  [Symbol.for("Deno.customInspect")](): string {
    return this.toString();
  }
}

/** Refuses capture options of the wrong kind, before anything is sent. */
function checkCapture(options: SubscribeOptions, what: string): void {
  const o = checkOptions(options, what);
  if (o.columns !== undefined) checkStrings(o.columns, `${what} needs column names`);
  for (const k of ["minUpdateIntervalMs", "batchSize", "maxMessageSize"] as const) {
    if (o[k] !== undefined) checkInteger(o[k], `${what} needs ${k}`, 0);
  }
  checkSignal(o.signal, what);
  if (o.onProgress !== undefined) checkFunction(o.onProgress, `${what} needs onProgress`);
}

/** How many of a table's `size` rows a viewport covers (all of them without one). */
function viewportRows(viewport: SubscribeOptions["viewport"], size: number): number {
  if (viewport === undefined || size === 0) return size;
  const rows = viewport instanceof RowSet ? viewport : RowSet.range(viewport.first, viewport.last);
  return rows.intersect(RowSet.range(0, size - 1)).size;
}

/**
 * Opens a Barrage session to a server, reusing an open connection: calls
 * with the same target and credentials share one connection (as Deephaven's
 * `barrage_session` does), each getting its own handle, so that closing one
 * handle never closes the others' subscriptions. The connection closes when
 * its last handle does.
 *
 * @example Usage
 * ```ts ignore
 * import { barrageSession } from "./barrage_session.ts";
 *
 * const bs = await barrageSession({ host: "localhost", port: 10000 });
 * const live = await bs.subscribe(ticket.bytes);
 * console.log(live.size);
 * ```
 *
 * @param options Host, port, auth, TLS.
 * @returns The session.
 */
export async function barrageSession(options: BarrageSessionOptions = {}): Promise<BarrageSession> {
  checkOptions(options, "barrageSession()");
  const key = await cacheKey(options);
  const existing = cache.get(key);
  if (existing) {
    try {
      const c = await existing.promise;
      if (c.session.isAlive && cache.get(key) === existing) {
        c.holders++;
        return new BarrageSession(c);
      }
    } catch {
      // A failed login is not cached; try again below.
    }
    if (cache.get(key) === existing) cache.delete(key);
  }
  const entry: { promise: Promise<SharedConnection>; connection?: SharedConnection } = {
    promise: Session.connect(options).then((s) => new SharedConnection(s, key)),
  };
  cache.set(key, entry);
  try {
    const c = await entry.promise;
    entry.connection = c;
    c.holders++;
    return new BarrageSession(c);
  } catch (e) {
    if (cache.get(key) === entry) cache.delete(key);
    throw e instanceof DeephavenError ? e : new DeephavenError(String(e), { code: GrpcCode.UNKNOWN });
  }
}
