/**
 * The holding-cell guest protocol as numbers: register addresses, the command word's bit
 * fields, command ids with their argument counts, and the values our engine picks where the
 * real guest's behaviour is undefined or only diagnostic (error "line numbers", the
 * exceptions of ids 10 and 11). Pure constants and one pure encoder; the engine that speaks
 * the protocol is holding-cell.ts.
 *
 * Reference: vmm-flows.md §6.2 (registers), §6.3 (command word), §6.4 (commands),
 * §6.5 (guest loop). Choices where the sheet is silent: docs/guest-images.md.
 */

/** MMIO registers of the holding-cell protocol (vmm-flows.md §6.2). Every access is 8 bytes. */
export const HoldingCellReg = {
  /** Read: command word, then arguments, then the HOLD read. Write: the command's result. */
  CMD: 0x6000,
  /** Write: protocol-error report (a "source line number"; diagnostic only). */
  ERROR: 0x6008,
  /** Write, twice: ESR_EL1 then FAR_EL1 of a synchronous exception; then the vCPU spins. */
  EXCEPTION: 0x7000,
} as const;
export type HoldingCellReg = (typeof HoldingCellReg)[keyof typeof HoldingCellReg];

/** Width of every holding-cell register access, in bytes. */
export const HOLDING_CELL_ACCESS_LEN = 8;

/** Command ids (vmm-flows.md §6.4), upstream names upper-cased. */
export const HoldingCellCmd = {
  OK: 0,
  NOK: 1,
  READ_ADDR: 2,
  WRITE_ADDR: 3,
  LOOPBACK: 4,
  MAGIC: 5,
  SMCCC_HVC: 6,
  ACCESS_PAGE_RANGE: 7,
  READ_IO: 8,
  WRITE_IO: 9,
} as const;
export type HoldingCellCmd = (typeof HoldingCellCmd)[keyof typeof HoldingCellCmd];

/**
 * Argument count each command takes, indexed by id. Ids 10 and 11 pass the guest's id check
 * but have no handler; we give both 0 arguments (the real id 10 entry is an empty table slot,
 * id 11 reads past the table; see docs/guest-images.md).
 */
export const HOLDING_CELL_NARGS: readonly number[] = Object.freeze([0, 0, 1, 2, 1, 1, 5, 2, 1, 2, 0, 0]);

/** Highest id that passes the guest's range check (`id > 11` is a protocol error). */
export const HOLDING_CELL_MAX_ID = 11;

/** Command-word bit fields (vmm-flows.md §6.3). */
export const HoldingCellWord = {
  /** Bits 7:0: command id. */
  ID_MASK: 0xffn,
  /** Bits 11:8: number of argument reads that follow. */
  NARGS_SHIFT: 8n,
  NARGS_MASK: 0xfn,
  /** Bit 12: HOLD, as the guest tests it (one extra read of 0x6000 before the handler runs). */
  HOLD: 1n << 12n,
  /** Bit 16: where the TVMM encoder puts HOLD (Q20). The guest ignores it, as the real one does. */
  HOLD_VMM: 1n << 16n,
} as const;

/** `magic` (id 5) answers 1 for this value, 0 for anything else. */
export const HOLDING_CELL_MAGIC_VALUE = 0xdeadf00dn;

/** The value `access_page_range` (id 7) stores, 64-bit, at each 4 KiB step. */
export const HOLDING_CELL_PAGE_PATTERN = 0xa5a5a5a5n;

/** Step of `access_page_range`, and the size of each vCPU's stack page. */
export const HOLDING_CELL_PAGE_SIZE = 4096;

/** Result of `nok`: −1 as raw 64-bit bytes. */
export const HOLDING_CELL_NOK = 0xffff_ffff_ffff_ffffn;

/**
 * The "line numbers" our guest writes to 0x6008 (vmm-flows.md §6.5 steps 2 and 3). The real
 * values are source lines of holding-cell.c and only diagnostic; these are fixed and ours.
 */
export const HoldingCellErrorLine = {
  /** Step 2: the command id is above 11. */
  UNKNOWN_COMMAND: 100n,
  /** Step 3: the word's nargs exceeds the command's. */
  TOO_MANY_ARGS: 101n,
} as const;

/**
 * ESR_EL1 values of the exceptions the holding cell raises by itself (reported at 0x7000 with
 * FAR 0). Id 10 branches to a null handler: an instruction abort taken at the same EL
 * (EC 0x21, IL 1, IFSC 0x04 translation fault level 0). Id 11 branches through the word past
 * the handler table: we model it as an undefined instruction (EC 0x00, IL 1).
 */
export const HoldingCellEsr = {
  NULL_HANDLER: 0x8600_0004n,
  PAST_TABLE: 0x0200_0000n,
} as const;

/** Key in `GuestCpu.vmShared` under which the boot vCPU leaves the stack base (a number). */
export const HOLDING_CELL_STACK_KEY = 'holding-cell.stack';

/** Boot-context key of SP index 1 (SP_EL1), uapi.md §4: set 2 << 8 | index 1. */
export const BOOT_REG_SP_EL1 = 0x201;

/**
 * Encode a command word as the guest reads it.
 * @param id command id, 0..255 (ids above 11 make the guest report an error)
 * @param nargs argument reads that follow, 0..15
 * @param hold set bit 12 (the guest's HOLD bit, not the TVMM's bit 16)
 * @throws RangeError when a field does not fit
 */
export function holdingCellWord(id: number, nargs: number, hold = false): bigint {
  if (!Number.isInteger(id) || id < 0 || id > 0xff) throw new RangeError(`command id must be a u8, got ${id}`);
  if (!Number.isInteger(nargs) || nargs < 0 || nargs > 0xf) throw new RangeError(`nargs must be 0..15, got ${nargs}`);
  return BigInt(id) | (BigInt(nargs) << HoldingCellWord.NARGS_SHIFT) | (hold ? HoldingCellWord.HOLD : 0n);
}
