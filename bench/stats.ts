/**
 * The statistics of bench/run.ts: medians, quantiles, per-client summaries of repeated runs, slopes.
 *
 * @module
 */

import type { Rep } from "./rep.ts";

export interface Summary {
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

export function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
}

export function quantile(xs: number[], q: number): number {
  const s = [...xs].sort((a, b) => a - b);
  const pos = (s.length - 1) * q;
  const lo = Math.floor(pos), hi = Math.ceil(pos);
  return s[lo] + (s[hi] - s[lo]) * (pos - lo);
}

export function summarize(client: string, r: Rep[]): Summary {
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
export function slope(xs: number[], ys: number[]): number {
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
