/**
 * SCMI header and response framing (scmi-virtio.md §5 "Error responses", §6 header layout and
 * examples, §7 status codes). Golden bytes typed by hand from the §6 example table.
 */
import { describe, expect, it } from 'vitest';
import { ScmiStatus } from '../../src/scmi/api.js';
import { decodeHeader, encodeHeader, frameError, frameResponse, parseResponse, readHeaderWord } from '../../src/scmi/header.js';
import { ask, coreBackend, hex, norm, toHex } from './support/core.js';

// §6 example table: header word, LE bytes, and the fields.
const EXAMPLES = [
  { what: 'Base PROTOCOL_VERSION, token 0', word: 0x00004000, bytes: '00 40 00 00', id: 0x0, type: 0, proto: 0x10, token: 0 },
  { what: 'Base DISCOVER_LIST_PROTOCOLS, token 1', word: 0x00044006, bytes: '06 40 04 00', id: 0x6, type: 0, proto: 0x10, token: 1 },
  { what: 'Clock RATE_SET, token 5', word: 0x00145005, bytes: '05 50 14 00', id: 0x5, type: 0, proto: 0x14, token: 5 },
  { what: 'its delayed response', word: 0x00145205, bytes: '05 52 14 00', id: 0x5, type: 2, proto: 0x14, token: 5 },
  { what: 'Clock CONFIG_SET, token 0x3FF', word: 0x0ffc5007, bytes: '07 50 fc 0f', id: 0x7, type: 0, proto: 0x14, token: 0x3ff },
  { what: 'Voltage LEVEL_SET, token 2', word: 0x00085c07, bytes: '07 5c 08 00', id: 0x7, type: 0, proto: 0x17, token: 2 },
  { what: 'Sensor SENSOR_UPDATE notification', word: 0x00005701, bytes: '01 57 00 00', id: 0x1, type: 3, proto: 0x15, token: 0 },
];

describe('SCMI header (§6)', () => {
  for (const e of EXAMPLES) {
    it(`decodes and encodes ${e.what}`, () => {
      expect(readHeaderWord(hex(e.bytes))).toBe(e.word);
      expect(decodeHeader(e.word)).toEqual({ messageId: e.id, messageType: e.type, protocolId: e.proto, token: e.token });
      expect(encodeHeader({ messageId: e.id, messageType: e.type, protocolId: e.proto, token: e.token })).toBe(e.word);
    });
  }

  it('ignores the reserved bits 31:28 when decoding', () => {
    expect(decodeHeader(0xf0004006)).toEqual({ messageId: 6, messageType: 0, protocolId: 0x10, token: 0 });
  });

  it('refuses fields wider than their bits', () => {
    expect(() => encodeHeader({ messageId: 0x100, messageType: 0, protocolId: 0x10, token: 0 })).toThrow(RangeError);
    expect(() => encodeHeader({ messageId: 0, messageType: 4, protocolId: 0x10, token: 0 })).toThrow(RangeError);
    expect(() => encodeHeader({ messageId: 0, messageType: 0, protocolId: 0x100, token: 0 })).toThrow(RangeError);
    expect(() => encodeHeader({ messageId: 0, messageType: 0, protocolId: 0x10, token: 0x400 })).toThrow(RangeError);
  });

  it('has no header in fewer than 4 bytes', () => {
    expect(readHeaderWord(hex('06 40 04'))).toBeUndefined();
  });
});

describe('response framing (§5)', () => {
  it('an error reply is header and status only, whatever payload the handler gave', () => {
    const r = frameResponse(0x00044006, { status: ScmiStatus.NOT_FOUND, payload: hex('01 02 03 04') });
    expect(toHex(r)).toBe(norm('06 40 04 00 fc ff ff ff'));
    expect(toHex(frameError(0x0ffc5007, ScmiStatus.PROTOCOL_ERROR))).toBe(norm('07 50 fc 0f f6 ff ff ff'));
  });

  it('a SUCCESS reply carries the payload after the status', () => {
    const r = frameResponse(0x00004000, { status: ScmiStatus.SUCCESS, payload: hex('00 00 02 00') });
    expect(toHex(r)).toBe(norm('00 40 00 00 00 00 00 00 00 00 02 00'));
    const p = parseResponse(r)!;
    expect(p.headerWord).toBe(0x00004000);
    expect(p.status).toBe(0);
    expect(toHex(p.payload)).toBe(norm('00 00 02 00'));
  });

  it('every status code has its s32 encoding (§7)', () => {
    const codes: [number, string][] = [
      [ScmiStatus.SUCCESS, '00 00 00 00'],
      [ScmiStatus.NOT_SUPPORTED, 'ff ff ff ff'],
      [ScmiStatus.INVALID_PARAMETERS, 'fe ff ff ff'],
      [ScmiStatus.DENIED, 'fd ff ff ff'],
      [ScmiStatus.NOT_FOUND, 'fc ff ff ff'],
      [ScmiStatus.OUT_OF_RANGE, 'fb ff ff ff'],
      [ScmiStatus.BUSY, 'fa ff ff ff'],
      [ScmiStatus.COMMS_ERROR, 'f9 ff ff ff'],
      [ScmiStatus.GENERIC_ERROR, 'f8 ff ff ff'],
      [ScmiStatus.HARDWARE_ERROR, 'f7 ff ff ff'],
      [ScmiStatus.PROTOCOL_ERROR, 'f6 ff ff ff'],
    ];
    for (const [code, bytes] of codes) {
      expect(toHex(frameResponse(0x12345678, { status: code as 0 }).subarray(4))).toBe(norm(bytes));
    }
  });
});

describe('header handling by the backend', () => {
  it('echoes the whole header word, token and reserved bits included', () => {
    const b = coreBackend();
    expect(ask(b, b.host, '00 40 fc 0f')).toBe(norm('00 40 fc 0f | 00 00 00 00 | 00 00 02 00'));
    expect(ask(b, b.host, '00 40 00 f0')).toBe(norm('00 40 00 f0 | 00 00 00 00 | 00 00 02 00'));
  });

  it('answers a delayed-response or notification header with NOT_SUPPORTED, 8 bytes', () => {
    const b = coreBackend();
    expect(ask(b, b.host, '05 52 14 00 | 00 00 00 00 | 00 00 00 00 | d0 07 00 00 | 00 00 00 00')).toBe(norm('05 52 14 00 ff ff ff ff'));
    expect(ask(b, b.host, '01 57 00 00')).toBe(norm('01 57 00 00 ff ff ff ff'));
    // message_type 1 is unused.
    expect(ask(b, b.host, '00 41 00 00')).toBe(norm('00 41 00 00 ff ff ff ff'));
  });

  it('answers a request shorter than a header with PROTOCOL_ERROR and the bytes present', () => {
    const b = coreBackend();
    expect(ask(b, b.host, '')).toBe(norm('00 00 00 00 f6 ff ff ff'));
    expect(ask(b, b.host, '06 40')).toBe(norm('06 40 00 00 f6 ff ff ff'));
  });

  it('answers an unknown protocol with NOT_SUPPORTED', () => {
    const b = coreBackend();
    // Protocol 0x12 (system power) is not implemented: header 0x00004800.
    expect(ask(b, b.host, '00 48 00 00')).toBe(norm('00 48 00 00 ff ff ff ff'));
    // Protocol 0x80 (vendor): header 0x00020000.
    expect(ask(b, b.host, '00 00 02 00')).toBe(norm('00 00 02 00 ff ff ff ff'));
  });
});
