/**
 * One VM's stage-2 address space as the memory model records it: mappings `[ipa, ipa+size) →
 * [pa, pa+size)` of one extent with rights, in a B+ tree keyed by IPA.
 *
 * Reference: hypervisor.md §8 (addrspace_map / addrspace_unmap, rights X 1 W 2 R 4).
 * INVARIANT: no two mappings of one address space overlap (map refuses with
 * ERROR_EXISTING_MAPPING), so "the mapping containing an IPA" is one tree look-up.
 * A mapping is only a window: which of its PAs it reaches is decided by the memdb at access time
 * (memory-model.ts), not here.
 */
import { BTree } from './btree.js';

/** A recorded mapping. Immutable: unmap replaces it by its remaining pieces. */
export interface Mapping<E> {
  readonly vmid: number;
  readonly ipa: number;
  readonly pa: number;
  readonly size: number;
  readonly rights: number;
  readonly extent: E;
}

/** The mappings of one address space. */
export class AddressSpace<E> {
  readonly #tree = new BTree<number, Mapping<E>>();
  readonly #pair: [number, Mapping<E>] = [0, undefined as unknown as Mapping<E>];
  /** The mapping `find` returned last; forgotten on every insert and remove. */
  #last: Mapping<E> | undefined = undefined;
  /**
   * The hole `find` last answered "unmapped" in: `[#holeLo, #holeHi)` holds no mapping (empty
   * when lo ≥ hi); forgotten on every insert and remove. A guest's MMIO window is such a hole,
   * and each of its accesses asks twice (the direct path, then the walk for the fault).
   */
  #holeLo = 0;
  #holeHi = 0;

  constructor(readonly vmid: number) {}

  get size(): number {
    return this.#tree.size;
  }

  /** The mapping containing `ipa`, if any. O(log n). */
  find(ipa: number): Mapping<E> | undefined {
    const last = this.#last;
    if (last !== undefined && last.ipa <= ipa && ipa < last.ipa + last.size) return last;
    if (ipa >= this.#holeLo && ipa < this.#holeHi) return undefined;
    const p = this.#tree.getPairOrNextLower(ipa, this.#pair);
    if (p === undefined || p[1].ipa + p[1].size <= ipa) {
      this.#holeLo = p === undefined ? 0 : p[1].ipa + p[1].size;
      this.#holeHi = this.#tree.nextHigherPair(ipa, this.#pair)?.[0] ?? Infinity;
      return undefined;
    }
    return (this.#last = p[1]);
  }

  /** True when some mapping overlaps `[ipa, end)`. O(log n). */
  overlaps(ipa: number, end: number): boolean {
    const p = this.#tree.getPairOrNextLower(end - 1, this.#pair);
    return p !== undefined && p[1].ipa + p[1].size > ipa;
  }

  /** The mappings overlapping `[ipa, end)`, in IPA order. O(log n + k). */
  inRange(ipa: number, end: number): Mapping<E>[] {
    const out: Mapping<E>[] = [];
    const below = this.find(ipa);
    this.#tree.forRange(below === undefined ? ipa : below.ipa, end, false, (_k, m) => {
      out.push(m);
    });
    return out;
  }

  /** Every mapping, in IPA order. */
  all(): Mapping<E>[] {
    return this.#tree.valuesArray();
  }

  insert(m: Mapping<E>): void {
    this.#last = undefined;
    this.#holeHi = 0;
    this.#tree.set(m.ipa, m);
  }

  remove(m: Mapping<E>): void {
    this.#last = undefined;
    this.#holeHi = 0;
    this.#tree.delete(m.ipa);
  }

  /** True when `m` is the mapping recorded at its IPA. */
  has(m: Mapping<E>): boolean {
    return this.#tree.get(m.ipa) === m;
  }

  /** Sortedness, non-overlap and non-emptiness of the mappings. */
  check(): string[] {
    const errs: string[] = [];
    let prevEnd = -1;
    for (const [key, m] of this.#tree.entries()) {
      const at = `VM ${this.vmid} mapping at IPA 0x${m.ipa.toString(16)}`;
      if (key !== m.ipa) errs.push(`${at}: keyed at 0x${key.toString(16)}`);
      if (!(m.size > 0)) errs.push(`${at}: empty`);
      if (m.vmid !== this.vmid) errs.push(`${at}: belongs to VM ${m.vmid}`);
      if (m.ipa < prevEnd) errs.push(`${at}: overlaps the mapping before`);
      prevEnd = m.ipa + m.size;
    }
    return errs;
  }
}
