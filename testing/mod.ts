/**
 * Test support for code that uses Deephaven from Deno, the same helpers this package's own tests and
 * benchmarks use: real embedded servers shared by a test run ({@linkcode serverTest},
 * {@linkcode sharedServer}), pydeephaven as a reference peer ({@linkcode runPython},
 * {@linkcode pythonArrow}), one exact table comparer ({@linkcode assertArrowEqual},
 * {@linkcode tableDiffs}), waiting on a table's events with a deadline ({@linkcode waitUntil},
 * {@linkcode nextUpdates}) and a seeded PRNG ({@linkcode mulberry32}).
 *
 * @example A test against a real server
 * ```ts ignore
 * import assert from "node:assert/strict";
 * import { barrageSession, Session } from "@dh/deephaven";
 * import { serverTest, waitUntil } from "@dh/deephaven/testing";
 *
 * serverTest("a ticking table grows", { auth: "anonymous" }, async (server) => {
 *   await using session = await Session.connect({ host: server.host, port: server.port });
 *   const bs = await barrageSession({ host: server.host, port: server.port });
 *   const live = await bs.subscribe(session.timeTable("PT0.1s"));
 *   assert.ok(await waitUntil(live, () => live.size >= 5, 10_000));
 *   await bs.close();
 * });
 * ```
 *
 * @module
 */

export {
  type DhServer,
  type ServerOptions,
  serverTest,
  type ServerTestOptions,
  sharedServer,
  startServer,
} from "./server.ts";
export {
  pythonArrow,
  pythonArrowMany,
  type PythonResult,
  runPython,
  type RunPythonOptions,
  serverEnv,
} from "./python.ts";
export {
  type ArrowEqualOptions,
  assertArrowEqual,
  type Cell,
  cellEqual,
  type TableDiffOptions,
  tableDiffs,
} from "./compare.ts";
export { nextUpdates, waitUntil } from "./wait.ts";
export { mulberry32 } from "./prng.ts";
