/**
 * R2 to R6: faults against one shared server (each test file runs in its own isolate, so a file shares one
 * server; these share it to save the start-ups). R3 only watches for a minute, so it runs in the background
 * while R2 and R4 run, on its own session; its test comes after them and awaits its outcome.
 *
 * R2: the connection cut between client and server, through a loopback TCP proxy (tcp_proxy.ts).
 * Paused (bytes stop, connections stay open), the client finds out by itself: the session's keep-alive
 * refresh (every `http.session.durationMs / 2` = 5 s here, with a 5 s deadline) fails with
 * DEADLINE_EXCEEDED and the session goes `reconnecting`; the subscription stream has no such deadline and
 * ends when grpc-js's HTTP/2 keep-alive ping (sent after 15 s, answered within 10 s, see channel.ts) goes
 * unanswered and the connection is dropped, about 20-25 s into the pause; then the table goes `stale`. When
 * bytes flow again the server has expired the session (no refresh for more than 10 s), so the client logs
 * in again, replays its handles and resubscribes. Killed (every connection closed, the port refusing), the
 * stream fails at once, the session reconnects with backoff until the proxy accepts again, and the table
 * resubscribes.
 *
 * R3: a server whose sessions expire after 10 s without a refresh (`-Dhttp.session.durationMs=10000`, the
 * shortest it allows) and a client that holds nothing but one subscription for 60 s. The stream carries no
 * token, so only the session's own keep-alive (every 5 s) keeps the server session, and with it the stream,
 * alive: the table must tick all along with no gap longer than a few seconds, the session must stay
 * connected without logging in again, and the table must equal a fresh snapshot at the end.
 *
 * R4: the ticket of a live subscription is released. What the server does (found by these tests): an
 * established subscription holds its own reference to the table, so releasing the ticket does not end it.
 * Neither the publisher releasing a shared ticket and closing its session, nor the subscriber releasing its
 * own handle, stops the updates; the table stays `live`. The released ticket matters when the client must
 * subscribe again: after a lost connection the resubscription is refused, and the table must end `failed`
 * with a DeephavenError that names the cause, promptly and without retrying forever.
 *
 * R5: a consumer that stops reading `updates()` for 20 s on a table whose 100,000 rows all change ten times
 * a second. The table itself stays current; what waits for the consumer must stay bounded: past `maxQueued`
 * waiting updates the queue is replaced by one `coalesced` update. Memory is measured after full garbage
 * collections during the stall, the next update the consumer reads says `coalesced` and carries the whole
 * table, and once the source stops ticking the table equals a fresh snapshot.
 *
 * R6: single Barrage messages of about 4 MiB (just over grpc-js's default receive limit) and about 100 MiB
 * (the server's default message cap) arrive intact, and so do the Flight DoGet messages of the same tables.
 * The table is one string column whose rows are `String.format("%08d", i)` repeated, so every row is checked
 * exactly; a tap on the session's DoExchange streams records the message sizes, to prove the messages really
 * were that large.
 */

import assert from "node:assert/strict";
import type * as arrow from "apache-arrow";
import {
  barrageSession,
  DeephavenError,
  GrpcCode,
  type LiveTable,
  type LocalTable,
  Session,
  SharedTicket,
  type TableRef,
  type TableUpdate,
} from "../../mod.ts";
import { sessionCoreOf } from "../../src/session/session.ts";
import { scopeTicket } from "../../src/session/ticket.ts";
import {
  assertMatchesSnapshot,
  heapAfterGc,
  nextUpdates,
  resilienceServer,
  since,
  StateLog,
  tableReaches,
  tableStates,
  tapExchangeSizes,
  waitUntil,
  within,
} from "./_util.ts";
import { TcpProxy } from "./tcp_proxy.ts";

// ------------------------------------------------------------------------------------------------ R3

const HOLD_MS = 60_000;
const MAX_GAP_MS = 5_000;

/** The whole of R3: hold, then check. Runs once, started by the first test of this file. */
async function runR3(): Promise<void> {
  const server = await resilienceServer();
  const { host, port } = server;
  // Its own Barrage session (the header only keeps the cache from handing back another test's).
  const bs = await barrageSession({ host, port, extraHeaders: { "x-test": "r3-session-expiry" } });
  try {
    assert.equal(bs.session.sessionDurationMs, 10_000, "the server's session duration is 10 s");
    const ticket = scopeTicket("ticking");
    const t = await bs.subscribe(ticket);
    const log = new StateLog(bs.session);
    const generation = sessionCoreOf(bs.session).generation;
    const times: number[] = [performance.now()];
    let resubscribed = 0;
    t.onUpdate((u) => {
      times.push(performance.now());
      if (u.resubscribed) resubscribed++;
    });
    const states: string[] = [];
    t.onStateChange((s) => states.push(s));

    // Holding the subscription for a minute is the condition under test, so this wait is the test itself.
    await new Promise((r) => setTimeout(r, HOLD_MS));
    times.push(performance.now());

    let maxGap = 0;
    for (let i = 1; i < times.length; i++) maxGap = Math.max(maxGap, times[i] - times[i - 1]);
    console.log(
      `R3: ${times.length - 2} updates in ${HOLD_MS / 1000} s, longest gap ${Math.round(maxGap)} ms`,
    );
    assert.ok(
      maxGap < MAX_GAP_MS,
      `no gap longer than ${MAX_GAP_MS} ms between updates (${Math.round(maxGap)})`,
    );
    assert.ok(times.length - 2 >= HOLD_MS / 2_000, "the table ticked all along");
    assert.deepEqual(log.states, [], "the session never left 'connected'");
    assert.equal(bs.session.state, "connected");
    assert.equal(sessionCoreOf(bs.session).generation, generation, "the same server session all along");
    assert.deepEqual(states, [], "the table never went stale");
    assert.equal(resubscribed, 0, "no resubscription was needed");
    assert.equal(t.state, "live");

    const size = t.size;
    assertMatchesSnapshot("ticking", t, await bs.session.toArrow(ticket), "prefix", size);
    log.stop();
    t.close();
  } finally {
    await bs.close();
  }
}

let r3Run: Promise<void> | undefined;

/**
 * Starts R3 (once). Holding a subscription for a minute only watches, so it runs side by side with R2 and R4
 * (other sessions, other tables) to keep this file short; its test awaits the outcome.
 */
function startR3(): Promise<void> {
  if (!r3Run) {
    r3Run = runR3();
    r3Run.catch(() => {}); // reported by the R3 test, which awaits it
  }
  return r3Run;
}

// ------------------------------------------------------------------------------------------------ R2

/** Counts the `resubscribed` updates of a table. */
function countResubscribed(t: LocalTable): { n: number } {
  const c = { n: 0 };
  t.onUpdate((u) => {
    if (u.resubscribed) c.n++;
  });
  return c;
}

async function setUp(proxy: TcpProxy) {
  const host = "127.0.0.1";
  const session = await Session.connect({ host, port: proxy.port, reconnect: { baseMs: 100, capMs: 2000 } });
  const bs = await barrageSession({ host, port: proxy.port });
  const tickingRef = session.openTable("ticking");
  const staticRef = session.openTable("static100");
  const ticking: LiveTable = await bs.subscribe(tickingRef);
  const stat: LiveTable = await bs.subscribe(staticRef);
  await nextUpdates(ticking, 2, 15_000);
  return { session, bs, tickingRef, staticRef, ticking, stat };
}

/**
 * After a recovery: waits until `ticking` grows, then compares `stat` with a fresh snapshot of `static100`
 * and `ticking` with a fresh snapshot of its source (the rows it had before the wait, at least).
 */
async function assertTicksAndMatchesSnapshots(
  t: Pick<Awaited<ReturnType<typeof setUp>>, "ticking" | "tickingRef" | "stat" | "staticRef">,
): Promise<void> {
  const size = t.ticking.size;
  assert.ok(await waitUntil(t.ticking, () => t.ticking.size > size, 15_000), "ticking again");
  assertMatchesSnapshot("static100", t.stat, await t.staticRef.toArrow(), "equal");
  assertMatchesSnapshot("ticking", t.ticking, await t.tickingRef.toArrow(), "prefix", size);
}

Deno.test({
  name: "R2: a paused connection is detected by the keep-alives, and the client recovers when it flows again",
  sanitizeOps: false,
  sanitizeResources: false,
  async fn() {
    const server = await resilienceServer();
    startR3();
    const proxy = TcpProxy.start(server.port);
    const { session, bs, tickingRef, staticRef, ticking, stat } = await setUp(proxy);
    try {
      const log = new StateLog(session);
      const states = tableStates(ticking);
      const resub = countResubscribed(ticking), statResub = countResubscribed(stat);
      const generation = sessionCoreOf(session).generation;

      const pausedAt = performance.now();
      proxy.pause();
      await log.until("reconnecting", 30_000);
      const reconnectingMs = since(pausedAt);
      await tableReaches(ticking, "stale", 45_000);
      const staleMs = since(pausedAt);
      console.log(
        `R2 paused: session reconnecting after ${reconnectingMs} ms (keep-alive refresh deadline), ` +
          `table stale after ${staleMs} ms (HTTP/2 keep-alive ping timeout)`,
      );
      assert.ok(reconnectingMs < 15_000, "the session notices within one refresh interval plus its deadline");
      assert.ok(
        staleMs < 35_000,
        "the HTTP/2 keep-alive (a ping after 15 s, 10 s to answer) ends the dead stream",
      );

      const resumedAt = performance.now();
      proxy.resume();
      await log.until("connected", 60_000);
      await tableReaches(ticking, "live", 60_000);
      await tableReaches(stat, "live", 60_000);
      console.log(`R2 paused: connected and live ${since(resumedAt)} ms after the resume`);
      assert.deepEqual(log.states, ["reconnecting", "connected"]);
      assert.deepEqual(states.states, ["stale", "live"]);
      assert.equal(resub.n, 1);
      assert.equal(statResub.n, 1);
      assert.ok(
        sessionCoreOf(session).generation > generation,
        "the server expired the session during the pause, so the client logged in again",
      );

      await assertTicksAndMatchesSnapshots({ ticking, tickingRef, stat, staticRef });
      log.stop();
    } finally {
      ticking.close();
      stat.close();
      await bs.close();
      await session.close();
      proxy.close();
    }
  },
});

Deno.test({
  name: "R2: killed connections and a refusing port: the client reconnects once the proxy accepts again",
  sanitizeOps: false,
  sanitizeResources: false,
  async fn() {
    const server = await resilienceServer();
    const proxy = TcpProxy.start(server.port);
    const { session, bs, tickingRef, staticRef, ticking, stat } = await setUp(proxy);
    try {
      const log = new StateLog(session);
      const states = tableStates(ticking);
      const resub = countResubscribed(ticking);
      const generation = sessionCoreOf(session).generation;

      const acceptedBefore = proxy.accepted;
      const killedAt = performance.now();
      proxy.stopAccepting();
      proxy.killAll();
      await tableReaches(ticking, "stale", 10_000);
      await log.until("reconnecting", 10_000);
      console.log(`R2 killed: stale and reconnecting ${since(killedAt)} ms after the kill`);
      // The outage itself is the condition under test: the port refuses for two seconds (reconnect attempts
      // fail with UNAVAILABLE and back off), then accepts again.
      await new Promise((r) => setTimeout(r, 2_000));
      assert.equal(session.state, "reconnecting", "still reconnecting while the port refuses");
      assert.equal(ticking.state, "stale");

      const acceptedAt = performance.now();
      proxy.startAccepting();
      await log.until("connected", 30_000);
      await tableReaches(ticking, "live", 30_000);
      await tableReaches(stat, "live", 30_000);
      const sameSession = sessionCoreOf(session).generation === generation;
      console.log(
        `R2 killed: connected and live ${since(acceptedAt)} ms after the proxy accepted again ` +
          `(${sameSession ? "same server session, no replay" : "new server session, handles replayed"})`,
      );
      assert.deepEqual(log.states, ["reconnecting", "connected"]);
      assert.deepEqual(states.states, ["stale", "live"]);
      assert.equal(resub.n, 1);
      assert.ok(proxy.accepted > acceptedBefore, "the client opened a new connection through the proxy");

      await assertTicksAndMatchesSnapshots({ ticking, tickingRef, stat, staticRef });
      log.stop();
    } finally {
      ticking.close();
      stat.close();
      await bs.close();
      await session.close();
      proxy.close();
    }
  },
});

// ------------------------------------------------------------------------------------------------ R4

/** Iterating `updates()` of a failed table throws its error. */
async function iterationThrows(t: { updates(): AsyncIterable<unknown>; error: DeephavenError | undefined }) {
  await assert.rejects(
    (async () => {
      for await (const _ of t.updates()) { /* the iteration throws the table's error */ }
    })(),
    (e: unknown) => e === t.error,
  );
}

Deno.test({
  name:
    "R4: a shared ticket released by its publisher: the subscription keeps ticking, a resubscription fails",
  sanitizeOps: false,
  sanitizeResources: false,
  async fn() {
    const server = await resilienceServer();
    const { host, port } = server;
    const proxy = TcpProxy.start(port);
    const publisher = await Session.connect({ host, port });
    const bs = await barrageSession({ host, port: proxy.port });
    try {
      const ticket = SharedTicket.randomTicket();
      const table = publisher.timeTable("PT0.1s").update(["X = ii"]);
      await publisher.publishTable(ticket, table);
      const t = await bs.subscribe(ticket.bytes);
      await nextUpdates(t, 1, 15_000);

      await table.close(); // releases the export behind the shared ticket
      await publisher.close(); // and ends the publisher's session with everything it held
      await nextUpdates(t, 3, 15_000);
      assert.equal(t.state, "live", "the server keeps the subscribed table alive: it still ticks");

      // Lose the connection: the client must subscribe again, and the ticket is gone.
      const cutAt = performance.now();
      proxy.killAll();
      await tableReaches(t, "failed", 30_000);
      console.log(
        `R4 shared: failed ${since(cutAt)} ms after the cut: ${t.error?.codeName}: ${t.error?.message}`,
      );
      assert.ok(t.error instanceof DeephavenError);
      assert.ok(
        [GrpcCode.NOT_FOUND, GrpcCode.FAILED_PRECONDITION].includes(t.error.code as 5 | 9),
        `NOT_FOUND or FAILED_PRECONDITION, got ${t.error.codeName}`,
      );
      assert.match(t.error.message, /released|not published|no longer/i, "the message names the cause");
      assert.match(t.error.message, new RegExp(ticket.hex.slice(2, 10)), "and the ticket");
      await iterationThrows(t);
      assert.equal(bs.session.state, "connected", "the session itself is fine");
      t.close();
      assert.equal(t.state, "closed");
    } finally {
      await bs.close();
      await publisher.close();
      proxy.close();
    }
  },
});

Deno.test({
  name: "R4: the subscriber's own handle released: the subscription keeps ticking, a resubscription fails",
  sanitizeOps: false,
  sanitizeResources: false,
  async fn() {
    const server = await resilienceServer();
    const proxy = TcpProxy.start(server.port);
    const session = await Session.connect({ host: "127.0.0.1", port: proxy.port });
    const bs = await barrageSession({ host: "127.0.0.1", port: proxy.port });
    try {
      const ref = session.timeTable("PT0.1s").update(["X = ii"]);
      const t = await bs.subscribe(ref);
      await nextUpdates(t, 1, 15_000);
      await ref.close(); // Release of the export the subscription was made from.
      await nextUpdates(t, 3, 15_000);
      assert.equal(t.state, "live", "the server keeps the subscribed table alive: it still ticks");

      const cutAt = performance.now();
      proxy.killAll();
      await tableReaches(t, "failed", 30_000);
      console.log(
        `R4 own: failed ${since(cutAt)} ms after the cut: ${t.error?.codeName}: ${t.error?.message}`,
      );
      assert.ok(t.error instanceof DeephavenError);
      assert.ok(
        [GrpcCode.NOT_FOUND, GrpcCode.FAILED_PRECONDITION].includes(t.error.code as 5 | 9),
        `NOT_FOUND or FAILED_PRECONDITION, got ${t.error.codeName}`,
      );
      assert.match(t.error.message, /released/i, "the message names the cause");
      await iterationThrows(t);
      t.close();
    } finally {
      await bs.close();
      await session.close();
      proxy.close();
    }
  },
});

Deno.test({
  name: "R3: a session holding only a subscription for 60 s with 10 s server sessions keeps ticking",
  sanitizeOps: false,
  sanitizeResources: false,
  async fn() {
    await startR3();
  },
});

// ------------------------------------------------------------------------------------------------ R5

const R5_ROWS = 100_000;
/** The source ticks while `ii < TICKS` (ten ticks a second), then stands still. */
const TICKS = 300;
const STALL_MS = 20_000;
/** A small queue, so the updates overflow it well within the stall. */
const MAX_QUEUED = 5;

Deno.test({
  name: "R5: a consumer that stops reading for 20 s holds bounded memory and then reads a coalesced update",
  sanitizeOps: false,
  sanitizeResources: false,
  async fn() {
    const server = await resilienceServer();
    const { host, port } = server;
    await using session = await Session.connect({ host, port });
    const bs = await barrageSession({ host, port, extraHeaders: { "x-test": "r5-slow-consumer" } });
    try {
      // One row whose T changes every tick, crossed with 100,000 static rows: every row changes every tick.
      const tick = session.timeTable("PT0.1s").where(`ii < ${TICKS}`).view(["T = ii"]).lastBy();
      const big = session.emptyTable(R5_ROWS).update(["K = i"]).join(tick);
      const live = await bs.subscribe(big, { minUpdateIntervalMs: 100 });
      assert.equal(live.size, R5_ROWS);

      const it = live.updates(undefined, MAX_QUEUED)[Symbol.asyncIterator]();
      const first = await it.next();
      assert.equal(first.done, false);
      assert.notEqual(first.value.coalesced, true);

      // The consumer stops reading. The stall is the condition under test, so the waits are the test itself.
      let received = 0;
      const off = live.onUpdate(() => received++);
      const baseline = heapAfterGc();
      const growth: number[] = [];
      for (let waited = 0; waited < STALL_MS; waited += 2_000) {
        await new Promise((r) => setTimeout(r, 2_000));
        growth.push(heapAfterGc() - baseline);
      }
      off();
      const mib = (n: number) => Math.round(n / 2 ** 20 * 10) / 10;
      console.log(
        `R5: ${received} updates while the consumer slept; heap growth after GC (MiB): ${
          growth.map(mib).join(", ")
        }`,
      );
      assert.ok(received >= 4 * MAX_QUEUED, `far more updates than the queue holds arrived (${received})`);
      // Each waiting update holds at least the slots of its 100,000 modified rows (400 KB): keeping all of them
      // would grow the heap by more than received × 400 KB; the bounded queue keeps at most MAX_QUEUED of them.
      const unbounded = received * R5_ROWS * 4;
      const bound = MAX_QUEUED * R5_ROWS * 4 + 4 * 2 ** 20;
      assert.ok(unbounded > 2 * bound, "the measurement can tell the two apart");
      assert.ok(
        Math.max(...growth) < bound,
        `heap growth stayed under ${mib(bound)} MiB (an unbounded queue: over ${mib(unbounded)} MiB)`,
      );

      const next = await it.next();
      assert.equal(next.done, false);
      const u: TableUpdate = next.value;
      assert.equal(u.coalesced, true, "the next update read says coalesced");
      assert.equal(u.isSnapshot, true);
      assert.equal(u.size, R5_ROWS);
      assert.ok(u.added.equals(live.rowSet), "it carries the whole current table");
      const after = await within(it.next(), 10_000, "an update after the coalesced one");
      assert.notEqual(after.value?.coalesced, true, "then ordinary updates follow");
      await it.return?.();

      // Once the source stops ticking the table settles; it must equal a fresh snapshot.
      const last = BigInt(TICKS - 1);
      assert.ok(
        await waitUntil(live, () => live.get(0, "T") === last && live.get(R5_ROWS - 1, "T") === last, 40_000),
        `the source stops at T = ${last}`,
      );
      assertMatchesSnapshot("slow consumer", live, await big.toArrow(), "equal");
      live.close();
    } finally {
      await bs.close();
    }
  },
});

// ------------------------------------------------------------------------------------------------ R6

const MiB = 2 ** 20;

function rowText(i: number, reps: number): string {
  return String(i).padStart(8, "0").repeat(reps);
}

function checkLocal(label: string, t: LocalTable, rows: number, reps: number): void {
  assert.equal(t.size, rows, `${label}: rows`);
  for (let i = 0; i < rows; i++) {
    const v = t.get(i, "S");
    if (v !== rowText(i, reps)) assert.fail(`${label}: row ${i} is damaged (${String(v).slice(0, 40)}...)`);
  }
}

function checkArrow(label: string, a: arrow.Table, rows: number, reps: number): void {
  assert.equal(a.numRows, rows, `${label}: rows`);
  const s = a.getChild("S")!;
  for (let i = 0; i < rows; i++) {
    if (s.get(i) !== rowText(i, reps)) assert.fail(`${label}: row ${i} is damaged`);
  }
}

function bigStrings(session: Session, rows: number, reps: number): TableRef {
  return session.emptyTable(rows).update([`S = String.format("%08d", i).repeat(${reps})`]);
}

Deno.test({
  name: "R6: a message of about 4 MiB (over grpc-js's default limit) arrives intact",
  sanitizeOps: false,
  sanitizeResources: false,
  async fn() {
    const { host, port } = await resilienceServer();
    await using session = await Session.connect({ host, port });
    const bs = await barrageSession({ host, port, extraHeaders: { "x-test": "r6-large" } });
    const tap = tapExchangeSizes(session);
    try {
      // 4096 rows (the server's first batch) of 1040 characters: one record batch of 4.08 MiB.
      const rows = 4096, reps = 130;
      const ref = bigStrings(session, rows, reps);
      const live = await bs.subscribe(ref);
      const largest = Math.max(...tap.sizes);
      console.log(`R6 4 MiB: subscription message bodies ${tap.sizes.join(", ")} bytes`);
      assert.ok(largest > 4 * MiB && largest < 5 * MiB, `one message of 4-5 MiB (${largest})`);
      checkLocal("subscribe", live, rows, reps);
      live.close();

      tap.sizes.length = 0;
      const snap = await bs.snapshot(ref);
      assert.ok(Math.max(...tap.sizes) > 4 * MiB, "the Barrage snapshot also came as one large message");
      checkLocal("snapshot", snap, rows, reps);
      checkArrow("DoGet", await session.toArrow(ref), rows, reps);
    } finally {
      tap.restore();
      await bs.close();
    }
  },
});

Deno.test({
  name: "R6: a message of about 100 MiB arrives intact",
  sanitizeOps: false,
  sanitizeResources: false,
  async fn() {
    const { host, port } = await resilienceServer();
    await using session = await Session.connect({ host, port });
    const bs = await barrageSession({ host, port, extraHeaders: { "x-test": "r6-large" } });
    const tap = tapExchangeSizes(session);
    try {
      // 65,536 rows of 1704 characters (112 MB): the server sends its first 4096 rows, then, with a message
      // cap of 128 MiB, the other 61,440 rows (about 100 MiB) in one message.
      const rows = 65_536, reps = 213;
      const ref = bigStrings(session, rows, reps);
      let start = performance.now();
      const live = await bs.subscribe(ref, { batchSize: rows, maxMessageSize: 128 * MiB });
      const largest = Math.max(...tap.sizes);
      console.log(
        `R6 100 MiB: subscribed in ${since(start)} ms; message bodies ${tap.sizes.join(", ")} bytes`,
      );
      assert.ok(largest > 95 * MiB && largest <= 128 * MiB, `one message of about 100 MiB (${largest})`);
      checkLocal("subscribe", live, rows, reps);
      live.close();

      // DoGet with the server's default cap (100 MiB): its largest message is about 90% of that.
      start = performance.now();
      const a = await session.toArrow(ref);
      console.log(`R6 100 MiB: DoGet in ${since(start)} ms`);
      checkArrow("DoGet", a, rows, reps);
    } finally {
      tap.restore();
      await bs.close();
    }
  },
});
