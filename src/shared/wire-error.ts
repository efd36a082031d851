/**
 * WireError: malformed bytes at a protocol boundary. Carries what was wrong and where, and,
 * for RM payloads, the RM error the real RM answers such a payload with (rm-rpc.md §10).
 */

/** Why a byte string was rejected. */
export type WireErrorReason =
  | 'short'          // fewer bytes than the fixed part needs
  | 'long'           // more bytes than the layout allows (exact-length messages, leftovers)
  | 'bad-api'        // RPC byte 0 is not 0x21
  | 'bad-type'       // a message type the receiver does not take here
  | 'bad-fragments'  // fragment count over the receiver's limit
  | 'too-big'        // the message exceeds the sender's maximum
  | 'list-header'    // 1..3 bytes where a list header belongs
  | 'list-count'     // a list count over its maximum
  | 'list-overrun'   // list entries past the end of the buffer
  | 'reserved'       // a reserved or padding field is not zero where a check exists
  | 'bad-value'      // a field has a value outside its enum
  | 'bad-fdt';       // a flattened device tree is malformed

/** RM error names that a malformed payload maps to (rm-rpc.md §10). */
export type WireRmError = 'MSG_INVALID' | 'NORESOURCE' | 'ARGUMENT_INVALID' | 'UNIMPLEMENTED';

export class WireError extends Error {
  override readonly name = 'WireError';

  constructor(
    readonly reason: WireErrorReason,
    readonly detail: { offset?: number; what?: string; rmError?: WireRmError } = {},
  ) {
    super(`${reason}${detail.what ? `: ${detail.what}` : ''}${detail.offset !== undefined ? ` at byte ${detail.offset}` : ''}`);
  }

  /** The RM error a real RM answers with for this payload; MSG_INVALID unless the layout says otherwise. */
  get rmError(): WireRmError {
    return this.detail.rmError ?? 'MSG_INVALID';
  }
}

export function isWireError(e: unknown): e is WireError {
  return e instanceof WireError;
}
