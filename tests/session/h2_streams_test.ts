/**
 * The channel's own HTTP/2 connection for Flight streams (src/transport/http2.ts, grpc_stream.ts), against
 * the real server: the same data as grpc-js brings, the response headers seen (token rotation), server
 * errors with their codes, deadlines, cancellation, many concurrent streams, and an unreachable server.
 *
 * @module
 */

import assert from "node:assert/strict";
import { DeephavenError, GrpcCode, type Session } from "../../mod.ts";
import { Channel, type Headers } from "../../src/transport/channel.ts";
import { rpc } from "../../src/transport/rpc.ts";
import { sessionCoreOf } from "../../src/session/session.ts";
import { snapshotRequest } from "../../src/wire/messages.ts";
import { tableFromFlight } from "../../src/arrow/ipc.ts";
import { FlightService } from "../../src/generated/proto/arrow/flight/protocol/flight_pb.ts";
import { freePort, serverTest } from "../../testing/server.ts";
import { tableDiffs } from "../../testing/compare.ts";
import { connectPsk, rejectsWithin, uniqueName } from "./util.ts";

/** A channel to the session's server with the session's credentials, over the given Flight transport. */
function channelOf(session: Session, streams: "h2" | "grpc-js", seen?: Headers[]): Channel {
  const core = sessionCoreOf(session);
  const [host, port] = [
    core.target.slice(0, core.target.lastIndexOf(":")),
    Number(core.target.split(":").pop()),
  ];
  return new Channel({
    host,
    port,
    streams,
    requestHeaders: () => ({ authorization: core.auth.header() }),
    onResponseHeaders: (h) => seen?.push(h),
  });
}

/** A DoGet's messages read into an Arrow table. */
async function doGet(
  channel: Channel,
  ticket: Uint8Array,
  opts: { signal?: AbortSignal; timeoutMs?: number } = {},
) {
  const messages = [];
  for await (
    const fd of channel.serverStream(rpc(FlightService.method.doGet), { ticket }, { what: "DoGet", ...opts })
  ) {
    messages.push({ dataHeader: fd.dataHeader, dataBody: fd.dataBody });
  }
  return tableFromFlight(messages);
}

serverTest(
  "Flight streams on the own HTTP/2 connection bring what grpc-js brings, headers included",
  {},
  async (server) => {
    const session = await connectPsk(server);
    const seen: Headers[] = [];
    const h2 = channelOf(session, "h2", seen), js = channelOf(session, "grpc-js");
    try {
      const ref = session.emptyTable(300_000).update([
        "X = ii",
        "D = ii % 7 == 0 ? NULL_DOUBLE : ii / 3.0",
        "S = ii % 5 == 0 ? null : `s` + ii + `\u00e9\u2713`",
        "T = epochNanosToInstant(1700000000000000000L + ii)",
      ]);
      await ref.ready();
      const a = await doGet(h2, ref.ticket), b = await doGet(js, ref.ticket);
      assert.equal(a.numRows, 300_000);
      assert.deepEqual(tableDiffs(a, b), []);
      // The response headers and trailers reach the channel's observer (the session picks up rotated tokens
      // from them).
      assert.ok(seen.some((h) => h["content-type"]?.startsWith("application/grpc")), "response headers seen");
      // A Barrage snapshot (DoExchange) by both transports: the same record batches.
      const exchange = async (c: Channel) => {
        const call = c.bidi(rpc(FlightService.method.doExchange), { what: "DoExchange" });
        call.send({ appMetadata: snapshotRequest(ref.ticket, { useDeephavenNulls: false }) });
        call.end();
        const messages = [];
        for await (const fd of call) if (fd.dataHeader.length) messages.push(fd);
        return tableFromFlight(messages);
      };
      assert.deepEqual(tableDiffs(await exchange(h2), await exchange(js)), []);
      await ref.close();
    } finally {
      h2.close();
      js.close();
      await session.close();
    }
  },
);

serverTest(
  "Flight streams on the own connection: server errors, deadlines, cancellation, 50 at once",
  {},
  async (server) => {
    const session = await connectPsk(server);
    const channel = channelOf(session, "h2");
    try {
      // A server error keeps its code and message (from the trailers).
      const missing = session.openTable(uniqueName("missing"));
      await assert.rejects(missing.ready());
      const err = await rejectsWithin(
        doGet(channel, new TextEncoder().encode(`s/${uniqueName("no_such")}`)),
        "a DoGet of an unknown scope table",
        { code: GrpcCode.NOT_FOUND, message: [/^DoGet failed/] },
      );
      console.log(`unknown table: ${err.codeName}: ${err.message}`);

      const big = session.emptyTable(3_000_000).update(["X = ii", "Y = ii * 0.5", "Z = random()"]);
      await big.ready();
      // A deadline shorter than the transfer: DEADLINE_EXCEEDED.
      await rejectsWithin(doGet(channel, big.ticket, { timeoutMs: 5 }), "a DoGet past its deadline", {
        code: GrpcCode.DEADLINE_EXCEEDED,
      });
      // An abort after the first message: CANCELLED, promptly.
      const ac = new AbortController();
      const aborted = (async () => {
        for await (
          const _ of channel.serverStream(rpc(FlightService.method.doGet), { ticket: big.ticket }, {
            what: "DoGet",
            signal: ac.signal,
          })
        ) ac.abort();
      })();
      await rejectsWithin(aborted, "an aborted DoGet", { code: GrpcCode.CANCELLED });
      // Breaking out of the loop cancels too, and the connection carries on.
      for await (
        const _ of channel.serverStream(rpc(FlightService.method.doGet), { ticket: big.ticket })
      ) break;

      // 50 streams at once on the one connection, each with its own data.
      const refs = Array.from(
        { length: 50 },
        (_, i) => session.emptyTable(1000 + i).update([`X = ii * ${i}`]),
      );
      await Promise.all(refs.map((r) => r.ready()));
      const tables = await Promise.all(refs.map((r) => doGet(channel, r.ticket)));
      tables.forEach((t, i) => {
        assert.equal(t.numRows, 1000 + i);
        assert.equal(Number(t.getChild("X")!.get(999)), 999 * i);
      });
      await Promise.all([...refs, big].map((r) => r.close()));
    } finally {
      channel.close();
      await session.close();
    }
  },
);

serverTest("a Flight stream to a port where nothing listens fails with UNAVAILABLE", {}, async (server) => {
  const session = await connectPsk(server);
  const port = await freePort();
  const channel = new Channel({ host: "127.0.0.1", port });
  try {
    const e = await rejectsWithin(
      doGet(channel, new Uint8Array([1, 2, 3])),
      "a DoGet to a closed port",
      { code: GrpcCode.UNAVAILABLE, message: [new RegExp(`127\\.0\\.0\\.1:${port}`)] },
    );
    assert.ok(e instanceof DeephavenError);
    console.log(`closed port: ${e.message}`);
  } finally {
    channel.close();
    await session.close();
  }
});
