/**
 * The vCPU function of the Linux Gunyah driver model: vCPU fds, the run page and
 * GUNYAH_VCPU_RUN. Reference: uapi.md §5, §6.3, §8.4–§8.10; README.md §Dialects for gh_ VMs.
 */
export { vcpuFunction, vcpuArgMatches, VcpuInstance } from './vcpu-function.js';
export { Vcpu, VcpuState } from './vcpu.js';
export { VcpuFile } from './vcpu-file.js';
export { runPageMapping } from './run-page-mapping.js';
export type { RunPageOwner } from './run-page-mapping.js';
export { GH_VCPU_RULES, V17_VCPU_RULES, vcpuRules } from './run-dialect.js';
export type { VcpuRules } from './run-dialect.js';
