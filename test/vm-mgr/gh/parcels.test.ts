/**
 * Golden: the memory parcels the gh_ driver sends at START for a shared and a lent region,
 * byte for byte (rm-rpc.md §12.5 layout: mem_type, flags, label, ACL list, SGL list, empty attr
 * list), typed by hand. The share's ACL is {VM, rights from the region flags} + {host VMID 3,
 * RWX}, sent as MEM_SHARE; the lend's is {VM, rights} alone, sent as MEM_LEND (rm-rpc.md
 * §16.1). Physically contiguous pinned pages are one SGL entry each run.
 *
 * Physical addresses: the emulator's kernel page pool starts at 4 GiB (0x1_0000_0000) and a
 * fresh emulator hands pages out in order of first touch, so touching the share's page 2 first
 * gives it 0x1_0000_0000 and pages 0 and 1 the two after it.
 */
import { describe, expect, it } from 'vitest';
import { RmMsgId } from '../../../src/rm-rpc/wire/msg-ids.js';
import { args, buildFlowDtb, RawVmm } from '../support/flows.js';
import { BASE, expectGhClean, GH, ghEmulator, GMEM, markProgram, PAGE, region, rmPayloads } from './support.js';

const ok = (name: string) => ({ name, err: 'OK' });

describe('gh_ parcels at START (golden)', () => {
  it('a share (label 5, RWX) and a lend (label 6, R|X): MEM_LEND first (newest region), then MEM_SHARE', async () => {
    const t = ghEmulator();
    const v = new RawVmm(t.emu);
    const dev = v.open();
    const vm = await v.ioctl(dev, 'CREATE_VM', GH.CREATE_VM, 0);
    // The share: 3 pages; page 2 touched first, then the image (page 0) and the DTB (page 1).
    const share = t.emu.host.mmapAnonymous(3 * PAGE);
    share.write(2 * PAGE, Uint8Array.of(0xee));
    share.write(0, markProgram());
    share.write(PAGE, buildFlowDtb({ imageName: 'golden', vcpus: 1, memory: [{ base: BASE, size: 0x3000n }], size: PAGE }));
    await v.ioctl(vm, 'SET_USER_MEM_REGION', GH.SET_USER_MEM_REGION, region({ label: 5, flags: GMEM.R | GMEM.W | GMEM.X, gpa: BASE, size: 3 * PAGE, hva: share.addr }));
    // The lend: 2 pages never touched; pinning faults them in, in order.
    const lend = t.emu.host.mmapAnonymous(2 * PAGE);
    await v.ioctl(vm, 'ANDROID_LEND_USER_MEM', GH.ANDROID_LEND_USER_MEM, region({ label: 6, flags: GMEM.R | GMEM.X, gpa: 0x9000_0000n, size: 2 * PAGE, hva: lend.addr }));
    await v.ioctl(vm, 'SET_DTB_CONFIG', GH.SET_DTB_CONFIG, args.dtbConfig(BASE + 0x1000n, 0x1000n));
    expect((await t.emu.rm.control.inspect()).parcels).toEqual([]); // nothing sent before START
    const m = t.mark();
    expect(await v.ioctl(vm, 'START', GH.START)).toBe(0);
    expect(t.hostRmCallsSince(m).slice(0, 3)).toEqual([ok('MEM_LEND'), ok('MEM_SHARE'), ok('VM_CONFIG_IMAGE')]);

    // MEM_LEND (40 bytes): NORMAL, flags 0, label 6; ACL 1 × {vmid 0x80, rights R|X = 5}; SGL 1 × {0x1_0000_3000, 0x2000}; attrs 0.
    expect(rmPayloads(t, RmMsgId.MEM_LEND)).toEqual([
      Uint8Array.from([
        0x00, 0x00, 0x00, 0x00, //                         mem_type NORMAL, reserved, flags 0, reserved
        0x06, 0x00, 0x00, 0x00, //                         label 6
        0x01, 0x00, 0x00, 0x00, //                         n_acl 1
        0x80, 0x00, 0x05, 0x00, //                         {vmid 0x80, rights 5}
        0x01, 0x00, 0x00, 0x00, //                         n_sgl 1
        0x00, 0x30, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00, // address 0x1_0000_3000
        0x00, 0x20, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, // size 0x2000
        0x00, 0x00, 0x00, 0x00, //                         n_attr 0
      ]),
    ]);
    // MEM_SHARE (60 bytes): label 5; ACL {0x80, RWX 7}, {host 3, RWX 7}; SGL pages 0–1 merged, then page 2.
    expect(rmPayloads(t, RmMsgId.MEM_SHARE)).toEqual([
      Uint8Array.from([
        0x00, 0x00, 0x00, 0x00, //                         mem_type NORMAL, reserved, flags 0, reserved
        0x05, 0x00, 0x00, 0x00, //                         label 5
        0x02, 0x00, 0x00, 0x00, //                         n_acl 2
        0x80, 0x00, 0x07, 0x00, //                         {vmid 0x80, rights 7}
        0x03, 0x00, 0x07, 0x00, //                         {vmid 3 (host), rights 7}
        0x02, 0x00, 0x00, 0x00, //                         n_sgl 2
        0x00, 0x10, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00, // address 0x1_0000_1000 (pages 0, 1)
        0x00, 0x20, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, // size 0x2000
        0x00, 0x00, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00, // address 0x1_0000_0000 (page 2)
        0x00, 0x10, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, // size 0x1000
        0x00, 0x00, 0x00, 0x00, //                         n_attr 0
      ]),
    ]);
    // The RM's parcel store: both parcels, the host owning them.
    const parcels = (await t.emu.rm.control.inspect()).parcels.map((p) => ({ owner: p.owner, size: p.size, transType: p.transType }));
    expect(parcels).toEqual(
      expect.arrayContaining([
        { owner: 3, size: 0x2000, transType: 1 }, // LEND
        { owner: 3, size: 0x3000, transType: 2 }, // SHARE
      ]),
    );
    expect(parcels).toHaveLength(2);
    await expectGhClean(t);
  });

  it('rights follow the flags: R alone → 4, R|W → 6 (a lend of each, golden ACL entry)', async () => {
    const t = ghEmulator();
    const v = new RawVmm(t.emu);
    const dev = v.open();
    const vm = await v.ioctl(dev, 'CREATE_VM', GH.CREATE_VM, 0);
    const img = t.emu.host.mmapAnonymous(2 * PAGE);
    img.write(0, markProgram());
    img.write(PAGE, buildFlowDtb({ imageName: 'rights', vcpus: 1, memory: [{ base: BASE, size: 0x2000n }], size: PAGE }));
    await v.ioctl(vm, 'lend image', GH.ANDROID_LEND_USER_MEM, region({ label: 0, flags: GMEM.RWX, gpa: BASE, size: 2 * PAGE, hva: img.addr }));
    const a = t.emu.host.mmapAnonymous(PAGE);
    const b = t.emu.host.mmapAnonymous(PAGE);
    await v.ioctl(vm, 'lend R', GH.ANDROID_LEND_USER_MEM, region({ label: 1, flags: GMEM.R, gpa: 0x9000_0000n, size: PAGE, hva: a.addr }));
    await v.ioctl(vm, 'lend RW', GH.ANDROID_LEND_USER_MEM, region({ label: 2, flags: GMEM.R | GMEM.W, gpa: 0x9010_0000n, size: PAGE, hva: b.addr }));
    await v.ioctl(vm, 'SET_DTB_CONFIG', GH.SET_DTB_CONFIG, args.dtbConfig(BASE + 0x1000n, 0x1000n));
    await v.ioctl(vm, 'START', GH.START);
    // Newest first: label 2, label 1, label 0. ACL entry bytes at offset 12.
    const acl = rmPayloads(t, RmMsgId.MEM_LEND).map((p) => [p[4], ...p.subarray(12, 16)]);
    expect(acl).toEqual([
      [2, 0x80, 0x00, 0x06, 0x00],
      [1, 0x80, 0x00, 0x04, 0x00],
      [0, 0x80, 0x00, 0x07, 0x00],
    ]);
    await expectGhClean(t);
  });
});
