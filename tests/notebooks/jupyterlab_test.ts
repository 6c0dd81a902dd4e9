/**
 * The notebooks in a real JupyterLab: starts JupyterLab from the project's venv on 127.0.0.1 (random token,
 * never printed; its root is a temporary copy of `notebooks/`), drives Debian's Chromium headless through
 * playwright-core, runs all cells of `02_live_plot.ipynb` from the Run menu and checks that its three live
 * outputs (a table, a derived table, a chart) change on screen within 5 s and that the chart draws more points
 * as the table grows. Screenshots go to `test-results/screenshots/`.
 *
 * The temporary root sits in a folder that links `mod.ts`, `deno.json`, `deno.lock`, `src/` and `node_modules/`
 * of the project, so the notebooks' `import ... from "../mod.ts"` resolves as in the repository while the
 * repository's notebooks stay untouched (JupyterLab saves into the copy).
 *
 * @module
 */

import assert from "node:assert/strict";
import { type Browser, type BrowserContext, chromium, type Locator, type Page } from "playwright-core";
import { type DhServer, freePort, PROJECT_ROOT, RESULTS_DIR, sharedServer } from "../../testing/server.ts";
import { NOTEBOOK_SERVER } from "../../testing/notebook_expectations.ts";
import { jupyterEnv, NOTEBOOKS_DIR, SCREENSHOTS_DIR, venvBin } from "../../testing/notebooks.ts";

const CHROMIUM = "/usr/bin/chromium";
/** The notebook with three live outputs: a table, a derived table and a chart of a 10 rows/s table. */
const LIVE = "02_live_plot.ipynb";
/** Project files the notebooks' relative imports need, linked beside the copied notebooks. */
const LINKED = ["mod.ts", "deno.json", "deno.lock", "src", "node_modules"];

function exists(path: string): boolean {
  try {
    Deno.statSync(path);
    return true;
  } catch {
    return false;
  }
}

/** A running JupyterLab started by {@linkcode startJupyterLab}. */
interface Lab {
  /** `http://127.0.0.1:<port>`. */
  base: string;
  /** The access token. Never print it. */
  token: string;
  /** The server's log (token redacted). */
  logPath: string;
  /** Replaces the token in a text. */
  redact(text: string): string;
  /** Shuts down all running kernels. */
  shutdownKernels(): Promise<void>;
  /** Shuts down all kernels and the server, and removes the temporary folders. */
  stop(): Promise<void>;
}

async function pumpLines(stream: ReadableStream<Uint8Array>, write: (line: string) => void): Promise<void> {
  let partial = "";
  const decoder = new TextDecoder();
  try {
    for await (const chunk of stream) {
      partial += decoder.decode(chunk, { stream: true });
      let nl: number;
      while ((nl = partial.indexOf("\n")) >= 0) {
        write(partial.slice(0, nl));
        partial = partial.slice(nl + 1);
      }
    }
  } catch {
    // the process died; keep what we have
  }
  if (partial) write(partial);
}

/**
 * Starts JupyterLab on a free port with a random token, its root a temporary copy of `notebooks/`, and its
 * config, data and runtime dirs temporary too (the user's Jupyter settings are neither read nor written).
 */
async function startJupyterLab(env: Record<string, string>): Promise<Lab> {
  const token = Array.from(crypto.getRandomValues(new Uint8Array(24)), (b) => b.toString(16).padStart(2, "0"))
    .join("");
  const redact = (text: string) => text.split(token).join("<redacted-token>");
  const port = freePort();
  const base = `http://127.0.0.1:${port}`;

  const work = await Deno.makeTempDir({ prefix: "dh-jupyterlab-" });
  const root = `${work}/project/notebooks`;
  await Deno.mkdir(root, { recursive: true });
  for (const entry of Deno.readDirSync(NOTEBOOKS_DIR)) {
    if (entry.isFile && entry.name.endsWith(".ipynb")) {
      await Deno.copyFile(`${NOTEBOOKS_DIR}/${entry.name}`, `${root}/${entry.name}`);
    }
  }
  for (const name of LINKED) {
    if (exists(`${PROJECT_ROOT}/${name}`)) {
      await Deno.symlink(`${PROJECT_ROOT}/${name}`, `${work}/project/${name}`);
    }
  }
  const config = `${work}/config`;
  await Deno.mkdir(`${config}/labconfig`, { recursive: true });
  // No "receive Jupyter news?" toast over the screenshots.
  await Deno.writeTextFile(
    `${config}/labconfig/page_config.json`,
    JSON.stringify({ disabledExtensions: { "@jupyterlab/apputils-extension:announcements": true } }),
  );

  await Deno.mkdir(RESULTS_DIR, { recursive: true });
  const logPath = `${RESULTS_DIR}/jupyterlab-${port}.log`;
  const write = (line: string) => Deno.writeTextFileSync(logPath, redact(line) + "\n", { append: true });
  const child = new Deno.Command(venvBin("jupyter-lab"), {
    args: [
      "--no-browser",
      "--ServerApp.ip=127.0.0.1",
      `--ServerApp.port=${port}`,
      "--ServerApp.port_retries=0",
      `--ServerApp.root_dir=${root}`,
      "--ServerApp.allow_root=True",
      "--LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate",
    ],
    env: jupyterEnv({
      ...env,
      JUPYTER_TOKEN: token,
      JUPYTER_CONFIG_DIR: config,
      JUPYTER_DATA_DIR: `${work}/data`,
      JUPYTER_RUNTIME_DIR: `${work}/runtime`,
    }),
    cwd: root,
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const kill = () => {
    try {
      child.kill("SIGKILL");
    } catch {
      // already gone
    }
  };
  globalThis.addEventListener("unload", kill);
  const pumps = Promise.all([pumpLines(child.stdout, write), pumpLines(child.stderr, write)]);
  let exited = false;
  const status = child.status.then(async (s) => {
    exited = true;
    await pumps;
    return s;
  });

  const headers = { Authorization: `token ${token}` };
  const api = (path: string, method = "GET") => fetch(`${base}${path}`, { method, headers });
  let stopping: Promise<void> | undefined;
  const shutdownKernels = async () => {
    const kernels = await (await api("/api/kernels")).json() as { id: string }[];
    for (const k of kernels) await (await api(`/api/kernels/${k.id}`, "DELETE")).body?.cancel();
  };
  const lab: Lab = {
    base,
    token,
    logPath,
    redact,
    shutdownKernels,
    stop: () =>
      stopping ??= (async () => {
        if (!exited) {
          try {
            await shutdownKernels();
            await (await api("/api/shutdown", "POST")).body?.cancel();
          } catch {
            // the server may be gone already
          }
          let timer: ReturnType<typeof setTimeout> | undefined;
          const late = await Promise.race([
            status.then(() => false),
            new Promise<boolean>((r) => (timer = setTimeout(() => r(true), 15_000))),
          ]);
          clearTimeout(timer);
          if (late) kill();
        }
        await status;
        globalThis.removeEventListener("unload", kill);
        await Deno.remove(work, { recursive: true }).catch(() => {});
      })(),
  };

  const deadline = Date.now() + 90_000;
  while (true) {
    if (exited) {
      await lab.stop();
      assert.fail(`JupyterLab exited before it answered; see ${logPath}`);
    }
    try {
      const res = await api("/api/status");
      await res.body?.cancel();
      if (res.ok) break;
    } catch {
      // not listening yet
    }
    if (Date.now() > deadline) {
      await lab.stop();
      assert.fail(`JupyterLab did not answer /api/status within 90 s; see ${logPath}`);
    }
    await new Promise((r) => setTimeout(r, 250));
  }
  return lab;
}

/** Polls `probe` every `intervalMs` until it returns a value other than `undefined`, or fails at the deadline. */
async function waitFor<T>(
  what: string,
  timeoutMs: number,
  probe: () => Promise<T | undefined>,
  intervalMs = 200,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  while (true) {
    const value = await probe();
    if (value !== undefined) return value;
    if (Date.now() > deadline) assert.fail(`Timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, intervalMs));
  }
}

/** A session of the Jupyter server REST API (the fields used here). */
interface LabSession {
  path: string;
  kernel?: { name: string; execution_state: string };
}

/** Fails with the dialog's text when JupyterLab shows a dialog (such as "kernel not found"). */
async function noDialog(page: Page): Promise<void> {
  const dialog = page.locator(".jp-Dialog");
  if (await dialog.count() > 0) {
    assert.fail(`JupyterLab shows a dialog: ${(await dialog.first().innerText()).replace(/\s+/g, " ")}`);
  }
}

/** Opens a notebook in a new page, waits for its kernel to be idle and runs all cells from the Run menu. */
async function openAndRunAll(
  context: BrowserContext,
  lab: Lab,
  name: string,
  login: boolean,
  pages: Page[],
): Promise<Page> {
  const page = await context.newPage();
  pages.push(page);
  const query = login ? `?reset&token=${lab.token}` : "?reset";
  await page.goto(`${lab.base}/lab/tree/${name}${query}`, { waitUntil: "domcontentloaded" });
  // Run All before the kernel is up opens the "Select Kernel" dialog: wait until the server has an idle
  // `deno` kernel for this notebook and the page's status bar shows it.
  await waitFor(`the notebook ${name} to open with an idle Deno kernel`, 120_000, async () => {
    await noDialog(page);
    const res = await fetch(`${lab.base}/api/sessions`, { headers: { Authorization: `token ${lab.token}` } });
    const sessions = res.ok ? await res.json() as LabSession[] : (await res.body?.cancel(), []);
    const ready = sessions.some((s) =>
      s.path.endsWith(name) && s.kernel?.name === "deno" && s.kernel.execution_state === "idle"
    );
    if (!ready) return undefined;
    const status = await page.locator(".jp-StatusBar-TextItem", { hasText: /Deno \| Idle/ }).count();
    return status > 0 ? true : undefined;
  }, 250);
  await page.locator(".lm-MenuBar-item", { hasText: /^Run$/ }).click();
  const label = page.locator(".lm-Menu-itemLabel", { hasText: /^Run All Cells$/ });
  await page.locator(".lm-Menu-item", { has: label }).click();
  return page;
}

/** Waits until every code cell has run (no `[*]` or empty prompt left) and returns the error outputs' text. */
async function errorsAfterRun(page: Page, name: string): Promise<string[]> {
  await waitFor(`all cells of ${name} to finish`, 180_000, async () => {
    await noDialog(page);
    const prompts = await page.locator(".jp-CodeCell .jp-InputPrompt").allInnerTexts();
    return prompts.length > 0 && prompts.every((p) => /\[\d+\]/.test(p)) ? true : undefined;
  }, 250);
  return await page.locator('.jp-OutputArea-output[data-mime-type="application/vnd.jupyter.stderr"]')
    .allInnerTexts();
}

async function shot(page: Page, target: Locator, file: string): Promise<string> {
  await target.scrollIntoViewIfNeeded();
  const path = `${SCREENSHOTS_DIR}/${file}`;
  await page.screenshot({ path });
  return path;
}

const notebookPresent = exists(`${NOTEBOOKS_DIR}/${LIVE}`);
const chromiumPresent = exists(CHROMIUM);
if (!chromiumPresent) {
  console.error(
    `jupyterlab_test: ${CHROMIUM} is missing, so the JupyterLab test is skipped; run scripts/setup.sh`,
  );
}

/** What one output shows now: its text, its markup, and how many points its chart draws. */
interface Seen {
  text: string;
  markup: string;
  points: number;
}

/** Reads every output that holds a table or a chart, in document order. */
async function liveOutputs(page: Page): Promise<Seen[]> {
  return await page.locator(".jp-OutputArea-output").filter({ has: page.locator("table, svg") }).evaluateAll(
    (els) =>
      els.map((e) => {
        let vertices = 0, dots = 0;
        for (const p of e.querySelectorAll('g[aria-label="line"] path')) {
          vertices += ((p.getAttribute("d") ?? "").match(/[ML]/g) ?? []).length;
        }
        dots = e.querySelectorAll('g[aria-label="dot"] circle').length;
        return { text: (e as HTMLElement).innerText, markup: e.innerHTML, points: Math.max(vertices, dots) };
      }),
  );
}

Deno.test({
  name:
    `JupyterLab runs ${LIVE} in headless Chromium: its live table, derived table and chart change on screen`,
  ignore: !chromiumPresent,
  sanitizeResources: false,
  sanitizeOps: false,
  async fn() {
    assert.ok(notebookPresent, `${NOTEBOOKS_DIR}/${LIVE} is missing; the JupyterLab test opens it`);
    const started = performance.now();
    const at = () => `${((performance.now() - started) / 1000).toFixed(1)} s`;
    const server: DhServer = await sharedServer("notebooks", NOTEBOOK_SERVER);
    await Deno.mkdir(SCREENSHOTS_DIR, { recursive: true });
    const lab = await startJupyterLab({ DH_HOST: server.host, DH_PORT: String(server.port) });
    let browser: Browser | undefined;
    const pages: Page[] = [];
    try {
      browser = await chromium.launch({ executablePath: CHROMIUM, args: ["--no-sandbox"] });
      console.log(`${at()}: server, JupyterLab and Chromium ${browser.version()} up`);
      const context = await browser.newContext({ viewport: { width: 1400, height: 1000 } });
      const page = await openAndRunAll(context, lab, LIVE, true, pages);

      // The three live outputs: the table, its lastBy, its chart. Each must change on screen within 5 s of
      // appearing, and the chart must draw more points.
      const want = 3;
      const first = await waitFor(`${want} table and chart outputs of ${LIVE}`, 180_000, async () => {
        await noDialog(page);
        const now = await liveOutputs(page);
        return now.length >= want ? now : undefined;
      }, 150);
      const appeared = performance.now();
      await shot(
        page,
        page.locator(".jp-OutputArea-output").filter({ has: page.locator("svg") }).first(),
        "02_live_plot-1-appeared.png",
      );
      const changedAt: (number | undefined)[] = new Array(want).fill(undefined);
      const last = await waitFor(
        `all ${want} live outputs of ${LIVE} to change on screen within 5 s`,
        5_000,
        async () => {
          await noDialog(page);
          const now = await liveOutputs(page);
          now.slice(0, want).forEach((o, i) => {
            if (changedAt[i] === undefined && o.markup !== first[i].markup) {
              changedAt[i] = performance.now() - appeared;
            }
          });
          const chart = now.findIndex((o) => o.markup.includes("<svg"));
          const grew = chart >= 0 && now[chart].points > first[chart].points;
          return changedAt.every((t) => t !== undefined) && grew ? now : undefined;
        },
        150,
      );
      await shot(
        page,
        page.locator(".jp-OutputArea-output").filter({ has: page.locator("svg") }).first(),
        "02_live_plot-2-changed.png",
      );
      const chart = last.findIndex((o) => o.markup.includes("<svg"));
      console.log(
        `${at()}: ${LIVE}: all ${want} outputs changed on screen after ` +
          `${changedAt.map((t) => `${Math.round(t!)} ms`).join(", ")}; the chart drew ` +
          `${first[chart].points} → ${last[chart].points} points`,
      );
      for (const c of ["Timestamp", "X", "Y", "Sym"]) {
        assert.ok(last[0].text.includes(c), `the live table shows no column ${c}`);
      }
      const errors = await errorsAfterRun(page, LIVE);
      assert.deepEqual(errors, [], `${LIVE} shows error or stderr outputs in JupyterLab`);
      console.log(`${at()}: ${LIVE}: all cells ran, no errors; screenshots in ${SCREENSHOTS_DIR}`);
      await page.close();
    } catch (e) {
      const open = pages.filter((p) => !p.isClosed());
      if (open.length > 0) {
        await open[open.length - 1].screenshot({ path: `${SCREENSHOTS_DIR}/failure.png` }).catch(() => {});
        console.error(`jupyterlab_test: the page at the failure is in ${SCREENSHOTS_DIR}/failure.png`);
      }
      // Playwright errors may quote URLs; never let the token out.
      const message = e instanceof Error ? `${e.message}\n${e.stack ?? ""}` : String(e);
      throw new Error(`${lab.redact(message)}\n(JupyterLab log: ${lab.logPath})`);
    } finally {
      await browser?.close().catch(() => {});
      await lab.stop();
    }
  },
});
