/**
 * The `vcpu.exit` trace records of the exits GUNYAH_VCPU_RUN gives userspace, decoded as the run
 * page carries them. Built only when the VM has a tracer (callers write `vm.trace?.emit(…)`).
 *
 * Reference: uapi.md §5 (run-page layout), §8.6 (MMIO exit), §8.8 (page-fault exit), §8.10
 * (STATUS exit: status, exit_info type / reason_size / reason[8]); docs/tracing.md.
 */
import { toHex } from '../shared/bytes.js';
import { hx, type VcpuExitEvent } from '../shared/trace-events.js';
import {
  GUNYAH_VM_STATUS_CRASHED,
  GUNYAH_VM_STATUS_EXITED,
  GUNYAH_VM_STATUS_LOAD_FAILED,
  STATUS_EXIT_TYPE,
  STATUS_REASON,
  STATUS_REASON_SIZE,
  STATUS_STATUS,
} from '../vm-mgr/uapi/index.js';
import type { VmHandle } from '../vm-mgr/vm-api.js';

/** The kernel's VM number, when the handle has one (GunyahVm.id). */
function vmNumber(vm: VmHandle): number {
  const id = (vm as { readonly id?: unknown }).id;
  return typeof id === 'number' ? id : 0;
}

/** §8.6: an MMIO exit of `len` bytes at `addr`; `value` for a write (the low `len` bytes). */
export function mmioExitRecord(vm: VmHandle, vcpu: number, addr: bigint, len: number, isWrite: boolean, value: bigint): VcpuExitEvent {
  const base = { kind: 'vcpu.exit' as const, vm: vmNumber(vm), vmid: vm.vmid, vcpu, reason: 'MMIO' as const, addr: hx(addr), len, write: isWrite };
  if (!isWrite) return base;
  const mask = len >= 8 ? (1n << 64n) - 1n : (1n << BigInt(8 * len)) - 1n;
  return { ...base, data: hx(value & mask) };
}

/** §8.8: a page-fault exit at `addr` with the negative errno `attempt`. */
export function pageFaultExitRecord(vm: VmHandle, vcpu: number, addr: bigint, attempt: number): VcpuExitEvent {
  return { kind: 'vcpu.exit', vm: vmNumber(vm), vmid: vm.vmid, vcpu, reason: 'PAGE_FAULT', addr: hx(addr), attempt };
}

const STATUS_NAMES: Readonly<Record<number, string>> = {
  [GUNYAH_VM_STATUS_LOAD_FAILED]: 'LOAD_FAILED',
  [GUNYAH_VM_STATUS_EXITED]: 'EXITED',
  [GUNYAH_VM_STATUS_CRASHED]: 'CRASHED',
};

/**
 * §8.10: the STATUS exit as just written into `page`; with `repeat`, a RUN in SYSTEM_DOWN that
 * returned the exit again without rewriting the page (the record shows the page as it is).
 */
export function statusExitRecord(vm: VmHandle, vcpu: number, page: Uint8Array, repeat = false): VcpuExitEvent {
  const v = new DataView(page.buffer, page.byteOffset, page.byteLength);
  const status = v.getUint32(STATUS_STATUS, true);
  return {
    kind: 'vcpu.exit',
    vm: vmNumber(vm),
    vmid: vm.vmid,
    vcpu,
    reason: 'STATUS',
    status,
    statusName: STATUS_NAMES[status] ?? String(status),
    exitType: v.getUint16(STATUS_EXIT_TYPE, true),
    reasonSize: v.getUint32(STATUS_REASON_SIZE, true),
    reasonHex: toHex(page.subarray(STATUS_REASON, STATUS_REASON + 8), ''),
    ...(repeat ? { repeat: true } : {}),
  };
}
