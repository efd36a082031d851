/**
 * Fault injection on the gh_ start and teardown paths: each RM call the gh_ driver makes is made
 * to fail once (the emulator's FaultPlan; the RM answers the error without running its handler,
 * as the kernel's function-error injection returns without sending). START returns the step's
 * errno (RM error remapped, rm-rpc.md §14.2), the status is INIT_FAILED, a second START is ENODEV
 * (Q2), and closing every fd runs the gh_ teardown; what the real driver leaves behind is
 * asserted exactly.
 *
 * Set-up: the kernel sample's (one shared RWX region holding image and DTB), two regions where
 * the order matters, and a firmware config for VM_SET_FIRMWARE_MEM.
 *
 * Where the RM's VM is in INIT (a fault after VM_CONFIG_IMAGE) it refuses VM_RESET and
 * VM_DEALLOCATE: the VMID stays allocated in the RM, as with v17 (rm-rpc.md §18). Where the
 * real driver would then wait for RESET forever, ours logs and goes on (docs/decisions.md G9).
 */
import { describe, expect, it } from 'vitest';
import type { EmulatorOptions } from '../../../src/emulator.js';
import { RmMsgId } from '../../../src/rm-rpc/wire/msg-ids.js';
import { createRmClient } from '../../../src/rm-rpc/client/index.js';
import type { RmFault } from '../../../src/shared/faults.js';
import { expectLeftovers, RawVmm } from '../support/flows.js';
import { addVcpu, BASE, expectGhClean, fwConfig, GH, ghEmulator, ghSetUp, GMEM, linuxStatus, PAGE, region, rmNotifications, rmVms, turns, type GhVmSetUp } from './support.js';

const ok = (name: string) => ({ name, err: 'OK' });
const INIT_FAILED = 8;
/** RM vm_status values (rm-rpc.md §15.1). */
const RM = { LOAD: 5, INIT: 1, READY: 2, RUNNING: 3, INIT_FAILED: 8, EXITED: 9, RESET: 11 } as const;
const fault = (msgId: number, error: string, occurrence = 1): EmulatorOptions => ({ faults: { rm: [{ msgId, occurrence, error } satisfies RmFault] } });

/** The kernel-sample set-up, plus a second (lent) region and a firmware config when asked. */
async function setUp(opts: EmulatorOptions, o: { second?: boolean; fw?: boolean; rmRpc?: boolean } = {}): Promise<GhVmSetUp> {
  const s = await ghSetUp({ emulator: opts, ...(o.rmRpc ? { dt: { rmRpc: true } } : {}) });
  if (o.second) {
    const m = s.t.emu.host.mmapAnonymous(PAGE);
    await s.v.ioctl(s.vm, 'lend', GH.ANDROID_LEND_USER_MEM, region({ label: 1, flags: GMEM.RWX, gpa: 0x9000_0000n, size: PAGE, hva: m.addr }));
  }
  if (o.fw) await s.v.ioctl(s.vm, 'SET_FW_CONFIG', GH.ANDROID_SET_FW_CONFIG, fwConfig(BASE + 0x4000n, 0x1000n));
  return s;
}

async function startFails(s: GhVmSetUp, errno: string, calls: Array<{ name: string; err: string }>): Promise<void> {
  const m = s.t.mark();
  expect(await s.v.ioctlErrno(s.vm, 'START', GH.START)).toBe(errno);
  expect(s.t.hostRmCallsSince(m)).toEqual(calls);
  expect(linuxStatus(s.t)).toBe(INIT_FAILED);
  const m2 = s.t.mark();
  expect(await s.v.ioctlErrno(s.vm, 'START again', GH.START)).toBe('ENODEV');
  expect(s.t.hostRmCallsSince(m2)).toEqual([]);
}

describe('gh_ start faults: START gives the step\'s errno, INIT_FAILED, then ENODEV; teardown', () => {
  it('VM_ALLOCATE (at CREATE_VM) fails: CREATE_VM gives the errno, nothing exists', async () => {
    const t = ghEmulator(fault(RmMsgId.VM_ALLOCATE, 'NOMEM'));
    const v = new RawVmm(t.emu);
    const dev = v.open();
    expect(await v.ioctlErrno(dev, 'CREATE_VM', GH.CREATE_VM, 0)).toBe('ENOMEM');
    expect(t.hostRmCalls()).toEqual([{ name: 'VM_ALLOCATE', err: 'NOMEM' }]);
    await expectGhClean(t);
  });

  it('MEM_SHARE (step 1) fails: no handle, so no MEM_RECLAIM; VM_RESET refused (RM in LOAD), dealloc; clean', async () => {
    const s = await setUp(fault(RmMsgId.MEM_SHARE, 'NOMEM'));
    await startFails(s, 'ENOMEM', [{ name: 'MEM_SHARE', err: 'NOMEM' }]);
    expect(await rmVms(s.t)).toMatchObject([{ state: RM.LOAD }]);
    const m = s.t.mark();
    await expectGhClean(s.t);
    expect(s.t.hostRmCallsSince(m)).toEqual([{ name: 'VM_RESET', err: 'VM_STATE' }, ok('VM_DEALLOCATE')]);
  });

  it('the second region\'s parcel fails (step 1, older region): the newer one was lent and is reclaimed', async () => {
    const s = await setUp(fault(RmMsgId.MEM_SHARE, 'ARGUMENT_INVALID'), { second: true });
    await startFails(s, 'EINVAL', [ok('MEM_LEND'), { name: 'MEM_SHARE', err: 'ARGUMENT_INVALID' }]);
    const m = s.t.mark();
    await expectGhClean(s.t);
    expect(s.t.hostRmCallsSince(m)).toEqual([{ name: 'VM_RESET', err: 'VM_STATE' }, ok('MEM_RECLAIM'), ok('VM_DEALLOCATE')]);
  });

  it('VM_CONFIG_IMAGE (step 2) fails: the RM still has LOAD; reclaim and dealloc succeed; clean', async () => {
    const s = await setUp(fault(RmMsgId.VM_CONFIG_IMAGE, 'NOMEM'));
    await startFails(s, 'ENOMEM', [ok('MEM_SHARE'), { name: 'VM_CONFIG_IMAGE', err: 'NOMEM' }]);
    const m = s.t.mark();
    await expectGhClean(s.t);
    expect(s.t.hostRmCallsSince(m)).toEqual([{ name: 'VM_RESET', err: 'VM_STATE' }, ok('MEM_RECLAIM'), ok('VM_DEALLOCATE')]);
  });

  it.each([
    ['VM_SET_FIRMWARE_MEM (step 3)', RmMsgId.VM_SET_FIRMWARE_MEM, 'DENIED', 'EPERM', true, [ok('MEM_SHARE'), ok('VM_CONFIG_IMAGE')]],
    ['VM_INIT (step 4)', RmMsgId.VM_INIT, 'NORESOURCE', 'ENODEV', false, [ok('MEM_SHARE'), ok('VM_CONFIG_IMAGE')]],
  ] as const)('%s fails: the RM is in INIT and refuses VM_RESET and VM_DEALLOCATE: the VMID leaks in the RM, memory is all back', async (n, msgId, error, errno, fw, before) => {
    const s = await setUp(fault(msgId, error), { fw });
    await startFails(s, errno, [...before, { name: n.split(' ')[0]!, err: error }]);
    const [vm] = await rmVms(s.t);
    expect(vm).toMatchObject({ state: RM.INIT });
    const m = s.t.mark();
    await s.t.emu.host.closeAll();
    expect(s.t.hostRmCallsSince(m)).toEqual([{ name: 'VM_RESET', err: 'VM_STATE' }, ok('MEM_RECLAIM'), { name: 'VM_DEALLOCATE', err: 'VM_STATE' }]);
    await expectLeftovers(s.t.emu, { rmVms: [{ vmid: vm!.vmid, state: RM.INIT }] });
  });

  it.each([
    ['VM_GET_HYP_RESOURCES (step 5)', RmMsgId.VM_GET_HYP_RESOURCES, 'NOMEM', 'ENOMEM', 0],
    ['VM_START (step 6)', RmMsgId.VM_START, 'NORESOURCE', 'ENODEV', 1],
  ] as const)('%s fails: the RM is in READY; reset (waited for), reclaim, dealloc: clean', async (n, msgId, error, errno, extra) => {
    const s = await setUp(fault(msgId, error));
    const before = [ok('MEM_SHARE'), ok('VM_CONFIG_IMAGE'), ok('VM_INIT'), ...(extra ? [ok('VM_GET_HYP_RESOURCES')] : [])];
    await startFails(s, errno, [...before, { name: n.split(' ')[0]!, err: error }]);
    expect(await rmVms(s.t)).toMatchObject([{ state: RM.READY }]);
    const m = s.t.mark();
    await expectGhClean(s.t);
    expect(s.t.hostRmCallsSince(m)).toEqual([ok('VM_RESET'), ok('MEM_RECLAIM'), ok('VM_DEALLOCATE')]);
    // The RM never accepted the image parcel (its VM_START handler did not run): no MEM_RELEASED.
    expect(rmNotifications(s.t, m)).not.toContain('MEM_RELEASED');
  });

  it('the RM itself refuses VM_INIT (more vCPUs than cores, docs/decisions.md B6): ENODEV, INIT_FAILED in both; reset, reclaim, dealloc: clean', async () => {
    const s = await ghSetUp({ emulator: { cpus: 1 }, dt: { vcpus: 2 } });
    await startFails(s, 'ENODEV', [ok('MEM_SHARE'), ok('VM_CONFIG_IMAGE'), { name: 'VM_INIT', err: 'NORESOURCE' }]);
    expect(await rmVms(s.t)).toMatchObject([{ state: RM.INIT_FAILED }]);
    const m = s.t.mark();
    await expectGhClean(s.t);
    expect(s.t.hostRmCallsSince(m)).toEqual([ok('VM_RESET'), ok('MEM_RECLAIM'), ok('VM_DEALLOCATE')]);
  });
});

describe('gh_ teardown faults: only logged', () => {
  async function started(opts: EmulatorOptions, o: { rmRpc?: boolean } = {}): Promise<GhVmSetUp> {
    const s = await setUp(opts, o);
    expect(await s.v.ioctl(s.vm, 'START', GH.START)).toBe(0);
    return s;
  }

  it('VM_STOP fails: teardown waits until the VM exits by itself (VM_EXITED), then goes on; clean', async () => {
    const s = await started(fault(RmMsgId.VM_STOP, 'VM_STATE'), { rmRpc: true });
    const vmid = (await rmVms(s.t))[0]!.vmid;
    const m = s.t.mark();
    let closed = false;
    const closing = s.t.emu.host.closeAll().then(() => void (closed = true));
    await turns();
    expect(s.t.hostRmCallsSince(m)).toEqual([{ name: 'VM_STOP', err: 'VM_STATE' }]);
    expect(closed).toBe(false);
    expect(s.t.emu.kernel.liveVms).toBe(1);
    // The guest exits on its own over its RM link.
    const { endpoint, release } = s.t.emu.acquireRmEndpoint(vmid);
    const guest = createRmClient({ transport: endpoint });
    await guest.call(RmMsgId.VM_EXIT, new Uint8Array(4));
    guest.close();
    release();
    await closing;
    expect(s.t.hostRmCallsSince(m)).toEqual([{ name: 'VM_STOP', err: 'VM_STATE' }, ok('VM_RESET'), ok('MEM_RECLAIM'), ok('VM_DEALLOCATE')]);
    await expectGhClean(s.t);
  });

  it('VM_RESET fails: not waited for; MEM_RECLAIM is refused (the VM still has the image), the pages stay pinned (leak), VM_DEALLOCATE refused', async () => {
    const s = await started(fault(RmMsgId.VM_RESET, 'BUSY'));
    const vmid = (await rmVms(s.t))[0]!.vmid;
    const m = s.t.mark();
    await s.t.emu.host.closeAll();
    expect(s.t.hostRmCallsSince(m)).toEqual([
      ok('VM_STOP'),
      { name: 'VM_RESET', err: 'BUSY' },
      { name: 'MEM_RECLAIM', err: 'MEM_INUSE' },
      { name: 'VM_DEALLOCATE', err: 'VM_STATE' },
    ]);
    expect(s.t.emu.kernel.leakedPinnedPages).toBe(16);
    const parcels = (await s.t.emu.rm.control.inspect()).parcels.map((p) => ({ owner: p.owner, size: p.size }));
    expect(parcels).toEqual([{ owner: 3, size: 16 * PAGE }]);
    expect(s.t.emu.kernel.pages.inUse).toBe(16);
    expect(s.t.emu.kernel.liveVms).toBe(0);
    expect((await rmVms(s.t)).map((x) => x.vmid)).toEqual([vmid]);
    s.t.emu.close();
  });

  it('MEM_RECLAIM fails: logged, the region\'s pages stay pinned and lent (counted), the rest goes on', async () => {
    const s = await started(fault(RmMsgId.MEM_RECLAIM, 'BUSY'));
    const m = s.t.mark();
    await s.t.emu.host.closeAll();
    expect(s.t.hostRmCallsSince(m)).toEqual([ok('VM_STOP'), ok('VM_RESET'), { name: 'MEM_RECLAIM', err: 'BUSY' }, ok('VM_DEALLOCATE')]);
    expect(s.t.emu.kernel.leakedPinnedPages).toBe(16);
    await expectLeftovers(s.t.emu, { parcels: [{ owner: 3, size: 16 * PAGE, state: 'SHARING' }], kernelPages: 16 });
  });

  it('VM_DEALLOCATE fails: logged; the VM stays in the RM in RESET, memory is all back', async () => {
    const s = await started(fault(RmMsgId.VM_DEALLOCATE, 'DENIED'));
    const vmid = (await rmVms(s.t))[0]!.vmid;
    const m = s.t.mark();
    await s.t.emu.host.closeAll();
    expect(s.t.hostRmCallsSince(m)).toEqual([ok('VM_STOP'), ok('VM_RESET'), ok('MEM_RECLAIM'), { name: 'VM_DEALLOCATE', err: 'DENIED' }]);
    await expectLeftovers(s.t.emu, { rmVms: [{ vmid, state: RM.RESET }] });
  });

  it('a VM that never started: LOAD → no stop, no reset; reclaim has nothing (no handle), dealloc; clean', async () => {
    const s = await setUp({}, { second: true });
    const { page } = await addVcpu(s);
    await page.unmap();
    const m = s.t.mark();
    await expectGhClean(s.t);
    expect(s.t.hostRmCallsSince(m)).toEqual([ok('VM_DEALLOCATE')]);
  });
});
