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
