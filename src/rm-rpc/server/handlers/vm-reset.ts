/**
 * VM_RESET's staged cleanup. The RM replies OK at once, moves the VM to RESETTING and then
 * runs one step per event, so requests that arrive meanwhile are answered between steps.
 *
 * Reference: rm-rpc.md §15.4: INIT → DESTROY_VDEVICES (one vdevice per event) →
 * RELEASE_MEMPARCELS (one parcel per event; the owner receives MEM_RELEASED) → RELEASE_IRQS →
 * DESTROY_VM → CLEANUP_VM (name, URI and GUID cleared, os_status NONE, app_status 0, crash
 * message cleared) → COMPLETED → RESET, NOTIFY_VM_STATUS(RESET) to peers, then every peer is
 * deregistered (§15.3). DESTROY_VM also drops the hypervisor's state of the VM (vCPU threads,
 * demand-paging ranges, relinquish marks: `hyp.dropVm`).
 */
import type { ResetParticipants, RmContext } from '../context.js';
import type { RmVm } from '../vm-record.js';
import { VmStatus, OsStatus } from '../vm-state.js';

/** Cleanup stages, in order (the RM's numbering). */
export const ResetStage = {
  INIT: 0,
  DESTROY_VDEVICES: 1,
  RELEASE_MEMPARCELS: 2,
  RELEASE_IRQS: 3,
  DESTROY_VM: 4,
  CLEANUP_VM: 5,
  COMPLETED: 6,
} as const;

/** Begin the staged cleanup of `vm` (the caller has checked the request). */
export function startResetCleanup(ctx: RmContext, vm: RmVm, participants: ResetParticipants = ctx.resetParticipants): void {
  ctx.setState(vm, VmStatus.RESETTING);
  vm.resetting = true;

  const destroyVdevices = (): void => {
    // One hypervisor object (vdevice, vCPU, link queue) per event; the link goes last.
    const o = vm.objects.find((x) => x.type !== 'msgqueue');
    if (o) {
      ctx.hyp.destroyObject(o);
      vm.objects = vm.objects.filter((x) => x !== o);
      return ctx.defer(destroyVdevices);
    }
    ctx.defer(releaseParcels);
  };
  const releaseParcels = (): void => {
    if (participants.releaseOneParcel?.(vm)) return ctx.defer(releaseParcels);
    ctx.defer(releaseIrqs);
  };
  const releaseIrqs = (): void => {
    participants.releaseIrqs?.(vm);
    ctx.defer(destroyVm);
  };
  const destroyVm = (): void => {
    // The vCPU threads went with their objects; the hypervisor's per-VM record goes here.
    ctx.hyp.dropVm(vm.vmid);
    ctx.destroyHypObjects(vm);
    vm.image = undefined;
    vm.dt = undefined;
    vm.bootImage = undefined;
    vm.console = undefined;
    vm.bootContext.clear();
    vm.demandPaging = undefined;
    vm.addressLayout.clear();
    vm.timeBase = undefined;
    vm.firmwareMem = undefined;
    ctx.defer(cleanupVm);
  };
  const cleanupVm = (): void => {
    vm.name = '';
    vm.uri = '';
    vm.guid = new Uint8Array(16);
    vm.osStatus = OsStatus.NONE;
    vm.appStatus = 0;
    vm.crashMsg = undefined;
    vm.exitCount = 0;
    ctx.defer(completed);
  };
  const completed = (): void => {
    vm.resetting = false;
    ctx.setState(vm, VmStatus.RESET);
    for (const peer of vm.peers) ctx.vms.get(peer)?.peers.delete(vm.vmid);
    vm.peers.clear();
  };
  ctx.defer(destroyVdevices);
}
