/**
 * One VM as the Linux v17 Gunyah driver keeps it: what both dialects share (vm-core.ts: status,
 * notifications, DTB configuration, tickets, function instances, the ioeventfd table, the locks
 * and the reference count), plus the VMID allocated at start, the boot context, the memory
 * bindings, the pages given to the guest and the internal tickets.
 *
 * Reference: uapi.md §7 (objects and lifetime), §8.1 (functions, tickets), §8.10 (VM_EXITED and
 * VM_STATUS(RESET) handling), §8.11 (demand paging), §8.14 (ioeventfd table). The start
 * sequence is in vm-start.ts, teardown in vm-teardown.ts, the ioctls in vm-file.ts.
 */
import type { Binding, BindingOwner } from './guest-mem.js';
import { providePage, reclaimRange, type PagedPage, type PagingVm } from './demand-paging.js';
import type { KernelContext } from './kernel-context.js';
import { VmGuestMemory } from './guest-memory-access.js';
import type { GuestMemoryAccess } from '../virtio/guest-memory.js';
import { PAGE_SIZE } from './page-allocator.js';
import { VmCore } from './vm-core.js';
import { LinuxVmStatus, type Ticket, type VmResource } from './vm-api.js';
import { ResourceType } from '../rm-rpc/wire/enums.js';

export const VMID_INVALID = 0xffff;

/** The DTB parcel sent at start (uapi.md §8.12). */
export interface DtbParcel {
  handle: number | undefined;
  /** [gfn, pa] per page. */
  readonly pages: ReadonlyArray<readonly [number, number]>;
  readonly share: boolean;
  readonly write: boolean;
}

export class GunyahVm extends VmCore implements BindingOwner, PagingVm {
  override vmid = VMID_INVALID;
  /** Boot context entries keyed by the whole 32-bit `reg` (QUIRK K3). */
  readonly bootContext = new Map<number, bigint>();
  /** Bindings in guest-frame order. */
  readonly bindings: Binding[] = [];
  readonly paged = new Map<number, PagedPage>();
  addrSpace: VmResource | undefined;
  readonly extents: Array<VmResource | undefined> = [undefined, undefined, undefined, undefined];
  readonly internalTickets: Ticket[] = [];
  dtbParcel: DtbParcel | undefined;
  /** Device access to the shared guest memory (VmHandle.guestMemory). */
  override readonly guestMemory: GuestMemoryAccess = new VmGuestMemory(this);
  readonly #teardown: (vm: GunyahVm) => Promise<void>;

  constructor(k: KernelContext, id: number, teardown: (vm: GunyahVm) => Promise<void>) {
    super(k, id, LinuxVmStatus.NO_STATE);
    this.#teardown = teardown;
    // The five internal tickets (uapi.md §7): ADDR_SPACE 0 and MEM_EXTENT 0..3.
    this.internalTickets.push(
      this.tickets.add(ResourceType.ADDR_SPACE, 0, {
        populate: (r) => ((this.addrSpace = r), true),
        unpopulate: () => void (this.addrSpace = undefined),
      }),
    );
    for (let label = 0; label < 4; label++) {
      this.internalTickets.push(
        this.tickets.add(ResourceType.MEM_EXTENT, label, {
          populate: (r) => ((this.extents[label] = r), true),
          unpopulate: () => void (this.extents[label] = undefined),
        }),
      );
    }
  }

  protected override tearDown(): Promise<void> {
    return this.#teardown(this);
  }

  // ── memory ───────────────────────────────────────────────────────────────

  /**
   * The binding that holds guest frame `gfn`. `bindings` is sorted by gfn and its ranges do not
   * overlap (MAP_MEM keeps both; kernel.ts checkInvariants checks them), so a binary search for
   * the last binding starting at or below `gfn` finds the only candidate.
   */
  bindingAt(gfn: number): Binding | undefined {
    const list = this.bindings;
    let lo = 0;
    let hi = list.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (list[mid]!.gfn <= gfn) lo = mid + 1;
      else hi = mid;
    }
    const b = lo > 0 ? list[lo - 1]! : undefined;
    return b !== undefined && gfn < b.gfn + b.pages ? b : undefined;
  }

  override demandPage(gpa: bigint, write: boolean): number {
    return providePage(this, Math.floor(Number(gpa) / PAGE_SIZE), write);
  }

  reclaimFrames(gfn: number, count: number): number {
    return reclaimRange(this, gfn, count);
  }
}
