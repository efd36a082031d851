/**
 * IRQ lending: VM_IRQ_LEND, _ACCEPT, _RELEASE, _RECLAIM, _NOTIFY and their notifications.
 * VM_IRQ_UNMAP has no handler: the real RM answers it UNIMPLEMENTED.
 *
 * Reference: rm-rpc.md §12.6 (layouts, errors in order, states NONE → OFFERED → ACCEPTED →
 * OFFERED → removed), §13 (IRQ_LENT, IRQ_RELEASED, IRQ_ACCEPTED), §17 #2 (any VM_IRQ_* with an
 * empty payload aborts the real RM). The platform binds hardware IRQs 64..127 to HLOS
 * (docs/decisions.md); a handle is a per-boot random base plus the hardware IRQ number.
 */
import { RmMsgId, RmNotifId } from '../../wire/msg-ids.js';
import {
  VM_IRQ_ACCEPT_REQ,
  VM_IRQ_ACCEPT_REPLY,
  VM_IRQ_LEND_REQ,
  VM_IRQ_LEND_REPLY,
  VM_IRQ_HANDLE_REQ,
  decodeIrqNotifyHead,
  decodeIrqNotifyVmids,
} from '../../wire/irq.js';
import { NOTIFY_VM_IRQ_LENT_PAYLOAD, NOTIFY_VM_IRQ_OWNER_PAYLOAD } from '../../wire/notifications.js';
import { IrqNotifyFlag, VIRQ_NUM_INVALID } from '../../wire/enums.js';
import { OK, ok, RmAssertion, type Handler, type RmContext, type Register } from '../context.js';
import { VMID_HLOS, type RmVm } from '../vm-record.js';
import { require } from './refusal.js';

/** Hardware IRQs the platform binds to HLOS. */
export const HLOS_HW_IRQS: readonly [number, number] = [64, 127];

interface IrqLend {
  readonly handle: number;
  readonly owner: number;
  readonly borrower: number;
  readonly hwIrq: number;
  readonly label: number;
  state: 'OFFERED' | 'ACCEPTED';
  virq: number | undefined;
}

export function registerIrqHandlers(ctx: RmContext, reg: Register): void {
  const lends = new Map<number, IrqLend>();
  const bytes = ctx.random(2);
  const handleBase = ((bytes[0]! << 8) | bytes[1]!) << 12;
  const ownsHwIrq = (vmid: number, irq: number): boolean => vmid === VMID_HLOS && irq >= HLOS_HW_IRQS[0] && irq <= HLOS_HW_IRQS[1];

  /** Every VM_IRQ_* handler first hits the real RM's assert on an empty payload. */
  const irq = (name: string, h: Handler): Handler => (req) => {
    if (req.payload.byteLength === 0) throw new RmAssertion(`${name} with an empty payload`, 'MSG_INVALID');
    return h(req);
  };
  const unmap = (l: IrqLend): void => {
    if (l.virq !== undefined) ctx.hyp.freeVirq(l.borrower, l.virq);
    l.virq = undefined;
    l.state = 'OFFERED';
  };

  reg(RmMsgId.VM_IRQ_LEND, irq('VM_IRQ_LEND', ({ caller, payload }) => {
    const req = VM_IRQ_LEND_REQ.decode(payload);
    const inMap = req.virqNum >= 32 && req.virqNum <= 1019;
    require(inMap, 'IRQ_INVALID', `IRQ ${req.virqNum} not in the owner's map`);
    require(![...lends.values()].some((l) => l.hwIrq === req.virqNum), 'IRQ_INUSE', `IRQ ${req.virqNum} already lent`);
    require(req.virqNum >= HLOS_HW_IRQS[0] && req.virqNum <= HLOS_HW_IRQS[1], 'IRQ_INVALID', `IRQ ${req.virqNum} is not a bound hardware IRQ`);
    require(ownsHwIrq(caller, req.virqNum), 'IRQ_INVALID', `VM ${caller} does not own IRQ ${req.virqNum}`);
    const handle = (handleBase + req.virqNum) >>> 0;
    lends.set(handle, { handle, owner: caller, borrower: req.borrower, hwIrq: req.virqNum, label: req.label, state: 'OFFERED', virq: undefined });
    return ok(VM_IRQ_LEND_REPLY.encode({ handle }));
  }));

  reg(RmMsgId.VM_IRQ_ACCEPT, irq('VM_IRQ_ACCEPT', ({ caller, payload }) => {
    const req = VM_IRQ_ACCEPT_REQ.decode(payload);
    const l = lends.get(req.handle);
    require(l !== undefined && l.borrower === caller, 'HANDLE_INVALID', `no IRQ lend ${req.handle} for VM ${caller}`);
    require(l.state === 'OFFERED', 'IN_USE', 'IRQ already accepted');
    const virq = req.virqNum === VIRQ_NUM_INVALID ? l.hwIrq : req.virqNum;
    require(virq >= 32 && virq <= 1019, 'ARGUMENT_INVALID', `vIRQ ${virq} is not an SPI`);
    try {
      ctx.hyp.claimVirq(caller, virq);
    } catch {
      require(false, 'DENIED', `vIRQ ${virq} of VM ${caller} is taken`);
    }
    l.virq = virq;
    l.state = 'ACCEPTED';
    return ok(VM_IRQ_ACCEPT_REPLY.encode({ virqNum: virq }));
  }));

  reg(RmMsgId.VM_IRQ_RELEASE, irq('VM_IRQ_RELEASE', ({ caller, payload }) => {
    const { handle } = VM_IRQ_HANDLE_REQ.decode(payload);
    const l = lends.get(handle);
    require(l !== undefined && l.borrower === caller, 'HANDLE_INVALID', `no IRQ lend ${handle} for VM ${caller}`);
    require(l.state === 'ACCEPTED', 'IN_USE', 'IRQ not accepted');
    unmap(l);
    return OK;
  }));

  reg(RmMsgId.VM_IRQ_RECLAIM, irq('VM_IRQ_RECLAIM', ({ caller, payload }) => {
    const { handle } = VM_IRQ_HANDLE_REQ.decode(payload);
    const l = lends.get(handle);
    require(l !== undefined && l.borrower !== caller, 'HANDLE_INVALID', `no IRQ lend ${handle} to reclaim`);
    require(l.state === 'OFFERED', 'IN_USE', 'IRQ still accepted');
    require(l.owner === caller, 'IRQ_INVALID', `VM ${caller} does not own the IRQ`);
    lends.delete(handle);
    return OK;
  }));

  reg(RmMsgId.VM_IRQ_NOTIFY, irq('VM_IRQ_NOTIFY', ({ caller, payload }) => {
    const head = decodeIrqNotifyHead(payload);
    const l = lends.get(head.handle);
    require(l !== undefined, 'HANDLE_INVALID', `no IRQ lend ${head.handle}`);
    switch (head.flags) {
      case IrqNotifyFlag.LENT: {
        require(caller === l.owner, 'HANDLE_INVALID', 'only the owner notifies LENT');
        require(l.state === 'OFFERED', 'IRQ_INUSE', 'IRQ not OFFERED');
        const vmids = decodeIrqNotifyVmids(payload);
        require(vmids.length <= 1 && (vmids.length === 0 || vmids[0] === l.borrower), 'ARGUMENT_INVALID', 'LENT names another VM');
        ctx.notify(l.borrower, RmNotifId.NOTIFY_VM_IRQ_LENT, NOTIFY_VM_IRQ_LENT_PAYLOAD.encode({ owner: l.owner, virqHandle: l.handle, virqLabel: l.label }));
        return OK;
      }
      case IrqNotifyFlag.RELEASED:
        require(caller === l.borrower, 'HANDLE_INVALID', 'only the borrower notifies RELEASED');
        require(l.state === 'OFFERED', 'IRQ_INUSE', 'IRQ still accepted');
        ctx.notify(l.owner, RmNotifId.NOTIFY_VM_IRQ_RELEASED, NOTIFY_VM_IRQ_OWNER_PAYLOAD.encode({ virqHandle: l.handle }));
        return OK;
      case IrqNotifyFlag.ACCEPTED:
        require(caller === l.borrower, 'HANDLE_INVALID', 'only the borrower notifies ACCEPTED');
        require(l.state === 'ACCEPTED', 'IRQ_RELEASED', 'IRQ not accepted');
        ctx.notify(l.owner, RmNotifId.NOTIFY_VM_IRQ_ACCEPTED, NOTIFY_VM_IRQ_OWNER_PAYLOAD.encode({ virqHandle: l.handle }));
        return OK;
      default:
        require(false, 'ARGUMENT_INVALID', `notify flags ${head.flags}`);
    }
  }));

  // VM_RESET stage 3: IRQs the VM borrowed go back to OFFERED.
  ctx.resetParticipants.releaseIrqs = (vm: RmVm) => {
    for (const l of lends.values()) if (l.borrower === vm.vmid && l.state === 'ACCEPTED') unmap(l);
  };
}
