/**
 * The hypervisor memory model (hypervisor.md §8): extents owning physical memory, per-VM stage-2
 * address spaces, donation and checked access. Everything outside this folder goes through here.
 */
export { Access, PAGE_SIZE } from './api.js';
export type {
  AccessKind,
  CreateExtentOptions,
  ExtentId,
  ExtentInfo,
  LookupResult,
  MappingInfo,
  MemFaultInfo,
  MemoryModel,
  MemoryModelOptions,
  PaRange,
  Translation,
} from './api.js';
export { createMemoryModel } from './memory-model.js';
export { MemFault, isMemFault } from './mem-fault.js';
