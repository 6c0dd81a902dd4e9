import assert from "node:assert/strict";
import { DeephavenError } from "../errors.ts";
import { conditionalFormat, renamePlan } from "./more_ops.ts";

const COLS = ["A", "B", "C", "D"];

Deno.test("renamePlan follows the server's renameColumns: in place, a taken name is dropped", () => {
  assert.deepEqual(renamePlan(COLS, [["X", "B"]], -1, "r"), [["A", "A"], ["X", "B"], ["C", "C"], ["D", "D"]]);
  assert.deepEqual(renamePlan(COLS, [["A", "C"]], -1, "r"), [["B", "B"], ["A", "C"], ["D", "D"]]);
  assert.deepEqual(renamePlan(COLS, [["B", "A"], ["A", "B"]], -1, "r"), [["B", "A"], ["A", "B"], ["C", "C"], [
    "D",
    "D",
  ]]);
});

Deno.test("renamePlan follows the server's moveColumns: moved columns in the order given", () => {
  assert.deepEqual(renamePlan(COLS, [["D", "D"], ["B", "B"]], 1, "m").map(([o]) => o), ["A", "D", "B", "C"]);
  assert.deepEqual(renamePlan(COLS, [["C", "C"]], 0, "m").map(([o]) => o), ["C", "A", "B", "D"]);
  assert.deepEqual(renamePlan(COLS, [["A", "A"], ["B", "B"]], 2, "m").map(([o]) => o), ["C", "D", "A", "B"]);
  assert.deepEqual(renamePlan(COLS, [["A", "A"]], 99, "m").map(([o]) => o), ["B", "C", "D", "A"]);
});

Deno.test("renamePlan refuses unknown and duplicate columns as the server does", () => {
  for (
    const [pairs, pattern] of [
      [[["X", "Nope"]], /not found: Nope/],
      [[["X", "A"], ["Y", "A"]], /duplicate source column\(s\): A/],
      [[["X", "A"], ["X", "B"]], /duplicate destination column\(s\): X/],
    ] as [[string, string][], RegExp][]
  ) {
    assert.throws(() => renamePlan(COLS, pairs, -1, "Renaming"), (e: unknown) => {
      assert.ok(e instanceof DeephavenError && e.codeName === "INVALID_ARGUMENT");
      assert.match(e.message, pattern);
      return true;
    });
  }
});

Deno.test("conditionalFormat is the server's formatColumnWhere formula", () => {
  assert.equal(
    conditionalFormat("X", "X > 1", "`RED`"),
    "X = (X > 1) ? io.deephaven.engine.util.ColorUtil.toLong(`RED`) : " +
      "io.deephaven.engine.util.ColorUtil.toLong(NO_FORMATTING)",
  );
});
