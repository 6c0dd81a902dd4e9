import assert from "node:assert/strict";
import {
  Field,
  Float64,
  Int32,
  Int64,
  makeTable,
  Message,
  MessageHeader,
  Schema,
  Table,
  tableFromIPC,
  tableToIPC,
  TimestampNanosecond,
  Utf8,
  vectorFromArray,
} from "../deps/apache_arrow.ts";
import { DeephavenError, GrpcCode } from "../errors.ts";
import {
  flightToIpcChunks,
  ipcToFlight,
  schemaFromFlatbuffer,
  schemaFromHeader,
  tableFromFlight,
} from "./ipc.ts";
import { assertArrowEqual } from "../../testing/compare.ts";

function concat(chunks: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(chunks.reduce((n, c) => n + c.length, 0));
  let off = 0;
  for (const c of chunks) {
    out.set(c, off);
    off += c.length;
  }
  return out;
}

function sample(): Table {
  return new Table({
    I: vectorFromArray([1, null, 3, -4], new Int32()),
    L: vectorFromArray([1n, 2n ** 62n, null, -(2n ** 63n) + 1n], new Int64()),
    D: vectorFromArray([0.5, Number.NaN, null, -1e300], new Float64()),
    S: vectorFromArray(["a", null, "ünï", ""], new Utf8()),
    T: vectorFromArray([0, 1_700_000_000_123, null, -1], new TimestampNanosecond()),
  });
}

/** Two record batches in one table. */
function twoBatches(): Table {
  const a = makeTable({ X: Int32Array.from([1, 2, 3]) });
  const b = makeTable({ X: Int32Array.from([4, 5]) });
  return a.concat(b);
}

Deno.test("ipcToFlight splits an IPC stream into a schema message and record batches", () => {
  const t = twoBatches();
  assert.equal(t.batches.length, 2);
  const payloads = ipcToFlight(tableToIPC(t, "stream"));
  assert.equal(payloads.length, 3);
  const kinds = payloads.map((p) => Message.decode(p.dataHeader).headerType);
  assert.deepEqual(kinds, [MessageHeader.Schema, MessageHeader.RecordBatch, MessageHeader.RecordBatch]);
  assert.equal(payloads[0].dataBody.length, 0, "a schema message has no body");
  for (const p of payloads.slice(1)) {
    assert.equal(p.dataBody.length, Number(Message.decode(p.dataHeader).bodyLength));
    assert.equal(p.dataBody.length % 8, 0, "bodies are 8-byte aligned");
  }
});

Deno.test("ipcToFlight -> flightToIpcChunks -> tableFromIPC round trips every value", () => {
  for (const t of [sample(), twoBatches()]) {
    const payloads = ipcToFlight(tableToIPC(t, "stream"));
    const back = tableFromIPC(concat(flightToIpcChunks(payloads)));
    assertArrowEqual(back, t, "round trip");
    assertArrowEqual(tableFromFlight(payloads), t, "tableFromFlight");
  }
});

Deno.test("flightToIpcChunks pads headers to 8 bytes, skips metadata-only messages and ends the stream", () => {
  const payloads = ipcToFlight(tableToIPC(sample(), "stream"));
  const withEmpty = [
    { dataHeader: new Uint8Array(0), dataBody: new Uint8Array(0) }, // e.g. a descriptor-only message
    ...payloads,
  ];
  const chunks = flightToIpcChunks(withEmpty);
  const first = new DataView(chunks[0].buffer, chunks[0].byteOffset, chunks[0].byteLength);
  assert.equal(first.getUint32(0, true), 0xffffffff, "continuation marker");
  assert.equal(first.getInt32(4, true) % 8, 0, "padded header length");
  assert.deepEqual(chunks[chunks.length - 1], Uint8Array.from([0xff, 0xff, 0xff, 0xff, 0, 0, 0, 0]));
  assertArrowEqual(tableFromIPC(concat(chunks)), sample(), "with an empty message first");
});

Deno.test("a schema-only stream (an empty table) round trips", () => {
  const empty = new Table(new Schema([new Field("X", new Int64(), true)]));
  const payloads = ipcToFlight(tableToIPC(empty, "stream"));
  assert.ok(payloads.length >= 1);
  const back = tableFromFlight(payloads);
  assert.equal(back.numRows, 0);
  assert.deepEqual(back.schema.fields.map((f) => [f.name, String(f.type)]), [["X", "Int64"]]);
});

Deno.test("schemaFromHeader reads an IPC-encapsulated schema, with or without the continuation marker", () => {
  const t = sample();
  const schemaMsg = ipcToFlight(tableToIPC(t, "stream"))[0].dataHeader;
  const withMarker = new Uint8Array(8 + schemaMsg.length);
  new DataView(withMarker.buffer).setUint32(0, 0xffffffff, true);
  new DataView(withMarker.buffer).setInt32(4, schemaMsg.length, true);
  withMarker.set(schemaMsg, 8);
  const legacy = new Uint8Array(4 + schemaMsg.length);
  new DataView(legacy.buffer).setInt32(0, schemaMsg.length, true);
  legacy.set(schemaMsg, 4);
  for (const bytes of [withMarker, legacy]) {
    const s = schemaFromHeader(bytes);
    assert.deepEqual(s.fields.map((f) => f.name), ["I", "L", "D", "S", "T"]);
    assert.deepEqual(s.fields.map((f) => String(f.type)), t.schema.fields.map((f) => String(f.type)));
  }
  assert.deepEqual(schemaFromFlatbuffer(schemaMsg).fields.map((f) => f.name), ["I", "L", "D", "S", "T"]);
});

Deno.test("malformed schema headers and batches are DATA_LOSS DeephavenErrors", () => {
  const isDataLoss = (e: unknown) => {
    assert.ok(e instanceof DeephavenError);
    assert.equal(e.code, GrpcCode.DATA_LOSS);
    assert.match(e.message, /^Malformed Arrow data from the server/);
    return true;
  };
  assert.throws(() => schemaFromHeader(new Uint8Array(3)), isDataLoss);
  assert.throws(
    () => schemaFromHeader(Uint8Array.from([0xff, 0xff, 0xff, 0xff, 100, 0, 0, 0, 1, 2])),
    isDataLoss,
  );
  const batch = ipcToFlight(tableToIPC(sample(), "stream"))[1].dataHeader;
  assert.throws(() => schemaFromFlatbuffer(batch), isDataLoss, "a record batch is not a schema");
});
