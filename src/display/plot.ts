/**
 * Observable Plot charts of local tables, rendered to SVG/HTML on a
 * server-side DOM (linkedom), that redraw in place while a live table ticks.
 *
 * @module
 */

import { DeephavenError } from "../errors.ts";
import * as Plot from "../deps/observable_plot.ts";
import { parseHTML } from "../deps/linkedom.ts";
import type * as arrow from "../deps/apache_arrow.ts";
import type { LocalTable } from "../table/local_table.ts";
import { checkTable, tableLike } from "./format.ts";
import { Instant } from "../table/time.ts";
import { checkFunction, checkInteger, checkOptions, checkStrings, shown } from "../validate.ts";
import { escapeHtml, stampText } from "./html.ts";
import { displayAsValue, type LiveDisplayable, type MimeBundle } from "./jupyter.ts";

/** The mark kinds {@linkcode plot} can draw from channel options. */
export type MarkKind = "line" | "dot" | "area" | "bar" | "barY" | "areaY" | "lineY" | "rule" | "text";

/** A row as plots see it: column name to value (timestamps as `Date`). */
export type PlotRow = Record<string, unknown>;

/** Options of {@linkcode plot}: one object, every field optional but `x`/`y` or `marks`. */
export interface PlotOptions {
  /** Column for the x channel. */
  x?: string;
  /** Column(s) for the y channel; several columns draw one series each. */
  y?: string | string[];
  /** Mark kind for the x/y channels. Default `"line"`. */
  mark?: MarkKind;
  /** Column (or CSS color) for stroke. */
  stroke?: string;
  /** Column (or CSS color) for fill. */
  fill?: string;
  /**
   * Plot only the last N rows: the window slides as a live table grows.
   * Default {@linkcode DEFAULT_MAX_ROWS} (the most recent rows of a longer
   * table; the chart's text says so). `Infinity` plots every row.
   */
  lastN?: number;
  /**
   * Draw a dot at each point of a line or area chart, so that a chart of
   * a few rows shows them. Default: while at most 100 rows are shown.
   */
  points?: boolean;
  /**
   * Custom marks, called with the current rows on every redraw (overrides
   * `x`/`y`/`mark`): return Observable Plot marks, e.g.
   * `(rows) => [Plot.lineY(rows, { x: "T", y: "V" })]`.
   */
  marks?: (rows: PlotRow[]) => unknown[];
  /** Title shown above the chart (escaped). */
  title?: string;
  /** Width in pixels. Default 640. */
  width?: number;
  /** Height in pixels. Default 320. */
  height?: number;
  /** Show grid lines. Default true. */
  grid?: boolean;
  /** Any other `Plot.plot` options (scales, axes, legends...), passed as they are. */
  plotOptions?: Record<string, unknown>;
}

/** The rows a chart shows at most when `lastN` is not given. */
export const DEFAULT_MAX_ROWS = 10_000;
/** Line and area charts draw their points as dots up to this many rows (unless `points` says otherwise). */
const POINTS_UP_TO = 100;

/**
 * Rows handed to Plot: objects with the columns as properties. A `Columns`
 * value carries the columns as arrays instead (only those the chart uses),
 * which Plot reads without building an object per row.
 */
interface Columns {
  length: number;
  columns: Record<string, ArrayLike<unknown>>;
}

function channel(data: PlotRow[] | Columns, name: string | undefined): unknown {
  if (name === undefined || Array.isArray(data)) return name;
  return data.columns[name] ?? name; // not a column: a constant such as a CSS color
}

function channelMarks(o: PlotOptions, data: PlotRow[] | Columns): Plot.Markish[] {
  if (!o.x && !o.y) throw DeephavenError.invalid("plot() needs `x` and `y` columns, or a `marks` function");
  const ys = o.y === undefined ? [] : typeof o.y === "string" ? [o.y] : o.y;
  const kind = o.mark ?? "line";
  const rows = Array.isArray(data) ? data : { length: data.length };
  const out: Plot.Markish[] = [];
  const dots = (o.points ?? data.length <= POINTS_UP_TO) &&
    (kind === "line" || kind === "lineY" || kind === "area" || kind === "areaY");
  for (const y of ys.length ? ys : [undefined]) {
    const ch: Record<string, unknown> = { x: channel(data, o.x), y: channel(data, y) };
    if (o.stroke) ch.stroke = channel(data, o.stroke);
    else if (ys.length > 1 && (kind === "line" || kind === "lineY" || kind === "dot")) ch.stroke = () => y;
    if (o.fill) ch.fill = channel(data, o.fill);
    if (dots) {
      const dot = { x: ch.x, y: ch.y, r: 2, fill: ch.stroke ?? "currentColor", stroke: null };
      out.push(Plot.dot(rows, dot as Plot.DotOptions));
    }
    switch (kind) {
      case "line":
      case "lineY":
        out.push(Plot.lineY(rows, ch));
        break;
      case "dot":
        out.push(Plot.dot(rows, ch));
        break;
      case "area":
      case "areaY":
        out.push(Plot.areaY(rows, ch));
        break;
      case "bar":
      case "barY":
        out.push(Plot.barY(rows, ch));
        break;
      case "rule":
        out.push(Plot.ruleX(rows, ch));
        break;
      case "text":
        out.push(Plot.text(rows, { ...ch, text: y }));
        break;
    }
  }
  return out;
}

/**
 * Renders rows to SVG (or an HTML `<figure>` when Plot adds a legend or title).
 *
 * @param rows The rows.
 * @param options Plot options.
 * @returns The markup.
 */
export function renderPlot(rows: PlotRow[], options: PlotOptions): string {
  return renderMarks(rows, options);
}

let dom: Document | undefined;

function renderMarks(data: PlotRow[] | Columns, options: PlotOptions, caption?: string): string {
  // One server-side document for every chart: Plot only creates elements in it, never attaches them.
  dom ??= parseHTML("<!DOCTYPE html><html><head></head><body></body></html>").document as unknown as Document;
  const document = dom;
  const marks =
    (options.marks
      ? options.marks(Array.isArray(data) ? data : rowObjects(data))
      : channelMarks(options, data)) as Plot.Markish[];
  const el = Plot.plot({
    grid: options.grid ?? true,
    width: options.width ?? 640,
    height: options.height ?? 320,
    ...options.plotOptions,
    marks,
    document: document as unknown as Document,
  }) as unknown as { outerHTML: string };
  const svg = inlineStyle(el.outerHTML);
  if (!options.title && !caption) return svg;
  const title = options.title
    ? `<div style="font:bold 13px sans-serif;margin:4px 0">${escapeHtml(options.title)}</div>`
    : "";
  const note = caption
    ? `<div style="font:11px sans-serif;color:#57606a;margin:2px 0">${escapeHtml(caption)}</div>`
    : "";
  return `<figure style="margin:0">${title}${svg}${note}</figure>`;
}

function rowObjects(data: Columns): PlotRow[] {
  const names = Object.keys(data.columns);
  const out: PlotRow[] = new Array(data.length);
  for (let i = 0; i < data.length; i++) {
    const row: PlotRow = {};
    for (const c of names) row[c] = data.columns[c][i];
    out[i] = row;
  }
  return out;
}

/**
 * Replaces the class-scoped `<style>` block Plot puts in its SVG with an
 * inline `style` attribute, so the markup carries inline styles only.
 */
function inlineStyle(markup: string): string {
  return markup
    .replace(/<style>[\s\S]*?<\/style>/g, "")
    .replace(
      /^<svg /,
      '<svg style="background:white;display:block;height:auto;max-width:100%;overflow:visible" ',
    );
}

/** The columns a chart reads, as arrays over its window of rows (the last `lastN`). */
function windowOf(table: LocalTable | arrow.Table, options: PlotOptions): { data: Columns; total: number } {
  const t = tableLike(table);
  const lastN = options.lastN ?? DEFAULT_MAX_ROWS;
  const start = Math.max(0, t.size - lastN);
  const length = t.size - start;
  const known = new Set(t.columns);
  const wanted = options.marks ? t.columns : [
    options.x,
    ...(typeof options.y === "string" ? [options.y] : options.y ?? []),
    options.stroke,
    options.fill,
  ]
    .filter((c): c is string => c !== undefined && known.has(c));
  const columns: Record<string, unknown[]> = {};
  for (const c of new Set(wanted)) {
    const values = new Array(length);
    for (let i = 0; i < length; i++) {
      const v = t.get(start + i, c);
      // Observable Plot's time scales take `Date`s (a millisecond is finer than a chart shows).
      values[i] = v instanceof Instant ? v.toDate() : v;
    }
    columns[c] = values;
  }
  return { data: { length, columns }, total: t.size };
}

/**
 * A chart of a table. Shown in a notebook (as a cell's value or with
 * `display`), a chart of a live table redraws in place as the table ticks.
 */
export class LivePlot implements LiveDisplayable {
  readonly #table: LocalTable | arrow.Table;
  readonly #options: PlotOptions;

  /**
   * Creates a chart; {@linkcode plot} is the usual way.
   *
   * @param table The table to chart.
   * @param options Plot options.
   */
  constructor(table: LocalTable | arrow.Table, options: PlotOptions) {
    this.#table = table;
    this.#options = options;
  }

  /**
   * Shows the chart when it is a cell's value, and keeps it current while its table ticks.
   *
   * @returns The bundle for the kernel's result (empty inside a kernel, where the chart is published live).
   */
  [Symbol.for("Jupyter.display")](): Promise<MimeBundle> {
    return displayAsValue(this);
  }

  /** The current chart as SVG/HTML markup. */
  render(): string {
    return this.#render().markup;
  }

  #render(): { markup: string; text: string } {
    const { data, total } = windowOf(this.#table, this.#options);
    const shown = data.length < total
      ? `the last ${data.length.toLocaleString("en-US")} of ${total.toLocaleString("en-US")} rows`
      : `${total.toLocaleString("en-US")} rows`;
    const t = this.#table as LocalTable;
    const stamp = typeof t.onUpdate === "function" ? stampText(t.state, t.lastUpdated) : "";
    const caption = [stamp, data.length < total ? shown : ""].filter((x) => x).join(" · ");
    const markup = renderMarks(data, this.#options, caption || undefined);
    return { markup, text: `Plot of ${shown} (${this.#options.mark ?? "line"})${stamp ? `; ${stamp}` : ""}` };
  }

  /** The current chart as a MIME bundle. */
  bundle(): MimeBundle {
    const { markup, text } = this.#render();
    return { [markup.startsWith("<svg") ? "image/svg+xml" : "text/html"]: markup, "text/plain": text };
  }

  /** Whether the table can still change. */
  get isLive(): boolean {
    const t = this.#table as LocalTable;
    return typeof t.onUpdate === "function" && (t.state === "live" || t.state === "stale");
  }

  /** Calls `cb` when the table changes; returns an unsubscribe function. */
  onChange(cb: () => void): () => void {
    const t = this.#table as LocalTable;
    if (typeof t.onUpdate !== "function") return () => {};
    const a = t.onUpdate(cb);
    const b = t.onStateChange(cb);
    return () => {
      a();
      b();
    };
  }
}

/**
 * Charts a local table (or an apache-arrow table) with Observable Plot.
 *
 * @example Usage
 * ```ts ignore
 * const chart = plot(live, { x: "Timestamp", y: "Y", lastN: 200 });
 * await display(chart); // redraws in place as `live` ticks
 * ```
 *
 * @param table The table.
 * @param options Channels, mark kind, window, size.
 * @returns The chart.
 */
export function plot(table: LocalTable | arrow.Table, options: PlotOptions): LivePlot {
  checkPlot(table, options);
  return new LivePlot(table, options);
}

const MARK_KINDS: readonly MarkKind[] = [
  "line",
  "dot",
  "area",
  "bar",
  "barY",
  "areaY",
  "lineY",
  "rule",
  "text",
];

/** Refuses a chart that could not be drawn (before anything is drawn): unknown columns, kinds or sizes. */
function checkPlot(table: LocalTable | arrow.Table, options: PlotOptions): void {
  const t = tableLike(checkTable(table, "plot()"));
  const o = checkOptions(options, "plot()");
  if (o.marks !== undefined) checkFunction(o.marks, "plot() needs `marks` as a function of the rows");
  else {
    if (!o.x && !o.y) throw DeephavenError.invalid("plot() needs `x` and `y` columns, or a `marks` function");
    for (
      const c of [
        ...checkStrings(o.x, "plot() needs `x` as a column name"),
        ...checkStrings(o.y, "plot() needs `y` columns"),
      ]
    ) {
      if (!t.columns.includes(c)) {
        throw DeephavenError.invalid(
          `plot() got no column ${shown(c)}; the columns are ${t.columns.join(", ")}`,
        );
      }
    }
    if (o.mark !== undefined && !MARK_KINDS.includes(o.mark)) {
      throw DeephavenError.invalid(`plot() marks are ${MARK_KINDS.join(", ")}; got ${shown(o.mark)}`);
    }
  }
  if (o.lastN !== undefined && o.lastN !== Infinity) checkInteger(o.lastN, "plot() needs lastN", 1);
  for (const k of ["width", "height"] as const) {
    if (o[k] !== undefined && !(typeof o[k] === "number" && o[k] > 0 && Number.isFinite(o[k]))) {
      throw DeephavenError.invalid(`plot() needs ${k} as a number of pixels > 0, got ${shown(o[k])}`);
    }
  }
}
