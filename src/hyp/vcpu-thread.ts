/**
 * One vCPU thread of a guest VM, as the hypervisor keeps it between two `vcpu_run` calls: its
 * power state, the guest engine running on it (started lazily at the first run after a
 * power-on), what it waits for (an MMIO resume, a page-fault retry, an interrupt), the next
 * input of its engine, its run lock and the host vIRQ that wakes its proxy scheduler.
 *
 * Reference: hypervisor.md §6 (proxy-scheduled vCPUs: wakeup vIRQ, POWERED_OFF `exited` flag,
 * the run states a vCPU can be left in), §6 related calls (vcpu_poweron: entry and context in
 * X0), vmm-flows.md §6.1 (secondary vCPUs stay off until PSCI CPU_ON).
 *
 *            powerOn (VM start, CPU_ON)              exit (SYSTEM_OFF/RESET, fault, VM stop)
 *   off ─────────────────────────────▶ on ─────────────────────────────────────▶ exited
 *    ▲                                  │                                  kill
 *    └──────── powerOff (CPU_OFF, ──────┘            any ────────────────────────▶ killed
 *              engine finished)
 *
 * The thread's engine is a `GuestThread` generator (src/guest/api.ts). This file holds state
 * only; vcpu-run.ts drives it.
 */
import type { GuestCpu, GuestException, GuestOp, GuestThread } from '../guest/api.js';
import type { HypObject } from './objects.js';

/** Power state: `exited` = terminated until the VM resets; `killed` = vcpu_kill. */
export type VcpuPower = 'off' | 'on' | 'exited' | 'killed';

/** Loads and stores: the operations that can trap to the host. */
export type DataOp = Extract<GuestOp, { kind: 'load' | 'store' }>;

/** What a stopped vCPU waits for; consumed by the next `vcpu_run`. */
export type VcpuAwait =
  /** A VMMIO read or write exit: the resume words say how it ends (hypervisor.md §6). */
  | { readonly kind: 'vmmio'; readonly op: DataOp }
  /** A page-fault exit: the access is re-executed (the host provided memory, or not). */
  | { readonly kind: 'page-fault'; readonly op: GuestOp }
  /** `wfi` with nothing pending: continues once an interrupt is pending. */
  | { readonly kind: 'wfi' };

/** The next thing fed to the guest engine. */
export type GuestInput =
  /** Resume the generator with a value (the previous operation's result). */
  | { readonly kind: 'value'; readonly value: bigint }
  /** Throw a synchronous exception into the generator. */
  | { readonly kind: 'throw'; readonly exc: GuestException }
  /** Execute this operation again without resuming the generator (RETRY, page-fault retry). */
  | { readonly kind: 'replay'; readonly op: GuestOp };

/** Where a vCPU's wakeup vIRQ goes: vIRQ `virq` of VM `vmid` (its owner, the host). */
export interface WakeupLine {
  readonly vmid: number;
  readonly virq: number;
}

/** The `GuestCpu` an engine sees (src/guest/api.ts); `fetched` is written by the driver. */
export class VcpuCpu implements GuestCpu {
  fetched: Uint8Array = new Uint8Array(0);

  constructor(
    readonly index: number,
    readonly entry: number,
    readonly context: bigint,
    readonly bootRegs: ReadonlyMap<number, bigint>,
    readonly vmShared: Map<string, unknown>,
  ) {}
}

const START: GuestInput = { kind: 'value', value: 0n };
const NO_REGS: ReadonlyMap<number, bigint> = new Map();

export class VcpuThread {
  /** vCPU affinity index (MPIDR Aff0 for proxy scheduling; the VCPU resource label). */
  readonly index: number;
  /** MPIDR as the RM configured it (the cpu node's `reg`), or the index when absent. */
  readonly mpidr: bigint;
  power: VcpuPower = 'off';
  /** Entry PC and X0 of the current power-on. */
  entry = 0;
  context = 0n;
  /** Boot-context registers (the boot vCPU's first power-on only). */
  bootRegs: ReadonlyMap<number, bigint> = NO_REGS;
  /** The engine, once started. */
  guest: GuestThread | undefined;
  cpu: VcpuCpu | undefined;
  input: GuestInput = START;
  awaiting: VcpuAwait | undefined;
  /** Run lock: set while a `vcpu_run` of this vCPU is in progress. */
  running = false;
  /** The host vIRQ asserted when this vCPU becomes runnable (vcpu_bind_virq VCPU_RUN_WAKEUP). */
  wakeup: WakeupLine | undefined;
  /** Why the engine died (a FAULT), for diagnostics. */
  lastFault: unknown;

  constructor(readonly object: HypObject) {
    const idx = object.attrs['affinityIndex'];
    this.index = typeof idx === 'number' ? idx : typeof idx === 'bigint' ? Number(idx) : 0;
    const mpidr = object.attrs['mpidr'];
    this.mpidr = typeof mpidr === 'bigint' ? mpidr : typeof mpidr === 'number' ? BigInt(mpidr) : BigInt(this.index);
  }

  /** vcpu_poweron / PSCI CPU_ON: a fresh engine starts at `entry` with X0 = `context` at the next run. */
  powerOn(entry: number, context: bigint, bootRegs: ReadonlyMap<number, bigint> = NO_REGS): void {
    this.#drop();
    this.power = 'on';
    this.entry = entry;
    this.context = context;
    this.bootRegs = bootRegs;
  }

  /** PSCI CPU_OFF (recoverable: a later CPU_ON starts it again). */
  powerOff(): void {
    this.#drop();
    this.power = 'off';
  }

  /** Terminated: POWERED_OFF with the `exited` flag until the VM resets. */
  exit(): void {
    this.#drop();
    if (this.power !== 'killed') this.power = 'exited';
  }

  /** vcpu_kill: later `vcpu_run` calls fail with ERROR_OBJECT_STATE. */
  kill(): void {
    this.#drop();
    this.power = 'killed';
  }

  /** True while the vCPU sleeps in `wfi` waiting for an interrupt. */
  get waitingForInterrupt(): boolean {
    return this.power === 'on' && this.awaiting?.kind === 'wfi';
  }

  #drop(): void {
    this.guest = undefined;
    this.cpu = undefined;
    this.input = START;
    this.awaiting = undefined;
  }
}
