/**
 * The VMM side of a virtio-mmio (version 2) device: the register window a VMM puts behind its
 * MMIO exits. The driver's loads and stores arrive as `read(offset, len)` / `write(offset, len,
 * value)`; the model keeps the transport state (status, feature negotiation, queue set-up,
 * interrupt status, config generation, shared-memory regions) and tells the device side what
 * happened through typed events (eventemitter3). The device side raises interrupts with
 * `raiseUsedBuffer()` / `raiseConfigChange()` and reports a fatal error with `needsReset()`.
 *
 * Reference: scmi-virtio.md §1 (register map), §2 (status bits and the driver's initialisation
 * order; FEATURES_OK stays clear when the device rejects the features), §3 (feature bits:
 * VERSION_1 required), §5 (SCMI: cmdq 0, eventq 1 only with P2A, no config space), §11 (MMIO
 * exits, QueueNotify kick, InterruptStatus then irqfd, InterruptACK).
 *
 * Access rules (the sheet marks the 32-bit rule unverified; it is the virtio-mmio spec's driver
 * rule, which this model enforces on the device side):
 * - Registers below 0x100 are accessed 32 bits wide at 4-byte aligned offsets. Any other width
 *   or alignment reads 0 and a write is ignored; each such access counts a `bad-width` warning.
 * - Reading a write-only register reads 0, writing a read-only one is ignored, an offset that is
 *   no register (e.g. legacy 0x028, 0x03C, 0x040) reads 0 and ignores writes; each counts a
 *   warning. The config space (0x100+) is read-only bytes given in the options (none for SCMI),
 *   read 1, 2 or 4 bytes wide and aligned; anything else reads 0 / is ignored with a warning.
 * - Queue registers (QueueNum, QueueDesc/Driver/Device Low/High) written while the selected
 *   queue's QueueReady is 1 are ignored (`queue-busy`): the device uses the configuration it was
 *   given when the queue became ready (virtio: the driver must not change a live queue).
 * - QueueNum accepts a power of 2 in 1..QueueNumMax; other values are ignored (as QEMU does).
 *   QueueReady = 1 is refused (stays 0) for a queue that does not exist (QueueNumMax 0), before
 *   FEATURES_OK, and for misaligned ring addresses: the last one also sets DEVICE_NEEDS_RESET.
 *   QueueReady = 0 on a live queue stops it (`queue-disabled`).
 * - DriverFeatures writes after FEATURES_OK are ignored. Feature windows above 1 read 0 and
 *   ignore writes. FEATURES_OK is accepted only when the driver's features are a subset of the
 *   device's and include the required ones (default VERSION_1); otherwise it stays clear.
 * - DEVICE_NEEDS_RESET is the device's bit: driver writes neither set nor clear it; Status = 0
 *   resets everything (features, selectors, queues, interrupt status) but ConfigGeneration.
 * - QueueNotify with the index of a queue that is not ready, or before DRIVER_OK, is not passed
 *   on (`notify-not-ready`): the device must not touch such a queue.
 * - QueueReset (0x0C0) reads 0 and ignores writes: VIRTIO_F_RING_RESET is never offered.
 * - SHMLen/SHMBase of a region that does not exist read all-ones (the sheet marks this
 *   unverified for the length; Linux stops at the length).
 */
import { EventEmitter } from 'eventemitter3';
import {
  VIRTIO_MMIO_MAGIC,
  VIRTIO_MMIO_VERSION,
  VirtioDeviceId,
  VirtioFeature,
  VirtioInterrupt,
  VirtioMmioReg,
  VirtioStatus,
  featureBit,
} from './constants.js';
import { checkSplitQueueConfig, type SplitQueueConfig } from './split-queue.js';

/** One queue the device offers. */
export interface VirtioMmioQueueSpec {
  /** QueueNumMax (a power of 2 ≤ 32768); 0 = the queue does not exist. */
  readonly maxSize: number;
  /** The queue exists only while the driver accepts this feature bit (SCMI eventq: P2A, bit 0). */
  readonly requiresFeature?: number;
}

/** A shared-memory region (SHMSel id → base and length). */
export interface VirtioMmioShmRegion {
  readonly id: number;
  readonly base: bigint;
  readonly len: bigint;
}

export interface VirtioMmioOptions {
  /** DeviceID (default 32, SCMI). */
  readonly deviceId?: number;
  /** VendorID (default 0x554D4547, "GEMU" in little-endian ASCII). */
  readonly vendorId?: number;
  /** The device's feature bits. */
  readonly deviceFeatures: bigint;
  /** Features the driver must accept for FEATURES_OK (default VIRTIO_F_VERSION_1). */
  readonly requiredFeatures?: bigint;
  /** The device's queues, by index. */
  readonly queues: readonly VirtioMmioQueueSpec[];
  readonly shmRegions?: readonly VirtioMmioShmRegion[];
  /** Device-specific configuration space at 0x100 (read-only here; none for SCMI). */
  readonly config?: Uint8Array;
}

/** A queue the driver made ready: everything a SplitQueue needs, with the queue index. */
export interface VirtioMmioQueueConfig extends SplitQueueConfig {
  readonly index: number;
}

/** Accesses the model refused or ignored (each is counted in `warnings`). */
export type VirtioMmioWarningKind =
  | 'bad-width'
  | 'read-write-only'
  | 'write-read-only'
  | 'unknown-register'
  | 'config-access'
  | 'queue-absent'
  | 'queue-busy'
  | 'queue-num-invalid'
  | 'queue-config-invalid'
  | 'queue-before-features-ok'
  | 'features-locked'
  | 'features-rejected'
  | 'notify-not-ready'
  | 'queue-reset-unsupported';

export interface VirtioMmioWarning {
  readonly kind: VirtioMmioWarningKind;
  readonly offset: number;
  readonly len: number;
  readonly detail: string;
}

/** Events of the register window, emitted synchronously from `read`/`write`/device calls. */
export interface VirtioMmioEvents {
  /** The Status register changed (after the change; also for a reset to 0). */
  'status-change': (status: number, previous: number) => void;
  /** The driver wrote Status = 0: every transport state is back to its initial value. */
  reset: () => void;
  /** FEATURES_OK was accepted with these driver features. */
  'features-ok': (features: bigint) => void;
  /** DRIVER_OK was set (after FEATURES_OK): the device is live with these features. */
  'driver-ok': (features: bigint) => void;
  /** QueueReady went 0 → 1 with this configuration. */
  'queue-ready': (queue: VirtioMmioQueueConfig) => void;
  /** QueueReady went 1 → 0 (driver write). A reset does not emit this; it emits `reset`. */
  'queue-disabled': (index: number) => void;
  /** QueueNotify for a ready queue after DRIVER_OK (the kick). */
  notify: (queueIndex: number) => void;
  /** InterruptStatus gained bits through the device side: signal the interrupt (irqfd). */
  interrupt: (interruptStatus: number) => void;
  /** The driver wrote InterruptACK. */
  'interrupt-ack': (acked: number, remaining: number) => void;
  warning: (w: VirtioMmioWarning) => void;
}

interface QueueState {
  num: number;
  ready: boolean;
  desc: bigint;
  driver: bigint;
  device: bigint;
}

const NO_REGION = 0xffff_ffff;
const MASK32 = 0xffff_ffffn;

/** Set the low (hi = false) or high 32 bits of a 64-bit value. */
function setHalf(v: bigint, hi: boolean, w: number): bigint {
  const x = BigInt(w >>> 0);
  return hi ? (v & MASK32) | (x << 32n) : (v & ~MASK32) | x;
}

function half(v: bigint, hi: boolean): number {
  return Number((hi ? v >> 32n : v) & MASK32);
}

/** Options for a virtio-scmi device (scmi-virtio.md §3, §5). */
export function scmiVirtioMmioOptions(o: { p2a?: boolean; queueSize?: number; eventIdx?: boolean; indirect?: boolean; vendorId?: number } = {}): VirtioMmioOptions {
  const size = o.queueSize ?? 1024;
  let features = featureBit(VirtioFeature.F_VERSION_1);
  if (o.p2a === true) features |= featureBit(VirtioFeature.SCMI_F_P2A_CHANNELS);
  if (o.eventIdx !== false) features |= featureBit(VirtioFeature.RING_F_EVENT_IDX);
  if (o.indirect !== false) features |= featureBit(VirtioFeature.RING_F_INDIRECT_DESC);
  return {
    deviceId: VirtioDeviceId.SCMI,
    ...(o.vendorId !== undefined ? { vendorId: o.vendorId } : {}),
    deviceFeatures: features,
    queues: [{ maxSize: size }, { maxSize: o.p2a === true ? size : 0, requiresFeature: VirtioFeature.SCMI_F_P2A_CHANNELS }],
  };
}

export class VirtioMmioRegisters {
  readonly events = new EventEmitter<VirtioMmioEvents>();
  readonly deviceId: number;
  readonly vendorId: number;
  readonly deviceFeatures: bigint;
  readonly requiredFeatures: bigint;
  readonly #specs: readonly VirtioMmioQueueSpec[];
  readonly #shm: readonly VirtioMmioShmRegion[];
  readonly #config: Uint8Array;
  readonly #warnings = new Map<VirtioMmioWarningKind, number>();
  #queues: QueueState[];
  #status = 0;
  #deviceFeaturesSel = 0;
  #driverFeaturesSel = 0;
  #driverFeatures = 0n;
  #queueSel = 0;
  #shmSel = 0;
  #interruptStatus = 0;
  #configGeneration = 0;

  /** @throws TypeError for a queue size that is not 0 or a power of 2 ≤ 32768 */
  constructor(o: VirtioMmioOptions) {
    for (const [i, q] of o.queues.entries()) {
      if (!Number.isInteger(q.maxSize) || q.maxSize < 0 || q.maxSize > 32768 || (q.maxSize & (q.maxSize - 1)) !== 0) {
        throw new TypeError(`queue ${i}: QueueNumMax ${q.maxSize} is not 0 or a power of 2 ≤ 32768`);
      }
    }
    this.deviceId = o.deviceId ?? VirtioDeviceId.SCMI;
    this.vendorId = o.vendorId ?? 0x554d4547;
    this.deviceFeatures = o.deviceFeatures & 0xffff_ffff_ffff_ffffn;
    this.requiredFeatures = o.requiredFeatures ?? featureBit(VirtioFeature.F_VERSION_1);
    this.#specs = o.queues;
    this.#shm = o.shmRegions ?? [];
    this.#config = o.config ?? new Uint8Array(0);
    this.#queues = this.#freshQueues();
  }

  // ── state for the device side ────────────────────────────────────────────

  get status(): number {
    return this.#status;
  }

  get interruptStatus(): number {
    return this.#interruptStatus;
  }

  get configGeneration(): number {
    return this.#configGeneration;
  }

  /** The features the driver wrote so far. */
  get driverFeatures(): bigint {
    return this.#driverFeatures;
  }

  /** The negotiated features once FEATURES_OK was accepted, else undefined. */
  get negotiatedFeatures(): bigint | undefined {
    return this.#status & VirtioStatus.FEATURES_OK ? this.#driverFeatures : undefined;
  }

  /** DRIVER_OK (with FEATURES_OK) is set. */
  get driverOk(): boolean {
    return (this.#status & (VirtioStatus.DRIVER_OK | VirtioStatus.FEATURES_OK)) === (VirtioStatus.DRIVER_OK | VirtioStatus.FEATURES_OK);
  }

  /** Counts of refused or ignored accesses, by kind. */
  get warnings(): ReadonlyMap<VirtioMmioWarningKind, number> {
    return this.#warnings;
  }

  /** Total refused or ignored accesses. */
  get warningCount(): number {
    let n = 0;
    for (const v of this.#warnings.values()) n += v;
    return n;
  }

  /** The configuration of queue `index` while it is ready, else undefined. */
  queueConfig(index: number): VirtioMmioQueueConfig | undefined {
    const q = this.#queues[index];
    return q?.ready ? this.#configOf(index, q) : undefined;
  }

  /** QueueNumMax of queue `index` as the driver reads it now (0: the queue does not exist). */
  queueNumMax(index: number): number {
    const s = this.#specs[index];
    if (s === undefined) return 0;
    if (s.requiresFeature !== undefined && (this.#driverFeatures & this.deviceFeatures & featureBit(s.requiresFeature)) === 0n) return 0;
    return s.maxSize;
  }

  /** Device side: a used buffer was added. Sets InterruptStatus bit 0 and emits `interrupt`. */
  raiseUsedBuffer(): void {
    this.#raise(VirtioInterrupt.USED_BUFFER);
  }

  /** Device side: the configuration changed. Sets InterruptStatus bit 1 and emits `interrupt`. */
  raiseConfigChange(): void {
    this.#raise(VirtioInterrupt.CONFIG_CHANGE);
  }

  /** Device side: the config space changed; ConfigGeneration moves on. */
  bumpConfigGeneration(): void {
    this.#configGeneration = (this.#configGeneration + 1) >>> 0;
  }

  /**
   * Device side: an error the device cannot recover from (e.g. a broken queue). Sets
   * DEVICE_NEEDS_RESET; when DRIVER_OK is set it also raises a configuration-change interrupt.
   * @returns true when the interrupt was raised (the caller signals it)
   */
  needsReset(): boolean {
    const prev = this.#status;
    if (!(prev & VirtioStatus.DEVICE_NEEDS_RESET)) {
      this.#status = prev | VirtioStatus.DEVICE_NEEDS_RESET;
      this.events.emit('status-change', this.#status, prev);
    }
    if (this.#status & VirtioStatus.DRIVER_OK) {
      this.#raise(VirtioInterrupt.CONFIG_CHANGE);
      return true;
    }
    return false;
  }

  // ── the register window ──────────────────────────────────────────────────

  /** A driver load of `len` bytes at `offset` in the window: the value (zero-extended). */
  read(offset: number, len: number): number {
    if (offset >= VirtioMmioReg.CONFIG) return this.#readConfig(offset, len);
    if (!this.#regAccessOk(offset, len)) return 0;
    const R = VirtioMmioReg;
    const q = this.#queues[this.#queueSel];
    switch (offset) {
      case R.MAGIC_VALUE:
        return VIRTIO_MMIO_MAGIC;
      case R.VERSION:
        return VIRTIO_MMIO_VERSION;
      case R.DEVICE_ID:
        return this.deviceId >>> 0;
      case R.VENDOR_ID:
        return this.vendorId >>> 0;
      case R.DEVICE_FEATURES:
        return this.#deviceFeaturesSel > 1 ? 0 : half(this.deviceFeatures, this.#deviceFeaturesSel === 1);
      case R.QUEUE_NUM_MAX:
        return this.queueNumMax(this.#queueSel);
      case R.QUEUE_READY:
        return q?.ready ? 1 : 0;
      case R.INTERRUPT_STATUS:
        return this.#interruptStatus;
      case R.STATUS:
        return this.#status;
      case R.SHM_LEN_LOW:
      case R.SHM_LEN_HIGH:
      case R.SHM_BASE_LOW:
      case R.SHM_BASE_HIGH: {
        const r = this.#shm.find((x) => x.id === this.#shmSel);
        if (r === undefined) return NO_REGION;
        const v = offset === R.SHM_LEN_LOW || offset === R.SHM_LEN_HIGH ? r.len : r.base;
        return half(v, offset === R.SHM_LEN_HIGH || offset === R.SHM_BASE_HIGH);
      }
      case R.QUEUE_RESET:
        return 0;
      case R.CONFIG_GENERATION:
        return this.#configGeneration;
      case R.DEVICE_FEATURES_SEL:
      case R.DRIVER_FEATURES:
      case R.DRIVER_FEATURES_SEL:
      case R.QUEUE_SEL:
      case R.QUEUE_NUM:
      case R.QUEUE_NOTIFY:
      case R.INTERRUPT_ACK:
      case R.QUEUE_DESC_LOW:
      case R.QUEUE_DESC_HIGH:
      case R.QUEUE_DRIVER_LOW:
      case R.QUEUE_DRIVER_HIGH:
      case R.QUEUE_DEVICE_LOW:
      case R.QUEUE_DEVICE_HIGH:
      case R.SHM_SEL:
        this.#warn('read-write-only', offset, len, 'read of a write-only register');
        return 0;
      default:
        this.#warn('unknown-register', offset, len, 'no register at this offset');
        return 0;
    }
  }

  /** A driver store of `len` bytes of `value` at `offset` in the window. */
  write(offset: number, len: number, value: number | bigint): void {
    if (offset >= VirtioMmioReg.CONFIG) {
      this.#warn('config-access', offset, len, 'the configuration space is read-only');
      return;
    }
    if (!this.#regAccessOk(offset, len)) return;
    const v = Number(BigInt(value) & MASK32);
    const R = VirtioMmioReg;
    switch (offset) {
      case R.DEVICE_FEATURES_SEL:
        this.#deviceFeaturesSel = v;
        return;
      case R.DRIVER_FEATURES:
        if (this.#status & VirtioStatus.FEATURES_OK) {
          this.#warn('features-locked', offset, len, 'DriverFeatures written after FEATURES_OK');
          return;
        }
        if (this.#driverFeaturesSel <= 1) this.#driverFeatures = setHalf(this.#driverFeatures, this.#driverFeaturesSel === 1, v);
        return;
      case R.DRIVER_FEATURES_SEL:
        this.#driverFeaturesSel = v;
        return;
      case R.QUEUE_SEL:
        this.#queueSel = v;
        return;
      case R.QUEUE_NUM:
      case R.QUEUE_DESC_LOW:
      case R.QUEUE_DESC_HIGH:
      case R.QUEUE_DRIVER_LOW:
      case R.QUEUE_DRIVER_HIGH:
      case R.QUEUE_DEVICE_LOW:
      case R.QUEUE_DEVICE_HIGH:
        this.#writeQueueReg(offset, len, v);
        return;
      case R.QUEUE_READY:
        this.#writeQueueReady(offset, len, (v & 1) === 1);
        return;
      case R.QUEUE_NOTIFY:
        if (!this.driverOk || !this.#queues[v]?.ready) {
          this.#warn('notify-not-ready', offset, len, `kick of queue ${v}, which is not ready${this.driverOk ? '' : ' (no DRIVER_OK)'}`);
          return;
        }
        this.events.emit('notify', v);
        return;
      case R.INTERRUPT_ACK: {
        this.#interruptStatus &= ~v;
        this.events.emit('interrupt-ack', v, this.#interruptStatus);
        return;
      }
      case R.STATUS:
        this.#writeStatus(v & 0xff);
        return;
      case R.SHM_SEL:
        this.#shmSel = v;
        return;
      case R.QUEUE_RESET:
        this.#warn('queue-reset-unsupported', offset, len, 'VIRTIO_F_RING_RESET is not offered');
        return;
      case R.MAGIC_VALUE:
      case R.VERSION:
      case R.DEVICE_ID:
      case R.VENDOR_ID:
      case R.DEVICE_FEATURES:
      case R.QUEUE_NUM_MAX:
      case R.INTERRUPT_STATUS:
      case R.SHM_LEN_LOW:
      case R.SHM_LEN_HIGH:
      case R.SHM_BASE_LOW:
      case R.SHM_BASE_HIGH:
      case R.CONFIG_GENERATION:
        this.#warn('write-read-only', offset, len, 'write to a read-only register');
        return;
      default:
        this.#warn('unknown-register', offset, len, 'no register at this offset');
    }
  }

  // ── internals ────────────────────────────────────────────────────────────

  #freshQueues(): QueueState[] {
    return this.#specs.map((s) => ({ num: s.maxSize, ready: false, desc: 0n, driver: 0n, device: 0n }));
  }

  #regAccessOk(offset: number, len: number): boolean {
    if (len === 4 && offset >= 0 && offset % 4 === 0) return true;
    this.#warn('bad-width', offset, len, 'registers below 0x100 take 32-bit aligned accesses only');
    return false;
  }

  #readConfig(offset: number, len: number): number {
    const at = offset - VirtioMmioReg.CONFIG;
    if (!(len === 1 || len === 2 || len === 4) || at % len !== 0 || at + len > this.#config.length) {
      this.#warn('config-access', offset, len, `config read of ${len} bytes at +${at} (config space is ${this.#config.length} bytes)`);
      return 0;
    }
    let v = 0;
    for (let i = len - 1; i >= 0; i--) v = v * 256 + this.#config[at + i]!;
    return v;
  }

  #warn(kind: VirtioMmioWarningKind, offset: number, len: number, detail: string): void {
    this.#warnings.set(kind, (this.#warnings.get(kind) ?? 0) + 1);
    this.events.emit('warning', { kind, offset, len, detail });
  }

  #raise(bit: number): void {
    this.#interruptStatus |= bit;
    this.events.emit('interrupt', this.#interruptStatus);
  }

  #configOf(index: number, q: QueueState): VirtioMmioQueueConfig {
    const f = this.#driverFeatures;
    return {
      index,
      size: q.num,
      descAddr: q.desc,
      availAddr: q.driver,
      usedAddr: q.device,
      eventIdx: (f & featureBit(VirtioFeature.RING_F_EVENT_IDX)) !== 0n,
      indirect: (f & featureBit(VirtioFeature.RING_F_INDIRECT_DESC)) !== 0n,
      notifyOnEmpty: (f & featureBit(VirtioFeature.F_NOTIFY_ON_EMPTY)) !== 0n,
    };
  }

  /** The selected queue, or undefined (with a warning) when it does not exist now. */
  #selectedQueue(offset: number, len: number): QueueState | undefined {
    const q = this.#queues[this.#queueSel];
    if (q === undefined || this.queueNumMax(this.#queueSel) === 0) {
      this.#warn('queue-absent', offset, len, `queue ${this.#queueSel} does not exist`);
      return undefined;
    }
    return q;
  }

  #writeQueueReg(offset: number, len: number, v: number): void {
    const q = this.#selectedQueue(offset, len);
    if (q === undefined) return;
    if (q.ready) {
      this.#warn('queue-busy', offset, len, `queue ${this.#queueSel} is ready: its configuration cannot change`);
      return;
    }
    const R = VirtioMmioReg;
    switch (offset) {
      case R.QUEUE_NUM: {
        const max = this.queueNumMax(this.#queueSel);
        if (v === 0 || v > max || (v & (v - 1)) !== 0) {
          this.#warn('queue-num-invalid', offset, len, `QueueNum ${v} is not a power of 2 in 1..${max}`);
          return;
        }
        q.num = v;
        return;
      }
      case R.QUEUE_DESC_LOW:
      case R.QUEUE_DESC_HIGH:
        q.desc = setHalf(q.desc, offset === R.QUEUE_DESC_HIGH, v);
        return;
      case R.QUEUE_DRIVER_LOW:
      case R.QUEUE_DRIVER_HIGH:
        q.driver = setHalf(q.driver, offset === R.QUEUE_DRIVER_HIGH, v);
        return;
      default:
        q.device = setHalf(q.device, offset === R.QUEUE_DEVICE_HIGH, v);
    }
  }

  #writeQueueReady(offset: number, len: number, ready: boolean): void {
    const index = this.#queueSel;
    const q = this.#selectedQueue(offset, len);
    if (q === undefined || q.ready === ready) return;
    if (!ready) {
      q.ready = false;
      this.events.emit('queue-disabled', index);
      return;
    }
    if (!(this.#status & VirtioStatus.FEATURES_OK)) {
      this.#warn('queue-before-features-ok', offset, len, `queue ${index} made ready before FEATURES_OK`);
      return;
    }
    const cfg = this.#configOf(index, q);
    const problem = checkSplitQueueConfig(cfg);
    if (problem !== undefined) {
      this.#warn('queue-config-invalid', offset, len, `queue ${index}: ${problem}`);
      this.needsReset();
      return;
    }
    q.ready = true;
    this.events.emit('queue-ready', cfg);
  }

  #writeStatus(v: number): void {
    const prev = this.#status;
    if (v === 0) {
      this.#status = 0;
      this.#deviceFeaturesSel = 0;
      this.#driverFeaturesSel = 0;
      this.#driverFeatures = 0n;
      this.#queueSel = 0;
      this.#shmSel = 0;
      this.#interruptStatus = 0;
      this.#queues = this.#freshQueues();
      this.events.emit('reset');
      this.events.emit('status-change', 0, prev);
      return;
    }
    let next = (v & ~VirtioStatus.DEVICE_NEEDS_RESET) | (prev & VirtioStatus.DEVICE_NEEDS_RESET);
    let featuresOk = false;
    if (next & VirtioStatus.FEATURES_OK && !(prev & VirtioStatus.FEATURES_OK)) {
      const f = this.#driverFeatures;
      if ((f & ~this.deviceFeatures) !== 0n || (f & this.requiredFeatures) !== this.requiredFeatures) {
        this.#warn('features-rejected', VirtioMmioReg.STATUS, 4, `driver features 0x${f.toString(16)} rejected (device 0x${this.deviceFeatures.toString(16)}, required 0x${this.requiredFeatures.toString(16)})`);
        next &= ~VirtioStatus.FEATURES_OK;
      } else {
        featuresOk = true;
      }
    }
    this.#status = next;
    if (next !== prev) this.events.emit('status-change', next, prev);
    if (featuresOk) this.events.emit('features-ok', this.#driverFeatures);
    if (this.driverOk && !(prev & VirtioStatus.DRIVER_OK && prev & VirtioStatus.FEATURES_OK)) this.events.emit('driver-ok', this.#driverFeatures);
  }
}
