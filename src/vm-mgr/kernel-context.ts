/**
 * What every part of the VM manager shares within one emulator: the hypercall surface, the RM
 * client, the page allocator, the registered function types, the quirk switches, logging and
 * tracing. One per emulator; nothing module-level.
 *
 * Reference: DESIGN.md (host kernel model), uapi.md §8.1 (function types), §9 (QUIRKs).
 */
import type { HostHypercalls } from '../hyp/host-api.js';
import type { RmCalls } from '../rm-rpc/client/rm-calls.js';
import type { Logger } from '../shared/log.js';
import type { Tracer } from '../shared/trace-events.js';
import type { PageAllocator } from './page-allocator.js';
import type { KernelQuirks, VmFunctionType } from './vm-api.js';

export interface KernelContext {
  readonly hyp: HostHypercalls;
  /** The host's RM calls. @throws ErrnoError ENODEV while the host RM link is held by a raw user */
  rm(): RmCalls;
  readonly pages: PageAllocator;
  readonly functionTypes: ReadonlyMap<number, VmFunctionType>;
  readonly quirks: KernelQuirks;
  readonly log: Logger;
  readonly trace: Tracer | undefined;
  /** The host's own VMID (VM_GET_VMID, cached). */
  hostVmid(): Promise<number>;
  /** Physical cores: not checked by the kernel (the RM refuses too many vCPUs). */
  readonly registerVm: (vm: { readonly vmid: number; onExited(type: number, reason: Uint8Array): void; onReset(): void }) => () => void;
}
