import assert from "node:assert/strict";
import { Buffer } from "node:buffer";
import { StreamDecoder } from "@grpc/grpc-js/build/src/stream-decoder.js";
import {
  decoderWrite,
  flightBodyOffset,
  LARGE_MESSAGE_BYTES,
  originalDecoderWrite,
} from "./stream_decoder.ts";
import { mulberry32 } from "../../testing/prng.ts";

function varint(n: number): number[] {
  const out: number[] = [];
  while (n >= 0x80) {
    out.push((n & 0x7f) | 0x80);
    n = Math.floor(n / 128);
  }
  out.push(n);
  return out;
}

/** A FlightData message: header (2), app metadata (3) and body (1000) of the given sizes. */
function flightData(header: number, meta: number, body: number, fill: number): Uint8Array {
  const parts: number[] = [];
  if (header) parts.push(0x12, ...varint(header), ...new Array(header).fill(fill));
  if (meta) parts.push(0x1a, ...varint(meta), ...new Array(meta).fill(fill + 1));
  parts.push(0xc2, 0x3e, ...varint(body));
  const out = new Uint8Array(parts.length + body);
  out.set(parts);
  for (let i = 0; i < body; i++) out[parts.length + i] = (i * 31 + fill) & 0xff;
  return out;
}

function frame(message: Uint8Array): Uint8Array {
  const out = new Uint8Array(5 + message.length);
  new DataView(out.buffer).setUint32(1, message.length);
  out.set(message, 5);
  return out;
}

function decodeAll(write: (d: Buffer) => Buffer[], stream: Uint8Array, cuts: number[]): Buffer[] {
  const decoder = new StreamDecoder(-1) as unknown as { write: (d: Buffer) => Buffer[] };
  const out: Buffer[] = [];
  let at = 0;
  for (const c of [...cuts, stream.length]) {
    out.push(...write.call(decoder, Buffer.from(stream.subarray(at, c))));
    at = c;
  }
  return out;
}

Deno.test("large and small messages come out as grpc-js frames them, under any cut of the stream", () => {
  const random = mulberry32(20261122);
  for (let round = 0; round < 40; round++) {
    const messages: Uint8Array[] = [];
    const n = 1 + Math.floor(random() * 5);
    for (let i = 0; i < n; i++) {
      const kind = random();
      messages.push(
        kind < 0.2
          ? new Uint8Array(0)
          : kind < 0.5
          ? flightData(Math.floor(random() * 300), Math.floor(random() * 40), Math.floor(random() * 2000), i)
          : flightData(
            1 + Math.floor(random() * 900),
            Math.floor(random() * 90),
            LARGE_MESSAGE_BYTES + Math.floor(random() * 300_000),
            i,
          ),
      );
    }
    const stream = new Uint8Array(messages.reduce((a, m) => a + 5 + m.length, 0));
    let at = 0;
    for (const m of messages) {
      stream.set(frame(m), at);
      at += 5 + m.length;
    }
    const cuts = new Set<number>();
    const k = Math.floor(random() * 30);
    for (let i = 0; i < k; i++) cuts.add(1 + Math.floor(random() * (stream.length - 1)));
    if (round % 5 === 0) { for (let i = 1; i < Math.min(stream.length, 40); i++) cuts.add(i); // byte by byte
     }
    const sorted = [...cuts].sort((a, b) => a - b);
    const ours = decodeAll(decoderWrite as (d: Buffer) => Buffer[], stream, sorted);
    const theirs = decodeAll(originalDecoderWrite, stream, sorted);
    assert.equal(ours.length, messages.length);
    assert.equal(theirs.length, messages.length);
    for (let i = 0; i < ours.length; i++) {
      assert.deepEqual(new Uint8Array(ours[i]), new Uint8Array(theirs[i]), `round ${round} message ${i}`);
      const m = ours[i].subarray(5);
      const body = flightBodyOffset(m);
      if (m.length >= LARGE_MESSAGE_BYTES && body !== undefined && sorted[0] === undefined) {
        assert.equal((m.byteOffset + body) % 8, 0, "a large Flight body starts 8-aligned");
      }
    }
  }
});

Deno.test("a large Flight body is 8-aligned when the first piece holds the fields before it", () => {
  for (let header = 1; header < 24; header++) {
    const m = flightData(header, 7, LARGE_MESSAGE_BYTES + 100, 3);
    const f = frame(m);
    const cut = 5 + 64; // the first piece ends inside the body
    const [out] = decodeAll(decoderWrite as (d: Buffer) => Buffer[], f, [cut]);
    const body = flightBodyOffset(out.subarray(5))!;
    assert.equal((out.byteOffset + 5 + body) % 8, 0, `header ${header}`);
    assert.deepEqual(new Uint8Array(out), f);
  }
});

Deno.test("a message above the receive limit is refused like grpc-js does", () => {
  const decoder = new StreamDecoder(10) as unknown as { write: (d: Buffer) => Buffer[] };
  const f = frame(new Uint8Array(11));
  assert.throws(() => decoderWrite.call(decoder as never, Buffer.from(f)), /larger than max \(11 vs 10\)/);
});

Deno.test("flightBodyOffset skips descriptor, varint and fixed fields, and gives up on cut or odd input", () => {
  const m = new Uint8Array([
    0x0a,
    2,
    0,
    0,
    0x20,
    0x96,
    0x01,
    0x29,
    1,
    2,
    3,
    4,
    5,
    6,
    7,
    8,
    0xc2,
    0x3e,
    1,
    42,
  ]);
  assert.equal(flightBodyOffset(m), 19);
  assert.equal(flightBodyOffset(m.subarray(0, 17)), undefined, "tag cut off");
  assert.equal(flightBodyOffset(new Uint8Array([0x0b])), undefined, "group wire type");
  assert.equal(flightBodyOffset(new Uint8Array(0)), undefined);
});
