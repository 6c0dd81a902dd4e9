import assert from "node:assert/strict";
import { create, fromBinary, toBinary } from "@bufbuild/protobuf";
import { alignFlightBody, MIN_ALIGN_BYTES } from "./align.ts";
import { rpc } from "./rpc.ts";
import { FlightDataSchema, FlightService } from "../generated/proto/arrow/flight/protocol/flight_pb.ts";

function pattern(n: number, seed: number): Uint8Array {
  const out = new Uint8Array(n);
  for (let i = 0; i < n; i++) out[i] = (i * 31 + seed) & 0xff;
  return out;
}

/** A grpc-js style frame: a buffer of its own holding a 5-byte prefix and then the message. */
function frameOf(message: Uint8Array): Uint8Array {
  const buf = new ArrayBuffer(message.length + 5);
  const frame = new Uint8Array(buf, 5);
  frame.set(message);
  return frame;
}

function encoded(header: number, meta: number, body: number): Uint8Array {
  return toBinary(
    FlightDataSchema,
    create(FlightDataSchema, {
      dataHeader: pattern(header, 1),
      appMetadata: pattern(meta, 2),
      dataBody: pattern(body, 3),
    }),
  );
}

Deno.test("FlightData bodies come out of rpc() 8-byte aligned with the same bytes", () => {
  const spec = rpc(FlightService.method.doGet);
  let moved = 0;
  for (let header = 100; header < 116; header++) {
    for (const meta of [0, 1, 5, 150]) {
      const bytes = encoded(header, meta, 3 * MIN_ALIGN_BYTES + header);
      const expected = fromBinary(FlightDataSchema, bytes);
      const frame = frameOf(bytes);
      const got = spec.deserialize(frame);
      assert.equal(got.dataBody.byteOffset % 8, 0);
      assert.deepEqual(got.dataBody, expected.dataBody);
      assert.deepEqual(got.dataHeader, expected.dataHeader);
      assert.deepEqual(got.appMetadata, expected.appMetadata);
      if (got.dataBody.buffer === frame.buffer) moved++;
    }
  }
  assert.ok(moved > 0, "large bodies stay in their frame's buffer");
});

Deno.test("alignFlightBody leaves buffers it does not own alone", () => {
  const bytes = encoded(101, 7, 2 * MIN_ALIGN_BYTES);
  // A view in the middle of a larger buffer (e.g. a shared pool): not moved, not written.
  const shared = new Uint8Array(bytes.length + 64);
  shared.set(bytes, 5);
  const frame = shared.subarray(5, 5 + bytes.length);
  const before = shared.slice();
  const m = fromBinary(FlightDataSchema, frame);
  assert.equal(alignFlightBody(m, frame), false);
  assert.deepEqual(shared, before);
  // Not after a 5-byte prefix.
  const other = new Uint8Array(new ArrayBuffer(bytes.length + 3), 3);
  other.set(bytes);
  const m2 = fromBinary(FlightDataSchema, other);
  assert.equal(alignFlightBody(m2, other), false);
});

Deno.test("alignFlightBody leaves small bodies and messages with a descriptor alone", () => {
  const small = frameOf(encoded(101, 0, MIN_ALIGN_BYTES - 1));
  const m = fromBinary(FlightDataSchema, small);
  assert.equal(alignFlightBody(m, small), false);
  const withDescriptor = frameOf(
    toBinary(
      FlightDataSchema,
      create(FlightDataSchema, {
        flightDescriptor: { type: 1, path: ["export", "1"] },
        dataHeader: pattern(101, 1),
        dataBody: pattern(2 * MIN_ALIGN_BYTES, 3),
      }),
    ),
  );
  const m2 = fromBinary(FlightDataSchema, withDescriptor);
  const before = m2.dataBody.slice();
  assert.equal(alignFlightBody(m2, withDescriptor), false);
  assert.deepEqual(m2.dataBody, before);
});
