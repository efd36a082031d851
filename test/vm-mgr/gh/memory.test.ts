/**
 * The gh_ memory model end to end: host user memory (an anonymous shared mapping) pinned by the
 * region ioctls and given to the RM at START. A lent region is no longer the host's (a touch
 * through the mapping is SigbusError); a shared region stays coherent both ways between the
 * VMM's mapping and the guest; a device (VmHandle.guestMemory) reaches only shared regions.
 * After every fd is closed the pages are back in the kernel's pool and the RM holds nothing.
 *
 * Reference: README.md §Dialects (gh_ memory model), vmm-flows.md §6.7 and Q12 (lent: SIGBUS;
 * shared: coherent), rm-rpc.md §16.1 (LEND takes the owner's access at once; SHARE keeps it),
 * scmi-virtio.md §11 (devices use shared memory); uapi.md §8.10 (VM_EXITED → EXITED).
 */
import { describe, expect, it } from 'vitest';
import { guestProgram } from '../../../src/guest/index.js';
import { SigbusError } from '../../../src/shared/sigbus-error.js';
import { isGuestMemoryError } from '../../../src/virtio/guest-memory.js';
import type { VmFunctionType, VmHandle } from '../../../src/vm-mgr/vm-api.js';
import { readRunPage, RawVmm } from '../support/flows.js';
import { addVcpu, BASE, expectGhClean, GH, ghSetUp, GMEM, linuxStatus, PAGE, region } from './support.js';

const ok = (name: string) => ({ name, err: 'OK' });
const u64 = (v: bigint): Uint8Array => {
  const b = new Uint8Array(8);
  new DataView(b.buffer).setBigUint64(0, v, true);
  return b;
};

/** A function type that hands the test the VmHandle it is bound to. */
function handleGrabber(): { type: VmFunctionType; handle: () => VmHandle } {
  let vm: VmHandle | undefined;
  return {
    handle: () => vm!,
    type: {
      type: 0x4242,
      argSize: 4,
      bind: (h) => {
        vm = h;
        return { type: 0x4242, result: 0, matches: () => true, unbind: () => {} };
      },
    },
  };
}

describe('gh_ lend: the host loses the pages at START', () => {
  it('a lent region is readable before START, SigbusError after (read and write); all pages come back after close', async () => {
    const s = await ghSetUp();
    const lent = s.t.emu.host.mmapAnonymous(2 * PAGE);
    lent.write(0, u64(0x1111n));
    await s.v.ioctl(s.vm, 'ANDROID_LEND_USER_MEM', GH.ANDROID_LEND_USER_MEM, region({ label: 1, flags: GMEM.RWX, gpa: 0x9000_0000n, size: 2 * PAGE, hva: lent.addr }));
    expect(lent.read(0, 8)).toEqual(u64(0x1111n)); // pinned, still the host's until START
    const inUse = s.t.emu.kernel.pages.inUse;
    expect(inUse).toBe(16 + 2);
    await s.v.ioctl(s.vm, 'START', GH.START);
    expect(() => lent.read(0, 8)).toThrow(SigbusError);
    expect(() => lent.read(PAGE + 16, 8)).toThrow(SigbusError);
    expect(() => lent.write(8, u64(1n))).toThrow(SigbusError);
    let addr: bigint | undefined;
    try {
      lent.read(PAGE, 1);
    } catch (err) {
      addr = (err as SigbusError).address;
    }
    expect(addr).toBe(lent.addr + BigInt(PAGE));
    // The shared image region is still the host's.
    expect(s.mem.read(0, 4).byteLength).toBe(4);
    const m = s.t.mark();
    await expectGhClean(s.t);
    // Both regions reclaimed, newest (the lend) first.
    expect(s.t.hostRmCallsSince(m)).toEqual([ok('VM_STOP'), ok('VM_RESET'), ok('MEM_RECLAIM'), ok('MEM_RECLAIM'), ok('VM_DEALLOCATE')]);
  });

  it('a lent image region: the guest runs from it, the host cannot read it', async () => {
    const s = await ghSetUp({ lend: true });
    await s.v.ioctl(s.vm, 'START', GH.START);
    expect(() => s.mem.read(0, 8)).toThrow(SigbusError);
    const { fd, page } = await addVcpu(s);
    await s.v.ioctl(fd, 'VCPU_RUN', GH.VCPU_RUN);
    expect(readRunPage(page)).toMatchObject({ exitReason: 1, mmio: { physAddr: 0x6000n, len: 8, isWrite: true } });
    await page.unmap();
    await expectGhClean(s.t);
  });

  it('the mapping unmapped while the VM holds the pages: they stay pinned until teardown, then are freed', async () => {
    const s = await ghSetUp();
    await s.v.ioctl(s.vm, 'START', GH.START);
    await s.mem.unmap();
    expect(s.t.emu.kernel.pages.inUse).toBe(16);
    await expectGhClean(s.t);
  });
});

describe('gh_ share: coherent both ways', () => {
  it('a value the host writes after START is what the guest loads; what the guest stores the host reads', async () => {
    const DATA = BASE + 0x4000n;
    const image = guestProgram().load(DATA).expect(0xc0ffeen).store(DATA + 8n, 8, 0xbeefn).mmioWrite(0x6000n, 8, 7n).spin().build();
    const s = await ghSetUp({ image });
    await s.v.ioctl(s.vm, 'START', GH.START);
    s.mem.write(0x4000, u64(0xc0ffeen));
    const { fd, page } = await addVcpu(s);
    await s.v.ioctl(fd, 'VCPU_RUN', GH.VCPU_RUN);
    // The expect passed (otherwise a crash, a STATUS exit) and the store reached the host's view.
    expect(readRunPage(page)).toMatchObject({ exitReason: 1, mmio: { physAddr: 0x6000n, data: 7n } });
    expect(s.mem.read(0x4008, 8)).toEqual(u64(0xbeefn));
    await page.unmap();
    await expectGhClean(s.t);
  });
});

describe('gh_ device access (VmHandle.guestMemory)', () => {
  it('shared regions only: read and write reach the pinned pages; a lent region and an unknown address are refused', async () => {
    const g = handleGrabber();
    const s = await ghSetUp({ emulator: { functionTypes: [g.type] } });
    const lent = s.t.emu.host.mmapAnonymous(PAGE);
    await s.v.ioctl(s.vm, 'lend', GH.ANDROID_LEND_USER_MEM, region({ label: 1, flags: GMEM.RWX, gpa: 0x9000_0000n, size: PAGE, hva: lent.addr }));
    expect(await new RawVmm(s.t.emu).fn(s.vm, 'ADD grabber', GH.ADD_FUNCTION, 0x4242, new Uint8Array(4))).toBe(0);
    const vm = g.handle();
    expect(vm.dialect).toBe('gh');
    await s.v.ioctl(s.vm, 'START', GH.START);
    s.mem.write(0x3ffc, Uint8Array.of(1, 2, 3, 4, 5, 6, 7, 8)); // across a page boundary
    expect(vm.guestMemory.read(BASE + 0x3ffcn, 8)).toEqual(Uint8Array.of(1, 2, 3, 4, 5, 6, 7, 8));
    vm.guestMemory.write(BASE + 0x5000n, Uint8Array.of(9, 9));
    expect(s.mem.read(0x5000, 2)).toEqual(Uint8Array.of(9, 9));
    const reason = (f: () => unknown): string => {
      try {
        f();
      } catch (err) {
        if (isGuestMemoryError(err)) return err.reason;
        throw err;
      }
      return 'ok';
    };
    expect(reason(() => vm.guestMemory.read(0x9000_0000n, 4))).toBe('lent');
    expect(reason(() => vm.guestMemory.write(0x9000_0000n, Uint8Array.of(1)))).toBe('lent');
    expect(reason(() => vm.guestMemory.read(0x7000_0000n, 4))).toBe('unmapped');
    // A range that runs from the shared region into nothing: refused whole, nothing written.
    expect(reason(() => vm.guestMemory.write(BASE + BigInt(s.size) - 2n, Uint8Array.of(5, 5, 5, 5)))).toBe('unmapped');
    expect(s.mem.read(s.size - 2, 2)).toEqual(new Uint8Array(2));
    await expectGhClean(s.t);
  });
});

describe('gh_ notifications', () => {
  it('VM_EXITED for this VMID → EXITED with its exit info; teardown then skips VM_STOP', async () => {
    const image = guestProgram().systemOff().build();
    const s = await ghSetUp({ image });
    await s.v.ioctl(s.vm, 'START', GH.START);
    const { fd, page } = await addVcpu(s);
    await s.v.ioctl(fd, 'VCPU_RUN', GH.VCPU_RUN);
    expect(linuxStatus(s.t)).toBe(9); // EXITED
    // The STATUS exit (both vCPU dialects have this arm at the same offsets): EXITED (2), exit type 1 (PLATFORM_OFF, vmm-flows.md §6.6).
    expect(readRunPage(page)).toMatchObject({ exitReason: 2, status: { status: 2, exitType: 1 } });
    await page.unmap();
    const m = s.t.mark();
    await expectGhClean(s.t);
    expect(s.t.hostRmCallsSince(m)).toEqual([ok('VM_RESET'), ok('MEM_RECLAIM'), ok('VM_DEALLOCATE')]);
  });
});
