/**
 * The ordered index of the memdb's runs: a `sorted-btree` keyed by PA whose values are chunks of
 * up to CHUNK_MAX consecutive runs (their starts in a sorted array), rather than single runs.
 *
 * Reference: none upstream; this is a performance device of the memory model (hypervisor.md §8
 * asks only for correct ownership). Why chunks: a memdb with ~10^5 runs scattered over 64 GiB is
 * searched and edited at random places. With one tree entry per run, every split and merge is a
 * full B+ tree insert or delete (~0.4–0.5 µs each here). With chunks the tree holds ~n/256 entries
 * (it stays in cache), a search is that small tree plus a binary search in one chunk, and an
 * insert or delete next to a known run is a short array splice; the tree changes only when a
 * chunk splits, empties, merges or changes its first run.
 *
 *   tree: start(chunk0) ─▶ chunk0 { starts [s0 s1 … s255], runs [r0 r1 … r255] }
 *         start(chunk1) ─▶ chunk1 { … }            every run points back at its chunk
 *
 * INVARIANT: chunks hold runs in PA order, are never empty, are keyed by their first start, and
 * every run of chunk i starts before every run of chunk i+1.
 */
import { BTree } from './btree.js';

/** Split a chunk above this many runs (into two halves). */
const CHUNK_MAX = 512;
/** Merge a chunk below this many runs into a neighbour when the two fit in one. */
const CHUNK_MIN = 64;

/** What the index needs of an item: a fixed start and a back pointer it maintains. */
export interface Indexed<T extends Indexed<T>> {
  readonly start: number;
  chunk: Chunk<T> | undefined;
}

/** A chunk of consecutive items. */
export interface Chunk<T> {
  readonly starts: number[];
  readonly items: T[];
}

/** Index of the last element of sorted `a` that is ≤ `k` (-1 when none). */
function lastAtOrBelow(a: readonly number[], k: number): number {
  let lo = 0;
  let hi = a.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (a[mid]! <= k) lo = mid + 1;
    else hi = mid;
  }
  return lo - 1;
}

/** An ordered set of items keyed by their (unique, immutable) start. */
export class RunIndex<T extends Indexed<T>> {
  readonly #tree = new BTree<number, Chunk<T>>();
  readonly #pair: [number, Chunk<T>] = [0, undefined as unknown as Chunk<T>];
  #size = 0;

  get size(): number {
    return this.#size;
  }

  /** Number of chunks (for stats and checks). */
  get chunks(): number {
    return this.#tree.size;
  }

  /** The item with the greatest start ≤ `k`. O(log n). */
  atOrBelow(k: number): T | undefined {
    const p = this.#tree.getPairOrNextLower(k, this.#pair);
    if (p === undefined) return undefined;
    const c = p[1];
    return c.items[lastAtOrBelow(c.starts, k)];
  }

  /**
   * Add `item` right after `after` in order (`after` undefined: `item` becomes the first, and
   * `next` is the current first item or undefined). The caller guarantees the order.
   */
  insertAfter(after: T | undefined, next: T | undefined, item: T): void {
    this.#size++;
    if (after !== undefined) {
      const c = after.chunk!;
      const i = lastAtOrBelow(c.starts, after.start) + 1;
      c.starts.splice(i, 0, item.start);
      c.items.splice(i, 0, item);
      item.chunk = c;
      if (c.starts.length > CHUNK_MAX) this.#split(c);
    } else if (next !== undefined) {
      const c = next.chunk!;
      this.#tree.delete(c.starts[0]!);
      c.starts.unshift(item.start);
      c.items.unshift(item);
      item.chunk = c;
      this.#tree.set(item.start, c);
      if (c.starts.length > CHUNK_MAX) this.#split(c);
    } else {
      const c: Chunk<T> = { starts: [item.start], items: [item] };
      item.chunk = c;
      this.#tree.set(item.start, c);
    }
  }

  /** Remove `item` (which must be in the index). */
  remove(item: T): void {
    const c = item.chunk!;
    const i = lastAtOrBelow(c.starts, item.start);
    c.starts.splice(i, 1);
    c.items.splice(i, 1);
    item.chunk = undefined;
    this.#size--;
    if (i === 0) {
      this.#tree.delete(item.start);
      if (c.starts.length === 0) return;
      this.#tree.set(c.starts[0]!, c);
    }
    if (c.starts.length < CHUNK_MIN) this.#mergeSmall(c);
  }

  /** Every item, in order. */
  *[Symbol.iterator](): IterableIterator<T> {
    for (const c of this.#tree.values()) yield* c.items;
  }

  /** Chunk structure checks (see INVARIANT above). */
  check(): string[] {
    const errs: string[] = [];
    let prevEnd = -Infinity;
    let n = 0;
    for (const [key, c] of this.#tree.entries()) {
      if (c.starts.length === 0) errs.push('run index: empty chunk');
      if (c.starts.length !== c.items.length) errs.push('run index: chunk arrays out of step');
      if (c.starts.length > CHUNK_MAX) errs.push('run index: oversized chunk');
      if (key !== c.starts[0]) errs.push(`run index: chunk keyed at ${key}, starts at ${c.starts[0]}`);
      for (let i = 0; i < c.items.length; i++) {
        const it = c.items[i]!;
        if (it.start !== c.starts[i]) errs.push(`run index: item ${it.start} listed at ${c.starts[i]}`);
        if (it.chunk !== c) errs.push(`run index: item ${it.start} points at another chunk`);
        if (!(it.start > prevEnd)) errs.push(`run index: item ${it.start} out of order`);
        prevEnd = it.start;
        n++;
      }
    }
    if (n !== this.#size) errs.push(`run index: ${n} items, size says ${this.#size}`);
    return errs;
  }

  #split(c: Chunk<T>): void {
    const h = c.starts.length >>> 1;
    const d: Chunk<T> = { starts: c.starts.splice(h), items: c.items.splice(h) };
    for (const it of d.items) it.chunk = d;
    this.#tree.set(d.starts[0]!, d);
  }

  /** Fold a small chunk into a neighbour when both fit in one chunk. */
  #mergeSmall(c: Chunk<T>): void {
    const right = this.#tree.nextHigherPair(c.starts[0]!);
    if (right !== undefined && right[1].starts.length + c.starts.length <= CHUNK_MAX) {
      this.#absorb(c, right[1]);
      return;
    }
    const left = this.#tree.nextLowerPair(c.starts[0]!);
    if (left !== undefined && left[1].starts.length + c.starts.length <= CHUNK_MAX) this.#absorb(left[1], c);
  }

  /** Append chunk `b` (which follows `a`) to `a` and drop `b`. */
  #absorb(a: Chunk<T>, b: Chunk<T>): void {
    this.#tree.delete(b.starts[0]!);
    for (const it of b.items) it.chunk = a;
    a.starts.push(...b.starts);
    a.items.push(...b.items);
  }
}
