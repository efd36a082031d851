/**
 * Fault injection: a plan that makes the nth occurrence of an RM call or of a host hypercall
 * fail with a chosen error, and a per-emulator injector that counts occurrences and records
 * what it fired. The RM server consults it before running a handler (the reply carries the
 * error); the hypervisor consults it before running a host hypercall.
 *
 * Reference: vmm-flows.md §8 (the kernel's fault-injection points: every RM call of VM start,
 * plus the teardown calls). Names of errors are resolved by the layer that answers.
 */

/** One RM call to fail: its message ID, which occurrence (1-based; default 1), and the RM error. */
export interface RmFault {
  readonly msgId: number;
  readonly occurrence?: number;
  /** RM error name ('NOMEM', 'MEM_INUSE', …) or numeric code; checked at createEmulator. */
  readonly error: string | number;
  /** Fail every occurrence from `occurrence` on, not only that one. */
  readonly sticky?: boolean;
}

/** One hypercall to fail: its name ('vcpu_run', 'memextent_donate', …). */
export interface HypercallFault {
  readonly call: string;
  readonly occurrence?: number;
  /** Hypervisor error name ('ERROR_BUSY', …) or numeric code; checked at createEmulator. */
  readonly error: string | number;
  readonly sticky?: boolean;
}

export interface FaultPlan {
  readonly rm?: readonly RmFault[];
  readonly hypercalls?: readonly HypercallFault[];
}

/** A fault that fired. */
export interface FiredFault {
  readonly layer: 'rm' | 'hypercall';
  readonly what: string;
  readonly occurrence: number;
  readonly error: string | number;
}

export class FaultInjector {
  readonly #plan: FaultPlan;
  readonly #rmCounts = new Map<number, number>();
  readonly #hypCounts = new Map<string, number>();
  readonly fired: FiredFault[] = [];

  constructor(plan: FaultPlan = {}) {
    this.#plan = plan;
  }

  /** Count an RM request with `msgId`; the error to answer instead, if the plan says so. */
  rmCall(msgId: number): string | number | undefined {
    if (!this.#plan.rm?.length) return undefined;
    const n = (this.#rmCounts.get(msgId) ?? 0) + 1;
    this.#rmCounts.set(msgId, n);
    const f = this.#plan.rm.find((x) => x.msgId === msgId && matches(x, n));
    if (!f) return undefined;
    this.fired.push({ layer: 'rm', what: `0x${msgId.toString(16)}`, occurrence: n, error: f.error });
    return f.error;
  }

  /** Count a host hypercall; the error to return instead, if the plan says so. */
  hypercall(call: string): string | number | undefined {
    if (!this.#plan.hypercalls?.length) return undefined;
    const n = (this.#hypCounts.get(call) ?? 0) + 1;
    this.#hypCounts.set(call, n);
    const f = this.#plan.hypercalls.find((x) => x.call === call && matches(x, n));
    if (!f) return undefined;
    this.fired.push({ layer: 'hypercall', what: call, occurrence: n, error: f.error });
    return f.error;
  }
}

function matches(f: { occurrence?: number; sticky?: boolean }, n: number): boolean {
  const at = f.occurrence ?? 1;
  return f.sticky ? n >= at : n === at;
}
