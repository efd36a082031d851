/**
 * The RM's VM state machine: statuses and the legal transitions between them.
 *
 * Reference: rm-rpc.md §15.1 (vm_status values), §15.2 (target ← allowed sources and extra
 * conditions). The RM asserts on an illegal transition; `canTransition` lets callers check first.
 */

import { VmStatus, OsStatus, type VmStatusName } from '../wire/enums.js';

export { VmStatus, OsStatus };
export type { VmStatusName };
export type VmStatusValue = (typeof VmStatus)[VmStatusName];

const NAMES = new Map<number, VmStatusName>(
  (Object.entries(VmStatus) as Array<[VmStatusName, number]>).map(([n, v]) => [v, n]),
);
export function vmStatusName(v: number): string {
  return NAMES.get(v) ?? `STATUS_${v}`;
}

/** Flags of a VM that restrict transitions (§15.2 extra conditions). */
export interface TransitionFlags {
  readonly noShutdown: boolean;
  readonly crashFatal: boolean;
  readonly noReset: boolean;
}

const { NONE, INIT, READY, RUNNING, PAUSED, LOAD, AUTH, INIT_FAILED, EXITED, RESETTING, RESET } = VmStatus;

/** target → allowed sources (§15.2). */
const ALLOWED: ReadonlyMap<VmStatusValue, readonly VmStatusValue[]> = new Map<VmStatusValue, VmStatusValue[]>([
  [INIT, [LOAD, AUTH, RESET]],
  [READY, [INIT]],
  [RUNNING, [READY, PAUSED]],
  [PAUSED, [RUNNING]],
  [LOAD, [NONE]],
  [AUTH, [LOAD, RESET]],
  [INIT_FAILED, [INIT, READY, LOAD, AUTH, RESET]],
  [EXITED, [RUNNING, PAUSED]],
  [RESETTING, [EXITED, READY, INIT_FAILED]],
  [RESET, [RESETTING]],
  [NONE, [RESET]],
]);

/** Whether `from → to` is legal for a VM with `flags`. */
export function canTransition(from: VmStatusValue, to: VmStatusValue, flags: TransitionFlags): boolean {
  if (!(ALLOWED.get(to) ?? []).includes(from)) return false;
  if (to === PAUSED && flags.noShutdown) return false;
  if (to === EXITED && (flags.noShutdown || flags.crashFatal)) return false;
  if (to === RESETTING && flags.noReset) return false;
  return true;
}
