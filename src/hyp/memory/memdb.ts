/**
 * The memory database (memdb): which extent owns each byte of physical memory, kept as maximal
 * runs `[start, end) → owner`, never per page.
 *
 * Reference: hypervisor.md §8 (memextent_donate moves a range between extents; ERROR_MEMDB_NOT_OWNER
 * when the source does not own all of it). This file knows nothing of address spaces or content.
 *
 *   index (run-index.ts: sorted-btree of chunks of runs, keyed by PA)
 *   PA-ordered list (prev/next):  [0x0000,0x8000) A ◀──▶ [0x8000,0x9000) B ◀──▶ [0x9000,…) A
 *   per-owner list (oPrev/oNext): A: run0 ◀──▶ run2     B: run1
 *
 * INVARIANT: runs are non-empty, sorted, non-overlapping, and two touching runs never have the
 * same owner (they are merged). Hence "owner X owns all of [a, b)" holds exactly when a single
 * run of X contains [a, b), so a donate looks up one run and changes at most three: it costs
 * O(log n) whatever its size, and bookkeeping grows with ownership changes, not with pages.
 *
 * The PA-ordered list gives O(1) neighbours (merging, range walks) without extra index searches;
 * the per-owner list gives an owner's runs without scanning the whole memdb.
 */
import { RunIndex, type Chunk } from './run-index.js';

/** What the memdb needs of an owner: counters and the head of its run list, kept up to date here. */
export interface RunOwner<O extends RunOwner<O>> {
  /** Bytes owned. */
  bytes: number;
  /** Runs owned. */
  runCount: number;
  /** Head of the owner's run list (in no particular order). */
  runHead: Run<O> | undefined;
}

/** One maximal run of memory with a single owner. Mutated in place by the memdb only. */
export interface Run<O extends RunOwner<O>> {
  start: number;
  end: number;
  owner: O;
  /** Neighbours in PA order. */
  prev: Run<O> | undefined;
  next: Run<O> | undefined;
  /** Neighbours in the owner's run list. */
  oPrev: Run<O> | undefined;
  oNext: Run<O> | undefined;
  /** The index chunk holding the run (run-index.ts). */
  chunk: Chunk<Run<O>> | undefined;
}

/** Ownership of physical memory. Ranges are byte ranges; callers check alignment. */
export class MemDb<O extends RunOwner<O>> {
  readonly #index = new RunIndex<Run<O>>();
  #head: Run<O> | undefined = undefined;

  /** Number of runs. */
  get size(): number {
    return this.#index.size;
  }

  /** The first run in PA order. */
  get first(): Run<O> | undefined {
    return this.#head;
  }

  /** The run whose start is the greatest one ≤ `pa`, if any. O(log n). */
  #atOrBelow(pa: number): Run<O> | undefined {
    return this.#index.atOrBelow(pa);
  }

  /** The run containing byte `pa`, or undefined when nobody owns it. O(log n). */
  find(pa: number): Run<O> | undefined {
    const r = this.#atOrBelow(pa);
    return r !== undefined && r.end > pa ? r : undefined;
  }

  /** The first run that overlaps `[pa, end)`, in PA order. O(log n). */
  firstIn(pa: number, end: number): Run<O> | undefined {
    const r = this.#atOrBelow(pa);
    if (r !== undefined && r.end > pa) return r;
    const n = r === undefined ? this.#head : r.next;
    return n !== undefined && n.start < end ? n : undefined;
  }

  /** True when every byte of `[pa, end)` is owned by someone (is RAM). */
  covers(pa: number, end: number): boolean {
    let r = this.find(pa);
    while (r !== undefined) {
      if (r.end >= end) return true;
      const n = r.next;
      if (n === undefined || n.start !== r.end) return false;
      r = n;
    }
    return false;
  }

  /**
   * Add `[pa, end)`, owned by nobody yet, to `owner`.
   * @returns false (and changes nothing) when part of it is already owned.
   */
  add(owner: O, pa: number, end: number): boolean {
    const below = this.#atOrBelow(end - 1);
    if (below !== undefined && below.end > pa) return false;
    // `below` starts before `end`; since it does not reach `pa`, it is the run just before the new one.
    const r = this.#insertAfter(below, pa, end, owner);
    this.#mergeAround(r);
    return true;
  }

  /**
   * Give `[a, b)`, which lies inside run `r`, to `to` (r.owner loses it). Splits `r` into at most
   * three runs and merges the moved piece with touching runs of `to`. O(log n).
   */
  assign(r: Run<O>, a: number, b: number, to: O): void {
    const s = r.start;
    const t = r.end;
    const from = r.owner;
    if (from === to) return;
    let piece: Run<O>;
    if (a === s) {
      if (b < t) {
        this.#resize(r, b);
        this.#insertAfter(r, b, t, from);
      }
      this.#reown(r, to);
      piece = r;
    } else {
      this.#resize(r, a);
      piece = this.#insertAfter(r, a, b, to);
      if (b < t) this.#insertAfter(piece, b, t, from);
    }
    this.#mergeAround(piece);
  }

  /** The runs of `owner`, in PA order. O(k log k). */
  runsOf(owner: O): Run<O>[] {
    const out: Run<O>[] = [];
    for (let r = owner.runHead; r !== undefined; r = r.oNext) out.push(r);
    return out.sort((x, y) => x.start - y.start);
  }

  /**
   * Consistency of the index, the PA list, the owner lists and counters. `owners` are all live
   * owners; `ownerOk` vets the owner of each run (e.g. that it still exists).
   */
  check(owners: Iterable<O>, ownerOk: (o: O) => string | undefined): string[] {
    const errs: string[] = [];
    const sums = new Map<O, { bytes: number; runs: number }>();
    for (const o of owners) sums.set(o, { bytes: 0, runs: 0 });
    let prev: Run<O> | undefined;
    let listRun = this.#head;
    let count = 0;
    errs.push(...this.#index.check());
    for (const r of this.#index) {
      count++;
      const at = `memdb run [0x${r.start.toString(16)}, 0x${r.end.toString(16)})`;
      if (!(r.end > r.start)) errs.push(`${at}: empty`);
      if (listRun !== r) errs.push(`${at}: PA list out of step with the index`);
      if (r.prev !== prev) errs.push(`${at}: bad prev link`);
      if (prev !== undefined) {
        if (prev.end > r.start) errs.push(`${at}: overlaps the run before`);
        if (prev.end === r.start && prev.owner === r.owner) errs.push(`${at}: not merged with the run before`);
      }
      const bad = ownerOk(r.owner);
      if (bad !== undefined) errs.push(`${at}: ${bad}`);
      const sum = sums.get(r.owner);
      if (sum === undefined) errs.push(`${at}: owner is not live`);
      else {
        sum.bytes += r.end - r.start;
        sum.runs++;
      }
      prev = r;
      listRun = r.next;
    }
    if (listRun !== undefined) errs.push('memdb: PA list longer than the index');
    if (count !== this.#index.size) errs.push('memdb: index size mismatch');
    for (const [o, sum] of sums) {
      let n = 0;
      let p: Run<O> | undefined;
      for (let r = o.runHead; r !== undefined && n <= sum.runs; r = r.oNext, n++) {
        if (r.owner !== o) errs.push('memdb: owner list holds a run of another owner');
        if (r.oPrev !== p) errs.push('memdb: bad owner-list link');
        if (r.chunk === undefined || this.#index.atOrBelow(r.start) !== r) {
          errs.push('memdb: owner list holds a run not in the memdb');
        }
        p = r;
      }
      if (n !== sum.runs || o.runCount !== sum.runs) {
        errs.push(`memdb: owner run count ${o.runCount}, owner list ${n}, memdb ${sum.runs}`);
      }
      if (o.bytes !== sum.bytes) errs.push(`memdb: owner byte count ${o.bytes}, memdb ${sum.bytes}`);
    }
    return errs;
  }

  // ---- primitive edits: each keeps the index, both lists and the owner counters in step ----

  #insertAfter(after: Run<O> | undefined, start: number, end: number, owner: O): Run<O> {
    const next = after === undefined ? this.#head : after.next;
    const r: Run<O> = { start, end, owner, prev: after, next, oPrev: undefined, oNext: undefined, chunk: undefined };
    this.#index.insertAfter(after, next, r);
    if (after === undefined) this.#head = r;
    else after.next = r;
    if (next !== undefined) next.prev = r;
    this.#ownerAdd(r);
    return r;
  }

  #remove(r: Run<O>): void {
    this.#index.remove(r);
    if (r.prev === undefined) this.#head = r.next;
    else r.prev.next = r.next;
    if (r.next !== undefined) r.next.prev = r.prev;
    this.#ownerRemove(r);
  }

  /** Move the end of `r` (its start, hence its key, stays). */
  #resize(r: Run<O>, end: number): void {
    r.owner.bytes += end - r.end;
    r.end = end;
  }

  #reown(r: Run<O>, to: O): void {
    this.#ownerRemove(r);
    r.owner = to;
    this.#ownerAdd(r);
  }

  /** Merge `r` with touching runs of the same owner. */
  #mergeAround(r: Run<O>): void {
    const p = r.prev;
    if (p !== undefined && p.end === r.start && p.owner === r.owner) {
      const end = r.end;
      this.#remove(r);
      this.#resize(p, end);
      r = p;
    }
    const n = r.next;
    if (n !== undefined && n.start === r.end && n.owner === r.owner) {
      const end = n.end;
      this.#remove(n);
      this.#resize(r, end);
    }
  }

  #ownerAdd(r: Run<O>): void {
    const o = r.owner;
    r.oPrev = undefined;
    r.oNext = o.runHead;
    if (o.runHead !== undefined) o.runHead.oPrev = r;
    o.runHead = r;
    o.runCount++;
    o.bytes += r.end - r.start;
  }

  #ownerRemove(r: Run<O>): void {
    const o = r.owner;
    if (r.oPrev === undefined) o.runHead = r.oNext;
    else r.oPrev.oNext = r.oNext;
    if (r.oNext !== undefined) r.oNext.oPrev = r.oPrev;
    r.oPrev = undefined;
    r.oNext = undefined;
    o.runCount--;
    o.bytes -= r.end - r.start;
  }
}
