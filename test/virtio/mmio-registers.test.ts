/**
 * Tests of the virtio-mmio (version 2) register-window model (src/virtio/mmio-registers.ts):
 * register offsets and identity values typed by hand from scmi-virtio.md §1, the driver
 * initialisation order of §2 (including FEATURES_OK refused without VERSION_1), the SCMI queues
 * of §5 (eventq only with P2A), the access-width rule, queue registers frozen while ready,
 * kicks, interrupt status and acknowledge, reset, DEVICE_NEEDS_RESET, ConfigGeneration, SHM
 * registers, and a queue set up through the window driving a SplitQueue end to end.
 */
import { describe, expect, it } from 'vitest';
import { VirtioMmioRegisters, scmiVirtioMmioOptions, type VirtioMmioQueueConfig } from '../../src/virtio/mmio-registers.js';
import { SplitQueue } from '../../src/virtio/split-queue.js';
import { FlatMemory } from './support/flat-memory.js';

// scmi-virtio.md §1, typed by hand.
const MAGIC = 0x000;
const VERSION = 0x004;
const DEVICE_ID = 0x008;
const VENDOR_ID = 0x00c;
const DEVICE_FEATURES = 0x010;
const DEVICE_FEATURES_SEL = 0x014;
const DRIVER_FEATURES = 0x020;
const DRIVER_FEATURES_SEL = 0x024;
const QUEUE_SEL = 0x030;
const QUEUE_NUM_MAX = 0x034;
const QUEUE_NUM = 0x038;
const QUEUE_READY = 0x044;
const QUEUE_NOTIFY = 0x050;
const INTERRUPT_STATUS = 0x060;
const INTERRUPT_ACK = 0x064;
const STATUS = 0x070;
const QUEUE_DESC_LOW = 0x080;
const QUEUE_DESC_HIGH = 0x084;
const QUEUE_DRIVER_LOW = 0x090;
const QUEUE_DRIVER_HIGH = 0x094;
const QUEUE_DEVICE_LOW = 0x0a0;
const QUEUE_DEVICE_HIGH = 0x0a4;
const SHM_SEL = 0x0ac;
const SHM_LEN_LOW = 0x0b0;
const SHM_LEN_HIGH = 0x0b4;
const SHM_BASE_LOW = 0x0b8;
const SHM_BASE_HIGH = 0x0bc;
const QUEUE_RESET = 0x0c0;
const CONFIG_GENERATION = 0x0fc;
// §2 status bits, §3 feature bits.
const ACKNOWLEDGE = 1;
const DRIVER = 2;
const DRIVER_OK = 4;
const FEATURES_OK = 8;
const DEVICE_NEEDS_RESET = 64;
const F_P2A = 1 << 0;
const F_INDIRECT = 1 << 28;
const F_EVENT_IDX = 1 << 29;
const F_VERSION_1_HI = 1 << 0; // bit 32 in window 1

interface Recorded {
  dev: VirtioMmioRegisters;
  events: Array<[string, ...unknown[]]>;
}

function device(o: Parameters<typeof scmiVirtioMmioOptions>[0] = {}): Recorded {
  const dev = new VirtioMmioRegisters(scmiVirtioMmioOptions(o));
  const events: Recorded['events'] = [];
  const names = ['status-change', 'reset', 'features-ok', 'driver-ok', 'queue-ready', 'queue-disabled', 'notify', 'interrupt', 'interrupt-ack'] as const;
  for (const n of names) dev.events.on(n, (...args: unknown[]) => void events.push([n, ...args]));
  return { dev, events };
}

const w = (d: VirtioMmioRegisters, off: number, v: number | bigint): void => d.write(off, 4, v);
const r = (d: VirtioMmioRegisters, off: number): number => d.read(off, 4);

/** Steps 1–4 of the driver initialisation (§2) with the given feature windows. */
function negotiate(d: VirtioMmioRegisters, lo: number, hi: number): number {
  w(d, STATUS, 0);
  w(d, STATUS, ACKNOWLEDGE);
  w(d, STATUS, ACKNOWLEDGE | DRIVER);
  w(d, DRIVER_FEATURES_SEL, 0);
  w(d, DRIVER_FEATURES, lo);
  w(d, DRIVER_FEATURES_SEL, 1);
  w(d, DRIVER_FEATURES, hi);
  w(d, STATUS, ACKNOWLEDGE | DRIVER | FEATURES_OK);
  return r(d, STATUS);
}

function setupQueue(d: VirtioMmioRegisters, index: number, num: number, desc: bigint, driver: bigint, dev: bigint): void {
  w(d, QUEUE_SEL, index);
  w(d, QUEUE_NUM, num);
  w(d, QUEUE_DESC_LOW, Number(desc & 0xffff_ffffn));
  w(d, QUEUE_DESC_HIGH, Number(desc >> 32n));
  w(d, QUEUE_DRIVER_LOW, Number(driver & 0xffff_ffffn));
  w(d, QUEUE_DRIVER_HIGH, Number(driver >> 32n));
  w(d, QUEUE_DEVICE_LOW, Number(dev & 0xffff_ffffn));
  w(d, QUEUE_DEVICE_HIGH, Number(dev >> 32n));
  w(d, QUEUE_READY, 1);
}

describe('identity and features (scmi-virtio.md §1, §3, §5)', () => {
  it('magic "virt", version 2, device 32, the vendor, and the feature windows', () => {
    const { dev } = device();
    expect(r(dev, MAGIC)).toBe(0x74726976);
    expect(r(dev, VERSION)).toBe(2);
    expect(r(dev, DEVICE_ID)).toBe(32);
    expect(r(dev, VENDOR_ID)).toBe(0x554d4547);
    w(dev, DEVICE_FEATURES_SEL, 0);
    expect(r(dev, DEVICE_FEATURES)).toBe(F_INDIRECT | F_EVENT_IDX);
    w(dev, DEVICE_FEATURES_SEL, 1);
    expect(r(dev, DEVICE_FEATURES)).toBe(F_VERSION_1_HI);
    w(dev, DEVICE_FEATURES_SEL, 2);
    expect(r(dev, DEVICE_FEATURES)).toBe(0);
    expect(dev.warningCount).toBe(0);
  });

  it('with P2A offered, bit 0 is in window 0', () => {
    const { dev } = device({ p2a: true, eventIdx: false, indirect: false });
    expect(r(dev, DEVICE_FEATURES)).toBe(F_P2A);
  });
});

describe('driver initialisation (scmi-virtio.md §2)', () => {
  it('the whole Linux order: status, features, cmdq set-up, eventq absent, DRIVER_OK, kick', () => {
    const { dev, events } = device();
    expect(negotiate(dev, F_EVENT_IDX, F_VERSION_1_HI)).toBe(ACKNOWLEDGE | DRIVER | FEATURES_OK);
    expect(dev.negotiatedFeatures).toBe(0x1_2000_0000n);
    w(dev, QUEUE_SEL, 0);
    expect(r(dev, QUEUE_NUM_MAX)).toBe(1024);
    expect(r(dev, QUEUE_READY)).toBe(0);
    setupQueue(dev, 0, 16, 0x8_1234_5000n, 0x8_1234_6000n, 0x8_1234_7000n);
    expect(r(dev, QUEUE_READY)).toBe(1);
    w(dev, QUEUE_SEL, 1);
    expect(r(dev, QUEUE_NUM_MAX)).toBe(0); // eventq does not exist without P2A
    w(dev, STATUS, ACKNOWLEDGE | DRIVER | FEATURES_OK | DRIVER_OK);
    expect(r(dev, STATUS)).toBe(0x0f);
    w(dev, QUEUE_NOTIFY, 0);
    const cfg: VirtioMmioQueueConfig = {
      index: 0,
      size: 16,
      descAddr: 0x8_1234_5000n,
      availAddr: 0x8_1234_6000n,
      usedAddr: 0x8_1234_7000n,
      eventIdx: true,
      indirect: false,
      notifyOnEmpty: false,
    };
    expect(events).toEqual([
      ['reset'],
      ['status-change', 0, 0],
      ['status-change', 1, 0],
      ['status-change', 3, 1],
      ['status-change', 11, 3],
      ['features-ok', 0x1_2000_0000n],
      ['queue-ready', cfg],
      ['status-change', 15, 11],
      ['driver-ok', 0x1_2000_0000n],
      ['notify', 0],
    ]);
    expect(dev.queueConfig(0)).toEqual(cfg);
    expect(dev.queueConfig(1)).toBeUndefined();
    expect(dev.warningCount).toBe(0);
  });

  it('FEATURES_OK stays clear without VERSION_1, and for a feature the device does not offer', () => {
    const { dev } = device();
    expect(negotiate(dev, 0, 0)).toBe(ACKNOWLEDGE | DRIVER);
    expect(dev.warnings.get('features-rejected')).toBe(1);
    expect(dev.negotiatedFeatures).toBeUndefined();
    expect(negotiate(dev, F_P2A, F_VERSION_1_HI)).toBe(ACKNOWLEDGE | DRIVER); // P2A not offered
    expect(negotiate(dev, 0, F_VERSION_1_HI | 2)).toBe(ACKNOWLEDGE | DRIVER); // bit 33 not offered
    expect(negotiate(dev, 0, F_VERSION_1_HI)).toBe(ACKNOWLEDGE | DRIVER | FEATURES_OK);
  });

  it('eventq: QueueNumMax 1024 only when P2A is offered and accepted', () => {
    const { dev } = device({ p2a: true });
    negotiate(dev, 0, F_VERSION_1_HI);
    w(dev, QUEUE_SEL, 1);
    expect(r(dev, QUEUE_NUM_MAX)).toBe(0);
    w(dev, QUEUE_READY, 1);
    expect(r(dev, QUEUE_READY)).toBe(0);
    expect(dev.warnings.get('queue-absent')).toBe(1);
    negotiate(dev, F_P2A, F_VERSION_1_HI);
    w(dev, QUEUE_SEL, 1);
    expect(r(dev, QUEUE_NUM_MAX)).toBe(1024);
    setupQueue(dev, 1, 8, 0x1000n, 0x2000n, 0x3000n);
    expect(dev.queueConfig(1)).toMatchObject({ index: 1, size: 8 });
    // A queue index beyond the device's queues does not exist either.
    w(dev, QUEUE_SEL, 2);
    expect(r(dev, QUEUE_NUM_MAX)).toBe(0);
  });

  it('DriverFeatures written after FEATURES_OK are ignored', () => {
    const { dev } = device();
    negotiate(dev, F_EVENT_IDX, F_VERSION_1_HI);
    w(dev, DRIVER_FEATURES_SEL, 0);
    w(dev, DRIVER_FEATURES, F_INDIRECT);
    expect(dev.negotiatedFeatures).toBe(0x1_2000_0000n);
    expect(dev.warnings.get('features-locked')).toBe(1);
  });

  it('QueueReady before FEATURES_OK is refused', () => {
    const { dev, events } = device();
    w(dev, STATUS, ACKNOWLEDGE | DRIVER);
    setupQueue(dev, 0, 16, 0x1000n, 0x2000n, 0x3000n);
    expect(r(dev, QUEUE_READY)).toBe(0);
    expect(dev.warnings.get('queue-before-features-ok')).toBe(1);
    expect(events.some(([n]) => n === 'queue-ready')).toBe(false);
  });
});

describe('queue registers', () => {
  it('QueueNum takes a power of 2 in 1..QueueNumMax; other values are ignored', () => {
    const { dev } = device({ queueSize: 256 });
    negotiate(dev, 0, F_VERSION_1_HI);
    for (const v of [0, 3, 512, 100]) w(dev, QUEUE_NUM, v);
    expect(dev.warnings.get('queue-num-invalid')).toBe(4);
    setupQueue(dev, 0, 3, 0x1000n, 0x2000n, 0x3000n); // 3 ignored: stays at the default, QueueNumMax
    expect(dev.queueConfig(0)?.size).toBe(256);
  });

  it('writes while QueueReady = 1 are ignored; QueueReady = 0 stops the queue', () => {
    const { dev, events } = device();
    negotiate(dev, 0, F_VERSION_1_HI);
    setupQueue(dev, 0, 16, 0x1000n, 0x2000n, 0x3000n);
    const before = dev.queueConfig(0);
    w(dev, QUEUE_NUM, 32);
    w(dev, QUEUE_DESC_LOW, 0x9000);
    w(dev, QUEUE_DRIVER_HIGH, 1);
    w(dev, QUEUE_DEVICE_LOW, 0x7000);
    expect(dev.queueConfig(0)).toEqual(before);
    expect(dev.warnings.get('queue-busy')).toBe(4);
    w(dev, QUEUE_READY, 0);
    expect(r(dev, QUEUE_READY)).toBe(0);
    expect(events.at(-1)).toEqual(['queue-disabled', 0]);
    // Not ready: now the registers take writes again.
    w(dev, QUEUE_DESC_LOW, 0x9000);
    w(dev, QUEUE_READY, 1);
    expect(dev.queueConfig(0)?.descAddr).toBe(0x9000n);
  });

  it('misaligned ring addresses: QueueReady refused and DEVICE_NEEDS_RESET set', () => {
    const { dev } = device();
    negotiate(dev, 0, F_VERSION_1_HI);
    setupQueue(dev, 0, 16, 0x1008n, 0x2000n, 0x3000n);
    expect(r(dev, QUEUE_READY)).toBe(0);
    expect(dev.warnings.get('queue-config-invalid')).toBe(1);
    expect(r(dev, STATUS) & DEVICE_NEEDS_RESET).toBe(DEVICE_NEEDS_RESET);
  });

  it('QueueNotify: only a ready queue after DRIVER_OK is kicked', () => {
    const { dev, events } = device();
    negotiate(dev, 0, F_VERSION_1_HI);
    w(dev, QUEUE_NOTIFY, 0); // queue not ready
    setupQueue(dev, 0, 16, 0x1000n, 0x2000n, 0x3000n);
    w(dev, QUEUE_NOTIFY, 0); // no DRIVER_OK yet
    w(dev, STATUS, 0x0f);
    w(dev, QUEUE_NOTIFY, 1); // eventq absent
    w(dev, QUEUE_NOTIFY, 0);
    expect(events.filter(([n]) => n === 'notify')).toEqual([['notify', 0]]);
    expect(dev.warnings.get('notify-not-ready')).toBe(3);
  });
});

describe('interrupts, reset, DEVICE_NEEDS_RESET', () => {
  it('raiseUsedBuffer sets bit 0; InterruptACK clears the written bits', () => {
    const { dev, events } = device();
    expect(r(dev, INTERRUPT_STATUS)).toBe(0);
    dev.raiseUsedBuffer();
    expect(r(dev, INTERRUPT_STATUS)).toBe(1);
    dev.raiseConfigChange();
    expect(r(dev, INTERRUPT_STATUS)).toBe(3);
    w(dev, INTERRUPT_ACK, 1);
    expect(r(dev, INTERRUPT_STATUS)).toBe(2);
    w(dev, INTERRUPT_ACK, 2);
    expect(r(dev, INTERRUPT_STATUS)).toBe(0);
    expect(events).toEqual([
      ['interrupt', 1],
      ['interrupt', 3],
      ['interrupt-ack', 1, 2],
      ['interrupt-ack', 2, 0],
    ]);
  });

  it('Status = 0 resets features, selectors, queues and interrupt status', () => {
    const { dev, events } = device({ queueSize: 64 });
    negotiate(dev, F_EVENT_IDX, F_VERSION_1_HI);
    setupQueue(dev, 0, 16, 0x1000n, 0x2000n, 0x3000n);
    w(dev, STATUS, 0x0f);
    dev.raiseUsedBuffer();
    events.length = 0;
    w(dev, STATUS, 0);
    expect(events).toEqual([['reset'], ['status-change', 0, 0x0f]]);
    expect(r(dev, STATUS)).toBe(0);
    expect(r(dev, INTERRUPT_STATUS)).toBe(0);
    expect(dev.driverFeatures).toBe(0n);
    w(dev, QUEUE_SEL, 0);
    expect(r(dev, QUEUE_READY)).toBe(0);
    expect(dev.queueConfig(0)).toBeUndefined();
    // QueueNum is back at QueueNumMax, addresses at 0.
    negotiate(dev, 0, F_VERSION_1_HI);
    w(dev, QUEUE_DESC_LOW, 0x4000);
    w(dev, QUEUE_READY, 1);
    expect(dev.queueConfig(0)).toMatchObject({ size: 64, descAddr: 0x4000n, availAddr: 0n, usedAddr: 0n, eventIdx: false });
  });

  it('needsReset: the bit sticks across driver writes; with DRIVER_OK a config interrupt is raised', () => {
    const { dev } = device();
    negotiate(dev, 0, F_VERSION_1_HI);
    expect(dev.needsReset()).toBe(false);
    expect(r(dev, STATUS)).toBe(0x0b | DEVICE_NEEDS_RESET);
    expect(r(dev, INTERRUPT_STATUS)).toBe(0);
    w(dev, STATUS, 0x0f); // the driver does not write bit 6 back
    expect(r(dev, STATUS)).toBe(0x0f | DEVICE_NEEDS_RESET);
    expect(dev.needsReset()).toBe(true);
    expect(r(dev, INTERRUPT_STATUS)).toBe(2);
    w(dev, STATUS, 0);
    expect(r(dev, STATUS)).toBe(0);
  });

  it('the driver cannot set DEVICE_NEEDS_RESET', () => {
    const { dev } = device();
    w(dev, STATUS, ACKNOWLEDGE | DEVICE_NEEDS_RESET);
    expect(r(dev, STATUS)).toBe(ACKNOWLEDGE);
  });
});

describe('access rules', () => {
  it('registers below 0x100: 8-, 16- and 64-bit or unaligned accesses read 0 and ignore writes', () => {
    const { dev } = device();
    expect(dev.read(MAGIC, 1)).toBe(0);
    expect(dev.read(MAGIC, 2)).toBe(0);
    expect(dev.read(MAGIC, 8)).toBe(0);
    expect(dev.read(MAGIC + 1, 4)).toBe(0);
    dev.write(STATUS, 1, ACKNOWLEDGE);
    dev.write(STATUS, 8, ACKNOWLEDGE);
    dev.write(STATUS + 2, 4, ACKNOWLEDGE);
    expect(r(dev, STATUS)).toBe(0);
    expect(dev.warnings.get('bad-width')).toBe(7);
  });

  it('write-only registers read 0, read-only ones ignore writes, legacy offsets are no registers', () => {
    const { dev } = device();
    for (const off of [DEVICE_FEATURES_SEL, DRIVER_FEATURES, DRIVER_FEATURES_SEL, QUEUE_SEL, QUEUE_NUM, QUEUE_NOTIFY, INTERRUPT_ACK, QUEUE_DESC_LOW, QUEUE_DEVICE_HIGH, SHM_SEL]) {
      expect(r(dev, off)).toBe(0);
    }
    expect(dev.warnings.get('read-write-only')).toBe(10);
    for (const off of [MAGIC, VERSION, DEVICE_ID, QUEUE_NUM_MAX, INTERRUPT_STATUS, CONFIG_GENERATION]) w(dev, off, 0x55);
    expect(dev.warnings.get('write-read-only')).toBe(6);
    expect(r(dev, MAGIC)).toBe(0x74726976);
    for (const off of [0x028, 0x03c, 0x040, 0x0c4, 0x0f8]) {
      expect(r(dev, off)).toBe(0);
      w(dev, off, 1);
    }
    expect(dev.warnings.get('unknown-register')).toBe(10);
  });

  it('QueueReset reads 0 and ignores writes (RING_RESET not offered)', () => {
    const { dev } = device();
    negotiate(dev, 0, F_VERSION_1_HI);
    setupQueue(dev, 0, 16, 0x1000n, 0x2000n, 0x3000n);
    expect(r(dev, QUEUE_RESET)).toBe(0);
    w(dev, QUEUE_RESET, 1);
    expect(r(dev, QUEUE_READY)).toBe(1);
    expect(dev.warnings.get('queue-reset-unsupported')).toBe(1);
  });

  it('SCMI has no config space: reads 0, writes ignored, both counted', () => {
    const { dev } = device();
    expect(dev.read(0x100, 4)).toBe(0);
    expect(dev.read(0x100, 1)).toBe(0);
    dev.write(0x100, 4, 1);
    expect(dev.warnings.get('config-access')).toBe(3);
  });

  it('a device with config bytes: 1-, 2- and 4-byte aligned little-endian reads', () => {
    const dev = new VirtioMmioRegisters({ deviceFeatures: 1n << 32n, queues: [], config: Uint8Array.of(0x11, 0x22, 0x33, 0x44, 0x55) });
    expect(dev.read(0x100, 4)).toBe(0x44332211);
    expect(dev.read(0x102, 2)).toBe(0x4433);
    expect(dev.read(0x104, 1)).toBe(0x55);
    expect(dev.read(0x101, 2)).toBe(0);
    expect(dev.read(0x104, 4)).toBe(0);
  });

  it('ConfigGeneration moves when the device says so', () => {
    const { dev } = device();
    expect(r(dev, CONFIG_GENERATION)).toBe(0);
    dev.bumpConfigGeneration();
    expect(r(dev, CONFIG_GENERATION)).toBe(1);
  });

  it('SHM: a missing region reads all-ones; a region gives its base and length', () => {
    const { dev } = device();
    w(dev, SHM_SEL, 1);
    for (const off of [SHM_LEN_LOW, SHM_LEN_HIGH, SHM_BASE_LOW, SHM_BASE_HIGH]) expect(r(dev, off)).toBe(0xffff_ffff);
    const d2 = new VirtioMmioRegisters({ ...scmiVirtioMmioOptions(), shmRegions: [{ id: 1, base: 0x1_2345_6000n, len: 0x2000n }] });
    w(d2, SHM_SEL, 1);
    expect([r(d2, SHM_LEN_LOW), r(d2, SHM_LEN_HIGH), r(d2, SHM_BASE_LOW), r(d2, SHM_BASE_HIGH)]).toEqual([0x2000, 0, 0x2345_6000, 1]);
    w(d2, SHM_SEL, 0);
    expect(r(d2, SHM_LEN_LOW)).toBe(0xffff_ffff);
  });

  it('a queue spec that is not 0 or a power of 2 is a TypeError', () => {
    expect(() => new VirtioMmioRegisters({ deviceFeatures: 0n, queues: [{ maxSize: 3 }] })).toThrow(TypeError);
  });
});

describe('window + split queue', () => {
  it('the queue-ready config drives a SplitQueue: one request, reply, used-buffer interrupt', () => {
    const mem = new FlatMemory(0x4000_0000n, 0x4000);
    const { dev } = device();
    let vq: SplitQueue | undefined;
    const answered: number[] = [];
    dev.events.on('queue-ready', (cfg) => (vq = new SplitQueue(mem, cfg)));
    dev.events.on('notify', () => {
      for (let c = vq!.pop(); c !== undefined; c = vq!.pop()) answered.push(vq!.push(c.head, c.readable));
      if (vq!.needsInterrupt()) dev.raiseUsedBuffer();
    });
    negotiate(dev, 0, F_VERSION_1_HI);
    setupQueue(dev, 0, 4, 0x4000_0000n, 0x4000_0100n, 0x4000_0200n);
    w(dev, STATUS, 0x0f);
    // Driver side by hand: desc[0] readable 4 bytes at 0x4000_1000 → desc[1] writable 8 at 0x4000_2000.
    mem.put(0x4000_0000n, [0x00, 0x10, 0x00, 0x40, 0, 0, 0, 0, 4, 0, 0, 0, 1, 0, 1, 0]);
    mem.put(0x4000_0010n, [0x00, 0x20, 0x00, 0x40, 0, 0, 0, 0, 8, 0, 0, 0, 2, 0, 0, 0]);
    mem.put(0x4000_1000n, [0xca, 0xfe, 0xf0, 0x0d]);
    mem.put(0x4000_0100n, [0, 0, 1, 0, 0, 0]);
    w(dev, QUEUE_NOTIFY, 0);
    expect(answered).toEqual([4]);
    expect(mem.at(0x4000_2000n, 4)).toEqual([0xca, 0xfe, 0xf0, 0x0d]);
    expect(mem.at(0x4000_0200n, 12)).toEqual([0, 0, 1, 0, 0, 0, 0, 0, 4, 0, 0, 0]);
    expect(r(dev, INTERRUPT_STATUS)).toBe(1);
  });
});
