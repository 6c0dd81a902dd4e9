/**
 * The seam between display code and the Deno Jupyter kernel: publishing
 * iopub messages, and knowing when they have left the kernel.
 *
 * Two defects of the Deno 2.9 kernel (the JavaScript kernel that came with
 * Deno 2.8.2) are worked around here, so that notebooks need no pauses:
 *
 * - **Stalled event loop.** A `.then()`/`.catch()` attached directly to the
 *   promise of `Deno.jupyter.broadcast()` inside a timer callback parks the
 *   REPL thread's event loop: timers stop firing until some I/O arrives, for
 *   5–30 s (measured on 2.9.3; a live table, its derived tables and its
 *   plot then stop ticking). {@linkcode KernelIo.publish} therefore awaits
 *   the broadcast inside an async function, the one form that never stalls.
 * - **Late outputs.** The kernel publishes user messages from a queue that
 *   its main thread drains, while it sends `execute_reply` and
 *   `status: idle` directly. Messages sent just before a cell ends can reach
 *   the frontend after `idle`, and headless runners (nbclient, nbconvert)
 *   then drop them. {@linkcode KernelIo.flush} waits until everything
 *   published so far has left the kernel: it subscribes to the kernel's
 *   iopub socket itself (ZMTP 3.0, the kernel's connection file named on
 *   its command line), publishes a marker (an `update_display_data` for a
 *   display id nobody has, which frontends ignore) and waits until the
 *   marker comes back. Where the socket cannot be reached it waits a short
 *   fixed time instead.
 *
 * @module
 */

/** One iopub message's content, as `Deno.jupyter.broadcast` takes it. */
export type IopubContent = Record<string, unknown>;

/** Publishing to the notebook frontend, inside a Deno Jupyter kernel. */
export interface KernelIo {
  /** Publishes one iopub message (`display_data`, `update_display_data`). Never throws. */
  publish(msgType: string, content: IopubContent): Promise<void>;
  /**
   * Resolves once every message published before the call has left the
   * kernel (or after `timeoutMs`, default 3000, whichever comes first).
   */
  flush(timeoutMs?: number): Promise<void>;
  /** The kernel's own MIME bundle of any value (what it would show for a cell's value). */
  format(value: unknown): Promise<Record<string, unknown>>;
}

interface DenoJupyter {
  broadcast(msgType: string, content: IopubContent): Promise<void>;
  format?(value: unknown): Promise<Record<string, unknown>> | Record<string, unknown>;
}

function denoJupyter(): DenoJupyter | undefined {
  try {
    // deno-lint-ignore no-explicit-any
    const j = (Deno as any).jupyter as DenoJupyter | undefined;
    return j && typeof j.broadcast === "function" ? j : undefined;
  } catch {
    return undefined;
  }
}

let cached: KernelIo | null | undefined;

/**
 * The kernel seam when running inside a Deno Jupyter kernel, else `undefined`
 * (plain `deno run`, `deno test`).
 */
export function kernelIo(): KernelIo | undefined {
  if (cached !== undefined) return cached ?? undefined;
  const j = denoJupyter();
  cached = j ? new DenoKernelIo(j) : null;
  return cached ?? undefined;
}

/** The display id prefix of flush markers: no output ever has it, so frontends ignore the updates. */
export const FLUSH_MARKER_PREFIX = "deephaven-flush-";
/** How long {@linkcode KernelIo.flush} waits where the iopub socket cannot be watched. */
const FALLBACK_SETTLE_MS = 50;

class DenoKernelIo implements KernelIo {
  readonly #j: DenoJupyter;
  #watcher: Promise<IopubWatcher | undefined> | undefined;

  constructor(j: DenoJupyter) {
    this.#j = j;
  }

  async publish(msgType: string, content: IopubContent): Promise<void> {
    try {
      // Awaited here, never chained with .then/.catch: see the module doc.
      await this.#j.broadcast(msgType, content);
    } catch {
      // The frontend is gone or the message was refused; display is best effort.
    }
  }

  async format(value: unknown): Promise<Record<string, unknown>> {
    if (typeof value === "string") return { "text/plain": value };
    try {
      if (this.#j.format) return await this.#j.format(value);
    } catch {
      // fall through to plain text
    }
    return { "text/plain": Deno.inspect(value, { colors: false }) };
  }

  async flush(timeoutMs = 3000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    this.#watcher ??= IopubWatcher.open((t, c) => this.publish(t, c));
    const watcher = await this.#watcher;
    if (!watcher) {
      await delay(FALLBACK_SETTLE_MS);
      return;
    }
    await watcher.barrier(deadline);
  }
}

function delay(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, Math.max(0, ms)));
}

/** The kernel's connection file, from the process's command line (`deno jupyter --kernel --conn FILE`). */
function connectionInfo(): { ip: string; iopub_port: number; transport?: string } | undefined {
  try {
    const argv = Deno.readTextFileSync("/proc/self/cmdline").split("\0");
    const i = argv.indexOf("--conn");
    if (i < 0 || !argv[i + 1]) return undefined;
    const info = JSON.parse(Deno.readTextFileSync(argv[i + 1]));
    if (typeof info.ip !== "string" || typeof info.iopub_port !== "number") return undefined;
    return info;
  } catch {
    return undefined;
  }
}

const ENC = new TextEncoder();
const DEC = new TextDecoder();

/** Our half of the ZMTP 3.0 handshake: greeting (NULL mechanism), READY as a SUB socket, subscribe to all. */
function subscriberHandshake(): Uint8Array {
  const greeting = new Uint8Array(64);
  greeting[0] = 0xff;
  greeting[9] = 0x7f;
  greeting[10] = 3;
  greeting.set(ENC.encode("NULL"), 12);
  const name = ENC.encode("READY"), prop = ENC.encode("Socket-Type"), value = ENC.encode("SUB");
  const body = new Uint8Array(1 + name.length + 1 + prop.length + 4 + value.length);
  let o = 0;
  body[o++] = name.length;
  body.set(name, o);
  o += name.length;
  body[o++] = prop.length;
  body.set(prop, o);
  o += prop.length;
  new DataView(body.buffer).setUint32(o, value.length);
  body.set(value, o + 4);
  const ready = new Uint8Array(2 + body.length);
  ready[0] = 0x04; // command frame, short
  ready[1] = body.length;
  ready.set(body, 2);
  const subscribe = Uint8Array.of(0x00, 1, 0x01); // a message frame: 0x01 + empty topic
  const out = new Uint8Array(greeting.length + ready.length + subscribe.length);
  out.set(greeting, 0);
  out.set(ready, greeting.length);
  out.set(subscribe, greeting.length + ready.length);
  return out;
}

/**
 * Reads the kernel's iopub socket and tells when flush markers come back.
 * Messages leave the kernel in the order they were published, so a marker
 * that came back means every message published before it has left too.
 */
class IopubWatcher {
  readonly #tag = crypto.randomUUID().slice(0, 8);
  #next = 0;
  /** Markers waiting to come back: sequence number → resolve. */
  readonly #pending = new Map<number, () => void>();
  readonly #publish: (msgType: string, content: IopubContent) => Promise<void>;

  private constructor(publish: (msgType: string, content: IopubContent) => Promise<void>) {
    this.#publish = publish;
  }

  /** Connects and waits until the kernel delivers to us; `undefined` where that is not possible. */
  static async open(
    publish: (msgType: string, content: IopubContent) => Promise<void>,
  ): Promise<IopubWatcher | undefined> {
    const info = connectionInfo();
    if (!info || (info.transport ?? "tcp") !== "tcp") return undefined;
    let conn: Deno.TcpConn;
    try {
      conn = await Deno.connect({ hostname: info.ip, port: info.iopub_port });
      conn.unref();
      await conn.write(subscriberHandshake());
    } catch {
      return undefined;
    }
    const w = new IopubWatcher(publish);
    w.#read(conn);
    // The kernel adds a subscriber once it has read its subscription, without telling it: send markers until
    // one comes back.
    const deadline = Date.now() + 3000;
    while (Date.now() < deadline) {
      if (await w.barrier(Math.min(deadline, Date.now() + 200))) return w;
    }
    try {
      conn.close();
    } catch {
      // already closed
    }
    return undefined;
  }

  /** Publishes a marker and waits until it comes back or the deadline passes; whether it came back. */
  async barrier(deadline: number): Promise<boolean> {
    const seq = this.#next++;
    let timer: ReturnType<typeof setTimeout> | undefined;
    const back = new Promise<boolean>((resolve) => {
      this.#pending.set(seq, () => resolve(true));
      timer = setTimeout(() => {
        this.#pending.delete(seq);
        resolve(false);
      }, Math.max(0, deadline - Date.now()));
    });
    await this.#publish("update_display_data", {
      data: { "text/plain": "" },
      metadata: {},
      transient: { display_id: `${FLUSH_MARKER_PREFIX}${this.#tag}-${seq}` },
    });
    const ok = await back;
    clearTimeout(timer);
    return ok;
  }

  #markerSeen(seq: number): void {
    for (const [s, resolve] of this.#pending) {
      if (s <= seq) {
        this.#pending.delete(s);
        resolve();
      }
    }
  }

  /** Parses ZMTP frames (after the 64-byte greeting) and looks for our markers in message frames. */
  async #read(conn: Deno.TcpConn): Promise<void> {
    const marker = `${FLUSH_MARKER_PREFIX}${this.#tag}-`;
    let buf = new Uint8Array(0);
    let greetingLeft = 64;
    const chunk = new Uint8Array(64 * 1024);
    try {
      while (true) {
        const n = await conn.read(chunk);
        if (n === null) return;
        const joined = new Uint8Array(buf.length + n);
        joined.set(buf, 0);
        joined.set(chunk.subarray(0, n), buf.length);
        buf = joined;
        let o = 0;
        if (greetingLeft > 0) {
          const skip = Math.min(greetingLeft, buf.length);
          greetingLeft -= skip;
          o = skip;
        }
        while (o < buf.length) {
          const flag = buf[o];
          const long = (flag & 0x02) !== 0;
          const head = long ? 9 : 2;
          if (buf.length - o < head) break;
          const size = long ? new DataView(buf.buffer, buf.byteOffset + o + 1, 8).getUint32(4) : buf[o + 1];
          if (buf.length - o < head + size) break;
          if ((flag & 0x04) === 0 && size > marker.length) {
            const text = DEC.decode(buf.subarray(o + head, o + head + size));
            const at = text.indexOf(marker);
            if (at >= 0) {
              const seq = parseInt(text.slice(at + marker.length), 10);
              if (Number.isFinite(seq)) this.#markerSeen(seq);
            }
          }
          o += head + size;
        }
        buf = buf.slice(o);
      }
    } catch {
      // the kernel is shutting down
    }
  }
}
