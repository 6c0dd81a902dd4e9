/**
 * The module used from another folder, as a user's script or notebook would: a temporary folder outside
 * the repository, with a script that imports the module by path, and one that imports it by the published
 * name and its subpaths (`deno.json` `links` to this checkout, since the registry is not needed for it).
 * Each captures a table from a real server and prints what it got.
 *
 * @module
 */

import assert from "node:assert/strict";
import { PROJECT_ROOT, serverTest } from "../../testing/server.ts";

const ROOT_URL = new URL(`file://${PROJECT_ROOT}/`);

const CAPTURE = (imports: string) =>
  `${imports}
const host = Deno.env.get("DH_HOST")!, port = Number(Deno.env.get("DH_PORT"));
await using session = await Session.connect({ host, port });
const t = session.emptyTable(5).update(["X = i * 10", "S = \`s\` + i"]);
const bs = await barrageSession({ host, port });
const snap = await bs.snapshot(t);
const live = await bs.subscribe(t);
console.log(JSON.stringify({
  size: snap.size,
  last: live.lastBy().toObjects()[0],
  csv: toCSV(snap).split("\\r\\n")[1],
  text: formatText(snap).includes("40"),
}));
live.close();
await bs.close();
`;

const EXPECTED = { size: 5, last: { X: 40, S: "s4" }, csv: "0,s0", text: true };

async function runIn(dir: string, script: string, env: Record<string, string>): Promise<unknown> {
  await Deno.writeTextFile(`${dir}/capture.ts`, script);
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", "capture.ts"],
    cwd: dir,
    env: { ...env, NO_COLOR: "1" },
    stdout: "piped",
    stderr: "piped",
  }).output();
  const stdout = new TextDecoder().decode(out.stdout);
  const stderr = new TextDecoder().decode(out.stderr);
  assert.equal(out.code, 0, `the script in ${dir} failed:\n${stderr}`);
  return JSON.parse(stdout.trim().split("\n").pop()!);
}

serverTest(
  "a script in another folder imports the module by path and captures a table",
  {},
  async (server) => {
    const dir = await Deno.makeTempDir({ prefix: "dh-import-path-" });
    try {
      assert.ok(!dir.startsWith(PROJECT_ROOT), "the folder is outside the repository");
      const script = CAPTURE(`import { barrageSession, Session } from "${new URL("mod.ts", ROOT_URL)}";
import { formatText } from "${new URL("src/display/mod.ts", ROOT_URL)}";
import { toCSV } from "${new URL("src/export/mod.ts", ROOT_URL)}";`);
      const got = await runIn(dir, script, { DH_HOST: server.host, DH_PORT: String(server.port) });
      assert.deepEqual(got, EXPECTED);
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
);

serverTest("a script in another folder imports the module by its name and subpaths", {}, async (server) => {
  const dir = await Deno.makeTempDir({ prefix: "dh-import-name-" });
  try {
    // What the README tells users to put in their folder's deno.json.
    const config = {
      links: [PROJECT_ROOT],
      imports: {
        "@dh/deephaven": "jsr:@dh/deephaven@^0.1.0",
        "@dh/deephaven/": "jsr:/@dh/deephaven@^0.1.0/",
      },
    };
    await Deno.writeTextFile(`${dir}/deno.json`, JSON.stringify(config, null, 2));
    const script = CAPTURE(`import { barrageSession, Session } from "@dh/deephaven";
import { formatText } from "@dh/deephaven/display";
import { toCSV } from "@dh/deephaven/export";
import { plot } from "@dh/deephaven/plot";
import { startServer } from "@dh/deephaven/server";
import { tableDiffs } from "@dh/deephaven/testing";
if ([plot, startServer, tableDiffs].some((f) => typeof f !== "function")) throw new Error("a subpath is missing");`);
    const got = await runIn(dir, script, { DH_HOST: server.host, DH_PORT: String(server.port) });
    assert.deepEqual(got, EXPECTED);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
