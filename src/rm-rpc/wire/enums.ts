/**
 * Protocol number tables of the RM RPC payloads: VM states, exit types and codes, auth types,
 * resource types, memparcel rights/attributes/flags/transaction types, IRQ and IPA constants,
 * VMIDs and limits.
 *
 * Reference: rm-rpc.md §10 (VMIDs), §12 (layouts), §13 (notifications), §15.1 (state enums),
 * §16 (memparcels); hypervisor.md §9.2 (resource types). Names are the RM's (rm_types.h,
 * vm_mgnt_message.h, memparcel_msg.h …) without their prefixes; where Linux v17 spells a value
 * differently, the Linux name is noted. Each table is the only place its numbers appear.
 */

/** Name of `value` in an `as const` table, or undefined. */
export function enumName<T extends Readonly<Record<string, number>>>(table: T, value: number): keyof T | undefined {
  for (const k in table) if (table[k] === value) return k;
  return undefined;
}

/** Fixed VMIDs (RM rm_types.h; rm-rpc.md §10). */
export const Vmid = {
  HYP: 0x0,
  HLOS: 0x3,
  DYNAMIC_BASE: 0x80,
  /** Exclusive end of the dynamic range (63 ids, 0x80..0xBE). */
  DYNAMIC_END: 0xbf,
  RM: 0xff,
  ANY: 0xfffe,
  /** Also Linux `GUNYAH_VMID_INVAL`. */
  PEER_DEFAULT: 0xffff,
} as const;

/** `vm_status` (§15.1). Linux calls NONE `NO_STATE`. Value 7 is reserved. */
export const VmStatus = {
  NONE: 0,
  INIT: 1,
  READY: 2,
  RUNNING: 3,
  PAUSED: 4,
  LOAD: 5,
  AUTH: 6,
  INIT_FAILED: 8,
  EXITED: 9,
  RESETTING: 10,
  RESET: 11,
} as const;
export type VmStatusName = keyof typeof VmStatus;

/** `os_status` (§15.1). VM_SET_STATUS accepts 0 (unchanged) and 1..7. */
export const OsStatus = {
  NONE: 0,
  EARLY_BOOT: 1,
  BOOT: 2,
  INIT: 3,
  RUN: 4,
  SHUTDOWN: 5,
  HALTED: 6,
  CRASHED: 7,
} as const;
export type OsStatusName = keyof typeof OsStatus;

/** NOTIFY_VM_EXITED `exit_type` (§15.1; crosvm/QEMU names in comments). */
export const ExitType = {
  VM_EXIT: 0,
  /** PSCI_POWER_OFF */
  PLATFORM_OFF: 1,
  /** PSCI_SYSTEM_RESET */
  PLATFORM_RESET: 2,
  PSCI_SYSTEM_RESET2: 3,
  /** WDT_BITE */
  WATCHDOG_BITE: 4,
  /** HYP_ERROR */
  SOFTWARE_ERROR: 5,
  /** ASYNC_EXT_ABORT; never produced by the public RM */
  ASYNC_HW_ERROR: 6,
  /** VM_FORCE_STOPPED */
  VM_STOP_FORCED: 7,
} as const;
export type ExitTypeName = keyof typeof ExitType;

/** Exit code: reason word 0 bits 31:16, and the VM_EXIT request's exit_code byte (§15.1). */
export const ExitCode = {
  NORMAL: 0,
  SOFTWARE_ERROR: 1,
  /** Rejected in a VM_EXIT request (MSG_INVALID). */
  UNKNOWN_ERROR: 2,
  BUS_ERROR: 3,
  DEVICE_ERROR: 4,
} as const;
export type ExitCodeName = keyof typeof ExitCode;

/** Exit flags: reason word 0 bits 15:0 (§15.1). */
export const ExitFlag = {
  RESTART: 1 << 0,
  /** SYSTEM_RESET2 was issued with the 64-bit SMC calling convention. */
  SMC64: 1 << 15,
} as const;

/** VM_STOP flags (§12.1). Linux always sends FORCE with stop_reason `VM_STOP_REASON_LINUX`. */
export const VmStopFlag = { FORCE: 0x1 } as const;
/** The stop_reason Linux v17 always sends (§12.1). */
export const VM_STOP_REASON_LINUX = 3;

/** VM_CONFIG_IMAGE / FW_SET_VM_FIRMWARE auth_type (§12.2). Linux: QCOM_PIL_ELF = 1, QCOM_ANDROID_PVM = 2. */
export const AuthType = {
  NONE: 0,
  PLATFORM: 1,
  ANDROID: 2,
} as const;
export type AuthTypeName = keyof typeof AuthType;

/** VM_GET_ID entry id_type (§12.1). */
export const VmIdType = {
  GUID: 0,
  URI: 1,
  NAME: 2,
  SIGN_AUTH: 3,
} as const;

/** VM_HOST_GET_TYPE reply: AArch64 (0x64) | Gunyah + RM (0x01 << 8) | version 1 (<< 24). */
export const HOST_TYPE_GUNYAH_AARCH64_V1 = 0x0100_0164;

/** Hypervisor resource types of VM_GET_HYP_RESOURCES entries (hypervisor.md §9.2). Linux names; RM-only types keep RM names. */
export const ResourceType = {
  /** RM RSC_DOORBELL_SRC */
  BELL_TX: 0,
  /** RM RSC_DOORBELL */
  BELL_RX: 1,
  /** RM RSC_MSG_QUEUE_SEND */
  MSGQ_TX: 2,
  /** RM RSC_MSG_QUEUE_RECV */
  MSGQ_RX: 3,
  /** RM RSC_VIRTUAL_CPU */
  VCPU: 4,
  VIRTUAL_PM: 5,
  VIRTIO_MMIO: 6,
  VRTC: 7,
  WATCHDOG: 8,
  /** [newer firmware] */
  MEM_EXTENT: 9,
  /** [newer firmware] */
  ADDR_SPACE: 10,
} as const;
export type ResourceTypeName = keyof typeof ResourceType;

/** Size of one VM_GET_HYP_RESOURCES entry (hypervisor.md §9.1). */
export const HYP_RESOURCE_ENTRY_SIZE = 44;

/** VM_SET_BOOT_CONTEXT reg_set (§12.3; uapi.md REG_SET_*). */
export const BootContextRegSet = {
  X: 0,
  PC: 1,
  SP: 2,
} as const;

/** VM_SET_ADDRESS_LAYOUT range_id (§12.3). */
export const AddressRangeId = {
  IMAGE: 0,
  FIRMWARE: 1,
} as const;

// ---- memory parcels (memparcel_msg.h; rm-rpc.md §12.5, §16) ----

/** mem_type. */
export const MemType = {
  NORMAL: 0,
  IO: 1,
} as const;

/** trans_type (MEM_ACCEPT, MEM_SHARED). */
export const TransType = {
  DONATE: 0,
  LEND: 1,
  SHARE: 2,
} as const;
export type TransTypeName = keyof typeof TransType;

/** ACL rights bits and the four accepted combinations. */
export const MemRights = {
  X: 0x1,
  W: 0x2,
  R: 0x4,
  RX: 0x5,
  RW: 0x6,
  RWX: 0x7,
} as const;

/** Attribute-list `attr` values. */
export const MemAttr = {
  NORMAL: 0,
  DEVICE: 1,
  UNCACHED: 2,
  CACHED: 3,
} as const;

/** MEM_LEND / MEM_SHARE / MEM_DONATE flags. */
export const MemCreateFlag = {
  SANITIZE: 0x1,
  APPEND: 0x2,
} as const;

/** MEM_APPEND flags (Linux: END). */
export const MemAppendFlag = { DONE: 0x1 } as const;

/** MEM_ACCEPT flags. */
export const MemAcceptFlag = {
  VALIDATE_SANITIZED: 0x1,
  VALIDATE_ACL_ATTR: 0x2,
  VALIDATE_LABEL: 0x4,
  MAP_OTHER: 0x8,
  MAP_CONTIGUOUS: 0x10,
  SANITIZE: 0x20,
  DONE: 0x80,
} as const;

/** MEM_ACCEPT SGL-reply flags. */
export const MemAcceptReplyFlag = { INCOMPLETE: 0x1 } as const;

/** MEM_RELEASE and MEM_RECLAIM flags. */
export const MemReleaseFlag = { SANITIZE: 0x1 } as const;
export const MemReclaimFlag = { SANITIZE: 0x1 } as const;

/** MEM_NOTIFY flags: exactly one of these, any other value → ARGUMENT_INVALID (handler). */
export const MemNotifyFlag = {
  SHARED: 0x1,
  RELEASED: 0x2,
  ACCEPTED: 0x4,
  RECALL: 0x8,
} as const;

/** MEM_SHARED notification flags. */
export const MemSharedFlag = { SANITIZED: 0x1 } as const;

/** Invalid memparcel handle (Linux `GUNYAH_MEM_HANDLE_INVAL`). */
export const MEM_HANDLE_INVALID = 0xffff_ffff;

// ---- IRQ lending (irq_message.h; rm-rpc.md §12.6) ----

/** VM_IRQ_NOTIFY flags. */
export const IrqNotifyFlag = {
  LENT: 0x1,
  RELEASED: 0x2,
  ACCEPTED: 0x4,
} as const;

/** VM_IRQ_ACCEPT virq_num meaning "the RM chooses" (`VIRQ_NUM_INVALID`). */
export const VIRQ_NUM_INVALID = 0xffff_ffff;

// ---- IPA reservation (vm_ipa_message.h; rm-rpc.md §12.8) ----

/** IPA_RESERVE alloc_type. */
export const IpaAllocType = {
  FIXED_LIST: 0,
  ALLOC_LIST: 1,
} as const;

/** IPA_RESERVE constraint bits. */
export const IpaConstraint = {
  NONE: 0x0,
  ECC: 0x1,
  TAGGED: 0x2,
  NORMAL: 0x4,
  IO: 0x8,
  OWNER_VM_VISIBLE: 0x10,
  EXTERNAL_BUS_VISIBLE: 0x20,
  BASE_MEMORY_COMPATIBLE: 0x40,
} as const;

// ---- limits ----

/** VM_LOOKUP_URI / VM_LOOKUP_NAME: longest string (`VM_MAX_*_LEN − 1`); longer → ARGUMENT_INVALID. */
export const VM_LOOKUP_STRING_MAX = 79;
/** VM_LOOKUP_GUID: GUID length. */
export const VM_GUID_LEN = 16;
/** VM_SET_CRASH_MSG: the RM keeps at most this many bytes (longer messages are truncated, not rejected). */
export const VM_MAX_CRASH_MSG_LEN = 192;
