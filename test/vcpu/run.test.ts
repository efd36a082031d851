// GUNYAH_VCPU_RUN against a scripted hypervisor: entry checks, every vcpu_run result of
// uapi.md §8.5, MMIO and page-fault exits byte for byte (§5, §8.6, §8.8), resume actions
// (§8.7), immediate_exit (§8.9), STATUS exits (§8.10) and the QUIRKs K7, K8, K9, K14, K15,
// K20, K23, K24. Expected run-page bytes are typed by hand from the §5 table.
import { describe, expect, it } from 'vitest';
import { VcpuRunState, VmmioAction } from '../../src/hyp/host-api.js';
import { ResourceType } from '../../src/rm-rpc/wire/enums.js';
import { HypErrorCode } from '../../src/shared/hyp-errors.js';
import { VcpuState } from '../../src/vcpu/index.js';
import { DEFAULT_QUIRKS, LinuxVmStatus } from '../../src/vm-mgr/vm-api.js';
import { hypErr, mmioRead, mmioWrite, ok, pageFault } from './support/fake-hyp.js';
import { resource } from './support/fake-vm.js';
import { Harness, bytes, hexOf, outcome, stillPending, turns } from './support/harness.js';

const WARN = 40;
const RUN_PAGE_HEAD = 40;

describe('RUN entry checks (§8.4, §6.3)', () => {
  it('gives ENODEV before the vCPU resource exists, without entering the hypervisor', async () => {
    const h = new Harness();
    const inst = await h.addVcpu(0);
    h.vm.setStatus(LinuxVmStatus.RUNNING);
    expect(await outcome(h.run(inst.result))).toBe('ENODEV');
    expect(h.hyp.runCalls).toHaveLength(0);
  });

  it('gives ENODEV after the function was removed, for good, and the fd stays open', async () => {
    const h = new Harness();
    const { inst, fd } = await h.startedVcpu(0);
    inst.unbind();
    expect(await outcome(h.run(fd))).toBe('ENODEV');
    expect(await outcome(h.run(fd))).toBe('ENODEV');
    expect(h.proc.openFiles().some((f) => f.fd === fd && f.name === 'gh-vcpu:0')).toBe(true);
    expect(h.hyp.runCalls).toHaveLength(0);
  });

  it('serialises concurrent RUNs of one vCPU (run lock, FIFO)', async () => {
    const h = new Harness();
    const { fd } = await h.startedVcpu(0, 40);
    h.hyp.push(ok(VcpuRunState.EXPECTS_WAKEUP), mmioRead(0x6000n, 4n), mmioRead(0x7000n, 4n));
    const first = h.run(fd);
    const second = h.run(fd);
    expect(await stillPending(first)).toBe(true);
    expect(await stillPending(second)).toBe(true);
    expect(h.hyp.runCalls).toHaveLength(1); // the second waits for the lock, not the hypervisor
    h.hyp.raiseVirq(40);
    expect(await first).toBe(0);
    expect(await second).toBe(0);
    expect(h.hyp.runCalls).toHaveLength(3);
    expect(h.hyp.runCalls[2]).toMatchObject({ r1: 0n }); // the second RUN resumed the first's read
  });

  it('returns an MMIO exit synchronously (the fast path takes no event-loop turn)', async () => {
    const h = new Harness();
    const { inst } = await h.startedVcpu(0);
    h.hyp.push(mmioRead(0x6000n, 4n));
    expect(inst.vcpu.run()).toBe(0);
    h.hyp.push(ok(VcpuRunState.READY), mmioRead(0x6000n, 4n));
    const r = inst.vcpu.run();
    expect(r).toBeInstanceOf(Promise);
    expect(await r).toBe(0);
  });
});

describe('vcpu_run results (§8.5)', () => {
  it('error RETRY: yields and calls again', async () => {
    const h = new Harness();
    const { fd, capId } = await h.startedVcpu(0);
    h.hyp.push(hypErr(HypErrorCode.ERROR_RETRY), mmioRead(0x6000n, 4n));
    expect(await h.run(fd)).toBe(0);
    expect(h.hyp.runCalls.map((c) => c.capid)).toEqual([capId, capId]);
  });

  it.each([
    ['ERROR_BUSY', HypErrorCode.ERROR_BUSY, 'EBUSY'],
    ['ERROR_ARGUMENT_INVALID', HypErrorCode.ERROR_ARGUMENT_INVALID, 'EINVAL'],
    ['ERROR_OBJECT_STATE', HypErrorCode.ERROR_OBJECT_STATE, 'EINVAL'],
    ['ERROR_UNIMPLEMENTED', HypErrorCode.ERROR_UNIMPLEMENTED, 'EOPNOTSUPP'],
    ['ERROR_CSPACE_WRONG_OBJECT_TYPE', HypErrorCode.ERROR_CSPACE_WRONG_OBJECT_TYPE, 'EACCES'],
    ['ERROR_NOMEM', HypErrorCode.ERROR_NOMEM, 'ENOMEM'],
  ] as const)('error %s: RUN fails with the remapped %s', async (_name, err, errno) => {
    const h = new Harness();
    const { fd } = await h.startedVcpu(0);
    h.hyp.push(hypErr(err));
    expect(await outcome(h.run(fd))).toBe(errno);
    expect(h.hyp.runCalls).toHaveLength(1);
    // The state is READY: the next RUN enters the hypervisor again.
    h.hyp.push(mmioRead(0x6000n, 1n));
    expect(await h.run(fd)).toBe(0);
  });

  it.each([
    ['READY', VcpuRunState.READY],
    ['BLOCKED', VcpuRunState.BLOCKED],
  ])('state %s: yields to the event loop and calls again', async (_name, state) => {
    const h = new Harness();
    const { inst, fd } = await h.startedVcpu(0);
    h.hyp.push(ok(state), ok(state), mmioRead(0x6000n, 4n));
    let timerRan = false;
    setImmediate(() => (timerRan = true));
    const r = inst.vcpu.run();
    expect(r).toBeInstanceOf(Promise);
    expect(await r).toBe(0);
    expect(timerRan).toBe(true); // other work ran while the vCPU looped
    expect(h.hyp.runCalls).toHaveLength(3);
    expect(h.hyp.runCalls.every((c) => c.r0 === 0n && c.r1 === 0n && c.r2 === 0n)).toBe(true);
    void fd;
  });

  it('state EXPECTS_WAKEUP: sleeps until the wakeup vIRQ, then loops', async () => {
    const h = new Harness();
    const { fd } = await h.startedVcpu(0, 41);
    h.hyp.push(ok(VcpuRunState.EXPECTS_WAKEUP), mmioRead(0x6000n, 4n));
    const p = h.run(fd);
    expect(await stillPending(p, 20)).toBe(true);
    expect(h.hyp.runCalls).toHaveLength(1);
    h.hyp.raiseVirq(40); // another vIRQ: no effect
    expect(await stillPending(p)).toBe(true);
    h.hyp.raiseVirq(41);
    expect(await p).toBe(0);
    expect(h.hyp.runCalls).toHaveLength(2);
  });

  it('state EXPECTS_WAKEUP: a wakeup that came before the sleep is not lost (completion)', async () => {
    const h = new Harness();
    const { fd } = await h.startedVcpu(0, 41);
    h.hyp.push((_c) => {
      h.hyp.raiseVirq(41); // the vIRQ fires while the hypervisor is still returning
      return ok(VcpuRunState.EXPECTS_WAKEUP);
    }, mmioRead(0x6000n, 4n));
    expect(await h.run(fd)).toBe(0);
    expect(h.hyp.runCalls).toHaveLength(2);
  });

  it('state EXPECTS_WAKEUP: woken by VM_EXITED, gives the STATUS exit', async () => {
    const h = new Harness();
    const { fd, map } = await h.startedVcpu(0, 41);
    h.hyp.push(ok(VcpuRunState.EXPECTS_WAKEUP));
    const p = h.run(fd);
    expect(await stillPending(p)).toBe(true);
    h.vm.exited(0, bytes('00000000 00000000'), 8);
    expect(await p).toBe(0);
    expect(map.read(8, 4)).toEqual(bytes('02000000'));
    expect(map.read(16, 4)).toEqual(bytes('02000000')); // EXITED
    expect(h.hyp.runCalls).toHaveLength(1);
  });

  it('state EXPECTS_WAKEUP: a status notification that leaves the VM RUNNING is not a wakeup', async () => {
    const h = new Harness();
    const { fd } = await h.startedVcpu(0, 41);
    h.hyp.push(ok(VcpuRunState.EXPECTS_WAKEUP), mmioRead(0x6000n, 4n));
    const p = h.run(fd);
    await turns();
    h.vm.setStatus(LinuxVmStatus.RUNNING); // a notification, but the VM still runs
    expect(await stillPending(p)).toBe(true);
    expect(h.hyp.runCalls).toHaveLength(1);
    h.hyp.raiseVirq(41);
    expect(await p).toBe(0);
  });

  it('state POWERED_OFF with the VM no longer RUNNING: STATUS exit at once', async () => {
    const h = new Harness();
    const { fd, map } = await h.startedVcpu(0, 41);
    h.hyp.push(() => {
      h.vm.exited(1, bytes('0100000000000000'));
      return ok(VcpuRunState.POWERED_OFF, 1n);
    });
    expect(await h.run(fd)).toBe(0);
    expect(map.read(8, 4)).toEqual(bytes('02000000'));
    expect(map.read(16, 4)).toEqual(bytes('02000000'));
  });

  it('state POWERED_OFF with the VM RUNNING: sleeps until the vIRQ (e.g. CPU_ON), then loops', async () => {
    const h = new Harness();
    const { fd, map } = await h.startedVcpu(0, 41);
    h.hyp.push(ok(VcpuRunState.POWERED_OFF), mmioRead(0x6000n, 4n));
    const p = h.run(fd);
    expect(await stillPending(p)).toBe(true);
    h.hyp.raiseVirq(41);
    expect(await p).toBe(0);
    expect(map.read(8, 4)).toEqual(bytes('01000000'));
  });

  it.each([
    ['FAULT', VcpuRunState.FAULT],
    ['PSCI_SYSTEM_RESET', VcpuRunState.PSCI_SYSTEM_RESET],
    ['0x42', 0x42],
  ])('unknown state %s: warns, yields and spins until immediate_exit (QUIRK K14)', async (_name, state) => {
    const h = new Harness();
    const { fd, map } = await h.startedVcpu(0);
    h.hyp.fallback = ok(state);
    const p = h.run(fd);
    expect(await stillPending(p, 30)).toBe(true);
    const calls = h.hyp.runCalls.length;
    expect(calls).toBeGreaterThan(10);
    // Rate limited: not one warning per iteration.
    const warnings = h.vm.logged(WARN, 'unknown vCPU state');
    expect(warnings.length).toBeGreaterThan(0);
    expect(warnings.length).toBeLessThan(calls);
    map.write(0, bytes('01'));
    expect(await outcome(p)).toBe('EINTR');
    expect(map.read(8, 4)).toEqual(bytes('00000000')); // no exit was reported
  });

  it('unknown state with QUIRK K14 off: RUN fails with EINVAL instead of spinning', async () => {
    const h = new Harness();
    h.vm.quirks = { ...DEFAULT_QUIRKS, k14SpinOnUnknownState: false };
    const { fd } = await h.startedVcpu(0);
    h.hyp.push(ok(VcpuRunState.FAULT));
    expect(await outcome(h.run(fd))).toBe('EINVAL');
  });
});

describe('MMIO exits (§8.6), byte-exact run page (§5)', () => {
  it('a write exit fills the MMIO arm', async () => {
    const h = new Harness();
    const { fd, map } = await h.startedVcpu(0);
    h.hyp.push(mmioWrite(0x6000n, 4n, 0xdeadbeefn));
    expect(await h.run(fd)).toBe(0);
    expect(hexOf(map.read(0, RUN_PAGE_HEAD))).toBe(
      hexOf(
        bytes(`
          00 00 00 00 00 00 00 00   01 00 00 00 00 00 00 00
          00 60 00 00 00 00 00 00   ef be ad de 00 00 00 00
          04 00 00 00 01 00 00 00
        `),
      ),
    );
  });

  it('a read exit after a write: is_write 0, mmio.data keeps the old bytes', async () => {
    const h = new Harness();
    const { fd, map } = await h.startedVcpu(0);
    h.hyp.push(mmioWrite(0x6000n, 8n, 0x1122334455667788n), mmioRead(0x7000n, 2n));
    expect(await h.run(fd)).toBe(0);
    expect(hexOf(map.read(0, RUN_PAGE_HEAD))).toBe(
      hexOf(
        bytes(`
          00 00 00 00 00 00 00 00   01 00 00 00 00 00 00 00
          00 60 00 00 00 00 00 00   88 77 66 55 44 33 22 11
          08 00 00 00 01 00 00 00
        `),
      ),
    );
    expect(await h.run(fd)).toBe(0);
    expect(hexOf(map.read(0, RUN_PAGE_HEAD))).toBe(
      hexOf(
        bytes(`
          00 00 00 00 00 00 00 00   01 00 00 00 00 00 00 00
          00 70 00 00 00 00 00 00   88 77 66 55 44 33 22 11
          02 00 00 00 00 00 00 00
        `),
      ),
    );
  });

  it('a write of fewer than 8 bytes copies only len bytes into mmio.data', async () => {
    const h = new Harness();
    const { fd, map } = await h.startedVcpu(0);
    map.write(24, bytes('aa aa aa aa aa aa aa aa'));
    h.hyp.push(mmioWrite(0x1_0000_6000n, 2n, 0xffff_1234n));
    expect(await h.run(fd)).toBe(0);
    expect(hexOf(map.read(16, 24))).toBe(
      hexOf(bytes('00 60 00 00 01 00 00 00   34 12 aa aa aa aa aa aa   02 00 00 00 01 00 00 00')),
    );
  });

  it('presets resume_action to HANDLED on every MMIO exit', async () => {
    const h = new Harness();
    const { fd, map } = await h.startedVcpu(0);
    h.hyp.push(mmioRead(0x6000n, 4n), mmioRead(0x6004n, 4n));
    await h.run(fd);
    map.write(37, bytes('01')); // FAULT for the first exit
    await h.run(fd);
    expect(map.read(37, 1)).toEqual(bytes('00'));
    expect(h.hyp.runCalls[1]).toMatchObject({ r1: BigInt(VmmioAction.FAULT) });
  });

  it('clamps a length over 8 to 8 and warns', async () => {
    const h = new Harness();
    const { fd, map } = await h.startedVcpu(0);
    h.hyp.push(mmioWrite(0x6000n, 16n, 0x0102030405060708n));
    expect(await h.run(fd)).toBe(0);
    expect(map.read(32, 4)).toEqual(bytes('08000000'));
    expect(map.read(24, 8)).toEqual(bytes('0807060504030201'));
    expect(h.vm.logged(WARN, 'clamped')).toHaveLength(1);
  });

  it.each([
    ['paged in', 0],
    ['already there (-EAGAIN)', -11],
  ])('demand paging at the address %s: RETRY (1) in word 1, no exit', async (_name, result) => {
    const h = new Harness();
    const { fd } = await h.startedVcpu(0);
    let first = true;
    h.vm.demandPageResult = () => {
      const r = first ? result : -2;
      first = false;
      return r;
    };
    h.hyp.push(mmioWrite(0x6000n, 4n, 1n), mmioRead(0x7000n, 4n));
    expect(await h.run(fd)).toBe(0);
    expect(h.hyp.runCalls[1]).toEqual({ capid: 0x1000n, r0: 0n, r1: BigInt(VmmioAction.RETRY), r2: 0n });
    expect(h.proc.mmap(fd, 4096).read(16, 2)).toEqual(bytes('0070'));
  });

  it('QUIRK K8: demand paging gets the stale is_write byte of the page', async () => {
    const h = new Harness();
    const { fd } = await h.startedVcpu(0);
    h.hyp.push(mmioWrite(0x6000n, 4n, 1n), mmioRead(0x7000n, 4n), mmioWrite(0x8000n, 4n, 1n));
    await h.run(fd); // page is_write is 0 (fresh page) for this write fault
    await h.run(fd); // page is_write is 1 (from the write) for this read fault
    await h.run(fd); // page is_write is 0 (from the read) for this write fault
    expect(h.vm.demandPageCalls).toEqual([
      { gpa: 0x6000n, write: false },
      { gpa: 0x7000n, write: true },
      { gpa: 0x8000n, write: false },
    ]);
  });

  it('QUIRK K8 off: demand paging gets the access direction', async () => {
    const h = new Harness();
    h.vm.quirks = { ...DEFAULT_QUIRKS, k8StaleIsWrite: false };
    const { fd } = await h.startedVcpu(0);
    h.hyp.push(mmioWrite(0x6000n, 4n, 1n), mmioRead(0x7000n, 4n));
    await h.run(fd);
    await h.run(fd);
    expect(h.vm.demandPageCalls).toEqual([
      { gpa: 0x6000n, write: true },
      { gpa: 0x7000n, write: false },
    ]);
  });

  it('a write an ioeventfd takes: signalled, no exit, resume words 0 (QUIRK K9)', async () => {
    const h = new Harness();
    const { fd, map } = await h.startedVcpu(0);
    let fired = 0;
    h.vm.addIoeventfd({ addr: 0x6000n, len: 0, datamatch: false, data: 0n, fire: () => void fired++ });
    h.hyp.push(mmioWrite(0x6000n, 4n, 7n), mmioWrite(0x6000n, 2n, 9n), mmioRead(0x6000n, 4n));
    expect(await h.run(fd)).toBe(0);
    expect(fired).toBe(2);
    expect(h.vm.ioeventfdWrites).toEqual([
      { addr: 0x6000n, len: 4, value: 7n },
      { addr: 0x6000n, len: 2, value: 9n },
    ]);
    expect(h.hyp.runCalls.map((c) => [c.r0, c.r1])).toEqual([
      [0n, 0n],
      [0n, 0n],
      [0n, 0n],
    ]);
    // Reads are never absorbed: the read exits.
    expect(map.read(8, 4)).toEqual(bytes('01000000'));
    expect(map.read(36, 1)).toEqual(bytes('00'));
  });

  it('a write no ioeventfd matches (datamatch mismatch) exits with the data', async () => {
    const h = new Harness();
    const { fd, map } = await h.startedVcpu(0);
    let fired = 0;
    h.vm.addIoeventfd({ addr: 0x6000n, len: 4, datamatch: true, data: 5n, fire: () => void fired++ });
    h.hyp.push(mmioWrite(0x6000n, 4n, 6n));
    expect(await h.run(fd)).toBe(0);
    expect(fired).toBe(0);
    expect(map.read(24, 4)).toEqual(bytes('06000000'));
    expect(map.read(36, 1)).toEqual(bytes('01'));
  });
});

describe('resume actions (§8.7)', () => {
  it('HANDLED after a read: word 0 = the first len bytes of mmio.data, word 1 = EMULATE', async () => {
    const h = new Harness();
    const { fd, map } = await h.startedVcpu(0);
    h.hyp.push(mmioRead(0x6000n, 2n), mmioRead(0x6000n, 8n), mmioRead(0x6000n, 4n));
    await h.run(fd);
    map.write(24, bytes('34 12 ff ff ff ff ff ff'));
    await h.run(fd);
    map.write(24, bytes('01 02 03 04 05 06 07 88'));
    await h.run(fd);
    expect(h.hyp.runCalls[1]).toEqual({ capid: 0x1000n, r0: 0x1234n, r1: 0n, r2: 0n });
    expect(h.hyp.runCalls[2]).toEqual({ capid: 0x1000n, r0: 0x8807060504030201n, r1: 0n, r2: 0n });
  });

  it('HANDLED after a read uses the kernel copy of len, not the page', async () => {
    const h = new Harness();
    const { fd, map } = await h.startedVcpu(0);
    h.hyp.push(mmioRead(0x6000n, 1n), mmioRead(0x6000n, 1n));
    await h.run(fd);
    map.write(24, bytes('ab cd ef 00 00 00 00 00'));
    map.write(32, bytes('08000000')); // userspace scribbles on mmio.len
    await h.run(fd);
    expect(h.hyp.runCalls[1]!.r0).toBe(0xabn);
  });

  it('HANDLED after a write: both words 0 (EMULATE)', async () => {
    const h = new Harness();
    const { fd } = await h.startedVcpu(0);
    h.hyp.push(mmioWrite(0x6000n, 4n, 0xffffn), mmioRead(0x6000n, 4n));
    await h.run(fd);
    await h.run(fd);
    expect(h.hyp.runCalls[1]).toEqual({ capid: 0x1000n, r0: 0n, r1: BigInt(VmmioAction.EMULATE), r2: 0n });
  });

  it('FAULT: word 1 = FAULT (2)', async () => {
    const h = new Harness();
    const { fd, map } = await h.startedVcpu(0);
    h.hyp.push(mmioRead(0x6000n, 4n), mmioRead(0x6000n, 4n));
    await h.run(fd);
    map.write(24, bytes('ffffffff'));
    map.write(37, bytes('01'));
    await h.run(fd);
    expect(h.hyp.runCalls[1]).toEqual({ capid: 0x1000n, r0: 0n, r1: 2n, r2: 0n });
  });

  it('RETRY: demand paging at the kernel copy of the address first (result ignored), word 1 = RETRY (1)', async () => {
    const h = new Harness();
    const { fd, map } = await h.startedVcpu(0);
    h.hyp.push(mmioWrite(0x6000n, 4n, 1n), mmioRead(0x7000n, 4n));
    await h.run(fd);
    map.write(16, bytes('0090000000000000')); // userspace scribbles on phys_addr
    map.write(37, bytes('02'));
    h.vm.demandPageCalls.length = 0;
    h.vm.demandPageResult = -1; // -EPERM: ignored
    await h.run(fd);
    expect(h.vm.demandPageCalls[0]).toEqual({ gpa: 0x6000n, write: true });
    expect(h.hyp.runCalls[1]).toEqual({ capid: 0x1000n, r0: 0n, r1: 1n, r2: 0n });
  });

  it.each([3, 0x80, 0xff])('an invalid action %i gives EINVAL with the state unchanged; fixing it works', async (bad) => {
    const h = new Harness();
    const { inst, fd, map } = await h.startedVcpu(0);
    h.hyp.push(mmioRead(0x6000n, 4n), mmioRead(0x6000n, 4n));
    await h.run(fd);
    map.write(24, bytes('78563412'));
    map.write(37, Uint8Array.of(bad));
    expect(await outcome(h.run(fd))).toBe('EINVAL');
    expect(await outcome(h.run(fd))).toBe('EINVAL');
    expect(h.hyp.runCalls).toHaveLength(1);
    expect(inst.vcpu.state).toBe(VcpuState.MMIO_READ);
    map.write(37, bytes('00'));
    expect(await h.run(fd)).toBe(0);
    expect(h.hyp.runCalls[1]).toEqual({ capid: 0x1000n, r0: 0x12345678n, r1: 0n, r2: 0n });
  });
});

describe('page-fault exits (§8.8)', () => {
  it('paged in or already there: loops with zero resume words, no exit', async () => {
    const h = new Harness();
    const { fd } = await h.startedVcpu(0);
    const answers = [0, -11];
    h.vm.demandPageResult = () => answers.shift() ?? -2;
    h.hyp.push(pageFault(0x8000_0000n, true), pageFault(0x8000_1000n, false), mmioRead(0x6000n, 4n));
    expect(await h.run(fd)).toBe(0);
    expect(h.vm.demandPageCalls.slice(0, 2)).toEqual([
      { gpa: 0x8000_0000n, write: true },
      { gpa: 0x8000_1000n, write: false },
    ]);
    expect(h.hyp.runCalls.map((c) => [c.r0, c.r1])).toEqual([
      [0n, 0n],
      [0n, 0n],
      [0n, 0n],
    ]);
  });

  it('a failure fills the page-fault arm: phys_addr, attempt (negative errno), resume_action FAULT', async () => {
    const h = new Harness();
    const { fd, map } = await h.startedVcpu(0);
    h.vm.demandPageResult = -1; // -EPERM
    h.hyp.push(pageFault(0x8000_1000n, true));
    expect(await h.run(fd)).toBe(0);
    expect(hexOf(map.read(0, RUN_PAGE_HEAD))).toBe(
      hexOf(
        bytes(`
          00 00 00 00 00 00 00 00   03 00 00 00 00 00 00 00
          00 10 00 80 00 00 00 00   ff ff ff ff 01 00 00 00
          00 00 00 00 00 00 00 00
        `),
      ),
    );
    expect(h.vm.logged(WARN, 'failed to provide guest memory')).toHaveLength(1);
  });

  it('-ENOENT gives the exit without a warning', async () => {
    const h = new Harness();
    const { fd, map } = await h.startedVcpu(0);
    h.vm.demandPageResult = -2;
    h.hyp.push(pageFault(0x4000_0000n, false));
    expect(await h.run(fd)).toBe(0);
    expect(map.read(24, 4)).toEqual(bytes('feffffff'));
    expect(h.vm.logged(WARN, 'failed to provide guest memory')).toHaveLength(0);
  });

  it.each([0, 1, 2, 0xff])(
    'QUIRK K7: page_fault.resume_action %i is ignored; the next RUN re-enters with zero words and re-faults',
    async (action) => {
      const h = new Harness();
      const { inst, fd, map } = await h.startedVcpu(0);
      h.vm.demandPageResult = -12; // -ENOMEM
      h.hyp.push(pageFault(0x8000_0000n, false), pageFault(0x8000_0000n, false));
      await h.run(fd);
      expect(inst.vcpu.state).toBe(VcpuState.READY);
      map.write(28, Uint8Array.of(action));
      expect(await h.run(fd)).toBe(0);
      expect(h.hyp.runCalls[1]).toEqual({ capid: 0x1000n, r0: 0n, r1: 0n, r2: 0n });
      expect(map.read(8, 4)).toEqual(bytes('03000000'));
      expect(map.read(24, 5)).toEqual(bytes('f4ffffff 01'));
    },
  );
});

describe('STATUS exits (§8.10)', () => {
  it('EXITED: status 2 and exit_info copied, reason_size not clamped (QUIRK K15)', async () => {
    const h = new Harness();
    const { fd, map } = await h.startedVcpu(0);
    map.write(36, bytes('aa bb cc dd'));
    h.vm.exited(1, bytes('11 12 13 14 15 16 17 18 19 1a 1b 1c'));
    expect(await h.run(fd)).toBe(0);
    expect(hexOf(map.read(0, RUN_PAGE_HEAD))).toBe(
      hexOf(
        bytes(`
          00 00 00 00 00 00 00 00   02 00 00 00 00 00 00 00
          02 00 00 00 01 00 00 00   0c 00 00 00 11 12 13 14
          15 16 17 18 aa bb cc dd
        `),
      ),
    );
    expect(h.hyp.runCalls).toHaveLength(0);
  });

  it('INIT_FAILED gives LOAD_FAILED (1)', async () => {
    const h = new Harness();
    const { fd, map } = await h.startedVcpu(0);
    h.vm.setStatus(LinuxVmStatus.INIT_FAILED);
    expect(await h.run(fd)).toBe(0);
    expect(map.read(8, 12)).toEqual(bytes('02000000 00000000 01000000'));
  });

  it('QUIRK K24: the resource exists but the VM is READY (VM_START failed): CRASHED (3), not ENODEV', async () => {
    const h = new Harness();
    const inst = await h.addVcpu(0);
    h.vm.setStatus(LinuxVmStatus.READY);
    h.vm.offer(resource(ResourceType.VCPU, 0, 0x1000n, 40));
    const map = h.proc.mmap(inst.result, 4096);
    expect(await h.run(inst.result)).toBe(0);
    expect(map.read(8, 12)).toEqual(bytes('02000000 00000000 03000000'));
  });

  it('repeats forever: later RUNs return 0 at once without touching the page', async () => {
    const h = new Harness();
    const { inst, fd, map } = await h.startedVcpu(0);
    h.vm.exited(2, bytes('01'));
    expect(await h.run(fd)).toBe(0);
    expect(inst.vcpu.state).toBe(VcpuState.SYSTEM_DOWN);
    map.write(8, bytes('09000000 00000000 77777777'));
    h.vm.exited(4, bytes('02')); // a later change is not reported either
    expect(await h.run(fd)).toBe(0);
    expect(await h.run(fd)).toBe(0);
    expect(map.read(8, 12)).toEqual(bytes('09000000 00000000 77777777'));
    expect(h.hyp.runCalls).toHaveLength(0);
  });

  it('every vCPU sees the exit: VM_EXITED wakes all sleeping vCPUs', async () => {
    const h = new Harness();
    const a = await h.startedVcpu(0, 40);
    const b = await h.startedVcpu(1, 41);
    h.hyp.push(ok(VcpuRunState.EXPECTS_WAKEUP), ok(VcpuRunState.POWERED_OFF));
    const pa = h.run(a.fd);
    const pb = h.run(b.fd);
    await turns();
    expect(h.hyp.runCalls.map((c) => c.capid)).toEqual([0x1000n, 0x1001n]);
    h.vm.exited(0, bytes('00'));
    expect(await pa).toBe(0);
    expect(await pb).toBe(0);
    expect(a.map.read(8, 12)).toEqual(bytes('02000000 00000000 02000000'));
    expect(b.map.read(8, 12)).toEqual(bytes('02000000 00000000 02000000'));
  });
});

describe('immediate_exit (§8.9)', () => {
  it('set before RUN: EINTR before any hypervisor entry; the kernel never clears it', async () => {
    const h = new Harness();
    const { fd, map } = await h.startedVcpu(0);
    map.write(0, bytes('01'));
    expect(await outcome(h.run(fd))).toBe('EINTR');
    expect(await outcome(h.run(fd))).toBe('EINTR');
    expect(h.hyp.runCalls).toHaveLength(0);
    expect(map.read(0, 1)).toEqual(bytes('01'));
    map.write(0, bytes('00'));
    h.hyp.push(mmioRead(0x6000n, 4n));
    expect(await h.run(fd)).toBe(0);
  });

  it('set while the vCPU loops: EINTR at the next iteration', async () => {
    const h = new Harness();
    const { fd, map } = await h.startedVcpu(0);
    h.hyp.push(() => {
      map.write(0, bytes('ff'));
      return ok(VcpuRunState.READY);
    });
    expect(await outcome(h.run(fd))).toBe('EINTR');
    expect(h.hyp.runCalls).toHaveLength(1);
  });

  it('a STATUS exit for a VM that is not RUNNING comes before immediate_exit', async () => {
    const h = new Harness();
    const { fd, map } = await h.startedVcpu(0);
    map.write(0, bytes('01'));
    h.vm.exited(0, bytes('00'));
    expect(await h.run(fd)).toBe(0);
    expect(map.read(8, 4)).toEqual(bytes('02000000'));
  });

  it('QUIRK K23: a pending MMIO resume is consumed by the RUN that returns EINTR and lost', async () => {
    const h = new Harness();
    const { inst, fd, map } = await h.startedVcpu(0);
    h.hyp.push(mmioRead(0x6000n, 4n), mmioRead(0x6004n, 4n));
    await h.run(fd);
    map.write(24, bytes('efbeadde'));
    map.write(0, bytes('01'));
    expect(await outcome(h.run(fd))).toBe('EINTR');
    expect(inst.vcpu.state).toBe(VcpuState.READY);
    map.write(0, bytes('00'));
    await h.run(fd);
    expect(h.hyp.runCalls[1]).toEqual({ capid: 0x1000n, r0: 0n, r1: 0n, r2: 0n });
  });

  it('QUIRK K23 off: the resume is kept for the RUN after the EINTR', async () => {
    const h = new Harness();
    h.vm.quirks = { ...DEFAULT_QUIRKS, k23ResumeLostOnEintr: false };
    const { inst, fd, map } = await h.startedVcpu(0);
    h.hyp.push(mmioRead(0x6000n, 4n), mmioRead(0x6004n, 4n));
    await h.run(fd);
    map.write(24, bytes('efbeadde'));
    map.write(0, bytes('01'));
    expect(await outcome(h.run(fd))).toBe('EINTR');
    expect(inst.vcpu.state).toBe(VcpuState.MMIO_READ);
    map.write(0, bytes('00'));
    await h.run(fd);
    expect(h.hyp.runCalls[1]).toEqual({ capid: 0x1000n, r0: 0xdeadbeefn, r1: 0n, r2: 0n });
  });

  it('QUIRK K23 off: an invalid action still gives EINVAL first', async () => {
    const h = new Harness();
    h.vm.quirks = { ...DEFAULT_QUIRKS, k23ResumeLostOnEintr: false };
    const { fd, map } = await h.startedVcpu(0);
    h.hyp.push(mmioRead(0x6000n, 4n));
    await h.run(fd);
    map.write(37, bytes('07'));
    map.write(0, bytes('01'));
    expect(await outcome(h.run(fd))).toBe('EINVAL');
  });

  it('setting it through the mapping kicks a RUN sleeping for a wakeup: EINTR', async () => {
    const h = new Harness();
    const { fd, map } = await h.startedVcpu(0, 40);
    h.hyp.push(ok(VcpuRunState.EXPECTS_WAKEUP));
    const p = h.run(fd);
    expect(await stillPending(p)).toBe(true);
    map.write(0, bytes('01'));
    expect(await outcome(p)).toBe('EINTR');
    expect(h.hyp.runCalls).toHaveLength(1);
  });
});

describe('wakeup vIRQ and removal', () => {
  it('subscribes to the resource vIRQ when populated and unsubscribes when removed', async () => {
    const h = new Harness();
    const { inst } = await h.startedVcpu(0, 45);
    expect(h.hyp.virqHandlers(45)).toBe(1);
    inst.unbind();
    expect(h.hyp.virqHandlers(45)).toBe(0);
  });

  it('removal while RUN sleeps: unpopulate sets immediate_exit and wakes it (EINTR), then ENODEV', async () => {
    const h = new Harness();
    const { inst, fd, map } = await h.startedVcpu(0, 40);
    h.hyp.push(ok(VcpuRunState.EXPECTS_WAKEUP));
    const p = h.run(fd);
    expect(await stillPending(p)).toBe(true);
    inst.unbind();
    expect(await outcome(p)).toBe('EINTR');
    expect(map.read(0, 1)).toEqual(bytes('01'));
    map.write(0, bytes('00'));
    expect(await outcome(h.run(fd))).toBe('ENODEV');
  });

  it('QUIRK K20: a resource without a wakeup vIRQ stays attached; a sleeper wakes only on a status change', async () => {
    const h = new Harness();
    const inst = await h.addVcpu(0);
    h.vm.offer(resource(ResourceType.VCPU, 0, 0x1000n, 0));
    h.vm.setStatus(LinuxVmStatus.RUNNING);
    expect(h.vm.logged(WARN, 'no wakeup vIRQ')).toHaveLength(1);
    h.hyp.push(ok(VcpuRunState.EXPECTS_WAKEUP));
    const p = h.run(inst.result);
    expect(await stillPending(p)).toBe(true);
    h.vm.exited(0, bytes('00'));
    expect(await p).toBe(0);
  });

  it('a second resource with the same label is refused', async () => {
    const h = new Harness();
    const { inst } = await h.startedVcpu(0, 40);
    expect(h.vm.offer(resource(ResourceType.VCPU, 0, 0x2000n, 41))).toBe(false);
    expect(inst.vcpu.resource?.capId).toBe(0x1000n);
    expect(h.vm.logged(WARN, 'already has a resource')).toHaveLength(1);
  });
});

describe('trace', () => {
  it('records MMIO, page-fault and STATUS exits', async () => {
    const h = new Harness();
    const { fd } = await h.startedVcpu(3);
    h.hyp.push(mmioWrite(0x6000n, 4n, 1n), pageFault(0x9000n, true), ok(VcpuRunState.POWERED_OFF, 1n));
    await h.run(fd);
    await h.run(fd);
    h.vm.exited(0, bytes('00'));
    await h.run(fd);
    expect(h.vm.trace.events.map((e) => [e.kind, e.vcpu, e.reason])).toEqual([
      ['vcpu.exit', 3, 'MMIO'],
      ['vcpu.exit', 3, 'PAGE_FAULT'],
      ['vcpu.exit', 3, 'STATUS'],
    ]);
  });
});
