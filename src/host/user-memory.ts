/**
 * The host process's user address space: heap allocations (`malloc`) where ioctl argument
 * structs live, and the address ranges handed out to `mmap`.
 *
 * Reference: DESIGN.md "Public contracts" (HostProcess: malloc/free/peek/poke; "a bad pointer
 * gives EFAULT"); src/host/kernel-file.ts (UserMemory: copy_from_user / copy_to_user).
 *
 * Layout (one process; nothing is shared between instances):
 *
 *   USER_BASE                                                             higher addresses →
 *   ┌─────────────┬───────┬─────────┬───────┬────────────────────┬───────┬─────
 *   │ allocation  │ guard │ alloc.  │ guard │ mmap range         │ guard │ ...
 *   │ (page start)│ page  │         │ page  │ (whole pages)      │ page  │
 *   └─────────────┴───────┴─────────┴───────┴────────────────────┴───────┴─────
 *
 * Every range starts on a page boundary and is followed by at least one unused guard page.
 * Addresses are never reused, so a pointer kept after `free` stays invalid. Access checks are
 * byte-exact, stricter than a real MMU (which only faults at page granularity): an access
 * that runs even one byte off an allocation is EFAULT, as an address sanitizer would report it.
 * Mapping ranges are not readable through `copyFromUser`/`peek` (the mapping object is the
 * only way in), so an ioctl argument pointer into a mapping is EFAULT here.
 */
import { ErrnoError } from '../shared/errno.js';
import type { UserMemory } from './kernel-file.js';

/** Page size of the emulated host kernel (a 4 KiB arm64 kernel). */
export const HOST_PAGE_SIZE = 4096;
/** First user address handed out. */
export const USER_BASE = 0x7f00_0000_0000n;
/** Largest single allocation, to keep a runaway size from exhausting the emulator's memory. */
export const MAX_ALLOCATION = 1 << 30;

const PAGE = BigInt(HOST_PAGE_SIZE);

interface Allocation {
  readonly start: bigint;
  readonly bytes: Uint8Array;
}

/** Round `n` up to whole host pages. */
export function pageAlignUp(n: bigint): bigint {
  return ((n + PAGE - 1n) / PAGE) * PAGE;
}

/**
 * The user memory of one process. Implements the kernel's view (`UserMemory`) and the
 * process's own view (`malloc`, `free`, `peek`, `poke`).
 */
export class ProcessMemory implements UserMemory {
  /** Next free address; only grows (addresses are never reused). */
  #next = USER_BASE;
  /** Live heap allocations in ascending address order (the bump allocator keeps them sorted). */
  readonly #allocs: Allocation[] = [];

  /**
   * Allocate `size` zero-filled bytes (calloc semantics) at a fresh page-aligned address.
   * `size` 0 gives a distinct pointer through which no byte can be accessed.
   * @throws ErrnoError EINVAL when `size` is not a non-negative integer; ENOMEM above MAX_ALLOCATION
   */
  malloc(size: number): bigint {
    if (!Number.isSafeInteger(size) || size < 0) throw new ErrnoError('EINVAL', `malloc size ${size}`);
    if (size > MAX_ALLOCATION) throw new ErrnoError('ENOMEM', `malloc of ${size} bytes`);
    const start = this.reserve(size);
    this.#allocs.push({ start, bytes: new Uint8Array(size) });
    return start;
  }

  /**
   * Free the allocation that starts at `ptr`. `free(0n)` does nothing, as in C.
   * @throws ErrnoError EFAULT when `ptr` is not the start of a live allocation (double free,
   *   interior pointer, wild pointer); glibc would abort the process there.
   */
  free(ptr: bigint): void {
    if (ptr === 0n) return;
    const i = this.#indexOf(ptr);
    if (i < 0 || this.#allocs[i]!.start !== ptr) throw new ErrnoError('EFAULT', `free of 0x${ptr.toString(16)}: not an allocation`);
    this.#allocs.splice(i, 1);
  }

  /** Copy `len` bytes at `ptr` out of user memory. @throws ErrnoError EFAULT */
  peek(ptr: bigint, len: number): Uint8Array {
    return this.copyFromUser(ptr, len);
  }

  /** Copy `bytes` into user memory at `ptr`. @throws ErrnoError EFAULT */
  poke(ptr: bigint, bytes: Uint8Array): void {
    this.copyToUser(ptr, bytes);
  }

  /** copy_from_user: a copy of `[ptr, ptr+len)`. A zero-length copy always succeeds. */
  copyFromUser(ptr: bigint, len: number): Uint8Array {
    if (!Number.isSafeInteger(len) || len < 0) throw new ErrnoError('EFAULT', `bad length ${len}`);
    if (len === 0) return new Uint8Array(0);
    const [a, off] = this.#locate(ptr, len);
    return a.bytes.slice(off, off + len);
  }

  /** copy_to_user: store `bytes` at `ptr`. A zero-length copy always succeeds. */
  copyToUser(ptr: bigint, bytes: Uint8Array): void {
    if (bytes.byteLength === 0) return;
    const [a, off] = this.#locate(ptr, bytes.byteLength);
    a.bytes.set(bytes, off);
  }

  /**
   * Reserve a fresh page-aligned range of `length` bytes (rounded up to pages) followed by a
   * guard page, for the heap or for a mapping. Returns its start.
   */
  reserve(length: number): bigint {
    const start = this.#next;
    this.#next = start + pageAlignUp(BigInt(Math.max(length, 1))) + PAGE;
    return start;
  }

  /** Live heap allocations, for inspection: start address and size. */
  allocations(): Array<{ ptr: bigint; size: number }> {
    return this.#allocs.map((a) => ({ ptr: a.start, size: a.bytes.byteLength }));
  }

  /** The allocation holding all of `[ptr, ptr+len)` (len ≥ 1) and the offset in it. */
  #locate(ptr: bigint, len: number): [Allocation, number] {
    if (typeof ptr !== 'bigint') throw new ErrnoError('EFAULT', `pointer ${String(ptr)} is not a bigint`);
    const i = this.#indexOf(ptr);
    const a = i < 0 ? undefined : this.#allocs[i];
    // INVARIANT: a.start <= ptr here, so the offset is non-negative.
    if (a === undefined || ptr - a.start + BigInt(len) > BigInt(a.bytes.byteLength)) {
      throw new ErrnoError('EFAULT', `0x${ptr.toString(16)}+${len} is outside user memory`);
    }
    return [a, Number(ptr - a.start)];
  }

  /** Index of the last allocation starting at or below `ptr`, or -1 (binary search). */
  #indexOf(ptr: bigint): number {
    let lo = 0;
    let hi = this.#allocs.length - 1;
    let found = -1;
    while (lo <= hi) {
      const mid = (lo + hi) >> 1;
      if (this.#allocs[mid]!.start <= ptr) {
        found = mid;
        lo = mid + 1;
      } else {
        hi = mid - 1;
      }
    }
    return found;
  }
}
