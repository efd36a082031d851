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
  /**
   * Scratch for `readLe`/`writeLe`: 8 bytes with their own ArrayBuffer, so the DataView over
   * them is made once (a value goes through it instead of a byte-by-byte bigint conversion).
   */
  readonly #le = new DataView(new ArrayBuffer(8));
  readonly #leBytes = new Uint8Array(this.#le.buffer);
  /**
   * The page looked up last (`#lastPn` −1: none): accesses come in runs on one page (a ring,
   * a stack), and this saves the map look-up. Every store and removal of a page goes through
   * `#set`/`#delete`, which keep it right.
   */
  #lastPn = -1;
  #lastPage: Uint8Array | undefined = undefined;

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
      const page = this.#get(pn);
      if (page === undefined) out.fill(0, outOff, outOff + n);
      else if (n <= SMALL_COPY) for (let i = 0; i < n; i++) out[outOff + i] = page[off + i]!;
      else out.set(page.subarray(off, off + n), outOff);
      pa += n;
      outOff += n;
      len -= n;
    }
  }

  /**
   * The `len` (0..8) bytes at `pa` as a little-endian unsigned value (unwritten bytes read as
   * zero); `read` of those bytes, without allocating them.
   */
  readLe(pa: number, len: number): bigint {
    const pn = Math.floor(pa / PAGE_SIZE);
    const off = pa - pn * PAGE_SIZE;
    if (len <= 4 && off + len <= PAGE_SIZE) {
      const page = this.#get(pn);
      if (page === undefined) return 0n;
      let v = 0;
      for (let i = len - 1; i >= 0; i--) v = v * 256 + page[off + i]!;
      return BigInt(v);
    }
    const s = this.#leBytes;
    this.read(pa, s, 0, len);
    for (let i = len; i < 8; i++) s[i] = 0;
    return this.#le.getBigUint64(0, true);
  }

  /**
   * Store the low `len` (0..8) bytes of `value` (taken modulo 2^64), little-endian, at `pa`:
   * `write` of those bytes (the same rules for unwritten pages).
   */
  writeLe(pa: number, len: number, value: bigint): void {
    this.#le.setBigUint64(0, value, true);
    this.write(pa, this.#leBytes, 0, len);
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
      let page = this.#get(pn);
      if (page === undefined || n === PAGE_SIZE) {
        if (allZero(src, srcOff, n)) {
          if (page !== undefined) this.#delete(pn);
          pa += n;
          srcOff += n;
          len -= n;
          continue;
        }
        if (page === undefined) this.#set(pn, (page = new Uint8Array(PAGE_SIZE)));
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
      for (let pn = first; pn < end; pn++) this.#delete(pn);
    } else {
      for (const pn of this.#pages.keys()) if (pn >= first && pn < end) this.#delete(pn);
    }
  }

  /** Page `pn`, or undefined when it holds no data. */
  #get(pn: number): Uint8Array | undefined {
    if (pn === this.#lastPn) return this.#lastPage;
    const page = this.#pages.get(pn);
    this.#lastPn = pn;
    this.#lastPage = page;
    return page;
  }

  #set(pn: number, page: Uint8Array): void {
    this.#pages.set(pn, page);
    if (pn === this.#lastPn) this.#lastPage = page;
  }

  #delete(pn: number): void {
    this.#pages.delete(pn);
    if (pn === this.#lastPn) this.#lastPage = undefined;
  }
}

function allZero(b: Uint8Array, off: number, n: number): boolean {
  for (let i = 0; i < n; i++) if (b[off + i] !== 0) return false;
  return true;
}
