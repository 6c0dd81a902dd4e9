import assert from "node:assert/strict";
import { toDeephavenError } from "./channel.ts";
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
