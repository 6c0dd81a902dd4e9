/**
 * Builds {@linkcode MethodSpec}s from protobuf-es method descriptors, so the
 * channel stays free of generated code.
 *
 * @module
 */

import {
  create,
  type DescMessage,
  type DescMethod,
  fromBinary,
  type MessageInitShape,
  type MessageShape,
  toBinary,
} from "../deps/protobuf.ts";
import type { MethodSpec } from "./channel.ts";
import { type AlignableFlightData, alignFlightBody, flightBodyOffset } from "./align.ts";

const cache = new WeakMap<DescMethod, MethodSpec<unknown, unknown>>();

/** Flight's data message: its body is moved to an aligned offset as it is decoded (see align.ts). */
const FLIGHT_DATA = "arrow.flight.protocol.FlightData";

/**
 * The codec and path of one generated RPC method. Requests are given in
 * protobuf-es init shape (plain objects); responses are decoded messages.
 * Flight `FlightData` responses get their body 8-byte aligned, so Arrow buffers can be read without a copy:
 * the channel's own HTTP/2 streams place it there as the message arrives ({@linkcode flightBodyOffset}),
 * and a grpc-js message has it moved in place ({@linkcode alignFlightBody}).
 *
 * @param method A method descriptor, e.g. `TableService.method.update`.
 * @returns The method spec for {@linkcode Channel} calls.
 */
export function rpc<I extends DescMessage, O extends DescMessage>(
  method: DescMethod & { readonly input: I; readonly output: O },
): MethodSpec<MessageInitShape<I>, MessageShape<O>> {
  let spec = cache.get(method);
  if (!spec) {
    spec = {
      path: `/${method.parent.typeName}/${method.name}`,
      serialize: (m: unknown) => toBinary(method.input, create(method.input, m as MessageInitShape<I>)),
      deserialize: method.output.typeName === FLIGHT_DATA
        ? (b: Uint8Array) => {
          const m = fromBinary(method.output, b);
          alignFlightBody(m as unknown as AlignableFlightData, b);
          return m;
        }
        : (b: Uint8Array) => fromBinary(method.output, b),
      ...(method.output.typeName === FLIGHT_DATA ? { payloadOffset: flightBodyOffset } : {}),
    };
    cache.set(method, spec);
  }
  return spec as MethodSpec<MessageInitShape<I>, MessageShape<O>>;
}

/**
 * Like {@linkcode rpc}, for a method picked at run time (its request is checked by the server, not the compiler).
 *
 * @param method A method descriptor.
 * @returns The method spec, typed by the caller.
 */
export function rpcDynamic<I, O>(method: DescMethod): MethodSpec<I, O> {
  return rpc(method as DescMethod & { input: DescMessage; output: DescMessage }) as unknown as MethodSpec<
    I,
    O
  >;
}
