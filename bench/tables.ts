/**
 * The benchmark's static tables, as server scripts (no flags read here, so that other benchmarks can use
 * them too).
 *
 * @module
 */

/** The formulas of S2's columns (strings, a timestamp, numbers; 5% nulls in each). */
export const S2_COLUMNS = `[
    "Sym = ii % 20 == 0 ? null : (\`ID-\` + Long.toHexString(ii * 2654435761L % 1000000007L))",
    "Name = ii % 20 == 1 ? null : (\`customer_\` + (ii % 100000))",
    "Ts = ii % 20 == 2 ? null : epochNanosToInstant(1700000000000000000L + ii * 1000000L)",
    "I = ii % 20 == 3 ? NULL_INT : (int) i",
    "L = ii % 20 == 4 ? NULL_LONG : ii * 3",
    "D = ii % 20 == 5 ? NULL_DOUBLE : random()",
    "E = ii % 20 == 6 ? NULL_DOUBLE : ii / 7.0",
    "F = ii % 20 == 7 ? NULL_FLOAT : (float) (ii % 1000) / 3.0f",
    "H = ii % 20 == 8 ? NULL_SHORT : (short) (ii % 30000)",
    "B = ii % 20 == 9 ? NULL_BYTE : (byte) (ii % 100)",
]`;
/** The formulas of S3's columns (5 doubles). */
export const DOUBLES_COLUMNS =
  `["A = random()", "B = ii * 0.5", "C = Math.sin(ii)", "D = random() * ii", "E = (double) ii"]`;

/** The server script that makes S1, S2 and S3 (`s3Rows` rows). */
export function staticScript(s3Rows: number): string {
  return `
from deephaven import empty_table
S1 = empty_table(1_000_000).update([
    "L = ii * 3", "I = (int) i", "D1 = random()", "D2 = random() * 1000", "D3 = ii / 7.0", "D4 = Math.sqrt(ii)",
])
S2 = empty_table(1_000_000).update(${S2_COLUMNS})
S3 = empty_table(${s3Rows}).update(${DOUBLES_COLUMNS})
`;
}
