/**
 * Local queries on a live subscription, checked against the same operations run by the real server.
 *
 * A keyed input table on the server (K, Sym, Qty, Px) changes in seeded random steps: inserts, deletes and
 * modifications (Sym moves rows between groups; Qty and Px have nulls, Px also NaN and infinities). Deno
 * subscribes to it and derives local tables (where, view, update, sort, head, tail, aggBy, countBy, firstBy,
 * lastBy, and chains). The server keeps the same operations live on the input table; after each step it copies
 * them all under the update graph's exclusive lock (`Table.snapshot()`), so the references are consistent with
 * one another. Once the local source equals the reference source, every derived table must equal its
 * reference: in order where the operation defines the order, else as sets of rows sorted by the group keys;
 * aggregated doubles (avg, std, var) within a relative tolerance of 1e-9, everything else exactly, types too.
 */

import assert from "node:assert/strict";
import type * as arrow from "apache-arrow";
import { barrageSession, type LocalTable, Session, type TableUpdate } from "../../mod.ts";
import { scopeTicket } from "../../src/session/ticket.ts";
import { serverTest } from "../../testing/server.ts";
import { type TableDiffOptions, tableDiffs } from "../../testing/compare.ts";
import { waitUntil } from "../../testing/wait.ts";

const SEEDS = [1, 2, 3, 4, 5, 6];
const STEPS = 8;
const WAIT_MS = 15_000;

/** Server-side Python: the random source per seed, its live derived tables, the step and the snapshot. */
const SETUP = `
import random
from deephaven import input_table, dtypes, new_table, agg
from deephaven.column import int_col, double_col, string_col
from deephaven.constants import NULL_INT, NULL_DOUBLE
from deephaven.update_graph import exclusive_lock

_lq = {}
_LQ_SYMS = ["AAPL", "MSFT", "GOOG", "IBM", "TSLA", None]

def _lq_values(rng):
    sym = rng.choice(_LQ_SYMS)
    qty = NULL_INT if rng.random() < 0.05 else rng.randint(0, 100)
    r = rng.random()
    if r < 0.08:
        px = NULL_DOUBLE
    elif r < 0.11:
        px = float("nan")
    elif r < 0.12:
        px = float("inf")
    elif r < 0.13:
        px = float("-inf")
    elif r < 0.33:
        px = float(rng.randint(1, 10))
    else:
        px = round(rng.uniform(1, 200), 2)
    return (sym, qty, px)

def _lq_write(src, rows):
    ks = sorted(rows)
    src.add(new_table([
        int_col("K", ks),
        string_col("Sym", [rows[k][0] for k in ks]),
        int_col("Qty", [rows[k][1] for k in ks]),
        double_col("Px", [rows[k][2] for k in ks]),
    ]))

def lq_create(seed, n):
    rng = random.Random(seed)
    src = input_table(col_defs={"K": dtypes.int32, "Sym": dtypes.string, "Qty": dtypes.int32, "Px": dtypes.double}, key_cols="K")
    rows = {}
    while len(rows) < n:
        rows[rng.randint(0, 100000)] = _lq_values(rng)
    _lq_write(src, rows)
    live = {
        "src": src,
        "lastBy": src.last_by("Sym"),
        "firstBy": src.first_by("Sym"),
        "whereQty": src.where("Qty > 50"),
        "whereFn": src.where("!isNull(Sym) && !isNull(Px) && !isNaN(Px) && Px > 10"),
        "wherePx": src.where("Px > 0"),
        "sortDesc": src.sort_descending("Px"),
        "head": src.head(5),
        "tail": src.tail(5),
        "aggBy": src.agg_by([agg.sum_("S=Qty"), agg.avg("A=Px"), agg.min_("Mn=Px"), agg.max_("Mx=Qty"), agg.count_("N"), agg.first("F=Qty"), agg.last("L=Px"), agg.std("Sd=Px"), agg.var("V=Qty")], "Sym"),
        "countBy": src.count_by("Count", "Sym"),
        "view": src.view(["Sym", "P = Px"]),
        "update": src.update("Notional = Qty * Px"),
        "whereLastBy": src.where("Qty > 50").last_by("Sym"),
        "sortHead": src.sort_descending("Px").head(3),
        "sortSym": src.sort(["Sym", "K"]),
        "whereSym": src.where("Sym = \`IBM\`"),
    }
    _lq[seed] = (live, rows)
    globals()["lq_src_%d" % seed] = src

def lq_step(seed, step):
    live, rows = _lq[seed]
    src = live["src"]
    rng = random.Random(seed * 1000 + step)
    existing = sorted(rows)
    dels = rng.sample(existing, min(rng.randint(0, 6), len(existing)))
    rest = [k for k in existing if k not in set(dels)]
    changes = {k: _lq_values(rng) for k in rng.sample(rest, min(rng.randint(0, 8), len(rest)))}
    n_ins = rng.randint(0, 25 if step % 3 == 0 else 8)
    while n_ins > 0:
        k = rng.randint(0, 100000)
        if k not in rows and k not in changes:
            changes[k] = _lq_values(rng)
            n_ins -= 1
    if dels:
        src.delete(new_table([int_col("K", dels)]))
    if changes:
        _lq_write(src, changes)
    for k in dels:
        del rows[k]
    rows.update(changes)

def lq_snap(seed):
    live, _ = _lq[seed]
    with exclusive_lock(live["src"]):
        for name, t in live.items():
            globals()["lq_ref_%d_%s" % (seed, name)] = t.snapshot()

def lq_drop(seed):
    live, _ = _lq.pop(seed)
    for name in live:
        globals().pop("lq_ref_%d_%s" % (seed, name), None)
    globals().pop("lq_src_%d" % seed, None)
`;

const AGGS = {
  S: "sum(Qty)",
  A: "avg(Px)",
  Mn: "min(Px)",
  Mx: "max(Qty)",
  N: "count()",
  F: "first(Qty)",
  L: "last(Px)",
  Sd: "std(Px)",
  V: "var(Qty)",
};
const notional = (r: Record<string, unknown>) =>
  r.Qty === null || r.Px === null ? null : (r.Qty as number) * (r.Px as number);

/** The local counterparts of the server's live tables, and how to compare them. */
const CASES: { name: string; build: (src: LocalTable) => LocalTable; compare: TableDiffOptions }[] = [
  { name: "lastBy", build: (s) => s.lastBy("Sym"), compare: { keys: ["Sym"] } },
  { name: "firstBy", build: (s) => s.firstBy("Sym"), compare: { keys: ["Sym"] } },
  { name: "whereQty", build: (s) => s.where("Qty > 50"), compare: {} },
  {
    name: "whereFn",
    build: (s) => s.where((r) => r.Sym !== null && typeof r.Px === "number" && r.Px > 10),
    compare: {},
  },
  { name: "wherePx", build: (s) => s.where("Px > 0"), compare: {} },
  { name: "sortDesc", build: (s) => s.sort(["Px"], { descending: true }), compare: {} },
  { name: "head", build: (s) => s.head(5), compare: {} },
  { name: "tail", build: (s) => s.tail(5), compare: {} },
  {
    name: "aggBy",
    build: (s) => s.aggBy(AGGS, "Sym"),
    compare: { keys: ["Sym"], tolerant: ["A", "Sd", "V"] },
  },
  { name: "countBy", build: (s) => s.countBy("Sym"), compare: { keys: ["Sym"] } },
  { name: "view", build: (s) => s.view(["Sym", "P = Px"]), compare: {} },
  // The type is given: a live table's rows (and so the values that could tell it) may come later.
  { name: "update", build: (s) => s.update({ Notional: { type: "double", value: notional } }), compare: {} },
  { name: "whereLastBy", build: (s) => s.where("Qty > 50").lastBy("Sym"), compare: { keys: ["Sym"] } },
  { name: "sortHead", build: (s) => s.sort(["Px"], { descending: true }).head(3), compare: {} },
  // Strings are compared as stored (UTF-8 bytes, in JS string order).
  { name: "sortSym", build: (s) => s.sort(["Sym", "K"]), compare: {} },
  { name: "whereSym", build: (s) => s.where("Sym == 'IBM'"), compare: {} },
];

/** What one derived table reported during a step. */
interface Events {
  updates: TableUpdate[];
  /** Size after each update minus the running total of added - removed (must stay 0). */
  sizeErrors: string[];
}

function watch(t: LocalTable): { events: Events; stop: () => void } {
  const events: Events = { updates: [], sizeErrors: [] };
  let size = t.size;
  const stop = t.onUpdate((u) => {
    events.updates.push(u);
    size += u.added.size - u.removed.size;
    if (size !== t.size || u.size !== t.size) {
      events.sizeErrors.push(`added - removed gives ${size}, update.size ${u.size}, table size ${t.size}`);
      size = t.size;
    }
  });
  return { events, stop };
}

serverTest(
  "local queries on a live subscription equal the server's own results after random steps",
  {},
  async (server) => {
    const { host, port } = server;
    await using session = await Session.connect({ host, port });
    await session.runScript(SETUP);
    const bs = await barrageSession({ host, port });
    const mismatches: string[] = [];
    const eventErrors: string[] = [];
    let comparisons = 0, fired = 0;
    const start = performance.now();
    try {
      for (const seed of SEEDS) {
        await session.runScript(`lq_create(${seed}, ${10 + 8 * seed})`);
        const src = await bs.subscribe(scopeTicket(`lq_src_${seed}`), { minUpdateIntervalMs: 50 });
        const derived = CASES.map((c) => ({ ...c, table: c.build(src) }));
        try {
          for (let step = 0; step <= STEPS; step++) {
            const where = `seed ${seed}, step ${step}`;
            const before = derived.map((d) => d.table.toArrow());
            const watchers = derived.map((d) => watch(d.table));
            if (step > 0) await session.runScript(`lq_step(${seed}, ${step})`);
            await session.runScript(`lq_snap(${seed})`);
            const ref = async (name: string) => {
              const t = session.openTable(`lq_ref_${seed}_${name}`);
              try {
                return await t.toArrow();
              } finally {
                await t.close();
              }
            };
            const expectedSrc = await ref("src");
            const caughtUp = await waitUntil(
              src,
              () => tableDiffs(src.toArrow(), expectedSrc, { limit: 1 }).length === 0,
              WAIT_MS,
            );
            if (!caughtUp) {
              const diffs = tableDiffs(src.toArrow(), expectedSrc);
              assert.fail(
                `${where}: the local source did not reach the server's state:\n  ${diffs.join("\n  ")}`,
              );
            }
            watchers.forEach((w) => w.stop());
            for (const [i, d] of derived.entries()) {
              const expected = await ref(d.name);
              const actual = d.table.toArrow();
              comparisons++;
              for (const diff of tableDiffs(actual, expected, d.compare)) {
                mismatches.push(`${where}, ${d.name}: ${diff}`);
              }
              // Events: a derived table that changed told its listeners; sizes follow added - removed.
              const { updates, sizeErrors } = watchers[i].events;
              if (tableDiffs(actual, before[i], d.compare).length > 0) {
                if (updates.length === 0) {
                  eventErrors.push(`${where}, ${d.name}: changed without an update event`);
                } else fired++;
              }
              for (const e of sizeErrors) eventErrors.push(`${where}, ${d.name}: ${e}`);
              if (d.table.state !== "live") eventErrors.push(`${where}, ${d.name}: state ${d.table.state}`);
            }
          }
        } finally {
          // Closing the source closes every derived table, chained ones included.
          src.close();
          for (const d of derived) {
            if (d.table.state !== "closed") {
              eventErrors.push(`seed ${seed}, ${d.name}: ${d.table.state} after close`);
            }
          }
          await session.runScript(`lq_drop(${seed})`);
        }
      }
    } finally {
      await bs.close();
    }
    console.log(
      `${SEEDS.length} seeds × ${STEPS} steps: ${comparisons} derived tables compared with the server, ` +
        `${fired} changes announced by events, in ${Math.round(performance.now() - start)} ms`,
    );
    assert.deepEqual(mismatches, [], `local results differ from the server's:\n  ${mismatches.join("\n  ")}`);
    assert.deepEqual(eventErrors, []);
    assert.ok(fired > SEEDS.length * STEPS, `derived tables announced their changes (${fired})`);
  },
);

serverTest(
  "a derived table's onUpdate and updates() follow a ticking subscription",
  {},
  async (server) => {
    const { host, port } = server;
    await using session = await Session.connect({ host, port });
    const name = `lq_tick_${crypto.randomUUID().replaceAll("-", "")}`;
    await session.runScript(
      `from deephaven import time_table\n${name} = time_table("PT0.05s").update(["X = (int) i", "Sym = i % 3 == 0 ? \`A\` : \`B\`"])`,
    );
    const bs = await barrageSession({ host, port });
    try {
      const src = await bs.subscribe(scopeTicket(name), { minUpdateIntervalMs: 50 });
      const big = src.where("X >= 0");
      const counts = big.countBy("Sym");
      const seen: TableUpdate[] = [];
      counts.onUpdate((u) => seen.push(u));
      // The iterator of a derived table yields its updates as they come.
      const iterated: TableUpdate[] = [];
      const iterating = (async () => {
        for await (const u of big.updates()) {
          iterated.push(u);
          if (iterated.length >= 3) break;
        }
      })();
      assert.ok(await waitUntil(big, () => iterated.length >= 3, WAIT_MS), "updates() yielded 3 updates");
      await iterating;
      assert.ok(await waitUntil(counts, () => seen.length >= 2, WAIT_MS), "the countBy table fired onUpdate");
      assert.ok(seen.every((u) => u.modified.size + u.added.size > 0), "each countBy update changes a count");
      const total = counts.column("Count").reduce((s: bigint, c) => s + (c as bigint), 0n);
      assert.equal(total, BigInt(big.size), "the counts add up to the rows");
      assert.equal(big.size, src.size, "every row passes X >= 0");
      const xs = big.column("X") as number[];
      assert.deepEqual(xs, xs.map((_, i) => i), "the rows arrive in order");
      src.close();
      assert.equal(big.state, "closed");
      assert.equal(counts.state, "closed");
    } finally {
      await bs.close();
      await session.runScript(`del ${name}`);
    }
  },
);

/** Pins the reference data types so a change in the server's typing shows up as a clear failure. */
serverTest(
  "local aggregation types follow the server's: sum of ints is long, lastBy keeps types",
  {},
  async (server) => {
    const { host, port } = server;
    await using session = await Session.connect({ host, port });
    const bs = await barrageSession({ host, port });
    try {
      const ref = session.emptyTable(6).update([
        "Sym = i % 2 == 0 ? `A` : `B`",
        "Qty = (int) i",
        "Px = i * 1.5",
      ]);
      const local = await bs.snapshot(ref);
      const types = (t: arrow.Table) =>
        Object.fromEntries(t.schema.fields.map((f) => [f.name, String(f.type)]));
      const last = local.lastBy("Sym").toArrow();
      assert.deepEqual(types(last), types(await ref.lastBy("Sym").toArrow()));
      const agg = local.aggBy({ S: "sum(Qty)", A: "avg(Qty)", Mx: "max(Qty)", N: "count()" }, "Sym")
        .toArrow();
      assert.deepEqual(types(agg), { Sym: "Utf8", S: "Int64", A: "Float64", Mx: "Int32", N: "Int64" });
      assert.deepEqual(tableDiffs(last, await ref.lastBy("Sym").toArrow(), { keys: ["Sym"] }), []);
      assert.equal(local.lastBy("Sym").state, "snapshot", "a view of a snapshot is a snapshot");
    } finally {
      await bs.close();
    }
  },
);

/**
 * std and var over 10^6 row updates: 100,000 rows in 10 groups, then the values of 99,000 of them replaced
 * ten times (huge values first, ordinary ones last; the other 1,000 stay, so no group ever empties), each
 * change reaching the local aggregation as a modification (a remove and an add). The reference is the server's own std and var of the same rows, computed afresh on a
 * static copy after each step: the server's live aggregation keeps running double sums, which drift just as a
 * naive local one would.
 */
serverTest(
  "local std and var stay exact to 1e-9 over 10^6 updates, against the server's std and var",
  {},
  async (
    server,
  ) => {
    const { host, port } = server;
    await using session = await Session.connect({ host, port });
    const ROWS = 100_000, STEPS = 10;
    await session.runScript(`
import random
from deephaven import input_table, dtypes, new_table, agg
from deephaven.column import int_col, double_col
sv_src = input_table(col_defs={"K": dtypes.int32, "G": dtypes.int32, "V": dtypes.double}, key_cols="K")

def sv_step(step):
    # Rows below 1000 are anchors: written once, so no group is ever emptied (which would clear any drift).
    rng = random.Random(step)
    ks = list(range(${ROWS})) if step == 0 else list(range(1000, ${ROWS}))
    if step == 0 or step == ${STEPS}:
        vs = [100.0 + rng.uniform(-50, 50) for _ in ks]
    else:
        vs = [rng.uniform(-1e12, 1e12) for _ in ks]
    sv_src.add(new_table([int_col("K", ks), int_col("G", [k % 10 for k in ks]), double_col("V", vs)]))

def sv_reference():
    global sv_ref
    sv_ref = sv_src.snapshot().agg_by([agg.std("Sd = V"), agg.var("Va = V"), agg.count_("N")], "G").sort("G")
`);
    const bs = await barrageSession({ host, port });
    try {
      await session.runScript("sv_step(0)");
      const src = await bs.subscribe(scopeTicket("sv_src"), { minUpdateIntervalMs: 100 });
      const stats = src.aggBy({ Sd: "std(V)", Va: "var(V)", N: "count()" }, "G").sort("G");
      let updates = src.size;
      src.onUpdate((u) => (updates += u.added.size + u.modified.size));
      const mismatches: string[] = [];
      for (let step = 0; step <= STEPS; step++) {
        if (step > 0) await session.runScript(`sv_step(${step})`);
        assert.ok(
          await waitUntil(src, () => updates >= ROWS + (ROWS - 1000) * step, 60_000),
          `step ${step}: the changes arrived (${updates} row updates)`,
        );
        await session.runScript("sv_reference()");
        const ref = session.openTable("sv_ref");
        const expected = await ref.toArrow();
        await ref.close();
        for (const d of tableDiffs(stats.toArrow(), expected, { tolerant: ["Sd", "Va"], rel: 1e-9 })) {
          mismatches.push(`step ${step}: ${d}`);
        }
      }
      console.log(`std/var: ${updates} row updates, final var of group 0 ${stats.get(0, "Va")}`);
      assert.ok(updates >= 1_000_000, `10^6 row updates (${updates})`);
      assert.deepEqual(mismatches, []);
      src.close();
    } finally {
      await bs.close();
    }
  },
);
