/**
 * The hypervisor's per-VM state for a guest VM: its vCPU threads (one per 'vcpu' object), its
 * demand-paging ranges (where an unmapped access is a page fault for the host, not VMMIO), the
 * pages it relinquished (hvc 0xC6008069), its pending interrupts, and whether it was started or
 * has halted.
 *
 * Reference: hypervisor.md §6 (proxy-scheduled vCPUs and their wakeup vIRQs), §8 "Demand-paging
 * flow" (VM_SET_DEMAND_PAGING ranges, page-fault state 7), vmm-flows.md §6.6 (page relinquish).
 *
 * Interrupts: a guest vIRQ asserted for this VM (a doorbell's BELL_RX SPI) becomes pending on the
 * VM, once (asserting it again while pending does nothing). Every vCPU sleeping in `wfi` is made
 * runnable: its host wakeup vIRQ is asserted. The first vCPU that executes (or resumes) a `wfi`
 * takes the interrupt; the others go back to sleep. Level re-triggering after delivery is not
 * modelled (the guest has no end-of-interrupt here): one assertion, one delivery.
 */
import { PAGE_SIZE } from './memory/api.js';
import type { HypObject } from './objects.js';
import { VcpuThread } from './vcpu-thread.js';

/** A demand-paging range of the VM's IPA space (VM_SET_DEMAND_PAGING). */
export interface DemandPagingRange {
  readonly base: number;
  readonly size: number;
}

/** What a GuestVm needs from the hypervisor. */
export interface GuestVmDeps {
  /** The VM's 'vcpu' objects (any order). */
  vcpuObjects(vmid: number): HypObject[];
  /** Assert vIRQ `virq` of VM `vmid` (a host wakeup line). */
  fireVirq(vmid: number, virq: number): void;
}

export class GuestVm {
  readonly #threads = new Map<number, VcpuThread>();
  #demandPaging: DemandPagingRange[] = [];
  /** Relinquished pages, as physical page numbers (pa / 4096). */
  readonly #relinquished = new Set<number>();
  /** Pending interrupt INTIDs, in assertion order. */
  readonly #pending: number[] = [];
  /** Scratch shared by the engines of this VM's vCPUs (GuestCpu.vmShared). */
  readonly shared = new Map<string, unknown>();
  /** Set by startVm; a VM is started once per life (a reset drops this record). */
  started = false;
  /** Set when the VM halted (SYSTEM_OFF, SYSTEM_RESET, VM stop): every vCPU is exited. */
  halted = false;

  constructor(
    readonly vmid: number,
    readonly deps: GuestVmDeps,
  ) {}

  // ── vCPU threads ───────────────────────────────────────────────────────

  /** The thread of vCPU object `o` (created on first use). */
  thread(o: HypObject): VcpuThread {
    let t = this.#threads.get(o.id);
    if (!t) {
      t = new VcpuThread(o);
      // A vCPU created after the VM halted is born exited, as its siblings are.
      if (this.halted) t.exit();
      this.#threads.set(o.id, t);
    }
    return t;
  }

  /** Every vCPU thread of the VM, in affinity-index order (creating missing ones). */
  threads(): VcpuThread[] {
    return this.deps
      .vcpuObjects(this.vmid)
      .map((o) => this.thread(o))
      .sort((a, b) => a.index - b.index || a.object.id - b.object.id);
  }

  /** Forget the thread of a destroyed vCPU object. */
  dropThread(o: HypObject): void {
    this.#threads.delete(o.id);
  }

  /**
   * The vCPU a PSCI `target_cpu` names: the one whose MPIDR affinity fields (Aff3 39:32, Aff2..0
   * 23:0) equal the target's, else the one whose affinity index equals it.
   */
  findVcpu(target: bigint): VcpuThread | undefined {
    const AFF = 0xff_00ff_ffffn;
    const all = this.threads();
    return all.find((t) => (t.mpidr & AFF) === (target & AFF)) ?? all.find((t) => BigInt(t.index) === target);
  }

  /** Assert `t`'s host wakeup vIRQ (it became runnable, or must see that it halted). */
  wake(t: VcpuThread): void {
    if (t.wakeup) this.deps.fireVirq(t.wakeup.vmid, t.wakeup.virq);
  }

  /**
   * Halt the VM: every vCPU becomes exited, and every one but `caller` (the vCPU that halted it,
   * which its host is running right now) has its wakeup vIRQ asserted so that a host thread
   * sleeping on it runs it and sees POWERED_OFF with the exited flag.
   * @returns false when the VM had halted already.
   */
  halt(caller?: VcpuThread): boolean {
    if (this.halted) return false;
    this.halted = true;
    const all = this.threads();
    for (const t of all) t.exit();
    for (const t of all) if (t !== caller && !t.running) this.wake(t);
    return true;
  }

  /** True while the VM runs: it was started, has not halted, and some vCPU has not exited. */
  get running(): boolean {
    return this.started && !this.halted && this.threads().some((t) => t.power !== 'exited' && t.power !== 'killed');
  }

  // ── demand paging ─────────────────────────────────────────────────────

  setDemandPaging(ranges: readonly DemandPagingRange[]): void {
    this.#demandPaging = ranges.map((r) => ({ base: r.base, size: r.size }));
  }

  get demandPaging(): readonly DemandPagingRange[] {
    return this.#demandPaging;
  }

  /** True when `ipa` lies in one of the VM's demand-paging ranges. */
  inDemandPaging(ipa: number): boolean {
    const ranges = this.#demandPaging;
    for (let i = 0; i < ranges.length; i++) {
      const r = ranges[i]!;
      if (ipa >= r.base && ipa - r.base < r.size) return true;
    }
    return false;
  }

  // ── relinquished pages ────────────────────────────────────────────────

  /** Mark the physical pages of `[pa, pa+size)` relinquished by the guest. */
  markRelinquished(pa: number, size: number): void {
    for (let p = Math.floor(pa / PAGE_SIZE); p * PAGE_SIZE < pa + size; p++) this.#relinquished.add(p);
  }

  /** Forget relinquish marks on `[pa, pa+size)` (the pages moved again). */
  clearRelinquished(pa: number, size: number): void {
    if (this.#relinquished.size === 0) return;
    for (let p = Math.floor(pa / PAGE_SIZE); p * PAGE_SIZE < pa + size; p++) this.#relinquished.delete(p);
  }

  /** True when every page of `[pa, pa+size)` was relinquished. */
  allRelinquished(pa: number, size: number): boolean {
    if (size <= 0) return false;
    for (let p = Math.floor(pa / PAGE_SIZE); p * PAGE_SIZE < pa + size; p++) if (!this.#relinquished.has(p)) return false;
    return true;
  }

  /** How many pages are marked relinquished. */
  get relinquishedPages(): number {
    return this.#relinquished.size;
  }

  // ── interrupts ────────────────────────────────────────────────────────

  /** Make `intid` pending (once) and wake the vCPUs sleeping in `wfi`. */
  pend(intid: number): void {
    if (!this.#pending.includes(intid)) this.#pending.push(intid);
    // Only a thread that exists can sleep in `wfi`: look at those before building the ordered
    // list of every vCPU (the usual case on a running vCPU's path: nobody sleeps).
    let sleeping = false;
    for (const t of this.#threads.values()) {
      if (t.waitingForInterrupt) {
        sleeping = true;
        break;
      }
    }
    if (sleeping) for (const t of this.threads()) if (t.waitingForInterrupt) this.wake(t);
  }

  /** Withdraw a pending, undelivered `intid` (a level vIRQ was de-asserted). */
  withdraw(intid: number): void {
    const i = this.#pending.indexOf(intid);
    if (i >= 0) this.#pending.splice(i, 1);
  }

  /** Take the oldest pending interrupt, if any. */
  takeInterrupt(): number | undefined {
    return this.#pending.shift();
  }

  /** The pending INTIDs (a copy). */
  get pendingInterrupts(): number[] {
    return [...this.#pending];
  }
}
