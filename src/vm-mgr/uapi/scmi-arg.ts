/**
 * The emulator's own VM function for an SCMI-over-virtio backend: its type number and the codec
 * of its argument, `struct gunyah_fn_scmi_arg` (128 bytes, little-endian). This is not part of
 * the v17 UAPI; it extends it the way a vendor function would (docs/scmi.md documents the layout
 * byte by byte and the kernel-side checks).
 *
 *   off size field
 *     0    4 agent_id        SCMI agent ID of the VM (≥ 2; 0 = platform, 1 = host)
 *     4    4 flags           bit 0 P2A (an eventq is described); other bits reserved (0)
 *     8    8 features        negotiated virtio feature bits (VERSION_1 = bit 32 required)
 *    16    4 kick_fd         eventfd the backend waits on (the VMM's ioeventfd on QueueNotify)
 *    20    4 call_fd         eventfd the backend signals (the VMM's irqfd)
 *    24   16 name            agent name, NUL-padded
 *    40    8 device_mask     bit n: platform device n is given to the agent
 *    48    8 control_mask    bit n: the agent may change device n's resources (⊆ device_mask)
 *    56    4 protocol_mask   bit (id − 0x11): protocol id 0x11..0x17 allowed (Base always is)
 *    60    4 reserved        0
 *    64   32 cmdq            gunyah_fn_scmi_queue
 *    96   32 eventq          gunyah_fn_scmi_queue (all zero without P2A)
 *
 *   gunyah_fn_scmi_queue: @0 u16 size, @2 u16 reserved, @4 u32 reserved, @8 u64 desc,
 *                         @16 u64 driver (avail ring), @24 u64 device (used ring)
 *
 * Pure codec, as structs.ts: decoders check only the size; meaning is checked by the function.
 */
import { assertU16, assertU32, assertU64, view } from '../../shared/bytes.js';
import { WireError } from '../../shared/wire-error.js';

/** Function type of the SCMI backend (outside v17's 1..3). */
export const GUNYAH_FN_SCMI = 0x100;
/** sizeof(struct gunyah_fn_scmi_arg). */
export const SIZEOF_FN_SCMI_ARG = 128;
/** flags bit 0: an eventq is described (VIRTIO_SCMI_F_P2A_CHANNELS negotiated). */
export const GUNYAH_SCMI_FLAGS_P2A = 0x1;
/** Length of the name field. */
export const SCMI_ARG_NAME_LEN = 16;

export type FnScmiQueue = Readonly<{ size: number; reserved0: number; reserved1: number; desc: bigint; driver: bigint; device: bigint }>;
export type FnScmiQueueInit = Readonly<{ size: number; desc: bigint; driver: bigint; device: bigint; reserved0?: number; reserved1?: number }>;

export type FnScmiArg = Readonly<{
  agentId: number;
  flags: number;
  features: bigint;
  kickFd: number;
  callFd: number;
  /** The 16 raw name bytes. */
  name: Uint8Array;
  deviceMask: bigint;
  controlMask: bigint;
  protocolMask: number;
  reserved: number;
  cmdq: FnScmiQueue;
  eventq: FnScmiQueue;
}>;

export type FnScmiArgInit = Readonly<{
  agentId: number;
  flags?: number;
  features: bigint;
  kickFd: number;
  callFd: number;
  /** ASCII, ≤ 16 bytes (NUL-padded); or the raw 16 bytes. */
  name: string | Uint8Array;
  deviceMask: bigint;
  controlMask: bigint;
  protocolMask: number;
  reserved?: number;
  cmdq: FnScmiQueueInit;
  eventq?: FnScmiQueueInit;
}>;

const QUEUE_SIZE = 32;
const CMDQ = 64;
const EVENTQ = 96;

function decodeQueue(v: DataView, at: number): FnScmiQueue {
  return {
    size: v.getUint16(at, true),
    reserved0: v.getUint16(at + 2, true),
    reserved1: v.getUint32(at + 4, true),
    desc: v.getBigUint64(at + 8, true),
    driver: v.getBigUint64(at + 16, true),
    device: v.getBigUint64(at + 24, true),
  };
}

function encodeQueue(v: DataView, at: number, q: FnScmiQueueInit, what: string): void {
  assertU16(q.size, `${what}.size`);
  assertU16(q.reserved0 ?? 0, `${what}.reserved0`);
  assertU32(q.reserved1 ?? 0, `${what}.reserved1`);
  assertU64(q.desc, `${what}.desc`);
  assertU64(q.driver, `${what}.driver`);
  assertU64(q.device, `${what}.device`);
  v.setUint16(at, q.size, true);
  v.setUint16(at + 2, q.reserved0 ?? 0, true);
  v.setUint32(at + 4, q.reserved1 ?? 0, true);
  v.setBigUint64(at + 8, q.desc, true);
  v.setBigUint64(at + 16, q.driver, true);
  v.setBigUint64(at + 24, q.device, true);
}

export function decodeFnScmiArg(b: Uint8Array): FnScmiArg {
  if (b.byteLength < SIZEOF_FN_SCMI_ARG) throw new WireError('short', { what: `gunyah_fn_scmi_arg needs ${SIZEOF_FN_SCMI_ARG} bytes, got ${b.byteLength}` });
  if (b.byteLength > SIZEOF_FN_SCMI_ARG) throw new WireError('long', { what: `gunyah_fn_scmi_arg is ${SIZEOF_FN_SCMI_ARG} bytes, got ${b.byteLength}` });
  const v = view(b);
  return {
    agentId: v.getUint32(0, true),
    flags: v.getUint32(4, true),
    features: v.getBigUint64(8, true),
    kickFd: v.getUint32(16, true),
    callFd: v.getUint32(20, true),
    name: b.slice(24, 24 + SCMI_ARG_NAME_LEN),
    deviceMask: v.getBigUint64(40, true),
    controlMask: v.getBigUint64(48, true),
    protocolMask: v.getUint32(56, true),
    reserved: v.getUint32(60, true),
    cmdq: decodeQueue(v, CMDQ),
    eventq: decodeQueue(v, EVENTQ),
  };
}

export function encodeFnScmiArg(a: FnScmiArgInit): Uint8Array {
  const out = new Uint8Array(SIZEOF_FN_SCMI_ARG);
  const v = view(out);
  assertU32(a.agentId, 'agentId');
  assertU32(a.flags ?? 0, 'flags');
  assertU64(a.features, 'features');
  assertU32(a.kickFd, 'kickFd');
  assertU32(a.callFd, 'callFd');
  assertU64(a.deviceMask, 'deviceMask');
  assertU64(a.controlMask, 'controlMask');
  assertU32(a.protocolMask, 'protocolMask');
  assertU32(a.reserved ?? 0, 'reserved');
  const name = typeof a.name === 'string' ? new TextEncoder().encode(a.name) : a.name;
  if (name.byteLength > SCMI_ARG_NAME_LEN) throw new RangeError(`name must be at most ${SCMI_ARG_NAME_LEN} bytes, got ${name.byteLength}`);
  v.setUint32(0, a.agentId, true);
  v.setUint32(4, a.flags ?? 0, true);
  v.setBigUint64(8, a.features, true);
  v.setUint32(16, a.kickFd, true);
  v.setUint32(20, a.callFd, true);
  out.set(name, 24);
  v.setBigUint64(40, a.deviceMask, true);
  v.setBigUint64(48, a.controlMask, true);
  v.setUint32(56, a.protocolMask, true);
  v.setUint32(60, a.reserved ?? 0, true);
  encodeQueue(v, CMDQ, a.cmdq, 'cmdq');
  if (a.eventq) encodeQueue(v, EVENTQ, a.eventq, 'eventq');
  return out;
}

/** Offset of each queue record, for tests and docs. */
export const FN_SCMI_ARG_LAYOUT = { cmdq: CMDQ, eventq: EVENTQ, queueSize: QUEUE_SIZE } as const;
