/**
 * An embedded Deephaven Community Core server for scripts, notebooks, benchmarks and tests: the pip
 * package `deephaven-server` on Java 17+, started from Python as a child process and bound to 127.0.0.1.
 *
 * The server's stdin stays open; when this process ends for any reason the pipe closes and the server
 * exits at once, so none is left behind. Its output goes to a log file with the pre-shared key redacted.
 *
 * Python: `options.python`, else `$DH_PYTHON`, else the venv that the repository's `scripts/setup.sh`
 * installs (`${DH_DENO_CACHE:-~/.cache/dh-deno}/venv-42.7/bin/python`), which has `deephaven-server`.
 *
 * @example Start a server, use it, stop it
 * ```ts ignore
 * import { startServer } from "@dh/deephaven/server";
 * import { Session } from "@dh/deephaven";
 *
 * await using server = await startServer({ script: "from deephaven import empty_table\nt = empty_table(5)" });
 * await using session = await Session.connect({ host: server.host, port: server.port });
 * console.log((await session.openTable("t").toArrow()).numRows); // 5
 * ```
 *
 * @module
 */

import { DeephavenError, GrpcCode } from "../errors.ts";
import { Channel, type MethodSpec } from "../transport/channel.ts";
import { launcherPath, removeLauncher } from "./launcher.ts";
import { checkInteger, checkOptions, checkString, checkStrings, shown } from "../validate.ts";
import { BASIC_AUTH_ENV, BASIC_AUTH_HANDLER, basicAuthClasses } from "./basic_auth.ts";

/** Which authentication handlers an embedded server enables. */
export type ServerAuth = "anonymous" | "psk" | "both";

/** Options of {@linkcode startServer}. */
export interface ServerOptions {
  /** Enabled handlers: Anonymous, pre-shared key, or both. Default `"anonymous"`. */
  auth?: ServerAuth;
  /** The pre-shared key for `"psk"` and `"both"`. Default: a random key (read it from {@linkcode EmbeddedServer.psk}). */
  psk?: string;
  /** Extra JVM arguments. `-Xmx2g` and `-Dhttp.session.durationMs=10000` are added unless given. */
  jvmArgs?: string[];
  /** Python source run in the server's global scope after start; the tables it defines can be opened by name. */
  script?: string;
  /** The port. Default: a free port. */
  port?: number;
  /**
   * How long to wait for the server to answer, in milliseconds. Default 120000. A server that has not run
   * its start-up script by then is stopped and, unless `port` is given, started once more on a fresh port.
   */
  startTimeoutMs?: number;
  /** A short name used in the log file name. Default `"server"`. */
  name?: string;
  /** The folder of the log file. Default `${DH_DENO_CACHE:-~/.cache/dh-deno}/logs`. */
  logDir?: string;
  /** The Python that has `deephaven-server`. Default `$DH_PYTHON`, else the venv of `scripts/setup.sh`. */
  python?: string;
  /**
   * Also enable Basic authentication for one user, `"user:password"` (clients log in with `authType: "Basic"`
   * and this token). The handler is a small Java class of this module, compiled with the JDK's `javac` on first
   * use and cached; the credentials reach the server through its environment, never its command line or log.
   */
  basicAuth?: string;
  /**
   * Applications to run when the server starts (Deephaven's application mode): each is written as an `.app`
   * file and a Python script into a private folder that `deephaven.application.dir` names. Their fields are
   * listed by `session.fields()` and open as tickets `a/<id>/f/<name>`.
   */
  applications?: ServerApplication[];
}

/**
 * One application of {@linkcode ServerOptions.applications}: a Python script run at start in application
 * mode, which publishes its fields through `deephaven.appmode.get_app_state()`.
 *
 * @example
 * ```ts ignore
 * import { startServer } from "./server.ts";
 *
 * await using server = await startServer({
 *   applications: [{
 *     id: "demo",
 *     name: "Demo",
 *     script: "from deephaven import empty_table\nfrom deephaven.appmode import get_app_state\n" +
 *       "get_app_state()['numbers'] = empty_table(5).update('X = i')",
 *   }],
 * });
 * ```
 */
export interface ServerApplication {
  /** The application id (letters, digits, `.`, `_`, `-`): fields open as `a/<id>/f/<name>`. */
  id: string;
  /** A readable name. Default: the id. */
  name?: string;
  /** The Python source of the application. */
  script: string;
}

/** A running embedded Deephaven server. `await using` stops it at the end of the scope. */
export interface EmbeddedServer extends AsyncDisposable {
  /** The host the server listens on, `127.0.0.1`. */
  readonly host: string;
  /** The port the server listens on. */
  readonly port: number;
  /** `host:port`, the gRPC target. */
  readonly target: string;
  /** The enabled authentication handlers. */
  readonly auth: ServerAuth;
  /** The pre-shared key (also set when PSK is disabled). Never print it; it is left out of `inspect` output. */
  readonly psk: string;
  /** The Basic credentials `"user:password"` when Basic authentication is enabled. Never print them. */
  readonly basicAuth: string | undefined;
  /** Path of the server's log file (stdout and stderr, PSK and Basic password redacted). */
  readonly logPath: string;
  /** Milliseconds from spawn until the server answered its first gRPC call. */
  readonly startMs: number;
  /**
   * Returns the last lines of the server log.
   *
   * @param lines How many lines, default 40.
   * @returns The lines joined with newlines.
   */
  logTail(lines?: number): Promise<string>;
  /**
   * Stops the server (closes its stdin, then kills it if it is still alive after 10 s) and waits for it to exit.
   *
   * @returns A promise that resolves once the process has exited.
   */
  stop(): Promise<void>;
  /**
   * Sends a signal to the server process (for example to test a server that dies).
   *
   * @param signal The signal, default `"SIGKILL"`.
   */
  kill(signal?: Deno.Signal): void;
  /** Resolves with the exit status once the process has exited. */
  readonly exited: Promise<Deno.CommandStatus>;
}

/** The unauthenticated readiness probe. */
const AUTH_CONSTANTS_PATH = "/io.deephaven.proto.backplane.grpc.ConfigService/GetAuthenticationConstants";

const RAW: MethodSpec<Uint8Array, Uint8Array> = {
  path: AUTH_CONSTANTS_PATH,
  serialize: (m) => m,
  deserialize: (b) => b,
};

const running = new Set<Deno.ChildProcess>();
let unloadHookInstalled = false;

function installUnloadHook(): void {
  if (unloadHookInstalled) return;
  unloadHookInstalled = true;
  globalThis.addEventListener("unload", () => {
    for (const child of running) {
      try {
        child.kill("SIGKILL");
      } catch {
        // already gone
      }
    }
    running.clear();
    removeLauncher();
  });
}

function cacheDir(): string {
  return Deno.env.get("DH_DENO_CACHE") ?? `${Deno.env.get("HOME") ?? ""}/.cache/dh-deno`;
}

/**
 * Returns the Python that has `deephaven-server`: `$DH_PYTHON`, else
 * `${DH_DENO_CACHE:-$HOME/.cache/dh-deno}/venv-42.7/bin/python` (the venv of `scripts/setup.sh`).
 *
 * @returns The path.
 * @throws {DeephavenError} `FAILED_PRECONDITION` when that interpreter does not exist.
 *
 * @example
 * ```ts ignore
 * import { venvPython } from "./server.ts";
 * console.log(venvPython()); // e.g. /home/me/.cache/dh-deno/venv-42.7/bin/python
 * ```
 */
export function venvPython(): string {
  const explicit = Deno.env.get("DH_PYTHON");
  const path = explicit && explicit.length > 0 ? explicit : `${cacheDir()}/venv-42.7/bin/python`;
  try {
    Deno.statSync(path);
  } catch {
    throw new DeephavenError(
      `No Python with deephaven-server was found at ${path}; run scripts/setup.sh of the repository ` +
        `(or set DH_PYTHON to a Python that has deephaven-server 42.7) and try again`,
      { code: GrpcCode.FAILED_PRECONDITION },
    );
  }
  return path;
}

/**
 * Returns JAVA_HOME, or derives it from the `java` on PATH (its real path minus `/bin/java`).
 *
 * @returns The Java home, or `undefined` when no Java is found.
 *
 * @example
 * ```ts
 * import { javaHome } from "./server.ts";
 * console.log(javaHome() ?? "no Java on PATH");
 * ```
 */
export function javaHome(): string | undefined {
  const set = Deno.env.get("JAVA_HOME");
  if (set) return set;
  for (const dir of (Deno.env.get("PATH") ?? "").split(":")) {
    if (!dir) continue;
    try {
      const real = Deno.realPathSync(`${dir}/java`);
      if (real.endsWith("/bin/java")) return real.slice(0, -"/bin/java".length);
    } catch {
      // not in this directory
    }
  }
  return undefined;
}

/**
 * Finds a free TCP port on 127.0.0.1 by listening on port 0.
 *
 * @returns The port number.
 *
 * @example
 * ```ts
 * import { freePort } from "./server.ts";
 * console.log(freePort() > 0); // true
 * ```
 */
export function freePort(): number {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (listener.addr as Deno.NetAddr).port;
  listener.close();
  return port;
}

/** Generates a random pre-shared key (40 hex characters). */
function randomKey(): string {
  const bytes = crypto.getRandomValues(new Uint8Array(20));
  return Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
}

/** Reads the last `n` lines of a text file ("" when it does not exist). */
async function tailFile(path: string, n: number): Promise<string> {
  let text: string;
  try {
    text = await Deno.readTextFile(path);
  } catch {
    return "";
  }
  const lines = text.split("\n");
  if (lines.length > 0 && lines[lines.length - 1] === "") lines.pop();
  return lines.slice(-n).join("\n");
}

function timestamp(): string {
  return new Date().toISOString().replace(/[-:]/g, "").replace(/\..*$/, "");
}

/** Pumps one output stream of the child into the log, line by line. */
async function pump(
  stream: ReadableStream<Uint8Array>,
  write: (line: string) => void,
  onLine?: (line: string) => void,
): Promise<void> {
  let partial = "";
  const decoder = new TextDecoder();
  const reader = stream.getReader();
  try {
    while (true) {
      const { value, done } = await reader.read();
      if (done) break;
      partial += decoder.decode(value, { stream: true });
      let nl: number;
      while ((nl = partial.indexOf("\n")) >= 0) {
        const line = partial.slice(0, nl);
        partial = partial.slice(nl + 1);
        write(line);
        onLine?.(line);
      }
    }
  } catch {
    // the process died; keep what we have
  } finally {
    if (partial.length > 0) {
      write(partial);
      onLine?.(partial);
    }
    reader.releaseLock();
  }
}

function withDefaults(jvmArgs: readonly string[]): string[] {
  const args = [...jvmArgs];
  if (!args.some((a) => a.startsWith("-Xmx"))) args.unshift("-Xmx2g");
  if (!args.some((a) => a.startsWith("-Dhttp.session.durationMs="))) {
    args.push("-Dhttp.session.durationMs=10000");
  }
  return args;
}

/** Asks the server for its authentication constants once (no authentication needed). */
async function probe(host: string, port: number, timeoutMs: number): Promise<void> {
  const channel = new Channel({ host, port });
  try {
    await channel.unary(RAW, new Uint8Array(0), { timeoutMs, what: "Probing the embedded server" });
  } finally {
    channel.close();
  }
}

/**
 * Starts an embedded Deephaven server and waits until it answers an unauthenticated gRPC call.
 *
 * @param options Auth, PSK, JVM arguments, a start-up script, port, timeout, log folder, Python.
 * @returns The running server; stop it with {@linkcode EmbeddedServer.stop} or `await using` (servers still
 * running when the process ends are killed).
 * @throws {DeephavenError} `FAILED_PRECONDITION` when no Python with `deephaven-server` is found;
 * `UNAVAILABLE` when the process exits early; `DEADLINE_EXCEEDED` when it does not answer in time. The
 * message holds the last 40 log lines.
 *
 * @example
 * ```ts ignore
 * import { startServer } from "./server.ts";
 *
 * const server = await startServer({ auth: "anonymous", script: "from deephaven import empty_table\nt = empty_table(5)" });
 * try {
 *   console.log(server.target); // 127.0.0.1:<port>
 * } finally {
 *   await server.stop();
 * }
 * ```
 */
export async function startServer(options: ServerOptions = {}): Promise<EmbeddedServer> {
  checkServerOptions(options);
  try {
    return await startServerOnce(options);
  } catch (e) {
    // Rarely, the embedded server hangs while it runs the start-up script (seen once in ~40 starts under
    // load; the log then holds the Python stacks). A second start on a fresh port is tried once.
    if (
      !(e instanceof DeephavenError) || !/did not print READY/.test(e.message) || options.port !== undefined
    ) {
      throw e;
    }
    console.error(`startServer: ${e.message.split("\n")[0]}; starting it once more`);
    return await startServerOnce(options);
  }
}

class RunningServer implements EmbeddedServer {
  readonly host: string;
  readonly port: number;
  readonly target: string;
  readonly auth: ServerAuth;
  readonly logPath: string;
  readonly startMs: number;
  readonly exited: Promise<Deno.CommandStatus>;
  readonly #psk: string;
  readonly #basicAuth: string | undefined;
  readonly #child: Deno.ChildProcess;
  readonly #stdin: WritableStreamDefaultWriter<Uint8Array>;
  readonly #status: () => Deno.CommandStatus | undefined;
  #stopping: Promise<void> | undefined;

  constructor(
    fields: Pick<
      EmbeddedServer,
      "host" | "port" | "auth" | "logPath" | "startMs" | "exited" | "psk" | "basicAuth"
    >,
    child: Deno.ChildProcess,
    stdin: WritableStreamDefaultWriter<Uint8Array>,
    status: () => Deno.CommandStatus | undefined,
  ) {
    this.host = fields.host;
    this.port = fields.port;
    this.target = `${fields.host}:${fields.port}`;
    this.auth = fields.auth;
    this.logPath = fields.logPath;
    this.startMs = fields.startMs;
    this.exited = fields.exited;
    this.#psk = fields.psk;
    this.#basicAuth = fields.basicAuth;
    this.#child = child;
    this.#stdin = stdin;
    this.#status = status;
  }

  get psk(): string {
    return this.#psk;
  }

  get basicAuth(): string | undefined {
    return this.#basicAuth;
  }

  logTail(lines = 40): Promise<string> {
    return tailFile(this.logPath, lines);
  }

  kill(signal: Deno.Signal = "SIGKILL"): void {
    if (this.#status()) return;
    try {
      this.#child.kill(signal);
    } catch {
      // already gone
    }
  }

  stop(): Promise<void> {
    this.#stopping ??= (async () => {
      await this.#stdin.close().catch(() => {});
      let timer: ReturnType<typeof setTimeout> | undefined;
      const killed = await Promise.race([
        this.exited.then(() => false),
        new Promise<boolean>((r) => (timer = setTimeout(() => r(true), 10_000))),
      ]);
      clearTimeout(timer);
      if (killed) {
        this.kill("SIGKILL");
        await this.exited;
      }
    })();
    return this.#stopping;
  }

  [Symbol.asyncDispose](): Promise<void> {
    return this.stop();
  }

  [Symbol.for("Deno.customInspect")](): string {
    const basic = this.#basicAuth === undefined ? "" : ", basic auth";
    return `EmbeddedServer { target: ${this.target}, auth: ${this.auth}${basic}, logPath: ${this.logPath} }`;
  }
}

/** Refuses options of the wrong kind before anything is started. */
function checkServerOptions(options: ServerOptions): void {
  const o = checkOptions(options, "startServer()");
  if (o.auth !== undefined && !["anonymous", "psk", "both"].includes(o.auth)) {
    throw DeephavenError.invalid(`startServer() auth is "anonymous", "psk" or "both", got ${shown(o.auth)}`);
  }
  if (o.port !== undefined) checkInteger(o.port, "startServer() needs a port number", 1, 65535);
  if (o.startTimeoutMs !== undefined) checkInteger(o.startTimeoutMs, "startServer() needs startTimeoutMs", 1);
  checkStrings(o.jvmArgs, "startServer() needs jvmArgs as text");
  for (const k of ["psk", "script", "name", "logDir", "python", "basicAuth"] as const) {
    if (o[k] !== undefined) checkString(o[k], `startServer() needs ${k} as text`);
  }
  if (o.applications !== undefined && !Array.isArray(o.applications)) {
    throw DeephavenError.invalid(`startServer() needs applications as a list, got ${shown(o.applications)}`);
  }
}

/** Escapes a value for a Java properties file (one line; ASCII, other characters as `\uXXXX`). */
function propertyValue(v: string): string {
  return v.replace(/\\/g, "\\\\").replace(/^\s/, (c) => `\\${c}`).replace(
    /[^\x20-\x7e]/g,
    (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, "0")}`,
  );
}

/**
 * Writes each application as `<id>.app` (a Java properties file: type `script`, script type `python`) and
 * `<id>.py` into a new temporary folder, and returns the folder.
 */
async function writeApplications(apps: readonly ServerApplication[]): Promise<string> {
  const ids = new Set<string>();
  for (const app of apps) {
    if (typeof app?.id !== "string" || !/^[A-Za-z0-9][A-Za-z0-9._-]*$/.test(app.id)) {
      throw DeephavenError.invalid(
        `An application id must be letters, digits, '.', '_' or '-', got ${JSON.stringify(app?.id)}`,
      );
    }
    if (ids.has(app.id)) throw DeephavenError.invalid(`The application id '${app.id}' is given twice`);
    ids.add(app.id);
    if (typeof app.script !== "string") {
      throw DeephavenError.invalid(`The application '${app.id}' needs its Python source as \`script\``);
    }
    if (app.name !== undefined && (typeof app.name !== "string" || /[\r\n]/.test(app.name))) {
      throw DeephavenError.invalid(`The name of the application '${app.id}' must be one line of text`);
    }
  }
  const dir = await Deno.makeTempDir({ prefix: "dh-server-apps-" });
  for (const app of apps) {
    const properties = [
      "type=script",
      "scriptType=python",
      "enabled=true",
      `id=${app.id}`,
      `name=${propertyValue(app.name ?? app.id)}`,
      `file_0=${app.id}.py`,
    ];
    await Deno.writeTextFile(`${dir}/${app.id}.app`, properties.join("\n") + "\n");
    await Deno.writeTextFile(`${dir}/${app.id}.py`, app.script);
  }
  return dir;
}

async function startServerOnce(options: ServerOptions): Promise<EmbeddedServer> {
  const auth: ServerAuth = options.auth ?? "anonymous";
  const psk = options.psk ?? randomKey();
  const port = options.port ?? freePort();
  const host = "127.0.0.1";
  const target = `${host}:${port}`;
  const timeoutMs = options.startTimeoutMs ?? 120_000;
  const python = options.python ?? venvPython();
  const launcher = await launcherPath();

  const logDir = options.logDir ?? `${cacheDir()}/logs`;
  await Deno.mkdir(logDir, { recursive: true });
  const logPath = `${logDir}/${options.name ?? "server"}-${port}-${timestamp()}.log`;
  const secrets: [string, string][] = [[psk, "<redacted-psk>"]];
  const basicAuth = options.basicAuth;
  if (basicAuth !== undefined) {
    const colon = basicAuth.indexOf(":");
    if (colon <= 0 || colon === basicAuth.length - 1) {
      throw DeephavenError.invalid("basicAuth needs the form 'user:password' with a user and a password");
    }
    secrets.push([basicAuth, "<redacted-basic>"], [btoa(basicAuth), "<redacted-basic>"]);
    secrets.push([basicAuth.slice(colon + 1), "<redacted-password>"]);
  }
  const redact = (line: string) =>
    secrets.reduce((l, [secret, mark]) => (secret.length > 0 ? l.split(secret).join(mark) : l), line);
  const write = (line: string) => Deno.writeTextFileSync(logPath, redact(line) + "\n", { append: true });

  const args = [launcher, "--host", host, "--port", String(port), "--auth", auth];
  for (const a of withDefaults(options.jvmArgs ?? [])) args.push(`--jvm-arg=${a}`);
  let scriptPath: string | undefined;
  if (options.script !== undefined) {
    scriptPath = await Deno.makeTempFile({ prefix: "dh-server-script-", suffix: ".py" });
    await Deno.writeTextFile(scriptPath, options.script);
    args.push("--script", scriptPath);
  }
  const env: Record<string, string> = { DH_PSK: psk, PYTHONUNBUFFERED: "1", PYTHONDONTWRITEBYTECODE: "1" };
  const jh = javaHome();
  if (jh) env.JAVA_HOME = jh;
  if (basicAuth !== undefined) {
    args.push("--handler", BASIC_AUTH_HANDLER, "--classpath", await basicAuthClasses(python, jh, cacheDir()));
    env[BASIC_AUTH_ENV] = basicAuth;
  }
  const appDir = options.applications ? await writeApplications(options.applications) : undefined;
  if (appDir) args.push(`--jvm-arg=-Ddeephaven.application.dir=${appDir}`);
  write(`# startServer: ${python} ${args.join(" ")}`);

  installUnloadHook();
  const started = performance.now();
  let child: Deno.ChildProcess;
  try {
    child = new Deno.Command(python, {
      args,
      env,
      cwd: logDir,
      stdin: "piped",
      stdout: "piped",
      stderr: "piped",
    }).spawn();
  } catch (e) {
    throw new DeephavenError(
      `Cannot run ${python} to start a Deephaven server (${e instanceof Error ? e.message : e}); ` +
        `run scripts/setup.sh or pass a Python that has deephaven-server`,
      { code: GrpcCode.FAILED_PRECONDITION, cause: e },
    );
  }
  running.add(child);
  const stdin = child.stdin.getWriter();

  let readyResolve!: () => void;
  const readySeen = new Promise<void>((r) => (readyResolve = r));
  const pumps = Promise.all([
    pump(child.stdout, write, (line) => {
      if (/^READY \d+$/.test(line.trim())) readyResolve();
    }),
    pump(child.stderr, write),
  ]);
  let exitStatus: Deno.CommandStatus | undefined;
  const exited = child.status.then(async (status) => {
    exitStatus = status;
    running.delete(child);
    await pumps;
    if (scriptPath) await Deno.remove(scriptPath).catch(() => {});
    if (appDir) await Deno.remove(appDir, { recursive: true }).catch(() => {});
    return status;
  });

  const fail = async (what: string, code: number): Promise<never> => {
    try {
      child.kill("SIGKILL");
    } catch {
      // already gone
    }
    await exited;
    const tail = await tailFile(logPath, 40);
    throw new DeephavenError(
      `The embedded Deephaven server on ${target} ${what}; see ${logPath}. Last log lines:\n${tail}`,
      { code },
    );
  };

  // Phase 1: the launcher prints READY after start() and the script; phase 2: the gRPC probe answers.
  const deadline = Date.now() + timeoutMs;
  let timer: ReturnType<typeof setTimeout> | undefined;
  const outcome = await Promise.race([
    readySeen.then(() => "ready" as const),
    exited.then(() => "exited" as const),
    new Promise<"timeout">((r) => (timer = setTimeout(() => r("timeout"), timeoutMs))),
  ]);
  clearTimeout(timer);
  if (outcome === "exited") {
    return await fail(`exited with code ${exitStatus?.code} before it was ready`, GrpcCode.UNAVAILABLE);
  }
  if (outcome === "timeout") {
    // Python's stacks into the log before it is killed (the launcher's faulthandler answers SIGUSR1).
    try {
      child.kill("SIGUSR1");
      await Promise.race([exited, new Promise((r) => setTimeout(r, 2000))]);
    } catch {
      // already gone
    }
    return await fail(`did not print READY within ${timeoutMs} ms`, GrpcCode.DEADLINE_EXCEEDED);
  }
  let lastError = "";
  while (true) {
    if (exitStatus) {
      return await fail(`exited with code ${exitStatus.code} before it answered`, GrpcCode.UNAVAILABLE);
    }
    const left = deadline - Date.now();
    if (left <= 0) {
      return await fail(
        `did not answer GetAuthenticationConstants within ${timeoutMs} ms (last error: ${lastError})`,
        GrpcCode.DEADLINE_EXCEEDED,
      );
    }
    try {
      await probe(host, port, Math.min(5000, left));
      break;
    } catch (e) {
      lastError = e instanceof Error ? e.message : String(e);
    }
    await new Promise((r) => setTimeout(r, 250));
  }
  const startMs = Math.round(performance.now() - started);
  write(`# startServer: answered after ${startMs} ms`);
  return new RunningServer(
    { host, port, auth, psk, basicAuth, logPath, startMs, exited },
    child,
    stdin,
    () => exitStatus,
  );
}
