import assert from "node:assert/strict";
import {
  encodeHeaders,
  HpackDecoder,
  HpackError,
  huffmanCode,
  huffmanDecode,
  huffmanEncode,
} from "./hpack.ts";
import { mulberry32 } from "../../testing/prng.ts";

const hex = (s: string) => Uint8Array.from(s.replace(/\s+/g, "").match(/../g)!.map((b) => parseInt(b, 16)));
const text = (b: Uint8Array) => new TextDecoder().decode(b);

Deno.test("Huffman: the codes of RFC 7541 Appendix B (spot checks) and its examples (C.4, C.6)", () => {
  assert.deepEqual(huffmanCode(0), { code: 0x1ff8, bits: 13 });
  assert.deepEqual(huffmanCode(32), { code: 0x14, bits: 6 });
  assert.deepEqual(huffmanCode(48), { code: 0x0, bits: 5 });
  assert.deepEqual(huffmanCode(92), { code: 0x7fff0, bits: 19 });
  assert.deepEqual(huffmanCode(255), { code: 0x3ffffee, bits: 26 });
  assert.deepEqual(huffmanCode(256), { code: 0x3fffffff, bits: 30 });
  const examples: [string, string][] = [
    ["f1e3 c2e5 f23a 6ba0 ab90 f4ff", "www.example.com"],
    ["a8eb 1064 9cbf", "no-cache"],
    ["25a8 49e9 5ba9 7d7f", "custom-key"],
    ["25a8 49e9 5bb8 e8b4 bf", "custom-value"],
    ["6402", "302"],
    ["aec3 771a 4b", "private"],
    ["d07a be94 1054 d444 a820 0595 040b 8166 e082 a62d 1bff", "Mon, 21 Oct 2013 20:13:21 GMT"],
    ["9d29 ad17 1863 c78f 0b97 c8e9 ae82 ae43 d3", "https://www.example.com"],
  ];
  for (const [coded, plain] of examples) {
    assert.equal(text(huffmanDecode(hex(coded))), plain);
    assert.deepEqual(huffmanEncode(new TextEncoder().encode(plain)), hex(coded));
  }
});

Deno.test("Huffman: every byte value round-trips; EOS, long padding and zero padding are refused", () => {
  const r = mulberry32(11);
  for (let n = 0; n < 200; n++) {
    const b = Uint8Array.from({ length: Math.floor(r() * 40) }, () => Math.floor(r() * 256));
    assert.deepEqual(huffmanDecode(huffmanEncode(b)), b);
  }
  const all = Uint8Array.from({ length: 256 }, (_, i) => i);
  assert.deepEqual(huffmanDecode(huffmanEncode(all)), all);
  assert.throws(() => huffmanDecode(hex("ffff ffff")), HpackError); // EOS (30 ones)
  assert.throws(() => huffmanDecode(hex("6402 ff")), HpackError); // 8 bits of padding
  assert.throws(() => huffmanDecode(hex("00")), HpackError); // '0' then padding of zeros
});

Deno.test("HPACK decoder: the request examples of RFC 7541 C.3 and C.4 share one dynamic table each", () => {
  for (
    const blocks of [
      [
        "8286 8441 0f77 7777 2e65 7861 6d70 6c65 2e63 6f6d",
        "8286 84be 5808 6e6f 2d63 6163 6865",
        "8287 85bf 400a 6375 7374 6f6d 2d6b 6579 0c63 7573 746f 6d2d 7661 6c75 65",
      ],
      [
        "8286 8441 8cf1 e3c2 e5f2 3a6b a0ab 90f4 ff",
        "8286 84be 5886 a8eb 1064 9cbf",
        "8287 85bf 4088 25a8 49e9 5ba9 7d7f 8925 a849 e95b b8e8 b4bf",
      ],
    ]
  ) {
    const d = new HpackDecoder();
    assert.deepEqual(d.decode(hex(blocks[0])), [
      [":method", "GET"],
      [":scheme", "http"],
      [":path", "/"],
      [":authority", "www.example.com"],
    ]);
    assert.deepEqual(d.decode(hex(blocks[1])), [
      [":method", "GET"],
      [":scheme", "http"],
      [":path", "/"],
      [":authority", "www.example.com"],
      ["cache-control", "no-cache"],
    ]);
    assert.deepEqual(d.decode(hex(blocks[2])), [
      [":method", "GET"],
      [":scheme", "https"],
      [":path", "/index.html"],
      [":authority", "www.example.com"],
      ["custom-key", "custom-value"],
    ]);
  }
});

Deno.test("HPACK decoder: the response examples of RFC 7541 C.6 evict from a 256-byte table", () => {
  const d = new HpackDecoder(256);
  // A table size update to 256 first (the examples assume a 256-byte table).
  assert.deepEqual(d.decode(hex("3fe1 01")), []);
  const first = d.decode(hex(
    "4882 6402 5885 aec3 771a 4b61 96d0 7abe 9410 54d4 44a8 2005 9504 0b81 66e0 82a6 2d1b ff6e 919d 29ad" +
      "1718 63c7 8f0b 97c8 e9ae 82ae 43d3",
  ));
  assert.deepEqual(first, [
    [":status", "302"],
    ["cache-control", "private"],
    ["date", "Mon, 21 Oct 2013 20:13:21 GMT"],
    ["location", "https://www.example.com"],
  ]);
  const second = d.decode(hex("4883 640e ffc1 c0bf"));
  assert.deepEqual(second, [
    [":status", "307"],
    ["cache-control", "private"],
    ["date", "Mon, 21 Oct 2013 20:13:21 GMT"],
    ["location", "https://www.example.com"],
  ]);
});

Deno.test("HPACK: encodeHeaders output decodes to the same list; bad blocks are refused", () => {
  const list: [string, string][] = [
    [":method", "POST"],
    [":scheme", "http"],
    [":path", "/arrow.flight.protocol.FlightService/DoExchange"],
    [":authority", "127.0.0.1:10000"],
    ["content-type", "application/grpc"],
    ["te", "trailers"],
    ["authorization", "Bearer " + "x".repeat(300)],
    ["x-empty", ""],
  ];
  assert.deepEqual(new HpackDecoder().decode(encodeHeaders(list)), list);
  const d = new HpackDecoder();
  assert.throws(() => d.decode(hex("80")), HpackError); // index 0
  assert.throws(() => d.decode(hex("ff00")), HpackError); // index 127: not in the table
  assert.throws(() => d.decode(hex("4005 6162")), HpackError); // a string past the end
  assert.throws(() => d.decode(hex("3fe2 1f")), HpackError); // a table size above 4096
  assert.throws(() => d.decode(hex("8220")), HpackError); // a size update after a field
  assert.throws(() => new HpackDecoder(4096, 100).decode(encodeHeaders(list)), HpackError); // list too large
});
