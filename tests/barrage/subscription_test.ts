/**
 * Subscriptions in the cases that users hit, against a real server:
 * - a growing snapshot of a large table that ticks while it arrives in many messages: the table is complete
 *   when `subscribe()` returns, and after a stream reset the listeners see the fresh snapshot as one
 *   `resubscribed` update (never rows without data, never snapshot rows reported as modified);
 * - a stream reset with `UNAVAILABLE` on a healthy connection (an HTTP/2 proxy resets that one stream): the
 *   table resubscribes alone and the session stays connected;
 * - blink tables: each update replaces the rows;
 * - deadlines and abort signals: a server whose snapshot never completes fails `subscribe()`, `snapshot()` and
 *   `setViewport()` with `DEADLINE_EXCEEDED`, an abort with `CANCELLED`, and the stream is cancelled;
 * - messages that do not fit the table (removes of rows it does not hold, offsets past a viewport's end): the
 *   table fails with `DATA_LOSS` instead of drifting away from the server.
 */

import assert from "node:assert/strict";
import {
  barrageSession,
  DeephavenError,
  DEFAULT_READY_TIMEOUT_MS,
  GrpcCode,
  type LiveTable,
  RowSet,
  Session,
  type TableUpdate,
} from "../../mod.ts";
import { scopeTicket } from "../../src/session/ticket.ts";
import { decodeUpdateMetadata, type UpdateMetadata } from "../../src/wire/messages.ts";
import type { FlightData } from "../../src/generated/proto/arrow/flight/protocol/flight_pb.ts";
import { serverTest } from "../../testing/server.ts";
import { tableDiffs } from "../../testing/compare.ts";
import { encodeUpdateMetadata } from "../../testing/barrage_encode.ts";
import { nextUpdates, since, waitUntil } from "../../testing/wait.ts";
import { StateLog, tableReaches, tapExchanges, type TappedExchange } from "../resilience/_util.ts";
import { H2Proxy } from "../resilience/h2_proxy.ts";

/** The update metadata of the messages of a tapped stream. */
function metadataOf(s: TappedExchange): UpdateMetadata[] {
  return s.received.filter((fd) => fd.appMetadata.length > 0).map((fd) =>
    decodeUpdateMetadata(fd.appMetadata)
  )
    .filter((m): m is UpdateMetadata => m !== undefined);
}

/** How a full subscription's initial snapshot arrived: growth steps, and deltas before it was complete. */
function growth(s: TappedExchange): { steps: number; deltasBetween: number } {
  let steps = 0, deltasBetween = 0;
  for (const m of metadataOf(s)) {
    if (m.isSnapshot && m.effectiveViewport === undefined) return { steps: steps + 1, deltasBetween };
    if (m.isSnapshot) steps++;
    else deltasBetween++;
  }
  return { steps, deltasBetween };
}

const GROW_ROWS = 1_000_000;

const GROW_SETUP = `
import random, threading
from deephaven import input_table, dtypes, new_table, empty_table
from deephaven.column import int_col, double_col
from deephaven.execution_context import get_exec_ctx

gs_ctx = get_exec_ctx()

gs_src = input_table(col_defs={"K": dtypes.int32, "V": dtypes.double, "W": dtypes.int32}, key_cols="K")
gs_src.add(empty_table(${GROW_ROWS}).update(["K = i * 2", "V = (double) ((i * 7919L) % 1000003)", "W = i"]))
gs_view = gs_src.sort("V")
gs_n = gs_src.count_by("N")
gs_keys = set(range(0, ${2 * GROW_ROWS}, 2))
gs_stop = threading.Event()
gs_cycles = [0]

def _gs_tick():
    # Inserts (odd keys), moves (new V of existing rows: shifts in the sorted view) and deletes, all the time.
    with gs_ctx:
        _gs_loop()

def _gs_loop():
    rng = random.Random(7)
    while not gs_stop.is_set():
        ks = [rng.randrange(0, ${2 * GROW_ROWS}) for _ in range(300)]
        gs_src.add(new_table([
            int_col("K", ks),
            double_col("V", [rng.random() * 1000003 for _ in ks]),
            int_col("W", [-rng.randrange(1, 1000) for _ in ks]),
        ]))
        gs_keys.update(ks)
        dels = list({k for k in (rng.randrange(0, ${2 * GROW_ROWS}) for _ in range(200)) if k in gs_keys})
        gs_src.delete(new_table([int_col("K", dels)]))
        gs_keys.difference_update(dels)
        gs_cycles[0] += 1

def gs_start():
    gs_stop.clear()
    threading.Thread(target=_gs_tick, daemon=True).start()
`;

serverTest(
  "growing snapshot: a large table that ticks while its snapshot arrives in many messages is complete when " +
    "subscribe() returns, and a resubscription reaches listeners as one whole update",
  {},
  async (server) => {
    await using session = await Session.connect({ host: server.host, port: server.port });
    await session.runScript(GROW_SETUP);
    const proxy = H2Proxy.start(server.port);
    const bs = await barrageSession({
      host: "127.0.0.1",
      port: proxy.port,
      extraHeaders: { "x-test": "growing" },
    });
    const tap = tapExchanges(bs.session);
    let live: LiveTable | undefined;
    try {
      await session.runScript("gs_start()");
      // Once the table is changing (a small count of it ticks), the snapshot that follows arrives while it does.
      const ticking = await bs.subscribe(scopeTicket("gs_n"));
      await nextUpdates(ticking, 1, 60_000);
      ticking.close();
      const firstStream = tap.streams.length;
      const started = performance.now();
      live = await bs.subscribe(scopeTicket("gs_view"), { minUpdateIntervalMs: 100 });
      const t = live;
      console.log(`growing: subscribed in ${since(started)} ms, ${t.size} rows`);
      const first = growth(tap.streams[firstStream]);
      console.log(
        `growing: initial snapshot in ${first.steps} steps, ${first.deltasBetween} deltas in between`,
      );
      assert.ok(first.steps >= 3, `the snapshot came in several messages (${first.steps})`);
      assert.ok(
        first.deltasBetween >= 1,
        `the table changed while it arrived (${first.deltasBetween} deltas)`,
      );
      // Complete when subscribe() returns: every row has its data (K and W are never null on the server).
      const nullK = t.column("K").filter((v) => v === null).length;
      const nullW = t.column("W").filter((v) => v === null).length;
      assert.equal(nullK + nullW, 0, `no row without data (${nullK} null K, ${nullW} null W)`);
      assert.ok(Math.abs(t.size - GROW_ROWS) < GROW_ROWS / 10, `about ${GROW_ROWS} rows (${t.size})`);

      // Listeners, and local queries, from now on.
      const seen: TableUpdate[] = [];
      const problems: string[] = [];
      const count = t.aggBy({ N: "count()" });
      t.onUpdate((u) => {
        seen.push(u);
        if (u.isSnapshot && !u.modified.isEmpty) {
          problems.push(`a snapshot update reports ${u.modified.size} modified rows`);
        }
        if (u.resubscribed) {
          const missing = t.column("K").filter((v) => v === null).length +
            t.column("W").filter((v) => v === null).length;
          if (missing > 0) problems.push(`the resubscribed update shows ${missing} null placeholders`);
          if (u.added.size !== t.size) {
            problems.push(`the resubscribed update adds ${u.added.size} of ${t.size} rows`);
          }
        } else if (!u.isSnapshot) {
          // A delta touches few rows: its added rows must carry data.
          for (const key of u.added) {
            if (t.get(t.rowSet.positionOf(key), "K") === null) problems.push(`added key ${key} has no data`);
          }
        }
      });
      const states: string[] = [];
      let staleAt = -1;
      t.onStateChange((s) => {
        states.push(s);
        if (s === "stale") staleAt = seen.length;
      });
      const log = new StateLog(bs.session);
      await nextUpdates(t, 2, 20_000);

      // Reset the subscription's stream: the table resubscribes while the table keeps ticking.
      const busiest = proxy.openStreams().sort((a, b) => b.bytesDown - a.bytesDown)[0];
      proxy.refuse(busiest);
      await tableReaches(t, "stale", 20_000);
      await tableReaches(t, "live", 60_000);
      const second = growth(tap.streams[firstStream + 1]);
      console.log(
        `growing: resubscribed ${
          since(started)
        } ms in; snapshot in ${second.steps} steps, ${second.deltasBetween} deltas in between`,
      );
      assert.ok(second.steps >= 2, `the fresh snapshot came in several messages (${second.steps})`);
      // Updates already on their way when the stream was reset may come first; from 'stale' on, the first
      // update listeners see is the whole fresh table.
      const during = seen.slice(staleAt);
      assert.equal(during.filter((u) => u.resubscribed).length, 1, "one resubscribed update");
      assert.equal(
        during[0].resubscribed,
        true,
        "no update reached listeners before the fresh snapshot was whole",
      );
      assert.deepEqual(problems.slice(0, 10), []);
      assert.deepEqual(states, ["stale", "live"]);
      assert.deepEqual(log.states, [], "the session stayed connected");
      log.stop();

      // Stop the ticking: the table and its local query must equal the server's.
      await session.runScript("gs_stop.set()");
      const expected = await session.openTable("gs_view").toArrow();
      assert.ok(
        await waitUntil(
          t,
          () => t.size === expected.numRows && tableDiffs(t.toArrow(), expected).length === 0,
          30_000,
        ),
        `the table equals the server's (${tableDiffs(t.toArrow(), expected).slice(0, 3)})`,
      );
      assert.equal(count.get(0, "N"), BigInt(expected.numRows), "the local count follows");
      count.close();
    } finally {
      await session.runScript("gs_stop.set()");
      tap.restore();
      live?.close();
      await bs.close();
      proxy.close();
    }
  },
);

serverTest(
  "stream reset: a stream that fails with UNAVAILABLE on a healthy connection resubscribes that table alone",
  {},
  async (server) => {
    await using session = await Session.connect({ host: server.host, port: server.port });
    await session.runScript(`from deephaven import time_table
sr_t = time_table("PT0.1s").update(["X = ii"])
sr_other = time_table("PT0.1s").update(["Y = ii * 2"])`);
    const proxy = H2Proxy.start(server.port);
    const bs = await barrageSession({
      host: "127.0.0.1",
      port: proxy.port,
      extraHeaders: { "x-test": "reset" },
    });
    const tap = tapExchanges(bs.session);
    try {
      const live = await bs.subscribe(scopeTicket("sr_t"), { minUpdateIntervalMs: 100 });
      const other = await bs.subscribe(scopeTicket("sr_other"), { minUpdateIntervalMs: 100 });
      await nextUpdates(live, 2, 20_000);
      const log = new StateLog(bs.session);
      const states: string[] = [], otherStates: string[] = [];
      live.onStateChange((s) => states.push(s));
      other.onStateChange((s) => otherStates.push(s));
      const resubscribed: TableUpdate[] = [];
      live.onUpdate((u) => u.resubscribed && resubscribed.push(u));
      const mine = proxy.openStreams().find((s) =>
        s.bytesDown > 0 && s.id === Math.min(
            ...proxy.openStreams().filter((x) => x.bytesDown > 0).map((x) => x.id),
          )
      )!;
      proxy.refuse(mine);
      await tableReaches(live, "stale", 20_000);
      await tableReaches(live, "live", 20_000);
      const failed = tap.streams[0].ended;
      assert.ok(
        failed instanceof DeephavenError && failed.code === GrpcCode.UNAVAILABLE,
        `the stream failed with UNAVAILABLE (${failed})`,
      );
      assert.deepEqual(log.states, [], "the session never left 'connected'");
      assert.equal(bs.session.state, "connected");
      assert.deepEqual(states, ["stale", "live"]);
      assert.deepEqual(otherStates, [], "the other subscription was not touched");
      assert.equal(resubscribed.length, 1, "one resubscribed update");
      assert.equal(tap.streams.length, 3, "one new stream, for that table only");
      const n = live.size;
      await waitUntil(live, () => live.size > n + 2, 20_000);
      const xs = live.column("X") as bigint[];
      assert.ok(xs.every((x, i) => x === BigInt(i)), "the rows are the server's, in order, without gaps");
      log.stop();
    } finally {
      tap.restore();
      await bs.close();
      proxy.close();
    }
  },
);

serverTest("blink: each update of a blink table replaces the rows", {}, async (server) => {
  await using session = await Session.connect({ host: server.host, port: server.port });
  await session.runScript(`from deephaven import time_table
bl_t = time_table("PT0.05s", blink_table=True).update(["X = epochNanos(Timestamp)"])`);
  const bs = await barrageSession({
    host: server.host,
    port: server.port,
    extraHeaders: { "x-test": "blink" },
  });
  try {
    const live = await bs.subscribe(scopeTicket("bl_t"), { minUpdateIntervalMs: 100 });
    assert.equal(live.schema.metadata.get("deephaven:attribute.BlinkTable"), "true");
    const problems: string[] = [];
    let previous: { keys: RowSet; xs: bigint[] } = { keys: live.rowSet, xs: live.column("X") as bigint[] };
    let updates = 0, rows = 0;
    live.onUpdate((u) => {
      updates++;
      const xs = live.column("X") as bigint[];
      rows += xs.length;
      if (!u.removed.equals(previous.keys)) {
        problems.push(`update ${updates} removes ${u.removed}, not ${previous.keys}`);
      }
      if (!live.rowSet.equals(u.added)) {
        problems.push(`update ${updates}: the table holds ${live.rowSet}, not its adds ${u.added}`);
      }
      if (!u.modified.isEmpty) problems.push(`update ${updates} modifies rows`);
      for (let i = 1; i < xs.length; i++) {
        if (xs[i] <= xs[i - 1]) problems.push(`update ${updates}: X not increasing`);
      }
      const last = previous.xs.at(-1);
      if (last !== undefined && xs.length > 0 && xs[0] <= last) {
        problems.push(`update ${updates}: X ${xs[0]} repeats rows of the previous update (last ${last})`);
      }
      if (xs.length > 0) previous = { keys: live.rowSet, xs };
      else previous = { keys: live.rowSet, xs: previous.xs };
    });
    await nextUpdates(live, 10, 30_000);
    console.log(`blink: ${updates} updates, ${rows} rows, each update replacing the last`);
    assert.deepEqual(problems.slice(0, 10), []);
    assert.ok(rows > 10, `rows arrived (${rows})`);
    assert.equal(live.state, "live");
  } finally {
    await bs.close();
  }
});

const BLOCK_SETUP = `
import threading
from deephaven import empty_table
dl_gate1 = threading.Event()
dl_gate2 = threading.Event()

def dl_block1(i) -> int:
    dl_gate1.wait(120)
    return i

def dl_block2(i) -> int:
    dl_gate2.wait(120)
    return i

# Rows 0..4 read at once; reading any later row waits for the gate (a snapshot that never completes). Two
# tables with a gate each: the server's threads that wait at the first are freed before the second is used.
dl_t1 = empty_table(10).update_view(["X = i < 5 ? i : dl_block1(i)"])
dl_t2 = empty_table(10).update_view(["X = i < 5 ? i : dl_block2(i)"])
`;

serverTest(
  "deadlines and signals: a snapshot that never completes fails subscribe, snapshot and setViewport in time " +
    "and cancels the stream",
  {},
  async (server) => {
    await using session = await Session.connect({ host: server.host, port: server.port });
    await session.runScript(BLOCK_SETUP);
    const bs = await barrageSession({
      host: server.host,
      port: server.port,
      extraHeaders: { "x-test": "deadline" },
    });
    const tap = tapExchanges(bs.session);
    const ticket = scopeTicket("dl_t1");
    const expectFailure = async (
      p: Promise<unknown>,
      code: number,
      within: [number, number],
      what: string,
    ) => {
      const t0 = performance.now();
      const streams = tap.streams.length;
      const e = await p.then(() => undefined, (e) => e);
      const ms = since(t0);
      assert.ok(e instanceof DeephavenError, `${what}: a DeephavenError (${e})`);
      assert.equal(e.code, code, `${what}: ${e.message}`);
      assert.ok(ms >= within[0] && ms <= within[1], `${what}: failed after ${ms} ms`);
      const s = tap.streams.at(-1)!;
      if (tap.streams.length > streams) assert.ok(s.cancelled, `${what}: the stream was cancelled`);
      console.log(`${what}: ${e.codeName} after ${ms} ms: ${e.message}`);
      return e;
    };
    try {
      assert.equal(DEFAULT_READY_TIMEOUT_MS, 120_000);
      await expectFailure(
        // Each case its own update interval: the server shares one producer per table and interval, and a
        // producer blocked in a snapshot serves no one else.
        bs.subscribe(ticket, { readyTimeoutMs: 1500, minUpdateIntervalMs: 1001 }),
        GrpcCode.DEADLINE_EXCEEDED,
        [1400, 10_000],
        "subscribe",
      );
      await expectFailure(
        bs.snapshot(ticket, { readyTimeoutMs: 1500 }),
        GrpcCode.DEADLINE_EXCEEDED,
        [1400, 10_000],
        "snapshot",
      );
      const ac = new AbortController();
      const aborting = bs.subscribe(ticket, { signal: ac.signal, minUpdateIntervalMs: 1002 });
      setTimeout(() => ac.abort(), 500); // the abort under test, not a wait for a condition
      await expectFailure(aborting, GrpcCode.CANCELLED, [400, 10_000], "subscribe aborted");
      const ac2 = new AbortController();
      const snapping = bs.snapshot(ticket, { signal: ac2.signal });
      setTimeout(() => ac2.abort(), 500);
      await expectFailure(snapping, GrpcCode.CANCELLED, [400, 10_000], "snapshot aborted");
      const before = tap.streams.length;
      await expectFailure(
        bs.subscribe(ticket, { signal: AbortSignal.abort() }),
        GrpcCode.CANCELLED,
        [0, 1000],
        "subscribe with an aborted signal",
      );
      assert.equal(tap.streams.length, before, "an aborted signal opens no stream");
      await assert.rejects(
        bs.subscribe(ticket, { readyTimeoutMs: -1 }),
        (e: DeephavenError) => e.code === GrpcCode.INVALID_ARGUMENT,
      );

      // A viewport of the rows that read at once works; moving it onto the blocked rows times out, and the
      // subscription goes on with its rows.
      await session.runScript("dl_gate1.set()");
      const vp = await bs.subscribe(scopeTicket("dl_t2"), { viewport: { first: 0, last: 4 } });
      assert.deepEqual(vp.column("X"), [0n, 1n, 2n, 3n, 4n]);
      const e = await vp.setViewport({ first: 5, last: 9 }, { timeoutMs: 1500 }).then(
        () => undefined,
        (e) => e,
      );
      assert.ok(e instanceof DeephavenError && e.code === GrpcCode.DEADLINE_EXCEEDED, `setViewport: ${e}`);
      assert.equal(vp.state, "live");
      assert.deepEqual(vp.column("X"), [0n, 1n, 2n, 3n, 4n], "the rows held stay");
      const ac3 = new AbortController();
      const moving = vp.setViewport({ first: 6, last: 9 }, { signal: ac3.signal });
      ac3.abort();
      await assert.rejects(moving, (e: DeephavenError) => e.code === GrpcCode.CANCELLED);
      // Once the server can read the rows, the latest viewport arrives.
      await session.runScript("dl_gate2.set()");
      assert.ok(
        await waitUntil(vp, () => vp.size === 4 && vp.get(0, "X") === 6n, 30_000),
        "the last viewport arrived",
      );
      assert.equal(vp.sourcePosition(0), 6);
      vp.close();
    } finally {
      await session.runScript("dl_gate1.set()\ndl_gate2.set()");
      tap.restore();
      await bs.close();
    }
  },
);

/** Replaces the first delta after `armed()` with a copy changed by `change`. */
function damageFirstDelta(armed: () => boolean, change: (m: UpdateMetadata) => UpdateMetadata) {
  let done = false;
  return (fd: FlightData): FlightData => {
    if (done || !armed() || fd.appMetadata.length === 0) return fd;
    const m = decodeUpdateMetadata(fd.appMetadata);
    if (!m || m.isSnapshot) return fd;
    done = true;
    return { ...fd, appMetadata: encodeUpdateMetadata(change(m)) } as FlightData;
  };
}

serverTest("data loss: a message that does not fit the table fails it with DATA_LOSS", {}, async (server) => {
  await using session = await Session.connect({ host: server.host, port: server.port });
  await session.runScript(`from deephaven import time_table
dloss_t = time_table("PT0.1s").update(["X = ii"])`);
  const bs = await barrageSession({
    host: server.host,
    port: server.port,
    extraHeaders: { "x-test": "data-loss" },
  });
  try {
    // A full subscription told to remove a row it never had.
    let armed = false;
    const tap = tapExchanges(
      bs.session,
      damageFirstDelta(
        () => armed,
        (m) => ({ ...m, removedRows: m.removedRows.union(RowSet.fromKeys([2n ** 40n])) }),
      ),
    );
    const full = await bs.subscribe(scopeTicket("dloss_t"), { minUpdateIntervalMs: 100 });
    armed = true;
    await tableReaches(full, "failed", 20_000);
    assert.equal(full.error?.code, GrpcCode.DATA_LOSS, full.error?.message);
    assert.match(full.error!.message, /removes 1 rows the table does not hold/);
    tap.restore();

    // A viewport told to remove an offset past its end.
    armed = false;
    const tap2 = tapExchanges(
      bs.session,
      damageFirstDelta(() => armed, (m) => ({ ...m, removedRows: RowSet.fromKeys([50n]) })),
    );
    const vp = await bs.subscribe(scopeTicket("dloss_t"), {
      viewport: { first: 0, last: 9 },
      reverse: true, // the last rows: every tick changes them
      minUpdateIntervalMs: 100,
    });
    assert.ok(await waitUntil(vp, () => vp.size === 10, 20_000), "the viewport fills up");
    armed = true;
    await tableReaches(vp, "failed", 20_000);
    assert.equal(vp.error?.code, GrpcCode.DATA_LOSS, vp.error?.message);
    tap2.restore();
    console.log(`data loss: ${full.error!.message} / ${vp.error!.message}`);
  } finally {
    await bs.close();
  }
});
