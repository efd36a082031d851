/**
 * Flattened Devicetree (DTB) format constants and the in-memory tree model shared by the
 * reader and the writer.
 *
 * Reference: Devicetree Specification v0.4, chapter 5 "Flattened Devicetree (DTB) Format".
 * This is a bottom layer like src/shared: it imports only from src/shared and knows nothing
 * of Gunyah. NOTE: every DTB integer is BIG-endian, unlike the rest of the project.
 *
 *   offset 0                                                      totalsize
 *   ┌──────────┬──────────────────┬─────────────────┬──────────┬────────────┐
 *   │ header   │ memory reserve   │ structure block │ strings  │ free space │
 *   │ 40 bytes │ (u64,u64)… (0,0) │ tokens (u32 BE) │ NUL-term │ (optional) │
 *   └──────────┴──────────────────┴─────────────────┴──────────┴────────────┘
 *   8-aligned    8-aligned          4-aligned         any
 */

/** Header magic, big-endian u32 at offset 0. */
export const FDT_MAGIC = 0xd00dfeed;
/** Size of a version-17 header (ten u32 fields). */
export const FDT_HEADER_SIZE = 40;
/** Size of a version-16 header: it lacks the trailing size_dt_struct field. */
export const FDT_V16_HEADER_SIZE = 36;
/** Version the writer emits. */
export const FDT_VERSION = 17;
/** last_comp_version the writer emits (a v16 reader can read our output). */
export const FDT_LAST_COMP_VERSION = 16;
/** Oldest version the reader accepts. */
export const FDT_MIN_READ_VERSION = 16;
/** Newest last_comp_version the reader understands. */
export const FDT_MAX_LAST_COMP_VERSION = 17;
/** One memory reservation entry: u64 address + u64 size. */
export const FDT_RESERVE_ENTRY_SIZE = 16;
/**
 * Deepest node nesting the reader accepts (root = depth 1). Real trees are under 10 deep;
 * the cap keeps the recursive helpers (serialize, path building) far from the JS stack
 * limit whatever the input.
 */
export const FDT_MAX_DEPTH = 64;

/** Byte offsets of the header fields (all u32, big-endian). */
export const FdtHeaderOffset = {
  magic: 0,
  totalsize: 4,
  off_dt_struct: 8,
  off_dt_strings: 12,
  off_mem_rsvmap: 16,
  version: 20,
  last_comp_version: 24,
  boot_cpuid_phys: 28,
  size_dt_strings: 32,
  size_dt_struct: 36,
} as const;

/** Structure block tokens (big-endian u32, 4-aligned). */
export const FdtToken = {
  FDT_BEGIN_NODE: 1,
  FDT_END_NODE: 2,
  FDT_PROP: 3,
  FDT_NOP: 4,
  FDT_END: 9,
} as const;
export type FdtTokenName = keyof typeof FdtToken;
export type FdtTokenValue = (typeof FdtToken)[FdtTokenName];

/**
 * A node of a parsed or hand-built tree. `name` includes the unit address ("cpu@1"); the
 * root's name is "". Property values are the raw big-endian bytes; `props` keeps the
 * order of the structure block, `children` the order of the sub-nodes.
 */
export interface FdtNode {
  name: string;
  props: Map<string, Uint8Array>;
  children: FdtNode[];
}

/** One memory reservation block entry. */
export interface FdtReserveEntry {
  readonly address: bigint;
  readonly size: bigint;
}

/** The decoded 40-byte header (v16 trees report size_dt_struct as undefined). */
export interface FdtHeader {
  readonly magic: number;
  readonly totalsize: number;
  readonly offDtStruct: number;
  readonly offDtStrings: number;
  readonly offMemRsvmap: number;
  readonly version: number;
  readonly lastCompVersion: number;
  readonly bootCpuidPhys: number;
  readonly sizeDtStrings: number;
  readonly sizeDtStruct: number | undefined;
}

/** A whole parsed DTB. */
export interface FdtTree {
  readonly header: FdtHeader;
  /** header.totalsize: the blob size including any free space after the strings block. */
  readonly totalsize: number;
  readonly bootCpuidPhys: number;
  /** Memory reservation entries, without the terminating (0, 0) pair. */
  readonly reserve: readonly FdtReserveEntry[];
  readonly root: FdtNode;
}

/** A new, empty node. */
export function fdtNode(name: string): FdtNode {
  return { name, props: new Map(), children: [] };
}

/** Node and property names are byte strings: one char per byte (Latin-1), lossless both ways. */
export function nameFromBytes(b: Uint8Array, start: number, end: number): string {
  let s = '';
  for (let i = start; i < end; i++) s += String.fromCharCode(b[i]!);
  return s;
}
