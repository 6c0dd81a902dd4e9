import assert from "node:assert/strict";
import { redact, REDACTED, registerSecret } from "./redact.ts";
import { toDeephavenError } from "./channel.ts";
import { GrpcCode } from "../errors.ts";

Deno.test("redact hides every occurrence of a registered secret", () => {
  registerSecret("redact-test-key-1a2b");
  assert.equal(REDACTED, "***");
  assert.equal(
    redact("key redact-test-key-1a2b and again redact-test-key-1a2b."),
    "key *** and again ***.",
  );
});

Deno.test("redact hides the base64 form of a secret (as sent in Basic auth)", () => {
  registerSecret("bob:hunter2-redact");
  const b64 = btoa("bob:hunter2-redact");
  assert.equal(redact(`authorization: Basic ${b64}`), "authorization: Basic ***");
});

Deno.test("redact leaves text without secrets alone and ignores secrets shorter than 4 characters", () => {
  registerSecret("abc");
  registerSecret("");
  registerSecret(undefined);
  assert.equal(redact("abc abcd plain text"), "abc abcd plain text");
});

Deno.test("redact hides Bearer tokens even when they were never registered", () => {
  const text = "authorization: Bearer 3f2a8c9e-1b2c-4d5e-8f90-a1b2c3d4e5f6 was rejected";
  assert.equal(redact(text), "authorization: Bearer *** was rejected");
  assert.equal(redact("Bearer  ABCDEF0123456789abcdef"), "Bearer ***");
  assert.equal(redact("Bearer short"), "Bearer short", "not a session id, nothing to hide");
});

Deno.test("redact works for secrets that are not Latin-1 (no base64 form)", () => {
  registerSecret("ключ-секрет-日本");
  assert.equal(redact("the key is ключ-секрет-日本!"), "the key is ***!");
});

Deno.test("toDeephavenError redacts secrets from server details and from the cause", () => {
  registerSecret("server-echoed-psk-77aa");
  const err = toDeephavenError(
    {
      code: GrpcCode.UNAUTHENTICATED,
      details: "bad key server-echoed-psk-77aa",
      message: "16: server-echoed-psk-77aa",
    },
    "Logging in",
    "127.0.0.1:1",
  );
  assert.equal(err.code, GrpcCode.UNAUTHENTICATED);
  assert.ok(!err.message.includes("server-echoed-psk-77aa"), err.message);
  assert.ok(!String(err.details).includes("server-echoed-psk-77aa"));
  assert.match(err.message, /^Logging in failed: bad key \*\*\* \(UNAUTHENTICATED\); check the auth type/);

  const withCause = toDeephavenError(
    Object.assign(new Error("14 UNAVAILABLE: server-echoed-psk-77aa"), { code: GrpcCode.UNAVAILABLE }),
    "Snapshot of export 1",
    "127.0.0.1:2",
  );
  assert.ok(!Deno.inspect(withCause, { depth: 10 }).includes("server-echoed-psk-77aa"));
  assert.match(withCause.message, /at 127\.0\.0\.1:2/);
});
