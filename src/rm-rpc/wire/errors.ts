/**
 * RM error codes (`rm_error_t`, u32 on the wire) and Linux's remap of them to errno.
 *
 * Reference: rm-rpc.md §14.1. Names are the RM's without the `RM_ERROR_` prefix; Linux's
 * name differs only for MSG_INVALID (Linux: INVALID).
 */
import type { ErrnoName } from '../../shared/errno.js';
import { rmIdLabel } from './msg-ids.js';

export const RmErrorCode = {
  OK: 0x0,
  UNIMPLEMENTED: 0xffff_ffff,
  NOMEM: 0x1,
  NORESOURCE: 0x2,
  DENIED: 0x3,
  MSG_INVALID: 0x4,
  BUSY: 0x5,
  ARGUMENT_INVALID: 0x6,
  HANDLE_INVALID: 0x7,
  VALIDATE_FAILED: 0x8,
  MAP_FAILED: 0x9,
  MEM_INVALID: 0xa,
  MEM_INUSE: 0xb,
  MEM_RELEASED: 0xc,
  VMID_INVALID: 0xd,
  LOOKUP_FAILED: 0xe,
  IRQ_INVALID: 0xf,
  IRQ_INUSE: 0x10,
  IRQ_RELEASED: 0x11,
  IN_USE: 0x12,
  IRQ_NOT_MAPPED: 0x13,
  VM_STATE: 0x14,
} as const;
export type RmErrorName = keyof typeof RmErrorCode;

const NAME_BY_CODE: ReadonlyMap<number, RmErrorName> = new Map(
  (Object.entries(RmErrorCode) as Array<[RmErrorName, number]>).map(([n, v]) => [v, n]),
);

/** Name of an RM error value, or undefined for a value outside the enum. */
export function rmErrorName(code: number): RmErrorName | undefined {
  return NAME_BY_CODE.get(code >>> 0);
}

/** Linux `gunyah_rm_error_remap()`. `satisfies` keeps the table total over the enum. */
export const RM_ERROR_TO_ERRNO = {
  OK: null,
  UNIMPLEMENTED: 'EOPNOTSUPP',
  NOMEM: 'ENOMEM',
  NORESOURCE: 'ENODEV',
  DENIED: 'EPERM',
  MSG_INVALID: 'EINVAL',
  BUSY: 'EBUSY',
  ARGUMENT_INVALID: 'EINVAL',
  HANDLE_INVALID: 'EINVAL',
  VALIDATE_FAILED: 'EINVAL',
  MAP_FAILED: 'EINVAL',
  MEM_INVALID: 'EINVAL',
  MEM_INUSE: 'EINVAL',
  MEM_RELEASED: 'EINVAL',
  VMID_INVALID: 'EINVAL',
  LOOKUP_FAILED: 'EINVAL',
  IRQ_INVALID: 'EINVAL',
  IRQ_INUSE: 'EINVAL',
  IRQ_RELEASED: 'EINVAL',
  IN_USE: 'EBADMSG',
  IRQ_NOT_MAPPED: 'EBADMSG',
  VM_STATE: 'EBADMSG',
} as const satisfies Record<RmErrorName, ErrnoName | null>;

/** errno for an RM error value; any value outside the enum is EBADMSG (rm-rpc.md §14.1). */
export function rmErrorToErrno(code: number): ErrnoName | null {
  const name = rmErrorName(code);
  return name === undefined ? 'EBADMSG' : RM_ERROR_TO_ERRNO[name];
}

/**
 * A call that the RM answered with an error. `rmCode` is the wire value, `errno` the name
 * Linux maps it to (`gunyah_rm_error_remap()`), so the host model can surface it unchanged.
 */
export class RmError extends Error {
  override readonly name = 'RmError';
  readonly errno: ErrnoName;

  constructor(
    readonly rmCode: number,
    readonly msgId: number,
    options?: ErrorOptions,
  ) {
    const name = rmErrorName(rmCode) ?? `0x${(rmCode >>> 0).toString(16)}`;
    super(`${rmIdLabel(msgId)} failed: ${name}`, options);
    this.errno = rmErrorToErrno(rmCode) ?? 'EBADMSG';
  }

  /** The RM error name, or undefined for a value outside the enum. */
  get rmName(): RmErrorName | undefined {
    return rmErrorName(this.rmCode);
  }
}
