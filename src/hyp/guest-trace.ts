/**
 * Tracing of guest engines: a wrapper around the boot entry (`BootGuest`) whose engines pass
 * every operation through unchanged and write a `guest.op` record for it as it is produced, and
 * a `guest.exception` record for each synchronous exception thrown into the engine. Used only
 * when the hypervisor has a tracer; without one the engines run unwrapped.
 *
 * Reference: src/guest/api.ts (GuestOp, GuestException, the resume protocol); hypervisor.md §6
 * (what the operations become); docs/tracing.md (`guest.op`, `guest.exception`).
 */
import { GuestException, type BootGuest, type GuestCpu, type GuestOp, type GuestThread } from '../guest/api.js';
import { hx, type GuestOpEvent, type Tracer } from '../shared/trace-events.js';

/** `boot`, with each engine it makes traced as vCPU `cpu.index` of VM `vmid`. */
export function tracedBootGuest(boot: BootGuest, vmid: number, trace: Tracer): BootGuest {
  return (cpu: GuestCpu) => tracedThread(boot(cpu), vmid, cpu.index, trace);
}

function opRecord(vmid: number, vcpu: number, op: GuestOp): GuestOpEvent {
  switch (op.kind) {
    case 'load':
      return { kind: 'guest.op', vmid, vcpu, op: 'load', addr: hx(op.addr), len: op.len };
    case 'store':
      return { kind: 'guest.op', vmid, vcpu, op: 'store', addr: hx(op.addr), len: op.len, value: hx(op.value) };
    case 'fetch':
      return { kind: 'guest.op', vmid, vcpu, op: 'fetch', addr: hx(op.addr), len: op.len };
    case 'hvc':
      return { kind: 'guest.op', vmid, vcpu, op: 'hvc', fn: hx(op.fn >>> 0), args: op.args.map((a) => hx(a)) };
    default:
      return { kind: 'guest.op', vmid, vcpu, op: op.kind };
  }
}

/** A generator-shaped wrapper: next / throw / return go to `inner`; each yielded op is recorded. */
function tracedThread(inner: GuestThread, vmid: number, vcpu: number, trace: Tracer): GuestThread {
  const seen = (step: IteratorResult<GuestOp, void>): IteratorResult<GuestOp, void> => {
    if (step.done !== true) trace.emit(opRecord(vmid, vcpu, step.value));
    return step;
  };
  const wrapper: GuestThread = {
    next: (...args: [] | [bigint]) => seen(inner.next(...args)),
    throw: (e: unknown) => {
      if (e instanceof GuestException) trace.emit({ kind: 'guest.exception', vmid, vcpu, esr: hx(e.esr), far: hx(e.far), why: e.why });
      return seen(inner.throw(e));
    },
    return: (v: void) => inner.return(v),
    [Symbol.iterator]() {
      return wrapper;
    },
  } as GuestThread;
  return wrapper;
}
