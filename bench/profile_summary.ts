/**
 * Summarises a V8 `.cpuprofile` (from `deno run --cpu-prof`): self time by area (this module's files,
 * apache-arrow, grpc-js, Deno's node:http2 and runtime, GC, idle) and the top functions. Used for the
 * profile evidence in the benchmark notes.
 *
 * Run: `deno run -A bench/profile_summary.ts <file.cpuprofile> [top N]`
 *
 * @module
 */

interface Node {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  children?: number[];
}
interface Profile {
  nodes: Node[];
  samples: number[];
  timeDeltas: number[];
  startTime: number;
  endTime: number;
}

/** The area a call frame belongs to. */
export function area(url: string, fn: string): string {
  if (fn === "(garbage collector)") return "GC";
  if (fn === "(idle)") return "idle (waiting for the network)";
  if (fn === "(program)") return "V8/Deno native (program)";
  if (url.includes("/src/barrage/") || url.includes("/src/table/") || url.includes("/src/session/")) {
    return "this module: decode and storage";
  }
  if (url.includes("/src/transport/")) return "this module: transport seam";
  if (url.includes("/src/generated/") || url.includes("@bufbuild")) return "protobuf decode";
  if (url.includes("apache-arrow")) return "apache-arrow";
  if (url.includes("grpc-js")) return "grpc-js";
  if (url.includes("flatbuffers")) return "flatbuffers";
  if (url.startsWith("ext:") || url.startsWith("node:")) return "Deno runtime (node:http2, streams, Buffer)";
  if (url === "") return `native: ${fn || "(anonymous)"}`;
  return "other JS";
}

/** Self time in ms per area and per function, from a profile. */
export function summarise(p: Profile): { total: number; areas: [string, number][]; fns: [string, number][] } {
  const byId = new Map(p.nodes.map((n) => [n.id, n]));
  const self = new Map<number, number>();
  for (let i = 0; i < p.samples.length; i++) {
    self.set(p.samples[i], (self.get(p.samples[i]) ?? 0) + (p.timeDeltas[i] ?? 0) / 1000);
  }
  const areas = new Map<string, number>(), fns = new Map<string, number>();
  let total = 0;
  for (const [id, ms] of self) {
    const n = byId.get(id)!;
    const { functionName: fn, url, lineNumber } = n.callFrame;
    total += ms;
    const a = area(url, fn);
    areas.set(a, (areas.get(a) ?? 0) + ms);
    const file = url.replace(/^.*\/(node_modules\/\.deno\/|src\/)/, "").replace(/^[^/]*\/node_modules\//, "");
    const key = `${fn || "(anonymous)"} ${file}:${lineNumber + 1}`;
    fns.set(key, (fns.get(key) ?? 0) + ms);
  }
  const sort = (m: Map<string, number>) => [...m].sort((a, b) => b[1] - a[1]);
  return { total, areas: sort(areas), fns: sort(fns) };
}

if (import.meta.main) {
  const [file, top = "15"] = Deno.args;
  if (!file) {
    console.error("Usage: deno run -A bench/profile_summary.ts <file.cpuprofile> [top N]");
    Deno.exit(2);
  }
  const s = summarise(JSON.parse(await Deno.readTextFile(file)));
  const busy = s.total - (s.areas.find(([a]) => a.startsWith("idle"))?.[1] ?? 0);
  console.log(`profile ${file}: ${s.total.toFixed(0)} ms sampled, ${busy.toFixed(0)} ms busy`);
  console.log("| Area | Self ms | % of busy |\n| --- | ---: | ---: |");
  for (const [a, ms] of s.areas) {
    if (!a.startsWith("idle")) console.log(`| ${a} | ${ms.toFixed(0)} | ${(100 * ms / busy).toFixed(1)}% |`);
  }
  console.log("\n| Function | Self ms | % of busy |\n| --- | ---: | ---: |");
  for (const [f, ms] of s.fns.filter(([f]) => !f.startsWith("(idle)")).slice(0, Number(top))) {
    console.log(`| ${f.replaceAll("|", "\\|")} | ${ms.toFixed(1)} | ${(100 * ms / busy).toFixed(1)}% |`);
  }
}
