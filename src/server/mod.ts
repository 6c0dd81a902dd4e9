/**
 * An embedded Deephaven Community Core server (the pip package
 * `deephaven-server`, on Java 17+, bound to 127.0.0.1) for scripts,
 * notebooks, benchmarks and tests. The server stops when `stop()` is called,
 * at the end of an `await using` scope, or when this process ends.
 *
 * @example
 * ```ts ignore
 * import { Session } from "@dh/deephaven";
 * import { startServer } from "@dh/deephaven/server";
 *
 * await using server = await startServer({ script: "from deephaven import empty_table\nt = empty_table(5)" });
 * await using session = await Session.connect({ host: server.host, port: server.port });
 * console.log((await session.openTable("t").toArrow()).numRows); // 5
 * ```
 *
 * @module
 */

export {
  type EmbeddedServer,
  freePort,
  javaHome,
  type ServerApplication,
  type ServerAuth,
  type ServerOptions,
  startServer,
  venvPython,
} from "./server.ts";
