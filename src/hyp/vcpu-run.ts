/**
 * `vcpu_run` for one proxy-scheduled vCPU: consume the resume words of the previous exit, then
 * run the guest engine's operations until one needs the host (or the op budget is spent) and
 * answer the run state with its data words.
 *
 * Reference: hypervisor.md §6 (errors, states and data words, VMMIO resume actions EMULATE 0 /
 * RETRY 1 / FAULT 2, page fault state 7), §7 (VMMIO trap: a stage-2 translation fault on a
 * proxy-scheduled vCPU), §8 (stage-2 rights R 4 W 2 X 1); uapi.md §8.4–§8.8 (how the Linux
 * driver consumes each state); src/guest/api.ts (the operations and their results).
 *
 * One operation, as stage 2 of the vCPU's VM sees it:
 *
 *   load/store  mapped with the right ───────────────────▶ real bytes (little-endian), continue
 *               fault inside a demand-paging range ───────▶ ADDRSPACE_PAGE_FAULT (ipa, write?)
 *               unmapped, outside ────────────────────────▶ ADDRSPACE_VMMIO_READ / _WRITE
 *               mapped without the right, outside ────────▶ permission data abort into the guest
 *   fetch       X mapped ───▶ bytes in cpu.fetched; unmapped in demand paging ───▶ PAGE_FAULT;
 *               otherwise a translation (unmapped) or permission abort into the guest
 *   hvc         the HVC table (psci.ts): returns X0, or stops the vCPU (CPU_OFF, SYSTEM_*)
 *   wfi         an interrupt pending on the VM → resumes with its INTID; else EXPECTS_WAKEUP
 *   spin        READY (the vCPU stays runnable)
 *
 * Decisions (docs): the VMMIO exit reports the access's own address; the page-fault exit reports
 * the first faulting byte (so an access straddling a provided page and a missing one asks for
 * the missing one). An address that is not a non-negative safe integer is a translation fault.
 * A VMMIO FAULT resume injects a synchronous external abort (WnR set for a write). An unknown
 * resume action is ERROR_ARGUMENT_INVALID and leaves the exit pending. An engine that returns
 * (the generator finishes) powers its vCPU off as CPU_OFF would. An engine that throws kills its
 * vCPU: state FAULT once, then POWERED_OFF with the exited flag.
 */
import { Esr, GuestException, type BootGuest, type GuestOp } from '../guest/api.js';
import { HypErrorCode } from '../shared/hyp-errors.js';
import { VcpuRunState, VmmioAction, type VcpuRunResult } from './host-api.js';
import type { MemFaultInfo } from './memory/api.js';
import { handleHvc, type HvcEnv } from './psci.js';
import { VcpuCpu, type DataOp, type GuestInput, type VcpuThread } from './vcpu-thread.js';

/** Default number of guest operations one `vcpu_run` executes before answering READY. */
export const DEFAULT_RUN_BUDGET = 1024;

/** What a run needs from the hypervisor. */
export interface RunEnv extends HvcEnv {
  /** Guest operations per call before READY (≥ 1). */
  readonly budget: number;
  /** Starts the engine of a vCPU at its first run after a power-on (src/guest/boot.ts). */
  readonly bootGuest: BootGuest;
  /** The vCPU's engine threw: it is dead (already exited); tell whoever must know. */
  onFault(t: VcpuThread, err: unknown): void;
}

const result = (state: number, data0 = 0n, data1 = 0n, data2 = 0n): VcpuRunResult => ({ error: 0, state, data0, data1, data2 });
const failure = (code: number): VcpuRunResult => ({ error: code, state: 0, data0: 0n, data1: 0n, data2: 0n });

const READY = result(VcpuRunState.READY);
/** EXPECTS_WAKEUP: sleep state 0 (WFI), woken from 1 (WFI). */
const WFI_SLEEP = result(VcpuRunState.EXPECTS_WAKEUP, 0n, 1n);

/** The guest input "carry on with this value" after an operation. */
const valueInput = (value: bigint): GuestInput => ({ kind: 'value', value });
/** The input after a store that completed (the value 0; inputs are never modified). */
const STORED: GuestInput = { kind: 'value', value: 0n };
/** The guest input "take this synchronous exception" after an operation. */
const raise = (esr: bigint, far: number, why: string): GuestInput => ({ kind: 'throw', exc: new GuestException(esr, BigInt(far), why) });

const EMULATE = BigInt(VmmioAction.EMULATE);
const RETRY = BigInt(VmmioAction.RETRY);
const FAULT = BigInt(VmmioAction.FAULT);
const MASK64 = (1n << 64n) - 1n;
/** BigInt(n) for n = 0..8. */
const BIG_LENS: readonly bigint[] = Array.from({ length: 9 }, (_, n) => BigInt(n));
/** sizeMask of lengths 0..7. */
const SMALL_MASKS: readonly bigint[] = Array.from({ length: 8 }, (_, n) => (1n << BigInt(8 * n)) - 1n);

/**
 * vcpu_run of thread `t` with resume words `r0..r2` (the capability was checked by the caller).
 * Never throws for anything the guest or the host does.
 */
export function runVcpu(env: RunEnv, t: VcpuThread, r0: bigint, r1: bigint, _r2: bigint): VcpuRunResult {
  if (t.power === 'killed') return failure(HypErrorCode.ERROR_OBJECT_STATE);
  // Run lock: in one JS thread a second run can only come re-entrantly (from a vIRQ handler).
  if (t.running) return failure(HypErrorCode.ERROR_BUSY);
  t.running = true;
  try {
    return runLocked(env, t, r0, r1);
  } finally {
    t.running = false;
  }
}

function runLocked(env: RunEnv, t: VcpuThread, r0: bigint, r1: bigint): VcpuRunResult {
  if (t.power === 'off') return result(VcpuRunState.POWERED_OFF, 0n);
  if (t.power === 'exited') return result(VcpuRunState.POWERED_OFF, 1n);

  // Finish the exit the host just handled.
  const a = t.awaiting;
  if (a !== undefined) {
    if (a.kind === 'wfi') {
      const irq = env.vm.takeInterrupt();
      if (irq === undefined) return WFI_SLEEP;
      t.input = { kind: 'value', value: BigInt(irq) };
    } else if (a.kind === 'page-fault') {
      t.input = { kind: 'replay', op: a.op };
    } else {
      const input = vmmioResume(a.op, r0, r1);
      if (input === undefined) return failure(HypErrorCode.ERROR_ARGUMENT_INVALID);
      t.input = input;
    }
    t.awaiting = undefined;
  }

  if (t.guest === undefined) {
    t.cpu = new VcpuCpu(t.index, t.entry, t.context, t.bootRegs, env.vm.shared);
    try {
      t.guest = env.bootGuest(t.cpu);
    } catch (err) {
      return died(env, t, err);
    }
  }

  for (let ops = 0; ; ops++) {
    let op: GuestOp;
    const input = t.input;
    if (input.kind === 'replay') {
      op = input.op;
    } else {
      if (ops >= env.budget) return READY;
      let step: IteratorResult<GuestOp, void>;
      try {
        step = input.kind === 'throw' ? t.guest.throw(input.exc) : t.guest.next(input.value);
      } catch (err) {
        return died(env, t, err);
      }
      if (step.done === true) {
        // The engine finished: nothing more to run on this vCPU, as after CPU_OFF.
        t.powerOff();
        return result(VcpuRunState.POWERED_OFF, 0n);
      }
      op = step.value;
    }
    const stopped = execute(env, t, op);
    if (stopped !== undefined) return stopped;
  }
}

/** The guest input that ends a VMMIO exit given resume words 0 and 1; undefined for a bad action. */
function vmmioResume(op: DataOp, r0: bigint, r1: bigint): GuestInput | undefined {
  if (r1 === EMULATE) return valueInput(op.kind === 'load' ? loadValue(r0, op.len) : 0n);
  if (r1 === RETRY) return { kind: 'replay', op };
  if (r1 === FAULT) {
    const esr = Esr.DATA_ABORT_EXTERNAL | (op.kind === 'store' ? Esr.WNR : 0n);
    return { kind: 'throw', exc: new GuestException(esr, BigInt(op.addr), 'the VMM failed the MMIO access') };
  }
  return undefined;
}

/**
 * Execute one operation. Returns the run state when the vCPU stops; otherwise sets the next
 * input of the engine (`t.input`) and returns undefined.
 */
function execute(env: RunEnv, t: VcpuThread, op: GuestOp): VcpuRunResult | undefined {
  switch (op.kind) {
    case 'load':
    case 'store':
      return dataAccess(env, t, op);
    case 'fetch':
      return fetch(env, t, op);
    case 'hvc': {
      const out = handleHvc(env, t, op.fn, op.args);
      if (out.kind !== 'return') return result(out.state, out.data0, out.data1);
      t.input = valueInput(out.x0);
      return undefined;
    }
    case 'wfi': {
      const irq = env.vm.takeInterrupt();
      if (irq !== undefined) {
        t.input = valueInput(BigInt(irq));
        return undefined;
      }
      t.awaiting = { kind: 'wfi' };
      return WFI_SLEEP;
    }
    case 'spin':
      t.input = valueInput(0n);
      return READY;
    default:
      return unknownOp(op);
  }
}

/** Every operation kind is handled above; an engine outside the type system gets a TypeError. */
function unknownOp(op: never): never {
  throw new TypeError(`unknown guest operation ${JSON.stringify(op)}`);
}

function dataAccess(env: RunEnv, t: VcpuThread, op: DataOp): VcpuRunResult | undefined {
  const write = op.kind === 'store';
  const vmid = env.vm.vmid;
  if (!validAddress(op.addr, op.len)) {
    t.input = raise(Esr.DATA_ABORT_TRANSLATION | (write ? Esr.WNR : 0n), 0, `bad address ${String(op.addr)}`);
    return undefined;
  }
  // One stage-2 check and the access itself (the memory model converts the little-endian value).
  let fault: MemFaultInfo;
  if (write) {
    const f = env.memory.storeLe(vmid, op.addr, op.len, op.value);
    if (f === undefined) {
      t.input = STORED;
      return undefined;
    }
    fault = f;
  } else {
    const v = env.memory.loadLe(vmid, op.addr, op.len);
    if (typeof v === 'bigint') {
      t.input = valueInput(v);
      return undefined;
    }
    fault = v;
  }
  if (env.vm.inDemandPaging(fault.ipa)) return pageFault(t, op, fault, write);
  if (fault.reason === 'unmapped') {
    t.awaiting = { kind: 'vmmio', op };
    return write
      ? result(VcpuRunState.ADDRSPACE_VMMIO_WRITE, BigInt(op.addr), bigLen(op.len), op.value & sizeMask(op.len))
      : result(VcpuRunState.ADDRSPACE_VMMIO_READ, BigInt(op.addr), bigLen(op.len));
  }
  t.input = raise(Esr.DATA_ABORT_PERMISSION | (write ? Esr.WNR : 0n), fault.ipa, `${fault.kind} permission fault`);
  return undefined;
}

function fetch(env: RunEnv, t: VcpuThread, op: Extract<GuestOp, { kind: 'fetch' }>): VcpuRunResult | undefined {
  const vmid = env.vm.vmid;
  if (!validAddress(op.addr, op.len)) {
    t.input = raise(Esr.DATA_ABORT_TRANSLATION, 0, `bad fetch address ${String(op.addr)}`);
    return undefined;
  }
  const fault = env.memory.check(vmid, op.addr, op.len, 'exec');
  if (fault === undefined) {
    // Execute-only mappings are legal: read through the translation, not the R-checked path.
    const bytes = new Uint8Array(op.len);
    for (const p of env.memory.translate(vmid, op.addr, op.len)) bytes.set(env.memory.readPhys(p.pa, p.size), p.ipa - op.addr);
    t.cpu!.fetched = bytes;
    t.input = valueInput(0n);
    return undefined;
  }
  if (fault.reason === 'unmapped' && env.vm.inDemandPaging(fault.ipa)) return pageFault(t, op, fault, false);
  // The host's demand paging never grants X to a page it could not provide: no page fault for it.
  const esr = fault.reason === 'unmapped' ? Esr.DATA_ABORT_TRANSLATION : Esr.DATA_ABORT_PERMISSION;
  t.input = raise(esr, fault.ipa, `instruction fetch ${fault.reason}`);
  return undefined;
}

function pageFault(t: VcpuThread, op: GuestOp, fault: MemFaultInfo, write: boolean): VcpuRunResult {
  t.awaiting = { kind: 'page-fault', op };
  return result(VcpuRunState.ADDRSPACE_PAGE_FAULT, BigInt(fault.ipa), write ? 1n : 0n);
}

/** The engine threw: the vCPU is dead. FAULT now, POWERED_OFF exited afterwards. */
function died(env: RunEnv, t: VcpuThread, err: unknown): VcpuRunResult {
  t.exit();
  t.lastFault = err;
  env.onFault(t, err);
  return result(VcpuRunState.FAULT);
}

function validAddress(addr: number, len: number): boolean {
  return Number.isSafeInteger(addr) && addr >= 0 && Number.isSafeInteger(len) && len >= 0 && addr + len <= 2 ** 52;
}

/** `r0` cut to a `len`-byte load (a value already in range is kept: no new bigint). */
function loadValue(r0: bigint, len: number): bigint {
  if (len >= 8 && r0 >= 0n && r0 <= MASK64) return r0;
  return r0 & sizeMask(len);
}

/** BigInt(len), from a table for the access sizes 0..8. */
function bigLen(len: number): bigint {
  return BIG_LENS[len] ?? BigInt(len);
}

function sizeMask(len: number): bigint {
  if (len >= 8) return MASK64;
  return SMALL_MASKS[len] ?? (1n << BigInt(8 * len)) - 1n;
}

