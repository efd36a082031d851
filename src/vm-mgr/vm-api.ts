/**
 * What a VM function (vCPU, irqfd, ioeventfd, …) may use of the VM it is bound to: resource
 * tickets, the VM's status and exit information, demand paging, the ioeventfd table, and the
 * VM's reference count. The VM manager implements it; src/vcpu and src/functions use it.
 *
 * Reference: uapi.md §7 (objects and lifetime), §8.1 (function framework, resource tickets),
 * §8.10 (status and exit_info), §8.11 (demand paging, host visibility of guest memory), §8.14
 * (ioeventfd matching).
 */
import type { HostHypercalls } from '../hyp/host-api.js';
import type { IoctlContext } from '../host/kernel-file.js';
import type { Logger } from '../shared/log.js';
import type { Tracer } from '../shared/trace-events.js';
import type { GuestMemoryAccess } from '../virtio/guest-memory.js';

/** Linux's copy of the RM VM status (uapi.md §7). */
export const LinuxVmStatus = {
  NO_STATE: 0,
  INIT: 1,
  READY: 2,
  RUNNING: 3,
  LOAD: 5,
  INIT_FAILED: 8,
  EXITED: 9,
  RESET: 11,
} as const;

const LINUX_STATUS_NAMES: ReadonlyMap<number, string> = new Map(Object.entries(LinuxVmStatus).map(([k, v]) => [v, k]));

/** The name of a Linux VM status (for traces), or its number as text. */
export function linuxVmStatusName(s: number): string {
  return LINUX_STATUS_NAMES.get(s) ?? String(s);
}

/** One resource from VM_GET_HYP_RESOURCES, as the kernel keeps it (hypervisor.md §9). */
export interface VmResource {
  readonly type: number;
  readonly label: number;
  readonly partnerVmid: number;
  readonly capId: bigint;
  /** GIC INTID from the RM (0 = none); already checked translatable. */
  readonly virq: number;
  readonly base: bigint;
  readonly size: bigint;
}

/** A ticket's callbacks: `populate` returns false to refuse a resource. */
export interface TicketHandler {
  populate(res: VmResource): boolean;
  unpopulate(res: VmResource): void;
}

export interface Ticket {
  readonly type: number;
  readonly label: number;
}

/** The last VM_EXITED information (uapi.md §8.10). */
export interface VmExitInfo {
  readonly type: number;
  /** As the RM sent it; not clamped (QUIRK K15). */
  readonly reasonSize: number;
  /** The first min(8, size) bytes, zero padded to 8. */
  readonly reason: Uint8Array;
}

/** An ioeventfd handler as the VM's table keeps it (uapi.md §8.14). */
export interface IoeventfdEntry {
  readonly addr: bigint;
  /** 0 = any length (only without DATAMATCH). */
  readonly len: number;
  readonly datamatch: boolean;
  readonly data: bigint;
  /** Signal the eventfd (counter += 1). */
  fire(): void;
}

/** Kernel behaviour switches for the QUIRKs of uapi.md §9 (true = the real v17 behaviour). */
export interface KernelQuirks {
  /** K6: a FORCE_SHARE DTB binding never sets its ACL count: VM_START fails with ENOMEM. */
  readonly k6ShareDtbAclCount: boolean;
  /** K8: the MMIO path's demand paging uses the stale is_write byte. Off: the access's own direction. */
  readonly k8StaleIsWrite: boolean;
  /** K10: PUNCH_HOLE treats the byte range as a page-index range. Off: byte range. */
  readonly k10PunchHoleUnits: boolean;
  /** K11: mmap's reclaim range ends at max(mapping end, binding end). Off: min. */
  readonly k11MmapReclaimMax: boolean;
  /** K14: unknown vcpu_run states loop until immediate_exit. Off: RUN fails with EINVAL. */
  readonly k14SpinOnUnknownState: boolean;
  /** K16: MAP_MEM with a closed fd gives EINVAL. Off: EBADF. */
  readonly k16MapMemBadFdEinval: boolean;
  /** K17: a successful UNMAP leaks one file reference. Off: no leak. */
  readonly k17UnmapLeaksFileRef: boolean;
  /** K18: MAP_MEM size 0 at guest_addr 0 inserts a whole-space binding. Off: EINVAL. */
  readonly k18ZeroSizeAtZero: boolean;
  /** K23: a pending MMIO resume is consumed before the immediate_exit check. Off: kept for the next RUN. */
  readonly k23ResumeLostOnEintr: boolean;
  /** K1: the DTB-config overflow check never fires. Off: EOVERFLOW at SET_DTB_CONFIG. */
  readonly k1DtbConfigOverflowUnchecked: boolean;
  /** K2: the ioeventfd addr+len overflow check never fires. Off: EINVAL. */
  readonly k2IoeventfdOverflowUnchecked: boolean;
  /** K4: boot-context value 0 erases the entry. Off: 0 is stored and sent. */
  readonly k4ZeroErasesBootReg: boolean;
  /** K5: boot-context values with low bits 0b10 and ≤ 1026 give EINVAL. Off: accepted. */
  readonly k5XarrayValueReject: boolean;
}

export const DEFAULT_QUIRKS: KernelQuirks = {
  k1DtbConfigOverflowUnchecked: true,
  k2IoeventfdOverflowUnchecked: true,
  k4ZeroErasesBootReg: true,
  k5XarrayValueReject: true,
  k6ShareDtbAclCount: true,
  k8StaleIsWrite: true,
  k10PunchHoleUnits: true,
  k11MmapReclaimMax: true,
  k14SpinOnUnknownState: true,
  k16MapMemBadFdEinval: true,
  k17UnmapLeaksFileRef: true,
  k18ZeroSizeAtZero: true,
  k23ResumeLostOnEintr: true,
};

/** The UAPI a VM's kernel speaks (README.md §Dialects): v17 `gunyah_` or the older `gh_`. */
export type UapiDialect = 'v17' | 'gh';

/** The VM as its functions see it. */
export interface VmHandle {
  /**
   * The dialect of the kernel that made the VM; absent means 'v17'. The vCPU run page and its
   * completion rules differ (README.md §Dialects: no resume_action and no page-fault arm in gh_).
   */
  readonly dialect?: UapiDialect;
  /**
   * gh_ only: start the VM if nobody tried yet (VCPU_RUN before VM_START starts it,
   * vmm-flows.md Q1). Resolves when the attempt is over, whether or not the VM now runs.
   * @rejects ErrnoError with the failed start step's errno
   */
  ensureStarted?(): Promise<void>;
  readonly hyp: HostHypercalls;
  readonly log: Logger;
  readonly trace: Tracer | undefined;
  readonly quirks: KernelQuirks;
  /** Linux status (LinuxVmStatus). */
  readonly status: number;
  readonly exitInfo: VmExitInfo;
  /** Allocated VMID: v17 from its start (0xFFFF before), gh_ from CREATE_VM. */
  readonly vmid: number;
  /**
   * Add a ticket (type, label); it takes any unowned resource with the same key at once.
   * @throws ErrnoError EEXIST when that key already has a ticket
   */
  addTicket(type: number, label: number, handler: TicketHandler): Ticket;
  /** Remove a ticket: its resources are unpopulated and go back to the unowned list. */
  removeTicket(t: Ticket): void;
  /** Called on every status change and on VM_EXITED (wakes sleeping vCPUs). Returns unsubscribe. */
  onStatusChange(fn: () => void): () => void;
  /**
   * Demand paging at guest address `gpa` (uapi.md §8.11): 0 when the page was provided,
   * otherwise a negative errno (-EAGAIN: already provided; -ENOENT, -EPERM, -ENOMEM, -ENODEV).
   */
  demandPage(gpa: bigint, write: boolean): number;
  /**
   * The VM's guest physical memory as a device reaches it: only memory shared with the host
   * (FORCE_SHARE bindings); lent memory and unbound addresses throw GuestMemoryError (§8.11).
   */
  readonly guestMemory: GuestMemoryAccess;
  /** The ioeventfd table (§8.14). */
  addIoeventfd(e: IoeventfdEntry): void;
  removeIoeventfd(e: IoeventfdEntry): void;
  /** Offer a guest MMIO write; true when an ioeventfd took it (its eventfd was signalled). */
  ioeventfdWrite(addr: bigint, len: number, value: bigint): boolean;
  /** VM references (uapi.md §7): each vCPU fd holds one; the last drop tears the VM down. */
  get(): void;
  put(): Promise<void>;
}

/** A VM function type (GUNYAH_FN_*). */
export interface VmFunctionType {
  readonly type: number;
  /** The struct size REMOVE compares against (uapi.md §8.1). */
  readonly argSize: number;
  /**
   * Bind an instance. `arg` is exactly the `arg_size` bytes copied from user memory.
   * @throws ErrnoError as the reference's validation table says
   */
  bind(vm: VmHandle, arg: Uint8Array, ctx: IoctlContext): VmFunctionInstance | Promise<VmFunctionInstance>;
}

export interface VmFunctionInstance {
  readonly type: number;
  /** What ADD_FUNCTION returns (a new fd for vCPUs, else 0). */
  readonly result: number;
  /** REMOVE_FUNCTION's comparison with a user argument of the type's exact size. */
  matches(arg: Uint8Array): boolean;
  /** Unbind (REMOVE_FUNCTION or teardown). */
  unbind(): void | Promise<void>;
}
