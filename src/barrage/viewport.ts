/**
 * Position-to-key translation of Barrage viewport messages. A viewport subscription's local table is keyed
 * by offset within the viewport (0..size-1); the server describes each change in position space (offsets
 * removed from the old viewport, offsets added and modified in the new one). This turns such a message into
 * the key-space change the local table applies: removes at the old offsets, the shifts that move the rows
 * that stay to their new offsets, adds and modifications at the new offsets.
 *
 * @module
 */

import { DeephavenError, GrpcCode } from "../errors.ts";
import type { RowSet } from "../table/rowset.ts";
import { type ColumnData, type KeyedChange, positionalShifts } from "../table/storage.ts";

/** A viewport change as the server sends it (offsets, not keys). */
export interface ViewportMessage {
  isSnapshot: boolean;
  resubscribed?: boolean;
  /** Offsets removed from the old viewport. */
  removed: RowSet;
  /** Offsets added in the new viewport. */
  added: RowSet;
  /** Per column: add data in order of `added`. */
  addData: ColumnData[];
  /** Per column: offsets in the new viewport with modified values. */
  modified: RowSet[];
  /** Per column: modified values in order of `modified[i]`. */
  modData: ColumnData[];
}

function lastOffset(rs: RowSet): number {
  const last = Number(rs.last() ?? -1n);
  if (!Number.isSafeInteger(last)) {
    throw new DeephavenError("Malformed viewport update: an offset is out of range", {
      code: GrpcCode.DATA_LOSS,
    });
  }
  return last;
}

/**
 * The key-space change of a viewport message for a local table that holds `oldSize` rows.
 *
 * @param m The message, in offsets.
 * @param oldSize The local table's row count before it.
 * @returns The change in the table's keys (its offsets).
 * @throws {DeephavenError} `DATA_LOSS` when an offset lies past the end of the old or new viewport.
 */
export function viewportChange(m: ViewportMessage, oldSize: number): KeyedChange {
  if (!m.removed.isEmpty && lastOffset(m.removed) >= oldSize) {
    throw new DeephavenError("Malformed viewport update: a removed offset is past the end of the viewport", {
      code: GrpcCode.DATA_LOSS,
    });
  }
  const newSize = oldSize - m.removed.size + m.added.size;
  if (!m.added.isEmpty && lastOffset(m.added) >= newSize) {
    throw new DeephavenError("Malformed viewport update: an added offset is past the end of the viewport", {
      code: GrpcCode.DATA_LOSS,
    });
  }
  if (m.modified.some((rs) => !rs.isEmpty && lastOffset(rs) >= newSize)) {
    throw new DeephavenError("Malformed viewport update: a modified offset is past the end of the viewport", {
      code: GrpcCode.DATA_LOSS,
    });
  }
  const shifts = positionalShifts(m.removed, m.added, oldSize);
  return {
    isSnapshot: m.isSnapshot,
    resubscribed: m.resubscribed,
    removed: m.removed,
    shifts: shifts.isEmpty ? undefined : shifts,
    added: m.added,
    addData: m.addData,
    modified: m.modified,
    modData: m.modData,
  };
}
