/**
 * Malformed descriptor chains on a live SCMI function, written by the test straight into the
 * shared ring (through the VMM's mmap of the ring's guest-memory file) after the guest's driver
 * set the queue up and made one call, then kicked through the kick eventfd (what the ioeventfd
 * does on a QueueNotify store). Answerable faults get used entries (a truncated reply, or used
 * len 0 without dispatch) and the queue goes on; structural faults (a loop, an index or an
 * address out of range, a readable buffer after a writable one) break the queue: nothing more is
 * served, no interrupt, one error logged and later kicks only counted. Nothing throws or hangs.
 * Also: a ring in lent memory is refused at ADD_FUNCTION (EINVAL), nothing registered.
 *
 * Reference: scmi-virtio.md §4 (descriptor {u64 addr, u32 len, u16 flags, u16 next}; NEXT 1,
 * WRITE 2; used element {u32 id, u32 len}), §5 (requests, 8-byte error replies), §11 (shared
 * ring memory); docs/decisions.md V4/V5 (broken vs answerable), S42 (used len 0 cases), S44
 * (broken queue), S46 (lent ring refused); docs/scmi.md. Q = 16 ring layout of
 * docs/guest-images.md: descriptors at +0, avail at +0x100, used at +0x128.
 */
import pino from 'pino';
import { describe, expect, it } from 'vitest';
import { guestProgram } from '../../../src/guest/index.js';
import { createMemoryTraceSink, type MemoryTraceSink } from '../../../src/shared/trace.js';
import type { HostMapping } from '../../../src/vmm/index.js';
import { GUEST_BASE } from '../../vm-mgr/support/boot.js';
import { MARK, u64le } from '../../vm-mgr/support/programs.js';
import {
  MMIO_BASE,
  Proto,
  RING_BASE,
  VmmScmi,
  bootScmiVm,
  expectCleanScmiShutdown,
  protoBit,
  ringOffset,
  vmVoters,
  type ScmiVm,
} from './support/vmm-scmi.js';

const AVAIL = 0x100;
const USED = 0x128;
const Q = 16;
const NEXT = 1;
const WRITE = 2;
/** Test buffers in the ring region's second page. */
const REQ = RING_BASE + 0x1000n;
const RESP = RING_BASE + 0x1100n;
/** BASE PROTOCOL_VERSION: message 0, protocol 0x10 at bits 17:10. */
const BASE_VERSION_HDR = 0x0000_4000;

interface LogRecord {
  level: number;
  msg: string;
  kind?: string;
}

class Ring {
  constructor(
    readonly map: HostMapping,
    readonly d: VmmScmi,
    readonly vm: ScmiVm,
  ) {}

  desc(i: number, addr: bigint, len: number, flags: number, next = 0): void {
    const b = new Uint8Array(16);
    const v = new DataView(b.buffer);
    v.setBigUint64(0, addr, true);
    v.setUint32(8, len, true);
    v.setUint16(12, flags, true);
    v.setUint16(14, next, true);
    this.map.write(16 * i, b);
  }

  u16(off: number): number {
    const b = this.map.read(off, 2);
    return b[0]! | (b[1]! << 8);
  }

  /** avail.ring[idx % Q] = head; avail.idx + 1. */
  offer(head: number): void {
    const idx = this.u16(AVAIL + 2);
    this.map.write(AVAIL + 4 + 2 * (idx % Q), Uint8Array.of(head & 0xff, head >> 8));
    this.map.write(AVAIL + 2, Uint8Array.of((idx + 1) & 0xff, ((idx + 1) >> 8) & 0xff));
  }

  put(gpa: bigint, bytes: Uint8Array): void {
    this.map.write(ringOffset(gpa), bytes);
  }

  get(gpa: bigint, len: number): number[] {
    return [...this.map.read(ringOffset(gpa), len)];
  }

  usedIdx(): number {
    return this.u16(USED + 2);
  }

  used(i: number): { id: number; len: number } {
    const b = this.map.read(USED + 4 + 8 * (i % Q), 8);
    const v = new DataView(b.buffer, b.byteOffset, 8);
    return { id: v.getUint32(0, true), len: v.getUint32(4, true) };
  }

  kick(): void {
    this.vm.emu.host.write(this.d.kickFd!, u64le(1n));
  }
}

/** A guest that probed (Q = 16) and made one call, then spins; the test owns the ring from there. */
async function served(): Promise<{ ring: Ring; d: VmmScmi; records: LogRecord[]; b: ScmiVm; trace: MemoryTraceSink }> {
  const records: LogRecord[] = [];
  const trace = createMemoryTraceSink();
  const log = pino({ level: 'warn' }, { write: (s: string) => void records.push(JSON.parse(s) as LogRecord) });
  const prog = guestProgram()
    .virtioScmiProbe(MMIO_BASE, RING_BASE, { queueSize: Q })
    .scmiCall(Proto.BASE, 0x0, [], { expectStatus: 0, wait: 'poll' })
    .mmioWrite(MARK, 8, 1)
    .spin();
  const b = await bootScmiVm({ program: prog, emulator: { log, trace } });
  const d = new VmmScmi(b, { agentId: 10, name: 'vm-m', deviceMask: 1n << 3n, protocolMask: protoBit(Proto.CLOCK) });
  await d.runToWrite(b.vcpus[0]!, MARK, 1n);
  const ring = new Ring(b.ring.mmap(), d, b);
  expect({ avail: ring.u16(AVAIL + 2), used: ring.usedIdx() }).toEqual({ avail: 1, used: 1 });
  ring.put(RESP, new Uint8Array(136).fill(0xaa));
  return { ring, d, records, b, trace };
}

const le32 = (...words: number[]): Uint8Array => {
  const b = new Uint8Array(4 * words.length);
  const v = new DataView(b.buffer);
  words.forEach((w, i) => v.setUint32(4 * i, w >>> 0, true));
  return b;
};

/** A good chain at descriptors 8, 9 (BASE PROTOCOL_VERSION into RESP + 0x200). */
function goodChain(ring: Ring): void {
  ring.put(REQ + 0x200n, le32(BASE_VERSION_HDR));
  ring.desc(8, REQ + 0x200n, 4, NEXT, 9);
  ring.desc(9, RESP + 0x200n, 136, WRITE);
  ring.offer(8);
}

describe('answerable faults: used entries, and the queue goes on (V5, S42)', () => {
  it('a writable part shorter than the reply: the reply is cut to it (used len 6)', async () => {
    const { ring, d, b } = await served();
    ring.put(REQ, le32(BASE_VERSION_HDR));
    ring.desc(4, REQ, 4, NEXT, 5);
    ring.desc(5, RESP, 6, WRITE);
    ring.offer(4);
    goodChain(ring);
    ring.kick();
    expect(ring.usedIdx()).toBe(3);
    expect(ring.used(1)).toEqual({ id: 4, len: 6 });
    // Header 0x4000 echoed, then the first two bytes of status 0; the rest untouched.
    expect(ring.get(RESP, 8)).toEqual([0x00, 0x40, 0x00, 0x00, 0x00, 0x00, 0xaa, 0xaa]);
    expect(ring.used(2)).toEqual({ id: 8, len: 12 });
    expect(ring.get(RESP + 0x200n, 12)).toEqual([0x00, 0x40, 0, 0, 0, 0, 0, 0, 0x00, 0x00, 0x02, 0x00]);
    expect({ served: d.instance()!.served, dropped: d.instance()!.dropped, broken: d.instance()!.broken }).toEqual({ served: 3, dropped: 0, broken: undefined });
    await expectCleanScmiShutdown(b.emu);
  });

  it('no writable part: used len 0 and the request is not carried out (no vote)', async () => {
    const { ring, d, b } = await served();
    // CLOCK_CONFIG_SET (0x14 << 10 | 7) clock 0 (uart), enable: readable only.
    ring.put(REQ, le32(0x0000_5007, 0, 1, 0));
    ring.desc(4, REQ, 16, 0);
    ring.offer(4);
    goodChain(ring);
    ring.kick();
    expect(ring.usedIdx()).toBe(3);
    expect(ring.used(1)).toEqual({ id: 4, len: 0 });
    expect(ring.used(2)).toEqual({ id: 8, len: 12 });
    expect(vmVoters(b.emu)).toEqual([]);
    expect(d.instance()!.dropped).toBe(1);
    await expectCleanScmiShutdown(b.emu);
  });

  it.each([
    ['a readable part of 2 bytes (no header)', (r: Ring) => (r.desc(4, REQ, 2, NEXT, 5), r.desc(5, RESP, 136, WRITE))],
    ['no readable part', (r: Ring) => r.desc(4, RESP, 136, WRITE)],
  ])('%s: used len 0, nothing written, no dispatch', async (_what, build) => {
    const { ring, d, b } = await served();
    ring.put(REQ, Uint8Array.of(0x00, 0x40));
    build(ring);
    ring.offer(4);
    ring.kick();
    expect(ring.usedIdx()).toBe(2);
    expect(ring.used(1)).toEqual({ id: 4, len: 0 });
    expect(ring.get(RESP, 4)).toEqual([0xaa, 0xaa, 0xaa, 0xaa]);
    expect(d.instance()!.dropped).toBe(1);
    expect(b.emu.scmi.internalErrors).toEqual([]);
    await expectCleanScmiShutdown(b.emu);
  });
});

describe('structural faults: the queue breaks (V4, S44)', () => {
  it.each([
    ['a loop (4 → 5 → 4)', 'chain-loop', (r: Ring) => (r.desc(4, REQ, 4, NEXT, 5), r.desc(5, REQ, 4, NEXT, 4), r.offer(4))],
    ['next out of range (16 with Q = 16)', 'next-out-of-range', (r: Ring) => (r.desc(4, REQ, 4, NEXT, 16), r.offer(4))],
    ['a head out of range (16)', 'head-out-of-range', (r: Ring) => r.offer(16)],
    ['a readable buffer at an unbound address', 'address-refused', (r: Ring) => (r.desc(4, 0x1_0000_0000n, 4, NEXT, 5), r.desc(5, RESP, 136, WRITE), r.offer(4))],
    ['a writable buffer in lent memory', 'address-refused', (r: Ring) => (r.desc(4, REQ, 4, NEXT, 5), r.desc(5, GUEST_BASE, 136, WRITE), r.offer(4))],
    ['a readable buffer after a writable one', 'readable-after-writable', (r: Ring) => (r.desc(4, RESP, 136, WRITE | NEXT, 5), r.desc(5, REQ, 4, 0), r.offer(4))],
  ])('%s → broken (%s): nothing more served, no interrupt, one error logged', async (_what, kind, build) => {
    const { ring, d, records, b, trace } = await served();
    ring.put(REQ, le32(BASE_VERSION_HDR));
    build(ring);
    goodChain(ring); // after the bad one: never reached
    const inst = d.instance()!;
    expect(() => ring.kick()).not.toThrow();
    expect(inst.broken?.kind).toBe(kind);
    expect(ring.usedIdx()).toBe(1);
    expect(ring.get(RESP + 0x200n, 4)).toEqual([0, 0, 0, 0]);
    expect({ served: inst.served, interrupts: inst.interrupts, state: inst.state }).toEqual({ served: 1, interrupts: 0, state: 'live' });
    const errors = records.filter((r) => r.level >= 50);
    expect(errors).toHaveLength(1);
    expect(errors[0]).toMatchObject({ msg: 'SCMI cmdq is broken: no more requests are served', kind });
    expect(trace.events.filter((e) => e.kind === 'kernel.scmi-queue-broken').map(({ kind: k, agent, reason }) => ({ kind: k, agent, reason }))).toEqual([
      { kind: 'kernel.scmi-queue-broken', agent: 10, reason: kind },
    ]);
    // Later kicks: counted in a rate-limited warning, never thrown, never served.
    for (let i = 0; i < 3; i++) ring.kick();
    expect(ring.usedIdx()).toBe(1);
    expect(records.filter((r) => r.level >= 50)).toHaveLength(1);
    expect(records.filter((r) => r.msg === 'kick on a broken SCMI cmdq ignored')).toHaveLength(3);
    expect(b.emu.scmi.agent(10)).toBeDefined(); // the agent stays until unbind
    await expectCleanScmiShutdown(b.emu);
  });
});

describe('a ring in lent memory (S46)', () => {
  it('ADD_FUNCTION fails with EINVAL naming the lent binding; nothing is registered', async () => {
    const prog = guestProgram().virtioScmiProbe(MMIO_BASE, RING_BASE, { queueSize: Q }).mmioWrite(MARK, 8, 1).spin();
    const b = await bootScmiVm({ program: prog, ringLent: true });
    const d = new VmmScmi(b, { agentId: 11, name: 'vm-l', deviceMask: 0n, protocolMask: 0 });
    await d.runToWrite(b.vcpus[0]!, MARK, 1n);
    expect(d.addError).toMatchObject({ code: 'EINVAL' });
    expect((d.addError as Error).message).toMatch(/descriptor table at 0x90000000 .* not memory shared with the host \(lent\)/);
    expect(d.functionAdded).toBe(false);
    expect(d.regs.status & 64).toBe(64); // the VMM marks the device DEVICE_NEEDS_RESET
    expect(b.emu.scmi.agents().map((a) => a.agentId)).toEqual([1]);
    expect(d.instance()).toBeUndefined();
    await expectCleanScmiShutdown(b.emu);
  });
});
