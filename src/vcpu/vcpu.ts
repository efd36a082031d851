/**
 * One vCPU of the Linux Gunyah driver model: its run page, its internal state, its vCPU
 * resource (a ticket handler) and the GUNYAH_VCPU_RUN algorithm that turns hypervisor
 * `vcpu_run` results into run-page exits.
 *
 * Reference: uapi.md §5 (run-page layout), §6.3 (vCPU fd rows), §8.4 (RUN phases), §8.5 (each
 * vcpu_run result), §8.6 (MMIO exit), §8.7 (resume actions), §8.8 (page-fault exit), §8.9
 * (immediate_exit), §8.10 (STATUS exits); QUIRKs K7, K8, K9, K14, K15, K20, K23, K24 (§9);
 * hypervisor.md §6 (vcpu_run states, data words, VMMIO resume actions).
 *
 * Internal state (never read back from the page, which userspace may scribble on):
 *
 *   UNKNOWN ──(VM RUNNING)──▶ READY ◀──(resume applied)── MMIO_READ / MMIO_WRITE
 *      │                        │  └──(VMMIO exit)──────────────▲
 *      └─(VM not RUNNING)──▶ SYSTEM_DOWN ◀──(status check fails)┘   (final: RUN returns 0)
 *
 * RUN as a whole:
 *   entry checks ─▶ state phase ─▶ loop { immediate_exit? ─▶ vcpu_run ─▶ handle result }
 * The loop is synchronous until it has to wait: a yield (READY, BLOCKED, RETRY, unknown
 * states) waits one `setImmediate` turn so other vCPUs and timers run; a sleep (EXPECTS_WAKEUP,
 * POWERED_OFF) waits for the wakeup vIRQ, a VM status change or a kick. An MMIO exit therefore
 * returns synchronously (`run()` gives a number, not a promise), which keeps the MMIO fast path
 * free of allocations other than the hypervisor's result.
 *
 * Signals do not exist in this model: the `-ERESTARTSYS` paths of §8.4/§8.9 are unreachable
 * (the run lock and the waits are not interruptible by anything but what is listed here).
 * `immediate_exit` is the kick: it is checked before every hypervisor entry, and setting it
 * through the mapping also ends a sleep with EINTR, as the signal a VMM sends with it would.
 *
 * Dialects (README.md §Dialects): a VM whose `dialect` is 'gh' gets the rules of
 * run-dialect.ts, read at the few places they differ (`this.rules`): RUN first makes sure the
 * VM is started; there is no MMIO_WRITE state, no resume_action byte (completion is as HANDLED)
 * and no demand paging, so ADDRSPACE_PAGE_FAULT is an unknown state. The gh_ order of RUN:
 *   ensure_started (VM not RUNNING only) ─▶ removed? ─▶ run lock ─▶ resource? ─▶ state phase ─▶ loop
 */
import type { VcpuRunResult } from '../hyp/host-api.js';
import { VcpuRunState, VmmioAction } from '../hyp/host-api.js';
import { hex } from '../shared/bytes.js';
import { Errno, ErrnoError, type ErrnoName } from '../shared/errno.js';
import { HypErrorCode, hypErrorName, hypErrorToErrno } from '../shared/hyp-errors.js';
import type { Logger } from '../shared/log.js';
import { RateLimitedLog } from '../shared/rate-limit.js';
import {
  GUNYAH_VCPU_EXIT_MMIO,
  GUNYAH_VCPU_EXIT_PAGE_FAULT,
  GUNYAH_VCPU_EXIT_STATUS,
  GUNYAH_VCPU_RESUME_FAULT,
  GUNYAH_VCPU_RESUME_HANDLED,
  GUNYAH_VCPU_RESUME_RETRY,
  GUNYAH_VM_MAX_EXIT_REASON_SIZE,
  GUNYAH_VM_STATUS_CRASHED,
  GUNYAH_VM_STATUS_EXITED,
  GUNYAH_VM_STATUS_LOAD_FAILED,
  MMIO_DATA,
  MMIO_IS_WRITE,
  MMIO_LEN,
  MMIO_PHYS_ADDR,
  MMIO_RESUME_ACTION,
  PAGE_SIZE,
  PF_ATTEMPT,
  PF_PHYS_ADDR,
  PF_RESUME_ACTION,
  RUN_EXIT_REASON,
  RUN_IMMEDIATE_EXIT,
  STATUS_EXIT_TYPE,
  STATUS_REASON,
  STATUS_REASON_SIZE,
  STATUS_STATUS,
} from '../vm-mgr/uapi/index.js';
import { LinuxVmStatus, linuxVmStatusName, type TicketHandler, type VmHandle, type VmResource } from '../vm-mgr/vm-api.js';
import type { RunPageOwner } from './run-page-mapping.js';
import { mmioExitRecord, pageFaultExitRecord, statusExitRecord } from './exit-trace.js';
import { vcpuRules, type VcpuRules } from './run-dialect.js';

/** The kernel's own record of why the last RUN left (uapi.md §8.4; gh_ has no MMIO_WRITE). */
export const VcpuState = {
  UNKNOWN: 0,
  READY: 1,
  MMIO_READ: 2,
  MMIO_WRITE: 3,
  SYSTEM_DOWN: 4,
} as const;
export type VcpuState = (typeof VcpuState)[keyof typeof VcpuState];

/** Loop outcomes other than "return 0": wait one event-loop turn, or sleep for a wakeup. */
const YIELD = 1;
const SLEEP = 2;
type LoopOutcome = 0 | typeof YIELD | typeof SLEEP;

const ZERO = 0n;
const MMIO_EMULATE = BigInt(VmmioAction.EMULATE);
const MMIO_RETRY = BigInt(VmmioAction.RETRY);
const MMIO_FAULT = BigInt(VmmioAction.FAULT);
/** Largest MMIO access the run page can carry (mmio.data is 8 bytes). */
const MMIO_MAX_LEN = 8;
const MMIO_MAX_LEN_N = 8n;
/** demandPage answers: "already provided" counts as success on the MMIO and page-fault paths. */
const NEG_EAGAIN = -Errno.EAGAIN;
const NEG_ENOENT = -Errno.ENOENT;

/** Wait one event-loop turn (the kernel's `schedule()`): timers and other vCPUs run. */
function yieldTurn(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}

/** uapi.md §8.10: Linux VM status → `status.status` of a STATUS exit. */
function statusExitCode(linuxStatus: number): number {
  if (linuxStatus === LinuxVmStatus.INIT_FAILED) return GUNYAH_VM_STATUS_LOAD_FAILED;
  if (linuxStatus === LinuxVmStatus.EXITED) return GUNYAH_VM_STATUS_EXITED;
  return GUNYAH_VM_STATUS_CRASHED; // anything else, e.g. READY after a failed VM_START (QUIRK K24)
}

/**
 * One vCPU. The vCPU function (vcpu-function.ts) creates it, hands it to the VM as the ticket
 * handler of (VCPU, id), and wraps it in a VcpuFile.
 */
export class Vcpu implements TicketHandler, RunPageOwner {
  /** The run page shared with userspace (zero-filled at creation). */
  readonly page = new Uint8Array(PAGE_SIZE);
  readonly #view = new DataView(this.page.buffer, this.page.byteOffset, this.page.byteLength);
  /** 8 bytes for splitting/joining an MMIO value of `len` < 8 bytes without allocating. */
  readonly #scratch = new Uint8Array(8);
  readonly #scratchView = new DataView(this.#scratch.buffer);
  readonly #vm: VmHandle;
  /** The dialect's rules (run-dialect.ts), fixed at creation. */
  readonly rules: VcpuRules;
  /** gh_ (Android): the VM's ensure_started, called by RUN while the VM is not RUNNING. */
  readonly #ensureStarted: (() => Promise<void>) | undefined;
  readonly #log: Logger;
  readonly #warnUnknownState: RateLimitedLog;
  readonly #warnPageFault: RateLimitedLog;
  readonly #warnMmioLen: RateLimitedLog;

  #state: VcpuState = VcpuState.UNKNOWN;
  #resource: VmResource | undefined;
  #removed = false;
  /** Our copies of the MMIO exit (§8.7 uses these, not the page). */
  #mmioAddr = ZERO;
  #mmioReadLen = 0;
  /** Resume words for the next vcpu_run; cleared after every call. */
  #resume0 = ZERO;
  #resume1 = ZERO;

  /** Run lock: one RUN at a time; later callers queue in FIFO order. */
  #locked = false;
  readonly #lockWaiters: Array<() => void> = [];

  /** The wakeup completion: set by the vIRQ, a status change, unpopulate or a kick. */
  #wakePending = false;
  #sleeper: (() => void) | undefined;
  #kicked = false;
  #virqOff: (() => void) | undefined;

  constructor(
    vm: VmHandle,
    readonly id: number,
  ) {
    this.#vm = vm;
    this.rules = vcpuRules(vm.dialect);
    const ensureStarted = vm.ensureStarted;
    this.#ensureStarted = this.rules.startsVm && ensureStarted !== undefined ? ensureStarted.bind(vm) : undefined;
    this.#log = vm.log.child({ vcpu: id });
    this.#warnUnknownState = new RateLimitedLog(this.#log);
    this.#warnPageFault = new RateLimitedLog(this.#log);
    this.#warnMmioLen = new RateLimitedLog(this.#log);
  }

  /** The kernel's internal state (for inspection and tests). */
  get state(): VcpuState {
    return this.#state;
  }

  /** The vCPU resource from the RM, once populated. */
  get resource(): VmResource | undefined {
    return this.#resource;
  }

  /** True once the vCPU function was removed: RUN gives ENODEV for good. */
  get removed(): boolean {
    return this.#removed;
  }

  /** True while a RUN holds the run lock. */
  get running(): boolean {
    return this.#locked;
  }

  /** True while a RUN sleeps for a wakeup (EXPECTS_WAKEUP or POWERED_OFF). */
  get sleeping(): boolean {
    return this.#sleeper !== undefined;
  }

  // ── resource ticket (VCPU, id) ───────────────────────────────────────────

  /** A vCPU resource arrived: keep it and listen to its wakeup vIRQ. A second one is refused. */
  populate(res: VmResource): boolean {
    if (this.#resource !== undefined) {
      this.#log.warn({ capId: res.capId }, 'vCPU already has a resource; check for two resources with the same label');
      return false;
    }
    this.#resource = res;
    this.#wakePending = false; // a fresh completion
    if (res.virq === 0) {
      // QUIRK K20: without its wakeup interrupt the resource stays attached; a sleeping RUN is
      // then woken only by a VM status change (or, here, a kick).
      this.#log.warn('vCPU resource has no wakeup vIRQ');
      return true;
    }
    try {
      this.#virqOff = this.#vm.hyp.onVirq(res.virq, () => this.#wake());
    } catch (err) {
      this.#log.warn({ err, virq: res.virq }, 'failed to request the vCPU wakeup vIRQ'); // QUIRK K20
    }
    return true;
  }

  /**
   * The resource goes (ticket removed, or teardown). Linux sets `immediate_exit` in the run
   * page and wakes a sleeping RUN, so a RUN in progress ends with EINTR; the resource is then
   * dropped. (Linux waits for the run lock before dropping it; here a RUN that resumes finds
   * `immediate_exit` set first, and ENODEV should userspace clear it in between.)
   */
  unpopulate(res: VmResource): void {
    if (this.#resource !== res) return;
    this.page[RUN_IMMEDIATE_EXIT] = 1;
    this.#wake();
    this.#virqOff?.();
    this.#virqOff = undefined;
    this.#resource = undefined;
  }

  // ── wakeups ─────────────────────────────────────────────────────────────

  /**
   * A VM status change. Linux completes the vCPU's wakeup only for VM_EXITED (its RM notifier),
   * so only a change that leaves the VM not RUNNING wakes a sleeping RUN to re-check the status;
   * the change to RUNNING at start is not a wakeup.
   */
  statusChanged(): void {
    if (this.#vm.status !== LinuxVmStatus.RUNNING) this.#wake();
  }

  /** The VMM's kick: a RUN sleeping for a wakeup returns EINTR (models the signal). */
  kick(): void {
    if (this.#sleeper === undefined) return;
    this.#kicked = true;
    this.#wake();
  }

  /** The vCPU function was removed: RUN gives ENODEV from now on. */
  markRemoved(): void {
    this.#removed = true;
    this.#wake();
  }

  /** complete(): remember the wakeup, and end the sleep if a RUN sleeps. */
  #wake(): void {
    this.#wakePending = true;
    const s = this.#sleeper;
    if (s !== undefined) {
      this.#sleeper = undefined;
      s();
    }
  }

  /** wait_for_completion, then reinit_completion. */
  async #sleep(): Promise<void> {
    if (!this.#wakePending) await new Promise<void>((resolve) => (this.#sleeper = resolve));
    this.#wakePending = false;
  }

  // ── GUNYAH_VCPU_RUN ─────────────────────────────────────────────────────

  /**
   * GUNYAH_VCPU_RUN (uapi.md §8.4). Returns 0 synchronously when the exit needs no wait (the
   * MMIO fast path), otherwise a promise of 0. The exit is in the run page.
   * @throws ErrnoError ENODEV (removed, or no resource; gh_: the VM is not RUNNING after
   *   ensure_started), EINVAL (v17: bad MMIO resume action), EINTR (immediate_exit), the
   *   remapped hypervisor error (e.g. EBUSY), or (gh_) the errno of a VM start that failed
   */
  run(): number | Promise<number> {
    // gh_: ensure_started comes first. It returns at once for a RUNNING VM, so only a VM that
    // is not RUNNING takes the asynchronous path and the MMIO fast path stays synchronous.
    if (this.#ensureStarted !== undefined && this.#vm.status !== LinuxVmStatus.RUNNING) return this.#startThenRun();
    return this.#lockAndRun();
  }

  /** gh_: start the VM if it never was (its errno is RUN's), then ENODEV unless it now runs. */
  async #startThenRun(): Promise<number> {
    await this.#ensureStarted?.();
    const status = this.#vm.status;
    if (status !== LinuxVmStatus.RUNNING) throw new ErrnoError('ENODEV', `VM is not running (${linuxVmStatusName(status)})`);
    return this.#lockAndRun();
  }

  /** §8.4 entry: the removed check, then the run lock. */
  #lockAndRun(): number | Promise<number> {
    if (this.#removed) throw new ErrnoError('ENODEV', `vCPU ${this.id} was removed`);
    if (this.#locked) return this.#runQueued();
    this.#locked = true;
    return this.#runLocked();
  }

  /** Wait for the run lock, then run. */
  async #runQueued(): Promise<number> {
    await new Promise<void>((resolve) => this.#lockWaiters.push(resolve));
    return this.#runLocked();
  }

  /** Holding the run lock: run, and release it when RUN ends (now or after the waits). */
  #runLocked(): number | Promise<number> {
    let outcome: LoopOutcome;
    try {
      outcome = this.#enter();
    } catch (err) {
      this.#unlock();
      throw err;
    }
    if (outcome === 0) {
      this.#unlock();
      return 0;
    }
    return this.#drive(outcome);
  }

  /** Hand the run lock to the next queued RUN, or free it. */
  #unlock(): void {
    const next = this.#lockWaiters.shift();
    if (next !== undefined) next();
    else this.#locked = false;
  }

  /** §8.4 entry checks after the lock, and the state phase; then the loop. */
  #enter(): LoopOutcome {
    if (this.#resource === undefined) throw new ErrnoError('ENODEV', `vCPU ${this.id} has no resource (VM not started?)`);
    // Resume words live for one RUN (a local in Linux): words an EINTR left behind are gone.
    this.#resume0 = ZERO;
    this.#resume1 = ZERO;
    switch (this.#state) {
      case VcpuState.UNKNOWN:
        if (this.#vm.status !== LinuxVmStatus.RUNNING) {
          this.#statusExit();
          return 0;
        }
        this.#state = VcpuState.READY;
        break;
      case VcpuState.MMIO_READ:
      case VcpuState.MMIO_WRITE:
        if (!this.#vm.quirks.k23ResumeLostOnEintr && this.page[RUN_IMMEDIATE_EXIT] !== 0) {
          // K23 off: refuse before consuming the resume, so the next RUN applies it.
          if (this.rules.resumeAction && this.page[MMIO_RESUME_ACTION]! > GUNYAH_VCPU_RESUME_RETRY) throw this.#badResume();
          throw new ErrnoError('EINTR', 'immediate_exit is set');
        }
        // QUIRK K23 (on): the resume is consumed here, before the immediate_exit check, so an
        // EINTR below loses it and the guest continues with resume words 0.
        this.#applyResume();
        this.#state = VcpuState.READY;
        break;
      case VcpuState.SYSTEM_DOWN:
        this.#vm.trace?.emit(statusExitRecord(this.#vm, this.id, this.page, true));
        return 0; // §8.10: the exit repeats; the page is not touched
      default:
        break;
    }
    return this.#loop();
  }

  /** After a wait: re-enter the loop until RUN can return. */
  async #drive(first: LoopOutcome): Promise<number> {
    let outcome = first;
    try {
      while (outcome !== 0) {
        if (outcome === YIELD) {
          await yieldTurn();
        } else {
          await this.#sleep();
          if (this.#kicked) {
            this.#kicked = false;
            throw new ErrnoError('EINTR', 'kicked while waiting for a wakeup');
          }
          // The wakeup may have been the VM exiting (§8.5 EXPECTS_WAKEUP row).
          if (this.#vm.status !== LinuxVmStatus.RUNNING) {
            this.#statusExit();
            return 0;
          }
        }
        outcome = this.#loop();
      }
      return 0;
    } finally {
      this.#kicked = false;
      this.#unlock();
    }
  }

  /**
   * §8.4 loop: enter the hypervisor until an exit for userspace (0), a wait (YIELD, SLEEP) or
   * an error (thrown).
   */
  #loop(): LoopOutcome {
    const page = this.page;
    const vm = this.#vm;
    const hyp = vm.hyp;
    for (;;) {
      if (page[RUN_IMMEDIATE_EXIT] !== 0) throw new ErrnoError('EINTR', 'immediate_exit is set');
      const res = this.#resource;
      if (res === undefined) throw new ErrnoError('ENODEV', `vCPU ${this.id} lost its resource`);
      const r = hyp.vcpuRun(res.capId, this.#resume0, this.#resume1, ZERO);
      this.#resume0 = ZERO;
      this.#resume1 = ZERO;
      if (r.error !== HypErrorCode.OK) {
        if (r.error === HypErrorCode.ERROR_RETRY) return YIELD;
        const code: ErrnoName = hypErrorToErrno(r.error) ?? 'EINVAL';
        throw new ErrnoError(code, `vcpu_run failed: ${hypErrorName(r.error) ?? r.error}`);
      }
      switch (r.state) {
        case VcpuRunState.READY:
        case VcpuRunState.BLOCKED:
          return YIELD;
        case VcpuRunState.EXPECTS_WAKEUP:
          return SLEEP;
        case VcpuRunState.POWERED_OFF:
          if (vm.status !== LinuxVmStatus.RUNNING) {
            this.#statusExit();
            return 0;
          }
          return SLEEP; // e.g. PSCI CPU_OFF: wait for CPU_ON's wakeup
        case VcpuRunState.ADDRSPACE_VMMIO_READ:
          if (this.#mmioExit(r, false)) return 0;
          break;
        case VcpuRunState.ADDRSPACE_VMMIO_WRITE:
          if (this.#mmioExit(r, true)) return 0;
          break;
        case VcpuRunState.ADDRSPACE_PAGE_FAULT:
          if (!this.rules.demandPaging) return this.#unknownState(r.state); // gh_: no page-fault arm
          if (this.#pageFaultExit(r)) return 0;
          break;
        default:
          return this.#unknownState(r.state);
      }
    }
  }

  /**
   * QUIRK K14: FAULT (6), PSCI_SYSTEM_RESET (0x100), in gh_ ADDRSPACE_PAGE_FAULT (7), and
   * anything else spin until the state changes or immediate_exit is set.
   * @throws ErrnoError EINVAL with K14 off
   */
  #unknownState(state: number): LoopOutcome {
    this.#warnUnknownState.emit({ state: hex(state) }, 'unknown vCPU state');
    if (!this.#vm.quirks.k14SpinOnUnknownState) throw new ErrnoError('EINVAL', `unknown vCPU state ${hex(state)}`);
    return YIELD;
  }

  /**
   * §8.7: turn the page's resume action into resume words. gh_ has no resume action: it
   * completes as HANDLED does (a read's value from mmio.data, word 1 EMULATE).
   * @throws ErrnoError EINVAL
   */
  #applyResume(): void {
    const action = this.rules.resumeAction ? this.page[MMIO_RESUME_ACTION] : GUNYAH_VCPU_RESUME_HANDLED;
    switch (action) {
      case GUNYAH_VCPU_RESUME_HANDLED:
        if (this.#state === VcpuState.MMIO_READ) this.#resume0 = this.#readMmioData(Math.min(this.#mmioReadLen, MMIO_MAX_LEN));
        this.#resume1 = MMIO_EMULATE;
        break;
      case GUNYAH_VCPU_RESUME_FAULT:
        this.#resume1 = MMIO_FAULT;
        break;
      case GUNYAH_VCPU_RESUME_RETRY:
        // Try to page the address in first; the result does not matter (§8.7).
        this.#vm.demandPage(this.#mmioAddr, this.#state === VcpuState.MMIO_WRITE);
        this.#resume1 = MMIO_RETRY;
        break;
      default:
        throw this.#badResume();
    }
  }

  #badResume(): ErrnoError {
    return new ErrnoError('EINVAL', `mmio.resume_action ${this.page[MMIO_RESUME_ACTION]} is not 0, 1 or 2`);
  }

  /**
   * §8.6: a VMMIO fault (data words: 0 address, 1 size, 2 written value). Returns true when
   * RUN returns with an MMIO exit, false when the loop goes on (memory paged in, or an
   * ioeventfd took the write). gh_: no demand paging, the state stays READY after a write,
   * and byte 37 is not written.
   */
  #mmioExit(r: VcpuRunResult, isWrite: boolean): boolean {
    const page = this.page;
    const view = this.#view;
    const vm = this.#vm;
    const rules = this.rules;
    const addr = r.data0;
    let len: number;
    if (r.data1 > MMIO_MAX_LEN_N) {
      this.#warnMmioLen.emit({ addr: hex(addr), len: r.data1.toString() }, 'MMIO access larger than 8 bytes; clamped');
      len = MMIO_MAX_LEN;
    } else {
      len = Number(r.data1);
    }
    if (rules.demandPaging) {
      // QUIRK K8: the write flag passed to demand paging is the page's stale is_write byte.
      const pagingWrite = vm.quirks.k8StaleIsWrite ? page[MMIO_IS_WRITE] !== 0 : isWrite;
      const paged = vm.demandPage(addr, pagingWrite);
      if (paged === 0 || paged === NEG_EAGAIN) {
        this.#resume1 = MMIO_RETRY;
        return false;
      }
    }
    if (!isWrite) {
      page[MMIO_IS_WRITE] = 0; // mmio.data keeps its old bytes
      this.#state = VcpuState.MMIO_READ;
      this.#mmioReadLen = len;
    } else {
      if (vm.ioeventfdWrite(addr, len, r.data2)) {
        // QUIRK K9: Linux puts EMULATE (0) in word 0 instead of word 1; both words are 0.
        this.#resume0 = MMIO_EMULATE;
        return false;
      }
      page[MMIO_IS_WRITE] = 1;
      this.#writeMmioData(r.data2, len);
      if (rules.mmioWriteState) this.#state = VcpuState.MMIO_WRITE; // gh_: stays READY
    }
    if (rules.resumeAction) page[MMIO_RESUME_ACTION] = GUNYAH_VCPU_RESUME_HANDLED;
    view.setBigUint64(MMIO_PHYS_ADDR, addr, true);
    view.setUint32(MMIO_LEN, len, true);
    view.setUint32(RUN_EXIT_REASON, GUNYAH_VCPU_EXIT_MMIO, true);
    this.#mmioAddr = addr;
    vm.trace?.emit(mmioExitRecord(vm, this.id, addr, len, isWrite, r.data2));
    return true;
  }

  /** Copy the low `len` bytes of `value` into mmio.data, little-endian; other bytes stay. */
  #writeMmioData(value: bigint, len: number): void {
    if (len === MMIO_MAX_LEN) {
      this.#view.setBigUint64(MMIO_DATA, value, true);
      return;
    }
    this.#scratchView.setBigUint64(0, value, true);
    const page = this.page;
    const scratch = this.#scratch;
    for (let i = 0; i < len; i++) page[MMIO_DATA + i] = scratch[i]!;
  }

  /** The first `len` bytes of mmio.data as a little-endian u64. */
  #readMmioData(len: number): bigint {
    if (len === MMIO_MAX_LEN) return this.#view.getBigUint64(MMIO_DATA, true);
    const page = this.page;
    const scratch = this.#scratch;
    scratch.fill(0);
    for (let i = 0; i < len; i++) scratch[i] = page[MMIO_DATA + i]!;
    return this.#scratchView.getBigUint64(0, true);
  }

  /**
   * §8.8: a stage-2 fault the hypervisor hands to the host (data words: 0 address, 1 write).
   * Returns true when RUN returns with a PAGE_FAULT exit. The state stays READY, so the next
   * RUN re-enters with zero resume words and `page_fault.resume_action` is ignored (QUIRK K7;
   * the quirk switch has no "off" behaviour to model).
   */
  #pageFaultExit(r: VcpuRunResult): boolean {
    const addr = r.data0;
    const err = this.#vm.demandPage(addr, r.data1 !== ZERO);
    if (err === 0 || err === NEG_EAGAIN) return false;
    if (err !== NEG_ENOENT) this.#warnPageFault.emit({ addr: hex(addr), err }, 'failed to provide guest memory');
    const view = this.#view;
    this.page[PF_RESUME_ACTION] = GUNYAH_VCPU_RESUME_FAULT;
    view.setInt32(PF_ATTEMPT, err, true);
    view.setBigUint64(PF_PHYS_ADDR, addr, true);
    view.setUint32(RUN_EXIT_REASON, GUNYAH_VCPU_EXIT_PAGE_FAULT, true);
    this.#vm.trace?.emit(pageFaultExitRecord(this.#vm, this.id, addr, err));
    return true;
  }

  /** §8.10 status check, when the VM is not RUNNING: the STATUS exit, then SYSTEM_DOWN. */
  #statusExit(): void {
    const vm = this.#vm;
    const view = this.#view;
    const page = this.page;
    const info = vm.exitInfo;
    const status = statusExitCode(vm.status);
    view.setUint32(STATUS_STATUS, status, true);
    // exit_info is copied whole: type, padding (0), reason_size (not clamped: QUIRK K15), reason[8].
    view.setUint16(STATUS_EXIT_TYPE, info.type & 0xffff, true);
    view.setUint16(STATUS_EXIT_TYPE + 2, 0, true);
    view.setUint32(STATUS_REASON_SIZE, info.reasonSize >>> 0, true);
    for (let i = 0; i < GUNYAH_VM_MAX_EXIT_REASON_SIZE; i++) page[STATUS_REASON + i] = info.reason[i] ?? 0;
    view.setUint32(RUN_EXIT_REASON, GUNYAH_VCPU_EXIT_STATUS, true);
    this.#state = VcpuState.SYSTEM_DOWN;
    vm.trace?.emit(statusExitRecord(vm, this.id, page));
  }
}
