/**
 * RM RPC message IDs: requests and notifications. Names are the RM's (rm-rpc.md §11, §13);
 * where Linux v17 spells one differently its name is an alias in `RM_MSG_ALIASES`.
 * This table is the only place a message-ID number appears.
 */

/** Request message IDs (client → RM). */
export const RmMsgId = {
  MEM_DONATE: 0x5100_0010,
  MEM_ACCEPT: 0x5100_0011,
  MEM_LEND: 0x5100_0012,
  MEM_SHARE: 0x5100_0013,
  MEM_RELEASE: 0x5100_0014,
  MEM_RECLAIM: 0x5100_0015,
  MEM_NOTIFY: 0x5100_0017,
  MEM_APPEND: 0x5100_0018,
  MEM_QCOM_LOOKUP_SGL: 0x5100_001a,
  FW_MILESTONE: 0x5100_0020,
  FW_SET_VM_FIRMWARE: 0x5100_0021,
  VM_ALLOCATE: 0x5600_0001,
  VM_DEALLOCATE: 0x5600_0002,
  VM_START: 0x5600_0004,
  VM_STOP: 0x5600_0005,
  VM_RESET: 0x5600_0006,
  VM_CONFIG_IMAGE: 0x5600_0009,
  VM_AUTH_IMAGE: 0x5600_000a,
  VM_INIT: 0x5600_000b,
  VM_GET_ID: 0x5600_0010,
  VM_LOOKUP_URI: 0x5600_0011,
  VM_LOOKUP_GUID: 0x5600_0012,
  VM_LOOKUP_NAME: 0x5600_0013,
  VM_GET_OWNER: 0x5600_0015,
  VM_GET_STATE: 0x5600_0017,
  VM_GET_CRASH_MSG: 0x5600_0019,
  VM_GET_HYP_RESOURCES: 0x5600_0020,
  VM_GET_HYP_CAPIDS: 0x5600_0021,
  VM_GET_HYP_IRQS: 0x5600_0022,
  VM_GET_VMID: 0x5600_0024,
  VM_GET_PEERS: 0x5600_0025,
  VM_SET_TIME_BASE: 0x5600_0030,
  VM_SET_CONTEXT: 0x5600_0031,
  VM_SET_FIRMWARE_MEM: 0x5600_0032,
  VM_SET_DEMAND_PAGING: 0x5600_0033,
  VM_SET_ADDRESS_LAYOUT: 0x5600_0034,
  VM_IRQ_ACCEPT: 0x5600_0050,
  VM_IRQ_LEND: 0x5600_0051,
  VM_IRQ_RELEASE: 0x5600_0052,
  VM_IRQ_RECLAIM: 0x5600_0053,
  VM_IRQ_NOTIFY: 0x5600_0054,
  VM_IRQ_UNMAP: 0x5600_0055,
  VM_SET_STATUS: 0x5600_0080,
  VM_CONSOLE_OPEN: 0x5600_0081,
  VM_CONSOLE_CLOSE: 0x5600_0082,
  VM_CONSOLE_WRITE: 0x5600_0083,
  VM_CONSOLE_FLUSH: 0x5600_0084,
  VM_EXIT: 0x5600_0085,
  VM_SET_CRASH_MSG: 0x5600_0086,
  VM_HOST_GET_TYPE: 0x5600_00a0,
  IPA_RESERVE: 0x5600_00b0,
  IPA_UNRESERVE: 0x5600_00b1,
} as const;
export type RmMsgName = keyof typeof RmMsgId;
export type RmMsgIdValue = (typeof RmMsgId)[RmMsgName];

/**
 * The other ID seen for VM_SET_BOOT_CONTEXT in an unidentified Linux tree (rm-rpc.md §19).
 * The emulated RM accepts it as an alias of VM_SET_CONTEXT (docs/decisions.md).
 */
export const VM_SET_BOOT_CONTEXT_ALT_ID = 0x5600_000c;

/** Linux v17 names for the same IDs (rsc_mgr_rpc.c spellings). */
export const RM_MSG_ALIASES = {
  VM_ALLOC_VMID: RmMsgId.VM_ALLOCATE,
  VM_DEALLOC_VMID: RmMsgId.VM_DEALLOCATE,
  VM_SET_BOOT_CONTEXT: RmMsgId.VM_SET_CONTEXT,
} as const;

/** Notification IDs (RM → client). Bit 20 is set in every known one (rm-rpc.md §7). */
export const RmNotifId = {
  NOTIFY_VM_EXITED: 0x5610_0001,
  NOTIFY_VM_SHUTDOWN: 0x5610_0002,
  NOTIFY_VM_STATUS: 0x5610_0008,
  NOTIFY_VM_IRQ_LENT: 0x5610_0011,
  NOTIFY_VM_IRQ_RELEASED: 0x5610_0012,
  NOTIFY_VM_IRQ_ACCEPTED: 0x5610_0013,
  NOTIFY_VM_CONSOLE_CHARS: 0x5610_0080,
  MEM_SHARED: 0x5110_0011,
  MEM_RELEASED: 0x5110_0012,
  MEM_ACCEPTED: 0x5110_0013,
  MEM_RECALL: 0x5110_0014,
} as const;
export type RmNotifName = keyof typeof RmNotifId;
export type RmNotifIdValue = (typeof RmNotifId)[RmNotifName];

const REQ_NAMES: ReadonlyMap<number, RmMsgName> = new Map(
  (Object.entries(RmMsgId) as Array<[RmMsgName, number]>).map(([n, v]) => [v, n]),
);
const NOTIF_NAMES: ReadonlyMap<number, RmNotifName> = new Map(
  (Object.entries(RmNotifId) as Array<[RmNotifName, number]>).map(([n, v]) => [v, n]),
);

/** Request name of a message ID, or undefined. */
export function rmMsgName(id: number): RmMsgName | undefined {
  return REQ_NAMES.get(id);
}
/** Notification name of a message ID, or undefined. */
export function rmNotifName(id: number): RmNotifName | undefined {
  return NOTIF_NAMES.get(id);
}
/** Any known name for a message ID (request or notification), else its hex. */
export function rmIdLabel(id: number): string {
  return REQ_NAMES.get(id) ?? NOTIF_NAMES.get(id) ?? `0x${id.toString(16).padStart(8, '0')}`;
}
