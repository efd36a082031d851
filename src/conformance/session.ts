/**
 * One VM's conversation with the RM under test, as the conformance suite drives it: sends
 * requests (whole, or frame by frame for the framing cases), reassembles whatever the RM sends
 * back, matches replies by seq and msg_id, and keeps notifications aside until a case asks
 * for them.
 *
 * Reference: rm-rpc.md §2–§5 (header, types, limits, fragmentation), §6 (seq and matching),
 * §7 (notification seqs are not ours), §8.1 (what the RM drops). The reassembly here is a
 * strict checker of the RM's output: every frame must carry 0x21, continuations must repeat
 * seq / msg_id / fragments, every frame but the last must be full (240 bytes), and nothing
 * may arrive that the RM never sends (requests, stray continuations).
 *
 *   RM → us:   [REPLY|NOTIF fragments=n] [CONT] … [CONT]     (n continuations)
 *              └── one RmMessage ─────────────────────────┘
 *
 * "No reply" is proven without sleeping: the RM handles requests strictly in order (§5), so
 * after a frame that must be dropped we send a probe (VM_GET_VMID, its own seq) and require
 * that the next reply is the probe's.
 */
import { setTimeout as delay } from 'node:timers/promises';
import { WireError } from '../shared/wire-error.js';
import { HypError } from '../shared/hyp-errors.js';
import { view } from '../shared/bytes.js';
import {
  RPC_HDR_SIZE,
  RPC_MAX_FRAME,
  RpcMsgType,
  decodeRpcFrame,
  type RpcFrame,
} from '../rm-rpc/wire/header.js';
import { MAX_RX_FRAGMENTS, fragmentMessage } from '../rm-rpc/wire/message.js';
import { RmMsgId } from '../rm-rpc/wire/msg-ids.js';
import type { RawRmChannel } from './target.js';
import { CaseFailure, check, errLabel, errValue, fail, hexPreview, hx, msgLabel, type ErrSpec } from './assert.js';
import { EMPTY } from './payloads.js';

/** A whole reply from the RM. `data` excludes the leading u32 err_code. */
export interface RmReply {
  readonly kind: 'reply';
  readonly seq: number;
  readonly msgId: number;
  readonly errCode: number;
  readonly data: Uint8Array;
  /** The raw message-queue frames it came in, in order. */
  readonly frames: readonly Uint8Array[];
}

/** A whole notification from the RM. */
export interface RmNotification {
  readonly kind: 'notification';
  readonly seq: number;
  readonly msgId: number;
  readonly data: Uint8Array;
  readonly frames: readonly Uint8Array[];
}

export type RmMessage = RmReply | RmNotification;

/** Which frames of a request carry PUSH. Linux pushes the last only; the RM must not care (§5). */
export type PushMode = 'last' | 'all' | 'none';

export interface RmSessionOptions {
  /** Name used in failure reasons, e.g. "HLOS" or "VM 0x80". */
  readonly label: string;
  /** The VMID this link belongs to (what VM_GET_VMID must answer). */
  readonly vmid: number;
  /** First seq this session uses; the runner spreads sessions apart so stale replies never match. */
  readonly firstSeq: number;
  /** How long to wait for a reply or a notification (ms). Default 4000. */
  readonly waitMs?: number;
}

/** How long a send may keep retrying on ERROR_MSGQUEUE_FULL before the case fails. */
const SEND_RETRY_MS = 10_000;

function isQueueFull(e: unknown): boolean {
  if (e instanceof HypError) return e.code === 'ERROR_MSGQUEUE_FULL';
  // A socket adapter may rebuild the error without the class; accept the code alone.
  return typeof e === 'object' && e !== null && (e as { code?: unknown }).code === 'ERROR_MSGQUEUE_FULL';
}

/** See the file comment. One instance per RM link; not safe for concurrent use. */
export class RmSession {
  readonly label: string;
  readonly vmid: number;
  /** Notifications received while waiting for something else, oldest first, not yet taken. */
  readonly pending: RmNotification[] = [];
  /** Every notification received since the last sync, in arrival order (for ordering checks). */
  readonly received: RmNotification[] = [];
  readonly #ch: RawRmChannel;
  readonly #waitMs: number;
  #seq: number;
  #closed = false;

  constructor(ch: RawRmChannel, opts: RmSessionOptions) {
    this.#ch = ch;
    this.label = opts.label;
    this.vmid = opts.vmid;
    this.#seq = opts.firstSeq & 0xffff;
    this.#waitMs = opts.waitMs ?? 4000;
  }

  /** A fresh seq (cyclic over 0..0xFFFF). */
  nextSeq(): number {
    const s = this.#seq;
    this.#seq = (this.#seq + 1) & 0xffff;
    return s;
  }

  /** Send one raw frame, retrying while the queue is full (the RM drains it as it reads). */
  async sendFrame(frame: Uint8Array, push = true): Promise<void> {
    const deadline = Date.now() + SEND_RETRY_MS;
    let backoff = 1;
    for (;;) {
      try {
        await this.#ch.send(frame, { push });
        return;
      } catch (e) {
        if (!isQueueFull(e)) {
          fail(`${this.label}: send of ${hexPreview(frame, 12)} failed: ${e instanceof Error ? e.message : String(e)}`);
        }
        if (Date.now() > deadline) fail(`${this.label}: the RM link stayed full for ${SEND_RETRY_MS} ms (the RM stopped reading)`);
        await delay(backoff);
        backoff = Math.min(backoff * 2, 20);
      }
    }
  }

  /** Send frames in order with the given PUSH policy. */
  async sendFrames(frames: readonly Uint8Array[], push: PushMode = 'last'): Promise<void> {
    for (let i = 0; i < frames.length; i++) {
      const last = i === frames.length - 1;
      await this.sendFrame(frames[i]!, push === 'all' || (push === 'last' && last));
    }
  }

  /** Fragment and send a request (RM-side limit: up to 63 × 232 bytes). Returns its seq. */
  async sendRequest(msgId: number, payload: Uint8Array = EMPTY, opts: { seq?: number; push?: PushMode } = {}): Promise<number> {
    const seq = opts.seq ?? this.nextSeq();
    const frames = fragmentMessage({ kind: 'request', seq, msgId, payload }, 'rm');
    await this.sendFrames(frames, opts.push ?? 'last');
    return seq;
  }

  /** Next frame from the RM within `ms`, checked and decoded; undefined on timeout. */
  async #recvFrame(ms: number): Promise<{ raw: Uint8Array; frame: RpcFrame } | undefined> {
    const got = await this.#ch.recv({ timeoutMs: Math.max(1, ms) });
    if (got === undefined) return undefined;
    const raw = got.bytes;
    check(raw.byteLength <= RPC_MAX_FRAME, `${this.label}: the RM sent a ${raw.byteLength}-byte frame (limit ${RPC_MAX_FRAME}): ${hexPreview(raw)}`);
    let frame: RpcFrame;
    try {
      frame = decodeRpcFrame(raw);
    } catch (e) {
      if (e instanceof WireError) fail(`${this.label}: the RM sent a malformed frame (${e.message}): ${hexPreview(raw)}`);
      throw e;
    }
    check(frame.fragments <= MAX_RX_FRAGMENTS, `${this.label}: the RM sent fragments=${frame.fragments} (> ${MAX_RX_FRAGMENTS}): ${hexPreview(raw)}`);
    return { raw, frame };
  }

  /**
   * Receive one whole message (reassembling continuations), or undefined if nothing starts
   * within `ms`. Fails the case on any output the RM must never produce.
   */
  async receive(ms = this.#waitMs): Promise<RmMessage | undefined> {
    const deadline = Date.now() + ms;
    const first = await this.#recvFrame(ms);
    if (first === undefined) return undefined;
    const { frame: f0, raw: raw0 } = first;
    if (f0.msgType === RpcMsgType.REQUEST) fail(`${this.label}: the RM sent a REQUEST frame: ${hexPreview(raw0)}`);
    if (f0.msgType === RpcMsgType.CONTINUATION) {
      fail(`${this.label}: the RM sent a continuation with no message in progress: ${hexPreview(raw0)}`);
    }
    const frames = [raw0];
    const parts = [f0.payload];
    for (let i = 0; i < f0.fragments; i++) {
      // §5: all fragments but the last are full.
      check(
        frames[frames.length - 1]!.byteLength === RPC_MAX_FRAME,
        `${this.label}: fragment ${frames.length - 1} of ${msgLabel(f0.msgId)} seq ${hx(f0.seq)} is ${frames[frames.length - 1]!.byteLength} bytes; every fragment but the last must be ${RPC_MAX_FRAME}`,
      );
      const next = await this.#recvFrame(deadline - Date.now());
      if (next === undefined) {
        fail(`${this.label}: ${msgLabel(f0.msgId)} seq ${hx(f0.seq)}: got ${i} of ${f0.fragments} continuations before the timeout`);
      }
      const c = next.frame;
      check(
        c.msgType === RpcMsgType.CONTINUATION && c.seq === f0.seq && c.msgId === f0.msgId && c.fragments === f0.fragments,
        `${this.label}: continuation ${i + 1} of ${msgLabel(f0.msgId)} seq ${hx(f0.seq)} fragments ${f0.fragments}: got ${hexPreview(next.raw, 12)}`,
      );
      frames.push(next.raw);
      parts.push(c.payload);
    }
    const total = parts.reduce((n, p) => n + p.byteLength, 0);
    const data = new Uint8Array(total);
    let off = 0;
    for (const p of parts) {
      data.set(p, off);
      off += p.byteLength;
    }
    if (f0.msgType === RpcMsgType.REPLY) {
      return { kind: 'reply', seq: f0.seq, msgId: f0.msgId, errCode: f0.errCode, data, frames };
    }
    const n: RmNotification = { kind: 'notification', seq: f0.seq, msgId: f0.msgId, data, frames };
    this.received.push(n);
    return n;
  }

  /**
   * Wait for the reply to (seq, msgId), keeping notifications aside. Any other reply first is a
   * failure: the RM answers each request exactly once, in order.
   */
  async reply(seq: number, msgId: number, what = msgLabel(msgId)): Promise<RmReply> {
    const deadline = Date.now() + this.#waitMs;
    for (;;) {
      const m = await this.receive(deadline - Date.now());
      if (m === undefined) fail(`${this.label}: no reply to ${what} seq ${hx(seq)} within ${this.#waitMs} ms`);
      if (m.kind === 'notification') {
        this.pending.push(m);
        continue;
      }
      if (m.seq !== seq || m.msgId !== msgId) {
        fail(
          `${this.label}: expected the reply to ${what} seq ${hx(seq)}, got a reply to ${msgLabel(m.msgId)} seq ${hx(m.seq)} (${errLabel(m.errCode)})`,
        );
      }
      return m;
    }
  }

  /** Send a request and wait for its reply. */
  async call(msgId: number, payload: Uint8Array = EMPTY, opts: { seq?: number; push?: PushMode } = {}): Promise<RmReply> {
    const seq = await this.sendRequest(msgId, payload, opts);
    return this.reply(seq, msgId);
  }

  /**
   * Send a request and require the given RM error. With `dataLen`, also require exactly that
   * many data bytes after err_code (0 = a standard reply). Returns the reply.
   */
  async expect(msgId: number, payload: Uint8Array, err: ErrSpec, what = '', dataLen?: number): Promise<RmReply> {
    const r = await this.call(msgId, payload);
    const label = `${this.label}: ${msgLabel(msgId)}${what ? ` ${what}` : ''} seq ${hx(r.seq)}`;
    if (r.errCode !== errValue(err)) {
      fail(`${label}: expected ${errLabel(errValue(err))}, got ${errLabel(r.errCode)}${r.data.byteLength ? `; data ${hexPreview(r.data, 16)}` : ''}`);
    }
    if (dataLen !== undefined && r.data.byteLength !== dataLen) {
      fail(`${label}: expected ${dataLen} data bytes after err_code, got ${hexPreview(r.data)}`);
    }
    return r;
  }

  /** `expect(..., 'OK')` returning the data bytes. */
  async ok(msgId: number, payload: Uint8Array = EMPTY, what = '', dataLen?: number): Promise<Uint8Array> {
    return (await this.expect(msgId, payload, 'OK', what, dataLen)).data;
  }

  /**
   * Take the first notification matching `pred`: from those already received, else wait for
   * more (up to the session's wait time). A reply arriving meanwhile is a failure.
   */
  async notification(pred: (n: RmNotification) => boolean, what: string, ms = this.#waitMs): Promise<RmNotification> {
    const i = this.pending.findIndex(pred);
    if (i >= 0) return this.pending.splice(i, 1)[0]!;
    const deadline = Date.now() + ms;
    for (;;) {
      const m = await this.receive(deadline - Date.now());
      if (m === undefined) fail(`${this.label}: no ${what} within ${ms} ms${this.#pendingSummary()}`);
      if (m.kind === 'reply') fail(`${this.label}: waiting for ${what}, got an unexpected reply to ${msgLabel(m.msgId)} seq ${hx(m.seq)}`);
      if (pred(m)) return m;
      this.pending.push(m);
    }
  }

  #pendingSummary(): string {
    if (this.pending.length === 0) return '';
    const list = this.pending.slice(-4).map((n) => `${msgLabel(n.msgId)} ${hexPreview(n.data, 12)}`);
    return `; received instead: ${list.join(', ')}`;
  }

  /** Drop pending notifications matching `pred` (so that a later wait sees only new ones). */
  discard(pred: (n: RmNotification) => boolean): void {
    for (let i = this.pending.length - 1; i >= 0; i--) if (pred(this.pending[i]!)) this.pending.splice(i, 1);
  }

  /**
   * Prove that nothing was answered since the last reply: send VM_GET_VMID with a fresh seq
   * and require that the next reply is exactly its reply (caller's VMID). `why` names what
   * must have been dropped.
   */
  async probe(why: string): Promise<void> {
    const seq = this.nextSeq();
    await this.sendRequest(RmMsgId.VM_GET_VMID, EMPTY, { seq });
    const deadline = Date.now() + this.#waitMs;
    for (;;) {
      const m = await this.receive(deadline - Date.now());
      if (m === undefined) fail(`${this.label}: no reply to the probe VM_GET_VMID seq ${hx(seq)} sent after ${why}`);
      if (m.kind === 'notification') {
        this.pending.push(m);
        continue;
      }
      if (m.seq !== seq || m.msgId !== RmMsgId.VM_GET_VMID) {
        fail(`${this.label}: ${why} must get no reply, but the RM answered ${msgLabel(m.msgId)} seq ${hx(m.seq)} (${errLabel(m.errCode)}${m.data.byteLength ? `, data ${hexPreview(m.data, 8)}` : ''}) before the probe`);
      }
      check(
        m.errCode === 0 && m.data.byteLength === 4 && view(m.data).getUint32(0, true) === this.vmid,
        `${this.label}: probe VM_GET_VMID seq ${hx(seq)}: expected OK with vmid ${hx(this.vmid)}, got ${errLabel(m.errCode)} ${hexPreview(m.data)}`,
      );
      return;
    }
  }

  /**
   * Bring the link to a known point: send a probe and throw away everything received before
   * its reply (stale replies or notifications of an earlier user of this link).
   */
  async sync(): Promise<void> {
    const seq = this.nextSeq();
    await this.sendRequest(RmMsgId.VM_GET_VMID, EMPTY, { seq });
    const deadline = Date.now() + this.#waitMs;
    for (;;) {
      let m: RmMessage | undefined;
      try {
        m = await this.receive(deadline - Date.now());
      } catch (e) {
        // Leftovers of an earlier user (e.g. the tail of a half-read fragmented message) are
        // not this case's business: skip them.
        if (e instanceof CaseFailure && Date.now() < deadline) continue;
        throw e;
      }
      if (m === undefined) fail(`${this.label}: the RM did not answer the start-of-case VM_GET_VMID seq ${hx(seq)}`);
      if (m.kind === 'reply' && m.seq === seq && m.msgId === RmMsgId.VM_GET_VMID) break;
    }
    this.pending.length = 0;
    this.received.length = 0;
  }

  /** Close the underlying channel (idempotent). */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    await this.#ch.close();
  }
}

/** Raw frame builder for malformed-input cases: an 8-byte header from its fields plus payload. */
export function rawFrame(f: {
  api?: number;
  type: number;
  fragments: number;
  seq: number;
  msgId: number;
  payload?: Uint8Array;
}): Uint8Array {
  const payload = f.payload ?? EMPTY;
  const out = new Uint8Array(RPC_HDR_SIZE + payload.byteLength);
  const v = view(out);
  v.setUint8(0, f.api ?? 0x21);
  v.setUint8(1, ((f.fragments & 0x3f) << 2) | (f.type & 0x3));
  v.setUint16(2, f.seq & 0xffff, true);
  v.setUint32(4, f.msgId >>> 0, true);
  out.set(payload, RPC_HDR_SIZE);
  return out;
}
