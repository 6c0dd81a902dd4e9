/**
 * Checks of arguments at the public entry points: a value of the wrong kind (a number where a column name is
 * expected, `null` where a table is expected, a fraction where a row count is expected) is refused with a
 * {@linkcode DeephavenError} `INVALID_ARGUMENT` that names the argument, before anything is sent or changed.
 *
 * @module
 */

import { DeephavenError } from "./errors.ts";

/** A short, safe rendering of a value for messages (never the whole of a long string). */
export function shown(x: unknown): string {
  if (typeof x === "string") return JSON.stringify(x.length > 40 ? `${x.slice(0, 39)}…` : x);
  if (typeof x === "bigint") return `${x}n`;
  if (x === null || x === undefined || typeof x === "number" || typeof x === "boolean") return String(x);
  if (typeof x === "function") return "a function";
  if (Array.isArray(x)) return "an array";
  const name = (x as object).constructor?.name || "value";
  return `${/^[AEIOU]/.test(name) ? "an" : "a"} ${name}`;
}

/**
 * A string, or a DeephavenError.
 *
 * @example
 * ```ts
 * import { checkString } from "./validate.ts";
 * console.assert(checkString("t", "openTable() needs a table name") === "t");
 * ```
 *
 * @param x The value.
 * @param what What is needed, e.g. `openTable() needs a table name`.
 * @param nonEmpty Refuse `""` too. Default `false`.
 * @returns `x`.
 */
export function checkString(x: unknown, what: string, nonEmpty = false): string {
  if (typeof x !== "string" || (nonEmpty && x.length === 0)) {
    throw DeephavenError.invalid(`${what} (a${nonEmpty ? " non-empty" : ""} string), got ${shown(x)}`);
  }
  return x;
}

/**
 * One string or a list of strings, as a new list; `undefined` is the empty list.
 *
 * @example
 * ```ts
 * import { checkStrings } from "./validate.ts";
 * console.assert(checkStrings("X", "update() needs formulas").length === 1);
 * ```
 *
 * @param x The value.
 * @param what What is needed, e.g. `update() needs formulas`.
 * @returns The strings.
 */
export function checkStrings(x: unknown, what: string): string[] {
  if (x === undefined) return [];
  if (typeof x === "string") return [x];
  if (Array.isArray(x) && x.every((s) => typeof s === "string")) return [...x];
  const bad = Array.isArray(x) ? x.find((s) => typeof s !== "string") : x;
  throw DeephavenError.invalid(`${what} (a string or a list of strings), got ${shown(bad)}`);
}

/**
 * A whole number in `[min, max]`, or a DeephavenError.
 *
 * @example
 * ```ts
 * import { checkInteger } from "./validate.ts";
 * console.assert(checkInteger(3, "head() needs a row count", 0) === 3);
 * ```
 *
 * @param x The value.
 * @param what What is needed, e.g. `head() needs a row count`.
 * @param min The smallest value allowed. Default `Number.MIN_SAFE_INTEGER`.
 * @param max The largest value allowed. Default `Number.MAX_SAFE_INTEGER`.
 * @returns `x`.
 */
export function checkInteger(
  x: unknown,
  what: string,
  min: number = Number.MIN_SAFE_INTEGER,
  max: number = Number.MAX_SAFE_INTEGER,
): number {
  if (typeof x !== "number" || !Number.isSafeInteger(x) || x < min || x > max) {
    const range = max !== Number.MAX_SAFE_INTEGER
      ? ` from ${min} to ${max}`
      : min !== Number.MIN_SAFE_INTEGER
      ? ` >= ${min}`
      : "";
    throw DeephavenError.invalid(`${what} (a whole number${range}), got ${shown(x)}`);
  }
  return x;
}

/**
 * A function, or a DeephavenError.
 *
 * @example
 * ```ts
 * import { checkFunction } from "./validate.ts";
 * checkFunction(() => {}, "onUpdate() needs a listener");
 * ```
 *
 * @param x The value.
 * @param what What is needed, e.g. `onUpdate() needs a listener`.
 * @returns `x`.
 */
export function checkFunction<F extends (...args: never[]) => unknown>(x: unknown, what: string): F {
  if (typeof x !== "function") throw DeephavenError.invalid(`${what} (a function), got ${shown(x)}`);
  return x as F;
}

/**
 * An `AbortSignal` or `undefined`, or a DeephavenError.
 *
 * @example
 * ```ts
 * import { checkSignal } from "./validate.ts";
 * checkSignal(new AbortController().signal, "toArrow()");
 * ```
 *
 * @param x The value.
 * @param what The call, e.g. `toArrow()`.
 * @returns `x`.
 */
export function checkSignal(x: unknown, what: string): AbortSignal | undefined {
  if (x !== undefined && !(x instanceof AbortSignal)) {
    throw DeephavenError.invalid(`${what} takes an AbortSignal to abort it, got ${shown(x)}`);
  }
  return x;
}

/**
 * An options object (`undefined` is `{}`), or a DeephavenError.
 *
 * @example
 * ```ts
 * import { checkOptions } from "./validate.ts";
 * console.assert(Object.keys(checkOptions(undefined, "Session.connect()")).length === 0);
 * ```
 *
 * @param x The value.
 * @param what The call, e.g. `Session.connect()`.
 * @returns `x` or `{}`.
 */
export function checkOptions<T extends object>(x: T | undefined, what: string): T {
  if (x === undefined) return {} as T;
  if (x === null || typeof x !== "object" || Array.isArray(x)) {
    throw DeephavenError.invalid(`${what} takes an object of options, got ${shown(x)}`);
  }
  return x;
}

/**
 * An apache-arrow `Table` (by its shape, so that a table of another copy of apache-arrow passes), or a
 * DeephavenError.
 *
 * @example
 * ```ts
 * import { tableFromArrays } from "./deps/apache_arrow.ts";
 * import { checkArrowTable } from "./validate.ts";
 * checkArrowTable(tableFromArrays({ X: [1, 2] }), "importTable()");
 * ```
 *
 * @param x The value.
 * @param what The call, e.g. `importTable()`.
 * @returns `x`.
 */
export function checkArrowTable<T>(x: T, what: string): T {
  const t = x as { numRows?: unknown; batches?: unknown; schema?: { fields?: unknown } } | null;
  if (
    typeof t !== "object" || t === null || typeof t.numRows !== "number" || !Array.isArray(t.batches) ||
    !Array.isArray(t.schema?.fields)
  ) {
    throw DeephavenError.invalid(`${what} needs an apache-arrow Table, got ${shown(x)}`);
  }
  return x;
}
