// The host kernel's RM client (src/rm-rpc/client) against a hand-played RM on the other end of
// an in-memory message-queue pair. Expected behaviour is taken from the fact sheet, not the code:
// rm-rpc.md §4 (sizes), §5 (fragmentation, PUSH, flow control), §6 (seqs, reply matching),
// §8.2 (what the Linux client does with malformed or stray input), §13 (notification payloads),
// §14.1 (RM error → errno), §18 (reply validation of VM_GET_HYP_RESOURCES and VM_ALLOC_VMID).
import { describe, expect, test, vi } from 'vitest';
import { fc, test as fcTest } from '@fast-check/vitest';
import { createMsgqPair, type QueueEndpoint } from '../../src/msgq/endpoint.js';
import { HypError } from '../../src/shared/hyp-errors.js';
import { ErrnoError, type ErrnoName } from '../../src/shared/errno.js';
import { toHex, view } from '../../src/shared/bytes.js';
import {
  RmCalls,
  createRmClient,
  createSeqAllocator,
  onVmExited,
  onVmStatus,
  type RmClientOptions,
  type RmNotificationEvent,
} from '../../src/rm-rpc/client/index.js';
import { RmError, RmErrorCode } from '../../src/rm-rpc/wire/errors.js';
import { RmMsgId, RmNotifId } from '../../src/rm-rpc/wire/msg-ids.js';
import type { VmExitedNotif, VmStatusNotif } from '../../src/rm-rpc/wire/notifications.js';
import {
  FIRST_REPLY_DATA,
  FRAG,
  T,
  cat,
  drainNow,
  frame,
  hdr,
  pattern,
  receiveMessage,
  reply,
  replyBody,
  rmNotifFrames,
  rmReplyFrames,
  sendAll,
  settle,
  track,
} from '../support/rm-frames.js';

const ID = RmMsgId.VM_START; // 0x56000004
const ID2 = RmMsgId.VM_STOP; // 0x56000005
const NOTIF = RmNotifId.NOTIFY_VM_STATUS; // 0x56100008

/** The client on one end of a fresh RM link; the test plays the RM on `rm`. */
function setup(opts: Omit<RmClientOptions, 'transport'> = {}) {
  const [host, rm] = createMsgqPair();
  const sendSpy = vi.spyOn(host, 'send');
  const client = createRmClient({ ...opts, transport: host });
  const notifs: RmNotificationEvent[] = [];
  client.events.on('notification', (n) => notifs.push(n));
  return { host, rm, client, sendSpy, notifs };
}

/** Read the one single-frame request now queued at the RM end and return its header. */
function takeRequest(rm: QueueEndpoint) {
  const frames = drainNow(rm);
  expect(frames).toHaveLength(1);
  return hdr(frames[0]!);
}

function expectErrno(t: { state: string; error?: unknown }, code: ErrnoName): void {
  expect(t.state).toBe('rejected');
  expect(t.error).toBeInstanceOf(ErrnoError);
  expect((t.error as ErrnoError).code).toBe(code);
}

// ── §6 sequence numbers ────────────────────────────────────────────────────────────────────

describe('sequence numbers (rm-rpc.md §6)', () => {
  test('seqs start at 0 and go up by one per call', async () => {
    const { rm, client } = setup();
    const calls = [track(client.call(ID)), track(client.call(ID)), track(client.call(ID))];
    await settle();
    const seqs = drainNow(rm).map((f) => hdr(f).seq);
    expect(seqs).toEqual([0, 1, 2]);
    for (const s of seqs) rm.send(reply(s, ID));
    await settle();
    expect(calls.map((c) => c.state)).toEqual(['resolved', 'resolved', 'resolved']);
    // Cyclic, not lowest-free: seq 0 is free again but the next call takes 3.
    const next = track(client.call(ID));
    await settle();
    expect(takeRequest(rm).seq).toBe(3);
    rm.send(reply(3, ID));
    await settle();
    expect(next.state).toBe('resolved');
  });

  test('wraps from 0xFFFF to 0 (allocator started at 0xFFFE)', async () => {
    const seq = createSeqAllocator(0xfffe);
    const { rm, client } = setup({ seq });
    const calls = [0, 1, 2, 3].map(() => track(client.call(ID)));
    await settle();
    const seqs = drainNow(rm).map((f) => hdr(f).seq);
    expect(seqs).toEqual([0xfffe, 0xffff, 0, 1]);
    expect(seq.inUse).toBe(4);
    for (const s of seqs) rm.send(reply(s, ID));
    await settle();
    expect(calls.every((c) => c.state === 'resolved')).toBe(true);
    expect(seq.inUse).toBe(0);
  });

  test('a full cycle skips seqs still outstanding', async () => {
    // Calls at 0xFFFE and 0 stay outstanding; every other seq is used once and answered, so the
    // allocator comes round again and must skip both.
    const seq = createSeqAllocator(0xfffe);
    const { rm, client } = setup({ seq });
    const heldA = track(client.call(ID)); // 0xfffe
    const mid = track(client.call(ID)); // 0xffff
    const heldB = track(client.call(ID)); // 0
    await settle();
    expect(drainNow(rm).map((f) => hdr(f).seq)).toEqual([0xfffe, 0xffff, 0]);
    rm.send(reply(0xffff, ID));
    await settle();
    expect(mid.state).toBe('resolved');
    // seqs 1 .. 0xfffd, answered in batches of 7 (so the depth-8 queues never fill).
    let expected = 1;
    while (expected <= 0xfffd) {
      const n = Math.min(7, 0xfffd - expected + 1);
      const batch = Array.from({ length: n }, () => client.call(ID));
      await Promise.resolve();
      await new Promise<void>((r) => setImmediate(r));
      const got = drainNow(rm).map((f) => hdr(f).seq);
      if (got.length !== n || got[0] !== expected) {
        expect(got).toEqual(Array.from({ length: n }, (_, i) => expected + i));
      }
      for (const s of got) rm.send(reply(s, ID));
      await Promise.all(batch);
      expected += n;
    }
    // Next in line would be 0xfffe (outstanding), then 0xffff (free), then 0 (outstanding), 1 (free).
    const a = track(client.call(ID));
    const b = track(client.call(ID));
    await settle();
    expect(drainNow(rm).map((f) => hdr(f).seq)).toEqual([0xffff, 1]);
    for (const s of [0xffff, 1, 0xfffe, 0]) rm.send(reply(s, ID));
    await settle();
    expect([heldA, heldB, a, b].map((c) => c.state)).toEqual(['resolved', 'resolved', 'resolved', 'resolved']);
  }, 60_000);

  test('msg_id 0 is reserved → EINVAL, nothing sent', async () => {
    const { rm, client, sendSpy } = setup();
    const c = track(client.call(0));
    await settle();
    expectErrno(c, 'EINVAL');
    expect(sendSpy).not.toHaveBeenCalled();
    expect(rm.rxPending).toBe(false);
    expect(client.outstanding).toBe(0);
  });

  test('several calls in flight, answered out of order, each gets its own reply', async () => {
    const { rm, client } = setup();
    const calls = [track(client.call(ID)), track(client.call(ID2)), track(client.call(ID))];
    await settle();
    const reqs = drainNow(rm).map(hdr);
    expect(reqs.map((r) => [r.seq, r.msgId])).toEqual([
      [0, ID],
      [1, ID2],
      [2, ID],
    ]);
    expect(client.outstanding).toBe(3);
    rm.send(reply(2, ID, 0, Uint8Array.of(0x22)));
    await settle();
    expect(calls.map((c) => c.state)).toEqual(['pending', 'pending', 'resolved']);
    rm.send(reply(0, ID, 0, Uint8Array.of(0x00)));
    rm.send(reply(1, ID2, 0, Uint8Array.of(0x11)));
    await settle();
    expect(calls.map((c) => toHex(c.value!))).toEqual(['00', '11', '22']);
    expect(client.outstanding).toBe(0);
  });

  test('a reply is matched by seq AND msg_id: right seq, wrong msg_id is dropped', async () => {
    const { rm, client } = setup();
    const c = track(client.call(ID));
    await settle();
    takeRequest(rm);
    rm.send(reply(0, ID2, 0, Uint8Array.of(0xee)));
    await settle();
    expect(c.state).toBe('pending');
    expect(client.outstanding).toBe(1);
    rm.send(reply(0, ID, 0, Uint8Array.of(0x01)));
    await settle();
    expect(c.state).toBe('resolved');
    expect(toHex(c.value!)).toBe('01');
  });

  test('a reply for no pending seq is dropped', async () => {
    const { rm, client } = setup();
    const c = track(client.call(ID));
    await settle();
    takeRequest(rm);
    rm.send(reply(7, ID, 0, Uint8Array.of(0xee)));
    rm.send(reply(0x1234, ID, RmErrorCode.DENIED));
    await settle();
    expect(c.state).toBe('pending');
    rm.send(reply(0, ID));
    await settle();
    expect(c.state).toBe('resolved');
    expect(c.value!.byteLength).toBe(0);
  });

  test('success returns the data after the 12-byte reply header', async () => {
    const { rm, client } = setup();
    const c = track(client.call(ID));
    await settle();
    takeRequest(rm);
    rm.send(reply(0, ID, 0, Uint8Array.of(1, 2, 3, 4, 5)));
    await settle();
    expect(toHex(c.value!)).toBe('01 02 03 04 05');
  });
});

// ── §14.1 RM errors ─────────────────────────────────────────────────────────────────────────

/** rm-rpc.md §14.1, typed in from the sheet (RM name, value, Linux errno). */
const SHEET_14_1: ReadonlyArray<readonly [string, number, ErrnoName]> = [
  ['UNIMPLEMENTED', 0xffffffff, 'EOPNOTSUPP'],
  ['NOMEM', 0x1, 'ENOMEM'],
  ['NORESOURCE', 0x2, 'ENODEV'],
  ['DENIED', 0x3, 'EPERM'],
  ['MSG_INVALID', 0x4, 'EINVAL'],
  ['BUSY', 0x5, 'EBUSY'],
  ['ARGUMENT_INVALID', 0x6, 'EINVAL'],
  ['HANDLE_INVALID', 0x7, 'EINVAL'],
  ['VALIDATE_FAILED', 0x8, 'EINVAL'],
  ['MAP_FAILED', 0x9, 'EINVAL'],
  ['MEM_INVALID', 0xa, 'EINVAL'],
  ['MEM_INUSE', 0xb, 'EINVAL'],
  ['MEM_RELEASED', 0xc, 'EINVAL'],
  ['VMID_INVALID', 0xd, 'EINVAL'],
  ['LOOKUP_FAILED', 0xe, 'EINVAL'],
  ['IRQ_INVALID', 0xf, 'EINVAL'],
  ['IRQ_INUSE', 0x10, 'EINVAL'],
  ['IRQ_RELEASED', 0x11, 'EINVAL'],
  ['IN_USE', 0x12, 'EBADMSG'],
  ['IRQ_NOT_MAPPED', 0x13, 'EBADMSG'],
  ['VM_STATE', 0x14, 'EBADMSG'],
];

async function callWithError(err: number, data = Uint8Array.of(0xaa, 0xbb)) {
  const { rm, client } = setup();
  const c = track(client.call(ID));
  await settle();
  takeRequest(rm);
  rm.send(reply(0, ID, err, data));
  await settle();
  return c;
}

describe('RM error → RmError with Linux errno (rm-rpc.md §14.1)', () => {
  test('the sheet table names every RmErrorCode value except OK', () => {
    const sheet = new Map(SHEET_14_1.map(([n, v]) => [n, v]));
    const code = new Map(Object.entries(RmErrorCode).filter(([n]) => n !== 'OK'));
    expect(code).toEqual(sheet);
    expect(RmErrorCode.OK).toBe(0);
  });

  test.each(SHEET_14_1)('%s (%#x) → %s', async (name, value, errno) => {
    const c = await callWithError(value);
    expect(c.state).toBe('rejected');
    expect(c.error).toBeInstanceOf(RmError);
    const e = c.error as RmError;
    expect(e.errno).toBe(errno);
    expect(e.rmCode >>> 0).toBe(value);
    expect(e.rmName).toBe(name);
    expect(e.msgId).toBe(ID);
  });

  test.each([0x15, 0x16, 0xff, 0x1000, 0x7fffffff, 0x80000000, 0xfffffffe])('unknown value %#x → EBADMSG', async (value) => {
    const c = await callWithError(value);
    expect(c.error).toBeInstanceOf(RmError);
    expect((c.error as RmError).errno).toBe('EBADMSG');
    expect((c.error as RmError).rmCode >>> 0).toBe(value);
  });
});

// ── §4/§5 sending requests ──────────────────────────────────────────────────────────────────

describe('request fragmentation (rm-rpc.md §4, §5)', () => {
  // len → frames: (len − 1) / 232 continuations for len > 0, none for len 0.
  test.each([
    [0, 1],
    [1, 1],
    [231, 1],
    [232, 1],
    [233, 2],
    [62 * 232, 62],
  ])('payload of %i bytes → %i frame(s)', async (len, count) => {
    const { rm, client, sendSpy } = setup();
    const payload = pattern(len, 3);
    const c = track(client.call(ID, payload));
    const frames = await receiveMessage(rm);
    expect(frames).toHaveLength(count);
    frames.forEach((f, i) => {
      const h = hdr(f);
      expect(h.api).toBe(0x21);
      expect(h.type).toBe(i === 0 ? T.REQ : T.CONT);
      expect(h.fragments).toBe(count - 1);
      expect(h.seq).toBe(0);
      expect(h.msgId).toBe(ID);
      const last = i === count - 1;
      expect(f.byteLength).toBe(last ? 8 + len - FRAG * (count - 1) : 240);
    });
    expect(toHex(cat(frames.map((f) => f.subarray(8))), '')).toBe(toHex(payload, ''));
    // PUSH on the last frame only.
    expect(sendSpy.mock.calls.map((a) => a[1] === true)).toEqual(frames.map((_, i) => i === count - 1));
    expect(c.state).toBe('pending');
    rm.send(reply(0, ID));
    await settle();
    expect(c.state).toBe('resolved');
  });

  test('62 × 232 + 1 bytes → E2BIG with nothing sent', async () => {
    const { rm, client, sendSpy } = setup();
    const c = track(client.call(ID, new Uint8Array(62 * 232 + 1)));
    await settle();
    expectErrno(c, 'E2BIG');
    expect(sendSpy).not.toHaveBeenCalled();
    expect(rm.rxPending).toBe(false);
    expect(client.outstanding).toBe(0);
  });

  fcTest.prop([fc.integer({ min: 0, max: 62 * 232 })], { numRuns: 30 })(
    'any payload up to 62 × 232 bytes arrives whole: (len − 1) / 232 continuations',
    async (len) => {
      const { rm, client } = setup();
      const payload = pattern(len, len);
      const c = track(client.call(ID, payload));
      const frames = await receiveMessage(rm);
      expect(frames).toHaveLength(len === 0 ? 1 : Math.floor((len - 1) / FRAG) + 1);
      expect(toHex(cat(frames.map((f) => f.subarray(8))), '')).toBe(toHex(payload, ''));
      rm.send(reply(0, ID));
      await settle();
      expect(c.state).toBe('resolved');
    },
  );

  test('the frames of two concurrent requests never interleave', async () => {
    const { rm, client } = setup();
    const a = track(client.call(ID, pattern(3 * FRAG, 1)));
    const b = track(client.call(ID2, pattern(2 * FRAG, 2)));
    const fa = await receiveMessage(rm);
    const fb = await receiveMessage(rm);
    expect(fa.map((f) => hdr(f).seq)).toEqual([0, 0, 0]);
    expect(fb.map((f) => hdr(f).seq)).toEqual([1, 1]);
    rm.send(reply(0, ID));
    rm.send(reply(1, ID2));
    await settle();
    expect([a.state, b.state]).toEqual(['resolved', 'resolved']);
  });
});

describe('send flow control (rm-rpc.md §5)', () => {
  test('a 45-frame request through a depth-8 queue advances only as the RM drains', async () => {
    const { rm, client, sendSpy } = setup();
    const payload = pattern(45 * FRAG, 9);
    const c = track(client.call(ID, payload));
    await settle(5);
    // The queue is full and the sender waits for the TX vIRQ: no further attempts.
    expect(sendSpy).toHaveBeenCalledTimes(8);
    expect(sendSpy.mock.results.every((r) => r.type === 'return')).toBe(true);
    await settle(5);
    expect(sendSpy).toHaveBeenCalledTimes(8);

    const got: Uint8Array[] = [];
    for (let k = 1; got.length < 45; k++) {
      got.push(rm.receive().bytes); // 8 → 7: the TX vIRQ of the client's queue fires
      await settle(2);
      expect(sendSpy).toHaveBeenCalledTimes(Math.min(45, 8 + k));
      expect((rm as QueueEndpoint).rx.count).toBeLessThanOrEqual(8);
      if (8 + k >= 45) got.push(...drainNow(rm));
    }
    expect(got).toHaveLength(45);
    expect(toHex(cat(got.map((f) => f.subarray(8))), '')).toBe(toHex(payload, ''));
    expect(c.state).toBe('pending');
    rm.send(reply(0, ID));
    await settle();
    expect(c.state).toBe('resolved');
  });

  test('a FULL error at send is retried after the TX vIRQ', async () => {
    const { host, rm, client, sendSpy } = setup();
    // Something else filled the client's TX queue behind its back.
    for (let i = 0; i < 8; i++) host.tx.send(Uint8Array.of(0xff, i));
    const c = track(client.call(ID, Uint8Array.of(1, 2, 3, 4)));
    await settle();
    expect(sendSpy).toHaveBeenCalledTimes(1);
    const r0 = sendSpy.mock.results[0]!;
    expect(r0.type).toBe('throw');
    expect(r0.value).toBeInstanceOf(HypError);
    expect((r0.value as HypError).code).toBe('ERROR_MSGQUEUE_FULL');
    await settle();
    expect(sendSpy).toHaveBeenCalledTimes(1); // waits for the vIRQ, no busy retry
    expect(c.state).toBe('pending');

    rm.receive(); // room again: TX vIRQ
    await settle();
    expect(sendSpy).toHaveBeenCalledTimes(2);
    expect(sendSpy.mock.results[1]!.type).toBe('return');
    const frames = drainNow(rm);
    expect(frames).toHaveLength(8);
    const req = frames[7]!;
    expect(toHex(req)).toBe('21 01 00 00 04 00 00 56 01 02 03 04');
    expect(sendSpy.mock.calls[1]![1]).toBe(true);
    rm.send(reply(0, ID));
    await settle();
    expect(c.state).toBe('resolved');
  });
});

// ── §8.2 receive rules ──────────────────────────────────────────────────────────────────────

/** A client with one call (seq 0, msg ID) outstanding and its request already taken. */
async function withPending(n = 1, msgIds: readonly number[] = [ID, ID2, ID]) {
  const s = setup();
  const calls = Array.from({ length: n }, (_, i) => track(s.client.call(msgIds[i]!)));
  await settle();
  expect(drainNow(s.rm)).toHaveLength(n);
  return { ...s, calls };
}

describe('receive rules of the Linux client (rm-rpc.md §8.2)', () => {
  test('a frame under 8 bytes is dropped and draining continues', async () => {
    const { rm, host, calls } = await withPending();
    rm.send(Uint8Array.of(0x21, 0x02, 0x00, 0x00, 0x04, 0x00, 0x00)); // 7 bytes
    rm.send(Uint8Array.of(0x21));
    rm.send(reply(0, ID, 0, Uint8Array.of(9)));
    await settle();
    expect(calls[0]!.state).toBe('resolved');
    expect(toHex(calls[0]!.value!)).toBe('09');
    expect(host.rxPending).toBe(false);
  });

  test.each([0x22, 0x11, 0x20, 0x31, 0x00, 0xff])('byte 0 = %#x stops draining until the next RX vIRQ', async (api) => {
    const { rm, host, calls } = await withPending();
    rm.send(frame(T.REPLY, 0, 0, ID, replyBody(0), api));
    rm.send(reply(0, ID, 0, Uint8Array.of(5)));
    await settle();
    expect(calls[0]!.state).toBe('pending');
    expect(host.rxPending).toBe(true); // the good reply waits in the queue
    expect(host.rx.count).toBe(1);
    // The next RX edge (PUSH asserts it) resumes draining.
    rm.send(frame(T.NOTIF, 0, 0, NOTIF, new Uint8Array(8)), true);
    await settle();
    expect(calls[0]!.state).toBe('resolved');
    expect(toHex(calls[0]!.value!)).toBe('05');
    expect(host.rxPending).toBe(false);
  });

  test('a REQUEST received stops draining', async () => {
    const { rm, host, calls, notifs } = await withPending();
    rm.send(frame(T.REQ, 0, 0, ID, new Uint8Array(4)));
    rm.send(reply(0, ID));
    await settle();
    expect(calls[0]!.state).toBe('pending');
    expect(host.rx.count).toBe(1);
    rm.send(frame(T.NOTIF, 0, 1, NOTIF, new Uint8Array(8)), true);
    await settle();
    expect(calls[0]!.state).toBe('resolved');
    expect(notifs).toHaveLength(1);
  });

  test.each([8, 9, 11])('a REPLY of %i bytes (under 12) for a pending call → ENOMEM', async (len) => {
    const { rm, calls } = await withPending();
    rm.send(frame(T.REPLY, 0, 0, ID, new Uint8Array(len - 8)));
    await settle();
    expectErrno(calls[0]!, 'ENOMEM');
  });

  test('a REPLY under 12 bytes for no pending call is just dropped', async () => {
    const { rm, calls } = await withPending();
    rm.send(frame(T.REPLY, 0, 5, ID, new Uint8Array(2)));
    await settle();
    expect(calls[0]!.state).toBe('pending');
  });

  test('a REPLY with fragments > 62 → ENOMEM', async () => {
    const { rm, calls } = await withPending();
    rm.send(frame(T.REPLY, 63, 0, ID, replyBody(0, pattern(FIRST_REPLY_DATA))));
    await settle();
    expectErrno(calls[0]!, 'ENOMEM');
  });

  test('a NOTIFICATION with fragments > 62 is rejected', async () => {
    const { rm, notifs } = setup();
    rm.send(frame(T.NOTIF, 63, 1, NOTIF, pattern(232)));
    rm.send(frame(T.NOTIF, 0, 2, NOTIF, Uint8Array.of(1)));
    await settle();
    expect(notifs.map((n) => n.seq)).toEqual([2]);
  });

  test('a multi-fragment reply is reassembled (228 + 232 + 100)', async () => {
    const { rm, calls } = await withPending();
    const data = pattern(FIRST_REPLY_DATA + FRAG + 100, 4);
    const frames = [
      frame(T.REPLY, 2, 0, ID, replyBody(0, data.subarray(0, 228))),
      frame(T.CONT, 2, 0, ID, data.subarray(228, 460)),
      frame(T.CONT, 2, 0, ID, data.subarray(460)),
    ];
    expect(frames.map((f) => f.byteLength)).toEqual([240, 240, 108]);
    rm.send(frames[0]!);
    rm.send(frames[1]!);
    await settle();
    expect(calls[0]!.state).toBe('pending'); // not complete until the last continuation
    rm.send(frames[2]!);
    await settle();
    expect(calls[0]!.state).toBe('resolved');
    expect(toHex(calls[0]!.value!, '')).toBe(toHex(data, ''));
  });

  test('the largest reply, 62 continuations (228 + 62 × 232 bytes of data), is reassembled', async () => {
    const { rm, calls } = await withPending();
    const data = pattern(FIRST_REPLY_DATA + 62 * FRAG, 6);
    const frames = rmReplyFrames(0, ID, 0, data);
    expect(frames).toHaveLength(63);
    expect(hdr(frames[0]!).fragments).toBe(62);
    await sendAll(rm, frames);
    await settle();
    expect(calls[0]!.state).toBe('resolved');
    expect(toHex(calls[0]!.value!, '')).toBe(toHex(data, ''));
  });

  fcTest.prop([fc.integer({ min: 0, max: 228 + 62 * 232 })], { numRuns: 30 })(
    'any reply the RM can send (body up to 63 × 232 bytes) is reassembled whole',
    async (len) => {
      const { rm, calls } = await withPending();
      const data = pattern(len, len + 1);
      await sendAll(rm, rmReplyFrames(0, ID, 0, data));
      await settle();
      expect(calls[0]!.state).toBe('resolved');
      expect(toHex(calls[0]!.value!, '')).toBe(toHex(data, ''));
    },
  );

  test('a multi-fragment error reply → RmError', async () => {
    const { rm, calls } = await withPending();
    const frames = rmReplyFrames(0, ID, RmErrorCode.DENIED, pattern(300));
    expect(frames).toHaveLength(2);
    for (const f of frames) rm.send(f);
    await settle();
    expect((calls[0]!.error as RmError).errno).toBe('EPERM');
  });

  test('a NOTIFICATION mid-reassembly aborts the reply (EIO)', async () => {
    const { rm, calls, notifs } = await withPending();
    rm.send(frame(T.REPLY, 1, 0, ID, replyBody(0, pattern(228))));
    rm.send(frame(T.NOTIF, 0, 9, NOTIF, Uint8Array.of(1, 2, 3, 4, 5, 6, 7, 8)));
    await settle();
    expectErrno(calls[0]!, 'EIO');
    expect(notifs.map((n) => toHex(n.payload))).toEqual(['01 02 03 04 05 06 07 08']);
    // The old message's continuation now has nothing in progress: ignored.
    rm.send(frame(T.CONT, 1, 0, ID, pattern(10)));
    await settle();
    expect(notifs).toHaveLength(1);
  });

  test('another REPLY mid-reassembly aborts the reply being reassembled (EIO)', async () => {
    const { rm, calls } = await withPending(2);
    rm.send(frame(T.REPLY, 1, 0, ID, replyBody(0, pattern(228))));
    rm.send(reply(1, ID2, 0, Uint8Array.of(0x42)));
    await settle();
    expectErrno(calls[0]!, 'EIO');
    expect(calls[1]!.state).toBe('resolved');
    expect(toHex(calls[1]!.value!)).toBe('42');
  });

  test.each([
    ['msg_id', { msgId: ID2, fragments: 2 }],
    ['fragments', { msgId: ID, fragments: 3 }],
  ])('a continuation with a different %s aborts the reply (EIO)', async (_what, bad) => {
    const { rm, calls } = await withPending();
    rm.send(frame(T.REPLY, 2, 0, ID, replyBody(0, pattern(228))));
    rm.send(frame(T.CONT, bad.fragments, 0, bad.msgId, pattern(232)));
    await settle();
    expectErrno(calls[0]!, 'EIO');
    // What would have been the rest is now stray and ignored.
    rm.send(frame(T.CONT, 2, 0, ID, pattern(232)));
    rm.send(frame(T.CONT, 2, 0, ID, pattern(232)));
    await settle();
    expectErrno(calls[0]!, 'EIO');
  });

  test('a continuation with a different seq but the same msg_id and fragments is accepted', async () => {
    const { rm, calls } = await withPending();
    const data = pattern(228 + 50, 2);
    rm.send(frame(T.REPLY, 1, 0, ID, replyBody(0, data.subarray(0, 228))));
    rm.send(frame(T.CONT, 1, 0x4242, ID, data.subarray(228)));
    await settle();
    expect(calls[0]!.state).toBe('resolved');
    expect(toHex(calls[0]!.value!, '')).toBe(toHex(data, ''));
  });

  test('a continuation with nothing in progress is ignored', async () => {
    const { rm, calls, notifs } = await withPending();
    rm.send(frame(T.CONT, 1, 0, ID, pattern(20)));
    rm.send(frame(T.CONT, 0, 0, ID, replyBody(0)));
    await settle();
    expect(calls[0]!.state).toBe('pending');
    expect(notifs).toHaveLength(0);
    rm.send(reply(0, ID, 0, Uint8Array.of(7)));
    await settle();
    expect(toHex(calls[0]!.value!)).toBe('07');
  });

  test('a REPLY with fragments 0 completes at once', async () => {
    const { rm, calls } = await withPending();
    rm.send(frame(T.REPLY, 0, 0, ID, replyBody(0, pattern(228))));
    await settle();
    expect(calls[0]!.value!.byteLength).toBe(228);
  });
});

// ── notifications ───────────────────────────────────────────────────────────────────────────

describe('notifications (rm-rpc.md §7, §8.2, §13)', () => {
  test('single and fragmented notifications are dispatched in queue order with their payload', async () => {
    const { rm, notifs } = setup();
    const big = pattern(FRAG + 50, 8);
    const frames = [
      ...rmNotifFrames(10, NOTIF, Uint8Array.of(1, 2, 3)),
      ...rmNotifFrames(11, RmNotifId.MEM_SHARED, big),
      ...rmNotifFrames(12, RmNotifId.NOTIFY_VM_EXITED, new Uint8Array(0)),
      ...rmNotifFrames(13, 0x12345678, Uint8Array.of(0xab)),
    ];
    expect(frames.map((f) => f.byteLength)).toEqual([11, 240, 58, 8, 9]);
    for (const f of frames) rm.send(f);
    await settle();
    expect(notifs.map((n) => [n.msgId, toHex(n.payload, '')])).toEqual([
      [NOTIF, '010203'],
      [RmNotifId.MEM_SHARED, toHex(big, '')],
      [RmNotifId.NOTIFY_VM_EXITED, ''], // a zero-length payload is passed as nothing
      [0x12345678, 'ab'],
    ]);
  });

  test('a notification and replies interleave without disturbing each other', async () => {
    const { rm, calls, notifs } = await withPending(2);
    rm.send(reply(1, ID2));
    for (const f of rmNotifFrames(3, NOTIF, pattern(300))) rm.send(f);
    rm.send(reply(0, ID));
    await settle();
    expect(calls.map((c) => c.state)).toEqual(['resolved', 'resolved']);
    expect(notifs).toHaveLength(1);
    expect(notifs[0]!.payload.byteLength).toBe(300);
  });

  test('onVmExited decodes NOTIFY_VM_EXITED', async () => {
    const { rm, client } = setup();
    const got: VmExitedNotif[] = [];
    const off = onVmExited(client, (n) => got.push(n));
    // vmid 0x80, exit_type 2, exit_reason_size 4, reason word 0x00030001.
    const payload = Uint8Array.of(0x80, 0x00, 0x02, 0x00, 0x04, 0x00, 0x00, 0x00, 0x01, 0x00, 0x03, 0x00);
    rm.send(frame(T.NOTIF, 0, 1, RmNotifId.NOTIFY_VM_EXITED, payload));
    rm.send(frame(T.NOTIF, 0, 2, NOTIF, new Uint8Array(8))); // another ID: not for this subscriber
    await settle();
    expect(got).toHaveLength(1);
    expect(got[0]!.vmid).toBe(0x80);
    expect(got[0]!.exitType).toBe(2);
    expect(toHex(got[0]!.exitReason)).toBe('01 00 03 00');
    off();
    rm.send(frame(T.NOTIF, 0, 3, RmNotifId.NOTIFY_VM_EXITED, payload));
    await settle();
    expect(got).toHaveLength(1);
  });

  test('onVmExited decodes a 16-byte PSCI_SYSTEM_RESET2 reason', async () => {
    const { rm, client } = setup();
    const got: VmExitedNotif[] = [];
    onVmExited(client, (n) => got.push(n));
    const reason = pattern(16, 5);
    const payload = cat([Uint8Array.of(0x81, 0x00, 0x01, 0x00, 0x10, 0x00, 0x00, 0x00), reason]);
    rm.send(frame(T.NOTIF, 0, 1, RmNotifId.NOTIFY_VM_EXITED, payload));
    await settle();
    expect(got.map((n) => [n.vmid, n.exitType, toHex(n.exitReason, '')])).toEqual([[0x81, 1, toHex(reason, '')]]);
  });

  test('onVmStatus decodes NOTIFY_VM_STATUS', async () => {
    const { rm, client } = setup();
    const got: VmStatusNotif[] = [];
    onVmStatus(client, (n) => got.push(n));
    // vmid 0x81, reserved, vm_status 3, os_status 2, app_status 0x1234.
    rm.send(frame(T.NOTIF, 0, 1, NOTIF, Uint8Array.of(0x81, 0x00, 0xee, 0xee, 0x03, 0x02, 0x34, 0x12)));
    await settle();
    expect(got).toEqual([{ vmid: 0x81, vmStatus: 3, osStatus: 2, appStatus: 0x1234 }]);
  });
});

// ── giving up: timeout, abort, close ────────────────────────────────────────────────────────

describe('timeouts, cancellation and close', () => {
  function manualTimers() {
    const timers: Array<{ fn: () => void; ms: number; cancelled: boolean }> = [];
    const setTimer = (fn: () => void, ms: number) => {
      const t = { fn, ms, cancelled: false };
      timers.push(t);
      return () => {
        t.cancelled = true;
      };
    };
    return { timers, setTimer };
  }

  test('timeout → ETIMEDOUT, and the late reply is then dropped', async () => {
    const { timers, setTimer } = manualTimers();
    const { rm, client } = setup({ setTimer });
    const c = track(client.call(ID, new Uint8Array(4), { timeoutMs: 250 }));
    await settle();
    takeRequest(rm);
    expect(timers.map((t) => t.ms)).toEqual([250]);
    timers[0]!.fn();
    await settle();
    expectErrno(c, 'ETIMEDOUT');
    expect(client.outstanding).toBe(0);
    const dropped: string[] = [];
    client.events.on('dropped', (r) => dropped.push(r));
    rm.send(reply(0, ID, 0, Uint8Array.of(1)));
    await settle();
    expect(c.error).toBeInstanceOf(ErrnoError);
    expect(dropped).toHaveLength(1);
    // The client still works.
    const d = track(client.call(ID));
    await settle();
    expect(takeRequest(rm).seq).toBe(1);
    rm.send(reply(1, ID));
    await settle();
    expect(d.state).toBe('resolved');
  });

  test('the client-wide default timeout applies; a reply in time cancels the timer', async () => {
    const { timers, setTimer } = manualTimers();
    const { rm, client } = setup({ setTimer, timeoutMs: 1000 });
    const c = track(client.call(ID));
    await settle();
    takeRequest(rm);
    expect(timers.map((t) => t.ms)).toEqual([1000]);
    rm.send(reply(0, ID));
    await settle();
    expect(c.state).toBe('resolved');
    expect(timers[0]!.cancelled).toBe(true);
  });

  test('timeout while the reply is half reassembled: the rest of it is dropped', async () => {
    const { timers, setTimer } = manualTimers();
    const { rm, client } = setup({ setTimer });
    const c = track(client.call(ID, new Uint8Array(0), { timeoutMs: 5 }));
    await settle();
    takeRequest(rm);
    rm.send(frame(T.REPLY, 1, 0, ID, replyBody(0, pattern(228))));
    await settle();
    timers[0]!.fn();
    rm.send(frame(T.CONT, 1, 0, ID, pattern(5)));
    await settle();
    expectErrno(c, 'ETIMEDOUT');
  });

  test('AbortSignal → ECANCELED, and the late reply is dropped', async () => {
    const { rm, client } = setup();
    const ac = new AbortController();
    const c = track(client.call(ID, new Uint8Array(0), { signal: ac.signal }));
    await settle();
    takeRequest(rm);
    ac.abort();
    await settle();
    expectErrno(c, 'ECANCELED');
    expect(client.outstanding).toBe(0);
    rm.send(reply(0, ID, 0, Uint8Array.of(1)));
    await settle();
    expectErrno(c, 'ECANCELED');
  });

  test('an already-aborted signal → ECANCELED', async () => {
    const { client } = setup();
    const c = track(client.call(ID, new Uint8Array(0), { signal: AbortSignal.abort() }));
    await settle();
    expectErrno(c, 'ECANCELED');
    expect(client.outstanding).toBe(0);
  });

  test('close() fails pending calls with ENODEV, later calls too, and stops receiving', async () => {
    const { rm, client, notifs, calls } = await withPending(2);
    client.close();
    await settle();
    expectErrno(calls[0]!, 'ENODEV');
    expectErrno(calls[1]!, 'ENODEV');
    const late = track(client.call(ID));
    await settle();
    expectErrno(late, 'ENODEV');
    rm.send(frame(T.NOTIF, 0, 1, NOTIF, new Uint8Array(8)));
    await settle();
    expect(notifs).toHaveLength(0);
    client.close(); // idempotent
  });
});

// ── §18 typed calls ─────────────────────────────────────────────────────────────────────────

describe('RmCalls reply validation (rm-rpc.md §12.4, §18)', () => {
  async function answered(run: (rm: RmCalls) => Promise<unknown>, data: Uint8Array) {
    const { rm, client } = setup();
    const c = track(run(new RmCalls(client)));
    await settle();
    const req = drainNow(rm);
    expect(req).toHaveLength(1);
    const h = hdr(req[0]!);
    rm.send(reply(h.seq, h.msgId, 0, data));
    await settle();
    return { c, req: req[0]! };
  }

  /** One 44-byte entry, laid out by hand from hypervisor.md §9.1. */
  function entry(type: number, label: number, capId: bigint, virq: number): Uint8Array {
    const b = new Uint8Array(44);
    const v = view(b);
    v.setUint8(0, type);
    v.setUint16(2, 0x80, true);
    v.setUint32(4, 0, true);
    v.setUint32(8, label, true);
    v.setBigUint64(12, capId, true);
    v.setUint32(20, 0, true);
    v.setUint32(24, virq, true);
    v.setBigUint64(28, 0x1_0000_0000n, true);
    v.setBigUint64(36, 0x2000n, true);
    return b;
  }
  function resources(n: number, entries: readonly Uint8Array[]): Uint8Array {
    const head = new Uint8Array(4);
    view(head).setUint32(0, n, true);
    return cat([head, ...entries]);
  }

  test('getHypResources sends VM_GET_HYP_RESOURCES with the vmid and decodes 4 + 44n', async () => {
    const { c, req } = await answered(
      (rm) => rm.getHypResources(0x80),
      resources(2, [entry(4, 0, 0x1234n, 960), entry(0, 7, 0xffff_0000_0001n, 0)]),
    );
    expect(toHex(req)).toBe('21 01 00 00 20 00 00 56 80 00 00 00');
    expect(c.state).toBe('resolved');
    expect(c.value).toEqual([
      { type: 4, partnerVmid: 0x80, resourceHandle: 0, resourceLabel: 0, capId: 0x1234n, virqHandle: 0, virq: 960, base: 0x1_0000_0000n, size: 0x2000n },
      { type: 0, partnerVmid: 0x80, resourceHandle: 0, resourceLabel: 7, capId: 0xffff_0000_0001n, virqHandle: 0, virq: 0, base: 0x1_0000_0000n, size: 0x2000n },
    ]);
  });

  test('getHypResources with n = 0 and exactly 4 bytes → no entries', async () => {
    const { c } = await answered((rm) => rm.getHypResources(0x80), resources(0, []));
    expect(c.value).toEqual([]);
  });

  test.each([
    ['an empty reply', new Uint8Array(0)],
    ['3 bytes', new Uint8Array(3)],
    ['5 bytes (n = 0 plus one)', new Uint8Array(5)],
    ['4 + 43 bytes for n = 1', resources(1, [new Uint8Array(43)])],
    ['4 + 45 bytes for n = 1', resources(1, [new Uint8Array(45)])],
    ['n = 2 with one entry', resources(2, [new Uint8Array(44)])],
    ['n = 1 with two entries', resources(1, [new Uint8Array(44), new Uint8Array(44)])],
    ['n = 0 with one entry', resources(0, [new Uint8Array(44)])],
  ])('getHypResources: %s → EBADMSG', async (_what, data) => {
    const { c } = await answered((rm) => rm.getHypResources(0x80), data);
    expectErrno(c, 'EBADMSG');
  });

  test('allocVmid(0) sends VM_ALLOC_VMID with vmid 0 and reads the u16 VMID', async () => {
    const { c, req } = await answered((rm) => rm.allocVmid(), Uint8Array.of(0x80, 0x00, 0x00, 0x00));
    expect(toHex(req)).toBe('21 01 00 00 01 00 00 56 00 00 00 00');
    expect(c.value).toBe(0x80);
  });

  test.each([
    ['2 bytes', Uint8Array.of(0x81, 0x00), 0x81],
    ['8 bytes', Uint8Array.of(0x82, 0x00, 0x00, 0x00, 0xde, 0xad, 0xbe, 0xef), 0x82],
    ['high bits set', Uint8Array.of(0x83, 0x00, 0x34, 0x12), 0x83],
  ])('allocVmid reads the VMID without a size check (%s)', async (_what, data, vmid) => {
    const { c } = await answered((rm) => rm.allocVmid(), data);
    expect(c.state).toBe('resolved');
    expect(c.value).toBe(vmid);
  });

  test('allocVmid with an empty OK reply does not fail', async () => {
    const { c } = await answered((rm) => rm.allocVmid(), new Uint8Array(0));
    expect(c.state).toBe('resolved');
    expect(typeof c.value).toBe('number');
  });

  test('allocVmid with a requested VMID expects no data and returns it', async () => {
    const { c, req } = await answered((rm) => rm.allocVmid(0x45), new Uint8Array(0));
    expect(toHex(req)).toBe('21 01 00 00 01 00 00 56 45 00 00 00');
    expect(c.value).toBe(0x45);
  });
});
