/**
 * `parquet-wasm/esm`, pinned: the one place this module names the package and its version, so that the module
 * resolves the same from this repository, from a path import in another folder, and as a published package.
 *
 * @module
 */

export * from "npm:parquet-wasm@0.7.1/esm";
export { default } from "npm:parquet-wasm@0.7.1/esm";

/** The package's WebAssembly module, as a URL that `Deno.readFile` can read. */
export const WASM_URL: string = import.meta.resolve("npm:parquet-wasm@0.7.1/esm/parquet_wasm_bg.wasm");
