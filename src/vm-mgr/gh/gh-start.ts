/**
 * GH_VM_START (and VCPU_RUN before START): the start sequence of the gh_ (v14 / ACK) driver.
 * The VMID exists since CREATE_VM; the start only runs from LOAD, and any failure leaves the
 * status INIT_FAILED with the failing step's errno (RM errors remapped as in v17).
 *
 *   1. every region, newest first: MEM_LEND (lend: 1 ACL entry) or MEM_SHARE (+ MEM_APPEND)
 *   2. the region containing the DTB range (else EINVAL): VM_CONFIG_IMAGE {auth, image parcel =
 *      that region's, image offset 0, image size 0, dt offset = dtb gpa − region gpa, dt size}
 *   3. auth QCOM_ANDROID_PVM: the region containing the firmware range (else EINVAL):
 *      VM_SET_FIRMWARE_MEM {parcel, offset in the region, size}
 *   4. VM_INIT   5. VM_GET_HYP_RESOURCES → tickets (as v17)   6. VM_START → RUNNING
 *
 * No VM_SET_DEMAND_PAGING, no VM_SET_ADDRESS_LAYOUT, no boot context: the RM enters the image
 * (docs/decisions.md, "VM boot (RM side)").
 *
 * Reference: README.md §Dialects ("RM calls made at VM start"), rm-rpc.md §12.1
 * (VM_SET_FIRMWARE_MEM), §12.2 (VM_CONFIG_IMAGE, auth types), §16.1 (LEND vs SHARE),
 * vmm-flows.md Q2 (no retry), hypervisor.md §9.4 (vIRQ translation; ENOMEM as v17's K21).
 * The order is the public v14 series / Android common kernel android14-6.1 `vm_mgr.c`
 * (docs/gh-dialect.md).
 */
import { ErrnoError } from '../../shared/errno.js';
import { asErrno } from '../rm-errors.js';
import { LinuxVmStatus, type VmResource } from '../vm-api.js';
import { virqTranslatable } from '../vm-start.js';
import { GhVmAuth } from './gh-uapi.js';
import type { GhVm } from './gh-vm.js';


/**
 * Run the start sequence if the VM is in LOAD (call under the status lock).
 * Resolves when the VM runs or was not in LOAD; rejects with the failing step's errno.
 */
export async function ghStartSequence(vm: GhVm): Promise<void> {
  if (vm.status !== LinuxVmStatus.LOAD) return;
  try {
    await vm.memLock.add(() => startLocked(vm));
  } catch (err) {
    vm.setStatus(LinuxVmStatus.INIT_FAILED);
    throw asErrno(err);
  }
  vm.setStatus(LinuxVmStatus.RUNNING);
}

async function startLocked(vm: GhVm): Promise<void> {
  const rm = vm.k.rm();
  // 1. Lend or share every region, newest first.
  for (const r of vm.regions) r.handle = await rm.memShare(r.request);
  // 2. The image: the region holding the DTB.
  const dtb = vm.dtbConfig ?? { gpa: 0n, size: 0n };
  const image = vm.regionContaining(dtb.gpa, dtb.size);
  if (image === undefined || image.handle === undefined) throw new ErrnoError('EINVAL', 'no region contains the DTB range');
  await rm.vmConfigure({
    vmid: vm.vmid,
    authType: vm.authType,
    imageHandle: image.handle,
    imageOffset: 0n,
    imageSize: 0n,
    dtOffset: dtb.gpa - image.gpa,
    dtSize: dtb.size,
  });
  // 3. The protected VM's firmware.
  if (vm.authType === GhVmAuth.GH_RM_VM_AUTH_QCOM_ANDROID_PVM) {
    const fw = vm.fwConfig ?? { gpa: 0n, size: 0n };
    const holder = vm.regionContaining(fw.gpa, fw.size);
    if (holder === undefined || holder.handle === undefined) throw new ErrnoError('EINVAL', 'no region contains the firmware range');
    await rm.vmSetFirmwareMem(vm.vmid, holder.handle, fw.gpa - holder.gpa, fw.size);
  }
  // 4. Initialise.
  await rm.vmInit(vm.vmid);
  // 5. Resources to tickets.
  const entries = await rm.getHypResources(vm.vmid);
  for (const e of entries) {
    if (!virqTranslatable(e.virq)) throw new ErrnoError('ENOMEM', `vIRQ ${e.virq} of a resource cannot be translated`);
    const res: VmResource = { type: e.type, label: e.resourceLabel, partnerVmid: e.partnerVmid, capId: e.capId, virq: e.virq, base: e.base, size: e.size };
    vm.tickets.offer(res);
  }
  // 6. Start.
  await rm.vmStart(vm.vmid);
}
