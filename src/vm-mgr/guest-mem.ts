/**
 * A guest-memory file (`GUNYAH_CREATE_GUEST_MEM`, anon inode "[gh-gmem]"): a fixed-size file
 * whose pages come from the host kernel's page allocator on first touch, that VMs bind ranges
 * of with MAP_MEM, that the host may mmap (MAP_SHARED) to read and write guest memory, and
 * whose holes can be punched.
 *
 * Reference: uapi.md §6.4 (the guest-memory fd's validation table: mmap, host faults,
 * fallocate incl. QUIRK K10 and K11), §6.2 MAP_MEM (one page backs one binding: the file range
 * may not overlap any other binding of the file, in any VM), §8.11 (host visibility: a lent
 * page the guest has touched cannot be read by the host; a host fault first tries to reclaim).
 */
import { ErrnoError, errnoNameOf } from '../shared/errno.js';
import type { HostHypercalls } from '../hyp/host-api.js';
import type { KernelFile, MappingBackend } from '../host/kernel-file.js';
import { walkHostAccess, type HostPageFile } from './host-page-walk.js';
import { PAGE_SIZE, type PageAllocator } from './page-allocator.js';
import type { KernelQuirks } from './vm-api.js';
import { FALLOC_FL_KEEP_SIZE, FALLOC_FL_PUNCH_HOLE, FALLOC_FL_ZERO_RANGE, GUNYAH_MEM_ACCESS_MASK, GUNYAH_MEM_FORCE_SHARE } from './uapi/constants.js';


/** What a binding's VM offers the file: reclaiming pages it provided to its guest. */
export interface BindingOwner {
  /**
   * Take the guest pages [gfn, gfn + count) back from the guest (those it was given).
   * @returns 0, or a negative errno when a page could not be reclaimed (it stays with the guest)
   */
  reclaimFrames(gfn: number, count: number): number;
}

/** A MAP_MEM binding: guest frames [gfn, gfn + pages) ↔ file pages [fileIndex, fileIndex + pages). */
export interface Binding {
  readonly owner: BindingOwner;
  readonly file: GuestMemFile;
  gfn: number;
  pages: number;
  fileIndex: number;
  /** Map flags without the UNMAP bit. */
  readonly flags: number;
}

export interface GuestMemDeps {
  readonly pages: PageAllocator;
  readonly hyp: HostHypercalls;
  readonly quirks: KernelQuirks;
}

export class GuestMemFile implements KernelFile {
  readonly name = '[gh-gmem]';
  readonly size: number;
  readonly flags: number;
  readonly bindings = new Set<Binding>();
  readonly #deps: GuestMemDeps;
  /** page index → physical address */
  readonly #pages = new Map<number, number>();
  /**
   * Live host mappings, as page-index ranges [start, end), each with the pages the host has
   * faulted in through it (its page-table entries). Only those count as "mapped by userspace"
   * (Linux's folio_mapped): a mapping the host has not touched a page through does not stop the
   * page from being lent (uapi.md §8.11, §6.4 host page fault → reclaim or SIGBUS).
   */
  readonly #mmaps = new Set<{ start: number; end: number; readonly faulted: Set<number> }>();
  #released = false;
  #freed = false;
  #leaked = 0;

  constructor(deps: GuestMemDeps, size: number, flags: number) {
    this.#deps = deps;
    this.size = size;
    this.flags = flags;
  }

  get pageCount(): number {
    return this.size / PAGE_SIZE;
  }

  /** Pages allocated now. */
  get allocatedPages(): number {
    return this.#pages.size;
  }

  /** The page at `index`, allocating it (zeroed) when `allocate`. @throws ErrnoError ENOMEM */
  page(index: number, allocate: boolean): number | undefined {
    let pa = this.#pages.get(index);
    if (pa === undefined && allocate) {
      pa = this.#deps.pages.alloc();
      this.#pages.set(index, pa);
    }
    return pa;
  }

  /** True when a live host mapping has page `index` faulted in (the host touched it through it). */
  hostMapped(index: number): boolean {
    for (const m of this.#mmaps) if (m.faulted.has(index)) return true;
    return false;
  }

  /** True when file pages [index, index + count) overlap any binding's range. */
  overlapsBinding(index: number, count: number): boolean {
    for (const b of this.bindings) if (index < b.fileIndex + b.pages && b.fileIndex < index + count) return true;
    return false;
  }

  /** Ask every binding covering file pages [index, index+count) to reclaim them. 0 or -errno. */
  reclaimFromGuests(index: number, count: number): number {
    let result = 0;
    for (const b of [...this.bindings]) {
      const lo = Math.max(index, b.fileIndex);
      const hi = Math.min(index + count, b.fileIndex + b.pages);
      if (lo >= hi) continue;
      const r = b.owner.reclaimFrames(b.gfn + (lo - b.fileIndex), hi - lo);
      if (r < 0 && result === 0) result = r;
    }
    return result;
  }

  mmap(length: number, offset: number, addr: bigint): MappingBackend {
    const start = Math.floor(offset / PAGE_SIZE);
    const end = Math.ceil((offset + length) / PAGE_SIZE);
    // The overlapping range is reclaimed from the guest first (uapi.md §6.4). QUIRK K11: the
    // kernel computes the end with max instead of min, so the rest of each binding goes too.
    for (const b of this.bindings) {
      const lo = Math.max(start, b.fileIndex);
      const bEnd = b.fileIndex + b.pages;
      const hi = this.#deps.quirks.k11MmapReclaimMax ? Math.max(end, bEnd) : Math.min(end, bEnd);
      if (lo >= Math.min(end, bEnd)) continue;
      if (!isLend(b.flags)) continue;
      const r = b.owner.reclaimFrames(b.gfn + (lo - b.fileIndex), hi - lo);
      if (r < 0) throw new ErrnoError(errnoNameOf(-r) ?? 'EINVAL', 'mmap: reclaiming lent pages from the guest failed');
    }
    const range = { start, end, faulted: new Set<number>() };
    this.#mmaps.add(range);
    const hyp = this.#deps.hyp;
    // Host access through this mapping (host-page-walk.ts), with what guest memory adds: a page
    // with a guest is first reclaimed from every binding, and a touched page is recorded in the
    // mapping's page-table entries (`faulted`).
    const pages: HostPageFile = {
      noun: 'the guest-memory file',
      pageCount: this.pageCount,
      faultIn: (index) => this.page(index, true)!,
      deniedDetail: (index) => `page ${index} of the guest-memory file is owned by a guest`,
      reclaim: (index) => void this.reclaimFromGuests(index, 1),
      touched: (index) => range.faulted.add(index),
    };
    return {
      read(off, len) {
        const out = new Uint8Array(len);
        walkHostAccess(pages, hyp, offset + off, len, 'read', addr + BigInt(off), (pa, at, n) => out.set(hyp.readMemory(pa, n), at));
        return out;
      },
      write(off, bytes) {
        walkHostAccess(pages, hyp, offset + off, bytes.length, 'write', addr + BigInt(off), (pa, at, n) => hyp.writeMemory(pa, bytes.subarray(at, at + n)));
      },
      unmap: () => {
        this.#mmaps.delete(range);
      },
    };
  }

  fallocate(mode: number, offset: number, length: number): void {
    if (!(mode & FALLOC_FL_KEEP_SIZE)) throw new ErrnoError('EOPNOTSUPP', 'fallocate without FALLOC_FL_KEEP_SIZE');
    if (mode & ~(FALLOC_FL_KEEP_SIZE | FALLOC_FL_PUNCH_HOLE | FALLOC_FL_ZERO_RANGE)) throw new ErrnoError('EOPNOTSUPP', `fallocate mode 0x${mode.toString(16)}`);
    if (offset % PAGE_SIZE !== 0 || length % PAGE_SIZE !== 0 || offset < 0 || length < 0) throw new ErrnoError('EINVAL', 'offset or length not page aligned');
    if (mode & FALLOC_FL_PUNCH_HOLE) {
      // QUIRK K10: the byte range is used as a page-index range.
      const start = this.#deps.quirks.k10PunchHoleUnits ? offset : offset / PAGE_SIZE;
      const end = Math.min(this.pageCount, this.#deps.quirks.k10PunchHoleUnits ? offset + length : (offset + length) / PAGE_SIZE);
      for (let i = start; i < end; i++) {
        const pa = this.#pages.get(i);
        if (pa === undefined) continue;
        if (this.reclaimFromGuests(i, 1) < 0 || this.#deps.hyp.probeMemory(pa, PAGE_SIZE, 'write') !== undefined) {
          throw new ErrnoError('EBUSY', `page ${i} cannot be reclaimed from the guest`);
        }
        this.#pages.delete(i);
        this.#deps.pages.free(pa);
      }
      return;
    }
    if (offset + length > this.size) throw new ErrnoError('EINVAL', 'range beyond the file size');
    for (let i = offset / PAGE_SIZE; i < (offset + length) / PAGE_SIZE; i++) this.page(i, true);
  }

  /** The last fd and mapping went away; pages are freed once no binding holds the file. */
  release(): void {
    this.#released = true;
    this.#maybeFree();
  }

  /** A binding was dropped (MAP_MEM UNMAP or VM teardown). */
  unbind(b: Binding): void {
    this.bindings.delete(b);
    this.#maybeFree();
  }

  /** A reference nobody will drop (QUIRK K17): the file's pages stay allocated for good. */
  leakReference(): void {
    this.#leaked++;
  }

  #maybeFree(): void {
    if (!this.#released || this.bindings.size > 0 || this.#freed || this.#leaked > 0) return;
    this.#freed = true;
    for (const pa of this.#pages.values()) {
      // A page still with a guest cannot be freed (reclaim failed during teardown): leave it.
      if (this.#deps.hyp.probeMemory(pa, PAGE_SIZE, 'write') === undefined) this.#deps.pages.free(pa);
    }
    this.#pages.clear();
  }
}

/** Access field of MAP_MEM flags: 0 (default) and 1 are lend, 2 is share (uapi.md §4). */
export function isLend(flags: number): boolean {
  return (flags & GUNYAH_MEM_ACCESS_MASK) !== GUNYAH_MEM_FORCE_SHARE;
}
