/**
 * The host kernel's RM RPC client: the Linux side of the RM link.
 *
 * Reference: rm-rpc.md §4–§8.2 (Linux `rsc_mgr.c`): cyclic seqs; several calls in flight; one
 * send lock so the frames of two requests never interleave; sends only while the TX queue has
 * room (a FULL error waits for the TX vIRQ and retries); replies matched by seq AND msg_id;
 * one message reassembled at a time; notifications dispatched in queue order. The real driver
 * waits for a reply forever; so does this client unless a timeout or AbortSignal is given.
 *
 * Knows nothing of the RM server: it sees only frames on its endpoint.
 */
import { EventEmitter } from 'eventemitter3';
import PQueue from 'p-queue';
import type { AsyncMsgqEndpoint } from '../../msgq/async-endpoint.js';
import type { MsgqEndpoint } from '../../msgq/endpoint.js';
import { ErrnoError, type ErrnoName } from '../../shared/errno.js';
import { HypError, isHypError } from '../../shared/hyp-errors.js';
import type { Logger } from '../../shared/log.js';
import { silentLogger } from '../../shared/log.js';
import type { Tracer } from '../../shared/trace-events.js';
import { toHex } from '../../shared/bytes.js';
import { isWireError } from '../../shared/wire-error.js';
import {
  RPC_API_BYTE,
  RPC_HDR_SIZE,
  RPC_MAX_FRAGMENT_PAYLOAD,
  RPC_REPLY_HDR_SIZE,
  RpcMsgType,
} from '../wire/header.js';
import { MAX_RX_FRAGMENTS, fragmentMessage, requestFragments, writeRequestFrame } from '../wire/message.js';
import { RmError, RmErrorCode } from '../wire/errors.js';
import { rmErrLabel, rmFrameRecord } from '../wire/frame-trace.js';
import { rmIdLabel } from '../wire/msg-ids.js';
import { createSeqAllocator, type SeqAllocator } from './seq-allocator.js';

/** A notification as the client hands it to subscribers. */
export interface RmNotificationEvent {
  readonly msgId: number;
  readonly seq: number;
  readonly payload: Uint8Array;
}

/** Why a received frame was not used (for tests and traces; Linux only logs these). */
export type RmClientDropReason =
  | 'short-frame'
  | 'bad-api'
  | 'request-received'
  | 'stray-reply'
  | 'stray-continuation'
  | 'aborted';

export interface RmClientEvents {
  notification: (n: RmNotificationEvent) => void;
  dropped: (reason: RmClientDropReason, frame: Uint8Array) => void;
}

export interface RmCallOptions {
  /** Give up after this many ms (ETIMEDOUT). Default: the client's, else wait forever. */
  readonly timeoutMs?: number;
  /** Abort the wait (ECANCELED). The request may already be on the wire; a late reply is dropped. */
  readonly signal?: AbortSignal;
}

export interface RmClientOptions {
  /** The client's end of the RM link. */
  readonly transport: MsgqEndpoint | AsyncMsgqEndpoint;
  readonly log?: Logger;
  readonly trace?: Tracer;
  /** Default timeout for every call; undefined = wait forever, as the real driver does. */
  readonly timeoutMs?: number;
  readonly seq?: SeqAllocator;
  /** Timer source for timeouts (defaults to Node timers). */
  readonly setTimer?: (fn: () => void, ms: number) => () => void;
}

interface PendingCall {
  readonly seq: number;
  readonly msgId: number;
  resolve(data: Uint8Array): void;
  reject(err: Error): void;
}

/** A request waiting for its frames to go out on a synchronous transport. */
interface SendJob {
  readonly seq: number;
  readonly msgId: number;
  payload: Uint8Array;
  readonly fragments: number;
  /** Next frame to send (0..fragments). */
  next: number;
  readonly call: PendingCall;
  copied: boolean;
}

/** A call waiting for its reply. */
class Call implements PendingCall {
  cancelTimer: (() => void) | undefined = undefined;
  signal: AbortSignal | undefined = undefined;
  onAbort: (() => void) | undefined = undefined;
  constructor(
    readonly seq: number,
    readonly msgId: number,
    readonly settled: (c: PendingCall) => void,
    readonly res: (d: Uint8Array) => void,
    readonly rej: (e: Error) => void,
  ) {}
  resolve(d: Uint8Array): void {
    this.finish();
    this.res(d);
  }
  reject(e: Error): void {
    this.finish();
    this.rej(e);
  }
  finish(): void {
    this.cancelTimer?.();
    if (this.onAbort) this.signal?.removeEventListener('abort', this.onAbort);
    this.settled(this);
  }
}

/** The message being reassembled: at most one at a time (rm-rpc.md §8.2). */
interface Reassembly {
  readonly msgId: number;
  readonly seq: number;
  readonly fragments: number;
  received: number;
  readonly buf: Uint8Array;
  size: number;
  readonly capacity: number;
  /** The waiting call for a reply; undefined for a notification. */
  readonly call: PendingCall | undefined;
}

export class RmClient {
  readonly events = new EventEmitter<RmClientEvents>();
  readonly #ep: MsgqEndpoint | AsyncMsgqEndpoint;
  readonly #sync: boolean;
  readonly #log: Logger;
  readonly #trace: Tracer | undefined;
  readonly #seqs: SeqAllocator;
  readonly #pending = new Map<number, PendingCall>();
  readonly #sendLock = new PQueue({ concurrency: 1 });
  /** Sync transport: requests waiting to go out, in call order (the send lock). */
  readonly #sendQueue: SendJob[] = [];
  /** Sync transport: each frame is built here and copied into the queue by the send, as Linux does. */
  readonly #scratch = new ArrayBuffer(RPC_HDR_SIZE + RPC_MAX_FRAGMENT_PAYLOAD);
  readonly #settled = (c: PendingCall): void => {
    if (this.#pending.get(c.seq) === c) {
      this.#pending.delete(c.seq);
      this.#seqs.free(c.seq);
    }
  };
  /** Sync transport: a pump is running or is parked waiting for the TX vIRQ. */
  #sendBusy = false;
  readonly #timeoutMs: number | undefined;
  readonly #setTimer: (fn: () => void, ms: number) => () => void;
  #txReady = true;
  #txWaiters: Array<() => void> = [];
  #active: Reassembly | undefined;
  #draining = false;
  #rxAgain = false;
  #closed = false;
  readonly #onRx = (): void => this.#kickRx();
  readonly #onTx = (): void => this.#wakeTx();

  constructor(opts: RmClientOptions) {
    this.#ep = opts.transport;
    this.#sync = !('close' in opts.transport);
    this.#log = (opts.log ?? silentLogger()).child({ layer: 'rm-client' });
    this.#trace = opts.trace;
    this.#seqs = opts.seq ?? createSeqAllocator();
    this.#timeoutMs = opts.timeoutMs;
    this.#setTimer = opts.setTimer ?? ((fn, ms) => {
      const t = setTimeout(fn, ms);
      return () => clearTimeout(t);
    });
    this.#ep.events.on('rx', this.#onRx);
    this.#ep.events.on('tx', this.#onTx);
    // Messages may already be queued before we attached.
    this.#kickRx();
  }

  /** Calls still waiting for their reply. */
  get outstanding(): number {
    return this.#pending.size;
  }

  /**
   * Send one request and wait for its reply (`gunyah_rm_call`).
   * @returns the reply data after the err_code (empty for a standard reply)
   * @rejects RmError when the RM answers an error (its `errno` is Linux's remap);
   *   ErrnoError EINVAL (msg_id 0), E2BIG (over 62 × 232 bytes), EIO (the reply was aborted by
   *   a mismatched continuation or an interleaved message), ENOMEM (a malformed reply header),
   *   ETIMEDOUT, ECANCELED, ENODEV (client closed).
   */
  call(msgId: number, payload: Uint8Array = new Uint8Array(0), opts: RmCallOptions = {}): Promise<Uint8Array> {
    if (this.#closed) return Promise.reject(new ErrnoError('ENODEV', 'RM client closed'));
    if (msgId === 0) return Promise.reject(new ErrnoError('EINVAL', 'msg_id 0 is reserved'));
    let seq: number;
    try {
      seq = this.#seqs.alloc();
    } catch (err) {
      return Promise.reject(err as Error);
    }
    let frames: Uint8Array[] | undefined;
    let fragments = 0;
    try {
      if (this.#sync) fragments = requestFragments(payload.byteLength, 'linux');
      else frames = fragmentMessage({ kind: 'request', seq, msgId, payload }, 'linux');
    } catch (err) {
      this.#seqs.free(seq);
      if (isWireError(err)) return Promise.reject(new ErrnoError('E2BIG', err.message));
      return Promise.reject(err as Error);
    }

    const signal = opts.signal;
    if (signal?.aborted) {
      this.#seqs.free(seq);
      return Promise.reject(new ErrnoError('ECANCELED', `${rmIdLabel(msgId)} cancelled before sending`));
    }
    // No per-call named closures on this path: under tsx (esbuild keepNames) every named
    // closure costs an Object.defineProperty(fn, 'name'); the Call class has none.
    let call!: Call;
    const promise = new Promise<Uint8Array>((resolve, reject) => {
      call = new Call(seq, msgId, this.#settled, resolve, reject);
    });
    if (signal) {
      const onAbort = (): void => {
        if (this.#active?.call === call) this.#active = undefined;
        call.reject(new ErrnoError('ECANCELED', `${rmIdLabel(msgId)} seq ${seq} cancelled`));
      };
      call.signal = signal;
      call.onAbort = onAbort;
      signal.addEventListener('abort', onAbort, { once: true });
    }
    const timeout = opts.timeoutMs ?? this.#timeoutMs;
    if (timeout !== undefined) {
      call.cancelTimer = this.#setTimer(() => {
        if (this.#active?.call === call) this.#active = undefined;
        call.reject(new ErrnoError('ETIMEDOUT', `${rmIdLabel(msgId)} seq ${seq}: no reply in ${timeout} ms`));
      }, timeout);
    }
    this.#pending.set(seq, call);
    this.#trace?.emit({ kind: 'rm.call', side: 'client', msgId, name: rmIdLabel(msgId), rmSeq: seq, hex: toHex(payload, '') });
    if (this.#sync) {
      this.#sendQueue.push({ seq, msgId, payload, fragments, next: 0, call, copied: false });
      if (!this.#sendBusy) this.#pumpSends();
    } else {
      this.#sendLock.add(() => this.#sendFrames(frames!)).catch((err: unknown) => {
        call.reject(err instanceof Error ? err : new Error(String(err)));
      });
    }
    return promise;
  }

  /** Stop listening; pending calls fail with ENODEV. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#ep.events.off('rx', this.#onRx);
    this.#ep.events.off('tx', this.#onTx);
    for (const c of [...this.#pending.values()]) c.reject(new ErrnoError('ENODEV', 'RM client closed'));
    this.#active = undefined;
    this.#wakeTx();
  }

  // ── send side ────────────────────────────────────────────────────────────

  async #sendFrames(frames: Uint8Array[]): Promise<void> {
    for (let i = 0; i < frames.length; i++) {
      const push = i === frames.length - 1;
      for (;;) {
        if (this.#closed) throw new ErrnoError('ENODEV', 'RM client closed');
        if (!this.#txReady) await this.#waitTx();
        try {
          const r = this.#sync ? (this.#ep as MsgqEndpoint).send(frames[i]!, push) : await this.#ep.send(frames[i]!, push);
          this.#txReady = r.ready;
          this.#trace?.emit(rmFrameRecord('client', 'tx', frames[i]!));
          break;
        } catch (err) {
          if (!isHypError(err, 'ERROR_MSGQUEUE_FULL')) throw hypToErrno(err);
          this.#log.warn('RM TX queue full; waiting for the TX vIRQ');
          this.#txReady = false;
        }
      }
    }
  }

  /** Sync transport: send queued frames until done or the TX queue is full (then resume on TX). */
  #pumpSends(): void {
    this.#sendBusy = true;
    const ep = this.#ep as MsgqEndpoint;
    const scratch = new Uint8Array(this.#scratch);
    while (this.#sendQueue.length > 0) {
      const job = this.#sendQueue[0]!;
      if (this.#closed) {
        this.#sendQueue.shift();
        job.call.reject(new ErrnoError('ENODEV', 'RM client closed'));
        continue;
      }
      if (job.next <= job.fragments) {
        if (!this.#txReady) {
          // The caller may reuse its buffer once call() returned: keep our own copy.
          for (const j of this.#sendQueue) {
            if (!j.copied) {
              j.payload = j.payload.slice();
              j.copied = true;
            }
          }
          // Resume in a microtask after the TX vIRQ, as the awaiting sender did.
          this.#txWaiters.push(() => queueMicrotask(() => this.#pumpSends()));
          return;
        }
        const len = writeRequestFrame(scratch, job.seq, job.msgId, job.payload, job.fragments, job.next);
        const push = job.next === job.fragments;
        try {
          this.#txReady = ep.send(new Uint8Array(this.#scratch, 0, len), push).ready;
          this.#trace?.emit(rmFrameRecord('client', 'tx', scratch.subarray(0, len)));
          job.next++;
        } catch (err) {
          if (!isHypError(err, 'ERROR_MSGQUEUE_FULL')) {
            this.#sendQueue.shift();
            job.call.reject(hypToErrno(err));
          } else {
            this.#log.warn('RM TX queue full; waiting for the TX vIRQ');
            this.#txReady = false;
          }
        }
        continue;
      }
      this.#sendQueue.shift();
    }
    this.#sendBusy = false;
  }

  #waitTx(): Promise<void> {
    return new Promise((res) => this.#txWaiters.push(res));
  }

  #wakeTx(): void {
    this.#txReady = true;
    const w = this.#txWaiters;
    this.#txWaiters = [];
    for (const f of w) f();
  }

  // ── receive side ─────────────────────────────────────────────────────────

  #kickRx(): void {
    if (this.#draining) {
      this.#rxAgain = true;
      return;
    }
    this.#draining = true;
    if (this.#sync) {
      queueMicrotask(() => this.#drainSync());
    } else {
      void this.#drainAsync();
    }
  }

  #drainSync(): void {
    const ep = this.#ep as MsgqEndpoint;
    do {
      this.#rxAgain = false;
      while (!this.#closed && ep.rxPending) {
        let bytes: Uint8Array;
        try {
          bytes = ep.receive(RPC_HDR_SIZE + RPC_MAX_FRAGMENT_PAYLOAD).bytes;
        } catch (err) {
          if (!isHypError(err, 'ERROR_MSGQUEUE_EMPTY')) this.#log.warn({ err }, 'RM receive failed');
          break;
        }
        if (!this.#handleFrame(bytes)) break;
      }
    } while (this.#rxAgain && !this.#closed);
    this.#draining = false;
  }

  async #drainAsync(): Promise<void> {
    do {
      this.#rxAgain = false;
      for (;;) {
        if (this.#closed) break;
        let r;
        try {
          r = await this.#ep.receive(RPC_HDR_SIZE + RPC_MAX_FRAGMENT_PAYLOAD);
        } catch (err) {
          if (!isHypError(err, 'ERROR_MSGQUEUE_EMPTY')) this.#log.warn({ err }, 'RM receive failed');
          break;
        }
        if (!this.#handleFrame(r.bytes) || !r.ready) break;
      }
    } while (this.#rxAgain && !this.#closed);
    this.#draining = false;
  }

  /** One received frame, by the rules of rm-rpc.md §8.2. Returns false to stop draining. */
  #handleFrame(b: Uint8Array): boolean {
    this.#trace?.emit(rmFrameRecord('client', 'rx', b));
    if (b.byteLength < RPC_HDR_SIZE) {
      this.#drop('short-frame', b);
      return true;
    }
    if (b[0] !== RPC_API_BYTE) {
      this.#drop('bad-api', b);
      return false;
    }
    // Byte reads, not view(b): a DataView over a small (on-heap) typed array forces V8 to
    // materialise its ArrayBuffer, which costs an allocation per frame.
    const type = b[1]! & 0x3;
    const fragments = b[1]! >>> 2;
    const seq = b[2]! | (b[3]! << 8);
    const msgId = (b[4]! | (b[5]! << 8) | (b[6]! << 16) | (b[7]! << 24)) >>> 0;
    switch (type) {
      case RpcMsgType.REQUEST:
        this.#drop('request-received', b);
        return false;
      case RpcMsgType.NOTIFICATION: {
        this.#abortActive();
        if (fragments > MAX_RX_FRAGMENTS) {
          this.#drop('aborted', b);
          return true;
        }
        const first = b.subarray(RPC_HDR_SIZE);
        if (fragments === 0) {
          this.#dispatchNotification(msgId, seq, first);
        } else {
          this.#startReassembly(msgId, seq, fragments, first, undefined);
        }
        return true;
      }
      case RpcMsgType.REPLY: {
        this.#abortActive();
        const call = this.#pending.get(seq);
        if (!call || call.msgId !== msgId) {
          this.#drop('stray-reply', b);
          return true;
        }
        if (b.byteLength < RPC_REPLY_HDR_SIZE || fragments > MAX_RX_FRAGMENTS) {
          // Linux fails the waiting call with -ENOMEM here (rm-rpc.md §8.2, QUIRK).
          call.reject(new ErrnoError('ENOMEM', `malformed reply header for ${rmIdLabel(msgId)}`));
          return true;
        }
        if (fragments === 0) {
          this.#completeReply(call, b, RPC_HDR_SIZE);
        } else {
          this.#startReassembly(msgId, seq, fragments, b.subarray(RPC_HDR_SIZE), call);
        }
        return true;
      }
      default: {
        const a = this.#active;
        if (!a) {
          this.#drop('stray-continuation', b);
          return true;
        }
        if (a.msgId !== msgId || a.fragments !== fragments) {
          this.#abortActive();
          this.#drop('aborted', b);
          return true;
        }
        const chunk = b.subarray(RPC_HDR_SIZE);
        if (a.size + chunk.byteLength > a.capacity) {
          this.#abortActive();
          this.#drop('aborted', b);
          return true;
        }
        a.buf.set(chunk, a.size);
        a.size += chunk.byteLength;
        a.received++;
        if (a.received === a.fragments) {
          this.#active = undefined;
          const body = a.buf.subarray(0, a.size);
          if (a.call) this.#completeReply(a.call, body, 0);
          else this.#dispatchNotification(a.msgId, a.seq, body);
        }
        return true;
      }
    }
  }

  #startReassembly(msgId: number, seq: number, fragments: number, first: Uint8Array, call: PendingCall | undefined): void {
    const capacity = first.byteLength + fragments * RPC_MAX_FRAGMENT_PAYLOAD;
    const buf = new Uint8Array(capacity);
    buf.set(first, 0);
    this.#active = {
      msgId,
      seq,
      fragments,
      received: 0,
      buf,
      size: first.byteLength,
      capacity,
      call,
    };
  }

  #abortActive(): void {
    const a = this.#active;
    if (!a) return;
    this.#active = undefined;
    a.call?.reject(new ErrnoError('EIO', `reassembly of ${rmIdLabel(a.msgId)} seq ${a.seq} aborted`));
  }

  /** `body` holds err_code + data from `off` on. */
  #completeReply(call: PendingCall, body: Uint8Array, off: number): void {
    const err = (body[off]! | (body[off + 1]! << 8) | (body[off + 2]! << 16) | (body[off + 3]! << 24)) >>> 0;
    this.#trace?.emit({
      kind: 'rm.reply',
      side: 'client',
      msgId: call.msgId,
      name: rmIdLabel(call.msgId),
      rmSeq: call.seq,
      err: rmErrLabel(err),
      code: err,
      hex: toHex(body.subarray(off + 4), ''),
    });
    if (err !== RmErrorCode.OK) call.reject(new RmError(err, call.msgId));
    else call.resolve(body.slice(off + 4));
  }

  #dispatchNotification(msgId: number, seq: number, payload: Uint8Array): void {
    this.#trace?.emit({ kind: 'rm.notification', side: 'client', msgId, name: rmIdLabel(msgId), rmSeq: seq, hex: toHex(payload, '') });
    this.events.emit('notification', { msgId, seq, payload: payload.slice() });
  }

  #drop(reason: RmClientDropReason, frame: Uint8Array): void {
    this.#trace?.emit({ kind: 'rm.drop', side: 'client', reason, detail: toHex(frame.subarray(0, 16), '') });
    if (reason !== 'stray-reply' && reason !== 'stray-continuation') {
      this.#log.error({ reason, frame: toHex(frame.subarray(0, 16)) }, 'RM frame dropped');
    }
    this.events.emit('dropped', reason, frame);
  }
}

function hypToErrno(err: unknown): Error {
  if (err instanceof HypError) {
    const name: ErrnoName = err.code === 'ERROR_MSGQUEUE_EMPTY' || err.code === 'ERROR_MSGQUEUE_FULL' ? 'EIO' : 'EINVAL';
    return new ErrnoError(name, err.message, { cause: err });
  }
  return err instanceof Error ? err : new Error(String(err));
}

/** Create a client on the host's end of its RM link. */
export function createRmClient(opts: RmClientOptions): RmClient {
  return new RmClient(opts);
}
