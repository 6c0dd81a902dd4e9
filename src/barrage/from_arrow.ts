/**
 * Builds a static {@linkcode LocalTable} from an apache-arrow `Table`, through
 * the same decoder that reads Barrage messages.
 *
 * @module
 */

import { checkArrowTable } from "../validate.ts";
import {
  DataType,
  type Dictionary,
  type Schema,
  Table,
  tableToIPC,
  type Vector,
  vectorFromArray,
} from "../deps/apache_arrow.ts";
import { createLocalTable, type LocalTable, type TableWriter } from "../table/local_table.ts";
import { RowSet } from "../table/rowset.ts";
import { ipcToFlight, schemaFromFlatbuffer } from "../arrow/ipc.ts";
import { decodeRecordBatch } from "./record_batch.ts";

/**
 * A static local table (state `snapshot`) holding the rows of an Arrow table.
 *
 * @example Usage
 * ```ts
 * import { tableFromArrays } from "../deps/apache_arrow.ts";
 * import { localTableFromArrow } from "./from_arrow.ts";
 *
 * const t = localTableFromArrow(tableFromArrays({ X: Int32Array.from([1, 2, 3]) }));
 * console.assert(t.size === 3 && t.get(2, "X") === 3);
 * ```
 *
 * @param table The Arrow table.
 * @returns The local table.
 */
export function localTableFromArrow(table: Table): LocalTable {
  checkArrowTable(table, "localTableFromArrow()");
  if (table.schema.fields.some((f) => DataType.isDictionary(f.type))) table = undictionary(table);
  const [schemaMsg, ...batches] = ipcToFlight(tableToIPC(table, "stream"));
  const schema = schemaFromFlatbuffer(schemaMsg.dataHeader);
  const { table: out, writer } = createLocalTable(schema);
  appendBatches(writer, schema, batches);
  writer.setState("snapshot");
  return out;
}

/**
 * Appends the rows of an Arrow table to a local table through its writer (for producers that keep the
 * table live afterwards). The Arrow table's columns must match the local table's schema.
 *
 * @param writer The local table's writer.
 * @param table The rows to append.
 */
export function appendArrow(writer: TableWriter, table: Table): void {
  if (table.schema.fields.some((f) => DataType.isDictionary(f.type))) table = undictionary(table);
  const [, ...batches] = ipcToFlight(tableToIPC(table, "stream"));
  appendBatches(writer, writer.storage.schema, batches);
}

function appendBatches(
  writer: TableWriter,
  schema: Schema,
  batches: { dataHeader: Uint8Array; dataBody: Uint8Array }[],
): void {
  for (const b of batches) {
    const batch = decodeRecordBatch(b.dataHeader, b.dataBody, schema);
    if (batch.length === 0) continue;
    const start = writer.storage.size;
    writer.applyPositional({
      isSnapshot: true,
      removed: RowSet.EMPTY,
      added: RowSet.range(start, start + batch.length - 1),
      addData: batch.columns.map((c) => [c]),
      modified: [],
      modData: [],
    });
  }
}

/** Replaces dictionary-encoded columns by plain ones (e.g. strings from `tableFromArrays`). */
function undictionary(table: Table): Table {
  const cols: Record<string, Vector> = {};
  for (const f of table.schema.fields) {
    const v = table.getChild(f.name) as Vector;
    cols[f.name] = DataType.isDictionary(f.type)
      ? vectorFromArray([...v], (f.type as Dictionary).dictionary)
      : v;
  }
  return new Table(cols);
}
