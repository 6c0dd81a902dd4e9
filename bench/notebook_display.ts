/**
 * What live notebook outputs cost the kernel, and whether they hold back the data path.
 *
 * ```
 * deno run -A bench/notebook_display.ts [--seconds 10] [--rate 100000] [--out bench/results]
 * ```
 *
 * Starts a Deephaven server (update cycle and Barrage interval 100 ms), then runs one notebook in the Deno
 * kernel (nbclient) with five phases, each on a fresh subscription to a time table appending `--rate` rows/s:
 * no live output, then 1, 3 and 10 live outputs (tables, derived tables and charts; a chart of 10,000 points
 * among them from 3 on). Each phase measures, over `--seconds`, the rows/s the subscription received (against
 * the rows the server added) and the display scheduler's counters: renders, render time, messages. Prints a
 * table and writes `display-<timestamp>.md` / `.json` into `--out`. Goal (issue 11): display work ≤ 10% of the
 * update interval at 100k rows/s, rows/s within 5% of the phase without outputs.
 *
 * @module
 */

import { parseArgs } from "node:util";
import { startServer } from "../src/server/mod.ts";
import { RESULTS_DIR } from "../testing/server.ts";
import { runNotebookFile } from "../testing/notebooks.ts";

const { values: flags } = parseArgs({
  args: Deno.args,
  options: {
    seconds: { type: "string", default: "10" },
    rate: { type: "string", default: "100000" },
    out: { type: "string", default: "bench/results" },
  },
});
const seconds = Number(flags.seconds);
const rate = Number(flags.rate);
const intervalMs = 100;
const period = `PT${(1 / rate).toFixed(9).replace(/0+$/, "")}s`;

/** One phase: how many live outputs, and the code that shows them (`live` is the phase's subscription). */
const PHASES: { outputs: number; show: string }[] = [
  { outputs: 0, show: "" },
  { outputs: 1, show: "await display(live);" },
  {
    outputs: 3,
    show: `await display(live);
await display(live.lastBy("Sym"));
await display(plot(live, { x: "X", y: "Y", lastN: 10_000 }));`,
  },
  {
    outputs: 10,
    show: `await display(live);
await display(live.lastBy("Sym"));
await display(plot(live, { x: "X", y: "Y", lastN: 10_000 }));
await display(live.aggBy({ N: "count()", MeanY: "avg(Y)", MaxX: "max(X)" }, "Sym"));
await display(live.where("Y > 0.5"), { head: 5, tail: 5 });
await display(live.tail(20));
await display(live.head(20));
await display(plot(live, { x: "X", y: "Y", lastN: 2_000, mark: "dot" }));
await display(live.firstBy("Sym"));
await display(live.countBy("Sym", "N"));`,
  },
];

const SETUP = `import { barrageSession, Session } from "${new URL("../mod.ts", import.meta.url).href}";
import { display, displayStats } from "${new URL("../src/display/mod.ts", import.meta.url).href}";
import { plot } from "${new URL("../src/plot/mod.ts", import.meta.url).href}";
const host = Deno.env.get("DH_HOST")!, port = Number(Deno.env.get("DH_PORT"));
const session = await Session.connect({ host, port });
const bs = await barrageSession({ host, port });
const source = session.timeTable("${period}").update(["X = 0.0001 * i", "Y = sin(X)", "Sym = i % 2 == 0 ? \`A\` : \`B\`"]);
const results: unknown[] = [];
/** Measures a subscription over the given seconds, starting on an update. */
async function measure(live: Awaited<ReturnType<typeof bs.subscribe>>, outputs: number) {
  let start: { rows: number; server: number; at: number; stats: ReturnType<typeof displayStats> } | undefined;
  let updates = 0;
  for await (const _ of live.updates()) {
    if (!start) { start = { rows: live.size, server: Number(await source.size()), at: performance.now(), stats: displayStats() }; continue; }
    updates++;
    if (performance.now() - start.at >= ${seconds * 1000}) break;
  }
  const s = (performance.now() - start!.at) / 1000;
  const stats = displayStats();
  const server = Number(await source.size());
  const r = {
    outputs, seconds: s, updates,
    rowsPerSec: (live.size - start!.rows) / s,
    serverRowsPerSec: (server - start!.server) / s,
    renders: stats.renders - start!.stats.renders,
    renderMs: stats.renderMs - start!.stats.renderMs,
    messages: stats.updates - start!.stats.updates,
  };
  results.push(r);
  live.close();
  return r;
}
"setup done"`;

function phaseCell(p: { outputs: number; show: string }): string {
  return `{
  const live = await bs.subscribe(source);
  ${p.show.split("\n").join("\n  ")}
  console.log(JSON.stringify(await measure(live, ${p.outputs})));
}`;
}

const cells = [SETUP, ...PHASES.map(phaseCell), `console.log("RESULTS " + JSON.stringify(results));`];
const nb = {
  cells: cells.map((source, i) => ({
    cell_type: "code",
    execution_count: null,
    id: `bench-${i}`,
    metadata: {},
    outputs: [],
    source,
  })),
  metadata: { kernelspec: { display_name: "Deno", language: "typescript", name: "deno" } },
  nbformat: 4,
  nbformat_minor: 5,
};

const dir = decodeURIComponent(new URL("../test-results/bench-notebook/", import.meta.url).pathname);
await Deno.mkdir(dir, { recursive: true });
const path = `${dir}display_bench.ipynb`;
await Deno.writeTextFile(path, JSON.stringify(nb, null, 1));

console.error(
  `notebook_display: starting a server (cycle ${intervalMs} ms), then ${PHASES.length} phases of ${seconds} s`,
);
const server = await startServer({
  name: "bench-display",
  logDir: RESULTS_DIR,
  auth: "anonymous",
  jvmArgs: [
    "-Xmx6g",
    "-Dhttp.session.durationMs=60000",
    `-DPeriodicUpdateGraph.targetCycleDurationMillis=${intervalMs}`,
    `-Dbarrage.minUpdateInterval=${intervalMs}`,
  ],
});
let run;
try {
  run = await runNotebookFile(path, {
    env: { DH_HOST: server.host, DH_PORT: String(server.port) },
    outDir: dir,
    timeoutMs: (PHASES.length * (seconds + 30) + 120) * 1000,
  });
} finally {
  await server.stop();
}
const text = run.report.cells.flatMap((c) => c.outputs).map((o) => [o.text ?? ""].flat().join("")).join("\n");
const errors = run.report.cells.flatMap((c) => c.outputs).filter((o) => o.output_type === "error");
const line = text.split("\n").find((l) => l.startsWith("RESULTS "));
if (!line || errors.length) {
  console.error(
    `notebook_display: the notebook failed: ${errors.map((e) => `${e.ename}: ${e.evalue}`).join("; ")}`,
  );
  console.error(run.stderr.slice(-3000));
  Deno.exit(1);
}
interface PhaseResult {
  outputs: number;
  seconds: number;
  updates: number;
  rowsPerSec: number;
  serverRowsPerSec: number;
  renders: number;
  renderMs: number;
  messages: number;
}
const results = JSON.parse(line.slice("RESULTS ".length)) as PhaseResult[];
const base = results.find((r) => r.outputs === 0)!;
const f = (x: number, d = 1) =>
  x.toLocaleString("en-US", { maximumFractionDigits: d, minimumFractionDigits: d });
const rows = results.map((r) => {
  const perUpdate = r.updates ? r.renderMs / r.updates : 0;
  const share = perUpdate / intervalMs;
  const rowsRatio = r.rowsPerSec / base.rowsPerSec;
  return {
    ...r,
    perUpdate,
    share,
    rowsRatio,
    met: r.outputs === 0 || (share <= 0.1 && rowsRatio >= 0.95),
  };
});
const stamp = new Date().toISOString().replace(/[-:]/g, "").slice(0, 15);
const md = [
  `# Live notebook outputs: kernel-side cost and rows/s (${new Date().toISOString()})`,
  "",
  `Server: time table ${period} (${
    f(rate, 0)
  } rows/s appended), update cycle and Barrage interval ${intervalMs} ms. ` +
  `Deno kernel under nbclient; each phase a fresh subscription measured for ${seconds} s. Display work per ` +
  `update = render time of the phase / table updates of the phase; goal ≤ 10% of the ${intervalMs} ms interval, ` +
  `rows/s ≥ 95% of the phase without outputs.`,
  "",
  "| live outputs | updates | rows/s received | rows/s on server | vs no outputs | renders | render ms | display ms per update | share of interval | goal |",
  "|---|---|---|---|---|---|---|---|---|---|",
  ...rows.map((r) =>
    `| ${r.outputs} | ${r.updates} | ${f(r.rowsPerSec, 0)} | ${f(r.serverRowsPerSec, 0)} | ${
      f(r.rowsRatio, 3)
    }× | ${r.renders} | ${f(r.renderMs)} | ${f(r.perUpdate, 2)} | ${f(r.share * 100)}% | ${
      r.outputs === 0 ? "baseline" : r.met ? "met" : "NOT met"
    } |`
  ),
  "",
].join("\n");
console.log(md);
await Deno.mkdir(flags.out, { recursive: true });
await Deno.writeTextFile(`${flags.out}/display-${stamp}.md`, md);
await Deno.writeTextFile(
  `${flags.out}/display-${stamp}.json`,
  JSON.stringify({ period, intervalMs, seconds, rows }, null, 1),
);
// The reports are checked in: format them as `deno fmt --check` wants.
await new Deno.Command(Deno.execPath(), {
  args: ["fmt", "--quiet", flags.out],
  stdout: "null",
  stderr: "null",
})
  .output();
console.error(`notebook_display: wrote ${flags.out}/display-${stamp}.md`);
