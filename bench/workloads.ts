/**
 * The benchmark's server: the static tables (S1–S3) made by its start-up script, the ticking tables
 * (T1–T3), G5's scaling tables, its JVM arguments, and how to find its process.
 *
 * @module
 */

import { cycleMs, flags, intervalMs, s3Rows } from "./flags.ts";
import { DOUBLES_COLUMNS, S2_COLUMNS, staticScript } from "./tables.ts";

export const STATIC_SCRIPT: string = staticScript(s3Rows);

export const TICKING: Record<
  string,
  { script: (name: string) => string; periodNs: number; seconds: number }
> = {
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

/** G5's tables: a name, its rows, and the script that makes it in the server's scope. */
export interface ScaleTable {
  name: string;
  kind: "doubles" | "S2";
  rows: number;
  script: string;
}

/** The G5 scaling tables: `rows` × 5 doubles, and `s2Rows` of S2's columns. */
export function scaleTables(rows: number[], s2Rows: number[]): ScaleTable[] {
  const label = (n: number) => (n % 1_000_000 === 0 ? `${n / 1_000_000}M` : `${n}`);
  const table = (kind: "doubles" | "S2", n: number): ScaleTable => {
    const name = `${kind === "S2" ? "S2" : "D"}_${label(n)}`;
    const columns = kind === "S2" ? S2_COLUMNS : DOUBLES_COLUMNS;
    return {
      name,
      kind,
      rows: n,
      script: `from deephaven import empty_table\n${name} = empty_table(${n}).update(${columns})`,
    };
  };
  return [...rows.map((n) => table("doubles", n)), ...s2Rows.map((n) => table("S2", n))];
}

/** G5's ticking table: 10,000 rows a second. */
export const G5_TICKING = {
  script: (n: string) => `${n} = time_table("PT0.0001s").update(["I = ii", "X = random()"])`,
  periodNs: 100_000,
};

export const jvmArgs = [
  `-Xmx${flags.xmx}`,
  `-DPeriodicUpdateGraph.targetCycleDurationMillis=${cycleMs}`,
  `-Dbarrage.minUpdateInterval=${intervalMs}`,
  "-Dhttp.session.durationMs=300000",
];

/** The pid of the embedded server (the launcher process hosts the JVM). */
export function serverPid(port: number): number {
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
