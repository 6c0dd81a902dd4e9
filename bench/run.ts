/**
 * The benchmark suite (`deno task bench`): this module side by side with pydeephaven, pydeephaven-ticking and
 * a raw sink, against one embedded Deephaven server, in one run.
 *
 * Workloads, loaded as server scope tables:
 * - S1: 1M rows × 6 numeric columns (long, int, 4 double).
 * - S2: 1M rows × 10 mixed columns (2 strings of 8–16 chars, a timestamp, 7 numeric; 5% nulls in each).
 * - S3: `--s3-rows` rows × 5 doubles (default 4M, scaled down from the plan's 10M; see `--help`).
 * - T1: append-only `time_table("PT0.001s")` (1,000 rows/s), latency from its Timestamp.
 * - T2: append-only `time_table("PT0.00001s")` (100,000 rows/s): sustained rate, backlog, apply time.
 * - T3: `last_by("Key")` over 10,000 keys of a 100,000 rows/s time table (modify-heavy).
 * - P5: `tableBundle()` of a 10M-row LocalTable built locally (no server).
 * - G5: how cost grows: Barrage snapshots of 1M, 4M, 10M rows × 5 doubles and of 1M and 4M rows of S2's
 *   columns (time and memory, pydeephaven alongside), and 1, 10, 50 concurrent subscriptions on one session
 *   to a 10,000 rows/s time table.
 *
 * Clients, each in a process of its own (bench/client.ts, bench/peer.py): this module (DoGet → Arrow table,
 * Barrage snapshot → Arrow table, Barrage snapshot → LocalTable, Barrage subscriptions), pydeephaven
 * (`open_table().to_arrow()`), pydeephaven-ticking (`listen`), and the raw sinks (this module's channel, and
 * a grpc-js channel, draining DoGet / DoExchange without decoding). Ticking tables are created fresh for
 * every client, so each starts from the same point.
 *
 * Writes bench/results/<timestamp>.{md,json} and latest.{md,json}; the README links latest.md (it is
 * never rewritten by a run).
 *
 * Run: `deno task bench` (scripts/bench.sh: installs what it needs, then runs this).
 *
 * @module
 */

import { Session } from "../mod.ts";
import { startServer, venvPython } from "../src/server/mod.ts";
import { PROJECT_ROOT, RESULTS_DIR } from "../testing/server.ts";
import type { Rep } from "./rep.ts";
import { cycleMs, flags, g5, intervalMs, log, only, peers, reps, s3Rows, started, warmup } from "./flags.ts";
import { G5_TICKING, jvmArgs, scaleTables, serverPid, STATIC_SCRIPT, TICKING } from "./workloads.ts";
import { median, summarize } from "./stats.ts";
import { writeReport } from "./report.ts";

async function run(cmd: string[], timeoutMs: number): Promise<Record<string, unknown>> {
  const full = flags.pin ? ["taskset", "-c", "1", ...cmd] : cmd;
  const child = new Deno.Command(full[0], {
    args: full.slice(1),
    cwd: PROJECT_ROOT,
    stdout: "piped",
    stderr: "piped",
    env: { PYTHONUNBUFFERED: "1", PYTHONDONTWRITEBYTECODE: "1" },
  }).spawn();
  const timer = setTimeout(() => child.kill("SIGKILL"), timeoutMs);
  const out = await child.output();
  clearTimeout(timer);
  const text = new TextDecoder().decode(out.stdout).trim();
  const err = new TextDecoder().decode(out.stderr).trim();
  if (err) console.error(err);
  if (out.code !== 0) {
    const last = err.split("\n").filter((l) => l.trim()).slice(-1)[0] ?? "";
    throw new Error(
      `${cmd[1].split("/").pop()} ${cmd.includes("--mode") ? cmd[cmd.indexOf("--mode") + 1] : ""} ` +
        `exited with code ${out.code}: ${last.slice(0, 300)}`,
    );
  }
  return JSON.parse(text.split("\n").pop()!);
}

const deno = Deno.execPath();
const python = venvPython();

function denoClient(mode: string, extra: string[]): Promise<Record<string, unknown>> {
  return run(
    [deno, "run", "-A", "--v8-flags=--expose-gc", "bench/client.ts", "--mode", mode, ...common, ...extra],
    600_000,
  );
}

/** A long-lived client process answering one JSON command a line (bench/client.ts and peer.py `--serve`). */
class Worker {
  readonly #child: Deno.ChildProcess;
  readonly #writer: WritableStreamDefaultWriter<Uint8Array>;
  readonly #reader: ReadableStreamDefaultReader<Uint8Array>;
  readonly #name: string;
  #pending = "";

  constructor(name: string, cmd: string[]) {
    this.#name = name;
    const full = flags.pin ? ["taskset", "-c", "1", ...cmd] : cmd;
    this.#child = new Deno.Command(full[0], {
      args: full.slice(1),
      cwd: PROJECT_ROOT,
      stdin: "piped",
      stdout: "piped",
      stderr: "inherit",
      env: { PYTHONUNBUFFERED: "1", PYTHONDONTWRITEBYTECODE: "1" },
    }).spawn();
    this.#writer = this.#child.stdin.getWriter();
    this.#reader = this.#child.stdout.getReader();
  }

  async #line(): Promise<string> {
    const decoder = new TextDecoder();
    while (true) {
      const nl = this.#pending.indexOf("\n");
      if (nl >= 0) {
        const line = this.#pending.slice(0, nl);
        this.#pending = this.#pending.slice(nl + 1);
        if (line.trim().startsWith("{")) return line;
        continue; // not an answer (e.g. stray output)
      }
      const { value, done } = await this.#reader.read();
      if (done) throw new Error(`${this.#name} ended without an answer`);
      this.#pending += decoder.decode(value, { stream: true });
    }
  }

  /** Waits for the process to say it is ready. */
  async ready(): Promise<this> {
    const first = JSON.parse(await this.#line());
    if (!first.ready) throw new Error(`${this.#name} did not start: ${JSON.stringify(first)}`);
    return this;
  }

  /** Sends one command and returns its answer; throws the client's error. */
  async call(cmd: Record<string, unknown>): Promise<Record<string, unknown>> {
    await this.#writer.write(new TextEncoder().encode(JSON.stringify(cmd) + "\n"));
    const answer = JSON.parse(await this.#line()) as Record<string, unknown>;
    if (typeof answer.error === "string") throw new Error(`${this.#name}: ${answer.error}`);
    return answer;
  }

  async close(): Promise<void> {
    await this.#writer.close().catch(() => {});
    const timer = setTimeout(() => this.#child.kill("SIGKILL"), 20_000);
    await this.#child.status;
    clearTimeout(timer);
    await this.#reader.cancel().catch(() => {});
  }
}

function denoWorker(mode: string): Promise<Worker> {
  return new Worker(`deno ${mode}`, [
    deno,
    "run",
    "-A",
    "--v8-flags=--expose-gc",
    "bench/client.ts",
    "--serve",
    "--mode",
    mode,
    ...common,
  ]).ready();
}

function pyWorker(): Promise<Worker> {
  return new Worker("pydeephaven", [python, "bench/peer.py", "--serve", "--mode", "doget", ...common])
    .ready();
}

function pyPeer(mode: string, extra: string[]): Promise<Record<string, unknown>> {
  return run([python, "bench/peer.py", "--mode", mode, ...common, ...extra], 600_000);
}

// ---- the run ----

log(`starting the server (${jvmArgs.join(" ")})`);
const server = await startServer({
  auth: "anonymous",
  jvmArgs,
  script: STATIC_SCRIPT,
  name: "bench",
  logDir: RESULTS_DIR,
});
const pid = serverPid(server.port);
if (flags.pin && pid) {
  await new Deno.Command("taskset", { args: ["-a", "-p", "-c", "0", String(pid)], stdout: "null" }).output();
}
log(`server up on ${server.target} after ${server.startMs} ms (pid ${pid || "unknown"})`);
const common = ["--host", server.host, "--port", String(server.port), "--server-pid", String(pid)];
const session = await Session.connect({ host: server.host, port: server.port });
const denoVersion = Deno.version.deno;

const results: Record<string, unknown> = {
  started: started.toISOString(),
  tag: flags.tag,
  machine: {
    cpus: navigator.hardwareConcurrency,
    memGiB: Math.round(Deno.systemMemoryInfo().total / 2 ** 30),
    deno: denoVersion,
    pinned: flags.pin,
  },
  server: {
    version: session.serverConfig.get("deephaven.version") ?? "42.7",
    jvmArgs,
    xmx: flags.xmx,
    "PeriodicUpdateGraph.targetCycleDurationMillis": cycleMs,
    "barrage.minUpdateInterval": intervalMs,
    startMs: server.startMs,
  },
  options: {
    reps,
    warmup,
    serverWarmup: Number(flags["server-warmup"]),
    s3Rows,
    t1: TICKING.T1.seconds,
    t2: TICKING.T2.seconds,
    t3: TICKING.T3.seconds,
  },
  static: {} as Record<string, Record<string, unknown>>,
  ticking: {} as Record<string, Record<string, unknown>>,
  scaling: { snapshots: {}, subscriptions: {} } as Record<string, Record<string, Record<string, unknown>>>,
};
const staticResults = results.static as Record<string, Record<string, unknown>>;
const tickingResults = results.ticking as Record<string, Record<string, unknown>>;
const scaling = results.scaling as Record<string, Record<string, Record<string, unknown>>>;

/** Static clients, by key: label and how to start the process. */
type StaticClient = [key: string, label: string, start: () => Promise<Worker>];

/**
 * Rounds of static snapshots of `tables`, the clients interleaved run by run (each round starts with the
 * next client, so that drift on the shared machine falls on every client alike); then the memory a
 * LocalTable of each table holds (from the `barrageSnapshot` client). One long-lived process per client.
 */
async function staticRounds(
  tables: { name: string; rows: number }[],
  clients: StaticClient[],
  rounds: { warmup: number; reps: number; serverWarmup: number },
  into: Record<string, Record<string, unknown>>,
): Promise<void> {
  const workers = new Map<string, Worker>();
  const failed = new Map<string, string>();
  try {
    for (const [key, , start] of clients) {
      if (key === "pydeephaven" && !peers) continue;
      try {
        workers.set(key, await start());
      } catch (e) {
        if (key !== "pydeephaven") throw e;
        failed.set(key, (e as Error).message);
      }
    }
    const raws = ["rawDoGet", "rawExchange"].filter((k) => workers.has(k));
    for (const { name } of tables) {
      if (rounds.serverWarmup <= 0) break;
      log(`${name}: warming the server up (${rounds.serverWarmup} snapshots by ${raws.join(", ")})`);
      for (let i = 0; i < rounds.serverWarmup; i++) {
        for (const k of raws) await workers.get(k)!.call({ table: name });
      }
    }
    for (const { name, rows } of tables) {
      log(`${name}: ${rows} rows, ${rounds.warmup} + ${rounds.reps} interleaved rounds`);
      const entry: Record<string, unknown> = { rows };
      const got = new Map<string, Rep[]>();
      for (let round = 0; round < rounds.warmup + rounds.reps; round++) {
        for (let i = 0; i < clients.length; i++) {
          const [key] = clients[(i + round) % clients.length];
          const worker = workers.get(key);
          if (!worker || failed.has(key)) continue;
          let r: Record<string, unknown>;
          try {
            r = await worker.call({ table: name });
          } catch (e) {
            if (key !== "pydeephaven") throw e;
            failed.set(key, (e as Error).message);
            log(`${name}: pydeephaven failed: ${(e as Error).message}`);
            continue;
          }
          if (key === "doGet") entry.arrowBytes = r.arrowBytes;
          if (key === "pydeephaven") entry.pyArrowBytes = r.arrowBytes;
          if (round >= rounds.warmup) got.set(key, [...(got.get(key) ?? []), r as unknown as Rep]);
        }
      }
      for (const [key, label] of clients) {
        const r = got.get(key);
        if (r?.length) entry[key] = summarize(label, r);
      }
      if (failed.has("pydeephaven")) entry.pydeephavenError = failed.get("pydeephaven");
      entry.memory = await workers.get("barrageSnapshot")!.call({ table: name, memory: true });
      into[name] = entry;
    }
  } finally {
    for (const worker of workers.values()) await worker.close();
  }
}

try {
  const STATIC: StaticClient[] = [
    ["rawDoGet", "raw sink DoGet", () => denoWorker("raw-doget")],
    ["rawExchange", "raw sink DoExchange", () => denoWorker("raw-exchange")],
    ["rawExchangeKeep", "raw sink DoExchange, messages kept", () => denoWorker("raw-exchange-keep")],
    ["rawExchangeGrpcJs", "raw sink DoExchange on grpc-js", () => denoWorker("raw-exchange-grpcjs")],
    ["doGet", "deno DoGet → Arrow", () => denoWorker("doget")],
    ["barrageArrow", "deno Barrage snapshot → Arrow (toArrow)", () => denoWorker("barrow")],
    ["pydeephaven", "pydeephaven to_arrow", () => pyWorker()],
    ["barrageSnapshot", "deno Barrage snapshot → LocalTable", () => denoWorker("bsnap")],
  ];
  const tables = ["S1", "S2", "S3"].filter((w) => only.has(w));
  if (tables.length) {
    await staticRounds(
      tables.map((name) => ({ name, rows: name === "S3" ? s3Rows : 1_000_000 })),
      STATIC,
      { warmup, reps, serverWarmup: Number(flags["server-warmup"]) },
      staticResults,
    );
  }

  if (only.has("G5")) {
    // How cost grows with rows: this module's Barrage snapshot into a LocalTable, pydeephaven alongside.
    const scaled = scaleTables(g5.rows, g5.s2Rows);
    for (const t of scaled) {
      log(`G5: making ${t.name} (${t.rows} rows)`);
      await session.runScript(t.script);
    }
    try {
      await staticRounds(
        scaled,
        STATIC.filter(([k]) => ["rawExchange", "pydeephaven", "barrageSnapshot"].includes(k)),
        { warmup: 1, reps: g5.reps, serverWarmup: 1 },
        scaling.snapshots,
      );
      for (const t of scaled) Object.assign(scaling.snapshots[t.name], { kind: t.kind });
    } finally {
      await session.runScript(`${scaled.map((t) => `${t.name} = None`).join("\n")}\nimport gc\ngc.collect()`);
    }
    // How cost grows with subscriptions: N full subscriptions on one session to one 10,000 rows/s table.
    for (const n of g5.subs) {
      const name = `G5_${n}`;
      log(`G5: ${n} subscriptions for ${g5.seconds} s`);
      await session.runScript(`from deephaven import time_table\n${G5_TICKING.script(name)}`);
      try {
        scaling.subscriptions[String(n)] = await denoClient("subscribe", [
          "--table",
          name,
          "--seconds",
          String(g5.seconds),
          "--period-ns",
          String(G5_TICKING.periodNs),
          "--count",
          String(n),
        ]);
      } finally {
        await session.runScript(`${name} = None\nimport gc\ngc.collect()`);
        await session.runScript(`del ${name}`);
      }
    }
  }

  for (const w of ["T1", "T2", "T3"]) {
    if (!only.has(w)) continue;
    const spec = TICKING[w];
    const entry: Record<string, unknown> = { periodNs: spec.periodNs, seconds: spec.seconds };
    const clients: [string, (name: string) => Promise<Record<string, unknown>>][] = [
      ["deno", (name) =>
        denoClient("subscribe", [
          "--table",
          name,
          "--seconds",
          String(spec.seconds),
          "--period-ns",
          String(spec.periodNs),
        ])],
    ];
    if (peers) {
      clients.push(["pydeephaven-ticking", (name) =>
        pyPeer("listen", [
          "--table",
          name,
          "--seconds",
          String(spec.seconds),
          "--period-ns",
          String(spec.periodNs),
        ])]);
    }
    for (const [client, go] of clients) {
      const name = `${w}_${client.replace(/\W/g, "_")}`;
      log(`${w}: ${client} for ${spec.seconds} s`);
      // A peer that fails is tried once more on a fresh table; a second failure is reported, not fatal.
      for (let attempt = 1; attempt <= 2; attempt++) {
        await session.runScript(`from deephaven import time_table\n${spec.script(name)}`);
        try {
          entry[client] = await go(name);
          break;
        } catch (e) {
          if (client === "deno") throw e;
          log(`${w}: ${client} failed (attempt ${attempt}): ${(e as Error).message}`);
          entry[`${client} errors`] = [
            ...(entry[`${client} errors`] as string[] ?? []),
            (e as Error).message,
          ];
        } finally {
          await session.runScript(`${name} = None\nimport gc\ngc.collect()`);
          await session.runScript(`del ${name}`);
        }
      }
    }
    tickingResults[w] = entry;
  }
} finally {
  await session.close();
  await server.stop();
}

if (only.has("P5")) {
  log(`P5: tableBundle of a ${flags["display-rows"]}-row LocalTable`);
  const d = await denoClient("display", ["--rows", flags["display-rows"]!, "--reps", "20"]);
  const times = d.bundleMs as number[];
  results.display = {
    rows: d.rows,
    buildMs: d.buildMs,
    medianMs: median(times),
    minMs: Math.min(...times),
    maxMs: Math.max(...times),
    htmlChars: d.htmlChars,
  };
}

await writeReport(results, denoVersion);
