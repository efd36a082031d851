/**
 * Notification payloads (RM → VM): NOTIFY_VM_EXITED, _SHUTDOWN, _STATUS, _IRQ_LENT,
 * _IRQ_RELEASED, _IRQ_ACCEPTED, _CONSOLE_CHARS, and MEM_SHARED, MEM_RELEASED, MEM_ACCEPTED,
 * MEM_RECALL; plus helpers for the exit-reason words.
 *
 * Reference: rm-rpc.md §13 (layouts), §15.1 and §15.5 (exit types, codes, flags, reason words).
 *
 *   NOTIFY_VM_EXITED:  +0 u16 vmid  +2 u16 exit_type  +4 u32 exit_reason_size  +8 reason bytes
 *   reason word 0 (u32):  bits 15:0 exit_flags | bits 31:16 exit_code
 *   PSCI_SYSTEM_RESET2 adds words reset_type, cookie_lo, cookie_hi (16 bytes in all)
 *
 *   NOTIFY_VM_STATUS (8): +0 u16 vmid  +2 u16 res  +4 u8 vm_status  +5 u8 os_status  +6 u16 app_status
 *
 *   MEM_SHARED: +0 u32 handle  +4 u8 mem_type  +5 u8 trans_type  +6 u8 flags  +7 res
 *               +8 u16 owner  +10 res  +12 u32 label  +16 u32 mem_info_tag
 *               +20 ACL list, then the "SGL" list (QUIRK: one u64 size per region, no
 *               addresses; count truncated to 512 by the RM), then the attr list
 *
 * Notifications are decoded by clients. Decode therefore checks that the layout is present
 * (a short payload, a list or reason running past the end → WireError, MSG_INVALID) and
 * ignores trailing bytes; lists have no maximum. Encode writes reserved bytes as 0.
 */
import { rd8, rd16, rd32, rd64, Reader, Writer, expectAtLeast, listSize, NO_LIST_MAX, type PayloadCodec } from './codec.js';
import {
  ACL_ENTRY_SIZE,
  ATTR_ENTRY_SIZE,
  readAclEntry,
  readAttrEntry,
  writeAclEntry,
  writeAttrEntry,
  type AclEntry,
  type AttrEntry,
} from './mem.js';

// ---------------------------------------------------------------------------------------------
// NOTIFY_VM_EXITED
// ---------------------------------------------------------------------------------------------

export interface VmExitedNotif {
  readonly vmid: number;
  /** `ExitType`. */
  readonly exitType: number;
  /** The reason words as bytes; `exit_reason_size` on the wire is its length. */
  readonly exitReason: Uint8Array;
}
export const NOTIFY_VM_EXITED_PAYLOAD: PayloadCodec<VmExitedNotif> = {
  encode: (v) =>
    new Writer(8 + v.exitReason.byteLength)
      .u16(v.vmid, 'vmid')
      .u16(v.exitType, 'exitType')
      .u32(v.exitReason.byteLength, 'exit_reason_size')
      .bytes(v.exitReason)
      .done(),
  decode(b) {
    const r = new Reader(b, 'NOTIFY_VM_EXITED');
    const vmid = r.u16('vmid');
    const exitType = r.u16('exit_type');
    const size = r.u32('exit_reason_size');
    return { vmid, exitType, exitReason: r.bytes(size, 'exit_reason') };
  },
};

/** Reason word 0 and any further words (PSCI_SYSTEM_RESET2: reset_type, cookie_lo, cookie_hi). */
export interface ExitReason {
  /** `ExitFlag` bits, 15:0 of word 0. */
  readonly exitFlags: number;
  /** `ExitCode`, bits 31:16 of word 0. */
  readonly exitCode: number;
  readonly extraWords?: readonly number[];
}

/** Word 0 of an exit reason: exit_flags | exit_code << 16. */
export function exitReasonWord0(exitFlags: number, exitCode: number): number {
  if (!Number.isInteger(exitFlags) || exitFlags < 0 || exitFlags > 0xffff) throw new RangeError(`exitFlags must be a u16, got ${exitFlags}`);
  if (!Number.isInteger(exitCode) || exitCode < 0 || exitCode > 0xffff) throw new RangeError(`exitCode must be a u16, got ${exitCode}`);
  return (exitFlags | (exitCode << 16)) >>> 0;
}

/** Build the `exitReason` bytes: word 0, then `extraWords` (each a u32). */
export function buildExitReason(r: ExitReason): Uint8Array {
  const extra = r.extraWords ?? [];
  const w = new Writer(4 * (1 + extra.length)).u32(exitReasonWord0(r.exitFlags, r.exitCode), 'reason word 0');
  for (const x of extra) w.u32(x, 'reason word');
  return w.done();
}

/**
 * Parse `exitReason` bytes. Returns undefined when there is no complete word 0; bytes after the
 * last complete word are ignored.
 */
export function parseExitReason(reason: Uint8Array): Required<ExitReason> | undefined {
  if (reason.byteLength < 4) return undefined;
  const word0 = rd32(reason, 0);
  const extraWords: number[] = [];
  for (let o = 4; o + 4 <= reason.byteLength; o += 4) extraWords.push(rd32(reason, o));
  return { exitFlags: word0 & 0xffff, exitCode: word0 >>> 16, extraWords };
}

// ---------------------------------------------------------------------------------------------
// NOTIFY_VM_SHUTDOWN (4), NOTIFY_VM_STATUS (8)
// ---------------------------------------------------------------------------------------------

export interface VmShutdownNotif {
  /** The stop_reason of the VM_STOP that caused it. */
  readonly stopReason: number;
}
export const NOTIFY_VM_SHUTDOWN_PAYLOAD: PayloadCodec<VmShutdownNotif> = {
  encode: (v) => new Writer(4).u32(v.stopReason, 'stopReason').done(),
  decode(b) {
    expectAtLeast(b, 4, 'NOTIFY_VM_SHUTDOWN');
    return { stopReason: rd32(b, 0) };
  },
};

export interface VmStatusNotif {
  readonly vmid: number;
  /** `VmStatus`. */
  readonly vmStatus: number;
  /** `OsStatus`. */
  readonly osStatus: number;
  readonly appStatus: number;
}
export const NOTIFY_VM_STATUS_PAYLOAD: PayloadCodec<VmStatusNotif> = {
  encode: (v) =>
    new Writer(8).u16(v.vmid, 'vmid').skip(2).u8(v.vmStatus, 'vmStatus').u8(v.osStatus, 'osStatus').u16(v.appStatus, 'appStatus').done(),
  decode(b) {
    expectAtLeast(b, 8, 'NOTIFY_VM_STATUS');
    return { vmid: rd16(b, 0), vmStatus: rd8(b, 4), osStatus: rd8(b, 5), appStatus: rd16(b, 6) };
  },
};

// ---------------------------------------------------------------------------------------------
// IRQ notifications: LENT (12) to the borrower, RELEASED / ACCEPTED (4) to the owner.
// ---------------------------------------------------------------------------------------------

export interface VmIrqLentNotif {
  /** The owner's vmid. */
  readonly owner: number;
  readonly virqHandle: number;
  readonly virqLabel: number;
}
export const NOTIFY_VM_IRQ_LENT_PAYLOAD: PayloadCodec<VmIrqLentNotif> = {
  encode: (v) => new Writer(12).u16(v.owner, 'owner').skip(2).u32(v.virqHandle, 'virqHandle').u32(v.virqLabel, 'virqLabel').done(),
  decode(b) {
    expectAtLeast(b, 12, 'NOTIFY_VM_IRQ_LENT');
    return { owner: rd16(b, 0), virqHandle: rd32(b, 4), virqLabel: rd32(b, 8) };
  },
};

export interface VmIrqOwnerNotif {
  readonly virqHandle: number;
}
/** NOTIFY_VM_IRQ_RELEASED and NOTIFY_VM_IRQ_ACCEPTED: @0 u32 virq_handle. */
export const NOTIFY_VM_IRQ_OWNER_PAYLOAD: PayloadCodec<VmIrqOwnerNotif> = {
  encode: (v) => new Writer(4).u32(v.virqHandle, 'virqHandle').done(),
  decode(b) {
    expectAtLeast(b, 4, 'NOTIFY_VM_IRQ_RELEASED/ACCEPTED');
    return { virqHandle: rd32(b, 0) };
  },
};

// ---------------------------------------------------------------------------------------------
// NOTIFY_VM_CONSOLE_CHARS: @0 u16 from, @2 u16 num_bytes, @4 bytes.
// ---------------------------------------------------------------------------------------------

export interface VmConsoleCharsNotif {
  /** The VM's vmid when it wrote to its own console; 0 when the owner wrote. */
  readonly from: number;
  readonly data: Uint8Array;
}
export const NOTIFY_VM_CONSOLE_CHARS_PAYLOAD: PayloadCodec<VmConsoleCharsNotif> = {
  encode: (v) => new Writer(4 + v.data.byteLength).u16(v.from, 'from').u16(v.data.byteLength, 'num_bytes').bytes(v.data).done(),
  decode(b) {
    const r = new Reader(b, 'NOTIFY_VM_CONSOLE_CHARS');
    const from = r.u16('from');
    const n = r.u16('num_bytes');
    return { from, data: r.bytes(n, 'chars') };
  },
};

// ---------------------------------------------------------------------------------------------
// Memory notifications
// ---------------------------------------------------------------------------------------------

export interface MemSharedNotif {
  readonly handle: number;
  readonly memType: number;
  /** `TransType`. */
  readonly transType: number;
  /** `MemSharedFlag.SANITIZED` when the parcel was created with SANITIZE. */
  readonly flags: number;
  readonly owner: number;
  readonly label: number;
  readonly memInfoTag: number;
  readonly acl: readonly AclEntry[];
  /** QUIRK: the size of each region only, no addresses (at most 512 from the RM). */
  readonly sizes: readonly bigint[];
  readonly attrs: readonly AttrEntry[];
}
export const MEM_SHARED_PAYLOAD: PayloadCodec<MemSharedNotif> = {
  encode(v) {
    const size = 20 + listSize(v.acl.length, ACL_ENTRY_SIZE) + listSize(v.sizes.length, 8) + listSize(v.attrs.length, ATTR_ENTRY_SIZE);
    return new Writer(size)
      .u32(v.handle, 'handle')
      .u8(v.memType, 'memType')
      .u8(v.transType, 'transType')
      .u8(v.flags, 'flags')
      .skip(1)
      .u16(v.owner, 'owner')
      .skip(2)
      .u32(v.label, 'label')
      .u32(v.memInfoTag, 'memInfoTag')
      .list(v.acl, ACL_ENTRY_SIZE, 'acl', writeAclEntry)
      .list(v.sizes, 8, 'sgl', (w, s) => w.u64(s, 'size'))
      .list(v.attrs, ATTR_ENTRY_SIZE, 'attr', writeAttrEntry)
      .done();
  },
  decode(b) {
    expectAtLeast(b, 20, 'MEM_SHARED');
    const r = new Reader(b, 'MEM_SHARED');
    const handle = r.u32();
    const memType = r.u8();
    const transType = r.u8();
    const flags = r.u8();
    r.skip(1);
    const owner = r.u16();
    r.skip(2);
    const label = r.u32();
    const memInfoTag = r.u32();
    const acl = r.list(ACL_ENTRY_SIZE, NO_LIST_MAX, 'acl', readAclEntry);
    const sizes = r.list(8, NO_LIST_MAX, 'sgl', (b, o) => rd64(b, o));
    const attrs = r.list(ATTR_ENTRY_SIZE, NO_LIST_MAX, 'attr', readAttrEntry);
    return { handle, memType, transType, flags, owner, label, memInfoTag, acl, sizes, attrs };
  },
};

/** MEM_ACCEPTED and MEM_RELEASED (12): @0 u32 handle, @4 u16 vmid (the borrower), @6 res, @8 u32 mem_info_tag. */
export interface MemOwnerNotif {
  readonly handle: number;
  readonly vmid: number;
  readonly memInfoTag: number;
}
export const MEM_OWNER_NOTIF_PAYLOAD: PayloadCodec<MemOwnerNotif> = {
  encode: (v) => new Writer(12).u32(v.handle, 'handle').u16(v.vmid, 'vmid').skip(2).u32(v.memInfoTag, 'memInfoTag').done(),
  decode(b) {
    expectAtLeast(b, 12, 'MEM_ACCEPTED/MEM_RELEASED');
    return { handle: rd32(b, 0), vmid: rd16(b, 4), memInfoTag: rd32(b, 8) };
  },
};

/** MEM_RECALL (8): @0 u32 handle, @4 u32 mem_info_tag. */
export interface MemRecallNotif {
  readonly handle: number;
  readonly memInfoTag: number;
}
export const MEM_RECALL_PAYLOAD: PayloadCodec<MemRecallNotif> = {
  encode: (v) => new Writer(8).u32(v.handle, 'handle').u32(v.memInfoTag, 'memInfoTag').done(),
  decode(b) {
    expectAtLeast(b, 8, 'MEM_RECALL');
    return { handle: rd32(b, 0), memInfoTag: rd32(b, 4) };
  },
};
