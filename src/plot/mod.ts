/**
 * Charts of local tables with Observable Plot: {@linkcode plot} returns a
 * chart that, as a notebook cell's value, renders as SVG and redraws while
 * its table ticks (the last 10,000 rows by default).
 *
 * @example A live line chart
 * ```ts ignore
 * import { plot } from "@dh/deephaven/plot";
 *
 * plot(live, { x: "Timestamp", y: "Price", mark: "line" });
 * ```
 *
 * @module
 */

export {
  DEFAULT_MAX_ROWS,
  LivePlot,
  type MarkKind,
  plot,
  type PlotOptions,
  type PlotRow,
  renderPlot,
} from "../display/plot.ts";
