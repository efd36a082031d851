/**
 * IPAs the RM chooses for a borrower when MEM_ACCEPT names none (n_sgl = 0): a per-VM bump
 * allocator in a window far above guest RAM, 2 MiB aligned for regions of 2 MiB or more
 * (rm-rpc.md §16.5, ACCEPT "Allocates IPAs (2 MiB aligned when the RM chooses and the size is
 * ≥ 2 MiB)"). Freed IPAs are not reused until the VM is reset, which keeps the choice
 * deterministic and simple; the window is 16 TiB.
 */

/** Where RM-chosen IPAs start (below the RM's 2^44 limit). */
export const RM_IPA_BASE = 0x0f00_0000_0000;
export const RM_IPA_END = 0x1000_0000_0000;
const MIB2 = 0x20_0000;

export class IpaAllocator {
  readonly #next = new Map<number, number>();

  /** Allocate `size` bytes of IPA space in `vmid`; undefined when the window is exhausted. */
  alloc(vmid: number, size: number): number | undefined {
    let at = this.#next.get(vmid) ?? RM_IPA_BASE;
    if (size >= MIB2) at = Math.ceil(at / MIB2) * MIB2;
    if (at + size > RM_IPA_END) return undefined;
    this.#next.set(vmid, at + size);
    return at;
  }

  /** Forget `vmid`'s allocations (VM reset or deallocation). */
  reset(vmid: number): void {
    this.#next.delete(vmid);
  }
}
