/**
 * Guest-memory fd validation rows, end to end through the raw HostProcess contract: read and
 * write, ioctl, mmap (and the reclaim it does first), host page faults, fallocate (mode,
 * alignment, PUNCH_HOLE, pre-allocation, ZERO_RANGE), EBADF after close.
 *
 * Reference: uapi.md §6.4 (guest-memory fd rows), §8.11 (lend vs share, host visibility,
 * reclaim), §9 QUIRK K10 (PUNCH_HOLE page-index units; the row tests punch at offset 0 so the
 * quirk does not change which page they look at); docs/decisions.md K1 (a lent page the
 * running guest touched cannot be reclaimed unless the guest relinquished it), K4 (4 KiB
 * folios only); vmm-flows.md §6.6 (page relinquish, hvc 0xC6008069).
 */
import { describe, expect, it } from 'vitest';
import { createEmulator } from '../../../src/emulator.js';
import { SigbusError } from '../../../src/shared/sigbus-error.js';
import {
  FALLOC_KEEP_SIZE,
  FALLOC_PUNCH_HOLE,
  FALLOC_ZERO_RANGE,
  HC,
  MEM_LEND,
  MEM_R,
  MEM_RWX,
  MEM_SHARE,
  MEM_W,
  PAGE,
  REQ,
  Raw,
  RunView,
  errnoOf,
  expectErrno,
  finish,
  guestMapped,
  guestVmid,
  ioc,
  rawBoot,
  u64,
} from '../support/raw.js';

const EXTRA = 0x9000_0000n;
const RELINQUISH = 0xc600_8069;

async function setup(size = 4 * PAGE) {
  const emu = createEmulator();
  const raw = new Raw(emu.host);
  const dev = raw.openDevice();
  const mem = await raw.createGuestMem(dev, size);
  return { emu, raw, dev, mem };
}

function le64(b: Uint8Array): bigint {
  return new DataView(b.buffer, b.byteOffset, 8).getBigUint64(0, true);
}

/** A started holding cell with a 2-page `flags` binding of a second file at EXTRA; the guest wrote 0x77 at EXTRA. */
async function withGuestWrite(flags: number) {
  const b = await rawBoot();
  const extra = await b.raw.createGuestMem(b.dev, 2 * PAGE);
  await b.raw.mapMem(b.vm, { guestAddr: EXTRA, flags, fd: extra, size: 2 * PAGE });
  const v = await RunView.of(b.raw, b.vcpus[0]!);
  expect(await v.command(HC.WRITE_ADDR, [EXTRA, 0x77n])).toBe(0n);
  const vmid = await guestVmid(b.emu);
  expect(guestMapped(b.emu, vmid, EXTRA)).toBe(true);
  return { ...b, extra, v, vmid };
}

describe('uapi.md §6.4 read, write, ioctl', () => {
  it('guest-memory fd: read → not supported (EINVAL)', async () => {
    const s = await setup();
    await expectErrno(s.emu.host.read(s.mem, 8), 'EINVAL');
    await finish(s.emu);
  });

  it('guest-memory fd: write → not supported (EINVAL)', async () => {
    const s = await setup();
    await expectErrno(() => s.emu.host.write(s.mem, u64(1)), 'EINVAL');
    await finish(s.emu);
  });

  it.each([
    ['CREATE_VM', REQ.CREATE_VM],
    ['CREATE_GUEST_MEM', REQ.CREATE_GUEST_MEM],
    ['VM_MAP_MEM', REQ.VM_MAP_MEM],
    ['VM_START', REQ.VM_START],
    ['VCPU_RUN', REQ.VCPU_RUN],
    ['VCPU_MMAP_SIZE', REQ.VCPU_MMAP_SIZE],
    ['FIONREAD (0x541b)', 0x541b],
    ['nr 0x1 of type G', ioc(1, 0x1, 32)],
  ])('guest-memory fd: ioctl %s → ENOTTY', async (_what, req) => {
    const s = await setup();
    await expectErrno(s.emu.host.ioctl(s.mem, req, s.raw.put(new Uint8Array(64))), 'ENOTTY');
    await finish(s.emu);
  });
});

describe('uapi.md §6.4 mmap and host page faults', () => {
  it('guest-memory fd: mmap overlapping a lend binding → the overlapping range is first reclaimed from the guest', async () => {
    const b = await withGuestWrite(MEM_LEND | MEM_R | MEM_W);
    // The guest gives the page up (page relinquish), so the reclaim may take it while the VM runs.
    expect(await b.v.command(HC.SMCCC_HVC, [RELINQUISH, 0, EXTRA, PAGE, 1])).toBe(0n);
    expect(guestMapped(b.emu, b.vmid, EXTRA)).toBe(true);
    const m = b.host.mmap(b.extra, PAGE);
    expect(guestMapped(b.emu, b.vmid, EXTRA)).toBe(false);
    expect(le64(m.read(0, 8))).toBe(0x77n);
    await m.unmap();
    await finish(b.emu);
  });

  it('guest-memory fd: mmap overlapping a lend binding, reclaim fails (the running guest touched the page) → the mmap fails (EBUSY)', async () => {
    const b = await withGuestWrite(MEM_LEND | MEM_R | MEM_W);
    expect(await errnoOf(() => b.host.mmap(b.extra, PAGE))).toBe('EBUSY');
    expect(b.host.liveMappings().filter((m) => m.name === '[gh-gmem]')).toEqual([]);
    expect(guestMapped(b.emu, b.vmid, EXTRA)).toBe(true);
    await finish(b.emu);
  });

  it('guest-memory fd: mmap overlapping a share binding → nothing is reclaimed; the host sees the guest\'s data', async () => {
    const b = await withGuestWrite(MEM_SHARE | MEM_R | MEM_W);
    const m = b.host.mmap(b.extra, 2 * PAGE);
    expect(guestMapped(b.emu, b.vmid, EXTRA)).toBe(true);
    expect(le64(m.read(0, 8))).toBe(0x77n);
    m.write(8, u64(0x88));
    expect(await b.v.command(HC.READ_ADDR, [EXTRA + 8n])).toBe(0x88n);
    await m.unmap();
    await finish(b.emu);
  });

  it('guest-memory fd: host page fault, page not yet allocated → allocated (4 KiB) and zero-filled', async () => {
    const s = await setup();
    const m = s.emu.host.mmap(s.mem, 4 * PAGE);
    expect(s.emu.kernel.pages.inUse).toBe(0);
    expect(m.read(PAGE + 5, 16)).toEqual(new Uint8Array(16));
    expect(s.emu.kernel.pages.inUse).toBe(1);
    m.write(3 * PAGE, u64(1));
    expect(s.emu.kernel.pages.inUse).toBe(2);
    await m.unmap();
    await finish(s.emu);
  });

  it('guest-memory fd: host page fault, page currently lent to a guest, reclaim fails → SIGBUS', async () => {
    const b = await rawBoot();
    const extra = await b.raw.createGuestMem(b.dev, PAGE);
    await b.raw.mapMem(b.vm, { guestAddr: EXTRA, flags: MEM_LEND | MEM_RWX, fd: extra, size: PAGE });
    const m = b.host.mmap(extra, PAGE); // mapped, but the host has not touched the page
    const v = await RunView.of(b.raw, b.vcpus[0]!);
    expect(await v.command(HC.WRITE_ADDR, [EXTRA + 0x10n, 0x99n])).toBe(0n);
    let err: unknown;
    try {
      m.read(0x10, 8);
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(SigbusError);
    expect((err as SigbusError).address).toBe(m.addr + 0x10n);
    expect(guestMapped(b.emu, await guestVmid(b.emu), EXTRA)).toBe(true);
    await finish(b.emu);
  });

  it('guest-memory fd: host page fault, page currently lent to a guest, reclaim succeeds → the host gets the page', async () => {
    const b = await rawBoot();
    const extra = await b.raw.createGuestMem(b.dev, PAGE);
    await b.raw.mapMem(b.vm, { guestAddr: EXTRA, flags: MEM_LEND | MEM_RWX, fd: extra, size: PAGE });
    const m = b.host.mmap(extra, PAGE);
    const v = await RunView.of(b.raw, b.vcpus[0]!);
    expect(await v.command(HC.WRITE_ADDR, [EXTRA + 0x10n, 0x99n])).toBe(0n);
    expect(await v.command(HC.SMCCC_HVC, [RELINQUISH, 0, EXTRA, PAGE, 1])).toBe(0n);
    expect(le64(m.read(0x10, 8))).toBe(0x99n);
    expect(guestMapped(b.emu, await guestVmid(b.emu), EXTRA)).toBe(false);
    await m.unmap();
    await finish(b.emu);
  });
});

describe('uapi.md §6.4 fallocate', () => {
  it.each([
    ['0', 0],
    ['PUNCH_HOLE alone', FALLOC_PUNCH_HOLE],
    ['ZERO_RANGE alone', FALLOC_ZERO_RANGE],
  ])('fallocate: mode lacks FALLOC_FL_KEEP_SIZE (%s) → EOPNOTSUPP', async (_what, mode) => {
    const s = await setup();
    await expectErrno(s.emu.host.fallocate(s.mem, mode, 0, PAGE), 'EOPNOTSUPP');
    await finish(s.emu);
  });

  it.each([
    ['COLLAPSE_RANGE (0x8)', 0x8],
    ['INSERT_RANGE (0x20)', 0x20],
    ['UNSHARE_RANGE (0x40)', 0x40],
    ['NO_HIDE_STALE (0x4)', 0x4],
    ['PUNCH_HOLE | ZERO_RANGE | 0x8', FALLOC_PUNCH_HOLE | FALLOC_ZERO_RANGE | 0x8],
  ])('fallocate: mode has bits other than KEEP_SIZE, PUNCH_HOLE, ZERO_RANGE (KEEP_SIZE | %s) → EOPNOTSUPP', async (_what, bits) => {
    const s = await setup();
    await expectErrno(s.emu.host.fallocate(s.mem, FALLOC_KEEP_SIZE | bits, 0, PAGE), 'EOPNOTSUPP');
    await finish(s.emu);
  });

  it.each([
    ['offset', 'plain', 100, PAGE],
    ['len', 'plain', 0, PAGE + 1],
    ['offset', 'PUNCH_HOLE', 8, PAGE],
    ['len', 'PUNCH_HOLE', 0, 100],
    ['len', 'ZERO_RANGE', 0, 3],
  ])('fallocate: %s not page aligned (%s) → EINVAL', async (_what, kind, offset, len) => {
    const s = await setup();
    const mode = FALLOC_KEEP_SIZE | (kind === 'PUNCH_HOLE' ? FALLOC_PUNCH_HOLE : kind === 'ZERO_RANGE' ? FALLOC_ZERO_RANGE : 0);
    await expectErrno(s.emu.host.fallocate(s.mem, mode, offset, len), 'EINVAL');
    await finish(s.emu);
  });

  it('fallocate PUNCH_HOLE: a page in the range cannot be reclaimed from the guest (lent, in use) → EBUSY', async () => {
    const b = await withGuestWrite(MEM_LEND | MEM_R | MEM_W);
    await expectErrno(b.host.fallocate(b.extra, FALLOC_KEEP_SIZE | FALLOC_PUNCH_HOLE, 0, PAGE), 'EBUSY');
    expect(guestMapped(b.emu, b.vmid, EXTRA)).toBe(true);
    expect(await b.v.command(HC.READ_ADDR, [EXTRA])).toBe(0x77n);
    await finish(b.emu);
  });

  it('fallocate PUNCH_HOLE: ok → the page is reclaimed from the guest and freed; later accesses see zeros', async () => {
    const b = await withGuestWrite(MEM_SHARE | MEM_R | MEM_W);
    const before = b.emu.kernel.pages.inUse;
    await expect(b.host.fallocate(b.extra, FALLOC_KEEP_SIZE | FALLOC_PUNCH_HOLE, 0, PAGE)).resolves.toBeUndefined();
    expect(b.emu.kernel.pages.inUse).toBe(before - 1);
    expect(guestMapped(b.emu, b.vmid, EXTRA)).toBe(false);
    expect(await b.v.command(HC.READ_ADDR, [EXTRA])).toBe(0n);
    expect(le64(await b.raw.readMem(b.extra, 0, 8))).toBe(0n);
    await finish(b.emu);
  });

  it('fallocate PUNCH_HOLE: ok on a file no guest uses → freed; the host reads zeros', async () => {
    const s = await setup(PAGE);
    await s.raw.writeMem(s.mem, 0, u64(0x1234));
    expect(s.emu.kernel.pages.inUse).toBe(1);
    await s.emu.host.fallocate(s.mem, FALLOC_KEEP_SIZE | FALLOC_PUNCH_HOLE, 0, PAGE);
    expect(s.emu.kernel.pages.inUse).toBe(0);
    expect(le64(await s.raw.readMem(s.mem, 0, 8))).toBe(0n);
    await finish(s.emu);
  });

  it.each([
    ['KEEP_SIZE', FALLOC_KEEP_SIZE, 2 * PAGE, 3 * PAGE],
    ['KEEP_SIZE, offset at the end', FALLOC_KEEP_SIZE, 4 * PAGE, PAGE],
    ['KEEP_SIZE | ZERO_RANGE', FALLOC_KEEP_SIZE | FALLOC_ZERO_RANGE, 0, 5 * PAGE],
  ])('fallocate (no PUNCH_HOLE, %s): offset + len > size → EINVAL', async (_what, mode, offset, len) => {
    const s = await setup(4 * PAGE);
    await expectErrno(s.emu.host.fallocate(s.mem, mode, offset, len), 'EINVAL');
    expect(s.emu.kernel.pages.inUse).toBe(0);
    await finish(s.emu);
  });

  it('fallocate (no PUNCH_HOLE): ok → the pages are pre-allocated', async () => {
    const s = await setup(4 * PAGE);
    await s.emu.host.fallocate(s.mem, FALLOC_KEEP_SIZE, PAGE, 2 * PAGE);
    expect(s.emu.kernel.pages.inUse).toBe(2);
    await s.emu.host.fallocate(s.mem, FALLOC_KEEP_SIZE, 0, 4 * PAGE);
    expect(s.emu.kernel.pages.inUse).toBe(4);
    await finish(s.emu);
  });

  it('fallocate ZERO_RANGE: ok → pre-allocates and does not zero', async () => {
    const s = await setup(4 * PAGE);
    await s.raw.writeMem(s.mem, PAGE, u64(0xabcd));
    await s.emu.host.fallocate(s.mem, FALLOC_KEEP_SIZE | FALLOC_ZERO_RANGE, 0, 4 * PAGE);
    expect(s.emu.kernel.pages.inUse).toBe(4);
    expect(le64(await s.raw.readMem(s.mem, PAGE, 8))).toBe(0xabcdn);
    await finish(s.emu);
  });
});

describe('guest-memory fd after close', () => {
  it('guest-memory fd: ioctl, mmap and fallocate after close → EBADF', async () => {
    const s = await setup();
    await s.emu.host.close(s.mem);
    await expectErrno(s.emu.host.ioctl(s.mem, REQ.VM_MAP_MEM, 0), 'EBADF');
    await expectErrno(() => s.emu.host.mmap(s.mem, PAGE), 'EBADF');
    await expectErrno(s.emu.host.fallocate(s.mem, FALLOC_KEEP_SIZE, 0, PAGE), 'EBADF');
    await finish(s.emu);
  });

  it('guest-memory fd: a live mapping keeps the file after close', async () => {
    const s = await setup();
    const m = s.emu.host.mmap(s.mem, PAGE);
    await s.emu.host.close(s.mem);
    m.write(0, u64(5));
    expect(le64(m.read(0, 8))).toBe(5n);
    expect(s.emu.kernel.pages.inUse).toBe(1);
    await m.unmap();
    expect(s.emu.kernel.pages.inUse).toBe(0);
    await finish(s.emu);
  });
});
