/**
 * Typed RM calls the host kernel makes, named after Linux v17's `gunyah_rm_*` functions, and
 * typed subscriptions to the two notifications Linux handles.
 *
 * Reference: uapi.md §8.2 (which calls VM start makes, and with what), rm-rpc.md §12
 * (layouts), §18 (what Linux checks in replies: VM_ALLOC_VMID and VM_GET_VMID read a u32
 * without a size check; VM_GET_HYP_RESOURCES must be exactly 4 + 44·n, else EBADMSG).
 */
import { ErrnoError } from '../../shared/errno.js';
import { isWireError } from '../../shared/wire-error.js';
import { view } from '../../shared/bytes.js';
import { RmMsgId, RmNotifId } from '../wire/msg-ids.js';
import {
  VMID_REQ,
  VM_STOP_REQ,
  VM_GET_STATE_REPLY,
  VM_GET_HYP_RESOURCES_REPLY,
  VM_SET_FIRMWARE_MEM_REQ,
  type HypResourceEntry,
  type VmGetStateReply,
} from '../wire/vm-mgmt.js';
import {
  VM_CONFIG_IMAGE_REQ,
  VM_INIT_REQ,
  VM_SET_BOOT_CONTEXT_REQ,
  VM_SET_DEMAND_PAGING_REQ,
  VM_SET_ADDRESS_LAYOUT_REQ,
  type VmConfigImageReq,
  type GuestRange,
} from '../wire/vm-creation.js';
import {
  NOTIFY_VM_EXITED_PAYLOAD,
  NOTIFY_VM_STATUS_PAYLOAD,
  type VmExitedNotif,
  type VmStatusNotif,
} from '../wire/notifications.js';
import type { RmCallOptions, RmClient } from './rm-client.js';
import { MEM_CREATE_REQ, MEM_APPEND_REQ, MEM_RECLAIM_REQ, type AclEntry, type AttrEntry, type SglEntry } from '../wire/mem.js';
import { MemAppendFlag, MemCreateFlag, MemType } from '../wire/enums.js';

/** Linux refuses more ACL entries than this (rm-rpc.md §16.1). */
export const MAX_ACL_ENTRIES = 255;
/** SGL entries per MEM_LEND/MEM_SHARE/MEM_APPEND message. */
export const MAX_SGL_PER_MESSAGE = 512;

/** What `memShare` sends: the parcel's memory type, flags, label and lists. */
export interface MemShareParams {
  readonly memType?: number;
  readonly flags?: number;
  readonly label?: number;
  readonly acl: readonly AclEntry[];
  readonly sgl: readonly SglEntry[];
  readonly attrs?: readonly AttrEntry[];
}

/** Linux's VM_STOP: always FORCE with reason 3 (rm-rpc.md §12.1). */
export const LINUX_STOP_FLAGS = 1;
export const LINUX_STOP_REASON = 3;

/** Read a u32 at offset 0 without a size check, as Linux does (a short reply reads as 0s). */
function looseU32(b: Uint8Array): number {
  const padded = new Uint8Array(4);
  padded.set(b.subarray(0, 4));
  return view(padded).getUint32(0, true);
}

/** The RM calls of the host kernel, bound to one client. */
export class RmCalls {
  constructor(readonly client: RmClient) {}

  /** VM_ALLOC_VMID: `vmid` 0 asks for a dynamic VMID, which is returned (low 16 bits). */
  async allocVmid(vmid = 0, opts?: RmCallOptions): Promise<number> {
    const data = await this.client.call(RmMsgId.VM_ALLOCATE, VMID_REQ.encode({ vmid }), opts);
    return vmid === 0 ? looseU32(data) & 0xffff : vmid;
  }
  deallocVmid(vmid: number, opts?: RmCallOptions): Promise<void> {
    return this.#std(RmMsgId.VM_DEALLOCATE, VMID_REQ.encode({ vmid }), opts);
  }
  vmStart(vmid: number, opts?: RmCallOptions): Promise<void> {
    return this.#std(RmMsgId.VM_START, VMID_REQ.encode({ vmid }), opts);
  }
  /** VM_STOP; Linux always forces with reason 3. */
  vmStop(vmid: number, flags = LINUX_STOP_FLAGS, stopReason = LINUX_STOP_REASON, opts?: RmCallOptions): Promise<void> {
    return this.#std(RmMsgId.VM_STOP, VM_STOP_REQ.encode({ vmid, flags, stopReason }), opts);
  }
  vmReset(vmid: number, opts?: RmCallOptions): Promise<void> {
    return this.#std(RmMsgId.VM_RESET, VMID_REQ.encode({ vmid }), opts);
  }
  vmConfigure(req: VmConfigImageReq, opts?: RmCallOptions): Promise<void> {
    return this.#std(RmMsgId.VM_CONFIG_IMAGE, VM_CONFIG_IMAGE_REQ.encode(req), opts);
  }
  vmInit(vmid: number, opts?: RmCallOptions): Promise<void> {
    return this.#std(RmMsgId.VM_INIT, VM_INIT_REQ.encode({ vmid }), opts);
  }
  vmSetBootContext(vmid: number, regSet: number, regIndex: number, value: bigint, opts?: RmCallOptions): Promise<void> {
    return this.#std(RmMsgId.VM_SET_CONTEXT, VM_SET_BOOT_CONTEXT_REQ.encode({ vmid, regSet, regIndex, value }), opts);
  }
  vmSetDemandPaging(vmid: number, ranges: readonly GuestRange[], opts?: RmCallOptions): Promise<void> {
    return this.#std(RmMsgId.VM_SET_DEMAND_PAGING, VM_SET_DEMAND_PAGING_REQ.encode({ vmid, ranges }), opts);
  }
  vmSetAddressLayout(vmid: number, rangeId: number, base: bigint, size: bigint, opts?: RmCallOptions): Promise<void> {
    return this.#std(RmMsgId.VM_SET_ADDRESS_LAYOUT, VM_SET_ADDRESS_LAYOUT_REQ.encode({ vmid, rangeId, base, size }), opts);
  }
  /**
   * VM_SET_FIRMWARE_MEM (0x56000032): the protected VM's firmware is `fwSize` bytes at
   * `fwOffset` in parcel `fwHandle` (the v14-era Android driver, rm-rpc.md §12.1). Error replies
   * carry a hypervisor error word after the RM error; the RM error alone decides the errno.
   */
  vmSetFirmwareMem(vmid: number, fwHandle: number, fwOffset: bigint, fwSize: bigint, opts?: RmCallOptions): Promise<void> {
    return this.#std(RmMsgId.VM_SET_FIRMWARE_MEM, VM_SET_FIRMWARE_MEM_REQ.encode({ vmid, fwHandle, fwOffset, fwSize }), opts);
  }
  async vmGetState(vmid: number, opts?: RmCallOptions): Promise<VmGetStateReply> {
    return VM_GET_STATE_REPLY.decode(await this.client.call(RmMsgId.VM_GET_STATE, VMID_REQ.encode({ vmid }), opts));
  }
  /**
   * VM_GET_HYP_RESOURCES.
   * @rejects ErrnoError EBADMSG for an empty reply or one that is not 4 + 44·n bytes
   */
  async getHypResources(vmid: number, opts?: RmCallOptions): Promise<readonly HypResourceEntry[]> {
    const data = await this.client.call(RmMsgId.VM_GET_HYP_RESOURCES, VMID_REQ.encode({ vmid }), opts);
    if (data.byteLength === 0) throw new ErrnoError('EBADMSG', 'empty VM_GET_HYP_RESOURCES reply');
    try {
      return VM_GET_HYP_RESOURCES_REPLY.decode(data).entries;
    } catch (err) {
      if (isWireError(err)) throw new ErrnoError('EBADMSG', err.message, { cause: err });
      throw err;
    }
  }
  /**
   * `gunyah_rm_mem_share`: MEM_LEND when the ACL has exactly one entry, MEM_SHARE otherwise
   * (rm-rpc.md §16.1). More than 512 SGL entries go out as a create with APPEND set and
   * MEM_APPEND chunks of at most 512, END on the last; if an append fails the parcel is
   * reclaimed and the append's error returned.
   * @returns the parcel handle
   * @rejects ErrnoError EINVAL for an empty ACL or SGL, more than 255 ACL entries
   */
  async memShare(p: MemShareParams, opts?: RmCallOptions): Promise<number> {
    if (p.acl.length === 0 || p.sgl.length === 0 || p.acl.length > MAX_ACL_ENTRIES) {
      throw new ErrnoError('EINVAL', `ACL of ${p.acl.length} and SGL of ${p.sgl.length} entries`);
    }
    const msgId = p.acl.length === 1 ? RmMsgId.MEM_LEND : RmMsgId.MEM_SHARE;
    const first = p.sgl.slice(0, MAX_SGL_PER_MESSAGE);
    const more = p.sgl.length > MAX_SGL_PER_MESSAGE;
    const req = {
      memType: p.memType ?? MemType.NORMAL,
      flags: (p.flags ?? 0) | (more ? MemCreateFlag.APPEND : 0),
      label: p.label ?? 0,
      acl: p.acl,
      sgl: first,
      attrs: p.attrs ?? [],
    };
    const handle = looseU32(await this.client.call(msgId, MEM_CREATE_REQ.encode(req), opts));
    for (let at = MAX_SGL_PER_MESSAGE; at < p.sgl.length; at += MAX_SGL_PER_MESSAGE) {
      const chunk = p.sgl.slice(at, at + MAX_SGL_PER_MESSAGE);
      const end = at + MAX_SGL_PER_MESSAGE >= p.sgl.length;
      try {
        await this.client.call(RmMsgId.MEM_APPEND, MEM_APPEND_REQ.encode({ handle, flags: end ? MemAppendFlag.DONE : 0, sgl: chunk }), opts);
      } catch (err) {
        await this.memReclaim(handle, opts).catch(() => undefined);
        throw err;
      }
    }
    return handle;
  }
  /** MEM_RECLAIM (flags 0, as Linux sends). */
  memReclaim(handle: number, opts?: RmCallOptions): Promise<void> {
    return this.#std(RmMsgId.MEM_RECLAIM, MEM_RECLAIM_REQ.encode({ handle, flags: 0 }), opts);
  }

  /** VM_GET_VMID: the caller's own VMID (Linux caches it). */
  async getVmid(opts?: RmCallOptions): Promise<number> {
    return looseU32(await this.client.call(RmMsgId.VM_GET_VMID, new Uint8Array(0), opts)) & 0xffff;
  }

  async #std(msgId: number, payload: Uint8Array, opts?: RmCallOptions): Promise<void> {
    await this.client.call(msgId, payload, opts);
  }
}

/** Subscribe to NOTIFY_VM_EXITED; returns the unsubscribe function. Malformed payloads are ignored. */
export function onVmExited(client: RmClient, fn: (n: VmExitedNotif) => void): () => void {
  return onNotification(client, RmNotifId.NOTIFY_VM_EXITED, (p) => fn(NOTIFY_VM_EXITED_PAYLOAD.decode(p)));
}

/** Subscribe to NOTIFY_VM_STATUS; returns the unsubscribe function. Malformed payloads are ignored. */
export function onVmStatus(client: RmClient, fn: (n: VmStatusNotif) => void): () => void {
  return onNotification(client, RmNotifId.NOTIFY_VM_STATUS, (p) => fn(NOTIFY_VM_STATUS_PAYLOAD.decode(p)));
}

function onNotification(client: RmClient, id: number, fn: (payload: Uint8Array) => void): () => void {
  const listener = (n: { msgId: number; payload: Uint8Array }): void => {
    if (n.msgId !== id) return;
    try {
      fn(n.payload);
    } catch (err) {
      if (!isWireError(err)) throw err;
    }
  };
  client.events.on('notification', listener);
  return () => void client.events.off('notification', listener);
}
