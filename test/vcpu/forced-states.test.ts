/**
 * Forced vcpu_run answers and rewritten VM_EXITED notifications (FaultPlan.vcpuRun and
 * .vmExited, src/shared/faults.ts), end to end through the typed VMM layer: what the VMM sees is
 * what uapi.md says Linux does with each raw hypervisor answer.
 *
 * Reference: hypervisor.md §6 (vcpu_run states and data words); uapi.md §8.4 (the RUN loop),
 * §8.5 (each state: unknown ones — FAULT 6, PSCI_SYSTEM_RESET 0x100, anything else — log a
 * rate-limited warning and spin, QUIRK K14; POWERED_OFF while RUNNING sleeps), §8.6 (MMIO path:
 * size over 8 clamped with a warning; demand paging first), §8.8 (page-fault exit, -ENOENT
 * without a binding), §8.9 (immediate_exit: EINTR, also ending a sleep), §8.10 (VM_EXITED:
 * exit_type and reason_size copied unchecked, QUIRK K15, min(8, size) reason bytes);
 * rm-rpc.md §13 (NOTIFY_VM_EXITED layout).
 */
import { describe, expect, it } from 'vitest';
import { pino } from 'pino';
import { guestProgram } from '../../src/guest/index.js';
import { createMemoryTraceSink } from '../../src/shared/trace.js';
import type { FaultPlan } from '../../src/shared/faults.js';
import { createEmulator } from '../../src/emulator.js';
import { GUNYAH_VM_STATUS_EXITED } from '../../src/vm-mgr/uapi/index.js';
import { bootProgram, MARK, expectWrite, runMmio, runStatus, stillPending } from '../vm-mgr/support/programs.js';
import { expectCleanShutdown } from '../vm-mgr/support/boot.js';

const errno = (code: string) => expect.objectContaining({ code });
/** Exit type PLATFORM_OFF (rm-rpc.md §15.1): what PSCI SYSTEM_OFF gives. */
const EXIT_PLATFORM_OFF = 1;

interface Logged {
  readonly level: number;
  readonly msg: string;
  readonly [k: string]: unknown;
}

/** A program that reports at MARK and powers the system off; an emulator with `faults`. */
async function boot(faults: FaultPlan, extra: { quirks?: { k14SpinOnUnknownState: boolean }; vcpus?: number } = {}) {
  const records: Logged[] = [];
  const log = pino({ level: 'trace' }, { write: (s: string) => void records.push(JSON.parse(s) as Logged) });
  const trace = createMemoryTraceSink();
  const b = await bootProgram(
    guestProgram().onCpu(0, (p) => p.mmioWrite(MARK, 8, 1).systemOff()),
    { vcpus: extra.vcpus ?? 1, emulator: { faults, log, trace, ...(extra.quirks ? { quirks: extra.quirks } : {}) } },
  );
  const warned = (text: string): Logged[] => records.filter((r) => r.level === 40 && r.msg.includes(text));
  return { ...b, trace, warned };
}

describe('forced vcpu_run states (FaultPlan.vcpuRun; uapi.md §8.5)', () => {
  it('an unknown state (0x55), sticky: RUN spins (QUIRK K14) with one rate-limited warning until immediate_exit gives EINTR', async () => {
    const b = await boot({ vcpuRun: [{ vcpu: 0, state: 0x55, sticky: true }] });
    const v = b.vcpus[0]!;
    const run = v.run();
    expect(await stillPending(run, 50)).toBe(true);
    v.setImmediateExit(true);
    await expect(run).rejects.toEqual(errno('EINTR'));
    const w = b.warned('unknown vCPU state');
    expect(w.length).toBeGreaterThanOrEqual(1);
    expect(w[0]).toMatchObject({ state: '0x55' });
    const forced = b.trace.events.filter((e) => e.kind === 'vcpu.state' && e['forced'] === true);
    expect(forced.length).toBeGreaterThan(1);
    expect(forced[0]).toMatchObject({ vcpu: 0, error: 0, state: 0x55, stateName: '0x55', data: ['0x0', '0x0', '0x0'] });
    expect(b.emu.faults.fired.filter((f) => f.layer === 'vcpu_run').length).toBe(forced.length);
    await expectCleanShutdown(b.emu);
  });

  it('an unknown state with QUIRK K14 off: RUN fails with EINVAL', async () => {
    const b = await boot({ vcpuRun: [{ state: 0x55 }] }, { quirks: { k14SpinOnUnknownState: false } });
    await expect(b.vcpus[0]!.run()).rejects.toEqual(errno('EINVAL'));
    await expectCleanShutdown(b.emu);
  });

  it('PSCI_SYSTEM_RESET (0x100) is an unknown state to Linux as well (EINVAL with K14 off)', async () => {
    const b = await boot({ vcpuRun: [{ state: 0x100, stateData: [0x8000_0000_0000_0000n, 0n, 0n] }] }, { quirks: { k14SpinOnUnknownState: false } });
    await expect(b.vcpus[0]!.run()).rejects.toEqual(errno('EINVAL'));
    await expectCleanShutdown(b.emu);
  });

  it('FAULT (6) once: Linux warns and loops; the next vcpu_run runs the guest, so the VMM sees its first exit', async () => {
    const b = await boot({ vcpuRun: [{ state: 6, occurrence: 1 }] });
    const v = b.vcpus[0]!;
    await expectWrite(v, MARK, 1n);
    expect(b.warned('unknown vCPU state')).toHaveLength(1);
    expect(b.trace.events.filter((e) => e.kind === 'fault.injected')).toEqual([
      expect.objectContaining({ layer: 'vcpu_run', occurrence: 1, error: 'state 0x6 data 0x0,0x0,0x0' }),
    ]);
    await expectCleanShutdown(b.emu);
  });

  it('ADDRSPACE_VMMIO_READ with access size 16: an MMIO read exit of 8 bytes (clamped, warned) at the forced address', async () => {
    const b = await boot({ vcpuRun: [{ state: 4, stateData: [0x6100n, 16n, 0n] }] });
    const v = b.vcpus[0]!;
    expect(await runMmio(v)).toMatchObject({ physAddr: 0x6100n, len: 8, isWrite: false });
    expect(b.warned('larger than 8 bytes')).toHaveLength(1);
    // The guest never made that access: after the VMM's answer it boots and reports as usual.
    v.setMmioData(0n);
    await expectWrite(v, MARK, 1n);
    await expectCleanShutdown(b.emu);
  });

  it('ADDRSPACE_VMMIO_WRITE of 3 bytes: an MMIO write exit of len 3 carrying the low 3 bytes of the value', async () => {
    const b = await boot({ vcpuRun: [{ state: 5, stateData: [0x6200n, 3n, 0xaabb_ccddn] }] });
    const m = await runMmio(b.vcpus[0]!);
    expect({ addr: m.physAddr, len: m.len, write: m.isWrite, low3: m.data & 0xff_ffffn }).toEqual({ addr: 0x6200n, len: 3, write: true, low3: 0xbb_ccddn });
    await expectWrite(b.vcpus[0]!, MARK, 1n);
    await expectCleanShutdown(b.emu);
  });

  it('ADDRSPACE_PAGE_FAULT at an address no binding covers: a PAGE_FAULT exit with attempt -ENOENT (§8.8)', async () => {
    const b = await boot({ vcpuRun: [{ state: 7, stateData: [0x4000_0000n, 1n, 0n] }] });
    const exit = await b.vcpus[0]!.run();
    expect(exit).toMatchObject({ kind: 'page-fault', pageFault: { physAddr: 0x4000_0000n, attempt: -2 } });
    await expectCleanShutdown(b.emu);
  });

  it('POWERED_OFF with the exited flag while the VM runs: RUN sleeps for a wakeup; immediate_exit ends it with EINTR', async () => {
    // Sticky: the first sleep ends at once on the wakeup START left pending (a completed
    // completion), the second one waits.
    const b = await boot({ vcpuRun: [{ state: 2, stateData: [1n, 0n, 0n], sticky: true }] });
    const v = b.vcpus[0]!;
    const run = v.run();
    expect(await stillPending(run)).toBe(true);
    expect(b.emu.faults.fired).toHaveLength(2);
    v.setImmediateExit(true);
    await expect(run).rejects.toEqual(errno('EINTR'));
    await expectCleanShutdown(b.emu);
  });

  it('POWERED_OFF once: the wakeup START left pending ends the sleep at once and the guest runs', async () => {
    const b = await boot({ vcpuRun: [{ state: 2, stateData: [1n, 0n, 0n] }] });
    await expectWrite(b.vcpus[0]!, MARK, 1n);
    expect(b.emu.faults.fired).toHaveLength(1);
    await expectCleanShutdown(b.emu);
  });

  it('vmid / vcpu filters: only the named vCPU gets the forced answer, and occurrences count its runs only', async () => {
    const b = await bootProgram(guestProgram().onCpu(0, (p) => p.mmioWrite(MARK, 8, 1).spin()), {
      vcpus: 2,
      emulator: { faults: { vcpuRun: [{ vcpu: 1, state: 7, stateData: [0x4000_0000n, 0n, 0n] }] } },
    });
    await expectWrite(b.vcpus[0]!, MARK, 1n);
    expect(b.emu.faults.fired).toEqual([]);
    const exit = await b.vcpus[1]!.run();
    expect(exit).toMatchObject({ kind: 'page-fault', pageFault: { physAddr: 0x4000_0000n, attempt: -2 } });
    expect(b.emu.faults.fired).toEqual([expect.objectContaining({ layer: 'vcpu_run', what: expect.stringMatching(/ vcpu 1$/), occurrence: 1 })]);
    await expectCleanShutdown(b.emu);
  });

  it('checks the plan at createEmulator: state, data words, filters', () => {
    expect(() => createEmulator({ faults: { vcpuRun: [{ state: -1 }] } })).toThrow(/faults\.vcpuRun\[0\]: state/);
    expect(() => createEmulator({ faults: { vcpuRun: [{ state: 4, stateData: [1n, -1n, 0n] }] } })).toThrow(/stateData\[1\]/);
    expect(() => createEmulator({ faults: { vcpuRun: [{ state: 4, vmid: 0x1_0000 }] } })).toThrow(/vmid/);
    expect(() => createEmulator({ faults: { vcpuRun: [{ state: 4, occurrence: 0 }] } })).toThrow(/occurrence/);
    expect(() => createEmulator({ faults: { vmExited: [{ exitType: 0x1_0000 }] } })).toThrow(/faults\.vmExited\[0\]: exitType/);
    expect(() => createEmulator({ faults: { vmExited: [{ reason: [0, 256] }] } })).toThrow(/reason\[1\]/);
    createEmulator({ faults: { vcpuRun: [{ state: 0x100, stateData: [0, 2 ** 40, 0xffff_ffff_ffff_ffffn] }], vmExited: [{ reason: [] }] } }).close();
  });
});

describe('rewritten VM_EXITED (FaultPlan.vmExited; uapi.md §8.10)', () => {
  it('an unknown exit type and a 2-byte reason: the STATUS exit carries both as sent', async () => {
    const b = await boot({ vmExited: [{ exitType: 0x55, reason: [0x01, 0x02] }] });
    const v = b.vcpus[0]!;
    await expectWrite(v, MARK, 1n);
    expect(await runStatus(v)).toEqual({ status: GUNYAH_VM_STATUS_EXITED, exitType: 0x55, reasonSize: 2, reason: Uint8Array.of(1, 2, 0, 0, 0, 0, 0, 0) });
    expect(b.emu.faults.fired).toEqual([expect.objectContaining({ layer: 'vm_exited', occurrence: 1, error: 'exit_type 0x55 reason_size 2' })]);
    await expectCleanShutdown(b.emu);
  });

  it('a 16-byte reason: reason_size 16 is not clamped (QUIRK K15); the page keeps the first 8 bytes', async () => {
    const reason = Array.from({ length: 16 }, (_, i) => 0x10 + i);
    const b = await boot({ vmExited: [{ reason }] });
    const v = b.vcpus[0]!;
    await expectWrite(v, MARK, 1n);
    expect(await runStatus(v)).toEqual({ status: GUNYAH_VM_STATUS_EXITED, exitType: EXIT_PLATFORM_OFF, reasonSize: 16, reason: Uint8Array.from(reason.slice(0, 8)) });
    await expectCleanShutdown(b.emu);
  });

  it('no reason at all: reason_size 0 and 8 zero bytes', async () => {
    const b = await boot({ vmExited: [{ reason: [] }] });
    const v = b.vcpus[0]!;
    await expectWrite(v, MARK, 1n);
    expect(await runStatus(v)).toEqual({ status: GUNYAH_VM_STATUS_EXITED, exitType: EXIT_PLATFORM_OFF, reasonSize: 0, reason: new Uint8Array(8) });
    await expectCleanShutdown(b.emu);
  });

  it('a vmid filter that does not match leaves the notification alone', async () => {
    const b = await boot({ vmExited: [{ vmid: 0x3f, exitType: 0x55 }] });
    const v = b.vcpus[0]!;
    await expectWrite(v, MARK, 1n);
    expect(await runStatus(v)).toMatchObject({ exitType: EXIT_PLATFORM_OFF, reasonSize: 4 });
    expect(b.emu.faults.fired).toEqual([]);
    await expectCleanShutdown(b.emu);
  });
});
