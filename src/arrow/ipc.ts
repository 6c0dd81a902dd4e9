/**
 * Conversions between Arrow Flight `FlightData` messages and Arrow IPC
 * stream bytes, so that apache-arrow can read DoGet streams and write DoPut
 * uploads. Also reads Deephaven's IPC-encapsulated `schema_header`.
 *
 * @module
 */

import {
  type Float,
  type Int,
  Message,
  MessageHeader,
  Precision,
  type Schema,
  type Table,
  tableFromIPC,
  Type,
} from "../deps/apache_arrow.ts";
import { DeephavenError, GrpcCode } from "../errors.ts";
import { checkArrowMessage } from "./guard.ts";

/** The header and body of one Flight message. */
export interface FlightPayload {
  /** The flatbuffer Arrow `Message` (no continuation prefix). */
  dataHeader: Uint8Array;
  /** The message body. */
  dataBody: Uint8Array;
}

const CONTINUATION = 0xffffffff;

function malformed(what: string): DeephavenError {
  return new DeephavenError(
    `Malformed Arrow data from the server: ${what}; report this with the server version`,
    { code: GrpcCode.DATA_LOSS },
  );
}

/**
 * Reads a Deephaven `schema_header` (an IPC-encapsulated Schema message:
 * `FF FF FF FF`, int32 length, flatbuffer) into an apache-arrow `Schema`.
 *
 * @param bytes The encapsulated schema.
 * @returns The schema.
 */
export function schemaFromHeader(bytes: Uint8Array): Schema {
  if (bytes.length < 8) throw malformed("schema header is too short");
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  let off = 0;
  let len = dv.getInt32(0, true);
  if (dv.getUint32(0, true) === CONTINUATION) {
    len = dv.getInt32(4, true);
    off = 8;
  } else {
    off = 4;
  }
  if (len <= 0 || off + len > bytes.length) throw malformed("schema header length is out of range");
  return schemaFromFlatbuffer(bytes.subarray(off, off + len));
}

/**
 * Decodes a flatbuffer Arrow `Message` holding a Schema.
 *
 * @param header The flatbuffer bytes.
 * @returns The schema.
 */
export function schemaFromFlatbuffer(header: Uint8Array): Schema {
  checkArrowMessage(header);
  let msg: Message;
  try {
    msg = Message.decode(header);
  } catch (e) {
    throw malformed(`cannot decode schema message (${(e as Error).message})`);
  }
  if (msg.headerType !== MessageHeader.Schema) throw malformed("expected a Schema message");
  try {
    return msg.header() as Schema;
  } catch (e) {
    throw malformed(`cannot decode schema message (${(e as Error).message})`);
  }
}

function pad8(n: number): number {
  return (n + 7) & ~7;
}

/**
 * Frames Flight messages as an Arrow IPC stream (continuation, length,
 * padded header, body) that apache-arrow's readers accept.
 *
 * @param messages Flight payloads: a schema message, then record batches.
 * @returns IPC stream chunks (one or two per message, plus the end marker).
 */
export function flightToIpcChunks(messages: Iterable<FlightPayload>): Uint8Array[] {
  const out: Uint8Array[] = [];
  for (const m of messages) {
    if (m.dataHeader.length === 0) continue; // metadata-only message
    checkArrowMessage(m.dataHeader); // apache-arrow's reader trusts the header; a damaged one could hang it
    const hlen = pad8(m.dataHeader.length);
    const prefix = new Uint8Array(8 + hlen);
    const dv = new DataView(prefix.buffer);
    dv.setUint32(0, CONTINUATION, true);
    dv.setInt32(4, hlen, true);
    prefix.set(m.dataHeader, 8);
    out.push(prefix);
    if (m.dataBody.length > 0) out.push(m.dataBody);
  }
  out.push(new Uint8Array([0xff, 0xff, 0xff, 0xff, 0, 0, 0, 0]));
  return out;
}

/**
 * Reads a DoGet stream's messages into an apache-arrow `Table`.
 *
 * @param messages Flight payloads: a schema message, then record batches.
 * @returns The table.
 */
export function tableFromFlight(messages: Iterable<FlightPayload>): Table {
  // The chunks go to the reader as they are, not joined into one buffer: a body that starts at an 8-byte
  // aligned offset (the transport aligns large ones) becomes the batch's buffers without a copy, and the
  // reader copies a misaligned one itself.
  const chunks = flightToIpcChunks(messages);
  try {
    return tableFromIPC(chunks);
  } catch (e) {
    throw malformed(`cannot read record batches (${(e as Error).message})`);
  }
}

/**
 * Splits Arrow IPC stream bytes into Flight payloads (schema first, then
 * record batches), for DoPut.
 *
 * @param ipc IPC stream bytes, e.g. from `tableToIPC(table, "stream")`.
 * @returns One payload per IPC message.
 */
export function ipcToFlight(ipc: Uint8Array): FlightPayload[] {
  const dv = new DataView(ipc.buffer, ipc.byteOffset, ipc.byteLength);
  const out: FlightPayload[] = [];
  let off = 0;
  while (off + 4 <= ipc.length) {
    let len = dv.getInt32(off, true);
    if (dv.getUint32(off, true) === CONTINUATION) {
      if (off + 8 > ipc.length) break;
      len = dv.getInt32(off + 4, true);
      off += 8;
    } else {
      off += 4;
    }
    if (len === 0) break; // end of stream
    const header = ipc.subarray(off, off + len);
    off += len;
    const msg = Message.decode(header);
    const bodyLength = Number(msg.bodyLength);
    const body = ipc.subarray(off, off + bodyLength);
    off += bodyLength;
    out.push({ dataHeader: header, dataBody: body });
  }
  return out;
}

/**
 * Whether Deephaven's null values (`useDeephavenNulls`) stand for nulls unambiguously in every column of a
 * schema. A column the server keeps in an Arrow type narrower than Deephaven's own (an unsigned integer
 * other than a char, a half-precision float: imported tables keep them) marks a null with that type's lowest
 * value, which is also a real value there; such a table needs Arrow validity bitmaps to be read exactly.
 *
 * @param schema The table's schema.
 * @returns `true` when no column is of such a type.
 */
export function deephavenNullsAreExact(schema: Schema): boolean {
  return schema.fields.every((f) => {
    const t = f.type;
    if (t.typeId === Type.Int) {
      const it = t as Int;
      return it.isSigned || (it.bitWidth === 16 && f.metadata.get("deephaven:type") === "char");
    }
    if (t.typeId === Type.Float) return (t as Float).precision !== Precision.HALF;
    return true;
  });
}
