/**
 * The irqfd VM function (GUNYAH_FN_IRQFD): each write to an eventfd rings a doorbell, which the
 * guest receives as an interrupt.
 *
 * Reference: uapi.md §3 (`gunyah_fn_irqfd_arg`, 16 bytes), §6.2 (ADD_FUNCTION irqfd rows, in the
 * order the kernel checks them), §8.1 (REMOVE_FUNCTION match key: label only), §8.13 (doorbell
 * resource, LEVEL masks, triggers, unbind); hypervisor.md §5 (doorbell send and mask).
 *
 * Flow:
 *   bind ─ ticket (BELL_TX, label) ─▶ populate(resource) at VM start (or at once if known)
 *     │                                   └ LEVEL: doorbell_mask(capid, enable 1, ack 1)
 *     └ wait-queue entry on the eventfd ─▶ every write: doorbell_send(capid, 1)
 *                                          (no resource yet: dropped, rate-limited warning)
 *
 * The eventfd counter is never read or reset here (§8.13). Linux holds a reference on the
 * eventfd context; the KernelFile contract has no file references for kernel users, so the
 * instance keeps the EventFdFile object: after the eventfd's last fd is closed, nobody can
 * write to it any more, so no trigger can come, as in Linux.
 */
import { isEventFd } from '../host/eventfd.js';
import type { IoctlContext } from '../host/kernel-file.js';
import { ResourceType } from '../rm-rpc/wire/enums.js';
import { ErrnoError } from '../shared/errno.js';
import { hypErrorName } from '../shared/hyp-errors.js';
import type { Logger } from '../shared/log.js';
import {
  GUNYAH_FN_IRQFD,
  GUNYAH_IRQFD_FLAGS_LEVEL,
  SIZEOF,
  decodeFnIrqfdArg,
  type FnIrqfdArg,
} from '../vm-mgr/uapi/index.js';
import type { Ticket, TicketHandler, VmFunctionInstance, VmFunctionType, VmHandle, VmResource } from '../vm-mgr/vm-api.js';
import { RateLimitedLog } from '../shared/rate-limit.js';

/** sizeof(struct gunyah_fn_irqfd_arg). */
const ARG_SIZE = SIZEOF.gunyah_fn_irqfd_arg;
/** The doorbell flag an irqfd rings, enables and auto-acks (bit 0). */
const BELL_FLAG = 1n;

/**
 * Validate an irqfd argument up to (not including) the fd checks (uapi.md §6.2).
 * @throws ErrnoError EINVAL
 */
export function validateIrqfdArg(arg: Uint8Array): FnIrqfdArg {
  if (arg.byteLength !== ARG_SIZE) throw new ErrnoError('EINVAL', `irqfd arg_size ${arg.byteLength}, expected ${ARG_SIZE}`);
  const a = decodeFnIrqfdArg(arg);
  if ((a.flags & ~GUNYAH_IRQFD_FLAGS_LEVEL) !== 0) {
    throw new ErrnoError('EINVAL', `irqfd flags 0x${(a.flags >>> 0).toString(16)} has reserved bits`);
  }
  return a;
}

/** REMOVE_FUNCTION's comparison (uapi.md §8.1): exactly 16 bytes and the same label. */
export function irqfdArgMatches(mine: FnIrqfdArg, other: Uint8Array): boolean {
  return other.byteLength === ARG_SIZE && decodeFnIrqfdArg(other).label === mine.label;
}

/** One bound irqfd: the ticket handler and the eventfd wait-queue entry. */
class IrqfdInstance implements VmFunctionInstance, TicketHandler {
  readonly type = GUNYAH_FN_IRQFD;
  readonly result = 0;
  readonly level: boolean;
  readonly #log: Logger;
  readonly #premature: RateLimitedLog;
  readonly #sendFailed: RateLimitedLog;
  #resource: VmResource | undefined;
  #ticket: Ticket | undefined;
  #removeWaiter: (() => void) | undefined;

  constructor(
    readonly vm: VmHandle,
    readonly arg: FnIrqfdArg,
  ) {
    this.level = (arg.flags & GUNYAH_IRQFD_FLAGS_LEVEL) !== 0;
    this.#log = vm.log.child({ fn: 'irqfd', label: arg.label });
    this.#premature = new RateLimitedLog(this.#log, 'error');
    this.#sendFailed = new RateLimitedLog(this.#log, 'error');
  }

  /** The doorbell resource, once the RM provided it. */
  get resource(): VmResource | undefined {
    return this.#resource;
  }

  /** Take the ticket, then hook the eventfd (Linux order: ticket before the poll entry). */
  attach(ticket: Ticket, removeWaiter: () => void): void {
    this.#ticket = ticket;
    this.#removeWaiter = removeWaiter;
  }

  // ── TicketHandler ─────────────────────────────────────────────────────

  populate(res: VmResource): boolean {
    if (this.#resource !== undefined) {
      this.#log.warn({ capId: res.capId }, 'irqfd already has a doorbell; a second resource with this label is refused');
      return false;
    }
    this.#resource = res;
    if (this.level) {
      // §8.13: enable bit 0 and auto-ack it, so the flag clears once the guest takes the vIRQ.
      const err = this.vm.hyp.doorbellMask(res.capId, BELL_FLAG, BELL_FLAG);
      if (err !== 0) {
        this.#log.warn({ err: hypErrorName(err) ?? err }, 'irqfd doorbell could not be made level triggered');
      }
    }
    return true;
  }

  unpopulate(res: VmResource): void {
    if (this.#resource === res) this.#resource = undefined;
  }

  // ── eventfd wake-up ───────────────────────────────────────────────────

  /** A write to the eventfd (EPOLLIN): ring the doorbell with flag 1, or drop it. */
  trigger(): void {
    const res = this.#resource;
    if (res === undefined) {
      this.#premature.emit({}, 'premature injection of interrupt: the doorbell is not there yet');
      return;
    }
    const { error } = this.vm.hyp.doorbellSend(res.capId, BELL_FLAG);
    if (error !== 0) this.#sendFailed.emit({ err: hypErrorName(error) ?? error }, 'failed to inject interrupt');
  }

  // ── VmFunctionInstance ────────────────────────────────────────────────

  matches(other: Uint8Array): boolean {
    return irqfdArgMatches(this.arg, other);
  }

  /** §8.13: remove the wait-queue entry, then the ticket (which unpopulates the doorbell). */
  unbind(): void {
    this.#removeWaiter?.();
    this.#removeWaiter = undefined;
    if (this.#ticket !== undefined) this.vm.removeTicket(this.#ticket);
    this.#ticket = undefined;
  }
}

function bindIrqfd(vm: VmHandle, arg: Uint8Array, ctx: IoctlContext): VmFunctionInstance {
  const a = validateIrqfdArg(arg);
  const file = ctx.fget(a.fd);
  if (file === undefined) throw new ErrnoError('EBADF', `irqfd fd ${a.fd} is not open`);
  if (!isEventFd(file)) throw new ErrnoError('EINVAL', `irqfd fd ${a.fd} (${file.name}) is not an eventfd`);
  const inst = new IrqfdInstance(vm, a);
  const ticket = vm.addTicket(ResourceType.BELL_TX, a.label, inst); // EEXIST; may populate at once
  const removeWaiter = file.addWaiter(() => inst.trigger());
  inst.attach(ticket, removeWaiter);
  // Linux polls the eventfd while adding the wait-queue entry: data already there is only a
  // warning; that earlier write is not turned into a doorbell ring.
  if (file.readable) {
    vm.log.warn({ fn: 'irqfd', label: a.label, fd: a.fd }, 'premature injection of interrupt: eventfd already readable at bind');
  }
  return inst;
}

/** GUNYAH_FN_IRQFD (uapi.md §4): argument `gunyah_fn_irqfd_arg`, 16 bytes. */
export const irqfdFunction: VmFunctionType = {
  type: GUNYAH_FN_IRQFD,
  argSize: ARG_SIZE,
  bind: bindIrqfd,
};
