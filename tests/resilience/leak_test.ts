/**
 * Leaks and lifetimes. 1,000 subscribe/close cycles on one table shared by ticket, and 100 cycles of open a
 * handle, subscribe, close both, leave nothing behind. On the server, the sessions' exports (listed by
 * `SessionService/ExportNotifications`, whose initial replay ends with export id 0) are the same before and
 * after. In the client, memory after full garbage collections (V8's `gc`, exposed at run time through
 * `node:v8`) stays flat: each cycle holds a 20,000-row table, so keeping even a tenth of them would show; and
 * the resident memory (RSS), sampled every 100 cycles, stops growing once the allocator has settled (it is
 * judged over the second half). `bench/leak_bench.ts` runs both kinds for 1,000 cycles and records the curve.
 * A chain of operations leaves only the handle the user holds exported (the others are released when they
 * are garbage-collected), `await using` releases handles and closes local tables, and after a lost server
 * session only the live handles are made again.
 */

import assert from "node:assert/strict";
import { barrageSession, type Session, SharedTicket, type TableRef } from "../../mod.ts";
import { sessionCoreOf } from "../../src/session/session.ts";
import { rpc } from "../../src/transport/rpc.ts";
import { SessionService } from "../../src/generated/proto/deephaven_core/proto/session_pb.ts";
import { liveExports as live, serverExports } from "../../testing/leaks.ts";
import { connectPsk } from "../session/util.ts";
import { collectGarbage, heapAfterGc, resilienceServer, StateLog } from "./_util.ts";

const CYCLES = 1000;
const HANDLE_CYCLES = 100;
const ROWS = 20_000;

/** The export id of a handle. */
function idOf(ref: TableRef): number {
  return new DataView(ref.ticket.buffer, ref.ticket.byteOffset).getInt32(1, true);
}

/**
 * Collects garbage (so that unreachable handles release their exports) and lists the session's live exports on
 * the server, until they are `expected` or `ms` passed; returns the last list (ids, ascending).
 */
async function exportsBecome(session: Session, expected: number[], ms = 20_000): Promise<number[]> {
  const want = JSON.stringify([...expected].sort((a, b) => a - b));
  const deadline = Date.now() + ms;
  let ids: number[];
  do {
    collectGarbage();
    await new Promise((r) => setTimeout(r, 50)); // finalizers run in a later task; then the release travels
    ids = live(await serverExports(session)).map((x) => Number(x.split(":")[0])).sort((a, b) => a - b);
  } while (JSON.stringify(ids) !== want && Date.now() < deadline);
  return ids;
}

/**
 * A chain of operations whose intermediate handles nobody holds (built outside any async function, so no
 * suspended frame keeps them): the 5 largest even X of 0..99 with the name of their key.
 */
function chain(session: Session): TableRef {
  const keys = session.emptyTable(10).update(["K = i", "Name = `k` + i"]);
  return session.emptyTable(100).update(["X = i", "K = i % 10"]).naturalJoin(keys, "K").where("X % 2 == 0")
    .sort("X", "DESC").head(5);
}

async function assertChainData(ref: TableRef): Promise<void> {
  const t = await ref.toArrow();
  assert.deepEqual([...t.getChild("X")!], [98, 96, 94, 92, 90]);
  assert.deepEqual([...t.getChild("Name")!], ["k8", "k6", "k4", "k2", "k0"]);
}

/** The shared server, a PSK session and a Barrage session (tagged with an `x-test` header) on it. */
async function connectBoth(tag: string) {
  const server = await resilienceServer();
  const session = await connectPsk(server);
  const bs = await barrageSession({ host: server.host, port: server.port, extraHeaders: { "x-test": tag } });
  return { server, session, bs };
}

const mib = (n: number) => `${Math.round(n / 2 ** 20 * 10) / 10} MiB`;

Deno.test({
  name: "leaks: 1,000 subscribe/close cycles on one table leave no exports, flat client memory and flat RSS",
  sanitizeOps: false,
  sanitizeResources: false,
  async fn() {
    const { session: publisher, bs } = await connectBoth("leak-cycles");
    try {
      const ticket = SharedTicket.randomTicket();
      const published = publisher.emptyTable(ROWS).update(["X = ii", "D = X * 0.5"]);
      await publisher.publishTable(ticket, published);
      // The emptyTable handle is unreachable: once collected, only the published table is exported.
      const publishedId = idOf(published);
      assert.deepEqual(await exportsBecome(publisher, [publishedId]), [publishedId]);
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
      const rss: number[] = [];
      for (let i = 10; i < CYCLES; i++) {
        await cycle(i);
        if ((i + 1) % 100 === 0) {
          heapAfterGc();
          rss.push(Deno.memoryUsage().rss);
        }
      }
      const after = heapAfterGc();
      const grown = after - before;
      const rssGrown = rss[rss.length - 1] - rss[Math.floor((rss.length - 1) / 2)];
      console.log(
        `leaks: ${CYCLES - 10} cycles, memory after GC ${mib(before)} -> ${mib(after)} (${mib(grown)}), ` +
          `RSS every 100 cycles ${rss.map(mib).join(", ")}`,
      );
      assert.ok(rssGrown < 16 * 2 ** 20, `RSS stops growing (grew ${mib(rssGrown)} over the second half)`);
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
    const { session, bs } = await connectBoth("leak-handles");
    try {
      const base = session.emptyTable(ROWS).update(["X = ii"]);
      await base.ready();
      // The emptyTable handle is unreachable: once collected, only the handle held here is exported.
      assert.deepEqual(await exportsBecome(session, [idOf(base)]), [idOf(base)]);
      const exportsBefore = live(await serverExports(session));
      const cycle = async (i: number) => {
        const ref = base.update(["D = X * 0.5"]);
        const t = await bs.subscribe(ref);
        assert.equal(t.size, ROWS, `cycle ${i}`);
        t.close();
        await ref.close();
      };
      for (let i = 0; i < 10; i++) await cycle(i);
      const before = heapAfterGc();
      for (let i = 10; i < HANDLE_CYCLES; i++) await cycle(i);
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
  name: "lifetimes: a chain of operations leaves only the handle the user holds exported",
  sanitizeOps: false,
  sanitizeResources: false,
  async fn() {
    const server = await resilienceServer();
    const session = await connectPsk(server);
    try {
      assert.deepEqual(live(await serverExports(session)), [], "a new session exports nothing");
      let held: TableRef | undefined = chain(session);
      await held.ready();
      const id = idOf(held);
      // Seven operations made seven exports; the six intermediate ones are released once collected.
      assert.deepEqual(await exportsBecome(session, [id]), [id], "only the held handle stays exported");
      assert.deepEqual(sessionCoreOf(session).heldExports(), [id], "the session replays only that one");
      await assertChainData(held);
      held = undefined;
      assert.deepEqual(await exportsBecome(session, []), [], "dropping the last handle releases it too");
    } finally {
      await session.close();
    }
  },
});

Deno.test({
  name: "lifetimes: await using releases a TableRef and closes live and static local tables",
  sanitizeOps: false,
  sanitizeResources: false,
  async fn() {
    const { session, bs } = await connectBoth("using");
    try {
      const kept = session.emptyTable(3).update("X = i");
      await kept.ready();
      let ref: TableRef | undefined;
      {
        await using t = session.emptyTable(5).update("X = i");
        ref = t;
        assert.equal((await t.toArrow()).numRows, 5);
        assert.ok(live(await serverExports(session)).includes(`${idOf(t)}:EXPORTED`));
      }
      assert.equal(ref.closed, true, "the handle was closed at the end of the block");
      assert.ok(
        !live(await serverExports(session)).some((x) => x.startsWith(`${idOf(ref)}:`)),
        "and its export released",
      );

      let liveTable, snapshot;
      {
        await using l = await bs.subscribe(kept);
        using s = await bs.snapshot(kept);
        liveTable = l;
        snapshot = s;
        assert.equal(l.state, "live");
        assert.equal(s.state, "snapshot");
        assert.equal(l.size + s.size, 6);
      }
      assert.equal(liveTable.state, "closed", "the live table was closed at the end of the block");
      assert.equal(snapshot.state, "closed", "the snapshot was closed at the end of the block");
      assert.equal(kept.closed, false, "a handle the block did not declare stays open");
      assert.equal((await kept.toArrow()).numRows, 3);
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
    const { session, bs } = await connectBoth("leak-snap");
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

Deno.test({
  name: "lifetimes: after a lost server session only the live handles are made again",
  sanitizeOps: false,
  sanitizeResources: false,
  async fn() {
    const server = await resilienceServer();
    const session = await connectPsk(server, { reconnect: { baseMs: 50, capMs: 500 } });
    const core = sessionCoreOf(session);
    try {
      const kept = chain(session);
      const solo = session.emptyTable(3).update("Y = i");
      const gone = session.emptyTable(4);
      await Promise.all([kept.ready(), solo.ready(), gone.ready()]);
      await gone.close();
      const held = [idOf(kept), idOf(solo)].sort((a, b) => a - b);
      assert.deepEqual(await exportsBecome(session, held), held, "only the held handles are exported");

      // The server closes the session (as after an expiry); the next call finds out and the session logs in
      // again, making the held handles again (the chain's released steps on temporary tickets).
      const log = new StateLog(session);
      await core.channel.unary(rpc(SessionService.method.closeSession), {}, {
        what: "Closing the server session",
      });
      await kept.size().catch(() => {});
      assert.ok(log.states.includes("reconnecting"), `the session noticed (${log.states})`);
      await log.until("connected", 30_000);
      assert.equal(core.generation, 1, "a new server session");

      assert.deepEqual(
        await exportsBecome(session, held),
        held,
        "the new session exports only the held handles",
      );
      const all = await serverExports(session);
      assert.equal(all.get(idOf(gone)), undefined, "a closed handle was not made again");
      assert.deepEqual(core.heldExports(), held, "the session holds only those");
      // The chain's released steps were made again on temporary tickets (and released): its data is right.
      await assertChainData(kept);
      assert.deepEqual([...(await solo.toArrow()).getChild("Y")!], [0, 1, 2]);
      log.stop();
    } finally {
      await session.close();
    }
  },
});
