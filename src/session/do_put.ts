/**
 * Uploading an apache-arrow table as a new static server table (Flight DoPut), shared by
 * `Session.importTable` and the input tables (not public API).
 *
 * @module
 */

import { type Table, tableToIPC } from "../deps/apache_arrow.ts";
import { rpc } from "../transport/rpc.ts";
import { ipcToFlight } from "../arrow/ipc.ts";
import { FlightService } from "../generated/proto/arrow/flight/protocol/flight_pb.ts";
import type { SessionCore, TableInfo } from "./core.ts";

/**
 * Sends `table` with DoPut to the export `result` and returns what the server says of the new table.
 *
 * @param core The session.
 * @param result The export ticket to create.
 * @param table The data.
 * @param what What is being done, for errors.
 * @returns The new table's info.
 */
export async function doPut(
  core: SessionCore,
  result: Uint8Array,
  table: Table,
  what: string,
): Promise<TableInfo> {
  const payloads = ipcToFlight(tableToIPC(table, "stream"));
  const id = new DataView(result.buffer, result.byteOffset, result.byteLength).getInt32(1, true);
  const call = core.channel.bidi(rpc(FlightService.method.doPut), { what });
  payloads.forEach((p, i) =>
    call.send({
      flightDescriptor: i === 0 ? { type: 1, path: ["export", String(id)] } : undefined,
      dataHeader: p.dataHeader,
      dataBody: p.dataBody,
    })
  );
  call.end();
  for await (const _ of call) { /* acks */ }
  return await core.tableInfoOf(result, what);
}
