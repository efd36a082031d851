// The code docs/porting-guide.md quotes runs and does what the guide says.
// examples/porting-guide.ts: MMIO exits served by the VMM (uapi.md §8.6), an ioeventfd absorbing
// its matching write (§8.14), an irqfd ringing the guest's doorbell (§8.13), SIGBUS on lent memory
// (§8.11, vmm-flows.md Q12), the STATUS exit of SYSTEM_OFF (§8.10, vmm-flows.md §6.6), ENODEV on a
// restart (§6.2), nothing left behind. examples/typed-layer.ts: the same through src/vmm.
// examples/faults-and-quirks.ts: a failed VM_START (vmm-flows.md §8) and QUIRK K16 on and off.
// docs/porting-guide.md quotes all three files verbatim.
import { readFile } from 'node:fs/promises';
import { describe, expect, it } from 'vitest';
import { createEmulator } from '../../src/emulator.js';
import { portingGuideExample } from '../../examples/porting-guide.js';
import { typedLayerExample } from '../../examples/typed-layer.js';
import { failedStart, mapMemClosedFd } from '../../examples/faults-and-quirks.js';
import { expectCleanShutdown } from '../vm-mgr/support/boot.js';

describe('porting guide: the complete raw-contract example', () => {
  it('serves the MMIO exits, the ioeventfd and the irqfd, and stops on the STATUS exit', async () => {
    const emu = createEmulator();
    const r = await portingGuideExample(emu);
    expect(r.loopback).toBe(42n);
    // READ_IO of 0x6_1000: the value the VMM put in mmio.data.
    expect(r.readIo).toBe(0x600dn);
    // Only the non-matching write reached the VMM; the matching one bumped the ioeventfd.
    expect(r.deviceWrites).toEqual([{ addr: 0x6_0000n, data: 0xbeefn }]);
    expect(r.ioeventfdCount).toBe(1n);
    // bell-1 is SPI 10: INTID 42 is pending in the guest.
    expect(r.pendingIrqs).toEqual([42]);
    expect(r.hostReadOfLentMemory).toBe('SigbusError');
    expect(r.guestReadBack).toBe(0x5eedn);
    // GUNYAH_VM_STATUS_EXITED, exit type PLATFORM_OFF.
    expect(r.statusExit).toMatchObject({ status: 2, exitType: 1 });
    expect(r.restartError).toBe('ENODEV');
    // loopback 3, write_io (absorbed) 4, write_io 5, read_io 4, write_addr 4, read_addr 3, SYSTEM_OFF 6.
    expect(r.exits).toEqual({ mmio: 29, status: 1 });
    // The example closed everything itself.
    expect(emu.host.openFiles()).toEqual([]);
    expect(emu.host.liveMappings()).toEqual([]);
    expect(emu.host.allocations()).toEqual([]);
    await expectCleanShutdown(emu);
  });
});

describe('porting guide: the typed layer', () => {
  it('boots, loops back a value and powers off', async () => {
    const emu = createEmulator();
    expect(await typedLayerExample(emu)).toEqual({ loopback: 42n, status: 2, exitType: 1 });
    expect(emu.host.openFiles()).toEqual([]);
    await expectCleanShutdown(emu);
  });
});

describe('porting guide: faults and quirks', () => {
  it('a failed VM_START RPC: ENOMEM, then ENODEV for good; the plan records what fired', async () => {
    const r = await failedStart();
    expect(r.first).toBe('ENOMEM');
    expect(r.second).toBe('ENODEV');
    expect(r.fired).toEqual([{ layer: 'rm', what: '0x56000004', occurrence: 1, error: 'NOMEM' }]);
  });

  it('QUIRK K16: MAP_MEM with a closed fd is EINVAL in v17, EBADF with the quirk off', async () => {
    expect(await mapMemClosedFd(true)).toBe('EINVAL');
    expect(await mapMemClosedFd(false)).toBe('EBADF');
  });
});

describe('porting guide: the quoted code is the code that runs', () => {
  it.each(['examples/porting-guide.ts', 'examples/typed-layer.ts', 'examples/faults-and-quirks.ts'])('quotes %s verbatim', async (path) => {
    const guide = await readFile(new URL('../../docs/porting-guide.md', import.meta.url), 'utf8');
    const code = await readFile(new URL(`../../${path}`, import.meta.url), 'utf8');
    expect(guide).toContain(`\`\`\`ts\n// ${path}\n${code}\`\`\``);
  });
});
