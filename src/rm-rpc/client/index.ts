/** The host kernel's RM RPC client: framing, seqs, reply matching, notifications, typed calls. */
export { RmClient, createRmClient } from './rm-client.js';
export type { RmClientOptions, RmCallOptions, RmClientEvents, RmNotificationEvent, RmClientDropReason } from './rm-client.js';
export { RmCalls, onVmExited, onVmStatus, LINUX_STOP_FLAGS, LINUX_STOP_REASON, MAX_ACL_ENTRIES, MAX_SGL_PER_MESSAGE } from './rm-calls.js';
export type { MemShareParams } from './rm-calls.js';
export { createSeqAllocator } from './seq-allocator.js';
export type { SeqAllocator } from './seq-allocator.js';
