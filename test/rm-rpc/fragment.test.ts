// Fragmentation by each sender's rules (rm-rpc.md §4, §5): frame counts, sizes, headers that
// repeat seq/msg_id/fragments, and each side's limit with one byte past it.
import { describe, expect, test } from 'vitest';
import { fragmentMessage, LINUX_MAX_REQUEST, RM_MAX_MESSAGE } from '../../src/rm-rpc/wire/message.js';
import { decodeRpcFrame } from '../../src/rm-rpc/wire/header.js';
import { WireError } from '../../src/shared/wire-error.js';
import { test as fcTest, fc } from '@fast-check/vitest';
import { createMsgqPair } from '../../src/msgq/endpoint.js';
import { RmLink } from '../../src/rm-rpc/server/link.js';
import { silentLogger } from '../../src/shared/log.js';

const fill = (n: number) => Uint8Array.from({ length: n }, (_, i) => (i * 7) & 0xff);

describe('Linux client requests', () => {
  test.each([
    [0, 1],
    [1, 1],
    [231, 1],
    [232, 1],
    [233, 2],
    [62 * 232, 62],
  ])('%i payload bytes → %i frames', (len, frames) => {
    const payload = fill(len);
    const out = fragmentMessage({ kind: 'request', seq: 0x1234, msgId: 0x56000004, payload }, 'linux');
    expect(out).toHaveLength(frames);
    const decoded = out.map((f) => decodeRpcFrame(f));
    decoded.forEach((f, i) => {
      expect(f).toMatchObject({ msgType: i === 0 ? 1 : 0, fragments: frames - 1, seq: 0x1234, msgId: 0x56000004 });
      // every frame but the last is full
      if (i < frames - 1) expect(f.payload.byteLength).toBe(232);
    });
    const joined = Uint8Array.from(decoded.flatMap((f) => [...f.payload]));
    expect(joined).toEqual(payload);
  });

  test('the limit is 62 × 232 bytes; one byte more is refused', () => {
    expect(LINUX_MAX_REQUEST).toBe(14384);
    expect(() => fragmentMessage({ kind: 'request', seq: 0, msgId: 1, payload: fill(LINUX_MAX_REQUEST + 1) }, 'linux')).toThrow(WireError);
  });
});

describe('RM replies and notifications', () => {
  test.each([
    [0, 1],
    [1, 1],
    [228, 1],
    [229, 2],
    [63 * 232 - 4, 63],
  ])('reply with %i data bytes → %i frames (err_code counts as payload)', (len, frames) => {
    const out = fragmentMessage({ kind: 'reply', seq: 7, msgId: 0x56000020, errCode: 0, payload: fill(len) }, 'rm');
    expect(out).toHaveLength(frames);
    expect(out.every((f) => f.byteLength <= 240)).toBe(true);
    expect(decodeRpcFrame(out[0]!)).toMatchObject({ msgType: 2, errCode: 0, fragments: frames - 1 });
  });

  test.each([0, 1, 231, 232, 233, RM_MAX_MESSAGE])('notification of %i bytes fits', (len) => {
    const out = fragmentMessage({ kind: 'notification', seq: 1, msgId: 0x56100008, payload: fill(len) }, 'rm');
    expect(out).toHaveLength(len === 0 ? 1 : Math.ceil(len / 232));
  });

  test('the RM limit is 63 × 232 bytes of body; one byte more is refused', () => {
    expect(RM_MAX_MESSAGE).toBe(14616);
    expect(() => fragmentMessage({ kind: 'notification', seq: 0, msgId: 1, payload: fill(RM_MAX_MESSAGE + 1) }, 'rm')).toThrow(WireError);
    expect(() => fragmentMessage({ kind: 'reply', seq: 0, msgId: 1, errCode: 0, payload: fill(RM_MAX_MESSAGE - 3) }, 'rm')).toThrow(WireError);
  });
});

describe('properties', () => {
  fcTest.prop([fc.uint8Array({ maxLength: 300 })])('decodeRpcFrame throws nothing but WireError', (b) => {
    try {
      decodeRpcFrame(b);
    } catch (e) {
      expect(e).toBeInstanceOf(WireError);
    }
  });

  fcTest.prop([fc.uint8Array({ maxLength: LINUX_MAX_REQUEST }), fc.integer({ min: 0, max: 0xffff }), fc.integer({ min: 1, max: 0xffffffff })], { numRuns: 60 })(
    'fragment → RM reassembly gives back the request',
    (payload, seq, msgId) => {
      const [vm, rm] = createMsgqPair({ depth: 64, maxMsgSize: 240 });
      const got: Uint8Array[] = [];
      const link = new RmLink(3, rm, { onRequest: (r) => void got.push(r.payload) }, silentLogger(), undefined);
      for (const f of fragmentMessage({ kind: 'request', seq, msgId, payload }, 'linux')) vm.send(f, false);
      link.poll();
      expect(got).toHaveLength(1);
      expect(Buffer.from(got[0]!).equals(Buffer.from(payload))).toBe(true);
      link.close();
    },
  );
});
