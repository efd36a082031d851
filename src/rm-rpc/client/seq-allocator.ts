/**
 * Cyclic 16-bit sequence numbers for outstanding RM calls: start at 0, count up, wrap after
 * 0xFFFF, and skip any seq still in use (rm-rpc.md §6; Linux allocates them cyclically).
 */
import { ErrnoError } from '../../shared/errno.js';

export interface SeqAllocator {
  /** Take the next free seq. @throws ErrnoError EBUSY when all 65536 are in use. */
  alloc(): number;
  /** Give a seq back. */
  free(seq: number): void;
  /** How many are in use. */
  readonly inUse: number;
}

export function createSeqAllocator(start = 0): SeqAllocator {
  const used = new Set<number>();
  let next = start & 0xffff;
  return {
    alloc() {
      if (used.size > 0xffff) throw new ErrnoError('EBUSY', 'no free RM sequence number');
      while (used.has(next)) next = (next + 1) & 0xffff;
      const seq = next;
      used.add(seq);
      next = (next + 1) & 0xffff;
      return seq;
    },
    free(seq) {
      used.delete(seq);
    },
    get inUse() {
      return used.size;
    },
  };
}
