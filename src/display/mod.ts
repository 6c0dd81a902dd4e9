/**
 * Notebook display of Deephaven tables in Deno Jupyter: a table, a derived
 * table, a handle or a session that is a cell's value renders as HTML and,
 * while it ticks, refreshes in place; {@linkcode display} shows any of them
 * (or any value) from inside a cell. Outside a kernel, {@linkcode formatText}
 * renders a table as plain text.
 *
 * @example Show a live table and its last row per key
 * ```ts ignore
 * import { barrageSession } from "@dh/deephaven";
 * import { display } from "@dh/deephaven/display";
 *
 * const bs = await barrageSession({ host: "localhost", port: 10000 });
 * const live = await bs.subscribe(ticket);
 * await display(live.lastBy("Sym"));
 * live; // the cell's value: the live table itself
 * ```
 *
 * @module
 */

export {
  display,
  type Displayable,
  type DisplayOptions,
  type DisplayStats,
  displayStats,
  type LiveDisplayable,
  type MimeBundle,
  setDisplayOptions,
  tableBundle,
} from "./jupyter.ts";
export type { HtmlOptions } from "./html.ts";
export { formatText, type FormatTextOptions, formatValue } from "./format.ts";
