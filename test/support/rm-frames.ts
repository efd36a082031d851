/**
 * Test helpers for driving one end of an RM RPC link by hand: raw frames built from the wire
 * layout of rm-rpc.md §2 (header) and §4–§5 (fragment sizes), a way to let the code under test
 * run, a promise tracker, and queue draining for the side the test plays.
 *
 * Frames are built here byte by byte rather than with the library's fragmenter where a test needs
 * control over sizes, types or header fields (malformed input, odd continuations).
 */
import type { MsgqEndpoint } from '../../src/msgq/endpoint.js';
import { view } from '../../src/shared/bytes.js';

/** Message types (rm-rpc.md §3). */
export const T = { CONT: 0, REQ: 1, REPLY: 2, NOTIF: 3 } as const;

/** Payload bytes per fragment and the reply's first-fragment data room (rm-rpc.md §4). */
export const FRAG = 232;
export const FIRST_REPLY_DATA = 228;

/** Let microtasks and one macrotask turn run, `n` times. */
export async function settle(n = 3): Promise<void> {
  for (let i = 0; i < n; i++) await new Promise<void>((r) => setImmediate(r));
}

/** What a promise did, readable synchronously. */
export interface Tracked<T> {
  state: 'pending' | 'resolved' | 'rejected';
  value?: T;
  error?: unknown;
}

/** Observe a promise without leaving a rejection unhandled. */
export function track<T>(p: Promise<T>): Tracked<T> {
  const t: Tracked<T> = { state: 'pending' };
  p.then(
    (v) => {
      t.state = 'resolved';
      t.value = v;
    },
    (e: unknown) => {
      t.state = 'rejected';
      t.error = e;
    },
  );
  return t;
}

/**
 * One raw frame: the 8-byte header (byte 0 = 0x21 unless `api` is given) then `body`.
 * For a first reply fragment `body` must start with the u32 err_code (see `replyBody`).
 */
export function frame(
  type: number,
  fragments: number,
  seq: number,
  msgId: number,
  body: Uint8Array = new Uint8Array(0),
  api = 0x21,
): Uint8Array {
  const out = new Uint8Array(8 + body.byteLength);
  const v = view(out);
  out[0] = api;
  out[1] = ((fragments & 0x3f) << 2) | (type & 0x3);
  v.setUint16(2, seq, true);
  v.setUint32(4, msgId >>> 0, true);
  out.set(body, 8);
  return out;
}

/** err_code (u32 LE) followed by data: the body of a reply (rm-rpc.md §2, §10). */
export function replyBody(err: number, data: Uint8Array = new Uint8Array(0)): Uint8Array {
  const out = new Uint8Array(4 + data.byteLength);
  view(out).setUint32(0, err >>> 0, true);
  out.set(data, 4);
  return out;
}

/** A single-frame reply. */
export function reply(seq: number, msgId: number, err = 0, data: Uint8Array = new Uint8Array(0)): Uint8Array {
  return frame(T.REPLY, 0, seq, msgId, replyBody(err, data));
}

/**
 * A reply split the RM's way (rm-rpc.md §5): the body (err_code + data) in 232-byte pieces,
 * ceil(len / 232) − 1 continuations, the first frame typed REPLY, the rest CONTINUATION.
 */
export function rmReplyFrames(seq: number, msgId: number, err: number, data: Uint8Array): Uint8Array[] {
  return splitBody(T.REPLY, seq, msgId, replyBody(err, data));
}

/** A notification split the RM's way. */
export function rmNotifFrames(seq: number, msgId: number, payload: Uint8Array): Uint8Array[] {
  return splitBody(T.NOTIF, seq, msgId, payload);
}

function splitBody(type: number, seq: number, msgId: number, body: Uint8Array): Uint8Array[] {
  const n = body.byteLength === 0 ? 1 : Math.ceil(body.byteLength / FRAG);
  const out: Uint8Array[] = [];
  for (let i = 0; i < n; i++) {
    out.push(frame(i === 0 ? type : T.CONT, n - 1, seq, msgId, body.subarray(i * FRAG, (i + 1) * FRAG)));
  }
  return out;
}

/** The header fields of a frame, read by hand (rm-rpc.md §2). */
export interface Hdr {
  readonly api: number;
  readonly type: number;
  readonly fragments: number;
  readonly seq: number;
  readonly msgId: number;
}
export function hdr(b: Uint8Array): Hdr {
  const v = view(b);
  return { api: b[0]!, type: b[1]! & 3, fragments: b[1]! >>> 2, seq: v.getUint16(2, true), msgId: v.getUint32(4, true) };
}

/** Deterministic filler bytes (never all-zero, so misplaced bytes show). */
export function pattern(len: number, seed = 1): Uint8Array {
  const out = new Uint8Array(len);
  for (let i = 0; i < len; i++) out[i] = (i * 7 + seed * 13 + 1) & 0xff;
  return out;
}

/** Concatenate byte arrays. */
export function cat(parts: readonly Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.byteLength, 0));
  let off = 0;
  for (const p of parts) {
    out.set(p, off);
    off += p.byteLength;
  }
  return out;
}

/** Receive everything queued at `ep` right now (including what arrives while draining). */
export function drainNow(ep: MsgqEndpoint): Uint8Array[] {
  const out: Uint8Array[] = [];
  while (ep.rxPending) out.push(ep.receive().bytes);
  return out;
}

/**
 * Receive one whole message at `ep` (first frame + its `fragments` continuations), letting the
 * sender run whenever the queue is empty. Throws if the sender stalls.
 */
export async function receiveMessage(ep: MsgqEndpoint, maxIdle = 50): Promise<Uint8Array[]> {
  const out: Uint8Array[] = [];
  let idle = 0;
  for (;;) {
    if (ep.rxPending) {
      idle = 0;
      out.push(ep.receive().bytes);
      if (out.length === hdr(out[0]!).fragments + 1) return out;
    } else {
      if (++idle > maxIdle) throw new Error(`sender stalled after ${out.length} frames`);
      await settle(1);
    }
  }
}

/** Send frames at `ep`, waiting for room whenever the queue is full. */
export async function sendAll(ep: MsgqEndpoint, frames: readonly Uint8Array[], maxIdle = 50): Promise<void> {
  for (const f of frames) {
    let idle = 0;
    while (!ep.txReady) {
      if (++idle > maxIdle) throw new Error('receiver stalled');
      await settle(1);
    }
    ep.send(f);
  }
}
