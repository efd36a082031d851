/**
 * The 8-byte RM RPC header and single-frame codec.
 *
 * Reference: rm-rpc.md §2–§3 (Linux `struct gunyah_rm_rpc_hdr`, RM `write_rpc_header()`).
 *
 *   byte 0      byte 1                 bytes 2-3   bytes 4-7     [bytes 8-11]
 *   ┌─────────┬──────────────────────┬───────────┬─────────────┬──────────────┐
 *   │ 0x21    │ fragments<<2 | type  │ seq (le16)│ msg_id(le32)│ err (le32)   │ payload…
 *   └─────────┴──────────────────────┴───────────┴─────────────┴──────────────┘
 *   api v1, 2 header words            err_code only in the first fragment of a REPLY
 */
import { WireError } from '../../shared/wire-error.js';
import { assertU16, assertU32, view } from '../../shared/bytes.js';

export const RPC_HDR_SIZE = 8;
/** First reply fragment: header + u32 err_code. */
export const RPC_REPLY_HDR_SIZE = 12;
/** api_version 1 (bits 3:0) | header_words 2 (bits 7:4). */
export const RPC_API_BYTE = 0x21;
/** Largest message-queue message on the RM link. */
export const RPC_MAX_FRAME = 240;
/** Payload bytes per fragment (240 − 8). */
export const RPC_MAX_FRAGMENT_PAYLOAD = 232;
/** The fragments field is 6 bits wide. */
export const RPC_FRAGMENTS_FIELD_MAX = 63;

/** Message types (byte 1, bits 1:0). */
export const RpcMsgType = {
  CONTINUATION: 0,
  REQUEST: 1,
  REPLY: 2,
  NOTIFICATION: 3,
} as const;
export type RpcMsgTypeName = keyof typeof RpcMsgType;
export type RpcMsgTypeValue = (typeof RpcMsgType)[RpcMsgTypeName];

/** The decoded header of one frame. */
export interface RpcHeader {
  readonly msgType: RpcMsgTypeValue;
  /** Continuations after the first frame (repeated in every frame). */
  readonly fragments: number;
  readonly seq: number;
  readonly msgId: number;
}

/**
 * One message-queue frame of the RM protocol. For a REPLY frame `errCode` is the u32 at
 * bytes 8–11 and `payload` starts at byte 12; for every other type `payload` starts at byte 8.
 */
export type RpcFrame =
  | (RpcHeader & { readonly msgType: 0 | 1 | 3; readonly payload: Uint8Array })
  | (RpcHeader & { readonly msgType: 2; readonly errCode: number; readonly payload: Uint8Array });

/** Write the 8-byte header at `off`. */
export function encodeRpcHeader(h: RpcHeader, out: DataView, off = 0): void {
  if (h.fragments < 0 || h.fragments > RPC_FRAGMENTS_FIELD_MAX || !Number.isInteger(h.fragments)) {
    throw new RangeError(`fragments must be 0..63, got ${h.fragments}`);
  }
  assertU16(h.seq, 'seq');
  assertU32(h.msgId, 'msg_id');
  out.setUint8(off, RPC_API_BYTE);
  out.setUint8(off + 1, (h.fragments << 2) | h.msgType);
  out.setUint16(off + 2, h.seq, true);
  out.setUint32(off + 4, h.msgId, true);
}

/**
 * Read the 8-byte header. Checks the length and the api byte only; what a receiver does with
 * a fragments value is that receiver's rule.
 * @throws WireError 'short' (< 8 bytes), 'bad-api' (byte 0 ≠ 0x21)
 */
export function decodeRpcHeader(b: Uint8Array): RpcHeader {
  if (b.byteLength < RPC_HDR_SIZE) throw new WireError('short', { what: `frame of ${b.byteLength} bytes`, offset: 0 });
  if (b[0] !== RPC_API_BYTE) throw new WireError('bad-api', { what: `api byte 0x${b[0]!.toString(16)}`, offset: 0 });
  const v = view(b);
  const t = b[1]!;
  return { msgType: (t & 0x3) as RpcMsgTypeValue, fragments: t >>> 2, seq: v.getUint16(2, true), msgId: v.getUint32(4, true) };
}

/** Encode one frame (header, err_code for REPLY, payload). */
export function encodeRpcFrame(f: RpcFrame): Uint8Array {
  const hdr = f.msgType === RpcMsgType.REPLY ? RPC_REPLY_HDR_SIZE : RPC_HDR_SIZE;
  const out = new Uint8Array(hdr + f.payload.byteLength);
  const v = view(out);
  encodeRpcHeader(f, v);
  if (f.msgType === RpcMsgType.REPLY) {
    assertU32(f.errCode, 'err_code');
    v.setUint32(8, f.errCode, true);
  }
  out.set(f.payload, hdr);
  return out;
}

/**
 * Decode one frame. The payload is a view into `b` (no copy).
 * @throws WireError 'short' (under 8 bytes, or a REPLY under 12), 'bad-api'
 */
export function decodeRpcFrame(b: Uint8Array): RpcFrame {
  const h = decodeRpcHeader(b);
  if (h.msgType === RpcMsgType.REPLY) {
    if (b.byteLength < RPC_REPLY_HDR_SIZE) throw new WireError('short', { what: `reply of ${b.byteLength} bytes`, offset: 8 });
    return { ...h, msgType: 2, errCode: view(b).getUint32(8, true), payload: b.subarray(RPC_REPLY_HDR_SIZE) };
  }
  return { ...h, msgType: h.msgType, payload: b.subarray(RPC_HDR_SIZE) };
}
