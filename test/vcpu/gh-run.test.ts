// GH_VCPU_RUN for a VM of the gh_ dialect (VmHandle.dialect 'gh') against a scripted
// hypervisor: ensure_started at the top of RUN (vmm-flows.md Q1; docs/decisions.md GV1, GV2),
// implicit MMIO completion and the run page without resume_action or page-fault arm
// (README.md §Dialects), no MMIO_WRITE state, no demand paging (state 7 spins like QUIRK K14),
// STATUS exits, immediate_exit and the trace records. Expected run-page bytes are typed by hand
// from the uapi.md §5 table, which README.md §Dialects says gh_ shares for these fields.
import { describe, expect, it } from 'vitest';
import { VcpuRunState } from '../../src/hyp/host-api.js';
import { ResourceType } from '../../src/rm-rpc/wire/enums.js';
import { HypErrorCode } from '../../src/shared/hyp-errors.js';
import { GH_VCPU_RULES, VcpuState } from '../../src/vcpu/index.js';
import { DEFAULT_QUIRKS, LinuxVmStatus } from '../../src/vm-mgr/vm-api.js';
import { hypErr, mmioRead, mmioWrite, ok, pageFault, type RunStep } from './support/fake-hyp.js';
import { resource } from './support/fake-vm.js';
import { GhHarness, GhNoStartHarness, failingStart, startWithVcpus } from './support/gh-vm.js';
import { Harness, bytes, hexOf, outcome, stillPending, turns } from './support/harness.js';

const WARN = 40;
const RUN_PAGE_HEAD = 40;

/** The first 40 bytes of the run page, as hex. */
const head = (map: { read(off: number, len: number): Uint8Array }): string => hexOf(map.read(0, RUN_PAGE_HEAD));

describe('gh_ RUN entry: ensure_started (vmm-flows.md Q1; GV1, GV2)', () => {
  it('RUN before VM_START starts the VM, which hands out the vCPU resource, and runs the guest', async () => {
    const h = new GhHarness();
    h.vm.start = startWithVcpus(0);
    const { inst, fd, map } = await h.unstartedVcpu(0);
    expect(inst.vcpu.rules).toBe(GH_VCPU_RULES);
    expect(h.vm.status).toBe(LinuxVmStatus.LOAD);
    h.hyp.push(mmioRead(0x6000n, 4n));
    expect(await h.run(fd)).toBe(0);
    expect(h.vm.starts).toBe(1);
    expect(h.vm.ensureStartedCalls).toBe(1);
    expect(h.hyp.runCalls).toEqual([{ capid: 0x1000n, r0: 0n, r1: 0n, r2: 0n }]);
    expect(map.read(8, 4)).toEqual(bytes('01000000'));
  });

  it('a RUNNING VM: ensure_started is not called again and the MMIO exit comes back synchronously', async () => {
    const h = new GhHarness();
    h.vm.start = startWithVcpus(0);
    const { inst, fd } = await h.unstartedVcpu(0);
    h.hyp.push(mmioRead(0x6000n, 4n), mmioRead(0x6004n, 4n));
    expect(await h.run(fd)).toBe(0);
    expect(inst.vcpu.run()).toBe(0); // a number, not a promise
    expect(h.vm.ensureStartedCalls).toBe(1);
    expect(h.hyp.runCalls).toHaveLength(2);
  });

  it.each(['ENOMEM', 'EINVAL', 'EIO'] as const)(
    'a start that fails with %s: RUN fails with it, nothing enters the hypervisor; the next RUN gives ENODEV and does not start again',
    async (errno) => {
      const h = new GhHarness();
      h.vm.start = failingStart(errno);
      const { fd, map } = await h.unstartedVcpu(0);
      expect(await outcome(h.run(fd))).toBe(errno);
      expect(await outcome(h.run(fd))).toBe('ENODEV');
      expect(h.vm.starts).toBe(1);
      expect(h.vm.ensureStartedCalls).toBe(2);
      expect(h.hyp.runCalls).toHaveLength(0);
      expect(map.read(0, RUN_PAGE_HEAD)).toEqual(new Uint8Array(RUN_PAGE_HEAD)); // no STATUS exit
    },
  );

  it('a start that resolves but leaves the VM not RUNNING gives ENODEV even with the vCPU resource there (v17 would give a CRASHED STATUS exit, QUIRK K24)', async () => {
    const h = new GhHarness();
    h.vm.start = (vm) => {
      vm.offer(resource(ResourceType.VCPU, 0, 0x1000n, 40));
      vm.setStatus(LinuxVmStatus.READY);
    };
    const { inst, fd, map } = await h.unstartedVcpu(0);
    expect(await outcome(h.run(fd))).toBe('ENODEV');
    expect(inst.vcpu.resource?.capId).toBe(0x1000n);
    expect(inst.vcpu.state).toBe(VcpuState.UNKNOWN);
    expect(h.hyp.runCalls).toHaveLength(0);
    expect(map.read(0, RUN_PAGE_HEAD)).toEqual(new Uint8Array(RUN_PAGE_HEAD));
  });

  it('the VM started but has no resource for this vCPU id: ENODEV (the resource check comes after the start)', async () => {
    const h = new GhHarness();
    h.vm.start = startWithVcpus(1);
    const { fd } = await h.unstartedVcpu(0);
    expect(await outcome(h.run(fd))).toBe('ENODEV');
    expect(h.vm.starts).toBe(1);
    expect(h.vm.status).toBe(LinuxVmStatus.RUNNING);
    expect(h.hyp.runCalls).toHaveLength(0);
  });

  it('two vCPUs RUN before start at once: one start, both run', async () => {
    const h = new GhHarness();
    h.vm.start = startWithVcpus(0, 1);
    const a = await h.unstartedVcpu(0);
    const b = await h.unstartedVcpu(1);
    h.hyp.push(mmioRead(0x6000n, 4n), mmioRead(0x7000n, 4n));
    const pa = h.run(a.fd);
    const pb = h.run(b.fd);
    expect(await pa).toBe(0);
    expect(await pb).toBe(0);
    expect(h.vm.starts).toBe(1);
    expect(h.vm.ensureStartedCalls).toBe(2);
    expect(h.hyp.runCalls.map((c) => c.capid).sort()).toEqual([0x1000n, 0x1001n]);
  });

  it('order: ensure_started comes before the removed check (a removed vCPU still starts the VM, then ENODEV)', async () => {
    const h = new GhHarness();
    h.vm.start = startWithVcpus(0);
    const { inst, fd } = await h.unstartedVcpu(0);
    inst.unbind();
    expect(await outcome(h.run(fd))).toBe('ENODEV');
    expect(h.vm.starts).toBe(1);
    expect(h.vm.status).toBe(LinuxVmStatus.RUNNING);
    expect(h.hyp.runCalls).toHaveLength(0);
  });

  it("order: a removed vCPU's RUN reports a failed start's errno, not ENODEV", async () => {
    const h = new GhHarness();
    h.vm.start = failingStart('ENOMEM');
    const { inst, fd } = await h.unstartedVcpu(0);
    inst.unbind();
    expect(await outcome(h.run(fd))).toBe('ENOMEM');
  });

  it('after the VM exits: the sleeping RUN gets the STATUS exit; the next RUN gives ENODEV (ensure_started) with the page left alone', async () => {
    const h = new GhHarness();
    const { inst, fd, map } = await h.startedVcpu(0, 40);
    map.write(36, bytes('aa bb cc dd'));
    h.hyp.push(ok(VcpuRunState.EXPECTS_WAKEUP));
    const p = h.run(fd);
    expect(await stillPending(p)).toBe(true);
    h.vm.exited(1, bytes('11 12 13 14 15 16 17 18 19 1a 1b 1c'));
    expect(await p).toBe(0);
    const statusExit = hexOf(
      bytes(`
        00 00 00 00 00 00 00 00   02 00 00 00 00 00 00 00
        02 00 00 00 01 00 00 00   0c 00 00 00 11 12 13 14
        15 16 17 18 aa bb cc dd
      `),
    );
    expect(head(map)).toBe(statusExit);
    expect(inst.vcpu.state).toBe(VcpuState.SYSTEM_DOWN);
    expect(await outcome(h.run(fd))).toBe('ENODEV');
    expect(head(map)).toBe(statusExit);
    expect(h.vm.ensureStartedCalls).toBe(1);
    expect(h.vm.starts).toBe(0); // the VM had been started before: nothing to start
    expect(h.hyp.runCalls).toHaveLength(1);
  });

  it('SYSTEM_DOWN: a RUN queued on the run lock while the VM ran returns 0 at once and leaves the page as it is', async () => {
    const h = new GhHarness();
    const { inst, fd } = await h.startedVcpu(0, 40);
    h.hyp.push(ok(VcpuRunState.EXPECTS_WAKEUP));
    const first = h.run(fd);
    const second = h.run(fd);
    expect(await stillPending(first)).toBe(true);
    expect(await stillPending(second)).toBe(true);
    h.vm.exited(2, bytes('01'));
    expect(await first).toBe(0);
    expect(await second).toBe(0);
    expect(inst.vcpu.state).toBe(VcpuState.SYSTEM_DOWN);
    expect(h.hyp.runCalls).toHaveLength(1);
    expect(h.vm.ensureStartedCalls).toBe(0);
    const ev = h.vm.trace.events;
    expect(ev).toHaveLength(2);
    expect(ev[0]).toMatchObject({ kind: 'vcpu.exit', reason: 'STATUS', statusName: 'EXITED', exitType: 2 });
    expect(ev[0]).not.toHaveProperty('repeat');
    expect(ev[1]).toMatchObject({ kind: 'vcpu.exit', reason: 'STATUS', repeat: true });
  });

  it('a gh_ VM handle without ensureStarted: no start; ENODEV without a resource; UNKNOWN with the VM not RUNNING gives the STATUS exit, which then repeats without touching the page', async () => {
    const h = new GhNoStartHarness();
    const inst = await h.addVcpu(0);
    expect(inst.vcpu.rules).toBe(GH_VCPU_RULES);
    const map = h.proc.mmap(inst.result, 4096);
    expect(await outcome(h.run(inst.result))).toBe('ENODEV');
    h.vm.offer(resource(ResourceType.VCPU, 0, 0x1000n, 40));
    h.vm.setStatus(LinuxVmStatus.INIT_FAILED);
    expect(await h.run(inst.result)).toBe(0);
    expect(map.read(8, 12)).toEqual(bytes('02000000 00000000 01000000')); // STATUS, LOAD_FAILED
    expect(inst.vcpu.state).toBe(VcpuState.SYSTEM_DOWN);
    map.write(8, bytes('09000000'));
    expect(await h.run(inst.result)).toBe(0);
    expect(map.read(8, 4)).toEqual(bytes('09000000'));
    expect(h.hyp.runCalls).toHaveLength(0);
  });
});

describe('gh_ MMIO read exits and implicit completion (README.md §Dialects)', () => {
  it('a read of 8 bytes: the MMIO arm is filled, byte 37 (padding in gh_) is untouched; the 8 bytes the VMM leaves in mmio.data reach the guest in word 0, word 1 EMULATE (0)', async () => {
    const h = new GhHarness();
    const { inst, fd, map } = await h.startedVcpu(0);
    map.write(37, bytes('ab cd ef'));
    h.hyp.push(mmioRead(0x6000n, 8n), mmioRead(0x6008n, 4n));
    expect(await h.run(fd)).toBe(0);
    expect(head(map)).toBe(
      hexOf(
        bytes(`
          00 00 00 00 00 00 00 00   01 00 00 00 00 00 00 00
          00 60 00 00 00 00 00 00   00 00 00 00 00 00 00 00
          08 00 00 00 00 ab cd ef
        `),
      ),
    );
    expect(inst.vcpu.state).toBe(VcpuState.MMIO_READ);
    map.write(24, bytes('88 77 66 55 44 33 22 11'));
    expect(await h.run(fd)).toBe(0);
    expect(h.hyp.runCalls[1]).toEqual({ capid: 0x1000n, r0: 0x1122334455667788n, r1: 0n, r2: 0n });
    expect(map.read(37, 3)).toEqual(bytes('ab cd ef'));
  });

  it.each([
    [1, 0xa1n],
    [2, 0xa2a1n],
    [3, 0xa3a2a1n],
    [4, 0xa4a3a2a1n],
  ])('a read of %i bytes: only the first len bytes of mmio.data reach the guest', async (len, word0) => {
    const h = new GhHarness();
    const { fd, map } = await h.startedVcpu(0);
    h.hyp.push(mmioRead(0x6000n, BigInt(len)), mmioRead(0x6004n, 4n));
    expect(await h.run(fd)).toBe(0);
    expect(map.read(32, 5)).toEqual(Uint8Array.of(len, 0, 0, 0, 0));
    map.write(24, bytes('a1 a2 a3 a4 a5 a6 a7 a8'));
    expect(await h.run(fd)).toBe(0);
    expect(h.hyp.runCalls[1]).toEqual({ capid: 0x1000n, r0: word0, r1: 0n, r2: 0n });
  });

  it('a read of 16 bytes is clamped to 8 with a warning; the completion takes 8 bytes', async () => {
    const h = new GhHarness();
    const { fd, map } = await h.startedVcpu(0);
    h.hyp.push(mmioRead(0x6000n, 16n), mmioRead(0x6010n, 4n));
    expect(await h.run(fd)).toBe(0);
    expect(map.read(32, 4)).toEqual(bytes('08000000'));
    expect(h.vm.logged(WARN, 'clamped')).toHaveLength(1);
    map.write(24, bytes('01 02 03 04 05 06 07 08'));
    await h.run(fd);
    expect(h.hyp.runCalls[1]?.r0).toBe(0x0807060504030201n);
  });

  it.each([0, 1, 2, 3, 7, 0xff])('byte 37 = %i is not a resume action: no EINVAL, the read completes with the data', async (b37) => {
    const h = new GhHarness();
    const { inst, fd, map } = await h.startedVcpu(0);
    h.hyp.push(mmioRead(0x6000n, 4n), mmioRead(0x6004n, 4n));
    await h.run(fd);
    map.write(24, bytes('ef be ad de'));
    map.write(37, Uint8Array.of(b37));
    expect(await h.run(fd)).toBe(0);
    expect(h.hyp.runCalls[1]).toEqual({ capid: 0x1000n, r0: 0xdeadbeefn, r1: 0n, r2: 0n });
    expect(inst.vcpu.state).toBe(VcpuState.MMIO_READ); // the second read
    expect(map.read(37, 1)).toEqual(Uint8Array.of(b37));
  });

  it('a read exit does not clear mmio.data: a VMM that writes nothing hands back the old bytes', async () => {
    const h = new GhHarness();
    const { fd, map } = await h.startedVcpu(0);
    h.hyp.push(mmioWrite(0x6000n, 4n, 0x44332211n), mmioRead(0x7000n, 4n), mmioRead(0x7004n, 4n));
    await h.run(fd);
    await h.run(fd);
    expect(map.read(24, 8)).toEqual(bytes('11 22 33 44 00 00 00 00'));
    await h.run(fd);
    expect(h.hyp.runCalls[2]?.r0).toBe(0x44332211n);
  });

  it('resume words last one vcpu_run: a READY after the completion re-enters with zero words', async () => {
    const h = new GhHarness();
    const { fd, map } = await h.startedVcpu(0);
    h.hyp.push(mmioRead(0x6000n, 4n), ok(VcpuRunState.READY), mmioRead(0x6004n, 4n));
    await h.run(fd);
    map.write(24, bytes('01 00 00 00'));
    await h.run(fd);
    expect(h.hyp.runCalls.map((c) => [c.r0, c.r1])).toEqual([
      [0n, 0n],
      [1n, 0n],
      [0n, 0n],
    ]);
  });
});

describe('gh_ MMIO write exits', () => {
  it('fill the MMIO arm (only len bytes of the value), leave byte 37 alone and the state READY; the next RUN resumes with zero words', async () => {
    const h = new GhHarness();
    const { inst, fd, map } = await h.startedVcpu(0);
    map.write(24, bytes('aa aa aa aa aa aa aa aa'));
    map.write(37, bytes('5a 5a 5a'));
    h.hyp.push(mmioWrite(0x1_0000_6000n, 2n, 0xffff_1234n), mmioRead(0x6000n, 4n));
    expect(await h.run(fd)).toBe(0);
    expect(head(map)).toBe(
      hexOf(
        bytes(`
          00 00 00 00 00 00 00 00   01 00 00 00 00 00 00 00
          00 60 00 00 01 00 00 00   34 12 aa aa aa aa aa aa
          02 00 00 00 01 5a 5a 5a
        `),
      ),
    );
    expect(inst.vcpu.state).toBe(VcpuState.READY);
    expect(await h.run(fd)).toBe(0);
    expect(h.hyp.runCalls[1]).toEqual({ capid: 0x1000n, r0: 0n, r1: 0n, r2: 0n });
  });

  it('a write of 16 bytes is clamped to 8 with a warning', async () => {
    const h = new GhHarness();
    const { fd, map } = await h.startedVcpu(0);
    h.hyp.push(mmioWrite(0x6000n, 16n, 0x0102030405060708n));
    expect(await h.run(fd)).toBe(0);
    expect(map.read(24, 13)).toEqual(bytes('08 07 06 05 04 03 02 01 08 00 00 00 01'));
    expect(h.vm.logged(WARN, 'clamped')).toHaveLength(1);
  });

  it('an ioeventfd takes a write: signalled, no exit, the loop goes on with zero words and the page is not written', async () => {
    const h = new GhHarness();
    const { fd, map } = await h.startedVcpu(0);
    let fired = 0;
    h.vm.addIoeventfd({ addr: 0x6000n, len: 0, datamatch: false, data: 0n, fire: () => void fired++ });
    h.hyp.push(mmioRead(0x5000n, 4n), mmioWrite(0x6000n, 4n, 7n), mmioRead(0x7000n, 2n));
    expect(await h.run(fd)).toBe(0);
    map.write(24, bytes('78 56 34 12 ff ff ff ff'));
    expect(await h.run(fd)).toBe(0);
    expect(fired).toBe(1);
    expect(h.vm.ioeventfdWrites).toEqual([{ addr: 0x6000n, len: 4, value: 7n }]);
    expect(h.hyp.runCalls.map((c) => [c.r0, c.r1])).toEqual([
      [0n, 0n],
      [0x12345678n, 0n],
      [0n, 0n],
    ]);
    expect(head(map)).toBe(
      hexOf(
        bytes(`
          00 00 00 00 00 00 00 00   01 00 00 00 00 00 00 00
          00 70 00 00 00 00 00 00   78 56 34 12 ff ff ff ff
          02 00 00 00 00 00 00 00
        `),
      ),
    );
  });

  it('no demand paging: even when paging would succeed, MMIO faults exit and demandPage is never called', async () => {
    const h = new GhHarness();
    const { fd, map } = await h.startedVcpu(0);
    h.vm.demandPageResult = 0; // v17 would page in and RETRY without an exit
    h.hyp.push(mmioWrite(0x6000n, 4n, 1n), mmioRead(0x7000n, 4n));
    expect(await h.run(fd)).toBe(0);
    expect(map.read(8, 4)).toEqual(bytes('01000000'));
    expect(map.read(36, 1)).toEqual(bytes('01'));
    expect(await h.run(fd)).toBe(0);
    expect(map.read(36, 1)).toEqual(bytes('00'));
    expect(h.vm.demandPageCalls).toEqual([]);
    expect(h.hyp.runCalls).toHaveLength(2);
  });
});

describe('gh_ immediate_exit and the read completion (QUIRK K23 as in v17; GV5)', () => {
  it('K23 (default): the completion is consumed by the RUN that returns EINTR; the value is lost', async () => {
    const h = new GhHarness();
    const { inst, fd, map } = await h.startedVcpu(0);
    h.hyp.push(mmioRead(0x6000n, 4n), mmioRead(0x6004n, 4n));
    await h.run(fd);
    map.write(24, bytes('ef be ad de'));
    map.write(0, bytes('01'));
    expect(await outcome(h.run(fd))).toBe('EINTR');
    expect(inst.vcpu.state).toBe(VcpuState.READY);
    map.write(0, bytes('00'));
    await h.run(fd);
    expect(h.hyp.runCalls[1]).toEqual({ capid: 0x1000n, r0: 0n, r1: 0n, r2: 0n });
  });

  it('K23 off: the completion is kept for the RUN after the EINTR; byte 37 is never checked', async () => {
    const h = new GhHarness();
    h.vm.quirks = { ...DEFAULT_QUIRKS, k23ResumeLostOnEintr: false };
    const { inst, fd, map } = await h.startedVcpu(0);
    h.hyp.push(mmioRead(0x6000n, 4n), mmioRead(0x6004n, 4n));
    await h.run(fd);
    map.write(24, bytes('ef be ad de'));
    map.write(37, bytes('07'));
    map.write(0, bytes('01'));
    expect(await outcome(h.run(fd))).toBe('EINTR');
    expect(inst.vcpu.state).toBe(VcpuState.MMIO_READ);
    map.write(0, bytes('00'));
    await h.run(fd);
    expect(h.hyp.runCalls[1]).toEqual({ capid: 0x1000n, r0: 0xdeadbeefn, r1: 0n, r2: 0n });
  });

  it('set before RUN: EINTR before any hypervisor entry; the kernel never clears it', async () => {
    const h = new GhHarness();
    const { fd, map } = await h.startedVcpu(0);
    map.write(0, bytes('01'));
    expect(await outcome(h.run(fd))).toBe('EINTR');
    expect(h.hyp.runCalls).toHaveLength(0);
    expect(map.read(0, 1)).toEqual(bytes('01'));
  });

  it('setting it through the mapping kicks a RUN sleeping for a wakeup: EINTR', async () => {
    const h = new GhHarness();
    const { fd, map } = await h.startedVcpu(0, 40);
    h.hyp.push(ok(VcpuRunState.EXPECTS_WAKEUP));
    const p = h.run(fd);
    expect(await stillPending(p)).toBe(true);
    map.write(0, bytes('01'));
    expect(await outcome(p)).toBe('EINTR');
  });
});

describe('gh_ vcpu_run states', () => {
  it('ADDRSPACE_PAGE_FAULT (7) is unknown to gh_: rate-limited warnings and a spin until immediate_exit gives EINTR; no page-fault exit, no paging', async () => {
    const h = new GhHarness();
    const { fd, map } = await h.startedVcpu(0);
    // demandPage answers -ENOENT (FakeVm's default): v17 would give a PAGE_FAULT exit here.
    h.hyp.fallback = pageFault(0x9000n, true);
    const p = h.run(fd);
    expect(await stillPending(p, 30)).toBe(true);
    const calls = h.hyp.runCalls.length;
    expect(calls).toBeGreaterThan(15);
    const warnings = h.vm.logged(WARN, 'unknown vCPU state');
    expect(warnings).toHaveLength(10); // the burst, then rate-limited
    expect(warnings[0]).toMatchObject({ state: '0x7' });
    map.write(0, bytes('01'));
    expect(await outcome(p)).toBe('EINTR');
    const untouched = new Uint8Array(RUN_PAGE_HEAD);
    untouched[0] = 1; // immediate_exit, as the VMM set it; no exit was written
    expect(map.read(0, RUN_PAGE_HEAD)).toEqual(untouched);
    expect(h.vm.demandPageCalls).toEqual([]);
    expect(h.hyp.runCalls.every((c) => c.r0 === 0n && c.r1 === 0n && c.r2 === 0n)).toBe(true);
    expect(h.vm.trace.events).toEqual([]);
  });

  it('ADDRSPACE_PAGE_FAULT with QUIRK K14 off: EINVAL, as for any unknown state (GV4)', async () => {
    const h = new GhHarness();
    h.vm.quirks = { ...DEFAULT_QUIRKS, k14SpinOnUnknownState: false };
    const { fd } = await h.startedVcpu(0);
    h.hyp.push(pageFault(0x9000n, false));
    expect(await outcome(h.run(fd))).toBe('EINVAL');
    expect(h.hyp.runCalls).toHaveLength(1);
  });

  it('FAULT (6) once: a warning and a reschedule, then the guest runs to its exit', async () => {
    const h = new GhHarness();
    const { fd } = await h.startedVcpu(0);
    h.hyp.push(ok(VcpuRunState.FAULT), mmioRead(0x6000n, 4n));
    expect(await h.run(fd)).toBe(0);
    expect(h.vm.logged(WARN, 'unknown vCPU state')).toHaveLength(1);
  });

  it.each([
    ['READY', ok(VcpuRunState.READY)],
    ['BLOCKED', ok(VcpuRunState.BLOCKED)],
    ['error RETRY', hypErr(HypErrorCode.ERROR_RETRY)],
  ] as Array<[string, RunStep]>)('%s: a reschedule (one event-loop turn), then the loop goes on', async (_name, step) => {
    const h = new GhHarness();
    const { inst } = await h.startedVcpu(0);
    h.hyp.push(step, mmioRead(0x6000n, 4n));
    let turned = false;
    setImmediate(() => (turned = true));
    const r = inst.vcpu.run();
    expect(r).toBeInstanceOf(Promise);
    expect(await r).toBe(0);
    expect(turned).toBe(true);
    expect(h.hyp.runCalls).toHaveLength(2);
  });

  it.each([
    [HypErrorCode.ERROR_BUSY, 'EBUSY'],
    [HypErrorCode.ERROR_NOMEM, 'ENOMEM'],
    [HypErrorCode.ERROR_UNIMPLEMENTED, 'EOPNOTSUPP'],
  ] as const)('hypervisor error %i: RUN fails with the remapped %s', async (err, errno) => {
    const h = new GhHarness();
    const { fd } = await h.startedVcpu(0);
    h.hyp.push(hypErr(err));
    expect(await outcome(h.run(fd))).toBe(errno);
  });

  it('EXPECTS_WAKEUP: sleeps until the wakeup vIRQ, then loops', async () => {
    const h = new GhHarness();
    const { fd } = await h.startedVcpu(0, 41);
    h.hyp.push(ok(VcpuRunState.EXPECTS_WAKEUP), mmioRead(0x6000n, 4n));
    const p = h.run(fd);
    expect(await stillPending(p, 10)).toBe(true);
    h.hyp.raiseVirq(41);
    expect(await p).toBe(0);
    expect(h.hyp.runCalls).toHaveLength(2);
  });

  it('POWERED_OFF with the VM RUNNING: sleeps like EXPECTS_WAKEUP (until e.g. CPU_ON)', async () => {
    const h = new GhHarness();
    const { fd } = await h.startedVcpu(0, 41);
    h.hyp.push(ok(VcpuRunState.POWERED_OFF), mmioRead(0x6000n, 4n));
    const p = h.run(fd);
    expect(await stillPending(p, 10)).toBe(true);
    expect(h.hyp.runCalls).toHaveLength(1);
    h.hyp.raiseVirq(41);
    expect(await p).toBe(0);
  });

  it('POWERED_OFF with the VM no longer RUNNING: the STATUS exit at once (same status arm as v17)', async () => {
    const h = new GhHarness();
    const { inst, fd, map } = await h.startedVcpu(0, 41);
    h.hyp.push(() => {
      h.vm.exited(4, bytes('de ad'));
      return ok(VcpuRunState.POWERED_OFF);
    });
    expect(await h.run(fd)).toBe(0);
    expect(head(map)).toBe(
      hexOf(
        bytes(`
          00 00 00 00 00 00 00 00   02 00 00 00 00 00 00 00
          02 00 00 00 04 00 00 00   02 00 00 00 de ad 00 00
          00 00 00 00 00 00 00 00
        `),
      ),
    );
    expect(inst.vcpu.state).toBe(VcpuState.SYSTEM_DOWN);
  });

  it('every vCPU sees the exit: VM_EXITED wakes all sleeping vCPUs', async () => {
    const h = new GhHarness();
    const a = await h.startedVcpu(0, 40);
    const b = await h.startedVcpu(1, 41);
    h.hyp.push(ok(VcpuRunState.EXPECTS_WAKEUP), ok(VcpuRunState.POWERED_OFF));
    const pa = h.run(a.fd);
    const pb = h.run(b.fd);
    await turns();
    h.vm.exited(0, bytes('00'));
    expect(await pa).toBe(0);
    expect(await pb).toBe(0);
    expect(a.map.read(8, 12)).toEqual(bytes('02000000 00000000 02000000'));
    expect(b.map.read(8, 12)).toEqual(bytes('02000000 00000000 02000000'));
  });
});

describe('gh_ trace records', () => {
  it('are the same records as v17 gives for the same exits', async () => {
    const script = (): RunStep[] => [
      mmioWrite(0x6000n, 4n, 0x1_dead_beefn),
      mmioRead(0x7000n, 16n),
      ok(VcpuRunState.EXPECTS_WAKEUP),
    ];
    const run = async (h: Harness): Promise<unknown[]> => {
      const { fd } = await h.startedVcpu(3, 43);
      h.hyp.push(...script());
      await h.run(fd);
      await h.run(fd);
      const p = h.run(fd);
      await turns();
      h.vm.exited(1, bytes('0102'));
      await p;
      return h.vm.trace.events;
    };
    const v17 = await run(new Harness());
    const gh = await run(new GhHarness());
    expect(gh).toEqual(v17);
    expect(gh).toEqual([
      { kind: 'vcpu.exit', vm: 0, vmid: 0x45, vcpu: 3, reason: 'MMIO', addr: '0x6000', len: 4, write: true, data: '0xdeadbeef' },
      { kind: 'vcpu.exit', vm: 0, vmid: 0x45, vcpu: 3, reason: 'MMIO', addr: '0x7000', len: 8, write: false },
      {
        kind: 'vcpu.exit',
        vm: 0,
        vmid: 0x45,
        vcpu: 3,
        reason: 'STATUS',
        status: 2,
        statusName: 'EXITED',
        exitType: 1,
        reasonSize: 2,
        reasonHex: '0102000000000000',
      },
    ]);
  });
});
