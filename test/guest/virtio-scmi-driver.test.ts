// The guest's virtio-scmi driver (src/guest/virtio-scmi-driver.ts) against a test-only device:
// a virtio-mmio v2 register window and a split-ring responder written here from
// scmi-virtio.md §1–§5 (no import of src/virtio or src/scmi). Checks the exact register
// sequence of probe, the descriptor/ring bytes the driver writes (golden bytes typed from §4),
// replies (success, error, malformed), failures (bad magic/version/ID, refused features, no
// queue), poll mode, the channel lock, the program ops through bootGuest, and the program
// encoding of the new ops (golden images typed from docs/guest-images.md).
import { describe, expect, it } from 'vitest';
import {
  decodeGuestProgram,
  encodeGuestProgram,
  formatGuestInstruction,
  GuestException,
  guestProgram,
  ProgramEsr,
  VIRTIO_SCMI_STATE_KEY,
  VirtioScmiEsr,
  virtioScmiCall,
  virtioScmiChannel,
  virtioScmiLayout,
  virtioScmiProbe,
  type GuestInstruction,
  type GuestOp,
  type GuestThread,
  type ScmiCallReply,
  type ScmiRequest,
  type VirtioScmiChannel,
  type VirtioScmiProbeOptions,
} from '../../src/guest/index.js';
import { fromHex, toHex } from '../../src/shared/bytes.js';
import { WireError } from '../../src/shared/wire-error.js';
import { FakeMemory, FakeVcpu, makeCpu, type Exit, type TestCpu } from './support/fake-driver.js';

const MMIO = 0x1000_0000;
/** Above 4 GiB so that every High address register carries a 1. */
const RING = 0x1_0010_0000;
const IMAGE = 0x8000_0000;
const INTID = 40;

// ---------------------------------------------------------------------------------------------
// The test device (scmi-virtio.md §1 register map, §2 status, §4 ring layout, §5 device rules).

type RegAccess = readonly ['R' | 'W', number, number];

interface Queue {
  num: number;
  ready: number;
  desc: bigint;
  avail: bigint;
  used: bigint;
  lastAvail: number;
  usedIdx: number;
}

/** What the responder writes for one request: the response bytes, or a raw used entry. */
type Responder = (request: Uint8Array) => Uint8Array | { id?: number; len: number; bytes?: Uint8Array; bumpIdx?: number };

class TestDevice {
  /** Register accesses: [R|W, offset, value] (every access here is 4 bytes; checked). */
  readonly log: RegAccess[] = [];
  magic = 0x7472_6976;
  version = 2;
  deviceId = 32;
  /** Offered features: VERSION_1 (bit 32) | P2A_CHANNELS (bit 0). */
  offered = (1n << 32n) | 1n;
  rejectFeatures = false;
  queueNumMax = [64, 64];
  /** Reads of Status after the reset that still show the old value. */
  slowReset = 0;
  status = 0;
  devSel = 0;
  drvSel = 0;
  driverFeatures = 0n;
  queueSel = 0;
  readonly queues: Queue[] = [0, 1].map(() => ({ num: 0, ready: 0, desc: 0n, avail: 0n, used: 0n, lastAvail: 0, usedIdx: 0 }));
  isr = 0;
  irqPending = false;
  /** Answer kicks only after this many guest spins (poll tests); 0 = at the kick. */
  delaySpins = 0;
  #spinsLeft = -1;
  readonly requests: Uint8Array[] = [];
  readonly notifies: number[] = [];
  respond: Responder = (req) => concat(req.subarray(0, 4), u32le(0));

  constructor(readonly mem: FakeMemory) {}

  read(off: number, len: number): bigint {
    expect(len).toBe(4);
    const v = this.#read(off);
    this.log.push(['R', off, v]);
    return BigInt(v);
  }

  #read(off: number): number {
    const q = this.queues[this.queueSel]!;
    switch (off) {
      case 0x000: return this.magic;
      case 0x004: return this.version;
      case 0x008: return this.deviceId;
      case 0x010: return Number((this.offered >> BigInt(32 * this.devSel)) & 0xffff_ffffn);
      case 0x034: return this.queueNumMax[this.queueSel] ?? 0;
      case 0x044: return q.ready;
      case 0x060: return this.isr;
      case 0x070:
        if (this.slowReset > 0) {
          this.slowReset--;
          return 0x0f;
        }
        return this.status;
      default: throw new Error(`read of unexpected register 0x${off.toString(16)}`);
    }
  }

  write(off: number, len: number, value: bigint): void {
    expect(len).toBe(4);
    const v = Number(value);
    this.log.push(['W', off, v]);
    const q = this.queues[this.queueSel]!;
    const lo = (old: bigint): bigint => (old & ~0xffff_ffffn) | BigInt(v);
    const hi = (old: bigint): bigint => (old & 0xffff_ffffn) | (BigInt(v) << 32n);
    switch (off) {
      case 0x014: this.devSel = v; break;
      case 0x020: this.driverFeatures = this.drvSel === 0 ? lo(this.driverFeatures) : hi(this.driverFeatures); break;
      case 0x024: this.drvSel = v; break;
      case 0x030: this.queueSel = v; break;
      case 0x038: q.num = v; break;
      case 0x044: q.ready = v; break;
      case 0x050:
        this.notifies.push(v);
        if (v === 0) {
          if (this.delaySpins > 0) this.#spinsLeft = this.delaySpins;
          else this.process();
        }
        break;
      case 0x064: this.isr &= ~v; break;
      case 0x070:
        // A device that refuses the features leaves FEATURES_OK clear (§2).
        this.status = this.rejectFeatures ? v & ~8 : v;
        break;
      case 0x080: q.desc = lo(q.desc); break;
      case 0x084: q.desc = hi(q.desc); break;
      case 0x090: q.avail = lo(q.avail); break;
      case 0x094: q.avail = hi(q.avail); break;
      case 0x0a0: q.used = lo(q.used); break;
      case 0x0a4: q.used = hi(q.used); break;
      default: throw new Error(`write of unexpected register 0x${off.toString(16)}`);
    }
  }

  /** The guest spun once (poll mode): answer a delayed kick when its time comes. */
  spin(): void {
    if (this.#spinsLeft > 0 && --this.#spinsLeft === 0) this.process();
  }

  /** Device processing of the cmdq (§4): every new chain, in order. */
  process(): void {
    const q = this.queues[0]!;
    const Q = q.num;
    const avail = Number(q.avail);
    const used = Number(q.used);
    const idx = Number(this.mem.readValue(avail + 2, 2));
    while (q.lastAvail !== idx) {
      const head = Number(this.mem.readValue(avail + 4 + 2 * (q.lastAvail % Q), 2));
      q.lastAvail = (q.lastAvail + 1) & 0xffff;
      const d0 = this.#desc(head);
      expect(d0.flags).toBe(1); // NEXT, readable
      const d1 = this.#desc(d0.next);
      expect(d1.flags).toBe(2); // WRITE, last
      const req = this.mem.read(d0.addr, d0.len);
      this.requests.push(req);
      const r = this.respond(req);
      let id = head;
      let len: number;
      let bump = 1;
      if (r instanceof Uint8Array) {
        expect(r.length).toBeLessThanOrEqual(d1.len);
        this.mem.write(d1.addr, r);
        len = r.length;
      } else {
        if (r.bytes) this.mem.write(d1.addr, r.bytes);
        id = r.id ?? head;
        len = r.len;
        bump = r.bumpIdx ?? 1;
      }
      this.mem.writeValue(used + 4 + 8 * (q.usedIdx % Q), 4, BigInt(id));
      this.mem.writeValue(used + 8 + 8 * (q.usedIdx % Q), 4, BigInt(len));
      q.usedIdx = (q.usedIdx + bump) & 0xffff;
      this.mem.writeValue(used + 2, 2, BigInt(q.usedIdx));
    }
    // Interrupt unless the driver suppressed it (avail.flags bit 0).
    if ((this.mem.readValue(avail, 2) & 1n) === 0n) {
      this.isr |= 1;
      this.irqPending = true;
    }
  }

  #desc(i: number): { addr: number; len: number; flags: number; next: number } {
    const at = Number(this.queues[0]!.desc) + 16 * i;
    return {
      addr: Number(this.mem.readValue(at, 8)),
      len: Number(this.mem.readValue(at + 8, 4)),
      flags: Number(this.mem.readValue(at + 12, 2)),
      next: Number(this.mem.readValue(at + 14, 2)),
    };
  }
}

function u32le(...ws: number[]): Uint8Array {
  const out = new Uint8Array(4 * ws.length);
  const v = new DataView(out.buffer);
  ws.forEach((w, k) => v.setUint32(4 * k, w >>> 0, true));
  return out;
}
function concat(...parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let o = 0;
  for (const p of parts) {
    out.set(p, o);
    o += p.length;
  }
  return out;
}

// ---------------------------------------------------------------------------------------------
// Running the driver (or a program) against the device.

interface Rig {
  mem: FakeMemory;
  dev: TestDevice;
  cpu: TestCpu;
}

function rig(shared = new Map<string, unknown>(), index = 0): Rig {
  const mem = new FakeMemory().map(RING, 0x4000).map(IMAGE, 0x4000);
  return { mem, dev: new TestDevice(mem), cpu: makeCpu({ index, vmShared: shared }) };
}

/** A thread that runs `g` and keeps its return value. */
function capture<T>(g: Generator<GuestOp, T, bigint>, box: { value?: T }): GuestThread {
  return (function* () {
    box.value = yield* g;
  })();
}

/** Answer MMIO exits from the device and WFIs from its interrupt until the guest stops otherwise. */
function drive(v: FakeVcpu, dev: TestDevice, opts: { wakes?: number[] } = {}): Exit {
  for (;;) {
    const e = v.run();
    if (e.kind === 'mmio-read' && e.addr >= MMIO && e.addr < MMIO + 0x200) v.supply(dev.read(e.addr - MMIO, e.len));
    else if (e.kind === 'mmio-write' && e.addr >= MMIO && e.addr < MMIO + 0x200) dev.write(e.addr - MMIO, e.len, e.value);
    else if (e.kind === 'wfi') {
      const forced = opts.wakes?.shift();
      if (forced !== undefined) v.supply(BigInt(forced));
      else if (dev.irqPending) {
        dev.irqPending = false;
        v.supply(BigInt(INTID));
      } else return e;
    } else if (e.kind === 'spin') {
      dev.spin();
      if (dev.delaySpins === 0) return e;
    } else return e;
  }
}

function runDriver<T>(r: Rig, g: Generator<GuestOp, T, bigint>, opts: { wakes?: number[] } = {}): { exit: Exit; value: T | undefined; v: FakeVcpu } {
  const box: { value?: T } = {};
  const v = new FakeVcpu(r.mem, r.cpu, {}, capture(g, box));
  const exit = drive(v, r.dev, opts);
  return { exit, value: box.value, v };
}

const PROBE16: VirtioScmiProbeOptions = { mmioBase: MMIO, ringBase: RING, queueSize: 16 };

function probed(opts: VirtioScmiProbeOptions = PROBE16, r: Rig = rig()): Rig {
  const { exit, value } = runDriver(r, virtioScmiProbe(r.cpu, opts));
  expect(exit).toEqual({ kind: 'done' });
  expect(value).toBeDefined();
  r.dev.log.length = 0;
  return r;
}

function call(r: Rig, req: ScmiRequest, opts: { wakes?: number[] } = {}): { exit: Exit; reply: ScmiCallReply | undefined; v: FakeVcpu } {
  const { exit, value, v } = runDriver(r, virtioScmiCall(r.cpu, req), opts);
  return { exit, reply: value, v };
}

function crash(exit: Exit): GuestException {
  expect(exit.kind).toBe('crash');
  if (exit.kind !== 'crash') throw new Error('no crash');
  expect(exit.error).toBeInstanceOf(GuestException);
  return exit.error as GuestException;
}

const channel = (r: Rig): VirtioScmiChannel => r.cpu.vmShared.get(VIRTIO_SCMI_STATE_KEY) as VirtioScmiChannel;

// ---------------------------------------------------------------------------------------------

describe('ring area layout (§4 sizes)', () => {
  it('Q = 16: desc 256 bytes, avail 38, used 134 (aligned 4), buffers 8 × 272 (aligned 16)', () => {
    const l = virtioScmiLayout(RING, 16, false);
    expect(l.cmdq).toEqual({ size: 16, desc: RING, avail: RING + 0x100, used: RING + 0x128, buffers: RING + 0x1b0, end: RING + 0xa30 });
    expect(l.eventq).toBeUndefined();
    expect(l.size).toBe(0xa30);
  });

  it('Q = 4 with P2A: the eventq follows, with 4 × 136-byte buffers', () => {
    const l = virtioScmiLayout(RING, 4, true);
    expect(l.cmdq).toEqual({ size: 4, desc: RING, avail: RING + 0x40, used: RING + 0x50, buffers: RING + 0x80, end: RING + 0x2a0 });
    expect(l.eventq).toEqual({ size: 4, desc: RING + 0x2a0, avail: RING + 0x2e0, used: RING + 0x2f0, buffers: RING + 0x320, end: RING + 0x540 });
    expect(l.size).toBe(0x540);
  });

  it('rejects queue sizes that are not powers of two in [2, 32768]', () => {
    for (const q of [0, 1, 3, 24, 65536]) expect(() => virtioScmiLayout(RING, q, false)).toThrow(RangeError);
  });
});

describe('probe', () => {
  it('register sequence (§2 order, every access 4 bytes), accepting VERSION_1 only', () => {
    const r = rig();
    const { exit, value } = runDriver(r, virtioScmiProbe(r.cpu, PROBE16));
    expect(exit).toEqual({ kind: 'done' });
    expect(value).toBe(0x1_0000_0000n);
    // Typed from scmi-virtio.md §1/§2; the device offers VERSION_1 | P2A (0x1_0000_0001).
    expect(r.dev.log).toEqual([
      ['R', 0x000, 0x74726976],
      ['R', 0x004, 2],
      ['R', 0x008, 32],
      ['W', 0x070, 0],
      ['R', 0x070, 0],
      ['W', 0x070, 1],
      ['W', 0x070, 3],
      ['W', 0x014, 0],
      ['R', 0x010, 1],
      ['W', 0x014, 1],
      ['R', 0x010, 1],
      ['W', 0x024, 0],
      ['W', 0x020, 0],
      ['W', 0x024, 1],
      ['W', 0x020, 1],
      ['W', 0x070, 0x0b],
      ['R', 0x070, 0x0b],
      ['W', 0x030, 0],
      ['R', 0x034, 64],
      ['W', 0x038, 16],
      ['W', 0x080, 0x0010_0000],
      ['W', 0x084, 1],
      ['W', 0x090, 0x0010_0100],
      ['W', 0x094, 1],
      ['W', 0x0a0, 0x0010_0128],
      ['W', 0x0a4, 1],
      ['W', 0x044, 1],
      ['W', 0x070, 0x0f],
    ]);
    expect(r.dev.driverFeatures).toBe(0x1_0000_0000n);
    expect(r.dev.status).toBe(0x0f);
    const ch = channel(r);
    expect(ch.owner).toBe(-1);
    expect(ch.driver).toMatchObject({ mmioBase: MMIO, features: 0x1_0000_0000n, nextDesc: 0, availIdx: 0, lastUsed: 0, nextToken: 0 });
  });

  it('zeroes avail and used flags/idx in ring memory', () => {
    const r = rig();
    r.mem.write(RING + 0x100, fromHex('ff ff ff ff'));
    r.mem.write(RING + 0x128, fromHex('ff ff ff ff'));
    probed(PROBE16, r);
    expect(toHex(r.mem.read(RING + 0x100, 4))).toBe('00 00 00 00');
    expect(toHex(r.mem.read(RING + 0x128, 4))).toBe('00 00 00 00');
  });

  it('waits for the reset to show (Status reads 0), spinning between reads', () => {
    const r = rig();
    r.dev.slowReset = 2;
    const { exit, v } = runDriver(r, virtioScmiProbe(r.cpu, PROBE16));
    expect(exit).toEqual({ kind: 'spin' }); // the first spin between status reads reaches the test
    expect(r.dev.log.slice(3)).toEqual([['W', 0x070, 0], ['R', 0x070, 0x0f]]);
    expect(drive(v, r.dev)).toEqual({ kind: 'spin' });
    expect(drive(v, r.dev)).toEqual({ kind: 'done' });
    expect(r.dev.log.slice(3, 8)).toEqual([['W', 0x070, 0], ['R', 0x070, 0x0f], ['R', 0x070, 0x0f], ['R', 0x070, 0], ['W', 0x070, 1]]);
  });

  it('a device that never resets: PROBE_FAILED after 64 status reads', () => {
    const r = rig();
    r.dev.slowReset = 1000;
    const box = {};
    const v = new FakeVcpu(r.mem, r.cpu, {}, capture(virtioScmiProbe(r.cpu, PROBE16), box));
    let e = drive(v, r.dev);
    while (e.kind === 'spin') e = drive(v, r.dev);
    expect(crash(e).esr).toBe(VirtioScmiEsr.PROBE_FAILED);
    expect(r.dev.log.filter(([rw, off]) => rw === 'R' && off === 0x070)).toHaveLength(64);
  });

  it.each([
    ['bad magic', (d: TestDevice) => (d.magic = 0x12345678), 1],
    ['version 1 (legacy)', (d: TestDevice) => (d.version = 1), 2],
    ['device ID 0 (no device)', (d: TestDevice) => (d.deviceId = 0), 3],
    ['device ID 2 (not SCMI)', (d: TestDevice) => (d.deviceId = 2), 3],
  ])('%s: crash with PROBE_FAILED and nothing written to the device', (_n, set, reads) => {
    const r = rig();
    set(r.dev);
    const { exit } = runDriver(r, virtioScmiProbe(r.cpu, PROBE16));
    const e = crash(exit);
    expect(e.esr).toBe(VirtioScmiEsr.PROBE_FAILED);
    expect(e.esr).toBe(0xf200_0010n);
    expect(e.far).toBe(0n);
    expect(r.dev.log).toHaveLength(reads);
    expect(r.dev.log.every(([rw]) => rw === 'R')).toBe(true);
    expect(channel(r).driver).toBeUndefined();
    expect(channel(r).owner).toBe(-1); // the lock is released by the crash
  });

  it('a device that refuses the features (FEATURES_OK stays clear): FAILED written, crash', () => {
    const r = rig();
    r.dev.rejectFeatures = true;
    const { exit } = runDriver(r, virtioScmiProbe(r.cpu, PROBE16));
    expect(crash(exit).esr).toBe(VirtioScmiEsr.PROBE_FAILED);
    expect(r.dev.log.slice(-3)).toEqual([
      ['W', 0x070, 0x0b],
      ['R', 0x070, 0x03],
      ['W', 0x070, 0x83], // what the device shows | FAILED
    ]);
    expect(r.dev.queues[0]!.ready).toBe(0);
  });

  it('no VERSION_1 offered: FAILED written before any DriverFeatures write, crash', () => {
    const r = rig();
    r.dev.offered = 1n;
    const { exit } = runDriver(r, virtioScmiProbe(r.cpu, PROBE16));
    expect(crash(exit).esr).toBe(VirtioScmiEsr.PROBE_FAILED);
    expect(r.dev.log.slice(-2)).toEqual([['R', 0x010, 0], ['W', 0x070, 0x83]]);
  });

  it('QueueNumMax 0 (no cmdq): FAILED written, crash', () => {
    const r = rig();
    r.dev.queueNumMax = [0, 0];
    const { exit } = runDriver(r, virtioScmiProbe(r.cpu, PROBE16));
    expect(crash(exit).esr).toBe(VirtioScmiEsr.PROBE_FAILED);
    expect(r.dev.log.slice(-3)).toEqual([['W', 0x030, 0], ['R', 0x034, 0], ['W', 0x070, 0x8b]]);
  });

  it('QueueNumMax below the wanted size lowers Q to a power of two', () => {
    for (const [max, q] of [[8, 8], [12, 8], [2, 2]] as const) {
      const r = rig();
      r.dev.queueNumMax = [max, 0];
      probed(PROBE16, r);
      expect(r.dev.queues[0]!.num).toBe(q);
      expect(channel(r).driver!.cmdq).toEqual(virtioScmiLayout(RING, q, false).cmdq);
    }
  });

  it('P2A asked and offered: queue 1 set up after the cmdq, its buffers posted, kicked after DRIVER_OK', () => {
    const r = rig();
    const { exit, value } = runDriver(r, virtioScmiProbe(r.cpu, { mmioBase: MMIO, ringBase: RING, queueSize: 4, p2a: true }));
    expect(exit).toEqual({ kind: 'done' });
    expect(value).toBe(0x1_0000_0001n);
    expect(r.dev.log.slice(11, 15)).toEqual([['W', 0x024, 0], ['W', 0x020, 1], ['W', 0x024, 1], ['W', 0x020, 1]]);
    expect(r.dev.log.slice(17)).toEqual([
      ['W', 0x030, 0], ['R', 0x034, 64], ['W', 0x038, 4],
      ['W', 0x080, 0x0010_0000], ['W', 0x084, 1], ['W', 0x090, 0x0010_0040], ['W', 0x094, 1], ['W', 0x0a0, 0x0010_0050], ['W', 0x0a4, 1],
      ['W', 0x044, 1],
      ['W', 0x030, 1], ['R', 0x034, 64], ['W', 0x038, 4],
      ['W', 0x080, 0x0010_02a0], ['W', 0x084, 1], ['W', 0x090, 0x0010_02e0], ['W', 0x094, 1], ['W', 0x0a0, 0x0010_02f0], ['W', 0x0a4, 1],
      ['W', 0x044, 1],
      ['W', 0x070, 0x0f],
      ['W', 0x050, 1],
    ]);
    // eventq descriptors: {addr = buffer i, len 136, flags WRITE, next 0}; avail.idx 4, ring 0..3.
    expect(toHex(r.mem.read(RING + 0x2a0, 32))).toBe(toHex(fromHex(`
      20 03 10 00 01 00 00 00  88 00 00 00  02 00  00 00
      a8 03 10 00 01 00 00 00  88 00 00 00  02 00  00 00`)));
    expect(toHex(r.mem.read(RING + 0x2e0, 12))).toBe('00 00 04 00 00 00 01 00 02 00 03 00');
  });

  it('P2A asked but not offered: VERSION_1 only, no eventq', () => {
    const r = rig();
    r.dev.offered = 1n << 32n;
    const { value } = runDriver(r, virtioScmiProbe(r.cpu, { ...PROBE16, p2a: true }));
    expect(value).toBe(0x1_0000_0000n);
    expect(r.dev.log.some(([rw, off, v]) => rw === 'W' && off === 0x030 && v === 1)).toBe(false);
    expect(r.dev.notifies).toEqual([]);
  });
});

describe('a command', () => {
  it('CLOCK_CONFIG_SET: request, descriptor and ring bytes (§4, §5), the kick, the interrupt, the reply', () => {
    const r = probed();
    const { exit, reply } = call(r, { protocolId: 0x14, messageId: 0x7, params: [0, 1] });
    expect(exit).toEqual({ kind: 'done' });
    // Request buffer, slot 0 at RING + 0x1b0: header 0x00005007 (token 0), clock 0, attributes 1.
    expect(toHex(r.mem.read(RING + 0x1b0, 12))).toBe(toHex(fromHex('07 50 00 00  00 00 00 00  01 00 00 00')));
    expect(toHex(r.dev.requests[0]!)).toBe('07 50 00 00 00 00 00 00 01 00 00 00');
    // desc[0] readable 12 bytes NEXT → 1; desc[1] writable 136 bytes at RING + 0x238.
    expect(toHex(r.mem.read(RING, 32))).toBe(toHex(fromHex(`
      b0 01 10 00 01 00 00 00  0c 00 00 00  01 00  01 00
      38 02 10 00 01 00 00 00  88 00 00 00  02 00  00 00`)));
    // avail: flags 0, idx 1, ring[0] = 0.
    expect(toHex(r.mem.read(RING + 0x100, 6))).toBe('00 00 01 00 00 00');
    // Kick, then after the WFI: InterruptStatus read and acknowledged.
    expect(r.dev.log).toEqual([['W', 0x050, 0], ['R', 0x060, 1], ['W', 0x064, 1]]);
    expect(r.dev.isr).toBe(0);
    expect(reply).toEqual({ header: 0x5007, token: 0, status: 0, payload: [], payloadBytes: 0, usedLen: 8 });
    expect(channel(r).driver).toMatchObject({ nextDesc: 2, availIdx: 1, lastUsed: 1, nextToken: 1 });
  });

  it('the next command takes descriptors 2, 3 and slot 1, token 1; payload words from used len − 8', () => {
    const r = probed();
    call(r, { protocolId: 0x14, messageId: 0x7, params: [0, 1] });
    r.dev.respond = (req) => concat(req.subarray(0, 4), u32le(0, 100_000_000, 0));
    const { reply } = call(r, { protocolId: 0x14, messageId: 0x6, params: [0] }); // CLOCK_RATE_GET clock 0
    expect(toHex(r.mem.read(RING + 32, 32))).toBe(toHex(fromHex(`
      c0 02 10 00 01 00 00 00  08 00 00 00  01 00  03 00
      48 03 10 00 01 00 00 00  88 00 00 00  02 00  00 00`)));
    expect(toHex(r.mem.read(RING + 0x100, 8))).toBe('00 00 02 00 00 00 02 00');
    expect(toHex(r.dev.requests[1]!)).toBe('06 50 04 00 00 00 00 00'); // header 0x00045006: token 1
    expect(reply).toEqual({ header: 0x0004_5006, token: 1, status: 0, payload: [0x05f5_e100, 0], payloadBytes: 8, usedLen: 16 });
  });

  it('an explicit token goes into the header and does not advance the counter (§6 example 0x0FFC5007)', () => {
    const r = probed();
    call(r, { protocolId: 0x14, messageId: 0x7, params: [0, 1], token: 0x3ff });
    expect(toHex(r.dev.requests[0]!.subarray(0, 4))).toBe('07 50 fc 0f');
    expect(channel(r).driver!.nextToken).toBe(0);
  });

  it('the token counter wraps at 1024; descriptors and the avail ring wrap at Q', () => {
    const r = probed({ ...PROBE16, queueSize: 2 });
    channel(r).driver!.nextToken = 0x3ff;
    for (let k = 0; k < 3; k++) expect(call(r, { protocolId: 0x10, messageId: 0, params: [] }).reply!.status).toBe(0);
    expect(r.dev.requests.map((q) => toHex(q))).toEqual(['00 40 fc 0f', '00 40 00 00', '00 40 04 00']);
    expect(channel(r).driver).toMatchObject({ nextDesc: 0, availIdx: 3, lastUsed: 3, nextToken: 2 });
    expect(toHex(r.mem.read(RING + 0x20, 8))).toBe('00 00 03 00 00 00 00 00'); // Q = 2: avail at 0x20, ring[0], ring[1] = 0
  });

  it('an error reply: header and status only, used length 8 (§5)', () => {
    const r = probed();
    r.dev.respond = (req) => concat(req.subarray(0, 4), u32le(-4));
    const { reply } = call(r, { protocolId: 0x14, messageId: 0x3, params: [99] });
    expect(reply).toEqual({ header: 0x5003, token: 0, status: -4, payload: [], payloadBytes: 0, usedLen: 8 });
  });

  it('a payload that is not whole words: the last word is zero-padded', () => {
    const r = probed();
    r.dev.respond = (req) => concat(req.subarray(0, 4), u32le(0, 0x44332211), fromHex('aa bb'));
    r.mem.write(RING + 0x238 + 14, fromHex('cc dd')); // stale bytes after the reply
    const { reply } = call(r, { protocolId: 0x10, messageId: 0x3, params: [] });
    expect(reply).toMatchObject({ payload: [0x44332211, 0xbbaa], payloadBytes: 6, usedLen: 14 });
  });

  it('message_type goes into header bits 9:8', () => {
    const r = probed();
    call(r, { protocolId: 0x14, messageId: 0x5, messageType: 2, params: [], token: 5 });
    expect(toHex(r.dev.requests[0]!)).toBe('05 52 14 00'); // §6: 0x00145205
  });

  it('an interrupt that is not ours (InterruptStatus 0) or a config change only: back to WFI', () => {
    const r = probed();
    const saved = r.dev.process.bind(r.dev);
    r.dev.process = () => {}; // the kick does nothing yet
    const box: { value?: ScmiCallReply } = {};
    const v = new FakeVcpu(r.mem, r.cpu, {}, capture(virtioScmiCall(r.cpu, { protocolId: 0x10, messageId: 0, params: [] }), box));
    expect(drive(v, r.dev, { wakes: [0] })).toEqual({ kind: 'wfi' }); // spurious wake (INTID 0): ISR 0, no ack
    r.dev.isr = 2; // configuration change only: acknowledged, not ours
    expect(drive(v, r.dev)).toEqual({ kind: 'wfi' });
    r.dev.process = saved;
    r.dev.process();
    expect(drive(v, r.dev)).toEqual({ kind: 'done' });
    expect(box.value!.status).toBe(0);
    expect(r.dev.log).toEqual([
      ['W', 0x050, 0],
      ['R', 0x060, 0],
      ['R', 0x060, 2], ['W', 0x064, 2],
      ['R', 0x060, 1], ['W', 0x064, 1],
    ]);
  });

  it('an interrupt with no used progress (a stale one): acknowledged, then WFI again', () => {
    const r = probed();
    const saved = r.dev.process.bind(r.dev);
    r.dev.process = () => {};
    const box: { value?: ScmiCallReply } = {};
    const v = new FakeVcpu(r.mem, r.cpu, {}, capture(virtioScmiCall(r.cpu, { protocolId: 0x10, messageId: 0, params: [] }), box));
    r.dev.isr = 1;
    expect(drive(v, r.dev, { wakes: [INTID] })).toEqual({ kind: 'wfi' });
    r.dev.process = saved;
    r.dev.process();
    expect(drive(v, r.dev)).toEqual({ kind: 'done' });
    expect(r.dev.log).toEqual([['W', 0x050, 0], ['R', 0x060, 1], ['W', 0x064, 1], ['R', 0x060, 1], ['W', 0x064, 1]]);
  });

  it("poll mode: avail.flags NO_INTERRUPT, no WFI, no interrupt registers; spins until used.idx moves", () => {
    const r = probed();
    r.dev.delaySpins = 3;
    const { exit, reply, v } = call(r, { protocolId: 0x10, messageId: 0, params: [], wait: 'poll' });
    expect(exit).toEqual({ kind: 'done' });
    expect(reply!.status).toBe(0);
    expect(toHex(r.mem.read(RING + 0x100, 2))).toBe('01 00');
    expect(r.dev.log).toEqual([['W', 0x050, 0]]);
    expect(r.dev.irqPending).toBe(false);
    // Polls of used.idx: before each of the 3 spins, and the one that sees the entry.
    expect(v.accesses.filter((a) => a.kind === 'load' && a.addr === RING + 0x12a)).toHaveLength(4);
    // Back to irq mode: avail.flags is cleared again before the publish.
    r.dev.delaySpins = 0;
    call(r, { protocolId: 0x10, messageId: 0, params: [] });
    expect(toHex(r.mem.read(RING + 0x100, 2))).toBe('00 00');
  });

  it.each([
    ['a used id that is not the head', { id: 5, len: 8 }, /used id 5/],
    ['a used length below 8', { len: 4 }, /used length 4/],
    ['a used length above 136', { len: 140 }, /used length 140/],
    ['used.idx moving by 2', { len: 8, bumpIdx: 2 }, /used.idx moved from 0 to 2/],
  ] as const)('%s: TRANSPORT_ERROR crash', (_n, entry, why) => {
    const r = probed();
    r.dev.respond = (req) => ({ ...entry, bytes: concat(req.subarray(0, 4), u32le(0)) });
    const e = crash(call(r, { protocolId: 0x10, messageId: 0, params: [] }).exit);
    expect(e.esr).toBe(VirtioScmiEsr.TRANSPORT_ERROR);
    expect(e.esr).toBe(0xf200_0011n);
    expect(e.message).toMatch(why);
    expect(channel(r).owner).toBe(-1);
  });

  it('a header that is not echoed, or an error status with payload: TRANSPORT_ERROR crash', () => {
    let r = probed();
    r.dev.respond = () => u32le(0x4001, 0);
    expect(crash(call(r, { protocolId: 0x10, messageId: 0, params: [] }).exit).message).toMatch(/reply header 0x4001, sent 0x4000/);
    r = probed();
    r.dev.respond = (req) => concat(req.subarray(0, 4), u32le(-1, 0));
    expect(crash(call(r, { protocolId: 0x10, messageId: 0, params: [] }).exit).esr).toBe(VirtioScmiEsr.TRANSPORT_ERROR);
  });

  it('a command before any probe: PROBE_FAILED, nothing touched', () => {
    const r = rig();
    const { exit, v } = call(r, { protocolId: 0x10, messageId: 0, params: [] });
    expect(crash(exit).esr).toBe(VirtioScmiEsr.PROBE_FAILED);
    expect(v.accesses).toEqual([]);
    expect(r.dev.log).toEqual([]);
  });

  it('one command in flight per VM: a second vCPU spins until the first has its reply', () => {
    const shared = new Map<string, unknown>();
    const a = probed(PROBE16, rig(shared, 0));
    const b: Rig = { ...a, cpu: makeCpu({ index: 1, vmShared: shared }) };
    const saved = a.dev.process.bind(a.dev);
    a.dev.process = () => {};
    const boxA: { value?: ScmiCallReply } = {};
    const boxB: { value?: ScmiCallReply } = {};
    const va = new FakeVcpu(a.mem, a.cpu, {}, capture(virtioScmiCall(a.cpu, { protocolId: 0x10, messageId: 0, params: [] }), boxA));
    const vb = new FakeVcpu(b.mem, b.cpu, {}, capture(virtioScmiCall(b.cpu, { protocolId: 0x10, messageId: 1, params: [] }), boxB));
    expect(drive(va, a.dev)).toEqual({ kind: 'wfi' }); // A kicked, waits
    expect(virtioScmiChannel(a.cpu).owner).toBe(0);
    expect(vb.run()).toEqual({ kind: 'spin' }); // B cannot take the channel
    expect(vb.run()).toEqual({ kind: 'spin' });
    a.dev.process = saved;
    a.dev.process();
    expect(drive(va, a.dev)).toEqual({ kind: 'done' });
    expect(virtioScmiChannel(a.cpu).owner).toBe(-1);
    let e = drive(vb, a.dev);
    while (e.kind === 'spin') e = drive(vb, a.dev);
    expect(e).toEqual({ kind: 'done' });
    expect(boxA.value!.header).toBe(0x4000);
    expect(boxB.value!.header).toBe(0x0004_4001); // token 1 from the shared counter
  });
});

// ---------------------------------------------------------------------------------------------
// The program ops through bootGuest.

function bootProgram(r: Rig, image: Uint8Array): FakeVcpu {
  r.mem.write(IMAGE, image);
  return new FakeVcpu(r.mem, { ...r.cpu, entry: IMAGE }, {});
}

describe('program ops', () => {
  it('probe result = features; call result = status (sign-extended); payload words; runs to the end', () => {
    const r = rig();
    r.dev.respond = (req) => {
      const msg = req[0]!;
      if (msg === 0x6) return concat(req.subarray(0, 4), u32le(0, 100_000_000, 0)); // RATE_GET
      if (msg === 0x3) return concat(req.subarray(0, 4), u32le(-4)); // ATTRIBUTES of a missing clock
      return concat(req.subarray(0, 4), u32le(0));
    };
    const image = guestProgram()
      .virtioScmiProbe(MMIO, RING, { queueSize: 8 })
      .expect(0x1_0000_0000n)
      .scmiCall(0x14, 0x7, [0, 1], { expectStatus: 0, expectPayload: [] })
      .scmiCall(0x14, 0x6, [0], { expectPayload: [100_000_000, 0] })
      .expect(0)
      .scmiReplyWord(0)
      .expect(100_000_000)
      .scmiCall(0x14, 0x3, [7], { wait: 'poll' })
      .expect(-4)
      .mmioRead(0x6000, 8)
      .build();
    const v = bootProgram(r, image);
    expect(drive(v, r.dev)).toEqual({ kind: 'mmio-read', addr: 0x6000, len: 8 });
    expect(r.dev.requests.map((q) => toHex(q))).toEqual([
      '07 50 00 00 00 00 00 00 01 00 00 00',
      '06 50 04 00 00 00 00 00',
      '03 50 08 00 07 00 00 00',
    ]);
  });

  it('an unexpected status crashes with SCMI_EXPECT_FAILED (BRK #0x12)', () => {
    const r = rig();
    r.dev.respond = (req) => concat(req.subarray(0, 4), u32le(-3));
    const v = bootProgram(r, guestProgram().virtioScmiProbe(MMIO, RING).scmiCall(0x14, 0x7, [0, 1], { expectStatus: 0 }).build());
    const e = crash(drive(v, r.dev));
    expect(e.esr).toBe(ProgramEsr.SCMI_EXPECT_FAILED);
    expect(e.esr).toBe(0xf200_0012n);
    expect(e.message).toMatch(/status -3, expected 0/);
  });

  it('an unexpected payload (a different word, or a different length) crashes', () => {
    for (const expectPayload of [[100_000_000, 1], [100_000_000], [100_000_000, 0, 0]]) {
      const r = rig();
      r.dev.respond = (req) => concat(req.subarray(0, 4), u32le(0, 100_000_000, 0));
      const v = bootProgram(r, guestProgram().virtioScmiProbe(MMIO, RING).scmiCall(0x14, 0x6, [0], { expectPayload }).build());
      expect(crash(drive(v, r.dev)).esr).toBe(ProgramEsr.SCMI_EXPECT_FAILED);
    }
  });

  it('scmi-reply-word past the payload, or before any reply, crashes', () => {
    let r = rig();
    let v = bootProgram(r, guestProgram().virtioScmiProbe(MMIO, RING).scmiCall(0x10, 0x0, []).scmiReplyWord(0).build());
    expect(crash(drive(v, r.dev)).message).toMatch(/0 payload words/);
    r = rig();
    v = bootProgram(r, guestProgram().scmiReplyWord(0).build());
    expect(crash(drive(v, r.dev)).esr).toBe(ProgramEsr.SCMI_EXPECT_FAILED);
  });

  it('a device the driver cannot use crashes the program at the probe', () => {
    const r = rig();
    r.dev.deviceId = 0;
    const v = bootProgram(r, guestProgram().virtioScmiProbe(MMIO, RING).mmioRead(0x6000).build());
    expect(crash(drive(v, r.dev)).esr).toBe(VirtioScmiEsr.PROBE_FAILED);
  });

  it('calls inside a loop step over their data slots', () => {
    const r = rig();
    const v = bootProgram(
      r,
      guestProgram()
        .virtioScmiProbe(MMIO, RING, { queueSize: 4 })
        .repeat(5, (p) => p.scmiCall(0x80, 0x1, [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11], { expectStatus: 0 }))
        .mmioRead(0x6000)
        .build(),
    );
    expect(drive(v, r.dev)).toEqual({ kind: 'mmio-read', addr: 0x6000, len: 8 });
    expect(r.dev.requests).toHaveLength(5);
    expect(r.dev.requests[4]!.length).toBe(4 + 44);
  });
});

// ---------------------------------------------------------------------------------------------
// Encoding (docs/guest-images.md "virtio-scmi ops").

// Provenance: typed by hand from docs/guest-images.md, not captured from the encoder.
const GOLDEN_A = {
  program: () =>
    guestProgram()
      .virtioScmiProbe(0x1000_0000, 0x1_0010_0000, { queueSize: 16 })
      .scmiCall(0x14, 0x7, [0, 1], { expectStatus: 0 })
      .scmiReplyWord(2),
  bytes: fromHex(`
    47 45 4d 55 50 52 4f 47   01 00 00 00   e0 00 00 00
    04 00 00 00   30 00 00 00   00 00 00 00 00 00 00 00

    20 00 00 00   00 00 00 00
    00 00 00 10 00 00 00 00   00 00 10 00 01 00 00 00
    10 00 00 00 00 00 00 00   00 00 00 00 00 00 00 00   00 00 00 00 00 00 00 00

    21 02 00 00   07 50 00 00
    04 00 00 00 00 00 00 00   00 00 00 00 00 00 00 00
    00 00 00 00 00 00 00 00   00 00 00 00 00 00 00 00   00 00 00 00 00 00 00 00

    22 02 00 00   00 00 00 00
    00 00 00 00 01 00 00 00   00 00 00 00 00 00 00 00
    00 00 00 00 00 00 00 00   00 00 00 00 00 00 00 00   00 00 00 00 00 00 00 00

    23 00 00 00   00 00 00 00
    02 00 00 00 00 00 00 00   00 00 00 00 00 00 00 00
    00 00 00 00 00 00 00 00   00 00 00 00 00 00 00 00   00 00 00 00 00 00 00 00
  `),
  // header: 4 instructions, length 224 = 32 + 4 × 48
  // [0] VIRTIO_SCMI_PROBE 0x20 | a0 MMIO 0x10000000 | a1 ring 0x1_00100000 | a2 Q 16 | a3 flags 0
  // [1] SCMI_CALL 0x21, len 2 params, imm header 0x00005007 | a0 flags EXPECT_STATUS (4) | a1 status 0
  // [2] SCMI_DATA 0x22, len 2 | words 0, 1
  // [3] SCMI_REPLY_WORD 0x23 | a0 index 2
  instructions: [
    { op: 'virtio-scmi-probe', mmioBase: 0x1000_0000n, ringBase: 0x1_0010_0000n, queueSize: 16, p2a: false },
    { op: 'scmi-call', protocolId: 0x14, messageId: 0x7, messageType: 0, wait: 'irq', params: [0, 1], expectStatus: 0 },
    { op: 'scmi-data', words: [0, 1] },
    { op: 'scmi-reply-word', index: 2 },
  ] satisfies GuestInstruction[],
};

const GOLDEN_B = {
  // Voltage LEVEL_SET domain 0, flags 0, 900000 µV, token 2 (§6 example header 0x00085C07),
  // polled, expecting DENIED (−3) and an empty payload; P2A probe with Q = 4.
  program: () =>
    guestProgram()
      .virtioScmiProbe(0x1c0d_0000, 0x8000_4000, { queueSize: 4, p2a: true })
      .scmiCall(0x17, 0x7, [0, 0, 900_000], { token: 2, wait: 'poll', expectStatus: -3, expectPayload: [] }),
  bytes: fromHex(`
    47 45 4d 55 50 52 4f 47   01 00 00 00   b0 00 00 00
    03 00 00 00   30 00 00 00   00 00 00 00 00 00 00 00

    20 00 00 00   00 00 00 00
    00 00 0d 1c 00 00 00 00   00 40 00 80 00 00 00 00
    04 00 00 00 00 00 00 00   01 00 00 00 00 00 00 00   00 00 00 00 00 00 00 00

    21 03 00 00   07 5c 08 00
    0f 00 00 00 00 00 00 00   fd ff ff ff 00 00 00 00
    00 00 00 00 00 00 00 00   00 00 00 00 00 00 00 00   00 00 00 00 00 00 00 00

    22 03 00 00   00 00 00 00
    00 00 00 00 00 00 00 00   a0 bb 0d 00 00 00 00 00
    00 00 00 00 00 00 00 00   00 00 00 00 00 00 00 00   00 00 00 00 00 00 00 00
  `),
  // [1] flags 0x0F = POLL | TOKEN | EXPECT_STATUS | EXPECT_PAYLOAD, payload count 0; a1 = 0xFFFFFFFD
  instructions: [
    { op: 'virtio-scmi-probe', mmioBase: 0x1c0d_0000n, ringBase: 0x8000_4000n, queueSize: 4, p2a: true },
    { op: 'scmi-call', protocolId: 0x17, messageId: 0x7, messageType: 0, token: 2, wait: 'poll', params: [0, 0, 900_000], expectStatus: -3, expectPayload: [] },
    { op: 'scmi-data', words: [0, 0, 900_000] },
  ] satisfies GuestInstruction[],
};

const GOLDEN_C = {
  // 9 parameters and 3 expected payload words: data slots of 10 and 2 words; message_type 3.
  program: () => guestProgram().scmiCall(0x80, 0x1, [1, 2, 3, 4, 5, 6, 7, 8, 9], { messageType: 3, expectPayload: [0xaabb_ccdd, 0x11, -2] }),
  bytes: fromHex(`
    47 45 4d 55 50 52 4f 47   01 00 00 00   b0 00 00 00
    03 00 00 00   30 00 00 00   00 00 00 00 00 00 00 00

    21 09 00 00   01 03 02 00
    08 03 00 00 00 00 00 00   00 00 00 00 00 00 00 00
    00 00 00 00 00 00 00 00   00 00 00 00 00 00 00 00   00 00 00 00 00 00 00 00

    22 0a 00 00   00 00 00 00
    01 00 00 00 02 00 00 00   03 00 00 00 04 00 00 00
    05 00 00 00 06 00 00 00   07 00 00 00 08 00 00 00   09 00 00 00 dd cc bb aa

    22 02 00 00   00 00 00 00
    11 00 00 00 fe ff ff ff   00 00 00 00 00 00 00 00
    00 00 00 00 00 00 00 00   00 00 00 00 00 00 00 00   00 00 00 00 00 00 00 00
  `),
  // [0] imm = 0x01 | 3 << 8 | 0x80 << 10 = 0x00020301; a0 = EXPECT_PAYLOAD (8) | 3 << 8
  instructions: [
    { op: 'scmi-call', protocolId: 0x80, messageId: 0x1, messageType: 3, wait: 'irq', params: [1, 2, 3, 4, 5, 6, 7, 8, 9], expectPayload: [0xaabb_ccdd, 0x11, 0xffff_fffe] },
    { op: 'scmi-data', words: [1, 2, 3, 4, 5, 6, 7, 8, 9, 0xaabb_ccdd] },
    { op: 'scmi-data', words: [0x11, 0xffff_fffe] },
  ] satisfies GuestInstruction[],
};

describe('encoding of the virtio-scmi ops', () => {
  describe.each([
    ['A: probe, call with expected status, reply word', GOLDEN_A],
    ['B: P2A probe; polled call with token and expectations', GOLDEN_B],
    ['C: a call spanning two data slots', GOLDEN_C],
  ])('golden %s', (_n, g) => {
    it('generate', () => expect(toHex(g.program().build())).toBe(toHex(g.bytes)));
    it('parse', () => expect(decodeGuestProgram(g.bytes)).toEqual({ version: 1, instructions: g.instructions }));
    it('builder list = decoded list', () => expect(g.program().instructions()).toEqual(g.instructions));
    it('encode(list) = bytes', () => expect(toHex(encodeGuestProgram(g.instructions))).toBe(toHex(g.bytes)));
  });

  it('formats for traces', () => {
    expect([...GOLDEN_A.instructions, ...GOLDEN_B.instructions.slice(1, 2)].map(formatGuestInstruction)).toEqual([
      'virtio-scmi-probe mmio 0x10000000 ring 0x100100000 queue 16',
      'scmi-call protocol 0x14 message 0x07 [0x0, 0x1] token auto irq expect status 0',
      'scmi-data [0x0, 0x1]',
      'scmi-reply-word 2',
      'scmi-call protocol 0x17 message 0x07 [0x0, 0x0, 0xDBBA0] token 2 poll expect status -3 expect payload []',
    ]);
  });

  it('round trip of many shapes (0..32 params, 0..32 expected words, tokens, modes)', () => {
    for (const n of [0, 1, 9, 10, 11, 20, 32]) {
      for (const m of [undefined, 0, 1, 10, 32]) {
        const p = guestProgram().scmiCall(n, 255 - n, Array.from({ length: n }, (_, k) => (k * 0x0101_0101) >>> 0), {
          ...(m !== undefined ? { expectPayload: Array.from({ length: m }, (_, k) => 0xffff_ffff - k) } : {}),
          ...(n % 2 === 0 ? { token: n * 31, wait: 'poll' as const } : { expectStatus: -10 }),
        });
        const ins = p.instructions();
        expect(ins).toHaveLength(1 + Math.ceil((n + (m ?? 0)) / 10));
        expect(decodeGuestProgram(p.build()).instructions).toEqual(ins);
      }
    }
  });

  const mutate = (g: { bytes: Uint8Array }, at: number, value: number): Uint8Array => {
    const b = g.bytes.slice();
    b[at] = value;
    return b;
  };
  const A0 = 32, A1 = 80, A2 = 128, A3 = 176; // instruction offsets in GOLDEN_A
  it.each([
    ['probe flags bit 1', mutate(GOLDEN_A, A0 + 32, 2), 'reserved'],
    ['probe a4', mutate(GOLDEN_A, A0 + 40, 1), 'reserved'],
    ['probe len', mutate(GOLDEN_A, A0 + 1, 4), 'reserved'],
    ['probe MMIO base not 4-aligned', mutate(GOLDEN_A, A0 + 8, 2), 'bad-value'],
    ['probe ring not 16-aligned', mutate(GOLDEN_A, A0 + 16, 8), 'bad-value'],
    ['probe queue size 3', mutate(GOLDEN_A, A0 + 24, 3), 'bad-value'],
    ['probe queue size 0', mutate(GOLDEN_A, A0 + 24, 0), 'bad-value'],
    ['probe ring past 2^48', mutate(GOLDEN_A, A0 + 22, 1), 'bad-value'],
    ['call header bits 31:28', mutate(GOLDEN_A, A1 + 7, 0x10), 'reserved'],
    ['call token bits without TOKEN', mutate(GOLDEN_A, A1 + 6, 0x04), 'reserved'],
    ['call flag bit 4', mutate(GOLDEN_A, A1 + 8, 0x14), 'reserved'],
    ['call payload count without EXPECT_PAYLOAD', mutate(GOLDEN_A, A1 + 9, 1), 'reserved'],
    ['call expected status above 32 bits', mutate(GOLDEN_A, A1 + 20, 1), 'reserved'],
    ['call expected status without EXPECT_STATUS', (() => { const b = mutate(GOLDEN_A, A1 + 8, 0); b[A1 + 16] = 1; return b; })(), 'reserved'],
    ['call a2', mutate(GOLDEN_A, A1 + 24, 1), 'reserved'],
    ['call with 33 params', mutate(GOLDEN_A, A1 + 1, 33), 'bad-value'],
    ['call needing 3 words, data has 2', mutate(GOLDEN_A, A1 + 1, 3), 'bad-value'],
    ['data word past its count', mutate(GOLDEN_A, A2 + 16, 1), 'reserved'],
    ['data count 0', mutate(GOLDEN_A, A2 + 1, 0), 'bad-value'],
    ['data imm', mutate(GOLDEN_A, A2 + 4, 1), 'reserved'],
    ['call without its data (data slot replaced by a wfi)', (() => { const b = GOLDEN_A.bytes.slice(); b.fill(0, A2, A2 + 48); b[A2] = 0x07; return b; })(), 'bad-value'],
    ['a stray data slot', (() => { const b = mutate(GOLDEN_A, A3, 0x22); b[A3 + 1] = 1; return b; })(), 'bad-value'],
    ['reply word index 32', mutate(GOLDEN_A, A3 + 8, 32), 'bad-value'],
    ['reply word a1', mutate(GOLDEN_A, A3 + 16, 1), 'reserved'],
  ])('rejects %s', (_n, bytes, reason) => {
    let err: unknown;
    try {
      decodeGuestProgram(bytes);
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(WireError);
    expect((err as WireError).reason).toBe(reason);
  });

  it('control flow may not land in a call\'s data slots', () => {
    const call: GuestInstruction = { op: 'scmi-call', protocolId: 0x10, messageId: 0, messageType: 0, wait: 'irq', params: [1] };
    const data: GuestInstruction = { op: 'scmi-data', words: [1] };
    expect(() => decodeGuestProgram(encodeGuestProgram([call, data, { op: 'jump', target: 1 }]))).toThrow(/into the data/);
    expect(() => decodeGuestProgram(encodeGuestProgram([{ op: 'if-cpu', cpu: 0, skip: 2 }, call, data]))).toThrow(/into the data/);
    expect(decodeGuestProgram(encodeGuestProgram([{ op: 'if-cpu', cpu: 0, skip: 3 }, call, data, { op: 'jump', target: 1 }])).instructions).toHaveLength(4);
  });

  it('the encoder checks the data entries against their call', () => {
    const call: GuestInstruction = { op: 'scmi-call', protocolId: 0x10, messageId: 0, messageType: 0, wait: 'irq', params: [1], expectPayload: [2] };
    expect(() => encodeGuestProgram([call])).toThrow(RangeError);
    expect(() => encodeGuestProgram([call, { op: 'scmi-data', words: [1] }])).toThrow(RangeError);
    expect(() => encodeGuestProgram([call, { op: 'scmi-data', words: [1, 3] }])).toThrow(RangeError);
    expect(() => encodeGuestProgram([call, { op: 'scmi-data', words: [1, 2] }, { op: 'scmi-data', words: [1] }])).toThrow(RangeError);
    expect(() => encodeGuestProgram([{ op: 'scmi-data', words: [1] }])).toThrow(RangeError);
    expect(() => encodeGuestProgram([call, { op: 'wfi' }])).toThrow(RangeError);
    expect(encodeGuestProgram([call, { op: 'scmi-data', words: [1, 2] }]).length).toBe(32 + 96);
  });

  it('the builder rejects values that do not fit', () => {
    const p = (): ReturnType<typeof guestProgram> => guestProgram();
    expect(() => p().virtioScmiProbe(MMIO, RING, { queueSize: 3 })).toThrow(RangeError);
    expect(() => p().virtioScmiProbe(MMIO, RING, { queueSize: 65536 })).toThrow(RangeError);
    expect(() => p().virtioScmiProbe(MMIO, RING + 8)).toThrow(RangeError);
    expect(() => p().virtioScmiProbe(MMIO + 2, RING)).toThrow(RangeError);
    expect(() => p().virtioScmiProbe(MMIO, 2 ** 48 - 0x100)).toThrow(RangeError);
    expect(() => p().scmiCall(0x100, 0)).toThrow(RangeError);
    expect(() => p().scmiCall(0x10, 0x100)).toThrow(RangeError);
    expect(() => p().scmiCall(0x10, 0, new Array<number>(33).fill(0))).toThrow(RangeError);
    expect(() => p().scmiCall(0x10, 0, [2 ** 32])).toThrow(RangeError);
    expect(() => p().scmiCall(0x10, 0, [-(2 ** 31) - 1])).toThrow(RangeError);
    expect(() => p().scmiCall(0x10, 0, [], { token: 1024 })).toThrow(RangeError);
    expect(() => p().scmiCall(0x10, 0, [], { messageType: 4 })).toThrow(RangeError);
    expect(() => p().scmiCall(0x10, 0, [], { expectStatus: 2 ** 32 })).toThrow(RangeError);
    expect(() => p().scmiCall(0x10, 0, [], { expectPayload: new Array<number>(33).fill(0) })).toThrow(RangeError);
    expect(() => p().scmiReplyWord(32)).toThrow(RangeError);
    // Negative words are two's complement; an s32 status may be given as its u32 form.
    expect(p().scmiCall(0x17, 7, [-1], { expectStatus: 0xffff_fffd }).instructions()[0]).toMatchObject({ params: [0xffff_ffff], expectStatus: -3 });
  });
});

// The state lives in the VM's shared scratch, not in the module.
describe('driver state', () => {
  it('is per VM: two VMs (two vmShared maps) have independent channels', () => {
    const a = probed();
    const b = probed(PROBE16, rig());
    call(a, { protocolId: 0x10, messageId: 0, params: [] });
    expect(channel(a).driver!.nextToken).toBe(1);
    expect(channel(b).driver!.nextToken).toBe(0);
  });
});
