/**
 * A bounds check for Arrow IPC `Message` flatbuffers, run before apache-arrow decodes one.
 *
 * apache-arrow trusts the flatbuffer: it walks every vector for as many elements as its length field says,
 * follows child fields wherever their offsets point, and converts 64-bit fields to numbers with a
 * `TypeError` when they do not fit. A damaged or hostile header (a few hundred bytes) can therefore make it
 * loop for billions of iterations, allocate gigabytes, or recurse without end. This check visits the same
 * tables and vectors the decoder will (Message, Schema, Field and its type, KeyValue, DictionaryEncoding,
 * RecordBatch, DictionaryBatch, BodyCompression), and refuses the message when a table, vector or string
 * lies outside the bytes, when fields nest deeper than 64 levels, or when the walk visits more tables than
 * the bytes can hold (shared or cyclic offsets).
 *
 * @module
 */

import * as flatbuffers from "../deps/flatbuffers.ts";
import { DeephavenError, GrpcCode } from "../errors.ts";

/** How the check reads a table: per field slot, what the field holds. */
type Spec = Record<number, FieldSpec>;
type FieldSpec =
  | { kind: "string" }
  | { kind: "table"; spec: () => Spec }
  | { kind: "tables"; spec: () => Spec }
  | { kind: "structs"; size: number }
  | { kind: "union"; typeSlot: number; specs: Record<number, () => Spec> };

const KEY_VALUE: Spec = { 0: { kind: "string" }, 1: { kind: "string" } };
const INT: Spec = {};
const DICTIONARY_ENCODING: Spec = { 1: { kind: "table", spec: () => INT } };
/** Arrow `Type` union members that hold more than scalars: Timestamp (time zone), Union (type ids). */
const TYPE_SPECS: Record<number, () => Spec> = {
  10: () => ({ 1: { kind: "string" } }),
  14: () => ({ 1: { kind: "structs", size: 4 } }),
};
const FIELD: Spec = {
  0: { kind: "string" },
  3: { kind: "union", typeSlot: 2, specs: TYPE_SPECS },
  4: { kind: "table", spec: () => DICTIONARY_ENCODING },
  5: { kind: "tables", spec: () => FIELD },
  6: { kind: "tables", spec: () => KEY_VALUE },
};
const SCHEMA: Spec = {
  1: { kind: "tables", spec: () => FIELD },
  2: { kind: "tables", spec: () => KEY_VALUE },
  3: { kind: "structs", size: 8 },
};
const RECORD_BATCH: Spec = {
  1: { kind: "structs", size: 16 },
  2: { kind: "structs", size: 16 },
  3: { kind: "table", spec: () => ({}) },
  4: { kind: "structs", size: 8 },
};
const DICTIONARY_BATCH: Spec = { 1: { kind: "table", spec: () => RECORD_BATCH } };
const MESSAGE: Spec = {
  2: {
    kind: "union",
    typeSlot: 1,
    specs: { 1: () => SCHEMA, 2: () => DICTIONARY_BATCH, 3: () => RECORD_BATCH },
  },
  4: { kind: "tables", spec: () => KEY_VALUE },
};

const MAX_DEPTH = 64;

function malformed(what: string): DeephavenError {
  return new DeephavenError(
    `Malformed Arrow message header from the server: ${what}; report this with the server version`,
    { code: GrpcCode.DATA_LOSS },
  );
}

/**
 * Walks a flatbuffer the way the flatbuffers runtime (and so apache-arrow) reads it, with the same signed
 * offsets and the same rule for absent fields, and checks every position it will use.
 */
class Walker {
  readonly #bb: flatbuffers.ByteBuffer;
  readonly #len: number;
  #budget: number;

  constructor(bytes: Uint8Array) {
    this.#bb = new flatbuffers.ByteBuffer(bytes);
    this.#len = bytes.byteLength;
    // Every table takes at least 4 bytes (its vtable offset), so a valid message has at most len / 4.
    this.#budget = (this.#len >> 2) + 1;
  }

  /** Checks that a 4-byte value at `at` lies inside the bytes. */
  #inside(at: number, what: string): void {
    if (at < 0 || at + 4 > this.#len) throw malformed(`${what} lies outside the header`);
  }

  /** The absolute position that the offset stored at `at` points to (the runtime's `__indirect`). */
  #deref(at: number, what: string): number {
    this.#inside(at, what);
    const target = at + this.#bb.readInt32(at);
    this.#inside(target, what);
    return target;
  }

  /** Checks a vector at `pos` of elements of `size` bytes; returns the element count the runtime will use. */
  #vector(pos: number, size: number, what: string): number {
    const n = this.#bb.readInt32(pos);
    if (n <= 0) return 0; // the runtime loops zero times
    if (n * size > this.#len - pos - 4) {
      throw malformed(`${what} claims ${n} elements, more than the header holds`);
    }
    return n;
  }

  table(pos: number, spec: Spec, depth: number, what: string): void {
    if (--this.#budget < 0) throw malformed(`${what}: the header refers to more tables than it can hold`);
    if (depth > MAX_DEPTH) throw malformed(`${what}: fields nest deeper than ${MAX_DEPTH} levels`);
    this.#inside(pos, what);
    /** The position of a field, as the runtime's `__offset` finds it; 0 when absent. */
    const field = (slot: number): number => {
      const off = this.#bb.__offset(pos, 4 + 2 * slot);
      return off === 0 ? 0 : pos + off;
    };
    for (const [slotText, f] of Object.entries(spec)) {
      const at = field(Number(slotText));
      if (at === 0) continue;
      switch (f.kind) {
        case "string":
          this.#vector(this.#deref(at, what), 1, `a string in ${what}`);
          break;
        case "structs":
          this.#vector(this.#deref(at, what), f.size, `a vector in ${what}`);
          break;
        case "table":
          this.table(this.#deref(at, what), f.spec(), depth + 1, what);
          break;
        case "tables": {
          const v = this.#deref(at, what);
          const n = this.#vector(v, 4, `a vector in ${what}`);
          const s = f.spec();
          for (let i = 0; i < n; i++) this.table(this.#deref(v + 4 + 4 * i, what), s, depth + 1, what);
          break;
        }
        case "union": {
          const typeAt = field(f.typeSlot);
          const type = typeAt === 0 ? 0 : this.#bb.readUint8(typeAt);
          const s = f.specs[type];
          this.table(this.#deref(at, what), s ? s() : {}, depth + 1, what);
          break;
        }
      }
    }
  }

  root(spec: Spec, what: string): void {
    this.#inside(0, what);
    this.table(this.#bb.readInt32(0), spec, 0, what);
  }
}

/**
 * Checks that an Arrow IPC `Message` flatbuffer (a FlightData `data_header`, without the IPC continuation
 * prefix) can be decoded in time and memory proportional to its size.
 *
 * @param header The flatbuffer bytes.
 * @throws {DeephavenError} DATA_LOSS when a table, vector or string lies outside the bytes, fields nest too
 * deeply, or offsets are shared or cyclic beyond what the bytes can hold.
 */
export function checkArrowMessage(header: Uint8Array): void {
  new Walker(header).root(MESSAGE, "the message");
}
