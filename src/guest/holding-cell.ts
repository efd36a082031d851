/**
 * The holding-cell-compatible guest: the image bytes that select it, and the engine that
 * speaks the quic/gunyah-test-vmm holding-cell protocol on each vCPU. It polls the command
 * register at 0x6000, runs one command, writes the result back and repeats; a synchronous
 * exception is reported at 0x7000 (ESR, then FAR) and the vCPU spins forever. Tests written
 * for the real bare-metal guest see the same sequence of exits.
 *
 * Reference: vmm-flows.md §6.1 (start-up), §6.2–§6.5 (registers, word, commands, loop step
 * by step), §6.6 (commands built on smccc_hvc). Our choices where the sheet is silent or the
 * real guest is undefined are listed in docs/guest-images.md "Holding cell".
 *
 * Knows nothing about the hypervisor: every access is an op; whether it is memory, an MMIO
 * exit or a page fault is the driver's business.
 */

import { GuestException, type GuestCpu, type GuestImage, type GuestOp, type GuestThread } from './api.js';
import { guestAddr } from './guest-va.js';
import { WireError } from '../shared/wire-error.js';
import { decodeGuestImageHeader, encodeGuestImageHeader, GUEST_IMAGE_HEADER_SIZE } from './image-header.js';
import {
  BOOT_REG_SP_EL1,
  HOLDING_CELL_ACCESS_LEN,
  HOLDING_CELL_MAGIC_VALUE,
  HOLDING_CELL_MAX_ID,
  HOLDING_CELL_NARGS,
  HOLDING_CELL_NOK,
  HOLDING_CELL_PAGE_PATTERN,
  HOLDING_CELL_PAGE_SIZE,
  HOLDING_CELL_STACK_KEY,
  HoldingCellCmd,
  HoldingCellErrorLine,
  HoldingCellEsr,
  HoldingCellReg,
  HoldingCellWord,
} from './holding-cell-protocol.js';

/** Version of the holding-cell image format we write and accept. */
export const HOLDING_CELL_IMAGE_VERSION = 1;
/** Size of the holding-cell image: the 16-byte header and 48 reserved zero bytes. */
export const HOLDING_CELL_IMAGE_SIZE = 64;

/**
 * The bytes of a holding-cell image (64 bytes): "GEMUHOLD", version 1, length 64, zeros.
 * Load it anywhere (the TVMM loads it at 0x8000_0000) and point the boot PC at it.
 */
export function holdingCellImage(): Uint8Array {
  const out = new Uint8Array(HOLDING_CELL_IMAGE_SIZE);
  encodeGuestImageHeader(out, 'holding-cell', HOLDING_CELL_IMAGE_VERSION, HOLDING_CELL_IMAGE_SIZE);
  return out;
}

/**
 * Validate a complete holding-cell image (as fetched: `bytes` holds the whole declared length).
 * @throws WireError when the version, length or reserved bytes are not ours
 */
export function decodeHoldingCellImage(bytes: Uint8Array): GuestImage {
  const h = decodeGuestImageHeader(bytes);
  if (h?.kind !== 'holding-cell') throw new WireError('bad-value', { what: 'not a holding-cell image', offset: 0 });
  if (h.version !== HOLDING_CELL_IMAGE_VERSION) throw new WireError('bad-value', { what: `holding-cell version ${h.version}`, offset: 8 });
  if (h.length !== HOLDING_CELL_IMAGE_SIZE) throw new WireError('bad-value', { what: `holding-cell length ${h.length}`, offset: 12 });
  if (bytes.byteLength < HOLDING_CELL_IMAGE_SIZE) throw new WireError('short', { what: 'holding-cell image', offset: bytes.byteLength });
  for (let i = GUEST_IMAGE_HEADER_SIZE; i < HOLDING_CELL_IMAGE_SIZE; i++) {
    if (bytes[i] !== 0) throw new WireError('reserved', { what: 'holding-cell reserved byte', offset: i });
  }
  return HOLDING_CELL_GUEST;
}

/** The recognised holding-cell image: one engine per vCPU. */
const HOLDING_CELL_GUEST: GuestImage = Object.freeze({
  kind: 'holding-cell',
  describe: `holding-cell guest v${HOLDING_CELL_IMAGE_VERSION}`,
  start: (cpu: GuestCpu) => runHoldingCell(cpu),
});

// Ops that never change are made once and yielded again and again: no allocation on the
// hot path (the driver must treat ops as read-only, which the api's readonly fields say).
const LEN = HOLDING_CELL_ACCESS_LEN;
const READ_CMD: GuestOp = Object.freeze({ kind: 'load', addr: HoldingCellReg.CMD, len: LEN });
const REPORT_UNKNOWN: GuestOp = Object.freeze({ kind: 'store', addr: HoldingCellReg.ERROR, len: LEN, value: HoldingCellErrorLine.UNKNOWN_COMMAND });
const REPORT_TOO_MANY: GuestOp = Object.freeze({ kind: 'store', addr: HoldingCellReg.ERROR, len: LEN, value: HoldingCellErrorLine.TOO_MANY_ARGS });
const SPIN: GuestOp = Object.freeze({ kind: 'spin' });
const u64 = (v: bigint): bigint => BigInt.asUintN(64, v);
const result = (value: bigint): GuestOp => ({ kind: 'store', addr: HoldingCellReg.CMD, len: LEN, value });

/**
 * The holding-cell engine for one vCPU (vmm-flows.md §6.5): start-up, then the command loop.
 * A `GuestException` raised anywhere in start-up or the loop (thrown in by the driver, or
 * raised by the guest itself) is reported at 0x7000 (ESR, then FAR) and the vCPU spins
 * forever. An exception during that report is a double fault: it escapes and the vCPU crashes.
 */
export function* runHoldingCell(cpu: GuestCpu): GuestThread {
  try {
    yield* startUp(cpu);
    yield* commandLoop();
  } catch (e) {
    if (!(e instanceof GuestException)) throw e;
    yield { kind: 'store', addr: HoldingCellReg.EXCEPTION, len: LEN, value: u64(e.esr) };
    yield { kind: 'store', addr: HoldingCellReg.EXCEPTION, len: LEN, value: u64(e.far) };
  }
  for (;;) yield SPIN;
}

/**
 * Start-up (vmm-flows.md §6.1). The boot vCPU has SP (boot reg 0x201) = stack + 1 × 4 KiB, so
 * stack = SP − (index + 1) × 4 KiB; it leaves `stack` in vmShared for the vCPUs PSCI CPU_ON
 * starts later. Each vCPU's SP is stack + (index + 1) × 4 KiB and its first access is a 64-bit
 * store of 0 at SP − 16 (the frame push of the real binary), so a demand-paged stack page
 * faults in before the first MMIO exit. With no SP known (no boot reg, nothing shared) the
 * touch is skipped.
 */
function* startUp(cpu: GuestCpu): Generator<GuestOp, void, bigint> {
  const depth = BigInt((cpu.index + 1) * HOLDING_CELL_PAGE_SIZE);
  let stack: bigint | undefined;
  const sp = cpu.bootRegs.get(BOOT_REG_SP_EL1);
  if (sp !== undefined) {
    stack = u64(sp) - depth;
    cpu.vmShared.set(HOLDING_CELL_STACK_KEY, stack);
  } else {
    const shared = cpu.vmShared.get(HOLDING_CELL_STACK_KEY);
    if (typeof shared === 'bigint') stack = shared;
  }
  if (stack === undefined) return;
  yield { kind: 'store', addr: guestAddr(stack + depth - 16n, true), len: LEN, value: 0n };
}

/** The command loop (vmm-flows.md §6.5 steps 1 to 7); never returns. */
function* commandLoop(): Generator<GuestOp, void, bigint> {
  for (;;) {
    // 1. Command word.
    const word = u64(yield READ_CMD);
    const id = Number(word & HoldingCellWord.ID_MASK);
    const nargs = Number((word >> HoldingCellWord.NARGS_SHIFT) & HoldingCellWord.NARGS_MASK);
    // 2. Range check: ids 10 and 11 pass it.
    if (id > HOLDING_CELL_MAX_ID) {
      yield REPORT_UNKNOWN;
      continue;
    }
    // 3. Too many arguments: read and drop them, report, start over.
    if (nargs > HOLDING_CELL_NARGS[id]!) {
      for (let i = 0; i < nargs; i++) yield READ_CMD;
      yield REPORT_TOO_MANY;
      continue;
    }
    // 4. Arguments; the ones the word does not send stay 0 (real guest: undefined registers).
    let a0 = 0n, a1 = 0n, a2 = 0n, a3 = 0n, a4 = 0n;
    if (nargs > 0) a0 = u64(yield READ_CMD);
    if (nargs > 1) a1 = u64(yield READ_CMD);
    if (nargs > 2) a2 = u64(yield READ_CMD);
    if (nargs > 3) a3 = u64(yield READ_CMD);
    if (nargs > 4) a4 = u64(yield READ_CMD);
    // 5. HOLD (bit 12 only; the TVMM's bit 16 is ignored, Q20).
    if ((word & HoldingCellWord.HOLD) !== 0n) yield READ_CMD;
    // 6. The handler is called by argument count 0, 1, 2 or 5; 3 or 4 call nothing.
    if (nargs === 3 || nargs === 4) continue;
    let res: bigint;
    switch (id) {
      case HoldingCellCmd.OK:
        res = 0n;
        break;
      case HoldingCellCmd.NOK:
        res = HOLDING_CELL_NOK;
        break;
      case HoldingCellCmd.READ_ADDR:
      case HoldingCellCmd.READ_IO:
        res = u64(yield { kind: 'load', addr: guestAddr(a0, false), len: LEN });
        break;
      case HoldingCellCmd.WRITE_ADDR:
      case HoldingCellCmd.WRITE_IO:
        yield { kind: 'store', addr: guestAddr(a0, true), len: LEN, value: a1 };
        res = 0n;
        break;
      case HoldingCellCmd.LOOPBACK:
        res = a0;
        break;
      case HoldingCellCmd.MAGIC:
        res = a0 === HOLDING_CELL_MAGIC_VALUE ? 1n : 0n;
        break;
      case HoldingCellCmd.SMCCC_HVC:
        // SMCCC: the function id is W0; X1..X4 carry the arguments.
        res = u64(yield { kind: 'hvc', fn: Number(a0 & 0xffff_ffffn), args: [a1, a2, a3, a4] });
        break;
      case HoldingCellCmd.ACCESS_PAGE_RANGE: {
        const end = u64(a0 + a1); // the guest's sum wraps at 2^64, as a register would
        for (let p = a0; p < end; p += BigInt(HOLDING_CELL_PAGE_SIZE)) {
          yield { kind: 'store', addr: guestAddr(p, true), len: LEN, value: HOLDING_CELL_PAGE_PATTERN };
        }
        res = 0n;
        break;
      }
      case 10:
        throw new GuestException(HoldingCellEsr.NULL_HANDLER, 0n, 'holding cell: command 10 calls a null handler');
      default:
        // id 11: the handler pointer is read past the end of the table.
        throw new GuestException(HoldingCellEsr.PAST_TABLE, 0n, `holding cell: command ${id} jumps through the word past the handler table`);
    }
    // 7. Result.
    yield result(res);
  }
}
