/**
 * The seed scenario, end to end, against an embedded real Deephaven server:
 *
 * 1. start a server (deephaven-server from the project's venv) on 127.0.0.1;
 * 2. session A builds `timeTable("PT1s").update(["X = 0.1 * i", "Y = sin(X)"])`
 *    and publishes it under a random SharedTicket;
 * 3. session B fetches it by the ticket's bytes and prints a snapshot;
 * 4. a Barrage session subscribes to the ticket, prints the live table as it
 *    ticks, then a local `snapshot`.
 *
 * Run with `bash scripts/demo.sh` (installs what is missing) or
 * `deno run -A scripts/demo.ts` after `scripts/setup.sh`.
 *
 * @module
 */

import { barrageSession, Session, SharedTicket } from "@dh/deephaven";
import { formatText } from "@dh/deephaven/display";
import { startServer } from "@dh/deephaven/server";

const updates = Number(Deno.env.get("DEMO_UPDATES") ?? 3);
console.error("Starting a Deephaven server on 127.0.0.1 …");
const server = await startServer({ name: "demo", auth: "anonymous" });
console.error(`Server ready at ${server.target} in ${(server.startMs / 1000).toFixed(1)} s`);
try {
  await using a = await Session.connect({ host: server.host, port: server.port });
  const ticking = a.timeTable("PT1s").update(["X = 0.1 * i", "Y = sin(X)"]);
  const ticket = SharedTicket.randomTicket();
  await a.publishTable(ticket, ticking);
  console.log(`Session A published ${ticking.description} under shared ticket ${ticket.hex}`);

  await using b = await Session.connect({ host: server.host, port: server.port });
  const fetched = b.fetchTable(ticket.bytes);
  await new Promise((r) => setTimeout(r, 1500)); // let the time table gain a row or two
  console.log(`\nSession B fetched it by the ticket's bytes; a snapshot (Flight DoGet):`);
  console.log(formatText(await fetched.toArrow()));

  const bs = await barrageSession({ host: server.host, port: server.port });
  const live = await bs.subscribe(ticket.bytes);
  console.log(`\nBarrage subscription: ${live.size} rows at first, now ticking`);
  let seen = 0;
  for await (const u of live.updates()) {
    console.log(
      `update: +${u.added.size} rows, now ${u.size}; last row ${JSON.stringify(live.row(live.size - 1))}`,
    );
    if (++seen >= updates) break;
  }
  console.log(`\nThe live table now:`);
  console.log(formatText(live));
  const snap = await bs.snapshot(ticket);
  console.log(`\nA Barrage snapshot (static local table, ${snap.state}):`);
  console.log(formatText(snap));
  live.close();
  await bs.close();
} finally {
  await server.stop();
}
