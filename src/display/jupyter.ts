/**
 * Rich display in Deno Jupyter notebooks.
 *
 * Importing this module gives local tables, server table handles, sessions
 * and plots a `Symbol.for("Jupyter.display")` method, so they render as HTML
 * when they are a cell's value. A live table (or a plot of one) shown that
 * way, or through {@linkcode display}, keeps updating the same output in place
 * (`update_display_data`), throttled, until it closes; the last render stays
 * in the saved notebook. Under plain `deno run` nothing is sent anywhere.
 *
 * @module
 */

import { LocalTable } from "../table/local_table.ts";
import type { ColumnKind } from "../table/column.ts";
import { TableRef } from "../session/table_ref.ts";
import { Session } from "../session/session.ts";
import { BarrageSession } from "../barrage/barrage_session.ts";
import {
  badgeHtml as renderBadge,
  escapeHtml as escape,
  type HtmlColumn,
  type HtmlOptions,
  type HtmlTableInput,
  renderTableHtml,
} from "./html.ts";
import { formatText } from "./format.ts";
import type { ArrowField } from "../arrow_types.ts";

/** A MIME bundle, as Jupyter displays it. */
export type MimeBundle = Record<string, string>;

/** Display settings: window sizes and the refresh throttle. */
export interface DisplayOptions extends HtmlOptions {
  /** Minimum time between in-place refreshes of a live output, ms. Default 1000. */
  throttleMs?: number;
}

const defaults: Required<DisplayOptions> = { head: 10, tail: 5, maxCellChars: 60, throttleMs: 1000 };

/**
 * Changes the default display settings (window sizes, refresh throttle).
 *
 * @param options The settings to change.
 * @returns The settings now in force.
 */
export function setDisplayOptions(options: DisplayOptions): Required<DisplayOptions> {
  Object.assign(defaults, Object.fromEntries(Object.entries(options).filter(([, v]) => v !== undefined)));
  return { ...defaults };
}

/** The subset of `Deno.jupyter` used here. */
interface JupyterApi {
  broadcast(msgType: string, content: Record<string, unknown>): Promise<void>;
}

function jupyter(): JupyterApi | undefined {
  try {
    // deno-lint-ignore no-explicit-any
    return (Deno as any).jupyter as JupyterApi | undefined;
  } catch {
    return undefined;
  }
}

const NUMERIC: ReadonlySet<ColumnKind> = new Set([
  "int8",
  "int16",
  "int32",
  "int64",
  "float32",
  "float64",
  "bigint",
]);

/** A short type name for a column: Deephaven's Java type without its package, or the Arrow type. */
export function typeName(field: ArrowField): string {
  const dh = field.metadata.get("deephaven:type");
  if (dh) return dh.replace(/^(java\.(lang|time|math)|io\.deephaven\.vector)\./, "");
  return String(field.type);
}

function tableInput(t: LocalTable): HtmlTableInput {
  const kinds = t.schema.fields.map((_, j) => t.store(j).kind);
  const columns: HtmlColumn[] = t.schema.fields.map((f, j) => ({
    name: f.name,
    type: typeName(f),
    numeric: NUMERIC.has(kinds[j]),
  }));
  const live = t as LocalTable & {
    description?: string;
    viewport?: { toString(): string };
    reverse?: boolean;
  };
  let note: string | undefined;
  if (t.state === "failed" && t.error) note = t.error.message;
  else if (live.viewport !== undefined) {
    note = `viewport ${live.reverse ? "(from the end) " : ""}${live.viewport.toString()} of ${
      t.sourceSize ?? "?"
    } rows`;
  }
  return {
    title: live.description,
    badge: t.state,
    columns,
    size: t.size,
    get: (row, j) => {
      const v = t.get(row, j);
      return kinds[j] === "char" && typeof v === "number" ? String.fromCharCode(v) : v;
    },
    updatedAt: t.lastUpdated,
    note,
  };
}

/**
 * The MIME bundle (`text/html` and `text/plain`) of a local table's current state.
 *
 * @param table The table.
 * @param options Window sizes.
 * @returns The bundle.
 */
export function tableBundle(table: LocalTable, options: HtmlOptions = {}): MimeBundle {
  const o = { ...defaults, ...options };
  return {
    "text/html": renderTableHtml(tableInput(table), o),
    "text/plain": `${table.state}: ${formatText(table, { head: o.head, tail: o.tail })}`,
  };
}

async function refBundle(ref: TableRef): Promise<MimeBundle> {
  let columns: HtmlColumn[] = [];
  let size = 0;
  let note: string | undefined =
    "A handle to a table on the server; use toArrow() or subscribe to get its rows.";
  try {
    const schema = await ref.schema();
    columns = schema.fields.map((f) => ({ name: f.name, type: typeName(f), numeric: false }));
    size = await ref.size();
  } catch (e) {
    note = (e as Error).message;
  }
  const input: HtmlTableInput = {
    title: ref.description,
    badge: ref.closed ? "closed" : "remote",
    columns,
    size,
    note,
  };
  return {
    "text/html": renderTableHtml(input),
    "text/plain": `${ref.toString()}: ${size} rows; columns ${
      columns.map((c) => `${c.name} (${c.type})`).join(", ")
    }`,
  };
}

function sessionBundle(s: Session): MimeBundle {
  const url = `${s.useTls ? "https" : "http"}://${s.host}:${s.port}`;
  const state = s.state;
  return {
    "text/html": `<div style="font-family:ui-monospace,monospace;font-size:12px">${
      renderBadge(state)
    } <b>Deephaven session</b> ${escape(url)} · ${escape(state)}</div>`,
    "text/plain": String(s),
  };
}

/** Something that can render itself for display and may change over time. */
export interface LiveDisplayable {
  /** The current MIME bundle. */
  bundle(): MimeBundle;
  /** Subscribes to changes; returns an unsubscribe function. */
  onChange(cb: () => void): () => void;
  /** Whether it can still change. */
  readonly isLive: boolean;
}

let nextId = 0;

/**
 * Shows a live displayable in a new output and keeps that output current
 * (throttled) until it stops being live.
 */
async function showLive(
  j: JupyterApi,
  d: LiveDisplayable,
  prefix: string,
  throttleMs: number,
): Promise<void> {
  const id = `dh-${prefix}-${++nextId}-${Date.now().toString(36)}`;
  let last = d.bundle();
  await j.broadcast("display_data", { data: last, metadata: {}, transient: { display_id: id } });
  if (!d.isLive) return;
  let timer: ReturnType<typeof setTimeout> | undefined;
  let lastSent = Date.now();
  const send = () => {
    timer = undefined;
    const next = d.bundle();
    lastSent = Date.now();
    if (next["text/html"] === last["text/html"] && next["text/plain"] === last["text/plain"]) return;
    last = next;
    j.broadcast("update_display_data", { data: next, metadata: {}, transient: { display_id: id } }).catch(
      () => {},
    );
  };
  const off = d.onChange(() => {
    if (!d.isLive) {
      // Final render (e.g. closed or failed), then stop.
      if (timer !== undefined) clearTimeout(timer);
      send();
      off();
      return;
    }
    if (timer !== undefined) return;
    timer = setTimeout(send, Math.max(0, lastSent + throttleMs - Date.now()));
  });
}

function tableLive(t: LocalTable, options: HtmlOptions): LiveDisplayable {
  return {
    bundle: () => tableBundle(t, options),
    onChange: (cb) => {
      const a = t.onUpdate(cb);
      const b = t.onStateChange(cb);
      return () => {
        a();
        b();
      };
    },
    get isLive() {
      return t.state === "live" || t.state === "stale";
    },
  };
}

/** Whether an object can be shown by {@linkcode display}. */
export type Displayable = LocalTable | TableRef | Session | BarrageSession | LiveDisplayable;

function isLiveDisplayable(x: unknown): x is LiveDisplayable {
  return typeof x === "object" && x !== null && "bundle" in x && "onChange" in x;
}

/**
 * Shows a table, a server table handle, a session or a plot in the current
 * notebook cell. A live table or plot keeps updating the same output in
 * place, throttled (default once a second), until it closes. Outside a
 * notebook (plain `deno run`) this does nothing.
 *
 * @example Usage
 * ```ts ignore
 * const live = await bs.subscribe(ticket);
 * await display(live, { head: 5, tail: 5 });
 * ```
 *
 * @param x What to show.
 * @param options Window sizes and refresh throttle for this output.
 */
export async function display(x: Displayable, options: DisplayOptions = {}): Promise<void> {
  const j = jupyter();
  if (!j) return;
  const throttleMs = options.throttleMs ?? defaults.throttleMs;
  if (x instanceof LocalTable) {
    if (x.state === "live" || x.state === "stale") {
      return await showLive(j, tableLive(x, options), "table", throttleMs);
    }
    return await j.broadcast("display_data", { data: tableBundle(x, options), metadata: {}, transient: {} });
  }
  if (isLiveDisplayable(x)) return await showLive(j, x, "plot", throttleMs);
  const bundle = x instanceof TableRef ? await refBundle(x) : x instanceof Session ? sessionBundle(x) : {
    "text/plain": String(x),
  };
  await j.broadcast("display_data", { data: bundle, metadata: {}, transient: {} });
}

const $display = Symbol.for("Jupyter.display");

function install(proto: object, fn: (this: never) => unknown): void {
  Object.defineProperty(proto, $display, { value: fn, configurable: true, writable: true });
}

install(LocalTable.prototype, async function (this: LocalTable): Promise<MimeBundle> {
  const j = jupyter();
  if (j && (this.state === "live" || this.state === "stale")) {
    // A live table as a cell's value: show it in an output that can be updated in place.
    await showLive(j, tableLive(this, {}), "table", defaults.throttleMs);
    return {};
  }
  return tableBundle(this);
} as never);

install(TableRef.prototype, function (this: TableRef): Promise<MimeBundle> {
  return refBundle(this);
} as never);

install(Session.prototype, function (this: Session): MimeBundle {
  return sessionBundle(this);
} as never);

install(BarrageSession.prototype, function (this: BarrageSession): MimeBundle {
  return sessionBundle(this.session);
} as never);

/**
 * Registers the display method on another live displayable class (used by plots).
 * @ignore
 */
export function installLiveDisplay(proto: object, prefix: string): void {
  install(proto, async function (this: LiveDisplayable): Promise<MimeBundle> {
    const j = jupyter();
    if (j && this.isLive) {
      await showLive(j, this, prefix, defaults.throttleMs);
      return {};
    }
    return this.bundle();
  } as never);
}
