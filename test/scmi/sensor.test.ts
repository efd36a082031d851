/**
 * SCMI Sensor management protocol (0x15, v3.0) handler, src/scmi/protocols/sensor.ts: golden
 * request and response bytes typed by hand from scmi-virtio.md §6, §7, §9.1 and §9.6, error
 * replies included (header and status only, §5); paged SENSOR_DESCRIPTION_GET within the
 * 128-byte payload limit; v3 SENSOR_READING_GET with the counter timestamp (docs/decisions.md
 * S25), against the fake and the real platform state.
 *
 * Header bytes for protocol 0x15: [message_id, 0x54 | type, token << 2, token >> 6].
 * The VM agent (support/fakes.ts vmAgent) sees sensors [0, 1, 2, 3, 4, 6] as its IDs 0..5.
 * Descriptor: id, attributes_low (0x200: timestamped, exponent 0), attributes_high (type in
 * bits 7:0, unit exponent s5 in bits 15:11), name[16].
 */
import { describe, expect, it } from 'vitest';
import { sensorProtocol } from '../../src/scmi/protocols/sensor.js';
import { ScmiPlatformState } from '../../src/scmi/platform-state.js';
import { FakePlatformState, backendTalkers, hex, hostAgent, norm, talker, testPlatform, vmAgent } from './support/fakes.js';

const D0 = '00 00 00 00 | 00 02 00 00 | 02 e8 00 00 | 74 65 6d 70 2d 30 00 00 00 00 00 00 00 00 00 00'; // temp-0, type 2, e-3
const D1 = '01 00 00 00 | 00 02 00 00 | 05 d0 00 00 | 76 6f 6c 74 2d 31 00 00 00 00 00 00 00 00 00 00'; // volt-1, type 5, e-6
const D2 = '02 00 00 00 | 00 02 00 00 | 02 00 00 00 | 6e 65 67 2d 32 00 00 00 00 00 00 00 00 00 00 00'; // neg-2, type 2, e0
const D3 = '03 00 00 00 | 00 02 00 00 | 01 78 00 00 | 62 69 67 2d 33 00 00 00 00 00 00 00 00 00 00 00'; // big-3, type 1, e15
const D4 = '04 00 00 00 | 00 02 00 00 | 00 80 00 00 | 73 34 00 00 00 00 00 00 00 00 00 00 00 00 00 00'; // s4, type 0, e-16
const D5 = '05 00 00 00 | 00 02 00 00 | ff 00 00 00 | 73 36 00 00 00 00 00 00 00 00 00 00 00 00 00 00'; // s6 (platform 6), type 255

/** [what, request, expected response] — each against a fresh fake platform and handler. */
const GOLDEN: readonly (readonly [string, string, string])[] = [
  ['PROTOCOL_VERSION → 3.0', '00 54 00 00', '00 54 00 00 | 00 00 00 00 | 00 00 03 00'],
  [
    'PROTOCOL_ATTRIBUTES: 6 sensors, max_pending 0, no register region',
    '01 54 04 00',
    '01 54 04 00 | 00 00 00 00 | 06 00 00 00 | 00 00 00 00 | 00 00 00 00 | 00 00 00 00',
  ],
  ['MESSAGE_ATTRIBUTES(SENSOR_DESCRIPTION_GET) → 0', '02 54 08 00 | 03 00 00 00', '02 54 08 00 | 00 00 00 00 | 00 00 00 00'],
  ['MESSAGE_ATTRIBUTES(SENSOR_READING_GET) → 0', '02 54 08 00 | 06 00 00 00', '02 54 08 00 | 00 00 00 00 | 00 00 00 00'],
  ['MESSAGE_ATTRIBUTES(TRIP_POINT_NOTIFY) → NOT_FOUND', '02 54 08 00 | 04 00 00 00', '02 54 08 00 | fc ff ff ff'],
  ['MESSAGE_ATTRIBUTES(CONTINUOUS_UPDATE_NOTIFY) → NOT_FOUND', '02 54 08 00 | 0b 00 00 00', '02 54 08 00 | fc ff ff ff'],
  ['MESSAGE_ATTRIBUTES(LIST_UPDATE_INTERVALS) → NOT_FOUND', '02 54 08 00 | 08 00 00 00', '02 54 08 00 | fc ff ff ff'],
  ['NEGOTIATE 3.0 → SUCCESS', '10 54 0c 00 | 00 00 03 00', '10 54 0c 00 | 00 00 00 00'],
  ['NEGOTIATE 2.0 → NOT_SUPPORTED (v2 readings differ)', '10 54 0c 00 | 00 00 02 00', '10 54 0c 00 | ff ff ff ff'],
  ['NEGOTIATE 1.0 → NOT_SUPPORTED', '10 54 0c 00 | 00 00 01 00', '10 54 0c 00 | ff ff ff ff'],
  [
    'SENSOR_DESCRIPTION_GET(0): 4 returned, 2 remaining (116 bytes)',
    '03 54 10 00 | 00 00 00 00',
    `03 54 10 00 | 00 00 00 00 | 04 00 02 00 | ${D0} | ${D1} | ${D2} | ${D3}`,
  ],
  [
    'SENSOR_DESCRIPTION_GET(1): 4 returned, 1 remaining',
    '03 54 10 00 | 01 00 00 00',
    `03 54 10 00 | 00 00 00 00 | 04 00 01 00 | ${D1} | ${D2} | ${D3} | ${D4}`,
  ],
  [
    'SENSOR_DESCRIPTION_GET(4): the last 2; the agent ID 5 is platform sensor 6',
    '03 54 10 00 | 04 00 00 00',
    `03 54 10 00 | 00 00 00 00 | 02 00 00 00 | ${D4} | ${D5}`,
  ],
  ['SENSOR_DESCRIPTION_GET(6): empty page at the end', '03 54 10 00 | 06 00 00 00', '03 54 10 00 | 00 00 00 00 | 00 00 00 00'],
  ['SENSOR_DESCRIPTION_GET(7) → OUT_OF_RANGE', '03 54 10 00 | 07 00 00 00', '03 54 10 00 | fb ff ff ff'],
  ['SENSOR_DESCRIPTION_GET, no parameter → PROTOCOL_ERROR', '03 54 10 00', '03 54 10 00 | f6 ff ff ff'],
  [
    'SENSOR_READING_GET(0): 40000, timestamp 1',
    '06 54 14 00 | 00 00 00 00 | 00 00 00 00',
    '06 54 14 00 | 00 00 00 00 | 40 9c 00 00 | 00 00 00 00 | 01 00 00 00 | 00 00 00 00',
  ],
  [
    'SENSOR_READING_GET(1): 800000',
    '06 54 14 00 | 01 00 00 00 | 00 00 00 00',
    '06 54 14 00 | 00 00 00 00 | 00 35 0c 00 | 00 00 00 00 | 01 00 00 00 | 00 00 00 00',
  ],
  [
    'SENSOR_READING_GET(2): −5 as 64-bit two\'s complement',
    '06 54 14 00 | 02 00 00 00 | 00 00 00 00',
    '06 54 14 00 | 00 00 00 00 | fb ff ff ff | ff ff ff ff | 01 00 00 00 | 00 00 00 00',
  ],
  [
    'SENSOR_READING_GET(3): 0x1_2345_6789 across value_low/value_high',
    '06 54 14 00 | 03 00 00 00 | 00 00 00 00',
    '06 54 14 00 | 00 00 00 00 | 89 67 45 23 | 01 00 00 00 | 01 00 00 00 | 00 00 00 00',
  ],
  [
    'SENSOR_READING_GET(5): platform sensor 6 → 7',
    '06 54 14 00 | 05 00 00 00 | 00 00 00 00',
    '06 54 14 00 | 00 00 00 00 | 07 00 00 00 | 00 00 00 00 | 01 00 00 00 | 00 00 00 00',
  ],
  ['SENSOR_READING_GET(6) → NOT_FOUND (hidden-5 not given)', '06 54 14 00 | 06 00 00 00 | 00 00 00 00', '06 54 14 00 | fc ff ff ff'],
  ['SENSOR_READING_GET(0xFFFFFFFF) → NOT_FOUND', '06 54 14 00 | ff ff ff ff | 00 00 00 00', '06 54 14 00 | fc ff ff ff'],
  ['SENSOR_READING_GET async → NOT_SUPPORTED', '06 54 14 00 | 00 00 00 00 | 01 00 00 00', '06 54 14 00 | ff ff ff ff'],
  ['SENSOR_READING_GET async + flags bit 1 → INVALID_PARAMETERS first', '06 54 14 00 | 00 00 00 00 | 03 00 00 00', '06 54 14 00 | fe ff ff ff'],
  ['SENSOR_READING_GET unknown sensor + async → NOT_FOUND first', '06 54 14 00 | 06 00 00 00 | 01 00 00 00', '06 54 14 00 | fc ff ff ff'],
  ['SENSOR_READING_GET flags bit 1 → INVALID_PARAMETERS', '06 54 14 00 | 00 00 00 00 | 02 00 00 00', '06 54 14 00 | fe ff ff ff'],
  ['SENSOR_READING_GET flags bit 31 → INVALID_PARAMETERS', '06 54 14 00 | 00 00 00 00 | 00 00 00 80', '06 54 14 00 | fe ff ff ff'],
  ['SENSOR_READING_GET, 4 parameter bytes → PROTOCOL_ERROR', '06 54 14 00 | 00 00 00 00', '06 54 14 00 | f6 ff ff ff'],
  ['SENSOR_TRIP_POINT_NOTIFY → NOT_SUPPORTED', '04 54 18 00 | 00 00 00 00 | 01 00 00 00', '04 54 18 00 | ff ff ff ff'],
  ['SENSOR_TRIP_POINT_CONFIG → NOT_SUPPORTED', '05 54 18 00 | 00 00 00 00 | 13 00 00 00 | 00 00 00 00 | 00 00 00 00', '05 54 18 00 | ff ff ff ff'],
  ['SENSOR_AXIS_DESCRIPTION_GET → NOT_SUPPORTED', '07 54 18 00 | 00 00 00 00 | 00 00 00 00', '07 54 18 00 | ff ff ff ff'],
  ['SENSOR_LIST_UPDATE_INTERVALS → NOT_SUPPORTED', '08 54 18 00 | 00 00 00 00 | 00 00 00 00', '08 54 18 00 | ff ff ff ff'],
  ['SENSOR_CONFIG_GET → NOT_SUPPORTED', '09 54 18 00 | 00 00 00 00', '09 54 18 00 | ff ff ff ff'],
  ['SENSOR_CONFIG_SET → NOT_SUPPORTED', '0a 54 18 00 | 00 00 00 00 | 01 00 00 00', '0a 54 18 00 | ff ff ff ff'],
  ['SENSOR_CONTINUOUS_UPDATE_NOTIFY → NOT_SUPPORTED', '0b 54 18 00 | 00 00 00 00 | 01 00 00 00', '0b 54 18 00 | ff ff ff ff'],
  ['SENSOR_NAME_GET → NOT_SUPPORTED', '0c 54 18 00 | 00 00 00 00', '0c 54 18 00 | ff ff ff ff'],
  ['SENSOR_AXIS_NAME_GET → NOT_SUPPORTED', '0d 54 18 00 | 00 00 00 00 | 00 00 00 00', '0d 54 18 00 | ff ff ff ff'],
];

describe('sensor protocol (0x15): golden vectors', () => {
  it.each(GOLDEN)('%s', (_what, request, response) => {
    const say = talker(sensorProtocol(), vmAgent(), new FakePlatformState());
    expect(say(request)).toBe(norm(response));
  });

  it('advertises exactly the implemented messages', () => {
    const p = sensorProtocol();
    expect(p.id).toBe(0x15);
    expect(p.version).toBe(0x30000);
    expect([...p.messages.keys()].sort((a, b) => a - b)).toEqual([0x0, 0x1, 0x2, 0x3, 0x6, 0x10]);
  });

  it('every SENSOR_DESCRIPTION_GET page fits 128 payload bytes', () => {
    const say = talker(sensorProtocol(), vmAgent(), new FakePlatformState());
    for (let i = 0; i <= 6; i++) expect(hex(say(`03 54 00 00 | 0${i} 00 00 00`)).length - 8).toBeLessThanOrEqual(128);
  });
});

describe('sensor protocol (0x15): the same golden vectors through the real backend', () => {
  it.each(GOLDEN)('%s', (_what, request, response) => {
    expect(backendTalkers().vm(request)).toBe(norm(response));
  });
});

describe('sensor protocol (0x15): readings through the fake platform', () => {
  it('timestamps count readings per sensor and per handler instance; values follow the platform', () => {
    const platform = new FakePlatformState();
    const sensor = sensorProtocol();
    const say = talker(sensor, vmAgent(), platform);
    expect(say('06 54 00 00 | 00 00 00 00 | 00 00 00 00')).toBe(
      norm('06 54 00 00 | 00 00 00 00 | 40 9c 00 00 | 00 00 00 00 | 01 00 00 00 | 00 00 00 00'),
    );
    expect(say('06 54 04 00 | 00 00 00 00 | 00 00 00 00')).toBe(
      norm('06 54 04 00 | 00 00 00 00 | 41 9c 00 00 | 00 00 00 00 | 02 00 00 00 | 00 00 00 00'),
    );
    expect(say('06 54 08 00 | 01 00 00 00 | 00 00 00 00')).toBe(
      norm('06 54 08 00 | 00 00 00 00 | 00 35 0c 00 | 00 00 00 00 | 01 00 00 00 | 00 00 00 00'),
    );
    // A refused reading reads nothing.
    say('06 54 0c 00 | 00 00 00 00 | 01 00 00 00');
    expect(platform.log).toEqual(['readSensor(0)', 'readSensor(0)', 'readSensor(1)']);
    // A new handler starts its counters afresh; the platform's value sequence goes on.
    const again = talker(sensorProtocol(), vmAgent(), platform);
    expect(again('06 54 10 00 | 00 00 00 00 | 00 00 00 00')).toBe(
      norm('06 54 10 00 | 00 00 00 00 | 42 9c 00 00 | 00 00 00 00 | 01 00 00 00 | 00 00 00 00'),
    );
  });
});

describe('sensor protocol (0x15): against the real platform state (platform-state.ts)', () => {
  it('readings follow the description\'s reading(n) across agents; the host sees the hidden sensor', () => {
    const platform = new ScmiPlatformState(testPlatform());
    const sensor = sensorProtocol();
    const vm = talker(sensor, vmAgent(2), platform);
    const host = talker(sensor, hostAgent(platform.desc), platform);

    expect(vm('06 54 00 00 | 00 00 00 00 | 00 00 00 00')).toBe(
      norm('06 54 00 00 | 00 00 00 00 | 40 9c 00 00 | 00 00 00 00 | 01 00 00 00 | 00 00 00 00'),
    );
    expect(host('06 54 04 00 | 00 00 00 00 | 00 00 00 00')).toBe(
      norm('06 54 04 00 | 00 00 00 00 | 41 9c 00 00 | 00 00 00 00 | 02 00 00 00 | 00 00 00 00'),
    );
    // The host's ID 5 is hidden-5 (99); the VM's ID 5 is s6 (7).
    expect(host('06 54 08 00 | 05 00 00 00 | 00 00 00 00')).toBe(
      norm('06 54 08 00 | 00 00 00 00 | 63 00 00 00 | 00 00 00 00 | 01 00 00 00 | 00 00 00 00'),
    );
    expect(vm('06 54 0c 00 | 05 00 00 00 | 00 00 00 00')).toBe(
      norm('06 54 0c 00 | 00 00 00 00 | 07 00 00 00 | 00 00 00 00 | 01 00 00 00 | 00 00 00 00'),
    );
    expect(host('01 54 10 00')).toBe(
      norm('01 54 10 00 | 00 00 00 00 | 07 00 00 00 | 00 00 00 00 | 00 00 00 00 | 00 00 00 00'),
    );
  });
});
