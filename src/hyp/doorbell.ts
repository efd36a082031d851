/**
 * One doorbell object: a 64-bit flags word with an enable mask and an auto-ack mask, raising
 * the vIRQ it is bound to (the receiver's, e.g. the guest's BELL_RX SPI).
 *
 * Reference: hypervisor.md §5 (state, initial values, send / receive / mask / reset), checked
 * against the 12/2023 hypervisor's doorbell.c behaviour (our own code):
 *
 *   send(new):     old = flags; flags |= new
 *                  flags & enable ≠ 0 → flags &= ~ack, then a level assert of the vIRQ
 *                  otherwise          → an edge-only assert (fires only if the vIRQ is edge)
 *   receive(clr):  clr = 0 → ERROR_ARGUMENT_INVALID; old = flags; flags &= ~clr (no de-assert:
 *                  a level vIRQ is re-checked by the interrupt controller at its end of interrupt)
 *   mask(e, a):    was = flags & enable ≠ 0; now = flags & e ≠ 0; enable = e; ack = a
 *                  was ∧ ¬now → de-assert;  ¬was ∧ now → flags &= ~ack, assert;  was ∧ now → flags &= ~ack
 *   reset():       flags 0, ack 0, enable all-ones, de-assert
 *
 * All values are u64 (bigint, masked to 64 bits). The doorbell knows nothing of VMs: it drives
 * a `DoorbellLine` (the bound vIRQ), or nothing while unbound.
 */
import { HypError } from '../shared/hyp-errors.js';

const U64 = (1n << 64n) - 1n;

/** The vIRQ a doorbell is bound to (doorbell_bind_virq). */
export interface DoorbellLine {
  /** Assert the vIRQ. `edgeOnly`: only an edge-triggered vIRQ takes this assertion. */
  assert(edgeOnly: boolean): void;
  /** De-assert the vIRQ (a pending, undelivered assertion is withdrawn). */
  clear(): void;
}

/** The observable state of a doorbell. */
export interface DoorbellState {
  readonly flags: bigint;
  readonly enableMask: bigint;
  readonly ackMask: bigint;
}

export class Doorbell implements DoorbellState {
  flags = 0n;
  enableMask = U64;
  ackMask = 0n;
  /** The bound vIRQ, if any (assertions of an unbound doorbell go nowhere). */
  line: DoorbellLine | undefined;

  /** doorbell_send: set `newFlags`; returns the flags before the OR. */
  send(newFlags: bigint): bigint {
    const old = this.flags;
    let flags = (old | newFlags) & U64;
    const edgeOnly = (flags & this.enableMask) === 0n;
    // Auto-ack happens before the level assertion, so the receiver never sees acked flags.
    if (!edgeOnly) flags &= ~this.ackMask & U64;
    this.flags = flags;
    this.line?.assert(edgeOnly);
    return old;
  }

  /**
   * doorbell_receive: clear `clearFlags`; returns the flags before clearing.
   * @throws HypError ERROR_ARGUMENT_INVALID when `clearFlags` is 0
   */
  receive(clearFlags: bigint): bigint {
    const clear = clearFlags & U64;
    if (clear === 0n) throw new HypError('ERROR_ARGUMENT_INVALID', 'doorbell_receive with clear_flags 0');
    const old = this.flags;
    this.flags = old & ~clear & U64;
    return old;
  }

  /** doorbell_mask: set both masks, asserting or de-asserting as the enabled set changes. */
  mask(enableMask: bigint, ackMask: bigint): void {
    const enable = enableMask & U64;
    const ack = ackMask & U64;
    const was = (this.flags & this.enableMask) !== 0n;
    const now = (this.flags & enable) !== 0n;
    this.enableMask = enable;
    this.ackMask = ack;
    if (was && !now) {
      this.line?.clear();
    } else if (!was && now) {
      this.flags &= ~ack & U64;
      this.line?.assert(false);
    } else if (was && now) {
      this.flags &= ~ack & U64;
    }
  }

  /** doorbell_reset: back to the initial state, vIRQ de-asserted. */
  reset(): void {
    this.flags = 0n;
    this.ackMask = 0n;
    this.enableMask = U64;
    this.line?.clear();
  }
}
