/**
 * The one small transport seam of the module: a gRPC channel with unary, server-streaming and
 * bidirectional calls. Calls travel on `npm:@grpc/grpc-js`, except the large Flight streams (DoGet and
 * DoExchange: snapshots and subscriptions), which take this module's own HTTP/2 connection
 * (`./http2.ts`, `./grpc_stream.ts`) to the same server, with the same headers, credentials, deadlines,
 * keep-alive and errors: it moves their bytes at about half grpc-js's CPU cost.
 *
 * Messages cross this seam as bytes; callers give a {@linkcode MethodSpec}
 * that serializes and deserializes them. Every call takes an `AbortSignal`
 * and an optional deadline, streams are async iterables, and every failure is
 * a {@linkcode DeephavenError} carrying the gRPC code.
 *
 * @module
 */

import * as grpc from "../deps/grpc_js.ts";
import { Buffer } from "node:buffer";
import { isIP } from "node:net";
import { DeephavenError, GrpcCode, grpcCodeName } from "../errors.ts";
import { redact } from "./redact.ts";
import { Http2Connection } from "./http2.ts";
import { type GrpcStatus, GrpcStream, type MessageReceiver } from "./grpc_stream.ts";

export type { MessageReceiver };

/** How to serialize a request and deserialize a response of one RPC. */
export interface MethodSpec<I, O> {
  /** Full method path, e.g. `/io.deephaven.proto.backplane.grpc.TableService/Update`. */
  readonly path: string;
  /** Encodes a request message. */
  serialize(message: I): Uint8Array;
  /** Decodes a response message. The bytes may be a view into a larger buffer. */
  deserialize(bytes: Uint8Array): O;
  /**
   * Where a response message's payload starts, given its first bytes (see `GrpcStreamOptions.payloadOffset`),
   * for methods whose payload is read as typed arrays (Flight data).
   */
  payloadOffset?(prefix: Uint8Array): number | undefined;
}

/** Response headers or trailers, with lower-case keys and string values (binary headers are skipped). */
export type Headers = Record<string, string>;

/** TLS settings of a channel. */
export interface TlsOptions {
  /** PEM root certificates to trust. When absent the system roots are used. */
  rootCerts?: string | Uint8Array;
  /** PEM client certificate chain, for mutual TLS. */
  clientCertChain?: string | Uint8Array;
  /** PEM client private key, for mutual TLS. */
  clientPrivateKey?: string | Uint8Array;
  /** Server name to verify instead of the host (for certificates issued to another name). */
  serverNameOverride?: string;
}

/** Options of a {@linkcode Channel}. */
export interface ChannelOptions {
  /** Host name or address of the server. */
  host: string;
  /** Port of the server. */
  port: number;
  /** TLS settings; absent means plaintext (h2c). */
  tls?: TlsOptions;
  /** Extra gRPC channel arguments, passed to grpc-js as they are. */
  channelArgs?: Record<string, string | number>;
  /**
   * Called before every call to get the headers to send (for example the
   * `authorization` header). Extra static headers are merged in by the caller.
   */
  requestHeaders?: () => Headers;
  /** Called with the headers and trailers of every response (for example to pick up a rotated token). */
  onResponseHeaders?: (headers: Headers) => void;
  /** Called with every call's failure (for example to start reconnecting). */
  onCallError?: (error: DeephavenError) => void;
  /**
   * How the Flight streams (DoGet, DoExchange) travel: `"h2"`, this module's own HTTP/2 connection
   * (default), or `"grpc-js"`, the channel's grpc-js connection like every other call. A server name
   * override (`tls.serverNameOverride`) always uses grpc-js.
   */
  streams?: "h2" | "grpc-js";
}

/** Options of one call. */
export interface CallOptions {
  /** Aborts the call; the call then rejects with a `CANCELLED` DeephavenError. */
  signal?: AbortSignal;
  /** Deadline in milliseconds from now. */
  timeoutMs?: number;
  /** Headers for this call only (they override the channel's). */
  headers?: Headers;
  /** What the call does, in words, used at the start of error messages, e.g. `"Fetching table 'x'"`. */
  what?: string;
  /**
   * Takes the response messages' bytes as they arrive instead of delivering messages (the iteration then
   * yields nothing and ends with the call): called as each message starts, with its length. Only for
   * methods where {@linkcode Channel.receives} is true.
   */
  receive?: (length: number) => MessageReceiver;
}

/** A bidirectional stream: send messages, end the request side, iterate over responses. */
export interface BidiCall<I, O> extends AsyncIterable<O> {
  /** Sends one request message. */
  send(message: I): void;
  /** Half-closes the request side: the server sees the end of the request stream. */
  end(): void;
  /** Cancels the call; iteration then ends with a `CANCELLED` error unless already finished. */
  cancel(): void;
  /** Resolves with the response headers once they arrive. */
  readonly headers: Promise<Headers>;
}

/** 256 MiB: well above the server's 100 MiB message cap. */
const MAX_MESSAGE_BYTES = 256 * 1024 * 1024;
/** HTTP/2 flow-control window: 16 MiB keeps large snapshots flowing on one round trip. */
const FLOW_CONTROL_WINDOW = 16 * 1024 * 1024;
/** The keep-alive of both connections: a ping after 15 s, 10 s to answer. */
const KEEPALIVE_TIME_MS = 15_000;
const KEEPALIVE_TIMEOUT_MS = 10_000;
/** Connecting the HTTP/2 connection of the Flight streams gives up after this long. */
const CONNECT_TIMEOUT_MS = 20_000;
/** The methods that take the channel's own HTTP/2 connection. */
const H2_METHODS = new Set([
  "/arrow.flight.protocol.FlightService/DoGet",
  "/arrow.flight.protocol.FlightService/DoExchange",
]);
/** Streams queue at most this many messages before the server is asked to wait (flow control). */
const HIGH_WATER = 8;

function pemText(x: string | Uint8Array | undefined): string | undefined {
  return x === undefined ? undefined : typeof x === "string" ? x : new TextDecoder().decode(x);
}

/** What the consuming side of a streaming call controls: the flow of messages, and cancelling. */
interface FlowControl {
  pause(): void;
  resume(): void;
  isPaused(): boolean;
  cancel(): void;
}

function toBuffer(bytes: Uint8Array): Buffer {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}

function pem(x: string | Uint8Array | undefined): Buffer | null {
  if (x === undefined) return null;
  return typeof x === "string" ? Buffer.from(x, "utf8") : toBuffer(x);
}

/**
 * TLS credentials. grpc-js sends the target host as the TLS server name (SNI) even when it is an IP address,
 * which SNI does not allow (RFC 6066) and Deno's `node:tls` refuses ("The property 'options.servername' must
 * not be an IP address"), so TLS to `127.0.0.1` failed. For an IP address the server name is left out; the
 * certificate is still verified against the address (its IP subject alternative names).
 *
 * The change is made on this credentials object only (its own connector factory), so it applies to this
 * module's channels and to nothing else in the process: grpc-js's classes and prototypes stay as they are
 * (tests/session/plain_grpc_test.ts checks it).
 */
function tlsCredentials(tls: TlsOptions): grpc.ChannelCredentials {
  const creds = grpc.credentials.createSsl(
    pem(tls.rootCerts),
    pem(tls.clientPrivateKey),
    pem(tls.clientCertChain),
  );
  type Connector = { connectionOptions?: { servername?: unknown } };
  const c = creds as unknown as { _createSecureConnector?: (...args: unknown[]) => Connector };
  const make = c._createSecureConnector;
  if (typeof make === "function") {
    c._createSecureConnector = function (this: unknown, ...args: unknown[]): Connector {
      const connector = make.apply(this, args);
      const o = connector?.connectionOptions;
      if (o && typeof o.servername === "string" && isIP(o.servername) !== 0) delete o.servername;
      return connector;
    };
  }
  return creds;
}

/** Flattens grpc-js metadata into string headers (binary `-bin` entries are skipped). */
export function metadataToHeaders(md: grpc.Metadata | undefined): Headers {
  const out: Headers = {};
  if (!md) return out;
  for (const [k, v] of Object.entries(md.getMap())) {
    if (typeof v === "string") out[k.toLowerCase()] = v;
  }
  return out;
}

const HINTS: Record<number, string> = {
  [GrpcCode.UNAUTHENTICATED]: "check the auth type and credentials, or log in again",
  [GrpcCode.PERMISSION_DENIED]: "check that this user may do this",
  [GrpcCode.UNAVAILABLE]: "check that the server is running and reachable, then retry",
  [GrpcCode.DEADLINE_EXCEEDED]:
    "the server did not answer in time; check that it is reachable and not overloaded",
  [GrpcCode.CANCELLED]: "the call was cancelled",
  [GrpcCode.RESOURCE_EXHAUSTED]: "a message or resource limit was hit; ask for less data at once",
};

/** What TLS handshake failures say (Deno's `node:tls` and rustls alerts). */
const TLS_FAILURE =
  /certificate|unable to verify|self[- ]signed|altnames|fatal alert|BadCertificate|CertificateUnknown|UnknownIssuer|handshake|wrong version number/i;
const TLS_HINT =
  "check the TLS settings: tlsRootCerts must hold the CA that signed the server's certificate, " +
  "the certificate must name the host, and a server that asks for client certificates needs clientCertChain " +
  "and clientPrivateKey";

/**
 * Turns a grpc-js error (or anything thrown) into a {@linkcode DeephavenError}
 * whose message says what was being done, what the server said, and what to do.
 */
export function toDeephavenError(err: unknown, what: string, target: string): DeephavenError {
  // A DeephavenError is kept; the transport's own kinds of it (HTTP/2, HPACK) get the call's context.
  if (err instanceof DeephavenError && err.constructor === DeephavenError) return err;
  const e = err as Partial<grpc.ServiceError> & { message?: string };
  const code = typeof e?.code === "number" ? e.code : GrpcCode.UNKNOWN;
  const details = redact(String(e?.details ?? e?.message ?? err));
  const tlsFailure = code === GrpcCode.UNAVAILABLE && TLS_FAILURE.test(details);
  const hint = tlsFailure ? TLS_HINT : HINTS[code];
  const unreachable = code === GrpcCode.UNAVAILABLE || code === GrpcCode.DEADLINE_EXCEEDED;
  const where = unreachable && !what.includes(target) ? ` at ${target}` : "";
  const msg = `${what} failed${where}: ${details || grpcCodeName(code)} (${grpcCodeName(code)})` +
    (hint ? `; ${hint}` : "");
  return new DeephavenError(msg, {
    code,
    details,
    cause: err instanceof Error ? redactError(err) : undefined,
  });
}

function redactError(err: Error): Error {
  const copy = new Error(redact(err.message));
  copy.name = err.name;
  return copy;
}

/**
 * A gRPC channel to one server. Create one per session; close it when done.
 *
 * @example Usage
 * ```ts ignore
 * const ch = new Channel({ host: "127.0.0.1", port: 10000 });
 * const reply = await ch.unary(spec, request, { timeoutMs: 5000 });
 * ch.close();
 * ```
 */
export class Channel {
  /** `host:port` of the server. */
  readonly target: string;
  readonly #client: grpc.Client;
  readonly #options: ChannelOptions;
  #closed = false;
  readonly #active = new Set<{ cancel(): void }>();
  /** The HTTP/2 connection of the Flight streams (while connecting: its promise). */
  #h2: Promise<Http2Connection> | undefined;
  /** Every open HTTP/2 connection (an older one may still carry streams when a new one was needed). */
  readonly #h2Open = new Set<Http2Connection>();

  /**
   * Creates the channel. No connection is made until the first call.
   *
   * @param options Host, port, TLS and header hooks.
   */
  constructor(options: ChannelOptions) {
    this.#options = options;
    this.target = `${options.host}:${options.port}`;
    const tls = options.tls;
    const creds = tls ? tlsCredentials(tls) : grpc.credentials.createInsecure();
    const args: Record<string, string | number> = {
      "grpc.max_receive_message_length": MAX_MESSAGE_BYTES,
      "grpc.max_send_message_length": MAX_MESSAGE_BYTES,
      "grpc-node.flow_control_window": FLOW_CONTROL_WINDOW,
      "grpc.keepalive_time_ms": KEEPALIVE_TIME_MS,
      "grpc.keepalive_timeout_ms": KEEPALIVE_TIMEOUT_MS,
      "grpc.keepalive_permit_without_calls": 0,
      ...(tls?.serverNameOverride ? { "grpc.ssl_target_name_override": tls.serverNameOverride } : {}),
      ...options.channelArgs,
    };
    this.#client = new grpc.Client(this.target, creds, args);
  }

  /** Whether {@linkcode Channel.close} was called. */
  get closed(): boolean {
    return this.#closed;
  }

  #metadata(extra?: Headers): grpc.Metadata {
    const md = new grpc.Metadata();
    const base = this.#options.requestHeaders?.() ?? {};
    for (const [k, v] of Object.entries({ ...base, ...extra })) md.set(k, v);
    return md;
  }

  #callOptions(opts: CallOptions): grpc.CallOptions {
    return opts.timeoutMs !== undefined ? { deadline: Date.now() + opts.timeoutMs } : {};
  }

  /** Remembers a call until it ends, so that close() can cancel it. */
  #track(call: grpc.Call): void {
    this.#active.add(call);
    call.once("status", () => this.#active.delete(call));
  }

  #failed(e: DeephavenError): DeephavenError {
    try {
      this.#options.onCallError?.(e);
    } catch {
      // A hook must not change the error the caller sees.
    }
    return e;
  }

  #observe(md: grpc.Metadata | Headers | undefined): void {
    if (!md || !this.#options.onResponseHeaders) return;
    this.#options.onResponseHeaders(md instanceof grpc.Metadata ? metadataToHeaders(md) : md);
  }

  #checkOpen(what: string): void {
    if (this.#closed) {
      throw new DeephavenError(`${what} failed: the session is closed; connect a new session`, {
        code: GrpcCode.FAILED_PRECONDITION,
      });
    }
  }

  /**
   * Makes a unary call.
   *
   * @param method The method and its codecs.
   * @param request The request message.
   * @param opts Signal, deadline, headers and a description for errors.
   * @returns The response message.
   */
  unary<I, O>(method: MethodSpec<I, O>, request: I, opts: CallOptions = {}): Promise<O> {
    const what = opts.what ?? `Call ${method.path}`;
    return new Promise<O>((resolve, reject) => {
      try {
        this.#checkOpen(what);
      } catch (e) {
        reject(e);
        return;
      }
      if (opts.signal?.aborted) {
        reject(toDeephavenError({ code: GrpcCode.CANCELLED, details: "aborted" }, what, this.target));
        return;
      }
      const call = this.#client.makeUnaryRequest<I, O>(
        method.path,
        (m: I) => toBuffer(method.serialize(m)),
        (b: Buffer) => method.deserialize(b),
        request,
        this.#metadata(opts.headers),
        this.#callOptions(opts),
        (err, value) => {
          opts.signal?.removeEventListener("abort", onAbort);
          if (err) reject(this.#failed(toDeephavenError(err, what, this.target)));
          else resolve(value as O);
        },
      );
      const onAbort = () => call.cancel();
      opts.signal?.addEventListener("abort", onAbort, { once: true });
      this.#track(call);
      call.on("metadata", (md: grpc.Metadata) => this.#observe(md));
      call.on("status", (st: grpc.StatusObject) => this.#observe(st.metadata));
    });
  }

  /**
   * Makes a server-streaming call. The stream starts when iteration starts.
   *
   * @param method The method and its codecs.
   * @param request The request message.
   * @param opts Signal, deadline, headers and a description for errors.
   * @returns An async iterable of response messages; breaking out of the loop cancels the call.
   */
  serverStream<I, O>(method: MethodSpec<I, O>, request: I, opts: CallOptions = {}): AsyncIterable<O> {
    const what = opts.what ?? `Call ${method.path}`;
    const start = (): AsyncGenerator<O> => {
      this.#checkOpen(what);
      if (this.#ownStreams(method.path)) {
        const call = this.#h2Call(method, opts, what);
        call.send(request);
        call.end();
        return call[Symbol.asyncIterator]() as AsyncGenerator<O>;
      }
      const call = this.#client.makeServerStreamRequest<I, O>(
        method.path,
        (m: I) => toBuffer(method.serialize(m)),
        (b: Buffer) => method.deserialize(b),
        request,
        this.#metadata(opts.headers),
        this.#callOptions(opts),
      );
      this.#track(call);
      return this.#drain<O>(call, what, opts.signal, () => call.cancel());
    };
    return { [Symbol.asyncIterator]: start };
  }

  /**
   * Opens a bidirectional stream.
   *
   * @param method The method and its codecs.
   * @param opts Signal, deadline, headers and a description for errors.
   * @returns The call: send, end, cancel, and iterate over responses.
   */
  bidi<I, O>(method: MethodSpec<I, O>, opts: CallOptions = {}): BidiCall<I, O> {
    const what = opts.what ?? `Call ${method.path}`;
    this.#checkOpen(what);
    if (this.#ownStreams(method.path)) return this.#h2Call(method, opts, what);
    if (opts.receive) {
      throw new DeephavenError(`${method.path} cannot take message bytes on this channel`, {
        code: GrpcCode.INTERNAL,
      });
    }
    const call = this.#client.makeBidiStreamRequest<I, O>(
      method.path,
      (m: I) => toBuffer(method.serialize(m)),
      (b: Buffer) => method.deserialize(b),
      this.#metadata(opts.headers),
      this.#callOptions(opts),
    );
    this.#track(call);
    const headers = new Promise<Headers>((resolve) => {
      call.once("metadata", (md: grpc.Metadata) => resolve(metadataToHeaders(md)));
      call.once("status", () => resolve({}));
    });
    const iterable = this.#drain<O>(call, what, opts.signal, () => call.cancel());
    return {
      send: (m: I) => {
        call.write(m);
      },
      end: () => {
        call.end();
      },
      cancel: () => call.cancel(),
      headers,
      [Symbol.asyncIterator]: () => iterable,
    };
  }

  /**
   * Attaches to a grpc-js readable call at once (so no event is missed) and
   * returns an async generator over its messages (see {@linkcode Channel.#consume}).
   */
  #drain<O>(
    call: grpc.ClientReadableStream<O> | grpc.ClientDuplexStream<unknown, O>,
    what: string,
    signal: AbortSignal | undefined,
    cancel: () => void,
  ): AsyncGenerator<O> {
    const c = this.#consume<O>({
      pause: () => call.pause(),
      resume: () => call.resume(),
      isPaused: () => call.isPaused(),
      cancel,
    }, signal);
    call.on("metadata", (md: grpc.Metadata) => this.#observe(md));
    call.on("data", (m: O) => c.push(m));
    call.on("status", (st: grpc.StatusObject) => {
      this.#observe(st.metadata);
      c.end(st.code !== GrpcCode.OK ? this.#failed(toDeephavenError(st, what, this.target)) : undefined);
    });
    call.on("error", (err: Error) => c.end(this.#failed(toDeephavenError(err, what, this.target))));
    return c.messages;
  }

  /**
   * The consuming side of a streaming call: an async generator over the messages pushed to it, with
   * back-pressure (the call is paused while more than a few messages wait to be consumed), ended by
   * `end` (with the call's error, if any). Breaking out of the loop, or the signal, cancels the call.
   */
  #consume<O>(flow: FlowControl, signal: AbortSignal | undefined): {
    push(m: O): void;
    end(error?: DeephavenError): void;
    messages: AsyncGenerator<O>;
  } {
    const queue: O[] = [];
    let error: DeephavenError | undefined;
    let done = false;
    let wake: (() => void) | undefined;
    const notify = () => {
      const w = wake;
      wake = undefined;
      w?.();
    };
    const onAbort = () => flow.cancel();
    signal?.addEventListener("abort", onAbort, { once: true });
    if (signal?.aborted) flow.cancel();
    return {
      push(m: O) {
        queue.push(m);
        if (queue.length >= HIGH_WATER) flow.pause();
        notify();
      },
      end(e?: DeephavenError) {
        if (!done) error ??= e;
        done = true;
        notify();
      },
      messages: (async function* () {
        let finished = false;
        try {
          while (true) {
            if (queue.length > 0) {
              const m = queue.shift() as O;
              if (queue.length < HIGH_WATER / 2 && flow.isPaused()) flow.resume();
              yield m;
              continue;
            }
            if (done) break;
            await new Promise<void>((r) => (wake = r));
          }
          finished = true;
          if (error) throw error;
        } finally {
          signal?.removeEventListener("abort", onAbort);
          if (!finished) flow.cancel();
        }
      })(),
    };
  }

  /** Whether calls of a method can take their messages' bytes as they arrive (`CallOptions.receive`). */
  receives(path: string): boolean {
    return this.#ownStreams(path);
  }

  /** Whether a method takes the channel's own HTTP/2 connection. */
  #ownStreams(path: string): boolean {
    return (this.#options.streams ?? "h2") === "h2" && H2_METHODS.has(path) &&
      !this.#options.tls?.serverNameOverride;
  }

  /**
   * The HTTP/2 connection of the Flight streams: the open one, or a new one (the first ever, or after the
   * last one failed, was told to go away, or reached the server's stream limit). Calls that wait for it
   * share it; a call's own abort does not stop it.
   */
  #connection(): Promise<Http2Connection> {
    const current = this.#h2;
    if (current) {
      return current.then(
        (c) => (c.usable ? c : this.#connect(current)),
        () => this.#connect(current),
      );
    }
    return this.#connect(undefined);
  }

  #connect(previous: Promise<Http2Connection> | undefined): Promise<Http2Connection> {
    if (this.#h2 !== previous) return this.#connection(); // another call replaced it meanwhile
    const tls = this.#options.tls;
    const p = Http2Connection.connect({
      host: this.#options.host,
      port: this.#options.port,
      tls: tls
        ? {
          caCerts: tls.rootCerts !== undefined ? [pemText(tls.rootCerts)!] : undefined,
          cert: pemText(tls.clientCertChain),
          key: pemText(tls.clientPrivateKey),
        }
        : undefined,
      windowBytes: FLOW_CONTROL_WINDOW,
      connectTimeoutMs: CONNECT_TIMEOUT_MS,
      keepaliveTimeMs: KEEPALIVE_TIME_MS,
      keepaliveTimeoutMs: KEEPALIVE_TIMEOUT_MS,
    });
    this.#h2 = p;
    p.then((c) => {
      if (this.#closed) return c.close();
      this.#h2Open.add(c);
      c.onClose(() => this.#h2Open.delete(c));
    }, () => {
      if (this.#h2 === p) this.#h2 = undefined;
    });
    return p;
  }

  /**
   * A streaming call on the channel's own HTTP/2 connection. Messages sent before the connection is up
   * wait for it; the call fails with UNAVAILABLE when the connection cannot be made.
   */
  #h2Call<I, O>(method: MethodSpec<I, O>, opts: CallOptions, what: string): BidiCall<I, O> {
    let stream: GrpcStream | undefined;
    let cancelled = false, ended = false;
    let paused = false;
    const pending: I[] = [];
    let resolveHeaders!: (h: Headers) => void;
    const headers = new Promise<Headers>((r) => (resolveHeaders = r));
    const deadline = opts.timeoutMs !== undefined ? Date.now() + opts.timeoutMs : undefined;
    const fail = (code: number, details: string) => {
      resolveHeaders({});
      c.end(this.#failed(toDeephavenError({ code, details }, what, this.target)));
    };
    const tracked = { cancel: () => cancel() };
    const cancel = () => {
      if (cancelled) return;
      cancelled = true;
      this.#active.delete(tracked);
      if (stream) stream.cancel();
      else fail(GrpcCode.CANCELLED, "Cancelled on client");
    };
    const c = this.#consume<O>({
      pause: () => {
        paused = true;
        stream?.pause();
      },
      resume: () => {
        paused = false;
        stream?.resume();
      },
      isPaused: () => paused,
      cancel,
    }, opts.signal);
    this.#active.add(tracked);
    const onStatus = (st: GrpcStatus) => {
      this.#active.delete(tracked);
      this.#observe(st.headers);
      resolveHeaders({});
      if (st.code === GrpcCode.OK) c.end();
      else if (st.error !== undefined) {
        // The receiver's own failure (e.g. malformed data): not the transport's.
        c.end(toDeephavenError(st.error, what, this.target));
      } else c.end(this.#failed(toDeephavenError(st, what, this.target)));
    };
    const start = (h2: Http2Connection, retry: boolean): void => {
      if (cancelled) return;
      // Another call may have taken the connection's last stream meanwhile: then a connection of its own.
      if (!h2.usable && retry) {
        this.#connection().then((c) => start(c, false), onConnectError);
        return;
      }
      const left = deadline === undefined ? undefined : deadline - Date.now();
      if (left !== undefined && left <= 0) {
        cancelled = true;
        this.#active.delete(tracked);
        return fail(GrpcCode.DEADLINE_EXCEEDED, "Deadline exceeded");
      }
      const base = this.#options.requestHeaders?.() ?? {};
      try {
        stream = new GrpcStream(h2, {
          path: method.path,
          authority: this.target,
          scheme: this.#options.tls ? "https" : "http",
          headers: { ...base, ...opts.headers },
          timeoutMs: left,
          maxMessageBytes: MAX_MESSAGE_BYTES,
          payloadOffset: method.payloadOffset,
          receiver: opts.receive,
        }, {
          onMetadata: (md) => {
            this.#observe(md);
            resolveHeaders(md);
          },
          onMessage: (bytes) => {
            let m: O;
            try {
              m = method.deserialize(bytes);
            } catch (e) {
              stream?.cancel();
              onStatus({
                code: GrpcCode.INTERNAL,
                details: `cannot decode a message: ${(e as Error).message}`,
                headers: {},
              });
              return;
            }
            c.push(m);
          },
          onStatus,
        });
      } catch (e) {
        this.#active.delete(tracked);
        return fail(GrpcCode.UNAVAILABLE, (e as Error).message);
      }
      if (paused) stream.pause();
      for (const m of pending.splice(0)) stream.write(method.serialize(m));
      if (ended) stream.end();
    };
    const onConnectError = (e: Error) => {
      if (cancelled) return;
      this.#active.delete(tracked);
      fail(GrpcCode.UNAVAILABLE, e.message);
    };
    this.#connection().then((c) => start(c, true), onConnectError);
    return {
      send: (m: I) => {
        if (ended || cancelled) return;
        if (stream) stream.write(method.serialize(m));
        else pending.push(m);
      },
      end: () => {
        if (ended) return;
        ended = true;
        stream?.end();
      },
      cancel,
      headers,
      [Symbol.asyncIterator]: () => c.messages,
    };
  }

  /** Closes the channel. Calls in flight are cancelled. Safe to call twice. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    // grpc-js close() leaves calls in flight running; end them so streams finish now.
    for (const call of [...this.#active]) call.cancel();
    this.#active.clear();
    this.#client.close();
    for (const c of this.#h2Open) c.close("the channel was closed");
    this.#h2Open.clear();
  }
}
