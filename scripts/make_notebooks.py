"""Writes the example notebooks in notebooks/ from the cell sources below.

Run: python3 scripts/make_notebooks.py  (the .ipynb files are checked in and excluded from deno fmt: its
check of .ipynb files proved flaky on a fresh clone; edit here, regenerate, commit).

The cells are written as users write them: a table, a derived table or a plot left as a cell's value shows
in that cell (and keeps refreshing while it ticks); `display()` where options are wanted or a cell shows
several things, or a value of any kind at the end of a cell (`display()` confirms that the cell's outputs
have left the kernel, which a trailing `console.log` cannot). No cell pauses to let outputs through.
"""
import json
import pathlib

ROOT = pathlib.Path(__file__).resolve().parent.parent

CONNECT = """import { barrageSession, Session, SharedTicket } from "@dh/deephaven";
import { display } from "@dh/deephaven/display";
import { plot } from "@dh/deephaven/plot";

// The server to use: DH_HOST / DH_PORT (the tests start one), else a local default server.
const host = Deno.env.get("DH_HOST") ?? "localhost";
const port = Number(Deno.env.get("DH_PORT") ?? 10000);
const session = await Session.connect({ host, port });
session"""

NOTEBOOKS = {
    "00_smoke.ipynb": [
        ("markdown", "# Display without a server\n\nLocal tables and charts built from Arrow data show as a "
                     "cell's value, or through `display()` with options. Nothing here needs a Deephaven server."),
        ("code", """import { tableFromArrays } from "apache-arrow";
import { localTableFromArrow } from "@dh/deephaven";
import { display } from "@dh/deephaven/display";
import { plot } from "@dh/deephaven/plot";

const prices = localTableFromArrow(tableFromArrays({
  Tick: Int32Array.from({ length: 30 }, (_, i) => i),
  Row: Int32Array.from({ length: 30 }, (_, i) => i % 3),
  Value: Float64Array.from({ length: 30 }, (_, i) => Math.round(100 * Math.sin(i / 4)) / 100),
}));
prices"""),
        ("markdown", "A local query gives another local table; a chart of a table is a value too."),
        ("code", """prices.lastBy("Row")"""),
        ("code", """plot(prices, { x: "Tick", y: "Value", title: "Value by tick" })"""),
        ("markdown", "`display()` shows several things from one cell, with window sizes of your choice."),
        ("code", """await display(prices, { head: 3, tail: 2 });
await display(prices.where("Value > 0.5"), { head: 3, tail: 0 });"""),
    ],
    "01_seed.ipynb": [
        ("markdown", "# Live Deephaven tables in Deno\n\nThe seed scenario: build a ticking table on the server, "
                     "publish it under a shared ticket, capture it with Barrage, and watch it tick."),
        ("code", CONNECT),
        ("markdown", "A ticking table on the server, published under a random `SharedTicket`. "
                     "`ticking` is a handle: the rows stay on the server."),
        ("code", """const ticking = session.timeTable("PT1s").update(["X = 0.1 * i", "Y = sin(X)"]);
const ticket = SharedTicket.randomTicket();
await session.publishTable(ticket, ticking);
ticking"""),
        ("markdown", "Anyone with the ticket's bytes can capture it. `subscribe` gives a local table that keeps "
                     "ticking; its output below refreshes in place."),
        ("code", """const bs = await barrageSession({ host, port });
const live = await bs.subscribe(ticket.bytes);
live"""),
        ("markdown", "Local views of the live table are computed here, with no server round trip, and stay live "
                     "as it ticks."),
        ("code", """live.aggBy({ Rows: "count()", MeanY: "avg(Y)", MaxY: "max(Y)", LastX: "last(X)" })"""),
        ("markdown", "A static snapshot of the same table, captured the same way."),
        ("code", """const snap = await bs.snapshot(ticket.bytes);
snap"""),
        ("markdown", "The live outputs above keep refreshing while later cells run. This one waits for five more "
                     "updates of the live table."),
        ("code", """let updates = 0;
for await (const _ of live.updates()) if (++updates === 5) break;
await display(`${live.size} rows now; the snapshot holds ${snap.size}`);"""),
    ],
    "02_live_plot.ipynb": [
        ("markdown", "# Live outputs: a table, a derived table and a chart\n\nA table that ticks ten rows a "
                     "second, a local `lastBy` of it and an Observable Plot chart of it, all refreshing in place."),
        ("code", CONNECT),
        ("code", """const waves = session.timeTable("PT0.1s").update([
  "X = 0.01 * i",
  "Y = sin(X)",
  "Sym = i % 2 == 0 ? `A` : `B`",
]);
const bs = await barrageSession({ host, port });
const live = await bs.subscribe(waves);
live"""),
        ("markdown", "The last row of each `Sym`, kept current locally; `display()` takes window options."),
        ("code", """await display(live.lastBy("Sym"), { head: 5 });"""),
        ("markdown", "A chart of the last 200 rows: the window slides as the table grows."),
        ("code", """plot(live, { x: "X", y: "Y", lastN: 200, title: "sin(X), last 200 rows" })"""),
        ("markdown", "How well does the local table keep up while all of this refreshes? Count the rows that "
                     "arrive over five seconds of updates, against the rows the server added meanwhile."),
        ("code", """let start: { rows: number; serverRows: number; at: number } | undefined;
for await (const _ of live.updates()) {
  if (!start) start = { rows: live.size, serverRows: await waves.size(), at: Date.now() };
  else if (Date.now() - start.at >= 5000) break;
}
const keptUp = {
  seconds: (Date.now() - start!.at) / 1000,
  rowsReceived: live.size - start!.rows,
  rowsAddedOnServer: (await waves.size()) - start!.serverRows,
};
await display(keptUp);"""),
    ],
    "03_scripted_snapshot.ipynb": [
        ("markdown", "# Scripted snapshots\n\nThe same calls work in a `deno run` script: take a snapshot, "
                     "read it, export it."),
        ("code", CONNECT),
        ("code", """const trades = session.emptyTable(1000).update([
  "Sym = i % 3 == 0 ? `AAPL` : i % 3 == 1 ? `MSFT` : `GOOG`",
  "Price = 100 + (i % 17) * 0.25",
  "Size = (i % 5 + 1) * 100",
]);
trades"""),
        ("code", """const bs = await barrageSession({ host, port });
const snap = await bs.snapshot(trades);
await display(snap, { head: 5, tail: 2 });"""),
        ("code", """// The same data as an apache-arrow Table, and the first rows as objects.
const arrowTable = snap.toArrow();
console.log(`${arrowTable.numRows} rows; schema: ${arrowTable.schema.fields.map((f) => `${f.name}: ${f.type}`).join(", ")}`);
await display(snap.toObjects().slice(0, 3));"""),
        ("code", """plot(snap.aggBy({ Volume: "sum(Size)" }, "Sym"), { x: "Sym", y: "Volume", mark: "barY" })"""),
    ],
}


def cell(kind, src):
    lines = src.splitlines(keepends=True)
    if kind == "markdown":
        return {"cell_type": "markdown", "metadata": {}, "source": lines}
    return {"cell_type": "code", "execution_count": None, "metadata": {}, "outputs": [], "source": lines}


for name, cells in NOTEBOOKS.items():
    nb = {
        "cells": [cell(k, s) for k, s in cells],
        "metadata": {
            "kernelspec": {"display_name": "Deno", "language": "typescript", "name": "deno"},
            "language_info": {"name": "typescript", "file_extension": ".ts", "mimetype": "text/x.typescript"},
        },
        "nbformat": 4,
        "nbformat_minor": 5,
    }
    for i, c in enumerate(nb["cells"]):
        c["id"] = f"{name.split('_')[0]}-{i:02d}"
    (ROOT / "notebooks" / name).write_text(json.dumps(nb, indent=1) + "\n")
    print("wrote", name)
