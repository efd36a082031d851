/**
 * What the RM conformance suite runs against: an RM reachable through raw message-queue ends,
 * one RM link per VM, plus an optional out-of-band control surface.
 *
 * Reference: rm-rpc.md §1 (one queue pair per client VM, 240-byte messages, depth 8) and
 * hypervisor.md §4 (send → ready / ERROR_MSGQUEUE_FULL, receive → ready). The suite speaks
 * the wire protocol only; it never looks inside the RM. Adapters (the builtin RM, a Unix or
 * TCP socket) implement these two interfaces; the suite knows nothing of how.
 */
import type { RmControl } from '../rm-rpc/server/control.js';

/** The raw RM link of one VM: the VM's own TX and RX message queues. */
export interface RawRmChannel {
  /** One message-queue send on this VM's RM link. @rejects HypError (ERROR_MSGQUEUE_FULL ...) */
  send(frame: Uint8Array, opts?: { push?: boolean }): Promise<{ ready: boolean }>;
  /** Next message from the RM; resolves undefined if none arrives within timeoutMs (default 2000). */
  recv(opts?: { timeoutMs?: number }): Promise<{ bytes: Uint8Array; ready: boolean } | undefined>;
  close(): Promise<void>;
}

/** An RM under test. */
export interface RmTarget {
  readonly name: string;
  /** The RM link of VM `vmid` (3 = HLOS, the default VMM host). Rejects if that VM has no RM link. */
  open(vmid: number): Promise<RawRmChannel>;
  /** Out-of-band control; cases that need it are reported as skipped when absent. */
  readonly control?: RmControl;
  close(): Promise<void>;
}
