/**
 * VM_GET_HYP_RESOURCES: the capabilities and vIRQs a caller holds for a VM.
 *
 * Reference: rm-rpc.md §12.1 (unknown vmid, including 0, → ARGUMENT_INVALID; no configuration
 * yet → NORESOURCE), §12.4 (vCPU entries only for the owner; handles always 0), hypervisor.md
 * §9.1 (the 44-byte entry). VM_GET_HYP_CAPIDS and VM_GET_HYP_IRQS have no handler: the real RM
 * answers them UNIMPLEMENTED.
 */
import { RmMsgId } from '../../wire/msg-ids.js';
import { VMID_REQ, VM_GET_HYP_RESOURCES_REPLY } from '../../wire/vm-mgmt.js';
import { ResourceType } from '../../wire/enums.js';
import { ok, type RmContext, type Register } from '../context.js';
import { require } from './refusal.js';
import { vmOr } from './vm-lookup.js';

export function registerResourceHandlers(ctx: RmContext, reg: Register): void {
  reg(RmMsgId.VM_GET_HYP_RESOURCES, ({ caller, payload }) => {
    const { vmid } = VMID_REQ.decode(payload);
    const vm = vmOr(ctx, vmid, 'ARGUMENT_INVALID');
    require(vm.image !== undefined, 'NORESOURCE', 'VM has no configuration yet');
    const entries = vm.resources
      .filter((r) => r.holder === caller && (r.type !== ResourceType.VCPU || caller === vm.owner))
      .map((r) => ({
        type: r.type,
        partnerVmid: r.partnerVmid,
        resourceHandle: 0,
        resourceLabel: r.label,
        capId: r.capId,
        virqHandle: 0,
        virq: r.virq,
        base: r.base,
        size: r.size,
      }));
    return ok(VM_GET_HYP_RESOURCES_REPLY.encode({ entries }));
  });
}
