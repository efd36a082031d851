/**
 * What the VM object of both dialects keeps the same way: Linux's copy of the RM status with its
 * listeners, the last exit information, the handlers of this VMID's VM_EXITED and VM_STATUS
 * notifications, the DTB configuration, the resource tickets, the bound function instances (with
 * the argument bytes each was added with), the ioeventfd table, the status and function locks,
 * and the reference count whose last drop runs the dialect's teardown once.
 *
 * GunyahVm (vm.ts, v17) and GhVm (gh/gh-vm.ts, v14 / Android) extend it with their memory model
 * and their start; neither may change what is here.
 *
 * Reference: uapi.md §7 (objects and lifetime: the VM fd and every vCPU fd hold one reference),
 * §8.1 (functions, tickets), §8.10 (VM_EXITED: exit info, then EXITED; VM_STATUS only for
 * RESET), §8.14 (ioeventfd table); README.md §Dialects (all of this is the same in gh_).
 */
import PQueue from 'p-queue';
import type { HostHypercalls } from '../hyp/host-api.js';
import type { Logger } from '../shared/log.js';
import type { Tracer } from '../shared/trace-events.js';
import type { GuestMemoryAccess } from '../virtio/guest-memory.js';
import { IoeventfdTable } from './ioeventfd-table.js';
import type { KernelContext } from './kernel-context.js';
import { TicketRegistry } from './tickets.js';
import {
  LinuxVmStatus,
  linuxVmStatusName,
  type IoeventfdEntry,
  type KernelQuirks,
  type Ticket,
  type TicketHandler,
  type VmExitInfo,
  type VmFunctionInstance,
  type VmHandle,
} from './vm-api.js';

export abstract class VmCore implements VmHandle {
  readonly k: KernelContext;
  /** The kernel-wide VM number (traces). */
  readonly id: number;
  /** Allocated VMID: v17 from its start (0xFFFF before), gh_ from CREATE_VM. */
  abstract readonly vmid: number;
  abstract readonly guestMemory: GuestMemoryAccess;
  abstract demandPage(gpa: bigint, write: boolean): number;

  /** Linux status (LinuxVmStatus); change it with setStatus. */
  status: number;
  exitInfo: VmExitInfo = { type: 0, reasonSize: 0, reason: new Uint8Array(8) };
  /** SET_DTB_CONFIG's value (gh_: the size rounded up to the page). */
  dtbConfig: { gpa: bigint; size: bigint } | undefined;
  readonly tickets = new TicketRegistry();
  /** Bound function instances, oldest first. */
  readonly functions: VmFunctionInstance[] = [];
  /** The argument bytes each instance was added with (the gh_ REMOVE compares them). */
  readonly addedArgs = new WeakMap<VmFunctionInstance, Uint8Array>();
  readonly ioeventfds = new IoeventfdTable();
  /** Serialises START, teardown and (v17) boot-context changes: the status lock. */
  readonly statusLock = new PQueue({ concurrency: 1 });
  /** Serialises ADD/REMOVE_FUNCTION and teardown's unbinding: the function lock. */
  readonly fnLock = new PQueue({ concurrency: 1 });

  #refs = 1;
  #tornDown: Promise<void> | undefined;
  readonly #listeners = new Set<() => void>();
  #unregister: (() => void) | undefined;

  /** `status` is where the dialect's VM starts: NO_STATE (v17) or LOAD (gh_, VMID at creation). */
  constructor(k: KernelContext, id: number, status: number) {
    this.k = k;
    this.id = id;
    this.status = status;
  }

  /** The dialect's teardown; `put` runs it once, when the last reference goes. */
  protected abstract tearDown(): Promise<void>;

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

  /** Register for this VMID's notifications (again, after the VMID changed). */
  registerNotifications(): void {
    this.#unregister?.();
    this.#unregister = this.k.registerVm(this);
  }

  unregisterNotifications(): void {
    this.#unregister?.();
    this.#unregister = undefined;
  }

  /** NOTIFY_VM_EXITED for this VMID (uapi.md §8.10): the first 8 reason bytes are kept. */
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

  // ── ioeventfds ───────────────────────────────────────────────────────────

  addIoeventfd(e: IoeventfdEntry): void {
    this.ioeventfds.add(e);
  }

  removeIoeventfd(e: IoeventfdEntry): void {
    this.ioeventfds.remove(e);
  }

  ioeventfdWrite(addr: bigint, len: number, value: bigint): boolean {
    return this.ioeventfds.write(addr, len, value);
  }

  // ── references ───────────────────────────────────────────────────────────

  get(): void {
    this.#refs++;
  }

  put(): Promise<void> {
    if (--this.#refs > 0) return Promise.resolve();
    this.#tornDown ??= this.tearDown();
    return this.#tornDown;
  }

  get refs(): number {
    return this.#refs;
  }
}
