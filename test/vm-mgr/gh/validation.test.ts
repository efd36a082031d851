/**
 * The gh_ driver's validation rows, one test each, through the raw contract (request numbers
 * and struct bytes typed by hand in ./support.ts): `/dev/gunyah`, the two region ioctls,
 * SET_DTB_CONFIG, ANDROID_SET_FW_CONFIG, START, ADD/REMOVE_FUNCTION, the 'A' extras and the
 * requests gh_ does not have. Every test ends with the emulator clean (or with exactly what the
 * real driver leaves).
 *
 * Reference: README.md §Dialects; docs/gh-dialect.md (the rows, from the public v14 series /
 * Android common kernel android14-6.1 `vm_mgr.c`, `vm_mgr_mm.c`); docs/decisions.md G-rows.
 */
import { describe, expect, it } from 'vitest';
import { RmMsgId } from '../../../src/rm-rpc/wire/msg-ids.js';
import { args, RawVmm } from '../support/flows.js';
import { BASE, expectGhClean, FN, fwConfig, GH, ghEmulator, ghSetUp, GMEM, linuxStatus, PAGE, region, rmPayloads, rmVms } from './support.js';

const BAD_PTR = 0x10n;
const ok = (name: string) => ({ name, err: 'OK' });
const INIT_FAILED = 8;

/** A gh_ emulator with /dev/gunyah open and one VM. */
async function bare(opts: Parameters<typeof ghEmulator>[0] = {}) {
  const t = ghEmulator(opts);
  const v = new RawVmm(t.emu);
  const dev = v.open();
  const vm = await v.ioctl(dev, 'CREATE_VM', GH.CREATE_VM, 0);
  return { t, v, dev, vm };
}

describe('gh_ /dev/gunyah', () => {
  it('CREATE_VM with arg ≠ 0 → EINVAL, no RM call', async () => {
    const t = ghEmulator();
    const v = new RawVmm(t.emu);
    const dev = v.open();
    expect(await v.ioctlErrno(dev, 'CREATE_VM 1', GH.CREATE_VM, 1)).toBe('EINVAL');
    expect(t.hostRmCalls()).toEqual([]);
    await expectGhClean(t);
  });

  it('CREATE_VM allocates the VMID at once (VM_ALLOCATE vmid 0); the RM has the VM in LOAD', async () => {
    const { t } = await bare();
    expect(t.hostRmCalls()).toEqual([ok('VM_ALLOCATE')]);
    expect(rmPayloads(t, RmMsgId.VM_ALLOCATE)).toEqual([Uint8Array.of(0, 0, 0, 0)]);
    expect(await rmVms(t)).toEqual([{ vmid: 0x80, state: 5 }]);
    expect(linuxStatus(t)).toBe(5); // LOAD
    await expectGhClean(t);
    expect(t.hostRmCalls()).toEqual([ok('VM_ALLOCATE'), ok('VM_DEALLOCATE')]);
  });

  it('CREATE_VM whose VM_ALLOCATE fails → that errno, no fd, nothing left; the next one works', async () => {
    const t = ghEmulator({ faults: { rm: [{ msgId: RmMsgId.VM_ALLOCATE, error: 'NORESOURCE' }] } });
    const v = new RawVmm(t.emu);
    const dev = v.open();
    expect(await v.ioctlErrno(dev, 'CREATE_VM', GH.CREATE_VM, 0)).toBe('ENODEV');
    expect(t.emu.host.openFiles().map((f) => f.name)).toEqual(['gunyah']);
    expect(t.emu.kernel.liveVms).toBe(0);
    expect(await v.ioctl(dev, 'CREATE_VM', GH.CREATE_VM, 0)).toBeGreaterThan(0);
    await expectGhClean(t);
  });

  it.each([
    ['CREATE_GUEST_MEM (nr 0x8)', GH.CREATE_GUEST_MEM],
    ['SET_USER_MEM_REGION (a VM fd request)', GH.SET_USER_MEM_REGION],
    ['CHECK_EXTENSION (a VM fd request)', GH.CHECK_EXTENSION],
    ['nr 0x1f', 0x0000_471f],
  ])('/dev/gunyah: %s → ENOTTY', async (_what, req) => {
    const t = ghEmulator();
    const v = new RawVmm(t.emu);
    const dev = v.open();
    expect(await v.ioctlErrno(dev, 'x', req, new Uint8Array(64))).toBe('ENOTTY');
    await expectGhClean(t);
  });
});

describe.each([
  ['SET_USER_MEM_REGION (share)', GH.SET_USER_MEM_REGION],
  ['ANDROID_LEND_USER_MEM (lend)', GH.ANDROID_LEND_USER_MEM],
])('gh_ %s', (_what, REQ) => {
  /** A VM and a 4-page anonymous mapping. */
  async function withMem() {
    const b = await bare();
    const mem = b.t.emu.host.mmapAnonymous(4 * PAGE);
    return { ...b, mem };
  }

  it('copy fault → EFAULT', async () => {
    const b = await withMem();
    await expect(b.t.emu.host.ioctl(b.vm, REQ, BAD_PTR)).rejects.toMatchObject({ code: 'EFAULT' });
    await expectGhClean(b.t);
  });

  it('flags outside ALLOW_READ|WRITE|EXEC (0x8) → EINVAL', async () => {
    const b = await withMem();
    expect(await b.v.ioctlErrno(b.vm, 'region', REQ, region({ label: 0, flags: 0x8 | GMEM.RWX, gpa: BASE, size: PAGE, hva: b.mem.addr }))).toBe('EINVAL');
    await expectGhClean(b.t);
  });

  it.each([
    ['memory_size 0', { size: 0 }],
    ['memory_size not page aligned', { size: PAGE + 0x800 }],
    ['userspace_addr not page aligned', { hvaOff: 0x800n }],
    ['guest_phys_addr not page aligned', { gpa: BASE + 0x800n }],
  ] as const)('%s → EINVAL', async (_w, o) => {
    const b = await withMem();
    const r = region({
      label: 0,
      flags: GMEM.RWX,
      gpa: 'gpa' in o ? o.gpa : BASE,
      size: 'size' in o ? o.size : PAGE,
      hva: b.mem.addr + ('hvaOff' in o ? o.hvaOff : 0n),
    });
    expect(await b.v.ioctlErrno(b.vm, 'region', REQ, r)).toBe('EINVAL');
    await expectGhClean(b.t);
  });

  it('guest_phys_addr + memory_size overflowing u64 → EOVERFLOW', async () => {
    const b = await withMem();
    const r = region({ label: 0, flags: GMEM.RWX, gpa: 0xffff_ffff_ffff_f000n, size: 2 * PAGE, hva: b.mem.addr });
    expect(await b.v.ioctlErrno(b.vm, 'region', REQ, r)).toBe('EOVERFLOW');
    await expectGhClean(b.t);
  });

  it('a region with the same label → EEXIST', async () => {
    const b = await withMem();
    expect(await b.v.ioctl(b.vm, 'region', REQ, region({ label: 3, flags: GMEM.RWX, gpa: BASE, size: PAGE, hva: b.mem.addr }))).toBe(0);
    expect(await b.v.ioctlErrno(b.vm, 'region', REQ, region({ label: 3, flags: GMEM.RWX, gpa: BASE + 0x10_0000n, size: PAGE, hva: b.mem.addr + 4096n }))).toBe('EEXIST');
    await expectGhClean(b.t);
  });

  it('a region overlapping the guest range of another → EEXIST', async () => {
    const b = await withMem();
    expect(await b.v.ioctl(b.vm, 'region', REQ, region({ label: 0, flags: GMEM.RWX, gpa: BASE, size: 2 * PAGE, hva: b.mem.addr }))).toBe(0);
    expect(await b.v.ioctlErrno(b.vm, 'region', REQ, region({ label: 1, flags: GMEM.RWX, gpa: BASE + 0x1000n, size: PAGE, hva: b.mem.addr + 0x2000n }))).toBe('EEXIST');
    // Adjacent is fine.
    expect(await b.v.ioctl(b.vm, 'region', REQ, region({ label: 1, flags: GMEM.RWX, gpa: BASE + 0x2000n, size: PAGE, hva: b.mem.addr + 0x2000n }))).toBe(0);
    await expectGhClean(b.t);
  });

  it.each([
    ['malloc memory (no pinnable mapping)', (b: Awaited<ReturnType<typeof withMem>>) => b.t.emu.host.malloc(3 * PAGE) + 0x1000n, PAGE],
    ['a range running past the mapping', (b: Awaited<ReturnType<typeof withMem>>) => b.mem.addr, 5 * PAGE],
    ['unmapped user memory', () => 0x7000_0000_0000n, PAGE],
  ] as const)('pages that cannot be pinned (%s) → EFAULT', async (_w, hva, size) => {
    const b = await withMem();
    const addr = hva(b);
    const r = region({ label: 0, flags: GMEM.RWX, gpa: BASE, size, hva: addr - (addr % 4096n) });
    expect(await b.v.ioctlErrno(b.vm, 'region', REQ, r)).toBe('EFAULT');
    await expectGhClean(b.t);
  });

  it('ok: 0, nothing is sent to the RM (the parcel goes at START)', async () => {
    const b = await withMem();
    const m = b.t.mark();
    expect(await b.v.ioctl(b.vm, 'region', REQ, region({ label: 0, flags: GMEM.RWX, gpa: BASE, size: 4 * PAGE, hva: b.mem.addr }))).toBe(0);
    // A share fetches (once, cached) the host's VMID for its ACL; a lend sends nothing.
    expect(b.t.hostRmCallsSince(m)).toEqual(REQ === GH.SET_USER_MEM_REGION ? [ok('VM_GET_VMID')] : []);
    await expectGhClean(b.t);
  });
});

describe('gh_ SET_USER_MEM_REGION: the host VMID', () => {
  it('VM_GET_VMID fails → its errno, the pages are unpinned again; the next share asks again', async () => {
    const b = await bare({ faults: { rm: [{ msgId: RmMsgId.VM_GET_VMID, error: 'DENIED' }] } });
    const mem = b.t.emu.host.mmapAnonymous(PAGE);
    const r = region({ label: 0, flags: GMEM.RWX, gpa: BASE, size: PAGE, hva: mem.addr });
    expect(await b.v.ioctlErrno(b.vm, 'region', GH.SET_USER_MEM_REGION, r)).toBe('EPERM');
    const m = b.t.mark();
    expect(await b.v.ioctl(b.vm, 'region', GH.SET_USER_MEM_REGION, r)).toBe(0);
    expect(b.t.hostRmCallsSince(m)).toEqual([ok('VM_GET_VMID')]);
    const m2 = b.t.mark();
    const mem2 = b.t.emu.host.mmapAnonymous(PAGE);
    expect(await b.v.ioctl(b.vm, 'region', GH.SET_USER_MEM_REGION, region({ label: 1, flags: GMEM.R, gpa: BASE + 0x1000n, size: PAGE, hva: mem2.addr }))).toBe(0);
    expect(b.t.hostRmCallsSince(m2)).toEqual([]); // cached
    await expectGhClean(b.t);
  });
});

describe('gh_ SET_DTB_CONFIG', () => {
  it('copy fault → EFAULT', async () => {
    const b = await bare();
    await expect(b.t.emu.host.ioctl(b.vm, GH.SET_DTB_CONFIG, BAD_PTR)).rejects.toMatchObject({ code: 'EFAULT' });
    await expectGhClean(b.t);
  });

  it('guest_phys_addr + size (rounded up to the page) overflowing u64 → EOVERFLOW', async () => {
    const b = await bare();
    // 0xFFFF_FFFF_FFFF_F000 + 1 fits, but rounded to a page it reaches 2^64.
    expect(await b.v.ioctlErrno(b.vm, 'SET_DTB_CONFIG', GH.SET_DTB_CONFIG, args.dtbConfig(0xffff_ffff_ffff_f000n, 1n))).toBe('EOVERFLOW');
    expect(await b.v.ioctlErrno(b.vm, 'SET_DTB_CONFIG', GH.SET_DTB_CONFIG, args.dtbConfig(0xffff_ffff_ffff_ffffn, 0x1000n))).toBe('EOVERFLOW');
    await expectGhClean(b.t);
  });

  it('ok: stored with the size rounded up to the page (VM_CONFIG_IMAGE dt_size)', async () => {
    const s = await ghSetUp({ noDtbConfig: true });
    expect(await s.v.ioctl(s.vm, 'SET_DTB_CONFIG', GH.SET_DTB_CONFIG, args.dtbConfig(s.dtbGpa, 0x801n))).toBe(0);
    expect(await s.v.ioctl(s.vm, 'START', GH.START)).toBe(0);
    const [cfg] = rmPayloads(s.t, RmMsgId.VM_CONFIG_IMAGE);
    expect(new DataView(cfg!.buffer, cfg!.byteOffset).getBigUint64(32, true)).toBe(0x1000n);
    await expectGhClean(s.t);
  });
});

describe('gh_ ANDROID_SET_FW_CONFIG', () => {
  it('copy fault → EFAULT', async () => {
    const b = await bare();
    await expect(b.t.emu.host.ioctl(b.vm, GH.ANDROID_SET_FW_CONFIG, BAD_PTR)).rejects.toMatchObject({ code: 'EFAULT' });
    await expectGhClean(b.t);
  });

  it('ok: stored; START then configures auth QCOM_ANDROID_PVM (2) and sends VM_SET_FIRMWARE_MEM before VM_INIT', async () => {
    const s = await ghSetUp();
    // Firmware: 2 pages at region offset 0x4000.
    expect(await s.v.ioctl(s.vm, 'SET_FW_CONFIG', GH.ANDROID_SET_FW_CONFIG, fwConfig(BASE + 0x4000n, 0x2000n))).toBe(0);
    const m = s.t.mark();
    expect(await s.v.ioctl(s.vm, 'START', GH.START)).toBe(0);
    expect(s.t.hostRmCallsSince(m)).toEqual([
      ok('MEM_SHARE'),
      ok('VM_CONFIG_IMAGE'),
      ok('VM_SET_FIRMWARE_MEM'),
      ok('VM_INIT'),
      ok('VM_GET_HYP_RESOURCES'),
      ok('VM_START'),
    ]);
    const [cfg] = rmPayloads(s.t, RmMsgId.VM_CONFIG_IMAGE);
    expect(new DataView(cfg!.buffer, cfg!.byteOffset).getUint16(2, true)).toBe(2);
    const handle = new DataView(cfg!.buffer, cfg!.byteOffset).getUint32(4, true);
    const vmid = (await rmVms(s.t))[0]!.vmid;
    // VM_SET_FIRMWARE_MEM (24, rm-rpc.md §12.1): vmid u16, res0 u16, handle u32, offset u64, size u64.
    const fw = new Uint8Array(24);
    const d = new DataView(fw.buffer);
    d.setUint16(0, vmid, true);
    d.setUint32(4, handle, true);
    d.setBigUint64(8, 0x4000n, true);
    d.setBigUint64(16, 0x2000n, true);
    expect(rmPayloads(s.t, RmMsgId.VM_SET_FIRMWARE_MEM)).toEqual([fw]);
    await expectGhClean(s.t);
  });

  it('a firmware range no region contains → START EINVAL after VM_CONFIG_IMAGE; INIT_FAILED', async () => {
    const s = await ghSetUp();
    await s.v.ioctl(s.vm, 'SET_FW_CONFIG', GH.ANDROID_SET_FW_CONFIG, fwConfig(BASE + 0xf000n, 0x2000n));
    const m = s.t.mark();
    expect(await s.v.ioctlErrno(s.vm, 'START', GH.START)).toBe('EINVAL');
    expect(s.t.hostRmCallsSince(m)).toEqual([ok('MEM_SHARE'), ok('VM_CONFIG_IMAGE')]);
    expect(linuxStatus(s.t)).toBe(INIT_FAILED);
    const [vm] = await rmVms(s.t);
    const m2 = s.t.mark();
    // The RM's VM is in INIT: it refuses VM_RESET and VM_DEALLOCATE (logged); the parcel comes back.
    await s.t.emu.host.closeAll();
    expect(s.t.hostRmCallsSince(m2)).toEqual([
      { name: 'VM_RESET', err: 'VM_STATE' },
      ok('MEM_RECLAIM'),
      { name: 'VM_DEALLOCATE', err: 'VM_STATE' },
    ]);
    const insp = await s.t.emu.rm.control.inspect();
    expect(insp.vms.filter((x) => x.vmid !== 3).map((x) => ({ vmid: x.vmid, state: x.stateName }))).toEqual([{ vmid: vm!.vmid, state: 'INIT' }]);
    expect(insp.parcels).toEqual([]);
    expect(s.t.emu.kernel.pages.inUse).toBe(0);
    expect(s.t.emu.checkInvariants()).toEqual([]);
    s.t.emu.close();
  });
});

describe('gh_ START', () => {
  it('no region contains the DTB → EINVAL after the shares; INIT_FAILED; START again → ENODEV (Q2); teardown reclaims', async () => {
    const s = await ghSetUp({ noDtbConfig: true });
    await s.v.ioctl(s.vm, 'SET_DTB_CONFIG', GH.SET_DTB_CONFIG, args.dtbConfig(BASE + 0x10_0000n, BigInt(PAGE)));
    const m = s.t.mark();
    expect(await s.v.ioctlErrno(s.vm, 'START', GH.START)).toBe('EINVAL');
    expect(s.t.hostRmCallsSince(m)).toEqual([ok('MEM_SHARE')]);
    expect(linuxStatus(s.t)).toBe(INIT_FAILED);
    expect(await s.v.ioctlErrno(s.vm, 'START', GH.START)).toBe('ENODEV');
    const m2 = s.t.mark();
    await expectGhClean(s.t);
    // Not LOAD any more: VM_RESET is tried (the RM's VM is still in LOAD: refused, logged, not waited for).
    expect(s.t.hostRmCallsSince(m2)).toEqual([{ name: 'VM_RESET', err: 'VM_STATE' }, ok('MEM_RECLAIM'), ok('VM_DEALLOCATE')]);
  });

  it('a DTB range only partly inside the region → EINVAL (the region must contain it)', async () => {
    const s = await ghSetUp({ noDtbConfig: true });
    await s.v.ioctl(s.vm, 'SET_DTB_CONFIG', GH.SET_DTB_CONFIG, args.dtbConfig(BASE + BigInt(s.size - PAGE), BigInt(2 * PAGE)));
    expect(await s.v.ioctlErrno(s.vm, 'START', GH.START)).toBe('EINVAL');
    await expectGhClean(s.t);
  });

  it('a VM with no region at all → EINVAL; no RM call', async () => {
    const b = await bare();
    const m = b.t.mark();
    expect(await b.v.ioctlErrno(b.vm, 'START', GH.START)).toBe('EINVAL');
    expect(b.t.hostRmCallsSince(m)).toEqual([]);
    await expectGhClean(b.t);
  });

  it('a region added after START is accepted, never sent, and unpinned at teardown', async () => {
    const s = await ghSetUp();
    await s.v.ioctl(s.vm, 'START', GH.START);
    const extra = s.t.emu.host.mmapAnonymous(2 * PAGE);
    extra.write(0, Uint8Array.of(1)); // faulted in: a page of the pool
    const m = s.t.mark();
    expect(await s.v.ioctl(s.vm, 'late region', GH.ANDROID_LEND_USER_MEM, region({ label: 9, flags: GMEM.RWX, gpa: 0x1_0000_0000n, size: 2 * PAGE, hva: extra.addr }))).toBe(0);
    expect(s.t.hostRmCallsSince(m)).toEqual([]);
    expect(extra.read(0, 1)).toEqual(Uint8Array.of(1)); // still the host's
    const m2 = s.t.mark();
    await expectGhClean(s.t);
    expect(s.t.hostRmCallsSince(m2)).toEqual([ok('VM_STOP'), ok('VM_RESET'), ok('MEM_RECLAIM'), ok('VM_DEALLOCATE')]);
  });
});

describe('gh_ ADD_FUNCTION / REMOVE_FUNCTION', () => {
  it('ADD: fn_desc copy fault → EFAULT', async () => {
    const b = await bare();
    await expect(b.t.emu.host.ioctl(b.vm, GH.ADD_FUNCTION, BAD_PTR)).rejects.toMatchObject({ code: 'EFAULT' });
    await expectGhClean(b.t);
  });

  it('ADD: arg_size 257 → EINVAL', async () => {
    const b = await bare();
    const p = b.t.emu.host.malloc(300);
    expect(await b.v.ioctlErrno(b.vm, 'ADD', GH.ADD_FUNCTION, args.fnDesc(FN.VCPU, 257, p))).toBe('EINVAL');
    await expectGhClean(b.t);
  });

  it('ADD: argument copy fault → EFAULT', async () => {
    const b = await bare();
    expect(await b.v.ioctlErrno(b.vm, 'ADD', GH.ADD_FUNCTION, args.fnDesc(FN.VCPU, 4, BAD_PTR))).toBe('EFAULT');
    await expectGhClean(b.t);
  });

  it('ADD: an unknown type → ENOENT', async () => {
    const b = await bare();
    expect(await b.v.fnErrno(b.vm, 'ADD', GH.ADD_FUNCTION, 0x77, new Uint8Array(8))).toBe('ENOENT');
    await expectGhClean(b.t);
  });

  it.each([
    ['vCPU with arg_size 3', FN.VCPU, new Uint8Array(3), 'EINVAL'],
    ['irqfd with flags 2', FN.IRQFD, args.irqfd(0, 1, 2), 'EINVAL'],
    ['ioeventfd with len 3', FN.IOEVENTFD, args.ioeventfd({ addr: 0x6000n, len: 3, fd: 0, flags: 0 }), 'EINVAL'],
    ['irqfd with a closed fd', FN.IRQFD, args.irqfd(99, 1, 0), 'EBADF'],
  ] as const)('ADD: bind errors are the type\'s own: %s → %s', async (_w, type, arg, code) => {
    const b = await bare();
    expect(await b.v.fnErrno(b.vm, 'ADD', GH.ADD_FUNCTION, type, arg)).toBe(code);
    await expectGhClean(b.t);
  });

  it('ADD: the same vCPU id twice → EEXIST', async () => {
    const b = await bare();
    expect(await b.v.fn(b.vm, 'ADD vcpu', GH.ADD_FUNCTION, FN.VCPU, args.vcpu(0))).toBeGreaterThan(0);
    expect(await b.v.fnErrno(b.vm, 'ADD vcpu', GH.ADD_FUNCTION, FN.VCPU, args.vcpu(0))).toBe('EEXIST');
    await expectGhClean(b.t);
  });

  it('REMOVE: fn_desc copy fault → EFAULT; argument copy fault → EFAULT', async () => {
    const b = await bare();
    await expect(b.t.emu.host.ioctl(b.vm, GH.REMOVE_FUNCTION, BAD_PTR)).rejects.toMatchObject({ code: 'EFAULT' });
    expect(await b.v.ioctlErrno(b.vm, 'REMOVE', GH.REMOVE_FUNCTION, args.fnDesc(FN.VCPU, 4, BAD_PTR))).toBe('EFAULT');
    await expectGhClean(b.t);
  });

  it('REMOVE: arg_size 0 → 0 and nothing is removed (even with a bad pointer)', async () => {
    const b = await bare();
    await b.v.fn(b.vm, 'ADD vcpu', GH.ADD_FUNCTION, FN.VCPU, args.vcpu(0));
    expect(await b.v.ioctl(b.vm, 'REMOVE 0', GH.REMOVE_FUNCTION, args.fnDesc(FN.VCPU, 0, BAD_PTR))).toBe(0);
    expect(await b.v.ioctl(b.vm, 'REMOVE 0 unknown type', GH.REMOVE_FUNCTION, args.fnDesc(0x77, 0, 0n))).toBe(0);
    // The vCPU is still there: REMOVE by id finds it.
    expect(await b.v.fn(b.vm, 'REMOVE vcpu', GH.REMOVE_FUNCTION, FN.VCPU, args.vcpu(0))).toBe(0);
    await expectGhClean(b.t);
  });

  it('REMOVE: nothing matches → ENOENT; an argument of another size than the type\'s never matches', async () => {
    const b = await bare();
    await b.v.fn(b.vm, 'ADD vcpu', GH.ADD_FUNCTION, FN.VCPU, args.vcpu(0));
    expect(await b.v.fnErrno(b.vm, 'REMOVE vcpu 1', GH.REMOVE_FUNCTION, FN.VCPU, args.vcpu(1))).toBe('ENOENT');
    expect(await b.v.fnErrno(b.vm, 'REMOVE vcpu 0 as 8 bytes', GH.REMOVE_FUNCTION, FN.VCPU, new Uint8Array(8))).toBe('ENOENT');
    expect(await b.v.fnErrno(b.vm, 'REMOVE unknown type', GH.REMOVE_FUNCTION, 0x77, new Uint8Array(4))).toBe('ENOENT');
    await expectGhClean(b.t);
  });
});

describe("gh_ VM fd: the 'A' extras and what gh_ does not have", () => {
  it('CHECK_EXTENSION: GH_CAP_VCPU_TIMER_WAKEUP (0) → 0 (not offered), an unknown capability → 0', async () => {
    const b = await bare();
    expect(await b.v.ioctl(b.vm, 'CHECK_EXTENSION 0', GH.CHECK_EXTENSION, 0)).toBe(0);
    expect(await b.v.ioctl(b.vm, 'CHECK_EXTENSION 0x1234', GH.CHECK_EXTENSION, 0x1234)).toBe(0);
    await expectGhClean(b.t);
  });

  it.each([
    ['ANDROID_TENTATIVE_UAPI', GH.ANDROID_TENTATIVE_UAPI],
    ['RECLAIM_REGION', GH.RECLAIM_REGION],
    ['ANDROID_MAP_CMA_MEM', GH.ANDROID_MAP_CMA_MEM],
    ['ANDROID_SET_AUTH_TYPE', GH.ANDROID_SET_AUTH_TYPE],
    ['SET_BOOT_CONTEXT (nr 0xa, Q14)', GH.SET_BOOT_CONTEXT],
    ['MAP_MEM (nr 0x9)', GH.MAP_MEM],
    ['CREATE_GUEST_MEM (a v17 /dev/gunyah request)', GH.CREATE_GUEST_MEM],
    ['VCPU_RUN (a vCPU fd request)', GH.VCPU_RUN],
    ['CREATE_VM (a /dev/gunyah request)', GH.CREATE_VM],
    ['nr 0xb', 0x0000_470b],
  ])('%s → ENOTTY', async (_w, req) => {
    const b = await bare();
    expect(await b.v.ioctlErrno(b.vm, 'x', req, new Uint8Array(64))).toBe('ENOTTY');
    await expectGhClean(b.t);
  });
});
