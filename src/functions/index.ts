/**
 * VM functions other than the vCPU (which lives in src/vcpu): irqfd and ioeventfd, plus the
 * ioeventfd ordering rule the VM manager's handler table uses, and the emulator's own SCMI
 * function (GUNYAH_FN_SCMI, docs/scmi.md).
 *
 * Reference: uapi.md §6.2 (ADD/REMOVE_FUNCTION rows), §8.1, §8.13, §8.14; docs/scmi.md.
 */
export { irqfdFunction, validateIrqfdArg, irqfdArgMatches } from './irqfd.js';
export { ioeventfdFunction, validateIoeventfdArg, ioeventfdArgMatches } from './ioeventfd.js';
export { compareIoeventfd, compareIoeventfdWrite } from './ioeventfd-order.js';
export type { IoeventfdKey } from './ioeventfd-order.js';
export { scmiFunction, ScmiFunctionInstance } from './scmi-function.js';
export type { ScmiFunctionState } from './scmi-function.js';
export { SCMI_FUNCTION_FEATURES, checkScmiArg, checkRingMemory, scmiArgMatches } from './scmi-arg-check.js';
export type { CheckedScmiArg } from './scmi-arg-check.js';
