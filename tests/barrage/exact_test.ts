/**
 * Exact values against a real server, in every path (Barrage snapshot and subscription in both null modes,
 * and DoGet read through `localTableFromArrow`), compared with pydeephaven's `to_arrow()`:
 *
 * - instants keep their nanoseconds before and after 1970 (an `Instant` per value, its epoch nanoseconds
 *   equal to the server's, its text equal to Java's `Instant.toString`), in `get`, display, JSON and CSV, and
 *   in local `where`, `sort`, `aggBy` min/max/first/last and `update`, each equal to the same operation on the
 *   server through pydeephaven;
 * - BigDecimal and BigInteger read as the server's own text of the value, char as a one-character string,
 *   LocalDate and LocalTime as ISO text equal to Java's;
 * - the Arrow types the server keeps for imported tables (Float16, unsigned integers, Decimal128/256,
 *   FixedSizeBinary, other time units) read as pyarrow reads them;
 * - a column of a type the module cannot read (a `java.time.Period`) is an error naming the column and the
 *   type, in every path; leaving the column out works;
 * - `update()` on an empty live table asks for the column type, and with it keeps strings strings once rows
 *   come, as the server's own `update` does.
 */

import assert from "node:assert/strict";
import type * as arrow from "../../src/deps/apache_arrow.ts";
import {
  barrageSession,
  DeephavenError,
  Instant,
  type LocalTable,
  localTableFromArrow,
  Session,
} from "../../mod.ts";
import { formatText } from "../../src/display/mod.ts";
import { toCSV, toJSONRows } from "../../src/export/mod.ts";
import { scopeTicket } from "../../src/session/ticket.ts";
import { parseTimeNanos } from "../../src/table/time.ts";
import { pythonArrow, pythonArrowMany, serverEnv } from "../../testing/python.ts";
import { waitUntil } from "../../testing/wait.ts";
import { type DhServer, serverTest } from "../../testing/server.ts";
import { assertArrowEqual } from "../../testing/compare.ts";

/** Server-side Python: `exact_t`, whose columns hold edge values and, beside them, the server's own text of each. */
const SCRIPT = `
from deephaven import new_table
from deephaven.column import long_col, string_col, int_col
from deephaven.constants import NULL_LONG, NULL_INT
exact_t = new_table([
    long_col("TsN", [-1, -86400000000000001, 0, 1, 1000, 1700000000123456789, -9000000000000000001, NULL_LONG, 9000000000000000001]),
    string_col("BdS", ["0.000001", "-12345678901234567890.123456789", "1E+10", "1.50", "-0.5", "0", "123456789012345678901234567890.000000000000000000001", None, "7"]),
    string_col("BiS", ["0", "-1", "255", "-256", "123456789012345678901234567890123456789", "-18446744073709551616", "1", None, "9223372036854775808"]),
    int_col("ChI", [0x41, 0, 0xE9, 0x20AC, 0xFFFE, 0x7F, 0x22, NULL_INT, 0x5C]),
    string_col("LdS", ["1969-12-31", "0001-01-01", "9999-12-31", "-0044-03-15", "2000-02-29", "1677-09-21", "2262-04-11", None, "+12345-01-02"]),
    string_col("LtS", ["00:00", "23:59:59.999999999", "12:00:00.5", "00:00:00.000000001", "10:30:15.123", "01:02:03.000004", "13:14", None, "09:00:00"]),
]).update([
    "Ts = isNull(TsN) ? null : epochNanosToInstant(TsN)",
    "Zd = isNull(TsN) ? null : epochNanosToZonedDateTime(TsN, timeZone(\`Asia/Kolkata\`))",
    "Bd = BdS == null ? null : new java.math.BigDecimal(BdS)",
    "Bi = BiS == null ? null : new java.math.BigInteger(BiS)",
    "Ch = isNull(ChI) ? NULL_CHAR : (char) ChI",
    "Ld = LdS == null ? null : java.time.LocalDate.parse(LdS)",
    "Lt = LtS == null ? null : java.time.LocalTime.parse(LtS)",
    "TsText = Ts == null ? null : Ts.toString()",
    "BdText = Bd == null ? null : Bd.stripTrailingZeros().toPlainString()",
    "ChText = isNull(Ch) ? null : String.valueOf(Ch)",
    "LdText = Ld == null ? null : Ld.toString()",
    "LtNanos = Lt == null ? NULL_LONG : Lt.toNanoOfDay()",
]).drop_columns(["BdS", "ChI", "LdS", "LtS"])
period_t = new_table([int_col("X", [1, 2])]).update(["P = java.time.Period.ofDays(X)"])
`;

/** The same operations on the server, through pydeephaven; and a table imported with uncommon Arrow types. */
const PEER = `
import datetime
from decimal import Decimal
import pyarrow as pa
from pydeephaven import agg
from dh_peer import psk_session

s = psk_session()
t = s.open_table("exact_t")
odd = pa.table({
    "H": pa.array([1.5, -0.0001, 65504.0, None], pa.float16()),
    "U8": pa.array([200, 0, 255, None], pa.uint8()),
    "U32": pa.array([2**31 + 5, 0, 2**32 - 1, None], pa.uint32()),
    "U64": pa.array([2**63 + 5, 0, 2**64 - 1, None], pa.uint64()),
    "D128": pa.array([Decimal("1.00"), Decimal("-12345678.91"), Decimal("0.01"), None], pa.decimal128(10, 2)),
    "D256": pa.array([Decimal("1" + "0" * 36 + ".000"), Decimal("-0.002"), Decimal("0.000"), None], pa.decimal256(40, 3)),
    "FB": pa.array([b"ab", b"\\x00\\xff", b"zz", None], pa.binary(2)),
    "D32": pa.array([datetime.date(1960, 1, 2), datetime.date(1, 1, 1), datetime.date(9999, 12, 31), None], pa.date32()),
    "T32": pa.array([datetime.time(1, 2, 3, 4000), datetime.time(0), datetime.time(23, 59, 59, 999000), None], pa.time32("ms")),
    "Tms": pa.array([-1, 0, 1700000000123, None], pa.timestamp("ms", tz="UTC")),
    "Du": pa.array([5, -7, 0, None], pa.duration("us")),
})
s.bind_table("odd_t", s.import_table(odd))
odd_back = s.open_table("odd_t").to_arrow()

def text(name, v):
    if v is None:
        return None
    if name == "H":
        return repr(float(v))
    if name == "FB":
        return v.hex()
    if name == "D32":
        return v.isoformat()
    if name == "T32":
        return str(((v.hour * 60 + v.minute) * 60 + v.second) * 10**9 + v.microsecond * 1000)
    return str(v)

expected = {c: [text(c, v) for v in odd_back.column(c).to_pylist()] for c in ["H", "U8", "U32", "U64", "D128", "D256", "FB", "D32", "T32"]}
expected["Tms"] = [None if v is None else str(v * 10**6) for v in odd_back.column("Tms").cast(pa.int64()).to_pylist()]
expected["Du"] = [None if v is None else str(v * 1000) for v in odd_back.column("Du").cast(pa.int64()).to_pylist()]

result = {
    "exact": t.to_arrow(),
    "where": t.where(["Ts > '1969-12-31T23:59:59.999999999Z'", "Ts <= '1970-01-01T00:00:00.000001Z'"]).to_arrow(),
    "sort": t.sort("Ts").to_arrow(),
    "aggBy": t.agg_by([agg.min_(["MinTs = Ts", "MinBd = Bd", "MinLd = Ld"]), agg.max_(["MaxTs = Ts", "MaxBd = Bd", "MaxLt = Lt"]), agg.first(["FirstTs = Ts"]), agg.last(["LastTs = Ts"])], by=[]).to_arrow(),
    "update": t.update("Next = isNull(TsN) || TsN == 9000000000000000001L ? null : plus(Ts, 1L)").to_arrow(),
    "odd": odd_back,
    "odd_expected": pa.table({c: pa.array(v, pa.string()) for c, v in expected.items()}),
}
s.close()
`;

/** The text of a column of the reference, by row. */
function texts(t: arrow.Table, column: string): (string | null)[] {
  const v = t.getChild(column)!;
  return Array.from({ length: t.numRows }, (_, i) => (v.get(i) ?? null) as string | null);
}

/** What every capture of `exact_t` must read, checked against the server's own text of each value. */
function checkExact(label: string, t: LocalTable, ref: arrow.Table): void {
  assertArrowEqual(t.toArrow(), ref, `${label}: toArrow() vs pydeephaven's to_arrow()`);
  const tsN = ref.getChild("TsN")!, ltNanos = ref.getChild("LtNanos")!;
  const [tsText, bdText, bi, chText, ldText] = ["TsText", "BdText", "BiS", "ChText", "LdText"].map((c) =>
    texts(ref, c)
  );
  for (let i = 0; i < t.size; i++) {
    const at = `${label}, row ${i}`;
    const ns = tsN.get(i) as bigint | null;
    const ts = t.get(i, "Ts") as Instant | null, zd = t.get(i, "Zd") as Instant | null;
    if (ns === null) assert.deepEqual([ts, zd, tsText[i]], [null, null, null], at);
    else {
      assert.ok(ts instanceof Instant && zd instanceof Instant, `${at}: Instants`);
      assert.equal(ts.epochNanos, ns, `${at}: Ts nanoseconds`);
      assert.equal(zd.epochNanos, ns, `${at}: Zd nanoseconds`);
      // Java writes no fraction for a whole second; otherwise the same 3, 6 or 9 digits.
      assert.equal(ts.toString().replace(/\.000Z$/, "Z"), tsText[i], `${at}: Ts text`);
    }
    assert.equal(t.get(i, "Bd"), bdText[i], `${at}: BigDecimal`);
    assert.equal(t.get(i, "Bi"), bi[i] === null ? null : BigInt(bi[i]!), `${at}: BigInteger`);
    assert.equal(t.get(i, "Ch"), chText[i], `${at}: char`);
    assert.equal(t.get(i, "Ld"), ldText[i], `${at}: LocalDate`);
    const lt = t.get(i, "Lt") as string | null;
    const lns = ltNanos.get(i) as bigint | null;
    assert.equal(lt === null ? null : parseTimeNanos(lt), lns, `${at}: LocalTime`);
  }
}

let prepared: Promise<Map<string, arrow.Table>> | undefined;

/** Makes the server's tables (once per run) and returns pydeephaven's results. */
function prepare(server: DhServer, session: Session): Promise<Map<string, arrow.Table>> {
  prepared ??= session.runScript(SCRIPT).then(() => pythonArrowMany(PEER, serverEnv(server)));
  return prepared;
}

/** Checks every Barrage capture of a table: a snapshot and a subscription, in both null modes. */
async function eachCapture(
  server: DhServer,
  table: string,
  check: (label: string, t: LocalTable) => void,
): Promise<void> {
  const bs = await barrageSession({ host: server.host, port: server.port });
  try {
    for (const useDeephavenNulls of [true, false]) {
      for (const how of ["snapshot", "subscribe"] as const) {
        const t = await bs[how](scopeTicket(table), { useDeephavenNulls });
        check(`${how} (useDeephavenNulls: ${useDeephavenNulls})`, t);
        t.close();
      }
    }
  } finally {
    await bs.close();
  }
}

serverTest(
  "exact values: instants, decimals, chars, dates and times equal the server's, in every path",
  {},
  async (server) => {
    const { host, port } = server;
    await using session = await Session.connect({ host, port });
    const ref = await prepare(server, session);
    const exact = ref.get("exact")!;
    const doget = await session.openTable("exact_t").toArrow();
    assertArrowEqual(doget, exact, "DoGet vs pydeephaven's to_arrow()");
    const fromDoget = localTableFromArrow(doget);
    checkExact("DoGet", fromDoget, exact);
    await eachCapture(server, "exact_t", (label, t) => checkExact(label, t, exact));
    const bs = await barrageSession({ host, port });
    try {
      const t = await bs.subscribe(scopeTicket("exact_t"));

      // Display and exports show the nanoseconds, and read an apache-arrow table (DoGet) the same.
      const text = formatText(t, { head: 20 });
      for (
        const s of [
          "1969-12-31T23:59:59.999999999Z",
          "1970-01-01T00:00:00.000000001Z",
          "1970-01-01T00:00:00.000001Z",
        ]
      ) {
        assert.ok(text.includes(s), `formatText shows ${s}`);
      }
      assert.equal(formatText(doget, { head: 20 }), text, "formatText of the DoGet table");
      const rows = toJSONRows(t);
      rows.forEach((r, i) => assert.equal(r.Ts, (t.get(i, "Ts") as Instant | null)?.toString() ?? null));
      assert.deepEqual(toJSONRows(doget), rows, "toJSONRows of the DoGet table");
      assert.equal(toCSV(doget), toCSV(t), "toCSV of the DoGet table");
      assert.ok(toCSV(t).includes(",1969-12-31T23:59:59.999999999Z,"), "CSV keeps the nanoseconds");

      // Local queries on instants equal the same operations on the server.
      const values = { fieldMetadata: false, nullable: false };
      assertArrowEqual(
        t.where(["Ts > '1969-12-31T23:59:59.999999999Z'", "Ts <= '1970-01-01T00:00:00.000001Z'"]).toArrow(),
        ref.get("where")!,
        "where on Ts",
        values,
      );
      assertArrowEqual(t.sort("Ts").toArrow(), ref.get("sort")!, "sort(Ts)", values);
      const aggs = t.aggBy({
        MinTs: "min(Ts)",
        MinBd: "min(Bd)",
        MinLd: "min(Ld)",
        MaxTs: "max(Ts)",
        MaxBd: "max(Bd)",
        MaxLt: "max(Lt)",
        FirstTs: "first(Ts)",
        LastTs: "last(Ts)",
      });
      assertArrowEqual(aggs.toArrow(), ref.get("aggBy")!, "aggBy min/max/first/last", values);
      const next = t.update({
        Next: (r) =>
          r.Ts === null || r.TsN === 9000000000000000001n
            ? null
            : new Instant((r.Ts as Instant).epochNanos + 1n),
      });
      assertArrowEqual(next.toArrow(), ref.get("update")!, "update(Next = Ts + 1 ns)", values);
      t.close();
    } finally {
      await bs.close();
    }
  },
);

serverTest(
  "exact values: the Arrow types a server keeps for imported tables read as pyarrow reads them",
  {},
  async (server) => {
    const { host, port } = server;
    await using session = await Session.connect({ host, port });
    const ref = await prepare(server, session);
    const odd = ref.get("odd")!, expected = ref.get("odd_expected")!;
    /** Our value as the text Python wrote for it. */
    const asText = (column: string, v: unknown): string | null => {
      if (v === null) return null;
      switch (column) {
        case "H":
          return String(v);
        case "FB":
          return Array.from(v as Uint8Array, (b) => b.toString(16).padStart(2, "0")).join("");
        case "T32":
          return String(parseTimeNanos(v as string));
        case "Tms":
          return String((v as Instant).epochNanos);
      }
      return String(v);
    };
    const check = (label: string, t: LocalTable) => {
      assertArrowEqual(t.toArrow(), odd, `${label}: toArrow() vs pydeephaven's to_arrow()`);
      for (const f of expected.schema.fields) {
        const want = texts(expected, f.name).map((
          x,
        ) => (x !== null && f.name === "H" ? String(Number(x)) : x));
        assert.deepEqual(t.column(f.name).map((v) => asText(f.name, v)), want, `${label}: ${f.name}`);
      }
    };
    const doget = await session.openTable("odd_t").toArrow();
    assertArrowEqual(doget, odd, "DoGet vs pydeephaven's to_arrow()");
    check("DoGet", localTableFromArrow(doget));
    await eachCapture(server, "odd_t", check);
  },
);

serverTest(
  "a column of a type the module cannot read is an error naming it, in every path",
  {},
  async (server) => {
    const { host, port } = server;
    await using session = await Session.connect({ host, port });
    await prepare(server, session);
    const named = (e: unknown) =>
      e instanceof DeephavenError && e.codeName === "UNIMPLEMENTED" && e.message.includes('Column "P"') &&
      e.message.includes("Interval<YEAR_MONTH> (java.time.Period)");
    const bs = await barrageSession({ host, port });
    try {
      await assert.rejects(bs.snapshot(scopeTicket("period_t")), named, "snapshot");
      await assert.rejects(bs.subscribe(scopeTicket("period_t")), named, "subscribe");
      const doget = await session.openTable("period_t").toArrow();
      assert.throws(() => localTableFromArrow(doget), named, "DoGet");
      // Leaving the column out works; the left-out column reads null, as unsubscribed columns do.
      const x = await bs.snapshot(scopeTicket("period_t"), { columns: ["X"] });
      assert.deepEqual(x.toObjects(), [{ X: 1, P: null }, { X: 2, P: null }]);
    } finally {
      await bs.close();
    }
  },
);

serverTest(
  "update() on an empty live table keeps a String column strings once rows come, as the server's update does",
  {},
  async (server) => {
    const { host, port } = server;
    await using session = await Session.connect({ host, port });
    await session.runScript(`
from deephaven import input_table, dtypes
grow_t = input_table(col_defs={"Sym": dtypes.string, "Ts": dtypes.Instant})
`);
    const bs = await barrageSession({ host, port });
    try {
      const live = await bs.subscribe(scopeTicket("grow_t"));
      assert.equal(live.size, 0);
      assert.throws(
        () => live.update({ Label: (r) => `${r.Sym}!` }),
        (e) =>
          e instanceof DeephavenError && e.codeName === "INVALID_ARGUMENT" && /no rows yet/.test(e.message),
      );
      const labelled = live.update({
        Label: { type: "String", value: (r) => (r.Sym === null ? null : `${r.Sym}!`) },
        Later: {
          type: "Instant",
          value: (r) => (r.Ts === null ? null : new Instant((r.Ts as Instant).epochNanos + 1n)),
        },
      });
      await session.runScript(`
from deephaven import new_table
from deephaven.column import string_col, long_col
from deephaven.constants import NULL_LONG
grow_t.add(new_table([string_col("Sym", ["123", None, "x"]), long_col("N", [-2, NULL_LONG, 1700000000123456789])])
    .update(["Ts = isNull(N) ? null : epochNanosToInstant(N)"]).drop_columns(["N"]))
`);
      assert.ok(await waitUntil(labelled, () => labelled.size === 3, 15_000), "the rows arrive");
      assert.equal(labelled.state, "live", labelled.error?.message);
      assert.deepEqual(labelled.column("Label"), ["123!", null, "x!"]);
      const ref = await pythonArrow(
        `from dh_peer import psk_session
s = psk_session()
result = s.open_table("grow_t").update(["Label = Sym == null ? null : Sym + \`!\`", "Later = Ts == null ? null : plus(Ts, 1L)"]).to_arrow()
s.close()`,
        serverEnv(server),
      );
      assertArrowEqual(labelled.toArrow(), ref, "update() vs the server's update", {
        fieldMetadata: false,
        nullable: false,
      });
    } finally {
      await bs.close();
    }
  },
);
