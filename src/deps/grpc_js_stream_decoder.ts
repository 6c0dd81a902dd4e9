/**
 * grpc-js's own `StreamDecoder` (a deep import of the pinned package, the module instance its calls use).
 *
 * @module
 */

export * from "npm:@grpc/grpc-js@1.14.7/build/src/stream-decoder.js";
