/**
 * The server's fields, against a server started in application mode with an application of ours
 * (`fields.demo`): `session.fields()` lists its fields and the global scope's variables as pydeephaven's
 * ListFields does, `onFieldsChange` / `fieldChanges` follow scripts and the application as they create, replace
 * and remove fields (and across a lost server session), and `resolveUri(".../app/<id>/field/<name>")` captures
 * an application field.
 *
 * @module
 */

import assert from "node:assert/strict";
import { barrageSession, type FieldInfo, type FieldsChange, resolveUri, Session } from "../../mod.ts";
import { LiveTable } from "../../src/barrage/subscription.ts";
import { sessionCoreOf } from "../../src/session/session.ts";
import { toHex } from "../../src/session/ticket.ts";
import { SessionService } from "../../src/generated/proto/deephaven_core/proto/session_pb.ts";
import { rpc } from "../../src/transport/rpc.ts";
import { pythonArrow, runPython, serverEnv } from "../../testing/python.ts";
import { serverTest, type ServerTestOptions } from "../../testing/server.ts";
import { tableDiffs } from "../../testing/compare.ts";
import { nextUpdates } from "../../testing/wait.ts";

const APP_ID = "fields.demo";
const APP_NAME = "Fields demo";

/** The application: two table fields, and the application state kept where later scripts can change it. */
const APP_SCRIPT = `from deephaven import empty_table, time_table
from deephaven.appmode import get_app_state
import builtins

app = get_app_state()
app["numbers"] = empty_table(5).update(["X = i", "S = \`n\` + i"])
app["ticks"] = time_table("PT0.1s").update(["X = ii"])
builtins.fields_test_app = app
`;

const APPS: ServerTestOptions = {
  key: "apps",
  script: "from deephaven import empty_table\nscoped = empty_table(3).update('Y = i * 2')",
  applications: [{ id: APP_ID, name: APP_NAME, script: APP_SCRIPT }],
};

const text = (b: Uint8Array) => new TextDecoder().decode(b);
const names = (fs: readonly FieldInfo[]) => fs.map((f) => `${f.applicationId}/${f.name}`).sort();

/** Collects changes and waits (with a deadline) for one that matches. */
class Changes {
  readonly all: FieldsChange[] = [];
  #waiters: { test: (c: FieldsChange) => boolean; resolve: (c: FieldsChange) => void }[] = [];

  push = (c: FieldsChange): void => {
    this.all.push(c);
    this.#waiters = this.#waiters.filter((w) => {
      if (!w.test(c)) return true;
      w.resolve(c);
      return false;
    });
  };

  /** The first change (seen already or to come) that passes `test`. */
  async until(what: string, test: (c: FieldsChange) => boolean, ms = 20_000): Promise<FieldsChange> {
    const seen = this.all.find(test);
    if (seen) return seen;
    let timer: ReturnType<typeof setTimeout> | undefined;
    try {
      return await new Promise<FieldsChange>((resolve, reject) => {
        this.#waiters.push({ test, resolve });
        timer = setTimeout(() => reject(new Error(`${what}: no such change within ${ms} ms`)), ms);
      });
    } finally {
      clearTimeout(timer);
    }
  }
}

const has = (list: readonly FieldInfo[], app: string, name: string) =>
  list.some((f) => f.applicationId === app && f.name === name);

serverTest(
  "fields(): the application's fields and the scope's variables, as pydeephaven lists them",
  APPS,
  async (server) => {
    await using session = await Session.connect({ host: server.host, port: server.port });
    const fields = await session.fields();
    const numbers = fields.find((f) => f.applicationId === APP_ID && f.name === "numbers");
    assert.ok(numbers, `the application field is listed: ${names(fields)}`);
    assert.equal(numbers.applicationName, APP_NAME);
    assert.equal(numbers.type, "Table");
    assert.equal(text(numbers.ticket), `a/${APP_ID}/f/numbers`);
    const scoped = fields.find((f) => f.name === "scoped");
    assert.ok(scoped);
    assert.equal(scoped.applicationId, "scope");
    assert.equal(text(scoped.ticket), "s/scoped");
    assert.ok(has(fields, APP_ID, "ticks"));
    assert.ok((await session.tables()).includes("scoped"), "tables() lists the scope's tables");
    assert.ok(!(await session.tables()).includes("numbers"), "tables() leaves application fields out");

    // pydeephaven's list of the same server.
    const peer = await runPython(
      `import json
from dh_peer import psk_session
s = psk_session()
print(json.dumps(sorted([[f.application_id, f.field_name, f.typed_ticket.type, f.typed_ticket.ticket.ticket.hex()]
                         for f in s._fetch_fields()])))
s.close()`,
      { env: serverEnv(server) },
    );
    const ours = fields.map((f) => [f.applicationId, f.name, f.type, toHex(f.ticket)]).sort();
    assert.deepEqual(ours, JSON.parse(peer.stdout.trim().split("\n").pop()!));

    // The field's table, fetched by its ticket, equals pydeephaven's fetch of the same application ticket.
    const mine = await session.fetchTable(numbers.ticket).toArrow();
    const theirs = await pythonArrow(
      `from dh_peer import psk_session
from pydeephaven.ticket import ApplicationTicket
result = psk_session().fetch_table(ApplicationTicket.app_ticket("${APP_ID}", "numbers")).to_arrow()`,
      serverEnv(server),
    );
    assert.equal(mine.numRows, 5);
    assert.deepEqual(tableDiffs(mine, theirs), []);
  },
);

serverTest(
  "onFieldsChange follows scripts and the application: created, updated, removed",
  APPS,
  async (server) => {
    await using session = await Session.connect({ host: server.host, port: server.port });
    const changes = new Changes();
    const errors: unknown[] = [];
    const stop = session.onFieldsChange(changes.push, (e) => errors.push(e));
    const witness = new Changes();
    const stopWitness = session.onFieldsChange(witness.push);
    try {
      const first = await changes.until("the current fields", () => true);
      assert.equal(changes.all[0], first, "the first call lists the fields visible now");
      assert.ok(has(first.created, APP_ID, "numbers") && has(first.created, "scope", "scoped"));
      assert.deepEqual([first.updated.length, first.removed.length], [0, 0]);

      const v = `fields_var_${crypto.randomUUID().replaceAll("-", "")}`;
      await session.runScript(`from deephaven import empty_table\n${v} = empty_table(1)`);
      const created = await changes.until("a scope variable appears", (c) => has(c.created, "scope", v));
      assert.equal(created.created.find((f) => f.name === v)!.type, "Table");

      await session.runScript(`fields_test_app["added"] = empty_table(7)`);
      const added = await changes.until(
        "an application field appears",
        (c) => has(c.created, APP_ID, "added"),
      );
      const addedField = added.created.find((f) => f.name === "added")!;
      assert.equal((await session.fetchTable(addedField.ticket).toArrow()).numRows, 7);

      await session.runScript(`fields_test_app["added"] = empty_table(8)`);
      await changes.until("an application field is replaced", (c) => has(c.updated, APP_ID, "added"));
      assert.equal((await session.fetchTable(addedField.ticket).toArrow()).numRows, 8);

      await session.runScript(`fields_test_app.j_app_state.removeField("added")\ndel ${v}`);
      await changes.until("the application field goes", (c) => has(c.removed, APP_ID, "added"));
      await changes.until("the scope variable goes", (c) => has(c.removed, "scope", v));
      assert.deepEqual(errors, []);

      // After stop(), nothing more arrives (the witness, still listening, shows that the change happened).
      stop();
      const count = changes.all.length;
      await session.runScript(`${v}_after = empty_table(1)`);
      await witness.until("the change after stop()", (c) => has(c.created, "scope", `${v}_after`));
      await session.runScript(`del ${v}_after`);
      assert.equal(changes.all.length, count, "a stopped listener gets no more changes");
    } finally {
      stop();
      stopWitness();
    }
  },
);

serverTest("fieldChanges(): the current fields first, then changes; break ends it", APPS, async (server) => {
  await using session = await Session.connect({ host: server.host, port: server.port });
  const v = `iter_var_${crypto.randomUUID().replaceAll("-", "")}`;
  const seen: FieldsChange[] = [];
  for await (const change of session.fieldChanges()) {
    seen.push(change);
    if (seen.length === 1) {
      assert.ok(has(change.created, APP_ID, "ticks"));
      await session.runScript(`from deephaven import empty_table\n${v} = empty_table(2)`);
    }
    if (has(change.created, "scope", v)) break;
  }
  assert.ok(seen.length >= 2);
  await session.runScript(`del ${v}`);
});

serverTest(
  "a lost server session: the fields are read again and the difference is one change",
  APPS,
  async (server) => {
    await using session = await Session.connect({ host: server.host, port: server.port });
    await using other = await Session.connect({ host: server.host, port: server.port });
    const changes = new Changes();
    const stop = session.onFieldsChange(changes.push);
    try {
      await changes.until("the current fields", () => true);
      const v = `gap_var_${crypto.randomUUID().replaceAll("-", "")}`;
      // The server closes the session (as after an expiry): the stream ends, the session logs in again.
      const core = sessionCoreOf(session);
      await core.channel.unary(rpc(SessionService.method.closeSession), {}, {
        what: "Closing the server session",
      });
      await other.runScript(`from deephaven import empty_table\n${v} = empty_table(1)`);
      const change = await changes.until(
        "the variable made meanwhile",
        (c) => has(c.created, "scope", v),
        30_000,
      );
      assert.ok(!has(change.created, APP_ID, "numbers"), "fields known before are not listed again");
      assert.equal(session.state, "connected");
      assert.equal(core.generation, 1, "the session logged in again");
      await other.runScript(`del ${v}`);
    } finally {
      stop();
    }
  },
);

serverTest("resolveUri of an application field snapshots and subscribes to it", APPS, async (server) => {
  const { host, port } = server;
  const uri = (name: string) => `dh+plain://${host}:${port}/app/${APP_ID}/field/${name}`;
  try {
    const snap = await resolveUri(uri("numbers"), { snapshot: true });
    assert.equal(snap.state, "snapshot");
    const theirs = await pythonArrow(
      `from dh_peer import psk_session
from pydeephaven.ticket import ApplicationTicket
result = psk_session().fetch_table(ApplicationTicket.app_ticket("${APP_ID}", "numbers")).to_arrow()`,
      serverEnv(server),
    );
    assert.deepEqual(tableDiffs(snap.toArrow(), theirs), []);

    const live = await resolveUri(uri("ticks"), { minUpdateIntervalMs: 100 });
    assert.ok(live instanceof LiveTable);
    const before = live.size;
    await nextUpdates(live, 2, 15_000);
    assert.ok(live.size > before, "the application's time table ticks in the subscription");
    const xs = live.column("X") as bigint[];
    assert.deepEqual(xs, xs.map((_, i) => BigInt(i)));
    live.close();

    await assert.rejects(resolveUri(uri("no_such_field"), { snapshot: true }), (e: Error) => {
      assert.equal(e.name, "DeephavenError");
      return true;
    });
  } finally {
    await (await barrageSession({ host, port })).close();
  }
});
