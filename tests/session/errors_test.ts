/**
 * Failures reach the caller as DeephavenErrors that name the cause, within a deadline, and never carry
 * the pre-shared key. Bad input anywhere in the API (a sample across sessions, handles, Barrage, local tables,
 * exports, display and URIs) is a DeephavenError `INVALID_ARGUMENT`, refused before anything is sent, and
 * loses nothing.
 *
 * @module
 */

import assert from "node:assert/strict";
import {
  agg,
  barrageSession,
  DeephavenError,
  GrpcCode,
  localTableFromArrow,
  parseUri,
  PSK_AUTH,
  Session,
  SharedTicket,
  type TableRef,
} from "../../mod.ts";
import { toArrowIPC, toCSV, writeTable } from "../../src/export/mod.ts";
import { formatText } from "../../src/display/mod.ts";
import { plot } from "../../src/plot/mod.ts";
import { sessionCoreOf } from "../../src/session/session.ts";
import { freePort, serverTest } from "../../testing/server.ts";
import { connectPsk, rejectsWithin, uniqueName } from "./util.ts";

/** Every error seen in this file, to check at the end that none carries the key. */
const seen: DeephavenError[] = [];

function keep(e: DeephavenError): DeephavenError {
  seen.push(e);
  return e;
}

serverTest("a wrong PSK: UNAUTHENTICATED, names the server, never the key", {}, async (server) => {
  const wrong = `not-the-key-${crypto.randomUUID()}`;
  keep(
    await rejectsWithin(
      Session.connect({ host: server.host, port: server.port, authType: PSK_AUTH, authToken: wrong }),
      "Logging in with a wrong PSK",
      {
        code: GrpcCode.UNAUTHENTICATED,
        message: [new RegExp(`^Logging in at ${server.target.replaceAll(".", "\\.")} failed`), /credentials/],
        notIn: [wrong, server.psk],
      },
    ),
  );
});

serverTest("an unknown scope name: NOT_FOUND, and the message names the table", {}, async (server) => {
  const session = await connectPsk(server);
  try {
    const name = uniqueName("no_such_table");
    const ref = session.openTable(name);
    keep(
      await rejectsWithin(ref.ready(), "openTable of an unknown name", {
        code: GrpcCode.NOT_FOUND,
        message: [new RegExp(name)],
        notIn: [server.psk],
      }),
    );
    // Ops derived from the failed handle report the same cause.
    keep(
      await rejectsWithin(ref.update("X = 1").toArrow(), "an op on an unknown table", {
        code: GrpcCode.NOT_FOUND,
        message: [new RegExp(name)],
      }),
    );
    assert.equal(session.isAlive, true, "a failed op does not break the session");
  } finally {
    await session.close();
  }
});

serverTest("a bad formula: the message names the operation and the formula", {}, async (server) => {
  const session = await connectPsk(server);
  try {
    const err = keep(
      await rejectsWithin(
        session.emptyTable(3).update("X = no_such_var").ready(),
        "update with a bad formula",
        {
          message: [
            /update\(\["X = no_such_var"\]\)/,
            /no_such_var/,
            /^Table operation emptyTable\(3\)\.update/,
          ],
          notIn: [server.psk],
        },
      ),
    );
    assert.ok(
      err.code !== GrpcCode.OK && err.code !== GrpcCode.UNKNOWN,
      `a specific code, got ${err.codeName}`,
    );
    // A later op on the failed table fails with the root cause, not just "dependency failed".
    keep(
      await rejectsWithin(
        session.emptyTable(3).update("X = no_such_var").where("X > 1").toArrow(),
        "an op downstream of a bad formula",
        { message: [/no_such_var/] },
      ),
    );
    const ok = await session.emptyTable(2).update("X = i").toArrow();
    assert.equal(ok.numRows, 2, "the session still works");
  } finally {
    await session.close();
  }
});

serverTest("a released ticket: fetchTable(...).ready() and snapshot(...) fail", {}, async (server) => {
  const session = await connectPsk(server);
  const reader = await connectPsk(server);
  try {
    const ref = session.emptyTable(4).update("X = i");
    const ticket = SharedTicket.randomTicket();
    await session.publishTable(ticket, ref);
    assert.equal((await reader.toArrow(ticket)).numRows, 4, "published and readable");
    await ref.close();
    assert.equal(ref.closed, true);

    const gone = { code: [GrpcCode.NOT_FOUND, GrpcCode.FAILED_PRECONDITION], notIn: [server.psk] };
    keep(await rejectsWithin(reader.fetchTable(ticket).ready(), "fetchTable of a released ticket", gone));
    keep(await rejectsWithin(reader.toArrow(ticket), "snapshot of a released ticket", gone));
    keep(
      await rejectsWithin(session.toArrow(ticket), "the publisher's snapshot of a released ticket", gone),
    );
    keep(
      await rejectsWithin(ref.toArrow(), "toArrow of a closed handle", {
        code: GrpcCode.FAILED_PRECONDITION,
        message: [/the table was closed/],
      }),
    );
    keep(
      await rejectsWithin(ref.where("X > 1").ready(), "an op on a closed handle", {
        code: GrpcCode.FAILED_PRECONDITION,
        message: [/its source was closed/],
      }),
    );
    assert.equal(session.isAlive && reader.isAlive, true);
  } finally {
    await session.close();
    await reader.close();
  }
});

serverTest("a failing script: INVALID_ARGUMENT with the server's Python error", {}, async (server) => {
  const session = await connectPsk(server);
  try {
    keep(
      await rejectsWithin(
        session.runScript("raise ValueError('boom from the test')"),
        "a script that raises",
        {
          code: GrpcCode.INVALID_ARGUMENT,
          message: [/^Running a script failed/, /ValueError: boom from the test/],
          notIn: [server.psk],
        },
      ),
    );
    await session.runScript("ok_after_error = 1"); // the console still works
  } finally {
    await session.close();
  }
});

serverTest("an unreachable host: UNAVAILABLE, and the message says to check the server", {}, async () => {
  const port = freePort(); // nothing listens there once freePort() returns
  const started = Date.now();
  const err = keep(
    await rejectsWithin(
      Session.connect({ host: "127.0.0.1", port, connectTimeoutMs: 15_000 }),
      "connecting to a closed port",
      {
        code: GrpcCode.UNAVAILABLE,
        message: [new RegExp(`127\\.0\\.0\\.1:${port}`), /check that the server is running and reachable/],
      },
    ),
  );
  assert.ok(Date.now() - started < 15_000, `a refused connection fails fast (${Date.now() - started} ms)`);
  assert.match(err.message, /^Logging in/);
  assert.ok(
    !err.message.includes(`failed at 127.0.0.1:${port}`),
    `the address is not repeated: ${err.message}`,
  );
});

serverTest("ops on a closed session reject with a DeephavenError", {}, async (server) => {
  const session = await connectPsk(server);
  const ref = session.emptyTable(3).update("X = i");
  await ref.ready();
  await session.close();
  const closed = {
    code: GrpcCode.FAILED_PRECONDITION,
    message: [/the session is closed; connect a new session/],
  };
  keep(await rejectsWithin(session.emptyTable(1).ready(), "emptyTable on a closed session", closed));
  keep(await rejectsWithin(ref.toArrow(), "toArrow on a closed session", closed));
  keep(await rejectsWithin(ref.sort("X").ready(), "sort on a closed session", closed));
  keep(await rejectsWithin(session.runScript("x = 1"), "runScript on a closed session", closed));
  keep(await rejectsWithin(session.tables(), "tables() on a closed session", closed));
  keep(await rejectsWithin(session.toArrow(ref.ticket), "snapshot on a closed session", closed));
  keep(await rejectsWithin(session.bindTable("x", ref), "bindTable on a closed session", closed));
});

serverTest("no error message and no inspected session contains the PSK", {}, async (server) => {
  assert.ok(seen.length >= 10, `the tests above collected errors (${seen.length})`);
  for (const e of seen) {
    assert.ok(!e.message.includes(server.psk), `no key in: ${e.message}`);
    assert.ok(!Deno.inspect(e, { depth: 10 }).includes(server.psk), "no key in the inspected error");
    assert.ok(!String(e.details ?? "").includes(server.psk));
  }
  const session = await connectPsk(server);
  try {
    await session.emptyTable(1).toArrow(); // a Bearer token has been received
    for (
      const text of [Deno.inspect(session, { depth: 10 }), String(session), JSON.stringify(session) ?? ""]
    ) {
      assert.ok(!text.includes(server.psk), "no key when inspecting a session");
    }
  } finally {
    await session.close();
  }
});

serverTest(
  "bad input across the API: INVALID_ARGUMENT before anything is sent, and nothing is lost",
  {},
  async (server) => {
    const session = await connectPsk(server);
    const bs = await barrageSession({
      host: server.host,
      port: server.port,
      authType: PSK_AUTH,
      authToken: server.psk,
    });
    try {
      const t: TableRef = session.emptyTable(4).update(["X = i", "S = `s` + i"]);
      const local = await bs.snapshot(t);
      const before = { rows: local.toObjects(), held: sessionCoreOf(session).heldExports() };
      // deno-lint-ignore no-explicit-any
      const bad = (x: unknown) => x as any; // what a JavaScript caller (or a notebook) might pass
      const cases: [string, () => unknown][] = [
        ["Session.connect without options object", () => Session.connect(bad(null))],
        ["Session.connect with a port that is not a number", () => Session.connect({ port: bad("10000") })],
        [
          "Session.connect with a header gRPC cannot send",
          () => Session.connect({ extraHeaders: { "a b": "x" } }),
        ],
        [
          "Session.connect with a Basic token that is not text",
          () => Session.connect({ authType: "Basic", authToken: bad(5) }),
        ],
        ["emptyTable(-1)", () => session.emptyTable(-1)],
        ["timeTable(1.5 ns)", () => session.timeTable(1.5)],
        [
          "timeTable with an invalid start Date",
          () => session.timeTable({ period: "PT1s", startTime: new Date(NaN) }),
        ],
        ["openTable(5)", () => session.openTable(bad(5))],
        ["fetchTable(a string)", () => session.fetchTable(bad("not a ticket"))],
        ["mergeTables with a non-table", () => session.mergeTables([t, bad({})])],
        ["importTable(null)", () => session.importTable(bad(null))],
        ["publishTable(null, t)", () => session.publishTable(bad(null), t)],
        ["runScript(5)", () => session.runScript(bad(5))],
        ["onFieldsChange(null)", () => session.onFieldsChange(bad(null))],
        ["update(5)", () => t.update(bad(5))],
        ["where(null)", () => t.where(bad(null))],
        ["sort with an unknown direction", () => t.sort("X", bad("UP"))],
        ["head(1.5)", () => t.head(1.5)],
        ["slice(0.5, 2)", () => t.slice(0.5, 2)],
        ["naturalJoin(null)", () => t.naturalJoin(bad(null), "X")],
        ["naturalJoin with an unknown type", () => t.naturalJoin(t, "X", [], bad("SOME"))],
        ["aggBy([null])", () => t.aggBy([bad(null)])],
        ["agg.pct(2)", () => agg.pct(2, "X")],
        ["agg.sum(5)", () => agg.sum(bad(5))],
        ["toArrow(a string as signal)", () => t.toArrow(bad("x"))],
        ["SharedTicket.fromHex(5)", () => SharedTicket.fromHex(bad(5))],
        ["subscribe(null)", () => bs.subscribe(bad(null))],
        ["subscribe with columns that are not names", () => bs.subscribe(t, { columns: bad(5) })],
        ["subscribe with a negative interval", () => bs.subscribe(t, { minUpdateIntervalMs: -1 })],
        ["snapshot with a backwards viewport", () => bs.snapshot(t, { viewport: { first: 3, last: 1 } })],
        ["local where(5)", () => local.where(bad(5))],
        ["local update(null)", () => local.update(bad(null))],
        ["local onUpdate(5)", () => local.onUpdate(bad(5))],
        ["local get of a missing column", () => local.get(0, "Nope")],
        ["localTableFromArrow({})", () => localTableFromArrow(bad({}))],
        ["toCSV(null)", () => toCSV(bad(null))],
        ["toArrowIPC with an unknown format", () => toArrowIPC(local, bad("zip"))],
        ["writeTable to an unknown extension", () => writeTable(local, "out.xlsx")],
        ["formatText(null)", () => formatText(bad(null))],
        ["plot of a missing column", () => plot(local, { x: "Nope", y: "X" })],
        ["parseUri(5)", () => parseUri(bad(5))],
        ["parseUri with a malformed escape", () => parseUri("dh+plain://h:1/scope/%E0")],
      ];
      const wrong: string[] = [];
      for (const [what, f] of cases) {
        let error: unknown;
        try {
          await f();
        } catch (e) {
          error = e;
        }
        if (!(error instanceof DeephavenError) || error.code !== GrpcCode.INVALID_ARGUMENT) {
          wrong.push(`${what}: ${error === undefined ? "no error" : Deno.inspect(error).split("\n")[0]}`);
        } else if (
          error.cause !== undefined || error.message.length < 20 ||
          /cannot read propert|is not (a function|iterable)|cannot be converted|malformed/i.test(
            error.message,
          )
        ) {
          wrong.push(`${what}: a runtime error passed on, not a message of ours: ${error.message}`);
        }
      }
      assert.deepEqual(wrong, [], "each bad input is a DeephavenError INVALID_ARGUMENT with a message");

      // Nothing was sent and nothing was lost.
      assert.deepEqual(sessionCoreOf(session).heldExports(), before.held, "no export was made for bad input");
      assert.deepEqual(local.toObjects(), before.rows, "the local table is unchanged");
      assert.equal(session.state, "connected");
      assert.deepEqual([...(await t.toArrow()).getChild("X")!], [0, 1, 2, 3], "the handle still works");
    } finally {
      await bs.close();
      await session.close();
    }
  },
);
