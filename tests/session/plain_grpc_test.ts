/**
 * A library must not change a shared dependency under other users: a plain grpc-js client in the same
 * process, against the same server, works exactly as it does before this module is imported and used.
 * grpc-js's message framing, logger and credentials classes are compared by identity before and after,
 * and the plain client's DoGet of a large table (many large messages) returns the same bytes.
 *
 * @module
 */

import assert from "node:assert/strict";
import { Buffer } from "node:buffer";
import * as grpc from "@grpc/grpc-js";
import { StreamDecoder } from "@grpc/grpc-js/build/src/stream-decoder.js";
import { getLogger } from "@grpc/grpc-js/build/src/logging.js";
import { type Table, tableFromIPC } from "apache-arrow";
import { serverTest } from "../../testing/server.ts";
import { tableDiffs } from "../../testing/compare.ts";

const CONFIG = "/io.deephaven.proto.backplane.grpc.ConfigService/GetConfigurationConstants";
const DO_GET = "/arrow.flight.protocol.FlightService/DoGet";
const SCRIPT = `from deephaven import empty_table
plain_big = empty_table(2_000_000).update(["X = ii", "Y = (ii * 7) % 1000", "Z = ii * 0.5"])`;

/** What grpc-js is made of, by identity: framing, logger, credentials and client classes. */
function grpcParts(): unknown[] {
  const ssl = grpc.credentials.createSsl();
  const insecure = grpc.credentials.createInsecure();
  const protoMethods = (o: object) => {
    const out: unknown[] = [];
    for (let p = Object.getPrototypeOf(o); p && p !== Object.prototype; p = Object.getPrototypeOf(p)) {
      for (const k of Object.getOwnPropertyNames(p)) out.push(k, (p as Record<string, unknown>)[k]);
    }
    return out;
  };
  return [
    StreamDecoder.prototype.write,
    getLogger(),
    ...protoMethods(ssl),
    ...protoMethods(insecure),
    ...Object.getOwnPropertyNames(grpc.Client.prototype).map((k) =>
      (grpc.Client.prototype as unknown as Record<string, unknown>)[k]
    ),
  ];
}

function varint(b: Uint8Array, p: number): [number, number] {
  let v = 0, mul = 1;
  while (true) {
    const x = b[p++];
    v += (x & 0x7f) * mul;
    if ((x & 0x80) === 0) return [v, p];
    mul *= 128;
  }
}

/** FlightData messages (data_header = 2, data_body = 1000) as one Arrow IPC stream, read by apache-arrow. */
function flightToTable(messages: Uint8Array[]): Table {
  const out: Uint8Array[] = [];
  for (const m of messages) {
    let header: Uint8Array = new Uint8Array(0), body: Uint8Array = new Uint8Array(0);
    for (let p = 0; p < m.length;) {
      const [tag, q] = varint(m, p);
      if ((tag & 7) !== 2) throw new Error(`unexpected wire type in FlightData: ${tag & 7}`);
      const [len, r] = varint(m, q);
      if (tag >> 3 === 2) header = m.subarray(r, r + len);
      if (tag >> 3 === 1000) body = m.subarray(r, r + len);
      p = r + len;
    }
    const padded = (header.length + 7) & ~7;
    const prefix = new Uint8Array(8 + padded);
    const view = new DataView(prefix.buffer);
    view.setUint32(0, 0xffffffff, true);
    view.setUint32(4, padded, true);
    prefix.set(header, 8);
    out.push(prefix, body);
  }
  return tableFromIPC(out);
}

/** A plain grpc-js client: logs in anonymously, then DoGets a scope table; returns what it received. */
async function plainDoGet(
  target: string,
  table: string,
): Promise<{ messages: number; table: Table }> {
  const client = new grpc.Client(target, grpc.credentials.createInsecure(), {
    "grpc.max_receive_message_length": 256 * 1024 * 1024,
  });
  try {
    const raw = {
      serialize: (x: Uint8Array) => Buffer.from(x),
      deserialize: (b: Buffer) => new Uint8Array(b),
    };
    const login = new grpc.Metadata();
    login.set("authorization", "Anonymous");
    const bearer = await new Promise<string>((resolve, reject) => {
      const call = client.makeUnaryRequest(
        CONFIG,
        raw.serialize,
        raw.deserialize,
        new Uint8Array(0),
        login,
        (e) => {
          if (e) reject(e);
        },
      );
      call.on("metadata", (md: grpc.Metadata) => {
        const v = md.get("authorization")[0];
        if (typeof v === "string") resolve(v);
      });
    });
    const name = new TextEncoder().encode(`s/${table}`);
    const ticket = new Uint8Array([0x0a, name.length, ...name]); // Ticket { bytes ticket = 1 }
    const md = new grpc.Metadata();
    md.set("authorization", bearer);
    const parts: Uint8Array[] = [];
    await new Promise<void>((resolve, reject) => {
      const call = client.makeServerStreamRequest(DO_GET, raw.serialize, raw.deserialize, ticket, md);
      call.on("data", (m: Uint8Array) => parts.push(m));
      call.on("error", reject);
      call.on("end", () => resolve());
    });
    return { messages: parts.length, table: flightToTable(parts) };
  } finally {
    client.close();
  }
}

serverTest(
  "a plain grpc-js client in the same process works exactly as without this module",
  { key: "plain-grpc", auth: "anonymous", script: SCRIPT },
  async (server) => {
    const before = grpcParts();
    const alone = await plainDoGet(server.target, "plain_big");
    assert.equal(alone.table.numRows, 2_000_000);
    assert.ok(alone.messages > 2, "the DoGet moved several large messages");

    // Now the module: imported, connected, a DoGet and a Barrage snapshot through its own channels.
    const { barrageSession, Session } = await import("../../mod.ts");
    await using session = await Session.connect({ host: server.host, port: server.port });
    const ours = await session.openTable("plain_big").toArrow();
    assert.equal(ours.numRows, 2_000_000);
    const bs = await barrageSession({ host: server.host, port: server.port });
    try {
      assert.equal((await bs.snapshot(session.openTable("plain_big"))).size, 2_000_000);
      const after = grpcParts();
      assert.equal(after.length, before.length, "grpc-js has the same members");
      after.forEach((x, i) => assert.equal(x, before[i], `grpc-js part ${i} is unchanged`));
      const again = await plainDoGet(server.target, "plain_big");
      assert.ok(again.messages > 2);
      assert.deepEqual(tableDiffs(again.table, alone.table), [], "the plain client receives the same table");
      assert.deepEqual(tableDiffs(ours, alone.table), [], "and the module read the same table");
    } finally {
      await bs.close();
    }
  },
);
