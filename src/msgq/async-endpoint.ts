/**
 * The asynchronous form of a message-queue endpoint: what a VM on the far side of a process
 * boundary (the socket transport) holds. Same calls and results as MsgqEndpoint, but each
 * call is a round trip, so it returns a promise. Errors are HypError rejections.
 */
import type { EventEmitter } from 'eventemitter3';
import type { EndpointEvents, MsgqEndpoint } from './endpoint.js';
import type { ReceiveResult, SendResult } from './msgqueue.js';

export interface AsyncMsgqEndpoint {
  readonly maxMsgSize: number;
  /** rx: RX vIRQ (message available); tx: TX vIRQ (space available). */
  readonly events: EventEmitter<EndpointEvents>;
  /** @rejects HypError ERROR_MSGQUEUE_FULL, ERROR_ARGUMENT_SIZE */
  send(bytes: Uint8Array, push?: boolean): Promise<SendResult>;
  /** @rejects HypError ERROR_MSGQUEUE_EMPTY, ERROR_ADDR_OVERFLOW */
  receive(bufSize?: number): Promise<ReceiveResult>;
  /** Release the endpoint (closes a socket; a no-op in process). */
  close(): Promise<void>;
}

/** Wrap an in-process endpoint in the asynchronous interface. */
export function asAsyncEndpoint(ep: MsgqEndpoint): AsyncMsgqEndpoint {
  return {
    maxMsgSize: ep.maxMsgSize,
    events: ep.events,
    send: async (bytes, push) => ep.send(bytes, push),
    receive: async (bufSize) => ep.receive(bufSize),
    close: async () => {},
  };
}
