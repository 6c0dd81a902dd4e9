/**
 * The real-server test harness: embedded Deephaven servers (the product's `startServer`, see
 * `src/server/server.ts`) with the test defaults (Anonymous, PSK and Basic enabled, logs under
 * `test-results/`), shared by all tests of one `deno test` run, and `serverTest` to register a test that
 * gets one.
 *
 * @example A test against the shared server
 * ```ts ignore
 * import { serverTest } from "./server.ts";
 *
 * serverTest("the server answers", {}, async (server) => {
 *   console.log(server.target); // "127.0.0.1:<port>"
 * });
 * ```
 *
 * @module
 */

import * as grpc from "../src/deps/grpc_js.ts";
import { Buffer } from "node:buffer";
import { DeephavenError, GrpcCode } from "../src/errors.ts";
import {
  type EmbeddedServer,
  freePort,
  javaHome,
  type ServerAuth,
  type ServerOptions as EmbeddedServerOptions,
  startServer as startEmbeddedServer,
  venvPython,
} from "../src/server/server.ts";

export { freePort, javaHome, type ServerAuth, venvPython };

/** A running server of the harness (the product's embedded server). */
export type DhServer = EmbeddedServer;

/** Options of {@linkcode startServer} and {@linkcode sharedServer}: the product's, with test defaults. */
export type ServerOptions = EmbeddedServerOptions;

/** The project root (of this checkout). */
export const PROJECT_ROOT: string = decodeURIComponent(new URL("../", import.meta.url).pathname).replace(
  /\/$/,
  "",
);
/** The folder for logs and other test output (gitignored). */
export const RESULTS_DIR: string = `${PROJECT_ROOT}/test-results`;

/** The unauthenticated readiness probe. */
export const AUTH_CONSTANTS_PATH =
  "/io.deephaven.proto.backplane.grpc.ConfigService/GetAuthenticationConstants";

/**
 * Makes one raw unary gRPC call without authentication with a plain grpc-js client (not the module's
 * transport) and returns the response bytes.
 *
 * @param target `host:port`.
 * @param path The full method path, such as {@linkcode AUTH_CONSTANTS_PATH}.
 * @param request The serialized request message (an empty message is zero bytes).
 * @param timeoutMs The call deadline, default 5000.
 * @returns The serialized response message.
 * @throws {DeephavenError} With the gRPC status code when the call fails.
 */
export function unaryRaw(
  target: string,
  path: string,
  request: Uint8Array,
  timeoutMs = 5000,
): Promise<Uint8Array> {
  const client = new grpc.Client(target, grpc.credentials.createInsecure());
  return new Promise<Uint8Array>((resolve, reject) => {
    client.makeUnaryRequest(
      path,
      (x: Uint8Array) => Buffer.from(x),
      (b: Buffer) => new Uint8Array(b),
      request,
      new grpc.Metadata(),
      { deadline: Date.now() + timeoutMs },
      (err: grpc.ServiceError | null, value?: Uint8Array) => {
        if (err) {
          reject(
            new DeephavenError(`The call ${path} to ${target} failed: ${err.details || err.message}`, {
              code: err.code ?? GrpcCode.UNKNOWN,
              cause: err,
            }),
          );
        } else {
          resolve(value ?? new Uint8Array(0));
        }
      },
    );
  }).finally(() => client.close());
}

/**
 * The Basic credentials of the test servers, `"dh-test:<random password>"`, new in each process (read them
 * from `server.basicAuth`; never print them).
 */
const TEST_BASIC_AUTH = `dh-test:${
  Array.from(crypto.getRandomValues(new Uint8Array(12)), (b) => b.toString(16).padStart(2, "0")).join("")
}`;

/**
 * Starts a server with the test defaults: auth `"both"`, Basic authentication for the user `dh-test` (the
 * credentials are `server.basicAuth`) and the log under {@linkcode RESULTS_DIR}.
 *
 * @param options The product's options; unset ones get the test defaults.
 * @returns The running server.
 */
export function startServer(options: ServerOptions = {}): Promise<DhServer> {
  return startEmbeddedServer({ auth: "both", basicAuth: TEST_BASIC_AUTH, logDir: RESULTS_DIR, ...options });
}

interface SharedEntry {
  signature: string;
  server: Promise<DhServer>;
}

const shared = new Map<string, SharedEntry>();

function signatureOf(options: ServerOptions): string {
  return JSON.stringify([
    options.auth ?? "both",
    options.psk ?? null,
    options.jvmArgs ?? [],
    options.script ?? null,
    options.port ?? null,
    options.basicAuth ?? null,
    options.applications ?? [],
  ]);
}

/**
 * Returns the server for `key`, starting it on first use. One server per key lives for the whole `deno test`
 * run (all test files run in one process). A start failure is remembered, so later tests fail fast.
 *
 * @param key The name of the shared server, such as `"default"`.
 * @param options Start options; every caller of one key must pass the same options.
 * @returns The server.
 * @throws {DeephavenError} When the same key is asked for with different options, or the start fails.
 */
export function sharedServer(key: string, options: ServerOptions = {}): Promise<DhServer> {
  const signature = signatureOf(options);
  const existing = shared.get(key);
  if (existing) {
    if (existing.signature !== signature) {
      return Promise.reject(
        new DeephavenError(
          `The shared server '${key}' was started with other options; use another key for different options`,
          { code: GrpcCode.INVALID_ARGUMENT },
        ),
      );
    }
    return existing.server;
  }
  const server = startServer({ name: key, ...options });
  server.catch(() => {}); // the failure is reported to every caller; avoid an unhandled rejection
  shared.set(key, { signature, server });
  return server;
}

/** Options for {@linkcode serverTest}: the shared server's key and start options, and test flags. */
export interface ServerTestOptions extends ServerOptions {
  /** The shared server's key. Default `"default"`. */
  key?: string;
  /** Skip the test. */
  ignore?: boolean;
  /** Run only this test. */
  only?: boolean;
}

/**
 * Registers a `Deno.test` that runs `fn` with a shared server. Resource and op sanitizers are off (the
 * server process outlives each test). When `fn` throws, the last 60 lines of the server log go to stderr.
 *
 * @param name The test name.
 * @param options The shared server's key and start options (default: key `"default"`, auth `"both"`).
 * @param fn The test body.
 *
 * @example
 * ```ts
 * serverTest("a script table is visible", { key: "script", auth: "anonymous", script: "t = 1" }, async (s) => {
 *   // ...
 * });
 * ```
 */
export function serverTest(
  name: string,
  options: ServerTestOptions,
  fn: (server: DhServer, t: Deno.TestContext) => void | Promise<void>,
): void {
  const { key = "default", ignore, only, ...serverOptions } = options;
  Deno.test({
    name,
    ignore,
    only,
    sanitizeResources: false,
    sanitizeOps: false,
    async fn(t) {
      const server = await sharedServer(key, serverOptions);
      try {
        await fn(server, t);
      } catch (e) {
        const tail = await server.logTail(60);
        console.error(
          `--- last 60 lines of ${server.logPath} (server '${key}') ---\n${tail}\n--- end of log ---`,
        );
        throw e;
      }
    },
  });
}
