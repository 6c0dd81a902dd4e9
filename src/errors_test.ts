import assert from "node:assert/strict";
import { DeephavenError, GrpcCode } from "./errors.ts";
import { agg } from "./session/aggregation.ts";
import { loginHeader } from "./session/auth.ts";
import { renderPlot } from "./display/plot.ts";

function invalid(f: () => unknown, what: string): void {
  assert.throws(f, (e: unknown) => {
    assert.ok(e instanceof DeephavenError, `${what}: a DeephavenError, got ${e}`);
    assert.equal(e.codeName, "INVALID_ARGUMENT", what);
    return true;
  });
}

Deno.test("bad input is a DeephavenError with INVALID_ARGUMENT, wherever it is caught", () => {
  invalid(() => agg.sum([]), "an aggregation without columns");
  invalid(() => loginHeader("Basic", "no-colon"), "a Basic token without a colon");
  invalid(() => renderPlot([{ A: 1 }], {}), "a chart without columns or marks");
});

Deno.test("DeephavenError.from keeps a DeephavenError and wraps anything else with context and cause", () => {
  const own = new DeephavenError("Not found", { code: GrpcCode.NOT_FOUND });
  assert.equal(DeephavenError.from(own, "ignored"), own);
  const cause = new Error("socket hang up");
  const wrapped = DeephavenError.from(cause, "Reading the table failed", GrpcCode.UNAVAILABLE);
  assert.equal(wrapped.message, "Reading the table failed: socket hang up");
  assert.equal(wrapped.codeName, "UNAVAILABLE");
  assert.equal(wrapped.cause, cause);
  assert.equal(DeephavenError.from("text").codeName, "UNKNOWN");
});

Deno.test("src/ throws no error class but DeephavenError (the audit stays done)", async () => {
  const root = new URL("./", import.meta.url);
  const offenders: string[] = [];
  const files: { path: string; lines: string[] }[] = [];
  const walk = async (dir: URL, rel: string): Promise<void> => {
    for await (const e of Deno.readDir(dir)) {
      if (e.isDirectory) {
        // The command line owns its process: its usage errors end in an exit code, never reach a caller.
        if (e.name !== "generated" && e.name !== "cli") {
          await walk(new URL(`${e.name}/`, dir), `${rel}${e.name}/`);
        }
      } else if (e.name.endsWith(".ts") && !e.name.endsWith("_test.ts")) {
        files.push({
          path: `src/${rel}${e.name}`,
          lines: (await Deno.readTextFile(new URL(e.name, dir))).split("\n"),
        });
      }
    }
  };
  await walk(root, "");
  // Classes of src/ that extend DeephavenError are DeephavenErrors too.
  const own = new Set(["DeephavenError"]);
  for (const f of files) {
    for (const l of f.lines) {
      const m = l.match(/class (\w+) extends DeephavenError\b/);
      if (m) own.add(m[1]);
    }
  }
  for (const f of files) {
    f.lines.forEach((line, i) => {
      const m = line.match(/\b(?:throw|reject\()\s*new (\w*Error)\(/);
      if (m && !own.has(m[1])) offenders.push(`${f.path}:${i + 1}: ${line.trim()}`);
    });
  }
  assert.deepEqual(offenders, [], "every error thrown in src/ is a DeephavenError");
});
