/**
 * The Barrage decoders against real and damaged input: messages recorded from a Deephaven server
 * (`testing/fixtures/barrage_messages.json`) decode to the right values, a few thousand seeded fuzz cases
 * (`testing/fuzz.ts`, random bytes and mutated recorded messages) each end in data or a DeephavenError within
 * a time bound, and the damage the fuzzer found once (huge vector lengths, 64-bit lengths, cyclic schema
 * fields, huge decimal scales, huge lengths of columns without buffers) is refused or handled cheaply.
 */

import assert from "node:assert/strict";
import * as flatbuffers from "../deps/flatbuffers.ts";
import { DeephavenError, GrpcCode } from "../errors.ts";
import { decodeUpdateMetadata } from "./messages.ts";
import { decimalText, decodeRecordBatch } from "./record_batch.ts";
import { schemaFromFlatbuffer } from "../arrow/ipc.ts";
import { decimalToBytes } from "../table/to_arrow.ts";
import { Utf8Chunk } from "../table/utf8.ts";
import { loadRecordedStreams, type RecordedStream } from "../../testing/fixtures/recorded.ts";
import { fuzz, type FuzzCase, makeValidCase } from "../../testing/fuzz.ts";
import * as arrow from "../deps/apache_arrow.ts";

const { streams } = loadRecordedStreams();

function stream(name: string): RecordedStream {
  const s = streams.find((x) => x.name === name);
  assert.ok(s, `the fixture has a stream named ${name}`);
  return s;
}

/** The first record batch of a stream (its snapshot), decoded. */
function snapshotColumns(s: RecordedStream): { schema: arrow.Schema; columns: unknown[][] } {
  const schema = schemaFromFlatbuffer(s.messages[0].dataHeader);
  const m = s.messages[1];
  const batch = decodeRecordBatch(m.dataHeader, m.dataBody, schema);
  return {
    schema,
    columns: batch.columns.map((c) =>
      c instanceof Utf8Chunk ? c.toArray() : Array.from(c as ArrayLike<unknown>)
    ),
  };
}

Deno.test("recorded messages: every stream's schema, metadata and record batches decode", () => {
  assert.ok(streams.length >= 8);
  for (const s of streams) {
    const schema = schemaFromFlatbuffer(s.messages[0].dataHeader);
    assert.ok(schema.fields.length > 0, `${s.name}: the schema has columns`);
    let updates = 0;
    for (const m of s.messages.slice(1)) {
      if (m.appMetadata.length > 0) {
        const meta = decodeUpdateMetadata(m.appMetadata);
        assert.ok(meta, `${s.name}: update metadata`);
        assert.equal(meta.modifiedRows.length, schema.fields.length, `${s.name}: one mod entry per column`);
        updates++;
      }
      if (m.dataHeader.length > 0) {
        const b = decodeRecordBatch(m.dataHeader, m.dataBody, schema);
        assert.equal(b.columns.length, schema.fields.length);
      }
    }
    assert.ok(updates >= 1, `${s.name}: at least one update`);
  }
});

Deno.test("recorded messages: the types table decodes to the server's values in both null modes", () => {
  const dh = snapshotColumns(stream("types-dh-nulls"));
  const ar = snapshotColumns(stream("types-arrow-nulls"));
  const names = dh.schema.fields.map((f) => f.name);
  assert.deepEqual(names, ar.schema.fields.map((f) => f.name));
  const col = (n: string) => dh.columns[names.indexOf(n)];
  // In = i * 100000 - 7, row 5 null (the int sentinel).
  assert.deepEqual(col("In"), [-7, 99993, 199993, 299993, 399993, -2147483648, 599993]);
  assert.deepEqual(col("Lg")[3], 29999999997n);
  assert.deepEqual(col("St"), [
    "str0 \u2713",
    "str1 \u2713",
    "str2 \u2713",
    "str3 \u2713",
    "str4 \u2713",
    null,
    "str6 \u2713",
  ]);
  assert.deepEqual(col("Bd")[0], "-24691.3578");
  assert.deepEqual(col("Bi")[4], 246913578024691357802469135780n);
  assert.deepEqual(col("IA")[2], [2, 3, null]);
  // Validity bitmaps (Arrow nulls) decode to the same stored values as Deephaven's null sentinels.
  for (const [i, n] of names.entries()) {
    assert.deepEqual(ar.columns[i], dh.columns[i], `column ${n} is the same in both null modes`);
  }
});

Deno.test("recorded messages: an append-only stream adds consecutive rows", () => {
  const s = stream("append");
  const schema = schemaFromFlatbuffer(s.messages[0].dataHeader);
  const x = schema.fields.findIndex((f) => f.name === "X");
  let next: bigint | undefined;
  for (const m of s.messages.slice(1)) {
    const meta = decodeUpdateMetadata(m.appMetadata)!;
    const b = decodeRecordBatch(m.dataHeader, m.dataBody, schema);
    assert.equal(b.length, meta.addedRows.size);
    const xs = Array.from(b.columns[x] as BigInt64Array);
    next ??= xs[0];
    for (const v of xs) assert.equal(v, next++);
  }
});

Deno.test("fuzz: 4,000 seeded cases each end in data or a DeephavenError, within time and memory bounds", async () => {
  const summary = await fuzz({ seed: 20261122, cases: 4000, chunk: 4000, stallMs: 30_000 });
  assert.deepEqual(summary.findings, [], "no crash, hang, slow case or large allocation");
  assert.equal(summary.cases, 4000);
  let total = 0, decoded = 0;
  for (const t of Object.values(summary.tally)) {
    total += t.data + t.error;
    decoded += t.data;
  }
  assert.equal(total, 4000, "every case was counted");
  assert.ok(decoded > 200, `a fair share of the damaged inputs still decode (${decoded})`);
});

Deno.test("fuzz: valid messages from the encoders decode to exactly their input, and a wrong result is caught", () => {
  const byTarget = new Map<string, { c: FuzzCase; decoded: unknown }[]>();
  for (let seed = 1; seed <= 800; seed++) {
    const c = makeValidCase(seed);
    const decoded = c.run();
    assert.equal(c.verify!(decoded), undefined, `case ${seed} (${c.target}) decodes to its input`);
    byTarget.set(c.target, [...(byTarget.get(c.target) ?? []), { c, decoded }]);
  }
  assert.deepEqual([...byTarget.keys()].sort(), ["batch", "metadata", "rowset", "shift"]);
  // The check is not blind: another case's result (of the same decoder) is found different.
  for (const [target, cases] of byTarget) {
    let caught = 0, pairs = 0;
    for (let i = 1; i < cases.length; i++) {
      pairs++;
      if (cases[i].c.verify!(cases[i - 1].decoded) !== undefined) caught++;
    }
    assert.ok(caught >= pairs * 0.5, `${target}: ${caught} of ${pairs} wrong results caught`);
  }
});

// ---- the damage the fuzzer found, as fixed inputs

/** Positions inside an Arrow Message flatbuffer. */
class Fb {
  readonly bb: flatbuffers.ByteBuffer;
  constructor(readonly bytes: Uint8Array) {
    this.bb = new flatbuffers.ByteBuffer(bytes);
  }
  get root(): number {
    return this.bb.readInt32(0);
  }
  /** The position of field `slot` of the table at `table` (0 when absent). */
  field(table: number, slot: number): number {
    const o = this.bb.__offset(table, 4 + 2 * slot);
    return o ? table + o : 0;
  }
  /** Follows the offset stored at `at`. */
  deref(at: number): number {
    return at + this.bb.readInt32(at);
  }
  /** The Message's header table (slot 2). */
  get header(): number {
    return this.deref(this.field(this.root, 2));
  }
}

function isDataLoss(e: unknown): boolean {
  return e instanceof DeephavenError && e.code === GrpcCode.DATA_LOSS;
}

function batchOf(name: string): { schema: arrow.Schema; header: Uint8Array; body: Uint8Array } {
  const s = stream(name);
  return {
    schema: schemaFromFlatbuffer(s.messages[0].dataHeader),
    header: s.messages[1].dataHeader.slice(),
    body: s.messages[1].dataBody,
  };
}

Deno.test("damage: a record batch claiming 2^31 - 1 field nodes is refused at once", () => {
  const { schema, header, body } = batchOf("append");
  const fb = new Fb(header);
  const nodes = fb.deref(fb.field(fb.header, 1));
  fb.bb.writeInt32(nodes, 0x7fffffff);
  const t0 = performance.now();
  assert.throws(() => decodeRecordBatch(header, body, schema), isDataLoss);
  assert.ok(performance.now() - t0 < 100, "refused without walking the vector");
});

Deno.test("damage: a 64-bit buffer offset beyond 2^53 is a DeephavenError, not apache-arrow's TypeError", () => {
  const { schema, header, body } = batchOf("append");
  const fb = new Fb(header);
  const buffers = fb.deref(fb.field(fb.header, 2));
  fb.bb.writeInt64(buffers + 4, 1n << 60n); // the first buffer's offset
  assert.throws(() => decodeRecordBatch(header, body, schema), isDataLoss);
});

Deno.test("damage: update metadata claiming millions of modified columns is refused at once", () => {
  // Build a wrapper whose payload's mod_column_nodes vector claims 2^24 entries.
  const meta = stream("last-by-modifies").messages[2].appMetadata;
  const w = new Fb(meta);
  const payloadVec = w.deref(w.field(w.root, 2));
  const payload = meta.slice(payloadVec + 4, payloadVec + 4 + w.bb.readInt32(payloadVec));
  const p = new Fb(payload);
  const mods = p.deref(p.field(p.root, 10));
  p.bb.writeInt32(mods, 1 << 24);
  const wrapped = meta.slice();
  wrapped.set(payload, payloadVec + 4);
  const t0 = performance.now();
  assert.throws(() => decodeUpdateMetadata(wrapped), isDataLoss);
  assert.ok(performance.now() - t0 < 100, "refused without walking the vector");
});

Deno.test("damage: a schema whose field lists itself as its child is refused, not recursed into", () => {
  const header = stream("append").messages[0].dataHeader.slice();
  const fb = new Fb(header);
  const fields = fb.deref(fb.field(fb.header, 1));
  const first = fb.deref(fields + 4);
  const children = fb.field(first, 5);
  assert.ok(children, "the first field has a children vector (empty)");
  // Point the children vector at the schema's fields vector: every field becomes a child of itself.
  fb.bb.writeInt32(children, fields - children);
  assert.throws(() => schemaFromFlatbuffer(header), isDataLoss);
});

Deno.test("damage: a BigDecimal scale of -2^31 gives exponent text that converts back", () => {
  assert.equal(decimalText(1234n, -(2 ** 31)), "1234E+2147483648");
  assert.equal(decimalText(-5n, 2000), "-5E-2000");
  assert.equal(decimalText(1234n, 2), "12.34");
  const bytes = decimalToBytes("1234E+5000");
  assert.equal(new DataView(bytes.buffer).getInt32(0, true), -5000);
  assert.deepEqual(Array.from(bytes.subarray(4)), [0x04, 0xd2]);
});

Deno.test("damage: a huge column of a type without buffers decodes without allocating it", () => {
  // A batch of two columns, Null and Int32, whose Null column claims 2^31 - 1 rows.
  const schema = new arrow.Schema([
    new arrow.Field("n", new arrow.Null(), true),
    new arrow.Field("i", new arrow.Int32(), true),
  ]);
  const { header, body } = batchOf("append");
  const fb = new Fb(header);
  const nodes = fb.deref(fb.field(fb.header, 1));
  fb.bb.writeInt64(nodes + 4, 0x7fffffffn); // node 0 length
  const before = Deno.memoryUsage();
  const b = decodeRecordBatch(header, body, schema);
  const grown = Deno.memoryUsage().heapUsed - before.heapUsed;
  assert.equal(b.columns[0].length, 0x7fffffff);
  assert.equal((b.columns[0] as unknown[])[12345], undefined, "reads as null");
  assert.ok(grown < 64 * 2 ** 20, `no gigabyte of nulls (${grown} bytes)`);
});
