import assert from "node:assert/strict";
import http2 from "node:http2";
import { Channel, toDeephavenError } from "./channel.ts";
import { DeephavenError, GrpcCode } from "../errors.ts";

Deno.test("toDeephavenError names the server once for UNAVAILABLE, whether or not 'what' already does", () => {
  const a = toDeephavenError({ code: GrpcCode.UNAVAILABLE, details: "refused" }, "Logging in at h:1", "h:1");
  assert.equal(
    a.message,
    "Logging in at h:1 failed: refused (UNAVAILABLE); check that the server is running and reachable, then retry",
  );
  const b = toDeephavenError(
    { code: GrpcCode.DEADLINE_EXCEEDED, details: "slow" },
    "Snapshot of export 3",
    "h:1",
  );
  assert.match(b.message, /^Snapshot of export 3 failed at h:1: slow \(DEADLINE_EXCEEDED\)/);
});

Deno.test("toDeephavenError keeps a DeephavenError as it is and maps unknown throws to UNKNOWN", () => {
  const original = new DeephavenError("Already explained", { code: GrpcCode.NOT_FOUND });
  assert.equal(toDeephavenError(original, "x", "h:1"), original);
  const e = toDeephavenError(new Error("boom"), "Doing x", "h:1");
  assert.equal(e.code, GrpcCode.UNKNOWN);
  assert.equal(e.message, "Doing x failed: boom (UNKNOWN)");
});

Deno.test({
  name:
    "a channel's HTTP/2 session lets the server send frames of up to 16 MiB; other sessions keep the default",
  sanitizeOps: false,
  sanitizeResources: false,
  async fn() {
    const seen: number[] = [];
    const server = http2.createServer();
    server.on(
      "session",
      (s) => s.on("remoteSettings", (settings) => seen.push(settings.maxFrameSize ?? 16384)),
    );
    server.on("stream", (stream) => {
      (stream as http2.ServerHttp2Stream).respond({
        ":status": 200,
        "content-type": "application/grpc",
        "grpc-status": "12",
      }, {
        endStream: true,
      });
    });
    await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
    const port = (server.address() as { port: number }).port;
    const channel = new Channel({ host: "127.0.0.1", port });
    const spec = { path: "/x.Y/Z", serialize: (m: Uint8Array) => m, deserialize: (b: Uint8Array) => b };
    try {
      await assert.rejects(channel.unary(spec, new Uint8Array(0), { timeoutMs: 5000 }));
      // A plain node:http2 client in the same process is not changed.
      const other = http2.connect(`http://127.0.0.1:${port}`);
      await new Promise<void>((r) => other.on("remoteSettings", () => r()));
      const deadline = Date.now() + 5000;
      while (seen.length < 2 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10));
      other.close();
      assert.deepEqual(seen, [16_777_215, 16384]);
    } finally {
      channel.close();
      await new Promise((r) => server.close(r));
    }
  },
});
