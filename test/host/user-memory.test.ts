// User memory of the host process: malloc/free/peek/poke and the kernel's copy_{from,to}_user
// (DESIGN.md "Public contracts": a bad pointer gives EFAULT; src/host/user-memory.ts layout).
import { describe, it, expect } from 'vitest';
import { test as ftest, fc } from '@fast-check/vitest';
import { HOST_PAGE_SIZE, ProcessMemory, USER_BASE } from '../../src/host/user-memory.js';
import { isErrnoError } from '../../src/shared/errno.js';

const errCode = (f: () => unknown): string | undefined => {
  try {
    f();
  } catch (e) {
    return isErrnoError(e) ? e.code : `not errno: ${String(e)}`;
  }
  return undefined;
};
const PAGE = BigInt(HOST_PAGE_SIZE);

describe('ProcessMemory', () => {
  it('allocations are zeroed, page aligned, distinct and separated by a guard page', () => {
    const m = new ProcessMemory();
    const a = m.malloc(10);
    const b = m.malloc(HOST_PAGE_SIZE);
    const c = m.malloc(0);
    const d = m.malloc(1);
    expect(a).toBe(USER_BASE);
    expect(b).toBe(a + 2n * PAGE);
    expect(c).toBe(b + 2n * PAGE);
    expect(d).toBe(c + 2n * PAGE);
    expect([...m.peek(a, 10)]).toEqual(new Array(10).fill(0));
  });

  it('poke then peek round-trips, at any offset inside the allocation', () => {
    const m = new ProcessMemory();
    const p = m.malloc(16);
    m.poke(p + 3n, new Uint8Array([1, 2, 3]));
    expect([...m.peek(p, 8)]).toEqual([0, 0, 0, 1, 2, 3, 0, 0]);
    // peek returns a copy
    const got = m.peek(p, 16);
    got[0] = 99;
    expect(m.peek(p, 1)[0]).toBe(0);
  });

  it('EFAULT: null, before, just past the end, straddling the end, guard gap, freed', () => {
    const m = new ProcessMemory();
    const p = m.malloc(16);
    expect(errCode(() => m.peek(0n, 1))).toBe('EFAULT');
    expect(errCode(() => m.peek(p - 1n, 1))).toBe('EFAULT');
    expect(errCode(() => m.peek(p + 16n, 1))).toBe('EFAULT');
    expect(errCode(() => m.peek(p + 15n, 2))).toBe('EFAULT');
    expect(errCode(() => m.poke(p + 12n, new Uint8Array(5)))).toBe('EFAULT');
    expect(errCode(() => m.peek(p + PAGE, 1))).toBe('EFAULT');
    expect(m.peek(p + 15n, 1)).toHaveLength(1);
    m.free(p);
    expect(errCode(() => m.peek(p, 1))).toBe('EFAULT');
  });

  it('zero-length copies always succeed; malloc(0) gives a pointer with no accessible byte', () => {
    const m = new ProcessMemory();
    expect(m.copyFromUser(0xdeadn, 0)).toHaveLength(0);
    m.copyToUser(0xdeadn, new Uint8Array(0));
    const z = m.malloc(0);
    expect(errCode(() => m.peek(z, 1))).toBe('EFAULT');
  });

  it('free: only allocation starts; double free and interior pointers are EFAULT; free(0n) is a no-op', () => {
    const m = new ProcessMemory();
    const p = m.malloc(32);
    expect(errCode(() => m.free(p + 1n))).toBe('EFAULT');
    m.free(0n);
    m.free(p);
    expect(errCode(() => m.free(p))).toBe('EFAULT');
    expect(m.allocations()).toEqual([]);
  });

  it('addresses are never reused after free', () => {
    const m = new ProcessMemory();
    const p = m.malloc(8);
    m.free(p);
    const q = m.malloc(8);
    expect(q).not.toBe(p);
    expect(errCode(() => m.peek(p, 1))).toBe('EFAULT');
  });

  it('bad sizes: negative or fractional malloc is EINVAL, huge is ENOMEM', () => {
    const m = new ProcessMemory();
    expect(errCode(() => m.malloc(-1))).toBe('EINVAL');
    expect(errCode(() => m.malloc(1.5))).toBe('EINVAL');
    expect(errCode(() => m.malloc(2 ** 31))).toBe('ENOMEM');
    expect(errCode(() => m.peek(USER_BASE, -1))).toBe('EFAULT');
  });

  ftest.prop([
    fc.array(fc.integer({ min: 0, max: 3 * HOST_PAGE_SIZE }), { minLength: 1, maxLength: 6 }),
    fc.nat(),
    fc.integer({ min: -8, max: 3 * HOST_PAGE_SIZE + 8 }),
    fc.integer({ min: 1, max: 64 }),
  ])('an access succeeds exactly when it lies inside one allocation', (sizes, pick, off, len) => {
    const m = new ProcessMemory();
    const ptrs = sizes.map((s) => m.malloc(s));
    const i = pick % sizes.length;
    const ptr = ptrs[i]! + BigInt(off);
    // The model: some allocation holds every byte (an offset may land in a neighbour).
    const inside = ptrs.some((q, j) => ptr >= q && ptr + BigInt(len) <= q + BigInt(sizes[j]!));
    const result = errCode(() => m.poke(ptr, new Uint8Array(len).fill(7)));
    expect(result).toBe(inside ? undefined : 'EFAULT');
    if (inside) expect([...m.peek(ptr, len)]).toEqual(new Array(len).fill(7));
  });
});
