/**
 * VM console payloads: VM_CONSOLE_OPEN, VM_CONSOLE_CLOSE, VM_CONSOLE_FLUSH, VM_CONSOLE_WRITE.
 * (NOTIFY_VM_CONSOLE_CHARS is in notifications.ts.) All have standard replies.
 *
 * Reference: rm-rpc.md §12.7, §17 row 6.
 *
 * Decisions (docs/wire-format.md):
 * - OPEN/CLOSE/FLUSH are exactly 4 bytes: @0 u16 target (0 = self), @2 u16 res0. res0 has no
 *   stated check, so it is ignored on decode (written as 0).
 * - WRITE is exactly 4 + num_bytes (no padding); anything else → MSG_INVALID. A payload under
 *   4 bytes makes the real RM read out of bounds before its length check; decode reports
 *   MSG_INVALID, and an RM model that wants to mimic the out-of-bounds read must look first.
 */
import { rd16, Writer, expectAtLeast, expectLength, u16PadCodec, type PayloadCodec } from './codec.js';

/** OPEN / CLOSE / FLUSH: which console. */
export interface ConsoleTargetReq {
  /** 0 = the caller's own console; otherwise a VM the caller owns. */
  readonly target: number;
}
export const CONSOLE_TARGET_REQ: PayloadCodec<ConsoleTargetReq> = u16PadCodec('target', 'VM_CONSOLE request');

/** VM_CONSOLE_WRITE: @0 u16 target, @2 u16 num_bytes, @4 bytes. */
export interface ConsoleWriteReq {
  readonly target: number;
  readonly data: Uint8Array;
}
export const CONSOLE_WRITE_REQ: PayloadCodec<ConsoleWriteReq> = {
  encode: (v) => new Writer(4 + v.data.byteLength).u16(v.target, 'target').u16(v.data.byteLength, 'num_bytes').bytes(v.data).done(),
  decode(b) {
    expectAtLeast(b, 4, 'VM_CONSOLE_WRITE');
    const n = rd16(b, 2);
    expectLength(b, 4 + n, 'VM_CONSOLE_WRITE');
    return { target: rd16(b, 0), data: b.slice(4) };
  },
};
