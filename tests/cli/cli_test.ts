/**
 * The command line against the real server, run as a subprocess (`deno run -A src/cli/main.ts ...`):
 * `snapshot` to .arrow/.csv/.json/.parquet from `--table`, `--ticket HEX` and a `dh+plain://` URI, read back
 * and compared with a DoGet of the source; `subscribe --updates N` on a ticking and on a static table;
 * `tables`; `--help`;
 * usage errors (one line, exit 2); an unreachable server (one line, exit 1); PSK auth from the environment
 * without the key ever showing. Also `resolveUri` (subscribe and snapshot) and `parseUri`.
 */

import assert from "node:assert/strict";
import * as arrow from "apache-arrow";
import {
  barrageSession,
  DeephavenError,
  GrpcCode,
  parseUri,
  PSK_AUTH,
  resolveUri,
  Session,
  SharedTicket,
} from "../../mod.ts";
import { scopeTicket } from "../../src/session/ticket.ts";
import { LiveTable } from "../../src/barrage/subscription.ts";
import { freePort, PROJECT_ROOT, serverTest } from "../../testing/server.ts";
import { fromParquet } from "../../src/export/mod.ts";
import { type Cell, nanos, parseCsv, parseIsoNanos, tableDiffs } from "../../testing/compare.ts";
import { waitUntil } from "../../testing/wait.ts";

const MAIN = `${PROJECT_ROOT}/src/cli/main.ts`;

interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

/** The environment of scripts/env.sh without any DH_* variable, plus `extra`. */
function cliEnv(extra: Record<string, string>): Record<string, string> {
  const env: Record<string, string> = {};
  for (const [k, v] of Object.entries(Deno.env.toObject())) if (!k.startsWith("DH_")) env[k] = v;
  Object.assign(env, { DENO_TLS_CA_STORE: "system", NO_COLOR: "1", RUST_BACKTRACE: "0" }, extra);
  return env;
}

/** Runs a command (Deno's or `script` wrapping it) with the CLI's environment; killed after `timeoutMs`. */
async function spawn(
  program: string,
  args: string[],
  env: Record<string, string>,
  timeoutMs: number,
): Promise<{ code: number; stdout: string; stderr: string }> {
  const child = new Deno.Command(program, {
    args,
    cwd: PROJECT_ROOT,
    env: cliEnv(env),
    clearEnv: true,
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const timer = setTimeout(() => {
    try {
      child.kill("SIGKILL");
    } catch {
      // already gone
    }
  }, timeoutMs);
  try {
    const out = await child.output();
    const dec = new TextDecoder();
    // Deno itself says this when parallel runs wait for each other on node_modules; it is not the CLI's output.
    const stderr = dec.decode(out.stderr).replace(
      /^Blocking waiting for file lock on node_modules directory\n/gm,
      "",
    );
    return { code: out.code, stdout: dec.decode(out.stdout), stderr };
  } finally {
    clearTimeout(timer);
  }
}

/** Runs the CLI with a deadline (the process is killed after `timeoutMs`). */
function cli(args: string[], env: Record<string, string> = {}, timeoutMs = 90_000): Promise<Run> {
  return spawn(Deno.execPath(), ["run", "-A", MAIN, ...args], env, timeoutMs);
}

function describe(args: string[], r: Run): string {
  return `deephaven ${args.join(" ")} -> exit ${r.code}\nstdout: ${
    r.stdout.slice(0, 2000)
  }\nstderr: ${r.stderr}`;
}

/** The output is one line that starts with "error: ", with no stack trace. */
function assertOneLineError(args: string[], r: Run): void {
  const lines = r.stderr.trimEnd().split("\n");
  assert.equal(lines.length, 1, `one line of error: ${describe(args, r)}`);
  assert.match(lines[0], /^error: \S/, describe(args, r));
  assert.doesNotMatch(r.stderr, /\bat .*\.ts:\d+|Stack backtrace/, "no stack trace");
}

// ---------------------------------------------------------------- help, usage errors, unreachable server

Deno.test("--help on every command prints the usage and exits 0", async () => {
  const cases = [
    ["--help"],
    ["-h"],
    ["help"],
    ["snapshot", "--help"],
    ["snapshot", "-h"],
    ["subscribe", "--help"],
    ["tables", "--help"],
    ["snapshot", "--table", "x", "--help"],
  ];
  const runs = await Promise.all(cases.map((args) => cli(args)));
  runs.forEach((r, i) => {
    const args = cases[i];
    assert.equal(r.code, 0, describe(args, r));
    assert.match(r.stdout, /^Usage: deephaven /, describe(args, r));
    assert.equal(r.stderr, "", describe(args, r));
    const command = args[0].startsWith("-") || args[0] === "help" ? "<command>" : args[0];
    assert.ok(r.stdout.startsWith(`Usage: deephaven ${command}`), describe(args, r));
  });
  // Every command's help names the connection flags and the environment variables.
  for (const r of runs.slice(3)) assert.match(r.stdout, /--auth-type[\s\S]*DH_AUTH_TOKEN/);
});

Deno.test("bad flags give a one-line error and exit 2, without echoing values", async () => {
  const secret = `secret-${crypto.randomUUID()}`;
  const cases: [string[], RegExp][] = [
    [["bogus"], /Unknown command "bogus"/],
    [["snapshot", "--bogus", "--table", "t", "--out", "x.csv"], /Unknown option --bogus/],
    [["snapshot", "--table", "t"], /needs --out/],
    [["snapshot", "--out", "x.csv"], /Name exactly one table/],
    [["snapshot", "--table", "a", "--ticket", "00ff", "--out", "x.csv"], /Name exactly one table/],
    [["snapshot", "--out", "x.csv", "--table"], /--table needs a value/],
    [["snapshot", "--table", "t", "--out", "x.txt"], /Cannot tell the format of "x.txt"/],
    [["snapshot", "--table", "t", "--out", "x.csv", "--format", "xml"], /--format must be/],
    [["snapshot", "--out", "x.csv", "dh+plain://localhost:10000/nowhere/t"], /Cannot read the URI/],
    [["snapshot", "--out", "x.csv", "--ticket", "xyz"], /Cannot parse ticket hex/],
    [["snapshot", "--table", "t", "--out", "x.csv", "--port", "ten"], /--port must be a number/],
    [["subscribe", "--table", "t", "--updates", "two"], /--updates must be a number/],
    [["subscribe", "--table", "t", "--viewport", "5"], /--viewport must look like FIRST:LAST/],
    [["subscribe", "--table", "t", "--format", "xml"], /--format must be jsonl or table/],
    [["tables", "t"], /tables takes no table argument/],
    [["tables", "--auth-token", secret], /--auth-token is not accepted/],
    [["tables", `--auth-token=${secret}`], /--auth-token is not accepted/],
    [["snapshot", `--auth-tokn=${secret}`], /Unknown option --auth-tokn/],
  ];
  const runs = await Promise.all(cases.map(([args]) => cli(args)));
  runs.forEach((r, i) => {
    const [args, message] = cases[i];
    assert.equal(r.code, 2, describe(args, r));
    assertOneLineError(args, r);
    assert.match(r.stderr, message, describe(args, r));
    assert.match(r.stderr, /run 'deephaven .*--help' for usage/, describe(args, r));
    assert.equal(r.stdout, "", describe(args, r));
    assert.ok(!r.stderr.includes(secret), `the token is never echoed: ${describe(args, r)}`);
  });
  // No command at all: the usage, exit 2.
  const none = await cli([]);
  assert.equal(none.code, 2);
  assert.match(none.stdout, /^Usage: deephaven <command>/);
});

Deno.test("an unreachable server (a closed port) gives a one-line error and exit 1", async () => {
  const port = String(freePort());
  const cases = [
    ["tables", "--host", "127.0.0.1", "--port", port],
    [
      "snapshot",
      "--table",
      "t",
      "--out",
      "/nonexistent-dir/never-written.csv",
      "--host",
      "127.0.0.1",
      "--port",
      port,
    ],
    ["subscribe", `dh+plain://127.0.0.1:${port}/scope/t`, "--updates", "1"],
  ];
  const started = Date.now();
  const runs = await Promise.all(cases.map((args) => cli(args, {}, 60_000)));
  runs.forEach((r, i) => {
    assert.equal(r.code, 1, describe(cases[i], r));
    assertOneLineError(cases[i], r);
    assert.match(r.stderr, new RegExp(`127\\.0\\.0\\.1:${port}`), describe(cases[i], r));
    assert.equal(r.stdout, "");
  });
  assert.ok(Date.now() - started < 45_000, "the failure is reported without a long wait");
});

Deno.test("parseUri reads scope and application URIs and refuses others", () => {
  const a = parseUri("dh+plain://localhost:10000/scope/trades");
  assert.deepEqual([a.useTls, a.host, a.port, a.path], [false, "localhost", 10000, "scope/trades"]);
  assert.deepEqual(a.ticket, scopeTicket("trades"));
  const b = parseUri("dh://example.com/scope/my%20table");
  assert.deepEqual([b.useTls, b.host, b.port, b.path], [true, "example.com", 443, "scope/my table"]);
  assert.deepEqual(b.ticket, scopeTicket("my table"));
  assert.equal(parseUri("dh+plain://host/scope/t").port, 10000);
  const c = parseUri("dh+plain://[::1]:8080/app/my_app/field/prices");
  assert.deepEqual([c.host, c.port, c.path], ["::1", 8080, "app/my_app/field/prices"]);
  assert.equal(new TextDecoder().decode(c.ticket), "a/my_app/f/prices");
  for (
    const bad of [
      "http://localhost:10000/scope/t",
      "dh+plain://localhost:10000/scope/",
      "dh+plain://localhost:10000/scope/a/b",
      "dh+plain://localhost:10000/app/x/field",
      "dh+plain://localhost:10000/",
      "dh+plain:/localhost/scope/t",
    ]
  ) {
    assert.throws(
      () => parseUri(bad),
      (e) =>
        e instanceof DeephavenError && e.code === GrpcCode.INVALID_ARGUMENT &&
        /Cannot read the URI/.test(e.message),
      bad,
    );
  }
});

// ---------------------------------------------------------------- against the server

/** Python list literal of JS values (null as None). */
function py(values: unknown[]): string {
  return `[${
    values.map((
      v,
    ) => (v === null ? "None" : typeof v === "boolean" ? (v ? "True" : "False") : JSON.stringify(v)))
      .join(", ")
  }]`;
}

const STRINGS = ["plain", "a,b", 'say "hi"', "line1\nline2", "cr\r\nlf", "", null, "unicode ✓ ü", " padded "];
const N = STRINGS.length;

/** A static table with every kind of value the exports must carry. */
function sourceScript(name: string): string {
  const nanosValues = [
    1_700_000_000_123_456_789n,
    0n,
    -1_000_000_001n,
    1_700_000_000_000_000_000n,
    5n,
    6n,
    7n,
    8n,
    9n,
  ];
  return `
from deephaven import new_table
from deephaven.column import int_col, long_col, double_col, string_col, bool_col
from deephaven.constants import NULL_INT, NULL_LONG, NULL_DOUBLE
${name} = new_table([
    int_col("I", [1, -2, NULL_INT, 2147483647, -2147483647, 0, 7, 8, 9]),
    long_col("L", [2**60 + 1, -(2**53) - 3, 0, NULL_LONG, 9007199254740991, -1, 5, 6, 7]),
    double_col("D", [0.1, float("nan"), NULL_DOUBLE, float("inf"), float("-inf"), -0.5, 1e-300, 123456789.125, 1/3]),
    string_col("S", ${py(STRINGS)}),
    bool_col("B", ${py([true, false, null, true, false, true, null, false, true])}),
    long_col("TN", [${nanosValues.join(", ")}]),
]).update(["T = i == 4 ? null : epochNanosToInstant(TN)"]).drop_columns(["TN"])
`;
}

/** A value as apache-arrow returns it, made comparable with CSV text (timestamps as ms). */
function cell(v: unknown): Cell {
  if (v === null || v === undefined) return null;
  if (v instanceof Date) return v.getTime();
  if (typeof v === "number" || typeof v === "bigint" || typeof v === "string" || typeof v === "boolean") {
    return v;
  }
  return JSON.stringify(v, (_k, x) => (typeof x === "bigint" ? `${x}n` : x));
}

/** Printable form of a cell (bigints with `n`, NaN and infinities spelled out). */
function show(v: unknown): string {
  return JSON.stringify(
    v,
    (_k, x) => typeof x === "bigint" ? `${x}n` : typeof x === "number" && !Number.isFinite(x) ? String(x) : x,
  ) ?? "undefined";
}

/** The DoGet table's rows as cells, timestamps as nanoseconds. */
function expectedCells(t: arrow.Table): Cell[][] {
  const cols = t.schema.fields.map((f) =>
    arrow.DataType.isTimestamp(f.type) ? nanos(t, f.name) : Array.from({ length: t.numRows }, (_, r) => {
      return cell(t.getChild(f.name)!.get(r));
    })
  );
  return Array.from({ length: t.numRows }, (_, r) => cols.map((c) => c[r] as Cell));
}

/** Reads a CSV export back into cells by the types of the DoGet schema. */
function csvCells(text: string, schema: arrow.Schema): Cell[][] {
  const [header, ...records] = parseCsv(text);
  assert.deepEqual(header.map((f) => f.value), schema.fields.map((f) => f.name));
  return records.map((rec) =>
    rec.map((f, j) => {
      if (f.value === "" && !f.quoted) return null;
      const type = schema.fields[j].type;
      if (arrow.DataType.isTimestamp(type)) return parseIsoNanos(f.value);
      if (arrow.DataType.isInt(type)) return type.bitWidth === 64 ? BigInt(f.value) : Number(f.value);
      if (arrow.DataType.isFloat(type)) return Number(f.value);
      if (arrow.DataType.isBool(type)) {
        assert.ok(f.value === "true" || f.value === "false", `a boolean: ${f.value}`);
        return f.value === "true";
      }
      return f.value;
    })
  );
}

/** Reads a JSON export back into cells by the types of the DoGet schema. */
function jsonCells(text: string, schema: arrow.Schema): Cell[][] {
  const rows = JSON.parse(text) as Record<string, unknown>[];
  return rows.map((row) => {
    assert.deepEqual(Object.keys(row), schema.fields.map((f) => f.name));
    return schema.fields.map((f) => {
      const v = row[f.name];
      if (v === null) return null;
      if (arrow.DataType.isTimestamp(f.type)) return parseIsoNanos(v as string);
      if (arrow.DataType.isInt(f.type) && f.type.bitWidth === 64) {
        if (typeof v === "string") {
          assert.ok(!Number.isSafeInteger(Number(v)), `only big longs are strings: ${v}`);
        }
        return BigInt(v as number | string);
      }
      if (arrow.DataType.isFloat(f.type) && typeof v === "string") {
        assert.ok(["NaN", "Infinity", "-Infinity"].includes(v), `a non-finite double: ${v}`);
        return Number(v);
      }
      return v as Cell;
    });
  });
}

function cellDiffs(actual: Cell[][], expected: Cell[][]): string[] {
  const out: string[] = [];
  if (actual.length !== expected.length) return [`${actual.length} rows, expected ${expected.length}`];
  expected.forEach((row, r) =>
    row.forEach((e, j) => {
      const a = actual[r][j];
      if (!(a === e || (a !== a && e !== e))) {
        out.push(`row ${r}, column ${j}: ${show(a)}, expected ${show(e)}`);
      }
    })
  );
  return out;
}

async function checkFile(path: string, expected: arrow.Table): Promise<void> {
  const bytes = await Deno.readFile(path);
  const text = () => new TextDecoder().decode(bytes);
  const ext = path.slice(path.lastIndexOf(".") + 1);
  let diffs: string[];
  if (ext === "arrow" || ext === "parquet") {
    const back = ext === "arrow" ? arrow.tableFromIPC(bytes) : await fromParquet(bytes);
    diffs = [...tableDiffs(back, expected), ...cellDiffs(expectedCells(back), expectedCells(expected))];
  } else if (ext === "csv") diffs = cellDiffs(csvCells(text(), expected.schema), expectedCells(expected));
  else diffs = cellDiffs(jsonCells(text(), expected.schema), expectedCells(expected));
  assert.deepEqual(diffs, [], `${path} reads back to the server's table`);
}

serverTest(
  "snapshot writes .arrow/.csv/.json/.parquet from --table, --ticket and a URI",
  {},
  async (server) => {
    const { host, port } = server;
    const name = `cli_src_${crypto.randomUUID().replaceAll("-", "")}`;
    await using session = await Session.connect({ host, port });
    await session.runScript(sourceScript(name));
    const expected = await session.openTable(name).toArrow();
    assert.equal(expected.numRows, N);
    const ticket = SharedTicket.randomTicket();
    await session.publishTable(ticket, session.openTable(name));
    const dir = await Deno.makeTempDir({ prefix: "dh-cli-" });
    try {
      const conn = ["--host", host, "--port", String(port)];
      const sources: [string, string[]][] = [
        ["table", ["--table", name, ...conn]],
        ["ticket", ["--ticket", ticket.hex, ...conn]],
        ["uri", [`dh+plain://${host}:${port}/scope/${name}`]],
      ];
      const jobs: { args: string[]; path: string }[] = [];
      for (const [label, args] of sources) {
        for (const ext of ["arrow", "csv", "json", "parquet"]) {
          const path = `${dir}/${label}.${ext}`;
          jobs.push({ args: ["snapshot", ...args, "--out", path], path });
        }
      }
      // Two at a time: each is a Deno process with its own session.
      for (let i = 0; i < jobs.length; i += 2) {
        const batch = jobs.slice(i, i + 2);
        const runs = await Promise.all(batch.map((j) => cli(j.args)));
        for (const [k, r] of runs.entries()) {
          assert.equal(r.code, 0, describe(batch[k].args, r));
          assert.equal(r.stdout, "", "snapshot writes nothing to stdout");
          assert.match(
            r.stderr,
            new RegExp(`wrote ${N} rows × 6 columns \\(\\d+ bytes\\) to `),
            describe(batch[k].args, r),
          );
          await checkFile(batch[k].path, expected);
        }
      }
      // --format overrides the extension.
      const odd = `${dir}/out.data`;
      const r = await cli(["snapshot", "--table", name, ...conn, "--out", odd, "--format", "csv"]);
      assert.equal(r.code, 0, describe([], r));
      await Deno.rename(odd, `${odd}.csv`);
      await checkFile(`${odd}.csv`, expected);
      // --columns: only those columns are written.
      const some = `${dir}/some.csv`;
      const c = await cli(["snapshot", "--table", name, ...conn, "--out", some, "--columns", "S,I"]);
      assert.equal(c.code, 0, describe([], c));
      assert.match(c.stderr, new RegExp(`wrote ${N} rows × 2 columns`));
      const [header, ...records] = parseCsv(await Deno.readTextFile(some));
      assert.deepEqual(header.map((f) => f.value), ["S", "I"]);
      assert.deepEqual(
        records.map((rec) => rec.map((f) => (f.value === "" && !f.quoted ? null : f.value))),
        expectedCells(expected).map((row) => [row[3], row[0] === null ? null : String(row[0])]),
      );
      const unknown = ["snapshot", "--table", name, ...conn, "--out", `${dir}/u.csv`, "--columns", "Nope"];
      const u = await cli(unknown);
      assert.equal(u.code, 1, describe(unknown, u));
      assertOneLineError(unknown, u);
      assert.match(u.stderr, /No column "Nope"/);
      // A table that does not exist: exit 1 with one line.
      const missing = ["snapshot", "--table", `${name}_missing`, ...conn, "--out", `${dir}/m.csv`];
      const m = await cli(missing);
      assert.equal(m.code, 1, describe(missing, m));
      assertOneLineError(missing, m);
    } finally {
      await Deno.remove(dir, { recursive: true });
      await session.runScript(`del ${name}`);
    }
  },
);

serverTest("subscribe --updates 3 prints the snapshot and two updates as JSON lines", {}, async (server) => {
  const { host, port } = server;
  const name = `cli_tick_${crypto.randomUUID().replaceAll("-", "")}`;
  await using session = await Session.connect({ host, port });
  await session.runScript(
    `from deephaven import time_table\n${name} = time_table("PT0.2s").update("X = (int) i")`,
  );
  try {
    const args = ["subscribe", "--table", name, "--host", host, "--port", String(port), "--updates", "3"];
    const r = await cli(args, {}, 60_000);
    assert.equal(r.code, 0, describe(args, r));
    const lines = r.stdout.trimEnd().split("\n");
    assert.equal(lines.length, 3, describe(args, r));
    const msgs = lines.map((l) => JSON.parse(l));
    assert.deepEqual(msgs.map((m) => m.kind), ["snapshot", "update", "update"]);
    let size = msgs[0].size;
    for (const m of msgs.slice(1)) {
      assert.equal(m.removed, 0);
      assert.ok(m.added > 0, "a time table adds rows");
      size += m.added - m.removed;
      assert.equal(m.size, size, "sizes follow added - removed");
    }
    for (const m of msgs) {
      assert.deepEqual(Object.keys(m), ["kind", "size", "added", "removed", "modified", "last"]);
      if (m.size > 0) {
        assert.equal(m.last.X, m.size - 1, "the last row is row size - 1");
        assert.match(m.last.Timestamp, /^\d{4}-\d{2}-\d{2}T[\d:.]+Z$/);
      }
    }
    // The same through a URI with --columns.
    const viaUri = [
      "subscribe",
      `dh+plain://${host}:${port}/scope/${name}`,
      "--updates",
      "2",
      "--columns",
      "X",
    ];
    const u = await cli(viaUri, {}, 60_000);
    assert.equal(u.code, 0, describe(viaUri, u));
    const viaUriLines = u.stdout.trimEnd().split("\n").map((l) => JSON.parse(l));
    assert.equal(viaUriLines.length, 2);
    for (const m of viaUriLines) {
      if (m.size > 0) assert.deepEqual(Object.keys(m.last), ["X"], "only X is shown");
    }
  } finally {
    await session.runScript(`del ${name}`);
  }
});

serverTest("subscribe --updates 1 on a static table ends after the snapshot", {}, async (server) => {
  const { host, port } = server;
  const name = `cli_static_${crypto.randomUUID().replaceAll("-", "")}`;
  await using session = await Session.connect({ host, port });
  await session.runScript(`from deephaven import empty_table\n${name} = empty_table(5).update("X = i * 10")`);
  try {
    const conn = ["--host", host, "--port", String(port)];
    // A static table never sends an update: the snapshot is the one update asked for.
    const args = ["subscribe", "--table", name, ...conn, "--updates", "1"];
    const r = await cli(args, {}, 30_000);
    assert.equal(r.code, 0, describe(args, r));
    assert.deepEqual(
      r.stdout.trimEnd().split("\n").map((l) => JSON.parse(l)),
      [{ kind: "snapshot", size: 5, added: 5, removed: 0, modified: 0, last: { X: 40 } }],
      describe(args, r),
    );
    // The table format shows every row.
    const table = ["subscribe", "--table", name, ...conn, "--updates", "1", "--format", "table"];
    const t = await cli(table, {}, 30_000);
    assert.equal(t.code, 0, describe(table, t));
    const lines = t.stdout.trimEnd().split("\n");
    assert.deepEqual(
      lines.slice(-6),
      ["0", "10", "20", "30", "40", "(5 rows × 1 columns)"],
      describe(table, t),
    );
  } finally {
    await session.runScript(`del ${name}`);
  }
});

serverTest("tables lists a table defined by a script", {}, async (server) => {
  const { host, port } = server;
  const name = `cli_listed_${crypto.randomUUID().replaceAll("-", "")}`;
  await using session = await Session.connect({ host, port });
  await session.runScript(`from deephaven import empty_table\n${name} = empty_table(3)`);
  try {
    const args = ["tables", "--host", host, "--port", String(port)];
    const r = await cli(args);
    assert.equal(r.code, 0, describe(args, r));
    const names = r.stdout.trimEnd().split("\n");
    assert.ok(names.includes(name), `${name} is listed: ${describe(args, r)}`);
    assert.deepEqual(names, [...names].sort(), "sorted");
    // Host and port from the environment.
    const e = await cli(["tables"], { DH_HOST: host, DH_PORT: String(port) });
    assert.equal(e.code, 0, describe(["tables"], e));
    assert.ok(e.stdout.split("\n").includes(name));
  } finally {
    await session.runScript(`del ${name}`);
  }
});

serverTest(
  "PSK from DH_AUTH_TYPE/DH_AUTH_TOKEN works and the key never shows, also when wrong",
  {},
  async (server) => {
    const { host, port, psk } = server;
    const name = `cli_psk_${crypto.randomUUID().replaceAll("-", "")}`;
    await using session = await Session.connect({ host, port, authType: PSK_AUTH, authToken: psk });
    await session.runScript(`from deephaven import empty_table\n${name} = empty_table(4).update("X = i")`);
    const dir = await Deno.makeTempDir({ prefix: "dh-cli-psk-" });
    const conn = ["--host", host, "--port", String(port)];
    const wrong = `wrong-${crypto.randomUUID()}`;
    const noKey = (args: string[], r: Run, key: string) => {
      assert.ok(
        !r.stdout.includes(key) && !r.stderr.includes(key),
        `the key never shows: ${describe(args, r)}`,
      );
    };
    try {
      const good = { DH_AUTH_TYPE: PSK_AUTH, DH_AUTH_TOKEN: psk };
      const list = ["tables", ...conn];
      const a = await cli(list, good);
      assert.equal(a.code, 0, describe(list, a));
      assert.ok(a.stdout.split("\n").includes(name));
      noKey(list, a, psk);
      const snap = ["snapshot", "--table", name, ...conn, "--out", `${dir}/t.json`];
      const b = await cli(snap, good);
      assert.equal(b.code, 0, describe(snap, b));
      noKey(snap, b, psk);
      assert.deepEqual(JSON.parse(await Deno.readTextFile(`${dir}/t.json`)).map((r: { X: number }) => r.X), [
        0,
        1,
        2,
        3,
      ]);
      // The token from another variable, named by --auth-token-env.
      const other = ["tables", ...conn, "--auth-type", PSK_AUTH, "--auth-token-env", "MY_KEY"];
      const c = await cli(other, { MY_KEY: psk });
      assert.equal(c.code, 0, describe(other, c));
      noKey(other, c, psk);
      // A wrong key: refused, one line, exit 1, and neither key shows.
      for (const args of [list, snap, ["subscribe", "--table", name, ...conn, "--updates", "1"]]) {
        const w = await cli(args, { DH_AUTH_TYPE: PSK_AUTH, DH_AUTH_TOKEN: wrong });
        assert.equal(w.code, 1, describe(args, w));
        assertOneLineError(args, w);
        assert.match(w.stderr, /UNAUTHENTICATED|authenticat|log ?in/i, describe(args, w));
        noKey(args, w, wrong);
        noKey(args, w, psk);
      }
    } finally {
      await Deno.remove(dir, { recursive: true });
      await session.runScript(`del ${name}`);
    }
  },
);

serverTest("resolveUri of a scope table subscribes to it and snapshots it", {}, async (server) => {
  const { host, port } = server;
  const id = crypto.randomUUID().replaceAll("-", "");
  const fixed = `uri_fixed_${id}`, ticking = `uri_tick_${id}`;
  await using session = await Session.connect({ host, port });
  await session.runScript(sourceScript(fixed));
  await session.runScript(
    `from deephaven import time_table\n${ticking} = time_table("PT0.1s").update("X = (int) i")`,
  );
  const uri = (name: string) => `dh+plain://${host}:${port}/scope/${name}`;
  try {
    const expected = await session.openTable(fixed).toArrow();
    // Snapshot: a static local table equal to DoGet.
    const snap = await resolveUri(uri(fixed), { snapshot: true });
    assert.ok(!(snap instanceof LiveTable), "a snapshot is a plain local table");
    assert.equal(snap.state, "snapshot");
    assert.deepEqual(tableDiffs(snap.toArrow(), expected), []);
    assert.deepEqual(nanos(snap.toArrow(), "T"), nanos(expected, "T"));
    // Subscribe to the static table: live, and equal to DoGet.
    const live = await resolveUri(uri(fixed));
    assert.ok(live instanceof LiveTable);
    assert.equal(live.state, "live");
    assert.deepEqual(tableDiffs(live.toArrow(), expected), []);
    live.close();
    // Subscribe to a ticking table: it grows, row i has X = i, and local queries work on it.
    const tick = await resolveUri(uri(ticking), { minUpdateIntervalMs: 100 }) as LiveTable;
    const evens = tick.where((r) => (r.X as number) % 2 === 0);
    const before = tick.size;
    assert.ok(await waitUntil(tick, () => tick.size >= before + 3, 15_000), "the subscription ticks");
    const xs = tick.column("X") as number[];
    assert.deepEqual(xs, xs.map((_, i) => i));
    assert.equal(evens.size, Math.ceil(tick.size / 2));
    // With columns.
    const cols = await resolveUri(uri(fixed), { snapshot: true, columns: ["I"] });
    assert.deepEqual(cols.column("I"), [...expected.getChild("I")!]);
    tick.close();
    assert.equal(evens.state, "closed");
    // An unknown table is refused with a DeephavenError.
    await assert.rejects(
      resolveUri(uri(`${fixed}_missing`), { snapshot: true }),
      (e) => e instanceof DeephavenError,
    );
  } finally {
    await (await barrageSession({ host, port })).close();
    await session.runScript(`del ${fixed}\ndel ${ticking}`);
  }
});

/** Runs the CLI in a pseudo terminal (util-linux `script`); returns the exit code and the terminal's output. */
async function cliInTerminal(args: string[], timeoutMs = 120_000): Promise<{ code: number; screen: string }> {
  const quote = (s: string) => `'${s.replaceAll("'", `'\\''`)}'`;
  const command = [Deno.execPath(), "run", "-A", MAIN, ...args].map(quote).join(" ");
  const out = await spawn(
    "script",
    ["--quiet", "--return", "--command", command, "/dev/null"],
    { COLUMNS: "200", LINES: "40" },
    timeoutMs,
  );
  return { code: out.code, screen: out.stdout + out.stderr };
}

serverTest(
  "snapshot on a terminal shows rows, bytes, rate and time left; --quiet and pipes show none",
  {},
  async (server) => {
    const { host, port } = server;
    const rows = 3_000_000;
    const name = `cli_big_${crypto.randomUUID().replaceAll("-", "")}`;
    await using session = await Session.connect({ host, port });
    await session.runScript(
      `from deephaven import empty_table\n${name} = empty_table(${rows}).update(["A = ii", "B = i * 0.5", "C = ii * 3"])`,
    );
    const dir = await Deno.makeTempDir({ prefix: "dh-cli-tty-" });
    try {
      const conn = ["--host", host, "--port", String(port)];
      const out = `${dir}/big.arrow`;
      const tty = await cliInTerminal(["snapshot", "--table", name, ...conn, "--out", out]);
      assert.equal(tty.code, 0, tty.screen);
      // Each redraw starts with a carriage return and clears the line.
      const lines = tty.screen.split(new RegExp(`\r${String.fromCharCode(27)}\\[2K|\r?\n`)).map((l) =>
        l.trim()
      ).filter((l) => l.startsWith("snapshot:"));
      const total = rows.toLocaleString("en-US");
      const partial = lines.filter((l) =>
        new RegExp(
          `^snapshot: [\\d,]+ / ${total} rows \\(\\d+%\\) · [\\d.]+ [kMG]?B of ~[\\d.]+ [kMG]?B · [\\d.]+ [kMG]?B/s · .+ left$`,
        )
          .test(l)
      );
      assert.ok(
        partial.length >= 1,
        `progress with a total, rate and time left was shown:\n${lines.join("\n")}`,
      );
      const last = lines[lines.length - 1];
      assert.match(last, new RegExp(`^snapshot: ${total} / ${total} rows \\(100%\\) · [\\d.]+ MB · `), last);
      assert.match(tty.screen, new RegExp(`wrote ${rows} rows × 3 columns`));
      assert.equal((await arrow.tableFromIPC(await Deno.readFile(out))).numRows, rows);

      const quiet = await cliInTerminal(["snapshot", "--table", name, ...conn, "--out", out, "--quiet"]);
      assert.equal(quiet.code, 0, quiet.screen);
      assert.equal(quiet.screen.trim(), "", "--quiet prints nothing on success");

      const piped = await cli(["snapshot", "--table", name, ...conn, "--out", out]);
      assert.equal(piped.code, 0, piped.stderr);
      assert.doesNotMatch(piped.stderr, /snapshot:/, "no progress when stderr is not a terminal");
      assert.match(piped.stderr, new RegExp(`^wrote ${rows} rows × 3 columns .*\\n$`));
    } finally {
      await Deno.remove(dir, { recursive: true });
      await session.runScript(`del ${name}`);
    }
  },
);

Deno.test("progress lines read rows, bytes, rate and time left", async () => {
  const { progressLine, formatBytes, formatDuration } = await import("../../src/cli/main.ts");
  assert.equal(formatBytes(999), "999 B");
  assert.equal(formatBytes(28_800_000), "28.8 MB");
  assert.equal(formatDuration(5.2), "5 s");
  assert.equal(formatDuration(185), "3 min 05 s");
  assert.equal(
    progressLine({ rows: 1_200_000, totalRows: 4_000_000, bytes: 28_800_000 }, 2000),
    "snapshot: 1,200,000 / 4,000,000 rows (30%) · 28.8 MB of ~96.0 MB · 14.4 MB/s · 5 s left",
  );
  assert.equal(
    progressLine({ rows: 0, totalRows: undefined, bytes: 500 }, 1000),
    "snapshot: 0 rows · 500 B · 500 B/s",
  );
  assert.equal(
    progressLine({ rows: 10, totalRows: 10, bytes: 2_000_000 }, 1000),
    "snapshot: 10 / 10 rows (100%) · 2.00 MB · 2.00 MB/s",
  );
});
