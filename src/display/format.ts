/**
 * Formatting of Deephaven values for people: ISO timestamps, visible nulls,
 * and plain-text tables for terminals and `text/plain` outputs.
 *
 * @module
 */

import * as arrow from "../deps/apache_arrow.ts";
import { LocalTable } from "../table/local_table.ts";
import { Instant } from "../table/time.ts";
import { arrowValues } from "../barrage/from_arrow.ts";
import { DeephavenError } from "../errors.ts";
import { checkInteger, shown } from "../validate.ts";

/** How a null value is shown. */
export const NULL_TEXT = "(null)";

/**
 * Formats one value for display: an `Instant` as ISO text with its nanoseconds when it has them
 * (`2023-11-14T22:13:20.123456789Z`), `(null)` for null.
 *
 * @param v The value as a table's `get` returns it.
 * @returns Display text.
 */
export function formatValue(v: unknown): string {
  if (v === null || v === undefined) return NULL_TEXT;
  if (v instanceof Instant) return v.toString();
  if (v instanceof Date) return Number.isNaN(v.getTime()) ? "Invalid date" : v.toISOString();
  if (typeof v === "number") {
    if (Number.isInteger(v)) return String(v);
    return String(Number(v.toPrecision(12)));
  }
  if (typeof v === "bigint") return v.toString();
  if (v instanceof Uint8Array) return `0x${Array.from(v, (b) => b.toString(16).padStart(2, "0")).join("")}`;
  if (Array.isArray(v)) return `[${v.map(formatValue).join(", ")}]`;
  return String(v);
}

/** A table as the formatters see it: named columns and values by row position. */
export interface TableLike {
  /** Column names. */
  readonly columns: readonly string[];
  /** Row count. */
  readonly size: number;
  /** The value at a row position and column. */
  get(row: number, column: string): unknown;
}

/**
 * Refuses what is neither a local table nor an apache-arrow `Table`.
 *
 * @param t The value.
 * @param what The call, e.g. `formatText()`.
 * @returns `t`.
 */
export function checkTable<T extends LocalTable | arrow.Table>(t: T, what: string): T {
  if (!(t instanceof arrow.Table) && !(t instanceof LocalTable)) {
    throw DeephavenError.invalid(`${what} needs a LocalTable or an apache-arrow Table, got ${shown(t)}`);
  }
  return t;
}

/**
 * Adapts a local table or an apache-arrow `Table` to {@linkcode TableLike}; an apache-arrow table's values
 * read as a local table's would (an `Instant` for a timestamp, decimal text for a BigDecimal, ...).
 */
export function tableLike(t: LocalTable | arrow.Table): TableLike {
  checkTable(t, "Showing a table");
  if (t instanceof arrow.Table) {
    const names = t.schema.fields.map((f) => f.name);
    const index = new Map(names.map((n, j) => [n, j]));
    // The values a local table would give (exact instants and decimals), read by the same decoder.
    const values = arrowValues(t);
    return {
      columns: names,
      size: t.numRows,
      get: (row, column) => {
        const j = index.get(column);
        return j === undefined ? undefined : values(row, j);
      },
    };
  }
  return t;
}

/** Options of {@linkcode formatText}. */
export interface FormatTextOptions {
  /** Rows shown from the top. Default 10. */
  head?: number;
  /** Rows shown from the bottom. Default 5. */
  tail?: number;
  /** Longest cell text before it is cut. Default 40. */
  maxWidth?: number;
}

/**
 * A plain-text table: a header, the head and tail rows, and `…` between.
 *
 * @param table The table.
 * @param options Window sizes and cell width.
 * @returns The text.
 */
export function formatText(table: LocalTable | arrow.Table, options: FormatTextOptions = {}): string {
  const t = tableLike(table);
  const head = options.head ?? 10, tail = options.tail ?? 5, maxWidth = options.maxWidth ?? 40;
  checkInteger(head, "Showing a table needs `head` rows", 0);
  checkInteger(tail, "Showing a table needs `tail` rows", 0);
  checkInteger(maxWidth, "Showing a table needs `maxWidth`", 2);
  const rows: number[] = [];
  if (t.size <= head + tail) { for (let i = 0; i < t.size; i++) rows.push(i); }
  else {
    for (let i = 0; i < head; i++) rows.push(i);
    rows.push(-1);
    for (let i = t.size - tail; i < t.size; i++) rows.push(i);
  }
  const cut = (s: string) => (s.length > maxWidth ? `${s.slice(0, maxWidth - 1)}…` : s);
  const cells = rows.map((r) => t.columns.map((c) => (r < 0 ? "…" : cut(formatValue(t.get(r, c))))));
  const widths = t.columns.map((c, j) => Math.max(c.length, ...cells.map((row) => row[j].length)));
  const line = (vals: string[]) => vals.map((v, j) => v.padEnd(widths[j])).join(" | ").trimEnd();
  const out = [line([...t.columns]), widths.map((w) => "-".repeat(w)).join("-+-"), ...cells.map(line)];
  out.push(`(${t.size} rows × ${t.columns.length} columns)`);
  return out.join("\n");
}
