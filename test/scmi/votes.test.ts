/**
 * The vote book (src/scmi/platform-state.ts) and vote aggregation across agents through the
 * backend (scmi-virtio.md §12.2 votes and release on close; the aggregation rules of
 * src/scmi/api.ts): the host and two VM agents voting on the same clock and regulator, the
 * aggregate at each step and after each agent is closed, and the unit rules for each resource kind.
 */
import { describe, expect, it } from 'vitest';
import type { ResourceKind, ScmiPlatformDesc } from '../../src/scmi/api.js';
import { ScmiProtocolId } from '../../src/scmi/api.js';
import { ScmiPlatformState } from '../../src/scmi/platform-state.js';
import { defaultPlatform } from '../../src/scmi/default-platform.js';
import { ask, coreBackend, corePlatform, norm } from './support/core.js';

const OK = (hdr: string) => norm(`${hdr} 00 00 00 00`);

function twoVms() {
  const b = coreBackend();
  const protocols = [ScmiProtocolId.CLOCK, ScmiProtocolId.VOLTAGE];
  // Both get devices 0 and 1: their clocks 0, 1, 2 = platform clocks 0, 1, 2; voltages 0, 1.
  const a = b.openAgent({ agentId: 2, name: 'vm-a', vmid: 10, devices: [0, 1], protocols });
  const c = b.openAgent({ agentId: 3, name: 'vm-b', vmid: 11, devices: [0, 1], protocols });
  const events: string[] = [];
  b.platform.onChange((kind, id) => events.push(`${kind}${id}`));
  return { b, a, c, host: b.host, events };
}

const MHZ = 1_000_000;

describe('two VMs and the host on one clock (platform clock 1: 100..200 MHz, host on at 120 MHz)', () => {
  it('aggregate at each step, after B closes, after A closes', () => {
    const { b, a, c, host, events } = twoVms();
    const agg = () => b.platform.clockAggregate(1);
    expect(agg()).toEqual({ enabled: true, rate: 120 * MHZ });

    // A asks 150 MHz without enabling: no effect on the aggregate.
    expect(ask(b, a, '05 50 00 00 | 00 00 00 00 | 01 00 00 00 | 80 d1 f0 08 | 00 00 00 00')).toBe(OK('05 50 00 00'));
    expect(agg()).toEqual({ enabled: true, rate: 120 * MHZ });
    // A enables: 150 MHz.
    expect(ask(b, a, '07 50 00 00 | 01 00 00 00 | 01 00 00 00 | 00 00 00 00')).toBe(OK('07 50 00 00'));
    expect(agg()).toEqual({ enabled: true, rate: 150 * MHZ });
    // B enables and asks 180 MHz: 180 MHz.
    expect(ask(b, c, '07 50 00 00 | 01 00 00 00 | 01 00 00 00 | 00 00 00 00')).toBe(OK('07 50 00 00'));
    expect(ask(b, c, '05 50 00 00 | 00 00 00 00 | 01 00 00 00 | 00 95 ba 0a | 00 00 00 00')).toBe(OK('05 50 00 00'));
    expect(agg()).toEqual({ enabled: true, rate: 180 * MHZ });
    // The host lowers its own request to 100 MHz: still 180 MHz.
    expect(ask(b, host, '05 50 00 00 | 00 00 00 00 | 01 00 00 00 | 00 e1 f5 05 | 00 00 00 00')).toBe(OK('05 50 00 00'));
    expect(agg()).toEqual({ enabled: true, rate: 180 * MHZ });
    // Each agent reads its own request, never another's.
    expect(ask(b, a, '06 50 00 00 | 01 00 00 00')).toBe(norm('06 50 00 00 | 00 00 00 00 | 80 d1 f0 08 00 00 00 00'));
    expect(ask(b, c, '06 50 00 00 | 01 00 00 00')).toBe(norm('06 50 00 00 | 00 00 00 00 | 00 95 ba 0a 00 00 00 00'));
    expect(ask(b, host, '06 50 00 00 | 01 00 00 00')).toBe(norm('06 50 00 00 | 00 00 00 00 | 00 e1 f5 05 00 00 00 00'));
    expect(b.platform.voters('clock', 1)).toEqual([1, 2, 3]);

    b.closeAgent(c);
    expect(agg()).toEqual({ enabled: true, rate: 150 * MHZ });
    expect(b.platform.voters('clock', 1)).toEqual([1, 2]);
    b.closeAgent(a);
    expect(agg()).toEqual({ enabled: true, rate: 100 * MHZ });
    expect(b.platform.voters('clock', 1)).toEqual([1]);
    // The host's vote stays until the host itself disables.
    expect(ask(b, host, '07 50 00 00 | 01 00 00 00 | 00 00 00 00 | 00 00 00 00')).toBe(OK('07 50 00 00'));
    expect(agg()).toEqual({ enabled: false, rate: 100 * MHZ });

    // One event per aggregate change: A on (150), B 180, B closed (150), A closed (100), host off.
    expect(events.filter((e) => e === 'clock1')).toHaveLength(5);
  });

  it('closing A first: B keeps the rate, then the host alone', () => {
    const { b, a, c } = twoVms();
    ask(b, a, '07 50 00 00 | 01 00 00 00 | 01 00 00 00 | 00 00 00 00');
    ask(b, a, '05 50 00 00 | 00 00 00 00 | 01 00 00 00 | 00 95 ba 0a | 00 00 00 00'); // 180
    ask(b, c, '07 50 00 00 | 01 00 00 00 | 01 00 00 00 | 00 00 00 00');
    ask(b, c, '05 50 00 00 | 00 00 00 00 | 01 00 00 00 | 80 d1 f0 08 | 00 00 00 00'); // 150
    expect(b.platform.clockAggregate(1)).toEqual({ enabled: true, rate: 180 * MHZ });
    b.closeAgent(a);
    expect(b.platform.clockAggregate(1)).toEqual({ enabled: true, rate: 150 * MHZ });
    b.closeAgent(c);
    expect(b.platform.clockAggregate(1)).toEqual({ enabled: true, rate: 120 * MHZ });
  });

  it('a clock without a host vote is on while either VM holds it (platform clock 0)', () => {
    const { b, a, c } = twoVms();
    const agg = () => b.platform.clockAggregate(0);
    expect(agg()).toEqual({ enabled: false, rate: 1000 });
    ask(b, a, '07 50 00 00 | 00 00 00 00 | 01 00 00 00 | 00 00 00 00');
    expect(agg()).toEqual({ enabled: true, rate: 1000 });
    ask(b, c, '05 50 00 00 | 00 00 00 00 | 00 00 00 00 | a0 0f 00 00 | 00 00 00 00');
    ask(b, c, '07 50 00 00 | 00 00 00 00 | 01 00 00 00 | 00 00 00 00');
    expect(agg()).toEqual({ enabled: true, rate: 4000 });
    // A disables: B alone.
    ask(b, a, '07 50 00 00 | 00 00 00 00 | 00 00 00 00 | 00 00 00 00');
    expect(agg()).toEqual({ enabled: true, rate: 4000 });
    ask(b, a, '07 50 00 00 | 00 00 00 00 | 01 00 00 00 | 00 00 00 00');
    b.closeAgent(c);
    expect(agg()).toEqual({ enabled: true, rate: 1000 });
    b.closeAgent(a);
    expect(agg()).toEqual({ enabled: false, rate: 1000 });
    expect(b.platform.voters('clock', 0)).toEqual([]);
  });
});

describe('two VMs and the host on one regulator (platform voltage 1: 600..1000 mV, host on at 700 mV)', () => {
  it('aggregate at each step, after B closes, after A closes', () => {
    const { b, a, c, host, events } = twoVms();
    const agg = () => b.platform.voltageAggregate(1);
    expect(agg()).toEqual({ on: true, microvolts: 700_000 });
    // A: 800 mV, then on.
    expect(ask(b, a, '07 5c 00 00 | 01 00 00 00 | 00 00 00 00 | 00 35 0c 00')).toBe(OK('07 5c 00 00'));
    expect(agg()).toEqual({ on: true, microvolts: 700_000 });
    expect(ask(b, a, '05 5c 00 00 | 01 00 00 00 | 07 00 00 00')).toBe(OK('05 5c 00 00'));
    expect(agg()).toEqual({ on: true, microvolts: 800_000 });
    // B: on, then 900 mV.
    expect(ask(b, c, '05 5c 00 00 | 01 00 00 00 | 07 00 00 00')).toBe(OK('05 5c 00 00'));
    expect(agg()).toEqual({ on: true, microvolts: 800_000 });
    expect(ask(b, c, '07 5c 00 00 | 01 00 00 00 | 00 00 00 00 | a0 bb 0d 00')).toBe(OK('07 5c 00 00'));
    expect(agg()).toEqual({ on: true, microvolts: 900_000 });
    // Own views.
    expect(ask(b, a, '08 5c 00 00 | 01 00 00 00')).toBe(norm('08 5c 00 00 | 00 00 00 00 | 00 35 0c 00'));
    expect(ask(b, host, '08 5c 00 00 | 01 00 00 00')).toBe(norm('08 5c 00 00 | 00 00 00 00 | 60 ae 0a 00'));

    b.closeAgent(c);
    expect(agg()).toEqual({ on: true, microvolts: 800_000 });
    b.closeAgent(a);
    expect(agg()).toEqual({ on: true, microvolts: 700_000 });
    expect(b.platform.voters('voltage', 1)).toEqual([1]);
    expect(events.filter((e) => e === 'voltage1')).toEqual(['voltage1', 'voltage1', 'voltage1', 'voltage1']);
  });

  it('a VM turning a regulator off does not turn off the host’s vote', () => {
    const { b, a } = twoVms();
    ask(b, a, '05 5c 00 00 | 01 00 00 00 | 07 00 00 00');
    ask(b, a, '05 5c 00 00 | 01 00 00 00 | 00 00 00 00');
    expect(b.platform.voltageAggregate(1)).toEqual({ on: true, microvolts: 700_000 });
  });
});

describe('ScmiPlatformState', () => {
  function state(desc: ScmiPlatformDesc = corePlatform()) {
    const s = new ScmiPlatformState(desc);
    const events: [ResourceKind, number][] = [];
    s.onChange((k, i) => events.push([k, i]));
    return { s, events };
  }

  it('starts with the host votes of the description under agent 1', () => {
    const { s } = state();
    expect(s.hostVoter).toBe(1);
    expect(s.clockAggregate(1)).toEqual({ enabled: true, rate: 120_000_000 });
    expect(s.clockVote(1, 1)).toEqual({ enabled: true, rate: 120_000_000 });
    expect(s.voltageAggregate(1)).toEqual({ on: true, microvolts: 700_000 });
    expect(s.voters('clock', 0)).toEqual([]);
    const d = new ScmiPlatformState(defaultPlatform(), { hostVoter: 9 });
    expect(d.powerAggregate(3)).toBe(true);
    expect(d.powerVote(9, 3)).toBe(true);
    expect(d.perfAggregate(1)).toEqual({ level: 2, max: 4, min: 1 });
  });

  it('clock: the highest rate of the enabled voters; clockSetRate rounds inside the set', () => {
    const { s, events } = state();
    expect(s.clockSetRate(5, 0, 3000, false)).toBe(2000);
    expect(s.clockSetRate(5, 0, 3000, true)).toBe(4000);
    expect(s.clockSetRate(5, 0, 999, true)).toBeUndefined();
    expect(s.clockSetRate(5, 0, 4001, false)).toBeUndefined();
    expect(events).toEqual([]);
    s.clockEnable(5, 0, true);
    expect(s.clockAggregate(0)).toEqual({ enabled: true, rate: 4000 });
    s.clockEnable(6, 0, true);
    s.clockSetRate(6, 0, 1000, false);
    expect(s.clockAggregate(0)).toEqual({ enabled: true, rate: 4000 });
    s.clockEnable(5, 0, false);
    expect(s.clockAggregate(0)).toEqual({ enabled: true, rate: 1000 });
    expect(s.clockVote(5, 0)).toEqual({ enabled: false, rate: 4000 });
    expect(s.clockVote(7, 0)).toEqual({ enabled: false, rate: 1000 });
    expect(events).toEqual([
      ['clock', 0],
      ['clock', 0],
    ]);
  });

  it('voltage: only levels of the set; the highest level of the voters holding it on', () => {
    const { s } = state();
    expect(s.voltageSetLevel(5, 0, 2_000_000)).toBe(false);
    expect(s.voltageSetLevel(5, 0, 3_300_000)).toBe(true);
    expect(s.voltageAggregate(0)).toEqual({ on: false, microvolts: 1_800_000 });
    s.voltageConfig(5, 0, true);
    expect(s.voltageAggregate(0)).toEqual({ on: true, microvolts: 3_300_000 });
    expect(s.voltageVote(6, 0)).toEqual({ on: false, microvolts: 3_300_000 });
  });

  it('power: on while any voter holds it', () => {
    const { s, events } = state();
    s.powerSet(5, 0, true);
    s.powerSet(6, 0, true);
    s.powerSet(5, 0, false);
    expect(s.powerAggregate(0)).toBe(true);
    expect(s.powerVote(5, 0)).toBe(false);
    s.releaseVoter(6);
    expect(s.powerAggregate(0)).toBe(false);
    expect(events).toEqual([
      ['power', 0],
      ['power', 0],
    ]);
  });

  it('perf: the highest level inside the tightest limits; a level is checked against the voter’s own limits', () => {
    const { s } = state(defaultPlatform());
    // cpu-little: levels 1..4, host at 2.
    expect(s.perfSetLevel(5, 1, 3)).toBe(true);
    expect(s.perfAggregate(1)).toEqual({ level: 3, max: 4, min: 1 });
    expect(s.perfSetLimits(6, 1, 2, 1)).toBe(true);
    expect(s.perfAggregate(1)).toEqual({ level: 2, max: 2, min: 1 });
    // Voter 5 is not bound by voter 6's limits when asking.
    expect(s.perfSetLevel(5, 1, 4)).toBe(true);
    expect(s.perfAggregate(1).level).toBe(2);
    expect(s.perfSetLevel(6, 1, 3)).toBe(false);
    expect(s.perfSetLevel(5, 1, 5)).toBe(false);
    expect(s.perfSetLimits(5, 1, 1, 2)).toBe(false);
    expect(s.perfSetLimits(5, 1, 5, 1)).toBe(false);
    expect(s.perfVote(6, 1)).toEqual({ level: undefined, max: 2, min: 1 });
    s.releaseVoter(6);
    expect(s.perfAggregate(1)).toEqual({ level: 4, max: 4, min: 1 });
  });

  it('reset counts and sensor readings', () => {
    const { s, events } = state(defaultPlatform());
    s.reset(5, 2);
    s.reset(1, 2);
    expect(s.resetCount(2)).toBe(2);
    expect(events).toEqual([
      ['reset', 2],
      ['reset', 2],
    ]);
    expect([s.readSensor(0), s.readSensor(0), s.readSensor(1)]).toEqual([40_000n, 40_100n, 45_000n]);
  });

  it('releaseVotes keeps what the predicate keeps', () => {
    const { s } = state();
    s.clockEnable(5, 0, true);
    s.clockEnable(5, 3, true);
    s.releaseVotes(5, (kind, id) => kind === 'clock' && id === 3);
    expect(s.voters('clock', 0)).toEqual([]);
    expect(s.voters('clock', 3)).toEqual([5]);
  });

  it('unsubscribe, and a listener that throws does not stop the others', () => {
    const { s } = state();
    const seen: number[] = [];
    s.onChange(() => {
      throw new Error('listener');
    });
    const off = s.onChange((_, i) => seen.push(i));
    expect(() => s.clockEnable(5, 0, true)).toThrow('listener');
    expect(seen).toEqual([0]);
    expect(s.clockAggregate(0).enabled).toBe(true);
    off();
    expect(() => s.clockEnable(5, 0, false)).toThrow('listener');
    expect(seen).toEqual([0]);
  });

  it('a resource ID outside the platform is a RangeError', () => {
    const { s } = state();
    expect(() => s.clockEnable(5, 5, true)).toThrow(RangeError);
    expect(() => s.voltageAggregate(-1)).toThrow(RangeError);
    expect(() => s.readSensor(1)).toThrow(RangeError);
  });

  it('refuses an unusable description with a TypeError', () => {
    const bad = (patch: Partial<ScmiPlatformDesc>) => () => new ScmiPlatformState({ ...corePlatform(), ...patch });
    expect(bad({ vendor: 'a-vendor-name-longer-than-15' })).toThrow(TypeError);
    expect(bad({ clocks: [{ name: 'c', rates: { kind: 'range', min: 10, max: 25, step: 10 } }] })).toThrow(/multiple of step/);
    expect(bad({ clocks: [{ name: 'c', rates: { kind: 'list', values: [] } }] })).toThrow(/non-empty/);
    expect(bad({ clocks: [{ name: 'c', rates: { kind: 'list', values: [2, 1] } }] })).toThrow(/ascending/);
    expect(bad({ clocks: [{ name: 'c', rates: { kind: 'list', values: [1, 2] }, hostRate: 3 }] })).toThrow(/hostRate/);
    expect(bad({ voltages: [{ name: 'v', levels: { kind: 'list', values: [2 ** 31] } }] })).toThrow(TypeError);
    expect(bad({ perfDomains: [{ name: 'p', opps: [] }] })).toThrow(/opps/);
    expect(bad({ devices: [{ id: 0, name: 'd', clocks: [9] }] })).toThrow(/names no clocks/);
    expect(bad({ devices: [{ id: 0, name: 'd' }, { id: 0, name: 'e' }] })).toThrow(/duplicate device/);
    expect(bad({ sensors: [{ name: 's', type: 256, unitExponent: 0, reading: () => 0n }] })).toThrow(/type/);
  });
});
