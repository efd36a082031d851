/**
 * The RM's memory parcels: create (LEND, SHARE, DONATE), APPEND, ACCEPT, RELEASE, RECLAIM,
 * NOTIFY and QCOM_LOOKUP_SGL, each with its checks in the RM's order and its effect on the
 * hypervisor's memory (ownership through donation between extents, access through stage-2
 * mappings).
 *
 * Reference: rm-rpc.md §16.3 (create-time validation), §16.4 (states), §16.5 (operations and
 * their error order), §16.6 (sanitize, tags, locks); hypervisor.md §8 (donate, map, unmap).
 * The RM's plumbing (replies, notifications on the wire) stays in rm-rpc/server: operations
 * here return what to send.
 *
 *   owner's extent ──donate (create)──▶ parcel extent ──map (accept)──▶ borrower stage 2
 *        ▲                                   │ LEND: the owner's mapping no longer reaches it
 *        └──────────donate (reclaim)─────────┘ SHARE: the owner is mapped from the parcel extent
 */
import type { ExtentId, MemoryModel } from '../hyp/memory/api.js';
import { isHypError } from '../shared/hyp-errors.js';
import { MemAcceptFlag, MemAttr, MemCreateFlag, MemNotifyFlag, MemRights, MemType, TransType, MEM_HANDLE_INVALID } from '../rm-rpc/wire/enums.js';
import type { AclEntry, AttrEntry, MemAcceptReq, MemCreateReq, SglEntry } from '../rm-rpc/wire/mem.js';
import { IpaAllocator } from './ipa-allocator.js';
import { need, ParcelError } from './parcel-error.js';
import type { AclSlot, Parcel, Region } from './parcel.js';

/** At most this many parcels per owner VM (rm-rpc.md §16.2). */
export const MAX_PARCELS_PER_OWNER = 64;
/** Entries per list and per accept reply (rm-rpc.md §16.2, §12.5). */
export const MAX_LIST_ENTRIES = 512;
/** IPAs and sizes must be below 2^44 (rm-rpc.md §16.2). */
export const IPA_LIMIT = 2 ** 44;
const PAGE = 4096;
const MIB2 = 0x20_0000;

/** What the store needs from the RM. */
export interface ParcelStoreDeps {
  readonly mem: MemoryModel;
  /** The extent holding `vmid`'s own memory (created on first use). */
  ownExtent(vmid: number): ExtentId;
  /** Whether `vmid` may stand in an ACL: HLOS, RM, secondary/peripheral, or an allocated dynamic VM. */
  aclVmidValid(vmid: number): boolean;
  /** Whether a VM `vmid` exists. */
  vmExists(vmid: number): boolean;
}

/** A notification the RM must send as a result of an operation. */
export interface ParcelNotification {
  readonly to: number;
  readonly kind: 'MEM_SHARED' | 'MEM_RELEASED' | 'MEM_ACCEPTED' | 'MEM_RECALL';
  readonly parcel: Parcel;
  /** MEM_RELEASED / MEM_ACCEPTED: the borrower. */
  readonly vmid?: number;
}

/** MEM_ACCEPT's answer when the RM chose the IPAs. */
export interface AcceptResult {
  /** Present when the request had n_sgl = 0: the IPAs chosen by this call. */
  readonly chosen?: { readonly sgl: SglEntry[]; readonly incomplete: boolean };
}

const validRights = (r: number): boolean => r === MemRights.R || r === MemRights.RX || r === MemRights.RW || r === MemRights.RWX;
const aligned = (x: number): boolean => x % PAGE === 0;

export class ParcelStore {
  readonly #parcels = new Map<number, Parcel>();
  #counter = 0;
  readonly ipas = new IpaAllocator();

  constructor(readonly deps: ParcelStoreDeps) {}

  get(handle: number): Parcel | undefined {
    return this.#parcels.get(handle);
  }
  all(): Parcel[] {
    return [...this.#parcels.values()];
  }
  ownedBy(vmid: number): Parcel[] {
    return this.all().filter((p) => p.owner === vmid);
  }

  /** The next handle: a global counter from 0, skipping handles in use and 0xFFFFFFFF (§16.2). */
  #nextHandle(): number {
    for (;;) {
      const h = this.#counter;
      this.#counter = (this.#counter + 1) >>> 0;
      if (h !== MEM_HANDLE_INVALID && !this.#parcels.has(h)) return h;
    }
  }

  // ── create ───────────────────────────────────────────────────────────────

  /** MEM_LEND / MEM_SHARE / MEM_DONATE by `owner` (§16.1, §16.3). */
  create(owner: number, transType: number, req: MemCreateReq): Parcel {
    const io = req.memType === MemType.IO;
    need(req.acl.length > 0 && req.sgl.length > 0, 'ARGUMENT_INVALID', 'empty ACL or SGL');
    need(this.ownedBy(owner).length < MAX_PARCELS_PER_OWNER, 'DENIED', `VM ${owner} already owns ${MAX_PARCELS_PER_OWNER} parcels`);
    need(req.memType === MemType.NORMAL || io, 'ARGUMENT_INVALID', `mem_type ${req.memType}`);
    need(!(req.flags & MemCreateFlag.SANITIZE) || !io, 'ARGUMENT_INVALID', 'SANITIZE with IO memory');
    this.#checkAcl(owner, transType, io, req.acl);
    const attrs = this.#checkAttrs(io, req.acl, req.attrs, transType);
    for (const e of req.sgl) this.#checkSglEntry(e);

    const acl: AclSlot[] = req.acl.map((e) => ({
      vmid: e.vmid,
      rights: e.rights,
      attr: attrs.get(e.vmid) ?? (io ? MemAttr.DEVICE : MemAttr.NORMAL),
      shared: false,
      mapped: false,
      ipas: [],
      contiguous: undefined,
      reservations: [],
    }));
    const extent = this.deps.mem.createExtent(owner, `parcel`);
    const p: Parcel = {
      handle: MEM_HANDLE_INVALID,
      owner,
      memType: req.memType,
      transType,
      label: req.label,
      acl,
      attrsIn: req.attrs.map((a) => ({ attr: a.attr, vmid: a.vmid })),
      regions: [],
      sglCount: 0,
      state: req.flags & MemCreateFlag.APPEND ? 'INIT' : 'SHARING',
      shareCount: 0,
      createdSanitized: (req.flags & MemCreateFlag.SANITIZE) !== 0,
      sanitizeOnReclaim: false,
      memInfoTag: undefined,
      locked: false,
      extent,
      size: 0,
    };
    try {
      this.#take(p, req.sgl);
    } catch (err) {
      this.deps.mem.destroyExtent(extent);
      throw err;
    }
    const handle = this.#nextHandle();
    const parcel = { ...p, handle } as Parcel;
    this.#parcels.set(handle, parcel);
    if (parcel.createdSanitized) for (const r of parcel.regions) this.deps.mem.zero(r.pa, r.size);
    return parcel;
  }

  #checkAcl(owner: number, transType: number, io: boolean, acl: readonly AclEntry[]): void {
    const seen = new Set<number>();
    for (const e of acl) {
      need(!seen.has(e.vmid), 'ARGUMENT_INVALID', `VM ${e.vmid} twice in the ACL`);
      seen.add(e.vmid);
      need(this.deps.aclVmidValid(e.vmid), 'ARGUMENT_INVALID', `VMID ${e.vmid} is not valid in an ACL`);
      need(validRights(e.rights) && !(io && e.rights & MemRights.X), 'ARGUMENT_INVALID', `rights ${e.rights}`);
    }
    if (transType === TransType.LEND) need(!seen.has(owner), 'ARGUMENT_INVALID', 'LEND with the owner in the ACL');
    if (transType === TransType.SHARE) need(seen.has(owner), 'ARGUMENT_INVALID', 'SHARE without the owner in the ACL');
    if (transType === TransType.DONATE) {
      need(acl.length === 1, 'ARGUMENT_INVALID', 'DONATE needs exactly one ACL entry');
      need(acl[0]!.rights === (io ? MemRights.RW : MemRights.RWX), 'DENIED', 'DONATE needs full rights');
    }
  }

  #checkAttrs(io: boolean, acl: readonly AclEntry[], attrs: readonly AttrEntry[], transType: number): Map<number, number> {
    const out = new Map<number, number>();
    for (const a of attrs) {
      need(!out.has(a.vmid), 'ARGUMENT_INVALID', `VM ${a.vmid} twice in the attr list`);
      need(a.attr <= MemAttr.CACHED, 'ARGUMENT_INVALID', `attr ${a.attr}`);
      need(io ? a.attr === MemAttr.DEVICE : a.attr !== MemAttr.DEVICE, 'ARGUMENT_INVALID', `attr ${a.attr} for ${io ? 'IO' : 'NORMAL'} memory`);
      need(acl.some((e) => e.vmid === a.vmid), 'VMID_INVALID', `attr for VM ${a.vmid}, which is not in the ACL`);
      out.set(a.vmid, a.attr);
    }
    if (transType === TransType.DONATE) {
      const dflt = io ? MemAttr.DEVICE : MemAttr.NORMAL;
      need([...out.values()].every((v) => v === dflt), 'ARGUMENT_INVALID', 'DONATE with non-default attributes');
    }
    return out;
  }

  #checkSglEntry(e: SglEntry): void {
    const ok = e.address < BigInt(IPA_LIMIT) && e.size < BigInt(IPA_LIMIT) && e.size > 0n;
    // Hot path (once per SGL entry): the message is built only on failure.
    if (!(ok && aligned(Number(e.address)) && aligned(Number(e.size)))) throw new ParcelError('ARGUMENT_INVALID', `SGL entry ${e.address.toString(16)}+${e.size.toString(16)}`);
    need(Number(e.address) + Number(e.size) <= IPA_LIMIT, 'ARGUMENT_INVALID', 'SGL entry past 2^44');
  }

  /**
   * Move the owner's memory named by `sgl` into the parcel: each entry must be mapped in the
   * owner's stage 2 from the owner's own extent (else MEM_INVALID, everything undone).
   */
  #take(p: Parcel, sgl: readonly SglEntry[]): void {
    const { mem } = this.deps;
    const own = this.deps.ownExtent(p.owner);
    const done: Region[] = [];
    const shareRights = p.acl.find((a) => a.vmid === p.owner)?.rights ?? 0;
    try {
      let index = p.sglCount;
      for (const e of sgl) {
        const ipa = Number(e.address);
        const size = Number(e.size);
        const pieces = mem.translate(p.owner, ipa, size);
        let covered = 0;
        for (const t of pieces) covered += t.size;
        if (!(covered === size && pieces.every((t) => t.extent === own))) {
          throw new ParcelError('MEM_INVALID', `owner IPA ${ipa.toString(16)}+${size.toString(16)} is not the owner's own memory`);
        }
        for (const t of pieces) {
          try {
            mem.donate(own, p.extent, t.pa, t.size);
          } catch (err) {
            if (isHypError(err)) throw new ParcelError('MEM_INVALID', `donation failed: ${err.message}`);
            throw err;
          }
          const r: Region = { ownerIpa: t.ipa, pa: t.pa, size: t.size, ownerRights: t.rights, sglIndex: index };
          done.push(r);
          if (p.transType === TransType.SHARE) {
            // The owner keeps its access, now through the parcel extent, with its ACL rights.
            try {
              mem.unmap(p.owner, own, t.ipa, t.size);
              mem.map(p.owner, p.extent, t.ipa, t.pa, t.size, shareRights);
            } catch (err) {
              if (isHypError(err)) throw new ParcelError('MAP_FAILED', `owner mapping failed: ${err.message}`);
              throw err;
            }
          }
        }
        index++;
      }
      p.regions.push(...done);
      p.sglCount = index;
      for (const r of done) p.size += r.size;
    } catch (err) {
      this.#giveBack(p, done);
      throw err;
    }
  }

  /** Return regions to the owner's extent (and, for SHARE, the owner's own mapping). */
  #giveBack(p: Parcel, regions: readonly Region[]): void {
    const { mem } = this.deps;
    const own = this.deps.ownExtent(p.owner);
    for (const r of regions) {
      if (p.transType === TransType.SHARE) {
        try {
          mem.unmap(p.owner, p.extent, r.ownerIpa, r.size);
        } catch {
          // not mapped yet (failed half way)
        }
        if (mem.translate(p.owner, r.ownerIpa, r.size).length === 0) mem.map(p.owner, own, r.ownerIpa, r.pa, r.size, r.ownerRights);
      }
      mem.donate(p.extent, own, r.pa, r.size);
    }
  }

  // ── append ───────────────────────────────────────────────────────────────

  /** MEM_APPEND (§16.5). */
  append(caller: number, handle: number, done: boolean, sgl: readonly SglEntry[]): void {
    need(sgl.length > 0, 'ARGUMENT_INVALID', 'empty SGL');
    const p = this.#parcels.get(handle);
    need(p !== undefined, 'HANDLE_INVALID', `no parcel ${handle}`);
    need(p.owner === caller, 'DENIED', 'not the owner');
    need(p.state === 'INIT', 'DENIED', 'parcel is complete');
    for (const e of sgl) this.#checkSglEntry(e);
    this.#take(p, sgl);
    if (p.createdSanitized) for (const r of p.regions.slice(-sgl.length)) this.deps.mem.zero(r.pa, r.size);
    if (done) p.state = 'SHARING';
  }

  // ── accept ───────────────────────────────────────────────────────────────

  /** MEM_ACCEPT by `caller` (§16.5, errors 1–17 in order). */
  accept(caller: number, req: MemAcceptReq): AcceptResult {
    const p = this.#parcels.get(req.handle);
    need(p !== undefined, 'HANDLE_INVALID', `no parcel ${req.handle}`);
    need(req.memType === p.memType && req.transType === p.transType, 'ARGUMENT_INVALID', 'mem_type or trans_type mismatch');
    const f = req.flags;
    if (f & MemAcceptFlag.VALIDATE_SANITIZED) need(p.createdSanitized, 'VALIDATE_FAILED', 'parcel not created sanitized');
    if (f & MemAcceptFlag.VALIDATE_LABEL) need(req.label === p.label, 'VALIDATE_FAILED', 'label differs');
    if (f & MemAcceptFlag.VALIDATE_ACL_ATTR) {
      // The counts are compared first (§16.5 step 5, RM memparcel_do_accept): an empty list
      // against a non-empty ACL is a count mismatch.
      need(req.acl.length === p.acl.length && req.attrs.length === p.attrsIn.length, 'VALIDATE_FAILED', 'ACL or attr count differs');
      need(req.acl.length > 0, 'ARGUMENT_INVALID', 'VALIDATE_ACL_ATTR without an ACL');
      req.acl.forEach((e, i) => need(e.vmid === p.acl[i]!.vmid && e.rights === p.acl[i]!.rights, 'VALIDATE_FAILED', `ACL entry ${i} differs`));
      req.attrs.forEach((a, i) => need(a.vmid === p.attrsIn[i]!.vmid && a.attr === p.attrsIn[i]!.attr, 'VALIDATE_FAILED', `attr entry ${i} differs`));
    }
    need(!(f & MemAcceptFlag.MAP_OTHER), 'DENIED', 'MAP_OTHER');
    need(req.mapVmid === 0, 'ARGUMENT_INVALID', 'map_vmid must be 0');
    const slot = p.acl.find((a) => a.vmid === caller);
    need(this.deps.vmExists(caller) && slot !== undefined, 'VMID_INVALID', `VM ${caller} is not in the ACL`);
    need(caller !== p.owner && !slot.mapped, 'DENIED', 'owner, or already mapped');
    const io = p.memType === MemType.IO;
    const contiguous = (f & MemAcceptFlag.MAP_CONTIGUOUS) !== 0;
    need(!(contiguous && io), 'ARGUMENT_INVALID', 'MAP_CONTIGUOUS on IO memory');
    need(slot.ipas.length === 0 || slot.contiguous === contiguous, 'ARGUMENT_INVALID', 'MAP_CONTIGUOUS changed mid-accept');
    if (f & MemAcceptFlag.SANITIZE) need(!io && (slot.rights & MemRights.W) !== 0, 'ARGUMENT_INVALID', 'SANITIZE on IO or without W');

    // A refused ACCEPT changes nothing: the borrower stays as it was (§16.4: only an accept that
    // succeeds moves it), and every IPA this call reserved is given back.
    const before = { ipas: slot.ipas.length, reservations: slot.reservations.length, contiguous: slot.contiguous, shared: slot.shared, shareCount: p.shareCount, state: p.state };
    const reserved: number[] = [];
    try {
      const chosen = this.#assignIpas(p, slot, caller, req, contiguous, reserved);
      slot.contiguous ??= contiguous;
      if (!slot.shared) {
        slot.shared = true;
        p.shareCount++;
        p.state = 'SHARED';
      }
      if (f & MemAcceptFlag.DONE) {
        const assigned = slot.contiguous ? (slot.ipas.length > 0 ? p.regions.length : 0) : slot.ipas.length;
        need(assigned === p.regions.length, 'ARGUMENT_INVALID', 'DONE before every IPA is allocated');
        this.#mapBorrower(p, slot, caller);
      }
      if (f & MemAcceptFlag.SANITIZE) p.sanitizeOnReclaim = true;
      return chosen ? { chosen } : {};
    } catch (err) {
      for (const ipa of reserved) this.ipas.free(caller, ipa);
      slot.ipas.length = before.ipas;
      slot.reservations.length = before.reservations;
      slot.contiguous = before.contiguous;
      slot.shared = before.shared;
      p.shareCount = before.shareCount;
      p.state = before.state;
      throw err;
    }
  }

  /** ACCEPT's IPAs: the caller's (n_sgl > 0) or the RM's choice (n_sgl = 0); each is reserved. */
  #assignIpas(p: Parcel, slot: AclSlot, caller: number, req: MemAcceptReq, contiguous: boolean, reserved: number[]): AcceptResult['chosen'] {
    const total = p.regions.length;
    const have = slot.contiguous ? (slot.ipas.length > 0 ? total : 0) : slot.ipas.length;
    const remaining = total - have;
    const take = (ipa: number | undefined): number => {
      need(ipa !== undefined, 'NORESOURCE', 'no IPA space left');
      reserved.push(ipa);
      slot.reservations.push(ipa);
      return ipa;
    };
    const reserve = (ipa: number, size: number): number => {
      need(this.ipas.reserve(caller, ipa, size), 'NORESOURCE', `IPA ${ipa.toString(16)}+${size.toString(16)} is in use`);
      return take(ipa);
    };
    if (req.sgl.length > 0) {
      need(req.sgl.length <= (contiguous ? (have === 0 ? 1 : 0) : remaining), 'ARGUMENT_INVALID', 'more SGL entries than regions left');
      if (contiguous) {
        const e = req.sgl[0]!;
        need(aligned(Number(e.address)) && Number(e.size) === p.size, 'ARGUMENT_INVALID', 'contiguous accept must cover the whole parcel');
        this.#assignContiguous(slot, reserve(Number(e.address), p.size));
      } else {
        req.sgl.forEach((e, i) => {
          const r = p.regions[have + i]!;
          if (!(aligned(Number(e.address)) && Number(e.size) === r.size)) throw new ParcelError('ARGUMENT_INVALID', `SGL entry ${i} does not match region ${have + i}`);
        });
        req.sgl.forEach((e, i) => slot.ipas.push(reserve(Number(e.address), p.regions[have + i]!.size)));
      }
      return undefined;
    }
    if (remaining === 0) return { sgl: [], incomplete: false };
    const sgl: SglEntry[] = [];
    if (contiguous) {
      const at = take(this.ipas.alloc(caller, p.size));
      this.#assignContiguous(slot, at);
      sgl.push({ address: BigInt(at), size: BigInt(p.size) });
    } else {
      // One reservation for this call's regions: laid out back to back, each 2 MiB aligned
      // when it is 2 MiB or larger, inside one block that starts 2 MiB aligned if any is.
      const n = Math.min(remaining, MAX_LIST_ENTRIES);
      const offsets = new Array<number>(n);
      let end = 0;
      let big = false;
      for (let i = 0; i < n; i++) {
        const size = p.regions[have + i]!.size;
        if (size >= MIB2) {
          end = Math.ceil(end / MIB2) * MIB2;
          big = true;
        }
        offsets[i] = end;
        end += size;
      }
      const base = take(this.ipas.alloc(caller, end, big ? MIB2 : PAGE));
      for (let i = 0; i < n; i++) {
        const at = base + offsets[i]!;
        slot.ipas.push(at);
        sgl.push({ address: BigInt(at), size: BigInt(p.regions[have + i]!.size) });
      }
    }
    const left = total - (slot.contiguous ? total : slot.ipas.length);
    return { sgl, incomplete: left > 0 };
  }

  #assignContiguous(slot: AclSlot, base: number): void {
    slot.ipas = [base];
    slot.contiguous = true;
  }

  #mapBorrower(p: Parcel, slot: AclSlot, vmid: number): void {
    const { mem } = this.deps;
    const mapped: Array<[number, Region]> = [];
    let off = 0;
    try {
      for (let i = 0; i < p.regions.length; i++) {
        const r = p.regions[i]!;
        const ipa = slot.contiguous ? slot.ipas[0]! + off : slot.ipas[i]!;
        off += r.size;
        mem.map(vmid, p.extent, ipa, r.pa, r.size, slot.rights);
        mapped.push([ipa, r]);
      }
    } catch (err) {
      for (const [ipa, r] of mapped) mem.unmap(vmid, p.extent, ipa, r.size);
      if (isHypError(err)) throw new ParcelError('MAP_FAILED', err.message);
      throw err;
    }
    slot.mapped = true;
    if (p.transType === TransType.DONATE) this.#completeDonation(p, slot, vmid, mapped);
  }

  /** A DONATE accepted with DONE: the memory becomes the acceptor's and the parcel is gone. */
  #completeDonation(p: Parcel, slot: AclSlot, vmid: number, mapped: Array<[number, Region]>): void {
    const { mem } = this.deps;
    const to = this.deps.ownExtent(vmid);
    for (const [ipa, r] of mapped) {
      mem.unmap(vmid, p.extent, ipa, r.size);
      mem.donate(p.extent, to, r.pa, r.size);
      mem.map(vmid, to, ipa, r.pa, r.size, slot.rights);
    }
    mem.destroyExtent(p.extent);
    this.#parcels.delete(p.handle);
  }

  // ── release ──────────────────────────────────────────────────────────────

  /** MEM_RELEASE by `caller` (§16.5). Returns the parcel for the caller's bookkeeping. */
  release(caller: number, handle: number, sanitize: boolean): Parcel {
    const p = this.#parcels.get(handle);
    need(p !== undefined, 'HANDLE_INVALID', `no parcel ${handle}`);
    need(!p.locked, 'DENIED', 'parcel locked');
    need(this.deps.vmExists(caller), 'VMID_INVALID', `VM ${caller} does not exist`);
    const slot = p.acl.find((a) => a.vmid === caller);
    need(slot !== undefined, 'HANDLE_INVALID', `VM ${caller} is not in the ACL`);
    need(caller !== p.owner, 'DENIED', 'the owner cannot release');
    need(slot.shared, 'MEM_RELEASED', 'not accepted');
    if (sanitize) {
      need(p.memType !== MemType.IO && (slot.rights & MemRights.W) !== 0, 'ARGUMENT_INVALID', 'SANITIZE on IO or without W');
      p.sanitizeOnReclaim = true;
    }
    this.#unmapBorrower(p, slot, caller);
    return p;
  }

  #unmapBorrower(p: Parcel, slot: AclSlot, vmid: number): void {
    if (slot.mapped) {
      // One unmap per run of regions that are back to back in IPA space (a contiguous accept is
      // one run; RM-chosen IPAs mostly follow each other): an unmap may span several mappings.
      let off = 0;
      let runIpa = -1;
      let runSize = 0;
      for (let i = 0; i < p.regions.length; i++) {
        const r = p.regions[i]!;
        const ipa = slot.contiguous ? slot.ipas[0]! + off : slot.ipas[i]!;
        off += r.size;
        if (ipa === runIpa + runSize) {
          runSize += r.size;
          continue;
        }
        if (runSize > 0) this.deps.mem.unmap(vmid, p.extent, runIpa, runSize);
        runIpa = ipa;
        runSize = r.size;
      }
      if (runSize > 0) this.deps.mem.unmap(vmid, p.extent, runIpa, runSize);
    }
    for (const ipa of slot.reservations) this.ipas.free(vmid, ipa);
    slot.reservations = [];
    slot.mapped = false;
    slot.shared = false;
    slot.ipas = [];
    slot.contiguous = undefined;
    p.shareCount--;
    if (p.shareCount === 0) p.state = 'SHARING';
  }

  // ── reclaim ──────────────────────────────────────────────────────────────

  /** MEM_RECLAIM by `caller` (§16.5). */
  reclaim(caller: number, handle: number, sanitize: boolean): void {
    const p = this.#parcels.get(handle);
    need(p !== undefined, 'HANDLE_INVALID', `no parcel ${handle}`);
    need(p.owner === caller, 'DENIED', 'not the owner');
    need(p.state !== 'SHARED', 'MEM_INUSE', 'parcel is accepted');
    need(!p.locked, 'DENIED', 'parcel locked');
    need(!sanitize || p.memType !== MemType.IO, 'ARGUMENT_INVALID', 'SANITIZE with IO memory');
    if (sanitize || p.sanitizeOnReclaim) for (const r of p.regions) this.deps.mem.zero(r.pa, r.size);
    this.#giveBack(p, p.regions);
    this.deps.mem.destroyExtent(p.extent);
    this.#parcels.delete(handle);
  }

  // ── notify ───────────────────────────────────────────────────────────────

  /** MEM_NOTIFY (§16.5): what to send, and to whom. `vmids` are read only for SHARED and RECALL. */
  notify(caller: number, handle: number, flags: number, tag: number, vmids: () => number[], vmCount: number): ParcelNotification[] {
    const p = this.#parcels.get(handle);
    need(p !== undefined, 'HANDLE_INVALID', `no parcel ${handle}`);
    switch (flags) {
      case MemNotifyFlag.SHARED:
      case MemNotifyFlag.RECALL: {
        need(caller === p.owner, 'DENIED', 'only the owner notifies SHARED or RECALL');
        need(p.memInfoTag === undefined || p.memInfoTag === tag, 'ARGUMENT_INVALID', 'mem_info_tag differs');
        const targets = vmids();
        need(targets.length > 0 && targets.length <= vmCount, 'ARGUMENT_INVALID', `${targets.length} target VMs`);
        for (const t of targets) {
          need(this.deps.vmExists(t), 'VMID_INVALID', `VM ${t} does not exist`);
          need(p.acl.some((a) => a.vmid === t), 'ARGUMENT_INVALID', `VM ${t} is not in the ACL`);
        }
        if (flags === MemNotifyFlag.SHARED) p.memInfoTag ??= tag;
        const kind = flags === MemNotifyFlag.SHARED ? 'MEM_SHARED' : 'MEM_RECALL';
        return targets.map((to) => ({ to, kind, parcel: p }));
      }
      case MemNotifyFlag.ACCEPTED:
      case MemNotifyFlag.RELEASED: {
        need(p.memInfoTag === undefined || p.memInfoTag === tag, 'ARGUMENT_INVALID', 'mem_info_tag differs');
        const slot = p.acl.find((a) => a.vmid === caller);
        need(slot !== undefined, 'HANDLE_INVALID', `VM ${caller} is not in the ACL`);
        if (flags === MemNotifyFlag.ACCEPTED) need(slot.shared, 'MEM_RELEASED', 'claims accepted but has not accepted');
        else need(!slot.shared, 'MEM_INUSE', 'claims released but still has it accepted');
        return [{ to: p.owner, kind: flags === MemNotifyFlag.ACCEPTED ? 'MEM_ACCEPTED' : 'MEM_RELEASED', parcel: p, vmid: caller }];
      }
      default:
        throw new ParcelError('ARGUMENT_INVALID', `notify flags ${flags}`);
    }
  }

  // ── lookup ───────────────────────────────────────────────────────────────

  /** MEM_QCOM_LOOKUP_SGL (§16.5): the first matching parcel in SHARING owned by `caller`. */
  lookup(caller: number, memType: number, label: number, acl: readonly AclEntry[], sgl: readonly SglEntry[], attrs: readonly AttrEntry[]): number {
    for (const p of this.#parcels.values()) {
      if (p.owner !== caller || p.state !== 'SHARING' || p.memType !== memType) continue;
      if (p.acl.length !== acl.length || !acl.every((e, i) => e.vmid === p.acl[i]!.vmid && e.rights === p.acl[i]!.rights)) continue;
      if (p.regions.length !== sgl.length || !sgl.every((e, i) => Number(e.address) === p.regions[i]!.ownerIpa && Number(e.size) === p.regions[i]!.size)) continue;
      if (p.attrsIn.length !== attrs.length || !attrs.every((a, i) => a.vmid === p.attrsIn[i]!.vmid && a.attr === p.attrsIn[i]!.attr)) continue;
      if (p.label === MEM_HANDLE_INVALID) p.label = label;
      return p.handle;
    }
    throw new ParcelError('LOOKUP_FAILED', 'no matching parcel');
  }

  // ── VM lifetime ──────────────────────────────────────────────────────────

  /**
   * VM_RESET stage RELEASE_MEMPARCELS: release one parcel `vmid` has accepted; returns it (the
   * owner is then told MEM_RELEASED), or undefined when none is left.
   */
  releaseOneFor(vmid: number): Parcel | undefined {
    for (const p of this.#parcels.values()) {
      const slot = p.acl.find((a) => a.vmid === vmid && a.shared);
      if (slot && p.owner !== vmid) {
        this.#unmapBorrower(p, slot, vmid);
        return p;
      }
    }
    return undefined;
  }

  /**
   * Consistency of every parcel with the memory model: the parcel's extent owns exactly its
   * regions; a LEND's owner cannot reach them, a SHARE's owner reaches them through the parcel;
   * a mapped borrower reaches each region at its IPA; share counts and states agree.
   */
  checkInvariants(): string[] {
    const out: string[] = [];
    const { mem } = this.deps;
    for (const p of this.#parcels.values()) {
      const tag = `parcel ${p.handle}`;
      let owned = 0;
      for (const r of mem.runsOf(p.extent)) owned += r.size;
      if (owned !== p.size) out.push(`${tag}: its extent owns ${owned} bytes, the parcel covers ${p.size}`);
      let sum = 0;
      for (const r of p.regions) {
        sum += r.size;
        if (mem.extentOf(r.pa, r.size) !== p.extent) out.push(`${tag}: region at PA ${r.pa.toString(16)} is not in the parcel's extent`);
        const t = mem.translate(p.owner, r.ownerIpa, r.size);
        if (p.transType === TransType.SHARE) {
          if (!(t.length === 1 && t[0]!.extent === p.extent && t[0]!.pa === r.pa)) out.push(`${tag}: the SHARE owner does not reach region ${r.pa.toString(16)}`);
        } else if (t.some((x) => x.pa >= r.pa && x.pa < r.pa + r.size)) {
          out.push(`${tag}: the owner of a ${p.transType === TransType.LEND ? 'LEND' : 'DONATE'} still reaches PA ${r.pa.toString(16)}`);
        }
      }
      if (sum !== p.size) out.push(`${tag}: regions sum to ${sum}, size ${p.size}`);
      const shared = p.acl.filter((a) => a.shared).length;
      if (shared !== p.shareCount) out.push(`${tag}: share_count ${p.shareCount}, ${shared} borrowers shared`);
      if ((p.state === 'SHARED') !== shared > 0 && p.state !== 'INIT') out.push(`${tag}: state ${p.state} with ${shared} borrowers`);
      for (const a of p.acl) {
        if (!a.mapped) continue;
        let off = 0;
        p.regions.forEach((r, i) => {
          const ipa = a.contiguous ? a.ipas[0]! + off : a.ipas[i]!;
          off += r.size;
          const t = mem.translate(a.vmid, ipa, r.size);
          if (!(t.length === 1 && t[0]!.pa === r.pa && t[0]!.extent === p.extent)) out.push(`${tag}: borrower ${a.vmid} does not reach region ${i} at IPA ${ipa.toString(16)}`);
        });
      }
    }
    return out;
  }

  // ── RM-internal use ──────────────────────────────────────────────────────

  /**
   * An accept the RM makes itself on behalf of `vmid` (VM_START mapping the VM's image parcel):
   * the whole parcel, mapped as one block at `ipa` with the rights and attribute of `vmid`'s
   * ACL entry, through the same checks and effects as a MEM_ACCEPT with DONE and MAP_CONTIGUOUS
   * (the borrower becomes shared and mapped, share_count + 1, state SHARED, the IPAs reserved).
   * No notification results (an ACCEPT never notifies the owner, rm-rpc.md §16.5), and the
   * accept is undone like any other: RELEASE, or `releaseOneFor` at the VM's reset.
   * @throws ParcelError as ACCEPT would (HANDLE_INVALID, VMID_INVALID, DENIED, NORESOURCE, …).
   */
  acceptAt(vmid: number, handle: number, ipa: number): void {
    const p = this.#parcels.get(handle);
    need(p !== undefined, 'HANDLE_INVALID', `no parcel ${handle}`);
    this.accept(vmid, {
      handle,
      memType: p.memType,
      transType: p.transType,
      flags: MemAcceptFlag.DONE | MemAcceptFlag.MAP_CONTIGUOUS,
      label: p.label,
      acl: [],
      mapVmid: 0,
      sgl: [{ address: BigInt(ipa), size: BigInt(p.size) }],
      attrs: [],
    });
  }

  /**
   * The RM hands a started VM its image parcel for good: the memory moves from the parcel into
   * extent `to` (the VM's private extent), the VM keeps its mapping at the same IPAs and
   * rights, and the parcel is gone. From then on the host reclaims those pages like any page
   * it gave the guest (uapi.md §8.2 step 12: Linux records the DTB pages as provided to the
   * guest once the VM starts; docs/decisions.md B12). A SHARE parcel's memory goes back to its
   * owner's extent instead (a shared page stays the owner's, and Linux reclaims it from
   * guest_shared to host_shared, both the host's RAM extent, B10), and the owner's own mapping
   * is restored as a reclaim would.
   * @throws ParcelError HANDLE_INVALID when `vmid` has not accepted the parcel
   */
  absorbInto(vmid: number, handle: number, to: number): void {
    const p = this.#parcels.get(handle);
    need(p !== undefined, 'HANDLE_INVALID', `no parcel ${handle}`);
    const slot = p.acl.find((a) => a.vmid === vmid && a.mapped);
    need(slot !== undefined, 'HANDLE_INVALID', `VM ${vmid} has not accepted parcel ${handle}`);
    const { mem } = this.deps;
    const share = p.transType === TransType.SHARE;
    const dest = share ? this.deps.ownExtent(p.owner) : to;
    let off = 0;
    for (let i = 0; i < p.regions.length; i++) {
      const r = p.regions[i]!;
      const ipa = slot.contiguous ? slot.ipas[0]! + off : slot.ipas[i]!;
      off += r.size;
      mem.unmap(vmid, p.extent, ipa, r.size);
      if (share) this.#giveBack(p, [r]);
      else mem.donate(p.extent, dest, r.pa, r.size);
      mem.map(vmid, dest, ipa, r.pa, r.size, slot.rights);
    }
    // The IPAs stay reserved for the VM: its memory is still mapped there (freed with the VM).
    mem.destroyExtent(p.extent);
    this.#parcels.delete(p.handle);
  }

  /**
   * Write `bytes` at byte `offset` of a parcel's contents (its regions back to back), through
   * physical memory as the RM does once it has mapped the parcel into its own address space.
   * @throws RangeError when the range is not inside the parcel.
   */
  writeContents(p: Parcel, offset: number, bytes: Uint8Array): void {
    if (!(Number.isSafeInteger(offset) && offset >= 0 && offset + bytes.byteLength <= p.size)) {
      throw new RangeError(`write of ${bytes.byteLength} bytes at ${offset} is outside parcel ${p.handle} (${p.size} bytes)`);
    }
    let at = 0;
    let base = 0;
    for (const r of p.regions) {
      if (at >= bytes.byteLength) break;
      const start = offset + at;
      if (start < base + r.size && start >= base) {
        const n = Math.min(bytes.byteLength - at, base + r.size - start);
        this.deps.mem.writePhys(r.pa + (start - base), bytes.subarray(at, at + n));
        at += n;
      }
      base += r.size;
    }
  }

  /** Read `len` bytes at byte `offset` of a parcel's contents (its regions back to back). */
  readContents(p: Parcel, offset: number, len: number): Uint8Array {
    const out = new Uint8Array(len);
    let at = 0;
    let base = 0;
    for (const r of p.regions) {
      if (at >= len) break;
      const start = offset + at;
      if (start < base + r.size && start >= base) {
        const n = Math.min(len - at, base + r.size - start);
        out.set(this.deps.mem.readPhys(r.pa + (start - base), n), at);
        at += n;
      }
      base += r.size;
    }
    return out;
  }
}
