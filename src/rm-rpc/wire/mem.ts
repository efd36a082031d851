/**
 * Memory parcel payloads (0x5100_00xx): MEM_LEND, MEM_SHARE, MEM_DONATE, MEM_APPEND,
 * MEM_ACCEPT, MEM_RELEASE, MEM_RECLAIM, MEM_NOTIFY, MEM_QCOM_LOOKUP_SGL; and the ACL, SGL and
 * attribute entry layouts that MEM_SHARED reuses.
 *
 * Reference: rm-rpc.md §10 (list rules), §12.5 (layouts, minimum lengths), §16 (semantics).
 *
 *   create (LEND/SHARE/DONATE), ≥ 20 bytes:
 *   +0 mem_type  +1 res  +2 flags  +3 res  +4 u32 label  +8 ACL list  … SGL list  … attr list
 *   ACL entry  {u16 vmid, u8 rights, u8 res}      4 bytes
 *   SGL entry  {u64 address, u64 size}            16 bytes
 *   attr entry {u16 attr, u16 vmid}  (attr first) 4 bytes
 *
 * Rules applied by decode (the RM's `memparcel_read_lists`): minimum length per message, then
 * each list by §10 with a maximum of 512 entries (NORESOURCE above), then no bytes after the
 * last list (MSG_INVALID). A list the buffer stops in front of is empty. Reserved bytes and the
 * ACL entries' reserved byte are ignored. Everything semantic (rights, attrs, alignment,
 * n_acl == 0, map_vmid ≠ 0, flag values) is the handler's (§16.3, §16.5).
 *
 * MEM_NOTIFY is different: the RM checks only `len ≥ 12` up front, and checks the vmid list of
 * SHARED and RECALL (len ≥ 16; len ≥ 16 + 4n, trailing bytes allowed; no 512 cap) only after
 * the handle, tag and owner checks. `MEM_NOTIFY_REQ.decode` checks all of it at once; a handler
 * that wants the RM's exact error order uses `decodeMemNotifyHead` first and
 * `decodeMemNotifyVmids` after its state checks.
 */
import {
  rd8,
  rd16,
  rd32,
  rd64,
  Reader,
  Writer,
  expectAtLeast,
  listSize,
  u32Codec,
  wireFail,
  MEMPARCEL_LIST_MAX,
  NO_LIST_MAX,
  STANDARD_REPLY,
  type Empty,
  type PayloadCodec,
} from './codec.js';
import { MemNotifyFlag } from './enums.js';

// ---------------------------------------------------------------------------------------------
// Entries
// ---------------------------------------------------------------------------------------------

export interface AclEntry {
  readonly vmid: number;
  /** `MemRights` bits: X 1, W 2, R 4. */
  readonly rights: number;
}
export interface SglEntry {
  /** The owner's IPA (create/append/lookup) or the borrower's IPA (accept). */
  readonly address: bigint;
  readonly size: bigint;
}
export interface AttrEntry {
  /** `MemAttr`. */
  readonly attr: number;
  readonly vmid: number;
}

export const ACL_ENTRY_SIZE = 4;
export const SGL_ENTRY_SIZE = 16;
export const ATTR_ENTRY_SIZE = 4;

export const readAclEntry = (b: Uint8Array, o: number): AclEntry => ({ vmid: rd16(b, o), rights: rd8(b, o + 2) });
export const readSglEntry = (b: Uint8Array, o: number): SglEntry => ({ address: rd64(b, o), size: rd64(b, o + 8) });
export const readAttrEntry = (b: Uint8Array, o: number): AttrEntry => ({ attr: rd16(b, o), vmid: rd16(b, o + 2) });

export function writeAclEntry(w: Writer, e: AclEntry): void {
  w.u16(e.vmid, 'acl vmid').u8(e.rights, 'acl rights').skip(1);
}
export function writeSglEntry(w: Writer, e: SglEntry): void {
  w.u64(e.address, 'sgl address').u64(e.size, 'sgl size');
}
export function writeAttrEntry(w: Writer, e: AttrEntry): void {
  w.u16(e.attr, 'attr').u16(e.vmid, 'attr vmid');
}

/** Reply of MEM_LEND / MEM_SHARE / MEM_DONATE / MEM_QCOM_LOOKUP_SGL: the parcel handle. */
export interface MemHandleReply {
  readonly handle: number;
}
/** u32 handle. Linux reads 4 bytes without a size check; extra bytes are ignored. */
export const MEM_HANDLE_REPLY: PayloadCodec<MemHandleReply> = u32Codec('handle', 'MEM handle reply', false);

// ---------------------------------------------------------------------------------------------
// MEM_LEND / MEM_SHARE / MEM_DONATE (≥ 20)
// ---------------------------------------------------------------------------------------------

export interface MemCreateReq {
  /** `MemType`. */
  readonly memType: number;
  /** `MemCreateFlag`: SANITIZE 1, APPEND 2. */
  readonly flags: number;
  readonly label: number;
  readonly acl: readonly AclEntry[];
  readonly sgl: readonly SglEntry[];
  /** Linux sends an empty list. */
  readonly attrs: readonly AttrEntry[];
}
export const MEM_CREATE_MIN = 20;
export const MEM_CREATE_REQ: PayloadCodec<MemCreateReq> = {
  encode(v) {
    const size = 8 + listSize(v.acl.length, ACL_ENTRY_SIZE) + listSize(v.sgl.length, SGL_ENTRY_SIZE) + listSize(v.attrs.length, ATTR_ENTRY_SIZE);
    return new Writer(size)
      .u8(v.memType, 'memType')
      .skip(1)
      .u8(v.flags, 'flags')
      .skip(1)
      .u32(v.label, 'label')
      .list(v.acl, ACL_ENTRY_SIZE, 'acl', writeAclEntry)
      .list(v.sgl, SGL_ENTRY_SIZE, 'sgl', writeSglEntry)
      .list(v.attrs, ATTR_ENTRY_SIZE, 'attr', writeAttrEntry)
      .done();
  },
  decode(b) {
    expectAtLeast(b, MEM_CREATE_MIN, 'MEM create');
    const r = new Reader(b, 'MEM create');
    const memType = r.u8();
    r.skip(1);
    const flags = r.u8();
    r.skip(1);
    const label = r.u32();
    const acl = r.list(ACL_ENTRY_SIZE, MEMPARCEL_LIST_MAX, 'acl', readAclEntry);
    const sgl = r.list(SGL_ENTRY_SIZE, MEMPARCEL_LIST_MAX, 'sgl', readSglEntry);
    const attrs = r.list(ATTR_ENTRY_SIZE, MEMPARCEL_LIST_MAX, 'attr', readAttrEntry);
    r.end();
    return { memType, flags, label, acl, sgl, attrs };
  },
};

// ---------------------------------------------------------------------------------------------
// MEM_APPEND (≥ 12): @0 u32 handle, @4 u8 flags (DONE 1), @5 3 res, @8 SGL list.
// ---------------------------------------------------------------------------------------------

export interface MemAppendReq {
  readonly handle: number;
  /** `MemAppendFlag.DONE` on the last chunk. */
  readonly flags: number;
  readonly sgl: readonly SglEntry[];
}
export const MEM_APPEND_REQ: PayloadCodec<MemAppendReq> = {
  encode: (v) =>
    new Writer(8 + listSize(v.sgl.length, SGL_ENTRY_SIZE))
      .u32(v.handle, 'handle')
      .u8(v.flags, 'flags')
      .skip(3)
      .list(v.sgl, SGL_ENTRY_SIZE, 'sgl', writeSglEntry)
      .done(),
  decode(b) {
    expectAtLeast(b, 12, 'MEM_APPEND');
    const r = new Reader(b, 'MEM_APPEND');
    const handle = r.u32();
    const flags = r.u8();
    r.skip(3);
    const sgl = r.list(SGL_ENTRY_SIZE, MEMPARCEL_LIST_MAX, 'sgl', readSglEntry);
    r.end();
    return { handle, flags, sgl };
  },
};

// ---------------------------------------------------------------------------------------------
// MEM_ACCEPT (≥ 24): @0 u32 handle, @4 mem_type, @5 trans_type, @6 flags, @7 res, @8 u32 label,
// @12 ACL list, then the SGL list whose header's upper u16 is map_vmid (@18 + 4·n_acl), then
// the attr list.
// ---------------------------------------------------------------------------------------------

export interface MemAcceptReq {
  readonly handle: number;
  readonly memType: number;
  /** `TransType`. */
  readonly transType: number;
  /** `MemAcceptFlag`. */
  readonly flags: number;
  readonly label: number;
  /** Compared with VALIDATE_ACL_ATTR. */
  readonly acl: readonly AclEntry[];
  /** The reserved half of the SGL header. The RM requires 0 unless MAP_OTHER (handler check). */
  readonly mapVmid: number;
  /** Empty: the RM chooses the IPAs and answers with the SGL reply. */
  readonly sgl: readonly SglEntry[];
  readonly attrs: readonly AttrEntry[];
}
export const MEM_ACCEPT_MIN = 24;
export const MEM_ACCEPT_REQ: PayloadCodec<MemAcceptReq> = {
  encode(v) {
    const size = 12 + listSize(v.acl.length, ACL_ENTRY_SIZE) + listSize(v.sgl.length, SGL_ENTRY_SIZE) + listSize(v.attrs.length, ATTR_ENTRY_SIZE);
    return new Writer(size)
      .u32(v.handle, 'handle')
      .u8(v.memType, 'memType')
      .u8(v.transType, 'transType')
      .u8(v.flags, 'flags')
      .skip(1)
      .u32(v.label, 'label')
      .list(v.acl, ACL_ENTRY_SIZE, 'acl', writeAclEntry)
      .list(v.sgl, SGL_ENTRY_SIZE, 'sgl', writeSglEntry, v.mapVmid)
      .list(v.attrs, ATTR_ENTRY_SIZE, 'attr', writeAttrEntry)
      .done();
  },
  decode(b) {
    expectAtLeast(b, MEM_ACCEPT_MIN, 'MEM_ACCEPT');
    const r = new Reader(b, 'MEM_ACCEPT');
    const handle = r.u32();
    const memType = r.u8();
    const transType = r.u8();
    const flags = r.u8();
    r.skip(1);
    const label = r.u32();
    const acl = r.list(ACL_ENTRY_SIZE, MEMPARCEL_LIST_MAX, 'acl', readAclEntry);
    // map_vmid lives in the SGL header; when the buffer ends before it the SGL list is empty
    // and there is no map_vmid on the wire (the RM would read past the end): report 0.
    const mapVmid = r.left >= 4 ? rd16(r.b, r.off + 2) : 0;
    const sgl = r.list(SGL_ENTRY_SIZE, MEMPARCEL_LIST_MAX, 'sgl', readSglEntry);
    const attrs = r.list(ATTR_ENTRY_SIZE, MEMPARCEL_LIST_MAX, 'attr', readAttrEntry);
    r.end();
    return { handle, memType, transType, flags, label, acl, mapVmid, sgl, attrs };
  },
};

/** MEM_ACCEPT reply when the request had n_sgl = 0: @0 u16 n, @2 u8 flags, @3 res, @4 n × SGL entry. */
export interface MemAcceptSglReply {
  /** `MemAcceptReplyFlag.INCOMPLETE`: more than 512 mappings remain. */
  readonly flags: number;
  /** The IPA and size of each mapping; one entry if MAP_CONTIGUOUS. */
  readonly sgl: readonly SglEntry[];
}
export const MEM_ACCEPT_SGL_REPLY: PayloadCodec<MemAcceptSglReply> = {
  encode(v) {
    const w = new Writer(4 + SGL_ENTRY_SIZE * v.sgl.length).u16(v.sgl.length, 'sgl_entries').u8(v.flags, 'flags').skip(1);
    for (const e of v.sgl) writeSglEntry(w, e);
    return w.done();
  },
  decode(b) {
    const r = new Reader(b, 'MEM_ACCEPT reply');
    r.need(4, 'sgl header');
    const flags = rd8(r.b, 2);
    const sgl = r.list(SGL_ENTRY_SIZE, NO_LIST_MAX, 'sgl', readSglEntry);
    return { flags, sgl };
  },
};
/** MEM_ACCEPT reply when the request had n_sgl > 0: a standard reply. */
export const MEM_ACCEPT_STANDARD_REPLY: PayloadCodec<Empty> = STANDARD_REPLY;
/** The MEM_ACCEPT reply codec that matches a request. */
export function memAcceptReplyCodec(req: Pick<MemAcceptReq, 'sgl'>): PayloadCodec<MemAcceptSglReply> | PayloadCodec<Empty> {
  return req.sgl.length === 0 ? MEM_ACCEPT_SGL_REPLY : MEM_ACCEPT_STANDARD_REPLY;
}

// ---------------------------------------------------------------------------------------------
// MEM_RELEASE / MEM_RECLAIM (≥ 8): @0 u32 handle, @4 u8 flags (SANITIZE 1), @5 3 res.
// Bytes after the eighth are ignored (the RM checks `len < 8` only).
// ---------------------------------------------------------------------------------------------

export interface MemHandleFlagsReq {
  readonly handle: number;
  /** `MemReleaseFlag` / `MemReclaimFlag`. Linux sends 0. */
  readonly flags: number;
}
export type MemReleaseReq = MemHandleFlagsReq;
export type MemReclaimReq = MemHandleFlagsReq;
export const MEM_HANDLE_FLAGS_REQ: PayloadCodec<MemHandleFlagsReq> = {
  encode: (v) => new Writer(8).u32(v.handle, 'handle').u8(v.flags, 'flags').skip(3).done(),
  decode(b) {
    expectAtLeast(b, 8, 'MEM_RELEASE/MEM_RECLAIM');
    return { handle: rd32(b, 0), flags: rd8(b, 4) };
  },
};
export const MEM_RELEASE_REQ: PayloadCodec<MemReleaseReq> = MEM_HANDLE_FLAGS_REQ;
export const MEM_RECLAIM_REQ: PayloadCodec<MemReclaimReq> = MEM_HANDLE_FLAGS_REQ;

// ---------------------------------------------------------------------------------------------
// MEM_NOTIFY (≥ 12): @0 u32 handle, @4 u8 flags, @5 3 res, @8 u32 mem_info_tag; SHARED and
// RECALL add @12 u16 n_vmid, @14 u16 res, @16 n × {u16 vmid, u16 res}.
// ---------------------------------------------------------------------------------------------

export interface MemNotifyHead {
  readonly handle: number;
  /** `MemNotifyFlag`; exactly one bit, else ARGUMENT_INVALID (handler). */
  readonly flags: number;
  readonly memInfoTag: number;
}
export interface MemNotifyReq extends MemNotifyHead {
  /** SHARED and RECALL only; must be empty for any other flags value. n = 0 → ARGUMENT_INVALID (handler). */
  readonly vmids: readonly number[];
}

/** True when `flags` makes the RM read a vmid list (SHARED or RECALL exactly). */
export function memNotifyHasVmids(flags: number): boolean {
  return flags === MemNotifyFlag.SHARED || flags === MemNotifyFlag.RECALL;
}

/** The fixed 12 bytes, checked as the RM checks them first (`len < 12` → MSG_INVALID). */
export function decodeMemNotifyHead(b: Uint8Array): MemNotifyHead {
  expectAtLeast(b, 12, 'MEM_NOTIFY');
  return { handle: rd32(b, 0), flags: rd8(b, 4), memInfoTag: rd32(b, 8) };
}

/**
 * The vmid list of a SHARED or RECALL notify, with the RM's later checks: fewer than 16 bytes
 * or fewer than 16 + 4n → MSG_INVALID; trailing bytes allowed. n = 0 gives [] (the handler
 * answers ARGUMENT_INVALID, which the RM checks between those two length checks).
 */
export function decodeMemNotifyVmids(b: Uint8Array): number[] {
  expectAtLeast(b, 16, 'MEM_NOTIFY vmid list');
  const r = new Reader(b, 'MEM_NOTIFY', 12);
  const n = r.u16('n_vmid');
  r.skip(2);
  if (4 * n > r.left) wireFail('list-overrun', `MEM_NOTIFY: ${n} vmids run past the end`, 16, 'MSG_INVALID');
  const vmids = new Array<number>(n);
  for (let i = 0; i < n; i++) vmids[i] = rd16(r.b, 16 + 4 * i);
  return vmids;
}

export const MEM_NOTIFY_REQ: PayloadCodec<MemNotifyReq> = {
  encode(v) {
    const withList = memNotifyHasVmids(v.flags);
    if (!withList && v.vmids.length > 0) throw new RangeError(`MEM_NOTIFY flags ${v.flags} carry no vmid list`);
    const w = new Writer(withList ? 16 + 4 * v.vmids.length : 12);
    w.u32(v.handle, 'handle').u8(v.flags, 'flags').skip(3).u32(v.memInfoTag, 'memInfoTag');
    if (withList) {
      w.u16(v.vmids.length, 'n_vmid').skip(2);
      for (const id of v.vmids) w.u16(id, 'vmid').skip(2);
    }
    return w.done();
  },
  decode(b) {
    const head = decodeMemNotifyHead(b);
    return { ...head, vmids: memNotifyHasVmids(head.flags) ? decodeMemNotifyVmids(b) : [] };
  },
};

// ---------------------------------------------------------------------------------------------
// MEM_QCOM_LOOKUP_SGL (≥ 16): @0 u8 mem_type, @1 3 res, @4 u32 label, @8 ACL, SGL, attr lists.
// ---------------------------------------------------------------------------------------------

export interface MemLookupSglReq {
  readonly memType: number;
  readonly label: number;
  readonly acl: readonly AclEntry[];
  readonly sgl: readonly SglEntry[];
  readonly attrs: readonly AttrEntry[];
}
export const MEM_QCOM_LOOKUP_SGL_REQ: PayloadCodec<MemLookupSglReq> = {
  encode(v) {
    const size = 8 + listSize(v.acl.length, ACL_ENTRY_SIZE) + listSize(v.sgl.length, SGL_ENTRY_SIZE) + listSize(v.attrs.length, ATTR_ENTRY_SIZE);
    return new Writer(size)
      .u8(v.memType, 'memType')
      .skip(3)
      .u32(v.label, 'label')
      .list(v.acl, ACL_ENTRY_SIZE, 'acl', writeAclEntry)
      .list(v.sgl, SGL_ENTRY_SIZE, 'sgl', writeSglEntry)
      .list(v.attrs, ATTR_ENTRY_SIZE, 'attr', writeAttrEntry)
      .done();
  },
  decode(b) {
    expectAtLeast(b, 16, 'MEM_QCOM_LOOKUP_SGL');
    const r = new Reader(b, 'MEM_QCOM_LOOKUP_SGL');
    const memType = r.u8();
    r.skip(3);
    const label = r.u32();
    const acl = r.list(ACL_ENTRY_SIZE, MEMPARCEL_LIST_MAX, 'acl', readAclEntry);
    const sgl = r.list(SGL_ENTRY_SIZE, MEMPARCEL_LIST_MAX, 'sgl', readSglEntry);
    const attrs = r.list(ATTR_ENTRY_SIZE, MEMPARCEL_LIST_MAX, 'attr', readAttrEntry);
    r.end();
    return { memType, label, acl, sgl, attrs };
  },
};
