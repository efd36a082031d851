/**
 * Linux errno numbers (asm-generic, as arm64 uses) and the ErrnoError the host-facing API throws.
 *
 * Reference: shared/reference/README.md, "Linux errno values". The table is the only place an
 * errno number appears; everything else uses the name.
 */

/** errno name → positive errno number. */
export const Errno = {
  EPERM: 1,
  ENOENT: 2,
  EINTR: 4,
  EIO: 5,
  E2BIG: 7,
  EBADF: 9,
  EAGAIN: 11,
  ENOMEM: 12,
  EACCES: 13,
  EFAULT: 14,
  EBUSY: 16,
  EEXIST: 17,
  ENODEV: 19,
  EINVAL: 22,
  ENOTTY: 25,
  ERANGE: 34,
  ECOMM: 70,
  EPROTO: 71,
  EBADMSG: 74,
  EOVERFLOW: 75,
  EOPNOTSUPP: 95,
  EREMOTEIO: 121,
  ETIMEDOUT: 110,
  ECANCELED: 125,
  ERESTARTSYS: 512,
} as const;
export type ErrnoName = keyof typeof Errno;

/**
 * An error of the syscall-shaped API, shaped like Node's SystemError: `code` is the name
 * (`'EINVAL'`), `errno` the positive number.
 */
export class ErrnoError extends Error {
  override readonly name = 'ErrnoError';
  readonly errno: number;

  constructor(
    readonly code: ErrnoName,
    detail?: string,
    options?: ErrorOptions,
  ) {
    super(detail ? `${code}: ${detail}` : code, options);
    this.errno = Errno[code];
  }
}

/** True when `e` is an ErrnoError, optionally with the given code. */
export function isErrnoError(e: unknown, code?: ErrnoName): e is ErrnoError {
  return e instanceof ErrnoError && (code === undefined || e.code === code);
}

const NAME_BY_ERRNO: ReadonlyMap<number, ErrnoName> = new Map(
  (Object.entries(Errno) as Array<[ErrnoName, number]>).map(([n, v]) => [v, n]),
);

/** The name of a positive errno number, or undefined when the table lacks it. */
export function errnoNameOf(errno: number): ErrnoName | undefined {
  return NAME_BY_ERRNO.get(errno);
}
