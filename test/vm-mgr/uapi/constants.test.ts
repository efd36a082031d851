// Flags and enums of uapi.md §4 (and the fallocate/eventfd values of §6.4, fallocate(2),
// eventfd(2) on arm64), typed by hand from the sheet.
import { describe, it, expect } from 'vitest';
import * as U from '../../../src/vm-mgr/uapi/index.js';

const SHEET: Record<string, number> = {
  GHMF_CLOEXEC: 0x1,
  GHMF_ALLOW_HUGEPAGE: 0x2,
  GUNYAH_FN_VCPU: 1,
  GUNYAH_FN_IRQFD: 2,
  GUNYAH_FN_IOEVENTFD: 3,
  GUNYAH_FN_MAX_ARG_SIZE: 256,
  GUNYAH_IRQFD_FLAGS_LEVEL: 0x1,
  GUNYAH_IOEVENTFD_FLAGS_DATAMATCH: 0x1,
  GUNYAH_MEM_DEFAULT_ACCESS: 0,
  GUNYAH_MEM_FORCE_LEND: 1,
  GUNYAH_MEM_FORCE_SHARE: 2,
  GUNYAH_MEM_ACCESS_MASK: 0x7,
  GUNYAH_MEM_ALLOW_READ: 0x10,
  GUNYAH_MEM_ALLOW_WRITE: 0x20,
  GUNYAH_MEM_ALLOW_EXEC: 0x40,
  GUNYAH_MEM_ALLOW_RWX: 0x70,
  GUNYAH_MEM_UNMAP: 0x100,
  REG_SET_X: 0,
  REG_SET_PC: 1,
  REG_SET_SP: 2,
  GUNYAH_VM_BOOT_CONTEXT_REG_SHIFT: 8,
  GUNYAH_VM_STATUS_LOAD_FAILED: 1,
  GUNYAH_VM_STATUS_EXITED: 2,
  GUNYAH_VM_STATUS_CRASHED: 3,
  GUNYAH_VM_MAX_EXIT_REASON_SIZE: 8,
  GUNYAH_VCPU_EXIT_UNKNOWN: 0,
  GUNYAH_VCPU_EXIT_MMIO: 1,
  GUNYAH_VCPU_EXIT_STATUS: 2,
  GUNYAH_VCPU_EXIT_PAGE_FAULT: 3,
  GUNYAH_VCPU_RESUME_HANDLED: 0,
  GUNYAH_VCPU_RESUME_FAULT: 1,
  GUNYAH_VCPU_RESUME_RETRY: 2,
  FALLOC_FL_KEEP_SIZE: 0x1,
  FALLOC_FL_PUNCH_HOLE: 0x2,
  FALLOC_FL_ZERO_RANGE: 0x10,
  EFD_SEMAPHORE: 0x1,
  EFD_NONBLOCK: 0x800,
  EFD_CLOEXEC: 0x80000,
  PAGE_SIZE: 4096,
};

describe('UAPI constants (uapi.md §4)', () => {
  it.each(Object.entries(SHEET))('%s = %i', (name, value) => {
    expect((U as Record<string, unknown>)[name]).toBe(value);
  });

  it('GUNYAH_VM_BOOT_CONTEXT_REG builds the sheet examples', () => {
    expect(U.GUNYAH_VM_BOOT_CONTEXT_REG(U.REG_SET_X, 0)).toBe(0x000);
    expect(U.GUNYAH_VM_BOOT_CONTEXT_REG(U.REG_SET_X, 1)).toBe(0x001);
    expect(U.GUNYAH_VM_BOOT_CONTEXT_REG(U.REG_SET_PC, 0)).toBe(0x100);
    expect(U.GUNYAH_VM_BOOT_CONTEXT_REG(U.REG_SET_SP, 1)).toBe(0x201);
    expect(U.GUNYAH_VM_BOOT_CONTEXT_REG(0x1ff, 0x1ff)).toBe(0xffff);
  });

  it('grouped tables give names back', () => {
    expect(U.constantName(U.GunyahVcpuExit, 3)).toBe('GUNYAH_VCPU_EXIT_PAGE_FAULT');
    expect(U.constantName(U.GunyahFnType, 2)).toBe('GUNYAH_FN_IRQFD');
    expect(U.constantName(U.GunyahVmStatus, 9)).toBeUndefined();
    expect(Object.keys(U.GunyahVcpuResumeAction)).toEqual([
      'GUNYAH_VCPU_RESUME_HANDLED',
      'GUNYAH_VCPU_RESUME_FAULT',
      'GUNYAH_VCPU_RESUME_RETRY',
    ]);
  });
});
