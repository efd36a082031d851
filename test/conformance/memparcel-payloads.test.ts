// The conformance suite's memory-parcel builders and decoders (src/conformance/payloads.ts)
// against bytes typed by hand from rm-rpc.md §12.5 (request and reply layouts) and §13
// (MEM_SHARED, MEM_ACCEPTED / MEM_RELEASED, MEM_RECALL).
import { describe, test, expect } from 'vitest';
import { toHex } from '../../src/shared/bytes.js';
import { CaseFailure } from '../../src/conformance/assert.js';
import {
  decodeAcceptSgl,
  memAcceptReq,
  memAppendReq,
  memCreateReq,
  memLookupReq,
  memNotifyReq,
  memOwnerNotifBytes,
  memRecallBytes,
  memReclaimReq,
  memSharedBytes,
} from '../../src/conformance/payloads.js';

const hex = (b: Uint8Array) => toHex(b);

describe('memory parcel requests (rm-rpc.md §12.5)', () => {
  test('MEM_LEND: header, ACL, SGL, empty attr list', () => {
    const b = memCreateReq({ flags: 0x1, label: 0x1122_3344, acl: [{ vmid: 0x80, rights: 6 }], sgl: [{ addr: 0x2_0000_0000n, size: 0x1000n }] });
    expect(hex(b)).toBe(
      [
        '00 00 01 00', '44 33 22 11',
        '01 00 00 00', '80 00 06 00',
        '01 00 00 00', '00 00 00 00 02 00 00 00', '00 10 00 00 00 00 00 00',
        '00 00 00 00',
      ].join(' '),
    );
  });
  test('attr entries put the attr before the vmid; attrs: null leaves the list out', () => {
    const b = memCreateReq({ memType: 1, acl: [], sgl: [], attrs: [{ attr: 3, vmid: 0x81 }] });
    expect(hex(b)).toBe('01 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 01 00 00 00 03 00 81 00');
    expect(memCreateReq({ acl: [], sgl: [], attrs: null }).byteLength).toBe(16);
  });
  test('MEM_QCOM_LOOKUP_SGL: mem_type, 3 reserved, label, lists', () => {
    const b = memLookupReq({ memType: 0, flags: 0x2, label: 7, acl: [{ vmid: 3, rights: 4 }], sgl: [] });
    expect(hex(b)).toBe('00 00 00 00 07 00 00 00 01 00 00 00 03 00 04 00 00 00 00 00 00 00 00 00');
  });
  test('MEM_APPEND: handle, flags, 3 reserved, SGL list', () => {
    expect(hex(memAppendReq(0x10, 1, [{ addr: 0x1000n, size: 0x2000n }]))).toBe(
      '10 00 00 00 01 00 00 00 01 00 00 00 00 10 00 00 00 00 00 00 00 20 00 00 00 00 00 00',
    );
  });
  test('MEM_ACCEPT: map_vmid is the upper u16 of the SGL header, at 18 + 4 × n_acl', () => {
    const b = memAcceptReq({ handle: 5, transType: 1, flags: 0x84, label: 9, acl: [{ vmid: 0x80, rights: 6 }], mapVmid: 0x80 });
    expect(hex(b)).toBe(
      ['05 00 00 00', '00 01 84 00', '09 00 00 00', '01 00 00 00', '80 00 06 00', '00 00 80 00', '00 00 00 00'].join(' '),
    );
    expect(b[18 + 4]).toBe(0x80);
  });
  test('MEM_RELEASE / MEM_RECLAIM: handle, flags, 3 reserved', () => {
    expect(hex(memReclaimReq(0xa0b0c0d0, 1))).toBe('d0 c0 b0 a0 01 00 00 00');
  });
  test('MEM_NOTIFY: 12 bytes without a list, 16 + 4n with one', () => {
    expect(hex(memNotifyReq(1, 4, 0xdeadbeef))).toBe('01 00 00 00 04 00 00 00 ef be ad de');
    expect(hex(memNotifyReq(1, 1, 2, [0x80, 0x81]))).toBe('01 00 00 00 01 00 00 00 02 00 00 00 02 00 00 00 80 00 00 00 81 00 00 00');
  });
});

describe('memory parcel replies and notifications (rm-rpc.md §12.5, §13)', () => {
  test('MEM_ACCEPT reply: u16 n, u8 flags, u8 reserved, n × {ipa, size}', () => {
    const data = Uint8Array.from([1, 0, 0, 0, 0, 0, 0x20, 0, 0, 0, 0, 0, 0, 0x10, 0, 0, 0, 0, 0, 0]);
    expect(decodeAcceptSgl(data)).toEqual({ flags: 0, reserved: 0, sgl: [{ addr: 0x20_0000n, size: 0x1000n }] });
    expect(() => decodeAcceptSgl(data.subarray(0, 19))).toThrow(CaseFailure);
  });
  test('MEM_SHARED: header, ACL list, size-only SGL list, attr list', () => {
    const b = memSharedBytes({
      handle: 2, memType: 0, transType: 2, flags: 1, owner: 3, label: 0x10, tag: 0x20,
      acl: [{ vmid: 3, rights: 6 }], sizes: [0x1000n], attrs: [{ attr: 2, vmid: 0x80 }],
    });
    expect(hex(b)).toBe(
      [
        '02 00 00 00', '00 02 01 00', '03 00 00 00', '10 00 00 00', '20 00 00 00',
        '01 00 00 00', '03 00 06 00',
        '01 00 00 00', '00 10 00 00 00 00 00 00',
        '01 00 00 00', '02 00 80 00',
      ].join(' '),
    );
  });
  test('MEM_ACCEPTED / MEM_RELEASED: handle, u16 vmid, 2 reserved, tag; MEM_RECALL: handle, tag', () => {
    expect(hex(memOwnerNotifBytes(7, 0x80, 0x55))).toBe('07 00 00 00 80 00 00 00 55 00 00 00');
    expect(hex(memRecallBytes(7, 0x55))).toBe('07 00 00 00 55 00 00 00');
  });
});
