/**
 * The embedded default scenario of `gunyah-emu run`: a userspace VMM written against the raw
 * HostProcess contract (open, ioctl with hand-laid structs, mmap of the run page) boots a
 * two-vCPU holding-cell VM the way quic/gunyah-test-vmm does, drives holding-cell commands on
 * both vCPUs (vCPU 1's first RUN sleeps until vCPU 0 powers it on with PSCI CPU_ON, as a VMM
 * with a thread per vCPU sees it), has the guest power itself off
 * with PSCI SYSTEM_OFF, closes every fd and checks that nothing is left behind. Then, on the
 * same emulator, the SCMI part (scmi-scenario.ts): a guest VM with a virtio-scmi device behind
 * its MMIO exits votes on a clock, the host votes too, the guest crashes and its vote goes.
 *
 * Reference: vmm-flows.md §2 (boot order), §6.4–§6.6 (commands, loop, power_on_cell and
 * power_off), §6.7 (read_addr of the image); uapi.md §8.10 (STATUS exits: every vCPU sees the
 * exit), §8.3 (teardown when the last fd goes); docs/guest-images.md (read_addr of our image).
 */
import { createEmulator, type EmulatorOptions } from '../emulator.js';
import { HOLDING_CELL_MAGIC_VALUE, HoldingCellCmd } from '../guest/holding-cell-protocol.js';
import { PsciFn } from '../guest/smccc.js';
import { ExitType } from '../rm-rpc/wire/enums.js';
import { GUNYAH_VM_STATUS_EXITED } from '../vm-mgr/uapi/constants.js';
import type { RunPage, RunPageStatus } from '../vm-mgr/uapi/run-page.js';
import { bootHoldingCell, GUEST_BASE, type BootedHoldingCell } from './holding-cell-boot.js';
import { describeExit, runCommand } from './holding-cell-driver.js';
import type { RawHost, SyscallRecord } from './raw-ioctl.js';
import { closeEverything, inspectShutdown, type ShutdownReport } from './shutdown-check.js';
import { runScmiScenario, type ScmiScenarioResult } from './scmi-scenario.js';
import type { ExitCounts, RawVcpu } from './raw-vcpu.js';

const VCPUS = 2;

/** One holding-cell command as the scenario ran it. */
export interface CommandOutcome {
  readonly vcpu: number;
  readonly name: string;
  readonly args: readonly bigint[];
  /** The result word, or undefined when no result was written. */
  readonly result: bigint | undefined;
  /** What the protocol says the result is (undefined: no result write). */
  readonly expected: bigint | undefined;
  readonly ok: boolean;
  /** For a command without a result: the exit that ended it. */
  readonly endedWith?: string;
}

/** Per-vCPU exit summary. */
export interface VcpuSummary {
  readonly id: number;
  readonly counts: ExitCounts;
  readonly expected: ExitCounts;
  /** The final STATUS exit, if there was one. */
  readonly finalStatus: RunPageStatus | undefined;
}

export interface DefaultScenarioResult {
  readonly syscalls: readonly SyscallRecord[];
  /**
   * vCPU 1's first RUN was issued before vCPU 0's CPU_ON and stayed asleep (the vCPU was powered
   * off) until CPU_ON woke it: true when it did not return before.
   */
  readonly secondarySleptUntilCpuOn: boolean;
  readonly commands: readonly CommandOutcome[];
  readonly vcpus: readonly VcpuSummary[];
  readonly shutdown: ShutdownReport;
  /** The SCMI part, run after the holding-cell part's shutdown check. */
  readonly scmi: ScmiScenarioResult;
  readonly invariantViolations: readonly string[];
  /** Every mismatch: wrong results, unexpected exits, wrong counts, anything left behind. */
  readonly problems: readonly string[];
}

/** A command step of the scenario. */
interface Step {
  readonly vcpu: number;
  readonly name: string;
  readonly id: number;
  readonly args: readonly bigint[];
  /** undefined: the command writes no result (SYSTEM_OFF). */
  readonly expected: bigint | undefined;
  /** PSCI CPU_ON of this vCPU: its first RUN is issued before the command, as its thread would. */
  readonly powersOn?: number;
}

/** "GEMUHOLD" read as a little-endian u64: read_addr of our image's first 8 bytes. */
function firstWord(image: Uint8Array): bigint {
  return new DataView(image.buffer, image.byteOffset, 8).getBigUint64(0, true);
}

/** The commands, in order: both vCPUs' checks, CPU_ON between them, SYSTEM_OFF last. */
function plan(image: Uint8Array): Step[] {
  const checks = (vcpu: number, loop: bigint): Step[] => [
    { vcpu, name: 'OK', id: HoldingCellCmd.OK, args: [], expected: 0n },
    { vcpu, name: 'LOOPBACK', id: HoldingCellCmd.LOOPBACK, args: [loop], expected: loop },
    { vcpu, name: 'MAGIC', id: HoldingCellCmd.MAGIC, args: [HOLDING_CELL_MAGIC_VALUE], expected: 1n },
    { vcpu, name: 'READ_ADDR', id: HoldingCellCmd.READ_ADDR, args: [GUEST_BASE], expected: firstWord(image) },
  ];
  const hvc = (fn: number, a: readonly bigint[]): bigint[] => [BigInt(fn), ...a, 0n, 0n, 0n, 0n].slice(0, 5);
  return [
    ...checks(0, 0x0123_4567_89ab_cdefn),
    // power_on_cell(1): smccc_hvc(CPU_ON 64-bit, target 1, entry, context 0); PSCI SUCCESS is 0.
    { vcpu: 0, name: 'SMCCC_HVC CPU_ON(1)', id: HoldingCellCmd.SMCCC_HVC, args: hvc(PsciFn.CPU_ON_64, [1n, GUEST_BASE, 0n]), expected: 0n, powersOn: 1 },
    ...checks(1, 0xfedc_ba98_7654_3210n),
    { vcpu: 0, name: 'SMCCC_HVC SYSTEM_OFF', id: HoldingCellCmd.SMCCC_HVC, args: hvc(PsciFn.SYSTEM_OFF, []), expected: undefined },
  ];
}

/** Exits the protocol predicts: 1 + nargs reads and one result write per command; one STATUS exit at the end. */
function expectedCounts(steps: readonly Step[], vcpu: number): ExitCounts {
  const mine = steps.filter((s) => s.vcpu === vcpu);
  return {
    mmioRead: mine.reduce((n, s) => n + 1 + s.args.length, 0),
    mmioWrite: mine.filter((s) => s.expected !== undefined).length,
    status: 1,
    pageFault: 0,
    other: 0,
  };
}

const hex = (v: bigint): string => `0x${v.toString(16)}`;

/**
 * Run the default scenario on a fresh emulator. `options` go to createEmulator (fault plans and
 * quirk switches turn the scenario into a failing one; the report then lists the mismatches).
 */
export async function runDefaultScenario(seed = 1, options: Omit<EmulatorOptions, 'seed'> = {}): Promise<DefaultScenarioResult> {
  const emu = createEmulator({ ...options, seed });
  const raw: RawHost = { host: emu.host, log: [] };
  const problems: string[] = [];
  const commands: CommandOutcome[] = [];
  let booted: BootedHoldingCell | undefined;
  let steps: Step[] = [];
  let slept = false;
  try {
    try {
      booted = await bootHoldingCell(raw, VCPUS);
      steps = plan(booted.image);
      slept = await drive(booted.vcpus, steps, commands, problems);
      await finalExits(booted.vcpus, problems);
    } catch (err) {
      problems.push(err instanceof Error ? err.message : String(err));
    }
    const vcpus = (booted?.vcpus ?? []).map((v) => summarize(v, steps, problems));
    const fdsClosed = await closeEverything(raw, booted, problems);
    const shutdown = await inspectShutdown(emu, fdsClosed, problems);
    const scmi = await runScmiScenario(emu, problems);
    return { syscalls: raw.log, secondarySleptUntilCpuOn: slept, commands, vcpus, shutdown, scmi, invariantViolations: emu.checkInvariants(), problems };
  } finally {
    emu.close();
  }
}

/** Run the steps; returns whether the secondary's early RUN slept until CPU_ON. */
async function drive(vcpus: readonly RawVcpu[], steps: readonly Step[], out: CommandOutcome[], problems: string[]): Promise<boolean> {
  const inFlight = new Map<number, Promise<RunPage>>();
  let slept = false;
  for (const s of steps) {
    if (s.powersOn !== undefined) {
      // The secondary's thread is already in RUN; the vCPU is off, so the RUN sleeps (uapi.md §8.5 POWERED_OFF).
      let returned = false;
      const p = vcpus[s.powersOn]!.run();
      p.then(
        () => (returned = true),
        () => (returned = true),
      );
      inFlight.set(s.powersOn, p);
      await new Promise<void>((resolve) => setImmediate(resolve));
      slept = !returned;
      if (returned) problems.push(`vCPU ${s.powersOn}: its RUN returned before CPU_ON`);
    }
    const v = vcpus[s.vcpu]!;
    const pending = inFlight.get(s.vcpu);
    inFlight.delete(s.vcpu);
    const r = await runCommand(v, s.id, s.args, { expectResult: s.expected !== undefined, ...(pending ? { inFlight: pending } : {}) });
    const ok = s.expected === undefined ? isExited(r.end) : r.result === s.expected;
    const endedWith = r.result === undefined ? describeExit(r.end) : undefined;
    out.push({ vcpu: s.vcpu, name: s.name, args: s.args, result: r.result, expected: s.expected, ok, ...(endedWith ? { endedWith } : {}) });
    if (!ok) {
      problems.push(
        s.expected === undefined
          ? `vCPU ${s.vcpu} ${s.name}: expected a STATUS exit EXITED, got ${endedWith}`
          : `vCPU ${s.vcpu} ${s.name}: result ${r.result === undefined ? 'none' : hex(r.result)}, expected ${hex(s.expected)}`,
      );
    }
  }
  return slept;
}

function isExited(e: RunPage | undefined): boolean {
  return e?.kind === 'status' && e.status.status === GUNYAH_VM_STATUS_EXITED && e.status.exitType === ExitType.PLATFORM_OFF;
}

/** Every vCPU that has not seen the VM's exit yet runs once more and must get it (uapi.md §8.10). */
async function finalExits(vcpus: readonly RawVcpu[], problems: string[]): Promise<void> {
  for (const v of vcpus) {
    if (v.last?.kind === 'status') continue;
    const e = await v.run();
    if (!isExited(e)) problems.push(`vCPU ${v.id}: expected a STATUS exit EXITED after SYSTEM_OFF, got ${describeExit(e)}`);
  }
}

function summarize(v: RawVcpu, steps: readonly Step[], problems: string[]): VcpuSummary {
  const expected = expectedCounts(steps, v.id);
  const counts = { ...v.counts };
  for (const k of Object.keys(expected) as Array<keyof ExitCounts>) {
    if (counts[k] !== expected[k]) problems.push(`vCPU ${v.id}: ${counts[k]} ${k} exits, expected ${expected[k]}`);
  }
  return { id: v.id, counts, expected, finalStatus: v.last?.kind === 'status' ? v.last.status : undefined };
}
