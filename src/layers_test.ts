/**
 * Data flows one way: transport → session → barrage → local table → queries → display. Each folder of src/
 * may import the folders before it (and the shared ones: deps, generated, errors), never those after it.
 */

import assert from "node:assert/strict";

/** What each folder must not import (the folders after it in the flow). */
const FORBIDDEN: Record<string, string[]> = {
  transport: ["session", "arrow", "wire", "barrage", "table", "query", "display", "plot", "export", "cli"],
  arrow: ["session", "wire", "barrage", "table", "query", "display", "plot", "export", "cli"],
  session: ["barrage", "table", "query", "display", "plot", "export", "cli"],
  wire: ["session", "barrage", "query", "display", "plot", "export", "cli"],
  barrage: ["query", "display", "plot", "export", "cli"],
  table: ["session", "wire", "barrage", "display", "plot", "export", "cli"],
  query: ["session", "wire", "barrage", "display", "plot", "export", "cli"],
  display: ["plot", "export", "cli"],
};

Deno.test("no folder of src/ imports a folder after it in the flow of data", async () => {
  const offenders: string[] = [];
  for (const [folder, forbidden] of Object.entries(FORBIDDEN)) {
    for await (const e of Deno.readDir(new URL(`./${folder}/`, import.meta.url))) {
      if (!e.isFile || !e.name.endsWith(".ts") || e.name.endsWith("_test.ts")) continue;
      const text = await Deno.readTextFile(new URL(`./${folder}/${e.name}`, import.meta.url));
      for (const m of text.matchAll(/(?:from|import)\s+"\.\.\/([a-z_]+)\//g)) {
        if (forbidden.includes(m[1])) offenders.push(`src/${folder}/${e.name} imports src/${m[1]}/`);
      }
    }
  }
  assert.deepEqual(offenders, []);
});
