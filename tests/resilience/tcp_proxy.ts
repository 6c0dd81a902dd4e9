/**
 * A loopback TCP proxy for fault tests: it listens on 127.0.0.1 and pipes every connection to a target
 * port. Forwarding can be paused (bytes stop flowing both ways but the connections stay open, as when a
 * network path goes dark), every connection can be killed, and the proxy can stop and start accepting
 * connections on the same port (as when a host is unreachable, then back).
 *
 * @example Usage
 * ```ts ignore
 * const proxy = TcpProxy.start(10000);
 * const session = await Session.connect({ host: "127.0.0.1", port: proxy.port });
 * proxy.pause(); // ... later proxy.resume();
 * proxy.killAll();
 * proxy.close();
 * ```
 *
 * @module
 */

interface Pair {
  client: Deno.Conn;
  upstream: Deno.Conn | undefined;
  closed: boolean;
}

/** A TCP proxy on 127.0.0.1 in front of one target port. */
export class TcpProxy {
  /** The port the proxy listens on (the same after {@linkcode TcpProxy.stopAccepting} and a restart). */
  readonly port: number;
  readonly #target: number;
  #listener: Deno.Listener | undefined;
  readonly #pairs = new Set<Pair>();
  #paused = false;
  #resume: Promise<void> = Promise.resolve();
  #release: () => void = () => {};
  /** Connections accepted since the start. */
  accepted = 0;
  /** Bytes forwarded from the clients to the target, and back. */
  bytesUp = 0;
  bytesDown = 0;

  private constructor(target: number, listener: Deno.Listener) {
    this.#target = target;
    this.#listener = listener;
    this.port = (listener.addr as Deno.NetAddr).port;
    this.#accept(listener);
  }

  /**
   * Starts a proxy to `127.0.0.1:targetPort`.
   *
   * @param targetPort The port to forward to.
   * @param port The port to listen on (default: a free one).
   * @returns The running proxy.
   */
  static start(targetPort: number, port = 0): TcpProxy {
    return new TcpProxy(targetPort, Deno.listen({ hostname: "127.0.0.1", port }));
  }

  /** Connections open now. */
  get connections(): number {
    return this.#pairs.size;
  }

  /** Whether forwarding is paused. */
  get paused(): boolean {
    return this.#paused;
  }

  /** Whether the proxy accepts new connections. */
  get accepting(): boolean {
    return this.#listener !== undefined;
  }

  async #accept(listener: Deno.Listener): Promise<void> {
    while (true) {
      let client: Deno.Conn;
      try {
        client = await listener.accept();
      } catch {
        return; // the listener was closed
      }
      this.accepted++;
      const pair: Pair = { client, upstream: undefined, closed: false };
      this.#pairs.add(pair);
      this.#connect(pair);
    }
  }

  async #connect(pair: Pair): Promise<void> {
    try {
      pair.upstream = await Deno.connect({ hostname: "127.0.0.1", port: this.#target });
    } catch {
      this.#closePair(pair);
      return;
    }
    if (pair.closed) {
      this.#closePair(pair);
      return;
    }
    await Promise.all([
      this.#pipe(pair, pair.client, pair.upstream, (n) => (this.bytesUp += n)),
      this.#pipe(pair, pair.upstream, pair.client, (n) => (this.bytesDown += n)),
    ]);
    this.#closePair(pair);
  }

  /** Copies `from` to `to` until either side ends, waiting while the proxy is paused. */
  async #pipe(pair: Pair, from: Deno.Conn, to: Deno.Conn, count: (n: number) => void): Promise<void> {
    const buf = new Uint8Array(64 * 1024);
    try {
      while (!pair.closed) {
        await this.#resume;
        const n = await from.read(buf);
        if (n === null) break;
        await this.#resume; // bytes read just before a pause are held until the resume
        let off = 0;
        while (off < n) off += await to.write(buf.subarray(off, n));
        count(n);
      }
    } catch {
      // a side was closed or reset
    }
    this.#closePair(pair);
  }

  #closePair(pair: Pair): void {
    if (!pair.closed) pair.closed = true;
    for (const c of [pair.client, pair.upstream]) {
      try {
        c?.close();
      } catch {
        // already closed
      }
    }
    this.#pairs.delete(pair);
  }

  /** Stops forwarding in both directions; connections stay open and bytes wait (in the kernel, then TCP). */
  pause(): void {
    if (this.#paused) return;
    this.#paused = true;
    this.#resume = new Promise((r) => (this.#release = r));
  }

  /** Forwards again what waited and what comes next. */
  resume(): void {
    if (!this.#paused) return;
    this.#paused = false;
    this.#release();
  }

  /** Closes every open connection, both sides (the peers see the connection end). */
  killAll(): void {
    for (const p of [...this.#pairs]) this.#closePair(p);
  }

  /** Closes the listening socket: new connections are refused until {@linkcode TcpProxy.startAccepting}. */
  stopAccepting(): void {
    try {
      this.#listener?.close();
    } catch {
      // already closed
    }
    this.#listener = undefined;
  }

  /** Listens again, on the same port. */
  startAccepting(): void {
    if (this.#listener) return;
    const l = Deno.listen({ hostname: "127.0.0.1", port: this.port });
    this.#listener = l;
    this.#accept(l);
  }

  /** Stops accepting, kills every connection and releases paused pipes. */
  close(): void {
    this.stopAccepting();
    this.killAll();
    this.resume();
  }
}
