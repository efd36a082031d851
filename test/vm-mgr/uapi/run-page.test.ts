// The vCPU run page (uapi.md §5): offsets typed by hand from the sheet, and decodeRunPage over
// hand-built pages for each exit reason.
import { describe, it, expect } from 'vitest';
import {
  MMIO_DATA,
  MMIO_IS_WRITE,
  MMIO_LEN,
  MMIO_PHYS_ADDR,
  MMIO_RESUME_ACTION,
  PF_ATTEMPT,
  PF_PHYS_ADDR,
  PF_RESUME_ACTION,
  RUN_EXIT_REASON,
  RUN_EXIT_UNION,
  RUN_IMMEDIATE_EXIT,
  RUN_PAGE_SIZE,
  STATUS_EXIT_TYPE,
  STATUS_REASON,
  STATUS_REASON_SIZE,
  STATUS_STATUS,
  decodeRunPage,
} from '../../../src/vm-mgr/uapi/index.js';
import { isWireError } from '../../../src/shared/wire-error.js';

/** A 4096-byte page with `bytes` at offset 0 (the rest is 0xee, which the decoder must ignore). */
function page(bytes: readonly number[]): Uint8Array {
  const p = new Uint8Array(4096).fill(0xee);
  p.set(bytes);
  return p;
}

describe('run page offsets (uapi.md §5)', () => {
  it('matches the sheet', () => {
    expect({
      RUN_PAGE_SIZE,
      RUN_IMMEDIATE_EXIT,
      RUN_EXIT_REASON,
      RUN_EXIT_UNION,
      MMIO_PHYS_ADDR,
      MMIO_DATA,
      MMIO_LEN,
      MMIO_IS_WRITE,
      MMIO_RESUME_ACTION,
      STATUS_STATUS,
      STATUS_EXIT_TYPE,
      STATUS_REASON_SIZE,
      STATUS_REASON,
      PF_PHYS_ADDR,
      PF_ATTEMPT,
      PF_RESUME_ACTION,
    }).toEqual({
      RUN_PAGE_SIZE: 40,
      RUN_IMMEDIATE_EXIT: 0,
      RUN_EXIT_REASON: 8,
      RUN_EXIT_UNION: 16,
      MMIO_PHYS_ADDR: 16,
      MMIO_DATA: 24,
      MMIO_LEN: 32,
      MMIO_IS_WRITE: 36,
      MMIO_RESUME_ACTION: 37,
      STATUS_STATUS: 16,
      STATUS_EXIT_TYPE: 20,
      STATUS_REASON_SIZE: 24,
      STATUS_REASON: 28,
      PF_PHYS_ADDR: 16,
      PF_ATTEMPT: 24,
      PF_RESUME_ACTION: 28,
    });
  });
});

describe('decodeRunPage', () => {
  it('a zeroed page is EXIT_UNKNOWN', () => {
    expect(decodeRunPage(new Uint8Array(4096))).toEqual({ kind: 'unknown', exitReason: 0, immediateExit: 0 });
  });

  it('MMIO write exit', () => {
    const bytes = [
      0x00, 0, 0, 0, 0, 0, 0, 0, // immediate_exit 0 + padding
      0x01, 0x00, 0x00, 0x00, // exit_reason = MMIO (le32)
      0x00, 0x00, 0x00, 0x00, // implicit pad
      0x08, 0x00, 0x00, 0x1c, 0x00, 0x00, 0x00, 0x00, // phys_addr = 0x1c000008 (le64)
      0x78, 0x56, 0x34, 0x12, 0x00, 0x00, 0x00, 0x00, // data = 0x12345678 (le, first len bytes)
      0x04, 0x00, 0x00, 0x00, // len = 4 (le32)
      0x01, // is_write = 1
      0x00, // resume_action = HANDLED
      0x00, 0x00, // pad
    ];
    expect(decodeRunPage(page(bytes))).toEqual({
      kind: 'mmio',
      exitReason: 1,
      immediateExit: 0,
      mmio: { physAddr: 0x1c00_0008n, data: 0x1234_5678n, len: 4, isWrite: true, resumeAction: 0 },
    });
  });

  it('MMIO read exit with immediate_exit set and RETRY chosen', () => {
    const bytes = [
      0x01, 0, 0, 0, 0, 0, 0, 0, // immediate_exit = 1
      0x01, 0x00, 0x00, 0x00, // exit_reason = MMIO
      0x00, 0x00, 0x00, 0x00,
      0x00, 0x10, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00, // phys_addr = 0x100001000
      0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, // data
      0x08, 0x00, 0x00, 0x00, // len = 8
      0x00, // is_write = 0
      0x02, // resume_action = RETRY
      0x00, 0x00,
    ];
    expect(decodeRunPage(page(bytes))).toEqual({
      kind: 'mmio',
      exitReason: 1,
      immediateExit: 1,
      mmio: { physAddr: 0x1_0000_1000n, data: 0n, len: 8, isWrite: false, resumeAction: 2 },
    });
  });

  it('STATUS exit: EXITED with an RM exit reason (reason_size not clamped)', () => {
    const bytes = [
      0x00, 0, 0, 0, 0, 0, 0, 0,
      0x02, 0x00, 0x00, 0x00, // exit_reason = STATUS
      0x00, 0x00, 0x00, 0x00,
      0x02, 0x00, 0x00, 0x00, // status = GUNYAH_VM_STATUS_EXITED (le32)
      0x03, 0x00, // exit_info.type = 3 (le16)
      0x00, 0x00, // exit_info.padding
      0x10, 0x00, 0x00, 0x00, // exit_info.reason_size = 16 (le32)
      0xa1, 0xa2, 0xa3, 0xa4, 0xa5, 0xa6, 0xa7, 0xa8, // exit_info.reason[8]
      0x00, 0x00, 0x00, 0x00, // pad
    ];
    expect(decodeRunPage(page(bytes))).toEqual({
      kind: 'status',
      exitReason: 2,
      immediateExit: 0,
      status: {
        status: 2,
        exitType: 3,
        reasonSize: 16,
        reason: new Uint8Array([0xa1, 0xa2, 0xa3, 0xa4, 0xa5, 0xa6, 0xa7, 0xa8]),
      },
    });
  });

  it('PAGE_FAULT exit: attempt is a negative errno', () => {
    const bytes = [
      0x00, 0, 0, 0, 0, 0, 0, 0,
      0x03, 0x00, 0x00, 0x00, // exit_reason = PAGE_FAULT
      0x00, 0x00, 0x00, 0x00,
      0x00, 0x30, 0x00, 0x80, 0x00, 0x00, 0x00, 0x00, // phys_addr = 0x80003000
      0xf2, 0xff, 0xff, 0xff, // attempt = -14 (-EFAULT, le s32)
      0x01, // resume_action = FAULT (preset by the kernel)
      0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, // pad
    ];
    expect(bytes).toHaveLength(40);
    expect(decodeRunPage(page(bytes))).toEqual({
      kind: 'page-fault',
      exitReason: 3,
      immediateExit: 0,
      pageFault: { physAddr: 0x8000_3000n, attempt: -14, resumeAction: 1 },
    });
  });

  it('an unrecognized exit_reason keeps the raw value', () => {
    const b = new Uint8Array(40);
    b.set([0x07, 0x01, 0x00, 0x00], RUN_EXIT_REASON);
    expect(decodeRunPage(b)).toEqual({ kind: 'unrecognized', exitReason: 0x107, immediateExit: 0 });
  });

  it('fewer than 40 bytes is a WireError; exactly 40 is enough', () => {
    let err: unknown;
    try {
      decodeRunPage(new Uint8Array(39));
    } catch (e) {
      err = e;
    }
    expect(isWireError(err) && err.reason).toBe('short');
    expect(decodeRunPage(new Uint8Array(40)).kind).toBe('unknown');
  });
});
