/**
 * The VM fd ("gunyah-vm"): its ioctls and their argument checks, in the kernel's order.
 *
 * Reference: uapi.md §2 (request numbers), §3 (argument structs), §6.2 (the VM fd's validation
 * table: SET_DTB_CONFIG with QUIRK K1, START with K12, ADD/REMOVE_FUNCTION, MAP_MEM,
 * SET_BOOT_CONTEXT with K3, K4, K5), §8.1 (function framework: REMOVE compares only arguments
 * of the type's exact size and removes every match; the part both dialects share is
 * vm-functions.ts).
 */
import { ErrnoError } from '../shared/errno.js';
import type { IoctlContext, KernelFile } from '../host/kernel-file.js';
import { mapMem } from './map-mem.js';
import { startSequence } from './vm-start.js';
import { LinuxVmStatus } from './vm-api.js';
import type { GunyahVm } from './vm.js';
import {
  GUNYAH_VM_ADD_FUNCTION,
  GUNYAH_VM_MAP_MEM,
  GUNYAH_VM_REMOVE_FUNCTION,
  GUNYAH_VM_SET_BOOT_CONTEXT,
  GUNYAH_VM_SET_DTB_CONFIG,
  GUNYAH_VM_START,
} from './uapi/ioctls.js';
import { SIZEOF, decodeMapMemArgs, decodeVmBootContext, decodeVmDtbConfig } from './uapi/structs.js';
import { endBeyondU64 } from './u64-range.js';
import { addFunction, removeFunction, type RemoveRules } from './vm-functions.js';

/** v17 REMOVE_FUNCTION: the instance's own compare (uapi.md §8.1); arg_size 0 matches nothing. */
const V17_REMOVE: RemoveRules = { emptyArgRemovesNothing: false, matches: (_ft, inst, _added, arg) => inst.matches(arg) };

export class VmFile implements KernelFile {
  readonly name = 'gunyah-vm';
  constructor(readonly vm: GunyahVm) {}

  async ioctl(request: number, arg: bigint, ctx: IoctlContext): Promise<number> {
    const vm = this.vm;
    switch (request >>> 0) {
      case GUNYAH_VM_SET_DTB_CONFIG: {
        const { guestPhysAddr: gpa, size } = decodeVmDtbConfig(ctx.user.copyFromUser(arg, SIZEOF.gunyah_vm_dtb_config));
        // QUIRK K1: the overflow check adds in u64 and never fires.
        if (!vm.quirks.k1DtbConfigOverflowUnchecked && endBeyondU64(gpa, size)) throw new ErrnoError('EOVERFLOW', 'guest_phys_addr + size overflows');
        vm.dtbConfig = { gpa, size };
        return 0;
      }
      case GUNYAH_VM_START: {
        await vm.statusLock.add(() => startSequence(vm));
        if (vm.status !== LinuxVmStatus.RUNNING) throw new ErrnoError('ENODEV', 'the VM is not running (an earlier start failed, or it exited)');
        return 0;
      }
      case GUNYAH_VM_ADD_FUNCTION:
        return addFunction(vm, arg, ctx);
      case GUNYAH_VM_REMOVE_FUNCTION:
        return removeFunction(vm, arg, ctx, V17_REMOVE);
      case GUNYAH_VM_MAP_MEM:
        return mapMem(vm, decodeMapMemArgs(ctx.user.copyFromUser(arg, SIZEOF.gunyah_map_mem_args)), (fd) => ctx.fget(fd));
      case GUNYAH_VM_SET_BOOT_CONTEXT: {
        const { reg, value } = decodeVmBootContext(ctx.user.copyFromUser(arg, SIZEOF.gunyah_vm_boot_context));
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

  release(): Promise<void> {
    return this.vm.put();
  }
}
