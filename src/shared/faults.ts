/**
 * Fault injection: a plan that makes the nth occurrence of an RM call or of a host hypercall
 * fail with a chosen error, forces raw vcpu_run answers, or rewrites the RM's VM_EXITED
 * notifications; and a per-emulator injector that counts occurrences, records what it fired and
 * writes a `fault.injected` trace record for each. The RM server consults it before running a
 * handler (the reply carries the error) and before sending VM_EXITED; the hypervisor consults it
 * before running a host hypercall, and vcpu_run after the capability check.
 *
 * Reference: vmm-flows.md §8 (the kernel's fault-injection points: every RM call of VM start,
 * plus the teardown calls); hypervisor.md §6 (vcpu_run states and data words); uapi.md §8.5
 * (what Linux does with each state: unknown ones spin, QUIRK K14), §8.10 (VM_EXITED: exit type
 * and reason size copied unchecked, QUIRK K15); rm-rpc.md §13 (NOTIFY_VM_EXITED layout). Names
 * of errors are resolved by the layer that answers.
 */
import { hx, type Tracer } from './trace-events.js';

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

/** A 64-bit word of a forced answer: bigint, or a non-negative safe integer. */
export type FaultWord = bigint | number;

/**
 * One vcpu_run to answer with a raw state instead of running the guest (hypervisor.md §6). The
 * entry counts the vcpu_run calls that pass the capability check and match `vmid` / `vcpu`
 * (either may be left out: any); the `occurrence`-th of them (1-based; default 1), or every one
 * from it on when `sticky`, returns error OK, `state` and `stateData` (default zeros).
 * Examples: an unknown state (0x55, FAULT 6, PSCI_SYSTEM_RESET 0x100: Linux spins, QUIRK K14);
 * ADDRSPACE_VMMIO_READ 4 with an access size over 8 (Linux clamps it); ADDRSPACE_PAGE_FAULT 7
 * at an address no binding covers.
 */
export interface VcpuRunFault {
  readonly vmid?: number;
  /** The vCPU's affinity index. */
  readonly vcpu?: number;
  readonly occurrence?: number;
  readonly sticky?: boolean;
  /** The state word (u32). */
  readonly state: number;
  /** state_data_0..2 (u64 each). */
  readonly stateData?: readonly [FaultWord, FaultWord, FaultWord];
}

/**
 * One NOTIFY_VM_EXITED the RM sends, rewritten (rm-rpc.md §13): the `occurrence`-th (1-based;
 * default 1) VM_EXITED for `vmid` (any VM when left out), or every one from it on when
 * `sticky`. `exitType` replaces the exit type (u16); `reason` replaces the reason bytes, and
 * exit_reason_size becomes their count, so a size that is not a whole number of words (2), none
 * (0), or more than the kernel keeps (16: QUIRK K15) can be sent.
 */
export interface VmExitedFault {
  readonly vmid?: number;
  readonly occurrence?: number;
  readonly sticky?: boolean;
  readonly exitType?: number;
  /** The reason bytes (each 0..255). */
  readonly reason?: readonly number[];
}

export interface FaultPlan {
  readonly rm?: readonly RmFault[];
  readonly hypercalls?: readonly HypercallFault[];
  /** Forced vcpu_run answers. */
  readonly vcpuRun?: readonly VcpuRunFault[];
  /** Rewritten VM_EXITED notifications. */
  readonly vmExited?: readonly VmExitedFault[];
}

/** A fault that fired. */
export interface FiredFault {
  readonly layer: 'rm' | 'hypercall' | 'vcpu_run' | 'vm_exited';
  readonly what: string;
  readonly occurrence: number;
  readonly error: string | number;
}

/** What a forced vcpu_run answers (error OK). */
export interface ForcedVcpuRun {
  readonly state: number;
  readonly data0: bigint;
  readonly data1: bigint;
  readonly data2: bigint;
}

/** What a rewritten VM_EXITED carries instead (fields left out keep the RM's). */
export interface ExitedRewrite {
  readonly exitType?: number;
  readonly reason?: Uint8Array;
}

export class FaultInjector {
  readonly #plan: FaultPlan;
  readonly #rmCounts = new Map<number, number>();
  readonly #hypCounts = new Map<string, number>();
  /** Per plan entry: matching calls counted so far. */
  readonly #vcpuRunCounts: number[];
  readonly #vmExitedCounts: number[];
  readonly #trace: Tracer | undefined;
  readonly fired: FiredFault[] = [];
  /** True when the plan forces vcpu_run answers (the run path asks only then). */
  readonly forcesVcpuRun: boolean;

  constructor(plan: FaultPlan = {}, trace?: Tracer) {
    this.#plan = plan;
    this.#trace = trace;
    this.#vcpuRunCounts = (plan.vcpuRun ?? []).map(() => 0);
    this.#vmExitedCounts = (plan.vmExited ?? []).map(() => 0);
    this.forcesVcpuRun = this.#vcpuRunCounts.length > 0;
  }

  /** Count an RM request with `msgId`; the error to answer instead, if the plan says so. */
  rmCall(msgId: number): string | number | undefined {
    if (!this.#plan.rm?.length) return undefined;
    const n = (this.#rmCounts.get(msgId) ?? 0) + 1;
    this.#rmCounts.set(msgId, n);
    const f = this.#plan.rm.find((x) => x.msgId === msgId && matches(x, n));
    if (!f) return undefined;
    this.#fire({ layer: 'rm', what: hx(msgId), occurrence: n, error: f.error });
    return f.error;
  }

  /** Count a host hypercall; the error to return instead, if the plan says so. */
  hypercall(call: string): string | number | undefined {
    if (!this.#plan.hypercalls?.length) return undefined;
    const n = (this.#hypCounts.get(call) ?? 0) + 1;
    this.#hypCounts.set(call, n);
    const f = this.#plan.hypercalls.find((x) => x.call === call && matches(x, n));
    if (!f) return undefined;
    this.#fire({ layer: 'hypercall', what: call, occurrence: n, error: f.error });
    return f.error;
  }

  /**
   * Count a vcpu_run of vCPU `vcpu` (affinity index) of VM `vmid` against every entry that
   * matches it; the raw answer to give instead of running the guest, if one fires (the first
   * entry in plan order).
   */
  vcpuRun(vmid: number, vcpu: number): ForcedVcpuRun | undefined {
    const list = this.#plan.vcpuRun;
    if (list === undefined) return undefined;
    let hit: { f: VcpuRunFault; n: number } | undefined;
    list.forEach((f, i) => {
      if ((f.vmid !== undefined && f.vmid !== vmid) || (f.vcpu !== undefined && f.vcpu !== vcpu)) return;
      const n = ++this.#vcpuRunCounts[i]!;
      if (hit === undefined && matches(f, n)) hit = { f, n };
    });
    if (hit === undefined) return undefined;
    const d = hit.f.stateData ?? [0n, 0n, 0n];
    const forced: ForcedVcpuRun = { state: hit.f.state, data0: BigInt(d[0]), data1: BigInt(d[1]), data2: BigInt(d[2]) };
    this.#fire({
      layer: 'vcpu_run',
      what: `vm ${hx(vmid)} vcpu ${vcpu}`,
      occurrence: hit.n,
      error: `state ${hx(forced.state)} data ${hx(forced.data0)},${hx(forced.data1)},${hx(forced.data2)}`,
    });
    return forced;
  }

  /** Count a NOTIFY_VM_EXITED the RM is about to send for `vmid`; the rewrite, if one fires. */
  vmExited(vmid: number): ExitedRewrite | undefined {
    const list = this.#plan.vmExited;
    if (list === undefined) return undefined;
    let hit: { f: VmExitedFault; n: number } | undefined;
    list.forEach((f, i) => {
      if (f.vmid !== undefined && f.vmid !== vmid) return;
      const n = ++this.#vmExitedCounts[i]!;
      if (hit === undefined && matches(f, n)) hit = { f, n };
    });
    if (hit === undefined) return undefined;
    const { f } = hit;
    const rewrite: ExitedRewrite = {
      ...(f.exitType !== undefined ? { exitType: f.exitType } : {}),
      ...(f.reason !== undefined ? { reason: Uint8Array.from(f.reason) } : {}),
    };
    const parts = [
      ...(f.exitType !== undefined ? [`exit_type ${hx(f.exitType)}`] : []),
      ...(f.reason !== undefined ? [`reason_size ${f.reason.length}`] : []),
    ];
    this.#fire({ layer: 'vm_exited', what: `vm ${hx(vmid)}`, occurrence: hit.n, error: parts.join(' ') || 'unchanged' });
    return rewrite;
  }

  #fire(f: FiredFault): void {
    this.fired.push(f);
    this.#trace?.emit({ kind: 'fault.injected', layer: f.layer, what: f.what, occurrence: f.occurrence, error: f.error });
  }
}

function matches(f: { occurrence?: number; sticky?: boolean }, n: number): boolean {
  const at = f.occurrence ?? 1;
  return f.sticky ? n >= at : n === at;
}
