/**
 * What the leak checks measure: the exports a server session holds (from `SessionService/ExportNotifications`,
 * whose initial replay ends with export id 0), and this process's memory after full garbage collections (V8's
 * `gc`, exposed at run time through `node:v8`). Shared by the leak test and the leak benchmark.
 *
 * @module
 */

import v8 from "node:v8";
import vm from "node:vm";
import type { Session } from "../src/session/session.ts";
import { sessionCoreOf } from "../src/session/session.ts";
import { rpc } from "../src/transport/rpc.ts";
import { SessionService } from "../src/generated/proto/deephaven_core/proto/session_pb.ts";

/** Names of the export states, by number (ExportNotification.State). */
const STATES = [
  "UNKNOWN",
  "PENDING",
  "PUBLISHING",
  "QUEUED",
  "RUNNING",
  "EXPORTED",
  "RELEASED",
  "CANCELLED",
  "FAILED",
  "DEPENDENCY_FAILED",
  "DEPENDENCY_NEVER_FOUND",
  "DEPENDENCY_CANCELLED",
  "DEPENDENCY_RELEASED",
];

/**
 * The server's view of a session's exports: export id to state, from the initial replay of
 * ExportNotifications.
 *
 * @param session The session.
 * @returns Export id to state name.
 */
export async function serverExports(session: Session): Promise<Map<number, string>> {
  const core = sessionCoreOf(session);
  const out = new Map<number, string>();
  const ac = new AbortController();
  const timer = setTimeout(() => ac.abort(), 15_000);
  try {
    for await (
      const n of core.channel.serverStream(rpc(SessionService.method.exportNotifications), {}, {
        what: "Listing exports",
        signal: ac.signal,
      })
    ) {
      const t = n.ticket?.ticket ?? new Uint8Array(0);
      const id = t.length >= 5 && t[0] === 0x65 ? new DataView(t.buffer, t.byteOffset).getInt32(1, true) : -1;
      if (id === 0) break; // end of the replay of the current exports
      out.set(id, STATES[n.exportState] ?? String(n.exportState));
    }
  } finally {
    clearTimeout(timer);
  }
  return out;
}

/**
 * The exports that hold something on the server (not released, failed or cancelled), as `id:STATE`.
 *
 * @param exports From {@linkcode serverExports}.
 * @returns The live ones.
 */
export function liveExports(exports: Map<number, string>): string[] {
  return [...exports].filter(([, s]) => !/RELEASED|CANCELLED|FAILED|NEVER_FOUND/.test(s)).map(([id, s]) =>
    `${id}:${s}`
  );
}

let gcFn: (() => void) | undefined;

/** Runs a full garbage collection (V8's `gc`, exposed at run time through `node:v8`). */
export function collectGarbage(): void {
  if (!gcFn) {
    v8.setFlagsFromString("--expose-gc");
    gcFn = vm.runInNewContext("gc") as () => void;
  }
  gcFn();
  gcFn();
}

/**
 * Memory in use after a full garbage collection: the JS heap plus external memory (typed array buffers).
 *
 * @returns Bytes.
 */
export function heapAfterGc(): number {
  collectGarbage();
  const m = Deno.memoryUsage();
  return m.heapUsed + m.external;
}
