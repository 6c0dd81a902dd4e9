/**
 * HTML rendering of tables for notebooks: shape, column names and types, a
 * head and a tail window, a state badge and the last update time. Inline
 * styles only, no scripts, every value escaped, so the output reads the
 * same in a live kernel, a saved notebook and a sanitizing viewer.
 *
 * @module
 */

import { formatValue, NULL_TEXT } from "./format.ts";

/** Escapes text for HTML element content and attribute values. */
export function escapeHtml(text: string): string {
  return text.replace(
    /[&<>"']/g,
    (c) => c === "&" ? "&amp;" : c === "<" ? "&lt;" : c === ">" ? "&gt;" : c === '"' ? "&quot;" : "&#39;",
  );
}

/** One column as the renderer sees it. */
export interface HtmlColumn {
  /** Column name. */
  name: string;
  /** Type shown under the name, e.g. `double` or `Instant`. */
  type: string;
  /** Right-align values (numbers). */
  numeric: boolean;
}

/** What {@linkcode renderTableHtml} draws. */
export interface HtmlTableInput {
  /** Heading, e.g. the table's description. */
  title?: string;
  /** The badge: `live`, `snapshot`, `stale`, `failed`, `closed`, `remote`... */
  badge: string;
  /** Columns, in order. */
  columns: HtmlColumn[];
  /** Row count. */
  size: number;
  /** Value at a row position and column index; `undefined` when no rows are held here (remote tables). */
  get?: (row: number, column: number) => unknown;
  /** When the data last changed. */
  updatedAt?: Date;
  /** A line under the table (e.g. an error message, or "viewport rows 0-19 of 1000"). */
  note?: string;
}

/** Window sizes and styling of rendered tables. */
export interface HtmlOptions {
  /** Rows shown from the top. Default 10. */
  head?: number;
  /** Rows shown from the bottom. Default 5. */
  tail?: number;
  /** Longest cell text before it is cut. Default 60. */
  maxCellChars?: number;
}

const BADGE_COLORS: Record<string, string> = {
  live: "#1a7f37",
  snapshot: "#0969da",
  stale: "#9a6700",
  reconnecting: "#9a6700",
  failed: "#cf222e",
  closed: "#57606a",
  remote: "#8250df",
  connected: "#1a7f37",
};

const CELL = "padding:2px 8px;border-bottom:1px solid #d0d7de;white-space:nowrap;";

function cell(v: unknown, numeric: boolean, maxChars: number): string {
  if (v === null || v === undefined) {
    return `<td style="${CELL}color:#8c959f;font-style:italic;text-align:${numeric ? "right" : "left"}">${
      escapeHtml(NULL_TEXT)
    }</td>`;
  }
  let text = formatValue(v);
  if (text.length > maxChars) text = `${text.slice(0, maxChars - 1)}…`;
  const style = `${CELL}${numeric ? "text-align:right;font-variant-numeric:tabular-nums;" : ""}${
    text === "" ? "background:#f6f8fa;" : ""
  }`;
  return `<td style="${style}">${escapeHtml(text)}</td>`;
}

/** The badge as an inline-styled span. */
export function badgeHtml(badge: string): string {
  const color = BADGE_COLORS[badge] ?? "#57606a";
  return `<span style="display:inline-block;padding:0 6px;border-radius:8px;font-size:11px;color:#fff;background:${color}">${
    escapeHtml(badge)
  }</span>`;
}

/** A time as `2026-12-05 12:03:04 UTC` (milliseconds dropped). */
function utcStamp(d: Date): string {
  return `${d.toISOString().slice(0, 19).replace("T", " ")} UTC`;
}

/**
 * The state with the time it refers to, as a saved notebook should say it:
 * `live · last update 2026-12-05 12:03:04 UTC`, `snapshot · taken …`.
 *
 * @param state The table's state (`live`, `snapshot`, `stale`, ...).
 * @param at When the shown data last changed (or was taken).
 * @returns The text.
 */
export function stampText(state: string, at?: Date): string {
  if (!at) return state;
  const what = state === "snapshot" ? "taken" : state === "remote" ? "as of" : "last update";
  return `${state} · ${what} ${utcStamp(at)}`;
}

/**
 * Renders a table as self-contained HTML.
 *
 * @param t What to draw.
 * @param options Window sizes.
 * @returns The HTML.
 */
export function renderTableHtml(t: HtmlTableInput, options: HtmlOptions = {}): string {
  const head = options.head ?? 10, tail = options.tail ?? 5, maxChars = options.maxCellChars ?? 60;
  const parts: string[] = [];
  parts.push(`<div style="font-family:ui-monospace,SFMono-Regular,Menlo,monospace;font-size:12px">`);
  const shape = `${t.size.toLocaleString("en-US")} rows × ${t.columns.length} columns`;
  const when = t.updatedAt ? stampText(t.badge, t.updatedAt).slice(t.badge.length) : "";
  parts.push(
    `<div style="margin:2px 0 4px 0">${badgeHtml(t.badge)}${escapeHtml(when)} · ${
      t.title ? `<b>${escapeHtml(t.title)}</b> · ` : ""
    }${escapeHtml(shape)}</div>`,
  );
  parts.push(`<table style="border-collapse:collapse">`);
  parts.push("<thead><tr>");
  for (const c of t.columns) {
    parts.push(
      `<th style="${CELL}text-align:${c.numeric ? "right" : "left"};border-bottom:2px solid #8c959f">${
        escapeHtml(c.name)
      }<br><span style="font-weight:normal;color:#57606a">${escapeHtml(c.type)}</span></th>`,
    );
  }
  parts.push("</tr></thead><tbody>");
  if (t.get) {
    const rows: number[] = [];
    if (t.size <= head + tail) { for (let i = 0; i < t.size; i++) rows.push(i); }
    else {
      for (let i = 0; i < head; i++) rows.push(i);
      rows.push(-1);
      for (let i = t.size - tail; i < t.size; i++) rows.push(i);
    }
    for (const r of rows) {
      if (r < 0) {
        parts.push(
          `<tr><td colspan="${t.columns.length}" style="${CELL}color:#57606a;text-align:center">… ${
            (t.size - head - tail).toLocaleString("en-US")
          } more rows …</td></tr>`,
        );
        continue;
      }
      parts.push("<tr>");
      t.columns.forEach((c, j) => parts.push(cell(t.get!(r, j), c.numeric, maxChars)));
      parts.push("</tr>");
    }
  }
  parts.push("</tbody></table>");
  if (t.note) parts.push(`<div style="margin-top:4px;color:#57606a">${escapeHtml(t.note)}</div>`);
  parts.push("</div>");
  return parts.join("");
}
