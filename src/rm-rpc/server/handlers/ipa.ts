/**
 * IPA_RESERVE. IPA_UNRESERVE has no handler: the real RM answers it UNIMPLEMENTED.
 *
 * Reference: rm-rpc.md §12.8: the request's format checks (alloc_type, list of ≤ 30 entries,
 * exact length) come first, then "no address-space allocator → DENIED". No VM of this model
 * has an IPA allocator yet (it arrives with the memory model), so every well-formed request is
 * DENIED, as the real RM answers a VM without one.
 */
import { RmMsgId } from '../../wire/msg-ids.js';
import { IPA_RESERVE_REQ } from '../../wire/ipa.js';
import type { RmContext, Register } from '../context.js';
import { RmRefusal } from './refusal.js';

export function registerIpaHandlers(ctx: RmContext, reg: Register): void {
  reg(RmMsgId.IPA_RESERVE, ({ caller, payload }) => {
    IPA_RESERVE_REQ.decode(payload);
    throw new RmRefusal('DENIED', `VM ${caller} has no IPA allocator (${ctx.vms.size} VMs known)`);
  });
}
