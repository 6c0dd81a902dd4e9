/**
 * The column types of local `update()`: the Deephaven types a computed column can have, their Arrow
 * fields, what JS values each takes, and the type of a column whose values say it without doubt.
 *
 * @module
 */

import * as arrow from "../deps/apache_arrow.ts";
import { type ColumnKind, columnKind } from "../table/column.ts";
import { KINDS } from "../table/kinds.ts";
import { Instant } from "../table/time.ts";
import { bad } from "./derive.ts";

/**
 * A Deephaven column type, by its Java name (as pydeephaven's `dtypes` and `deephaven:type` name them):
 * what a computed column of `LocalTable.update` holds. Each reads back as `get()` reads a server
 * column of that type: `String` a string, `boolean` a boolean, `byte`/`short`/`int`/`float`/`double` a
 * number, `char` a one-character string, `long`, `Duration` (nanoseconds) and `BigInteger` a bigint,
 * `Instant` an {@linkcode Instant}, `LocalDate` and `LocalTime` ISO text, `BigDecimal` decimal text.
 *
 * @example A column whose type the values cannot show
 * ```ts ignore
 * const t = live.update({ Lots: { type: "int", value: (r) => Math.floor((r.Size as number) / 100) } });
 * ```
 */
export type ColumnType =
  | "String"
  | "boolean"
  | "byte"
  | "short"
  | "char"
  | "int"
  | "long"
  | "float"
  | "double"
  | "Instant"
  | "LocalDate"
  | "LocalTime"
  | "Duration"
  | "BigDecimal"
  | "BigInteger";

/** The Arrow type and `deephaven:type` of each column type, as the server sends them. */
const TYPES: Record<ColumnType, () => [arrow.DataType, string]> = {
  String: () => [new arrow.Utf8(), "java.lang.String"],
  boolean: () => [new arrow.Bool(), "java.lang.Boolean"],
  byte: () => [new arrow.Int8(), "byte"],
  short: () => [new arrow.Int16(), "short"],
  char: () => [new arrow.Uint16(), "char"],
  int: () => [new arrow.Int32(), "int"],
  long: () => [new arrow.Int64(), "long"],
  float: () => [new arrow.Float32(), "float"],
  double: () => [new arrow.Float64(), "double"],
  Instant: () => [new arrow.TimestampNanosecond("UTC"), "java.time.Instant"],
  LocalDate: () => [new arrow.DateMillisecond(), "java.time.LocalDate"],
  LocalTime: () => [new arrow.TimeNanosecond(), "java.time.LocalTime"],
  Duration: () => [new arrow.DurationNanosecond(), "java.time.Duration"],
  BigDecimal: () => [new arrow.Binary(), "java.math.BigDecimal"],
  BigInteger: () => [new arrow.Binary(), "java.math.BigInteger"],
};

/** The names of the column types. */
export const COLUMN_TYPES: readonly ColumnType[] = Object.keys(TYPES) as ColumnType[];
const TYPE_NAMES = COLUMN_TYPES.join(", ");

/** Whether `t` names a {@linkcode ColumnType}. */
export function isColumnType(t: unknown): t is ColumnType {
  return typeof t === "string" && Object.hasOwn(TYPES, t);
}

/** The Arrow field of a computed column of a type. */
export function fieldOfType(name: string, type: ColumnType): arrow.Field {
  const [t, dh] = TYPES[type]();
  return new arrow.Field(name, t, true, new Map([["deephaven:type", dh]]));
}

/** The one type that a JS value of `get()` says without doubt, or `undefined`. */
function typeOfValue(v: unknown): ColumnType | undefined {
  switch (typeof v) {
    case "string":
      return "String";
    case "boolean":
      return "boolean";
    case "bigint":
      return "long";
    case "number":
      return "double";
  }
  return v instanceof Instant || v instanceof Date ? "Instant" : undefined;
}

function describe(v: unknown): string {
  if (typeof v === "string") return `the string ${JSON.stringify(v.length > 40 ? `${v.slice(0, 39)}…` : v)}`;
  if (typeof v === "bigint") return `the bigint ${v}n`;
  if (v instanceof Instant) return `the Instant ${v}`;
  if (v === null || v === undefined || typeof v !== "object") return `the ${typeof v} ${String(v)}`;
  const name = v.constructor?.name ?? "Object";
  return `${/^[AEIOU]/.test(name) ? "an" : "a"} ${name}`;
}

function giveType(name: string, example: ColumnType = "String"): string {
  return `give its type, e.g. update({ ${
    JSON.stringify(name)
  }: { type: "${example}", value: (r) => ... } }) ` +
    `(types: ${TYPE_NAMES})`;
}

/**
 * The type of a computed column from all the values its function gave for a table's rows: all strings give
 * `String`, all booleans `boolean`, all bigints `long`, all numbers `double`, all Instants or Dates
 * `Instant`. No rows, only nulls, mixed kinds or other values: an INVALID_ARGUMENT error that asks for the
 * type.
 *
 * @param name The column name.
 * @param values The function's values for the table's rows.
 * @returns The type.
 */
export function inferType(name: string, values: readonly unknown[]): ColumnType {
  let found: ColumnType | undefined;
  let first: unknown;
  for (const v of values) {
    if (v === null || v === undefined) continue;
    const t = typeOfValue(v);
    if (t === undefined) {
      throw bad(
        `update() cannot tell the type of column ${JSON.stringify(name)} from ${describe(v)}; ${
          giveType(name)
        }`,
      );
    }
    if (found !== undefined && t !== found) {
      throw bad(
        `update() cannot tell one type for column ${JSON.stringify(name)}: the function gave ${
          describe(first)
        } ` +
          `and ${describe(v)}; ${giveType(name, found)}`,
      );
    }
    found = t;
    first ??= v;
  }
  if (found === undefined) {
    const why = values.length === 0 ? "the table has no rows yet" : "the function gave only nulls";
    throw bad(`update() cannot tell the type of column ${JSON.stringify(name)}: ${why}; ${giveType(name)}`);
  }
  return found;
}

/** The smallest and largest value of the integer kinds (their lowest value is Deephaven's null). */
const INTEGER_RANGE: Partial<Record<ColumnKind, [number, number]>> = {
  int8: [-127, 127],
  int16: [-32767, 32767],
  int32: [-(2 ** 31) + 1, 2 ** 31 - 1],
};

/** Whether a computed value fits a kind without a guess (a number for a String column does not). */
function fits(kind: ColumnKind, v: unknown): boolean {
  const range = INTEGER_RANGE[kind];
  if (range) return Number.isInteger(v) && (v as number) >= range[0] && (v as number) <= range[1];
  switch (kind) {
    case "string":
      return typeof v === "string";
    case "bool":
      return typeof v === "boolean";
    case "char":
      return typeof v === "string";
    case "int64":
      return typeof v === "bigint" || Number.isSafeInteger(v);
    case "float32":
    case "float64":
      return typeof v === "number";
    case "timestamp":
      return v instanceof Instant || v instanceof Date || typeof v === "bigint" || typeof v === "string" ||
        (typeof Temporal !== "undefined" && v instanceof Temporal.Instant);
    case "date":
      return typeof v === "string" || v instanceof Date;
    case "time":
      return typeof v === "string" || typeof v === "bigint";
    case "duration":
      return typeof v === "bigint";
    case "decimal":
      return typeof v === "string" || typeof v === "bigint" || (typeof v === "number" && Number.isFinite(v));
    case "bigint":
      return typeof v === "bigint" || Number.isSafeInteger(v) || typeof v === "string";
  }
  return false;
}

/**
 * Converts a computed column's values to the storage form of its type; a value that does not fit the type
 * (or is Deephaven's null value of it) is an INVALID_ARGUMENT error that names the column.
 *
 * @param name The column name.
 * @param type The column type.
 * @returns The converter of one value.
 */
export function computedRaw(name: string, type: ColumnType): (v: unknown) => unknown {
  const kind = columnKind(fieldOfType(name, type));
  const ops = KINDS[kind];
  const nullRaw = ops.toRaw(null);
  return (v) => {
    if (v === null || v === undefined) return nullRaw;
    let raw: unknown;
    try {
      raw = fits(kind, v) ? ops.toRaw(v) : undefined;
    } catch (e) {
      throw bad(
        `Column ${JSON.stringify(name)} (${type}) cannot hold ${describe(v)}: ${(e as Error).message}`,
      );
    }
    if (raw === undefined || (ops.nullSentinel !== undefined && raw === ops.nullSentinel)) {
      throw bad(
        `Column ${JSON.stringify(name)} of update() is ${type}, and the function gave ${
          describe(v)
        }; return ` +
          `${type} values (or null), or ${giveType(name, type)}`,
      );
    }
    return raw;
  };
}
