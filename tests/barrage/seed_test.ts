/**
 * The seed flow of Barrage capture against the real server: one session publishes a ticking table under a
 * shared ticket, a Barrage session subscribes to the ticket's bytes, and the local table must follow the
 * server (checked against DoGet snapshots the server takes later). Also: Barrage session caching.
 */

import assert from "node:assert/strict";
import { barrageSession, type Instant, Session, SharedTicket, type TableUpdate } from "../../mod.ts";
import { serverTest } from "../../testing/server.ts";
import { tableDiffs } from "../../testing/compare.ts";
import { nextUpdates, since, waitUntil } from "../../testing/wait.ts";

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
    const snap = await session.toArrow(ticket);
    assert.ok(snap.numRows >= localNow.numRows, `snapshot ${snap.numRows} rows >= local ${localNow.numRows}`);
    assert.deepEqual(tableDiffs(localNow, snap, { expectedRows: [0, localNow.numRows] }), []);

    // Once the local table has caught up with the snapshot, the two agree on all the snapshot's rows.
    assert.ok(await waitUntil(live, () => live.size >= snap.numRows, 15_000), "the local table caught up");
    const caughtUp = live.toArrow();
    const prefix = caughtUp.slice(0, snap.numRows);
    assert.deepEqual(tableDiffs(prefix, snap), []);

    // The values follow the formulas: X = 0.1 * i, timestamps 100 ms apart.
    for (let i = 0; i < live.size; i++) assert.equal(live.get(i, "X"), 0.1 * i, `X at row ${i}`);
    const first = (live.get(0, "Timestamp") as Instant).epochNanos;
    const last = (live.get(live.size - 1, "Timestamp") as Instant).epochNanos;
    assert.equal(last - first, 100_000_000n * BigInt(live.size - 1), "one row per 100 ms");
    assert.equal(live.sourceSize, live.size, "the server's table size is the local size");

    // A Barrage snapshot of the same ticket is a static prefix of a later DoGet too.
    const bsnap = await bs.snapshot(ticket.bytes);
    assert.equal(bsnap.state, "snapshot");
    const later = await session.toArrow(ticket);
    assert.deepEqual(tableDiffs(bsnap.toArrow(), later, { expectedRows: [0, bsnap.size] }), []);

    live.close();
    assert.equal(live.state, "closed");
    console.log(`seed flow done in ${since(t0)} ms`);
  } finally {
    await bs.close();
  }
});

serverTest(
  "seed: barrageSession shares one connection per options; each holder closes only its own handle",
  {},
  async (server) => {
    const { host, port } = server;
    const a = await barrageSession({ host, port });
    const b = await barrageSession({ host, port });
    assert.notEqual(a, b, "each call gets its own handle");
    assert.equal(a.session, b.session, "the same options share one connection");
    const other = await barrageSession({ host, port, extraHeaders: { "x-test": "other" } });
    assert.notEqual(other.session, a.session, "other options give another connection");

    await using session = await Session.connect({ host, port });
    const ticket = SharedTicket.randomTicket();
    await session.publishTable(ticket, session.timeTable("PT0.1s"));
    const live = await a.subscribe(ticket);
    const fromB = await b.subscribe(ticket);
    await a.close();
    assert.equal(a.isAlive, false, "a closed handle is not alive");
    assert.equal(live.state, "closed", "closing a handle closes its subscriptions");
    assert.equal(b.isAlive, true, "closing one holder's handle leaves the others open");
    assert.equal(b.session.isAlive, true, "the shared connection stays open while a holder has it");
    assert.equal(fromB.state, "live", "the other holder's subscription keeps ticking");
    await nextUpdates(fromB, 1, 15_000);
    await assert.rejects(a.subscribe(ticket), /was closed/, "a closed handle refuses new subscriptions");
    assert.equal(other.isAlive, true, "closing one session leaves the others open");

    const c = await barrageSession({ host, port });
    assert.equal(c.session, b.session, "a new holder joins the open connection");
    await b.close();
    assert.equal(c.session.isAlive, true, "still held by c");
    await c.close();
    assert.equal(c.session.isAlive, false, "the last holder's close closes the connection");
    assert.equal(fromB.state, "closed");

    const d = await barrageSession({ host, port });
    assert.notEqual(d.session, c.session, "after the last close, the same options open a new connection");
    const again = await d.subscribe(ticket);
    await nextUpdates(again, 1, 15_000);
    await d.close();
    await other.close();
  },
);
