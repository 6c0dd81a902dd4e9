/**
 * Replication under random changes, after Deephaven's BarrageMessageRoundTripTest: a keyed input table on the
 * server gets random inserts, deletes and modifications (seeded Python `random.Random`), and a view sorted by
 * a random column turns them into shifts, removes and adds in the middle, so rows move up and down through
 * every window. Each seed subscribes five ways:
 * - a full subscription, whose update events must describe what changed (by key column K);
 * - a full subscription to a random column subset (D and some others), whose modifications include columns it
 *   does not receive; the columns it does not receive stay empty;
 * - a fixed viewport (rows 0..19);
 * - two viewports that change at random after every step with `setViewport()`: forward and reverse, windows
 *   that straddle or lie past the end, two-range windows, column subsets, and changes sent back to back.
 * After every step and every viewport change, each table must equal the server's DoGet rows for its window
 * (the subscribed columns), its `sourceSize` the server's row count, and for viewports `sourcePosition()` must
 * map each local row back to its position in the server's table. A viewport change must hold its new rows
 * when `setViewport()` resolves (the server's table does not change between steps). Local queries on the
 * subset and the viewports (`where`, `aggBy`) must equal the same operations run by the server on the same
 * rows (`view`, `head`, `slice`, `where`, `aggBy`). Every update keeps the size in step with its adds and
 * removes, and no snapshot update reports rows as modified.
 */

import assert from "node:assert/strict";
import type * as arrow from "apache-arrow";
import {
  agg,
  barrageSession,
  type LiveTable,
  type LocalTable,
  RowSet,
  Session,
  type TableRef,
  type TableUpdate,
} from "../../mod.ts";
import { scopeTicket } from "../../src/session/ticket.ts";
import { serverTest } from "../../testing/server.ts";
import { type Cell, cellEqual, showCell, tableDiffs, vectorCells } from "../../testing/compare.ts";
import { mulberry32 } from "../../testing/prng.ts";
import { since, waitUntil } from "../../testing/wait.ts";

const SEEDS = Number(Deno.env.get("REPL_SEEDS") ?? 24);
const STEPS = Number(Deno.env.get("REPL_STEPS") ?? 6);
const VIEWPORT = 20;
const WAIT_MS = 10_000;
const COLUMNS = ["K", "I", "D", "S"];

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

/** The cells of some columns of an Arrow table, by column. */
function cellsOf(t: arrow.Table, columns: string[]): Cell[][] {
  return columns.map((c) => vectorCells(t.getChild(c)!));
}

/** A window of a subscription: the rows by position, and whether positions count from the end. */
interface Window {
  rows: RowSet;
  reverse: boolean;
}

/** The source positions a window covers in a table of `n` rows, ascending. */
function positionsOf(w: Window | undefined, n: number): number[] {
  if (!w) return Array.from({ length: n }, (_, i) => i);
  const within = n > 0 ? w.rows.intersect(RowSet.range(0, n - 1)) : RowSet.EMPTY;
  const out = [...within].map(Number);
  return w.reverse ? out.map((p) => n - 1 - p).reverse() : out;
}

/** One subscription of a seed and what it must hold. */
interface Sub {
  label: string;
  table: LiveTable;
  /** The subscribed columns. */
  columns: string[];
  /** The viewport (`undefined`: the whole table). */
  window: Window | undefined;
}

/**
 * The differences between a subscription and the server's rows: its window's rows in the subscribed columns,
 * empty other columns, the source size, and (viewports) the source position of every row.
 */
function subDiffs(sub: Sub, expected: arrow.Table): string[] {
  const out: string[] = [];
  const n = expected.numRows;
  const positions = positionsOf(sub.window, n);
  const t = sub.table;
  if (t.sourceSize !== n) out.push(`sourceSize ${t.sourceSize}, server ${n}`);
  if (t.size !== positions.length) {
    out.push(`${t.size} rows, expected ${positions.length} (source rows ${n})`);
  }
  const local = t.toArrow();
  const mine = cellsOf(local, sub.columns), theirs = cellsOf(expected, sub.columns);
  for (let r = 0; r < Math.min(t.size, positions.length) && out.length < 10; r++) {
    sub.columns.forEach((c, j) => {
      const a = mine[j][r], e = theirs[j][positions[r]];
      if (!cellEqual(a, e)) {
        out.push(`row ${r} (source row ${positions[r]}), ${c}: ${showCell(a)}, expected ${showCell(e)}`);
      }
    });
    if (sub.window) {
      const p = t.sourcePosition(r);
      if (p !== positions[r]) out.push(`sourcePosition(${r}) = ${p}, expected ${positions[r]}`);
    }
  }
  for (const c of COLUMNS.filter((c) => !sub.columns.includes(c))) {
    const filled = vectorCells(local.getChild(c)!).filter((x) => x !== null).length;
    if (filled > 0) out.push(`column ${c} is not subscribed but holds ${filled} values`);
  }
  return out;
}

/** The differences between a derived local table and a server table, in the given columns, in order. */
function rowDiffs(local: LocalTable, server: arrow.Table, columns: string[]): string[] {
  const a = cellsOf(local.toArrow(), columns), e = cellsOf(server, columns);
  const out: string[] = [];
  if (local.size !== server.numRows) out.push(`${local.size} rows, server ${server.numRows}`);
  for (let r = 0; r < Math.min(local.size, server.numRows) && out.length < 10; r++) {
    columns.forEach((c, j) => {
      if (!cellEqual(a[j][r], e[j][r])) {
        out.push(`row ${r}, ${c}: ${showCell(a[j][r])}, server ${showCell(e[j][r])}`);
      }
    });
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
    if (!keyed) return;
    const kAt = (key: bigint) => table.get(table.rowSet.positionOf(key), "K") as number;
    for (const key of u.added) seen.addedK.add(kAt(key));
    for (const key of u.modified) seen.modifiedK.add(kAt(key));
  });
  return { seen, stop };
}

/** A random window for a table of about `n` rows: inside, straddling the end, past the end, or two ranges. */
function randomWindow(rnd: () => number, n: number): Window {
  const int = (k: number) => Math.floor(rnd() * k);
  const r = rnd();
  let rows: RowSet;
  if (r < 0.15) {
    const first = n + int(10);
    rows = RowSet.range(first, first + int(10));
  } else if (r < 0.3) {
    const a = int(Math.max(1, n));
    const b = a + 2 + int(6);
    rows = RowSet.fromRanges([[a, a + int(4)], [b + 4, b + 4 + int(10)]]);
  } else if (r < 0.45) {
    const first = Math.max(0, n - 1 - int(8));
    rows = RowSet.range(first, first + 5 + int(15));
  } else {
    const first = int(Math.max(1, n));
    rows = RowSet.range(first, first + int(25));
  }
  return { rows, reverse: rnd() < 0.5 };
}

/** D and a random choice of the other columns, in schema order. */
function randomColumns(rnd: () => number): string[] {
  return COLUMNS.filter((c) => c === "D" || rnd() < 0.5);
}

/** The single range `[from, to)` of source positions a one-range window covers, or `undefined`. */
function sliceOf(w: Window, n: number): [number, number] | undefined {
  if (w.rows.rangeCount !== 1) return undefined;
  const first = Number(w.rows.first()), last = Number(w.rows.last());
  return w.reverse
    ? [Math.max(0, n - 1 - last), Math.max(0, n - first)]
    : [Math.min(first, n), Math.min(last + 1, n)];
}

serverTest(
  "replication: full, subset, fixed and changing viewport subscriptions follow random changes",
  {},
  async (server) => {
    const { host, port } = server;
    const start = performance.now();
    await using session = await Session.connect({ host, port });
    await session.runScript(SETUP);
    const bs = await barrageSession({ host, port });
    const mismatches: string[] = [];
    const eventErrors: string[] = [];
    const counts = {
      steps: 0,
      shifted: 0,
      rowsChecked: 0,
      viewportChanges: 0,
      pastEnd: 0,
      twoRanges: 0,
      reverse: 0,
      backToBack: 0,
      derived: 0,
    };
    try {
      for (let seed = 0; seed < SEEDS; seed++) {
        const name = `repl_sorted_${seed}`;
        const rnd = mulberry32(0x5eed + seed);
        // Seeds start with 5..60 rows, so the viewports cover both short and long tables.
        await session.runScript(`repl_create(${seed}, ${5 + 5 * (seed % 12)})`);
        const ref = session.openTable(name);
        const opts = { minUpdateIntervalMs: 100 };
        const subsetColumns = randomColumns(rnd);
        const windows = [randomWindow(rnd, 20), { ...randomWindow(rnd, 20), reverse: true }];
        const randomCols = [randomColumns(rnd), randomColumns(rnd)];
        const fixed: Window = { rows: RowSet.range(0, VIEWPORT - 1), reverse: false };
        const subs: Sub[] = [
          {
            label: "full",
            table: await bs.subscribe(scopeTicket(name), opts),
            columns: COLUMNS,
            window: undefined,
          },
          {
            label: `full ${subsetColumns.join(",")}`,
            table: await bs.subscribe(scopeTicket(name), { ...opts, columns: subsetColumns }),
            columns: subsetColumns,
            window: undefined,
          },
          {
            label: `viewport 0..${VIEWPORT - 1}`,
            table: await bs.subscribe(bs.session.openTable(name), { ...opts, viewport: fixed.rows }),
            columns: COLUMNS,
            window: fixed,
          },
          ...await Promise.all([0, 1].map(async (i) => ({
            label: `changing viewport ${i}`,
            table: await bs.subscribe(scopeTicket(name), {
              ...opts,
              viewport: windows[i].rows,
              reverse: windows[i].reverse,
              columns: randomCols[i],
            }),
            columns: randomCols[i],
            window: windows[i],
          }))),
        ];
        // Local queries on the subset and the viewports, and the same operations on the server.
        const subsetRef = ref.view(subsetColumns);
        const derived: {
          label: string;
          local: LocalTable;
          server: () => TableRef | undefined;
          columns: string[];
          exact?: boolean;
        }[] = [
          {
            label: "subset where",
            local: subs[1].table.where("D > 0"),
            server: () => subsetRef.where("D > 0"),
            columns: subsetColumns,
          },
          {
            label: "subset aggBy",
            local: subs[1].table.aggBy({ N: "count()", Hi: "max(D)", Lo: "min(D)" }),
            server: () => subsetRef.aggBy([agg.count("N"), agg.max("Hi = D"), agg.min("Lo = D")]),
            columns: ["N", "Hi", "Lo"],
            exact: true,
          },
          {
            label: "viewport where",
            local: subs[2].table.where("D > 0"),
            server: () => ref.head(VIEWPORT).where("D > 0"),
            columns: COLUMNS,
          },
          {
            label: "viewport aggBy",
            local: subs[2].table.aggBy({ N: "count()", Total: "sum(I)", Hi: "max(D)" }),
            server: () => ref.head(VIEWPORT).aggBy([agg.count("N"), agg.sum("Total = I"), agg.max("Hi = D")]),
            columns: ["N", "Total", "Hi"],
            exact: true,
          },
          ...[3, 4].map((i) => ({
            label: `changing viewport ${i - 3} where`,
            local: subs[i].table.where("D > 0"),
            server: () => {
              const w = subs[i].window!;
              const range = sliceOf(w, lastCount);
              return range && range[1] > range[0]
                ? ref.view(subs[i].columns).slice(range[0], range[1]).where("D > 0")
                : undefined;
            },
            get columns() {
              return subs[i].columns;
            },
          })),
        ];
        let lastCount = 0;
        const checkDerived = async (where: string, which: (d: typeof derived[number]) => boolean) => {
          for (const d of derived.filter(which)) {
            const sref = d.server();
            if (!sref) {
              // An empty or two-range window: the local query must be empty or is not compared.
              continue;
            }
            const theirs = await sref.toArrow();
            await sref.close();
            const diffs = d.exact
              ? tableDiffs(d.local.toArrow(), theirs)
              : rowDiffs(d.local, theirs, d.columns);
            for (const x of diffs) mismatches.push(`${where}, ${d.label}: ${x}`);
            counts.derived++;
          }
        };
        try {
          let before = await ref.toArrow();
          for (let step = 0; step <= STEPS; step++) {
            // Step 0 checks the initial snapshots; later steps change the table first.
            const watchers = subs.map((s, i) => watch(s.table, i === 0));
            const sizesBefore = subs.map((s) => s.table.size);
            if (step > 0) await session.runScript(`repl_step(${seed}, ${step})`);
            let expected = await ref.toArrow();
            const where = `seed ${seed}, step ${step}`;
            for (const s of subs) {
              if (!await waitUntil(s.table, () => subDiffs(s, expected).length === 0, WAIT_MS)) {
                // Maybe the server's snapshot was older than its final state: take it again once.
                expected = await ref.toArrow();
                for (const d of subDiffs(s, expected)) mismatches.push(`${where}, ${s.label}: ${d}`);
              }
              counts.rowsChecked += s.table.size;
            }
            lastCount = expected.numRows;
            await checkDerived(where, () => true);

            // Viewport changes: the new rows are there when setViewport() resolves (the table is not changing).
            for (const i of [3, 4]) {
              const s = subs[i];
              const changes = rnd() < 0.25 ? 2 : 1;
              const pending: Promise<void>[] = [];
              for (let k = 0; k < changes; k++) {
                const w = randomWindow(rnd, expected.numRows);
                if (rnd() < 0.3) w.reverse = s.window!.reverse; // keep the direction at times
                const cols = rnd() < 0.5 ? randomColumns(rnd) : s.columns;
                s.window = w;
                s.columns = cols;
                pending.push(s.table.setViewport(w.rows, { reverse: w.reverse, columns: cols }));
                counts.viewportChanges++;
                if (positionsOf(w, expected.numRows).length === 0) counts.pastEnd++;
                if (w.rows.rangeCount > 1) counts.twoRanges++;
                if (w.reverse) counts.reverse++;
              }
              if (changes > 1) counts.backToBack++;
              await Promise.all(pending);
              const label = `${where}, ${s.label} after setViewport(${s.window!.rows}${
                s.window!.reverse ? ", reverse" : ""
              }, [${s.columns}])`;
              for (const d of subDiffs(s, expected)) mismatches.push(`${label}: ${d}`);
              counts.rowsChecked += s.table.size;
              await checkDerived(label, (d) => d.label.startsWith(`changing viewport ${i - 3}`));
            }
            watchers.forEach((w) => w.stop());
            counts.steps++;

            // Events: the running size follows added - removed, and snapshots never report modified rows.
            subs.forEach((s, i) => {
              let size = sizesBefore[i];
              for (const u of watchers[i].seen.updates) {
                size += u.added.size - u.removed.size;
                if (u.size !== size) {
                  eventErrors.push(
                    `${where}, ${s.label}: update size ${u.size}, expected ${size} from the adds and removes`,
                  );
                }
                if (u.isSnapshot && !u.modified.isEmpty) {
                  eventErrors.push(
                    `${where}, ${s.label}: a snapshot update reports ${u.modified.size} rows modified`,
                  );
                }
              }
              if (size !== s.table.size) {
                eventErrors.push(`${where}, ${s.label}: events sum to ${size}, size ${s.table.size}`);
              }
            });

            // Events of the full subscription against what the step changed (by key column K).
            if (step > 0) {
              const b = rowsByKey(before), a = rowsByKey(expected);
              const ins = new Set([...a.keys()].filter((k) => !b.has(k)));
              const dels = new Set([...b.keys()].filter((k) => !a.has(k)));
              const mods = new Set([...a.keys()].filter((k) => b.has(k) && b.get(k) !== a.get(k)));
              const seen = watchers[0].seen;
              if (seen.updates.some((u) => u.shifted)) counts.shifted++;
              const at = `${where}, full`;
              const removed = seen.updates.reduce((n, u) => n + u.removed.size, 0);
              const reAdded = [...seen.addedK].filter((k) => mods.has(k)).length;
              for (const k of ins) {
                if (!seen.addedK.has(k)) eventErrors.push(`${at}: inserted K=${k} not reported`);
              }
              for (const k of seen.addedK) {
                if (!ins.has(k) && !mods.has(k)) {
                  eventErrors.push(`${at}: K=${k} reported added but unchanged`);
                }
              }
              for (const k of seen.modifiedK) {
                if (!mods.has(k)) eventErrors.push(`${at}: K=${k} reported modified but not changed`);
              }
              for (const k of mods) {
                if (!seen.addedK.has(k) && !seen.modifiedK.has(k)) {
                  eventErrors.push(`${at}: modified K=${k} not reported`);
                }
              }
              if (removed !== dels.size + reAdded) {
                eventErrors.push(
                  `${at}: ${removed} rows reported removed, expected ${dels.size} deleted + ${reAdded} moved`,
                );
              }
            }
            before = expected;
          }
        } finally {
          for (const d of derived) d.local.close();
          for (const s of subs) s.table.close();
          await subsetRef.close();
          await ref.close();
          await session.runScript(`repl_drop(${seed})`);
        }
      }
    } finally {
      await bs.close();
    }
    console.log(
      `${SEEDS} seeds, ${counts.steps} steps, ${counts.viewportChanges} viewport changes (${counts.pastEnd} empty or past ` +
        `the end, ${counts.twoRanges} two-range, ${counts.reverse} reverse, ${counts.backToBack} back to back), ` +
        `${counts.rowsChecked} rows compared, ${counts.derived} local queries compared, ${counts.shifted} steps with ` +
        `shifts, ${mismatches.length} mismatches, ${eventErrors.length} event errors, ${since(start)} ms`,
    );
    assert.deepEqual(mismatches.slice(0, 40), [], `${mismatches.length} mismatches`);
    assert.deepEqual(eventErrors.slice(0, 40), [], `${eventErrors.length} event errors`);
    assert.ok(counts.shifted > 0, "the sorted view produced shifts");
    assert.ok(
      counts.pastEnd > 0 && counts.twoRanges > 0 && counts.backToBack > 0,
      "every kind of viewport change ran",
    );
  },
);
