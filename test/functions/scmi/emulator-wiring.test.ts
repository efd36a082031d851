/**
 * The emulator's SCMI wiring: one backend per emulator (`emu.scmi`) with the trusted host agent,
 * built from `createEmulator({ scmi: { platform } })` (default: the default platform), the SCMI
 * function registered by default, and the `functionTypes` option checked for type numbers given
 * twice (TypeError).
 *
 * Reference: DESIGN.md "Public contracts" (createEmulator), docs/scmi.md ("The emulator"),
 * docs/decisions.md S19 (default platform), S47 (wiring).
 */
import { describe, expect, it } from 'vitest';
import { createEmulator } from '../../../src/emulator.js';
import { guestProgram } from '../../../src/guest/index.js';
import { ScmiBackend, defaultPlatform, type ScmiPlatformDesc } from '../../../src/scmi/index.js';
import type { VmFunctionType } from '../../../src/vm-mgr/vm-api.js';
import { MARK } from '../../vm-mgr/support/programs.js';
import { hostCall } from './support/host-scmi.js';
import { MMIO_BASE, Proto, RING_BASE, VmmScmi, bootScmiVm, expectCleanScmiShutdown, protoBit } from './support/vmm-scmi.js';

const fakeType = (type: number): VmFunctionType => ({ type, argSize: 4, bind: () => ({ type, result: 0, matches: () => false, unbind: () => {} }) });

describe('emu.scmi', () => {
  it('one backend per emulator, the default platform, the host agent (1, trusted)', () => {
    const a = createEmulator();
    const b = createEmulator();
    expect(a.scmi).toBeInstanceOf(ScmiBackend);
    expect(a.scmi).not.toBe(b.scmi);
    expect(a.scmi.platform.desc).toEqual({ ...defaultPlatform(), sensors: expect.any(Array) });
    expect(a.scmi.agents().map((x) => [x.agentId, x.name, x.trusted])).toEqual([[1, 'host', true]]);
    // The host votes through its agent: CLOCK_CONFIG_SET(uart clock 3, enable) in one backend only.
    expect(hostCall(a, Proto.CLOCK, 0x7, [3, 1, 0]).status).toBe(0);
    expect(a.scmi.platform.clockAggregate(3).enabled).toBe(true);
    expect(b.scmi.platform.clockAggregate(3).enabled).toBe(false);
    a.close();
    b.close();
  });

  it('a platform given as data: a VM sees its clocks through the function', async () => {
    const platform: ScmiPlatformDesc = {
      vendor: 'acme',
      subVendor: 'board',
      implementationVersion: 7,
      clocks: [{ name: 'only-clock', rates: { kind: 'list', values: [1000, 2000] } }],
      voltages: [],
      powerDomains: [],
      perfDomains: [],
      resetDomains: [],
      sensors: [],
      devices: [{ id: 5, name: 'dev', clocks: [0] }],
    };
    const prog = guestProgram()
      .virtioScmiProbe(MMIO_BASE, RING_BASE, { queueSize: 4 })
      // DISCOVER_VENDOR "acme"; CLOCK_DESCRIBE_RATES(0, 0): 2 rates, 0 remaining, 1000, 2000.
      .scmiCall(Proto.BASE, 0x3, [], { expectStatus: 0, expectPayload: [0x656d_6361, 0, 0, 0] })
      .scmiCall(Proto.CLOCK, 0x4, [0, 0], { expectStatus: 0, expectPayload: [2, 1000, 0, 2000, 0] })
      .mmioWrite(MARK, 8, 1)
      .spin();
    const b = await bootScmiVm({ program: prog, emulator: { scmi: { platform } } });
    expect(b.emu.scmi.platform.desc).toBe(platform);
    const d = new VmmScmi(b, { agentId: 2, name: 'vm', deviceMask: 1n << 5n, protocolMask: protoBit(Proto.CLOCK) });
    await d.runToWrite(b.vcpus[0]!, MARK, 1n);
    await expectCleanScmiShutdown(b.emu);
  });

  it('an unusable platform description is a TypeError', () => {
    const bad = { ...defaultPlatform(), devices: [{ id: 0, name: 'x', clocks: [99] }] };
    expect(() => createEmulator({ scmi: { platform: bad } })).toThrow(TypeError);
  });
});

describe('functionTypes (S47)', () => {
  it.each([
    ['the SCMI function type 0x100', [fakeType(0x100)]],
    ['irqfd (2)', [fakeType(2)]],
    ['the same extra type twice', [fakeType(0x40), fakeType(0x40)]],
  ])('%s → TypeError', (_what, types) => {
    expect(() => createEmulator({ functionTypes: types })).toThrow(/registered twice/);
  });

  it('distinct extra types are registered next to the built-in four', () => {
    const emu = createEmulator({ functionTypes: [fakeType(0x40), fakeType(0x101)] });
    expect([...emu.kernel.ctx.functionTypes.keys()].sort((x, y) => x - y)).toEqual([1, 2, 3, 0x40, 0x100, 0x101]);
    emu.close();
  });
});
