/**
 * Replication under random changes, after Deephaven's BarrageMessageRoundTripTest: a keyed input table on the
 * server gets random inserts, deletes and modifications (seeded Python `random.Random`), and a view sorted by
 * a random column turns them into shifts, removes and adds in the middle. After every step, a full
 * subscription, a viewport (rows 0..19) and a reverse viewport (the last 20 rows) of the sorted view must
 * equal the server's DoGet snapshot, and the update events must describe what changed.
 */

import assert from "node:assert/strict";
import type * as arrow from "apache-arrow";
import { barrageSession, type LiveTable, Session, type TableUpdate } from "../../mod.ts";
import { scopeTicket } from "../../src/session/ticket.ts";
import { serverTest } from "../../testing/server.ts";
import { tableDiffs } from "../../testing/compare.ts";
import { since, waitUntil } from "../../testing/wait.ts";

const SEEDS = 12;
const STEPS = 8;
const VIEWPORT = 20;
const WAIT_MS = 10_000;

/** Python run once in the server's global scope: table factory and the random step. */
const SETUP = `
import random
from deephaven import input_table, dtypes, new_table
from deephaven.column import int_col, double_col, string_col
from deephaven.constants import NULL_INT, NULL_DOUBLE

_repl_state = {}

def _repl_values(rng, old=None):
    while True:
        i = NULL_INT if rng.random() < 0.1 else rng.randint(-1000, 1000)
        r = rng.random()
        if r < 0.1:
            d = NULL_DOUBLE
        elif r < 0.13:
            d = float("nan")
        elif r < 0.4:
            d = float(rng.randint(-5, 5))
        else:
            d = round(rng.uniform(-100, 100), 2)
        s = None if rng.random() < 0.1 else rng.choice(["alpha", "beta", "", "\u00fcn\u00ef\u00e7\u00f8d\u00e9 \u2713", "x" * rng.randint(1, 30)]) + str(rng.randint(0, 99))
        if old is None or repr((i, d, s)) != repr(old):
            return (i, d, s)

def _repl_write(src, rows):
    ks = list(rows)
    src.add(new_table([
        int_col("K", ks),
        int_col("I", [rows[k][0] for k in ks]),
        double_col("D", [rows[k][1] for k in ks]),
        string_col("S", [rows[k][2] for k in ks]),
    ]))

def repl_create(seed, n):
    rng = random.Random(seed)
    src = input_table(col_defs={"K": dtypes.int32, "I": dtypes.int32, "D": dtypes.double, "S": dtypes.string}, key_cols="K")
    rows = {}
    while len(rows) < n:
        k = rng.randint(0, 1000000)
        if k not in rows:
            rows[k] = _repl_values(rng)
    if rows:
        _repl_write(src, rows)
    _repl_state[seed] = (src, rows)
    globals()["repl_sorted_%d" % seed] = src.sort(["D", "K"])

def repl_step(seed, step):
    src, rows = _repl_state[seed]
    rng = random.Random(seed * 1000 + step)
    existing = sorted(rows)
    dels = rng.sample(existing, min(rng.randint(0, 6), len(existing)))
    gone = set(dels)
    rest = [k for k in existing if k not in gone]
    mods = rng.sample(rest, min(rng.randint(0, 8), len(rest)))
    changes = {k: _repl_values(rng, rows[k]) for k in mods}
    n_ins = rng.randint(0, 25 if step % 3 == 0 else 8)
    while n_ins > 0:
        k = rng.randint(0, 1000000)
        if k not in rows and k not in changes:
            changes[k] = _repl_values(rng)
            n_ins -= 1
    if dels:
        src.delete(new_table([int_col("K", dels)]))
    if changes:
        _repl_write(src, changes)
    for k in dels:
        del rows[k]
    rows.update(changes)

def repl_drop(seed):
    _repl_state.pop(seed, None)
    globals().pop("repl_sorted_%d" % seed, None)
`;

/** Rows by key column K, as comparable text. */
function rowsByKey(t: arrow.Table): Map<number, string> {
  const out = new Map<number, string>();
  const k = t.getChild("K")!, i = t.getChild("I")!, d = t.getChild("D")!, s = t.getChild("S")!;
  for (let r = 0; r < t.numRows; r++) {
    out.set(k.get(r) as number, JSON.stringify([i.get(r), String(d.get(r)), s.get(r)]));
  }
  return out;
}

/** What one subscription reported during a step. */
interface Seen {
  updates: TableUpdate[];
  /** K values at the added keys (read right after each update). */
  addedK: Set<number>;
  /** K values at the modified keys. */
  modifiedK: Set<number>;
}

function watch(table: LiveTable, keyed: boolean): { seen: Seen; stop: () => void } {
  const seen: Seen = { updates: [], addedK: new Set(), modifiedK: new Set() };
  const stop = table.onUpdate((u) => {
    seen.updates.push(u);
    const kAt = (key: bigint) => table.get(keyed ? table.rowSet.positionOf(key) : Number(key), "K") as number;
    for (const key of u.added) seen.addedK.add(kAt(key));
    for (const key of u.modified) seen.modifiedK.add(kAt(key));
  });
  return { seen, stop };
}

serverTest(
  "replication: full, viewport and reverse viewport subscriptions follow random changes",
  {},
  async (server) => {
    const { host, port } = server;
    const start = performance.now();
    await using session = await Session.connect({ host, port });
    await session.runScript(SETUP);
    const bs = await barrageSession({ host, port });
    const mismatches: string[] = [];
    const eventErrors: string[] = [];
    let steps = 0, shifted = 0, rowsChecked = 0;
    try {
      for (let seed = 0; seed < SEEDS; seed++) {
        const name = `repl_sorted_${seed}`;
        // Seeds start with 5..50 rows, so the viewports cover both a short and a long table.
        await session.runScript(`repl_create(${seed}, ${5 + 5 * seed})`);
        const ref = session.openTable(name);
        const opts = { minUpdateIntervalMs: 100 };
        const subs: { label: string; table: LiveTable; window: (n: number) => [number, number] }[] = [
          {
            label: "full",
            table: await bs.subscribe(scopeTicket(name), opts),
            window: (n) => [0, n],
          },
          {
            label: `viewport 0..${VIEWPORT - 1}`,
            table: await bs.subscribe(bs.session.openTable(name), {
              ...opts,
              viewport: { first: 0, last: VIEWPORT - 1 },
            }),
            window: (n) => [0, Math.min(n, VIEWPORT)],
          },
          {
            label: `reverse viewport last ${VIEWPORT}`,
            table: await bs.subscribe(scopeTicket(name), {
              ...opts,
              viewport: { first: 0, last: VIEWPORT - 1 },
              reverse: true,
            }),
            window: (n) => [Math.max(0, n - VIEWPORT), n],
          },
        ];
        try {
          let before = await ref.toArrow();
          for (let step = 0; step <= STEPS; step++) {
            // Step 0 checks the initial snapshot; later steps change the table first.
            const watchers = subs.map((s, i) => watch(s.table, i === 0));
            const sizesBefore = subs.map((s) => s.table.size);
            if (step > 0) await session.runScript(`repl_step(${seed}, ${step})`);
            let expected = await ref.toArrow();
            for (const s of subs) {
              const [from, to] = s.window(expected.numRows);
              // Equal rows in the window, and the same table size (viewports learn it from the messages).
              const equal = () =>
                s.table.sourceSize === expected.numRows &&
                tableDiffs(s.table.toArrow(), expected, { expectedRows: [from, to] }).length === 0;
              if (!await waitUntil(s.table, equal, WAIT_MS)) {
                // Maybe the server's snapshot was older than its final state: take it again once.
                expected = await ref.toArrow();
                const [f2, t2] = s.window(expected.numRows);
                for (const d of tableDiffs(s.table.toArrow(), expected, { expectedRows: [f2, t2] })) {
                  mismatches.push(`seed ${seed}, step ${step}, ${s.label}: ${d}`);
                }
              }
              const [f3, t3] = s.window(expected.numRows);
              rowsChecked += t3 - f3;
              if (s.table.sourceSize !== expected.numRows) {
                eventErrors.push(
                  `seed ${seed}, step ${step}, ${s.label}: sourceSize ${s.table.sourceSize}, server ${expected.numRows}`,
                );
              }
            }
            watchers.forEach((w) => w.stop());
            steps++;

            // Events: the running size follows added - removed on every subscription.
            subs.forEach((s, i) => {
              let size = sizesBefore[i];
              for (const u of watchers[i].seen.updates) {
                size += u.added.size - u.removed.size;
                if (u.size !== size) {
                  eventErrors.push(
                    `seed ${seed}, step ${step}, ${s.label}: update size ${u.size}, expected ${size} from the adds and removes`,
                  );
                }
              }
              if (size !== s.table.size) {
                eventErrors.push(
                  `seed ${seed}, step ${step}, ${s.label}: events sum to ${size}, size ${s.table.size}`,
                );
              }
            });

            // Events of the full subscription against what the step changed (by key column K).
            if (step > 0) {
              const b = rowsByKey(before), a = rowsByKey(expected);
              const ins = new Set([...a.keys()].filter((k) => !b.has(k)));
              const dels = new Set([...b.keys()].filter((k) => !a.has(k)));
              const mods = new Set([...a.keys()].filter((k) => b.has(k) && b.get(k) !== a.get(k)));
              const seen = watchers[0].seen;
              if (seen.updates.some((u) => u.shifted)) shifted++;
              const where = `seed ${seed}, step ${step}, full`;
              const removed = seen.updates.reduce((n, u) => n + u.removed.size, 0);
              const reAdded = [...seen.addedK].filter((k) => mods.has(k)).length;
              for (const k of ins) {
                if (!seen.addedK.has(k)) {
                  eventErrors.push(`${where}: inserted K=${k} not reported`);
                }
              }
              for (const k of seen.addedK) {
                if (!ins.has(k) && !mods.has(k)) {
                  eventErrors.push(
                    `${where}: K=${k} reported added but unchanged`,
                  );
                }
              }
              for (const k of seen.modifiedK) {
                if (!mods.has(k)) eventErrors.push(`${where}: K=${k} reported modified but not changed`);
              }
              for (const k of mods) {
                if (!seen.addedK.has(k) && !seen.modifiedK.has(k)) {
                  eventErrors.push(`${where}: modified K=${k} not reported`);
                }
              }
              if (removed !== dels.size + reAdded) {
                eventErrors.push(
                  `${where}: ${removed} rows reported removed, expected ${dels.size} deleted + ${reAdded} moved`,
                );
              }
            }
            before = expected;
          }
        } finally {
          for (const s of subs) s.table.close();
          await ref.close();
          await session.runScript(`repl_drop(${seed})`);
        }
      }
    } finally {
      await bs.close();
    }
    console.log(
      `${SEEDS} seeds, ${steps} checks, ${rowsChecked} rows compared, ${shifted} steps with shifts, ` +
        `${mismatches.length} mismatches, ${eventErrors.length} event errors, ${since(start)} ms`,
    );
    assert.deepEqual(mismatches.slice(0, 40), [], `${mismatches.length} mismatches`);
    assert.deepEqual(eventErrors.slice(0, 40), [], `${eventErrors.length} event errors`);
    assert.ok(shifted > 0, "the sorted view produced shifts");
  },
);
