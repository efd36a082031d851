// The MMIO benchmark's guest, forever(mmioRead(0x6000, 8)), driven a million times: every op
// is the same pre-built object (no per-op allocation) and the heap does not grow with the count.
// No timing assertions.
import { describe, expect, it } from 'vitest';
import { bootGuest, guestProgram, type GuestCpu, type GuestOp } from '../../src/guest/index.js';

describe('program engine memory', () => {
  it('a forever loop yields a million ops without growing memory', () => {
    const image = guestProgram().forever((p) => p.mmioRead(0x6000, 8)).build();
    const cpu = { index: 0, entry: 0x8000_0000, context: 0n, bootRegs: new Map(), vmShared: new Map(), fetched: new Uint8Array() as Uint8Array };
    const t = bootGuest(cpu as GuestCpu);
    let r = t.next(0n);
    expect(r.value).toEqual({ kind: 'fetch', addr: 0x8000_0000, len: 16 });
    cpu.fetched = image.subarray(0, 16);
    r = t.next(0n);
    expect(r.value).toEqual({ kind: 'fetch', addr: 0x8000_0000, len: image.length });
    cpu.fetched = image;
    const first = t.next(0n).value as GuestOp;
    expect(first).toEqual({ kind: 'load', addr: 0x6000, len: 8 });

    const heapBefore = process.memoryUsage().heapUsed;
    let same = 0;
    for (let i = 0; i < 1_000_000; i++) {
      if (t.next(BigInt(i & 0xff)).value === first) same++;
    }
    const grown = process.memoryUsage().heapUsed - heapBefore;
    expect(same).toBe(1_000_000);
    // Iterator results are short-lived garbage; a leak of even 16 bytes per op would be 16 MB.
    expect(grown).toBeLessThan(64 * 1024 * 1024);
  });
});
