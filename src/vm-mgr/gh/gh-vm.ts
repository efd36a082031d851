/**
 * One VM as the `gh_` (v14 / Android Common Kernel) Linux driver keeps it: what both dialects
 * share (../vm-core.ts: Linux's copy of the RM status, here LOAD from creation, notifications,
 * the DTB config, tickets, function instances with their argument bytes, the ioeventfd table,
 * the locks and the reference count the VM fd and every vCPU fd hold), plus a VMID allocated at
 * CREATE_VM, the firmware config, the auth type, the user-memory regions (newest first) and the
 * mm lock.
 *
 * Reference: README.md §Dialects (what differs from v17), vmm-flows.md Q1 (VCPU_RUN before START
 * starts the VM: `ensureStarted`), Q2 (a failed start is not retried), uapi.md §7 (references),
 * §8.1 (tickets), §8.10 (VM_EXITED and VM_STATUS(RESET) handling, the same in both dialects),
 * §8.14 (ioeventfd table). Facts from the public v14 series / Android common kernel
 * android14-6.1 `drivers/virt/gunyah/vm_mgr.c`, `vm_mgr_mm.c` are listed in docs/gh-dialect.md.
 * The start sequence is gh-start.ts, teardown gh-teardown.ts, the ioctls gh-vm-file.ts; they are
 * handed in as hooks so that this file imports none of them.
 */
import PQueue from 'p-queue';
import type { PinnedPages } from '../../host/kernel-file.js';
import type { MemShareParams } from '../../rm-rpc/client/rm-calls.js';
import type { GuestMemoryAccess } from '../../virtio/guest-memory.js';
import type { KernelContext } from '../kernel-context.js';
import { VmCore } from '../vm-core.js';
import { LinuxVmStatus, type UapiDialect } from '../vm-api.js';
import { GhGuestMemory } from './gh-guest-memory.js';
import { GhVmAuth } from './gh-uapi.js';

/** One user-memory region (SET_USER_MEM_REGION: share; ANDROID_LEND_USER_MEM: lend). */
export interface GhRegion {
  readonly label: number;
  /** GH_MEM_ALLOW_* bits. */
  readonly flags: number;
  readonly gpa: bigint;
  readonly size: bigint;
  readonly lend: boolean;
  /** The pinned host pages, in guest-address order. */
  readonly pinned: PinnedPages;
  /** The parcel as it goes to the RM at start (ACL, merged SGL, label). */
  readonly request: MemShareParams;
  /** The parcel handle once MEM_LEND / MEM_SHARE succeeded; cleared after a successful reclaim. */
  handle: number | undefined;
}

/** What the device hands each VM: how to start it and how to tear it down. */
export interface GhVmHooks {
  /** The start sequence (run under the status lock). */
  readonly start: (vm: GhVm) => Promise<void>;
  /** Teardown when the last reference goes. */
  readonly teardown: (vm: GhVm) => Promise<void>;
}

export class GhVm extends VmCore {
  readonly dialect: UapiDialect = 'gh';
  override readonly vmid: number;
  fwConfig: { gpa: bigint; size: bigint } | undefined;
  authType: number = GhVmAuth.GH_RM_VM_AUTH_NONE;
  /** Newest first: the driver adds each region at the head of its list. */
  readonly regions: GhRegion[] = [];
  /** Device access to the shared regions (VmHandle.guestMemory). */
  override readonly guestMemory: GuestMemoryAccess = new GhGuestMemory(this);
  /** Serialises region changes against each other and against the whole start (the mm lock). */
  readonly memLock = new PQueue({ concurrency: 1 });
  /** Pages left pinned by regions whose MEM_RECLAIM failed at teardown (a leak, as in Linux). */
  leakedPinnedPages = 0;
  readonly #hooks: GhVmHooks;

  constructor(k: KernelContext, id: number, vmid: number, hooks: GhVmHooks) {
    super(k, id, LinuxVmStatus.LOAD);
    this.vmid = vmid;
    this.#hooks = hooks;
  }

  protected override tearDown(): Promise<void> {
    return this.#hooks.teardown(this);
  }

  /**
   * Start the VM if nobody tried yet (GH_VM_START, and VCPU_RUN before START: vmm-flows.md Q1).
   * Resolves when the attempt is over; a VM that is not in LOAD is left alone.
   * @rejects ErrnoError with the failed step's errno (only the attempt that failed)
   */
  ensureStarted(): Promise<void> {
    return this.statusLock.add(() => this.#hooks.start(this));
  }

  // ── memory ───────────────────────────────────────────────────────────────

  /**
   * No demand paging in gh_: every region goes to the RM whole at start, so a fault the
   * hypervisor reports is never resolved by the kernel (-ENOENT: no binding).
   */
  override demandPage(_gpa: bigint, _write: boolean): number {
    return -2; // -ENOENT
  }

  /** The region holding guest address `gpa`, or undefined. */
  regionAt(gpa: bigint): GhRegion | undefined {
    return this.regions.find((r) => gpa >= r.gpa && gpa < r.gpa + r.size);
  }

  /** The region that contains the whole range `[gpa, gpa + size)`, or undefined. */
  regionContaining(gpa: bigint, size: bigint): GhRegion | undefined {
    return this.regions.find((r) => gpa >= r.gpa && gpa + size <= r.gpa + r.size);
  }
}
