/**
 * Payload builders and decoders for the RM conformance suite: small DataView helpers, one per
 * layout the suite sends or checks. They are deliberately independent of the project's payload
 * codecs, so that a codec bug cannot hide the same bug in the RM (two independent readings of
 * the reference). All fields little-endian.
 *
 * Reference: rm-rpc.md §10 (VMIDs, list encoding), §12.1 (VM management layouts), §12.2 (VM
 * creation), §12.4 + hypervisor.md §9.1 (resource entries), §12.5 (memory parcel layouts),
 * §12.7 (console), §13 (notification layouts), §15.1 (enumerations), §16.1–§16.2 (parcel
 * enumerations).
 */
import { view } from '../shared/bytes.js';
import { check, hexPreview } from './assert.js';

/** VMIDs the suite uses (rm-rpc.md §10). */
export const Vmid = {
  HYP: 0x0,
  HLOS: 0x3,
  /** Lowest secondary VMID of the qemu platform (4..31). */
  SECONDARY_FIRST: 4,
  SECONDARY_LAST: 31,
  DYNAMIC_BASE: 0x80,
  /** Exclusive end of the dynamic range (0x80..0xBE). */
  DYNAMIC_END: 0xbf,
  RM: 0xff,
  /** A VMID that is in no range the RM allocates from: never a VM (32..63 are not qemu secondaries either). */
  NEVER: 0x7f,
} as const;

/** vm_status values (rm-rpc.md §15.1). */
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

const STATUS_NAMES: ReadonlyMap<number, VmStatusName> = new Map(
  (Object.entries(VmStatus) as Array<[VmStatusName, number]>).map(([n, v]) => [v, n]),
);
/** `RUNNING (3)` for log lines. */
export function statusLabel(v: number): string {
  return `${STATUS_NAMES.get(v) ?? 'unknown'} (${v})`;
}

/** os_status values (rm-rpc.md §15.1). */
export const OsStatus = { NONE: 0, EARLY_BOOT: 1, BOOT: 2, INIT: 3, RUN: 4, SHUTDOWN: 5, HALTED: 6, CRASHED: 7 } as const;

/** exit_type values of NOTIFY_VM_EXITED (rm-rpc.md §15.1). */
export const ExitType = {
  VM_EXIT: 0,
  PLATFORM_OFF: 1,
  PLATFORM_RESET: 2,
  PSCI_SYSTEM_RESET2: 3,
  WATCHDOG_BITE: 4,
  SOFTWARE_ERROR: 5,
  ASYNC_HW_ERROR: 6,
  VM_STOP_FORCED: 7,
} as const;

/** exit_code values, reason word 0 bits 31:16 (rm-rpc.md §15.1). */
export const ExitCode = { NORMAL: 0, SOFTWARE_ERROR: 1, UNKNOWN_ERROR: 2, BUS_ERROR: 3, DEVICE_ERROR: 4 } as const;

/** Resource types of VM_GET_HYP_RESOURCES entries (hypervisor.md §9.2). */
export const ResourceType = { BELL_TX: 0, BELL_RX: 1, MSGQ_TX: 2, MSGQ_RX: 3, VCPU: 4 } as const;

/** id_type values of VM_GET_ID entries (rm-rpc.md §12.1). */
export const VmIdType = { GUID: 0, URI: 1, NAME: 2, SIGN_AUTH: 3 } as const;

/** VM_CONFIG_IMAGE auth_type values (rm-rpc.md §12.2). */
export const AuthType = { NONE: 0, PLATFORM: 1, ANDROID: 2 } as const;

/** VM_STOP flags (rm-rpc.md §12.1). */
export const VM_STOP_FLAG_FORCE = 0x1;

/** Size of one VM_GET_HYP_RESOURCES entry (hypervisor.md §9.1). */
export const HYP_RESOURCE_ENTRY_SIZE = 44;

/** Longest crash message the RM keeps (rm-rpc.md §12.1: truncated to 192 bytes). */
export const MAX_CRASH_MSG = 192;

/** The empty payload. */
export const EMPTY = new Uint8Array(0);

/** A zero-filled buffer of `len` bytes, filled by `fill` through a DataView. */
function build(len: number, fill: (v: DataView) => void): Uint8Array {
  const out = new Uint8Array(len);
  fill(view(out));
  return out;
}

function align4(n: number): number {
  return (n + 3) & ~3;
}

/** `{u16 vmid, u16 pad}`: VM_ALLOCATE, VM_DEALLOCATE, VM_START, VM_RESET, VM_GET_* and console requests. */
export function vmidReq(vmid: number, pad = 0): Uint8Array {
  return build(4, (v) => {
    v.setUint16(0, vmid, true);
    v.setUint16(2, pad, true);
  });
}

/** VM_STOP: `{u16 vmid, u8 flags, u8 reserved, u32 stop_reason}` (8 bytes). */
export function stopReq(vmid: number, flags: number, stopReason: number): Uint8Array {
  return build(8, (v) => {
    v.setUint16(0, vmid, true);
    v.setUint8(2, flags);
    v.setUint32(4, stopReason >>> 0, true);
  });
}

/** VM_INIT: `{u16 vmid, u16 res0}`. */
export function initReq(vmid: number, res0 = 0): Uint8Array {
  return vmidReq(vmid, res0);
}

/** VM_AUTH_IMAGE with no parameters: `{u16 vmid, u16 n_params = 0}`. */
export function authImageReq(vmid: number): Uint8Array {
  return vmidReq(vmid, 0);
}

/** VM_CONFIG_IMAGE fields (rm-rpc.md §12.2). */
export interface ConfigImage {
  readonly vmid: number;
  readonly authType: number;
  readonly handle: number;
  readonly imageOffset: bigint;
  readonly imageSize: bigint;
  readonly dtOffset: bigint;
  readonly dtSize: bigint;
}

/** VM_CONFIG_IMAGE request (40 bytes). */
export function configImageReq(c: ConfigImage): Uint8Array {
  return build(40, (v) => {
    v.setUint16(0, c.vmid, true);
    v.setUint16(2, c.authType, true);
    v.setUint32(4, c.handle >>> 0, true);
    v.setBigUint64(8, c.imageOffset, true);
    v.setBigUint64(16, c.imageSize, true);
    v.setBigUint64(24, c.dtOffset, true);
    v.setBigUint64(32, c.dtSize, true);
  });
}

/** VM_SET_FIRMWARE_MEM: `{u16 vmid, u16 res0, u32 handle, u64 fw_offset, u64 fw_size}` (24 bytes). */
export function setFirmwareMemReq(vmid: number, handle: number, fwOffset: bigint, fwSize: bigint, res0 = 0): Uint8Array {
  return build(24, (v) => {
    v.setUint16(0, vmid, true);
    v.setUint16(2, res0, true);
    v.setUint32(4, handle >>> 0, true);
    v.setBigUint64(8, fwOffset, true);
    v.setBigUint64(16, fwSize, true);
  });
}

/** VM_SET_STATUS: `{u8 ignored, u8 os_state, u16 app_status}`. */
export function setStatusReq(osState: number, appStatus: number, byte0 = 0): Uint8Array {
  return build(4, (v) => {
    v.setUint8(0, byte0);
    v.setUint8(1, osState);
    v.setUint16(2, appStatus, true);
  });
}

/** VM_EXIT: `{u16 exit_flags, u8 exit_code, u8 res0}`. */
export function exitReq(exitFlags: number, exitCode: number, res0 = 0): Uint8Array {
  return build(4, (v) => {
    v.setUint16(0, exitFlags, true);
    v.setUint8(2, exitCode);
    v.setUint8(3, res0);
  });
}

/**
 * `{u16 len, u16 pad, bytes padded to 4}`: VM_SET_CRASH_MSG, VM_LOOKUP_NAME, VM_LOOKUP_URI.
 * `padByte` fills the alignment padding (must be 0 for a valid request).
 */
export function lenStringReq(text: Uint8Array, padByte = 0): Uint8Array {
  const out = new Uint8Array(4 + align4(text.byteLength)).fill(padByte, 4 + text.byteLength);
  view(out).setUint16(0, text.byteLength, true);
  out.set(text, 4);
  return out;
}

/** VM_SET_TIME_BASE: `{u16 vmid, u16 pad, u64 time_base, u64 sys_timer_ref}` (20 bytes). */
export function setTimeBaseReq(vmid: number, timeBase: bigint, sysTimerRef: bigint): Uint8Array {
  return build(20, (v) => {
    v.setUint16(0, vmid, true);
    v.setBigUint64(4, timeBase, true);
    v.setBigUint64(12, sysTimerRef, true);
  });
}

/** VM_CONSOLE_WRITE: `{u16 target, u16 num_bytes, bytes}` with no padding. */
export function consoleWriteReq(target: number, text: Uint8Array, numBytes = text.byteLength): Uint8Array {
  const out = new Uint8Array(4 + text.byteLength);
  const v = view(out);
  v.setUint16(0, target, true);
  v.setUint16(2, numBytes, true);
  out.set(text, 4);
  return out;
}

/** MEM_RECLAIM and MEM_RELEASE: `{u32 handle, u8 flags, 3 reserved}` (rm-rpc.md §12.5). */
export function memReclaimReq(handle: number, flags = 0): Uint8Array {
  return build(8, (v) => {
    v.setUint32(0, handle >>> 0, true);
    v.setUint8(4, flags);
  });
}

/** MEM_RELEASE has the MEM_RECLAIM layout. */
export const memReleaseReq = memReclaimReq;

/** mem_type of a parcel (rm-rpc.md §12.5). */
export const MemType = { NORMAL: 0, IO: 1 } as const;

/** trans_type of a parcel (rm-rpc.md §16.1). */
export const TransType = { DONATE: 0, LEND: 1, SHARE: 2 } as const;

/** ACL rights bits (rm-rpc.md §16.2). */
export const MemRights = { X: 0x1, W: 0x2, R: 0x4, RX: 0x5, RW: 0x6, RWX: 0x7 } as const;

/** Attribute values of attr entries (rm-rpc.md §16.2). */
export const MemAttr = { NORMAL: 0, DEVICE: 1, UNCACHED: 2, CACHED: 3 } as const;

/** MEM_LEND / SHARE / DONATE flags (rm-rpc.md §12.5). */
export const MemCreateFlag = { SANITIZE: 0x1, APPEND: 0x2 } as const;

/** MEM_APPEND flags: DONE on the last chunk (rm-rpc.md §12.5). */
export const MEM_APPEND_FLAG_DONE = 0x1;

/** MEM_ACCEPT flags (rm-rpc.md §12.5). */
export const MemAcceptFlag = {
  VALIDATE_SANITIZED: 0x1,
  VALIDATE_ACL_ATTR: 0x2,
  VALIDATE_LABEL: 0x4,
  MAP_OTHER: 0x8,
  MAP_CONTIGUOUS: 0x10,
  SANITIZE: 0x20,
  DONE: 0x80,
} as const;

/** MEM_ACCEPT reply flags: INCOMPLETE (rm-rpc.md §12.5). */
export const MEM_ACCEPT_REPLY_INCOMPLETE = 0x1;

/** MEM_NOTIFY flags; exactly one must be set (rm-rpc.md §12.5). */
export const MemNotifyFlag = { SHARED: 0x1, RELEASED: 0x2, ACCEPTED: 0x4, RECALL: 0x8 } as const;

/** One ACL entry: `{u16 vmid, u8 rights, u8 reserved}`. */
export interface AclEntry {
  readonly vmid: number;
  readonly rights: number;
}

/** One SGL entry: `{u64 address, u64 size}` (the owner's IPA on create, the borrower's on accept). */
export interface SglEntry {
  readonly addr: bigint;
  readonly size: bigint;
}

/** One attr entry: `{u16 attr, u16 vmid}` (attr first). */
export interface AttrEntry {
  readonly attr: number;
  readonly vmid: number;
}

/** Size of an ACL list with `n` entries (header included). */
function aclListSize(n: number): number {
  return 4 + 4 * n;
}

/** Write an ACL list (`u16 n, u16 reserved, n × entry`) at `off`; returns the offset after it. */
function putAclList(v: DataView, off: number, acl: readonly AclEntry[]): number {
  v.setUint16(off, acl.length, true);
  acl.forEach((e, i) => {
    v.setUint16(off + 4 + 4 * i, e.vmid, true);
    v.setUint8(off + 6 + 4 * i, e.rights);
  });
  return off + aclListSize(acl.length);
}

/** Write an SGL list at `off` with `upper` in the header's upper u16 (map_vmid in MEM_ACCEPT). */
function putSglList(v: DataView, off: number, sgl: readonly SglEntry[], upper = 0): number {
  v.setUint16(off, sgl.length, true);
  v.setUint16(off + 2, upper, true);
  sgl.forEach((e, i) => {
    v.setBigUint64(off + 4 + 16 * i, e.addr, true);
    v.setBigUint64(off + 12 + 16 * i, e.size, true);
  });
  return off + 4 + 16 * sgl.length;
}

/** Write an attr list at `off`; returns the offset after it. */
function putAttrList(v: DataView, off: number, attrs: readonly AttrEntry[]): number {
  v.setUint16(off, attrs.length, true);
  attrs.forEach((e, i) => {
    v.setUint16(off + 4 + 4 * i, e.attr, true);
    v.setUint16(off + 6 + 4 * i, e.vmid, true);
  });
  return off + 4 + 4 * attrs.length;
}

/** Fields of MEM_LEND / MEM_SHARE / MEM_DONATE. */
export interface MemCreate {
  readonly memType?: number;
  readonly flags?: number;
  readonly label?: number;
  readonly acl: readonly AclEntry[];
  readonly sgl: readonly SglEntry[];
  /** The attr list; `null` leaves it out (the buffer ends after the SGL). Default: an empty list. */
  readonly attrs?: readonly AttrEntry[] | null;
}

/**
 * MEM_LEND / MEM_SHARE / MEM_DONATE request: `{u8 mem_type, u8 res, u8 flags, u8 res, u32 label}`,
 * then the ACL, SGL and attr lists.
 */
export function memCreateReq(c: MemCreate): Uint8Array {
  const attrs = c.attrs === null ? undefined : (c.attrs ?? []);
  const len = 8 + aclListSize(c.acl.length) + 4 + 16 * c.sgl.length + (attrs ? 4 + 4 * attrs.length : 0);
  return build(len, (v) => {
    v.setUint8(0, c.memType ?? MemType.NORMAL);
    v.setUint8(2, c.flags ?? 0);
    v.setUint32(4, (c.label ?? 0) >>> 0, true);
    let off = putAclList(v, 8, c.acl);
    off = putSglList(v, off, c.sgl);
    if (attrs) putAttrList(v, off, attrs);
  });
}

/** MEM_APPEND: `{u32 handle, u8 flags, 3 reserved}` then the SGL list. */
export function memAppendReq(handle: number, flags: number, sgl: readonly SglEntry[]): Uint8Array {
  return build(8 + 4 + 16 * sgl.length, (v) => {
    v.setUint32(0, handle >>> 0, true);
    v.setUint8(4, flags);
    putSglList(v, 8, sgl);
  });
}

/** Fields of MEM_ACCEPT. */
export interface MemAccept {
  readonly handle: number;
  readonly memType?: number;
  readonly transType: number;
  readonly flags: number;
  readonly label?: number;
  readonly acl?: readonly AclEntry[];
  /** Caller-chosen IPAs; empty (the default) lets the RM choose. */
  readonly sgl?: readonly SglEntry[];
  /** The upper u16 of the SGL header (must be 0). */
  readonly mapVmid?: number;
  readonly attrs?: readonly AttrEntry[];
}

/**
 * MEM_ACCEPT request: `{u32 handle, u8 mem_type, u8 trans_type, u8 flags, u8 res, u32 label}`,
 * the ACL list, `{u16 n_sgl, u16 map_vmid}` and the SGL entries, then the attr list.
 */
export function memAcceptReq(a: MemAccept): Uint8Array {
  const acl = a.acl ?? [];
  const sgl = a.sgl ?? [];
  const attrs = a.attrs ?? [];
  return build(12 + aclListSize(acl.length) + 4 + 16 * sgl.length + 4 + 4 * attrs.length, (v) => {
    v.setUint32(0, a.handle >>> 0, true);
    v.setUint8(4, a.memType ?? MemType.NORMAL);
    v.setUint8(5, a.transType);
    v.setUint8(6, a.flags);
    v.setUint32(8, (a.label ?? 0) >>> 0, true);
    let off = putAclList(v, 12, acl);
    off = putSglList(v, off, sgl, a.mapVmid ?? 0);
    putAttrList(v, off, attrs);
  });
}

/**
 * MEM_NOTIFY: `{u32 handle, u8 flags, 3 reserved, u32 mem_info_tag}`; with `vmids` (SHARED and
 * RECALL) also `{u16 n_vmid, u16 reserved}` and n × `{u16 vmid, u16 reserved}`.
 */
export function memNotifyReq(handle: number, flags: number, tag: number, vmids?: readonly number[]): Uint8Array {
  return build(vmids ? 16 + 4 * vmids.length : 12, (v) => {
    v.setUint32(0, handle >>> 0, true);
    v.setUint8(4, flags);
    v.setUint32(8, tag >>> 0, true);
    if (vmids) {
      v.setUint16(12, vmids.length, true);
      vmids.forEach((id, i) => v.setUint16(16 + 4 * i, id, true));
    }
  });
}

/** MEM_QCOM_LOOKUP_SGL: `{u8 mem_type, 3 reserved, u32 label}` then the ACL, SGL and attr lists. */
export function memLookupReq(c: MemCreate): Uint8Array {
  // The create layout with flags (byte 2) cleared is exactly this one.
  return memCreateReq({ ...c, flags: 0 });
}

/** A MEM_ACCEPT reply's data when the RM chose the IPAs. */
export interface AcceptSglReply {
  readonly flags: number;
  readonly reserved: number;
  readonly sgl: readonly SglEntry[];
}

/** Decode `{u16 n, u8 flags, u8 reserved, n × {u64 ipa, u64 size}}`, requiring exactly 4 + 16n bytes. */
export function decodeAcceptSgl(data: Uint8Array): AcceptSglReply {
  check(data.byteLength >= 4, `MEM_ACCEPT reply: need at least 4 data bytes, got ${hexPreview(data)}`);
  const v = view(data);
  const n = v.getUint16(0, true);
  check(data.byteLength === 4 + 16 * n, `MEM_ACCEPT reply: sgl_entries ${n} needs ${4 + 16 * n} data bytes, got ${data.byteLength}: ${hexPreview(data)}`);
  const sgl: SglEntry[] = [];
  for (let i = 0; i < n; i++) sgl.push({ addr: v.getBigUint64(4 + 16 * i, true), size: v.getBigUint64(12 + 16 * i, true) });
  return { flags: v.getUint8(2), reserved: v.getUint8(3), sgl };
}

/** Fields of a MEM_SHARED notification (rm-rpc.md §13). */
export interface MemSharedNotif {
  readonly handle: number;
  readonly memType: number;
  readonly transType: number;
  /** bit 0: the parcel was created with SANITIZE. */
  readonly flags: number;
  readonly owner: number;
  readonly label: number;
  readonly tag: number;
  readonly acl: readonly AclEntry[];
  /** One size per region (no addresses). */
  readonly sizes: readonly bigint[];
  readonly attrs: readonly AttrEntry[];
}

/** The exact bytes of a MEM_SHARED payload. */
export function memSharedBytes(n: MemSharedNotif): Uint8Array {
  const len = 20 + aclListSize(n.acl.length) + 4 + 8 * n.sizes.length + 4 + 4 * n.attrs.length;
  return build(len, (v) => {
    v.setUint32(0, n.handle >>> 0, true);
    v.setUint8(4, n.memType);
    v.setUint8(5, n.transType);
    v.setUint8(6, n.flags);
    v.setUint16(8, n.owner, true);
    v.setUint32(12, n.label >>> 0, true);
    v.setUint32(16, n.tag >>> 0, true);
    let off = putAclList(v, 20, n.acl);
    v.setUint16(off, n.sizes.length, true);
    n.sizes.forEach((s, i) => v.setBigUint64(off + 4 + 8 * i, s, true));
    off += 4 + 8 * n.sizes.length;
    putAttrList(v, off, n.attrs);
  });
}

/** The 12 bytes of MEM_ACCEPTED / MEM_RELEASED: `{u32 handle, u16 vmid, u16 reserved, u32 tag}`. */
export function memOwnerNotifBytes(handle: number, vmid: number, tag: number): Uint8Array {
  return build(12, (v) => {
    v.setUint32(0, handle >>> 0, true);
    v.setUint16(4, vmid, true);
    v.setUint32(8, tag >>> 0, true);
  });
}

/** The 8 bytes of MEM_RECALL: `{u32 handle, u32 mem_info_tag}`. */
export function memRecallBytes(handle: number, tag: number): Uint8Array {
  return build(8, (v) => {
    v.setUint32(0, handle >>> 0, true);
    v.setUint32(4, tag >>> 0, true);
  });
}

/** ASCII bytes of a string. */
export function ascii(s: string): Uint8Array {
  return Uint8Array.from(s, (c) => c.charCodeAt(0) & 0xff);
}

/** The u32 at `off`, checking that the bytes exist. */
export function u32At(b: Uint8Array, off: number, what: string): number {
  check(b.byteLength >= off + 4, `${what}: need ${off + 4} bytes, got ${hexPreview(b)}`);
  return view(b).getUint32(off, true);
}

/** NOTIFY_VM_STATUS (8 bytes). */
export interface VmStatusNotif {
  readonly vmid: number;
  readonly reserved: number;
  readonly vmStatus: number;
  readonly osStatus: number;
  readonly appStatus: number;
}

/** Decode NOTIFY_VM_STATUS; undefined when the payload is not 8 bytes. */
export function decodeVmStatus(b: Uint8Array): VmStatusNotif | undefined {
  if (b.byteLength !== 8) return undefined;
  const v = view(b);
  return { vmid: v.getUint16(0, true), reserved: v.getUint16(2, true), vmStatus: v.getUint8(4), osStatus: v.getUint8(5), appStatus: v.getUint16(6, true) };
}

/** The exact 8 bytes of a NOTIFY_VM_STATUS payload. */
export function vmStatusBytes(vmid: number, vmStatus: number, osStatus = 0, appStatus = 0): Uint8Array {
  return build(8, (v) => {
    v.setUint16(0, vmid, true);
    v.setUint8(4, vmStatus);
    v.setUint8(5, osStatus);
    v.setUint16(6, appStatus, true);
  });
}

/** NOTIFY_VM_EXITED. */
export interface VmExitedNotif {
  readonly vmid: number;
  readonly exitType: number;
  readonly reasonSize: number;
  readonly reasons: readonly number[];
}

/** Decode NOTIFY_VM_EXITED; undefined when the layout does not hold together. */
export function decodeVmExited(b: Uint8Array): VmExitedNotif | undefined {
  if (b.byteLength < 8) return undefined;
  const v = view(b);
  const reasonSize = v.getUint32(4, true);
  if (reasonSize % 4 !== 0 || b.byteLength !== 8 + reasonSize) return undefined;
  const reasons: number[] = [];
  for (let off = 8; off < b.byteLength; off += 4) reasons.push(v.getUint32(off, true));
  return { vmid: v.getUint16(0, true), exitType: v.getUint16(2, true), reasonSize, reasons };
}

/** The exact bytes of a NOTIFY_VM_EXITED payload with the given reason words. */
export function vmExitedBytes(vmid: number, exitType: number, reasons: readonly number[]): Uint8Array {
  return build(8 + 4 * reasons.length, (v) => {
    v.setUint16(0, vmid, true);
    v.setUint16(2, exitType, true);
    v.setUint32(4, 4 * reasons.length, true);
    reasons.forEach((r, i) => v.setUint32(8 + 4 * i, r >>> 0, true));
  });
}

/** One VM_GET_HYP_RESOURCES entry (hypervisor.md §9.1). */
export interface HypResource {
  readonly type: number;
  readonly partnerVmid: number;
  readonly handle: number;
  readonly label: number;
  readonly capId: bigint;
  readonly virqHandle: number;
  readonly virq: number;
  readonly base: bigint;
  readonly size: bigint;
}

/**
 * Decode a VM_GET_HYP_RESOURCES reply's data: `u32 n` then n × 44 bytes. Fails the case unless
 * the length is exactly 4 + 44n (the check Linux makes, rm-rpc.md §12.4).
 */
export function decodeHypResources(data: Uint8Array): HypResource[] {
  const n = u32At(data, 0, 'VM_GET_HYP_RESOURCES n_entries');
  check(
    data.byteLength === 4 + HYP_RESOURCE_ENTRY_SIZE * n,
    `VM_GET_HYP_RESOURCES data: n_entries ${n} needs ${4 + HYP_RESOURCE_ENTRY_SIZE * n} bytes, got ${data.byteLength}`,
  );
  const v = view(data);
  const out: HypResource[] = [];
  for (let i = 0; i < n; i++) {
    const o = 4 + HYP_RESOURCE_ENTRY_SIZE * i;
    out.push({
      type: v.getUint8(o),
      partnerVmid: v.getUint16(o + 2, true),
      handle: v.getUint32(o + 4, true),
      label: v.getUint32(o + 8, true),
      capId: v.getBigUint64(o + 12, true),
      virqHandle: v.getUint32(o + 20, true),
      virq: v.getUint32(o + 24, true),
      base: v.getBigUint64(o + 28, true),
      size: v.getBigUint64(o + 36, true),
    });
  }
  return out;
}

/** Decode `u32 count, then count × {u16 vmid, u16 pad}` (VM_LOOKUP_* replies), checking the length. */
export function decodeVmidList16(data: Uint8Array, what: string): number[] {
  const n = u32At(data, 0, what);
  check(data.byteLength === 4 + 4 * n, `${what}: count ${n} needs ${4 + 4 * n} bytes, got ${hexPreview(data)}`);
  const v = view(data);
  return Array.from({ length: n }, (_, i) => v.getUint16(4 + 4 * i, true));
}

/** Decode `u32 count, then count × u32 vmid` (VM_GET_PEERS), checking the length. */
export function decodeVmidList32(data: Uint8Array, what: string): number[] {
  const n = u32At(data, 0, what);
  check(data.byteLength === 4 + 4 * n, `${what}: count ${n} needs ${4 + 4 * n} bytes, got ${hexPreview(data)}`);
  const v = view(data);
  return Array.from({ length: n }, (_, i) => v.getUint32(4 + 4 * i, true));
}

/** One VM_GET_ID entry. */
export interface VmIdEntry {
  readonly idType: number;
  readonly bytes: Uint8Array;
}

/** Decode a VM_GET_ID reply's data: `u32 n`, then n × {u8 type, u8 pad, u16 len, bytes padded to 4}. */
export function decodeVmIds(data: Uint8Array): VmIdEntry[] {
  const n = u32At(data, 0, 'VM_GET_ID n_entries');
  const v = view(data);
  const out: VmIdEntry[] = [];
  let off = 4;
  for (let i = 0; i < n; i++) {
    check(off + 4 <= data.byteLength, `VM_GET_ID entry ${i}: header past the end of ${hexPreview(data)}`);
    const idType = v.getUint8(off);
    const len = v.getUint16(off + 2, true);
    check(off + 4 + len <= data.byteLength, `VM_GET_ID entry ${i}: ${len} id bytes past the end of ${hexPreview(data)}`);
    out.push({ idType, bytes: data.slice(off + 4, off + 4 + len) });
    off += 4 + align4(len);
  }
  check(off === data.byteLength, `VM_GET_ID: ${data.byteLength - off} bytes left after ${n} entries in ${hexPreview(data)}`);
  return out;
}

/** Decode NOTIFY_VM_CONSOLE_CHARS: `{u16 from, u16 num_bytes, bytes}`. */
export function decodeConsoleChars(b: Uint8Array): { from: number; text: Uint8Array } | undefined {
  if (b.byteLength < 4) return undefined;
  const v = view(b);
  const n = v.getUint16(2, true);
  if (b.byteLength !== 4 + n) return undefined;
  return { from: v.getUint16(0, true), text: b.slice(4) };
}
