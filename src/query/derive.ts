/**
 * The machinery shared by derived local tables: following a source table's
 * updates and state, closing with it, and reading its rows by slot.
 *
 * @module
 */

import type * as arrow from "../deps/apache_arrow.ts";
import { DeephavenError } from "../errors.ts";
import {
  createLocalTable,
  type LocalTable,
  type Row,
  storageOf,
  type TableState,
  type TableUpdate,
  type TableWriter,
} from "../table/local_table.ts";
import { RowSet } from "../table/rowset.ts";
import type { Chunk, ColumnKind, ColumnStore } from "../table/column.ts";
import { KINDS } from "../table/kinds.ts";

/** Reads a source table's rows by storage slot. */
export class SlotReader {
  readonly stores: ColumnStore[];
  readonly names: string[];
  readonly #index: Map<string, number>;

  constructor(readonly table: LocalTable) {
    this.names = table.columns;
    this.stores = this.names.map((_, j) => storageOf(table).store(j));
    this.#index = new Map(this.names.map((n, j) => [n, j]));
  }

  /** Column index by name, or throws a TypeError naming the columns. */
  index(name: string): number {
    const j = this.#index.get(name);
    if (j === undefined) {
      throw DeephavenError.invalid(
        `No column ${JSON.stringify(name)}; the columns are ${
          this.names.map((n) => JSON.stringify(n)).join(", ")
        }`,
      );
    }
    return j;
  }

  /** The row stored in `slot`, as an object. */
  row(slot: number): Row {
    const out: Row = {};
    for (let j = 0; j < this.stores.length; j++) out[this.names[j]] = this.stores[j].get(slot);
    return out;
  }

  /** The slots of a set of keys of the source (keys must be present). */
  slotsOf(keys: RowSet): Int32Array {
    const storage = storageOf(this.table);
    const ranges = storage.rowSet.positionRangesOf(keys);
    const out = new Int32Array(keys.size);
    let k = 0;
    for (let r = 0; r < ranges.length; r += 2) {
      for (let p = ranges[r]; p <= ranges[r + 1]; p++) out[k++] = storage.slotAt(p);
    }
    return out;
  }

  /** Raw values of column `j` at the given slots, as a chunk of the column's kind. */
  rawColumn(j: number, slots: Int32Array): Chunk {
    return this.stores[j].gather(slots);
  }
}

/** An update that delivers a table's whole current content as added rows. */
export function initialUpdate(t: LocalTable): TableUpdate {
  return {
    added: t.rowSet,
    removed: RowSet.EMPTY,
    modified: RowSet.EMPTY,
    modifiedColumns: [],
    shifted: false,
    isSnapshot: true,
    size: t.size,
    slots: { removed: new Int32Array(0), added: storageOf(t).slots().slice(), modified: new Int32Array(0) },
  };
}

/**
 * Creates a derived table: `apply` is called with the source's whole
 * content first, then with every update. The derived table follows the
 * source's state and closes when the source closes.
 *
 * @param source The source table.
 * @param schema The derived table's schema.
 * @param apply Applies one source update to the derived table.
 * @returns The derived table.
 */
export function derive(
  source: LocalTable,
  schema: arrow.Schema,
  apply: (out: TableWriter, u: TableUpdate) => void,
): LocalTable {
  const offs: Array<() => void> = [];
  const { table: out, writer } = createLocalTable(schema, { onClose: () => offs.forEach((f) => f()) });
  apply(writer, initialUpdate(source));
  const follow = (s: TableState) => {
    if (s === "closed") out.close();
    else writer.setState(s, s === "failed" ? source.error : undefined);
  };
  if (source.state !== "live") follow(source.state);
  offs.push(source.onUpdate((u) => {
    try {
      apply(writer, u);
    } catch (e) {
      writer.setState(
        "failed",
        e instanceof DeephavenError
          ? e
          : new DeephavenError(`A local query failed while applying an update: ${(e as Error).message}`, {
            cause: e,
          }),
      );
    }
  }));
  offs.push(source.onStateChange(follow));
  return out;
}

/** An INVALID_ARGUMENT error for bad input to a local query. */
export function bad(message: string): DeephavenError {
  return DeephavenError.invalid(message);
}

/** Whether an update changes nothing. */
export function isEmptyUpdate(removed: RowSet, added: RowSet, modified: RowSet[], shifted: boolean): boolean {
  return !shifted && removed.isEmpty && added.isEmpty && modified.every((m) => m.isEmpty);
}

/** Compares raw values of one kind: nulls first, NaN last (the kind's `compare`). */
export function compareRaw(kind: ColumnKind, a: unknown, b: unknown): number {
  return KINDS[kind].compare(a, b);
}

/** `a` with room for at least `n` entries (new entries -1). */
export function growInt32(a: Int32Array, n: number): Int32Array<ArrayBuffer> {
  if (n <= a.length) return a as Int32Array<ArrayBuffer>;
  const next = new Int32Array(Math.max(n, a.length * 2, 16)).fill(-1);
  next.set(a);
  return next;
}
