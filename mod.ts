/**
 * Live Deephaven tables in Deno.
 *
 * Connect to a Deephaven Community Core server with {@linkcode Session},
 * build and query tables on the server through {@linkcode TableRef} handles,
 * publish them under a {@linkcode SharedTicket}, and capture them as Arrow
 * snapshots.
 *
 * @example Connect, build a table on the server, take a snapshot
 * ```ts ignore
 * import { Session, SharedTicket } from "./mod.ts";
 *
 * await using session = await Session.connect({ host: "localhost", port: 10000 });
 * const t = session.timeTable("PT1s").update(["X = 0.1 * i", "Y = Math.sin(X)"]);
 * const ticket = SharedTicket.randomTicket();
 * await session.publishTable(ticket, t);
 * console.log((await session.snapshot(ticket)).numRows);
 * ```
 *
 * @module
 */

export {
  DeephavenError,
  type DeephavenErrorOptions,
  GrpcCode,
  type GrpcCodeName,
  grpcCodeName,
} from "./src/errors.ts";
export {
  type ConnectOptions,
  type ReconnectOptions,
  Session,
  type SessionState,
  type TimeTableOptions,
} from "./src/session/session.ts";
export { type NaturalJoinType, type SortDirection, TableRef } from "./src/session/table_ref.ts";
export { agg, type Aggregation, type AggregationWire, type SpecWire } from "./src/session/aggregation.ts";
export { type AuthType, loginHeader, PSK_AUTH } from "./src/session/auth.ts";
export { SharedTicket, type TicketLike } from "./src/session/ticket.ts";
export {
  type BarrageSession,
  barrageSession,
  type BarrageSessionOptions,
  type Capturable,
} from "./src/barrage/barrage_session.ts";
export { type LiveTable, type SubscribeOptions, type Viewport } from "./src/barrage/subscription.ts";
export {
  type ComputedColumns,
  type LocalAggregations,
  LocalTable,
  type Row,
  type RowFilter,
  type SortOptions,
  type TableState,
  type TableUpdate,
} from "./src/table/local_table.ts";
export { localQueriesLoaded } from "./src/query/ops.ts";
export { localTableFromArrow } from "./src/barrage/from_arrow.ts";
export { type RangeStorage, type RowKey, RowSet, ShiftData } from "./src/table/rowset.ts";
export type { ArrowDataType, ArrowField, ArrowSchema } from "./src/arrow_types.ts";
export {
  display,
  type Displayable,
  type DisplayOptions,
  type LiveDisplayable,
  type MimeBundle,
  setDisplayOptions,
  tableBundle,
} from "./src/display/jupyter.ts";
export {
  LivePlot,
  type MarkKind,
  plot,
  type PlotOptions,
  type PlotRow,
  renderPlot,
} from "./src/display/plot.ts";
export { formatText, type FormatTextOptions, formatValue } from "./src/display/format.ts";
export {
  escapeHtml,
  type HtmlColumn,
  type HtmlOptions,
  type HtmlTableInput,
  renderTableHtml,
} from "./src/display/html.ts";
export {
  type ExportableTable,
  type FileFormat,
  formatOfPath,
  fromParquet,
  toArrowIPC,
  toCSV,
  toJSON,
  toJSONRows,
  toParquet,
  writeTable,
} from "./src/table/export.ts";
export { type DeephavenUri, parseUri, resolveUri, type ResolveUriOptions } from "./src/barrage/uri.ts";
