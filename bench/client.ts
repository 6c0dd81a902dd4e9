/**
 * One measured Deno client of the benchmark (`bench/run.ts` starts it once per workload and mode, in a
 * process of its own, so that peak RSS and CPU time belong to that measurement alone).
 *
 * Modes:
 * - `doget`: this module, a Flight DoGet into an apache-arrow Table (the path `toArrow()` took before).
 * - `barrow`: this module, `toArrow()`: a Barrage snapshot (DoExchange) into an apache-arrow Table.
 * - `bsnap`: this module, `barrageSession().snapshot(openTable(name))` (DoExchange snapshot into a LocalTable).
 * - `raw-doget` / `raw-exchange`: the raw sink, this module's channel (its own HTTP/2 connection for Flight
 *   streams) draining the same stream (after the same FetchTable of the scope table), counting bytes without
 *   decoding anything: the ceiling for this client.
 * - `raw-exchange-keep`: the raw DoExchange sink holding every message until the stream ends (the new memory a
 *   table of the data needs; the raw sink reuses the few buffers it has freed).
 * - `raw-exchange-grpcjs`: the same raw DoExchange sink on a grpc-js channel (the transport this module used
 *   before its own), for the transport's A/B comparison.
 * - `subscribe`: this module, a full Barrage subscription to a ticking table for `--seconds`; with
 *   `--count N`, N subscriptions to it on one session (G5).
 * - `display`: `tableBundle()` of a locally built live LocalTable of `--rows` rows (no server).
 *
 * Prints one JSON line on stdout; progress goes to stderr. With `--serve`, a static mode instead answers one
 * repetition per command line on stdin (see {@linkcode serve}), so that the driver can interleave clients.
 *
 * Run: `deno run -A --v8-flags=--expose-gc bench/client.ts --mode doget --port 10000 --table S1 --reps 5`
 *
 * @module
 */

import { parseArgs } from "node:util";
import process from "node:process";
import * as arrow from "apache-arrow";
import { barrageSession, type LocalTable, localTableFromArrow, Session } from "../mod.ts";
import { tableBundle } from "../src/display/mod.ts";
import { Channel, type MethodSpec } from "../src/transport/channel.ts";
import { rpc } from "../src/transport/rpc.ts";
import { sessionCoreOf } from "../src/session/session.ts";
import { snapshotRequest } from "../src/wire/messages.ts";
import { FlightService } from "../src/generated/proto/arrow/flight/protocol/flight_pb.ts";
import { RowSet } from "../src/table/rowset.ts";
import { createLocalTable, storageOf } from "../src/table/local_table.ts";
import { appendArrow } from "../src/barrage/from_arrow.ts";
import type { Rep } from "./rep.ts";

const { values: args } = parseArgs({
  args: Deno.args,
  options: {
    mode: { type: "string" },
    host: { type: "string", default: "127.0.0.1" },
    port: { type: "string", default: "10000" },
    table: { type: "string", default: "S1" },
    reps: { type: "string", default: "5" },
    seconds: { type: "string", default: "20" },
    rows: { type: "string", default: "10000000" },
    "server-pid": { type: "string", default: "0" },
    "period-ns": { type: "string", default: "0" },
    "settle-ms": { type: "string", default: "2000" },
    count: { type: "string", default: "1" },
    serve: { type: "boolean", default: false },
  },
});

const host = args.host;
const port = Number(args.port);
const reps = Number(args.reps);
const serverPid = Number(args["server-pid"]);

// ---- process measurements ----

const gc: () => void = (globalThis as { gc?: () => void }).gc ?? (() => {});

function statusKiB(field: string): number {
  const m = Deno.readTextFileSync("/proc/self/status").match(new RegExp(`${field}:\\s+(\\d+)`));
  return m ? Number(m[1]) : 0;
}

/** Resets the peak RSS (VmHWM) of this process (Linux: `echo 5 > /proc/self/clear_refs`). */
function resetPeak(): void {
  try {
    Deno.writeTextFileSync("/proc/self/clear_refs", "5");
  } catch {
    // Not permitted: the peak then covers the whole process.
  }
}

const peakRssMiB = () => statusKiB("VmHWM") / 1024;
const rssMiB = () => statusKiB("VmRSS") / 1024;
const cpuMs = () => {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1000;
};

/** CPU time of the server process in ms (utime + stime from /proc), or 0 when unknown. */
function serverCpuMs(): number {
  if (!serverPid) return 0;
  try {
    const stat = Deno.readTextFileSync(`/proc/${serverPid}/stat`);
    const f = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    return (Number(f[11]) + Number(f[12])) * 10; // clock ticks of 10 ms
  } catch {
    return 0;
  }
}

async function measure(fn: () => Promise<{ rows: number; bytes?: number }>): Promise<Rep> {
  gc();
  gc();
  resetPeak();
  const c0 = cpuMs(), s0 = serverCpuMs();
  const t0 = performance.now();
  const r = await fn();
  const ms = performance.now() - t0;
  return {
    ms,
    rows: r.rows,
    bytes: r.bytes,
    peakRssMiB: peakRssMiB(),
    cpuMs: cpuMs() - c0,
    serverCpuMs: serverCpuMs() - s0,
  };
}

/** Bytes of an apache-arrow Data's buffers (values, offsets, validity), children included. */
function dataBytes(d: arrow.Data): number {
  let n = (d.values?.byteLength ?? 0) + (d.valueOffsets?.byteLength ?? 0) + (d.nullBitmap?.byteLength ?? 0);
  for (const c of d.children ?? []) n += dataBytes(c);
  return n;
}

function arrowBytes(t: arrow.Table): number {
  let n = 0;
  for (const b of t.batches) for (const c of b.data.children) n += dataBytes(c);
  return n;
}

/**
 * Bytes a LocalTable's storage holds outside the JS heap: its column storage (typed arrays, string bytes)
 * and its position index, whole buffers (spare capacity included).
 */
function typedBytes(t: LocalTable): number {
  return storageOf(t).bytes;
}

function log(msg: string): void {
  console.error(`client[${args.mode} ${args.table}]: ${msg}`);
}

// ---- static modes: one repetition at a time ----

/** A static client: one measured repetition per call, on a connection kept between calls. */
interface StaticRunner {
  rep(table: string): Promise<Rep & { arrowBytes?: number }>;
  /** The memory a LocalTable of `table` holds (bsnap only). */
  memory?(table: string): Promise<Record<string, number>>;
  close(): Promise<void>;
}

/** An Arrow table of a scope table by this module: DoGet, or a Barrage snapshot (DoExchange). */
async function arrowRunner(via: "doget" | "exchange"): Promise<StaticRunner> {
  const session = await Session.connect({ host, port, reconnect: false });
  const core = sessionCoreOf(session);
  return {
    async rep(name) {
      let table: arrow.Table | undefined;
      const r = await measure(async () => {
        const ref = session.openTable(name);
        await ref.ready();
        table = via === "doget" ? await core.doGet(ref.ticket) : await core.exchangeSnapshot(ref.ticket);
        ref.close().catch(() => {});
        return { rows: table.numRows };
      });
      return { ...r, arrowBytes: arrowBytes(table!) };
    },
    close: () => session.close(),
  };
}

async function bsnapRunner(): Promise<StaticRunner> {
  const bs = await barrageSession({ host, port });
  return {
    rep: (name) => measure(async () => ({ rows: (await bs.snapshot(bs.session.openTable(name))).size })),
    async memory(name) {
      // What the table holds: its typed arrays (outside the heap, counted exactly), plus what the JS heap
      // loses when it is released (strings, JS arrays, objects), after full GCs; and the RSS drop, as a check.
      let lt: LocalTable | undefined = await bs.snapshot(bs.session.openTable(name));
      await new Promise((r) => setTimeout(r, 50));
      gc();
      gc();
      const heapWith = Deno.memoryUsage().heapUsed, rssWith = rssMiB();
      const external = typedBytes(lt);
      lt = undefined;
      // A turn of the event loop first: a suspended async frame can still hold the table in a register.
      await new Promise((r) => setTimeout(r, 50));
      gc();
      gc();
      const heapWithout = Deno.memoryUsage().heapUsed;
      return {
        tableBytes: external + Math.max(0, heapWith - heapWithout),
        typedBytes: external,
        heapBytes: heapWith - heapWithout,
        rssDropMiB: rssWith - rssMiB(),
      };
    },
    close: () => bs.close(),
  };
}

/**
 * The raw sink: this module's channel (or, with `grpcjs`, a grpc-js channel like the module used before its
 * own HTTP/2 streams), the same stream, bytes counted and dropped.
 */
async function rawRunner(exchange: boolean, grpcjs = false, keep = false): Promise<StaticRunner> {
  const session = await Session.connect({ host, port, reconnect: false });
  const core = sessionCoreOf(session);
  const channel = grpcjs
    ? new Channel({
      host,
      port,
      requestHeaders: () => ({ authorization: core.auth.header() }),
      streams: "grpc-js",
    })
    : core.channel;
  return {
    rep: (name) =>
      measure(async () => {
        // The same steps as this module's clients: fetch the scope table into an export, then stream it.
        const ref = session.openTable(name);
        await ref.ready();
        const ticket = ref.ticket;
        let bytes = 0, messages = 0;
        if (exchange) {
          // With `keep`, every message's bytes stay referenced until the end, as a table's would.
          const kept: Uint8Array[] = [];
          const spec = {
            ...rpc(FlightService.method.doExchange),
            deserialize: (b: Uint8Array) => (keep && kept.push(b), b.byteLength),
          } as unknown as MethodSpec<{ appMetadata: Uint8Array }, number>;
          const call = channel.bidi(spec, { what: "raw exchange" });
          call.send({ appMetadata: snapshotRequest(ticket) });
          call.end();
          for await (const n of call) {
            bytes += n;
            messages++;
          }
          kept.length = 0;
        } else {
          const spec = {
            ...rpc(FlightService.method.doGet),
            deserialize: (b: Uint8Array) => b.byteLength,
          } as unknown as MethodSpec<{ ticket: Uint8Array }, number>;
          for await (const n of channel.serverStream(spec, { ticket }, { what: "raw doget" })) {
            bytes += n;
            messages++;
          }
        }
        ref.close().catch(() => {});
        return { rows: messages, bytes };
      }),
    async close() {
      if (channel !== core.channel) channel.close();
      await session.close();
    },
  };
}

function staticRunner(mode: string): Promise<StaticRunner> {
  switch (mode) {
    case "doget":
      return arrowRunner("doget");
    case "barrow":
      return arrowRunner("exchange");
    case "bsnap":
      return bsnapRunner();
    case "raw-doget":
      return rawRunner(false);
    case "raw-exchange":
      return rawRunner(true);
    case "raw-exchange-grpcjs":
      return rawRunner(true, true);
    case "raw-exchange-keep":
      return rawRunner(true, false, true);
    default:
      throw new Error(
        `Unknown static mode ${mode}; use doget, barrow, bsnap, raw-doget, raw-exchange, raw-exchange-keep or raw-exchange-grpcjs`,
      );
  }
}

/** `--reps N` repetitions of one static mode on one table, as one JSON result. */
async function staticOnce(mode: string): Promise<Record<string, unknown>> {
  const runner = await staticRunner(mode);
  const out: Rep[] = [];
  let extra: Record<string, unknown> = {};
  for (let i = 0; i < reps; i++) {
    const { arrowBytes, ...r } = await runner.rep(args.table!);
    if (arrowBytes !== undefined) extra = { arrowBytes };
    out.push(r as Rep);
    log(`rep ${i + 1}: ${r.ms.toFixed(0)} ms, ${r.rows} ${mode.startsWith("raw") ? "messages" : "rows"}`);
  }
  if (runner.memory) extra.memory = await runner.memory(args.table!);
  await runner.close();
  return { reps: out, ...extra };
}

/**
 * `--serve`: one JSON command a line on stdin (`{"table": "S1"}` for a repetition, `{"table": "S1",
 * "memory": true}` for bsnap's memory), one JSON answer a line on stdout, so that the driver can interleave
 * the clients repetition by repetition.
 */
async function serve(mode: string): Promise<void> {
  const runner = await staticRunner(mode);
  console.log(JSON.stringify({ ready: true }));
  const decoder = new TextDecoder();
  let pending = "";
  for await (const chunk of Deno.stdin.readable) {
    pending += decoder.decode(chunk, { stream: true });
    let nl: number;
    while ((nl = pending.indexOf("\n")) >= 0) {
      const line = pending.slice(0, nl).trim();
      pending = pending.slice(nl + 1);
      if (!line) continue;
      const cmd = JSON.parse(line) as { table: string; memory?: boolean };
      try {
        const answer = cmd.memory && runner.memory
          ? await runner.memory(cmd.table)
          : await runner.rep(cmd.table);
        console.log(JSON.stringify(answer));
      } catch (e) {
        console.log(JSON.stringify({ error: (e as Error).message }));
      }
    }
  }
  await runner.close();
}

/** Times the processing of each stream message: from the moment it is handed over until the next is asked for. */
class Probe {
  busy = 0;
  start: number | undefined;
  onResolve(): void {
    this.start = performance.now();
  }
  onCall(): void {
    if (this.start !== undefined) this.busy += performance.now() - this.start;
    this.start = undefined;
  }
  /** Processing time since the last update, up to now (called inside the update listener). */
  take(): number {
    const now = performance.now();
    const t = this.busy + (this.start !== undefined ? now - this.start : 0);
    this.busy = 0;
    this.start = undefined;
    return t;
  }
  /** Called when the listener returns: its own time is not counted. */
  resume(): void {
    this.start = performance.now();
  }
}

/** One probe per Barrage stream, in the order the streams are opened. */
const probes: Probe[] = [];

function instrumentChannel(): void {
  const original = Channel.prototype.bidi;
  Channel.prototype.bidi = function <I, O>(this: Channel, ...a: Parameters<typeof original<I, O>>) {
    const call = original.apply(this, a) as ReturnType<typeof original<I, O>>;
    const iterate = call[Symbol.asyncIterator];
    const probe = new Probe();
    probes.push(probe);
    return {
      send: call.send,
      end: call.end,
      cancel: call.cancel,
      headers: call.headers,
      [Symbol.asyncIterator]: () => {
        const it = iterate();
        return {
          next: () => {
            probe.onCall();
            return it.next().then((r) => {
              probe.onResolve();
              return r;
            });
          },
          return: (v?: unknown) =>
            it.return?.(v) ?? Promise.resolve({ done: true as const, value: undefined }),
          throw: (e?: unknown) => it.throw?.(e) ?? Promise.reject(e),
        } as AsyncIterator<O>;
      },
    };
  } as typeof original;
}

function percentile(sorted: number[], p: number): number {
  if (sorted.length === 0) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.floor(p * sorted.length))];
}

interface Update {
  t: number;
  apply: number;
  added: number;
  modRows: number;
  modCells: number;
}

/**
 * `--count` full subscriptions to one ticking table on one session, measured over a window of `--seconds`
 * (after `--settle-ms`): rows/s, apply time per update (per stream), latency and lag from the table's
 * Timestamp, CPU and memory.
 */
async function subscribe(): Promise<Record<string, unknown>> {
  instrumentChannel();
  const seconds = Number(args.seconds);
  const settleMs = Number(args["settle-ms"]);
  const periodNs = Number(args["period-ns"]);
  const count = Number(args.count);
  const bs = await barrageSession({ host, port });
  const t0 = performance.now();
  const ref = bs.session.openTable(args.table!);
  const tables: LocalTable[] = [];
  for (let i = 0; i < count; i++) {
    const before = probes.length;
    tables.push(await bs.subscribe(ref));
    if (probes.length !== before + 1) throw new Error("expected one Barrage stream per subscription");
  }
  const readyMs = performance.now() - t0;
  const initialRows = tables[0].size;
  const updates: Update[] = [];
  const latencies: number[] = [];
  const samples: { t: number; lagMs: number; localRows: number; serverRows?: number; rssMiB: number }[] = [];
  let maxTs = 0n;
  let firstTs: bigint | undefined;
  let lastSample = 0;
  let measuring = false;
  let tStart = 0;
  const offs = tables.map((live, k) => {
    const probe = probes[probes.length - count + k];
    const tsIndex = live.columns.indexOf("Timestamp");
    probe.take(); // the initial snapshot's processing is not an update's
    return live.onUpdate((u) => {
      const apply = probe.take();
      const now = performance.now();
      const nowNs = BigInt(Math.round((performance.timeOrigin + now) * 1e6));
      const data = storageOf(live).store(tsIndex).data as BigInt64Array;
      if (firstTs === undefined && live.size > 0) firstTs = data[storageOf(live).slotAt(0)];
      const slots = u.slots?.added.length ? u.slots.added : u.slots?.modified ?? new Int32Array(0);
      // Latency from the server timestamp of rows to now, on at most ~1000 rows of this update.
      const step = Math.max(1, Math.floor(slots.length / 1000));
      for (let i = 0; i < slots.length; i += step) {
        const v = data[slots[i]];
        if (v > maxTs) maxTs = v;
        if (measuring) latencies.push(Number(nowNs - v) / 1e6);
      }
      if (slots.length) {
        const v = data[slots[slots.length - 1]];
        if (v > maxTs) maxTs = v;
      }
      if (measuring) {
        const cells = u.modified.size * u.modifiedColumns.length;
        updates.push({
          t: now - tStart,
          apply,
          added: u.added.size,
          modRows: u.modified.size,
          modCells: cells,
        });
        if (k === 0 && now - lastSample >= 500) {
          lastSample = now;
          const lagMs = Number(nowNs - maxTs) / 1e6;
          const serverRows = periodNs > 0 && firstTs !== undefined
            ? Math.floor(Number(nowNs - firstTs) / periodNs) + 1
            : live.sourceSize;
          samples.push({ t: now - tStart, lagMs, localRows: live.size, serverRows, rssMiB: rssMiB() });
        }
      }
      probe.resume();
    });
  });
  // Let the subscriptions settle after their snapshots, then measure a window of `seconds`.
  await new Promise((r) => setTimeout(r, settleMs));
  measuring = true;
  tStart = performance.now();
  const c0 = cpuMs(), s0 = serverCpuMs();
  resetPeak();
  await new Promise((r) => setTimeout(r, seconds * 1000));
  measuring = false;
  const elapsed = (performance.now() - tStart) / 1000;
  const cpuRun = cpuMs() - c0, serverCpu = serverCpuMs() - s0;
  const peak = peakRssMiB();
  const finalLocalRows = tables[0].size;
  for (const off of offs) off();
  for (const t of tables) t.close();
  await ref.close().catch(() => {});
  await bs.close();
  const applies = updates.map((u) => u.apply).sort((a, b) => a - b);
  const lat = latencies.sort((a, b) => a - b);
  const sum = (k: "added" | "modRows" | "modCells") => updates.reduce((a, u) => a + u[k], 0);
  return {
    subscriptions: count,
    seconds: elapsed,
    initialRows,
    readyMs,
    updates: updates.length,
    addedRows: sum("added"),
    modifiedRows: sum("modRows"),
    modifiedCells: sum("modCells"),
    // Per subscription (all of them together for the total).
    rowsPerSec: (sum("added") + sum("modRows")) / elapsed / count,
    totalRowsPerSec: (sum("added") + sum("modRows")) / elapsed,
    modCellsPerSec: sum("modCells") / elapsed / count,
    applyMs: {
      p50: percentile(applies, 0.5),
      p99: percentile(applies, 0.99),
      max: applies[applies.length - 1],
    },
    applyTotalMs: applies.reduce((a, b) => a + b, 0),
    latencyMs: { p50: percentile(lat, 0.5), p95: percentile(lat, 0.95), p99: percentile(lat, 0.99) },
    clientCpuMs: cpuRun,
    serverCpuMs: serverCpu,
    peakRssMiB: peak,
    finalLocalRows,
    samples,
    perSecond: perSecond(updates, elapsed).map((n) => n / count),
  };
}

/** Rows added or modified in each whole second of the run (for the spread of the rate). */
function perSecond(updates: { t: number; added: number; modRows: number }[], elapsed: number): number[] {
  const n = Math.floor(elapsed);
  const out = new Array<number>(n).fill(0);
  for (const u of updates) {
    const s = Math.floor(u.t / 1000);
    if (s < n) out[s] += u.added + u.modRows;
  }
  return out;
}

/** P5: the notebook display of a large local table, refreshed after each append. */
function display(): Record<string, unknown> {
  const n = Number(args.rows);
  const t0 = performance.now();
  const ts = new BigInt64Array(n);
  const base = BigInt(Date.UTC(2024, 0, 1)) * 1_000_000n;
  for (let i = 0; i < n; i++) ts[i] = base + BigInt(i) * 1000n;
  const table = arrow.tableFromArrays({
    I: Int32Array.from({ length: n }, (_, i) => i),
    L: BigInt64Array.from({ length: n }, (_, i) => BigInt(i) * 3n),
    X: Float64Array.from({ length: n }, (_, i) => i / 7),
  });
  const withTs = table.assign(
    new arrow.Table({
      Timestamp: arrow.makeVector(
        arrow.makeData({ type: new arrow.TimestampNanosecond(), length: n, data: ts }),
      ),
    }),
  );
  const { table: lt, writer } = createLocalTable(localTableFromArrow(withTs).schema as arrow.Schema);
  appendArrow(writer, withTs);
  const buildMs = performance.now() - t0;
  log(`built ${lt.size} rows in ${buildMs.toFixed(0)} ms`);
  const times: number[] = [];
  let htmlChars = 0;
  for (let i = 0; i < Math.max(reps, 20); i++) {
    // A small append between refreshes, as a live table would get.
    const start = lt.size;
    writer.applyPositional({
      isSnapshot: false,
      removed: RowSet.EMPTY,
      added: RowSet.range(start, start + 99),
      addData: [[new Int32Array(100)], [new BigInt64Array(100)], [new Float64Array(100)], [
        ts.subarray(0, 100),
      ]],
      modified: [],
      modData: [],
    });
    const t = performance.now();
    const b = tableBundle(lt);
    times.push(performance.now() - t);
    htmlChars = b["text/html"].length;
  }
  return { rows: lt.size, buildMs, bundleMs: times, htmlChars };
}

if (args.serve) {
  await serve(args.mode!);
  Deno.exit(0);
}
const result = args.mode === "subscribe"
  ? await subscribe()
  : args.mode === "display"
  ? display()
  : await staticOnce(args.mode!);
console.log(JSON.stringify({ mode: args.mode, table: args.table, ...result }));
Deno.exit(0);
