/**
 * REMOVE_FUNCTION with the v14 compare keys: vCPU by id, irqfd by label only, ioeventfd by addr
 * only (which is why crosvm removes an ioeventfd with only addr set: vmm-flows.md Q18), other
 * types by their own `matches`; an argument of another size than the type's struct never
 * matches; every matching instance goes. The same addr-only removal is ENOENT on v17 (its key is
 * addr + len + flags, uapi.md §8.1), shown for contrast.
 *
 * Reference: README.md §Dialects ("ioeventfd REMOVE match key"), vmm-flows.md §3 (crosvm's
 * removals), uapi.md §3 (argument layouts), §8.1, §8.14 (two DATAMATCH handlers at one address
 * with different values coexist).
 */
import { describe, expect, it } from 'vitest';
import { createEmulator } from '../../../src/emulator.js';
import type { VmFunctionType } from '../../../src/vm-mgr/vm-api.js';
import { args, IOCTL, RawVmm } from '../support/flows.js';
import { expectGhClean, FN, GH, ghEmulator, ghSetUp } from './support.js';

const DATAMATCH = 0x1;
const LEVEL = 0x1;

async function bare(opts: Parameters<typeof ghEmulator>[0] = {}) {
  const t = ghEmulator(opts);
  const v = new RawVmm(t.emu);
  const dev = v.open();
  const vm = await v.ioctl(dev, 'CREATE_VM', GH.CREATE_VM, 0);
  return { t, v, vm, efd: v.eventfd() };
}

describe('gh_ REMOVE_FUNCTION compare keys', () => {
  it('ioeventfd: removed by addr alone (len, flags, datamatch and fd left 0), as crosvm does', async () => {
    const b = await bare();
    await b.v.fn(b.vm, 'ADD ioeventfd', GH.ADD_FUNCTION, FN.IOEVENTFD, args.ioeventfd({ addr: 0x6_0000n, len: 8, fd: b.efd, datamatch: 5n, flags: DATAMATCH }));
    const addrOnly = args.ioeventfd({ addr: 0x6_0000n, len: 0, fd: 0, flags: 0 });
    expect(await b.v.fnErrno(b.vm, 'REMOVE other addr', GH.REMOVE_FUNCTION, FN.IOEVENTFD, args.ioeventfd({ addr: 0x6_0008n, len: 8, fd: b.efd, datamatch: 5n, flags: DATAMATCH }))).toBe('ENOENT');
    expect(await b.v.fn(b.vm, 'REMOVE addr only', GH.REMOVE_FUNCTION, FN.IOEVENTFD, addrOnly)).toBe(0);
    expect(await b.v.fnErrno(b.vm, 'REMOVE again', GH.REMOVE_FUNCTION, FN.IOEVENTFD, addrOnly)).toBe('ENOENT');
    await expectGhClean(b.t);
  });

  it('ioeventfd: every instance at that addr goes (two DATAMATCH values), and not one at another addr', async () => {
    const b = await bare();
    await b.v.fn(b.vm, 'ADD dm 1', GH.ADD_FUNCTION, FN.IOEVENTFD, args.ioeventfd({ addr: 0x6_0000n, len: 4, fd: b.efd, datamatch: 1n, flags: DATAMATCH }));
    await b.v.fn(b.vm, 'ADD dm 2', GH.ADD_FUNCTION, FN.IOEVENTFD, args.ioeventfd({ addr: 0x6_0000n, len: 4, fd: b.efd, datamatch: 2n, flags: DATAMATCH }));
    await b.v.fn(b.vm, 'ADD other', GH.ADD_FUNCTION, FN.IOEVENTFD, args.ioeventfd({ addr: 0x7_0000n, len: 0, fd: b.efd, flags: 0 }));
    const removed = b.t.trace.events.length;
    expect(await b.v.fn(b.vm, 'REMOVE', GH.REMOVE_FUNCTION, FN.IOEVENTFD, args.ioeventfd({ addr: 0x6_0000n, len: 0, fd: 0, flags: 0 }))).toBe(0);
    expect(b.t.trace.events.slice(removed).filter((e) => e.kind === 'kernel.function-removed').map((e) => e['count'])).toEqual([2]);
    expect(await b.v.fn(b.vm, 'REMOVE other', GH.REMOVE_FUNCTION, FN.IOEVENTFD, args.ioeventfd({ addr: 0x7_0000n, len: 0, fd: 0, flags: 0 }))).toBe(0);
    await expectGhClean(b.t);
  });

  it('ioeventfd: an argument of 16 bytes (not the 32 of the struct) never matches → ENOENT', async () => {
    const b = await bare();
    const arg = args.ioeventfd({ addr: 0x6_0000n, len: 8, fd: b.efd, flags: 0 });
    await b.v.fn(b.vm, 'ADD', GH.ADD_FUNCTION, FN.IOEVENTFD, arg);
    expect(await b.v.fnErrno(b.vm, 'REMOVE short', GH.REMOVE_FUNCTION, FN.IOEVENTFD, arg.subarray(0, 16))).toBe('ENOENT');
    await expectGhClean(b.t);
  });

  it('v17 for contrast: the same addr-only REMOVE is ENOENT (its key is addr + len + flags)', async () => {
    const emu = createEmulator();
    const v = new RawVmm(emu);
    const vm = await v.ioctl(v.open(), 'CREATE_VM', IOCTL.CREATE_VM, 0);
    const efd = v.eventfd();
    await v.fn(vm, 'ADD', IOCTL.ADD_FUNCTION, FN.IOEVENTFD, args.ioeventfd({ addr: 0x6_0000n, len: 8, fd: efd, datamatch: 5n, flags: DATAMATCH }));
    expect(await v.fnErrno(vm, 'REMOVE addr only', IOCTL.REMOVE_FUNCTION, FN.IOEVENTFD, args.ioeventfd({ addr: 0x6_0000n, len: 0, fd: 0, flags: 0 }))).toBe('ENOENT');
    await emu.shutdown();
  });

  it('irqfd: removed by label alone (fd and flags left 0)', async () => {
    const b = await bare();
    await b.v.fn(b.vm, 'ADD irqfd', GH.ADD_FUNCTION, FN.IRQFD, args.irqfd(b.efd, 5, LEVEL));
    expect(await b.v.fnErrno(b.vm, 'REMOVE label 6', GH.REMOVE_FUNCTION, FN.IRQFD, args.irqfd(b.efd, 6, LEVEL))).toBe('ENOENT');
    expect(await b.v.fn(b.vm, 'REMOVE label 5', GH.REMOVE_FUNCTION, FN.IRQFD, args.irqfd(0, 5, 0))).toBe(0);
    // The doorbell ticket went with it: the label can be added again.
    expect(await b.v.fn(b.vm, 'ADD irqfd again', GH.ADD_FUNCTION, FN.IRQFD, args.irqfd(b.efd, 5, 0))).toBe(0);
    await expectGhClean(b.t);
  });

  it('vCPU: removed by id; RUN on its fd then gives ENODEV (a started VM)', async () => {
    const s = await ghSetUp();
    await s.v.ioctl(s.vm, 'START', GH.START);
    const fd = await s.v.fn(s.vm, 'ADD vcpu 0', GH.ADD_FUNCTION, FN.VCPU, args.vcpu(0));
    await s.v.fn(s.vm, 'ADD vcpu 1', GH.ADD_FUNCTION, FN.VCPU, args.vcpu(1));
    expect(await s.v.fn(s.vm, 'REMOVE vcpu 0', GH.REMOVE_FUNCTION, FN.VCPU, args.vcpu(0))).toBe(0);
    expect(await s.v.ioctlErrno(fd, 'VCPU_RUN', GH.VCPU_RUN)).toBe('ENODEV');
    expect(await s.v.fnErrno(s.vm, 'REMOVE vcpu 0 again', GH.REMOVE_FUNCTION, FN.VCPU, args.vcpu(0))).toBe('ENOENT');
    expect(await s.v.fn(s.vm, 'REMOVE vcpu 1', GH.REMOVE_FUNCTION, FN.VCPU, args.vcpu(1))).toBe(0);
    await expectGhClean(s.t);
  });

  it("other types: the instance's own `matches` decides", async () => {
    const unbound: number[] = [];
    const custom: VmFunctionType = {
      type: 0x4243,
      argSize: 4,
      bind: (_vm, arg) => {
        const key = arg[0]!;
        return { type: 0x4243, result: 0, matches: (o) => o[0] === key, unbind: () => void unbound.push(key) };
      },
    };
    const b = await bare({ functionTypes: [custom] });
    await b.v.fn(b.vm, 'ADD 1', GH.ADD_FUNCTION, 0x4243, Uint8Array.of(1, 0, 0, 0));
    await b.v.fn(b.vm, 'ADD 2', GH.ADD_FUNCTION, 0x4243, Uint8Array.of(2, 0, 0, 0));
    expect(await b.v.fn(b.vm, 'REMOVE 2', GH.REMOVE_FUNCTION, 0x4243, Uint8Array.of(2, 9, 9, 9))).toBe(0);
    expect(unbound).toEqual([2]);
    await expectGhClean(b.t);
    expect(unbound).toEqual([2, 1]);
  });
});
