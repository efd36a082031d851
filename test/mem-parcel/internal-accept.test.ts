// The parcel store's RM-internal operations: an accept the RM makes on a VM's behalf at a given
// IPA (VM_START mapping the image parcel, docs/decisions.md B3), which then behaves like any
// accept (reservations, RELEASE, reset release, RECLAIM refused while accepted), and reading and
// writing a parcel's contents through physical memory across regions (how VM_INIT reads the DTB
// without accepting anything).
//
// Reference: rm-rpc.md §16.4–§16.5 (accept, release, reclaim), §15.4 (reset releases).
import { describe, expect, test } from 'vitest';
import { Hypervisor } from '../../src/hyp/hypervisor.js';
import { ParcelError, ParcelStore } from '../../src/mem-parcel/index.js';
import { MemRights, MemType, TransType } from '../../src/rm-rpc/wire/enums.js';

const HOST = 3;
const VM = 0x80;
const OTHER = 0x81;
const PAGE = 4096;

function setup() {
  const hyp = new Hypervisor({ cpus: 1 });
  const store = new ParcelStore({
    mem: hyp.memory,
    ownExtent: (v) => hyp.ownExtent(v),
    aclVmidValid: () => true,
    vmExists: (v) => v === HOST || v === VM || v === OTHER,
  });
  /** A LEND of `pages` separate pages (one region each, 2 pages apart) to VM with `rights`. */
  const lend = (at: number, pages: number, rights: number = MemRights.RWX) =>
    store.create(HOST, TransType.LEND, {
      memType: MemType.NORMAL,
      flags: 0,
      label: 0,
      acl: [{ vmid: VM, rights }],
      sgl: Array.from({ length: pages }, (_, i) => ({ address: BigInt(at + 2 * i * PAGE), size: BigInt(PAGE) })),
      attrs: [],
    });
  return { hyp, store, lend };
}

const code = (f: () => void): string => {
  try {
    f();
    return 'OK';
  } catch (e) {
    if (e instanceof ParcelError) return e.err;
    throw e;
  }
};

const IPA = 0x4000_0000;
const PA = 0x9000_0000;

describe('ParcelStore.acceptAt', () => {
  test('maps every region back to back at the IPA with the ACL rights; the parcel is SHARED', () => {
    const { hyp, store, lend } = setup();
    for (let i = 0; i < 3; i++) hyp.memory.write(HOST, PA + 2 * i * PAGE, Uint8Array.of(0xa0 + i, i));
    const p = lend(PA, 3, MemRights.RW);
    store.acceptAt(VM, p.handle, IPA);
    expect(hyp.memory.translate(VM, IPA, 3 * PAGE).map((t) => [t.ipa, t.pa, t.rights])).toEqual([
      [IPA, PA, MemRights.RW],
      [IPA + PAGE, PA + 2 * PAGE, MemRights.RW],
      [IPA + 2 * PAGE, PA + 4 * PAGE, MemRights.RW],
    ]);
    expect(hyp.memory.read(VM, IPA + 2 * PAGE, 2)).toEqual(Uint8Array.of(0xa2, 2));
    expect(hyp.memory.check(VM, IPA, 1, 'exec')?.reason).toBe('permission');
    expect(p.state).toBe('SHARED');
    expect(p.shareCount).toBe(1);
    expect(p.acl[0]).toMatchObject({ vmid: VM, shared: true, mapped: true, contiguous: true, ipas: [IPA] });
    expect(store.checkInvariants()).toEqual([]);
    expect(hyp.memory.checkInvariants()).toEqual([]);
  });

  test('then it is an accept like any other: no second accept, no reclaim, IPAs reserved, released by the reset path', () => {
    const { hyp, store, lend } = setup();
    const p = lend(PA, 2);
    store.acceptAt(VM, p.handle, IPA);
    expect(code(() => store.acceptAt(VM, p.handle, IPA + 0x10_0000))).toBe('DENIED');
    expect(code(() => store.reclaim(HOST, p.handle, false))).toBe('MEM_INUSE');
    const q = lend(PA + 0x10_0000, 1);
    expect(code(() => store.acceptAt(VM, q.handle, IPA + PAGE))).toBe('NORESOURCE'); // overlaps p's IPAs
    expect(q.state).toBe('SHARING');
    expect(store.releaseOneFor(VM)).toBe(p);
    expect(hyp.memory.mappingsOf(VM)).toEqual([]);
    expect(p.state).toBe('SHARING');
    store.acceptAt(VM, q.handle, IPA + PAGE); // the IPAs are free again
    store.release(VM, q.handle, false);
    expect(code(() => store.reclaim(HOST, p.handle, false))).toBe('OK');
    expect(code(() => store.reclaim(HOST, q.handle, false))).toBe('OK');
    expect(store.checkInvariants()).toEqual([]);
    expect(hyp.memory.checkInvariants()).toEqual([]);
  });

  test('an unknown handle is HANDLE_INVALID; a VM outside the ACL is VMID_INVALID', () => {
    const { store, lend } = setup();
    const p = lend(PA, 1);
    expect(code(() => store.acceptAt(VM, 0x7777, IPA))).toBe('HANDLE_INVALID');
    expect(code(() => store.acceptAt(OTHER, p.handle, IPA))).toBe('VMID_INVALID');
    expect(p.state).toBe('SHARING');
  });
});

describe('ParcelStore.readContents', () => {
  test('reads a lent parcel nobody accepted, across regions, and accepts nothing (how VM_INIT reads the DTB)', () => {
    const { hyp, store, lend } = setup();
    hyp.memory.write(HOST, PA + PAGE - 3, Uint8Array.of(1, 2, 3));
    hyp.memory.write(HOST, PA + 2 * PAGE, Uint8Array.of(4, 5));
    const p = lend(PA, 2);
    expect(store.readContents(p, PAGE - 3, 5)).toEqual(Uint8Array.of(1, 2, 3, 4, 5));
    expect(p.state).toBe('SHARING');
    expect(p.acl[0]).toMatchObject({ shared: false, mapped: false });
    expect(hyp.memory.mappingsOf(VM)).toEqual([]);
    expect(code(() => store.reclaim(HOST, p.handle, false))).toBe('OK');
  });
});

describe('ParcelStore.writeContents', () => {
  test('writes through physical memory across regions, as readContents reads', () => {
    const { hyp, store, lend } = setup();
    const p = lend(PA, 2);
    const bytes = Uint8Array.from({ length: 10 }, (_, i) => i + 1);
    store.writeContents(p, PAGE - 5, bytes);
    expect(store.readContents(p, PAGE - 5, 10)).toEqual(bytes);
    expect(hyp.memory.readPhys(PA + PAGE - 5, 5)).toEqual(bytes.subarray(0, 5));
    expect(hyp.memory.readPhys(PA + 2 * PAGE, 5)).toEqual(bytes.subarray(5));
    // The host lent it: its own stage 2 no longer reaches what was written.
    expect(hyp.memory.check(HOST, PA, 1, 'read')?.reason).toBe('unmapped');
  });

  test('a range outside the parcel is a RangeError and writes nothing', () => {
    const { hyp, store, lend } = setup();
    const p = lend(PA, 1);
    expect(() => store.writeContents(p, PAGE - 1, Uint8Array.of(9, 9))).toThrow(RangeError);
    expect(() => store.writeContents(p, -1, Uint8Array.of(9))).toThrow(RangeError);
    expect(hyp.memory.readPhys(PA + PAGE - 1, 1)).toEqual(Uint8Array.of(0));
  });
});
