/**
 * The table operations of {@linkcode TableRef} beyond the basic ones: `whereIn`/`whereNotIn`, `snapshotWhen`,
 * `rangeJoin`, the column moves and renames, `formatColumns`, `headPct`/`tailPct` and the outer joins. Each is
 * the server's own operation: a TableService RPC where there is one; the same `view`/`updateView` columns the
 * server's Java API builds for renames, moves and formats; and for what the server offers only in its Python
 * API (outer joins, `head_pct` and `tail_pct`) that API, through the session's Python script console
 * (`script_op.ts`). Not public API: {@linkcode TableRef}'s methods are.
 *
 * @module
 */

import { DeephavenError } from "../errors.ts";
import { rpcDynamic } from "../transport/rpc.ts";
import type { Aggregation } from "./aggregation.ts";
import { py, scriptTable } from "./script_op.ts";
import type { RefOps, SourceRef, TableRef } from "./table_ref.ts";
import {
  type ExportedTableCreationResponse,
  TableService,
} from "../generated/proto/deephaven_core/proto/table_pb.ts";

/** Options of {@linkcode TableRef.snapshotWhen}, as pydeephaven's `snapshot_when` arguments. */
export interface SnapshotWhenOptions {
  /** Columns of the trigger table stamped on each snapshot (`"New = Old"` renames); default all of them. */
  stampCols?: string | string[];
  /** Take a snapshot at once, before the trigger first ticks. Default `false`. */
  initial?: boolean;
  /** Stamp only the rows added or changed since the last snapshot. Default `false`. */
  incremental?: boolean;
  /** Append each snapshot instead of replacing the previous one (not with `initial` or `incremental`). */
  history?: boolean;
}

function list(x: string | readonly string[] | undefined): string[] {
  if (x === undefined) return [];
  return typeof x === "string" ? [x] : [...x];
}

const ID = "[A-Za-z_$][A-Za-z0-9_$]*";
const PAIR = new RegExp(`^\\s*(${ID})\\s*(?:=\\s*(${ID})\\s*)?$`);

/** `"New = Old"` or `"X"` as [output, input]. */
function parsePair(text: string, what: string): [string, string] {
  const m = typeof text === "string" ? PAIR.exec(text) : null;
  if (!m) {
    throw DeephavenError.invalid(
      `${what} takes column names or "New = Old" pairs, got ${JSON.stringify(text)}`,
    );
  }
  return [m[1], m[2] ?? m[1]];
}

/** The tickets of table references. */
function tickets(sources: SourceRef[]): Uint8Array[] {
  return sources.map((s) => s.ref.value.ticket);
}

async function columnNames(source: TableRef): Promise<string[]> {
  return (await source.schema()).fields.map((f) => f.name);
}

function selectRpc(method: "view" | "updateView" | "select" | "update") {
  return rpcDynamic<Record<string, unknown>, ExportedTableCreationResponse>(TableService.method[method]);
}

/**
 * The view columns of the server's rename-or-move (`QueryTable.renameColumnsImpl`): renamed columns stay in
 * place (`movePosition` < 0) or all go to `movePosition`; a column whose name a rename takes is dropped.
 */
export function renamePlan(
  columns: readonly string[],
  pairs: readonly [string, string][],
  movePosition: number,
  what: string,
): [string, string][] {
  const notFound = pairs.filter(([, input]) => !columns.includes(input)).map(([, i]) => i);
  const lookup = new Map<string, string>();
  const dupSource: string[] = [], dupDest: string[] = [], dests = new Set<string>();
  for (const [output, input] of pairs) {
    if (lookup.has(input)) dupSource.push(input);
    lookup.set(input, output);
    if (dests.has(output)) dupDest.push(output);
    dests.add(output);
  }
  const problems = [
    notFound.length ? `column(s) not found: ${notFound.join(", ")}` : "",
    dupSource.length ? `duplicate source column(s): ${dupSource.join(", ")}` : "",
    dupDest.length ? `duplicate destination column(s): ${dupDest.join(", ")}` : "",
  ].filter((p) => p);
  if (problems.length) {
    throw DeephavenError.invalid(
      `${what} failed: ${problems.join("; ")}; the columns are ${columns.join(", ")}`,
    );
  }
  const out: [string, string][] = [];
  const moved = () => [...lookup].forEach(([input, output]) => out.push([output, input]));
  for (const name of columns) {
    const renamed = lookup.get(name);
    if (renamed === undefined && dests.has(name)) continue; // replaced by a rename
    if (renamed !== undefined && movePosition >= 0) continue; // placed at movePosition
    if (out.length === movePosition) moved();
    out.push([renamed ?? name, name]);
  }
  if (movePosition >= 0 && out.length <= movePosition) moved();
  return out;
}

/** Sends the view of a plan; in two steps when a later column reads a name an earlier one defines. */
function sendPlan(
  core: RefOps["core"],
  result: { ticket: Uint8Array },
  source: SourceRef,
  plan: [string, string][],
  what: string,
): Promise<ExportedTableCreationResponse> {
  const spec = (o: string, i: string) => (o === i ? i : `${o} = ${i}`);
  const defined = new Set<string>();
  let clash = false;
  for (const [o, i] of plan) {
    if (defined.has(i) && o !== i) clash = true;
    defined.add(o);
  }
  const view = selectRpc("view");
  if (!clash) {
    return core.channel.unary(view, {
      resultId: result,
      sourceId: source,
      columnSpecs: plan.map(([o, i]) => spec(o, i)),
    }, {
      what,
    });
  }
  const temp = plan.map((_, k) => `__dh_deno_move_${k}`);
  const step: { ticket: Uint8Array } = { ticket: core.newExportTicket() };
  const first = core.channel.unary(view, {
    resultId: step,
    sourceId: source,
    columnSpecs: plan.map(([, i], k) => `${temp[k]} = ${i}`),
  }, { what });
  first.catch(() => {});
  return core.channel.unary(view, {
    resultId: result,
    sourceId: { ref: { case: "ticket", value: step } },
    columnSpecs: plan.map(([o], k) => `${o} = ${temp[k]}`),
  }, { what }).finally(() => core.release(step.ticket).catch(() => {}));
}

/** Implements `renameColumns`, `moveColumns`, `moveColumnsUp` and `moveColumnsDown`. */
export function moveOrRename(
  ops: RefOps,
  op: string,
  cols: string | readonly string[],
  position: (columnCount: number, moved: number) => number,
): TableRef {
  const name = op.slice(0, op.indexOf("("));
  const pairs = list(cols).map((c) => parsePair(c, `${name}()`));
  const what = `Table operation ${ops.source.description}.${op}`;
  const names = columnNames(ops.source); // read here: the request must not hold the handle
  names.catch(() => {});
  const core = ops.core;
  return ops.derive(op, async (result, [source]) => {
    const columns = await names;
    const plan = renamePlan(columns, pairs, position(columns.length, pairs.length), what);
    return await sendPlan(core, result, source, plan, what);
  });
}

/** A table made by one TableService call from this table and `other` (fields name the two references). */
function binary(
  ops: RefOps,
  op: string,
  other: TableRef,
  method: "whereIn" | "snapshotWhen" | "rangeJoinTables",
  fields: (source: SourceRef, other: SourceRef) => Record<string, unknown>,
): TableRef {
  const spec = rpcDynamic<Record<string, unknown>, ExportedTableCreationResponse>(
    TableService.method[method],
  );
  const channel = ops.core.channel;
  const what = `Table operation ${ops.source.description}.${op}`;
  return ops.derive(
    op,
    (resultId, [source, otherRef]) =>
      channel.unary(spec, { resultId, ...fields(source, otherRef) }, { what }),
    [other],
  );
}

/** Implements `whereIn` and `whereNotIn`. */
export function whereIn(
  ops: RefOps,
  filterTable: TableRef,
  cols: string | string[],
  inverted: boolean,
): TableRef {
  const columnsToMatch = list(cols);
  if (columnsToMatch.length === 0) {
    throw DeephavenError.invalid(
      `${inverted ? "whereNotIn" : "whereIn"}() needs at least one column to match`,
    );
  }
  const op = `${inverted ? "whereNotIn" : "whereIn"}(${filterTable.description}, ${
    JSON.stringify(columnsToMatch)
  })`;
  return binary(ops, op, filterTable, "whereIn", (leftId, rightId) => ({
    leftId,
    rightId,
    inverted,
    columnsToMatch,
  }));
}

/** Implements `snapshotWhen`. */
export function snapshotWhen(ops: RefOps, trigger: TableRef, options: SnapshotWhenOptions): TableRef {
  const stampColumns = list(options.stampCols);
  const flags = {
    initial: !!options.initial,
    incremental: !!options.incremental,
    history: !!options.history,
  };
  if (flags.history && (flags.initial || flags.incremental)) {
    throw DeephavenError.invalid("snapshotWhen() with history cannot also be initial or incremental");
  }
  const op = `snapshotWhen(${trigger.description}, ${JSON.stringify({ stampCols: stampColumns, ...flags })})`;
  return binary(ops, op, trigger, "snapshotWhen", (baseId, triggerId) => ({
    baseId,
    triggerId,
    stampColumns,
    ...flags,
  }));
}

/** Implements `rangeJoin`. */
export function rangeJoin(
  ops: RefOps,
  table: TableRef,
  on: string | string[],
  aggs: Aggregation | Aggregation[],
): TableRef {
  const matches = list(on);
  const aggregations = Array.isArray(aggs) ? aggs : [aggs];
  if (matches.length === 0) {
    throw DeephavenError.invalid(
      'rangeJoin() needs the range match last in \'on\', e.g. ["Sym", "LStart < RTime < LEnd"]',
    );
  }
  if (aggregations.length === 0) throw DeephavenError.invalid("rangeJoin() needs at least one aggregation");
  const op = `rangeJoin(${table.description}, ${JSON.stringify(matches)}, [${
    aggregations.map((a) => a.description).join(", ")
  }])`;
  return binary(ops, op, table, "rangeJoinTables", (leftId, rightId) => ({
    leftId,
    rightId,
    exactMatchColumns: matches.slice(0, -1),
    rangeMatch: matches[matches.length - 1],
    aggregations: aggregations.map((a) => a.wire),
  }));
}

const FORMAT = new RegExp(`^\\s*(${ID}|\\*)\\s*=\\s*(.*\\S+)\\s*$`);
const COLOR = /^\s*Color\((.*\S+)\)\s*$/;
const DECIMAL = /^\s*Decimal\((.*\S+)\)\s*$/;
const DATE = /^\s*Date\((.*\S+)\)\s*$/;
const STYLE = "__TABLE_STYLE_FORMAT", NUMBER = "__TABLE_NUMBER_FORMAT", DATE_FMT = "__TABLE_DATE_FORMAT";

/** The `updateView` column of one format (the server's `SelectColumnFactory.getFormatExpression`). */
function formatColumn(text: string): { base: string; spec: string } {
  const m = typeof text === "string" ? FORMAT.exec(text) : null;
  if (!m) {
    throw DeephavenError.invalid(
      `formatColumns() takes "Column = color", "Column = Decimal(\`0.00\`)" or "* = color" formats, got ${
        JSON.stringify(text)
      }`,
    );
  }
  const [, base, expr] = m;
  const decimal = DECIMAL.exec(expr), date = DATE.exec(expr), color = COLOR.exec(expr);
  if (decimal) return { base, spec: `${base}${NUMBER} = ${decimal[1]}` };
  if (date) return { base, spec: `${base}${DATE_FMT} = ${date[1]}` };
  const name = base === "*" ? `__ROW${STYLE}` : `${base}${STYLE}`;
  return { base, spec: `${name} = io.deephaven.engine.util.ColorUtil.toLong(${color ? color[1] : expr})` };
}

/** The format of `formatColumnWhere` (the server's `TableDefaults.formatColumnWhere`). */
export function conditionalFormat(column: string, condition: string, formula: string): string {
  return `${column} = (${condition}) ? io.deephaven.engine.util.ColorUtil.toLong(${formula}) : ` +
    "io.deephaven.engine.util.ColorUtil.toLong(NO_FORMATTING)";
}

/** Implements `formatColumns` (and through it `formatColumnWhere` and `formatRowWhere`). */
export function formatColumns(ops: RefOps, op: string, formats: string | readonly string[]): TableRef {
  const columns = list(formats).map(formatColumn);
  if (columns.length === 0) throw DeephavenError.invalid("formatColumns() needs at least one format");
  const what = `Table operation ${ops.source.description}.${op}`;
  const names = columnNames(ops.source); // read here: the request must not hold the handle
  names.catch(() => {});
  const channel = ops.core.channel;
  return ops.derive(op, async (resultId, [sourceId]) => {
    const existing = (await names).filter((c) =>
      !c.startsWith("__ROW") && ![STYLE, NUMBER, DATE_FMT].some((s) => c.endsWith(s))
    );
    const unknown = columns.map((c) => c.base).filter((b) => b !== "*" && !existing.includes(b));
    if (unknown.length) {
      throw DeephavenError.invalid(
        `${what} failed: unknown column(s) ${unknown.join(", ")}; the columns are ${existing.join(", ")}`,
      );
    }
    return await channel.unary(selectRpc("updateView"), {
      resultId,
      sourceId,
      columnSpecs: columns.map((c) => c.spec),
    }, { what });
  });
}

/** Implements `headPct` and `tailPct` with the server's `head_pct` and `tail_pct`. */
export function pct(ops: RefOps, head: boolean, percent: number): TableRef {
  const name = head ? "headPct" : "tailPct";
  if (typeof percent !== "number" || !(percent >= 0 && percent <= 1)) {
    throw DeephavenError.invalid(
      `${name}() needs a fraction of rows between 0 and 1, got ${String(percent)}`,
    );
  }
  const op = `${name}(${percent})`;
  const core = ops.core;
  const what = `Table operation ${ops.source.description}.${op}`;
  return ops.derive(op, (result, sources) =>
    scriptTable(
      core,
      result.ticket,
      tickets(sources),
      ([t], out) => `${out} = ${t}.${head ? "head_pct" : "tail_pct"}(${percent})`,
      what,
    ));
}

/** Implements `leftOuterJoin` and `fullOuterJoin` with the server's `deephaven.experimental.outer_joins`. */
export function outerJoin(
  ops: RefOps,
  full: boolean,
  table: TableRef,
  on: string | string[] | undefined,
  joins: string | string[] | undefined,
  reserveBits: number | undefined,
): TableRef {
  const name = full ? "fullOuterJoin" : "leftOuterJoin";
  if (reserveBits !== undefined && (!Number.isInteger(reserveBits) || reserveBits < 1 || reserveBits > 62)) {
    throw DeephavenError.invalid(`${name}() needs reserveBits between 1 and 62, got ${reserveBits}`);
  }
  const onList = list(on), joinList = list(joins);
  const op = `${name}(${table.description}, ${JSON.stringify(onList)}, ${JSON.stringify(joinList)})`;
  const fn = full ? "full_outer_join" : "left_outer_join";
  const core = ops.core;
  const what = `Table operation ${ops.source.description}.${op}`;
  return ops.derive(
    op,
    (result, sources) =>
      scriptTable(
        core,
        result.ticket,
        tickets(sources),
        ([l, r], out) =>
          `from deephaven.experimental.outer_joins import ${fn}\n` +
          `${out} = ${fn}(${l}, ${r}, on=${py(onList)}, joins=${py(joinList)}` +
          `${reserveBits === undefined ? "" : `, reserve_bits=${reserveBits}`})`,
        what,
      ),
    [table],
  );
}
