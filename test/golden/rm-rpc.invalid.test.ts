// Rejection tests (mqtt-packet testParseError): every byte string of rm-rpc.invalid.ts must be
// refused with the expected WireError reason and RM error (rm-rpc.md §2, §8, §10–§12, §14).
import { describe, test, expect } from 'vitest';
import { WireError } from '../../src/shared/wire-error.js';
import { decodeRpcFrame } from '../../src/rm-rpc/wire/header.js';
import { EXACT_LENGTH, INVALID_VECTORS } from './rm-rpc.invalid.js';
import { goldenByName } from './all-vectors.js';
import { named, u8 } from './run-golden.js';
import type { InvalidVector } from './golden-types.js';

/** Run the decoder the vector targets and return what it threw (or fail if it did not throw). */
function rejection(v: InvalidVector): WireError {
  try {
    const frame = decodeRpcFrame(u8(v.bytes));
    if (v.stage === 'frame') throw new Error('decodeRpcFrame accepted the frame');
    if (v.codec === undefined) throw new Error('vector has no codec');
    const record = v.codec.decode(frame.payload);
    throw new Error(`payload accepted as ${JSON.stringify(record, (_k, x: unknown) => (typeof x === 'bigint' ? `${x}n` : x))}`);
  } catch (e) {
    if (e instanceof WireError) return e;
    throw e;
  }
}

describe.each(named(INVALID_VECTORS))('%s', (_name, v) => {
  const title = `${v.stage === 'frame' ? 'decodeRpcFrame' : 'payload decode'} throws WireError '${v.reason}' → ${v.rmError ?? 'no reply'} (${v.ref})`;
  const d = v.disagreement;
  // A known codec/sheet disagreement keeps the sheet's expectation and runs as test.fails.
  const [t, name] = d === undefined ? [test, title] : [test.fails, `${title} — KNOWN DISAGREEMENT codec ≠ ${v.ref}: ${d.field} (sheet: ${d.sheet}; codec: ${d.codec})`];
  t(name, () => {
    const e = rejection(v);
    expect({ reason: e.reason, rmError: e.detail.rmError ?? null }).toEqual({ reason: v.reason, rmError: v.rmError });
    if (v.rmError !== null) expect(e.rmError).toBe(v.rmError);
  });
  if (v.stage === 'payload') {
    test('the frame itself is well formed (the payload is what is wrong)', () => {
      expect(() => decodeRpcFrame(u8(v.bytes))).not.toThrow();
    });
  }
});

describe('exact-length table matches the sheet', () => {
  test.each(named(EXACT_LENGTH.map((e) => ({ ...e, name: `${e.msg}: ${e.from}` }))))(
    '%s',
    (_name, e) => {
      const base = goldenByName(e.from);
      expect(base.msg).toBe(e.msg);
      expect(base.bytes.length - 8).toBe(e.length); // payload after the 8-byte request header
    },
  );
});
