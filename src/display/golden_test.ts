/**
 * Golden-file tests of the notebook display: rendered HTML tables, text, and
 * Observable Plot SVG, compared with files under tests/golden/. Run with
 * `UPDATE_GOLDEN=1` to rewrite the files after an intended change (then
 * review the diff).
 */

import assert from "node:assert/strict";
import * as arrow from "../deps/apache_arrow.ts";
import * as Plot from "../deps/observable_plot.ts";
import { renderTableHtml } from "./html.ts";
import { tableBundle } from "./jupyter.ts";
import { plot, renderPlot } from "./plot.ts";
import { localTableFromArrow } from "../barrage/from_arrow.ts";

const GOLDEN = new URL("../../tests/golden/", import.meta.url);
const HOSTILE = "<img src=x onerror=alert(1)>";

async function golden(name: string, actual: string): Promise<void> {
  const url = new URL(name, GOLDEN);
  if (Deno.env.get("UPDATE_GOLDEN") === "1") {
    await Deno.writeTextFile(url, actual);
    return;
  }
  let expected: string;
  try {
    expected = await Deno.readTextFile(url);
  } catch {
    throw new Error(`Golden file ${name} is missing; run with UPDATE_GOLDEN=1 to create it, then review it`);
  }
  assert.equal(
    actual,
    expected,
    `${name} differs from its golden file; run with UPDATE_GOLDEN=1 if intended`,
  );
}

/** Plot names its style class with a hash; the golden files use a fixed name. */
function stableIds(svg: string): string {
  return svg.replace(/plot-[0-9a-f]{6}(-\d+)?/g, "plot-ID");
}

function md(t: string): Map<string, string> {
  return new Map([["deephaven:type", t]]);
}

/** A small table with every kind of cell the renderer distinguishes, including hostile text. */
function sampleTable(): arrow.Table {
  const fields = [
    new arrow.Field("Sym", new arrow.Utf8(), true, md("java.lang.String")),
    new arrow.Field("Qty", new arrow.Int32(), true, md("int")),
    new arrow.Field("Px", new arrow.Float64(), true, md("double")),
    new arrow.Field("Big", new arrow.Int64(), true, md("long")),
    new arrow.Field("T", new arrow.TimestampNanosecond("UTC"), true, md("java.time.Instant")),
    new arrow.Field("Ok", new arrow.Bool(), true, md("java.lang.Boolean")),
  ];
  const n = 4;
  const valid = (nulls: number[]) => {
    const b = new Uint8Array(8);
    for (let i = 0; i < n; i++) if (!nulls.includes(i)) b[i >> 3] |= 1 << (i & 7);
    return b;
  };
  const children = [
    arrow.vectorFromArray(["AAPL", HOSTILE, "", null], new arrow.Utf8()).data[0],
    arrow.makeData({
      type: new arrow.Int32(),
      length: n,
      data: Int32Array.from([1, -2, 3, 0]),
      nullBitmap: valid([3]),
      nullCount: 1,
    }),
    arrow.makeData({
      type: new arrow.Float64(),
      length: n,
      data: Float64Array.from([1.5, NaN, 1e-9, 0]),
      nullBitmap: valid([3]),
      nullCount: 1,
    }),
    arrow.makeData({
      type: new arrow.Int64(),
      length: n,
      data: BigInt64Array.from([2n ** 62n, -1n, 0n, 0n]),
      nullBitmap: valid([3]),
      nullCount: 1,
    }),
    arrow.makeData({
      type: new arrow.TimestampNanosecond("UTC"),
      length: n,
      data: BigInt64Array.from([1_700_000_000_123_456_789n, 0n, 1n, 0n]),
      nullBitmap: valid([3]),
      nullCount: 1,
    }),
    arrow.makeData({
      type: new arrow.Bool(),
      length: n,
      data: Uint8Array.from([0b0101]),
      nullBitmap: valid([3]),
      nullCount: 1,
    }),
  ];
  const schema = new arrow.Schema(fields);
  const batch = new arrow.RecordBatch(
    schema,
    arrow.makeData({ type: new arrow.Struct(fields), length: n, children }),
  );
  return new arrow.Table([batch]);
}

Deno.test("renderTableHtml() matches its golden file: badges, types, nulls, head and tail windows", async () => {
  const rows = Array.from({ length: 30 }, (_, i) => [`row ${i}`, i, i * 0.5]);
  const html = renderTableHtml({
    title: 'timeTable("PT1s") <b>',
    badge: "live",
    columns: [
      { name: "Name", type: "String", numeric: false },
      { name: "I", type: "int", numeric: true },
      { name: "D", type: "double", numeric: true },
    ],
    size: rows.length,
    get: (r, c) => rows[r][c],
    updatedAt: new Date("2026-01-02T03:04:05.678Z"),
    note: "viewport {0-29} of 30 rows",
  }, { head: 3, tail: 2 });
  await golden("table_window.html", html);
});

Deno.test("a local table's display bundle matches its golden file and escapes hostile values", async () => {
  const t = localTableFromArrow(sampleTable());
  const bundle = tableBundle(t);
  const stamp = / · (taken|last update|as of) \d{4}-\d\d-\d\d \d\d:\d\d:\d\d UTC/g;
  const html = bundle["text/html"].replace(stamp, "");
  assert.ok(!html.includes(HOSTILE), "the hostile value must not appear as markup");
  assert.ok(html.includes("&lt;img src=x onerror=alert(1)&gt;"), "the hostile value is shown as text");
  assert.ok(
    !/<script/i.test(html) && !/ on\w+=/i.test(html.replaceAll("onerror=alert", "")),
    "no scripts or handlers",
  );
  assert.ok(!/<style/i.test(html), "inline styles only");
  await golden("local_table.html", html);
  await golden("local_table.txt", bundle["text/plain"].replace(stamp, ""));
});

Deno.test("renderPlot() SVG matches its golden file with stable ids", async () => {
  const rows = Array.from({ length: 20 }, (_, i) => ({ X: i, Y: Math.sin(i / 3), Z: Math.cos(i / 3) }));
  const svg = stableIds(renderPlot(rows, { x: "X", y: ["Y", "Z"], width: 400, height: 200 }));
  assert.ok(svg.startsWith("<svg"), "a plot without a title is an SVG element");
  assert.ok(!/<style/i.test(svg), "the SVG carries inline styles only");
  await golden("plot_lines.svg", svg);
});

Deno.test("plots render hostile values as text, in marks and in titles", async () => {
  const rows = [{ X: 1, Y: 2, L: HOSTILE }, { X: 2, Y: 3, L: "ok" }];
  const markup = stableIds(renderPlot(rows, {
    title: HOSTILE,
    // A text mark whose text is the hostile value.
    marks: (r) => [Plot.text(r, { x: "X", y: "Y", text: "L" })],
  }));
  assert.ok(!markup.includes(HOSTILE), "the hostile value must not appear as markup");
  assert.ok(markup.includes("&lt;img src=x onerror=alert(1)&gt;"));
  assert.ok(!/<script/i.test(markup));
  await golden("plot_hostile.html", markup);
});

Deno.test("a chart of a table with an Instant column draws it on a time axis", () => {
  const t = localTableFromArrow(sampleTable());
  const svg = plot(t, { x: "T", y: "Qty", mark: "dot" }).render();
  assert.ok(svg.includes("<svg"), "an SVG");
  // Observable Plot's time scale labels decades: the instants span 1970 to 2023.
  assert.match(svg, />1970<[\s\S]*>2020</);
  assert.match(svg, /<circle/);
});
