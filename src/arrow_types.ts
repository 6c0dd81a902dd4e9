/**
 * The parts of apache-arrow's schema types that this module's API promises.
 * The objects are apache-arrow's own `Schema`, `Field` and `DataType`; these
 * interfaces name what you may rely on.
 *
 * @module
 */

/** An Arrow data type (an apache-arrow `DataType`). */
export interface ArrowDataType {
  /** The Arrow type id (apache-arrow's `Type` enum). */
  readonly typeId: number;
  /** A readable name, e.g. `Int32` or `Timestamp<NANOSECOND, UTC>`. */
  toString(): string;
}

/** One column of a schema (an apache-arrow `Field`). */
export interface ArrowField {
  /** Column name. */
  readonly name: string;
  /** Arrow type. */
  readonly type: ArrowDataType;
  /** Whether the column may hold nulls. */
  readonly nullable: boolean;
  /** Field metadata; Deephaven puts the Java type in `deephaven:type`. */
  readonly metadata: Map<string, string>;
}

/** A table schema (an apache-arrow `Schema`). */
export interface ArrowSchema {
  /** The columns, in order. */
  readonly fields: ArrowField[];
  /** Schema metadata; Deephaven puts table attributes in `deephaven:attribute.*`. */
  readonly metadata: Map<string, string>;
}
