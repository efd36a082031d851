/**
 * Per-agent policy (scmi-virtio.md §9.2 BASE_SET_DEVICE_PERMISSIONS / SET_PROTOCOL_PERMISSIONS /
 * RESET_AGENT_CONFIGURATION, §12.3 permission ideas; docs/decisions.md "SCMI"): an agent asking
 * for what it was not given (NOT_FOUND for an unseen ID, DENIED for a read-only resource,
 * NOT_SUPPORTED for a protocol it was not given), agent-local IDs, and policy changes by the
 * trusted host over Base and through ScmiBackend.setPolicy, with their effect on votes.
 */
import { describe, expect, it } from 'vitest';
import { ScmiProtocolId } from '../../src/scmi/api.js';
import { isErrnoError } from '../../src/shared/errno.js';
import { ask, coreBackend, norm, zeros } from './support/core.js';

const { CLOCK, VOLTAGE } = ScmiProtocolId;

function setup(devices: (number | { id: number; readOnly?: boolean })[] = [0]) {
  const b = coreBackend();
  const vm = b.openAgent({ agentId: 7, name: 'vm-a', devices, protocols: [CLOCK, VOLTAGE] });
  return { b, host: b.host, vm };
}

const SUCCESS = (hdr: string) => norm(`${hdr} 00 00 00 00`);
const clockCount = (n: number) => norm(`01 50 00 00 | 00 00 00 00 | 0${n} 00 00 00`);

describe('an agent outside its permissions', () => {
  it('an unseen resource ID → NOT_FOUND', () => {
    const { b, vm } = setup();
    // Device 0 gives clocks 0, 1 and voltage 0 only.
    expect(ask(b, vm, '01 50 00 00')).toBe(clockCount(2));
    expect(ask(b, vm, '03 50 00 00 | 02 00 00 00')).toBe(norm('03 50 00 00 fc ff ff ff'));
    expect(ask(b, vm, '07 50 00 00 | 02 00 00 00 | 01 00 00 00 | 00 00 00 00')).toBe(norm('07 50 00 00 fc ff ff ff'));
    expect(ask(b, vm, '05 5c 00 00 | 01 00 00 00 | 07 00 00 00')).toBe(norm('05 5c 00 00 fc ff ff ff'));
    expect(ask(b, vm, '04 50 00 00 | ff ff ff ff | 00 00 00 00')).toBe(norm('04 50 00 00 fc ff ff ff'));
    expect(b.platform.voters('clock', 2)).toEqual([]);
  });

  it('a read-only resource: reads succeed, every set → DENIED', () => {
    const { b, vm } = setup([{ id: 0, readOnly: true }]);
    expect(ask(b, vm, '06 50 00 00 | 00 00 00 00')).toBe(norm('06 50 00 00 | 00 00 00 00 | e8 03 00 00 00 00 00 00'));
    expect(ask(b, vm, '05 50 00 00 | 00 00 00 00 | 00 00 00 00 | d0 07 00 00 | 00 00 00 00')).toBe(norm('05 50 00 00 fd ff ff ff'));
    expect(ask(b, vm, '07 50 00 00 | 00 00 00 00 | 01 00 00 00 | 00 00 00 00')).toBe(norm('07 50 00 00 fd ff ff ff'));
    expect(ask(b, vm, '05 5c 00 00 | 00 00 00 00 | 07 00 00 00')).toBe(norm('05 5c 00 00 fd ff ff ff'));
    expect(ask(b, vm, '07 5c 00 00 | 00 00 00 00 | 00 00 00 00 | a0 5a 32 00')).toBe(norm('07 5c 00 00 fd ff ff ff'));
    expect(b.platform.voters('clock', 0)).toEqual([]);
    expect(b.platform.voters('voltage', 0)).toEqual([]);
  });

  it('a protocol it was not given → NOT_SUPPORTED for every message, and not listed', () => {
    const { b, vm } = setup([0, 2]);
    // Power (0x11 → header 0x4400), Perf (0x13 → 0x4c00), Sensor (0x15 → 0x5400), Reset (0x16 → 0x5800).
    for (const hdr of ['00 44 00 00', '01 44 00 00', '02 4c 00 00', '01 54 00 00', '03 58 00 00']) {
      expect(ask(b, vm, `${hdr} | 00 00 00 00`)).toBe(norm(`${hdr} ff ff ff ff`));
    }
    expect(ask(b, vm, '06 40 00 00 | 00 00 00 00')).toBe(norm('06 40 00 00 | 00 00 00 00 | 02 00 00 00 | 14 17 00 00'));
    // The host may use them all.
    expect(ask(b, b.host, '00 44 00 00')).toBe(norm('00 44 00 00 | 00 00 00 00 | 00 00 03 00'));
  });

  it('agent-local IDs: the k-th resource it was given, in platform order', () => {
    const { b, vm } = setup([1]);
    // Device 1: clocks 1 (clk-range) and 2 (clk-big) → its 0 and 1.
    expect(ask(b, vm, '08 50 00 00 | 00 00 00 00')).toBe(norm(`08 50 00 00 | 00 00 00 00 | 00 00 00 00 | 63 6c 6b 2d 72 61 6e 67 65 ${zeros(55)}`));
    expect(ask(b, vm, '08 50 00 00 | 01 00 00 00')).toBe(norm(`08 50 00 00 | 00 00 00 00 | 00 00 00 00 | 63 6c 6b 2d 62 69 67 ${zeros(57)}`));
    expect(ask(b, vm, '07 50 00 00 | 01 00 00 00 | 01 00 00 00 | 00 00 00 00')).toBe(SUCCESS('07 50 00 00'));
    expect(b.platform.voters('clock', 2)).toEqual([7]);
    expect(vm.agent.resources('clock')).toEqual([1, 2]);
    expect(vm.agent.platformId('clock', 1)).toBe(2);
    expect(vm.agent.platformId('clock', 2)).toBeUndefined();
  });

  it('a resource in two devices is seen once and controllable if either device gives control', () => {
    const { b, vm } = setup([{ id: 0, readOnly: true }, 1]);
    // Clocks 0, 1 (both devices), 2 → its 0, 1, 2; clock 1 controllable through device 1.
    expect(ask(b, vm, '01 50 00 00')).toBe(clockCount(3));
    expect(ask(b, vm, '07 50 00 00 | 01 00 00 00 | 01 00 00 00 | 00 00 00 00')).toBe(SUCCESS('07 50 00 00'));
    expect(ask(b, vm, '07 50 00 00 | 00 00 00 00 | 01 00 00 00 | 00 00 00 00')).toBe(norm('07 50 00 00 fd ff ff ff'));
  });
});

describe('BASE_SET_DEVICE_PERMISSIONS (0x9) from the host', () => {
  it('gives a device: the agent sees its resources at once', () => {
    const { b, host, vm } = setup();
    expect(ask(b, host, '09 40 00 00 | 07 00 00 00 | 01 00 00 00 | 01 00 00 00')).toBe(SUCCESS('09 40 00 00'));
    expect(ask(b, vm, '01 50 00 00')).toBe(clockCount(3));
    expect(ask(b, vm, '01 5c 00 00')).toBe(norm('01 5c 00 00 | 00 00 00 00 | 02 00 00 00'));
  });

  it('read-only (flags 3): votes on what the agent may no longer change are released', () => {
    const { b, host, vm } = setup([0, 1]);
    // Its clock 2 = platform clock 2 (device 1 only); its clock 1 = platform clock 1 (devices 0 and 1).
    ask(b, vm, '07 50 00 00 | 02 00 00 00 | 01 00 00 00 | 00 00 00 00');
    ask(b, vm, '07 50 00 00 | 01 00 00 00 | 01 00 00 00 | 00 00 00 00');
    expect(b.platform.clockAggregate(2).enabled).toBe(true);
    expect(ask(b, host, '09 40 00 00 | 07 00 00 00 | 01 00 00 00 | 03 00 00 00')).toBe(SUCCESS('09 40 00 00'));
    expect(b.platform.clockAggregate(2).enabled).toBe(false);
    expect(b.platform.voters('clock', 2)).toEqual([]);
    expect(b.platform.voters('clock', 1)).toEqual([1, 7]);
    expect(ask(b, vm, '07 50 00 00 | 02 00 00 00 | 01 00 00 00 | 00 00 00 00')).toBe(norm('07 50 00 00 fd ff ff ff'));
    expect(ask(b, vm, '03 50 00 00 | 02 00 00 00').slice(0, 23)).toBe(norm('03 50 00 00 00 00 00 00'));
  });

  it('revoking (flags 0) releases the votes and renumbers the agent’s IDs', () => {
    const { b, host, vm } = setup([0, 1]);
    ask(b, vm, '07 50 00 00 | 00 00 00 00 | 01 00 00 00 | 00 00 00 00');
    expect(b.platform.clockAggregate(0).enabled).toBe(true);
    expect(ask(b, host, '09 40 00 00 | 07 00 00 00 | 00 00 00 00 | 00 00 00 00')).toBe(SUCCESS('09 40 00 00'));
    expect(b.platform.clockAggregate(0).enabled).toBe(false);
    expect(ask(b, vm, '01 50 00 00')).toBe(clockCount(2));
    // Its clock 0 is now platform clock 1.
    expect(ask(b, vm, '08 50 00 00 | 00 00 00 00')).toBe(norm(`08 50 00 00 | 00 00 00 00 | 00 00 00 00 | 63 6c 6b 2d 72 61 6e 67 65 ${zeros(55)}`));
  });

  it('bad targets and flags', () => {
    const { b, host } = setup();
    expect(ask(b, host, '09 40 00 00 | 09 00 00 00 | 01 00 00 00 | 01 00 00 00')).toBe(norm('09 40 00 00 fc ff ff ff'));
    expect(ask(b, host, '09 40 00 00 | 00 00 00 00 | 01 00 00 00 | 01 00 00 00')).toBe(norm('09 40 00 00 fc ff ff ff'));
    expect(ask(b, host, '09 40 00 00 | 01 00 00 00 | 01 00 00 00 | 01 00 00 00')).toBe(norm('09 40 00 00 fd ff ff ff'));
    expect(ask(b, host, '09 40 00 00 | 07 00 00 00 | 05 00 00 00 | 01 00 00 00')).toBe(norm('09 40 00 00 fc ff ff ff'));
    expect(ask(b, host, '09 40 00 00 | 07 00 00 00 | 01 00 00 00 | 02 00 00 00')).toBe(norm('09 40 00 00 fe ff ff ff'));
    expect(ask(b, host, '09 40 00 00 | 07 00 00 00 | 01 00 00 00 | 05 00 00 00')).toBe(norm('09 40 00 00 fe ff ff ff'));
  });
});

describe('BASE_SET_PROTOCOL_PERMISSIONS (0xA) from the host', () => {
  it('denying a protocol for one device hides that device’s resources of it, releasing votes', () => {
    const { b, host, vm } = setup([0, 1]);
    ask(b, vm, '07 50 00 00 | 00 00 00 00 | 01 00 00 00 | 00 00 00 00');
    // Deny Clock on device 0: clock 0 disappears, clock 1 stays through device 1.
    expect(ask(b, host, '0a 40 00 00 | 07 00 00 00 | 00 00 00 00 | 14 00 00 00 | 00 00 00 00')).toBe(SUCCESS('0a 40 00 00'));
    expect(ask(b, vm, '01 50 00 00')).toBe(clockCount(2));
    expect(b.platform.clockAggregate(0).enabled).toBe(false);
    // Voltage of device 0 still visible.
    expect(ask(b, vm, '01 5c 00 00')).toBe(norm('01 5c 00 00 | 00 00 00 00 | 02 00 00 00'));
    // Allow again.
    expect(ask(b, host, '0a 40 00 00 | 07 00 00 00 | 00 00 00 00 | 14 00 00 00 | 01 00 00 00')).toBe(SUCCESS('0a 40 00 00'));
    expect(ask(b, vm, '01 50 00 00')).toBe(clockCount(3));
  });

  it('allowing a protocol the agent lacked lists it', () => {
    const { b, host, vm } = setup([0, 2]);
    expect(ask(b, host, '0a 40 00 00 | 07 00 00 00 | 02 00 00 00 | 11 00 00 00 | 01 00 00 00')).toBe(SUCCESS('0a 40 00 00'));
    expect(ask(b, vm, '06 40 00 00 | 00 00 00 00')).toBe(norm('06 40 00 00 | 00 00 00 00 | 03 00 00 00 | 11 14 17 00'));
    expect(vm.agent.resources('power')).toEqual([0]);
  });

  it('bad targets, protocols and flags', () => {
    const { b, host } = setup();
    expect(ask(b, host, '0a 40 00 00 | 08 00 00 00 | 00 00 00 00 | 14 00 00 00 | 01 00 00 00')).toBe(norm('0a 40 00 00 fc ff ff ff'));
    expect(ask(b, host, '0a 40 00 00 | 01 00 00 00 | 00 00 00 00 | 14 00 00 00 | 01 00 00 00')).toBe(norm('0a 40 00 00 fd ff ff ff'));
    expect(ask(b, host, '0a 40 00 00 | 07 00 00 00 | 09 00 00 00 | 14 00 00 00 | 01 00 00 00')).toBe(norm('0a 40 00 00 fc ff ff ff'));
    expect(ask(b, host, '0a 40 00 00 | 07 00 00 00 | 00 00 00 00 | 10 00 00 00 | 00 00 00 00')).toBe(norm('0a 40 00 00 fe ff ff ff'));
    expect(ask(b, host, '0a 40 00 00 | 07 00 00 00 | 00 00 00 00 | 12 00 00 00 | 01 00 00 00')).toBe(norm('0a 40 00 00 fc ff ff ff'));
    expect(ask(b, host, '0a 40 00 00 | 07 00 00 00 | 00 00 00 00 | 14 00 00 00 | 03 00 00 00')).toBe(norm('0a 40 00 00 fe ff ff ff'));
  });
});

describe('BASE_RESET_AGENT_CONFIGURATION (0xB) from the host', () => {
  it('flags 0: releases every vote and negotiated version, keeps the permissions', () => {
    const { b, host, vm } = setup();
    ask(b, host, '09 40 00 00 | 07 00 00 00 | 01 00 00 00 | 01 00 00 00');
    ask(b, vm, '07 50 00 00 | 00 00 00 00 | 01 00 00 00 | 00 00 00 00');
    ask(b, vm, '05 5c 00 00 | 00 00 00 00 | 07 00 00 00');
    ask(b, vm, '10 50 00 00 | 00 00 03 00');
    expect(b.negotiatedVersion(7, CLOCK)).toBe(0x30000);
    expect(ask(b, host, '0b 40 00 00 | 07 00 00 00 | 00 00 00 00')).toBe(SUCCESS('0b 40 00 00'));
    expect(b.platform.voters('clock', 0)).toEqual([]);
    expect(b.platform.voters('voltage', 0)).toEqual([]);
    expect(b.negotiatedVersion(7, CLOCK)).toBeUndefined();
    expect(ask(b, vm, '01 50 00 00')).toBe(clockCount(3));
  });

  it('flags 1: also restores the configured permissions', () => {
    const { b, host, vm } = setup();
    ask(b, host, '09 40 00 00 | 07 00 00 00 | 01 00 00 00 | 01 00 00 00');
    expect(ask(b, vm, '01 50 00 00')).toBe(clockCount(3));
    expect(ask(b, host, '0b 40 00 00 | 07 00 00 00 | 01 00 00 00')).toBe(SUCCESS('0b 40 00 00'));
    expect(ask(b, vm, '01 50 00 00')).toBe(clockCount(2));
  });

  it('bad targets and flags', () => {
    const { b, host } = setup();
    expect(ask(b, host, '0b 40 00 00 | 08 00 00 00 | 00 00 00 00')).toBe(norm('0b 40 00 00 fc ff ff ff'));
    expect(ask(b, host, '0b 40 00 00 | 01 00 00 00 | 00 00 00 00')).toBe(norm('0b 40 00 00 fd ff ff ff'));
    expect(ask(b, host, '0b 40 00 00 | 07 00 00 00 | 02 00 00 00')).toBe(norm('0b 40 00 00 fe ff ff ff'));
  });
});

describe('ScmiBackend.setPolicy', () => {
  it('replaces the policy, releases what the agent lost, and becomes what a reset restores', () => {
    const { b, host, vm } = setup([0, 1]);
    ask(b, vm, '07 50 00 00 | 00 00 00 00 | 01 00 00 00 | 00 00 00 00'); // platform clock 0
    ask(b, vm, '07 50 00 00 | 02 00 00 00 | 01 00 00 00 | 00 00 00 00'); // platform clock 2
    b.setPolicy(7, { devices: [1], protocols: [CLOCK] });
    expect(b.platform.voters('clock', 0)).toEqual([]);
    expect(b.platform.voters('clock', 2)).toEqual([7]);
    expect(ask(b, vm, '01 50 00 00')).toBe(clockCount(2));
    expect(ask(b, vm, '01 5c 00 00')).toBe(norm('01 5c 00 00 ff ff ff ff'));
    ask(b, host, '09 40 00 00 | 07 00 00 00 | 00 00 00 00 | 01 00 00 00');
    expect(ask(b, vm, '01 50 00 00')).toBe(clockCount(3));
    ask(b, host, '0b 40 00 00 | 07 00 00 00 | 01 00 00 00');
    expect(ask(b, vm, '01 50 00 00')).toBe(clockCount(2));
  });

  it('EINVAL for an unknown or trusted agent, an unknown device or protocol, a device given twice', () => {
    const { b } = setup();
    const einval = (f: () => void) => {
      try {
        f();
      } catch (e) {
        return isErrnoError(e, 'EINVAL');
      }
      return false;
    };
    expect(einval(() => b.setPolicy(9, { devices: [], protocols: [] }))).toBe(true);
    expect(einval(() => b.setPolicy(1, { devices: [], protocols: [] }))).toBe(true);
    expect(einval(() => b.setPolicy(7, { devices: [3], protocols: [] }))).toBe(true);
    expect(einval(() => b.setPolicy(7, { devices: [], protocols: [0x12] }))).toBe(true);
    expect(einval(() => b.setPolicy(7, { devices: [0, { id: 0, readOnly: true }], protocols: [] }))).toBe(true);
    // Nothing changed.
    expect(b.agent(7)!.resources('clock')).toEqual([0, 1]);
  });
});
