/**
 * The host kernel's anonymous shared memory (shmem, what `MAP_SHARED | MAP_ANONYMOUS` and a
 * memfd give): a file of whole 4 KiB pages from the same page pool as guest-memory files,
 * allocated zeroed on first touch, that the `gh_` dialect's SET_USER_MEM_REGION and
 * LEND_USER_MEM pin (pin_user_pages with FOLL_LONGTERM) and hand to the RM as a memory parcel.
 *
 * Reference: README.md §Dialects (the `gh_` memory model: host user virtual memory, shared or
 * lent), vmm-flows.md §3, §4 (crosvm and QEMU register their RAM this way), §6.7 and Q12 (a page
 * lent to a guest is inaccessible to the host: a touch is SIGBUS), uapi.md §6.4 (pages are
 * zero-filled on first touch). Page lifetime follows Linux's page references:
 *
 *   page ── owned by the file while the file lives (mapping or fd open)
 *        └─ +1 per pin (a VM's region); a pinned page outlives the file until its last unpin
 *
 * A host access through the mapping asks the hypervisor whether the host still has the page
 * (`probeMemory`): no → SigbusError at the faulting address, as on hardware after a lend
 * (host-page-walk.ts). `page(index, false)` looks at a page without touching it (no fault-in, no
 * SIGBUS): the host bridge daemon syncs its backing files with it, as it does for guest-memory
 * files (docs/host-bridge-protocol.md "Guest memory").
 */
import { ErrnoError } from '../shared/errno.js';
import type { HostHypercalls } from '../hyp/host-api.js';
import type { KernelFile, MappingBackend, PinnedPages } from '../host/kernel-file.js';
import { walkHostAccess, type HostPageFile } from './host-page-walk.js';
import { PAGE_SIZE, type PageAllocator } from './page-allocator.js';

export interface AnonMemoryDeps {
  readonly pages: PageAllocator;
  readonly hyp: HostHypercalls;
}

/** One shmem file (what one anonymous shared mapping is backed by). */
export class AnonMemFile implements KernelFile {
  readonly name = '[anon_shmem]';
  readonly size: number;
  readonly #deps: AnonMemoryDeps;
  /** page index → physical address */
  readonly #pages = new Map<number, number>();
  /** physical address → pins held on it */
  readonly #pins = new Map<number, number>();
  #released = false;
  /** Host access through a mapping (host-page-walk.ts): nothing to add to the common walk. */
  readonly #walk: HostPageFile;

  constructor(deps: AnonMemoryDeps, size: number) {
    if (!Number.isSafeInteger(size) || size <= 0 || size % PAGE_SIZE !== 0) throw new ErrnoError('EINVAL', `shmem size ${size}`);
    this.#deps = deps;
    this.size = size;
    this.#walk = {
      noun: 'the anonymous mapping',
      pageCount: this.pageCount,
      faultIn: (index) => this.#page(index),
      deniedDetail: (index) => `page ${index} of the anonymous mapping is no longer the host's (lent to a VM)`,
    };
  }

  /** Pages in the file. */
  get pageCount(): number {
    return this.size / PAGE_SIZE;
  }

  /** Pages allocated now (for leak checks). */
  get allocatedPages(): number {
    return this.#pages.size;
  }

  /** Pins held now, over all pages. */
  get pinnedPages(): number {
    let n = 0;
    for (const c of this.#pins.values()) n += c;
    return n;
  }

  /**
   * The physical address of page `index`, without a host touch: no access check, no SIGBUS.
   * With `allocate`, a page never touched is allocated (zeroed) first; without, it is undefined
   * (it reads as zeros, and the host may touch it: a touch would allocate a host page). Whether
   * the host may access an allocated page is the hypervisor's to say (`probeMemory`); then it is
   * read and written at that address (`readMemory`, `writeMemory`). This is the same view a
   * GuestMemFile gives with `page(index, false)`, for the host bridge daemon's sync.
   * Undefined beyond the file, also with `allocate`. @throws ErrnoError ENOMEM when allocating
   */
  page(index: number, allocate: boolean): number | undefined {
    if (!Number.isInteger(index) || index < 0 || index >= this.pageCount) return undefined;
    return allocate ? this.#page(index) : this.#pages.get(index);
  }

  /** The page at `index`, allocated (zeroed) on first use. @throws ErrnoError ENOMEM */
  #page(index: number): number {
    let pa = this.#pages.get(index);
    if (pa === undefined) {
      pa = this.#deps.pages.alloc();
      this.#pages.set(index, pa);
    }
    return pa;
  }

  mmap(length: number, offset: number, addr: bigint): MappingBackend {
    if (offset % PAGE_SIZE !== 0 || offset + length > this.size) throw new ErrnoError('EINVAL', `shmem mapping [${offset}, ${offset + length}) beyond ${this.size}`);
    const file = this;
    const hyp = this.#deps.hyp;
    return {
      read(off, len) {
        const out = new Uint8Array(len);
        walkHostAccess(file.#walk, hyp, offset + off, len, 'read', addr + BigInt(off), (pa, at, n) => out.set(hyp.readMemory(pa, n), at));
        return out;
      },
      write(off, bytes) {
        walkHostAccess(file.#walk, hyp, offset + off, bytes.byteLength, 'write', addr + BigInt(off), (pa, at, n) => hyp.writeMemory(pa, bytes.subarray(at, at + n)));
      },
      unmap() {},
      pin(off, count, _write) {
        return file.#pin((offset + off) / PAGE_SIZE, count);
      },
    };
  }

  /** pin_user_pages: fault the pages in and take a reference on each. */
  #pin(first: number, count: number): PinnedPages {
    if (!Number.isInteger(first) || first < 0 || first + count > this.size / PAGE_SIZE) throw new ErrnoError('EFAULT', 'pin beyond the shmem file');
    const pas: number[] = [];
    try {
      for (let i = first; i < first + count; i++) pas.push(this.#page(i));
    } catch (err) {
      throw new ErrnoError('ENOMEM', 'no memory to fault the pages in', { cause: err });
    }
    for (const pa of pas) this.#pins.set(pa, (this.#pins.get(pa) ?? 0) + 1);
    let done = false;
    return {
      pas,
      unpin: () => {
        if (done) return;
        done = true;
        for (const pa of pas) this.#unpinPage(pa);
      },
    };
  }

  #unpinPage(pa: number): void {
    const c = (this.#pins.get(pa) ?? 0) - 1;
    if (c > 0) {
      this.#pins.set(pa, c);
      return;
    }
    this.#pins.delete(pa);
    if (this.#released) this.#freePage(pa);
  }

  /** Free a page unless a guest still holds it (a reclaim that failed): then it stays. */
  #freePage(pa: number): void {
    if (this.#deps.hyp.probeMemory(pa, PAGE_SIZE, 'write') === undefined) this.#deps.pages.free(pa);
  }

  /** The last mapping went: unpinned pages are freed now, pinned ones at their last unpin. */
  release(): void {
    this.#released = true;
    for (const pa of this.#pages.values()) if (!this.#pins.has(pa)) this.#freePage(pa);
    this.#pages.clear();
  }
}
