/**
 * Logging in to the real server: Anonymous, pre-shared key, a wrong key, and the session's lifecycle
 * (`isAlive`, `close()`, `await using`, calls after close).
 *
 * @module
 */

import assert from "node:assert/strict";
import { DeephavenError, GrpcCode, PSK_AUTH, Session, SharedTicket } from "../../mod.ts";
import { serverTest } from "../../testing/server.ts";
import { connectAnonymous, connectPsk, rejectsWithin } from "./util.ts";

async function xValues(session: Session, n: number): Promise<number[]> {
  const t = await session.emptyTable(n).update("X = i").toArrow();
  return Array.from(t.getChild("X")!.toArray() as Int32Array);
}

serverTest(
  "an anonymous session logs in, learns the server config and runs a table op",
  {},
  async (server) => {
    const session = await connectAnonymous(server);
    try {
      assert.equal(session.state, "connected");
      assert.equal(session.isAlive, true);
      assert.equal(session.host, server.host);
      assert.equal(session.port, server.port);
      assert.equal(session.useTls, false);
      assert.equal(session.sessionDurationMs, 10_000);
      assert.equal(session.serverConfig.get("http.session.durationMs"), "10000");
      assert.deepEqual(await xValues(session, 4), [0, 1, 2, 3]);
    } finally {
      await session.close();
    }
  },
);

serverTest("a PSK session logs in with the pre-shared key and runs a table op", {}, async (server) => {
  const session = await Session.connect({
    host: server.host,
    port: server.port,
    authType: PSK_AUTH,
    authToken: server.psk,
  });
  try {
    assert.equal(session.isAlive, true);
    assert.deepEqual(await xValues(session, 3), [0, 1, 2]);
    for (const text of [Deno.inspect(session), String(session), Deno.inspect({ session }, { depth: 10 })]) {
      assert.ok(!text.includes(server.psk), "inspecting a session never shows the key");
    }
    assert.equal(String(session), `Session(http://${server.target}, connected)`);
  } finally {
    await session.close();
  }
});

serverTest("a wrong PSK is refused with UNAUTHENTICATED and the key is not echoed", {}, async (server) => {
  const wrong = `wrong-${crypto.randomUUID()}`;
  const err = await rejectsWithin(
    Session.connect({ host: server.host, port: server.port, authType: PSK_AUTH, authToken: wrong }),
    "Logging in with a wrong PSK",
    {
      code: GrpcCode.UNAUTHENTICATED,
      message: [/^Logging in/, /check the auth type and credentials/],
      notIn: [wrong, server.psk],
    },
  );
  assert.equal(err.code, 16);
  assert.equal(err.codeName, "UNAUTHENTICATED");
  assert.ok(!String(err.details ?? "").includes(wrong));
});

serverTest("close() ends the session: isAlive turns false and later calls reject", {}, async (server) => {
  const session = await connectPsk(server);
  const before = session.emptyTable(2).update("X = i");
  await before.ready();
  const ticket = SharedTicket.randomTicket();
  await session.publishTable(ticket, before);
  assert.equal(session.isAlive, true);

  await session.close();
  assert.equal(session.isAlive, false);
  assert.equal(session.state, "closed");
  await session.close(); // a second close is harmless

  const closed = { code: GrpcCode.FAILED_PRECONDITION, message: [/the session is closed/] };
  await rejectsWithin(session.emptyTable(1).ready(), "emptyTable after close", closed);
  await rejectsWithin(before.toArrow(), "toArrow of an earlier table after close", closed);
  await rejectsWithin(before.size(), "size of an earlier table after close", closed);
  await rejectsWithin(before.update("Y = 1").ready(), "an op on an earlier table after close", closed);
  await rejectsWithin(session.toArrow(ticket), "snapshot after close", closed);
  await rejectsWithin(
    session.publishTable(SharedTicket.randomTicket(), before),
    "publish after close",
    closed,
  );
  await rejectsWithin(session.runScript("x = 1"), "runScript after close", closed);
  await rejectsWithin(session.tables(), "tables() after close", closed);
  await rejectsWithin(session.openTable("anything").ready(), "openTable after close", closed);

  // The server closed the session too: what it published no longer resolves for anyone. (NOT_FOUND once
  // the server's weak map of shared tickets drops the entry, FAILED_PRECONDITION until then; publish_test
  // covers the NOT_FOUND case.)
  const other = await connectPsk(server);
  try {
    await rejectsWithin(other.toArrow(ticket), "snapshot of a ticket published by a closed session", {
      code: [GrpcCode.NOT_FOUND, GrpcCode.FAILED_PRECONDITION],
    });
  } finally {
    await other.close();
  }
});

serverTest("await using closes the session at the end of the block", {}, async (server) => {
  let kept: Session | undefined;
  {
    await using session = await connectPsk(server);
    kept = session;
    assert.equal(session.isAlive, true);
    assert.deepEqual(await xValues(session, 2), [0, 1]);
  }
  assert.ok(kept);
  assert.equal(kept.isAlive, false);
  assert.equal(kept.state, "closed");
  const err = await rejectsWithin(kept.emptyTable(1).toArrow(), "a call after await using ended");
  assert.ok(err instanceof DeephavenError);
});

serverTest("Symbol.asyncDispose is close()", {}, async (server) => {
  const session = await connectAnonymous(server);
  assert.equal(typeof session[Symbol.asyncDispose], "function");
  await session[Symbol.asyncDispose]();
  assert.equal(session.isAlive, false);
  await rejectsWithin(session.tables(), "tables() after asyncDispose", {
    code: GrpcCode.FAILED_PRECONDITION,
  });
});
