/**
 * Encoders of Barrage messages, the reverse of the module's decoders, for tests and the fuzzer: update
 * metadata (the `app_metadata` wrapper of an update) and record batches (through apache-arrow's IPC writer).
 * The fuzzer checks that what these build decodes to what they were given; fault tests use them to hand a
 * subscription a message that does not fit its table.
 *
 * @module
 */

import * as arrow from "../src/deps/apache_arrow.ts";
import * as flatbuffers from "../src/deps/flatbuffers.ts";
import { BARRAGE_MAGIC, type UpdateMetadata } from "../src/wire/messages.ts";
import { encodeBitSet, encodeRowSet, encodeShiftData } from "../src/wire/rowset_codec.ts";
import { ipcToFlight } from "../src/arrow/ipc.ts";
import {
  BarrageMessageType,
  BarrageMessageWrapper,
  BarrageModColumnMetadata,
  BarrageUpdateMetadata,
} from "../src/generated/barrage/barrage_generated.ts";

/**
 * Encodes update metadata as the server sends it: a `BarrageMessageWrapper` holding a
 * `BarrageUpdateMetadata`. Optional parts that are `undefined` (effective viewport and column set, added rows
 * included) are left out; empty shift data is left out too.
 *
 * @param m The metadata.
 * @returns The wrapper bytes (a FlightData `app_metadata`).
 */
export function encodeUpdateMetadata(m: UpdateMetadata): Uint8Array {
  const b = new flatbuffers.Builder(256);
  const vec = (bytes: Uint8Array) => b.createByteVector(bytes);
  const viewport = m.effectiveViewport ? vec(encodeRowSet(m.effectiveViewport)) : 0;
  const columns = m.effectiveColumnSet ? vec(encodeBitSet(m.effectiveColumnSet)) : 0;
  const added = vec(encodeRowSet(m.addedRows));
  const removed = vec(encodeRowSet(m.removedRows));
  const shift = m.shiftData.isEmpty ? 0 : vec(encodeShiftData(m.shiftData));
  const included = m.addedRowsIncluded ? vec(encodeRowSet(m.addedRowsIncluded)) : 0;
  const nodes = m.modifiedRows.map((rs) =>
    BarrageModColumnMetadata.createBarrageModColumnMetadata(b, vec(encodeRowSet(rs)))
  );
  const mods = BarrageUpdateMetadata.createModColumnNodesVector(b, nodes);
  BarrageUpdateMetadata.startBarrageUpdateMetadata(b);
  BarrageUpdateMetadata.addFirstSeq(b, m.firstSeq);
  BarrageUpdateMetadata.addLastSeq(b, m.lastSeq);
  BarrageUpdateMetadata.addIsSnapshot(b, m.isSnapshot);
  if (viewport) BarrageUpdateMetadata.addEffectiveViewport(b, viewport);
  BarrageUpdateMetadata.addEffectiveReverseViewport(b, m.effectiveReverseViewport);
  if (columns) BarrageUpdateMetadata.addEffectiveColumnSet(b, columns);
  BarrageUpdateMetadata.addAddedRows(b, added);
  BarrageUpdateMetadata.addRemovedRows(b, removed);
  if (shift) BarrageUpdateMetadata.addShiftData(b, shift);
  if (included) BarrageUpdateMetadata.addAddedRowsIncluded(b, included);
  BarrageUpdateMetadata.addModColumnNodes(b, mods);
  BarrageUpdateMetadata.addTableSize(b, m.tableSize);
  b.finish(BarrageUpdateMetadata.endBarrageUpdateMetadata(b));
  const payload = b.asUint8Array().slice();
  const w = new flatbuffers.Builder(payload.length + 64);
  const p = w.createByteVector(payload);
  BarrageMessageWrapper.startBarrageMessageWrapper(w);
  BarrageMessageWrapper.addMagic(w, BARRAGE_MAGIC);
  BarrageMessageWrapper.addMsgType(w, BarrageMessageType.BarrageUpdateMetadata);
  BarrageMessageWrapper.addMsgPayload(w, p);
  w.finish(BarrageMessageWrapper.endBarrageMessageWrapper(w));
  return w.asUint8Array().slice();
}

/**
 * Encodes columns as one Arrow record batch message (apache-arrow's IPC writer, standard validity bitmaps).
 *
 * @param columns Column name to vector, all of one length.
 * @returns The schema, and the batch's FlightData `data_header` and `data_body`.
 */
export function encodeRecordBatch(
  columns: Record<string, arrow.Vector>,
): { schema: arrow.Schema; header: Uint8Array; body: Uint8Array } {
  const table = new arrow.Table(columns);
  const [schemaMessage, batch] = ipcToFlight(arrow.tableToIPC(table, "stream"));
  if (!batch) throw new Error("apache-arrow wrote no record batch");
  return {
    schema: arrow.Message.decode(schemaMessage.dataHeader).header() as arrow.Schema,
    header: batch.dataHeader.slice(),
    body: batch.dataBody.slice(),
  };
}
