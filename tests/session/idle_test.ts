/**
 * A session outlives three server session durations of idleness: the keep-alive refreshes the token at
 * half the duration, so neither the session nor its exports expire.
 *
 * @module
 */

import assert from "node:assert/strict";
import { serverTest } from "../../testing/server.ts";
import { connectPsk } from "./util.ts";

serverTest("a session left idle for 3 x http.session.durationMs still works", {}, async (server) => {
  const session = await connectPsk(server);
  try {
    assert.equal(session.sessionDurationMs, 10_000, "the test server runs with a 10 s session duration");
    const before = session.emptyTable(5).update(["X = i", "Y = X * X"]);
    await before.ready();

    // Idleness is the condition under test, so this wait is the test itself (not a stand-in for a poll).
    const idleMs = 3 * session.sessionDurationMs + 1_000;
    await new Promise((r) => setTimeout(r, idleMs));

    assert.equal(session.isAlive, true, "the keep-alive kept the session alive");
    assert.equal(session.state, "connected");
    // A table made before the idle period is still exported (the server did not expire the session) ...
    const kept = await before.toArrow();
    assert.deepEqual(Array.from(kept.getChild("Y")!.toArray() as Int32Array), [0, 1, 4, 9, 16]);
    // ... and new operations work.
    const after = await before.where("X >= 3").update("Z = X + Y").toArrow();
    assert.deepEqual(Array.from(after.getChild("Z")!.toArray() as Int32Array), [12, 20]);
    assert.equal(await before.size(), 5);
  } finally {
    await session.close();
  }
});
