/**
 * Consistency checks over the RM's state, callable at any time by tests and the conformance
 * suite. Each returns a sentence per violation.
 */
import type { Hypervisor } from '../../hyp/hypervisor.js';
import type { RmLink } from './link.js';
import { VMID_HLOS, isDynamicVmid, VMID_EXPLICIT_LIMIT, type RmVm } from './vm-record.js';
import { VmStatus, vmStatusName } from './vm-state.js';

export function checkRmInvariants(vms: ReadonlyMap<number, RmVm>, links: ReadonlyMap<number, RmLink>, hyp: Hypervisor): string[] {
  const out: string[] = [];
  for (const vm of vms.values()) {
    if (vm.vmid === VMID_HLOS) continue;
    if (!isDynamicVmid(vm.vmid) && vm.vmid >= VMID_EXPLICIT_LIMIT) out.push(`VM ${vm.vmid} has a VMID outside every range`);
    if (!vms.has(vm.owner)) out.push(`VM ${vm.vmid}'s owner ${vm.owner} does not exist`);
    if (vm.link && links.get(vm.vmid) !== vm.link) out.push(`VM ${vm.vmid}'s link is not registered`);
    const live = vm.state === VmStatus.READY || vm.state === VmStatus.RUNNING || vm.state === VmStatus.PAUSED || vm.state === VmStatus.EXITED;
    if (!live && vm.state !== VmStatus.RESETTING && vm.state !== VmStatus.INIT_FAILED && vm.objects.length > 0) {
      out.push(`VM ${vm.vmid} in ${vmStatusName(vm.state)} still holds ${vm.objects.length} hypervisor objects`);
    }
    if ((vm.state === VmStatus.LOAD || vm.state === VmStatus.RESET) && vm.link) {
      out.push(`VM ${vm.vmid} in ${vmStatusName(vm.state)} still has an RPC link`);
    }
    for (const peer of vm.peers) if (!vms.has(peer)) out.push(`VM ${vm.vmid} has a peer ${peer} that does not exist`);
  }
  for (const vmid of links.keys()) if (!vms.has(vmid)) out.push(`a link exists for VM ${vmid}, which does not exist`);
  let objects = 0;
  for (const vm of vms.values()) objects += vm.objects.length;
  const s = hyp.stats();
  if (s.objects !== objects) out.push(`hypervisor holds ${s.objects} objects, the RM accounts for ${objects}`);
  return out;
}
