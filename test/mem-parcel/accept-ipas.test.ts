// ACCEPT's IPAs and refusals, as rm-rpc.md §16 has them: a refused ACCEPT changes nothing, the
// IPAs a borrower holds (chosen by it or by the RM, mapped or not, donated to it) are reserved
// for it, and RELEASE frees them. Each began as a finding against the first parcel store (fixed
// since), found by the property tests (parcel-properties.test.ts) or the 64 GiB benchmark.
//
// Reference: rm-rpc.md §16.4 (per-borrower transitions: only an ACCEPT that succeeds moves a
// borrower out of idle), §16.5 (ACCEPT errors 13 NORESOURCE, 15, 17; RELEASE "frees the IPAs";
// RECLAIM refused only while a borrower has accepted), §15.4 (reset releases), hypervisor.md §8
// and docs/decisions.md M11 (an extent is mapped into at most 4 address spaces).
import { describe, expect, test } from 'vitest';
import { RmMsgId } from '../../src/rm-rpc/wire/msg-ids.js';
import { MEM_ACCEPT_REQ, MEM_ACCEPT_SGL_REPLY, MEM_CREATE_REQ, MEM_RELEASE_REQ, type SglEntry } from '../../src/rm-rpc/wire/mem.js';
import { MemAcceptFlag, MemRights, MemType, TransType } from '../../src/rm-rpc/wire/enums.js';
import { HOST, ParcelRig, answerOf, u32, type Guest } from './support.js';

const PAGE = 4096;
const BASE = 0x30_0000_0000;
const CALLER_IPA = 0x1_0000_0000n;

const accept = (handle: number, transType: number, flags: number, sgl: SglEntry[] = []): Uint8Array =>
  MEM_ACCEPT_REQ.encode({ handle, memType: MemType.NORMAL, transType, flags, label: 0, acl: [], mapVmid: 0, sgl, attrs: [] });

/** LEND `pages` one-page regions at `at` (two pages apart) to `g` with RW. */
async function lend(rig: ParcelRig, g: Guest, at: number, pages = 1): Promise<number> {
  return rig.calls.memShare({ acl: [{ vmid: g.vmid, rights: MemRights.RW }], sgl: Array.from({ length: pages }, (_, i) => ({ address: BigInt(at + 2 * i * PAGE), size: BigInt(PAGE) })) });
}

describe('ACCEPT: IPAs and refusals', () => {
  test('an ACCEPT refused with MAP_FAILED (step 17: a 5th address space for the extent) leaves the borrower idle', async () => {
    const rig = await ParcelRig.create(4);
    const [g1, g2, g3, g4] = rig.guests as [Guest, Guest, Guest, Guest];
    // SHARE: the host keeps its mapping of the parcel's extent, so three borrowers fill its 4 address spaces.
    const h = await rig.calls.memShare({ acl: [{ vmid: HOST, rights: MemRights.RW }, ...rig.guests.map((g) => ({ vmid: g.vmid, rights: MemRights.R }))], sgl: [{ address: BigInt(BASE), size: BigInt(PAGE) }] });
    for (const g of [g1, g2, g3]) expect((await rig.guest(g, RmMsgId.MEM_ACCEPT, accept(h, TransType.SHARE, MemAcceptFlag.DONE))).err).toBe('OK');
    expect((await rig.guest(g4, RmMsgId.MEM_ACCEPT, accept(h, TransType.SHARE, MemAcceptFlag.DONE))).err).toBe('MAP_FAILED');
    // g4 did not accept: RELEASE says so, and once the others are gone the owner reclaims at once.
    expect((await rig.guest(g4, RmMsgId.MEM_RELEASE, MEM_RELEASE_REQ.encode({ handle: h, flags: 0 }))).err).toBe('MEM_RELEASED');
    for (const g of [g1, g2, g3]) expect((await rig.guest(g, RmMsgId.MEM_RELEASE, MEM_RELEASE_REQ.encode({ handle: h, flags: 0 }))).err).toBe('OK');
    expect(rig.emu.rm.inspect().parcels.find((p) => p.handle === h)?.state).toBe('SHARING');
    // Only its image parcel, which VM_START mapped at the DT's memory base (decisions B1).
    expect(rig.emu.hyp.memory.mappingsOf(g4.vmid).map((m) => m.ipa)).toEqual([0x8000_0000]);
    expect((await answerOf(() => rig.calls.memReclaim(h))).err).toBe('OK');
    expect(rig.emu.checkInvariants()).toEqual([]);
    rig.close();
  });

  test('caller-chosen IPAs that overlap what the borrower holds are refused with NORESOURCE (step 13), changing nothing', async () => {
    const rig = await ParcelRig.create(1);
    const g = rig.guests[0]!;
    const first = await lend(rig, g, BASE);
    const second = await lend(rig, g, BASE + 0x10_0000, 2);
    expect((await rig.guest(g, RmMsgId.MEM_ACCEPT, accept(first, TransType.LEND, MemAcceptFlag.DONE, [{ address: CALLER_IPA, size: BigInt(PAGE) }]))).err).toBe('OK');
    // Overlapping the mapped page; then two entries on one IPA.
    const onFirst = [{ address: CALLER_IPA, size: BigInt(PAGE) }, { address: CALLER_IPA + 0x10000n, size: BigInt(PAGE) }];
    expect((await rig.guest(g, RmMsgId.MEM_ACCEPT, accept(second, TransType.LEND, 0, onFirst))).err).toBe('NORESOURCE');
    const twice = [{ address: CALLER_IPA + 0x10000n, size: BigInt(PAGE) }, { address: CALLER_IPA + 0x10000n, size: BigInt(PAGE) }];
    expect((await rig.guest(g, RmMsgId.MEM_ACCEPT, accept(second, TransType.LEND, MemAcceptFlag.DONE, twice))).err).toBe('NORESOURCE');
    expect(rig.emu.rm.inspect().parcels.find((p) => p.handle === second)?.state).toBe('SHARING');
    const ok = [{ address: CALLER_IPA + 0x10000n, size: BigInt(PAGE) }, { address: CALLER_IPA + 0x20000n, size: BigInt(PAGE) }];
    expect((await rig.guest(g, RmMsgId.MEM_ACCEPT, accept(second, TransType.LEND, MemAcceptFlag.DONE, ok))).err).toBe('OK');
    expect(rig.emu.checkInvariants()).toEqual([]);
    rig.close();
  });

  test('an ACCEPT refused for DONE before every IPA is allocated (step 15) leaves the borrower idle', async () => {
    const rig = await ParcelRig.create(1);
    const g = rig.guests[0]!;
    const h = await lend(rig, g, BASE, 2);
    // Two regions, one caller IPA, DONE: refused.
    const one = [{ address: CALLER_IPA, size: BigInt(PAGE) }];
    expect((await rig.guest(g, RmMsgId.MEM_ACCEPT, accept(h, TransType.LEND, MemAcceptFlag.DONE, one))).err).toBe('ARGUMENT_INVALID');
    // The borrower is idle: the parcel is still SHARING, and a complete accept with both IPAs
    // (the refused call's one among them) goes through.
    expect(rig.emu.rm.inspect().parcels.find((p) => p.handle === h)?.state).toBe('SHARING');
    const both = [{ address: CALLER_IPA, size: BigInt(PAGE) }, { address: CALLER_IPA + 0x10000n, size: BigInt(PAGE) }];
    expect((await rig.guest(g, RmMsgId.MEM_ACCEPT, accept(h, TransType.LEND, MemAcceptFlag.DONE, both))).err).toBe('OK');
    rig.close();
  });

  test('after a reset, the IPAs the RM chooses avoid memory donated to the guest before it', async () => {
    const rig = await ParcelRig.create(1);
    const g = rig.guests[0]!;
    const d = u32((await rig.host(RmMsgId.MEM_DONATE, MEM_CREATE_REQ.encode({ memType: MemType.NORMAL, flags: 0, label: 0, acl: [{ vmid: g.vmid, rights: MemRights.RWX }], sgl: [{ address: BigInt(BASE), size: BigInt(PAGE) }], attrs: [] }))).data);
    const r = await rig.guest(g, RmMsgId.MEM_ACCEPT, accept(d, TransType.DONATE, MemAcceptFlag.DONE));
    expect(r.err).toBe('OK');
    const donatedAt = Number(MEM_ACCEPT_SGL_REPLY.decode(r.data).sgl[0]!.address);
    await rig.resetGuest(g);
    // The donated page is still the guest's, mapped where it was accepted.
    expect(rig.emu.hyp.memory.translate(g.vmid, donatedAt, PAGE).map((t) => t.pa)).toEqual([BASE]);
    // A new RM-chosen accept lands elsewhere.
    const h = await lend(rig, g, BASE + 0x10_0000);
    expect((await rig.guest(g, RmMsgId.MEM_ACCEPT, accept(h, TransType.LEND, MemAcceptFlag.DONE))).err).toBe('OK');
    rig.close();
  });

  test('IPAs a borrower chose are reserved for it (steps 12–13): the RM does not choose them for another parcel', async () => {
    const rig = await ParcelRig.create(1);
    const g = rig.guests[0]!;
    const a = await lend(rig, g, BASE);
    const b = await lend(rig, g, BASE + 0x10_0000);
    // A partial accept of `a` at the IPA where the RM's own choices start (docs/decisions.md M4).
    const x = 0xf00_0000_0000n;
    expect((await rig.guest(g, RmMsgId.MEM_ACCEPT, accept(a, TransType.LEND, 0, [{ address: x, size: BigInt(PAGE) }]))).err).toBe('OK');
    // The RM chooses for `b`: not `x` again, so `a`'s DONE still maps.
    const r = await rig.guest(g, RmMsgId.MEM_ACCEPT, accept(b, TransType.LEND, MemAcceptFlag.DONE));
    expect(r.err).toBe('OK');
    expect(MEM_ACCEPT_SGL_REPLY.decode(r.data).sgl[0]!.address).not.toBe(x);
    expect((await rig.guest(g, RmMsgId.MEM_ACCEPT, accept(a, TransType.LEND, MemAcceptFlag.DONE))).err).toBe('OK');
    rig.close();
  });

  test('RELEASE frees the IPAs, so a guest can accept and release 64 GiB many times (the RM window is 1 TiB)', async () => {
    const rig = await ParcelRig.create(1);
    const g = rig.guests[0]!;
    const errs: string[] = [];
    for (let i = 0; i < 20; i++) {
      const h = await rig.calls.memShare({ acl: [{ vmid: g.vmid, rights: MemRights.RW }], sgl: [{ address: BigInt(BASE), size: BigInt(64 * 2 ** 30) }] });
      const a = await rig.guest(g, RmMsgId.MEM_ACCEPT, accept(h, TransType.LEND, MemAcceptFlag.DONE));
      errs.push(a.err);
      if (a.err === 'OK') await rig.guest(g, RmMsgId.MEM_RELEASE, MEM_RELEASE_REQ.encode({ handle: h, flags: 0 }));
      await rig.calls.memReclaim(h);
    }
    expect(errs.map((e, i) => `accept ${i + 1}: ${e}`).filter((x) => !x.endsWith(': OK'))).toEqual([]);
    rig.close();
  });
});
