/**
 * Operations for {@linkcode TableRef.updateBy}, named as pydeephaven's `updateby` module (and as the
 * server's Python users import it, `uby`): cumulative (`uby.cumSum`, `cumProd`, `cumMin`, `cumMax`,
 * `cumCountWhere`), `forwardFill`, `delta`, exponential moving statistics by ticks or time (`emaTick`,
 * `emaTime`, `emsTick`, `emminTick`, `emmaxTick`, `emstdTick`, ... `Time`) and rolling windows by ticks or
 * time (`rollingSumTick`, `rollingAvgTime`, `rollingMin…`, `rollingMax…`, `rollingProd…`, `rollingStd…`,
 * `rollingCount…`, `rollingGroup…`, `rollingWavg…`, `rollingFormula…`, `rollingCountWhere…`).
 *
 * Column arguments are match pairs: `"X"` computes into X itself, `"SumX = X"` into a new column SumX. Time
 * windows and decay times are nanoseconds (`number` or `bigint`) or ISO-8601 durations such as `"PT5s"`.
 *
 * @example Usage
 * ```ts ignore
 * import { uby } from "@dh/deephaven";
 *
 * const t = session.timeTable("PT1s").update(["Sym = ii % 2 == 0 ? `A` : `B`", "X = ii"]);
 * const u = t.updateBy([uby.cumSum("SumX = X"), uby.rollingAvgTime("Timestamp", "AvgX = X", "PT5s")], "Sym");
 * ```
 *
 * @module
 */

import { DeephavenError } from "../errors.ts";

/** How an exponential moving statistic treats a bad value (a null, a NaN, a null or out-of-order time). */
export type BadDataBehavior = "THROW" | "RESET" | "SKIP" | "POISON";

/** Precision and rounding of BigDecimal and BigInteger arithmetic in exponential moving statistics. */
export type MathContext = "UNLIMITED" | "DECIMAL32" | "DECIMAL64" | "DECIMAL128";

/** What {@linkcode uby}`.delta` gives for a value that follows a null. */
export type DeltaControl = "NULL_DOMINATES" | "VALUE_DOMINATES" | "ZERO_DOMINATES";

/** Options of the exponential moving statistics (pydeephaven's `OperationControl`). */
export interface OperationControl {
  /** What to do with a null value. Default `"SKIP"`. */
  onNull?: BadDataBehavior;
  /** What to do with a NaN value. Default `"SKIP"`. */
  onNan?: BadDataBehavior;
  /** Arithmetic of BigDecimal and BigInteger columns. Default `"DECIMAL128"`. */
  bigValueContext?: MathContext;
}

/** A time window or decay time: nanoseconds, or an ISO-8601 duration such as `"PT10s"` or `"PT00:05:00"`. */
export type TimeSpan = number | bigint | string;

/** The wire form of one update-by operation (protobuf-es init shape of `UpdateByRequest.UpdateByOperation`). */
export type UpdateByOperationWire = {
  type: {
    case: "column";
    value: { spec: { type: { case: string; value: Record<string, unknown> } }; matchPairs: string[] };
  };
};

/** One operation of {@linkcode TableRef.updateBy}. Build it with {@linkcode uby}. */
export interface UpdateByOperation {
  /** What the operation does, for messages, e.g. `cumSum(SumX = X)`. */
  readonly description: string;
  /** The wire form. @ignore */
  readonly wire: UpdateByOperationWire;
}

const BAD_DATA: Record<BadDataBehavior, number> = { THROW: 1, RESET: 2, SKIP: 3, POISON: 4 };
const DELTA: Record<DeltaControl, number> = { NULL_DOMINATES: 1, VALUE_DOMINATES: 2, ZERO_DOMINATES: 3 };
const MATH: Record<MathContext, [number, number]> = { // precision, rounding mode (HALF_UP 5, HALF_EVEN 7)
  UNLIMITED: [0, 5],
  DECIMAL32: [7, 7],
  DECIMAL64: [16, 7],
  DECIMAL128: [34, 7],
};

function pick<K extends string>(
  table: Record<K, unknown>,
  value: K | undefined,
  what: string,
): K | undefined {
  if (value !== undefined && !(value in table)) {
    throw DeephavenError.invalid(
      `${what} must be one of ${Object.keys(table).join(", ")}, got ${String(value)}`,
    );
  }
  return value;
}

function controlWire(c: OperationControl | undefined): Record<string, unknown> | undefined {
  if (c === undefined) return undefined;
  const onNull = pick(BAD_DATA, c.onNull, "onNull") ?? "SKIP";
  const onNan = pick(BAD_DATA, c.onNan, "onNan") ?? "SKIP";
  const [precision, roundingMode] = MATH[pick(MATH, c.bigValueContext, "bigValueContext") ?? "DECIMAL128"];
  return {
    onNullValue: BAD_DATA[onNull],
    onNanValue: BAD_DATA[onNan],
    bigValueContext: { precision, roundingMode },
  };
}

function list(cols: string | readonly string[], what: string, allowEmpty = true): string[] {
  const l = typeof cols === "string" ? [cols] : [...cols];
  if (!allowEmpty && l.length === 0) throw DeephavenError.invalid(`${what} needs at least one filter`);
  return l;
}

function op(
  name: string,
  specCase: string,
  value: Record<string, unknown>,
  cols: readonly string[],
  args: string[] = [],
): UpdateByOperation {
  return {
    description: `${name}(${[...args, ...cols].join(", ")})`,
    wire: {
      type: { case: "column", value: { spec: { type: { case: specCase, value } }, matchPairs: [...cols] } },
    },
  };
}

function ticks(n: number, what: string): Record<string, unknown> {
  if (typeof n !== "number" || !Number.isFinite(n)) {
    throw DeephavenError.invalid(`${what} needs a finite number of ticks, got ${String(n)}`);
  }
  return { type: { case: "ticks", value: { ticks: n } } };
}

function time(column: string, span: TimeSpan, what: string): Record<string, unknown> {
  if (typeof column !== "string" || column === "") {
    throw DeephavenError.invalid(`${what} needs the name of a timestamp column`);
  }
  let window: Record<string, unknown>;
  if (typeof span === "string") window = { case: "durationString", value: span };
  else if (typeof span === "bigint") window = { case: "nanos", value: span };
  else if (typeof span === "number" && Number.isSafeInteger(span)) {
    window = { case: "nanos", value: BigInt(span) };
  } else {
    throw DeephavenError.invalid(
      `${what} needs a time span in whole nanoseconds or an ISO-8601 duration such as "PT5s", got ${
        String(span)
      }`,
    );
  }
  return { type: { case: "time", value: { column, window } } };
}

const cumulative = (name: string, specCase: string) => (cols: string | readonly string[]) =>
  op(name, specCase, {}, list(cols, name));

function emTick(name: string, specCase: string) {
  return (decayTicks: number, cols: string | readonly string[], opControl?: OperationControl) =>
    op(
      name,
      specCase,
      { options: controlWire(opControl), windowScale: ticks(decayTicks, name) },
      list(cols, name),
      [
        String(decayTicks),
      ],
    );
}

function emTime(name: string, specCase: string) {
  return (
    tsCol: string,
    decayTime: TimeSpan,
    cols: string | readonly string[],
    opControl?: OperationControl,
  ) =>
    op(
      name,
      specCase,
      { options: controlWire(opControl), windowScale: time(tsCol, decayTime, name) },
      list(cols, name),
      [tsCol, String(decayTime)],
    );
}

function rollingTick(name: string, specCase: string) {
  return (cols: string | readonly string[], revTicks: number, fwdTicks = 0) =>
    op(
      name,
      specCase,
      { reverseWindowScale: ticks(revTicks, name), forwardWindowScale: ticks(fwdTicks, name) },
      list(cols, name),
      [String(revTicks), String(fwdTicks)],
    );
}

function rollingTime(name: string, specCase: string) {
  return (tsCol: string, cols: string | readonly string[], revTime: TimeSpan, fwdTime: TimeSpan = 0) =>
    op(
      name,
      specCase,
      { reverseWindowScale: time(tsCol, revTime, name), forwardWindowScale: time(tsCol, fwdTime, name) },
      list(cols, name),
      [tsCol, String(revTime), String(fwdTime)],
    );
}

/**
 * Update-by operation builders, one per pydeephaven `updateby` function (camelCase names).
 *
 * @example Usage
 * ```ts
 * import { uby } from "./update_by.ts";
 *
 * const ops = [uby.cumSum("SumX = X"), uby.emaTick(10, "EmaX = X"), uby.rollingAvgTime("T", "AvgX = X", "PT5s")];
 * console.assert(ops[0].description === "cumSum(SumX = X)");
 * ```
 */
export const uby: {
  /** Cumulative sum. */
  cumSum(cols: string | readonly string[]): UpdateByOperation;
  /** Cumulative product. */
  cumProd(cols: string | readonly string[]): UpdateByOperation;
  /** Cumulative minimum. */
  cumMin(cols: string | readonly string[]): UpdateByOperation;
  /** Cumulative maximum. */
  cumMax(cols: string | readonly string[]): UpdateByOperation;
  /** Cumulative count of the rows that pass all `filters`, into the new column `col`. */
  cumCountWhere(col: string, filters: string | readonly string[]): UpdateByOperation;
  /** Replaces nulls by the last non-null value. */
  forwardFill(cols: string | readonly string[]): UpdateByOperation;
  /** Difference between each value and the previous one; `deltaControl` says what follows a null. */
  delta(cols: string | readonly string[], deltaControl?: DeltaControl): UpdateByOperation;
  /** Exponential moving average, decaying by `decayTicks` rows. */
  emaTick(
    decayTicks: number,
    cols: string | readonly string[],
    opControl?: OperationControl,
  ): UpdateByOperation;
  /** Exponential moving average, decaying by `decayTime` of the timestamp column `tsCol`. */
  emaTime(
    tsCol: string,
    decayTime: TimeSpan,
    cols: string | readonly string[],
    opControl?: OperationControl,
  ): UpdateByOperation;
  /** Exponential moving sum, by ticks. */
  emsTick(
    decayTicks: number,
    cols: string | readonly string[],
    opControl?: OperationControl,
  ): UpdateByOperation;
  /** Exponential moving sum, by time. */
  emsTime(
    tsCol: string,
    decayTime: TimeSpan,
    cols: string | readonly string[],
    opControl?: OperationControl,
  ): UpdateByOperation;
  /** Exponential moving minimum, by ticks. */
  emminTick(
    decayTicks: number,
    cols: string | readonly string[],
    opControl?: OperationControl,
  ): UpdateByOperation;
  /** Exponential moving minimum, by time. */
  emminTime(
    tsCol: string,
    decayTime: TimeSpan,
    cols: string | readonly string[],
    opControl?: OperationControl,
  ): UpdateByOperation;
  /** Exponential moving maximum, by ticks. */
  emmaxTick(
    decayTicks: number,
    cols: string | readonly string[],
    opControl?: OperationControl,
  ): UpdateByOperation;
  /** Exponential moving maximum, by time. */
  emmaxTime(
    tsCol: string,
    decayTime: TimeSpan,
    cols: string | readonly string[],
    opControl?: OperationControl,
  ): UpdateByOperation;
  /** Exponential moving standard deviation, by ticks. */
  emstdTick(
    decayTicks: number,
    cols: string | readonly string[],
    opControl?: OperationControl,
  ): UpdateByOperation;
  /** Exponential moving standard deviation, by time. */
  emstdTime(
    tsCol: string,
    decayTime: TimeSpan,
    cols: string | readonly string[],
    opControl?: OperationControl,
  ): UpdateByOperation;
  /**
   * Rolling sum over a window of rows: `revTicks` back (the current row included) and `fwdTicks` ahead. E.g.
   * `(cols, 10)`: the 9 previous rows and the current one.
   */
  rollingSumTick(cols: string | readonly string[], revTicks: number, fwdTicks?: number): UpdateByOperation;
  /** Rolling sum over a time window of `tsCol`: `revTime` back and `fwdTime` ahead. */
  rollingSumTime(
    tsCol: string,
    cols: string | readonly string[],
    revTime: TimeSpan,
    fwdTime?: TimeSpan,
  ): UpdateByOperation;
  /** Rolling array of the window's values, by ticks. */
  rollingGroupTick(cols: string | readonly string[], revTicks: number, fwdTicks?: number): UpdateByOperation;
  /** Rolling array of the window's values, by time. */
  rollingGroupTime(
    tsCol: string,
    cols: string | readonly string[],
    revTime: TimeSpan,
    fwdTime?: TimeSpan,
  ): UpdateByOperation;
  /** Rolling average, by ticks. */
  rollingAvgTick(cols: string | readonly string[], revTicks: number, fwdTicks?: number): UpdateByOperation;
  /** Rolling average, by time. */
  rollingAvgTime(
    tsCol: string,
    cols: string | readonly string[],
    revTime: TimeSpan,
    fwdTime?: TimeSpan,
  ): UpdateByOperation;
  /** Rolling minimum, by ticks. */
  rollingMinTick(cols: string | readonly string[], revTicks: number, fwdTicks?: number): UpdateByOperation;
  /** Rolling minimum, by time. */
  rollingMinTime(
    tsCol: string,
    cols: string | readonly string[],
    revTime: TimeSpan,
    fwdTime?: TimeSpan,
  ): UpdateByOperation;
  /** Rolling maximum, by ticks. */
  rollingMaxTick(cols: string | readonly string[], revTicks: number, fwdTicks?: number): UpdateByOperation;
  /** Rolling maximum, by time. */
  rollingMaxTime(
    tsCol: string,
    cols: string | readonly string[],
    revTime: TimeSpan,
    fwdTime?: TimeSpan,
  ): UpdateByOperation;
  /** Rolling product, by ticks. */
  rollingProdTick(cols: string | readonly string[], revTicks: number, fwdTicks?: number): UpdateByOperation;
  /** Rolling product, by time. */
  rollingProdTime(
    tsCol: string,
    cols: string | readonly string[],
    revTime: TimeSpan,
    fwdTime?: TimeSpan,
  ): UpdateByOperation;
  /** Rolling count of non-null values, by ticks. */
  rollingCountTick(cols: string | readonly string[], revTicks: number, fwdTicks?: number): UpdateByOperation;
  /** Rolling count of non-null values, by time. */
  rollingCountTime(
    tsCol: string,
    cols: string | readonly string[],
    revTime: TimeSpan,
    fwdTime?: TimeSpan,
  ): UpdateByOperation;
  /** Rolling sample standard deviation, by ticks. */
  rollingStdTick(cols: string | readonly string[], revTicks: number, fwdTicks?: number): UpdateByOperation;
  /** Rolling sample standard deviation, by time. */
  rollingStdTime(
    tsCol: string,
    cols: string | readonly string[],
    revTime: TimeSpan,
    fwdTime?: TimeSpan,
  ): UpdateByOperation;
  /** Rolling average weighted by the column `wcol`, by ticks. */
  rollingWavgTick(
    wcol: string,
    cols: string | readonly string[],
    revTicks: number,
    fwdTicks?: number,
  ): UpdateByOperation;
  /** Rolling average weighted by the column `wcol`, by time. */
  rollingWavgTime(
    tsCol: string,
    wcol: string,
    cols: string | readonly string[],
    revTime: TimeSpan,
    fwdTime?: TimeSpan,
  ): UpdateByOperation;
  /** A formula over each window, e.g. `("sum(x)", "x", "S = X", 5)`: `formulaParam` names the window's values. */
  rollingFormulaTick(
    formula: string,
    formulaParam: string,
    cols: string | readonly string[],
    revTicks: number,
    fwdTicks?: number,
  ): UpdateByOperation;
  /** A formula over each time window. */
  rollingFormulaTime(
    tsCol: string,
    formula: string,
    formulaParam: string,
    cols: string | readonly string[],
    revTime: TimeSpan,
    fwdTime?: TimeSpan,
  ): UpdateByOperation;
  /** Rolling count of the rows that pass all `filters`, into the new column `col`, by ticks. */
  rollingCountWhereTick(
    col: string,
    filters: string | readonly string[],
    revTicks: number,
    fwdTicks?: number,
  ): UpdateByOperation;
  /** Rolling count of the rows that pass all `filters`, into the new column `col`, by time. */
  rollingCountWhereTime(
    tsCol: string,
    col: string,
    filters: string | readonly string[],
    revTime: TimeSpan,
    fwdTime?: TimeSpan,
  ): UpdateByOperation;
} = {
  cumSum: cumulative("cumSum", "sum"),
  cumProd: cumulative("cumProd", "product"),
  cumMin: cumulative("cumMin", "min"),
  cumMax: cumulative("cumMax", "max"),
  cumCountWhere: (col, filters) =>
    op(
      "cumCountWhere",
      "countWhere",
      { resultColumn: col, filters: list(filters, "cumCountWhere", false) },
      [],
      [
        col,
        ...list(filters, "cumCountWhere"),
      ],
    ),
  forwardFill: cumulative("forwardFill", "fill"),
  delta: (cols, deltaControl = "NULL_DOMINATES") =>
    op("delta", "delta", { options: { nullBehavior: DELTA[pick(DELTA, deltaControl, "deltaControl")!] } }, [
      ...list(cols, "delta"),
    ]),
  emaTick: emTick("emaTick", "ema"),
  emaTime: emTime("emaTime", "ema"),
  emsTick: emTick("emsTick", "ems"),
  emsTime: emTime("emsTime", "ems"),
  emminTick: emTick("emminTick", "emMin"),
  emminTime: emTime("emminTime", "emMin"),
  emmaxTick: emTick("emmaxTick", "emMax"),
  emmaxTime: emTime("emmaxTime", "emMax"),
  emstdTick: emTick("emstdTick", "emStd"),
  emstdTime: emTime("emstdTime", "emStd"),
  rollingSumTick: rollingTick("rollingSumTick", "rollingSum"),
  rollingSumTime: rollingTime("rollingSumTime", "rollingSum"),
  rollingGroupTick: rollingTick("rollingGroupTick", "rollingGroup"),
  rollingGroupTime: rollingTime("rollingGroupTime", "rollingGroup"),
  rollingAvgTick: rollingTick("rollingAvgTick", "rollingAvg"),
  rollingAvgTime: rollingTime("rollingAvgTime", "rollingAvg"),
  rollingMinTick: rollingTick("rollingMinTick", "rollingMin"),
  rollingMinTime: rollingTime("rollingMinTime", "rollingMin"),
  rollingMaxTick: rollingTick("rollingMaxTick", "rollingMax"),
  rollingMaxTime: rollingTime("rollingMaxTime", "rollingMax"),
  rollingProdTick: rollingTick("rollingProdTick", "rollingProduct"),
  rollingProdTime: rollingTime("rollingProdTime", "rollingProduct"),
  rollingCountTick: rollingTick("rollingCountTick", "rollingCount"),
  rollingCountTime: rollingTime("rollingCountTime", "rollingCount"),
  rollingStdTick: rollingTick("rollingStdTick", "rollingStd"),
  rollingStdTime: rollingTime("rollingStdTime", "rollingStd"),
  rollingWavgTick: (wcol, cols, revTicks, fwdTicks = 0) =>
    op(
      "rollingWavgTick",
      "rollingWavg",
      {
        reverseWindowScale: ticks(revTicks, "rollingWavgTick"),
        forwardWindowScale: ticks(fwdTicks, "rollingWavgTick"),
        weightColumn: wcol,
      },
      list(cols, "rollingWavgTick"),
      [wcol, String(revTicks), String(fwdTicks)],
    ),
  rollingWavgTime: (tsCol, wcol, cols, revTime, fwdTime = 0) =>
    op(
      "rollingWavgTime",
      "rollingWavg",
      {
        reverseWindowScale: time(tsCol, revTime, "rollingWavgTime"),
        forwardWindowScale: time(tsCol, fwdTime, "rollingWavgTime"),
        weightColumn: wcol,
      },
      list(cols, "rollingWavgTime"),
      [tsCol, wcol, String(revTime), String(fwdTime)],
    ),
  rollingFormulaTick: (formula, formulaParam, cols, revTicks, fwdTicks = 0) =>
    op(
      "rollingFormulaTick",
      "rollingFormula",
      {
        reverseWindowScale: ticks(revTicks, "rollingFormulaTick"),
        forwardWindowScale: ticks(fwdTicks, "rollingFormulaTick"),
        formula,
        paramToken: formulaParam,
      },
      list(cols, "rollingFormulaTick"),
      [JSON.stringify(formula), String(revTicks), String(fwdTicks)],
    ),
  rollingFormulaTime: (tsCol, formula, formulaParam, cols, revTime, fwdTime = 0) =>
    op(
      "rollingFormulaTime",
      "rollingFormula",
      {
        reverseWindowScale: time(tsCol, revTime, "rollingFormulaTime"),
        forwardWindowScale: time(tsCol, fwdTime, "rollingFormulaTime"),
        formula,
        paramToken: formulaParam,
      },
      list(cols, "rollingFormulaTime"),
      [tsCol, JSON.stringify(formula), String(revTime), String(fwdTime)],
    ),
  rollingCountWhereTick: (col, filters, revTicks, fwdTicks = 0) =>
    op(
      "rollingCountWhereTick",
      "rollingCountWhere",
      {
        reverseWindowScale: ticks(revTicks, "rollingCountWhereTick"),
        forwardWindowScale: ticks(fwdTicks, "rollingCountWhereTick"),
        resultColumn: col,
        filters: list(filters, "rollingCountWhereTick", false),
      },
      [],
      [col, String(revTicks), String(fwdTicks)],
    ),
  rollingCountWhereTime: (tsCol, col, filters, revTime, fwdTime = 0) =>
    op(
      "rollingCountWhereTime",
      "rollingCountWhere",
      {
        reverseWindowScale: time(tsCol, revTime, "rollingCountWhereTime"),
        forwardWindowScale: time(tsCol, fwdTime, "rollingCountWhereTime"),
        resultColumn: col,
        filters: list(filters, "rollingCountWhereTime", false),
      },
      [],
      [tsCol, col, String(revTime), String(fwdTime)],
    ),
};

/**
 * The wire request of an update-by (for {@linkcode TableRef.updateBy}; not public API).
 * @ignore
 */
export function updateByRequest(
  ops: UpdateByOperation | readonly UpdateByOperation[],
  by: string | readonly string[] | undefined,
): { description: string; operations: UpdateByOperationWire[]; groupByColumns: string[] } {
  const list = Array.isArray(ops) ? ops : [ops as UpdateByOperation];
  if (list.length === 0) {
    throw DeephavenError.invalid('updateBy() needs at least one operation, e.g. uby.cumSum("X")');
  }
  for (const o of list) {
    if (!o || typeof o !== "object" || !("wire" in o)) {
      throw DeephavenError.invalid('updateBy() takes operations built with uby, e.g. uby.cumSum("X")');
    }
  }
  const groupByColumns = by === undefined ? [] : typeof by === "string" ? [by] : [...by];
  return {
    description: `updateBy([${list.map((o) => o.description).join(", ")}], ${
      JSON.stringify(groupByColumns)
    })`,
    operations: list.map((o) => o.wire),
    groupByColumns,
  };
}
