/**
 * VM fd validation rows for GUNYAH_VM_MAP_MEM (add and UNMAP), end to end through the raw
 * HostProcess contract, in the kernel's check order.
 *
 * Reference: uapi.md §3 (`gunyah_map_mem_args`), §4 (map flags, GHMF_ALLOW_HUGEPAGE), §6.2
 * (MAP_MEM rows), §8.11 (lend vs share, reclaim), §9 (QUIRKs K16–K19 as the rows name them);
 * docs/decisions.md K1 (a lent page the running guest touched cannot be reclaimed: BUSY).
 */
import { describe, expect, it } from 'vitest';
import { createEmulator } from '../../../src/emulator.js';
import {
  GHMF_ALLOW_HUGEPAGE,
  GUEST_BASE,
  HC,
  MEM_DEFAULT,
  MEM_LEND,
  MEM_R,
  MEM_RWX,
  MEM_SHARE,
  MEM_UNMAP,
  MEM_W,
  MEM_X,
  PAGE,
  REQ,
  Raw,
  RunView,
  expectErrno,
  finish,
  guestMapped,
  guestVmid,
  mapMemArgs,
  rawBoot,
} from '../support/raw.js';

const MiB2 = 2 * 1024 * 1024;

async function setup(memSize = 16 * PAGE, memFlags = 0) {
  const emu = createEmulator();
  const raw = new Raw(emu.host);
  const dev = raw.openDevice();
  const vm = await raw.createVm(dev);
  const mem = await raw.createGuestMem(dev, memSize, memFlags);
  return { emu, raw, dev, vm, mem };
}

const RW_LEND = MEM_LEND | MEM_R | MEM_W;

describe('uapi.md §6.2 MAP_MEM: argument checks', () => {
  it.each([
    ['a null pointer', 0],
    ['a 31-byte allocation', 31],
  ])('MAP_MEM: copy fails (%s) → EFAULT', async (_what, len) => {
    const s = await setup();
    const ptr = len === 0 ? 0n : s.raw.put(mapMemArgs({ guestAddr: GUEST_BASE, flags: RW_LEND, fd: s.mem, size: PAGE }).subarray(0, len));
    await expectErrno(s.emu.host.ioctl(s.vm, REQ.VM_MAP_MEM, ptr), 'EFAULT');
    await finish(s.emu);
  });

  it.each([
    ['never opened', 'never'],
    ['closed', 'closed'],
    ['negative as u32 (0xffffffff)', 'neg'],
  ])('MAP_MEM: guest_mem_fd is not an open file (%s) → EINVAL (not EBADF, QUIRK K16)', async (_what, kind) => {
    const s = await setup();
    let fd = 99;
    if (kind === 'closed') {
      fd = await s.raw.createGuestMem(s.dev, PAGE);
      await s.emu.host.close(fd);
    }
    if (kind === 'neg') fd = -1;
    await expectErrno(s.raw.mapMem(s.vm, { guestAddr: GUEST_BASE, flags: RW_LEND, fd, size: PAGE }), 'EINVAL');
    await finish(s.emu);
  });

  it.each([
    ['the VM fd', 'vm'],
    ['/dev/gunyah', 'dev'],
    ['an eventfd', 'eventfd'],
    ['a vCPU fd', 'vcpu'],
  ])('MAP_MEM: fd is not a Gunyah guest-memory fd (%s) → EINVAL', async (_what, kind) => {
    const s = await setup();
    const fd = kind === 'vm' ? s.vm : kind === 'dev' ? s.dev : kind === 'eventfd' ? s.emu.host.eventfd() : await s.raw.addVcpu(s.vm, 0);
    await expectErrno(s.raw.mapMem(s.vm, { guestAddr: GUEST_BASE, flags: RW_LEND, fd, size: PAGE }), 'EINVAL');
    await finish(s.emu);
  });

  it.each([0x8, 0x80, 0x200, 0x400, 0x1000, 0x8000_0000])('MAP_MEM: flags have bits outside 0x70 | 0x100 | 0x7 (RWX | 0x%s) → EINVAL', async (bit) => {
    const s = await setup();
    await expectErrno(s.raw.mapMem(s.vm, { guestAddr: GUEST_BASE, flags: MEM_RWX | bit, fd: s.mem, size: PAGE }), 'EINVAL');
    await finish(s.emu);
  });

  it.each([MEM_DEFAULT, MEM_LEND, MEM_SHARE, MEM_UNMAP | MEM_LEND])('MAP_MEM: none of READ, WRITE, EXEC set (flags 0x%s) → EINVAL', async (flags) => {
    const s = await setup();
    await expectErrno(s.raw.mapMem(s.vm, { guestAddr: GUEST_BASE, flags, fd: s.mem, size: PAGE }), 'EINVAL');
    await finish(s.emu);
  });

  it.each([3, 4, 5, 6, 7])('MAP_MEM: access field %d ∉ {0,1,2} → EINVAL', async (access) => {
    const s = await setup();
    await expectErrno(s.raw.mapMem(s.vm, { guestAddr: GUEST_BASE, flags: MEM_RWX | access, fd: s.mem, size: PAGE }), 'EINVAL');
    await finish(s.emu);
  });

  it.each([0, 1, 2])('MAP_MEM: access field %d with a right → 0', async (access) => {
    const s = await setup();
    await expect(s.raw.mapMem(s.vm, { guestAddr: GUEST_BASE, flags: MEM_R | access, fd: s.mem, size: PAGE })).resolves.toBe(0);
    await finish(s.emu);
  });

  it.each([
    ['guest_addr', { guestAddr: GUEST_BASE + 0x800n, offset: 0, size: PAGE }],
    ['offset', { guestAddr: GUEST_BASE, offset: 0x10, size: PAGE }],
    ['size', { guestAddr: GUEST_BASE, offset: 0, size: PAGE + 1 }],
  ])('MAP_MEM: %s not page aligned → EINVAL', async (_what, a) => {
    const s = await setup();
    await expectErrno(s.raw.mapMem(s.vm, { ...a, flags: RW_LEND, fd: s.mem }), 'EINVAL');
    await finish(s.emu);
  });

  it.each([
    ['guest_addr', { guestAddr: GUEST_BASE + 0x1000n, offset: 0, size: MiB2 }],
    ['offset', { guestAddr: GUEST_BASE, offset: PAGE, size: MiB2 }],
    ['size', { guestAddr: GUEST_BASE, offset: 0, size: MiB2 + PAGE }],
  ])('MAP_MEM: ALLOW_HUGEPAGE file and %s not 2 MiB aligned → EINVAL', async (_what, a) => {
    const s = await setup(2 * MiB2, GHMF_ALLOW_HUGEPAGE);
    await expectErrno(s.raw.mapMem(s.vm, { ...a, flags: RW_LEND, fd: s.mem }), 'EINVAL');
    await expect(s.raw.mapMem(s.vm, { guestAddr: GUEST_BASE, offset: MiB2, size: MiB2, flags: RW_LEND, fd: s.mem })).resolves.toBe(0);
    await finish(s.emu);
  });
});

describe('uapi.md §6.2 MAP_MEM add', () => {
  it('MAP_MEM add: lend binding (access 0 or 1) → 0 (the emulated arm64 kernel can unmap its linear map, so the EINVAL row does not apply)', async () => {
    const s = await setup();
    await expect(s.raw.mapMem(s.vm, { guestAddr: GUEST_BASE, flags: MEM_DEFAULT | MEM_RWX, fd: s.mem, size: PAGE })).resolves.toBe(0);
    await expect(s.raw.mapMem(s.vm, { guestAddr: GUEST_BASE + 0x1000n, offset: PAGE, flags: MEM_LEND | MEM_RWX, fd: s.mem, size: PAGE })).resolves.toBe(0);
    await finish(s.emu);
  });

  it.each([
    ['same VM, another guest address', 'same'],
    ['same VM, other flags (share)', 'flags'],
    ['another VM', 'other'],
    ['a partial overlap at the end', 'partial'],
  ])('MAP_MEM add: the file range overlaps an existing binding of the same file (%s) → EEXIST', async (_what, kind) => {
    const s = await setup();
    await s.raw.mapMem(s.vm, { guestAddr: GUEST_BASE, flags: RW_LEND, fd: s.mem, offset: 4 * PAGE, size: 4 * PAGE });
    const vm = kind === 'other' ? await s.raw.createVm(s.dev) : s.vm;
    const flags = kind === 'flags' ? MEM_SHARE | MEM_R : RW_LEND;
    const offset = kind === 'partial' ? 7 * PAGE : 4 * PAGE;
    await expectErrno(s.raw.mapMem(vm, { guestAddr: 0x9000_0000n, flags, fd: s.mem, offset, size: 4 * PAGE }), 'EEXIST');
    // A disjoint file range of the same file is fine.
    await expect(s.raw.mapMem(vm, { guestAddr: 0x9000_0000n, flags, fd: s.mem, offset: 8 * PAGE, size: 4 * PAGE })).resolves.toBe(0);
    await finish(s.emu);
  });

  it.each([
    ['the same frames', 0n],
    ['the last frame', 3n * 0x1000n],
    ['a frame before the start', -0x1000n],
  ])('MAP_MEM add: the guest frame range overlaps another binding of this VM (%s) → EEXIST', async (_what, delta) => {
    const s = await setup();
    await s.raw.mapMem(s.vm, { guestAddr: GUEST_BASE, flags: RW_LEND, fd: s.mem, size: 4 * PAGE });
    const other = await s.raw.createGuestMem(s.dev, 4 * PAGE);
    await expectErrno(s.raw.mapMem(s.vm, { guestAddr: GUEST_BASE + delta, flags: RW_LEND, fd: other, size: 2 * PAGE }), 'EEXIST');
    // Adjacent frames are fine.
    await expect(s.raw.mapMem(s.vm, { guestAddr: GUEST_BASE + 0x4000n, flags: RW_LEND, fd: other, size: 2 * PAGE })).resolves.toBe(0);
    await finish(s.emu);
  });

  it('MAP_MEM add: size == 0 (guest_addr ≠ 0) → EINVAL', async () => {
    const s = await setup();
    await expectErrno(s.raw.mapMem(s.vm, { guestAddr: GUEST_BASE, flags: RW_LEND, fd: s.mem, size: 0 }), 'EINVAL');
    await finish(s.emu);
  });

  it('MAP_MEM add: size == 0 at guest_addr 0 → 0 (QUIRK K18)', async () => {
    const s = await setup();
    await expect(s.raw.mapMem(s.vm, { guestAddr: 0, flags: RW_LEND, fd: s.mem, size: 0 })).resolves.toBe(0);
    await finish(s.emu);
  });

  it('MAP_MEM add: offset + size beyond the file size → 0 (not checked, QUIRK K19)', async () => {
    const s = await setup(4 * PAGE);
    await expect(s.raw.mapMem(s.vm, { guestAddr: GUEST_BASE, flags: RW_LEND, fd: s.mem, offset: 2 * PAGE, size: 8 * PAGE })).resolves.toBe(0);
    await expect(s.raw.mapMem(s.vm, { guestAddr: 0x9000_0000n, flags: RW_LEND, fd: s.mem, offset: 64 * PAGE, size: PAGE })).resolves.toBe(0);
    await finish(s.emu);
  });

  it('MAP_MEM add: ok before start → 0, and the binding holds a file reference (the fd may be closed)', async () => {
    const b = await rawBoot({ noStart: true });
    await b.host.close(b.mem);
    await expect(b.raw.start(b.vm)).resolves.toBe(0);
    const v = await RunView.of(b.raw, b.vcpus[0]!);
    // The guest reads the image's first word through the binding of the closed file.
    expect(await v.command(HC.READ_ADDR, [GUEST_BASE])).toBe(0x444c_4f48_554d_4547n);
    await finish(b.emu);
  });

  it.each([
    ['lend', MEM_LEND | MEM_RWX],
    ['share', MEM_SHARE | MEM_R | MEM_W],
  ])('MAP_MEM add: ok after start (%s) → 0, and the guest can use the new memory', async (_what, flags) => {
    const b = await rawBoot();
    const extra = await b.raw.createGuestMem(b.dev, 2 * PAGE);
    await expect(b.raw.mapMem(b.vm, { guestAddr: 0x9000_0000n, flags, fd: extra, size: 2 * PAGE })).resolves.toBe(0);
    const v = await RunView.of(b.raw, b.vcpus[0]!);
    expect(await v.command(HC.WRITE_ADDR, [0x9000_1008n, 0x1122_3344n])).toBe(0n);
    expect(await v.command(HC.READ_ADDR, [0x9000_1008n])).toBe(0x1122_3344n);
    await finish(b.emu);
  });
});

describe('uapi.md §6.2 MAP_MEM remove (UNMAP)', () => {
  /** A started holding cell with a 4-page share binding at 0x9000_0000 that the guest wrote to. */
  async function withTouchedShare() {
    const b = await rawBoot();
    const extra = await b.raw.createGuestMem(b.dev, 4 * PAGE);
    const flags = MEM_SHARE | MEM_R | MEM_W;
    await b.raw.mapMem(b.vm, { guestAddr: 0x9000_0000n, flags, fd: extra, size: 4 * PAGE });
    const v = await RunView.of(b.raw, b.vcpus[0]!);
    for (let i = 0n; i < 4n; i++) await v.command(HC.WRITE_ADDR, [0x9000_0000n + i * 0x1000n, 0xa0n + i]);
    const vmid = await guestVmid(b.emu);
    for (let i = 0n; i < 4n; i++) expect(guestMapped(b.emu, vmid, 0x9000_0000n + i * 0x1000n)).toBe(true);
    return { ...b, extra, flags, v, vmid };
  }

  it.each([
    ['other flags (the UNMAP bit aside)', { flags: MEM_SHARE | MEM_R }],
    ['another offset-to-address delta', { offset: PAGE }],
    ['a range past the binding', { size: 5 * PAGE }],
    ['a range before the binding', { guestAddr: 0x8fff_f000n }],
  ])('MAP_MEM remove: no binding with identical flags contains the range with the same delta (%s) → ENOENT', async (_what, o) => {
    const s = await setup();
    await s.raw.mapMem(s.vm, { guestAddr: 0x9000_0000n, flags: MEM_SHARE | MEM_R | MEM_W, fd: s.mem, size: 4 * PAGE });
    const a = { guestAddr: 0x9000_0000n, flags: MEM_SHARE | MEM_R | MEM_W, fd: s.mem, offset: 0, size: 4 * PAGE, ...o };
    await expectErrno(s.raw.mapMem(s.vm, { ...a, flags: a.flags | MEM_UNMAP }), 'ENOENT');
    await finish(s.emu);
  });

  it.each([
    ['another file', 'file'],
    ['another VM', 'vm'],
  ])('MAP_MEM remove: the binding belongs to %s → ENOENT', async (_what, kind) => {
    const s = await setup();
    const flags = MEM_LEND | MEM_RWX;
    await s.raw.mapMem(s.vm, { guestAddr: GUEST_BASE, flags, fd: s.mem, size: 4 * PAGE });
    const fd = kind === 'file' ? await s.raw.createGuestMem(s.dev, 4 * PAGE) : s.mem;
    const vm = kind === 'vm' ? await s.raw.createVm(s.dev) : s.vm;
    await expectErrno(s.raw.mapMem(vm, { guestAddr: GUEST_BASE, flags: flags | MEM_UNMAP, fd, size: 4 * PAGE }), 'ENOENT');
    await finish(s.emu);
  });

  // QUIRK K17: every successful UNMAP leaks one file reference, so the extra file (4 pages,
  // all allocated by the guest's writes) is never freed.
  it.each([
    ['the whole binding', 0, 4, [false, false, false, false]],
    ['a prefix', 0, 2, [false, false, true, true]],
    ['a suffix', 3, 1, [true, true, true, false]],
  ])('MAP_MEM remove: the range is %s → 0; the range is reclaimed from the guest first', async (_what, first, count, mapped) => {
    const b = await withTouchedShare();
    const guestAddr = 0x9000_0000n + BigInt(first) * 0x1000n;
    await expect(b.raw.mapMem(b.vm, { guestAddr, flags: b.flags | MEM_UNMAP, fd: b.extra, offset: first * PAGE, size: count * PAGE })).resolves.toBe(0);
    expect([0n, 1n, 2n, 3n].map((i) => guestMapped(b.emu, b.vmid, 0x9000_0000n + i * 0x1000n))).toEqual(mapped);
    // The range is gone from the binding: removing it again finds nothing.
    await expectErrno(b.raw.mapMem(b.vm, { guestAddr, flags: b.flags | MEM_UNMAP, fd: b.extra, offset: first * PAGE, size: count * PAGE }), 'ENOENT');
    await finish(b.emu, { pages: 4 });
  });

  it('MAP_MEM remove: the range is a middle part → EINVAL', async () => {
    const s = await setup();
    const flags = MEM_LEND | MEM_RWX;
    await s.raw.mapMem(s.vm, { guestAddr: GUEST_BASE, flags, fd: s.mem, size: 4 * PAGE });
    await expectErrno(s.raw.mapMem(s.vm, { guestAddr: GUEST_BASE + 0x1000n, flags: flags | MEM_UNMAP, fd: s.mem, offset: PAGE, size: 2 * PAGE }), 'EINVAL');
    await finish(s.emu);
  });

  it('MAP_MEM remove: reclaim from the guest fails (a lent page the running guest touched: BUSY) → EBUSY', async () => {
    const b = await rawBoot();
    const extra = await b.raw.createGuestMem(b.dev, 2 * PAGE);
    const flags = MEM_LEND | MEM_R | MEM_W;
    await b.raw.mapMem(b.vm, { guestAddr: 0x9000_0000n, flags, fd: extra, size: 2 * PAGE });
    const v = await RunView.of(b.raw, b.vcpus[0]!);
    await v.command(HC.WRITE_ADDR, [0x9000_0000n, 7n]);
    await expectErrno(b.raw.mapMem(b.vm, { guestAddr: 0x9000_0000n, flags: flags | MEM_UNMAP, fd: extra, size: 2 * PAGE }), 'EBUSY');
    // The binding stays, and the guest keeps its page.
    expect(guestMapped(b.emu, await guestVmid(b.emu), 0x9000_0000n)).toBe(true);
    expect(await v.command(HC.READ_ADDR, [0x9000_0000n])).toBe(7n);
    await finish(b.emu);
  });

  it.each([
    ['addrspace_unmap', 'ERROR_DENIED', 'EACCES'],
    ['addrspace_unmap', 'ERROR_CSPACE_FULL', 'EBUSY'],
    ['addrspace_unmap', 'ERROR_ADDR_INVALID', 'EINVAL'],
  ])('MAP_MEM remove: reclaim from the guest fails (%s %s) → %s', async (call, error, code) => {
    // The fault is armed from the start: the first addrspace_unmap is the UNMAP's.
    const c = await rawBoot({ emulator: { faults: { hypercalls: [{ call, error }] } } });
    const extra = await c.raw.createGuestMem(c.dev, PAGE);
    const flags = MEM_SHARE | MEM_R | MEM_W;
    await c.raw.mapMem(c.vm, { guestAddr: 0x9000_0000n, flags, fd: extra, size: PAGE });
    const v = await RunView.of(c.raw, c.vcpus[0]!);
    await v.command(HC.WRITE_ADDR, [0x9000_0000n, 7n]);
    await expectErrno(c.raw.mapMem(c.vm, { guestAddr: 0x9000_0000n, flags: flags | MEM_UNMAP, fd: extra, size: PAGE }), code);
    expect(c.emu.faults.fired.map((f) => f.what)).toEqual([call]);
    expect(await v.command(HC.READ_ADDR, [0x9000_0000n])).toBe(7n);
    await finish(c.emu);
  });

  it('MAP_MEM remove: X-only and RX bindings are removed with their own flags', async () => {
    const s = await setup();
    await s.raw.mapMem(s.vm, { guestAddr: GUEST_BASE, flags: MEM_X, fd: s.mem, size: 2 * PAGE });
    await s.raw.mapMem(s.vm, { guestAddr: 0x9000_0000n, flags: MEM_R | MEM_X, fd: s.mem, offset: 2 * PAGE, size: 2 * PAGE });
    await expectErrno(s.raw.mapMem(s.vm, { guestAddr: GUEST_BASE, flags: MEM_R | MEM_X | MEM_UNMAP, fd: s.mem, size: 2 * PAGE }), 'ENOENT');
    await expect(s.raw.mapMem(s.vm, { guestAddr: GUEST_BASE, flags: MEM_X | MEM_UNMAP, fd: s.mem, size: 2 * PAGE })).resolves.toBe(0);
    await expect(s.raw.mapMem(s.vm, { guestAddr: 0x9000_0000n, flags: MEM_R | MEM_X | MEM_UNMAP, fd: s.mem, offset: 2 * PAGE, size: 2 * PAGE })).resolves.toBe(0);
    await finish(s.emu);
  });
});
