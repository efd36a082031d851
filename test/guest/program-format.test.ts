// Guest-program image format: a hand-typed golden vector, build → decode round trips (also as
// a property), and the malformed images the decoder must reject (docs/guest-images.md).
import { fc, test as prop } from '@fast-check/vitest';
import { describe, expect, it } from 'vitest';
import {
  decodeGuestProgram,
  encodeGuestProgram,
  formatGuestInstruction,
  guestProgram,
  type GuestInstruction,
} from '../../src/guest/index.js';
import { fromHex, toHex } from '../../src/shared/bytes.js';
import { WireError } from '../../src/shared/wire-error.js';

// Provenance: typed by hand from the layout in docs/guest-images.md "Guest programs"
// (header 32 bytes, 48-byte instructions, little-endian), not captured from the encoder.
const GOLDEN = {
  program: () => guestProgram().mmioWrite(0x6000, 4, 0x1122_3344).forever((p) => p.hvc(0xc400_0003, 1, 0x8000_0000, 7)),
  bytes: fromHex(`
    47 45 4d 55 50 52 4f 47   01 00 00 00   b0 00 00 00
    03 00 00 00   30 00 00 00   00 00 00 00 00 00 00 00

    04 04 00 00   00 00 00 00
    00 60 00 00 00 00 00 00   44 33 22 11 00 00 00 00
    00 00 00 00 00 00 00 00   00 00 00 00 00 00 00 00   00 00 00 00 00 00 00 00

    06 03 00 00   03 00 00 c4
    01 00 00 00 00 00 00 00   00 00 00 80 00 00 00 00
    07 00 00 00 00 00 00 00   00 00 00 00 00 00 00 00   00 00 00 00 00 00 00 00

    12 00 00 00   01 00 00 00
    00 00 00 00 00 00 00 00   00 00 00 00 00 00 00 00
    00 00 00 00 00 00 00 00   00 00 00 00 00 00 00 00   00 00 00 00 00 00 00 00
  `),
  // Field by field:
  // header: magic "GEMUPROG" | version 1 | length 176 = 32 + 3 × 48 | count 3 | insn size 48 | reserved
  // [0] MMIO_WRITE 0x04, len 4, imm 0 | a0 = 0x6000 | a1 = 0x11223344 | a2..a4 = 0
  // [1] HVC 0x06, argc 3, imm = fn 0xC4000003 | a0 = 1 | a1 = 0x80000000 | a2 = 7 | a3, a4 = 0
  // [2] JUMP 0x12, imm = target 1 (the forever body) | operands 0
  instructions: [
    { op: 'mmio-write', addr: 0x6000n, len: 4, value: 0x1122_3344n },
    { op: 'hvc', fn: 0xc400_0003, args: [1n, 0x8000_0000n, 7n] },
    { op: 'jump', target: 1 },
  ] satisfies GuestInstruction[],
};

describe('golden program image', () => {
  it('generate', () => expect(toHex(GOLDEN.program().build())).toBe(toHex(GOLDEN.bytes)));
  it('parse', () => expect(decodeGuestProgram(GOLDEN.bytes)).toEqual({ version: 1, instructions: GOLDEN.instructions }));
  it('mirror', () => expect(decodeGuestProgram(GOLDEN.program().build()).instructions).toEqual(GOLDEN.program().instructions()));
  it('trailing bytes after the declared length are ignored', () => {
    const longer = new Uint8Array(GOLDEN.bytes.length + 100).fill(0xee);
    longer.set(GOLDEN.bytes);
    expect(decodeGuestProgram(longer).instructions).toEqual(GOLDEN.instructions);
  });
  it('formats for traces', () => {
    expect(GOLDEN.instructions.map(formatGuestInstruction)).toEqual([
      'mmio-write 0x6000 len 4 value 0x11223344',
      'hvc 0xC4000003(0x1, 0x80000000, 0x7)',
      'jump @1',
    ]);
  });
});

describe('builder layout', () => {
  it('lays out every instruction, with loop heads, tails and skips', () => {
    const p = guestProgram()
      .load(0x8000_1000, 4)
      .store(0x8000_1000, 2, -1)
      .touch(0x8000_2000)
      .psciCpuOn(1, 0x8000_0000, 9)
      .relinquish(0x8000_3000, 0x1000, 0b011)
      .repeat(3, (b) => b.onCpu(1, (c) => c.mmioRead(0x6000).expect(0xdeadf00d)).wfi())
      .systemReset()
      .systemOff()
      .cpuOff()
      .udf()
      .spin();
    const expected: GuestInstruction[] = [
      { op: 'load', addr: 0x8000_1000n, len: 4 },
      { op: 'store', addr: 0x8000_1000n, len: 2, value: 0xffff_ffff_ffff_ffffn },
      { op: 'touch', addr: 0x8000_2000n },
      { op: 'hvc', fn: 0xc400_0003, args: [1n, 0x8000_0000n, 9n] },
      { op: 'hvc', fn: 0xc600_8069, args: [0n, 0x8000_3000n, 0x1000n, 3n] },
      { op: 'repeat', count: 3n, end: 10 },
      { op: 'if-cpu', cpu: 1, skip: 9 },
      { op: 'mmio-read', addr: 0x6000n, len: 8 },
      { op: 'expect', value: 0xdeadf00dn },
      { op: 'wfi' },
      { op: 'end-repeat', start: 5 },
      { op: 'hvc', fn: 0x8400_0009, args: [] },
      { op: 'hvc', fn: 0x8400_0008, args: [] },
      { op: 'hvc', fn: 0x8400_0002, args: [] },
      { op: 'udf' },
      { op: 'spin' },
    ];
    expect(p.instructions()).toEqual(expected);
    expect(decodeGuestProgram(p.build()).instructions).toEqual(expected);
  });

  it('empty bodies: repeat emits nothing, forever becomes spin', () => {
    expect(guestProgram().repeat(5, () => {}).forever(() => {}).instructions()).toEqual([{ op: 'spin' }]);
  });

  it('rejects values that do not fit', () => {
    expect(() => guestProgram().mmioRead(0x6000, 3)).toThrow(RangeError);
    expect(() => guestProgram().load(-1)).toThrow(RangeError);
    expect(() => guestProgram().load(1n << 64n)).toThrow(RangeError);
    expect(() => guestProgram().hvc(0x1_0000_0000)).toThrow(RangeError);
    expect(() => guestProgram().hvc(1, 1, 2, 3, 4, 5, 6)).toThrow(RangeError);
    expect(() => guestProgram().expect(1.5)).toThrow(RangeError);
    expect(() => guestProgram().onCpu(-1, () => {})).toThrow(RangeError);
  });
});

const leaf: fc.Arbitrary<GuestInstruction> = fc.oneof(
  fc.record({ op: fc.constantFrom('load' as const, 'mmio-read' as const), addr: fc.bigInt({ min: 0n, max: (1n << 64n) - 1n }), len: fc.constantFrom(1 as const, 2 as const, 4 as const, 8 as const) }),
  fc.record({
    op: fc.constantFrom('store' as const, 'mmio-write' as const),
    addr: fc.bigInt({ min: 0n, max: (1n << 64n) - 1n }),
    len: fc.constantFrom(1 as const, 2 as const, 4 as const, 8 as const),
    value: fc.bigInt({ min: 0n, max: (1n << 64n) - 1n }),
  }),
  fc.record({ op: fc.constant('touch' as const), addr: fc.bigInt({ min: 0n, max: (1n << 64n) - 1n }) }),
  fc.record({ op: fc.constant('hvc' as const), fn: fc.nat({ max: 0xffff_ffff }), args: fc.array(fc.bigInt({ min: 0n, max: (1n << 64n) - 1n }), { maxLength: 5 }) }),
  fc.constantFrom<GuestInstruction>({ op: 'wfi' }, { op: 'spin' }, { op: 'udf' }),
  fc.record({ op: fc.constant('expect' as const), value: fc.bigInt({ min: 0n, max: (1n << 64n) - 1n }) }),
);

describe('round trip', () => {
  prop.prop([fc.array(leaf, { maxLength: 40 }), fc.nat({ max: 39 }), fc.nat({ max: 0xffff })])(
    'encode → decode is the identity (leaf ops wrapped in a repeat and an if-cpu)',
    (body, cut, cpu) => {
      const k = Math.min(cut, body.length);
      // [if-cpu][body[0..k)][repeat][body[k..)][end-repeat][jump 0]
      const inner = body.slice(k);
      const ins: GuestInstruction[] = [{ op: 'if-cpu', cpu, skip: 1 + k }, ...body.slice(0, k)];
      const head = ins.length;
      ins.push({ op: 'repeat', count: 2n, end: head + 1 + inner.length }, ...inner, { op: 'end-repeat', start: head }, { op: 'jump', target: 0 });
      expect(decodeGuestProgram(encodeGuestProgram(ins)).instructions).toEqual(ins);
    },
  );

  prop.prop([fc.integer({ min: 1, max: 4 }).chain((n) => fc.tuple(fc.constant(n), fc.uint8Array({ minLength: 48 * n, maxLength: 48 * n })))])(
    'the decoder only throws WireError (valid header, random instructions)',
    ([n, body]) => {
      const bytes = new Uint8Array(32 + body.length);
      bytes.set(GOLDEN.bytes.subarray(0, 32));
      bytes[12] = bytes.length; // length and count fit one byte for n ≤ 4
      bytes[16] = n;
      bytes.set(body, 32);
      // Make the opcode and reserved bytes plausible half of the time so the fuzz reaches the operand checks.
      for (let i = 0; i < n; i++) if (body[i * 48 + 2]! & 1) bytes.fill(0, 32 + i * 48 + 2, 32 + i * 48 + 4);
      try {
        decodeGuestProgram(bytes);
      } catch (e) {
        expect(e).toBeInstanceOf(WireError);
      }
    },
  );
});

describe('malformed images are rejected', () => {
  const mutate = (at: number, value: number): Uint8Array => {
    const b = GOLDEN.bytes.slice();
    b[at] = value;
    return b;
  };
  const cases: [string, Uint8Array, string][] = [
    ['bad magic', mutate(7, 0x48), 'bad-value'],
    ['version 2', mutate(8, 2), 'bad-value'],
    ['length not 32 + 48 × count', mutate(12, 0xb1), 'bad-value'],
    ['instruction size not 48', mutate(20, 0x31), 'bad-value'],
    ['reserved header bytes', mutate(24, 1), 'reserved'],
    ['truncated', GOLDEN.bytes.slice(0, 100), 'short'],
    ['shorter than the common header', GOLDEN.bytes.slice(0, 10), 'short'],
    ['unknown opcode', mutate(32, 0x7f), 'bad-value'],
    ['access length 3', mutate(33, 3), 'bad-value'],
    ['reserved instruction bytes', mutate(34, 1), 'reserved'],
    ['imm on a store', mutate(36, 1), 'reserved'],
    ['unused operand a2 of a store', mutate(32 + 24, 1), 'reserved'],
    ['hvc with 6 arguments', mutate(81, 6), 'bad-value'],
    ['hvc argument past argc', mutate(80 + 8 + 3 * 8, 1), 'reserved'],
    ['jump target past the end', mutate(132, 3), 'bad-value'],
    ['len on a jump', mutate(129, 1), 'reserved'],
  ];
  it.each(cases)('%s', (_name, bytes, reason) => {
    expect(() => decodeGuestProgram(bytes)).toThrow(WireError);
    try {
      decodeGuestProgram(bytes);
    } catch (e) {
      expect((e as WireError).reason).toBe(reason);
    }
  });

  it('loop heads and tails must name each other; if-cpu must skip forward', () => {
    const bad: GuestInstruction[][] = [
      [{ op: 'repeat', count: 1n, end: 1 }, { op: 'wfi' }],
      [{ op: 'wfi' }, { op: 'end-repeat', start: 0 }],
      [{ op: 'repeat', count: 1n, end: 2 }, { op: 'wfi' }, { op: 'end-repeat', start: 1 }],
      [{ op: 'wfi' }, { op: 'if-cpu', cpu: 0, skip: 1 }],
    ];
    for (const ins of bad) expect(() => decodeGuestProgram(encodeGuestProgram(ins))).toThrow(WireError);
  });
});
