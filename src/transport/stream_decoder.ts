/**
 * gRPC message framing for large messages without the final copy.
 *
 * grpc-js (1.14.x) collects the pieces of every incoming message and joins them with one `Buffer.concat`
 * when the last piece arrives. For a Flight message of tens of megabytes that join is a copy of the whole
 * message into fresh memory (page faults included) on the critical path, after the network is done: in a
 * profile of a 44 MB DoGet it was the largest single cost of this client (about 20 ms per snapshot).
 *
 * {@linkcode installStreamDecoder} replaces grpc-js's `StreamDecoder.prototype.write` with
 * {@linkcode decoderWrite}, which produces the same framed messages (5-byte prefix, then the message), but
 * copies each piece of a large message into its final buffer as it arrives, while the rest is still on the
 * wire. It also places the message in that buffer so that a `FlightData.data_body` starts at a multiple of
 * 8 bytes, when the first piece holds the fields before the body (it nearly always does): Arrow buffers can
 * then be read in place ({@linkcode ./align.ts} would otherwise move the body). Small messages are framed
 * as grpc-js does. The replacement is installed once per process; grpc-js is pinned, and the tests compare
 * the replacement with the original on random cuts of real and synthetic messages.
 *
 * @module
 */

import { Buffer } from "node:buffer";
// grpc-js's own module instance (the one its calls use): a deep import of the pinned package.
import { StreamDecoder } from "../deps/grpc_js_stream_decoder.ts";

/** Messages at least this large are placed in their own buffer as they arrive. */
export const LARGE_MESSAGE_BYTES = 64 * 1024;

/** FlightData's `data_body` field (1000, length-delimited) as a protobuf tag. */
const DATA_BODY_TAG = (1000 << 3) | 2;

/** The state {@linkcode decoderWrite} keeps on a decoder (grpc-js's own fields are not used). */
interface DecoderState {
  maxReadMessageLength: number;
  /** 0: between messages; 1: reading the 5-byte prefix; 2: reading a message. */
  dhState?: number;
  dhPrefix?: Buffer;
  dhPrefixHave?: number;
  dhSize?: number;
  dhHave?: number;
  /** Large message: its final buffer and where its prefix starts in it. */
  dhTarget?: Uint8Array;
  dhShift?: number;
  /** Small message: its pieces. */
  dhParts?: Buffer[];
}

/**
 * The offset of a FlightData's `data_body` bytes inside a message, read from the message's first bytes:
 * the fields before the body (descriptor 1, header 2, app metadata 3, or any other) are skipped by their
 * tags. Undefined when those bytes are not all in `first`, or the message is not shaped like that.
 *
 * @example
 * ```ts
 * import { flightBodyOffset } from "./stream_decoder.ts";
 *
 * // data_header (field 2) of 3 bytes, then data_body (field 1000) of 4 bytes.
 * const m = new Uint8Array([0x12, 3, 1, 2, 3, 0xc2, 0x3e, 4, 9, 9, 9, 9]);
 * console.assert(flightBodyOffset(m) === 8);
 * ```
 */
export function flightBodyOffset(first: Uint8Array): number | undefined {
  let p = 0;
  for (let field = 0; field < 64 && p < first.length; field++) {
    const tag = readVarint(first, p);
    if (tag === undefined) return undefined;
    p = tag.next;
    const wire = tag.value & 7;
    if (wire === 2) {
      const len = readVarint(first, p);
      if (len === undefined) return undefined;
      if (tag.value === DATA_BODY_TAG) return len.next;
      p = len.next + len.value;
    } else if (wire === 0) {
      const v = readVarint(first, p);
      if (v === undefined) return undefined;
      p = v.next;
    } else if (wire === 1) p += 8;
    else if (wire === 5) p += 4;
    else return undefined;
  }
  return undefined;
}

function readVarint(b: Uint8Array, p: number): { value: number; next: number } | undefined {
  let value = 0, mul = 1;
  for (let i = 0; i < 5 && p < b.length; i++, p++) {
    const x = b[p];
    value += (x & 0x7f) * mul;
    if ((x & 0x80) === 0) return { value, next: p + 1 };
    mul *= 128;
  }
  return undefined;
}

/**
 * A drop-in `StreamDecoder.prototype.write`: splits incoming bytes into framed gRPC messages (each a
 * Buffer holding the 5-byte prefix and the message), like grpc-js's, with large messages copied into
 * their final (Flight-aligned) buffer piece by piece.
 *
 * @param data Bytes from the HTTP/2 stream.
 * @returns The messages completed by these bytes.
 */
export function decoderWrite(this: DecoderState, data: Buffer): Buffer[] {
  const out: Buffer[] = [];
  let head = 0;
  while (head < data.length) {
    if (!this.dhState) {
      this.dhPrefix = Buffer.alloc(5);
      this.dhPrefixHave = 0;
      this.dhState = 1;
    }
    if (this.dhState === 1) {
      const prefix = this.dhPrefix!;
      const take = Math.min(5 - this.dhPrefixHave!, data.length - head);
      prefix.set(data.subarray(head, head + take), this.dhPrefixHave!);
      this.dhPrefixHave! += take;
      head += take;
      if (this.dhPrefixHave! < 5) break;
      const size = prefix.readUInt32BE(1);
      if (this.maxReadMessageLength !== -1 && size > this.maxReadMessageLength) {
        throw new Error(`Received message larger than max (${size} vs ${this.maxReadMessageLength})`);
      }
      if (size === 0) {
        out.push(prefix);
        this.dhState = 0;
        continue;
      }
      this.dhSize = size;
      this.dhHave = 0;
      this.dhTarget = undefined;
      this.dhParts = [];
      this.dhState = 2;
      continue;
    }
    const size = this.dhSize!;
    const take = Math.min(size - this.dhHave!, data.length - head);
    const piece = data.subarray(head, head + take);
    head += take;
    if (size >= LARGE_MESSAGE_BYTES) {
      if (this.dhTarget === undefined) {
        // Where the body would start if the prefix sat at 0; shift everything so that it is 8-aligned.
        const body = this.dhHave === 0 ? flightBodyOffset(piece) : undefined;
        const shift = body === undefined ? 0 : (8 - ((5 + body) & 7)) & 7;
        this.dhTarget = new Uint8Array(new ArrayBuffer(shift + 5 + size));
        this.dhShift = shift;
        this.dhTarget.set(this.dhPrefix!, shift);
      }
      this.dhTarget.set(piece, this.dhShift! + 5 + this.dhHave!);
    } else {
      this.dhParts!.push(piece);
    }
    this.dhHave! += take;
    if (this.dhHave === size) {
      if (this.dhTarget !== undefined) {
        out.push(Buffer.from(this.dhTarget.buffer, this.dhShift!, 5 + size));
        this.dhTarget = undefined;
      } else {
        out.push(Buffer.concat([this.dhPrefix!, ...this.dhParts!], 5 + size));
      }
      this.dhParts = undefined;
      this.dhState = 0;
    }
  }
  return out;
}

/** grpc-js's own `write`, kept for comparison in tests. */
export const originalDecoderWrite: (data: Buffer) => Buffer[] = StreamDecoder.prototype.write;

let installed = false;

/** Makes grpc-js frame incoming messages with {@linkcode decoderWrite} (once per process). */
export function installStreamDecoder(): void {
  if (installed) return;
  installed = true;
  (StreamDecoder.prototype as unknown as { write: unknown }).write = decoderWrite;
}
