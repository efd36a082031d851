// The statements of docs/porting-guide.md §1 (the raw contract) and §6 (what is not modelled)
// that are not covered by the examples: only /dev/gunyah opens, no stdio fds, pointers into
// mappings and past allocations are EFAULT, eventfd writes never block, gh_/Android ioctls are
// ENOTTY, and immediate_exit kicks a RUN that sleeps (uapi.md §8.9).
import { describe, expect, it } from 'vitest';
import { createEmulator } from '../../src/emulator.js';
import { isErrnoError } from '../../src/shared/errno.js';
import { bootHoldingCell, expectCleanShutdown } from '../vm-mgr/support/boot.js';

async function errnoOf(fn: () => unknown): Promise<string> {
  try {
    await fn();
    return 'ok';
  } catch (err) {
    if (isErrnoError(err)) return err.code;
    throw err;
  }
}

describe('porting guide §1 and §6', () => {
  it('only /dev/gunyah can be opened; fds 0-2 do not exist', async () => {
    const emu = createEmulator();
    expect(await errnoOf(() => emu.host.open('/dev/kvm'))).toBe('ENOENT');
    expect(await errnoOf(() => emu.host.write(1, new Uint8Array(8)))).toBe('EBADF');
    expect(emu.host.open('/dev/gunyah')).toBe(3);
    await expectCleanShutdown(emu);
  });

  it('a pointer one byte past an allocation, or into a mapping, is EFAULT', async () => {
    const emu = createEmulator();
    const dev = emu.host.open('/dev/gunyah');
    const vm = await emu.host.ioctl(dev, 0x4700, 0);
    const p = emu.host.malloc(15); // gunyah_vm_dtb_config is 16 bytes
    expect(await errnoOf(() => emu.host.ioctl(vm, 0x4010_4702, p))).toBe('EFAULT');
    const mem = await emu.host.ioctl(dev, 0x4040_4708, emu.host.malloc(64));
    const m = emu.host.mmap(mem, 4096, 0);
    expect(await errnoOf(() => emu.host.ioctl(vm, 0x4010_4702, m.addr))).toBe('EFAULT');
    expect(await errnoOf(() => m.read(4096, 1))).toBe('EFAULT');
    emu.host.free(p);
    await expectCleanShutdown(emu);
  });

  it('an eventfd write that would overflow is EAGAIN even without EFD_NONBLOCK', async () => {
    const emu = createEmulator();
    const efd = emu.host.eventfd(0, 0);
    const max = new Uint8Array(8);
    new DataView(max.buffer).setBigUint64(0, 0xffff_ffff_ffff_fffen, true);
    emu.host.write(efd, max);
    expect(await errnoOf(() => emu.host.write(efd, Uint8Array.of(1, 0, 0, 0, 0, 0, 0, 0)))).toBe('EAGAIN');
    await expectCleanShutdown(emu);
  });

  it('gh_ and Android requests are ENOTTY on a v17 kernel', async () => {
    const emu = createEmulator();
    const dev = emu.host.open('/dev/gunyah');
    const vm = await emu.host.ioctl(dev, 0x4700, 0);
    // nr 0x1 (GH_VM_SET_USER_MEM_REGION's slot) and an 'A' (0x41) request.
    expect(await errnoOf(() => emu.host.ioctl(vm, 0x4020_4701, 0))).toBe('ENOTTY');
    expect(await errnoOf(() => emu.host.ioctl(vm, 0x4020_4109, 0))).toBe('ENOTTY');
    await expectCleanShutdown(emu);
  });

  it('immediate_exit is the kick: a RUN sleeping on a powered-off vCPU returns EINTR; the flag stays set', async () => {
    const b = await bootHoldingCell({ vcpus: 2 });
    const v1 = b.vcpus[1]!;
    const run = v1.run();
    v1.setImmediateExit(true);
    expect(await errnoOf(() => run)).toBe('EINTR');
    expect(v1.exit().immediateExit).toBe(1);
    expect(await errnoOf(() => v1.run())).toBe('EINTR');
    await expectCleanShutdown(b.emu);
  });
});
