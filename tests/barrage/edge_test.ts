/**
 * Edge cases of Barrage capture against the real server: empty tables, released and unknown tickets, column
 * subsets, two subscriptions to one ticket, and streams that end (a failing table, the publisher going away,
 * the subscriber's own session closing).
 */

import assert from "node:assert/strict";
import {
  barrageSession,
  DeephavenError,
  GrpcCode,
  type LocalTable,
  Session,
  SharedTicket,
} from "../../mod.ts";
import { serverTest } from "../../testing/server.ts";
import { nextUpdates, since, waitUntil } from "../../testing/wait.ts";

/** Settles `p` or fails after `ms`, so a hanging call fails the test instead of the run. */
async function within<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  try {
    return await Promise.race([
      p,
      new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new Error(`${what} did not settle within ${ms} ms`)), ms);
      }),
    ]);
  } finally {
    clearTimeout(timer);
  }
}

/** Asserts that `p` rejects with a DeephavenError within `ms`, and returns the error. */
async function rejectsWithin(p: Promise<unknown>, ms: number, what: string): Promise<DeephavenError> {
  const start = performance.now();
  try {
    await within(p, ms, what);
  } catch (e) {
    assert.ok(e instanceof DeephavenError, `${what}: a DeephavenError, got ${e}`);
    console.log(`${what}: ${e.codeName} after ${since(start)} ms: ${e.message}`);
    return e;
  }
  assert.fail(`${what} resolved; it should have been refused`);
}

serverTest("edge: subscriptions to empty tables resolve with size 0", {}, async (server) => {
  const { host, port } = server;
  await using session = await Session.connect({ host, port });
  const bs = await barrageSession({ host, port });
  try {
    const staticEmpty = SharedTicket.randomTicket();
    await session.publishTable(staticEmpty, session.emptyTable(0).update(["X = i"]));
    const a = await within(bs.subscribe(staticEmpty.bytes), 10_000, "subscribing to emptyTable(0)");
    assert.equal(a.size, 0);
    assert.equal(a.state, "live");
    assert.deepEqual(a.columns, ["X"]);
    assert.equal(a.toArrow().numRows, 0);

    const tickingEmpty = SharedTicket.randomTicket();
    await session.publishTable(tickingEmpty, session.timeTable("PT0.1s").update(["X = ii"]).where("X < 0"));
    const b = await within(
      bs.subscribe(tickingEmpty.bytes),
      10_000,
      "subscribing to a filtered-to-empty table",
    );
    assert.equal(b.size, 0);
    assert.equal(b.state, "live");
    assert.equal(b.sourceSize, 0);

    const snap = await within(
      bs.snapshot(tickingEmpty.bytes),
      10_000,
      "a snapshot of a filtered-to-empty table",
    );
    assert.equal(snap.size, 0);
    assert.equal(snap.state, "snapshot");
    a.close();
    b.close();
  } finally {
    await bs.close();
  }
});

serverTest("edge: released and unknown tickets are refused with a DeephavenError", {}, async (server) => {
  const { host, port } = server;
  await using session = await Session.connect({ host, port });
  const bs = await barrageSession({ host, port });
  try {
    const unknown = SharedTicket.randomTicket();
    const e1 = await rejectsWithin(bs.subscribe(unknown.bytes), 10_000, "subscribing to an unknown ticket");
    assert.equal(e1.code, GrpcCode.NOT_FOUND);
    assert.ok(e1.message.includes(unknown.hex.slice(2)), "the message names the ticket");
    const e2 = await rejectsWithin(bs.snapshot(unknown.bytes), 10_000, "a snapshot of an unknown ticket");
    assert.equal(e2.code, GrpcCode.NOT_FOUND);

    // Publish, then release the published table: the shared ticket no longer resolves to a table.
    const table = session.timeTable("PT0.1s");
    const released = SharedTicket.randomTicket();
    await session.publishTable(released, table);
    await table.close();
    const e3 = await rejectsWithin(bs.subscribe(released.bytes), 10_000, "subscribing to a released ticket");
    assert.ok([GrpcCode.NOT_FOUND, GrpcCode.FAILED_PRECONDITION].includes(e3.code as 5 | 9), e3.codeName);
    await rejectsWithin(bs.snapshot(released.bytes), 10_000, "a snapshot of a released ticket");
    assert.equal(bs.isAlive, true, "a refused subscription leaves the session usable");
  } finally {
    await bs.close();
  }
});

/** Asserts that only column X holds values (the other columns are null in every row). */
function onlyX(label: string, t: LocalTable): void {
  assert.ok(t.size > 0, `${label}: has rows`);
  for (let i = 0; i < t.size; i++) {
    assert.equal(t.get(i, "X"), BigInt(i), `${label}: X at row ${i}`);
    for (const c of ["Timestamp", "Y", "S"]) {
      assert.equal(t.get(i, c), null, `${label}: column ${c} was not subscribed, so row ${i} must be null`);
    }
  }
  const a = t.toArrow();
  for (const c of ["Timestamp", "Y", "S"]) {
    assert.equal(a.getChild(c)!.nullCount, t.size, `${label}: toArrow ${c}`);
  }
}

serverTest("edge: a column subset subscription has values for those columns only", {}, async (server) => {
  const { host, port } = server;
  await using session = await Session.connect({ host, port });
  const ticket = SharedTicket.randomTicket();
  await session.publishTable(
    ticket,
    session.timeTable("PT0.1s").update(["X = ii", "Y = 2.0 * ii", "S = `s` + ii"]),
  );
  const bs = await barrageSession({ host, port });
  const failures: string[] = [];
  try {
    const cases: [string, () => Promise<LocalTable>][] = [
      ["subscribe(ticket bytes)", () => bs.subscribe(ticket.bytes, { columns: ["X"] })],
      ["subscribe(TableRef)", () => bs.subscribe(bs.session.fetchTable(ticket), { columns: ["X"] })],
      ["snapshot(ticket bytes)", () => bs.snapshot(ticket.bytes, { columns: ["X"] })],
    ];
    for (const [label, capture] of cases) {
      const t = await capture();
      if (t.state === "live") await waitUntil(t, () => t.size > 0, 10_000);
      try {
        onlyX(label, t);
      } catch (e) {
        failures.push((e as Error).message);
      }
      t.close();
    }
  } finally {
    await bs.close();
  }
  assert.deepEqual(failures, []);
});

serverTest("edge: two subscriptions to one ticket are independent", {}, async (server) => {
  const { host, port } = server;
  await using session = await Session.connect({ host, port });
  const ticket = SharedTicket.randomTicket();
  await session.publishTable(ticket, session.timeTable("PT0.1s").update(["X = ii"]));
  const bs = await barrageSession({ host, port });
  try {
    const a = await bs.subscribe(ticket.bytes);
    const b = await bs.subscribe(ticket.bytes);
    assert.notEqual(a, b);
    await Promise.all([nextUpdates(a, 1, 15_000), nextUpdates(b, 1, 15_000)]);
    a.close();
    assert.equal(a.state, "closed");
    const frozen = a.size;
    await nextUpdates(b, 2, 15_000);
    assert.equal(b.state, "live", "the other subscription keeps ticking");
    assert.equal(a.size, frozen, "the closed one no longer changes");
    assert.ok(b.size > frozen);
    for (let i = 0; i < b.size; i++) assert.equal(b.get(i, "X"), BigInt(i));
    b.close();
  } finally {
    await bs.close();
  }
});

serverTest("edge: a table that fails on the server fails the subscription with a DeephavenError", {}, async (
  server,
) => {
  const { host, port } = server;
  await using session = await Session.connect({ host, port });
  const ticket = SharedTicket.randomTicket();
  // The formula throws once ii reaches 15 (about 1.5 s after start): the table fails on the server.
  await session.publishTable(
    ticket,
    session.timeTable("PT0.1s").update(["X = ii < 15 ? ii : Long.parseLong(`not a number`)"]),
  );
  const bs = await barrageSession({ host, port });
  try {
    const t = await bs.subscribe(ticket.bytes);
    const start = performance.now();
    assert.ok(await waitUntil(t, () => t.state !== "live", 20_000), "the table left state live");
    console.log(
      `the subscription ended after ${
        since(start)
      } ms: ${t.state}, ${t.error?.codeName}: ${t.error?.message}`,
    );
    assert.equal(t.state, "failed");
    assert.ok(t.error instanceof DeephavenError);
    await assert.rejects(
      (async () => {
        for await (const _ of t.updates()) { /* the iteration throws the table's error */ }
      })(),
      (e: unknown) => e === t.error,
    );
    assert.ok(t.size > 0 && t.size <= 15, `the rows before the failure stay readable (${t.size})`);
    t.close();
    assert.equal(t.state, "closed");
  } finally {
    await bs.close();
  }
});

serverTest(
  "edge: an established subscription outlives its publisher (the server keeps the table)",
  {},
  async (
    server,
  ) => {
    const { host, port } = server;
    const publisher = await Session.connect({ host, port });
    const ticket = SharedTicket.randomTicket();
    const table = publisher.timeTable("PT0.1s").update(["X = ii"]);
    await publisher.publishTable(ticket, table);
    const bs = await barrageSession({ host, port });
    try {
      const t = await bs.subscribe(ticket.bytes);
      await table.close(); // release the published table ...
      await publisher.close(); // ... and close the publisher's session
      await nextUpdates(t, 2, 15_000);
      assert.equal(t.state, "live", "the subscription holds its own reference to the table");
      // New subscriptions are refused, though: the ticket is gone.
      await rejectsWithin(bs.subscribe(ticket.bytes), 10_000, "subscribing after the publisher closed");
      t.close();
    } finally {
      await bs.close();
    }
  },
);

serverTest("edge: closing the subscriber's session ends its live tables promptly", {}, async (server) => {
  const { host, port } = server;
  await using session = await Session.connect({ host, port });
  const ticket = SharedTicket.randomTicket();
  await session.publishTable(ticket, session.timeTable("PT0.1s").update(["X = ii"]));
  const bs = await barrageSession({ host, port, extraHeaders: { "x-test": "edge-session-close" } });
  try {
    const t = await bs.subscribe(ticket.bytes);
    await nextUpdates(t, 1, 15_000);
    const start = performance.now();
    await bs.session.close(); // the session under the Barrage session, not bs.close()
    const ended = await waitUntil(t, () => t.state !== "live", 5_000);
    console.log(
      `after the session closed: ${t.state} after ${since(start)} ms, ${t.error?.codeName ?? "no error"}`,
    );
    assert.ok(ended, "the table is no longer live within 5 s of its session closing");
    if (t.state === "failed") assert.ok(t.error instanceof DeephavenError);
  } finally {
    await bs.close();
  }
});
