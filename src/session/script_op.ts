/**
 * Table operations that the server offers only through its Python script session (for example outer joins
 * and `head_pct` on a ticking table): the source tables are bound to fresh variables of the server's scope,
 * one command computes the result and removes them, the result is copied into this session's export, and its
 * variable is removed too. Also the one script console of a session (not public API).
 *
 * @module
 */

import { DeephavenError, GrpcCode } from "../errors.ts";
import { rpc } from "../transport/rpc.ts";
import type { SessionCore, TableInfo } from "./core.ts";
import { tableInfo } from "./core.ts";
import { scopeTicket } from "./ticket.ts";
import { ConsoleService } from "../generated/proto/deephaven_core/proto/console_pb.ts";
import { TableService } from "../generated/proto/deephaven_core/proto/table_pb.ts";

const consoles = new WeakMap<SessionCore, Promise<Uint8Array>>();
const watched = new WeakSet<SessionCore>();

/**
 * The ticket of the session's Python script console, started on first use (again after the server gave a new
 * session).
 *
 * @param core The session.
 * @returns The console's ticket.
 */
export function consoleTicket(core: SessionCore): Promise<Uint8Array> {
  if (!watched.has(core)) {
    watched.add(core);
    core.onNewSession(() => consoles.delete(core));
  }
  let id = consoles.get(core);
  if (!id) {
    const ticket = core.newExportTicket();
    id = core.channel.unary(rpc(ConsoleService.method.startConsole), {
      resultId: { ticket },
      sessionType: "python",
    }, { what: "Starting a script console" }).then(() => ticket);
    consoles.set(core, id);
    id.catch(() => consoles.delete(core));
  }
  return id;
}

/** The Python exception line of a script error (the server's text has a traceback and a Java stack). */
function reason(text: string): string {
  const lines = text.split("\n").map((l) => l.trim());
  const exceptions = lines.filter((l) =>
    /^[A-Za-z_.]*(Error|Exception)\b.*: /.test(l) && !l.includes("Error in Python interpreter")
  );
  return exceptions.length ? exceptions[exceptions.length - 1] : lines[0];
}

/**
 * Runs Python code in the session's console.
 *
 * @param core The session.
 * @param code The code.
 * @param what What is being done, for errors.
 * @param concise Give only the exception line in the message (the whole text stays in `details`).
 * @throws {DeephavenError} `INVALID_ARGUMENT` with the server's error when the code fails.
 */
export async function execute(core: SessionCore, code: string, what: string, concise = false): Promise<void> {
  const consoleId = await consoleTicket(core);
  const r = await core.channel.unary(rpc(ConsoleService.method.executeCommand), {
    consoleId: { ticket: consoleId },
    code,
  }, { what });
  if (r.errorMessage) {
    throw new DeephavenError(`${what} failed: ${concise ? reason(r.errorMessage) : r.errorMessage}`, {
      code: GrpcCode.INVALID_ARGUMENT,
      details: r.errorMessage,
    });
  }
}

/**
 * A Python literal of a string or a list of strings (JSON strings are Python string literals).
 *
 * @param x The value.
 * @returns The literal.
 */
export function py(x: string | readonly string[]): string {
  return typeof x === "string" ? JSON.stringify(x) : `[${x.map((s) => JSON.stringify(s)).join(", ")}]`;
}

/**
 * Computes a table with the server's Python API into the export `result`.
 *
 * @param core The session.
 * @param result The export ticket to create.
 * @param inputs The tickets of the source tables, bound to variables first.
 * @param body Python code that assigns the result to the variable `out`, given the inputs' variable names.
 * @param what What is being done, for errors.
 * @returns The result's info.
 * @throws {DeephavenError} `INVALID_ARGUMENT` with the server's error when the code fails.
 */
export async function scriptTable(
  core: SessionCore,
  result: Uint8Array,
  inputs: readonly Uint8Array[],
  body: (names: string[], out: string) => string,
  what: string,
): Promise<TableInfo> {
  const prefix = `__dh_deno_${crypto.randomUUID().replaceAll("-", "").slice(0, 16)}`;
  const names = inputs.map((_, i) => `${prefix}_in${i}`);
  const out = `${prefix}_out`;
  const consoleId = await consoleTicket(core);
  const drop = (vars: string[]) => `[globals().pop(__n, None) for __n in ${py(vars)}]`;
  try {
    await Promise.all(
      inputs.map((ticket, i) =>
        core.channel.unary(rpc(ConsoleService.method.bindTableToVariable), {
          consoleId: { ticket: consoleId },
          variableName: names[i],
          tableId: { ticket },
        }, { what })
      ),
    );
  } catch (e) {
    await execute(core, drop(names), what).catch(() => {});
    throw e;
  }
  const code = `try:\n    ${body(names, out).split("\n").join("\n    ")}\nfinally:\n    ${drop(names)}\n`;
  await execute(core, code, what, true);
  try {
    const r = await core.channel.unary(rpc(TableService.method.fetchTable), {
      sourceId: { ref: { case: "ticket", value: { ticket: scopeTicket(out) } } },
      resultId: { ticket: result },
    }, { what });
    return tableInfo(r, what);
  } finally {
    await execute(core, drop([out]), what).catch(() => {});
  }
}
