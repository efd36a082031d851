/**
 * The bytes of physical memory: 4 KiB pages stored sparsely by PA page number, created on the
 * first write of a non-zero byte. Memory never written reads as zero, so a 64 GiB VM costs
 * nothing until it is touched.
 *
 * Reference: hypervisor.md §8 (memextent_modify ZERO_RANGE). This file knows nothing of owners,
 * mappings or RAM bounds: callers check those first.
 */
import { PAGE_SIZE } from './api.js';

/** Below this many bytes, a copy loop beats creating a subarray view. */
const SMALL_COPY = 32;

/** Sparse page store. Addresses are byte PAs below 2^52. */
export class PageStore {
  readonly #pages = new Map<number, Uint8Array>();

  /** Number of pages holding data. */
  get size(): number {
    return this.#pages.size;
  }

  /** Page numbers holding data (any order). */
  pageNumbers(): IterableIterator<number> {
    return this.#pages.keys();
  }

  /** Copy `len` bytes at `pa` into `out[outOff..]` (unwritten bytes read as zero). */
  read(pa: number, out: Uint8Array, outOff: number, len: number): void {
    while (len > 0) {
      const pn = Math.floor(pa / PAGE_SIZE);
      const off = pa - pn * PAGE_SIZE;
      const n = Math.min(len, PAGE_SIZE - off);
      const page = this.#pages.get(pn);
      if (page === undefined) out.fill(0, outOff, outOff + n);
      else if (n <= SMALL_COPY) for (let i = 0; i < n; i++) out[outOff + i] = page[off + i]!;
      else out.set(page.subarray(off, off + n), outOff);
      pa += n;
      outOff += n;
      len -= n;
    }
  }

  /**
   * Copy `len` bytes of `src[srcOff..]` to `pa`. Writing zeros to an unwritten page stores
   * nothing, and a whole-page write of zeros drops the page.
   */
  write(pa: number, src: Uint8Array, srcOff: number, len: number): void {
    while (len > 0) {
      const pn = Math.floor(pa / PAGE_SIZE);
      const off = pa - pn * PAGE_SIZE;
      const n = Math.min(len, PAGE_SIZE - off);
      let page = this.#pages.get(pn);
      if (page === undefined || n === PAGE_SIZE) {
        if (allZero(src, srcOff, n)) {
          if (page !== undefined) this.#pages.delete(pn);
          pa += n;
          srcOff += n;
          len -= n;
          continue;
        }
        if (page === undefined) this.#pages.set(pn, (page = new Uint8Array(PAGE_SIZE)));
      }
      if (n <= SMALL_COPY) for (let i = 0; i < n; i++) page[off + i] = src[srcOff + i]!;
      else page.set(src.subarray(srcOff, srcOff + n), off);
      pa += n;
      srcOff += n;
      len -= n;
    }
  }

  /**
   * Zero `[pa, pa+size)`, both page aligned, by dropping its pages. Costs
   * O(min(pages in the range, pages stored)), so zeroing 64 GiB of untouched memory is cheap.
   */
  zero(pa: number, size: number): void {
    const first = pa / PAGE_SIZE;
    const end = first + size / PAGE_SIZE;
    if (end - first <= this.#pages.size) {
      for (let pn = first; pn < end; pn++) this.#pages.delete(pn);
    } else {
      for (const pn of this.#pages.keys()) if (pn >= first && pn < end) this.#pages.delete(pn);
    }
  }
}

function allZero(b: Uint8Array, off: number, n: number): boolean {
  for (let i = 0; i < n; i++) if (b[off + i] !== 0) return false;
  return true;
}
