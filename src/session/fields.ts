/**
 * The server's fields: the named objects it exposes, both the fields of applications (Deephaven's application
 * mode) and the variables of the global scope (application id `"scope"`), listed and followed with
 * `ApplicationService/ListFields`.
 *
 * @module
 */

import { DeephavenError, GrpcCode } from "../errors.ts";
import { rpc } from "../transport/rpc.ts";
import { isTransient, type SessionCore } from "./core.ts";
import {
  ApplicationService,
  type FieldInfo as FieldInfoWire,
  type FieldsChangeUpdate,
} from "../generated/proto/deephaven_core/proto/application_pb.ts";

/** The application id of the variables of the server's global scope. */
export const SCOPE_APPLICATION = "scope";

/**
 * One field the server exposes: a field of an application, or a variable of the global scope
 * (`applicationId` `"scope"`). Open a table field with `session.fetchTable(field.ticket)`.
 *
 * @example
 * ```ts ignore
 * const fields = await session.fields();
 * const numbers = fields.find((f) => f.applicationId === "demo" && f.name === "numbers")!;
 * console.log(numbers.type); // "Table"
 * console.log((await session.fetchTable(numbers.ticket).toArrow()).numRows);
 * ```
 */
export interface FieldInfo {
  /** The application's id; `"scope"` for the variables of the global scope. */
  readonly applicationId: string;
  /** The application's readable name (empty for the global scope). */
  readonly applicationName: string;
  /** The field's name (the variable name for the global scope). */
  readonly name: string;
  /** The field's description, when the application gave one. */
  readonly description: string;
  /** The object's type, such as `"Table"`, `"Figure"`, or a plugin's type name. */
  readonly type: string;
  /** The ticket that names the object: `a/<app>/f/<name>`, or `s/<name>` for the global scope. */
  readonly ticket: Uint8Array;
}

/**
 * A change of the server's fields. The first change a watcher sees lists every field visible then, as
 * `created`; after a reconnection, the difference between before and after is one change.
 *
 * @example
 * ```ts ignore
 * const stop = session.onFieldsChange((change) => {
 *   for (const f of change.created) console.log(`+ ${f.applicationId}/${f.name} (${f.type})`);
 *   for (const f of change.removed) console.log(`- ${f.applicationId}/${f.name}`);
 * });
 * ```
 */
export interface FieldsChange {
  /** Fields that appeared. */
  readonly created: FieldInfo[];
  /** Fields whose object was replaced. */
  readonly updated: FieldInfo[];
  /** Fields that disappeared. */
  readonly removed: FieldInfo[];
}

function fieldOf(w: FieldInfoWire): FieldInfo {
  return {
    applicationId: w.applicationId,
    applicationName: w.applicationName,
    name: w.fieldName,
    description: w.fieldDescription,
    type: w.typedTicket?.type ?? "",
    ticket: w.typedTicket?.ticket?.ticket ?? new Uint8Array(0),
  };
}

function keyOf(f: FieldInfo): string {
  return JSON.stringify([f.applicationId, f.name]);
}

function sameObject(a: FieldInfo, b: FieldInfo): boolean {
  return a.type === b.type && a.description === b.description && a.applicationName === b.applicationName &&
    a.ticket.length === b.ticket.length && a.ticket.every((x, i) => x === b.ticket[i]);
}

function changeOf(u: FieldsChangeUpdate): FieldsChange {
  return {
    created: u.created.map(fieldOf),
    updated: u.updated.map(fieldOf),
    removed: u.removed.map(fieldOf),
  };
}

function isEmpty(c: FieldsChange): boolean {
  return c.created.length === 0 && c.updated.length === 0 && c.removed.length === 0;
}

/** Applies a change to the map of known fields. */
function apply(known: Map<string, FieldInfo>, c: FieldsChange): void {
  for (const f of c.removed) known.delete(keyOf(f));
  for (const f of [...c.created, ...c.updated]) known.set(keyOf(f), f);
}

/** The change from the fields `before` to the full list `now`. */
function diff(before: Map<string, FieldInfo>, now: readonly FieldInfo[]): FieldsChange {
  const created: FieldInfo[] = [], updated: FieldInfo[] = [], removed: FieldInfo[] = [];
  const seen = new Set<string>();
  for (const f of now) {
    const k = keyOf(f);
    seen.add(k);
    const old = before.get(k);
    if (!old) created.push(f);
    else if (!sameObject(old, f)) updated.push(f);
  }
  for (const [k, f] of before) if (!seen.has(k)) removed.push(f);
  return { created, updated, removed };
}

/**
 * The fields the server exposes now (the first message of `ListFields`).
 *
 * @param core The session.
 * @param signal Aborts the call.
 * @returns The fields, sorted by application id and name.
 */
export async function listFields(core: SessionCore, signal?: AbortSignal): Promise<FieldInfo[]> {
  const what = "Listing the server's fields";
  core.checkAlive(what);
  const ac = new AbortController();
  const onAbort = () => ac.abort();
  signal?.addEventListener("abort", onAbort, { once: true });
  try {
    for await (
      const u of core.channel.serverStream(rpc(ApplicationService.method.listFields), {}, {
        what,
        signal: ac.signal,
      })
    ) {
      // The first message is the current state; the stream would go on with changes.
      return u.created.map(fieldOf).sort((a, b) =>
        a.applicationId === b.applicationId
          ? (a.name < b.name ? -1 : a.name > b.name ? 1 : 0)
          : a.applicationId < b.applicationId
          ? -1
          : 1
      );
    }
  } finally {
    signal?.removeEventListener("abort", onAbort);
  }
  throw new DeephavenError(`${what} failed: the server ended the stream without an answer`, {
    code: GrpcCode.UNAVAILABLE,
  });
}

/**
 * Follows the server's fields: first every field visible now (as `created`), then each change as the server
 * reports it. When the connection breaks and the session reconnects, the list is read again and the
 * difference is one change. Ends when `signal` aborts or the session is closed; throws when the session failed.
 *
 * @param core The session.
 * @param signal Ends the iteration.
 * @returns The changes.
 */
export async function* watchFields(core: SessionCore, signal?: AbortSignal): AsyncGenerator<FieldsChange> {
  const what = "Following the server's fields";
  const known = new Map<string, FieldInfo>();
  let first = true;
  let failures = 0;
  while (!signal?.aborted) {
    try {
      await core.whenConnected(signal);
    } catch (e) {
      if (signal?.aborted || core.state === "closed") return;
      throw e;
    }
    let initial = true;
    try {
      for await (
        const u of core.channel.serverStream(rpc(ApplicationService.method.listFields), {}, { what, signal })
      ) {
        failures = 0;
        let change = changeOf(u);
        if (initial) {
          change = diff(known, change.created);
          initial = false;
        }
        apply(known, change);
        if (first || !isEmpty(change)) yield change;
        first = false;
      }
    } catch (e) {
      if (signal?.aborted || core.state === "closed") return;
      if (!core.reconnects || !(isTransient(e) || (e as DeephavenError).code === GrpcCode.UNAUTHENTICATED)) {
        throw e;
      }
    }
    // The stream ended or broke: read the list again once the session is connected (with a growing pause, so
    // a stream that keeps failing while the session looks fine does not spin).
    failures++;
    await new Promise((r) => setTimeout(r, Math.min(5000, 100 * 2 ** Math.min(failures, 6))));
  }
}
