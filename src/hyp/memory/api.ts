/**
 * The hypervisor's memory model, as an interface: physical memory described by extents (never
 * per page), memory extents that own ranges of it (the memdb), address spaces (stage 2) that
 * map extents at IPAs with rights, donation between extents, stage-2 checked access to real
 * bytes, and invariant checks.
 *
 * Reference: hypervisor.md §8 (memory extents and address spaces, donate, map/unmap, access
 * rights R 4 W 2 X 1), rm-rpc.md §16 (what parcels do with them).
 *
 *   memdb (PA → extent)          extent E: owner VM, mappings [(addrspace, ipa, pa, size, rights)]
 *   ├ [pa0, pa1) → E_hlos        a mapping applies only to the PAs E currently owns: donating a
 *   ├ [pa1, pa2) → E_parcel7     range to another extent moves which mappings reach it, which is
 *   └ [pa2, pa3) → E_hlos        how a lend removes the owner's access and a reclaim restores it
 *
 * Addresses and sizes are numbers (byte units; every address in the model is below 2^52, the
 * RM limits IPAs and sizes to 2^44). All ranges are 4 KiB aligned unless a method says otherwise.
 */

/** Stage-2 rights (hypervisor.md §8 "Page-table access"): X 1, W 2, R 4. */
export const Access = { NONE: 0, X: 1, W: 2, R: 4, RX: 5, RW: 6, RWX: 7 } as const;

export const PAGE_SIZE = 4096;

/** What an access wants. */
export type AccessKind = 'read' | 'write' | 'exec';

/** An opaque extent id. */
export type ExtentId = number;

/** A range of physical memory. */
export interface PaRange {
  readonly pa: number;
  readonly size: number;
}

/** One piece of an IPA range's translation. */
export interface Translation {
  readonly ipa: number;
  readonly pa: number;
  readonly size: number;
  readonly rights: number;
  readonly extent: ExtentId;
}

/** A stage-2 fault: the layer above routes it (SIGBUS for the host, an exit for a guest). */
export interface MemFaultInfo {
  readonly vmid: number;
  readonly ipa: number;
  readonly kind: AccessKind;
  /** 'unmapped': no mapping reaches this IPA; 'permission': mapped without the right. */
  readonly reason: 'unmapped' | 'permission';
}

export interface ExtentInfo {
  readonly id: ExtentId;
  /** The VM whose partition owns the extent (its memory's owner). */
  readonly ownerVmid: number;
  /** Bytes of memory the extent owns now. */
  readonly bytes: number;
  /** Number of PA runs it owns. */
  readonly runs: number;
  readonly mappings: number;
  readonly label: string;
}

/** Options of `createMemoryModel` (added with the implementation). */
export interface MemoryModelOptions {
  /** Exclusive upper bound of physical addresses (RAM and mapping windows). Default 2^52. */
  readonly maxPa?: number;
  /** Exclusive upper bound of IPAs in every address space. Default 2^52. */
  readonly maxIpa?: number;
  /**
   * How many distinct address spaces one extent may be mapped into (hypervisor.md §8
   * "Mappings per extent: at most 4"). Default 4; more → ERROR_MEMEXTENT_MAPPINGS_FULL.
   */
  readonly maxAddrspacesPerExtent?: number;
}

/** Options of `createExtent`. */
export interface CreateExtentOptions {
  /** No limit on the number of address spaces it may be mapped into (default false). */
  readonly unlimitedAddrspaces?: boolean;
}

/** A recorded mapping (not its effective reach: see `translate`). */
export interface MappingInfo {
  readonly vmid: number;
  readonly ipa: number;
  readonly pa: number;
  readonly size: number;
  readonly rights: number;
  readonly extent: ExtentId;
}

/** addrspace_lookup's answer: the contiguous piece found at the IPA. */
export interface LookupResult {
  readonly pa: number;
  /** Bytes from the IPA on that are physically contiguous, mapped alike and owned by the extent (≤ the size asked). */
  readonly size: number;
  readonly rights: number;
}

/*
 * Argument checks of the mutating methods (addRam, donate, map, unmap, lookup, zero), in this
 * order: unknown extent → ERROR_ARGUMENT_INVALID; an address or size that is not a non-negative
 * integer → ERROR_ARGUMENT_INVALID; size 0 → ERROR_ARGUMENT_SIZE; address or size not 4 KiB
 * aligned → ERROR_ARGUMENT_ALIGNMENT (hypervisor.md §8 addrspace_lookup); end beyond 2^52 →
 * ERROR_ADDR_OVERFLOW; end beyond maxPa / maxIpa → ERROR_ADDR_INVALID. A donate from an extent
 * to itself → ERROR_ARGUMENT_INVALID. Queries (extentOf, runsOf, translate, read, write, check,
 * readPhys, writePhys) take byte ranges (negative or fractional → ERROR_ARGUMENT_INVALID);
 * physical access (readPhys, writePhys, zero) outside RAM → ERROR_ADDR_INVALID. `map` merges a
 * new mapping with touching ones of the same extent and rights whose PAs continue it.
 */

export interface MemoryModel {
  /**
   * Give extent `e` the RAM `[pa, pa+size)`, which no extent may own yet (added with the
   * implementation; the RM's boot-time memory map).
   * @throws HypError ERROR_ALLOCATOR_RANGE_OVERLAPPING if any of it is RAM already.
   */
  addRam(e: ExtentId, pa: number, size: number): void;
  /**
   * addrspace_lookup (hypervisor.md §8): the piece of `vmid`'s stage 2 at `ipa` (at most `size`
   * bytes), which must reach memory extent `e` owns.
   * @throws HypError ERROR_ADDR_INVALID when nothing reaches `ipa`; ERROR_MEMDB_NOT_OWNER when
   *   what reaches it belongs to another extent.
   */
  lookup(vmid: number, e: ExtentId, ipa: number, size: number): LookupResult;
  /** The mappings recorded in `vmid`'s address space, in IPA order (added for inspection). */
  mappingsOf(vmid: number): MappingInfo[];
  /**
   * Create an empty extent owned by `ownerVmid` (a sparse extent, hypervisor.md §8).
   * `opts.unlimitedAddrspaces` exempts it from the per-extent address-space limit: the host's
   * RAM extent is mapped into the host and into every guest that shares a page with it.
   */
  createExtent(ownerVmid: number, label: string, opts?: CreateExtentOptions): ExtentId;
  /** Destroy an extent. @throws HypError ERROR_OBJECT_STATE if it still owns memory or has mappings. */
  destroyExtent(e: ExtentId): void;
  /** The extent that owns every byte of `[pa, pa+size)`, or undefined if that range spans several or none. */
  extentOf(pa: number, size: number): ExtentId | undefined;
  /** The PA runs `e` owns inside `[pa, pa+size)` (all of them when no range is given), in PA order. */
  runsOf(e: ExtentId, range?: PaRange): PaRange[];
  /**
   * memextent_donate: move `[pa, pa+size)` from `from` to `to`.
   * @throws HypError ERROR_MEMDB_NOT_OWNER unless `from` owns every byte of it.
   */
  donate(from: ExtentId, to: ExtentId, pa: number, size: number): void;
  /**
   * addrspace_map: map `[pa, pa+size)` of extent `e` at `ipa` in `vmid`'s address space with
   * `rights`. The mapping applies to the parts of that PA window `e` owns, now or later.
   * @throws HypError ERROR_ADDR_INVALID for misalignment or overflow; ERROR_EXISTING_MAPPING if
   *   `[ipa, ipa+size)` overlaps a mapping already in that address space.
   *   (This model: misalignment → ERROR_ARGUMENT_ALIGNMENT, see the argument checks above;
   *   rights outside 1..7 → ERROR_ARGUMENT_INVALID; a 5th address space for one extent →
   *   ERROR_MEMEXTENT_MAPPINGS_FULL.)
   */
  map(vmid: number, e: ExtentId, ipa: number, pa: number, size: number, rights: number): void;
  /**
   * addrspace_unmap: remove the mappings of extent `e` covering exactly `[ipa, ipa+size)` in
   * `vmid`'s address space (a mapping may be split).
   * @throws HypError ERROR_ADDR_INVALID when part of that range is not mapped from `e`.
   */
  unmap(vmid: number, e: ExtentId, ipa: number, size: number): void;
  /** Remove every mapping of `e` (in any address space). */
  unmapAll(e: ExtentId): void;
  /**
   * Translate `[ipa, ipa+size)` of `vmid`'s stage 2 into effective pieces (a mapping whose
   * extent no longer owns a PA does not reach it). Holes are absent from the result.
   */
  translate(vmid: number, ipa: number, size: number): Translation[];
  /**
   * Stage-2 checked access: read `len` bytes at `ipa` as `vmid`.
   * @throws MemFault when any byte is unmapped or lacks R.
   */
  read(vmid: number, ipa: number, len: number): Uint8Array;
  /** @throws MemFault when any byte is unmapped or lacks W. */
  write(vmid: number, ipa: number, bytes: Uint8Array): void;
  /**
   * A vCPU's load: `read` of `len` bytes at `ipa` as `vmid` (the same stage-2 check), answered
   * as their little-endian unsigned value; the fault is returned (nothing read), not thrown.
   */
  loadLe(vmid: number, ipa: number, len: number): bigint | MemFaultInfo;
  /**
   * A vCPU's store: `write` of the low `len` bytes of `value` (modulo 2^64; bytes past the
   * eighth are 0), little-endian, at `ipa` as `vmid`; the fault is returned (nothing written).
   */
  storeLe(vmid: number, ipa: number, len: number, value: bigint): MemFaultInfo | undefined;
  /** Check an access without doing it; returns the fault it would raise, or undefined. */
  check(vmid: number, ipa: number, len: number, kind: AccessKind): MemFaultInfo | undefined;
  /** Physical access for the hypervisor and RM (no stage 2). Unwritten memory reads as zero. */
  readPhys(pa: number, len: number): Uint8Array;
  writePhys(pa: number, bytes: Uint8Array): void;
  /** memextent_modify ZERO_RANGE: zero `[pa, pa+size)`. */
  zero(pa: number, size: number): void;
  /** Every extent's summary. */
  extents(): ExtentInfo[];
  /** Memory owned per VM (bytes), from the memdb. */
  ownership(): Map<number, number>;
  /** Internal consistency checks; an empty list means they all hold. */
  checkInvariants(): string[];
  /** Bookkeeping size: memdb runs + mappings + stored content pages. */
  stats(): { runs: number; mappings: number; contentPages: number };
}
