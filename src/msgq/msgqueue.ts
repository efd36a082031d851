/**
 * One hypervisor message queue: a one-way, depth-limited FIFO of whole messages (datagram
 * semantics), with the send-side ("space available", TX) and receive-side ("message
 * available", RX) vIRQ edges of the real hypervisor.
 *
 * Reference: hypervisor.md §4 (msgqueue object, send 0x1B, receive 0x1C, flush 0x1D,
 * configure_send 0x1F / configure_receive 0x20). Knows nothing about what the bytes mean.
 *
 *        send()                                   receive()
 *   ──────────────▶ [ m0 | m1 | … | m(count-1) ] ──────────────▶
 *    RX vIRQ when PUSH, or count == notEmpty      TX vIRQ when count drops to notFull
 */
import { EventEmitter } from 'eventemitter3';
import { HypError } from '../shared/hyp-errors.js';

/** Queue geometry: `0 < depth < 256`, `0 < maxMsgSize < 1024` (hypervisor.md §4.1). */
export interface MsgQueueConfig {
  readonly depth: number;
  readonly maxMsgSize: number;
  /**
   * What a bad size does. `'documented'` (default): send of 0 or > max bytes is
   * ERROR_ARGUMENT_SIZE, receive into a too-small buffer is ERROR_ADDR_OVERFLOW.
   * `'code-12-2023'`: the public hypervisor's behaviour (send: OK, ready, nothing queued;
   * receive: OK, size 0, ready, nothing dequeued). See docs/decisions.md.
   */
  readonly badSize?: 'documented' | 'code-12-2023';
}

/** The RM link geometry: depth 8, 240-byte messages (rm-rpc.md §1). */
export const RM_MSGQ_CONFIG: MsgQueueConfig = { depth: 8, maxMsgSize: 240 };

/** vIRQ edges raised by a queue. Listeners run synchronously inside the call that raised them. */
export interface MsgQueueEvents {
  /** Receive-side vIRQ asserted: a message is available (or PUSH was given). */
  rx: () => void;
  /** Send-side vIRQ asserted: the queue has drained to its not-full threshold. */
  tx: () => void;
}

/** Result of a send: `ready` is false iff the queue is now full. */
export interface SendResult {
  readonly ready: boolean;
}
/** Result of a receive: the message and whether more remain (`ready`). */
export interface ReceiveResult {
  readonly bytes: Uint8Array;
  readonly ready: boolean;
}

/** Validate a configure call's geometry (msgqueue_configure, n = 0x21). */
export function checkMsgQueueConfig(cfg: MsgQueueConfig): void {
  const okDepth = Number.isInteger(cfg.depth) && cfg.depth > 0 && cfg.depth < 256;
  const okSize = Number.isInteger(cfg.maxMsgSize) && cfg.maxMsgSize > 0 && cfg.maxMsgSize < 1024;
  if (!okDepth || !okSize) throw new HypError('ERROR_ARGUMENT_INVALID', `msgqueue depth ${cfg.depth}, size ${cfg.maxMsgSize}`);
}

export class MsgQueue {
  readonly events = new EventEmitter<MsgQueueEvents>();
  readonly depth: number;
  readonly maxMsgSize: number;
  readonly #badSize: 'documented' | 'code-12-2023';
  /** Ring of `depth` slots; `#head` is the oldest, `#count` how many are used. */
  readonly #ring: Array<Uint8Array | undefined>;
  #head = 0;
  #count = 0;
  #notFull: number;
  #notEmpty = 1;

  constructor(cfg: MsgQueueConfig) {
    checkMsgQueueConfig(cfg);
    this.depth = cfg.depth;
    this.maxMsgSize = cfg.maxMsgSize;
    this.#badSize = cfg.badSize ?? 'documented';
    this.#ring = new Array<Uint8Array | undefined>(cfg.depth);
    this.#notFull = cfg.depth - 1;
  }

  /** Messages currently queued. */
  get count(): number {
    return this.#count;
  }
  /** Current not-full threshold (TX vIRQ level), default depth − 1. */
  get notFullThreshold(): number {
    return this.#notFull;
  }
  /** Current not-empty threshold (RX vIRQ level), default 1. */
  get notEmptyThreshold(): number {
    return this.#notEmpty;
  }

  /**
   * msgqueue_send: copy `bytes` in as one message.
   * @throws HypError ERROR_MSGQUEUE_FULL when count == depth (nothing queued);
   *   ERROR_ARGUMENT_SIZE for 0 or > maxMsgSize bytes (documented behaviour).
   */
  send(bytes: Uint8Array, push = false): SendResult {
    if (this.#count === this.depth) throw new HypError('ERROR_MSGQUEUE_FULL');
    if (bytes.byteLength === 0 || bytes.byteLength > this.maxMsgSize) {
      if (this.#badSize === 'code-12-2023') return { ready: true };
      throw new HypError('ERROR_ARGUMENT_SIZE', `${bytes.byteLength} bytes, max ${this.maxMsgSize}`);
    }
    this.#ring[(this.#head + this.#count) % this.depth] = bytes.slice();
    this.#count++;
    const ready = this.#count < this.depth;
    if (push || this.#count === this.#notEmpty) this.events.emit('rx');
    return { ready };
  }

  /**
   * msgqueue_receive: dequeue the oldest message into a buffer of `bufSize` bytes.
   * @throws HypError ERROR_MSGQUEUE_EMPTY when nothing is queued;
   *   ERROR_ADDR_OVERFLOW when the head message is larger than `bufSize` (documented behaviour).
   */
  receive(bufSize = this.maxMsgSize): ReceiveResult {
    if (this.#count === 0) throw new HypError('ERROR_MSGQUEUE_EMPTY');
    const msg = this.#ring[this.#head]!;
    if (msg.byteLength > bufSize) {
      if (this.#badSize === 'code-12-2023') return { bytes: new Uint8Array(0), ready: true };
      throw new HypError('ERROR_ADDR_OVERFLOW', `message of ${msg.byteLength} bytes, buffer ${bufSize}`);
    }
    this.#ring[this.#head] = undefined;
    this.#head = (this.#head + 1) % this.depth;
    this.#count--;
    if (this.#count === this.#notFull) this.events.emit('tx');
    return { bytes: msg, ready: this.#count > 0 };
  }

  /** msgqueue_flush: drop every message and assert the send vIRQ. */
  flush(): void {
    this.#ring.fill(undefined);
    this.#head = 0;
    this.#count = 0;
    this.events.emit('tx');
  }

  /**
   * msgqueue_configure_send: set the not-full threshold (−1 leaves it). Must be < depth.
   * A new threshold already met asserts the send vIRQ at once.
   */
  configureSend(threshold: number, delay = -1): void {
    if (delay !== -1) throw new HypError('ERROR_UNIMPLEMENTED', 'send delay');
    if (threshold === -1) return;
    if (!Number.isInteger(threshold) || threshold < 0 || threshold >= this.depth) {
      throw new HypError('ERROR_ARGUMENT_INVALID', `not-full threshold ${threshold}`);
    }
    this.#notFull = threshold;
    if (this.#count <= threshold) this.events.emit('tx');
  }

  /**
   * msgqueue_configure_receive: set the not-empty threshold (−1 leaves it, −2 = depth).
   * Must be 1..depth. A new threshold already met asserts the receive vIRQ at once.
   */
  configureReceive(threshold: number, delay = -1): void {
    if (delay !== -1) throw new HypError('ERROR_UNIMPLEMENTED', 'receive delay');
    if (threshold === -1) return;
    const t = threshold === -2 ? this.depth : threshold;
    if (!Number.isInteger(t) || t < 1 || t > this.depth) {
      throw new HypError('ERROR_ARGUMENT_INVALID', `not-empty threshold ${threshold}`);
    }
    this.#notEmpty = t;
    if (this.#count >= t) this.events.emit('rx');
  }
}
