/**
 * A loopback proxy that reads the HTTP/2 frames passing through it (cleartext gRPC), so that a test can reset
 * one stream while its connection, and every other call on it, goes on: the client gets `RST_STREAM` with
 * `REFUSED_STREAM` (grpc-js reports `UNAVAILABLE`, as for a stream a server or a proxy dropped), the server
 * gets `RST_STREAM` with `CANCEL`. Frames of the reset stream that are still on their way are dropped, except
 * header blocks, which both ends must decode to keep their header compression state; the bytes of dropped
 * data frames are given back to the sender's connection flow-control window.
 *
 * @example Usage
 * ```ts ignore
 * const proxy = H2Proxy.start(server.port);
 * const bs = await barrageSession({ host: "127.0.0.1", port: proxy.port });
 * const live = await bs.subscribe(ticket);
 * const busiest = proxy.openStreams().sort((a, b) => b.bytesDown - a.bytesDown)[0];
 * proxy.refuse(busiest); // the subscription's stream fails with UNAVAILABLE; the session is fine
 * proxy.close();
 * ```
 *
 * @module
 */

const PREFACE_LENGTH = 24; // "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"
const DATA = 0, HEADERS = 1, RST_STREAM = 3, WINDOW_UPDATE = 8, CONTINUATION = 9;
const END_STREAM = 0x1;
const REFUSED_STREAM = 0x7, CANCEL = 0x8;

/** An open stream of a proxied connection. */
export interface ProxiedStream {
  /** The connection's number (in order of acceptance). */
  connection: number;
  /** The HTTP/2 stream id. */
  id: number;
  /** Bytes of DATA frames the server sent on it so far. */
  bytesDown: number;
}

interface StreamState extends ProxiedStream {
  clientEnded: boolean;
  serverEnded: boolean;
}

/** Writes whole frames to one side in order; injected frames go between them. */
class FrameWriter {
  #chain: Promise<void> = Promise.resolve();
  constructor(readonly conn: Deno.Conn) {}

  write(bytes: Uint8Array): Promise<void> {
    this.#chain = this.#chain.then(async () => {
      let off = 0;
      while (off < bytes.length) off += await this.conn.write(bytes.subarray(off));
    }).catch(() => {});
    return this.#chain;
  }
}

function frame(type: number, flags: number, id: number, payload: Uint8Array): Uint8Array {
  const f = new Uint8Array(9 + payload.length);
  f[0] = payload.length >>> 16;
  f[1] = (payload.length >>> 8) & 0xff;
  f[2] = payload.length & 0xff;
  f[3] = type;
  f[4] = flags;
  new DataView(f.buffer).setUint32(5, id & 0x7fffffff);
  f.set(payload, 9);
  return f;
}

function u32(n: number): Uint8Array {
  const b = new Uint8Array(4);
  new DataView(b.buffer).setUint32(0, n);
  return b;
}

class Connection {
  readonly streams = new Map<number, StreamState>();
  readonly refused = new Set<number>();
  toClient!: FrameWriter;
  toServer!: FrameWriter;
  upstream: Deno.Conn | undefined;
  closed = false;

  constructor(readonly number: number, readonly client: Deno.Conn) {}

  /** Splits `buf` into whole frames; returns the frames and the bytes left over. */
  static frames(buf: Uint8Array): { frames: Uint8Array[]; rest: Uint8Array } {
    const frames: Uint8Array[] = [];
    let at = 0;
    while (buf.length - at >= 9) {
      const len = (buf[at] << 16) | (buf[at + 1] << 8) | buf[at + 2];
      if (buf.length - at < 9 + len) break;
      frames.push(buf.subarray(at, at + 9 + len));
      at += 9 + len;
    }
    return { frames, rest: buf.slice(at) };
  }

  /**
   * Whether to forward a frame of a reset stream: header blocks yes (both ends must decode them to keep their
   * header compression state), data no (its bytes are given back to the sender's connection window).
   */
  #keepRefused(f: Uint8Array, sender: FrameWriter): boolean {
    const type = f[3];
    if (type === DATA) {
      if (f.length > 9) sender.write(frame(WINDOW_UPDATE, 0, 0, u32(f.length - 9)));
      return false;
    }
    return type === HEADERS || type === CONTINUATION;
  }

  /** What to do with one frame from the client (`true`: forward it). */
  fromClient(f: Uint8Array): boolean {
    const type = f[3], flags = f[4];
    const id = new DataView(f.buffer, f.byteOffset).getUint32(5) & 0x7fffffff;
    if (id === 0) return true;
    if (this.refused.has(id)) return this.#keepRefused(f, this.toClient);
    if (type === HEADERS && !this.streams.has(id)) {
      this.streams.set(id, {
        connection: this.number,
        id,
        bytesDown: 0,
        clientEnded: false,
        serverEnded: false,
      });
    }
    const s = this.streams.get(id);
    if (s && type === RST_STREAM) this.streams.delete(id);
    else if (s && (type === DATA || type === HEADERS) && flags & END_STREAM) {
      s.clientEnded = true;
      if (s.serverEnded) this.streams.delete(id);
    }
    return true;
  }

  /** What to do with one frame from the server (`true`: forward it). */
  fromServer(f: Uint8Array): boolean {
    const type = f[3], flags = f[4];
    const id = new DataView(f.buffer, f.byteOffset).getUint32(5) & 0x7fffffff;
    if (id === 0) return true;
    if (this.refused.has(id)) return this.#keepRefused(f, this.toServer);
    const s = this.streams.get(id);
    if (!s) return true;
    if (type === DATA) s.bytesDown += f.length - 9;
    if (type === RST_STREAM) this.streams.delete(id);
    else if ((type === DATA || type === HEADERS) && flags & END_STREAM) {
      s.serverEnded = true;
      if (s.clientEnded) this.streams.delete(id);
    }
    return true;
  }

  refuse(id: number): void {
    this.streams.delete(id);
    this.refused.add(id);
    this.toClient.write(frame(RST_STREAM, 0, id, u32(REFUSED_STREAM)));
    this.toServer.write(frame(RST_STREAM, 0, id, u32(CANCEL)));
  }

  close(): void {
    this.closed = true;
    for (const c of [this.client, this.upstream]) {
      try {
        c?.close();
      } catch {
        // already closed
      }
    }
  }
}

/** A frame-reading HTTP/2 proxy on 127.0.0.1 in front of one target port (see the module documentation). */
export class H2Proxy {
  /** The port the proxy listens on. */
  readonly port: number;
  readonly #target: number;
  readonly #listener: Deno.Listener;
  readonly #connections = new Set<Connection>();
  #accepted = 0;

  private constructor(target: number, listener: Deno.Listener) {
    this.#target = target;
    this.#listener = listener;
    this.port = (listener.addr as Deno.NetAddr).port;
    this.#accept();
  }

  /**
   * Starts a proxy to `127.0.0.1:targetPort`.
   *
   * @param targetPort The port to forward to.
   * @returns The running proxy.
   */
  static start(targetPort: number): H2Proxy {
    return new H2Proxy(targetPort, Deno.listen({ hostname: "127.0.0.1", port: 0 }));
  }

  /** Connections accepted so far. */
  get accepted(): number {
    return this.#accepted;
  }

  /** The streams open now: opened by the client, not yet ended both ways nor reset. */
  openStreams(): ProxiedStream[] {
    const out: ProxiedStream[] = [];
    for (const c of this.#connections) {
      for (const s of c.streams.values()) {
        out.push({ connection: s.connection, id: s.id, bytesDown: s.bytesDown });
      }
    }
    return out;
  }

  /**
   * Resets one stream: `REFUSED_STREAM` to the client, `CANCEL` to the server; the connection stays open.
   *
   * @param stream A stream from {@linkcode H2Proxy.openStreams}.
   */
  refuse(stream: ProxiedStream): void {
    for (const c of this.#connections) if (c.number === stream.connection) c.refuse(stream.id);
  }

  async #accept(): Promise<void> {
    while (true) {
      let client: Deno.Conn;
      try {
        client = await this.#listener.accept();
      } catch {
        return; // the listener was closed
      }
      const c = new Connection(++this.#accepted, client);
      this.#connections.add(c);
      this.#run(c);
    }
  }

  async #run(c: Connection): Promise<void> {
    try {
      c.upstream = await Deno.connect({ hostname: "127.0.0.1", port: this.#target });
    } catch {
      c.close();
      this.#connections.delete(c);
      return;
    }
    c.toClient = new FrameWriter(c.client);
    c.toServer = new FrameWriter(c.upstream);
    await Promise.all([
      this.#pump(c, c.client, c.toServer, PREFACE_LENGTH, (f) => c.fromClient(f)),
      this.#pump(c, c.upstream, c.toClient, 0, (f) => c.fromServer(f)),
    ]);
    this.#connections.delete(c);
  }

  /** Reads frames from one side and forwards those that `keep` lets through. */
  async #pump(
    c: Connection,
    from: Deno.Conn,
    to: FrameWriter,
    preface: number,
    keep: (frame: Uint8Array) => boolean,
  ): Promise<void> {
    const buf = new Uint8Array(64 * 1024);
    let pending: Uint8Array = new Uint8Array(0);
    let skip = preface;
    try {
      while (!c.closed) {
        const n = await from.read(buf);
        if (n === null) break;
        let bytes = buf.subarray(0, n);
        if (skip > 0) {
          const k = Math.min(skip, bytes.length);
          await to.write(bytes.slice(0, k));
          skip -= k;
          bytes = bytes.subarray(k);
        }
        const all = new Uint8Array(pending.length + bytes.length);
        all.set(pending);
        all.set(bytes, pending.length);
        const { frames, rest } = Connection.frames(all);
        pending = rest;
        const out = frames.filter(keep);
        if (out.length > 0) {
          const joined = new Uint8Array(out.reduce((t, f) => t + f.length, 0));
          let at = 0;
          for (const f of out) {
            joined.set(f, at);
            at += f.length;
          }
          await to.write(joined);
        }
      }
    } catch {
      // a side was closed or reset
    }
    c.close();
  }

  /** Stops accepting and closes every connection. */
  close(): void {
    try {
      this.#listener.close();
    } catch {
      // already closed
    }
    for (const c of this.#connections) c.close();
    this.#connections.clear();
  }
}
