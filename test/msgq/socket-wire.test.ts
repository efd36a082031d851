// Codec tests of the msgq socket transport (src/msgq/socket-wire.ts). The expected bytes are
// typed by hand from docs/socket-transport.md ("Byte layout"), not captured from the encoder.
import { describe, test, expect } from 'vitest';
import { test as fcTest, fc } from '@fast-check/vitest';
import { fromHex, toHex } from '../../src/shared/bytes.js';
import { WireError } from '../../src/shared/wire-error.js';
import {
  MAX_ENDPOINT_RECORD_LEN,
  RecordReader,
  decodeHello,
  decodeRecord,
  decodeWelcome,
  encodeHello,
  encodeRecord,
  encodeWelcome,
  magicPrefixOk,
  utf8Capped,
  welcomeSize,
  type Hello,
  type MsgqRecord,
  type Welcome,
} from '../../src/msgq/socket-wire.js';

// Provenance: docs/socket-transport.md, protocol version 1.
const HELLO_VECTORS: Array<{ name: string; hello: Hello; hex: string }> = [
  {
    name: 'endpoint, vmid 3',
    hello: { version: 1, role: 'endpoint', vmid: 3 },
    hex: `47 4d 51 53  01 00  01  00  03 00  00 00`, // "GMQS", version 1, role endpoint, rsvd, vmid 3, rsvd
  },
  {
    name: 'control',
    hello: { version: 1, role: 'control', vmid: 0 },
    hex: `47 4d 51 53  01 00  02  00  00 00  00 00`,
  },
];

const WELCOME_VECTORS: Array<{ name: string; welcome: Welcome; hex: string }> = [
  {
    name: 'endpoint accepted, depth 8, 240-byte messages',
    welcome: { status: 'accepted', version: 1, role: 'endpoint', depth: 8, maxMsgSize: 240 },
    hex: `47 4d 51 53  01 00  00  01  08 00  f0 00  00 00  00 00`,
  },
  {
    name: 'refused "no"',
    welcome: { status: 'refused', version: 1, reason: 'no' },
    hex: `47 4d 51 53  01 00  01  00  00 00  00 00  02 00  00 00  6e 6f`,
  },
];

const RECORD_VECTORS: Array<{ name: string; rec: Exclude<MsgqRecord, { type: 'unknown' }>; hex: string }> = [
  { name: 'SEND push [aa bb]', rec: { type: 'SEND', push: true, oversize: false, bytes: Uint8Array.of(0xaa, 0xbb) }, hex: '04 00 00 00 01 01 aa bb' },
  { name: 'SEND oversize', rec: { type: 'SEND', push: false, oversize: true, bytes: new Uint8Array(0) }, hex: '02 00 00 00 01 02' },
  { name: 'SEND_RESULT ok ready', rec: { type: 'SEND_RESULT', error: 0, ready: true, detail: '' }, hex: '06 00 00 00 02 00 00 00 00 01' },
  {
    name: 'SEND_RESULT FULL (61)',
    rec: { type: 'SEND_RESULT', error: 61, ready: false, detail: '' },
    hex: '06 00 00 00 02 3d 00 00 00 00',
  },
  {
    name: 'SEND_RESULT ARGUMENT_SIZE with detail "x"',
    rec: { type: 'SEND_RESULT', error: 2, ready: false, detail: 'x' },
    hex: '07 00 00 00 02 02 00 00 00 00 78',
  },
  {
    name: 'SEND_RESULT UNIMPLEMENTED (−1)',
    rec: { type: 'SEND_RESULT', error: -1, ready: false, detail: '' },
    hex: '06 00 00 00 02 ff ff ff ff 00',
  },
  { name: 'RECV default buffer', rec: { type: 'RECV', bufSize: undefined }, hex: '06 00 00 00 03 01 00 00 00 00' },
  { name: 'RECV 240-byte buffer', rec: { type: 'RECV', bufSize: 240 }, hex: '06 00 00 00 03 00 f0 00 00 00' },
  {
    name: 'RECV_RESULT [01 02], more ready',
    rec: { type: 'RECV_RESULT', error: 0, ready: true, bytes: Uint8Array.of(1, 2), detail: '' },
    hex: '08 00 00 00 04 00 00 00 00 01 01 02',
  },
  {
    name: 'RECV_RESULT EMPTY (60)',
    rec: { type: 'RECV_RESULT', error: 60, ready: false, bytes: new Uint8Array(0), detail: '' },
    hex: '06 00 00 00 04 3c 00 00 00 00',
  },
  { name: 'IRQ_RX', rec: { type: 'IRQ_RX' }, hex: '01 00 00 00 05' },
  { name: 'IRQ_TX', rec: { type: 'IRQ_TX' }, hex: '01 00 00 00 06' },
  { name: 'CONTROL_REQ {}', rec: { type: 'CONTROL_REQ', json: '{}' }, hex: '03 00 00 00 10 7b 7d' },
  { name: 'CONTROL_RES ok 1', rec: { type: 'CONTROL_RES', ok: true, json: '1' }, hex: '03 00 00 00 11 00 31' },
  { name: 'CONTROL_RES error "e"', rec: { type: 'CONTROL_RES', ok: false, message: 'e' }, hex: '03 00 00 00 11 01 65' },
  { name: 'ERROR "bye"', rec: { type: 'ERROR', message: 'bye' }, hex: '04 00 00 00 7f 62 79 65' },
];

describe.each(HELLO_VECTORS)('HELLO $name', ({ hello, hex }) => {
  test('encode', () => expect(toHex(encodeHello(hello))).toBe(toHex(fromHex(hex))));
  test('decode', () => expect(decodeHello(fromHex(hex))).toEqual(hello));
});

describe.each(WELCOME_VECTORS)('WELCOME $name', ({ welcome, hex }) => {
  test('encode', () => expect(toHex(encodeWelcome(welcome))).toBe(toHex(fromHex(hex))));
  test('decode', () => {
    const b = fromHex(hex);
    expect(welcomeSize(b)).toBe(b.byteLength);
    expect(decodeWelcome(b)).toEqual(welcome);
  });
});

describe.each(RECORD_VECTORS)('record $name', ({ rec, hex }) => {
  test('encode', () => expect(toHex(encodeRecord(rec))).toBe(toHex(fromHex(hex))));
  test('decode', () => expect(decodeRecord(fromHex(hex).subarray(4))).toEqual(rec));
});

describe('rejected bytes', () => {
  test.each<[string, string, string]>([
    ['short hello', '47 4d 51 53 01 00 01', 'short'],
    ['bad magic', '47 4d 51 54 01 00 01 00 03 00 00 00', 'bad-value'],
    ['unknown role 3', '47 4d 51 53 01 00 03 00 03 00 00 00', 'bad-value'],
    ['reserved byte 7', '47 4d 51 53 01 00 01 01 03 00 00 00', 'reserved'],
    ['reserved bytes 10-11', '47 4d 51 53 01 00 01 00 03 00 00 01', 'reserved'],
  ])('HELLO %s', (_n, hex, reason) => {
    expect(() => decodeHello(fromHex(hex))).toThrow(expect.objectContaining({ name: 'WireError', reason }));
  });

  test('a future version decodes (the server refuses it by number)', () => {
    expect(decodeHello(fromHex('47 4d 51 53 02 00 01 00 03 00 00 00')).version).toBe(2);
  });

  test.each<[string, string, string]>([
    ['SEND with no flags byte', '01', 'short'],
    ['SEND reserved flag bit', '01 04 aa', 'reserved'],
    ['SEND OVERSIZE with payload', '01 02 aa', 'long'],
    ['SEND_RESULT short', '02 00 00 00', 'short'],
    ['SEND_RESULT ready 2', '02 00 00 00 00 02', 'bad-value'],
    ['SEND_RESULT unnamed error 7', '02 07 00 00 00 00', 'bad-value'],
    ['SEND_RESULT ok with detail', '02 00 00 00 00 01 78', 'long'],
    ['RECV 4-byte body', '03 00 f0 00 00', 'short'],
    ['RECV default with a size', '03 01 f0 00 00 00', 'reserved'],
    ['RECV reserved flag', '03 02 00 00 00 00', 'reserved'],
    ['IRQ_RX with a body', '05 00', 'long'],
    ['CONTROL_REQ empty', '10', 'short'],
    ['CONTROL_REQ not JSON', '10 7b', 'bad-value'],
    ['CONTROL_REQ not UTF-8', '10 22 ff 22', 'bad-value'],
    ['CONTROL_RES status 2', '11 02 31', 'bad-value'],
  ])('record %s', (_n, hex, reason) => {
    expect(() => decodeRecord(fromHex(hex))).toThrow(expect.objectContaining({ name: 'WireError', reason }));
  });

  test('SEND payload of 1024 bytes is too long', () => {
    const rec = new Uint8Array(2 + 1024);
    rec[0] = 0x01;
    expect(() => decodeRecord(rec)).toThrow(expect.objectContaining({ reason: 'long' }));
    const ok = new Uint8Array(2 + 1023);
    ok[0] = 0x01;
    expect(decodeRecord(ok)).toMatchObject({ type: 'SEND', bytes: expect.any(Uint8Array) });
  });

  test('an unknown type decodes as unknown (the receiver decides)', () => {
    expect(decodeRecord(Uint8Array.of(0x42, 1, 2))).toEqual({ type: 'unknown', raw: 0x42 });
  });

  test('encoders refuse what decoders refuse', () => {
    expect(() => encodeRecord({ type: 'SEND', push: false, oversize: false, bytes: new Uint8Array(1024) })).toThrow(RangeError);
    expect(() => encodeRecord({ type: 'SEND_RESULT', error: 7, ready: false, detail: '' })).toThrow(RangeError);
    expect(() => encodeRecord({ type: 'RECV', bufSize: -1 })).toThrow(RangeError);
    expect(() => encodeHello({ version: 1, role: 'endpoint', vmid: 0x10000 })).toThrow(RangeError);
  });

  test('magic prefix check works on partial input', () => {
    expect(magicPrefixOk(new Uint8Array(0))).toBe(true);
    expect(magicPrefixOk(Uint8Array.of(0x47, 0x4d))).toBe(true);
    expect(magicPrefixOk(Uint8Array.of(0x47, 0x45))).toBe(false);
    expect(() => welcomeSize(Uint8Array.of(0x48))).toThrow(WireError);
    expect(welcomeSize(Uint8Array.of(0x47, 0x4d, 0x51))).toBeUndefined();
  });

  test('text is capped at 1023 bytes on a character boundary', () => {
    const s = 'é'.repeat(600); // 1200 bytes
    const b = utf8Capped(s);
    expect(b.byteLength).toBe(1022);
    expect(new TextDecoder('utf-8', { fatal: true }).decode(b)).toBe('é'.repeat(511));
  });
});

describe('RecordReader (stream splitting)', () => {
  const stream = (): Uint8Array => {
    const parts = RECORD_VECTORS.map((v) => fromHex(v.hex));
    const out = new Uint8Array(parts.reduce((n, p) => n + p.byteLength, 0));
    let o = 0;
    for (const p of parts) {
      out.set(p, o);
      o += p.byteLength;
    }
    return out;
  };
  const drain = (r: RecordReader, out: MsgqRecord[]): void => {
    for (let rec = r.next(); rec !== undefined; rec = r.next()) out.push(decodeRecord(rec));
  };

  test('all records in one chunk', () => {
    const r = new RecordReader(1 << 20);
    r.push(stream());
    const out: MsgqRecord[] = [];
    drain(r, out);
    expect(out).toEqual(RECORD_VECTORS.map((v) => v.rec));
    expect(r.buffered).toBe(0);
  });

  test('one byte at a time', () => {
    const r = new RecordReader(1 << 20);
    const out: MsgqRecord[] = [];
    for (const b of stream()) {
      r.push(Uint8Array.of(b));
      drain(r, out);
    }
    expect(out).toEqual(RECORD_VECTORS.map((v) => v.rec));
  });

  fcTest.prop([fc.array(fc.nat(), { maxLength: 12 })])('split at arbitrary points', (cuts) => {
    const s = stream();
    const points = [...new Set(cuts.map((c) => c % (s.byteLength + 1)))].sort((a, b) => a - b);
    const r = new RecordReader(1 << 20);
    const out: MsgqRecord[] = [];
    let prev = 0;
    for (const p of [...points, s.byteLength]) {
      r.push(s.subarray(prev, p));
      drain(r, out);
      prev = p;
    }
    expect(out).toEqual(RECORD_VECTORS.map((v) => v.rec));
  });

  test('length 0 and over the limit are refused as soon as the length is in', () => {
    const r0 = new RecordReader(MAX_ENDPOINT_RECORD_LEN);
    r0.push(fromHex('00 00 00 00'));
    expect(() => r0.next()).toThrow(expect.objectContaining({ reason: 'short' }));
    const big = new RecordReader(MAX_ENDPOINT_RECORD_LEN);
    big.push(fromHex('06 04 00 00')); // 1030 > 1029, no body needed to decide
    expect(() => big.next()).toThrow(expect.objectContaining({ reason: 'too-big' }));
    const max = new RecordReader(MAX_ENDPOINT_RECORD_LEN);
    max.push(fromHex('05 04 00 00')); // 1029: waits for the body
    expect(max.next()).toBeUndefined();
  });

  fcTest.prop([fc.uint8Array({ maxLength: 1100 })])('decodeRecord only throws WireError', (b) => {
    try {
      decodeRecord(b);
    } catch (e) {
      expect(e).toBeInstanceOf(WireError);
    }
  });

  fcTest.prop([fc.uint8Array({ maxLength: 40 })])('decodeHello / decodeWelcome only throw WireError', (b) => {
    for (const f of [decodeHello, decodeWelcome]) {
      try {
        f(b);
      } catch (e) {
        expect(e).toBeInstanceOf(WireError);
      }
    }
  });
});
