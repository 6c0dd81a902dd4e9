/**
 * Every column type through Barrage, in both null modes: a server table with byte, short, int, long, float,
 * double, Boolean, char, String, Instant, ZonedDateTime, LocalDate, LocalTime, BigDecimal, BigInteger,
 * arrays (`int[]`, `long[]`, `double[]`, `String[]`, `byte[]`) and vectors, with a row of nulls and a row of
 * edge values, captured by `snapshot` and by `subscribe`, and by DoGet (`TableRef.toArrow()`, read through
 * `localTableFromArrow`). `toArrow()` must equal pydeephaven's `to_arrow()` of the same table, and `get()` must
 * return the JS values that column.ts documents, the same in every path.
 */

import assert from "node:assert/strict";
import { barrageSession, Instant, type LocalTable, localTableFromArrow, Session } from "../../mod.ts";
import { scopeTicket } from "../../src/session/ticket.ts";
import { pythonArrow, serverEnv } from "../../testing/python.ts";
import { serverTest } from "../../testing/server.ts";
import { assertArrowEqual, tableDiffs } from "../../testing/compare.ts";
import { waitUntil } from "../../testing/wait.ts";

const ROWS = 7;
const NULL_ROW = 5;
const EDGE_ROW = 6;

/** The columns, as formulas of the row number `i`: row 5 is all nulls, row 6 holds edge values. */
const FORMULAS = [
  "Bt = i == 5 ? NULL_BYTE : i == 6 ? (byte) 127 : (byte) (i - 2)",
  "Sh = i == 5 ? NULL_SHORT : i == 6 ? (short) -32767 : (short) (i * 1000 - 2000)",
  "In = i == 5 ? NULL_INT : i == 6 ? 2147483647 : i * 100000 - 7",
  "Lg = i == 5 ? NULL_LONG : i == 6 ? 9007199254740993L : (long) i * 10000000000L - 3",
  "Fl = i == 5 ? NULL_FLOAT : i == 6 ? Float.NaN : (float) (i * 1.5f - 2)",
  "Db = i == 5 ? NULL_DOUBLE : i == 6 ? Double.POSITIVE_INFINITY : i * 2.25 - 1",
  "Bo = i == 5 ? null : (Boolean) (i % 2 == 0)",
  "Ch = i == 5 ? NULL_CHAR : (char) ('a' + i)",
  "St = i == 5 ? null : i == 6 ? `` : `str` + i + ` \u2713`",
  "Ts = i == 5 ? null : epochNanosToInstant(1700000000123456789L + i * 3600000000000L)",
  "Zd = i == 5 ? null : epochNanosToZonedDateTime(1700000000987654321L + i * 86400000000000L, timeZone(`America/New_York`))",
  "Ld = i == 5 ? null : java.time.LocalDate.of(2024, 1 + i, 10 + i)",
  "Lt = i == 5 ? null : java.time.LocalTime.of(i, 30, 15, 123456789)",
  "Bd = i == 5 ? null : new java.math.BigDecimal(`12345.6789`).multiply(java.math.BigDecimal.valueOf(i - 2))",
  "Bi = i == 5 ? null : new java.math.BigInteger(`123456789012345678901234567890`).multiply(java.math.BigInteger.valueOf(i - 2))",
  "IA = i == 5 ? null : i == 6 ? new int[0] : new int[]{i, i + 1, NULL_INT}",
  "LA = i == 5 ? null : new long[]{(long) i * 10000000000L, NULL_LONG}",
  "DA = i == 5 ? null : new double[]{i * 0.5, NULL_DOUBLE, Double.NaN}",
  "SA = i == 5 ? null : new String[]{`a` + i, null, ``}",
  "BA = i == 5 ? null : new byte[]{(byte) i, (byte) -1}",
  "IV = i == 5 ? null : new io.deephaven.vector.IntVectorDirect(i, i * 2)",
  "DV = i == 5 ? null : new io.deephaven.vector.DoubleVectorDirect(i / 4.0)",
];

/**
 * Binds `types_t` (static, the formulas of `i`) and `types_live` (the same formulas of a row number that
 * rotates every second, so every cell is modified on every tick) in the server's global scope.
 */
const SCRIPT = `
from deephaven import empty_table, time_table
_formulas = ${JSON.stringify(FORMULAS.map((f) => f.replace(/\bi\b/g, "j")))}
types_t = empty_table(${ROWS}).update(["j = i"] + _formulas).drop_columns(["j"])
types_live = time_table("PT1s").view(["Tk = ii"]).last_by().join(empty_table(${ROWS}).view(["i0 = i"])) \\
    .update(["j = (int) ((i0 + Tk) % ${ROWS})"] + _formulas).drop_columns(["Tk", "i0", "j"])
`;

const DECIMALS: Record<number, string> = {
  0: "-24691.3578",
  1: "-12345.6789",
  2: "0",
  3: "12345.6789",
  4: "24691.3578",
  6: "49382.7156",
};

/**
 * What `get(i, column)` must return, per column.ts: numbers, bigint, an Instant (exact nanoseconds), a
 * one-character string for char, ISO text, decimal text, arrays, null.
 */
function expectedRow(i: number): Record<string, unknown> {
  if (i === NULL_ROW) {
    return Object.fromEntries(
      ["Bt", "Sh", "In", "Lg", "Fl", "Db", "Bo", "Ch", "St", "Ts", "Zd", "Ld", "Lt", "Bd", "Bi"]
        .concat(["IA", "LA", "DA", "SA", "BA", "IV", "DV"])
        .map((c) => [c, null]),
    );
  }
  const edge = i === EDGE_ROW;
  const pad = (n: number) => String(n).padStart(2, "0");
  return {
    Bt: edge ? 127 : i - 2,
    Sh: edge ? -32767 : i * 1000 - 2000,
    In: edge ? 2147483647 : i * 100000 - 7,
    Lg: edge ? 9007199254740993n : BigInt(i) * 10000000000n - 3n,
    Fl: edge ? NaN : Math.fround(i * 1.5 - 2),
    Db: edge ? Infinity : i * 2.25 - 1,
    Bo: i % 2 === 0,
    Ch: String.fromCharCode(0x61 + i),
    St: edge ? "" : `str${i} \u2713`,
    Ts: new Instant(1700000000123456789n + BigInt(i) * 3600000000000n),
    Zd: new Instant(1700000000987654321n + BigInt(i) * 86400000000000n),
    Ld: `2024-${pad(1 + i)}-${pad(10 + i)}`,
    Lt: `${pad(i)}:30:15.123456789`,
    Bd: DECIMALS[i],
    Bi: 123456789012345678901234567890n * BigInt(i - 2),
    IA: edge ? [] : [i, i + 1, null],
    LA: [BigInt(i) * 10000000000n, null],
    DA: [i * 0.5, null, NaN],
    SA: [`a${i}`, null, ""],
    BA: new Uint8Array([i, 255]),
    IV: [i, i * 2],
    DV: [i / 4],
  };
}

function checkGet(label: string, t: LocalTable): void {
  assert.equal(t.size, ROWS, `${label}: size`);
  for (let i = 0; i < ROWS; i++) {
    const expected = expectedRow(i);
    for (const [column, value] of Object.entries(expected)) {
      assert.deepEqual(t.get(i, column), value, `${label}: get(${i}, ${column})`);
    }
    assert.deepEqual(t.row(i), expected, `${label}: row(${i})`);
  }
}

serverTest(
  "types: every column type by snapshot, subscribe and DoGet equals pydeephaven, in both null modes",
  {},
  async (
    server,
  ) => {
    const { host, port } = server;
    await using session = await Session.connect({ host, port });
    await session.runScript(SCRIPT);
    const reference = await pythonArrow(
      `from dh_peer import psk_session\nresult = psk_session().open_table("types_t").to_arrow()`,
      serverEnv(server),
    );
    assert.equal(reference.numRows, ROWS);

    const bs = await barrageSession({ host, port });
    const failures: string[] = [];
    const doget = await session.openTable("types_t").toArrow();
    assertArrowEqual(doget, reference, "DoGet vs pydeephaven");
    checkGet("DoGet (localTableFromArrow)", localTableFromArrow(doget));
    try {
      for (const useDeephavenNulls of [true, false]) {
        const captures: [string, LocalTable][] = [
          [
            `snapshot (useDeephavenNulls: ${useDeephavenNulls})`,
            await bs.snapshot(scopeTicket("types_t"), { useDeephavenNulls }),
          ],
          [
            `subscribe (useDeephavenNulls: ${useDeephavenNulls})`,
            await bs.subscribe(scopeTicket("types_t"), { useDeephavenNulls }),
          ],
        ];
        for (const [label, t] of captures) {
          try {
            assertArrowEqual(t.toArrow(), reference, `${label} vs pydeephaven`);
          } catch (e) {
            failures.push((e as Error).message);
          }
          try {
            checkGet(label, t);
          } catch (e) {
            failures.push((e as Error).message);
          }
          t.close();
        }
      }
    } finally {
      await bs.close();
    }
    assert.deepEqual(failures, []);
  },
);

serverTest(
  "types: modifications of every column type follow the server, in both null modes",
  {},
  async (server) => {
    const { host, port } = server;
    await using session = await Session.connect({ host, port });
    await session.runScript(SCRIPT);
    const ref = session.openTable("types_live");
    const bs = await barrageSession({ host, port });
    try {
      for (const useDeephavenNulls of [true, false]) {
        const label = `subscribe to types_live (useDeephavenNulls: ${useDeephavenNulls})`;
        const t = await bs.subscribe(scopeTicket("types_live"), { useDeephavenNulls });
        const modifiedColumns = new Set<string>();
        let modUpdates = 0;
        t.onUpdate((u) => {
          if (u.modified.size === 0) return;
          modUpdates++;
          for (const c of u.modifiedColumns) modifiedColumns.add(c);
        });
        assert.ok(
          await waitUntil(t, () => modUpdates >= 2, 15_000),
          `${label}: two updates with modifications`,
        );
        assert.deepEqual(
          [...modifiedColumns].sort(),
          [...t.columns].sort(),
          `${label}: every column was modified`,
        );

        // The table changes every second: compare with a DoGet snapshot once the local table has reached it.
        let diffs: string[] = [];
        for (let attempt = 0; attempt < 4; attempt++) {
          const expected = await ref.toArrow();
          const equal = () => (diffs = tableDiffs(t.toArrow(), expected)).length === 0;
          if (await waitUntil(t, equal, 3_000)) {
            assertArrowEqual(t.toArrow(), expected, label);
            // Row r holds the values of row number (r + tick) % 7 of the formulas; find the rotation from row 0.
            const shift = [...Array(ROWS).keys()].find((j) => {
              try {
                assert.deepEqual(t.row(0), expectedRow(j));
                return true;
              } catch {
                return false;
              }
            });
            assert.ok(
              shift !== undefined,
              `${label}: row 0 ${JSON.stringify(t.row(0), (_, v) => String(v))}`,
            );
            for (let r = 0; r < ROWS; r++) {
              assert.deepEqual(
                t.row(r),
                expectedRow((r + shift) % ROWS),
                `${label}: row ${r}`,
              );
            }
            diffs = [];
            break;
          }
        }
        assert.deepEqual(diffs, [], `${label}: the local table never matched a server snapshot`);
        t.close();
      }
    } finally {
      await ref.close();
      await bs.close();
    }
  },
);
