/**
 * ParcelError: a memparcel operation refused with an RM error (rm-rpc.md §16.3, §16.5). The
 * RM's handlers turn it into the reply.
 */
import type { RmErrorName } from '../rm-rpc/wire/errors.js';

export class ParcelError extends Error {
  override readonly name = 'ParcelError';
  constructor(
    readonly err: RmErrorName,
    readonly why: string,
  ) {
    super(`${err}: ${why}`);
  }
}

/** Refuse with `err` unless `cond` holds. */
export function need(cond: boolean, err: RmErrorName, why: string): asserts cond {
  if (!cond) throw new ParcelError(err, why);
}
