/**
 * Guest virtual addresses: a 64-bit register value becomes the `addr` of a load or store op.
 * Our guests run with an identity map over a 48-bit space (VA = IPA). A value at or above
 * 2^48 cannot be translated by the guest's own stage 1, so the guest takes a translation
 * fault itself; no operation reaches the hypervisor. The ESR is the same data-abort value
 * the hypervisor uses for an unmapped IPA (api.ts `Esr`), with WnR for writes.
 *
 * Reference: api.ts (GuestOp addresses are numbers); docs/guest-images.md "Addresses".
 */

import { Esr, GuestException } from './api.js';

/** First address our guests cannot translate (48-bit VA space). */
export const GUEST_VA_LIMIT = 2 ** 48;

/** The exception a guest raises for an address it cannot translate. */
export function untranslatable(va: bigint, write: boolean): GuestException {
  const esr = write ? Esr.DATA_ABORT_TRANSLATION | Esr.WNR : Esr.DATA_ABORT_TRANSLATION;
  return new GuestException(esr, va, `guest VA 0x${va.toString(16)} is outside the 48-bit space`);
}

/**
 * The op address for register value `va`.
 * @throws GuestException (translation fault, FAR = va) when va ≥ 2^48
 */
export function guestAddr(va: bigint, write: boolean): number {
  if (va >= 0x1_0000_0000_0000n || va < 0n) throw untranslatable(va, write);
  return Number(va);
}
