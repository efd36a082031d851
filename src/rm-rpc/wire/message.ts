/**
 * Whole RM RPC messages (after reassembly, before fragmentation) and the two senders'
 * fragmentation rules.
 *
 * Reference: rm-rpc.md §4 (size limits), §5 (fragmentation). The two sides differ:
 *
 *   side            sends                      limit (bytes of body)      continuations
 *   Linux client    requests                   62 × 232 = 14384 → E2BIG   (len − 1) / 232
 *   RM              replies, notifications     63 × 232 = 14616 → refused ceil(len / 232) − 1
 *
 * A reply's body is its u32 err_code followed by its data, so the first reply frame carries at
 * most 228 data bytes. Every frame repeats seq, msg_id and the fragments value; later frames
 * have type CONTINUATION. Only the last frame of a Linux request carries PUSH; the RM never does.
 */
import { WireError } from '../../shared/wire-error.js';
import { view } from '../../shared/bytes.js';
import {
  RPC_HDR_SIZE,
  RPC_MAX_FRAGMENT_PAYLOAD,
  RpcMsgType,
  encodeRpcHeader,
  type RpcMsgTypeValue,
} from './header.js';

/** A request as the RM sees it once reassembled. */
export interface RpcRequest {
  readonly kind: 'request';
  readonly seq: number;
  readonly msgId: number;
  readonly payload: Uint8Array;
}
/** A reply: `errCode` is the leading u32; `payload` is the data after it. */
export interface RpcReply {
  readonly kind: 'reply';
  readonly seq: number;
  readonly msgId: number;
  readonly errCode: number;
  readonly payload: Uint8Array;
}
/** A notification from the RM. */
export interface RpcNotification {
  readonly kind: 'notification';
  readonly seq: number;
  readonly msgId: number;
  readonly payload: Uint8Array;
}
export type RpcMessage = RpcRequest | RpcReply | RpcNotification;

/** Largest request body the Linux client sends (rm-rpc.md §4). */
export const LINUX_MAX_REQUEST = 62 * RPC_MAX_FRAGMENT_PAYLOAD;
/** Largest message body the RM sends or accepts (rm-rpc.md §4). */
export const RM_MAX_MESSAGE = 63 * RPC_MAX_FRAGMENT_PAYLOAD;
/** Largest fragments field either receiver accepts. */
export const MAX_RX_FRAGMENTS = 62;

/** Which sender's rules to apply. */
export type FragmentSide = 'linux' | 'rm';

/** The body a message occupies on the wire: err_code + data for replies, the payload otherwise. */
function bodyOf(m: RpcMessage): Uint8Array {
  if (m.kind !== 'reply') return m.payload;
  const body = new Uint8Array(4 + m.payload.byteLength);
  view(body).setUint32(0, m.errCode >>> 0, true);
  body.set(m.payload, 4);
  return body;
}

const TYPE_OF: Record<RpcMessage['kind'], RpcMsgTypeValue> = {
  request: RpcMsgType.REQUEST,
  reply: RpcMsgType.REPLY,
  notification: RpcMsgType.NOTIFICATION,
};

/**
 * Split a message into message-queue frames by the given side's rules.
 * @throws WireError 'too-big' when the body exceeds that side's limit (Linux: the caller
 *   maps it to E2BIG; the RM: nothing goes on the wire).
 */
export function fragmentMessage(m: RpcMessage, side: FragmentSide): Uint8Array[] {
  const body = bodyOf(m);
  const limit = side === 'linux' ? LINUX_MAX_REQUEST : RM_MAX_MESSAGE;
  if (body.byteLength > limit) {
    throw new WireError('too-big', { what: `${m.kind} body of ${body.byteLength} bytes, ${side} limit ${limit}` });
  }
  const len = body.byteLength;
  const fragments = len === 0 ? 0 : Math.ceil(len / RPC_MAX_FRAGMENT_PAYLOAD) - 1;
  const frames: Uint8Array[] = [];
  for (let i = 0; i <= fragments; i++) {
    const start = i * RPC_MAX_FRAGMENT_PAYLOAD;
    const chunk = body.subarray(start, Math.min(len, start + RPC_MAX_FRAGMENT_PAYLOAD));
    const frame = new Uint8Array(RPC_HDR_SIZE + chunk.byteLength);
    encodeRpcHeader(
      { msgType: i === 0 ? TYPE_OF[m.kind] : RpcMsgType.CONTINUATION, fragments, seq: m.seq, msgId: m.msgId },
      view(frame),
    );
    frame.set(chunk, RPC_HDR_SIZE);
    frames.push(frame);
  }
  return frames;
}

/** Number of frames a body of `len` bytes takes. */
export function frameCount(len: number): number {
  return len === 0 ? 1 : Math.ceil(len / RPC_MAX_FRAGMENT_PAYLOAD);
}
