/**
 * The table operations of issue 15 against the real server, each compared with the reference: pydeephaven's
 * own result where pydeephaven has the operation (`where_in`, `where_not_in`, `snapshot_when`, `multi_join`),
 * and otherwise the server's own Python API run through pydeephaven's `run_script` and read back with
 * `open_table` (renames and moves, `head_pct`/`tail_pct`, outer joins, `range_join`, formats, `flatten`).
 * Also: bad arguments are `INVALID_ARGUMENT` errors, and `headPct` of a ticking table follows its size.
 *
 * @module
 */

import assert from "node:assert/strict";
import { Field, Int32, Schema } from "apache-arrow";
import { agg, GrpcCode, multiJoin, type Session, type TableRef } from "../../mod.ts";
import { serverTest } from "../../testing/server.ts";
import { pythonArrowMany, serverEnv } from "../../testing/python.ts";
import { assertArrowEqual } from "../../testing/compare.ts";
import { waitUntil } from "../../testing/wait.ts";
import { py } from "../../src/session/script_op.ts";
import { barragePsk, connectPsk, rejectsWithin, uniqueName } from "./util.ts";

const LEFT = [
  "Sym = i % 3 == 0 ? `A` : i % 3 == 1 ? `B` : `C`",
  "X = i",
  "Y = i * 1.5",
  "T = '2024-01-01T00:00:00 ET' + i * SECOND",
];
const RIGHT = ["Sym = i == 0 ? `A` : i == 1 ? `C` : `D`", "R = i * 10"];
const WINDOWS = ["Sym = i % 2 == 0 ? `A` : `B`", "Lo = i * 3", "Hi = i * 3 + 4"];

interface Sources {
  session: Session;
  left: TableRef;
  right: TableRef;
  windows: TableRef;
}

/** An operation: this module's call, and the reference in pydeephaven (`py`) or in the server's Python (`server`). */
interface Case {
  name: string;
  deno: (s: Sources) => TableRef;
  py?: string;
  server?: string;
}

const CASES: Case[] = [
  { name: "whereIn", deno: (s) => s.left.whereIn(s.right, "Sym"), py: `left.where_in(right, "Sym")` },
  {
    name: "whereNotIn",
    deno: (s) => s.left.whereNotIn(s.right, ["Sym"]),
    py: `left.where_not_in(right, ["Sym"])`,
  },
  {
    name: "whereIn renamed",
    deno: (s) => s.left.whereIn(s.right.view("Key = Sym"), "Sym = Key"),
    py: `left.where_in(right.view("Key = Sym"), "Sym = Key")`,
  },
  {
    name: "snapshotWhen initial",
    deno: (s) => s.left.snapshotWhen(s.right.tail(1), { initial: true, stampCols: "Stamp = R" }),
    py: `left.snapshot_when(right.tail(1), stamp_cols="Stamp = R", initial=True)`,
  },
  {
    name: "multiJoin",
    deno: (s) => multiJoin([s.left.view(["Sym", "X"]).lastBy("Sym"), s.right], "Sym"),
    py: `multi_join([left.view(["Sym", "X"]).last_by("Sym"), right], "Sym").table`,
  },
  {
    name: "multiJoin inputs",
    deno: (s) =>
      multiJoin([
        { table: s.left.view(["Sym", "X"]).firstBy("Sym"), on: "Key = Sym", joins: "FirstX = X" },
        { table: s.right, on: "Key = Sym", joins: ["R"] },
      ]),
    py:
      `multi_join([MultiJoinInput(left.view(["Sym", "X"]).first_by("Sym"), on="Key = Sym", joins="FirstX = X"),
    MultiJoinInput(right, on="Key = Sym", joins=["R"])]).table`,
  },
  {
    name: "renameColumns",
    deno: (s) => s.left.renameColumns(["Px = Y", "Ticker = Sym"]),
    server: `left.rename_columns(["Px = Y", "Ticker = Sym"])`,
  },
  {
    name: "renameColumns onto a column",
    deno: (s) => s.left.renameColumns("X = Y"),
    server: `left.rename_columns("X = Y")`,
  },
  {
    name: "renameColumns swap",
    deno: (s) => s.left.renameColumns(["X = Sym", "Sym = X"]),
    server: `left.rename_columns(["X = Sym", "Sym = X"])`,
  },
  {
    name: "moveColumns",
    deno: (s) => s.left.moveColumns(1, ["T", "Y"]),
    server: `left.move_columns(1, ["T", "Y"])`,
  },
  { name: "moveColumnsUp", deno: (s) => s.left.moveColumnsUp("T"), server: `left.move_columns_up("T")` },
  {
    name: "moveColumnsDown",
    deno: (s) => s.left.moveColumnsDown(["Sym", "X"]),
    server: `left.move_columns_down(["Sym", "X"])`,
  },
  { name: "headPct", deno: (s) => s.left.headPct(0.33), server: "left.head_pct(0.33)" },
  { name: "tailPct", deno: (s) => s.left.tailPct(0.25), server: "left.tail_pct(0.25)" },
  { name: "headPct 0", deno: (s) => s.left.headPct(0), server: "left.head_pct(0)" },
  { name: "tailPct 1", deno: (s) => s.left.tailPct(1), server: "left.tail_pct(1)" },
  {
    name: "leftOuterJoin",
    deno: (s) => s.left.leftOuterJoin(s.right, "Sym", "R"),
    server: `left_outer_join(left, right, on="Sym", joins="R")`,
  },
  {
    name: "leftOuterJoin all columns",
    deno: (s) => s.left.leftOuterJoin(s.right.view(["Key = Sym", "R"]), "Sym = Key"),
    server: `left_outer_join(left, right.view(["Key = Sym", "R"]), on="Sym = Key")`,
  },
  {
    name: "fullOuterJoin",
    deno: (s) => s.left.fullOuterJoin(s.right, "Sym", ["RR = R"]),
    server: `full_outer_join(left, right, on="Sym", joins=["RR = R"])`,
  },
  {
    name: "rangeJoin",
    deno: (s) => s.windows.rangeJoin(s.left, ["Sym", "Lo <= X < Hi"], agg.group(["Xs = X", "Ys = Y"])),
    server: `windows.range_join(left, on=["Sym", "Lo <= X < Hi"], aggs=agg.group(["Xs = X", "Ys = Y"]))`,
  },
  {
    name: "rangeJoin preceding",
    deno: (s) => s.windows.rangeJoin(s.left, ["<- Lo <= X <= Hi ->"], agg.group("Xs = X")),
    server: `windows.range_join(left, on=["<- Lo <= X <= Hi ->"], aggs=[agg.group("Xs = X")])`,
  },
  {
    name: "formatColumns",
    deno: (s) => s.left.formatColumns(["X = X > 10 ? `RED` : `GREEN`", "Y = Decimal(`0.00`)", "* = `BLUE`"]),
    server:
      `left.format_columns(["X = X > 10 ? \`RED\` : \`GREEN\`", "Y = Decimal(\`0.00\`)", "* = \`BLUE\`"])`,
  },
  {
    name: "formatColumnWhere",
    deno: (s) => s.left.formatColumnWhere("Y", "X % 2 == 0", "`YELLOW`"),
    server: `left.format_column_where("Y", "X % 2 == 0", "\`YELLOW\`")`,
  },
  {
    name: "formatRowWhere",
    deno: (s) => s.left.formatRowWhere("Sym == `B`", "bgfg(`RED`, `WHITE`)"),
    server: `left.format_row_where("Sym == \`B\`", "bgfg(\`RED\`, \`WHITE\`)")`,
  },
  {
    name: "flatten",
    deno: (s) => s.left.where("X % 4 == 1").flatten(),
    server: `left.where("X % 4 == 1").flatten()`,
  },
];

serverTest(
  "issue-15 table operations match pydeephaven and the server's Python API",
  {},
  async (server, t) => {
    const session = await connectPsk(server);
    try {
      const sources: Sources = {
        session,
        left: session.emptyTable(30).update(LEFT),
        right: session.emptyTable(3).update(RIGHT),
        windows: session.emptyTable(8).update(WINDOWS),
      };
      const prefix = uniqueName("ops2");
      const serverCases = CASES.filter((c) => c.server);
      const script = `from deephaven import empty_table, agg
from deephaven.experimental.outer_joins import left_outer_join, full_outer_join
left = empty_table(30).update(${py(LEFT)})
right = empty_table(3).update(${py(RIGHT)})
windows = empty_table(8).update(${py(WINDOWS)})
${serverCases.map((c, i) => `${prefix}_${i} = ${c.server}`).join("\n")}
`;
      const pyCases = CASES.filter((c) => c.py).map((c) =>
        `        ${JSON.stringify(c.name)}: (${c.py}).to_arrow(),`
      );
      const opened = serverCases.map((c, i) =>
        `    result[${JSON.stringify(c.name)}] = s.open_table("${prefix}_${i}").to_arrow()`
      );
      const code = `
from dh_peer import psk_session
from pydeephaven.table import multi_join, MultiJoinInput

s = psk_session()
try:
    left = s.empty_table(30).update(${py(LEFT)})
    right = s.empty_table(3).update(${py(RIGHT)})
    result = {
${pyCases.join("\n")}
    }
    s.run_script(${JSON.stringify(script)})
${opened.join("\n")}
finally:
    s.close()
`;
      const expected = await pythonArrowMany(code, serverEnv(server));

      await t.step("each operation gives the reference's data, schema and metadata", async () => {
        const failures: string[] = [];
        for (const c of CASES) {
          try {
            const exp = expected.get(c.name)!;
            assert.ok(exp, `${c.name}: the reference answered`);
            assertArrowEqual(await c.deno(sources).toArrow(), exp, c.name);
          } catch (e) {
            failures.push(e instanceof Error ? e.message : String(e));
          }
        }
        assert.deepEqual(failures, [], `${failures.length} of ${CASES.length} operations differ`);
        assert.ok(expected.get("whereIn")!.numRows > 0 && expected.get("whereNotIn")!.numRows > 0);
        assert.ok(
          expected.get("leftOuterJoin")!.getChild("R")!.nullCount > 0,
          "left outer join has unmatched rows",
        );
        assert.equal(
          expected.get("fullOuterJoin")!.numRows,
          31,
          "full outer join adds the unmatched right row",
        );
      });

      await t.step("bad arguments are INVALID_ARGUMENT errors that name the problem", async () => {
        const { left, right } = sources;
        const bad: [string, () => TableRef, RegExp][] = [
          ["renameColumns unknown", () => left.renameColumns("A = Nope"), /not found: Nope/],
          [
            "renameColumns duplicate",
            () => left.renameColumns(["A = X", "A = Y"]),
            /duplicate destination.*A/,
          ],
          ["renameColumns not a pair", () => left.renameColumns("A = X + 1"), /"New = Old" pairs/],
          ["moveColumns unknown", () => left.moveColumns(0, "Nope"), /not found: Nope/],
          ["headPct above 1", () => left.headPct(1.5), /between 0 and 1/],
          ["tailPct NaN", () => left.tailPct(Number.NaN), /between 0 and 1/],
          ["formatColumns unknown", () => left.formatColumns("Nope = `RED`"), /unknown column\(s\) Nope/],
          ["formatColumns malformed", () => left.formatColumns("just text"), /formats/],
          ["whereIn no columns", () => left.whereIn(right, []), /at least one column/],
          ["rangeJoin no aggs", () => left.rangeJoin(right, ["X < R < Y"], []), /at least one aggregation/],
          [
            "snapshotWhen history+initial",
            () => left.snapshotWhen(right, { history: true, initial: true }),
            /history/,
          ],
          ["multiJoin no on", () => multiJoin([left, right]), /needs 'on'/],
          ["partitionBy no keys", () => left.partitionBy([]).table, /at least one key/],
          [
            "leftOuterJoin unknown key",
            () => left.leftOuterJoin(right, "Nope", "R"),
            /failed: \w+Error: .*Unknown column names \[Nope\]/,
          ],
        ];
        for (const [what, make, message] of bad) {
          await rejectsWithin(async () => await make().ready(), what, {
            code: GrpcCode.INVALID_ARGUMENT,
            message: [message],
          });
        }
        // The source is still fine afterwards, and no temporary variable was left in the server's scope.
        assert.equal(await left.size(), 30);
        assert.deepEqual((await session.tables()).filter((n) => n.startsWith("__dh_deno_")), []);
      });

      await t.step("headPct of a ticking table follows its size", async () => {
        const source = session.inputTable({ schema: new Schema([new Field("X", new Int32())]) });
        const half = source.headPct(0.5);
        assert.equal(await half.isRefreshing(), true);
        const bs = await barragePsk(server);
        try {
          const live = await bs.subscribe(half);
          assert.equal(live.size, 0);
          await source.add([{ X: 1 }, { X: 2 }, { X: 3 }]);
          assert.ok(await waitUntil(live, () => live.size === 2, 20_000), `2 of 3 rows, got ${live.size}`);
          await source.add([{ X: 4 }, { X: 5 }, { X: 6 }, { X: 7 }]);
          assert.ok(await waitUntil(live, () => live.size === 4, 20_000), `4 of 7 rows, got ${live.size}`);
          assert.deepEqual([...live.toArrow().getChild("X")!.toArray()], [1, 2, 3, 4]);
          const tail = await source.tailPct(0.3).toArrow();
          assert.deepEqual([...tail.getChild("X")!.toArray()], [5, 6, 7], "tailPct of the ticking table now");
        } finally {
          await bs.close();
        }
      });
    } finally {
      await session.close();
    }
  },
);
