// Tests of the hypervisor memory model (src/hyp/memory) against hypervisor.md §8: extents owning
// memory (memdb), donate, addrspace map/unmap/lookup, stage-2 checked access, ZERO_RANGE, and the
// invariants; plus a property test against a page-granular reference model.
import { describe, test, expect } from 'vitest';
import { test as fcTest, fc } from '@fast-check/vitest';
import {
  Access,
  PAGE_SIZE,
  MemFault,
  createMemoryModel,
  isMemFault,
  type AccessKind,
  type MemFaultInfo,
  type MemoryModel,
  type MemoryModelOptions,
} from '../../src/hyp/memory/index.js';
import { isHypError, type HypErrorName } from '../../src/shared/hyp-errors.js';

const P = PAGE_SIZE;
const GiB = 2 ** 30;

/** The HypError code `f` throws (the test fails if it throws anything else or returns). */
function hypCode(f: () => unknown): HypErrorName {
  try {
    f();
  } catch (e) {
    if (isHypError(e)) return e.code;
    throw e;
  }
  throw new Error('expected a HypError, call returned');
}

/** The MemFault info `f` throws. */
function faultOf(f: () => unknown): MemFaultInfo {
  try {
    f();
  } catch (e) {
    if (isMemFault(e)) return e.info;
    throw e;
  }
  throw new Error('expected a MemFault, call returned');
}

/** A model with one host extent owning RAM [0, ramPages) mapped 1:1 RWX into VM 3. */
function hostModel(ramPages = 64, opts: MemoryModelOptions = {}): { mm: MemoryModel; hlos: number } {
  const mm = createMemoryModel(opts);
  const hlos = mm.createExtent(3, 'hlos');
  mm.addRam(hlos, 0, ramPages * P);
  mm.map(3, hlos, 0, 0, ramPages * P, Access.RWX);
  return { mm, hlos };
}

const bytes = (...b: number[]): Uint8Array => Uint8Array.from(b);

describe('extents and RAM', () => {
  test('createExtent returns distinct ids; extents() summarises them', () => {
    const mm = createMemoryModel();
    const a = mm.createExtent(3, 'hlos');
    const b = mm.createExtent(45, 'parcel 0');
    expect(a).not.toBe(b);
    mm.addRam(a, 0x8000_0000, 16 * P);
    expect(mm.extents()).toEqual([
      { id: a, ownerVmid: 3, bytes: 16 * P, runs: 1, mappings: 0, label: 'hlos' },
      { id: b, ownerVmid: 45, bytes: 0, runs: 0, mappings: 0, label: 'parcel 0' },
    ]);
    expect(mm.checkInvariants()).toEqual([]);
  });

  test('addRam: touching ranges of one extent merge into one run', () => {
    const mm = createMemoryModel();
    const a = mm.createExtent(3, 'hlos');
    mm.addRam(a, 4 * P, 4 * P);
    mm.addRam(a, 0, 4 * P);
    mm.addRam(a, 8 * P, 4 * P);
    expect(mm.runsOf(a)).toEqual([{ pa: 0, size: 12 * P }]);
    expect(mm.stats().runs).toBe(1);
  });

  test.each<[string, number, number, HypErrorName]>([
    ['overlapping RAM', 2 * P, 4 * P, 'ERROR_ALLOCATOR_RANGE_OVERLAPPING'],
    ['RAM inside RAM', 4 * P, P, 'ERROR_ALLOCATOR_RANGE_OVERLAPPING'],
    ['a misaligned address', 100 * P + 1, P, 'ERROR_ARGUMENT_ALIGNMENT'],
    ['a misaligned size', 100 * P, P + 8, 'ERROR_ARGUMENT_ALIGNMENT'],
    ['size 0', 100 * P, 0, 'ERROR_ARGUMENT_SIZE'],
    ['a negative address', -P, P, 'ERROR_ARGUMENT_INVALID'],
    ['a fractional size', 100 * P, 1.5, 'ERROR_ARGUMENT_INVALID'],
    ['an end beyond maxPa', 1020 * P, 8 * P, 'ERROR_ADDR_INVALID'],
    ['an end beyond 2^52', 2 ** 52 - P, 2 * P, 'ERROR_ADDR_OVERFLOW'],
  ])('addRam rejects %s', (_name, pa, size, code) => {
    const mm = createMemoryModel({ maxPa: 1024 * P });
    const a = mm.createExtent(3, 'hlos');
    mm.addRam(a, 0, 8 * P);
    expect(hypCode(() => mm.addRam(a, pa, size))).toBe(code);
    expect(mm.runsOf(a)).toEqual([{ pa: 0, size: 8 * P }]);
  });

  test('an unknown extent is ERROR_ARGUMENT_INVALID everywhere', () => {
    const mm = createMemoryModel();
    const a = mm.createExtent(3, 'x');
    expect(hypCode(() => mm.addRam(99, 0, P))).toBe('ERROR_ARGUMENT_INVALID');
    expect(hypCode(() => mm.donate(99, a, 0, P))).toBe('ERROR_ARGUMENT_INVALID');
    expect(hypCode(() => mm.donate(a, 99, 0, P))).toBe('ERROR_ARGUMENT_INVALID');
    expect(hypCode(() => mm.map(3, 99, 0, 0, P, Access.RW))).toBe('ERROR_ARGUMENT_INVALID');
    expect(hypCode(() => mm.unmap(3, 99, 0, P))).toBe('ERROR_ARGUMENT_INVALID');
    expect(hypCode(() => mm.unmapAll(99))).toBe('ERROR_ARGUMENT_INVALID');
    expect(hypCode(() => mm.runsOf(99))).toBe('ERROR_ARGUMENT_INVALID');
    expect(hypCode(() => mm.lookup(3, 99, 0, P))).toBe('ERROR_ARGUMENT_INVALID');
    expect(hypCode(() => mm.destroyExtent(99))).toBe('ERROR_ARGUMENT_INVALID');
  });

  test('destroyExtent refuses an extent with memory or mappings (ERROR_OBJECT_STATE)', () => {
    const mm = createMemoryModel();
    const a = mm.createExtent(3, 'a');
    const b = mm.createExtent(3, 'b');
    mm.addRam(a, 0, 4 * P);
    expect(hypCode(() => mm.destroyExtent(a))).toBe('ERROR_OBJECT_STATE');
    mm.map(3, b, 0, 0, 4 * P, Access.RW);
    expect(hypCode(() => mm.destroyExtent(b))).toBe('ERROR_OBJECT_STATE');
    mm.unmapAll(b);
    mm.destroyExtent(b);
    expect(mm.extents().map((x) => x.id)).toEqual([a]);
    expect(hypCode(() => mm.destroyExtent(b))).toBe('ERROR_ARGUMENT_INVALID');
    expect(mm.checkInvariants()).toEqual([]);
  });

  test('extentOf: the single owner of a range, else undefined', () => {
    const mm = createMemoryModel();
    const a = mm.createExtent(3, 'a');
    const b = mm.createExtent(3, 'b');
    mm.addRam(a, 0, 8 * P);
    mm.donate(a, b, 4 * P, 4 * P);
    expect(mm.extentOf(0, 4 * P)).toBe(a);
    expect(mm.extentOf(4 * P + 7, 10)).toBe(b);
    expect(mm.extentOf(3 * P, 2 * P)).toBeUndefined();
    expect(mm.extentOf(8 * P, P)).toBeUndefined();
    expect(mm.extentOf(0, 0)).toBeUndefined();
  });

  test('runsOf: all runs, or those inside a range, clipped', () => {
    const mm = createMemoryModel();
    const a = mm.createExtent(3, 'a');
    const b = mm.createExtent(3, 'b');
    mm.addRam(a, 0, 16 * P);
    mm.donate(a, b, 4 * P, 2 * P);
    mm.donate(a, b, 10 * P, 2 * P);
    expect(mm.runsOf(a)).toEqual([
      { pa: 0, size: 4 * P },
      { pa: 6 * P, size: 4 * P },
      { pa: 12 * P, size: 4 * P },
    ]);
    expect(mm.runsOf(b, { pa: 5 * P, size: 6 * P })).toEqual([
      { pa: 5 * P, size: P },
      { pa: 10 * P, size: P },
    ]);
    expect(mm.runsOf(a, { pa: 4 * P, size: 2 * P })).toEqual([]);
  });

  test('ownership sums bytes per owner VM', () => {
    const mm = createMemoryModel();
    const h = mm.createExtent(3, 'hlos');
    const h2 = mm.createExtent(3, 'hlos 2');
    const g = mm.createExtent(45, 'guest');
    mm.addRam(h, 0, 16 * P);
    mm.addRam(h2, 32 * P, 4 * P);
    mm.donate(h, g, 0, 6 * P);
    expect(mm.ownership()).toEqual(
      new Map([
        [3, 14 * P],
        [45, 6 * P],
      ]),
    );
  });

  test('createMemoryModel validates its options', () => {
    expect(() => createMemoryModel({ maxPa: 1000 })).toThrow(RangeError);
    expect(() => createMemoryModel({ maxIpa: 2 ** 53 })).toThrow(RangeError);
    expect(() => createMemoryModel({ maxAddrspacesPerExtent: 0 })).toThrow(RangeError);
  });
});

describe('donate (memextent_donate)', () => {
  test('moves a range, splitting the source run, and merges it back on return', () => {
    const mm = createMemoryModel();
    const a = mm.createExtent(3, 'a');
    const b = mm.createExtent(3, 'b');
    mm.addRam(a, 0, 16 * P);
    mm.donate(a, b, 4 * P, 4 * P);
    expect(mm.stats().runs).toBe(3);
    expect(mm.runsOf(b)).toEqual([{ pa: 4 * P, size: 4 * P }]);
    mm.donate(a, b, 8 * P, 2 * P); // touches b's run: merged
    expect(mm.runsOf(b)).toEqual([{ pa: 4 * P, size: 6 * P }]);
    mm.donate(b, a, 4 * P, 6 * P);
    expect(mm.runsOf(a)).toEqual([{ pa: 0, size: 16 * P }]);
    expect(mm.stats().runs).toBe(1);
    expect(mm.checkInvariants()).toEqual([]);
  });

  test('ERROR_MEMDB_NOT_OWNER unless the source owns every byte', () => {
    const mm = createMemoryModel();
    const a = mm.createExtent(3, 'a');
    const b = mm.createExtent(3, 'b');
    const c = mm.createExtent(3, 'c');
    mm.addRam(a, 0, 8 * P);
    mm.addRam(a, 12 * P, 4 * P); // a hole at [8, 12)
    mm.donate(a, b, 2 * P, P);
    expect(hypCode(() => mm.donate(c, b, 0, P))).toBe('ERROR_MEMDB_NOT_OWNER');
    expect(hypCode(() => mm.donate(a, c, 0, 4 * P))).toBe('ERROR_MEMDB_NOT_OWNER');
    expect(hypCode(() => mm.donate(a, c, 6 * P, 8 * P))).toBe('ERROR_MEMDB_NOT_OWNER');
    expect(hypCode(() => mm.donate(a, c, 8 * P, P))).toBe('ERROR_MEMDB_NOT_OWNER');
    expect(hypCode(() => mm.donate(a, c, 100 * P, P))).toBe('ERROR_MEMDB_NOT_OWNER');
    expect(mm.extents().map((x) => x.bytes)).toEqual([11 * P, P, 0]);
  });

  test('argument errors', () => {
    const mm = createMemoryModel({ maxPa: 64 * P });
    const a = mm.createExtent(3, 'a');
    const b = mm.createExtent(3, 'b');
    mm.addRam(a, 0, 16 * P);
    expect(hypCode(() => mm.donate(a, a, 0, P))).toBe('ERROR_ARGUMENT_INVALID');
    expect(hypCode(() => mm.donate(a, b, 1, P))).toBe('ERROR_ARGUMENT_ALIGNMENT');
    expect(hypCode(() => mm.donate(a, b, 0, 0))).toBe('ERROR_ARGUMENT_SIZE');
    expect(hypCode(() => mm.donate(a, b, 60 * P, 8 * P))).toBe('ERROR_ADDR_INVALID');
  });

  test('a 64 GiB donate costs one run, like a 4 KiB one', () => {
    const mm = createMemoryModel();
    const a = mm.createExtent(3, 'a');
    const b = mm.createExtent(3, 'b');
    mm.addRam(a, 0, 64 * GiB);
    mm.donate(a, b, 0, 64 * GiB);
    expect(mm.stats().runs).toBe(1);
    expect(mm.runsOf(b)).toEqual([{ pa: 0, size: 64 * GiB }]);
    expect(mm.extents()[1]!.bytes).toBe(64 * GiB);
  });

  test('thousands of runs: chunk splits and merges keep the memdb consistent', () => {
    // More runs than one index chunk holds (256), then merged back in a scrambled order.
    const mm = createMemoryModel();
    const a = mm.createExtent(3, 'a');
    const b = mm.createExtent(3, 'b');
    const pages = 4096;
    mm.addRam(a, 0, pages * P);
    const order: number[] = [];
    for (let i = 1; i < pages; i += 2) order.push(i);
    for (const i of order) mm.donate(a, b, i * P, P);
    expect(mm.stats().runs).toBe(pages);
    expect(mm.checkInvariants()).toEqual([]);
    expect(mm.runsOf(b)).toHaveLength(pages / 2);
    // Give back in a stride order so that merges happen at chunk edges and in the middle.
    const back = [...order].sort((x, y) => ((x * 2654435761) % 4093) - ((y * 2654435761) % 4093));
    back.forEach((i, k) => {
      mm.donate(b, a, i * P, P);
      if (k % 97 === 0) expect(mm.checkInvariants()).toEqual([]);
    });
    expect(mm.stats().runs).toBe(1);
    expect(mm.runsOf(a)).toEqual([{ pa: 0, size: pages * P }]);
    expect(mm.checkInvariants()).toEqual([]);
  });
});

describe('map, unmap, translate, lookup (addrspace_*)', () => {
  test('map then translate; holes are absent', () => {
    const mm = createMemoryModel();
    const a = mm.createExtent(3, 'a');
    mm.addRam(a, 0x1000_0000, 8 * P);
    mm.map(5, a, 0x8000_0000, 0x1000_0000, 4 * P, Access.RW);
    expect(mm.translate(5, 0x8000_0000 - P, 6 * P)).toEqual([
      { ipa: 0x8000_0000, pa: 0x1000_0000, size: 4 * P, rights: Access.RW, extent: a },
    ]);
    expect(mm.translate(5, 0x8000_0010, 8)).toEqual([
      { ipa: 0x8000_0010, pa: 0x1000_0010, size: 8, rights: Access.RW, extent: a },
    ]);
    expect(mm.translate(6, 0x8000_0000, P)).toEqual([]);
    expect(mm.translate(5, 0x8000_0000, 0)).toEqual([]);
  });

  test('a mapping reaches only the PAs its extent owns now (lend and reclaim)', () => {
    const { mm, hlos } = hostModel(16);
    const parcel = mm.createExtent(3, 'parcel');
    mm.write(3, 4 * P, bytes(1, 2, 3, 4));
    mm.donate(hlos, parcel, 4 * P, 2 * P); // LEND: the owner loses access at once
    expect(faultOf(() => mm.read(3, 4 * P, 4))).toEqual({ vmid: 3, ipa: 4 * P, kind: 'read', reason: 'unmapped' });
    expect(mm.translate(3, 0, 16 * P).map((t) => [t.ipa / P, t.size / P])).toEqual([
      [0, 4],
      [6, 10],
    ]);
    mm.map(45, parcel, 0x8000_0000, 4 * P, 2 * P, Access.RW); // the borrower's ACCEPT
    expect(mm.read(45, 0x8000_0000, 4)).toEqual(bytes(1, 2, 3, 4));
    mm.write(45, 0x8000_0000, bytes(9));
    mm.unmap(45, parcel, 0x8000_0000, 2 * P); // RELEASE
    mm.donate(parcel, hlos, 4 * P, 2 * P); // RECLAIM: access comes back, data kept
    expect(mm.read(3, 4 * P, 4)).toEqual(bytes(9, 2, 3, 4));
    expect(mm.mappingsOf(3)).toEqual([{ vmid: 3, ipa: 0, pa: 0, size: 16 * P, rights: Access.RWX, extent: hlos }]);
    expect(mm.checkInvariants()).toEqual([]);
  });

  test('map may name PAs the extent does not own (yet)', () => {
    const mm = createMemoryModel();
    const a = mm.createExtent(3, 'a');
    const b = mm.createExtent(45, 'b');
    mm.addRam(a, 0, 8 * P);
    mm.map(45, b, 0, 0, 8 * P, Access.R);
    expect(mm.translate(45, 0, 8 * P)).toEqual([]);
    mm.donate(a, b, 2 * P, P);
    expect(mm.translate(45, 0, 8 * P)).toEqual([{ ipa: 2 * P, pa: 2 * P, size: P, rights: Access.R, extent: b }]);
  });

  test('ERROR_EXISTING_MAPPING when the IPA range overlaps a mapping', () => {
    const mm = createMemoryModel();
    const a = mm.createExtent(3, 'a');
    mm.map(3, a, 4 * P, 0, 4 * P, Access.RW);
    expect(hypCode(() => mm.map(3, a, 7 * P, 0, 2 * P, Access.RW))).toBe('ERROR_EXISTING_MAPPING');
    expect(hypCode(() => mm.map(3, a, 0, 0, 5 * P, Access.RW))).toBe('ERROR_EXISTING_MAPPING');
    expect(hypCode(() => mm.map(3, a, 5 * P, 0, P, Access.RW))).toBe('ERROR_EXISTING_MAPPING');
    mm.map(3, a, 8 * P, 100 * P, P, Access.RW); // touching is fine
    mm.map(4, a, 4 * P, 0, 4 * P, Access.RW); // another address space is fine
    expect(mm.stats().mappings).toBe(3);
  });

  test.each<[string, () => [number, number, number, number], HypErrorName]>([
    ['rights 0', () => [0, 0, P, 0], 'ERROR_ARGUMENT_INVALID'],
    ['rights 8', () => [0, 0, P, 8], 'ERROR_ARGUMENT_INVALID'],
    ['a misaligned IPA', () => [8, 0, P, 6], 'ERROR_ARGUMENT_ALIGNMENT'],
    ['a misaligned PA', () => [0, 8, P, 6], 'ERROR_ARGUMENT_ALIGNMENT'],
    ['size 0', () => [0, 0, 0, 6], 'ERROR_ARGUMENT_SIZE'],
    ['an IPA beyond maxIpa', () => [128 * P, 0, P, 6], 'ERROR_ADDR_INVALID'],
    ['a PA beyond maxPa', () => [0, 64 * P, P, 6], 'ERROR_ADDR_INVALID'],
  ])('map rejects %s', (_name, args, code) => {
    const mm = createMemoryModel({ maxPa: 64 * P, maxIpa: 128 * P });
    const a = mm.createExtent(3, 'a');
    const [ipa, pa, size, rights] = args();
    expect(hypCode(() => mm.map(3, a, ipa, pa, size, rights))).toBe(code);
    expect(mm.stats().mappings).toBe(0);
  });

  test('an extent maps into at most 4 address spaces (ERROR_MEMEXTENT_MAPPINGS_FULL)', () => {
    const mm = createMemoryModel();
    const a = mm.createExtent(3, 'a');
    for (const vm of [1, 2, 3, 4]) mm.map(vm, a, 0, 0, P, Access.RW);
    mm.map(4, a, 8 * P, 8 * P, P, Access.RW); // more in a space it already uses
    expect(hypCode(() => mm.map(5, a, 0, 0, P, Access.RW))).toBe('ERROR_MEMEXTENT_MAPPINGS_FULL');
    mm.unmap(1, a, 0, P);
    mm.map(5, a, 0, 0, P, Access.RW);
    const wide = createMemoryModel({ maxAddrspacesPerExtent: Infinity });
    const w = wide.createExtent(3, 'w');
    for (let vm = 0; vm < 10; vm++) wide.map(vm, w, 0, 0, P, Access.R);
    expect(wide.extents()[0]!.mappings).toBe(10);
  });

  test('map merges with mappings it continues (same extent, rights, IPA and PA)', () => {
    const mm = createMemoryModel();
    const a = mm.createExtent(3, 'a');
    const b = mm.createExtent(3, 'b');
    mm.map(3, a, 0, 0, 2 * P, Access.RW);
    mm.map(3, a, 4 * P, 4 * P, 2 * P, Access.RW);
    mm.map(3, a, 2 * P, 2 * P, 2 * P, Access.RW);
    expect(mm.mappingsOf(3)).toEqual([{ vmid: 3, ipa: 0, pa: 0, size: 6 * P, rights: Access.RW, extent: a }]);
    mm.map(3, a, 6 * P, 6 * P, P, Access.R); // other rights: kept apart
    mm.map(3, a, 7 * P, 9 * P, P, Access.R); // PA not contiguous: kept apart
    mm.map(3, b, 8 * P, 10 * P, P, Access.R); // other extent: kept apart
    expect(mm.mappingsOf(3)).toHaveLength(4);
    expect(mm.extents().map((x) => x.mappings)).toEqual([3, 1]);
  });

  test('unmap splits a mapping and removes exactly the range', () => {
    const mm = createMemoryModel();
    const a = mm.createExtent(3, 'a');
    mm.map(3, a, 0x10_0000, 0x20_0000, 8 * P, Access.RX);
    mm.unmap(3, a, 0x10_0000 + 2 * P, 3 * P);
    expect(mm.mappingsOf(3)).toEqual([
      { vmid: 3, ipa: 0x10_0000, pa: 0x20_0000, size: 2 * P, rights: Access.RX, extent: a },
      { vmid: 3, ipa: 0x10_0000 + 5 * P, pa: 0x20_0000 + 5 * P, size: 3 * P, rights: Access.RX, extent: a },
    ]);
    mm.unmap(3, a, 0x10_0000, 2 * P);
    mm.unmap(3, a, 0x10_0000 + 5 * P, 3 * P);
    expect(mm.mappingsOf(3)).toEqual([]);
    expect(mm.checkInvariants()).toEqual([]);
  });

  test('unmap may span several mappings of the extent', () => {
    const mm = createMemoryModel();
    const a = mm.createExtent(3, 'a');
    mm.map(3, a, 0, 0, 2 * P, Access.RW);
    mm.map(3, a, 2 * P, 10 * P, 2 * P, Access.RW);
    mm.map(3, a, 4 * P, 20 * P, 2 * P, Access.R);
    mm.unmap(3, a, P, 4 * P);
    expect(mm.mappingsOf(3).map((m) => [m.ipa / P, m.pa / P, m.size / P])).toEqual([
      [0, 0, 1],
      [5, 21, 1],
    ]);
  });

  test('unmap is ERROR_ADDR_INVALID, and changes nothing, unless all of the range is mapped from the extent', () => {
    const mm = createMemoryModel();
    const a = mm.createExtent(3, 'a');
    const b = mm.createExtent(3, 'b');
    mm.map(3, a, 0, 0, 4 * P, Access.RW);
    mm.map(3, b, 4 * P, 4 * P, 4 * P, Access.RW);
    mm.map(3, a, 10 * P, 10 * P, 2 * P, Access.RW);
    const before = mm.mappingsOf(3);
    expect(hypCode(() => mm.unmap(3, a, 2 * P, 4 * P))).toBe('ERROR_ADDR_INVALID'); // runs into b's
    expect(hypCode(() => mm.unmap(3, a, 8 * P, 3 * P))).toBe('ERROR_ADDR_INVALID'); // starts in a hole
    expect(hypCode(() => mm.unmap(3, a, 10 * P, 3 * P))).toBe('ERROR_ADDR_INVALID'); // ends in a hole
    expect(hypCode(() => mm.unmap(3, b, 0, P))).toBe('ERROR_ADDR_INVALID'); // a's
    expect(hypCode(() => mm.unmap(9, a, 0, P))).toBe('ERROR_ADDR_INVALID'); // no such address space
    expect(hypCode(() => mm.unmap(3, a, 1, P))).toBe('ERROR_ARGUMENT_ALIGNMENT');
    expect(hypCode(() => mm.unmap(3, a, 0, 0))).toBe('ERROR_ARGUMENT_SIZE');
    expect(mm.mappingsOf(3)).toEqual(before);
  });

  test('unmapAll removes the extent from every address space', () => {
    const mm = createMemoryModel();
    const a = mm.createExtent(3, 'a');
    const b = mm.createExtent(3, 'b');
    mm.map(3, a, 0, 0, P, Access.RW);
    mm.map(3, a, 4 * P, 0, P, Access.RW);
    mm.map(7, a, 0, 0, P, Access.RW);
    mm.map(7, b, P, 0, P, Access.RW);
    mm.unmapAll(a);
    expect(mm.mappingsOf(3)).toEqual([]);
    expect(mm.mappingsOf(7).map((m) => m.extent)).toEqual([b]);
    expect(mm.extents().map((x) => x.mappings)).toEqual([0, 1]);
    expect(mm.checkInvariants()).toEqual([]);
  });

  test('translate splits at ownership changes and at mapping edges', () => {
    const { mm, hlos } = hostModel(16);
    const p = mm.createExtent(3, 'parcel');
    mm.donate(hlos, p, 3 * P, P);
    mm.map(3, p, 32 * P, 3 * P, P, Access.R);
    expect(mm.translate(3, 2 * P, 31 * P)).toEqual([
      { ipa: 2 * P, pa: 2 * P, size: P, rights: Access.RWX, extent: hlos },
      { ipa: 4 * P, pa: 4 * P, size: 12 * P, rights: Access.RWX, extent: hlos },
      { ipa: 32 * P, pa: 3 * P, size: P, rights: Access.R, extent: p },
    ]);
  });

  test('lookup (addrspace_lookup): the contiguous piece at an IPA and its errors', () => {
    const { mm, hlos } = hostModel(16);
    const p = mm.createExtent(3, 'parcel');
    mm.donate(hlos, p, 8 * P, 2 * P);
    expect(mm.lookup(3, hlos, 2 * P, 4 * P)).toEqual({ pa: 2 * P, size: 4 * P, rights: Access.RWX });
    expect(mm.lookup(3, hlos, 6 * P, 8 * P)).toEqual({ pa: 6 * P, size: 2 * P, rights: Access.RWX });
    expect(hypCode(() => mm.lookup(3, hlos, 8 * P, P))).toBe('ERROR_ADDR_INVALID'); // lent away
    expect(hypCode(() => mm.lookup(3, hlos, 20 * P, P))).toBe('ERROR_ADDR_INVALID'); // not mapped
    mm.map(3, p, 20 * P, 8 * P, 2 * P, Access.RW);
    expect(hypCode(() => mm.lookup(3, hlos, 20 * P, P))).toBe('ERROR_MEMDB_NOT_OWNER'); // another extent's
    expect(mm.lookup(3, p, 20 * P, 4 * P)).toEqual({ pa: 8 * P, size: 2 * P, rights: Access.RW });
    expect(hypCode(() => mm.lookup(3, hlos, 0, 0))).toBe('ERROR_ARGUMENT_SIZE');
    expect(hypCode(() => mm.lookup(3, hlos, 12, P))).toBe('ERROR_ARGUMENT_ALIGNMENT');
  });
});

describe('stage-2 checked access', () => {
  test('write then read back, spanning pages', () => {
    const { mm } = hostModel(8);
    const data = Uint8Array.from({ length: 3 * P }, (_, i) => (i * 7 + 1) & 0xff);
    mm.write(3, P - 5, data);
    expect(mm.read(3, P - 5, data.length)).toEqual(data);
    expect(mm.read(3, P - 6, 1)).toEqual(bytes(0));
    expect(mm.readPhys(P - 5, 4)).toEqual(data.subarray(0, 4));
  });

  test('an access spanning two mappings with non-contiguous PAs', () => {
    const mm = createMemoryModel();
    const a = mm.createExtent(3, 'a');
    mm.addRam(a, 0, 16 * P);
    mm.map(3, a, 0, 8 * P, P, Access.RW);
    mm.map(3, a, P, 2 * P, P, Access.RW);
    mm.write(3, P - 2, bytes(1, 2, 3, 4));
    expect(mm.readPhys(9 * P - 2, 2)).toEqual(bytes(1, 2));
    expect(mm.readPhys(2 * P, 2)).toEqual(bytes(3, 4));
    expect(mm.read(3, P - 2, 4)).toEqual(bytes(1, 2, 3, 4));
  });

  test('unmapped: no mapping, with the first faulting IPA', () => {
    const { mm } = hostModel(4);
    expect(faultOf(() => mm.read(3, 4 * P - 2, 4))).toEqual({ vmid: 3, ipa: 4 * P, kind: 'read', reason: 'unmapped' });
    expect(faultOf(() => mm.write(9, 0, bytes(1)))).toEqual({ vmid: 9, ipa: 0, kind: 'write', reason: 'unmapped' });
  });

  test('permission: mapped without the right', () => {
    const mm = createMemoryModel();
    const a = mm.createExtent(3, 'a');
    mm.addRam(a, 0, 4 * P);
    mm.map(3, a, 0, 0, P, Access.RW);
    mm.map(3, a, P, P, P, Access.R);
    mm.map(3, a, 2 * P, 2 * P, P, Access.X);
    expect(faultOf(() => mm.write(3, P - 1, bytes(1, 2)))).toEqual({ vmid: 3, ipa: P, kind: 'write', reason: 'permission' });
    expect(faultOf(() => mm.read(3, 2 * P, 1))).toEqual({ vmid: 3, ipa: 2 * P, kind: 'read', reason: 'permission' });
    expect(mm.check(3, 0, P, 'exec')).toEqual({ vmid: 3, ipa: 0, kind: 'exec', reason: 'permission' });
    expect(mm.check(3, 2 * P, P, 'exec')).toBeUndefined();
    expect(mm.check(3, 0, 2 * P, 'read')).toBeUndefined();
    expect(mm.check(3, 0, 4 * P, 'read')).toEqual({ vmid: 3, ipa: 2 * P, kind: 'read', reason: 'permission' });
    expect(mm.check(3, 3 * P, 1, 'read')).toEqual({ vmid: 3, ipa: 3 * P, kind: 'read', reason: 'unmapped' });
  });

  test('a faulting write changes nothing', () => {
    const { mm } = hostModel(2);
    expect(faultOf(() => mm.write(3, 2 * P - 2, bytes(1, 2, 3)))).toMatchObject({ ipa: 2 * P, reason: 'unmapped' });
    expect(mm.readPhys(2 * P - 2, 2)).toEqual(bytes(0, 0));
    expect(mm.stats().contentPages).toBe(0);
  });

  test('zero-length accesses succeed and touch nothing', () => {
    const mm = createMemoryModel();
    expect(mm.read(3, 0, 0)).toEqual(new Uint8Array(0));
    mm.write(3, 0, new Uint8Array(0));
    expect(mm.check(3, 0, 0, 'write')).toBeUndefined();
  });

  test('bad access arguments are ERROR_ARGUMENT_INVALID', () => {
    const { mm } = hostModel(2);
    expect(hypCode(() => mm.read(3, -1, 1))).toBe('ERROR_ARGUMENT_INVALID');
    expect(hypCode(() => mm.read(3, 0.5, 1))).toBe('ERROR_ARGUMENT_INVALID');
    expect(hypCode(() => mm.translate(3, 0, -1))).toBe('ERROR_ARGUMENT_INVALID');
  });

  test('MemFault is an Error carrying its info', () => {
    const f = new MemFault({ vmid: 3, ipa: 0x1234, kind: 'write', reason: 'permission' });
    expect(f).toBeInstanceOf(Error);
    expect(f.name).toBe('MemFault');
    expect(f.message).toContain('0x1234');
    expect(isMemFault(f, 'permission')).toBe(true);
    expect(isMemFault(f, 'unmapped')).toBe(false);
    expect(isMemFault(new Error('x'))).toBe(false);
  });
});

describe('physical access and content', () => {
  test('unwritten memory reads as zero; writePhys/readPhys round trip', () => {
    const mm = createMemoryModel();
    const a = mm.createExtent(3, 'a');
    mm.addRam(a, 0x4000_0000, 64 * GiB);
    expect(mm.readPhys(0x4000_0000 + 40 * GiB, 16)).toEqual(new Uint8Array(16));
    mm.writePhys(0x4000_0000 + 40 * GiB - 3, bytes(1, 2, 3, 4, 5, 6));
    expect(mm.readPhys(0x4000_0000 + 40 * GiB - 3, 6)).toEqual(bytes(1, 2, 3, 4, 5, 6));
    expect(mm.stats().contentPages).toBe(2);
  });

  test('physical access outside RAM is ERROR_ADDR_INVALID', () => {
    const mm = createMemoryModel();
    const a = mm.createExtent(3, 'a');
    mm.addRam(a, 0, 4 * P);
    mm.addRam(a, 8 * P, 4 * P);
    expect(hypCode(() => mm.readPhys(4 * P - 1, 2))).toBe('ERROR_ADDR_INVALID');
    expect(hypCode(() => mm.writePhys(6 * P, bytes(1)))).toBe('ERROR_ADDR_INVALID');
    expect(hypCode(() => mm.zero(0, 8 * P))).toBe('ERROR_ADDR_INVALID');
    expect(mm.readPhys(4 * P - 1, 0)).toEqual(new Uint8Array(0));
  });

  test('RAM that spans extents is still RAM for physical access', () => {
    const mm = createMemoryModel();
    const a = mm.createExtent(3, 'a');
    const b = mm.createExtent(3, 'b');
    mm.addRam(a, 0, 4 * P);
    mm.addRam(b, 4 * P, 4 * P);
    mm.writePhys(4 * P - 1, bytes(7, 8));
    expect(mm.readPhys(4 * P - 1, 2)).toEqual(bytes(7, 8));
  });

  test('zero (ZERO_RANGE) clears bytes and drops their pages', () => {
    const { mm } = hostModel(8);
    mm.write(3, P + 10, bytes(1, 2, 3));
    mm.write(3, 5 * P, bytes(4));
    expect(mm.stats().contentPages).toBe(2);
    mm.zero(0, 4 * P);
    expect(mm.read(3, P + 10, 3)).toEqual(bytes(0, 0, 0));
    expect(mm.read(3, 5 * P, 1)).toEqual(bytes(4));
    expect(mm.stats().contentPages).toBe(1);
    expect(hypCode(() => mm.zero(1, P))).toBe('ERROR_ARGUMENT_ALIGNMENT');
    expect(hypCode(() => mm.zero(0, 0))).toBe('ERROR_ARGUMENT_SIZE');
  });

  test('zeroing a huge untouched range is cheap and exact', () => {
    const mm = createMemoryModel();
    const a = mm.createExtent(3, 'a');
    mm.addRam(a, 0, 64 * GiB);
    mm.writePhys(10 * GiB, bytes(1));
    mm.writePhys(63 * GiB, bytes(2));
    mm.zero(0, 32 * GiB);
    expect(mm.readPhys(10 * GiB, 1)).toEqual(bytes(0));
    expect(mm.readPhys(63 * GiB, 1)).toEqual(bytes(2));
    expect(mm.stats().contentPages).toBe(1);
  });

  test('zeros written to unwritten memory store nothing; a whole-page zero write drops the page', () => {
    const { mm } = hostModel(4);
    mm.write(3, 0, new Uint8Array(100));
    expect(mm.stats().contentPages).toBe(0);
    mm.write(3, P, bytes(5));
    expect(mm.stats().contentPages).toBe(1);
    mm.write(3, P, new Uint8Array(P));
    expect(mm.stats().contentPages).toBe(0);
    expect(mm.read(3, P, 1)).toEqual(bytes(0));
  });

  test('content follows the PA through donations', () => {
    const { mm, hlos } = hostModel(4);
    const g = mm.createExtent(45, 'guest');
    mm.write(3, 2 * P, bytes(0xaa, 0xbb));
    mm.donate(hlos, g, 2 * P, P);
    mm.map(45, g, 0, 2 * P, P, Access.RW);
    expect(mm.read(45, 0, 2)).toEqual(bytes(0xaa, 0xbb));
  });
});

// ---------------------------------------------------------------------------------------------
// Property test: random operation sequences against a page-granular reference model.

const PA_PAGES = 96; // maxPa; RAM is added inside it, some of it stays a hole
const RAM_PAGES = 64; // RAM the host extent starts with
const IPA_PAGES = 128; // maxIpa
const VMIDS = [1, 2, 3] as const;
const MAX_SPACES = 2; // maxAddrspacesPerExtent, small so that the limit is reached

type Outcome = { ok: unknown } | { err: HypErrorName } | { fault: MemFaultInfo };

function outcome(f: () => unknown): Outcome {
  try {
    return { ok: f() };
  } catch (e) {
    if (isHypError(e)) return { err: e.code };
    if (isMemFault(e)) return { fault: e.info };
    throw e;
  }
}

interface RefMapping {
  pa: number; // page
  rights: number;
  extent: number;
}

/** The reference: everything per page (or per byte), as plainly as possible. */
class RefModel {
  readonly extents = new Map<number, { vmid: number }>();
  readonly owner: Array<number | undefined> = new Array<number | undefined>(PA_PAGES).fill(undefined);
  readonly spaces = new Map<number, Array<RefMapping | undefined>>();
  readonly mem = new Uint8Array(PA_PAGES * P);

  space(vmid: number): Array<RefMapping | undefined> {
    let s = this.spaces.get(vmid);
    if (!s) this.spaces.set(vmid, (s = new Array<RefMapping | undefined>(IPA_PAGES).fill(undefined)));
    return s;
  }

  known(e: number): boolean {
    return this.extents.has(e);
  }

  /** Page ranges: the model's checks for page-aligned arguments in range of the limits. */
  static rangeErr(page: number, n: number, limit: number): HypErrorName | undefined {
    return page + n > limit ? 'ERROR_ADDR_INVALID' : undefined;
  }

  spacesOf(e: number): Set<number> {
    const out = new Set<number>();
    for (const [vmid, s] of this.spaces) if (s.some((m) => m?.extent === e)) out.add(vmid);
    return out;
  }

  /** The fault of a byte access, or undefined. */
  faultAt(vmid: number, ipa: number, kind: AccessKind): MemFaultInfo | undefined {
    const ip = Math.floor(ipa / P);
    const m = ip < IPA_PAGES ? this.spaces.get(vmid)?.[ip] : undefined;
    if (!m || this.owner[m.pa] !== m.extent) return { vmid, ipa, kind, reason: 'unmapped' };
    const right = kind === 'read' ? Access.R : kind === 'write' ? Access.W : Access.X;
    if ((m.rights & right) === 0) return { vmid, ipa, kind, reason: 'permission' };
    return undefined;
  }

  paOf(vmid: number, ipa: number): number {
    const m = this.spaces.get(vmid)![Math.floor(ipa / P)]!;
    return m.pa * P + (ipa % P);
  }

  check(vmid: number, ipa: number, len: number, kind: AccessKind): MemFaultInfo | undefined {
    for (let b = ipa; b < ipa + len; b++) {
      const f = this.faultAt(vmid, b, kind);
      if (f) return f;
    }
    return undefined;
  }

  /** Effective translation, one entry per page. */
  translatePages(vmid: number): string[] {
    const out: string[] = [];
    const s = this.spaces.get(vmid);
    if (!s) return out;
    s.forEach((m, ip) => {
      if (m && this.owner[m.pa] === m.extent) out.push(`${ip}->${m.pa} r${m.rights} e${m.extent}`);
    });
    return out;
  }

  recordedPages(vmid: number): string[] {
    const out: string[] = [];
    this.spaces.get(vmid)?.forEach((m, ip) => {
      if (m) out.push(`${ip}->${m.pa} r${m.rights} e${m.extent}`);
    });
    return out;
  }

  /** Maximal runs of pages owned by e. */
  runsOf(e: number): Array<{ pa: number; size: number }> {
    const out: Array<{ pa: number; size: number }> = [];
    for (let p = 0; p < PA_PAGES; p++) {
      if (this.owner[p] !== e) continue;
      const last = out[out.length - 1];
      if (last && last.pa + last.size === p * P) last.size += P;
      else out.push({ pa: p * P, size: P });
    }
    return out;
  }

  /** Number of maximal mapping records of e (contiguous IPA and PA, same rights). */
  mappingCount(e: number): number {
    let n = 0;
    for (const s of this.spaces.values()) {
      for (let ip = 0; ip < IPA_PAGES; ip++) {
        const m = s[ip];
        if (m?.extent !== e) continue;
        const prev = ip > 0 ? s[ip - 1] : undefined;
        if (!(prev && prev.extent === e && prev.rights === m.rights && prev.pa + 1 === m.pa)) n++;
      }
    }
    return n;
  }

  ownership(): Map<number, number> {
    const out = new Map<number, number>();
    for (const e of this.owner) {
      if (e === undefined) continue;
      const vm = this.extents.get(e)!.vmid;
      out.set(vm, (out.get(vm) ?? 0) + P);
    }
    return out;
  }
}

type Cmd =
  | { op: 'create'; vmid: number }
  | { op: 'destroy'; e: number }
  | { op: 'addRam'; e: number; page: number; n: number }
  | { op: 'donate'; from: number; to: number; page: number; n: number }
  | { op: 'map'; vmid: number; e: number; ipa: number; pa: number; n: number; rights: number }
  | { op: 'unmap'; vmid: number; e: number; ipa: number; n: number }
  | { op: 'unmapAll'; e: number }
  | { op: 'write'; vmid: number; ipa: number; len: number; seed: number }
  | { op: 'read'; vmid: number; ipa: number; len: number }
  | { op: 'check'; vmid: number; ipa: number; len: number; kind: AccessKind }
  | { op: 'zero'; page: number; n: number }
  | { op: 'writePhys'; pa: number; len: number; seed: number }
  | { op: 'lookup'; vmid: number; e: number; ipa: number; n: number }
  | { op: 'extentOf'; pa: number; len: number }
  // Picks: resolved against the reference's state into one of the commands above, so that
  // sequences reach successful donates, unmaps and accesses often, not only by luck.
  | { op: 'donatePick'; pick: number; to: number; n: number }
  | { op: 'unmapPick'; vmid: number; pick: number; n: number }
  | { op: 'lookupPick'; vmid: number; pick: number; n: number; other: boolean }
  | { op: 'accessPick'; vmid: number; pick: number; off: number; len: number; write: boolean; seed: number };

const vmidArb = fc.constantFrom(...VMIDS);
/** Extent picks are indices into the list of ids created so far (out of range: an unknown id). */
const extArb = fc.nat({ max: 4 });
const pagesArb = fc.integer({ min: 1, max: 12 });
const byteSpan = fc.integer({ min: 1, max: 2 * P + 10 });

const cmdArb: fc.Arbitrary<Cmd> = fc.oneof(
  { arbitrary: fc.record({ op: fc.constant('create' as const), vmid: vmidArb }), weight: 2 },
  { arbitrary: fc.record({ op: fc.constant('destroy' as const), e: extArb }), weight: 1 },
  {
    arbitrary: fc.record({ op: fc.constant('addRam' as const), e: extArb, page: fc.nat({ max: PA_PAGES - 1 }), n: pagesArb }),
    weight: 2,
  },
  {
    arbitrary: fc.record({
      op: fc.constant('donate' as const),
      from: extArb,
      to: extArb,
      page: fc.nat({ max: PA_PAGES - 1 }),
      n: pagesArb,
    }),
    weight: 5,
  },
  {
    arbitrary: fc.record({
      op: fc.constant('map' as const),
      vmid: vmidArb,
      e: extArb,
      ipa: fc.nat({ max: IPA_PAGES - 1 }),
      pa: fc.nat({ max: PA_PAGES - 1 }),
      n: pagesArb,
      rights: fc.integer({ min: 0, max: 8 }),
    }),
    weight: 5,
  },
  {
    arbitrary: fc.record({
      op: fc.constant('unmap' as const),
      vmid: vmidArb,
      e: extArb,
      ipa: fc.nat({ max: IPA_PAGES - 1 }),
      n: pagesArb,
    }),
    weight: 3,
  },
  { arbitrary: fc.record({ op: fc.constant('unmapAll' as const), e: extArb }), weight: 1 },
  {
    arbitrary: fc.record({
      op: fc.constant('write' as const),
      vmid: vmidArb,
      ipa: fc.nat({ max: IPA_PAGES * P - 1 }),
      len: byteSpan,
      seed: fc.nat({ max: 255 }),
    }),
    weight: 4,
  },
  {
    arbitrary: fc.record({ op: fc.constant('read' as const), vmid: vmidArb, ipa: fc.nat({ max: IPA_PAGES * P - 1 }), len: byteSpan }),
    weight: 4,
  },
  {
    arbitrary: fc.record({
      op: fc.constant('check' as const),
      vmid: vmidArb,
      ipa: fc.nat({ max: IPA_PAGES * P - 1 }),
      len: byteSpan,
      kind: fc.constantFrom<AccessKind>('read', 'write', 'exec'),
    }),
    weight: 2,
  },
  { arbitrary: fc.record({ op: fc.constant('zero' as const), page: fc.nat({ max: PA_PAGES - 1 }), n: pagesArb }), weight: 1 },
  {
    arbitrary: fc.record({
      op: fc.constant('writePhys' as const),
      pa: fc.nat({ max: PA_PAGES * P - 1 }),
      len: byteSpan,
      seed: fc.nat({ max: 255 }),
    }),
    weight: 1,
  },
  {
    arbitrary: fc.record({
      op: fc.constant('lookup' as const),
      vmid: vmidArb,
      e: extArb,
      ipa: fc.nat({ max: IPA_PAGES - 1 }),
      n: pagesArb,
    }),
    weight: 2,
  },
  {
    arbitrary: fc.record({ op: fc.constant('extentOf' as const), pa: fc.nat({ max: PA_PAGES * P - 1 }), len: byteSpan }),
    weight: 1,
  },
  {
    arbitrary: fc.record({ op: fc.constant('donatePick' as const), pick: fc.nat(), to: fc.nat({ max: 3 }), n: pagesArb }),
    weight: 6,
  },
  {
    arbitrary: fc.record({ op: fc.constant('unmapPick' as const), vmid: vmidArb, pick: fc.nat(), n: fc.integer({ min: 1, max: 4 }) }),
    weight: 3,
  },
  {
    arbitrary: fc.record({
      op: fc.constant('lookupPick' as const),
      vmid: vmidArb,
      pick: fc.nat(),
      n: pagesArb,
      other: fc.boolean(),
    }),
    weight: 2,
  },
  {
    arbitrary: fc.record({
      op: fc.constant('accessPick' as const),
      vmid: vmidArb,
      pick: fc.nat(),
      off: fc.nat({ max: P - 1 }),
      len: fc.integer({ min: 1, max: 2 * P }),
      write: fc.boolean(),
      seed: fc.nat({ max: 255 }),
    }),
    weight: 6,
  },
);

/** Turn a pick into a concrete command, looking at the reference (undefined: nothing to pick). */
function resolve(ref: RefModel, ids: number[], c: Cmd): Cmd | undefined {
  switch (c.op) {
    case 'donatePick': {
      const owned = ref.owner.flatMap((e, p) => (e === undefined ? [] : [p]));
      if (owned.length === 0) return undefined;
      const page = owned[c.pick % owned.length]!;
      const from = ids.indexOf(ref.owner[page]!);
      return { op: 'donate', from, to: c.to, page, n: c.n };
    }
    case 'unmapPick': {
      const s = ref.spaces.get(c.vmid) ?? [];
      const mapped = s.flatMap((m, ip) => (m === undefined ? [] : [ip]));
      if (mapped.length === 0) return undefined;
      const ipa = mapped[c.pick % mapped.length]!;
      return { op: 'unmap', vmid: c.vmid, e: ids.indexOf(s[ipa]!.extent), ipa, n: c.n };
    }
    case 'lookupPick': {
      const s = ref.spaces.get(c.vmid) ?? [];
      const mapped = s.flatMap((m, ip) => (m === undefined ? [] : [ip]));
      if (mapped.length === 0) return undefined;
      const ipa = mapped[c.pick % mapped.length]!;
      const e = ids.indexOf(s[ipa]!.extent);
      return { op: 'lookup', vmid: c.vmid, e: c.other ? (e + 1) % ids.length : e, ipa, n: c.n };
    }
    case 'accessPick': {
      const s = ref.spaces.get(c.vmid) ?? [];
      const mapped = s.flatMap((m, ip) => (m === undefined ? [] : [ip]));
      if (mapped.length === 0) return undefined;
      const ipa = mapped[c.pick % mapped.length]! * P + c.off;
      return c.write
        ? { op: 'write', vmid: c.vmid, ipa, len: c.len, seed: c.seed }
        : { op: 'read', vmid: c.vmid, ipa, len: c.len };
    }
    default:
      return c;
  }
}

/** Deterministic bytes for a write: never all zero, so that writes are visible. */
function pattern(len: number, seed: number): Uint8Array {
  return Uint8Array.from({ length: len }, (_, i) => ((i * 31 + seed) % 255) + 1);
}

/** Apply `c` to the reference; returns the expected outcome. */
function refApply(ref: RefModel, ids: number[], c: Cmd): Outcome {
  const ext = (i: number): number => ids[i] ?? 1000 + i;
  const unknown: Outcome = { err: 'ERROR_ARGUMENT_INVALID' };
  switch (c.op) {
    case 'create':
      return { ok: undefined }; // handled by the caller (it needs the real id)
    case 'destroy': {
      const e = ext(c.e);
      if (!ref.known(e)) return unknown;
      if (ref.owner.includes(e) || ref.spacesOf(e).size > 0) return { err: 'ERROR_OBJECT_STATE' };
      ref.extents.delete(e);
      return { ok: undefined };
    }
    case 'addRam': {
      const e = ext(c.e);
      if (!ref.known(e)) return unknown;
      const r = RefModel.rangeErr(c.page, c.n, PA_PAGES);
      if (r) return { err: r };
      for (let p = c.page; p < c.page + c.n; p++) if (ref.owner[p] !== undefined) return { err: 'ERROR_ALLOCATOR_RANGE_OVERLAPPING' };
      for (let p = c.page; p < c.page + c.n; p++) ref.owner[p] = e;
      return { ok: undefined };
    }
    case 'donate': {
      const from = ext(c.from);
      const to = ext(c.to);
      if (!ref.known(from) || !ref.known(to)) return unknown;
      const r = RefModel.rangeErr(c.page, c.n, PA_PAGES);
      if (r) return { err: r };
      if (from === to) return unknown;
      for (let p = c.page; p < c.page + c.n; p++) if (ref.owner[p] !== from) return { err: 'ERROR_MEMDB_NOT_OWNER' };
      for (let p = c.page; p < c.page + c.n; p++) ref.owner[p] = to;
      return { ok: undefined };
    }
    case 'map': {
      const e = ext(c.e);
      if (!ref.known(e)) return unknown;
      const r = RefModel.rangeErr(c.ipa, c.n, IPA_PAGES) ?? RefModel.rangeErr(c.pa, c.n, PA_PAGES);
      if (r) return { err: r };
      if (c.rights < 1 || c.rights > 7) return unknown;
      const s = ref.space(c.vmid);
      for (let i = c.ipa; i < c.ipa + c.n; i++) if (s[i]) return { err: 'ERROR_EXISTING_MAPPING' };
      const used = ref.spacesOf(e);
      if (!used.has(c.vmid) && used.size >= MAX_SPACES) return { err: 'ERROR_MEMEXTENT_MAPPINGS_FULL' };
      for (let k = 0; k < c.n; k++) s[c.ipa + k] = { pa: c.pa + k, rights: c.rights, extent: e };
      return { ok: undefined };
    }
    case 'unmap': {
      const e = ext(c.e);
      if (!ref.known(e)) return unknown;
      const r = RefModel.rangeErr(c.ipa, c.n, IPA_PAGES);
      if (r) return { err: r };
      const s = ref.spaces.get(c.vmid);
      for (let i = c.ipa; i < c.ipa + c.n; i++) if (s?.[i]?.extent !== e) return { err: 'ERROR_ADDR_INVALID' };
      for (let i = c.ipa; i < c.ipa + c.n; i++) s![i] = undefined;
      return { ok: undefined };
    }
    case 'unmapAll': {
      const e = ext(c.e);
      if (!ref.known(e)) return unknown;
      for (const s of ref.spaces.values()) for (let i = 0; i < IPA_PAGES; i++) if (s[i]?.extent === e) s[i] = undefined;
      return { ok: undefined };
    }
    case 'write': {
      const f = ref.check(c.vmid, c.ipa, c.len, 'write');
      if (f) return { fault: f };
      const data = pattern(c.len, c.seed);
      for (let k = 0; k < c.len; k++) ref.mem[ref.paOf(c.vmid, c.ipa + k)] = data[k]!;
      return { ok: undefined };
    }
    case 'read': {
      const f = ref.check(c.vmid, c.ipa, c.len, 'read');
      if (f) return { fault: f };
      return { ok: Uint8Array.from({ length: c.len }, (_, k) => ref.mem[ref.paOf(c.vmid, c.ipa + k)]!) };
    }
    case 'check':
      return { ok: ref.check(c.vmid, c.ipa, c.len, c.kind) };
    case 'zero': {
      const r = RefModel.rangeErr(c.page, c.n, PA_PAGES);
      if (r) return { err: r };
      for (let p = c.page; p < c.page + c.n; p++) if (ref.owner[p] === undefined) return { err: 'ERROR_ADDR_INVALID' };
      ref.mem.fill(0, c.page * P, (c.page + c.n) * P);
      return { ok: undefined };
    }
    case 'writePhys': {
      const last = Math.floor((c.pa + c.len - 1) / P);
      for (let p = Math.floor(c.pa / P); p <= last; p++) {
        if (p >= PA_PAGES || ref.owner[p] === undefined) return { err: 'ERROR_ADDR_INVALID' };
      }
      ref.mem.set(pattern(c.len, c.seed), c.pa);
      return { ok: undefined };
    }
    case 'lookup': {
      const e = ext(c.e);
      if (!ref.known(e)) return unknown;
      const r = RefModel.rangeErr(c.ipa, c.n, IPA_PAGES);
      if (r) return { err: r };
      const s = ref.spaces.get(c.vmid);
      const m = s?.[c.ipa];
      if (!m || ref.owner[m.pa] !== m.extent) return { err: 'ERROR_ADDR_INVALID' };
      if (m.extent !== e) return { err: 'ERROR_MEMDB_NOT_OWNER' };
      let k = 1;
      while (k < c.n) {
        const q = s![c.ipa + k];
        if (!(q && q.extent === e && q.rights === m.rights && q.pa === m.pa + k && ref.owner[q.pa] === e)) break;
        k++;
      }
      return { ok: { pa: m.pa * P, size: k * P, rights: m.rights } };
    }
    case 'donatePick':
    case 'unmapPick':
    case 'lookupPick':
    case 'accessPick':
      throw new Error('picks are resolved first');
    case 'extentOf': {
      const first = Math.floor(c.pa / P);
      const last = Math.floor((c.pa + c.len - 1) / P);
      const o = first < PA_PAGES ? ref.owner[first] : undefined;
      for (let p = first; p <= last; p++) if (p >= PA_PAGES || ref.owner[p] !== o) return { ok: undefined };
      return { ok: o };
    }
  }
}

/** Apply `c` to the model under test. */
function realApply(mm: MemoryModel, ids: number[], c: Cmd): Outcome {
  const ext = (i: number): number => ids[i] ?? 1000 + i;
  switch (c.op) {
    case 'create':
      return outcome(() => undefined);
    case 'destroy':
      return outcome(() => mm.destroyExtent(ext(c.e)));
    case 'addRam':
      return outcome(() => mm.addRam(ext(c.e), c.page * P, c.n * P));
    case 'donate':
      return outcome(() => mm.donate(ext(c.from), ext(c.to), c.page * P, c.n * P));
    case 'map':
      return outcome(() => mm.map(c.vmid, ext(c.e), c.ipa * P, c.pa * P, c.n * P, c.rights));
    case 'unmap':
      return outcome(() => mm.unmap(c.vmid, ext(c.e), c.ipa * P, c.n * P));
    case 'unmapAll':
      return outcome(() => mm.unmapAll(ext(c.e)));
    case 'write':
      return outcome(() => mm.write(c.vmid, c.ipa, pattern(c.len, c.seed)));
    case 'read':
      return outcome(() => mm.read(c.vmid, c.ipa, c.len));
    case 'check':
      return outcome(() => mm.check(c.vmid, c.ipa, c.len, c.kind));
    case 'zero':
      return outcome(() => mm.zero(c.page * P, c.n * P));
    case 'writePhys':
      return outcome(() => mm.writePhys(c.pa, pattern(c.len, c.seed)));
    case 'lookup':
      return outcome(() => mm.lookup(c.vmid, ext(c.e), c.ipa * P, c.n * P));
    case 'extentOf':
      return outcome(() => mm.extentOf(c.pa, c.len));
    case 'donatePick':
    case 'unmapPick':
    case 'lookupPick':
    case 'accessPick':
      throw new Error('picks are resolved first');
  }
}

/** An outcome and the state after it, as a value and as comparable text (bytes in hex). */
function observe(o: Outcome, state: () => object): { value: object; text: string } {
  const value = { outcome: o, state: state() };
  const text = JSON.stringify(value, (_k, v: unknown) => (v instanceof Uint8Array ? Buffer.from(v).toString('hex') : v));
  return { value, text };
}

/** Page expansion of translation pieces. */
function pagesOf(pieces: ReadonlyArray<{ ipa: number; pa: number; size: number; rights: number; extent: number }>): string[] {
  const out: string[] = [];
  for (const t of pieces) {
    for (let k = 0; k < t.size / P; k++) out.push(`${t.ipa / P + k}->${t.pa / P + k} r${t.rights} e${t.extent}`);
  }
  return out;
}

describe('property: random sequences match a page-granular reference', () => {
  fcTest.prop([fc.array(cmdArb, { minLength: 10, maxLength: 80, size: 'max' })], { numRuns: 300 })(
    'every observable result matches and the invariants hold',
    (cmds) => {
      const mm = createMemoryModel({ maxPa: PA_PAGES * P, maxIpa: IPA_PAGES * P, maxAddrspacesPerExtent: MAX_SPACES });
      const ref = new RefModel();
      const ids: number[] = [];
      // Start as a host does: its extent owns 64 pages of RAM (the rest of maxPa is a hole),
      // mapped 1:1 RWX in VM 3; two guest extents exist.
      const setup: Cmd[] = [
        { op: 'create', vmid: 3 },
        { op: 'create', vmid: 1 },
        { op: 'create', vmid: 2 },
        { op: 'addRam', e: 0, page: 0, n: RAM_PAGES },
        { op: 'map', vmid: 3, e: 0, ipa: 0, pa: 0, n: RAM_PAGES, rights: Access.RWX },
      ];
      for (const [step, picked] of [...setup, ...cmds].entries()) {
        const c = resolve(ref, ids, picked);
        if (c === undefined) continue;
        const where = `step ${step}: ${JSON.stringify(c)}`;
        if (c.op === 'create') {
          const id = mm.createExtent(c.vmid, `e${ids.length}`);
          ids.push(id);
          ref.extents.set(id, { vmid: c.vmid });
          continue;
        }
        const want = refApply(ref, ids, c);
        const got = realApply(mm, ids, c);
        // Compare as strings first (fast); let expect() show the difference only on a mismatch.
        const obsGot = observe(got, () => ({
          translate: VMIDS.map((vmid) => pagesOf(mm.translate(vmid, 0, IPA_PAGES * P))),
          mappings: VMIDS.map((vmid) => pagesOf(mm.mappingsOf(vmid))),
          ownership: [...mm.ownership()].sort(),
          extents: mm.extents().map((x) => [x.id, x.bytes, x.runs, x.mappings, mm.runsOf(x.id)]),
          invariants: mm.checkInvariants(),
        }));
        const obsWant = observe(want, () => ({
          translate: VMIDS.map((vmid) => ref.translatePages(vmid)),
          mappings: VMIDS.map((vmid) => ref.recordedPages(vmid)),
          ownership: [...ref.ownership()].sort(),
          extents: [...ref.extents.keys()].map((id) => {
            const runs = ref.runsOf(id);
            const bytes = runs.reduce((sum, r) => sum + r.size, 0);
            return [id, bytes, runs.length, ref.mappingCount(id), runs];
          }),
          invariants: [],
        }));
        if (obsGot.text !== obsWant.text) expect(obsGot.value, where).toEqual(obsWant.value);
      }
      // Content of all RAM, page by page.
      for (let p = 0; p < PA_PAGES; p++) {
        if (ref.owner[p] === undefined) continue;
        const page = mm.readPhys(p * P, P);
        const refPage = ref.mem.subarray(p * P, (p + 1) * P);
        if (Buffer.compare(page, refPage) !== 0) expect(page, `content of page ${p}`).toEqual(refPage);
      }
    },
  );
});
