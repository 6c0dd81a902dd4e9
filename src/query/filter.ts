/**
 * The filters of local `where`: a predicate over the row, or comparisons such as `"X > 5"`,
 * `"Sym == 'A'"`, `"Y != null"`, `"A < B"`, `"Ts >= '2024-01-31T09:30:00.000000001Z'"` (several are and-ed),
 * compiled to a test of a storage slot. Timestamps compare by their exact epoch nanoseconds.
 *
 * @module
 */

import type { RowFilter } from "../table/local_table.ts";
import { bad, type SlotReader } from "./derive.ts";
import type { ColumnStore } from "../table/column.ts";
import { Instant, type InstantLike } from "../table/time.ts";

const COMPARISON = /^\s*([A-Za-z_][A-Za-z0-9_]*)\s*(==|=|!=|>=|<=|>|<)\s*(.+?)\s*$/;

function literal(text: string): { value: unknown } | undefined {
  if (/^-?\d+(\.\d+)?([eE][-+]?\d+)?$/.test(text)) return { value: Number(text) };
  if (/^-?\d+n$/.test(text)) return { value: BigInt(text.slice(0, -1)) };
  const q = text.match(/^'(.*)'$|^"(.*)"$|^`(.*)`$/);
  if (q) return { value: q[1] ?? q[2] ?? q[3] };
  if (text === "true" || text === "false") return { value: text === "true" };
  if (text === "null") return { value: null };
  return undefined;
}

/** A column's value at a slot as comparisons see it: a timestamp as its exact epoch nanoseconds. */
function valueAt(store: ColumnStore, slot: number): unknown {
  if (store.kind === "timestamp") return store.isNull(slot) ? null : store.raw(slot);
  return store.get(slot);
}

function compileComparison(expr: string, reader: SlotReader): (slot: number) => boolean {
  const m = expr.match(COMPARISON);
  if (!m) {
    throw bad(
      `Cannot read the filter ${
        JSON.stringify(expr)
      }; write "Column op value" with op one of == != < <= > >=, ` +
        "or pass a function of the row",
    );
  }
  const left = reader.index(m[1]);
  const op = m[2] === "=" ? "==" : m[2];
  const lit = literal(m[3]);
  const right = lit ? undefined : reader.index(m[3]);
  const ls = reader.stores[left];
  const rs = right === undefined ? undefined : reader.stores[right];
  // A timestamp compares with ISO text, a bigint of epoch nanoseconds or a number of epoch milliseconds.
  const constant = lit && ls.kind === "timestamp" && lit.value !== null
    ? Instant.from(lit.value as InstantLike).epochNanos
    : lit?.value;
  if (ls.utf8 && lit && typeof lit.value === "string") {
    // A string column against a string: compare the stored bytes, decode nothing.
    const utf8 = ls.utf8, bytes = new TextEncoder().encode(lit.value);
    const test = op === "==" || op === "!="
      ? (c: number) => c === 0
      : op === "<"
      ? (c: number) => c < 0
      : op === "<="
      ? (c: number) => c <= 0
      : op === ">"
      ? (c: number) => c > 0
      : (c: number) => c >= 0;
    return (slot) => {
      if (utf8.isNull(slot)) return op === "!=";
      const pass = test(utf8.compareBytes(slot, bytes));
      return op === "!=" ? !pass : pass;
    };
  }
  return (slot) => {
    const a = valueAt(ls, slot);
    const b = rs ? valueAt(rs, slot) : constant;
    if (op === "==") return a === b || (a !== null && b !== null && a == b);
    if (op === "!=") return !(a === b || (a !== null && b !== null && a == b));
    if (a === null || b === null) return false;
    // deno-lint-ignore no-explicit-any
    const x = a as any, y = b as any;
    return op === "<" ? x < y : op === "<=" ? x <= y : op === ">" ? x > y : x >= y;
  };
}

export function compileFilter(filter: RowFilter, reader: SlotReader): (slot: number) => boolean {
  if (typeof filter === "function") return (slot) => Boolean(filter(reader.row(slot)));
  const parts = (typeof filter === "string" ? [filter] : filter).map((f) => compileComparison(f, reader));
  return (slot) => parts.every((p) => p(slot));
}
