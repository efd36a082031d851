/**
 * One VM as the Linux Gunyah driver keeps it: status, VMID, DTB configuration, boot context,
 * memory bindings, the pages given to the guest, resource tickets, function instances, the
 * ioeventfd table and the reference count (the VM fd and every vCPU fd hold one).
 *
 * Reference: uapi.md §7 (objects and lifetime), §8.1 (functions, tickets), §8.10 (VM_EXITED and
 * VM_STATUS(RESET) handling), §8.11 (demand paging), §8.14 (ioeventfd table). The start
 * sequence is in vm-start.ts, teardown in vm-teardown.ts, the ioctls in vm-file.ts.
 */
import PQueue from 'p-queue';
import type { HostHypercalls } from '../hyp/host-api.js';
import type { Logger } from '../shared/log.js';
import type { Tracer } from '../shared/trace-events.js';
import type { Binding, BindingOwner } from './guest-mem.js';
import { providePage, reclaimRange, type PagedPage, type PagingVm } from './demand-paging.js';
import type { KernelContext } from './kernel-context.js';
import { TicketRegistry } from './tickets.js';
import { VmGuestMemory } from './guest-memory-access.js';
import type { GuestMemoryAccess } from '../virtio/guest-memory.js';
import { PAGE_SIZE } from './page-allocator.js';
import { compareIoeventfd, compareIoeventfdWrite } from '../functions/ioeventfd-order.js';
import { ErrnoError } from '../shared/errno.js';
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
  type VmResource,
} from './vm-api.js';
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

export class GunyahVm implements VmHandle, BindingOwner, PagingVm {
  readonly k: KernelContext;
  readonly id: number;
  status: number = LinuxVmStatus.NO_STATE;
  vmid = VMID_INVALID;
  exitInfo: VmExitInfo = { type: 0, reasonSize: 0, reason: new Uint8Array(8) };
  dtbConfig: { gpa: bigint; size: bigint } | undefined;
  /** Boot context entries keyed by the whole 32-bit `reg` (QUIRK K3). */
  readonly bootContext = new Map<number, bigint>();
  /** Bindings in guest-frame order. */
  readonly bindings: Binding[] = [];
  readonly paged = new Map<number, PagedPage>();
  readonly tickets = new TicketRegistry();
  addrSpace: VmResource | undefined;
  readonly extents: Array<VmResource | undefined> = [undefined, undefined, undefined, undefined];
  readonly internalTickets: Ticket[] = [];
  readonly functions: VmFunctionInstance[] = [];
  readonly ioeventfds: IoeventfdEntry[] = [];
  dtbParcel: DtbParcel | undefined;
  /** Device access to the shared guest memory (VmHandle.guestMemory). */
  readonly guestMemory: GuestMemoryAccess = new VmGuestMemory(this);
  /** Serialises START, teardown and boot-context changes (the status lock). */
  readonly statusLock = new PQueue({ concurrency: 1 });
  /** Serialises ADD/REMOVE_FUNCTION (the function lock). */
  readonly fnLock = new PQueue({ concurrency: 1 });
  #refs = 1;
  #tornDown: Promise<void> | undefined;
  readonly #listeners = new Set<() => void>();
  #unregister: (() => void) | undefined;
  readonly #teardown: (vm: GunyahVm) => Promise<void>;

  constructor(k: KernelContext, id: number, teardown: (vm: GunyahVm) => Promise<void>) {
    this.k = k;
    this.id = id;
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
    this.#notify();
  }

  onStatusChange(fn: () => void): () => void {
    this.#listeners.add(fn);
    return () => void this.#listeners.delete(fn);
  }

  #notify(): void {
    for (const fn of [...this.#listeners]) fn();
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

  /** Register for this VMID's notifications (start step 2). */
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

  demandPage(gpa: bigint, write: boolean): number {
    return providePage(this, Math.floor(Number(gpa) / PAGE_SIZE), write);
  }

  reclaimFrames(gfn: number, count: number): number {
    return reclaimRange(this, gfn, count);
  }

  // ── ioeventfds ───────────────────────────────────────────────────────────

  /** Add a handler; an equal one already in the table (§8.14 ordering) is EEXIST. */
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
    this.#tornDown ??= this.#teardown(this);
    return this.#tornDown;
  }

  get refs(): number {
    return this.#refs;
  }
}
