/**
 * The host bridge codec against vectors typed by hand from docs/host-bridge-protocol.md
 * ("Byte layout", "Example records"), and its refusal of malformed input.
 */
import { describe, expect, it } from 'vitest';
import {
  RecordReader,
  decodeHello,
  decodeRecord,
  decodeWelcome,
  encodeHello,
  encodeRecord,
  encodeWelcome,
} from '../../src/bridge/bridge-wire.js';
import { WireError } from '../../src/shared/wire-error.js';

function hex(s: string): Uint8Array {
  const t = s.replace(/\s+/g, '');
  return Uint8Array.from(t.match(/../g)!.map((x) => parseInt(x, 16)));
}

describe('bridge wire: golden records', () => {
  it('HELLO, v1, v17, pid 0x1234', () => {
    const g = hex('47 48 42 52  01 00  01  00  34 12 00 00  00 00 00 00');
    expect(encodeHello({ version: 1, dialect: 1, pid: 0x1234 })).toEqual(g);
    expect(decodeHello(g)).toEqual({ version: 1, dialect: 1, pid: 0x1234 });
  });

  it('WELCOME accepted and refused', () => {
    const ok = hex('47 48 42 52  01 00  00  01  07 00 00 00  00 00  00 00');
    expect(encodeWelcome({ status: 'accepted', version: 1, dialect: 1, clientId: 7 })).toEqual(ok);
    const no = hex('47 48 42 52  01 00  01  00  00 00 00 00  02 00  00 00  6e 6f');
    expect(decodeWelcome(no)).toEqual({ status: 'refused', version: 1, reason: 'no' });
  });

  it('OPEN "/dev/gunyah" O_RDWR|O_CLOEXEC, tag 1', () => {
    const g = hex(`1b 00 00 00  01  00 00 00  01 00 00 00
                   02 00 08 00  0b 00 00 00  2f 64 65 76 2f 67 75 6e 79 61 68`);
    expect(encodeRecord({ type: 'OPEN', tag: 1, flags: 0x80002, path: '/dev/gunyah' })).toEqual(g);
    expect(decodeRecord(g)).toEqual({ type: 'OPEN', tag: 1, flags: 0x80002, path: '/dev/gunyah' });
  });

  it('IOCTL with an immediate: GUNYAH_CREATE_VM on fd 3, tag 2', () => {
    const g = hex(`20 00 00 00  05  00 00 00  02 00 00 00
                   03 00 00 00  00 47 00 00  00 00 00 00 00 00 00 00  00  00  00 00  00 00 00 00`);
    const rec = { type: 'IOCTL', tag: 2, fd: 3, request: 0x4700, arg: 0n, struct: undefined, blobs: [] } as const;
    expect(encodeRecord(rec)).toEqual(g);
    expect(decodeRecord(g)).toEqual(rec);
  });

  it('IOCTL with a struct: GUNYAH_VM_SET_DTB_CONFIG on fd 4, tag 3', () => {
    const g = hex(`30 00 00 00  05  00 00 00  03 00 00 00
                   04 00 00 00  02 47 10 40  00 10 00 00 00 7f 00 00  01  00  00 00  10 00 00 00
                   00 40 00 80 00 00 00 00  00 10 00 00 00 00 00 00`);
    const struct = hex('00 40 00 80 00 00 00 00  00 10 00 00 00 00 00 00');
    const rec = { type: 'IOCTL', tag: 3, fd: 4, request: 0x40104702, arg: 0x7f00_0000_1000n, struct, blobs: [] } as const;
    expect(encodeRecord(rec)).toEqual(g);
    expect(decodeRecord(g)).toEqual(rec);
  });

  it('IOCTL ADD_FUNCTION with a followed-pointer blob', () => {
    // gunyah_fn_desc { type 1, arg_size 4, arg 0x5000 } and the 4-byte vcpu arg { id 0 } at 0x5000.
    const g = hex(`44 00 00 00  05  00 00 00  05 00 00 00
                   05 00 00 00  04 47 10 40  00 60 00 00 00 00 00 00  01  00  01 00  10 00 00 00
                   01 00 00 00 04 00 00 00  00 50 00 00 00 00 00 00
                   00 50 00 00 00 00 00 00  04 00 00 00  00 00 00 00  00 00 00 00`);
    const d = decodeRecord(g);
    expect(d).toMatchObject({ type: 'IOCTL', fd: 5, request: 0x40104704, arg: 0x6000n, blobs: [{ addr: 0x5000n, bytes: new Uint8Array(4) }] });
    expect(encodeRecord(d)).toEqual(g);
  });

  it('RUN_R: ok, an MMIO read exit at 0x6000 of 8 bytes, tag 9', () => {
    const g = hex(`3c 00 00 00  86  00 00 00  09 00 00 00
                   00 00 00 00  00 00 00 00  28 00 00 00
                   00 00 00 00 00 00 00 00  01 00 00 00 00 00 00 00
                   00 60 00 00 00 00 00 00  00 00 00 00 00 00 00 00
                   08 00 00 00  00  00  00 00`);
    const page = new Uint8Array(40);
    page[8] = 1;
    page[17] = 0x60;
    page[32] = 8;
    expect(encodeRecord({ type: 'RUN_R', tag: 9, errno: 0, result: 0, page })).toEqual(g);
    expect(decodeRecord(g)).toEqual({ type: 'RUN_R', tag: 9, errno: 0, result: 0, page });
  });

  it('ACCESS_REVOKED of mapping 2: one range of two pages at 0x1000', () => {
    const g = hex(`20 00 00 00  41  00 00 00  00 00 00 00
                   02 00 00 00  01 00 00 00  00 10 00 00 00 00 00 00  00 20 00 00 00 00 00 00`);
    expect(encodeRecord({ type: 'ACCESS_REVOKED', tag: 0, id: 2, ranges: [{ offset: 0x1000n, length: 0x2000n }] })).toEqual(g);
  });

  it('EVENTFD_SIGNAL id 7 value 1; IOCTL_R with a new guest-memory fd and its path', () => {
    expect(encodeRecord({ type: 'EVENTFD_SIGNAL', tag: 0, id: 7, value: 1n })).toEqual(
      hex('18 00 00 00  0b  00 00 00  00 00 00 00  07 00 00 00  00 00 00 00  01 00 00 00 00 00 00 00'),
    );
    const g = hex(`25 00 00 00  85  00 00 00  04 00 00 00
                   00 00 00 00  06 00 00 00  03  00 00 00  00 00 00 00  00 20 00 00 00 00 00 00  01 00 00 00  2f`);
    expect(decodeRecord(g)).toEqual({ type: 'IOCTL_R', tag: 4, errno: 0, result: 6, newFdKind: 3, out: new Uint8Array(0), gmemSize: 0x2000n, path: '/' });
  });
});

describe('bridge wire: version 2 (MMAP_ANON, KICK, dialect gh)', () => {
  it('HELLO, v2, dialect gh, pid 0x1234', () => {
    const g = hex('47 48 42 52  02 00  02  00  34 12 00 00  00 00 00 00');
    expect(encodeHello({ version: 2, dialect: 2, pid: 0x1234 })).toEqual(g);
    expect(decodeHello(g)).toEqual({ version: 2, dialect: 2, pid: 0x1234 });
  });

  it('MMAP_ANON of 0x3000 bytes, prot 3, tag 5', () => {
    const g = hex('18 00 00 00  0d  00 00 00  05 00 00 00  00 30 00 00 00 00 00 00  03 00 00 00  00 00 00 00');
    expect(encodeRecord({ type: 'MMAP_ANON', tag: 5, length: 0x3000n, prot: 3 })).toEqual(g);
    expect(decodeRecord(g)).toEqual({ type: 'MMAP_ANON', tag: 5, length: 0x3000n, prot: 3 });
  });

  it('MMAP_ANON_R: id 2, kind 3, 0x3000 bytes at 0x7f00_0000_2000, path "/x", tag 5', () => {
    const g = hex(`2a 00 00 00  8d  00 00 00  05 00 00 00
                   00 00 00 00  02 00 00 00  03  00 00 00  00 30 00 00 00 00 00 00
                   00 20 00 00 00 7f 00 00  02 00 00 00  2f 78`);
    const rec = { type: 'MMAP_ANON_R', tag: 5, errno: 0, id: 2, kind: 3, length: 0x3000n, addr: 0x7f00_0000_2000n, path: '/x' } as const;
    expect(encodeRecord(rec)).toEqual(g);
    expect(decodeRecord(g)).toEqual(rec);
  });

  it('MMAP_ANON_R refused: ENOMEM (12), every number 0, no path', () => {
    const g = hex(`28 00 00 00  8d  00 00 00  06 00 00 00
                   0c 00 00 00  00 00 00 00  00  00 00 00  00 00 00 00 00 00 00 00
                   00 00 00 00 00 00 00 00  00 00 00 00`);
    expect(decodeRecord(g)).toEqual({ type: 'MMAP_ANON_R', tag: 6, errno: 12, id: 0, kind: 0, length: 0n, addr: 0n, path: '' });
  });

  it('KICK of vCPU fd 5, tag 0 (no reply)', () => {
    const g = hex('0c 00 00 00  0e  00 00 00  00 00 00 00  05 00 00 00');
    expect(encodeRecord({ type: 'KICK', tag: 0, fd: 5 })).toEqual(g);
    expect(decodeRecord(g)).toEqual({ type: 'KICK', tag: 0, fd: 5 });
  });

  it('KICK of fd -1, tag 9: the fd is signed, any tag is taken', () => {
    const g = hex('0c 00 00 00  0e  00 00 00  09 00 00 00  ff ff ff ff');
    expect(decodeRecord(g)).toEqual({ type: 'KICK', tag: 9, fd: -1 });
    expect(encodeRecord({ type: 'KICK', tag: 9, fd: -1 })).toEqual(g);
  });

  it('IOCTL GH_VM_CHECK_EXTENSION (0x4117, _IOC_SIZE 0): an immediate, the capability in arg', () => {
    const g = hex(`20 00 00 00  05  00 00 00  03 00 00 00
                   04 00 00 00  17 41 00 00  00 00 00 00 00 00 00 00  00  00  00 00  00 00 00 00`);
    const rec = { type: 'IOCTL', tag: 3, fd: 4, request: 0x4117, arg: 0n, struct: undefined, blobs: [] } as const;
    expect(encodeRecord(rec)).toEqual(g);
    expect(decodeRecord(g)).toEqual(rec);
  });
});

describe('bridge wire: malformed input', () => {
  const bad = (s: string): unknown => {
    try {
      decodeRecord(hex(s));
    } catch (e) {
      return e;
    }
    return undefined;
  };

  it.each([
    ['unknown type', '08 00 00 00  33  00 00 00  00 00 00 00'],
    ['reserved header byte', '0c 00 00 00  02  01 00 00  00 00 00 00  03 00 00 00'],
    ['trailing bytes', '0d 00 00 00  02  00 00 00  00 00 00 00  03 00 00 00  00'],
    ['short body', '0a 00 00 00  02  00 00 00  00 00 00 00  03 00'],
    ['struct_len not _IOC_SIZE', '20 00 00 00  05  00 00 00  02 00 00 00  03 00 00 00  02 47 10 40  00 00 00 00 00 00 00 00  01  00  00 00  00 00 00 00'],
    ['immediate with struct bytes', '21 00 00 00  05  00 00 00  02 00 00 00  03 00 00 00  00 47 00 00  00 00 00 00 00 00 00 00  00  00  00 00  01 00 00 00  00'],
    ['eventfd roles 0', '10 00 00 00  0a  00 00 00  01 00 00 00  05 00 00 00  00 00 00 00'],
    ['MMAP_ANON reserved word not 0', '18 00 00 00  0d  00 00 00  05 00 00 00  00 30 00 00 00 00 00 00  03 00 00 00  00 01 00 00'],
    ['MMAP_ANON without its reserved word', '14 00 00 00  0d  00 00 00  05 00 00 00  00 30 00 00 00 00 00 00  03 00 00 00'],
    ['MMAP_ANON_R path_len past the end', '2a 00 00 00  8d  00 00 00  05 00 00 00  00 00 00 00  02 00 00 00  03  00 00 00  00 30 00 00 00 00 00 00  00 20 00 00 00 7f 00 00  03 00 00 00  2f 78'],
    ['KICK with a 3-byte body', '0b 00 00 00  0e  00 00 00  00 00 00 00  05 00 00'],
    ['KICK with a byte after the fd', '0d 00 00 00  0e  00 00 00  00 00 00 00  05 00 00 00  00'],
    ['KICK with no body', '08 00 00 00  0e  00 00 00  00 00 00 00'],
    ['KICK_R (0x8E): KICK has no reply', '0c 00 00 00  8e  00 00 00  00 00 00 00  05 00 00 00'],
    ['MMAP_ANON_R reserved byte not 0', '2a 00 00 00  8d  00 00 00  05 00 00 00  00 00 00 00  02 00 00 00  03  00 01 00  00 30 00 00 00 00 00 00  00 20 00 00 00 7f 00 00  02 00 00 00  2f 78'],
  ])('%s → WireError', (_, s) => {
    expect(bad(s)).toBeInstanceOf(WireError);
  });

  it('the stream splitter refuses a len over 1 MiB before the body arrives', () => {
    const r = new RecordReader();
    r.push(hex('01 00 10 00'));
    expect(() => r.next()).toThrow(WireError);
  });

  it('the stream splitter joins split chunks and separates glued records', () => {
    const a = encodeRecord({ type: 'CLOSE', tag: 1, fd: 3 });
    const b = encodeRecord({ type: 'DUP', tag: 2, fd: 4 });
    const r = new RecordReader();
    r.push(a.subarray(0, 5));
    expect(r.next()).toBeUndefined();
    r.push(Uint8Array.from([...a.subarray(5), ...b]));
    expect(decodeRecord(r.next()!)).toEqual({ type: 'CLOSE', tag: 1, fd: 3 });
    expect(decodeRecord(r.next()!)).toEqual({ type: 'DUP', tag: 2, fd: 4 });
    expect(r.next()).toBeUndefined();
  });
});
