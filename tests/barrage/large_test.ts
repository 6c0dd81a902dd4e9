/**
 * A 2,000,000-row table (numbers and strings; Barrage messages far above 4 MiB) captured by `subscribe` and by
 * `snapshot` with default options: the size, every value against its formula, spot checks by `get`, and
 * column sums against the server's `sumBy`. Times are printed, not asserted.
 */

import assert from "node:assert/strict";
import { barrageSession, type LocalTable, Session, SharedTicket } from "../../mod.ts";
import { serverTest } from "../../testing/server.ts";
import { since } from "../../testing/wait.ts";

const N = 2_000_000;

/** Checks a captured copy of the table: spot checks with `get`, then every value of `toArrow()`, then sums. */
function check(label: string, t: LocalTable, sums: { I: bigint; L: bigint; D: number }): void {
  assert.equal(t.size, N, `${label}: size`);
  assert.deepEqual(t.columns, ["I", "L", "D", "S"], `${label}: columns`);
  const spots = [0, 1, 4095, 4096, 999_999, 1_000_000, N - 2, N - 1];
  for (let k = 0; k < 12; k++) spots.push(Math.floor(Math.random() * N));
  for (const i of spots) {
    assert.deepEqual(
      t.row(i),
      { I: i, L: BigInt(i) * 3n, D: i * 0.5, S: `s${i % 1000}` },
      `${label}: row ${i}`,
    );
  }

  let start = performance.now();
  const a = t.toArrow();
  const toArrowMs = since(start);
  assert.equal(a.numRows, N, `${label}: toArrow rows`);
  start = performance.now();
  const I = a.getChild("I")!.toArray() as Int32Array;
  const L = a.getChild("L")!.toArray() as BigInt64Array;
  const D = a.getChild("D")!.toArray() as Float64Array;
  const S = a.getChild("S")!;
  let sumI = 0, sumD = 0, sumL = 0n;
  for (let i = 0; i < N; i++) {
    if (I[i] !== i || L[i] !== BigInt(i) * 3n || D[i] !== i * 0.5) {
      assert.fail(
        `${label}: row ${i} is ${I[i]}, ${L[i]}, ${D[i]}; expected ${i}, ${BigInt(i) * 3n}, ${i * 0.5}`,
      );
    }
    sumI += I[i];
    sumL += L[i];
    sumD += D[i];
  }
  for (let i = 0; i < N; i += 997) assert.equal(S.get(i), `s${i % 1000}`, `${label}: S at row ${i}`);
  assert.equal(BigInt(sumI), sums.I, `${label}: sum of I`);
  assert.equal(sumL, sums.L, `${label}: sum of L`);
  assert.equal(sumD, sums.D, `${label}: sum of D`);
  console.log(`${label}: toArrow ${toArrowMs} ms, full check ${since(start)} ms`);
}

serverTest("large: a 2,000,000-row table by subscribe and by snapshot", {}, async (server) => {
  const { host, port } = server;
  await using session = await Session.connect({ host, port });
  const table = session.emptyTable(N).update([
    "I = i",
    "L = (long) i * 3",
    "D = i * 0.5",
    "S = `s` + (i % 1000)",
  ]);
  const ticket = SharedTicket.randomTicket();
  await session.publishTable(ticket, table);
  const sumRow = (await table.view(["I", "L", "D"]).sumBy().toArrow()).get(0)!.toJSON();
  const sums = { I: BigInt(sumRow.I as bigint), L: BigInt(sumRow.L as bigint), D: Number(sumRow.D) };
  assert.equal(sums.I, BigInt(N) * BigInt(N - 1) / 2n, "the server's sum of I");

  const bs = await barrageSession({ host, port });
  try {
    let start = performance.now();
    const live = await bs.subscribe(ticket.bytes);
    console.log(`subscribe: ${since(start)} ms for ${live.size} rows`);
    assert.equal(live.state, "live");
    assert.equal(live.sourceSize, N);
    check("subscribe", live, sums);
    live.close();

    start = performance.now();
    const snap = await bs.snapshot(ticket.bytes);
    console.log(`snapshot: ${since(start)} ms for ${snap.size} rows`);
    assert.equal(snap.state, "snapshot");
    check("snapshot", snap, sums);

    start = performance.now();
    const doGet = await session.toArrow(ticket);
    console.log(`DoGet (Session.snapshot): ${since(start)} ms for ${doGet.numRows} rows`);
    assert.equal(doGet.numRows, N);
  } finally {
    await bs.close();
  }
});
