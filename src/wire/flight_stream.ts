/**
 * `FlightData` messages read as their bytes arrive ({@linkcode FlightDataSplitter}): the Arrow header and the
 * app metadata (small) are collected; when the body starts, its bytes can go to a sink of the caller's
 * (straight into a table's storage, or into buffers of their own), so that no message is assembled.
 *
 * @module
 */

import { DeephavenError, GrpcCode } from "../errors.ts";
import type { MessageReceiver } from "../transport/channel.ts";

function malformed(what: string): DeephavenError {
  return new DeephavenError(`Malformed Barrage message: ${what}; report this with the server version`, {
    code: GrpcCode.DATA_LOSS,
  });
}

/** Where the bytes of a record batch's body go, buffer by buffer. */
export interface BodySink {
  /** Takes the body's bytes `bytes[start..end)`, the next ones in order. */
  write(bytes: Uint8Array, start: number, end: number): void;
  /** All the body's bytes are in. */
  finish(): void;
}

/** What a split message holds: its header and app metadata, and its body unless a sink took it. */
export interface SplitMessage {
  header: Uint8Array;
  appMetadata: Uint8Array;
  body: Uint8Array | undefined;
  sink: BodySink | undefined;
  bytes: number;
}

const DATA_HEADER = 2, APP_METADATA = 3, DATA_BODY = 1000;

/**
 * Splits one serialized `FlightData` into its fields as its bytes arrive: `data_header` and `app_metadata`
 * are collected; when `data_body` starts, `onBody` may return a sink for it (else it is collected too);
 * other fields are skipped.
 */
export class FlightDataSplitter implements MessageReceiver {
  readonly #length: number;
  readonly #onBody: (header: Uint8Array, appMetadata: Uint8Array, length: number) => BodySink | undefined;
  readonly #onEnd: (m: SplitMessage) => void;
  #pos = 0;
  // The protobuf reader: reading a tag, a length, or a field's bytes.
  #state: "tag" | "length" | "bytes" | "varint" | "fixed" = "tag";
  #varint = 0;
  #shift = 1;
  #field = 0;
  #left = 0;
  #target: Uint8Array | BodySink | undefined;
  #targetAt = 0;
  #header: Uint8Array = new Uint8Array(0);
  #appMetadata: Uint8Array = new Uint8Array(0);
  #body: Uint8Array | undefined;
  #sink: BodySink | undefined;

  /**
   * @param length The message's length.
   * @param onBody Called when the body starts, with the fields before it; may return a sink for the body.
   * @param onEnd Called when the message is complete.
   */
  constructor(
    length: number,
    onBody: (header: Uint8Array, appMetadata: Uint8Array, length: number) => BodySink | undefined,
    onEnd: (m: SplitMessage) => void,
  ) {
    this.#length = length;
    this.#onBody = onBody;
    this.#onEnd = onEnd;
  }

  write(b: Uint8Array, at: number, end: number): void {
    this.#pos += end - at;
    while (at < end) {
      if (this.#state === "bytes") {
        const take = Math.min(this.#left, end - at);
        const t = this.#target;
        if (t instanceof Uint8Array) t.set(b.subarray(at, at + take), this.#targetAt);
        else if (t) t.write(b, at, at + take);
        this.#targetAt += take;
        this.#left -= take;
        at += take;
        if (this.#left === 0) this.#fieldDone();
        continue;
      }
      if (this.#state === "fixed") {
        const take = Math.min(this.#left, end - at);
        this.#left -= take;
        at += take;
        if (this.#left === 0) this.#state = "tag";
        continue;
      }
      // A varint: a tag, a length, or a skipped value.
      const x = b[at++];
      this.#varint += (x & 0x7f) * this.#shift;
      this.#shift *= 128;
      if (x & 0x80) {
        if (this.#shift > 2 ** 63) throw malformed("a protobuf varint is too long");
        continue;
      }
      const v = this.#varint;
      this.#varint = 0;
      this.#shift = 1;
      if (this.#state === "tag") this.#tag(v);
      else if (this.#state === "length") this.#startField(v);
      else this.#state = "tag";
    }
  }

  #tag(tag: number): void {
    const wire = tag % 8;
    this.#field = Math.floor(tag / 8);
    if (wire === 2) this.#state = "length";
    else if (wire === 0) this.#state = "varint";
    else if (wire === 1 || wire === 5) {
      this.#state = "fixed";
      this.#left = wire === 1 ? 8 : 4;
    } else throw malformed(`a FlightData field has the wire type ${wire}`);
  }

  #startField(length: number): void {
    if (length > this.#length) throw malformed("a FlightData field is longer than its message");
    this.#left = length;
    this.#targetAt = 0;
    if (this.#field === DATA_HEADER) this.#target = this.#header = new Uint8Array(length);
    else if (this.#field === APP_METADATA) this.#target = this.#appMetadata = new Uint8Array(length);
    else if (this.#field === DATA_BODY) {
      this.#sink = this.#onBody(this.#header, this.#appMetadata, length);
      this.#target = this.#sink ?? (this.#body = new Uint8Array(length));
    } else this.#target = undefined;
    this.#state = "bytes";
    if (length === 0) this.#fieldDone();
  }

  #fieldDone(): void {
    if (this.#target === this.#sink && this.#sink) this.#sink.finish();
    this.#target = undefined;
    this.#state = "tag";
  }

  end(): void {
    if (this.#state !== "tag" || this.#shift !== 1) {
      throw malformed("a FlightData message ends inside a field");
    }
    this.#onEnd({
      header: this.#header,
      appMetadata: this.#appMetadata,
      body: this.#body,
      sink: this.#sink,
      bytes: this.#pos,
    });
  }
}
