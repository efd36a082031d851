/**
 * Test support for the replay tests: a two-VM × two-vCPU scenario whose four vCPUs are stepped
 * round-robin (holding-cell commands, PSCI CPU_ON of each secondary, SYSTEM_OFF), running the
 * CLI with captured output, and a scratch directory.
 *
 * Reference: vmm-flows.md §6.4–§6.6 (holding-cell commands, power_on_cell, power_off);
 * docs/scenarios.md (the file format, round-robin stepping); docs/tracing.md ("Replay").
 */
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { vi } from 'vitest';
import { main } from '../../src/cli/main.js';

/** PSCI function IDs (SMCCC, 64-bit CPU_ON; SYSTEM_OFF). */
const CPU_ON_64 = '0xc4000003';
const SYSTEM_OFF = '0x84000008';

/** One VM of the multi-VM scenario: vCPU 0 powers vCPU 1 on, both run commands, vCPU 0 powers off. */
function holdingCellVm(name: string, loop: number): Record<string, unknown> {
  return {
    name,
    vcpus: 2,
    guest: {
      holdingCell: [
        { vcpu: 0, cmd: 'OK' },
        { vcpu: 0, cmd: 'SMCCC_HVC', args: [CPU_ON_64, 1, '0x80000000', 0, 0] },
        { vcpu: 1, cmd: 'LOOPBACK', args: [loop + 0x10] },
        { vcpu: 1, cmd: 'MAGIC', args: ['0x4d41474943'] },
        { vcpu: 1, cmd: 'LOOPBACK', args: [loop + 0x11] },
        { vcpu: 0, cmd: 'LOOPBACK', args: [loop + 1] },
        { vcpu: 0, cmd: 'LOOPBACK', args: [loop + 2] },
        { vcpu: 0, cmd: 'SMCCC_HVC', args: [SYSTEM_OFF, 0, 0, 0, 0] },
      ],
    },
  };
}

/** Two VMs of two vCPUs each, all four stepped round-robin (the default schedule). */
export const MULTI_VM_SCENARIO: Record<string, unknown> = {
  description: 'Two VMs of two vCPUs each, stepped round-robin: each VM powers its secondary on, all four vCPUs run holding-cell commands, each VM powers itself off.',
  machine: { cpus: 4, seed: 3 },
  vms: [holdingCellVm('a', 0x100), holdingCellVm('b', 0x200)],
  expect: [
    { exit: { vm: 'a', vcpu: 0, kind: 'status', status: 'EXITED', exitType: 'PLATFORM_OFF' } },
    { exit: { vm: 'b', vcpu: 0, kind: 'status', status: 'EXITED', exitType: 'PLATFORM_OFF' } },
    { shutdown: { clean: true } },
  ],
};

/** A fresh scratch directory. */
export function scratchDir(): string {
  return mkdtempSync(join(tmpdir(), 'gunyah-emu-replay-'));
}

/** Run the CLI with `argv`, capturing stdout and stderr. */
export async function runCli(argv: string[]): Promise<{ code: number; out: string; err: string }> {
  let out = '';
  let err = '';
  const o = vi.spyOn(process.stdout, 'write').mockImplementation((s) => ((out += String(s)), true));
  const e = vi.spyOn(process.stderr, 'write').mockImplementation((s) => ((err += String(s)), true));
  try {
    const code = await main(argv);
    return { code, out, err };
  } finally {
    o.mockRestore();
    e.mockRestore();
  }
}
