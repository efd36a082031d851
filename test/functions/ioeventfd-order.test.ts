// The ioeventfd ordering of uapi.md §8.14, as a hand-typed table over every branch of the rule
// (addr; len with "exactly one side 0 → equal"; datamatch flags "differ → equal"; data), the
// write lookup, and properties: antisymmetry, the lookup shortcut equals the general rule, and
// a table built with the EEXIST rule is totally ordered and matches each write at most once.
import { fc, test as fcTest } from '@fast-check/vitest';
import { describe, expect, it } from 'vitest';
import { compareIoeventfd, compareIoeventfdWrite, type IoeventfdKey } from '../../src/functions/ioeventfd-order.js';

const k = (addr: bigint, len: number, datamatch: boolean, data: bigint): IoeventfdKey => ({ addr, len, datamatch, data });
const X = 0x6000n;

describe('compareIoeventfd table (§8.14)', () => {
  const rows: Array<[string, IoeventfdKey, IoeventfdKey, -1 | 0 | 1]> = [
    // 1. addr decides first, whatever the rest says
    ['addr less', k(0x1000n, 4, true, 9n), k(0x2000n, 4, true, 1n), -1],
    ['addr greater', k(0x2000n, 0, false, 0n), k(0x1000n, 8, true, 5n), 1],
    ['addr compared unsigned (u64)', k(0xffff_ffff_ffff_f000n, 1, true, 0n), k(0x1000n, 1, true, 0n), 1],
    // 2. len
    ['both len 0, both plain: equal', k(X, 0, false, 0n), k(X, 0, false, 0n), 0],
    ['only a has len 0: equal', k(X, 0, false, 0n), k(X, 4, true, 3n), 0],
    ['only b has len 0: equal', k(X, 4, true, 3n), k(X, 0, false, 0n), 0],
    ['len 2 < 4', k(X, 2, true, 9n), k(X, 4, true, 1n), -1],
    ['len 8 > 4', k(X, 8, true, 1n), k(X, 4, true, 9n), 1],
    ['len 1 < 8', k(X, 1, false, 0n), k(X, 8, false, 0n), -1],
    // 3. datamatch flags, then data
    ['same len, datamatch differs (a set): equal', k(X, 4, true, 1n), k(X, 4, false, 0n), 0],
    ['same len, datamatch differs (b set): equal', k(X, 4, false, 7n), k(X, 4, true, 1n), 0],
    ['both datamatch, data less', k(X, 4, true, 1n), k(X, 4, true, 2n), -1],
    ['both datamatch, data equal', k(X, 4, true, 2n), k(X, 4, true, 2n), 0],
    ['both datamatch, data greater', k(X, 4, true, 3n), k(X, 4, true, 2n), 1],
    ['both datamatch, data compared unsigned', k(X, 8, true, 0xffff_ffff_ffff_ffffn), k(X, 8, true, 0n), 1],
    ['both plain, same len: data still compared', k(X, 4, false, 1n), k(X, 4, false, 2n), -1],
    ['both len 0, both datamatch: data compared', k(X, 0, true, 2n), k(X, 0, true, 1n), 1],
    ['both len 0, datamatch differs: equal', k(X, 0, true, 2n), k(X, 0, false, 1n), 0],
  ];
  it.each(rows)('%s', (_name, a, b, want) => {
    expect(compareIoeventfd(a, b)).toBe(want);
  });
});

describe('write lookup (§8.14: probe {addr, access len, datamatch: true, value})', () => {
  const rows: Array<[string, IoeventfdKey, bigint, number, bigint, -1 | 0 | 1]> = [
    ['plain handler takes any length and value', k(X, 0, false, 0n), X, 4, 123n, 0],
    ['plain handler, 1-byte write', k(X, 0, false, 0n), X, 1, 0n, 0],
    ['datamatch handler, same len and value', k(X, 4, true, 5n), X, 4, 5n, 0],
    ['datamatch handler, other value (mismatch)', k(X, 4, true, 5n), X, 4, 6n, -1],
    ['datamatch handler, smaller value', k(X, 4, true, 5n), X, 4, 4n, 1],
    ['datamatch handler, other length', k(X, 4, true, 5n), X, 2, 5n, 1],
    ['other address', k(X, 0, false, 0n), X + 1n, 4, 0n, -1],
    ['zero-length write against a datamatch handler', k(X, 4, true, 5n), X, 0, 5n, 0],
  ];
  it.each(rows)('%s', (_name, entry, addr, len, value, want) => {
    expect(compareIoeventfdWrite(entry, addr, len, value)).toBe(want);
    expect(compareIoeventfd(entry, { addr, len, datamatch: true, data: value })).toBe(want);
  });
});

const u64 = fc.bigInt({ min: 0n, max: 0xffff_ffff_ffff_ffffn });
const smallAddr = fc.constantFrom(0x6000n, 0x6004n, 0x7000n);
const anyKey = fc.record({
  addr: fc.oneof(smallAddr, u64),
  len: fc.constantFrom(0, 1, 2, 4, 8),
  datamatch: fc.boolean(),
  data: fc.oneof(fc.constantFrom(0n, 1n, 2n), u64),
});
/** A handler as bind makes it: plain (len 0, data 0) or DATAMATCH (len 1/2/4/8). */
const handler = fc.oneof(
  fc.record({ addr: smallAddr, len: fc.constant(0), datamatch: fc.constant(false), data: fc.constant(0n) }),
  fc.record({ addr: smallAddr, len: fc.constantFrom(1, 2, 4, 8), datamatch: fc.constant(true), data: fc.constantFrom(0n, 1n, 2n) }),
);

describe('properties', () => {
  fcTest.prop([anyKey, anyKey])('antisymmetric', (a, b) => {
    expect(compareIoeventfd(a, b) + compareIoeventfd(b, a)).toBe(0);
  });

  fcTest.prop([anyKey])('reflexive', (a) => {
    expect(compareIoeventfd(a, a)).toBe(0);
  });

  fcTest.prop([anyKey, fc.oneof(smallAddr, u64), fc.constantFrom(0, 1, 2, 4, 8), u64])(
    'the write shortcut equals the general rule',
    (e, addr, len, value) => {
      expect(compareIoeventfdWrite(e, addr, len, value)).toBe(compareIoeventfd(e, { addr, len, datamatch: true, data: value }));
    },
  );

  fcTest.prop([fc.array(handler, { maxLength: 24 }), smallAddr, fc.constantFrom(1, 2, 4, 8), fc.constantFrom(0n, 1n, 2n, 3n)])(
    'a table built with the EEXIST rule is totally ordered and matches a write at most once',
    (candidates, addr, len, value) => {
      const table: IoeventfdKey[] = [];
      for (const c of candidates) if (!table.some((t) => compareIoeventfd(t, c) === 0)) table.push(c);
      for (const a of table) for (const b of table) if (a !== b) expect(compareIoeventfd(a, b)).not.toBe(0);
      for (const a of table)
        for (const b of table)
          for (const c of table)
            if (compareIoeventfd(a, b) < 0 && compareIoeventfd(b, c) < 0) expect(compareIoeventfd(a, c)).toBe(-1);
      expect(table.filter((e) => compareIoeventfdWrite(e, addr, len, value) === 0).length).toBeLessThanOrEqual(1);
    },
  );
});
