/**
 * Every TableRef operation gives exactly the data pydeephaven gets for the same operation on the same
 * server. Both sides build their source tables from the same formulas; all pydeephaven work runs in one
 * Python process. Also: DoPut (`importTable`), `runScript` + `tables()` + `openTable`, and `schema()`,
 * `size()`, `isStatic()` against pydeephaven's `schema`, `size`, `is_refreshing`.
 *
 * @module
 */

import assert from "node:assert/strict";
import {
  Float64,
  Int32,
  Int64,
  makeData,
  makeVector,
  Schema,
  Table,
  TimestampNanosecond,
  Utf8,
  vectorFromArray,
} from "apache-arrow";
import { agg, type Session, type TableRef } from "../../mod.ts";
import { serverTest } from "../../testing/server.ts";
import { pythonArrowMany, serverEnv } from "../../testing/python.ts";
import { assertArrowEqual } from "../../testing/compare.ts";
import { connectPsk, uniqueName } from "./util.ts";

const SYM = "Sym = i % 3 == 0 ? `A` : i % 3 == 1 ? `B` : `C`";
const LEFT = [SYM, "X = i", "Y = i * 1.5", "Z = (i * 7) % 11", "T = '2024-01-01T00:00:00 ET' + i * SECOND"];
const RIGHT = ["Sym = i == 0 ? `A` : i == 1 ? `B` : `C`", "R = i * 10", "RY = i * 0.5"];
const QUOTES = [SYM, "T = '2024-01-01T00:00:00 ET' + i * 3 * SECOND + 500000000", "Price = i * 0.25"];

/** Python string literal(s) of a formula list (JSON strings are valid Python literals). */
function py(x: string | string[]): string {
  return Array.isArray(x) ? `[${x.map((s) => JSON.stringify(s)).join(", ")}]` : JSON.stringify(x);
}

/** The source tables, as the Deno side holds them. */
interface Sources {
  session: Session;
  left: TableRef;
  right: TableRef;
  quotes: TableRef;
  num: TableRef;
  merged: TableRef;
}

/** One operation: how this module does it, and the same operation in pydeephaven (a Python expression). */
interface OpCase {
  name: string;
  deno: (s: Sources) => TableRef;
  py: string;
}

const AGGS_PY = `[agg.sum_("SumX = X"), agg.avg("AvgY = Y"), agg.min_("MinZ = Z"), agg.max_("MaxZ = Z"),
    agg.count_("N"), agg.first("FirstX = X"), agg.last(["LastT = T", "LastY = Y"]), agg.std("StdY = Y"),
    agg.var("VarY = Y"), agg.median("MedZ = Z"), agg.weighted_avg("Z", "WAvgY = Y")]`;
const aggs = () => [
  agg.sum("SumX = X"),
  agg.avg("AvgY = Y"),
  agg.min("MinZ = Z"),
  agg.max("MaxZ = Z"),
  agg.count("N"),
  agg.first("FirstX = X"),
  agg.last(["LastT = T", "LastY = Y"]),
  agg.std("StdY = Y"),
  agg.var("VarY = Y"),
  agg.median("MedZ = Z"),
  agg.weightedAvg("Z", "WAvgY = Y"),
];

const CASES: OpCase[] = [
  { name: "source left", deno: (s) => s.left, py: "left" },
  { name: "source right", deno: (s) => s.right, py: "right" },
  { name: "source quotes", deno: (s) => s.quotes, py: "quotes" },
  {
    name: "update",
    deno: (s) => s.left.update(["W = X * 2 + Z", "U = Sym + `_` + X"]),
    py: `left.update(${py(["W = X * 2 + Z", "U = Sym + `_` + X"])})`,
  },
  {
    name: "lazyUpdate",
    deno: (s) => s.left.lazyUpdate("W = Z * 3"),
    py: `left.lazy_update(${py("W = Z * 3")})`,
  },
  {
    name: "view",
    deno: (s) => s.left.view(["Sym", "X", "Q = Y * 2"]),
    py: `left.view(${py(["Sym", "X", "Q = Y * 2"])})`,
  },
  {
    name: "updateView",
    deno: (s) => s.left.updateView("Q = X + Z"),
    py: `left.update_view(${py("Q = X + Z")})`,
  },
  { name: "select", deno: (s) => s.left.select(["Sym", "Y"]), py: `left.select(${py(["Sym", "Y"])})` },
  { name: "select()", deno: (s) => s.left.select(), py: "left.select()" },
  {
    name: "dropColumns",
    deno: (s) => s.left.dropColumns(["Y", "T"]),
    py: `left.drop_columns(${py(["Y", "T"])})`,
  },
  {
    name: "where",
    deno: (s) => s.left.where(["X > 10", "Sym in `A`, `B`"]),
    py: `left.where(${py(["X > 10", "Sym in `A`, `B`"])})`,
  },
  { name: "where one", deno: (s) => s.left.where("Z < 3"), py: `left.where(${py("Z < 3")})` },
  { name: "sort", deno: (s) => s.left.sort("Z"), py: `left.sort("Z")` },
  {
    name: "sort mixed",
    deno: (s) => s.left.sort(["Sym", "Z"], ["ASC", "DESC"]),
    py: `left.sort(["Sym", "Z"], [SortDirection.ASCENDING, SortDirection.DESCENDING])`,
  },
  { name: "sortDescending", deno: (s) => s.left.sortDescending("Z"), py: `left.sort_descending("Z")` },
  {
    // pydeephaven 42.7's sort_descending sends DESCENDING for the first column only (it zips the column list
    // with a one-element direction list and defaults the rest to ASCENDING), so compare with the explicit form.
    name: "sortDescending two",
    deno: (s) => s.left.sortDescending(["Sym", "X"]),
    py: `left.sort(["Sym", "X"], [SortDirection.DESCENDING, SortDirection.DESCENDING])`,
  },
  { name: "head", deno: (s) => s.left.head(7), py: "left.head(7)" },
  { name: "tail", deno: (s) => s.left.tail(7), py: "left.tail(7)" },
  { name: "headBy", deno: (s) => s.left.headBy(2, "Sym"), py: `left.head_by(2, "Sym")` },
  { name: "tailBy", deno: (s) => s.left.tailBy(2, ["Sym", "Z"]), py: `left.tail_by(2, ["Sym", "Z"])` },
  { name: "slice", deno: (s) => s.left.slice(5, 15), py: "left.slice(5, 15)" },
  { name: "firstBy", deno: (s) => s.left.firstBy("Sym"), py: `left.first_by("Sym")` },
  { name: "firstBy()", deno: (s) => s.left.firstBy(), py: "left.first_by()" },
  { name: "lastBy", deno: (s) => s.left.lastBy("Sym"), py: `left.last_by("Sym")` },
  { name: "sumBy", deno: (s) => s.num.sumBy("Sym"), py: `num.sum_by("Sym")` },
  { name: "sumBy()", deno: (s) => s.num.dropColumns("Sym").sumBy(), py: `num.drop_columns("Sym").sum_by()` },
  { name: "avgBy", deno: (s) => s.num.avgBy("Sym"), py: `num.avg_by("Sym")` },
  { name: "minBy", deno: (s) => s.num.minBy("Sym"), py: `num.min_by("Sym")` },
  { name: "maxBy", deno: (s) => s.num.maxBy("Sym"), py: `num.max_by("Sym")` },
  { name: "stdBy", deno: (s) => s.num.stdBy("Sym"), py: `num.std_by("Sym")` },
  { name: "varBy", deno: (s) => s.num.varBy("Sym"), py: `num.var_by("Sym")` },
  { name: "medianBy", deno: (s) => s.num.medianBy("Sym"), py: `num.median_by("Sym")` },
  { name: "minBy with T", deno: (s) => s.left.minBy("Sym"), py: `left.min_by("Sym")` },
  { name: "countBy", deno: (s) => s.left.countBy("N", "Sym"), py: `left.count_by("N", "Sym")` },
  {
    name: "countBy two keys",
    deno: (s) => s.left.countBy("N", ["Sym", "Z"]),
    py: `left.count_by("N", ["Sym", "Z"])`,
  },
  { name: "countBy()", deno: (s) => s.left.countBy("N"), py: `left.count_by("N")` },
  { name: "aggBy", deno: (s) => s.left.aggBy(aggs(), "Sym"), py: `left.agg_by(${AGGS_PY}, "Sym")` },
  { name: "aggBy no key", deno: (s) => s.left.aggBy(aggs()), py: `left.agg_by(${AGGS_PY}, [])` },
  {
    name: "aggBy single",
    deno: (s) => s.left.aggBy(agg.max(["MaxX = X", "MaxT = T"]), ["Sym", "Z"]),
    py: `left.agg_by(agg.max_(["MaxX = X", "MaxT = T"]), ["Sym", "Z"])`,
  },
  {
    name: "naturalJoin",
    deno: (s) => s.left.naturalJoin(s.right, "Sym", ["R", "RY"]),
    py: `left.natural_join(right, on="Sym", joins=["R", "RY"])`,
  },
  {
    name: "naturalJoin missing keys",
    deno: (s) => s.left.naturalJoin(s.right.where("Sym != `C`"), "Sym"),
    py: `left.natural_join(right.where(${py("Sym != `C`")}), on="Sym")`,
  },
  {
    name: "naturalJoin LAST_MATCH",
    deno: (s) => s.left.naturalJoin(s.quotes, "Sym", ["Price"], "LAST_MATCH"),
    py: `left.natural_join(quotes, on="Sym", joins=["Price"], type=NaturalJoinType.LAST_MATCH)`,
  },
  {
    name: "exactJoin",
    deno: (s) => s.left.exactJoin(s.right, "Sym", ["RR = R"]),
    py: `left.exact_join(right, on="Sym", joins=["RR = R"])`,
  },
  {
    name: "join (cross, no keys)",
    deno: (s) => s.left.head(10).join(s.right, [], ["R", "RSym = Sym"]),
    py: `left.head(10).join(right, joins=["R", "RSym = Sym"])`,
  },
  {
    name: "join on key",
    deno: (s) => s.left.join(s.quotes, "Sym", ["Price", "QT = T"]),
    py: `left.join(quotes, on="Sym", joins=["Price", "QT = T"])`,
  },
  {
    name: "aj",
    deno: (s) => s.left.aj(s.quotes, ["Sym", "T"], ["Price", "QT = T"]),
    py: `left.aj(quotes, on=["Sym", "T"], joins=["Price", "QT = T"])`,
  },
  {
    name: "raj",
    deno: (s) => s.left.raj(s.quotes, ["Sym", "T"], ["Price", "QT = T"]),
    py: `left.raj(quotes, on=["Sym", "T"], joins=["Price", "QT = T"])`,
  },
  {
    name: "aj as-of only",
    deno: (s) => s.left.aj(s.quotes, "T", ["Price"]),
    py: `left.aj(quotes, on="T", joins="Price")`,
  },
  { name: "selectDistinct", deno: (s) => s.left.selectDistinct("Sym"), py: `left.select_distinct("Sym")` },
  {
    name: "selectDistinct two",
    deno: (s) => s.left.selectDistinct(["Sym", "Z"]),
    py: `left.select_distinct(["Sym", "Z"])`,
  },
  { name: "groupBy", deno: (s) => s.left.groupBy("Sym"), py: `left.group_by("Sym")` },
  { name: "groupBy()", deno: (s) => s.num.groupBy(), py: "num.group_by()" },
  {
    name: "groupBy+ungroup",
    deno: (s) => s.left.groupBy("Sym").ungroup(),
    py: `left.group_by("Sym").ungroup()`,
  },
  {
    name: "ungroup some columns",
    deno: (s) => s.left.groupBy("Sym").ungroup(["X", "T"]),
    py: `left.group_by("Sym").ungroup(["X", "T"])`,
  },
  { name: "snapshot", deno: (s) => s.left.snapshot(), py: "left.snapshot()" },
  { name: "mergeTables", deno: (s) => s.merged, py: "merged" },
  { name: "merged head", deno: (s) => s.merged.head(3), py: "merged.head(3)" },
  { name: "merged tail", deno: (s) => s.merged.tail(3), py: "merged.tail(3)" },
  {
    name: "mergeTables orderBy",
    deno: (s) => s.session.mergeTables([s.left.where("Sym = `A`"), s.left.where("Sym = `B`")], "X"),
    py: `s.merge_tables([left.where(${py("Sym = `A`")}), left.where(${py("Sym = `B`")})], order_by="X")`,
  },
  {
    name: "chain",
    deno: (s) =>
      s.left.where("X % 2 == 0").update("W = X * Y").sortDescending("W").head(5).view(["Sym", "W"]),
    py: `left.where("X % 2 == 0").update("W = X * Y").sort_descending("W").head(5).view(["Sym", "W"])`,
  },
];

/** Tables whose schema, size and refreshing flag are compared with pydeephaven's. */
const META_CASES = ["source left", "where", "aggBy", "join on key", "mergeTables", "groupBy"];

/** Deno's table for the DoPut test: int, long, double, string and timestamp columns, with nulls. */
function importData(): Table {
  const nanos = BigInt64Array.from([
    1_704_067_200_000_000_001n,
    0n,
    -1n,
    1_704_067_200_123_456_789n,
    0n,
  ]);
  const timestamps = makeVector(makeData({
    type: new TimestampNanosecond("UTC"),
    length: 5,
    nullCount: 1,
    nullBitmap: Uint8Array.from([0b11101]), // row 1 is null
    data: nanos,
  }));
  return new Table({
    I: vectorFromArray([1, null, -3, 2_147_483_647, 0], new Int32()),
    L: vectorFromArray([1n, 2n ** 40n, null, -5n, 9_007_199_254_740_993n], new Int64()),
    D: vectorFromArray([0.5, Number.NaN, null, -1e300, 2.25], new Float64()),
    S: vectorFromArray(["a", null, "ünï 日本", "", "longer text"], new Utf8()),
    T: timestamps,
  });
}

/** The same data for pydeephaven's own `import_table`. */
const IMPORT_PY = `pa.table({
    "I": pa.array([1, None, -3, 2147483647, 0], pa.int32()),
    "L": pa.array([1, 2**40, None, -5, 9007199254740993], pa.int64()),
    "D": pa.array([0.5, float("nan"), None, -1e300, 2.25], pa.float64()),
    "S": pa.array(["a", None, "ünï 日本", "", "longer text"], pa.string()),
    "T": pa.array([1704067200000000001, None, -1, 1704067200123456789, 0], pa.timestamp("ns", tz="UTC")),
})`;

serverTest("every TableRef operation matches pydeephaven on the same server", {}, async (server, t) => {
  const session = await connectPsk(server);
  try {
    const left = session.emptyTable(100).update(LEFT);
    const right = session.emptyTable(3).update(RIGHT);
    const quotes = session.emptyTable(30).update(QUOTES);
    const sources: Sources = {
      session,
      left,
      right,
      quotes,
      num: left.dropColumns("T"),
      merged: session.mergeTables([left.head(5), left.tail(5), left.where("Z == 0")]),
    };

    // This side first: DoPut, bind, and a script table, so that pydeephaven can read them by name.
    const data = importData();
    const imported = session.importTable(data);
    const importedName = uniqueName("imported");
    await session.bindTable(importedName, imported);
    const scriptName = uniqueName("script_table");
    await session.runScript(
      `from deephaven import empty_table\n${scriptName} = empty_table(6).update(["A = i * 2", "B = \`b\` + i"])`,
    );

    const timeTable = session.timeTable("PT1s");

    const body = CASES.map((c) => `    ${JSON.stringify(c.name)}: ${c.py},`).join("\n");
    const meta = META_CASES.map((name) => {
      const expr = CASES.find((c) => c.name === name)!.py;
      return `_t = ${expr}
result["schema:" + ${JSON.stringify(name)}] = _t.schema.empty_table()
result["meta:" + ${JSON.stringify(name)}] = pa.table({"size": [_t.size], "refreshing": [_t.is_refreshing]})`;
    }).join("\n");
    const code = `
import pyarrow as pa
from dh_peer import psk_session
from pydeephaven import agg, NaturalJoinType, SortDirection

s = psk_session()
left = s.empty_table(100).update(${py(LEFT)})
right = s.empty_table(3).update(${py(RIGHT)})
quotes = s.empty_table(30).update(${py(QUOTES)})
num = left.drop_columns("T")
merged = s.merge_tables([left.head(5), left.tail(5), left.where("Z == 0")])
tables = {
${body}
}
result = {name: table.to_arrow() for name, table in tables.items()}
${meta}
tt = s.time_table("PT1s")
result["meta:timeTable"] = pa.table({"refreshing": [tt.is_refreshing]})
result["imported"] = s.open_table(${JSON.stringify(importedName)}).to_arrow()
result["python import"] = s.import_table(${IMPORT_PY}).to_arrow()
result["script table"] = s.open_table(${JSON.stringify(scriptName)}).to_arrow()
result["tables"] = pa.table({"name": sorted(s.tables)})
s.close()
`;
    const expected = await pythonArrowMany(code, serverEnv(server));

    await t.step("operations", async () => {
      const failures: string[] = [];
      for (const c of CASES) {
        try {
          const exp = expected.get(c.name);
          assert.ok(exp && exp.numRows > 0, `${c.name}: pydeephaven returned rows`);
          assertArrowEqual(await c.deno(sources).toArrow(), exp, c.name);
        } catch (e) {
          failures.push(e instanceof Error ? e.message : String(e));
        }
      }
      assert.deepEqual(failures, [], `${failures.length} of ${CASES.length} operations differ`);
    });

    await t.step(
      "schema(), size() and isStatic() match pydeephaven's schema, size and is_refreshing",
      async () => {
        for (const name of META_CASES) {
          const ref = CASES.find((c) => c.name === name)!.deno(sources);
          const schema = await ref.schema();
          assert.ok(schema instanceof Schema, "schema() gives apache-arrow's own Schema");
          assertArrowEqual(new Table(schema), expected.get(`schema:${name}`)!, `schema() of ${name}`);
          const m = expected.get(`meta:${name}`)!;
          assert.equal(await ref.size(), Number(m.getChild("size")!.get(0)), `size() of ${name}`);
          assert.equal(await ref.isStatic(), !m.getChild("refreshing")!.get(0), `isStatic() of ${name}`);
          assert.equal(
            await ref.isRefreshing(),
            m.getChild("refreshing")!.get(0),
            `isRefreshing() of ${name}`,
          );
        }
        assert.equal(await left.size(), 100);
        assert.equal(await timeTable.isStatic(), false);
        assert.equal(
          await timeTable.isRefreshing(),
          expected.get("meta:timeTable")!.getChild("refreshing")!.get(0),
        );
        assert.equal(await timeTable.isRefreshing(), true);
      },
    );

    await t.step(
      "importTable (DoPut) round trips int, long, double, string and timestamp columns with nulls",
      async () => {
        const back = await imported.toArrow();
        // The upload carries no deephaven:* metadata; the server adds it (checked below).
        assertArrowEqual(back, data, "importTable read back with toArrow", { fieldMetadata: false });
        assertArrowEqual(back, expected.get("imported")!, "importTable read back by pydeephaven open_table");
        assertArrowEqual(back, expected.get("python import")!, "our DoPut vs pydeephaven's import_table");
        assert.equal(await imported.size(), 5);
        assert.equal(await imported.isStatic(), true);
        assert.deepEqual(
          (await imported.schema()).fields.map((f) => f.metadata.get("deephaven:type")),
          ["int", "long", "double", "java.lang.String", "java.time.Instant"],
        );
      },
    );

    await t.step("runScript defines a table that tables() lists and openTable reads", async () => {
      const names = await session.tables();
      assert.ok(names.includes(scriptName), `tables() lists ${scriptName}`);
      assert.ok(names.includes(importedName), `tables() lists the bound table ${importedName}`);
      assert.deepEqual(names, [...names].sort(), "tables() is sorted");
      const pyNames = Array.from(expected.get("tables")!.getChild("name")!.toArray() as string[]);
      assert.ok(pyNames.includes(scriptName) && pyNames.includes(importedName), "pydeephaven sees them too");
      const opened = session.openTable(scriptName);
      assertArrowEqual(await opened.toArrow(), expected.get("script table")!, "openTable of a script table");
      assert.deepEqual(Array.from((await opened.toArrow()).getChild("A")!.toArray() as Int32Array), [
        0,
        2,
        4,
        6,
        8,
        10,
      ]);
    });
  } finally {
    await session.close();
  }
});
