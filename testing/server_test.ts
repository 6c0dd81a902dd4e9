import assert from "node:assert/strict";
import { DeephavenError, GrpcCode } from "../src/errors.ts";
import { pythonArrow, pythonArrowMany, runPython, serverEnv } from "./python.ts";
import { AUTH_CONSTANTS_PATH, RESULTS_DIR, serverTest, startServer, unaryRaw } from "./server.ts";

const ANONYMOUS = "io.deephaven.auth.AnonymousAuthenticationHandler";
const PSK = "io.deephaven.authentication.psk.PskAuthenticationHandler";

serverTest("the shared server answers GetAuthenticationConstants with both handlers", {}, async (server) => {
  assert.equal(server.target, `127.0.0.1:${server.port}`);
  assert.equal(server.auth, "both");
  const bytes = await unaryRaw(server.target, AUTH_CONSTANTS_PATH, new Uint8Array(0));
  // AuthenticationConstantsResponse{ map<string, ConfigValue> config_values = 1 }: the key and the handler
  // class names appear as plain UTF-8 inside the protobuf bytes.
  const text = new TextDecoder().decode(bytes);
  assert.ok(text.includes("AuthHandlers"), "the response names the AuthHandlers setting");
  assert.ok(text.includes(ANONYMOUS), "Anonymous is enabled");
  assert.ok(text.includes(PSK), "PSK is enabled");
});

serverTest("the server log never contains the pre-shared key", {}, async (server) => {
  const log = await Deno.readTextFile(server.logPath);
  assert.ok(log.includes("READY"), "the log holds the launcher output");
  assert.ok(!log.includes(server.psk), "the PSK is redacted");
});

serverTest("pydeephaven opens a PSK session and an anonymous session", {}, async (server) => {
  const { stdout } = await runPython(
    `
import json
from dh_peer import anonymous_session, psk_session
out = {}
with psk_session() as s:
    out["psk"] = s.empty_table(2).to_arrow().num_rows
with anonymous_session() as s:
    out["anonymous"] = s.empty_table(4).to_arrow().num_rows
print(json.dumps(out))
`,
    { env: serverEnv(server) },
  );
  assert.deepEqual(JSON.parse(stdout.trim().split("\n").pop()!), { psk: 2, anonymous: 4 });
});

serverTest("a wrong pre-shared key is refused and the error does not echo it", {}, async (server) => {
  const wrong = `${server.psk}-wrong`;
  await assert.rejects(
    runPython(
      `
from dh_peer import psk_session
psk_session()
`,
      { env: { ...serverEnv(server), DH_PSK: wrong } },
    ),
    (e: unknown) => {
      assert.ok(e instanceof DeephavenError);
      assert.match(e.message, /exited with code [1-9]/);
      assert.ok(!e.message.includes(server.psk), "the error text does not contain the key");
      return true;
    },
  );
});

serverTest("pythonArrow returns a table computed by pydeephaven", {}, async (server) => {
  const table = await pythonArrow(
    `
from dh_peer import psk_session
with psk_session() as s:
    result = s.empty_table(3).update(["X = i"]).to_arrow()
`,
    serverEnv(server),
  );
  assert.equal(table.numRows, 3);
  assert.deepEqual(table.schema.fields.map((f) => f.name), ["X"]);
  assert.deepEqual(Array.from(table.getChild("X")!.toArray()), [0, 1, 2]);
});

serverTest("pythonArrowMany returns several tables from one process, in order", {}, async (server) => {
  const tables = await pythonArrowMany(
    `
from dh_peer import anonymous_session
with anonymous_session() as s:
    result = {
        "small": s.empty_table(2).update(["A = (long) i * 10"]).to_arrow(),
        "strings": s.empty_table(3).update(["S = \`s\` + i"]).to_arrow(),
    }
`,
    serverEnv(server),
  );
  assert.deepEqual([...tables.keys()], ["small", "strings"]);
  assert.deepEqual(Array.from(tables.get("small")!.getChild("A")!.toArray()), [0n, 10n]);
  assert.deepEqual(tables.get("strings")!.getChild("S")!.toArray(), ["s0", "s1", "s2"]);
});

serverTest("runPython reports a failing script with its stderr", {}, async () => {
  await assert.rejects(runPython("raise ValueError('peer failed on purpose')"), (e: unknown) => {
    assert.ok(e instanceof DeephavenError);
    assert.match(e.message, /ValueError: peer failed on purpose/);
    return true;
  });
});

serverTest("runPython kills a peer that runs past its timeout", {}, async () => {
  const started = performance.now();
  await assert.rejects(runPython("import time\ntime.sleep(60)", { timeoutMs: 1500 }), (e: unknown) => {
    assert.ok(e instanceof DeephavenError);
    assert.equal(e.code, GrpcCode.DEADLINE_EXCEEDED);
    return true;
  });
  assert.ok(performance.now() - started < 20_000, "the peer was killed long before it would have finished");
});

serverTest(
  "a table defined by the start-up script is visible to open_table",
  {
    key: "script",
    auth: "anonymous",
    script: `from deephaven import empty_table
t = empty_table(5).update(["Y = i * 2"])
`,
  },
  async (server) => {
    assert.equal(server.auth, "anonymous");
    const table = await pythonArrow(
      `
from dh_peer import anonymous_session
with anonymous_session() as s:
    result = s.open_table("t").to_arrow()
`,
      serverEnv(server),
    );
    assert.equal(table.numRows, 5);
    assert.deepEqual(Array.from(table.getChild("Y")!.toArray()), [0, 2, 4, 6, 8]);
  },
);

Deno.test({
  name: "startServer fails fast with the log tail when the JVM cannot start",
  sanitizeResources: false,
  sanitizeOps: false,
  async fn() {
    const started = performance.now();
    await assert.rejects(
      startServer({ name: "bad-jvm", jvmArgs: ["-Xmx1x"], startTimeoutMs: 60_000 }),
      (e) => {
        assert.ok(e instanceof DeephavenError);
        assert.equal(e.code, GrpcCode.UNAVAILABLE);
        assert.match(e.message, /exited with code \d+ before it was ready/);
        assert.match(e.message, /Last log lines:/);
        assert.match(e.message, /Invalid maximum heap size/);
        return true;
      },
    );
    assert.ok(performance.now() - started < 60_000);
  },
});

Deno.test({
  name: "a server whose start-up script hangs is stopped with its stacks logged, and started once more",
  sanitizeOps: false,
  sanitizeResources: false,
  async fn() {
    const marker = await Deno.makeTempFile({ prefix: "dh-hang-once-" });
    await Deno.remove(marker);
    const name = `hang-once-${crypto.randomUUID().slice(0, 8)}`;
    // The first start hangs in the script; the second finds the marker and goes on.
    const script = `import os, time
if not os.path.exists(${JSON.stringify(marker)}):
    open(${JSON.stringify(marker)}, "w").close()
    time.sleep(600)
from deephaven import empty_table
t = empty_table(3)
`;
    const server = await startServer({ auth: "anonymous", script, startTimeoutMs: 25_000, name });
    try {
      await unaryRaw(server.target, AUTH_CONSTANTS_PATH, new Uint8Array(0));
      const logs = [];
      for await (const e of Deno.readDir(RESULTS_DIR)) if (e.name.startsWith(`${name}-`)) logs.push(e.name);
      assert.equal(logs.length, 2, `one log per start: ${logs.join(", ")}`);
      const first = logs.find((l) => !l.includes(`-${server.port}-`))!;
      const text = await Deno.readTextFile(`${RESULTS_DIR}/${first}`);
      assert.match(text, /most recent call first/, "the Python stacks are in the hung start's log");
      assert.match(text, /time\.sleep\(600\)|line 4 in <module>/, "they show where the script hangs");
    } finally {
      await server.stop();
      await Deno.remove(marker).catch(() => {});
    }
  },
});
