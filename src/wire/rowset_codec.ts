/**
 * Barrage codecs for row sets, shift data and column bit sets.
 *
 * Row sets travel in Deephaven's "external compressed delta" encoding (little-endian): a sequence of signed
 * deltas, where a positive delta adds a key `offset + d` and a negative one marks `offset + |d|` as the end of
 * a range that started at the previous key. Deltas are grouped into commands; the low three bits of each
 * command byte give the width of the value that follows (1 = int16, 2 = int32, 3 = int64, 4 = int8):
 *
 * | command | meaning |
 * |---|---|
 * | `0x08` OFFSET | one delta |
 * | `0x10` SHORT_ARRAY | a count N, then N int16 deltas |
 * | `0x18` BYTE_ARRAY | a count N, then N int8 deltas |
 * | `0x20` END | end of the set |
 *
 * The decoder accepts any valid command sequence. The encoder reproduces the server writer's choices byte for
 * byte: deltas of 32767 or more flush the pending small deltas and go out as one OFFSET of the smallest width;
 * smaller deltas are buffered as int16 and, on flush, a run of 4 or more byte-sized deltas followed by a larger
 * one becomes a BYTE_ARRAY, a byte-sized run at the very end is always written as bytes, and a group of one value
 * is an OFFSET.
 *
 * Shift data is three row sets back to back (window starts, window ends, destinations of the starts). Column
 * sets are `java.util.BitSet.toByteArray()` bytes.
 *
 * Malformed input throws a {@linkcode DeephavenError} with code DATA_LOSS (15); decoding never reads past the
 * input, never loops longer than the input allows, and allocates in proportion to the input.
 *
 * @example Usage
 * ```ts
 * import { decodeRowSet, encodeRowSet } from "./rowset_codec.ts";
 * import { RowSet } from "../table/rowset.ts";
 *
 * const bytes = encodeRowSet(RowSet.range(0, 9)); // 1c 02 00 f7 20
 * console.assert(decodeRowSet(bytes).equals(RowSet.range(0, 9)));
 * ```
 *
 * @module
 */

import { DeephavenError, GrpcCode } from "../errors.ts";
import { MAX_ROW_KEY, RowSet, RowSetBuilder, ShiftData } from "../table/rowset.ts";

const OFFSET = 0x08;
const SHORT_ARRAY = 0x10;
const BYTE_ARRAY = 0x18;
const END = 0x20;
const CMD_MASK = 0x38;
const WIDTH_MASK = 0x07;
const W_SHORT = 1;
const W_INT = 2;
const W_LONG = 3;
const W_BYTE = 4;

const MAX_SAFE = Number.MAX_SAFE_INTEGER;
const MAX_SAFE_BIG = BigInt(Number.MAX_SAFE_INTEGER);

function malformed(what: string, detail: string, at: number): DeephavenError {
  return new DeephavenError(
    `The Barrage message was malformed: its ${what} encoding ${detail} (at byte ${at}). Please report this ` +
      "together with the Deephaven server version.",
    { code: GrpcCode.DATA_LOSS },
  );
}

function hex(b: number): string {
  return `0x${b.toString(16).padStart(2, "0")}`;
}

/** Turns deltas into ranges, following the reference reader's pending-key rules. */
class DeltaSink {
  readonly builder: RowSetBuilder;
  /** Absolute value of the last delta (number while it stays <= MAX_SAFE). */
  offset = 0;
  /** Pending key waiting to learn whether it starts a range; -1 for none. */
  pending = -1;
  wide = false;
  offsetBig = 0n;
  pendingBig = -1n;
  started = false;
  /** Byte position of the current command, for messages. */
  at = 0;

  constructor(capacity: number) {
    this.builder = new RowSetBuilder(capacity);
  }

  num(d: number): void {
    if (this.wide) {
      this.big(BigInt(d));
      return;
    }
    const mag = d < 0 ? -d : d;
    if (mag === 0 && this.started) throw malformed("row set", "repeats a row key", this.at);
    this.started = true;
    const a = this.offset + mag;
    if (a > MAX_SAFE) {
      this.#goWide();
      this.big(BigInt(d));
      return;
    }
    this.offset = a;
    const pending = this.pending;
    if (d < 0) {
      if (pending < 0) throw malformed("row set", "has a range end with no range start", this.at);
      this.builder.appendRange(pending, a);
      this.pending = -1;
    } else {
      if (pending >= 0) this.builder.appendRange(pending, pending);
      this.pending = a;
    }
  }

  big(d: bigint): void {
    if (!this.wide) this.#goWide();
    const mag = d < 0n ? -d : d;
    if (mag === 0n && this.started) throw malformed("row set", "repeats a row key", this.at);
    this.started = true;
    const a = this.offsetBig + mag;
    if (a > MAX_ROW_KEY) throw malformed("row set", "has a row key above 2^63 - 1", this.at);
    this.offsetBig = a;
    const pending = this.pendingBig;
    if (d < 0n) {
      if (pending < 0n) throw malformed("row set", "has a range end with no range start", this.at);
      this.builder.appendRange(pending, a);
      this.pendingBig = -1n;
    } else {
      if (pending >= 0n) this.builder.appendRange(pending, pending);
      this.pendingBig = a;
    }
  }

  #goWide(): void {
    this.wide = true;
    this.offsetBig = BigInt(this.offset);
    this.pendingBig = BigInt(this.pending);
  }

  finish(): RowSet {
    if (this.wide) {
      if (this.pendingBig >= 0n) this.builder.appendRange(this.pendingBig, this.pendingBig);
    } else if (this.pending >= 0) this.builder.appendRange(this.pending, this.pending);
    return this.builder.build();
  }
}

/**
 * Counts the ranges of the encoded set at `start` without building it: each range begins with exactly one
 * non-negative delta. The count never exceeds the input length, so presizing the builder with it is safe, and
 * saves the growth copies (about half the decode time for large sets). Stops quietly on malformed input;
 * the decoding pass reports it.
 */
function countRanges(bytes: Uint8Array, view: DataView, start: number): number {
  const end = bytes.length;
  let p = start, count = 0;
  while (p < end) {
    const cmd = bytes[p++];
    const width = cmd & WIDTH_MASK;
    const size = width === W_BYTE
      ? 1
      : width === W_SHORT
      ? 2
      : width === W_INT
      ? 4
      : width === W_LONG
      ? 8
      : 0;
    const kind = cmd & CMD_MASK;
    if (kind === END) break;
    if (size === 0 || p + size > end) break;
    if (kind === OFFSET) {
      if ((bytes[p + size - 1] & 0x80) === 0) count++;
      p += size;
    } else if (kind === SHORT_ARRAY || kind === BYTE_ARRAY) {
      const n = size === 1
        ? (bytes[p] << 24) >> 24
        : size === 2
        ? view.getInt16(p, true)
        : size === 4
        ? view.getInt32(p, true)
        : Number(view.getBigInt64(p, true));
      p += size;
      const elem = kind === SHORT_ARRAY ? 2 : 1;
      if (n < 0 || p + n * elem > end) break;
      for (let k = elem - 1; k < n * elem; k += elem) if ((bytes[p + k] & 0x80) === 0) count++;
      p += n * elem;
    } else break;
  }
  return count;
}

/** Reads one encoded row set starting at `start`; returns it and the position after its END byte. */
function readRowSet(bytes: Uint8Array, view: DataView, start: number): { rowSet: RowSet; next: number } {
  const end = bytes.length;
  const sink = new DeltaSink(countRanges(bytes, view, start));
  let p = start;
  const need = (n: number, at: number) => {
    if (p + n > end) throw malformed("row set", "is truncated", at);
  };
  /** Reads a value of the command's width as a number; int64 values beyond 2^53 come back as bigint. */
  const readValue = (cmd: number, at: number): number | bigint => {
    switch (cmd & WIDTH_MASK) {
      case W_BYTE:
        need(1, at);
        return (bytes[p++] << 24) >> 24;
      case W_SHORT: {
        need(2, at);
        const v = view.getInt16(p, true);
        p += 2;
        return v;
      }
      case W_INT: {
        need(4, at);
        const v = view.getInt32(p, true);
        p += 4;
        return v;
      }
      case W_LONG: {
        need(8, at);
        const v = view.getBigInt64(p, true);
        p += 8;
        return v >= -MAX_SAFE_BIG && v <= MAX_SAFE_BIG ? Number(v) : v;
      }
      default:
        throw malformed("row set", `has command byte ${hex(cmd)} with an unknown value width`, at);
    }
  };
  const readCount = (cmd: number, at: number, elementSize: number): number => {
    const n = readValue(cmd, at);
    if (typeof n !== "number" || n < 0 || p + n * elementSize > end) {
      throw malformed("row set", `has an array count ${n} that runs past the end of the data`, at);
    }
    return n;
  };

  for (;;) {
    if (p >= end) throw malformed("row set", "ends without an END command", p);
    const at = p;
    const cmd = bytes[p++];
    sink.at = at;
    switch (cmd & CMD_MASK) {
      case OFFSET: {
        const v = readValue(cmd, at);
        if (typeof v === "number") sink.num(v);
        else sink.big(v);
        break;
      }
      case SHORT_ARRAY: {
        const n = readCount(cmd, at, 2);
        for (let k = 0; k < n; k++, p += 2) sink.num(view.getInt16(p, true));
        break;
      }
      case BYTE_ARRAY: {
        const n = readCount(cmd, at, 1);
        for (let k = 0; k < n; k++) sink.num((bytes[p++] << 24) >> 24);
        break;
      }
      case END:
        return { rowSet: sink.finish(), next: p };
      default:
        throw malformed("row set", `has unknown command byte ${hex(cmd)}`, at);
    }
  }
}

function viewOf(bytes: Uint8Array): DataView {
  return new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}

/**
 * Decodes a Barrage row set. Bytes after the END command are ignored, as the reference reader does. A
 * zero-length input decodes as the empty set (flatbuffers readers hand out an empty vector for an absent
 * field; callers that must tell "absent" from "empty" check presence first).
 *
 * @param bytes The encoded row set.
 * @returns The row set.
 * @throws {DeephavenError} DATA_LOSS when the bytes are malformed.
 */
export function decodeRowSet(bytes: Uint8Array): RowSet {
  if (bytes.length === 0) return RowSet.EMPTY;
  return readRowSet(bytes, viewOf(bytes), 0).rowSet;
}

/**
 * Decodes Barrage shift data: three row sets back to back (window starts, window ends, destinations of the
 * starts); window i moves by `dest - start`. Windows are kept as sent, except that a run of one-key windows
 * that all three sets encode as ranges (for example starts `[0-999]`, ends `[0-999]`, dests `[10-1009]`)
 * becomes one window (`[0, 999] + 10`): the result never holds more windows than the input has encoded values.
 * A zero-length input decodes as no shifts.
 *
 * @param bytes The encoded shift data.
 * @returns The shift data.
 * @throws {DeephavenError} DATA_LOSS when the bytes are malformed or the three sets do not line up.
 */
export function decodeShiftData(bytes: Uint8Array): ShiftData {
  if (bytes.length === 0) return ShiftData.EMPTY;
  const view = viewOf(bytes);
  const a = readRowSet(bytes, view, 0);
  const b = readRowSet(bytes, view, a.next);
  const c = readRowSet(bytes, view, b.next);
  const starts = a.rowSet, ends = b.rowSet, dests = c.rowSet;
  const bad = (detail: string) => malformed("shift data", detail, 0);

  // Walk the three sets range by range. Within a run where all three advance by one key per window, each
  // window must be a single key (window i must end before window i + 1 starts), so a run becomes one window.
  const S = starts.flatRanges(), E = ends.flatRanges(), D = dests.flatRanges();
  const outS: bigint[] = [], outE: bigint[] = [], outD: bigint[] = [];
  let is = 0, ie = 0, id = 0;
  let s = S.length > 0 ? BigInt(S[0]) : 0n;
  let e = E.length > 0 ? BigInt(E[0]) : 0n;
  let d = D.length > 0 ? BigInt(D[0]) : 0n;
  while (is < S.length && ie < E.length && id < D.length) {
    const run1 = BigInt(S[is + 1]) - s, run2 = BigInt(E[ie + 1]) - e, run3 = BigInt(D[id + 1]) - d;
    let run = run1 < run2 ? run1 : run2;
    if (run3 < run) run = run3;
    // Windows s..s+run, each [s+k, e+k] -> d+k.
    if (e < s) throw bad(`has a window [${s}, ${e}] that ends before it starts`);
    if (run > 0n && e !== s) throw bad(`has overlapping windows starting at ${s} and ${s + 1n}`);
    const delta = d - s;
    const n = outS.length;
    if (n > 0 && outE[n - 1] >= s) {
      throw bad(`has overlapping windows ending at ${outE[n - 1]} and starting at ${s}`);
    }
    outS.push(s);
    outE.push(e + run);
    outD.push(delta);
    // Advance each cursor by run + 1 keys.
    s += run + 1n;
    e += run + 1n;
    d += run + 1n;
    if (run === run1 && (is += 2) < S.length) s = BigInt(S[is]);
    if (run === run2 && (ie += 2) < E.length) e = BigInt(E[ie]);
    if (run === run3 && (id += 2) < D.length) d = BigInt(D[id]);
  }
  if (is < S.length || ie < E.length || id < D.length) {
    throw bad("has different numbers of window starts, window ends and destinations");
  }
  if (outS.length === 0) return ShiftData.EMPTY;
  return new ShiftData(BigInt64Array.from(outS), BigInt64Array.from(outE), BigInt64Array.from(outD));
}

// ---------------------------------------------------------------------------------------------------------
// Encoding

/** A growable little-endian byte buffer. */
class ByteWriter {
  #buf: Uint8Array;
  #view: DataView;
  #len = 0;

  constructor(capacity: number) {
    this.#buf = new Uint8Array(Math.max(capacity, 16));
    this.#view = viewOf(this.#buf);
  }

  #ensure(n: number): void {
    if (this.#len + n <= this.#buf.length) return;
    const grown = new Uint8Array(Math.max(this.#buf.length * 2, this.#len + n));
    grown.set(this.#buf.subarray(0, this.#len));
    this.#buf = grown;
    this.#view = viewOf(grown);
  }

  u8(v: number): void {
    this.#ensure(1);
    this.#buf[this.#len++] = v;
  }

  i16(v: number): void {
    this.#ensure(2);
    this.#view.setInt16(this.#len, v, true);
    this.#len += 2;
  }

  i32(v: number): void {
    this.#ensure(4);
    this.#view.setInt32(this.#len, v, true);
    this.#len += 4;
  }

  i64(v: bigint): void {
    this.#ensure(8);
    this.#view.setBigInt64(this.#len, v, true);
    this.#len += 8;
  }

  finish(): Uint8Array {
    return this.#buf.slice(0, this.#len);
  }
}

/** Writes a command with a value in the smallest width that holds it. */
function writeValue(w: ByteWriter, command: number, value: number | bigint): void {
  if (typeof value === "bigint") {
    if (value > 0x7fffffffn || value < -0x80000000n) {
      w.u8(command | W_LONG);
      w.i64(value);
      return;
    }
    value = Number(value);
  }
  if (value > 0x7fffffff || value < -0x80000000) {
    w.u8(command | W_LONG);
    w.i64(BigInt(value));
  } else if (value > 32767 || value < -32768) {
    w.u8(command | W_INT);
    w.i32(value);
  } else if (value > 127 || value < -128) {
    w.u8(command | W_SHORT);
    w.i16(value);
  } else {
    w.u8(command | W_BYTE);
    w.u8(value & 0xff);
  }
}

/** Buffers deltas below 32767 and flushes them as SHORT_ARRAY / BYTE_ARRAY / OFFSET commands. */
class SmallDeltas {
  #vals = new Int16Array(64);
  #len = 0;

  push(v: number): void {
    if (this.#len === this.#vals.length) {
      const grown = new Int16Array(this.#vals.length * 2);
      grown.set(this.#vals);
      this.#vals = grown;
    }
    this.#vals[this.#len++] = v;
  }

  flush(w: ByteWriter): void {
    const vals = this.#vals, size = this.#len;
    let written = 0, trailingBytes = 0;
    for (let i = 0; i < size; i++) {
      const v = vals[i];
      if (v >= -128 && v <= 127) {
        trailingBytes++;
        continue;
      }
      // A value that needs two bytes ends a run of byte-sized values; runs of 4 or more go out as bytes.
      if (trailingBytes >= 4) {
        this.#write(w, written, i - written - trailingBytes, trailingBytes);
        written = i;
      }
      trailingBytes = 0;
    }
    this.#write(w, written, size - written - trailingBytes, trailingBytes);
    this.#len = 0;
  }

  #write(w: ByteWriter, from: number, shortCount: number, byteCount: number): void {
    const vals = this.#vals;
    let i = from;
    if (shortCount === 1) writeValue(w, OFFSET, vals[i++]);
    else if (shortCount > 1) {
      writeValue(w, SHORT_ARRAY, shortCount);
      for (const stop = i + shortCount; i < stop; i++) w.i16(vals[i]);
    }
    if (byteCount === 1) writeValue(w, OFFSET, vals[i]);
    else if (byteCount > 1) {
      writeValue(w, BYTE_ARRAY, byteCount);
      for (const stop = i + byteCount; i < stop; i++) w.u8(vals[i] & 0xff);
    }
  }
}

function writeRowSet(w: ByteWriter, rs: RowSet): void {
  const d = rs.flatRanges();
  const small = new SmallDeltas();
  if (d instanceof Float64Array) {
    let offset = 0;
    for (let i = 0; i < d.length; i += 2) {
      const s = d[i], e = d[i + 1];
      let delta = s - offset;
      if (delta >= 32767) {
        small.flush(w);
        writeValue(w, OFFSET, delta);
      } else small.push(delta);
      offset = s;
      if (e !== s) {
        delta = e - offset;
        if (delta >= 32767) {
          small.flush(w);
          writeValue(w, OFFSET, -delta);
        } else small.push(-delta);
        offset = e;
      }
    }
  } else {
    let offset = 0n;
    for (let i = 0; i < d.length; i += 2) {
      const s = d[i], e = d[i + 1];
      let delta = s - offset;
      if (delta >= 32767n) {
        small.flush(w);
        writeValue(w, OFFSET, delta);
      } else small.push(Number(delta));
      offset = s;
      if (e !== s) {
        delta = e - offset;
        if (delta >= 32767n) {
          small.flush(w);
          writeValue(w, OFFSET, -delta);
        } else small.push(-Number(delta));
        offset = e;
      }
    }
  }
  small.flush(w);
  w.u8(END);
}

/**
 * Encodes a row set exactly as the Deephaven server writes it.
 *
 * @param rs The row set.
 * @returns The encoded bytes.
 */
export function encodeRowSet(rs: RowSet): Uint8Array {
  const w = new ByteWriter(2 + rs.rangeCount * 4);
  writeRowSet(w, rs);
  return w.finish();
}

/**
 * Encodes shift data as the server writes it: window starts, window ends and destinations as three row sets.
 * Like the server, a negative shift's start is raised so that no destination is below 0 (`start = -delta`);
 * a window left empty by that covers no possible key and is skipped.
 *
 * @param shiftData The shift data.
 * @returns The encoded bytes.
 * @throws {DeephavenError} INVALID_ARGUMENT when the shifted windows would be out of order.
 */
export function encodeShiftData(shiftData: ShiftData): Uint8Array {
  const sb = new RowSetBuilder(shiftData.length), eb = new RowSetBuilder(shiftData.length);
  const db = new RowSetBuilder(shiftData.length);
  for (let i = 0; i < shiftData.length; i++) {
    let s = shiftData.starts[i];
    const e = shiftData.ends[i], dt = shiftData.deltas[i];
    if (dt < 0n && s < -dt) s = -dt;
    if (s > e) continue;
    sb.appendKey(s);
    eb.appendKey(e);
    db.appendKey(s + dt);
  }
  const w = new ByteWriter(16 + shiftData.length * 12);
  writeRowSet(w, sb.build());
  writeRowSet(w, eb.build());
  writeRowSet(w, db.build());
  return w.finish();
}

// ---------------------------------------------------------------------------------------------------------
// Bit sets

/**
 * Decodes `java.util.BitSet.toByteArray()` bytes (bit i is bit `i % 8` of byte `i / 8`).
 *
 * @param bytes The bit set bytes.
 * @returns The indices of the set bits, increasing.
 */
export function decodeBitSet(bytes: Uint8Array): number[] {
  const out: number[] = [];
  for (let i = 0; i < bytes.length; i++) {
    const b = bytes[i];
    if (b === 0) continue;
    for (let bit = 0; bit < 8; bit++) if ((b >> bit) & 1) out.push(i * 8 + bit);
  }
  return out;
}

/**
 * Encodes indices like `java.util.BitSet.toByteArray()`: little-endian bits, no trailing zero bytes.
 *
 * @param indices Bit indices (duplicates allowed), each an integer in `[0, 2^31 - 1)`.
 * @returns The bytes (empty for no indices).
 * @throws {DeephavenError} INVALID_ARGUMENT for an index that is not such an integer.
 */
export function encodeBitSet(indices: Iterable<number>): Uint8Array {
  const list: number[] = [];
  let max = -1;
  for (const i of indices) {
    if (!Number.isInteger(i) || i < 0 || i >= 0x7fffffff) {
      throw new DeephavenError(`Bit index ${i} is not an integer in [0, 2^31 - 1)`, {
        code: GrpcCode.INVALID_ARGUMENT,
      });
    }
    list.push(i);
    if (i > max) max = i;
  }
  const out = new Uint8Array(max < 0 ? 0 : (max >> 3) + 1);
  for (const i of list) out[i >> 3] |= 1 << (i & 7);
  return out;
}
