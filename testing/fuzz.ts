/**
 * Fuzzes the Barrage decoders: `decodeUpdateMetadata`, `decodeRowSet`, `decodeShiftData`, `decodeRecordBatch`
 * (and, as an extra, `schemaFromFlatbuffer`) with random bytes and with mutated real messages recorded from a
 * Deephaven server (`testing/fixtures/barrage_messages.json`).
 *
 * Some cases are valid messages built by encoders (`encodeRowSet`, `encodeShiftData`, the metadata and record
 * batch encoders of `testing/barrage_encode.ts`) from random input: they must decode, to exactly that input.
 *
 * Every case must end in data or a `DeephavenError` (a valid one: in the encoder's input). Anything else is a
 * finding:
 * - `wrong`: a valid message was refused or decoded to something other than the encoder's input;
 * - `crash`: another exception escaped;
 * - `slow`: the case took longer than `slowMs` (default 500 ms), also when run twice more (so a pause of the
 *   process is not a finding);
 * - `alloc`: the process's heap plus external memory grew by more than 64 MiB + 256 × the input size during
 *   the case (a lower bound of what the case allocated, so this never fires for small allocations);
 * - `hang`: no progress for `stallMs` (default 20 s): the case was killed;
 * - `died`: the process running the case exited (for example out of memory).
 *
 * Cases run in child processes (`deno run testing/fuzz.ts --child ...`) watched by the parent, so a hang or an
 * abort is reported with its case number instead of stopping the run. Case `i` of seed `s` is the same input
 * on every run: reproduce one with `--seed s --from i --cases 1 --verbose`.
 *
 * ```
 * deno task fuzz                                  # 1,000,000 cases, seed from the clock
 * deno task fuzz --cases 200000 --seed 42         # fixed seed
 * deno task fuzz --minutes 10                     # stop after 10 minutes
 * ```
 *
 * @module
 */

import * as arrow from "../src/deps/apache_arrow.ts";
import * as flatbuffers from "../src/deps/flatbuffers.ts";
import { parseArgs } from "node:util";
import { DeephavenError } from "../src/errors.ts";
import { decodeUpdateMetadata } from "../src/wire/messages.ts";
import { decodeRowSet, decodeShiftData, encodeRowSet, encodeShiftData } from "../src/wire/rowset_codec.ts";
import { decodeRecordBatch } from "../src/wire/record_batch.ts";
import { schemaFromFlatbuffer } from "../src/arrow/ipc.ts";
import { RowSet, ShiftData } from "../src/table/rowset.ts";
import {
  BarrageMessageType,
  BarrageMessageWrapper,
  BarrageUpdateMetadata,
} from "../src/generated/barrage/barrage_generated.ts";
import { loadRecordedStreams } from "./fixtures/recorded.ts";
import { encodeRecordBatch, encodeUpdateMetadata } from "./barrage_encode.ts";
import type { UpdateMetadata } from "../src/wire/messages.ts";
import { ColumnStore } from "../src/table/column.ts";

// ------------------------------------------------------------------------------------------------ PRNG

/** A small seeded PRNG (mulberry32); the same seed gives the same sequence. */
export class Rng {
  #s: number;

  /** @param seed Any 32-bit integer. */
  constructor(seed: number) {
    this.#s = seed >>> 0;
  }

  /** The next 32-bit unsigned integer. */
  u32(): number {
    let t = (this.#s = (this.#s + 0x6d2b79f5) >>> 0);
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return (t ^ (t >>> 14)) >>> 0;
  }

  /** An integer in `[0, n)`. */
  int(n: number): number {
    return n <= 0 ? 0 : this.u32() % n;
  }

  /** `true` with probability `p`. */
  chance(p: number): boolean {
    return this.u32() / 0x1_0000_0000 < p;
  }

  /** One element of a non-empty array. */
  pick<T>(items: readonly T[]): T {
    return items[this.int(items.length)];
  }

  /** `n` random bytes. */
  bytes(n: number): Uint8Array {
    const out = new Uint8Array(n);
    for (let i = 0; i < n; i++) out[i] = this.u32() & 0xff;
    return out;
  }
}

/** The seed of case `index` of a run with seed `seed` (so cases can be replayed one by one). */
export function caseSeed(seed: number, index: number): number {
  let h = (seed ^ Math.imul(index + 1, 0x9e3779b1)) >>> 0;
  h = Math.imul(h ^ (h >>> 16), 0x85ebca6b) >>> 0;
  h = Math.imul(h ^ (h >>> 13), 0xc2b2ae35) >>> 0;
  return (h ^ (h >>> 16)) >>> 0;
}

// ------------------------------------------------------------------------------------------------ corpus

/** One real record batch and the schema of its stream. */
interface Batch {
  schema: arrow.Schema;
  header: Uint8Array;
  body: Uint8Array;
}

/** The seeds that cases mutate. */
export interface Corpus {
  /** Real `app_metadata` wrappers with update metadata. */
  metadata: Uint8Array[];
  /** Real and synthetic encoded row sets. */
  rowSets: Uint8Array[];
  /** Real and synthetic encoded shift data. */
  shifts: Uint8Array[];
  /** Real record batches with their schemas. */
  batches: Batch[];
  /** Real schemas plus synthetic ones with column types Deephaven rarely sends. */
  schemas: arrow.Schema[];
  /** Real Schema messages (`data_header` of each stream's first message). */
  schemaHeaders: Uint8Array[];
}

function u8(a: Int8Array | null): Uint8Array | undefined {
  return a ? new Uint8Array(a.buffer, a.byteOffset, a.byteLength).slice() : undefined;
}

/** The raw row-set byte strings inside a real update metadata wrapper. */
function rowSetsOf(wrapper: Uint8Array): { rowSets: Uint8Array[]; shift?: Uint8Array } {
  const w = BarrageMessageWrapper.getRootAsBarrageMessageWrapper(new flatbuffers.ByteBuffer(wrapper));
  const payload = u8(w.msgPayloadArray());
  if (!payload) return { rowSets: [] };
  const m = BarrageUpdateMetadata.getRootAsBarrageUpdateMetadata(new flatbuffers.ByteBuffer(payload));
  const out: (Uint8Array | undefined)[] = [
    u8(m.addedRowsArray()),
    u8(m.removedRowsArray()),
    u8(m.addedRowsIncludedArray()),
    u8(m.effectiveViewportArray()),
  ];
  for (let i = 0; i < m.modColumnNodesLength(); i++) {
    out.push(u8(m.modColumnNodes(i)?.modifiedRowsArray() ?? null));
  }
  return { rowSets: out.filter((x): x is Uint8Array => !!x && x.length > 0), shift: u8(m.shiftDataArray()) };
}

/** Schemas with column kinds the decoder skips or handles specially. */
function syntheticSchemas(): arrow.Schema[] {
  const F = (name: string, type: arrow.DataType) => new arrow.Field(name, type, true);
  return [
    new arrow.Schema([F("n", new arrow.Null()), F("i", new arrow.Int32())]),
    new arrow.Schema([
      F("fsb", new arrow.FixedSizeBinary(4)),
      F("dec", new arrow.Decimal(2, 10, 128)),
      F("s", new arrow.Utf8()),
    ]),
    new arrow.Schema([
      F("fsl", new arrow.FixedSizeList(3, F("v", new arrow.Int64()))),
      F("fsl0", new arrow.FixedSizeList(0, F("v", new arrow.Int8()))),
      F("l", new arrow.List(F("v", new arrow.Utf8()))),
    ]),
    new arrow.Schema([
      F("st", new arrow.Struct([F("a", new arrow.Int32()), F("b", new arrow.Utf8())])),
      F("b", new arrow.Bool()),
      F("d", new arrow.DateDay()),
      F("t", new arrow.TimeSecond()),
      F("ts", new arrow.TimestampMicrosecond()),
      F("du", new arrow.DurationMillisecond()),
    ]),
  ];
}

function rng32(r: Rng): number {
  return r.int(2) ? r.int(64) : r.int(1 << 20);
}

/** Loads the recorded messages and builds synthetic seeds. */
export function loadCorpus(): Corpus {
  const { streams } = loadRecordedStreams();
  const c: Corpus = { metadata: [], rowSets: [], shifts: [], batches: [], schemas: [], schemaHeaders: [] };
  for (const s of streams) {
    const schema = schemaFromFlatbuffer(s.messages[0].dataHeader);
    c.schemas.push(schema);
    c.schemaHeaders.push(s.messages[0].dataHeader);
    for (const m of s.messages.slice(1)) {
      if (m.appMetadata.length > 0) {
        c.metadata.push(m.appMetadata);
        const { rowSets, shift } = rowSetsOf(m.appMetadata);
        c.rowSets.push(...rowSets);
        if (shift && shift.length > 0) c.shifts.push(shift);
      }
      if (m.dataHeader.length > 0) c.batches.push({ schema, header: m.dataHeader, body: m.dataBody });
    }
  }
  c.schemas.push(...syntheticSchemas());
  // Synthetic row sets and shifts: small and huge keys, single keys and ranges.
  const r = new Rng(0x5eed);
  for (let k = 0; k < 32; k++) {
    const ranges: [bigint, bigint][] = [];
    let key = BigInt(r.int(3) === 0 ? r.int(1 << 30) : r.int(100));
    for (let n = r.int(12) + 1; n > 0; n--) {
      const len = BigInt(r.int(4) === 0 ? r.int(100_000) : r.int(3));
      ranges.push([key, key + len]);
      key += len + 2n + BigInt(r.int(3) === 0 ? r.int(1 << 30) * (r.int(4) === 0 ? 1 << 20 : 1) : rng32(r));
    }
    if (key < 2n ** 62n) c.rowSets.push(encodeRowSet(RowSet.fromRanges(ranges)));
    const entries: [number, number, number][] = [];
    let start = r.int(1000);
    for (let n = r.int(5) + 1; n > 0; n--) {
      const end = start + r.int(50);
      entries.push([start, end, r.int(2) ? r.int(1000) + 1 : -(r.int(start + 1))]);
      start = end + 1 + r.int(100);
    }
    try {
      c.shifts.push(encodeShiftData(ShiftData.fromEntries(entries)));
    } catch {
      // windows that would overlap after shifting are not valid shift data; skip them
    }
  }
  return c;
}

// ------------------------------------------------------------------------------------------------ mutation

const INTERESTING_BYTES = [0x00, 0x01, 0x07, 0x08, 0x10, 0x18, 0x1c, 0x20, 0x7f, 0x80, 0xfe, 0xff];
const INTERESTING_INTS = [
  0,
  1,
  -1,
  2,
  4,
  8,
  16,
  0x7f,
  0x80,
  0xff,
  0x7fff,
  0x8000,
  0xffff,
  0x10000,
  0x7fffffff,
  -0x80000000,
  0x7ffffff8,
  0x3fffffff,
  1 << 24,
];

/** Applies 1 to 4 random mutations to a copy of `input`; `pool` feeds splices. */
export function mutate(r: Rng, input: Uint8Array, pool: readonly Uint8Array[]): Uint8Array {
  let b = input.slice();
  for (let n = r.int(4) + 1; n > 0; n--) {
    const len = b.length;
    switch (r.int(10)) {
      case 0: // flip bits
        if (len) { for (let k = r.int(8) + 1; k > 0; k--) b[r.int(len)] ^= 1 << r.int(8); }
        break;
      case 1: // an interesting byte
        if (len) b[r.int(len)] = r.pick(INTERESTING_BYTES);
        break;
      case 2: { // an interesting 16/32/64-bit value, little-endian
        const w = r.pick([2, 4, 4, 8]);
        if (len < w) break;
        const at = r.int(len - w + 1);
        const dv = new DataView(b.buffer, b.byteOffset, b.byteLength);
        const v = r.chance(0.2) ? len + r.int(16) - 8 : r.pick(INTERESTING_INTS);
        if (w === 2) dv.setInt16(at, v, true);
        else if (w === 4) dv.setInt32(at, v, true);
        else dv.setBigInt64(at, r.chance(0.5) ? BigInt(v) : BigInt.asIntN(64, BigInt(v) << 32n), true);
        break;
      }
      case 3: { // insert random bytes
        const at = r.int(len + 1);
        const ins = r.bytes(r.int(16) + 1);
        const out = new Uint8Array(len + ins.length);
        out.set(b.subarray(0, at));
        out.set(ins, at);
        out.set(b.subarray(at), at + ins.length);
        b = out;
        break;
      }
      case 4: { // delete a range
        if (!len) break;
        const at = r.int(len), cnt = Math.min(len - at, r.int(16) + 1);
        const out = new Uint8Array(len - cnt);
        out.set(b.subarray(0, at));
        out.set(b.subarray(at + cnt), at);
        b = out;
        break;
      }
      case 5: // truncate
        b = b.slice(0, r.int(len + 1));
        break;
      case 6: { // append random bytes
        const out = new Uint8Array(len + r.int(32) + 1);
        out.set(b);
        out.set(r.bytes(out.length - len), len);
        b = out;
        break;
      }
      case 7: { // copy a range over another place
        if (len < 2) break;
        const from = r.int(len), to = r.int(len), cnt = r.int(Math.min(len - from, len - to, 32)) + 1;
        b.copyWithin(to, from, from + cnt);
        break;
      }
      case 8: { // splice in a piece of another seed
        const other = r.pick(pool);
        if (!other.length || !len) break;
        const from = r.int(other.length), cnt = Math.min(other.length - from, r.int(64) + 1);
        const at = r.int(len);
        const out = b.slice();
        out.set(other.subarray(from, from + Math.min(cnt, len - at)), at);
        b = out;
        break;
      }
      default: // randomize a short run
        if (len) {
          const at = r.int(len);
          b.set(r.bytes(Math.min(len - at, r.int(8) + 1)), at);
        }
    }
  }
  return b;
}

/** Re-wraps mutated update-metadata payload bytes in a valid Barrage wrapper, so mutations reach deeper. */
function rewrap(wrapper: Uint8Array, r: Rng, pool: readonly Uint8Array[]): Uint8Array {
  const w = BarrageMessageWrapper.getRootAsBarrageMessageWrapper(new flatbuffers.ByteBuffer(wrapper));
  const payload = u8(w.msgPayloadArray()) ?? new Uint8Array(0);
  const b = new flatbuffers.Builder(payload.length + 64);
  const p = BarrageMessageWrapper.createMsgPayloadVector(b, mutate(r, payload, pool));
  BarrageMessageWrapper.startBarrageMessageWrapper(b);
  BarrageMessageWrapper.addMagic(b, w.magic());
  BarrageMessageWrapper.addMsgType(b, BarrageMessageType.BarrageUpdateMetadata);
  BarrageMessageWrapper.addMsgPayload(b, p);
  b.finish(BarrageMessageWrapper.endBarrageMessageWrapper(b));
  return b.asUint8Array().slice();
}

// ------------------------------------------------------------------------------------------------ cases

/** The decoders under test. */
export type Target = "metadata" | "rowset" | "shift" | "batch" | "schema";

/** One generated case: what it feeds to which decoder. */
export interface FuzzCase {
  target: Target;
  /** How the input was made, e.g. `mutated real header + real body`. */
  how: string;
  /** Bytes fed in (all inputs together). */
  inputSize: number;
  /** Runs the decoder. */
  run: () => unknown;
  /**
   * For a valid message built by an encoder: checks the decoded result against the encoder's input, and
   * returns what differs (`undefined` when equal).
   */
  verify?: (decoded: unknown) => string | undefined;
}

// ------------------------------------------------------------------------------------------------ valid cases

/** A random row set: single keys and ranges, small and large keys. */
function randomRowSet(r: Rng): RowSet {
  const ranges: [bigint, bigint][] = [];
  let key = BigInt(r.chance(0.3) ? r.int(1 << 30) : r.int(100));
  for (let n = r.int(10); n > 0; n--) {
    const len = BigInt(r.chance(0.25) ? r.int(100_000) : r.int(3));
    ranges.push([key, key + len]);
    key += len + 2n + BigInt(r.chance(0.2) ? r.int(1 << 30) * (r.chance(0.2) ? 1 << 20 : 1) : r.int(64));
  }
  return key < 2n ** 62n ? RowSet.fromRanges(ranges) : RowSet.EMPTY;
}

/** Random shift data whose windows stay apart after shifting. */
function randomShifts(r: Rng): ShiftData {
  const entries: [number, number, number][] = [];
  let start = r.int(1000), floor = 0;
  for (let n = r.int(5); n > 0; n--) {
    const end = start + r.int(50);
    // Shifted, the window must stay above the previous one and at or above 0.
    const delta = r.chance(0.5) ? r.int(40) + 1 : -r.int(start - floor + 1);
    if (delta !== 0) entries.push([start, end, delta]);
    floor = Math.max(end + 1, end + delta + 1);
    start = floor + r.int(100) + 1;
  }
  try {
    return ShiftData.fromEntries(entries);
  } catch {
    return ShiftData.EMPTY;
  }
}

function sameRowSet(what: string, a: RowSet | undefined, b: RowSet | undefined): string | undefined {
  if (a === undefined || b === undefined) return a === b ? undefined : `${what}: ${a} decoded, ${b} encoded`;
  return a.equals(b) ? undefined : `${what}: ${a.toString(8)} decoded, ${b.toString(8)} encoded`;
}

function randomMetadata(r: Rng): UpdateMetadata {
  const columns = r.int(6);
  return {
    firstSeq: BigInt(r.int(1 << 30)),
    lastSeq: BigInt(r.int(1 << 30)),
    isSnapshot: r.chance(0.5),
    effectiveViewport: r.chance(0.3) ? randomRowSet(r) : undefined,
    effectiveReverseViewport: r.chance(0.3),
    effectiveColumnSet: r.chance(0.3)
      ? [...new Set(Array.from({ length: r.int(8) }, () => r.int(200)))].sort((a, b) => a - b)
      : undefined,
    addedRows: randomRowSet(r),
    removedRows: randomRowSet(r),
    shiftData: randomShifts(r),
    addedRowsIncluded: r.chance(0.3) ? randomRowSet(r) : undefined,
    modifiedRows: Array.from({ length: columns }, () => (r.chance(0.5) ? randomRowSet(r) : RowSet.EMPTY)),
    tableSize: r.chance(0.2) ? -1n : BigInt(r.int(1 << 30)) * BigInt(1 + r.int(1000)),
  };
}

function metadataDiff(d: UpdateMetadata | undefined, m: UpdateMetadata): string | undefined {
  if (!d) return "no update metadata decoded";
  if (d.firstSeq !== m.firstSeq || d.lastSeq !== m.lastSeq) return "sequence numbers differ";
  if (d.isSnapshot !== m.isSnapshot) return "is_snapshot differs";
  if (d.effectiveReverseViewport !== m.effectiveReverseViewport) return "effective_reverse_viewport differs";
  if (d.tableSize !== m.tableSize) return `table_size ${d.tableSize} decoded, ${m.tableSize} encoded`;
  if (JSON.stringify(d.effectiveColumnSet) !== JSON.stringify(m.effectiveColumnSet)) {
    return `effective_column_set ${d.effectiveColumnSet} decoded, ${m.effectiveColumnSet} encoded`;
  }
  if (!d.shiftData.equals(m.shiftData)) return `shift data ${d.shiftData} decoded, ${m.shiftData} encoded`;
  if (d.modifiedRows.length !== m.modifiedRows.length) return "a different number of modified columns";
  return sameRowSet("effective_viewport", d.effectiveViewport, m.effectiveViewport) ??
    sameRowSet("added_rows", d.addedRows, m.addedRows) ??
    sameRowSet("removed_rows", d.removedRows, m.removedRows) ??
    sameRowSet("added_rows_included", d.addedRowsIncluded, m.addedRowsIncluded) ??
    m.modifiedRows.map((rs, i) => sameRowSet(`modified rows of column ${i}`, d.modifiedRows[i], rs)).find((
      x,
    ) => x);
}

const STRINGS = [
  "",
  "a",
  "alpha",
  "\u00fcn\u00ef\u00e7\u00f8d\u00e9 \u2713",
  "\u{1F600} x",
  "tab\tnew\nline",
];

/** Random values of a few column types, nulls included, and the vectors that encode them. */
function randomColumns(r: Rng): { vectors: Record<string, arrow.Vector>; values: Record<string, unknown[]> } {
  const n = r.int(40) + 1;
  const gen = (make: () => unknown) => Array.from({ length: n }, () => (r.chance(0.1) ? null : make()));
  const values: Record<string, unknown[]> = {
    i: gen(() => r.int(2_000_000) - 1_000_000),
    l: gen(() => BigInt.asIntN(64, (BigInt(r.u32()) << 32n) | BigInt(r.u32())) || 1n),
    d: gen(() => (r.chance(0.05) ? NaN : r.chance(0.05) ? -Infinity : (r.u32() - 2 ** 31) / 1024)),
    b: gen(() => r.chance(0.5)),
    s: gen(() => r.pick(STRINGS) + r.int(1000)),
  };
  // Deephaven's null sentinels cannot be values (Long.MIN_VALUE is null).
  values.l = values.l.map((v) => (v === -(2n ** 63n) ? 0n : v));
  const vectors: Record<string, arrow.Vector> = {
    i: arrow.vectorFromArray(values.i, new arrow.Int32()),
    l: arrow.vectorFromArray(values.l, new arrow.Int64()),
    d: arrow.vectorFromArray(values.d, new arrow.Float64()),
    b: arrow.vectorFromArray(values.b, new arrow.Bool()),
    s: arrow.vectorFromArray(values.s, new arrow.Utf8()),
  };
  return { vectors, values };
}

/** The decoded chunks of a record batch against the values encoded, read back through a column store. */
function batchDiff(
  decoded: unknown,
  schema: arrow.Schema,
  values: Record<string, unknown[]>,
): string | undefined {
  const batch = decoded as { length: number; columns: unknown[] };
  const n = values.i.length;
  if (batch.length !== n) return `${batch.length} rows decoded, ${n} encoded`;
  for (const [j, f] of schema.fields.entries()) {
    const store = new ColumnStore(f);
    store.ensureCapacity(n);
    const slots = Int32Array.from({ length: n }, (_, i) => i);
    store.write(batch.columns[j] as never, 0, slots, 0, n);
    for (let i = 0; i < n; i++) {
      const got = store.get(i), want = values[f.name][i];
      if (!Object.is(got, want)) {
        return `column ${f.name}, row ${i}: ${String(got)} decoded, ${String(want)} encoded`;
      }
    }
  }
  return undefined;
}

/**
 * A valid message built by an encoder from the random input of `seed` (the cases `makeCase` mixes in).
 *
 * @param seed Any 32-bit integer.
 * @returns The case; its `verify` compares a decoded result with the encoder's input.
 */
export function makeValidCase(seed: number): FuzzCase {
  return validCase(new Rng(seed));
}

/** A valid message built by an encoder from random input. */
function validCase(r: Rng): FuzzCase {
  switch (r.int(4)) {
    case 0: {
      const rs = randomRowSet(r);
      const input = encodeRowSet(rs);
      return {
        target: "rowset",
        how: "valid (encoded)",
        inputSize: input.length,
        run: () => decodeRowSet(input),
        verify: (d) => sameRowSet("row set", d as RowSet, rs),
      };
    }
    case 1: {
      const sd = randomShifts(r);
      const input = encodeShiftData(sd);
      return {
        target: "shift",
        how: "valid (encoded)",
        inputSize: input.length,
        run: () => decodeShiftData(input),
        verify: (d) => ((d as ShiftData).equals(sd) ? undefined : `${d} decoded, ${sd} encoded`),
      };
    }
    case 2: {
      const m = randomMetadata(r);
      const input = encodeUpdateMetadata(m);
      return {
        target: "metadata",
        how: "valid (encoded)",
        inputSize: input.length,
        run: () => decodeUpdateMetadata(input),
        verify: (d) => metadataDiff(d as UpdateMetadata | undefined, m),
      };
    }
    default: {
      const { vectors, values } = randomColumns(r);
      const { schema, header, body } = encodeRecordBatch(vectors);
      return {
        target: "batch",
        how: "valid (encoded)",
        inputSize: header.length + body.length,
        run: () => decodeRecordBatch(header, body, schema),
        verify: (d) => batchDiff(d, schema, values),
      };
    }
  }
}

/** Builds case `index` of a run with seed `seed`. */
export function makeCase(corpus: Corpus, seed: number, index: number): FuzzCase {
  const r = new Rng(caseSeed(seed, index));
  if (r.chance(0.1)) return validCase(r);
  const random = r.chance(0.2);
  const randomBytes = () => r.bytes(r.chance(0.7) ? r.int(64) : r.int(2048));
  switch (r.int(5)) {
    case 0: {
      const pool = corpus.metadata;
      const input = random
        ? randomBytes()
        : r.chance(0.5)
        ? rewrap(r.pick(pool), r, pool)
        : mutate(r, r.pick(pool), pool);
      return {
        target: "metadata",
        how: random ? "random" : "mutated real",
        inputSize: input.length,
        run: () => decodeUpdateMetadata(input),
      };
    }
    case 1: {
      const pool = corpus.rowSets;
      const input = random ? randomBytes() : mutate(r, r.pick(pool), pool);
      return {
        target: "rowset",
        how: random ? "random" : "mutated",
        inputSize: input.length,
        run: () => decodeRowSet(input),
      };
    }
    case 2: {
      const pool = corpus.shifts.length ? corpus.shifts : corpus.rowSets;
      let input: Uint8Array;
      if (random) input = randomBytes();
      else if (r.chance(0.3)) {
        // Three mutated row sets back to back.
        const parts = [0, 1, 2].map(() => mutate(r, r.pick(corpus.rowSets), corpus.rowSets));
        input = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
        let at = 0;
        for (const p of parts) {
          input.set(p, at);
          at += p.length;
        }
      } else input = mutate(r, r.pick(pool), pool);
      return {
        target: "shift",
        how: random ? "random" : "mutated",
        inputSize: input.length,
        run: () => decodeShiftData(input),
      };
    }
    case 3: {
      const base = r.pick(corpus.batches);
      const headers = corpus.batches.map((b) => b.header);
      const bodies = corpus.batches.map((b) => b.body);
      const schema = r.chance(0.75) ? base.schema : r.pick(corpus.schemas);
      let header = base.header, body = base.body, how: string;
      switch (r.int(5)) {
        case 0:
          header = mutate(r, header, headers);
          how = "mutated header";
          break;
        case 1:
          body = mutate(r, body, bodies);
          how = "mutated body";
          break;
        case 2:
          header = mutate(r, header, headers);
          body = mutate(r, body, bodies);
          how = "mutated header and body";
          break;
        case 3:
          header = randomBytes();
          how = "random header";
          break;
        default:
          body = randomBytes();
          how = "random body";
      }
      if (schema !== base.schema) how += ", another schema";
      const h = header, bd = body;
      return {
        target: "batch",
        how,
        inputSize: h.length + bd.length,
        run: () => decodeRecordBatch(h, bd, schema),
      };
    }
    default: {
      const pool = corpus.schemaHeaders;
      const input = random ? randomBytes() : mutate(r, r.pick(pool), pool);
      return {
        target: "schema",
        how: random ? "random" : "mutated",
        inputSize: input.length,
        run: () => schemaFromFlatbuffer(input),
      };
    }
  }
}

/** Something a case did that it must not. */
export interface Finding {
  /** The case number. */
  index: number;
  /** The seed of the run. */
  seed: number;
  target: Target | "unknown";
  kind: "crash" | "wrong" | "slow" | "alloc" | "hang" | "died";
  /** The input's origin, the error, the time or the memory growth. */
  detail: string;
  inputSize: number;
}

/** How each target's cases ended (`valid`: valid messages decoded to the encoder's input). */
export type Tally = Record<Target, { data: number; error: number; valid: number }>;

function newTally(): Tally {
  const t = {} as Tally;
  for (const k of ["metadata", "rowset", "shift", "batch", "schema"] as Target[]) {
    t[k] = { data: 0, error: 0, valid: 0 };
  }
  return t;
}

function memory(): number {
  const m = Deno.memoryUsage();
  return m.heapUsed + m.external;
}

/** Options of {@linkcode runRange}. */
export interface RangeOptions {
  /** A case slower than this is a finding. Default 500 ms. */
  slowMs?: number;
  /** Only run cases of these targets (the others are skipped and not counted). Default: all. */
  targets?: readonly Target[];
  /** Called before each case (for pinpointing hangs). */
  beforeCase?: (index: number) => void;
  /** Called every 256 cases with the next case number and the tally so far. */
  onProgress?: (next: number, tally: Tally) => void;
  /** Called with each finding as it happens. */
  onFinding?: (finding: Finding) => void;
}

/**
 * Runs cases `[from, from + count)` in this process.
 *
 * @param corpus The seeds.
 * @param seed The run's seed.
 * @param from The first case number.
 * @param count How many cases.
 * @param options Thresholds and callbacks.
 * @returns The findings and how each target's cases ended.
 */
export function runRange(
  corpus: Corpus,
  seed: number,
  from: number,
  count: number,
  options: RangeOptions = {},
): { findings: Finding[]; tally: Tally } {
  const slowMs = options.slowMs ?? 500;
  const findings: Finding[] = [];
  const found = (f: Finding) => {
    findings.push(f);
    options.onFinding?.(f);
  };
  const tally = newTally();
  for (let i = from; i < from + count; i++) {
    options.beforeCase?.(i);
    const c = makeCase(corpus, seed, i);
    if (options.targets && !options.targets.includes(c.target)) {
      if (options.onProgress && ((i - from + 1) & 255) === 0) options.onProgress(i + 1, tally);
      continue;
    }
    const mem0 = memory();
    const t0 = performance.now();
    // The result stays referenced until memory is measured, so what it holds counts.
    const held: unknown[] = [];
    let outcome: "data" | "error" | "crash" = "data";
    let error: unknown;
    let wrong: string | undefined;
    try {
      held.push(c.run());
      if (c.verify) wrong = c.verify(held[0]);
    } catch (e) {
      error = e;
      outcome = e instanceof DeephavenError ? "error" : "crash";
      if (c.verify && outcome === "error") wrong = `refused: ${(e as Error).message}`;
    }
    const ms = performance.now() - t0;
    const grown = memory() - mem0;
    held.length = 0;
    const base = { index: i, seed, target: c.target, inputSize: c.inputSize };
    if (outcome === "crash") {
      const e = error as Error;
      const where = (e?.stack ?? "").split("\n").slice(1, 4).map((l) => l.trim()).join(" < ");
      found({ ...base, kind: "crash", detail: `${c.how}: ${e?.name}: ${e?.message} at ${where}` });
    } else if (wrong !== undefined) {
      found({ ...base, kind: "wrong", detail: `${c.how}: ${wrong}` });
    } else {
      tally[c.target][outcome]++;
      if (c.verify) tally[c.target].valid++;
    }
    if (ms > slowMs) {
      // A pause of the process (garbage collection, a busy machine) can make any case slow once: only a case
      // that is slow again when repeated is a finding.
      let best = ms;
      for (let k = 0; k < 2 && best > slowMs; k++) {
        const t1 = performance.now();
        try {
          c.run();
        } catch {
          // the outcome was recorded above
        }
        best = Math.min(best, performance.now() - t1);
      }
      if (best > slowMs) found({ ...base, kind: "slow", detail: `${c.how}: ${Math.round(best)} ms` });
    }
    if (grown > 64 * 2 ** 20 + 256 * c.inputSize) {
      found({
        ...base,
        kind: "alloc",
        detail: `${c.how}: memory grew by ${Math.round(grown / 2 ** 20)} MiB`,
      });
    }
    if (options.onProgress && ((i - from + 1) & 255) === 0) options.onProgress(i + 1, tally);
  }
  return { findings, tally };
}

// ------------------------------------------------------------------------------------------------ supervisor

/** Options of {@linkcode fuzz}. */
export interface FuzzOptions {
  /** The run's seed. */
  seed: number;
  /** Number of cases. */
  cases: number;
  /** The first case number. Default 0. */
  from?: number;
  /** Cases per child process. Default 50,000. */
  chunk?: number;
  /** A child that reports nothing for this long is killed and its case reported as a hang. Default 20 s. */
  stallMs?: number;
  /** Slow-case threshold in the child. Default 500 ms. */
  slowMs?: number;
  /** Stop starting new chunks after this many milliseconds. Default: no limit. */
  timeLimitMs?: number;
  /** Only these decoders. Default: all. */
  targets?: readonly Target[];
  /** Called after each chunk with the number of cases done. */
  onChunk?: (done: number, findings: number) => void;
}

/** What a fuzz run did. */
export interface FuzzSummary {
  seed: number;
  /** Cases run. */
  cases: number;
  findings: Finding[];
  tally: Tally;
  ms: number;
}

const SELF = new URL(import.meta.url).pathname;

interface ChildOutcome {
  /** The next case number the child had not finished. */
  next: number;
  findings: Finding[];
  /** The tally of a child that finished. */
  tally: Tally | undefined;
  /** The last tally a child reported, and the case number it counts up to. */
  partial: { next: number; tally: Tally } | undefined;
  /** Why the child ended early, with the case it was on. */
  ended?: { kind: "hang" | "died"; index: number; detail: string };
}

/** Runs one chunk of cases in a child process and watches it. */
async function runChild(
  seed: number,
  from: number,
  count: number,
  each: boolean,
  stallMs: number,
  slowMs: number,
  targets: readonly Target[] | undefined,
): Promise<ChildOutcome> {
  const args = [
    "run",
    "--allow-read",
    "--v8-flags=--max-old-space-size=4096",
    SELF,
    "--child",
    `--seed=${seed}`,
    `--from=${from}`,
    `--cases=${count}`,
    `--slow-ms=${slowMs}`,
  ];
  if (each) args.push("--each");
  if (targets) args.push(`--targets=${targets.join(",")}`);
  const child = new Deno.Command(Deno.execPath(), { args, stdout: "piped", stderr: "piped", stdin: "null" })
    .spawn();
  const out: ChildOutcome = { next: from, findings: [], tally: undefined, partial: undefined };
  let stalled = false;
  let timer: ReturnType<typeof setTimeout> | undefined;
  const arm = () => {
    clearTimeout(timer);
    timer = setTimeout(() => {
      stalled = true;
      try {
        child.kill("SIGKILL");
      } catch {
        // already gone
      }
    }, stallMs);
  };
  arm();
  const stderr = new Response(child.stderr).text();
  const decoder = new TextDecoder();
  let partial = "";
  for await (const chunk of child.stdout) {
    arm();
    partial += decoder.decode(chunk, { stream: true });
    let nl: number;
    while ((nl = partial.indexOf("\n")) >= 0) {
      const line = partial.slice(0, nl);
      partial = partial.slice(nl + 1);
      if (line.startsWith("P ")) out.next = Number(line.slice(2));
      else if (line.startsWith("T ")) {
        const sp = line.indexOf(" ", 2);
        out.next = Number(line.slice(2, sp));
        out.partial = { next: out.next, tally: JSON.parse(line.slice(sp + 1)) };
      } else if (line.startsWith("F ")) out.findings.push(JSON.parse(line.slice(2)));
      else if (line.startsWith("D ")) out.tally = JSON.parse(line.slice(2));
    }
  }
  const status = await child.status;
  clearTimeout(timer);
  const err = (await stderr).trim().split("\n").slice(-3).join(" | ");
  if (out.tally === undefined) {
    out.ended = stalled
      ? { kind: "hang", index: out.next, detail: `no progress for ${stallMs} ms` }
      : { kind: "died", index: out.next, detail: `exit code ${status.code}${err ? `: ${err}` : ""}` };
  }
  return out;
}

function addTally(into: Tally, t: Tally): void {
  for (const k of Object.keys(into) as Target[]) {
    into[k].data += t[k].data;
    into[k].error += t[k].error;
    into[k].valid += t[k].valid ?? 0;
  }
}

/**
 * Runs a fuzz campaign in child processes: hangs and crashes of the process are found and reported with
 * their case number, and the run goes on after them.
 *
 * @param options Seed, number of cases, chunking and limits.
 * @returns The summary.
 */
export async function fuzz(options: FuzzOptions): Promise<FuzzSummary> {
  const started = performance.now();
  const chunk = options.chunk ?? 50_000;
  const stallMs = options.stallMs ?? 20_000;
  const slowMs = options.slowMs ?? 500;
  const from = options.from ?? 0;
  const end = from + options.cases;
  const findings: Finding[] = [];
  const tally = newTally();
  let next = from;
  while (next < end) {
    if (options.timeLimitMs !== undefined && performance.now() - started > options.timeLimitMs) break;
    const count = Math.min(chunk, end - next);
    const r = await runChild(options.seed, next, count, false, stallMs, slowMs, options.targets);
    findings.push(...r.findings);
    if (r.tally) {
      addTally(tally, r.tally);
      next += count;
    } else {
      // The child hung or died: keep the tally it reported, run the block it was in case by case to find the
      // case, then go on after it.
      const done = r.partial?.next ?? next;
      if (r.partial) addTally(tally, r.partial.tally);
      const blockEnd = Math.min(done + 256, next + count);
      let at = done;
      while (at < blockEnd) {
        const p = await runChild(options.seed, at, blockEnd - at, true, stallMs, slowMs, options.targets);
        findings.push(...p.findings);
        if (p.tally) {
          addTally(tally, p.tally);
          at = blockEnd;
        } else {
          if (p.partial) addTally(tally, p.partial.tally);
          const e = p.ended!;
          findings.push({
            index: e.index,
            seed: options.seed,
            target: "unknown",
            kind: e.kind,
            detail: e.detail,
            inputSize: 0,
          });
          at = e.index + 1;
        }
      }
      next = blockEnd;
    }
    options.onChunk?.(next - from, findings.length);
  }
  // A block that was re-run case by case reports its findings twice.
  const unique = [...new Map(findings.map((f) => [`${f.index}:${f.kind}`, f])).values()];
  unique.sort((a, b) => a.index - b.index);
  return {
    seed: options.seed,
    cases: next - from,
    findings: unique,
    tally,
    ms: Math.round(performance.now() - started),
  };
}

// ------------------------------------------------------------------------------------------------ CLI

function childMain(
  seed: number,
  from: number,
  count: number,
  each: boolean,
  slowMs: number,
  targets: readonly Target[] | undefined,
): void {
  const corpus = loadCorpus();
  const enc = new TextEncoder();
  const write = (line: string) => {
    const b = enc.encode(line + "\n");
    let off = 0;
    while (off < b.length) off += Deno.stdout.writeSync(b.subarray(off));
  };
  const { tally } = runRange(corpus, seed, from, count, {
    slowMs,
    targets,
    beforeCase: each ? (i) => write(`P ${i}`) : undefined,
    onProgress: (n, t) => write(`T ${n} ${JSON.stringify(t)}`),
    onFinding: (f) => write(`F ${JSON.stringify(f)}`),
  });
  write(`P ${from + count}`);
  write(`D ${JSON.stringify(tally)}`);
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    args: Deno.args,
    options: {
      cases: { type: "string", default: "1000000" },
      seed: { type: "string" },
      from: { type: "string", default: "0" },
      chunk: { type: "string", default: "50000" },
      minutes: { type: "string" },
      "slow-ms": { type: "string", default: "500" },
      "stall-ms": { type: "string", default: "20000" },
      child: { type: "boolean", default: false },
      each: { type: "boolean", default: false },
      verbose: { type: "boolean", default: false },
      targets: { type: "string" },
    },
    strict: true,
  });
  const seed = values.seed !== undefined ? Number(values.seed) >>> 0 : Date.now() >>> 0;
  const cases = Number(values.cases), from = Number(values.from);
  const targets = values.targets ? values.targets.split(",") as Target[] : undefined;
  if (values.child) {
    childMain(seed, from, cases, values.each, Number(values["slow-ms"]), targets);
    return;
  }
  if (values.verbose) {
    const corpus = loadCorpus();
    for (let i = from; i < from + cases; i++) {
      const c = makeCase(corpus, seed, i);
      if (targets && !targets.includes(c.target)) continue;
      console.log(`case ${i} (${c.target}, ${c.how}, ${c.inputSize} bytes) ...`);
      let outcome: string;
      try {
        c.run();
        outcome = "data";
      } catch (e) {
        outcome = `${e instanceof DeephavenError ? "DeephavenError" : "OTHER"}: ${(e as Error).message}`;
      }
      console.log(`case ${i} (${c.target}, ${c.how}, ${c.inputSize} bytes): ${outcome}`);
    }
    return;
  }
  console.log(`fuzz: seed ${seed}, ${cases} cases from ${from}`);
  const summary = await fuzz({
    seed,
    cases,
    from,
    chunk: Number(values.chunk),
    stallMs: Number(values["stall-ms"]),
    slowMs: Number(values["slow-ms"]),
    timeLimitMs: values.minutes !== undefined ? Number(values.minutes) * 60_000 : undefined,
    targets,
    onChunk: (done, n) => console.log(`fuzz: ${done} cases, ${n} findings`),
  });
  for (const f of summary.findings) {
    console.log(`finding: case ${f.index} seed ${f.seed} ${f.target} ${f.kind}: ${f.detail}`);
  }
  for (const [t, v] of Object.entries(summary.tally)) {
    console.log(
      `fuzz: ${t}: ${v.data} decoded (${v.valid} valid messages equal to their input), ${v.error} DeephavenError`,
    );
  }
  const crashes = summary.findings.length;
  console.log(
    `fuzz: ${summary.cases} cases, ${crashes} crashes (findings), seed ${seed}, ${
      Math.round(summary.ms / 1000)
    } s`,
  );
  if (crashes > 0) Deno.exitCode = 1;
}

if (import.meta.main) await main();
