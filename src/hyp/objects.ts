/**
 * The hypervisor's object record: what a capability points at (vCPU threads, doorbells,
 * message queues, address spaces, memory extents, …). Kept apart from hypervisor.ts so that the
 * per-object models (vcpu-thread.ts, doorbell.ts, guest-vm.ts, host-hypercalls.ts) can name it
 * without importing the Hypervisor class (no import cycles).
 *
 * Reference: hypervisor.md §2 (object kinds), §10 (capability rights per object kind).
 */

export type HypObjectType = 'vcpu' | 'doorbell' | 'msgqueue' | 'addrspace' | 'memextent' | 'vpm-group' | 'watchdog';

export interface HypObject {
  readonly id: number;
  readonly type: HypObjectType;
  /** The VM this object belongs to (its partition's guest). */
  readonly vmid: number;
  /** Free-form attributes (vCPU affinity index, doorbell label, …). */
  readonly attrs: Readonly<Record<string, number | bigint | string | boolean>>;
}

/** Capability rights (hypervisor.md §10). */
export const CapRights = {
  /** Thread (vCPU) rights. */
  VCPU_POWER: 0x1,
  VCPU_AFFINITY: 0x2,
  VCPU_YIELD_TO: 0x10,
  VCPU_BIND_VIRQ: 0x20,
  VCPU_STATE: 0x40,
  /** Doorbell rights. */
  DOORBELL_SEND: 0x1,
  DOORBELL_RECEIVE: 0x2,
  DOORBELL_BIND: 0x4,
  /** Memextent rights. */
  MEMEXTENT_MAP: 0x1,
  MEMEXTENT_DERIVE: 0x2,
  MEMEXTENT_ATTACH: 0x4,
  MEMEXTENT_LOOKUP: 0x8,
  MEMEXTENT_DONATE: 0x10,
  /** Addrspace rights. */
  ADDRSPACE_ATTACH: 0x1,
  ADDRSPACE_MAP: 0x2,
  ADDRSPACE_LOOKUP: 0x4,
} as const;
