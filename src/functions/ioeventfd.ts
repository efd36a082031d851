/**
 * The ioeventfd VM function (GUNYAH_FN_IOEVENTFD): a guest MMIO write that matches a handler
 * signals an eventfd (counter += 1) and the vCPU continues without an exit to userspace.
 *
 * Reference: uapi.md §3 (`gunyah_fn_ioeventfd_arg`, 32 bytes), §6.2 (ADD_FUNCTION ioeventfd rows,
 * in the order the kernel checks them), §8.1 (REMOVE_FUNCTION match key: addr, len and flags,
 * plus datamatch when DATAMATCH is set), §8.14 (handler fields and ordering), §9 QUIRK K2.
 *
 * The VM's handler table belongs to the VM manager (VmHandle.addIoeventfd, which refuses an
 * equal handler with EEXIST using `compareIoeventfd` of ./ioeventfd-order.ts); the MMIO path of
 * src/vcpu offers writes to it (VmHandle.ioeventfdWrite).
 *
 * Linux keeps a reference on the eventfd context, not on the file. Here the handler keeps the
 * EventFdFile object itself: closing the eventfd's last fd releases the file (its blocked reads
 * end) but the handler still adds to the counter, which nobody can read any more, as in Linux.
 */
import { isEventFd } from '../host/eventfd.js';
import type { IoctlContext } from '../host/kernel-file.js';
import { ErrnoError } from '../shared/errno.js';
import {
  GUNYAH_FN_IOEVENTFD,
  GUNYAH_IOEVENTFD_FLAGS_DATAMATCH,
  SIZEOF,
  decodeFnIoeventfdArg,
  type FnIoeventfdArg,
} from '../vm-mgr/uapi/index.js';
import type { IoeventfdEntry, VmFunctionInstance, VmFunctionType, VmHandle } from '../vm-mgr/vm-api.js';

/** sizeof(struct gunyah_fn_ioeventfd_arg). */
const ARG_SIZE = SIZEOF.gunyah_fn_ioeventfd_arg;
const U64_MAX = 0xffff_ffff_ffff_ffffn;

/** True for the access lengths an ioeventfd may name: 0 (any length), 1, 2, 4, 8. */
function validLen(len: number): boolean {
  return len === 0 || len === 1 || len === 2 || len === 4 || len === 8;
}

/**
 * Validate an ioeventfd argument up to (not including) the fd checks, in the kernel's order
 * (uapi.md §6.2). `overflowUnchecked` is QUIRK K2.
 * @throws ErrnoError EINVAL
 */
export function validateIoeventfdArg(arg: Uint8Array, overflowUnchecked: boolean): FnIoeventfdArg {
  if (arg.byteLength !== ARG_SIZE) throw new ErrnoError('EINVAL', `ioeventfd arg_size ${arg.byteLength}, expected ${ARG_SIZE}`);
  const a = decodeFnIoeventfdArg(arg);
  if ((a.flags & ~GUNYAH_IOEVENTFD_FLAGS_DATAMATCH) !== 0) {
    throw new ErrnoError('EINVAL', `ioeventfd flags 0x${(a.flags >>> 0).toString(16)} has reserved bits`);
  }
  if (!validLen(a.len)) throw new ErrnoError('EINVAL', `ioeventfd len ${a.len} is not 0, 1, 2, 4 or 8`);
  // QUIRK K2: v17 adds in u64 before checking, so the sum wraps and the check never fires.
  if (!overflowUnchecked && a.addr + BigInt(a.len) > U64_MAX) {
    throw new ErrnoError('EINVAL', `ioeventfd addr 0x${a.addr.toString(16)} + len ${a.len} overflows`);
  }
  if (a.len === 0 && (a.flags & GUNYAH_IOEVENTFD_FLAGS_DATAMATCH) !== 0) {
    throw new ErrnoError('EINVAL', 'ioeventfd len 0 cannot be combined with DATAMATCH');
  }
  return a;
}

/**
 * REMOVE_FUNCTION's comparison (uapi.md §8.1): `other` must be exactly 32 bytes; addr, len and
 * flags must be equal, and datamatch too when DATAMATCH is set.
 */
export function ioeventfdArgMatches(mine: FnIoeventfdArg, other: Uint8Array): boolean {
  if (other.byteLength !== ARG_SIZE) return false;
  const o = decodeFnIoeventfdArg(other);
  if (o.addr !== mine.addr || o.len !== mine.len || o.flags !== mine.flags) return false;
  return (mine.flags & GUNYAH_IOEVENTFD_FLAGS_DATAMATCH) === 0 || o.datamatch === mine.datamatch;
}

/** One bound ioeventfd. */
class IoeventfdInstance implements VmFunctionInstance {
  readonly type = GUNYAH_FN_IOEVENTFD;
  readonly result = 0;
  #bound = true;

  constructor(
    readonly vm: VmHandle,
    readonly arg: FnIoeventfdArg,
    readonly entry: IoeventfdEntry,
  ) {}

  matches(other: Uint8Array): boolean {
    return ioeventfdArgMatches(this.arg, other);
  }

  unbind(): void {
    if (!this.#bound) return;
    this.#bound = false;
    this.vm.removeIoeventfd(this.entry);
  }
}

function bindIoeventfd(vm: VmHandle, arg: Uint8Array, ctx: IoctlContext): VmFunctionInstance {
  const a = validateIoeventfdArg(arg, vm.quirks.k2IoeventfdOverflowUnchecked);
  const file = a.fd < 0 ? undefined : ctx.fget(a.fd);
  if (file === undefined) throw new ErrnoError('EBADF', `ioeventfd fd ${a.fd} is not open`);
  if (!isEventFd(file)) throw new ErrnoError('EINVAL', `ioeventfd fd ${a.fd} (${file.name}) is not an eventfd`);
  const datamatch = (a.flags & GUNYAH_IOEVENTFD_FLAGS_DATAMATCH) !== 0;
  // §8.14: only with DATAMATCH are len and data part of the handler; without it len is 0.
  const entry: IoeventfdEntry = {
    addr: a.addr,
    len: datamatch ? a.len : 0,
    datamatch,
    data: datamatch ? a.datamatch : 0n,
    fire: () => void file.signal(1n),
  };
  vm.addIoeventfd(entry); // EEXIST when an equal handler exists (§8.14 ordering)
  return new IoeventfdInstance(vm, a, entry);
}

/** GUNYAH_FN_IOEVENTFD (uapi.md §4): argument `gunyah_fn_ioeventfd_arg`, 32 bytes. */
export const ioeventfdFunction: VmFunctionType = {
  type: GUNYAH_FN_IOEVENTFD,
  argSize: ARG_SIZE,
  bind: bindIoeventfd,
};
