/**
 * A stage-2 fault raised by the memory model's checked accesses. The layer above decides what
 * it becomes: SIGBUS for the host process, a vCPU exit for a guest.
 *
 * Reference: hypervisor.md §8 (page-table access rights R 4, W 2, X 1). `info.ipa` is the first
 * byte of the access that faults; bytes before it would have been accessible.
 */
import type { MemFaultInfo } from './api.js';

/** A stage-2 translation or permission fault. */
export class MemFault extends Error {
  override readonly name = 'MemFault';

  constructor(
    readonly info: MemFaultInfo,
    options?: ErrorOptions,
  ) {
    super(`${info.kind} ${info.reason} fault at IPA 0x${info.ipa.toString(16)} in VM ${info.vmid}`, options);
  }
}

/** True when `e` is a MemFault, optionally with the given reason. */
export function isMemFault(e: unknown, reason?: MemFaultInfo['reason']): e is MemFault {
  return e instanceof MemFault && (reason === undefined || e.info.reason === reason);
}
