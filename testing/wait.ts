/**
 * Waiting for a local table to reach a condition with a deadline, woken by the table's events (never by
 * sleeping). Shared by the Barrage, query, CLI and resilience acceptance tests.
 *
 * @module
 */

import { DeephavenError, GrpcCode } from "../src/errors.ts";
import type { LocalTable } from "../src/table/local_table.ts";

/**
 * Waits until `cond()` holds, checking after every update and state change of `table`, or until the deadline.
 * It never sleeps: it wakes on table events (and once at the deadline).
 *
 * @param table The local table to watch.
 * @param cond The condition; checked at once and after each event.
 * @param timeoutMs The deadline in milliseconds.
 * @returns `true` when the condition held, `false` at the deadline or when the table closed or failed.
 */
export async function waitUntil(table: LocalTable, cond: () => boolean, timeoutMs: number): Promise<boolean> {
  if (cond()) return true;
  let wake: () => void = () => {};
  let timer: ReturnType<typeof setTimeout> | undefined;
  const offU = table.onUpdate(() => wake());
  const offS = table.onStateChange(() => wake());
  const deadline = Date.now() + timeoutMs;
  try {
    while (true) {
      const left = deadline - Date.now();
      if (left <= 0) return cond();
      await new Promise<void>((r) => {
        wake = r;
        timer = setTimeout(r, left);
      });
      clearTimeout(timer);
      if (cond()) return true;
      if (table.state === "closed" || table.state === "failed") return false;
    }
  } finally {
    clearTimeout(timer);
    offU();
    offS();
  }
}

/**
 * Waits for the next `n` updates of a table, with a deadline.
 *
 * @param table The table.
 * @param n How many updates.
 * @param timeoutMs The deadline.
 * @returns The updates seen.
 * @throws {DeephavenError} `DEADLINE_EXCEEDED` when fewer arrived in time.
 */
export async function nextUpdates(table: LocalTable, n: number, timeoutMs: number): Promise<number> {
  let seen = 0;
  const off = table.onUpdate(() => seen++);
  try {
    if (!await waitUntil(table, () => seen >= n, timeoutMs)) {
      throw new DeephavenError(
        `Only ${seen} of ${n} updates arrived within ${timeoutMs} ms (${table.state})`,
        {
          code: GrpcCode.DEADLINE_EXCEEDED,
        },
      );
    }
    return seen;
  } finally {
    off();
  }
}

/** Milliseconds since `start`, rounded. */
export function since(start: number): number {
  return Math.round(performance.now() - start);
}
