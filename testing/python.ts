/**
 * Runs Python peer code (pydeephaven, pyarrow) in the test venv, to compare this module's results
 * with the official Python client's.
 *
 * Secrets travel in environment variables (use {@linkcode serverEnv}), never in the code text. The
 * folder `testing/` is on `PYTHONPATH`, so snippets can `from dh_peer import psk_session,
 * anonymous_session`.
 *
 * @example
 * ```ts
 * import { pythonArrow, serverEnv } from "./python.ts";
 *
 * const table = await pythonArrow(
 *   `from dh_peer import anonymous_session
 * result = anonymous_session().empty_table(3).update(["X = i"]).to_arrow()`,
 *   serverEnv(server),
 * );
 * ```
 *
 * @module
 */

import { type Table, tableFromIPC } from "../src/deps/apache_arrow.ts";
import { DeephavenError, GrpcCode } from "../src/errors.ts";
import { type DhServer, PROJECT_ROOT, venvPython } from "./server.ts";

/** Options for {@linkcode runPython}. */
export interface RunPythonOptions {
  /** Extra environment variables for the process (secrets go here). */
  env?: Record<string, string>;
  /** Kill the process after this many milliseconds. Default 120000. */
  timeoutMs?: number;
}

/** The outcome of a successful {@linkcode runPython}. */
export interface PythonResult {
  /** The exit code (always 0; a non-zero exit throws). */
  code: number;
  /** Everything the process wrote to stdout. */
  stdout: string;
  /** Everything the process wrote to stderr. */
  stderr: string;
}

const HARNESS_DIR = `${PROJECT_ROOT}/testing`;

function tail(text: string, n: number): string {
  const lines = text.trimEnd().split("\n");
  return lines.slice(-n).join("\n");
}

/**
 * Returns the environment variables that point Python peer code at `server`: `DH_HOST`, `DH_PORT` and `DH_PSK`.
 *
 * @param server The server.
 * @returns The variables, for {@linkcode RunPythonOptions.env}.
 */
export function serverEnv(server: DhServer): Record<string, string> {
  return { DH_HOST: server.host, DH_PORT: String(server.port), DH_PSK: server.psk };
}

/**
 * Runs Python code with the venv interpreter.
 *
 * @param code The Python source.
 * @param options Extra environment and a timeout.
 * @returns The exit code, stdout and stderr.
 * @throws {DeephavenError} When the process exits non-zero (message holds the last 30 stderr lines) or times out.
 *
 * @example
 * ```ts
 * const { stdout } = await runPython("print(1 + 1)");
 * ```
 */
export async function runPython(code: string, options: RunPythonOptions = {}): Promise<PythonResult> {
  const timeoutMs = options.timeoutMs ?? 120_000;
  const file = await Deno.makeTempFile({ prefix: "dh-peer-", suffix: ".py" });
  try {
    await Deno.writeTextFile(file, code);
    const pythonPath = [HARNESS_DIR, Deno.env.get("PYTHONPATH")].filter((p) => p).join(":");
    const child = new Deno.Command(venvPython(), {
      args: [file],
      env: { PYTHONUNBUFFERED: "1", PYTHONDONTWRITEBYTECODE: "1", PYTHONPATH: pythonPath, ...options.env },
      cwd: PROJECT_ROOT,
      stdin: "null",
      stdout: "piped",
      stderr: "piped",
    }).spawn();
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      try {
        child.kill("SIGKILL");
      } catch {
        // already gone
      }
    }, timeoutMs);
    let out: Deno.CommandOutput;
    try {
      out = await child.output();
    } finally {
      clearTimeout(timer);
    }
    const stdout = new TextDecoder().decode(out.stdout);
    const stderr = new TextDecoder().decode(out.stderr);
    if (timedOut) {
      throw new DeephavenError(
        `The Python peer timed out after ${timeoutMs} ms and was killed; last stderr lines:\n${
          tail(stderr, 30)
        }`,
        { code: GrpcCode.DEADLINE_EXCEEDED },
      );
    }
    if (out.code !== 0) {
      throw new DeephavenError(
        `The Python peer exited with code ${out.code}; last stderr lines:\n${tail(stderr, 30)}`,
        { code: GrpcCode.UNKNOWN },
      );
    }
    return { code: out.code, stdout, stderr };
  } finally {
    await Deno.remove(file).catch(() => {});
  }
}

/** Python that runs the user's file as __main__ and writes its `result` as Arrow IPC streams. */
const ARROW_DRIVER = `
import json, os, runpy, sys
import pyarrow as pa

def _write(table, path):
    if not isinstance(table, pa.Table):
        raise TypeError("result must be a pyarrow.Table, got %s" % type(table).__name__)
    with pa.OSFile(path, "wb") as sink:
        with pa.ipc.new_stream(sink, table.schema) as writer:
            writer.write_table(table)

_globals = runpy.run_path(os.environ["DH_PEER_CODE"], run_name="__main__")
if "result" not in _globals:
    raise NameError("the Python peer code must set a variable named 'result'")
_result = _globals["result"]
_out = os.environ["DH_PEER_OUT"]
if os.environ["DH_PEER_MANY"] == "1":
    if not isinstance(_result, dict):
        raise TypeError("result must be a dict of name -> pyarrow.Table, got %s" % type(_result).__name__)
    _names = []
    for _i, (_name, _table) in enumerate(_result.items()):
        _write(_table, os.path.join(_out, "%d.arrow" % _i))
        _names.append(str(_name))
    with open(os.path.join(_out, "names.json"), "w") as f:
        json.dump(_names, f)
else:
    _write(_result, os.path.join(_out, "0.arrow"))
`;

async function runArrow(
  code: string,
  many: boolean,
  env: Record<string, string>,
): Promise<Map<string, Table>> {
  const dir = await Deno.makeTempDir({ prefix: "dh-peer-arrow-" });
  try {
    const codeFile = `${dir}/peer_code.py`;
    await Deno.writeTextFile(codeFile, code);
    await runPython(ARROW_DRIVER, {
      env: { ...env, DH_PEER_CODE: codeFile, DH_PEER_OUT: dir, DH_PEER_MANY: many ? "1" : "0" },
    });
    const names: string[] = many ? JSON.parse(await Deno.readTextFile(`${dir}/names.json`)) : [""];
    const tables = new Map<string, Table>();
    for (const [i, name] of names.entries()) {
      tables.set(name, tableFromIPC(await Deno.readFile(`${dir}/${i}.arrow`)));
    }
    return tables;
  } finally {
    await Deno.remove(dir, { recursive: true }).catch(() => {});
  }
}

/**
 * Runs Python code that sets `result` to a `pyarrow.Table` and returns that table as an apache-arrow `Table`
 * (sent through an Arrow IPC stream file).
 *
 * @param code The Python source; it must assign `result`.
 * @param env Extra environment variables, such as {@linkcode serverEnv}`(server)`.
 * @returns The table.
 * @throws {DeephavenError} When the Python code fails or `result` is not a pyarrow Table.
 *
 * @example
 * ```ts
 * const t = await pythonArrow('import pyarrow as pa\nresult = pa.table({"X": [1, 2, 3]})');
 * console.assert(t.numRows === 3);
 * ```
 */
export async function pythonArrow(code: string, env: Record<string, string> = {}): Promise<Table> {
  const tables = await runArrow(code, false, env);
  return tables.get("")!;
}

/**
 * Runs Python code that sets `result` to a dict of name -> `pyarrow.Table`, and returns them as a `Map` of
 * apache-arrow tables, in the dict's order. One Python process serves many comparisons.
 *
 * @param code The Python source; it must assign `result`.
 * @param env Extra environment variables, such as {@linkcode serverEnv}`(server)`.
 * @returns The tables by name.
 * @throws {DeephavenError} When the Python code fails or `result` is not such a dict.
 *
 * @example
 * ```ts
 * const m = await pythonArrowMany('import pyarrow as pa\nresult = {"a": pa.table({"X": [1]})}');
 * console.assert(m.get("a")!.numRows === 1);
 * ```
 */
export function pythonArrowMany(code: string, env: Record<string, string> = {}): Promise<Map<string, Table>> {
  return runArrow(code, true, env);
}
