/**
 * One VM as the `gh_` (v14 / Android Common Kernel) Linux driver keeps it: a VMID allocated at
 * CREATE_VM, Linux's copy of the RM status (LOAD from creation), the DTB and firmware configs,
 * the auth type, the user-memory regions (newest first), resource tickets, function instances
 * with the argument bytes they were added with, the ioeventfd table, and the reference count
 * (the VM fd and every vCPU fd hold one, as in v17).
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
import type { HostHypercalls } from '../../hyp/host-api.js';
import type { PinnedPages } from '../../host/kernel-file.js';
import type { MemShareParams } from '../../rm-rpc/client/rm-calls.js';
import { ErrnoError } from '../../shared/errno.js';
import type { Logger } from '../../shared/log.js';
import type { Tracer } from '../../shared/trace-events.js';
import type { GuestMemoryAccess } from '../../virtio/guest-memory.js';
import { compareIoeventfd, compareIoeventfdWrite } from '../../functions/ioeventfd-order.js';
import type { KernelContext } from '../kernel-context.js';
import { TicketRegistry } from '../tickets.js';
import {
  LinuxVmStatus,
  linuxVmStatusName,
  type IoeventfdEntry,
  type KernelQuirks,
  type Ticket,
  type TicketHandler,
  type UapiDialect,
  type VmExitInfo,
  type VmFunctionInstance,
  type VmHandle,
} from '../vm-api.js';
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

/** A bound function with the argument bytes ADD_FUNCTION copied (REMOVE compares them). */
export interface GhFunction {
  readonly inst: VmFunctionInstance;
  readonly arg: Uint8Array;
}

/** What the device hands each VM: how to start it and how to tear it down. */
export interface GhVmHooks {
  /** The start sequence (run under the status lock). */
  readonly start: (vm: GhVm) => Promise<void>;
  /** Teardown when the last reference goes. */
  readonly teardown: (vm: GhVm) => Promise<void>;
}

export class GhVm implements VmHandle {
  readonly dialect: UapiDialect = 'gh';
  readonly k: KernelContext;
  readonly id: number;
  readonly vmid: number;
  status: number = LinuxVmStatus.LOAD;
  exitInfo: VmExitInfo = { type: 0, reasonSize: 0, reason: new Uint8Array(8) };
  dtbConfig: { gpa: bigint; size: bigint } | undefined;
  fwConfig: { gpa: bigint; size: bigint } | undefined;
  authType: number = GhVmAuth.GH_RM_VM_AUTH_NONE;
  /** Newest first: the driver adds each region at the head of its list. */
  readonly regions: GhRegion[] = [];
  readonly tickets = new TicketRegistry();
  readonly functions: GhFunction[] = [];
  readonly ioeventfds: IoeventfdEntry[] = [];
  /** Device access to the shared regions (VmHandle.guestMemory). */
  readonly guestMemory: GuestMemoryAccess = new GhGuestMemory(this);
  /** Serialises start and teardown (the status lock). */
  readonly statusLock = new PQueue({ concurrency: 1 });
  /** Serialises ADD/REMOVE_FUNCTION (the function lock). */
  readonly fnLock = new PQueue({ concurrency: 1 });
  /** Serialises region changes against each other and against start's sharing step (mm lock). */
  readonly memLock = new PQueue({ concurrency: 1 });
  /** Pages left pinned by regions whose MEM_RECLAIM failed at teardown (a leak, as in Linux). */
  leakedPinnedPages = 0;
  #refs = 1;
  #tornDown: Promise<void> | undefined;
  readonly #listeners = new Set<() => void>();
  #unregister: (() => void) | undefined;
  readonly #hooks: GhVmHooks;

  constructor(k: KernelContext, id: number, vmid: number, hooks: GhVmHooks) {
    this.k = k;
    this.id = id;
    this.vmid = vmid;
    this.#hooks = hooks;
  }

  get hyp(): HostHypercalls {
    return this.k.hyp;
  }
  get log(): Logger {
    return this.k.log;
  }
  get trace(): Tracer | undefined {
    return this.k.trace;
  }
  get quirks(): KernelQuirks {
    return this.k.quirks;
  }

  // ── status ───────────────────────────────────────────────────────────────

  setStatus(s: number): void {
    this.status = s;
    this.k.trace?.emit({ kind: 'vm.status', vm: this.id, vmid: this.vmid, status: s, statusName: linuxVmStatusName(s) });
    for (const fn of [...this.#listeners]) fn();
  }

  onStatusChange(fn: () => void): () => void {
    this.#listeners.add(fn);
    return () => void this.#listeners.delete(fn);
  }

  /** Resolves once `pred()` holds (checked on every status change). */
  waitFor(pred: () => boolean): Promise<void> {
    if (pred()) return Promise.resolve();
    return new Promise((resolve) => {
      const off = this.onStatusChange(() => {
        if (pred()) {
          off();
          resolve();
        }
      });
    });
  }

  /**
   * Start the VM if nobody tried yet (GH_VM_START, and VCPU_RUN before START: vmm-flows.md Q1).
   * Resolves when the attempt is over; a VM that is not in LOAD is left alone.
   * @rejects ErrnoError with the failed step's errno (only the attempt that failed)
   */
  ensureStarted(): Promise<void> {
    return this.statusLock.add(() => this.#hooks.start(this));
  }

  registerNotifications(): void {
    this.#unregister?.();
    this.#unregister = this.k.registerVm(this);
  }

  unregisterNotifications(): void {
    this.#unregister?.();
    this.#unregister = undefined;
  }

  /** NOTIFY_VM_EXITED for this VMID (uapi.md §8.10). */
  onExited(type: number, reason: Uint8Array): void {
    const kept = new Uint8Array(8);
    kept.set(reason.subarray(0, 8));
    this.exitInfo = { type, reasonSize: reason.byteLength, reason: kept };
    this.setStatus(LinuxVmStatus.EXITED);
  }

  /** NOTIFY_VM_STATUS with vm_status RESET for this VMID. */
  onReset(): void {
    this.setStatus(LinuxVmStatus.RESET);
  }

  // ── tickets ──────────────────────────────────────────────────────────────

  addTicket(type: number, label: number, handler: TicketHandler): Ticket {
    return this.tickets.add(type, label, handler);
  }

  removeTicket(t: Ticket): void {
    this.tickets.remove(t);
  }

  // ── memory ───────────────────────────────────────────────────────────────

  /**
   * No demand paging in gh_: every region goes to the RM whole at start, so a fault the
   * hypervisor reports is never resolved by the kernel (-ENOENT: no binding).
   */
  demandPage(_gpa: bigint, _write: boolean): number {
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

  // ── ioeventfds ───────────────────────────────────────────────────────────

  /** Add a handler; an equal one (uapi.md §8.14 ordering) is EEXIST. */
  addIoeventfd(e: IoeventfdEntry): void {
    for (const h of this.ioeventfds) {
      if (compareIoeventfd(h, e) === 0) throw new ErrnoError('EEXIST', 'an equal ioeventfd handler is already installed');
    }
    this.ioeventfds.push(e);
  }

  removeIoeventfd(e: IoeventfdEntry): void {
    const i = this.ioeventfds.indexOf(e);
    if (i >= 0) this.ioeventfds.splice(i, 1);
  }

  ioeventfdWrite(addr: bigint, len: number, value: bigint): boolean {
    for (const e of this.ioeventfds) {
      if (compareIoeventfdWrite(e, addr, len, value) === 0) {
        e.fire();
        return true;
      }
    }
    return false;
  }

  // ── references ───────────────────────────────────────────────────────────

  get(): void {
    this.#refs++;
  }

  put(): Promise<void> {
    if (--this.#refs > 0) return Promise.resolve();
    this.#tornDown ??= this.#hooks.teardown(this);
    return this.#tornDown;
  }

  get refs(): number {
    return this.#refs;
  }
}
