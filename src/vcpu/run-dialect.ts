/**
 * What the vCPU does differently for a VM of the older `gh_` dialect (the v14 series and the
 * Android Common Kernel) than for a v17 `gunyah_` VM: a small table of rules that Vcpu and
 * VcpuFile read, fixed per vCPU when it is created. Everything not listed here is the same in
 * both dialects (the run lock, immediate_exit, the wakeup sleep, STATUS exits, the run-page
 * mapping, the vCPU function bind and its resource ticket, the trace records).
 *
 * Reference: README.md §Dialects (run page of 40 bytes with the same offsets, no
 * `resume_action` byte and no page-fault arm, exit reasons 0..2, implicit MMIO completion,
 * VCPU_RUN before VM_START starts the VM); vmm-flows.md §7 (crosvm and QEMU write a read's
 * value into `mmio.data` and RUN again), §9 Q1; uapi.md §5, §8.4–§8.10 (the v17 baseline).
 *
 * Public facts about the v14 driver's vCPU (drivers/virt/gunyah/gunyah_vcpu.c of the v14
 * series), which the `gh_` rules encode:
 * - Its internal states are UNKNOWN, READY, MMIO_READ and SYSTEM_DOWN: there is no MMIO_WRITE.
 *   A write exit leaves the state READY, so the next RUN resumes the guest with zero resume
 *   words (EMULATE).
 * - Completion is implicit. After a read exit, the next RUN takes the first `len` bytes of
 *   `mmio.data` (len clamped to 8) as resume word 0, word 1 stays 0 (EMULATE). Nothing reads a
 *   resume action, so no byte of the page can make RUN fail with EINVAL; offset 37 (v17's
 *   `mmio.resume_action`) is padding the kernel never writes.
 * - There is no demand paging (the VM's memory was all given at start): an MMIO fault goes
 *   straight to the exit, and hypervisor state ADDRSPACE_PAGE_FAULT (7) is an unknown state,
 *   which gets a rate-limited warning and a reschedule (it spins, as QUIRK K14 does).
 * - The vCPU fd answers RUN and MMAP_SIZE; any other request is EINVAL (v17: ENOTTY).
 * - The Android kernel makes sure the VM is started at the top of RUN (vmm-flows.md Q1): a VM
 *   that was never started is started then, a failed start's errno is RUN's, and a VM that is
 *   not RUNNING afterwards gives ENODEV. The VM manager does the start (`VmHandle.ensureStarted`);
 *   the vCPU decides when to call it (docs/decisions.md GV1, GV2).
 */
import type { ErrnoName } from '../shared/errno.js';
import type { UapiDialect } from '../vm-mgr/vm-api.js';

/** One dialect's vCPU rules. */
export interface VcpuRules {
  readonly dialect: UapiDialect;
  /**
   * v17: the page has `mmio.resume_action` (@37): preset to HANDLED at every MMIO exit and read
   * at the next RUN (§8.7). gh_: no such byte; the next RUN completes as HANDLED would.
   */
  readonly resumeAction: boolean;
  /**
   * v17: an MMIO fault first tries demand paging (§8.6 step 2) and state ADDRSPACE_PAGE_FAULT
   * has its page-fault exit (§8.8). gh_: neither; state 7 is unknown to the kernel.
   */
  readonly demandPaging: boolean;
  /** v17: a write exit leaves the state MMIO_WRITE. gh_: it stays READY. */
  readonly mmioWriteState: boolean;
  /** The errno of a vCPU fd ioctl other than RUN and MMAP_SIZE. */
  readonly unknownIoctl: ErrnoName;
  /** gh_ (Android): RUN makes sure the VM is started before anything else. */
  readonly startsVm: boolean;
}

/** uapi.md §5, §6.3, §8.4–§8.8: the primary dialect. */
export const V17_VCPU_RULES: VcpuRules = Object.freeze({
  dialect: 'v17',
  resumeAction: true,
  demandPaging: true,
  mmioWriteState: true,
  unknownIoctl: 'ENOTTY',
  startsVm: false,
});

/** README.md §Dialects and the v14 facts above. */
export const GH_VCPU_RULES: VcpuRules = Object.freeze({
  dialect: 'gh',
  resumeAction: false,
  demandPaging: false,
  mmioWriteState: false,
  unknownIoctl: 'EINVAL',
  startsVm: true,
});

/** The rules for a VM of `dialect` (absent: v17). */
export function vcpuRules(dialect: UapiDialect | undefined): VcpuRules {
  return dialect === 'gh' ? GH_VCPU_RULES : V17_VCPU_RULES;
}
