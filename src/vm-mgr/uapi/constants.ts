/**
 * The v17 `/dev/gunyah` flags and enums under their upstream names, plus the few generic Linux
 * constants a VMM needs with them (fallocate modes, eventfd flags).
 *
 * Reference: uapi.md §4 (flags and enums), §6.4 (fallocate modes of the guest-memory fd),
 * §8.13/§8.14 (eventfds for irqfd/ioeventfd); fallocate(2), eventfd(2) for the generic values.
 * Each number appears once; the grouped tables below reuse the named constants and give each
 * number space its union type and a name lookup.
 */
import { EFD_CLOEXEC, EFD_NONBLOCK, EFD_SEMAPHORE } from '../../host/eventfd.js';

/** The emulated host kernel's page size (a 4 KiB arm64 kernel); GUNYAH_VCPU_MMAP_SIZE returns it. */
export { HOST_PAGE_SIZE as PAGE_SIZE } from '../../host/user-memory.js';

// ── GUNYAH_CREATE_GUEST_MEM flags (gunyah_create_mem_args.flags) ───────────────────────────

/** The guest-memory fd gets O_CLOEXEC. */
export const GHMF_CLOEXEC = 0x1;
/** Try 2 MiB folios; bindings must then be 2 MiB aligned. */
export const GHMF_ALLOW_HUGEPAGE = 0x2;

// ── enum gunyah_fn_type ────────────────────────────────────────────────────────────────────

/** vCPU function; arg `gunyah_fn_vcpu_arg`. */
export const GUNYAH_FN_VCPU = 1;
/** irqfd function; arg `gunyah_fn_irqfd_arg`. */
export const GUNYAH_FN_IRQFD = 2;
/** ioeventfd function; arg `gunyah_fn_ioeventfd_arg`. */
export const GUNYAH_FN_IOEVENTFD = 3;
/** Largest `arg_size` GUNYAH_VM_ADD_FUNCTION accepts. */
export const GUNYAH_FN_MAX_ARG_SIZE = 256;

/** enum gunyah_fn_type. */
export const GunyahFnType = { GUNYAH_FN_VCPU, GUNYAH_FN_IRQFD, GUNYAH_FN_IOEVENTFD } as const;
export type GunyahFnType = (typeof GunyahFnType)[keyof typeof GunyahFnType];

// ── function flags ─────────────────────────────────────────────────────────────────────────

/** irqfd: level-style doorbell (uapi.md §8.13). */
export const GUNYAH_IRQFD_FLAGS_LEVEL = 0x1;
/** ioeventfd: signal only when the written value equals `datamatch`. */
export const GUNYAH_IOEVENTFD_FLAGS_DATAMATCH = 0x1;

// ── enum gunyah_map_flags (gunyah_map_mem_args.flags) ──────────────────────────────────────

/** Access field 0: the default, which v17 treats as lend. */
export const GUNYAH_MEM_DEFAULT_ACCESS = 0x0;
/** Access field 1: the host loses access while the guest uses the page. */
export const GUNYAH_MEM_FORCE_LEND = 0x1;
/** Access field 2: the host keeps access. */
export const GUNYAH_MEM_FORCE_SHARE = 0x2;
/** Bits 2:0, the access field; values 3..7 are rejected. */
export const GUNYAH_MEM_ACCESS_MASK = 0x7;
/** The guest may read. */
export const GUNYAH_MEM_ALLOW_READ = 0x10;
/** The guest may write. */
export const GUNYAH_MEM_ALLOW_WRITE = 0x20;
/** The guest may execute. */
export const GUNYAH_MEM_ALLOW_EXEC = 0x40;
/** READ | WRITE | EXEC. */
export const GUNYAH_MEM_ALLOW_RWX = GUNYAH_MEM_ALLOW_READ | GUNYAH_MEM_ALLOW_WRITE | GUNYAH_MEM_ALLOW_EXEC;
/** MAP_MEM removes the binding instead of adding it. */
export const GUNYAH_MEM_UNMAP = 0x100;

/** enum gunyah_map_flags. */
export const GunyahMapFlags = {
  GUNYAH_MEM_DEFAULT_ACCESS,
  GUNYAH_MEM_FORCE_LEND,
  GUNYAH_MEM_FORCE_SHARE,
  GUNYAH_MEM_ACCESS_MASK,
  GUNYAH_MEM_ALLOW_READ,
  GUNYAH_MEM_ALLOW_WRITE,
  GUNYAH_MEM_ALLOW_EXEC,
  GUNYAH_MEM_ALLOW_RWX,
  GUNYAH_MEM_UNMAP,
} as const;

// ── boot context registers ─────────────────────────────────────────────────────────────────

/** Register set X (index 0..31). */
export const REG_SET_X = 0;
/** Register set PC (index 0). */
export const REG_SET_PC = 1;
/** Register set SP (index 0..2). */
export const REG_SET_SP = 2;
/** enum gunyah_vm_boot_context_reg. */
export const GunyahBootContextRegSet = { REG_SET_X, REG_SET_PC, REG_SET_SP } as const;
export type GunyahBootContextRegSet = (typeof GunyahBootContextRegSet)[keyof typeof GunyahBootContextRegSet];
/** Shift of the register set in `gunyah_vm_boot_context.reg`. */
export const GUNYAH_VM_BOOT_CONTEXT_REG_SHIFT = 8;

/**
 * GUNYAH_VM_BOOT_CONTEXT_REG(reg, idx): the `reg` word for a register set and index,
 * `(set & 0xff) << 8 | (index & 0xff)`. E.g. X1 = 0x001, PC = 0x100, SP index 1 = 0x201.
 */
export function GUNYAH_VM_BOOT_CONTEXT_REG(regSet: number, index: number): number {
  return ((regSet & 0xff) << GUNYAH_VM_BOOT_CONTEXT_REG_SHIFT) | (index & 0xff);
}

// ── enum gunyah_vm_status (run page, STATUS exit) ──────────────────────────────────────────

/** The RM status was INIT_FAILED. */
export const GUNYAH_VM_STATUS_LOAD_FAILED = 1;
/** The RM status was EXITED; see exit_info. */
export const GUNYAH_VM_STATUS_EXITED = 2;
/** Any other non-RUNNING RM status. */
export const GUNYAH_VM_STATUS_CRASHED = 3;
/** enum gunyah_vm_status. */
export const GunyahVmStatus = { GUNYAH_VM_STATUS_LOAD_FAILED, GUNYAH_VM_STATUS_EXITED, GUNYAH_VM_STATUS_CRASHED } as const;
export type GunyahVmStatus = (typeof GunyahVmStatus)[keyof typeof GunyahVmStatus];
/** Size of `gunyah_vm_exit_info.reason`. */
export const GUNYAH_VM_MAX_EXIT_REASON_SIZE = 8;

// ── enum gunyah_vcpu_exit (run page exit_reason) ───────────────────────────────────────────

/** The zeroed page's initial value; the kernel never writes it. */
export const GUNYAH_VCPU_EXIT_UNKNOWN = 0;
/** The MMIO arm is valid. */
export const GUNYAH_VCPU_EXIT_MMIO = 1;
/** The status arm is valid. */
export const GUNYAH_VCPU_EXIT_STATUS = 2;
/** The page-fault arm is valid. */
export const GUNYAH_VCPU_EXIT_PAGE_FAULT = 3;
/** enum gunyah_vcpu_exit. */
export const GunyahVcpuExit = {
  GUNYAH_VCPU_EXIT_UNKNOWN,
  GUNYAH_VCPU_EXIT_MMIO,
  GUNYAH_VCPU_EXIT_STATUS,
  GUNYAH_VCPU_EXIT_PAGE_FAULT,
} as const;
export type GunyahVcpuExit = (typeof GunyahVcpuExit)[keyof typeof GunyahVcpuExit];

// ── enum gunyah_vcpu_resume_action (run page mmio/page_fault resume_action) ────────────────

/** The VMM handled the access (for a read, mmio.data holds the value). */
export const GUNYAH_VCPU_RESUME_HANDLED = 0;
/** Inject the fault back into the guest. */
export const GUNYAH_VCPU_RESUME_FAULT = 1;
/** Re-execute the access. */
export const GUNYAH_VCPU_RESUME_RETRY = 2;
/** enum gunyah_vcpu_resume_action. */
export const GunyahVcpuResumeAction = {
  GUNYAH_VCPU_RESUME_HANDLED,
  GUNYAH_VCPU_RESUME_FAULT,
  GUNYAH_VCPU_RESUME_RETRY,
} as const;
export type GunyahVcpuResumeAction = (typeof GunyahVcpuResumeAction)[keyof typeof GunyahVcpuResumeAction];

// ── fallocate(2) modes (guest-memory fd, uapi.md §6.4) ─────────────────────────────────────

/** Do not change the file size. Required by the guest-memory fd. */
export const FALLOC_FL_KEEP_SIZE = 0x1;
/** Deallocate the range (with KEEP_SIZE). */
export const FALLOC_FL_PUNCH_HOLE = 0x2;
/** Zero the range; the guest-memory fd only pre-allocates (it does not zero). */
export const FALLOC_FL_ZERO_RANGE = 0x10;

// ── eventfd(2) flags (defined with the eventfd model) ──────────────────────────────────────

export { EFD_SEMAPHORE, EFD_NONBLOCK, EFD_CLOEXEC };

/** The name of `value` in one of the tables above, or undefined. */
export function constantName<T extends Readonly<Record<string, number>>>(table: T, value: number): keyof T | undefined {
  for (const [name, v] of Object.entries(table)) if (v === value) return name as keyof T;
  return undefined;
}
