/**
 * Applying a Barrage stream's messages to a local table: updates assembled from their record batches
 * (metadata first, then add and modify batches), applied in key space, viewport positions, or appended
 * (snapshots). A snapshot that arrives in several messages (the server's growing snapshots, with deltas in
 * between) can be held back until it is complete, so that listeners never see rows without their data, nor
 * snapshot data reported as modified.
 *
 * @module
 */

import type * as arrow from "../deps/apache_arrow.ts";
import { DeephavenError, GrpcCode } from "../errors.ts";
import type { TableWriter } from "../table/local_table.ts";
import type { KeyedChange } from "../table/storage.ts";
import { RowSet } from "../table/rowset.ts";
import type { Chunk } from "../table/column.ts";
import { viewportChange } from "./viewport.ts";
import { type DecodedBatch, decodeRecordBatch } from "../wire/record_batch.ts";
import { decodeUpdateMetadata, type UpdateMetadata } from "../wire/messages.ts";
import type { FlightData } from "../generated/proto/arrow/flight/protocol/flight_pb.ts";

/** A DATA_LOSS error for a stream that does not follow the protocol. */
export function malformedStream(what: string): DeephavenError {
  return new DeephavenError(`Malformed Barrage stream: ${what}; report this with the server version`, {
    code: GrpcCode.DATA_LOSS,
  });
}

/** An update being assembled from its record batches. */
class PendingUpdate {
  readonly addExpected: number;
  addReceived = 0;
  readonly addData: Chunk[][];
  readonly modExpected: number[];
  readonly modReceived: number[];
  readonly modData: Chunk[][];

  constructor(readonly meta: UpdateMetadata, columnCount: number) {
    this.addExpected = (meta.addedRowsIncluded ?? meta.addedRows).size;
    this.addData = Array.from({ length: columnCount }, () => []);
    this.modExpected = Array.from({ length: columnCount }, (_, i) => meta.modifiedRows[i]?.size ?? 0);
    this.modReceived = new Array(columnCount).fill(0);
    this.modData = Array.from({ length: columnCount }, () => []);
  }

  add(batch: { length: number; columns: Chunk[] }): void {
    if (this.addReceived < this.addExpected) {
      if (this.addReceived + batch.length > this.addExpected) {
        throw malformedStream("a message carries more added rows than its metadata lists");
      }
      batch.columns.forEach((c, i) => {
        if (c.length > 0) this.addData[i].push(c);
      });
      this.addReceived += batch.length;
    } else {
      batch.columns.forEach((c, i) => {
        if (c.length > 0) {
          if (this.modReceived[i] + c.length > this.modExpected[i]) {
            throw malformedStream("a message carries more modified rows than its metadata lists");
          }
          this.modData[i].push(c);
          this.modReceived[i] += c.length;
        }
      });
    }
  }

  get complete(): boolean {
    return this.addReceived >= this.addExpected && this.modExpected.every((n, i) => this.modReceived[i] >= n);
  }
}

/**
 * What an applier needs of a live table's subscription (see `subscription.ts`): what it asked the server
 * for, and who waits until the table holds it.
 */
export interface LiveTarget {
  /** The columns the rows held carry (from the latest snapshot applied; `undefined`: all). */
  readonly effectiveColumns: Set<number> | undefined;
  /** Whether an update is the snapshot that makes the table hold what it asked for. */
  matchesTarget(m: UpdateMetadata): boolean;
  /** Records what the rows held are after an update was applied. */
  applied(m: UpdateMetadata): void;
  /** Empties the columns that are no longer subscribed. */
  clearDropped(): void;
  /** The table holds what it asked for: wake who waits. */
  reached(): void;
}

/** A completed update, held back while a snapshot is being assembled. */
interface Completed {
  meta: UpdateMetadata;
  addData: Chunk[][];
  modData: Chunk[][];
  addCount: number;
}

/**
 * How an applier treats updates until its table holds what it asked for:
 * - `none`: apply and announce each update (static snapshots, and live tables that are current);
 * - `quiet`: apply each update at once without telling anyone, and announce the whole table once complete
 *   (a new table that nobody holds yet);
 * - `queue`: keep the updates, then apply them together and announce one update that replaces the rows (a
 *   table whose readers keep seeing its previous rows until the new ones are complete).
 */
export type Hold = "none" | "quiet" | "queue";

/** Options of an {@linkcode UpdateApplier}. */
export interface ApplierOptions {
  /** How updates are treated until the table holds what it asked for (default `none`). */
  hold?: Hold;
  /** Whether the first rows of this stream replace every row held (after a resubscription). */
  replace?: boolean;
  /** Whether the stream carries Deephaven null sentinels (default) rather than Arrow validity bitmaps. */
  deephavenNulls?: boolean;
}

/**
 * Applies Barrage messages of one stream to a local table. In `append` mode (snapshots) rows go into the
 * table as each batch arrives, so that a message can be dropped at once; the other modes apply whole
 * updates.
 */
export class UpdateApplier {
  readonly #schema: arrow.Schema;
  #pending: PendingUpdate | undefined;
  readonly #blink: boolean;
  #hold: Hold;
  #queue: Completed[] = [];
  /** Added rows of the updates completed so far. */
  #rowsDone = 0;
  readonly #replace: boolean;
  readonly #deephavenNulls: boolean;

  constructor(
    schema: arrow.Schema,
    readonly writer: TableWriter,
    readonly mode: () => "keyed" | "positional" | "append",
    readonly live?: LiveTarget,
    options: ApplierOptions = {},
  ) {
    this.#schema = schema;
    this.#blink = schema.metadata.get("deephaven:attribute.BlinkTable") === "true";
    this.#hold = options.hold ?? "none";
    this.#replace = options.replace ?? false;
    this.#deephavenNulls = options.deephavenNulls ?? true;
  }

  /** Whether updates are being held back until the table holds what it asked for. */
  get holding(): boolean {
    return this.#hold !== "none";
  }

  /** Holds updates back until the table reaches its new target (a viewport change). */
  holdUntilTarget(): void {
    if (this.#hold === "none") this.#hold = "queue";
  }

  /** Feeds one FlightData; returns the metadata of an update when this message completed it. */
  feed(fd: FlightData): UpdateMetadata | undefined {
    this.feedMetadata(fd.appMetadata);
    if (fd.dataHeader.length === 0) return this.finish();
    return this.feedBatch(decodeRecordBatch(fd.dataHeader, fd.dataBody, this.#schema, this.#deephavenNulls));
  }

  /** Starts an update when a message's `app_metadata` holds update metadata. */
  feedMetadata(appMetadata: Uint8Array): void {
    if (appMetadata.length === 0) return;
    const meta = decodeUpdateMetadata(appMetadata);
    if (!meta) return;
    if (this.#pending) throw malformedStream("an update started before the previous one was complete");
    this.#pending = new PendingUpdate(meta, this.#schema.fields.length);
  }

  #requirePending(): PendingUpdate {
    if (!this.#pending) throw malformedStream("a record batch arrived without update metadata");
    return this.#pending;
  }

  /** Feeds one decoded record batch of the update being assembled; returns its metadata when complete. */
  feedBatch(batch: DecodedBatch): UpdateMetadata | undefined {
    const p = this.#requirePending();
    if (this.#appending(p)) {
      if (p.addReceived + batch.length > p.addExpected) {
        throw malformedStream("a message carries more added rows than its metadata lists");
      }
      // Appended rows go into the table as each batch arrives, so that the message can be dropped at once.
      if (p.addReceived === 0) this.#reserve(p);
      const n = batch.length;
      if (n > 0) {
        const start = this.writer.storage.size;
        this.writer.applyPositional({
          isSnapshot: true,
          removed: RowSet.EMPTY,
          added: RowSet.range(start, start + n - 1),
          addData: batch.columns.map((c) => (c.length > 0 ? [c] : [])),
          modified: [],
          modData: [],
        });
      }
      p.addReceived += n;
    } else p.add(batch);
    return this.finish();
  }

  /** Whether the added rows of `p` go straight into the table (a snapshot's, in `append` mode). */
  #appending(p: PendingUpdate): boolean {
    return this.mode() === "append" && this.#hold === "none" && p.addReceived < p.addExpected;
  }

  /**
   * How many rows a batch may append straight into the table now (see `snapshot_stream.ts`): the rows the
   * update being assembled still expects, in append mode; else 0. Room for all of them is reserved.
   */
  appendable(): number {
    const p = this.#pending;
    if (!p || !this.#appending(p)) return 0;
    if (p.addReceived === 0) this.#reserve(p);
    return p.addExpected - p.addReceived;
  }

  /**
   * Room for the rows a snapshot will hold. A large snapshot arrives as several updates (each with the rows
   * of some batches, `addedRowsIncluded`), every one announcing all the rows (`addedRows`): room for all of
   * them is made at the first, once.
   */
  #reserve(p: PendingUpdate): void {
    const table = this.writer.storage;
    table.reserve(Math.max(table.size + p.addExpected, p.meta.addedRows.size));
  }

  /** Records `n` rows a batch appended straight into the table; returns the metadata when complete. */
  appended(n: number): UpdateMetadata | undefined {
    this.#requirePending().addReceived += n;
    return this.finish();
  }

  /** Added rows received so far: those of the completed updates and of the one being assembled. */
  get rowsReceived(): number {
    const p = this.#pending;
    return this.#rowsDone + (p ? Math.min(p.addReceived, p.addExpected) : 0);
  }

  /** Ends the update being assembled when all its rows are in; returns its metadata then. */
  finish(): UpdateMetadata | undefined {
    const p = this.#pending;
    if (!p || !p.complete) return undefined;
    this.#pending = undefined;
    this.#rowsDone += p.addExpected;
    const u: Completed = { meta: p.meta, addData: p.addData, modData: p.modData, addCount: p.addExpected };
    const live = this.live;
    if (this.#hold === "none") {
      this.#apply(u, true);
      if (live?.matchesTarget(u.meta)) live.reached();
    } else {
      if (this.#hold === "quiet") this.#apply(u, false);
      else this.#queue.push(u);
      if (!live || live.matchesTarget(u.meta)) this.#release();
    }
    return p.meta;
  }

  /** The held-back updates are complete: apply what waits, and announce the whole table once. */
  #release(): void {
    const storage = this.writer.storage;
    const before = { keys: storage.rowSet, slots: storage.slots().slice() };
    if (this.#hold === "queue") {
      if (this.#replace && storage.size > 0) {
        // A new stream speaks of an empty table: the rows held before go first.
        storage.applyKeyed({
          isSnapshot: true,
          removed: storage.rowSet,
          shifts: undefined,
          added: RowSet.EMPTY,
          addData: [],
          modified: [],
          modData: [],
        });
      }
      for (const u of this.#queue) this.#apply(u, false);
    }
    this.live?.clearDropped();
    const hold = this.#hold;
    this.#hold = "none";
    this.#queue = [];
    // Rows that stayed are announced as removed and added again: their values may all have changed.
    this.writer.announce({
      added: storage.rowSet,
      removed: hold === "quiet" ? RowSet.EMPTY : before.keys,
      modified: RowSet.EMPTY,
      modifiedColumns: [],
      shifted: false,
      isSnapshot: true,
      resubscribed: this.#replace || undefined,
      slots: {
        removed: hold === "quiet" ? new Int32Array(0) : before.slots,
        added: storage.slots().slice(),
        modified: new Int32Array(0),
      },
    });
    this.live?.reached();
  }

  /** Applies one completed update to the storage, and tells listeners when `announce`. */
  #apply(u: Completed, announce: boolean): void {
    let m = u.meta;
    const w = this.writer;
    const storage = w.storage;
    if (this.live) this.live.applied(m);
    else if (m.tableSize >= 0n) w.setSourceSize(Number(m.tableSize));
    const cols = this.live?.effectiveColumns;
    if (cols && cols.size < this.#schema.fields.length) {
      // The server's producer may carry columns that other subscribers to the table asked for: as Deephaven's
      // Java client, keep only this subscription's columns (the others stay empty).
      u = {
        ...u,
        addData: u.addData.map((d, i) => (cols.has(i) ? d : [])),
        modData: u.modData.map((d, i) => (cols.has(i) ? d : [])),
        meta: { ...m, modifiedRows: m.modifiedRows.map((rs, i) => (cols.has(i) ? rs : RowSet.EMPTY)) },
      };
      m = u.meta;
    }
    const mode = this.mode();
    if (mode === "append") {
      // Rows appended as their batches arrived (feedBatch, appended) are in already; held-back ones are not.
      const n = u.addData.some((d) => d.length > 0) ? u.addCount : 0;
      const start = storage.size;
      if (n > 0) {
        w.applyPositional({
          isSnapshot: true,
          removed: RowSet.EMPTY,
          added: RowSet.range(start, start + n - 1),
          addData: u.addData,
          modified: [],
          modData: [],
        });
      }
      return;
    }
    // Viewport messages speak of offsets; src/barrage/viewport.ts turns them into the table's keys.
    const change: KeyedChange = mode === "positional"
      ? viewportChange({
        isSnapshot: m.isSnapshot,
        removed: m.removedRows,
        added: m.addedRows,
        addData: u.addData,
        modified: m.modifiedRows,
        modData: u.modData,
      }, storage.size)
      : {
        isSnapshot: m.isSnapshot,
        // Each update of a blink table replaces its rows.
        removed: this.#blink && !m.isSnapshot ? storage.rowSet : m.removedRows,
        shifts: m.shiftData,
        added: m.addedRows,
        addedIncluded: m.addedRowsIncluded,
        addData: u.addData,
        modified: m.modifiedRows,
        modData: u.modData,
      };
    if (announce) w.applyKeyed(change);
    else storage.applyKeyed(change);
  }
}
