/**
 * One measured repetition of a static benchmark client, as bench/client.ts prints it and bench/run.ts
 * summarises it.
 *
 * @module
 */

/** One repetition: wall time, rows (or messages for the raw sinks), bytes, and the process's resources. */
export interface Rep {
  /** Wall time in ms. */
  ms: number;
  /** Rows read (messages for the raw sinks). */
  rows: number;
  /** Bytes on the wire, when counted. */
  bytes?: number;
  /** Peak RSS of the client process during the repetition. */
  peakRssMiB: number;
  /** CPU time of the client process. */
  cpuMs: number;
  /** CPU time of the server process, or 0 when unknown. */
  serverCpuMs: number;
}
