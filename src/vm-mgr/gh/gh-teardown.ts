/**
 * gh_ VM teardown when the last reference (VM fd or vCPU fd) goes, in the v14 / ACK driver's
 * order. RM failures are only logged, as in the kernel.
 *
 *   1. RUNNING: VM_STOP (FORCE, reason 3; failure logged), then wait for the VM_EXITED
 *      notification (the status leaves RUNNING), however long that takes
 *   2. unbind every function; free every resource the RM handed out
 *   3. status not LOAD: VM_RESET, then wait for VM_STATUS(RESET). A refused VM_RESET is logged
 *      and not waited for (the real driver would wait forever: docs/decisions.md G-rows)
 *   4. every region: MEM_RECLAIM when it has a parcel handle; on success (or without a handle)
 *      unpin its pages; on failure log and leave them pinned (lent to the RM: a leak Linux has
 *      too, counted in `leakedPinnedPages`)
 *   5. VM_DEALLOC_VMID (failure logged); unregister the notifications
 *
 * Reference: uapi.md §8.10 (VM_EXITED, VM_STATUS(RESET)), rm-rpc.md §12.1 (VM_STOP, VM_RESET,
 * VM_DEALLOCATE), §16.1 (MEM_RECLAIM); the order is the public v14 series / Android common
 * kernel android14-6.1 `vm_mgr.c` (gh_vm_free) and `vm_mgr_mm.c` (region reclaim), as written
 * down in docs/gh-dialect.md.
 */
import type { RmCalls } from '../../rm-rpc/client/rm-calls.js';
import { LinuxVmStatus } from '../vm-api.js';
import { unbindAllFunctions } from '../vm-functions.js';
import type { GhVm } from './gh-vm.js';

export async function ghTeardown(vm: GhVm): Promise<void> {
  await vm.statusLock.add(() => teardownLocked(vm));
}

async function teardownLocked(vm: GhVm): Promise<void> {
  const log = vm.log.child({ vmid: vm.vmid });
  const S = LinuxVmStatus;
  let rm: RmCalls | undefined;
  try {
    rm = vm.k.rm();
  } catch (err) {
    log.warn({ err }, 'VM teardown without the RM link: RM state stays behind');
  }
  // 1. Stop a running VM and wait for its VM_EXITED.
  if (vm.status === S.RUNNING && rm) {
    try {
      await rm.vmStop(vm.vmid);
    } catch (err) {
      log.warn({ err }, 'VM_STOP failed during teardown');
    }
    await vm.waitFor(() => vm.status !== S.RUNNING);
  }
  // 2. Functions, then the resources.
  await unbindAllFunctions(vm, log);
  vm.tickets.freeAllResources();
  // 3. Reset (not for a VM that never left LOAD).
  if (vm.status !== S.LOAD && vm.status !== S.RESET && rm) {
    let reset = false;
    try {
      await rm.vmReset(vm.vmid);
      reset = true;
    } catch (err) {
      log.warn({ err }, 'VM_RESET failed during teardown: not waiting for RESET');
    }
    if (reset) await vm.waitFor(() => vm.status === S.RESET);
  }
  // 4. The regions.
  await vm.memLock.add(async () => {
    for (const r of vm.regions) {
      if (r.handle !== undefined) {
        if (!rm) {
          vm.leakedPinnedPages += r.pinned.pas.length;
          continue;
        }
        try {
          await rm.memReclaim(r.handle);
          r.handle = undefined;
        } catch (err) {
          log.warn({ err, label: r.label, handle: r.handle }, 'MEM_RECLAIM failed during teardown: the pages stay pinned (leaked)');
          vm.leakedPinnedPages += r.pinned.pas.length;
          continue;
        }
      }
      r.pinned.unpin();
    }
    vm.regions.length = 0;
  });
  // 5. The VMID.
  if (rm) {
    try {
      await rm.deallocVmid(vm.vmid);
    } catch (err) {
      log.warn({ err }, 'VM_DEALLOC_VMID failed during teardown');
    }
  }
  vm.unregisterNotifications();
  vm.k.trace?.emit({ kind: 'kernel.vm-freed', vm: vm.id, vmid: vm.vmid });
}
