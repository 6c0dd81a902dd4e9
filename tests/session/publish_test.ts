/**
 * Shared tickets across clients: a table published by pydeephaven is fetched here, a table published here
 * is fetched by pydeephaven, and a shared ticket stops resolving once its publisher's session closes.
 *
 * @module
 */

import assert from "node:assert/strict";
import { type Table, tableFromIPC } from "apache-arrow";
import { GrpcCode, type Session, SharedTicket } from "../../mod.ts";
import { type DhServer, PROJECT_ROOT, serverTest, venvPython } from "../../testing/server.ts";
import { pythonArrowMany, serverEnv } from "../../testing/python.ts";
import { assertArrowEqual } from "../../testing/compare.ts";
import { connectPsk, eventually, rejectsWithin } from "./util.ts";

/** Columns of every type the tests care about, with nulls. */
const FORMULAS = [
  "Sym = i % 3 == 0 ? `A` : i % 3 == 1 ? `B` : `C`",
  "X = i",
  "L = (long) i * 1000000007L",
  "Y = i * 1.5",
  "N = i % 5 == 0 ? NULL_INT : i",
  "S = i % 7 == 0 ? null : `s` + i",
  "B = i % 2 == 0",
  "T = '2024-01-01T00:00:00 ET' + i * SECOND + i",
];
const ROWS = 50;

function pyList(items: string[]): string {
  return `[${items.map((s) => JSON.stringify(s)).join(", ")}]`;
}

/** A Python process with piped stdin and stdout, read line by line with deadlines. */
class PythonPeer {
  readonly #child: Deno.ChildProcess;
  readonly #stdin: WritableStreamDefaultWriter<Uint8Array>;
  readonly #lines: string[] = [];
  #wake: (() => void) | undefined;
  #ended = false;
  #stderr = "";
  readonly #done: Promise<unknown>;

  constructor(scriptPath: string, env: Record<string, string>) {
    this.#child = new Deno.Command(venvPython(), {
      args: [scriptPath],
      env: {
        PYTHONUNBUFFERED: "1",
        PYTHONDONTWRITEBYTECODE: "1",
        PYTHONPATH: `${PROJECT_ROOT}/testing`,
        ...env,
      },
      cwd: PROJECT_ROOT,
      stdin: "piped",
      stdout: "piped",
      stderr: "piped",
    }).spawn();
    this.#stdin = this.#child.stdin.getWriter();
    this.#done = Promise.all([this.#readStdout(), this.#readStderr()]);
  }

  async #readStdout(): Promise<void> {
    let partial = "";
    for await (const chunk of this.#child.stdout.pipeThrough(new TextDecoderStream())) {
      partial += chunk;
      let nl: number;
      while ((nl = partial.indexOf("\n")) >= 0) {
        this.#lines.push(partial.slice(0, nl));
        partial = partial.slice(nl + 1);
      }
      this.#notify();
    }
    if (partial) this.#lines.push(partial);
    this.#ended = true;
    this.#notify();
  }

  async #readStderr(): Promise<void> {
    for await (const chunk of this.#child.stderr.pipeThrough(new TextDecoderStream())) this.#stderr += chunk;
  }

  #notify(): void {
    const w = this.#wake;
    this.#wake = undefined;
    w?.();
  }

  /** The next stdout line that starts with `prefix` (other lines are skipped), within `ms`. */
  async expectLine(prefix: string, ms = 60_000): Promise<string> {
    const end = Date.now() + ms;
    while (true) {
      const i = this.#lines.findIndex((l) => l.startsWith(prefix));
      if (i >= 0) return this.#lines.splice(0, i + 1)[i];
      const left = end - Date.now();
      if (this.#ended || left <= 0) {
        this.kill();
        await this.#done;
        assert.fail(
          `the Python peer ${this.#ended ? "ended" : `did not print '${prefix}' within ${ms} ms`}; ` +
            `stderr:\n${this.#stderr.split("\n").slice(-30).join("\n")}`,
        );
      }
      let timer: ReturnType<typeof setTimeout> | undefined;
      await new Promise<void>((r) => {
        this.#wake = r;
        timer = setTimeout(r, left);
      });
      clearTimeout(timer);
    }
  }

  /** Writes one line to the process's stdin. */
  async send(line: string): Promise<void> {
    await this.#stdin.write(new TextEncoder().encode(`${line}\n`));
  }

  /** Waits for a clean exit within `ms`. */
  async exit(ms = 30_000): Promise<void> {
    await this.#stdin.close().catch(() => {});
    let timer: ReturnType<typeof setTimeout> | undefined;
    const status = await Promise.race([
      this.#child.status,
      new Promise<"timeout">((r) => (timer = setTimeout(() => r("timeout"), ms))),
    ]);
    clearTimeout(timer);
    if (status === "timeout") this.kill();
    await this.#done;
    assert.ok(status !== "timeout", `the Python peer did not exit within ${ms} ms`);
    assert.equal(status.code, 0, `the Python peer failed; stderr:\n${this.#stderr}`);
  }

  kill(): void {
    try {
      this.#child.kill("SIGKILL");
    } catch {
      // already gone
    }
  }
}

const PUBLISHER = `
import os, sys
import pyarrow as pa
from dh_peer import psk_session
from pydeephaven.ticket import SharedTicket

session = psk_session()
table = session.empty_table(${ROWS}).update(${pyList(FORMULAS)})
ticket = SharedTicket.random_ticket()
session.publish_table(ticket, table)
data = table.to_arrow()
with pa.OSFile(os.environ["PEER_OUT"], "wb") as sink:
    with pa.ipc.new_stream(sink, data.schema) as writer:
        writer.write_table(data)
print("TICKET " + ticket.bytes.hex(), flush=True)
sys.stdin.readline()  # keep the session (and the published table) until Deno says so
session.close()
print("CLOSED", flush=True)
`;

/** Forces a JVM garbage collection on the server, so its weak map of shared tickets drops dead entries. */
async function serverGc(session: Session): Promise<void> {
  await session.runScript("import jpy\njpy.get_type('java.lang.System').gc()");
}

serverTest(
  "a table published by pydeephaven is fetched here; it stops resolving once pydeephaven closes",
  {},
  async (
    server: DhServer,
  ) => {
    const dir = await Deno.makeTempDir({ prefix: "dh-publish-" });
    const session = await connectPsk(server);
    await Deno.writeTextFile(`${dir}/publisher.py`, PUBLISHER);
    const publisher = new PythonPeer(`${dir}/publisher.py`, {
      ...serverEnv(server),
      PEER_OUT: `${dir}/expected.arrow`,
    });
    try {
      const line = await publisher.expectLine("TICKET ");
      const hex = line.slice("TICKET ".length).trim();
      assert.match(hex, /^68[0-9a-f]{32}$/, "pydeephaven's shared ticket is 'h' + 16 bytes");
      const expected: Table = tableFromIPC(await Deno.readFile(`${dir}/expected.arrow`));
      assert.equal(expected.numRows, ROWS);

      const bytes = Uint8Array.from(hex.match(/../g)!, (h) => parseInt(h, 16));
      const ticket = SharedTicket.fromBytes(bytes);
      assert.equal(ticket.hex, hex);

      const fetched = session.fetchTable(ticket);
      assertArrowEqual(await fetched.toArrow(), expected, "fetchTable(pydeephaven's ticket).toArrow()");
      assertArrowEqual(await session.toArrow(bytes), expected, "snapshot(ticket bytes)");
      assertArrowEqual(await session.toArrow(ticket), expected, "snapshot(SharedTicket)");
      assert.equal(await fetched.size(), ROWS);
      assert.equal(await fetched.isStatic(), true);
      const derived = await fetched.where("X < 10").view(["Sym", "X", "Y"]).sumBy("Sym").toArrow();
      assert.equal(derived.numRows, 3, "ops on a fetched table work");

      // The publisher closes its session; the ticket no longer resolves.
      await publisher.send("close");
      await publisher.expectLine("CLOSED");
      await publisher.exit();
      await rejectsWithin(session.toArrow(ticket), "snapshot after the publisher closed", {
        // Until the server's weak map of shared tickets drops the dead export, resolving it gives a
        // dependency failure; afterwards NOT_FOUND.
        code: [GrpcCode.FAILED_PRECONDITION, GrpcCode.NOT_FOUND],
        notIn: [server.psk],
      });
      let last = "";
      await eventually(async () => {
        await serverGc(session);
        try {
          await session.toArrow(ticket);
          last = "it resolved";
          return false;
        } catch (e) {
          last = (e as Error).message;
          return (e as { code?: number }).code === GrpcCode.NOT_FOUND;
        }
      }, () => `the ticket to fail with NOT_FOUND (last: ${last})`);
      await rejectsWithin(session.fetchTable(ticket).ready(), "fetchTable after the publisher closed", {
        code: GrpcCode.NOT_FOUND,
        message: [new RegExp(hex.slice(2)), /not found/],
      });
      // The earlier fetch made a copy in this session, so it survives its publisher.
      assertArrowEqual(await fetched.toArrow(), expected, "the fetched copy after the publisher closed");
    } finally {
      publisher.kill();
      await session.close();
      await Deno.remove(dir, { recursive: true }).catch(() => {});
    }
  },
);

serverTest("a table published here is fetched by pydeephaven", {}, async (server) => {
  const session = await connectPsk(server);
  try {
    const ref = session.emptyTable(ROWS).update(FORMULAS);
    const ticket = SharedTicket.randomTicket();
    await session.publishTable(ticket, ref);
    const mine = await ref.toArrow();

    const fromPython = await pythonArrowMany(
      `
import os
from dh_peer import psk_session
from pydeephaven.ticket import SharedTicket
with psk_session() as s:
    fetched = s.fetch_table(SharedTicket(bytes.fromhex(os.environ["TICKET_HEX"])))
    result = {
        "fetched": fetched.to_arrow(),
        "own": s.empty_table(${ROWS}).update(${pyList(FORMULAS)}).to_arrow(),
    }
`,
      { ...serverEnv(server), TICKET_HEX: ticket.hex },
    );
    assertArrowEqual(mine, fromPython.get("fetched")!, "pydeephaven fetch_table(our ticket).to_arrow()");
    assertArrowEqual(mine, fromPython.get("own")!, "our table vs pydeephaven building the same table");

    // Still published after pydeephaven closed its session: subscribers do not own the ticket.
    const other = await connectPsk(server);
    try {
      assertArrowEqual(
        await other.toArrow(ticket),
        mine,
        "another session's snapshot after pydeephaven left",
      );
    } finally {
      await other.close();
    }
  } finally {
    await session.close();
  }
});
