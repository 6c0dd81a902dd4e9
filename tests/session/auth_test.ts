/**
 * Logging in to the real server: Anonymous, pre-shared key, a wrong key, Basic credentials (the test server's
 * Basic handler, compiled from our Java source at test time), a wrong Basic password, and the session's lifecycle
 * (`isAlive`, `close()`, `await using`, calls after close).
 *
 * @module
 */

import assert from "node:assert/strict";
import { DeephavenError, GrpcCode, PSK_AUTH, Session, SharedTicket } from "../../mod.ts";
import { serverTest } from "../../testing/server.ts";
import { runPython } from "../../testing/python.ts";
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

serverTest(
  "Basic user:password logs in, as pydeephaven does, and the password never shows",
  {},
  async (server) => {
    const token = server.basicAuth!;
    const password = token.slice(token.indexOf(":") + 1);
    const session = await Session.connect({
      host: server.host,
      port: server.port,
      authType: "Basic",
      authToken: token,
    });
    try {
      assert.equal(session.state, "connected");
      assert.deepEqual(await xValues(session, 3), [0, 1, 2]);
      for (
        const text of [
          Deno.inspect(session, { showHidden: true, depth: 10 }),
          String(session),
          Deno.inspect(server),
        ]
      ) {
        assert.ok(!text.includes(password) && !text.includes(btoa(token)), "inspect shows no credentials");
      }
    } finally {
      await session.close();
    }
    // pydeephaven logs in with the same credentials (the credentials travel in the environment).
    const peer = await runPython(
      `import os
from pydeephaven import Session
s = Session(host=os.environ["DH_HOST"], port=int(os.environ["DH_PORT"]), auth_type="Basic",
            auth_token=os.environ["DH_BASIC"])
print(s.empty_table(4).to_arrow().num_rows)
s.close()`,
      { env: { DH_HOST: server.host, DH_PORT: String(server.port), DH_BASIC: token } },
    );
    assert.equal(peer.stdout.trim(), "4");
  },
);

serverTest(
  "a wrong Basic password is refused with UNAUTHENTICATED, naming neither password",
  {},
  async (server) => {
    const token = server.basicAuth!;
    const user = token.slice(0, token.indexOf(":"));
    const wrong = `wrong-${crypto.randomUUID()}`;
    for (const authToken of [`${user}:${wrong}`, `someone-else:${token.slice(user.length + 1)}`]) {
      const err = await rejectsWithin(
        Session.connect({
          host: server.host,
          port: server.port,
          authType: "Basic",
          authToken,
          reconnect: false,
        }),
        "Logging in with wrong Basic credentials",
        {
          code: GrpcCode.UNAUTHENTICATED,
          message: [/^Logging in at /, /check the auth type and credentials/],
          notIn: [wrong, token.slice(user.length + 1), btoa(authToken), btoa(token)],
        },
      );
      const shown = `${Deno.inspect(err, { depth: 10, showHidden: true })}\n${err.stack}\n${
        err.details ?? ""
      }`;
      assert.ok(
        !shown.includes(wrong) && !shown.includes(token.slice(user.length + 1)),
        "no password in the error",
      );
    }
    // A token that is not user:password is bad input, refused before anything is sent.
    await rejectsWithin(
      Session.connect({ host: server.host, port: server.port, authType: "Basic", authToken: "no-colon" }),
      "Basic without a colon",
      { code: GrpcCode.INVALID_ARGUMENT, message: [/user:password/] },
    );
  },
);

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
