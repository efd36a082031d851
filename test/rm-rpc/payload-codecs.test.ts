// Payload codecs of the RM RPC catalogue (rm-rpc.md §10–§13): round trips per codec, a decoder
// fuzz (only WireError may escape), and unit tests of every list rule of §10 and every length
// rule of §11/§12. Golden byte vectors typed from the spec live elsewhere (test/golden/).
import { describe, test, expect, expectTypeOf } from 'vitest';
import { test as fcTest, fc } from '@fast-check/vitest';
import { WireError, type WireRmError } from '../../src/shared/wire-error.js';
import { fromHex } from '../../src/shared/bytes.js';
import { RmMsgId, RmNotifId, VM_SET_BOOT_CONTEXT_ALT_ID, type RmMsgName, type RmNotifName } from '../../src/rm-rpc/wire/msg-ids.js';
import {
  RM_CATALOGUE,
  RM_NOTIFICATIONS,
  notificationById,
  specById,
  type NotifOf,
  type RepOf,
  type ReqOf,
} from '../../src/rm-rpc/wire/catalogue.js';
import { EMPTY, STANDARD_REPLY, type PayloadCodec } from '../../src/rm-rpc/wire/codec.js';
import {
  HYP_ERROR_TAIL,
  VMID_REQ,
  VM_ALLOCATE_REPLY,
  VM_ALLOCATE_STATIC_REPLY,
  VM_EXIT_REQ,
  VM_GET_HYP_RESOURCES_REPLY,
  VM_GET_STATE_REPLY,
  VM_LOOKUP_NAME_REQ,
  VM_LOOKUP_URI_REQ,
  VM_SET_CRASH_MSG_REQ,
  VM_SET_FIRMWARE_MEM_REQ,
  isSettableOsStatus,
  vmAllocateReplyCodec,
  type HypResourceEntry,
  type VmidReq,
} from '../../src/rm-rpc/wire/vm-mgmt.js';
import { VM_INIT_REQ } from '../../src/rm-rpc/wire/vm-creation.js';
import {
  MEM_ACCEPT_REQ,
  MEM_ACCEPT_SGL_REPLY,
  MEM_ACCEPT_STANDARD_REPLY,
  MEM_APPEND_REQ,
  MEM_CREATE_REQ,
  MEM_HANDLE_FLAGS_REQ,
  MEM_NOTIFY_REQ,
  MEM_QCOM_LOOKUP_SGL_REQ,
  decodeMemNotifyHead,
  decodeMemNotifyVmids,
  memAcceptReplyCodec,
  type AclEntry,
  type AttrEntry,
  type MemCreateReq,
  type SglEntry,
} from '../../src/rm-rpc/wire/mem.js';
import { VM_IRQ_NOTIFY_REQ, decodeIrqNotifyHead } from '../../src/rm-rpc/wire/irq.js';
import { CONSOLE_WRITE_REQ } from '../../src/rm-rpc/wire/console.js';
import { IPA_RESERVE_ALLOC_REPLY, IPA_RESERVE_FIXED_REPLY, IPA_RESERVE_REQ, ipaReserveReplyCodec } from '../../src/rm-rpc/wire/ipa.js';
import { FW_SET_VM_FIRMWARE_REQ } from '../../src/rm-rpc/wire/firmware.js';
import { buildExitReason, exitReasonWord0, parseExitReason, NOTIFY_VM_EXITED_PAYLOAD } from '../../src/rm-rpc/wire/notifications.js';
import { ExitCode, ExitFlag, ExitType, IpaAllocType, IrqNotifyFlag, MemNotifyFlag } from '../../src/rm-rpc/wire/enums.js';

// ---- arbitraries ------------------------------------------------------------------------------

const u8 = fc.integer({ min: 0, max: 0xff });
const u16 = fc.integer({ min: 0, max: 0xffff });
const u32 = fc.integer({ min: 0, max: 0xffff_ffff });
// u64 values cluster at the edges the codec treats differently (≤ 2^53 fast path, full range).
const u64 = fc.oneof(
  fc.bigInt({ min: 0n, max: 0xffff_ffff_ffff_ffffn }),
  fc.bigInt({ min: 0n, max: 1n << 53n }),
  fc.constantFrom(0n, (1n << 32n) - 1n, 1n << 32n, (1n << 53n) - 1n, 1n << 53n, (1n << 53n) + 1n, (1n << 63n) + 5n, 0xffff_ffff_ffff_ffffn),
);
const bytes = (maxLength: number) => fc.uint8Array({ maxLength });
const list = <T>(a: fc.Arbitrary<T>, maxLength = 12) => fc.array(a, { maxLength });

const acl: fc.Arbitrary<AclEntry> = fc.record({ vmid: u16, rights: u8 });
const sgl: fc.Arbitrary<SglEntry> = fc.record({ address: u64, size: u64 });
const attr: fc.Arbitrary<AttrEntry> = fc.record({ attr: u16, vmid: u16 });
const empty = fc.constant({} as Record<string, never>);
const vmidReq = fc.record({ vmid: u16 });
const raw = fc.record({ bytes: bytes(64) });
const memCreate: fc.Arbitrary<MemCreateReq> = fc.record({ memType: u8, flags: u8, label: u32, acl: list(acl), sgl: list(sgl), attrs: list(attr) });
const hypEntry: fc.Arbitrary<HypResourceEntry> = fc.record({
  type: u8,
  partnerVmid: u16,
  resourceHandle: u32,
  resourceLabel: u32,
  capId: u64,
  virqHandle: u32,
  virq: u32,
  base: u64,
  size: u64,
});
const lookupString = fc.uint8Array({ maxLength: 79 });
const memNotify = fc.oneof(
  fc.record({ handle: u32, flags: fc.constantFrom(MemNotifyFlag.SHARED, MemNotifyFlag.RECALL), memInfoTag: u32, vmids: list(u16) }),
  fc.record({
    handle: u32,
    flags: u8.filter((f) => f !== MemNotifyFlag.SHARED && f !== MemNotifyFlag.RECALL),
    memInfoTag: u32,
    vmids: fc.constant([] as number[]),
  }),
);
const irqNotify = fc.oneof(
  fc.record({ handle: u32, flags: fc.constant<number>(IrqNotifyFlag.LENT), vmids: list(u16) }),
  fc.record({ handle: u32, flags: u32.filter((f) => f !== IrqNotifyFlag.LENT), vmids: fc.constant([] as number[]) }),
);
const common = { genericConstraints: u32, platformConstraints: u32 };
const ipaReserve: fc.Arbitrary<ReqOf<'IPA_RESERVE'>> = fc.oneof(
  fc.record({ allocType: fc.constant(IpaAllocType.FIXED_LIST), ...common, entries: list(fc.record({ base: u64, size: u64 }), 30) }),
  fc.record({
    allocType: fc.constant(IpaAllocType.ALLOC_LIST),
    ...common,
    entries: list(fc.record({ regionBase: u64, regionSize: u64, size: u64, alignment: u64 }), 30),
  }),
);

/** Request arbitraries: the mapped type makes this table total over RmMsgName. */
const REQ_ARB: { [N in RmMsgName]: fc.Arbitrary<ReqOf<N>> } = {
  MEM_DONATE: memCreate,
  MEM_ACCEPT: fc.record({
    handle: u32,
    memType: u8,
    transType: u8,
    flags: u8,
    label: u32,
    acl: list(acl),
    mapVmid: u16,
    sgl: list(sgl),
    attrs: list(attr),
  }),
  MEM_LEND: memCreate,
  MEM_SHARE: memCreate,
  MEM_RELEASE: fc.record({ handle: u32, flags: u8 }),
  MEM_RECLAIM: fc.record({ handle: u32, flags: u8 }),
  MEM_NOTIFY: memNotify,
  MEM_APPEND: fc.record({ handle: u32, flags: u8, sgl: list(sgl) }),
  MEM_QCOM_LOOKUP_SGL: fc.record({ memType: u8, label: u32, acl: list(acl), sgl: list(sgl), attrs: list(attr) }),
  FW_MILESTONE: empty,
  FW_SET_VM_FIRMWARE: fc.record({ authType: u16, imageHandle: u32, imageOffset: u64, imageSize: u64 }),
  VM_ALLOCATE: vmidReq,
  VM_DEALLOCATE: vmidReq,
  VM_START: vmidReq,
  VM_STOP: fc.record({ vmid: u16, flags: u8, stopReason: u32 }),
  VM_RESET: vmidReq,
  VM_CONFIG_IMAGE: fc.record({ vmid: u16, authType: u16, imageHandle: u32, imageOffset: u64, imageSize: u64, dtOffset: u64, dtSize: u64 }),
  VM_AUTH_IMAGE: fc.record({ vmid: u16, params: list(fc.record({ type: u32, value: u32 })) }),
  VM_INIT: vmidReq,
  VM_GET_ID: vmidReq,
  VM_LOOKUP_URI: fc.record({ uri: lookupString }),
  VM_LOOKUP_GUID: fc.record({ guid: fc.uint8Array({ minLength: 16, maxLength: 16 }) }),
  VM_LOOKUP_NAME: fc.record({ name: lookupString }),
  VM_GET_OWNER: empty,
  VM_GET_STATE: vmidReq,
  VM_GET_CRASH_MSG: vmidReq,
  VM_GET_HYP_RESOURCES: vmidReq,
  VM_GET_HYP_CAPIDS: raw,
  VM_GET_HYP_IRQS: raw,
  VM_GET_VMID: empty,
  VM_GET_PEERS: empty,
  VM_SET_TIME_BASE: fc.record({ vmid: u16, timeBase: u64, sysTimerRef: u64 }),
  VM_SET_CONTEXT: fc.record({ vmid: u16, regSet: u8, regIndex: u8, value: u64 }),
  VM_SET_FIRMWARE_MEM: fc.record({ vmid: u16, fwHandle: u32, fwOffset: u64, fwSize: u64 }),
  VM_SET_DEMAND_PAGING: fc.record({ vmid: u16, ranges: list(fc.record({ address: u64, size: u64 })) }),
  VM_SET_ADDRESS_LAYOUT: fc.record({ vmid: u16, rangeId: u32, base: u64, size: u64 }),
  VM_IRQ_ACCEPT: fc.record({ handle: u32, virqNum: u32 }),
  VM_IRQ_LEND: fc.record({ borrower: u16, virqNum: u32, label: u32 }),
  VM_IRQ_RELEASE: fc.record({ handle: u32 }),
  VM_IRQ_RECLAIM: fc.record({ handle: u32 }),
  VM_IRQ_NOTIFY: irqNotify,
  VM_IRQ_UNMAP: raw,
  VM_SET_STATUS: fc.record({ osStatus: u8, appStatus: u16 }),
  VM_CONSOLE_OPEN: fc.record({ target: u16 }),
  VM_CONSOLE_CLOSE: fc.record({ target: u16 }),
  VM_CONSOLE_WRITE: fc.record({ target: u16, data: bytes(300) }),
  VM_CONSOLE_FLUSH: fc.record({ target: u16 }),
  VM_EXIT: fc.record({ exitFlags: u16, exitCode: fc.constantFrom(0, 1, 3, 4) }),
  VM_SET_CRASH_MSG: fc.record({ message: bytes(300) }),
  VM_HOST_GET_TYPE: empty,
  IPA_RESERVE: ipaReserve,
  IPA_UNRESERVE: raw,
};

const vmidList = fc.record({ vmids: list(u16) });
const REP_ARB: { [N in RmMsgName]: fc.Arbitrary<RepOf<N>> } = {
  MEM_DONATE: fc.record({ handle: u32 }),
  MEM_ACCEPT: fc.record({ flags: u8, sgl: list(sgl) }),
  MEM_LEND: fc.record({ handle: u32 }),
  MEM_SHARE: fc.record({ handle: u32 }),
  MEM_RELEASE: empty,
  MEM_RECLAIM: empty,
  MEM_NOTIFY: empty,
  MEM_APPEND: empty,
  MEM_QCOM_LOOKUP_SGL: fc.record({ handle: u32 }),
  FW_MILESTONE: empty,
  FW_SET_VM_FIRMWARE: empty,
  VM_ALLOCATE: fc.record({ vmid: u32 }),
  VM_DEALLOCATE: empty,
  VM_START: empty,
  VM_STOP: empty,
  VM_RESET: empty,
  VM_CONFIG_IMAGE: empty,
  VM_AUTH_IMAGE: empty,
  VM_INIT: empty,
  VM_GET_ID: fc.record({ entries: list(fc.record({ idType: u8, id: bytes(40) })) }),
  VM_LOOKUP_URI: vmidList,
  VM_LOOKUP_GUID: vmidList,
  VM_LOOKUP_NAME: vmidList,
  VM_GET_OWNER: fc.record({ owner: u32 }),
  VM_GET_STATE: fc.record({ vmStatus: u8, osStatus: u8, appStatus: u16 }),
  VM_GET_CRASH_MSG: fc.record({ message: bytes(200) }),
  VM_GET_HYP_RESOURCES: fc.record({ entries: list(hypEntry) }),
  VM_GET_HYP_CAPIDS: empty,
  VM_GET_HYP_IRQS: empty,
  VM_GET_VMID: fc.record({ vmid: u32 }),
  VM_GET_PEERS: fc.record({ vmids: list(u32) }),
  VM_SET_TIME_BASE: empty,
  VM_SET_CONTEXT: empty,
  VM_SET_FIRMWARE_MEM: empty,
  VM_SET_DEMAND_PAGING: empty,
  VM_SET_ADDRESS_LAYOUT: empty,
  VM_IRQ_ACCEPT: fc.record({ virqNum: u32 }),
  VM_IRQ_LEND: fc.record({ handle: u32 }),
  VM_IRQ_RELEASE: empty,
  VM_IRQ_RECLAIM: empty,
  VM_IRQ_NOTIFY: empty,
  VM_IRQ_UNMAP: empty,
  VM_SET_STATUS: empty,
  VM_CONSOLE_OPEN: empty,
  VM_CONSOLE_CLOSE: empty,
  VM_CONSOLE_WRITE: empty,
  VM_CONSOLE_FLUSH: empty,
  VM_EXIT: empty,
  VM_SET_CRASH_MSG: empty,
  VM_HOST_GET_TYPE: fc.record({ hostType: u32 }),
  IPA_RESERVE: fc.record({ ipas: list(u64) }),
  IPA_UNRESERVE: empty,
};

const memOwner = fc.record({ handle: u32, vmid: u16, memInfoTag: u32 });
const NOTIF_ARB: { [N in RmNotifName]: fc.Arbitrary<NotifOf<N>> } = {
  NOTIFY_VM_EXITED: fc.record({ vmid: u16, exitType: u16, exitReason: bytes(32) }),
  NOTIFY_VM_SHUTDOWN: fc.record({ stopReason: u32 }),
  NOTIFY_VM_STATUS: fc.record({ vmid: u16, vmStatus: u8, osStatus: u8, appStatus: u16 }),
  NOTIFY_VM_IRQ_LENT: fc.record({ owner: u16, virqHandle: u32, virqLabel: u32 }),
  NOTIFY_VM_IRQ_RELEASED: fc.record({ virqHandle: u32 }),
  NOTIFY_VM_IRQ_ACCEPTED: fc.record({ virqHandle: u32 }),
  NOTIFY_VM_CONSOLE_CHARS: fc.record({ from: u16, data: bytes(200) }),
  MEM_SHARED: fc.record({
    handle: u32,
    memType: u8,
    transType: u8,
    flags: u8,
    owner: u16,
    label: u32,
    memInfoTag: u32,
    acl: list(acl),
    sizes: list(u64),
    attrs: list(attr),
  }),
  MEM_RELEASED: memOwner,
  MEM_ACCEPTED: memOwner,
  MEM_RECALL: fc.record({ handle: u32, memInfoTag: u32 }),
};

// ---- helpers ----------------------------------------------------------------------------------

const MSG_NAMES = Object.keys(RmMsgId) as RmMsgName[];
const NOTIF_NAMES = Object.keys(RmNotifId) as RmNotifName[];
const anyCodec = (c: PayloadCodec<unknown>) => c;

/** Run `f`, expect a WireError, and return its RM error. */
function rmErrorOf(f: () => unknown): WireRmError {
  try {
    f();
  } catch (e) {
    expect(e).toBeInstanceOf(WireError);
    const w = e as WireError;
    expect(w.detail.rmError).toBeDefined();
    return w.detail.rmError!;
  }
  throw new Error('expected a WireError, decode succeeded');
}

/** Only WireError (with an rmError) may escape a decoder. */
function decodeOrWireError(c: PayloadCodec<unknown>, b: Uint8Array): void {
  try {
    c.decode(b);
  } catch (e) {
    if (!(e instanceof WireError)) throw e;
    expect(e.detail.rmError).toBeDefined();
  }
}

const u8a = (...xs: number[]) => Uint8Array.from(xs);
const le16 = (x: number) => [x & 0xff, x >>> 8];
const le32 = (x: number) => [x & 0xff, (x >>> 8) & 0xff, (x >>> 16) & 0xff, x >>> 24];

// ---- round trips ------------------------------------------------------------------------------

describe('round trip: request codecs', () => {
  for (const name of MSG_NAMES) {
    const codec = anyCodec(RM_CATALOGUE[name].req);
    fcTest.prop([REQ_ARB[name] as fc.Arbitrary<unknown>])(`${name} req: decode(encode(x)) = x, and re-encode is stable`, (x) => {
      const b = codec.encode(x);
      const y = codec.decode(b);
      expect(y).toEqual(x);
      expect(codec.encode(y)).toEqual(b);
    });
  }
});

describe('round trip: OK-reply codecs', () => {
  for (const name of MSG_NAMES) {
    const codec = anyCodec(RM_CATALOGUE[name].reply);
    fcTest.prop([REP_ARB[name] as fc.Arbitrary<unknown>])(`${name} reply: decode(encode(x)) = x`, (x) => {
      expect(codec.decode(codec.encode(x))).toEqual(x);
    });
  }
});

describe('round trip: notification codecs', () => {
  for (const name of NOTIF_NAMES) {
    const codec = anyCodec(RM_NOTIFICATIONS[name].payload);
    fcTest.prop([NOTIF_ARB[name] as fc.Arbitrary<unknown>])(`${name}: decode(encode(x)) = x`, (x) => {
      expect(codec.decode(codec.encode(x))).toEqual(x);
    });
  }
});

fcTest.prop([fc.record({ hypError: fc.integer({ min: -0x8000_0000, max: 0x7fff_ffff }) })])('HYP_ERROR_TAIL round trip', (x) => {
  expect(HYP_ERROR_TAIL.decode(HYP_ERROR_TAIL.encode(x))).toEqual(x);
});

// ---- fuzz: only WireError escapes -------------------------------------------------------------

describe('decoders throw nothing but WireError', () => {
  for (const name of MSG_NAMES) {
    const spec = RM_CATALOGUE[name];
    fcTest.prop([fc.uint8Array({ maxLength: 300 })])(`${name}: random bytes`, (b) => {
      decodeOrWireError(anyCodec(spec.req), b);
      decodeOrWireError(anyCodec(spec.reply), b);
    });
    // Random bytes rarely get past the length checks: also mutate and cut valid encodings.
    fcTest.prop([REQ_ARB[name] as fc.Arbitrary<unknown>, fc.nat(), u8, fc.nat()])(`${name}: mutated and truncated requests`, (x, at, val, cut) => {
      const b = anyCodec(spec.req).encode(x);
      const m = b.slice();
      if (m.length > 0) m[at % m.length] = val;
      decodeOrWireError(anyCodec(spec.req), m);
      decodeOrWireError(anyCodec(spec.req), b.subarray(0, b.length === 0 ? 0 : cut % b.length));
    });
  }
  for (const name of NOTIF_NAMES) {
    const spec = RM_NOTIFICATIONS[name];
    fcTest.prop([fc.uint8Array({ maxLength: 300 })])(`${name}: random bytes`, (b) => decodeOrWireError(anyCodec(spec.payload), b));
  }
  fcTest.prop([fc.uint8Array({ maxLength: 64 })])('request-dependent replies and helpers', (b) => {
    for (const c of [MEM_ACCEPT_STANDARD_REPLY, VM_ALLOCATE_STATIC_REPLY, IPA_RESERVE_FIXED_REPLY, HYP_ERROR_TAIL]) decodeOrWireError(anyCodec(c), b);
    for (const f of [decodeMemNotifyHead, decodeMemNotifyVmids, decodeIrqNotifyHead]) {
      try {
        f(b);
      } catch (e) {
        expect(e).toBeInstanceOf(WireError);
      }
    }
  });
});

// ---- §10 list rules ---------------------------------------------------------------------------

/** A MEM_LEND payload built by hand: fixed part, then raw list bytes. */
function createBytes(...lists: number[][]): Uint8Array {
  return u8a(0, 0, 0, 0, ...le32(0x1234), ...lists.flat());
}
const aclList = (n: number, count = n) => [...le16(count), 0, 0, ...Array.from({ length: n }, (_, i) => [...le16(0x80 + i), 6, 0]).flat()];
const sglList = (n: number, count = n) => [...le16(count), 0, 0, ...new Array<number>(16 * n).fill(0x10)];

describe('§10 list rules (memparcel)', () => {
  test('a trailing list is empty when the buffer ends exactly at its header', () => {
    const b = createBytes(aclList(1), sglList(1));
    const r = MEM_CREATE_REQ.decode(b);
    expect(r.acl).toEqual([{ vmid: 0x80, rights: 6 }]);
    expect(r.sgl).toHaveLength(1);
    expect(r.attrs).toEqual([]);
  });

  test('a list after the minimum length may be absent even in the middle (SGL and attrs empty)', () => {
    // 8 + ACL of 3 entries = 24 ≥ 20: both following lists are missing and empty.
    const r = MEM_CREATE_REQ.decode(createBytes(aclList(3)));
    expect(r.acl).toHaveLength(3);
    expect(r.sgl).toEqual([]);
    expect(r.attrs).toEqual([]);
  });

  test.each([1, 2, 3])('%i byte(s) where a list header belongs → MSG_INVALID', (k) => {
    const b = createBytes(aclList(1), sglList(1), new Array<number>(k).fill(0));
    expect(rmErrorOf(() => MEM_CREATE_REQ.decode(b))).toBe('MSG_INVALID');
    try {
      MEM_CREATE_REQ.decode(b);
    } catch (e) {
      expect((e as WireError).reason).toBe('list-header');
    }
  });

  test('count 512 is accepted, 513 → NORESOURCE (before the overrun check)', () => {
    expect(MEM_CREATE_REQ.decode(createBytes(aclList(1), sglList(512))).sgl).toHaveLength(512);
    // 513 entries declared but none present: the count check wins.
    const b = createBytes(aclList(1), sglList(0, 513));
    expect(rmErrorOf(() => MEM_CREATE_REQ.decode(b))).toBe('NORESOURCE');
    expect(rmErrorOf(() => MEM_APPEND_REQ.decode(u8a(1, 0, 0, 0, 0, 0, 0, 0, ...sglList(0, 600))))).toBe('NORESOURCE');
    // Below the 20-byte minimum the length check wins; from 20 bytes on, the count check.
    expect(rmErrorOf(() => MEM_CREATE_REQ.decode(createBytes(aclList(0, 513))))).toBe('MSG_INVALID');
    expect(rmErrorOf(() => MEM_CREATE_REQ.decode(createBytes(aclList(0, 513), new Array<number>(8).fill(0))))).toBe('NORESOURCE');
  });

  test('entries past the end of the buffer → MSG_INVALID', () => {
    const b = createBytes(aclList(1), sglList(1, 2));
    expect(rmErrorOf(() => MEM_CREATE_REQ.decode(b))).toBe('MSG_INVALID');
    expect(rmErrorOf(() => MEM_ACCEPT_REQ.decode(u8a(...new Array<number>(12).fill(0), ...aclList(2, 5), 0, 0, 0, 0)))).toBe('MSG_INVALID');
  });

  test('leftover bytes after the last list → MSG_INVALID', () => {
    const ok = MEM_CREATE_REQ.encode({ memType: 0, flags: 0, label: 1, acl: [{ vmid: 3, rights: 7 }], sgl: [], attrs: [] });
    for (const extra of [[0], [0, 0, 0, 0], [1, 0, 0, 0, 0, 0, 0, 0]]) {
      expect(rmErrorOf(() => MEM_CREATE_REQ.decode(u8a(...ok, ...extra)))).toBe('MSG_INVALID');
    }
    const app = MEM_APPEND_REQ.encode({ handle: 1, flags: 1, sgl: [{ address: 0x1000n, size: 0x1000n }] });
    expect(rmErrorOf(() => MEM_APPEND_REQ.decode(u8a(...app, 0, 0, 0, 0)))).toBe('MSG_INVALID');
    const lk = MEM_QCOM_LOOKUP_SGL_REQ.encode({ memType: 0, label: 0, acl: [], sgl: [], attrs: [] });
    expect(rmErrorOf(() => MEM_QCOM_LOOKUP_SGL_REQ.decode(u8a(...lk, 9)))).toBe('MSG_INVALID');
  });

  test('Linux-shaped MEM_LEND (one ACL entry, empty attr list) decodes', () => {
    const b = createBytes(aclList(1), sglList(2), [0, 0, 0, 0]);
    expect(b.length).toBe(8 + 8 + 36 + 4);
    expect(MEM_CREATE_REQ.decode(b)).toMatchObject({ label: 0x1234, attrs: [] });
  });

  test('MEM_ACCEPT: map_vmid is the upper half of the SGL header, at 18 + 4·n_acl', () => {
    const req = { handle: 7, memType: 0, transType: 1, flags: 0x80, label: 0, acl: [{ vmid: 3, rights: 6 }, { vmid: 0x80, rights: 6 }], mapVmid: 0xabcd, sgl: [], attrs: [] };
    const b = MEM_ACCEPT_REQ.encode(req);
    expect(b[18 + 4 * 2]).toBe(0xcd);
    expect(b[19 + 4 * 2]).toBe(0xab);
    expect(MEM_ACCEPT_REQ.decode(b)).toEqual(req);
  });

  test('the ACL entry reserved byte and the list-header reserved half are ignored', () => {
    const b = createBytes([1, 0, 0xee, 0xee, 0x80, 0, 6, 0xff], sglList(0));
    expect(MEM_CREATE_REQ.decode(b).acl).toEqual([{ vmid: 0x80, rights: 6 }]);
  });
});

describe('§10 list rules (IPA_RESERVE, max 30)', () => {
  const head = (t: number) => [t, 0, 0, 0, ...le32(0x4), ...le32(0)];
  test('30 entries accepted, 31 → NORESOURCE', () => {
    const ok = u8a(...head(0), ...le16(30), 0, 0, ...new Array<number>(30 * 16).fill(0));
    expect(IPA_RESERVE_REQ.decode(ok).entries).toHaveLength(30);
    expect(rmErrorOf(() => IPA_RESERVE_REQ.decode(u8a(...head(0), ...le16(31), 0, 0)))).toBe('NORESOURCE');
  });
  test('alloc_type ∉ {0,1} → MSG_INVALID; missing list = empty; leftovers → MSG_INVALID', () => {
    expect(rmErrorOf(() => IPA_RESERVE_REQ.decode(u8a(...head(2))))).toBe('MSG_INVALID');
    expect(IPA_RESERVE_REQ.decode(u8a(...head(1)))).toEqual({ allocType: 1, genericConstraints: 4, platformConstraints: 0, entries: [] });
    expect(rmErrorOf(() => IPA_RESERVE_REQ.decode(u8a(...head(1), 0, 0, 0, 0, 1)))).toBe('MSG_INVALID');
    expect(rmErrorOf(() => IPA_RESERVE_REQ.decode(u8a(...head(1), 1, 0, 0, 0, ...new Array<number>(31).fill(0))))).toBe('MSG_INVALID');
  });
  test('reply codec follows alloc_type', () => {
    expect(ipaReserveReplyCodec({ allocType: IpaAllocType.ALLOC_LIST })).toBe(IPA_RESERVE_ALLOC_REPLY);
    expect(ipaReserveReplyCodec({ allocType: IpaAllocType.FIXED_LIST })).toBe(IPA_RESERVE_FIXED_REPLY);
  });
});

// ---- length rules -----------------------------------------------------------------------------

/** Exact-length requests of §11/§12 (the RM answers MSG_INVALID to any other length). */
const EXACT: ReadonlyArray<[RmMsgName, number]> = [
  ['VM_ALLOCATE', 4],
  ['VM_DEALLOCATE', 4],
  ['VM_START', 4],
  ['VM_STOP', 8],
  ['VM_RESET', 4],
  ['VM_CONFIG_IMAGE', 40],
  ['VM_INIT', 4],
  ['VM_GET_ID', 4],
  ['VM_LOOKUP_GUID', 16],
  ['VM_GET_STATE', 4],
  ['VM_GET_CRASH_MSG', 4],
  ['VM_GET_HYP_RESOURCES', 4],
  ['VM_SET_TIME_BASE', 20],
  ['VM_SET_CONTEXT', 16],
  ['VM_SET_FIRMWARE_MEM', 24],
  ['VM_SET_ADDRESS_LAYOUT', 24],
  ['VM_IRQ_ACCEPT', 8],
  ['VM_IRQ_LEND', 12],
  ['VM_IRQ_RELEASE', 4],
  ['VM_IRQ_RECLAIM', 4],
  ['VM_SET_STATUS', 4],
  ['VM_CONSOLE_OPEN', 4],
  ['VM_CONSOLE_CLOSE', 4],
  ['VM_CONSOLE_FLUSH', 4],
  ['VM_EXIT', 4],
  ['FW_SET_VM_FIRMWARE', 24],
  ['FW_MILESTONE', 0],
  ['VM_GET_OWNER', 0],
  ['VM_GET_VMID', 0],
  ['VM_GET_PEERS', 0],
  ['VM_HOST_GET_TYPE', 0],
];
describe('exact-length requests', () => {
  test.each(EXACT)('%s: %i bytes decode; one more or one fewer → MSG_INVALID', (name, n) => {
    const codec = anyCodec(RM_CATALOGUE[name].req);
    expect(() => codec.decode(new Uint8Array(n))).not.toThrow();
    expect(rmErrorOf(() => codec.decode(new Uint8Array(n + 1)))).toBe('MSG_INVALID');
    if (n > 0) expect(rmErrorOf(() => codec.decode(new Uint8Array(n - 1)))).toBe('MSG_INVALID');
    expect(rmErrorOf(() => codec.decode(new Uint8Array(n === 0 ? 4 : 0)))).toBe('MSG_INVALID');
  });
});

/** Minimum-length requests (§12.5: "Minimum lengths (else MSG_INVALID)"). */
const MINIMUM: ReadonlyArray<[RmMsgName, number]> = [
  ['MEM_LEND', 20],
  ['MEM_SHARE', 20],
  ['MEM_DONATE', 20],
  ['MEM_APPEND', 12],
  ['MEM_ACCEPT', 24],
  ['MEM_RELEASE', 8],
  ['MEM_RECLAIM', 8],
  ['MEM_NOTIFY', 12],
  ['MEM_QCOM_LOOKUP_SGL', 16],
];
describe('minimum-length requests', () => {
  test.each(MINIMUM)('%s: below %i bytes → MSG_INVALID; %i zero bytes decode', (name, n) => {
    const codec = anyCodec(RM_CATALOGUE[name].req);
    for (let k = 0; k < n; k++) expect(rmErrorOf(() => codec.decode(new Uint8Array(k)))).toBe('MSG_INVALID');
    expect(() => codec.decode(new Uint8Array(n))).not.toThrow();
  });
  test('MEM_RELEASE / MEM_RECLAIM ignore bytes after the eighth', () => {
    expect(MEM_HANDLE_FLAGS_REQ.decode(u8a(1, 0, 0, 0, 1, 9, 9, 9, 9, 9))).toEqual({ handle: 1, flags: 1 });
  });
});

describe('variable-length requests', () => {
  test('VM_LOOKUP_NAME / _URI: length > 79 → ARGUMENT_INVALID before the total-length check', () => {
    expect(rmErrorOf(() => VM_LOOKUP_NAME_REQ.decode(u8a(80, 0, 0, 0)))).toBe('ARGUMENT_INVALID');
    expect(rmErrorOf(() => VM_LOOKUP_URI_REQ.decode(u8a(...le16(0xffff), 0, 0)))).toBe('ARGUMENT_INVALID');
    expect(VM_LOOKUP_NAME_REQ.decode(u8a(79, 0, 0, 0, ...new Array<number>(79).fill(0x41), 0)).name).toHaveLength(79);
  });
  test('VM_LOOKUP_*: under 4 bytes, wrong total or non-zero padding → MSG_INVALID', () => {
    expect(rmErrorOf(() => VM_LOOKUP_NAME_REQ.decode(u8a(0, 0, 0)))).toBe('MSG_INVALID');
    expect(rmErrorOf(() => VM_LOOKUP_NAME_REQ.decode(u8a(3, 0, 0, 0, 0x61, 0x62, 0x63)))).toBe('MSG_INVALID');
    expect(rmErrorOf(() => VM_LOOKUP_NAME_REQ.decode(u8a(3, 0, 0, 0, 0x61, 0x62, 0x63, 0, 0, 0, 0, 0)))).toBe('MSG_INVALID');
    expect(rmErrorOf(() => VM_LOOKUP_URI_REQ.decode(u8a(3, 0, 0, 0, 0x61, 0x62, 0x63, 1)))).toBe('MSG_INVALID');
    expect(VM_LOOKUP_URI_REQ.decode(u8a(3, 0, 0xaa, 0xbb, 0x61, 0x62, 0x63, 0))).toEqual({ uri: u8a(0x61, 0x62, 0x63) });
    expect(VM_LOOKUP_NAME_REQ.decode(u8a(0, 0, 0, 0))).toEqual({ name: new Uint8Array(0) });
  });
  test('VM_SET_CRASH_MSG: exactly 4 + align4(len), zero padding', () => {
    expect(VM_SET_CRASH_MSG_REQ.decode(u8a(2, 0, 0, 0, 0x6f, 0x6b, 0, 0))).toEqual({ message: u8a(0x6f, 0x6b) });
    expect(rmErrorOf(() => VM_SET_CRASH_MSG_REQ.decode(u8a(2, 0, 0, 0, 0x6f, 0x6b)))).toBe('MSG_INVALID');
    expect(rmErrorOf(() => VM_SET_CRASH_MSG_REQ.decode(u8a(2, 0, 0, 0, 0x6f, 0x6b, 0, 7)))).toBe('MSG_INVALID');
    expect(rmErrorOf(() => VM_SET_CRASH_MSG_REQ.decode(u8a(2, 0)))).toBe('MSG_INVALID');
  });
  test('VM_CONSOLE_WRITE: exactly 4 + num_bytes', () => {
    expect(CONSOLE_WRITE_REQ.decode(u8a(0, 0, 3, 0, 0x61, 0x62, 0x63))).toEqual({ target: 0, data: u8a(0x61, 0x62, 0x63) });
    expect(rmErrorOf(() => CONSOLE_WRITE_REQ.decode(u8a(0, 0, 3, 0, 0x61, 0x62)))).toBe('MSG_INVALID');
    expect(rmErrorOf(() => CONSOLE_WRITE_REQ.decode(u8a(0, 0, 3, 0, 0x61, 0x62, 0x63, 0)))).toBe('MSG_INVALID');
    expect(rmErrorOf(() => CONSOLE_WRITE_REQ.decode(u8a(0, 0)))).toBe('MSG_INVALID');
  });
  test('VM_AUTH_IMAGE and VM_SET_DEMAND_PAGING: exactly 4 + 8n and 8 + 16n', () => {
    const auth = anyCodec(RM_CATALOGUE.VM_AUTH_IMAGE.req);
    expect(auth.decode(u8a(0x80, 0, 1, 0, 1, 0, 0, 0, 2, 0, 0, 0))).toEqual({ vmid: 0x80, params: [{ type: 1, value: 2 }] });
    expect(rmErrorOf(() => auth.decode(u8a(0x80, 0, 1, 0, 1, 0, 0, 0)))).toBe('MSG_INVALID');
    const dp = anyCodec(RM_CATALOGUE.VM_SET_DEMAND_PAGING.req);
    expect(rmErrorOf(() => dp.decode(u8a(0x80, 0, 0, 0, 1, 0, 0, 0)))).toBe('MSG_INVALID');
    expect(rmErrorOf(() => dp.decode(u8a(0x80, 0, 0, 0, 0, 0, 0, 0, 0)))).toBe('MSG_INVALID');
  });
});

describe('reserved and enum checks the sheet states', () => {
  test('VM_EXIT: res0 ≠ 0 → MSG_INVALID; exit_code 2 or ≥ 5 → MSG_INVALID', () => {
    expect(VM_EXIT_REQ.decode(u8a(1, 0, 3, 0))).toEqual({ exitFlags: 1, exitCode: 3 });
    expect(rmErrorOf(() => VM_EXIT_REQ.decode(u8a(0, 0, 0, 1)))).toBe('MSG_INVALID');
    expect(rmErrorOf(() => VM_EXIT_REQ.decode(u8a(0, 0, ExitCode.UNKNOWN_ERROR, 0)))).toBe('MSG_INVALID');
    expect(rmErrorOf(() => VM_EXIT_REQ.decode(u8a(0, 0, 5, 0)))).toBe('MSG_INVALID');
  });
  test('VM_INIT res0 ≠ 0 → MSG_INVALID', () => {
    expect(VM_INIT_REQ.decode(u8a(0x80, 0, 0, 0))).toEqual({ vmid: 0x80 });
    expect(rmErrorOf(() => VM_INIT_REQ.decode(u8a(0x80, 0, 0, 1)))).toBe('MSG_INVALID');
  });
  test('VM_SET_FIRMWARE_MEM res0 ≠ 0 → MSG_INVALID', () => {
    const b = VM_SET_FIRMWARE_MEM_REQ.encode({ vmid: 0x80, fwHandle: 1, fwOffset: 0n, fwSize: 0x1000n });
    b[2] = 1;
    expect(rmErrorOf(() => VM_SET_FIRMWARE_MEM_REQ.decode(b))).toBe('MSG_INVALID');
  });
  test('FW_SET_VM_FIRMWARE res0 ≠ 0 → UNIMPLEMENTED', () => {
    const b = FW_SET_VM_FIRMWARE_REQ.encode({ authType: 2, imageHandle: 1, imageOffset: 0n, imageSize: 0x1000n });
    b[3] = 0x80;
    expect(rmErrorOf(() => FW_SET_VM_FIRMWARE_REQ.decode(b))).toBe('UNIMPLEMENTED');
  });
  test('padding without a stated check is ignored (VM_START pad, VM_STOP reserved)', () => {
    expect(VMID_REQ.decode(u8a(0x81, 0, 0xff, 0xff))).toEqual({ vmid: 0x81 });
    expect(anyCodec(RM_CATALOGUE.VM_STOP.req).decode(u8a(0x81, 0, 1, 0xff, 3, 0, 0, 0))).toEqual({ vmid: 0x81, flags: 1, stopReason: 3 });
  });
  test('VM_SET_STATUS os_status range is the handler’s (decode keeps any byte)', () => {
    expect(anyCodec(RM_CATALOGUE.VM_SET_STATUS.req).decode(u8a(0xff, 9, 1, 0))).toEqual({ osStatus: 9, appStatus: 1 });
    expect(isSettableOsStatus(7)).toBe(true);
    expect(isSettableOsStatus(8)).toBe(false);
  });
});

describe('MEM_NOTIFY and VM_IRQ_NOTIFY tails', () => {
  const head = (flags: number) => [...le32(5), flags, 0, 0, 0, ...le32(0x77)];
  test('SHARED/RECALL need 16 bytes and 16 + 4n; trailing bytes allowed', () => {
    expect(rmErrorOf(() => MEM_NOTIFY_REQ.decode(u8a(...head(MemNotifyFlag.SHARED))))).toBe('MSG_INVALID');
    expect(decodeMemNotifyHead(u8a(...head(MemNotifyFlag.SHARED)))).toEqual({ handle: 5, flags: 1, memInfoTag: 0x77 });
    expect(rmErrorOf(() => MEM_NOTIFY_REQ.decode(u8a(...head(MemNotifyFlag.RECALL), 2, 0, 0, 0, 0x80, 0, 0, 0)))).toBe('MSG_INVALID');
    expect(MEM_NOTIFY_REQ.decode(u8a(...head(MemNotifyFlag.SHARED), 1, 0, 0, 0, 0x80, 0, 0xee, 0xee, 9, 9)).vmids).toEqual([0x80]);
    expect(decodeMemNotifyVmids(u8a(...head(MemNotifyFlag.SHARED), 0, 0, 0, 0))).toEqual([]);
  });
  test('other flags ignore everything after byte 12', () => {
    expect(MEM_NOTIFY_REQ.decode(u8a(...head(MemNotifyFlag.ACCEPTED), 1, 2, 3))).toEqual({ handle: 5, flags: 4, memInfoTag: 0x77, vmids: [] });
    expect(() => MEM_NOTIFY_REQ.encode({ handle: 5, flags: MemNotifyFlag.RELEASED, memInfoTag: 0, vmids: [1] })).toThrow(RangeError);
  });
  test('VM_IRQ_NOTIFY: < 8 → MSG_INVALID; non-LENT must be exactly 8', () => {
    expect(rmErrorOf(() => VM_IRQ_NOTIFY_REQ.decode(u8a(1, 0, 0, 0)))).toBe('MSG_INVALID');
    expect(rmErrorOf(() => VM_IRQ_NOTIFY_REQ.decode(u8a(...le32(1), ...le32(IrqNotifyFlag.RELEASED), 0, 0, 0, 0)))).toBe('MSG_INVALID');
    expect(VM_IRQ_NOTIFY_REQ.decode(u8a(...le32(1), ...le32(7)))).toEqual({ handle: 1, flags: 7, vmids: [] });
  });
  test('VM_IRQ_NOTIFY LENT: 8, or at least 12 and exactly 12 + 4n', () => {
    const lent = [...le32(9), ...le32(IrqNotifyFlag.LENT)];
    expect(VM_IRQ_NOTIFY_REQ.decode(u8a(...lent)).vmids).toEqual([]);
    expect(VM_IRQ_NOTIFY_REQ.decode(u8a(...lent, 1, 0, 0, 0, 0x80, 0, 0, 0)).vmids).toEqual([0x80]);
    expect(rmErrorOf(() => VM_IRQ_NOTIFY_REQ.decode(u8a(...lent, 1)))).toBe('MSG_INVALID');
    expect(rmErrorOf(() => VM_IRQ_NOTIFY_REQ.decode(u8a(...lent, 1, 0, 0, 0)))).toBe('MSG_INVALID');
    expect(rmErrorOf(() => VM_IRQ_NOTIFY_REQ.decode(u8a(...lent, 0, 0, 0, 0, 0)))).toBe('MSG_INVALID');
    expect(decodeIrqNotifyHead(u8a(...lent, 1))).toEqual({ handle: 9, flags: 1 });
  });
});

// ---- replies ----------------------------------------------------------------------------------

describe('replies', () => {
  const entry: HypResourceEntry = {
    type: 4,
    partnerVmid: 3,
    resourceHandle: 0,
    resourceLabel: 1,
    capId: 0x1_0000_0002n,
    virqHandle: 0,
    virq: 32 + 7,
    base: 0n,
    size: 0n,
  };
  test('VM_GET_HYP_RESOURCES: exactly 4 + 44n bytes', () => {
    const b = VM_GET_HYP_RESOURCES_REPLY.encode({ entries: [entry, entry] });
    expect(b.length).toBe(4 + 88);
    expect(VM_GET_HYP_RESOURCES_REPLY.decode(b).entries).toEqual([entry, entry]);
    expect(rmErrorOf(() => VM_GET_HYP_RESOURCES_REPLY.decode(new Uint8Array(0)))).toBe('MSG_INVALID');
    expect(rmErrorOf(() => VM_GET_HYP_RESOURCES_REPLY.decode(b.subarray(0, b.length - 1)))).toBe('MSG_INVALID');
    expect(rmErrorOf(() => VM_GET_HYP_RESOURCES_REPLY.decode(u8a(...b, 0)))).toBe('MSG_INVALID');
    expect(rmErrorOf(() => VM_GET_HYP_RESOURCES_REPLY.decode(u8a(...le32(0xffff_ffff))))).toBe('MSG_INVALID');
  });
  test('44-byte entry layout: cap_id @12, virq @24, base @28, size @36', () => {
    const b = VM_GET_HYP_RESOURCES_REPLY.encode({ entries: [{ ...entry, base: 0x1122n, size: 0x3344n }] });
    const v = new DataView(b.buffer, 4);
    expect(v.getUint8(0)).toBe(4);
    expect(v.getUint16(2, true)).toBe(3);
    expect(v.getBigUint64(12, true)).toBe(0x1_0000_0002n);
    expect(v.getUint32(24, true)).toBe(39);
    expect(v.getBigUint64(28, true)).toBe(0x1122n);
    expect(v.getBigUint64(36, true)).toBe(0x3344n);
  });
  test('VM_GET_STATE: vm_status bits 7:0, os_status 15:8, app_status 31:16', () => {
    expect(VM_GET_STATE_REPLY.decode(u8a(...le32(0x1234_0403)))).toEqual({ vmStatus: 3, osStatus: 4, appStatus: 0x1234 });
    expect(VM_GET_STATE_REPLY.encode({ vmStatus: 3, osStatus: 4, appStatus: 0x1234 })).toEqual(u8a(...le32(0x1234_0403)));
  });
  test('fixed-size replies ignore trailing bytes, need their fixed part', () => {
    expect(VM_ALLOCATE_REPLY.decode(fromHex('80 00 00 00 ff'))).toEqual({ vmid: 0x80 });
    expect(rmErrorOf(() => VM_ALLOCATE_REPLY.decode(fromHex('80 00')))).toBe('MSG_INVALID');
    expect(STANDARD_REPLY.decode(u8a(1, 2, 3))).toEqual({});
  });
  test('request-dependent reply choosers', () => {
    expect(vmAllocateReplyCodec({ vmid: 0 })).toBe(VM_ALLOCATE_REPLY);
    expect(vmAllocateReplyCodec({ vmid: 5 })).toBe(VM_ALLOCATE_STATIC_REPLY);
    expect(memAcceptReplyCodec({ sgl: [] })).toBe(MEM_ACCEPT_SGL_REPLY);
    expect(memAcceptReplyCodec({ sgl: [{ address: 0n, size: 0x1000n }] })).toBe(MEM_ACCEPT_STANDARD_REPLY);
  });
  test('MEM_ACCEPT SGL reply: u16 n, u8 flags, u8 res, entries', () => {
    const b = MEM_ACCEPT_SGL_REPLY.encode({ flags: 1, sgl: [{ address: 0x8000_0000n, size: 0x20_0000n }] });
    expect(Array.from(b.subarray(0, 4))).toEqual([1, 0, 1, 0]);
    expect(b.length).toBe(20);
  });
  test('HYP_ERROR_TAIL reads the hypervisor error as signed', () => {
    expect(HYP_ERROR_TAIL.decode(u8a(0xff, 0xff, 0xff, 0xff))).toEqual({ hypError: -1 });
    expect(HYP_ERROR_TAIL.decode(u8a(1, 0, 0, 0))).toEqual({ hypError: 1 });
  });
});

// ---- notifications ----------------------------------------------------------------------------

describe('NOTIFY_VM_EXITED reason helpers', () => {
  test('word 0 = exit_flags | exit_code << 16', () => {
    expect(exitReasonWord0(ExitFlag.SMC64, ExitCode.SOFTWARE_ERROR)).toBe(0x0001_8000);
    expect(() => exitReasonWord0(0x1_0000, 0)).toThrow(RangeError);
  });
  test('forced stop: one reason word of 0, exit_reason_size 4', () => {
    const b = NOTIFY_VM_EXITED_PAYLOAD.encode({ vmid: 0x80, exitType: ExitType.VM_STOP_FORCED, exitReason: buildExitReason({ exitFlags: 0, exitCode: 0 }) });
    expect(Array.from(b)).toEqual([0x80, 0, 7, 0, 4, 0, 0, 0, 0, 0, 0, 0]);
  });
  test('PSCI_SYSTEM_RESET2: word 0 plus reset_type, cookie_lo, cookie_hi', () => {
    const reason = buildExitReason({ exitFlags: ExitFlag.SMC64, exitCode: 0, extraWords: [1, 0xdead, 0xbeef] });
    expect(reason.length).toBe(16);
    expect(parseExitReason(reason)).toEqual({ exitFlags: 0x8000, exitCode: 0, extraWords: [1, 0xdead, 0xbeef] });
    expect(parseExitReason(new Uint8Array(3))).toBeUndefined();
  });
  test('a reason running past the payload → WireError', () => {
    expect(rmErrorOf(() => NOTIFY_VM_EXITED_PAYLOAD.decode(u8a(0x80, 0, 0, 0, 8, 0, 0, 0, 0, 0, 0, 0)))).toBe('MSG_INVALID');
  });
});

// ---- catalogue --------------------------------------------------------------------------------

describe('catalogue', () => {
  test('every message ID has a spec with its name and ID', () => {
    expect(Object.keys(RM_CATALOGUE).sort()).toEqual([...MSG_NAMES].sort());
    for (const name of MSG_NAMES) {
      expect(RM_CATALOGUE[name].name).toBe(name);
      expect(RM_CATALOGUE[name].id).toBe(RmMsgId[name]);
      expect(specById(RmMsgId[name])).toBe(RM_CATALOGUE[name]);
    }
  });
  test('every notification ID has a spec', () => {
    expect(Object.keys(RM_NOTIFICATIONS).sort()).toEqual([...NOTIF_NAMES].sort());
    for (const name of NOTIF_NAMES) {
      expect(RM_NOTIFICATIONS[name].id).toBe(RmNotifId[name]);
      expect(notificationById(RmNotifId[name])).toBe(RM_NOTIFICATIONS[name]);
    }
  });
  test('unknown IDs; the alternative VM_SET_BOOT_CONTEXT ID', () => {
    expect(specById(0x5600_0003)).toBeUndefined();
    expect(specById(RmNotifId.NOTIFY_VM_EXITED)).toBeUndefined();
    expect(notificationById(RmMsgId.VM_START)).toBeUndefined();
    expect(specById(VM_SET_BOOT_CONTEXT_ALT_ID)).toBe(RM_CATALOGUE.VM_SET_CONTEXT);
  });
  test('zero-length requests are strict, standard replies lenient', () => {
    expect(RM_CATALOGUE.VM_GET_VMID.req).toBe(EMPTY);
    expect(RM_CATALOGUE.VM_START.reply).toBe(STANDARD_REPLY);
    expect(RM_CATALOGUE.VM_GET_HYP_CAPIDS.req.decode(u8a(1, 2))).toEqual({ bytes: u8a(1, 2) });
  });
  test('types are precise per message', () => {
    expectTypeOf(RM_CATALOGUE.VM_START.req.decode).returns.toEqualTypeOf<VmidReq>();
    expectTypeOf<ReqOf<'MEM_LEND'>>().toEqualTypeOf<MemCreateReq>();
    expectTypeOf<RepOf<'VM_GET_HYP_RESOURCES'>['entries'][number]>().toEqualTypeOf<HypResourceEntry>();
  });
});

describe('encoders', () => {
  test('range guards throw RangeError', () => {
    expect(() => VMID_REQ.encode({ vmid: 0x1_0000 })).toThrow(RangeError);
    expect(() => VMID_REQ.encode({ vmid: -1 })).toThrow(RangeError);
    expect(() => anyCodec(RM_CATALOGUE.VM_SET_TIME_BASE.req).encode({ vmid: 1, timeBase: -1n, sysTimerRef: 0n })).toThrow(RangeError);
    expect(() => anyCodec(RM_CATALOGUE.VM_LOOKUP_GUID.req).encode({ guid: new Uint8Array(15) })).toThrow(RangeError);
  });
  test('VM_START request is exactly 4 bytes, padding zero', () => {
    expect(Array.from(VMID_REQ.encode({ vmid: 0x45 }))).toEqual([0x45, 0, 0, 0]);
  });
  test('a subarray input decodes from its own offset', () => {
    const big = u8a(9, 9, 0x45, 0, 0, 0, 9);
    expect(VMID_REQ.decode(big.subarray(2, 6))).toEqual({ vmid: 0x45 });
    const mem = u8a(7, ...MEM_CREATE_REQ.encode({ memType: 0, flags: 0, label: 3, acl: [{ vmid: 3, rights: 7 }], sgl: [{ address: 0x1000n, size: 0x1000n }], attrs: [] }));
    expect(MEM_CREATE_REQ.decode(mem.subarray(1)).label).toBe(3);
  });
});
