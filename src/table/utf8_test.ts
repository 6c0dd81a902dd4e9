import assert from "node:assert/strict";
import { Utf8Chunk, Utf8Store } from "./utf8.ts";
import { mulberry32 } from "../../testing/prng.ts";

/** Values that cover the cases: ASCII, empty, multi-byte, astral, BMP private use, long (≥ 255 bytes). */
function value(r: () => number, i: number): string | null {
  const k = Math.floor(r() * 10);
  switch (k) {
    case 0:
      return null;
    case 1:
      return "";
    case 2:
      return `é${i}ü`;
    case 3:
      return `a\u{1F600}${i}`; // a surrogate pair in UTF-16
    case 4:
      return `a\uE000${i}`; // above every surrogate in UTF-16, below the pair in code points
    case 5:
      return "x".repeat(250 + Math.floor(r() * 20)) + i;
    default:
      return `s${i % 97}-${Math.floor(r() * 1000)}`;
  }
}

/** A store with `n` null slots. */
function storeOf(n: number): Utf8Store {
  const s = new Utf8Store();
  s.claim(n);
  s.settle(0, n);
  return s;
}

Deno.test("Utf8Store: chunk and value writes to runs and scattered slots read back as written", () => {
  const r = mulberry32(5);
  const store = new Utf8Store();
  const model: (string | null)[] = [];
  for (let round = 0; round < 60; round++) {
    const n = 1 + Math.floor(r() * 300);
    const before = model.length;
    store.claim(before + n);
    store.settle(before, before + n);
    while (model.length < before + n) model.push(null);
    const capacity = model.length;
    const values = Array.from({ length: n + 7 }, (_, i) => value(r, round * 1000 + i));
    const from = Math.floor(r() * 7);
    const count = n;
    const slots = new Int32Array(count + 2);
    if (r() < 0.5) {
      const start = Math.floor(r() * (capacity - count));
      for (let i = 0; i < slots.length; i++) slots[i] = Math.min(capacity - 1, start + i);
    } else {
      const perm = Array.from({ length: capacity }, (_, i) => i).sort(() => r() - 0.5);
      for (let i = 0; i < slots.length; i++) slots[i] = perm[i % perm.length];
    }
    if (r() < 0.7) store.writeChunk(Utf8Chunk.from(values), from, slots, 1, count);
    else store.writeValues(values, from, slots, 1, count);
    for (let i = 0; i < count; i++) model[slots[1 + i]] = values[from + i];
    // Clear a few.
    for (let k = 0; k < 5; k++) {
      const s = Math.floor(r() * capacity);
      store.clear(s);
      model[s] = null;
    }
    for (let s = 0; s < capacity; s++) {
      assert.equal(store.get(s), model[s], `round ${round} slot ${s}`);
      assert.equal(store.isNull(s), model[s] === null);
    }
  }
});

Deno.test("Utf8Store: overwriting the same rows keeps memory bounded (dead bytes are compacted)", () => {
  const n = 10_000;
  const store = storeOf(n);
  const slots = Int32Array.from({ length: n }, (_, i) => i);
  let last: string[] = [];
  for (let round = 0; round < 60; round++) {
    last = Array.from({ length: n }, (_, i) => `value-${round}-${i}-${"y".repeat(i % 50)}`);
    store.writeChunk(Utf8Chunk.from(last), 0, slots, 0, n);
  }
  const live = last.reduce((a, s) => a + s.length, 0);
  assert.ok(store.bytes < 4 * live + 16 * n, `${store.bytes} bytes held for ${live} live bytes`);
  for (let i = 0; i < n; i += 97) assert.equal(store.get(i), last[i]);
});

Deno.test("Utf8Store: compare orders as JS strings do (UTF-16 code units), nulls first", () => {
  const r = mulberry32(9);
  const values = Array.from({ length: 400 }, (_, i) => value(r, i));
  values.push("\uFFFF", "\u{10000}", "\uE000", "\u{10FFFF}", "a", "ab", "", "\u00e9", "\u0800");
  const store = storeOf(values.length);
  store.writeChunk(Utf8Chunk.from(values), 0, Int32Array.from(values, (_, i) => i), 0, values.length);
  const js = (a: string | null, b: string | null) =>
    a === null || b === null ? (a === b ? 0 : a === null ? -1 : 1) : a < b ? -1 : a > b ? 1 : 0;
  const enc = new TextEncoder();
  for (let i = 0; i < values.length; i++) {
    for (let j = 0; j < values.length; j += 7) {
      assert.equal(store.compare(i, j), js(values[i], values[j]), `${values[i]} vs ${values[j]}`);
      if (values[j] !== null) {
        assert.equal(store.compareBytes(i, enc.encode(values[j]!)), js(values[i], values[j]));
      }
    }
  }
});

Deno.test("Utf8Store: gather returns the slots' values as a chunk of their own", () => {
  const r = mulberry32(3);
  const values = Array.from({ length: 500 }, (_, i) => value(r, i));
  const store = storeOf(values.length);
  store.writeValues(values, 0, Int32Array.from(values, (_, i) => i), 0, values.length);
  const pick = Int32Array.from({ length: 200 }, () => Math.floor(r() * values.length));
  const c = store.gather(pick);
  assert.equal(c.length, pick.length);
  assert.deepEqual(c.toArray(), Array.from(pick, (s) => values[s]));
});

Deno.test("Utf8Store: a heap sized from the first values of a table of known size still grows past its estimate", () => {
  const n = 3000;
  const store = new Utf8Store();
  store.claim(n, true);
  store.settle(0, n);
  // Short values first (the estimate), then long ones: the heap must grow and keep what it held.
  const values = Array.from({ length: n }, (_, i) => (i < 1000 ? `v${i}` : `value-${i}-${"z".repeat(40)}`));
  const enc = new TextEncoder();
  for (let first = 0; first < n; first += 500) {
    const part = values.slice(first, first + 500);
    const chunk = Utf8Chunk.from(part);
    const { heap, base } = store.reserveRun(chunk.data.length, part.length);
    heap.set(chunk.data, base);
    store.setRun(first, part.length, chunk.offsets, base, undefined);
  }
  for (let i = 0; i < n; i++) assert.equal(store.get(i), values[i]);
  assert.equal(store.compareBytes(2999, enc.encode(values[2999])), 0);
});
