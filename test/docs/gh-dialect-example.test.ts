// examples/gh-dialect.ts runs and does what its header and docs/gh-dialect.md say: a gh_ VMM in
// crosvm's order (README.md §Dialects; vmm-flows.md §3, §9 Q1, Q12, Q14) boots the holding cell
// from its own lent RAM, and after it closed every fd nothing is left and the RAM is the host's.
import { describe, expect, it } from 'vitest';
import { createEmulator } from '../../src/emulator.js';
import { ghDialectExample } from '../../examples/gh-dialect.js';

describe('the gh_ dialect example VMM', () => {
  it('boots by RUN alone, serves MMIO with implicit completion, loses its lent RAM while the VM runs and gets it back', async () => {
    const emu = createEmulator({ dialect: 'gh' });
    const pagesBefore = emu.kernel.pages.inUse;
    const r = await ghDialectExample(emu);
    expect(r).toEqual({
      timerWakeups: 0, // docs/gh-dialect.md: GH_CAP_VCPU_TIMER_WAKEUP is not offered
      bootContext: 'ENOTTY',
      loopback: 42n,
      readIo: 0x600dn, // the value the VMM left in mmio.data reached the guest
      ioeventfdCount: 1n,
      hostReadWhileLent: 'SigbusError',
      exitType: 1, // PLATFORM_OFF
      runAfterExit: 'ENODEV',
      dataAfterTeardown: 0x5eedn,
    });
    // The example closed and unmapped everything itself; the RM, the hypervisor and the page
    // pool are as before it ran.
    expect(emu.host.openFiles()).toEqual([]);
    expect(emu.host.liveMappings()).toEqual([]);
    expect(emu.host.allocations()).toEqual([]);
    const rm = await emu.rm.control.inspect();
    expect(rm.vms.map((v) => v.vmid).filter((v) => v !== 3)).toEqual([]);
    expect(rm.parcels).toEqual([]);
    expect([...emu.hyp.memory.ownership().keys()]).toEqual([3]);
    expect(emu.checkInvariants()).toEqual([]);
    expect(emu.kernel.liveVms).toBe(0);
    expect(emu.kernel.pages.inUse).toBe(pagesBefore);
    expect(emu.kernel.leakedPinnedPages).toBe(0);
    emu.close();
  });

  it('the same VMM against a v17 kernel stops at the first gh_-only request', async () => {
    const emu = createEmulator();
    await expect(ghDialectExample(emu)).rejects.toMatchObject({ code: 'ENOTTY' });
    await emu.shutdown();
  });
});
