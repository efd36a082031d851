/**
 * Memory parcel handlers: MEM_LEND, MEM_SHARE, MEM_DONATE, MEM_APPEND, MEM_ACCEPT,
 * MEM_RELEASE, MEM_RECLAIM, MEM_NOTIFY, MEM_QCOM_LOOKUP_SGL, and the MEM_SHARED /
 * MEM_ACCEPTED / MEM_RELEASED / MEM_RECALL notifications they cause.
 *
 * Reference: rm-rpc.md §12.5 (layouts), §13 (notification payloads), §16 (rules, in the
 * parcel store in src/mem-parcel), §15.4 (a reset releases the VM's parcels, one per event,
 * and tells each owner MEM_RELEASED). Decoding errors come from the codecs; the store's
 * ParcelError becomes the reply.
 */
import { RmMsgId, RmNotifId } from '../../wire/msg-ids.js';
import {
  MEM_CREATE_REQ,
  MEM_APPEND_REQ,
  MEM_ACCEPT_REQ,
  MEM_ACCEPT_SGL_REPLY,
  MEM_RELEASE_REQ,
  MEM_RECLAIM_REQ,
  MEM_QCOM_LOOKUP_SGL_REQ,
  MEM_HANDLE_REPLY,
  decodeMemNotifyHead,
  decodeMemNotifyVmids,
} from '../../wire/mem.js';
import { MEM_SHARED_PAYLOAD, MEM_OWNER_NOTIF_PAYLOAD, MEM_RECALL_PAYLOAD } from '../../wire/notifications.js';
import { MemAcceptFlag, MemAcceptReplyFlag, MemAppendFlag, MemReclaimFlag, MemReleaseFlag, MemSharedFlag, TransType } from '../../wire/enums.js';
import { ParcelError, type Parcel, type ParcelNotification } from '../../../mem-parcel/index.js';
import { OK, ok, type Handler, type RequestCtx, type RmContext, type Register } from '../context.js';
import { RmRefusal } from './refusal.js';
import { VmStatus } from '../vm-state.js';
import type { RmVm } from '../vm-record.js';

/** MEM_SHARED carries at most this many region sizes (rm-rpc.md §13, QUIRK). */
const MEM_SHARED_MAX_SIZES = 512;

/** Run a store operation, turning its ParcelError into the RM's reply. */
function parcelOp(h: Handler): Handler {
  return (req: RequestCtx) => {
    try {
      return h(req);
    } catch (err) {
      if (err instanceof ParcelError) throw new RmRefusal(err.err, err.why);
      throw err;
    }
  };
}

/** Payload of MEM_SHARED for parcel `p`. */
export function memSharedPayload(p: Parcel): Uint8Array {
  return MEM_SHARED_PAYLOAD.encode({
    handle: p.handle,
    memType: p.memType,
    transType: p.transType,
    flags: p.createdSanitized ? MemSharedFlag.SANITIZED : 0,
    owner: p.owner,
    label: p.label,
    memInfoTag: p.memInfoTag ?? 0,
    acl: p.acl.map((a) => ({ vmid: a.vmid, rights: a.rights })),
    sizes: p.regions.slice(0, MEM_SHARED_MAX_SIZES).map((r) => BigInt(r.size)),
    attrs: p.attrsIn.map((a) => ({ attr: a.attr, vmid: a.vmid })),
  });
}

export function registerMemparcelHandlers(ctx: RmContext, reg: Register): void {
  const store = ctx.parcels;

  const send = (n: ParcelNotification): void => {
    const p = n.parcel;
    const tag = p.memInfoTag ?? 0;
    switch (n.kind) {
      case 'MEM_SHARED':
        return ctx.notify(n.to, RmNotifId.MEM_SHARED, memSharedPayload(p));
      case 'MEM_RECALL':
        return ctx.notify(n.to, RmNotifId.MEM_RECALL, MEM_RECALL_PAYLOAD.encode({ handle: p.handle, memInfoTag: tag }));
      case 'MEM_ACCEPTED':
      case 'MEM_RELEASED':
        return ctx.notify(n.to, RmNotifId[n.kind], MEM_OWNER_NOTIF_PAYLOAD.encode({ handle: p.handle, vmid: n.vmid ?? 0, memInfoTag: tag }));
    }
  };

  const create = (transType: number): Handler =>
    parcelOp(({ caller, payload }) => {
      const p = store.create(caller, transType, MEM_CREATE_REQ.decode(payload));
      return ok(MEM_HANDLE_REPLY.encode({ handle: p.handle }));
    });
  reg(RmMsgId.MEM_LEND, create(TransType.LEND));
  reg(RmMsgId.MEM_SHARE, create(TransType.SHARE));
  reg(RmMsgId.MEM_DONATE, create(TransType.DONATE));

  reg(RmMsgId.MEM_APPEND, parcelOp(({ caller, payload }) => {
    const req = MEM_APPEND_REQ.decode(payload);
    store.append(caller, req.handle, (req.flags & MemAppendFlag.DONE) !== 0, req.sgl);
    return OK;
  }));

  reg(RmMsgId.MEM_ACCEPT, parcelOp(({ caller, payload }) => {
    const req = MEM_ACCEPT_REQ.decode(payload);
    const r = store.accept(caller, req);
    if (req.sgl.length > 0 || !r.chosen) return OK;
    return ok(MEM_ACCEPT_SGL_REPLY.encode({ flags: r.chosen.incomplete ? MemAcceptReplyFlag.INCOMPLETE : 0, sgl: r.chosen.sgl }));
  }));

  reg(RmMsgId.MEM_RELEASE, parcelOp(({ caller, payload }) => {
    const req = MEM_RELEASE_REQ.decode(payload);
    store.release(caller, req.handle, (req.flags & MemReleaseFlag.SANITIZE) !== 0);
    return OK;
  }));

  reg(RmMsgId.MEM_RECLAIM, parcelOp(({ caller, payload }) => {
    const req = MEM_RECLAIM_REQ.decode(payload);
    store.reclaim(caller, req.handle, (req.flags & MemReclaimFlag.SANITIZE) !== 0);
    return OK;
  }));

  reg(RmMsgId.MEM_NOTIFY, parcelOp(({ caller, payload }) => {
    const head = decodeMemNotifyHead(payload);
    const notes = store.notify(caller, head.handle, head.flags, head.memInfoTag, () => decodeMemNotifyVmids(payload), ctx.vms.size);
    for (const n of notes) {
      const target = ctx.vms.get(n.to);
      if (n.kind === 'MEM_SHARED' && target?.state === VmStatus.READY) autoAccept(ctx, target, n.parcel, send);
      else send(n);
    }
    return OK;
  }));

  reg(RmMsgId.MEM_QCOM_LOOKUP_SGL, parcelOp(({ caller, payload }) => {
    const req = MEM_QCOM_LOOKUP_SGL_REQ.decode(payload);
    return ok(MEM_HANDLE_REPLY.encode({ handle: store.lookup(caller, req.memType, req.label, req.acl, req.sgl, req.attrs) }));
  }));

  // VM_RESET stage 2: release one parcel the VM accepted per event; its owner hears MEM_RELEASED.
  ctx.resetParticipants.releaseOneParcel = (vm: RmVm) => {
    const p = store.releaseOneFor(vm.vmid);
    if (!p) return false;
    if (ctx.vms.has(p.owner) && ctx.hasLink(p.owner)) send({ to: p.owner, kind: 'MEM_RELEASED', parcel: p, vmid: vm.vmid });
    return true;
  };
}

/**
 * A VM still in READY has a shared parcel processed by the RM itself: accepted and mapped when
 * its DT has a shm vdevice with the parcel's label (at the vdevice's base, else where the RM
 * chooses), and the owner hears MEM_ACCEPTED; otherwise the owner hears MEM_RELEASED.
 */
function autoAccept(ctx: RmContext, vm: RmVm, p: Parcel, send: (n: ParcelNotification) => void): void {
  const shm = vm.dt?.shms.find((s) => s.label === p.label);
  if (shm) {
    try {
      const contiguous = shm.base !== undefined;
      ctx.parcels.accept(vm.vmid, {
        handle: p.handle,
        memType: p.memType,
        transType: p.transType,
        flags: MemAcceptFlag.DONE | (contiguous ? MemAcceptFlag.MAP_CONTIGUOUS : 0),
        label: p.label,
        acl: [],
        mapVmid: 0,
        sgl: contiguous ? [{ address: shm.base!, size: BigInt(p.size) }] : [],
        attrs: [],
      });
      return send({ to: p.owner, kind: 'MEM_ACCEPTED', parcel: p, vmid: vm.vmid });
    } catch (err) {
      if (!(err instanceof ParcelError)) throw err;
    }
  }
  send({ to: p.owner, kind: 'MEM_RELEASED', parcel: p, vmid: vm.vmid });
}
