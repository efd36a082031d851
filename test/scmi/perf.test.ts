/**
 * SCMI Performance domain protocol (0x13) handler, src/scmi/protocols/perf.ts: golden request and
 * response bytes typed by hand from scmi-virtio.md §6, §7, §9.1 and §9.4, error replies included
 * (header and status only, §5); paged PERF_DESCRIBE_LEVELS within the 128-byte payload limit
 * (§5); own-view LEVEL_GET / LIMITS_GET (docs/decisions.md S22) against the fake and the real
 * vote book.
 *
 * Header bytes for protocol 0x13: [message_id, 0x4c | type, token << 2, token >> 6].
 * The VM agent (support/fakes.ts vmAgent) sees perf [cpu-perf, big-perf]; big-perf is read-only.
 * cpu-perf OPPs: {100, 10 mW, 20 µs, 200 MHz}, {200, 30, 20, 400 MHz}, {300, 70, 40, 800 MHz};
 * big-perf: 12 OPPs {10·k, k mW, 5 µs, 100 MHz·k}.
 */
import { describe, expect, it } from 'vitest';
import { perfProtocol } from '../../src/scmi/protocols/perf.js';
import { ScmiPlatformState } from '../../src/scmi/platform-state.js';
import { FakePlatformState, backendTalkers, hex, hostAgent, norm, talker, testPlatform, vmAgent } from './support/fakes.js';

const NAME_CPU_PERF = '63 70 75 2d 70 65 72 66 00 00 00 00 00 00 00 00';
const NAME_BIG_PERF = '62 69 67 2d 70 65 72 66 00 00 00 00 00 00 00 00';

const BIG_PERF_FIRST_PAGE = `
  0a 00 00 00 01 00 00 00 05 00 00 00 | 14 00 00 00 02 00 00 00 05 00 00 00
  1e 00 00 00 03 00 00 00 05 00 00 00 | 28 00 00 00 04 00 00 00 05 00 00 00
  32 00 00 00 05 00 00 00 05 00 00 00 | 3c 00 00 00 06 00 00 00 05 00 00 00
  46 00 00 00 07 00 00 00 05 00 00 00 | 50 00 00 00 08 00 00 00 05 00 00 00
  5a 00 00 00 09 00 00 00 05 00 00 00 | 64 00 00 00 0a 00 00 00 05 00 00 00`;

/** [what, request, expected response] — each against a fresh fake platform. */
const GOLDEN: readonly (readonly [string, string, string])[] = [
  ['PROTOCOL_VERSION → 3.0', '00 4c 00 00', '00 4c 00 00 | 00 00 00 00 | 00 00 03 00'],
  [
    'PROTOCOL_ATTRIBUTES: 2 domains, power in mW, no statistics',
    '01 4c 04 00',
    '01 4c 04 00 | 00 00 00 00 | 02 00 01 00 | 00 00 00 00 | 00 00 00 00 | 00 00 00 00',
  ],
  ['MESSAGE_ATTRIBUTES(PERF_LEVEL_SET) → 0 (no fastchannel)', '02 4c 08 00 | 07 00 00 00', '02 4c 08 00 | 00 00 00 00 | 00 00 00 00'],
  ['MESSAGE_ATTRIBUTES(PERF_DESCRIBE_LEVELS) → 0', '02 4c 08 00 | 04 00 00 00', '02 4c 08 00 | 00 00 00 00 | 00 00 00 00'],
  ['MESSAGE_ATTRIBUTES(PERF_NOTIFY_LIMITS) → NOT_FOUND', '02 4c 08 00 | 09 00 00 00', '02 4c 08 00 | fc ff ff ff'],
  ['MESSAGE_ATTRIBUTES(PERF_NOTIFY_LEVEL) → NOT_FOUND', '02 4c 08 00 | 0a 00 00 00', '02 4c 08 00 | fc ff ff ff'],
  ['MESSAGE_ATTRIBUTES(DESCRIBE_FASTCHANNEL) → NOT_FOUND', '02 4c 08 00 | 0b 00 00 00', '02 4c 08 00 | fc ff ff ff'],
  ['MESSAGE_ATTRIBUTES(DOMAIN_NAME_GET) → NOT_FOUND', '02 4c 08 00 | 0c 00 00 00', '02 4c 08 00 | fc ff ff ff'],
  ['NEGOTIATE 3.0 → SUCCESS', '10 4c 0c 00 | 00 00 03 00', '10 4c 0c 00 | 00 00 00 00'],
  ['NEGOTIATE 1.0 → SUCCESS', '10 4c 0c 00 | 00 00 01 00', '10 4c 0c 00 | 00 00 00 00'],
  ['NEGOTIATE 4.0 → NOT_SUPPORTED', '10 4c 0c 00 | 00 00 04 00', '10 4c 0c 00 | ff ff ff ff'],
  [
    'PERF_DOMAIN_ATTRIBUTES(0): set limits + set level, sustained 800000 kHz at 300',
    '03 4c 10 00 | 00 00 00 00',
    `03 4c 10 00 | 00 00 00 00 | 00 00 00 c0 | 00 00 00 00 | 00 35 0c 00 | 2c 01 00 00 | ${NAME_CPU_PERF}`,
  ],
  [
    'PERF_DOMAIN_ATTRIBUTES(1): read-only, no set bits, sustained 1200000 kHz at 120',
    '03 4c 10 00 | 01 00 00 00',
    `03 4c 10 00 | 00 00 00 00 | 00 00 00 00 | 00 00 00 00 | 80 4f 12 00 | 78 00 00 00 | ${NAME_BIG_PERF}`,
  ],
  ['PERF_DOMAIN_ATTRIBUTES(2) → NOT_FOUND', '03 4c 10 00 | 02 00 00 00', '03 4c 10 00 | fc ff ff ff'],
  [
    'PERF_DESCRIBE_LEVELS(0, 0): all 3 levels',
    '04 4c 14 00 | 00 00 00 00 | 00 00 00 00',
    `04 4c 14 00 | 00 00 00 00 | 03 00 00 00
       64 00 00 00 0a 00 00 00 14 00 00 00 | c8 00 00 00 1e 00 00 00 14 00 00 00 | 2c 01 00 00 46 00 00 00 28 00 00 00`,
  ],
  [
    'PERF_DESCRIBE_LEVELS(0, 1): levels 1..2',
    '04 4c 14 00 | 00 00 00 00 | 01 00 00 00',
    `04 4c 14 00 | 00 00 00 00 | 02 00 00 00
       c8 00 00 00 1e 00 00 00 14 00 00 00 | 2c 01 00 00 46 00 00 00 28 00 00 00`,
  ],
  ['PERF_DESCRIBE_LEVELS(0, 3): empty page at the end', '04 4c 14 00 | 00 00 00 00 | 03 00 00 00', '04 4c 14 00 | 00 00 00 00 | 00 00 00 00'],
  ['PERF_DESCRIBE_LEVELS(0, 4) → OUT_OF_RANGE', '04 4c 14 00 | 00 00 00 00 | 04 00 00 00', '04 4c 14 00 | fb ff ff ff'],
  [
    'PERF_DESCRIBE_LEVELS(1, 0): 10 returned, 2 remaining (124 bytes)',
    '04 4c 14 00 | 01 00 00 00 | 00 00 00 00',
    `04 4c 14 00 | 00 00 00 00 | 0a 00 02 00 ${BIG_PERF_FIRST_PAGE}`,
  ],
  [
    'PERF_DESCRIBE_LEVELS(1, 10): last 2',
    '04 4c 14 00 | 01 00 00 00 | 0a 00 00 00',
    `04 4c 14 00 | 00 00 00 00 | 02 00 00 00
       6e 00 00 00 0b 00 00 00 05 00 00 00 | 78 00 00 00 0c 00 00 00 05 00 00 00`,
  ],
  ['PERF_DESCRIBE_LEVELS(1, 13) → OUT_OF_RANGE', '04 4c 14 00 | 01 00 00 00 | 0d 00 00 00', '04 4c 14 00 | fb ff ff ff'],
  ['PERF_DESCRIBE_LEVELS(2, 0) → NOT_FOUND', '04 4c 14 00 | 02 00 00 00 | 00 00 00 00', '04 4c 14 00 | fc ff ff ff'],
  ['PERF_DESCRIBE_LEVELS, 4 parameter bytes → PROTOCOL_ERROR', '04 4c 14 00 | 00 00 00 00', '04 4c 14 00 | f6 ff ff ff'],
  ['PERF_LIMITS_GET(0) before any vote: whole range', '06 4c 18 00 | 00 00 00 00', '06 4c 18 00 | 00 00 00 00 | 2c 01 00 00 | 64 00 00 00'],
  ['PERF_LIMITS_GET(1) read-only is readable', '06 4c 18 00 | 01 00 00 00', '06 4c 18 00 | 00 00 00 00 | 78 00 00 00 | 0a 00 00 00'],
  ['PERF_LIMITS_GET(2) → NOT_FOUND', '06 4c 18 00 | 02 00 00 00', '06 4c 18 00 | fc ff ff ff'],
  ['PERF_LIMITS_SET(0, 200, 100) → SUCCESS', '05 4c 1c 00 | 00 00 00 00 | c8 00 00 00 | 64 00 00 00', '05 4c 1c 00 | 00 00 00 00'],
  ['PERF_LIMITS_SET min > max → INVALID_PARAMETERS', '05 4c 1c 00 | 00 00 00 00 | 64 00 00 00 | c8 00 00 00', '05 4c 1c 00 | fe ff ff ff'],
  ['PERF_LIMITS_SET max above the top OPP → OUT_OF_RANGE', '05 4c 1c 00 | 00 00 00 00 | 90 01 00 00 | 64 00 00 00', '05 4c 1c 00 | fb ff ff ff'],
  ['PERF_LIMITS_SET read-only + min > max → INVALID_PARAMETERS first', '05 4c 1c 00 | 01 00 00 00 | 0a 00 00 00 | 78 00 00 00', '05 4c 1c 00 | fe ff ff ff'],
  ['PERF_LIMITS_SET read-only domain → DENIED', '05 4c 1c 00 | 01 00 00 00 | 78 00 00 00 | 0a 00 00 00', '05 4c 1c 00 | fd ff ff ff'],
  ['PERF_LIMITS_SET domain 2 → NOT_FOUND', '05 4c 1c 00 | 02 00 00 00 | c8 00 00 00 | 64 00 00 00', '05 4c 1c 00 | fc ff ff ff'],
  ['PERF_LIMITS_SET, 8 parameter bytes → PROTOCOL_ERROR', '05 4c 1c 00 | 00 00 00 00 | c8 00 00 00', '05 4c 1c 00 | f6 ff ff ff'],
  ['PERF_LEVEL_GET(0) before any vote: lowest OPP', '08 4c 20 00 | 00 00 00 00', '08 4c 20 00 | 00 00 00 00 | 64 00 00 00'],
  ['PERF_LEVEL_GET(1) read-only is readable', '08 4c 20 00 | 01 00 00 00', '08 4c 20 00 | 00 00 00 00 | 0a 00 00 00'],
  ['PERF_LEVEL_GET(2) → NOT_FOUND', '08 4c 20 00 | 02 00 00 00', '08 4c 20 00 | fc ff ff ff'],
  ['PERF_LEVEL_GET, no parameter → PROTOCOL_ERROR', '08 4c 20 00', '08 4c 20 00 | f6 ff ff ff'],
  ['PERF_LEVEL_SET(0, 200) → SUCCESS', '07 4c 24 00 | 00 00 00 00 | c8 00 00 00', '07 4c 24 00 | 00 00 00 00'],
  ['PERF_LEVEL_SET(0, 150): not an OPP → OUT_OF_RANGE', '07 4c 24 00 | 00 00 00 00 | 96 00 00 00', '07 4c 24 00 | fb ff ff ff'],
  ['PERF_LEVEL_SET(0, 0) → OUT_OF_RANGE', '07 4c 24 00 | 00 00 00 00 | 00 00 00 00', '07 4c 24 00 | fb ff ff ff'],
  ['PERF_LEVEL_SET(0, 0xFFFFFFFF) → OUT_OF_RANGE', '07 4c 24 00 | 00 00 00 00 | ff ff ff ff', '07 4c 24 00 | fb ff ff ff'],
  ['PERF_LEVEL_SET read-only domain → DENIED', '07 4c 24 00 | 01 00 00 00 | 0a 00 00 00', '07 4c 24 00 | fd ff ff ff'],
  ['PERF_LEVEL_SET domain 2 → NOT_FOUND', '07 4c 24 00 | 02 00 00 00 | 64 00 00 00', '07 4c 24 00 | fc ff ff ff'],
  ['PERF_LEVEL_SET, 4 parameter bytes → PROTOCOL_ERROR', '07 4c 24 00 | 00 00 00 00', '07 4c 24 00 | f6 ff ff ff'],
  ['PERF_NOTIFY_LIMITS → NOT_SUPPORTED (no P2A)', '09 4c 28 00 | 00 00 00 00 | 01 00 00 00', '09 4c 28 00 | ff ff ff ff'],
  ['PERF_NOTIFY_LEVEL → NOT_SUPPORTED (no P2A)', '0a 4c 28 00 | 00 00 00 00 | 01 00 00 00', '0a 4c 28 00 | ff ff ff ff'],
  ['PERF_DESCRIBE_FASTCHANNEL → NOT_SUPPORTED', '0b 4c 28 00 | 00 00 00 00 | 07 00 00 00', '0b 4c 28 00 | ff ff ff ff'],
  ['PERF_DOMAIN_NAME_GET → NOT_SUPPORTED', '0c 4c 28 00 | 00 00 00 00', '0c 4c 28 00 | ff ff ff ff'],
];

describe('perf protocol (0x13): golden vectors', () => {
  it.each(GOLDEN)('%s', (_what, request, response) => {
    const say = talker(perfProtocol(), vmAgent(), new FakePlatformState());
    expect(say(request)).toBe(norm(response));
  });

  it('advertises exactly the implemented messages', () => {
    const p = perfProtocol();
    expect(p.id).toBe(0x13);
    expect(p.version).toBe(0x30000);
    expect([...p.messages.keys()].sort((a, b) => a - b)).toEqual([0x0, 0x1, 0x2, 0x3, 0x4, 0x5, 0x6, 0x7, 0x8, 0x10]);
  });

  it('every PERF_DESCRIBE_LEVELS page fits 128 payload bytes and the pages cover every level once', () => {
    const say = talker(perfProtocol(), vmAgent(), new FakePlatformState());
    const levels: number[] = [];
    let index = 0;
    for (;;) {
      const resp = hex(say(`04 4c 00 00 | 01 00 00 00 | ${index.toString(16).padStart(2, '0')} 00 00 00`));
      const payload = resp.subarray(8);
      expect(payload.length).toBeLessThanOrEqual(128);
      const dv = new DataView(payload.buffer, payload.byteOffset);
      const returned = dv.getUint16(0, true);
      const remaining = dv.getUint16(2, true);
      for (let i = 0; i < returned; i++) levels.push(dv.getUint32(4 + 12 * i, true));
      index += returned;
      if (remaining === 0) break;
    }
    expect(levels).toEqual([10, 20, 30, 40, 50, 60, 70, 80, 90, 100, 110, 120]);
  });
});

describe('perf protocol (0x13): the same golden vectors through the real backend', () => {
  it.each(GOLDEN)('%s', (_what, request, response) => {
    expect(backendTalkers().vm(request)).toBe(norm(response));
  });
});

describe('perf protocol (0x13): votes through the fake platform', () => {
  it('LEVEL_SET and LIMITS_SET vote with the platform ID; GETs read the own requests back', () => {
    const platform = new FakePlatformState();
    const say = talker(perfProtocol(), vmAgent(5), platform);
    expect(say('07 4c 00 00 | 00 00 00 00 | c8 00 00 00')).toBe(norm('07 4c 00 00 | 00 00 00 00'));
    expect(say('08 4c 04 00 | 00 00 00 00')).toBe(norm('08 4c 04 00 | 00 00 00 00 | c8 00 00 00'));
    expect(say('05 4c 08 00 | 00 00 00 00 | c8 00 00 00 | c8 00 00 00')).toBe(norm('05 4c 08 00 | 00 00 00 00'));
    expect(say('06 4c 0c 00 | 00 00 00 00')).toBe(norm('06 4c 0c 00 | 00 00 00 00 | c8 00 00 00 | c8 00 00 00'));
    expect(platform.log).toEqual(['perfSetLevel(5,0,200)', 'perfSetLimits(5,0,200,200)']);
  });

  it('LEVEL_GET without an own level answers the own min limit', () => {
    const platform = new FakePlatformState();
    const say = talker(perfProtocol(), vmAgent(), platform);
    expect(say('05 4c 00 00 | 00 00 00 00 | 2c 01 00 00 | c8 00 00 00')).toBe(norm('05 4c 00 00 | 00 00 00 00'));
    expect(say('08 4c 04 00 | 00 00 00 00')).toBe(norm('08 4c 04 00 | 00 00 00 00 | c8 00 00 00'));
  });

  it('refused sets before the platform (NOT_FOUND, INVALID_PARAMETERS, DENIED, short) change nothing', () => {
    const platform = new FakePlatformState();
    const say = talker(perfProtocol(), vmAgent(), platform);
    say('07 4c 00 00 | 01 00 00 00 | 0a 00 00 00');
    say('07 4c 00 00 | 02 00 00 00 | 64 00 00 00');
    say('05 4c 00 00 | 00 00 00 00 | 64 00 00 00 | c8 00 00 00');
    say('05 4c 00 00 | 01 00 00 00 | 78 00 00 00 | 0a 00 00 00');
    say('07 4c 00 00 | 00 00 00 00');
    expect(platform.log).toEqual([]);
  });
});

describe('perf protocol (0x13): against the real vote book (platform-state.ts)', () => {
  it('host limits clamp the aggregate but never refuse or show through to the VM; release drops the VM', () => {
    const platform = new ScmiPlatformState(testPlatform());
    const perf = perfProtocol();
    const vm = talker(perf, vmAgent(2), platform);
    const host = talker(perf, hostAgent(platform.desc), platform);

    // The host caps cpu-perf at 200.
    expect(host('05 4c 00 00 | 00 00 00 00 | c8 00 00 00 | 64 00 00 00')).toBe(norm('05 4c 00 00 | 00 00 00 00'));
    // The VM asks for 300: accepted (only its own limits bind it); the aggregate stays within 200.
    expect(vm('07 4c 04 00 | 00 00 00 00 | 2c 01 00 00')).toBe(norm('07 4c 04 00 | 00 00 00 00'));
    expect(platform.perfAggregate(0)).toEqual({ level: 200, max: 200, min: 100 });
    // Each agent reads its own requests: the VM its 300 and no limits (the whole range).
    expect(vm('08 4c 08 00 | 00 00 00 00')).toBe(norm('08 4c 08 00 | 00 00 00 00 | 2c 01 00 00'));
    expect(vm('06 4c 0c 00 | 00 00 00 00')).toBe(norm('06 4c 0c 00 | 00 00 00 00 | 2c 01 00 00 | 64 00 00 00'));
    expect(host('06 4c 10 00 | 00 00 00 00')).toBe(norm('06 4c 10 00 | 00 00 00 00 | c8 00 00 00 | 64 00 00 00'));
    expect(host('08 4c 14 00 | 00 00 00 00')).toBe(norm('08 4c 14 00 | 00 00 00 00 | 64 00 00 00'));
    // The VM's own limits do bind its level requests.
    expect(vm('05 4c 18 00 | 00 00 00 00 | c8 00 00 00 | 64 00 00 00')).toBe(norm('05 4c 18 00 | 00 00 00 00'));
    expect(vm('07 4c 1c 00 | 00 00 00 00 | 2c 01 00 00')).toBe(norm('07 4c 1c 00 | fb ff ff ff'));
    // Limits outside the OPP range are refused by the platform.
    expect(vm('05 4c 20 00 | 00 00 00 00 | 90 01 00 00 | 64 00 00 00')).toBe(norm('05 4c 20 00 | fb ff ff ff'));

    platform.releaseVoter(2);
    expect(platform.perfAggregate(0).level).toBe(100);
  });
});
