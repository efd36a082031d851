/**
 * Hypervisor error codes (`error_t`), their Linux errno remap, and the RM's remap of them.
 *
 * Reference: hypervisor.md §3 (numeric enum and Linux errno), rm-rpc.md §14.2/§14.3.
 * The tables are total over the named codes; unnamed values fall back as the sources say.
 */
import type { ErrnoName } from './errno.js';

/** Hypervisor error name → value (a signed machine word in X0). */
export const HypErrorCode = {
  OK: 0,
  ERROR_UNIMPLEMENTED: -1,
  ERROR_RETRY: -2,
  ERROR_ARGUMENT_INVALID: 1,
  ERROR_ARGUMENT_SIZE: 2,
  ERROR_ARGUMENT_ALIGNMENT: 3,
  ERROR_NOMEM: 10,
  ERROR_NORESOURCES: 11,
  ERROR_ADDR_OVERFLOW: 20,
  ERROR_ADDR_UNDERFLOW: 21,
  ERROR_ADDR_INVALID: 22,
  ERROR_DENIED: 30,
  ERROR_BUSY: 31,
  ERROR_IDLE: 32,
  ERROR_OBJECT_STATE: 33,
  ERROR_OBJECT_CONFIG: 34,
  ERROR_OBJECT_CONFIGURED: 35,
  ERROR_FAILURE: 36,
  ERROR_VIRQ_BOUND: 40,
  ERROR_VIRQ_NOT_BOUND: 41,
  ERROR_CSPACE_CAP_NULL: 50,
  ERROR_CSPACE_CAP_REVOKED: 51,
  ERROR_CSPACE_WRONG_OBJECT_TYPE: 52,
  ERROR_CSPACE_INSUFFICIENT_RIGHTS: 53,
  ERROR_CSPACE_FULL: 54,
  ERROR_MSGQUEUE_EMPTY: 60,
  ERROR_MSGQUEUE_FULL: 61,
  ERROR_STRING_TRUNCATED: 90,
  ERROR_MISSING_ARGUMENT: 94,
  ERROR_ALLOCATOR_RANGE_OVERLAPPING: 100,
  ERROR_ALLOCATOR_MEM_INUSE: 101,
  ERROR_MEMDB_EMPTY: 110,
  ERROR_MEMDB_NOT_OWNER: 111,
  ERROR_MEMEXTENT_MAPPINGS_FULL: 120,
  ERROR_MEMEXTENT_TYPE: 121,
  ERROR_EXISTING_MAPPING: 200,
} as const;
export type HypErrorName = keyof typeof HypErrorCode;

const HYP_NAME_BY_CODE: ReadonlyMap<number, HypErrorName> = new Map(
  (Object.entries(HypErrorCode) as Array<[HypErrorName, number]>).map(([n, v]) => [v, n]),
);

/** The name of a hypervisor error value, or `undefined` for an unnamed value. */
export function hypErrorName(code: number): HypErrorName | undefined {
  return HYP_NAME_BY_CODE.get(code);
}

/** Linux `gunyah_error_remap()`: hypervisor error → errno (hypervisor.md §3; rm-rpc.md §14.2). */
export function hypErrorToErrno(code: number): ErrnoName | null {
  switch (code) {
    case HypErrorCode.OK: return null;
    case HypErrorCode.ERROR_UNIMPLEMENTED: return 'EOPNOTSUPP';
    case HypErrorCode.ERROR_RETRY: return 'EAGAIN';
    case HypErrorCode.ERROR_NOMEM: return 'ENOMEM';
    case HypErrorCode.ERROR_DENIED:
    case HypErrorCode.ERROR_CSPACE_CAP_NULL:
    case HypErrorCode.ERROR_CSPACE_CAP_REVOKED:
    case HypErrorCode.ERROR_CSPACE_WRONG_OBJECT_TYPE:
    case HypErrorCode.ERROR_CSPACE_INSUFFICIENT_RIGHTS: return 'EACCES';
    case HypErrorCode.ERROR_BUSY:
    case HypErrorCode.ERROR_IDLE:
    case HypErrorCode.ERROR_CSPACE_FULL: return 'EBUSY';
    case HypErrorCode.ERROR_VIRQ_BOUND:
    case HypErrorCode.ERROR_VIRQ_NOT_BOUND:
    case HypErrorCode.ERROR_MSGQUEUE_EMPTY:
    case HypErrorCode.ERROR_MSGQUEUE_FULL: return 'EIO';
    default: return 'EINVAL';
  }
}

/** A failed hypercall. `code` is the hypervisor error name, `value` its number. */
export class HypError extends Error {
  override readonly name = 'HypError';
  readonly value: number;

  constructor(
    readonly code: HypErrorName,
    detail?: string,
    options?: ErrorOptions,
  ) {
    super(detail ? `${code}: ${detail}` : code, options);
    this.value = HypErrorCode[code];
  }
}

/** True when `e` is a HypError, optionally with the given code. */
export function isHypError(e: unknown, code?: HypErrorName): e is HypError {
  return e instanceof HypError && (code === undefined || e.code === code);
}
