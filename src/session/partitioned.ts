/**
 * {@linkcode PartitionedTable}: a server table split by key columns into constituent tables, one per
 * distinct key (the server's `PartitionedTable`, made by {@linkcode TableRef.partitionBy}).
 *
 * @module
 */

import { fromBinary } from "../deps/protobuf.ts";
import type { ArrowSchema } from "../arrow_types.ts";
import { Schema, type Table, Type, type Vector } from "../deps/apache_arrow.ts";
import { DeephavenError, GrpcCode } from "../errors.ts";
import { rpc } from "../transport/rpc.ts";
import { schemaFromHeader } from "../arrow/ipc.ts";
import { rowsToArrow } from "../arrow/from_rows.ts";
import { doPut } from "./do_put.ts";
import { exportOf, type RefOps, type TableRef } from "./table_ref.ts";
import type { TableExport } from "./core.ts";
import { describeTicket } from "./ticket.ts";
import { TableService } from "../generated/proto/deephaven_core/proto/table_pb.ts";
import { ObjectService } from "../generated/proto/deephaven_core/proto/object_pb.ts";
import {
  type PartitionedTableDescriptor,
  PartitionedTableDescriptorSchema,
  PartitionedTableService,
} from "../generated/proto/deephaven_core/proto/partitionedtable_pb.ts";

/** The stored value of row `i` of a vector (chunks walked). */
function stored(vector: Vector, i: number): unknown {
  let k = i;
  for (const d of vector.data) {
    if (k < d.length) return (d.values as ArrayLike<unknown>)[d.offset + k];
    k -= d.length;
  }
  return undefined;
}

/**
 * A key value as `getTable` takes it back: timestamps as epoch nanoseconds (`bigint`), chars as one-character
 * strings, dates as `YYYY-MM-DD`, the rest as apache-arrow reads them.
 */
function keyValue(vector: Vector, i: number): unknown {
  if (!vector.isValid(i)) return null;
  const type = vector.type;
  switch (type.typeId) {
    case Type.Timestamp: {
      const unit = (type as unknown as { unit: number }).unit;
      return BigInt(stored(vector, i) as bigint) * [1_000_000_000n, 1_000_000n, 1_000n, 1n][unit];
    }
    case Type.Int: {
      const { bitWidth, isSigned } = type as unknown as { bitWidth: number; isSigned: boolean };
      return !isSigned && bitWidth === 16 ? String.fromCharCode(stored(vector, i) as number) : vector.get(i);
    }
    case Type.Date: {
      const v = Number(stored(vector, i));
      const ms = (type as unknown as { unit: number }).unit === 0 ? v * 86_400_000 : v;
      return new Date(ms).toISOString().slice(0, 10);
    }
    default:
      return vector.get(i);
  }
}

/** One constituent of a {@linkcode PartitionedTable}: its key values and its table. */
export interface Constituent {
  /** The values of the key columns, in the order of {@linkcode PartitionedTable.keyColumns}. */
  key: unknown[];
  /** The constituent table. */
  table: TableRef;
}

/**
 * A partitioned table on the server: the rows of a table split by key columns into constituent tables. Make
 * one with {@linkcode TableRef.partitionBy}. Like a `TableRef` it is a handle: `merge()`, `getTable(key)` and
 * `keyTable()` return table handles at once; what the server said about it (`keyColumns()`, `keys()`) is
 * awaited. A constituent is a table like any other: subscribe to it with Barrage, derive from it.
 *
 * @example Usage
 * ```ts ignore
 * const trades = session.timeTable("PT0.1s").update(["Sym = ii % 2 == 0 ? `A` : `B`", "Px = ii * 0.5"]);
 * const bySym = trades.partitionBy("Sym");
 * console.log(await bySym.keys()); // [["A"], ["B"]]
 * const a = bySym.getTable("A"); // a TableRef of the rows with Sym A; it keeps ticking
 * const live = await (await barrageSession({ host, port })).subscribe(a);
 * const all = bySym.merge(); // every constituent again in one table
 * ```
 */
export class PartitionedTable {
  readonly #ops: RefOps;
  readonly #description: string;
  readonly #exp: TableExport;
  readonly #created: Promise<void>;
  #descriptor: PartitionedTableDescriptor | undefined;
  readonly #table: TableRef;
  #keyTable: TableRef | undefined;
  #closed = false;

  /**
   * Use {@linkcode TableRef.partitionBy}.
   * @ignore
   */
  constructor(ops: RefOps, keyColumns: string[], dropKeys: boolean) {
    this.#ops = ops;
    this.#description = `${ops.source.description}.partitionBy(${JSON.stringify(keyColumns)}${
      dropKeys ? ", dropKeys" : ""
    })`;
    const core = ops.core;
    const what = `Table operation ${this.#description}`;
    // The partitioned table is an export of its own, re-created after a new server session like a table's
    // (reading its source's current ticket) and released when this object is closed or collected.
    const source = exportOf(ops.source);
    const exp: TableExport = {
      ticket: core.newExportTicket(),
      sources: [source],
      held: true,
      readers: new Set(),
      make: (result: Uint8Array, [from]: Uint8Array[]) =>
        core.channel.unary(rpc(PartitionedTableService.method.partitionBy), {
          tableId: { ticket: from },
          resultId: { ticket: result },
          keyColumnNames: keyColumns,
          dropKeys,
        }, { what }),
    };
    this.#exp = exp;
    core.track(exp, this);
    this.#created = (async () => {
      core.checkAlive(what);
      try {
        await exp.make(exp.ticket, [source.ticket]);
      } catch (e) {
        await ops.source.ready(); // a failed source explains this failure better
        throw e;
      }
    })();
    this.#created.catch(() => {});
    const settled = this.#created.then(() => {}, () => {});
    source.readers.add(settled);
    settled.then(() => source.readers.delete(settled));
    this.#table = ops.create(`${this.#description}.table`, async (result) => {
      await this.#created;
      const fetched = await core.channel.unary(rpc(ObjectService.method.fetchObject), {
        sourceId: { ticket: { ticket: exp.ticket }, type: "PartitionedTable" },
      }, { what });
      const exported = fetched.typedExportIds.map((t) => t.ticket?.ticket).filter((t) => t !== undefined);
      try {
        this.#descriptor = fromBinary(PartitionedTableDescriptorSchema, fetched.data);
        if (exported.length === 0) {
          throw new DeephavenError(`${what} failed: the server sent no underlying table`, {
            code: GrpcCode.INTERNAL,
          });
        }
        const r = await core.channel.unary(rpc(TableService.method.fetchTable), {
          sourceId: { ref: { case: "ticket", value: { ticket: exported[0] } } },
          resultId: result,
        }, { what });
        return r;
      } finally {
        for (const t of exported) core.release(t).catch(() => {});
      }
    }, [ops.source]);
  }

  /** How this partitioned table was made, e.g. `emptyTable(10).partitionBy(["Sym"])`. */
  get description(): string {
    return this.#description;
  }

  /**
   * The underlying table: one row per constituent, with the key columns and a column holding the constituent
   * table. Read the keys with {@linkcode PartitionedTable.keyTable} or {@linkcode PartitionedTable.keys}.
   */
  get table(): TableRef {
    return this.#table;
  }

  /** Waits until the server has made the partitioned table; throws its error when it failed. */
  async ready(): Promise<this> {
    await this.#table.ready();
    return this;
  }

  async #describe(): Promise<PartitionedTableDescriptor> {
    await this.#table.ready();
    return this.#descriptor!;
  }

  /** The key columns (those given to `partitionBy`). */
  async keyColumns(): Promise<string[]> {
    return [...(await this.#describe()).keyColumnNames];
  }

  /** Whether each key has exactly one constituent. */
  async uniqueKeys(): Promise<boolean> {
    return (await this.#describe()).uniqueKeys;
  }

  /** The name of the underlying table's column that holds the constituent tables. */
  async constituentColumn(): Promise<string> {
    return (await this.#describe()).constituentColumnName;
  }

  /** The schema every constituent has (without the key columns when `dropKeys` was given). */
  async constituentSchema(): Promise<ArrowSchema> {
    return schemaFromHeader((await this.#describe()).constituentDefinitionSchema);
  }

  /** A table of the keys, one row per constituent (the underlying table without the constituent column). */
  keyTable(): TableRef {
    this.#checkOpen("keyTable()");
    this.#keyTable ??= this.#ops.create(`${this.#description}.keyTable()`, async (resultId, [sourceId]) => {
      const d = await this.#describe();
      return await this.#ops.core.channel.unary(rpc(TableService.method.view), {
        resultId,
        sourceId,
        columnSpecs: d.keyColumnNames,
      }, { what: `Table operation ${this.#description}.keyTable()` });
    }, [this.#table]);
    return this.#keyTable;
  }

  /**
   * The keys of the constituents now, each as the list of its key column values (in the order of
   * {@linkcode PartitionedTable.keyColumns}), in the form `getTable` takes: timestamps as epoch nanoseconds
   * (`bigint`), chars as one-character strings, dates as `YYYY-MM-DD`.
   *
   * @param signal Aborts the transfer.
   * @returns The keys.
   */
  async keys(signal?: AbortSignal): Promise<unknown[][]> {
    const t: Table = await this.keyTable().toArrow(signal);
    const columns = t.schema.fields.map((f) => t.getChild(f.name)!);
    return Array.from({ length: t.numRows }, (_, i) => columns.map((c) => keyValue(c, i)));
  }

  /**
   * The constituent table of one key: its rows of the source (for a ticking source, a ticking table). A key
   * that has no constituent fails on use with `NOT_FOUND`.
   *
   * @param key The key value, or the values of all key columns in order.
   * @returns The constituent's table handle.
   */
  getTable(key: unknown): TableRef {
    this.#checkOpen("getTable()");
    const values = Array.isArray(key) ? [...key] : [key];
    const op = `${this.#description}.getTable(${
      JSON.stringify(values, (_, v) => typeof v === "bigint" ? `${v}` : v)
    })`;
    const what = `Table operation ${op}`;
    const core = this.#ops.core;
    return this.#ops.create(op, async (resultId) => {
      const d = await this.#describe();
      if (values.length !== d.keyColumnNames.length) {
        throw DeephavenError.invalid(
          `${what} failed: give one value per key column (${
            d.keyColumnNames.join(", ")
          }), got ${values.length}`,
        );
      }
      const schema = await this.#table.schema() as Schema;
      const keySchema = new Schema(d.keyColumnNames.map((n) => schema.fields.find((f) => f.name === n)!));
      const row = Object.fromEntries(d.keyColumnNames.map((n, i) => [n, values[i]]));
      const keyTable = rowsToArrow([row], keySchema, what);
      const temp = core.newExportTicket();
      try {
        await doPut(core, temp, keyTable, what);
        return await core.channel.unary(rpc(PartitionedTableService.method.getTable), {
          partitionedTable: { ticket: this.#exp.ticket },
          keyTableTicket: { ticket: temp },
          resultId,
          uniqueBehavior: 1, // REQUIRE_UNIQUE_RESULTS_STATIC_SINGLE_KEY: exactly the constituent
        }, { what });
      } catch (e) {
        if (e instanceof DeephavenError && /\b0 constituents found/.test(e.message)) {
          throw new DeephavenError(
            `${what} failed: there is no constituent with this key; keys() lists the keys there are`,
            { code: GrpcCode.NOT_FOUND, cause: e },
          );
        }
        throw e;
      } finally {
        core.release(temp).catch(() => {});
      }
    }, [this.#table]);
  }

  /**
   * Every constituent now, with its key.
   *
   * @returns The constituents, in the order of the underlying table.
   */
  async constituents(): Promise<Constituent[]> {
    return (await this.keys()).map((key) => ({ key, table: this.getTable(key) }));
  }

  /**
   * All constituents in one table (for a ticking source, a ticking table).
   *
   * @returns The merged table's handle.
   */
  merge(): TableRef {
    this.#checkOpen("merge()");
    const op = `${this.#description}.merge()`;
    return this.#ops.create(op, async (resultId) => {
      await this.#created;
      return await this.#ops.core.channel.unary(rpc(PartitionedTableService.method.merge), {
        partitionedTable: { ticket: this.#exp.ticket },
        resultId,
      }, { what: `Table operation ${op}` });
    }, [this.#table]);
  }

  /** Releases the partitioned table on the server (tables got from it stay valid). Safe to call twice. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    await this.#keyTable?.close();
    await this.#table.close();
    await this.#created.catch(() => {});
    await this.#ops.core.releaseExport(this.#exp);
  }

  /** Releases the partitioned table, for `await using`. */
  async [Symbol.asyncDispose](): Promise<void> {
    await this.close();
  }

  #checkOpen(what: string): void {
    if (this.#closed) {
      throw new DeephavenError(
        `${what} of ${this.#description} failed: the partitioned table was closed; use one that is still open`,
        { code: GrpcCode.FAILED_PRECONDITION },
      );
    }
  }

  /** A description without data, e.g. `PartitionedTable(emptyTable(10).partitionBy(["Sym"]), export 3)`. */
  toString(): string {
    return `PartitionedTable(${this.#description}, ${describeTicket(this.#exp.ticket)}${
      this.#closed ? ", closed" : ""
    })`;
  }

  /** Shows the handle in `Deno.inspect` without data. */
  [Symbol.for("Deno.customInspect")](): string {
    return this.toString();
  }
}
