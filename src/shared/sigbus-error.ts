/**
 * SigbusError: the host process touched a mapped page that cannot be provided, which Linux
 * reports as SIGBUS (e.g. a guest-memory page that is lent to a guest and cannot be reclaimed,
 * or a vCPU run-page mapping beyond page offset 0).
 *
 * Reference: DESIGN.md "Public contracts" (Mapping: "host access to memory the host no longer
 * owns throws SigbusError"); uapi.md §5 (run page), §6.4 (guest-memory host page fault).
 * This file knows nothing about who raises it; the mapping backends do.
 */

/** A SIGBUS delivered to the host process for an access through a mapping. */
export class SigbusError extends Error {
  override readonly name = 'SigbusError';

  /**
   * @param address the faulting user virtual address (the mapping's address plus the offset of
   *   the first byte that could not be accessed), as `siginfo.si_addr` would carry it
   * @param detail  why the page could not be provided, for logs and test messages
   */
  constructor(
    readonly address: bigint,
    readonly detail?: string,
    options?: ErrorOptions,
  ) {
    super(`SIGBUS at 0x${address.toString(16)}${detail ? `: ${detail}` : ''}`, options);
  }
}

/** True when `e` is a SigbusError. */
export function isSigbusError(e: unknown): e is SigbusError {
  return e instanceof SigbusError;
}
