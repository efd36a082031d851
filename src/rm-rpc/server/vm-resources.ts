/**
 * The hypervisor resources the RM creates for a VM at VM_INIT from its DT configuration, and
 * the entries VM_GET_HYP_RESOURCES reports for them.
 *
 * Reference: hypervisor.md §9 (entry layout, types, the labels Linux v17 expects), §10 (the
 * owner's vCPU capability has AFFINITY | YIELD_TO), rm-rpc.md §12.4 (vCPU entries only for the
 * owner; resource_handle and virq_handle always 0; MEM_EXTENT 0..3 and ADDR_SPACE 0 for newer
 * firmware), vmm-flows.md §5.1 (doorbell vdevices: the peer holds the source, BELL_TX).
 */
import { ResourceType } from '../wire/enums.js';
import type { RmContext } from './context.js';
import type { RmResource, RmVm } from './vm-record.js';

/** vCPU capability rights the owner receives: AFFINITY 0x2 | YIELD_TO 0x10. */
const VCPU_OWNER_RIGHTS = 0x12;
const DOORBELL_SEND = 0x1;
const DOORBELL_RECEIVE = 0x2;
const MSGQ_SEND = 0x1;
const MSGQ_RECEIVE = 0x2;
/** GIC SPIs start at INTID 32. */
const SPI_BASE = 32;

/** Create the VM's vCPUs, vdevices, RPC link and console (VM_INIT). */
export function createVmResources(ctx: RmContext, vm: RmVm): void {
  const dt = vm.dt!;
  const { hyp } = ctx;
  const add = (r: RmResource): void => void vm.resources.push(r);
  const virqFor = (holder: number): number => {
    const v = hyp.allocVirq(holder);
    vm.virqs.push([holder, v]);
    return v;
  };

  for (const cpu of dt.vcpus) {
    const o = hyp.createObject('vcpu', vm.vmid, { affinityIndex: cpu.affinityIndex, mpidr: cpu.mpidr });
    vm.objects.push(o);
    const capId = hyp.grantCap(vm.owner, o, VCPU_OWNER_RIGHTS);
    add({ type: ResourceType.VCPU, partnerVmid: vm.vmid, label: cpu.affinityIndex, capId, virq: virqFor(vm.owner), base: 0n, size: 0n, holder: vm.owner });
  }

  for (const bell of dt.doorbells) {
    const peer = vm.owner; // peer-default: the VM's owner is the other end
    const o = hyp.createObject('doorbell', vm.vmid, { label: bell.label });
    vm.objects.push(o);
    add({ type: ResourceType.BELL_TX, partnerVmid: vm.vmid, label: bell.label, capId: hyp.grantCap(peer, o, DOORBELL_SEND), virq: 0, base: 0n, size: 0n, holder: peer });
    let guestVirq: number;
    if (bell.interrupt) {
      guestVirq = SPI_BASE + bell.interrupt.line;
      hyp.claimVirq(vm.vmid, guestVirq);
      vm.virqs.push([vm.vmid, guestVirq]);
    } else {
      guestVirq = virqFor(vm.vmid);
    }
    add({ type: ResourceType.BELL_RX, partnerVmid: peer, label: bell.label, capId: hyp.grantCap(vm.vmid, o, DOORBELL_RECEIVE), virq: guestVirq, base: 0n, size: 0n, holder: vm.vmid });
  }

  for (const q of dt.msgQueues) {
    const peer = vm.owner;
    const { objects } = hyp.createMsgqLink(vm.vmid, peer, { depth: q.queueDepth, maxMsgSize: q.messageSize });
    vm.objects.push(...objects);
    const [toPeer, toVm] = objects;
    add({ type: ResourceType.MSGQ_TX, partnerVmid: peer, label: q.label, capId: hyp.grantCap(vm.vmid, toPeer, MSGQ_SEND), virq: virqFor(vm.vmid), base: 0n, size: 0n, holder: vm.vmid });
    add({ type: ResourceType.MSGQ_RX, partnerVmid: peer, label: q.label, capId: hyp.grantCap(vm.vmid, toVm, MSGQ_RECEIVE), virq: virqFor(vm.vmid), base: 0n, size: 0n, holder: vm.vmid });
    add({ type: ResourceType.MSGQ_TX, partnerVmid: vm.vmid, label: q.label, capId: hyp.grantCap(peer, toVm, MSGQ_SEND), virq: virqFor(peer), base: 0n, size: 0n, holder: peer });
    add({ type: ResourceType.MSGQ_RX, partnerVmid: vm.vmid, label: q.label, capId: hyp.grantCap(peer, toPeer, MSGQ_RECEIVE), virq: virqFor(peer), base: 0n, size: 0n, holder: peer });
  }

  if (ctx.options.firmware === 'v17') {
    // Demand paging needs the guest address space (label 0) and four extents (labels 0..3).
    const as = hyp.createObject('addrspace', vm.vmid);
    vm.objects.push(as);
    add({ type: ResourceType.ADDR_SPACE, partnerVmid: vm.vmid, label: 0, capId: hyp.grantCap(vm.owner, as, 0x7), virq: 0, base: 0n, size: 0n, holder: vm.owner });
    for (let label = 0; label < 4; label++) {
      const me = hyp.createObject('memextent', vm.vmid, { label });
      vm.objects.push(me);
      add({ type: ResourceType.MEM_EXTENT, partnerVmid: vm.vmid, label, capId: hyp.grantCap(vm.owner, me, 0x1f), virq: 0, base: 0n, size: 0n, holder: vm.owner });
    }
  }

  // A VM talks to the RM only when its config asks for an rm-rpc vdevice (RM vm_config.c,
  // handle_rm_rpc); its console comes with that link (docs/decisions.md).
  if (dt.otherVdevices.some((d) => d.type === 'rm-rpc')) {
    ctx.createLink(vm);
    vm.console = { vmOpen: false, ownerOpen: false };
  }
}
