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
import { type LiveTarget, UpdateApplier } from "./applier.ts";
import { snapshotProgress, SnapshotStream } from "./snapshot_stream.ts";
import {
  snapshotRequest,
  subscriptionRequest,
  type UpdateMetadata,
  usesDeephavenNulls,
} from "../wire/messages.ts";
import { FlightService } from "../generated/proto/arrow/flight/protocol/flight_pb.ts";
import type { FlightData } from "../generated/proto/arrow/flight/protocol/flight_pb.ts";

/** A window of rows by position: `first` to `last`, inclusive. */
export interface Viewport {
  /** First row position (0-based). */
  first: number;
  /** Last row position, inclusive. */
  last: number;
}

/** The default of {@linkcode SubscribeOptions.readyTimeoutMs}: two minutes. */
export const DEFAULT_READY_TIMEOUT_MS = 120_000;

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
  /**
   * How long `subscribe` waits for the initial snapshot to be complete, `snapshot` for the whole snapshot, and
   * `setViewport` for the rows of a new viewport, in ms. Past it the call fails with a `DEADLINE_EXCEEDED`
   * DeephavenError and cancels its stream (`setViewport` leaves the subscription running). `Infinity` waits
   * forever. Default {@linkcode DEFAULT_READY_TIMEOUT_MS} (two minutes).
   */
  readyTimeoutMs?: number;
  /**
   * Aborts the subscription or snapshot. Before the initial snapshot is complete, the call fails with a
   * `CANCELLED` DeephavenError and cancels its stream; afterwards the live table closes.
   */
  signal?: AbortSignal;
  /**
   * Called as a snapshot arrives, after each message, with the rows and bytes received so far and the rows
   * expected (the table's size, asked of the server first). Snapshots only.
   */
  onProgress?: (progress: SnapshotProgress) => void;
}

/** Options of {@linkcode LiveTable.setViewport}. */
export interface SetViewportOptions {
  /** The columns to receive from now on (default: those subscribed so far). */
  columns?: string[];
  /** Count positions from the end of the table (default: as subscribed so far). */
  reverse?: boolean;
  /** How long to wait for the new rows, in ms (default: the subscription's `readyTimeoutMs`). */
  timeoutMs?: number;
  /** Stops waiting for the new rows (the subscription goes on). */
  signal?: AbortSignal;
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

function timeoutOf(ms: number | undefined, name: string): number {
  const t = ms ?? DEFAULT_READY_TIMEOUT_MS;
  if (typeof t !== "number" || Number.isNaN(t) || t <= 0) {
    throw DeephavenError.invalid(`${name} must be a number of milliseconds > 0 (or Infinity), got ${ms}`);
  }
  return t;
}

/**
 * The deadline and abort signal of a pending call: when either fires, `race` rejects with its error and what
 * the call holds is released (its stream cancelled, its table closed).
 */
class Guard {
  #error: DeephavenError | undefined;
  #timer: ReturnType<typeof setTimeout> | undefined;
  #release: () => void = () => {};
  #reject: (e: DeephavenError) => void = () => {};
  readonly #fired: Promise<never>;
  readonly #signal: AbortSignal | undefined;
  readonly #onAbort = () =>
    this.#fire(new DeephavenError(`${this.what} was aborted`, { code: GrpcCode.CANCELLED }));

  /**
   * @param what What waits, e.g. "Subscribing to shared ticket 68ab…".
   * @param timeoutMs The deadline, ms (`Infinity`: none).
   * @param waitsFor What the deadline is about, for its message.
   * @param signal The caller's abort signal.
   */
  constructor(readonly what: string, timeoutMs: number, waitsFor: string, signal: AbortSignal | undefined) {
    this.#fired = new Promise<never>((_, reject) => (this.#reject = reject));
    this.#fired.catch(() => {});
    this.#signal = signal;
    if (signal?.aborted) {
      this.#onAbort();
      return;
    }
    signal?.addEventListener("abort", this.#onAbort, { once: true });
    if (Number.isFinite(timeoutMs)) {
      this.#timer = setTimeout(() =>
        this.#fire(
          new DeephavenError(
            `${what} failed: ${waitsFor} did not arrive within ${timeoutMs} ms; check that the server is not ` +
              "overloaded and that the table can be snapshotted, or raise readyTimeoutMs",
            { code: GrpcCode.DEADLINE_EXCEEDED },
          ),
        ), timeoutMs);
    }
  }

  #fire(e: DeephavenError): void {
    if (this.#error) return;
    this.#error = e;
    this.#reject(e);
    this.clear();
    this.#release();
  }

  /** The error, once the deadline passed or the signal aborted. */
  get error(): DeephavenError | undefined {
    return this.#error;
  }

  /** Sets what to release when the guard fires (at once when it already has). */
  hold(release: () => void): void {
    this.#release = release;
    if (this.#error) release();
  }

  /** `p`, or the guard's error as soon as it fires. */
  race<T>(p: Promise<T>): Promise<T> {
    if (this.#error) {
      p.catch(() => {}); // what it stood for is released; its own failure is of no interest
      return Promise.reject(this.#error);
    }
    return Promise.race([p, this.#fired]);
  }

  /** Stops the deadline and forgets the signal (the call is done). */
  clear(): void {
    clearTimeout(this.#timer);
    this.#signal?.removeEventListener("abort", this.#onAbort);
  }
}

/**
 * The inside of a live table that only this module sees: its writer and stream, what it asked the server for
 * (the target), what the rows it holds are (the effective viewport), and who waits for the target.
 */
class LiveControl implements LiveTarget {
  call: Exchange | undefined;
  /** The requested viewport, direction and columns. */
  viewport: RowSet | undefined;
  reverse: boolean;
  columns: number[] | undefined;
  /** The viewport and direction of the rows held (from the latest snapshot applied). */
  effectiveViewport: RowSet | undefined;
  effectiveReverse = false;
  /** The columns the rows held carry (from the latest snapshot applied; `undefined`: all). */
  effectiveColumns: Set<number> | undefined;
  /** The source positions of the rows held, computed on demand. */
  positions: RowSet | undefined;
  readonly waiters: { resolve: () => void; reject: (e: DeephavenError) => void }[] = [];
  /** Whether the table was ever complete (its initial snapshot arrived). */
  everComplete = false;
  /** Columns unsubscribed by a viewport change, to empty when its rows arrive. */
  readonly dropped: Set<number> = new Set();

  constructor(
    readonly writer: TableWriter,
    readonly columnCount: number,
    viewport: RowSet | undefined,
    reverse: boolean,
    columns: number[] | undefined,
    readonly readyTimeoutMs: number,
  ) {
    this.viewport = viewport;
    this.reverse = reverse;
    this.columns = columns;
  }

  /** A promise that resolves when the table holds what it asked for. */
  waitForTarget(): Promise<void> {
    const p = new Promise<void>((resolve, reject) => this.waiters.push({ resolve, reject }));
    p.catch(() => {});
    return p;
  }

  /** Whether an update is the snapshot that makes the table hold what it asked for. */
  matchesTarget(m: UpdateMetadata): boolean {
    if (!m.isSnapshot) return false;
    const cols = this.columns ?? Array.from({ length: this.columnCount }, (_, i) => i);
    const colsOk = m.effectiveColumnSet === undefined || cols.every((c) => m.effectiveColumnSet!.includes(c));
    const vpOk = this.viewport === undefined
      ? m.effectiveViewport === undefined
      : m.effectiveViewport !== undefined && m.effectiveViewport.equals(this.viewport) &&
        m.effectiveReverseViewport === this.reverse;
    return colsOk && vpOk;
  }

  /** Records what the rows held are after an update was applied. */
  applied(m: UpdateMetadata): void {
    if (m.tableSize >= 0n) this.writer.setSourceSize(Number(m.tableSize));
    if (m.isSnapshot && m.effectiveViewport !== undefined) {
      this.effectiveViewport = m.effectiveViewport;
      this.effectiveReverse = m.effectiveReverseViewport;
    }
    if (m.isSnapshot && m.effectiveColumnSet !== undefined) {
      this.effectiveColumns = new Set(m.effectiveColumnSet);
    }
    this.positions = undefined;
  }

  /** Empties the columns that are no longer subscribed (they would otherwise keep stale values). */
  clearDropped(): void {
    const storage = this.writer.storage;
    const slots = storage.slots();
    for (const j of this.dropped) {
      if (this.columns === undefined || this.columns.includes(j)) continue;
      const store = storage.columns[j];
      for (let i = 0; i < slots.length; i++) store.clear(slots[i]);
    }
    this.dropped.clear();
  }

  /** The table holds what it asked for: wake who waits. */
  reached(): void {
    this.everComplete = true;
    for (const w of this.waiters.splice(0)) w.resolve();
  }

  /** Nothing will arrive any more: fail who waits. */
  rejectAll(e: DeephavenError): void {
    for (const w of this.waiters.splice(0)) w.reject(e);
  }
}

let controlOf: (t: LiveTable) => LiveControl;

/**
 * A local table that a Barrage subscription keeps current. It is a
 * {@linkcode LocalTable} with a viewport that can change and a promise that
 * resolves when the initial snapshot is complete.
 */
export class LiveTable extends LocalTable {
  /** Resolves when the initial snapshot (or the latest viewport change) has been applied. */
  ready: Promise<void>;
  readonly #control: LiveControl;
  readonly #description: string;
  #applier: UpdateApplier | undefined;

  static {
    controlOf = (t) => t.#control;
  }

  /** @ignore */
  constructor(
    schema: arrow.Schema,
    description: string,
    viewport: RowSet | undefined,
    reverse: boolean,
    columns: number[] | undefined,
    readyTimeoutMs: number = DEFAULT_READY_TIMEOUT_MS,
  ) {
    let writer!: TableWriter;
    super(schema, { start: (w) => (writer = w) });
    this.#control = new LiveControl(writer, schema.fields.length, viewport, reverse, columns, readyTimeoutMs);
    this.#description = description;
    this.ready = this.#control.waitForTarget();
  }

  /** What this table subscribes to, e.g. `shared ticket 68ab…`. */
  get description(): string {
    return this.#description;
  }

  /** The requested viewport (positions in the source table), or `undefined` for a full subscription. */
  get viewport(): RowSet | undefined {
    return this.#control.viewport;
  }

  /** Whether the viewport counts from the end of the table. */
  get reverse(): boolean {
    return this.#control.reverse;
  }

  /**
   * The position in the source table of a local row. A viewport table holds the source rows that its
   * viewport covers, in source order: local row 0 is the first of them. The answer follows the rows held
   * (during a viewport change, the previous viewport's until the new rows have arrived). For a full
   * subscription it is `row` itself.
   *
   * @example Usage
   * ```ts ignore
   * const tail = await bs.subscribe(ticket, { viewport: { first: 0, last: 9 }, reverse: true });
   * console.log(`row 0 is row ${tail.sourcePosition(0)} of ${tail.sourceSize}`);
   * ```
   *
   * @param row A local row position, `0 <= row < size`.
   * @returns Its position in the source table.
   * @throws {DeephavenError} `INVALID_ARGUMENT` when `row` is out of range.
   */
  sourcePosition(row: number): number {
    if (!Number.isInteger(row) || row < 0 || row >= this.size) {
      throw DeephavenError.invalid(`Row ${row} is out of range; the table has ${this.size} rows`);
    }
    const c = this.#control;
    const vp = c.effectiveViewport;
    if (vp === undefined || c.viewport === undefined) return row;
    const n = this.sourceSize ?? 0;
    c.positions ??= n > 0 ? vp.intersect(RowSet.range(0, n - 1)) : RowSet.EMPTY;
    const within = c.positions;
    if (within.size !== this.size) {
      throw new DeephavenError(
        `The viewport covers ${within.size} rows of the source but the table holds ${this.size}; ` +
          "report this with the server version",
        { code: GrpcCode.DATA_LOSS },
      );
    }
    return c.effectiveReverse
      ? n - 1 - Number(within.keyAt(within.size - 1 - row))
      : Number(within.keyAt(row));
  }

  /** @ignore Starts following a stream (the first, or a new one after a resubscription). */
  attach(call: Exchange, applier: UpdateApplier): void {
    this.#control.call = call;
    this.#applier = applier;
  }

  /** @ignore Ends the table with an error. */
  fail(e: DeephavenError): void {
    this.#control.rejectAll(e);
    this.#control.writer.setState("failed", e);
  }

  /**
   * Changes the viewport (and optionally the columns) of a viewport
   * subscription. A full subscription cannot become a viewport one, nor the
   * reverse (the server refuses). The table keeps its rows until the new
   * ones have all arrived, then replaces them in one update; listeners never
   * see a partly changed viewport. Columns no longer subscribed are emptied.
   *
   * @example Usage
   * ```ts ignore
   * const live = await bs.subscribe(ticket, { viewport: { first: 0, last: 99 } });
   * await live.setViewport({ first: 100, last: 199 }, { columns: ["Sym", "Px"] });
   * console.log(live.sourcePosition(0)); // 100
   * ```
   *
   * @param viewport The new rows, by position.
   * @param options Columns, direction, deadline and abort signal.
   * @returns Resolves when the new rows have arrived.
   * @throws {DeephavenError} `INVALID_ARGUMENT` for a bad viewport or column (nothing changes then),
   *   `FAILED_PRECONDITION` for a full subscription or a table that is not live, `DEADLINE_EXCEEDED` or
   *   `CANCELLED` when the rows did not arrive in time or the signal aborted (the subscription goes on).
   */
  async setViewport(viewport: Viewport | RowSet, options: SetViewportOptions = {}): Promise<void> {
    const c = this.#control;
    const rows = viewportRowSet(viewport);
    const columns = options.columns ? columnIndexes(this.schema, options.columns) : c.columns;
    const timeoutMs = timeoutOf(options.timeoutMs ?? c.readyTimeoutMs, "timeoutMs");
    if (c.viewport === undefined) {
      throw new DeephavenError(
        "setViewport() needs a viewport subscription; subscribe with a viewport to use it",
        { code: GrpcCode.FAILED_PRECONDITION },
      );
    }
    if (this.state !== "live" || !c.call || !this.#applier) {
      throw new DeephavenError(`setViewport() failed: the table is ${this.state}; subscribe again`, {
        code: GrpcCode.FAILED_PRECONDITION,
      });
    }
    c.viewport = rows;
    if (options.reverse !== undefined) c.reverse = options.reverse;
    const dropped = (c.columns ?? this.schema.fields.map((_, i) => i)).filter((i) => !columns?.includes(i));
    c.columns = columns;
    for (const j of dropped) c.dropped.add(j);
    this.ready = c.waitForTarget();
    const ready = this.ready;
    this.#applier.holdUntilTarget();
    c.call.send({
      appMetadata: subscriptionRequest(new Uint8Array(0), {
        viewport: c.viewport,
        reverseViewport: c.reverse,
        columns: c.columns,
      }),
    });
    const guard = new Guard("Changing the viewport", timeoutMs, "the new rows", options.signal);
    try {
      await guard.race(ready);
    } finally {
      guard.clear();
    }
  }

  /** Cancels the subscription. Safe to call twice. */
  override close(): void {
    if (this.state === "closed") return;
    super.close();
    this.#control.rejectAll(new DeephavenError("The subscription was closed", { code: GrpcCode.CANCELLED }));
    const call = this.#control.call;
    try {
      call?.end();
    } catch {
      // Already ended.
    }
    call?.cancel();
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

function exchange(core: SessionCore, what: string): Exchange {
  core.checkAlive(what);
  return core.channel.bidi(rpc(FlightService.method.doExchange), { what }) as unknown as Exchange;
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
  const readyTimeoutMs = timeoutOf(options.readyTimeoutMs, "readyTimeoutMs");
  const request = (c: LiveControl | undefined) =>
    subscriptionRequest(currentTicket(), {
      columns: c ? c.columns : columns,
      viewport: c ? c.viewport : viewport,
      reverseViewport: c ? c.reverse : reverse,
      useDeephavenNulls: options.useDeephavenNulls,
      minUpdateIntervalMs: options.minUpdateIntervalMs,
      batchSize: options.batchSize,
      maxMessageSize: options.maxMessageSize,
    });
  const open = async (c: LiveControl | undefined, guard?: Guard) => {
    const call = exchange(core, what);
    guard?.hold(() => call.cancel());
    call.send({ appMetadata: request(c) });
    const it = call[Symbol.asyncIterator]();
    try {
      return { call, it, schema: await firstMessage(it, what) };
    } catch (e) {
      call.cancel();
      throw explain(e, what);
    }
  };
  const guard = new Guard(what, readyTimeoutMs, "the initial snapshot", options.signal);
  let table: LiveTable | undefined;
  try {
    if (guard.error) throw guard.error;
    let stream = await guard.race(open(undefined, guard));
    const t = new LiveTable(
      stream.schema,
      describeTicket(ticket),
      viewport,
      reverse,
      columns,
      readyTimeoutMs,
    );
    table = t;
    guard.hold(() => t.close());
    const control = controlOf(t);
    const mode = () => (t.viewport !== undefined ? "positional" : "keyed") as "positional" | "keyed";
    // Nobody holds the table before its snapshot is complete: updates go to the storage as they come.
    const deephavenNulls = usesDeephavenNulls(options);
    let applier = new UpdateApplier(stream.schema, control.writer, mode, control, {
      hold: "quiet",
      deephavenNulls,
    });
    t.attach(stream.call, applier);
    /** After a transport failure: wait for the session, subscribe again, and replace the rows. */
    const resubscribe = async (): Promise<boolean> => {
      control.writer.setState("stale");
      const generation = core.generation;
      const deadline = Date.now() + 30_000;
      while (true) {
        await core.whenConnected(options.signal);
        if ((t.state as TableState) === "closed") return false;
        try {
          stream = await open(control);
          break;
        } catch (e) {
          const code = (e as DeephavenError).code;
          // After a new server session a publisher may need a moment to publish again; a server that no
          // longer knows the session's token makes the session log in again (reportFailure) first.
          const retry = (isTransient(e) || code === GrpcCode.UNAUTHENTICATED ||
            (code === GrpcCode.NOT_FOUND && core.generation !== generation)) && Date.now() < deadline;
          if (!retry) throw e;
          if (code === GrpcCode.UNAUTHENTICATED) core.reportFailure(e);
          await new Promise((r) => setTimeout(r, 500));
          if (code === GrpcCode.NOT_FOUND) await core.retryReplay(currentTicket());
        }
      }
      // Readers keep the stale rows until the fresh snapshot is complete; then one update replaces them.
      applier = new UpdateApplier(stream.schema, control.writer, mode, control, {
        hold: "queue",
        replace: true,
        deephavenNulls,
      });
      t.attach(stream.call, applier);
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
            // After a resubscription the table is current again once the fresh snapshot replaced its rows.
            if (m && !applier.holding && (t.state as TableState) === "stale") control.writer.setState("live");
          }
          failure = new DeephavenError(
            `${what}: the server ended the subscription; the table may have been released or the server stopped`,
            { code: GrpcCode.UNAVAILABLE },
          );
        } catch (e) {
          failure = e;
        }
        if ((t.state as TableState) === "closed") return;
        stream.call.cancel();
        if (core.state === "closed") {
          // The session was closed by its owner: the subscription ends with it.
          t.close();
          return;
        }
        const transient = isTransient(failure) && (failure as DeephavenError).code !== GrpcCode.DATA_LOSS;
        if (!core.reconnects || !transient || !control.everComplete) {
          // A failure before the table was ever complete is the caller's to see (subscribe rejects).
          t.fail(explain(failure, what));
          return;
        }
        try {
          // The session checks its connection: a stream that failed on a healthy connection resubscribes
          // this table alone, and the session stays connected.
          core.reportFailure(failure);
          if (!(await resubscribe())) return;
        } catch (e) {
          t.fail(explain(e, what));
          return;
        }
      }
    })();
    await guard.race(t.ready);
  } catch (e) {
    table?.close();
    throw guard.error ?? e;
  } finally {
    guard.clear();
  }
  const live = table;
  options.signal?.addEventListener("abort", () => live.close(), { once: true });
  return live;
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
  const guard = new Guard(
    what,
    timeoutOf(options.readyTimeoutMs, "readyTimeoutMs"),
    "the snapshot",
    options.signal,
  );
  if (guard.error) throw guard.error;
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
  const deephavenNulls = usesDeephavenNulls(options);
  if (core.channel.receives(FLIGHT_EXCHANGE)) {
    // The rows go from the socket into the table as they arrive (snapshot_stream.ts).
    const stream = new SnapshotStream({ what, expectedRows, onProgress: options.onProgress, deephavenNulls });
    core.checkAlive(what);
    const call = core.channel.bidi(rpc(FlightService.method.doExchange), {
      what,
      receive: (n) => stream.receive(n),
    });
    guard.hold(() => call.cancel());
    try {
      call.send(request);
      call.end();
      const it = call[Symbol.asyncIterator]();
      while (!(await guard.race(it.next())).done) { /* the receiver takes every message */ }
      return stream.done();
    } catch (e) {
      call.cancel();
      throw guard.error ?? explain(e, what);
    } finally {
      guard.clear();
    }
  }
  const call = exchange(core, what);
  guard.hold(() => call.cancel());
  try {
    call.send(request);
    call.end();
    const it = call[Symbol.asyncIterator]();
    const schema = await guard.race(firstMessage(it, what));
    const { table, writer } = createLocalTable(schema);
    // Snapshot rows are appended in arrival order (as Deephaven's Java client does).
    const applier = new UpdateApplier(schema, writer, () => "append", undefined, { deephavenNulls });
    let bytes = 0;
    while (true) {
      const r = await guard.race(it.next());
      if (r.done) break;
      applier.feed(r.value);
      if (options.onProgress) {
        bytes += r.value.dataHeader.length + r.value.dataBody.length + r.value.appMetadata.length;
        options.onProgress(snapshotProgress(applier.rowsReceived, expectedRows, bytes));
      }
    }
    writer.setState("snapshot");
    return table;
  } catch (e) {
    call.cancel();
    throw guard.error ?? explain(e, what);
  } finally {
    guard.clear();
  }
}
