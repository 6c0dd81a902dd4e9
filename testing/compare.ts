/**
 * The one table comparer of the tests and benchmarks: exact comparison of two apache-arrow tables, for
 * checks of this module's results against a reference (pydeephaven, a DoGet, or a naive recomputation).
 * {@linkcode assertArrowEqual} throws at the first difference (schema metadata included);
 * {@linkcode tableDiffs} lists differences (in order or by key columns, a row window, tolerant doubles).
 *
 * Values are turned into comparable forms first: 64-bit integers stay `bigint`, timestamps, dates, times
 * and durations are compared by their raw stored integers (so nanoseconds are not lost to `Date`), binary
 * values become byte arrays and list values become arrays of cells. Floats are compared with `Object.is`,
 * so `NaN` equals `NaN` and `0` differs from `-0`.
 *
 * @module
 */

import {
  type Data,
  DataType,
  makeVector,
  type Table,
  type Timestamp,
  type Vector,
} from "../src/deps/apache_arrow.ts";
import { AssertionError } from "node:assert";

/** A comparable value of one cell. */
export type Cell = null | boolean | number | bigint | string | Cell[] | { [key: string]: Cell };

/** Options of {@linkcode assertArrowEqual}. */
export interface ArrowEqualOptions {
  /** Also compare each field's metadata (`deephaven:type`, ...). Default `true`. */
  fieldMetadata?: boolean;
  /** Also compare each field's `nullable` flag. Default `true`. */
  nullable?: boolean;
  /** Also compare the schema-level metadata (table attributes). Default: the same as `fieldMetadata`. */
  schemaMetadata?: boolean;
}

function isRawInteger(type: DataType): boolean {
  return DataType.isTimestamp(type) || DataType.isDate(type) || DataType.isTime(type) ||
    DataType.isDuration(type) || DataType.isInterval(type);
}

function normalize(value: unknown): Cell {
  if (value === null || value === undefined) return null;
  switch (typeof value) {
    case "boolean":
    case "number":
    case "bigint":
    case "string":
      return value;
  }
  if (value instanceof Uint8Array) return Array.from(value);
  if (ArrayBuffer.isView(value)) {
    return Array.from(value as unknown as ArrayLike<number | bigint>, (x) => x);
  }
  if (value instanceof Date) return value.getTime();
  const v = value as { type?: unknown; data?: unknown; length?: number; toJSON?: () => unknown };
  if (v.type instanceof DataType && Array.isArray(v.data)) return vectorCells(value as Vector);
  if (typeof v.toJSON === "function") return normalize(v.toJSON());
  if (Array.isArray(value)) return value.map(normalize);
  const out: { [key: string]: Cell } = {};
  for (const [k, x] of Object.entries(value as Record<string, unknown>)) out[k] = normalize(x);
  return out;
}

function dataCell(vector: Vector, data: Data, i: number): Cell {
  if (!vector.isValid(i)) return null;
  if (isRawInteger(data.type)) {
    const values = data.values as unknown as ArrayLike<number | bigint>;
    const stride = data.stride;
    if (stride === 1) return values[i];
    const out: Cell[] = [];
    for (let k = 0; k < stride; k++) out.push(values[i * stride + k]);
    return out;
  }
  return normalize(vector.get(i));
}

/**
 * The comparable cells of a vector, chunk by chunk.
 *
 * @param vector An apache-arrow vector.
 * @returns One cell per row.
 */
export function vectorCells(vector: Vector): Cell[] {
  const out: Cell[] = [];
  for (const data of vector.data) {
    const chunk = makeVector(data);
    for (let i = 0; i < data.length; i++) out.push(dataCell(chunk, data, i));
  }
  return out;
}

/**
 * Shows a cell for a diff message.
 *
 * @param cell The cell.
 * @returns A short text.
 */
export function showCell(cell: Cell): string {
  if (cell === null) return "null";
  if (typeof cell === "bigint") return `${cell}n`;
  if (typeof cell === "number") return Object.is(cell, -0) ? "-0" : String(cell);
  if (typeof cell === "string") return JSON.stringify(cell);
  if (Array.isArray(cell)) return `[${cell.map(showCell).join(", ")}]`;
  if (typeof cell === "object") {
    return `{${Object.entries(cell).map(([k, v]) => `${k}: ${showCell(v)}`).join(", ")}}`;
  }
  return String(cell);
}

/**
 * Whether two cells are equal: `Object.is` for scalars, element-wise for arrays and objects.
 *
 * @param a A cell.
 * @param b Another cell.
 * @returns `true` when they are equal.
 */
export function cellEqual(a: Cell, b: Cell): boolean {
  if (Array.isArray(a) || Array.isArray(b)) {
    if (!Array.isArray(a) || !Array.isArray(b) || a.length !== b.length) return false;
    return a.every((x, i) => cellEqual(x, b[i]));
  }
  if (a !== null && b !== null && typeof a === "object" && typeof b === "object") {
    const ka = Object.keys(a);
    const kb = Object.keys(b);
    if (ka.length !== kb.length) return false;
    return ka.every((k) => k in b && cellEqual(a[k], b[k]));
  }
  return Object.is(a, b);
}

function metadataOf(m: Map<string, string>): string {
  return JSON.stringify([...m.entries()].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)));
}

function fail(label: string, message: string): never {
  throw new AssertionError({ message: `${label}: ${message}` });
}

/**
 * Asserts that two apache-arrow tables hold the same columns (names, types, nullability and, by default,
 * field and schema metadata) and the same values in the same order. The failure message names `label`, the column
 * and the row.
 *
 * @param actual The table under test.
 * @param expected The reference table.
 * @param label What is compared, e.g. the operation (`"sumBy(Sym)"`).
 * @param options Which schema parts to compare.
 *
 * @example
 * ```ts ignore
 * assertArrowEqual(await ref.toArrow(), fromPython.get("update")!, "update");
 * ```
 */
export function assertArrowEqual(
  actual: Table,
  expected: Table,
  label: string,
  options: ArrowEqualOptions = {},
): void {
  const { fieldMetadata = true, nullable = true, schemaMetadata = fieldMetadata } = options;
  const an = actual.schema.fields.map((f) => f.name);
  const en = expected.schema.fields.map((f) => f.name);
  if (JSON.stringify(an) !== JSON.stringify(en)) {
    fail(label, `column names differ: actual ${JSON.stringify(an)}, expected ${JSON.stringify(en)}`);
  }
  for (const [c, af] of actual.schema.fields.entries()) {
    const ef = expected.schema.fields[c];
    if (String(af.type) !== String(ef.type)) {
      fail(label, `column ${af.name} has type ${af.type}, expected ${ef.type}`);
    }
    if (nullable && af.nullable !== ef.nullable) {
      fail(label, `column ${af.name} has nullable=${af.nullable}, expected ${ef.nullable}`);
    }
    if (fieldMetadata && metadataOf(af.metadata) !== metadataOf(ef.metadata)) {
      fail(
        label,
        `column ${af.name} has metadata ${metadataOf(af.metadata)}, expected ${metadataOf(ef.metadata)}`,
      );
    }
  }
  if (schemaMetadata && metadataOf(actual.schema.metadata) !== metadataOf(expected.schema.metadata)) {
    fail(
      label,
      `schema metadata ${metadataOf(actual.schema.metadata)}, expected ${
        metadataOf(expected.schema.metadata)
      }`,
    );
  }
  if (actual.numRows !== expected.numRows) {
    fail(label, `${actual.numRows} rows, expected ${expected.numRows}`);
  }
  for (const [c, field] of actual.schema.fields.entries()) {
    const a = vectorCells(actual.getChildAt(c)!);
    const e = vectorCells(expected.getChildAt(c)!);
    if (a.length !== e.length) {
      fail(label, `column ${field.name} has ${a.length} cells, expected ${e.length}`);
    }
    for (let r = 0; r < a.length; r++) {
      if (!cellEqual(a[r], e[r])) {
        fail(label, `row ${r}, column ${field.name}: actual ${showCell(a[r])}, expected ${showCell(e[r])}`);
      }
    }
  }
}

/** Options of {@linkcode tableDiffs}. */
export interface TableDiffOptions {
  /** Compare rows in order (default), or as sets sorted by these key columns. */
  keys?: string[];
  /** Double columns compared with a relative tolerance (default none: every value exactly). */
  tolerant?: string[];
  /** The relative tolerance of `tolerant` columns, default 1e-9. */
  rel?: number;
  /** Rows of `expected` to compare against, `[from, to)` (default: all rows). */
  expectedRows?: [number, number];
  /** Stop after this many differences, default 20. */
  limit?: number;
}

function near(a: Cell, b: Cell, rel: number): boolean {
  if (typeof a === "number" && typeof b === "number" && Number.isFinite(a) && Number.isFinite(b)) {
    return Math.abs(a - b) <= rel * Math.max(Math.abs(a), Math.abs(b));
  }
  return cellEqual(a, b);
}

function keyText(row: Cell[], idx: number[]): string {
  let s = "";
  for (const i of idx) s += `${typeof row[i]}:${showCell(row[i])}\u0000`;
  return s;
}

function rowsOf(t: Table, columns: string[], from: number, to: number): Cell[][] {
  const cells = columns.map((c) => vectorCells(t.getChild(c)!));
  const out: Cell[][] = [];
  for (let r = from; r < to; r++) out.push(cells.map((v) => v[r]));
  return out;
}

/**
 * Lists the differences between two Arrow tables, without throwing: column names and types, row count,
 * then cells (compared as {@linkcode cellEqual} does), each as "row R (key K), column C: actual A,
 * expected E".
 *
 * @param actual The table under test.
 * @param expected The reference table.
 * @param options Keys (for tables whose row order is not defined), tolerant columns, a row window of
 * `expected`, a limit.
 * @returns The differences (empty when equal).
 *
 * @example
 * ```ts ignore
 * assert.deepEqual(tableDiffs(local.toArrow(), await ref.toArrow(), { keys: ["Sym"] }), []);
 * ```
 */
export function tableDiffs(actual: Table, expected: Table, options: TableDiffOptions = {}): string[] {
  const out: string[] = [];
  const limit = options.limit ?? 20;
  const rel = options.rel ?? 1e-9;
  const an = actual.schema.fields.map((f) => `${f.name}: ${f.type}`);
  const en = expected.schema.fields.map((f) => `${f.name}: ${f.type}`);
  if (JSON.stringify(an) !== JSON.stringify(en)) {
    return [`columns ${JSON.stringify(an)}, expected ${JSON.stringify(en)}`];
  }
  const columns = expected.schema.fields.map((f) => f.name);
  const [from, to] = options.expectedRows ?? [0, expected.numRows];
  let a = rowsOf(actual, columns, 0, actual.numRows), e = rowsOf(expected, columns, from, to);
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
    for (let j = 0; j < columns.length && out.length < limit; j++) {
      const ok = tolerant.has(columns[j]) ? near(a[r][j], e[r][j], rel) : cellEqual(a[r][j], e[r][j]);
      if (!ok) {
        const key = options.keys ? ` (key ${keyIdx.map((i) => showCell(e[r][i])).join(", ")})` : "";
        out.push(
          `row ${from + r}${key}, column ${columns[j]}: actual ${showCell(a[r][j])}, expected ${
            showCell(e[r][j])
          }`,
        );
      }
    }
  }
  if (a.length !== e.length) {
    const few = (rows: Cell[][]) =>
      `[${rows.slice(0, 8).map((r) => `[${r.map(showCell).join(", ")}]`).join(", ")}]`;
    out.push(`actual rows: ${few(a)}`, `expected rows: ${few(e)}`);
  }
  return out;
}

/** Timestamps as nanoseconds since the epoch, from the raw Arrow values of a column. */
export function nanos(t: Table, column: string): (bigint | null)[] {
  const out: (bigint | null)[] = [];
  const v = t.getChild(column)!;
  const unit = (v.type as Timestamp).unit;
  const factor = [1_000_000_000n, 1_000_000n, 1_000n, 1n][unit];
  for (const data of v.data) {
    const chunk = makeVector(data);
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
