/**
 * The cost of one small update through local query views, on a source of 1k rows and of 1M rows: the work
 * per update should follow the size of the change, not the size of the table.
 *
 * Each view gets its own source (a local table built from Arrow, no server). One measured iteration applies
 * one update through the internal `applyKeyed`, as a Barrage message would:
 *
 * - "add + modify": one row appended at a new key and one random existing row modified (Sym, Qty, Px). The
 *   appended row is removed again after the measurement, so the size stays put.
 * - "remove": one random existing row removed (put back after the measurement).
 * - "insert in the middle": one row added at a free key among the others (removed before the measurement).
 * - Worst cases: the newest row of a group leaves a lastBy; a row at its group's max(Qty) leaves an aggBy.
 *
 * "source only" is the same update on a source without views: the views' own cost is the difference.
 *
 * Run: `deno bench -A bench/local_queries_bench.ts`
 *
 * @module
 */

import * as arrow from "apache-arrow";
import { appendArrow } from "../src/barrage/from_arrow.ts";
import { createLocalTable, type LocalTable, type TableWriter } from "../src/table/local_table.ts";
import type { ColumnData } from "../src/table/storage.ts";

/** The writers of the source tables built here. */
const writers = new WeakMap<LocalTable, TableWriter>();
import { RowSet } from "../src/table/rowset.ts";
import { NULLS } from "../src/table/column.ts";
import "../src/query/ops.ts";
import { mulberry32 } from "../testing/prng.ts";

const SYMS = ["AAPL", "MSFT", "GOOG", "IBM", "TSLA", null];

function md(t: string): Map<string, string> {
  return new Map([["deephaven:type", t]]);
}

/** A live source table of `n` rows at keys 0..n-1: Sym (6 values, one null), Qty (0..100), Px. */
function source(n: number): LocalTable {
  const rnd = mulberry32(n);
  const fields = [
    new arrow.Field("Sym", new arrow.Utf8(), true, md("java.lang.String")),
    new arrow.Field("Qty", new arrow.Int32(), true, md("int")),
    new arrow.Field("Px", new arrow.Float64(), true, md("double")),
  ];
  const sym = Array.from({ length: n }, (_, i) => SYMS[i % SYMS.length]);
  const qty = Int32Array.from({ length: n }, () => Math.floor(rnd() * 101));
  const px = Float64Array.from({ length: n }, () => Math.round(rnd() * 20000) / 100);
  const children = [
    arrow.vectorFromArray(sym, new arrow.Utf8()).data[0],
    arrow.makeData({ type: new arrow.Int32(), length: n, data: qty }),
    arrow.makeData({ type: new arrow.Float64(), length: n, data: px }),
  ];
  const schema = new arrow.Schema(fields);
  const batch = new arrow.RecordBatch(
    schema,
    arrow.makeData({ type: new arrow.Struct(fields), length: n, children }),
  );
  const { table: t, writer } = createLocalTable(schema);
  appendArrow(writer, new arrow.Table([batch]));
  writers.set(t, writer);
  return t;
}

type ViewName = "source only" | "lastBy" | "where" | "aggBy";

const VIEWS: Record<ViewName, (t: LocalTable) => LocalTable | undefined> = {
  "source only": () => undefined,
  lastBy: (t) => t.lastBy("Sym"),
  where: (t) => t.where("Qty > 50"),
  aggBy: (t) =>
    t.aggBy({
      S: "sum(Qty)",
      A: "avg(Px)",
      Mn: "min(Px)",
      Mx: "max(Qty)",
      N: "count()",
      F: "first(Qty)",
      L: "last(Px)",
      Sd: "std(Px)",
      V: "var(Qty)",
    }, "Sym"),
};

function row(rnd: () => number): [string | null, number, number] {
  return [SYMS[Math.floor(rnd() * SYMS.length)], Math.floor(rnd() * 101), Math.round(rnd() * 20000) / 100];
}

function data(rows: [string | null, number, number][]): ColumnData[] {
  return [
    [rows.map((r) => r[0])],
    [Int32Array.from(rows, (r) => r[1] ?? NULLS.int32)],
    [Float64Array.from(rows, (r) => r[2] ?? NULLS.float64)],
  ];
}

const NONE: RowSet[] = [RowSet.EMPTY, RowSet.EMPTY, RowSet.EMPTY];

/** One source with one view, made on first use (building 1M rows takes a few seconds). */
class Fixture {
  #src: LocalTable | undefined;
  #view: LocalTable | undefined;
  #next: number;
  readonly #rnd: () => number;

  constructor(readonly size: number, readonly view: ViewName) {
    this.#next = size;
    this.#rnd = mulberry32(size + view.length);
  }

  get src(): LocalTable {
    if (!this.#src) {
      this.#src = source(this.size);
      this.#view = VIEWS[this.view](this.#src);
    }
    return this.#src;
  }

  /** Checks that the view still works (it would fail silently into state "failed"). */
  check(): void {
    if (this.#view && this.#view.state !== "live") {
      throw new Error(`The ${this.view} view is ${this.#view.state}: ${this.#view.error?.message}`);
    }
  }

  randomKey(): number {
    return Math.floor(this.#rnd() * this.size);
  }

  /** One added row at a new key after the others, and one modified row. Returns the added key. */
  addAndModify(): number {
    const key = this.#next++;
    const mod = this.randomKey();
    writers.get(this.src)!.applyKeyed({
      isSnapshot: false,
      removed: RowSet.EMPTY,
      shifts: undefined,
      added: RowSet.fromKeys([key]),
      addData: data([row(this.#rnd)]),
      modified: [RowSet.fromKeys([mod]), RowSet.fromKeys([mod]), RowSet.fromKeys([mod])],
      modData: data([row(this.#rnd)]),
    });
    return key;
  }

  remove(key: number): void {
    writers.get(this.src)!.applyKeyed({
      isSnapshot: false,
      removed: RowSet.fromKeys([key]),
      shifts: undefined,
      added: RowSet.EMPTY,
      addData: [[], [], []],
      modified: NONE,
      modData: [[], [], []],
    });
  }

  /** A random key whose row has Qty 100, the largest value (so it is at its group's max(Qty)). */
  keyAtMaxQty(): number {
    while (true) {
      const key = this.randomKey();
      // Keys stay 0..size-1 between iterations, so a key is its own position.
      if (this.src.get(key, "Qty") === 100) return key;
    }
  }

  /** Adds a row at `key` (random values, or Qty `qty`). */
  add(key: number, qty?: number): void {
    const r = row(this.#rnd);
    if (qty !== undefined) r[1] = qty;
    writers.get(this.src)!.applyKeyed({
      isSnapshot: false,
      removed: RowSet.EMPTY,
      shifts: undefined,
      added: RowSet.fromKeys([key]),
      addData: data([r]),
      modified: NONE,
      modData: [[], [], []],
    });
  }
}

for (const view of Object.keys(VIEWS) as ViewName[]) {
  for (const size of [1_000, 1_000_000]) {
    const f = new Fixture(size, view);
    const label = `${size >= 1_000_000 ? "1M" : "1k"} rows`;
    Deno.bench({
      name: `${view}: add + modify, ${label}`,
      group: `${view}: add + modify`,
      baseline: size === 1_000,
      fn(b) {
        void f.src;
        b.start();
        const key = f.addAndModify();
        b.end();
        f.remove(key);
        f.check();
      },
    });
    if (view === "lastBy") {
      // The worst case of lastBy: the newest row of a group leaves, so the group's new last row is looked up.
      Deno.bench({
        name: `lastBy: remove the newest row of a group, ${label}`,
        group: "lastBy: remove the newest row of a group",
        baseline: size === 1_000,
        fn(b) {
          const key = f.addAndModify();
          b.start();
          f.remove(key);
          b.end();
          f.check();
        },
      });
    }
    if (view === "aggBy") {
      // The worst case of min/max: a row holding its group's max(Qty) leaves (Qty has many ties at 100).
      Deno.bench({
        name: `aggBy: remove a row at its group's max(Qty), ${label}`,
        group: "aggBy: remove a row at its group's max(Qty)",
        baseline: size === 1_000,
        fn(b) {
          const key = f.keyAtMaxQty();
          b.start();
          f.remove(key);
          b.end();
          f.add(key, 100); // keeps the number of rows at the max
          f.check();
        },
      });
    }
    Deno.bench({
      name: `${view}: insert in the middle, ${label}`,
      group: `${view}: insert in the middle`,
      baseline: size === 1_000,
      fn(b) {
        void f.src;
        const key = f.randomKey();
        f.remove(key);
        b.start();
        f.add(key);
        b.end();
        f.check();
      },
    });
    Deno.bench({
      name: `${view}: remove, ${label}`,
      group: `${view}: remove`,
      baseline: size === 1_000,
      fn(b) {
        void f.src;
        const key = f.randomKey();
        b.start();
        f.remove(key);
        b.end();
        f.add(key);
        f.check();
      },
    });
  }
}
