/**
 * Exports of local tables (and apache-arrow tables): Arrow IPC, CSV, JSON,
 * Parquet, and a helper that writes a file in the format its name says.
 *
 * @module
 */

import * as arrow from "../deps/apache_arrow.ts";
import { DeephavenError, GrpcCode } from "../errors.ts";
import { LocalTable } from "../table/local_table.ts";
import { Instant } from "../table/time.ts";
// The decoder reads apache-arrow tables' values as local tables give them.
import { arrowValues } from "../barrage/from_arrow.ts";
import { shown } from "../validate.ts";

/** A table that can be exported: a local table or an apache-arrow `Table`. */
export type ExportableTable = LocalTable | arrow.Table;

function isArrow(t: ExportableTable): t is arrow.Table {
  if (t instanceof arrow.Table) return true;
  if (t instanceof LocalTable) return false;
  throw DeephavenError.invalid(`Exports need a LocalTable or an apache-arrow Table, got ${shown(t)}`);
}

function toArrowTable(t: ExportableTable): arrow.Table {
  return isArrow(t) ? t : t.toArrow();
}

interface Rows {
  columns: string[];
  size: number;
  get(row: number, col: number): unknown;
}

function rows(t: ExportableTable): Rows {
  if (isArrow(t)) {
    // The values a local table would give (exact instants and decimals), read by the same decoder.
    const get = arrowValues(t);
    return { columns: t.schema.fields.map((f) => f.name), size: t.numRows, get };
  }
  return { columns: t.columns, size: t.size, get: (r, c) => t.get(r, c) };
}

/**
 * Arrow IPC bytes of a table.
 *
 * @param t The table.
 * @param format `"stream"` (default) or `"file"`.
 * @returns The bytes.
 */
export function toArrowIPC(t: ExportableTable, format: "stream" | "file" = "stream"): Uint8Array {
  if (format !== "stream" && format !== "file") {
    throw DeephavenError.invalid(`toArrowIPC() formats are "stream" and "file", got ${shown(format)}`);
  }
  return arrow.tableToIPC(toArrowTable(t), format);
}

/**
 * A value in JSON-safe form: 64-bit integers as numbers when exact (else
 * strings), instants and dates as ISO strings (instants with their nanoseconds), non-finite numbers as
 * strings, bytes as base64.
 *
 * @param v A table value.
 * @returns The JSON-safe value.
 */
export function jsonValue(v: unknown): unknown {
  if (v === null || v === undefined) return null;
  if (typeof v === "bigint") return Number.isSafeInteger(Number(v)) ? Number(v) : v.toString();
  if (v instanceof Instant) return v.toString();
  if (v instanceof Date) return v.toISOString();
  if (typeof v === "number" && !Number.isFinite(v)) {
    return Number.isNaN(v) ? "NaN" : v > 0 ? "Infinity" : "-Infinity";
  }
  if (v instanceof Uint8Array) return btoa(String.fromCharCode(...v));
  if (Array.isArray(v)) return v.map(jsonValue);
  if (ArrayBuffer.isView(v)) return Array.from(v as unknown as ArrayLike<unknown>, jsonValue);
  if (typeof v === "object") {
    return Object.fromEntries(
      Object.entries(v as Record<string, unknown>).map(([k, x]) => [k, jsonValue(x)]),
    );
  }
  return v;
}

/**
 * The rows as JSON objects: 64-bit integers as numbers when exact (else
 * strings), timestamps as ISO strings with their full (nanosecond)
 * precision, non-finite numbers as strings.
 *
 * @param t The table.
 * @returns One object per row.
 */
export function toJSONRows(t: ExportableTable): Record<string, unknown>[] {
  const r = rows(t);
  const out: Record<string, unknown>[] = new Array(r.size);
  for (let i = 0; i < r.size; i++) {
    const o: Record<string, unknown> = {};
    r.columns.forEach((c, j) => (o[c] = jsonValue(r.get(i, j))));
    out[i] = o;
  }
  return out;
}

/**
 * The table as JSON text (an array of row objects; see {@linkcode toJSONRows}).
 *
 * @param t The table.
 * @returns JSON text.
 */
export function toJSON(t: ExportableTable): string {
  return JSON.stringify(toJSONRows(t));
}

function csvField(v: unknown): string {
  if (v === null || v === undefined) return "";
  let s: string;
  if (v instanceof Date) s = v.toISOString();
  else if (v instanceof Instant) s = v.toString();
  else if (Array.isArray(v) || ArrayBuffer.isView(v)) s = JSON.stringify(jsonValue(v));
  else s = String(v);
  return /[",\r\n]/.test(s) || s === "" ? `"${s.replace(/"/g, '""')}"` : s;
}

/**
 * The table as CSV (RFC 4180): a header row, empty fields for null, `""`
 * for the empty string, ISO timestamps with their full (nanosecond) precision.
 *
 * @param t The table.
 * @returns CSV text.
 */
export function toCSV(t: ExportableTable): string {
  const r = rows(t);
  const lines = [r.columns.map(csvField).join(",")];
  for (let i = 0; i < r.size; i++) {
    const cells = new Array<string>(r.columns.length);
    for (let j = 0; j < r.columns.length; j++) cells[j] = csvField(r.get(i, j));
    lines.push(cells.join(","));
  }
  return lines.join("\r\n") + "\r\n";
}

// deno-lint-ignore no-explicit-any
let parquet: Promise<any> | undefined;

async function parquetWasm() {
  parquet ??= (async () => {
    const mod = await import("../deps/parquet_wasm_esm.ts");
    await mod.default({ module_or_path: await Deno.readFile(new URL(mod.WASM_URL)) });
    return mod;
  })();
  return await parquet;
}

/**
 * The table as Parquet bytes (written by parquet-wasm from its Arrow form).
 *
 * @param t The table.
 * @returns The Parquet file bytes.
 */
export async function toParquet(t: ExportableTable): Promise<Uint8Array> {
  const pq = await parquetWasm();
  const wasmTable = pq.Table.fromIPCStream(toArrowIPC(t, "stream"));
  return pq.writeParquet(wasmTable) as Uint8Array;
}

/**
 * Reads Parquet bytes into an apache-arrow `Table`.
 *
 * @param bytes Parquet file bytes.
 * @returns The table.
 */
export async function fromParquet(bytes: Uint8Array): Promise<arrow.Table> {
  if (!(bytes instanceof Uint8Array)) {
    throw DeephavenError.invalid(`fromParquet() needs the file's bytes (a Uint8Array), got ${shown(bytes)}`);
  }
  const pq = await parquetWasm();
  return arrow.tableFromIPC(pq.readParquet(bytes).intoIPCStream());
}

/** The file formats {@linkcode writeTable} knows. */
export type FileFormat = "arrow" | "csv" | "json" | "parquet";

/**
 * The format named by a file's extension (`.arrow`/`.ipc`/`.feather`, `.csv`, `.json`, `.parquet`).
 *
 * @param path A file name.
 * @returns The format.
 */
export function formatOfPath(path: string): FileFormat {
  if (typeof path !== "string") throw DeephavenError.invalid(`A file name is text, got ${shown(path)}`);
  const ext = path.toLowerCase().match(/\.([a-z]+)$/)?.[1];
  if (ext === "arrow" || ext === "ipc" || ext === "feather") return "arrow";
  if (ext === "csv" || ext === "json" || ext === "parquet") return ext;
  throw new DeephavenError(
    `Cannot tell the format of ${JSON.stringify(path)}; end the name with .arrow, .csv, .json or .parquet`,
    { code: GrpcCode.INVALID_ARGUMENT },
  );
}

/**
 * Writes a table to a file in the format its name says (or `format`).
 *
 * @param t The table.
 * @param path Where to write.
 * @param format The format (default: from the extension).
 * @returns The number of bytes written.
 */
export async function writeTable(t: ExportableTable, path: string, format?: FileFormat): Promise<number> {
  const f = format ?? formatOfPath(path);
  if (!["arrow", "csv", "json", "parquet"].includes(f)) {
    throw DeephavenError.invalid(
      `writeTable() formats are "arrow", "csv", "json" and "parquet", got ${shown(f)}`,
    );
  }
  const bytes = f === "arrow"
    ? toArrowIPC(t, "file")
    : f === "parquet"
    ? await toParquet(t)
    : new TextEncoder().encode(f === "csv" ? toCSV(t) : toJSON(t));
  try {
    await Deno.writeFile(path, bytes);
  } catch (e) {
    const code = e instanceof Deno.errors.NotFound
      ? GrpcCode.NOT_FOUND
      : e instanceof Deno.errors.PermissionDenied || e instanceof Deno.errors.NotCapable
      ? GrpcCode.PERMISSION_DENIED
      : GrpcCode.UNKNOWN;
    throw DeephavenError.from(
      e,
      `Writing ${JSON.stringify(path)} failed; check the folder and its permissions`,
      code,
    );
  }
  return bytes.length;
}
