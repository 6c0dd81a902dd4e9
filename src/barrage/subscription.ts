/**
 * Barrage subscriptions and snapshots over Flight DoExchange: the request,
 * the stream of update messages (each spread over one or more record
 * batches), and their application to a {@linkcode LocalTable}.
 *
 * @module
 */

import type * as arrow from "../deps/apache_arrow.ts";
import type { ArrowSchema } from "../arrow_types.ts";
import { DeephavenError, GrpcCode } from "../errors.ts";
import { rpc } from "../transport/rpc.ts";
import type { BidiCall } from "../transport/channel.ts";
import { isTransient, type SessionCore } from "../session/core.ts";
import { schemaFromFlatbuffer } from "../arrow/ipc.ts";
import { describeTicket } from "../session/ticket.ts";
import { createLocalTable, LocalTable, type TableState, type TableWriter } from "../table/local_table.ts";
import { RowSet } from "../table/rowset.ts";
import { UpdateApplier } from "./applier.ts";
import { SnapshotStream } from "./snapshot_stream.ts";
import { snapshotRequest, subscriptionRequest, type UpdateMetadata } from "./messages.ts";
import { FlightService } from "../generated/proto/arrow/flight/protocol/flight_pb.ts";
import type { FlightData } from "../generated/proto/arrow/flight/protocol/flight_pb.ts";

/** A window of rows by position: `first` to `last`, inclusive. */
export interface Viewport {
  /** First row position (0-based). */
  first: number;
  /** Last row position, inclusive. */
  last: number;
}

/** Options of `subscribe` and `snapshot`. */
export interface SubscribeOptions {
  /** Only these columns (all when absent). Other columns stay in the schema, empty. */
  columns?: string[];
  /** Only these rows, by position (the whole table when absent). */
  viewport?: Viewport | RowSet;
  /** Count viewport positions from the end of the table (follow the tail). */
  reverse?: boolean;
  /** Ask the server for Deephaven null sentinels (`true`, default) or Arrow validity bitmaps (`false`). */
  useDeephavenNulls?: boolean;
  /** Minimum interval between updates in ms (server default 1000). Subscriptions only. */
  minUpdateIntervalMs?: number;
  /** Rows per record batch (server default). */
  batchSize?: number;
  /** Upper bound of one message in bytes (server default, 100 MiB). */
  maxMessageSize?: number;
  /** Aborts the subscription or snapshot (a live table then closes). */
  signal?: AbortSignal;
  /**
   * Called as a snapshot arrives, after each message, with the rows and bytes received so far and the rows
   * expected (the table's size, asked of the server first). Snapshots only.
   */
  onProgress?: (progress: SnapshotProgress) => void;
}

/** How far a snapshot has arrived (see {@linkcode SubscribeOptions.onProgress}). */
export interface SnapshotProgress {
  /** Rows received so far. */
  rows: number;
  /** Rows the snapshot will hold, when the server told (otherwise `undefined`). */
  totalRows: number | undefined;
  /** Message bytes received so far (Arrow headers and bodies). */
  bytes: number;
}

type Exchange = BidiCall<Partial<FlightData> & Record<string, unknown>, FlightData>;

function viewportRowSet(v: Viewport | RowSet | undefined): RowSet | undefined {
  if (v === undefined) return undefined;
  if (v instanceof RowSet) return v;
  if (!Number.isSafeInteger(v.first) || !Number.isSafeInteger(v.last) || v.first < 0 || v.last < v.first) {
    throw new DeephavenError(
      `Viewport {first: ${v.first}, last: ${v.last}} is not valid; give whole numbers with 0 <= first <= last`,
      { code: GrpcCode.INVALID_ARGUMENT },
    );
  }
  return RowSet.range(v.first, v.last);
}

function columnIndexes(
  schema: ArrowSchema | undefined,
  columns: string[] | undefined,
): number[] | undefined {
  if (!columns || !schema) return undefined;
  const names = schema.fields.map((f) => f.name);
  return columns.map((c) => {
    const i = names.indexOf(c);
    if (i < 0) {
      throw new DeephavenError(
        `No column ${JSON.stringify(c)} to subscribe to; the columns are ${names.join(", ")}`,
        { code: GrpcCode.INVALID_ARGUMENT },
      );
    }
    return i;
  });
}

/** The writers of live tables (only this module writes them). */
const liveWriters = new WeakMap<LiveTable, TableWriter>();

function writerOf(t: LiveTable): TableWriter {
  return liveWriters.get(t)!;
}

/**
 * A local table that a Barrage subscription keeps current. It is a
 * {@linkcode LocalTable} with a viewport that can change and a promise that
 * resolves when the initial snapshot is complete.
 */
export class LiveTable extends LocalTable {
  /** Resolves when the initial snapshot (or the latest viewport change) has been applied. */
  ready: Promise<void>;
  #resolveReady!: () => void;
  #rejectReady!: (e: DeephavenError) => void;
  #call: Exchange | undefined;
  #viewport: RowSet | undefined;
  #reverse: boolean;
  #columns: number[] | undefined;
  readonly #description: string;

  /** @ignore */
  constructor(
    schema: arrow.Schema,
    description: string,
    viewport: RowSet | undefined,
    reverse: boolean,
    columns: number[] | undefined,
  ) {
    let writer!: TableWriter;
    super(schema, { start: (w) => (writer = w) });
    liveWriters.set(this, writer);
    this.#description = description;
    this.#viewport = viewport;
    this.#reverse = reverse;
    this.#columns = columns;
    this.ready = this.#newReady();
  }

  #newReady(): Promise<void> {
    const p = new Promise<void>((resolve, reject) => {
      this.#resolveReady = resolve;
      this.#rejectReady = reject;
    });
    p.catch(() => {});
    return p;
  }

  /** What this table subscribes to, e.g. `shared ticket 68ab…`. */
  get description(): string {
    return this.#description;
  }

  /** The requested viewport (positions in the source table), or `undefined` for a full subscription. */
  get viewport(): RowSet | undefined {
    return this.#viewport;
  }

  /** Whether the viewport counts from the end of the table. */
  get reverse(): boolean {
    return this.#reverse;
  }

  /**
   * The subscribed column indexes (all when `undefined`).
   * @ignore
   */
  get columnIndexes(): number[] | undefined {
    return this.#columns;
  }

  /** @ignore */
  attach(call: Exchange): void {
    this.#call = call;
  }

  /** @ignore Checks whether an update completes the initial snapshot (or viewport change). */
  checkReady(m: UpdateMetadata): void {
    if (!m.isSnapshot) return;
    const cols = this.#columns ?? this.schema.fields.map((_, i) => i);
    const colsOk = m.effectiveColumnSet === undefined || cols.every((c) => m.effectiveColumnSet!.includes(c));
    const vpOk = this.#viewport === undefined
      ? m.effectiveViewport === undefined
      : m.effectiveViewport !== undefined && m.effectiveViewport.equals(this.#viewport) &&
        m.effectiveReverseViewport === this.#reverse;
    if (colsOk && vpOk) this.#resolveReady();
  }

  /** @ignore Ends the table with an error. */
  fail(e: DeephavenError): void {
    this.#rejectReady(e);
    writerOf(this).setState("failed", e);
  }

  /**
   * Changes the viewport (and optionally the columns) of a viewport
   * subscription. A full subscription cannot become a viewport one, nor the
   * reverse (the server refuses).
   *
   * @param viewport The new rows, by position.
   * @param options Columns and direction.
   * @returns Resolves when the new rows have arrived.
   */
  async setViewport(
    viewport: Viewport | RowSet,
    options: { columns?: string[]; reverse?: boolean } = {},
  ): Promise<void> {
    if (this.#viewport === undefined) {
      throw new DeephavenError(
        "setViewport() needs a viewport subscription; subscribe with a viewport to use it",
        { code: GrpcCode.FAILED_PRECONDITION },
      );
    }
    if (this.state !== "live" || !this.#call) {
      throw new DeephavenError(`setViewport() failed: the table is ${this.state}; subscribe again`, {
        code: GrpcCode.FAILED_PRECONDITION,
      });
    }
    this.#viewport = viewportRowSet(viewport);
    if (options.reverse !== undefined) this.#reverse = options.reverse;
    if (options.columns) this.#columns = columnIndexes(this.schema, options.columns);
    this.ready = this.#newReady();
    this.#call.send({
      appMetadata: subscriptionRequest(new Uint8Array(0), {
        viewport: this.#viewport,
        reverseViewport: this.#reverse,
        columns: this.#columns,
      }),
    });
    await this.ready;
  }

  /** Cancels the subscription. Safe to call twice. */
  override close(): void {
    if (this.state === "closed") return;
    super.close();
    this.#rejectReady(new DeephavenError("The subscription was closed", { code: GrpcCode.CANCELLED }));
    try {
      this.#call?.end();
    } catch {
      // Already ended.
    }
    this.#call?.cancel();
  }
}

async function firstMessage(it: AsyncIterator<FlightData>, what: string): Promise<arrow.Schema> {
  const r = await it.next();
  if (r.done) {
    throw new DeephavenError(`${what} failed: the server ended the stream before sending a schema`, {
      code: GrpcCode.UNAVAILABLE,
    });
  }
  return schemaFromFlatbuffer(r.value.dataHeader);
}

const FLIGHT_EXCHANGE = "/arrow.flight.protocol.FlightService/DoExchange";

function exchange(core: SessionCore, what: string, signal?: AbortSignal): Exchange {
  core.checkAlive(what);
  return core.channel.bidi(rpc(FlightService.method.doExchange), { what, signal }) as unknown as Exchange;
}

/** Explains the failures of a subscription or snapshot request in the caller's terms. */
function explain(e: unknown, what: string): DeephavenError {
  const err = e instanceof DeephavenError
    ? e
    : new DeephavenError(`${what} failed: ${(e as Error).message}`, {
      cause: e,
    });
  if (
    (err.code === GrpcCode.NOT_FOUND || err.code === GrpcCode.FAILED_PRECONDITION) &&
    !err.message.includes("; check ")
  ) {
    const hint = what.includes("scope table")
      ? "check the table name (list them with session.tables())"
      : "check that the ticket is published and its table was not released";
    return new DeephavenError(
      `${err.message}; ${hint}`,
      { code: err.code, details: err.details, cause: err },
    );
  }
  return err;
}

/**
 * Subscribes to a table: the returned table holds the initial snapshot and
 * then follows every update.
 *
 * @param core The session whose channel carries the stream.
 * @param ticket The table's ticket bytes.
 * @param schemaHint The table's schema when known (used to resolve column names before the stream starts).
 * @param options Viewport, columns, options.
 * @returns The live table, once its initial snapshot is complete.
 * @ignore
 */
export async function subscribeTicket(
  core: SessionCore,
  ticket: Uint8Array,
  schemaHint: ArrowSchema | undefined,
  options: SubscribeOptions = {},
  currentTicket: () => Uint8Array = () => ticket,
): Promise<LiveTable> {
  const what = `Subscribing to ${describeTicket(ticket)}`;
  const viewport = viewportRowSet(options.viewport);
  const columns = columnIndexes(schemaHint, options.columns);
  const reverse = options.reverse ?? false;
  const request = (t: LiveTable | undefined) =>
    subscriptionRequest(currentTicket(), {
      columns: t ? t.columnIndexes : columns,
      viewport: t ? t.viewport : viewport,
      reverseViewport: t ? t.reverse : reverse,
      useDeephavenNulls: options.useDeephavenNulls,
      minUpdateIntervalMs: options.minUpdateIntervalMs,
      batchSize: options.batchSize,
      maxMessageSize: options.maxMessageSize,
    });
  const open = async (t: LiveTable | undefined) => {
    const call = exchange(core, what, options.signal);
    call.send({ appMetadata: request(t) });
    const it = call[Symbol.asyncIterator]();
    try {
      return { call, it, schema: await firstMessage(it, what) };
    } catch (e) {
      call.cancel();
      throw explain(e, what);
    }
  };
  let stream = await open(undefined);
  const table = new LiveTable(stream.schema, describeTicket(ticket), viewport, reverse, columns);
  table.attach(stream.call);
  const mode = () => (table.viewport !== undefined ? "positional" : "keyed") as "positional" | "keyed";
  let applier = new UpdateApplier(stream.schema, writerOf(table), mode);
  /** After a transport failure: wait for the session, subscribe again, and replace the rows. */
  const resubscribe = async (): Promise<boolean> => {
    writerOf(table).setState("stale");
    const generation = core.generation;
    const deadline = Date.now() + 30_000;
    while (true) {
      await core.whenConnected(options.signal);
      if ((table.state as TableState) === "closed") return false;
      try {
        stream = await open(table);
        break;
      } catch (e) {
        const code = (e as DeephavenError).code;
        // After a new server session a publisher may need a moment to publish again.
        const retry = (isTransient(e) || (code === GrpcCode.NOT_FOUND && core.generation !== generation)) &&
          Date.now() < deadline;
        if (!retry) throw e;
        await new Promise((r) => setTimeout(r, 500));
        if (code === GrpcCode.NOT_FOUND) await core.retryReplay(currentTicket());
      }
    }
    table.attach(stream.call);
    applier = new UpdateApplier(stream.schema, writerOf(table), mode, true);
    // The table stays stale until the fresh snapshot has replaced its rows (see the read loop).
    return true;
  };
  (async () => {
    while (true) {
      let failure: unknown;
      try {
        while (true) {
          const r = await stream.it.next();
          if (r.done) break;
          const m = applier.feed(r.value);
          if (m) {
            table.checkReady(m);
            // After a resubscription, the first complete update replaced the rows: the table is current again.
            if ((table.state as TableState) === "stale") writerOf(table).setState("live");
          }
        }
        failure = new DeephavenError(
          `${what}: the server ended the subscription; the table may have been released or the server stopped`,
          { code: GrpcCode.UNAVAILABLE },
        );
      } catch (e) {
        failure = e;
      }
      if ((table.state as TableState) === "closed") return;
      stream.call.cancel();
      if (core.state === "closed") {
        // The session was closed by its owner: the subscription ends with it.
        table.close();
        return;
      }
      const transient = isTransient(failure) && (failure as DeephavenError).code !== GrpcCode.DATA_LOSS;
      if (!core.reconnects || !transient) {
        table.fail(explain(failure, what));
        return;
      }
      try {
        core.reportFailure(failure);
        // A stream that merely ended while the session is fine (e.g. the table was released) fails at once.
        if (!(await resubscribe())) return;
      } catch (e) {
        table.fail(explain(e, what));
        return;
      }
    }
  })();
  options.signal?.addEventListener("abort", () => table.close(), { once: true });
  try {
    await table.ready;
  } catch (e) {
    table.close();
    throw e;
  }
  return table;
}

/**
 * Takes a static snapshot of a table through a Barrage snapshot request.
 *
 * @param core The session whose channel carries the stream.
 * @param ticket The table's ticket bytes.
 * @param schemaHint The table's schema when known.
 * @param options Viewport, columns, options.
 * @param expectedRows The rows the snapshot will hold, when known (for progress reports).
 * @returns A local table in state `snapshot`.
 * @ignore
 */
export async function snapshotTicket(
  core: SessionCore,
  ticket: Uint8Array,
  schemaHint: ArrowSchema | undefined,
  options: SubscribeOptions = {},
  expectedRows?: number,
): Promise<LocalTable> {
  const what = `Snapshot of ${describeTicket(ticket)}`;
  const viewport = viewportRowSet(options.viewport);
  const columns = columnIndexes(schemaHint, options.columns);
  const request = {
    appMetadata: snapshotRequest(ticket, {
      columns,
      viewport,
      reverseViewport: options.reverse ?? false,
      useDeephavenNulls: options.useDeephavenNulls,
      batchSize: options.batchSize,
      maxMessageSize: options.maxMessageSize,
    }),
  };
  if (core.channel.receives(FLIGHT_EXCHANGE)) {
    // The rows go from the socket into the table as they arrive (snapshot_stream.ts).
    const stream = new SnapshotStream({ what, expectedRows, onProgress: options.onProgress });
    core.checkAlive(what);
    const call = core.channel.bidi(rpc(FlightService.method.doExchange), {
      what,
      signal: options.signal,
      receive: (n) => stream.receive(n),
    });
    try {
      call.send(request);
      call.end();
      for await (const _ of call) { /* the receiver takes every message */ }
      return stream.done();
    } catch (e) {
      call.cancel();
      throw explain(e, what);
    }
  }
  const call = exchange(core, what, options.signal);
  call.send(request);
  call.end();
  const it = call[Symbol.asyncIterator]();
  try {
    const schema = await firstMessage(it, what);
    const { table, writer } = createLocalTable(schema);
    // Snapshot rows are appended in arrival order (as Deephaven's Java client does).
    const applier = new UpdateApplier(schema, writer, () => "append");
    let bytes = 0, done = 0;
    while (true) {
      const r = await it.next();
      if (r.done) break;
      const m = applier.feed(r.value);
      if (options.onProgress) {
        bytes += r.value.dataHeader.length + r.value.dataBody.length + r.value.appMetadata.length;
        if (m) done += (m.addedRowsIncluded ?? m.addedRows).size;
        const rows = done + (applier.pendingRows?.received ?? 0);
        const total = expectedRows === undefined ? undefined : Math.max(expectedRows, rows);
        options.onProgress({ rows, totalRows: total, bytes });
      }
    }
    writer.setState("snapshot");
    return table;
  } catch (e) {
    call.cancel();
    throw explain(e, what);
  }
}
