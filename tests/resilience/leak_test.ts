/**
 * Leaks: 1,000 subscribe/close cycles on one table shared by ticket, and 100 cycles of open a handle,
 * subscribe, close both, leave nothing behind. On the server, the sessions' exports (listed by
 * `SessionService/ExportNotifications`, whose initial replay ends with export id 0) are the same before and
 * after. In the client, memory after full garbage collections (V8's `gc`, exposed at run time through
 * `node:v8`) stays flat: each cycle holds a 20,000-row table, so keeping even a tenth of them would show; and
 * the resident memory (RSS), sampled every 100 cycles, stops growing once the allocator has settled (it is
 * judged over the second half). `bench/leak_bench.ts` runs both kinds for 1,000 cycles and records the curve.
 */

import assert from "node:assert/strict";
import { barrageSession, SharedTicket } from "../../mod.ts";
import { liveExports as live, serverExports } from "../../testing/leaks.ts";
import { connectPsk } from "../session/util.ts";
import { heapAfterGc, resilienceServer } from "./_util.ts";

const CYCLES = 1000;
const HANDLE_CYCLES = 100;
const ROWS = 20_000;

const mib = (n: number) => `${Math.round(n / 2 ** 20 * 10) / 10} MiB`;

Deno.test({
  name: "leaks: 1,000 subscribe/close cycles on one table leave no exports, flat client memory and flat RSS",
  sanitizeOps: false,
  sanitizeResources: false,
  async fn() {
    const server = await resilienceServer();
    const publisher = await connectPsk(server);
    const bs = await barrageSession({
      host: server.host,
      port: server.port,
      extraHeaders: { "x-test": "leak-cycles" },
    });
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
    const server = await resilienceServer();
    const session = await connectPsk(server);
    const bs = await barrageSession({
      host: server.host,
      port: server.port,
      extraHeaders: { "x-test": "leak-handles" },
    });
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
