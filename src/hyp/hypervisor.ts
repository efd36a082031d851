/**
 * The hypervisor's object and capability model, as far as the RM and the host need it:
 * objects (vCPU threads, doorbells, message queues, address spaces, memory extents) owned by a
 * partition, per-VM capability spaces handing out 64-bit capids, and per-VM vIRQ numbers.
 *
 * Reference: hypervisor.md §2 (calls), §4 (message queues), §9.4 (vIRQ numbers Linux can
 * translate: SPI 32..1019, ESPI 4096..5119), §10 (capability rights). The RM's free-IRQ range
 * for the host starts at 960 (rm-rpc.md §1, `qcom,free-irq-start`).
 *
 * No module-level state: one Hypervisor per emulator.
 */
import { createMsgqPair, type QueueEndpoint } from '../msgq/endpoint.js';
import { RM_MSGQ_CONFIG, type MsgQueueConfig } from '../msgq/msgqueue.js';
import { HypError } from '../shared/hyp-errors.js';
import { Access, type ExtentId, type MemoryModel } from './memory/api.js';
import { createMemoryModel } from './memory/memory-model.js';

export type HypObjectType = 'vcpu' | 'doorbell' | 'msgqueue' | 'addrspace' | 'memextent' | 'vpm-group' | 'watchdog';

export interface HypObject {
  readonly id: number;
  readonly type: HypObjectType;
  /** The VM this object belongs to (its partition's guest). */
  readonly vmid: number;
  /** Free-form attributes (vCPU affinity index, doorbell label, …). */
  readonly attrs: Readonly<Record<string, number | bigint | string | boolean>>;
}

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
}

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

  constructor(opts: HypervisorOptions) {
    this.cpus = opts.cpus;
    this.ram = opts.ram ?? DEFAULT_RAM;
    const host = opts.hostVmid ?? 3;
    this.memory = createMemoryModel();
    this.hostExtent = this.memory.createExtent(host, 'host-ram');
    this.#ownExtents.set(host, this.hostExtent);
    for (const r of this.ram) {
      this.memory.addRam(this.hostExtent, r.base, r.size);
      this.memory.map(host, this.hostExtent, r.base, r.base, r.size, Access.RWX);
    }
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

  /** Destroy an object and revoke every capability to it. */
  destroyObject(o: HypObject): void {
    this.#objects.delete(o.id);
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
}
