/**
 * The command line: `snapshot`, `subscribe` and `tables`.
 *
 * ```sh
 * deno run -A src/cli/main.ts snapshot --table trades --out trades.parquet
 * deno task cli subscribe dh+plain://localhost:10000/scope/trades
 * ```
 *
 * Connection flags mirror `Session.connect`; credentials can come from the
 * environment (`DH_AUTH_TYPE`, `DH_AUTH_TOKEN`) and are never echoed.
 *
 * @module
 */

import { DeephavenError, GrpcCode } from "../errors.ts";
import { barrageSession, type BarrageSessionOptions } from "../barrage/barrage_session.ts";
import { parseUri } from "../barrage/uri.ts";
import type { SubscribeOptions } from "../barrage/subscription.ts";
import { fromHex, scopeTicket } from "../session/ticket.ts";
import { Session } from "../session/session.ts";
import { type FileFormat, formatOfPath, jsonValue, writeTable } from "../export/export.ts";
import type { LocalTable } from "../table/local_table.ts";
import { formatText } from "../display/format.ts";
import * as grpc from "../deps/grpc_js.ts";
import { redact } from "../transport/redact.ts";

/** A usage error: printed on one line with the command's help hint, exit code 2. */
class UsageError extends Error {}

const CONNECTION_HELP = `Connection (flags, else environment variables):
  --host HOST            server host (DH_HOST, default localhost)
  --port PORT            server port (DH_PORT, default 10000)
  --auth-type TYPE       Anonymous | Basic | io.deephaven.authentication.psk.PskAuthenticationHandler | any handler
                         (DH_AUTH_TYPE, default Anonymous)
  --auth-token-env VAR   read the token from environment variable VAR (default DH_AUTH_TOKEN);
                         tokens are never taken from the command line, so they stay out of shell history
  --tls                  use TLS (DH_USE_TLS=1)
  --tls-root-certs FILE  PEM file of roots to trust
  --client-cert FILE     PEM client certificate chain (mutual TLS)
  --client-key FILE      PEM client private key (mutual TLS)`;

const TABLE_HELP = `Table (one of):
  --table NAME           a table in the server's global scope
  --ticket HEX           a shared ticket, as hex of its bytes (e.g. from SharedTicket.hex)
  URI                    dh+plain://host:port/scope/NAME or dh://... (TLS); overrides --host/--port`;

const HELP: Record<string, string> = {
  main: `Usage: deephaven <command> [options]

Commands:
  snapshot   write a snapshot of a table to a file (.arrow, .csv, .json, .parquet)
  subscribe  print a table's updates as they arrive
  tables     list the tables in the server's global scope

Run 'deephaven <command> --help' for a command's options.`,
  snapshot: `Usage: deephaven snapshot (--table NAME | --ticket HEX | URI) --out FILE [options]

Writes a static snapshot of a table. On a terminal, progress goes to stderr while the table arrives:
rows and bytes received of the expected total, the rate and the time left.

  --quiet                no progress and no summary on stderr (errors still are)
  --out FILE             output file; the format follows the extension (.arrow, .csv, .json, .parquet)
  --format FMT           arrow | csv | json | parquet (overrides the extension)
  --columns A,B          only these columns

${TABLE_HELP}

${CONNECTION_HELP}`,
  subscribe: `Usage: deephaven subscribe (--table NAME | --ticket HEX | URI) [options]

Prints each update as it arrives (JSON lines), or a refreshed table on a terminal.

  --columns A,B          only these columns
  --viewport FIRST:LAST  only these rows, by position
  --updates N            stop after N updates, the initial snapshot being the first
                         (default: run until interrupted)
  --format FMT           jsonl (default when not a terminal) | table (default on a terminal)

${TABLE_HELP}

${CONNECTION_HELP}`,
  tables: `Usage: deephaven tables [options]

Lists the tables in the server's global scope, one per line.

${CONNECTION_HELP}`,
};

const VALUE_FLAGS = new Set([
  "host",
  "port",
  "auth-type",
  "auth-token-env",
  "tls-root-certs",
  "client-cert",
  "client-key",
  "table",
  "ticket",
  "out",
  "format",
  "columns",
  "viewport",
  "updates",
]);
const BOOL_FLAGS = new Set(["tls", "help", "quiet"]);

interface Parsed {
  flags: Map<string, string>;
  positional: string[];
}

function parse(args: string[]): Parsed {
  const flags = new Map<string, string>();
  const positional: string[] = [];
  for (let i = 0; i < args.length; i++) {
    const a = args[i];
    if (a === "-h") {
      flags.set("help", "true");
      continue;
    }
    if (!a.startsWith("--")) {
      positional.push(a);
      continue;
    }
    const eq = a.indexOf("=");
    const name = a.slice(2, eq < 0 ? undefined : eq);
    if (name === "auth-token") {
      throw new UsageError(
        "--auth-token is not accepted (it would leak into shell history); set DH_AUTH_TOKEN",
      );
    }
    if (BOOL_FLAGS.has(name)) flags.set(name, "true");
    else if (VALUE_FLAGS.has(name)) {
      const v = eq >= 0 ? a.slice(eq + 1) : args[++i];
      if (v === undefined) throw new UsageError(`--${name} needs a value`);
      flags.set(name, v);
    } else throw new UsageError(`Unknown option --${name}`);
  }
  return { flags, positional };
}

function env(name: string): string | undefined {
  try {
    return Deno.env.get(name) || undefined;
  } catch {
    return undefined;
  }
}

async function connection(f: Map<string, string>): Promise<BarrageSessionOptions> {
  const port = f.get("port") ?? env("DH_PORT");
  if (port !== undefined && !/^\d+$/.test(port)) {
    throw new UsageError(`--port must be a number, got "${port}"`);
  }
  const read = async (flag: string) => {
    const path = f.get(flag);
    if (!path) return undefined;
    try {
      return await Deno.readTextFile(path);
    } catch (e) {
      throw new DeephavenError(
        `Cannot read --${flag} file ${JSON.stringify(path)}: ${(e as Error).message}`,
        {
          code: GrpcCode.INVALID_ARGUMENT,
        },
      );
    }
  };
  return {
    host: f.get("host") ?? env("DH_HOST") ?? "localhost",
    port: port ? Number(port) : 10000,
    authType: f.get("auth-type") ?? env("DH_AUTH_TYPE") ?? "Anonymous",
    authToken: env(f.get("auth-token-env") ?? "DH_AUTH_TOKEN") ?? "",
    useTls: f.has("tls") || env("DH_USE_TLS") === "1",
    tlsRootCerts: await read("tls-root-certs"),
    clientCertChain: await read("client-cert"),
    clientPrivateKey: await read("client-key"),
    connectTimeoutMs: 20_000,
  };
}

function target(p: Parsed, conn: BarrageSessionOptions): { ticket: Uint8Array; conn: BarrageSessionOptions } {
  const table = p.flags.get("table"), ticket = p.flags.get("ticket"), uri = p.positional[0];
  const given = [table, ticket, uri].filter((x) => x !== undefined).length;
  if (given !== 1) throw new UsageError("Name exactly one table: --table NAME, --ticket HEX, or a dh:// URI");
  try {
    if (uri !== undefined) {
      const u = parseUri(uri);
      return {
        ticket: u.ticket,
        conn: { ...conn, host: u.host, port: u.port, useTls: u.useTls || conn.useTls },
      };
    }
    return { ticket: table !== undefined ? scopeTicket(table) : fromHex(ticket as string), conn };
  } catch (e) {
    // A malformed URI or ticket is a usage error, like a malformed flag.
    if (e instanceof DeephavenError) throw new UsageError(e.message);
    throw e;
  }
}

function captureOptions(f: Map<string, string>): SubscribeOptions {
  const o: SubscribeOptions = {};
  const cols = f.get("columns");
  if (cols) o.columns = cols.split(",").map((c) => c.trim()).filter(Boolean);
  const vp = f.get("viewport");
  if (vp) {
    const m = vp.match(/^(\d+):(\d+)$/);
    if (!m) throw new UsageError(`--viewport must look like FIRST:LAST, got "${vp}"`);
    o.viewport = { first: Number(m[1]), last: Number(m[2]) };
  }
  return o;
}

/** Bytes as B, kB, MB or GB (decimal units). */
export function formatBytes(n: number): string {
  if (n < 1000) return `${n} B`;
  const units = ["kB", "MB", "GB", "TB"];
  let v = n / 1000, u = 0;
  while (v >= 1000 && u < units.length - 1) v /= 1000, u++;
  return `${v.toFixed(v < 10 ? 2 : v < 100 ? 1 : 0)} ${units[u]}`;
}

/** Seconds as `42 s`, `3 min 05 s` or `1 h 02 min`. */
export function formatDuration(s: number): string {
  if (!Number.isFinite(s) || s < 0) return "?";
  if (s < 60) return `${Math.round(s)} s`;
  const m = Math.floor(s / 60);
  if (m < 60) return `${m} min ${String(Math.round(s - 60 * m)).padStart(2, "0")} s`;
  return `${Math.floor(m / 60)} h ${String(m % 60).padStart(2, "0")} min`;
}

/**
 * One line of snapshot progress: rows and bytes received of the expected total, the rate and the time left,
 * e.g. `snapshot: 1,200,000 / 4,000,000 rows (30%) · 28.8 MB of ~96.0 MB · 14.1 MB/s · 5 s left`.
 */
export function progressLine(
  x: { rows: number; totalRows: number | undefined; bytes: number },
  elapsedMs: number,
): string {
  const n = (v: number) => v.toLocaleString("en-US");
  const parts: string[] = [];
  const total = x.totalRows;
  if (total !== undefined && total > 0) {
    parts.push(`${n(x.rows)} / ${n(total)} rows (${Math.floor((100 * x.rows) / total)}%)`);
  } else {
    parts.push(`${n(x.rows)} rows`);
  }
  const expectedBytes = total !== undefined && x.rows > 0 ? (x.bytes * total) / x.rows : undefined;
  parts.push(
    expectedBytes !== undefined && x.rows < total!
      ? `${formatBytes(x.bytes)} of ~${formatBytes(expectedBytes)}`
      : formatBytes(x.bytes),
  );
  const seconds = elapsedMs / 1000;
  if (seconds > 0) {
    const rate = x.bytes / seconds;
    parts.push(`${formatBytes(rate)}/s`);
    if (total !== undefined && x.rows > 0 && x.rows < total) {
      parts.push(`${formatDuration(((total - x.rows) * seconds) / x.rows)} left`);
    }
  }
  return `snapshot: ${parts.join(" · ")}`;
}

/** Snapshot progress on a terminal: one line redrawn in place at most 10 times a second; silent otherwise. */
class Progress {
  #started = Date.now();
  #last = 0;
  #latest: { rows: number; totalRows: number | undefined; bytes: number } | undefined;
  readonly #encoder = new TextEncoder();

  constructor(readonly out: { writeSync(b: Uint8Array): number } | undefined) {}

  report(x: { rows: number; totalRows: number | undefined; bytes: number }): void {
    this.#latest = x;
    const now = Date.now();
    if (!this.out || now - this.#last < 100) return;
    this.#last = now;
    this.#draw();
  }

  #draw(): void {
    if (!this.out || !this.#latest) return;
    const line = progressLine(this.#latest, Date.now() - this.#started);
    this.out.writeSync(this.#encoder.encode(`\r\x1b[2K${line}`));
  }

  /** Draws the final state and ends the line. */
  end(): void {
    if (!this.out || !this.#latest) return;
    this.#draw();
    this.out.writeSync(this.#encoder.encode("\n"));
  }
}

async function snapshot(p: Parsed): Promise<void> {
  const out = p.flags.get("out");
  if (!out) throw new UsageError("snapshot needs --out FILE");
  let format: string;
  try {
    format = p.flags.get("format") ?? formatOfPath(out);
  } catch (e) {
    throw new UsageError((e as Error).message);
  }
  if (!["arrow", "csv", "json", "parquet"].includes(format)) {
    throw new UsageError(`--format must be arrow, csv, json or parquet, got "${format}"`);
  }
  const capture = captureOptions(p.flags); // flags are checked before connecting
  const { ticket, conn } = target(p, await connection(p.flags));
  const bs = await barrageSession(conn);
  try {
    const quiet = p.flags.has("quiet");
    const progress = new Progress(quiet || !Deno.stderr.isTerminal() ? undefined : Deno.stderr);
    let table: LocalTable;
    try {
      table = await bs.snapshot(ticket, { ...capture, onProgress: (x) => progress.report(x) });
    } finally {
      progress.end();
    }
    // Only the asked columns go to the file (a capture keeps the others in its schema).
    const written = capture.columns ? table.view(capture.columns) : table;
    const bytes = await writeTable(written, out, format as FileFormat);
    if (!quiet) {
      console.error(
        `wrote ${written.size} rows × ${written.columns.length} columns (${bytes} bytes) to ${out}`,
      );
    }
  } finally {
    await bs.close();
  }
}

async function subscribe(p: Parsed): Promise<void> {
  const n = p.flags.get("updates");
  if (n !== undefined && !/^\d+$/.test(n)) throw new UsageError(`--updates must be a number, got "${n}"`);
  const limit = n === undefined ? Infinity : Number(n);
  const format = p.flags.get("format") ?? (Deno.stdout.isTerminal() ? "table" : "jsonl");
  if (format !== "jsonl" && format !== "table") {
    throw new UsageError(`--format must be jsonl or table, got "${format}"`);
  }
  const capture = captureOptions(p.flags); // flags are checked before connecting
  const { ticket, conn } = target(p, await connection(p.flags));
  const bs = await barrageSession(conn);
  const live = await bs.subscribe(ticket, capture);
  // Only the asked columns are shown (a capture keeps the others in its schema).
  const shown = capture.columns ? live.view(capture.columns) : live;
  const stop = () => live.close();
  Deno.addSignalListener("SIGINT", stop);
  const enc = new TextEncoder();
  const print = (s: string) => Deno.stdout.writeSync(enc.encode(s));
  try {
    const show = (kind: string, added: number, removed: number, modified: number) => {
      if (format === "table") {
        print(`\x1b[2J\x1b[H${formatText(shown, { head: 20, tail: 5 })}\n`);
      } else {
        const last = shown.size > 0 ? jsonValue(shown.row(shown.size - 1)) : null;
        print(`${JSON.stringify({ kind, size: shown.size, added, removed, modified, last })}\n`);
      }
    };
    show("snapshot", live.size, 0, 0);
    // The snapshot counts as the first update, so `--updates 1` also ends on a table that never changes.
    let count = 1;
    if (count < limit) {
      for await (const u of live.updates()) {
        show("update", u.added.size, u.removed.size, u.modified.size);
        if (++count >= limit) break;
      }
    }
  } finally {
    Deno.removeSignalListener("SIGINT", stop);
    live.close();
    await bs.close();
  }
}

async function tables(p: Parsed): Promise<void> {
  const session = await Session.connect(await connection(p.flags));
  try {
    for (const name of await session.tables()) console.log(name);
  } finally {
    await session.close();
  }
}

/**
 * Runs the command line with the given arguments.
 *
 * @param args Command-line arguments (without the program name).
 * @returns The exit code: 0 on success, 1 on failure, 2 on a usage error.
 */
export async function main(args: string[]): Promise<number> {
  const [command, ...rest] = args;
  try {
    if (!command || command === "--help" || command === "-h" || command === "help") {
      console.log(HELP.main);
      return command ? 0 : 2;
    }
    const run = { snapshot, subscribe, tables }[command];
    if (!run) {
      throw new UsageError(`Unknown command "${command}"; the commands are snapshot, subscribe, tables`);
    }
    const p = parse(rest);
    if (p.flags.has("help")) {
      console.log(HELP[command]);
      return 0;
    }
    if (command === "tables" && p.positional.length > 0) {
      throw new UsageError("tables takes no table argument");
    }
    await run(p);
    return 0;
  } catch (e) {
    if (e instanceof UsageError) {
      const help = `deephaven ${command && HELP[command] ? command + " " : ""}--help`;
      console.error(`error: ${e.message.split("\n")[0]} (run '${help}' for usage)`);
      return 2;
    }
    const msg = e instanceof Error ? e.message : String(e);
    console.error(`error: ${msg.split("\n")[0]}`);
    return 1;
  }
}

/**
 * grpc-js's own diagnostics (GRPC_TRACE / GRPC_VERBOSITY) print response headers, and so the session's
 * Bearer token. The command line owns its process, so it routes them through redaction, with grpc-js's usual
 * prefixes, to stderr. (The library itself changes nothing in grpc-js: a program that imports the module
 * and turns grpc-js tracing on decides itself where that output goes.)
 */
function redactGrpcLogs(): void {
  const out = (prefix: string) => (message?: unknown, ...rest: unknown[]) =>
    console.error(
      prefix + redact(String(message)),
      ...rest.map((r) => (typeof r === "string" ? redact(r) : r)),
    );
  grpc.setLogger({ error: out("E "), info: out("I "), debug: out("D ") });
}

if (import.meta.main) {
  redactGrpcLogs();
  Deno.exit(await main(Deno.args));
}
