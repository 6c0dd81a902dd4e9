/**
 * `updateBy` with every `uby` operation against the real server, each compared with pydeephaven's
 * `update_by` with the same `updateby` operation on the same source (grouped by key columns or not, by ticks
 * and by time, with and without options), and bad operations refused as `INVALID_ARGUMENT`.
 *
 * @module
 */

import assert from "node:assert/strict";
import { GrpcCode, type TableRef, uby, type UpdateByOperation } from "../../mod.ts";
import { serverTest } from "../../testing/server.ts";
import { pythonArrowMany, serverEnv } from "../../testing/python.ts";
import { assertArrowEqual } from "../../testing/compare.ts";
import { connectPsk, rejectsWithin } from "./util.ts";

const SOURCE = [
  "Sym = i % 3 == 0 ? `A` : i % 3 == 1 ? `B` : `C`",
  "Side = i % 2 == 0 ? `buy` : `sell`",
  "X = i % 7 == 3 ? NULL_INT : (i * 37) % 23 - 5",
  "Y = i % 5 == 4 ? NULL_DOUBLE : ((i * 13) % 17) * 0.75 - 3.5",
  "W = 1 + i % 4",
  "T = '2024-01-01T00:00:00 ET' + (i * 7 % 5 + i * 3) * SECOND",
];

/** One case: this module's operations and pydeephaven's, with the group-by columns. */
interface Case {
  name: string;
  ops: () => UpdateByOperation[];
  py: string;
  by?: string[];
}

const CASES: Case[] = [
  {
    name: "cumulative",
    ops: () => [
      uby.cumSum(["SX = X", "SY = Y"]),
      uby.cumMin("MinX = X"),
      uby.cumMax("MaxY = Y"),
      uby.cumProd("PW = W"),
    ],
    py:
      `[ub.cum_sum(["SX = X", "SY = Y"]), ub.cum_min("MinX = X"), ub.cum_max("MaxY = Y"), ub.cum_prod("PW = W")]`,
    by: ["Sym"],
  },
  {
    name: "cumulative ungrouped",
    ops: () => [uby.cumSum("X"), uby.cumCountWhere("Big", "X > 3")],
    py: `[ub.cum_sum("X"), ub.cum_count_where("Big", "X > 3")]`,
  },
  {
    name: "forwardFill and delta",
    ops: () => [
      uby.forwardFill(["FX = X", "FY = Y"]),
      uby.delta("DX = X"),
      uby.delta("DV = X", "VALUE_DOMINATES"),
      uby.delta("DZ = Y", "ZERO_DOMINATES"),
    ],
    py: `[ub.forward_fill(["FX = X", "FY = Y"]), ub.delta("DX = X"),
    ub.delta("DV = X", ub.DeltaControl.VALUE_DOMINATES), ub.delta("DZ = Y", ub.DeltaControl.ZERO_DOMINATES)]`,
    by: ["Sym", "Side"],
  },
  {
    name: "exponential by ticks",
    ops: () => [
      uby.emaTick(3, "EmaX = X"),
      uby.emsTick(2.5, "EmsY = Y"),
      uby.emminTick(4, "EmMinX = X"),
      uby.emmaxTick(4, "EmMaxY = Y"),
      uby.emstdTick(5, "EmStdX = X"),
      uby.emaTick(3, "EmaR = Y", { onNull: "RESET", onNan: "POISON", bigValueContext: "DECIMAL64" }),
    ],
    py: `[ub.ema_tick(3, "EmaX = X"), ub.ems_tick(2.5, "EmsY = Y"), ub.emmin_tick(4, "EmMinX = X"),
    ub.emmax_tick(4, "EmMaxY = Y"), ub.emstd_tick(5, "EmStdX = X"),
    ub.ema_tick(3, "EmaR = Y", ub.OperationControl(on_null=ub.BadDataBehavior.RESET,
        on_nan=ub.BadDataBehavior.POISON, big_value_context=ub.MathContext.DECIMAL64))]`,
    by: ["Sym"],
  },
  {
    name: "exponential by time",
    ops: () => [
      uby.emaTime("T", "PT10s", "EmaX = X"),
      uby.emsTime("T", 5_000_000_000, "EmsY = Y"),
      uby.emminTime("T", 7_000_000_000n, "EmMinX = X"),
      uby.emmaxTime("T", "PT7s", "EmMaxY = Y"),
      uby.emstdTime("T", "PT20s", "EmStdX = X"),
    ],
    py: `[ub.ema_time("T", "PT10s", "EmaX = X"), ub.ems_time("T", 5000000000, "EmsY = Y"),
    ub.emmin_time("T", 7000000000, "EmMinX = X"), ub.emmax_time("T", "PT7s", "EmMaxY = Y"),
    ub.emstd_time("T", "PT20s", "EmStdX = X")]`,
    by: ["Side"],
  },
  {
    name: "rolling by ticks",
    ops: () => [
      uby.rollingSumTick("RSX = X", 3),
      uby.rollingAvgTick("RAY = Y", 4, 1),
      uby.rollingMinTick("RMinX = X", 5, -1),
      uby.rollingMaxTick("RMaxY = Y", 2, 2),
      uby.rollingStdTick("RStdY = Y", 6),
      uby.rollingCountTick("RCX = X", 4),
      uby.rollingProdTick("RPW = W", 3),
      uby.rollingGroupTick("RGX = X", 3),
      uby.rollingWavgTick("W", "RWY = Y", 4),
      uby.rollingFormulaTick("sum(x) - min(x)", "x", "RFX = X", 4),
      uby.rollingCountWhereTick("RCW", "X > 0", 5),
    ],
    py: `[ub.rolling_sum_tick("RSX = X", 3), ub.rolling_avg_tick("RAY = Y", 4, 1),
    ub.rolling_min_tick("RMinX = X", 5, -1), ub.rolling_max_tick("RMaxY = Y", 2, 2),
    ub.rolling_std_tick("RStdY = Y", 6), ub.rolling_count_tick("RCX = X", 4), ub.rolling_prod_tick("RPW = W", 3),
    ub.rolling_group_tick("RGX = X", 3), ub.rolling_wavg_tick("W", "RWY = Y", 4),
    ub.rolling_formula_tick("sum(x) - min(x)", "x", "RFX = X", 4), ub.rolling_count_where_tick("RCW", "X > 0", 5)]`,
    by: ["Sym"],
  },
  {
    name: "rolling by time",
    ops: () => [
      uby.rollingSumTime("T", "RSX = X", "PT10s"),
      uby.rollingAvgTime("T", "RAY = Y", "PT10s", "PT5s"),
      uby.rollingMinTime("T", "RMinX = X", 20_000_000_000),
      uby.rollingMaxTime("T", "RMaxY = Y", "PT15s", "-PT5s"),
      uby.rollingStdTime("T", "RStdY = Y", "PT30s"),
      uby.rollingCountTime("T", "RCX = X", "PT12s"),
      uby.rollingProdTime("T", "RPW = W", "PT6s"),
      uby.rollingGroupTime("T", "RGX = X", "PT9s"),
      uby.rollingWavgTime("T", "W", "RWY = Y", "PT10s"),
      uby.rollingFormulaTime("T", "avg(x)", "x", "RFX = X", "PT10s"),
      uby.rollingCountWhereTime("T", "RCW", ["X > 0", "Y < 5"], "PT10s"),
    ],
    py: `[ub.rolling_sum_time("T", "RSX = X", "PT10s"), ub.rolling_avg_time("T", "RAY = Y", "PT10s", "PT5s"),
    ub.rolling_min_time("T", "RMinX = X", 20000000000), ub.rolling_max_time("T", "RMaxY = Y", "PT15s", "-PT5s"),
    ub.rolling_std_time("T", "RStdY = Y", "PT30s"), ub.rolling_count_time("T", "RCX = X", "PT12s"),
    ub.rolling_prod_time("T", "RPW = W", "PT6s"), ub.rolling_group_time("T", "RGX = X", "PT9s"),
    ub.rolling_wavg_time("T", "W", "RWY = Y", "PT10s"),
    ub.rolling_formula_time("T", "avg(x)", "x", "RFX = X", "PT10s"),
    ub.rolling_count_where_time("T", "RCW", ["X > 0", "Y < 5"], "PT10s")]`,
    by: ["Side", "Sym"],
  },
  {
    name: "one operation, all columns",
    ops: () => [uby.cumMax(["X", "Y"])],
    py: `ub.cum_max(["X", "Y"])`,
  },
];

serverTest("updateBy with every uby operation matches pydeephaven's update_by", {}, async (server, t) => {
  const session = await connectPsk(server);
  try {
    const source: TableRef = session.emptyTable(60).update(SOURCE).sort("T");
    const lines = CASES.map((c) =>
      `    ${JSON.stringify(c.name)}: src.update_by(${c.py}${
        c.by ? `, by=${JSON.stringify(c.by)}` : ""
      }).to_arrow(),`
    );
    const code = `
from dh_peer import psk_session
from pydeephaven import updateby as ub

s = psk_session()
try:
    src = s.empty_table(60).update(${JSON.stringify(SOURCE)}).sort("T")
    result = {
${lines.join("\n")}
    }
finally:
    s.close()
`;
    const expected = await pythonArrowMany(code, serverEnv(server));

    await t.step("every case gives pydeephaven's data, schema and metadata", async () => {
      const failures: string[] = [];
      for (const c of CASES) {
        try {
          const ref = source.updateBy(c.ops(), c.by);
          assert.ok(ref.description.includes("updateBy("), "the description names the operation");
          assertArrowEqual(await ref.toArrow(), expected.get(c.name)!, c.name);
        } catch (e) {
          failures.push(e instanceof Error ? e.message : String(e));
        }
      }
      assert.deepEqual(failures, [], `${failures.length} of ${CASES.length} cases differ`);
      const rolling = expected.get("rolling by ticks")!;
      assert.equal(rolling.numRows, 60);
      assert.ok(rolling.getChild("RSX")!.nullCount < 60, "the reference computed values");
    });

    await t.step("a single operation and a string group-by work like the lists", async () => {
      const one = await source.updateBy(uby.cumSum("SX = X"), "Sym").toArrow();
      const list = await source.updateBy([uby.cumSum("SX = X")], ["Sym"]).toArrow();
      assertArrowEqual(one, list, "single vs list");
    });

    await t.step("bad operations are INVALID_ARGUMENT errors", async () => {
      const bad: [string, () => unknown, RegExp][] = [
        ["no operations", () => source.updateBy([]), /at least one operation/],
        ["not an operation", () => source.updateBy(["X"] as never), /built with uby/],
        ["bad ticks", () => uby.emaTick(Number.NaN, "X"), /finite number of ticks/],
        ["fractional nanos", () => uby.rollingSumTime("T", "X", 1.5), /whole nanoseconds/],
        ["no timestamp column", () => uby.emaTime("", "PT1s", "X"), /timestamp column/],
        ["bad control", () => uby.emaTick(2, "X", { onNull: "IGNORE" as never }), /onNull must be one of/],
        ["bad delta control", () => uby.delta("X", "NONE" as never), /deltaControl must be one of/],
        ["count where without filters", () => uby.cumCountWhere("N", []), /at least one filter/],
      ];
      for (const [what, make, message] of bad) {
        await rejectsWithin(async () => await make(), what, {
          code: GrpcCode.INVALID_ARGUMENT,
          message: [message],
        });
      }
      await rejectsWithin(
        () => source.updateBy(uby.cumSum("Nope")).ready(),
        "an unknown column",
        { code: GrpcCode.INVALID_ARGUMENT, message: [/Nope/] },
      );
    });
  } finally {
    await session.close();
  }
});
