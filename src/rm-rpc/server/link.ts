/**
 * The RM's end of one VM's RPC link: request reassembly on receive and the output buffer on
 * send.
 *
 * Reference: rm-rpc.md §8.1 (what the real RM does with malformed, stray and fragmented
 * input), §5 (the RM's fragmentation: no PUSH, resume from the same fragment after FULL),
 * §9 (output buffering: one pending reply, up to 256 pending notifications, oldest dropped;
 * on TX ready the pending reply goes first, then the notifications).
 *
 *   receive ─▶ [partial request] ─▶ onRequest(req)       send ─▶ in flight (frames, next)
 *                                                                 ├─ pending reply (≤ 1)
 *                                                                 └─ pending notifications (≤ 256)
 */
import type { MsgqEndpoint } from '../../msgq/endpoint.js';
import { isHypError } from '../../shared/hyp-errors.js';
import type { Logger } from '../../shared/log.js';
import type { Tracer } from '../../shared/trace-events.js';
import { RPC_API_BYTE, RPC_HDR_SIZE, RPC_MAX_FRAGMENT_PAYLOAD, RpcMsgType } from '../wire/header.js';
import { MAX_RX_FRAGMENTS, fragmentMessage, type RpcMessage, type RpcRequest } from '../wire/message.js';
import { rmIdLabel } from '../wire/msg-ids.js';
import { rmFrameRecord } from '../wire/frame-trace.js';

/** Pending notifications kept per client VM (rm-rpc.md §9). */
export const RM_MAX_PENDING_NOTIFICATIONS = 256;

/** Why the RM dropped input or output (the real RM is silent; we tell the trace). */
export type LinkDropReason =
  | 'short-frame'
  | 'bad-header'
  | 'bad-fragments'
  | 'stray-continuation'
  | 'mismatched-continuation'
  | 'partial-discarded'
  | 'reply-to-rm'
  | 'notification-to-rm'
  | 'reply-overwritten'
  | 'notification-overflow'
  | 'too-big';

interface Partial {
  readonly seq: number;
  readonly msgId: number;
  readonly fragments: number;
  received: number;
  /** Reassembly buffer sized for the announced fragments; chunks are copied in. */
  readonly buf: Uint8Array;
  size: number;
}

interface InFlight {
  readonly frames: Uint8Array[];
  next: number;
}

export interface LinkHooks {
  /** A complete request arrived. */
  onRequest(req: RpcRequest): void;
  /** Something was dropped. */
  onDrop?(reason: LinkDropReason, detail: string): void;
}

export class RmLink {
  #partial: Partial | undefined;
  #inFlight: InFlight | undefined;
  #pendingReply: RpcMessage | undefined;
  readonly #pendingNotifs: RpcMessage[] = [];
  #closed = false;
  readonly #onRx = (): void => this.#drain();
  readonly #onTx = (): void => this.#pump();

  constructor(
    readonly vmid: number,
    readonly endpoint: MsgqEndpoint,
    readonly hooks: LinkHooks,
    readonly log: Logger,
    readonly trace: Tracer | undefined,
  ) {
    endpoint.events.on('rx', this.#onRx);
    endpoint.events.on('tx', this.#onTx);
  }

  /** Stop using the endpoint; buffered output is discarded. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.endpoint.events.off('rx', this.#onRx);
    this.endpoint.events.off('tx', this.#onTx);
    this.#partial = undefined;
    this.#inFlight = undefined;
    this.#pendingReply = undefined;
    this.#pendingNotifs.length = 0;
  }

  get closed(): boolean {
    return this.#closed;
  }

  /** Messages waiting for room in the TX queue (the one in flight included). */
  get backlog(): number {
    return (this.#inFlight ? 1 : 0) + (this.#pendingReply ? 1 : 0) + this.#pendingNotifs.length;
  }

  /** Pull any frames already queued (the RX vIRQ may have fired before we attached). */
  poll(): void {
    this.#drain();
  }

  // ── receive ──────────────────────────────────────────────────────────────

  #drain(): void {
    const ep = this.endpoint;
    while (!this.#closed && ep.rxPending) {
      let bytes: Uint8Array;
      try {
        bytes = ep.receive().bytes;
      } catch (err) {
        // EMPTY is the RM's BUSY (stop draining); anything else it treats as DENIED and stops.
        if (!isHypError(err, 'ERROR_MSGQUEUE_EMPTY')) this.log.warn({ err }, 'RM receive failed');
        return;
      }
      this.#frame(bytes);
    }
  }

  #frame(b: Uint8Array): void {
    this.trace?.emit(rmFrameRecord('rm', 'rx', b, this.vmid));
    if (b.byteLength < RPC_HDR_SIZE) return this.#drop('short-frame', `${b.byteLength} bytes`);
    if (b[0] !== RPC_API_BYTE) return this.#drop('bad-header', `api byte 0x${b[0]!.toString(16)}`);
    const type = b[1]! & 0x3;
    const fragments = b[1]! >>> 2;
    const seq = b[2]! | (b[3]! << 8);
    const msgId = (b[4]! | (b[5]! << 8) | (b[6]! << 16) | (b[7]! << 24)) >>> 0;
    if (fragments > MAX_RX_FRAGMENTS) return this.#drop('bad-fragments', `fragments ${fragments}`);
    // No b.subarray() up front: on a small frame (an on-heap typed array) it would make V8
    // materialise the ArrayBuffer; single-frame requests take b.slice() instead.
    if (type === RpcMsgType.CONTINUATION) {
      const payload = b.subarray(RPC_HDR_SIZE);
      const p = this.#partial;
      if (!p) return this.#drop('stray-continuation', `${rmIdLabel(msgId)} seq ${seq}`);
      if (p.msgId !== msgId || p.seq !== seq || p.fragments !== fragments) {
        // The packet is dropped; the partial message is kept (rm-rpc.md §8.1).
        return this.#drop('mismatched-continuation', `${rmIdLabel(msgId)} seq ${seq} fragments ${fragments}`);
      }
      if (p.size + payload.byteLength > p.buf.byteLength) return this.#drop('bad-fragments', 'continuation overruns the announced size');
      p.buf.set(payload, p.size);
      p.size += payload.byteLength;
      p.received++;
      if (p.received === p.fragments) {
        this.#partial = undefined;
        this.hooks.onRequest({ kind: 'request', seq, msgId, payload: p.buf.subarray(0, p.size) });
      }
      return;
    }

    // A new non-continuation message discards any partial one.
    if (this.#partial) {
      const p = this.#partial;
      this.#partial = undefined;
      this.#drop('partial-discarded', `${rmIdLabel(p.msgId)} seq ${p.seq} after ${p.received}/${p.fragments}`);
    }
    if (type === RpcMsgType.REPLY) return this.#drop('reply-to-rm', `${rmIdLabel(msgId)} seq ${seq}`);
    if (type === RpcMsgType.NOTIFICATION) {
      // Only notifications from VMID 0 (the hypervisor) are handled; nothing else reaches here.
      return this.#drop('notification-to-rm', `${rmIdLabel(msgId)} from VM ${this.vmid}`);
    }
    if (fragments === 0) {
      this.hooks.onRequest({ kind: 'request', seq, msgId, payload: b.slice(RPC_HDR_SIZE) });
    } else {
      const payload = b.subarray(RPC_HDR_SIZE);
      const buf = new Uint8Array((fragments + 1) * RPC_MAX_FRAGMENT_PAYLOAD);
      buf.set(payload, 0);
      this.#partial = { seq, msgId, fragments, received: 0, buf, size: payload.byteLength };
    }
  }

  #drop(reason: LinkDropReason, detail: string): void {
    this.log.debug({ reason, detail }, 'RM dropped');
    this.trace?.emit({ kind: 'rm.drop', side: 'rm', vmid: this.vmid, reason, detail });
    this.hooks.onDrop?.(reason, detail);
  }

  // ── send ─────────────────────────────────────────────────────────────────

  /** Queue a reply: it replaces a pending reply that could not be sent yet (§9). */
  sendReply(m: RpcMessage): void {
    if (this.#closed) return;
    if (!this.#inFlight) {
      if (this.#start(m)) this.#pump();
      return;
    }
    if (this.#pendingReply) {
      const old = this.#pendingReply;
      this.#drop('reply-overwritten', `${rmIdLabel(old.msgId)} seq ${old.seq}`);
    }
    this.#pendingReply = m;
  }

  /** Queue a notification: up to 256 wait; when full the oldest is dropped (§9). */
  sendNotification(m: RpcMessage): void {
    if (this.#closed) return;
    if (!this.#inFlight) {
      if (this.#start(m)) this.#pump();
      return;
    }
    if (this.#pendingNotifs.length >= RM_MAX_PENDING_NOTIFICATIONS) {
      const old = this.#pendingNotifs.shift()!;
      this.#drop('notification-overflow', `${rmIdLabel(old.msgId)} seq ${old.seq}`);
    }
    this.#pendingNotifs.push(m);
  }

  /** Make `m` the message in flight; false if it cannot go on the wire at all. */
  #start(m: RpcMessage): boolean {
    let frames: Uint8Array[];
    try {
      frames = fragmentMessage(m, 'rm');
    } catch {
      // Over 63 × 232 bytes: the RM refuses to send it (internal MSG_INVALID); nothing on the wire.
      this.#drop('too-big', `${rmIdLabel(m.msgId)} seq ${m.seq}`);
      return false;
    }
    this.#inFlight = { frames, next: 0 };
    return true;
  }

  #pump(): void {
    while (!this.#closed && this.#inFlight) {
      const f = this.#inFlight;
      while (f.next < f.frames.length) {
        const frame = f.frames[f.next]!;
        try {
          this.endpoint.send(frame, false);
        } catch (err) {
          if (isHypError(err, 'ERROR_MSGQUEUE_FULL')) return; // resume from this fragment on the TX vIRQ
          // Any other send error makes the real RM exit (rm-rpc.md §17 #9); drop the message.
          this.log.error({ err }, 'RM send failed');
          f.next = f.frames.length;
          break;
        }
        this.trace?.emit(rmFrameRecord('rm', 'tx', frame, this.vmid));
        f.next++;
      }
      this.#inFlight = undefined;
      this.#next();
    }
  }

  /** Take the next buffered message: the pending reply first, then notifications (§9). */
  #next(): void {
    while (!this.#inFlight) {
      let m: RpcMessage | undefined;
      if (this.#pendingReply) {
        m = this.#pendingReply;
        this.#pendingReply = undefined;
      } else {
        m = this.#pendingNotifs.shift();
      }
      if (!m) return;
      this.#start(m);
    }
  }
}
