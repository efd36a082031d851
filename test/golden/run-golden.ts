/**
 * The golden-vector runner: parse / generate / mirror for every hand-typed frame
 * (STYLE.md rule 12; mqtt-packet's testParseGenerate in vitest).
 *
 * Layer: test support for rm-rpc/wire. For each vector:
 *   decode   decodeRpcFrame(bytes) gives the typed header fields, and the payload codec gives
 *            the record (also from a view at a non-zero byteOffset, to catch `u8.buffer` slips)
 *   encode   encodeRpcFrame(header, codec.encode(record)) gives the bytes (compared as hex), and
 *            fragmentMessage() of the whole message gives the same single frame
 *   mirror   decode(encode(record)) is the record again
 * A `decodeOnly` vector (bytes the RM accepts but no encoder writes, e.g. non-zero ignored
 * padding) runs decode and mirror only.
 * A vector with a `disagreement` runs the named checks as `test.fails`, with a title that says
 * the codec disagrees with the sheet; the bytes stay as the sheet says.
 */
import { describe, test, expect } from 'vitest';
import { concatBytes, toHex } from '../../src/shared/bytes.js';
import { decodeRpcFrame, encodeRpcFrame, type RpcFrame } from '../../src/rm-rpc/wire/header.js';
import { fragmentMessage, type RpcMessage } from '../../src/rm-rpc/wire/message.js';
import type { FragmentedVector, GoldenCheck, GoldenVector } from './golden-types.js';

/**
 * `[name, vector]` rows for `describe.each('%s')`: vitest shortens `$name` titles to 40
 * characters, and the names here are the documentation of each vector.
 */
export function named<V extends { readonly name: string }>(vectors: readonly V[]): Array<[string, V]> {
  return vectors.map((v) => [v.name, v]);
}

/** Wire value of each message type (rm-rpc.md §3), typed here, not imported. */
export const TYPE_VALUE = { continuation: 0, request: 1, reply: 2, notification: 3 } as const;

/** A Uint8Array copy of `bytes`. */
export function u8(bytes: readonly number[]): Uint8Array {
  return Uint8Array.from(bytes);
}

/** The same bytes seen through a view that starts at byteOffset 3 of a larger buffer. */
export function offsetView(bytes: readonly number[]): Uint8Array {
  const big = new Uint8Array(bytes.length + 6).fill(0xa5);
  big.set(bytes, 3);
  return big.subarray(3, 3 + bytes.length);
}

/** The whole-message form of a vector, for fragmentMessage(). */
function messageOf(v: GoldenVector | FragmentedVector, payload: Uint8Array): RpcMessage {
  if (v.type === 'reply') return { kind: 'reply', seq: v.seq, msgId: v.msgId, errCode: v.err, payload };
  return { kind: v.type, seq: v.seq, msgId: v.msgId, payload };
}

/** The frame to encode for a single-frame vector. */
function frameOf(v: GoldenVector, payload: Uint8Array): RpcFrame {
  if (v.type === 'reply') return { msgType: 2, fragments: 0, seq: v.seq, msgId: v.msgId, errCode: v.err, payload };
  return { msgType: TYPE_VALUE[v.type], fragments: 0, seq: v.seq, msgId: v.msgId, payload };
}

/** Which side's fragmentation rules a message follows (rm-rpc.md §5). */
function sideOf(v: GoldenVector | FragmentedVector): 'linux' | 'rm' {
  return v.type === 'request' ? 'linux' : 'rm';
}

/** The title and test function of one check, marked when the codec disagrees with the sheet. */
function check(v: GoldenVector | FragmentedVector, what: GoldenCheck, title: string): [string, typeof test | typeof test.fails] {
  const d = v.disagreement;
  if (d === undefined || !d.fails.includes(what)) return [title, test];
  return [`${title} — KNOWN DISAGREEMENT codec ≠ ${v.ref}: ${d.field} (sheet: ${d.sheet}; codec: ${d.codec})`, test.fails];
}

function expectHeader(f: RpcFrame, v: GoldenVector | FragmentedVector, msgType: number, fragments: number): void {
  expect({ msgType: f.msgType, fragments: f.fragments, seq: f.seq, msgId: f.msgId }).toEqual({
    msgType,
    fragments,
    seq: v.seq,
    msgId: v.msgId,
  });
}

/** Run the single-frame vectors of one family. */
export function describeGolden(vectors: readonly GoldenVector[]): void {
  describe.each(named(vectors))('%s', (_name, v) => {
    test(`frame header decodes to type ${v.type}, seq ${v.seq}, msg_id 0x${v.msgId.toString(16)}`, () => {
      const f = decodeRpcFrame(u8(v.bytes));
      expectHeader(f, v, TYPE_VALUE[v.type], 0);
      if (v.type === 'reply') expect(f.msgType === 2 ? f.errCode : undefined).toBe(v.err);
    });

    const [decodeTitle, decodeTest] = check(v, 'decode', `payload decodes to the record (${v.ref})`);
    decodeTest(decodeTitle, () => {
      expect(v.codec.decode(decodeRpcFrame(u8(v.bytes)).payload)).toEqual(v.record);
    });
    const [offTitle, offTest] = check(v, 'decode', 'payload decodes from a view at a non-zero byteOffset');
    offTest(offTitle, () => {
      expect(v.codec.decode(decodeRpcFrame(offsetView(v.bytes)).payload)).toEqual(v.record);
    });

    if (v.decodeOnly === undefined) {
      const [encodeTitle, encodeTest] = check(v, 'encode', `record encodes to the typed bytes (${v.ref})`);
      encodeTest(encodeTitle, () => {
        expect(toHex(encodeRpcFrame(frameOf(v, v.codec.encode(v.record))))).toBe(toHex(v.bytes));
      });
      encodeTest(`${encodeTitle} — via fragmentMessage(${sideOf(v)})`, () => {
        const frames = fragmentMessage(messageOf(v, v.codec.encode(v.record)), sideOf(v));
        expect(frames.map((fr) => toHex(fr))).toEqual([toHex(v.bytes)]);
      });
    }

    const [mirrorTitle, mirrorTest] = check(v, 'mirror', 'mirror: decode(encode(record)) is the record');
    mirrorTest(mirrorTitle, () => {
      const bytes = encodeRpcFrame(frameOf(v, v.codec.encode(v.record)));
      const f = decodeRpcFrame(bytes);
      expectHeader(f, v, TYPE_VALUE[v.type], 0);
      expect(v.codec.decode(f.payload)).toEqual(v.record);
    });
  });
}

/** Run multi-frame vectors: reassembly by hand from decodeRpcFrame, and fragmentMessage(). */
export function describeFragmented(vectors: readonly FragmentedVector[]): void {
  describe.each(named(vectors))('%s', (_name, v) => {
    const fragments = v.frames.length - 1;

    test(`${v.frames.length} frames: first ${v.type}, then continuations repeating seq, msg_id and fragments = ${fragments}`, () => {
      v.frames.forEach((bytes, i) => {
        const f = decodeRpcFrame(u8(bytes));
        expectHeader(f, v, i === 0 ? TYPE_VALUE[v.type] : TYPE_VALUE.continuation, fragments);
        if (i === 0 && v.type === 'reply') expect(f.msgType === 2 ? f.errCode : undefined).toBe(v.err);
      });
    });

    test(`every frame but the last is 240 bytes (${v.ref})`, () => {
      v.frames.slice(0, -1).forEach((bytes) => expect(bytes.length).toBe(240));
      expect(v.frames.at(-1)!.length).toBeLessThanOrEqual(240);
    });

    const [decodeTitle, decodeTest] = check(v, 'decode', 'reassembled payload decodes to the record');
    decodeTest(decodeTitle, () => {
      const payload = concatBytes(v.frames.map((bytes) => decodeRpcFrame(u8(bytes)).payload));
      expect(v.codec.decode(payload)).toEqual(v.record);
    });

    const [encodeTitle, encodeTest] = check(v, 'encode', `fragmentMessage(${sideOf(v)}) gives the typed frames`);
    encodeTest(encodeTitle, () => {
      const frames = fragmentMessage(messageOf(v, v.codec.encode(v.record)), sideOf(v));
      expect(frames.map((f) => toHex(f))).toEqual(v.frames.map((f) => toHex(f)));
    });

    const [mirrorTitle, mirrorTest] = check(v, 'mirror', 'mirror: reassemble(fragment(encode(record))) decodes to the record');
    mirrorTest(mirrorTitle, () => {
      const frames = fragmentMessage(messageOf(v, v.codec.encode(v.record)), sideOf(v));
      expect(v.codec.decode(concatBytes(frames.map((f) => decodeRpcFrame(f).payload)))).toEqual(v.record);
    });
  });
}
