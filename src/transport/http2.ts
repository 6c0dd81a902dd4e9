/**
 * A small HTTP/2 client connection (RFC 9113) on a Deno TCP or TLS socket, for the module's large gRPC
 * streams (Flight DoGet and DoExchange; see grpc_stream.ts).
 *
 * Why not `node:http2`: on Deno it hands every DATA chunk over as a new Buffer and keeps most of a core busy
 * with its own bookkeeping and the garbage of those buffers, so a 100 MB snapshot cost the client twice
 * the CPU time of the bytes it moved. Here the socket is read into one reused buffer and each DATA payload is
 * passed on as a view of it, which the stream copies once into its message (so nothing here allocates per
 * chunk).
 *
 * What it does: the connection preface and settings (a 16 MiB stream window and frame size, no push),
 * HEADERS and CONTINUATION with HPACK (hpack.ts), DATA with flow control both ways (receive credit returned
 * as data arrives, held back while a stream is paused), RST_STREAM, PING (answers, and keep-alive pings
 * with a deadline), GOAWAY (no new streams; streams the server never saw fail as refused), and clean
 * failure of every stream when the socket ends or errs.
 *
 * @module
 */

import { DeephavenError, GrpcCode } from "../errors.ts";
import { encodeHeaders, HpackDecoder, HpackError } from "./hpack.ts";

/** HTTP/2 error codes (RFC 9113 §7). */
export const H2Error = {
  NO_ERROR: 0x0,
  PROTOCOL_ERROR: 0x1,
  INTERNAL_ERROR: 0x2,
  FLOW_CONTROL_ERROR: 0x3,
  SETTINGS_TIMEOUT: 0x4,
  STREAM_CLOSED: 0x5,
  FRAME_SIZE_ERROR: 0x6,
  REFUSED_STREAM: 0x7,
  CANCEL: 0x8,
  COMPRESSION_ERROR: 0x9,
  CONNECT_ERROR: 0xa,
  ENHANCE_YOUR_CALM: 0xb,
  INADEQUATE_SECURITY: 0xc,
  HTTP_1_1_REQUIRED: 0xd,
} as const;

const DATA = 0, HEADERS = 1, PRIORITY = 2, RST_STREAM = 3, SETTINGS = 4, PUSH_PROMISE = 5, PING = 6;
const GOAWAY = 7, WINDOW_UPDATE = 8, CONTINUATION = 9;
const END_STREAM = 0x1, ACK = 0x1, END_HEADERS = 0x4, PADDED = 0x8, PRIORITY_FLAG = 0x20;

const PREFACE = new TextEncoder().encode("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n");
/** The largest frame this side accepts (the protocol's maximum), so large DATA comes in few frames. */
const MAX_FRAME_IN = (1 << 24) - 1;
/** Bytes read from the socket at once. */
const READ_BYTES = 1 << 20;
/** Most bytes of one header block (HEADERS plus CONTINUATION). */
const MAX_HEADER_BLOCK = 1 << 20;

/** TLS settings of a connection (PEM text). */
export interface Http2Tls {
  /** Root certificates to trust besides the default store. */
  caCerts?: string[];
  /** Client certificate chain, for mutual TLS. */
  cert?: string;
  /** Client private key, for mutual TLS. */
  key?: string;
}

/** Options of {@linkcode Http2Connection.connect}. */
export interface Http2Options {
  /** Host name or address. */
  host: string;
  /** Port. */
  port: number;
  /** TLS (ALPN `h2`); absent means plaintext HTTP/2 (h2c with prior knowledge). */
  tls?: Http2Tls;
  /** Receive window of each stream, in bytes (also the connection window, times four). */
  windowBytes: number;
  /** Gives up connecting after this many milliseconds. */
  connectTimeoutMs: number;
  /** A keep-alive PING is sent after this many milliseconds without one while streams are open. */
  keepaliveTimeMs: number;
  /** The connection is closed when a keep-alive PING is not answered within this many milliseconds. */
  keepaliveTimeoutMs: number;
  /** Aborts connecting. */
  signal?: AbortSignal;
}

/** What a stream hears from its connection. All calls happen on the connection's read loop. */
export interface StreamHandler {
  /** A complete header block: the response headers, then (at the end) the trailers. */
  onHeaders(fields: [string, string][], endStream: boolean): void;
  /**
   * Payload bytes `bytes[start, end)` of a DATA frame. The view is valid only during the call (its buffer
   * is reused): copy what is kept.
   */
  onData(bytes: Uint8Array, start: number, end: number): void;
  /** The server ended the stream after DATA (END_STREAM on a DATA frame). */
  onEnd(): void;
  /**
   * The stream ended abnormally: reset by the server (its error code), refused by a GOAWAY, or its
   * connection failed (`code` is then `undefined`). `reason` says what happened.
   */
  onReset(code: number | undefined, reason: string): void;
}

/** A failure of the connection as a whole (socket, protocol, keep-alive). */
export class Http2ConnectionError extends DeephavenError {
  /** @param message Why the connection failed. */
  constructor(message: string) {
    super(message, { code: GrpcCode.UNAVAILABLE });
  }
}

function frameHeader(length: number, type: number, flags: number, stream: number): Uint8Array {
  const h = new Uint8Array(9);
  h[0] = length >>> 16;
  h[1] = (length >>> 8) & 0xff;
  h[2] = length & 0xff;
  h[3] = type;
  h[4] = flags;
  new DataView(h.buffer).setUint32(5, stream & 0x7fffffff);
  return h;
}

function frame(type: number, flags: number, stream: number, payload?: Uint8Array): Uint8Array {
  const n = payload?.length ?? 0;
  const f = new Uint8Array(9 + n);
  f.set(frameHeader(n, type, flags, stream));
  if (payload) f.set(payload, 9);
  return f;
}

function u32(...values: number[]): Uint8Array {
  const b = new Uint8Array(values.length * 4);
  const dv = new DataView(b.buffer);
  values.forEach((v, i) => dv.setUint32(i * 4, v >>> 0));
  return b;
}

/** One stream of a connection: send request bytes, pause or resume receiving, cancel. */
export class Http2Stream {
  readonly id: number;
  /** @ignore */ readonly handler: StreamHandler;
  /** @ignore Receive window left (what the server may still send). */ recvWindow: number;
  /** @ignore Received bytes whose credit is not yet returned. */ owed = 0;
  /** @ignore */ paused = false;
  /** @ignore Send window (what this side may still send). */ sendWindow: number;
  /** @ignore Request bytes waiting for send window. */ queue: { bytes: Uint8Array; end: boolean }[] = [];
  /** @ignore */ localEnded = false;
  /** @ignore */ closed = false;
  /** @ignore Collecting a header block. */ headerParts: Uint8Array[] | undefined;
  /** @ignore */ headerEnd = false;
  readonly #connection: Http2Connection;

  /** @ignore */
  constructor(connection: Http2Connection, id: number, handler: StreamHandler, recv: number, send: number) {
    this.#connection = connection;
    this.id = id;
    this.handler = handler;
    this.recvWindow = recv;
    this.sendWindow = send;
  }

  /** Sends request bytes; `end` half-closes the request side after them. */
  write(bytes: Uint8Array, end = false): void {
    if (this.closed || this.localEnded) return;
    if (end) this.localEnded = true;
    this.queue.push({ bytes, end });
    this.#connection.flushStream(this);
  }

  /** Half-closes the request side. */
  end(): void {
    this.write(new Uint8Array(0), true);
  }

  /** Stops returning receive credit: the server stops sending once the window is used up. */
  pause(): void {
    this.paused = true;
  }

  /** Returns the credit held back since {@linkcode Http2Stream.pause}. */
  resume(): void {
    if (!this.paused) return;
    this.paused = false;
    this.#connection.credit(this, 0);
  }

  /** Resets the stream (CANCEL); no more events reach its handler. */
  cancel(code: number = H2Error.CANCEL): void {
    this.#connection.resetStream(this, code);
  }
}

/**
 * One HTTP/2 connection. Open it with {@linkcode Http2Connection.connect}, then open streams with
 * {@linkcode Http2Connection.request} while it is {@linkcode Http2Connection.usable}.
 */
export class Http2Connection {
  readonly #conn: Deno.Conn;
  readonly #options: Http2Options;
  readonly #decoder = new HpackDecoder();
  readonly #streams = new Map<number, Http2Stream>();
  #nextId = 1;
  #closed = false;
  #goaway = false;
  #failure: string | undefined;
  /** What the server allows: frame size and window of the streams this side sends on. */
  #peerMaxFrame = 16384;
  #peerInitialWindow = 65535;
  #peerMaxStreams = Infinity;
  #sendWindow = 65535;
  /** Connection-level receive credit not yet returned. */
  #connOwed = 0;
  readonly #connWindow: number;
  #out: Uint8Array[] = [];
  #writing = false;
  #keepalive: ReturnType<typeof setInterval> | undefined;
  #pingDeadline: ReturnType<typeof setTimeout> | undefined;
  #settingsSeen!: () => void;
  #onClose = new Set<(reason: string) => void>();

  private constructor(conn: Deno.Conn, options: Http2Options) {
    this.#conn = conn;
    this.#options = options;
    this.#connWindow = options.windowBytes * 4;
  }

  /**
   * Connects, sends the preface and settings, and waits for the server's settings.
   *
   * @param options Target, TLS, windows and timers.
   * @returns The open connection.
   * @throws {Http2ConnectionError} When the socket cannot be opened, TLS fails, or the server does not speak
   *   HTTP/2 within the timeout.
   */
  static async connect(options: Http2Options): Promise<Http2Connection> {
    let timer: ReturnType<typeof setTimeout> | undefined;
    let conn: Deno.Conn | undefined;
    let h2: Http2Connection | undefined;
    /** Set when the timeout or the signal won: whatever opens later is closed at once. */
    let given = false;
    const giveUp = () => {
      given = true;
      if (h2) h2.close("connecting was given up");
      else {
        try {
          conn?.close();
        } catch {
          // already closed
        }
      }
    };
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(
        () => reject(new Http2ConnectionError(`connecting timed out after ${options.connectTimeoutMs} ms`)),
        options.connectTimeoutMs,
      );
    });
    let abort: (() => void) | undefined;
    const aborted = new Promise<never>((_, reject) => {
      abort = () => reject(new Http2ConnectionError("connecting was aborted"));
      if (options.signal?.aborted) abort();
      options.signal?.addEventListener("abort", abort, { once: true });
    });
    const open = async () => {
      const tls = options.tls;
      const c = tls
        ? await Deno.connectTls({
          hostname: options.host,
          port: options.port,
          caCerts: tls.caCerts,
          alpnProtocols: ["h2"],
          ...(tls.cert !== undefined && tls.key !== undefined ? { cert: tls.cert, key: tls.key } : {}),
        })
        : await Deno.connect({ hostname: options.host, port: options.port });
      conn = c;
      if (given) throw new Http2ConnectionError("connecting was given up");
      if (!tls) (c as Deno.TcpConn).setNoDelay(true);
      else {
        const hs = await (c as Deno.TlsConn).handshake();
        if (hs.alpnProtocol !== null && hs.alpnProtocol !== "h2") {
          throw new Http2ConnectionError(`the server chose ${hs.alpnProtocol} instead of HTTP/2`);
        }
      }
      h2 = new Http2Connection(c, options);
      if (given) throw new Http2ConnectionError("connecting was given up");
      await h2.#start();
      return h2;
    };
    try {
      return await Promise.race([open(), timeout, aborted]);
    } catch (e) {
      giveUp();
      if (e instanceof Http2ConnectionError) throw e;
      throw new Http2ConnectionError((e as Error).message ?? String(e));
    } finally {
      clearTimeout(timer);
      if (abort) options.signal?.removeEventListener("abort", abort);
    }
  }

  async #start(): Promise<void> {
    const seen = new Promise<void>((resolve) => (this.#settingsSeen = resolve));
    const settings = new Uint8Array(18);
    const dv = new DataView(settings.buffer);
    dv.setUint16(0, 0x2); // ENABLE_PUSH
    dv.setUint32(2, 0);
    dv.setUint16(6, 0x4); // INITIAL_WINDOW_SIZE
    dv.setUint32(8, this.#options.windowBytes);
    dv.setUint16(12, 0x5); // MAX_FRAME_SIZE
    dv.setUint32(14, MAX_FRAME_IN);
    this.#send(
      PREFACE,
      frame(SETTINGS, 0, 0, settings),
      frame(WINDOW_UPDATE, 0, 0, u32(this.#connWindow - 65535)),
    );
    const ended = new Promise<never>((_, reject) => {
      this.onClose((reason) => reject(new Http2ConnectionError(reason)));
    });
    this.#readLoop();
    await Promise.race([seen, ended]);
  }

  /** Whether new streams can be opened (not closed, no GOAWAY, below the server's stream limit). */
  get usable(): boolean {
    return !this.#closed && !this.#goaway && this.#streams.size < this.#peerMaxStreams;
  }

  /** Number of open streams. */
  get streams(): number {
    return this.#streams.size;
  }

  /** Calls `cb` once when the connection closes, with the reason. */
  onClose(cb: (reason: string) => void): void {
    if (this.#closed) cb(this.#failure ?? "the connection was closed");
    else this.#onClose.add(cb);
  }

  /**
   * Opens a stream with a request header block.
   *
   * @param headers Request headers, pseudo-headers first, names in lower case.
   * @param handler Receives the response.
   * @param endStream Whether the request has no body.
   * @returns The stream.
   */
  request(headers: [string, string][], handler: StreamHandler, endStream = false): Http2Stream {
    if (!this.usable) throw new Http2ConnectionError(this.#failure ?? "the connection takes no new streams");
    const id = this.#nextId;
    this.#nextId += 2;
    const s = new Http2Stream(this, id, handler, this.#options.windowBytes, this.#peerInitialWindow);
    this.#streams.set(id, s);
    // An idle connection does not keep the process alive (as grpc-js's); one with calls does.
    if (this.#streams.size === 1) this.#conn.ref();
    const block = encodeHeaders(headers);
    // One HEADERS frame, CONTINUATION for what does not fit the server's frame size.
    const parts: Uint8Array[] = [];
    for (let at = 0; at < block.length || at === 0; at += this.#peerMaxFrame) {
      const piece = block.subarray(at, Math.min(block.length, at + this.#peerMaxFrame));
      const last = at + this.#peerMaxFrame >= block.length;
      const type = at === 0 ? HEADERS : CONTINUATION;
      const flags = (last ? END_HEADERS : 0) | (at === 0 && endStream ? END_STREAM : 0);
      parts.push(frame(type, flags, id, piece));
      if (block.length === 0) break;
    }
    if (endStream) s.localEnded = true;
    this.#send(...parts);
    this.#armKeepalive();
    return s;
  }

  /** @ignore Sends what a stream has queued, as far as the send windows allow. */
  flushStream(s: Http2Stream): void {
    while (s.queue.length > 0 && !s.closed) {
      const head = s.queue[0];
      const room = Math.min(s.sendWindow, this.#sendWindow, this.#peerMaxFrame);
      if (head.bytes.length > 0 && room <= 0) return;
      const n = Math.min(head.bytes.length, room);
      const last = n === head.bytes.length;
      this.#send(frame(DATA, last && head.end ? END_STREAM : 0, s.id, head.bytes.subarray(0, n)));
      s.sendWindow -= n;
      this.#sendWindow -= n;
      if (last) s.queue.shift();
      else head.bytes = head.bytes.subarray(n);
    }
  }

  /** @ignore Records `n` received bytes of a stream and returns credit as due. */
  credit(s: Http2Stream, n: number): void {
    s.owed += n;
    if (s.closed || s.paused) return;
    // Credit in steps of a quarter window: few WINDOW_UPDATE frames, and the window never runs dry.
    if (s.owed >= this.#options.windowBytes / 4 || (n === 0 && s.owed > 0)) {
      this.#send(frame(WINDOW_UPDATE, 0, s.id, u32(s.owed)));
      s.recvWindow += s.owed;
      s.owed = 0;
    }
  }

  /** @ignore Resets a stream from this side. */
  resetStream(s: Http2Stream, code: number): void {
    if (s.closed) return;
    this.#finish(s);
    if (!this.#closed) this.#send(frame(RST_STREAM, 0, s.id, u32(code)));
  }

  #finish(s: Http2Stream): void {
    s.closed = true;
    this.#streams.delete(s.id);
    if (this.#streams.size === 0) {
      this.#disarmKeepalive();
      if (this.#goaway) this.close();
      else this.#conn.unref();
    }
  }

  /** Closes the connection; open streams end with `reason`. Safe to call twice. */
  close(reason = "the connection was closed"): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#failure ??= reason;
    this.#disarmKeepalive();
    try {
      this.#conn.close();
    } catch {
      // already closed
    }
    const streams = [...this.#streams.values()];
    this.#streams.clear();
    for (const s of streams) {
      s.closed = true;
      s.handler.onReset(undefined, this.#failure);
    }
    for (const cb of this.#onClose) cb(this.#failure);
    this.#onClose.clear();
  }

  /** Fails the connection for a protocol error: GOAWAY, then close. */
  #protocolError(code: number, why: string): void {
    if (this.#closed) return;
    const lastSeen = 0;
    this.#send(frame(GOAWAY, 0, 0, u32(lastSeen, code)));
    this.#failure = `HTTP/2 protocol error: ${why}`;
    // Let the GOAWAY go out first.
    queueMicrotask(() => this.close(this.#failure));
  }

  // ---- writing ----

  #send(...frames: Uint8Array[]): void {
    if (this.#closed) return;
    this.#out.push(...frames);
    if (!this.#writing) this.#writeLoop();
  }

  async #writeLoop(): Promise<void> {
    this.#writing = true;
    try {
      while (this.#out.length > 0 && !this.#closed) {
        const parts = this.#out;
        this.#out = [];
        let n = 0;
        for (const p of parts) n += p.length;
        const all = parts.length === 1 ? parts[0] : new Uint8Array(n);
        if (parts.length > 1) {
          let at = 0;
          for (const p of parts) {
            all.set(p, at);
            at += p.length;
          }
        }
        for (let w = 0; w < all.length;) w += await this.#conn.write(all.subarray(w));
      }
    } catch (e) {
      this.close(`writing to the server failed: ${(e as Error).message}`);
    } finally {
      this.#writing = false;
    }
  }

  // ---- keep-alive ----

  #armKeepalive(): void {
    if (this.#keepalive !== undefined || this.#closed) return;
    this.#keepalive = setInterval(() => {
      if (this.#pingDeadline !== undefined) return;
      this.#send(frame(PING, 0, 0, new Uint8Array(8)));
      this.#pingDeadline = setTimeout(() => {
        this.close(
          `the server did not answer a keep-alive ping within ${this.#options.keepaliveTimeoutMs} ms`,
        );
      }, this.#options.keepaliveTimeoutMs);
      Deno.unrefTimer(this.#pingDeadline as unknown as number);
    }, this.#options.keepaliveTimeMs);
    Deno.unrefTimer(this.#keepalive as unknown as number);
  }

  #disarmKeepalive(): void {
    clearInterval(this.#keepalive);
    clearTimeout(this.#pingDeadline);
    this.#keepalive = undefined;
    this.#pingDeadline = undefined;
  }

  // ---- reading ----

  async #readLoop(): Promise<void> {
    const buf = new Uint8Array(READ_BYTES);
    const head = new Uint8Array(9);
    let headGot = 0;
    // The frame being read.
    let inFrame = false, length = 0, type = 0, flags = 0, id = 0, got = 0;
    let payload: Uint8Array | undefined; // non-DATA frames (and padded DATA) are collected whole
    let stream: Http2Stream | undefined;
    try {
      while (!this.#closed) {
        const n = await this.#conn.read(buf);
        if (n === null) {
          this.close(this.#goaway ? "the server closed the connection" : "the server closed the connection");
          return;
        }
        let at = 0;
        while (at < n && !this.#closed) {
          if (!inFrame) {
            const take = Math.min(9 - headGot, n - at);
            head.set(buf.subarray(at, at + take), headGot);
            headGot += take;
            at += take;
            if (headGot < 9) break;
            headGot = 0;
            length = (head[0] << 16) | (head[1] << 8) | head[2];
            type = head[3];
            flags = head[4];
            id = ((head[5] & 0x7f) << 24) | (head[6] << 16) | (head[7] << 8) | head[8];
            got = 0;
            if (length > MAX_FRAME_IN) {
              return this.#protocolError(H2Error.FRAME_SIZE_ERROR, "frame too large");
            }
            stream = id !== 0 ? this.#streams.get(id) : undefined;
            payload = type === DATA && !(flags & PADDED) ? undefined : new Uint8Array(length);
            if (type === DATA) {
              this.#receiveFlow(stream, length);
              if (!this.#closed && length === 0 && !(flags & PADDED)) this.#dataEnd(stream, flags);
              if (this.#closed) return;
            }
            inFrame = length > 0;
            if (!inFrame && type !== DATA) this.#frame(type, flags, id, payload!);
            if (!inFrame) stream = payload = undefined;
            continue;
          }
          const take = Math.min(length - got, n - at);
          if (payload) payload.set(buf.subarray(at, at + take), got);
          else if (stream && !stream.closed) stream.handler.onData(buf, at, at + take);
          at += take;
          got += take;
          if (got === length) {
            inFrame = false;
            if (type === DATA) {
              if (payload) {
                // Padded DATA: the pad length, the data, the padding.
                const pad = payload[0];
                if (pad >= length) return this.#protocolError(H2Error.PROTOCOL_ERROR, "padding too long");
                if (stream && !stream.closed) stream.handler.onData(payload, 1, length - pad);
              }
              this.#dataEnd(stream, flags);
            } else this.#frame(type, flags, id, payload!);
            // Hold nothing of a finished frame while waiting for the next read (a stream's handler can
            // hold a whole table).
            stream = payload = undefined;
          }
        }
      }
    } catch (e) {
      if (e instanceof HpackError) {
        this.#protocolError(H2Error.COMPRESSION_ERROR, e.message);
        return;
      }
      this.close(
        this.#closed
          ? "the connection was closed"
          : `reading from the server failed: ${(e as Error).message}`,
      );
    }
  }

  /** Flow control of a received DATA frame of `length` bytes (before its payload is delivered). */
  #receiveFlow(stream: Http2Stream | undefined, length: number): void {
    // The connection's credit comes back at once: what is buffered is bounded by the streams' windows.
    this.#connOwed += length;
    if (this.#connOwed >= this.#connWindow / 4) {
      this.#send(frame(WINDOW_UPDATE, 0, 0, u32(this.#connOwed)));
      this.#connOwed = 0;
    }
    if (!stream || stream.closed) return;
    stream.recvWindow -= length;
    if (stream.recvWindow < 0) {
      this.resetStream(stream, H2Error.FLOW_CONTROL_ERROR);
      stream.handler.onReset(H2Error.FLOW_CONTROL_ERROR, "the server sent more than the stream window");
      return;
    }
    this.credit(stream, length);
  }

  #dataEnd(stream: Http2Stream | undefined, flags: number): void {
    if (!(flags & END_STREAM) || !stream || stream.closed) return;
    this.#finish(stream);
    stream.handler.onEnd();
  }

  #frame(type: number, flags: number, id: number, p: Uint8Array): void {
    switch (type) {
      case HEADERS:
      case CONTINUATION:
        return this.#headers(type, flags, id, p);
      case SETTINGS:
        return this.#settings(flags, p);
      case PING:
        if (id !== 0 || p.length !== 8) return this.#protocolError(H2Error.PROTOCOL_ERROR, "bad PING");
        if (flags & ACK) {
          clearTimeout(this.#pingDeadline);
          this.#pingDeadline = undefined;
        } else this.#send(frame(PING, ACK, 0, p));
        return;
      case WINDOW_UPDATE: {
        if (p.length !== 4) return this.#protocolError(H2Error.FRAME_SIZE_ERROR, "bad WINDOW_UPDATE");
        const inc = new DataView(p.buffer, p.byteOffset).getUint32(0) & 0x7fffffff;
        if (id === 0) {
          this.#sendWindow += inc;
          for (const s of this.#streams.values()) this.flushStream(s);
        } else {
          const s = this.#streams.get(id);
          if (s) {
            s.sendWindow += inc;
            this.flushStream(s);
          }
        }
        return;
      }
      case RST_STREAM: {
        const s = this.#streams.get(id);
        if (!s || p.length !== 4) return;
        const code = new DataView(p.buffer, p.byteOffset).getUint32(0);
        this.#finish(s);
        s.handler.onReset(code, `the server reset the stream (HTTP/2 error ${code})`);
        return;
      }
      case GOAWAY: {
        if (p.length < 8) return this.#protocolError(H2Error.FRAME_SIZE_ERROR, "bad GOAWAY");
        const dv = new DataView(p.buffer, p.byteOffset);
        const last = dv.getUint32(0) & 0x7fffffff, code = dv.getUint32(4);
        this.#goaway = true;
        this.#failure = `the server is closing the connection (GOAWAY, HTTP/2 error ${code})`;
        for (const s of [...this.#streams.values()]) {
          if (s.id > last) {
            this.#finish(s);
            s.handler.onReset(
              H2Error.REFUSED_STREAM,
              "the server closed the connection before the call started",
            );
          }
        }
        if (this.#streams.size === 0) this.close(this.#failure);
        return;
      }
      case PUSH_PROMISE:
        return this.#protocolError(H2Error.PROTOCOL_ERROR, "PUSH_PROMISE with push disabled");
      case PRIORITY:
      default:
        return; // ignored (unknown frame types must be ignored)
    }
  }

  #settings(flags: number, p: Uint8Array): void {
    if (flags & ACK) return;
    if (p.length % 6 !== 0) return this.#protocolError(H2Error.FRAME_SIZE_ERROR, "bad SETTINGS");
    const dv = new DataView(p.buffer, p.byteOffset, p.byteLength);
    for (let at = 0; at < p.length; at += 6) {
      const key = dv.getUint16(at), value = dv.getUint32(at + 2);
      if (key === 0x3) this.#peerMaxStreams = value;
      else if (key === 0x4) {
        if (value > 0x7fffffff) return this.#protocolError(H2Error.FLOW_CONTROL_ERROR, "window too large");
        const delta = value - this.#peerInitialWindow;
        this.#peerInitialWindow = value;
        for (const s of this.#streams.values()) s.sendWindow += delta;
      } else if (key === 0x5) {
        if (value < 16384 || value > MAX_FRAME_IN) {
          return this.#protocolError(H2Error.PROTOCOL_ERROR, "bad frame size");
        }
        this.#peerMaxFrame = value;
      }
      // HEADER_TABLE_SIZE: the encoder never indexes, so any size is fine. Others do not matter here.
    }
    this.#send(frame(SETTINGS, ACK, 0));
    for (const s of this.#streams.values()) this.flushStream(s);
    this.#settingsSeen();
  }

  #headers(type: number, flags: number, id: number, p: Uint8Array): void {
    // Header blocks must be decoded even for streams that are gone, to keep the HPACK table in step.
    let s = this.#streams.get(id);
    const collecting = this.#collecting;
    if (type === CONTINUATION) {
      if (!collecting || collecting.id !== id) {
        return this.#protocolError(H2Error.PROTOCOL_ERROR, "unexpected CONTINUATION");
      }
    } else {
      if (collecting) return this.#protocolError(H2Error.PROTOCOL_ERROR, "HEADERS inside a header block");
      let at = 0, end = p.length;
      if (flags & PADDED) {
        const pad = p[0];
        at = 1;
        end -= pad;
      }
      if (flags & PRIORITY_FLAG) at += 5;
      if (at > end) return this.#protocolError(H2Error.PROTOCOL_ERROR, "bad HEADERS padding");
      p = p.subarray(at, end);
      this.#collecting = { id, parts: [], bytes: 0, endStream: (flags & END_STREAM) !== 0 };
    }
    const c = this.#collecting!;
    c.parts.push(p);
    c.bytes += p.length;
    if (c.bytes > MAX_HEADER_BLOCK) {
      return this.#protocolError(H2Error.ENHANCE_YOUR_CALM, "header block too large");
    }
    if (!(flags & END_HEADERS)) return;
    this.#collecting = undefined;
    const block = c.parts.length === 1 ? c.parts[0] : concat(c.parts, c.bytes);
    const fields = this.#decoder.decode(block);
    s = this.#streams.get(id);
    if (!s || s.closed) return;
    if (c.endStream) this.#finish(s);
    s.handler.onHeaders(fields, c.endStream);
  }

  #collecting: { id: number; parts: Uint8Array[]; bytes: number; endStream: boolean } | undefined;
}

function concat(parts: Uint8Array[], n: number): Uint8Array {
  const out = new Uint8Array(n);
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}
