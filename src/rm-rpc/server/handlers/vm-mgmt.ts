/**
 * VM management handlers: allocation, start, stop, reset (staged), deallocation, queries,
 * status, exit and crash messages.
 *
 * Reference: rm-rpc.md §12.1 (errors in the RM's order and effects), §15.3–§15.5
 * (transitions, notification order, reset stages, exit reasons), §17 (inputs that abort the
 * real RM: #1 deallocate of an unknown VM, #3 VM_EXIT from HLOS, #4 a second VM_EXIT,
 * #5 reset of a VM whose configuration was never allocated); hypervisor.md §5–§6 (the vIRQs the
 * RM binds: vCPU wakeup, doorbell receiver).
 *
 * VM_START first places the image parcel in the VM (accepted at the IPA VM_INIT chose, the DTB
 * with the overlay written in place, then absorbed as the VM's memory; docs/decisions.md B3,
 * B12; vm-image-map.ts). A refused accept is NORESOURCE and INIT_FAILED (rm-rpc.md §12.1).
 *
 * The boot vCPU's entry: the boot context's PC and X0 when Linux set them (VM_SET_CONTEXT);
 * without a PC, the image's entry, as the v14-era RM did for drivers that send no boot context:
 * PC = the image parcel's IPA + image_offset, X0 = the DTB's IPA (parcel IPA + dt_offset) unless
 * X0 was set (docs/decisions.md B13, unverified).
 *
 * The hypervisor side: VM_START binds the VM's vIRQs and starts its boot vCPU (`hyp.startVm`);
 * every exit of a VM (VM_EXIT, forced VM_STOP, a guest-caused halt the hypervisor reports)
 * stops its vCPUs (`hyp.stopVm`); VM_DEALLOCATE forgets the hypervisor's per-VM state.
 */
import { view } from '../../../shared/bytes.js';
import { isWireError } from '../../../shared/wire-error.js';
import { RmMsgId, RmNotifId } from '../../wire/msg-ids.js';
import {
  VMID_REQ,
  VM_ALLOCATE_REPLY,
  VM_STOP_REQ,
  VM_GET_STATE_REPLY,
  VM_GET_ID_REPLY,
  VM_LOOKUP_URI_REQ,
  VM_LOOKUP_NAME_REQ,
  VM_LOOKUP_GUID_REQ,
  VMID_LIST_REPLY,
  VM_GET_OWNER_REPLY,
  VM_GET_CRASH_MSG_REPLY,
  VM_GET_VMID_REPLY,
  VM_GET_PEERS_REPLY,
  VM_SET_TIME_BASE_REQ,
  VM_SET_FIRMWARE_MEM_REQ,
  HYP_ERROR_TAIL,
  VM_SET_STATUS_REQ,
  isSettableOsStatus,
  VM_EXIT_REQ,
  VM_SET_CRASH_MSG_REQ,
  VM_HOST_GET_TYPE_REPLY,
} from '../../wire/vm-mgmt.js';
import { EMPTY } from '../../wire/codec.js';
import { ExitCode, ExitType, HOST_TYPE_GUNYAH_AARCH64_V1, ResourceType, VmIdType, VmStopFlag } from '../../wire/enums.js';
import { OK, ok, RmAssertion, type RmContext, type Register } from '../context.js';
import {
  VMID_DYNAMIC_BASE,
  VMID_DYNAMIC_END,
  VMID_EXPLICIT_LIMIT,
  VMID_HLOS,
  queryAllowed,
  isSecondaryVmid,
  type RmVm,
} from '../vm-record.js';
import { newVmRecord } from '../vm-factory.js';
import { VmStatus, OsStatus, canTransition, vmStatusName } from '../vm-state.js';
import { require, RmRefusal } from './refusal.js';
import { ownedOr, vmOr } from './vm-lookup.js';
import { startResetCleanup } from './vm-reset.js';
import { absorbVmImage, placeVmImage } from '../vm-image-map.js';

/** Boot-context keys (register set << 8 | index): X0 and PC. */
const BOOT_REG_X0 = 0x000;
const BOOT_REG_PC = 0x100;

/**
 * The boot registers VM_START hands the hypervisor: the VM's boot context, and when it has no
 * PC, the image's entry (PC = image IPA + image_offset) with X0 = the DTB's IPA unless X0 was
 * set (B13). Call before the image is placed (it reads the IPA VM_INIT chose).
 */
export function bootRegisters(vm: RmVm): ReadonlyMap<number, bigint> {
  if (vm.bootContext.has(BOOT_REG_PC) || vm.bootImage === undefined || vm.image === undefined) return vm.bootContext;
  const ipa = BigInt(vm.bootImage.ipa);
  const regs = new Map(vm.bootContext);
  regs.set(BOOT_REG_PC, BigInt.asUintN(64, ipa + vm.image.imageOffset));
  if (!regs.has(BOOT_REG_X0)) regs.set(BOOT_REG_X0, BigInt.asUintN(64, ipa + vm.image.dtOffset));
  return regs;
}

/** The RM keeps at most this many bytes of a crash message (rm-rpc.md §12.1). */
export const VM_MAX_CRASH_MSG_LEN = 192;

const textEncoder = new TextEncoder();

/** Build the NOTIFY_VM_EXITED payload: vmid, exit_type, reason words (rm-rpc.md §13). */
export function vmExitedPayload(vmid: number, exitType: number, reasonWords: readonly number[]): Uint8Array {
  const p = new Uint8Array(8 + 4 * reasonWords.length);
  const v = view(p);
  v.setUint16(0, vmid, true);
  v.setUint16(2, exitType, true);
  v.setUint32(4, 4 * reasonWords.length, true);
  reasonWords.forEach((w, i) => v.setUint32(8 + 4 * i, w >>> 0, true));
  return p;
}

/**
 * Move `vm` to EXITED and tell its owner why: VM_STATUS to peers first, then VM_EXITED. The
 * hypervisor stops the VM's vCPUs first (idempotent when a guest halt started this).
 */
export function exitVm(ctx: RmContext, vm: RmVm, exitType: number, reasonWords: readonly number[]): void {
  ctx.hyp.stopVm(vm.vmid);
  ctx.setState(vm, VmStatus.EXITED);
  ctx.notify(vm.owner, RmNotifId.NOTIFY_VM_EXITED, vmExitedPayload(vm.vmid, exitType, reasonWords));
}

/**
 * A guest-caused exit the hypervisor reported ('vm-exit': PSCI SYSTEM_OFF / RESET / RESET2, a
 * vCPU fault), run as a task of the RM's FIFO. Only a RUNNING VM that may exit is exited; a
 * report for any other VM (already exited, reset, unknown) is dropped. Reason word 0's
 * exit_code becomes SOFTWARE_ERROR when the VM set a crash message (rm-rpc.md §15.5).
 */
export function exitVmOnHalt(ctx: RmContext, vmid: number, exitType: number, reasonWords: readonly number[]): void {
  const vm = ctx.vms.get(vmid);
  if (!vm || vm.state !== VmStatus.RUNNING) return;
  if (!canTransition(vm.state, VmStatus.EXITED, vm)) {
    ctx.log.warn({ vmid, exitType, state: vmStatusName(vm.state) }, 'guest halt of a VM that may not exit: ignored');
    return;
  }
  const words = reasonWords.length > 0 ? [...reasonWords] : [0];
  if (vm.crashMsg !== undefined) words[0] = ((words[0] ?? 0) & 0xffff) | (ExitCode.SOFTWARE_ERROR << 16);
  exitVm(ctx, vm, exitType, words);
}

/**
 * Bind the vIRQs of `vm`'s resources in the hypervisor (vcpu_bind_virq VCPU_RUN_WAKEUP for each
 * VCPU entry; doorbell_bind_virq for each BELL_RX entry with a vIRQ), as the RM does before it
 * starts a VM. An entry whose capability no longer resolves is skipped with a warning.
 */
function bindVmVirqs(ctx: RmContext, vm: RmVm): void {
  for (const r of vm.resources) {
    try {
      if (r.type === ResourceType.VCPU && r.virq !== 0) {
        ctx.hyp.bindVcpuWakeup(ctx.hyp.lookupCap(r.holder, r.capId, 'vcpu'), r.holder, r.virq);
      } else if (r.type === ResourceType.BELL_RX && r.virq !== 0) {
        ctx.hyp.bindDoorbellVirq(ctx.hyp.lookupCap(r.holder, r.capId, 'doorbell'), r.holder, r.virq);
      }
    } catch (err) {
      ctx.log.warn({ vmid: vm.vmid, type: r.type, label: r.label, err }, 'could not bind a resource vIRQ');
    }
  }
}

export function registerVmMgmtHandlers(ctx: RmContext, reg: Register): void {
  reg(RmMsgId.VM_ALLOCATE, ({ caller, payload }) => {
    require(caller === VMID_HLOS, 'DENIED', 'only HLOS allocates VMs');
    const { vmid: asked } = VMID_REQ.decode(payload);
    let vmid = asked;
    if (asked === 0) {
      vmid = -1;
      for (let v = VMID_DYNAMIC_BASE; v < VMID_DYNAMIC_END; v++) {
        if (!ctx.vms.has(v)) {
          vmid = v;
          break;
        }
      }
      require(vmid >= 0, 'NORESOURCE', 'no free dynamic VMID');
    } else {
      require(asked < VMID_EXPLICIT_LIMIT && asked !== VMID_HLOS && !ctx.vms.has(asked), 'NORESOURCE', `VMID ${asked} not free`);
    }
    const vm = newVmRecord(vmid, caller, VmStatus.LOAD, ctx.random(16));
    // The owner becomes a registered peer at allocation; registration works both ways.
    vm.peers.add(caller);
    ctx.vms.get(caller)?.peers.add(vmid);
    ctx.vms.set(vmid, vm);
    return asked === 0 ? ok(VM_ALLOCATE_REPLY.encode({ vmid })) : OK;
  });

  reg(RmMsgId.VM_DEALLOCATE, ({ caller, payload }) => {
    const { vmid } = VMID_REQ.decode(payload);
    const vm = ctx.vms.get(vmid);
    if (!vm) throw new RmAssertion(`VM_DEALLOCATE of unknown VM ${vmid}`, 'VMID_INVALID');
    ownedOr(vm, caller, 'DENIED');
    require(vm.state === VmStatus.LOAD || vm.state === VmStatus.RESET, 'VM_STATE', 'VM not in LOAD or RESET');
    ctx.destroyHypObjects(vm);
    for (const peer of vm.peers) ctx.vms.get(peer)?.peers.delete(vmid);
    ctx.vms.delete(vmid);
    ctx.hyp.dropVm(vmid);
    ctx.hyp.releaseOwnExtent(vmid);
    ctx.parcels.ipas.reset(vmid);
    return OK;
  });

  reg(RmMsgId.VM_START, ({ caller, payload }) => {
    require(caller !== 0, 'DENIED', 'VM_START from VMID 0');
    const { vmid } = VMID_REQ.decode(payload);
    const vm = ownedOr(vmOr(ctx, vmid, 'VMID_INVALID'), caller, 'DENIED');
    require(vm.state === VmStatus.READY, 'VM_STATE', 'VM not READY');
    const vcpus = vm.dt?.vcpus.length ?? 0;
    if (vcpus > ctx.hyp.cpus) {
      // Resource set-up fails: the VM cannot get a physical core for every vCPU.
      ctx.setState(vm, VmStatus.INIT_FAILED);
      throw new RmRefusal('NORESOURCE', `${vcpus} vCPUs but ${ctx.hyp.cpus} physical cores`);
    }
    const bootRegs = bootRegisters(vm);
    try {
      // The image goes into the VM now (docs/decisions.md B3); a refused accept is a resource
      // set-up failure, and nothing of the start stays.
      placeVmImage(ctx, vm);
    } catch (err) {
      if (err instanceof RmRefusal) ctx.setState(vm, VmStatus.INIT_FAILED);
      throw err;
    }
    absorbVmImage(ctx, vm);
    bindVmVirqs(ctx, vm);
    // The boot vCPU (lowest affinity index) starts at the boot context's PC with its X0, or at
    // the image's entry (B13).
    ctx.hyp.startVm(vm.vmid, { bootRegs });
    ctx.setState(vm, VmStatus.RUNNING);
    return OK;
  });

  reg(RmMsgId.VM_STOP, ({ caller, payload }) => {
    const req = VM_STOP_REQ.decode(payload);
    const vm = ownedOr(vmOr(ctx, req.vmid, 'VMID_INVALID'), caller, 'VMID_INVALID');
    require(
      (vm.state === VmStatus.RUNNING || vm.state === VmStatus.PAUSED) && !vm.noShutdown && !vm.crashFatal,
      'VM_STATE',
      'VM not RUNNING or PAUSED, or not stoppable',
    );
    if (req.flags & VmStopFlag.FORCE) {
      exitVm(ctx, vm, ExitType.VM_STOP_FORCED, [ExitCode.NORMAL << 16]);
    } else {
      const p = new Uint8Array(4);
      view(p).setUint32(0, req.stopReason, true);
      ctx.notify(vm.vmid, RmNotifId.NOTIFY_VM_SHUTDOWN, p);
    }
    return OK;
  });

  reg(RmMsgId.VM_RESET, ({ caller, payload }) => {
    const { vmid } = VMID_REQ.decode(payload);
    const vm = ownedOr(vmOr(ctx, vmid, 'VMID_INVALID'), caller, 'VMID_INVALID');
    require(!vm.noReset, 'DENIED', 'VM is marked no-reset');
    require(
      vm.state === VmStatus.EXITED || vm.state === VmStatus.READY || vm.state === VmStatus.INIT_FAILED,
      'VM_STATE',
      'VM not EXITED, READY or INIT_FAILED',
    );
    if (vm.state === VmStatus.INIT_FAILED && !vm.image) {
      throw new RmAssertion(`VM_RESET of VM ${vmid}, whose configuration was never allocated`, 'VM_STATE');
    }
    startResetCleanup(ctx, vm);
    return OK;
  });

  reg(RmMsgId.VM_GET_STATE, ({ caller, payload }) => {
    const { vmid } = VMID_REQ.decode(payload);
    const vm = vmOr(ctx, vmid === 0 ? caller : vmid, 'NORESOURCE');
    require(queryAllowed(vm, caller), 'DENIED', 'not query-allowed');
    return ok(VM_GET_STATE_REPLY.encode({ vmStatus: vm.state, osStatus: vm.osStatus, appStatus: vm.appStatus }));
  });

  reg(RmMsgId.VM_GET_ID, ({ caller, payload }) => {
    const { vmid } = VMID_REQ.decode(payload);
    const vm = vmOr(ctx, vmid === 0 ? caller : vmid, 'NORESOURCE');
    require(queryAllowed(vm, caller), 'NORESOURCE', 'not query-allowed');
    require(
      vm.state === VmStatus.READY || vm.state === VmStatus.RUNNING || vm.state === VmStatus.PAUSED,
      'VM_STATE',
      'VM not READY, RUNNING or PAUSED',
    );
    const entries: Array<{ idType: number; id: Uint8Array }> = [{ idType: VmIdType.GUID, id: vm.guid }];
    if (vm.name) entries.push({ idType: VmIdType.NAME, id: textEncoder.encode(vm.name) });
    if (vm.uri) entries.push({ idType: VmIdType.URI, id: textEncoder.encode(vm.uri) });
    entries.push({ idType: VmIdType.SIGN_AUTH, id: textEncoder.encode('N/A') });
    return ok(VM_GET_ID_REPLY.encode({ entries }));
  });

  const lookup = (caller: number, match: (vm: RmVm) => boolean) => {
    const vmids = [...ctx.vms.values()]
      .filter((vm) => vm.vmid !== VMID_HLOS && queryAllowed(vm, caller) && match(vm))
      .map((vm) => vm.vmid)
      .sort((a, b) => a - b);
    return ok(VMID_LIST_REPLY.encode({ vmids }));
  };
  const sameBytes = (a: Uint8Array, b: Uint8Array): boolean => a.byteLength === b.byteLength && a.every((x, i) => x === b[i]);
  reg(RmMsgId.VM_LOOKUP_URI, ({ caller, payload }) => {
    const { uri } = VM_LOOKUP_URI_REQ.decode(payload);
    return lookup(caller, (vm) => vm.uri !== '' && sameBytes(textEncoder.encode(vm.uri), uri));
  });
  reg(RmMsgId.VM_LOOKUP_NAME, ({ caller, payload }) => {
    const { name } = VM_LOOKUP_NAME_REQ.decode(payload);
    return lookup(caller, (vm) => vm.name !== '' && sameBytes(textEncoder.encode(vm.name), name));
  });
  reg(RmMsgId.VM_LOOKUP_GUID, ({ caller, payload }) => {
    const { guid } = VM_LOOKUP_GUID_REQ.decode(payload);
    return lookup(caller, (vm) => sameBytes(vm.guid, guid));
  });

  reg(RmMsgId.VM_GET_OWNER, ({ caller, payload }) => {
    EMPTY.decode(payload);
    const me = vmOr(ctx, caller, 'VMID_INVALID');
    return ok(VM_GET_OWNER_REPLY.encode({ owner: me.owner }));
  });

  reg(RmMsgId.VM_GET_CRASH_MSG, ({ caller, payload }) => {
    const { vmid } = VMID_REQ.decode(payload);
    const vm = ownedOr(vmOr(ctx, vmid, 'VMID_INVALID'), caller, 'VMID_INVALID');
    return ok(VM_GET_CRASH_MSG_REPLY.encode({ message: vm.crashMsg ?? new Uint8Array(0) }));
  });

  reg(RmMsgId.VM_GET_VMID, ({ caller, payload }) => {
    EMPTY.decode(payload);
    return ok(VM_GET_VMID_REPLY.encode({ vmid: caller }));
  });

  reg(RmMsgId.VM_GET_PEERS, ({ caller, payload }) => {
    EMPTY.decode(payload);
    const me = vmOr(ctx, caller, 'VMID_INVALID');
    return ok(VM_GET_PEERS_REPLY.encode({ vmids: [...me.peers].sort((a, b) => a - b) }));
  });

  reg(RmMsgId.VM_SET_TIME_BASE, ({ caller, payload }) => {
    // Every error reply carries a u32 hypervisor error: ERROR_ARGUMENT_INVALID (1) for every
    // failure the RM finds itself (RM vm_mgnt.c; docs/decisions.md R14).
    const tail = HYP_ERROR_TAIL.encode({ hypError: 1 });
    let req;
    try {
      req = VM_SET_TIME_BASE_REQ.decode(payload);
    } catch (err) {
      if (isWireError(err)) throw new RmRefusal(err.rmError, err.message, tail);
      throw err;
    }
    const vm = ctx.vms.get(req.vmid === 0 ? caller : req.vmid);
    require(vm !== undefined, 'NORESOURCE', `VM ${req.vmid} does not exist`, tail);
    require(queryAllowed(vm, caller), 'DENIED', 'not query-allowed', tail);
    require(vm.state === VmStatus.INIT || vm.state === VmStatus.READY, 'VM_STATE', 'VM not INIT or READY', tail);
    vm.timeBase = { timeBase: req.timeBase, sysTimerRef: req.sysTimerRef };
    return OK;
  });

  reg(RmMsgId.VM_SET_FIRMWARE_MEM, ({ caller, payload }) => {
    // The public RM puts 1 in the hypervisor-error word of every error reply (rm-rpc.md §12.1).
    const tail = HYP_ERROR_TAIL.encode({ hypError: 1 });
    let req;
    try {
      req = VM_SET_FIRMWARE_MEM_REQ.decode(payload);
    } catch (err) {
      if (isWireError(err)) throw new RmRefusal(err.rmError, err.message, tail);
      throw err;
    }
    const vm = ctx.vms.get(req.vmid === 0 ? caller : req.vmid);
    require(vm !== undefined && queryAllowed(vm, caller), 'DENIED', 'not query-allowed', tail);
    require(vm.state === VmStatus.INIT, 'VM_STATE', 'VM not INIT', tail);
    const parcel = ctx.parcels.get(req.fwHandle);
    require(parcel !== undefined, 'HANDLE_INVALID', `no parcel ${req.fwHandle}`, tail);
    require(
      req.fwSize > 0n && req.fwOffset + req.fwSize <= BigInt(parcel.size),
      'ARGUMENT_INVALID',
      'firmware range outside the parcel',
      tail,
    );
    vm.firmwareMem = { handle: req.fwHandle, offset: req.fwOffset, size: req.fwSize };
    return OK;
  });

  reg(RmMsgId.VM_SET_STATUS, ({ caller, payload }) => {
    require(isSecondaryVmid(caller) && ctx.vms.has(caller), 'DENIED', 'only secondary VMIDs set their status');
    const req = VM_SET_STATUS_REQ.decode(payload);
    require(isSettableOsStatus(req.osStatus), 'ARGUMENT_INVALID', `os_status ${req.osStatus}`);
    const vm = ctx.vms.get(caller)!;
    if (req.osStatus !== OsStatus.NONE) vm.osStatus = req.osStatus;
    vm.appStatus = req.appStatus;
    ctx.notifyStatus(vm);
    return OK;
  });

  reg(RmMsgId.VM_EXIT, ({ caller, payload }) => {
    if (caller === VMID_HLOS) throw new RmAssertion('VM_EXIT from HLOS, whose owner is the RM', 'DENIED');
    const vm = vmOr(ctx, caller, 'VMID_INVALID');
    require(!vm.crashFatal, 'ARGUMENT_INVALID', 'VM is marked crash-fatal');
    const req = VM_EXIT_REQ.decode(payload);
    if (vm.state !== VmStatus.RUNNING && vm.state !== VmStatus.PAUSED) {
      throw new RmAssertion(`VM_EXIT from VM ${caller} in state ${vm.state}: illegal state change`, 'VM_STATE');
    }
    exitVm(ctx, vm, ExitType.VM_EXIT, [(req.exitFlags & 0xffff) | (req.exitCode << 16)]);
    return OK;
  });

  reg(RmMsgId.VM_SET_CRASH_MSG, ({ caller, payload }) => {
    const vm = vmOr(ctx, caller, 'VMID_INVALID');
    const { message } = VM_SET_CRASH_MSG_REQ.decode(payload);
    vm.crashMsg = message.slice(0, VM_MAX_CRASH_MSG_LEN);
    return OK;
  });

  reg(RmMsgId.VM_HOST_GET_TYPE, ({ payload }) => {
    EMPTY.decode(payload);
    return ok(VM_HOST_GET_TYPE_REPLY.encode({ hostType: HOST_TYPE_GUNYAH_AARCH64_V1 }));
  });
}
