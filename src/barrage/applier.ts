/**
 * Applying a Barrage stream's messages to a local table: updates assembled from their record batches
 * (metadata first, then add and modify batches), applied in key space, viewport positions, or appended
 * (snapshots).
 *
 * @module
 */

import type * as arrow from "../deps/apache_arrow.ts";
import { DeephavenError, GrpcCode } from "../errors.ts";
import type { TableWriter } from "../table/local_table.ts";
import { RowSet } from "../table/rowset.ts";
import type { Chunk } from "../table/column.ts";
import { viewportChange } from "./viewport.ts";
import { type DecodedBatch, decodeRecordBatch } from "./record_batch.ts";
import { decodeUpdateMetadata, type UpdateMetadata } from "./messages.ts";
import type { FlightData } from "../generated/proto/arrow/flight/protocol/flight_pb.ts";

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
      batch.columns.forEach((c, i) => {
        if (c.length > 0) this.addData[i].push(c);
      });
      this.addReceived += batch.length;
    } else {
      batch.columns.forEach((c, i) => {
        if (c.length > 0) {
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

/** Applies Barrage messages of one stream to a local table. */
export class UpdateApplier {
  #schema: arrow.Schema;
  #pending: PendingUpdate | undefined;
  readonly #blink: boolean;

  #replace: boolean;

  constructor(
    schema: arrow.Schema,
    readonly writer: TableWriter,
    readonly mode: () => "keyed" | "positional" | "append",
    replace = false,
  ) {
    this.#replace = replace;
    this.#schema = schema;
    this.#blink = schema.metadata.get("deephaven:attribute.BlinkTable") === "true";
  }

  /** Feeds one FlightData; returns the metadata of an update when this message completed it. */
  feed(fd: FlightData): UpdateMetadata | undefined {
    this.feedMetadata(fd.appMetadata);
    if (fd.dataHeader.length === 0) return this.finish();
    return this.feedBatch(decodeRecordBatch(fd.dataHeader, fd.dataBody, this.#schema));
  }

  /** Starts an update when a message's `app_metadata` holds update metadata. */
  feedMetadata(appMetadata: Uint8Array): void {
    if (appMetadata.length === 0) return;
    const meta = decodeUpdateMetadata(appMetadata);
    if (!meta) return;
    if (this.#pending) {
      throw new DeephavenError(
        "Malformed Barrage stream: an update started before the previous one was complete; report this with the server version",
        { code: GrpcCode.DATA_LOSS },
      );
    }
    this.#pending = new PendingUpdate(meta, this.#schema.fields.length);
  }

  #requirePending(): PendingUpdate {
    if (!this.#pending) {
      throw new DeephavenError(
        "Malformed Barrage stream: a record batch arrived without update metadata; report this with the server version",
        { code: GrpcCode.DATA_LOSS },
      );
    }
    return this.#pending;
  }

  /** Feeds one decoded record batch of the update being assembled; returns its metadata when complete. */
  feedBatch(batch: DecodedBatch): UpdateMetadata | undefined {
    const p = this.#requirePending();
    if (this.mode() === "append" && p.addReceived < p.addExpected) {
      // Appended rows go into the table as each batch arrives, so that the message can be dropped at once.
      const table = this.writer.storage;
      const n = Math.min(batch.length, p.addExpected - p.addReceived);
      if (p.addReceived === 0) this.#reserve(p);
      if (n > 0) {
        const start = table.size;
        this.writer.applyPositional({
          isSnapshot: true,
          removed: RowSet.EMPTY,
          added: RowSet.range(start, start + n - 1),
          addData: batch.columns.map((c) => (c.length > 0 ? [c] : [])),
          modified: [],
          modData: [],
        });
      }
      p.addReceived += batch.length;
    } else p.add(batch);
    return this.finish();
  }

  /**
   * How many rows a batch may append straight into the table now (see `snapshot_stream.ts`): the rows the
   * update being assembled still expects, in append mode; else 0. Room for all of them is reserved.
   */
  appendable(): number {
    const p = this.#pending;
    if (!p || this.mode() !== "append") return 0;
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

  /** Rows received and expected of the update being assembled (`undefined` between updates). */
  get pendingRows(): { received: number; expected: number } | undefined {
    const p = this.#pending;
    return p ? { received: Math.min(p.addReceived, p.addExpected), expected: p.addExpected } : undefined;
  }

  /** Ends the update being assembled when all its rows are in; returns its metadata then. */
  finish(): UpdateMetadata | undefined {
    const p = this.#pending;
    if (!p || !p.complete) return undefined;
    this.#pending = undefined;
    const m = p.meta;
    const table = this.writer.storage;
    if (m.tableSize >= 0n) this.writer.setSourceSize(Number(m.tableSize));
    const mode = this.mode();
    // The first update after a resubscription replaces every row the table held.
    const replace = this.#replace;
    this.#replace = false;
    if (mode === "append") {
      // The rows were appended as their batches arrived (see feed).
    } else if (mode === "positional") {
      // Viewport messages speak of offsets; src/barrage/viewport.ts turns them into the table's keys.
      this.writer.applyKeyed(viewportChange({
        isSnapshot: m.isSnapshot,
        resubscribed: replace,
        removed: replace ? (table.size > 0 ? RowSet.range(0, table.size - 1) : RowSet.EMPTY) : m.removedRows,
        added: m.addedRows,
        addData: p.addData,
        modified: m.modifiedRows,
        modData: p.modData,
      }, table.size));
    } else {
      const removed = replace || (this.#blink && !m.isSnapshot)
        ? table.rowSet.union(m.removedRows)
        : m.removedRows;
      this.writer.applyKeyed({
        isSnapshot: m.isSnapshot,
        resubscribed: replace,
        removed,
        shifts: m.shiftData,
        added: m.addedRows,
        addedIncluded: m.addedRowsIncluded,
        addData: p.addData,
        modified: m.modifiedRows,
        modData: p.modData,
      });
    }
    return m;
  }
}
