/**
 * Checks a fault plan before an emulator uses it: every RM error name must be one of the RM's
 * (rm-rpc.md, error codes), every hypervisor error name one of the hypervisor's (hypervisor.md,
 * error codes), and every hypercall one the host can make. A misspelt name is a TypeError at
 * `createEmulator`, not a silent DENIED or ERROR_FAILURE at the injection point.
 *
 * Reference: vmm-flows.md §8 (fault-injection points); src/shared/faults.ts (the plan);
 * hypervisor.md §6 (vcpu_run: state a u32 here, data words u64); rm-rpc.md §13 (VM_EXITED:
 * exit_type u16, reason bytes).
 */
import { HypErrorCode } from './shared/hyp-errors.js';
import type { FaultPlan } from './shared/faults.js';
import { RmErrorCode } from './rm-rpc/wire/errors.js';
import { HOST_HYPERCALL_NAMES } from './hyp/host-api.js';

function checkOccurrence(where: string, occurrence: number | undefined): void {
  if (occurrence !== undefined && (!Number.isInteger(occurrence) || occurrence < 1)) {
    throw new TypeError(`${where}: occurrence must be an integer ≥ 1, got ${occurrence}`);
  }
}

function checkError(where: string, error: string | number, names: Record<string, number>, kind: string): void {
  if (typeof error === 'number') {
    if (!Number.isInteger(error) || error < 0 || error > 0xffff_ffff) throw new TypeError(`${where}: ${kind} code ${error} is not a u32`);
    return;
  }
  if (!Object.hasOwn(names, error)) {
    throw new TypeError(`${where}: unknown ${kind} '${error}' (known: ${Object.keys(names).join(', ')})`);
  }
}

function checkUint(where: string, field: string, v: unknown, max: number): void {
  if (v !== undefined && (typeof v !== 'number' || !Number.isInteger(v) || v < 0 || v > max)) {
    throw new TypeError(`${where}: ${field} must be an integer 0..0x${max.toString(16)}, got ${String(v)}`);
  }
}

function checkWord(where: string, v: unknown): void {
  const ok =
    (typeof v === 'bigint' && v >= 0n && v <= 0xffff_ffff_ffff_ffffn) || (typeof v === 'number' && Number.isSafeInteger(v) && v >= 0);
  if (!ok) throw new TypeError(`${where} must be a u64 (bigint or safe integer), got ${String(v)}`);
}

/** @throws TypeError naming the first bad entry of `plan` */
export function checkFaultPlan(plan: FaultPlan): void {
  plan.rm?.forEach((f, i) => {
    const where = `faults.rm[${i}]`;
    if (!Number.isInteger(f.msgId) || f.msgId < 0 || f.msgId > 0xffff_ffff) throw new TypeError(`${where}: msgId ${f.msgId} is not a u32`);
    checkOccurrence(where, f.occurrence);
    checkError(where, f.error, RmErrorCode, 'RM error');
  });
  plan.hypercalls?.forEach((f, i) => {
    const where = `faults.hypercalls[${i}]`;
    if (!(HOST_HYPERCALL_NAMES as readonly string[]).includes(f.call)) {
      throw new TypeError(`${where}: unknown hypercall '${f.call}' (known: ${HOST_HYPERCALL_NAMES.join(', ')})`);
    }
    checkOccurrence(where, f.occurrence);
    checkError(where, f.error, HypErrorCode, 'hypervisor error');
  });
  plan.vcpuRun?.forEach((f, i) => {
    const where = `faults.vcpuRun[${i}]`;
    checkUint(where, 'vmid', f.vmid, 0xffff);
    checkUint(where, 'vcpu', f.vcpu, 0xffff_ffff);
    checkOccurrence(where, f.occurrence);
    if (f.state === undefined) throw new TypeError(`${where}: state is required`);
    checkUint(where, 'state', f.state, 0xffff_ffff);
    if (f.stateData !== undefined) {
      if (!Array.isArray(f.stateData) || f.stateData.length !== 3) throw new TypeError(`${where}: stateData must be 3 words`);
      f.stateData.forEach((w, j) => checkWord(`${where}.stateData[${j}]`, w));
    }
  });
  plan.vmExited?.forEach((f, i) => {
    const where = `faults.vmExited[${i}]`;
    checkUint(where, 'vmid', f.vmid, 0xffff);
    checkOccurrence(where, f.occurrence);
    checkUint(where, 'exitType', f.exitType, 0xffff);
    if (f.reason !== undefined) {
      if (!Array.isArray(f.reason)) throw new TypeError(`${where}: reason must be an array of bytes`);
      f.reason.forEach((b, j) => checkUint(where, `reason[${j}]`, b, 0xff));
    }
  });
}
