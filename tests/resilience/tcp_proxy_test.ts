/**
 * The fault-test TCP proxy against a local echo server: it forwards, holds bytes while paused, kills
 * connections, and refuses and accepts again on the same port.
 */

import assert from "node:assert/strict";
import { TcpProxy } from "./tcp_proxy.ts";

/** An echo server on 127.0.0.1. */
function echoServer(): { port: number; close: () => void } {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const conns = new Set<Deno.Conn>();
  (async () => {
    for await (const c of listener) {
      conns.add(c);
      (async () => {
        const buf = new Uint8Array(1024);
        try {
          while (true) {
            const n = await c.read(buf);
            if (n === null) break;
            await c.write(buf.subarray(0, n));
          }
        } catch {
          // closed
        }
        conns.delete(c);
        try {
          c.close();
        } catch {
          // closed
        }
      })();
    }
  })();
  return {
    port: (listener.addr as Deno.NetAddr).port,
    close: () => {
      listener.close();
      for (const c of conns) {
        try {
          c.close();
        } catch {
          // closed
        }
      }
    },
  };
}

async function readSome(c: Deno.Conn): Promise<string | null> {
  const buf = new Uint8Array(1024);
  const n = await c.read(buf);
  return n === null ? null : new TextDecoder().decode(buf.subarray(0, n));
}

Deno.test("tcp proxy: forwards, pauses, kills connections, refuses and accepts again", async () => {
  const echo = echoServer();
  const proxy = TcpProxy.start(echo.port);
  try {
    const c = await Deno.connect({ hostname: "127.0.0.1", port: proxy.port });
    await c.write(new TextEncoder().encode("hello"));
    assert.equal(await readSome(c), "hello");
    assert.equal(proxy.connections, 1);

    // Paused: the bytes wait; nothing comes back during the pause (the idle period is what is tested).
    proxy.pause();
    await c.write(new TextEncoder().encode("held"));
    const pending = readSome(c);
    const early = await Promise.race([pending, new Promise((r) => setTimeout(() => r("nothing"), 300))]);
    assert.equal(early, "nothing", "no bytes flow while paused");
    proxy.resume();
    assert.equal(await pending, "held", "the held bytes arrive after the resume");

    // Killed: the client sees the end of the connection.
    proxy.killAll();
    assert.equal(await readSome(c).catch(() => null), null);
    c.close();

    // Not accepting: connections are refused; accepting again on the same port works.
    proxy.stopAccepting();
    await assert.rejects(Deno.connect({ hostname: "127.0.0.1", port: proxy.port }));
    proxy.startAccepting();
    const d = await Deno.connect({ hostname: "127.0.0.1", port: proxy.port });
    await d.write(new TextEncoder().encode("again"));
    assert.equal(await readSome(d), "again");
    d.close();
    assert.equal(proxy.accepted, 2);
  } finally {
    proxy.close();
    echo.close();
  }
});
