/**
 * The memory database (memdb): which extent owns each byte of physical memory, kept as maximal
 * runs `[start, end) → owner`, never per page.
 *
 * Reference: hypervisor.md §8 (memextent_donate moves a range between extents; ERROR_MEMDB_NOT_OWNER
 * when the source does not own all of it). This file knows nothing of address spaces or content.
 *
 * INVARIANT: runs are non-empty, sorted, non-overlapping, and two touching runs never have the
 * same owner (they are merged). Hence "owner X owns all of [a, b)" holds exactly when a single
 * run of X contains [a, b): a donate finds one run and changes at most three, in O(log n)
 * whatever its size, and the bookkeeping grows with ownership changes, not with pages.
 *
 * Layout. A `sorted-btree` keyed by PA indexes chunks; a chunk packs up to CHUNK_MAX consecutive
 * runs into one Float64Array, three words a run:
 *
 *   B+ tree: PA of its first run ─▶ chunk ──next──▶ chunk ──next──▶ …   (chunks also linked)
 *   chunk.d: [ start0 end0 owner0 | start1 end1 owner1 | … ]  (owner = the owner's numeric id)
 *
 * Why not one tree entry and one object per run: a memdb of 10^5 runs scattered over 64 GiB is
 * edited at random places, and per-run objects, their links and B+ tree inserts/deletes cost
 * cache misses and garbage on every split and merge. Here a search is one look-up in a small,
 * cache-resident tree plus a binary search in one chunk, and a split or merge is a `copyWithin`
 * inside that chunk; the tree changes only when a chunk splits, empties, merges with a
 * neighbour, or its first run changes.
 */
import { BTree } from './btree.js';

/** What the memdb needs of an owner: a small non-negative integer id, and counters it keeps. */
export interface RunOwner {
  /** Unique among owners; used as an array index. */
  readonly id: number;
  /** Bytes owned (kept by the memdb). */
  bytes: number;
  /** Runs owned (kept by the memdb). */
  runCount: number;
}

/** A run as returned by `find`: a view the memdb reuses, valid until its next call. */
export interface RunView<O> {
  readonly start: number;
  readonly end: number;
  readonly owner: O;
}

/** Words per run in a chunk: start, end, owner id. */
const W = 3;
/** Split a chunk above this many runs. */
const CHUNK_MAX = 256;
/** Fold a chunk below this many runs into a neighbour that has room. */
const CHUNK_MIN = 32;
/** An edit inserts at most two runs before the chunk is settled. */
const CHUNK_CAP = CHUNK_MAX + 2;

interface Chunk {
  readonly d: Float64Array;
  n: number;
  prev: Chunk | undefined;
  next: Chunk | undefined;
  live: boolean;
}

function newChunk(): Chunk {
  return { d: new Float64Array(CHUNK_CAP * W), n: 0, prev: undefined, next: undefined, live: true };
}

/** Index of the last run of `c` whose start is ≤ `k` (-1 when none). */
function lastAtOrBelow(c: Chunk, k: number): number {
  const d = c.d;
  let lo = 0;
  let hi = c.n;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (d[mid * W]! <= k) lo = mid + 1;
    else hi = mid;
  }
  return lo - 1;
}

/** Ownership of physical memory. Ranges are byte ranges `[a, b)` with a < b; callers check alignment. */
export class MemDb<O extends RunOwner> {
  readonly #tree = new BTree<number, Chunk>();
  readonly #pair: [number, Chunk] = [0, undefined as unknown as Chunk];
  #first: Chunk | undefined = undefined;
  #runs = 0;
  /** Owners by id (each one registered when it first receives memory). */
  readonly #byId: Array<O | undefined> = [];
  /** Position found by #locate. */
  #c: Chunk | undefined = undefined;
  #i = 0;
  readonly #view: { start: number; end: number; owner: O } = { start: 0, end: 0, owner: undefined as unknown as O };

  /** Number of runs. */
  get size(): number {
    return this.#runs;
  }

  /** Number of chunks (for stats). */
  get chunks(): number {
    return this.#tree.size;
  }

  /** The run containing byte `pa`, or undefined when nobody owns it. O(log n). */
  find(pa: number): RunView<O> | undefined {
    // Finger: the last position looked up. Whatever run sits there now, if it contains `pa` it
    // is the answer (runs never overlap), so edits since then cannot make this stale.
    const c = this.#c;
    let j = this.#i * W;
    let d: Float64Array;
    if (c !== undefined && c.live && this.#i < c.n && c.d[j]! <= pa && pa < c.d[j + 1]!) d = c.d;
    else {
      const l = this.#locate(pa);
      if (l === undefined) return undefined;
      d = l.d;
      j = this.#i * W;
      if (d[j + 1]! <= pa) return undefined;
    }
    const v = this.#view;
    v.start = d[j]!;
    v.end = d[j + 1]!;
    v.owner = this.#byId[d[j + 2]! | 0]!;
    return v;
  }

  /** Call `visit` with each run overlapping `[a, b)`, in PA order (bounds not clipped). */
  forEachIn(a: number, b: number, visit: (start: number, end: number, owner: O) => void): void {
    let c = this.#locate(a);
    let i: number;
    if (c !== undefined) {
      i = c.d[this.#i * W + 1]! > a ? this.#i : this.#i + 1;
    } else {
      c = this.#first;
      i = 0;
    }
    for (; c !== undefined; c = c.next, i = 0) {
      const d = c.d;
      for (; i < c.n; i++) {
        if (d[i * W]! >= b) return;
        visit(d[i * W]!, d[i * W + 1]!, this.#byId[d[i * W + 2]! | 0]!);
      }
    }
  }

  /** True when every byte of `[a, b)` is owned by someone (is RAM). */
  covers(a: number, b: number): boolean {
    let c = this.#locate(a);
    if (c === undefined) return false;
    let i = this.#i;
    let end = c.d[i * W + 1]!;
    if (end <= a) return false;
    while (end < b) {
      if (++i >= c.n) {
        c = c.next;
        i = 0;
        if (c === undefined) return false;
      }
      if (c.d[i * W]! !== end) return false;
      end = c.d[i * W + 1]!;
    }
    return true;
  }

  /** The runs of `owner`, in PA order. A scan of the packed runs: O(n), about 1 ns a run. */
  runsOf(owner: O): Array<{ start: number; end: number }> {
    const out: Array<{ start: number; end: number }> = [];
    if (owner.runCount === 0) return out;
    const id = owner.id;
    for (let c = this.#first; c !== undefined; c = c.next) {
      const d = c.d;
      for (let j = 0; j < c.n * W; j += W) if (d[j + 2] === id) out.push({ start: d[j]!, end: d[j + 1]! });
    }
    return out;
  }

  /**
   * Add `[a, b)`, owned by nobody yet, to `owner`.
   * @returns false (and changes nothing) when part of it is already owned.
   */
  add(owner: O, a: number, b: number): boolean {
    this.#register(owner);
    let c = this.#locate(b - 1);
    let i: number;
    if (c !== undefined) {
      i = this.#i;
      if (c.d[i * W + 1]! > a) return false;
      // The run at i starts before b and ends by a: the new run goes right after it.
      i++;
    } else if (this.#first !== undefined) {
      c = this.#first;
      i = 0;
    } else {
      c = newChunk();
      this.#first = c;
      this.#tree.set(a, c);
      i = 0;
    }
    this.#insert(c, i, a, b, owner.id);
    const next = c.next;
    this.#mergeAt(c, i);
    this.#settle(c);
    if (next !== undefined) this.#settle(next);
    return true;
  }

  /**
   * Move `[a, b)` from `from` to `to`, splitting the run that holds it into at most three and
   * merging the moved piece with touching runs of `to`. O(log n).
   * @returns false (and changes nothing) unless `from` owns every byte of `[a, b)`.
   */
  donate(from: O, to: O, a: number, b: number): boolean {
    const c = this.#locate(a);
    if (c === undefined) return false;
    const i = this.#i;
    const d = c.d;
    const s = d[i * W]!;
    const t = d[i * W + 1]!;
    if (d[i * W + 2] !== from.id || t < b) return false;
    if (from === to) return true;
    this.#register(to);
    if (a === s && b === t) {
      this.#setOwner(c, i, from, to);
      this.#mergeAt(c, i);
    } else if (a === s) {
      this.#setEnd(c, i, from, b);
      this.#setOwner(c, i, from, to);
      this.#insert(c, i + 1, b, t, from.id);
      this.#mergeAt(c, i);
    } else if (b === t) {
      this.#setEnd(c, i, from, a);
      this.#insert(c, i + 1, a, t, to.id);
      this.#mergeAt(c, i + 1);
    } else {
      this.#setEnd(c, i, from, a);
      this.#insert(c, i + 1, a, b, to.id);
      this.#insert(c, i + 2, b, t, from.id);
    }
    const next = c.next;
    this.#settle(c);
    if (next !== undefined) this.#settle(next);
    return true;
  }

  /** Drop a destroyed owner (which must own nothing) from the id table. */
  forget(owner: O): void {
    if (this.#byId[owner.id] === owner) this.#byId[owner.id] = undefined;
  }

  /**
   * Consistency of the index, the chunks, the runs and the owners' counters. `owners` are all
   * live owners; `ownerOk` vets the owner of each run.
   */
  check(owners: Iterable<O>, ownerOk: (o: O) => string | undefined): string[] {
    const errs: string[] = [];
    const sums = new Map<number, { o: O; bytes: number; runs: number }>();
    for (const o of owners) sums.set(o.id, { o, bytes: 0, runs: 0 });
    let listed = this.#first;
    let prevChunk: Chunk | undefined;
    let prevEnd = -1;
    let prevOwner = -1;
    let runs = 0;
    for (const [key, c] of this.#tree.entries()) {
      if (listed !== c) errs.push('memdb: chunk list out of step with the index');
      if (c.prev !== prevChunk) errs.push('memdb: bad chunk prev link');
      if (!c.live) errs.push('memdb: dead chunk in the index');
      if (c.n < 1 || c.n > CHUNK_MAX) errs.push(`memdb: chunk of ${c.n} runs`);
      if (c.d[0] !== key) errs.push(`memdb: chunk keyed at 0x${key.toString(16)}, starts at 0x${c.d[0]!.toString(16)}`);
      for (let j = 0; j < c.n * W; j += W) {
        const s = c.d[j]!;
        const e = c.d[j + 1]!;
        const id = c.d[j + 2]! | 0;
        runs++;
        const at = `memdb run [0x${s.toString(16)}, 0x${e.toString(16)})`;
        if (!(e > s)) errs.push(`${at}: empty`);
        if (s < prevEnd) errs.push(`${at}: overlaps the run before`);
        if (s === prevEnd && id === prevOwner) errs.push(`${at}: not merged with the run before`);
        const sum = sums.get(id);
        if (sum === undefined || this.#byId[id] !== sum.o) errs.push(`${at}: owner ${id} is not live`);
        else {
          const bad = ownerOk(sum.o);
          if (bad !== undefined) errs.push(`${at}: ${bad}`);
          sum.bytes += e - s;
          sum.runs++;
        }
        prevEnd = e;
        prevOwner = id;
      }
      prevChunk = c;
      listed = c.next;
    }
    if (listed !== undefined) errs.push('memdb: chunk list longer than the index');
    if (runs !== this.#runs) errs.push(`memdb: ${runs} runs, count says ${this.#runs}`);
    for (const { o, bytes, runs: n } of sums.values()) {
      if (o.bytes !== bytes) errs.push(`memdb: owner ${o.id} byte count ${o.bytes}, runs sum to ${bytes}`);
      if (o.runCount !== n) errs.push(`memdb: owner ${o.id} run count ${o.runCount}, memdb has ${n}`);
    }
    return errs;
  }

  // ---- positions and primitive edits (each keeps the counters in step) ----

  /** Find the run with the greatest start ≤ `k`: its chunk (also in #c) and index (#i). */
  #locate(k: number): Chunk | undefined {
    const p = this.#tree.getPairOrNextLower(k, this.#pair);
    if (p === undefined) return undefined;
    this.#c = p[1];
    this.#i = lastAtOrBelow(p[1], k);
    return p[1];
  }

  #register(o: O): void {
    this.#byId[o.id] = o;
  }

  #insert(c: Chunk, i: number, s: number, e: number, id: number): void {
    const d = c.d;
    const oldKey = d[0]!;
    d.copyWithin((i + 1) * W, i * W, c.n * W);
    d[i * W] = s;
    d[i * W + 1] = e;
    d[i * W + 2] = id;
    c.n++;
    this.#runs++;
    const o = this.#byId[id | 0]!;
    o.bytes += e - s;
    o.runCount++;
    if (i === 0 && c.n > 1) this.#rekey(c, oldKey);
  }

  #delete(c: Chunk, i: number): void {
    const d = c.d;
    const oldKey = d[0]!;
    const o = this.#byId[d[i * W + 2]! | 0]!;
    o.bytes -= d[i * W + 1]! - d[i * W]!;
    o.runCount--;
    d.copyWithin(i * W, (i + 1) * W, c.n * W);
    c.n--;
    this.#runs--;
    if (c.n === 0) this.#unlinkChunk(c, oldKey);
    else if (i === 0) this.#rekey(c, oldKey);
  }

  #setEnd(c: Chunk, i: number, owner: O, e: number): void {
    owner.bytes += e - c.d[i * W + 1]!;
    c.d[i * W + 1] = e;
  }

  #setOwner(c: Chunk, i: number, from: O, to: O): void {
    const size = c.d[i * W + 1]! - c.d[i * W]!;
    from.bytes -= size;
    from.runCount--;
    to.bytes += size;
    to.runCount++;
    c.d[i * W + 2] = to.id;
  }

  /** Merge the run at (c, i) with touching runs of the same owner. */
  #mergeAt(c: Chunk, i: number): void {
    const d = c.d;
    const s = d[i * W]!;
    const id = d[i * W + 2]!;
    const o = this.#byId[id | 0]!;
    let pc: Chunk | undefined = c;
    let pi = i - 1;
    if (pi < 0) {
      pc = c.prev;
      pi = pc === undefined ? -1 : pc.n - 1;
    }
    if (pc !== undefined && pc.d[pi * W + 1] === s && pc.d[pi * W + 2] === id) {
      const e = d[i * W + 1]!;
      this.#delete(c, i);
      this.#setEnd(pc, pi, o, e);
      c = pc;
      i = pi;
    }
    const end = c.d[i * W + 1]!;
    let nc: Chunk | undefined = c;
    let ni = i + 1;
    if (ni >= c.n) {
      nc = c.next;
      ni = 0;
    }
    if (nc !== undefined && nc.d[ni * W] === end && nc.d[ni * W + 2] === id) {
      const e = nc.d[ni * W + 1]!;
      this.#delete(nc, ni);
      this.#setEnd(c, i, o, e);
    }
  }

  #rekey(c: Chunk, oldKey: number): void {
    this.#tree.delete(oldKey);
    this.#tree.set(c.d[0]!, c);
  }

  #unlinkChunk(c: Chunk, key: number): void {
    this.#tree.delete(key);
    if (c.prev === undefined) this.#first = c.next;
    else c.prev.next = c.next;
    if (c.next !== undefined) c.next.prev = c.prev;
    c.live = false;
  }

  /** Restore the chunk size bounds after an edit: split a full chunk, fold a small one. */
  #settle(c: Chunk): void {
    if (!c.live) return;
    if (c.n > CHUNK_MAX) {
      const h = c.n >>> 1;
      const x = newChunk();
      x.d.set(c.d.subarray(h * W, c.n * W));
      x.n = c.n - h;
      c.n = h;
      x.prev = c;
      x.next = c.next;
      if (c.next !== undefined) c.next.prev = x;
      c.next = x;
      this.#tree.set(x.d[0]!, x);
    } else if (c.n < CHUNK_MIN) {
      if (c.next !== undefined && c.n + c.next.n <= CHUNK_MAX) this.#absorb(c, c.next);
      else if (c.prev !== undefined && c.prev.n + c.n <= CHUNK_MAX) this.#absorb(c.prev, c);
    }
  }

  /** Append the runs of `b` (the chunk after `a`) to `a`, and drop `b`. */
  #absorb(a: Chunk, b: Chunk): void {
    a.d.set(b.d.subarray(0, b.n * W), a.n * W);
    a.n += b.n;
    this.#unlinkChunk(b, b.d[0]!);
  }
}
