/**
 * `apache-arrow`, pinned: the one place this module names the package and its version, so that the module
 * resolves the same from this repository, from a path import in another folder, and as a published package.
 *
 * @module
 */

export * from "npm:apache-arrow@21.2.0";
