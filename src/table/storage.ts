/**
 * The storage of a local table: row keys (a {@linkcode RowSet}), rows in *slots* (dense indexes into each
 * column's typed storage), and `posToSlot`, which maps row positions (0..size-1, in key order) to slots.
 * Removed rows free their slots for reuse, so memory follows the live row count, not the key space. Shifts
 * change keys but never their order, so they touch only the RowSet.
 *
 * While rows have only been appended (a snapshot, an append-only table), every row's slot is its position:
 * `posToSlot` is then not kept (no work or memory per row) until something asks for it, and is made when
 * rows are removed or inserted before the end.
 *
 * Only the table's writer changes it; exporters, display and local queries read it through
 * `storageOf(table)`.
 *
 * @module
 */

import type * as arrow from "../deps/apache_arrow.ts";
import { DeephavenError, GrpcCode } from "../errors.ts";
import { type Chunk, ColumnStore } from "./column.ts";
import { RowSet, ShiftData } from "./rowset.ts";
import { growTyped } from "./grow.ts";

const EMPTY_SLOTS: Int32Array = new Int32Array(0);

/** Values to write for one column: chunks in order, their lengths summing to the target row count. */
export type ColumnData = readonly Chunk[];

/**
 * A change in key space: removes (pre-update keys), shifts, adds, then per-column modifications
 * (post-update keys). Produced by Barrage full subscriptions and by local queries.
 */
export interface KeyedChange {
  isSnapshot: boolean;
  resubscribed?: boolean;
  removed: RowSet;
  shifts: ShiftData | undefined;
  added: RowSet;
  /** Keys whose add data is present (defaults to `added`). */
  addedIncluded?: RowSet;
  /** Per column: add data in order of `addedIncluded` (empty for unsubscribed columns). */
  addData: ColumnData[];
  /** Per column: keys modified (post-shift space). */
  modified: RowSet[];
  /** Per column: modified values in order of `modified[i]`. */
  modData: ColumnData[];
}

/**
 * A change in position space, for tables whose keys are their positions (sorted and windowed views):
 * offsets removed from the old row list, offsets added in the new one, modified offsets in the new one.
 */
export interface PositionalChange {
  isSnapshot: boolean;
  resubscribed?: boolean;
  /** Offsets removed from the old row list. */
  removed: RowSet;
  /** Offsets added in the new row list. */
  added: RowSet;
  addData: ColumnData[];
  /** Per column: offsets in the new list with modified values. */
  modified: RowSet[];
  modData: ColumnData[];
}

/** What an applied change did, for the table's update event. */
export interface AppliedChange {
  readonly added: RowSet;
  readonly removed: RowSet;
  readonly modified: RowSet;
  readonly modifiedColumns: string[];
  readonly shifted: boolean;
  readonly shifts?: ShiftData;
  readonly slots: { removed: Int32Array; added: Int32Array; modified: Int32Array };
}

/** The ranges of a RowSet of small numbers (positions) as flat [first, last] pairs. */
function flatRanges(rs: RowSet): Float64Array {
  const r = rs.flatRanges();
  if (r instanceof Float64Array) return r;
  throw new DeephavenError("Malformed viewport update: an offset is out of range", {
    code: GrpcCode.DATA_LOSS,
  });
}

/**
 * The key shifts that a position-space change implies for the rows that stay:
 * removing offsets moves later rows down, adding offsets moves them up. With
 * these, position-space tables emit ordinary key-space updates (removed in
 * the old space, then shifts, then added in the new space).
 */
export function positionalShifts(removed: RowSet, added: RowSet, oldSize: number): ShiftData {
  if (removed.isEmpty && added.isEmpty) return ShiftData.EMPTY;
  const R = removed.isEmpty ? new Float64Array(0) : flatRanges(removed);
  const A = added.isEmpty ? new Float64Array(0) : flatRanges(added);
  const entries: [number, number, number][] = [];
  let oldPos = 0, newPos = 0, ri = 0, ai = 0;
  while (oldPos < oldSize) {
    if (ri < R.length && oldPos >= R[ri]) {
      oldPos = Math.max(oldPos, R[ri + 1] + 1);
      ri += 2;
      continue;
    }
    if (ai < A.length && newPos >= A[ai]) {
      newPos = Math.max(newPos, A[ai + 1] + 1);
      ai += 2;
      continue;
    }
    const endOld = ri < R.length ? R[ri] : oldSize;
    const endNew = ai < A.length ? A[ai] : Infinity;
    const len = Math.min(endOld - oldPos, endNew - newPos);
    const delta = newPos - oldPos;
    if (delta !== 0) {
      const last = entries[entries.length - 1];
      if (last && last[2] === delta && last[1] === oldPos - 1) last[1] = oldPos + len - 1;
      else entries.push([oldPos, oldPos + len - 1, delta]);
    }
    oldPos += len;
    newPos += len;
  }
  return entries.length ? ShiftData.fromEntries(entries) : ShiftData.EMPTY;
}

/** A change that does not fit the table it is applied to: the table would no longer match its source. */
function malformedChange(what: string): DeephavenError {
  return new DeephavenError(
    `Malformed update: ${what}, so the local table would no longer match its source; ` +
      "subscribe again, and report this with the server version if it repeats",
    { code: GrpcCode.DATA_LOSS },
  );
}

function* chunkValues(data: ColumnData): Generator<[Chunk, number]> {
  for (const c of data) yield [c, c.length];
}

/** The storage of one local table (see the module documentation). */
export class TableStorage {
  readonly schema: arrow.Schema;
  readonly columns: ColumnStore[];
  readonly #byName: Map<string, number>;
  #rowSet: RowSet = RowSet.EMPTY;
  #posToSlot: Int32Array = new Int32Array(16);
  #size = 0;
  #free: number[] = [];
  #slotHigh = 0;
  #slotToPos: Int32Array = new Int32Array(16);
  #posValidUpTo = 0;
  /** Between beginAppend and endAppend. */
  #appending = false;
  /** Whether every row's slot is its position (no free slots, `slotHigh === size`). */
  #identity = true;
  /** In identity mode: positions below this have their slot written in `posToSlot`. */
  #posFilled = 0;

  /**
   * Creates empty storage for a schema.
   *
   * @param schema The Arrow schema.
   */
  constructor(schema: arrow.Schema) {
    this.schema = schema;
    this.columns = schema.fields.map((f) => new ColumnStore(f));
    this.#byName = new Map(schema.fields.map((f, i) => [f.name, i]));
  }

  /** Number of rows. */
  get size(): number {
    return this.#size;
  }

  /** The row keys. */
  get rowSet(): RowSet {
    return this.#rowSet;
  }

  /** The storage of a column, by name or index; throws INVALID_ARGUMENT naming the columns. */
  store(column: string | number): ColumnStore {
    const i = typeof column === "number" ? column : this.#byName.get(column);
    const c = i === undefined ? undefined : this.columns[i];
    if (!c) {
      throw DeephavenError.invalid(
        `No column ${JSON.stringify(column)}; the columns are ${
          this.schema.fields.map((f) => JSON.stringify(f.name)).join(", ")
        }`,
      );
    }
    return c;
  }

  /** Bytes held outside the JS heap: the columns' storage and the position index (whole buffers). */
  get bytes(): number {
    let n = this.#posToSlot.buffer.byteLength + this.#slotToPos.buffer.byteLength;
    for (const c of this.columns) n += c.bytes;
    return n;
  }

  /** The slot of row position `row`; throws INVALID_ARGUMENT when out of range. */
  slotOf(row: number): number {
    if (!Number.isInteger(row) || row < 0 || row >= this.#size) {
      throw DeephavenError.invalid(`Row ${row} is out of range; the table has ${this.#size} rows`);
    }
    return this.#identity ? row : this.#posToSlot[row];
  }

  /** The slots of rows `[from, to)` in row order (a view: copy it to keep it). */
  slots(from: number = 0, to: number = this.#size): Int32Array {
    if (this.#identity) this.#fillPositions();
    return this.#posToSlot.subarray(from, to);
  }

  /** The slot of the row at a position (unchecked). */
  slotAt(position: number): number {
    return this.#identity ? position : this.#posToSlot[position];
  }

  /** In identity mode, writes `posToSlot` for every position (slot = position). */
  #fillPositions(): void {
    if (this.#posFilled >= this.#size) return;
    this.#ensurePosCapacity(this.#size);
    const p = this.#posToSlot;
    for (let i = this.#posFilled; i < this.#size; i++) p[i] = i;
    this.#posFilled = this.#size;
  }

  /** Leaves identity mode: from now on `posToSlot` is kept for every change. */
  #leaveIdentity(): void {
    if (!this.#identity) return;
    this.#fillPositions();
    this.#identity = false;
  }

  /** The current position of the row stored in `slot` (a live slot). */
  positionOfSlot(slot: number): number {
    if (this.#identity) return slot;
    if (this.#posValidUpTo < this.#size) {
      if (this.#slotToPos.length < this.#slotHigh) {
        this.#slotToPos = growTyped(this.#slotToPos, this.#slotToPos.length, this.#slotHigh);
      }
      const p = this.#posToSlot, sp = this.#slotToPos;
      for (let i = this.#posValidUpTo; i < this.#size; i++) sp[p[i]] = i;
      this.#posValidUpTo = this.#size;
    }
    return this.#slotToPos[slot];
  }

  #allocSlots(n: number): Int32Array {
    const out = new Int32Array(n);
    let i = 0;
    while (i < n && this.#free.length > 0) out[i++] = this.#free.pop() as number;
    const start = this.#slotHigh;
    for (; i < n; i++) out[i] = this.#slotHigh++;
    if (this.#slotHigh > start) { for (const c of this.columns) c.ensureCapacity(this.#slotHigh); }
    return out;
  }

  /**
   * Makes room for `rows` rows in every column and the position index at once (for a snapshot whose size is
   * known before its rows arrive), so that storage does not grow step by step. The room is claimed, not
   * written: slots become null as they are handed out.
   *
   * @param rows The row count to make room for.
   */
  reserve(rows: number): void {
    const slots = this.#slotHigh + Math.max(0, rows - this.#size - this.#free.length);
    // Empty storage is made at its final size (see ColumnStore.claim).
    for (const c of this.columns) c.claim(slots, this.#slotHigh === 0);
    if (!this.#identity) this.#ensurePosCapacity(rows);
  }

  #ensurePosCapacity(n: number): void {
    if (n <= this.#posToSlot.length) return;
    this.#posToSlot = growTyped(this.#posToSlot, this.#size, n);
  }

  /** Removes rows at the given position ranges (flat [first, last] pairs, ascending); returns their slots. */
  #removePositions(ranges: Float64Array): Int32Array {
    if (ranges.length === 0) return EMPTY_SLOTS;
    this.#leaveIdentity();
    const p = this.#posToSlot;
    let count = 0;
    for (let r = 0; r < ranges.length; r += 2) count += ranges[r + 1] - ranges[r] + 1;
    const freed = new Int32Array(count);
    let k = 0;
    let write = ranges[0];
    this.#posValidUpTo = Math.min(this.#posValidUpTo, write);
    for (let r = 0; r < ranges.length; r += 2) {
      const first = ranges[r], last = ranges[r + 1];
      for (let i = first; i <= last; i++) {
        const slot = p[i];
        freed[k++] = slot;
        this.#free.push(slot);
        for (const c of this.columns) c.clear(slot);
      }
      const nextFirst = r + 2 < ranges.length ? ranges[r + 2] : this.#size;
      p.copyWithin(write, last + 1, nextFirst);
      write += nextFirst - (last + 1);
    }
    this.#size = write;
    return freed;
  }

  /** Inserts new rows at the given position ranges of the new row list; returns their slots in order. */
  #insertPositions(ranges: Float64Array, count: number): Int32Array {
    if (this.#identity && count > 0 && ranges[0] === this.#size) {
      // An append while every slot is its position: fresh slots at the end, nothing to index.
      const slots = this.#allocSlots(count);
      this.#size += count;
      return slots;
    }
    if (count > 0) this.#leaveIdentity();
    const slots = this.#allocSlots(count);
    if (count === 0) return slots;
    const newSize = this.#size + count;
    this.#ensurePosCapacity(newSize);
    this.#posValidUpTo = Math.min(this.#posValidUpTo, ranges[0]);
    const p = this.#posToSlot;
    if (ranges[0] === this.#size) {
      // Append: the common case for ticking tables.
      p.set(slots, this.#size);
    } else {
      // Walk from the end so nothing is overwritten before it moves.
      let src = this.#size - 1, dst = newSize - 1, s = count - 1;
      for (let r = ranges.length - 2; r >= 0; r -= 2) {
        const first = ranges[r], last = ranges[r + 1];
        const keep = dst - last; // old rows that sit after this inserted range
        p.copyWithin(last + 1, src - keep + 1, src + 1);
        src -= keep;
        for (let i = last; i >= first; i--) p[i] = slots[s--];
        dst = first - 1;
      }
    }
    this.#size = newSize;
    return slots;
  }

  /** The slots of the rows at the given position ranges, in order. */
  #slotsAt(ranges: Float64Array, count: number): Int32Array {
    const out = new Int32Array(count);
    const p = this.#identity ? undefined : this.#posToSlot;
    let k = 0;
    for (let r = 0; r < ranges.length; r += 2) {
      for (let i = ranges[r]; i <= ranges[r + 1]; i++) out[k++] = p ? p[i] : i;
    }
    return out;
  }

  #write(columnIndex: number, data: ColumnData, slots: Int32Array): void {
    const store = this.columns[columnIndex];
    let k = 0;
    for (const [chunk, len] of chunkValues(data)) {
      const n = Math.min(len, slots.length - k);
      if (n <= 0) break;
      store.write(chunk, 0, slots, k, n);
      k += n;
    }
  }

  /**
   * Applies a key-space change (remove, shift, add, modify).
   *
   * @param d The change.
   * @returns What changed, for the update event.
   * @throws {DeephavenError} `DATA_LOSS` when the change does not fit the rows held: it removes, modifies or
   *   fills rows that are not there, or (outside snapshots) adds rows that are.
   */
  applyKeyed(d: KeyedChange): AppliedChange {
    // 1. Removes, in pre-shift key space.
    const removed = d.removed;
    let removedSlots: Int32Array = EMPTY_SLOTS;
    if (!removed.isEmpty) {
      if (!removed.isSubsetOf(this.#rowSet)) {
        throw malformedChange(`it removes ${removed.minus(this.#rowSet).size} rows the table does not hold`);
      }
      removedSlots = this.#removePositions(this.#rowSet.positionRangesOf(removed));
      this.#rowSet = this.#rowSet.minus(removed);
    }
    // 2. Shifts: keys move, order and slots stay.
    const shifted = d.shifts !== undefined && !d.shifts.isEmpty;
    if (shifted) this.#rowSet = this.#rowSet.shift(d.shifts as ShiftData);
    // 3. Adds: new keys get slots at their positions.
    const fresh = d.added.minus(this.#rowSet);
    if (!d.isSnapshot && fresh.size !== d.added.size) {
      throw malformedChange(`it adds ${d.added.size - fresh.size} rows the table already holds`);
    }
    let addedSlots: Int32Array = EMPTY_SLOTS;
    if (!fresh.isEmpty) {
      const next = this.#rowSet.union(fresh);
      addedSlots = this.#insertPositions(next.positionRangesOf(fresh), fresh.size);
      this.#rowSet = next;
    }
    // 4. Add data, for the keys that carry it. Keys that were already here (growing snapshots) count as modified.
    const included = d.addedIncluded ?? d.added;
    if (d.addedIncluded && !included.isSubsetOf(this.#rowSet)) {
      throw malformedChange("it carries data for rows the table does not hold");
    }
    let modified = RowSet.EMPTY;
    const modifiedColumns = new Set<string>();
    if (!included.isEmpty && d.addData.some((c) => c.length > 0)) {
      const slots = this.#slotsAt(this.#rowSet.positionRangesOf(included), included.size);
      d.addData.forEach((data, i) => {
        this.#write(i, data, slots);
      });
      const filled = included.minus(fresh);
      if (!filled.isEmpty) {
        modified = filled;
        d.addData.forEach((data, i) => {
          if (data.length > 0) modifiedColumns.add(this.columns[i].name);
        });
      }
    }
    // 5. Modifications, per column.
    d.modified.forEach((keys, i) => {
      if (keys.isEmpty) return;
      if (!keys.isSubsetOf(this.#rowSet)) throw malformedChange("it modifies rows the table does not hold");
      const slots = this.#slotsAt(this.#rowSet.positionRangesOf(keys), keys.size);
      this.#write(i, d.modData[i] ?? [], slots);
      modifiedColumns.add(this.columns[i].name);
      modified = modified.union(keys);
    });
    const modifiedSlots = modified.isEmpty
      ? EMPTY_SLOTS
      : this.#slotsAt(this.#rowSet.positionRangesOf(modified), modified.size);
    return {
      added: fresh,
      removed,
      modified,
      modifiedColumns: [...modifiedColumns],
      shifted,
      shifts: shifted ? d.shifts : undefined,
      slots: { removed: removedSlots, added: addedSlots, modified: modifiedSlots },
    };
  }

  /**
   * Applies a position-space change (sorted and windowed views, appended snapshots).
   *
   * @param d The change.
   * @returns What changed, for the update event.
   */
  applyPositional(d: PositionalChange): AppliedChange {
    const shifts = positionalShifts(d.removed, d.added, this.#size);
    let removedSlots: Int32Array = EMPTY_SLOTS;
    if (!d.removed.isEmpty) {
      const removedRanges = flatRanges(d.removed);
      if (removedRanges[removedRanges.length - 1] >= this.#size) {
        throw new DeephavenError(
          "Malformed viewport update: a removed offset is past the end of the viewport",
          {
            code: GrpcCode.DATA_LOSS,
          },
        );
      }
      removedSlots = this.#removePositions(removedRanges);
    }
    const added = d.added;
    let addedSlots: Int32Array = EMPTY_SLOTS;
    if (!added.isEmpty) {
      const ranges = flatRanges(added);
      if (ranges[ranges.length - 1] >= this.#size + added.size) {
        throw new DeephavenError(
          "Malformed viewport update: an added offset is past the end of the viewport",
          {
            code: GrpcCode.DATA_LOSS,
          },
        );
      }
      addedSlots = this.#insertPositions(ranges, added.size);
      d.addData.forEach((data, i) => this.#write(i, data, addedSlots));
    }
    this.#rowSet = this.#size > 0 ? RowSet.range(0, this.#size - 1) : RowSet.EMPTY;
    const modifiedColumns: string[] = [];
    let modified = RowSet.EMPTY;
    d.modified.forEach((offs, i) => {
      if (offs.isEmpty) return;
      const slots = this.#slotsAt(this.#rowSet.positionRangesOf(offs), offs.size);
      this.#write(i, d.modData[i] ?? [], slots);
      modifiedColumns.push(this.columns[i].name);
      modified = modified.union(offs);
    });
    const modifiedSlots = modified.isEmpty
      ? EMPTY_SLOTS
      : this.#slotsAt(this.#rowSet.positionRangesOf(modified), modified.size);
    return {
      added,
      removed: d.removed,
      modified,
      modifiedColumns,
      shifted: !shifts.isEmpty,
      shifts: shifts.isEmpty ? undefined : shifts,
      slots: { removed: removedSlots, added: addedSlots, modified: modifiedSlots },
    };
  }

  /**
   * Starts appending `n` rows whose values the caller writes straight into the columns' storage (a
   * snapshot streaming from the socket, see `ColumnStore.claim`): returns the first of their slots, which
   * are consecutive, or `undefined` when they would not be (slots freed by removals are reused first).
   * The rows join the table at {@linkcode TableStorage.endAppend}.
   *
   * @param n The number of rows.
   * @returns The first slot, or `undefined`.
   */
  beginAppend(n: number): number | undefined {
    if (this.#free.length > 0 || this.#appending) return undefined;
    const first = this.#slotHigh;
    for (const c of this.columns) c.claim(first + n);
    this.#appending = true;
    return first;
  }

  /** Gives up an append begun with {@linkcode TableStorage.beginAppend} before anything was written. */
  cancelAppend(): void {
    this.#appending = false;
  }

  /**
   * Ends an append begun with {@linkcode TableStorage.beginAppend}: the slots no column marked written are
   * null, and the rows join the table at its end (positions are keys, as in `applyPositional`).
   *
   * @param first The first slot `beginAppend` returned.
   * @param n The number of rows.
   * @returns What changed, for the update event.
   */
  endAppend(first: number, n: number): AppliedChange {
    this.#appending = false;
    const end = first + n;
    this.#slotHigh = end;
    for (const c of this.columns) c.settle(end);
    const start = this.#size;
    if (!this.#identity) {
      this.#ensurePosCapacity(start + n);
      const p = this.#posToSlot;
      for (let i = 0; i < n; i++) p[start + i] = first + i;
    }
    this.#size = start + n;
    this.#rowSet = this.#size > 0 ? RowSet.range(0, this.#size - 1) : RowSet.EMPTY;
    let added: Int32Array | undefined;
    return {
      added: n > 0 ? RowSet.range(start, start + n - 1) : RowSet.EMPTY,
      removed: RowSet.EMPTY,
      modified: RowSet.EMPTY,
      modifiedColumns: [],
      shifted: false,
      slots: {
        removed: EMPTY_SLOTS,
        // Made only when a derived view asks.
        get added(): Int32Array {
          return added ??= Int32Array.from({ length: n }, (_, i) => first + i);
        },
        modified: EMPTY_SLOTS,
      },
    };
  }

  /** Empties the storage (for blink tables and resubscription); returns the keys removed. */
  clearRows(): RowSet {
    const removed = this.#rowSet;
    if (!removed.isEmpty) {
      this.#removePositions(new Float64Array([0, this.#size - 1]));
      this.#rowSet = RowSet.EMPTY;
    }
    return removed;
  }
}
