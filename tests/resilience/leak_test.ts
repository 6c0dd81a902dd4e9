/**
 * Leaks: 100 subscribe/close cycles on one table leave nothing behind. On the server, the session's exports
 * (listed by `SessionService/ExportNotifications`, whose initial replay ends with export id 0) are the same
 * before and after. In the client, memory after full garbage collections (V8's `gc`, exposed at run time
 * through `node:v8`) stays flat: each cycle holds a 20,000-row table, so keeping even a tenth of them would
 * show.
 */

import assert from "node:assert/strict";
import { barrageSession, type Session, SharedTicket } from "../../mod.ts";
import { sessionCoreOf } from "../../src/session/session.ts";
import { rpc } from "../../src/transport/rpc.ts";
import { SessionService } from "../../src/generated/proto/deephaven_core/proto/session_pb.ts";
import { connectPsk } from "../session/util.ts";
import { heapAfterGc, resilienceServer } from "./_util.ts";

const CYCLES = 100;
const ROWS = 20_000;

/** Names of the export states, by number (ExportNotification.State). */
const STATES = [
  "UNKNOWN",
  "PENDING",
  "PUBLISHING",
  "QUEUED",
  "RUNNING",
  "EXPORTED",
  "RELEASED",
  "CANCELLED",
  "FAILED",
  "DEPENDENCY_FAILED",
  "DEPENDENCY_NEVER_FOUND",
  "DEPENDENCY_CANCELLED",
  "DEPENDENCY_RELEASED",
];

/** The server's view of a session's exports: export id → state, from the initial replay of ExportNotifications. */
async function serverExports(session: Session): Promise<Map<number, string>> {
  const core = sessionCoreOf(session);
  const out = new Map<number, string>();
  const ac = new AbortController();
  const timer = setTimeout(() => ac.abort(), 15_000);
  try {
    for await (
      const n of core.channel.serverStream(rpc(SessionService.method.exportNotifications), {}, {
        what: "Listing exports",
        signal: ac.signal,
      })
    ) {
      const t = n.ticket?.ticket ?? new Uint8Array(0);
      const id = t.length >= 5 && t[0] === 0x65 ? new DataView(t.buffer, t.byteOffset).getInt32(1, true) : -1;
      if (id === 0) break; // end of the replay of the current exports
      out.set(id, STATES[n.exportState] ?? String(n.exportState));
    }
  } finally {
    clearTimeout(timer);
  }
  return out;
}

/** The exports that hold something on the server (not released, failed or cancelled). */
function live(exports: Map<number, string>): string[] {
  return [...exports].filter(([, s]) => !/RELEASED|CANCELLED|FAILED|NEVER_FOUND/.test(s)).map(([id, s]) =>
    `${id}:${s}`
  );
}

const mib = (n: number) => `${Math.round(n / 2 ** 20 * 10) / 10} MiB`;

/** The resilience server, a PSK session on it, and a Barrage session whose requests carry `tag`. */
async function setUp(tag: string) {
  const server = await resilienceServer();
  const session = await connectPsk(server);
  const bs = await barrageSession({ host: server.host, port: server.port, extraHeaders: { "x-test": tag } });
  return { server, session, bs };
}

Deno.test({
  name: "leaks: 100 subscribe/close cycles on one table leave no exports and flat client memory",
  sanitizeOps: false,
  sanitizeResources: false,
  async fn() {
    const { session: publisher, bs } = await setUp("leak-cycles");
    try {
      const ticket = SharedTicket.randomTicket();
      await publisher.publishTable(ticket, publisher.emptyTable(ROWS).update(["X = ii", "D = X * 0.5"]));
      const publisherBefore = live(await serverExports(publisher));
      const subscriberBefore = live(await serverExports(bs.session));
      assert.deepEqual(subscriberBefore, [], "the subscriber's session exports nothing to start with");

      const cycle = async (i: number) => {
        const t = await bs.subscribe(ticket.bytes);
        assert.equal(t.size, ROWS, `cycle ${i}: the snapshot arrived`);
        t.close();
      };
      for (let i = 0; i < 10; i++) await cycle(i); // warm-up: code paths compiled, caches filled
      const before = heapAfterGc();
      for (let i = 10; i < CYCLES; i++) await cycle(i);
      const after = heapAfterGc();
      const grown = after - before;
      console.log(
        `leaks: ${CYCLES - 10} cycles, memory after GC ${mib(before)} -> ${mib(after)} (${mib(grown)})`,
      );
      // One table is 20,000 × 16 bytes of values plus its slots and row set: about 400 KB.
      assert.ok(
        grown < 4 * 2 ** 20,
        `client memory stays flat (grew ${mib(grown)}; 10 leaked tables would be 4 MiB)`,
      );

      assert.deepEqual(
        live(await serverExports(bs.session)),
        [],
        "no export was left in the subscriber's session",
      );
      assert.deepEqual(
        live(await serverExports(publisher)),
        publisherBefore,
        "the publisher's exports are unchanged",
      );
      assert.equal(bs.session.state, "connected");
    } finally {
      await bs.close();
      await publisher.close();
    }
  },
});

Deno.test({
  name: "leaks: 100 cycles of open handle, subscribe, close both leave no exports and flat client memory",
  sanitizeOps: false,
  sanitizeResources: false,
  async fn() {
    const { session, bs } = await setUp("leak-handles");
    try {
      const base = session.emptyTable(ROWS).update(["X = ii"]);
      await base.ready();
      const exportsBefore = live(await serverExports(session));
      assert.equal(exportsBefore.length, 2, `only emptyTable and its update are exported (${exportsBefore})`);
      const cycle = async (i: number) => {
        const ref = base.update(["D = X * 0.5"]);
        const t = await bs.subscribe(ref);
        assert.equal(t.size, ROWS, `cycle ${i}`);
        t.close();
        await ref.close();
      };
      for (let i = 0; i < 10; i++) await cycle(i);
      const before = heapAfterGc();
      for (let i = 10; i < CYCLES; i++) await cycle(i);
      const after = heapAfterGc();
      console.log(
        `leaks (handles): memory after GC ${mib(before)} -> ${mib(after)} (${mib(after - before)})`,
      );
      assert.ok(after - before < 4 * 2 ** 20, `client memory stays flat (grew ${mib(after - before)})`);
      const exportsAfter = await serverExports(session);
      assert.deepEqual(live(exportsAfter), exportsBefore, "every handle's export was released");
      console.log(
        `leaks (handles): the server lists ${exportsAfter.size} exports of the session, ${
          [...exportsAfter.values()].filter((s) => s === "RELEASED").length
        } of them released`,
      );
    } finally {
      await bs.close();
      await session.close();
    }
  },
});

Deno.test({
  name: "leaks: a snapshot's local table is collected once dropped (its stream holds nothing after it ends)",
  sanitizeOps: false,
  sanitizeResources: false,
  async fn() {
    const { session, bs } = await setUp("leak-snap");
    try {
      const ref = session.emptyTable(ROWS).update(["X = ii", "S = `s` + ii"]);
      // Each table is made and dropped in a call of its own, so that no variable of this frame holds it.
      const take = async () => {
        const t = await bs.snapshot(ref);
        assert.equal(t.size, ROWS);
        return new WeakRef(t);
      };
      const refs: WeakRef<object>[] = [];
      for (let i = 0; i < 3; i++) refs.push(await take());
      // A turn of the event loop, so that no finished async frame still holds the last table.
      await new Promise((r) => setTimeout(r, 50));
      heapAfterGc();
      assert.deepEqual(
        refs.map((r) => r.deref() === undefined),
        [true, true, true],
        "every table was collected",
      );
      await ref.close();
    } finally {
      await bs.close();
      await session.close();
    }
  },
});
