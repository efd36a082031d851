/**
 * The vCPU VM function (GUNYAH_FN_VCPU): ADD_FUNCTION creates a vCPU and returns its fd;
 * REMOVE_FUNCTION (or teardown) unbinds it, after which RUN gives ENODEV for good while the fd
 * stays open.
 *
 * Reference: uapi.md §3 (`gunyah_fn_vcpu_arg`, 4 bytes), §6.2 (ADD_FUNCTION vCPU rows, in the
 * kernel's order: arg_size, ticket, VM reference), §7 (each vCPU fd holds a VM reference),
 * §8.1 (REMOVE_FUNCTION match key: id).
 *
 * A gh_ VM (README.md §Dialects) binds vCPUs exactly the same way: same function type, 4-byte
 * argument, ticket and fd; only what RUN does differs (run-dialect.ts).
 *
 * Bind order (each step undone in reverse on failure):
 *   run page (zeroed) ─▶ ticket (VCPU, id) ─▶ VM reference ─▶ status listener ─▶ fd (O_CLOEXEC)
 * Unbind order: status listener off ─▶ ticket removed (unpopulate sets immediate_exit and wakes
 * a sleeping RUN) ─▶ marked removed. The fd, the run page and the VM reference stay until the fd
 * is closed.
 */
import type { IoctlContext } from '../host/kernel-file.js';
import { ResourceType } from '../rm-rpc/wire/enums.js';
import { ErrnoError } from '../shared/errno.js';
import { Unwind } from '../shared/unwind.js';
import { GUNYAH_FN_VCPU, SIZEOF, decodeFnVcpuArg } from '../vm-mgr/uapi/index.js';
import type { Ticket, VmFunctionInstance, VmFunctionType, VmHandle } from '../vm-mgr/vm-api.js';
import { Vcpu } from './vcpu.js';
import { VcpuFile } from './vcpu-file.js';

/** sizeof(struct gunyah_fn_vcpu_arg). */
const ARG_SIZE = SIZEOF.gunyah_fn_vcpu_arg;

/** REMOVE_FUNCTION's comparison (uapi.md §8.1): exactly 4 bytes and the same id. */
export function vcpuArgMatches(id: number, other: Uint8Array): boolean {
  return other.byteLength === ARG_SIZE && decodeFnVcpuArg(other).id === id;
}

/** One bound vCPU function. */
export class VcpuInstance implements VmFunctionInstance {
  readonly type = GUNYAH_FN_VCPU;
  #bound = true;

  constructor(
    readonly vm: VmHandle,
    readonly vcpu: Vcpu,
    readonly file: VcpuFile,
    /** The fd ADD_FUNCTION returns. */
    readonly result: number,
    readonly ticket: Ticket,
    readonly statusOff: () => void,
  ) {}

  matches(other: Uint8Array): boolean {
    return vcpuArgMatches(this.vcpu.id, other);
  }

  unbind(): void {
    if (!this.#bound) return;
    this.#bound = false;
    this.statusOff();
    this.vm.removeTicket(this.ticket);
    this.vcpu.markRemoved();
  }
}

async function bindVcpu(vm: VmHandle, arg: Uint8Array, ctx: IoctlContext): Promise<VmFunctionInstance> {
  if (arg.byteLength !== ARG_SIZE) throw new ErrnoError('EINVAL', `vCPU arg_size ${arg.byteLength}, expected ${ARG_SIZE}`);
  const { id } = decodeFnVcpuArg(arg);
  const vcpu = new Vcpu(vm, id);
  const undo = new Unwind();
  try {
    const ticket = vm.addTicket(ResourceType.VCPU, id, vcpu); // EEXIST; may populate at once
    undo.push(() => vm.removeTicket(ticket));
    vm.get(); // ENODEV when the VM is going away
    undo.push(() => vm.put());
    const statusOff = vm.onStatusChange(() => vcpu.statusChanged());
    undo.push(statusOff);
    const file = new VcpuFile(vcpu, vm);
    const fd = ctx.installFd(file, { cloexec: true });
    return new VcpuInstance(vm, vcpu, file, fd, ticket, statusOff);
  } catch (err) {
    await undo.run(vm.log);
    throw err;
  }
}

/** GUNYAH_FN_VCPU (uapi.md §4): argument `gunyah_fn_vcpu_arg`, 4 bytes; the result is a vCPU fd. */
export const vcpuFunction: VmFunctionType = {
  type: GUNYAH_FN_VCPU,
  argSize: ARG_SIZE,
  bind: bindVcpu,
};
