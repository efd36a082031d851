/**
 * The hypervisor's memory model: extents that own physical memory (memdb), per-VM address
 * spaces that map extents with rights, donation, stage-2 checked access to real bytes, and
 * invariant checks. Implements `MemoryModel` (api.ts).
 *
 * Reference: hypervisor.md §8 (memory extents, address spaces, memextent_donate, addrspace_map /
 * unmap / lookup, memextent_modify ZERO_RANGE, rights R 4 W 2 X 1, at most 4 mappings per extent),
 * §3 (error names); rm-rpc.md §16 (the RM's parcels are built on donate and map).
 *
 *   access(vmid, ipa) ──▶ address space: mapping m ∋ ipa ──▶ pa = m.pa + (ipa − m.ipa)
 *                                                              │
 *                         memdb: run r ∋ pa ◀──────────────────┘
 *                         reachable ⇔ r.owner === m.extent; allowed ⇔ m.rights has the right
 *
 * A mapping is a window over its extent's PAs; the memdb decides at each access which of them
 * the extent owns. A lend (donate to a parcel extent) therefore cuts the owner off without
 * touching the owner's mapping, and a reclaim (donate back) restores it.
 *
 * No module-level state: each call of createMemoryModel() is an independent machine.
 */
import { hex } from '../../shared/bytes.js';
import { HypError } from '../../shared/hyp-errors.js';
import {
  Access,
  PAGE_SIZE,
  type AccessKind,
  type CreateExtentOptions,
  type ExtentId,
  type ExtentInfo,
  type LookupResult,
  type MappingInfo,
  type MemFaultInfo,
  type MemoryModel,
  type MemoryModelOptions,
  type PaRange,
  type Translation,
} from './api.js';
import { AddressSpace, type Mapping } from './address-space.js';
import { PageStore } from './content.js';
import { MemDb, type RunOwner } from './memdb.js';
import { MemFault } from './mem-fault.js';

/** Every address in the model is below 2^52 (api.ts); an end beyond it overflows. */
const ADDR_LIMIT = 2 ** 52;
/** hypervisor.md §8 "Mappings per extent: at most 4". */
const DEFAULT_MAX_ADDRSPACES_PER_EXTENT = 4;

/** Which right each kind of access needs. */
const RIGHT_FOR = { read: Access.R, write: Access.W, exec: Access.X } as const satisfies Record<AccessKind, number>;

/** An extent's record; the memdb keeps its byte and run counters. */
interface Extent extends RunOwner {
  readonly id: ExtentId;
  readonly ownerVmid: number;
  readonly label: string;
  bytes: number;
  runCount: number;
  /** Its mappings, in every address space (unmapAll walks this, not the address spaces). */
  readonly mappings: Set<Mapping<Extent>>;
  /** vmid → how many of its mappings are in that address space. */
  readonly spaces: Map<number, number>;
  /** How many distinct address spaces it may be mapped into. */
  readonly maxSpaces: number;
  live: boolean;
}

/** Visitor of the pieces of a checked access: `n` bytes at `pa`, `off` bytes into the access. */
type PieceVisitor = (pa: number, off: number, n: number) => void;

/**
 * Create a memory model with no RAM: create extents, then give them RAM with `addRam`.
 * @param opts limits (maxPa, maxIpa default 2^52; at most 4 address spaces per extent).
 */
export function createMemoryModel(opts: MemoryModelOptions = {}): MemoryModel {
  return new HypMemoryModel(opts);
}

class HypMemoryModel implements MemoryModel {
  readonly #maxPa: number;
  readonly #maxIpa: number;
  readonly #maxSpaces: number;
  readonly #extents = new Map<ExtentId, Extent>();
  #nextExtent: ExtentId = 1;
  readonly #memdb = new MemDb<Extent>();
  readonly #spaces = new Map<number, AddressSpace<Extent>>();
  readonly #content = new PageStore();

  constructor(opts: MemoryModelOptions) {
    this.#maxPa = limitOption(opts.maxPa, 'maxPa');
    this.#maxIpa = limitOption(opts.maxIpa, 'maxIpa');
    const n = opts.maxAddrspacesPerExtent ?? DEFAULT_MAX_ADDRSPACES_PER_EXTENT;
    if (!(n >= 1)) throw new RangeError(`maxAddrspacesPerExtent must be ≥ 1, got ${n}`);
    this.#maxSpaces = n;
  }

  // ---- extents and the memdb ----

  createExtent(ownerVmid: number, label: string, opts: CreateExtentOptions = {}): ExtentId {
    const id = this.#nextExtent++;
    this.#extents.set(id, {
      id,
      ownerVmid,
      label,
      bytes: 0,
      runCount: 0,
      mappings: new Set(),
      spaces: new Map(),
      maxSpaces: opts.unlimitedAddrspaces === true ? Infinity : this.#maxSpaces,
      live: true,
    });
    return id;
  }

  destroyExtent(e: ExtentId): void {
    const x = this.#extent(e);
    if (x.bytes > 0) throw new HypError('ERROR_OBJECT_STATE', `extent ${e} still owns ${x.bytes} bytes`);
    if (x.mappings.size > 0) throw new HypError('ERROR_OBJECT_STATE', `extent ${e} still has ${x.mappings.size} mappings`);
    x.live = false;
    this.#extents.delete(e);
    this.#memdb.forget(x);
  }

  addRam(e: ExtentId, pa: number, size: number): void {
    const x = this.#extent(e);
    checkRange(pa, size, this.#maxPa, 'PA');
    if (!this.#memdb.add(x, pa, pa + size)) {
      throw new HypError('ERROR_ALLOCATOR_RANGE_OVERLAPPING', `RAM [${hex(pa)}, ${hex(pa + size)}) overlaps RAM`);
    }
  }

  extentOf(pa: number, size: number): ExtentId | undefined {
    checkSpan(pa, size);
    if (size === 0) return undefined;
    const r = this.#memdb.find(pa);
    return r !== undefined && r.end >= pa + size ? r.owner.id : undefined;
  }

  runsOf(e: ExtentId, range?: PaRange): PaRange[] {
    const x = this.#extent(e);
    const out: PaRange[] = [];
    if (range === undefined) {
      for (const r of this.#memdb.runsOf(x)) out.push({ pa: r.start, size: r.end - r.start });
      return out;
    }
    checkSpan(range.pa, range.size);
    const lo = range.pa;
    const hi = range.pa + range.size;
    if (hi === lo) return out;
    // O(log n + runs in the range), whatever the extent owns elsewhere.
    this.#memdb.forEachIn(lo, hi, (s, e, owner) => {
      if (owner !== x) return;
      const a = Math.max(s, lo);
      out.push({ pa: a, size: Math.min(e, hi) - a });
    });
    return out;
  }

  donate(from: ExtentId, to: ExtentId, pa: number, size: number): void {
    const src = this.#extent(from);
    const dst = this.#extent(to);
    checkRange(pa, size, this.#maxPa, 'PA');
    if (src === dst) throw new HypError('ERROR_ARGUMENT_INVALID', `donate from extent ${from} to itself`);
    // INVARIANT (memdb.ts): runs are maximal, so `from` owns all of the range iff one run does.
    if (!this.#memdb.donate(src, dst, pa, pa + size)) {
      throw new HypError('ERROR_MEMDB_NOT_OWNER', `extent ${from} does not own [${hex(pa)}, ${hex(pa + size)})`);
    }
  }

  // ---- address spaces ----

  map(vmid: number, e: ExtentId, ipa: number, pa: number, size: number, rights: number): void {
    const x = this.#extent(e);
    checkRange(ipa, size, this.#maxIpa, 'IPA');
    checkRange(pa, size, this.#maxPa, 'PA');
    if (!Number.isInteger(rights) || rights < Access.X || rights > Access.RWX) {
      throw new HypError('ERROR_ARGUMENT_INVALID', `rights ${rights} not in 1..7`);
    }
    const as = this.#space(vmid);
    if (as.overlaps(ipa, ipa + size)) {
      throw new HypError('ERROR_EXISTING_MAPPING', `VM ${vmid} IPA [${hex(ipa)}, ${hex(ipa + size)}) is mapped`);
    }
    if (!x.spaces.has(vmid) && x.spaces.size >= x.maxSpaces) {
      throw new HypError('ERROR_MEMEXTENT_MAPPINGS_FULL', `extent ${e} is mapped in ${x.spaces.size} address spaces`);
    }
    // Merge with mappings it continues (same extent and rights, IPA and PA both contiguous), so
    // that an unmap followed by a re-map (a SHARE and its reclaim) leaves one mapping, not three.
    let m: Mapping<Extent> = { vmid, ipa, pa, size, rights, extent: x };
    const left = ipa > 0 ? as.find(ipa - 1) : undefined;
    if (left !== undefined && continues(left, m)) {
      this.#unrecord(as, left);
      m = { ...m, ipa: left.ipa, pa: left.pa, size: left.size + m.size };
    }
    const right = as.find(ipa + size);
    if (right !== undefined && continues(m, right)) {
      this.#unrecord(as, right);
      m = { ...m, size: m.size + right.size };
    }
    this.#record(as, m);
  }

  unmap(vmid: number, e: ExtentId, ipa: number, size: number): void {
    const x = this.#extent(e);
    checkRange(ipa, size, this.#maxIpa, 'IPA');
    const end = ipa + size;
    const as = this.#spaces.get(vmid);
    const ms = as === undefined ? [] : as.inRange(ipa, end);
    // Check it all before changing anything: the range must be covered, gap-free, by mappings of e.
    let cur = ipa;
    for (const m of ms) {
      if (m.ipa > cur || m.extent !== x) break;
      cur = m.ipa + m.size;
    }
    if (as === undefined || cur < end) {
      throw new HypError('ERROR_ADDR_INVALID', `VM ${vmid} IPA ${hex(cur)} is not mapped from extent ${e}`);
    }
    for (const m of ms) {
      this.#unrecord(as, m);
      if (m.ipa < ipa) this.#record(as, { ...m, size: ipa - m.ipa });
      const mEnd = m.ipa + m.size;
      if (mEnd > end) this.#record(as, { ...m, ipa: end, pa: m.pa + (end - m.ipa), size: mEnd - end });
    }
  }

  unmapAll(e: ExtentId): void {
    const x = this.#extent(e);
    for (const m of x.mappings) this.#spaces.get(m.vmid)?.remove(m);
    x.mappings.clear();
    x.spaces.clear();
  }

  mappingsOf(vmid: number): MappingInfo[] {
    const as = this.#spaces.get(vmid);
    if (as === undefined) return [];
    return as.all().map((m) => ({ vmid, ipa: m.ipa, pa: m.pa, size: m.size, rights: m.rights, extent: m.extent.id }));
  }

  translate(vmid: number, ipa: number, size: number): Translation[] {
    checkSpan(ipa, size);
    const out: Translation[] = [];
    const as = this.#spaces.get(vmid);
    if (as === undefined || size === 0) return out;
    const end = ipa + size;
    for (const m of as.inRange(ipa, end)) {
      const lo = Math.max(ipa, m.ipa);
      const paLo = m.pa + (lo - m.ipa);
      const paHi = paLo + (Math.min(end, m.ipa + m.size) - lo);
      this.#memdb.forEachIn(paLo, paHi, (s, e, owner) => {
        if (owner !== m.extent) return;
        const a = Math.max(s, paLo);
        const b = Math.min(e, paHi);
        out.push({ ipa: lo + (a - paLo), pa: a, size: b - a, rights: m.rights, extent: m.extent.id });
      });
    }
    return out;
  }

  lookup(vmid: number, e: ExtentId, ipa: number, size: number): LookupResult {
    const x = this.#extent(e);
    checkRange(ipa, size, this.#maxIpa, 'IPA');
    const m = this.#spaces.get(vmid)?.find(ipa);
    const pa = m === undefined ? 0 : m.pa + (ipa - m.ipa);
    const r = m === undefined ? undefined : this.#memdb.find(pa);
    if (m === undefined || r === undefined || r.owner !== m.extent) {
      throw new HypError('ERROR_ADDR_INVALID', `VM ${vmid} IPA ${hex(ipa)} is not mapped`);
    }
    if (m.extent !== x) throw new HypError('ERROR_MEMDB_NOT_OWNER', `VM ${vmid} IPA ${hex(ipa)} is not memory of extent ${e}`);
    return { pa, size: Math.min(size, m.ipa + m.size - ipa, r.end - pa), rights: m.rights };
  }

  // ---- stage-2 checked access ----

  read(vmid: number, ipa: number, len: number): Uint8Array {
    checkSpan(ipa, len);
    const out = new Uint8Array(len);
    if (len === 0) return out;
    const pa = this.#direct(vmid, ipa, len, Access.R);
    if (pa >= 0) {
      this.#content.read(pa, out, 0, len);
      return out;
    }
    const fault = this.#walk(vmid, ipa, len, 'read', undefined);
    if (fault !== undefined) throw new MemFault(fault);
    this.#walk(vmid, ipa, len, 'read', (p, off, n) => this.#content.read(p, out, off, n));
    return out;
  }

  write(vmid: number, ipa: number, bytes: Uint8Array): void {
    const len = bytes.byteLength;
    checkSpan(ipa, len);
    if (len === 0) return;
    const pa = this.#direct(vmid, ipa, len, Access.W);
    if (pa >= 0) {
      this.#content.write(pa, bytes, 0, len);
      return;
    }
    const fault = this.#walk(vmid, ipa, len, 'write', undefined);
    if (fault !== undefined) throw new MemFault(fault);
    this.#walk(vmid, ipa, len, 'write', (p, off, n) => this.#content.write(p, bytes, off, n));
  }

  loadLe(vmid: number, ipa: number, len: number): bigint | MemFaultInfo {
    checkSpan(ipa, len);
    if (len === 0) return 0n;
    if (len <= 8) {
      const pa = this.#direct(vmid, ipa, len, Access.R);
      if (pa >= 0) return this.#content.readLe(pa, len);
    }
    const fault = this.#walk(vmid, ipa, len, 'read', undefined);
    if (fault !== undefined) return fault;
    const out = new Uint8Array(len);
    this.#walk(vmid, ipa, len, 'read', (p, off, n) => this.#content.read(p, out, off, n));
    return leValue(out);
  }

  storeLe(vmid: number, ipa: number, len: number, value: bigint): MemFaultInfo | undefined {
    checkSpan(ipa, len);
    if (len === 0) return undefined;
    if (len <= 8) {
      const pa = this.#direct(vmid, ipa, len, Access.W);
      if (pa >= 0) {
        this.#content.writeLe(pa, len, value);
        return undefined;
      }
    }
    const fault = this.#walk(vmid, ipa, len, 'write', undefined);
    if (fault !== undefined) return fault;
    const bytes = leBytes(value, len);
    this.#walk(vmid, ipa, len, 'write', (p, off, n) => this.#content.write(p, bytes, off, n));
    return undefined;
  }

  check(vmid: number, ipa: number, len: number, kind: AccessKind): MemFaultInfo | undefined {
    checkSpan(ipa, len);
    if (len === 0 || this.#direct(vmid, ipa, len, RIGHT_FOR[kind]) >= 0) return undefined;
    return this.#walk(vmid, ipa, len, kind, undefined);
  }

  /**
   * The fast path of an access: when one mapping with `right` and one memdb run of its extent
   * cover the whole access, its PA; otherwise -1 (take the piecewise walk). Two tree look-ups.
   */
  #direct(vmid: number, ipa: number, len: number, right: number): number {
    const m = this.#spaces.get(vmid)?.find(ipa);
    if (m === undefined || (m.rights & right) === 0 || ipa + len > m.ipa + m.size) return -1;
    const pa = m.pa + (ipa - m.ipa);
    const r = this.#memdb.find(pa);
    return r !== undefined && r.owner === m.extent && pa + len <= r.end ? pa : -1;
  }

  /**
   * Walk `[ipa, ipa+len)` of `vmid`'s stage 2 for a `kind` access. Returns the fault at the first
   * byte that is unreachable or lacks the right; otherwise calls `visit` for each piece in order.
   */
  #walk(vmid: number, ipa: number, len: number, kind: AccessKind, visit: PieceVisitor | undefined): MemFaultInfo | undefined {
    const right = RIGHT_FOR[kind];
    const as = this.#spaces.get(vmid);
    const end = ipa + len;
    let cur = ipa;
    while (cur < end) {
      const m = as?.find(cur);
      if (m === undefined) return { vmid, ipa: cur, kind, reason: 'unmapped' };
      const mEnd = Math.min(end, m.ipa + m.size);
      let pa = m.pa + (cur - m.ipa);
      while (cur < mEnd) {
        const r = this.#memdb.find(pa);
        if (r === undefined || r.owner !== m.extent) return { vmid, ipa: cur, kind, reason: 'unmapped' };
        if ((m.rights & right) === 0) return { vmid, ipa: cur, kind, reason: 'permission' };
        const n = Math.min(mEnd - cur, r.end - pa);
        visit?.(pa, cur - ipa, n);
        cur += n;
        pa += n;
      }
    }
    return undefined;
  }

  // ---- physical access ----

  readPhys(pa: number, len: number): Uint8Array {
    checkSpan(pa, len);
    this.#requireRam(pa, len);
    const out = new Uint8Array(len);
    this.#content.read(pa, out, 0, len);
    return out;
  }

  writePhys(pa: number, bytes: Uint8Array): void {
    checkSpan(pa, bytes.byteLength);
    this.#requireRam(pa, bytes.byteLength);
    this.#content.write(pa, bytes, 0, bytes.byteLength);
  }

  zero(pa: number, size: number): void {
    checkRange(pa, size, this.#maxPa, 'PA');
    this.#requireRam(pa, size);
    this.#content.zero(pa, size);
  }

  /** @throws HypError ERROR_ADDR_INVALID unless all of `[pa, pa+len)` is RAM. */
  #requireRam(pa: number, len: number): void {
    if (len > 0 && !this.#memdb.covers(pa, pa + len)) {
      throw new HypError('ERROR_ADDR_INVALID', `[${hex(pa)}, ${hex(pa + len)}) is not all RAM`);
    }
  }

  // ---- inspection ----

  extents(): ExtentInfo[] {
    return [...this.#extents.values()].map((x) => ({
      id: x.id,
      ownerVmid: x.ownerVmid,
      bytes: x.bytes,
      runs: x.runCount,
      mappings: x.mappings.size,
      label: x.label,
    }));
  }

  ownership(): Map<number, number> {
    const out = new Map<number, number>();
    for (const x of this.#extents.values()) {
      if (x.bytes > 0) out.set(x.ownerVmid, (out.get(x.ownerVmid) ?? 0) + x.bytes);
    }
    return out;
  }

  stats(): { runs: number; mappings: number; contentPages: number } {
    let mappings = 0;
    for (const as of this.#spaces.values()) mappings += as.size;
    return { runs: this.#memdb.size, mappings, contentPages: this.#content.size };
  }

  checkInvariants(): string[] {
    const errs = this.#memdb.check(this.#extents.values(), (o) =>
      o.live && this.#extents.get(o.id) === o ? undefined : `owner extent ${o.id} is destroyed`,
    );
    this.#memdb.forEachIn(0, Infinity, (s, e) => {
      if (s % PAGE_SIZE !== 0 || e % PAGE_SIZE !== 0) errs.push(`memdb run at ${hex(s)} not page aligned`);
      if (e > this.#maxPa) errs.push(`memdb run at ${hex(s)} beyond maxPa`);
    });
    let total = 0;
    for (const as of this.#spaces.values()) {
      errs.push(...as.check());
      for (const m of as.all()) {
        const at = `VM ${as.vmid} mapping at IPA ${hex(m.ipa)}`;
        if (!Number.isInteger(m.rights) || m.rights < 1 || m.rights > 7) errs.push(`${at}: rights ${m.rights}`);
        if (!m.extent.live || this.#extents.get(m.extent.id) !== m.extent) errs.push(`${at}: extent ${m.extent.id} is destroyed`);
        if (!m.extent.mappings.has(m)) errs.push(`${at}: missing from extent ${m.extent.id}'s mapping list`);
        if ([m.ipa, m.pa, m.size].some((v) => v % PAGE_SIZE !== 0)) errs.push(`${at}: not page aligned`);
        if (m.ipa + m.size > this.#maxIpa || m.pa + m.size > this.#maxPa) errs.push(`${at}: beyond the address limits`);
      }
      total += as.size;
    }
    let listed = 0;
    for (const x of this.#extents.values()) {
      const perSpace = new Map<number, number>();
      for (const m of x.mappings) {
        if (this.#spaces.get(m.vmid)?.has(m) !== true) errs.push(`extent ${x.id}: lists a mapping its address space lacks`);
        perSpace.set(m.vmid, (perSpace.get(m.vmid) ?? 0) + 1);
      }
      const same = perSpace.size === x.spaces.size && [...perSpace].every(([v, n]) => x.spaces.get(v) === n);
      if (!same) errs.push(`extent ${x.id}: address-space counts out of step`);
      if (x.spaces.size > x.maxSpaces) errs.push(`extent ${x.id}: mapped in ${x.spaces.size} address spaces`);
      listed += x.mappings.size;
    }
    if (listed !== total) errs.push(`${total} mappings in address spaces, ${listed} in extents`);
    for (const pn of this.#content.pageNumbers()) {
      if (!this.#memdb.covers(pn * PAGE_SIZE, (pn + 1) * PAGE_SIZE)) errs.push(`content page ${hex(pn * PAGE_SIZE)} outside RAM`);
    }
    return errs;
  }

  // ---- helpers ----

  /** @throws HypError ERROR_ARGUMENT_INVALID for an unknown (or destroyed) extent. */
  #extent(e: ExtentId): Extent {
    const x = this.#extents.get(e);
    if (x === undefined) throw new HypError('ERROR_ARGUMENT_INVALID', `no extent ${e}`);
    return x;
  }

  /** `vmid`'s address space, created on first use. */
  #space(vmid: number): AddressSpace<Extent> {
    let as = this.#spaces.get(vmid);
    if (as === undefined) this.#spaces.set(vmid, (as = new AddressSpace(vmid)));
    return as;
  }

  #record(as: AddressSpace<Extent>, m: Mapping<Extent>): void {
    as.insert(m);
    m.extent.mappings.add(m);
    m.extent.spaces.set(m.vmid, (m.extent.spaces.get(m.vmid) ?? 0) + 1);
  }

  #unrecord(as: AddressSpace<Extent>, m: Mapping<Extent>): void {
    as.remove(m);
    const x = m.extent;
    x.mappings.delete(m);
    const n = (x.spaces.get(m.vmid) ?? 0) - 1;
    if (n > 0) x.spaces.set(m.vmid, n);
    else x.spaces.delete(m.vmid);
  }
}

/** True when `b` carries on exactly where `a` stops (IPA and PA), with the same extent and rights. */
function continues<E>(a: Mapping<E>, b: Mapping<E>): boolean {
  return (
    a.extent === b.extent && a.rights === b.rights && a.ipa + a.size === b.ipa && a.pa + a.size === b.pa
  );
}

/** Bytes as a little-endian unsigned integer. */
function leValue(b: Uint8Array): bigint {
  let v = 0n;
  for (let i = b.length - 1; i >= 0; i--) v = (v << 8n) | BigInt(b[i]!);
  return v;
}

/** The low `len` bytes of `value` modulo 2^64, little-endian (bytes past the eighth are 0). */
function leBytes(value: bigint, len: number): Uint8Array {
  const out = new Uint8Array(len);
  let v = BigInt.asUintN(64, value);
  for (let i = 0; i < len && v !== 0n; i++) {
    out[i] = Number(v & 0xffn);
    v >>= 8n;
  }
  return out;
}

function limitOption(v: number | undefined, name: string): number {
  if (v === undefined) return ADDR_LIMIT;
  if (!Number.isSafeInteger(v) || v <= 0 || v > ADDR_LIMIT || v % PAGE_SIZE !== 0) {
    throw new RangeError(`${name} must be a multiple of 4 KiB in (0, 2^52], got ${v}`);
  }
  return v;
}

/**
 * Checks of a page-granular range argument, in order (api.ts "Argument checks").
 * @throws HypError ERROR_ARGUMENT_INVALID, _SIZE, _ALIGNMENT, ERROR_ADDR_OVERFLOW, ERROR_ADDR_INVALID
 */
function checkRange(addr: number, size: number, limit: number, what: string): void {
  if (!Number.isSafeInteger(addr) || addr < 0 || !Number.isSafeInteger(size) || size < 0) {
    throw new HypError('ERROR_ARGUMENT_INVALID', `${what} range ${addr} + ${size}`);
  }
  if (size === 0) throw new HypError('ERROR_ARGUMENT_SIZE', `${what} size 0`);
  if (addr % PAGE_SIZE !== 0 || size % PAGE_SIZE !== 0) {
    throw new HypError('ERROR_ARGUMENT_ALIGNMENT', `${what} range [${hex(addr)}, +${hex(size)}) not 4 KiB aligned`);
  }
  if (addr + size > ADDR_LIMIT) throw new HypError('ERROR_ADDR_OVERFLOW', `${what} range [${hex(addr)}, +${hex(size)}) overflows`);
  if (addr + size > limit) throw new HypError('ERROR_ADDR_INVALID', `${what} range [${hex(addr)}, +${hex(size)}) beyond ${hex(limit)}`);
}

/** A byte range of a query: non-negative integers. @throws HypError ERROR_ARGUMENT_INVALID */
function checkSpan(addr: number, len: number): void {
  if (!Number.isSafeInteger(addr) || addr < 0 || !Number.isSafeInteger(len) || len < 0 || addr + len > 2 ** 53) {
    throw new HypError('ERROR_ARGUMENT_INVALID', `range ${addr} + ${len}`);
  }
}

