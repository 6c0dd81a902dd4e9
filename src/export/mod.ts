/**
 * Local tables (and apache-arrow tables) to files and bytes: CSV, JSON,
 * Arrow IPC and Parquet, with Deephaven's nanosecond instants kept exact.
 *
 * @example Write a snapshot to Parquet
 * ```ts ignore
 * import { writeTable } from "@dh/deephaven/export";
 *
 * await writeTable(await bs.snapshot(ticket), "trades.parquet");
 * ```
 *
 * @module
 */

export {
  type ExportableTable,
  type FileFormat,
  fromParquet,
  toArrowIPC,
  toCSV,
  toJSON,
  toJSONRows,
  toParquet,
  writeTable,
} from "./export.ts";
