import assert from "node:assert/strict";
import { Buffer } from "node:buffer";
import { AuthState, loginHeader, PSK_AUTH } from "./auth.ts";
import { redact } from "../transport/redact.ts";

function base64OfUtf8(text: string): string {
  return Buffer.from(text, "utf8").toString("base64");
}

Deno.test("loginHeader: Basic is 'Basic ' + base64 of the UTF-8 bytes of user:password", () => {
  assert.equal(loginHeader("Basic", "user:pass word"), `Basic ${base64OfUtf8("user:pass word")}`);
  assert.equal(loginHeader("Basic", "user:pass word"), "Basic dXNlcjpwYXNzIHdvcmQ=");
});

Deno.test("loginHeader: Basic with a non-ASCII password encodes UTF-8, not Latin-1", () => {
  const token = "jürgen:pässwörd-€-日本";
  const header = loginHeader("Basic", token);
  assert.equal(header, `Basic ${base64OfUtf8(token)}`);
  const decoded = new TextDecoder().decode(Uint8Array.from(atob(header.slice(6)), (c) => c.charCodeAt(0)));
  assert.equal(decoded, token);
});

Deno.test("loginHeader: Basic without a colon is refused", () => {
  assert.throws(() => loginHeader("Basic", "nocolon"), /user:password/);
});

Deno.test("loginHeader: Anonymous sends just 'Anonymous', whatever the token", () => {
  assert.equal(loginHeader("Anonymous", ""), "Anonymous");
  assert.equal(loginHeader("Anonymous", "ignored"), "Anonymous");
});

Deno.test("loginHeader: PSK sends the handler class name, a space and the key", () => {
  assert.equal(PSK_AUTH, "io.deephaven.authentication.psk.PskAuthenticationHandler");
  assert.equal(loginHeader(PSK_AUTH, "s3cret-key"), `${PSK_AUTH} s3cret-key`);
});

Deno.test("loginHeader: a custom handler sends its auth type and token; no token sends the type alone", () => {
  assert.equal(loginHeader("com.example.MyHandler", "tok en"), "com.example.MyHandler tok en");
  assert.equal(loginHeader("com.example.MyHandler", ""), "com.example.MyHandler");
});

Deno.test("AuthState: inspect and toString show no secret, before and after a Bearer token arrives", () => {
  const key = "psk-unit-secret-7f3a9c";
  const state = new AuthState(PSK_AUTH, key);
  for (const text of [Deno.inspect(state), String(state), Deno.inspect({ nested: state }, { depth: 5 })]) {
    assert.ok(!text.includes(key), `no key in ${text}`);
  }
  assert.equal(state.authenticated, false);
  assert.equal(state.header(), `${PSK_AUTH} ${key}`);

  const bearer = "Bearer 0f8c2b7e-3a6d-4d2b-9a41-5e7c1d2f9b00";
  let tokens = 0;
  const stop = state.onToken(() => tokens++);
  state.observe({ authorization: bearer });
  assert.equal(state.authenticated, true);
  assert.equal(state.header(), bearer);
  assert.equal(tokens, 1);
  state.observe({ authorization: bearer }); // the same token again is no rotation
  assert.equal(tokens, 1);
  stop();
  state.observe({ authorization: "Bearer 11111111-2222-3333-4444-555555555555" });
  assert.equal(tokens, 1, "a stopped listener is not called");
  for (const text of [Deno.inspect(state), String(state)]) {
    assert.ok(!text.includes(key) && !text.includes(bearer.slice(7)), `no secret in ${text}`);
    assert.ok(!text.includes("11111111-2222"), `no rotated token in ${text}`);
  }
  state.reset();
  assert.equal(state.header(), `${PSK_AUTH} ${key}`, "reset goes back to the login header");
});

Deno.test("AuthState: headers that carry no Bearer token are ignored", () => {
  const state = new AuthState("Anonymous", "");
  state.observe({});
  state.observe({ authorization: "Basic abc" });
  assert.equal(state.authenticated, false);
  assert.equal(state.header(), "Anonymous");
});

Deno.test("AuthState: the Basic password, the PSK and received tokens are registered for redaction", () => {
  const basic = new AuthState("Basic", "alice:correct horse battery");
  assert.ok(!Deno.inspect(basic).includes("correct horse"));
  assert.equal(redact("x correct horse battery y"), "x *** y");
  assert.ok(!redact(`header ${loginHeader("Basic", "alice:correct horse battery")}`).includes("YWxpY2U"));

  new AuthState(PSK_AUTH, "another-psk-9d8e7f");
  assert.equal(redact("key=another-psk-9d8e7f"), "key=***");

  const s = new AuthState("Anonymous", "");
  s.observe({ authorization: "Bearer tok-not-a-uuid-abcdef" });
  assert.equal(redact("got tok-not-a-uuid-abcdef"), "got ***");
});
