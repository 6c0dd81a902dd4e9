/**
 * Eight-byte alignment of Flight message bodies, in place.
 *
 * Arrow buffers inside a `FlightData.data_body` can be read as typed arrays
 * without a copy only when the body starts at a multiple of 8 in its
 * `ArrayBuffer`; behind protobuf field tags it usually does not (it starts at
 * 5 + header size + a few tag bytes). grpc-js hands the deserializer each
 * message in a buffer of its own (its 5-byte gRPC prefix, then the message),
 * which nothing else reads afterwards, so the body can be moved a few bytes
 * down inside that buffer instead of being copied into a new one: a memmove
 * in memory that is already mapped, where a copy costs a fresh allocation and
 * its page faults.
 *
 * @module
 */

/** Bodies smaller than this stay where they are (a later copy of them is cheap). */
export const MIN_ALIGN_BYTES = 4096;

/** The fields of a decoded `FlightData` that {@linkcode alignFlightBody} reads and replaces. */
export interface AlignableFlightData {
  dataHeader: Uint8Array;
  appMetadata: Uint8Array;
  dataBody: Uint8Array;
  flightDescriptor?: unknown;
  $unknown?: unknown[];
}

/**
 * Moves a decoded FlightData's body to an 8-byte aligned offset inside the
 * buffer it was decoded from, when that buffer belongs to this one message.
 *
 * It acts only when all of these hold, and otherwise leaves the message as it is:
 * the body is misaligned and at least {@linkcode MIN_ALIGN_BYTES} long; it is a
 * view of `frame`; `frame` is a grpc-js message buffer that owns its whole
 * `ArrayBuffer` (byte offset 5, after the gRPC prefix, and nothing after it),
 * which rules out buffers from Node's shared pool; and the message has no
 * descriptor or unknown fields (whose bytes could sit just before the body).
 * The header and app metadata are copied out first (they are small and may
 * share the bytes the body moves over). The body's bytes are unchanged.
 *
 * @param message The decoded message (its fields are replaced in place).
 * @param frame The bytes the message was decoded from.
 * @returns Whether the body was moved.
 *
 * @example
 * ```ts
 * import { alignFlightBody } from "./align.ts";
 *
 * const buf = new ArrayBuffer(5 + 3 + 8192);
 * const frame = new Uint8Array(buf, 5);
 * const m = { dataHeader: new Uint8Array(0), appMetadata: new Uint8Array(0), dataBody: frame.subarray(3) };
 * console.assert(alignFlightBody(m, frame) && m.dataBody.byteOffset % 8 === 0);
 * ```
 */
export function alignFlightBody(message: AlignableFlightData, frame: Uint8Array): boolean {
  const body = message.dataBody;
  const shift = body.byteOffset & 7;
  if (shift === 0 || body.byteLength < MIN_ALIGN_BYTES) return false;
  if (body.buffer !== frame.buffer || frame.byteOffset !== 5) return false;
  if (frame.buffer.byteLength !== frame.byteLength + 5) return false;
  if (message.flightDescriptor !== undefined || (message.$unknown?.length ?? 0) > 0) return false;
  const start = body.byteOffset - shift;
  if (start < frame.byteOffset) return false;
  message.dataHeader = message.dataHeader.slice();
  message.appMetadata = message.appMetadata.slice();
  const all = new Uint8Array(frame.buffer);
  all.copyWithin(start, body.byteOffset, body.byteOffset + body.byteLength);
  message.dataBody = all.subarray(start, start + body.byteLength);
  return true;
}

/**
 * Where the `data_body` (field 1000) of a serialized `FlightData` starts, given the message's first bytes:
 * the fields before it (descriptor, header, app metadata) are skipped by their lengths. `undefined` when
 * more bytes are needed; -1 when the message has no body or cannot be read this way.
 *
 * @param prefix The first bytes of the message.
 * @returns The body's offset in the message, `undefined` or -1.
 *
 * @example
 * ```ts
 * import { flightBodyOffset } from "./align.ts";
 *
 * // data_header (field 2) of 3 bytes, then data_body (field 1000) of 16 bytes.
 * const m = Uint8Array.from([0x12, 3, 1, 2, 3, 0xc2, 0x3e, 16, ...new Array(16).fill(0)]);
 * console.assert(flightBodyOffset(m) === 8);
 * ```
 */
export function flightBodyOffset(prefix: Uint8Array): number | undefined {
  let at = 0;
  const varint = (): number | undefined => {
    let v = 0, mul = 1;
    for (let i = 0; i < 10; i++) {
      if (at >= prefix.length) return undefined;
      const b = prefix[at++];
      v += (b & 0x7f) * mul;
      if ((b & 0x80) === 0) return v;
      mul *= 128;
    }
    return -1;
  };
  while (true) {
    const tag = varint();
    if (tag === undefined) return undefined;
    if (tag < 0) return -1;
    const wire = tag % 8, field = Math.floor(tag / 8);
    if (wire === 2) {
      const len = varint();
      if (len === undefined) return undefined;
      if (len < 0) return -1;
      if (field === 1000) return at;
      at += len;
    } else if (wire === 0) {
      if (varint() === undefined) return undefined;
    } else if (wire === 1) at += 8;
    else if (wire === 5) at += 4;
    else return -1;
  }
}
