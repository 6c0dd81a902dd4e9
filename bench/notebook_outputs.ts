/**
 * Runs every notebook in `notebooks/` N times in the Deno kernel (nbclient) and reports, per notebook, in how
 * many runs every cell's outputs were in the executed notebook (as `tests/notebooks/expectations.ts` lists
 * them). The notebooks hold no pauses: this shows that the module gets every output through by itself.
 *
 * ```
 * deno run -A bench/notebook_outputs.ts [--runs 20] [--out bench/results]
 * ```
 *
 * @module
 */

import { parseArgs } from "node:util";
import { sharedServer } from "../testing/server.ts";
import { EXPECTATIONS, NOTEBOOK_SERVER } from "../testing/notebook_expectations.ts";
import {
  type ExecutedNotebook,
  listNotebooks,
  missingOutputs,
  NOTEBOOK_RESULTS_DIR,
  runNotebook,
} from "../testing/notebooks.ts";

const { values: flags } = parseArgs({
  args: Deno.args,
  options: { runs: { type: "string", default: "20" }, out: { type: "string", default: "bench/results" } },
});
const runs = Number(flags.runs);
const server = await sharedServer("notebooks", NOTEBOOK_SERVER);
const env = { DH_HOST: server.host, DH_PORT: String(server.port) };
const lines: string[] = [];
let allComplete = true;
try {
  for (const name of listNotebooks()) {
    const expect = EXPECTATIONS[name];
    let complete = 0;
    const misses: string[] = [];
    for (let run = 1; run <= runs; run++) {
      const { report } = await runNotebook(name, { env, outDir: `${NOTEBOOK_RESULTS_DIR}/bench` });
      const executed = JSON.parse(await Deno.readTextFile(report.executed_notebook)) as ExecutedNotebook;
      const missing = report.ok ? missingOutputs(executed, expect) : [`run failed: ${report.failure}`];
      if (missing.length === 0) complete++;
      else misses.push(`run ${run}: ${missing.join("; ")}`);
    }
    if (complete < runs) allComplete = false;
    const line = `| ${name} | ${complete} of ${runs} | ${misses.join("<br>") || "—"} |`;
    console.error(line);
    lines.push(line);
  }
} finally {
  await server.stop();
}
const md = [
  `# Notebook outputs in ${runs} consecutive kernel runs (${new Date().toISOString()})`,
  "",
  "Each notebook in `notebooks/` run by nbclient with the Deno kernel; a run counts when every code cell has",
  "the outputs `tests/notebooks/expectations.ts` lists for it in the executed notebook. No cell pauses.",
  "",
  "| notebook | runs with every output | missing |",
  "|---|---|---|",
  ...lines,
  "",
].join("\n");
console.log(md);
const stamp = new Date().toISOString().replace(/[-:]/g, "").slice(0, 15);
await Deno.mkdir(flags.out, { recursive: true });
await Deno.writeTextFile(`${flags.out}/notebook-outputs-${stamp}.md`, md);
// The reports are checked in: format them as `deno fmt --check` wants.
await new Deno.Command(Deno.execPath(), {
  args: ["fmt", "--quiet", flags.out],
  stdout: "null",
  stderr: "null",
})
  .output();
Deno.exit(allComplete ? 0 : 1);
