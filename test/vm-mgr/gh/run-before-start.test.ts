/**
 * vmm-flows.md Q1: in gh_, VCPU_RUN before VM_START starts the VM. The VM manager's part is
 * `VmHandle.ensureStarted()` (tested here directly, through a function type that hands the test
 * its VmHandle); the vCPU side (src/vcpu, another helper's) decides when RUN calls it.
 *
 * Reference: README.md §Dialects ("VCPU_RUN before VM_START: starts the VM implicitly"),
 * vmm-flows.md Q1, Q2; src/vm-mgr/vm-api.ts `ensureStarted`.
 */
import { describe, expect, it } from 'vitest';
import { RmMsgId } from '../../../src/rm-rpc/wire/msg-ids.js';
import type { VmFunctionType, VmHandle } from '../../../src/vm-mgr/vm-api.js';
import { expectLeftovers, readRunPage } from '../support/flows.js';
import { addVcpu, expectGhClean, GH, ghSetUp, GMEM, linuxStatus, PAGE, region } from './support.js';

const ok = (name: string) => ({ name, err: 'OK' });
const START_CALLS = [ok('MEM_SHARE'), ok('VM_CONFIG_IMAGE'), ok('VM_INIT'), ok('VM_GET_HYP_RESOURCES'), ok('VM_START')];

function handleGrabber(): { type: VmFunctionType; handle: () => VmHandle } {
  let vm: VmHandle | undefined;
  return {
    handle: () => vm!,
    type: { type: 0x4244, argSize: 4, bind: (h) => ((vm = h), { type: 0x4244, result: 0, matches: () => true, unbind: () => {} }) },
  };
}

describe('gh_ ensureStarted (the VM manager side of Q1)', () => {
  it('starts a VM in LOAD once; later calls send nothing', async () => {
    const g = handleGrabber();
    const s = await ghSetUp({ emulator: { functionTypes: [g.type] } });
    await s.v.fn(s.vm, 'ADD grabber', GH.ADD_FUNCTION, 0x4244, new Uint8Array(4));
    const vm = g.handle();
    const m = s.t.mark();
    await Promise.all([vm.ensureStarted!(), vm.ensureStarted!()]); // serialised: one start
    expect(s.t.hostRmCallsSince(m)).toEqual(START_CALLS);
    expect(vm.status).toBe(3);
    // START after it: already RUNNING → 0.
    expect(await s.v.ioctl(s.vm, 'START', GH.START)).toBe(0);
    await expectGhClean(s.t);
  });

  it('a failed start rejects with its errno once; afterwards it resolves and the VM stays INIT_FAILED (START: ENODEV)', async () => {
    const g = handleGrabber();
    const s = await ghSetUp({ emulator: { functionTypes: [g.type], faults: { rm: [{ msgId: RmMsgId.VM_INIT, error: 'NOMEM' }] } } });
    await s.v.fn(s.vm, 'ADD grabber', GH.ADD_FUNCTION, 0x4244, new Uint8Array(4));
    const vm = g.handle();
    await expect(vm.ensureStarted!()).rejects.toMatchObject({ code: 'ENOMEM' });
    expect(linuxStatus(s.t)).toBe(8);
    await expect(vm.ensureStarted!()).resolves.toBeUndefined();
    expect(await s.v.ioctlErrno(s.vm, 'START', GH.START)).toBe('ENODEV');
    // The RM's VM stays in INIT (it refuses VM_RESET and VM_DEALLOCATE), as after a failed START.
    await expectLeftovers(s.t.emu, { rmVms: [{ vmid: 0x80, state: 1 }] });
  });
});

describe('gh_ VCPU_RUN before START (Q1, needs the gh_ vCPU side)', () => {
  it('RUN on a VM never started runs the start sequence, then the guest to its first MMIO exit', async () => {
    const s = await ghSetUp();
    const { fd, page } = await addVcpu(s);
    const m = s.t.mark();
    expect(await s.v.ioctl(fd, 'VCPU_RUN', GH.VCPU_RUN)).toBe(0);
    expect(s.t.hostRmCallsSince(m)).toEqual(START_CALLS);
    expect(readRunPage(page)).toMatchObject({ exitReason: 1, mmio: { physAddr: 0x6000n, len: 8, isWrite: true } });
    await page.unmap();
    await expectGhClean(s.t);
  });

  it('RUN whose implicit start fails gives the start\'s errno', async () => {
    const s = await ghSetUp({ emulator: { faults: { rm: [{ msgId: RmMsgId.VM_INIT, error: 'NOMEM' }] } } });
    const { fd, page } = await addVcpu(s);
    expect(await s.v.ioctlErrno(fd, 'VCPU_RUN', GH.VCPU_RUN)).toBe('ENOMEM');
    expect(linuxStatus(s.t)).toBe(8);
    await page.unmap();
    await expectLeftovers(s.t.emu, { rmVms: [{ vmid: 0x80, state: 1 }] });
  });
});

describe('gh_ start against concurrent calls (docs/decisions.md G4, GV1)', () => {
  it('START and the implicit start of RUN at once: one start sequence, both succeed, RUN runs the guest', async () => {
    const s = await ghSetUp();
    const { fd, page } = await addVcpu(s);
    const m = s.t.mark();
    const [run, start] = await Promise.all([s.v.ioctl(fd, 'VCPU_RUN', GH.VCPU_RUN), s.v.ioctl(s.vm, 'START', GH.START)]);
    expect([run, start]).toEqual([0, 0]);
    expect(s.t.hostRmCallsSince(m)).toEqual(START_CALLS);
    expect(readRunPage(page)).toMatchObject({ exitReason: 1, mmio: { physAddr: 0x6000n, isWrite: true } });
    await page.unmap();
    await expectGhClean(s.t);
  });

  it('START and RUN at once with a failing start: the first caller gets the errno, the other ENODEV; one attempt', async () => {
    const s = await ghSetUp({ emulator: { faults: { rm: [{ msgId: RmMsgId.VM_INIT, error: 'NOMEM' }] } } });
    const { fd, page } = await addVcpu(s);
    const m = s.t.mark();
    const [run, start] = await Promise.all([s.v.ioctlErrno(fd, 'VCPU_RUN', GH.VCPU_RUN), s.v.ioctlErrno(s.vm, 'START', GH.START)]);
    expect([run, start]).toEqual(['ENOMEM', 'ENODEV']);
    expect(s.t.hostRmCallsSince(m)).toEqual([ok('MEM_SHARE'), ok('VM_CONFIG_IMAGE'), { name: 'VM_INIT', err: 'NOMEM' }]);
    await page.unmap();
    await expectLeftovers(s.t.emu, { rmVms: [{ vmid: 0x80, state: 1 }] });
  });

  it('a region ioctl made while START runs waits for the whole start, then is kept but never sent', async () => {
    const s = await ghSetUp();
    const extra = s.t.emu.host.mmapAnonymous(PAGE);
    const m = s.t.mark();
    const order: string[] = [];
    const start = s.v.ioctl(s.vm, 'START', GH.START).then(() => order.push('START'));
    const late = s.v
      .ioctl(s.vm, 'region during START', GH.ANDROID_LEND_USER_MEM, region({ label: 7, flags: GMEM.RWX, gpa: 0x9000_0000n, size: PAGE, hva: extra.addr }))
      .then(() => order.push('region'));
    await Promise.all([start, late]);
    expect(order).toEqual(['START', 'region']);
    expect(s.t.hostRmCallsSince(m)).toEqual(START_CALLS); // one MEM_SHARE: the late lend never goes
    expect(extra.read(0, 1)).toEqual(Uint8Array.of(0)); // still the host's
    const m2 = s.t.mark();
    await expectGhClean(s.t);
    expect(s.t.hostRmCallsSince(m2)).toEqual([ok('VM_STOP'), ok('VM_RESET'), ok('MEM_RECLAIM'), ok('VM_DEALLOCATE')]);
  });
});
