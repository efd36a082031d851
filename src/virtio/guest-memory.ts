/**
 * How a virtio device reaches a VM's memory: `GuestMemoryAccess` (read and write bytes at a
 * guest physical address) and `GuestMemoryError`, thrown for every access the device may not
 * make. The VM manager implements the interface for a real VM (src/vm-mgr/guest-memory-access.ts:
 * only memory shared with the host may be touched); tests may implement it over a plain array.
 *
 * Reference: scmi-virtio.md §11 ("Ring memory must be shared with the host"), uapi.md §8.11
 * (lend vs share, host visibility of guest memory).
 */

/** Why an access was refused. */
export type GuestMemoryErrorReason =
  /** No memory binding covers the address. */
  | 'unmapped'
  /** The memory is lent to the guest (exclusive to it): the host may not read or write it. */
  | 'lent'
  /** The range itself is invalid: negative, wrapping, beyond the guest address space or the backing file. */
  | 'bounds';

/** An access the device may not make. Nothing was read or written. */
export class GuestMemoryError extends Error {
  override readonly name = 'GuestMemoryError';

  constructor(
    readonly reason: GuestMemoryErrorReason,
    /** The first guest physical address of the refused range that could not be accessed. */
    readonly gpa: bigint,
    readonly len: number,
    detail: string,
  ) {
    super(`guest memory ${reason} at 0x${gpa.toString(16)} (+${len}): ${detail}`);
  }
}

/** True when `e` is a GuestMemoryError. */
export function isGuestMemoryError(e: unknown): e is GuestMemoryError {
  return e instanceof GuestMemoryError;
}

/**
 * Byte access to a VM's guest physical memory, as a device (the VMM) has it. Every method checks
 * the whole range before touching any byte: a refused access reads or writes nothing.
 */
export interface GuestMemoryAccess {
  /**
   * A copy of `len` bytes at `gpa`.
   * @throws GuestMemoryError when any byte of the range may not be read
   */
  read(gpa: bigint, len: number): Uint8Array;
  /**
   * Store `bytes` at `gpa`; the guest sees them on its next load.
   * @throws GuestMemoryError when any byte of the range may not be written
   */
  write(gpa: bigint, bytes: Uint8Array): void;
  /**
   * Optional: check that `[gpa, gpa + len)` could be read or written, without touching it.
   * Devices use it to validate device-writable buffers before they fill them; without it they
   * fall back to a read.
   * @throws GuestMemoryError as read/write would
   */
  probe?(gpa: bigint, len: number, kind: 'read' | 'write'): void;
}
