/**
 * The `ioctl` trace records of a gh_ emulator name the gh_ requests (README.md §Dialects) and
 * decode the gh-only argument structs (src/trace/ioctl-describe.ts `describeGhIoctl`); the
 * shared requests are decoded as in v17.
 */
import { describe, expect, it } from 'vitest';
import { BASE, expectGhClean, fwConfig, GH, ghSetUp } from './support.js';

describe('gh_ ioctl trace records', () => {
  it('names and arguments', async () => {
    const s = await ghSetUp();
    await s.v.ioctl(s.vm, 'SET_FW_CONFIG', GH.ANDROID_SET_FW_CONFIG, fwConfig(BASE + 0x4000n, 0x1000n));
    await s.v.ioctl(s.vm, 'CHECK_EXTENSION', GH.CHECK_EXTENSION, 0);
    await s.v.ioctlErrno(s.vm, 'MAP_CMA_MEM', GH.ANDROID_MAP_CMA_MEM, new Uint8Array(40));
    const ioctls = s.t.trace.events.filter((e) => e.kind === 'ioctl');
    const byName = (n: string) => ioctls.find((e) => e['name'] === n);
    expect(ioctls.map((e) => e['name'])).toEqual([
      'GH_CREATE_VM',
      'GH_VM_SET_USER_MEM_REGION',
      'GH_VM_SET_DTB_CONFIG',
      'GH_VM_ANDROID_SET_FW_CONFIG',
      'GH_VM_CHECK_EXTENSION',
      'GH_VM_ANDROID_MAP_CMA_MEM',
    ]);
    expect(byName('GH_VM_SET_USER_MEM_REGION')?.['args']).toEqual({
      label: 0,
      flags: '0x7',
      guestPhysAddr: '0x80000000',
      memorySize: '0x10000',
      userspaceAddr: `0x${s.mem.addr.toString(16)}`,
    });
    expect(byName('GH_VM_SET_DTB_CONFIG')?.['args']).toEqual({ guestPhysAddr: '0x80002000', size: '0x1000' });
    expect(byName('GH_VM_ANDROID_SET_FW_CONFIG')?.['args']).toEqual({ guestPhysAddr: '0x80004000', size: '0x1000' });
    expect(byName('GH_VM_CHECK_EXTENSION')?.['args']).toEqual({ capability: '0x0' });
    expect(byName('GH_VM_ANDROID_MAP_CMA_MEM')?.['errno']).toBe('ENOTTY');
    await expectGhClean(s.t);
  });
});
