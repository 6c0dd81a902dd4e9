/**
 * Aggregations for {@linkcode TableRef.aggBy}, named as pydeephaven's `agg`
 * module: `agg.sum("X")`, `agg.avg(["X", "Y"])`, `agg.count("N")`,
 * `agg.weightedAvg("W", "X")`, ...
 *
 * Column arguments are match pairs: `"X"` aggregates column X into X, and
 * `"SumX = X"` aggregates X into a new column SumX.
 *
 * @module
 */

import { DeephavenError } from "../errors.ts";
import { checkString, checkStrings, shown } from "../validate.ts";

/** One aggregation, as passed to {@linkcode TableRef.aggBy}. Build it with {@linkcode agg}. */
export interface Aggregation {
  /** What the aggregation does, for messages, e.g. `sum(X)`. */
  readonly description: string;
  /** The wire form (a protobuf-es init object of `Aggregation`). @ignore */
  readonly wire: AggregationWire;
}

/** The wire form of an aggregation (protobuf-es init shape of `io.deephaven.proto.backplane.grpc.Aggregation`). */
export type AggregationWire = {
  type:
    | { case: "columns"; value: { spec: SpecWire; matchPairs: string[] } }
    | { case: "count"; value: { columnName: string } };
};

/** The wire form of an aggregation spec (protobuf-es init shape of `AggSpec`). */
export type SpecWire = { type: { case: string; value: Record<string, unknown> } };

function list(cols: string | readonly string[]): string[] {
  return checkStrings(cols, "Aggregations take column names");
}

function columns(name: string, spec: SpecWire, cols: string | readonly string[]): Aggregation {
  const matchPairs = list(cols);
  if (matchPairs.length === 0) {
    throw DeephavenError.invalid(`Aggregation ${name} needs at least one column`);
  }
  return {
    description: `${name}(${matchPairs.join(", ")})`,
    wire: { type: { case: "columns", value: { spec, matchPairs } } },
  };
}

function weight(name: string, column: string): string {
  return checkString(column, `agg.${name}() needs the name of the weight column`, true);
}

function simple(name: string, specCase: string): (cols: string | readonly string[]) => Aggregation {
  return (cols) => columns(name, { type: { case: specCase, value: {} } }, cols);
}

/**
 * Aggregation builders, one per pydeephaven `agg` function.
 *
 * @example Usage
 * ```ts
 * import { agg } from "./aggregation.ts";
 *
 * const aggs = [agg.sum("Total = X"), agg.avg("X"), agg.count("N")];
 * console.assert(aggs[0].description === "sum(Total = X)");
 * ```
 */
export const agg: {
  /** Sum of each column. */
  sum(cols: string | readonly string[]): Aggregation;
  /** Sum of absolute values. */
  absSum(cols: string | readonly string[]): Aggregation;
  /** Mean of each column. */
  avg(cols: string | readonly string[]): Aggregation;
  /** Minimum of each column. */
  min(cols: string | readonly string[]): Aggregation;
  /** Maximum of each column. */
  max(cols: string | readonly string[]): Aggregation;
  /** First value of each column in each group. */
  first(cols: string | readonly string[]): Aggregation;
  /** Last value of each column in each group. */
  last(cols: string | readonly string[]): Aggregation;
  /** Sample standard deviation. */
  std(cols: string | readonly string[]): Aggregation;
  /** Sample variance. */
  var(cols: string | readonly string[]): Aggregation;
  /** Median; when `averageEvenlyDivided`, the mean of the two middle values. */
  median(cols: string | readonly string[], averageEvenlyDivided?: boolean): Aggregation;
  /** Percentile in [0, 1]. */
  pct(percentile: number, cols: string | readonly string[], averageEvenlyDivided?: boolean): Aggregation;
  /** Weighted average, weighted by `weightColumn`. */
  weightedAvg(weightColumn: string, cols: string | readonly string[]): Aggregation;
  /** Weighted sum, weighted by `weightColumn`. */
  weightedSum(weightColumn: string, cols: string | readonly string[]): Aggregation;
  /** Number of distinct values. */
  countDistinct(cols: string | readonly string[], countNulls?: boolean): Aggregation;
  /** Array of distinct values. */
  distinct(cols: string | readonly string[], includeNulls?: boolean): Aggregation;
  /** The single distinct value, or null when there is more than one. */
  unique(cols: string | readonly string[], includeNulls?: boolean): Aggregation;
  /** Array of all values of each group. */
  group(cols: string | readonly string[]): Aggregation;
  /** Number of rows of each group, in a new column `column`. */
  count(column: string): Aggregation;
} = {
  sum: simple("sum", "sum"),
  absSum: simple("absSum", "absSum"),
  avg: simple("avg", "avg"),
  min: simple("min", "min"),
  max: simple("max", "max"),
  first: simple("first", "first"),
  last: simple("last", "last"),
  std: simple("std", "std"),
  var: simple("var", "var"),
  group: simple("group", "group"),
  median: (cols, averageEvenlyDivided = true) =>
    columns("median", { type: { case: "median", value: { averageEvenlyDivided } } }, cols),
  pct: (percentile, cols, averageEvenlyDivided = false) => {
    if (typeof percentile !== "number" || !(percentile >= 0 && percentile <= 1)) {
      throw DeephavenError.invalid(`agg.pct() needs a percentile from 0 to 1, got ${shown(percentile)}`);
    }
    return columns(
      "pct",
      { type: { case: "percentile", value: { percentile, averageEvenlyDivided } } },
      cols,
    );
  },
  weightedAvg: (weightColumn, cols) =>
    columns("weightedAvg", {
      type: { case: "weightedAvg", value: { weightColumn: weight("weightedAvg", weightColumn) } },
    }, cols),
  weightedSum: (weightColumn, cols) =>
    columns("weightedSum", {
      type: { case: "weightedSum", value: { weightColumn: weight("weightedSum", weightColumn) } },
    }, cols),
  countDistinct: (cols, countNulls = false) =>
    columns("countDistinct", { type: { case: "countDistinct", value: { countNulls } } }, cols),
  distinct: (cols, includeNulls = false) =>
    columns("distinct", { type: { case: "distinct", value: { includeNulls } } }, cols),
  unique: (cols, includeNulls = false) =>
    columns("unique", { type: { case: "unique", value: { includeNulls } } }, cols),
  count: (column) => {
    checkString(column, "agg.count() needs the name of the count column", true);
    return {
      description: `count(${column})`,
      wire: { type: { case: "count", value: { columnName: column } } },
    };
  },
};
