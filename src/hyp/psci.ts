/**
 * The guest's HVC table: what `HVC #0` does for a guest vCPU. PSCI (power management), the
 * SMCCC version query, and the Gunyah vendor call 0xC6008069 (page relinquish) that
 * quic/gunyah-test-vmm guests use; other Gunyah calls go to the hypervisor's guest hypercall hook
 * (`gunyahCall`: the doorbell calls). Everything else answers SMCCC NOT_SUPPORTED (−1, which is
 * also Gunyah's ERROR_UNIMPLEMENTED).
 *
 * Reference: hypervisor.md §1 (SMCCC form of calls), §2 (0x69 "unverified"), §6 (state
 * PSCI_SYSTEM_RESET 0x100: data0 bits 31:0 reset type, bit 62 SMC64, bit 63 plain SYSTEM_RESET;
 * data1 cookie); rm-rpc.md §15.1 / §15.5 (exit types and reason words); vmm-flows.md §6.6
 * (power_on_cell, power_off, page_relinquish as the holding cell issues them). Function IDs
 * and return codes are the Arm PSCI 1.1 / SMCCC 1.1 numbers.
 *
 * Decisions (docs):
 * - PSCI_VERSION answers 1.1 (0x0001_0001): SYSTEM_RESET2 and PSCI_FEATURES are 1.1 calls.
 * - SMCCC_VERSION answers 1.1 (0x0001_0001).
 * - Results are 64-bit X0 values; negative PSCI codes are sign-extended (−1 → 0xFFFF…FFFF)
 *   for SMC32 calls too.
 * - SMC32 calls (0x84…) see their arguments truncated to 32 bits.
 * - CPU_ON (0x84000003 / 0xC4000003): target by MPIDR affinity, else by affinity index;
 *   unknown → INVALID_PARAMETERS; the caller itself or a vCPU already on → ALREADY_ON; an
 *   exited or killed target → INTERNAL_FAILURE. Success powers the target on (a fresh engine at
 *   `entry`, X0 = `context`) and asserts its host wakeup vIRQ.
 * - CPU_OFF: the caller powers off (recoverable, POWERED_OFF with exited 0); it does not return.
 * - SYSTEM_OFF / SYSTEM_RESET / SYSTEM_RESET2: the whole VM halts (every vCPU exited) and the
 *   RM is told (`haltVm`). SYSTEM_RESET2 with an architectural reset type other than 0
 *   (bit 31 clear) is INVALID_PARAMETERS, as PSCI 1.1 says; vendor types (bit 31 set) are taken.
 * - 0xC6008069 page relinquish (args 0, addr, size, flags): flags bit 0 "relinquish" (always
 *   set by the test VMM, not required), bit 1 sanitize, bit 2 flush; other bits or a non-zero
 *   first argument → ERROR_ARGUMENT_INVALID. size 0 is accepted only as a flush-only call
 *   (→ 0); otherwise size 0 → ERROR_ARGUMENT_SIZE, misalignment → ERROR_ARGUMENT_ALIGNMENT,
 *   any page of the range not mapped to memory in the guest's stage 2 → ERROR_ADDR_INVALID
 *   (nothing marked). Success marks the physical pages relinquished (a later FROM_PROTECTED
 *   donate of them succeeds while the VM runs), zeroes them when sanitize is set, returns 0.
 *   The mapping stays: the host's reclaim unmaps it.
 */
import { HypErrorCode } from '../shared/hyp-errors.js';
import { VcpuRunState } from './host-api.js';
import { PAGE_SIZE, type MemoryModel } from './memory/api.js';
import type { GuestVm } from './guest-vm.js';
import type { VcpuThread } from './vcpu-thread.js';

/** SMCCC / PSCI function IDs handled here. */
export const HvcFn = {
  SMCCC_VERSION: 0x8000_0000,
  PSCI_VERSION: 0x8400_0000,
  CPU_OFF: 0x8400_0002,
  CPU_ON_32: 0x8400_0003,
  CPU_ON_64: 0xc400_0003,
  AFFINITY_INFO_32: 0x8400_0004,
  AFFINITY_INFO_64: 0xc400_0004,
  SYSTEM_OFF: 0x8400_0008,
  SYSTEM_RESET: 0x8400_0009,
  PSCI_FEATURES: 0x8400_000a,
  SYSTEM_RESET2_32: 0x8400_0012,
  SYSTEM_RESET2_64: 0xc400_0012,
  /** Gunyah vendor call n = 0x69 (unverified; vmm-flows.md §6.6). */
  PAGE_RELINQUISH: 0xc600_8069,
} as const;

/** PSCI return codes. */
export const PsciRet = {
  SUCCESS: 0,
  NOT_SUPPORTED: -1,
  INVALID_PARAMETERS: -2,
  DENIED: -3,
  ALREADY_ON: -4,
  ON_PENDING: -5,
  INTERNAL_FAILURE: -6,
} as const;

/** PSCI 1.1 and SMCCC 1.1, as major << 16 | minor. */
export const PSCI_VERSION_1_1 = 0x0001_0001;
export const SMCCC_VERSION_1_1 = 0x0001_0001;

/** Relinquish flags (vmm-flows.md §6.6). */
export const RelinquishFlag = { RELINQUISH: 0x1, SANITIZE: 0x2, FLUSH: 0x4 } as const;

/** RM exit types a guest can cause through the hypervisor (rm-rpc.md §15.1). */
export const VmExitType = { PLATFORM_OFF: 1, PLATFORM_RESET: 2, PSCI_SYSTEM_RESET2: 3, SOFTWARE_ERROR: 5 } as const;
/** Reason word 0: exit_flags bits 15:0 | exit_code << 16 (rm-rpc.md §15.1). */
export const ExitReasonFlag = { SMC64: 1 << 15 } as const;

/** data0 bits of the PSCI_SYSTEM_RESET run state (hypervisor.md §6). */
export const RESET_DATA0_SMC64 = 1n << 62n;
export const RESET_DATA0_PLAIN = 1n << 63n;

/** Gunyah hypercalls in SMCCC form: 0xC6008000 + n (hypervisor.md §1). */
const GUNYAH_CALL_BASE = 0xc600_8000;

const U32 = 0xffff_ffffn;
const U64 = (1n << 64n) - 1n;

/** What the HVC table needs from the hypervisor. */
export interface HvcEnv {
  readonly vm: GuestVm;
  readonly memory: MemoryModel;
  /** A guest-caused VM halt: stop every vCPU (`caller` is running) and tell the RM. */
  haltVm(caller: VcpuThread, exitType: number, reasonWords: number[]): void;
  /**
   * A Gunyah hypercall (SMCCC 0xC6008000 + n) other than page relinquish, made by the guest:
   * its X0 (the error code), or undefined when the call is not available to guests.
   */
  gunyahCall?(caller: VcpuThread, n: number, args: readonly bigint[]): number | undefined;
}

/** The outcome of one HVC. */
export type HvcOutcome =
  /** The call returns to the guest with X0. */
  | { readonly kind: 'return'; readonly x0: bigint }
  /** The call does not return: the vCPU stops and `vcpu_run` answers this state. */
  | { readonly kind: 'stop'; readonly state: number; readonly data0: bigint; readonly data1: bigint };

const ret = (v: number | bigint): HvcOutcome => ({ kind: 'return', x0: BigInt.asUintN(64, BigInt(v)) });

/** What PSCI_FEATURES reports as implemented: the PSCI functions of the table. */
const SUPPORTED: ReadonlySet<number> = new Set(
  Object.values(HvcFn).filter((f) => f !== HvcFn.SMCCC_VERSION && f !== HvcFn.PAGE_RELINQUISH),
);

/**
 * Execute `HVC #0` with function ID `fn` and arguments X1.. for vCPU `caller`.
 * Never throws for a guest's input.
 */
export function handleHvc(env: HvcEnv, caller: VcpuThread, fn: number, args: readonly bigint[]): HvcOutcome {
  const id = fn >>> 0;
  const smc64 = (id & 0x4000_0000) !== 0;
  const arg = (i: number): bigint => {
    const v = BigInt.asUintN(64, args[i] ?? 0n);
    return smc64 ? v : v & U32;
  };
  switch (id) {
    case HvcFn.SMCCC_VERSION:
      return ret(SMCCC_VERSION_1_1);
    case HvcFn.PSCI_VERSION:
      return ret(PSCI_VERSION_1_1);
    case HvcFn.PSCI_FEATURES:
      return ret(SUPPORTED.has(Number(arg(0))) ? PsciRet.SUCCESS : PsciRet.NOT_SUPPORTED);
    case HvcFn.CPU_ON_32:
    case HvcFn.CPU_ON_64:
      return cpuOn(env, caller, arg(0), arg(1), arg(2));
    case HvcFn.AFFINITY_INFO_32:
    case HvcFn.AFFINITY_INFO_64: {
      const t = env.vm.findVcpu(arg(0));
      if (!t) return ret(PsciRet.INVALID_PARAMETERS);
      return ret(t.power === 'on' ? 0 : 1); // 0 ON, 1 OFF
    }
    case HvcFn.CPU_OFF:
      caller.powerOff();
      return { kind: 'stop', state: VcpuRunState.POWERED_OFF, data0: 0n, data1: 0n };
    case HvcFn.SYSTEM_OFF:
      env.haltVm(caller, VmExitType.PLATFORM_OFF, [0]);
      return { kind: 'stop', state: VcpuRunState.POWERED_OFF, data0: 1n, data1: 0n };
    case HvcFn.SYSTEM_RESET:
      env.haltVm(caller, VmExitType.PLATFORM_RESET, [0]);
      return { kind: 'stop', state: VcpuRunState.PSCI_SYSTEM_RESET, data0: RESET_DATA0_PLAIN, data1: 0n };
    case HvcFn.SYSTEM_RESET2_32:
    case HvcFn.SYSTEM_RESET2_64:
      return systemReset2(env, caller, smc64, arg(0) & U32, arg(1));
    case HvcFn.PAGE_RELINQUISH:
      return ret(relinquish(env, arg(0), arg(1), arg(2), arg(3)));
    default: {
      if (((id & 0xffff_8000) >>> 0) === GUNYAH_CALL_BASE) {
        const code = env.gunyahCall?.(caller, id - GUNYAH_CALL_BASE, args.map((a) => BigInt.asUintN(64, a)));
        if (code !== undefined) return ret(code);
      }
      return ret(PsciRet.NOT_SUPPORTED);
    }
  }
}

function cpuOn(env: HvcEnv, caller: VcpuThread, target: bigint, entry: bigint, context: bigint): HvcOutcome {
  const t = env.vm.findVcpu(target);
  if (!t) return ret(PsciRet.INVALID_PARAMETERS);
  if (t === caller || t.power === 'on') return ret(PsciRet.ALREADY_ON);
  if (t.power !== 'off') return ret(PsciRet.INTERNAL_FAILURE);
  if (entry > BigInt(Number.MAX_SAFE_INTEGER)) return ret(PsciRet.INVALID_PARAMETERS);
  t.powerOn(Number(entry), context);
  env.vm.wake(t);
  return ret(PsciRet.SUCCESS);
}

function systemReset2(env: HvcEnv, caller: VcpuThread, smc64: boolean, resetType: bigint, cookie: bigint): HvcOutcome {
  // PSCI 1.1: bit 31 clear = architectural reset types, of which only 0 (warm reset) exists.
  if ((resetType & 0x8000_0000n) === 0n && resetType !== 0n) return ret(PsciRet.INVALID_PARAMETERS);
  const c = smc64 ? cookie & U64 : cookie & U32;
  const words = [smc64 ? ExitReasonFlag.SMC64 : 0, Number(resetType), Number(c & U32), Number(c >> 32n)];
  env.haltVm(caller, VmExitType.PSCI_SYSTEM_RESET2, words);
  return {
    kind: 'stop',
    state: VcpuRunState.PSCI_SYSTEM_RESET,
    data0: resetType | (smc64 ? RESET_DATA0_SMC64 : 0n),
    data1: c,
  };
}

/** hvc 0xC6008069 (see the header for the rules); returns a hypervisor error code. */
function relinquish(env: HvcEnv, zero: bigint, addr: bigint, size: bigint, flags: bigint): number {
  const known = BigInt(RelinquishFlag.RELINQUISH | RelinquishFlag.SANITIZE | RelinquishFlag.FLUSH);
  if (zero !== 0n || (flags & ~known) !== 0n) return HypErrorCode.ERROR_ARGUMENT_INVALID;
  if (size === 0n) {
    // "Flush after": a final call with the flush flag and no range (nothing to sanitize).
    const flushOnly = (flags & BigInt(RelinquishFlag.FLUSH)) !== 0n && (flags & BigInt(RelinquishFlag.SANITIZE)) === 0n;
    return flushOnly ? HypErrorCode.OK : HypErrorCode.ERROR_ARGUMENT_SIZE;
  }
  const page = BigInt(PAGE_SIZE);
  if (addr % page !== 0n || size % page !== 0n) return HypErrorCode.ERROR_ARGUMENT_ALIGNMENT;
  if (addr + size > 1n << 52n) return HypErrorCode.ERROR_ADDR_OVERFLOW;
  const ipa = Number(addr);
  const len = Number(size);
  const pieces = env.memory.translate(env.vm.vmid, ipa, len);
  const covered = pieces.reduce((n, p) => n + p.size, 0);
  if (covered !== len) return HypErrorCode.ERROR_ADDR_INVALID;
  for (const p of pieces) {
    if (flags & BigInt(RelinquishFlag.SANITIZE)) env.memory.zero(p.pa, p.size);
    env.vm.markRelinquished(p.pa, p.size);
  }
  return HypErrorCode.OK;
}
