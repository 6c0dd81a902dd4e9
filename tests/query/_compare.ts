/**
 * Helpers of the local query, export and CLI acceptance tests: comparing apache-arrow tables row by row (in
 * order, or as sets of rows sorted by key columns, with a relative tolerance for chosen double columns), and
 * parsing timestamps and CSV. Waiting for a local table is tests/helpers/wait.ts (re-exported here).
 *
 * @module
 */

import * as arrow from "apache-arrow";

export { waitUntil } from "../helpers/wait.ts";

/** A cell made comparable: numbers (NaN included), bigints, strings, booleans, timestamps as ms, null. */
export type Cell = null | number | bigint | string | boolean;

/** The cells of a value as apache-arrow returns it. */
export function cell(v: unknown): Cell {
  if (v === null || v === undefined) return null;
  if (v instanceof Date) return v.getTime();
  if (typeof v === "number" || typeof v === "bigint" || typeof v === "string" || typeof v === "boolean") {
    return v;
  }
  return JSON.stringify(v, (_k, x) => (typeof x === "bigint" ? `${x}n` : x));
}

/** Printable form of a cell (bigints with `n`, NaN and infinities spelled out). */
export function show(v: unknown): string {
  return JSON.stringify(
    v,
    (_k, x) => typeof x === "bigint" ? `${x}n` : typeof x === "number" && !Number.isFinite(x) ? String(x) : x,
  ) ??
    "undefined";
}

/** Same value: `===` (so 0 equals -0), with NaN equal to NaN. */
export function same(a: Cell, b: Cell): boolean {
  return a === b || (a !== a && b !== b);
}

/** `a` and `b` are equal within a relative tolerance (exactly equal when not both finite numbers). */
export function near(a: Cell, b: Cell, rel: number): boolean {
  if (typeof a === "number" && typeof b === "number" && Number.isFinite(a) && Number.isFinite(b)) {
    return Math.abs(a - b) <= rel * Math.max(Math.abs(a), Math.abs(b));
  }
  return same(a, b);
}

/** The rows of an Arrow table as arrays of cells, in the order of `columns`. */
export function rowsOf(t: arrow.Table, columns: string[]): Cell[][] {
  const vectors = columns.map((c) => t.getChild(c));
  const out: Cell[][] = [];
  for (let r = 0; r < t.numRows; r++) out.push(vectors.map((v) => (v ? cell(v.get(r)) : null)));
  return out;
}

/** Options of {@linkcode tableDiffs}. */
export interface TableDiffOptions {
  /** Compare rows in order (default), or as sets sorted by these key columns. */
  keys?: string[];
  /** Double columns compared with a relative tolerance (default none: every value exactly). */
  tolerant?: string[];
  /** The relative tolerance, default 1e-9. */
  rel?: number;
  /** Stop after this many differences, default 10. */
  limit?: number;
}

function keyText(row: Cell[], idx: number[]): string {
  let s = "";
  for (const i of idx) s += `${typeof row[i]}:${String(row[i])}\u0000`;
  return s;
}

/**
 * Lists the differences between two Arrow tables: column names and types, row count, then cells, each as
 * "row R (key K), column C: actual A, expected E".
 *
 * @param actual The table under test.
 * @param expected The reference table.
 * @param options Keys (for tables whose row order is not defined), tolerant columns, limit.
 * @returns The differences (empty when equal).
 */
export function tableDiffs(
  actual: arrow.Table,
  expected: arrow.Table,
  options: TableDiffOptions = {},
): string[] {
  const out: string[] = [];
  const limit = options.limit ?? 10;
  const rel = options.rel ?? 1e-9;
  const names = (t: arrow.Table) => t.schema.fields.map((f) => f.name);
  if (show(names(actual)) !== show(names(expected))) {
    return [`columns ${show(names(actual))}, expected ${show(names(expected))}`];
  }
  for (const ef of expected.schema.fields) {
    const af = actual.schema.fields.find((f) => f.name === ef.name)!;
    if (String(af.type) !== String(ef.type)) {
      out.push(`column ${ef.name}: type ${String(af.type)}, expected ${String(ef.type)}`);
    }
  }
  if (out.length > 0) return out;
  const columns = names(expected);
  let a = rowsOf(actual, columns), e = rowsOf(expected, columns);
  const keyIdx = (options.keys ?? []).map((k) => columns.indexOf(k));
  if (options.keys) {
    const sort = (rows: Cell[][]) =>
      rows.map((r) => ({ r, k: keyText(r, keyIdx) })).sort((x, y) => (x.k < y.k ? -1 : x.k > y.k ? 1 : 0))
        .map((x) => x.r);
    a = sort(a);
    e = sort(e);
  }
  if (a.length !== e.length) out.push(`row count ${a.length}, expected ${e.length}`);
  const tolerant = new Set(options.tolerant ?? []);
  for (let r = 0; r < Math.min(a.length, e.length) && out.length < limit; r++) {
    for (let j = 0; j < columns.length; j++) {
      const ok = tolerant.has(columns[j]) ? near(a[r][j], e[r][j], rel) : same(a[r][j], e[r][j]);
      if (!ok) {
        const key = options.keys ? ` (key ${show(keyIdx.map((i) => e[r][i]))})` : "";
        out.push(`row ${r}${key}, column ${columns[j]}: actual ${show(a[r][j])}, expected ${show(e[r][j])}`);
      }
    }
  }
  if (a.length !== e.length) {
    out.push(`actual rows: ${show(a.slice(0, 8))}`, `expected rows: ${show(e.slice(0, 8))}`);
  }
  return out;
}

/** Timestamps as nanoseconds since the epoch, from the raw Arrow values of a column. */
export function nanos(t: arrow.Table, column: string): (bigint | null)[] {
  const out: (bigint | null)[] = [];
  const v = t.getChild(column)!;
  const unit = (v.type as arrow.Timestamp).unit;
  const factor = [1_000_000_000n, 1_000_000n, 1_000n, 1n][unit];
  for (const data of v.data) {
    const chunk = arrow.makeVector(data);
    const values = data.values as unknown as ArrayLike<bigint>;
    for (let i = 0; i < data.length; i++) out.push(chunk.isValid(i) ? BigInt(values[i]) * factor : null);
  }
  return out;
}

/** Parses an ISO 8601 instant with up to nine fraction digits into nanoseconds since the epoch. */
export function parseIsoNanos(text: string): bigint {
  const m = text.match(/^(\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2})(?:\.(\d{1,9}))?Z$/);
  if (!m) throw new Error(`Not an ISO instant: ${JSON.stringify(text)}`);
  const seconds = BigInt(Date.parse(`${m[1]}Z`)) / 1000n;
  return seconds * 1_000_000_000n + BigInt((m[2] ?? "").padEnd(9, "0"));
}

/** A CSV field: its text and whether it was quoted. */
export interface CsvField {
  value: string;
  quoted: boolean;
}

/** A small RFC 4180 parser that keeps quoted and unquoted fields apart (`""` is the empty string). */
export function parseCsv(text: string): CsvField[][] {
  const rows: CsvField[][] = [];
  let row: CsvField[] = [];
  let i = 0;
  while (i < text.length) {
    let value = "", quoted = false;
    if (text[i] === '"') {
      quoted = true;
      i++;
      while (true) {
        if (i >= text.length) throw new Error("A quoted CSV field is not closed");
        if (text[i] === '"') {
          if (text[i + 1] === '"') {
            value += '"';
            i += 2;
            continue;
          }
          i++;
          break;
        }
        value += text[i++];
      }
    } else {
      while (i < text.length && text[i] !== "," && text[i] !== "\r" && text[i] !== "\n") {
        if (text[i] === '"') throw new Error(`A quote inside an unquoted CSV field at offset ${i}`);
        value += text[i++];
      }
    }
    row.push({ value, quoted });
    if (text[i] === ",") i++;
    else {
      if (text.slice(i, i + 2) !== "\r\n") {
        throw new Error(`A CSV record does not end with CRLF at offset ${i}`);
      }
      i += 2;
      rows.push(row);
      row = [];
    }
  }
  return rows;
}
