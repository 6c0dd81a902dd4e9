/**
 * Exact comparison of two apache-arrow tables, for tests that check this module's results against a
 * reference (usually pydeephaven on the same server).
 *
 * Values are turned into comparable forms first: 64-bit integers stay `bigint`, timestamps, dates, times
 * and durations are compared by their raw stored integers (so nanoseconds are not lost to `Date`), binary
 * values become byte arrays and list values become arrays of cells. Floats are compared with `Object.is`,
 * so `NaN` equals `NaN` and `0` differs from `-0`.
 *
 * @module
 */

import { type Data, DataType, makeVector, type Table, type Vector } from "apache-arrow";
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
