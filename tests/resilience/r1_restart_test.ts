/**
 * R1: the server process is killed (SIGKILL) in the middle of live subscriptions and started again on the
 * same port. The session goes `reconnecting` → `connected` (logging in again and replaying its table
 * handles), each live table goes `stale` → `live` with exactly one `resubscribed` update that removes every
 * old row and adds the fresh snapshot, a local `lastBy` view follows, and the tables equal fresh snapshots.
 * A table shared by ticket is published again by its publisher's session, and a subscriber in another session,
 * which knows only the ticket, gets the table again under the same ticket.
 */

import assert from "node:assert/strict";
import {
  barrageSession,
  type LiveTable,
  type LocalTable,
  Session,
  SharedTicket,
  type TableUpdate,
} from "../../mod.ts";
import { freePort, startServer } from "../../testing/server.ts";
import { assertMatchesSnapshot, since, StateLog, tableReaches, tableStates, waitUntil } from "./_util.ts";

const SCRIPT = `from deephaven import time_table
t = time_table("PT0.2s").update(["X = ii", "K = ii % 5"])
`;

/** Collects a table's updates that say `resubscribed`. */
function resubscribedUpdates(t: LocalTable): TableUpdate[] {
  const out: TableUpdate[] = [];
  t.onUpdate((u) => {
    if (u.resubscribed) out.push(u);
  });
  return out;
}

/** The expected lastBy("K") of a table with columns X and K: the row with the largest X per K, sorted by K. */
function expectedLastBy(t: LocalTable): Map<bigint, bigint> {
  const last = new Map<bigint, bigint>();
  for (const r of t.rows()) last.set(r.K as bigint, r.X as bigint);
  return last;
}

Deno.test({
  name: "R1: a server killed and restarted on the same port: reconnect, replay, resubscribe",
  sanitizeOps: false,
  sanitizeResources: false,
  async fn() {
    const port = freePort();
    const host = "127.0.0.1";
    let server = await startServer({ port, script: SCRIPT, auth: "anonymous", name: "r1" });
    const session = await Session.connect({ host, port, reconnect: { baseMs: 100, capMs: 2000 } });
    const bs = await barrageSession({ host, port });
    const tables: LocalTable[] = [];
    const cleanups: (() => Promise<void>)[] = [];
    try {
      const log = new StateLog(session);
      const tickingRef = session.openTable("t");
      const staticRef = session.emptyTable(100).update(["A = i", "B = i * 2.5", "S = `s` + i"]);
      const ticking: LiveTable = await bs.subscribe(tickingRef);
      const stat: LiveTable = await bs.subscribe(staticRef);
      const view = ticking.lastBy("K");
      // A table shared by ticket: published by this session, subscribed by another that knows only the ticket.
      const ticket = SharedTicket.randomTicket();
      const sharedRef = session.emptyTable(40).update(["Id = i", "Sq = (long) i * i"]);
      await session.publishTable(ticket, sharedRef);
      const other = await Session.connect({ host, port, extraHeaders: { "x-test": "r1-subscriber" } });
      cleanups.push(() => other.close());
      const otherBs = await barrageSession({
        host,
        port,
        extraHeaders: { "x-test": "r1-subscriber-barrage" },
      });
      cleanups.push(() => otherBs.close());
      const shared: LiveTable = await otherBs.subscribe(ticket.bytes);
      assert.equal(shared.size, 40);
      tables.push(ticking, stat, view, shared);
      const sharedStates = tableStates(shared);
      const sharedResub = resubscribedUpdates(shared);
      const tickingStates = tableStates(ticking),
        staticStates = tableStates(stat),
        viewStates = tableStates(view);
      const tickingResub = resubscribedUpdates(ticking), staticResub = resubscribedUpdates(stat);
      assert.ok(await waitUntil(ticking, () => ticking.size >= 6, 20_000), "the time table ticks");
      assert.equal(stat.size, 100);

      // Kill the server while the subscriptions are live.
      let sizeAtStale = -1;
      ticking.onStateChange((s) => {
        if (s === "stale" && sizeAtStale < 0) sizeAtStale = ticking.size;
      });
      const killedAt = performance.now();
      server.kill("SIGKILL");
      await server.exited;
      await log.until("reconnecting", 20_000);
      await tableReaches(ticking, "stale", 20_000);
      await tableReaches(stat, "stale", 20_000);
      await tableReaches(view, "stale", 5_000);
      await tableReaches(shared, "stale", 20_000);
      console.log(
        `R1: reconnecting and stale ${since(killedAt)} ms after the kill; ticking held ${sizeAtStale} rows`,
      );

      // The same server again, on the same port.
      const restartedAt = performance.now();
      server = await startServer({ port, script: SCRIPT, auth: "anonymous", name: "r1-restarted" });
      await log.until("connected", 60_000);
      await tableReaches(ticking, "live", 60_000);
      await tableReaches(stat, "live", 60_000);
      await tableReaches(view, "live", 5_000);
      await tableReaches(shared, "live", 60_000);
      console.log(
        `R1: server answered after ${server.startMs} ms; connected and live ${
          since(restartedAt)
        } ms after the restart`,
      );

      assert.deepEqual(
        log.states,
        ["reconnecting", "connected"],
        "the session went reconnecting, then connected",
      );
      assert.deepEqual(tickingStates.states, ["stale", "live"]);
      assert.deepEqual(staticStates.states, ["stale", "live"]);
      assert.deepEqual(viewStates.states, ["stale", "live"], "the lastBy view follows its source's state");

      // Exactly one resubscribed update per table: every old row out, the fresh snapshot in.
      assert.equal(staticResub.length, 1, "one resubscribed update for the static table");
      assert.equal(staticResub[0].removed.size, 100);
      assert.equal(staticResub[0].added.size, 100);
      assert.equal(staticResub[0].size, 100);
      assert.equal(tickingResub.length, 1, "one resubscribed update for the ticking table");
      assert.equal(tickingResub[0].removed.size, sizeAtStale, "it removes every row held before");
      assert.equal(tickingResub[0].added.size, tickingResub[0].size, "it adds the whole fresh snapshot");
      assert.ok(
        ticking.get(0, "X") === 0n,
        "the rows are the new server's (its time table starts again at 0)",
      );

      // The table keeps ticking after the resubscription, and the view follows.
      const sizeAfter = ticking.size;
      assert.ok(await waitUntil(ticking, () => ticking.size >= sizeAfter + 3, 20_000), "ticking again");
      assert.ok(await waitUntil(view, () => view.size === 5, 10_000), "lastBy has one row per K");
      const expected = expectedLastBy(ticking);
      for (const r of view.rows()) {
        assert.equal(r.X, expected.get(r.K as bigint), `lastBy: K = ${r.K} holds the last X of its group`);
      }

      // The shared ticket was published again: the other session's table is back, under the same ticket.
      assert.deepEqual(sharedStates.states, ["stale", "live"]);
      assert.equal(sharedResub.length, 1, "one resubscribed update for the table shared by ticket");
      assert.equal(sharedResub[0].size, 40);
      assertMatchesSnapshot("shared ticket", shared, await other.toArrow(ticket), "equal");
      const fetched = other.fetchTable(ticket);
      assert.equal((await fetched.toArrow()).numRows, 40, "the ticket resolves in the other session");
      await fetched.close();

      // Fresh snapshots of the replayed handles.
      assertMatchesSnapshot("static", stat, await staticRef.toArrow(), "equal");
      const n = assertMatchesSnapshot("ticking", ticking, await tickingRef.toArrow(), "prefix", sizeAfter);
      console.log(`R1: ${n} rows of the ticking table equal a fresh snapshot`);
      assert.equal(session.state, "connected");
      log.stop();
    } finally {
      for (const t of tables) t.close();
      for (const c of cleanups) await c();
      await bs.close();
      await session.close();
      await server.stop();
    }
  },
});
