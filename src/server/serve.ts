/**
 * Starts an embedded Deephaven server for a person (`deno task server`, or
 * `deno run -A <module>/src/server/serve.ts`) and keeps it running until Ctrl-C.
 *
 * ```
 * deno task server [--auth anonymous|psk|both] [--port N] [--script tables.py] [--jvm-arg ARG ...]
 * ```
 *
 * The pre-shared key is written to a file with mode 0600 and never printed; the output says how to read it.
 *
 * @module
 */

import { parseArgs } from "node:util";
import { type ServerAuth, startServer } from "./server.ts";

const USAGE =
  "Usage: deno task server [--auth anonymous|psk|both] [--port N] [--script FILE.py] [--jvm-arg ARG]...";

function usage(message: string): never {
  console.error(`${message}\n${USAGE}`);
  Deno.exit(2);
}

async function main(): Promise<void> {
  let values;
  try {
    ({ values } = parseArgs({
      args: Deno.args,
      options: {
        auth: { type: "string", default: "anonymous" },
        port: { type: "string" },
        script: { type: "string" },
        "jvm-arg": { type: "string", multiple: true },
        help: { type: "boolean", short: "h" },
      },
      strict: true,
    }));
  } catch (e) {
    usage(e instanceof Error ? e.message : String(e));
  }
  if (values.help) {
    console.log(USAGE);
    return;
  }
  const auth = values.auth as ServerAuth;
  if (!["anonymous", "psk", "both"].includes(auth)) usage(`Unknown --auth '${auth}'.`);
  let port: number | undefined;
  if (values.port !== undefined) {
    port = Number(values.port);
    if (!Number.isInteger(port) || port <= 0 || port > 65535) {
      usage(`--port must be a port number, got '${values.port}'.`);
    }
  }
  let script: string | undefined;
  if (values.script !== undefined) {
    try {
      script = await Deno.readTextFile(values.script);
    } catch (e) {
      usage(`Cannot read the script ${values.script}: ${e instanceof Error ? e.message : e}`);
    }
  }

  console.log("Starting a Deephaven server (this takes a few seconds)...");
  const server = await startServer({
    name: "serve",
    auth,
    port,
    script,
    jvmArgs: values["jvm-arg"] ?? [],
    startTimeoutMs: 300_000,
  });

  let pskFile: string | undefined;
  if (auth !== "anonymous") {
    pskFile = `${server.logPath.replace(/\/[^/]*$/, "")}/serve-${server.port}.psk`;
    await Deno.remove(pskFile).catch(() => {});
    await Deno.writeTextFile(pskFile, server.psk, { mode: 0o600, createNew: true });
    await Deno.chmod(pskFile, 0o600);
  }

  console.log(`Deephaven server ready at ${server.target} (auth: ${auth}) after ${server.startMs} ms`);
  console.log(`Log: ${server.logPath}`);
  if (pskFile) {
    console.log(`PSK auth type: io.deephaven.authentication.psk.PskAuthenticationHandler`);
    console.log(`Read the key with: export DH_PSK="$(cat ${pskFile})"`);
  }
  console.log("Press Ctrl-C to stop.");

  const cleanup = async (code: number) => {
    if (pskFile) await Deno.remove(pskFile).catch(() => {});
    Deno.exit(code);
  };
  let stopping = false;
  const onSignal = async () => {
    if (stopping) return;
    stopping = true;
    console.log("\nStopping the server...");
    await server.stop();
    await cleanup(0);
  };
  Deno.addSignalListener("SIGINT", onSignal);
  Deno.addSignalListener("SIGTERM", onSignal);

  const status = await server.exited;
  if (stopping) return; // onSignal exits
  console.error(`The server exited on its own (code ${status.code}); see ${server.logPath}`);
  await cleanup(1);
}

if (import.meta.main) {
  try {
    await main();
  } catch (e) {
    console.error(e instanceof Error ? e.message : String(e));
    Deno.exit(1);
  }
}
