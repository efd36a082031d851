/**
 * GUNYAH_VM_START: the start sequence of the Linux v17 driver, step by step, with the status
 * each step leaves behind when it fails.
 *
 * Reference: uapi.md §8.2 (steps 1–14), §8.12 (the DTB parcel), §8.13 (LEVEL irqfds mask their
 * doorbell when the resource arrives: done by the irqfd ticket), hypervisor.md §9.4 (vIRQ
 * translation: 0, 32..1019, 4096..5119; anything else fails resource creation → ENOMEM, QUIRK
 * K21), vmm-flows.md §8 (the fault-injection points are exactly these RM calls).
 */
import { ErrnoError } from '../shared/errno.js';
import { asErrno } from './rm-errors.js';
import { AddressRangeId, AuthType } from '../rm-rpc/wire/enums.js';
import { buildDtbParcel } from './dtb-parcel.js';
import { isLend } from './guest-mem.js';
import { PAGE_SIZE } from './page-allocator.js';
import { LinuxVmStatus, type VmResource } from './vm-api.js';
import type { GunyahVm } from './vm.js';

/** Linux's vIRQ translation check (hypervisor.md §9.4). */
export function virqTranslatable(virq: number): boolean {
  return virq === 0 || (virq >= 32 && virq <= 1019) || (virq >= 4096 && virq <= 5119);
}


/** The start sequence (§8.2). Resolves when the VM runs; rejects with the failing step's errno. */
export async function startSequence(vm: GunyahVm): Promise<void> {
  // 1. Only from NO_STATE.
  if (vm.status !== LinuxVmStatus.NO_STATE) return;
  const rm = vm.k.rm();
  // 2. Register for notifications. 3. Allocate a VMID.
  vm.registerNotifications();
  try {
    vm.vmid = await rm.allocVmid(0);
  } catch (err) {
    vm.unregisterNotifications();
    throw asErrno(err);
  }
  vm.registerNotifications(); // now keyed by the VMID
  vm.setStatus(LinuxVmStatus.LOAD);
  try {
    await afterAlloc(vm);
  } catch (err) {
    throw asErrno(err);
  }
}

async function afterAlloc(vm: GunyahVm): Promise<void> {
  const rm = vm.k.rm();
  // 4. DTB parcel range.
  const cfg = vm.dtbConfig ?? { gpa: 0n, size: 0n };
  const parcelStart = Number(cfg.gpa / BigInt(PAGE_SIZE));
  const parcelPages = Number(cfg.size / BigInt(PAGE_SIZE));
  if (parcelPages === 0) throw new ErrnoError('EINVAL', 'the DTB configuration covers no page');
  // 5. Build and send the DTB parcel.
  const parcel = await buildDtbParcel(vm, parcelStart, parcelPages);
  vm.dtbParcel = parcel.record;
  parcel.record.handle = await rm.memShare(parcel.request);
  // 6. Configure the image.
  await rm.vmConfigure({
    vmid: vm.vmid,
    authType: AuthType.NONE,
    imageHandle: parcel.record.handle,
    imageOffset: 0n,
    imageSize: 0n,
    dtOffset: cfg.gpa - BigInt(parcelStart * PAGE_SIZE),
    dtSize: cfg.size,
  });
  // 7. Demand paging: every lend binding, in guest-frame order.
  const lends = vm.bindings.filter((b) => isLend(b.flags));
  if (lends.length > 0) {
    await rm.vmSetDemandPaging(
      vm.vmid,
      lends.map((b) => ({ address: BigInt(b.gfn) * BigInt(PAGE_SIZE), size: BigInt(b.pages) * BigInt(PAGE_SIZE) })),
    );
  }
  // 8. Address layout: the image range.
  await rm.vmSetAddressLayout(vm.vmid, AddressRangeId.IMAGE, BigInt(parcelStart * PAGE_SIZE), BigInt(parcelPages * PAGE_SIZE));
  // 9. Initialise.
  try {
    await rm.vmInit(vm.vmid);
  } catch (err) {
    vm.setStatus(LinuxVmStatus.INIT_FAILED);
    throw err;
  }
  vm.setStatus(LinuxVmStatus.READY);
  // 10. Boot context, ascending key order; set = key bits 15:8, index = bits 7:0.
  for (const key of [...vm.bootContext.keys()].sort((a, b) => a - b)) {
    await rm.vmSetBootContext(vm.vmid, (key >>> 8) & 0xff, key & 0xff, vm.bootContext.get(key)!);
  }
  // 11. Resources to tickets.
  const entries = await rm.getHypResources(vm.vmid);
  for (const e of entries) {
    if (!virqTranslatable(e.virq)) throw new ErrnoError('ENOMEM', `vIRQ ${e.virq} of a resource cannot be translated`);
    const r: VmResource = { type: e.type, label: e.resourceLabel, partnerVmid: e.partnerVmid, capId: e.capId, virq: e.virq, base: e.base, size: e.size };
    vm.tickets.offer(r);
  }
  // 12. The DTB pages count as given to the guest.
  const p = vm.dtbParcel!;
  for (const [gfn, pa] of p.pages) vm.paged.set(gfn, { pa, write: p.write, share: p.share });
  // 13. Start.
  try {
    await rm.vmStart(vm.vmid);
  } catch (err) {
    for (const [gfn] of p.pages) vm.paged.delete(gfn);
    throw err;
  }
  // 14.
  vm.setStatus(LinuxVmStatus.RUNNING);
}
