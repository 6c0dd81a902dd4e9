/**
 * The report of bench/run.ts: a Markdown summary (tables of every workload, goals met or not) and the raw
 * results as JSON, written to bench/results/<time>.{md,json} and bench/results/latest.{md,json}.
 *
 * @module
 */

import { PROJECT_ROOT } from "../testing/server.ts";
import { cycleMs, flags, intervalMs, log, reps, started, warmup } from "./flags.ts";
import { slope, type Summary } from "./stats.ts";

/**
 * Writes the report of a run and prints it.
 *
 * @param results Everything the run measured.
 * @param denoVersion The Deno version of the clients.
 */
export async function writeReport(results: Record<string, unknown>, denoVersion: string): Promise<void> {
  const deno = Deno.execPath();
  const staticResults = results.static as Record<string, Record<string, unknown>>;
  const tickingResults = results.ticking as Record<string, Record<string, unknown>>;
  const scaling = results.scaling as Record<string, Record<string, Record<string, unknown>>> | undefined;
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
      `${
        flags.pin ? " (server pinned to CPU 0, clients to CPU 1)" : " (not pinned)"
      }, server and clients on ` +
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
        [e.doGet as Summary, raw, raw.wireBytes],
        [py, undefined, raw.wireBytes],
        [rawEx, undefined, rawEx.wireBytes],
        [e.rawExchangeKeep as Summary | undefined, undefined, rawEx.wireBytes],
        [e.rawExchangeGrpcJs as Summary | undefined, undefined, rawEx.wireBytes],
        [e.barrageArrow as Summary | undefined, rawEx, rawEx.wireBytes],
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
          }–${f(s.maxMs)} | ${f((e.rows as number) / s.medianMs / 1000, 2)} | ${
            f(mbps(wire, s.medianMs))
          } | ${f(s.peakRssMiB)} | ${f(s.cpuMs)} | ${f(s.serverCpuMs)} | ${
            s !== py && py ? fx(s.medianMs / py.medianMs) : ""
          } | ${ours && rawRef ? fx(s.medianMs / rawRef.medianMs) : ""} |`,
        );
      }
    }
    lines.push("");
    lines.push(
      "Time ratios are time_ours / time_peer (below 1 is faster than the peer). The raw sink is this module's own " +
        "channel (its HTTP/2 connection for Flight streams) draining the same stream (after the same FetchTable) " +
        "without decoding: the ceiling for this client; it frees each message at once, so it keeps reusing a " +
        "few buffers, where a table needs new memory for all its data (each new page costing a fault): the sink " +
        "with messages kept holds them all until the end, as a table would. The raw sink on grpc-js drains the same DoExchange " +
        "through grpc-js, the transport the module used before its own (same windows). " +
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
        } MB | ${f(m.rssDropMiB * 1.048576, 1)} MB | ${f(m.tableBytes / rows, 1)} | ${
          fx(m.tableBytes / ab)
        } |`,
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
    const ratio = (e: Record<string, unknown>, a: string, b: string) => {
      const x = e[a] as Summary | undefined, y = e[b] as Summary | undefined;
      return x && y ? x.medianMs / y.medianMs : undefined;
    };
    const memRatio = (e: Record<string, unknown>) =>
      (e.memory as Record<string, number>).tableBytes / (e.arrowBytes as number);
    const each = (fn: (w: string, e: Record<string, unknown>) => string) =>
      Object.entries(staticResults).map(([w, e]) => fn(w, e)).join("; ");
    const all = (ok: (e: Record<string, unknown>) => boolean | undefined) => {
      const v = Object.values(staticResults).map(ok);
      return v.some((x) => x === undefined) ? undefined : v.every(Boolean);
    };
    const fastestArrow = (e: Record<string, unknown>) => {
      const d = e.doGet as Summary | undefined, b = e.barrageArrow as Summary | undefined;
      return !b || (d && d.medianMs <= b.medianMs) ? { s: d, via: "DoGet" } : { s: b, via: "Barrage" };
    };
    const lim = (x: number | undefined, max: number) => (x === undefined ? undefined : x <= max);
    goals.push({
      id: "G1",
      target: "Barrage snapshot → LocalTable ≤ 0.90× pydeephaven to_arrow's time and ≤ 1.15× the raw " +
        "DoExchange sink's, on S1, S2 and S3",
      measured: each((w, e) =>
        `${w} ${fx(ratio(e, "barrageSnapshot", "pydeephaven"))} pydeephaven, ${
          fx(ratio(e, "barrageSnapshot", "rawExchange"))
        } raw sink (${fx(ratio(e, "barrageSnapshot", "rawExchangeKeep"))} the sink that keeps its messages)`
      ),
      met: all((e) => {
        const a = lim(ratio(e, "barrageSnapshot", "pydeephaven"), 0.9);
        const b = lim(ratio(e, "barrageSnapshot", "rawExchange"), 1.15);
        return a === undefined || b === undefined ? undefined : a && b;
      }),
    });
    goals.push({
      id: "G2",
      target:
        "the faster Arrow table path (DoGet or Barrage snapshot → Arrow) ≤ 0.95× pydeephaven's time on S1–S3",
      measured: each((w, e) => {
        const { s, via } = fastestArrow(e);
        const py = e.pydeephaven as Summary | undefined;
        return `${w} ${via} ${fx(s && py ? s.medianMs / py.medianMs : undefined)} (DoGet ${
          fx(ratio(e, "doGet", "pydeephaven"))
        }, Barrage ${fx(ratio(e, "barrageArrow", "pydeephaven"))})`;
      }),
      met: all((e) => {
        const { s } = fastestArrow(e);
        const py = e.pydeephaven as Summary | undefined;
        return lim(s && py ? s.medianMs / py.medianMs : undefined, 0.95);
      }),
    });
    goals.push({
      id: "G3",
      target: "LocalTable bytes ≤ 1.2× the Arrow column bytes on S1, S2 and S3",
      measured: each((w, e) => `${w} ${fx(memRatio(e))}`),
      met: all((e) => memRatio(e) <= 1.2),
    });
    const s1 = staticResults.S1;
    if (s1) {
      // `toArrow()` is the Barrage snapshot → Arrow path; its raw sink is the raw DoExchange sink.
      const ta = (s1.barrageArrow ?? s1.doGet) as Summary,
        py = s1.pydeephaven as Summary | undefined,
        raw = (s1.barrageArrow ? s1.rawExchange : s1.rawDoGet) as Summary;
      const r1 = py ? ta.medianMs / py.medianMs : undefined;
      const r2 = raw.medianMs / ta.medianMs;
      goals.push({
        id: "P1",
        target: "S1 snapshot (`toArrow()`) ≤ 1.0× pydeephaven's time and ≥ 0.8× raw sink throughput",
        measured: `toArrow ${fx(r1)} pydeephaven's time; ${fx(r2)} raw sink throughput`,
        met: r1 !== undefined ? r1 <= 1.0 && r2 >= 0.8 : undefined,
      });
    }
    goals.push({
      id: "P4",
      target: "LocalTable ≤ 1.5× its Arrow column bytes",
      measured: each((w, e) => `${w} ${fx(memRatio(e))}`),
      met: all((e) => memRatio(e) <= 1.5),
    });
    const s2 = staticResults.S2;
    if (s2 && s2.pydeephaven) {
      const py = (s2.pydeephaven as Summary).medianMs;
      const r = ((s2.barrageArrow ?? s2.doGet) as Summary).medianMs / py;
      const rb = (s2.barrageSnapshot as Summary).medianMs / py;
      goals.push({
        id: "P2",
        target: "S2 (mixed, strings, nulls) ≤ 1.0× pydeephaven's time",
        measured: `toArrow ${fx(r)}; Barrage snapshot→LocalTable ${fx(rb)}`,
        met: r <= 1.0,
      });
    }
  }

  const snapshots = scaling?.snapshots ?? {};
  const subs = scaling?.subscriptions ?? {};
  if (Object.keys(snapshots).length || Object.keys(subs).length) {
    lines.push("### How cost grows (G5)", "");
    let linear: boolean | undefined, flat: boolean | undefined;
    const notes: string[] = [];
    if (Object.keys(snapshots).length) {
      lines.push(
        "| Table | Rows | Barrage snapshot → LocalTable, median ms (min–max) | ms per M rows | pydeephaven to_arrow ms | Ratio vs pydeephaven | Raw DoExchange sink ms | LocalTable MB | Bytes per row | LocalTable / Arrow | Peak RSS MiB |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
      );
      const byKind = new Map<string, { rows: number; msPerM: number; bytesPerRow: number }[]>();
      for (const [name, e] of Object.entries(snapshots)) {
        const b = e.barrageSnapshot as Summary, py = e.pydeephaven as Summary | undefined;
        const raw = e.rawExchange as Summary | undefined;
        const m = e.memory as Record<string, number>;
        const rows = e.rows as number;
        const msPerM = b.medianMs / (rows / 1e6);
        const bytesPerRow = m.tableBytes / rows;
        const k = String(e.kind);
        byKind.set(k, [...(byKind.get(k) ?? []), { rows, msPerM, bytesPerRow }]);
        lines.push(
          `| ${name} | ${rows} | ${f(b.medianMs)} (${f(b.minMs)}–${f(b.maxMs)}) | ${f(msPerM)} | ${
            f(py?.medianMs)
          } | ${fx(py ? b.medianMs / py.medianMs : undefined)} | ${f(raw?.medianMs)} | ${
            f(m.tableBytes / 1e6, 1)
          } | ${f(bytesPerRow, 1)} | ${
            fx(e.pyArrowBytes ? m.tableBytes / (e.pyArrowBytes as number) : undefined)
          } | ${f(b.peakRssMiB)} |`,
        );
      }
      lines.push("");
      // Linear: time and memory per row at the largest size within 1.3× and 1.1× of the smallest's.
      linear = [...byKind.values()].every((pts) => {
        const s = [...pts].sort((a, b) => a.rows - b.rows);
        const lo = s[0], hi = s[s.length - 1];
        return hi.msPerM <= 1.3 * lo.msPerM && hi.bytesPerRow <= 1.1 * lo.bytesPerRow;
      });
      for (const [k, pts] of byKind) {
        const s = [...pts].sort((a, b) => a.rows - b.rows);
        notes.push(
          `${k}: ${f(s[0].msPerM)} → ${f(s[s.length - 1].msPerM)} ms per M rows, ${
            f(s[0].bytesPerRow, 1)
          } → ${f(s[s.length - 1].bytesPerRow, 1)} bytes per row`,
        );
      }
    }
    if (Object.keys(subs).length) {
      lines.push(
        "| Subscriptions | Rows/s per subscription | Rows/s in all | Updates | Apply ms p50 / p99 | Latency ms p50 / p99 | Client CPU % of one core | CPU µs per 1000 rows applied | Peak RSS MiB |",
        "|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
      );
      const cost: { n: number; us: number; rate: number }[] = [];
      for (const [n, r] of Object.entries(subs)) {
        const apply = r.applyMs as Record<string, number>, lat = r.latencyMs as Record<string, number>;
        const total = r.totalRowsPerSec as number, secs = r.seconds as number;
        const us = (r.clientCpuMs as number) * 1000 / (total * secs / 1000);
        cost.push({ n: Number(n), us, rate: r.rowsPerSec as number });
        lines.push(
          `| ${n} | ${f(r.rowsPerSec as number)} | ${f(total)} | ${r.updates} | ${f(apply.p50, 2)} / ${
            f(apply.p99, 2)
          } | ${f(lat.p50)} / ${f(lat.p99)} | ${f((r.clientCpuMs as number) / secs / 10)} | ${f(us)} | ${
            f(r.peakRssMiB as number)
          } |`,
        );
      }
      lines.push("");
      cost.sort((a, b) => a.n - b.n);
      const lo = cost[0], hi = cost[cost.length - 1];
      // Flat: CPU per applied row at the most subscriptions within 1.5× of one's, and every subscription at
      // the table's rate (at least 95% of one subscription's rows/s).
      flat = hi.us <= 1.5 * lo.us && hi.rate >= 0.95 * lo.rate;
      notes.push(
        `${lo.n} → ${hi.n} subscriptions: ${f(lo.us)} → ${f(hi.us)} CPU µs per 1000 rows, ${f(lo.rate)} → ${
          f(hi.rate)
        } rows/s per subscription`,
      );
    }
    lines.push(
      "Snapshots: this module's Barrage snapshot into a LocalTable (and pydeephaven's to_arrow, and the raw " +
        "DoExchange sink), interleaved round by round, medians; LocalTable MB as in the memory table above; peak " +
        "RSS of the client process during a snapshot. Subscriptions: N full subscriptions on one session (one " +
        'Barrage stream each) to one `time_table("PT0.0001s")` (10,000 rows/s); apply time per update of one ' +
        "subscription; CPU per 1000 rows is the client process's CPU time over all rows applied.",
      "",
    );
    goals.push({
      id: "G5",
      target:
        "linear in rows (time per row at the largest size ≤ 1.3×, memory per row ≤ 1.1× the smallest's); " +
        "flat per subscription (CPU per row at the most subscriptions ≤ 1.5× one's, every one at the table's rate)",
      measured: notes.join("; "),
      met: linear === undefined && flat === undefined ? undefined : (linear ?? true) && (flat ?? true),
    });
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

  const p3 = goals.find((g) => g.id === "P3"), p5 = goals.find((g) => g.id === "P5");
  if (p3 || p5) {
    goals.push({
      id: "G4",
      target: "no regression: P3 and P5 still met in the same run",
      measured: `P3 ${p3 ? (p3.met ? "met" : "not met") : "not run"}; P5 ${
        p5 ? (p5.met ? "met" : "not met") : "not run"
      }`,
      met: p3 && p5 ? Boolean(p3.met && p5.met) : undefined,
    });
  }

  if (goals.length) {
    // The issue's goals (G) first, then the earlier ones (P).
    goals.sort((a, b) => (a.id[0] === b.id[0] ? a.id.localeCompare(b.id) : a.id[0] === "G" ? -1 : 1));
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
}
