/**
 * The VM fd ("gunyah-vm"): its ioctls and their argument checks, in the kernel's order.
 *
 * Reference: uapi.md §2 (request numbers), §3 (argument structs), §6.2 (the VM fd's validation
 * table: SET_DTB_CONFIG with QUIRK K1, START with K12, ADD/REMOVE_FUNCTION, MAP_MEM,
 * SET_BOOT_CONTEXT with K3, K4, K5), §8.1 (function framework: REMOVE compares only arguments
 * of the type's exact size and removes every match).
 */
import { ErrnoError } from '../shared/errno.js';
import type { IoctlContext, KernelFile } from '../host/kernel-file.js';
import { mapMem } from './map-mem.js';
import { startSequence } from './vm-start.js';
import { LinuxVmStatus } from './vm-api.js';
import type { GunyahVm } from './vm.js';

const IOW = (nr: number, size: number): number => (0x4000_0000 | (size << 16) | 0x4700 | nr) >>> 0;
export const VM_IOCTL = {
  SET_DTB_CONFIG: IOW(0x2, 16),
  START: 0x4703,
  ADD_FUNCTION: IOW(0x4, 16),
  REMOVE_FUNCTION: IOW(0x7, 16),
  MAP_MEM: IOW(0x9, 32),
  SET_BOOT_CONTEXT: IOW(0xa, 16),
} as const;

/** GUNYAH_FN_MAX_ARG_SIZE. */
const FN_MAX_ARG_SIZE = 256;
/** Above this, the kernel's allocation for REMOVE_FUNCTION's copy fails (ENOMEM). */
const KMALLOC_MAX = 4 * 1024 * 1024;
const U64_MAX = (1n << 64n) - 1n;

const dv = (b: Uint8Array): DataView => new DataView(b.buffer, b.byteOffset, b.byteLength);

export class VmFile implements KernelFile {
  readonly name = 'gunyah-vm';
  constructor(readonly vm: GunyahVm) {}

  async ioctl(request: number, arg: bigint, ctx: IoctlContext): Promise<number> {
    const vm = this.vm;
    switch (request >>> 0) {
      case VM_IOCTL.SET_DTB_CONFIG: {
        const d = dv(ctx.user.copyFromUser(arg, 16));
        const gpa = d.getBigUint64(0, true);
        const size = d.getBigUint64(8, true);
        // QUIRK K1: the overflow check adds in u64 and never fires.
        if (!vm.quirks.k1DtbConfigOverflowUnchecked && gpa + size > U64_MAX) throw new ErrnoError('EOVERFLOW', 'guest_phys_addr + size overflows');
        vm.dtbConfig = { gpa, size };
        return 0;
      }
      case VM_IOCTL.START: {
        await vm.statusLock.add(() => startSequence(vm));
        if (vm.status !== LinuxVmStatus.RUNNING) throw new ErrnoError('ENODEV', 'the VM is not running (an earlier start failed, or it exited)');
        return 0;
      }
      case VM_IOCTL.ADD_FUNCTION:
        return this.#addFunction(arg, ctx);
      case VM_IOCTL.REMOVE_FUNCTION:
        return this.#removeFunction(arg, ctx);
      case VM_IOCTL.MAP_MEM: {
        const d = dv(ctx.user.copyFromUser(arg, 32));
        return mapMem(
          vm,
          { guestAddr: d.getBigUint64(0, true), flags: d.getUint32(8, true), guestMemFd: d.getUint32(12, true), offset: d.getBigUint64(16, true), size: d.getBigUint64(24, true) },
          (fd) => ctx.fget(fd),
        );
      }
      case VM_IOCTL.SET_BOOT_CONTEXT: {
        const d = dv(ctx.user.copyFromUser(arg, 16));
        const reg = d.getUint32(0, true);
        const value = d.getBigUint64(8, true);
        const set = (reg >>> 8) & 0xff;
        const index = reg & 0xff;
        const max = set === 0 ? 31 : set === 1 ? 0 : set === 2 ? 2 : -1;
        if (index > max) throw new ErrnoError('EINVAL', `register set ${set} index ${index}`);
        return vm.statusLock.add(() => {
          if (vm.status !== LinuxVmStatus.NO_STATE) throw new ErrnoError('EINVAL', 'the VM start was already attempted');
          // QUIRK K5: values that look like the kernel store's internal entries.
          if (vm.quirks.k5XarrayValueReject && (value & 3n) === 2n && value <= 1026n) throw new ErrnoError('EINVAL', `value ${value} is reserved by the kernel's store`);
          // QUIRK K4: storing 0 erases the entry. QUIRK K3: the key is the whole 32-bit reg.
          if (value === 0n && vm.quirks.k4ZeroErasesBootReg) vm.bootContext.delete(reg);
          else vm.bootContext.set(reg, value);
          return 0;
        });
      }
      default:
        throw new ErrnoError('ENOTTY', `VM fd ioctl 0x${(request >>> 0).toString(16)}`);
    }
  }

  async #addFunction(arg: bigint, ctx: IoctlContext): Promise<number> {
    const vm = this.vm;
    const d = dv(ctx.user.copyFromUser(arg, 16));
    const type = d.getUint32(0, true);
    const argSize = d.getUint32(4, true);
    const argPtr = d.getBigUint64(8, true);
    if (argSize > FN_MAX_ARG_SIZE) throw new ErrnoError('EINVAL', `arg_size ${argSize} > ${FN_MAX_ARG_SIZE}`);
    const fnArg = argSize === 0 ? new Uint8Array(0) : ctx.user.copyFromUser(argPtr, argSize);
    return vm.fnLock.add(async () => {
      const ft = vm.k.functionTypes.get(type);
      if (!ft) throw new ErrnoError('ENOENT', `function type ${type} is not registered`);
      const inst = await ft.bind(vm, fnArg, ctx);
      vm.functions.push(inst);
      vm.k.trace?.emit({ kind: 'kernel.function-added', vm: vm.id, type, result: inst.result });
      return inst.result;
    });
  }

  async #removeFunction(arg: bigint, ctx: IoctlContext): Promise<number> {
    const vm = this.vm;
    const d = dv(ctx.user.copyFromUser(arg, 16));
    const type = d.getUint32(0, true);
    const argSize = d.getUint32(4, true);
    const argPtr = d.getBigUint64(8, true);
    if (argSize > KMALLOC_MAX) throw new ErrnoError('ENOMEM', `arg_size ${argSize}`);
    const fnArg = argSize === 0 ? new Uint8Array(0) : ctx.user.copyFromUser(argPtr, argSize);
    return vm.fnLock.add(async () => {
      const ft = vm.k.functionTypes.get(type);
      const matches = vm.functions.filter((f) => f.type === type && ft !== undefined && fnArg.length === ft.argSize && f.matches(fnArg));
      if (matches.length === 0) throw new ErrnoError('ENOENT', `no function of type ${type} matches`);
      for (const f of matches) {
        vm.functions.splice(vm.functions.indexOf(f), 1);
        await f.unbind();
      }
      vm.k.trace?.emit({ kind: 'kernel.function-removed', vm: vm.id, type, count: matches.length });
      return 0;
    });
  }

  release(): Promise<void> {
    return this.vm.put();
  }
}
