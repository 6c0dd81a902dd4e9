/**
 * {@linkcode multiJoin}: a natural join of several tables at once on common keys (pydeephaven's
 * `multi_join`).
 *
 * @module
 */

import { DeephavenError } from "../errors.ts";
import { rpc } from "../transport/rpc.ts";
import { coreOf, refOps, TableRef } from "./table_ref.ts";
import { TableService } from "../generated/proto/deephaven_core/proto/table_pb.ts";

/** One table of a {@linkcode multiJoin}, with its own key columns and the columns it adds. */
export interface MultiJoinInput {
  /** The table. */
  table: TableRef;
  /** Its key columns, `"Key"` or `"OutputKey = TableKey"`. */
  on: string | string[];
  /** The columns it adds (all but the keys when absent); `"New = Old"` renames. */
  joins?: string | string[];
}

function list(x: string | readonly string[] | undefined): string[] {
  if (x === undefined) return [];
  return typeof x === "string" ? [x] : [...x];
}

/**
 * A natural join of several tables on common keys: the result has one row per distinct key of all the tables,
 * and each table's columns for that key (null where a table lacks the key). No table may have a key twice.
 *
 * @example
 * ```ts ignore
 * import { multiJoin } from "@dh/deephaven";
 *
 * const t = multiJoin([bids, asks, trades], "Sym");
 * const u = multiJoin([{ table: bids, on: "Sym", joins: "Bid" }, { table: asks, on: "Sym = Ticker", joins: "Ask" }]);
 * ```
 *
 * @param input Tables (then `on` gives the keys of all of them), or {@linkcode MultiJoinInput}s.
 * @param on The key columns, when `input` holds tables.
 * @returns The joined table.
 */
export function multiJoin(
  input: TableRef | readonly TableRef[] | MultiJoinInput | readonly MultiJoinInput[],
  on?: string | string[],
): TableRef {
  const items = (Array.isArray(input) ? [...input] : [input]) as (TableRef | MultiJoinInput)[];
  if (items.length === 0) throw DeephavenError.invalid("multiJoin() needs at least one table");
  let inputs: MultiJoinInput[];
  if (items.every((i) => i instanceof TableRef)) {
    if (on === undefined) throw DeephavenError.invalid("multiJoin() needs 'on' when given tables");
    inputs = (items as TableRef[]).map((table) => ({ table, on }));
  } else if (
    items.every((i) => !(i instanceof TableRef) && i && (i as MultiJoinInput).table instanceof TableRef)
  ) {
    if (on !== undefined) {
      throw DeephavenError.invalid("multiJoin() takes no 'on' with MultiJoinInputs: each input has its own");
    }
    inputs = items as MultiJoinInput[];
  } else {
    throw DeephavenError.invalid(
      "multiJoin() takes tables (TableRef) or MultiJoinInputs ({ table, on, joins })",
    );
  }
  const core = coreOf(inputs[0].table);
  if (inputs.some((i) => coreOf(i.table) !== core)) {
    throw DeephavenError.invalid(
      "multiJoin() needs all tables in the same session; fetch the others into this session first",
    );
  }
  const description = `multiJoin([${
    inputs.map((i) => `${i.table.description} on ${JSON.stringify(list(i.on))}`).join(", ")
  }])`;
  const specs = inputs.map((i) => ({ columnsToMatch: list(i.on), columnsToAdd: list(i.joins) }));
  const what = `Table operation ${description}`;
  return refOps(inputs[0].table).create(
    description,
    (resultId, sources) =>
      core.channel.unary(rpc(TableService.method.multiJoinTables), {
        resultId,
        multiJoinInputs: specs.map((spec, k) => ({ sourceId: sources[k], ...spec })),
      }, { what }),
    inputs.map((i) => i.table),
  );
}
