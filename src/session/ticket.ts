/**
 * Tickets: the byte strings that name objects on a Deephaven server.
 *
 * - export tickets `e` + int32 little-endian id (per session);
 * - shared tickets `h` + id bytes (visible to every session while published);
 * - scope tickets `s/<name>` (variables in the server's global scope);
 * - application field tickets `a/<app>/f/<field>`.
 *
 * @module
 */

import { DeephavenError, GrpcCode } from "../errors.ts";
import { checkString, shown } from "../validate.ts";

const encoder = new TextEncoder();

/** Anything that names a ticket: its bytes, or an object with `bytes`. */
export type TicketLike = Uint8Array | { readonly bytes: Uint8Array };

/** Returns the bytes of a ticket-like value; anything else is a DeephavenError `INVALID_ARGUMENT`. */
export function ticketBytes(t: TicketLike): Uint8Array {
  if (t instanceof Uint8Array) return t;
  const bytes = (t as { bytes?: unknown } | null)?.bytes;
  if (bytes instanceof Uint8Array) return bytes;
  throw DeephavenError.invalid(
    `A ticket is its bytes (a Uint8Array) or an object with them as \`bytes\`, such as a SharedTicket; got ${
      shown(t)
    }`,
  );
}

/** Lower-case hex of some bytes. */
export function toHex(bytes: Uint8Array): string {
  let s = "";
  for (const b of bytes) s += b.toString(16).padStart(2, "0");
  return s;
}

/** Bytes of a hex string; throws a DeephavenError on bad input. */
export function fromHex(hex: string): Uint8Array {
  checkString(hex, "A ticket in hex needs hex digits");
  const clean = hex.trim().toLowerCase().replace(/^0x/, "");
  if (clean.length % 2 !== 0 || !/^[0-9a-f]*$/.test(clean)) {
    throw new DeephavenError(
      `Cannot parse ticket hex "${hex.slice(0, 40)}": expected an even number of hex digits`,
      { code: GrpcCode.INVALID_ARGUMENT },
    );
  }
  const out = new Uint8Array(clean.length / 2);
  for (let i = 0; i < out.length; i++) out[i] = parseInt(clean.slice(2 * i, 2 * i + 2), 16);
  return out;
}

/** Describes a ticket for messages: `shared ticket 68ab…`, `scope table 'x'`, `export 3`. */
export function describeTicket(bytes: Uint8Array): string {
  if (bytes.length === 5 && bytes[0] === 0x65) {
    return `export ${new DataView(bytes.buffer, bytes.byteOffset).getInt32(1, true)}`;
  }
  if (bytes[0] === 0x68) return `shared ticket ${toHex(bytes.subarray(1))}`;
  if (bytes[0] === 0x73 && bytes[1] === 0x2f) {
    return `scope table '${new TextDecoder().decode(bytes.subarray(2))}'`;
  }
  if (bytes[0] === 0x61 && bytes[1] === 0x2f) return `application field '${new TextDecoder().decode(bytes)}'`;
  return `ticket ${toHex(bytes)}`;
}

/** The bytes of export ticket `id` (`e` + int32 little-endian). */
export function exportTicket(id: number): Uint8Array {
  const b = new Uint8Array(5);
  b[0] = 0x65;
  new DataView(b.buffer).setInt32(1, id, true);
  return b;
}

/** The bytes of the scope ticket for a global variable `name`. */
export function scopeTicket(name: string): Uint8Array {
  return encoder.encode(`s/${name}`);
}

/** The bytes of the ticket of field `field` of application `app`. */
export function applicationTicket(app: string, field: string): Uint8Array {
  return encoder.encode(`a/${app}/f/${field}`);
}

/**
 * A shared ticket: a name under which one session publishes a table so that
 * other sessions (and other clients, such as pydeephaven) can fetch or
 * subscribe to it. Mirrors pydeephaven's `SharedTicket`.
 *
 * @example Usage
 * ```ts
 * import { SharedTicket } from "./ticket.ts";
 *
 * const t = SharedTicket.randomTicket();
 * console.assert(t.bytes.length === 17 && t.bytes[0] === 0x68);
 * const again = SharedTicket.fromHex(t.hex);
 * console.assert(again.hex === t.hex);
 * ```
 */
export class SharedTicket {
  /** The full ticket bytes: `h` (0x68) followed by the id. */
  readonly bytes: Uint8Array;

  /**
   * Creates a shared ticket from its id bytes (without the `h` prefix).
   *
   * @param id The id bytes; at least one byte.
   */
  constructor(id: Uint8Array) {
    if (!(id instanceof Uint8Array)) {
      throw DeephavenError.invalid(`A shared ticket id is bytes (a Uint8Array), got ${shown(id)}`);
    }
    if (id.length === 0) {
      throw new DeephavenError("A shared ticket id needs at least one byte", {
        code: GrpcCode.INVALID_ARGUMENT,
      });
    }
    const b = new Uint8Array(id.length + 1);
    b[0] = 0x68;
    b.set(id, 1);
    this.bytes = b;
  }

  /** A new ticket with 16 random id bytes, as pydeephaven's `SharedTicket.random_ticket()`. */
  static randomTicket(): SharedTicket {
    return new SharedTicket(crypto.getRandomValues(new Uint8Array(16)));
  }

  /**
   * A ticket from its full bytes (with the `h` prefix), for example bytes
   * received from pydeephaven's `ticket.bytes`.
   *
   * @param bytes Full ticket bytes starting with 0x68.
   * @returns The ticket.
   */
  static fromBytes(bytes: Uint8Array): SharedTicket {
    if (!(bytes instanceof Uint8Array) || bytes.length < 2 || bytes[0] !== 0x68) {
      throw new DeephavenError(
        "Shared ticket bytes must start with 'h' (0x68) and hold at least one id byte; pass ticket.bytes from the publisher",
        { code: GrpcCode.INVALID_ARGUMENT },
      );
    }
    return new SharedTicket(bytes.subarray(1));
  }

  /**
   * A ticket from the hex form of its full bytes (as printed by {@linkcode SharedTicket.hex}).
   *
   * @param hex Hex digits of the full ticket bytes.
   * @returns The ticket.
   */
  static fromHex(hex: string): SharedTicket {
    return SharedTicket.fromBytes(fromHex(hex));
  }

  /** Hex of the full ticket bytes; safe to print and to pass to another process. */
  get hex(): string {
    return toHex(this.bytes);
  }

  /** Returns a short description. */
  toString(): string {
    return `SharedTicket(${this.hex})`;
  }
}
