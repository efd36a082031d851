/**
 * VM management payloads (0x5600_00xx): allocation, start/stop/reset, queries, time base,
 * firmware memory, status, exit and crash messages.
 *
 * Reference: rm-rpc.md §11 (lengths), §12.1 (layouts and error order), §12.4 and
 * hypervisor.md §9.1 (the 44-byte resource entry), §18 (what Linux checks in replies).
 *
 * Validation split (applies to every file of the payload catalogue, see docs/wire-format.md):
 * request `decode` makes the checks the RM makes on the bytes before it looks at any VM or
 * parcel state, in the RM's order and with the RM's error in `detail.rmError`. Checks the RM
 * makes after a state lookup belong to the handler. Checks on the *caller* only (VMID 0,
 * HLOS-only, crash-fatal VM …) come before the length check in some handlers; a handler that
 * models them runs them before calling `decode`.
 *
 * Here that means:
 * - VM_LOOKUP_URI / _NAME: length ≥ 4, then string length > 79 → ARGUMENT_INVALID, then the
 *   exact length 4 + align4(len), then zero padding → MSG_INVALID; all in decode (RM order).
 * - VM_SET_FIRMWARE_MEM res0 ≠ 0 → MSG_INVALID, in decode.
 * - VM_EXIT res0 ≠ 0 or exit_code ∉ {0,1,3,4} → MSG_INVALID, in decode. The RM checks the
 *   caller's crash-fatal flag (ARGUMENT_INVALID) between the length and these checks; the
 *   handler does that before decoding.
 * - VM_SET_CRASH_MSG padding ≠ 0 → MSG_INVALID, in decode (the RM source checks it).
 * - VM_SET_STATUS os_status > 7 → ARGUMENT_INVALID is a handler check (`isSettableOsStatus`).
 * - Replies are decoded on the client side: the layout must be present, trailing bytes are
 *   ignored as Linux ignores them; VM_GET_HYP_RESOURCES alone must be exactly 4 + 44·n bytes
 *   (Linux's check, EBADMSG).
 */
import { align4, assertU16 } from '../../shared/bytes.js';
import {
  rd8,
  rd16,
  rd32,
  rd64,
  rdI32,
  Reader,
  Writer,
  expectAtLeast,
  expectLength,
  u32Codec,
  wireFail,
  STANDARD_REPLY,
  type Empty,
  type PayloadCodec,
} from './codec.js';
import { HYP_RESOURCE_ENTRY_SIZE, OsStatus, VM_LOOKUP_STRING_MAX, VM_GUID_LEN, ExitCode } from './enums.js';

// ---------------------------------------------------------------------------------------------
// Requests with only a VMID: VM_ALLOCATE, VM_DEALLOCATE, VM_START, VM_RESET, VM_GET_ID,
// VM_GET_STATE, VM_GET_CRASH_MSG, VM_GET_HYP_RESOURCES. @0 u16 vmid, @2 u16 pad; 4 bytes exactly.
// ---------------------------------------------------------------------------------------------

/** A request that names one VM. Padding is ignored on decode and written as 0. */
export interface VmidReq {
  readonly vmid: number;
}
/**
 * `{vmid}` + 2 bytes padding, exactly 4 bytes (else MSG_INVALID). Written out by hand: this is
 * the hot path (VM_START and friends). Encode is one 4-byte allocation and two byte stores
 * (a DataView over a fresh 4-byte array would cost ~10× more, see codec.ts).
 */
export const VMID_REQ: PayloadCodec<VmidReq> = {
  encode(v) {
    assertU16(v.vmid, 'vmid');
    const out = new Uint8Array(4);
    out[0] = v.vmid;
    out[1] = v.vmid >>> 8;
    return out;
  },
  decode(b) {
    if (b.byteLength !== 4) expectLength(b, 4, 'VM vmid request');
    return { vmid: b[0]! | (b[1]! << 8) };
  },
};

/** VM_ALLOCATE reply data, sent only when vmid 0 (dynamic) was requested. Linux uses the low 16 bits. */
export interface VmAllocateReply {
  readonly vmid: number;
}
/** VM_ALLOCATE reply for a dynamic request (`vmid: 0`): u32 vmid. */
export const VM_ALLOCATE_REPLY: PayloadCodec<VmAllocateReply> = u32Codec('vmid', 'VM_ALLOCATE reply', false);
/** VM_ALLOCATE reply for a static request (`vmid ≠ 0`): a standard reply. */
export const VM_ALLOCATE_STATIC_REPLY: PayloadCodec<Empty> = STANDARD_REPLY;
/** The VM_ALLOCATE reply codec that matches a request. */
export function vmAllocateReplyCodec(req: VmidReq): PayloadCodec<VmAllocateReply> | PayloadCodec<Empty> {
  return req.vmid === 0 ? VM_ALLOCATE_REPLY : VM_ALLOCATE_STATIC_REPLY;
}

// ---------------------------------------------------------------------------------------------
// VM_STOP: @0 u16 vmid, @2 u8 flags (bit 0 FORCE), @3 u8 reserved, @4 u32 stop_reason; 8 bytes.
// ---------------------------------------------------------------------------------------------

export interface VmStopReq {
  readonly vmid: number;
  readonly flags: number;
  readonly stopReason: number;
}
export const VM_STOP_REQ: PayloadCodec<VmStopReq> = {
  encode: (v) => new Writer(8).u16(v.vmid, 'vmid').u8(v.flags, 'flags').skip(1).u32(v.stopReason, 'stopReason').done(),
  decode(b) {
    expectLength(b, 8, 'VM_STOP');
    const r = new Reader(b, 'VM_STOP');
    const vmid = r.u16();
    const flags = r.u8();
    r.skip(1);
    return { vmid, flags, stopReason: r.u32() };
  },
};

// ---------------------------------------------------------------------------------------------
// VM_GET_ID reply: u32 n_entries, then per entry u8 id_type, u8 pad, u16 id_len, id padded to 4.
// ---------------------------------------------------------------------------------------------

export interface VmIdEntry {
  /** `VmIdType`: GUID 0, URI 1, NAME 2, SIGN_AUTH 3. */
  readonly idType: number;
  readonly id: Uint8Array;
}
export interface VmGetIdReply {
  readonly entries: readonly VmIdEntry[];
}
export const VM_GET_ID_REPLY: PayloadCodec<VmGetIdReply> = {
  encode(v) {
    let size = 4;
    for (const e of v.entries) size += 4 + align4(e.id.byteLength);
    const w = new Writer(size).u32(v.entries.length, 'n_entries');
    for (const e of v.entries) w.u8(e.idType, 'idType').skip(1).u16(e.id.byteLength, 'id_len').bytes(e.id).align();
    return w.done();
  },
  decode(b) {
    const r = new Reader(b, 'VM_GET_ID reply');
    const n = r.u32('n_entries');
    const entries: VmIdEntry[] = [];
    for (let i = 0; i < n; i++) {
      const idType = r.u8('id_type');
      r.skip(1);
      const len = r.u16('id_len');
      const id = r.bytes(len, 'id');
      r.skip(align4(len) - len, 'id padding');
      entries.push({ idType, id });
    }
    return { entries };
  },
};

// ---------------------------------------------------------------------------------------------
// VM_LOOKUP_URI / VM_LOOKUP_NAME: @0 u16 len (≤ 79), @2 u16 pad, @4 string padded to 4 with
// zeros; exactly 4 + align4(len). VM_LOOKUP_GUID: 16 bytes. Replies: u32 count, {u16 vmid, u16 pad}.
// ---------------------------------------------------------------------------------------------

function lookupStringCodec<K extends string>(key: K, what: string): PayloadCodec<{ readonly [P in K]: Uint8Array }> {
  return {
    encode(v) {
      const s = v[key];
      return new Writer(4 + align4(s.byteLength)).u16(s.byteLength, `${key} length`).skip(2).bytes(s).align().done();
    },
    decode(b) {
      expectAtLeast(b, 4, what);
      const r = new Reader(b, what);
      const len = r.u16('len');
      // The RM checks the string length before the total length (vm_mgnt.c lookup handlers).
      if (len > VM_LOOKUP_STRING_MAX) wireFail('bad-value', `${what}: length ${len} > ${VM_LOOKUP_STRING_MAX}`, 0, 'ARGUMENT_INVALID');
      expectLength(b, 4 + align4(len), what);
      r.skip(2);
      const s = r.bytes(len, key);
      r.zeros(align4(len) - len, `${key} padding`);
      return { [key]: s } as { readonly [P in K]: Uint8Array };
    },
  };
}

export interface VmLookupUriReq {
  readonly uri: Uint8Array;
}
export const VM_LOOKUP_URI_REQ: PayloadCodec<VmLookupUriReq> = lookupStringCodec('uri', 'VM_LOOKUP_URI');
export interface VmLookupNameReq {
  readonly name: Uint8Array;
}
export const VM_LOOKUP_NAME_REQ: PayloadCodec<VmLookupNameReq> = lookupStringCodec('name', 'VM_LOOKUP_NAME');

export interface VmLookupGuidReq {
  /** 16 bytes. */
  readonly guid: Uint8Array;
}
export const VM_LOOKUP_GUID_REQ: PayloadCodec<VmLookupGuidReq> = {
  encode(v) {
    if (v.guid.byteLength !== VM_GUID_LEN) throw new RangeError(`guid must be ${VM_GUID_LEN} bytes, got ${v.guid.byteLength}`);
    return v.guid.slice();
  },
  decode(b) {
    expectLength(b, VM_GUID_LEN, 'VM_LOOKUP_GUID');
    return { guid: b.slice() };
  },
};

/** Reply of the three VM_LOOKUP_* calls: the VMs the caller may query that match. */
export interface VmidListReply {
  readonly vmids: readonly number[];
}
export const VMID_LIST_REPLY: PayloadCodec<VmidListReply> = {
  encode(v) {
    const w = new Writer(4 + 4 * v.vmids.length).u32(v.vmids.length, 'count');
    for (const id of v.vmids) w.u16(id, 'vmid').skip(2);
    return w.done();
  },
  decode(b) {
    const r = new Reader(b, 'VM_LOOKUP reply');
    return { vmids: r.countedU32(4, 'vmid', (b, o) => rd16(b, o)) };
  },
};

// ---------------------------------------------------------------------------------------------
// Single-u32 replies: VM_GET_OWNER, VM_GET_VMID, VM_HOST_GET_TYPE.
// ---------------------------------------------------------------------------------------------

export interface VmGetOwnerReply {
  readonly owner: number;
}
export const VM_GET_OWNER_REPLY: PayloadCodec<VmGetOwnerReply> = u32Codec('owner', 'VM_GET_OWNER reply', false);

export interface VmGetVmidReply {
  readonly vmid: number;
}
/** Linux reads 4 bytes without a size check and uses the low 16 bits. */
export const VM_GET_VMID_REPLY: PayloadCodec<VmGetVmidReply> = u32Codec('vmid', 'VM_GET_VMID reply', false);

export interface VmHostGetTypeReply {
  /** `HOST_TYPE_GUNYAH_AARCH64_V1` from the public RM. */
  readonly hostType: number;
}
export const VM_HOST_GET_TYPE_REPLY: PayloadCodec<VmHostGetTypeReply> = u32Codec('hostType', 'VM_HOST_GET_TYPE reply', false);

// ---------------------------------------------------------------------------------------------
// VM_GET_STATE reply: one u32, vm_status bits 7:0, os_status bits 15:8, app_status bits 31:16.
// ---------------------------------------------------------------------------------------------

export interface VmGetStateReply {
  readonly vmStatus: number;
  readonly osStatus: number;
  readonly appStatus: number;
}
export const VM_GET_STATE_REPLY: PayloadCodec<VmGetStateReply> = {
  encode(v) {
    const w = new Writer(4);
    return w.u8(v.vmStatus, 'vmStatus').u8(v.osStatus, 'osStatus').u16(v.appStatus, 'appStatus').done();
  },
  decode(b) {
    expectAtLeast(b, 4, 'VM_GET_STATE reply');
    const word = rd32(b, 0);
    return { vmStatus: word & 0xff, osStatus: (word >>> 8) & 0xff, appStatus: word >>> 16 };
  },
};

// ---------------------------------------------------------------------------------------------
// VM_GET_CRASH_MSG reply: @0 u16 len, @2 u16 0, @4 message padded to 4.
// ---------------------------------------------------------------------------------------------

export interface VmGetCrashMsgReply {
  readonly message: Uint8Array;
}
export const VM_GET_CRASH_MSG_REPLY: PayloadCodec<VmGetCrashMsgReply> = {
  encode: (v) => new Writer(4 + align4(v.message.byteLength)).u16(v.message.byteLength, 'len').skip(2).bytes(v.message).align().done(),
  decode(b) {
    const r = new Reader(b, 'VM_GET_CRASH_MSG reply');
    const len = r.u16('len');
    r.skip(2);
    return { message: r.bytes(len, 'message') };
  },
};

// ---------------------------------------------------------------------------------------------
// VM_GET_PEERS reply: u32 count, u32 vmid × count.
// ---------------------------------------------------------------------------------------------

export interface VmGetPeersReply {
  readonly vmids: readonly number[];
}
export const VM_GET_PEERS_REPLY: PayloadCodec<VmGetPeersReply> = {
  encode(v) {
    const w = new Writer(4 + 4 * v.vmids.length).u32(v.vmids.length, 'count');
    for (const id of v.vmids) w.u32(id, 'vmid');
    return w.done();
  },
  decode(b) {
    return { vmids: new Reader(b, 'VM_GET_PEERS reply').countedU32(4, 'vmid', (b, o) => rd32(b, o)) };
  },
};

// ---------------------------------------------------------------------------------------------
// VM_GET_HYP_RESOURCES reply: u32 n, then n × 44-byte entries (hypervisor.md §9.1).
//
//   +0 u8 type  +1 u8 res  +2 u16 partner_vmid  +4 u32 resource_handle  +8 u32 resource_label
//   +12 u64 cap_id  +20 u32 virq_handle  +24 u32 virq  +28 u64 base  +36 u64 size
// ---------------------------------------------------------------------------------------------

export interface HypResourceEntry {
  /** `ResourceType`. */
  readonly type: number;
  readonly partnerVmid: number;
  /** Always 0 from the public RM. */
  readonly resourceHandle: number;
  readonly resourceLabel: number;
  readonly capId: bigint;
  /** Always 0 from the public RM. */
  readonly virqHandle: number;
  /** GIC INTID; 0 = none. */
  readonly virq: number;
  readonly base: bigint;
  readonly size: bigint;
}
export interface VmGetHypResourcesReply {
  readonly entries: readonly HypResourceEntry[];
}

/** Write one 44-byte resource entry at the writer's cursor. */
export function writeHypResourceEntry(w: Writer, e: HypResourceEntry): void {
  w.u8(e.type, 'type').skip(1).u16(e.partnerVmid, 'partnerVmid').u32(e.resourceHandle, 'resourceHandle');
  w.u32(e.resourceLabel, 'resourceLabel').u64(e.capId, 'capId').u32(e.virqHandle, 'virqHandle').u32(e.virq, 'virq');
  w.u64(e.base, 'base').u64(e.size, 'size');
}
/** Read one 44-byte resource entry at `o` (bounds already checked). */
export function readHypResourceEntry(b: Uint8Array, o: number): HypResourceEntry {
  return {
    type: rd8(b, o),
    partnerVmid: rd16(b, o + 2),
    resourceHandle: rd32(b, o + 4),
    resourceLabel: rd32(b, o + 8),
    capId: rd64(b, o + 12),
    virqHandle: rd32(b, o + 20),
    virq: rd32(b, o + 24),
    base: rd64(b, o + 28),
    size: rd64(b, o + 36),
  };
}

/**
 * Exactly 4 + 44·n bytes, as Linux checks (`resp_size != struct_size(...)` → -EBADMSG); an
 * empty reply fails too. The WireError carries MSG_INVALID; the client maps it to EBADMSG.
 */
export const VM_GET_HYP_RESOURCES_REPLY: PayloadCodec<VmGetHypResourcesReply> = {
  encode(v) {
    const w = new Writer(4 + HYP_RESOURCE_ENTRY_SIZE * v.entries.length).u32(v.entries.length, 'n_entries');
    for (const e of v.entries) writeHypResourceEntry(w, e);
    return w.done();
  },
  decode(b) {
    expectAtLeast(b, 4, 'VM_GET_HYP_RESOURCES reply');
    const n = rd32(b, 0);
    expectLength(b, 4 + HYP_RESOURCE_ENTRY_SIZE * n, 'VM_GET_HYP_RESOURCES reply');
    const entries = new Array<HypResourceEntry>(n);
    for (let i = 0; i < n; i++) entries[i] = readHypResourceEntry(b, 4 + i * HYP_RESOURCE_ENTRY_SIZE);
    return { entries };
  },
};

// ---------------------------------------------------------------------------------------------
// VM_SET_TIME_BASE (20): @0 u16 vmid (0 = self), @2 pad, @4 u64 time_base, @12 u64 sys_timer_ref.
// VM_SET_FIRMWARE_MEM (24): @0 u16 vmid, @2 u16 res0 (must be 0), @4 u32 handle, @8 u64 offset,
// @16 u64 size. Both add a u32 hypervisor error after err_code on every error reply.
// ---------------------------------------------------------------------------------------------

export interface VmSetTimeBaseReq {
  readonly vmid: number;
  readonly timeBase: bigint;
  readonly sysTimerRef: bigint;
}
export const VM_SET_TIME_BASE_REQ: PayloadCodec<VmSetTimeBaseReq> = {
  encode: (v) => new Writer(20).u16(v.vmid, 'vmid').skip(2).u64(v.timeBase, 'timeBase').u64(v.sysTimerRef, 'sysTimerRef').done(),
  decode(b) {
    expectLength(b, 20, 'VM_SET_TIME_BASE');
    const r = new Reader(b, 'VM_SET_TIME_BASE');
    const vmid = r.u16();
    r.skip(2);
    const timeBase = r.u64();
    return { vmid, timeBase, sysTimerRef: r.u64() };
  },
};

export interface VmSetFirmwareMemReq {
  readonly vmid: number;
  /** Firmware memparcel handle. */
  readonly fwHandle: number;
  readonly fwOffset: bigint;
  readonly fwSize: bigint;
}
export const VM_SET_FIRMWARE_MEM_REQ: PayloadCodec<VmSetFirmwareMemReq> = {
  encode: (v) =>
    new Writer(24).u16(v.vmid, 'vmid').skip(2).u32(v.fwHandle, 'fwHandle').u64(v.fwOffset, 'fwOffset').u64(v.fwSize, 'fwSize').done(),
  decode(b) {
    expectLength(b, 24, 'VM_SET_FIRMWARE_MEM');
    const r = new Reader(b, 'VM_SET_FIRMWARE_MEM');
    const vmid = r.u16();
    r.zeros(2, 'res0');
    const fwHandle = r.u32();
    const fwOffset = r.u64();
    return { vmid, fwHandle, fwOffset, fwSize: r.u64() };
  },
};

/**
 * The data after err_code in an **error** reply of VM_SET_TIME_BASE or VM_SET_FIRMWARE_MEM:
 * one u32 hypervisor error (`HypErrorCode`, read as signed so that UNIMPLEMENTED is -1).
 * VM_SET_FIRMWARE_MEM always sends 1 (ERROR_ARGUMENT_INVALID) here.
 */
export interface HypErrorTail {
  readonly hypError: number;
}
export const HYP_ERROR_TAIL: PayloadCodec<HypErrorTail> = {
  encode: (v) => new Writer(4).i32(v.hypError, 'hypError').done(),
  decode(b) {
    expectAtLeast(b, 4, 'hypervisor error tail');
    return { hypError: rdI32(b, 0) };
  },
};

// ---------------------------------------------------------------------------------------------
// VM_SET_STATUS (4): @0 u8 ignored, @1 u8 os_status, @2 u16 app_status.
// ---------------------------------------------------------------------------------------------

export interface VmSetStatusReq {
  /** 0 = unchanged, 1..7 set it; anything else → ARGUMENT_INVALID (`isSettableOsStatus`, handler). */
  readonly osStatus: number;
  readonly appStatus: number;
}
export const VM_SET_STATUS_REQ: PayloadCodec<VmSetStatusReq> = {
  encode: (v) => new Writer(4).skip(1).u8(v.osStatus, 'osStatus').u16(v.appStatus, 'appStatus').done(),
  decode(b) {
    expectLength(b, 4, 'VM_SET_STATUS');
    return { osStatus: rd8(b, 1), appStatus: rd16(b, 2) };
  },
};
/** The os_status values VM_SET_STATUS accepts (NONE means "unchanged"). */
export function isSettableOsStatus(osStatus: number): boolean {
  return Number.isInteger(osStatus) && osStatus >= OsStatus.NONE && osStatus <= OsStatus.CRASHED;
}

// ---------------------------------------------------------------------------------------------
// VM_EXIT (4): @0 u16 exit_flags, @2 u8 exit_code (0, 1, 3 or 4), @3 u8 res0 (must be 0).
// ---------------------------------------------------------------------------------------------

export interface VmExitReq {
  readonly exitFlags: number;
  /** `ExitCode` except UNKNOWN_ERROR, which the RM rejects. */
  readonly exitCode: number;
}
/** The exit codes a VM_EXIT request may carry (UNKNOWN_ERROR and out-of-range values → MSG_INVALID). */
export function isVmExitCode(c: number): boolean {
  return c === ExitCode.NORMAL || c === ExitCode.SOFTWARE_ERROR || c === ExitCode.BUS_ERROR || c === ExitCode.DEVICE_ERROR;
}
export const VM_EXIT_REQ: PayloadCodec<VmExitReq> = {
  encode: (v) => new Writer(4).u16(v.exitFlags, 'exitFlags').u8(v.exitCode, 'exitCode').skip(1).done(),
  decode(b) {
    expectLength(b, 4, 'VM_EXIT');
    if (rd8(b, 3) !== 0) wireFail('reserved', 'VM_EXIT: res0 must be zero', 3, 'MSG_INVALID');
    const exitCode = rd8(b, 2);
    if (!isVmExitCode(exitCode)) wireFail('bad-value', `VM_EXIT: exit_code ${exitCode}`, 2, 'MSG_INVALID');
    return { exitFlags: rd16(b, 0), exitCode };
  },
};

// ---------------------------------------------------------------------------------------------
// VM_SET_CRASH_MSG: @0 u16 len, @2 pad, @4 message zero-padded to 4; exactly 4 + align4(len).
// The RM truncates a message over 192 bytes (`VM_MAX_CRASH_MSG_LEN`); that is the handler's job.
// ---------------------------------------------------------------------------------------------

export interface VmSetCrashMsgReq {
  readonly message: Uint8Array;
}
export const VM_SET_CRASH_MSG_REQ: PayloadCodec<VmSetCrashMsgReq> = {
  encode: (v) => new Writer(4 + align4(v.message.byteLength)).u16(v.message.byteLength, 'len').skip(2).bytes(v.message).align().done(),
  decode(b) {
    expectAtLeast(b, 4, 'VM_SET_CRASH_MSG');
    const r = new Reader(b, 'VM_SET_CRASH_MSG');
    const len = r.u16('len');
    expectLength(b, 4 + align4(len), 'VM_SET_CRASH_MSG');
    r.skip(2);
    const message = r.bytes(len, 'message');
    r.zeros(align4(len) - len, 'message padding');
    return { message };
  },
};
