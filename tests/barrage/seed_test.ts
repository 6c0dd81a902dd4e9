/**
 * The seed flow of Barrage capture against the real server: one session publishes a ticking table under a
 * shared ticket, a Barrage session subscribes to the ticket's bytes, and the local table must follow the
 * server (checked against DoGet snapshots the server takes later). Also: Barrage session caching.
 */

import assert from "node:assert/strict";
import { barrageSession, Session, SharedTicket, type TableUpdate } from "../../mod.ts";
import { serverTest } from "../harness/server.ts";
import { arrowDiffs, nextUpdates, since, waitUntil } from "./_compare.ts";

serverTest("seed: a subscription to a published time table follows the server", {}, async (server) => {
  const { host, port } = server;
  const t0 = performance.now();
  await using session = await Session.connect({ host, port });
  const connected = since(t0);
  const ticking = session.timeTable("PT0.1s").update(["X = 0.1 * i", "Y = sin(X)"]);
  const ticket = SharedTicket.randomTicket();
  await session.publishTable(ticket, ticking);
  const published = since(t0);

  const bs = await barrageSession({ host, port });
  try {
    const start = performance.now();
    const live = await bs.subscribe(ticket.bytes);
    console.log(
      `connected after ${connected} ms, published after ${published} ms; subscribed in ${
        since(start)
      } ms with ${live.size} rows`,
    );
    assert.equal(live.state, "live");
    assert.deepEqual(live.columns, ["Timestamp", "X", "Y"]);

    const updates: TableUpdate[] = [];
    live.onUpdate((u) => updates.push(u));
    const sizeBefore = live.size;
    await nextUpdates(live, 3, 15_000);
    assert.ok(live.size > sizeBefore, "the table grew");

    // Appends only: every update adds rows at the end and removes, modifies and shifts nothing.
    let size = sizeBefore;
    for (const u of updates) {
      assert.equal(u.removed.size, 0, "nothing removed");
      assert.equal(u.modified.size, 0, "nothing modified");
      assert.equal(u.shifted, false, "nothing shifted");
      size += u.added.size;
      assert.equal(u.size, size, "the reported size is the running total of the adds");
    }

    // A DoGet snapshot taken now is at least as new as the local table: the local rows are its prefix.
    const localNow = live.toArrow();
    const snap = await session.snapshot(ticket);
    assert.ok(snap.numRows >= localNow.numRows, `snapshot ${snap.numRows} rows >= local ${localNow.numRows}`);
    assert.deepEqual(arrowDiffs(localNow, snap, { expectedRows: [0, localNow.numRows] }), []);

    // Once the local table has caught up with the snapshot, the two agree on all the snapshot's rows.
    assert.ok(await waitUntil(live, () => live.size >= snap.numRows, 15_000), "the local table caught up");
    const caughtUp = live.toArrow();
    const prefix = caughtUp.slice(0, snap.numRows);
    assert.deepEqual(arrowDiffs(prefix, snap), []);

    // The values follow the formulas: X = 0.1 * i, timestamps 100 ms apart.
    for (let i = 0; i < live.size; i++) assert.equal(live.get(i, "X"), 0.1 * i, `X at row ${i}`);
    const first = (live.get(0, "Timestamp") as Date).getTime();
    const last = (live.get(live.size - 1, "Timestamp") as Date).getTime();
    assert.equal(last - first, 100 * (live.size - 1), "one row per 100 ms");
    assert.equal(live.sourceSize, live.size, "the server's table size is the local size");

    // A Barrage snapshot of the same ticket is a static prefix of a later DoGet too.
    const bsnap = await bs.snapshot(ticket.bytes);
    assert.equal(bsnap.state, "snapshot");
    const later = await session.snapshot(ticket);
    assert.deepEqual(arrowDiffs(bsnap.toArrow(), later, { expectedRows: [0, bsnap.size] }), []);

    live.close();
    assert.equal(live.state, "closed");
    console.log(`seed flow done in ${since(t0)} ms`);
  } finally {
    await bs.close();
  }
});

serverTest(
  "seed: barrageSession caches by options and opens a new session after close",
  {},
  async (server) => {
    const { host, port } = server;
    const a = await barrageSession({ host, port });
    const b = await barrageSession({ host, port });
    assert.equal(a, b, "the same options give the same session object");
    const other = await barrageSession({ host, port, extraHeaders: { "x-test": "other" } });
    assert.notEqual(other, a, "other options give another session");

    await using session = await Session.connect({ host, port });
    const ticket = SharedTicket.randomTicket();
    await session.publishTable(ticket, session.timeTable("PT0.1s"));
    const live = await a.subscribe(ticket);
    await a.close();
    assert.equal(a.isAlive, false, "a closed session is not alive");
    assert.equal(live.state, "closed", "closing the session closes its subscriptions");
    assert.equal(other.isAlive, true, "closing one session leaves the others open");

    const c = await barrageSession({ host, port });
    assert.notEqual(c, a, "after close, the same options give a new session");
    assert.equal(c.isAlive, true);
    const again = await c.subscribe(ticket);
    await nextUpdates(again, 1, 15_000);
    assert.equal(await barrageSession({ host, port }), c, "the new session is cached in turn");
    await c.close();
    await other.close();
  },
);
