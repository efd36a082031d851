/**
 * The host VM's hypercalls (`HostHypercalls`, host-api.ts): capability look-ups in the host's
 * cspace with the rights each call needs, fault injection, and the calls mapped onto the
 * hypervisor's models (vCPU runs, doorbells, the memory model). A refused call answers its
 * hypervisor error code; nothing here throws for one.
 *
 * Reference: hypervisor.md §3 (error codes), §5 (doorbell send / mask), §6 (vcpu_run errors),
 * §8 (memextent_donate options, addrspace_map / unmap arguments, attrs bits 2:0 = access, map
 * flags), §10 (capability rights); uapi.md §8.11 (how the Linux driver provides and reclaims
 * demand-paged memory with these calls).
 *
 * Decisions (docs):
 * - Fault injection comes first: `FaultInjector.hypercall(name)` with the names 'vcpu_run',
 *   'doorbell_send', 'doorbell_mask', 'memextent_donate', 'addrspace_map', 'addrspace_unmap';
 *   an error name is resolved through HypErrorCode (an unknown name → ERROR_FAILURE).
 * - vcpu_run needs AFFINITY | YIELD_TO; a capability to something else than a vCPU is
 *   ERROR_ARGUMENT_INVALID (hypervisor.md §6), a missing one the cspace error.
 * - doorbell_send needs SEND; doorbell_mask needs RECEIVE, as the 12/2023 hypervisor's
 *   hypercall does. The RM gives the host's BELL_TX capability RECEIVE as well when the
 *   doorbell's DT node has `source-can-clear` (src/rm-rpc/server/vm-resources.ts), so Linux's
 *   one mask call for a LEVEL irqfd succeeds; without it the call gets
 *   ERROR_CSPACE_INSUFFICIENT_RIGHTS, which Linux only warns about (uapi.md §8.13).
 * - memextent_donate needs DONATE on both extents; addrspace_map / unmap need MAP on the
 *   address space and on the extent. Options other than the type and bit 31 (NOSYNC) →
 *   ERROR_ARGUMENT_INVALID; map flags other than PARTIAL, PRIVATE, VMMIO, NOSYNC → likewise.
 * - A donate between two capabilities that resolve to the same extent (share: host_shared and
 *   guest_shared are both the host's RAM extent) checks its range and that the extent owns it,
 *   then succeeds without moving anything.
 * - TO_CHILD / TO_PARENT / TO_SIBLING / TO_PROTECTED move the range (partitions are not
 *   modelled). FROM_PROTECTED of pages the guest has not relinquished while the guest's VM
 *   runs (started, not halted, some vCPU not exited) → ERROR_BUSY: this is how a lent page the
 *   guest touched stays inaccessible to the host until the VM stops (uapi.md §8.11 "Host
 *   visibility"). A successful TO_PROTECTED or FROM_PROTECTED clears relinquish marks.
 *   Likewise addrspace_unmap of a guest-owned extent's pages (guest_private: the lend path)
 *   from a running guest's address space → ERROR_BUSY unless relinquished, so the reclaim
 *   fails before it takes the page from the guest (Linux then keeps the page with the guest).
 *   The guest's own relinquish keeps its mapping; the host's reclaim removes it.
 * - addrspace_map maps with rights = attrs & 7 (user access); memtype and kernel access bits
 *   are not modelled. addrspace_unmap also checks that `pa` is what the mapping translates
 *   `ipa` to (ERROR_ADDR_INVALID otherwise).
 * - Forced vcpu_run answers (`FaultPlan.vcpuRun`) come after the capability check, so a bad
 *   capid still fails as it would; the forced state and data words are returned with error OK
 *   and the guest does not run (its pending exit, if any, stays pending).
 * - Tracing (only with `deps.trace`): vcpu_run → one `vcpu.state` record (capid, resume words,
 *   answer, the vCPU's vmid and affinity index); the other calls → `hyp.call` with their
 *   arguments and error; a successful donate / map / unmap then calls `deps.memoryChanged`.
 */
import type { FaultInjector } from '../shared/faults.js';
import { HypErrorCode, hypErrorName, isHypError, type HypErrorName } from '../shared/hyp-errors.js';
import { hx, type HypCallEvent, type Tracer } from '../shared/trace-events.js';
import type { Doorbell } from './doorbell.js';
import type { GuestVm } from './guest-vm.js';
import { DonateType, MapFlag, VcpuRunState, type HostHypercalls, type VcpuRunResult } from './host-api.js';
import { PAGE_SIZE, type ExtentId, type MemoryModel } from './memory/api.js';
import { CapRights, type HypObject, type HypObjectType } from './objects.js';

/** What the host's hypercalls need from the hypervisor. */
export interface HostHypercallDeps {
  readonly hostVmid: number;
  readonly memory: MemoryModel;
  readonly faults: FaultInjector | undefined;
  /** @throws HypError ERROR_CSPACE_* */
  lookupCap(vmid: number, capid: bigint, type: HypObjectType, rights: number): HypObject;
  /** vcpu_run of a vCPU object (capability already checked). */
  vcpuRun(o: HypObject, r0: bigint, r1: bigint, r2: bigint): VcpuRunResult;
  doorbell(o: HypObject): Doorbell;
  /** The memory-model extent behind a memextent object. @throws HypError */
  extentOf(o: HypObject): ExtentId;
  /** The hypervisor's record of guest VM `vmid`, when it has one. */
  findVm(vmid: number): GuestVm | undefined;
  onVirq(vmid: number, virq: number, handler: () => void): () => void;
  /** Where `vcpu.state` and `hyp.call` records go (none: no tracing). */
  readonly trace?: Tracer;
  /** Called (tracing only) after a donate, map or unmap that succeeded. */
  memoryChanged?(): void;
}

const MAP_FLAGS_KNOWN = MapFlag.PARTIAL | MapFlag.PRIVATE | MapFlag.VMMIO | MapFlag.NOSYNC;
const DONATE_TYPE_MASK = 0xff;
const DONATE_NOSYNC_BIT = 0x8000_0000;

/** The host VM's hypercall surface, bound to a hypervisor through `deps`. */
export class HostHypercallsImpl implements HostHypercalls {
  readonly #trace: Tracer | undefined;
  /** The last forced vcpu_run answer (to mark its trace record). */
  #forced: VcpuRunResult | undefined;

  constructor(readonly deps: HostHypercallDeps) {
    this.#trace = deps.trace;
  }

  vcpuRun(capid: bigint, resume0: bigint, resume1: bigint, resume2: bigint): VcpuRunResult {
    const r = this.#vcpuRun(capid, resume0, resume1, resume2);
    if (this.#trace !== undefined) this.#traceRun(this.#trace, capid, [resume0, resume1, resume2], r);
    return r;
  }

  #vcpuRun(capid: bigint, resume0: bigint, resume1: bigint, resume2: bigint): VcpuRunResult {
    const injected = this.#inject('vcpu_run');
    if (injected !== undefined) return runFailure(injected);
    let o: HypObject;
    try {
      o = this.deps.lookupCap(this.deps.hostVmid, capid, 'vcpu', CapRights.VCPU_AFFINITY | CapRights.VCPU_YIELD_TO);
    } catch (err) {
      if (isHypError(err, 'ERROR_CSPACE_WRONG_OBJECT_TYPE')) return runFailure(HypErrorCode.ERROR_ARGUMENT_INVALID);
      if (isHypError(err)) return runFailure(err.value);
      throw err;
    }
    const faults = this.deps.faults;
    if (faults !== undefined && faults.forcesVcpuRun) {
      const f = faults.vcpuRun(o.vmid, affinityOf(o));
      if (f !== undefined) return (this.#forced = { error: HypErrorCode.OK, state: f.state, data0: f.data0, data1: f.data1, data2: f.data2 });
    }
    return this.deps.vcpuRun(o, resume0, resume1, resume2);
  }

  doorbellSend(capid: bigint, newFlags: bigint): { error: number; oldFlags: bigint } {
    const r = this.#doorbellSend(capid, newFlags);
    this.#trace?.emit(callRecord('doorbell_send', { capid: hx(capid), newFlags: hx(newFlags) }, r.error, r.error === 0 ? { oldFlags: hx(r.oldFlags) } : undefined));
    return r;
  }

  #doorbellSend(capid: bigint, newFlags: bigint): { error: number; oldFlags: bigint } {
    const injected = this.#inject('doorbell_send');
    if (injected !== undefined) return { error: injected, oldFlags: 0n };
    let oldFlags = 0n;
    const error = this.#call(() => {
      const o = this.deps.lookupCap(this.deps.hostVmid, capid, 'doorbell', CapRights.DOORBELL_SEND);
      oldFlags = this.deps.doorbell(o).send(newFlags);
    });
    return { error, oldFlags: error === 0 ? oldFlags : 0n };
  }

  doorbellMask(capid: bigint, enableMask: bigint, ackMask: bigint): number {
    const e = this.#doorbellMask(capid, enableMask, ackMask);
    this.#trace?.emit(callRecord('doorbell_mask', { capid: hx(capid), enableMask: hx(enableMask), ackMask: hx(ackMask) }, e));
    return e;
  }

  #doorbellMask(capid: bigint, enableMask: bigint, ackMask: bigint): number {
    const injected = this.#inject('doorbell_mask');
    if (injected !== undefined) return injected;
    return this.#call(() => {
      const o = this.deps.lookupCap(this.deps.hostVmid, capid, 'doorbell', CapRights.DOORBELL_RECEIVE);
      this.deps.doorbell(o).mask(enableMask, ackMask);
    });
  }

  memextentDonate(options: number, fromCapid: bigint, toCapid: bigint, pa: number, size: number): number {
    const e = this.#memextentDonate(options, fromCapid, toCapid, pa, size);
    if (this.#trace !== undefined) {
      this.#trace.emit(callRecord('memextent_donate', { options: hx(options >>> 0), from: hx(fromCapid), to: hx(toCapid), pa: hx(pa), size: hx(size) }, e));
      if (e === HypErrorCode.OK) this.deps.memoryChanged?.();
    }
    return e;
  }

  addrspaceMap(asCapid: bigint, extentCapid: bigint, ipa: number, attrs: number, flags: number, pa: number, size: number): number {
    const e = this.#addrspaceMap(asCapid, extentCapid, ipa, attrs, flags, pa, size);
    if (this.#trace !== undefined) {
      const args = { addrspace: hx(asCapid), extent: hx(extentCapid), ipa: hx(ipa), attrs: hx(attrs >>> 0), flags: hx(flags >>> 0), pa: hx(pa), size: hx(size) };
      this.#trace.emit(callRecord('addrspace_map', args, e));
      if (e === HypErrorCode.OK) this.deps.memoryChanged?.();
    }
    return e;
  }

  addrspaceUnmap(asCapid: bigint, extentCapid: bigint, ipa: number, flags: number, pa: number, size: number): number {
    const e = this.#addrspaceUnmap(asCapid, extentCapid, ipa, flags, pa, size);
    if (this.#trace !== undefined) {
      const args = { addrspace: hx(asCapid), extent: hx(extentCapid), ipa: hx(ipa), flags: hx(flags >>> 0), pa: hx(pa), size: hx(size) };
      this.#trace.emit(callRecord('addrspace_unmap', args, e));
      if (e === HypErrorCode.OK) this.deps.memoryChanged?.();
    }
    return e;
  }

  #memextentDonate(options: number, fromCapid: bigint, toCapid: bigint, pa: number, size: number): number {
    const injected = this.#inject('memextent_donate');
    if (injected !== undefined) return injected;
    return this.#call(() => {
      const opts = options >>> 0;
      if ((opts & ~(DONATE_TYPE_MASK | DONATE_NOSYNC_BIT)) !== 0) return HypErrorCode.ERROR_ARGUMENT_INVALID;
      const type = opts & DONATE_TYPE_MASK;
      const host = this.deps.hostVmid;
      const fromObj = this.deps.lookupCap(host, fromCapid, 'memextent', CapRights.MEMEXTENT_DONATE);
      const toObj = this.deps.lookupCap(host, toCapid, 'memextent', CapRights.MEMEXTENT_DONATE);
      const from = this.deps.extentOf(fromObj);
      const to = this.deps.extentOf(toObj);
      const known: readonly number[] = Object.values(DonateType);
      if (!known.includes(type)) return HypErrorCode.ERROR_ARGUMENT_INVALID;
      const rangeErr = pageRangeError(pa, size);
      if (rangeErr !== undefined) return HypErrorCode[rangeErr];
      if (!this.#owns(from, pa, size)) return HypErrorCode.ERROR_MEMDB_NOT_OWNER;
      if (from === to) return HypErrorCode.OK;
      if (type === DonateType.FROM_PROTECTED) {
        const vm = this.deps.findVm(fromObj.vmid);
        if (vm?.running === true && !vm.allRelinquished(pa, size)) return HypErrorCode.ERROR_BUSY;
        this.deps.memory.donate(from, to, pa, size);
        vm?.clearRelinquished(pa, size);
        return HypErrorCode.OK;
      }
      this.deps.memory.donate(from, to, pa, size);
      if (type === DonateType.TO_PROTECTED) this.deps.findVm(toObj.vmid)?.clearRelinquished(pa, size);
      return HypErrorCode.OK;
    });
  }

  #addrspaceMap(asCapid: bigint, extentCapid: bigint, ipa: number, attrs: number, flags: number, pa: number, size: number): number {
    const injected = this.#inject('addrspace_map');
    if (injected !== undefined) return injected;
    return this.#call(() => {
      const { vmid, extent } = this.#mapTargets(asCapid, extentCapid);
      if (((flags >>> 0) & ~MAP_FLAGS_KNOWN) !== 0) return HypErrorCode.ERROR_ARGUMENT_INVALID;
      this.deps.memory.map(vmid, extent, ipa, pa, size, attrs & 0x7);
      return HypErrorCode.OK;
    });
  }

  #addrspaceUnmap(asCapid: bigint, extentCapid: bigint, ipa: number, flags: number, pa: number, size: number): number {
    const injected = this.#inject('addrspace_unmap');
    if (injected !== undefined) return injected;
    return this.#call(() => {
      const { vmid, extent } = this.#mapTargets(asCapid, extentCapid);
      if (((flags >>> 0) & ~MAP_FLAGS_KNOWN) !== 0) return HypErrorCode.ERROR_ARGUMENT_INVALID;
      const rangeErr = pageRangeError(ipa, size) ?? pageRangeError(pa, size);
      if (rangeErr !== undefined) return HypErrorCode[rangeErr];
      // Mappings of `extent` must cover the range and translate ipa to pa all along.
      const ms = this.deps.memory.mappingsOf(vmid).filter((m) => m.extent === extent && m.ipa < ipa + size && ipa < m.ipa + m.size);
      const covered = ms.reduce((n, m) => n + Math.min(ipa + size, m.ipa + m.size) - Math.max(ipa, m.ipa), 0);
      if (covered !== size || ms.some((m) => m.pa - m.ipa !== pa - ipa)) return HypErrorCode.ERROR_ADDR_INVALID;
      // A protected page (of an extent the guest owns) stays mapped while the guest runs,
      // unless the guest relinquished it.
      const vm = this.deps.findVm(vmid);
      if (vm?.running === true && this.#ownerOf(extent) === vmid && !vm.allRelinquished(pa, size)) {
        return HypErrorCode.ERROR_BUSY;
      }
      this.deps.memory.unmap(vmid, extent, ipa, size);
      return HypErrorCode.OK;
    });
  }

  onVirq(virq: number, handler: () => void): () => void {
    return this.deps.onVirq(this.deps.hostVmid, virq, handler);
  }

  readMemory(pa: number, len: number): Uint8Array {
    return this.deps.memory.read(this.deps.hostVmid, pa, len);
  }

  writeMemory(pa: number, bytes: Uint8Array): void {
    this.deps.memory.write(this.deps.hostVmid, pa, bytes);
  }

  probeMemory(pa: number, len: number, kind: 'read' | 'write'): 'unmapped' | 'permission' | undefined {
    return this.deps.memory.check(this.deps.hostVmid, pa, len, kind)?.reason;
  }

  // ── helpers ─────────────────────────────────────────────────────────────

  /** The `vcpu.state` record of one vcpu_run (the capid resolved without rights, for the vmid). */
  #traceRun(trace: Tracer, capid: bigint, resume: readonly [bigint, bigint, bigint], r: VcpuRunResult): void {
    let who: { vmid: number; vcpu: number } | undefined;
    try {
      const o = this.deps.lookupCap(this.deps.hostVmid, capid, 'vcpu', 0);
      who = { vmid: o.vmid, vcpu: affinityOf(o) };
    } catch (err) {
      if (!isHypError(err)) throw err;
    }
    const forced = this.#forced === r;
    this.#forced = undefined;
    trace.emit({
      kind: 'vcpu.state',
      ...(who ?? {}),
      capid: hx(capid),
      resume: [hx(resume[0]), hx(resume[1]), hx(resume[2])],
      error: r.error,
      errorName: hypErrorName(r.error) ?? hx(r.error),
      state: r.state,
      stateName: vcpuStateName(r.state),
      data: [hx(r.data0), hx(r.data1), hx(r.data2)],
      ...(forced ? { forced: true } : {}),
    });
  }

  /** The injected error code for this occurrence of `call`, if the fault plan says so. */
  #inject(call: string): number | undefined {
    const e = this.deps.faults?.hypercall(call);
    if (e === undefined) return undefined;
    if (typeof e === 'number') return e;
    return Object.hasOwn(HypErrorCode, e) ? HypErrorCode[e as HypErrorName] : HypErrorCode.ERROR_FAILURE;
  }

  /** Run `body`; a HypError it throws becomes its code. `body` may return a code (default OK). */
  #call(body: () => number | void): number {
    try {
      return body() ?? HypErrorCode.OK;
    } catch (err) {
      if (isHypError(err)) return err.value;
      throw err;
    }
  }

  #mapTargets(asCapid: bigint, extentCapid: bigint): { vmid: number; extent: ExtentId } {
    const host = this.deps.hostVmid;
    const as = this.deps.lookupCap(host, asCapid, 'addrspace', CapRights.ADDRSPACE_MAP);
    const me = this.deps.lookupCap(host, extentCapid, 'memextent', CapRights.MEMEXTENT_MAP);
    return { vmid: as.vmid, extent: this.deps.extentOf(me) };
  }

  /** The VM that owns extent `e` (its memory's owner). */
  #ownerOf(e: ExtentId): number | undefined {
    return this.deps.memory.extents().find((x) => x.id === e)?.ownerVmid;
  }

  /** True when extent `e` owns every byte of `[pa, pa+size)`. */
  #owns(e: ExtentId, pa: number, size: number): boolean {
    return this.deps.memory.runsOf(e, { pa, size }).reduce((n, r) => n + r.size, 0) === size;
  }
}

/** A vCPU object's affinity index (0 when the RM gave none). */
function affinityOf(o: HypObject): number {
  const a = o.attrs['affinityIndex'];
  return typeof a === 'number' ? a : 0;
}

const STATE_NAMES: ReadonlyMap<number, string> = new Map(Object.entries(VcpuRunState).map(([k, v]) => [v, k]));

/** The name of a vcpu_run state (hypervisor.md §6), or `0x…` for one it does not define. */
export function vcpuStateName(state: number): string {
  return STATE_NAMES.get(state) ?? hx(state);
}

function callRecord(
  call: string,
  args: Readonly<Record<string, string | number>>,
  error: number,
  out?: Readonly<Record<string, string | number>>,
): HypCallEvent {
  return { kind: 'hyp.call', call, args, error, errorName: hypErrorName(error) ?? hx(error), ...(out ? { out } : {}) };
}

function runFailure(code: number): VcpuRunResult {
  return { error: code, state: 0, data0: 0n, data1: 0n, data2: 0n };
}

/** The memory model's argument checks of a page range, in its order (memory/api.ts). */
function pageRangeError(addr: number, size: number): HypErrorName | undefined {
  if (!Number.isSafeInteger(addr) || addr < 0 || !Number.isSafeInteger(size) || size < 0) return 'ERROR_ARGUMENT_INVALID';
  if (size === 0) return 'ERROR_ARGUMENT_SIZE';
  if (addr % PAGE_SIZE !== 0 || size % PAGE_SIZE !== 0) return 'ERROR_ARGUMENT_ALIGNMENT';
  if (addr + size > 2 ** 52) return 'ERROR_ADDR_OVERFLOW';
  return undefined;
}
