/**
 * virtio for VMM-side devices: constants, the guest-memory access interface, the device side of
 * a split virtqueue and the virtio-mmio register-window model.
 *
 * Reference: scmi-virtio.md §1–§5, §11.
 */
export * from './constants.js';
export { GuestMemoryError, isGuestMemoryError } from './guest-memory.js';
export type { GuestMemoryAccess, GuestMemoryErrorReason } from './guest-memory.js';
export { SplitQueue, checkSplitQueueConfig, splitQueueLayout } from './split-queue.js';
export type { DescriptorChain, QueueBroken, QueueBrokenKind, SplitQueueConfig, SplitQueueOptions, WritableSegment } from './split-queue.js';
export { VirtioMmioRegisters, scmiVirtioMmioOptions } from './mmio-registers.js';
export type {
  VirtioMmioEvents,
  VirtioMmioOptions,
  VirtioMmioQueueConfig,
  VirtioMmioQueueSpec,
  VirtioMmioShmRegion,
  VirtioMmioWarning,
  VirtioMmioWarningKind,
} from './mmio-registers.js';
