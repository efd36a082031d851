/**
 * The ordering and equality of ioeventfd handlers: one rule, used by the VM's ioeventfd table
 * for inserting a handler (an equal one already there → EEXIST) and for looking up a guest
 * MMIO write, and by the tests.
 *
 * Reference: uapi.md §8.14. A handler is {addr, len, datamatch, data}. Without DATAMATCH the
 * handler has len 0 and data 0 and matches writes of any length at `addr`. A guest write is
 * looked up as {addr, access len, datamatch: true, data: the written value}. The comparison:
 *
 *   1. addr:   a.addr < b.addr → -1, > → 1
 *   2. len:    exactly one side has len 0 → equal (0); otherwise a.len < b.len → -1, > → 1
 *   3. data:   the datamatch flags differ → equal (0); otherwise a.data < b.data → -1, > → 1
 *
 * So a DATAMATCH and a non-DATAMATCH handler at the same address are equal (they conflict),
 * while DATAMATCH handlers at one address with different lengths or values are ordered and
 * coexist. Step 2's "equal" is not transitive in general; it is consistent inside one table
 * because the table never holds two handlers that compare equal.
 *
 * Pure: no state, no imports beyond types.
 */
import type { IoeventfdEntry } from '../vm-mgr/vm-api.js';

/** The fields the ordering looks at (an IoeventfdEntry without `fire`). */
export type IoeventfdKey = Pick<IoeventfdEntry, 'addr' | 'len' | 'datamatch' | 'data'>;

/**
 * Order `a` against `b` (uapi.md §8.14): negative when a sorts first, 0 when they are equal
 * (the same handler for insertion; a match for a lookup), positive when b sorts first.
 */
export function compareIoeventfd(a: IoeventfdKey, b: IoeventfdKey): -1 | 0 | 1 {
  if (a.addr !== b.addr) return a.addr < b.addr ? -1 : 1;
  if ((a.len === 0) !== (b.len === 0)) return 0;
  if (a.len !== b.len) return a.len < b.len ? -1 : 1;
  if (a.datamatch !== b.datamatch) return 0;
  if (a.data !== b.data) return a.data < b.data ? -1 : 1;
  return 0;
}

/**
 * `compareIoeventfd(entry, {addr, len, datamatch: true, data: value})` without building the
 * probe object: the lookup of a guest MMIO write of `len` bytes of `value` at `addr`, for the
 * MMIO hot path. 0 means `entry` takes the write.
 */
export function compareIoeventfdWrite(entry: IoeventfdKey, addr: bigint, len: number, value: bigint): -1 | 0 | 1 {
  if (entry.addr !== addr) return entry.addr < addr ? -1 : 1;
  if ((entry.len === 0) !== (len === 0)) return 0;
  if (entry.len !== len) return entry.len < len ? -1 : 1;
  if (!entry.datamatch) return 0;
  if (entry.data !== value) return entry.data < value ? -1 : 1;
  return 0;
}
