/**
 * The hypervisor resources the RM creates for a VM at VM_INIT from its DT configuration, the
 * entries VM_GET_HYP_RESOURCES reports for them, and what the DT overlay says about them.
 *
 * Reference: hypervisor.md §9 (entry layout, types, the labels Linux v17 expects), §10 (the
 * owner's vCPU capability has AFFINITY | YIELD_TO), §8 (memory extents), rm-rpc.md §12.4
 * (vCPU entries only for the owner; resource_handle and virq_handle always 0; MEM_EXTENT 0..3
 * and ADDR_SPACE 0 for newer firmware), uapi.md §8.11 (which extent pair demand paging uses:
 * share host_shared 1 → guest_shared 3, lend host_private 2 → guest_private 0), vmm-flows.md
 * §5.1 (doorbell vdevices: the peer holds the other end; with `source-can-clear` the sending
 * end's capability has RECEIVE besides SEND, which doorbell_mask needs, hypervisor.md §5).
 *
 * Memory extents: label 0 (guest_private) is an extent of the guest's own, created here and
 * destroyed when the VM is reset (`releaseVmMemory`); labels 1, 2 and 3 are the host's RAM
 * extent, because sharing keeps a page in the host's extent and maps it into the guest. Each
 * memextent object carries its ExtentId as `attrs.extent`.
 */
import type { ExtentId } from '../../hyp/memory/api.js';
import type { Hypervisor } from '../../hyp/hypervisor.js';
import { ResourceType } from '../wire/enums.js';
import type { RmContext } from './context.js';
import type { OverlayVdevice } from './vm-dt-overlay.js';
import type { RmResource, RmVm } from './vm-record.js';
import { VmStatus, vmStatusName } from './vm-state.js';

/** vCPU capability rights the owner receives: AFFINITY 0x2 | YIELD_TO 0x10. */
const VCPU_OWNER_RIGHTS = 0x12;
const DOORBELL_SEND = 0x1;
const DOORBELL_RECEIVE = 0x2;
const MSGQ_SEND = 0x1;
const MSGQ_RECEIVE = 0x2;
/** Addrspace attach | map | lookup; memextent map | derive | attach | lookup | donate (hypervisor.md §10). */
const ADDRSPACE_OWNER_RIGHTS = 0x7;
const MEMEXTENT_OWNER_RIGHTS = 0x1f;
/** GIC SPIs start at INTID 32. */
const SPI_BASE = 32;

/** MEM_EXTENT labels (hypervisor.md §9.3). */
export const MemExtentLabel = { GUEST_PRIVATE: 0, HOST_SHARED: 1, HOST_PRIVATE: 2, GUEST_SHARED: 3 } as const;
/** The memory model's label of a VM's guest_private extent. */
export const GUEST_PRIVATE_EXTENT_LABEL = 'guest-private';

/**
 * Create the VM's vCPUs, vdevices, memory extents, RPC link and console (VM_INIT). Returns the
 * vdevices the DT overlay describes, in the order the overlay writes them.
 * @throws HypError when the hypervisor refuses an object, capability or vIRQ (the caller
 *   destroys what was created and answers NORESOURCE).
 */
export function createVmResources(ctx: RmContext, vm: RmVm): OverlayVdevice[] {
  const dt = vm.dt!;
  const { hyp } = ctx;
  const overlay: OverlayVdevice[] = [];
  let handle = 0;
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
    // The sending end may also clear and mask (RECEIVE) when the node says `source-can-clear`,
    // as the RM grants it; Linux's LEVEL irqfd masks its BELL_TX with it (uapi.md §8.13).
    const sendRights = DOORBELL_SEND | (bell.sourceCanClear ? DOORBELL_RECEIVE : 0);
    if (bell.source) {
      // doorbell-source: the VM rings it, the owner receives it.
      const vmCap = hyp.grantCap(vm.vmid, o, sendRights);
      add({ type: ResourceType.BELL_TX, partnerVmid: peer, label: bell.label, capId: vmCap, virq: 0, base: 0n, size: 0n, holder: vm.vmid });
      add({ type: ResourceType.BELL_RX, partnerVmid: vm.vmid, label: bell.label, capId: hyp.grantCap(peer, o, DOORBELL_RECEIVE), virq: virqFor(peer), base: 0n, size: 0n, holder: peer });
      if (bell.generate !== undefined) overlay.push({ kind: 'doorbell', generate: bell.generate, ...pushOf(bell), label: bell.label, source: true, capId: vmCap, virq: 0 });
      continue;
    }
    add({ type: ResourceType.BELL_TX, partnerVmid: vm.vmid, label: bell.label, capId: hyp.grantCap(peer, o, sendRights), virq: 0, base: 0n, size: 0n, holder: peer });
    let guestVirq: number;
    if (bell.interrupt) {
      guestVirq = SPI_BASE + bell.interrupt.line;
      hyp.claimVirq(vm.vmid, guestVirq);
      vm.virqs.push([vm.vmid, guestVirq]);
    } else {
      guestVirq = virqFor(vm.vmid);
    }
    const vmCap = hyp.grantCap(vm.vmid, o, DOORBELL_RECEIVE);
    add({ type: ResourceType.BELL_RX, partnerVmid: peer, label: bell.label, capId: vmCap, virq: guestVirq, base: 0n, size: 0n, holder: vm.vmid });
    if (bell.generate !== undefined) overlay.push({ kind: 'doorbell', generate: bell.generate, ...pushOf(bell), label: bell.label, source: false, capId: vmCap, virq: guestVirq });
  }

  for (const q of dt.msgQueues) {
    const peer = vm.owner;
    const { objects } = hyp.createMsgqLink(vm.vmid, peer, { depth: q.queueDepth, maxMsgSize: q.messageSize });
    vm.objects.push(...objects);
    const [toPeer, toVm] = objects;
    const tx = { capId: hyp.grantCap(vm.vmid, toPeer, MSGQ_SEND), virq: virqFor(vm.vmid) };
    const rx = { capId: hyp.grantCap(vm.vmid, toVm, MSGQ_RECEIVE), virq: virqFor(vm.vmid) };
    add({ type: ResourceType.MSGQ_TX, partnerVmid: peer, label: q.label, ...tx, base: 0n, size: 0n, holder: vm.vmid });
    add({ type: ResourceType.MSGQ_RX, partnerVmid: peer, label: q.label, ...rx, base: 0n, size: 0n, holder: vm.vmid });
    add({ type: ResourceType.MSGQ_TX, partnerVmid: vm.vmid, label: q.label, capId: hyp.grantCap(peer, toVm, MSGQ_SEND), virq: virqFor(peer), base: 0n, size: 0n, holder: peer });
    add({ type: ResourceType.MSGQ_RX, partnerVmid: vm.vmid, label: q.label, capId: hyp.grantCap(peer, toPeer, MSGQ_RECEIVE), virq: virqFor(peer), base: 0n, size: 0n, holder: peer });
    if (q.generate === undefined) continue;
    const common = { generate: q.generate, ...pushOf(q), label: q.label, messageSize: q.messageSize, queueDepth: q.queueDepth };
    if (q.kind === 'message-queue') {
      const end = q.isSender ? tx : rx;
      overlay.push({ kind: 'message-queue', ...common, isSender: q.isSender === true, capId: end.capId, virq: end.virq });
    } else {
      overlay.push({ kind: 'message-queue-pair', ...common, txCapId: tx.capId, rxCapId: rx.capId, txVirq: tx.virq, rxVirq: rx.virq, handle: ++handle, ...(q.peer !== undefined ? { peer: q.peer } : {}) });
    }
  }

  if (ctx.options.firmware === 'v17') {
    // Demand paging needs the guest address space (label 0) and four extents (labels 0..3).
    const as = hyp.createObject('addrspace', vm.vmid);
    vm.objects.push(as);
    add({ type: ResourceType.ADDR_SPACE, partnerVmid: vm.vmid, label: 0, capId: hyp.grantCap(vm.owner, as, ADDRSPACE_OWNER_RIGHTS), virq: 0, base: 0n, size: 0n, holder: vm.owner });
    for (let label = 0; label < 4; label++) {
      const extent = label === MemExtentLabel.GUEST_PRIVATE ? hyp.memory.createExtent(vm.vmid, GUEST_PRIVATE_EXTENT_LABEL) : hyp.hostExtent;
      const me = hyp.createObject('memextent', vm.vmid, { label, extent });
      vm.objects.push(me);
      add({ type: ResourceType.MEM_EXTENT, partnerVmid: vm.vmid, label, capId: hyp.grantCap(vm.owner, me, MEMEXTENT_OWNER_RIGHTS), virq: 0, base: 0n, size: 0n, holder: vm.owner });
    }
  }

  // A VM talks to the RM only when its config asks for an rm-rpc vdevice (RM vm_config.c,
  // handle_rm_rpc); its console comes with that link (docs/decisions.md R6). The guest holds
  // the two queue capabilities and a vIRQ for each, which the overlay hands it.
  const rpc = dt.otherVdevices.find((d) => d.type === 'rm-rpc');
  if (rpc) {
    const before = vm.objects.length;
    ctx.createLink(vm);
    const [toVm, fromVm] = vm.objects.slice(before); // createMsgqLink(RM, vm): RM's queue, then the VM's
    if (toVm && fromVm) {
      const txCapId = hyp.grantCap(vm.vmid, fromVm, MSGQ_SEND);
      const rxCapId = hyp.grantCap(vm.vmid, toVm, MSGQ_RECEIVE);
      const txVirq = virqFor(vm.vmid);
      const rxVirq = virqFor(vm.vmid);
      if (rpc.generate !== undefined) {
        overlay.unshift({
          kind: 'rm-rpc',
          generate: rpc.generate,
          ...(rpc.pushCompatible ? { pushCompatible: rpc.pushCompatible } : {}),
          label: rpc.label,
          txCapId,
          rxCapId,
          txVirq,
          rxVirq,
          messageSize: rpc.messageSize ?? 240,
          queueDepth: rpc.queueDepth ?? 8,
          handle: ++handle,
        });
      }
    }
    vm.console = { vmOpen: false, ownerOpen: false };
  }

  return overlay;
}

function pushOf(d: { readonly pushCompatible?: readonly string[] }): { pushCompatible?: readonly string[] } {
  return d.pushCompatible ? { pushCompatible: d.pushCompatible } : {};
}

/** The guest_private extents of `vmid` in the memory model (normally at most one). */
export function guestPrivateExtentsOf(hyp: Hypervisor, vmid: number): Array<{ id: ExtentId; bytes: number; mappings: number }> {
  return hyp.memory
    .extents()
    .filter((e) => e.ownerVmid === vmid && e.label === GUEST_PRIVATE_EXTENT_LABEL)
    .map((e) => ({ id: e.id, bytes: e.bytes, mappings: e.mappings }));
}

/**
 * Give up the VM's guest_private extent (VM_RESET, after its parcels are released; or a
 * VM_INIT that failed). An extent that still owns memory or is still mapped stays, and the
 * sentence saying so is returned; `checkVmMemoryInvariants` keeps reporting it.
 */
export function releaseVmMemory(hyp: Hypervisor, vmid: number): string[] {
  const out: string[] = [];
  for (const e of guestPrivateExtentsOf(hyp, vmid)) {
    if (e.bytes !== 0 || e.mappings !== 0) {
      // Memory the owner did not take back before the reset (an RM-only client never does):
      // the RM returns it to the host, as a reset leaves nothing with the dead VM.
      out.push(`VM ${vmid}'s guest_private extent ${e.id} still held ${e.bytes} bytes and ${e.mappings} mappings: returned to the host`);
      hyp.memory.unmapAll(e.id);
      for (const r of hyp.memory.runsOf(e.id)) hyp.memory.donate(e.id, hyp.hostExtent, r.pa, r.size);
    }
    hyp.memory.destroyExtent(e.id);
  }
  return out;
}

/**
 * A guest_private extent exists only while its VM has resources (READY, RUNNING, PAUSED,
 * EXITED; RESETTING and INIT_FAILED in passing), and only one per VM. `stateOf` gives a VM's
 * status, undefined when it does not exist.
 */
export function checkVmMemoryInvariants(hyp: Hypervisor, stateOf: (vmid: number) => number | undefined): string[] {
  const out: string[] = [];
  const seen = new Map<number, number>();
  for (const e of hyp.memory.extents()) {
    if (e.label !== GUEST_PRIVATE_EXTENT_LABEL) continue;
    seen.set(e.ownerVmid, (seen.get(e.ownerVmid) ?? 0) + 1);
    const s = stateOf(e.ownerVmid);
    const live = s === VmStatus.READY || s === VmStatus.RUNNING || s === VmStatus.PAUSED || s === VmStatus.EXITED || s === VmStatus.RESETTING || s === VmStatus.INIT_FAILED;
    if (!live) {
      out.push(`guest_private extent ${e.id} of VM ${e.ownerVmid} (${s === undefined ? 'gone' : vmStatusName(s)}) outlived its VM's resources: ${e.bytes} bytes, ${e.mappings} mappings`);
    }
  }
  for (const [vmid, n] of seen) if (n > 1) out.push(`VM ${vmid} has ${n} guest_private extents`);
  return out;
}
