/**
 * Live Deephaven tables in Deno: sessions, server tables, shared tickets,
 * Barrage subscriptions and snapshots into local tables, errors.
 *
 * Connect to a Deephaven Community Core server with {@linkcode Session},
 * build and query tables on the server through {@linkcode TableRef} handles,
 * publish them under a {@linkcode SharedTicket}, and capture them with
 * {@linkcode barrageSession}: `subscribe()` gives a {@linkcode LocalTable}
 * that keeps ticking and can be queried locally, `snapshot()` a static one.
 *
 * Other parts are subpaths of the package: `./display` (notebook display),
 * `./plot` (Observable Plot charts), `./export` (CSV, JSON, Arrow, Parquet),
 * `./server` (an embedded Deephaven server) and `./testing` (test support).
 *
 * @example Connect, build a table on the server, publish it, capture it
 * ```ts ignore
 * import { barrageSession, Session, SharedTicket } from "@dh/deephaven";
 *
 * await using session = await Session.connect({ host: "localhost", port: 10000 });
 * const t = session.timeTable("PT1s").update(["X = 0.1 * i", "Y = Math.sin(X)"]);
 * const ticket = SharedTicket.randomTicket();
 * await session.publishTable(ticket, t);
 * console.log((await session.toArrow(ticket)).numRows);
 *
 * const bs = await barrageSession({ host: "localhost", port: 10000 });
 * const live = await bs.subscribe(ticket.bytes);
 * console.log(live.lastBy().size);
 * ```
 *
 * @module
 */

import { Session } from "./src/session/session.ts";
import { TableRef } from "./src/session/table_ref.ts";
import { BarrageSession } from "./src/barrage/barrage_session.ts";
import { LocalTable } from "./src/table/local_table.ts";
import { attachDisplay } from "./src/display/jupyter.ts";

// Notebook display, attached in this one place: a table, a handle or a session that is a cell's value
// renders itself (the classes above know nothing of display).
attachDisplay(LocalTable, TableRef, Session, BarrageSession);

export {
  DeephavenError,
  type DeephavenErrorOptions,
  GrpcCode,
  type GrpcCodeName,
  grpcCodeName,
} from "./src/errors.ts";
export {
  type ConnectOptions,
  type FieldInfo,
  type FieldsChange,
  type ReconnectOptions,
  Session,
  type SessionState,
  type TimeTableOptions,
} from "./src/session/session.ts";
export { type NaturalJoinType, type SortDirection, TableRef } from "./src/session/table_ref.ts";
// Issue 15: input tables, updateBy, more table operations, partitioned tables.
export { type InputRows, InputTable, type InputTableOptions } from "./src/session/input_table.ts";
export type { PlainRow } from "./src/arrow/from_rows.ts";
export {
  type BadDataBehavior,
  type DeltaControl,
  type MathContext,
  type OperationControl,
  type TimeSpan,
  uby,
  type UpdateByOperation,
  type UpdateByOperationWire,
} from "./src/session/update_by.ts";
export type { SnapshotWhenOptions } from "./src/session/more_ops.ts";
export { multiJoin, type MultiJoinInput } from "./src/session/multi_join.ts";
export { type Constituent, PartitionedTable } from "./src/session/partitioned.ts";
export { agg, type Aggregation, type AggregationWire, type SpecWire } from "./src/session/aggregation.ts";
export { type AuthType, PSK_AUTH } from "./src/session/auth.ts";
export { SharedTicket, type TicketLike } from "./src/session/ticket.ts";
export {
  type BarrageSession,
  barrageSession,
  type BarrageSessionOptions,
  type Capturable,
} from "./src/barrage/barrage_session.ts";
export {
  DEFAULT_READY_TIMEOUT_MS,
  type LiveTable,
  type SetViewportOptions,
  type SnapshotProgress,
  type SubscribeOptions,
  type Viewport,
} from "./src/barrage/subscription.ts";
export {
  type ComputedColumn,
  type ComputedColumns,
  type LocalAggregations,
  LocalTable,
  type Row,
  type RowFilter,
  type SortOptions,
  type TableState,
  type TableUpdate,
} from "./src/table/local_table.ts";
export { localTableFromArrow } from "./src/barrage/from_arrow.ts";
export { Instant, type InstantLike } from "./src/table/time.ts";
export type { ColumnType } from "./src/query/column_types.ts";
export { type RowKey, RowSet, ShiftData } from "./src/table/rowset.ts";
export type { ArrowDataType, ArrowField, ArrowSchema } from "./src/arrow_types.ts";
export { type DeephavenUri, parseUri, resolveUri, type ResolveUriOptions } from "./src/barrage/uri.ts";
