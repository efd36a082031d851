/**
 * VM fd validation rows for GUNYAH_VM_ADD_FUNCTION and GUNYAH_VM_REMOVE_FUNCTION, for the vCPU,
 * irqfd and ioeventfd functions, end to end through the raw HostProcess contract: every check
 * in the kernel's order, including EFAULT for the `gunyah_fn_desc` itself and for its `arg`.
 *
 * Reference: uapi.md §3 (`gunyah_fn_desc`, `gunyah_fn_vcpu_arg`, `gunyah_fn_irqfd_arg`,
 * `gunyah_fn_ioeventfd_arg`), §4 (GUNYAH_FN_*, flags), §6.2 (ADD_FUNCTION / REMOVE_FUNCTION
 * rows), §8.1 (framework: copy, type lookup, REMOVE compares only arguments of the type's
 * size and removes every match), §8.13 (irqfd), §8.14 (ioeventfd ordering and equality).
 */
import { describe, expect, it } from 'vitest';
import { createEmulator, type EmulatorOptions } from '../../../src/emulator.js';
import { guestProgram } from '../../../src/guest/index.js';
import type { VmFunctionType } from '../../../src/vm-mgr/vm-api.js';
import {
  EXIT_MMIO,
  FN_IOEVENTFD,
  FN_IRQFD,
  FN_VCPU,
  HC,
  IOEVENTFD_DATAMATCH,
  IRQFD_LEVEL,
  REQ,
  Raw,
  RunView,
  errnoOf,
  expectErrno,
  finish,
  fnDesc,
  ioeventfdArg,
  irqfdArg,
  rawBoot,
  turns,
  u64,
  vcpuArg,
} from '../support/raw.js';

async function setup(o: EmulatorOptions = {}) {
  const emu = createEmulator(o);
  const raw = new Raw(emu.host);
  const dev = raw.openDevice();
  const vm = await raw.createVm(dev);
  return { emu, raw, dev, vm };
}

/** An eventfd's counter, read without blocking (0 when nothing was signalled). */
async function eventCount(s: { emu: { host: { read(fd: number, n: number): Promise<Uint8Array>; write(fd: number, b: Uint8Array): number } } }, efd: number): Promise<bigint> {
  s.emu.host.write(efd, u64(0)); // a zero write makes the read return at once
  const b = await s.emu.host.read(efd, 8);
  return new DataView(b.buffer, b.byteOffset).getBigUint64(0, true);
}

describe('uapi.md §6.2 ADD_FUNCTION: the descriptor and its argument', () => {
  it.each([
    ['a null pointer', 0],
    ['a 15-byte allocation', 15],
  ])('ADD_FUNCTION: copy of fn_desc fails (%s) → EFAULT', async (_what, len) => {
    const s = await setup();
    const ptr = len === 0 ? 0n : s.raw.put(fnDesc(FN_VCPU, 4, s.raw.put(vcpuArg(0))).subarray(0, len));
    await expectErrno(s.emu.host.ioctl(s.vm, REQ.VM_ADD_FUNCTION, ptr), 'EFAULT');
    await finish(s.emu);
  });

  it.each([257, 4096, 0xffff_ffff])('ADD_FUNCTION: arg_size %d > 256 → EINVAL (before the argument is read)', async (size) => {
    const s = await setup();
    // arg points nowhere: the size check comes first.
    await expectErrno(s.raw.ioctl(s.vm, REQ.VM_ADD_FUNCTION, fnDesc(FN_VCPU, size, 0n)), 'EINVAL');
    await expectErrno(s.raw.ioctl(s.vm, REQ.VM_ADD_FUNCTION, fnDesc(99, size, 0n)), 'EINVAL');
    await finish(s.emu);
  });

  it('ADD_FUNCTION: arg_size 256 with a valid argument reaches the type (vCPU: EINVAL for the size)', async () => {
    const s = await setup();
    await expectErrno(s.raw.addFunction(s.vm, FN_VCPU, new Uint8Array(256)), 'EINVAL');
    await finish(s.emu);
  });

  it.each([
    ['vCPU, arg null', FN_VCPU, 4, 'null'],
    ['vCPU, arg a 3-byte allocation', FN_VCPU, 4, 'short'],
    ['vCPU, arg freed', FN_VCPU, 4, 'freed'],
    ['irqfd, arg a 15-byte allocation', FN_IRQFD, 16, 'short'],
    ['ioeventfd, arg a 31-byte allocation', FN_IOEVENTFD, 32, 'short'],
    ['an unregistered type, arg null', 99, 4, 'null'],
  ])('ADD_FUNCTION: copy of arg_size bytes from gunyah_fn_desc.arg fails (%s) → EFAULT', async (_what, type, size, kind) => {
    const s = await setup();
    let arg = 0n;
    if (kind === 'short') arg = s.raw.put(new Uint8Array(size - 1));
    if (kind === 'freed') {
      arg = s.raw.put(vcpuArg(0));
      s.emu.host.free(arg);
    }
    await expectErrno(s.raw.ioctl(s.vm, REQ.VM_ADD_FUNCTION, fnDesc(type, size, arg)), 'EFAULT');
    await finish(s.emu);
  });

  it.each([
    ['vCPU', FN_VCPU],
    ['irqfd', FN_IRQFD],
    ['ioeventfd', FN_IOEVENTFD],
  ])('ADD_FUNCTION: arg_size == 0 → EINVAL (%s)', async (_what, type) => {
    const s = await setup();
    await expectErrno(s.raw.ioctl(s.vm, REQ.VM_ADD_FUNCTION, fnDesc(type, 0, 0n)), 'EINVAL');
    await finish(s.emu);
  });

  it.each([0, 4, 5, 0x8000_0000, 0xffff_ffff])('ADD_FUNCTION: type %d not registered → ENOENT', async (type) => {
    const s = await setup();
    await expectErrno(s.raw.addFunction(s.vm, type, vcpuArg(0)), 'ENOENT');
    await finish(s.emu);
  });
});

describe('uapi.md §6.2 ADD_FUNCTION vCPU', () => {
  it.each([1, 3, 5, 8, 16])('ADD_FUNCTION vCPU: arg_size %d ≠ 4 → EINVAL', async (size) => {
    const s = await setup();
    await expectErrno(s.raw.addFunction(s.vm, FN_VCPU, new Uint8Array(size)), 'EINVAL');
    await finish(s.emu);
  });

  it('ADD_FUNCTION vCPU: the vCPU ticket (VCPU, id) already exists → EEXIST', async () => {
    const s = await setup();
    await s.raw.addVcpu(s.vm, 3);
    await expectErrno(s.raw.addVcpu(s.vm, 3), 'EEXIST');
    await expect(s.raw.addVcpu(s.vm, 4)).resolves.toBeGreaterThan(0);
    await finish(s.emu);
  });

  it('ADD_FUNCTION vCPU: ok before START → new fd "gh-vcpu:<id>", O_RDWR | O_CLOEXEC', async () => {
    const s = await setup();
    const fd = await s.raw.addVcpu(s.vm, 7);
    const info = s.emu.host.openFiles().find((f) => f.fd === fd)!;
    expect({ name: info.name, cloexec: info.cloexec }).toEqual({ name: 'gh-vcpu:7', cloexec: true });
    await finish(s.emu);
  });

  it('ADD_FUNCTION vCPU: ok after START → new fd; it takes its RM resource and runs', async () => {
    const b = await rawBoot({ addVcpus: 0 });
    const fd = await b.raw.addVcpu(b.vm, 0);
    expect(b.host.openFiles().find((f) => f.fd === fd)?.name).toBe('gh-vcpu:0');
    const v = await RunView.of(b.raw, fd);
    expect(await v.command(HC.LOOPBACK, [0x5a5an])).toBe(0x5a5an);
    await finish(b.emu);
  });

  it('ADD_FUNCTION vCPU: after REMOVE_FUNCTION the same id can be added again', async () => {
    const s = await setup();
    await s.raw.addVcpu(s.vm, 1);
    await expect(s.raw.removeFunction(s.vm, FN_VCPU, vcpuArg(1))).resolves.toBe(0);
    await expect(s.raw.addVcpu(s.vm, 1)).resolves.toBeGreaterThan(0);
    await finish(s.emu);
  });
});

describe('uapi.md §6.2 ADD_FUNCTION irqfd', () => {
  it.each([4, 12, 20, 32])('ADD_FUNCTION irqfd: arg_size %d ≠ 16 → EINVAL', async (size) => {
    const s = await setup();
    const efd = s.emu.host.eventfd();
    const arg = new Uint8Array(size);
    arg.set(irqfdArg({ fd: efd, label: 1 }).subarray(0, Math.min(16, size)));
    await expectErrno(s.raw.addFunction(s.vm, FN_IRQFD, arg), 'EINVAL');
    await finish(s.emu);
  });

  it.each([0x2, 0x3, 0x100, 0x8000_0000])('ADD_FUNCTION irqfd: flags 0x%s other than bit 0 → EINVAL', async (flags) => {
    const s = await setup();
    const efd = s.emu.host.eventfd();
    await expectErrno(s.raw.addFunction(s.vm, FN_IRQFD, irqfdArg({ fd: efd, label: 1, flags })), 'EINVAL');
    await expect(s.raw.addFunction(s.vm, FN_IRQFD, irqfdArg({ fd: efd, label: 1, flags: IRQFD_LEVEL, padding: 0xffff_ffff }))).resolves.toBe(0);
    await finish(s.emu);
  });

  it.each([
    ['never opened', 77],
    ['0xffffffff', -1],
  ])('ADD_FUNCTION irqfd: fd is not an open file (%s) → EBADF', async (_what, fd) => {
    const s = await setup();
    await expectErrno(s.raw.addFunction(s.vm, FN_IRQFD, irqfdArg({ fd, label: 1 })), 'EBADF');
    await finish(s.emu);
  });

  it('ADD_FUNCTION irqfd: fd closed → EBADF', async () => {
    const s = await setup();
    const efd = s.emu.host.eventfd();
    await s.emu.host.close(efd);
    await expectErrno(s.raw.addFunction(s.vm, FN_IRQFD, irqfdArg({ fd: efd, label: 1 })), 'EBADF');
    await finish(s.emu);
  });

  it.each([
    ['the VM fd', 'vm'],
    ['/dev/gunyah', 'dev'],
    ['a guest-memory fd', 'mem'],
  ])('ADD_FUNCTION irqfd: fd is not an eventfd (%s) → EINVAL', async (_what, kind) => {
    const s = await setup();
    const fd = kind === 'vm' ? s.vm : kind === 'dev' ? s.dev : await s.raw.createGuestMem(s.dev, 4096);
    await expectErrno(s.raw.addFunction(s.vm, FN_IRQFD, irqfdArg({ fd, label: 1 })), 'EINVAL');
    await finish(s.emu);
  });

  it('ADD_FUNCTION irqfd: the doorbell ticket (BELL_TX, label) already exists → EEXIST', async () => {
    const s = await setup();
    const a = s.emu.host.eventfd();
    const b = s.emu.host.eventfd();
    await s.raw.addFunction(s.vm, FN_IRQFD, irqfdArg({ fd: a, label: 9 }));
    await expectErrno(s.raw.addFunction(s.vm, FN_IRQFD, irqfdArg({ fd: b, label: 9, flags: IRQFD_LEVEL })), 'EEXIST');
    await expect(s.raw.addFunction(s.vm, FN_IRQFD, irqfdArg({ fd: b, label: 10 }))).resolves.toBe(0);
    await finish(s.emu);
  });

  it('ADD_FUNCTION irqfd: eventfd already readable at bind time → 0, and no doorbell is rung until the next write', async () => {
    // The guest waits for an interrupt, then writes 0x6000: the write shows the doorbell rang.
    const image = guestProgram().wfi().mmioWrite(0x6000, 8, 0x1111).spin().build();
    const b = await rawBoot({ image, doorbells: [{ label: 4, line: 8 }] });
    const efd = b.host.eventfd();
    b.raw.signal(efd, 1); // readable before the bind
    await expect(b.raw.addFunction(b.vm, FN_IRQFD, irqfdArg({ fd: efd, label: 4 }))).resolves.toBe(0);
    const v = await RunView.of(b.raw, b.vcpus[0]!);
    let done = false;
    const run = b.raw.run(b.vcpus[0]!).finally(() => (done = true));
    await turns(50);
    expect(done).toBe(false); // no interrupt: the bind did not ring
    b.raw.signal(efd, 1);
    await expect(run).resolves.toBe(0);
    expect(v.page().exitReason).toBe(EXIT_MMIO);
    expect(v.page().mmio).toMatchObject({ physAddr: 0x6000n, isWrite: 1, data: 0x1111n });
    await finish(b.emu);
  });
});

describe('uapi.md §6.2 ADD_FUNCTION ioeventfd', () => {
  it.each([16, 24, 28, 36])('ADD_FUNCTION ioeventfd: arg_size %d ≠ 32 → EINVAL', async (size) => {
    const s = await setup();
    const efd = s.emu.host.eventfd();
    const arg = new Uint8Array(size);
    arg.set(ioeventfdArg({ addr: 0x6000, len: 8, fd: efd }).subarray(0, Math.min(32, size)));
    await expectErrno(s.raw.addFunction(s.vm, FN_IOEVENTFD, arg), 'EINVAL');
    await finish(s.emu);
  });

  it.each([0x2, 0x3, 0x8000_0000])('ADD_FUNCTION ioeventfd: flags 0x%s other than bit 0 → EINVAL', async (flags) => {
    const s = await setup();
    const efd = s.emu.host.eventfd();
    await expectErrno(s.raw.addFunction(s.vm, FN_IOEVENTFD, ioeventfdArg({ addr: 0x6000, len: 8, fd: efd, flags })), 'EINVAL');
    await finish(s.emu);
  });

  it.each([3, 5, 6, 7, 16, 0xffff_ffff])('ADD_FUNCTION ioeventfd: len %d ∉ {0,1,2,4,8} → EINVAL', async (len) => {
    const s = await setup();
    const efd = s.emu.host.eventfd();
    await expectErrno(s.raw.addFunction(s.vm, FN_IOEVENTFD, ioeventfdArg({ addr: 0x6000, len, fd: efd })), 'EINVAL');
    await finish(s.emu);
  });

  it.each([0, 1, 2, 4, 8])('ADD_FUNCTION ioeventfd: len %d is accepted', async (len) => {
    const s = await setup();
    const efd = s.emu.host.eventfd();
    await expect(s.raw.addFunction(s.vm, FN_IOEVENTFD, ioeventfdArg({ addr: 0x6000, len, fd: efd }))).resolves.toBe(0);
    await finish(s.emu);
  });

  it('ADD_FUNCTION ioeventfd: addr + len overflows → 0 (the EINVAL check never fires, QUIRK K2)', async () => {
    const s = await setup();
    const efd = s.emu.host.eventfd();
    await expect(s.raw.addFunction(s.vm, FN_IOEVENTFD, ioeventfdArg({ addr: 0xffff_ffff_ffff_fffcn, len: 8, fd: efd }))).resolves.toBe(0);
    await finish(s.emu);
  });

  it('ADD_FUNCTION ioeventfd: len == 0 with DATAMATCH → EINVAL', async () => {
    const s = await setup();
    const efd = s.emu.host.eventfd();
    await expectErrno(s.raw.addFunction(s.vm, FN_IOEVENTFD, ioeventfdArg({ addr: 0x6000, len: 0, fd: efd, flags: IOEVENTFD_DATAMATCH })), 'EINVAL');
    await finish(s.emu);
  });

  it.each([
    ['never opened', 77, 'EBADF'],
    ['negative', -1, 'EBADF'],
    ['the VM fd', 'vm', 'EINVAL'],
    ['a guest-memory fd', 'mem', 'EINVAL'],
  ])('ADD_FUNCTION ioeventfd: fd bad or not an eventfd (%s) → %s', async (_what, which, code) => {
    const s = await setup();
    const fd = which === 'vm' ? s.vm : which === 'mem' ? await s.raw.createGuestMem(s.dev, 4096) : (which as number);
    await expectErrno(s.raw.addFunction(s.vm, FN_IOEVENTFD, ioeventfdArg({ addr: 0x6000, len: 8, fd })), code);
    await finish(s.emu);
  });

  it.each([
    ['no DATAMATCH twice, lengths 4 and 8', { len: 4 }, { len: 8 }],
    ['no DATAMATCH, then DATAMATCH', { len: 8 }, { len: 8, flags: IOEVENTFD_DATAMATCH, datamatch: 5 }],
    ['DATAMATCH, then no DATAMATCH', { len: 8, flags: IOEVENTFD_DATAMATCH, datamatch: 5 }, { len: 2 }],
    ['DATAMATCH with the same len and value', { len: 4, flags: IOEVENTFD_DATAMATCH, datamatch: 5 }, { len: 4, flags: IOEVENTFD_DATAMATCH, datamatch: 5 }],
  ])('ADD_FUNCTION ioeventfd: an equal handler already exists (%s) → EEXIST', async (_what, first, second) => {
    const s = await setup();
    const efd = s.emu.host.eventfd();
    await s.raw.addFunction(s.vm, FN_IOEVENTFD, ioeventfdArg({ addr: 0x6000, fd: efd, ...first }));
    await expectErrno(s.raw.addFunction(s.vm, FN_IOEVENTFD, ioeventfdArg({ addr: 0x6000, fd: efd, ...second })), 'EEXIST');
    // Another address never conflicts.
    await expect(s.raw.addFunction(s.vm, FN_IOEVENTFD, ioeventfdArg({ addr: 0x6008, fd: efd, ...second }))).resolves.toBe(0);
    await finish(s.emu);
  });

  it('ADD_FUNCTION ioeventfd: DATAMATCH handlers at one address with other values or lengths coexist', async () => {
    const s = await setup();
    const efd = s.emu.host.eventfd();
    for (const [len, datamatch] of [[4, 1], [4, 2], [8, 1]] as const) {
      await expect(s.raw.addFunction(s.vm, FN_IOEVENTFD, ioeventfdArg({ addr: 0x6000, len, fd: efd, flags: IOEVENTFD_DATAMATCH, datamatch }))).resolves.toBe(0);
    }
    await finish(s.emu);
  });

  it('ADD_FUNCTION ioeventfd: ok → a matching guest write signals the eventfd without an exit; others exit', async () => {
    const image = guestProgram().mmioWrite(0x6000, 4, 7).mmioWrite(0x6000, 4, 8).spin().build();
    const b = await rawBoot({ image });
    const efd = b.host.eventfd();
    await b.raw.addFunction(b.vm, FN_IOEVENTFD, ioeventfdArg({ addr: 0x6000, len: 4, fd: efd, flags: IOEVENTFD_DATAMATCH, datamatch: 7 }));
    const v = await RunView.of(b.raw, b.vcpus[0]!);
    const m = await v.mmio(0x6000n, true);
    expect({ len: m.len, data: m.data & 0xffff_ffffn }).toEqual({ len: 4, data: 8n });
    expect(await eventCount(b, efd)).toBe(1n);
    await finish(b.emu);
  });
});

/** A test-only function type: argument 4 bytes, every instance whose byte 0 equals the argument's matches. */
function tagType(unbound: number[]): VmFunctionType {
  return {
    type: 0x40,
    argSize: 4,
    bind: (_vm, arg) => {
      const tag = arg[0]!;
      return { type: 0x40, result: 0, matches: (other) => other[0] === tag, unbind: () => void unbound.push(tag) };
    },
  };
}

describe('uapi.md §6.2 REMOVE_FUNCTION', () => {
  it.each([
    ['fn_desc null', 'desc-null'],
    ['fn_desc a 12-byte allocation', 'desc-short'],
    ['gunyah_fn_desc.arg null', 'arg-null'],
    ['gunyah_fn_desc.arg a 3-byte allocation', 'arg-short'],
  ])('REMOVE_FUNCTION: copy fails (%s) → EFAULT', async (_what, kind) => {
    const s = await setup();
    await s.raw.addVcpu(s.vm, 0);
    let ptr: bigint;
    if (kind === 'desc-null') ptr = 0n;
    else if (kind === 'desc-short') ptr = s.raw.put(fnDesc(FN_VCPU, 4, s.raw.put(vcpuArg(0))).subarray(0, 12));
    else ptr = s.raw.put(fnDesc(FN_VCPU, 4, kind === 'arg-null' ? 0n : s.raw.put(new Uint8Array(3))));
    await expectErrno(s.emu.host.ioctl(s.vm, REQ.VM_REMOVE_FUNCTION, ptr), 'EFAULT');
    await expect(s.raw.removeFunction(s.vm, FN_VCPU, vcpuArg(0))).resolves.toBe(0);
    await finish(s.emu);
  });

  it('REMOVE_FUNCTION: copy fails for a huge arg_size → ENOMEM', async () => {
    const s = await setup();
    await expectErrno(s.raw.ioctl(s.vm, REQ.VM_REMOVE_FUNCTION, fnDesc(FN_VCPU, 0x1000_0000, 0n)), 'ENOMEM');
    await finish(s.emu);
  });

  it('REMOVE_FUNCTION: there is no 256 limit (arg_size 1024 is copied, then compares unequal) → ENOENT', async () => {
    const s = await setup();
    await s.raw.addVcpu(s.vm, 0);
    await expectErrno(s.raw.removeFunction(s.vm, FN_VCPU, new Uint8Array(1024)), 'ENOENT');
    await finish(s.emu);
  });

  it.each([
    ['vCPU, another id', FN_VCPU, () => vcpuArg(1)],
    ['vCPU, arg_size 8 with the same id', FN_VCPU, () => new Uint8Array(8)],
    ['vCPU, arg_size 0', FN_VCPU, () => new Uint8Array(0)],
    ['an unregistered type', 42, () => vcpuArg(0)],
    ['irqfd, another label', FN_IRQFD, () => irqfdArg({ fd: 3, label: 2 })],
    ['irqfd, arg_size 4', FN_IRQFD, () => irqfdArg({ fd: 3, label: 1 }).subarray(0, 4)],
    ['ioeventfd, another addr', FN_IOEVENTFD, () => ioeventfdArg({ addr: 0x6008, len: 4, fd: 3, flags: 1, datamatch: 7 })],
    ['ioeventfd, another len', FN_IOEVENTFD, () => ioeventfdArg({ addr: 0x6000, len: 8, fd: 3, flags: 1, datamatch: 7 })],
    ['ioeventfd, no DATAMATCH flag', FN_IOEVENTFD, () => ioeventfdArg({ addr: 0x6000, len: 4, fd: 3, flags: 0, datamatch: 7 })],
    ['ioeventfd, DATAMATCH with another value', FN_IOEVENTFD, () => ioeventfdArg({ addr: 0x6000, len: 4, fd: 3, flags: 1, datamatch: 8 })],
  ])('REMOVE_FUNCTION: no instance of the type compares equal (%s) → ENOENT', async (_what, type, arg) => {
    const s = await setup();
    const efd = s.emu.host.eventfd();
    await s.raw.addVcpu(s.vm, 0);
    await s.raw.addFunction(s.vm, FN_IRQFD, irqfdArg({ fd: efd, label: 1 }));
    await s.raw.addFunction(s.vm, FN_IOEVENTFD, ioeventfdArg({ addr: 0x6000, len: 4, fd: efd, flags: 1, datamatch: 7 }));
    await expectErrno(s.raw.removeFunction(s.vm, type, arg()), 'ENOENT');
    await finish(s.emu);
  });

  it.each([
    ['vCPU by id', FN_VCPU, () => vcpuArg(0)],
    ['irqfd by label only (fd and flags ignored)', FN_IRQFD, () => irqfdArg({ fd: 1234, label: 1, flags: 0xff })],
    ['ioeventfd by addr, len, flags and datamatch (fd ignored)', FN_IOEVENTFD, () => ioeventfdArg({ addr: 0x6000, len: 4, fd: 999, flags: 1, datamatch: 7 })],
    ['ioeventfd without DATAMATCH: datamatch ignored', FN_IOEVENTFD, () => ioeventfdArg({ addr: 0x7000, len: 2, fd: 999, datamatch: 0x55 })],
  ])('REMOVE_FUNCTION: one instance matches (%s) → 0; removing it again → ENOENT', async (_what, type, arg) => {
    const s = await setup();
    const efd = s.emu.host.eventfd();
    await s.raw.addVcpu(s.vm, 0);
    await s.raw.addFunction(s.vm, FN_IRQFD, irqfdArg({ fd: efd, label: 1, flags: IRQFD_LEVEL }));
    await s.raw.addFunction(s.vm, FN_IOEVENTFD, ioeventfdArg({ addr: 0x6000, len: 4, fd: efd, flags: 1, datamatch: 7 }));
    await s.raw.addFunction(s.vm, FN_IOEVENTFD, ioeventfdArg({ addr: 0x7000, len: 2, fd: efd }));
    await expect(s.raw.removeFunction(s.vm, type, arg())).resolves.toBe(0);
    await expectErrno(s.raw.removeFunction(s.vm, type, arg()), 'ENOENT');
    await finish(s.emu);
  });

  it('REMOVE_FUNCTION: several instances match → 0, and all matching instances are removed', async () => {
    const unbound: number[] = [];
    const s = await setup({ functionTypes: [tagType(unbound)] });
    for (const tag of [1, 2, 1]) await expect(s.raw.addFunction(s.vm, 0x40, Uint8Array.of(tag, 0, 0, 0))).resolves.toBe(0);
    await expect(s.raw.removeFunction(s.vm, 0x40, Uint8Array.of(1, 0, 0, 0))).resolves.toBe(0);
    expect(unbound).toEqual([1, 1]);
    await expectErrno(s.raw.removeFunction(s.vm, 0x40, Uint8Array.of(1, 0, 0, 0)), 'ENOENT');
    // The type's size is compared first: a 5-byte argument never matches.
    await expectErrno(s.raw.removeFunction(s.vm, 0x40, Uint8Array.of(2, 0, 0, 0, 0)), 'ENOENT');
    await expect(s.raw.removeFunction(s.vm, 0x40, Uint8Array.of(2, 0, 0, 0))).resolves.toBe(0);
    expect(unbound).toEqual([1, 1, 2]);
    await finish(s.emu);
  });

  it('REMOVE_FUNCTION: a removed ioeventfd no longer absorbs guest writes', async () => {
    const image = guestProgram().mmioWrite(0x6000, 8, 1).spin().build();
    const b = await rawBoot({ image });
    const efd = b.host.eventfd();
    const arg = ioeventfdArg({ addr: 0x6000, len: 8, fd: efd });
    await b.raw.addFunction(b.vm, FN_IOEVENTFD, arg);
    await b.raw.removeFunction(b.vm, FN_IOEVENTFD, arg);
    const v = await RunView.of(b.raw, b.vcpus[0]!);
    expect((await v.mmio(0x6000n, true)).data).toBe(1n);
    expect(await errnoOf(b.raw.removeFunction(b.vm, FN_IOEVENTFD, arg))).toBe('ENOENT');
    await finish(b.emu);
  });
});
