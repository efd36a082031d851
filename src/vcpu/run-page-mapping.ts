/**
 * The mmap backing of a vCPU fd: page offset 0 of the file is the run page, every other page
 * raises SIGBUS when touched.
 *
 * Reference: uapi.md §5 ("The mmap may be any size, but only page offset 0 maps the run page;
 * touching any other offset raises SIGBUS"), §6.3 (mmap row).
 *
 * Reads and writes go straight to the run page's bytes, the same Uint8Array the RUN algorithm
 * uses, so userspace sees the kernel's writes at once and the kernel sees userspace's. An
 * access that reaches past the run page faults at its first byte outside it, and nothing of
 * that access is done (a real CPU might have copied a prefix before faulting; the process is
 * killed by SIGBUS either way).
 */
import type { MappingBackend } from '../host/kernel-file.js';
import { SigbusError } from '../shared/sigbus-error.js';
import { PAGE_SIZE, RUN_IMMEDIATE_EXIT } from '../vm-mgr/uapi/index.js';

/** Writes up to this many bytes are copied byte by byte. */
const SMALL_WRITE = 64;

/** What the mapping needs of its vCPU. */
export interface RunPageOwner {
  /** The run page: exactly PAGE_SIZE bytes. */
  readonly page: Uint8Array;
  /**
   * Userspace set `immediate_exit` non-zero through the mapping. The VMM's kick: it models
   * the signal a VMM sends with it (wakes a RUN sleeping for a wakeup).
   */
  kick(): void;
}

/**
 * The backend of one mmap of a vCPU fd.
 * @param fileOffset the mmap offset (page aligned; checked by the process model)
 * @param addr       the mapping's user address, for SigbusError
 */
export function runPageMapping(owner: RunPageOwner, fileOffset: number, addr: bigint): MappingBackend {
  const { page } = owner;
  /** Throw SIGBUS unless [off, off+len) of the mapping lies inside file page 0. */
  const check = (off: number, len: number): number => {
    const start = fileOffset + off;
    if (len > 0 && start + len > PAGE_SIZE) {
      const firstBad = Math.max(off, PAGE_SIZE - fileOffset);
      throw new SigbusError(addr + BigInt(firstBad), `vCPU mapping offset ${fileOffset + firstBad} is beyond the run page`);
    }
    return start;
  };
  // Every read gets bytes of its own: a `slice`. One of ≤ 64 bytes (the run page's 40 after
  // each RUN) lives on the JS heap, which is the cheapest copy as long as nobody asks for its
  // `.buffer` (that allocates one); the run-page decoder reads the MMIO exit byte by byte for
  // that reason. (A view into a shared slab, used before, costs twice a heap slice.)
  return {
    read(off, length) {
      const start = check(off, length);
      return page.slice(start, start + length);
    },
    write(off, bytes) {
      const n = bytes.byteLength;
      const start = check(off, n);
      // A VMM writes a few bytes at a time (mmio.data, a resume action): a byte loop is much
      // cheaper than TypedArray.prototype.set for those.
      if (n <= SMALL_WRITE) for (let i = 0; i < n; i++) page[start + i] = bytes[i]!;
      else page.set(bytes, start);
      const coversFlag = start <= RUN_IMMEDIATE_EXIT && start + n > RUN_IMMEDIATE_EXIT;
      if (coversFlag && page[RUN_IMMEDIATE_EXIT] !== 0) owner.kick();
    },
    unmap() {
      // Nothing to drop: the run page lives as long as the vCPU.
    },
  };
}
