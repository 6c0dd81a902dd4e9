import assert from "node:assert/strict";
import { DeephavenError, GrpcCode } from "../errors.ts";
import {
  applicationTicket,
  describeTicket,
  exportTicket,
  fromHex,
  scopeTicket,
  SharedTicket,
  ticketBytes,
  toHex,
} from "./ticket.ts";

function isInvalidArgument(e: unknown): boolean {
  assert.ok(e instanceof DeephavenError, `a DeephavenError, got ${e}`);
  assert.equal(e.code, GrpcCode.INVALID_ARGUMENT);
  return true;
}

Deno.test("SharedTicket.randomTicket: 'h' + 16 random bytes, different each time", () => {
  const a = SharedTicket.randomTicket();
  const b = SharedTicket.randomTicket();
  assert.equal(a.bytes.length, 17);
  assert.equal(a.bytes[0], 0x68);
  assert.notEqual(a.hex, b.hex);
  assert.match(a.hex, /^68[0-9a-f]{32}$/);
});

Deno.test("SharedTicket: bytes -> hex -> bytes and constructor id round trips", () => {
  const id = Uint8Array.from([0, 1, 0x7f, 0x80, 0xfe, 0xff]);
  const t = new SharedTicket(id);
  assert.deepEqual(t.bytes, Uint8Array.from([0x68, ...id]));
  assert.equal(t.hex, "6800017f80feff");
  assert.deepEqual(SharedTicket.fromHex(t.hex).bytes, t.bytes);
  assert.deepEqual(SharedTicket.fromBytes(t.bytes).bytes, t.bytes);
  assert.deepEqual(
    SharedTicket.fromHex("0x6800017F80FEFF\n").bytes,
    t.bytes,
    "0x prefix, upper case, blanks",
  );
  assert.equal(String(t), "SharedTicket(6800017f80feff)");

  const r = SharedTicket.randomTicket();
  assert.deepEqual(SharedTicket.fromHex(r.hex).bytes, r.bytes);
  assert.deepEqual(SharedTicket.fromBytes(r.bytes).bytes, r.bytes);
});

Deno.test("SharedTicket.fromBytes copies: changing the source later does not change the ticket", () => {
  const src = Uint8Array.from([0x68, 1, 2, 3]);
  const t = SharedTicket.fromBytes(src);
  src[1] = 9;
  assert.deepEqual(t.bytes, Uint8Array.from([0x68, 1, 2, 3]));
});

Deno.test("SharedTicket.fromBytes rejects bytes without the 'h' prefix or without an id", () => {
  assert.throws(() => SharedTicket.fromBytes(new Uint8Array(0)), isInvalidArgument);
  assert.throws(() => SharedTicket.fromBytes(Uint8Array.from([0x68])), isInvalidArgument);
  assert.throws(() => SharedTicket.fromBytes(Uint8Array.from([0x65, 1, 0, 0, 0])), isInvalidArgument);
  assert.throws(() => SharedTicket.fromBytes(scopeTicket("t")), (e) => {
    isInvalidArgument(e);
    assert.match((e as Error).message, /0x68/);
    return true;
  });
  assert.throws(() => new SharedTicket(new Uint8Array(0)), isInvalidArgument);
});

Deno.test("fromHex rejects odd lengths and non-hex digits; SharedTicket.fromHex too", () => {
  assert.throws(() => fromHex("abc"), isInvalidArgument);
  assert.throws(() => fromHex("zz"), isInvalidArgument);
  assert.throws(() => SharedTicket.fromHex("68zz"), isInvalidArgument);
  assert.throws(() => SharedTicket.fromHex("6501000000"), isInvalidArgument);
  assert.deepEqual(fromHex(""), new Uint8Array(0));
  assert.equal(toHex(Uint8Array.from([0, 15, 16, 255])), "000f10ff");
});

Deno.test("exportTicket: 'e' + int32 little-endian", () => {
  assert.deepEqual(exportTicket(1), Uint8Array.from([0x65, 1, 0, 0, 0]));
  assert.deepEqual(exportTicket(0x01020304), Uint8Array.from([0x65, 4, 3, 2, 1]));
  assert.deepEqual(exportTicket(256), Uint8Array.from([0x65, 0, 1, 0, 0]));
  assert.deepEqual(exportTicket(-1), Uint8Array.from([0x65, 0xff, 0xff, 0xff, 0xff]));
});

Deno.test("scopeTicket and applicationTicket are the UTF-8 path forms", () => {
  assert.deepEqual(scopeTicket("my_table"), new TextEncoder().encode("s/my_table"));
  assert.deepEqual(applicationTicket("app", "f1"), new TextEncoder().encode("a/app/f/f1"));
});

Deno.test("describeTicket names each kind of ticket", () => {
  assert.equal(describeTicket(exportTicket(7)), "export 7");
  assert.equal(describeTicket(exportTicket(0x01020304)), `export ${0x01020304}`);
  assert.equal(describeTicket(new SharedTicket(Uint8Array.from([0xab, 0xcd])).bytes), "shared ticket abcd");
  assert.equal(describeTicket(scopeTicket("prices")), "scope table 'prices'");
  assert.equal(describeTicket(applicationTicket("app", "f")), "application field 'a/app/f/f'");
  assert.equal(describeTicket(Uint8Array.from([1, 2, 3])), "ticket 010203");
  // An export ticket viewed inside a larger buffer still reads its own id.
  const buf = new Uint8Array(12);
  buf.set(exportTicket(42), 3);
  assert.equal(describeTicket(buf.subarray(3, 8)), "export 42");
});

Deno.test("ticketBytes accepts bytes or anything with .bytes", () => {
  const t = SharedTicket.randomTicket();
  assert.equal(ticketBytes(t), t.bytes);
  assert.equal(ticketBytes(t.bytes), t.bytes);
});
