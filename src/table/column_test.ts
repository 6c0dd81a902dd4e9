import assert from "node:assert/strict";
import * as arrow from "../deps/apache_arrow.ts";
import { type Chunk, ColumnStore, NULLS } from "./column.ts";
import { mulberry32 } from "../../testing/prng.ts";

const md = (t: string) => new Map([["deephaven:type", t]]);

/** Fields of every fixed-width storage width, and a JS-array kind. */
const FIELDS: [arrow.Field, (r: () => number, i: number) => unknown][] = [
  [new arrow.Field("B", new arrow.Bool(), true, md("java.lang.Boolean")), (r) => (r() < 0.5 ? 1 : 0)],
  [new arrow.Field("I8", new arrow.Int8(), true, md("byte")), (r) => Math.floor(r() * 256) - 128],
  [new arrow.Field("I16", new arrow.Int16(), true, md("short")), (r) => Math.floor(r() * 65536) - 32768],
  [new arrow.Field("C", new arrow.Uint16(), true, md("char")), (r) => Math.floor(r() * 65536)],
  [new arrow.Field("I32", new arrow.Int32(), true, md("int")), (r) => (r() * 2 ** 32) | 0],
  [new arrow.Field("F32", new arrow.Float32(), true, md("float")), (r) => Math.fround(r() * 1e6 - 5e5)],
  [
    new arrow.Field("L", new arrow.Int64(), true, md("long")),
    (r) => BigInt(Math.floor(r() * 2 ** 53)) - (1n << 52n),
  ],
  [new arrow.Field("D", new arrow.Float64(), true, md("double")), (r) => r() * 1e12 - 5e11],
  [
    new arrow.Field("T", new arrow.TimestampNanosecond(), true, md("java.time.Instant")),
    (r) => BigInt(Math.floor(r() * 2 ** 60)),
  ],
  [
    new arrow.Field("S", new arrow.Utf8(), true, md("java.lang.String")),
    (r, i) => (r() < 0.1 ? null : `s${i}`),
  ],
];

function chunkOf(store: ColumnStore, values: unknown[]): Chunk {
  const T = (store.data as unknown as { constructor: { new (n: number): Chunk } }).constructor;
  if (Array.isArray(store.data)) return [...values];
  const c = new T(values.length) as unknown as unknown[];
  values.forEach((v, i) => (c[i] = v));
  return c as unknown as Chunk;
}

Deno.test("ColumnStore.write matches a value-by-value copy, for runs and scattered slots of every width", () => {
  const r = mulberry32(7);
  for (const [field, gen] of FIELDS) {
    for (const scattered of [false, true]) {
      const store = new ColumnStore(field, 0);
      store.ensureCapacity(500);
      const model = Array.from({ length: 500 }, (_, i) => store.raw(i));
      const n = 200, from = 17;
      const values = Array.from({ length: n + from + 5 }, (_, i) => gen(r, i));
      // A few nulls (sentinels) and, for floats, NaN among the values.
      if (store.kind === "float64") values[from + 3] = NaN;
      if (store.kind === "int64") values[from + 4] = NULLS.int64;
      const chunk = chunkOf(store, values);
      const slots = new Int32Array(n + 10);
      const start = 150;
      if (scattered) {
        const perm = Array.from({ length: 500 }, (_, i) => i).sort(() => r() - 0.5);
        for (let i = 0; i < slots.length; i++) slots[i] = perm[i];
      } else {
        for (let i = 0; i < slots.length; i++) slots[i] = start + i;
      }
      const slotsFrom = 3;
      store.write(chunk, from, slots, slotsFrom, n);
      for (let i = 0; i < n; i++) model[slots[slotsFrom + i]] = (chunk as unknown[])[from + i];
      for (let s = 0; s < 500; s++) {
        assert.ok(
          Object.is(store.raw(s), model[s]),
          `${field.name} (${scattered ? "scattered" : "run"}) slot ${s}: ${store.raw(s)} != ${model[s]}`,
        );
      }
    }
  }
});

Deno.test("ColumnStore.write keeps the value-by-value rules for other chunks", () => {
  // A chunk of another typed array type converts value by value, as before.
  const ints = new ColumnStore(new arrow.Field("I", new arrow.Int32(), true), 4);
  ints.write(Float64Array.from([1.9, -2.5, 3]), 0, Int32Array.from([0, 1, 2]), 0, 3);
  assert.deepEqual([ints.raw(0), ints.raw(1), ints.raw(2)], [1, -2, 3]);
  // An array-like of nulls (what the decoder gives for columns of unknown types) reads as null.
  const other = new ColumnStore(new arrow.Field("O", new arrow.Utf8(), true), 3);
  other.write(["a", "b", "c"], 0, Int32Array.from([0, 1, 2]), 0, 3);
  other.write(Object.freeze({ length: 2 }) as unknown as unknown[], 0, Int32Array.from([2, 0]), 0, 2);
  assert.deepEqual([other.get(0), other.get(1), other.get(2)], [null, "b", null]);
  // Nothing to write.
  other.write([], 0, new Int32Array(0), 0, 0);
  assert.equal(other.get(1), "b");
});

Deno.test("ColumnStore.ensureCapacity: every slot up to the asked count reads null until written", () => {
  for (const [field, gen] of FIELDS) {
    const store = new ColumnStore(field, 0);
    const r = mulberry32(3);
    const model: unknown[] = [];
    for (const next of [1, 3, 16, 17, 40, 41, 100, 101, 1000]) {
      const n = model.length;
      store.ensureCapacity(next);
      for (let s = n; s < next; s++) assert.ok(store.isNull(s), `${field.name} slot ${s} of ${next}`);
      // Write the new slots, so that growing later must keep them.
      const values = Array.from({ length: next - n }, (_, i) => gen(r, i) ?? "x");
      store.write(chunkOf(store, values), 0, Int32Array.from(values, (_, i) => n + i), 0, values.length);
      for (let i = 0; i < values.length; i++) model.push(store.raw(n + i));
      for (let s = 0; s < next; s++) {
        assert.ok(Object.is(store.raw(s), model[s]), `${field.name} slot ${s} kept`);
      }
    }
  }
});
