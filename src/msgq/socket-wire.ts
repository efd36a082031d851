/**
 * Byte codec of the msgq socket transport ("remote hypercall" protocol, version 1): the
 * handshake, its answer, and the length-prefixed records that carry message-queue calls
 * between processes. Pure functions over bytes plus one stream splitter; no sockets here.
 *
 * Reference: hypervisor.md §4 (what a send/receive carries and returns: ≤ 1023-byte messages,
 * `ready`, PUSH, the hypervisor error as a signed word); rm-rpc.md §1 (the RM's own socket
 * transport is AF_UNIX datagrams, which Node lacks). The layout is ours and is documented byte
 * by byte in docs/socket-transport.md. All integers are little-endian.
 *
 *   HELLO  (client → server, 12 bytes)       WELCOME (server → client, 16 + n bytes)
 *   ┌──────┬─────┬────┬───┬──────┬───┐       ┌──────┬─────┬──────┬────┬─────┬─────┬─────┬───┬────────┐
 *   │"GMQS"│ver16│role│ 0 │vmid16│ 0 │       │"GMQS"│ver16│status│role│dep16│max16│len16│ 0 │reason…n│
 *   └──────┴─────┴────┴───┴──────┴───┘       └──────┴─────┴──────┴────┴─────┴─────┴─────┴───┴────────┘
 *
 *   RECORD (either way, after the handshake)
 *   ┌──────────────┬──────┬──────────────────────┐
 *   │ len (le32)   │ type │ body (len − 1 bytes) │   len counts type + body, never itself
 *   └──────────────┴──────┴──────────────────────┘
 *
 * Knows nothing about what the message bytes mean (they are RM RPC frames, or anything else).
 */
import { match } from 'ts-pattern';
import { assertU16, assertU32, concatBytes, view } from '../shared/bytes.js';
import { HypErrorCode, hypErrorName } from '../shared/hyp-errors.js';
import { WireError } from '../shared/wire-error.js';

/** Protocol version this code speaks. Bumped on any layout change; magic and version never move. */
export const MSGQ_SOCKET_VERSION = 1;
/** "GMQS" (gunyah msgq socket) as bytes 0–3 of the handshake and of its answer. */
export const MSGQ_SOCKET_MAGIC: readonly number[] = [0x47, 0x4d, 0x51, 0x53];
export const HELLO_SIZE = 12;
export const WELCOME_HDR_SIZE = 16;
/** Size of the record length field. */
export const RECORD_LEN_SIZE = 4;
/**
 * Largest message the wire carries. Every valid queue has max_msg_size < 1024
 * (hypervisor.md §4.1), so a longer message can never be queued by any queue.
 */
export const MAX_WIRE_MSG = 1023;
/** Longest detail/reason text a record or answer carries (UTF-8 bytes, truncated beyond). */
export const MAX_TEXT = 1023;
/** Largest `len` on an endpoint connection: type + s32 error + ready + 1023 bytes. */
export const MAX_ENDPOINT_RECORD_LEN = 1 + 5 + MAX_WIRE_MSG;
/** Largest `len` on a control connection: type + status + 4 MiB of JSON. */
export const MAX_CONTROL_JSON = 4 * 1024 * 1024;
export const MAX_CONTROL_RECORD_LEN = 1 + 1 + MAX_CONTROL_JSON;
/**
 * Size the server hands to the endpoint for a SEND flagged OVERSIZE (caller's message longer
 * than MAX_WIRE_MSG): one more than any valid max_msg_size, so the queue itself decides
 * between FULL, ARGUMENT_SIZE and the 12/2023 silent OK, exactly as for the real bytes.
 */
export const OVERSIZE_STANDIN = MAX_WIRE_MSG + 1;

/** Connection roles (HELLO byte 6). */
export const MsgqSocketRole = {
  endpoint: 1,
  control: 2,
} as const;
export type MsgqSocketRoleName = keyof typeof MsgqSocketRole;

/** WELCOME byte 6. */
export const WelcomeStatus = {
  ACCEPTED: 0,
  REFUSED: 1,
} as const;

/** Record types (byte 4 of a record). The only place these numbers appear. */
export const MsgqRecordType = {
  SEND: 0x01,
  SEND_RESULT: 0x02,
  RECV: 0x03,
  RECV_RESULT: 0x04,
  IRQ_RX: 0x05,
  IRQ_TX: 0x06,
  CONTROL_REQ: 0x10,
  CONTROL_RES: 0x11,
  ERROR: 0x7f,
} as const;
export type MsgqRecordTypeName = keyof typeof MsgqRecordType;

/** SEND flags (body byte 0). */
export const SEND_FLAG_PUSH = 0x01;
export const SEND_FLAG_OVERSIZE = 0x02;
/** RECV flags (body byte 0): use the server-side endpoint's default buffer size. */
export const RECV_FLAG_DEFAULT_BUF = 0x01;
/** CONTROL_RES status (body byte 0). */
export const ControlStatus = {
  OK: 0,
  ERROR: 1,
} as const;

/** The client's opening bytes. */
export interface Hello {
  readonly version: number;
  readonly role: MsgqSocketRoleName;
  /** VMID whose endpoint is wanted (endpoint role); 0 for control. */
  readonly vmid: number;
}

/** The server's answer to a HELLO. */
export type Welcome =
  | {
      readonly status: 'accepted';
      readonly version: number;
      readonly role: MsgqSocketRoleName;
      /** Depth of the server-side endpoint's TX queue; 0 when not known (and for control). */
      readonly depth: number;
      /** Max message size of the server-side endpoint; 0 for control. */
      readonly maxMsgSize: number;
    }
  | { readonly status: 'refused'; readonly version: number; readonly reason: string };

/** One decoded record. `error` is a hypervisor error value (0 = OK), never an unnamed one. */
export type MsgqRecord =
  | { readonly type: 'SEND'; readonly push: boolean; readonly oversize: boolean; readonly bytes: Uint8Array }
  | { readonly type: 'SEND_RESULT'; readonly error: number; readonly ready: boolean; readonly detail: string }
  | { readonly type: 'RECV'; readonly bufSize: number | undefined }
  | {
      readonly type: 'RECV_RESULT';
      readonly error: number;
      readonly ready: boolean;
      readonly bytes: Uint8Array;
      readonly detail: string;
    }
  | { readonly type: 'IRQ_RX' }
  | { readonly type: 'IRQ_TX' }
  | { readonly type: 'CONTROL_REQ'; readonly json: string }
  | { readonly type: 'CONTROL_RES'; readonly ok: true; readonly json: string }
  | { readonly type: 'CONTROL_RES'; readonly ok: false; readonly message: string }
  | { readonly type: 'ERROR'; readonly message: string }
  | { readonly type: 'unknown'; readonly raw: number };

// ---------------------------------------------------------------------------------------------
// Text helpers (UTF-8; decoders are made per call: no module-level objects)

/** UTF-8 bytes of `s`, cut to at most `max` bytes without splitting a character. */
export function utf8Capped(s: string, max = MAX_TEXT): Uint8Array {
  const b = new TextEncoder().encode(s);
  if (b.byteLength <= max) return b;
  let end = max;
  while (end > 0 && (b[end]! & 0xc0) === 0x80) end--; // back off continuation bytes
  return b.subarray(0, end);
}

function utf8Decode(b: Uint8Array, offset: number): string {
  try {
    return new TextDecoder('utf-8', { fatal: true }).decode(b);
  } catch {
    throw new WireError('bad-value', { what: 'text is not UTF-8', offset });
  }
}

// ---------------------------------------------------------------------------------------------
// Handshake

/** True while `b` (a handshake prefix of any length) still agrees with the magic. */
export function magicPrefixOk(b: Uint8Array): boolean {
  const n = Math.min(b.byteLength, MSGQ_SOCKET_MAGIC.length);
  for (let i = 0; i < n; i++) if (b[i] !== MSGQ_SOCKET_MAGIC[i]) return false;
  return true;
}

function writeMagic(out: Uint8Array): void {
  out.set(MSGQ_SOCKET_MAGIC, 0);
}

function roleName(raw: number, offset: number): MsgqSocketRoleName {
  if (raw === MsgqSocketRole.endpoint) return 'endpoint';
  if (raw === MsgqSocketRole.control) return 'control';
  throw new WireError('bad-value', { what: `role ${raw}`, offset });
}

/** Encode a HELLO (12 bytes). */
export function encodeHello(h: Hello): Uint8Array {
  assertU16(h.version, 'version');
  assertU16(h.vmid, 'vmid');
  const out = new Uint8Array(HELLO_SIZE);
  const v = view(out);
  writeMagic(out);
  v.setUint16(4, h.version, true);
  v.setUint8(6, MsgqSocketRole[h.role]);
  v.setUint16(8, h.vmid, true);
  return out;
}

/**
 * Decode a HELLO. The version is returned as sent: refusing a version is the server's call.
 * Magic and version sit at the same offsets in every version; the rest is read as version 1.
 * @throws WireError 'short' | 'bad-value' (magic, role) | 'reserved' (bytes 7, 10–11 not zero)
 */
export function decodeHello(b: Uint8Array): Hello {
  if (b.byteLength < HELLO_SIZE) throw new WireError('short', { what: `hello of ${b.byteLength} bytes`, offset: 0 });
  if (!magicPrefixOk(b)) throw new WireError('bad-value', { what: 'magic', offset: 0 });
  const v = view(b);
  const version = v.getUint16(4, true);
  const role = roleName(v.getUint8(6), 6);
  if (v.getUint8(7) !== 0) throw new WireError('reserved', { what: 'hello byte 7', offset: 7 });
  if (v.getUint16(10, true) !== 0) throw new WireError('reserved', { what: 'hello bytes 10-11', offset: 10 });
  return { version, role, vmid: v.getUint16(8, true) };
}

/** Encode a WELCOME (16 bytes, plus the reason text when refused). */
export function encodeWelcome(w: Welcome): Uint8Array {
  const reason = w.status === 'refused' ? utf8Capped(w.reason) : new Uint8Array(0);
  const out = new Uint8Array(WELCOME_HDR_SIZE + reason.byteLength);
  const v = view(out);
  writeMagic(out);
  v.setUint16(4, w.version, true);
  if (w.status === 'accepted') {
    assertU16(w.depth, 'depth');
    assertU16(w.maxMsgSize, 'maxMsgSize');
    v.setUint8(6, WelcomeStatus.ACCEPTED);
    v.setUint8(7, MsgqSocketRole[w.role]);
    v.setUint16(8, w.depth, true);
    v.setUint16(10, w.maxMsgSize, true);
  } else {
    v.setUint8(6, WelcomeStatus.REFUSED);
    v.setUint16(12, reason.byteLength, true);
    out.set(reason, WELCOME_HDR_SIZE);
  }
  return out;
}

/**
 * Total size of the WELCOME at the start of `b`, or undefined until its 16-byte header is in.
 * @throws WireError 'bad-value' when the magic is wrong (checked on whatever has arrived)
 */
export function welcomeSize(b: Uint8Array): number | undefined {
  if (!magicPrefixOk(b)) throw new WireError('bad-value', { what: 'welcome magic', offset: 0 });
  if (b.byteLength < WELCOME_HDR_SIZE) return undefined;
  return WELCOME_HDR_SIZE + view(b).getUint16(12, true);
}

/**
 * Decode a complete WELCOME (exactly `welcomeSize(b)` bytes).
 * @throws WireError 'short' | 'bad-value' | 'reserved'
 */
export function decodeWelcome(b: Uint8Array): Welcome {
  const size = welcomeSize(b);
  if (size === undefined || b.byteLength < size) throw new WireError('short', { what: 'welcome', offset: 0 });
  const v = view(b);
  const version = v.getUint16(4, true);
  const status = v.getUint8(6);
  if (v.getUint16(14, true) !== 0) throw new WireError('reserved', { what: 'welcome bytes 14-15', offset: 14 });
  if (status === WelcomeStatus.REFUSED) {
    return { status: 'refused', version, reason: utf8Decode(b.subarray(WELCOME_HDR_SIZE, size), WELCOME_HDR_SIZE) };
  }
  if (status !== WelcomeStatus.ACCEPTED) throw new WireError('bad-value', { what: `welcome status ${status}`, offset: 6 });
  if (size !== WELCOME_HDR_SIZE) throw new WireError('long', { what: 'reason text on an accepted welcome', offset: 12 });
  return {
    status: 'accepted',
    version,
    role: roleName(v.getUint8(7), 7),
    depth: v.getUint16(8, true),
    maxMsgSize: v.getUint16(10, true),
  };
}

// ---------------------------------------------------------------------------------------------
// Records

/** Frame `type` + `body` with the length prefix. */
function frame(type: number, ...body: Uint8Array[]): Uint8Array {
  const payload = concatBytes(body);
  const out = new Uint8Array(RECORD_LEN_SIZE + 1 + payload.byteLength);
  const v = view(out);
  v.setUint32(0, 1 + payload.byteLength, true);
  v.setUint8(4, type);
  out.set(payload, 5);
  return out;
}

/** s32 error + u8 ready, the fixed head of both result records. */
function resultHead(error: number, ready: boolean): Uint8Array {
  if (error !== 0 && hypErrorName(error) === undefined) throw new RangeError(`unnamed hypervisor error ${error}`);
  const b = new Uint8Array(5);
  const v = view(b);
  v.setInt32(0, error, true);
  v.setUint8(4, ready ? 1 : 0);
  return b;
}

/**
 * Encode one record, length prefix included. Encoders refuse what decoders would refuse.
 * @throws RangeError for a payload over MAX_WIRE_MSG, a bad buffer size or an unnamed error
 */
export function encodeRecord(r: Exclude<MsgqRecord, { type: 'unknown' }>): Uint8Array {
  return match(r)
    .with({ type: 'SEND' }, (r) => {
      if (r.bytes.byteLength > MAX_WIRE_MSG) throw new RangeError(`SEND payload ${r.bytes.byteLength} > ${MAX_WIRE_MSG}`);
      if (r.oversize && r.bytes.byteLength !== 0) throw new RangeError('an OVERSIZE SEND carries no payload');
      const flags = (r.push ? SEND_FLAG_PUSH : 0) | (r.oversize ? SEND_FLAG_OVERSIZE : 0);
      return frame(MsgqRecordType.SEND, Uint8Array.of(flags), r.bytes);
    })
    .with({ type: 'SEND_RESULT' }, (r) =>
      frame(MsgqRecordType.SEND_RESULT, resultHead(r.error, r.ready), r.error === 0 ? new Uint8Array(0) : utf8Capped(r.detail)),
    )
    .with({ type: 'RECV' }, (r) => {
      const b = new Uint8Array(5);
      if (r.bufSize === undefined) b[0] = RECV_FLAG_DEFAULT_BUF;
      else {
        assertU32(r.bufSize, 'bufSize');
        view(b).setUint32(1, r.bufSize, true);
      }
      return frame(MsgqRecordType.RECV, b);
    })
    .with({ type: 'RECV_RESULT' }, (r) => {
      if (r.bytes.byteLength > MAX_WIRE_MSG) throw new RangeError(`RECV_RESULT payload ${r.bytes.byteLength} > ${MAX_WIRE_MSG}`);
      const tail = r.error === 0 ? r.bytes : utf8Capped(r.detail);
      return frame(MsgqRecordType.RECV_RESULT, resultHead(r.error, r.ready), tail);
    })
    .with({ type: 'IRQ_RX' }, () => frame(MsgqRecordType.IRQ_RX))
    .with({ type: 'IRQ_TX' }, () => frame(MsgqRecordType.IRQ_TX))
    .with({ type: 'CONTROL_REQ' }, (r) => {
      const b = new TextEncoder().encode(r.json);
      if (b.byteLength > MAX_CONTROL_JSON) throw new RangeError(`control request of ${b.byteLength} bytes > ${MAX_CONTROL_JSON}`);
      return frame(MsgqRecordType.CONTROL_REQ, b);
    })
    .with({ type: 'CONTROL_RES', ok: false }, (r) => frame(MsgqRecordType.CONTROL_RES, Uint8Array.of(ControlStatus.ERROR), utf8Capped(r.message)))
    .with({ type: 'CONTROL_RES', ok: true }, (r) => {
      const b = new TextEncoder().encode(r.json);
      if (b.byteLength > MAX_CONTROL_JSON) throw new RangeError(`control reply of ${b.byteLength} bytes > ${MAX_CONTROL_JSON}`);
      return frame(MsgqRecordType.CONTROL_RES, Uint8Array.of(ControlStatus.OK), b);
    })
    .with({ type: 'ERROR' }, (r) => frame(MsgqRecordType.ERROR, utf8Capped(r.message)))
    .exhaustive();
}

/** A plain Uint8Array copy (never a Node Buffer, whose slice() would share memory or leak the type). */
function copyBytes(b: Uint8Array): Uint8Array {
  return new Uint8Array(b);
}

function needLen(body: Uint8Array, min: number, max: number, what: string): void {
  if (body.byteLength < min) throw new WireError('short', { what: `${what} body of ${body.byteLength} bytes`, offset: 5 });
  if (body.byteLength > max) throw new WireError('long', { what: `${what} body of ${body.byteLength} bytes`, offset: 5 });
}

function readyByte(b: number, offset: number): boolean {
  if (b > 1) throw new WireError('bad-value', { what: `ready ${b}`, offset });
  return b === 1;
}

function errorValue(v: DataView): number {
  const e = v.getInt32(0, true);
  if (e !== HypErrorCode.OK && hypErrorName(e) === undefined) throw new WireError('bad-value', { what: `hypervisor error ${e}`, offset: 5 });
  return e;
}

function checkJson(text: string, offset: number): string {
  try {
    JSON.parse(text);
  } catch {
    throw new WireError('bad-value', { what: 'control JSON does not parse', offset });
  }
  return text;
}

/**
 * Decode one record from its type byte and body (the bytes after the length field). An
 * unknown type decodes to `{ type: 'unknown' }`; the receiver decides (it closes the link).
 * Offsets in errors count from the start of the record (the length field).
 * @throws WireError 'short' | 'long' | 'reserved' | 'bad-value'
 */
export function decodeRecord(rec: Uint8Array): MsgqRecord {
  if (rec.byteLength < 1) throw new WireError('short', { what: 'empty record', offset: 4 });
  const type = rec[0]!;
  const body = rec.subarray(1);
  const v = view(body);
  switch (type) {
    case MsgqRecordType.SEND: {
      needLen(body, 1, 1 + MAX_WIRE_MSG, 'SEND');
      const flags = body[0]!;
      if (flags & ~(SEND_FLAG_PUSH | SEND_FLAG_OVERSIZE)) throw new WireError('reserved', { what: `SEND flags 0x${flags.toString(16)}`, offset: 5 });
      const oversize = (flags & SEND_FLAG_OVERSIZE) !== 0;
      if (oversize && body.byteLength !== 1) throw new WireError('long', { what: 'payload on an OVERSIZE SEND', offset: 6 });
      return { type: 'SEND', push: (flags & SEND_FLAG_PUSH) !== 0, oversize, bytes: copyBytes(body.subarray(1)) };
    }
    case MsgqRecordType.SEND_RESULT: {
      needLen(body, 5, 5 + MAX_TEXT, 'SEND_RESULT');
      const error = errorValue(v);
      const ready = readyByte(body[4]!, 9);
      if (error === 0 && body.byteLength !== 5) throw new WireError('long', { what: 'detail text on a successful SEND_RESULT', offset: 10 });
      return { type: 'SEND_RESULT', error, ready, detail: utf8Decode(body.subarray(5), 10) };
    }
    case MsgqRecordType.RECV: {
      needLen(body, 5, 5, 'RECV');
      const flags = body[0]!;
      if (flags & ~RECV_FLAG_DEFAULT_BUF) throw new WireError('reserved', { what: `RECV flags 0x${flags.toString(16)}`, offset: 5 });
      const size = v.getUint32(1, true);
      if (flags & RECV_FLAG_DEFAULT_BUF) {
        if (size !== 0) throw new WireError('reserved', { what: 'buffer size with DEFAULT_BUF', offset: 6 });
        return { type: 'RECV', bufSize: undefined };
      }
      return { type: 'RECV', bufSize: size };
    }
    case MsgqRecordType.RECV_RESULT: {
      needLen(body, 5, 5 + MAX_WIRE_MSG, 'RECV_RESULT');
      const error = errorValue(v);
      const ready = readyByte(body[4]!, 9);
      if (error === 0) return { type: 'RECV_RESULT', error, ready, bytes: copyBytes(body.subarray(5)), detail: '' };
      return { type: 'RECV_RESULT', error, ready, bytes: new Uint8Array(0), detail: utf8Decode(body.subarray(5), 10) };
    }
    case MsgqRecordType.IRQ_RX:
      needLen(body, 0, 0, 'IRQ_RX');
      return { type: 'IRQ_RX' };
    case MsgqRecordType.IRQ_TX:
      needLen(body, 0, 0, 'IRQ_TX');
      return { type: 'IRQ_TX' };
    case MsgqRecordType.CONTROL_REQ:
      needLen(body, 1, MAX_CONTROL_JSON, 'CONTROL_REQ');
      return { type: 'CONTROL_REQ', json: checkJson(utf8Decode(body, 5), 5) };
    case MsgqRecordType.CONTROL_RES: {
      needLen(body, 1, 1 + MAX_CONTROL_JSON, 'CONTROL_RES');
      const status = body[0]!;
      const text = utf8Decode(body.subarray(1), 6);
      if (status === ControlStatus.OK) return { type: 'CONTROL_RES', ok: true, json: checkJson(text, 6) };
      if (status === ControlStatus.ERROR) return { type: 'CONTROL_RES', ok: false, message: text };
      throw new WireError('bad-value', { what: `CONTROL_RES status ${status}`, offset: 5 });
    }
    case MsgqRecordType.ERROR:
      needLen(body, 0, MAX_TEXT, 'ERROR');
      return { type: 'ERROR', message: utf8Decode(body, 5) };
    default:
      return { type: 'unknown', raw: type };
  }
}

/**
 * Splits a byte stream into records. Bytes arrive in arbitrary chunks (a record may span
 * several 'data' events, or one event may hold several records); `next()` hands out each
 * complete record (type + body, without the length field) once all its bytes are in.
 *
 * The length is checked against `maxLen` as soon as its 4 bytes arrive, so an oversized
 * record is refused before its body is buffered.
 */
export class RecordReader {
  #buf: Uint8Array = new Uint8Array(0);

  constructor(readonly maxLen: number) {}

  /** Bytes held but not yet handed out. */
  get buffered(): number {
    return this.#buf.byteLength;
  }

  push(chunk: Uint8Array): void {
    this.#buf = this.#buf.byteLength === 0 ? chunk : concatBytes([this.#buf, chunk]);
  }

  /**
   * The next complete record, or undefined until more bytes arrive.
   * @throws WireError 'short' (len 0) | 'too-big' (len > maxLen)
   */
  next(): Uint8Array | undefined {
    const b = this.#buf;
    if (b.byteLength < RECORD_LEN_SIZE) return undefined;
    const len = view(b).getUint32(0, true);
    if (len === 0) throw new WireError('short', { what: 'record length 0', offset: 0 });
    if (len > this.maxLen) throw new WireError('too-big', { what: `record length ${len} > ${this.maxLen}`, offset: 0 });
    // INVARIANT: len ≤ maxLen, so the wait below is for a bounded number of bytes.
    if (b.byteLength < RECORD_LEN_SIZE + len) return undefined;
    const rec = b.subarray(RECORD_LEN_SIZE, RECORD_LEN_SIZE + len);
    this.#buf = b.subarray(RECORD_LEN_SIZE + len);
    return rec;
  }
}
