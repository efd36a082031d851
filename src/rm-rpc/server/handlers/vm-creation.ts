/**
 * VM creation handlers: VM_CONFIG_IMAGE, VM_AUTH_IMAGE, VM_INIT, and the calls Linux v17
 * makes to newer firmware (VM_SET_CONTEXT a.k.a. VM_SET_BOOT_CONTEXT, VM_SET_DEMAND_PAGING,
 * VM_SET_ADDRESS_LAYOUT).
 *
 * Reference: rm-rpc.md §12.2 (errors and effects), §12.3 (newer-firmware layouts; their RM
 * side is unknown, our rules are in docs/decisions.md), §19 (the disputed boot-context ID),
 * uapi.md §8.2 (when Linux sends each one: demand paging and layout after CONFIG_IMAGE, while
 * the RM state is INIT; boot context after VM_INIT, in READY).
 *
 * VM_INIT boots the VM's configuration from its image parcel (the DTB parcel Linux lent),
 * reading it through the RM's own view of physical memory; VM_START (handlers/vm-mgmt.ts) then
 * places the image in the VM, as the public RM's vm_creation_process_resource does:
 *
 *   VM_INIT   image parcel ─read DT region (map_dtb)─▶ parseVmDtConfig ─▶ createVmResources
 *                                                                          │ vdevices, caps, vIRQs
 *             vm.bootImage {IPA, DTB with the overlay} ◀── overlayDtb ◀────┘ (/hypervisor nodes)
 *   VM_START  accept the parcel for the VM at that IPA (IMAGE layout base, else the DT memory
 *             base; rights from its ACL entry), write the DTB in place, zero the rest of the
 *             old one, then the parcel becomes the VM's memory (B12)
 *
 * Until VM_START the parcel is not accepted, so the owner's MEM_RECLAIM after a failed start
 * (uapi.md §8.3 step 2) succeeds.
 *
 * Each failure's RM error and the reasons are in docs/decisions.md, "VM boot (RM side)".
 */
import { isWireError, type WireError } from '../../../shared/wire-error.js';
import { isHypError } from '../../../shared/hyp-errors.js';
import { RmMsgId, VM_SET_BOOT_CONTEXT_ALT_ID } from '../../wire/msg-ids.js';
import {
  VM_CONFIG_IMAGE_REQ,
  VM_AUTH_IMAGE_REQ,
  VM_INIT_REQ,
  VM_SET_BOOT_CONTEXT_REQ,
  VM_SET_DEMAND_PAGING_REQ,
  VM_SET_ADDRESS_LAYOUT_REQ,
} from '../../wire/vm-creation.js';
import { AddressRangeId, AuthType, BootContextRegSet } from '../../wire/enums.js';
import { OK, type Handler, type RmContext, type Register } from '../context.js';
import { VMID_HLOS, type RmVm } from '../vm-record.js';
import { VmStatus } from '../vm-state.js';
import { parseVmDtConfig } from '../vm-dt-config.js';
import { createVmResources, releaseVmMemory } from '../vm-resources.js';
import { DtOverlayError, overlayDtb, type OverlayVdevice, type OverlayVm } from '../vm-dt-overlay.js';
import { imageIpa, imageParcel, readVmDtb } from '../vm-image-map.js';
import { require, RmRefusal } from './refusal.js';
import { ownedOr, vmOr } from './vm-lookup.js';

const PAGE = 4096n;

/** HLOS and owner only (DENIED), target must exist (VMID_INVALID): the three creation calls. */
function creationTarget(ctx: RmContext, caller: number, vmid: number): RmVm {
  require(caller === VMID_HLOS, 'DENIED', 'only HLOS configures VMs');
  return ownedOr(vmOr(ctx, vmid, 'VMID_INVALID'), caller, 'DENIED');
}

/** An RM error for a DT refusal (vm-dt-config.ts D10): MEM_INVALID unless the refusal names one. */
function dtRefusal(err: WireError): RmRefusal {
  return new RmRefusal(err.detail.rmError ?? 'MEM_INVALID', `DTB: ${err.message}`);
}

/**
 * VM_INIT after its request checks, in the RM's order: the image parcel and its DTB (map_dtb),
 * the DT configuration (parse, then the checks after it), where the image goes, the vdevices
 * and resources, the overlay (which must fit in dt_size), then the demand-paging ranges. The
 * parcel is only read: the DTB with the overlay is kept for VM_START to write. Anything that
 * fails undoes what was done and leaves the VM in INIT_FAILED.
 */
function vmInit(ctx: RmContext, vm: RmVm): void {
  const image = vm.image!;
  try {
    const parcel = imageParcel(ctx, vm, image);
    const dtb = readVmDtb(ctx, parcel, image);
    try {
      vm.dt = parseVmDtConfig(dtb, { maxVcpus: ctx.hyp.cpus });
    } catch (err) {
      if (isWireError(err)) throw dtRefusal(err);
      throw err;
    }
    if (vm.dt.imageName) vm.name = vm.dt.imageName;
    if (vm.dt.uri) vm.uri = vm.dt.uri;
    if (vm.dt.guid) vm.guid = vm.dt.guid;
    const ipa = imageIpa(vm);

    let vdevices: OverlayVdevice[];
    try {
      vdevices = createVmResources(ctx, vm);
    } catch (err) {
      if (isHypError(err)) throw new RmRefusal('NORESOURCE', `vdevice creation: ${err.message}`);
      throw err;
    }
    let merged: Uint8Array;
    try {
      merged = overlayDtb(dtb, Number(image.dtSize), overlayVmOf(vm), vdevices);
    } catch (err) {
      if (err instanceof DtOverlayError || isWireError(err)) throw new RmRefusal('NORESOURCE', `DT overlay: ${err.message}`);
      throw err;
    }
    // The hypervisor pages these ranges on demand from now on (VM_SET_DEMAND_PAGING kept them).
    if (vm.demandPaging !== undefined) {
      try {
        ctx.hyp.setDemandPaging(vm.vmid, vm.demandPaging);
      } catch (err) {
        if (isHypError(err)) throw new RmRefusal('NORESOURCE', `demand paging: ${err.message}`);
        throw err;
      }
    }
    vm.bootImage = { ipa, dtb: merged, oldLength: dtb.byteLength };
  } catch (err) {
    ctx.destroyHypObjects(vm);
    releaseVmMemory(ctx.hyp, vm.vmid);
    vm.console = undefined;
    vm.dt = undefined;
    vm.bootImage = undefined;
    ctx.setState(vm, VmStatus.INIT_FAILED);
    throw err;
  }
  ctx.setState(vm, VmStatus.READY);
}

/** What the overlay says about the VM itself. */
function overlayVmOf(vm: RmVm): OverlayVm {
  const peers = (vm.dt?.msgQueues ?? []).flatMap((q) => (q.kind === 'message-queue-pair' && q.peer !== undefined ? [q.peer] : []));
  return {
    vmid: vm.vmid,
    owner: vm.owner,
    name: vm.name,
    ...(vm.uri !== '' ? { uri: vm.uri } : {}),
    ...(vm.dt?.guid !== undefined ? { guid: vm.dt.guid } : {}),
    ...(peers.length > 0 ? { peers } : {}),
  };
}

export function registerVmCreationHandlers(ctx: RmContext, reg: Register): void {
  reg(RmMsgId.VM_CONFIG_IMAGE, ({ caller, payload }) => {
    const req = VM_CONFIG_IMAGE_REQ.decode(payload);
    const vm = creationTarget(ctx, caller, req.vmid);
    if (vm.state !== VmStatus.LOAD && vm.state !== VmStatus.RESET) {
      ctx.notifyStatus(vm); // VM_CONFIG_IMAGE sends VM_STATUS in every case (rm-rpc.md §15.3)
      throw new RmRefusal('VM_STATE', 'VM not LOAD or RESET');
    }
    try {
      const parcel = ctx.parcels.get(req.imageHandle);
      require(parcel !== undefined && parcel.acl.some((e) => e.vmid === vm.vmid), 'MEM_INVALID', 'image parcel ACL lacks the VM');
      const size = BigInt(parcel.size);
      const inside = (off: bigint, len: bigint): boolean => off <= size && len <= size - off;
      require(inside(req.imageOffset, req.imageSize) && inside(req.dtOffset, req.dtSize), 'ARGUMENT_INVALID', 'range outside the parcel');
      require(req.authType === AuthType.NONE || req.authType === AuthType.PLATFORM || req.authType === AuthType.ANDROID, 'ARGUMENT_INVALID', `auth_type ${req.authType}`);
    } catch (err) {
      // Any failure sets INIT_FAILED, before the configuration exists (rm-rpc.md §12.2, §17 #5).
      ctx.setState(vm, VmStatus.INIT_FAILED);
      throw err;
    }
    vm.image = {
      authType: req.authType,
      parcelHandle: req.imageHandle,
      imageOffset: req.imageOffset,
      imageSize: req.imageSize,
      dtOffset: req.dtOffset,
      dtSize: req.dtSize,
    };
    ctx.setState(vm, req.authType === AuthType.PLATFORM ? VmStatus.AUTH : VmStatus.INIT);
    return OK;
  });

  reg(RmMsgId.VM_AUTH_IMAGE, ({ caller, payload }) => {
    const req = VM_AUTH_IMAGE_REQ.decode(payload);
    const vm = creationTarget(ctx, caller, req.vmid);
    require(vm.state === VmStatus.AUTH, 'VM_STATE', 'VM not AUTH');
    // The platform has no authenticator to consult: every image is accepted, as on the qemu platform.
    ctx.setState(vm, VmStatus.INIT);
    return OK;
  });

  reg(RmMsgId.VM_INIT, ({ caller, payload }) => {
    const req = VM_INIT_REQ.decode(payload);
    const vm = creationTarget(ctx, caller, req.vmid);
    require(vm.state === VmStatus.INIT, 'VM_STATE', 'VM not INIT');
    vmInit(ctx, vm);
    return OK;
  });

  // VM_RESET stage RELEASE_IRQS runs after every parcel the VM accepted (its image too, when kept) was
  // released: the guest_private extent goes then (the host has reclaimed what it provided), or
  // stays and is reported by checkVmMemoryInvariants. Chained after the IRQ family's hook,
  // which is registered before this family (handlers/index.ts).
  const releaseIrqs = ctx.resetParticipants.releaseIrqs;
  ctx.resetParticipants.releaseIrqs = (vm: RmVm) => {
    releaseIrqs?.(vm);
    for (const leak of releaseVmMemory(ctx.hyp, vm.vmid)) ctx.log.warn({ vmid: vm.vmid }, `VM_RESET: ${leak}`);
  };

  // ── newer firmware (uapi.md §8.2 steps 7, 8, 10) ─────────────────────────
  if (ctx.options.firmware === 'public-12-2023') return; // the public RM answers UNIMPLEMENTED

  const setBootContext: Handler = ({ caller, payload }) => {
    const req = VM_SET_BOOT_CONTEXT_REQ.decode(payload);
    const vm = creationTarget(ctx, caller, req.vmid);
    require(vm.state === VmStatus.READY, 'VM_STATE', 'boot context is set between VM_INIT and VM_START');
    const maxIndex = req.regSet === BootContextRegSet.X ? 31 : req.regSet === BootContextRegSet.PC ? 0 : req.regSet === BootContextRegSet.SP ? 2 : -1;
    require(req.regIndex <= maxIndex, 'ARGUMENT_INVALID', `register set ${req.regSet} index ${req.regIndex}`);
    vm.bootContext.set((req.regSet << 8) | req.regIndex, req.value);
    return OK;
  };
  reg(RmMsgId.VM_SET_CONTEXT, setBootContext);
  reg(VM_SET_BOOT_CONTEXT_ALT_ID, setBootContext);

  reg(RmMsgId.VM_SET_DEMAND_PAGING, ({ caller, payload }) => {
    const req = VM_SET_DEMAND_PAGING_REQ.decode(payload);
    const vm = creationTarget(ctx, caller, req.vmid);
    require(vm.state === VmStatus.INIT, 'VM_STATE', 'demand paging is set between VM_CONFIG_IMAGE and VM_INIT');
    let end = 0n;
    for (const r of req.ranges) {
      require(r.size > 0n && r.address % PAGE === 0n && r.size % PAGE === 0n, 'ARGUMENT_INVALID', 'range not page aligned');
      require(r.address >= end, 'ARGUMENT_INVALID', 'ranges overlap or are out of order');
      end = r.address + r.size;
    }
    vm.demandPaging = req.ranges.map((r) => ({ base: r.address, size: r.size }));
    return OK;
  });

  reg(RmMsgId.VM_SET_ADDRESS_LAYOUT, ({ caller, payload }) => {
    const req = VM_SET_ADDRESS_LAYOUT_REQ.decode(payload);
    const vm = creationTarget(ctx, caller, req.vmid);
    require(vm.state === VmStatus.INIT, 'VM_STATE', 'address layout is set between VM_CONFIG_IMAGE and VM_INIT');
    require(req.rangeId === AddressRangeId.IMAGE || req.rangeId === AddressRangeId.FIRMWARE, 'ARGUMENT_INVALID', `range_id ${req.rangeId}`);
    require(req.size > 0n && req.base % PAGE === 0n && req.size % PAGE === 0n, 'ARGUMENT_INVALID', 'range not page aligned');
    vm.addressLayout.set(req.rangeId, { base: req.base, size: req.size });
    return OK;
  });
}
