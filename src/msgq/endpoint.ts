/**
 * A full-duplex endpoint made of two one-way queues: what one VM sees of its link to a peer.
 * A connected pair shares the queues crosswise: the TX queue of one end is the RX queue of the
 * other (hypervisor.md §4.1: "a full-duplex channel needs two queues").
 *
 *     end A                      end B
 *     tx ──▶ [ queue A→B ] ──▶ rx
 *     rx ◀── [ queue B→A ] ◀── tx
 */
import { EventEmitter } from 'eventemitter3';
import { MsgQueue, RM_MSGQ_CONFIG, type MsgQueueConfig, type ReceiveResult, type SendResult } from './msgqueue.js';

/** The events an endpoint's owner waits on: its RX queue has mail, its TX queue has room. */
export interface EndpointEvents {
  /** RX vIRQ of this end (message available). */
  rx: () => void;
  /** TX vIRQ of this end (space available). */
  tx: () => void;
}

/**
 * What a VM holds of a message-queue link: send on TX, receive on RX, and the two vIRQs.
 * The socket transport implements the same interface.
 */
export interface MsgqEndpoint {
  readonly maxMsgSize: number;
  readonly events: EventEmitter<EndpointEvents>;
  /** @throws HypError ERROR_MSGQUEUE_FULL, ERROR_ARGUMENT_SIZE */
  send(bytes: Uint8Array, push?: boolean): SendResult;
  /** @throws HypError ERROR_MSGQUEUE_EMPTY, ERROR_ADDR_OVERFLOW */
  receive(bufSize?: number): ReceiveResult;
  /** True when the RX queue holds at least one message. */
  readonly rxPending: boolean;
  /** True when the TX queue has room for one more message. */
  readonly txReady: boolean;
}

/** An endpoint over two in-memory queues. */
export class QueueEndpoint implements MsgqEndpoint {
  readonly events = new EventEmitter<EndpointEvents>();
  readonly maxMsgSize: number;

  constructor(
    readonly tx: MsgQueue,
    readonly rx: MsgQueue,
  ) {
    this.maxMsgSize = tx.maxMsgSize;
    rx.events.on('rx', () => this.events.emit('rx'));
    tx.events.on('tx', () => this.events.emit('tx'));
  }

  send(bytes: Uint8Array, push = false): SendResult {
    return this.tx.send(bytes, push);
  }
  receive(bufSize?: number): ReceiveResult {
    return this.rx.receive(bufSize);
  }
  get rxPending(): boolean {
    return this.rx.count > 0;
  }
  get txReady(): boolean {
    return this.tx.count < this.tx.depth;
  }
}

/** Two connected endpoints, each direction with the same geometry (default: the RM link's). */
export function createMsgqPair(cfg: MsgQueueConfig = RM_MSGQ_CONFIG): [QueueEndpoint, QueueEndpoint] {
  const ab = new MsgQueue(cfg);
  const ba = new MsgQueue(cfg);
  return [new QueueEndpoint(ab, ba), new QueueEndpoint(ba, ab)];
}
