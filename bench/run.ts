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
 *
 * Clients, each in a process of its own (bench/client.ts, bench/peer.py): this module (DoGet → Arrow table,
 * Barrage snapshot → LocalTable, Barrage subscription), pydeephaven (`open_table().to_arrow()`),
 * pydeephaven-ticking (`listen`), and the raw sink (the same grpc-js channel draining DoGet / DoExchange
 * without decoding). Ticking tables are created fresh for every client, so each starts from the same point.
 *
 * Writes bench/results/<timestamp>.{md,json} and latest.{md,json}; the README links latest.md (it is
 * never rewritten by a run).
 *
 * Run: `deno task bench` (scripts/bench.sh: installs what it needs, then runs this).
 *
 * @module
 */

import { parseArgs } from "node:util";
import { Session } from "../mod.ts";
import { startServer, venvPython } from "../src/server/mod.ts";
import { PROJECT_ROOT, RESULTS_DIR } from "../testing/server.ts";
import type { Rep } from "./rep.ts";

const HELP = `deno task bench [options]
  --reps N            measured rounds per static workload; each round runs every client once, in rotating
                      order (default 5; ≥ 5 for medians)
  --warmup N          unmeasured rounds of every static client first (default 1)
  --server-warmup N   DoGet and DoExchange snapshots of each static table before any measurement, so that
                      the server's JIT is warm for every client alike (default 5)
  --only LIST         comma list of S1,S2,S3,T1,T2,T3,P5 (default all)
  --s3-rows N         rows of S3 (default 4000000, scaled down from the plan's 10M × 5 doubles = 400 MB, which
                      makes 5 clients × 6 rounds move 12 GB on 2 shared cores; 10000000 runs the full size)
  --t1-seconds S      T1 duration per client (default 10)
  --t2-seconds S      T2 duration per client (default 60, as P3 asks)
  --t3-seconds S      T3 duration per client (default 20)
  --cycle-ms MS       PeriodicUpdateGraph.targetCycleDurationMillis (default 100)
  --interval-ms MS    barrage.minUpdateInterval (default 100)
  --xmx SIZE          server heap (default 8g)
  --display-rows N    rows of the P5 table (default 10000000)
  --pin               pin the server to CPU 0 and the clients to CPU 1 (taskset)
  --no-peers          skip pydeephaven and pydeephaven-ticking
  --tag TEXT          a note stored with the results (e.g. "after column.ts write fast path")`;

const { values: flags } = parseArgs({
  args: Deno.args,
  options: {
    reps: { type: "string", default: "5" },
    warmup: { type: "string", default: "1" },
    "server-warmup": { type: "string", default: "5" },
    only: { type: "string", default: "S1,S2,S3,T1,T2,T3,P5" },
    "s3-rows": { type: "string", default: "4000000" },
    "t1-seconds": { type: "string", default: "10" },
    "t2-seconds": { type: "string", default: "60" },
    "t3-seconds": { type: "string", default: "20" },
    "cycle-ms": { type: "string", default: "100" },
    "interval-ms": { type: "string", default: "100" },
    xmx: { type: "string", default: "8g" },
    "display-rows": { type: "string", default: "10000000" },
    pin: { type: "boolean", default: false },
    "no-peers": { type: "boolean", default: false },
    tag: { type: "string", default: "" },
    help: { type: "boolean", default: false },
  },
});
if (flags.help) {
  console.log(HELP);
  Deno.exit(0);
}

const reps = Number(flags.reps);
const warmup = Number(flags.warmup);
const only = new Set(flags.only!.split(",").map((s) => s.trim().toUpperCase()));
const s3Rows = Number(flags["s3-rows"]);
const cycleMs = Number(flags["cycle-ms"]);
const intervalMs = Number(flags["interval-ms"]);
const peers = !flags["no-peers"];
const started = new Date();

function log(msg: string): void {
  const s = ((performance.now()) / 1000).toFixed(0).padStart(4);
  console.error(`bench ${s}s: ${msg}`);
}

// ---- the server ----

const STATIC_SCRIPT = `
from deephaven import empty_table
S1 = empty_table(1_000_000).update([
    "L = ii * 3", "I = (int) i", "D1 = random()", "D2 = random() * 1000", "D3 = ii / 7.0", "D4 = Math.sqrt(ii)",
])
S2 = empty_table(1_000_000).update([
    "Sym = ii % 20 == 0 ? null : (\`ID-\` + Long.toHexString(ii * 2654435761L % 1000000007L))",
    "Name = ii % 20 == 1 ? null : (\`customer_\` + (ii % 100000))",
    "Ts = ii % 20 == 2 ? null : epochNanosToInstant(1700000000000000000L + ii * 1000000L)",
    "I = ii % 20 == 3 ? NULL_INT : (int) i",
    "L = ii % 20 == 4 ? NULL_LONG : ii * 3",
    "D = ii % 20 == 5 ? NULL_DOUBLE : random()",
    "E = ii % 20 == 6 ? NULL_DOUBLE : ii / 7.0",
    "F = ii % 20 == 7 ? NULL_FLOAT : (float) (ii % 1000) / 3.0f",
    "H = ii % 20 == 8 ? NULL_SHORT : (short) (ii % 30000)",
    "B = ii % 20 == 9 ? NULL_BYTE : (byte) (ii % 100)",
])
S3 = empty_table(${s3Rows}).update([
    "A = random()", "B = ii * 0.5", "C = Math.sin(ii)", "D = random() * ii", "E = (double) ii",
])
`;

const TICKING: Record<string, { script: (name: string) => string; periodNs: number; seconds: number }> = {
  T1: {
    script: (n) => `${n} = time_table("PT0.001s").update(["I = ii", "X = random()"])`,
    periodNs: 1_000_000,
    seconds: Number(flags["t1-seconds"]),
  },
  T2: {
    script: (n) => `${n} = time_table("PT0.00001s").update(["I = ii", "X = random()"])`,
    periodNs: 10_000,
    seconds: Number(flags["t2-seconds"]),
  },
  T3: {
    script: (n) =>
      `${n} = time_table("PT0.00001s").update(["Key = (int) (ii % 10000)", "X = random()", "Y = ii * 0.5"])` +
      `.last_by("Key")`,
    periodNs: 0,
    seconds: Number(flags["t3-seconds"]),
  },
};

const jvmArgs = [
  `-Xmx${flags.xmx}`,
  `-DPeriodicUpdateGraph.targetCycleDurationMillis=${cycleMs}`,
  `-Dbarrage.minUpdateInterval=${intervalMs}`,
  "-Dhttp.session.durationMs=300000",
];

/** The pid of the embedded server (the launcher process hosts the JVM). */
function serverPid(port: number): number {
  for (const e of Deno.readDirSync("/proc")) {
    if (!/^\d+$/.test(e.name)) continue;
    try {
      const cmd = Deno.readTextFileSync(`/proc/${e.name}/cmdline`).split("\0");
      if (cmd.some((c) => c.endsWith("dh_server.py")) && cmd.includes(String(port))) return Number(e.name);
    } catch {
      // gone
    }
  }
  return 0;
}

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

// ---- statistics ----

interface Summary {
  client: string;
  medianMs: number;
  minMs: number;
  maxMs: number;
  q1Ms: number;
  q3Ms: number;
  rows: number;
  wireBytes?: number;
  peakRssMiB: number;
  cpuMs: number;
  serverCpuMs: number;
  reps: Rep[];
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
}

function quantile(xs: number[], q: number): number {
  const s = [...xs].sort((a, b) => a - b);
  const pos = (s.length - 1) * q;
  const lo = Math.floor(pos), hi = Math.ceil(pos);
  return s[lo] + (s[hi] - s[lo]) * (pos - lo);
}

function summarize(client: string, r: Rep[]): Summary {
  const ms = r.map((x) => x.ms);
  return {
    client,
    medianMs: median(ms),
    minMs: Math.min(...ms),
    maxMs: Math.max(...ms),
    q1Ms: quantile(ms, 0.25),
    q3Ms: quantile(ms, 0.75),
    rows: r[0].rows,
    wireBytes: r[0].bytes,
    peakRssMiB: median(r.map((x) => x.peakRssMiB)),
    cpuMs: median(r.map((x) => x.cpuMs)),
    serverCpuMs: median(r.map((x) => x.serverCpuMs)),
    reps: r,
  };
}

/** Slope of y over x by least squares. */
function slope(xs: number[], ys: number[]): number {
  const n = xs.length;
  if (n < 2) return 0;
  const mx = xs.reduce((a, b) => a + b, 0) / n, my = ys.reduce((a, b) => a + b, 0) / n;
  let num = 0, den = 0;
  for (let i = 0; i < n; i++) {
    num += (xs[i] - mx) * (ys[i] - my);
    den += (xs[i] - mx) ** 2;
  }
  return den === 0 ? 0 : num / den;
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
};
const staticResults = results.static as Record<string, Record<string, unknown>>;
const tickingResults = results.ticking as Record<string, Record<string, unknown>>;

try {
  const STATIC: [key: string, label: string, start: () => Promise<Worker>][] = [
    ["rawDoGet", "raw sink DoGet", () => denoWorker("raw-doget")],
    ["bareH2DoGet", "bare node:http2 DoGet (no grpc-js)", () => denoWorker("raw-h2-doget")],
    ["doGet", "deno DoGet → Arrow", () => denoWorker("doget")],
    ["pydeephaven", "pydeephaven to_arrow", () => pyWorker()],
    ["rawExchange", "raw sink DoExchange", () => denoWorker("raw-exchange")],
    ["barrageSnapshot", "deno Barrage snapshot → LocalTable", () => denoWorker("bsnap")],
  ];
  const tables = ["S1", "S2", "S3"].filter((w) => only.has(w));
  if (tables.length) {
    // One long-lived process per client; the rounds interleave them, repetition by repetition, starting
    // each round with the next client, so that drift on the shared machine falls on every client alike.
    const workers = new Map<string, Worker>();
    const failed = new Map<string, string>();
    for (const [key, , start] of STATIC) {
      if (key === "pydeephaven" && !peers) continue;
      try {
        workers.set(key, await start());
      } catch (e) {
        if (key !== "pydeephaven") throw e;
        failed.set(key, (e as Error).message);
      }
    }
    try {
      const serverWarmup = Number(flags["server-warmup"]);
      for (const w of tables) {
        log(`${w}: warming the server up (${serverWarmup} DoGet and DoExchange snapshots)`);
        for (let i = 0; i < serverWarmup; i++) {
          await workers.get("rawDoGet")!.call({ table: w });
          await workers.get("rawExchange")!.call({ table: w });
        }
      }
      for (const w of tables) {
        const rows = w === "S3" ? s3Rows : 1_000_000;
        log(`${w}: ${rows} rows, ${warmup} + ${reps} interleaved rounds`);
        const entry: Record<string, unknown> = { rows };
        const got = new Map<string, Rep[]>();
        for (let round = 0; round < warmup + reps; round++) {
          for (let i = 0; i < STATIC.length; i++) {
            const [key] = STATIC[(i + round) % STATIC.length];
            const worker = workers.get(key);
            if (!worker || failed.has(key)) continue;
            let r: Record<string, unknown>;
            try {
              r = await worker.call({ table: w });
            } catch (e) {
              if (key !== "pydeephaven") throw e;
              failed.set(key, (e as Error).message);
              log(`${w}: pydeephaven failed: ${(e as Error).message}`);
              continue;
            }
            if (key === "doGet") entry.arrowBytes = r.arrowBytes;
            if (key === "pydeephaven") entry.pyArrowBytes = r.arrowBytes;
            if (round >= warmup) got.set(key, [...(got.get(key) ?? []), r as unknown as Rep]);
          }
        }
        for (const [key, label] of STATIC) {
          const r = got.get(key);
          if (r?.length) entry[key] = summarize(label, r);
        }
        if (failed.has("pydeephaven")) entry.pydeephavenError = failed.get("pydeephaven");
        entry.memory = await workers.get("barrageSnapshot")!.call({ table: w, memory: true });
        staticResults[w] = entry;
      }
    } finally {
      for (const worker of workers.values()) await worker.close();
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

// ---- the report ----

const f = (x: number | undefined, d = 0) => x === undefined || !Number.isFinite(x) ? "–" : x.toFixed(d);
const fx = (x: number | undefined) => x === undefined || !Number.isFinite(x) ? "–" : `${x.toFixed(2)}×`;
const mbps = (bytes: number | undefined, ms: number) => bytes ? bytes / 1e6 / (ms / 1000) : undefined;

interface Goal {
  id: string;
  target: string;
  measured: string;
  met: boolean | undefined;
}
const goals: Goal[] = [];

const lines: string[] = [];
const srv = results.server as Record<string, unknown>;
lines.push(
  `Run ${started.toISOString()}${flags.tag ? ` (${flags.tag})` : ""}: Deephaven ${srv.version} embedded ` +
    `(-Xmx${flags.xmx}, \`PeriodicUpdateGraph.targetCycleDurationMillis=${cycleMs}\`, ` +
    `\`barrage.minUpdateInterval=${intervalMs}\`), Deno ${denoVersion}, ${navigator.hardwareConcurrency} CPUs` +
    `${flags.pin ? " (server pinned to CPU 0, clients to CPU 1)" : " (not pinned)"}, server and clients on ` +
    `one machine. Static: median of ${reps} runs after ${warmup} warm-up round, the clients interleaved run by run, on a server ` +
    `warmed up by ${
      flags["server-warmup"]
    } DoGet and DoExchange snapshots of each table (spread: min–max). ` +
    `Each client runs in its own process; peak RSS is that process's high-water mark during one run (reset before it).`,
  "",
);

if (Object.keys(staticResults).length) {
  lines.push(
    "### Static snapshots (S1–S3)",
    "",
    "| Workload | Client | Median ms | Min–max ms | Rows/s (M) | Wire MB/s | Peak RSS MiB | Client CPU ms | Server CPU ms | Time ratio vs pydeephaven | Time ratio vs raw sink |",
    "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
  );
  for (const [w, e] of Object.entries(staticResults)) {
    const raw = e.rawDoGet as Summary, rawEx = e.rawExchange as Summary;
    const py = e.pydeephaven as Summary | undefined;
    const rows: [Summary | undefined, Summary | undefined, number | undefined][] = [
      [raw, undefined, raw.wireBytes],
      [e.bareH2DoGet as Summary | undefined, undefined, raw.wireBytes],
      [e.doGet as Summary, raw, raw.wireBytes],
      [py, undefined, raw.wireBytes],
      [rawEx, undefined, rawEx.wireBytes],
      [e.barrageSnapshot as Summary, rawEx, rawEx.wireBytes],
    ];
    if (e.pydeephavenError) {
      lines.push(
        `| ${w} | pydeephaven to_arrow | failed: ${
          String(e.pydeephavenError).replace(/\|/g, "/")
        } ||||||||||`,
      );
    }
    for (const [s, rawRef, wire] of rows) {
      if (!s) continue;
      const ours = s.client.startsWith("deno");
      lines.push(
        `| ${w} (${(e.rows as number / 1e6).toFixed(0)}M rows) | ${s.client} | ${f(s.medianMs)} | ${
          f(s.minMs)
        }–${f(s.maxMs)} | ${f((e.rows as number) / s.medianMs / 1000, 2)} | ${f(mbps(wire, s.medianMs))} | ${
          f(s.peakRssMiB)
        } | ${f(s.cpuMs)} | ${f(s.serverCpuMs)} | ${s !== py && py ? fx(s.medianMs / py.medianMs) : ""} | ${
          ours && rawRef ? fx(s.medianMs / rawRef.medianMs) : ""
        } |`,
      );
    }
  }
  lines.push("");
  lines.push(
    "Time ratios are time_ours / time_peer (below 1 is faster than the peer). The raw sink is this module's own " +
      "grpc-js channel draining the same stream (after the same FetchTable) without decoding: the ceiling " +
      "for this client. The bare node:http2 DoGet drains the same DoGet over a plain `node:http2` session " +
      "(same windows, gRPC frames counted, no grpc-js): the ceiling of any client on Deno's HTTP/2. " +
      "Wire MB/s divides the FlightData bytes the raw sink counted by each client's time.",
    "",
    "### Local table memory",
    "",
    "| Workload | Arrow column bytes (DoGet) | LocalTable bytes | of which typed arrays | of which JS heap | RSS drop on release | Bytes/row (MB per million rows) | LocalTable / Arrow |",
    "|---|---:|---:|---:|---:|---:|---:|---:|",
  );
  for (const [w, e] of Object.entries(staticResults)) {
    const m = e.memory as Record<string, number>;
    const rows = e.rows as number;
    const ab = e.arrowBytes as number;
    lines.push(
      `| ${w} | ${f(ab / 1e6, 1)} MB | ${f(m.tableBytes / 1e6, 1)} MB | ${f(m.typedBytes / 1e6, 1)} MB | ${
        f(m.heapBytes / 1e6, 1)
      } MB | ${f(m.rssDropMiB * 1.048576, 1)} MB | ${f(m.tableBytes / rows, 1)} | ${fx(m.tableBytes / ab)} |`,
    );
  }
  lines.push(
    "",
    "LocalTable bytes are those of one more Barrage snapshot's LocalTable: its typed arrays (column " +
      "storage and position index, whole buffers, spare capacity included) plus the drop in V8 heap use when " +
      "it is released, after full GCs (strings, JS arrays). The RSS drop is a cross-check. Arrow column bytes " +
      "are the DoGet table's buffers (values, offsets, validity).",
    "",
  );
  const s1 = staticResults.S1;
  if (s1) {
    const dg = s1.doGet as Summary, py = s1.pydeephaven as Summary | undefined, raw = s1.rawDoGet as Summary;
    const r1 = py ? dg.medianMs / py.medianMs : undefined;
    const r2 = raw.medianMs / dg.medianMs;
    goals.push({
      id: "P1",
      target: "S1 snapshot ≤ 1.0× pydeephaven's time and ≥ 0.8× raw sink throughput",
      measured: `DoGet→Arrow ${fx(r1)} pydeephaven's time; ${fx(r2)} raw sink throughput`,
      met: r1 !== undefined ? r1 <= 1.0 && r2 >= 0.8 : undefined,
    });
    const m = s1.memory as Record<string, number>;
    const r4 = m.tableBytes / (s1.arrowBytes as number);
    goals.push({
      id: "P4",
      target: "LocalTable ≤ 1.5× its Arrow column bytes",
      measured: `S1 ${fx(r4)}${
        staticResults.S3
          ? `, S3 ${
            fx(
              (staticResults.S3.memory as Record<string, number>).tableBytes /
                (staticResults.S3.arrowBytes as number),
            )
          }`
          : ""
      }${
        staticResults.S2
          ? `, S2 ${
            fx(
              (staticResults.S2.memory as Record<string, number>).tableBytes /
                (staticResults.S2.arrowBytes as number),
            )
          } (strings)`
          : ""
      }`,
      // Met only if every measured workload is within the bound.
      met: ["S1", "S2", "S3"].every((w) => {
        const e = staticResults[w];
        return !e || (e.memory as Record<string, number>).tableBytes / (e.arrowBytes as number) <= 1.5;
      }),
    });
  }
  const s2 = staticResults.S2;
  if (s2 && s2.pydeephaven) {
    const r = (s2.doGet as Summary).medianMs / (s2.pydeephaven as Summary).medianMs;
    const rb = (s2.barrageSnapshot as Summary).medianMs / (s2.pydeephaven as Summary).medianMs;
    goals.push({
      id: "P2",
      target: "S2 (mixed, strings, nulls) ≤ 1.0× pydeephaven's time",
      measured: `DoGet→Arrow ${fx(r)}; Barrage snapshot→LocalTable ${fx(rb)}`,
      met: r <= 1.0,
    });
  }
}

if (Object.keys(tickingResults).length) {
  lines.push(
    "### Ticking (T1–T3), full subscriptions",
    "",
    "| Workload | Client | Seconds | Rows/s applied, added + modified (per-second min–max) | Modified cells/s | Updates | Apply ms p50 / p99 | Latency ms p50 / p95 / p99 | Lag start → end ms (slope ms/s) | Local vs server rows at end | Client CPU % of one core | Peak RSS MiB | Rows/s ratio ours/ticking | Apply p50 ratio ours/ticking |",
    "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
  );
  for (const [w, e] of Object.entries(tickingResults)) {
    const ours = e.deno as Record<string, unknown>;
    const peer = e["pydeephaven-ticking"] as Record<string, unknown> | undefined;
    for (const [client, r] of [["deno (this module)", ours], ["pydeephaven-ticking", peer]] as const) {
      const errors = e[`${client} errors`] as string[] | undefined;
      if (!r) {
        if (errors) {
          lines.push(`| ${w} | ${client} | failed: ${errors.join("; ").replace(/\|/g, "/")} |||||||||||||`);
        }
        continue;
      }
      const ps = (r.perSecond as number[]).slice(1);
      const apply = r.applyMs as Record<string, number>;
      const lat = r.latencyMs as Record<string, number>;
      const samples = r.samples as { t: number; lagMs: number; localRows: number; serverRows?: number }[];
      const lagSlope = slope(samples.map((s) => s.t / 1000), samples.map((s) => s.lagMs));
      const last = samples[samples.length - 1];
      const isOurs = r === ours;
      const ratioRows = isOurs && peer ? fx((ours.rowsPerSec as number) / (peer.rowsPerSec as number)) : "";
      const ratioApply = isOurs && peer ? fx(apply.p50 / (peer.applyMs as Record<string, number>).p50) : "";
      r.lagSlopeMsPerSec = lagSlope;
      lines.push(
        `| ${w} | ${client} | ${f(r.seconds as number)} | ${f(r.rowsPerSec as number)} (${
          ps.length ? `${f(Math.min(...ps))}–${f(Math.max(...ps))}` : "–"
        }) | ${f(r.modCellsPerSec as number)} | ${r.updates} | ${f(apply.p50, 2)} / ${f(apply.p99, 2)} | ${
          f(lat.p50)
        } / ${f(lat.p95)} / ${f(lat.p99)} | ${samples.length ? f(samples[0].lagMs) : "–"} → ${
          last ? f(last.lagMs) : "–"
        } (${f(lagSlope, 1)}) | ${last ? `${last.localRows} / ${last.serverRows ?? "–"}` : "–"} | ${
          f((r.clientCpuMs as number) / (r.seconds as number) / 10, 0)
        } | ${f(r.peakRssMiB as number)} | ${ratioRows} | ${ratioApply} |`,
      );
    }
  }
  lines.push(
    "",
    "Apply time is the client's own processing of the messages of one update (this module: decode, apply to " +
      "the LocalTable, from the moment a message is handed over until the next is asked for, minus the " +
      "benchmark's listener; pydeephaven-ticking: its C++ `BarrageProcessor.process_next_chunk` calls). " +
      "Latency is now minus the row's server Timestamp (T1, T2) or the modified row's (T3), on up to 1000 " +
      "rows per update: it includes the engine cycle and the Barrage interval. Lag is now minus the newest " +
      "Timestamp held; its slope over the run shows backlog growth. Server rows are estimated from " +
      "the time table's first Timestamp and period. Each client measures a window of the given seconds that starts 2 s after its initial snapshot was complete.",
    "",
  );
  const t2 = tickingResults.T2;
  if (t2) {
    const ours = t2.deno as Record<string, unknown>;
    const peer = t2["pydeephaven-ticking"] as Record<string, unknown> | undefined;
    const apply = ours.applyMs as Record<string, number>;
    const slopeMs = ours.lagSlopeMsPerSec as number;
    const samples = ours.samples as { t: number; lagMs: number }[];
    const endLag = samples.length ? samples[samples.length - 1].lagMs : NaN;
    const rate = peer ? (ours.rowsPerSec as number) / (peer.rowsPerSec as number) : undefined;
    const noGrowth = Math.abs(slopeMs) <= 10 && endLag <= 2000;
    goals.push({
      id: "P3",
      target: `live append at 100k rows/s (T2, ${f(ours.seconds as number)} s${
        (ours.seconds as number) < 59 ? " instead of 60 s" : ""
      }) with no backlog growth, apply ≤ 10% of the ${intervalMs} ms update interval, rows/s ≥ ticking's`,
      measured: `${f(ours.rowsPerSec as number)} rows/s (${fx(rate)} ticking's); lag slope ${
        f(slopeMs, 1)
      } ms/s, end lag ${f(endLag)} ms; apply p50 ${f(apply.p50, 2)} ms (${
        f(100 * apply.p50 / intervalMs, 1)
      }%), p99 ${f(apply.p99, 2)} ms (${f(100 * apply.p99 / intervalMs, 1)}%)`,
      met: noGrowth && apply.p99 <= intervalMs * 0.1 && (rate === undefined || rate >= 0.99),
    });
  }
}

const disp = results.display as Record<string, number> | undefined;
if (disp) {
  lines.push(
    "### Notebook display (P5)",
    "",
    `\`tableBundle(table)\` of a live LocalTable of ${disp.rows} rows (4 columns, built locally with ` +
      `\`localTableFromArrow\` in ${f(disp.buildMs)} ms), after a 100-row append each time: median ${
        f(disp.medianMs, 2)
      } ms (min ${f(disp.minMs, 2)}, max ${f(disp.maxMs, 2)}) over 20 refreshes.`,
    "",
  );
  goals.push({
    id: "P5",
    target: "refreshing the display of a live 10M-row table ≤ 5 ms",
    measured: `median ${f(disp.medianMs, 2)} ms, max ${f(disp.maxMs, 2)} ms`,
    met: disp.medianMs <= 5,
  });
}

if (goals.length) {
  goals.sort((a, b) => a.id.localeCompare(b.id));
  lines.push("### Goals", "", "| Goal | Target | Measured | Met |", "|---|---|---|---|");
  for (const g of goals) {
    lines.push(
      `| ${g.id} | ${g.target} | ${g.measured} | ${g.met === undefined ? "–" : g.met ? "yes" : "no"} |`,
    );
  }
  lines.push("");
}
results.goals = goals;

const md = lines.join("\n");
const dir = `${PROJECT_ROOT}/bench/results`;
await Deno.mkdir(dir, { recursive: true });
const stamp = started.toISOString().replace(/[-:]/g, "").replace(/\..*$/, "");
const json = JSON.stringify(results, null, 2) + "\n";
await Deno.writeTextFile(`${dir}/${stamp}.json`, json);
await Deno.writeTextFile(`${dir}/${stamp}.md`, md + "\n");
await Deno.writeTextFile(`${dir}/latest.json`, json);
await Deno.writeTextFile(`${dir}/latest.md`, md + "\n");
log(`wrote bench/results/${stamp}.{md,json} and latest.{md,json}`);

// The written files follow the project's `deno fmt` (tables aligned, lines wrapped), as the checks require.
const written = [`bench/results/${stamp}.json`, `bench/results/${stamp}.md`, "bench/results/latest.json"];
written.push("bench/results/latest.md");
const fmt = await new Deno.Command(deno, { args: ["fmt", "-q", ...written], cwd: PROJECT_ROOT }).output();
if (!fmt.success) log(`deno fmt of the results failed: ${new TextDecoder().decode(fmt.stderr)}`);
console.log(md);
Deno.exit(0);
