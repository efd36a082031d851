/**
 * virtio numbers the SCMI device needs: the virtio-mmio (version 2) register offsets, the
 * magic/version/device-ID values, device status bits, feature bits, split-ring descriptor flags
 * and ring flag bits.
 *
 * Reference: scmi-virtio.md §1 (register map), §2 (status bits), §3 (feature bits), §4 (split
 * virtqueue layout, descriptor flags), §5 (virtio-scmi device: queues). Values are typed from the
 * sheet; nothing here computes.
 */

/** virtio-mmio register offsets (scmi-virtio.md §1). */
export const VirtioMmioReg = {
  MAGIC_VALUE: 0x000,
  VERSION: 0x004,
  DEVICE_ID: 0x008,
  VENDOR_ID: 0x00c,
  DEVICE_FEATURES: 0x010,
  DEVICE_FEATURES_SEL: 0x014,
  DRIVER_FEATURES: 0x020,
  DRIVER_FEATURES_SEL: 0x024,
  QUEUE_SEL: 0x030,
  QUEUE_NUM_MAX: 0x034,
  QUEUE_NUM: 0x038,
  QUEUE_READY: 0x044,
  QUEUE_NOTIFY: 0x050,
  INTERRUPT_STATUS: 0x060,
  INTERRUPT_ACK: 0x064,
  STATUS: 0x070,
  QUEUE_DESC_LOW: 0x080,
  QUEUE_DESC_HIGH: 0x084,
  QUEUE_DRIVER_LOW: 0x090,
  QUEUE_DRIVER_HIGH: 0x094,
  QUEUE_DEVICE_LOW: 0x0a0,
  QUEUE_DEVICE_HIGH: 0x0a4,
  SHM_SEL: 0x0ac,
  SHM_LEN_LOW: 0x0b0,
  SHM_LEN_HIGH: 0x0b4,
  SHM_BASE_LOW: 0x0b8,
  SHM_BASE_HIGH: 0x0bc,
  QUEUE_RESET: 0x0c0,
  CONFIG_GENERATION: 0x0fc,
  /** Start of the device-specific configuration space (none for SCMI). */
  CONFIG: 0x100,
} as const;

/** "virt" in little-endian ASCII. */
export const VIRTIO_MMIO_MAGIC = 0x74726976;
/** The modern (non-legacy) virtio-mmio version. */
export const VIRTIO_MMIO_VERSION = 2;
/** Size of the register window up to the config space. */
export const VIRTIO_MMIO_CONFIG_OFFSET = 0x100;

/** Device IDs (scmi-virtio.md §1, §5). */
export const VirtioDeviceId = { NONE: 0, SCMI: 32 } as const;

/** InterruptStatus / InterruptACK bits (scmi-virtio.md §1). */
export const VirtioInterrupt = { USED_BUFFER: 0x1, CONFIG_CHANGE: 0x2 } as const;

/** Device status bits (scmi-virtio.md §2). */
export const VirtioStatus = {
  RESET: 0,
  ACKNOWLEDGE: 1,
  DRIVER: 2,
  DRIVER_OK: 4,
  FEATURES_OK: 8,
  DEVICE_NEEDS_RESET: 64,
  FAILED: 128,
} as const;

/** Feature bit numbers (scmi-virtio.md §3). Use `featureBit(n)` for the 64-bit mask. */
export const VirtioFeature = {
  SCMI_F_P2A_CHANNELS: 0,
  SCMI_F_SHARED_MEMORY: 1,
  F_NOTIFY_ON_EMPTY: 24,
  RING_F_INDIRECT_DESC: 28,
  RING_F_EVENT_IDX: 29,
  /** vhost-user only: never a device feature. */
  VHOST_USER_F_PROTOCOL_FEATURES: 30,
  F_VERSION_1: 32,
} as const;

/** The 64-bit mask of feature bit `bit`. */
export function featureBit(bit: number): bigint {
  return 1n << BigInt(bit);
}

/** Split-ring descriptor flags (scmi-virtio.md §4). */
export const VirtqDescFlag = { NEXT: 0x1, WRITE: 0x2, INDIRECT: 0x4 } as const;

/** avail.flags bit 0: the driver does not want used-buffer interrupts. */
export const VIRTQ_AVAIL_F_NO_INTERRUPT = 0x1;
/** used.flags bit 0: the device does not want kicks. */
export const VIRTQ_USED_F_NO_NOTIFY = 0x1;

/** Largest split-queue size. */
export const VIRTQ_MAX_SIZE = 32768;
/** Bytes of one descriptor. */
export const VIRTQ_DESC_SIZE = 16;
/** Bytes of one used-ring element {u32 id, u32 len}. */
export const VIRTQ_USED_ELEM_SIZE = 8;
/** Required alignment of the descriptor table, available ring and used ring. */
export const VirtqAlign = { DESC: 16, AVAIL: 2, USED: 4 } as const;

/** virtio-scmi queue indices (scmi-virtio.md §5). */
export const ScmiVirtqueue = { CMDQ: 0, EVENTQ: 1 } as const;
