/**
 * A memory parcel as the RM keeps it: who owns it, who may accept it and how, the memory it
 * covers (as regions: one per physically contiguous run of an SGL entry), and the state of each
 * borrower.
 *
 * Reference: rm-rpc.md §16.1 (transaction types), §16.2 (rights, attributes, labels, handles),
 * §16.4 (parcel and per-borrower states), §16.6 (sanitize, tags, locks).
 */
import type { ExtentId } from '../hyp/memory/api.js';

export const ParcelState = { INIT: 'INIT', SHARING: 'SHARING', SHARED: 'SHARED' } as const;
export type ParcelStateName = keyof typeof ParcelState;

/** One internal region: a physically contiguous piece of an SGL entry. */
export interface Region {
  /** The owner's IPA of this region. */
  readonly ownerIpa: number;
  readonly pa: number;
  readonly size: number;
  /** The owner's stage-2 rights here before the parcel took it (restored on a SHARE reclaim). */
  readonly ownerRights: number;
  /** Index of the SGL entry it came from (create and appends numbered in order). */
  readonly sglIndex: number;
}

/** One ACL entry and the borrower state kept with it. */
export interface AclSlot {
  readonly vmid: number;
  readonly rights: number;
  readonly attr: number;
  /** An accept was started (partial or complete). */
  shared: boolean;
  /** An accept with DONE completed: the regions are mapped in the borrower. */
  mapped: boolean;
  /** Borrower IPA per region (index = region index), as allocated so far; `contiguous` when one block. */
  ipas: number[];
  contiguous: boolean | undefined;
  /** Starts of the IPA reservations this borrower holds for the parcel (freed on release). */
  reservations: number[];
}

export interface Parcel {
  readonly handle: number;
  readonly owner: number;
  readonly memType: number;
  readonly transType: number;
  label: number;
  readonly acl: AclSlot[];
  /** The request's attr list, in order (for VALIDATE_ACL_ATTR and LOOKUP). */
  readonly attrsIn: ReadonlyArray<{ attr: number; vmid: number }>;
  readonly regions: Region[];
  /** SGL entries as the owner gave them (create and appends), for LOOKUP. */
  sglCount: number;
  state: ParcelStateName;
  shareCount: number;
  readonly createdSanitized: boolean;
  sanitizeOnReclaim: boolean;
  memInfoTag: number | undefined;
  readonly locked: boolean;
  /** The parcel's own extent: the memory is donated into it at create time. */
  readonly extent: ExtentId;
  /** Total bytes. */
  size: number;
}
