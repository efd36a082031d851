/**
 * `/dev/gunyah` validation rows, end to end through the raw HostProcess contract: every row of
 * uapi.md §6.1 (CREATE_VM, CREATE_GUEST_MEM, unknown requests), the request numbers of §2 and
 * the encoding of §1, and EBADF after close.
 *
 * Reference: uapi.md §1, §2, §3 (`gunyah_create_mem_args`), §4 (GHMF_*), §6.1.
 */
import { describe, expect, it } from 'vitest';
import { createEmulator } from '../../../src/emulator.js';
import { createMemoryTraceSink } from '../../../src/shared/trace.js';
import { SigbusError } from '../../../src/shared/sigbus-error.js';
import * as uapi from '../../../src/vm-mgr/uapi/index.js';
import {
  FALLOC_KEEP_SIZE,
  GHMF_ALLOW_HUGEPAGE,
  GHMF_CLOEXEC,
  PAGE,
  REQ,
  Raw,
  createMemArgs,
  expectErrno,
  finish,
  ioc,
} from '../support/raw.js';

function setup(): { emu: ReturnType<typeof createEmulator>; raw: Raw; dev: number } {
  const emu = createEmulator();
  const raw = new Raw(emu.host);
  return { emu, raw, dev: raw.openDevice() };
}

describe('uapi.md §1–§2: request numbers', () => {
  it('the hand-typed values of the sheet equal the driver constants', () => {
    expect(REQ).toEqual({
      CREATE_VM: uapi.GUNYAH_CREATE_VM,
      VM_SET_DTB_CONFIG: uapi.GUNYAH_VM_SET_DTB_CONFIG,
      VM_START: uapi.GUNYAH_VM_START,
      VM_ADD_FUNCTION: uapi.GUNYAH_VM_ADD_FUNCTION,
      VCPU_RUN: uapi.GUNYAH_VCPU_RUN,
      VCPU_MMAP_SIZE: uapi.GUNYAH_VCPU_MMAP_SIZE,
      VM_REMOVE_FUNCTION: uapi.GUNYAH_VM_REMOVE_FUNCTION,
      CREATE_GUEST_MEM: uapi.GUNYAH_CREATE_GUEST_MEM,
      VM_MAP_MEM: uapi.GUNYAH_VM_MAP_MEM,
      VM_SET_BOOT_CONTEXT: uapi.GUNYAH_VM_SET_BOOT_CONTEXT,
    });
  });

  it('the values follow the §1 encoding: _IO = 0x4700 | nr, _IOW = 0x40000000 | size << 16 | 0x4700 | nr', () => {
    expect(ioc(0, 0x0, 0)).toBe(0x0000_4700);
    expect(ioc(1, 0x2, 16)).toBe(0x4010_4702);
    expect(ioc(0, 0x3, 0)).toBe(0x0000_4703);
    expect(ioc(1, 0x4, 16)).toBe(0x4010_4704);
    expect(ioc(0, 0x5, 0)).toBe(0x0000_4705);
    expect(ioc(0, 0x6, 0)).toBe(0x0000_4706);
    expect(ioc(1, 0x7, 16)).toBe(0x4010_4707);
    expect(ioc(1, 0x8, 64)).toBe(0x4040_4708);
    expect(ioc(1, 0x9, 32)).toBe(0x4020_4709);
    expect(ioc(1, 0xa, 16)).toBe(0x4010_470a);
  });
});

describe('uapi.md §6.1 CREATE_VM', () => {
  it.each([
    ['1', 1],
    ['a user pointer', -1],
    ['bit 63', 0x8000_0000_0000_0000n],
  ])('CREATE_VM: arg ≠ 0 (%s) → EINVAL', async (_what, arg) => {
    const { emu, raw, dev } = setup();
    const a = arg === -1 ? raw.put(new Uint8Array(8)) : arg;
    await expectErrno(emu.host.ioctl(dev, REQ.CREATE_VM, a), 'EINVAL');
    expect(emu.kernel.liveVms).toBe(0);
    await finish(emu);
  });

  it('CREATE_VM: ok → new VM fd "gunyah-vm", O_CLOEXEC; no RM call is made yet', async () => {
    const trace = createMemoryTraceSink();
    const emu = createEmulator({ trace });
    const raw = new Raw(emu.host);
    const dev = raw.openDevice();
    const vm = await raw.createVm(dev);
    expect(vm).toBeGreaterThan(dev);
    const info = emu.host.openFiles().find((f) => f.fd === vm)!;
    expect({ name: info.name, cloexec: info.cloexec }).toEqual({ name: 'gunyah-vm', cloexec: true });
    expect(trace.events.filter((e) => e.kind === 'rm.call')).toEqual([]);
    expect((await emu.rm.control.inspect()).vms.filter((v) => v.vmid !== 3)).toEqual([]);
    await finish(emu);
  });
});

describe('uapi.md §6.1 CREATE_GUEST_MEM', () => {
  it.each([
    ['a null pointer', 'null'],
    ['a 63-byte allocation (one byte short)', 'short'],
    ['a freed allocation', 'freed'],
  ])('CREATE_GUEST_MEM: copy from user fails (%s) → EFAULT', async (_what, kind) => {
    const { emu, raw, dev } = setup();
    let ptr = 0n;
    if (kind === 'short') ptr = raw.put(createMemArgs({ size: PAGE }).subarray(0, 63));
    if (kind === 'freed') {
      ptr = raw.put(createMemArgs({ size: PAGE }));
      emu.host.free(ptr);
    }
    await expectErrno(emu.host.ioctl(dev, REQ.CREATE_GUEST_MEM, ptr), 'EFAULT');
    await finish(emu);
  });

  it.each([1, 4095, 4097, 0x1_0000_0800])('CREATE_GUEST_MEM: size not page aligned (%d) → EINVAL', async (size) => {
    const { emu, raw, dev } = setup();
    await expectErrno(raw.createGuestMem(dev, size), 'EINVAL');
    await finish(emu);
  });

  it('CREATE_GUEST_MEM: size == 0 is accepted', async () => {
    const { emu, raw, dev } = setup();
    const fd = await raw.createGuestMem(dev, 0);
    expect(emu.host.openFiles().find((f) => f.fd === fd)?.name).toBe('[gh-gmem]');
    await finish(emu);
  });

  it.each([0x4, 0x8, 0x80, 0x8000_0000n, 0x1_0000_0000n, 0x8000_0000_0000_0000n])(
    'CREATE_GUEST_MEM: flags has bits other than 0x1 and 0x2 (0x%s) → EINVAL',
    async (flags) => {
      const { emu, raw, dev } = setup();
      await expectErrno(raw.createGuestMem(dev, PAGE, BigInt(flags) | 1n), 'EINVAL');
      await finish(emu);
    },
  );

  it('CREATE_GUEST_MEM: reserved[] non-zero is accepted (not checked)', async () => {
    const { emu, raw, dev } = setup();
    const args = createMemArgs({ size: PAGE, reserved: [1, 2, 3, 4, 5, 0xffff_ffff_ffff_ffffn] });
    const fd = await raw.ioctl(dev, REQ.CREATE_GUEST_MEM, args);
    expect(fd).toBeGreaterThan(dev);
    await finish(emu);
  });

  it.each([
    [0, false],
    [GHMF_CLOEXEC, true],
    [GHMF_ALLOW_HUGEPAGE, false],
    [GHMF_CLOEXEC | GHMF_ALLOW_HUGEPAGE, true],
  ])('CREATE_GUEST_MEM: ok (flags %d) → "[gh-gmem]" fd, O_CLOEXEC iff GHMF_CLOEXEC (%s), size fixed', async (flags, cloexec) => {
    const { emu, raw, dev } = setup();
    const fd = await raw.createGuestMem(dev, 2 * PAGE, flags);
    const info = emu.host.openFiles().find((f) => f.fd === fd)!;
    expect({ name: info.name, cloexec: info.cloexec }).toEqual({ name: '[gh-gmem]', cloexec });
    // The size is fixed: allocation beyond it is refused, and a mapping past it has no page.
    await expectErrno(emu.host.fallocate(fd, FALLOC_KEEP_SIZE, 0, 3 * PAGE), 'EINVAL');
    const m = emu.host.mmap(fd, 3 * PAGE);
    expect(m.read(2 * PAGE - 1, 1)).toEqual(new Uint8Array(1));
    expect(() => m.read(2 * PAGE, 1)).toThrow(SigbusError);
    await m.unmap();
    await finish(emu);
  });
});

describe('uapi.md §6.1 any other nr', () => {
  it.each([
    ['nr 0x1 (gh_ GH_VM_SET_USER_MEM_REGION, _IOW 32)', ioc(1, 0x1, 32)],
    ['nr 0x1 as _IO', ioc(0, 0x1, 0)],
    ['VM_SET_DTB_CONFIG (a VM fd request)', REQ.VM_SET_DTB_CONFIG],
    ['VM_START (a VM fd request)', REQ.VM_START],
    ['VM_MAP_MEM (a VM fd request)', REQ.VM_MAP_MEM],
    ['VCPU_RUN (a vCPU fd request)', REQ.VCPU_RUN],
    ['VCPU_MMAP_SIZE (a vCPU fd request)', REQ.VCPU_MMAP_SIZE],
    ['CREATE_GUEST_MEM with size field 56', ioc(1, 0x8, 56)],
    ['CREATE_GUEST_MEM as _IOWR', ioc(3, 0x8, 64)],
    ['CREATE_VM as _IOW 4', ioc(1, 0x0, 4)],
    ['nr 0xb', ioc(0, 0xb, 0)],
    ['type K (0x4b) nr 0', ioc(0, 0x0, 0, 0x4b)],
  ])('/dev/gunyah: %s → ENOTTY', async (_what, req) => {
    const { emu, raw, dev } = setup();
    await expectErrno(emu.host.ioctl(dev, req, raw.put(new Uint8Array(64))), 'ENOTTY');
    await finish(emu);
  });
});

describe('/dev/gunyah fd after close', () => {
  it('/dev/gunyah: ioctl after close → EBADF', async () => {
    const { emu, raw, dev } = setup();
    await emu.host.close(dev);
    await expectErrno(raw.createVm(dev), 'EBADF');
    await expectErrno(raw.createGuestMem(dev, PAGE), 'EBADF');
    await finish(emu);
  });

  it('/dev/gunyah: a VM and a guest-memory fd outlive the device fd', async () => {
    const { emu, raw, dev } = setup();
    const vm = await raw.createVm(dev);
    const mem = await raw.createGuestMem(dev, PAGE);
    await emu.host.close(dev);
    await expect(raw.mapMem(vm, { guestAddr: 0x8000_0000n, flags: 0x71, fd: mem, size: PAGE })).resolves.toBe(0);
    await finish(emu);
  });
});
