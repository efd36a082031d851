/**
 * The host kernel's page allocator for guest memory: 4 KiB physical pages of the host's RAM,
 * handed out to guest-memory files as their folios and taken back when a hole is punched or
 * the file goes away. Freed pages are discarded (their contents read as zero again) before
 * reuse, as the kernel zeroes pages it hands to userspace.
 *
 * Reference: uapi.md §6.4 (pages are allocated on first touch and zero-filled; 4 KiB folios
 * in this model, see docs/decisions.md), §8.11 (demand paging allocates through the file).
 */
import { ErrnoError } from '../shared/errno.js';

export const PAGE_SIZE = 4096;

export interface PageAllocatorOptions {
  /** First physical address of the pool (page aligned). */
  readonly base: number;
  /** Pool size in bytes (page multiple). */
  readonly size: number;
  /** Drop the contents of a freed page (the hypervisor's memory, through the host's view). */
  readonly discard: (pa: number, size: number) => void;
}

export class PageAllocator {
  readonly #base: number;
  readonly #end: number;
  #next: number;
  readonly #free: number[] = [];
  readonly #discard: (pa: number, size: number) => void;
  #inUse = 0;

  constructor(opts: PageAllocatorOptions) {
    this.#base = opts.base;
    this.#end = opts.base + opts.size;
    this.#next = opts.base;
    this.#discard = opts.discard;
  }

  /** One zeroed page. @throws ErrnoError ENOMEM when the pool is exhausted. */
  alloc(): number {
    let pa = this.#free.pop();
    if (pa === undefined) {
      if (this.#next >= this.#end) throw new ErrnoError('ENOMEM', 'guest-memory page pool exhausted');
      pa = this.#next;
      this.#next += PAGE_SIZE;
    }
    this.#inUse++;
    return pa;
  }

  free(pa: number): void {
    if (pa < this.#base || pa >= this.#next || pa % PAGE_SIZE !== 0) throw new Error(`bad page 0x${pa.toString(16)}`);
    this.#discard(pa, PAGE_SIZE);
    this.#free.push(pa);
    this.#inUse--;
  }

  /** Pages currently handed out. */
  get inUse(): number {
    return this.#inUse;
  }

  /** True when `pa` lies in the pool. */
  owns(pa: number): boolean {
    return pa >= this.#base && pa < this.#end;
  }
}
