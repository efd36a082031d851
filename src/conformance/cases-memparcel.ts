/**
 * Conformance cases: memory parcels — create-time validation of MEM_LEND / MEM_SHARE /
 * MEM_DONATE, handles and the per-owner limit, MEM_APPEND, MEM_ACCEPT / MEM_RELEASE /
 * MEM_RECLAIM with a started guest, MEM_NOTIFY and the notifications it produces, the release
 * a VM reset performs, and MEM_QCOM_LOOKUP_SGL.
 *
 * Reference: rm-rpc.md §10 (list encoding), §12.5 (layouts), §13 (MEM_SHARED, MEM_RELEASED,
 * MEM_ACCEPTED, MEM_RECALL), §14.1 (errors), §15.4 (reset stage 2 releases accepted parcels)
 * and §16 (semantics). The host (HLOS) lends pages of its own RAM, identity-mapped from
 * 0x8000_0000; each case uses its own window of it (`windowOf`), below the top of RAM where the
 * control surface takes the platform parcels from.
 *
 * Decisions where the sheet is silent or unverified, from quic/gunyah-resource-manager
 * (src/memparcel/memparcel.c, 12/2023):
 *  - one SGL entry over the host's identity-mapped RAM is one internal region (add_sgl_to_mp
 *    looks the range up in the owner's mapping and pushes one region per contiguous run; the
 *    region list never merges neighbours). Entries are still never adjacent, so no
 *    expectation depends on whether an RM merges neighbouring entries;
 *  - the MEM_ACCEPT reply's reserved byte is 0 (the reply buffer is zero-allocated);
 *  - MEM_NOTIFY on an unknown handle is HANDLE_INVALID, and the tag comparison comes before
 *    the flag dispatch, so every NOTIFY here carries the parcel's tag unless a mismatch is
 *    the point (memparcel_notify); a failed NOTIFY(SHARED) does not set the tag
 *    (memparcel_notify_shared sets it after the target checks);
 *  - the MEM_RELEASED that VM_RESET sends carries the parcel's mem_info_tag
 *    (vm_reset_handle_release_memparcels → memparcel_notify_owner), and arrives before the
 *    RESET status, since stage 2 precedes COMPLETED (§15.4);
 *  - a caller-chosen IPA list is checked before any IPA is allocated, so a refused ACCEPT
 *    leaves the borrower idle (memparcel_do_accept frees what it allocated on every error);
 *  - VALIDATE_ACL_ATTR with an empty ACL list against a one-entry ACL is a count mismatch,
 *    VALIDATE_FAILED: §16.5 lists the count check first, as memparcel_do_accept makes it;
 *  - MEM_QCOM_LOOKUP_SGL does not find a parcel while a borrower holds it (state SHARED): §16.5
 *    says "in SHARING" and memparcel_sgl_do_lookup skips other states. §16.6 "the owner can
 *    LOOKUP while mapped" is read as "may send it", not "finds it";
 *  - the owner's MEM_RELEASE of its own LEND (not in the ACL) is HANDLE_INVALID, of its own
 *    SHARE DENIED (§16.5 RELEASE steps 4 and 5).
 * Nothing here relies on how many handles a refused create consumes (the real RM takes one
 * before its ACL checks): handle arithmetic is only asserted across successful creates.
 */
import { RmMsgId, RmNotifId } from '../rm-rpc/wire/msg-ids.js';
import { RmErrorCode } from '../rm-rpc/wire/errors.js';
import { view } from '../shared/bytes.js';
import type { CaseContext, ConformanceCase } from './case.js';
import type { RmNotification, RmSession } from './session.js';
import { check, errLabel, errValue, expectBytes, expectEqual, fail, hexPreview, hx, msgLabel, type ErrSpec } from './assert.js';
import {
  MEM_APPEND_FLAG_DONE,
  MemAcceptFlag,
  MemAttr,
  MemCreateFlag,
  MemNotifyFlag,
  MemRights,
  MemType,
  TransType,
  VmStatus,
  Vmid,
  decodeAcceptSgl,
  memAcceptReq,
  memAppendReq,
  memCreateReq,
  memLookupReq,
  memNotifyReq,
  memOwnerNotifBytes,
  memRecallBytes,
  memReclaimReq,
  memReleaseReq,
  memSharedBytes,
  u32At,
  vmidReq,
  type AclEntry,
  type MemAccept,
  type MemCreate,
  type SglEntry,
} from './payloads.js';
import { allocateVm, bootGuest, deallocateVm, forceStop, isVmStatus, resetAndWait } from './vm-helpers.js';

const GROUP = 'memparcel';

const PAGE = 0x1000n;
const SIZE_2M = 0x20_0000n;
/** Entries must stay below 2^44 (rm-rpc.md §16.2). */
const ADDR_LIMIT = 1n << 44n;

/**
 * Host RAM reserved for case `n`: 16 MiB from 0x2_0000_0000 + n × 16 MiB. Well inside the
 * host's RAM (0x8000_0000 + 512 GiB) and far below the platform parcels at its top.
 */
function windowOf(n: number): bigint {
  return 0x2_0000_0000n + BigInt(n) * 0x100_0000n;
}

/** An SGL entry of `pages` pages at `addr`. */
function pages(addr: bigint, count = 1): SglEntry {
  return { addr, size: PAGE * BigInt(count) };
}

/** `n` one-page entries, two pages apart (never adjacent), from `base`. */
function spreadPages(base: bigint, n: number): SglEntry[] {
  return Array.from({ length: n }, (_, i) => pages(base + BigInt(2 * i) * PAGE));
}

type CreateMsg = typeof RmMsgId.MEM_LEND | typeof RmMsgId.MEM_SHARE | typeof RmMsgId.MEM_DONATE;

/** The failure line prefix the session uses: `HLOS: MEM_LEND (what) seq 0x..`. */
function callLabel(s: RmSession, msgId: number, what: string, seq: number): string {
  return `${s.label}: ${msgLabel(msgId)}${what ? ` ${what}` : ''} seq ${hx(seq)}`;
}

/**
 * A create that must succeed: OK with exactly the u32 handle. The parcel is tracked, so cleanup
 * reclaims it if the case stops early.
 */
async function createOk(ctx: CaseContext, msgId: CreateMsg, c: MemCreate, what: string, s: RmSession = ctx.hlos): Promise<number> {
  const r = await s.call(msgId, memCreateReq(c));
  const label = callLabel(s, msgId, what, r.seq);
  if (r.errCode !== RmErrorCode.OK) fail(`${label}: expected OK, got ${errLabel(r.errCode)}`);
  check(r.data.byteLength === 4, `${label}: expected OK with a u32 handle, got data ${hexPreview(r.data)}`);
  const handle = view(r.data).getUint32(0, true);
  ctx.trackParcel(handle);
  return handle;
}

/** A create that must fail with `err` and a standard reply; a parcel made anyway is tracked for cleanup. */
async function createFails(ctx: CaseContext, msgId: CreateMsg, req: MemCreate | Uint8Array, err: ErrSpec, what: string, s: RmSession = ctx.hlos): Promise<void> {
  const r = await s.call(msgId, req instanceof Uint8Array ? req : memCreateReq(req));
  const label = callLabel(s, msgId, what, r.seq);
  if (r.errCode === RmErrorCode.OK && r.data.byteLength === 4) ctx.trackParcel(view(r.data).getUint32(0, true));
  if (r.errCode !== errValue(err)) {
    fail(`${label}: expected ${errLabel(errValue(err))}, got ${errLabel(r.errCode)}${r.data.byteLength ? `; data ${hexPreview(r.data, 16)}` : ''}`);
  }
  check(r.data.byteLength === 0, `${label}: expected a standard reply, got data ${hexPreview(r.data)}`);
}

/** MEM_RECLAIM by `s` (default HLOS) with the expected result (standard reply). */
async function reclaim(ctx: CaseContext, handle: number, err: ErrSpec = 'OK', what = '', s: RmSession = ctx.hlos): Promise<void> {
  await s.expect(RmMsgId.MEM_RECLAIM, memReclaimReq(handle), err, `of ${hx(handle)}${what ? ` ${what}` : ''}`, 0);
}

/** MEM_RELEASE by `s` with the expected result (standard reply). */
async function release(s: RmSession, handle: number, err: ErrSpec = 'OK', what = ''): Promise<void> {
  await s.expect(RmMsgId.MEM_RELEASE, memReleaseReq(handle), err, `of ${hx(handle)}${what ? ` ${what}` : ''}`, 0);
}

/** MEM_ACCEPT with the RM choosing the IPAs; requires OK and returns the decoded reply. */
async function acceptOk(s: RmSession, a: MemAccept, what: string): Promise<ReturnType<typeof decodeAcceptSgl>> {
  const data = await s.ok(RmMsgId.MEM_ACCEPT, memAcceptReq(a), `of ${hx(a.handle)} ${what}`);
  return decodeAcceptSgl(data);
}

/** MEM_ACCEPT that must fail with `err` (standard reply). */
async function acceptFails(s: RmSession, a: MemAccept, err: ErrSpec, what: string): Promise<void> {
  await s.expect(RmMsgId.MEM_ACCEPT, memAcceptReq(a), err, `of ${hx(a.handle)} ${what}`, 0);
}

/** MEM_NOTIFY with the expected result (standard reply). */
async function notify(s: RmSession, handle: number, flags: number, tag: number, vmids: readonly number[] | undefined, err: ErrSpec, what: string): Promise<void> {
  await s.expect(RmMsgId.MEM_NOTIFY, memNotifyReq(handle, flags, tag, vmids), err, `of ${hx(handle)} ${what}`, 0);
}

/** Predicate: notification `msgId` whose payload starts with `handle`. */
function isMemNotif(msgId: number, handle: number): (n: RmNotification) => boolean {
  return (n) => n.msgId === msgId && n.data.byteLength >= 4 && view(n.data).getUint32(0, true) === handle;
}

/** Prove with a probe that `s` received no notification matching `pred` (§5: the RM works in order). */
async function expectNone(s: RmSession, pred: (n: RmNotification) => boolean, what: string, why: string): Promise<void> {
  await s.probe(why);
  const stray = s.pending.find(pred);
  if (stray) fail(`${s.label}: ${why} must send no ${what}, got ${msgLabel(stray.msgId)} ${hexPreview(stray.data)}`);
}

/**
 * Check a MEM_ACCEPT reply where the RM chose the IPAs: not INCOMPLETE, reserved 0, one entry
 * per region with that region's size, page-aligned IPAs (2 MiB aligned for regions of 2 MiB or
 * more, §12.5 effects), and no two mappings overlapping.
 */
function checkAcceptSgl(r: ReturnType<typeof decodeAcceptSgl>, sizes: readonly bigint[], what: string): void {
  expectEqual(r.flags, 0, `MEM_ACCEPT reply flags ${what}`);
  expectEqual(r.reserved, 0, `MEM_ACCEPT reply reserved byte ${what}`);
  check(
    r.sgl.length === sizes.length && r.sgl.every((e, i) => e.size === sizes[i]),
    `MEM_ACCEPT reply ${what}: expected sizes [${sizes.map(hx).join(', ')}], got [${r.sgl.map((e) => `${hx(e.addr)}+${hx(e.size)}`).join(', ')}]`,
  );
  for (const e of r.sgl) {
    const align = e.size >= SIZE_2M ? SIZE_2M : PAGE;
    check(e.addr % align === 0n, `MEM_ACCEPT reply ${what}: IPA ${hx(e.addr)} of a ${hx(e.size)}-byte mapping is not ${hx(align)}-aligned`);
    check(e.addr + e.size <= ADDR_LIMIT, `MEM_ACCEPT reply ${what}: mapping ${hx(e.addr)}+${hx(e.size)} is beyond 2^44`);
  }
  const sorted = [...r.sgl].sort((a, b) => (a.addr < b.addr ? -1 : a.addr > b.addr ? 1 : 0));
  for (let i = 1; i < sorted.length; i++) {
    const prev = sorted[i - 1]!;
    check(prev.addr + prev.size <= sorted[i]!.addr, `MEM_ACCEPT reply ${what}: mappings ${hx(prev.addr)}+${hx(prev.size)} and ${hx(sorted[i]!.addr)} overlap`);
  }
}

/** The handle in a 4-byte OK reply. */
async function lookupOk(s: RmSession, c: MemCreate, what: string): Promise<number> {
  return u32At(await s.ok(RmMsgId.MEM_QCOM_LOOKUP_SGL, memLookupReq(c), what, 4), 0, 'MEM_QCOM_LOOKUP_SGL');
}

const R = MemRights.R;
const RW = MemRights.RW;
const RWX = MemRights.RWX;

export const MEMPARCEL_CASES: readonly ConformanceCase[] = [
  {
    id: 'memparcel.create-acl',
    group: GROUP,
    title: 'create ACL rules: owner in a LEND, owner missing from a SHARE, DONATE shape and rights, empty lists, bad rights, duplicate and unknown VMIDs',
    async run(ctx) {
      const base = windowOf(0);
      const vm = await allocateVm(ctx);
      const vm2 = await allocateVm(ctx);
      const sgl = [pages(base)];
      const L = RmMsgId.MEM_LEND;

      await createFails(ctx, L, { acl: [{ vmid: Vmid.HLOS, rights: RW }, { vmid: vm, rights: RW }], sgl }, 'ARGUMENT_INVALID', '(owner HLOS in the ACL)');
      await createFails(ctx, L, { acl: [{ vmid: Vmid.HLOS, rights: RW }], sgl }, 'ARGUMENT_INVALID', '(ACL = the owner alone)');
      await createFails(ctx, RmMsgId.MEM_SHARE, { acl: [{ vmid: vm, rights: RW }], sgl }, 'ARGUMENT_INVALID', '(owner missing from the ACL)');
      await createFails(ctx, RmMsgId.MEM_DONATE, { acl: [{ vmid: vm, rights: RWX }, { vmid: vm2, rights: RWX }], sgl }, 'ARGUMENT_INVALID', '(2 ACL entries)');
      await createFails(ctx, RmMsgId.MEM_DONATE, { acl: [{ vmid: vm, rights: RW }], sgl }, 'DENIED', '(rights RW, not RWX)');
      await createFails(ctx, RmMsgId.MEM_DONATE, { acl: [{ vmid: vm, rights: R }], sgl }, 'DENIED', '(rights R, not RWX)');
      await createFails(ctx, RmMsgId.MEM_DONATE, { acl: [{ vmid: vm, rights: RWX }], sgl, attrs: [{ attr: MemAttr.UNCACHED, vmid: vm }] }, 'ARGUMENT_INVALID', '(non-default attr UNCACHED)');
      await createFails(ctx, L, { acl: [], sgl }, 'ARGUMENT_INVALID', '(empty ACL)');
      await createFails(ctx, L, { acl: [{ vmid: vm, rights: RW }], sgl: [] }, 'ARGUMENT_INVALID', '(empty SGL)');
      for (const rights of [0, MemRights.X, MemRights.W, MemRights.W | MemRights.X]) {
        await createFails(ctx, L, { acl: [{ vmid: vm, rights }], sgl }, 'ARGUMENT_INVALID', `(rights ${hx(rights)})`);
      }
      await createFails(ctx, L, { memType: MemType.IO, acl: [{ vmid: vm, rights: RWX }], sgl }, 'ARGUMENT_INVALID', '(IO memory with X)');
      await createFails(ctx, L, { memType: MemType.IO, flags: MemCreateFlag.SANITIZE, acl: [{ vmid: vm, rights: RW }], sgl }, 'ARGUMENT_INVALID', '(IO memory with SANITIZE)');
      await createFails(ctx, L, { acl: [{ vmid: vm, rights: R }, { vmid: vm, rights: RW }], sgl }, 'ARGUMENT_INVALID', `(VMID ${hx(vm)} twice in the ACL)`);

      // A dynamic VMID that was allocated and freed again is unknown.
      const gone = await allocateVm(ctx);
      await deallocateVm(ctx, gone);
      await createFails(ctx, L, { acl: [{ vmid: gone, rights: RW }], sgl }, 'ARGUMENT_INVALID', `(freed dynamic VMID ${hx(gone)} in the ACL)`);

      // None of the refusals kept the page: it can be lent now, and given back.
      const h = await createOk(ctx, L, { acl: [{ vmid: vm, rights: RW }], sgl }, '(the same page, valid ACL)');
      await reclaim(ctx, h);
    },
  },
  {
    id: 'memparcel.create-attrs',
    group: GROUP,
    title: 'create attr list rules: duplicate VMID, attr 4, DEVICE on NORMAL memory, NORMAL on IO memory are ARGUMENT_INVALID; an attr VMID not in the ACL is VMID_INVALID',
    async run(ctx) {
      const base = windowOf(1);
      const vm = await allocateVm(ctx);
      const acl = [{ vmid: vm, rights: RW }];
      const sgl = [pages(base)];
      const L = RmMsgId.MEM_LEND;
      await createFails(ctx, L, { acl, sgl, attrs: [{ attr: MemAttr.CACHED, vmid: vm }, { attr: MemAttr.UNCACHED, vmid: vm }] }, 'ARGUMENT_INVALID', `(VMID ${hx(vm)} twice in the attr list)`);
      await createFails(ctx, L, { acl, sgl, attrs: [{ attr: 4, vmid: vm }] }, 'ARGUMENT_INVALID', '(attr 4)');
      await createFails(ctx, L, { acl, sgl, attrs: [{ attr: MemAttr.DEVICE, vmid: vm }] }, 'ARGUMENT_INVALID', '(DEVICE for NORMAL memory)');
      await createFails(ctx, L, { memType: MemType.IO, acl, sgl, attrs: [{ attr: MemAttr.NORMAL, vmid: vm }] }, 'ARGUMENT_INVALID', '(NORMAL for IO memory)');
      await createFails(ctx, L, { acl, sgl, attrs: [{ attr: MemAttr.CACHED, vmid: Vmid.HLOS }] }, 'VMID_INVALID', '(attr for HLOS, which is not in the ACL)');
      const h = await createOk(ctx, L, { acl, sgl, attrs: [{ attr: MemAttr.UNCACHED, vmid: vm }] }, '(attr UNCACHED for the borrower)');
      await reclaim(ctx, h);
      // §10: a buffer that ends where the attr list header would start has an empty attr list.
      const h2 = await createOk(ctx, L, { acl, sgl, attrs: null }, '(no attr list header at all)');
      await reclaim(ctx, h2);
    },
  },
  {
    id: 'memparcel.create-sgl',
    group: GROUP,
    title: 'create SGL rules: misaligned or ≥ 2^44 entries are ARGUMENT_INVALID; memory the host does not own, overlaps, duplicates and ranges already in a parcel are MEM_INVALID and roll back',
    async run(ctx) {
      const base = windowOf(2);
      const vm = await allocateVm(ctx);
      const acl = [{ vmid: vm, rights: RW }];
      const L = RmMsgId.MEM_LEND;
      const bad = (sgl: SglEntry[], err: ErrSpec, what: string): Promise<void> => createFails(ctx, L, { acl, sgl }, err, what);

      await bad([{ addr: base + 0x800n, size: PAGE }], 'ARGUMENT_INVALID', '(address not 4 KiB aligned)');
      await bad([{ addr: base, size: 0x1800n }], 'ARGUMENT_INVALID', '(size not 4 KiB aligned)');
      await bad([{ addr: ADDR_LIMIT, size: PAGE }], 'ARGUMENT_INVALID', '(address 2^44)');
      await bad([{ addr: base, size: ADDR_LIMIT }], 'ARGUMENT_INVALID', '(size 2^44)');
      await bad([pages(0x1000_0000n)], 'MEM_INVALID', '(0x10000000, below the host RAM)');
      await bad([pages(0x7fff_f000n, 2)], 'MEM_INVALID', '(a range that starts below the host RAM)');

      const a = base; // pages a .. a+3 are used below
      await bad([pages(a, 2), pages(a + PAGE, 2)], 'MEM_INVALID', '(two overlapping entries)');
      await bad([pages(a), pages(a)], 'MEM_INVALID', '(the same entry twice)');
      await bad([pages(a), pages(0x1000_0000n)], 'MEM_INVALID', '(a good entry, then memory the host does not own)');

      // Nothing was left half-done: the whole range can be lent now.
      const h1 = await createOk(ctx, L, { acl, sgl: [pages(a, 3)] }, '(3 pages the refused requests named)');
      await bad([pages(a, 3)], 'MEM_INVALID', '(the same range again)');
      await bad([pages(a + PAGE)], 'MEM_INVALID', '(a page already lent)');
      await createFails(ctx, RmMsgId.MEM_SHARE, { acl: [{ vmid: Vmid.HLOS, rights: RW }, { vmid: vm, rights: R }], sgl: [pages(a + 2n * PAGE, 2)] }, 'MEM_INVALID', '(a range that ends in a lent page)');
      // The page after the lent range is still the host's.
      const h2 = await createOk(ctx, L, { acl, sgl: [pages(a + 3n * PAGE)] }, '(the page after the lent range)');
      await reclaim(ctx, h1);
      await reclaim(ctx, h2);
      // Reclaimed memory is the host's again.
      const h3 = await createOk(ctx, L, { acl, sgl: [pages(a + PAGE)] }, '(a page of a reclaimed parcel)');
      await reclaim(ctx, h3);
    },
  },
  {
    id: 'memparcel.handles',
    group: GROUP,
    title: 'handles come from a global counter: consecutive creates get consecutive handles, a reclaimed handle is not reused, and reclaiming it again is HANDLE_INVALID',
    async run(ctx) {
      const base = windowOf(3);
      const vm = await allocateVm(ctx);
      const acl = [{ vmid: vm, rights: RW }];
      const h1 = await createOk(ctx, RmMsgId.MEM_LEND, { acl, sgl: [pages(base)] }, '(first)');
      const h2 = await createOk(ctx, RmMsgId.MEM_SHARE, { acl: [{ vmid: Vmid.HLOS, rights: RW }, ...acl], sgl: [pages(base + 2n * PAGE)] }, '(second)');
      expectEqual(h2, (h1 + 1) >>> 0, `handle of the create after handle ${hx(h1)}`);
      await reclaim(ctx, h2);
      await reclaim(ctx, h2, 'HANDLE_INVALID', '(already reclaimed)');
      const h3 = await createOk(ctx, RmMsgId.MEM_LEND, { acl, sgl: [pages(base + 2n * PAGE)] }, '(after reclaiming the second)');
      check(h3 !== h2, `MEM_LEND after reclaiming handle ${hx(h2)} reused it`);
      expectEqual(h3, (h2 + 1) >>> 0, `handle of the create after reclaiming ${hx(h2)} (the counter goes on)`);
      await reclaim(ctx, h3);
      await reclaim(ctx, h1);
      await reclaim(ctx, h1, 'HANDLE_INVALID', '(already reclaimed)');
    },
  },
  {
    id: 'memparcel.limit-64',
    group: GROUP,
    title: 'an owner holds at most 64 parcels: the 65th create is DENIED, and after a reclaim it succeeds',
    async run(ctx) {
      const base = windowOf(4);
      const vm = await allocateVm(ctx);
      const acl = [{ vmid: vm, rights: RW }];
      // The host may already own parcels (platform parcels of other users of a long-lived RM).
      let held = 0;
      if (ctx.control) held = (await ctx.control.inspect()).parcels.filter((p) => p.owner === Vmid.HLOS).length;
      else ctx.note('no control surface: assumes the host owns no parcel at the start');
      check(held < 64, `the host already owns ${held} parcels`);
      const handles: number[] = [];
      for (let i = 0; handles.length + held < 64; i++) {
        handles.push(await createOk(ctx, RmMsgId.MEM_LEND, { acl, sgl: [pages(base + BigInt(2 * i) * PAGE)] }, `(parcel ${handles.length + held + 1} of 64)`));
      }
      const next = pages(base + 2n * 64n * PAGE);
      await createFails(ctx, RmMsgId.MEM_LEND, { acl, sgl: [next] }, 'DENIED', '(a 65th parcel)');
      await reclaim(ctx, handles.pop()!);
      const h = await createOk(ctx, RmMsgId.MEM_LEND, { acl, sgl: [next] }, '(after one reclaim)');
      await reclaim(ctx, h);
      for (const hd of handles) await reclaim(ctx, hd);
    },
  },
  {
    id: 'memparcel.list-limits',
    group: GROUP,
    title: 'a create with 513 SGL, ACL or attr entries is NORESOURCE',
    async run(ctx) {
      const base = windowOf(5);
      const vm = await allocateVm(ctx);
      const acl = [{ vmid: vm, rights: RW }];
      await createFails(ctx, RmMsgId.MEM_LEND, { acl, sgl: spreadPages(base, 513) }, 'NORESOURCE', '(513 SGL entries)');
      const manyAcl: AclEntry[] = Array.from({ length: 513 }, () => ({ vmid: vm, rights: RW }));
      await createFails(ctx, RmMsgId.MEM_LEND, { acl: manyAcl, sgl: [pages(base)] }, 'NORESOURCE', '(513 ACL entries)');
      const manyAttrs = Array.from({ length: 513 }, () => ({ attr: MemAttr.NORMAL, vmid: vm }));
      await createFails(ctx, RmMsgId.MEM_LEND, { acl, sgl: [pages(base)], attrs: manyAttrs }, 'NORESOURCE', '(513 attr entries)');
      // 512 is the limit, not over it.
      const h = await createOk(ctx, RmMsgId.MEM_LEND, { acl, sgl: spreadPages(base, 512) }, '(512 SGL entries)');
      await reclaim(ctx, h);
    },
  },
  {
    id: 'memparcel.append',
    group: GROUP,
    title: 'APPEND protocol: create with APPEND and 512 entries, MEM_APPEND without then with DONE; empty SGL, overlaps, APPEND after DONE and unknown handles are refused; RECLAIM in INIT is allowed',
    async run(ctx) {
      const base = windowOf(6);
      const vm = await allocateVm(ctx);
      const acl = [{ vmid: vm, rights: RW }];
      const first = spreadPages(base, 512); // pages base .. base + 1022 (even ones)
      const more = base + 0x40_0000n; // 4 MiB on: past the first 512 entries
      const h = await createOk(ctx, RmMsgId.MEM_LEND, { flags: MemCreateFlag.APPEND, acl, sgl: first }, '(APPEND, 512 entries)');
      const app = (flags: number, sgl: readonly SglEntry[], err: ErrSpec, what: string, handle = h): Promise<unknown> =>
        ctx.hlos.expect(RmMsgId.MEM_APPEND, memAppendReq(handle, flags, sgl), err, `to ${hx(handle)} ${what}`, 0);

      await app(0, [], 'ARGUMENT_INVALID', '(empty SGL)');
      await app(0, [first[7]!], 'MEM_INVALID', '(a page already in this parcel)');
      await app(0, [{ addr: more + 0x800n, size: PAGE }], 'ARGUMENT_INVALID', '(misaligned address)');
      await app(0, [pages(more), pages(more + 2n * PAGE)], 'OK', '(2 entries, no DONE)');
      await app(MEM_APPEND_FLAG_DONE, [pages(more + 4n * PAGE)], 'OK', '(1 entry, DONE)');
      await app(MEM_APPEND_FLAG_DONE, [pages(more + 6n * PAGE)], 'DENIED', '(after DONE)');
      await app(0, [pages(more + 6n * PAGE)], 'DENIED', '(after DONE, no DONE flag)');
      await reclaim(ctx, h, 'OK', '(complete, 515 regions)');
      await app(MEM_APPEND_FLAG_DONE, [pages(more + 6n * PAGE)], 'HANDLE_INVALID', '(reclaimed handle)');

      // A parcel still in INIT can be reclaimed, and its memory is the host's again.
      const h2 = await createOk(ctx, RmMsgId.MEM_LEND, { flags: MemCreateFlag.APPEND, acl, sgl: [pages(more)] }, '(APPEND, 1 entry)');
      await reclaim(ctx, h2, 'OK', '(in INIT)');
      const h3 = await createOk(ctx, RmMsgId.MEM_LEND, { acl, sgl: [pages(more, 5)] }, '(the pages of both reclaimed parcels)');
      await reclaim(ctx, h3);
    },
  },
  {
    id: 'memparcel.accept-release-reclaim',
    group: GROUP,
    title: 'LEND to a guest, ACCEPT (RM-chosen IPAs, DONE) lists one IPA per region; RECLAIM while accepted is MEM_INUSE; second ACCEPT DENIED; RELEASE twice; RECLAIM twice',
    needs: ['control'],
    async run(ctx) {
      const { hlos } = ctx;
      const base = windowOf(7);
      const { vmid, guest } = await bootGuest(ctx);
      const label = 0x4c45_4e44;
      const sgl = [pages(base), { addr: base + 0x40_0000n, size: SIZE_2M }];
      const h = await createOk(ctx, RmMsgId.MEM_LEND, { label, acl: [{ vmid, rights: RW }], sgl }, `(to ${hx(vmid)}: 4 KiB + 2 MiB)`);

      const acc: MemAccept = { handle: h, transType: TransType.LEND, flags: MemAcceptFlag.DONE | MemAcceptFlag.VALIDATE_LABEL, label };
      const r = await acceptOk(guest, acc, '(n_sgl 0, DONE, VALIDATE_LABEL)');
      checkAcceptSgl(r, sgl.map((e) => e.size), `of ${hx(h)}`);
      await expectNone(hlos, isMemNotif(RmNotifId.MEM_ACCEPTED, h), 'MEM_ACCEPTED', 'MEM_ACCEPT by the borrower');

      await reclaim(ctx, h, 'MEM_INUSE', '(accepted by the guest)');
      const spec: MemCreate = { label, acl: [{ vmid, rights: RW }], sgl };
      await hlos.expect(RmMsgId.MEM_QCOM_LOOKUP_SGL, memLookupReq(spec), 'LOOKUP_FAILED', '(exact, parcel accepted: not SHARING)', 0);
      await acceptFails(guest, acc, 'DENIED', '(second ACCEPT)');
      await reclaim(ctx, h, 'DENIED', '(by the borrower)', guest);
      await release(guest, h, 'OK');
      await expectNone(hlos, isMemNotif(RmNotifId.MEM_RELEASED, h), 'MEM_RELEASED', 'MEM_RELEASE by the borrower');
      await release(guest, h, 'MEM_RELEASED', '(second RELEASE)');
      expectEqual(await lookupOk(hlos, spec, '(exact, after the release)'), h, 'MEM_QCOM_LOOKUP_SGL after the release (SHARING again)');
      await release(hlos, h, 'HANDLE_INVALID', '(by the owner, not in the ACL)');
      await reclaim(ctx, h, 'OK');
      await reclaim(ctx, h, 'HANDLE_INVALID', '(second RECLAIM)');
      await acceptFails(guest, acc, 'HANDLE_INVALID', '(after RECLAIM)');
      await release(guest, h, 'HANDLE_INVALID', '(after RECLAIM)');
    },
  },
  {
    id: 'memparcel.accept-errors',
    group: GROUP,
    title: 'ACCEPT refusals: type mismatch, VALIDATE_LABEL / _SANITIZED / _ACL_ATTR, MAP_OTHER, map_vmid, caller not in the ACL, SHARE owner, bad caller IPAs; guest APPEND DENIED',
    needs: ['control'],
    async run(ctx) {
      const { hlos } = ctx;
      const base = windowOf(8);
      const { vmid, guest } = await bootGuest(ctx);
      const label = 0x1234_5678;
      const acl = [{ vmid, rights: RW }];
      const h = await createOk(ctx, RmMsgId.MEM_LEND, { label, acl, sgl: [pages(base), pages(base + 4n * PAGE, 2)] }, `(to ${hx(vmid)}, 2 regions)`);
      const DONE = MemAcceptFlag.DONE;
      const lend = (flags: number, more: Partial<MemAccept> = {}): MemAccept => ({ handle: h, transType: TransType.LEND, flags, ...more });

      await acceptFails(guest, lend(DONE, { memType: MemType.IO }), 'ARGUMENT_INVALID', '(mem_type IO for NORMAL)');
      await acceptFails(guest, { handle: h, transType: TransType.SHARE, flags: DONE }, 'ARGUMENT_INVALID', '(trans_type SHARE for a LEND)');
      await acceptFails(guest, lend(DONE | MemAcceptFlag.VALIDATE_LABEL, { label: label + 1 }), 'VALIDATE_FAILED', '(VALIDATE_LABEL, wrong label)');
      await acceptFails(guest, lend(DONE | MemAcceptFlag.VALIDATE_SANITIZED), 'VALIDATE_FAILED', '(VALIDATE_SANITIZED, parcel not sanitized)');
      await acceptFails(guest, lend(DONE | MemAcceptFlag.VALIDATE_ACL_ATTR, { acl: [{ vmid, rights: R }] }), 'VALIDATE_FAILED', '(VALIDATE_ACL_ATTR, other rights)');
      await acceptFails(guest, lend(DONE | MemAcceptFlag.MAP_OTHER), 'DENIED', '(MAP_OTHER)');
      await acceptFails(guest, lend(DONE, { mapVmid: vmid }), 'ARGUMENT_INVALID', `(map_vmid ${hx(vmid)})`);
      await acceptFails(hlos, lend(DONE), 'VMID_INVALID', '(by HLOS, not in the ACL)');
      await acceptFails(guest, lend(0, { sgl: [{ addr: 0x1_0000_0000n, size: 2n * PAGE }] }), 'ARGUMENT_INVALID', '(caller IPA with a 2-page size for a 1-page region)');
      await acceptFails(guest, lend(0, { sgl: [{ addr: 0x1_0000_0800n, size: PAGE }] }), 'ARGUMENT_INVALID', '(misaligned caller IPA)');
      const three = [0, 1, 2].map((i) => pages(0x1_0000_0000n + BigInt(i) * 0x10_0000n));
      await acceptFails(guest, lend(0, { sgl: three }), 'ARGUMENT_INVALID', '(3 caller IPAs for 2 regions)');

      // The refusals left the guest idle: a validated accept goes through, once.
      const ok = lend(DONE | MemAcceptFlag.VALIDATE_ACL_ATTR | MemAcceptFlag.VALIDATE_LABEL, { acl, label });
      checkAcceptSgl(await acceptOk(guest, ok, '(VALIDATE_ACL_ATTR + VALIDATE_LABEL, matching)'), [PAGE, 2n * PAGE], `of ${hx(h)}`);
      await release(guest, h);
      await release(guest, h, 'MEM_RELEASED', '(second RELEASE)');
      await reclaim(ctx, h);

      // A sanitized parcel passes VALIDATE_SANITIZED.
      const hs = await createOk(ctx, RmMsgId.MEM_LEND, { flags: MemCreateFlag.SANITIZE, acl, sgl: [pages(base + 8n * PAGE)] }, '(SANITIZE)');
      checkAcceptSgl(await acceptOk(guest, { handle: hs, transType: TransType.LEND, flags: DONE | MemAcceptFlag.VALIDATE_SANITIZED }, '(VALIDATE_SANITIZED)'), [PAGE], `of ${hx(hs)}`);
      await release(guest, hs);
      await reclaim(ctx, hs);

      // The owner of a SHARE is in its ACL but cannot accept or release it.
      const hsh = await createOk(ctx, RmMsgId.MEM_SHARE, { acl: [{ vmid: Vmid.HLOS, rights: RW }, { vmid, rights: R }], sgl: [pages(base + 10n * PAGE)] }, '(HLOS RW, guest R)');
      await acceptFails(hlos, { handle: hsh, transType: TransType.SHARE, flags: DONE }, 'DENIED', '(by the SHARE owner)');
      await release(hlos, hsh, 'DENIED', '(by the SHARE owner)');
      // SANITIZE needs W: the guest has R only.
      await acceptFails(guest, { handle: hsh, transType: TransType.SHARE, flags: DONE | MemAcceptFlag.SANITIZE }, 'ARGUMENT_INVALID', '(SANITIZE with rights R)');
      await acceptOk(guest, { handle: hsh, transType: TransType.SHARE, flags: DONE }, '(rights R)');
      await guest.expect(RmMsgId.MEM_RELEASE, memReleaseReq(hsh, 0x1), 'ARGUMENT_INVALID', `of ${hx(hsh)} (SANITIZE with rights R)`, 0);
      await release(guest, hsh);
      await reclaim(ctx, hsh);

      // MEM_APPEND belongs to the owner.
      const ha = await createOk(ctx, RmMsgId.MEM_LEND, { flags: MemCreateFlag.APPEND, acl, sgl: [pages(base + 12n * PAGE)] }, '(APPEND)');
      await guest.expect(RmMsgId.MEM_APPEND, memAppendReq(ha, MEM_APPEND_FLAG_DONE, [pages(base + 14n * PAGE)]), 'DENIED', `to ${hx(ha)} (by the borrower)`, 0);
      await reclaim(ctx, ha, 'OK', '(in INIT)');

      // VALIDATE_ACL_ATTR with an empty ACL list: §16.5 lists the count check (→ VALIDATE_FAILED)
      // before the missing-ACL check (→ ARGUMENT_INVALID), and 0 entries against 1 is a count
      // mismatch (memparcel_do_accept compares the counts first). Last, so that the checks above
      // run whatever this one finds.
      const hv = await createOk(ctx, RmMsgId.MEM_LEND, { acl, sgl: [pages(base + 16n * PAGE)] }, '(for VALIDATE_ACL_ATTR)');
      await acceptFails(guest, { handle: hv, transType: TransType.LEND, flags: DONE | MemAcceptFlag.VALIDATE_ACL_ATTR }, 'VALIDATE_FAILED', '(VALIDATE_ACL_ATTR, empty ACL list: count 0 ≠ 1)');
      await reclaim(ctx, hv);
    },
  },
  {
    id: 'memparcel.accept-contiguous-partial',
    group: GROUP,
    title: 'ACCEPT with MAP_CONTIGUOUS gives one IPA range for the whole parcel; a partial ACCEPT (no DONE) already makes RECLAIM MEM_INUSE',
    needs: ['control'],
    async run(ctx) {
      const base = windowOf(9);
      const { vmid, guest } = await bootGuest(ctx);
      const acl = [{ vmid, rights: RW }];
      const sgl = [pages(base), pages(base + 4n * PAGE, 2), pages(base + 8n * PAGE)];
      const hc = await createOk(ctx, RmMsgId.MEM_LEND, { acl, sgl }, '(3 regions, 4 pages)');
      const rc = await acceptOk(guest, { handle: hc, transType: TransType.LEND, flags: MemAcceptFlag.DONE | MemAcceptFlag.MAP_CONTIGUOUS }, '(MAP_CONTIGUOUS, DONE)');
      checkAcceptSgl(rc, [4n * PAGE], `of ${hx(hc)} with MAP_CONTIGUOUS`);
      await release(guest, hc);
      await reclaim(ctx, hc);

      const hp = await createOk(ctx, RmMsgId.MEM_LEND, { acl, sgl: [pages(base + 12n * PAGE), pages(base + 16n * PAGE)] }, '(2 regions)');
      const rp = await acceptOk(guest, { handle: hp, transType: TransType.LEND, flags: 0 }, '(no DONE: IPAs only)');
      checkAcceptSgl(rp, [PAGE, PAGE], `of ${hx(hp)} without DONE`);
      await reclaim(ctx, hp, 'MEM_INUSE', '(after a partial ACCEPT)');
      await release(guest, hp, 'OK', '(of a partial ACCEPT)');
      await release(guest, hp, 'MEM_RELEASED', '(second RELEASE)');
      await reclaim(ctx, hp);
    },
  },
  {
    id: 'memparcel.notify-shared',
    group: GROUP,
    title: 'NOTIFY(SHARED) by the owner sends MEM_SHARED (exact bytes) to the target; tag mismatch, non-owner, bad targets and bad flags are refused',
    needs: ['control'],
    async run(ctx) {
      const { hlos } = ctx;
      const base = windowOf(10);
      const { vmid, guest } = await bootGuest(ctx);
      const other = await allocateVm(ctx);
      const label = 0x5a5a_0001;
      const tag = 0x7a67_0001;
      const acl = [{ vmid: Vmid.HLOS, rights: RW }, { vmid, rights: R }];
      const attrs = [{ attr: MemAttr.UNCACHED, vmid }];
      const h = await createOk(ctx, RmMsgId.MEM_SHARE, { flags: MemCreateFlag.SANITIZE, label, acl, sgl: [pages(base, 2), pages(base + 4n * PAGE)], attrs }, '(SANITIZE, HLOS RW + guest R, 2 regions, attr UNCACHED)');
      const S = MemNotifyFlag.SHARED;

      const gone = await allocateVm(ctx);
      await deallocateVm(ctx, gone);
      const hGone = await createOk(ctx, RmMsgId.MEM_LEND, { acl: [{ vmid, rights: R }], sgl: [pages(base + 8n * PAGE)] }, '(to be reclaimed at once)');
      await reclaim(ctx, hGone);
      await notify(hlos, hGone, S, tag, [vmid], 'HANDLE_INVALID', '(reclaimed handle)');
      await notify(hlos, h, S, tag, [], 'ARGUMENT_INVALID', '(SHARED, no targets)');
      await notify(hlos, h, S, tag, [gone], 'VMID_INVALID', `(SHARED to the freed VMID ${hx(gone)})`);
      await notify(hlos, h, S, tag, [other], 'ARGUMENT_INVALID', `(SHARED to ${hx(other)}, not in the ACL)`);
      await notify(guest, h, S, tag, [vmid], 'DENIED', '(SHARED by a borrower)');

      await notify(hlos, h, S, tag, [vmid], 'OK', `(SHARED to ${hx(vmid)})`);
      const n = await guest.notification(isMemNotif(RmNotifId.MEM_SHARED, h), `MEM_SHARED for ${hx(h)} after NOTIFY(SHARED)`);
      expectBytes(
        n.data,
        memSharedBytes({ handle: h, memType: MemType.NORMAL, transType: TransType.SHARE, flags: 1, owner: Vmid.HLOS, label, tag, acl, sizes: [2n * PAGE, PAGE], attrs }),
        'MEM_SHARED payload',
      );

      await notify(hlos, h, S, (tag + 1) >>> 0, [vmid], 'ARGUMENT_INVALID', '(SHARED with another tag)');
      await notify(guest, h, S, tag, [vmid], 'DENIED', '(SHARED by a borrower, tag set)');
      for (const flags of [0x0, 0x3, 0x5, 0x10]) await notify(hlos, h, flags, tag, [vmid], 'ARGUMENT_INVALID', `(flags ${hx(flags)})`);
      await expectNone(guest, isMemNotif(RmNotifId.MEM_SHARED, h), 'second MEM_SHARED', 'refused NOTIFYs');
      await reclaim(ctx, h, 'OK', '(never accepted)');
    },
  },
  {
    id: 'memparcel.notify-accept-release-recall',
    group: GROUP,
    title: 'borrower NOTIFY(ACCEPTED / RELEASED) checks its state and sends MEM_ACCEPTED / MEM_RELEASED (12 bytes) to the owner; NOTIFY(RECALL) sends MEM_RECALL',
    needs: ['control'],
    async run(ctx) {
      const { hlos } = ctx;
      const base = windowOf(11);
      const { vmid, guest } = await bootGuest(ctx);
      const tag = 0x0bad_cafe;
      const h = await createOk(ctx, RmMsgId.MEM_LEND, { acl: [{ vmid, rights: RW }], sgl: [pages(base)] }, `(to ${hx(vmid)})`);
      const N = MemNotifyFlag;
      await notify(hlos, h, N.SHARED, tag, [vmid], 'OK', `(SHARED to ${hx(vmid)})`);
      await guest.notification(isMemNotif(RmNotifId.MEM_SHARED, h), `MEM_SHARED for ${hx(h)}`);

      await notify(guest, h, N.ACCEPTED, tag, undefined, 'MEM_RELEASED', '(ACCEPTED before accepting)');
      await acceptOk(guest, { handle: h, transType: TransType.LEND, flags: MemAcceptFlag.DONE }, '(DONE)');
      await notify(guest, h, N.ACCEPTED, (tag + 1) >>> 0, undefined, 'ARGUMENT_INVALID', '(ACCEPTED with another tag)');
      await expectNone(hlos, isMemNotif(RmNotifId.MEM_ACCEPTED, h), 'MEM_ACCEPTED', 'MEM_ACCEPT and a refused NOTIFY(ACCEPTED)');
      await notify(guest, h, N.ACCEPTED, tag, undefined, 'OK', '(ACCEPTED after accepting)');
      const acc = await hlos.notification(isMemNotif(RmNotifId.MEM_ACCEPTED, h), `MEM_ACCEPTED for ${hx(h)}`);
      expectBytes(acc.data, memOwnerNotifBytes(h, vmid, tag), 'MEM_ACCEPTED payload');
      await notify(hlos, h, N.ACCEPTED, tag, undefined, 'HANDLE_INVALID', '(ACCEPTED by the owner, not in the ACL)');
      await notify(guest, h, N.RELEASED, tag, undefined, 'MEM_INUSE', '(RELEASED while still accepted)');

      await notify(guest, h, N.RECALL, tag, [vmid], 'DENIED', '(RECALL by the borrower)');
      await notify(hlos, h, N.RECALL, tag, [vmid], 'OK', `(RECALL to ${hx(vmid)})`);
      const rc = await guest.notification(isMemNotif(RmNotifId.MEM_RECALL, h), `MEM_RECALL for ${hx(h)}`);
      expectBytes(rc.data, memRecallBytes(h, tag), 'MEM_RECALL payload');

      await release(guest, h);
      await expectNone(hlos, isMemNotif(RmNotifId.MEM_RELEASED, h), 'MEM_RELEASED', 'MEM_RELEASE by the borrower');
      await notify(guest, h, N.RELEASED, tag, undefined, 'OK', '(RELEASED after releasing)');
      const rel = await hlos.notification(isMemNotif(RmNotifId.MEM_RELEASED, h), `MEM_RELEASED for ${hx(h)}`);
      expectBytes(rel.data, memOwnerNotifBytes(h, vmid, tag), 'MEM_RELEASED payload');
      await reclaim(ctx, h);
    },
  },
  {
    id: 'memparcel.reset-releases',
    group: GROUP,
    title: 'resetting a guest that accepted a parcel releases it: the owner gets MEM_RELEASED before the RESET status, then can reclaim',
    needs: ['control'],
    async run(ctx) {
      const { hlos } = ctx;
      const base = windowOf(12);
      const { vmid, guest } = await bootGuest(ctx);
      const tag = 0x5e5e_0003;
      const h = await createOk(ctx, RmMsgId.MEM_LEND, { acl: [{ vmid, rights: RW }], sgl: [pages(base, 2)] }, `(to ${hx(vmid)})`);
      await notify(hlos, h, MemNotifyFlag.SHARED, tag, [vmid], 'OK', `(SHARED to ${hx(vmid)})`);
      await guest.notification(isMemNotif(RmNotifId.MEM_SHARED, h), `MEM_SHARED for ${hx(h)}`);
      await acceptOk(guest, { handle: h, transType: TransType.LEND, flags: MemAcceptFlag.DONE }, '(DONE)');
      await reclaim(ctx, h, 'MEM_INUSE', '(accepted, guest running)');

      await forceStop(hlos, vmid);
      await reclaim(ctx, h, 'MEM_INUSE', '(accepted, guest stopped)');
      hlos.discard(isMemNotif(RmNotifId.MEM_RELEASED, h));
      await resetAndWait(hlos, vmid);
      const rel = await hlos.notification(isMemNotif(RmNotifId.MEM_RELEASED, h), `MEM_RELEASED for ${hx(h)} during VM_RESET of ${hx(vmid)}`);
      expectBytes(rel.data, memOwnerNotifBytes(h, vmid, tag), 'MEM_RELEASED payload sent by the reset');
      const iRel = hlos.received.indexOf(rel);
      const iReset = hlos.received.findIndex(isVmStatus(vmid, VmStatus.RESET));
      check(iReset >= 0 && iRel < iReset, `MEM_RELEASED for ${hx(h)} arrived after NOTIFY_VM_STATUS(${hx(vmid)}, RESET); the reset releases parcels before it completes`);
      await reclaim(ctx, h, 'OK', '(after the reset)');
      await reclaim(ctx, h, 'HANDLE_INVALID', '(second RECLAIM)');
      await hlos.ok(RmMsgId.VM_DEALLOCATE, vmidReq(vmid), `of ${hx(vmid)}`, 0);
      ctx.forgetVm(vmid);
    },
  },
  {
    id: 'memparcel.lookup-sgl',
    group: GROUP,
    title: 'MEM_QCOM_LOOKUP_SGL finds a SHARING parcel by exact mem_type, ACL, SGL and attrs (not label); anything different, or a parcel in INIT, is LOOKUP_FAILED',
    async run(ctx) {
      const { hlos } = ctx;
      const base = windowOf(13);
      const vm = await allocateVm(ctx);
      const vm2 = await allocateVm(ctx);
      const acl = [{ vmid: vm, rights: RW }, { vmid: vm2, rights: R }];
      const sgl = [pages(base), pages(base + 4n * PAGE, 2)];
      const attrs = [{ attr: MemAttr.CACHED, vmid: vm }];
      const label = 0x77;
      const spec: MemCreate = { label, acl, sgl, attrs };
      const h = await createOk(ctx, RmMsgId.MEM_LEND, spec, '(2 borrowers, 2 regions, attr CACHED)');

      expectEqual(await lookupOk(hlos, spec, '(exact)'), h, 'MEM_QCOM_LOOKUP_SGL (exact) handle');
      expectEqual(await lookupOk(hlos, { ...spec, label: 0x78 }, '(another label)'), h, 'MEM_QCOM_LOOKUP_SGL (another label) handle');
      const miss = async (c: MemCreate, what: string): Promise<void> => {
        await hlos.expect(RmMsgId.MEM_QCOM_LOOKUP_SGL, memLookupReq(c), 'LOOKUP_FAILED', what, 0);
      };
      await miss({ ...spec, memType: MemType.IO }, '(mem_type IO)');
      await miss({ ...spec, acl: [acl[1]!, acl[0]!] }, '(ACL in the other order)');
      await miss({ ...spec, acl: [acl[0]!, { vmid: vm2, rights: RW }] }, '(other rights)');
      await miss({ ...spec, acl: [acl[0]!] }, '(one ACL entry missing)');
      await miss({ ...spec, sgl: [sgl[0]!] }, '(one SGL entry missing)');
      await miss({ ...spec, sgl: [sgl[0]!, pages(base + 4n * PAGE)] }, '(a shorter region)');
      await miss({ ...spec, sgl: [sgl[0]!, pages(base + 5n * PAGE, 2)] }, '(a shifted region)');
      await miss({ ...spec, sgl: [sgl[1]!, sgl[0]!] }, '(regions in the other order)');
      await miss({ ...spec, attrs: [] }, '(no attrs)');
      await miss({ ...spec, attrs: [{ attr: MemAttr.UNCACHED, vmid: vm }] }, '(attr UNCACHED)');

      // A parcel still in INIT is not found; once complete, it is.
      const first = pages(base + 8n * PAGE);
      const second = pages(base + 10n * PAGE);
      const appendSpec: MemCreate = { acl: [{ vmid: vm, rights: R }], sgl: [first] };
      const ha = await createOk(ctx, RmMsgId.MEM_LEND, { ...appendSpec, flags: MemCreateFlag.APPEND }, '(APPEND, 1 entry)');
      await miss(appendSpec, '(the entries of a parcel in INIT)');
      await hlos.ok(RmMsgId.MEM_APPEND, memAppendReq(ha, MEM_APPEND_FLAG_DONE, [second]), `to ${hx(ha)} (DONE)`, 0);
      expectEqual(await lookupOk(hlos, { ...appendSpec, sgl: [first, second] }, '(completed APPEND parcel)'), ha, 'MEM_QCOM_LOOKUP_SGL of the completed APPEND parcel');

      await reclaim(ctx, h);
      await miss(spec, '(after the parcel was reclaimed)');
      await reclaim(ctx, ha);
    },
  },
  {
    id: 'memparcel.malformed',
    group: GROUP,
    title: 'short memparcel requests, broken lists and leftover bytes are MSG_INVALID and change nothing',
    async run(ctx) {
      const { hlos } = ctx;
      const base = windowOf(15);
      const vm = await allocateVm(ctx);
      const acl = [{ vmid: vm, rights: RW }];
      const sgl = [pages(base)];
      const good = memCreateReq({ acl, sgl });
      const withTail = (b: Uint8Array, tail: number): Uint8Array => {
        const out = new Uint8Array(b.byteLength + tail);
        out.set(b);
        return out;
      };
      const L = RmMsgId.MEM_LEND;
      // Minimum lengths (§12.5): create 20, APPEND 12, ACCEPT 24, RELEASE and RECLAIM 8, NOTIFY 12, LOOKUP 16.
      await createFails(ctx, L, good.subarray(0, 19), 'MSG_INVALID', '(19 bytes)');
      await createFails(ctx, L, memCreateReq({ acl: [], sgl: [], attrs: null }), 'MSG_INVALID', '(16 bytes: empty ACL and SGL, no attr list)');
      // §10: 1–3 bytes where a list header belongs, entries past the end, bytes after the last list.
      await createFails(ctx, L, withTail(memCreateReq({ acl, sgl, attrs: null }), 2), 'MSG_INVALID', '(2 bytes where the attr list header belongs)');
      await createFails(ctx, L, good.subarray(0, good.byteLength - 4 - 8), 'MSG_INVALID', '(SGL entry cut short)');
      await createFails(ctx, L, withTail(good, 4), 'MSG_INVALID', '(4 bytes after the attr list)');
      const h = await createOk(ctx, L, { acl, sgl }, '(the same page, well formed)');
      const short = async (msgId: number, len: number): Promise<void> => {
        const payload = new Uint8Array(len);
        view(payload).setUint32(0, h, true);
        await hlos.expect(msgId, payload, 'MSG_INVALID', `(${len} bytes)`, 0);
      };
      await short(RmMsgId.MEM_APPEND, 11);
      await short(RmMsgId.MEM_ACCEPT, 23);
      await short(RmMsgId.MEM_RELEASE, 7);
      await short(RmMsgId.MEM_RECLAIM, 7);
      await short(RmMsgId.MEM_NOTIFY, 11);
      await short(RmMsgId.MEM_QCOM_LOOKUP_SGL, 15);
      await hlos.expect(RmMsgId.MEM_NOTIFY, memNotifyReq(h, MemNotifyFlag.SHARED, 1), 'MSG_INVALID', `of ${hx(h)} (SHARED, 12 bytes: no target list)`, 0);
      await hlos.expect(RmMsgId.MEM_NOTIFY, memNotifyReq(h, MemNotifyFlag.SHARED, 1, [vm]).subarray(0, 18), 'MSG_INVALID', `of ${hx(h)} (SHARED, n_vmid 1 with 2 entry bytes)`, 0);
      // The parcel is still there and still SHARING.
      expectEqual(await lookupOk(hlos, { acl, sgl }, '(after the refused requests)'), h, 'MEM_QCOM_LOOKUP_SGL after the refused requests');
      await reclaim(ctx, h);
    },
  },
  {
    id: 'memparcel.notify-shared-truncated',
    group: GROUP,
    title: 'MEM_SHARED of a parcel with more than 512 regions lists only the first 512 sizes',
    needs: ['control'],
    async run(ctx) {
      const { hlos } = ctx;
      const base = windowOf(14);
      const { vmid, guest } = await bootGuest(ctx);
      const acl = [{ vmid, rights: RW }];
      const first = spreadPages(base, 512);
      const h = await createOk(ctx, RmMsgId.MEM_LEND, { flags: MemCreateFlag.APPEND, acl, sgl: first }, '(APPEND, 512 entries)');
      await hlos.ok(RmMsgId.MEM_APPEND, memAppendReq(h, MEM_APPEND_FLAG_DONE, [pages(base + 0x40_0000n, 2)]), `to ${hx(h)} (DONE, 1 more region)`, 0);
      const tag = 0x0513;
      await notify(hlos, h, MemNotifyFlag.SHARED, tag, [vmid], 'OK', `(SHARED to ${hx(vmid)})`);
      const n = await guest.notification(isMemNotif(RmNotifId.MEM_SHARED, h), `MEM_SHARED for ${hx(h)}`);
      expectBytes(
        n.data,
        memSharedBytes({ handle: h, memType: MemType.NORMAL, transType: TransType.LEND, flags: 0, owner: Vmid.HLOS, label: 0, tag, acl, sizes: first.map((e) => e.size), attrs: [] }),
        'MEM_SHARED payload of a 513-region parcel',
      );
      await reclaim(ctx, h);
    },
  },
];
