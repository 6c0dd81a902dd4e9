/**
 * Barrage flatbuffer messages: building subscription and snapshot requests,
 * and decoding update metadata into plain TypeScript types. This is the one
 * place where generated Barrage code is touched.
 *
 * @module
 */

import * as flatbuffers from "../deps/flatbuffers.ts";
import { DeephavenError, GrpcCode } from "../errors.ts";
import { RowSet, ShiftData } from "../table/rowset.ts";
import { decodeBitSet, decodeRowSet, decodeShiftData, encodeBitSet, encodeRowSet } from "./rowset_codec.ts";
import {
  BarrageMessageType,
  BarrageMessageWrapper,
  BarrageSnapshotOptions,
  BarrageSnapshotRequest,
  BarrageSubscriptionOptions,
  BarrageSubscriptionRequest,
  BarrageUpdateMetadata,
} from "../generated/barrage/barrage_generated.ts";

/** The magic number of every Barrage wrapper ("dphn" little-endian). */
export const BARRAGE_MAGIC = 0x6e687064;

/** Options of a subscription request. */
export interface SubscriptionRequestOptions {
  /** Column indexes to subscribe to (all when absent). */
  columns?: number[];
  /** Viewport rows as a RowSet of positions (full subscription when absent). */
  viewport?: RowSet;
  /** Count viewport positions from the end of the table. */
  reverseViewport?: boolean;
  /** Send Deephaven null sentinels instead of Arrow validity for fixed-width columns. Default true. */
  useDeephavenNulls?: boolean;
  /** Minimum interval between updates, ms (0 = server default, 1000). */
  minUpdateIntervalMs?: number;
  /** Rows per record batch (0 = server default). */
  batchSize?: number;
  /** Upper bound of one message, bytes (0 = server default, 100 MiB). */
  maxMessageSize?: number;
  /** Wrap every column in a one-element list. Default false. */
  columnsAsList?: boolean;
}

function byteVector(b: flatbuffers.Builder, bytes: Uint8Array): number {
  return b.createByteVector(bytes);
}

function wrap(type: BarrageMessageType, payload: Uint8Array): Uint8Array {
  const b = new flatbuffers.Builder(payload.length + 64);
  const p = byteVector(b, payload);
  BarrageMessageWrapper.startBarrageMessageWrapper(b);
  BarrageMessageWrapper.addMagic(b, BARRAGE_MAGIC);
  BarrageMessageWrapper.addMsgType(b, type);
  BarrageMessageWrapper.addMsgPayload(b, p);
  b.finish(BarrageMessageWrapper.endBarrageMessageWrapper(b));
  return b.asUint8Array();
}

/** Whether a request asks for Deephaven's null sentinels (`useDeephavenNulls`, default `true`). */
export function usesDeephavenNulls(o: { useDeephavenNulls?: boolean }): boolean {
  return o.useDeephavenNulls ?? true;
}

/**
 * The `app_metadata` of a subscription (or viewport change) request.
 *
 * @param ticket The table's ticket bytes (may be empty for a viewport change).
 * @param o Options.
 * @returns Wrapper bytes.
 */
export function subscriptionRequest(ticket: Uint8Array, o: SubscriptionRequestOptions = {}): Uint8Array {
  const b = new flatbuffers.Builder(256);
  const t = ticket.length ? byteVector(b, ticket) : 0;
  const cols = o.columns ? byteVector(b, encodeBitSet(o.columns)) : 0;
  const vp = o.viewport ? byteVector(b, encodeRowSet(o.viewport)) : 0;
  BarrageSubscriptionOptions.startBarrageSubscriptionOptions(b);
  BarrageSubscriptionOptions.addUseDeephavenNulls(b, usesDeephavenNulls(o));
  BarrageSubscriptionOptions.addMinUpdateIntervalMs(b, o.minUpdateIntervalMs ?? 0);
  BarrageSubscriptionOptions.addBatchSize(b, o.batchSize ?? 0);
  BarrageSubscriptionOptions.addMaxMessageSize(b, o.maxMessageSize ?? 0);
  BarrageSubscriptionOptions.addColumnsAsList(b, o.columnsAsList ?? false);
  const opts = BarrageSubscriptionOptions.endBarrageSubscriptionOptions(b);
  BarrageSubscriptionRequest.startBarrageSubscriptionRequest(b);
  if (t) BarrageSubscriptionRequest.addTicket(b, t);
  if (cols) BarrageSubscriptionRequest.addColumns(b, cols);
  if (vp) BarrageSubscriptionRequest.addViewport(b, vp);
  BarrageSubscriptionRequest.addSubscriptionOptions(b, opts);
  BarrageSubscriptionRequest.addReverseViewport(b, o.reverseViewport ?? false);
  b.finish(BarrageSubscriptionRequest.endBarrageSubscriptionRequest(b));
  return wrap(BarrageMessageType.BarrageSubscriptionRequest, b.asUint8Array());
}

/**
 * The `app_metadata` of a snapshot request.
 *
 * @param ticket The table's ticket bytes.
 * @param o Options (viewport, columns, nulls, sizes).
 * @returns Wrapper bytes.
 */
export function snapshotRequest(ticket: Uint8Array, o: SubscriptionRequestOptions = {}): Uint8Array {
  const b = new flatbuffers.Builder(256);
  const t = byteVector(b, ticket);
  const cols = o.columns ? byteVector(b, encodeBitSet(o.columns)) : 0;
  const vp = o.viewport ? byteVector(b, encodeRowSet(o.viewport)) : 0;
  BarrageSnapshotOptions.startBarrageSnapshotOptions(b);
  BarrageSnapshotOptions.addUseDeephavenNulls(b, usesDeephavenNulls(o));
  BarrageSnapshotOptions.addBatchSize(b, o.batchSize ?? 0);
  BarrageSnapshotOptions.addMaxMessageSize(b, o.maxMessageSize ?? 0);
  const opts = BarrageSnapshotOptions.endBarrageSnapshotOptions(b);
  BarrageSnapshotRequest.startBarrageSnapshotRequest(b);
  BarrageSnapshotRequest.addTicket(b, t);
  if (cols) BarrageSnapshotRequest.addColumns(b, cols);
  if (vp) BarrageSnapshotRequest.addViewport(b, vp);
  BarrageSnapshotRequest.addSnapshotOptions(b, opts);
  BarrageSnapshotRequest.addReverseViewport(b, o.reverseViewport ?? false);
  b.finish(BarrageSnapshotRequest.endBarrageSnapshotRequest(b));
  return wrap(BarrageMessageType.BarrageSnapshotRequest, b.asUint8Array());
}

/** Decoded `BarrageUpdateMetadata`. */
export interface UpdateMetadata {
  firstSeq: bigint;
  lastSeq: bigint;
  isSnapshot: boolean;
  /** Present for viewport replies (positions in the source table). */
  effectiveViewport: RowSet | undefined;
  effectiveReverseViewport: boolean;
  /** Column indexes, when the server said which. */
  effectiveColumnSet: number[] | undefined;
  addedRows: RowSet;
  removedRows: RowSet;
  shiftData: ShiftData;
  /** Keys whose add data is in this message; `undefined` when all of `addedRows` are. */
  addedRowsIncluded: RowSet | undefined;
  /** Per column: modified keys (empty in snapshots). */
  modifiedRows: RowSet[];
  /** Source table size (`-1` when absent). */
  tableSize: bigint;
}

function malformed(what: string): DeephavenError {
  return new DeephavenError(`Malformed Barrage metadata: ${what}; report this with the server version`, {
    code: GrpcCode.DATA_LOSS,
  });
}

function u8(a: Int8Array | null): Uint8Array | undefined {
  return a ? new Uint8Array(a.buffer, a.byteOffset, a.byteLength) : undefined;
}

/**
 * Decodes a FlightData `app_metadata` wrapper that carries update metadata.
 *
 * @param appMetadata The wrapper bytes.
 * @returns The metadata, or `undefined` when the wrapper holds another message type.
 */
export function decodeUpdateMetadata(appMetadata: Uint8Array): UpdateMetadata | undefined {
  try {
    const bb = new flatbuffers.ByteBuffer(appMetadata);
    const w = BarrageMessageWrapper.getRootAsBarrageMessageWrapper(bb);
    if (w.magic() !== BARRAGE_MAGIC) throw malformed("bad magic number");
    if (w.msgType() !== BarrageMessageType.BarrageUpdateMetadata) return undefined;
    const payload = u8(w.msgPayloadArray());
    if (!payload) throw malformed("no payload");
    const m = BarrageUpdateMetadata.getRootAsBarrageUpdateMetadata(new flatbuffers.ByteBuffer(payload));
    const rs = (a: Int8Array | null) => (a ? decodeRowSet(u8(a) as Uint8Array) : undefined);
    const modifiedRows: RowSet[] = [];
    const modColumns = m.modColumnNodesLength();
    // Each entry takes at least a 4-byte offset; a larger count is damage that would loop for a long time.
    if (modColumns * 4 > payload.length) {
      throw malformed("more modified-column entries than the message holds");
    }
    for (let i = 0; i < modColumns; i++) {
      modifiedRows.push(rs(m.modColumnNodes(i)?.modifiedRowsArray() ?? null) ?? RowSet.EMPTY);
    }
    const shift = u8(m.shiftDataArray());
    const cols = u8(m.effectiveColumnSetArray());
    return {
      firstSeq: m.firstSeq(),
      lastSeq: m.lastSeq(),
      isSnapshot: m.isSnapshot(),
      effectiveViewport: rs(m.effectiveViewportArray()),
      effectiveReverseViewport: m.effectiveReverseViewport(),
      effectiveColumnSet: cols ? decodeBitSet(cols) : undefined,
      addedRows: rs(m.addedRowsArray()) ?? RowSet.EMPTY,
      removedRows: rs(m.removedRowsArray()) ?? RowSet.EMPTY,
      shiftData: shift && shift.length ? decodeShiftData(shift) : ShiftData.EMPTY,
      addedRowsIncluded: rs(m.addedRowsIncludedArray()),
      modifiedRows,
      tableSize: m.tableSize(),
    };
  } catch (e) {
    if (e instanceof DeephavenError) throw e;
    throw malformed((e as Error).message);
  }
}
