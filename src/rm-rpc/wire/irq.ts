/**
 * IRQ lending payloads: VM_IRQ_ACCEPT, VM_IRQ_LEND, VM_IRQ_RELEASE, VM_IRQ_RECLAIM,
 * VM_IRQ_NOTIFY (VM_IRQ_UNMAP is always UNIMPLEMENTED and uses the raw codec).
 *
 * Reference: rm-rpc.md §12.6 (layouts, error order), §17 row 2.
 *
 * Decisions (docs/wire-format.md):
 * - ACCEPT 8, LEND 12, RELEASE and RECLAIM 4 bytes exactly; any other length → MSG_INVALID.
 * - An **empty** VM_IRQ_* payload makes the real RM abort (an assert before its length check).
 *   decode reports MSG_INVALID like any short payload; an RM model that reproduces the crash
 *   must test for the empty payload before decoding.
 * - VM_IRQ_NOTIFY: len < 8 → MSG_INVALID; flags ≠ LENT with len ≠ 8 → MSG_INVALID (both before
 *   the handle lookup, so in `decodeIrqNotifyHead`). For LENT the RM checks the optional list
 *   (len > 8: at least 12 and exactly 12 + 4n) only after the handle lookup; `decodeIrqNotifyVmids`
 *   does that part, and the full `VM_IRQ_NOTIFY_REQ.decode` does both. n > 1 or a vmid other
 *   than the borrower → ARGUMENT_INVALID is the handler's.
 * - VM_IRQ_NOTIFY flags is a u32 at @4 (the RM's `virq_notify_flag_t`). Encoding LENT writes
 *   the optional list only when `vmids` is non-empty; other flags must have no vmids.
 */
import { rd16, rd32, Reader, Writer, expectAtLeast, expectLength, u32Codec, wireFail, type PayloadCodec } from './codec.js';
import { IrqNotifyFlag } from './enums.js';

// VM_IRQ_ACCEPT (8): @0 u32 handle, @4 u32 virq_num (VIRQ_NUM_INVALID = the RM chooses).
export interface VmIrqAcceptReq {
  readonly handle: number;
  readonly virqNum: number;
}
export const VM_IRQ_ACCEPT_REQ: PayloadCodec<VmIrqAcceptReq> = {
  encode: (v) => new Writer(8).u32(v.handle, 'handle').u32(v.virqNum, 'virqNum').done(),
  decode(b) {
    expectLength(b, 8, 'VM_IRQ_ACCEPT');
    return { handle: rd32(b, 0), virqNum: rd32(b, 4) };
  },
};
/** VM_IRQ_ACCEPT reply: the vIRQ number mapped in the borrower. */
export interface VmIrqAcceptReply {
  readonly virqNum: number;
}
export const VM_IRQ_ACCEPT_REPLY: PayloadCodec<VmIrqAcceptReply> = u32Codec('virqNum', 'VM_IRQ_ACCEPT reply', false);

// VM_IRQ_LEND (12): @0 u16 borrower vmid (not validated by the RM), @2 pad, @4 u32 virq_num, @8 u32 label.
export interface VmIrqLendReq {
  readonly borrower: number;
  /** The owner's IRQ number. */
  readonly virqNum: number;
  readonly label: number;
}
export const VM_IRQ_LEND_REQ: PayloadCodec<VmIrqLendReq> = {
  encode: (v) => new Writer(12).u16(v.borrower, 'borrower').skip(2).u32(v.virqNum, 'virqNum').u32(v.label, 'label').done(),
  decode(b) {
    expectLength(b, 12, 'VM_IRQ_LEND');
    return { borrower: rd16(b, 0), virqNum: rd32(b, 4), label: rd32(b, 8) };
  },
};
/** VM_IRQ_LEND reply: the lending handle. */
export interface VmIrqLendReply {
  readonly handle: number;
}
export const VM_IRQ_LEND_REPLY: PayloadCodec<VmIrqLendReply> = u32Codec('handle', 'VM_IRQ_LEND reply', false);

// VM_IRQ_RELEASE / VM_IRQ_RECLAIM (4): @0 u32 handle.
export interface VmIrqHandleReq {
  readonly handle: number;
}
export const VM_IRQ_HANDLE_REQ: PayloadCodec<VmIrqHandleReq> = u32Codec('handle', 'VM_IRQ_RELEASE/RECLAIM', true);

// VM_IRQ_NOTIFY: @0 u32 handle, @4 u32 flags; LENT may add @8 u16 n, @10 pad, @12 n × {u16 vmid, u16 pad}.
export interface VmIrqNotifyHead {
  readonly handle: number;
  /** `IrqNotifyFlag`; any other value → ARGUMENT_INVALID (handler). */
  readonly flags: number;
}
export interface VmIrqNotifyReq extends VmIrqNotifyHead {
  /** LENT only (at most one, the borrower, else ARGUMENT_INVALID in the handler). */
  readonly vmids: readonly number[];
}

/** The checks the RM makes before the handle lookup. */
export function decodeIrqNotifyHead(b: Uint8Array): VmIrqNotifyHead {
  expectAtLeast(b, 8, 'VM_IRQ_NOTIFY');
  const flags = rd32(b, 4);
  if (flags !== IrqNotifyFlag.LENT && b.byteLength !== 8) expectLength(b, 8, 'VM_IRQ_NOTIFY');
  return { handle: rd32(b, 0), flags };
}

/** The optional vmid list of a LENT notify (checked by the RM after the handle lookup). */
export function decodeIrqNotifyVmids(b: Uint8Array): number[] {
  if (b.byteLength <= 8) return [];
  const r = new Reader(b, 'VM_IRQ_NOTIFY', 8);
  r.need(4, 'vmid list header');
  const n = r.u16('n');
  r.skip(2);
  if (b.byteLength !== 12 + 4 * n) {
    wireFail(b.byteLength < 12 + 4 * n ? 'list-overrun' : 'long', `VM_IRQ_NOTIFY: ${b.byteLength} bytes for ${n} vmids`, 12, 'MSG_INVALID');
  }
  const vmids = new Array<number>(n);
  for (let i = 0; i < n; i++) vmids[i] = rd16(r.b, 12 + 4 * i);
  return vmids;
}

export const VM_IRQ_NOTIFY_REQ: PayloadCodec<VmIrqNotifyReq> = {
  encode(v) {
    const lent = v.flags === IrqNotifyFlag.LENT;
    if (!lent && v.vmids.length > 0) throw new RangeError(`VM_IRQ_NOTIFY flags ${v.flags} carry no vmid list`);
    const withList = lent && v.vmids.length > 0;
    const w = new Writer(withList ? 12 + 4 * v.vmids.length : 8).u32(v.handle, 'handle').u32(v.flags, 'flags');
    if (withList) {
      w.u16(v.vmids.length, 'n').skip(2);
      for (const id of v.vmids) w.u16(id, 'vmid').skip(2);
    }
    return w.done();
  },
  decode(b) {
    const head = decodeIrqNotifyHead(b);
    return { ...head, vmids: head.flags === IrqNotifyFlag.LENT ? decodeIrqNotifyVmids(b) : [] };
  },
};
