/**
 * Helpers shared by the resilience tests: the shared server they use, waiting on session and table events
 * with deadlines, comparing a local table with a fresh snapshot, counting message sizes on the wire, and
 * forcing garbage collection for memory measurements.
 *
 * @module
 */

import assert from "node:assert/strict";
import type * as arrow from "apache-arrow";
import type { LocalTable, Session, SessionState } from "../../mod.ts";
import { sessionCoreOf } from "../../src/session/session.ts";
import type { BidiCall } from "../../src/transport/channel.ts";
import type { FlightData } from "../../src/generated/proto/arrow/flight/protocol/flight_pb.ts";
import { type DhServer, sharedServer } from "../../testing/server.ts";
import { tableDiffs } from "../../testing/compare.ts";

export { nextUpdates, since, waitUntil } from "../../testing/wait.ts";

/**
 * The tables of the shared resilience server: `ticking` is append-only (10 rows a second, so a prefix of it
 * never changes), `static100` never changes.
 */
export const RESILIENCE_SCRIPT = `from deephaven import time_table, empty_table
ticking = time_table("PT0.1s").update(["X = ii", "K = ii % 7", "S = \`s\` + ii"])
static100 = empty_table(100).update(["A = i", "B = i * 2.5", "S = \`s\` + i"])
`;

/** The JVM arguments of the shared resilience server. */
export const RESILIENCE_JVM_ARGS = [
  "-Xmx3g",
  // The shortest session the server allows: tokens must be refreshed every few seconds.
  "-Dhttp.session.durationMs=10000",
  // Ten engine cycles a second, so updates are frequent enough for the slow-consumer test.
  "-DPeriodicUpdateGraph.targetCycleDurationMillis=100",
  // Initial snapshots in one piece: how the server splits a growing snapshot depends on timing, and the
  // large-message test needs one message of a known size.
  "-DBarrageMessageProducer.subscriptionGrowthEnabled=false",
];

/**
 * The server of the resilience tests (auth: anonymous and pre-shared key), started on first use. Deno runs
 * each test file in its own isolate, so each file that calls this starts (and, when it ends, stops) its own.
 *
 * @returns The server.
 */
export function resilienceServer(): Promise<DhServer> {
  return sharedServer("resilience", {
    auth: "both",
    jvmArgs: RESILIENCE_JVM_ARGS,
    script: RESILIENCE_SCRIPT,
  });
}

/**
 * Settles `p` or fails after `ms`, so a hang fails the test instead of the run.
 *
 * @param p The promise.
 * @param ms The deadline.
 * @param what What is awaited, for the failure message.
 * @returns The value.
 */
export async function within<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  try {
    return await Promise.race([
      p,
      new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new Error(`${what} did not happen within ${ms} ms`)), ms);
      }),
    ]);
  } finally {
    clearTimeout(timer);
  }
}

/** The states a session went through, in order, with the time of each. */
export class StateLog {
  readonly states: SessionState[] = [];
  readonly times: number[] = [];
  readonly #off: () => void;
  readonly #waiters = new Set<() => void>();

  /** @param session The session to watch (from now on). */
  constructor(readonly session: Session) {
    this.#off = session.onStateChange((s) => {
      this.states.push(s);
      this.times.push(performance.now());
      for (const w of [...this.#waiters]) w();
    });
  }

  /**
   * Waits until the session is in `state`, woken by its state changes.
   *
   * @param state The state.
   * @param ms The deadline.
   */
  async until(state: SessionState, ms: number): Promise<void> {
    const end = Date.now() + ms;
    while (this.session.state !== state) {
      const left = end - Date.now();
      if (left <= 0) {
        assert.fail(
          `the session did not reach '${state}' within ${ms} ms (now '${this.session.state}', seen ${
            JSON.stringify(this.states)
          })`,
        );
      }
      let timer: ReturnType<typeof setTimeout> | undefined;
      let wake!: () => void;
      await new Promise<void>((r) => {
        wake = r;
        this.#waiters.add(wake);
        timer = setTimeout(r, left);
      });
      this.#waiters.delete(wake);
      clearTimeout(timer);
    }
  }

  /** Stops watching. */
  stop(): void {
    this.#off();
  }
}

/** The states a local table went through, in order. */
export function tableStates(t: LocalTable): { states: string[]; off: () => void } {
  const states: string[] = [];
  const off = t.onStateChange((s) => states.push(s));
  return { states, off };
}

/**
 * Waits until a table reaches `state`, failing after `ms` with what it saw.
 *
 * @param t The table.
 * @param state The state.
 * @param ms The deadline.
 */
export async function tableReaches(t: LocalTable, state: string, ms: number): Promise<void> {
  const end = Date.now() + ms;
  while (t.state !== state) {
    const left = end - Date.now();
    if (left <= 0) {
      assert.fail(
        `the table did not reach '${state}' within ${ms} ms (now '${t.state}': ${t.error?.message ?? ""})`,
      );
    }
    let timer: ReturnType<typeof setTimeout> | undefined;
    let off = () => {};
    await new Promise<void>((r) => {
      off = t.onStateChange(() => r());
      timer = setTimeout(r, left);
    });
    off();
    clearTimeout(timer);
  }
}

/**
 * Asserts that a local table equals a fresh server snapshot: all rows (`"equal"`), or, for an append-only
 * table that keeps growing, the rows both hold (`"prefix"`, at least `minRows` of them).
 *
 * @param label For messages.
 * @param local The local table.
 * @param fresh The snapshot (e.g. `TableRef.toArrow()`), taken after the local table's state was read.
 * @param mode Whole table or common prefix.
 * @param minRows The fewest rows a prefix comparison must cover.
 * @returns The number of rows compared.
 */
export function assertMatchesSnapshot(
  label: string,
  local: LocalTable,
  fresh: arrow.Table,
  mode: "equal" | "prefix",
  minRows = 1,
): number {
  const mine = local.toArrow();
  if (mode === "equal") {
    assert.deepEqual(tableDiffs(mine, fresh), [], `${label}: the local table equals a fresh snapshot`);
    return mine.numRows;
  }
  const n = Math.min(mine.numRows, fresh.numRows);
  assert.ok(
    n >= minRows,
    `${label}: at least ${minRows} rows to compare (local ${mine.numRows}, fresh ${fresh.numRows})`,
  );
  assert.deepEqual(
    tableDiffs(mine.slice(0, n), fresh, { expectedRows: [0, n] }),
    [],
    `${label}: the first ${n} rows equal a fresh snapshot`,
  );
  return n;
}

/** What a tap saw of one DoExchange stream (see {@linkcode tapExchanges}). */
export interface TappedExchange {
  /** Messages received. */
  received: FlightData[];
  /** Whether the client cancelled the call. */
  cancelled: boolean;
  /** How the stream ended: `"done"`, an error, or `undefined` while it runs. */
  ended: "done" | Error | undefined;
}

/**
 * A test-only tap on the session's DoExchange streams (subscriptions and Barrage snapshots): it records each
 * stream's messages, whether the client cancelled it and how it ended, and can replace messages on their way
 * in (to hand the client a damaged one).
 *
 * @param session The session.
 * @param replace Called with each message received (stream number, message number); what it returns goes on.
 * @returns The streams seen so far, and a function that removes the tap.
 */
export function tapExchanges(
  session: Session,
  replace?: (fd: FlightData, stream: number, index: number) => FlightData,
): { streams: TappedExchange[]; restore: () => void } {
  const channel = sessionCoreOf(session).channel as unknown as Record<string, unknown>;
  const original = channel.bidi as (...a: unknown[]) => BidiCall<unknown, FlightData>;
  const streams: TappedExchange[] = [];
  channel.bidi = (...args: unknown[]) => {
    const call = original.apply(channel, args);
    const inner = call[Symbol.asyncIterator]();
    const seen: TappedExchange = { received: [], cancelled: false, ended: undefined };
    const number = streams.push(seen) - 1;
    return {
      send: call.send,
      end: call.end,
      cancel: () => {
        seen.cancelled = true;
        call.cancel();
      },
      headers: call.headers,
      [Symbol.asyncIterator]: () => ({
        next: async () => {
          try {
            const r = await inner.next();
            if (r.done) {
              seen.ended ??= "done";
              return r;
            }
            const fd = replace ? replace(r.value, number, seen.received.length) : r.value;
            seen.received.push(fd);
            return { done: false, value: fd };
          } catch (e) {
            seen.ended ??= e as Error;
            throw e;
          }
        },
        return: (v?: unknown) => inner.return?.(v) ?? Promise.resolve({ done: true as const, value: v }),
      }),
    };
  };
  return { streams, restore: () => delete channel.bidi };
}

/**
 * Records the body size of every FlightData message that the session's DoExchange streams (subscriptions
 * and Barrage snapshots) receive (for a stream whose messages' bytes are taken as they arrive, a Barrage
 * snapshot's, the size of the whole message). A test-only tap on the session's channel.
 *
 * @param session The session.
 * @returns The sizes seen so far, and a function that removes the tap.
 */
export function tapExchangeSizes(session: Session): { sizes: number[]; restore: () => void } {
  const sizes: number[] = [];
  const channel = sessionCoreOf(session).channel as unknown as Record<string, unknown>;
  const original = channel.bidi as (...a: unknown[]) => unknown;
  // A stream whose bytes are taken as they arrive reports each message's size through its `receive` option.
  channel.bidi = (...args: unknown[]) => {
    const opts = args[1] as { receive?: (n: number) => unknown } | undefined;
    const receive = opts?.receive;
    if (receive) args[1] = { ...opts, receive: (n: number) => (sizes.push(n), receive(n)) };
    return original.apply(channel, args);
  };
  const { restore } = tapExchanges(session, (fd) => {
    sizes.push(fd.dataBody.length);
    return fd;
  });
  return { sizes, restore };
}

export { collectGarbage, heapAfterGc } from "../../testing/leaks.ts";
