/**
 * Input tables against the real server: made from an Arrow schema and from a table (schemas compared with
 * pydeephaven's `input_table`); rows added as plain objects, an apache-arrow Table, a LocalTable and a server
 * table, keys deleted, with the same sequence run by pydeephaven on its own input table and the contents
 * compared; a Barrage subscription that sees each add and delete as one update; bad rows refused with a
 * DeephavenError that names the row and column, and nothing changed on the server (the next update the
 * subscriber sees is the next good add).
 *
 * @module
 */

import assert from "node:assert/strict";
import {
  Bool,
  Field,
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
import { DeephavenError, GrpcCode, InputTable, localTableFromArrow, type TableUpdate } from "../../mod.ts";
import { serverTest } from "../../testing/server.ts";
import { pythonArrowMany, serverEnv } from "../../testing/python.ts";
import { assertArrowEqual } from "../../testing/compare.ts";
import { waitUntil } from "../../testing/wait.ts";
import { barragePsk, connectPsk, rejectsWithin } from "./util.ts";

const SCHEMA = new Schema([
  new Field("Sym", new Utf8()),
  new Field("Qty", new Int32()),
  new Field("Px", new Float64()),
  new Field("Big", new Int64()),
  new Field("T", new TimestampNanosecond("UTC")),
  new Field("Ok", new Bool()),
]);
const PY_SCHEMA =
  `pa.schema([("Sym", pa.string()), ("Qty", pa.int32()), ("Px", pa.float64()), ("Big", pa.int64()),
    ("T", pa.timestamp("ns", tz="UTC")), ("Ok", pa.bool_())])`;

/** An apache-arrow table of SCHEMA's columns. */
function arrow(
  rows: { Sym: string; Qty: number | null; Px: number; Big: bigint; T: bigint; Ok: boolean }[],
): Table {
  const t = makeVector(makeData({
    type: new TimestampNanosecond("UTC"),
    length: rows.length,
    nullCount: 0,
    data: BigInt64Array.from(rows.map((r) => r.T)),
  }));
  return new Table({
    Sym: vectorFromArray(rows.map((r) => r.Sym), new Utf8()),
    Qty: vectorFromArray(rows.map((r) => r.Qty), new Int32()),
    Px: vectorFromArray(rows.map((r) => r.Px), new Float64()),
    Big: vectorFromArray(rows.map((r) => r.Big), new Int64()),
    T: t,
    Ok: vectorFromArray(rows.map((r) => r.Ok), new Bool()),
  });
}

/** The steps, each as this module does it and as pydeephaven does it (`it` is pydeephaven's input table). */
const STEP_ROWS = {
  plain: [
    { Sym: "A", Qty: 10, Px: 1.5, Big: 2n ** 53n + 1n, T: 1_704_067_200_123_456_789n, Ok: true },
    { Sym: "B", Qty: null, Px: -0.25, Big: -7n, T: new Date(Date.UTC(2024, 0, 2)), Ok: false },
  ],
  arrow: [
    { Sym: "C", Qty: 3, Px: 3.25, Big: 30n, T: 1n, Ok: true },
    { Sym: "A", Qty: 11, Px: 1.75, Big: 31n, T: 2n, Ok: false },
  ],
  local: [{ Sym: "D", Qty: 4, Px: 4.5, Big: 40n, T: -1_000_000_000n, Ok: true }],
};
const PY_STEPS = `
    it.add(s.import_table(pa.table({"Sym": ["A", "B"], "Qty": pa.array([10, None], pa.int32()),
        "Px": [1.5, -0.25], "Big": [2**53 + 1, -7],
        "T": pa.array([1704067200123456789, 1704153600000000000], pa.timestamp("ns", tz="UTC")),
        "Ok": [True, False]}, schema=sch)))
    it.add(s.import_table(pa.table({"Sym": ["C", "A"], "Qty": pa.array([3, 11], pa.int32()), "Px": [3.25, 1.75],
        "Big": [30, 31], "T": pa.array([1, 2], pa.timestamp("ns", tz="UTC")), "Ok": [True, False]}, schema=sch)))
    it.add(s.import_table(pa.table({"Sym": ["D"], "Qty": pa.array([4], pa.int32()), "Px": [4.5], "Big": [40],
        "T": pa.array([-1000000000], pa.timestamp("ns", tz="UTC")), "Ok": [True]}, schema=sch)))
    it.add(s.empty_table(2).update(SERVER_ROWS))
    it.delete(s.import_table(pa.table({"Sym": ["B"]})))
    it.delete(s.empty_table(1).update("Sym = \`C\`"))
`;
const SERVER_ROWS = [
  "Sym = i == 0 ? `E` : `D`",
  "Qty = (int) (i + 50)",
  "Px = i * 0.5",
  "Big = (long) i",
  "T = '2024-03-01T00:00:00 UTC' + i * SECOND",
  "Ok = i == 0",
];

serverTest(
  "input tables: add, delete, subscribe and refuse bad rows, as pydeephaven",
  {},
  async (server, t) => {
    const session = await connectPsk(server);
    const bs = await barragePsk(server);
    try {
      const code = `
import pyarrow as pa
from dh_peer import psk_session
SERVER_ROWS = ${JSON.stringify(SERVER_ROWS)}
s = psk_session()
try:
    sch = ${PY_SCHEMA}
    it = s.input_table(schema=sch, key_cols="Sym")
    result = {"schema keyed": it.schema.empty_table()}
    ao = s.input_table(init_table=s.empty_table(3).update(["X = i", "S = \`s\` + i"]))
    result["schema append-only"] = ao.schema.empty_table()
    bl = s.input_table(schema=sch, blink_table=True)
    result["schema blink"] = bl.schema.empty_table()
${PY_STEPS}
    result["after steps"] = it.to_arrow()
    ao.add(s.empty_table(3).update(["X = i", "S = \`s\` + i"]))
    ao.add(s.empty_table(3).update(["X = i", "S = \`s\` + i"]))
    result["append-only"] = ao.to_arrow()
finally:
    s.close()
`;
      const expected = await pythonArrowMany(code, serverEnv(server));

      const keyed = session.inputTable({ schema: SCHEMA, keyColumns: "Sym" });
      const init = session.emptyTable(3).update(["X = i", "S = `s` + i"]);
      const appendOnly = session.inputTable({ initTable: init });
      const blink = session.inputTable({ schema: SCHEMA, blink: true });

      await t.step("made from a schema or a table, with pydeephaven's schemas", async () => {
        assert.ok(keyed instanceof InputTable);
        assertArrowEqual(
          new Table(await keyed.schema() as Schema),
          expected.get("schema keyed")!,
          "keyed schema",
        );
        assertArrowEqual(
          new Table(await appendOnly.schema() as Schema),
          expected.get("schema append-only")!,
          "append-only",
        );
        assertArrowEqual(
          new Table(await blink.schema() as Schema),
          expected.get("schema blink")!,
          "blink schema",
        );
        assert.deepEqual(await keyed.keyColumns(), ["Sym"]);
        assert.deepEqual(await appendOnly.keyColumns(), []);
        assert.equal(await keyed.isRefreshing(), true);
        assert.equal(await keyed.size(), 0);
      });

      const live = await bs.subscribe(keyed);
      const updates: TableUpdate[] = [];
      live.onUpdate((u) => updates.push(u));
      /** Runs a step and returns the one update the subscriber sees for it. */
      const step = async (run: () => Promise<void>): Promise<TableUpdate> => {
        const before = updates.length;
        await run();
        assert.ok(await waitUntil(live, () => updates.length > before, 20_000), "an update arrived");
        assert.equal(updates.length, before + 1, "exactly one update");
        return updates[before];
      };

      await t.step("each add and delete reaches a subscriber as one Barrage update", async () => {
        let u = await step(() => keyed.add(STEP_ROWS.plain));
        assert.deepEqual([u.added.size, u.removed.size, u.modified.size], [2, 0, 0], "plain rows added");
        u = await step(() => keyed.add(arrow(STEP_ROWS.arrow)));
        assert.deepEqual([u.added.size, u.modified.size], [1, 1], "an Arrow table: C added, A replaced");
        u = await step(() => keyed.add(localTableFromArrow(arrow(STEP_ROWS.local))));
        assert.deepEqual([u.added.size, u.modified.size], [1, 0], "a LocalTable");
        u = await step(() => keyed.add(session.emptyTable(2).update(SERVER_ROWS)));
        assert.deepEqual([u.added.size, u.modified.size], [1, 1], "a server table: E added, D replaced");
        u = await step(() => keyed.delete([{ Sym: "B", Qty: 99 }]));
        assert.deepEqual(
          [u.added.size, u.removed.size],
          [0, 1],
          "delete by plain rows (other columns ignored)",
        );
        u = await step(() => keyed.delete(session.emptyTable(1).update("Sym = `C`")));
        assert.deepEqual([u.removed.size, live.size], [1, 3], "delete by a server table");
        assertArrowEqual(
          await keyed.toArrow(),
          expected.get("after steps")!,
          "after the same steps as pydeephaven",
        );
        assertArrowEqual(live.toArrow(), expected.get("after steps")!, "the subscriber's copy", {
          fieldMetadata: false,
        });
        assert.equal(live.get(live.size - 1, "Sym"), "E");
      });

      await t.step("bad rows are refused, naming the row and column, and change nothing", async () => {
        const before = await keyed.toArrow();
        const seen = updates.length;
        const bad: [string, () => Promise<void>, RegExp][] = [
          [
            "a string in an int column",
            () => keyed.add([{ Sym: "Z", Qty: "ten" }]),
            /row 0, column 'Qty' \(int\)/,
          ],
          [
            "a fraction in an int column",
            () => keyed.add([{ Sym: "Z", Qty: 1 }, { Sym: "Y", Qty: 1.5 }]),
            /row 1/,
          ],
          ["an int out of range", () => keyed.add([{ Sym: "Z", Qty: 2 ** 31 }]), /column 'Qty'/],
          ["an unsafe long number", () => keyed.add([{ Sym: "Z", Big: 2 ** 60 }]), /column 'Big'/],
          ["a number as a timestamp", () => keyed.add([{ Sym: "Z", T: 5 }]), /column 'T'.*Date or epoch/],
          [
            "a missing key",
            () => keyed.add([{ Sym: "Z" }, { Qty: 3 }]),
            /row 1 has no value for the key column 'Sym'/,
          ],
          ["a null key", () => keyed.add([{ Sym: null, Qty: 3 }]), /key column 'Sym'/],
          [
            "an unknown column",
            () => keyed.add([{ Sym: "Z", Price: 3 }]),
            /column 'Price' that the table does not/,
          ],
          ["not an object", () => keyed.add([5 as never]), /row 0 is 5/],
          [
            "an Arrow column of the wrong type",
            () =>
              keyed.add(new Table({ Sym: vectorFromArray(["Z"], new Utf8()), Qty: vectorFromArray([1.5]) })),
            /column 'Qty' is Float64 in the data but int/,
          ],
          [
            "an Arrow table without a column",
            () => keyed.add(new Table({ Sym: vectorFromArray(["Z"], new Utf8()) })),
            /no column 'Qty'/,
          ],
          [
            "an Arrow null key",
            () => keyed.delete(new Table({ Sym: vectorFromArray([null, "A"], new Utf8()) })),
            /row 0 has no value for the key column 'Sym'/,
          ],
          [
            "a server table of the wrong type",
            () =>
              keyed.add(
                session.emptyTable(1).update([
                  "Sym = `Z`",
                  "Qty = 1.5",
                  "Px = 1.0",
                  "Big = 1L",
                  "T = now()",
                  "Ok = true",
                ]),
              ),
            /Qty/,
          ],
          ["a delete without keys", () => keyed.delete([{ Qty: 1 }]), /no value for the key column 'Sym'/],
          ["deleting from an append-only table", () => appendOnly.delete([{ X: 1 }]), /not keyed/],
          ["not rows", () => keyed.add(42 as never), /array of objects/],
        ];
        for (const [what, run, message] of bad) {
          const e = await rejectsWithin(run, what, { code: GrpcCode.INVALID_ARGUMENT, message: [message] });
          assert.ok(e instanceof DeephavenError);
        }
        assertArrowEqual(await keyed.toArrow(), before, "the table is unchanged");
        // The next update the subscriber sees is the next good add: nothing was applied in between.
        const u = await step(() => keyed.add([{ Sym: "Z", Qty: 1 }]));
        assert.equal(updates.length, seen + 1);
        assert.deepEqual([u.added.size, u.modified.size, u.removed.size], [1, 0, 0]);
        assert.equal(live.size, 4);
      });

      await t.step("append-only from a table keeps every added row, as pydeephaven", async () => {
        await appendOnly.add(init);
        await appendOnly.add(await init.toArrow());
        assertArrowEqual(
          await appendOnly.toArrow(),
          expected.get("append-only")!,
          "append-only after two adds",
        );
      });

      await t.step("a blink input table shows each add once", async () => {
        const b = await bs.subscribe(blink);
        try {
          let added = 0;
          b.onUpdate((u) => (added += u.added.size));
          await blink.add(STEP_ROWS.plain);
          assert.ok(await waitUntil(b, () => added === 2, 20_000), `2 rows arrived, got ${added}`);
          assert.ok(await waitUntil(b, () => b.size === 0, 20_000), "and left with the next cycle");
        } finally {
          b.close();
        }
      });

      await t.step("bad options are refused at once", async () => {
        const bad: [string, () => unknown, RegExp][] = [
          ["neither", () => session.inputTable({}), /either a schema or an initTable/],
          [
            "both",
            () => session.inputTable({ schema: SCHEMA, initTable: init }),
            /either a schema or an initTable/,
          ],
          [
            "blink with keys",
            () => session.inputTable({ schema: SCHEMA, keyColumns: "Sym", blink: true }),
            /blink/,
          ],
          ["unknown key", () => session.inputTable({ schema: SCHEMA, keyColumns: "Nope" }), /Nope/],
          ["no columns", () => session.inputTable({ schema: new Schema([]) }), /a schema with columns/],
          [
            "not a schema",
            () => session.inputTable({ schema: "Sym: string" as never }),
            /apache-arrow Schema/,
          ],
        ];
        for (const [what, make, message] of bad) {
          await rejectsWithin(async () => await make(), what, {
            code: GrpcCode.INVALID_ARGUMENT,
            message: [message],
          });
        }
        await rejectsWithin(
          () => session.inputTable({ initTable: init, keyColumns: "Nope" }).ready(),
          "an unknown key of an init table",
          { code: GrpcCode.INVALID_ARGUMENT, message: [/Nope/] },
        );
      });
      live.close();
    } finally {
      await bs.close();
      await session.close();
    }
  },
);
