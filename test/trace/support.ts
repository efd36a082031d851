/**
 * Test support for the trace tests: a multi-VM, multi-vCPU holding-cell workload through the
 * typed VMM layer (two VMs of two vCPUs each; CPU_ON of each secondary, then every vCPU runs
 * its commands at the same time with Promise.all, then each VM powers itself off), and a
 * JSON-lines collector.
 *
 * Reference: vmm-flows.md §6.4–§6.6 (holding-cell commands, power_on_cell, power_off);
 * uapi.md §8.10 (every vCPU sees the STATUS exit); docs/tracing.md (JSON lines).
 */
import { expect } from 'vitest';
import { createEmulator, type Emulator, type EmulatorOptions } from '../../src/emulator.js';
import { HOLDING_CELL_MAGIC_VALUE, HoldingCellCmd, PsciFn, holdingCellWord } from '../../src/guest/index.js';
import { createJsonLinesSink, traceHeader } from '../../src/trace/index.js';
import type { VcpuFd } from '../../src/vmm/index.js';
import { bootHoldingCell, expectCleanShutdown, GUEST_BASE } from '../vm-mgr/support/boot.js';
import { holdingCellCommand, runToMmio } from '../vm-mgr/support/holding-cell-driver.js';

const hvcArgs = (fn: number, ...a: bigint[]): bigint[] => [BigInt(fn), ...a, 0n, 0n, 0n, 0n].slice(0, 5);

/** The checks every vCPU runs (result words as the protocol defines them). */
async function checks(v: VcpuFd, loop: bigint): Promise<void> {
  expect(await holdingCellCommand(v, HoldingCellCmd.OK)).toBe(0n);
  expect(await holdingCellCommand(v, HoldingCellCmd.LOOPBACK, [loop])).toBe(loop);
  expect(await holdingCellCommand(v, HoldingCellCmd.MAGIC, [HOLDING_CELL_MAGIC_VALUE])).toBe(1n);
  expect(await holdingCellCommand(v, HoldingCellCmd.LOOPBACK, [loop ^ 0xffn])).toBe(loop ^ 0xffn);
}

/** SMCCC_HVC SYSTEM_OFF: the command and its 5 arguments, then the STATUS exit. */
async function systemOff(v: VcpuFd): Promise<void> {
  const args = hvcArgs(PsciFn.SYSTEM_OFF);
  await runToMmio(v);
  v.setMmioData(holdingCellWord(HoldingCellCmd.SMCCC_HVC, args.length));
  for (const a of args) {
    await runToMmio(v);
    v.setMmioData(a);
  }
  expect(await v.run()).toMatchObject({ kind: 'status' });
}

/**
 * Two VMs × two vCPUs on `emu`: boot both, CPU_ON each secondary, run the checks on all four
 * vCPUs at once, power both VMs off (their other vCPU sees the exit too), close everything.
 */
export async function multiVmWorkload(emu: Emulator): Promise<void> {
  const a = await bootHoldingCell({ vcpus: 2 }, emu);
  const b = await bootHoldingCell({ vcpus: 2 }, emu);
  for (const vm of [a, b]) {
    const [v0] = vm.vcpus as [VcpuFd, VcpuFd];
    expect(await holdingCellCommand(v0, HoldingCellCmd.SMCCC_HVC, hvcArgs(PsciFn.CPU_ON_64, 1n, GUEST_BASE, 0n))).toBe(0n);
  }
  const all = [...a.vcpus, ...b.vcpus];
  await Promise.all(all.map((v, i) => checks(v, 0x1111_0000n * BigInt(i + 1))));
  await Promise.all([a, b].map((vm) => systemOff(vm.vcpus[0]!)));
  await Promise.all([a, b].map(async (vm) => expect(await vm.vcpus[1]!.run()).toMatchObject({ kind: 'status' })));
  await expectCleanShutdown(emu);
}

/** Run `work` on a fresh emulator whose trace goes to JSON lines; resolves to the text. */
export async function traceText(work: (emu: Emulator) => Promise<void>, opts: Omit<EmulatorOptions, 'trace'> = {}, seed = 1): Promise<string> {
  let text = '';
  const sink = createJsonLinesSink((s) => void (text += s), traceHeader(seed, 'test'));
  const emu = createEmulator({ ...opts, seed, trace: sink });
  try {
    await work(emu);
  } finally {
    emu.close();
    sink.close();
  }
  return text;
}
