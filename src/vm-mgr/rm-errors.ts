/**
 * Recognising the RM client's errors in the VM manager: an RM error reply (RmError, carrying
 * Linux's errno remap) versus a local failure (ErrnoError).
 *
 * Reference: rm-rpc.md §14.2 (RM error → errno, as Linux remaps it).
 */
import { ErrnoError } from '../shared/errno.js';
import { RmError } from '../rm-rpc/wire/errors.js';

export function isRmError(e: unknown): e is RmError {
  return e instanceof RmError;
}

/** An RM error reply as the ErrnoError Linux returns for it (its errno remap); anything else as it is. */
export function asErrno(err: unknown): unknown {
  if (isRmError(err)) return new ErrnoError(err.errno, err.message, { cause: err });
  return err;
}
