import assert from "node:assert/strict";
import { allocTyped, growTyped, RESIZABLE_FROM_BYTES } from "./grow.ts";

Deno.test("small storage grows by copying and keeps the used prefix", () => {
  const a = new Int32Array([1, 2, 3, 4]);
  const b = growTyped(a, 3, 5);
  assert.notEqual(b, a);
  assert.ok(b.length >= 6);
  assert.deepEqual([...b.subarray(0, 3)], [1, 2, 3]);
  assert.equal(growTyped(b, 3, 2), b, "no growth when it already fits");
});

Deno.test("large storage grows in place: the same array, values kept, new room zeroed", () => {
  const n = RESIZABLE_FROM_BYTES / 8;
  const a = allocTyped(Float64Array, n) as Float64Array;
  assert.equal(a.length, n);
  assert.equal((a.buffer as ArrayBuffer).resizable, true);
  a[0] = 1.5;
  a[n - 1] = -2;
  const b = growTyped(a, n, n + 1);
  assert.equal(b, a, "grown in place");
  assert.ok(b.length >= n + 1 && b.length <= n + 8192, "grown to about what was asked");
  assert.equal(b[0], 1.5);
  assert.equal(b[n - 1], -2);
  assert.equal(b[n], 0);
  // A fixed-length view taken before growing still reads the same memory.
  const view = a.subarray(0, 2);
  growTyped(a, a.length, a.length * 3);
  assert.equal(view.length, 2);
  assert.equal(view[0], 1.5);
});

Deno.test("growing from small to large storage moves it into a resizable buffer", () => {
  const a = new BigInt64Array([7n, 8n]);
  const b = growTyped(a, 2, RESIZABLE_FROM_BYTES / 8 + 1);
  assert.equal((b.buffer as ArrayBuffer).resizable, true);
  assert.deepEqual([...b.subarray(0, 3)], [7n, 8n, 0n]);
});

Deno.test("storage beyond what a slot index can address is refused with a clear error", () => {
  assert.throws(() => growTyped(new Int8Array(4), 4, 2 ** 31 + 1), /at most 2147483648 rows/);
});
