/**
 * The hypervisor model: objects, capabilities and vIRQ numbers; guest VMs and their
 * proxy-scheduled vCPUs (vcpu_run); doorbells; the host's hypercall surface; the memory model.
 */
export { Hypervisor, FREE_VIRQ_START } from './hypervisor.js';
export type {
  HypObject,
  HypObjectType,
  HypervisorEvents,
  HypervisorOptions,
  StartVmOptions,
  VcpuStateEvent,
  VirqTrigger,
} from './hypervisor.js';
export { CapRights } from './objects.js';
export { Doorbell } from './doorbell.js';
export type { DoorbellLine, DoorbellState } from './doorbell.js';
export { GuestVm } from './guest-vm.js';
export type { DemandPagingRange } from './guest-vm.js';
export { VcpuThread } from './vcpu-thread.js';
export type { VcpuPower } from './vcpu-thread.js';
export { DEFAULT_RUN_BUDGET } from './vcpu-run.js';
export { HvcFn, PsciRet, VmExitType, PSCI_VERSION_1_1, SMCCC_VERSION_1_1 } from './psci.js';
export { DONATE_NOSYNC, DonateType, MapFlag, VcpuRunState, VmmioAction } from './host-api.js';
export type { HostHypercalls, VcpuRunResult } from './host-api.js';
export * from './memory/index.js';
