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
import { decodable, decodeRecordBatch } from "../wire/record_batch.ts";

/** Rows decoded at a time by {@linkcode arrowValues}. */
const BLOCK_ROWS = 4096;
/** Blocks {@linkcode arrowValues} keeps decoded. */
const MAX_BLOCKS = 16;

/**
 * Reads an apache-arrow table's values as a local table gives them (an `Instant` for a timestamp, decimal
 * text for a BigDecimal, a one-character string for a char, ...), so that a table from `TableRef.toArrow()`
 * (DoGet) shows and exports the same values as one from a Barrage snapshot. Columns the decoder reads go
 * through it, a block of rows at a time as rows are asked for; the others (a Struct, say) give
 * apache-arrow's own values.
 *
 * @example Usage
 * ```ts
 * import { tableFromArrays } from "../deps/apache_arrow.ts";
 * import { arrowValues } from "./from_arrow.ts";
 *
 * const get = arrowValues(tableFromArrays({ T: BigInt64Array.from([-1n]) }));
 * console.assert(get(0, 0) === -1n);
 * ```
 *
 * @param table The table.
 * @returns The value at a row and a column index.
 */
export function arrowValues(table: Table): (row: number, column: number) => unknown {
  const readable = table.schema.fields.map((f) => decodable(f));
  const indexes = readable.flatMap((r, j) => (r ? [j] : []));
  const position = new Map(indexes.map((j, k) => [j, k]));
  const decoded = indexes.length > 0 ? table.selectAt(indexes) : undefined;
  const blocks = new Map<number, LocalTable>();
  return (row, column) => {
    const k = position.get(column);
    if (k === undefined || decoded === undefined) return table.getChildAt(column)?.get(row) ?? null;
    const b = Math.floor(row / BLOCK_ROWS);
    let block = blocks.get(b);
    if (block === undefined) {
      if (blocks.size >= MAX_BLOCKS) blocks.clear();
      block = localTableFromArrow(decoded.slice(b * BLOCK_ROWS, (b + 1) * BLOCK_ROWS));
      blocks.set(b, block);
    }
    return block.get(row - b * BLOCK_ROWS, k);
  };
}

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
