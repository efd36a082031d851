/**
 * The hypervisor's object and capability model, as far as the RM and the host need it:
 * objects (vCPU threads, doorbells, message queues, address spaces, memory extents) owned by a
 * partition, per-VM capability spaces handing out 64-bit capids, and per-VM vIRQ numbers; plus
 * the machinery behind them: guest VMs and their proxy-scheduled vCPUs (`vcpuRun`), doorbells,
 * vIRQ delivery, and the host VM's hypercall surface (`host`).
 *
 * Reference: hypervisor.md §2 (calls), §4 (message queues), §5 (doorbells), §6 (vcpu_run),
 * §7–§8 (VMMIO, memory), §9.4 (vIRQ numbers Linux can translate: SPI 32..1019, ESPI
 * 4096..5119), §10 (capability rights). The RM's free-IRQ range for the host starts at 960
 * (rm-rpc.md §1, `qcom,free-irq-start`).
 *
 *   RM ──createObject/grantCap/bind*Virq/startVm/stopVm/setDemandPaging──▶ Hypervisor
 *   host kernel ──hyp.host (HostHypercalls, VM 3's cspace)──────────────────▶   │
 *                                       GuestVm (per VM) ◀── vcpuRun ─────────────┤
 *                                         └ VcpuThread (per 'vcpu' object) ──▶ guest engine
 *   events: 'vm-exit' (guest-caused exits, for the RM), 'vcpu-state' (each vcpu_run answer)
 *
 * No module-level state: one Hypervisor per emulator.
 */
import { EventEmitter } from 'eventemitter3';
import { bootGuest as defaultBootGuest } from '../guest/boot.js';
import type { BootGuest } from '../guest/api.js';
import { createMsgqPair, type QueueEndpoint } from '../msgq/endpoint.js';
import { RM_MSGQ_CONFIG, type MsgQueueConfig } from '../msgq/msgqueue.js';
import type { FaultInjector } from '../shared/faults.js';
import { HypError, HypErrorCode, isHypError } from '../shared/hyp-errors.js';
import { silentLogger, type Logger } from '../shared/log.js';
import type { Tracer } from '../shared/trace-events.js';
import { Doorbell } from './doorbell.js';
import { tracedBootGuest } from './guest-trace.js';
import { GuestVm, type DemandPagingRange } from './guest-vm.js';
import type { HostHypercalls, VcpuRunResult } from './host-api.js';
import { HostHypercallsImpl } from './host-hypercalls.js';
import { Access, type ExtentId, type MemoryModel } from './memory/api.js';
import { createMemoryModel } from './memory/memory-model.js';
import { CapRights, type HypObject, type HypObjectType } from './objects.js';
import { VmExitType } from './psci.js';
import { DEFAULT_RUN_BUDGET, runVcpu, type RunEnv } from './vcpu-run.js';
import type { VcpuThread } from './vcpu-thread.js';
import { VirqLines } from './virq-lines.js';

export type { HypObject, HypObjectType } from './objects.js';

interface Cap {
  readonly capid: bigint;
  readonly object: HypObject;
  readonly rights: number;
}

/** First vIRQ the RM hands out to a VM (rm-rpc.md §1, qcom,free-irq-start). */
export const FREE_VIRQ_START = 960;
const SPI_END = 1019;
const ESPI_START = 4096;
const ESPI_END = 5119;
/** First capid of every capability space (an arbitrary, recognisable base). */
const CAPID_BASE = 0x100n;

/** A range of RAM, in bytes (4 KiB aligned). */
export interface RamRange {
  readonly base: number;
  readonly size: number;
}

/** Default RAM: 512 GiB at 2 GiB, all the host's (room for a 64 GiB guest many times over). */
export const DEFAULT_RAM: readonly RamRange[] = [{ base: 0x8000_0000, size: 512 * 2 ** 30 }];

export interface HypervisorOptions {
  /** Physical cores. */
  readonly cpus: number;
  /** The machine's RAM; it all starts as the host VM's, identity-mapped RWX in its stage 2. */
  readonly ram?: readonly RamRange[];
  /** The host VM (HLOS, 3). */
  readonly hostVmid?: number;
  /** Fault injection of the host's hypercalls (src/shared/faults.ts). */
  readonly faults?: FaultInjector;
  /** Guest operations one `vcpu_run` executes before answering READY (default 1024). */
  readonly vcpuRunBudget?: number;
  /** What every vCPU runs at its first run after a power-on (default: src/guest/boot.ts). */
  readonly bootGuest?: BootGuest;
  /** Parent logger (a child `{ layer: 'hyp' }` is made of it). */
  readonly log?: Logger;
  /**
   * Where trace records go (docs/tracing.md): the host's hypercalls (`vcpu.state`, `hyp.call`)
   * and every guest engine's operations (`guest.op`, `guest.exception`). None: no tracing cost.
   */
  readonly trace?: Tracer;
}

/** Trigger mode of a bound vIRQ: a level source's edge-only assertions are ignored. */
export type VirqTrigger = 'level' | 'edge';

/** One `vcpu_run` answer, for traces. */
export interface VcpuStateEvent {
  readonly vmid: number;
  /** The vCPU's affinity index. */
  readonly vcpu: number;
  readonly objectId: number;
  readonly result: VcpuRunResult;
}

/** Events of the hypervisor (eventemitter3). */
export interface HypervisorEvents {
  /**
   * A guest caused its VM to exit (PSCI SYSTEM_OFF / SYSTEM_RESET / SYSTEM_RESET2, or a vCPU
   * whose engine crashed). `exitType` and `reasonWords` as in rm-rpc.md §15.5 (the RM sets the
   * crash-message exit code). Emitted synchronously from inside `vcpu_run`.
   */
  'vm-exit': (vmid: number, exitType: number, reasonWords: number[]) => void;
  /** Every answer of `vcpu_run` (after the call, before it returns). */
  'vcpu-state': (ev: VcpuStateEvent) => void;
  /** A host donate / map / unmap succeeded (emitted only when tracing, for the memory counters). */
  'memory-changed': () => void;
}

/** What `startVm` needs. */
export interface StartVmOptions {
  /** The vCPU that boots (default: the 'vcpu' object with the lowest affinity index). */
  readonly bootVcpu?: HypObject;
  /** Boot context (key `set << 8 | index`, uapi.md §4): PC = key 0x100, X0 = key 0x000. */
  readonly bootRegs?: ReadonlyMap<number, bigint>;
}

/** Boot-context keys (register set << 8 | index): X0 and PC. */
const BOOT_REG_X0 = 0x000;
const BOOT_REG_PC = 0x100;

export class Hypervisor {
  readonly cpus: number;
  #nextObject = 1;
  readonly #objects = new Map<number, HypObject>();
  /** vmid → capid → cap */
  readonly #cspaces = new Map<number, Map<bigint, Cap>>();
  readonly #nextCap = new Map<number, bigint>();
  /** vmid → vIRQs in use */
  readonly #virqs = new Map<number, Set<number>>();

  /** Physical memory: extents, address spaces, contents. */
  readonly memory: MemoryModel;
  /** The extent holding the host's RAM. */
  readonly hostExtent: ExtentId;
  readonly ram: readonly RamRange[];
  readonly #ownExtents = new Map<number, ExtentId>();

  /** The host VM's id (HLOS, 3). */
  readonly hostVmid: number;
  /** Guest exits and vCPU run answers. */
  readonly events = new EventEmitter<HypervisorEvents>();
  /** The host VM's hypercalls (its cspace, its stage 2). */
  readonly host: HostHypercalls;
  readonly #faults: FaultInjector | undefined;
  readonly #budget: number;
  readonly #bootGuest: BootGuest;
  readonly #log: Logger;
  readonly #trace: Tracer | undefined;
  /** Guest VMs' hypervisor state, by vmid. */
  readonly #vms = new Map<number, GuestVm>();
  /** Each guest VM's `vcpu_run` environment (no closures made per run); goes with its GuestVm. */
  readonly #runEnvs = new WeakMap<GuestVm, RunEnv>();
  /** Doorbell state, by object id (created on first use). */
  readonly #doorbells = new Map<number, Doorbell>();
  readonly #lines = new VirqLines();

  constructor(opts: HypervisorOptions) {
    this.cpus = opts.cpus;
    this.ram = opts.ram ?? DEFAULT_RAM;
    const host = opts.hostVmid ?? 3;
    this.hostVmid = host;
    this.#faults = opts.faults;
    const budget = opts.vcpuRunBudget ?? DEFAULT_RUN_BUDGET;
    if (!Number.isSafeInteger(budget) || budget < 1) throw new RangeError(`vcpuRunBudget must be ≥ 1, got ${budget}`);
    this.#budget = budget;
    this.#bootGuest = opts.bootGuest ?? defaultBootGuest;
    this.#log = (opts.log ?? silentLogger()).child({ layer: 'hyp' });
    this.#trace = opts.trace;
    this.memory = createMemoryModel();
    // The host's RAM is mapped into the host and into every guest that shares a page of it.
    this.hostExtent = this.memory.createExtent(host, 'host-ram', { unlimitedAddrspaces: true });
    this.#ownExtents.set(host, this.hostExtent);
    for (const r of this.ram) {
      this.memory.addRam(this.hostExtent, r.base, r.size);
      this.memory.map(host, this.hostExtent, r.base, r.base, r.size, Access.RWX);
    }
    this.host = new HostHypercallsImpl({
      hostVmid: host,
      memory: this.memory,
      faults: this.#faults,
      lookupCap: (vmid, capid, type, rights) => this.lookupCap(vmid, capid, type, rights),
      vcpuRun: (o, r0, r1, r2) => this.vcpuRun(o, r0, r1, r2),
      doorbell: (o) => this.doorbell(o),
      extentOf: (o) => this.extentOf(o),
      findVm: (vmid) => this.#vms.get(vmid),
      onVirq: (vmid, virq, h) => this.#lines.on(vmid, virq, h),
      ...(opts.trace ? { trace: opts.trace, memoryChanged: () => void this.events.emit('memory-changed') } : {}),
    });
  }

  /**
   * Memory guest VM `vmid` holds (for the `mem.lent` counters): `lent` = bytes it owns (lent or
   * donated to it), `shared` = bytes of other VMs' extents mapped into its stage 2.
   */
  memoryHeld(vmid: number): { lent: number; shared: number } {
    const lent = this.memory.ownership().get(vmid) ?? 0;
    const own = new Set(this.memory.extents().filter((e) => e.ownerVmid === vmid).map((e) => e.id));
    let shared = 0;
    for (const m of this.memory.mappingsOf(vmid)) if (!own.has(m.extent)) shared += m.size;
    return { lent, shared };
  }

  /** The extent that holds `vmid`'s own memory (an empty one is created on first use). */
  ownExtent(vmid: number): ExtentId {
    let e = this.#ownExtents.get(vmid);
    if (e === undefined) {
      e = this.memory.createExtent(vmid, `vm-${vmid}-private`);
      this.#ownExtents.set(vmid, e);
    }
    return e;
  }

  /** Drop `vmid`'s own extent if it holds nothing (VM deallocation). */
  releaseOwnExtent(vmid: number): void {
    const e = this.#ownExtents.get(vmid);
    if (e === undefined || e === this.hostExtent) return;
    const info = this.memory.extents().find((x) => x.id === e);
    if (info && info.bytes === 0 && info.mappings === 0) {
      this.memory.destroyExtent(e);
      this.#ownExtents.delete(vmid);
    }
  }

  /** Create an object belonging to `vmid`. */
  createObject(type: HypObjectType, vmid: number, attrs: HypObject['attrs'] = {}): HypObject {
    const o: HypObject = { id: this.#nextObject++, type, vmid, attrs };
    this.#objects.set(o.id, o);
    return o;
  }

  /** Destroy an object and revoke every capability to it (a vCPU's thread and a doorbell's state go with it). */
  destroyObject(o: HypObject): void {
    this.#objects.delete(o.id);
    if (o.type === 'vcpu') this.#vms.get(o.vmid)?.dropThread(o);
    if (o.type === 'doorbell') {
      this.#doorbells.get(o.id)?.reset();
      this.#doorbells.delete(o.id);
    }
    for (const cs of this.#cspaces.values()) {
      for (const [capid, cap] of cs) if (cap.object === o) cs.delete(capid);
    }
  }

  /** Give `vmid` a capability to `o` with `rights`; returns its capid in that VM's cspace. */
  grantCap(vmid: number, o: HypObject, rights: number): bigint {
    let cs = this.#cspaces.get(vmid);
    if (!cs) this.#cspaces.set(vmid, (cs = new Map()));
    const capid = this.#nextCap.get(vmid) ?? CAPID_BASE;
    this.#nextCap.set(vmid, capid + 1n);
    cs.set(capid, { capid, object: o, rights });
    return capid;
  }

  /**
   * Find the object behind `capid` in `vmid`'s cspace, checking its type and rights.
   * @throws HypError ERROR_CSPACE_CAP_NULL, _WRONG_OBJECT_TYPE, _INSUFFICIENT_RIGHTS
   */
  lookupCap(vmid: number, capid: bigint, type: HypObjectType, rights = 0): HypObject {
    const cap = this.#cspaces.get(vmid)?.get(capid);
    if (!cap) throw new HypError('ERROR_CSPACE_CAP_NULL', `capid 0x${capid.toString(16)}`);
    if (cap.object.type !== type) throw new HypError('ERROR_CSPACE_WRONG_OBJECT_TYPE');
    if ((cap.rights & rights) !== rights) throw new HypError('ERROR_CSPACE_INSUFFICIENT_RIGHTS');
    return cap.object;
  }

  /** Allocate a free vIRQ number in `vmid`'s interrupt space (960..1019, then 4096..5119). */
  allocVirq(vmid: number): number {
    let used = this.#virqs.get(vmid);
    if (!used) this.#virqs.set(vmid, (used = new Set()));
    for (let v = FREE_VIRQ_START; v <= SPI_END; v++) if (!used.has(v)) return used.add(v), v;
    for (let v = ESPI_START; v <= ESPI_END; v++) if (!used.has(v)) return used.add(v), v;
    throw new HypError('ERROR_NORESOURCES', `no free vIRQ for VM ${vmid}`);
  }

  /** Reserve a specific vIRQ (a DT-given SPI). @throws HypError ERROR_VIRQ_BOUND when taken. */
  claimVirq(vmid: number, virq: number): void {
    let used = this.#virqs.get(vmid);
    if (!used) this.#virqs.set(vmid, (used = new Set()));
    if (used.has(virq)) throw new HypError('ERROR_VIRQ_BOUND', `vIRQ ${virq} of VM ${vmid}`);
    used.add(virq);
  }

  freeVirq(vmid: number, virq: number): void {
    this.#virqs.get(vmid)?.delete(virq);
  }

  /**
   * Create the two message queues of a full-duplex link between VMs `a` and `b`
   * (msgqueue objects plus a connected endpoint pair).
   */
  createMsgqLink(a: number, b: number, cfg: MsgQueueConfig = RM_MSGQ_CONFIG): {
    readonly objects: readonly [HypObject, HypObject];
    readonly endpoints: readonly [QueueEndpoint, QueueEndpoint];
  } {
    const ab = this.createObject('msgqueue', a, { peer: b, depth: cfg.depth, maxMsgSize: cfg.maxMsgSize });
    const ba = this.createObject('msgqueue', b, { peer: a, depth: cfg.depth, maxMsgSize: cfg.maxMsgSize });
    return { objects: [ab, ba], endpoints: createMsgqPair(cfg) };
  }

  /** Counts for invariant checks and inspection. */
  stats(): { objects: number; caps: number; virqs: number } {
    let caps = 0;
    for (const cs of this.#cspaces.values()) caps += cs.size;
    let virqs = 0;
    for (const s of this.#virqs.values()) virqs += s.size;
    return { objects: this.#objects.size, caps, virqs };
  }

  /** Objects belonging to `vmid`. */
  objectsOf(vmid: number): HypObject[] {
    return [...this.#objects.values()].filter((o) => o.vmid === vmid);
  }

  // ── guest VMs ───────────────────────────────────────────────────────────

  /** The hypervisor's state of guest VM `vmid` (created on first use). */
  vm(vmid: number): GuestVm {
    let vm = this.#vms.get(vmid);
    if (!vm) {
      vm = new GuestVm(vmid, {
        vcpuObjects: (id) => this.objectsOf(id).filter((o) => o.type === 'vcpu'),
        fireVirq: (id, virq) => this.assertVirq(id, virq),
      });
      this.#vms.set(vmid, vm);
    }
    return vm;
  }

  /** The state of guest VM `vmid`, if it has any. */
  findVm(vmid: number): GuestVm | undefined {
    return this.#vms.get(vmid);
  }

  /** Forget guest VM `vmid`'s state (VM reset or deallocation): threads, ranges, marks. */
  dropVm(vmid: number): void {
    this.#vms.delete(vmid);
  }

  /**
   * VM_SET_DEMAND_PAGING: the IPA ranges of `vmid` where an unmapped (or wrongly mapped) access
   * is a page fault for the host (state 7) rather than VMMIO. Replaces earlier ranges.
   * @throws HypError ERROR_ARGUMENT_INVALID for a negative, non-integer or unsafe range
   */
  setDemandPaging(vmid: number, ranges: ReadonlyArray<{ readonly base: bigint | number; readonly size: bigint | number }>): void {
    const out: DemandPagingRange[] = ranges.map((r) => {
      const base = Number(r.base);
      const size = Number(r.size);
      if (!Number.isSafeInteger(base) || base < 0 || !Number.isSafeInteger(size) || size < 0 || !Number.isSafeInteger(base + size)) {
        throw new HypError('ERROR_ARGUMENT_INVALID', `demand-paging range ${String(r.base)} + ${String(r.size)}`);
      }
      return { base, size };
    });
    this.vm(vmid).setDemandPaging(out);
  }

  /**
   * Start guest VM `vmid` (VM_START): power on its boot vCPU at PC = boot register 0x100 with
   * X0 = register 0x000 (the engine starts at its first `vcpu_run`) and assert its wakeup vIRQ.
   * @throws HypError ERROR_OBJECT_STATE when the VM was started already in this life;
   *   ERROR_ARGUMENT_INVALID when `bootVcpu` is not one of its vCPUs
   */
  startVm(vmid: number, opts: StartVmOptions = {}): void {
    const vm = this.vm(vmid);
    if (vm.started) throw new HypError('ERROR_OBJECT_STATE', `VM ${vmid} was started already`);
    const regs = opts.bootRegs ?? new Map<number, bigint>();
    let boot: VcpuThread | undefined;
    if (opts.bootVcpu) {
      if (opts.bootVcpu.type !== 'vcpu' || opts.bootVcpu.vmid !== vmid || !this.#objects.has(opts.bootVcpu.id)) {
        throw new HypError('ERROR_ARGUMENT_INVALID', `boot vCPU object ${opts.bootVcpu.id} is not a vCPU of VM ${vmid}`);
      }
      boot = vm.thread(opts.bootVcpu);
    } else {
      boot = vm.threads()[0];
    }
    vm.started = true;
    vm.halted = false;
    if (!boot) return;
    const pc = BigInt.asUintN(64, regs.get(BOOT_REG_PC) ?? 0n);
    boot.powerOn(pc > BigInt(Number.MAX_SAFE_INTEGER) ? Number.MAX_SAFE_INTEGER : Number(pc), regs.get(BOOT_REG_X0) ?? 0n, regs);
    vm.wake(boot);
  }

  /**
   * Stop guest VM `vmid` (VM_STOP, or the RM acting on an exit): every vCPU becomes POWERED_OFF
   * with the exited flag and its wakeup vIRQ is asserted. No 'vm-exit' event. Idempotent.
   */
  stopVm(vmid: number): void {
    this.vm(vmid).halt();
  }

  /**
   * vcpu_bind_virq type VCPU_RUN_WAKEUP: vIRQ `virq` of VM `vmid` (the vCPU's owner) is asserted
   * whenever the vCPU becomes runnable. Every vCPU is proxy-scheduled in this model.
   * @throws HypError ERROR_ARGUMENT_INVALID when `o` is not a vCPU
   */
  bindVcpuWakeup(o: HypObject, vmid: number, virq: number): void {
    if (o.type !== 'vcpu') throw new HypError('ERROR_ARGUMENT_INVALID', `object ${o.id} is a ${o.type}`);
    this.vm(o.vmid).thread(o).wakeup = { vmid, virq };
  }

  /** The vCPU thread of vCPU object `o`. */
  vcpuThread(o: HypObject): VcpuThread {
    if (o.type !== 'vcpu') throw new HypError('ERROR_ARGUMENT_INVALID', `object ${o.id} is a ${o.type}`);
    return this.vm(o.vmid).thread(o);
  }

  /** vcpu_kill: later runs of `o` fail with ERROR_OBJECT_STATE. */
  killVcpu(o: HypObject): void {
    this.vcpuThread(o).kill();
  }

  /**
   * vcpu_run of vCPU object `o` without a capability check (the host's `vcpuRun` checks its
   * capid first). Emits 'vcpu-state' with the answer.
   */
  vcpuRun(o: HypObject, r0: bigint, r1: bigint, r2: bigint): VcpuRunResult {
    const vm = this.vm(o.vmid);
    const t = vm.thread(o);
    const result = runVcpu(this.#runEnv(vm), t, r0, r1, r2);
    // The event object is made only when someone listens (this is the MMIO exit path).
    if (this.events.listenerCount('vcpu-state') > 0) this.events.emit('vcpu-state', { vmid: o.vmid, vcpu: t.index, objectId: o.id, result });
    return result;
  }

  /** What `runVcpu` needs for guest VM `vm`: made at its first run and kept with it. */
  #runEnv(vm: GuestVm): RunEnv {
    let env = this.#runEnvs.get(vm);
    if (env === undefined) {
      env = {
        vm,
        memory: this.memory,
        budget: this.#budget,
        bootGuest: this.#trace ? tracedBootGuest(this.#bootGuest, vm.vmid, this.#trace) : this.#bootGuest,
        haltVm: (caller, exitType, words) => {
          if (vm.halt(caller)) this.events.emit('vm-exit', vm.vmid, exitType, words);
        },
        onFault: (dead, err) => {
          this.#log.warn({ vmid: vm.vmid, vcpu: dead.index, err }, 'vCPU engine crashed');
          if (!vm.halted) this.events.emit('vm-exit', vm.vmid, VmExitType.SOFTWARE_ERROR, [0]);
        },
        gunyahCall: (caller, n, args) => this.#guestHypercall(caller, n, args),
      };
      this.#runEnvs.set(vm, env);
    }
    return env;
  }

  // ── doorbells and vIRQs ─────────────────────────────────────────────────

  /** The state of doorbell object `o` (created on first use). */
  doorbell(o: HypObject): Doorbell {
    if (o.type !== 'doorbell') throw new HypError('ERROR_ARGUMENT_INVALID', `object ${o.id} is a ${o.type}`);
    let db = this.#doorbells.get(o.id);
    if (!db) this.#doorbells.set(o.id, (db = new Doorbell()));
    return db;
  }

  /**
   * doorbell_bind_virq: doorbell `o` raises vIRQ `virq` of VM `vmid` (the receiver: the guest
   * for a BELL_RX SPI, the host for a doorbell the guest rings). Replaces an earlier binding.
   */
  bindDoorbellVirq(o: HypObject, vmid: number, virq: number, trigger: VirqTrigger = 'level'): void {
    this.doorbell(o).line = {
      assert: (edgeOnly) => {
        if (!edgeOnly || trigger === 'edge') this.assertVirq(vmid, virq);
      },
      clear: () => this.deassertVirq(vmid, virq),
    };
  }

  /**
   * Assert vIRQ `virq` of VM `vmid`: its listeners run (the host's `onVirq` handlers); for a
   * guest VM the INTID also becomes pending and its vCPUs sleeping in `wfi` are woken.
   */
  assertVirq(vmid: number, virq: number): void {
    this.#lines.fire(vmid, virq);
    if (vmid !== this.hostVmid) this.vm(vmid).pend(virq);
  }

  /** De-assert vIRQ `virq` of VM `vmid` (a pending, undelivered guest interrupt is withdrawn). */
  deassertVirq(vmid: number, virq: number): void {
    this.#vms.get(vmid)?.withdraw(virq);
  }

  /** Listen to vIRQ `virq` of any VM (the host's `onVirq` is this for VM 3); returns the unsubscribe. */
  onVirq(vmid: number, virq: number, handler: () => void): () => void {
    return this.#lines.on(vmid, virq, handler);
  }

  // ── memory extents ──────────────────────────────────────────────────────

  /**
   * The memory-model extent behind memextent object `o`: `attrs.extent` (set by the RM at
   * VM_INIT). Without it, by label (hypervisor.md §9.3): 0 guest_private → the VM's own extent;
   * 1 host_shared, 2 host_private, 3 guest_shared → the host's RAM extent.
   * @throws HypError ERROR_ARGUMENT_INVALID when `o` is not a memextent or names none
   */
  extentOf(o: HypObject): ExtentId {
    if (o.type !== 'memextent') throw new HypError('ERROR_ARGUMENT_INVALID', `object ${o.id} is a ${o.type}`);
    const e = o.attrs['extent'];
    if (typeof e === 'number') return e;
    const label = o.attrs['label'];
    if (label === 0) return this.ownExtent(o.vmid);
    if (label === 1 || label === 2 || label === 3) return this.hostExtent;
    throw new HypError('ERROR_ARGUMENT_INVALID', `memextent object ${o.id} names no extent`);
  }

  /**
   * Gunyah hypercalls a guest may make (n = SMCCC function − 0xC6008000) with capids of its own
   * cspace: doorbell_send 0x12 (SEND), doorbell_receive 0x13, doorbell_reset 0x14 and
   * doorbell_mask 0x15 (RECEIVE). Only X0 (the error) reaches the guest.
   */
  #guestHypercall(caller: VcpuThread, n: number, args: readonly bigint[]): number | undefined {
    const vmid = caller.object.vmid;
    const a = (i: number): bigint => args[i] ?? 0n;
    const withBell = (rights: number, body: (db: Doorbell) => void): number => {
      try {
        body(this.doorbell(this.lookupCap(vmid, a(0), 'doorbell', rights)));
        return HypErrorCode.OK;
      } catch (err) {
        if (isHypError(err)) return err.value;
        throw err;
      }
    };
    switch (n) {
      case 0x12:
        return withBell(CapRights.DOORBELL_SEND, (db) => void db.send(a(1)));
      case 0x13:
        return withBell(CapRights.DOORBELL_RECEIVE, (db) => void db.receive(a(1)));
      case 0x14:
        return withBell(CapRights.DOORBELL_RECEIVE, (db) => db.reset());
      case 0x15:
        return withBell(CapRights.DOORBELL_RECEIVE, (db) => db.mask(a(1), a(2)));
      default:
        return undefined;
    }
  }
}
