/**
 * AnonMemFile.page(index, allocate): a look at a page of the shmem file behind an anonymous
 * mapping without a host touch (no fault-in, no SIGBUS), as the host bridge daemon syncs its
 * backing files (docs/host-bridge-protocol.md "Guest memory"), next to the host access through the
 * mapping that the same pages answer with SigbusError once lent (host-page-walk.ts).
 *
 * Reference: README.md §Dialects (gh_ memory: host user memory lent to a VM), vmm-flows.md §6.7
 * and Q12 (a lent page is SIGBUS to the host), uapi.md §6.4 (pages zero-filled on first touch).
 */
import { describe, expect, it } from 'vitest';
import { AnonMemFile } from '../../src/vm-mgr/anon-memory.js';
import { fakeHostMemory } from '../support/fake-host-memory.js';
import { SigbusError } from '../../src/shared/sigbus-error.js';
import { expectGhClean, GH, ghSetUp } from './gh/support.js';

const PAGE = 4096;
const BASE_PA = 0x10_0000;

/** Physical memory and the host's view of it: pages in `revoked` are not the host's any more. */
const machine = () => fakeHostMemory({ base: BASE_PA, pages: 8 });

/** A 4-page shmem file mapped at user address 0x7000_0000. */
function setup() {
  const m = machine();
  const file = new AnonMemFile({ pages: m.pages, hyp: m.hyp }, 4 * PAGE);
  const map = file.mmap(4 * PAGE, 0, 0x7000_0000n);
  return { ...m, file, map };
}

describe('AnonMemFile.page(index, false): no fault-in', () => {
  it('a page never touched is undefined and stays unallocated; pageCount is the file size in pages', () => {
    const { file, pages } = setup();
    expect(file.pageCount).toBe(4);
    expect([0, 1, 2, 3].map((i) => file.page(i, false))).toEqual([undefined, undefined, undefined, undefined]);
    expect(file.allocatedPages).toBe(0);
    expect(pages.inUse).toBe(0);
  });

  it('a page written through the mapping: its physical address, holding what was written', () => {
    const { file, map, hyp } = setup();
    map.write(PAGE + 10, Uint8Array.of(0xaa, 0xbb));
    const pa = file.page(1, false);
    expect(pa).toBeTypeOf('number');
    expect(pa! % PAGE).toBe(0);
    expect([...hyp.readMemory(pa! + 10, 2)]).toEqual([0xaa, 0xbb]);
    expect(file.page(0, false)).toBeUndefined(); // its neighbours were not touched
    expect(file.allocatedPages).toBe(1);
  });

  it('a lent page: the address is given with no exception and no probe; the hypervisor says the host may not read it; the mapping is SIGBUS', () => {
    const { file, map, hyp, revoked, calls } = setup();
    map.write(2 * PAGE, Uint8Array.of(7));
    const pa = file.page(2, false)!;
    revoked.add(pa);
    calls.probe = 0;
    expect(file.page(2, false)).toBe(pa);
    expect(calls.probe).toBe(0); // page() itself checks nothing
    expect(hyp.probeMemory(pa, PAGE, 'read')).toBe('unmapped');
    let err: unknown;
    try {
      map.read(2 * PAGE + 5, 1);
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(SigbusError);
    expect((err as SigbusError).address).toBe(0x7000_0000n + BigInt(2 * PAGE + 5));
  });

  it('beyond the file, or not a page index: undefined, with or without allocate, and nothing is allocated', () => {
    const { file } = setup();
    for (const i of [4, 5, -1, 1.5, Number.NaN]) {
      expect(file.page(i, false)).toBeUndefined();
      expect(file.page(i, true)).toBeUndefined();
    }
    expect(file.allocatedPages).toBe(0);
  });

  it('after release the pages are gone from the file: undefined', () => {
    const { file, map, pages } = setup();
    map.write(0, Uint8Array.of(1));
    expect(file.page(0, false)).toBeDefined();
    file.release();
    expect(file.page(0, false)).toBeUndefined();
    expect(pages.inUse).toBe(0);
  });
});

describe('AnonMemFile.page(index, true)', () => {
  it('allocates a zeroed page once: the same address again, and the mapping then reads that page', () => {
    const { file, map, hyp } = setup();
    const pa = file.page(3, true)!;
    expect(file.allocatedPages).toBe(1);
    expect(file.page(3, true)).toBe(pa);
    expect(file.page(3, false)).toBe(pa);
    expect(file.allocatedPages).toBe(1);
    expect([...hyp.readMemory(pa, 4)]).toEqual([0, 0, 0, 0]);
    hyp.writeMemory(pa + 100, Uint8Array.of(9));
    expect([...map.read(3 * PAGE + 100, 1)]).toEqual([9]);
  });

  it('out of pages: ENOMEM', () => {
    const m = machine();
    const big = new AnonMemFile({ pages: m.pages, hyp: m.hyp }, 16 * PAGE);
    for (let i = 0; i < 8; i++) big.page(i, true);
    expect(() => big.page(8, true)).toThrow(expect.objectContaining({ code: 'ENOMEM' }));
    big.release();
  });
});

describe('gh_ end to end: a lent region seen without a touch', () => {
  it('before START every page is the host\'s; after START page() still answers with no exception, the hypervisor refuses the host, the mapping is SIGBUS; after teardown nothing is left', async () => {
    const s = await ghSetUp({ lend: true, pages: 4 });
    const emu = s.t.emu;
    const file = emu.host.liveMappings().find((x) => x.addr === s.mem.addr)?.file;
    expect(file).toBeInstanceOf(AnonMemFile);
    const shmem = file as AnonMemFile;
    // The region's pin faulted every page in; all are the host's until START.
    const pas = [0, 1, 2, 3].map((i) => shmem.page(i, false));
    expect(pas.every((pa) => typeof pa === 'number')).toBe(true);
    for (const pa of pas) expect(emu.hyp.host.probeMemory(pa!, PAGE, 'read')).toBeUndefined();
    const image = s.mem.read(0, 16);
    expect([...emu.hyp.host.readMemory(pas[0]!, 16)]).toEqual([...image]);
    await s.v.ioctl(s.vm, 'START', GH.START);
    for (let i = 0; i < 4; i++) {
      expect(shmem.page(i, false)).toBe(pas[i]); // same pages, no fault-in, no throw
      expect(emu.hyp.host.probeMemory(pas[i]!, PAGE, 'read')).not.toBeUndefined();
      expect(emu.hyp.host.probeMemory(pas[i]!, PAGE, 'write')).not.toBeUndefined();
    }
    expect(() => s.mem.read(3 * PAGE, 1)).toThrow(SigbusError);
    await expectGhClean(s.t);
  });
});
