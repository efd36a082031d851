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
import { assertU16, assertU32 } from '../../shared/bytes.js';
import {
  RPC_API_BYTE,
  RPC_HDR_SIZE,
  RPC_MAX_FRAGMENT_PAYLOAD,
  RpcMsgType,
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
  const isReply = m.kind === 'reply';
  const pre = isReply ? 4 : 0; // err_code leads a reply's body
  const payload = m.payload;
  const len = pre + payload.byteLength;
  const limit = side === 'linux' ? LINUX_MAX_REQUEST : RM_MAX_MESSAGE;
  if (len > limit) {
    throw new WireError('too-big', { what: `${m.kind} body of ${len} bytes, ${side} limit ${limit}` });
  }
  assertU16(m.seq, 'seq');
  assertU32(m.msgId, 'msg_id');
  const fragments = len === 0 ? 0 : Math.ceil(len / RPC_MAX_FRAGMENT_PAYLOAD) - 1;
  // One allocation for every frame; each frame is a view into it.
  const buf = new Uint8Array(len + (fragments + 1) * RPC_HDR_SIZE);
  const frames: Uint8Array[] = new Array<Uint8Array>(fragments + 1);
  const t0 = TYPE_OF[m.kind];
  let off = 0;
  for (let i = 0; i <= fragments; i++) {
    const start = i * RPC_MAX_FRAGMENT_PAYLOAD;
    const n = Math.min(len, start + RPC_MAX_FRAGMENT_PAYLOAD) - start;
    buf[off] = RPC_API_BYTE;
    buf[off + 1] = (fragments << 2) | (i === 0 ? t0 : RpcMsgType.CONTINUATION);
    buf[off + 2] = m.seq & 0xff;
    buf[off + 3] = m.seq >>> 8;
    buf[off + 4] = m.msgId & 0xff;
    buf[off + 5] = (m.msgId >>> 8) & 0xff;
    buf[off + 6] = (m.msgId >>> 16) & 0xff;
    buf[off + 7] = m.msgId >>> 24;
    let d = off + RPC_HDR_SIZE;
    let s = start;
    if (i === 0 && isReply) {
      const code = (m as RpcReply).errCode >>> 0;
      buf[d] = code & 0xff;
      buf[d + 1] = (code >>> 8) & 0xff;
      buf[d + 2] = (code >>> 16) & 0xff;
      buf[d + 3] = code >>> 24;
      d += 4;
      s += 4;
    }
    const end = start + n;
    // Copy this frame's share of the payload (the whole payload directly when it fits).
    if (end > s) buf.set(end - s === payload.byteLength ? payload : payload.subarray(s - pre, end - pre), d);
    // A single frame is the buffer itself: subarray() of a small (on-heap) array would make
    // V8 materialise its ArrayBuffer.
    frames[i] = fragments === 0 ? buf : buf.subarray(off, off + RPC_HDR_SIZE + n);
    off += RPC_HDR_SIZE + n;
  }
  return frames;
}

/**
 * Write frame `index` of a request into `out` (at least 240 bytes) and return its length: the
 * same bytes as `fragmentMessage(m, side)[index]`, without allocating. The caller has checked
 * the size limit with `fragmentMessage`'s rules (`requestFrames`).
 */
export function writeRequestFrame(out: Uint8Array, seq: number, msgId: number, payload: Uint8Array, fragments: number, index: number): number {
  const start = index * RPC_MAX_FRAGMENT_PAYLOAD;
  const n = Math.min(payload.byteLength, start + RPC_MAX_FRAGMENT_PAYLOAD) - start;
  out[0] = RPC_API_BYTE;
  out[1] = (fragments << 2) | (index === 0 ? RpcMsgType.REQUEST : RpcMsgType.CONTINUATION);
  out[2] = seq & 0xff;
  out[3] = seq >>> 8;
  out[4] = msgId & 0xff;
  out[5] = (msgId >>> 8) & 0xff;
  out[6] = (msgId >>> 16) & 0xff;
  out[7] = msgId >>> 24;
  if (n > 0) out.set(n === payload.byteLength ? payload : payload.subarray(start, start + n), RPC_HDR_SIZE);
  return RPC_HDR_SIZE + n;
}

/**
 * The number of continuations of a request of `len` bytes by `side`'s rules.
 * @throws WireError 'too-big' over that side's limit
 */
export function requestFragments(len: number, side: FragmentSide): number {
  const limit = side === 'linux' ? LINUX_MAX_REQUEST : RM_MAX_MESSAGE;
  if (len > limit) throw new WireError('too-big', { what: `request body of ${len} bytes, ${side} limit ${limit}` });
  return len === 0 ? 0 : Math.ceil(len / RPC_MAX_FRAGMENT_PAYLOAD) - 1;
}

/** Number of frames a body of `len` bytes takes. */
export function frameCount(len: number): number {
  return len === 0 ? 1 : Math.ceil(len / RPC_MAX_FRAGMENT_PAYLOAD);
}
