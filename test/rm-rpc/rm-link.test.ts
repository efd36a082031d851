// The RM's end of one VM's RPC link (src/rm-rpc/server/link.ts), driven directly: the test plays
// the VM on the other end of an in-memory message-queue pair. Expected behaviour is taken from
// the fact sheet: rm-rpc.md §8.1 (what the real RM does with malformed, stray and fragmented
// input), §4–§5 (the RM's fragmentation: ceil(len / 232) − 1 continuations, never PUSH, resume
// from the same fragment after FULL, 63 × 232 bytes at most) and §9 (output buffering).
import { describe, expect, test, vi } from 'vitest';
import { createMsgqPair } from '../../src/msgq/endpoint.js';
import { HypError } from '../../src/shared/hyp-errors.js';
import { silentLogger } from '../../src/shared/log.js';
import { toHex, view } from '../../src/shared/bytes.js';
import { RmLink, type LinkDropReason } from '../../src/rm-rpc/server/link.js';
import type { RpcNotification, RpcReply, RpcRequest } from '../../src/rm-rpc/wire/message.js';
import { RmMsgId, RmNotifId } from '../../src/rm-rpc/wire/msg-ids.js';
import { FRAG, T, cat, drainNow, frame, hdr, pattern, replyBody, rmNotifFrames, rmReplyFrames } from '../support/rm-frames.js';

const ID = RmMsgId.VM_GET_STATE; // 0x56000017
const ID2 = RmMsgId.VM_START; // 0x56000004
const NOTIF = RmNotifId.NOTIFY_VM_STATUS;
const HLOS = 3;

/** An RmLink on one end of a fresh pair; the test plays the VM on `vm`. */
function setup() {
  const [rmEp, vm] = createMsgqPair();
  const requests: RpcRequest[] = [];
  const drops: Array<{ reason: LinkDropReason; detail: string }> = [];
  const sendSpy = vi.spyOn(rmEp, 'send');
  const link = new RmLink(
    HLOS,
    rmEp,
    {
      onRequest: (r) => requests.push(r),
      onDrop: (reason, detail) => drops.push({ reason, detail }),
    },
    silentLogger(),
    undefined,
  );
  return { rmEp, vm, link, requests, drops, sendSpy, reasons: () => drops.map((d) => d.reason) };
}

function rep(seq: number, data: Uint8Array, msgId: number = ID, errCode = 0): RpcReply {
  return { kind: 'reply', seq, msgId, errCode, payload: data };
}
function notif(seq: number, payload: Uint8Array, msgId: number = NOTIF): RpcNotification {
  return { kind: 'notification', seq, msgId, payload };
}
/** A notification whose payload is its index as a u32, to tell them apart after a drain. */
function numbered(i: number): RpcNotification {
  const p = new Uint8Array(4);
  view(p).setUint32(0, i, true);
  return notif(i & 0xffff, p);
}
const indexOf = (f: Uint8Array): number => view(f).getUint32(8, true);

/** A request of `len` body bytes split the Linux way (all 232 except the last). */
function linuxRequest(seq: number, msgId: number, body: Uint8Array): Uint8Array[] {
  const n = body.byteLength === 0 ? 1 : Math.ceil(body.byteLength / FRAG);
  return Array.from({ length: n }, (_, i) =>
    frame(i === 0 ? T.REQ : T.CONT, n - 1, seq, msgId, body.subarray(i * FRAG, (i + 1) * FRAG)),
  );
}

/**
 * Split received frames into whole messages by their headers (a first frame then its
 * `fragments` continuations) and return each message's type, header and body.
 */
function messages(frames: readonly Uint8Array[]) {
  const out: Array<{ type: number; seq: number; msgId: number; fragments: number; body: Uint8Array }> = [];
  for (let i = 0; i < frames.length; ) {
    const h = hdr(frames[i]!);
    expect(h.type).not.toBe(T.CONT);
    const parts = frames.slice(i, i + h.fragments + 1);
    expect(parts).toHaveLength(h.fragments + 1);
    for (const p of parts.slice(1)) {
      const c = hdr(p);
      expect([c.type, c.fragments, c.seq, c.msgId]).toEqual([T.CONT, h.fragments, h.seq, h.msgId]);
    }
    out.push({ type: h.type, seq: h.seq, msgId: h.msgId, fragments: h.fragments, body: cat(parts.map((p) => p.subarray(8))) });
    i += parts.length;
  }
  return out;
}

// ── §8.1 receive ────────────────────────────────────────────────────────────────────────────

describe('request reception (rm-rpc.md §8.1)', () => {
  test('a single-frame request is dispatched with its seq, msg_id and payload', () => {
    const { vm, requests, drops } = setup();
    vm.send(frame(T.REQ, 0, 5, ID2, Uint8Array.of(0x80, 0, 0, 0)));
    expect(requests).toEqual([{ kind: 'request', seq: 5, msgId: ID2, payload: Uint8Array.of(0x80, 0, 0, 0) }]);
    expect(drops).toEqual([]);
  });

  test.each([1, 4, 7])('a %i-byte frame is dropped (short-frame)', (len) => {
    const { vm, requests, reasons } = setup();
    vm.send(frame(T.REQ, 0, 0, ID, new Uint8Array(0)).subarray(0, len));
    expect(requests).toEqual([]);
    expect(reasons()).toEqual(['short-frame']);
    expect(vm.rxPending).toBe(false); // no reply
    vm.send(frame(T.REQ, 0, 1, ID, new Uint8Array(4)));
    expect(requests.map((r) => r.seq)).toEqual([1]);
  });

  test.each([
    ['api_version 2', 0x22],
    ['api_version 0', 0x20],
    ['header_words 1', 0x11],
    ['header_words 3', 0x31],
    ['header_words 0', 0x01],
    ['all ones', 0xff],
  ])('a bad api byte (%s) is dropped (bad-header)', (_what, api) => {
    const { vm, requests, reasons } = setup();
    vm.send(frame(T.REQ, 0, 0, ID, new Uint8Array(4), api));
    expect(requests).toEqual([]);
    expect(reasons()).toEqual(['bad-header']);
    expect(vm.rxPending).toBe(false);
  });

  test('fragments > 62 is dropped (bad-fragments), no reply', () => {
    const { vm, requests, reasons } = setup();
    vm.send(frame(T.REQ, 63, 0, ID, pattern(232)));
    expect(requests).toEqual([]);
    expect(reasons()).toEqual(['bad-fragments']);
    expect(vm.rxPending).toBe(false);
  });

  test('fragments = 62 (the largest) is accepted and reassembled', () => {
    const { vm, requests, drops } = setup();
    const body = pattern(63 * FRAG, 4);
    const frames = linuxRequest(2, ID, body);
    expect(hdr(frames[0]!).fragments).toBe(62);
    for (const f of frames) vm.send(f);
    expect(drops).toEqual([]);
    expect(requests).toHaveLength(1);
    expect(toHex(requests[0]!.payload, '')).toBe(toHex(body, ''));
  });

  test('a REPLY sent to the RM is dropped', () => {
    const { vm, requests, reasons } = setup();
    vm.send(frame(T.REPLY, 0, 0, ID, replyBody(0, Uint8Array.of(1))));
    expect(requests).toEqual([]);
    expect(reasons()).toEqual(['reply-to-rm']);
    expect(vm.rxPending).toBe(false);
  });

  test('a NOTIFICATION sent to the RM by a VM is dropped, no reply', () => {
    const { vm, requests, reasons } = setup();
    vm.send(frame(T.NOTIF, 0, 0, NOTIF, new Uint8Array(8)));
    expect(requests).toEqual([]);
    expect(reasons()).toEqual(['notification-to-rm']);
    expect(vm.rxPending).toBe(false);
  });

  test('a zero-length request is dispatched with an empty buffer', () => {
    const { vm, requests } = setup();
    vm.send(frame(T.REQ, 0, 9, RmMsgId.VM_GET_VMID));
    expect(requests).toHaveLength(1);
    expect(requests[0]!.payload.byteLength).toBe(0);
    expect(requests[0]!.msgId).toBe(RmMsgId.VM_GET_VMID);
  });

  test('a multi-fragment request is reassembled and dispatched on its last frame', () => {
    const { vm, requests, drops } = setup();
    const body = pattern(2 * FRAG + 36, 7);
    const frames = linuxRequest(4, ID, body);
    expect(frames.map((f) => f.byteLength)).toEqual([240, 240, 44]);
    vm.send(frames[0]!);
    vm.send(frames[1]!);
    expect(requests).toEqual([]);
    vm.send(frames[2]!, true);
    expect(requests).toHaveLength(1);
    expect(requests[0]!.seq).toBe(4);
    expect(requests[0]!.msgId).toBe(ID);
    expect(toHex(requests[0]!.payload, '')).toBe(toHex(body, ''));
    expect(drops).toEqual([]);
  });

  test.each([
    ['msg_id', { seq: 4, msgId: ID2, fragments: 2 }],
    ['seq', { seq: 5, msgId: ID, fragments: 2 }],
    ['fragments', { seq: 4, msgId: ID, fragments: 3 }],
  ])('a continuation with a different %s is dropped; the partial is kept and later completed', (_what, bad) => {
    const { vm, requests, reasons } = setup();
    const body = pattern(2 * FRAG + 10, 3);
    const frames = linuxRequest(4, ID, body);
    vm.send(frames[0]!);
    vm.send(frame(T.CONT, bad.fragments, bad.seq, bad.msgId, pattern(FRAG, 99)));
    expect(reasons()).toEqual(['mismatched-continuation']);
    expect(requests).toEqual([]);
    vm.send(frames[1]!);
    vm.send(frame(T.CONT, bad.fragments, bad.seq, bad.msgId, pattern(5, 98)));
    vm.send(frames[2]!);
    expect(requests).toHaveLength(1);
    expect(requests[0]!.seq).toBe(4);
    expect(toHex(requests[0]!.payload, '')).toBe(toHex(body, ''));
  });

  test.each([
    ['REQUEST', frame(T.REQ, 0, 7, ID2, Uint8Array.of(1, 0, 0, 0)), 1],
    ['REPLY', frame(T.REPLY, 0, 7, ID2, replyBody(0)), 0],
    ['NOTIFICATION', frame(T.NOTIF, 0, 7, NOTIF, new Uint8Array(8)), 0],
  ])('a new %s discards a partial request', (_what, next, dispatched) => {
    const { vm, requests, reasons } = setup();
    const old = linuxRequest(4, ID, pattern(FRAG + 20));
    vm.send(old[0]!);
    vm.send(next);
    expect(reasons()).toContain('partial-discarded');
    expect(requests).toHaveLength(dispatched);
    // The old message's continuation now has nothing in progress.
    vm.send(old[1]!);
    expect(requests).toHaveLength(dispatched);
    expect(reasons().at(-1)).toBe('stray-continuation');
  });

  test('a multi-fragment request restarts cleanly after a discarded partial', () => {
    const { vm, requests } = setup();
    const a = linuxRequest(1, ID, pattern(FRAG + 5, 1));
    const body = pattern(FRAG + 6, 2);
    const b = linuxRequest(2, ID, body);
    vm.send(a[0]!);
    vm.send(b[0]!);
    vm.send(b[1]!);
    expect(requests.map((r) => [r.seq, toHex(r.payload, '')])).toEqual([[2, toHex(body, '')]]);
  });

  test('a continuation with nothing in progress is dropped', () => {
    const { vm, requests, reasons } = setup();
    vm.send(frame(T.CONT, 0, 0, ID, pattern(10)));
    vm.send(frame(T.CONT, 1, 0, ID, pattern(10)));
    expect(requests).toEqual([]);
    expect(reasons()).toEqual(['stray-continuation', 'stray-continuation']);
  });

  test('a continuation after the message completed is dropped', () => {
    const { vm, requests, reasons } = setup();
    const frames = linuxRequest(1, ID, pattern(FRAG + 1));
    for (const f of frames) vm.send(f);
    vm.send(frames[1]!);
    expect(requests).toHaveLength(1);
    expect(reasons()).toEqual(['stray-continuation']);
  });

  test('continuation sizes need not be 232: payloads are appended back to back', () => {
    const { vm, requests, drops } = setup();
    const parts = [pattern(10, 1), pattern(3, 2), new Uint8Array(0), pattern(200, 3), pattern(1, 4)];
    vm.send(frame(T.REQ, 4, 6, ID, parts[0]!));
    for (const p of parts.slice(1)) vm.send(frame(T.CONT, 4, 6, ID, p));
    expect(drops).toEqual([]);
    expect(requests).toHaveLength(1);
    expect(toHex(requests[0]!.payload, '')).toBe(toHex(cat(parts), ''));
  });

  test.each([
    ['a short frame', Uint8Array.of(0x21, 0x00, 0x04)],
    ['a bad api byte', frame(T.REQ, 0, 1, ID, new Uint8Array(4), 0x22)],
    ['fragments > 62', frame(T.REQ, 63, 1, ID, new Uint8Array(4))],
  ])('%s mid-reassembly is dropped without touching the partial', (_what, junk) => {
    const { vm, requests } = setup();
    const body = pattern(FRAG + 9);
    const frames = linuxRequest(3, ID, body);
    vm.send(frames[0]!);
    vm.send(junk);
    vm.send(frames[1]!);
    expect(requests.map((r) => toHex(r.payload, ''))).toEqual([toHex(body, '')]);
  });

  test('frames queued before the link attached are taken by poll()', () => {
    const [rmEp, vm] = createMsgqPair();
    vm.send(frame(T.REQ, 0, 1, ID, new Uint8Array(4)));
    vm.send(frame(T.REQ, 0, 2, ID, new Uint8Array(4)));
    const requests: RpcRequest[] = [];
    const link = new RmLink(HLOS, rmEp, { onRequest: (r) => requests.push(r) }, silentLogger(), undefined);
    link.poll();
    expect(requests.map((r) => r.seq)).toEqual([1, 2]);
  });
});

// ── §4/§5 sending ───────────────────────────────────────────────────────────────────────────

describe('RM fragmentation and flow control (rm-rpc.md §4, §5)', () => {
  test.each([
    ['a standard reply', 0, [12]],
    ['228 bytes of data (body 232)', 228, [240]],
    ['229 bytes of data (body 233)', 229, [240, 9]],
    ['500 bytes of data (body 504)', 500, [240, 240, 48]],
  ])('reply with %s → frames of %j bytes, no PUSH', (_what, len, sizes) => {
    const { vm, link, sendSpy } = setup();
    const data = pattern(len, 5);
    link.sendReply(rep(0x1234, data, ID, 0));
    const frames = drainNow(vm);
    expect(frames.map((f) => f.byteLength)).toEqual(sizes);
    const [m] = messages(frames);
    expect(m).toMatchObject({ type: T.REPLY, seq: 0x1234, msgId: ID, fragments: sizes.length - 1 });
    expect(toHex(m!.body, '')).toBe(toHex(replyBody(0, data), ''));
    expect(sendSpy.mock.calls.some((c) => c[1] === true)).toBe(false);
  });

  test('the err_code is the first u32 of the first reply frame', () => {
    const { vm, link } = setup();
    link.sendReply(rep(3, Uint8Array.of(9, 9), ID2, 0x14));
    expect(drainNow(vm).map((f) => toHex(f))).toEqual(['21 02 03 00 04 00 00 56 14 00 00 00 09 09']);
  });

  test.each([
    [0, [8]],
    [232, [240]],
    [233, [240, 9]],
  ])('notification of %i bytes → frames of %j bytes', (len, sizes) => {
    const { vm, link, sendSpy } = setup();
    const payload = pattern(len, 6);
    link.sendNotification(notif(77, payload));
    const frames = drainNow(vm);
    expect(frames.map((f) => f.byteLength)).toEqual(sizes);
    const [m] = messages(frames);
    expect(m).toMatchObject({ type: T.NOTIF, seq: 77, msgId: NOTIF });
    expect(toHex(m!.body, '')).toBe(toHex(payload, ''));
    expect(sendSpy.mock.calls.some((c) => c[1] === true)).toBe(false);
  });

  test('with the TX queue full the link resumes from the same fragment on the TX vIRQ', () => {
    const { vm, link, sendSpy } = setup();
    const data = pattern(10 * FRAG - 4, 8); // body exactly 10 × 232: 10 frames
    const expected = rmReplyFrames(1, ID, 0, data);
    expect(expected).toHaveLength(10);
    link.sendReply(rep(1, data));
    expect(vm.rx.count).toBe(8);
    // Frames 0..7 went out; frame 8 met FULL.
    expect(sendSpy.mock.results.map((r) => r.type)).toEqual([...Array<string>(8).fill('return'), 'throw']);
    const full = sendSpy.mock.results[8]!.value as HypError;
    expect(full).toBeInstanceOf(HypError);
    expect(full.code).toBe('ERROR_MSGQUEUE_FULL');
    expect(link.backlog).toBe(1);

    const got: Uint8Array[] = [vm.receive().bytes]; // 8 → 7: TX vIRQ
    // The retry is the very frame that met FULL.
    expect(toHex(sendSpy.mock.calls[9]![0])).toBe(toHex(sendSpy.mock.calls[8]![0]));
    expect(toHex(sendSpy.mock.calls[9]![0])).toBe(toHex(expected[8]!));
    expect(vm.rx.count).toBe(8);
    got.push(...drainNow(vm));
    expect(got.map((f) => toHex(f, ''))).toEqual(expected.map((f) => toHex(f, '')));
    expect(link.backlog).toBe(0);
    expect(sendSpy.mock.calls.some((c) => c[1] === true)).toBe(false);
  });

  test('a body of exactly 63 × 232 bytes is sent (62 continuations)', () => {
    const { vm, link, drops } = setup();
    const data = pattern(63 * FRAG - 4, 2);
    link.sendReply(rep(1, data));
    const frames = drainNow(vm);
    expect(frames).toHaveLength(63);
    const [m] = messages(frames);
    expect(m!.fragments).toBe(62);
    expect(toHex(m!.body, '')).toBe(toHex(replyBody(0, data), ''));
    expect(drops).toEqual([]);
  });

  test('a reply body over 63 × 232 bytes is never sent; the link carries on', () => {
    const { vm, link, reasons, sendSpy } = setup();
    link.sendReply(rep(1, new Uint8Array(63 * FRAG - 4 + 1)));
    expect(sendSpy).not.toHaveBeenCalled();
    expect(vm.rxPending).toBe(false);
    expect(reasons()).toEqual(['too-big']);
    link.sendReply(rep(2, Uint8Array.of(1)));
    expect(messages(drainNow(vm)).map((m) => m.seq)).toEqual([2]);
  });

  test('a notification over 63 × 232 bytes is never sent', () => {
    const { vm, link, reasons } = setup();
    link.sendNotification(notif(1, new Uint8Array(63 * FRAG + 1)));
    expect(vm.rxPending).toBe(false);
    expect(reasons()).toEqual(['too-big']);
    link.sendNotification(notif(2, new Uint8Array(63 * FRAG)));
    expect(messages(drainNow(vm)).map((m) => [m.seq, m.fragments])).toEqual([[2, 62]]);
  });

  test('a too-big reply waiting behind another message is dropped when its turn comes', () => {
    const { vm, link, reasons } = setup();
    link.sendReply(rep(1, pattern(10 * FRAG - 4))); // stuck: 10 frames into a depth-8 queue
    link.sendReply(rep(2, new Uint8Array(63 * FRAG)));
    link.sendNotification(notif(3, Uint8Array.of(1)));
    const ms = messages(drainNow(vm));
    expect(ms.map((m) => m.seq)).toEqual([1, 3]);
    expect(reasons()).toEqual(['too-big']);
  });
});

// ── §9 output buffering ─────────────────────────────────────────────────────────────────────

describe('RM output buffering (rm-rpc.md §9)', () => {
  /** Put a 10-frame reply in flight: 8 frames fill the VM's queue, 2 wait. */
  function stuck(link: RmLink, seq = 100): RpcReply {
    const r = rep(seq, pattern(10 * FRAG - 4, seq & 0xff));
    link.sendReply(r);
    return r;
  }

  test('a second reply while the first cannot be sent replaces it', () => {
    const { vm, link, drops } = setup();
    stuck(link, 100);
    link.sendReply(rep(1, Uint8Array.of(1), ID));
    expect(drops).toEqual([]);
    link.sendReply(rep(2, Uint8Array.of(2), ID2));
    expect(drops.map((d) => d.reason)).toEqual(['reply-overwritten']);
    const ms = messages(drainNow(vm));
    expect(ms.map((m) => [m.type, m.seq])).toEqual([
      [T.REPLY, 100],
      [T.REPLY, 2],
    ]);
    expect(toHex(ms[1]!.body)).toBe('00 00 00 00 02');
  });

  test('a reply whose first frame met FULL stays in flight and is resumed; the next one waits', () => {
    const { vm, link, drops } = setup();
    for (let i = 0; i < 8; i++) link.sendNotification(numbered(i)); // fill the queue
    link.sendReply(rep(1, Uint8Array.of(1)));
    link.sendReply(rep(2, Uint8Array.of(2)));
    expect(drops).toEqual([]);
    const ms = messages(drainNow(vm));
    expect(ms.map((m) => [m.type, m.seq])).toEqual([
      ...Array.from({ length: 8 }, (_, i) => [T.NOTIF, i]),
      [T.REPLY, 1],
      [T.REPLY, 2],
    ]);
  });

  test('replies go straight out while the queue has room', () => {
    const { vm, link, drops } = setup();
    for (let i = 0; i < 5; i++) link.sendReply(rep(i, Uint8Array.of(i)));
    expect(drops).toEqual([]);
    expect(messages(drainNow(vm)).map((m) => m.seq)).toEqual([0, 1, 2, 3, 4]);
  });

  test('up to 256 notifications wait; beyond that the oldest pending one is dropped', () => {
    const { vm, link, drops } = setup();
    for (let i = 0; i < 8; i++) link.sendNotification(numbered(i)); // in the queue
    link.sendNotification(numbered(8)); // in flight (met FULL)
    for (let i = 9; i < 9 + 256; i++) link.sendNotification(numbered(i)); // 256 pending
    expect(drops).toEqual([]);
    link.sendNotification(numbered(265)); // the oldest pending one, #9, goes
    expect(drops.map((d) => d.reason)).toEqual(['notification-overflow']);
    link.sendNotification(numbered(266)); // then #10
    expect(drops.map((d) => d.reason)).toEqual(['notification-overflow', 'notification-overflow']);
    const got = drainNow(vm).map(indexOf);
    const want = [...Array.from({ length: 9 }, (_, i) => i), ...Array.from({ length: 256 }, (_, i) => 11 + i)];
    expect(got).toEqual(want);
  });

  test('on TX ready the pending reply goes before the pending notifications', () => {
    const { vm, link, drops } = setup();
    stuck(link, 100);
    link.sendNotification(numbered(1));
    link.sendNotification(numbered(2));
    link.sendReply(rep(7, Uint8Array.of(7)));
    link.sendNotification(numbered(3));
    expect(drops).toEqual([]);
    const ms = messages(drainNow(vm));
    expect(ms.map((m) => [m.type, m.seq])).toEqual([
      [T.REPLY, 100],
      [T.REPLY, 7],
      [T.NOTIF, 1],
      [T.NOTIF, 2],
      [T.NOTIF, 3],
    ]);
  });

  test('a buffered fragmented notification goes out whole, in order, after the reply', () => {
    const { vm, link } = setup();
    stuck(link, 100);
    const big = pattern(3 * FRAG + 1, 4);
    link.sendNotification(notif(50, big));
    link.sendReply(rep(8, pattern(300)));
    const frames = drainNow(vm);
    const ms = messages(frames);
    expect(ms.map((m) => [m.type, m.seq, m.fragments])).toEqual([
      [T.REPLY, 100, 9],
      [T.REPLY, 8, 1],
      [T.NOTIF, 50, 3],
    ]);
    expect(toHex(ms[2]!.body, '')).toBe(toHex(big, ''));
    expect(frames.slice(-4).map((f) => toHex(f, ''))).toEqual(rmNotifFrames(50, NOTIF, big).map((f) => toHex(f, '')));
  });

  test('close() discards buffered output and stops receiving', () => {
    const { vm, link, requests } = setup();
    stuck(link, 100);
    link.sendReply(rep(1, Uint8Array.of(1)));
    link.sendNotification(numbered(1));
    link.close();
    expect(link.closed).toBe(true);
    expect(link.backlog).toBe(0);
    expect(drainNow(vm)).toHaveLength(8); // what was already in the queue
    vm.send(frame(T.REQ, 0, 1, ID, new Uint8Array(4)));
    expect(requests).toEqual([]);
  });
});
