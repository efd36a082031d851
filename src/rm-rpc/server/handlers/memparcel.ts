/**
 * Memory parcel messages (MEM_LEND, MEM_SHARE, MEM_DONATE, MEM_ACCEPT, MEM_RELEASE,
 * MEM_RECLAIM, MEM_NOTIFY, MEM_APPEND, MEM_QCOM_LOOKUP_SGL).
 *
 * Not registered yet: the memory model (extents, ownership, stage-2) they act on is the next
 * layer to be built. Until then the server answers them as the real RM answers any message it
 * has no handler for: UNIMPLEMENTED (rm-rpc.md §8.1). Platform parcels exist meanwhile
 * (RmControl.seedParcel) so that VM creation can be exercised.
 */
import type { RmContext, Register } from '../context.js';

export function registerMemparcelHandlers(_ctx: RmContext, _reg: Register): void {
  // Intentionally empty: see the header comment.
}
