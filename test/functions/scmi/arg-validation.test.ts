/**
 * GUNYAH_FN_SCMI's argument checks through the raw ioctl: every row of docs/scmi.md's validation
 * table with a hand-built 128-byte `gunyah_fn_scmi_arg` (offsets typed from the layout, not from
 * the library's encoder), the errno each row gives, and after every refusal nothing registered:
 * no agent in the backend, no wait-queue entry on the kick eventfd, REMOVE_FUNCTION finds
 * nothing, and the valid argument still binds. Also the order of the checks (values, then fds,
 * then ring memory, then the live-agent clash) and REMOVE's match on agent_id.
 *
 * Reference: src/vm-mgr/uapi/scmi-arg.ts header (layout), docs/scmi.md "Argument" and
 * "Validation", uapi.md §6.2 (ADD/REMOVE_FUNCTION: arg_size > 256 → EINVAL from the VM fd;
 * unknown type → ENOENT), §8.1; scmi-virtio.md §3 (features), §4 (queue sizes, alignment).
 */
import { describe, expect, it } from 'vitest';
import { guestProgram } from '../../../src/guest/index.js';
import { isEventFd } from '../../../src/host/eventfd.js';
import { GUEST_BASE } from '../../vm-mgr/support/boot.js';
import { Raw, errnoOf } from '../../vm-mgr/support/raw.js';
import { RING_BASE, RING_PAGES, bootScmiVm, expectCleanScmiShutdown, type ScmiVm } from './support/vmm-scmi.js';

/** The function type, typed from docs/scmi.md (0x100, outside v17's 1..3). */
const FN_SCMI = 0x100;
const AGENT = 9;

interface ArgFields {
  agentId: number;
  flags: number;
  features: bigint;
  kickFd: number;
  callFd: number;
  name: Uint8Array;
  deviceMask: bigint;
  controlMask: bigint;
  protocolMask: number;
  reserved: number;
  cmdq: { size: number; r0: number; r1: number; desc: bigint; driver: bigint; device: bigint };
}

/** `struct gunyah_fn_scmi_arg` (128 bytes) at the layout's offsets; eventq (@96) left zero. */
function scmiArg(f: ArgFields): Uint8Array {
  const b = new Uint8Array(128);
  const v = new DataView(b.buffer);
  v.setUint32(0, f.agentId >>> 0, true);
  v.setUint32(4, f.flags >>> 0, true);
  v.setBigUint64(8, f.features, true);
  v.setUint32(16, f.kickFd >>> 0, true);
  v.setUint32(20, f.callFd >>> 0, true);
  b.set(f.name, 24);
  v.setBigUint64(40, f.deviceMask, true);
  v.setBigUint64(48, f.controlMask, true);
  v.setUint32(56, f.protocolMask >>> 0, true);
  v.setUint32(60, f.reserved >>> 0, true);
  v.setUint16(64, f.cmdq.size, true);
  v.setUint16(66, f.cmdq.r0, true);
  v.setUint32(68, f.cmdq.r1 >>> 0, true);
  v.setBigUint64(72, f.cmdq.desc, true);
  v.setBigUint64(80, f.cmdq.driver, true);
  v.setBigUint64(88, f.cmdq.device, true);
  return b;
}

const ascii = (s: string): Uint8Array => {
  const out = new Uint8Array(16);
  for (let i = 0; i < s.length; i++) out[i] = s.charCodeAt(i);
  return out;
};

const VERSION_1 = 1n << 32n;

interface Ctx {
  b: ScmiVm;
  raw: Raw;
  kick: number;
  call: number;
  /** A fresh valid argument's fields (agent 9, the uart device, the clock protocol, Q = 16). */
  valid(): ArgFields;
}

async function setup(): Promise<Ctx> {
  const b = await bootScmiVm({ program: guestProgram().spin() });
  const raw = new Raw(b.emu.host);
  const kick = b.emu.host.eventfd();
  const call = b.emu.host.eventfd();
  const valid = (): ArgFields => ({
    agentId: AGENT,
    flags: 0,
    features: VERSION_1,
    kickFd: kick,
    callFd: call,
    name: ascii('vm-v'),
    deviceMask: 1n << 3n,
    controlMask: 1n << 3n,
    protocolMask: 1 << 3,
    reserved: 0,
    cmdq: { size: 16, r0: 0, r1: 0, desc: RING_BASE, driver: RING_BASE + 0x100n, device: RING_BASE + 0x128n },
  });
  return { b, raw, kick, call, valid };
}

/** Nothing of agent AGENT is left: no agent, no waiter on the kick eventfd, REMOVE finds nothing. */
async function expectNothingRegistered(c: Ctx, bytes: Uint8Array): Promise<void> {
  expect(c.b.emu.scmi.agents().map((a) => a.agentId)).toEqual([1]);
  const f = c.b.emu.host.openFiles().find((x) => x.fd === c.kick)!.file;
  expect(isEventFd(f) ? f.waiterCount : -1).toBe(0);
  const probe = bytes.length === 128 ? bytes : scmiArg(c.valid());
  expect(await errnoOf(c.raw.removeFunction(c.b.vm.fd, FN_SCMI, probe))).toBe('ENOENT');
}

type Mutation = (f: ArgFields, c: Ctx) => void;
type Patch = (b: Uint8Array) => void;

const u32At = (off: number, val: number): Patch => (b) => new DataView(b.buffer).setUint32(off, val >>> 0, true);
const u16At = (off: number, val: number): Patch => (b) => new DataView(b.buffer).setUint16(off, val, true);
const u64At = (off: number, val: bigint): Patch => (b) => new DataView(b.buffer).setBigUint64(off, val, true);

/** [row, what, errno, field change, byte patch]. */
const ROWS: Array<[number, string, string, Mutation | undefined, Patch | undefined]> = [
  [2, 'reserved @60 = 1', 'EINVAL', (f) => (f.reserved = 1), undefined],
  [2, 'reserved @60 = 0x80000000', 'EINVAL', (f) => (f.reserved = 0x8000_0000), undefined],
  [3, 'flags bit 1', 'EINVAL', (f) => (f.flags = 2), undefined],
  [3, 'flags bit 31', 'EINVAL', (f) => (f.flags = 0x8000_0000), undefined],
  [4, 'flags P2A (with the P2A feature)', 'EINVAL', (f) => ((f.flags = 1), (f.features = VERSION_1 | 1n)), undefined],
  [5, 'features 0', 'EINVAL', (f) => (f.features = 0n), undefined],
  [5, 'features EVENT_IDX without VERSION_1', 'EINVAL', (f) => (f.features = 1n << 29n), undefined],
  [6, 'features + P2A_CHANNELS (bit 0)', 'EINVAL', (f) => (f.features = VERSION_1 | 1n), undefined],
  [6, 'features + SHARED_MEMORY (bit 1)', 'EINVAL', (f) => (f.features = VERSION_1 | 2n), undefined],
  [6, 'features + NOTIFY_ON_EMPTY (bit 24)', 'EINVAL', (f) => (f.features = VERSION_1 | (1n << 24n)), undefined],
  [6, 'features + bit 63', 'EINVAL', (f) => (f.features = VERSION_1 | (1n << 63n)), undefined],
  [7, 'agent_id 0 (the platform)', 'EINVAL', (f) => (f.agentId = 0), undefined],
  [7, 'agent_id 1 (the host)', 'EINVAL', (f) => (f.agentId = 1), undefined],
  [7, 'agent_id 0xFFFFFFFF', 'EINVAL', (f) => (f.agentId = 0xffff_ffff), undefined],
  [8, 'name empty', 'EINVAL', (f) => (f.name = new Uint8Array(16)), undefined],
  [8, 'name of 16 characters (no NUL)', 'EINVAL', (f) => (f.name = ascii('abcdefghijklmnop')), undefined],
  [8, 'name with a control byte', 'EINVAL', (f) => (f.name = ascii('vm\x01a')), undefined],
  [8, 'name with a byte above 0x7E', 'EINVAL', (f) => (f.name = Uint8Array.of(0x76, 0x80, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0)), undefined],
  [8, 'name with a byte after the NUL', 'EINVAL', (f) => (f.name = Uint8Array.of(0x76, 0x6d, 0, 0x41, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0)), undefined],
  [9, 'device_mask bit 6 (no device 6)', 'EINVAL', (f) => ((f.deviceMask = 1n << 6n), (f.controlMask = 0n)), undefined],
  [9, 'device_mask bit 63', 'EINVAL', (f) => ((f.deviceMask = 1n << 63n), (f.controlMask = 0n)), undefined],
  [10, 'control_mask outside device_mask', 'EINVAL', (f) => (f.controlMask = (1n << 3n) | (1n << 2n)), undefined],
  [11, 'protocol_mask bit 7', 'EINVAL', (f) => (f.protocolMask = 1 << 7), undefined],
  [11, 'protocol_mask bit 31', 'EINVAL', (f) => (f.protocolMask = 0x8000_0000), undefined],
  [11, 'protocol_mask bit 1 (0x12, not implemented)', 'EINVAL', (f) => (f.protocolMask = 1 << 1), undefined],
  [12, 'cmdq.size 0', 'EINVAL', (f) => (f.cmdq.size = 0), undefined],
  [12, 'cmdq.size 3', 'EINVAL', (f) => (f.cmdq.size = 3), undefined],
  [12, 'cmdq.size 0xFFFF', 'EINVAL', (f) => (f.cmdq.size = 0xffff), undefined],
  [13, 'cmdq reserved @66', 'EINVAL', undefined, u16At(66, 1)],
  [13, 'cmdq reserved @68', 'EINVAL', undefined, u32At(68, 0x100)],
  [14, 'cmdq.desc 8-byte aligned', 'EINVAL', (f) => (f.cmdq.desc = RING_BASE + 8n), undefined],
  [14, 'cmdq.driver odd', 'EINVAL', (f) => (f.cmdq.driver = RING_BASE + 0x101n), undefined],
  [14, 'cmdq.device 2-byte aligned', 'EINVAL', (f) => (f.cmdq.device = RING_BASE + 0x12an), undefined],
  [15, 'eventq.size @96 = 16', 'EINVAL', undefined, u16At(96, 16)],
  [15, 'eventq reserved @98', 'EINVAL', undefined, u16At(98, 1)],
  [15, 'eventq.desc @104', 'EINVAL', undefined, u64At(104, RING_BASE)],
  [15, 'eventq.device @120', 'EINVAL', undefined, u64At(120, 4n)],
  [16, 'kick_fd not open', 'EBADF', (f) => (f.kickFd = 999), undefined],
  [16, 'kick_fd -1', 'EBADF', (f) => (f.kickFd = -1), undefined],
  [16, 'kick_fd the VM fd (not an eventfd)', 'EINVAL', (f, c) => (f.kickFd = c.b.vm.fd), undefined],
  [17, 'call_fd not open', 'EBADF', (f) => (f.callFd = 999), undefined],
  [17, 'call_fd -1', 'EBADF', (f) => (f.callFd = -1), undefined],
  [17, 'call_fd a guest-memory fd', 'EINVAL', (f, c) => (f.callFd = c.b.ring.fd), undefined],
  [18, 'call_fd = kick_fd', 'EINVAL', (f) => (f.callFd = f.kickFd), undefined],
  [18, 'call_fd a dup of kick_fd', 'EINVAL', (f, c) => (f.callFd = c.b.emu.host.dup(c.kick)), undefined],
  [19, 'cmdq.desc in the lent boot binding', 'EINVAL', (f) => (f.cmdq.desc = GUEST_BASE), undefined],
  [19, 'cmdq.driver unbound', 'EINVAL', (f) => (f.cmdq.driver = 0x1_0000_0000n), undefined],
  [19, 'cmdq.device running off the ring region', 'EINVAL', (f) => (f.cmdq.device = RING_BASE + BigInt(RING_PAGES * 4096 - 8)), undefined],
  [19, 'cmdq of 4096 entries: its descriptor table runs off the ring region', 'EINVAL', (f) => (f.cmdq.size = 4096), undefined],
];

describe('GUNYAH_FN_SCMI argument validation (docs/scmi.md "Validation")', () => {
  it('the valid argument binds (0) and REMOVE with it unbinds (0)', async () => {
    const c = await setup();
    const bytes = scmiArg(c.valid());
    expect(await c.raw.addFunction(c.b.vm.fd, FN_SCMI, bytes)).toBe(0);
    expect(c.b.emu.scmi.agent(AGENT)).toMatchObject({ name: 'vm-v', trusted: false });
    expect(c.b.emu.scmi.agent(AGENT)?.resources('clock')).toEqual([3]);
    expect(await c.raw.removeFunction(c.b.vm.fd, FN_SCMI, bytes)).toBe(0);
    await expectNothingRegistered(c, bytes);
    await expectCleanScmiShutdown(c.b.emu);
  });

  it.each([
    ['features VERSION_1 | EVENT_IDX | INDIRECT_DESC', (f: ArgFields) => (f.features = VERSION_1 | (1n << 29n) | (1n << 28n))],
    ['a name of 15 characters', (f: ArgFields) => (f.name = ascii('abcdefghijklmno'))],
    ['agent_id 0xFFFFFFFE', (f: ArgFields) => (f.agentId = 0xffff_fffe)],
    ['read-only devices (control_mask 0), every protocol', (f: ArgFields) => ((f.deviceMask = 0x3fn), (f.controlMask = 0n), (f.protocolMask = 0b111_1101))],
    ['cmdq.size 1', (f: ArgFields) => (f.cmdq.size = 1)],
  ])('accepted: %s', async (_what, mutate) => {
    const c = await setup();
    const f = c.valid();
    mutate(f);
    expect(await c.raw.addFunction(c.b.vm.fd, FN_SCMI, scmiArg(f))).toBe(0);
    await expectCleanScmiShutdown(c.b.emu);
  });

  it.each([
    [127, 'EINVAL'],
    [129, 'EINVAL'],
    [0, 'EINVAL'],
    [256, 'EINVAL'],
  ])('row 1: arg_size %d → %s', async (size, code) => {
    const c = await setup();
    const bytes = new Uint8Array(size);
    bytes.set(scmiArg(c.valid()).subarray(0, Math.min(size, 128)));
    expect(await errnoOf(c.raw.addFunction(c.b.vm.fd, FN_SCMI, bytes.length === 0 ? new Uint8Array(1) : bytes, size))).toBe(code);
    await expectNothingRegistered(c, bytes);
    await expectCleanScmiShutdown(c.b.emu);
  });

  it.each(ROWS)('row %d: %s → %s', async (_row, _what, code, mutate, patch) => {
    const c = await setup();
    const f = c.valid();
    mutate?.(f, c);
    const bytes = scmiArg(f);
    patch?.(bytes);
    expect(await errnoOf(c.raw.addFunction(c.b.vm.fd, FN_SCMI, bytes))).toBe(code);
    await expectNothingRegistered(c, bytes);
    // The valid argument still binds afterwards.
    expect(await c.raw.addFunction(c.b.vm.fd, FN_SCMI, scmiArg(c.valid()))).toBe(0);
    await expectCleanScmiShutdown(c.b.emu);
  });

  it('row 20: an agent_id live in the backend → EEXIST (the same VM twice, or another VM)', async () => {
    const c = await setup();
    const bytes = scmiArg(c.valid());
    expect(await c.raw.addFunction(c.b.vm.fd, FN_SCMI, bytes)).toBe(0);
    expect(await errnoOf(c.raw.addFunction(c.b.vm.fd, FN_SCMI, bytes))).toBe('EEXIST');
    const other = await bootScmiVm({ program: guestProgram().spin(), emu: c.b.emu });
    const k2 = c.b.emu.host.eventfd();
    const c2 = c.b.emu.host.eventfd();
    const otherArg = scmiArg({ ...c.valid(), kickFd: k2, callFd: c2 });
    expect(await errnoOf(c.raw.addFunction(other.vm.fd, FN_SCMI, otherArg))).toBe('EEXIST');
    // Only the first instance exists; the kick eventfd of the refused one has no waiter.
    const f = c.b.emu.host.openFiles().find((x) => x.fd === k2)!.file;
    expect(isEventFd(f) ? f.waiterCount : -1).toBe(0);
    expect(c.b.emu.scmi.agents().map((a) => a.agentId)).toEqual([1, AGENT]);
    await expectCleanScmiShutdown(c.b.emu);
  });

  it('order: value checks before fds, fds before ring memory, ring memory before EEXIST', async () => {
    const c = await setup();
    expect(await c.raw.addFunction(c.b.vm.fd, FN_SCMI, scmiArg(c.valid()))).toBe(0);
    const f = c.valid();
    // Bad reserved and a closed kick_fd: EINVAL (row 2 before row 16).
    expect(await errnoOf(c.raw.addFunction(c.b.vm.fd, FN_SCMI, scmiArg({ ...f, reserved: 1, kickFd: 999 })))).toBe('EINVAL');
    // A closed kick_fd and a live agent_id: EBADF (row 16 before row 20).
    expect(await errnoOf(c.raw.addFunction(c.b.vm.fd, FN_SCMI, scmiArg({ ...f, kickFd: 999 })))).toBe('EBADF');
    // A lent ring and a live agent_id: EINVAL (row 19 before row 20).
    expect(await errnoOf(c.raw.addFunction(c.b.vm.fd, FN_SCMI, scmiArg({ ...f, cmdq: { ...f.cmdq, desc: GUEST_BASE } })))).toBe('EINVAL');
    await expectCleanScmiShutdown(c.b.emu);
  });
});

