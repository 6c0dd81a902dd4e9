"""Writes the example notebooks in notebooks/ from the cell sources below.

Run: python3 scripts/make_notebooks.py  (the .ipynb files are checked in and excluded from deno fmt: its
check of .ipynb files proved flaky on a fresh clone; edit here, regenerate, commit).
"""
import json
import pathlib

ROOT = pathlib.Path(__file__).resolve().parent.parent
SETTLE = "await new Promise((r) => setTimeout(r, 50)); // let the kernel flush this cell's outputs"

CONNECT = """import { barrageSession, display, plot, Session, SharedTicket } from "../mod.ts";

// The server to use: DH_HOST / DH_PORT (the tests start one), else a local default server.
const host = Deno.env.get("DH_HOST") ?? "localhost";
const port = Number(Deno.env.get("DH_PORT") ?? 10000);
const session = await Session.connect({ host, port });
await display(session);
""" + SETTLE

NOTEBOOKS = {
    "01_seed.ipynb": [
        ("markdown", "# Live Deephaven tables in Deno\n\nThe seed scenario: build a ticking table on the server, "
                     "publish it under a shared ticket, capture it with Barrage, and watch it tick."),
        ("code", CONNECT),
        ("markdown", "A ticking table on the server, published under a random `SharedTicket`. "
                     "`ticking` is a handle: the rows stay on the server."),
        ("code", """const ticking = session.timeTable("PT0.5s").update(["X = 0.1 * i", "Y = sin(X)"]);
const ticket = SharedTicket.randomTicket();
await session.publishTable(ticket, ticking);
await display(ticking);
""" + SETTLE),
        ("markdown", "Anyone with the ticket's bytes can capture it. `subscribe` gives a local table that keeps "
                     "ticking; its output below refreshes in place."),
        ("code", """const bs = await barrageSession({ host, port });
const live = await bs.subscribe(ticket.bytes);
await display(live);
// Watch a few updates arrive before moving on (the output above keeps refreshing afterwards too).
let updates = 0;
for await (const _ of live.updates()) if (++updates >= 4) break;
""" + SETTLE),
        ("markdown", "Local views of the live table are computed here, with no server round trip, and stay live "
                     "as it ticks."),
        ("code", """const stats = live.aggBy({ Rows: "count()", MeanY: "avg(Y)", MaxY: "max(Y)", LastX: "last(X)" });
await display(stats);
let changes = 0;
for await (const _ of stats.updates()) if (++changes >= 3) break;
""" + SETTLE),
        ("markdown", "A static snapshot of the same table, captured the same way."),
        ("code", """const snap = await bs.snapshot(ticket.bytes);
await display(snap);
console.log(`snapshot: ${snap.size} rows; live table: ${live.size} rows`);
""" + SETTLE),
    ],
    "02_live_plot.ipynb": [
        ("markdown", "# A live Observable Plot chart\n\nA chart of a subscribed table redraws in place as it ticks."),
        ("code", CONNECT),
        ("code", """const waves = session.timeTable("PT0.2s").update(["X = 0.1 * i", "Sin = sin(X)", "Cos = cos(X)"]);
const bs = await barrageSession({ host, port });
const live = await bs.subscribe(waves, { minUpdateIntervalMs: 500 });
const chart = plot(live, { x: "X", y: ["Sin", "Cos"], lastN: 200, title: "sin and cos, last 200 rows" });
await display(chart);
let updates = 0;
for await (const _ of live.updates()) if (++updates >= 6) break;
""" + SETTLE),
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
const bs = await barrageSession({ host, port });
const snap = await bs.snapshot(trades);
await display(snap);
""" + SETTLE),
        ("code", """// Rows as objects, and the same data as an apache-arrow Table.
console.log(snap.toObjects().slice(0, 3));
const arrowTable = snap.toArrow();
console.log(`${arrowTable.numRows} rows; schema: ${arrowTable.schema.fields.map((f) => `${f.name}: ${f.type}`).join(", ")}`);
""" + SETTLE),
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
