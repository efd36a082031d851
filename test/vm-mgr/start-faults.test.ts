/**
 * Fault injection on the VM start and teardown paths (vmm-flows.md §8), through the raw
 * `/dev/gunyah` contract, with the set-up the real kernel's fault-injection test uses: a 4 KiB
 * lend RWX binding at 0x8000_0000, vCPU 0, boot PC 0x8000_0000, and a DTB at 0x8000_0000 of
 * size 4096.
 *
 * Start path (uapi.md §8.2): each RM call of the sequence fails once (point #2 also through
 * MEM_APPEND, with a DTB parcel over 512 pages; rm-rpc.md §16.1). GUNYAH_VM_START returns the
 * failing step's errno (the RM error remapped, rm-rpc.md §14.1); the Linux status stays where
 * that step left it (NO_STATE, LOAD, INIT_FAILED or READY); a second START is ENODEV (QUIRK
 * K12), except after a failed VMID allocation, which leaves NO_STATE and so may be retried
 * (§8.2 step 3). Closing every fd then runs teardown (§8.3) from that status: the RM calls made
 * after the fault are asserted one by one with the RM's answers, and what is left behind is
 * asserted exactly. Where the RM's state differs from Linux's copy (a fault after
 * VM_CONFIG_IMAGE), it refuses VM_RESET/VM_DEALLOCATE and the VMID stays allocated in the RM
 * (the cross-effect rm-rpc.md §18 derives). After a failure past VM_INIT (READY) the RM has
 * not accepted the DTB parcel for the VM yet (that happens at VM_START, docs/decisions.md B3),
 * so Linux's MEM_RECLAIM succeeds before the reset and nothing is left. §8 names no hypercall
 * on the start path.
 *
 * Teardown path (§8.3): VM_STOP, MEM_RECLAIM, VM_RESET and VM_DEALLOCATE failures, and a failing
 * reclaim hypercall, are only logged; the tests assert how teardown goes on and what stays.
 *
 * An injected RM fault makes the RM answer the error without running its handler, as the
 * kernel's function-error injection returns an error without sending the message.
 */
import { describe, expect, it } from 'vitest';
import { expectCleanShutdown } from './support/boot.js';
import {
  args,
  buildFlowDtb,
  expectLeftovers,
  expectNothingOpen,
  FN,
  IOCTL,
  MEM,
  PAGE,
  RawVmm,
  readRunPage,
  REG,
  startRmCalls,
  tracedEmulator,
  type RmReply,
  type TracedEmulator,
} from './support/flows.js';
import type { EmulatorOptions } from '../../src/emulator.js';
import type { Mapping } from '../../src/host/process.js';
import type { RmFault } from '../../src/shared/faults.js';
import { RmMsgId } from '../../src/rm-rpc/wire/msg-ids.js';
import { createRmClient } from '../../src/rm-rpc/client/index.js';
import { LinuxVmStatus } from '../../src/vm-mgr/vm-api.js';

const BASE = 0x8000_0000n;
/** RM vm_status values (rm-rpc.md §15.1). */
const RM = { LOAD: 5, INIT: 1, READY: 2, RUNNING: 3, INIT_FAILED: 8, EXITED: 9, RESET: 11 } as const;

interface FaultVm {
  readonly t: TracedEmulator;
  readonly v: RawVmm;
  readonly dev: number;
  readonly vm: number;
  readonly mem: number;
  readonly vcpu: number;
  readonly page: Mapping;
}

/**
 * The §8 set-up, everything short of START. `pages` (default 1) scales the binding and the DTB
 * size together (more than 512 pages make the DTB parcel need MEM_APPEND).
 */
async function setUp(opts: EmulatorOptions = {}, dt: { rmRpc?: boolean } = {}, pages = 1): Promise<FaultVm> {
  const t = tracedEmulator(opts);
  const v = new RawVmm(t.emu);
  const size = BigInt(pages * PAGE);
  const dev = v.open();
  const vm = await v.ioctl(dev, 'CREATE_VM', IOCTL.CREATE_VM, 0);
  const mem = await v.ioctl(dev, 'CREATE_GUEST_MEM', IOCTL.CREATE_GUEST_MEM, args.createMem(0n, size));
  await v.ioctl(vm, 'MAP_MEM', IOCTL.MAP_MEM, args.mapMem({ guestAddr: BASE, flags: MEM.FORCE_LEND | MEM.RWX, fd: mem, offset: 0n, size }));
  const vcpu = await v.fn(vm, 'ADD_FUNCTION vcpu', IOCTL.ADD_FUNCTION, FN.VCPU, args.vcpu(0));
  const page = v.mmap(vcpu, 'mmap run page', PAGE);
  const dtb = buildFlowDtb({ imageName: 'gunyah-vmm-vm', vcpus: 1, memory: [{ base: BASE, size }], size: PAGE, ...(dt.rmRpc ? { rmRpc: true } : {}) });
  await v.writeGuestMem(mem, 0, dtb);
  await v.ioctl(vm, 'SET_DTB_CONFIG', IOCTL.SET_DTB_CONFIG, args.dtbConfig(BASE, size));
  await v.ioctl(vm, 'SET_BOOT_CONTEXT', IOCTL.SET_BOOT_CONTEXT, args.bootContext(REG.PC, BASE));
  return { t, v, dev, vm, mem, vcpu, page };
}

/** The last Linux status the kernel recorded for its VM (LinuxVmStatus), from the trace. */
function linuxStatus(t: TracedEmulator): number {
  const s = t.trace.events.filter((e) => e.kind === 'vm.status');
  return s.length === 0 ? LinuxVmStatus.NO_STATE : Number(s[s.length - 1]!['status']);
}

async function rmVms(t: TracedEmulator): Promise<Array<{ vmid: number; state: number }>> {
  return (await t.emu.rm.control.inspect()).vms.filter((v) => v.vmid !== 3).map((v) => ({ vmid: v.vmid, state: v.state }));
}

const fault = (msgId: number, error: string): { faults: { rm: RmFault[] } } => ({ faults: { rm: [{ msgId, occurrence: 1, error }] } });
const ok = (name: string): RmReply => ({ name, err: 'OK' });

/** Close every fd and mapping; teardown runs when the last VM reference (here the VM fd) goes. */
async function closeAll(f: FaultVm): Promise<void> {
  await f.page.unmap();
  await f.v.close(f.vcpu, 'vcpu');
  await f.v.close(f.mem, 'guest memory');
  await f.v.close(f.vm, 'vm');
  await f.v.close(f.dev, '/dev/gunyah');
  expectNothingOpen(f.t.emu);
}

describe('start faults (vmm-flows.md §8, uapi.md §8.2): START fails, the VM is unstartable, teardown follows §8.3', () => {
  it('#1 VM_ALLOCATE fails: START gives its errno, the status stays NO_STATE, and a retry runs the whole sequence', async () => {
    const f = await setUp(fault(RmMsgId.VM_ALLOCATE, 'NOMEM'));
    const m = f.t.mark();
    expect(await f.v.ioctlErrno(f.vm, 'START', IOCTL.START)).toBe('ENOMEM');
    expect(f.t.hostRmCallsSince(m)).toEqual([{ name: 'VM_ALLOCATE', err: 'NOMEM' }]);
    expect(linuxStatus(f.t)).toBe(LinuxVmStatus.NO_STATE);
    expect(await rmVms(f.t)).toEqual([]);
    // No vCPU resource: RUN is ENODEV (uapi.md §6.3).
    expect(await f.v.ioctlErrno(f.vcpu, 'VCPU_RUN', IOCTL.VCPU_RUN)).toBe('ENODEV');
    // §8.2 step 3: NO_STATE, so a second START runs the sequence again (and succeeds now).
    const m2 = f.t.mark();
    expect(await f.v.ioctl(f.vm, 'START', IOCTL.START)).toBe(0);
    expect(f.t.hostRmCallsSince(m2)).toEqual(startRmCalls(1));
    expect(linuxStatus(f.t)).toBe(LinuxVmStatus.RUNNING);
    const m3 = f.t.mark();
    await closeAll(f);
    expect(f.t.hostRmCallsSince(m3)).toEqual([ok('VM_STOP'), ok('VM_RESET'), ok('VM_DEALLOCATE')]);
    await expectCleanShutdown(f.t.emu);
  });

  it('#1 VM_ALLOCATE fails, then the fds are closed: no RM call at all', async () => {
    const f = await setUp(fault(RmMsgId.VM_ALLOCATE, 'NORESOURCE'));
    expect(await f.v.ioctlErrno(f.vm, 'START', IOCTL.START)).toBe('ENODEV');
    expect(linuxStatus(f.t)).toBe(LinuxVmStatus.NO_STATE);
    const m = f.t.mark();
    await closeAll(f);
    expect(f.t.hostRmCallsSince(m)).toEqual([]);
    await expectCleanShutdown(f.t.emu);
  });

  it('#2 MEM_LEND of the DTB parcel fails: LOAD; teardown deallocates the VMID only', async () => {
    const f = await setUp(fault(RmMsgId.MEM_LEND, 'ARGUMENT_INVALID'));
    const m = f.t.mark();
    expect(await f.v.ioctlErrno(f.vm, 'START', IOCTL.START)).toBe('EINVAL');
    expect(f.t.hostRmCallsSince(m)).toEqual([ok('VM_ALLOCATE'), { name: 'MEM_LEND', err: 'ARGUMENT_INVALID' }]);
    expect(linuxStatus(f.t)).toBe(LinuxVmStatus.LOAD);
    const [rmVm] = await rmVms(f.t);
    expect(rmVm).toMatchObject({ state: RM.LOAD });
    expect(await f.v.ioctlErrno(f.vm, 'START', IOCTL.START)).toBe('ENODEV');
    expect(await f.v.ioctlErrno(f.vcpu, 'VCPU_RUN', IOCTL.VCPU_RUN)).toBe('ENODEV');
    const m2 = f.t.mark();
    await closeAll(f);
    // §8.3: no parcel handle → no MEM_RECLAIM; LOAD → no reset; status > NO_STATE → dealloc.
    expect(f.t.hostRmCallsSince(m2)).toEqual([ok('VM_DEALLOCATE')]);
    await expectCleanShutdown(f.t.emu);
  });

  it('#2 MEM_APPEND of a DTB parcel over 512 pages fails: Linux reclaims the parcel, START gives the error; LOAD; teardown deallocates only', async () => {
    const f = await setUp(fault(RmMsgId.MEM_APPEND, 'NOMEM'), {}, 513);
    const m = f.t.mark();
    expect(await f.v.ioctlErrno(f.vm, 'START', IOCTL.START)).toBe('ENOMEM');
    // rm-rpc.md §16.1: 512 entries with APPEND set, the rest in MEM_APPEND; a failed append → MEM_RECLAIM.
    expect(f.t.hostRmCallsSince(m)).toEqual([ok('VM_ALLOCATE'), ok('MEM_LEND'), { name: 'MEM_APPEND', err: 'NOMEM' }, ok('MEM_RECLAIM')]);
    expect(linuxStatus(f.t)).toBe(LinuxVmStatus.LOAD);
    expect((await f.t.emu.rm.control.inspect()).parcels).toEqual([]);
    expect(await f.v.ioctlErrno(f.vm, 'START', IOCTL.START)).toBe('ENODEV');
    const m2 = f.t.mark();
    await closeAll(f);
    expect(f.t.hostRmCallsSince(m2)).toEqual([ok('VM_DEALLOCATE')]);
    await expectCleanShutdown(f.t.emu);
  });

  it('#3 VM_CONFIG_IMAGE fails: LOAD; teardown reclaims the parcel and deallocates (no reset)', async () => {
    const f = await setUp(fault(RmMsgId.VM_CONFIG_IMAGE, 'NOMEM'));
    const m = f.t.mark();
    expect(await f.v.ioctlErrno(f.vm, 'START', IOCTL.START)).toBe('ENOMEM');
    expect(f.t.hostRmCallsSince(m)).toEqual([ok('VM_ALLOCATE'), ok('MEM_LEND'), { name: 'VM_CONFIG_IMAGE', err: 'NOMEM' }]);
    expect(linuxStatus(f.t)).toBe(LinuxVmStatus.LOAD);
    expect(await rmVms(f.t)).toMatchObject([{ state: RM.LOAD }]);
    expect(await f.v.ioctlErrno(f.vm, 'START', IOCTL.START)).toBe('ENODEV');
    const m2 = f.t.mark();
    await closeAll(f);
    expect(f.t.hostRmCallsSince(m2)).toEqual([ok('MEM_RECLAIM'), ok('VM_DEALLOCATE')]);
    await expectCleanShutdown(f.t.emu);
  });

  // Steps 7 and 8 run after VM_CONFIG_IMAGE moved the RM's VM to INIT while Linux still says
  // LOAD. Teardown therefore skips VM_RESET, and the RM refuses VM_DEALLOCATE of a VM in INIT
  // (VM_STATE, only logged): the VMID stays allocated in the RM. Memory is all back.
  it.each([
    ['#4 VM_SET_DEMAND_PAGING', RmMsgId.VM_SET_DEMAND_PAGING, 'DENIED', 'EPERM', [ok('VM_ALLOCATE'), ok('MEM_LEND'), ok('VM_CONFIG_IMAGE')]],
    ['#5 VM_SET_ADDRESS_LAYOUT', RmMsgId.VM_SET_ADDRESS_LAYOUT, 'ARGUMENT_INVALID', 'EINVAL', [ok('VM_ALLOCATE'), ok('MEM_LEND'), ok('VM_CONFIG_IMAGE'), ok('VM_SET_DEMAND_PAGING')]],
  ] as const)('%s fails: LOAD; the parcel is reclaimed, VM_DEALLOCATE is refused (RM in INIT) and the VMID leaks in the RM', async (n, msgId, error, errno, before) => {
    const f = await setUp(fault(msgId, error));
    const m = f.t.mark();
    expect(await f.v.ioctlErrno(f.vm, 'START', IOCTL.START)).toBe(errno);
    const name = n.split(' ')[1]!;
    expect(f.t.hostRmCallsSince(m)).toEqual([...before, { name, err: error }]);
    expect(linuxStatus(f.t)).toBe(LinuxVmStatus.LOAD);
    const [rmVm] = await rmVms(f.t);
    expect(rmVm).toMatchObject({ state: RM.INIT });
    expect(await f.v.ioctlErrno(f.vm, 'START', IOCTL.START)).toBe('ENODEV');
    const m2 = f.t.mark();
    await closeAll(f);
    expect(f.t.hostRmCallsSince(m2)).toEqual([ok('MEM_RECLAIM'), { name: 'VM_DEALLOCATE', err: 'VM_STATE' }]);
    await expectLeftovers(f.t.emu, { rmVms: [{ vmid: rmVm!.vmid, state: RM.INIT }] });
  });

  it('#6 VM_INIT fails: INIT_FAILED; teardown reclaims the parcel, VM_RESET and VM_DEALLOCATE are refused (RM in INIT)', async () => {
    const f = await setUp(fault(RmMsgId.VM_INIT, 'NORESOURCE'));
    const m = f.t.mark();
    expect(await f.v.ioctlErrno(f.vm, 'START', IOCTL.START)).toBe('ENODEV');
    expect(f.t.hostRmCallsSince(m)).toEqual([
      ok('VM_ALLOCATE'),
      ok('MEM_LEND'),
      ok('VM_CONFIG_IMAGE'),
      ok('VM_SET_DEMAND_PAGING'),
      ok('VM_SET_ADDRESS_LAYOUT'),
      { name: 'VM_INIT', err: 'NORESOURCE' },
    ]);
    expect(linuxStatus(f.t)).toBe(LinuxVmStatus.INIT_FAILED);
    const [rmVm] = await rmVms(f.t);
    expect(rmVm).toMatchObject({ state: RM.INIT });
    expect(await f.v.ioctlErrno(f.vm, 'START', IOCTL.START)).toBe('ENODEV');
    expect(await f.v.ioctlErrno(f.vcpu, 'VCPU_RUN', IOCTL.VCPU_RUN)).toBe('ENODEV');
    const m2 = f.t.mark();
    await closeAll(f);
    expect(f.t.hostRmCallsSince(m2)).toEqual([ok('MEM_RECLAIM'), { name: 'VM_RESET', err: 'VM_STATE' }, { name: 'VM_DEALLOCATE', err: 'VM_STATE' }]);
    await expectLeftovers(f.t.emu, { rmVms: [{ vmid: rmVm!.vmid, state: RM.INIT }] });
  });

  // Steps 10, 11 and 13 fail after VM_INIT. The RM accepts the DTB parcel for the VM only in
  // its VM_START handler (docs/decisions.md B3), which has not run (an injected fault answers
  // without it): teardown's MEM_RECLAIM (§8.3 step 2) succeeds, the reset has no parcel to
  // release (no MEM_RELEASED), and nothing is left behind.
  it.each([
    ['#7 VM_SET_CONTEXT', RmMsgId.VM_SET_CONTEXT, 'ARGUMENT_INVALID', 'EINVAL', 0],
    ['#8 VM_GET_HYP_RESOURCES', RmMsgId.VM_GET_HYP_RESOURCES, 'NOMEM', 'ENOMEM', 1],
    ['#9 VM_START', RmMsgId.VM_START, 'NORESOURCE', 'ENODEV', 2],
  ] as const)('%s fails: READY; teardown: MEM_RECLAIM, reset, dealloc; nothing is left', async (n, msgId, error, errno, extra) => {
    const f = await setUp(fault(msgId, error));
    const m = f.t.mark();
    expect(await f.v.ioctlErrno(f.vm, 'START', IOCTL.START)).toBe(errno);
    const upTo = startRmCalls(1).slice(0, 7 + extra);
    upTo[upTo.length - 1] = { name: n.split(' ')[1]!, err: error };
    expect(f.t.hostRmCallsSince(m)).toEqual(upTo);
    expect(linuxStatus(f.t)).toBe(LinuxVmStatus.READY);
    const [rmVm] = await rmVms(f.t);
    expect(rmVm).toMatchObject({ state: RM.READY });
    expect(await f.v.ioctlErrno(f.vm, 'START', IOCTL.START)).toBe('ENODEV');
    if (msgId === RmMsgId.VM_START) {
      // QUIRK K24: the vCPU resource was handed out, so RUN gives a STATUS exit, CRASHED (3).
      expect(await f.v.ioctl(f.vcpu, 'VCPU_RUN', IOCTL.VCPU_RUN)).toBe(0);
      expect(readRunPage(f.page)).toMatchObject({ exitReason: 2, status: { status: 3 } });
    } else {
      expect(await f.v.ioctlErrno(f.vcpu, 'VCPU_RUN', IOCTL.VCPU_RUN)).toBe('ENODEV');
    }
    const m2 = f.t.mark();
    await closeAll(f);
    expect(f.t.hostRmCallsSince(m2)).toEqual([ok('MEM_RECLAIM'), ok('VM_RESET'), ok('VM_DEALLOCATE')]);
    expect(rmNotifications(f.t, m2)).not.toContain('MEM_RELEASED');
    await expectCleanShutdown(f.t.emu);
  });
});

/** Notifications the RM sent to the host since `mark`. */
function rmNotifications(t: TracedEmulator, mark: number): string[] {
  return t.trace.events
    .slice(mark)
    .filter((e) => e.kind === 'rm.notification' && e['side'] === 'rm' && e['vmid'] === 3)
    .map((e) => String(e['name']));
}

/** Wait `n` event-loop turns. */
async function turns(n = 50): Promise<void> {
  for (let i = 0; i < n; i++) await new Promise<void>((r) => setImmediate(r));
}

/** Start the §8 VM (the guest never runs: no RUN is issued). */
async function started(opts: EmulatorOptions, dt: { rmRpc?: boolean } = {}): Promise<FaultVm> {
  const f = await setUp(opts, dt);
  expect(await f.v.ioctl(f.vm, 'START', IOCTL.START)).toBe(0);
  expect(linuxStatus(f.t)).toBe(LinuxVmStatus.RUNNING);
  return f;
}

describe('teardown faults (uapi.md §8.3): failures are only logged', () => {
  it('VM_STOP fails: teardown waits, uninterruptibly, until the VM exits by itself; then it goes on and nothing is left', async () => {
    const f = await started(fault(RmMsgId.VM_STOP, 'VM_STATE'), { rmRpc: true });
    const vmid = (await rmVms(f.t))[0]!.vmid;
    const m = f.t.mark();
    let closed = false;
    const closing = closeAll(f).then(() => void (closed = true));
    await turns();
    // Step 1: the stop failed (logged), and the kernel waits for the status to leave RUNNING.
    expect(f.t.hostRmCallsSince(m)).toEqual([{ name: 'VM_STOP', err: 'VM_STATE' }]);
    expect(closed).toBe(false);
    expect(f.t.emu.kernel.liveVms).toBe(1);
    expect(await rmVms(f.t)).toEqual([{ vmid, state: RM.RUNNING }]);
    // The guest exits on its own (VM_EXIT over its RM link): VM_EXITED reaches the kernel.
    const { endpoint, release } = f.t.emu.acquireRmEndpoint(vmid);
    const guest = createRmClient({ transport: endpoint });
    await guest.call(RmMsgId.VM_EXIT, new Uint8Array(4));
    guest.close();
    release();
    await closing;
    // Teardown resumed from EXITED: no DTB reclaim (the parcel became the VM's at start), reset, dealloc.
    expect(f.t.hostRmCallsSince(m)).toEqual([{ name: 'VM_STOP', err: 'VM_STATE' }, ok('VM_RESET'), ok('VM_DEALLOCATE')]);
    await expectCleanShutdown(f.t.emu);
  });

  it('VM_RESET fails: no wait for RESET; VM_DEALLOCATE is refused (EXITED) and the VM stays allocated in the RM; memory is all back', async () => {
    const f = await started(fault(RmMsgId.VM_RESET, 'BUSY'));
    const vmid = (await rmVms(f.t))[0]!.vmid;
    const m = f.t.mark();
    await closeAll(f);
    expect(f.t.hostRmCallsSince(m)).toEqual([ok('VM_STOP'), { name: 'VM_RESET', err: 'BUSY' }, { name: 'VM_DEALLOCATE', err: 'VM_STATE' }]);
    await expectLeftovers(f.t.emu, { rmVms: [{ vmid, state: RM.EXITED }] });
  });

  it('VM_DEALLOCATE fails: logged; the VM stays in the RM in RESET, nothing else is left', async () => {
    const f = await started(fault(RmMsgId.VM_DEALLOCATE, 'DENIED'));
    const vmid = (await rmVms(f.t))[0]!.vmid;
    const m = f.t.mark();
    await closeAll(f);
    expect(f.t.hostRmCallsSince(m)).toEqual([ok('VM_STOP'), ok('VM_RESET'), { name: 'VM_DEALLOCATE', err: 'DENIED' }]);
    await expectLeftovers(f.t.emu, { rmVms: [{ vmid, state: RM.RESET }] });
  });

  it('a reclaim hypercall fails in step 4 (binding): only warned, the page stays provided, and step 5 takes it back', async () => {
    const f = await started({ faults: { hypercalls: [{ call: 'memextent_donate', occurrence: 1, error: 'ERROR_BUSY' }] } });
    const m = f.t.mark();
    await closeAll(f);
    expect(f.t.emu.faults.fired).toEqual([{ layer: 'hypercall', what: 'memextent_donate', occurrence: 1, error: 'ERROR_BUSY' }]);
    expect(f.t.hostRmCallsSince(m)).toEqual([ok('VM_STOP'), ok('VM_RESET'), ok('VM_DEALLOCATE')]);
    await expectCleanShutdown(f.t.emu);
  });

  it('MEM_RECLAIM of the DTB parcel fails (after a failed VM_CONFIG_IMAGE): logged; the parcel stays lent and its page is never given back', async () => {
    const f = await setUp({ faults: { rm: [{ msgId: RmMsgId.VM_CONFIG_IMAGE, error: 'NOMEM' }, { msgId: RmMsgId.MEM_RECLAIM, error: 'BUSY' }] } });
    expect(await f.v.ioctlErrno(f.vm, 'START', IOCTL.START)).toBe('ENOMEM');
    const m = f.t.mark();
    await closeAll(f);
    // LOAD: no reset; the VMID is freed although the parcel still names it.
    expect(f.t.hostRmCallsSince(m)).toEqual([{ name: 'MEM_RECLAIM', err: 'BUSY' }, ok('VM_DEALLOCATE')]);
    await expectLeftovers(f.t.emu, { parcels: [{ owner: 3, size: 4096, state: 'SHARING' }], kernelPages: 1 });
  });
});
