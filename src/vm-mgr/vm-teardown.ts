/**
 * VM teardown when the last reference (VM fd or vCPU fd) goes: the Linux v17 order.
 *
 * Reference: uapi.md §8.3 steps 1–11: force stop and wait for the exit (RUNNING); reclaim the
 * DTB parcel (LOAD, READY, INIT_FAILED); unbind every function; reclaim and drop every
 * binding; reclaim the remaining pages (failures only warn); remove the internal tickets;
 * free all resources; reset and wait for VM_STATUS(RESET) (EXITED, READY, INIT_FAILED); drop
 * the paged-memory map; unregister and deallocate the VMID (status > NO_STATE); free the rest.
 * Failures of RM calls here are only logged, as in the kernel.
 */
import { PAGE_SIZE } from './page-allocator.js';
import { reclaimRange } from './demand-paging.js';
import { unbindAllFunctions } from './vm-functions.js';
import { LinuxVmStatus } from './vm-api.js';
import type { GunyahVm } from './vm.js';

export async function teardownVm(vm: GunyahVm): Promise<void> {
  await vm.statusLock.add(() => teardownLocked(vm));
}

async function teardownLocked(vm: GunyahVm): Promise<void> {
  const log = vm.log;
  let rm: ReturnType<typeof vm.k.rm> | undefined;
  try {
    rm = vm.k.rm();
  } catch (err) {
    log.warn({ err }, 'VM teardown without the RM link: RM state stays behind');
  }
  const S = LinuxVmStatus;
  // 1. Force stop, then wait for the VM_EXITED notification. A failed stop is only logged:
  // the wait (uninterruptible, no timeout) happens either way, until the VM exits by itself.
  if (vm.status === S.RUNNING && rm) {
    try {
      await rm.vmStop(vm.vmid);
    } catch (err) {
      log.warn({ err, vmid: vm.vmid }, 'VM_STOP failed during teardown');
    }
    await vm.waitFor(() => vm.status !== S.RUNNING);
  }
  // 2. Reclaim the DTB parcel of a VM that never ran.
  if ((vm.status === S.LOAD || vm.status === S.READY || vm.status === S.INIT_FAILED) && vm.dtbParcel?.handle !== undefined && rm) {
    try {
      await rm.memReclaim(vm.dtbParcel.handle);
      for (const [gfn] of vm.dtbParcel.pages) vm.paged.delete(gfn);
      vm.dtbParcel.handle = undefined;
    } catch (err) {
      log.warn({ err, vmid: vm.vmid }, 'MEM_RECLAIM of the DTB parcel failed during teardown');
    }
  }
  // 3. Unbind every function instance.
  await unbindAllFunctions(vm, log);
  // 4. Every binding: reclaim its range from the guest, then drop it.
  for (const b of [...vm.bindings]) {
    const r = reclaimRange(vm, b.gfn, b.pages);
    if (r < 0) log.warn({ vmid: vm.vmid, gfn: b.gfn, errno: -r }, 'reclaiming a binding failed during teardown');
    vm.bindings.splice(vm.bindings.indexOf(b), 1);
    b.file.unbind(b);
  }
  // 5. Every remaining page given to the guest.
  for (const gfn of [...vm.paged.keys()]) {
    const r = reclaimRange(vm, gfn, 1);
    if (r < 0) log.warn({ vmid: vm.vmid, ipa: gfn * PAGE_SIZE, errno: -r }, 'reclaiming a page failed during teardown');
  }
  // 6. The internal tickets. 7. All resources.
  for (const t of vm.internalTickets) vm.tickets.remove(t);
  vm.tickets.freeAllResources();
  // 8. Reset, and wait for VM_STATUS(RESET).
  if ((vm.status === S.EXITED || vm.status === S.READY || vm.status === S.INIT_FAILED) && rm) {
    try {
      await rm.vmReset(vm.vmid);
      await vm.waitFor(() => vm.status === S.RESET);
    } catch (err) {
      log.warn({ err, vmid: vm.vmid }, 'VM_RESET failed during teardown');
    }
  }
  // 9. The paged-memory map.
  vm.paged.clear();
  // 10. Unregister and free the VMID.
  if (vm.status > S.NO_STATE) {
    vm.unregisterNotifications();
    if (rm) {
      try {
        await rm.deallocVmid(vm.vmid);
      } catch (err) {
        log.warn({ err, vmid: vm.vmid }, 'VM_DEALLOC_VMID failed during teardown');
      }
    }
  }
  // 11. The boot context and the VM.
  vm.bootContext.clear();
  vm.k.trace?.emit({ kind: 'kernel.vm-freed', vm: vm.id, vmid: vm.vmid });
}
