/**
 * Test support: the VMM side of the holding-cell protocol (vmm-flows.md §6.5, TVMM run_test):
 * RUN → the command read at 0x6000 → supply the word → one RUN and supply per argument → RUN →
 * the result write at 0x6000.
 */
import { expect } from 'vitest';
import type { VcpuFd } from '../../../src/vmm/index.js';
import { holdingCellWord } from '../../../src/guest/index.js';

export const CMD_REG = 0x6000n;

/** RUN and expect an MMIO exit; returns it. */
export async function runToMmio(vcpu: VcpuFd): Promise<{ physAddr: bigint; data: bigint; len: number; isWrite: boolean }> {
  const exit = await vcpu.run();
  if (exit.kind !== 'mmio') throw new Error(`expected an MMIO exit, got ${JSON.stringify(exit, (_, v) => (typeof v === 'bigint' ? `0x${v.toString(16)}` : v))}`);
  return exit.mmio;
}

/** Run one holding-cell command with its arguments; returns the result word. */
export async function holdingCellCommand(vcpu: VcpuFd, id: number, args: readonly bigint[] = []): Promise<bigint> {
  let m = await runToMmio(vcpu);
  expect({ addr: m.physAddr, write: m.isWrite, len: m.len }).toEqual({ addr: CMD_REG, write: false, len: 8 });
  vcpu.setMmioData(holdingCellWord(id, args.length));
  for (const a of args) {
    m = await runToMmio(vcpu);
    expect({ addr: m.physAddr, write: m.isWrite }).toEqual({ addr: CMD_REG, write: false });
    vcpu.setMmioData(a);
  }
  m = await runToMmio(vcpu);
  expect({ addr: m.physAddr, write: m.isWrite, len: m.len }).toEqual({ addr: CMD_REG, write: true, len: 8 });
  return m.data;
}
