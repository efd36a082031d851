/** The hypervisor model: objects, capabilities and vIRQ numbers. */
export { Hypervisor, FREE_VIRQ_START } from './hypervisor.js';
export type { HypObject, HypObjectType, HypervisorOptions } from './hypervisor.js';
export * from './memory/index.js';
