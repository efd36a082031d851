/**
 * The gh_ VM fd: its ioctls and their argument checks. Covered: SET_USER_MEM_REGION,
 * SET_DTB_CONFIG, START, ADD_FUNCTION, REMOVE_FUNCTION (the 'G' numbers), and of the Android
 * 'A' ioctls LEND_USER_MEM, SET_FW_CONFIG and CHECK_EXTENSION. Everything else is ENOTTY: the
 * v17-only MAP_MEM and SET_BOOT_CONTEXT (the v14 / ACK android14 driver has neither), and the
 * 'A' ioctls left out (TENTATIVE_UAPI, RECLAIM_REGION, MAP_CMA_MEM, SET_AUTH_TYPE; reasons in
 * docs/decisions.md G-rows and docs/gh-dialect.md).
 *
 * Reference: README.md §Dialects (numbers and structs), uapi.md §6.2 (the rows both dialects
 * share: copy faults EFAULT, unknown requests ENOTTY), vmm-flows.md §3 (crosvm's calls), Q2
 * (START after a failed start: ENODEV), Q14 (SET_BOOT_CONTEXT ENOTTY tolerated by crosvm).
 * The file keeps the v17 name 'gunyah-vm' so that traces and their tools see one kind of VM fd.
 */
import type { IoctlContext, KernelFile } from '../../host/kernel-file.js';
import { ErrnoError } from '../../shared/errno.js';
import { decodeVmDtbConfig } from '../uapi/structs.js';
import { endBeyondU64, roundUpToPage } from '../u64-range.js';
import { LinuxVmStatus } from '../vm-api.js';
import { addFunction } from '../vm-functions.js';
import { ghRemoveFunction } from './gh-functions.js';
import {
  GH_SIZEOF,
  GH_SIZEOF_DTB_CONFIG,
  GH_VM_ADD_FUNCTION,
  GH_VM_ANDROID_LEND_USER_MEM,
  GH_VM_ANDROID_SET_FW_CONFIG,
  GH_VM_CHECK_EXTENSION,
  GH_VM_REMOVE_FUNCTION,
  GH_VM_SET_DTB_CONFIG,
  GH_VM_SET_USER_MEM_REGION,
  GH_VM_START,
  GhVmAuth,
  decodeGhFwConfig,
  ghIoctlName,
} from './gh-uapi.js';
import { addUserRegion } from './gh-user-regions.js';
import type { GhVm } from './gh-vm.js';

export class GhVmFile implements KernelFile {
  readonly name = 'gunyah-vm';
  constructor(readonly vm: GhVm) {}

  async ioctl(request: number, arg: bigint, ctx: IoctlContext): Promise<number> {
    const vm = this.vm;
    switch (request >>> 0) {
      case GH_VM_SET_USER_MEM_REGION:
        return addUserRegion(vm, arg, ctx, false);
      case GH_VM_ANDROID_LEND_USER_MEM:
        return addUserRegion(vm, arg, ctx, true);
      case GH_VM_SET_DTB_CONFIG: {
        const { guestPhysAddr: gpa, size } = decodeVmDtbConfig(ctx.user.copyFromUser(arg, GH_SIZEOF_DTB_CONFIG));
        const rounded = roundUpToPage(size);
        if (endBeyondU64(gpa, rounded)) throw new ErrnoError('EOVERFLOW', 'guest_phys_addr + size overflows');
        vm.dtbConfig = { gpa, size: rounded };
        return 0;
      }
      case GH_VM_ANDROID_SET_FW_CONFIG: {
        const { guestPhysAddr: gpa, size } = decodeGhFwConfig(ctx.user.copyFromUser(arg, GH_SIZEOF.gh_vm_firmware_config));
        vm.fwConfig = { gpa, size };
        vm.authType = GhVmAuth.GH_RM_VM_AUTH_QCOM_ANDROID_PVM;
        return 0;
      }
      case GH_VM_START: {
        await vm.ensureStarted();
        if (vm.status !== LinuxVmStatus.RUNNING) throw new ErrnoError('ENODEV', 'the VM is not running (an earlier start failed, or it exited)');
        return 0;
      }
      case GH_VM_ADD_FUNCTION:
        return addFunction(vm, arg, ctx);
      case GH_VM_REMOVE_FUNCTION:
        return ghRemoveFunction(vm, arg, ctx);
      case GH_VM_CHECK_EXTENSION:
        // No capability is offered: the emulated hypervisor has no vCPU timer to wake a
        // proxy-scheduled vCPU with, so GH_CAP_VCPU_TIMER_WAKEUP (0) is 0, as is any other id.
        return 0;
      default: {
        const name = ghIoctlName(request);
        throw new ErrnoError('ENOTTY', `gh_ VM fd ioctl 0x${(request >>> 0).toString(16)}${name ? ` (${name}: not covered)` : ''}`);
      }
    }
  }

  release(): Promise<void> {
    return this.vm.put();
  }
}
