/**
 * SCMI Voltage domain protocol (0x17) through the backend: messages 0x0–0x9 of scmi-virtio.md
 * §9.8 with golden request/response bytes typed by hand (levels of test/scmi/support/core.ts),
 * and the error statuses where they apply.
 */
import { describe, expect, it } from 'vitest';
import { ScmiProtocolId } from '../../src/scmi/api.js';
import { ask, coreBackend, norm, zeros } from './support/core.js';

function setup() {
  const b = coreBackend();
  // vm-a: platform voltage 0 (its 0) read-only, platform voltage 1 (its 1) fully.
  const vm = b.openAgent({ agentId: 7, name: 'vm-a', devices: [{ id: 0, readOnly: true }, 1], protocols: [ScmiProtocolId.VOLTAGE] });
  return { b, host: b.host, vm };
}

describe('Voltage common messages', () => {
  it('PROTOCOL_VERSION is 2.0', () => {
    const { b, host } = setup();
    expect(ask(b, host, '00 5c 00 00')).toBe(norm('00 5c 00 00 | 00 00 00 00 | 00 00 02 00'));
  });

  it('PROTOCOL_ATTRIBUTES: the domains the agent sees', () => {
    const { b, host, vm } = setup();
    expect(ask(b, host, '01 5c 00 00')).toBe(norm('01 5c 00 00 | 00 00 00 00 | 04 00 00 00'));
    expect(ask(b, vm, '01 5c 00 00')).toBe(norm('01 5c 00 00 | 00 00 00 00 | 02 00 00 00'));
  });

  it('PROTOCOL_MESSAGE_ATTRIBUTES: 0x0–0x9 and 0x10 implemented', () => {
    const { b, host } = setup();
    for (const id of ['00', '01', '02', '03', '04', '05', '06', '07', '08', '09', '10']) {
      expect(ask(b, host, `02 5c 00 00 | ${id} 00 00 00`)).toBe(norm('02 5c 00 00 | 00 00 00 00 | 00 00 00 00'));
    }
    expect(ask(b, host, '02 5c 00 00 | 0a 00 00 00')).toBe(norm('02 5c 00 00 fc ff ff ff'));
    expect(ask(b, host, '0a 5c 00 00 | 00 00 00 00')).toBe(norm('0a 5c 00 00 ff ff ff ff'));
  });
});

describe('VOLTAGE_DOMAIN_ATTRIBUTES (0x3) and VOLTAGE_DOMAIN_NAME_GET (0x9)', () => {
  it('attributes 0 (no async, short name) and name[16]', () => {
    const { b, host } = setup();
    expect(ask(b, host, '03 5c 00 00 | 00 00 00 00')).toBe(norm(`03 5c 00 00 | 00 00 00 00 | 00 00 00 00 | 76 64 64 2d 6c 69 73 74 ${zeros(8)}`));
  });

  it('NAME_GET: flags 0 and name[64]', () => {
    const { b, vm } = setup();
    expect(ask(b, vm, '09 5c 00 00 | 01 00 00 00')).toBe(norm(`09 5c 00 00 | 00 00 00 00 | 00 00 00 00 | 76 64 64 2d 72 61 6e 67 65 ${zeros(55)}`));
  });

  it('unknown domain → NOT_FOUND; short → PROTOCOL_ERROR', () => {
    const { b, host, vm } = setup();
    expect(ask(b, host, '03 5c 00 00 | 04 00 00 00')).toBe(norm('03 5c 00 00 fc ff ff ff'));
    expect(ask(b, vm, '03 5c 00 00 | 02 00 00 00')).toBe(norm('03 5c 00 00 fc ff ff ff'));
    expect(ask(b, vm, '09 5c 00 00 | 02 00 00 00')).toBe(norm('09 5c 00 00 fc ff ff ff'));
    expect(ask(b, host, '03 5c 00 00')).toBe(norm('03 5c 00 00 f6 ff ff ff'));
  });
});

describe('VOLTAGE_DESCRIBE_LEVELS (0x4)', () => {
  it('a list', () => {
    const { b, host } = setup();
    expect(ask(b, host, '04 5c 00 00 | 00 00 00 00 | 00 00 00 00')).toBe(norm('04 5c 00 00 | 00 00 00 00 | 02 00 00 00 | 40 77 1b 00 | a0 5a 32 00'));
    expect(ask(b, host, '04 5c 00 00 | 00 00 00 00 | 01 00 00 00')).toBe(norm('04 5c 00 00 | 00 00 00 00 | 01 00 00 00 | a0 5a 32 00'));
  });

  it('a segmented triplet: returned 3, remaining 0, bit 12', () => {
    const { b, host } = setup();
    expect(ask(b, host, '04 5c 00 00 | 01 00 00 00 | 00 00 00 00')).toBe(norm('04 5c 00 00 | 00 00 00 00 | 03 10 00 00 | c0 27 09 00 | 40 42 0f 00 | 50 c3 00 00'));
  });

  it('negative levels are s32', () => {
    const { b, host } = setup();
    expect(ask(b, host, '04 5c 00 00 | 02 00 00 00 | 00 00 00 00')).toBe(norm('04 5c 00 00 | 00 00 00 00 | 02 00 00 00 | c0 bd f0 ff | e0 5e f8 ff'));
  });

  it('a 40-level list pages 31 then 9', () => {
    const { b, host } = setup();
    const first = ask(b, host, '04 5c 00 00 | 03 00 00 00 | 00 00 00 00').split(' ');
    expect(first.length).toBe(8 + 4 + 31 * 4);
    expect(first.slice(0, 16).join(' ')).toBe(norm('04 5c 00 00 | 00 00 00 00 | 1f 00 09 00 | 10 27 00 00'));
    expect(first.slice(16, 20).join(' ')).toBe(norm('20 4e 00 00'));
    expect(first.slice(-4).join(' ')).toBe(norm('f0 ba 04 00'));
    expect(ask(b, host, '04 5c 00 00 | 03 00 00 00 | 1f 00 00 00')).toBe(
      norm(
        '04 5c 00 00 | 00 00 00 00 | 09 00 00 00 | 00 e2 04 00 | 10 09 05 00 | 20 30 05 00 | 30 57 05 00 | ' +
          '40 7e 05 00 | 50 a5 05 00 | 60 cc 05 00 | 70 f3 05 00 | 80 1a 06 00',
      ),
    );
  });

  it('an index past the list or non-zero for a triplet → OUT_OF_RANGE', () => {
    const { b, host } = setup();
    expect(ask(b, host, '04 5c 00 00 | 00 00 00 00 | 02 00 00 00')).toBe(norm('04 5c 00 00 fb ff ff ff'));
    expect(ask(b, host, '04 5c 00 00 | 01 00 00 00 | 01 00 00 00')).toBe(norm('04 5c 00 00 fb ff ff ff'));
    expect(ask(b, host, '04 5c 00 00 | 01 00 00 00')).toBe(norm('04 5c 00 00 f6 ff ff ff'));
  });
});

describe('VOLTAGE_CONFIG_SET (0x5) and VOLTAGE_CONFIG_GET (0x6)', () => {
  it('7 = on, 0 = off, reported from the own vote', () => {
    const { b, vm } = setup();
    expect(ask(b, vm, '06 5c 00 00 | 01 00 00 00')).toBe(norm('06 5c 00 00 | 00 00 00 00 | 00 00 00 00'));
    expect(ask(b, vm, '05 5c 00 00 | 01 00 00 00 | 07 00 00 00')).toBe(norm('05 5c 00 00 00 00 00 00'));
    expect(ask(b, vm, '06 5c 00 00 | 01 00 00 00')).toBe(norm('06 5c 00 00 | 00 00 00 00 | 07 00 00 00'));
    expect(ask(b, vm, '05 5c 00 00 | 01 00 00 00 | 00 00 00 00')).toBe(norm('05 5c 00 00 00 00 00 00'));
    expect(ask(b, vm, '06 5c 00 00 | 01 00 00 00')).toBe(norm('06 5c 00 00 | 00 00 00 00 | 00 00 00 00'));
    // The host holds the domain on: its own view.
    expect(ask(b, b.host, '06 5c 00 00 | 01 00 00 00')).toBe(norm('06 5c 00 00 | 00 00 00 00 | 07 00 00 00'));
  });

  it('reserved architectural modes and bits → INVALID_PARAMETERS; implementation modes → NOT_SUPPORTED', () => {
    const { b, vm } = setup();
    expect(ask(b, vm, '05 5c 00 00 | 01 00 00 00 | 01 00 00 00')).toBe(norm('05 5c 00 00 fe ff ff ff'));
    expect(ask(b, vm, '05 5c 00 00 | 01 00 00 00 | 06 00 00 00')).toBe(norm('05 5c 00 00 fe ff ff ff'));
    expect(ask(b, vm, '05 5c 00 00 | 01 00 00 00 | 17 00 00 00')).toBe(norm('05 5c 00 00 fe ff ff ff'));
    expect(ask(b, vm, '05 5c 00 00 | 01 00 00 00 | 08 00 00 00')).toBe(norm('05 5c 00 00 ff ff ff ff'));
    expect(ask(b, vm, '05 5c 00 00 | 01 00 00 00 | 0f 00 00 00')).toBe(norm('05 5c 00 00 ff ff ff ff'));
    expect(b.platform.voters('voltage', 1)).toEqual([1]);
  });

  it('unknown → NOT_FOUND; read-only → DENIED; short → PROTOCOL_ERROR', () => {
    const { b, vm } = setup();
    expect(ask(b, vm, '05 5c 00 00 | 02 00 00 00 | 07 00 00 00')).toBe(norm('05 5c 00 00 fc ff ff ff'));
    expect(ask(b, vm, '05 5c 00 00 | 00 00 00 00 | 07 00 00 00')).toBe(norm('05 5c 00 00 fd ff ff ff'));
    expect(ask(b, vm, '05 5c 00 00 | 01 00 00 00')).toBe(norm('05 5c 00 00 f6 ff ff ff'));
    expect(ask(b, vm, '06 5c 00 00 | 02 00 00 00')).toBe(norm('06 5c 00 00 fc ff ff ff'));
    expect(ask(b, vm, '06 5c 00 00 | 00 00 00 00')).toBe(norm('06 5c 00 00 | 00 00 00 00 | 00 00 00 00'));
  });
});

describe('VOLTAGE_LEVEL_SET (0x7) and VOLTAGE_LEVEL_GET (0x8)', () => {
  it('§6 example header (token 2): set 650 mV on the range, read it back', () => {
    const { b, vm } = setup();
    expect(ask(b, vm, '07 5c 08 00 | 01 00 00 00 | 00 00 00 00 | 10 eb 09 00')).toBe(norm('07 5c 08 00 00 00 00 00'));
    expect(ask(b, vm, '08 5c 00 00 | 01 00 00 00')).toBe(norm('08 5c 00 00 | 00 00 00 00 | 10 eb 09 00'));
  });

  it('LEVEL_GET without an own request: the aggregate (the host holds 700 mV)', () => {
    const { b, vm } = setup();
    expect(ask(b, vm, '08 5c 00 00 | 01 00 00 00')).toBe(norm('08 5c 00 00 | 00 00 00 00 | 60 ae 0a 00'));
    // A read-only domain nobody holds: its lowest level.
    expect(ask(b, vm, '08 5c 00 00 | 00 00 00 00')).toBe(norm('08 5c 00 00 | 00 00 00 00 | 40 77 1b 00'));
  });

  it('negative levels', () => {
    const { b, host } = setup();
    expect(ask(b, host, '07 5c 00 00 | 02 00 00 00 | 00 00 00 00 | e0 5e f8 ff')).toBe(norm('07 5c 00 00 00 00 00 00'));
    expect(ask(b, host, '08 5c 00 00 | 02 00 00 00')).toBe(norm('08 5c 00 00 | 00 00 00 00 | e0 5e f8 ff'));
  });

  it('a level off the step, between list entries or outside → OUT_OF_RANGE', () => {
    const { b, vm, host } = setup();
    expect(ask(b, vm, '07 5c 00 00 | 01 00 00 00 | 00 00 00 00 | 68 89 09 00')).toBe(norm('07 5c 00 00 fb ff ff ff'));
    expect(ask(b, host, '07 5c 00 00 | 00 00 00 00 | 00 00 00 00 | 80 84 1e 00')).toBe(norm('07 5c 00 00 fb ff ff ff'));
    expect(ask(b, vm, '07 5c 00 00 | 01 00 00 00 | 00 00 00 00 | 40 77 1b 00')).toBe(norm('07 5c 00 00 fb ff ff ff'));
    expect(b.platform.voters('voltage', 1)).toEqual([1]);
  });

  it('ASYNC → NOT_SUPPORTED; other flag bits → INVALID_PARAMETERS', () => {
    const { b, vm } = setup();
    expect(ask(b, vm, '07 5c 00 00 | 01 00 00 00 | 01 00 00 00 | 10 eb 09 00')).toBe(norm('07 5c 00 00 ff ff ff ff'));
    expect(ask(b, vm, '07 5c 00 00 | 01 00 00 00 | 02 00 00 00 | 10 eb 09 00')).toBe(norm('07 5c 00 00 fe ff ff ff'));
  });

  it('unknown → NOT_FOUND; read-only → DENIED; short → PROTOCOL_ERROR', () => {
    const { b, vm } = setup();
    expect(ask(b, vm, '07 5c 00 00 | 02 00 00 00 | 00 00 00 00 | 10 eb 09 00')).toBe(norm('07 5c 00 00 fc ff ff ff'));
    expect(ask(b, vm, '07 5c 00 00 | 00 00 00 00 | 00 00 00 00 | 40 77 1b 00')).toBe(norm('07 5c 00 00 fd ff ff ff'));
    expect(ask(b, vm, '07 5c 00 00 | 01 00 00 00 | 00 00 00 00')).toBe(norm('07 5c 00 00 f6 ff ff ff'));
    expect(ask(b, vm, '08 5c 00 00 | 02 00 00 00')).toBe(norm('08 5c 00 00 fc ff ff ff'));
  });
});
