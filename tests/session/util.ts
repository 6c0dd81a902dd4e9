/**
 * Small helpers shared by the Session-layer acceptance tests.
 *
 * @module
 */

import assert from "node:assert/strict";
import {
  type BarrageSession,
  barrageSession,
  DeephavenError,
  GrpcCode,
  grpcCodeName,
  PSK_AUTH,
  Session,
} from "../../mod.ts";
import type { ConnectOptions } from "../../mod.ts";
import type { DhServer } from "../../testing/server.ts";

/**
 * Opens a session with the server's pre-shared key.
 *
 * @param server The test server.
 * @param options More connect options.
 * @returns The session.
 */
export function connectPsk(server: DhServer, options: ConnectOptions = {}): Promise<Session> {
  return Session.connect({
    host: server.host,
    port: server.port,
    authType: PSK_AUTH,
    authToken: server.psk,
    ...options,
  });
}

/**
 * Opens a Barrage session with the server's pre-shared key.
 *
 * @param server The test server.
 * @returns The Barrage session.
 */
export function barragePsk(server: DhServer): Promise<BarrageSession> {
  return barrageSession({ host: server.host, port: server.port, authType: PSK_AUTH, authToken: server.psk });
}

/**
 * Opens an anonymous session.
 *
 * @param server The test server.
 * @returns The session.
 */
export function connectAnonymous(server: DhServer): Promise<Session> {
  return Session.connect({ host: server.host, port: server.port });
}

/**
 * Waits for `promise` to settle, failing the test when it does not settle within `ms`.
 *
 * @param promise The promise.
 * @param what What is awaited, for the failure message.
 * @param ms The deadline in milliseconds. Default 20000.
 * @returns The settled outcome.
 */
export async function settles<T>(
  promise: Promise<T>,
  what: string,
  ms = 20_000,
): Promise<{ ok: true; value: T } | { ok: false; error: unknown }> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const deadline = new Promise<"timeout">((r) => (timer = setTimeout(() => r("timeout"), ms)));
  try {
    const outcome = await Promise.race([
      promise.then((value) => ({ ok: true as const, value }), (error) => ({ ok: false as const, error })),
      deadline,
    ]);
    if (outcome === "timeout") assert.fail(`${what} did not settle within ${ms} ms`);
    return outcome;
  } finally {
    clearTimeout(timer);
  }
}

/** What {@linkcode rejectsWithin} expects of the error. */
export interface ExpectedError {
  /** The gRPC code, or the codes any of which is right. */
  code?: number | number[];
  /** Patterns the message must match. */
  message?: RegExp[];
  /** Texts the message must not contain (secrets). */
  notIn?: string[];
  /** Deadline in milliseconds. Default 20000. */
  ms?: number;
}

/**
 * Asserts that `promise` rejects with a {@linkcode DeephavenError} within a deadline, with the given code
 * and message, and returns the error.
 *
 * @param promise The promise (or a function that makes it; a synchronous throw counts as a rejection).
 * @param what What is done, for failure messages.
 * @param expected The expected code and message patterns.
 * @returns The error.
 */
export async function rejectsWithin(
  promise: Promise<unknown> | (() => Promise<unknown>),
  what: string,
  expected: ExpectedError = {},
): Promise<DeephavenError> {
  let p: Promise<unknown>;
  try {
    p = typeof promise === "function" ? promise() : promise;
  } catch (e) {
    p = Promise.reject(e);
  }
  const outcome = await settles(p, what, expected.ms);
  if (outcome.ok) assert.fail(`${what} resolved, but it should have failed`);
  const e = outcome.error;
  assert.ok(
    e instanceof DeephavenError,
    `${what} should reject with a DeephavenError, got ${Deno.inspect(e)}`,
  );
  if (expected.code !== undefined) {
    const names = (Array.isArray(expected.code) ? expected.code : [expected.code]).map(grpcCodeName);
    assert.ok(
      names.includes(e.codeName),
      `${what} should fail with ${names.join(" or ")}, got ${e.codeName}; message: ${e.message}`,
    );
  }
  for (const re of expected.message ?? []) assert.match(e.message, re, `${what}: message`);
  for (const secret of expected.notIn ?? []) {
    assert.ok(!e.message.includes(secret), `${what}: the message must not contain a secret`);
    assert.ok(!Deno.inspect(e, { depth: 10 }).includes(secret), `${what}: inspect must not show a secret`);
  }
  return e;
}

/**
 * Polls `check` until it returns `true` or the deadline passes.
 *
 * @param check The condition.
 * @param what What is awaited, for the failure message (a function is called only on failure).
 * @param ms The deadline in milliseconds. Default 20000.
 */
export async function eventually(
  check: () => Promise<boolean>,
  what: string | (() => string),
  ms = 20_000,
): Promise<void> {
  const end = Date.now() + ms;
  while (!(await check())) {
    if (Date.now() > end) {
      assert.fail(`${typeof what === "string" ? what : what()} did not happen within ${ms} ms`);
    }
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** A short random suffix for names in the server's shared global scope. */
export function uniqueName(prefix: string): string {
  return `${prefix}_${crypto.randomUUID().replaceAll("-", "").slice(0, 10)}`;
}

export { GrpcCode };
