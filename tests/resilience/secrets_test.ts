/**
 * Secrets never reach anything the module prints. With a pre-shared key (the server's), the server's Basic
 * credentials (`user:password`, which log in) and other Basic credentials (which the server refuses), this
 * collects: error messages and `Deno.inspect` of
 * failed logins and failed calls (with their `cause` chains), `Deno.inspect` and `String` of Session,
 * BarrageSession, TableRef, LiveTable and DeephavenError objects, the notebook display bundles (`tableBundle`
 * and every `Symbol.for("Jupyter.display")` method), everything written to the console meanwhile, the
 * CLI's stdout and stderr (token in DH_AUTH_TOKEN), grpc-js's own trace output (GRPC_TRACE=all), and the
 * server's log. None of it may contain the key, either password, either `user:password` token, their base64
 * forms, or a session's Bearer token.
 */

import assert from "node:assert/strict";
import {
  barrageSession,
  DeephavenError,
  type LocalTable,
  PSK_AUTH,
  Session,
  SharedTicket,
} from "../../mod.ts";
import { tableBundle } from "../../src/display/mod.ts";
import { sessionCoreOf } from "../../src/session/session.ts";
import { PROJECT_ROOT } from "../../testing/server.ts";
import { resilienceServer } from "./_util.ts";

const $display = Symbol.for("Jupyter.display");

/** Texts to search, each with where it came from. */
class Capture {
  readonly texts: [string, string][] = [];

  add(where: string, text: string): void {
    this.texts.push([where, text]);
  }

  /** `String`, `Deno.inspect` (deep, hidden properties too) and, for errors, the stack and cause chain. */
  object(where: string, x: unknown): void {
    this.add(`${where} String`, String(x));
    this.add(`${where} inspect`, Deno.inspect(x, { depth: 20, showHidden: true, iterableLimit: 1000 }));
    let e: unknown = x;
    for (let depth = 0; e instanceof Error && depth < 10; depth++, e = e.cause) {
      this.add(`${where} cause ${depth} message`, e.message);
      this.add(`${where} cause ${depth} stack`, e.stack ?? "");
      if (e instanceof DeephavenError) this.add(`${where} cause ${depth} details`, e.details ?? "");
    }
    try {
      this.add(`${where} JSON`, JSON.stringify(x) ?? "");
    } catch {
      // not serializable
    }
  }

  /** A MIME bundle's every value. */
  bundle(where: string, b: unknown): void {
    this.add(where, JSON.stringify(b));
  }

  /** Awaits `p` and records the error it rejects with (or fails when it resolves). */
  async failure(where: string, p: Promise<unknown> | (() => Promise<unknown>)): Promise<DeephavenError> {
    try {
      await (typeof p === "function" ? p() : p);
    } catch (e) {
      this.object(where, e);
      assert.ok(e instanceof DeephavenError, `${where}: a DeephavenError`);
      return e;
    }
    assert.fail(`${where} should have failed`);
  }

  /** Asserts that no text holds any of the secrets. */
  assertClean(secrets: Record<string, string>): void {
    const leaks: string[] = [];
    for (const [where, text] of this.texts) {
      for (const [name, secret] of Object.entries(secrets)) {
        if (secret.length >= 4 && text.includes(secret)) leaks.push(`${where} contains the ${name}`);
      }
    }
    assert.deepEqual(leaks, [], "no secret in anything the module prints");
  }
}

function b64(s: string): string {
  return btoa(s);
}

/** Records everything written through `console` while `fn` runs. */
async function capturingConsole<T>(capture: Capture, fn: () => Promise<T>): Promise<T> {
  const methods = ["log", "error", "warn", "info", "debug"] as const;
  const saved = methods.map((m) => console[m]);
  for (const m of methods) {
    console[m] = (...args: unknown[]) =>
      capture.add(`console.${m}`, args.map((a) => Deno.inspect(a)).join(" "));
  }
  try {
    return await fn();
  } finally {
    methods.forEach((m, i) => (console[m] = saved[i]));
  }
}

async function runCli(args: string[], env: Record<string, string>): Promise<{ code: number; out: string }> {
  const r = await new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", `${PROJECT_ROOT}/src/cli/main.ts`, ...args],
    env: { NO_COLOR: "1", DENO_TLS_CA_STORE: "system", ...env },
    cwd: PROJECT_ROOT,
    stdout: "piped",
    stderr: "piped",
    signal: AbortSignal.timeout(60_000), // a CLI run that hangs is killed (and then fails its assertions)
  }).output();
  const d = new TextDecoder();
  return { code: r.code, out: `${d.decode(r.stdout)}\n${d.decode(r.stderr)}` };
}

Deno.test({
  name:
    "secrets: no key, password or token in errors, inspect output, display bundles, console or CLI output",
  sanitizeOps: false,
  sanitizeResources: false,
  async fn() {
    const server = await resilienceServer();
    const { host, port, psk } = server;
    const goodBasic = server.basicAuth!;
    const goodPassword = goodBasic.slice(goodBasic.indexOf(":") + 1);
    const password = `pw-${crypto.randomUUID()}`;
    const basic = `alice:${password}`;
    const wrongPsk = `wrong-${crypto.randomUUID()}`;
    const capture = new Capture();
    const bearers = new Set<string>();
    const noteBearer = (s: Session) => {
      const h = sessionCoreOf(s).auth.header();
      const m = h.match(/^Bearer (.+)$/);
      if (m) bearers.add(m[1]);
    };

    await capturingConsole(capture, async () => {
      // Failed logins.
      await capture.failure(
        "login with a wrong key",
        Session.connect({ host, port, authType: PSK_AUTH, authToken: wrongPsk, reconnect: false }),
      );
      await capture.failure(
        "login with Basic credentials the server refuses",
        Session.connect({ host, port, authType: "Basic", authToken: basic, reconnect: false }),
      );
      await capture.failure(
        "barrageSession with Basic credentials",
        barrageSession({ host, port, authType: "Basic", authToken: basic }),
      );

      // Basic credentials that log in, and what their sessions show.
      const basicSession = await Session.connect({ host, port, authType: "Basic", authToken: goodBasic });
      const basicBs = await barrageSession({ host, port, authType: "Basic", authToken: goodBasic });
      try {
        noteBearer(basicSession);
        capture.object("Basic Session", basicSession);
        capture.object("Basic BarrageSession", basicBs);
        const basicRef = basicSession.emptyTable(3).update("X = i");
        capture.object("Basic TableRef", await basicRef.ready());
        const basicLive = await basicBs.subscribe(basicRef);
        capture.object("Basic LiveTable", basicLive);
        basicLive.close();
        await capture.failure(
          "a failed op of a Basic session",
          basicSession.emptyTable(1).update("Y = nope(").ready(),
        );
      } finally {
        await basicBs.close();
        await basicSession.close();
      }

      // A session with the key, and what it shows.
      const session = await Session.connect({ host, port, authType: PSK_AUTH, authToken: psk });
      const bs = await barrageSession({ host, port, authType: PSK_AUTH, authToken: psk });
      try {
        noteBearer(session);
        noteBearer(bs.session);
        capture.object("Session", session);
        capture.object("BarrageSession", bs);
        capture.object("session.serverConfig", session.serverConfig);
        capture.bundle("Session display", (session as unknown as Record<symbol, () => unknown>)[$display]());
        capture.bundle(
          "BarrageSession display",
          (bs as unknown as Record<symbol, () => unknown>)[$display](),
        );

        const ref = session.emptyTable(5).update(["X = i", "S = `s` + i"]);
        await ref.ready();
        capture.object("TableRef", ref);
        capture.bundle(
          "TableRef display",
          await (ref as unknown as Record<symbol, () => Promise<unknown>>)[$display](),
        );
        const ticket = SharedTicket.randomTicket();
        await session.publishTable(ticket, ref);
        capture.object("SharedTicket", ticket);

        const live = await bs.subscribe(ticket.bytes);
        capture.object("LiveTable", live);
        capture.bundle("tableBundle(live)", tableBundle(live));
        const view: LocalTable = live.where("X > 1");
        capture.object("derived LocalTable", view);
        capture.bundle("tableBundle(view)", tableBundle(view));
        capture.bundle(
          "snapshot display",
          await (await bs.snapshot(ticket.bytes) as unknown as Record<symbol, () => Promise<unknown>>)
            [$display](),
        );

        // Failed calls of a logged-in session.
        await capture.failure(
          "openTable of a missing table",
          session.openTable("no_such_table_here").toArrow(),
        );
        await capture.failure(
          "a formula that does not compile",
          session.emptyTable(1).update(["Y = nope("]).ready(),
        );
        await capture.failure(
          "subscribing to an unknown ticket",
          bs.subscribe(SharedTicket.randomTicket().bytes),
        );
        await capture.failure("a failing script", session.runScript("raise ValueError('boom')"));
        await capture.failure(
          "a closed handle",
          (async () => {
            await ref.close();
            await ref.toArrow();
          })(),
        );
        noteBearer(session);
        live.close();
        await session.close();
        await capture.failure("a call on a closed session", session.emptyTable(1).toArrow());
        capture.object("closed Session", session);
      } finally {
        await bs.close();
      }
    });

    // The CLI, with the token in the environment.
    const cli = [
      await runCli(["tables", "--host", host, "--port", String(port), "--auth-type", PSK_AUTH], {
        DH_AUTH_TOKEN: psk,
      }),
      await runCli(
        [
          "subscribe",
          "--table",
          "ticking",
          "--updates",
          "1",
          "--host",
          host,
          "--port",
          String(port),
          "--auth-type",
          PSK_AUTH,
        ],
        { DH_AUTH_TOKEN: psk },
      ),
      await runCli(["tables", "--host", host, "--port", String(port), "--auth-type", PSK_AUTH], {
        DH_AUTH_TOKEN: wrongPsk,
      }),
      await runCli(["tables", "--host", host, "--port", String(port), "--auth-type", "Basic"], {
        DH_AUTH_TOKEN: basic,
      }),
      await runCli(["tables", "--host", host, "--port", String(port), "--auth-type", "Basic"], {
        DH_AUTH_TOKEN: goodBasic,
      }),
      // grpc-js's own trace output, which includes response headers.
      await runCli(["tables", "--host", host, "--port", String(port), "--auth-type", PSK_AUTH], {
        DH_AUTH_TOKEN: psk,
        GRPC_TRACE: "all",
        GRPC_VERBOSITY: "DEBUG",
      }),
    ];
    assert.equal(cli[0].code, 0, `the CLI lists tables with the key: ${cli[0].out}`);
    assert.match(cli[0].out, /static100/);
    assert.equal(cli[1].code, 0, `the CLI subscribes with the key: ${cli[1].out}`);
    assert.notEqual(cli[2].code, 0, "a wrong key fails");
    assert.match(cli[2].out, /UNAUTHENTICATED|credentials/i);
    assert.notEqual(cli[3].code, 0, "refused Basic credentials fail");
    assert.equal(cli[4].code, 0, `the CLI lists tables with the server's Basic credentials: ${cli[4].out}`);
    assert.match(cli[4].out, /static100/);
    assert.equal(cli[5].code, 0);
    assert.match(cli[5].out, /authorization: Bearer \*\*\*/, "traces show response headers, redacted");
    cli.forEach((r, i) => capture.add(`CLI run ${i}`, r.out));
    for (const m of cli[5].out.matchAll(/Bearer ([0-9a-f-]{36})/g)) bearers.add(m[1]);
    capture.add("server log", await Deno.readTextFile(server.logPath));

    assert.ok(bearers.size >= 2, "the sessions' Bearer tokens were seen (and are checked too)");
    assert.ok(capture.texts.length > 50, `a broad capture (${capture.texts.length} texts)`);
    const secrets: Record<string, string> = {
      "pre-shared key": psk,
      "pre-shared key in base64": b64(psk),
      "wrong key": wrongPsk,
      password,
      "password in base64": b64(password),
      "Basic token": basic,
      "Basic token in base64": b64(basic),
      "server's Basic password": goodPassword,
      "server's Basic password in base64": b64(goodPassword),
      "server's Basic token": goodBasic,
      "server's Basic token in base64": b64(goodBasic),
    };
    [...bearers].forEach((b, i) => (secrets[`Bearer token ${i}`] = b));
    capture.assertClean(secrets);
  },
});
