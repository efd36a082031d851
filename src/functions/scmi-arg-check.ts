/**
 * The kernel-side checks of `struct gunyah_fn_scmi_arg` (GUNYAH_FN_SCMI, the emulator's own VM
 * function for the SCMI backend), in the order they run. Each check is one row of the validation
 * table in docs/scmi.md ("Validation"); the row numbers in the comments below are that table's.
 *
 * Reference: src/vm-mgr/uapi/scmi-arg.ts (the layout), uapi.md §6.2 (ADD_FUNCTION: a function
 * checks its argument before it registers anything; irqfd/ioeventfd check the argument's values
 * first, then the fds, then the state: EEXIST last), scmi-virtio.md §3 (feature bits: VERSION_1
 * required), §4 (queue sizes and ring alignment), §5 (no P2A), §11 (ring memory must be
 * shared), §12.1 (the RFC's VMM set-up: P2A_CHANNELS and SHARED_MEMORY must not be set), §12.2.
 *
 * Pure apart from the backend it asks which devices and protocols exist: the fd checks, the
 * ring-memory check and the live-agent check (EEXIST) need the VM and the process and are made
 * by the function (scmi-function.ts) with the helpers at the end of this file.
 */
import type { DeviceGrant } from '../scmi/agents.js';
import type { ScmiBackend } from '../scmi/backend.js';
import { ErrnoError } from '../shared/errno.js';
import { VIRTQ_MAX_SIZE, VirtioFeature, VirtqAlign, featureBit } from '../virtio/constants.js';
import { isGuestMemoryError, type GuestMemoryAccess } from '../virtio/guest-memory.js';
import { splitQueueLayout, type SplitQueueConfig } from '../virtio/split-queue.js';
import {
  FN_SCMI_ARG_LAYOUT,
  GUNYAH_SCMI_FLAGS_P2A,
  SCMI_ARG_NAME_LEN,
  SIZEOF_FN_SCMI_ARG,
  decodeFnScmiArg,
  type FnScmiArg,
  type FnScmiQueue,
} from '../vm-mgr/uapi/scmi-arg.js';

/**
 * The virtio features the SCMI function offers (the device features a VMM's register window
 * should advertise): VERSION_1, EVENT_IDX and INDIRECT_DESC. Not P2A_CHANNELS (no eventq: the
 * backend sends no notifications or delayed responses), not SHARED_MEMORY, not NOTIFY_ON_EMPTY
 * (a legacy feature).
 */
export const SCMI_FUNCTION_FEATURES =
  featureBit(VirtioFeature.F_VERSION_1) | featureBit(VirtioFeature.RING_F_EVENT_IDX) | featureBit(VirtioFeature.RING_F_INDIRECT_DESC);

/** Lowest agent ID a VM may take (0 = platform, 1 = host). */
export const SCMI_FIRST_VM_AGENT = 2;
/** protocol_mask bit n stands for protocol 0x11 + n. */
export const SCMI_PROTOCOL_MASK_BASE = 0x11;
/** Bits protocol_mask may use: protocols 0x11..0x17. */
export const SCMI_PROTOCOL_MASK_BITS = 7;

/** The argument after the value checks: what opening the agent and the queue need. */
export interface CheckedScmiArg {
  readonly arg: FnScmiArg;
  readonly name: string;
  readonly devices: readonly DeviceGrant[];
  readonly protocols: readonly number[];
  /** The cmdq as a SplitQueue takes it (EVENT_IDX / INDIRECT_DESC from the features). */
  readonly cmdq: SplitQueueConfig;
}

const hex = (v: number | bigint): string => `0x${v.toString(16)}`;

function einval(msg: string): ErrnoError {
  return new ErrnoError('EINVAL', `SCMI function: ${msg}`);
}

/** Rows 12–14 for one queue record. */
function checkQueue(q: FnScmiQueue, what: string): void {
  const n = q.size;
  if (n < 1 || n > VIRTQ_MAX_SIZE || (n & (n - 1)) !== 0) throw einval(`${what}.size ${n} is not a power of 2 in 1..${VIRTQ_MAX_SIZE}`);
  if (q.reserved0 !== 0 || q.reserved1 !== 0) throw einval(`${what} reserved fields are not zero (${hex(q.reserved0)}, ${hex(q.reserved1)})`);
  const areas: Array<[string, bigint, number]> = [
    ['desc', q.desc, VirtqAlign.DESC],
    ['driver', q.driver, VirtqAlign.AVAIL],
    ['device', q.device, VirtqAlign.USED],
  ];
  for (const [field, addr, align] of areas) {
    if (addr % BigInt(align) !== 0n) throw einval(`${what}.${field} ${hex(addr)} is not ${align}-byte aligned`);
  }
}

function queueIsZero(q: FnScmiQueue): boolean {
  return q.size === 0 && q.reserved0 === 0 && q.reserved1 === 0 && q.desc === 0n && q.driver === 0n && q.device === 0n;
}

/**
 * The agent name: 1..15 printable ASCII characters, NUL-terminated inside the 16 bytes, every
 * byte after the first NUL zero. Row 8.
 */
function checkName(raw: Uint8Array): string {
  const end = raw.indexOf(0);
  if (end < 0) throw einval(`name has no NUL in its ${SCMI_ARG_NAME_LEN} bytes (at most ${SCMI_ARG_NAME_LEN - 1} characters)`);
  if (end === 0) throw einval('name is empty');
  let s = '';
  for (let i = 0; i < end; i++) {
    const c = raw[i]!;
    if (c < 0x20 || c > 0x7e) throw einval(`name byte ${i} is ${hex(c)}, not printable ASCII`);
    s += String.fromCharCode(c);
  }
  for (let i = end + 1; i < raw.length; i++) {
    if (raw[i] !== 0) throw einval(`name byte ${i} after the terminating NUL is ${hex(raw[i]!)}, not 0`);
  }
  return s;
}

/**
 * Rows 1–15 of the validation table, in order.
 * @throws ErrnoError EINVAL naming the field
 */
export function checkScmiArg(bytes: Uint8Array, backend: ScmiBackend): CheckedScmiArg {
  // 1. The size (the VM fd copied arg_size bytes; REMOVE compares the same size).
  if (bytes.byteLength !== SIZEOF_FN_SCMI_ARG) throw einval(`arg_size ${bytes.byteLength}, expected ${SIZEOF_FN_SCMI_ARG}`);
  const a = decodeFnScmiArg(bytes);
  // 2. reserved @60.
  if (a.reserved !== 0) throw einval(`reserved field @60 is ${hex(a.reserved)}, not 0`);
  // 3. flags: only bit 0 is defined.
  if ((a.flags & ~GUNYAH_SCMI_FLAGS_P2A) !== 0) throw einval(`flags ${hex(a.flags >>> 0)} has reserved bits`);
  // 4. P2A: no eventq (the backend sends no notifications; scmi-virtio.md §12.1).
  if ((a.flags & GUNYAH_SCMI_FLAGS_P2A) !== 0) throw einval('flags P2A: the backend has no eventq (no notifications or delayed responses)');
  // 5. VERSION_1 negotiated.
  if ((a.features & featureBit(VirtioFeature.F_VERSION_1)) === 0n) throw einval(`features ${hex(a.features)} lack VIRTIO_F_VERSION_1 (bit 32)`);
  // 6. Nothing the function does not offer.
  const extra = a.features & ~SCMI_FUNCTION_FEATURES;
  if (extra !== 0n) throw einval(`features ${hex(a.features)} include bits ${hex(extra)} the function does not offer (offered ${hex(SCMI_FUNCTION_FEATURES)})`);
  // 7. agent_id: not the platform (0), the host (1) or "the caller" (0xFFFFFFFF).
  if (a.agentId < SCMI_FIRST_VM_AGENT || a.agentId === 0xffff_ffff) throw einval(`agent_id ${a.agentId} is not 2..0xfffffffe (0 platform, 1 host)`);
  // 8. name.
  const name = checkName(a.name);
  // 9. device_mask: every bit a platform device.
  const known = new Set(backend.platform.desc.devices.map((d) => d.id));
  const devices: DeviceGrant[] = [];
  for (let id = 0; id < 64; id++) {
    const bit = 1n << BigInt(id);
    if ((a.deviceMask & bit) === 0n) continue;
    if (!known.has(id)) throw einval(`device_mask bit ${id}: the platform has no device ${id}`);
    devices.push({ id, readOnly: (a.controlMask & bit) === 0n });
  }
  // 10. control_mask ⊆ device_mask.
  const stray = a.controlMask & ~a.deviceMask;
  if (stray !== 0n) throw einval(`control_mask ${hex(a.controlMask)} has bits ${hex(stray)} outside device_mask ${hex(a.deviceMask)}`);
  // 11. protocol_mask: bits 0..6 (protocols 0x11..0x17), each implemented by the backend.
  const beyond = a.protocolMask >>> SCMI_PROTOCOL_MASK_BITS;
  if (beyond !== 0) throw einval(`protocol_mask ${hex(a.protocolMask >>> 0)} has bits above ${SCMI_PROTOCOL_MASK_BITS - 1}`);
  const implemented = new Set(backend.protocolIds());
  const protocols: number[] = [];
  for (let bit = 0; bit < SCMI_PROTOCOL_MASK_BITS; bit++) {
    if ((a.protocolMask & (1 << bit)) === 0) continue;
    const id = SCMI_PROTOCOL_MASK_BASE + bit;
    if (!implemented.has(id)) throw einval(`protocol_mask bit ${bit}: protocol ${hex(id)} is not implemented by the backend`);
    protocols.push(id);
  }
  // 12–14. cmdq: size, reserved fields, alignment.
  checkQueue(a.cmdq, 'cmdq');
  // 15. eventq all zero (no P2A).
  if (!queueIsZero(a.eventq)) throw einval(`eventq (@${FN_SCMI_ARG_LAYOUT.eventq}) must be all zero without P2A`);
  const cmdq: SplitQueueConfig = {
    size: a.cmdq.size,
    descAddr: a.cmdq.desc,
    availAddr: a.cmdq.driver,
    usedAddr: a.cmdq.device,
    eventIdx: (a.features & featureBit(VirtioFeature.RING_F_EVENT_IDX)) !== 0n,
    indirect: (a.features & featureBit(VirtioFeature.RING_F_INDIRECT_DESC)) !== 0n,
  };
  return { arg: a, name, devices, protocols, cmdq };
}

/**
 * Row 19: the three ring parts of `q` (descriptor table 16Q, available ring 6 + 2Q, used ring
 * 6 + 8Q, event fields included) lie in memory the host may touch: shared, mapped, inside the
 * backing file. Buffers are checked per chain later (a bad one breaks the queue).
 * @throws ErrnoError EINVAL with the accessor's reason (e.g. "lent")
 */
export function checkRingMemory(mem: GuestMemoryAccess, q: SplitQueueConfig): void {
  const l = splitQueueLayout(q.size);
  const parts: Array<[string, bigint, number, 'read' | 'write']> = [
    ['descriptor table', q.descAddr, l.descBytes, 'read'],
    ['available ring', q.availAddr, l.availBytes, 'read'],
    ['used ring', q.usedAddr, l.usedBytes, 'write'],
  ];
  for (const [what, gpa, len, kind] of parts) {
    try {
      if (mem.probe) mem.probe(gpa, len, kind);
      else mem.read(gpa, len);
    } catch (e) {
      if (!isGuestMemoryError(e)) throw e;
      throw einval(`cmdq ${what} at ${hex(gpa)} (+${len}) is not memory shared with the host (${e.reason}): ${e.message}`);
    }
  }
}

/** REMOVE_FUNCTION's comparison: exactly 128 bytes and the same agent_id (other fields ignored). */
export function scmiArgMatches(agentId: number, other: Uint8Array): boolean {
  return other.byteLength === SIZEOF_FN_SCMI_ARG && new DataView(other.buffer, other.byteOffset, 4).getUint32(0, true) === agentId;
}
