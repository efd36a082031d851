/**
 * The SCMI message header and response framing (scmi-virtio.md §5, §6).
 *
 * Header, a little-endian u32: bits 7:0 message_id, 9:8 message_type, 17:10 protocol_id,
 * 27:18 token, 31:28 reserved. A response echoes the request's header word unchanged (reserved
 * bits included), then carries an s32 status; return values follow only on SUCCESS, so an error
 * response is exactly 8 bytes (§5 "Error responses").
 */
import type { ScmiHeader, ScmiReply, ScmiStatusCode } from './api.js';
import { ScmiStatus } from './api.js';

/** Bytes of the header word and of header + status. */
export const SCMI_HEADER_BYTES = 4;
export const SCMI_ERROR_REPLY_BYTES = 8;

/** Decode a header word (reserved bits 31:28 are not part of the fields). */
export function decodeHeader(word: number): ScmiHeader {
  return {
    messageId: word & 0xff,
    messageType: (word >>> 8) & 0x3,
    protocolId: (word >>> 10) & 0xff,
    token: (word >>> 18) & 0x3ff,
  };
}

/** Encode the fields of a header into a word (reserved bits 0). Throws RangeError on a field too wide. */
export function encodeHeader(h: ScmiHeader): number {
  checkField('messageId', h.messageId, 0xff);
  checkField('messageType', h.messageType, 0x3);
  checkField('protocolId', h.protocolId, 0xff);
  checkField('token', h.token, 0x3ff);
  return (h.messageId | (h.messageType << 8) | (h.protocolId << 10) | (h.token << 18)) >>> 0;
}

function checkField(name: string, v: number, max: number): void {
  if (!Number.isInteger(v) || v < 0 || v > max) {
    throw new RangeError(`SCMI header ${name} ${v} out of range 0..${max}`);
  }
}

/** The header word at the start of `request`, or undefined when fewer than 4 bytes. */
export function readHeaderWord(request: Uint8Array): number | undefined {
  if (request.length < SCMI_HEADER_BYTES) return undefined;
  return (request[0]! | (request[1]! << 8) | (request[2]! << 16) | (request[3]! << 24)) >>> 0;
}

/**
 * Frame a response: the header word as given, the s32 status and, on SUCCESS only, the payload.
 * Anything but SUCCESS is 8 bytes long whatever payload the reply carries.
 */
export function frameResponse(headerWord: number, reply: ScmiReply): Uint8Array {
  const payload = reply.status === ScmiStatus.SUCCESS ? reply.payload : undefined;
  const out = new Uint8Array(SCMI_ERROR_REPLY_BYTES + (payload?.length ?? 0));
  // Byte stores, not a DataView: a small typed array lives on the JS heap until its `.buffer`
  // is asked for, which costs an ArrayBuffer allocation per reply.
  const h = headerWord >>> 0;
  const st = reply.status >>> 0;
  out[0] = h;
  out[1] = h >>> 8;
  out[2] = h >>> 16;
  out[3] = h >>> 24;
  out[4] = st;
  out[5] = st >>> 8;
  out[6] = st >>> 16;
  out[7] = st >>> 24;
  if (payload) out.set(payload, SCMI_ERROR_REPLY_BYTES);
  return out;
}

/** Frame an error (header + status only). */
export function frameError(headerWord: number, status: ScmiStatusCode): Uint8Array {
  return frameResponse(headerWord, { status });
}

/** A decoded response: the echoed header word, status and return values. */
export interface ParsedResponse {
  readonly headerWord: number;
  readonly header: ScmiHeader;
  readonly status: number;
  readonly payload: Uint8Array;
}

/** Split a response (≥ 8 bytes) into header, status and payload; undefined when shorter. */
export function parseResponse(bytes: Uint8Array): ParsedResponse | undefined {
  if (bytes.length < SCMI_ERROR_REPLY_BYTES) return undefined;
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const headerWord = dv.getUint32(0, true);
  return {
    headerWord,
    header: decodeHeader(headerWord),
    status: dv.getInt32(4, true),
    payload: bytes.subarray(SCMI_ERROR_REPLY_BYTES),
  };
}

/** Build a request: header word then parameters (the guest side; tests use hand-typed bytes). */
export function buildRequest(header: ScmiHeader, params: Uint8Array = new Uint8Array(0)): Uint8Array {
  const out = new Uint8Array(SCMI_HEADER_BYTES + params.length);
  new DataView(out.buffer).setUint32(0, encodeHeader(header), true);
  out.set(params, SCMI_HEADER_BYTES);
  return out;
}
