/**
 * Helpers shared by the notebook tests: where the notebooks, the Jupyter tools and the results live, the
 * environment a Deno kernel needs, and {@linkcode runNotebook}, which executes one notebook headlessly through
 * `run_notebook.py` (nbclient) and returns its report.
 *
 * @module
 */

import { DeephavenError, GrpcCode } from "../src/errors.ts";
import type { NotebookExpectation } from "./notebook_expectations.ts";
import { PROJECT_ROOT, RESULTS_DIR, venvPython } from "./server.ts";

/** The folder of the example notebooks. */
export const NOTEBOOKS_DIR = `${PROJECT_ROOT}/notebooks`;
/** Where `run_notebook.py` writes executed notebooks and reports. */
export const NOTEBOOK_RESULTS_DIR = `${RESULTS_DIR}/notebooks`;
/** Where the JupyterLab test saves its screenshots. */
export const SCREENSHOTS_DIR = `${RESULTS_DIR}/screenshots`;
const RUNNER = `${PROJECT_ROOT}/testing/run_notebook.py`;

/** One iopub message as `run_notebook.py` records it. */
export interface MessageRecord {
  /** Arrival order, from 0. */
  seq: number;
  /** Seconds since the kernel client started. */
  t: number;
  /** The Jupyter message type, such as `display_data`. */
  msg_type: string;
  /** The cell whose execute request is the message's parent, or null. */
  parent_cell: number | null;
  /** The cell nbclient was executing when it read the message, or null. */
  running_cell: number | null;
  /** Whether nbclient processed the message (late messages are dropped). */
  applied: boolean;
  /** `transient.display_id`, when set. */
  display_id?: string;
  /** The MIME bundle of display messages. */
  data?: Record<string, unknown>;
  /** The stream name of `stream` messages. */
  name?: string;
  /** The text of `stream` messages. */
  text?: string;
  /** The error name of `error` messages. */
  ename?: string;
  /** The error value of `error` messages. */
  evalue?: string;
  /** The traceback lines of `error` messages. */
  traceback?: string[];
  /** The state of `status` messages. */
  execution_state?: string;
}

/** An output of a cell in an executed notebook (nbformat 4). */
export interface NotebookOutput {
  /** `display_data`, `execute_result`, `stream` or `error`. */
  output_type: string;
  /** The MIME bundle; text values may be split into lines. */
  data?: Record<string, string | string[] | unknown>;
  /** Stream text. */
  text?: string | string[];
  /** Error name. */
  ename?: string;
  /** Error value. */
  evalue?: string;
}

/** One cell of a report. */
export interface CellReport {
  /** The cell's position. */
  index: number;
  /** `code`, `markdown` or `raw`. */
  cell_type: string;
  /** The cell's source. */
  source: string;
  /** Its outputs in the executed notebook. */
  outputs: NotebookOutput[];
  /** The iopub messages whose parent is this cell's execute request. */
  messages: MessageRecord[];
}

/** What `run_notebook.py` learned about one display id. */
export interface DisplayIdReport {
  /** The cell of the first `display_data`, or null. */
  first_cell: number | null;
  /** How many `display_data`/`execute_result` messages carried the id. */
  display_data: number;
  /** How many `update_display_data` messages carried the id. */
  updates: number;
  /** How many of those nbclient applied. */
  applied_updates: number;
  /** `[cell, output]` positions of the outputs nbclient keeps for the id in the executed notebook. */
  outputs: [number, number][];
}

/** The JSON report written by `run_notebook.py`. */
export interface NotebookReport {
  /** The notebook that ran. */
  notebook: string;
  /** The executed copy. */
  executed_notebook: string;
  /** The kernel name. */
  kernel: string;
  /** Wall time of the run in seconds. */
  seconds: number;
  /** Whether every cell ran (errors inside cells do not count). */
  ok: boolean;
  /** Why the run failed, or null. */
  failure: string | null;
  /** The number of iopub messages read. */
  message_count: number;
  /** The cells. */
  cells: CellReport[];
  /** Messages whose parent is no cell. */
  other_messages: MessageRecord[];
  /** Per display id. */
  display_ids: Record<string, DisplayIdReport>;
}

/** The outcome of {@linkcode runNotebook}. */
export interface NotebookRun {
  /** The parsed report. */
  report: NotebookReport;
  /** The runner's exit code. */
  code: number;
  /** The runner's stderr (kernel start-up noise, tracebacks). */
  stderr: string;
  /** Wall time including Python start-up, in milliseconds. */
  ms: number;
}

/** The project's cache dir (`$DH_DENO_CACHE`, default `~/.cache/dh-deno`). */
export function cacheDir(): string {
  return Deno.env.get("DH_DENO_CACHE") ?? `${Deno.env.get("HOME") ?? ""}/.cache/dh-deno`;
}

/**
 * Returns the path of an executable of the project's venv, such as `jupyter-lab`.
 *
 * @param name The executable's name.
 * @returns Its path beside the venv's Python.
 * @throws {DeephavenError} When it does not exist (run `scripts/setup.sh`).
 */
export function venvBin(name: string): string {
  const python = venvPython();
  const path = `${python.slice(0, python.lastIndexOf("/"))}/${name}`;
  try {
    Deno.statSync(path);
  } catch {
    throw new DeephavenError(
      `${path} does not exist; run scripts/setup.sh to install Jupyter into the venv`,
      {
        code: GrpcCode.FAILED_PRECONDITION,
      },
    );
  }
  return path;
}

/**
 * Returns the environment a Jupyter process needs to find the project's Deno kernelspec:
 * `JUPYTER_PATH` with `<cache>/jupyter` first, and the variables Deno needs here.
 *
 * @param extra More variables, such as `DH_HOST` and `DH_PORT`.
 * @returns The variables to add to the inherited environment.
 * @throws {DeephavenError} When the kernelspec is missing (run `scripts/setup.sh`).
 */
export function jupyterEnv(extra: Record<string, string> = {}): Record<string, string> {
  const dir = `${cacheDir()}/jupyter`;
  try {
    Deno.statSync(`${dir}/kernels/deno/kernel.json`);
  } catch {
    throw new DeephavenError(
      `The Deno kernelspec ${dir}/kernels/deno/kernel.json is missing; run scripts/setup.sh`,
      { code: GrpcCode.FAILED_PRECONDITION },
    );
  }
  const rest = (Deno.env.get("JUPYTER_PATH") ?? "").split(":").filter((p) => p.length > 0 && p !== dir);
  return {
    JUPYTER_PATH: [dir, ...rest].join(":"),
    DENO_TLS_CA_STORE: "system",
    NO_COLOR: "1",
    RUST_BACKTRACE: "0",
    PYTHONUNBUFFERED: "1",
    ...extra,
  };
}

/**
 * Lists the notebooks in `notebooks/`, sorted by name.
 *
 * @returns File names such as `00_smoke.ipynb`.
 */
export function listNotebooks(): string[] {
  const names: string[] = [];
  try {
    for (const entry of Deno.readDirSync(NOTEBOOKS_DIR)) {
      if (entry.isFile && entry.name.endsWith(".ipynb")) names.push(entry.name);
    }
  } catch {
    // no notebooks folder
  }
  return names.sort();
}

/**
 * Joins a notebook text value, which nbformat may store as a list of lines.
 *
 * @param value A string, a list of strings, or anything else (JSON-encoded).
 * @returns The text.
 */
export function joinText(value: unknown): string {
  if (typeof value === "string") return value;
  if (Array.isArray(value) && value.every((v) => typeof v === "string")) return value.join("");
  return JSON.stringify(value);
}

/**
 * Executes one notebook with `run_notebook.py` and the `deno` kernel, and reads its report.
 *
 * @param name The notebook's file name in `notebooks/`.
 * @param options `env`: variables passed to the runner and so to the kernel (DH_HOST, DH_PORT);
 * `timeoutMs`: the deadline for the whole run (default 300000); `cellTimeoutS`: per cell (default 180);
 * `outDir`: where the executed notebook and the report go (default {@linkcode NOTEBOOK_RESULTS_DIR}).
 * @returns The report, exit code and stderr.
 * @throws {DeephavenError} When the runner misses its deadline or writes no report.
 *
 * @example
 * ```ts ignore
 * const { report } = await runNotebook("00_smoke.ipynb");
 * console.log(report.display_ids);
 * ```
 */
export function runNotebook(name: string, options: RunOptions = {}): Promise<NotebookRun> {
  return runNotebookFile(`${NOTEBOOKS_DIR}/${name}`, options);
}

/** Options of {@linkcode runNotebook} and {@linkcode runNotebookFile}. */
export interface RunOptions {
  /** Variables passed to the runner and so to the kernel (DH_HOST, DH_PORT). */
  env?: Record<string, string>;
  /** The deadline for the whole run, ms. Default 300000. */
  timeoutMs?: number;
  /** The deadline per cell, s. Default 180. */
  cellTimeoutS?: number;
  /** Where the executed notebook and the report go. Default {@linkcode NOTEBOOK_RESULTS_DIR}. */
  outDir?: string;
}

/**
 * Executes the notebook at `path` (anywhere under the project, so that its imports resolve) like
 * {@linkcode runNotebook}.
 *
 * @param path The notebook's path.
 * @param options As for {@linkcode runNotebook}.
 * @returns The report, exit code and stderr.
 */
export async function runNotebookFile(path: string, options: RunOptions = {}): Promise<NotebookRun> {
  const name = path.slice(path.lastIndexOf("/") + 1);
  const timeoutMs = options.timeoutMs ?? 300_000;
  const outDir = options.outDir ?? NOTEBOOK_RESULTS_DIR;
  const reportPath = `${outDir}/${name.replace(/\.ipynb$/, "")}.json`;
  await Deno.remove(reportPath).catch(() => {});
  const started = performance.now();
  const controller = new AbortController();
  const timer = setTimeout(() => controller.abort(), timeoutMs);
  let output: Deno.CommandOutput;
  try {
    output = await new Deno.Command(venvPython(), {
      args: [
        RUNNER,
        path,
        "--timeout",
        String(options.cellTimeoutS ?? 180),
        "--out-dir",
        outDir,
      ],
      env: jupyterEnv(options.env),
      cwd: PROJECT_ROOT,
      stdin: "null",
      stdout: "piped",
      stderr: "piped",
      signal: controller.signal,
    }).output();
  } finally {
    clearTimeout(timer);
  }
  const ms = Math.round(performance.now() - started);
  const stderr = new TextDecoder().decode(output.stderr);
  if (controller.signal.aborted) {
    throw new DeephavenError(
      `Running ${name} took longer than ${timeoutMs} ms and was stopped; stderr:\n${stderr.slice(-3000)}`,
      { code: GrpcCode.DEADLINE_EXCEEDED },
    );
  }
  let report: NotebookReport;
  try {
    report = JSON.parse(await Deno.readTextFile(reportPath));
  } catch (e) {
    throw new DeephavenError(
      `run_notebook.py wrote no report for ${name} (exit code ${output.code}); stderr:\n${
        stderr.slice(-3000)
      }`,
      { code: GrpcCode.INTERNAL, cause: e },
    );
  }
  return { report, code: output.code, stderr, ms };
}

/** An executed notebook, as nbformat writes it (the fields read here). */
export interface ExecutedNotebook {
  /** Its cells. */
  cells: { cell_type: string; source?: string | string[]; outputs?: NotebookOutput[] }[];
}

/** Whether an output shows something: a non-empty bundle, a stream or an error. */
function showsSomething(o: NotebookOutput): boolean {
  if (o.output_type === "stream" || o.output_type === "error") return true;
  return Object.keys(o.data ?? {}).length > 0;
}

/**
 * The code cells whose executed outputs fall short of `expect.cellOutputs`, as readable lines (empty when
 * every cell shows what it should).
 */
export function missingOutputs(executed: ExecutedNotebook, expect: NotebookExpectation): string[] {
  const code = executed.cells.map((c, i) => ({ c, i })).filter(({ c }) => c.cell_type === "code");
  const missing: string[] = [];
  if (code.length !== expect.cellOutputs.length) {
    missing.push(
      `expectations.ts lists ${expect.cellOutputs.length} code cells, the notebook has ${code.length}`,
    );
  }
  code.forEach(({ c, i }, k) => {
    const want = expect.cellOutputs[k] ?? 0;
    const have = (c.outputs ?? []).filter(showsSomething).length;
    if (have < want) missing.push(`cell ${i}: ${have} of ${want} outputs`);
  });
  return missing;
}
