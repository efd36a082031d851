/**
 * The payload catalogue: for every RM request (msg-ids.ts `RmMsgId`) its request and OK-reply
 * codecs, and for every notification (`RmNotifId`) its payload codec.
 *
 * Reference: rm-rpc.md §11 (message table), §13 (notifications). The codecs live in the family
 * files (vm-mgmt, vm-creation, mem, irq, console, ipa, firmware, notifications); this file only
 * binds them to names and IDs. The `satisfies` clauses make both tables total: adding a name
 * to msg-ids.ts without a spec here breaks the build.
 *
 * Reply codecs decode the data after err_code of an OK reply. Three replies depend on the
 * request; the table holds the data-carrying form and the family file exports the other one
 * and a chooser: VM_ALLOCATE (`vmAllocateReplyCodec`), MEM_ACCEPT (`memAcceptReplyCodec`),
 * IPA_RESERVE (`ipaReserveReplyCodec`). Error replies of VM_SET_TIME_BASE and
 * VM_SET_FIRMWARE_MEM carry a u32 hypervisor error: `HYP_ERROR_TAIL`.
 *
 * Messages the RM always answers UNIMPLEMENTED (VM_GET_HYP_CAPIDS, VM_GET_HYP_IRQS,
 * VM_IRQ_UNMAP, IPA_UNRESERVE) use the raw passthrough codec and a standard reply.
 */
import { RmMsgId, RmNotifId, VM_SET_BOOT_CONTEXT_ALT_ID, rmMsgName, rmNotifName, type RmMsgName, type RmNotifName } from './msg-ids.js';
import { EMPTY, RAW, STANDARD_REPLY, type PayloadCodec } from './codec.js';
import {
  VMID_LIST_REPLY,
  VMID_REQ,
  VM_ALLOCATE_REPLY,
  VM_EXIT_REQ,
  VM_GET_CRASH_MSG_REPLY,
  VM_GET_HYP_RESOURCES_REPLY,
  VM_GET_ID_REPLY,
  VM_GET_OWNER_REPLY,
  VM_GET_PEERS_REPLY,
  VM_GET_STATE_REPLY,
  VM_GET_VMID_REPLY,
  VM_HOST_GET_TYPE_REPLY,
  VM_LOOKUP_GUID_REQ,
  VM_LOOKUP_NAME_REQ,
  VM_LOOKUP_URI_REQ,
  VM_SET_CRASH_MSG_REQ,
  VM_SET_FIRMWARE_MEM_REQ,
  VM_SET_STATUS_REQ,
  VM_SET_TIME_BASE_REQ,
  VM_STOP_REQ,
} from './vm-mgmt.js';
import {
  VM_AUTH_IMAGE_REQ,
  VM_CONFIG_IMAGE_REQ,
  VM_INIT_REQ,
  VM_SET_ADDRESS_LAYOUT_REQ,
  VM_SET_BOOT_CONTEXT_REQ,
  VM_SET_DEMAND_PAGING_REQ,
} from './vm-creation.js';
import {
  MEM_ACCEPT_REQ,
  MEM_ACCEPT_SGL_REPLY,
  MEM_APPEND_REQ,
  MEM_CREATE_REQ,
  MEM_HANDLE_FLAGS_REQ,
  MEM_HANDLE_REPLY,
  MEM_NOTIFY_REQ,
  MEM_QCOM_LOOKUP_SGL_REQ,
} from './mem.js';
import {
  VM_IRQ_ACCEPT_REPLY,
  VM_IRQ_ACCEPT_REQ,
  VM_IRQ_HANDLE_REQ,
  VM_IRQ_LEND_REPLY,
  VM_IRQ_LEND_REQ,
  VM_IRQ_NOTIFY_REQ,
} from './irq.js';
import { CONSOLE_TARGET_REQ, CONSOLE_WRITE_REQ } from './console.js';
import { IPA_RESERVE_ALLOC_REPLY, IPA_RESERVE_REQ } from './ipa.js';
import { FW_MILESTONE_REQ, FW_SET_VM_FIRMWARE_REQ } from './firmware.js';
import {
  MEM_OWNER_NOTIF_PAYLOAD,
  MEM_RECALL_PAYLOAD,
  MEM_SHARED_PAYLOAD,
  NOTIFY_VM_CONSOLE_CHARS_PAYLOAD,
  NOTIFY_VM_EXITED_PAYLOAD,
  NOTIFY_VM_IRQ_LENT_PAYLOAD,
  NOTIFY_VM_IRQ_OWNER_PAYLOAD,
  NOTIFY_VM_SHUTDOWN_PAYLOAD,
  NOTIFY_VM_STATUS_PAYLOAD,
} from './notifications.js';

/** One request message: its name, ID, request codec and OK-reply codec. */
export interface RmMessageSpec<Req, Rep> {
  readonly name: RmMsgName;
  readonly id: number;
  readonly req: PayloadCodec<Req>;
  readonly reply: PayloadCodec<Rep>;
}

/** One notification: its name, ID and payload codec. */
export interface RmNotificationSpec<T> {
  readonly name: RmNotifName;
  readonly id: number;
  readonly payload: PayloadCodec<T>;
}

function spec<N extends RmMsgName, Q, R>(name: N, req: PayloadCodec<Q>, reply: PayloadCodec<R>): RmMessageSpec<Q, R> & { readonly name: N } {
  return Object.freeze({ name, id: RmMsgId[name], req, reply });
}
function notif<N extends RmNotifName, T>(name: N, payload: PayloadCodec<T>): RmNotificationSpec<T> & { readonly name: N } {
  return Object.freeze({ name, id: RmNotifId[name], payload });
}

/** Every request message of msg-ids.ts, keyed by its RM name. */
export const RM_CATALOGUE = Object.freeze({
  // memory parcels
  MEM_DONATE: spec('MEM_DONATE', MEM_CREATE_REQ, MEM_HANDLE_REPLY),
  MEM_ACCEPT: spec('MEM_ACCEPT', MEM_ACCEPT_REQ, MEM_ACCEPT_SGL_REPLY),
  MEM_LEND: spec('MEM_LEND', MEM_CREATE_REQ, MEM_HANDLE_REPLY),
  MEM_SHARE: spec('MEM_SHARE', MEM_CREATE_REQ, MEM_HANDLE_REPLY),
  MEM_RELEASE: spec('MEM_RELEASE', MEM_HANDLE_FLAGS_REQ, STANDARD_REPLY),
  MEM_RECLAIM: spec('MEM_RECLAIM', MEM_HANDLE_FLAGS_REQ, STANDARD_REPLY),
  MEM_NOTIFY: spec('MEM_NOTIFY', MEM_NOTIFY_REQ, STANDARD_REPLY),
  MEM_APPEND: spec('MEM_APPEND', MEM_APPEND_REQ, STANDARD_REPLY),
  MEM_QCOM_LOOKUP_SGL: spec('MEM_QCOM_LOOKUP_SGL', MEM_QCOM_LOOKUP_SGL_REQ, MEM_HANDLE_REPLY),
  // firmware
  FW_MILESTONE: spec('FW_MILESTONE', FW_MILESTONE_REQ, STANDARD_REPLY),
  FW_SET_VM_FIRMWARE: spec('FW_SET_VM_FIRMWARE', FW_SET_VM_FIRMWARE_REQ, STANDARD_REPLY),
  // VM management
  VM_ALLOCATE: spec('VM_ALLOCATE', VMID_REQ, VM_ALLOCATE_REPLY),
  VM_DEALLOCATE: spec('VM_DEALLOCATE', VMID_REQ, STANDARD_REPLY),
  VM_START: spec('VM_START', VMID_REQ, STANDARD_REPLY),
  VM_STOP: spec('VM_STOP', VM_STOP_REQ, STANDARD_REPLY),
  VM_RESET: spec('VM_RESET', VMID_REQ, STANDARD_REPLY),
  // VM creation
  VM_CONFIG_IMAGE: spec('VM_CONFIG_IMAGE', VM_CONFIG_IMAGE_REQ, STANDARD_REPLY),
  VM_AUTH_IMAGE: spec('VM_AUTH_IMAGE', VM_AUTH_IMAGE_REQ, STANDARD_REPLY),
  VM_INIT: spec('VM_INIT', VM_INIT_REQ, STANDARD_REPLY),
  // queries
  VM_GET_ID: spec('VM_GET_ID', VMID_REQ, VM_GET_ID_REPLY),
  VM_LOOKUP_URI: spec('VM_LOOKUP_URI', VM_LOOKUP_URI_REQ, VMID_LIST_REPLY),
  VM_LOOKUP_GUID: spec('VM_LOOKUP_GUID', VM_LOOKUP_GUID_REQ, VMID_LIST_REPLY),
  VM_LOOKUP_NAME: spec('VM_LOOKUP_NAME', VM_LOOKUP_NAME_REQ, VMID_LIST_REPLY),
  VM_GET_OWNER: spec('VM_GET_OWNER', EMPTY, VM_GET_OWNER_REPLY),
  VM_GET_STATE: spec('VM_GET_STATE', VMID_REQ, VM_GET_STATE_REPLY),
  VM_GET_CRASH_MSG: spec('VM_GET_CRASH_MSG', VMID_REQ, VM_GET_CRASH_MSG_REPLY),
  VM_GET_HYP_RESOURCES: spec('VM_GET_HYP_RESOURCES', VMID_REQ, VM_GET_HYP_RESOURCES_REPLY),
  VM_GET_HYP_CAPIDS: spec('VM_GET_HYP_CAPIDS', RAW, STANDARD_REPLY),
  VM_GET_HYP_IRQS: spec('VM_GET_HYP_IRQS', RAW, STANDARD_REPLY),
  VM_GET_VMID: spec('VM_GET_VMID', EMPTY, VM_GET_VMID_REPLY),
  VM_GET_PEERS: spec('VM_GET_PEERS', EMPTY, VM_GET_PEERS_REPLY),
  VM_SET_TIME_BASE: spec('VM_SET_TIME_BASE', VM_SET_TIME_BASE_REQ, STANDARD_REPLY),
  VM_SET_CONTEXT: spec('VM_SET_CONTEXT', VM_SET_BOOT_CONTEXT_REQ, STANDARD_REPLY),
  VM_SET_FIRMWARE_MEM: spec('VM_SET_FIRMWARE_MEM', VM_SET_FIRMWARE_MEM_REQ, STANDARD_REPLY),
  VM_SET_DEMAND_PAGING: spec('VM_SET_DEMAND_PAGING', VM_SET_DEMAND_PAGING_REQ, STANDARD_REPLY),
  VM_SET_ADDRESS_LAYOUT: spec('VM_SET_ADDRESS_LAYOUT', VM_SET_ADDRESS_LAYOUT_REQ, STANDARD_REPLY),
  // IRQ lending
  VM_IRQ_ACCEPT: spec('VM_IRQ_ACCEPT', VM_IRQ_ACCEPT_REQ, VM_IRQ_ACCEPT_REPLY),
  VM_IRQ_LEND: spec('VM_IRQ_LEND', VM_IRQ_LEND_REQ, VM_IRQ_LEND_REPLY),
  VM_IRQ_RELEASE: spec('VM_IRQ_RELEASE', VM_IRQ_HANDLE_REQ, STANDARD_REPLY),
  VM_IRQ_RECLAIM: spec('VM_IRQ_RECLAIM', VM_IRQ_HANDLE_REQ, STANDARD_REPLY),
  VM_IRQ_NOTIFY: spec('VM_IRQ_NOTIFY', VM_IRQ_NOTIFY_REQ, STANDARD_REPLY),
  VM_IRQ_UNMAP: spec('VM_IRQ_UNMAP', RAW, STANDARD_REPLY),
  // guest-side VM management and console
  VM_SET_STATUS: spec('VM_SET_STATUS', VM_SET_STATUS_REQ, STANDARD_REPLY),
  VM_CONSOLE_OPEN: spec('VM_CONSOLE_OPEN', CONSOLE_TARGET_REQ, STANDARD_REPLY),
  VM_CONSOLE_CLOSE: spec('VM_CONSOLE_CLOSE', CONSOLE_TARGET_REQ, STANDARD_REPLY),
  VM_CONSOLE_WRITE: spec('VM_CONSOLE_WRITE', CONSOLE_WRITE_REQ, STANDARD_REPLY),
  VM_CONSOLE_FLUSH: spec('VM_CONSOLE_FLUSH', CONSOLE_TARGET_REQ, STANDARD_REPLY),
  VM_EXIT: spec('VM_EXIT', VM_EXIT_REQ, STANDARD_REPLY),
  VM_SET_CRASH_MSG: spec('VM_SET_CRASH_MSG', VM_SET_CRASH_MSG_REQ, STANDARD_REPLY),
  VM_HOST_GET_TYPE: spec('VM_HOST_GET_TYPE', EMPTY, VM_HOST_GET_TYPE_REPLY),
  // IPA reservation
  IPA_RESERVE: spec('IPA_RESERVE', IPA_RESERVE_REQ, IPA_RESERVE_ALLOC_REPLY),
  IPA_UNRESERVE: spec('IPA_UNRESERVE', RAW, STANDARD_REPLY),
} as const satisfies { readonly [N in RmMsgName]: RmMessageSpec<any, any> & { readonly name: N } });

/** Every notification of msg-ids.ts, keyed by name. */
export const RM_NOTIFICATIONS = Object.freeze({
  NOTIFY_VM_EXITED: notif('NOTIFY_VM_EXITED', NOTIFY_VM_EXITED_PAYLOAD),
  NOTIFY_VM_SHUTDOWN: notif('NOTIFY_VM_SHUTDOWN', NOTIFY_VM_SHUTDOWN_PAYLOAD),
  NOTIFY_VM_STATUS: notif('NOTIFY_VM_STATUS', NOTIFY_VM_STATUS_PAYLOAD),
  NOTIFY_VM_IRQ_LENT: notif('NOTIFY_VM_IRQ_LENT', NOTIFY_VM_IRQ_LENT_PAYLOAD),
  NOTIFY_VM_IRQ_RELEASED: notif('NOTIFY_VM_IRQ_RELEASED', NOTIFY_VM_IRQ_OWNER_PAYLOAD),
  NOTIFY_VM_IRQ_ACCEPTED: notif('NOTIFY_VM_IRQ_ACCEPTED', NOTIFY_VM_IRQ_OWNER_PAYLOAD),
  NOTIFY_VM_CONSOLE_CHARS: notif('NOTIFY_VM_CONSOLE_CHARS', NOTIFY_VM_CONSOLE_CHARS_PAYLOAD),
  MEM_SHARED: notif('MEM_SHARED', MEM_SHARED_PAYLOAD),
  MEM_RELEASED: notif('MEM_RELEASED', MEM_OWNER_NOTIF_PAYLOAD),
  MEM_ACCEPTED: notif('MEM_ACCEPTED', MEM_OWNER_NOTIF_PAYLOAD),
  MEM_RECALL: notif('MEM_RECALL', MEM_RECALL_PAYLOAD),
} as const satisfies { readonly [N in RmNotifName]: RmNotificationSpec<any> & { readonly name: N } });

/** Request record type of message `N`. */
export type ReqOf<N extends RmMsgName> = (typeof RM_CATALOGUE)[N] extends RmMessageSpec<infer Q, unknown> ? Q : never;
/** OK-reply record type of message `N` (the data-carrying form for request-dependent replies). */
export type RepOf<N extends RmMsgName> = (typeof RM_CATALOGUE)[N] extends RmMessageSpec<unknown, infer R> ? R : never;
/** Payload record type of notification `N`. */
export type NotifOf<N extends RmNotifName> = (typeof RM_NOTIFICATIONS)[N] extends RmNotificationSpec<infer T> ? T : never;

/**
 * The spec of a request message ID, or undefined for an unknown ID (the RM answers those
 * UNIMPLEMENTED). The alternative VM_SET_BOOT_CONTEXT ID 0x5600000C resolves to VM_SET_CONTEXT
 * (whose `id` stays 0x56000031), since the emulated RM accepts both.
 */
export function specById(id: number): RmMessageSpec<unknown, unknown> | undefined {
  if (id === VM_SET_BOOT_CONTEXT_ALT_ID) return RM_CATALOGUE.VM_SET_CONTEXT;
  const name = rmMsgName(id);
  return name === undefined ? undefined : RM_CATALOGUE[name];
}

/** The spec of a notification message ID, or undefined. */
export function notificationById(id: number): RmNotificationSpec<unknown> | undefined {
  const name = rmNotifName(id);
  return name === undefined ? undefined : RM_NOTIFICATIONS[name];
}
