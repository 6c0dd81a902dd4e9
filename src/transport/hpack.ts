/**
 * HPACK (RFC 7541), the header compression of HTTP/2, as far as a gRPC client needs it: an encoder that
 * writes every request header as a literal without indexing (no state shared with the server, nothing to
 * get out of step), and a full decoder (static and dynamic tables, Huffman-coded strings, table size
 * updates) for the server's response headers and trailers.
 *
 * @module
 */

import { DeephavenError, GrpcCode } from "../errors.ts";

/** A header block failed to decode: the connection cannot continue (HTTP/2 COMPRESSION_ERROR). */
export class HpackError extends DeephavenError {
  /** @param message What is wrong with the header block. */
  constructor(message: string) {
    super(message, { code: GrpcCode.INTERNAL });
  }
}

/** The static table (RFC 7541, Appendix A), index 1 first. */
const STATIC: readonly (readonly [string, string])[] = [
  [":authority", ""],
  [":method", "GET"],
  [":method", "POST"],
  [":path", "/"],
  [":path", "/index.html"],
  [":scheme", "http"],
  [":scheme", "https"],
  [":status", "200"],
  [":status", "204"],
  [":status", "206"],
  [":status", "304"],
  [":status", "400"],
  [":status", "404"],
  [":status", "500"],
  ["accept-charset", ""],
  ["accept-encoding", "gzip, deflate"],
  ["accept-language", ""],
  ["accept-ranges", ""],
  ["accept", ""],
  ["access-control-allow-origin", ""],
  ["age", ""],
  ["allow", ""],
  ["authorization", ""],
  ["cache-control", ""],
  ["content-disposition", ""],
  ["content-encoding", ""],
  ["content-language", ""],
  ["content-length", ""],
  ["content-location", ""],
  ["content-range", ""],
  ["content-type", ""],
  ["cookie", ""],
  ["date", ""],
  ["etag", ""],
  ["expect", ""],
  ["expires", ""],
  ["from", ""],
  ["host", ""],
  ["if-match", ""],
  ["if-modified-since", ""],
  ["if-none-match", ""],
  ["if-range", ""],
  ["if-unmodified-since", ""],
  ["last-modified", ""],
  ["link", ""],
  ["location", ""],
  ["max-forwards", ""],
  ["proxy-authenticate", ""],
  ["proxy-authorization", ""],
  ["range", ""],
  ["referer", ""],
  ["refresh", ""],
  ["retry-after", ""],
  ["server", ""],
  ["set-cookie", ""],
  ["strict-transport-security", ""],
  ["transfer-encoding", ""],
  ["user-agent", ""],
  ["vary", ""],
  ["via", ""],
  ["www-authenticate", ""],
];

/**
 * The bit lengths of the Huffman codes of symbols 0–256 (256 is EOS), RFC 7541 Appendix B, one letter each
 * (`A` = 5 bits). The code is canonical: codes of one length are consecutive in symbol order, and each
 * length starts where the shorter ones end, so the lengths alone give every code.
 */
const CODE_LENGTHS =
  "ISXXXXXXXTZXXZXXXXXXXXZXXXXXXXXXBFFHIBDGFFDGDBBBAAABBBBBBBCDKBHFIBCCCCCCCCCCCCCCCCCCCCCCDCDIOIJBKABAB" +
  "ABBBACCBBBABCBAABCCCCCKGJIXPRPPRRRSRSSSSSTSTTRSTSSSSQRSRSSTRQPRRSSQSRRTQRSSQQRQSRSSPRRRSRRSVVPORSRUVVV" +
  "WWVTUOQVWWVWTQQVVXWWWPTPQRQQSRRUUTTVSVWVVWWWWWXWWWWWVZ";

/** The canonical decoding tables: per length, the first code, how many codes, and where its symbols start. */
const HUFFMAN = (() => {
  const lengths = Array.from(CODE_LENGTHS, (c) => c.charCodeAt(0) - 65 + 5);
  const symbols = lengths.map((_, s) => s).sort((a, b) => lengths[a] - lengths[b] || a - b);
  const first = new Int32Array(31), count = new Int32Array(31), start = new Int32Array(31);
  const codes = new Uint32Array(257);
  let code = 0, prev = lengths[symbols[0]];
  symbols.forEach((s, i) => {
    const len = lengths[s];
    if (i > 0) code = (code + 1) * 2 ** (len - prev);
    prev = len;
    codes[s] = code;
    if (count[len]++ === 0) {
      first[len] = code;
      start[len] = i;
    }
  });
  return { lengths, codes, symbols: Int16Array.from(symbols), first, count, start };
})();

/** The Huffman code of a symbol and its length in bits (for tests and the encoder). */
export function huffmanCode(symbol: number): { code: number; bits: number } {
  return { code: HUFFMAN.codes[symbol], bits: HUFFMAN.lengths[symbol] };
}

/**
 * Decodes a Huffman-coded string (RFC 7541 §5.2) into bytes.
 *
 * @param bytes The coded string.
 * @returns The decoded octets.
 * @throws {HpackError} On an EOS symbol, or padding longer than 7 bits or not all ones.
 */
export function huffmanDecode(bytes: Uint8Array): Uint8Array {
  const { first, count, start, symbols } = HUFFMAN;
  const out = new Uint8Array(Math.ceil((bytes.length * 8) / 5));
  let n = 0, code = 0, len = 0;
  for (let i = 0; i < bytes.length; i++) {
    for (let bit = 7; bit >= 0; bit--) {
      code = code * 2 + ((bytes[i] >> bit) & 1);
      len++;
      if (len < 5) continue;
      if (len > 30) throw new HpackError("A Huffman code is longer than 30 bits");
      const k = code - first[len];
      if (count[len] > 0 && k >= 0 && k < count[len]) {
        const s = symbols[start[len] + k];
        if (s === 256) throw new HpackError("A Huffman-coded string holds EOS");
        out[n++] = s;
        code = 0;
        len = 0;
      }
    }
  }
  // Padding: the most significant bits of EOS (all ones), shorter than a byte.
  if (len > 7 || code !== 2 ** len - 1) throw new HpackError("A Huffman-coded string has bad padding");
  return out.subarray(0, n);
}

/** Encodes octets with the Huffman code (for tests; the encoder sends strings as they are). */
export function huffmanEncode(bytes: Uint8Array): Uint8Array {
  const out: number[] = [];
  let acc = 0, bits = 0;
  for (const b of bytes) {
    const { code, bits: n } = huffmanCode(b);
    for (let i = n - 1; i >= 0; i--) {
      acc = (acc << 1) | (Math.floor(code / 2 ** i) & 1);
      if (++bits === 8) {
        out.push(acc);
        acc = 0;
        bits = 0;
      }
    }
  }
  if (bits > 0) out.push((acc << (8 - bits)) | ((1 << (8 - bits)) - 1));
  return new Uint8Array(out);
}

const encoder = new TextEncoder();

function pushInteger(out: number[], value: number, prefixBits: number, firstByte: number): void {
  const max = (1 << prefixBits) - 1;
  if (value < max) {
    out.push(firstByte | value);
    return;
  }
  out.push(firstByte | max);
  value -= max;
  while (value >= 128) {
    out.push((value % 128) + 128);
    value = Math.floor(value / 128);
  }
  out.push(value);
}

function pushString(out: number[], s: string): void {
  const b = encoder.encode(s);
  pushInteger(out, b.length, 7, 0);
  for (const x of b) out.push(x);
}

/**
 * Encodes a header list as literals without indexing (RFC 7541 §6.2.2), using the static table's index for
 * a name it holds. Nothing enters the server's dynamic table, so the encoder keeps no state.
 *
 * @param headers Name and value pairs; names in lower case.
 * @returns The header block.
 */
export function encodeHeaders(headers: readonly (readonly [string, string])[]): Uint8Array {
  const out: number[] = [];
  for (const [name, value] of headers) {
    const exact = STATIC.findIndex(([n, v]) => n === name && v === value);
    if (exact >= 0) {
      pushInteger(out, exact + 1, 7, 0x80);
      continue;
    }
    const named = STATIC.findIndex(([n]) => n === name);
    pushInteger(out, named + 1, 4, 0x00); // 0 (a literal name) when the static table lacks it
    if (named < 0) pushString(out, name);
    pushString(out, value);
  }
  return new Uint8Array(out);
}

/** Octets as a string, one character per octet (header values are octets; gRPC's are ASCII). */
function latin1(b: Uint8Array): string {
  let s = "";
  for (let i = 0; i < b.length; i += 4096) {
    s += String.fromCharCode(...b.subarray(i, Math.min(b.length, i + 4096)));
  }
  return s;
}

/**
 * The decoding side of one connection's HPACK context: the dynamic table that the server's encoder fills.
 */
export class HpackDecoder {
  /** Newest first. */
  #table: [string, string, number][] = [];
  #size = 0;
  #maxSize: number;
  readonly #limit: number;
  readonly #maxListBytes: number;

  /**
   * @param maxTableSize The table size this side announced (`SETTINGS_HEADER_TABLE_SIZE`, default 4096).
   * @param maxListBytes Most decoded bytes (names plus values plus 32 per field) in one header block.
   */
  constructor(maxTableSize = 4096, maxListBytes = 1 << 20) {
    this.#maxSize = maxTableSize;
    this.#limit = maxTableSize;
    this.#maxListBytes = maxListBytes;
  }

  #entry(index: number): readonly [string, string] {
    if (index >= 1 && index <= STATIC.length) return STATIC[index - 1];
    const e = this.#table[index - STATIC.length - 1];
    if (!e) throw new HpackError(`Header index ${index} is not in the table`);
    return [e[0], e[1]];
  }

  #evict(): void {
    while (this.#size > this.#maxSize) {
      const e = this.#table.pop()!;
      this.#size -= e[2];
    }
  }

  #insert(name: string, value: string, bytes: number): void {
    const size = bytes + 32;
    if (size > this.#maxSize) {
      this.#table = [];
      this.#size = 0;
      return;
    }
    this.#table.unshift([name, value, size]);
    this.#size += size;
    this.#evict();
  }

  /**
   * Decodes one complete header block (HEADERS plus CONTINUATION fragments, joined).
   *
   * @param block The header block.
   * @returns The fields in order.
   * @throws {HpackError} When the block is malformed; the connection must then be closed.
   */
  decode(block: Uint8Array): [string, string][] {
    const out: [string, string][] = [];
    let at = 0, listBytes = 0, fieldsSeen = false;
    const integer = (prefixBits: number): number => {
      if (at >= block.length) throw new HpackError("A header block ends inside an integer");
      const max = (1 << prefixBits) - 1;
      let v = block[at++] & max;
      if (v < max) return v;
      let shift = 1;
      while (true) {
        if (at >= block.length) throw new HpackError("A header block ends inside an integer");
        const b = block[at++];
        v += (b & 127) * shift;
        if (v > 0x7fffffff) throw new HpackError("A header integer is too large");
        if ((b & 128) === 0) return v;
        shift *= 128;
      }
    };
    const string = (): { text: string; bytes: number } => {
      if (at >= block.length) throw new HpackError("A header block ends inside a string");
      const huffman = (block[at] & 0x80) !== 0;
      const len = integer(7);
      if (at + len > block.length) throw new HpackError("A header string runs past its block");
      let b = block.subarray(at, at + len);
      at += len;
      if (huffman) b = huffmanDecode(b);
      return { text: latin1(b), bytes: b.length };
    };
    while (at < block.length) {
      const b = block[at];
      let name: string, value: string, bytes: number;
      if (b & 0x80) {
        // Indexed field.
        const index = integer(7);
        if (index === 0) throw new HpackError("Header index 0");
        [name, value] = this.#entry(index);
        bytes = name.length + value.length;
      } else if ((b & 0xe0) === 0x20) {
        // Dynamic table size update: only before the first field of a block.
        if (fieldsSeen) throw new HpackError("A table size update follows a header field");
        const size = integer(5);
        if (size > this.#limit) throw new HpackError("A table size update exceeds the announced size");
        this.#maxSize = size;
        this.#evict();
        continue;
      } else {
        const indexing = (b & 0xc0) === 0x40;
        const index = integer(indexing ? 6 : 4);
        let nameBytes: number;
        if (index === 0) {
          const n = string();
          name = n.text;
          nameBytes = n.bytes;
        } else {
          name = this.#entry(index)[0];
          nameBytes = name.length;
        }
        const v = string();
        value = v.text;
        bytes = nameBytes + v.bytes;
        if (indexing) this.#insert(name, value, bytes);
      }
      fieldsSeen = true;
      listBytes += bytes + 32;
      if (listBytes > this.#maxListBytes) throw new HpackError("A header list is too large");
      out.push([name, value]);
    }
    return out;
  }
}
