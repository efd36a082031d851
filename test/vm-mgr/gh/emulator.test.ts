/**
 * `createEmulator({ dialect: 'gh' })`: the option, `emu.dialect`, and the RM default it brings
 * (`rm.imageParcelAtStart: 'keep'`): the gh_ driver takes every region back with MEM_RECLAIM
 * after the reset, so the image parcel must still exist then; with the v17 default ('absorb')
 * that reclaim fails and the image region's pages stay pinned for good.
 *
 * Reference: docs/decisions.md B2, B12 (absorb vs keep), G-rows; docs/gh-dialect.md.
 */
import { describe, expect, it } from 'vitest';
import { createEmulator } from '../../../src/emulator.js';
import { expectGhClean, GH, ghSetUp, PAGE } from './support.js';

const ok = (name: string) => ({ name, err: 'OK' });

describe('the dialect option', () => {
  it("default 'v17'; 'gh' on request; anything else is a TypeError", () => {
    const a = createEmulator();
    const b = createEmulator({ dialect: 'gh' });
    expect([a.dialect, b.dialect, a.kernel.dialect, b.kernel.dialect]).toEqual(['v17', 'gh', 'v17', 'gh']);
    a.close();
    b.close();
    expect(() => createEmulator({ dialect: 'v14' as 'gh' })).toThrow(TypeError);
  });

  it("gh_ keeps the image parcel at VM_START: after START the RM still has it, accepted by the VM", async () => {
    const s = await ghSetUp();
    await s.v.ioctl(s.vm, 'START', GH.START);
    expect((await s.t.emu.rm.control.inspect()).parcels.map((p) => ({ owner: p.owner, size: p.size, state: p.state }))).toEqual([
      { owner: 3, size: 16 * PAGE, state: 'SHARED' },
    ]);
    const m = s.t.mark();
    await expectGhClean(s.t);
    expect(s.t.hostRmCallsSince(m)).toEqual([ok('VM_STOP'), ok('VM_RESET'), ok('MEM_RECLAIM'), ok('VM_DEALLOCATE')]);
  });

  it("with rm.imageParcelAtStart 'absorb' given explicitly, the parcel is gone at START: MEM_RECLAIM fails and the pages stay pinned", async () => {
    const s = await ghSetUp({ emulator: { rm: { imageParcelAtStart: 'absorb' } } });
    await s.v.ioctl(s.vm, 'START', GH.START);
    expect((await s.t.emu.rm.control.inspect()).parcels).toEqual([]);
    const m = s.t.mark();
    await s.t.emu.host.closeAll();
    const calls = s.t.hostRmCallsSince(m);
    expect(calls.map((c) => c.name)).toEqual(['VM_STOP', 'VM_RESET', 'MEM_RECLAIM', 'VM_DEALLOCATE']);
    expect(calls[2]!.err).not.toBe('OK');
    expect(s.t.emu.kernel.leakedPinnedPages).toBe(16);
    expect(s.t.emu.kernel.pages.inUse).toBe(16);
    s.t.emu.close();
  });
});
