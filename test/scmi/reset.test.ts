/**
 * SCMI Reset domain protocol (0x16) handler, src/scmi/protocols/reset.ts: golden request and
 * response bytes typed by hand from scmi-virtio.md §6, §7, §9.1 and §9.7, error replies included
 * (header and status only, §5), the older-Linux quirk of §9.7 (domain_id 0x80000001 → NOT_FOUND),
 * the accepted reset_state values (docs/decisions.md S24), against the fake and the real
 * platform state.
 *
 * Header bytes for protocol 0x16: [message_id, 0x58 | type, token << 2, token >> 6].
 * The VM agent (support/fakes.ts vmAgent) sees reset [rst-b, rst-c]; rst-c is read-only.
 */
import { describe, expect, it } from 'vitest';
import { resetProtocol } from '../../src/scmi/protocols/reset.js';
import { ScmiPlatformState } from '../../src/scmi/platform-state.js';
import { FakePlatformState, backendTalkers, hostAgent, norm, talker, testPlatform, vmAgent } from './support/fakes.js';

const NAME_RST_B = '72 73 74 2d 62 00 00 00 00 00 00 00 00 00 00 00';
const NAME_RST_C = '72 73 74 2d 63 00 00 00 00 00 00 00 00 00 00 00';

/** [what, request, expected response] — each against a fresh fake platform. */
const GOLDEN: readonly (readonly [string, string, string])[] = [
  ['PROTOCOL_VERSION → 3.0', '00 58 00 00', '00 58 00 00 | 00 00 00 00 | 00 00 03 00'],
  ['PROTOCOL_ATTRIBUTES: 2 domains', '01 58 04 00', '01 58 04 00 | 00 00 00 00 | 02 00 00 00'],
  ['MESSAGE_ATTRIBUTES(RESET) → 0', '02 58 08 00 | 04 00 00 00', '02 58 08 00 | 00 00 00 00 | 00 00 00 00'],
  ['MESSAGE_ATTRIBUTES(RESET_DOMAIN_ATTRIBUTES) → 0', '02 58 08 00 | 03 00 00 00', '02 58 08 00 | 00 00 00 00 | 00 00 00 00'],
  ['MESSAGE_ATTRIBUTES(RESET_NOTIFY) → NOT_FOUND (no P2A)', '02 58 08 00 | 05 00 00 00', '02 58 08 00 | fc ff ff ff'],
  ['MESSAGE_ATTRIBUTES(RESET_DOMAIN_NAME_GET) → NOT_FOUND', '02 58 08 00 | 06 00 00 00', '02 58 08 00 | fc ff ff ff'],
  ['NEGOTIATE 3.0 → SUCCESS', '10 58 0c 00 | 00 00 03 00', '10 58 0c 00 | 00 00 00 00'],
  ['NEGOTIATE 1.0 → SUCCESS', '10 58 0c 00 | 00 00 01 00', '10 58 0c 00 | 00 00 00 00'],
  ['NEGOTIATE 3.1 → NOT_SUPPORTED', '10 58 0c 00 | 01 00 03 00', '10 58 0c 00 | ff ff ff ff'],
  [
    'RESET_DOMAIN_ATTRIBUTES(0): no async/notify/ext-name, latency unknown, rst-b',
    '03 58 10 00 | 00 00 00 00',
    `03 58 10 00 | 00 00 00 00 | 00 00 00 00 | ff ff ff ff | ${NAME_RST_B}`,
  ],
  [
    'RESET_DOMAIN_ATTRIBUTES(1): latency 250 µs, rst-c',
    '03 58 10 00 | 01 00 00 00',
    `03 58 10 00 | 00 00 00 00 | 00 00 00 00 | fa 00 00 00 | ${NAME_RST_C}`,
  ],
  ['RESET_DOMAIN_ATTRIBUTES(2) → NOT_FOUND', '03 58 10 00 | 02 00 00 00', '03 58 10 00 | fc ff ff ff'],
  ['RESET_DOMAIN_ATTRIBUTES, no parameter → PROTOCOL_ERROR', '03 58 10 00', '03 58 10 00 | f6 ff ff ff'],
  ['RESET autonomous, architectural cold reset 0', '04 58 14 00 | 00 00 00 00 | 01 00 00 00 | 00 00 00 00', '04 58 14 00 | 00 00 00 00'],
  ['RESET autonomous, Linux ARCH_COLD_RESET 0x80000001', '04 58 14 00 | 00 00 00 00 | 01 00 00 00 | 01 00 00 80', '04 58 14 00 | 00 00 00 00'],
  ['RESET explicit assert', '04 58 14 00 | 00 00 00 00 | 02 00 00 00 | 01 00 00 80', '04 58 14 00 | 00 00 00 00'],
  ['RESET explicit deassert (flags 0)', '04 58 14 00 | 00 00 00 00 | 00 00 00 00 | 01 00 00 80', '04 58 14 00 | 00 00 00 00'],
  ['RESET autonomous + explicit assert (bit 1 ignored)', '04 58 14 00 | 00 00 00 00 | 03 00 00 00 | 00 00 00 00', '04 58 14 00 | 00 00 00 00'],
  ['RESET ASYNC → NOT_SUPPORTED', '04 58 14 00 | 00 00 00 00 | 04 00 00 00 | 00 00 00 00', '04 58 14 00 | ff ff ff ff'],
  ['RESET autonomous + ASYNC → NOT_SUPPORTED', '04 58 14 00 | 00 00 00 00 | 05 00 00 00 | 00 00 00 00', '04 58 14 00 | ff ff ff ff'],
  ['RESET ASYNC + flags bit 3 → INVALID_PARAMETERS first', '04 58 14 00 | 00 00 00 00 | 0c 00 00 00 | 00 00 00 00', '04 58 14 00 | fe ff ff ff'],
  ['RESET ASYNC + bad reset_state → NOT_SUPPORTED first', '04 58 14 00 | 00 00 00 00 | 04 00 00 00 | 07 00 00 00', '04 58 14 00 | ff ff ff ff'],
  ['RESET read-only + bad reset_state → INVALID_PARAMETERS first', '04 58 14 00 | 01 00 00 00 | 01 00 00 00 | 07 00 00 00', '04 58 14 00 | fe ff ff ff'],
  ['RESET flags bit 3 → INVALID_PARAMETERS', '04 58 14 00 | 00 00 00 00 | 08 00 00 00 | 00 00 00 00', '04 58 14 00 | fe ff ff ff'],
  ['RESET flags bit 31 → INVALID_PARAMETERS', '04 58 14 00 | 00 00 00 00 | 01 00 00 80 | 00 00 00 00', '04 58 14 00 | fe ff ff ff'],
  ['RESET reset_state 1 (reserved architectural) → INVALID_PARAMETERS', '04 58 14 00 | 00 00 00 00 | 01 00 00 00 | 01 00 00 00', '04 58 14 00 | fe ff ff ff'],
  ['RESET reset_state 0x80000000 (vendor 0) → INVALID_PARAMETERS', '04 58 14 00 | 00 00 00 00 | 01 00 00 00 | 00 00 00 80', '04 58 14 00 | fe ff ff ff'],
  ['RESET reset_state 0x80000002 (vendor 2) → INVALID_PARAMETERS', '04 58 14 00 | 00 00 00 00 | 01 00 00 00 | 02 00 00 80', '04 58 14 00 | fe ff ff ff'],
  ['RESET read-only domain → DENIED', '04 58 14 00 | 01 00 00 00 | 01 00 00 00 | 00 00 00 00', '04 58 14 00 | fd ff ff ff'],
  ['RESET domain 2 → NOT_FOUND', '04 58 14 00 | 02 00 00 00 | 01 00 00 00 | 00 00 00 00', '04 58 14 00 | fc ff ff ff'],
  [
    'older-Linux quirk: domain_id 0x80000001, state 0 → NOT_FOUND',
    '04 58 14 00 | 01 00 00 80 | 01 00 00 00 | 00 00 00 00',
    '04 58 14 00 | fc ff ff ff',
  ],
  [
    'older-Linux quirk, explicit deassert form → NOT_FOUND',
    '04 58 14 00 | 01 00 00 80 | 00 00 00 00 | 00 00 00 00',
    '04 58 14 00 | fc ff ff ff',
  ],
  ['RESET, 8 parameter bytes → PROTOCOL_ERROR', '04 58 14 00 | 00 00 00 00 | 01 00 00 00', '04 58 14 00 | f6 ff ff ff'],
  ['RESET_NOTIFY → NOT_SUPPORTED (no P2A)', '05 58 18 00 | 00 00 00 00 | 01 00 00 00', '05 58 18 00 | ff ff ff ff'],
  ['RESET_DOMAIN_NAME_GET → NOT_SUPPORTED', '06 58 18 00 | 00 00 00 00', '06 58 18 00 | ff ff ff ff'],
  ['message 0x07 → NOT_SUPPORTED', '07 58 18 00', '07 58 18 00 | ff ff ff ff'],
];

describe('reset protocol (0x16): golden vectors', () => {
  it.each(GOLDEN)('%s', (_what, request, response) => {
    const say = talker(resetProtocol(), vmAgent(), new FakePlatformState());
    expect(say(request)).toBe(norm(response));
  });

  it('advertises exactly the implemented messages', () => {
    const p = resetProtocol();
    expect(p.id).toBe(0x16);
    expect(p.version).toBe(0x30000);
    expect([...p.messages.keys()].sort((a, b) => a - b)).toEqual([0x0, 0x1, 0x2, 0x3, 0x4, 0x10]);
  });
});

describe('reset protocol (0x16): the same golden vectors through the real backend', () => {
  it.each(GOLDEN)('%s', (_what, request, response) => {
    expect(backendTalkers().vm(request)).toBe(norm(response));
  });
});

describe('reset protocol (0x16): through the fake platform', () => {
  it('autonomous resets and explicit asserts count, deasserts do not; under the agent and platform IDs', () => {
    const platform = new FakePlatformState();
    const say = talker(resetProtocol(), vmAgent(4), platform);
    for (const flags of ['01', '02', '00', '03']) {
      expect(say(`04 58 00 00 | 00 00 00 00 | ${flags} 00 00 00 | 01 00 00 80`)).toBe(norm('04 58 00 00 | 00 00 00 00'));
    }
    expect(platform.log).toEqual(['reset(4,1)', 'reset(4,1)', 'reset(4,1)']);
    expect(platform.resetCount(1)).toBe(3);
  });

  it('refused resets reach no domain', () => {
    const platform = new FakePlatformState();
    const say = talker(resetProtocol(), vmAgent(), platform);
    say('04 58 00 00 | 00 00 00 00 | 04 00 00 00 | 00 00 00 00');
    say('04 58 00 00 | 00 00 00 00 | 01 00 00 00 | 07 00 00 00');
    say('04 58 00 00 | 01 00 00 00 | 01 00 00 00 | 00 00 00 00');
    say('04 58 00 00 | 01 00 00 80 | 01 00 00 00 | 00 00 00 00');
    say('04 58 00 00 | 00 00 00 00');
    expect(platform.log).toEqual([]);
  });
});

describe('reset protocol (0x16): against the real platform state (platform-state.ts)', () => {
  it('counts resets per platform domain and notifies; DENIED and the quirk leave counts alone', () => {
    const platform = new ScmiPlatformState(testPlatform());
    const changes: string[] = [];
    platform.onChange((kind, id) => changes.push(`${kind}:${id}`));
    const reset = resetProtocol();
    const vm = talker(reset, vmAgent(2), platform);
    const host = talker(reset, hostAgent(platform.desc), platform);

    expect(vm('04 58 00 00 | 00 00 00 00 | 01 00 00 00 | 01 00 00 80')).toBe(norm('04 58 00 00 | 00 00 00 00'));
    expect(host('04 58 04 00 | 00 00 00 00 | 01 00 00 00 | 00 00 00 00')).toBe(norm('04 58 04 00 | 00 00 00 00'));
    expect(vm('04 58 08 00 | 01 00 00 00 | 01 00 00 00 | 00 00 00 00')).toBe(norm('04 58 08 00 | fd ff ff ff'));
    expect(vm('04 58 0c 00 | 01 00 00 80 | 01 00 00 00 | 00 00 00 00')).toBe(norm('04 58 0c 00 | fc ff ff ff'));

    expect([platform.resetCount(0), platform.resetCount(1), platform.resetCount(2)]).toEqual([1, 1, 0]);
    expect(changes).toEqual(['reset:1', 'reset:0']);
  });
});
