/**
 * SMCCC function ids a guest puts in X0 before `HVC #0`: the PSCI calls the guests here make
 * and the page-relinquish call of quic/gunyah-test-vmm guests. The guest layer keeps its own
 * table (it must not import the hypervisor); the hypervisor's call table decides what they do.
 *
 * Reference: hypervisor.md §1 (SMCCC form), §2 (call 0x69, unverified); vmm-flows.md §6.6;
 * PSCI 1.1 function ids (SMC32 0x84000000 base, SMC64 0xC4000000 base).
 */

/** PSCI function ids (Arm DEN0022), upstream names. */
export const PsciFn = {
  CPU_OFF: 0x8400_0002,
  /** CPU_ON, SMC64: X1 target MPIDR, X2 entry point, X3 context id (X0 at the target's entry). */
  CPU_ON_64: 0xc400_0003,
  SYSTEM_OFF: 0x8400_0008,
  SYSTEM_RESET: 0x8400_0009,
} as const;
export type PsciFn = (typeof PsciFn)[keyof typeof PsciFn];

/**
 * Page relinquish as the TVMM guest issues it (hypervisor.md §2 n = 0x69, unverified):
 * X1 = 0, X2 = address, X3 = size, X4 = flags (bit 0 always 1, bit 1 sanitize, bit 2 flush).
 */
export const GUNYAH_PAGE_RELINQUISH_FN = 0xc600_8069;

/** Flag bits of the page-relinquish call (vmm-flows.md §6.6). */
export const RelinquishFlag = { ALWAYS: 0x1, SANITIZE: 0x2, FLUSH: 0x4 } as const;
