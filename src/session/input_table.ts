/**
 * {@linkcode InputTable}: a server table that clients write to, append-only or keyed (pydeephaven's
 * `InputTable`). Make one with `Session.inputTable`.
 *
 * @module
 */

import { type DataType, Field, Schema, Table, tableToIPC, Type } from "../deps/apache_arrow.ts";
import type { ArrowSchema } from "../arrow_types.ts";
import { DeephavenError, GrpcCode } from "../errors.ts";
import { rpc } from "../transport/rpc.ts";
import { conformArrow, type PlainRow, rowsToArrow } from "../arrow/from_rows.ts";
import type { SessionCore } from "./core.ts";
import { doPut } from "./do_put.ts";
import { coreOf, createRef, TableRef } from "./table_ref.ts";
import { TableService } from "../generated/proto/deephaven_core/proto/table_pb.ts";
import { InputTableService } from "../generated/proto/deephaven_core/proto/inputtable_pb.ts";

/** Options of `Session.inputTable`: the columns (a schema or a table), and the kind. */
export interface InputTableOptions {
  /** The columns, as an apache-arrow `Schema` (e.g. `new Schema([new Field("Sym", new Utf8()), ...])`). */
  schema?: ArrowSchema;
  /** Or: a table whose columns to take (its rows are not copied). */
  initTable?: TableRef;
  /**
   * Key columns: the table is keyed, and adding a row whose key is there replaces that row. Without keys, the
   * table is append-only.
   */
  keyColumns?: string | string[];
  /** Make a blink input table (each cycle keeps only the rows added in it; no keys). Default `false`. */
  blink?: boolean;
}

/**
 * Rows to add to (or keys to delete from) an input table: plain objects (`{ Sym: "A", Px: 1.5 }`), an
 * apache-arrow `Table`, a local table (anything with `toArrow()`, such as a `LocalTable`), or a server table.
 */
export type InputRows = readonly PlainRow[] | Table | { toArrow(): Table } | TableRef;

/**
 * The Deephaven column type of a plain Arrow type (pydeephaven's `map_arrow_type`), for fields without
 * `deephaven:type`; the server picks the type of the others (decimals, lists, ...) itself.
 */
function deephavenType(type: DataType): string | undefined {
  switch (type.typeId) {
    case Type.Bool:
      return "java.lang.Boolean";
    case Type.Int: {
      const { bitWidth, isSigned } = type as unknown as { bitWidth: number; isSigned: boolean };
      return isSigned
        ? ({ 8: "byte", 16: "short", 32: "int", 64: "long" } as Record<number, string>)[bitWidth]
        : ({ 8: "short", 16: "char", 32: "long", 64: "java.math.BigInteger" } as Record<number, string>)[
          bitWidth
        ];
    }
    case Type.Float:
      return (type as unknown as { precision: number }).precision === 2 ? "double" : "float";
    case Type.Utf8:
      return "java.lang.String";
    case Type.Binary:
      return "byte[]";
    case Type.Timestamp:
      return "java.time.Instant";
    case Type.Date:
      return "java.time.LocalDate";
    case Type.Time:
      return "java.time.LocalTime";
    case Type.Duration:
      return "java.time.Duration";
    default:
      return undefined;
  }
}

/** The Arrow IPC encapsulated Schema message of a schema (continuation marker, length, flatbuffer). */
function schemaMessage(given: ArrowSchema): Uint8Array {
  // Rebuilt with this module's apache-arrow classes, so a Schema from another copy of apache-arrow works too.
  const schema = new Schema(given.fields.map((f) => {
    const dh = f.metadata.get("deephaven:type") ?? deephavenType(f.type as DataType);
    const metadata = new Map([...f.metadata, ...(dh === undefined ? [] : [["deephaven:type", dh] as const])]);
    return new Field(f.name, f.type as DataType, f.nullable, metadata);
  }));
  const ipc = tableToIPC(new Table(schema), "stream");
  const length = new DataView(ipc.buffer, ipc.byteOffset, ipc.byteLength).getInt32(4, true);
  return ipc.slice(0, 8 + length);
}

/**
 * A server table that clients write to: `add` rows, and `delete` keys of a keyed one. It is a
 * {@linkcode TableRef}, so it can be read, derived from and subscribed to like any server table; each add or
 * delete reaches subscribers as one Barrage update.
 *
 * Rows are checked before anything is sent: a value of the wrong type, a column the table does not have, or a
 * row without a key is a `DeephavenError` (`INVALID_ARGUMENT`) that names the row and column, and nothing
 * changes on the server. A server table given to `add` is checked by the server, which also adds nothing when
 * it refuses.
 *
 * @example Usage
 * ```ts ignore
 * import { Field, Float64, Schema, Utf8 } from "apache-arrow";
 *
 * const schema = new Schema([new Field("Sym", new Utf8()), new Field("Px", new Float64())]);
 * const quotes = session.inputTable({ schema, keyColumns: "Sym" });
 * await quotes.add([{ Sym: "A", Px: 1.5 }, { Sym: "B", Px: 2.25 }]);
 * await quotes.add([{ Sym: "A", Px: 1.75 }]); // replaces A's row
 * await quotes.delete([{ Sym: "B" }]);
 * console.log((await quotes.toArrow()).numRows); // 1
 * ```
 */
export class InputTable extends TableRef {
  /**
   * The key columns (none for an append-only or blink input table), as the server's schema says.
   *
   * @returns The key column names, in column order.
   */
  async keyColumns(): Promise<string[]> {
    return (await this.schema()).fields.filter((f) => f.metadata.get("deephaven:inputtable.isKey") === "true")
      .map((f) => f.name);
  }

  #check(what: string): SessionCore {
    if (this.closed) {
      throw new DeephavenError(`${what} failed: the input table was closed; use one that is still open`, {
        code: GrpcCode.FAILED_PRECONDITION,
      });
    }
    const core = coreOf(this);
    core.checkAlive(what);
    return core;
  }

  /** Sends a server table, or uploads data first, and calls `call` with its ticket. */
  async #withTable(
    what: string,
    rows: InputRows,
    toArrow: (t: Table) => Table,
    fromRows: (rows: readonly PlainRow[]) => Table,
    call: (ticket: Uint8Array) => Promise<unknown>,
    serverTable: (t: TableRef) => TableRef,
  ): Promise<void> {
    const core = this.#check(what);
    if (rows instanceof TableRef) {
      if (coreOf(rows) !== core) {
        throw DeephavenError.invalid(
          `${what} failed: the rows must be a table of the same session; fetch it here first`,
        );
      }
      const t = serverTable(rows);
      try {
        await t.ready();
        await call(t.ticket);
      } finally {
        if (t !== rows) await t.close();
      }
      return;
    }
    let data: Table;
    if (Array.isArray(rows)) data = fromRows(rows as readonly PlainRow[]);
    else if (isArrowTable(rows)) data = toArrow(rows as Table);
    else if (rows && typeof (rows as { toArrow?: unknown }).toArrow === "function") {
      data = toArrow((rows as { toArrow(): Table }).toArrow());
    } else {
      throw DeephavenError.invalid(
        `${what} failed: give rows as an array of objects, an apache-arrow Table, a local table or a server table`,
      );
    }
    if (data.numRows === 0) return;
    const temp = core.newExportTicket();
    try {
      await doPut(core, temp, data, what);
      await call(temp);
    } finally {
      core.release(temp).catch(() => {});
    }
  }

  /**
   * Adds rows. In a keyed input table, a row whose key is already there replaces that row. Resolves when the
   * server has applied the rows (a snapshot taken afterwards has them).
   *
   * @param rows The rows: objects, an apache-arrow `Table`, a local table, or a server table.
   * @throws {DeephavenError} `INVALID_ARGUMENT` for a row that does not fit (nothing is added then).
   */
  async add(rows: InputRows): Promise<void> {
    const what = `Adding rows to ${this.description}`;
    await this.ready();
    const schema = await this.schema() as Schema;
    const keys = await this.keyColumns();
    await this.#withTable(
      what,
      rows,
      (t) => conformArrow(t, schema, what, keys),
      (r) => rowsToArrow(r, schema, what, keys),
      (ticket) =>
        coreOf(this).channel.unary(rpc(InputTableService.method.addTableToInputTable), {
          inputTable: { ticket: this.ticket },
          tableToAdd: { ticket },
        }, { what }),
      (t) => t,
    );
  }

  /**
   * Deletes the rows with the given keys (keyed input tables only). Rows may carry other columns; only the key
   * columns are read. A key that is not there is ignored.
   *
   * @param keys The keys: objects, an apache-arrow `Table`, a local table, or a server table.
   * @throws {DeephavenError} `INVALID_ARGUMENT` when the table has no keys or a row has no key.
   */
  async delete(keys: InputRows): Promise<void> {
    const what = `Deleting rows from ${this.description}`;
    await this.ready();
    const keyColumns = await this.keyColumns();
    if (keyColumns.length === 0) {
      throw DeephavenError.invalid(
        `${what} failed: it is not keyed (append-only or blink); only a keyed input table deletes rows`,
      );
    }
    const schema = await this.schema() as Schema;
    const keySchema = new Schema(schema.fields.filter((f) => keyColumns.includes(f.name)));
    await this.#withTable(
      what,
      keys,
      (t) => conformArrow(t, schema, what, keyColumns, keyColumns),
      (r) =>
        rowsToArrow(
          r.map((row) => Object.fromEntries(keyColumns.map((k) => [k, row?.[k]]))),
          keySchema,
          what,
          keyColumns,
        ),
      (ticket) =>
        coreOf(this).channel.unary(rpc(InputTableService.method.deleteTableFromInputTable), {
          inputTable: { ticket: this.ticket },
          tableToRemove: { ticket },
        }, { what }),
      (t) => t.view(keyColumns),
    );
  }
}

function isArrowTable(x: unknown): boolean {
  const t = x as { schema?: { fields?: unknown }; batches?: unknown; numRows?: unknown };
  return !!t && Array.isArray(t.schema?.fields) && Array.isArray(t.batches) && typeof t.numRows === "number";
}

/**
 * Creates an input table (for `Session.inputTable`; not public API).
 * @ignore
 */
export function createInputTable(core: SessionCore, options: InputTableOptions): InputTable {
  const { schema, initTable, blink = false } = options ?? {};
  const keyColumns = options?.keyColumns === undefined
    ? []
    : typeof options.keyColumns === "string"
    ? [options.keyColumns]
    : [...options.keyColumns];
  if ((schema === undefined) === (initTable === undefined)) {
    throw DeephavenError.invalid("inputTable() needs either a schema or an initTable (one of them)");
  }
  if (blink && keyColumns.length) {
    throw DeephavenError.invalid("inputTable() cannot make a blink table with keys");
  }
  if (schema !== undefined) {
    if (!Array.isArray((schema as { fields?: unknown }).fields)) {
      throw DeephavenError.invalid("inputTable() needs the schema as an apache-arrow Schema");
    }
    if (schema.fields.length === 0) throw DeephavenError.invalid("inputTable() needs a schema with columns");
    const missing = keyColumns.filter((k) => !schema.fields.some((f) => f.name === k));
    if (missing.length) {
      throw DeephavenError.invalid(
        `inputTable() got key column(s) ${missing.join(", ")} that the schema does not have`,
      );
    }
  } else if (!(initTable instanceof TableRef)) {
    throw DeephavenError.invalid("inputTable() needs initTable as a server table (a TableRef)");
  }
  const kind = blink
    ? { case: "blink", value: {} }
    : keyColumns.length
    ? { case: "inMemoryKeyBacked", value: { keyColumns } }
    : { case: "inMemoryAppendOnly", value: {} };
  const definition = schema !== undefined
    ? { case: "schema", value: schemaMessage(schema) }
    : { case: "sourceTableId", value: { ref: { case: "ticket", value: { ticket: initTable!.ticket } } } };
  const description = `inputTable(${
    schema !== undefined ? `[${schema.fields.map((f) => f.name).join(", ")}]` : initTable!.description
  }${keyColumns.length ? `, keys ${JSON.stringify(keyColumns)}` : ""}${blink ? ", blink" : ""})`;
  return createRef(
    core,
    description,
    (resultId) =>
      core.channel.unary(rpc(TableService.method.createInputTable), {
        resultId,
        definition: definition as never,
        kind: { kind: kind as never },
      }, { what: `Table operation ${description}` }),
    initTable ? [initTable] : [],
    (c, ticket, info, desc) => new InputTable(c, ticket, info, desc),
  );
}
