/**
 * The typed layer's gh_ part (src/vmm/gh-vm-fd.ts): request numbers and the 32-byte
 * `gh_userspace_memory_region` as golden bytes typed by hand from README.md §Dialects, and the
 * calls against a gh_ emulator: lend and share of anonymous memory, CHECK_EXTENSION, an ioeventfd
 * removed by its address alone (every handler at that address goes), a clean teardown.
 *
 * Reference: shared/reference/README.md §Dialects; docs/gh-dialect.md (G2, G6, G7).
 */
import { describe, expect, it } from 'vitest';
import { isErrnoError } from '../../src/shared/errno.js';
import { GH_VM_ANDROID_LEND_USER_MEM, GH_VM_CHECK_EXTENSION, GH_VM_SET_USER_MEM_REGION, GhVmFd, GunyahDevice, encodeGhUserMemRegion } from '../../src/vmm/index.js';
import { expectGhClean, ghEmulator } from '../vm-mgr/gh/support.js';

describe('gh_ structs and numbers', () => {
  it('request numbers: SET_USER_MEM_REGION 0x40204701, ANDROID_LEND_USER_MEM 0x40204111, CHECK_EXTENSION 0x4117', () => {
    expect(GH_VM_SET_USER_MEM_REGION).toBe(0x4020_4701);
    expect(GH_VM_ANDROID_LEND_USER_MEM).toBe(0x4020_4111);
    expect(GH_VM_CHECK_EXTENSION).toBe(0x4117);
  });

  it('gh_userspace_memory_region: label u32, flags u32, guest_phys_addr u64, memory_size u64, userspace_addr u64', () => {
    const b = encodeGhUserMemRegion({ label: 0x0102_0304, flags: 0x5, guestPhysAddr: 0x8000_0000n, size: 0x2_0000n, userspaceAddr: 0x7f12_3456_7000n });
    // prettier-ignore
    expect([...b]).toEqual([
      0x04, 0x03, 0x02, 0x01, 0x05, 0x00, 0x00, 0x00,
      0x00, 0x00, 0x00, 0x80, 0x00, 0x00, 0x00, 0x00,
      0x00, 0x00, 0x02, 0x00, 0x00, 0x00, 0x00, 0x00,
      0x00, 0x70, 0x56, 0x34, 0x12, 0x7f, 0x00, 0x00,
    ]);
  });
});

describe('GhVmFd against a gh_ emulator', () => {
  it('lends and shares anonymous memory, answers CHECK_EXTENSION 0, removes ioeventfds by addr', async () => {
    const t = ghEmulator();
    const host = t.emu.host;
    const dev = GunyahDevice.open(host);
    const vm = await GhVmFd.create(dev);
    const ram = host.mmapAnonymous(0x4000);
    const shm = host.mmapAnonymous(0x1000);
    expect(await vm.lendUserMem({ label: 0, flags: 0x7, guestPhysAddr: 0x8000_0000n, size: 0x4000n, userspaceAddr: ram.addr })).toBe(0);
    expect(await vm.setUserMemRegion({ label: 1, flags: 0x3, guestPhysAddr: 0x9000_0000n, size: 0x1000n, userspaceAddr: shm.addr })).toBe(0);
    // The same label again: EEXIST (G2).
    const again = await vm.setUserMemRegion({ label: 1, flags: 0x3, guestPhysAddr: 0xa000_0000n, size: 0x1000n, userspaceAddr: shm.addr }).catch((e: unknown) => e);
    expect(isErrnoError(again, 'EEXIST')).toBe(true);
    expect(await vm.checkExtension(0)).toBe(0);
    const a = host.eventfd(0, 0);
    const b = host.eventfd(0, 0);
    await vm.addIoeventfd({ addr: 0x9000n, len: 4, fd: a, datamatch: 1n });
    await vm.addIoeventfd({ addr: 0x9000n, len: 4, fd: b, datamatch: 2n });
    expect(await vm.removeIoeventfdByAddr(0x9000n)).toBe(0);
    const none = await vm.removeIoeventfdByAddr(0x9000n).catch((e: unknown) => e);
    expect(isErrnoError(none, 'ENOENT')).toBe(true);
    await ram.unmap();
    await shm.unmap();
    await expectGhClean(t);
  });
});
