/**
 * Tests of the device side of a split virtqueue (src/virtio/split-queue.ts) over a flat test
 * memory: ring sizes and golden ring bytes typed by hand from scmi-virtio.md §4, 16-bit index
 * wrap, interrupt suppression (avail.flags NO_INTERRUPT, EVENT_IDX used_event / avail_event,
 * NOTIFY_ON_EMPTY), indirect tables, every malformed-ring case (the queue goes broken, nothing
 * throws), too-short writable buffers, and a property test over random descriptor tables.
 */
import { describe, expect, it } from 'vitest';
import { fc, test as fcTest } from '@fast-check/vitest';
import { SplitQueue, checkSplitQueueConfig, splitQueueLayout, type SplitQueueConfig } from '../../src/virtio/split-queue.js';
import { VIRTQ_MAX_SIZE } from '../../src/virtio/constants.js';
import { FlatMemory } from './support/flat-memory.js';

const BASE = 0x1_0000n;
const DESC = 0x1_0000n;
const AVAIL = 0x1_0100n;
const USED = 0x1_0200n;
const BUF = 0x1_1000n;

function setup(q = 16, extra: Partial<SplitQueueConfig> = {}, withProbe = true): { mem: FlatMemory; vq: SplitQueue; cfg: SplitQueueConfig } {
  const mem = new FlatMemory(BASE, 0x1_0000);
  const cfg: SplitQueueConfig = { size: q, descAddr: DESC, availAddr: AVAIL, usedAddr: USED, eventIdx: false, ...extra };
  return { mem, vq: new SplitQueue(withProbe ? mem : mem.withoutProbe(), cfg), cfg };
}

/** Test helper (not the code under test): a descriptor's 16 bytes, little-endian. */
function desc(mem: FlatMemory, table: bigint, i: number, addr: bigint, len: number, flags: number, next = 0): void {
  const b = new Uint8Array(16);
  const v = new DataView(b.buffer);
  v.setBigUint64(0, addr, true);
  v.setUint32(8, len, true);
  v.setUint16(12, flags, true);
  v.setUint16(14, next, true);
  mem.put(table + BigInt(16 * i), b);
}

function u16(mem: FlatMemory, gpa: bigint): number {
  const [lo, hi] = mem.at(gpa, 2);
  return lo! | (hi! << 8);
}

function setU16(mem: FlatMemory, gpa: bigint, v: number): void {
  mem.put(gpa, [v & 0xff, (v >> 8) & 0xff]);
}

/** Make `heads` available at avail.ring[idx % q], idx counting from `from`; sets avail.idx. */
function offer(mem: FlatMemory, q: number, from: number, heads: number[]): number {
  let idx = from;
  for (const h of heads) {
    setU16(mem, AVAIL + 4n + BigInt(2 * (idx % q)), h);
    idx = (idx + 1) & 0xffff;
  }
  setU16(mem, AVAIL + 2n, idx);
  return idx;
}

describe('ring layout (scmi-virtio.md §4)', () => {
  it('Q = 16: descriptor table 256, available ring 38, used ring 134 bytes; Q = 1024: 16384 / 2054 / 8198', () => {
    expect(splitQueueLayout(16)).toEqual({ descBytes: 256, availBytes: 38, usedBytes: 134 });
    expect(splitQueueLayout(1024)).toEqual({ descBytes: 16384, availBytes: 2054, usedBytes: 8198 });
  });

  it('config: size a power of 2 in 1..32768, desc 16-, avail 2-, used 4-byte aligned', () => {
    const ok: SplitQueueConfig = { size: 16, descAddr: DESC, availAddr: AVAIL, usedAddr: USED, eventIdx: false };
    expect(checkSplitQueueConfig(ok)).toBeUndefined();
    expect(checkSplitQueueConfig({ ...ok, size: 1 })).toBeUndefined();
    expect(checkSplitQueueConfig({ ...ok, size: 32768 })).toBeUndefined();
    for (const size of [0, 3, 24, 65536, 1.5]) expect(checkSplitQueueConfig({ ...ok, size })).toMatch(/power of 2/);
    expect(checkSplitQueueConfig({ ...ok, descAddr: DESC + 8n })).toMatch(/16-byte/);
    expect(checkSplitQueueConfig({ ...ok, availAddr: AVAIL + 1n })).toMatch(/2-byte/);
    expect(checkSplitQueueConfig({ ...ok, usedAddr: USED + 2n })).toMatch(/4-byte/);
    expect(() => new SplitQueue(new FlatMemory(BASE, 16), { ...ok, size: 3 })).toThrow(TypeError);
  });
});

describe('a two-descriptor chain, golden bytes (scmi-virtio.md §4, §5)', () => {
  it('pop reads the readable buffer; push writes the writable one and used.ring/used.idx', () => {
    const { mem, vq } = setup(16);
    // desc[0]: addr 0x11000, len 8, NEXT, next 1.  desc[1]: addr 0x11100, len 16, WRITE.
    mem.put(DESC, [0x00, 0x10, 0x01, 0x00, 0x00, 0x00, 0x00, 0x00, 0x08, 0x00, 0x00, 0x00, 0x01, 0x00, 0x01, 0x00]);
    mem.put(DESC + 16n, [0x00, 0x11, 0x01, 0x00, 0x00, 0x00, 0x00, 0x00, 0x10, 0x00, 0x00, 0x00, 0x02, 0x00, 0x00, 0x00]);
    // avail: flags 0, idx 1, ring[0] = 0.
    mem.put(AVAIL, [0x00, 0x00, 0x01, 0x00, 0x00, 0x00]);
    mem.put(BUF, [0x00, 0x00, 0x01, 0x00, 0x11, 0x22, 0x33, 0x44]);
    const c = vq.pop()!;
    expect(c.head).toBe(0);
    expect([...c.readable]).toEqual([0x00, 0x00, 0x01, 0x00, 0x11, 0x22, 0x33, 0x44]);
    expect(c.writable).toEqual([{ addr: 0x1_1100n, len: 16 }]);
    expect(c.writableLength).toBe(16);
    expect(c.descriptors).toBe(2);
    expect(vq.pop()).toBeUndefined();
    expect(vq.broken).toBeUndefined();

    expect(vq.push(0, Uint8Array.of(0x00, 0x00, 0x01, 0x00, 0x00, 0x00, 0x00, 0x00, 0xaa, 0xbb, 0xcc, 0xdd))).toBe(12);
    expect(mem.at(BUF + 0x100n, 16)).toEqual([0x00, 0x00, 0x01, 0x00, 0x00, 0x00, 0x00, 0x00, 0xaa, 0xbb, 0xcc, 0xdd, 0, 0, 0, 0]);
    // used: flags 0, idx 1, ring[0] = {id 0, len 12}.
    expect(mem.at(USED, 12)).toEqual([0x00, 0x00, 0x01, 0x00, 0x00, 0x00, 0x00, 0x00, 0x0c, 0x00, 0x00, 0x00]);
    expect(vq.inFlight).toBe(0);
  });

  it('the second chain uses ring slot 1 and head 5; the used element is {5, len}', () => {
    const { mem, vq } = setup(16);
    desc(mem, DESC, 0, BUF, 4, 0);
    desc(mem, DESC, 5, BUF + 0x10n, 4, 1, 9);
    desc(mem, DESC, 9, BUF + 0x20n, 8, 2);
    offer(mem, 16, 0, [0, 5]);
    expect(vq.pop()!.head).toBe(0);
    const c = vq.pop()!;
    expect(c.head).toBe(5);
    expect(c.writable).toEqual([{ addr: BUF + 0x20n, len: 8 }]);
    // Answer out of order: 5 first.
    expect(vq.push(5, Uint8Array.of(1, 2, 3))).toBe(3);
    expect(vq.push(0)).toBe(0);
    expect(mem.at(USED, 20)).toEqual([0, 0, 2, 0, 5, 0, 0, 0, 3, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0]);
  });

  it('a writable part split over several buffers is filled in order', () => {
    const { mem, vq } = setup(16);
    desc(mem, DESC, 0, BUF, 4, 1, 1);
    desc(mem, DESC, 1, BUF + 0x100n, 3, 3, 2);
    desc(mem, DESC, 2, BUF + 0x200n, 5, 2);
    offer(mem, 16, 0, [0]);
    const c = vq.pop()!;
    expect(c.writableLength).toBe(8);
    expect(vq.push(0, Uint8Array.of(1, 2, 3, 4, 5, 6))).toBe(6);
    expect(mem.at(BUF + 0x100n, 3)).toEqual([1, 2, 3]);
    expect(mem.at(BUF + 0x200n, 5)).toEqual([4, 5, 6, 0, 0]);
  });
});

describe('too-short and missing buffers are the caller\'s to answer, not malformed', () => {
  it('push truncates to the writable length and reports it; used len is what was written', () => {
    const { mem, vq } = setup(16);
    desc(mem, DESC, 0, BUF, 8, 1, 1);
    desc(mem, DESC, 1, BUF + 0x100n, 4, 2);
    offer(mem, 16, 0, [0]);
    vq.pop();
    expect(vq.push(0, Uint8Array.of(9, 8, 7, 6, 5, 4, 3, 2))).toBe(4);
    expect(mem.at(BUF + 0x100n, 8)).toEqual([9, 8, 7, 6, 0, 0, 0, 0]);
    expect(mem.at(USED + 4n, 8)).toEqual([0, 0, 0, 0, 4, 0, 0, 0]);
    expect(vq.broken).toBeUndefined();
  });

  it('a chain with no writable part pops, and push writes nothing: used len 0', () => {
    const { mem, vq } = setup(16);
    desc(mem, DESC, 0, BUF, 8, 0);
    offer(mem, 16, 0, [0]);
    expect(vq.pop()).toMatchObject({ head: 0, writable: [], writableLength: 0 });
    expect(vq.push(0, Uint8Array.of(1, 2, 3, 4, 5, 6, 7, 8))).toBe(0);
    expect(mem.at(USED, 12)).toEqual([0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0]);
  });

  it('a write-only chain (eventq style) pops with an empty readable part', () => {
    const { mem, vq } = setup(16);
    desc(mem, DESC, 3, BUF, 136, 2);
    offer(mem, 16, 0, [3]);
    const c = vq.pop()!;
    expect(c.readable.length).toBe(0);
    expect(c.writable).toEqual([{ addr: BUF, len: 136 }]);
  });

  it('push of a head that is not in flight is the caller\'s bug: RangeError', () => {
    const { vq } = setup(16);
    expect(() => vq.push(0)).toThrow(RangeError);
  });
});

describe('16-bit index wrap', () => {
  it('Q = 4: 65540 requests; avail.idx and used.idx wrap through 0xFFFF → 0 and the slots follow idx % Q', () => {
    const { mem, vq } = setup(4);
    // Head i: one writable buffer.
    for (let i = 0; i < 4; i++) desc(mem, DESC, i, BUF + BigInt(0x100 * i), 4, 2);
    let avail = 0;
    for (let n = 0; n < 65540; n++) {
      const head = n % 4;
      avail = offer(mem, 4, avail, [head]);
      const c = vq.pop()!;
      expect(c.head).toBe(head);
      vq.push(head, Uint8Array.of(n & 0xff));
      if (n === 65534 || n === 65535 || n === 65536) {
        expect(u16(mem, USED + 2n)).toBe((n + 1) & 0xffff);
        expect(mem.at(USED + 4n + BigInt(8 * (n % 4)), 8)).toEqual([head, 0, 0, 0, 1, 0, 0, 0]);
      }
    }
    expect(avail).toBe(65540 & 0xffff);
    expect(vq.lastAvailIdx).toBe(4);
    expect(vq.usedIdx).toBe(4);
    expect(u16(mem, USED + 2n)).toBe(4);
    expect(vq.broken).toBeUndefined();
  });

  it('four chains made available at once across the wrap are all taken', () => {
    const { mem, vq } = setup(4);
    for (let i = 0; i < 4; i++) desc(mem, DESC, i, BUF + BigInt(0x100 * i), 4, 2);
    let avail = 0;
    // Bring both indices to 0xFFFE.
    for (let n = 0; n < 0xfffe; n++) {
      avail = offer(mem, 4, avail, [0]);
      vq.push(vq.pop()!.head);
    }
    expect(vq.lastAvailIdx).toBe(0xfffe);
    avail = offer(mem, 4, avail, [0, 1, 2, 3]);
    expect(avail).toBe(2);
    expect(vq.pending()).toBe(4);
    const heads = [vq.pop(), vq.pop(), vq.pop(), vq.pop()].map((c) => c!.head);
    expect(heads).toEqual([0, 1, 2, 3]);
    expect(vq.pop()).toBeUndefined();
    expect(vq.broken).toBeUndefined();
  });
});

describe('interrupt suppression (scmi-virtio.md §4 step 6, §3)', () => {
  function oneChain(mem: FlatMemory, q: number, from: number, head: number): number {
    desc(mem, DESC, head, BUF + BigInt(0x10 * head), 8, 2);
    return offer(mem, q, from, [head]);
  }

  it('without EVENT_IDX: interrupt unless avail.flags has NO_INTERRUPT; nothing new → no interrupt', () => {
    const { mem, vq } = setup(16);
    expect(vq.needsInterrupt()).toBe(false);
    let a = oneChain(mem, 16, 0, 0);
    vq.push(vq.pop()!.head, Uint8Array.of(1));
    expect(vq.needsInterrupt()).toBe(true);
    expect(vq.needsInterrupt()).toBe(false);
    mem.put(AVAIL, [0x01, 0x00]);
    a = oneChain(mem, 16, a, 1);
    vq.push(vq.pop()!.head);
    expect(vq.needsInterrupt()).toBe(false);
    mem.put(AVAIL, [0x00, 0x00]);
    oneChain(mem, 16, a, 2);
    vq.push(vq.pop()!.head);
    expect(vq.needsInterrupt()).toBe(true);
  });

  it('with EVENT_IDX: used_event at avail + 4 + 2Q decides; the first decision is always yes', () => {
    const q = 16;
    const { mem, vq } = setup(q, { eventIdx: true });
    const usedEvent = AVAIL + 4n + BigInt(2 * q);
    // NO_INTERRUPT is ignored with EVENT_IDX.
    mem.put(AVAIL, [0x01, 0x00]);
    setU16(mem, usedEvent, 0x40);
    let a = 0;
    for (let h = 0; h < 2; h++) a = oneChain(mem, q, a, h);
    vq.push(vq.pop()!.head);
    vq.push(vq.pop()!.head);
    expect(vq.needsInterrupt()).toBe(true); // first: used.idx 0 → 2
    // used_event = 5: the driver wants an interrupt once used.idx passes 5.
    setU16(mem, usedEvent, 5);
    a = oneChain(mem, q, a, 2);
    vq.push(vq.pop()!.head); // idx 3
    expect(vq.needsInterrupt()).toBe(false);
    for (let h = 3; h < 5; h++) a = oneChain(mem, q, a, h);
    vq.push(vq.pop()!.head);
    vq.push(vq.pop()!.head); // idx 5: entry 5 not written yet
    expect(vq.needsInterrupt()).toBe(false);
    a = oneChain(mem, q, a, 5);
    vq.push(vq.pop()!.head); // idx 6: entry index 5 written
    expect(vq.needsInterrupt()).toBe(true);
    // used_event = 6, push two at once (6 → 8): passed within the batch.
    setU16(mem, usedEvent, 6);
    for (let h = 6; h < 8; h++) a = oneChain(mem, q, a, h);
    vq.push(vq.pop()!.head);
    vq.push(vq.pop()!.head);
    expect(vq.needsInterrupt()).toBe(true);
  });

  it('with EVENT_IDX the device keeps avail_event (used + 4 + 8Q) at the next index it will take', () => {
    const q = 16;
    const { mem, vq } = setup(q, { eventIdx: true });
    const availEvent = USED + 4n + BigInt(8 * q);
    setU16(mem, availEvent, 0x7777);
    expect(vq.pop()).toBeUndefined();
    expect(u16(mem, availEvent)).toBe(0);
    let a = oneChain(mem, q, 0, 0);
    a = oneChain(mem, q, a, 1);
    vq.pop();
    expect(u16(mem, availEvent)).toBe(1);
    vq.pop();
    expect(u16(mem, availEvent)).toBe(2);
    // With notifications off it stops moving; on again it jumps to avail.idx.
    vq.setNotifications(false);
    oneChain(mem, q, a, 2);
    vq.pop();
    expect(u16(mem, availEvent)).toBe(2);
    vq.setNotifications(true);
    expect(u16(mem, availEvent)).toBe(3);
  });

  it('without EVENT_IDX setNotifications toggles used.flags NO_NOTIFY', () => {
    const { mem, vq } = setup(16);
    vq.setNotifications(false);
    expect(mem.at(USED, 2)).toEqual([1, 0]);
    vq.setNotifications(true);
    expect(mem.at(USED, 2)).toEqual([0, 0]);
  });

  it('NOTIFY_ON_EMPTY: an interrupt when the ring runs empty, despite NO_INTERRUPT', () => {
    const { mem, vq } = setup(16, { notifyOnEmpty: true });
    mem.put(AVAIL, [0x01, 0x00]);
    let a = oneChain(mem, 16, 0, 0);
    a = oneChain(mem, 16, a, 1);
    vq.push(vq.pop()!.head);
    expect(vq.needsInterrupt()).toBe(false); // one still available
    vq.push(vq.pop()!.head);
    expect(vq.needsInterrupt()).toBe(true);
  });
});

describe('indirect descriptors (VIRTIO_RING_F_INDIRECT_DESC)', () => {
  const TABLE = BASE + 0x3000n;

  it('negotiated: a head pointing at a two-entry table, golden table bytes', () => {
    const { mem, vq } = setup(16, { indirect: true });
    // desc[2]: addr 0x13000, len 32, INDIRECT.
    mem.put(DESC + 32n, [0x00, 0x30, 0x01, 0x00, 0x00, 0x00, 0x00, 0x00, 0x20, 0x00, 0x00, 0x00, 0x04, 0x00, 0x00, 0x00]);
    // table[0]: 0x11000 len 4 NEXT next 1; table[1]: 0x11100 len 8 WRITE.
    mem.put(TABLE, [0x00, 0x10, 0x01, 0x00, 0x00, 0x00, 0x00, 0x00, 0x04, 0x00, 0x00, 0x00, 0x01, 0x00, 0x01, 0x00]);
    mem.put(TABLE + 16n, [0x00, 0x11, 0x01, 0x00, 0x00, 0x00, 0x00, 0x00, 0x08, 0x00, 0x00, 0x00, 0x02, 0x00, 0x00, 0x00]);
    mem.put(BUF, [0xde, 0xad, 0xbe, 0xef]);
    offer(mem, 16, 0, [2]);
    const c = vq.pop()!;
    expect(c).toMatchObject({ head: 2, writable: [{ addr: 0x1_1100n, len: 8 }], descriptors: 3 });
    expect([...c.readable]).toEqual([0xde, 0xad, 0xbe, 0xef]);
    expect(vq.push(2, Uint8Array.of(1, 2))).toBe(2);
    expect(mem.at(USED + 4n, 8)).toEqual([2, 0, 0, 0, 2, 0, 0, 0]);
  });

  it.each([
    ['not negotiated', false, (m: FlatMemory) => desc(m, DESC, 0, TABLE, 32, 4), 'indirect-not-negotiated'],
    ['INDIRECT with NEXT', true, (m: FlatMemory) => desc(m, DESC, 0, TABLE, 32, 5, 1), 'indirect-malformed'],
    ['table length not a multiple of 16', true, (m: FlatMemory) => desc(m, DESC, 0, TABLE, 24, 4), 'indirect-malformed'],
    ['table length 0', true, (m: FlatMemory) => desc(m, DESC, 0, TABLE, 0, 4), 'indirect-malformed'],
    ['nested table', true, (m: FlatMemory) => (desc(m, DESC, 0, TABLE, 32, 4), desc(m, TABLE, 0, TABLE, 16, 4)), 'indirect-malformed'],
    ['table next beyond its length', true, (m: FlatMemory) => (desc(m, DESC, 0, TABLE, 32, 4), desc(m, TABLE, 0, BUF, 4, 1, 2)), 'next-out-of-range'],
    ['loop inside the table', true, (m: FlatMemory) => (desc(m, DESC, 0, TABLE, 32, 4), desc(m, TABLE, 0, BUF, 4, 1, 1), desc(m, TABLE, 1, BUF, 4, 1, 0)), 'chain-loop'],
    ['table in unmapped memory', true, (m: FlatMemory) => desc(m, DESC, 0, 0xdead_0000n, 32, 4), 'address-refused'],
  ] as const)('%s → broken (%s)', (_name, indirect, build, kind) => {
    const { mem, vq } = setup(16, { indirect });
    build(mem);
    offer(mem, 16, 0, [0]);
    expect(vq.pop()).toBeUndefined();
    expect(vq.broken).toMatchObject({ kind, head: 0 });
  });
});

describe('malformed rings: the queue goes broken, nothing throws, nothing more is processed', () => {
  const cases: Array<[string, (m: FlatMemory) => void, string]> = [
    ['a loop 0 → 1 → 0', (m) => (desc(m, DESC, 0, BUF, 4, 1, 1), desc(m, DESC, 1, BUF, 4, 1, 0), offer(m, 16, 0, [0])), 'chain-loop'],
    ['a descriptor chaining to itself', (m) => (desc(m, DESC, 0, BUF, 4, 1, 0), offer(m, 16, 0, [0])), 'chain-loop'],
    ['a head index ≥ Q', (m) => offer(m, 16, 0, [16]), 'head-out-of-range'],
    ['a next index ≥ Q', (m) => (desc(m, DESC, 0, BUF, 4, 1, 16), offer(m, 16, 0, [0])), 'next-out-of-range'],
    ['a readable buffer in unmapped memory', (m) => (desc(m, DESC, 0, 0xdead_0000n, 4, 0), offer(m, 16, 0, [0])), 'address-refused'],
    ['a writable buffer in unmapped memory', (m) => (desc(m, DESC, 0, BUF, 4, 1, 1), desc(m, DESC, 1, 0xdead_0000n, 4, 2), offer(m, 16, 0, [0])), 'address-refused'],
    ['a buffer running past the end of memory', (m) => (desc(m, DESC, 0, BASE + 0xfff0n, 0x20, 0), offer(m, 16, 0, [0])), 'address-refused'],
    ['a buffer address near 2^64', (m) => (desc(m, DESC, 0, 0xffff_ffff_ffff_fff0n, 0x20, 0), offer(m, 16, 0, [0])), 'address-refused'],
    ['a readable buffer after a writable one', (m) => (desc(m, DESC, 0, BUF, 4, 3, 1), desc(m, DESC, 1, BUF, 4, 0), offer(m, 16, 0, [0])), 'readable-after-writable'],
    ['a zero-length buffer', (m) => (desc(m, DESC, 0, BUF, 0, 0), offer(m, 16, 0, [0])), 'zero-length'],
    ['avail.idx more than Q ahead', (m) => setU16(m, AVAIL + 2n, 17), 'avail-idx-jump'],
    ['buffers adding up to more than 2^32 bytes', (m) => (desc(m, DESC, 0, BUF, 0xffff_ffff, 3, 1), desc(m, DESC, 1, BUF, 2, 2), offer(m, 16, 0, [0])), 'chain-too-large'],
  ];

  it.each(cases)('%s', (_name, build, kind) => {
    const fresh = setup(16);
    build(fresh.mem);
    expect(() => fresh.vq.pop()).not.toThrow();
    expect(fresh.vq.broken?.kind).toBe(kind);
    expect(fresh.vq.broken?.detail).toBeTruthy();
    // Broken: pop gives nothing more, even once the ring is repaired.
    desc(fresh.mem, DESC, 0, BUF, 4, 2);
    offer(fresh.mem, 16, 0, [0]);
    expect(fresh.vq.pop()).toBeUndefined();
    expect(fresh.vq.needsInterrupt()).toBe(false);
    expect(fresh.vq.pending()).toBe(0);
  });

  it('without the accessor\'s probe, writable buffers are checked with a read', () => {
    const { mem, vq } = setup(16, {}, false);
    desc(mem, DESC, 0, 0xdead_0000n, 4, 2);
    offer(mem, 16, 0, [0]);
    expect(vq.pop()).toBeUndefined();
    expect(vq.broken?.kind).toBe('address-refused');
  });

  it('a lent buffer is refused like an unmapped one', () => {
    const { mem, vq } = setup(16);
    mem.lent.push([BUF, BUF + 0x1000n]);
    desc(mem, DESC, 0, BUF + 0x10n, 4, 0);
    offer(mem, 16, 0, [0]);
    expect(vq.pop()).toBeUndefined();
    expect(vq.broken).toMatchObject({ kind: 'address-refused', head: 0 });
    expect(vq.broken!.detail).toMatch(/lent/);
  });

  it('a head made available again while in flight', () => {
    const { mem, vq } = setup(16);
    desc(mem, DESC, 4, BUF, 4, 2);
    offer(mem, 16, 0, [4, 4]);
    expect(vq.pop()!.head).toBe(4);
    expect(vq.pop()).toBeUndefined();
    expect(vq.broken).toMatchObject({ kind: 'head-in-use', head: 4 });
    // The first one can still be handed back: push returns 0, the ring is not touched.
    expect(vq.push(4, Uint8Array.of(1))).toBe(0);
    expect(u16(mem, USED + 2n)).toBe(0);
  });

  it('rings in unmapped memory: ring-inaccessible', () => {
    const mem = new FlatMemory(BASE, 0x1_0000);
    const vq = new SplitQueue(mem, { size: 16, descAddr: DESC, availAddr: 0x9_0000n, usedAddr: USED, eventIdx: false });
    expect(vq.pop()).toBeUndefined();
    expect(vq.broken?.kind).toBe('ring-inaccessible');
    const vq2 = new SplitQueue(mem, { size: 16, descAddr: 0x9_0000n, availAddr: AVAIL, usedAddr: USED, eventIdx: false });
    offer(mem, 16, 0, [0]);
    expect(vq2.pop()).toBeUndefined();
    expect(vq2.broken?.kind).toBe('ring-inaccessible');
  });

  it('a used ring the device cannot write: push breaks the queue and returns 0', () => {
    const mem = new FlatMemory(BASE, 0x1_0000);
    const vq = new SplitQueue(mem, { size: 16, descAddr: DESC, availAddr: AVAIL, usedAddr: 0x9_0000n, eventIdx: false });
    desc(mem, DESC, 0, BUF, 4, 2);
    offer(mem, 16, 0, [0]);
    vq.pop();
    expect(vq.push(0, Uint8Array.of(1, 2))).toBe(0);
    expect(vq.broken?.kind).toBe('ring-inaccessible');
  });

  it('a writable buffer that became inaccessible after pop: push breaks the queue', () => {
    const { mem, vq } = setup(16);
    desc(mem, DESC, 0, BUF, 4, 2);
    offer(mem, 16, 0, [0]);
    vq.pop();
    mem.lent.push([BUF, BUF + 4n]);
    expect(vq.push(0, Uint8Array.of(1))).toBe(0);
    expect(vq.broken?.kind).toBe('address-refused');
    expect(u16(mem, USED + 2n)).toBe(0);
  });

  it('a readable part larger than maxReadableBytes', () => {
    const mem = new FlatMemory(BASE, 0x1_0000);
    const vq = new SplitQueue(mem, { size: 16, descAddr: DESC, availAddr: AVAIL, usedAddr: USED, eventIdx: false }, { maxReadableBytes: 64 });
    desc(mem, DESC, 0, BUF, 65, 0);
    offer(mem, 16, 0, [0]);
    expect(vq.pop()).toBeUndefined();
    expect(vq.broken?.kind).toBe('chain-too-large');
  });

  it('a chain of exactly Q descriptors is not a loop', () => {
    const { mem, vq } = setup(4);
    for (let i = 0; i < 3; i++) desc(mem, DESC, i, BUF, 4, 1, i + 1);
    desc(mem, DESC, 3, BUF, 4, 2);
    offer(mem, 4, 0, [0]);
    expect(vq.pop()!.descriptors).toBe(4);
  });
});

describe('property: random rings never throw out of pop and never loop', () => {
  const descArb = fc.record({
    addrSel: fc.integer({ min: 0, max: 4 }),
    len: fc.oneof(fc.integer({ min: 0, max: 64 }), fc.constantFrom(0xffff_ffff, 0x1_0000)),
    flags: fc.integer({ min: 0, max: 0xffff }),
    next: fc.integer({ min: 0, max: 40 }),
  });
  const ADDRS = [BUF, BUF + 0x800n, BASE + 0x3000n, 0xdead_0000n, BASE + 0xffe0n];

  fcTest.prop([
    fc.constantFrom(1, 2, 4, 8, 16, 32),
    fc.array(descArb, { minLength: 32, maxLength: 32 }),
    fc.array(descArb, { minLength: 8, maxLength: 8 }),
    fc.array(fc.integer({ min: 0, max: 40 }), { minLength: 32, maxLength: 32 }),
    fc.integer({ min: 0, max: 0xffff }),
    fc.boolean(),
    fc.boolean(),
    fc.uint8Array({ maxLength: 80 }),
  ])('random descriptor tables, rings and indices', (q, table, indirectTable, ring, availIdx, indirect, eventIdx, reply) => {
    const mem = new FlatMemory(BASE, 0x1_0000);
    const vq = new SplitQueue(mem, { size: q, descAddr: DESC, availAddr: AVAIL, usedAddr: USED, eventIdx, indirect });
    const put = (t: bigint, i: number, d: (typeof table)[number]): void => desc(mem, t, i, ADDRS[d.addrSel]!, d.len, d.flags, d.next);
    for (let i = 0; i < q; i++) put(DESC, i, table[i]!);
    for (let i = 0; i < 8; i++) put(BASE + 0x3000n, i, indirectTable[i]!);
    for (let i = 0; i < q; i++) setU16(mem, AVAIL + 4n + BigInt(2 * i), ring[i]!);
    setU16(mem, AVAIL + 2n, availIdx);
    const pending = availIdx;
    let popped = 0;
    const heads: number[] = [];
    for (let guard = 0; guard < q + 2; guard++) {
      const c = vq.pop();
      if (c === undefined) break;
      popped++;
      heads.push(c.head);
      expect(c.head).toBeLessThan(q);
      expect(c.descriptors).toBeLessThanOrEqual(q + 1 + 8);
      expect(c.writable.reduce((n, w) => n + w.len, 0)).toBe(c.writableLength);
    }
    // Never more chains than were made available, and pop stops by itself.
    expect(popped).toBeLessThanOrEqual(Math.min(pending, q));
    expect(vq.pop()).toBeUndefined();
    if (pending > q) expect(vq.broken?.kind).toBe('avail-idx-jump');
    for (const h of heads) {
      const n = vq.push(h, reply);
      expect(n).toBeLessThanOrEqual(reply.length);
    }
    expect(() => vq.needsInterrupt()).not.toThrow();
  });
});

describe('limits', () => {
  it('VIRTQ_MAX_SIZE is 32768', () => {
    expect(VIRTQ_MAX_SIZE).toBe(32768);
  });
});
