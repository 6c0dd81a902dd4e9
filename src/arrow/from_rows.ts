/**
 * Arrow tables to send to the server, shaped by a server table's schema: plain JS rows checked and encoded
 * column by column ({@linkcode rowsToArrow}), or an apache-arrow table checked against the schema and put in
 * its column order ({@linkcode conformArrow}). Every value is checked before anything is built, so bad input
 * is refused whole, with the row and column named, and nothing reaches the server.
 *
 * @module
 */

import {
  type Data,
  type DataType,
  Field,
  makeData,
  makeVector,
  RecordBatch,
  Schema,
  Table,
  Type,
  Utf8,
  vectorFromArray,
} from "../deps/apache_arrow.ts";
import type { Vector } from "../deps/apache_arrow.ts";
import { DeephavenError } from "../errors.ts";

/** One row: column name to value. */
export type PlainRow = Readonly<Record<string, unknown>>;

const INT_RANGES: Record<number, [number, number]> = {
  8: [-128, 127],
  16: [-32768, 32767],
  32: [-2147483648, 2147483647],
};

/** What a column of this type accepts, for messages. */
function accepts(type: DataType): string {
  switch (type.typeId) {
    case Type.Bool:
      return "a boolean";
    case Type.Int:
      return (type as unknown as { bitWidth: number }).bitWidth === 64
        ? "a bigint or a safe integer number"
        : (type as unknown as { isSigned: boolean }).isSigned
        ? "a whole number in range"
        : "a one-character string";
    case Type.Float:
      return "a number";
    case Type.Utf8:
    case Type.LargeUtf8:
      return "a string";
    case Type.Timestamp:
      return "a Date or epoch nanoseconds as a bigint";
    case Type.Date:
      return "a date string YYYY-MM-DD";
    default:
      return "(not supported in plain rows)";
  }
}

function typeName(field: Field): string {
  return field.metadata.get("deephaven:type") ?? String(field.type);
}

/** Checks one value and returns its stored form (number, bigint, string, boolean), or throws. */
function encode(field: Field, value: unknown, where: string): number | bigint | string | boolean {
  const type = field.type;
  const bad = () =>
    DeephavenError.invalid(
      `${where}, column '${field.name}' (${typeName(field)}) needs ${accepts(type)}, got ${describe(value)}`,
    );
  switch (type.typeId) {
    case Type.Bool:
      if (typeof value !== "boolean") throw bad();
      return value;
    case Type.Int: {
      const { bitWidth, isSigned } = type as unknown as { bitWidth: number; isSigned: boolean };
      if (!isSigned && bitWidth === 16) { // Deephaven char
        if (typeof value !== "string" || value.length !== 1 || value === "\uffff") throw bad();
        return value.charCodeAt(0);
      }
      if (!isSigned) throw bad();
      if (bitWidth === 64) {
        if (typeof value === "bigint" && value > -(2n ** 63n) && value < 2n ** 63n) return value;
        if (typeof value === "number" && Number.isSafeInteger(value)) return BigInt(value);
        throw bad();
      }
      const [lo, hi] = INT_RANGES[bitWidth];
      const n = typeof value === "bigint" ? Number(value) : value;
      // The lowest value of each width is Deephaven's null sentinel, so it is refused as data.
      if (typeof n !== "number" || !Number.isInteger(n) || n <= lo || n > hi) throw bad();
      return n;
    }
    case Type.Float:
      if (typeof value !== "number") throw bad();
      return value;
    case Type.Utf8:
    case Type.LargeUtf8:
      if (typeof value !== "string") throw bad();
      return value;
    case Type.Timestamp: {
      const unit = (type as unknown as { unit: number }).unit;
      const perNano = [1_000_000_000n, 1_000_000n, 1_000n, 1n][unit];
      let nanos: bigint;
      if (value instanceof Date && !Number.isNaN(value.getTime())) {
        nanos = BigInt(value.getTime()) * 1_000_000n;
      } else if (typeof value === "bigint") nanos = value;
      else throw bad();
      if (nanos % perNano !== 0n) throw bad();
      return nanos / perNano;
    }
    case Type.Date: {
      if (typeof value !== "string" || !/^\d{4}-\d{2}-\d{2}$/.test(value)) throw bad();
      const ms = Date.parse(`${value}T00:00:00Z`);
      if (Number.isNaN(ms)) throw bad();
      const unit = (type as unknown as { unit: number }).unit; // 0: days, 1: milliseconds
      return unit === 0 ? ms / 86_400_000 : BigInt(ms);
    }
    default:
      throw DeephavenError.invalid(
        `${where}, column '${field.name}' (${typeName(field)}) cannot be given in plain rows; ` +
          "pass an apache-arrow Table with that column instead",
      );
  }
}

function describe(value: unknown): string {
  if (typeof value === "string") return JSON.stringify(value.length > 40 ? value.slice(0, 40) + "…" : value);
  if (typeof value === "bigint") return `${value}n`;
  if (value instanceof Date) {
    return `Date(${Number.isNaN(value.getTime()) ? "invalid" : value.toISOString()})`;
  }
  if (Array.isArray(value)) return "an array";
  if (value === null || typeof value !== "object") return String(value);
  return "an object";
}

function validity(values: readonly unknown[]): { bitmap: Uint8Array; nulls: number } {
  const bitmap = new Uint8Array(Math.ceil(values.length / 8));
  let nulls = 0;
  values.forEach((v, i) => {
    if (v === null) nulls++;
    else bitmap[i >> 3] |= 1 << (i & 7);
  });
  return { bitmap, nulls };
}

function column(type: DataType, values: (number | bigint | string | boolean | null)[]): Vector {
  const length = values.length;
  const { bitmap, nulls } = validity(values);
  const fixed = (data: ArrayLike<unknown> & { set(a: ArrayLike<never>): void }, zero: unknown) => {
    values.forEach((v, i) => ((data as unknown as unknown[])[i] = v ?? zero));
    return makeVector(
      makeData(
        { type, length, nullCount: nulls, nullBitmap: nulls ? bitmap : undefined, data } as never,
      ) as Data,
    );
  };
  switch (type.typeId) {
    case Type.Int: {
      const { bitWidth, isSigned } = type as unknown as { bitWidth: number; isSigned: boolean };
      if (bitWidth === 64) return fixed(new BigInt64Array(length) as never, 0n);
      if (bitWidth === 32) return fixed(new Int32Array(length) as never, 0);
      if (bitWidth === 16) {
        return fixed((isSigned ? new Int16Array(length) : new Uint16Array(length)) as never, 0);
      }
      return fixed(new Int8Array(length) as never, 0);
    }
    case Type.Float: {
      const precision = (type as unknown as { precision: number }).precision;
      return fixed((precision === 2 ? new Float64Array(length) : new Float32Array(length)) as never, 0);
    }
    case Type.Timestamp:
      return fixed(new BigInt64Array(length) as never, 0n);
    case Type.Date:
      return (type as unknown as { unit: number }).unit === 0
        ? fixed(new Int32Array(length) as never, 0)
        : fixed(new BigInt64Array(length) as never, 0n);
    default: // Bool, Utf8
      return vectorFromArray(values as never[], type);
  }
}

/** The field as sent: same name and type, `deephaven:type` kept (it tells e.g. a char from a uint16). */
function sendField(field: Field): Field {
  const metadata = new Map<string, string>();
  const dh = field.metadata.get("deephaven:type");
  if (dh !== undefined) metadata.set("deephaven:type", dh);
  return new Field(field.name, field.type, true, metadata);
}

function checkRequired(schema: Schema, required: readonly string[], what: string): void {
  for (const name of required) {
    if (!schema.fields.some((f) => f.name === name)) {
      throw DeephavenError.invalid(`${what} failed: the table has no column '${name}'`);
    }
  }
}

/**
 * Encodes plain rows as an Arrow table with the given schema's columns, in its order.
 *
 * @example
 * ```ts
 * import { Field, Int32, Schema, Utf8 } from "../deps/apache_arrow.ts";
 * import { rowsToArrow } from "./from_rows.ts";
 *
 * const schema = new Schema([new Field("Sym", new Utf8()), new Field("Qty", new Int32())]);
 * const t = rowsToArrow([{ Sym: "A", Qty: 5 }, { Sym: "B", Qty: null }], schema, "Adding rows", ["Sym"]);
 * console.assert(t.numRows === 2);
 * ```
 *
 * @param rows The rows; a missing or `undefined` value is null.
 * @param schema The columns to make (a server table's schema).
 * @param what What is being done, for messages (e.g. `Adding rows to inputTable(...)`).
 * @param required Columns every row must have a non-null value for (key columns).
 * @returns The table.
 * @throws {DeephavenError} `INVALID_ARGUMENT` naming the row and column of the first bad value, or a column the
 *   schema does not have.
 */
export function rowsToArrow(
  rows: readonly PlainRow[],
  schema: Schema,
  what: string,
  required: readonly string[] = [],
): Table {
  checkRequired(schema, required, what);
  const names = new Set(schema.fields.map((f) => f.name));
  const columns = schema.fields.map(() => [] as (number | bigint | string | boolean | null)[]);
  rows.forEach((row, r) => {
    if (row === null || typeof row !== "object" || Array.isArray(row)) {
      throw DeephavenError.invalid(
        `${what} failed: row ${r} is ${describe(row)}; give each row as an object`,
      );
    }
    for (const key of Object.keys(row)) {
      if (!names.has(key)) {
        throw DeephavenError.invalid(
          `${what} failed: row ${r} has a column '${key}' that the table does not have; its columns are ${
            [...names].join(", ")
          }`,
        );
      }
    }
    schema.fields.forEach((field, c) => {
      const value = row[field.name];
      if (value === null || value === undefined) {
        if (required.includes(field.name)) {
          throw DeephavenError.invalid(
            `${what} failed: row ${r} has no value for the key column '${field.name}'`,
          );
        }
        columns[c].push(null);
      } else {
        columns[c].push(encode(field, value, `${what} failed: row ${r}`));
      }
    });
  });
  const data: Record<string, Vector> = {};
  schema.fields.forEach((f, c) => (data[f.name] = column(f.type, columns[c])));
  return withSchema(data, new Schema(schema.fields.map(sendField)));
}

function compatible(a: DataType, b: DataType): boolean {
  if (a.typeId !== b.typeId) return false;
  switch (a.typeId) {
    case Type.Int: {
      const x = a as unknown as { bitWidth: number; isSigned: boolean };
      const y = b as unknown as { bitWidth: number; isSigned: boolean };
      return x.bitWidth === y.bitWidth && x.isSigned === y.isSigned;
    }
    case Type.Float:
      return (a as unknown as { precision: number }).precision ===
        (b as unknown as { precision: number }).precision;
    case Type.Timestamp: // any unit: the server reads each as an Instant
      return true;
    default:
      return String(a) === String(b);
  }
}

/**
 * Checks an apache-arrow table against a schema (same column names and types; no null in the `required`
 * columns) and returns it with the schema's column order and `deephaven:type` metadata.
 *
 * @example
 * ```ts
 * import { Field, Int32, Schema, tableFromArrays } from "../deps/apache_arrow.ts";
 * import { conformArrow } from "./from_rows.ts";
 *
 * const schema = new Schema([new Field("X", new Int32())]);
 * const t = conformArrow(tableFromArrays({ X: Int32Array.from([1, 2]) }), schema, "Adding rows");
 * console.assert(t.numCols === 1);
 * ```
 *
 * @param table The data.
 * @param schema The expected columns.
 * @param what What is being done, for messages.
 * @param required Columns that must hold no null (key columns).
 * @param only Give only these columns of the schema (e.g. the key columns), and ignore the table's others.
 * @returns The table, conformed.
 * @throws {DeephavenError} `INVALID_ARGUMENT` naming the missing, extra or mistyped column, or the first null key.
 */
export function conformArrow(
  table: Table,
  schema: Schema,
  what: string,
  required: readonly string[] = [],
  only?: readonly string[],
): Table {
  checkRequired(schema, required, what);
  const wanted = only ? schema.fields.filter((f) => only.includes(f.name)) : schema.fields;
  const given = new Map(table.schema.fields.map((f) => [f.name, f]));
  const data: Record<string, Vector> = {};
  for (const field of wanted) {
    const got = given.get(field.name);
    if (!got) {
      throw DeephavenError.invalid(
        `${what} failed: the data has no column '${field.name}'; give every column of the table (${
          wanted.map((f) => f.name).join(", ")
        })`,
      );
    }
    const dictionaryOfStrings = got.type.typeId === Type.Dictionary && field.type.typeId === Type.Utf8 &&
      (got.type as unknown as { dictionary: DataType }).dictionary.typeId === Type.Utf8;
    if (!dictionaryOfStrings && !compatible(got.type, field.type)) {
      throw DeephavenError.invalid(
        `${what} failed: column '${field.name}' is ${got.type} in the data but ${
          typeName(field)
        } (${field.type}) ` +
          "in the table; convert it first",
      );
    }
    let vector = table.getChild(field.name)!;
    if (dictionaryOfStrings) {
      vector = vectorFromArray([...vector] as (string | null)[], new Utf8()); // e.g. from tableFromArrays
    }
    if (required.includes(field.name) && vector.nullCount > 0) {
      let r = 0;
      while (vector.isValid(r)) r++;
      throw DeephavenError.invalid(
        `${what} failed: row ${r} has no value for the key column '${field.name}'`,
      );
    }
    data[field.name] = vector;
  }
  if (!only) {
    for (const name of given.keys()) {
      if (!wanted.some((f) => f.name === name)) {
        throw DeephavenError.invalid(
          `${what} failed: the data has a column '${name}' that the table does not have; its columns are ${
            wanted.map((f) => f.name).join(", ")
          }`,
        );
      }
    }
  }
  const fields = wanted.map((f) => sendField(new Field(f.name, data[f.name].type, true, f.metadata)));
  return withSchema(data, new Schema(fields));
}

/** A table of these columns with this schema (names, types and metadata as given). */
function withSchema(data: Record<string, Vector>, schema: Schema): Table {
  const plain = new Table(data);
  return new Table(schema, plain.batches.map((b) => new RecordBatch(schema, b.data)));
}
