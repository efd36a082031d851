/**
 * The guest's virtio-scmi driver: what a Linux guest's `arm_scmi` virtio transport and the
 * virtio-mmio bus driver do, as a stream of guest operations (32-bit MMIO loads and stores to
 * the register window, loads and stores to ring memory, WFI for the completion interrupt).
 * It is an independent implementation written from the reference sheet; it knows nothing of
 * the emulator's device side (src/virtio, src/scmi).
 *
 * Reference: scmi-virtio.md §1 (register map, 32-bit accesses), §2 (status bits, the driver's
 * initialisation order), §3 (feature bits), §4 (split virtqueue layout, descriptor flags),
 * §5 (virtio-scmi: cmdq/eventq, Linux's two-descriptor chains and 136-byte buffers, error
 * replies of 8 bytes), §6 (SCMI header), §11 (on Gunyah: MMIO exits, ioeventfd on
 * QueueNotify, irqfd → doorbell vIRQ, ring memory must be shared).
 *
 * What the driver expects of the VM it runs in (the VMM and the SCMI function must provide):
 * - A virtio-mmio (version 2) window at `mmioBase` that is not guest RAM, so every access is an
 *   MMIO exit (or an ioeventfd hit for QueueNotify). Every register access is 4 bytes wide.
 * - The ring area [ringBase, ringBase + virtioScmiLayout(...).size) in guest memory that is
 *   **shared** with the host (a FORCE_SHARE binding or a `shm-*` region): the backend reads the
 *   descriptors, the available ring and the request buffers there, and writes the used ring and
 *   the responses. The guest cannot tell shared from lent memory; the host must refuse lent.
 * - Completion: in `irq` mode the driver waits with WFI for **any** interrupt (the doorbell vIRQ
 *   the irqfd rings, whatever its INTID), then reads InterruptStatus, acknowledges what it read
 *   through InterruptACK, and looks at used.idx; no progress → WFI again. In `poll` mode it sets
 *   avail.flags NO_INTERRUPT and re-reads used.idx (a `spin` between reads lets the host run).
 *   A device that never answers leaves the vCPU waiting (Linux would time out after 60 s; the
 *   emulator has no guest time).
 *
 * Ring area layout (Q = the negotiated queue size, a power of two ≥ 2; offsets from ringBase):
 *   cmdq  desc     0                          16 × Q
 *         avail    16Q                        6 + 2Q  (flags, idx, ring[Q]; no used_event)
 *         used     align4(avail end)          6 + 8Q
 *         buffers  align16(used end)          Q/2 slots × 272: request 136 bytes, response 136
 *   eventq (only when P2A is negotiated), from align16(cmdq end): the same three parts, then
 *         Q writable 136-byte buffers, all posted at probe (descriptor i → buffer i) and never
 *         consumed (the driver does not process notifications).
 * A command uses the descriptor pair (2s, 2s + 1) and slot s; pairs are handed out round-robin.
 *
 * State: the device and queue state (addresses, next free descriptor, shadow avail.idx,
 * last_used, the token counter) lives in `cpu.vmShared` under VIRTIO_SCMI_STATE_KEY: one
 * device per VM, as Linux allows one SCMI virtio device per guest. One command is in flight at
 * a time: a vCPU that finds the channel busy (another vCPU between kick and reply) spins. The
 * reply of a call is returned to the caller (the program engine keeps it per vCPU).
 *
 * Failures are guest exceptions out of the generator (the vCPU crashes; the VMM sees the VM
 * crash): VirtioScmiEsr below. An exception the hypervisor throws in is not caught.
 */

import { GuestException, type GuestCpu, type GuestOp } from './api.js';
import { GUEST_VA_LIMIT } from './guest-va.js';

/** `cpu.vmShared` key of the per-VM driver channel (VirtioScmiChannel). */
export const VIRTIO_SCMI_STATE_KEY = 'virtio-scmi.channel';

/** virtio-mmio register offsets the driver uses (scmi-virtio.md §1). */
export const VirtioScmiReg = {
  MAGIC: 0x000,
  VERSION: 0x004,
  DEVICE_ID: 0x008,
  DEVICE_FEATURES: 0x010,
  DEVICE_FEATURES_SEL: 0x014,
  DRIVER_FEATURES: 0x020,
  DRIVER_FEATURES_SEL: 0x024,
  QUEUE_SEL: 0x030,
  QUEUE_NUM_MAX: 0x034,
  QUEUE_NUM: 0x038,
  QUEUE_READY: 0x044,
  QUEUE_NOTIFY: 0x050,
  INTERRUPT_STATUS: 0x060,
  INTERRUPT_ACK: 0x064,
  STATUS: 0x070,
  QUEUE_DESC_LOW: 0x080,
  QUEUE_DESC_HIGH: 0x084,
  QUEUE_DRIVER_LOW: 0x090,
  QUEUE_DRIVER_HIGH: 0x094,
  QUEUE_DEVICE_LOW: 0x0a0,
  QUEUE_DEVICE_HIGH: 0x0a4,
} as const;

/** Size of the register window the driver touches (everything below the config space). */
export const VIRTIO_SCMI_MMIO_SIZE = 0x100;
const MAGIC = 0x7472_6976; // "virt"
const VERSION = 2;
const DEVICE_ID_SCMI = 32;

/** Device status bits (scmi-virtio.md §2). */
export const VirtioScmiStatusBit = { ACKNOWLEDGE: 1, DRIVER: 2, DRIVER_OK: 4, FEATURES_OK: 8, FAILED: 128 } as const;
const S = VirtioScmiStatusBit;

/** Feature bits the driver knows (scmi-virtio.md §3). */
export const VirtioScmiFeature = {
  P2A_CHANNELS: 1n << 0n,
  VERSION_1: 1n << 32n,
} as const;

/** Descriptor flags (scmi-virtio.md §4). */
const DESC_F_NEXT = 1;
const DESC_F_WRITE = 2;
/** avail.flags bit 0. */
const AVAIL_F_NO_INTERRUPT = 1;
/** InterruptStatus bit 0. */
const INT_USED_BUFFER = 1;

/** Largest SCMI payload Linux sends or accepts; each buffer is 8 bytes more (scmi-virtio.md §5). */
export const VIRTIO_SCMI_MAX_PAYLOAD = 128;
/** Size of each request, response and eventq buffer. */
export const VIRTIO_SCMI_BUFFER_SIZE = VIRTIO_SCMI_MAX_PAYLOAD + 8;
/** Largest number of u32 parameter words in a request (4 + 4 × 32 ≤ 136). */
export const VIRTIO_SCMI_MAX_PARAMS = VIRTIO_SCMI_MAX_PAYLOAD / 4;
/** Largest virtqueue size (scmi-virtio.md §4). */
export const VIRTIO_SCMI_MAX_QUEUE_SIZE = 32768;
/** Status reads after the reset write before the driver gives up on the device. */
export const VIRTIO_SCMI_RESET_POLLS = 64;

/** ESR values of the driver's own failures: `BRK #imm` (EC 0x3C, IL 1), FAR 0. */
export const VirtioScmiEsr = {
  /** BRK #0x10: no usable device (bad magic/version/ID, features or queue refused, no probe). */
  PROBE_FAILED: 0xf200_0010n,
  /** BRK #0x11: the device broke the transport rules (used entry, length or header). */
  TRANSPORT_ERROR: 0xf200_0011n,
} as const;

/** Where one virtqueue's parts are (guest addresses). */
export interface VirtqLayout {
  readonly size: number;
  readonly desc: number;
  readonly avail: number;
  readonly used: number;
  readonly buffers: number;
  /** First address after this queue's part of the area. */
  readonly end: number;
}

/** The whole ring area: cmdq, then (P2A only) eventq. */
export interface VirtioScmiLayout {
  readonly cmdq: VirtqLayout;
  readonly eventq: VirtqLayout | undefined;
  /** Bytes from ringBase to the end of the area. */
  readonly size: number;
}

const align = (n: number, a: number): number => Math.ceil(n / a) * a;

function queueLayout(base: number, q: number, bufferBytes: number): VirtqLayout {
  const desc = base;
  const avail = desc + 16 * q;
  const used = align(avail + 6 + 2 * q, 4);
  const buffers = align(used + 6 + 8 * q, 16);
  return { size: q, desc, avail, used, buffers, end: buffers + bufferBytes };
}

/** True for a power of two in [2, 32768]: a queue size the driver can use. */
export function isVirtioScmiQueueSize(q: number): boolean {
  return Number.isInteger(q) && q >= 2 && q <= VIRTIO_SCMI_MAX_QUEUE_SIZE && (q & (q - 1)) === 0;
}

/**
 * The ring area layout for queue size `q` at `ringBase` (see the header comment).
 * @throws RangeError for a queue size that is not a power of two in [2, 32768]
 */
export function virtioScmiLayout(ringBase: number, q: number, p2a: boolean): VirtioScmiLayout {
  if (!isVirtioScmiQueueSize(q)) throw new RangeError(`virtio-scmi queue size must be a power of two in [2, 32768], got ${q}`);
  const cmdq = queueLayout(ringBase, q, (q / 2) * 2 * VIRTIO_SCMI_BUFFER_SIZE);
  const eventq = p2a ? queueLayout(align(cmdq.end, 16), q, q * VIRTIO_SCMI_BUFFER_SIZE) : undefined;
  return { cmdq, eventq, size: (eventq ?? cmdq).end - ringBase };
}

/** What the program tells the driver at probe. */
export interface VirtioScmiProbeOptions {
  /** Guest address of the virtio-mmio register window. */
  readonly mmioBase: number;
  /** Guest address of the ring area (16-byte aligned, in shared memory). */
  readonly ringBase: number;
  /** Wanted queue size (power of two, 2..32768); the device's QueueNumMax may lower it. */
  readonly queueSize: number;
  /** Accept VIRTIO_SCMI_F_P2A_CHANNELS when the device offers it (and set up the eventq). */
  readonly p2a?: boolean;
}

/** The driver's view of a probed device (lives in `cpu.vmShared`). */
export interface VirtioScmiDriverState {
  readonly mmioBase: number;
  /** The feature bits written to DriverFeatures. */
  readonly features: bigint;
  readonly cmdq: VirtqLayout;
  readonly eventq: VirtqLayout | undefined;
  /** Head of the next descriptor pair to use (even, < Q). */
  nextDesc: number;
  /** The driver's copy of avail.idx (u16). */
  availIdx: number;
  /** used.idx the driver has consumed up to (u16). */
  lastUsed: number;
  /** Token of the next request without an explicit token (10 bits). */
  nextToken: number;
  /** What the driver last stored in avail.flags. */
  availFlags: number;
}

/** The per-VM channel: the lock and the probed device. */
export interface VirtioScmiChannel {
  /** vCPU index that owns the channel (probing or a command in flight), −1 when free. */
  owner: number;
  driver: VirtioScmiDriverState | undefined;
}

/** One SCMI command. */
export interface ScmiRequest {
  readonly protocolId: number;
  readonly messageId: number;
  /** Header bits 9:8; 0 (command) unless testing a device's answer to other types. */
  readonly messageType?: number;
  /** Header bits 27:18; default: the channel's counter (then incremented, mod 1024). */
  readonly token?: number;
  /** u32 parameter words (at most 32). */
  readonly params: readonly number[];
  /** How to wait for the reply; default 'irq'. */
  readonly wait?: 'irq' | 'poll';
}

/** The reply to one command. */
export interface ScmiCallReply {
  /** The header sent (and echoed by the device). */
  readonly header: number;
  readonly token: number;
  /** s32 status. */
  readonly status: number;
  /** Return values as u32 words (a trailing partial word is zero-padded). */
  readonly payload: readonly number[];
  /** Bytes of return values: used len − 8. */
  readonly payloadBytes: number;
  /** The used length the device reported. */
  readonly usedLen: number;
}

/** Bits 63:32 of a request descriptor's second word: flags NEXT (its `next` is added per call). */
const REQ_DESC_FLAGS = BigInt(DESC_F_NEXT) << 32n;
/** A response descriptor's second word: len 136, flags WRITE, next 0. */
const RESP_DESC_WORD = BigInt(VIRTIO_SCMI_BUFFER_SIZE) | (BigInt(DESC_F_WRITE) << 32n);

const SPIN: GuestOp = Object.freeze({ kind: 'spin' });
const WFI: GuestOp = Object.freeze({ kind: 'wfi' });

function probeFailed(why: string): GuestException {
  return new GuestException(VirtioScmiEsr.PROBE_FAILED, 0n, `virtio-scmi: ${why}`);
}
function transportError(why: string): GuestException {
  return new GuestException(VirtioScmiEsr.TRANSPORT_ERROR, 0n, `virtio-scmi: ${why}`);
}

function* readReg(base: number, off: number): Generator<GuestOp, number, bigint> {
  const v = yield { kind: 'load', addr: base + off, len: 4 };
  return Number(BigInt.asUintN(32, v));
}
function* writeReg(base: number, off: number, value: number): Generator<GuestOp, void, bigint> {
  yield { kind: 'store', addr: base + off, len: 4, value: BigInt(value >>> 0) };
}

/** The VM's channel, made on first use. */
export function virtioScmiChannel(cpu: GuestCpu): VirtioScmiChannel {
  let ch = cpu.vmShared.get(VIRTIO_SCMI_STATE_KEY) as VirtioScmiChannel | undefined;
  if (ch === undefined) {
    ch = { owner: -1, driver: undefined };
    cpu.vmShared.set(VIRTIO_SCMI_STATE_KEY, ch);
  }
  return ch;
}

function* acquire(ch: VirtioScmiChannel, cpu: GuestCpu): Generator<GuestOp, void, bigint> {
  while (ch.owner !== -1 && ch.owner !== cpu.index) yield SPIN;
  ch.owner = cpu.index;
}

/**
 * Probe and initialise the device (scmi-virtio.md §2 order) and set up the cmdq (and the
 * eventq when P2A is negotiated). Register accesses, all 4 bytes at mmioBase + offset:
 *   R MAGIC, R VERSION, R DEVICE_ID (wrong → crash, nothing written);
 *   W STATUS 0, R STATUS until 0 (at most VIRTIO_SCMI_RESET_POLLS reads, a spin between);
 *   W STATUS 1 (ACKNOWLEDGE), W STATUS 3 (+DRIVER);
 *   W DEVICE_FEATURES_SEL 0, R DEVICE_FEATURES, W DEVICE_FEATURES_SEL 1, R DEVICE_FEATURES;
 *   no VERSION_1 offered → W STATUS 0x83 (+FAILED), crash;
 *   W DRIVER_FEATURES_SEL 0, W DRIVER_FEATURES low, W DRIVER_FEATURES_SEL 1, W DRIVER_FEATURES high;
 *   W STATUS 0xB (+FEATURES_OK), R STATUS: FEATURES_OK clear → W STATUS (read value | 0x80), crash;
 *   per queue: (ring memory: avail and used flags/idx zeroed) W QUEUE_SEL n, R QUEUE_NUM_MAX
 *   (0 → W STATUS 0x8B, crash), W QUEUE_NUM Q, W DESC LOW/HIGH, W DRIVER LOW/HIGH,
 *   W DEVICE LOW/HIGH, W QUEUE_READY 1;
 *   W STATUS 0xF (+DRIVER_OK); with the eventq: W QUEUE_NOTIFY 1 (its buffers are posted).
 * Q = the wanted size, lowered to QueueNumMax rounded down to a power of two; below 2 → fail.
 * @returns the accepted features (VERSION_1, plus P2A_CHANNELS when asked and offered)
 * @throws GuestException VirtioScmiEsr.PROBE_FAILED (vCPU crash) when the device is unusable;
 * RangeError for options a program image could not carry (queue size, ring alignment)
 */
export function* virtioScmiProbe(cpu: GuestCpu, opts: VirtioScmiProbeOptions): Generator<GuestOp, bigint, bigint> {
  const ch = virtioScmiChannel(cpu);
  yield* acquire(ch, cpu);
  try {
    ch.driver = undefined;
    const state = yield* probe(opts);
    ch.driver = state;
    return state.features;
  } finally {
    ch.owner = -1;
  }
}

function* probe(opts: VirtioScmiProbeOptions): Generator<GuestOp, VirtioScmiDriverState, bigint> {
  const { mmioBase: base, ringBase } = opts;
  virtioScmiLayout(ringBase, opts.queueSize, opts.p2a === true); // validates the size
  if (ringBase % 16 !== 0) throw new RangeError(`virtio-scmi ring area 0x${ringBase.toString(16)} is not 16-byte aligned`);
  const R = (off: number): Generator<GuestOp, number, bigint> => readReg(base, off);
  const W = (off: number, v: number): Generator<GuestOp, void, bigint> => writeReg(base, off, v);

  const magic = yield* R(VirtioScmiReg.MAGIC);
  if (magic !== MAGIC) throw probeFailed(`bad magic 0x${magic.toString(16)}`);
  const version = yield* R(VirtioScmiReg.VERSION);
  if (version !== VERSION) throw probeFailed(`virtio-mmio version ${version}, want 2`);
  const id = yield* R(VirtioScmiReg.DEVICE_ID);
  if (id !== DEVICE_ID_SCMI) throw probeFailed(`device ID ${id}, want 32 (SCMI)`);

  // Reset and wait for the device to show it.
  yield* W(VirtioScmiReg.STATUS, 0);
  for (let i = 0; ; i++) {
    if ((yield* R(VirtioScmiReg.STATUS)) === 0) break;
    if (i + 1 >= VIRTIO_SCMI_RESET_POLLS) throw probeFailed('the device does not reset (Status stays non-zero)');
    yield SPIN;
  }
  let status = S.ACKNOWLEDGE;
  yield* W(VirtioScmiReg.STATUS, status);
  status |= S.DRIVER;
  yield* W(VirtioScmiReg.STATUS, status);
  const fail = function* (why: string, current: number): Generator<GuestOp, never, bigint> {
    yield* W(VirtioScmiReg.STATUS, current | S.FAILED);
    throw probeFailed(why);
  };

  // Feature negotiation.
  yield* W(VirtioScmiReg.DEVICE_FEATURES_SEL, 0);
  const lo = yield* R(VirtioScmiReg.DEVICE_FEATURES);
  yield* W(VirtioScmiReg.DEVICE_FEATURES_SEL, 1);
  const hi = yield* R(VirtioScmiReg.DEVICE_FEATURES);
  const offered = (BigInt(hi) << 32n) | BigInt(lo);
  if ((offered & VirtioScmiFeature.VERSION_1) === 0n) return yield* fail('the device does not offer VIRTIO_F_VERSION_1', status);
  let features = VirtioScmiFeature.VERSION_1;
  if (opts.p2a === true && (offered & VirtioScmiFeature.P2A_CHANNELS) !== 0n) features |= VirtioScmiFeature.P2A_CHANNELS;
  yield* W(VirtioScmiReg.DRIVER_FEATURES_SEL, 0);
  yield* W(VirtioScmiReg.DRIVER_FEATURES, Number(features & 0xffff_ffffn));
  yield* W(VirtioScmiReg.DRIVER_FEATURES_SEL, 1);
  yield* W(VirtioScmiReg.DRIVER_FEATURES, Number(features >> 32n));
  status |= S.FEATURES_OK;
  yield* W(VirtioScmiReg.STATUS, status);
  const back = yield* R(VirtioScmiReg.STATUS);
  if ((back & S.FEATURES_OK) === 0) return yield* fail('the device refused the features (FEATURES_OK not set)', back);

  // Queues: cmdq (0), and the eventq (1) when P2A was negotiated.
  const p2a = (features & VirtioScmiFeature.P2A_CHANNELS) !== 0n;
  const max0 = yield* selectQueue(base, 0);
  const q0 = usableSize(opts.queueSize, max0);
  if (q0 === undefined) return yield* fail(`cmdq QueueNumMax ${max0} is below 2`, status);
  const cmdq = virtioScmiLayout(ringBase, q0, false).cmdq;
  yield* setUpQueue(base, cmdq);
  let eventq: VirtqLayout | undefined;
  if (p2a) {
    const max1 = yield* selectQueue(base, 1);
    const q1 = usableSize(opts.queueSize, max1);
    if (q1 === undefined) return yield* fail(`eventq QueueNumMax ${max1} is below 2`, status);
    eventq = queueLayout(align(cmdq.end, 16), q1, q1 * VIRTIO_SCMI_BUFFER_SIZE);
    yield* setUpQueue(base, eventq);
    yield* postEventBuffers(eventq);
  }
  status |= S.DRIVER_OK;
  yield* W(VirtioScmiReg.STATUS, status);
  if (eventq !== undefined) yield* W(VirtioScmiReg.QUEUE_NOTIFY, 1);
  return { mmioBase: base, features, cmdq, eventq, nextDesc: 0, availIdx: 0, lastUsed: 0, nextToken: 0, availFlags: 0 };
}

/** The largest power of two ≤ min(wanted, max), or undefined when that is below 2. */
function usableSize(wanted: number, max: number): number | undefined {
  let q = Math.min(wanted, max);
  if (q < 2) return undefined;
  while ((q & (q - 1)) !== 0) q &= q - 1;
  return q;
}

function* selectQueue(base: number, index: number): Generator<GuestOp, number, bigint> {
  yield* writeReg(base, VirtioScmiReg.QUEUE_SEL, index);
  return yield* readReg(base, VirtioScmiReg.QUEUE_NUM_MAX);
}

function* setUpQueue(base: number, q: VirtqLayout): Generator<GuestOp, void, bigint> {
  // Ring memory first: avail {flags 0, idx 0} and used {flags 0, idx 0}.
  yield { kind: 'store', addr: q.avail, len: 4, value: 0n };
  yield { kind: 'store', addr: q.used, len: 4, value: 0n };
  const W = (off: number, v: number): Generator<GuestOp, void, bigint> => writeReg(base, off, v);
  yield* W(VirtioScmiReg.QUEUE_NUM, q.size);
  yield* W(VirtioScmiReg.QUEUE_DESC_LOW, q.desc % 2 ** 32);
  yield* W(VirtioScmiReg.QUEUE_DESC_HIGH, Math.floor(q.desc / 2 ** 32));
  yield* W(VirtioScmiReg.QUEUE_DRIVER_LOW, q.avail % 2 ** 32);
  yield* W(VirtioScmiReg.QUEUE_DRIVER_HIGH, Math.floor(q.avail / 2 ** 32));
  yield* W(VirtioScmiReg.QUEUE_DEVICE_LOW, q.used % 2 ** 32);
  yield* W(VirtioScmiReg.QUEUE_DEVICE_HIGH, Math.floor(q.used / 2 ** 32));
  yield* W(VirtioScmiReg.QUEUE_READY, 1);
}

/** Descriptor i → eventq buffer i (writable, 136 bytes), all made available. */
function* postEventBuffers(q: VirtqLayout): Generator<GuestOp, void, bigint> {
  for (let i = 0; i < q.size; i++) {
    yield* storeDesc(q.desc + 16 * i, q.buffers + i * VIRTIO_SCMI_BUFFER_SIZE, VIRTIO_SCMI_BUFFER_SIZE, DESC_F_WRITE, 0);
    yield { kind: 'store', addr: q.avail + 4 + 2 * i, len: 2, value: BigInt(i) };
  }
  yield { kind: 'store', addr: q.avail + 2, len: 2, value: BigInt(q.size & 0xffff) };
}

/** One 16-byte descriptor: u64 addr, then u32 len | u16 flags | u16 next as one u64. */
function* storeDesc(at: number, addr: number, len: number, flags: number, next: number): Generator<GuestOp, void, bigint> {
  yield { kind: 'store', addr: at, len: 8, value: BigInt(addr) };
  yield { kind: 'store', addr: at + 8, len: 8, value: BigInt(len) | (BigInt(flags) << 32n) | (BigInt(next) << 48n) };
}

/** The request header for `req` with `token` (scmi-virtio.md §6). */
export function scmiRequestHeader(req: Pick<ScmiRequest, 'protocolId' | 'messageId' | 'messageType'>, token: number): number {
  return ((req.messageId & 0xff) | ((req.messageType ?? 0) & 0x3) << 8 | (req.protocolId & 0xff) << 10 | (token & 0x3ff) << 18) >>> 0;
}

/**
 * Send one SCMI command on the cmdq and wait for its reply.
 * Ops: request header and parameters stored (4 bytes each) into the slot's request buffer;
 * the two descriptors (readable 4 + 4n bytes with NEXT, writable 136 bytes with WRITE);
 * avail.flags when the wait mode changes it; avail.ring[idx % Q] = head; avail.idx + 1;
 * W QUEUE_NOTIFY 0; then the wait (header comment); then an 8-byte load of the used element,
 * an 8-byte load of the echoed header and status, and one 4-byte load per payload word.
 * @throws GuestException PROBE_FAILED when no device was probed on this VM;
 * TRANSPORT_ERROR when used.idx moves by more than one, the used id is not the chain's head,
 * the used length is below 8 or above 136, the echoed header differs, or an error status
 * comes with a length other than 8
 */
export function* virtioScmiCall(cpu: GuestCpu, req: ScmiRequest): Generator<GuestOp, ScmiCallReply, bigint> {
  // One generator for the whole command (no nested helpers): every op passes through each
  // generator level between the engine and here, so the hot path keeps to one level. The op
  // sequence is the one documented above.
  const ch = virtioScmiChannel(cpu);
  while (ch.owner !== -1 && ch.owner !== cpu.index) yield SPIN;
  ch.owner = cpu.index;
  try {
    const d = ch.driver;
    if (d === undefined) throw probeFailed('no device probed on this VM');
    const n = req.params.length;
    if (n > VIRTIO_SCMI_MAX_PARAMS) throw new RangeError(`an SCMI request takes at most ${VIRTIO_SCMI_MAX_PARAMS} parameter words`);
    const q = d.cmdq;
    const Q = q.size;
    const base = d.mmioBase;
    const token = req.token ?? d.nextToken;
    const header = scmiRequestHeader(req, token);
    const head = d.nextDesc;
    const reqBuf = q.buffers + (head / 2) * 2 * VIRTIO_SCMI_BUFFER_SIZE;
    const respBuf = reqBuf + VIRTIO_SCMI_BUFFER_SIZE;

    // The request and its chain: descriptor 2s {request, 4 + 4n, NEXT, 2s + 1}, then 2s + 1
    // {response, 136, WRITE, 0}; each as u64 addr, then u32 len | u16 flags | u16 next.
    yield { kind: 'store', addr: reqBuf, len: 4, value: BigInt(header) };
    for (let i = 0; i < n; i++) yield { kind: 'store', addr: reqBuf + 4 + 4 * i, len: 4, value: BigInt(req.params[i]! >>> 0) };
    const d0 = q.desc + 16 * head;
    yield { kind: 'store', addr: d0, len: 8, value: BigInt(reqBuf) };
    yield { kind: 'store', addr: d0 + 8, len: 8, value: BigInt(4 + 4 * n) | REQ_DESC_FLAGS | (BigInt(head + 1) << 48n) };
    yield { kind: 'store', addr: d0 + 16, len: 8, value: BigInt(respBuf) };
    yield { kind: 'store', addr: d0 + 24, len: 8, value: RESP_DESC_WORD };
    d.nextDesc = (head + 2) % Q;
    if (req.token === undefined) d.nextToken = (d.nextToken + 1) & 0x3ff;

    // Publish and kick.
    const poll = req.wait === 'poll';
    const flags = poll ? AVAIL_F_NO_INTERRUPT : 0;
    if (d.availFlags !== flags) {
      yield { kind: 'store', addr: q.avail, len: 2, value: BigInt(flags) };
      d.availFlags = flags;
    }
    yield { kind: 'store', addr: q.avail + 4 + 2 * (d.availIdx % Q), len: 2, value: BigInt(head) };
    d.availIdx = (d.availIdx + 1) & 0xffff;
    yield { kind: 'store', addr: q.avail + 2, len: 2, value: BigInt(d.availIdx) };
    yield { kind: 'store', addr: base + VirtioScmiReg.QUEUE_NOTIFY, len: 4, value: 0n };

    // Wait for the used entry.
    let usedIdx: number;
    for (;;) {
      if (!poll) {
        yield WFI;
        const isr = Number(BigInt.asUintN(32, yield { kind: 'load', addr: base + VirtioScmiReg.INTERRUPT_STATUS, len: 4 }));
        if (isr !== 0) yield { kind: 'store', addr: base + VirtioScmiReg.INTERRUPT_ACK, len: 4, value: BigInt(isr) };
        if ((isr & INT_USED_BUFFER) === 0) continue;
      }
      usedIdx = Number(yield { kind: 'load', addr: q.used + 2, len: 2 }) & 0xffff;
      if (usedIdx !== d.lastUsed) break;
      if (poll) yield SPIN;
    }
    const delta = (usedIdx - d.lastUsed) & 0xffff;
    if (delta !== 1) throw transportError(`used.idx moved from ${d.lastUsed} to ${usedIdx} with one command in flight`);
    const elem = yield { kind: 'load', addr: q.used + 4 + 8 * (d.lastUsed % Q), len: 8 };
    d.lastUsed = usedIdx;
    const usedId = Number(elem & 0xffff_ffffn);
    const usedLen = Number(elem >> 32n);
    if (usedId !== head) throw transportError(`used id ${usedId}, the chain's head is ${head}`);
    if (usedLen < 8 || usedLen > VIRTIO_SCMI_BUFFER_SIZE) throw transportError(`used length ${usedLen} is outside [8, 136]`);

    // The reply.
    const hs = yield { kind: 'load', addr: respBuf, len: 8 };
    const echoed = Number(hs & 0xffff_ffffn);
    const status = Number(BigInt.asIntN(32, hs >> 32n));
    if (echoed !== header) throw transportError(`reply header 0x${echoed.toString(16)}, sent 0x${header.toString(16)}`);
    if (status !== 0 && usedLen !== 8) throw transportError(`error status ${status} with used length ${usedLen} (must be 8)`);
    const payloadBytes = usedLen - 8;
    const payload: number[] = [];
    for (let off = 0; off < payloadBytes; off += 4) {
      const w = Number(BigInt.asUintN(32, yield { kind: 'load', addr: respBuf + 8 + off, len: 4 }));
      const valid = payloadBytes - off;
      payload.push(valid >= 4 ? w : w & (2 ** (8 * valid) - 1));
    }
    return { header, token: token & 0x3ff, status, payload, payloadBytes, usedLen };
  } finally {
    ch.owner = -1;
  }
}

/** Checks on probe options a program image must pass (also used by the program decoder). */
export function virtioScmiProbeProblem(mmioBase: bigint, ringBase: bigint, queueSize: bigint, p2a: boolean): string | undefined {
  if (mmioBase % 4n !== 0n) return `MMIO base 0x${mmioBase.toString(16)} is not 4-byte aligned`;
  if (mmioBase + BigInt(VIRTIO_SCMI_MMIO_SIZE) > BigInt(GUEST_VA_LIMIT)) return `MMIO window at 0x${mmioBase.toString(16)} is outside the 48-bit space`;
  if (ringBase % 16n !== 0n) return `ring area 0x${ringBase.toString(16)} is not 16-byte aligned`;
  if (queueSize > BigInt(VIRTIO_SCMI_MAX_QUEUE_SIZE) || !isVirtioScmiQueueSize(Number(queueSize))) return `queue size ${queueSize} is not a power of two in [2, 32768]`;
  if (ringBase + BigInt(virtioScmiLayout(0, Number(queueSize), p2a).size) > BigInt(GUEST_VA_LIMIT)) return `ring area at 0x${ringBase.toString(16)} is outside the 48-bit space`;
  return undefined;
}
