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
import { describeTicket, ticketBytes, type TicketLike } from "../session/ticket.ts";
import { schemaFromHeader } from "../session/arrow_ipc.ts";
import type { LocalTable } from "../table/local_table.ts";
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

const cache = new Map<string, Promise<BarrageSession>>();

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
 * A connection for capturing tables with Barrage. Get one with
 * {@linkcode barrageSession}; the same options give the same open session.
 */
export class BarrageSession {
  /** The underlying session (also usable for server table operations). */
  readonly session: Session;
  readonly #key: string;
  readonly #tables = new Set<LocalTable>();

  /** @ignore */
  constructor(session: Session, key: string) {
    this.session = session;
    this.#key = key;
  }

  /** Whether the session is open. */
  get isAlive(): boolean {
    return this.session.isAlive;
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
    const t = await this.#target(table);
    const core = sessionCoreOf(table instanceof TableRef ? table : this.session);
    return await snapshotTicket(core, t.ticket, t.schema ?? await this.#schemaOf(t.ticket, options), options);
  }

  /** Closes every subscription of this session and the session itself. */
  async close(): Promise<void> {
    cache.delete(this.#key);
    for (const t of [...this.#tables]) t.close();
    await this.session.close();
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

/**
 * Opens (or reuses) a Barrage session to a server. Sessions are cached by
 * target and credentials: the same options give the same open session, as
 * Deephaven's `barrage_session` does.
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
  const key = await cacheKey(options);
  const existing = cache.get(key);
  if (existing) {
    try {
      const s = await existing;
      if (s.isAlive) return s;
    } catch {
      // A failed login is not cached; try again below.
    }
    cache.delete(key);
  }
  const created = Session.connect(options).then((s) => new BarrageSession(s, key));
  cache.set(key, created);
  try {
    return await created;
  } catch (e) {
    cache.delete(key);
    throw e instanceof DeephavenError ? e : new DeephavenError(String(e), { code: GrpcCode.UNKNOWN });
  }
}
