/**
 * VM creation handlers: VM_CONFIG_IMAGE, VM_AUTH_IMAGE, VM_INIT, and the calls Linux v17
 * makes to newer firmware (VM_SET_CONTEXT a.k.a. VM_SET_BOOT_CONTEXT, VM_SET_DEMAND_PAGING,
 * VM_SET_ADDRESS_LAYOUT).
 *
 * Reference: rm-rpc.md §12.2 (errors and effects), §12.3 (newer-firmware layouts; their RM
 * side is unknown, our rules are in docs/decisions.md), §19 (the disputed boot-context ID),
 * uapi.md §8.2 (when Linux sends each one: demand paging and layout after CONFIG_IMAGE, while
 * the RM state is INIT; boot context after VM_INIT, in READY). VM_INIT reads the DTB from the
 * image parcel and builds the VM's hypervisor resources from its `gunyah-vm-config` node.
 */
import { isWireError } from '../../../shared/wire-error.js';
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
import { createVmResources } from '../vm-resources.js';
import { require, RmRefusal } from './refusal.js';
import { ownedOr, vmOr } from './vm-lookup.js';

const PAGE = 4096n;

/** HLOS and owner only (DENIED), target must exist (VMID_INVALID): the three creation calls. */
function creationTarget(ctx: RmContext, caller: number, vmid: number): RmVm {
  require(caller === VMID_HLOS, 'DENIED', 'only HLOS configures VMs');
  return ownedOr(vmOr(ctx, vmid, 'VMID_INVALID'), caller, 'DENIED');
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
    const image = vm.image!;
    try {
      const parcel = ctx.parcels.get(image.parcelHandle);
      require(parcel !== undefined, 'MEM_INVALID', 'image parcel is gone');
      // The RM maps the DT part of the image parcel and reads it (RM vm_creation.c map_dtb).
      const dtb = ctx.parcels.readContents(parcel, Number(image.dtOffset), Number(image.dtSize));
      try {
        vm.dt = parseVmDtConfig(dtb);
      } catch (err) {
        if (isWireError(err)) throw new RmRefusal('ARGUMENT_INVALID', `DTB: ${err.message}`);
        throw err;
      }
      if (vm.dt.imageName) vm.name = vm.dt.imageName;
      if (vm.dt.uri) vm.uri = vm.dt.uri;
      if (vm.dt.guid) vm.guid = vm.dt.guid;
      createVmResources(ctx, vm);
    } catch (err) {
      ctx.destroyHypObjects(vm);
      vm.dt = undefined;
      ctx.setState(vm, VmStatus.INIT_FAILED);
      throw err;
    }
    ctx.setState(vm, VmStatus.READY);
    return OK;
  });

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
