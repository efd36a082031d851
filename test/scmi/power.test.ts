/**
 * SCMI Power domain protocol (0x11) handler, src/scmi/protocols/power.ts: golden request and
 * response bytes typed by hand from scmi-virtio.md §6 (header), §7 (status codes), §9.1 (common
 * messages) and §9.3 (power messages), error replies included (header and status only, §5); the
 * agent-local IDs and DENIED of §12; own-vote POWER_STATE_GET (docs/decisions.md S21) against
 * both the fake and the real vote book.
 *
 * Header bytes for protocol 0x11: [message_id, 0x44 | type, token << 2, token >> 6].
 * The VM agent (support/fakes.ts vmAgent) sees power [pd-a, pd-c]; pd-c is read-only.
 */
import { describe, expect, it } from 'vitest';
import { powerProtocol } from '../../src/scmi/protocols/power.js';
import { ScmiPlatformState } from '../../src/scmi/platform-state.js';
import { FakePlatformState, backendTalkers, hostAgent, norm, talker, testPlatform, vmAgent } from './support/fakes.js';

const NAME_PD_A = '70 64 2d 61 00 00 00 00 00 00 00 00 00 00 00 00';
const NAME_PD_C = '70 64 2d 63 00 00 00 00 00 00 00 00 00 00 00 00';

/** [what, request, expected response] — each against a fresh fake platform. */
const GOLDEN: readonly (readonly [string, string, string])[] = [
  ['PROTOCOL_VERSION → 3.0', '00 44 00 00', '00 44 00 00 | 00 00 00 00 | 00 00 03 00'],
  [
    'PROTOCOL_ATTRIBUTES: 2 domains the agent sees, no statistics',
    '01 44 04 00',
    '01 44 04 00 | 00 00 00 00 | 02 00 00 00 | 00 00 00 00 | 00 00 00 00 | 00 00 00 00',
  ],
  ['MESSAGE_ATTRIBUTES(POWER_STATE_SET) → 0', '02 44 08 00 | 04 00 00 00', '02 44 08 00 | 00 00 00 00 | 00 00 00 00'],
  ['MESSAGE_ATTRIBUTES(PROTOCOL_VERSION) → 0', '02 44 08 00 | 00 00 00 00', '02 44 08 00 | 00 00 00 00 | 00 00 00 00'],
  ['MESSAGE_ATTRIBUTES(NEGOTIATE) → 0', '02 44 08 00 | 10 00 00 00', '02 44 08 00 | 00 00 00 00 | 00 00 00 00'],
  ['MESSAGE_ATTRIBUTES(POWER_STATE_NOTIFY) → NOT_FOUND (no P2A)', '02 44 08 00 | 06 00 00 00', '02 44 08 00 | fc ff ff ff'],
  ['MESSAGE_ATTRIBUTES(CHANGE_REQUESTED_NOTIFY) → NOT_FOUND', '02 44 08 00 | 07 00 00 00', '02 44 08 00 | fc ff ff ff'],
  ['MESSAGE_ATTRIBUTES(NAME_GET) → NOT_FOUND', '02 44 08 00 | 08 00 00 00', '02 44 08 00 | fc ff ff ff'],
  ['MESSAGE_ATTRIBUTES(0x100) → NOT_FOUND', '02 44 08 00 | 00 01 00 00', '02 44 08 00 | fc ff ff ff'],
  ['MESSAGE_ATTRIBUTES, 2 parameter bytes → PROTOCOL_ERROR', '02 44 08 00 | 04 00', '02 44 08 00 | f6 ff ff ff'],
  ['NEGOTIATE 3.0 → SUCCESS', '10 44 0c 00 | 00 00 03 00', '10 44 0c 00 | 00 00 00 00'],
  ['NEGOTIATE 2.0 → SUCCESS', '10 44 0c 00 | 00 00 02 00', '10 44 0c 00 | 00 00 00 00'],
  ['NEGOTIATE 3.1 → NOT_SUPPORTED', '10 44 0c 00 | 01 00 03 00', '10 44 0c 00 | ff ff ff ff'],
  ['NEGOTIATE 4.0 → NOT_SUPPORTED', '10 44 0c 00 | 00 00 04 00', '10 44 0c 00 | ff ff ff ff'],
  ['NEGOTIATE without parameter → PROTOCOL_ERROR', '10 44 0c 00', '10 44 0c 00 | f6 ff ff ff'],
  [
    'DOMAIN_ATTRIBUTES(0): sync set (bit 29), name pd-a',
    '03 44 10 00 | 00 00 00 00',
    `03 44 10 00 | 00 00 00 00 | 00 00 00 20 | ${NAME_PD_A}`,
  ],
  [
    'DOMAIN_ATTRIBUTES(1): read-only pd-c, no set bit',
    '03 44 10 00 | 01 00 00 00',
    `03 44 10 00 | 00 00 00 00 | 00 00 00 00 | ${NAME_PD_C}`,
  ],
  ['DOMAIN_ATTRIBUTES(2) → NOT_FOUND (pd-b not given)', '03 44 10 00 | 02 00 00 00', '03 44 10 00 | fc ff ff ff'],
  ['DOMAIN_ATTRIBUTES, no parameter → PROTOCOL_ERROR', '03 44 10 00', '03 44 10 00 | f6 ff ff ff'],
  ['POWER_STATE_GET(0) before any vote → GENERIC_OFF', '05 44 14 00 | 00 00 00 00', '05 44 14 00 | 00 00 00 00 | 00 00 00 40'],
  ['POWER_STATE_GET(1) read-only domain is readable', '05 44 14 00 | 01 00 00 00', '05 44 14 00 | 00 00 00 00 | 00 00 00 40'],
  ['POWER_STATE_GET(2) → NOT_FOUND', '05 44 14 00 | 02 00 00 00', '05 44 14 00 | fc ff ff ff'],
  ['POWER_STATE_GET, token 0x3FF echoed', '05 44 fc 0f | 00 00 00 00', '05 44 fc 0f | 00 00 00 00 | 00 00 00 40'],
  ['POWER_STATE_SET ON → SUCCESS', '04 44 18 00 | 00 00 00 00 | 00 00 00 00 | 00 00 00 00', '04 44 18 00 | 00 00 00 00'],
  ['POWER_STATE_SET OFF → SUCCESS', '04 44 18 00 | 00 00 00 00 | 00 00 00 00 | 00 00 00 40', '04 44 18 00 | 00 00 00 00'],
  ['POWER_STATE_SET async flag → NOT_SUPPORTED', '04 44 18 00 | 01 00 00 00 | 00 00 00 00 | 00 00 00 00', '04 44 18 00 | ff ff ff ff'],
  ['POWER_STATE_SET async + flags bit 1 → INVALID_PARAMETERS first', '04 44 18 00 | 03 00 00 00 | 00 00 00 00 | 00 00 00 00', '04 44 18 00 | fe ff ff ff'],
  ['POWER_STATE_SET async + bad state → NOT_SUPPORTED first', '04 44 18 00 | 01 00 00 00 | 00 00 00 00 | 05 00 00 00', '04 44 18 00 | ff ff ff ff'],
  ['POWER_STATE_SET read-only + bad state → INVALID_PARAMETERS first', '04 44 18 00 | 00 00 00 00 | 01 00 00 00 | 05 00 00 00', '04 44 18 00 | fe ff ff ff'],
  ['POWER_STATE_SET flags bit 1 → INVALID_PARAMETERS', '04 44 18 00 | 02 00 00 00 | 00 00 00 00 | 00 00 00 00', '04 44 18 00 | fe ff ff ff'],
  ['POWER_STATE_SET state 0x40000001 → INVALID_PARAMETERS', '04 44 18 00 | 00 00 00 00 | 00 00 00 00 | 01 00 00 40', '04 44 18 00 | fe ff ff ff'],
  ['POWER_STATE_SET state 1 → INVALID_PARAMETERS', '04 44 18 00 | 00 00 00 00 | 00 00 00 00 | 01 00 00 00', '04 44 18 00 | fe ff ff ff'],
  ['POWER_STATE_SET state 0x80000000 → INVALID_PARAMETERS', '04 44 18 00 | 00 00 00 00 | 00 00 00 00 | 00 00 00 80', '04 44 18 00 | fe ff ff ff'],
  ['POWER_STATE_SET read-only domain → DENIED', '04 44 18 00 | 00 00 00 00 | 01 00 00 00 | 00 00 00 00', '04 44 18 00 | fd ff ff ff'],
  ['POWER_STATE_SET domain 2 → NOT_FOUND', '04 44 18 00 | 00 00 00 00 | 02 00 00 00 | 00 00 00 00', '04 44 18 00 | fc ff ff ff'],
  ['POWER_STATE_SET domain 0x80000001 → NOT_FOUND', '04 44 18 00 | 00 00 00 00 | 01 00 00 80 | 00 00 00 00', '04 44 18 00 | fc ff ff ff'],
  ['POWER_STATE_SET unknown domain with async flag → NOT_FOUND first', '04 44 18 00 | 01 00 00 00 | 07 00 00 00 | 00 00 00 00', '04 44 18 00 | fc ff ff ff'],
  ['POWER_STATE_SET, 8 parameter bytes → PROTOCOL_ERROR', '04 44 18 00 | 00 00 00 00 | 00 00 00 00', '04 44 18 00 | f6 ff ff ff'],
  ['POWER_STATE_NOTIFY → NOT_SUPPORTED (no P2A)', '06 44 1c 00 | 00 00 00 00 | 01 00 00 00', '06 44 1c 00 | ff ff ff ff'],
  ['POWER_STATE_NOTIFY disable → NOT_SUPPORTED', '06 44 1c 00 | 00 00 00 00 | 00 00 00 00', '06 44 1c 00 | ff ff ff ff'],
  ['CHANGE_REQUESTED_NOTIFY → NOT_SUPPORTED', '07 44 20 00 | 00 00 00 00 | 01 00 00 00', '07 44 20 00 | ff ff ff ff'],
  ['POWER_DOMAIN_NAME_GET → NOT_SUPPORTED', '08 44 24 00 | 00 00 00 00', '08 44 24 00 | ff ff ff ff'],
  ['message 0x09 → NOT_SUPPORTED', '09 44 28 00', '09 44 28 00 | ff ff ff ff'],
  ['message_type 3 → NOT_SUPPORTED', '05 47 2c 00 | 00 00 00 00', '05 47 2c 00 | ff ff ff ff'],
];

describe('power protocol (0x11): golden vectors', () => {
  it.each(GOLDEN)('%s', (_what, request, response) => {
    const say = talker(powerProtocol(), vmAgent(), new FakePlatformState());
    expect(say(request)).toBe(norm(response));
  });

  it('advertises exactly the implemented messages', () => {
    const p = powerProtocol();
    expect(p.id).toBe(0x11);
    expect(p.version).toBe(0x30000);
    expect([...p.messages.keys()].sort((a, b) => a - b)).toEqual([0x0, 0x1, 0x2, 0x3, 0x4, 0x5, 0x10]);
    expect([...p.messages.values()].every((v) => v === 0)).toBe(true);
  });
});

describe('power protocol (0x11): the same golden vectors through the real backend', () => {
  it.each(GOLDEN)('%s', (_what, request, response) => {
    expect(backendTalkers().vm(request)).toBe(norm(response));
  });
});

describe('power protocol (0x11): votes through the fake platform', () => {
  it('POWER_STATE_SET votes under the agent ID with the platform ID; GET reads it back', () => {
    const platform = new FakePlatformState();
    const say = talker(powerProtocol(), vmAgent(7), platform);
    expect(say('04 44 00 00 | 00 00 00 00 | 00 00 00 00 | 00 00 00 00')).toBe(norm('04 44 00 00 | 00 00 00 00'));
    expect(say('05 44 04 00 | 00 00 00 00')).toBe(norm('05 44 04 00 | 00 00 00 00 | 00 00 00 00'));
    expect(say('04 44 08 00 | 00 00 00 00 | 00 00 00 00 | 00 00 00 40')).toBe(norm('04 44 08 00 | 00 00 00 00'));
    expect(say('05 44 0c 00 | 00 00 00 00')).toBe(norm('05 44 0c 00 | 00 00 00 00 | 00 00 00 40'));
    expect(platform.log).toEqual(['powerSet(7,0,true)', 'powerSet(7,0,false)']);
  });

  it('a refused POWER_STATE_SET changes nothing', () => {
    const platform = new FakePlatformState();
    const say = talker(powerProtocol(), vmAgent(), platform);
    say('04 44 00 00 | 01 00 00 00 | 00 00 00 00 | 00 00 00 00'); // async
    say('04 44 00 00 | 00 00 00 00 | 00 00 00 00 | 05 00 00 00'); // bad state
    say('04 44 00 00 | 00 00 00 00 | 01 00 00 00 | 00 00 00 00'); // read-only
    say('04 44 00 00 | 00 00 00 00 | 02 00 00 00 | 00 00 00 00'); // not given
    say('04 44 00 00 | 00 00 00 00'); // short
    expect(platform.log).toEqual([]);
  });

  it('POWER_STATE_GET answers the own vote, not another voter\'s', () => {
    const platform = new FakePlatformState();
    platform.powerSet(3, 0, true); // another agent holds pd-a on
    const say = talker(powerProtocol(), vmAgent(2), platform);
    expect(say('05 44 00 00 | 00 00 00 00')).toBe(norm('05 44 00 00 | 00 00 00 00 | 00 00 00 40'));
  });

  it('ignores parameter bytes beyond what the message needs', () => {
    const say = talker(powerProtocol(), vmAgent(), new FakePlatformState());
    expect(say('05 44 00 00 | 00 00 00 00 | de ad be ef')).toBe(norm('05 44 00 00 | 00 00 00 00 | 00 00 00 40'));
  });
});

describe('power protocol (0x11): against the real vote book (platform-state.ts)', () => {
  it('host and VM votes aggregate; each agent reads only its own vote; release drops the VM', () => {
    const platform = new ScmiPlatformState(testPlatform());
    const power = powerProtocol();
    const vm = talker(power, vmAgent(2), platform);
    const host = talker(power, hostAgent(platform.desc), platform);

    // Host turns pd-a on; the VM still reads its own (absent) vote: OFF.
    expect(host('04 44 00 00 | 00 00 00 00 | 00 00 00 00 | 00 00 00 00')).toBe(norm('04 44 00 00 | 00 00 00 00'));
    expect(platform.powerAggregate(0)).toBe(true);
    expect(vm('05 44 04 00 | 00 00 00 00')).toBe(norm('05 44 04 00 | 00 00 00 00 | 00 00 00 40'));

    // VM votes on, host votes off: still on (the VM holds it); each reads its own vote.
    expect(vm('04 44 08 00 | 00 00 00 00 | 00 00 00 00 | 00 00 00 00')).toBe(norm('04 44 08 00 | 00 00 00 00'));
    expect(host('04 44 0c 00 | 00 00 00 00 | 00 00 00 00 | 00 00 00 40')).toBe(norm('04 44 0c 00 | 00 00 00 00'));
    expect(platform.powerAggregate(0)).toBe(true);
    expect(vm('05 44 10 00 | 00 00 00 00')).toBe(norm('05 44 10 00 | 00 00 00 00 | 00 00 00 00'));
    expect(host('05 44 14 00 | 00 00 00 00')).toBe(norm('05 44 14 00 | 00 00 00 00 | 00 00 00 40'));

    // The VM goes away: its vote goes, the domain is off.
    platform.releaseVoter(2);
    expect(platform.powerAggregate(0)).toBe(false);

    // pd-b is held on by the host's description vote: the host reads ON; the VM cannot see it.
    expect(host('05 44 18 00 | 01 00 00 00')).toBe(norm('05 44 18 00 | 00 00 00 00 | 00 00 00 00'));
    expect(vm('03 44 1c 00 | 02 00 00 00')).toBe(norm('03 44 1c 00 | fc ff ff ff'));
  });
});
