/**
 * The hypercalls the host kernel makes, as an interface: what `src/vm-mgr` (the Linux Gunyah
 * driver model) may call in the hypervisor. Every call takes capids of the host's cspace and
 * answers with the hypervisor's error code (0 = OK) as the real SMCCC calls do; nothing here
 * throws for a refused call.
 *
 * Reference: hypervisor.md §2 (call numbers), §5 (doorbell send/mask), §6 (vcpu_run and its
 * states), §8 (memextent_donate, addrspace_map/unmap, attrs, flags), Linux v17 argument order.
 */

/** vcpu_run states (hypervisor.md §6). */
export const VcpuRunState = {
  READY: 0,
  EXPECTS_WAKEUP: 1,
  POWERED_OFF: 2,
  BLOCKED: 3,
  ADDRSPACE_VMMIO_READ: 4,
  ADDRSPACE_VMMIO_WRITE: 5,
  FAULT: 6,
  ADDRSPACE_PAGE_FAULT: 7,
  PSCI_SYSTEM_RESET: 0x100,
} as const;

/** VMMIO resume actions in resume word 1 (hypervisor.md §6; differ from the UAPI's). */
/** The host hypercalls a fault plan may name (src/shared/faults.ts HypercallFault.call). */
export const HOST_HYPERCALL_NAMES = ['vcpu_run', 'doorbell_send', 'doorbell_mask', 'memextent_donate', 'addrspace_map', 'addrspace_unmap'] as const;

export const VmmioAction = { EMULATE: 0, RETRY: 1, FAULT: 2 } as const;

/** memextent_donate option types (hypervisor.md §8). */
export const DonateType = { TO_CHILD: 0, TO_PARENT: 1, TO_SIBLING: 2, TO_PROTECTED: 3, FROM_PROTECTED: 4 } as const;
/** Option bit 31: no cache sync. */
export const DONATE_NOSYNC = 0x8000_0000;

/** addrspace_map flags (hypervisor.md §8). */
export const MapFlag = { PARTIAL: 0x1, PRIVATE: 0x2, VMMIO: 0x4, NOSYNC: 0x8000_0000 } as const;

/** What vcpu_run returns (X0 error, X1 state, X2..X4 data). */
export interface VcpuRunResult {
  /** Hypervisor error code; 0 = OK and the rest is meaningful. */
  readonly error: number;
  readonly state: number;
  readonly data0: bigint;
  readonly data1: bigint;
  readonly data2: bigint;
}

/** The host's hypercall surface. */
export interface HostHypercalls {
  /** vcpu_run (0x65): run a proxy-scheduled vCPU until it needs its host. */
  vcpuRun(capid: bigint, resume0: bigint, resume1: bigint, resume2: bigint): VcpuRunResult;
  /** doorbell_send (0x12). `oldFlags` is meaningful when `error` is 0. */
  doorbellSend(capid: bigint, newFlags: bigint): { error: number; oldFlags: bigint };
  /** doorbell_mask (0x15). */
  doorbellMask(capid: bigint, enableMask: bigint, ackMask: bigint): number;
  /** memextent_donate (0x61): options, from, to, offset (PA), size. */
  memextentDonate(options: number, fromCapid: bigint, toCapid: bigint, pa: number, size: number): number;
  /** addrspace_map (0x2B): addrspace, extent, vbase (IPA), attrs, flags, offset (PA), size. */
  addrspaceMap(asCapid: bigint, extentCapid: bigint, ipa: number, attrs: number, flags: number, pa: number, size: number): number;
  /** addrspace_unmap (0x2C): addrspace, extent, vbase, flags, offset (PA), size. */
  addrspaceUnmap(asCapid: bigint, extentCapid: bigint, ipa: number, flags: number, pa: number, size: number): number;
  /**
   * The host's interrupt line: `handler` runs (synchronously, from inside the hypervisor)
   * each time vIRQ `virq` of the host is asserted, e.g. a vCPU's wakeup vIRQ (hypervisor.md §6).
   * Returns an unsubscribe function.
   */
  onVirq(virq: number, handler: () => void): () => void;
  /** The host's own memory, through its stage 2 (identity-mapped); throws MemFault on a fault. */
  readMemory(pa: number, len: number): Uint8Array;
  writeMemory(pa: number, bytes: Uint8Array): void;
  /** Probe without access: undefined when the host may do `kind` at `pa`, else the fault reason. */
  probeMemory(pa: number, len: number, kind: 'read' | 'write'): 'unmapped' | 'permission' | undefined;
}
