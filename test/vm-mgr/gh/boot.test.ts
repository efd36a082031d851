/**
 * A full gh_ boot in the order of the v6–v14 kernel sample VMM (vmm-flows.md §4 end):
 * CREATE_VM → anonymous memory with the image at offset 0 and the DTB → SET_USER_MEM_REGION
 * {label 0, RWX} → SET_DTB_CONFIG → START; then (the sample has no vCPU functions; a proxy
 * scheduled VMM adds one) ADD_FUNCTION VCPU and RUN up to the first MMIO exit.
 *
 * The RM calls of the start are the gh_ order (README.md §Dialects; docs/gh-dialect.md): MEM_SHARE,
 * VM_CONFIG_IMAGE, VM_INIT, VM_GET_HYP_RESOURCES, VM_START, with no boot context, demand paging
 * or address layout; the RM enters the image at the parcel's IPA with X0 = the DTB's IPA
 * (docs/decisions.md B13). The guest program checks X0 itself (`expect` on the last result, which
 * starts as X0) before it writes its mark.
 *
 * The first test checks the first MMIO exit's address, length and direction, which any vCPU
 * gives; the last one needs the gh_ run page of src/vcpu (docs/decisions.md GV-rows): no
 * resume_action byte (offset 37 is left alone) and an MMIO read completed from mmio.data.
 */
import { describe, expect, it } from 'vitest';
import { guestProgram } from '../../../src/guest/index.js';
import { readRunPage, supplyMmioRead } from '../support/flows.js';
import { addVcpu, BASE, expectGhClean, GH, ghSetUp, linuxStatus, markProgram, PAGE, rmPayloads } from './support.js';
import { RmMsgId } from '../../../src/rm-rpc/wire/msg-ids.js';

const ok = (name: string) => ({ name, err: 'OK' });
const RUNNING = 3;

describe('gh_ boot in the kernel-sample order (vmm-flows.md §4)', () => {
  it('CREATE_VM allocates the VMID; START sends the gh_ order; a vCPU added after START runs from the image to its first MMIO exit', async () => {
    const dtbOffset = 0x2000;
    const image = markProgram(0x5a5an, (p) => p.expect(BASE + BigInt(dtbOffset)));
    const m0 = 0;
    const s = await ghSetUp({ image, dtbOffset });
    // CREATE_VM already allocated the VMID (VM_ALLOCATE); the shared region fetched the host's
    // VMID for its ACL (VM_GET_VMID). Nothing else went to the RM yet.
    expect(s.t.hostRmCallsSince(m0)).toEqual([ok('VM_ALLOCATE'), ok('VM_GET_VMID')]);
    const m = s.t.mark();
    expect(await s.v.ioctl(s.vm, 'START', GH.START)).toBe(0);
    expect(s.t.hostRmCallsSince(m)).toEqual([
      // Share: the host VMID was fetched (and cached) at SET_USER_MEM_REGION, not here.
      ok('MEM_SHARE'),
      ok('VM_CONFIG_IMAGE'),
      ok('VM_INIT'),
      ok('VM_GET_HYP_RESOURCES'),
      ok('VM_START'),
    ]);
    expect(linuxStatus(s.t)).toBe(RUNNING);
    // VM_CONFIG_IMAGE (40 bytes, rm-rpc.md §12.2): vmid, auth 0, the region's parcel, image 0/0,
    // dt_offset = DTB gpa − region gpa, dt_size = the page-rounded DTB config size.
    const [cfg] = rmPayloads(s.t, RmMsgId.VM_CONFIG_IMAGE);
    const [share] = rmPayloads(s.t, RmMsgId.MEM_SHARE);
    expect(cfg).toBeDefined();
    const d = new DataView(cfg!.buffer, cfg!.byteOffset, cfg!.byteLength);
    const vmid = (await s.t.emu.rm.control.inspect()).vms.find((x) => x.vmid !== 3)!.vmid;
    expect(cfg!.byteLength).toBe(40);
    expect(d.getUint16(0, true)).toBe(vmid);
    expect(d.getUint16(2, true)).toBe(0);
    expect(d.getBigUint64(8, true)).toBe(0n);
    expect(d.getBigUint64(16, true)).toBe(0n);
    expect(d.getBigUint64(24, true)).toBe(BigInt(dtbOffset));
    expect(d.getBigUint64(32, true)).toBe(BigInt(PAGE));
    expect(share).toBeDefined();
    // START again: already RUNNING → 0, nothing sent.
    const m2 = s.t.mark();
    expect(await s.v.ioctl(s.vm, 'START again', GH.START)).toBe(0);
    expect(s.t.hostRmCallsSince(m2)).toEqual([]);
    // A vCPU function after START (proxy scheduling), then RUN.
    const { fd, page } = await addVcpu(s);
    expect(await s.v.ioctl(fd, 'VCPU_RUN', GH.VCPU_RUN)).toBe(0);
    const p = readRunPage(page);
    expect({ reason: p.exitReason, addr: p.mmio.physAddr, len: p.mmio.len, write: p.mmio.isWrite, data: p.mmio.data }).toEqual({
      reason: 1,
      addr: 0x6000n,
      len: 8,
      write: true,
      data: 0x5a5an,
    });
    // The boot vCPU entered at the image (PC = parcel IPA + 0) with X0 = the DTB's IPA.
    const vcpu = s.t.emu.hyp.objectsOf(vmid).find((o) => o.type === 'vcpu')!;
    const thread = s.t.emu.hyp.vcpuThread(vcpu);
    expect({ pc: thread.entry, x0: thread.context }).toEqual({ pc: Number(BASE), x0: BASE + BigInt(dtbOffset) });
    const m3 = s.t.mark();
    await page.unmap();
    await expectGhClean(s.t);
    // Teardown (docs/gh-dialect.md): VM_STOP, VM_RESET (waits for RESET), MEM_RECLAIM, VM_DEALLOCATE.
    expect(s.t.hostRmCallsSince(m3)).toEqual([ok('VM_STOP'), ok('VM_RESET'), ok('MEM_RECLAIM'), ok('VM_DEALLOCATE')]);
  });

  it('a guest that crashes on a wrong X0 would show it: the same program expecting another X0 gives no MMIO exit', async () => {
    const image = guestProgram().expect(0x1234n).mmioWrite(0x6000n, 8, 1n).spin().build();
    const s = await ghSetUp({ image });
    await s.v.ioctl(s.vm, 'START', GH.START);
    const { fd, page } = await addVcpu(s);
    await s.v.ioctl(fd, 'VCPU_RUN', GH.VCPU_RUN);
    // A failed expect crashes the vCPU: a STATUS exit (EXITED, docs/decisions.md K3), not MMIO.
    expect(readRunPage(page).exitReason).toBe(2);
    await page.unmap();
    await expectGhClean(s.t);
  });

  it('gh_ run page: an MMIO read is completed from mmio.data at the next RUN; offset 37 (v17 resume_action) is never written', async () => {
    const image = guestProgram().mmioRead(0x6008n, 8).expect(0xfeed_f00dn).mmioWrite(0x6000n, 8, 0x600dn).spin().build();
    const s = await ghSetUp({ image });
    await s.v.ioctl(s.vm, 'START', GH.START);
    const { fd, page } = await addVcpu(s);
    page.write(37, Uint8Array.of(0x55));
    await s.v.ioctl(fd, 'VCPU_RUN', GH.VCPU_RUN);
    expect(readRunPage(page)).toMatchObject({ exitReason: 1, mmio: { physAddr: 0x6008n, len: 8, isWrite: false, resumeAction: 0x55 } });
    supplyMmioRead(page, 0xfeed_f00dn);
    await s.v.ioctl(fd, 'VCPU_RUN', GH.VCPU_RUN);
    // The guest's expect passed (a wrong value would crash it: a STATUS exit).
    expect(readRunPage(page)).toMatchObject({ exitReason: 1, mmio: { physAddr: 0x6000n, isWrite: true, data: 0x600dn, resumeAction: 0x55 } });
    await page.unmap();
    await expectGhClean(s.t);
  });
});
