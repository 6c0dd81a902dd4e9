/**
 * Runs every notebook in `notebooks/` headlessly (nbclient + the Deno kernel, through `run_notebook.py`),
 * against a real Deephaven server when the notebook needs one, and checks what it showed against
 * `testing/notebook_expectations.ts`: no errors, live tables with the expected columns that tick, plots that tick, and an
 * executed notebook that keeps the last state of every live output.
 *
 * @module
 */

import assert from "node:assert/strict";
import { type DhServer, sharedServer } from "../../testing/server.ts";
import { NOTEBOOK_SERVER } from "../../testing/notebook_expectations.ts";
import {
  DISPLAY_ID_PREFIX,
  EXPECTATIONS,
  type NotebookExpectation,
  REPEATED,
} from "../../testing/notebook_expectations.ts";
import {
  type ExecutedNotebook,
  joinText,
  listNotebooks,
  type MessageRecord,
  missingOutputs,
  NOTEBOOK_RESULTS_DIR,
  type NotebookReport,
  NOTEBOOKS_DIR,
  runNotebook,
} from "../../testing/notebooks.ts";

/**
 * How many data points a chart draws: the vertices of its line marks, or its dots where there are more
 * (a line chart of a few rows draws a dot at each point too).
 */
export function drawnPoints(markup: string): number {
  let vertices = 0, dots = 0;
  for (const g of markup.matchAll(/<g[^>]*aria-label="(line|dot)"[^>]*>([\s\S]*?)<\/g>/g)) {
    if (g[1] === "dot") dots += (g[2].match(/<circle\b/g) ?? []).length;
    else for (const d of g[2].matchAll(/\bd="([^"]*)"/g)) vertices += (d[1].match(/[ML]/g) ?? []).length;
  }
  return Math.max(vertices, dots);
}

/** The text of every `<th>` cell in an HTML fragment, tags replaced by spaces and entities decoded. */
function headerCells(html: string): string[] {
  const cells: string[] = [];
  for (const m of html.matchAll(/<th\b[^>]*>([\s\S]*?)<\/th>/gi)) {
    const text = m[1]
      .replace(/<[^>]*>/g, " ")
      .replace(/&lt;/g, "<")
      .replace(/&gt;/g, ">")
      .replace(/&quot;/g, '"')
      .replace(/&#0?39;/g, "'")
      .replace(/&nbsp;/g, " ")
      .replace(/&amp;/g, "&")
      .replace(/\s+/g, " ")
      .trim();
    cells.push(text);
  }
  return cells;
}

/** Whether a header cell names `column` (exactly, or followed by a type annotation after a space). */
function namesColumn(cell: string, column: string): boolean {
  return cell === column || cell.startsWith(`${column} `);
}

function allMessages(report: NotebookReport): MessageRecord[] {
  return [...report.cells.flatMap((c) => c.messages), ...report.other_messages].sort((a, b) => a.seq - b.seq);
}

/** One project display id: its first bundle and the bundles of its updates, in arrival order. */
interface LiveOutput {
  id: string;
  first: MessageRecord;
  updates: MessageRecord[];
}

function liveOutputs(messages: MessageRecord[]): LiveOutput[] {
  const byId = new Map<string, LiveOutput>();
  for (const m of messages) {
    const id = m.display_id;
    if (id === undefined || !id.startsWith(DISPLAY_ID_PREFIX)) continue;
    if (m.msg_type === "display_data" || m.msg_type === "execute_result") {
      if (!byId.has(id)) byId.set(id, { id, first: m, updates: [] });
    } else if (m.msg_type === "update_display_data") {
      const entry = byId.get(id);
      assert.ok(
        entry,
        `update_display_data for ${id} (message ${m.seq}) came before any display_data for it`,
      );
      entry.updates.push(m);
    }
  }
  return [...byId.values()];
}

function mime(m: MessageRecord, type: string): string {
  const value = m.data?.[type];
  return value === undefined ? "" : joinText(value);
}

/** How many times `type` changed along the first bundle and its updates. */
function changes(out: LiveOutput, type: string): number {
  let n = 0;
  let previous = mime(out.first, type);
  for (const u of out.updates) {
    const now = mime(u, type);
    if (now !== previous) n++;
    previous = now;
  }
  return n;
}

function svgOf(m: MessageRecord): boolean {
  return mime(m, "text/html").includes("<svg") || mime(m, "image/svg+xml").includes("<svg");
}

function describe(out: LiveOutput): string {
  return `${out.id} (cell ${out.first.parent_cell}, ${out.updates.length} updates, ` +
    `${changes(out, "text/html")} text/html changes)`;
}

async function checkNotebook(name: string, expect: NotebookExpectation, server?: DhServer): Promise<void> {
  const env: Record<string, string> = server ? { DH_HOST: server.host, DH_PORT: String(server.port) } : {};
  const { report, code, stderr, ms } = await runNotebook(name, {
    env,
    timeoutMs: (expect.timeoutSeconds ?? 300) * 1000,
  });
  console.log(`${name}: ran in ${(ms / 1000).toFixed(1)} s, ${report.message_count} iopub messages`);
  assert.ok(
    report.ok && code === 0,
    `${name} did not run to the end: ${report.failure}\n${stderr.slice(-3000)}`,
  );

  // 1. No errors, neither in the executed notebook nor on iopub.
  const executed = JSON.parse(await Deno.readTextFile(report.executed_notebook)) as ExecutedNotebook;
  const errors = executed.cells.flatMap((c, i) =>
    (c.outputs ?? []).filter((o) => o.output_type === "error").map((o) =>
      `cell ${i}: ${o.ename}: ${o.evalue}`
    )
  );
  const errorMessages = allMessages(report).filter((m) => m.msg_type === "error")
    .map((m) => `cell ${m.parent_cell}: ${m.ename}: ${m.evalue}`);
  assert.deepEqual([...errors, ...errorMessages], [], `${name} raised errors`);

  // 1b. Every cell shows what it should in the saved notebook, with no pause in any cell.
  assert.deepEqual(
    missingOutputs(executed, expect),
    [],
    `${name}: outputs missing from the executed notebook`,
  );

  const outputs = liveOutputs(allMessages(report));
  const minChanges = expect.minChanges ?? 2;
  for (const out of outputs) {
    for (const m of [out.first, ...out.updates]) {
      assert.ok(
        mime(m, "text/plain").length > 0,
        `${name}: message ${m.seq} for ${out.id} has no text/plain`,
      );
    }
  }
  if (expect.displayIds !== undefined) {
    assert.equal(
      outputs.length,
      expect.displayIds,
      `${name}: expected ${expect.displayIds} display ids starting with ${DISPLAY_ID_PREFIX}, got ` +
        `${outputs.map(describe).join("; ") || "none"}`,
    );
  }

  // 2. Tables in the executed notebook (static or live).
  const savedTables = executed.cells.flatMap((c) =>
    (c.outputs ?? []).map((o) => joinText(o.data?.["text/html"] ?? "")).filter((h) => h.includes("<table"))
  );
  for (const table of expect.tables ?? []) {
    assert.ok(
      savedTables.some((html) => {
        const heads = headerCells(html);
        return table.columns.every((c) => heads.some((h) => namesColumn(h, c)));
      }),
      `${name}: the executed notebook has no <table> output with the columns ${table.columns.join(", ")}; ` +
        `tables shown: ${savedTables.map((h) => `[${headerCells(h).join(", ")}]`).join("; ") || "none"}`,
    );
  }

  // 3. Live tables: an HTML <table> with the expected <th> names that changes through updates.
  const used = new Set<string>();
  for (const table of expect.liveTables ?? []) {
    const candidates = outputs.filter((out) => {
      const html = mime(out.first, "text/html");
      const heads = headerCells(html);
      return html.includes("<table") && table.columns.every((c) => heads.some((h) => namesColumn(h, c)));
    });
    assert.ok(
      candidates.length > 0,
      `${name}: no display id shows a <table> with the columns ${table.columns.join(", ")}; shown: ` +
        (outputs.map((o) => `${o.id} [${headerCells(mime(o.first, "text/html")).join(", ")}]`).join("; ") ||
          "nothing"),
    );
    const ticking = candidates.find((out) =>
      !used.has(out.id) && out.updates.length >= minChanges && changes(out, "text/html") >= minChanges
    );
    assert.ok(
      ticking,
      `${name}: the table with ${table.columns.join(", ")} did not tick (at least ${minChanges} ` +
        `update_display_data with changing text/html): ${candidates.map(describe).join("; ")}`,
    );
    used.add(ticking.id);
  }

  // 4. Plots: an <svg> in an output, updated in place.
  if (expect.plots !== undefined) {
    const plots = outputs.filter((out) => svgOf(out.first));
    const ticking = plots.filter((out) =>
      out.updates.length >= minChanges && out.updates.every(svgOf) &&
      (changes(out, "text/html") >= minChanges || changes(out, "image/svg+xml") >= minChanges)
    );
    assert.ok(
      ticking.length >= expect.plots,
      `${name}: expected ${expect.plots} live plots (an <svg> with at least ${minChanges} changing ` +
        `updates), got ${plots.map(describe).join("; ") || "no <svg> output"}`,
    );
    const svgInNotebook = executed.cells.some((c) =>
      (c.outputs ?? []).some((o) => Object.values(o.data ?? {}).some((v) => joinText(v).includes("<svg")))
    );
    assert.ok(svgInNotebook, `${name}: the executed notebook holds no <svg> output`);
    // A live chart draws more points as its table grows.
    for (const out of ticking) {
      const bundles = [out.first, ...out.updates];
      const points = bundles.map((m) => drawnPoints(mime(m, "text/html") || mime(m, "image/svg+xml")));
      assert.ok(
        points[points.length - 1] > points[0],
        `${name}: the chart ${out.id} drew ${
          points.join(" → ")
        } points through its updates; they should grow`,
      );
    }
  }
  if (expect.svgs !== undefined) {
    const svgs = executed.cells.flatMap((c) => c.outputs ?? [])
      .filter((o) => Object.values(o.data ?? {}).some((v) => joinText(v).includes("<svg"))).length;
    assert.ok(
      svgs >= expect.svgs,
      `${name}: ${svgs} <svg> outputs in the executed notebook, expected ${expect.svgs}`,
    );
  }

  // 4b. The live table kept up with the server while its outputs refreshed.
  if (expect.keptUpShare !== undefined) {
    const lastCode = executed.cells.filter((c) => c.cell_type === "code").at(-1);
    const text = (lastCode?.outputs ?? []).map((o) => joinText(o.data?.["text/plain"] ?? "")).join("\n");
    const received = Number(/rowsReceived: (\d+)/.exec(text)?.[1]);
    const added = Number(/rowsAddedOnServer: (\d+)/.exec(text)?.[1]);
    assert.ok(
      Number.isFinite(received) && Number.isFinite(added),
      `${name}: the last cell shows no rowsReceived / rowsAddedOnServer: ${text}`,
    );
    console.log(`${name}: the live table received ${received} of the ${added} rows the server added`);
    assert.ok(
      added >= 30,
      `${name}: the server added only ${added} rows during the wait; is the table ticking?`,
    );
    assert.ok(
      received >= expect.keptUpShare * added,
      `${name}: the live table received ${received} of the ${added} rows the server added (less than ` +
        `${expect.keptUpShare * 100}%): display work held back the subscription`,
    );
  }

  // 5. The executed notebook keeps the last state: each live output equals the last bundle nbclient applied.
  for (const out of outputs) {
    const where = report.display_ids[out.id]?.outputs ?? [];
    assert.ok(
      where.length > 0,
      `${name}: the executed notebook has no output for ${out.id}; its display_data arrived after its cell ` +
        `ended (end the cell with \`await new Promise((r) => setTimeout(r, 50));\`)`,
    );
    const applied = [out.first, ...out.updates].filter((m) => m.applied);
    const last = applied[applied.length - 1];
    assert.ok(last, `${name}: nbclient applied no message for ${out.id}`);
    for (const [cell, index] of where) {
      const saved = executed.cells[cell]?.outputs?.[index];
      assert.ok(
        saved,
        `${name}: output ${index} of cell ${cell} (${out.id}) is missing from the saved notebook`,
      );
      const savedData = Object.fromEntries(
        Object.entries(saved.data ?? {}).map(([k, v]) => [k, joinText(v)]),
      );
      const lastData = Object.fromEntries(Object.entries(last.data ?? {}).map(([k, v]) => [k, joinText(v)]));
      assert.deepEqual(
        savedData,
        lastData,
        `${name}: the saved output of ${out.id} (cell ${cell}) is not the last state (message ${last.seq})`,
      );
      // A saved live output says when it was last updated, so that a reader knows what it shows.
      if (out.updates.length > 0) {
        assert.match(
          savedData["text/plain"] ?? "",
          /last update \d{4}-\d\d-\d\d \d\d:\d\d:\d\d UTC/,
          `${name}: the saved output of ${out.id} does not say when it was last updated`,
        );
      }
    }
  }
}

for (const name of listNotebooks()) {
  const expect = EXPECTATIONS[name];
  const testName = `notebook ${name} runs headlessly and shows what its expectation says`;
  if (expect === undefined) {
    Deno.test(testName, () => {
      assert.fail(
        `${name} has no entry in testing/notebook_expectations.ts; add one (at least { needsServer })`,
      );
    });
  } else {
    Deno.test({
      name: testName,
      sanitizeResources: false,
      sanitizeOps: false,
      async fn() {
        const server = expect.needsServer ? await sharedServer("notebooks", NOTEBOOK_SERVER) : undefined;
        try {
          await checkNotebook(name, expect, server);
        } catch (e) {
          if (server) {
            console.error(
              `--- last 40 lines of ${server.logPath} ---\n${await server.logTail(40)}\n--- end ---`,
            );
          }
          throw e;
        }
      },
    });
  }
}

Deno.test("no notebook cell pauses (sleeps) to let its outputs through", () => {
  const sleeps: string[] = [];
  for (const name of listNotebooks()) {
    const nb = JSON.parse(Deno.readTextFileSync(`${NOTEBOOKS_DIR}/${name}`)) as ExecutedNotebook;
    nb.cells.forEach((c, i) => {
      const src = joinText(c.source ?? "");
      if (c.cell_type === "code" && /setTimeout|\bsleep\b|\bdelay\(/.test(src)) {
        sleeps.push(`${name} cell ${i}`);
      }
    });
  }
  assert.ok(listNotebooks().length > 0, "notebooks/ holds no notebook");
  assert.deepEqual(sleeps, [], "cells that pause");
});

Deno.test({
  name: `every cell's outputs are in the executed notebook in 20 consecutive kernel runs of ${
    REPEATED.join(", ")
  }`,
  sanitizeResources: false,
  sanitizeOps: false,
  async fn() {
    const needsServer = REPEATED.some((n) => EXPECTATIONS[n].needsServer);
    const server = needsServer ? await sharedServer("notebooks", NOTEBOOK_SERVER) : undefined;
    const env: Record<string, string> = server ? { DH_HOST: server.host, DH_PORT: String(server.port) } : {};
    const runs = 20;
    const failures: string[] = [];
    for (const name of REPEATED) {
      let complete = 0;
      for (let run = 1; run <= runs; run++) {
        const { report, code, stderr } = await runNotebook(name, {
          env,
          outDir: `${NOTEBOOK_RESULTS_DIR}/repeated`,
          timeoutMs: 120_000,
        });
        assert.ok(
          report.ok && code === 0,
          `${name} run ${run} did not finish: ${report.failure}\n${stderr.slice(-2000)}`,
        );
        const executed = JSON.parse(await Deno.readTextFile(report.executed_notebook)) as ExecutedNotebook;
        const missing = missingOutputs(executed, EXPECTATIONS[name]);
        if (missing.length === 0) complete++;
        else failures.push(`${name} run ${run}: ${missing.join("; ")}`);
      }
      console.log(`${name}: every cell's outputs present in ${complete} of ${runs} runs`);
    }
    assert.deepEqual(failures, [], "runs with outputs missing");
  },
});
