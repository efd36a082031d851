/**
 * The gh_ UAPI tables and codecs (src/vm-mgr/gh/gh-uapi.ts) against the values and byte layouts
 * typed by hand from README.md §Dialects (and uapi.md §2 for the numbers gh_ shares with v17).
 */
import { describe, expect, it } from 'vitest';
import {
  GH_CAP_VCPU_TIMER_WAKEUP,
  GH_MEM_ALLOW_EXEC,
  GH_MEM_ALLOW_READ,
  GH_MEM_ALLOW_WRITE,
  GhIoctl,
  GhVmAuth,
  decodeGhFwConfig,
  decodeGhUserMemRegion,
  encodeGhFwConfig,
  encodeGhUserMemRegion,
  ghIoctlName,
} from '../../../src/vm-mgr/gh/gh-uapi.js';
import { isWireError } from '../../../src/shared/wire-error.js';

describe('gh_ request numbers (README.md §Dialects)', () => {
  it('every name has the value of the sheet', () => {
    expect(GhIoctl).toEqual({
      GH_CREATE_VM: 0x0000_4700,
      GH_VM_SET_USER_MEM_REGION: 0x4020_4701,
      GH_VM_SET_DTB_CONFIG: 0x4010_4702,
      GH_VM_START: 0x0000_4703,
      GH_VM_ADD_FUNCTION: 0x4010_4704,
      GH_VCPU_RUN: 0x0000_4705,
      GH_VCPU_MMAP_SIZE: 0x0000_4706,
      GH_VM_REMOVE_FUNCTION: 0x4010_4707,
      GH_ANDROID_TENTATIVE_UAPI: 0x0000_4110,
      GH_VM_ANDROID_LEND_USER_MEM: 0x4020_4111,
      GH_VM_ANDROID_SET_FW_CONFIG: 0x4010_4112,
      GH_VM_RECLAIM_REGION: 0x4010_4113,
      GH_VM_ANDROID_MAP_CMA_MEM: 0x4028_4115,
      GH_VM_ANDROID_SET_AUTH_TYPE: 0x4010_4116,
      GH_VM_CHECK_EXTENSION: 0x0000_4117,
    });
  });

  it('names by number; v17-only numbers have none', () => {
    expect(ghIoctlName(0x4020_4701)).toBe('GH_VM_SET_USER_MEM_REGION');
    expect(ghIoctlName(0x0000_4117)).toBe('GH_VM_CHECK_EXTENSION');
    expect(ghIoctlName(0x4020_4709)).toBeUndefined(); // GUNYAH_VM_MAP_MEM
    expect(ghIoctlName(0x4040_4708)).toBeUndefined(); // GUNYAH_CREATE_GUEST_MEM
  });

  it('flags, capability and auth numbers', () => {
    expect([GH_MEM_ALLOW_READ, GH_MEM_ALLOW_WRITE, GH_MEM_ALLOW_EXEC]).toEqual([0x1, 0x2, 0x4]);
    expect(GH_CAP_VCPU_TIMER_WAKEUP).toBe(0);
    expect(GhVmAuth.GH_RM_VM_AUTH_QCOM_ANDROID_PVM).toBe(2);
  });
});

describe('gh_ struct codecs', () => {
  // gh_userspace_memory_region: label 7, flags 5 (R|X), gpa 0x8000_0000, size 0x10_0000, hva 0x7f12_3456_7000.
  const regionBytes = Uint8Array.from([
    0x07, 0x00, 0x00, 0x00, // label
    0x05, 0x00, 0x00, 0x00, // flags
    0x00, 0x00, 0x00, 0x80, 0x00, 0x00, 0x00, 0x00, // guest_phys_addr
    0x00, 0x00, 0x10, 0x00, 0x00, 0x00, 0x00, 0x00, // memory_size
    0x00, 0x70, 0x56, 0x34, 0x12, 0x7f, 0x00, 0x00, // userspace_addr
  ]);
  const region = { label: 7, flags: 5, guestPhysAddr: 0x8000_0000n, memorySize: 0x10_0000n, userspaceAddr: 0x7f12_3456_7000n };

  it('gh_userspace_memory_region (32 bytes) both ways', () => {
    expect(encodeGhUserMemRegion(region)).toEqual(regionBytes);
    expect(decodeGhUserMemRegion(regionBytes)).toEqual(region);
  });

  it('firmware config (16 bytes) both ways', () => {
    const bytes = Uint8Array.from([0x00, 0x00, 0x20, 0x80, 0, 0, 0, 0, 0x00, 0x00, 0x02, 0x00, 0, 0, 0, 0]);
    expect(encodeGhFwConfig({ guestPhysAddr: 0x8020_0000n, size: 0x2_0000n })).toEqual(bytes);
    expect(decodeGhFwConfig(bytes)).toEqual({ guestPhysAddr: 0x8020_0000n, size: 0x2_0000n });
  });

  it('a wrong length is a WireError', () => {
    for (const b of [regionBytes.subarray(0, 31), new Uint8Array(33)]) {
      let caught: unknown;
      try {
        decodeGhUserMemRegion(b);
      } catch (err) {
        caught = err;
      }
      expect(isWireError(caught)).toBe(true);
    }
  });
});
