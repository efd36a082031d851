/**
 * quic/gunyah-test-vmm's boot sequence (vmm-flows.md §2) against the emulator, through the raw
 * contract: first exit is the command read at 0x6000; commands run; close leaves nothing.
 */
import { describe, expect, it } from 'vitest';
import { bootHoldingCell, expectCleanShutdown, GUEST_BASE } from './support/boot.js';
import { holdingCellCommand, runToMmio } from './support/holding-cell-driver.js';
import { HoldingCellCmd } from '../../src/guest/index.js';

describe('test-vmm boot sequence (v17)', () => {
  it('reaches the first MMIO exit: a read of 0x6000, len 8', async () => {
    const b = await bootHoldingCell();
    const m = await runToMmio(b.vcpus[0]!);
    expect(m).toMatchObject({ physAddr: 0x6000n, len: 8, isWrite: false });
    await expectCleanShutdown(b.emu);
  });

  it('runs holding-cell commands: ok, nok, loopback, magic, read_addr of the image', async () => {
    const b = await bootHoldingCell();
    const v = b.vcpus[0]!;
    expect(await holdingCellCommand(v, HoldingCellCmd.OK)).toBe(0n);
    expect(await holdingCellCommand(v, HoldingCellCmd.NOK)).toBe(0xffff_ffff_ffff_ffffn);
    expect(await holdingCellCommand(v, HoldingCellCmd.LOOPBACK, [0x1234_5678_9abcn])).toBe(0x1234_5678_9abcn);
    expect(await holdingCellCommand(v, HoldingCellCmd.MAGIC, [0xdeadf00dn])).toBe(1n);
    const first8 = new DataView(b.image.buffer, b.image.byteOffset).getBigUint64(0, true);
    expect(await holdingCellCommand(v, HoldingCellCmd.READ_ADDR, [GUEST_BASE])).toBe(first8);
    await expectCleanShutdown(b.emu);
  });
});
