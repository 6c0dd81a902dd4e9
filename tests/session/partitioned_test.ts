/**
 * Partitioned tables against the real server: `partitionBy` on one and two key columns and with `dropKeys`,
 * its keys, constituents (`getTable`) and `merge()`, each compared with the server's own Python
 * `partition_by` / `keys()` / `get_constituent` / `merge()` read back through pydeephaven (pydeephaven has no
 * partitioned tables); a ticking partitioned table whose constituent is subscribed to with Barrage and gets
 * only its key's rows, and whose new keys appear; and errors for unknown keys and columns.
 *
 * @module
 */

import assert from "node:assert/strict";
import { Field, Int32, Schema, Utf8 } from "apache-arrow";
import { GrpcCode, PartitionedTable } from "../../mod.ts";
import { serverTest } from "../../testing/server.ts";
import { pythonArrowMany, serverEnv } from "../../testing/python.ts";
import { assertArrowEqual } from "../../testing/compare.ts";
import { waitUntil } from "../../testing/wait.ts";
import { barragePsk, connectPsk, eventually, rejectsWithin, uniqueName } from "./util.ts";

const SOURCE = [
  "Sym = i % 3 == 0 ? `A` : i % 3 == 1 ? `B` : `C`",
  "Side = i % 2 == 0 ? `buy` : `sell`",
  "X = i",
  "Px = i * 0.25",
];

serverTest(
  "partitioned tables: keys, constituents and merge as the server's own, live constituents",
  {},
  async (
    server,
    t,
  ) => {
    const session = await connectPsk(server);
    const bs = await barragePsk(server);
    try {
      const p = uniqueName("pt");
      const script = `from deephaven import empty_table
${p}_src = empty_table(20).update(${JSON.stringify(SOURCE)})
${p}_pt = ${p}_src.partition_by("Sym")
${p}_keys = ${p}_pt.keys()
${p}_a = ${p}_pt.get_constituent("A")
${p}_c = ${p}_pt.get_constituent(["C"])
${p}_merged = ${p}_pt.merge()
${p}_two = ${p}_src.partition_by(["Sym", "Side"]).get_constituent(["B", "sell"])
${p}_drop = ${p}_src.partition_by("Sym", drop_keys=True).get_constituent("B")
`;
      const names = ["keys", "a", "c", "merged", "two", "drop"];
      const code = `
from dh_peer import psk_session
s = psk_session()
try:
    s.run_script(${JSON.stringify(script)})
    result = {n: s.open_table("${p}_" + n).to_arrow() for n in ${JSON.stringify(names)}}
finally:
    s.close()
`;
      const expected = await pythonArrowMany(code, serverEnv(server));
      const source = session.emptyTable(20).update(SOURCE);

      await t.step("keys, constituents and merge are the server's", async () => {
        const bySym = source.partitionBy("Sym");
        assert.ok(bySym instanceof PartitionedTable);
        assert.deepEqual(await bySym.keyColumns(), ["Sym"]);
        assert.equal(await bySym.uniqueKeys(), true);
        assert.equal(typeof await bySym.constituentColumn(), "string");
        assert.deepEqual((await bySym.constituentSchema()).fields.map((f) => f.name), [
          "Sym",
          "Side",
          "X",
          "Px",
        ]);
        assert.deepEqual(await bySym.keys(), [["A"], ["B"], ["C"]]);
        assertArrowEqual(await bySym.keyTable().toArrow(), expected.get("keys")!, "keyTable()", {
          schemaMetadata: false, // the server's keys() is a select_distinct, ours a view: other table attributes
        });
        assertArrowEqual(await bySym.getTable("A").toArrow(), expected.get("a")!, "getTable(A)");
        assertArrowEqual(await bySym.getTable(["C"]).toArrow(), expected.get("c")!, "getTable([C])");
        assertArrowEqual(await bySym.merge().toArrow(), expected.get("merged")!, "merge()");
        const all = await bySym.constituents();
        assert.deepEqual(all.map((c) => c.key), [["A"], ["B"], ["C"]]);
        assert.deepEqual(await Promise.all(all.map((c) => c.table.size())), [7, 7, 6]);
        assert.match(String(bySym), /^PartitionedTable\(.*partitionBy\(\["Sym"\]\), export \d+\)$/);
        await bySym.close();
        assert.match(String(bySym), /closed\)$/);
        assert.throws(() => bySym.merge(), /was closed/);
      });

      await t.step("two key columns, and dropKeys", async () => {
        const two = source.partitionBy(["Sym", "Side"]);
        assert.equal((await two.keys()).length, 6);
        assertArrowEqual(
          await two.getTable(["B", "sell"]).toArrow(),
          expected.get("two")!,
          "getTable([B, sell])",
        );
        const dropped = source.partitionBy("Sym", true);
        assert.deepEqual((await dropped.constituentSchema()).fields.map((f) => f.name), ["Side", "X", "Px"]);
        assertArrowEqual(
          await dropped.getTable("B").toArrow(),
          expected.get("drop")!,
          "dropKeys getTable(B)",
        );
        // Keys of other types come back in the form getTable takes.
        const odd = session.emptyTable(20).update([
          "Ch = i % 2 == 0 ? 'x' : 'y'",
          "Ts = '2024-01-01T00:00:00.000000001 UTC' + (i % 4 < 2 ? 0 : SECOND)",
          "X = i",
        ]).partitionBy(["Ch", "Ts"]);
        const keys = await odd.keys();
        assert.deepEqual(keys, [
          ["x", 1_704_067_200_000_000_001n],
          ["y", 1_704_067_200_000_000_001n],
          ["x", 1_704_067_201_000_000_001n],
          ["y", 1_704_067_201_000_000_001n],
        ]);
        assert.deepEqual(await Promise.all(keys.map((k) => odd.getTable(k).size())), [5, 5, 5, 5]);
      });

      await t.step("unknown keys and columns are clear errors", async () => {
        const bySym = source.partitionBy("Sym");
        await rejectsWithin(() => bySym.getTable("Z").ready(), "an unknown key", {
          code: GrpcCode.NOT_FOUND,
          message: [/no constituent with this key/],
        });
        await rejectsWithin(() => bySym.getTable(["A", "buy"]).ready(), "too many key values", {
          code: GrpcCode.INVALID_ARGUMENT,
          message: [/one value per key column \(Sym\)/],
        });
        await rejectsWithin(() => bySym.getTable(5).ready(), "a key of the wrong type", {
          code: GrpcCode.INVALID_ARGUMENT,
          message: [/column 'Sym'/],
        });
        await rejectsWithin(() => source.partitionBy("Nope").ready(), "an unknown key column", {
          code: GrpcCode.INVALID_ARGUMENT,
          message: [/Nope/],
        });
      });

      await t.step(
        "a constituent of a ticking table can be subscribed to and gets its key's rows",
        async () => {
          const input = session.inputTable({
            schema: new Schema([new Field("Sym", new Utf8()), new Field("X", new Int32())]),
          });
          await input.add([{ Sym: "A", X: 1 }, { Sym: "B", X: 2 }]);
          const bySym = input.partitionBy("Sym");
          const a = await bs.subscribe(bySym.getTable("A"));
          const merged = await bs.subscribe(bySym.merge());
          assert.deepEqual([a.size, merged.size], [1, 2]);
          let aUpdates = 0;
          a.onUpdate(() => aUpdates++);
          await input.add([{ Sym: "B", X: 3 }, { Sym: "A", X: 4 }, { Sym: "A", X: 5 }]);
          assert.ok(await waitUntil(a, () => a.size === 3, 20_000), `A has 3 rows, got ${a.size}`);
          assert.deepEqual([...a.toArrow().getChild("X")!.toArray()], [1, 4, 5]);
          assert.ok(await waitUntil(merged, () => merged.size === 5, 20_000), "the merge follows");
          const seen = aUpdates;
          await input.add([{ Sym: "B", X: 6 }]);
          assert.ok(await waitUntil(merged, () => merged.size === 6, 20_000), "the merge has B's new row");
          assert.equal(aUpdates, seen, "A's constituent got no update for a row of B");
          await input.add([{ Sym: "C", X: 7 }]);
          await eventually(async () => (await bySym.keys()).length === 3, "the new key C appears");
          assert.deepEqual(await bySym.getTable("C").toArrow().then((x) => x.numRows), 1);
          a.close();
          merged.close();
        },
      );
    } finally {
      await bs.close();
      await session.close();
    }
  },
);
