/**
 * Per-VM IPA reservations for parcel mappings: the IPAs the RM chooses when MEM_ACCEPT names
 * none (n_sgl = 0), and the IPAs a borrower chose itself, so that neither hands out the same
 * range twice (rm-rpc.md §16.5 ACCEPT steps 12–13: "IPA allocation fails → NORESOURCE").
 * RM-chosen IPAs come from a window far above guest RAM, 2 MiB aligned for regions of 2 MiB or
 * more; RELEASE frees them. A reservation stays while the mapping exists (a donated page's IPA
 * stays with the VM after a reset).
 */
import { BTree } from '../hyp/memory/btree.js';

/** Where RM-chosen IPAs start, and the end of the window (below the RM's 2^44 limit). */
export const RM_IPA_BASE = 0x0f00_0000_0000;
export const RM_IPA_END = 0x1000_0000_0000;
const MIB2 = 0x20_0000;

class VmIpas {
  /** Reserved ranges: start → end (exclusive), non-overlapping. */
  readonly taken = new BTree<number, number>();
  /** Where the next search starts (most allocations follow the previous one). */
  hint = RM_IPA_BASE;

  /** The first range overlapping [ipa, end), if any. */
  overlap(ipa: number, end: number): [number, number] | undefined {
    const before = this.taken.nextLowerKey(ipa + 0.5);
    if (before !== undefined) {
      const e = this.taken.get(before)!;
      if (e > ipa) return [before, e];
    }
    const after = this.taken.nextHigherKey(ipa);
    if (after !== undefined && after < end) return [after, this.taken.get(after)!];
    return undefined;
  }
}

export class IpaAllocator {
  readonly #vms = new Map<number, VmIpas>();

  #of(vmid: number): VmIpas {
    let v = this.#vms.get(vmid);
    if (!v) this.#vms.set(vmid, (v = new VmIpas()));
    return v;
  }

  /** Reserve `[ipa, ipa+size)` for `vmid`; false if any of it is reserved already. */
  reserve(vmid: number, ipa: number, size: number): boolean {
    const v = this.#of(vmid);
    if (v.overlap(ipa, ipa + size)) return false;
    v.taken.set(ipa, ipa + size);
    return true;
  }

  /**
   * Choose and reserve `size` bytes of IPA space in `vmid`, aligned to `align` (default: 2 MiB
   * for 2 MiB or more, else 4 KiB); undefined when the window is full.
   */
  alloc(vmid: number, size: number, align = size >= MIB2 ? MIB2 : 4096): number | undefined {
    const v = this.#of(vmid);
    for (const start of [v.hint, RM_IPA_BASE]) {
      let at = Math.ceil(start / align) * align;
      while (at + size <= RM_IPA_END) {
        const o = v.overlap(at, at + size);
        if (!o) {
          v.taken.set(at, at + size);
          v.hint = at + size;
          return at;
        }
        at = Math.ceil(o[1] / align) * align;
      }
    }
    return undefined;
  }

  /** Release a reservation made by `reserve` or `alloc` (exact start). */
  free(vmid: number, ipa: number): void {
    const v = this.#vms.get(vmid);
    if (!v) return;
    v.taken.delete(ipa);
    if (ipa < v.hint) v.hint = ipa;
  }

  /** Forget everything of `vmid` (VM deallocation). */
  reset(vmid: number): void {
    this.#vms.delete(vmid);
  }
}
