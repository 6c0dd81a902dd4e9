/**
 * gRPC calls on this module's own HTTP/2 connection (http2.ts): request headers and message framing,
 * message assembly, status from trailers, deadlines, cancellation and back-pressure. The channel
 * (channel.ts) uses it for the large Flight streams and turns what it reports into its usual results and
 * errors.
 *
 * Each response message is copied once, from the socket's read buffer into a buffer of its own. When the
 * method says where the message's payload starts (the `data_body` of a FlightData, see
 * {@linkcode GrpcStreamOptions.payloadOffset}), the message is placed so that the payload starts at an
 * 8-byte boundary of that buffer: Arrow buffers inside it can then be read as typed arrays without another
 * copy.
 *
 * @module
 */

import { GrpcCode } from "../errors.ts";
import { H2Error, type Http2Connection, type Http2Stream } from "./http2.ts";

/** The outcome of a call, as gRPC reports it. */
export interface GrpcStatus {
  /** The gRPC status code. */
  code: number;
  /** The status message. */
  details: string;
  /** The trailers (or the headers of a trailers-only response), lower-case names, no pseudo-headers. */
  headers: Record<string, string>;
  /** What a message receiver threw, which ended the call (the code is then INTERNAL). */
  error?: unknown;
}

/** Options of {@linkcode GrpcStream}. */
export interface GrpcStreamOptions {
  /** The method path, e.g. `/arrow.flight.protocol.FlightService/DoGet`. */
  path: string;
  /** `host:port` for the `:authority` header. */
  authority: string;
  /** `https` on TLS, else `http`. */
  scheme: "http" | "https";
  /** Request metadata (lower-case names), e.g. `authorization`. */
  headers: Record<string, string>;
  /** Deadline in milliseconds from now. */
  timeoutMs?: number;
  /** Largest response message accepted (larger: RESOURCE_EXHAUSTED). */
  maxMessageBytes: number;
  /**
   * Where a message's payload starts, given its first bytes (`undefined`: more bytes are needed; a negative
   * number: nowhere in particular). Asked only of messages of at least {@linkcode ALIGN_FROM_BYTES}.
   */
  payloadOffset?: (prefix: Uint8Array) => number | undefined;
  /**
   * Takes every response message's bytes as they arrive, instead of assembling and delivering messages:
   * called when a message starts, with its length. What it throws ends the call (see
   * {@linkcode GrpcStatus.error}).
   */
  receiver?: (length: number) => MessageReceiver;
}

/** Takes one message's bytes as they arrive (see {@linkcode GrpcStreamOptions.receiver}). */
export interface MessageReceiver {
  /** Bytes `bytes[start, end)` of the message, in order; the view is valid during the call only. */
  write(bytes: Uint8Array, start: number, end: number): void;
  /** The message is complete. */
  end(): void;
}

/** Messages at least this large have their payload placed at an 8-byte boundary. */
export const ALIGN_FROM_BYTES = 4096;
/** Most bytes of a message kept while looking for its payload offset. */
const PREFIX_LIMIT = 64 * 1024;

/** What a {@linkcode GrpcStream} reports, in order: metadata once, messages, then status once. */
export interface GrpcStreamEvents {
  /** The response headers. */
  onMetadata(headers: Record<string, string>): void;
  /** One response message (a view of a buffer of its own). */
  onMessage(message: Uint8Array): void;
  /** The end of the call: OK or an error. Nothing follows. */
  onStatus(status: GrpcStatus): void;
}

/** gRPC codes for HTTP/2 stream errors (gRPC's PROTOCOL-HTTP2.md). */
function codeOfReset(code: number | undefined): number {
  switch (code) {
    case undefined:
    case H2Error.REFUSED_STREAM:
      return GrpcCode.UNAVAILABLE;
    case H2Error.CANCEL:
      return GrpcCode.CANCELLED;
    case H2Error.ENHANCE_YOUR_CALM:
      return GrpcCode.RESOURCE_EXHAUSTED;
    case H2Error.INADEQUATE_SECURITY:
      return GrpcCode.PERMISSION_DENIED;
    default:
      return GrpcCode.INTERNAL;
  }
}

/** gRPC codes for HTTP statuses of responses without a gRPC status. */
function codeOfHttpStatus(status: number): number {
  switch (status) {
    case 400:
      return GrpcCode.INTERNAL;
    case 401:
      return GrpcCode.UNAUTHENTICATED;
    case 403:
      return GrpcCode.PERMISSION_DENIED;
    case 404:
      return GrpcCode.UNIMPLEMENTED;
    case 429:
    case 502:
    case 503:
    case 504:
      return GrpcCode.UNAVAILABLE;
    default:
      return GrpcCode.UNKNOWN;
  }
}

/** `grpc-message` is percent-encoded UTF-8. */
function decodeMessage(s: string): string {
  if (!s.includes("%")) return s;
  try {
    const bytes: number[] = [];
    for (let i = 0; i < s.length; i++) {
      if (s[i] === "%" && /^[0-9a-fA-F]{2}$/.test(s.slice(i + 1, i + 3))) {
        bytes.push(parseInt(s.slice(i + 1, i + 3), 16));
        i += 2;
      } else bytes.push(s.charCodeAt(i) & 0xff);
    }
    return new TextDecoder().decode(new Uint8Array(bytes));
  } catch {
    return s;
  }
}

function metadataOf(fields: [string, string][]): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of fields) if (!k.startsWith(":")) out[k] = out[k] === undefined ? v : `${out[k]},${v}`;
  return out;
}

/**
 * One gRPC call on an HTTP/2 connection: streaming in both directions, ended by the server's status, a
 * cancel, the deadline, or the connection's failure.
 */
export class GrpcStream {
  readonly #events: GrpcStreamEvents;
  readonly #options: GrpcStreamOptions;
  readonly #stream: Http2Stream;
  #finished = false;
  #gotHeaders = false;
  #timer: ReturnType<typeof setTimeout> | undefined;
  #paused = false;
  // Message assembly.
  readonly #prefix = new Uint8Array(5);
  #prefixGot = 0;
  #length = -1;
  #message: Uint8Array | undefined;
  #got = 0;
  #early: Uint8Array | undefined;
  #earlyGot = 0;
  #receiver: MessageReceiver | undefined;

  /**
   * Starts the call: sends its request headers.
   *
   * @param connection The HTTP/2 connection.
   * @param options Path, headers, deadline, limits.
   * @param events Receives the response.
   */
  constructor(connection: Http2Connection, options: GrpcStreamOptions, events: GrpcStreamEvents) {
    this.#events = events;
    this.#options = options;
    const headers: [string, string][] = [
      [":method", "POST"],
      [":scheme", options.scheme],
      [":path", options.path],
      [":authority", options.authority],
      ["content-type", "application/grpc"],
      ["te", "trailers"],
    ];
    if (options.timeoutMs !== undefined) {
      headers.push(["grpc-timeout", `${Math.max(1, Math.ceil(options.timeoutMs))}m`]);
    }
    for (const [k, v] of Object.entries(options.headers)) headers.push([k.toLowerCase(), v]);
    this.#stream = connection.request(headers, {
      onHeaders: (fields, end) => this.#onHeaders(fields, end),
      onData: (b, start, end) => this.#onData(b, start, end),
      onEnd: () => this.#finish(GrpcCode.UNKNOWN, "the server ended the stream without a status", {}),
      onReset: (code, reason) => this.#finish(codeOfReset(code), reason, {}),
    });
    if (options.timeoutMs !== undefined) {
      this.#timer = setTimeout(() => {
        this.#stream.cancel();
        this.#finish(GrpcCode.DEADLINE_EXCEEDED, "Deadline exceeded", {});
      }, options.timeoutMs);
    }
  }

  /** Sends one request message (gRPC framing is added here). */
  write(message: Uint8Array): void {
    if (this.#finished) return;
    const framed = new Uint8Array(5 + message.length);
    new DataView(framed.buffer).setUint32(1, message.length);
    framed.set(message, 5);
    this.#stream.write(framed);
  }

  /** Half-closes the request side. */
  end(): void {
    if (!this.#finished) this.#stream.end();
  }

  /** Cancels the call: the status is CANCELLED unless it had already ended. */
  cancel(): void {
    if (this.#finished) return;
    this.#stream.cancel();
    this.#finish(GrpcCode.CANCELLED, "Cancelled on client", {});
  }

  /** Stops taking messages from the server (flow control fills up and the server waits). */
  pause(): void {
    this.#paused = true;
    this.#stream.pause();
  }

  /** Takes messages again. */
  resume(): void {
    this.#paused = false;
    this.#stream.resume();
  }

  /** Whether {@linkcode GrpcStream.pause} is in effect. */
  isPaused(): boolean {
    return this.#paused;
  }

  #finish(code: number, details: string, headers: Record<string, string>, error?: unknown): void {
    if (this.#finished) return;
    this.#finished = true;
    clearTimeout(this.#timer);
    this.#message = this.#early = undefined;
    this.#receiver = undefined;
    this.#events.onStatus({ code, details, headers, ...(error !== undefined ? { error } : {}) });
  }

  #onHeaders(fields: [string, string][], end: boolean): void {
    if (this.#finished) return;
    const status = fields.find(([k]) => k === ":status")?.[1];
    const grpcStatus = fields.find(([k]) => k === "grpc-status")?.[1];
    const md = metadataOf(fields);
    if (!this.#gotHeaders && status !== undefined) {
      this.#gotHeaders = true;
      if (status !== "200" && grpcStatus === undefined) {
        this.#stream.cancel();
        return this.#finish(codeOfHttpStatus(Number(status)), `Received HTTP status code ${status}`, md);
      }
      if (!end) return this.#events.onMetadata(md);
    }
    if (!end) return; // informational or repeated headers
    if (this.#length >= 0 || this.#prefixGot > 0) {
      return this.#finish(GrpcCode.INTERNAL, "the stream ended inside a message", md);
    }
    const code = grpcStatus === undefined ? GrpcCode.UNKNOWN : Number(grpcStatus);
    const details = decodeMessage(fields.find(([k]) => k === "grpc-message")?.[1] ?? "");
    delete md["grpc-status"];
    delete md["grpc-message"];
    this.#finish(
      Number.isInteger(code) && code >= 0 && code <= 16 ? code : GrpcCode.UNKNOWN,
      grpcStatus === undefined ? "the server sent no gRPC status" : details,
      md,
    );
  }

  #onData(b: Uint8Array, at: number, end: number): void {
    try {
      this.#take(b, at, end);
    } catch (e) {
      // A receiver failed: the call ends with its error.
      this.#stream.cancel();
      this.#finish(GrpcCode.INTERNAL, (e as Error)?.message ?? String(e), {}, e);
    }
  }

  #take(b: Uint8Array, at: number, end: number): void {
    while (at < end && !this.#finished) {
      if (this.#length < 0) {
        const take = Math.min(5 - this.#prefixGot, end - at);
        this.#prefix.set(b.subarray(at, at + take), this.#prefixGot);
        this.#prefixGot += take;
        at += take;
        if (this.#prefixGot < 5) return;
        this.#prefixGot = 0;
        if (this.#prefix[0] !== 0) {
          this.#stream.cancel();
          return this.#finish(
            GrpcCode.INTERNAL,
            "the server sent a compressed message, which was not asked for",
            {},
          );
        }
        const len = new DataView(this.#prefix.buffer).getUint32(1);
        if (len > this.#options.maxMessageBytes) {
          this.#stream.cancel();
          return this.#finish(
            GrpcCode.RESOURCE_EXHAUSTED,
            `Received message larger than max (${len} vs. ${this.#options.maxMessageBytes})`,
            {},
          );
        }
        this.#length = len;
        this.#got = 0;
        if (this.#options.receiver) {
          this.#receiver = this.#options.receiver(len);
          if (len === 0) this.#received();
          continue;
        }
        if (this.#options.payloadOffset && len >= ALIGN_FROM_BYTES) {
          this.#early = new Uint8Array(Math.min(len, PREFIX_LIMIT));
          this.#earlyGot = 0;
        } else this.#allocate(-1);
        if (len === 0) this.#deliver();
        continue;
      }
      if (this.#receiver) {
        const take = Math.min(this.#length - this.#got, end - at);
        this.#receiver.write(b, at, at + take);
        this.#got += take;
        at += take;
        if (this.#got === this.#length) this.#received();
        continue;
      }
      if (this.#early) {
        // Collect the first bytes until the payload's offset is known.
        const e = this.#early;
        const take = Math.min(e.length - this.#earlyGot, end - at);
        e.set(b.subarray(at, at + take), this.#earlyGot);
        this.#earlyGot += take;
        at += take;
        const off = this.#options.payloadOffset!(e.subarray(0, this.#earlyGot));
        if (off === undefined && this.#earlyGot < e.length) continue;
        this.#early = undefined;
        this.#allocate(off ?? -1);
        this.#message!.set(e.subarray(0, this.#earlyGot));
        this.#got = this.#earlyGot;
        if (this.#got === this.#length) this.#deliver();
        continue;
      }
      const m = this.#message!;
      const take = Math.min(this.#length - this.#got, end - at);
      m.set(b.subarray(at, at + take), this.#got);
      this.#got += take;
      at += take;
      if (this.#got === this.#length) this.#deliver();
    }
  }

  /** A buffer for the message, placed so that byte `offset` of it is 8-byte aligned (when `offset >= 0`). */
  #allocate(offset: number): void {
    const n = this.#length;
    if (offset < 0 || offset > n) {
      this.#message = new Uint8Array(n);
      return;
    }
    const pad = (8 - (offset % 8)) % 8;
    this.#message = new Uint8Array(new ArrayBuffer(n + pad), pad, n);
  }

  #received(): void {
    const r = this.#receiver!;
    this.#receiver = undefined;
    this.#length = -1;
    r.end();
  }

  #deliver(): void {
    const m = this.#message!;
    this.#message = undefined;
    this.#length = -1;
    this.#events.onMessage(m);
  }
}
