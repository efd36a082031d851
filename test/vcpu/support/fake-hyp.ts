// Test support: a HostHypercalls whose vcpu_run answers come from a script, and which records
// every vcpu_run, doorbell and vIRQ call. Memory calls are not used by src/vcpu or src/functions
// and fail loudly.
import type { HostHypercalls, VcpuRunResult } from '../../../src/hyp/host-api.js';
import { VcpuRunState } from '../../../src/hyp/host-api.js';
import { HypErrorCode } from '../../../src/shared/hyp-errors.js';

/** One vcpu_run call as the kernel made it. */
export interface RunCall {
  readonly capid: bigint;
  readonly r0: bigint;
  readonly r1: bigint;
  readonly r2: bigint;
}

/** A scripted answer: a result, or a function of the call (which may have side effects). */
export type RunStep = VcpuRunResult | ((call: RunCall) => VcpuRunResult);

/** Build a vcpu_run result. */
export function ok(state: number, data0 = 0n, data1 = 0n, data2 = 0n): VcpuRunResult {
  return { error: HypErrorCode.OK, state, data0, data1, data2 };
}
export function hypErr(error: number): VcpuRunResult {
  return { error, state: 0, data0: 0n, data1: 0n, data2: 0n };
}
export const mmioRead = (addr: bigint, len: bigint): VcpuRunResult => ok(VcpuRunState.ADDRSPACE_VMMIO_READ, addr, len);
export const mmioWrite = (addr: bigint, len: bigint, value: bigint): VcpuRunResult =>
  ok(VcpuRunState.ADDRSPACE_VMMIO_WRITE, addr, len, value);
export const pageFault = (addr: bigint, write: boolean): VcpuRunResult =>
  ok(VcpuRunState.ADDRSPACE_PAGE_FAULT, addr, write ? 1n : 0n);

export class FakeHyp implements HostHypercalls {
  readonly runCalls: RunCall[] = [];
  readonly script: RunStep[] = [];
  /** Answer once the script is used up; undefined: throw (a test bug). */
  fallback: RunStep | undefined;
  readonly doorbellSends: Array<{ capid: bigint; flags: bigint }> = [];
  readonly doorbellMasks: Array<{ capid: bigint; enable: bigint; ack: bigint }> = [];
  doorbellSendError: number = HypErrorCode.OK;
  doorbellMaskError: number = HypErrorCode.OK;
  readonly #virqs = new Map<number, Set<() => void>>();

  /** Queue answers for the next vcpu_run calls. */
  push(...steps: RunStep[]): this {
    this.script.push(...steps);
    return this;
  }

  vcpuRun(capid: bigint, r0: bigint, r1: bigint, r2: bigint): VcpuRunResult {
    const call = { capid, r0, r1, r2 };
    this.runCalls.push(call);
    const step = this.script.shift() ?? this.fallback;
    if (step === undefined) throw new Error(`vcpu_run script exhausted at call ${this.runCalls.length}`);
    return typeof step === 'function' ? step(call) : step;
  }

  doorbellSend(capid: bigint, newFlags: bigint): { error: number; oldFlags: bigint } {
    this.doorbellSends.push({ capid, flags: newFlags });
    return { error: this.doorbellSendError, oldFlags: 0n };
  }

  doorbellMask(capid: bigint, enableMask: bigint, ackMask: bigint): number {
    this.doorbellMasks.push({ capid, enable: enableMask, ack: ackMask });
    return this.doorbellMaskError;
  }

  onVirq(virq: number, handler: () => void): () => void {
    let set = this.#virqs.get(virq);
    if (set === undefined) this.#virqs.set(virq, (set = new Set()));
    set.add(handler);
    return () => void set.delete(handler);
  }

  /** Assert host vIRQ `virq` (runs its handlers synchronously). */
  raiseVirq(virq: number): void {
    for (const h of [...(this.#virqs.get(virq) ?? [])]) h();
  }

  /** Handlers subscribed to `virq`. */
  virqHandlers(virq: number): number {
    return this.#virqs.get(virq)?.size ?? 0;
  }

  memextentDonate(): number {
    throw new Error('not used by vcpu/functions');
  }
  addrspaceMap(): number {
    throw new Error('not used by vcpu/functions');
  }
  addrspaceUnmap(): number {
    throw new Error('not used by vcpu/functions');
  }
  readMemory(): Uint8Array {
    throw new Error('not used by vcpu/functions');
  }
  writeMemory(): void {
    throw new Error('not used by vcpu/functions');
  }
  probeMemory(): 'unmapped' | 'permission' | undefined {
    throw new Error('not used by vcpu/functions');
  }
}
