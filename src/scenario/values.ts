/**
 * Values and names of the scenario format: u64 and register values written as JSON numbers or
 * "0x…" strings, and the symbolic names a scenario may use for numbers (errno, VM status, RM
 * exit types, RM messages and errors, SCMI statuses, resume actions, boot-context registers).
 * Each name table comes from the module that owns the numbers; nothing is re-typed here.
 *
 * Reference: uapi.md §4 (statuses, resume actions, boot-context keys); rm-rpc.md §11, §13, §14,
 * §15.1 (message IDs, errors, exit types, VM status); scmi-virtio.md §9 (status codes);
 * shared/reference/README.md (errno values).
 */
import { Errno } from '../shared/errno.js';
import { ExitType, OsStatus, VmStatus } from '../rm-rpc/wire/enums.js';
import { RmErrorCode } from '../rm-rpc/wire/errors.js';
import { RmMsgId, RmNotifId } from '../rm-rpc/wire/msg-ids.js';
import { HOST_HYPERCALL_NAMES, VcpuRunState } from '../hyp/host-api.js';
import { HoldingCellCmd } from '../guest/holding-cell-protocol.js';
import { ScmiStatus } from '../scmi/api.js';
import { GunyahIoctl } from '../vm-mgr/uapi/ioctls.js';
import { GhIoctl } from '../vm-mgr/gh/gh-uapi.js';
import { DEFAULT_QUIRKS } from '../vm-mgr/vm-api.js';

const MASK64 = (1n << 64n) - 1n;

/** Names a scenario may use (schema enums; the runner maps them to numbers). */
export const ERRNO_NAMES: readonly string[] = Object.keys(Errno);
export const RM_MSG_NAMES: readonly string[] = Object.keys(RmMsgId);
export const RM_NOTIF_NAMES: readonly string[] = Object.keys(RmNotifId);
export const RM_ERROR_NAMES: readonly string[] = Object.keys(RmErrorCode);
export const HYPERCALL_NAMES: readonly string[] = [...HOST_HYPERCALL_NAMES];
export const EXIT_TYPE_NAMES: readonly string[] = Object.keys(ExitType);
export const VM_STATUS_NAMES: readonly string[] = Object.keys(VmStatus);
export const OS_STATUS_NAMES: readonly string[] = Object.keys(OsStatus);
export const SCMI_STATUS_NAMES: readonly string[] = Object.keys(ScmiStatus);
export const HOLDING_CELL_CMD_NAMES: readonly string[] = Object.keys(HoldingCellCmd);
export const VCPU_RUN_STATE_NAMES: readonly string[] = Object.keys(VcpuRunState);
export { VcpuRunState };
export const QUIRK_NAMES: readonly string[] = Object.keys(DEFAULT_QUIRKS);
/** Linux STATUS-exit statuses (uapi.md §4), without the GUNYAH_VM_STATUS_ prefix. */
export const RUN_STATUS = { LOAD_FAILED: 1, EXITED: 2, CRASHED: 3 } as const;
export const RUN_STATUS_NAMES: readonly string[] = Object.keys(RUN_STATUS);
/** mmio.resume_action (uapi.md §4). */
export const RESUME = { HANDLED: 0, FAULT: 1, RETRY: 2 } as const;
/** The operations an `ioctl` observation names: the upstream ioctl names, and the syscalls the runner makes. */
export const OP_NAMES: readonly string[] = [...Object.keys(GunyahIoctl), ...Object.keys(GhIoctl), 'fallocate', 'eventfd_write', 'eventfd_read', 'mmap'];
/** The ioctl names of one dialect (the other's are refused in its scenarios). */
export const V17_IOCTL_NAMES: readonly string[] = Object.keys(GunyahIoctl);
export const GH_IOCTL_NAMES: readonly string[] = Object.keys(GhIoctl);
/** Boot-context register names (uapi.md §4: set << 8 | index). */
export const BOOT_REGS: Readonly<Record<string, number>> = Object.freeze({
  ...Object.fromEntries(Array.from({ length: 31 }, (_, i) => [`X${i}`, i])),
  PC: 0x100,
  SP_EL0: 0x200,
  SP_EL1: 0x201,
  SP_EL2: 0x202,
});

/** Parse a u64 (already checked by the schema's pattern); RangeError past 64 bits. */
export function u64(v: number | string): bigint {
  const b = typeof v === 'number' ? BigInt(v) : BigInt(v.replaceAll('_', ''));
  if (b < 0n || b > MASK64) throw new RangeError(`${String(v)} does not fit a u64`);
  return b;
}

/** Parse a register value: −2^63 ≤ v < 2^64, negative values as two's complement. */
export function value(v: number | string): bigint {
  let b: bigint;
  if (typeof v === 'number') b = BigInt(v);
  else {
    const s = v.replaceAll('_', '');
    b = s.startsWith('-') ? -BigInt(s.slice(1)) : BigInt(s);
  }
  if (b < -(1n << 63n) || b > MASK64) throw new RangeError(`${String(v)} does not fit 64 bits`);
  return BigInt.asUintN(64, b);
}

/** Check that a u64/value string parses (for the validator); undefined when it does. */
export function valueProblem(v: number | string, signed: boolean): string | undefined {
  try {
    if (signed) value(v);
    else u64(v);
    return undefined;
  } catch {
    return signed ? 'a value that fits 64 bits' : 'a u64 (at most 0xffffffffffffffff)';
  }
}

export const hex = (v: bigint | number): string => `0x${v.toString(16)}`;

/** A name of `table` or a number: the number. */
export function named(table: Readonly<Record<string, number>>, v: string | number): number {
  if (typeof v === 'number') return v;
  const n = table[v];
  if (n === undefined) throw new RangeError(`unknown name ${v}`);
  return n;
}

/** The name of `n` in `table`, or the number itself. */
export function nameOf(table: Readonly<Record<string, number>>, n: number): string | undefined {
  for (const [k, v] of Object.entries(table)) if (v === n) return k;
  return undefined;
}

/** Hex of bytes, no separator. */
export function bytesHex(b: Uint8Array): string {
  return [...b].map((x) => x.toString(16).padStart(2, '0')).join('');
}

/** "rwx"-style access to GUNYAH_MEM_ALLOW_* bits. */
export function allowBits(s: string): number {
  let bits = 0;
  if (s.includes('r')) bits |= 0x10;
  if (s.includes('w')) bits |= 0x20;
  if (s.includes('x')) bits |= 0x40;
  return bits;
}
