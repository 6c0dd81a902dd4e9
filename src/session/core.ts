/**
 * The inside of a session: the channel, credentials, export ids, keep-alive,
 * and the RPC helpers that {@linkcode TableRef} and `Session` share.
 * Not part of the public API.
 *
 * @module
 */

import type { Table } from "apache-arrow";
import { Channel, type Headers, type TlsOptions } from "../transport/channel.ts";
import { rpc } from "../transport/rpc.ts";
import { DeephavenError, GrpcCode } from "../errors.ts";
import { AuthState, type AuthType } from "./auth.ts";
import { describeTicket, exportTicket } from "./ticket.ts";
import { type FlightPayload, tableFromFlight } from "./arrow_ipc.ts";
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
   * at half the server's session duration. Default `true`.
   */
  neverTimeout?: boolean;
  /** Deadline of the login call, in milliseconds. Default 30000. */
  connectTimeoutMs?: number;
  /** Extra grpc-js channel arguments. */
  channelArgs?: Record<string, string | number>;
  /** Aborts the login. */
  signal?: AbortSignal;
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

const LONG_MIN = -(2n ** 63n);

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
  try {
    const p = Deno.env.get("DH_PORT");
    return p ? Number(p) : undefined;
  } catch {
    return undefined;
  }
}

function envHost(): string | undefined {
  try {
    return Deno.env.get("DH_HOST") || undefined;
  } catch {
    return undefined;
  }
}

/** The connection state of a session. */
export type SessionState = "connecting" | "connected" | "closed" | "failed";

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

  constructor(options: ConnectOptions) {
    this.host = options.host ?? envHost() ?? "localhost";
    this.port = options.port ?? envPort() ?? 10000;
    this.useTls = options.useTls ?? false;
    this.#neverTimeout = options.neverTimeout ?? true;
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
      this.state = "failed";
      this.channel.close();
      throw e;
    }
    if (!this.auth.authenticated) {
      this.state = "failed";
      this.channel.close();
      throw new DeephavenError(
        `Logging in to ${this.target} failed: the server sent no session token; check that this is a Deephaven server`,
        { code: GrpcCode.UNAUTHENTICATED },
      );
    }
    const d = Number(this.config.get("http.session.durationMs"));
    if (Number.isFinite(d) && d > 0) this.sessionDurationMs = d;
    this.state = "connected";
    if (this.#neverTimeout) this.#scheduleKeepAlive(this.sessionDurationMs / 2);
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

  #scheduleKeepAlive(delayMs: number): void {
    if (this.state === "closed") return;
    this.#keepAlive = setTimeout(async () => {
      try {
        await this.refresh(Math.min(30_000, this.sessionDurationMs / 2));
        this.#keepAliveFailures = 0;
        this.#scheduleKeepAlive(this.sessionDurationMs / 2);
      } catch (e) {
        if (this.state === "closed") return;
        this.#keepAliveFailures++;
        // Retry soon, with jitter, while the token may still be valid.
        const backoff = [100, 1000, 10_000, this.sessionDurationMs / 4][this.#keepAliveFailures - 1];
        if (backoff === undefined || Date.now() - this.#lastTokenAt > this.sessionDurationMs) {
          this.state = "failed";
          this.failure = e as DeephavenError;
          return;
        }
        this.#scheduleKeepAlive(backoff + Math.random() * 1000);
      }
    }, delayMs);
    Deno.unrefTimer(this.#keepAlive as unknown as number);
  }

  /** Whether the session can be used. */
  get isAlive(): boolean {
    return this.state === "connected" && !this.channel.closed;
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

  /** Closes the server session and the channel. */
  async close(): Promise<void> {
    if (this.state === "closed") return;
    const wasConnected = this.state === "connected";
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
