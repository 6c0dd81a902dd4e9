/**
 * The flags of `deno task bench` (bench/run.ts) and what follows from them.
 *
 * @module
 */

import { parseArgs } from "node:util";

export const HELP = `deno task bench [options]
  --reps N            measured rounds per static workload; each round runs every client once, in rotating
                      order (default 5; ≥ 5 for medians)
  --warmup N          unmeasured rounds of every static client first (default 1)
  --server-warmup N   DoGet and DoExchange snapshots of each static table before any measurement, so that
                      the server's JIT is warm for every client alike (default 5)
  --only LIST         comma list of S1,S2,S3,T1,T2,T3,P5,G5 (default all)
  --s3-rows N         rows of S3 (default 4000000, scaled down from the plan's 10M × 5 doubles = 400 MB, which
                      makes 5 clients × 6 rounds move 12 GB on 2 shared cores; 10000000 runs the full size)
  --t1-seconds S      T1 duration per client (default 10)
  --t2-seconds S      T2 duration per client (default 60, as P3 asks)
  --t3-seconds S      T3 duration per client (default 20)
  --cycle-ms MS       PeriodicUpdateGraph.targetCycleDurationMillis (default 100)
  --interval-ms MS    barrage.minUpdateInterval (default 100)
  --xmx SIZE          server heap (default 8g)
  --display-rows N    rows of the P5 table (default 10000000)
  --g5-rows LIST      G5: rows of the tables of 5 doubles (default 1000000,4000000,10000000)
  --g5-s2-rows LIST   G5: rows of the S2-like tables (default 1000000,4000000)
  --g5-reps N         G5: measured rounds per table (default 3, after 1 warm-up round)
  --g5-subs LIST      G5: numbers of concurrent subscriptions on one session (default 1,10,50)
  --g5-seconds S      G5: measured window per subscription count (default 20)
  --pin               pin the server to CPU 0 and the clients to CPU 1 (taskset)
  --no-peers          skip pydeephaven and pydeephaven-ticking
  --tag TEXT          a note stored with the results (e.g. "after column.ts write fast path")`;

export const { values: flags } = parseArgs({
  args: Deno.args,
  options: {
    reps: { type: "string", default: "5" },
    warmup: { type: "string", default: "1" },
    "server-warmup": { type: "string", default: "5" },
    only: { type: "string", default: "S1,S2,S3,T1,T2,T3,P5,G5" },
    "s3-rows": { type: "string", default: "4000000" },
    "t1-seconds": { type: "string", default: "10" },
    "t2-seconds": { type: "string", default: "60" },
    "t3-seconds": { type: "string", default: "20" },
    "cycle-ms": { type: "string", default: "100" },
    "interval-ms": { type: "string", default: "100" },
    xmx: { type: "string", default: "8g" },
    "display-rows": { type: "string", default: "10000000" },
    "g5-rows": { type: "string", default: "1000000,4000000,10000000" },
    "g5-s2-rows": { type: "string", default: "1000000,4000000" },
    "g5-reps": { type: "string", default: "3" },
    "g5-subs": { type: "string", default: "1,10,50" },
    "g5-seconds": { type: "string", default: "20" },
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

export const reps = Number(flags.reps);
export const warmup = Number(flags.warmup);
export const only = new Set(flags.only!.split(",").map((s) => s.trim().toUpperCase()));
export const s3Rows = Number(flags["s3-rows"]);
export const cycleMs = Number(flags["cycle-ms"]);
export const intervalMs = Number(flags["interval-ms"]);
export const peers = !flags["no-peers"];
const list = (x: string | undefined) =>
  (x ?? "").split(",").map((v) => Number(v.trim())).filter((v) => v > 0);
/** G5: rows of the tables of 5 doubles and of the S2-like tables, rounds, subscription counts, window. */
export const g5 = {
  rows: list(flags["g5-rows"]),
  s2Rows: list(flags["g5-s2-rows"]),
  reps: Number(flags["g5-reps"]),
  subs: list(flags["g5-subs"]),
  seconds: Number(flags["g5-seconds"]),
};
export const started = new Date();

/** Logs a line on stderr with the seconds since start. */
export function log(msg: string): void {
  const s = ((performance.now()) / 1000).toFixed(0).padStart(4);
  console.error(`bench ${s}s: ${msg}`);
}
