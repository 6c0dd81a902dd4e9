/**
 * Observable Plot charts of local tables, rendered to SVG/HTML on a
 * server-side DOM (linkedom), that redraw in place while a live table ticks.
 *
 * @module
 */

import * as Plot from "@observablehq/plot";
import { parseHTML } from "linkedom";
import type * as arrow from "apache-arrow";
import type { LocalTable } from "../table/local_table.ts";
import { tableLike } from "./format.ts";
import { escapeHtml } from "./html.ts";
import { installLiveDisplay, type LiveDisplayable, type MimeBundle } from "./jupyter.ts";

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
  /** Plot only the last N rows (keeps redraws cheap on long tables). */
  lastN?: number;
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

function channelMarks(o: PlotOptions, rows: PlotRow[]): Plot.Markish[] {
  if (!o.x && !o.y) throw new TypeError("plot() needs `x` and `y` columns, or a `marks` function");
  const ys = o.y === undefined ? [] : typeof o.y === "string" ? [o.y] : o.y;
  const kind = o.mark ?? "line";
  const out: Plot.Markish[] = [];
  for (const y of ys.length ? ys : [undefined]) {
    const ch: Record<string, unknown> = { x: o.x, y };
    if (o.stroke) ch.stroke = o.stroke;
    else if (ys.length > 1 && (kind === "line" || kind === "lineY" || kind === "dot")) ch.stroke = () => y;
    if (o.fill) ch.fill = o.fill;
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
  const { document } = parseHTML("<!DOCTYPE html><html><head></head><body></body></html>");
  const marks = (options.marks ? options.marks(rows) : channelMarks(options, rows)) as Plot.Markish[];
  const el = Plot.plot({
    grid: options.grid ?? true,
    width: options.width ?? 640,
    height: options.height ?? 320,
    ...options.plotOptions,
    marks,
    document: document as unknown as Document,
  }) as unknown as { outerHTML: string };
  const svg = inlineStyle(el.outerHTML);
  if (!options.title) return svg;
  return `<figure style="margin:0"><div style="font:bold 13px sans-serif;margin:4px 0">${
    escapeHtml(options.title)
  }</div>${svg}</figure>`;
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

function rowsOf(table: LocalTable | arrow.Table, lastN?: number): PlotRow[] {
  const t = tableLike(table);
  const start = lastN !== undefined ? Math.max(0, t.size - lastN) : 0;
  const out: PlotRow[] = new Array(t.size - start);
  for (let i = start; i < t.size; i++) {
    const row: PlotRow = {};
    for (const c of t.columns) row[c] = t.get(i, c);
    out[i - start] = row;
  }
  return out;
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

  /** The current chart as SVG/HTML markup. */
  render(): string {
    return renderPlot(rowsOf(this.#table, this.#options.lastN), this.#options);
  }

  /** The current chart as a MIME bundle. */
  bundle(): MimeBundle {
    const markup = this.render();
    const t = tableLike(this.#table);
    return {
      [markup.startsWith("<svg") ? "image/svg+xml" : "text/html"]: markup,
      "text/plain": `Plot of ${t.size} rows (${this.#options.mark ?? "line"})`,
    };
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

installLiveDisplay(LivePlot.prototype, "plot");

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
  return new LivePlot(table, options);
}
