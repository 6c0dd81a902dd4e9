/**
 * Helpers shared by the Barrage acceptance tests: listing the differences of two apache-arrow tables (with
 * the row and column of every mismatch, on top of tests/helpers/arrow_equal.ts), and waiting for updates of
 * a local table with a deadline (on top of tests/helpers/wait.ts).
 *
 * @module
 */

import type * as arrow from "apache-arrow";
import { DeephavenError, GrpcCode } from "../../src/errors.ts";
import type { LocalTable } from "../../src/table/local_table.ts";
import { cellEqual, showCell, vectorCells } from "../helpers/arrow_equal.ts";
import { waitUntil } from "../helpers/wait.ts";

export { assertArrowEqual } from "../helpers/arrow_equal.ts";
export { waitUntil } from "../helpers/wait.ts";

/** Options of {@linkcode arrowDiffs}. */
export interface DiffOptions {
  /** Rows of `expected` to compare against, `[from, to)` (default: all rows). */
  expectedRows?: [number, number];
  /** Stop after this many mismatches (default 20). */
  limit?: number;
}

/**
 * Lists the differences between two Arrow tables, without throwing: column names and types, row count, then
 * values (compared as tests/helpers/arrow_equal.ts does: raw integers for timestamps, `Object.is` for
 * floats), each as "row R, column C: actual A, expected E". For a full comparison that also checks
 * metadata, use {@linkcode assertArrowEqual}.
 *
 * @param actual The table under test.
 * @param expected The reference table.
 * @param options A row window of `expected`, and a limit.
 * @returns The differences (empty when equal).
 */
export function arrowDiffs(actual: arrow.Table, expected: arrow.Table, options: DiffOptions = {}): string[] {
  const out: string[] = [];
  const limit = options.limit ?? 20;
  const an = actual.schema.fields.map((f) => `${f.name}: ${f.type}`);
  const en = expected.schema.fields.map((f) => `${f.name}: ${f.type}`);
  if (JSON.stringify(an) !== JSON.stringify(en)) {
    return [`columns ${JSON.stringify(an)}, expected ${JSON.stringify(en)}`];
  }
  const [from, to] = options.expectedRows ?? [0, expected.numRows];
  if (actual.numRows !== to - from) return [`row count ${actual.numRows}, expected ${to - from}`];
  const window = from === 0 && to === expected.numRows ? expected : expected.slice(from, to);
  for (const [c, field] of actual.schema.fields.entries()) {
    const a = vectorCells(actual.getChildAt(c)!);
    const e = vectorCells(window.getChildAt(c)!);
    for (let r = 0; r < a.length; r++) {
      if (!cellEqual(a[r], e[r])) {
        out.push(
          `row ${from + r}, column ${field.name}: actual ${showCell(a[r])}, expected ${showCell(e[r])}`,
        );
        if (out.length >= limit) return out;
      }
    }
  }
  return out;
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
