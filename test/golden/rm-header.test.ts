// Golden tests of the RM RPC header and framing (rm-rpc.md §2–§5): bare headers, the sheet's
// example frames, and multi-frame messages. Vectors: rm-header.vectors.ts (typed by hand).
import { describe, test, expect } from 'vitest';
import { toHex } from '../../src/shared/bytes.js';
import { decodeRpcHeader, encodeRpcHeader } from '../../src/rm-rpc/wire/header.js';
import { FRAGMENTED_VECTORS, HEADER_VECTORS, RM_HEADER_VECTORS } from './rm-header.vectors.js';
import { describeFragmented, describeGolden, named, u8 } from './run-golden.js';

describe('bare headers', () => {
  describe.each(named(HEADER_VECTORS))('%s', (_name, { header, bytes }) => {
    test('decodeRpcHeader', () => expect(decodeRpcHeader(u8(bytes))).toEqual(header));
    test('encodeRpcHeader', () => {
      const out = new Uint8Array(8);
      encodeRpcHeader(header, new DataView(out.buffer));
      expect(toHex(out)).toBe(toHex(bytes));
    });
  });
});

describe('sheet example frames', () => describeGolden(RM_HEADER_VECTORS));
describe('multi-frame messages', () => describeFragmented(FRAGMENTED_VECTORS));
