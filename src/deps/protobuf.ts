/**
 * `@bufbuild/protobuf`, pinned: the one place this module names the package and its version (the
 * generated code under src/generated/ names the same version, written by `deno task gen`), so that the
 * module resolves the same from this repository, from a path import in another folder, and as a published
 * package.
 *
 * @module
 */

export * from "npm:@bufbuild/protobuf@2.17.0";
