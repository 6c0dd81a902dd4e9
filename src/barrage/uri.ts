/**
 * Capture by URI, as Deephaven's `deephaven.uri.resolve`:
 * `dh+plain://host:port/scope/<name>` (plaintext), `dh://host:port/scope/<name>`
 * (TLS), and `.../app/<id>/field/<name>` for application fields.
 *
 * @module
 */

import { DeephavenError, GrpcCode } from "../errors.ts";
import { checkString } from "../validate.ts";
import { applicationTicket, scopeTicket } from "../session/ticket.ts";
import type { LocalTable } from "../table/local_table.ts";
import { barrageSession, type BarrageSessionOptions } from "./barrage_session.ts";
import type { LiveTable, SubscribeOptions } from "./subscription.ts";

/** A parsed Deephaven URI. */
export interface DeephavenUri {
  /** Whether the scheme asks for TLS (`dh://`). */
  useTls: boolean;
  /** Server host. */
  host: string;
  /** Server port (default 10000 for `dh+plain`, 443 for `dh`). */
  port: number;
  /** The table's ticket bytes. */
  ticket: Uint8Array;
  /** A readable name, e.g. `scope/trades`. */
  path: string;
}

/**
 * Parses `dh+plain://host:port/scope/<name>`, `dh://host:port/scope/<name>`
 * or `.../app/<id>/field/<name>`.
 *
 * @param uri The URI.
 * @returns The parts.
 */
export function parseUri(uri: string): DeephavenUri {
  checkString(uri, "parseUri() needs a URI such as dh+plain://host:port/scope/<name>");
  const m = uri.match(/^(dh\+plain|dh):\/\/([^/:]+|\[[^\]]+\])(?::(\d+))?\/(.+)$/);
  const fail = () =>
    new DeephavenError(
      `Cannot read the URI ${JSON.stringify(uri)}; write dh+plain://host:port/scope/<name> ` +
        "(or dh:// for TLS, or .../app/<id>/field/<name>)",
      { code: GrpcCode.INVALID_ARGUMENT },
    );
  if (!m) throw fail();
  const useTls = m[1] === "dh";
  const host = m[2].replace(/^\[|\]$/g, "");
  const port = m[3] ? Number(m[3]) : useTls ? 443 : 10000;
  if (port < 1 || port > 65535) throw fail();
  let parts: string[];
  try {
    parts = m[4].split("/").map(decodeURIComponent);
  } catch {
    throw fail(); // a malformed %-escape
  }
  let ticket: Uint8Array;
  if (parts.length === 2 && parts[0] === "scope" && parts[1]) ticket = scopeTicket(parts[1]);
  else if (parts.length === 4 && parts[0] === "app" && parts[2] === "field") {
    ticket = applicationTicket(parts[1], parts[3]);
  } else throw fail();
  return { useTls, host, port, ticket, path: parts.join("/") };
}

/** Options of {@linkcode resolveUri}: connection settings, capture options, and snapshot or subscribe. */
export interface ResolveUriOptions
  extends Omit<BarrageSessionOptions, "host" | "port" | "useTls">, SubscribeOptions {
  /** Take a static snapshot instead of a live subscription. Default `false`. */
  snapshot?: boolean;
}

/**
 * Opens (or reuses) a Barrage session to the URI's server and subscribes to
 * (or, with `snapshot: true`, snapshots) the table it names: a variable of the
 * global scope (`/scope/<name>`) or an application's field
 * (`/app/<id>/field/<name>`). The connection is closed once the snapshot is
 * taken, or when the live table closes (unless other handles share it).
 *
 * @example Usage
 * ```ts ignore
 * const trades = await resolveUri("dh+plain://localhost:10000/scope/trades");
 * const numbers = await resolveUri("dh+plain://localhost:10000/app/demo/field/numbers", { snapshot: true });
 * trades.close(); // ends the subscription and its connection
 * ```
 *
 * @param uri The URI.
 * @param options Auth, TLS certificates, viewport/columns, snapshot.
 * @returns A live table, or a static one with `snapshot: true`.
 */
export async function resolveUri(
  uri: string,
  options: ResolveUriOptions = {},
): Promise<LiveTable | LocalTable> {
  const u = parseUri(uri);
  const {
    snapshot,
    authType,
    authToken,
    tlsRootCerts,
    clientCertChain,
    clientPrivateKey,
    tlsServerName,
    extraHeaders,
    connectTimeoutMs,
    ...capture
  } = options;
  const bs = await barrageSession({
    host: u.host,
    port: u.port,
    useTls: u.useTls,
    authType,
    authToken,
    tlsRootCerts,
    clientCertChain,
    clientPrivateKey,
    tlsServerName,
    extraHeaders,
    connectTimeoutMs,
  });
  // The Barrage handle lives as long as what it captured: a snapshot needs it no more, a live table until it
  // closes (the connection itself is shared with other handles to the same server and credentials).
  let table: LiveTable | LocalTable;
  try {
    table = snapshot ? await bs.snapshot(u.ticket, capture) : await bs.subscribe(u.ticket, capture);
  } catch (e) {
    await bs.close();
    throw e;
  }
  if (snapshot) await bs.close();
  else {
    table.onStateChange((s) => {
      if (s === "closed") bs.close().catch(() => {});
    });
  }
  return table;
}
