/**
 * Trace records of RM frames and replies: the frame in hex with its header decoded (type,
 * fragments, seq, message ID and name), and the name of a reply's error code. Pure: callers
 * build these only when a tracer is attached.
 *
 * Reference: rm-rpc.md §3 (header: api byte 0x21, byte 1 = type bits 1:0 | fragments << 2,
 * seq u16 @2, msg_id u32 @4), §4 (reply err_code u32 @8), error codes table; docs/tracing.md
 * (`rm.frame`).
 */
import { toHex } from '../../shared/bytes.js';
import { hx, type RmFrameEvent } from '../../shared/trace-events.js';
import { RPC_HDR_SIZE } from './header.js';
import { rmErrorName } from './errors.js';
import { rmIdLabel } from './msg-ids.js';

const TYPE_NAMES = ['continuation', 'request', 'reply', 'notification'] as const;

/** The `rm.frame` record of frame `b` seen by `side` going `dir` (`vmid`: the RM's link peer). */
export function rmFrameRecord(side: 'rm' | 'client', dir: 'tx' | 'rx', b: Uint8Array, vmid?: number): RmFrameEvent {
  const base = { kind: 'rm.frame' as const, side, ...(vmid !== undefined ? { vmid } : {}), dir, hex: toHex(b, '') };
  if (b.byteLength < RPC_HDR_SIZE) return base;
  const msgId = (b[4]! | (b[5]! << 8) | (b[6]! << 16) | (b[7]! << 24)) >>> 0;
  return {
    ...base,
    type: TYPE_NAMES[b[1]! & 0x3]!,
    fragments: b[1]! >>> 2,
    rmSeq: b[2]! | (b[3]! << 8),
    msgId,
    name: rmIdLabel(msgId),
  };
}

/** An RM error code's name ('OK', 'NOMEM', …), or `0x…` for a code the RM does not define. */
export function rmErrLabel(code: number): string {
  return rmErrorName(code) ?? hx(code >>> 0);
}
