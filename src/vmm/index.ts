/**
 * The convenience layer for TypeScript VMMs: typed fds over the raw HostProcess contract.
 * Reference: DESIGN.md "Public contracts".
 */
export { GunyahDevice, VmFd, GuestMemFd, type MapMemOptions, type IoeventfdOptions } from './vm-fd.js';
export { VcpuFd } from './vcpu-fd.js';
export { buildVmDtb, type VmDtbOptions, type VmDtbDoorbell, type VmDtbVirtioMmio, type VmDtbScmi } from './vm-dtb.js';
export {
  ScmiVirtioDevice,
  type ScmiAgentSpec,
  type ScmiVirtioDeviceOptions,
  type ScmiVirtioDeviceEvents,
  type ScmiVirtioDeviceFds,
} from './scmi-device.js';
export { ioctlWith, type HostLike, type HostMapping } from './host-like.js';
export {
  GhVmFd,
  GhMemAllow,
  encodeGhUserMemRegion,
  GH_VM_SET_USER_MEM_REGION,
  GH_VM_ANDROID_LEND_USER_MEM,
  GH_VM_CHECK_EXTENSION,
  GH_USER_MEM_REGION_SIZE,
  type GhUserMemRegion,
} from './gh-vm-fd.js';
