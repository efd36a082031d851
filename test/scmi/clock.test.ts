/**
 * SCMI Clock protocol (0x14) through the backend: every implemented message of scmi-virtio.md
 * §9.5 with golden request/response bytes typed by hand (rates of test/scmi/support/core.ts),
 * the error statuses where they apply, and the messages refused without P2A.
 */
import { describe, expect, it } from 'vitest';
import { ScmiProtocolId } from '../../src/scmi/api.js';
import { ask, coreBackend, norm, zeros } from './support/core.js';

function setup() {
  const b = coreBackend();
  // vm-a: device 0 (clocks 0, 1 → its 0, 1) fully, device 2 (clocks 3, 4 → its 2, 3) read-only.
  const vm = b.openAgent({ agentId: 7, name: 'vm-a', devices: [0, { id: 2, readOnly: true }], protocols: [ScmiProtocolId.CLOCK] });
  return { b, host: b.host, vm };
}

const LONG_NAME = '61 2d 63 6c 6f 63 6b 2d 77 69 74 68 2d 61 2d 72 61 74 68 65 72 2d 6c 6f 6e 67 2d 6e 61 6d 65';

describe('Clock common messages', () => {
  it('PROTOCOL_VERSION is 3.0', () => {
    const { b, host } = setup();
    expect(ask(b, host, '00 50 00 00')).toBe(norm('00 50 00 00 | 00 00 00 00 | 00 00 03 00'));
  });

  it('PROTOCOL_ATTRIBUTES: the clocks the agent sees, max_async_req 0', () => {
    const { b, host, vm } = setup();
    expect(ask(b, host, '01 50 00 00')).toBe(norm('01 50 00 00 | 00 00 00 00 | 05 00 00 00'));
    expect(ask(b, vm, '01 50 00 00')).toBe(norm('01 50 00 00 | 00 00 00 00 | 04 00 00 00'));
  });

  it('PROTOCOL_MESSAGE_ATTRIBUTES: implemented 0x0–0x8, 0xB, 0x10; notify and parent messages NOT_FOUND', () => {
    const { b, host } = setup();
    for (const id of ['00', '01', '02', '03', '04', '05', '06', '07', '08', '0b', '10']) {
      expect(ask(b, host, `02 50 00 00 | ${id} 00 00 00`)).toBe(norm('02 50 00 00 | 00 00 00 00 | 00 00 00 00'));
    }
    for (const id of ['09', '0a', '0c', '0d', '0e', '0f']) {
      expect(ask(b, host, `02 50 00 00 | ${id} 00 00 00`)).toBe(norm('02 50 00 00 fc ff ff ff'));
    }
  });

  it('the notify requests and unimplemented messages → NOT_SUPPORTED (no P2A, §5)', () => {
    const { b, host } = setup();
    expect(ask(b, host, '09 50 00 00 | 00 00 00 00 | 01 00 00 00')).toBe(norm('09 50 00 00 ff ff ff ff'));
    expect(ask(b, host, '0a 50 00 00 | 00 00 00 00 | 01 00 00 00')).toBe(norm('0a 50 00 00 ff ff ff ff'));
    expect(ask(b, host, '0c 50 00 00 | 00 00 00 00')).toBe(norm('0c 50 00 00 ff ff ff ff'));
    expect(ask(b, host, '0f 50 00 00 | 00 00 00 00')).toBe(norm('0f 50 00 00 ff ff ff ff'));
  });
});

describe('CLOCK_ATTRIBUTES (0x3)', () => {
  it('disabled list clock: attributes 0, name, enable_latency 0', () => {
    const { b, host } = setup();
    expect(ask(b, host, '03 50 00 00 | 00 00 00 00')).toBe(
      norm(`03 50 00 00 | 00 00 00 00 | 00 00 00 00 | 63 6c 6b 2d 6c 69 73 74 ${zeros(8)} | 00 00 00 00`),
    );
  });

  it("bit 0 is the caller's own vote: set for the host, clear for a VM on the same clock", () => {
    const { b, host, vm } = setup();
    expect(ask(b, host, '03 50 00 00 | 01 00 00 00')).toBe(
      norm(`03 50 00 00 | 00 00 00 00 | 01 00 00 00 | 63 6c 6b 2d 72 61 6e 67 65 ${zeros(7)} | 00 00 00 00`),
    );
    expect(ask(b, vm, '03 50 00 00 | 01 00 00 00')).toBe(
      norm(`03 50 00 00 | 00 00 00 00 | 00 00 00 00 | 63 6c 6b 2d 72 61 6e 67 65 ${zeros(7)} | 00 00 00 00`),
    );
  });

  it('a long name: truncated to 15 characters, extended-name bit 29 set', () => {
    const { b, host } = setup();
    expect(ask(b, host, '03 50 00 00 | 04 00 00 00')).toBe(
      norm('03 50 00 00 | 00 00 00 00 | 00 00 00 20 | 61 2d 63 6c 6f 63 6b 2d 77 69 74 68 2d 61 2d 00 | 00 00 00 00'),
    );
  });

  it('unknown clock → NOT_FOUND; short → PROTOCOL_ERROR', () => {
    const { b, host, vm } = setup();
    expect(ask(b, host, '03 50 00 00 | 05 00 00 00')).toBe(norm('03 50 00 00 fc ff ff ff'));
    expect(ask(b, vm, '03 50 00 00 | 04 00 00 00')).toBe(norm('03 50 00 00 fc ff ff ff'));
    expect(ask(b, host, '03 50 00 00 | 00 00')).toBe(norm('03 50 00 00 f6 ff ff ff'));
  });
});

describe('CLOCK_DESCRIBE_RATES (0x4)', () => {
  it('a list from index 0 and from index 1', () => {
    const { b, host } = setup();
    expect(ask(b, host, '04 50 00 00 | 00 00 00 00 | 00 00 00 00')).toBe(
      norm('04 50 00 00 | 00 00 00 00 | 03 00 00 00 | e8 03 00 00 00 00 00 00 | d0 07 00 00 00 00 00 00 | a0 0f 00 00 00 00 00 00'),
    );
    expect(ask(b, host, '04 50 00 00 | 00 00 00 00 | 01 00 00 00')).toBe(
      norm('04 50 00 00 | 00 00 00 00 | 02 00 00 00 | d0 07 00 00 00 00 00 00 | a0 0f 00 00 00 00 00 00'),
    );
  });

  it('a range: the triplet min, max, step with returned 3, remaining 0, bit 12', () => {
    const { b, host } = setup();
    expect(ask(b, host, '04 50 00 00 | 01 00 00 00 | 00 00 00 00')).toBe(
      norm('04 50 00 00 | 00 00 00 00 | 03 10 00 00 | 00 e1 f5 05 00 00 00 00 | 00 c2 eb 0b 00 00 00 00 | 40 42 0f 00 00 00 00 00'),
    );
  });

  it('rates above 32 bits use the high word', () => {
    const { b, host } = setup();
    expect(ask(b, host, '04 50 00 00 | 02 00 00 00 | 00 00 00 00')).toBe(
      norm('04 50 00 00 | 00 00 00 00 | 02 00 00 00 | 00 00 00 00 01 00 00 00 | 00 00 00 00 02 00 00 00'),
    );
  });

  it('a 20-rate list pages 15 then 5, each reply within 128 payload bytes', () => {
    const { b, host } = setup();
    const first = ask(b, host, '04 50 00 00 | 03 00 00 00 | 00 00 00 00');
    expect(first).toBe(
      norm(
        '04 50 00 00 | 00 00 00 00 | 0f 00 05 00 | ' +
          'e8 03 00 00 00 00 00 00 | d0 07 00 00 00 00 00 00 | b8 0b 00 00 00 00 00 00 | a0 0f 00 00 00 00 00 00 | ' +
          '88 13 00 00 00 00 00 00 | 70 17 00 00 00 00 00 00 | 58 1b 00 00 00 00 00 00 | 40 1f 00 00 00 00 00 00 | ' +
          '28 23 00 00 00 00 00 00 | 10 27 00 00 00 00 00 00 | f8 2a 00 00 00 00 00 00 | e0 2e 00 00 00 00 00 00 | ' +
          'c8 32 00 00 00 00 00 00 | b0 36 00 00 00 00 00 00 | 98 3a 00 00 00 00 00 00',
      ),
    );
    expect(first.split(' ').length - 8).toBeLessThanOrEqual(128);
    expect(ask(b, host, '04 50 00 00 | 03 00 00 00 | 0f 00 00 00')).toBe(
      norm(
        '04 50 00 00 | 00 00 00 00 | 05 00 00 00 | 80 3e 00 00 00 00 00 00 | 68 42 00 00 00 00 00 00 | ' +
          '50 46 00 00 00 00 00 00 | 38 4a 00 00 00 00 00 00 | 20 4e 00 00 00 00 00 00',
      ),
    );
  });

  it('an index past the list, or non-zero for a range → OUT_OF_RANGE; unknown clock → NOT_FOUND', () => {
    const { b, host } = setup();
    expect(ask(b, host, '04 50 00 00 | 00 00 00 00 | 03 00 00 00')).toBe(norm('04 50 00 00 fb ff ff ff'));
    expect(ask(b, host, '04 50 00 00 | 01 00 00 00 | 01 00 00 00')).toBe(norm('04 50 00 00 fb ff ff ff'));
    expect(ask(b, host, '04 50 00 00 | 09 00 00 00 | 00 00 00 00')).toBe(norm('04 50 00 00 fc ff ff ff'));
    expect(ask(b, host, '04 50 00 00 | 00 00 00 00')).toBe(norm('04 50 00 00 f6 ff ff ff'));
  });
});

describe('CLOCK_RATE_SET (0x5) and CLOCK_RATE_GET (0x6)', () => {
  it('§6 example header (token 5): set 2000 Hz, read it back', () => {
    const { b, vm } = setup();
    expect(ask(b, vm, '05 50 14 00 | 00 00 00 00 | 00 00 00 00 | d0 07 00 00 | 00 00 00 00')).toBe(norm('05 50 14 00 00 00 00 00'));
    expect(ask(b, vm, '06 50 00 00 | 00 00 00 00')).toBe(norm('06 50 00 00 | 00 00 00 00 | d0 07 00 00 00 00 00 00'));
  });

  it('rounds down by default, up with ROUND_UP, to the nearest with ROUND_AUTO (tie up)', () => {
    const { b, vm } = setup();
    const get = '06 50 00 00 | 00 00 00 00';
    ask(b, vm, '05 50 00 00 | 00 00 00 00 | 00 00 00 00 | b8 0b 00 00 | 00 00 00 00'); // 3000, down → 2000
    expect(ask(b, vm, get)).toBe(norm('06 50 00 00 | 00 00 00 00 | d0 07 00 00 00 00 00 00'));
    ask(b, vm, '05 50 00 00 | 04 00 00 00 | 00 00 00 00 | b8 0b 00 00 | 00 00 00 00'); // 3000, up → 4000
    expect(ask(b, vm, get)).toBe(norm('06 50 00 00 | 00 00 00 00 | a0 0f 00 00 00 00 00 00'));
    ask(b, vm, '05 50 00 00 | 08 00 00 00 | 00 00 00 00 | 54 0b 00 00 | 00 00 00 00'); // 2900, auto → 2000
    expect(ask(b, vm, get)).toBe(norm('06 50 00 00 | 00 00 00 00 | d0 07 00 00 00 00 00 00'));
    ask(b, vm, '05 50 00 00 | 08 00 00 00 | 00 00 00 00 | 1c 0c 00 00 | 00 00 00 00'); // 3100, auto → 4000
    expect(ask(b, vm, get)).toBe(norm('06 50 00 00 | 00 00 00 00 | a0 0f 00 00 00 00 00 00'));
    ask(b, vm, '05 50 00 00 | 00 00 00 00 | 00 00 00 00 | e8 03 00 00 | 00 00 00 00'); // back to 1000
    ask(b, vm, '05 50 00 00 | 0c 00 00 00 | 00 00 00 00 | b8 0b 00 00 | 00 00 00 00'); // 3000, auto + up: tie → 4000
    expect(ask(b, vm, get)).toBe(norm('06 50 00 00 | 00 00 00 00 | a0 0f 00 00 00 00 00 00'));
  });

  it('rounds on a range to the step', () => {
    const { b, host } = setup();
    // 150.5 MHz down → 150 MHz; up → 151 MHz.
    ask(b, host, '05 50 00 00 | 00 00 00 00 | 01 00 00 00 | a0 72 f8 08 | 00 00 00 00');
    expect(ask(b, host, '06 50 00 00 | 01 00 00 00')).toBe(norm('06 50 00 00 | 00 00 00 00 | 80 d1 f0 08 00 00 00 00'));
    ask(b, host, '05 50 00 00 | 04 00 00 00 | 01 00 00 00 | a0 72 f8 08 | 00 00 00 00');
    expect(ask(b, host, '06 50 00 00 | 01 00 00 00')).toBe(norm('06 50 00 00 | 00 00 00 00 | c0 13 00 09 00 00 00 00'));
  });

  it('a rate above 32 bits', () => {
    const { b, host } = setup();
    expect(ask(b, host, '05 50 00 00 | 00 00 00 00 | 02 00 00 00 | 00 00 00 00 | 02 00 00 00')).toBe(norm('05 50 00 00 00 00 00 00'));
    expect(ask(b, host, '06 50 00 00 | 02 00 00 00')).toBe(norm('06 50 00 00 | 00 00 00 00 | 00 00 00 00 02 00 00 00'));
  });

  it('outside the set whatever the rounding → OUT_OF_RANGE, nothing recorded', () => {
    const { b, vm } = setup();
    expect(ask(b, vm, '05 50 00 00 | 04 00 00 00 | 00 00 00 00 | f4 01 00 00 | 00 00 00 00')).toBe(norm('05 50 00 00 fb ff ff ff'));
    expect(ask(b, vm, '05 50 00 00 | 00 00 00 00 | 00 00 00 00 | 88 13 00 00 | 00 00 00 00')).toBe(norm('05 50 00 00 fb ff ff ff'));
    expect(ask(b, vm, '05 50 00 00 | 08 00 00 00 | 01 00 00 00 | ff e0 f5 05 | 00 00 00 00')).toBe(norm('05 50 00 00 fb ff ff ff'));
    expect(ask(b, vm, '05 50 00 00 | 08 00 00 00 | 01 00 00 00 | 01 c2 eb 0b | 00 00 00 00')).toBe(norm('05 50 00 00 fb ff ff ff'));
    expect(ask(b, vm, '05 50 00 00 | 00 00 00 00 | 00 00 00 00 | d0 07 00 00 | 00 00 00 80')).toBe(norm('05 50 00 00 fb ff ff ff'));
    expect(b.platform.voters('clock', 0)).toEqual([]);
  });

  it('ASYNC → NOT_SUPPORTED (max_async_req 0); reserved flag bits → INVALID_PARAMETERS', () => {
    const { b, vm } = setup();
    expect(ask(b, vm, '05 50 00 00 | 01 00 00 00 | 00 00 00 00 | d0 07 00 00 | 00 00 00 00')).toBe(norm('05 50 00 00 ff ff ff ff'));
    expect(ask(b, vm, '05 50 00 00 | 03 00 00 00 | 00 00 00 00 | d0 07 00 00 | 00 00 00 00')).toBe(norm('05 50 00 00 ff ff ff ff'));
    expect(ask(b, vm, '05 50 00 00 | 10 00 00 00 | 00 00 00 00 | d0 07 00 00 | 00 00 00 00')).toBe(norm('05 50 00 00 fe ff ff ff'));
    // IGNORE_DELAYED_RESP without ASYNC is harmless.
    expect(ask(b, vm, '05 50 00 00 | 02 00 00 00 | 00 00 00 00 | d0 07 00 00 | 00 00 00 00')).toBe(norm('05 50 00 00 00 00 00 00'));
  });

  it('unknown clock → NOT_FOUND; read-only clock → DENIED; short → PROTOCOL_ERROR', () => {
    const { b, vm } = setup();
    expect(ask(b, vm, '05 50 00 00 | 00 00 00 00 | 04 00 00 00 | d0 07 00 00 | 00 00 00 00')).toBe(norm('05 50 00 00 fc ff ff ff'));
    expect(ask(b, vm, '05 50 00 00 | 00 00 00 00 | 02 00 00 00 | e8 03 00 00 | 00 00 00 00')).toBe(norm('05 50 00 00 fd ff ff ff'));
    expect(ask(b, vm, '05 50 00 00 | 00 00 00 00 | 00 00 00 00 | d0 07 00 00')).toBe(norm('05 50 00 00 f6 ff ff ff'));
    expect(ask(b, vm, '06 50 00 00 | 04 00 00 00')).toBe(norm('06 50 00 00 fc ff ff ff'));
    expect(ask(b, vm, '06 50 00 00')).toBe(norm('06 50 00 00 f6 ff ff ff'));
  });

  it('RATE_GET without an own request: the aggregate rate', () => {
    const { b, vm } = setup();
    // Clock 1 runs at the host's 120 MHz.
    expect(ask(b, vm, '06 50 00 00 | 01 00 00 00')).toBe(norm('06 50 00 00 | 00 00 00 00 | 00 0e 27 07 00 00 00 00'));
    // A read-only clock can be read: clock 3 (its 2) at its lowest rate 1000 Hz.
    expect(ask(b, vm, '06 50 00 00 | 02 00 00 00')).toBe(norm('06 50 00 00 | 00 00 00 00 | e8 03 00 00 00 00 00 00'));
  });
});

describe('CLOCK_CONFIG_SET (0x7) and CLOCK_CONFIG_GET (0xB)', () => {
  it('§6 example header (token 0x3FF): enable, then disable', () => {
    const { b, vm } = setup();
    expect(ask(b, vm, '07 50 fc 0f | 00 00 00 00 | 01 00 00 00 | 00 00 00 00')).toBe(norm('07 50 fc 0f 00 00 00 00'));
    expect(ask(b, vm, '0b 50 00 00 | 00 00 00 00 | 00 00 00 00')).toBe(norm('0b 50 00 00 | 00 00 00 00 | 00 00 00 00 | 01 00 00 00 | 00 00 00 00'));
    expect(ask(b, vm, '03 50 00 00 | 00 00 00 00')).toBe(
      norm(`03 50 00 00 | 00 00 00 00 | 01 00 00 00 | 63 6c 6b 2d 6c 69 73 74 ${zeros(8)} | 00 00 00 00`),
    );
    expect(b.platform.clockAggregate(0).enabled).toBe(true);
    expect(ask(b, vm, '07 50 00 00 | 00 00 00 00 | 00 00 00 00 | 00 00 00 00')).toBe(norm('07 50 00 00 00 00 00 00'));
    expect(ask(b, vm, '0b 50 00 00 | 00 00 00 00 | 00 00 00 00')).toBe(norm('0b 50 00 00 | 00 00 00 00 | 00 00 00 00 | 00 00 00 00 | 00 00 00 00'));
    expect(b.platform.clockAggregate(0).enabled).toBe(false);
  });

  it('state 3 leaves the state unchanged', () => {
    const { b, vm } = setup();
    ask(b, vm, '07 50 00 00 | 00 00 00 00 | 01 00 00 00 | 00 00 00 00');
    expect(ask(b, vm, '07 50 00 00 | 00 00 00 00 | 03 00 00 00 | 00 00 00 00')).toBe(norm('07 50 00 00 00 00 00 00'));
    expect(b.platform.clockVote(7, 0).enabled).toBe(true);
  });

  it('state 2 or reserved bits → INVALID_PARAMETERS; an OEM config type → NOT_SUPPORTED', () => {
    const { b, vm } = setup();
    expect(ask(b, vm, '07 50 00 00 | 00 00 00 00 | 02 00 00 00 | 00 00 00 00')).toBe(norm('07 50 00 00 fe ff ff ff'));
    expect(ask(b, vm, '07 50 00 00 | 00 00 00 00 | 11 00 00 00 | 00 00 00 00')).toBe(norm('07 50 00 00 fe ff ff ff'));
    expect(ask(b, vm, '07 50 00 00 | 00 00 00 00 | 01 00 00 01 | 00 00 00 00')).toBe(norm('07 50 00 00 fe ff ff ff'));
    expect(ask(b, vm, '07 50 00 00 | 00 00 00 00 | 03 00 01 00 | 05 00 00 00')).toBe(norm('07 50 00 00 ff ff ff ff'));
    expect(ask(b, vm, '07 50 00 00 | 00 00 00 00 | 01 00 80 00 | 00 00 00 00')).toBe(norm('07 50 00 00 ff ff ff ff'));
    expect(b.platform.voters('clock', 0)).toEqual([]);
  });

  it('the v2 two-word layout is too short → PROTOCOL_ERROR', () => {
    const { b, vm } = setup();
    expect(ask(b, vm, '07 50 00 00 | 00 00 00 00 | 01 00 00 00')).toBe(norm('07 50 00 00 f6 ff ff ff'));
  });

  it('unknown → NOT_FOUND, read-only → DENIED (even for state 3)', () => {
    const { b, vm } = setup();
    expect(ask(b, vm, '07 50 00 00 | 04 00 00 00 | 01 00 00 00 | 00 00 00 00')).toBe(norm('07 50 00 00 fc ff ff ff'));
    expect(ask(b, vm, '07 50 00 00 | 02 00 00 00 | 01 00 00 00 | 00 00 00 00')).toBe(norm('07 50 00 00 fd ff ff ff'));
    expect(ask(b, vm, '07 50 00 00 | 03 00 00 00 | 03 00 00 00 | 00 00 00 00')).toBe(norm('07 50 00 00 fd ff ff ff'));
  });

  it('CONFIG_GET: OEM type → NOT_SUPPORTED, reserved flag bits → INVALID_PARAMETERS, unknown → NOT_FOUND', () => {
    const { b, vm } = setup();
    expect(ask(b, vm, '0b 50 00 00 | 00 00 00 00 | 01 00 00 00')).toBe(norm('0b 50 00 00 ff ff ff ff'));
    expect(ask(b, vm, '0b 50 00 00 | 00 00 00 00 | 00 01 00 00')).toBe(norm('0b 50 00 00 fe ff ff ff'));
    expect(ask(b, vm, '0b 50 00 00 | 04 00 00 00 | 00 00 00 00')).toBe(norm('0b 50 00 00 fc ff ff ff'));
    expect(ask(b, vm, '0b 50 00 00 | 00 00 00 00')).toBe(norm('0b 50 00 00 f6 ff ff ff'));
    // A read-only clock can be read.
    expect(ask(b, vm, '0b 50 00 00 | 02 00 00 00 | 00 00 00 00')).toBe(norm('0b 50 00 00 | 00 00 00 00 | 00 00 00 00 | 00 00 00 00 | 00 00 00 00'));
  });
});

describe('CLOCK_NAME_GET (0x8)', () => {
  it('flags 0 and name[64]', () => {
    const { b, host, vm } = setup();
    expect(ask(b, host, '08 50 00 00 | 04 00 00 00')).toBe(norm(`08 50 00 00 | 00 00 00 00 | 00 00 00 00 | ${LONG_NAME} ${zeros(33)}`));
    // The VM's clock 3 is the same platform clock 4.
    expect(ask(b, vm, '08 50 00 00 | 03 00 00 00')).toBe(norm(`08 50 00 00 | 00 00 00 00 | 00 00 00 00 | ${LONG_NAME} ${zeros(33)}`));
    expect(ask(b, host, '08 50 00 00 | 00 00 00 00')).toBe(norm(`08 50 00 00 | 00 00 00 00 | 00 00 00 00 | 63 6c 6b 2d 6c 69 73 74 ${zeros(56)}`));
    expect(ask(b, vm, '08 50 00 00 | 04 00 00 00')).toBe(norm('08 50 00 00 fc ff ff ff'));
  });
});
