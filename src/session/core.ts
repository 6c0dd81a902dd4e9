/**
 * The inside of a session: the channel, credentials, export ids, keep-alive,
 * and the RPC helpers that {@linkcode TableRef} and `Session` share.
 * Not part of the public API.
 *
 * @module
 */

import type { Table } from "../deps/apache_arrow.ts";
import { Channel, type Headers, type TlsOptions } from "../transport/channel.ts";
import { rpc } from "../transport/rpc.ts";
import { DeephavenError, GrpcCode } from "../errors.ts";
import { checkInteger, checkOptions, checkSignal, checkString, shown } from "../validate.ts";
import { AuthState, type AuthType } from "./auth.ts";
import { describeTicket, exportTicket } from "./ticket.ts";

/**
 * Lets a script exit while a timer is pending (`deno run`), but keeps the
 * timer alive in a Jupyter kernel, whose event loop does not run unreferenced
 * timers between cells (a session would then expire while a notebook idles).
 */
function unrefOutsideNotebooks(timer: ReturnType<typeof setTimeout>): void {
  if ("jupyter" in Deno) return;
  Deno.unrefTimer(timer as unknown as number);
}

function exportId(ticket: Uint8Array): number {
  return new DataView(ticket.buffer, ticket.byteOffset, ticket.byteLength).getInt32(1, true);
}
import {
  deephavenNullsAreExact,
  type FlightPayload,
  schemaFromHeader,
  tableFromFlight,
} from "../arrow/ipc.ts";
import { snapshotRequest } from "../wire/messages.ts";
import { ArrowSnapshotStream, arrowTableFromDeephavenNulls } from "../wire/arrow_snapshot.ts";
import { ConfigService } from "../generated/proto/deephaven_core/proto/config_pb.ts";
import { SessionService } from "../generated/proto/deephaven_core/proto/session_pb.ts";
import {
  type ExportedTableCreationResponse,
  TableService,
} from "../generated/proto/deephaven_core/proto/table_pb.ts";
import { FlightService } from "../generated/proto/arrow/flight/protocol/flight_pb.ts";

/** Connection options shared by `Session.connect` and `barrageSession`. */
export interface ConnectOptions {
  /** Server host. Default: env `DH_HOST`, else `"localhost"`. */
  host?: string;
  /** Server port. Default: env `DH_PORT`, else `10000`. */
  port?: number;
  /** Auth type. Default `"Anonymous"`. */
  authType?: AuthType;
  /** Auth token: `"user:password"` for Basic, the key for PSK. Default `""`. */
  authToken?: string;
  /** Use TLS. Default `false`. */
  useTls?: boolean;
  /** PEM root certificates to trust (TLS). Default: the system roots. */
  tlsRootCerts?: string | Uint8Array;
  /** PEM client certificate chain, for mutual TLS. */
  clientCertChain?: string | Uint8Array;
  /** PEM client private key, for mutual TLS. */
  clientPrivateKey?: string | Uint8Array;
  /** Server name to verify in the certificate instead of `host`. */
  tlsServerName?: string;
  /** Extra headers sent on every call (for example a proxy's routing header). */
  extraHeaders?: Record<string, string>;
  /**
   * Keep the session alive for as long as it is open by refreshing the token
   * every third of the server's session duration (as the Java client does). Default `true`.
   */
  neverTimeout?: boolean;
  /** Deadline of the login call, in milliseconds. Default 30000. */
  connectTimeoutMs?: number;
  /** Extra grpc-js channel arguments. */
  channelArgs?: Record<string, string | number>;
  /**
   * Reconnect automatically after transport errors (full-jitter exponential
   * backoff), log in again when the server no longer knows the session, and
   * re-create what can be re-created (table handles by replaying their
   * operations, published shared tickets, live subscriptions). `false` turns
   * it off. Default `{ baseMs: 100, capMs: 30000 }`.
   */
  reconnect?: ReconnectOptions | false;
  /** Aborts the login. */
  signal?: AbortSignal;
}

/** Backoff of automatic reconnection: delays are random in [0, min(capMs, baseMs · 2^attempt)]. */
export interface ReconnectOptions {
  /** First backoff step, ms. Default 100. */
  baseMs?: number;
  /** Largest backoff, ms. Default 30000. */
  capMs?: number;
  /** Give up (state `failed`) after this long without a connection, ms. Default: never. */
  giveUpAfterMs?: number;
}

/** What the server said about a table when it was created or looked up. */
export interface TableInfo {
  /** The Arrow IPC-encapsulated schema. */
  schemaHeader: Uint8Array;
  /** Whether the table never changes. */
  isStatic: boolean;
  /** Row count at the time of the answer (`undefined` when the server does not know it). */
  size: number | undefined;
}

/**
 * One table export of a session, as the session knows it: its ticket, how to create it again from the
 * tickets of the exports it reads, and those exports. It holds no handle (so handles can be collected); a
 * handle holds it. Only exports that a live handle holds (`held`) are re-created after a new server session;
 * the ones they read that no handle holds any more are re-created on temporary tickets and released after.
 */
export interface TableExport {
  /** The current ticket (it changes when a failed re-creation is retried on a fresh one). */
  ticket: Uint8Array;
  /** Creates the table at `result`, reading the tables at `sources` (one per {@linkcode TableExport.sources}). */
  readonly make: (result: Uint8Array, sources: Uint8Array[]) => Promise<unknown>;
  /** The exports the table reads. */
  readonly sources: readonly TableExport[];
  /** Whether a live handle holds it (false once closed or collected). */
  held: boolean;
  /** Creations of tables that read this one, still under way: it is released only after them. */
  readonly readers: Set<Promise<unknown>>;
}

/** The temporary exports of one round of re-creations, by the export they stand for. */
type Temporary = Map<TableExport, { ticket: Uint8Array; made: Promise<unknown> }>;

const LONG_MIN = -(2n ** 63n);

/** Deadline of the refresh that checks the connection after a call failed, ms. */
const PROBE_TIMEOUT_MS = 5_000;

/** Converts a creation response into {@linkcode TableInfo}, or throws its error. */
export function tableInfo(r: ExportedTableCreationResponse, what: string): TableInfo {
  if (!r.success) {
    throw new DeephavenError(`${what} failed: ${r.errorInfo || "the server gave no reason"}`, {
      code: GrpcCode.INVALID_ARGUMENT,
      details: r.errorInfo,
    });
  }
  return {
    schemaHeader: r.schemaHeader,
    isStatic: r.isStatic,
    size: r.size === LONG_MIN ? undefined : Number(r.size),
  };
}

function envPort(): number | undefined {
  let p: string | undefined;
  try {
    p = Deno.env.get("DH_PORT");
  } catch {
    return undefined;
  }
  return p
    ? checkInteger(Number(p), `The environment variable DH_PORT needs a port number`, 1, 65535)
    : undefined;
}

const isBytes = (x: unknown) => typeof x === "string" || x instanceof Uint8Array;

/** Refuses connection options of the wrong kind (before anything is sent); returns them (`{}` for none). */
function checkConnectOptions(o: ConnectOptions | undefined): ConnectOptions {
  const what = "Session.connect()";
  o = checkOptions(o, what);
  if (o.host !== undefined) checkString(o.host, `${what} needs a host name`, true);
  if (o.port !== undefined) checkInteger(o.port, `${what} needs a port number`, 1, 65535);
  if (o.authType !== undefined) checkString(o.authType, `${what} needs an auth type`, true);
  if (o.authToken !== undefined) checkString(o.authToken, `${what} needs the auth token as text`);
  for (const k of ["tlsRootCerts", "clientCertChain", "clientPrivateKey"] as const) {
    if (o[k] !== undefined && !isBytes(o[k])) {
      throw DeephavenError.invalid(`${what} needs ${k} as PEM text or bytes, got ${shown(o[k])}`);
    }
  }
  if (o.tlsServerName !== undefined) {
    checkString(o.tlsServerName, `${what} needs tlsServerName as text`, true);
  }
  for (const [k, v] of Object.entries(checkOptions(o.extraHeaders, `${what} extraHeaders`))) {
    // gRPC metadata: keys of lower-case letters, digits, '-', '_' and '.'; values of printable ASCII.
    if (!/^[0-9a-zA-Z_.-]+$/.test(k) || typeof v !== "string" || !/^[ -~]*$/.test(v)) {
      throw DeephavenError.invalid(
        `${what} got a header that gRPC cannot send: ${shown(k)}; use names of letters, digits, '-', '_' ` +
          "or '.', and values of printable ASCII text",
      );
    }
  }
  if (
    o.connectTimeoutMs !== undefined && !(typeof o.connectTimeoutMs === "number" && o.connectTimeoutMs > 0)
  ) {
    throw DeephavenError.invalid(`${what} needs connectTimeoutMs > 0, got ${shown(o.connectTimeoutMs)}`);
  }
  if (o.reconnect !== undefined && o.reconnect !== false) {
    for (const [k, v] of Object.entries(checkOptions(o.reconnect, `${what} reconnect`))) {
      if (v !== undefined && !(typeof v === "number" && v >= 0)) {
        throw DeephavenError.invalid(`${what} needs reconnect.${k} as milliseconds >= 0, got ${shown(v)}`);
      }
    }
  }
  checkSignal(o.signal, what);
  return o;
}

function envHost(): string | undefined {
  try {
    return Deno.env.get("DH_HOST") || undefined;
  } catch {
    return undefined;
  }
}

/**
 * The connection state of a session: `connected`; `reconnecting` after a
 * transport error (calls wait or fail, subscriptions are stale); `failed`
 * when it gave up or the credentials were refused; `closed` after `close()`.
 */
export type SessionState = "connecting" | "connected" | "reconnecting" | "closed" | "failed";

/** Whether an error is worth a reconnect (the server or the network, not the request). */
export function isTransient(e: unknown): boolean {
  const code = (e as { code?: number })?.code;
  return code === GrpcCode.UNAVAILABLE || code === GrpcCode.DEADLINE_EXCEEDED ||
    code === GrpcCode.CANCELLED ||
    code === GrpcCode.INTERNAL || code === GrpcCode.UNKNOWN;
}

/** The inside of a session. */
export class SessionCore {
  readonly host: string;
  readonly port: number;
  readonly channel: Channel;
  readonly auth: AuthState;
  readonly useTls: boolean;
  /** The server's `http.session.durationMs`. */
  sessionDurationMs = 300_000;
  /** Configuration constants from the login call. */
  config: Map<string, string> = new Map();
  state: SessionState = "connecting";
  /** The last keep-alive failure, if the session failed. */
  failure: DeephavenError | undefined;
  #nextExport = 1;
  #keepAlive: ReturnType<typeof setTimeout> | undefined;
  #keepAliveFailures = 0;
  readonly #neverTimeout: boolean;
  #lastTokenAt = 0;
  readonly #reconnect: Required<ReconnectOptions> | undefined;
  #stateListeners = new Set<(s: SessionState) => void>();
  #reconnecting: Promise<void> | undefined;
  /** The refresh that checks the connection after a call failed (see reportFailure). */
  #probing: Promise<void> | undefined;
  /** Increases each time the server gave us a new session (after a restart or expiry). */
  generation = 0;
  /** The held exports, by export id: what a new server session re-creates. */
  readonly #exports = new Map<number, TableExport>();
  /** Releases the export of a handle that was garbage-collected without `close()`. */
  readonly #collector = new FinalizationRegistry<TableExport>((exp) => {
    if (exp.held) this.releaseExport(exp).catch(() => {});
  });
  readonly #published = new Map<string, { shared: Uint8Array; source: TableExport; holder: object }>();
  readonly #failedReplays = new Set<number>();
  #generationListeners = new Set<() => void>();

  constructor(connectOptions: ConnectOptions) {
    const options = checkConnectOptions(connectOptions);
    this.host = options.host ?? envHost() ?? "localhost";
    this.port = options.port ?? envPort() ?? 10000;
    this.useTls = options.useTls ?? false;
    this.#neverTimeout = options.neverTimeout ?? true;
    this.#reconnect = options.reconnect === false ? undefined : {
      baseMs: options.reconnect?.baseMs ?? 100,
      capMs: options.reconnect?.capMs ?? 30_000,
      giveUpAfterMs: options.reconnect?.giveUpAfterMs ?? Infinity,
    };
    this.auth = new AuthState(options.authType ?? "Anonymous", options.authToken ?? "");
    const extra: Headers = { ...options.extraHeaders };
    const tls: TlsOptions | undefined = this.useTls
      ? {
        rootCerts: options.tlsRootCerts,
        clientCertChain: options.clientCertChain,
        clientPrivateKey: options.clientPrivateKey,
        serverNameOverride: options.tlsServerName,
      }
      : undefined;
    this.channel = new Channel({
      host: this.host,
      port: this.port,
      tls,
      channelArgs: options.channelArgs,
      requestHeaders: () => ({ ...extra, authorization: this.auth.header() }),
      onResponseHeaders: (h) => this.auth.observe(h),
      onCallError: (e) => this.reportFailure(e),
    });
    this.auth.onToken(() => (this.#lastTokenAt = Date.now()));
  }

  /** `host:port`. */
  get target(): string {
    return `${this.host}:${this.port}`;
  }

  /** Logs in (first call with the credentials) and starts the keep-alive. */
  async login(timeoutMs: number, signal?: AbortSignal): Promise<void> {
    try {
      await this.refresh(timeoutMs, signal, "Logging in");
    } catch (e) {
      this.#setState("failed");
      this.channel.close();
      throw e;
    }
    if (!this.auth.authenticated) {
      this.#setState("failed");
      this.channel.close();
      throw new DeephavenError(
        `Logging in to ${this.target} failed: the server sent no session token; check that this is a Deephaven server`,
        { code: GrpcCode.UNAUTHENTICATED },
      );
    }
    const d = Number(this.config.get("http.session.durationMs"));
    if (Number.isFinite(d) && d > 0) this.sessionDurationMs = d;
    this.#setState("connected");
    if (this.#neverTimeout || this.#reconnect) this.#scheduleKeepAlive(this.sessionDurationMs / 3);
  }

  /** Calls GetConfigurationConstants, which refreshes (and may rotate) the token. */
  async refresh(timeoutMs = 30_000, signal?: AbortSignal, what = "Refreshing the session"): Promise<void> {
    const r = await this.channel.unary(rpc(ConfigService.method.getConfigurationConstants), {}, {
      timeoutMs,
      signal,
      what: `${what} at ${this.target}`,
    });
    const m = new Map<string, string>();
    for (const [k, v] of Object.entries(r.configValues)) {
      if (v.kind.case === "stringValue") m.set(k, v.kind.value);
    }
    this.config = m;
  }

  #setState(s: SessionState): void {
    if (this.state === s || this.state === "closed") return;
    this.state = s;
    for (const cb of [...this.#stateListeners]) cb(s);
  }

  /** Calls `cb` on every state change; returns a function that stops it. */
  onStateChange(cb: (s: SessionState) => void): () => void {
    this.#stateListeners.add(cb);
    return () => this.#stateListeners.delete(cb);
  }

  /** Calls `cb` after the server gave a new session and what could be re-created was; returns a stop function. */
  onNewSession(cb: () => void): () => void {
    this.#generationListeners.add(cb);
    return () => this.#generationListeners.delete(cb);
  }

  /** Whether automatic reconnection is on. */
  get reconnects(): boolean {
    return this.#reconnect !== undefined;
  }

  #scheduleKeepAlive(delayMs: number): void {
    if (this.state === "closed") return;
    if (this.#keepAlive !== undefined) clearTimeout(this.#keepAlive);
    this.#keepAlive = setTimeout(async () => {
      this.#keepAlive = undefined;
      if (this.state !== "connected") return;
      try {
        await this.refresh(Math.min(30_000, this.sessionDurationMs / 2));
        this.#keepAliveFailures = 0;
        this.#scheduleKeepAlive(this.sessionDurationMs / 3);
      } catch (e) {
        if ((this.state as SessionState) === "closed") return;
        if (this.#reconnect) {
          this.reportFailure(e, true);
          return;
        }
        this.#keepAliveFailures++;
        // Retry soon, with jitter, while the token may still be valid.
        const backoff = [100, 1000, 10_000, this.sessionDurationMs / 4][this.#keepAliveFailures - 1];
        if (backoff === undefined || Date.now() - this.#lastTokenAt > this.sessionDurationMs) {
          this.failure = e as DeephavenError;
          this.#setState("failed");
          return;
        }
        this.#scheduleKeepAlive(backoff + Math.random() * 1000);
      }
    }, delayMs);
    unrefOutsideNotebooks(this.#keepAlive);
  }

  /**
   * Tells the session that a call failed. A transport error (or a session the
   * server no longer knows) starts reconnection, when it is on. One call's
   * failure does not prove the connection lost (a single stream can be reset
   * while the connection is fine): unless `verified`, the session first checks
   * with a refresh and stays connected when that answers.
   *
   * @param e The call's error.
   * @param verified Whether the failure is already known to be the connection's (a failed refresh).
   */
  reportFailure(e: unknown, verified = false): void {
    if (!this.#reconnect || this.state !== "connected") return;
    const code = (e as { code?: number })?.code;
    if (
      code !== GrpcCode.UNAVAILABLE && code !== GrpcCode.UNAUTHENTICATED &&
      code !== GrpcCode.DEADLINE_EXCEEDED
    ) {
      return;
    }
    if (verified || code === GrpcCode.UNAUTHENTICATED) {
      this.#startReconnecting();
      return;
    }
    if (this.#probing) return;
    // The probe's own failure comes back here while it runs, and is ignored: its outcome decides.
    this.#probing = this.refresh(PROBE_TIMEOUT_MS, undefined, "Checking the connection").then(
      () => {},
      (err) => this.reportFailure(err, true),
    ).finally(() => (this.#probing = undefined));
  }

  #startReconnecting(): void {
    if (!this.#reconnecting) {
      this.#reconnecting = this.#reconnectLoop().finally(() => (this.#reconnecting = undefined));
      this.#reconnecting.catch(() => {});
    }
  }

  /** Resolves when the session is connected (waiting through a reconnection); rejects when it failed or closed. */
  async whenConnected(signal?: AbortSignal): Promise<void> {
    while (this.state !== "connected") {
      if (this.state === "closed" || this.state === "failed") {
        throw this.failure ??
          new DeephavenError(`The session to ${this.target} is ${this.state}; connect a new session`, {
            code: GrpcCode.FAILED_PRECONDITION,
          });
      }
      if (signal?.aborted) {
        throw new DeephavenError("Waiting for the connection was aborted", { code: GrpcCode.CANCELLED });
      }
      await new Promise<void>((resolve) => {
        const off = this.onStateChange(() => {
          off();
          resolve();
        });
        signal?.addEventListener("abort", () => {
          off();
          resolve();
        }, { once: true });
      });
    }
  }

  async #reconnectLoop(): Promise<void> {
    const r = this.#reconnect!;
    this.#setState("reconnecting");
    const started = Date.now();
    let newSession = false;
    for (let attempt = 0; this.state === "reconnecting"; attempt++) {
      const delay = Math.random() * Math.min(r.capMs, r.baseMs * 2 ** Math.min(attempt, 30));
      await new Promise((res) => unrefOutsideNotebooks(setTimeout(res, delay)));
      if (this.state !== "reconnecting") return;
      try {
        try {
          await this.refresh(10_000, undefined, "Reconnecting");
        } catch (e) {
          if ((e as DeephavenError).code !== GrpcCode.UNAUTHENTICATED) throw e;
          // The server does not know our session any more (restart or expiry): log in again.
          this.auth.reset();
          newSession = true;
          await this.refresh(10_000, undefined, "Logging in again");
        }
        break;
      } catch (e) {
        const code = (e as DeephavenError).code;
        if (
          code === GrpcCode.UNAUTHENTICATED || code === GrpcCode.PERMISSION_DENIED ||
          Date.now() - started > r.giveUpAfterMs
        ) {
          this.failure = e as DeephavenError;
          this.#setState("failed");
          return;
        }
      }
    }
    if (this.state !== "reconnecting") return;
    if (newSession) {
      this.generation++;
      await this.#replay();
    }
    this.#setState("connected");
    this.#scheduleKeepAlive(this.sessionDurationMs / 3);
    if (newSession) { for (const cb of [...this.#generationListeners]) cb(); }
  }

  /**
   * Tracks a held export (re-created after a new server session) and releases it when `handle` is
   * garbage-collected while still holding it.
   */
  track(exp: TableExport, handle: object): void {
    this.#exports.set(exportId(exp.ticket), exp);
    this.#collector.register(handle, exp, exp);
  }

  /**
   * Releases a held export on the server, once the creations of tables that read it are done, and forgets it
   * (it is not re-created any more, nor its publications repeated). Safe to call twice.
   */
  async releaseExport(exp: TableExport): Promise<void> {
    if (!exp.held) return;
    exp.held = false;
    this.#collector.unregister(exp);
    if (this.#exports.get(exportId(exp.ticket)) === exp) this.#exports.delete(exportId(exp.ticket));
    for (const [k, v] of this.#published) if (v.source === exp) this.#published.delete(k);
    while (exp.readers.size > 0) await Promise.allSettled([...exp.readers]);
    try {
      await this.whenConnected();
    } catch {
      return; // closed or failed: the server session and its exports are gone
    }
    await this.release(exp.ticket);
  }

  /** The held exports' ids, ascending (for tests and diagnostics). */
  heldExports(): number[] {
    return [...this.#exports.keys()].sort((a, b) => a - b);
  }

  /**
   * Creates `exp` at `ticket` in the current server session, reading its sources at their held tickets, or,
   * for sources no handle holds any more, at temporary tickets (made once per round, in `temporary`).
   */
  #recreate(exp: TableExport, ticket: Uint8Array, temporary: Temporary): Promise<unknown> {
    const sourceTicket = (src: TableExport): Uint8Array => {
      if (src.held) return src.ticket;
      let t = temporary.get(src);
      if (!t) {
        t = { ticket: this.newExportTicket(), made: Promise.resolve() };
        temporary.set(src, t);
        t.made = src.make(t.ticket, src.sources.map(sourceTicket));
        t.made.catch(() => {});
      }
      return t.ticket;
    };
    return exp.make(ticket, exp.sources.map(sourceTicket));
  }

  /** Releases the temporary exports of a round of re-creations, once every table of the round was created. */
  async #releaseTemporary(done: Promise<unknown>[], temporary: Temporary): Promise<void> {
    await Promise.allSettled([...done, ...[...temporary.values()].map((t) => t.made)]);
    await Promise.allSettled([...temporary.values()].map((t) => this.release(t.ticket)));
  }

  /**
   * Tries again to re-create an export that failed to come back after a new
   * server session (and the failed ones it may depend on, which have smaller
   * ids), e.g. when a scope table appears only after the server finished
   * starting. A failed export id cannot be reused, so each goes to a new
   * ticket, which its handle then reads.
   *
   * @returns The export's ticket now, or `undefined` when it is still missing.
   */
  async retryReplay(ticket: Uint8Array): Promise<Uint8Array | undefined> {
    const target = exportId(ticket);
    if (ticket[0] !== 0x65 || !this.#failedReplays.has(target)) return undefined;
    let result: Uint8Array | undefined;
    const temporary: Temporary = new Map();
    const done: Promise<unknown>[] = [];
    for (const id of [...this.#failedReplays].filter((i) => i <= target).sort((a, b) => a - b)) {
      const exp = this.#exports.get(id);
      if (!exp) continue;
      const fresh = this.newExportTicket();
      const made = this.#recreate(exp, fresh, temporary);
      done.push(made);
      try {
        await made;
      } catch {
        this.release(fresh).catch(() => {});
        continue;
      }
      this.#failedReplays.delete(id);
      this.#exports.delete(id);
      exp.ticket = fresh;
      this.#exports.set(exportId(fresh), exp);
      if (id === target) result = fresh;
    }
    await this.#releaseTemporary(done, temporary);
    return result;
  }

  /** Remembers a publication, to repeat it in a new server session; `holder` (the handle) is kept meanwhile. */
  registerPublication(shared: Uint8Array, source: TableExport, holder: object): void {
    this.#published.set(Array.from(shared).join(","), { shared, source, holder });
  }

  async #replay(): Promise<void> {
    // Export ids are per session, so the held exports' tickets are free again: send every creation at once
    // (the server orders dependencies), then the publications. Exports no handle holds are not re-created,
    // except on temporary tickets as sources of held ones.
    const held = [...this.#exports.values()].sort((a, b) => exportId(a.ticket) - exportId(b.ticket));
    const temporary: Temporary = new Map();
    const made = held.map((exp) => this.#recreate(exp, exp.ticket, temporary));
    const results = await Promise.allSettled(made);
    this.#failedReplays.clear();
    results.forEach((r, i) => {
      if (r.status === "rejected") this.#failedReplays.add(exportId(held[i].ticket));
    });
    this.#releaseTemporary(made, temporary).catch(() => {});
    for (const { shared, source } of this.#published.values()) {
      try {
        await this.channel.unary(rpc(SessionService.method.publishFromTicket), {
          sourceId: { ticket: source.ticket },
          resultId: { ticket: shared },
        }, { what: "Publishing again after reconnecting", timeoutMs: 30_000 });
      } catch {
        // The handle could not be re-created; its subscribers will see the ticket fail.
      }
    }
  }

  /** Whether the session can be used (connected, or reconnecting automatically). */
  get isAlive(): boolean {
    return (this.state === "connected" || this.state === "reconnecting") && !this.channel.closed;
  }

  /** Throws when the session is closed or failed. */
  checkAlive(what: string): void {
    if (this.state === "closed" || this.channel.closed) {
      throw new DeephavenError(`${what} failed: the session is closed; connect a new session`, {
        code: GrpcCode.FAILED_PRECONDITION,
      });
    }
  }

  /** A fresh export ticket of this session. */
  newExportTicket(): Uint8Array {
    return exportTicket(this.#nextExport++);
  }

  /** Looks up what the server knows about a table ticket. */
  async tableInfoOf(ticket: Uint8Array, what: string, signal?: AbortSignal): Promise<TableInfo> {
    const r = await this.channel.unary(
      rpc(TableService.method.getExportedTableCreationResponse),
      { ticket },
      { what, signal },
    );
    return tableInfo(r, what);
  }

  /** Releases a ticket of this session (ignores tickets the server no longer knows). */
  async release(ticket: Uint8Array): Promise<void> {
    if (this.channel.closed) return;
    try {
      await this.channel.unary(rpc(SessionService.method.release), { id: { ticket } }, {
        what: `Releasing ${describeTicket(ticket)}`,
        timeoutMs: 30_000,
      });
    } catch (e) {
      const err = e as DeephavenError;
      if (err.code !== GrpcCode.NOT_FOUND && err.code !== GrpcCode.UNAVAILABLE) throw err;
    }
  }

  /** Static snapshot of any table ticket through Flight DoGet. */
  async doGet(ticket: Uint8Array, signal?: AbortSignal): Promise<Table> {
    const what = `Snapshot of ${describeTicket(ticket)}`;
    this.checkAlive(what);
    const messages: FlightPayload[] = [];
    for await (
      const fd of this.channel.serverStream(rpc(FlightService.method.doGet), { ticket }, { what, signal })
    ) {
      messages.push({ dataHeader: fd.dataHeader, dataBody: fd.dataBody });
    }
    if (messages.length === 0) {
      throw new DeephavenError(`${what} failed: the server sent no data`, { code: GrpcCode.DATA_LOSS });
    }
    return tableFromFlight(messages);
  }

  /**
   * Static snapshot of any table ticket as an Arrow table through a Barrage snapshot request (Flight
   * DoExchange): the record batches of a DoGet, which the server produces with less work, the more so with
   * Deephaven's null values (the validity bitmaps are then made here, see `arrow_snapshot.ts`).
   */
  async exchangeSnapshot(
    ticket: Uint8Array,
    signal?: AbortSignal,
    schemaHeader?: Uint8Array,
  ): Promise<Table> {
    const what = `Snapshot of ${describeTicket(ticket)}`;
    this.checkAlive(what);
    schemaHeader ??= (await this.tableInfoOf(ticket, what, signal)).schemaHeader;
    // A column in a narrow Arrow type is read exactly only with validity bitmaps: a DoGet then.
    if (!deephavenNullsAreExact(schemaFromHeader(schemaHeader))) return await this.doGet(ticket, signal);
    const method = rpc(FlightService.method.doExchange);
    const request = { appMetadata: snapshotRequest(ticket, { useDeephavenNulls: true }) };
    if (this.channel.receives(method.path)) {
      // The messages' bytes as they arrive: nulls are looked for as each buffer lands (arrow_snapshot.ts).
      const stream = new ArrowSnapshotStream();
      const call = this.channel.bidi(method, { what, signal, receive: (n) => stream.receive(n) });
      call.send(request);
      call.end();
      for await (const _ of call) { /* the receiver takes every message */ }
      return stream.done(what);
    }
    const call = this.channel.bidi(method, { what, signal });
    call.send(request);
    call.end();
    const messages: FlightPayload[] = [];
    for await (const fd of call) {
      if (fd.dataHeader.length > 0) messages.push({ dataHeader: fd.dataHeader, dataBody: fd.dataBody });
    }
    if (messages.length === 0) {
      throw new DeephavenError(`${what} failed: the server sent no data`, { code: GrpcCode.DATA_LOSS });
    }
    return arrowTableFromDeephavenNulls(messages);
  }

  /** Closes the server session and the channel. */
  async close(): Promise<void> {
    if (this.state === "closed") return;
    const wasConnected = this.state === "connected";
    this.#setState("closed");
    this.state = "closed";
    if (this.#keepAlive !== undefined) clearTimeout(this.#keepAlive);
    if (wasConnected) {
      try {
        await this.channel.unary(rpc(SessionService.method.closeSession), { authProtocol: 0 }, {
          what: "Closing the session",
          timeoutMs: 5_000,
        });
      } catch {
        // The server may already be gone; the channel is closed below either way.
      }
    }
    this.channel.close();
  }
}
