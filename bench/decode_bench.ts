/**
 * The client's own cost of a Barrage snapshot, with the server out of the loop: the messages of one snapshot
 * of each table are fetched once, then fed again and again from memory in 1 MiB socket-like reads (one read
 * buffer, reused), into
 * - `raw`: each message copied into a buffer of its own and dropped (what the raw sink does);
 * - `keep`: the same, every message kept until the end (the new memory a table of the data needs);
 * - `bsnap`: this module's streaming snapshot decoder into a LocalTable (`snapshot_stream.ts`);
 * - `arrow`: `toArrow()`'s reader into an apache-arrow Table, nulls looked for as each buffer lands
 *   (`arrow_snapshot.ts`);
 * - `arrow-after`: the same table from the kept messages, nulls looked for afterwards.
 * Medians of wall time (all of it client CPU here) over interleaved rounds.
 *
 * Run: `deno run -A --v8-flags=--expose-gc bench/decode_bench.ts [--rounds 9] [--tables S1,S2,S3] [--modes
 * raw,keep,bsnap,arrow,arrow-after]`
 * (starts its own server with the benchmark's tables), or with `--port P` against a running one.
 *
 * @module
 */

import { parseArgs } from "node:util";
import { Session } from "../mod.ts";
import { startServer } from "../src/server/mod.ts";
import { sessionCoreOf } from "../src/session/session.ts";
import { snapshotRequest } from "../src/wire/messages.ts";
import { rpc } from "../src/transport/rpc.ts";
import type { MessageReceiver, MethodSpec } from "../src/transport/channel.ts";
import { FlightDataSchema, FlightService } from "../src/generated/proto/arrow/flight/protocol/flight_pb.ts";
import { SnapshotStream } from "../src/barrage/snapshot_stream.ts";
import { ArrowSnapshotStream, arrowTableFromDeephavenNulls } from "../src/wire/arrow_snapshot.ts";
import { fromBinary } from "../src/deps/protobuf.ts";
import { staticScript } from "./tables.ts";
import { median } from "./stats.ts";

const { values: args } = parseArgs({
  args: Deno.args,
  options: {
    port: { type: "string" },
    rounds: { type: "string", default: "9" },
    tables: { type: "string", default: "S1,S2,S3" },
    modes: { type: "string", default: "raw,keep,bsnap,arrow,arrow-after" },
  },
});

const gc: () => void = (globalThis as { gc?: () => void }).gc ?? (() => {});
const server = args.port
  ? undefined
  : await startServer({ auth: "anonymous", script: staticScript(4_000_000), name: "decode" });
const port = server ? server.port : Number(args.port);
const session = await Session.connect({ host: "127.0.0.1", port, reconnect: false });

/** The serialized FlightData messages of one Barrage snapshot of a table. */
async function messagesOf(name: string): Promise<Uint8Array[]> {
  const ref = session.openTable(name);
  await ref.ready();
  const spec = {
    ...rpc(FlightService.method.doExchange),
    deserialize: (b: Uint8Array) => b.slice(),
  } as unknown as MethodSpec<{ appMetadata: Uint8Array }, Uint8Array>;
  const call = sessionCoreOf(session).channel.bidi(spec, { what: "fetch" });
  call.send({ appMetadata: snapshotRequest(ref.ticket) });
  call.end();
  const out: Uint8Array[] = [];
  for await (const m of call) out.push(m);
  await ref.close();
  return out;
}

const read = new Uint8Array(1 << 20);

function feed(messages: Uint8Array[], receiver: (n: number) => MessageReceiver): void {
  for (const m of messages) {
    const r = receiver(m.length);
    for (let at = 0; at < m.length; at += read.length) {
      const n = Math.min(read.length, m.length - at);
      read.set(m.subarray(at, at + n));
      r.write(read, 0, n);
    }
    r.end();
  }
}

/** A receiver that copies a message into a buffer of its own; `keep` holds on to it. */
function copier(keep: Uint8Array[] | undefined): (n: number) => MessageReceiver {
  return (n) => {
    const m = new Uint8Array(n);
    keep?.push(m);
    let got = 0;
    return {
      write(b, s, e) {
        m.set(b.subarray(s, e), got);
        got += e - s;
      },
      end() {},
    };
  };
}

const modes: Record<string, (messages: Uint8Array[]) => void> = {
  raw: (ms) => feed(ms, copier(undefined)),
  keep: (ms) => feed(ms, copier([])),
  bsnap: (ms) => {
    const s = new SnapshotStream({ what: "bench" });
    feed(ms, (n) => s.receive(n));
    s.done();
  },
  arrow: (ms) => {
    const s = new ArrowSnapshotStream();
    feed(ms, (n) => s.receive(n));
    s.done("bench");
  },
  "arrow-after": (ms) => {
    const kept: Uint8Array[] = [];
    feed(ms, copier(kept));
    const payloads = kept.map((m) => fromBinary(FlightDataSchema, m)).filter((fd) =>
      fd.dataHeader.length > 0
    );
    arrowTableFromDeephavenNulls(
      payloads.map((fd) => ({ dataHeader: fd.dataHeader, dataBody: fd.dataBody })),
    );
  },
};

for (const name of args.tables!.split(",")) {
  const messages = await messagesOf(name);
  const mb = messages.reduce((a, m) => a + m.length, 0) / 1e6;
  const times: Record<string, number[]> = {};
  for (let round = 0; round <= Number(args.rounds); round++) {
    for (const [k, f] of Object.entries(modes).filter(([k]) => args.modes!.split(",").includes(k))) {
      gc();
      gc();
      const t0 = performance.now();
      f(messages);
      if (round > 0) (times[k] ??= []).push(performance.now() - t0);
    }
  }
  console.log(
    `${name} (${mb.toFixed(0)} MB): ` +
      Object.entries(times).map(([k, t]) => `${k} ${median(t).toFixed(1)} ms`).join(", "),
  );
}
await session.close();
await server?.stop();
