/**
 * RmRefusal: a handler's early exit with an RM error. The server turns it into the reply; it
 * never escapes the RM.
 */
import type { RmErrorName } from '../../wire/errors.js';

export class RmRefusal extends Error {
  override readonly name = 'RmRefusal';
  constructor(
    readonly err: RmErrorName,
    readonly why: string,
    readonly tail?: Uint8Array,
  ) {
    super(`${err}: ${why}`);
  }
}

/** Throw a refusal unless `cond` holds. */
export function require(cond: boolean, err: RmErrorName, why: string, tail?: Uint8Array): asserts cond {
  if (!cond) throw new RmRefusal(err, why, tail);
}
