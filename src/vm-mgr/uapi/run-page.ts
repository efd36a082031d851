/**
 * The vCPU run page (`struct gunyah_vcpu_run`, 40 bytes at offset 0 of the vCPU fd's mapping):
 * field offsets under names a VMM can use with Mapping.read/write, and a reader that decodes
 * the page into a union by `exit_reason`, for VMMs and traces.
 *
 * Reference: uapi.md §5 (layout), §4 (exit reasons, statuses, resume actions). Writing the page
 * is the kernel model's business (src/vcpu); this file only names and reads it.
 *
 *   0        1        8            12       16                                           40
 *   ┌────────┬────────┬────────────┬────────┬────────────────────────────────────────────┐
 *   │imm_exit│  pad   │exit_reason │  pad   │ union: mmio | status | page_fault (24)     │
 *   └────────┴────────┴────────────┴────────┴────────────────────────────────────────────┘
 *   mmio:       phys_addr @16 u64, data @24 u8[8], len @32 u32, is_write @36 u8, resume_action @37 u8
 *   status:     status @16 u32, exit_info @20 { type u16, padding u16, reason_size @24 u32, reason @28 u8[8] }
 *   page_fault: phys_addr @16 u64, attempt @24 s32, resume_action @28 u8
 */
import { view } from '../../shared/bytes.js';
import { WireError } from '../../shared/wire-error.js';
import {
  GUNYAH_VCPU_EXIT_MMIO,
  GUNYAH_VCPU_EXIT_PAGE_FAULT,
  GUNYAH_VCPU_EXIT_STATUS,
  GUNYAH_VCPU_EXIT_UNKNOWN,
  GUNYAH_VM_MAX_EXIT_REASON_SIZE,
} from './constants.js';
import { SIZEOF } from './structs.js';

/** sizeof(struct gunyah_vcpu_run). */
export const RUN_PAGE_SIZE = SIZEOF.gunyah_vcpu_run;

/** u8, in: non-zero makes the next hypervisor entry return EINTR. */
export const RUN_IMMEDIATE_EXIT = 0;
/** u32, out: GUNYAH_VCPU_EXIT_*. */
export const RUN_EXIT_REASON = 8;
/** Start of the exit union (8-byte aligned). */
export const RUN_EXIT_UNION = 16;

/** u64, out: guest physical address of the access. */
export const MMIO_PHYS_ADDR = 16;
/** u8[8], out (write) / in (read): the value, little-endian in the first `len` bytes. */
export const MMIO_DATA = 24;
/** u32, out: access size 1, 2, 4 or 8. */
export const MMIO_LEN = 32;
/** u8, out: 1 = write, 0 = read. */
export const MMIO_IS_WRITE = 36;
/** u8, in: GUNYAH_VCPU_RESUME_* (preset to HANDLED). */
export const MMIO_RESUME_ACTION = 37;

/** u32 (enum), out: GUNYAH_VM_STATUS_*. */
export const STATUS_STATUS = 16;
/** u16, out: RM exit type (exit_info.type). */
export const STATUS_EXIT_TYPE = 20;
/** u32, out: RM exit-reason size, not clamped (exit_info.reason_size). */
export const STATUS_REASON_SIZE = 24;
/** u8[8], out: the first 8 bytes of the RM exit reason (exit_info.reason). */
export const STATUS_REASON = 28;

/** u64, out: faulting guest physical address. */
export const PF_PHYS_ADDR = 16;
/** s32, out: negative errno, why the kernel could not provide the page. */
export const PF_ATTEMPT = 24;
/** u8, in: preset to FAULT; ignored by v17 (QUIRK K7). */
export const PF_RESUME_ACTION = 28;

/** The MMIO arm. */
export type RunPageMmio = Readonly<{
  physAddr: bigint;
  /** The full 8-byte data field as a little-endian u64; only the first `len` bytes are meaningful. */
  data: bigint;
  len: number;
  isWrite: boolean;
  resumeAction: number;
}>;

/** The STATUS arm. */
export type RunPageStatus = Readonly<{
  status: number;
  exitType: number;
  reasonSize: number;
  /** The 8 raw reason bytes. */
  reason: Uint8Array;
}>;

/** The PAGE_FAULT arm. */
export type RunPagePageFault = Readonly<{ physAddr: bigint; attempt: number; resumeAction: number }>;

/** A decoded run page: one variant per exit reason; unrecognized reasons keep the raw value. */
export type RunPage =
  | Readonly<{ kind: 'unknown'; exitReason: typeof GUNYAH_VCPU_EXIT_UNKNOWN; immediateExit: number }>
  | Readonly<{ kind: 'mmio'; exitReason: typeof GUNYAH_VCPU_EXIT_MMIO; immediateExit: number; mmio: RunPageMmio }>
  | Readonly<{ kind: 'status'; exitReason: typeof GUNYAH_VCPU_EXIT_STATUS; immediateExit: number; status: RunPageStatus }>
  | Readonly<{
      kind: 'page-fault';
      exitReason: typeof GUNYAH_VCPU_EXIT_PAGE_FAULT;
      immediateExit: number;
      pageFault: RunPagePageFault;
    }>
  | Readonly<{ kind: 'unrecognized'; exitReason: number; immediateExit: number }>;

/**
 * Decode the run page. `bytes` is the start of the mapping: at least 40 bytes (a whole page
 * is fine; bytes after 40 are ignored).
 * @throws WireError('short') for fewer than 40 bytes
 */
export function decodeRunPage(bytes: Uint8Array): RunPage {
  if (bytes.byteLength < RUN_PAGE_SIZE) {
    throw new WireError('short', { what: `gunyah_vcpu_run needs ${RUN_PAGE_SIZE} bytes, got ${bytes.byteLength}` });
  }
  // The header and the MMIO arm (every MMIO exit) are read byte by byte: the bytes are usually
  // a small copy on the JS heap, and a DataView over them would make V8 give them an
  // ArrayBuffer first (several times the cost of the decode). The rarer arms use one.
  const immediateExit = bytes[RUN_IMMEDIATE_EXIT]!;
  const exitReason = u32At(bytes, RUN_EXIT_REASON);
  switch (exitReason) {
    case GUNYAH_VCPU_EXIT_UNKNOWN:
      return { kind: 'unknown', exitReason, immediateExit };
    case GUNYAH_VCPU_EXIT_MMIO:
      return {
        kind: 'mmio',
        exitReason,
        immediateExit,
        mmio: {
          physAddr: u64At(bytes, MMIO_PHYS_ADDR),
          data: u64At(bytes, MMIO_DATA),
          len: u32At(bytes, MMIO_LEN),
          isWrite: bytes[MMIO_IS_WRITE] !== 0,
          resumeAction: bytes[MMIO_RESUME_ACTION]!,
        },
      };
    default:
      return decodeOther(bytes, exitReason, immediateExit);
  }
}

/** Little-endian u32 at `off`. */
function u32At(b: Uint8Array, off: number): number {
  return (b[off]! | (b[off + 1]! << 8) | (b[off + 2]! << 16) | (b[off + 3]! << 24)) >>> 0;
}

/** Little-endian u64 at `off`. */
function u64At(b: Uint8Array, off: number): bigint {
  const lo = u32At(b, off);
  const hi = u32At(b, off + 4);
  // Below 2^53 the value is an exact double: one conversion.
  return hi < 0x20_0000 ? BigInt(hi * 0x1_0000_0000 + lo) : (BigInt(hi) << 32n) | BigInt(lo);
}

/** The arms other than UNKNOWN and MMIO. */
function decodeOther(bytes: Uint8Array, exitReason: number, immediateExit: number): RunPage {
  const v = view(bytes);
  switch (exitReason) {
    case GUNYAH_VCPU_EXIT_STATUS:
      return {
        kind: 'status',
        exitReason,
        immediateExit,
        status: {
          status: v.getUint32(STATUS_STATUS, true),
          exitType: v.getUint16(STATUS_EXIT_TYPE, true),
          reasonSize: v.getUint32(STATUS_REASON_SIZE, true),
          reason: bytes.slice(STATUS_REASON, STATUS_REASON + GUNYAH_VM_MAX_EXIT_REASON_SIZE),
        },
      };
    case GUNYAH_VCPU_EXIT_PAGE_FAULT:
      return {
        kind: 'page-fault',
        exitReason,
        immediateExit,
        pageFault: {
          physAddr: v.getBigUint64(PF_PHYS_ADDR, true),
          attempt: v.getInt32(PF_ATTEMPT, true),
          resumeAction: v.getUint8(PF_RESUME_ACTION),
        },
      };
    default:
      return { kind: 'unrecognized', exitReason, immediateExit };
  }
}
