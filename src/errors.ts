/**
 * The one error class of the module, and the gRPC status codes it carries.
 *
 * Every failure that reaches a caller, whether it came from the server, the
 * network, or a malformed message, is a {@linkcode DeephavenError}. Its message
 * says what happened and what to do; its {@linkcode DeephavenError.code} is the
 * gRPC status code. Messages never contain a token, password or pre-shared key.
 *
 * @module
 */

/** gRPC status codes, as numbers, with their canonical names. */
export const GrpcCode = {
  OK: 0,
  CANCELLED: 1,
  UNKNOWN: 2,
  INVALID_ARGUMENT: 3,
  DEADLINE_EXCEEDED: 4,
  NOT_FOUND: 5,
  ALREADY_EXISTS: 6,
  PERMISSION_DENIED: 7,
  RESOURCE_EXHAUSTED: 8,
  FAILED_PRECONDITION: 9,
  ABORTED: 10,
  OUT_OF_RANGE: 11,
  UNIMPLEMENTED: 12,
  INTERNAL: 13,
  UNAVAILABLE: 14,
  DATA_LOSS: 15,
  UNAUTHENTICATED: 16,
} as const;

/** The name of a gRPC status code, such as `"UNAUTHENTICATED"`. */
export type GrpcCodeName = keyof typeof GrpcCode;

/** Returns the canonical name of a numeric gRPC status code (`"UNKNOWN"` for unknown numbers). */
export function grpcCodeName(code: number): GrpcCodeName {
  for (const [name, value] of Object.entries(GrpcCode)) {
    if (value === code) return name as GrpcCodeName;
  }
  return "UNKNOWN";
}

/** Options for {@linkcode DeephavenError}. */
export interface DeephavenErrorOptions {
  /** The gRPC status code. Defaults to `UNKNOWN` (2). */
  code?: number;
  /** The underlying error, if any. */
  cause?: unknown;
  /** Server-provided detail text, already stripped of secrets. */
  details?: string;
}

/**
 * An error raised by this module. It carries the gRPC status code of the
 * failure, so callers can branch on {@linkcode DeephavenError.code} (a number)
 * or {@linkcode DeephavenError.codeName} (for example `"UNAUTHENTICATED"`).
 *
 * @example Usage
 * ```ts
 * import { DeephavenError, GrpcCode } from "./errors.ts";
 *
 * const err = new DeephavenError("Table 'x' was not found; check the name", { code: GrpcCode.NOT_FOUND });
 * console.assert(err.codeName === "NOT_FOUND");
 * ```
 */
export class DeephavenError extends Error {
  /** The gRPC status code (see {@linkcode GrpcCode}). */
  readonly code: number;
  /** Server-provided detail text, if any. */
  readonly details: string | undefined;

  /**
   * Creates an error.
   *
   * @param message What happened and what to do, in sentence case.
   * @param options The gRPC code, cause and details.
   */
  constructor(message: string, options: DeephavenErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = "DeephavenError";
    this.code = options.code ?? GrpcCode.UNKNOWN;
    this.details = options.details;
  }

  /** The canonical name of {@linkcode DeephavenError.code}. */
  get codeName(): GrpcCodeName {
    return grpcCodeName(this.code);
  }

  /**
   * Bad input from the caller: a `DeephavenError` with `INVALID_ARGUMENT`,
   * the one kind of error this module raises for misuse.
   *
   * @example Usage
   * ```ts
   * import { DeephavenError } from "./errors.ts";
   * const err = DeephavenError.invalid("emptyTable() needs a whole number of rows >= 0, got -1");
   * console.assert(err.codeName === "INVALID_ARGUMENT");
   * ```
   *
   * @param message What is wrong with the input and what to pass instead.
   * @returns The error (to throw).
   */
  static invalid(message: string): DeephavenError {
    return new DeephavenError(message, { code: GrpcCode.INVALID_ARGUMENT });
  }

  /**
   * Wraps anything thrown as a `DeephavenError` (returned as it is when it is one already).
   *
   * @example Usage
   * ```ts
   * import { DeephavenError, GrpcCode } from "./errors.ts";
   * const err = DeephavenError.from(new Error("socket hang up"), "Reading the table failed", GrpcCode.UNAVAILABLE);
   * console.assert(err.message === "Reading the table failed: socket hang up" && err.cause !== undefined);
   * ```
   *
   * @param e What was thrown.
   * @param context What was being done, in sentence case; prefixed to the message.
   * @param code The code when `e` carries none. Default `UNKNOWN`.
   * @returns The error.
   */
  static from(e: unknown, context?: string, code: number = GrpcCode.UNKNOWN): DeephavenError {
    if (e instanceof DeephavenError) return e;
    const text = e instanceof Error ? e.message : String(e);
    return new DeephavenError(context ? `${context}: ${text}` : text, { code, cause: e });
  }
}
