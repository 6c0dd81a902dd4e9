/**
 * Rich display in Deno Jupyter notebooks.
 *
 * A local table, a server table handle, a session or a plot that is a
 * cell's value, or that is passed to {@linkcode display}, shows in that cell
 * as HTML (or SVG), every time: the output is published and confirmed to
 * have left the kernel before the cell ends, so no pause is needed in the
 * cell (see `kernel.ts` for the kernel defects this works around).
 *
 * A live table (or a plot of one) keeps its output current in place
 * (`update_display_data`). Rendering never runs on the data path: a table
 * update only marks its outputs dirty; one scheduler renders dirty outputs
 * later, coalesced (one render however many updates came), at most once per
 * `throttleMs` per output, in small slices with the event loop free between
 * them, and paced so that rendering takes at most a tenth of the wall time.
 * The last render stays in the saved notebook, and it says when it was
 * taken: `live · last update 2026-12-05 12:03:04 UTC · 1,234 rows`.
 * Under plain `deno run` nothing is sent anywhere.
 *
 * @module
 */

import { checkInteger, checkOptions } from "../validate.ts";
import { LocalTable, storageOf } from "../table/local_table.ts";
import { KINDS } from "../table/kinds.ts";
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
  stampText,
} from "./html.ts";
import { checkTable, formatText } from "./format.ts";
import type { ArrowField } from "../arrow_types.ts";
import { type KernelIo, kernelIo } from "./kernel.ts";

/** A MIME bundle, as Jupyter displays it. */
export type MimeBundle = Record<string, string>;

/** Display settings: window sizes and the refresh throttle. */
export interface DisplayOptions extends HtmlOptions {
  /** Minimum time between in-place refreshes of a live output, ms. Default 1000. */
  throttleMs?: number;
}

const defaults: Required<DisplayOptions> = { head: 10, tail: 5, maxCellChars: 60, throttleMs: 1000 };

/** Refuses display settings that are not whole numbers >= 0. */
function checkDisplayOptions(options: DisplayOptions, what: string): void {
  for (const [k, v] of Object.entries(checkOptions(options, what))) {
    if (v !== undefined && k in defaults) checkInteger(v, `${what} needs ${k}`, 0);
  }
}

/**
 * Changes the default display settings (window sizes, refresh throttle).
 *
 * @example Show five head rows and refresh live outputs twice a second
 * ```ts
 * import { setDisplayOptions } from "./jupyter.ts";
 * const now = setDisplayOptions({ head: 5, throttleMs: 500 });
 * console.assert(now.head === 5);
 * ```
 *
 * @param options The settings to change.
 * @returns The settings now in force.
 */
export function setDisplayOptions(options: DisplayOptions): Required<DisplayOptions> {
  checkDisplayOptions(options, "setDisplayOptions()");
  Object.assign(defaults, Object.fromEntries(Object.entries(options).filter(([, v]) => v !== undefined)));
  return { ...defaults };
}

/** A short type name for a column: Deephaven's Java type without its package, or the Arrow type. */
export function typeName(field: ArrowField): string {
  const dh = field.metadata.get("deephaven:type");
  if (dh) return dh.replace(/^(java\.(lang|time|math)|io\.deephaven\.vector)\./, "");
  return String(field.type);
}

function tableInput(t: LocalTable): HtmlTableInput {
  const kinds = t.schema.fields.map((_, j) => storageOf(t).store(j).kind);
  const columns: HtmlColumn[] = t.schema.fields.map((f, j) => ({
    name: f.name,
    type: typeName(f),
    numeric: KINDS[kinds[j]].shownAsNumber,
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
    get: (row, j) => t.get(row, j),
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
  checkTable(table, "tableBundle()");
  const o = { ...defaults, ...options };
  return {
    "text/html": renderTableHtml(tableInput(table), o),
    "text/plain": `${stampText(table.state, table.lastUpdated)}: ${
      formatText(table, { head: o.head, tail: o.tail })
    }`,
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
    updatedAt: new Date(),
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

/** Counters of the display scheduler, for benchmarks: renders, their cost, and messages sent. */
export interface DisplayStats {
  /** Live outputs being kept current. */
  outputs: number;
  /** Changes of their sources (table updates, state changes) seen. */
  changes: number;
  /** Renders done (coalesced: at most one per output per throttle interval). */
  renders: number;
  /** Time spent rendering, ms. */
  renderMs: number;
  /** `update_display_data` messages published (renders whose result differed). */
  updates: number;
}

/** One live output: where it shows, what it shows, and whether it needs a new render. */
interface LiveOutput {
  readonly id: string;
  readonly source: LiveDisplayable;
  readonly throttleMs: number;
  last: MimeBundle;
  lastSent: number;
  dirty: boolean;
  off: () => void;
}

/** The longest run of renders before the scheduler lets the event loop run, ms. */
const SLICE_MS = 8;
/** The largest share of wall time spent rendering. */
const MAX_SHARE = 0.1;

/**
 * Keeps live outputs current, off the data path: a change only marks its
 * output dirty; renders happen later, coalesced, paced and in slices.
 */
class LiveOutputs {
  readonly #io: KernelIo;
  readonly #outputs = new Map<string, LiveOutput>();
  #timer: ReturnType<typeof setTimeout> | undefined;
  #running = false;
  /** No pump starts before this time (pacing to {@linkcode MAX_SHARE}). */
  #notBefore = 0;
  readonly stats: DisplayStats = { outputs: 0, changes: 0, renders: 0, renderMs: 0, updates: 0 };

  constructor(io: KernelIo) {
    this.#io = io;
  }

  /** Starts keeping `source` current in the output `id`, which shows `first` now. */
  add(id: string, source: LiveDisplayable, first: MimeBundle, throttleMs: number): void {
    const out: LiveOutput = {
      id,
      source,
      throttleMs,
      last: first,
      lastSent: performance.now(),
      dirty: false,
      off: () => {},
    };
    out.off = source.onChange(() => {
      this.stats.changes++;
      out.dirty = true;
      this.#schedule();
    });
    this.#outputs.set(id, out);
    this.stats.outputs = this.#outputs.size;
    // It may have changed between its first render and now.
    if (!source.isLive) {
      out.dirty = true;
      this.#schedule();
    }
  }

  #dueAt(o: LiveOutput): number {
    // A source that stopped being live gets its final render at once.
    return o.source.isLive ? o.lastSent + o.throttleMs : 0;
  }

  #schedule(): void {
    if (this.#running || this.#timer !== undefined) return;
    let due = Infinity;
    for (const o of this.#outputs.values()) if (o.dirty) due = Math.min(due, this.#dueAt(o));
    if (due === Infinity) return;
    const wait = Math.max(0, due - performance.now(), this.#notBefore - performance.now());
    this.#timer = setTimeout(() => {
      this.#timer = undefined;
      void this.#pump();
    }, wait);
  }

  async #pump(): Promise<void> {
    this.#running = true;
    const started = performance.now();
    let rendering = 0;
    try {
      let slice = 0;
      // Oldest first: outputs that waited longest render first.
      const due = [...this.#outputs.values()]
        .filter((o) => o.dirty && this.#dueAt(o) <= started)
        .sort((a, b) => a.lastSent - b.lastSent);
      for (const o of due) {
        if (!this.#outputs.has(o.id)) continue;
        if (slice >= SLICE_MS) {
          // Let table updates in before the next render.
          await new Promise((r) => setTimeout(r, 0));
          slice = 0;
        }
        o.dirty = false;
        const live = o.source.isLive;
        const t0 = performance.now();
        let next: MimeBundle | undefined;
        try {
          next = o.source.bundle();
        } catch {
          next = undefined; // a render that fails keeps the last good one
        }
        const spent = performance.now() - t0;
        slice += spent;
        rendering += spent;
        this.stats.renders++;
        this.stats.renderMs += spent;
        o.lastSent = performance.now();
        if (next && !sameBundle(next, o.last)) {
          o.last = next;
          this.stats.updates++;
          await this.#io.publish("update_display_data", {
            data: next,
            metadata: {},
            transient: { display_id: o.id },
          });
        }
        if (!live) this.#remove(o);
      }
    } finally {
      this.#running = false;
      this.#notBefore = started + rendering / MAX_SHARE;
      this.#schedule();
    }
  }

  #remove(o: LiveOutput): void {
    o.off();
    this.#outputs.delete(o.id);
    this.stats.outputs = this.#outputs.size;
  }
}

function sameBundle(a: MimeBundle, b: MimeBundle): boolean {
  const ka = Object.keys(a), kb = Object.keys(b);
  return ka.length === kb.length && ka.every((k) => a[k] === b[k]);
}

let scheduler: LiveOutputs | undefined;
let nextId = 0;

/**
 * The display scheduler's counters (zeros outside a notebook).
 *
 * @returns A copy of the counters.
 */
export function displayStats(): DisplayStats {
  return { ...(scheduler?.stats ?? { outputs: 0, changes: 0, renders: 0, renderMs: 0, updates: 0 }) };
}

/**
 * Shows a bundle in a new output of the current cell and, when `live` is
 * given, keeps it current; resolves once the output has left the kernel.
 */
async function show(io: KernelIo, first: MimeBundle, live?: LiveDisplayable, throttleMs?: number) {
  const id = `dh-${++nextId}-${Date.now().toString(36)}`;
  await io.publish("display_data", { data: first, metadata: {}, transient: { display_id: id } });
  if (live) {
    scheduler ??= new LiveOutputs(io);
    scheduler.add(id, live, first, throttleMs ?? defaults.throttleMs);
  }
  await io.flush();
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

/** Shows `x` in the current cell (live when it can change); resolves once the output has left the kernel. */
async function showValue(io: KernelIo, x: unknown, options: DisplayOptions): Promise<void> {
  if (x instanceof LocalTable) {
    const live = x.state === "live" || x.state === "stale";
    return await show(
      io,
      tableBundle(x, options),
      live ? tableLive(x, options) : undefined,
      options.throttleMs,
    );
  }
  if (isLiveDisplayable(x)) return await show(io, x.bundle(), x.isLive ? x : undefined, options.throttleMs);
  const bundle = x instanceof TableRef
    ? await refBundle(x)
    : x instanceof Session
    ? sessionBundle(x)
    : x instanceof BarrageSession
    ? sessionBundle(x.session)
    : await io.format(x) as MimeBundle;
  await show(io, bundle);
}

/**
 * Shows a table, a server table handle, a session or a plot in the current
 * notebook cell, and resolves once the output has left the kernel (no pause
 * needed after it, and every message the cell printed before it has left
 * too). A live table or plot keeps updating the same output in place, at
 * most once per `throttleMs` (default 1000), until it closes. Leaving the
 * object as the cell's value does the same with the default options. Any
 * other value shows as the kernel would show it (a string as plain text).
 * Outside a notebook (plain `deno run`) this does nothing.
 *
 * @example Usage
 * ```ts ignore
 * const live = await bs.subscribe(ticket);
 * await display(live, { head: 5, tail: 5 });
 * await display(`${live.size} rows`);
 * ```
 *
 * @param x What to show: a {@linkcode Displayable}, or any value.
 * @param options Window sizes and refresh throttle for this output.
 */
export async function display(x: Displayable | unknown, options: DisplayOptions = {}): Promise<void> {
  checkDisplayOptions(options, "display()");
  const io = kernelIo();
  if (!io) return;
  await showValue(io, x, options);
}

/**
 * What the `Symbol.for("Jupyter.display")` method does: the kernel calls it
 * for a cell's value. The output is published here (so that it can be
 * updated in place and is confirmed before the cell ends); the kernel's own
 * result is left empty. Outside a kernel it returns the value's bundle.
 *
 * @param value The cell's value.
 * @returns The bundle for the kernel's result (empty inside a kernel).
 */
export async function displayAsValue(value: Displayable): Promise<MimeBundle> {
  const io = kernelIo();
  if (!io) {
    if (value instanceof LocalTable) return tableBundle(value);
    if (isLiveDisplayable(value)) return value.bundle();
    if (value instanceof TableRef) return await refBundle(value);
    if (value instanceof Session) return sessionBundle(value);
    if (value instanceof BarrageSession) return sessionBundle(value.session);
    return { "text/plain": String(value) };
  }
  await showValue(io, value, {});
  return {};
}

const $display = Symbol.for("Jupyter.display");

/**
 * Attaches notebook display to classes: their instances then show themselves
 * when they are a cell's value. `mod.ts` calls it once for the table, handle
 * and session classes (the lower layers know nothing of display).
 *
 * @param classes The classes whose instances get the display method.
 */
export function attachDisplay(...classes: { prototype: object }[]): void {
  for (const cls of classes) {
    Object.defineProperty(cls.prototype, $display, {
      value: function (this: Displayable): Promise<MimeBundle> {
        return displayAsValue(this);
      },
      configurable: true,
      writable: true,
    });
  }
}
