/**
 * VM console handlers: OPEN, CLOSE, FLUSH, WRITE, and NOTIFY_VM_CONSOLE_CHARS to the other side.
 *
 * Reference: rm-rpc.md §12.7, §13 (from = the VM's vmid when it wrote to its own console, 0
 * when the owner wrote), §17 #6 (WRITE under 4 bytes reads out of bounds in the real RM).
 * Every VM gets a console at VM_INIT; HLOS has none (docs/decisions.md).
 */
import { RmMsgId, RmNotifId } from '../../wire/msg-ids.js';
import { CONSOLE_TARGET_REQ, CONSOLE_WRITE_REQ } from '../../wire/console.js';
import { NOTIFY_VM_CONSOLE_CHARS_PAYLOAD } from '../../wire/notifications.js';
import { OK, RmAssertion, type RmContext, type Register } from '../context.js';
import type { ConsoleState, RmVm } from '../vm-record.js';
import { require } from './refusal.js';

interface ConsoleAccess {
  readonly vm: RmVm;
  readonly console: ConsoleState;
  /** True when the caller is the VM itself; false when it is the owner. */
  readonly self: boolean;
}

function consoleFor(ctx: RmContext, caller: number, target: number): ConsoleAccess {
  const vm = ctx.vms.get(target === 0 ? caller : target);
  require(vm?.console !== undefined, 'ARGUMENT_INVALID', 'no console');
  require(target === 0 || target === caller || vm.owner === caller, 'DENIED', 'not the console owner');
  return { vm, console: vm.console, self: vm.vmid === caller };
}

export function registerConsoleHandlers(ctx: RmContext, reg: Register): void {
  reg(RmMsgId.VM_CONSOLE_OPEN, ({ caller, payload }) => {
    const a = consoleFor(ctx, caller, CONSOLE_TARGET_REQ.decode(payload).target);
    if (a.self) a.console.vmOpen = true;
    else a.console.ownerOpen = true;
    return OK;
  });
  reg(RmMsgId.VM_CONSOLE_CLOSE, ({ caller, payload }) => {
    const a = consoleFor(ctx, caller, CONSOLE_TARGET_REQ.decode(payload).target);
    if (a.self) a.console.vmOpen = false;
    else a.console.ownerOpen = false;
    return OK;
  });
  reg(RmMsgId.VM_CONSOLE_FLUSH, ({ caller, payload }) => {
    const a = consoleFor(ctx, caller, CONSOLE_TARGET_REQ.decode(payload).target);
    require(a.self ? a.console.vmOpen : a.console.ownerOpen, 'DENIED', "the caller's side is not open");
    return OK;
  });
  reg(RmMsgId.VM_CONSOLE_WRITE, ({ caller, payload }) => {
    if (payload.byteLength < 4) throw new RmAssertion(`VM_CONSOLE_WRITE of ${payload.byteLength} bytes read out of bounds`, 'MSG_INVALID');
    const req = CONSOLE_WRITE_REQ.decode(payload);
    const a = consoleFor(ctx, caller, req.target);
    require(a.self ? a.console.vmOpen : a.console.ownerOpen, 'DENIED', "the caller's side is not open");
    const otherOpen = a.self ? a.console.ownerOpen : a.console.vmOpen;
    if (!otherOpen) return OK; // dropped
    const to = a.self ? a.vm.owner : a.vm.vmid;
    ctx.notify(to, RmNotifId.NOTIFY_VM_CONSOLE_CHARS, NOTIFY_VM_CONSOLE_CHARS_PAYLOAD.encode({ from: a.self ? a.vm.vmid : 0, data: req.data }));
    return OK;
  });
}
