/**
 * IPA reservation payloads: IPA_RESERVE (IPA_UNRESERVE is always UNIMPLEMENTED: raw codec).
 *
 * Reference: rm-rpc.md §12.8, §17 row 7.
 *
 *   +0 u8 alloc_type  +1 u8 res  +2 u16 res  +4 u32 generic_constraints
 *   +8 u32 platform_constraints  +12 list {u16 n, u16 res, n × entry}
 *   FIXED_LIST entry: {u64 base, u64 size}                                  16 bytes
 *   ALLOC_LIST entry: {u64 region_base, u64 region_size, u64 size, u64 alignment}  32 bytes
 *
 * Decode: at least 12 bytes; alloc_type ∉ {0, 1} → MSG_INVALID; the list by §10 with a maximum
 * of 30 entries (NORESOURCE above); nothing after the list (the sheet says "exact length").
 * Constraint bits that map to no tag → ARGUMENT_INVALID is the handler's. The order of the
 * alloc_type and list checks inside the RM is not documented; this order is a decision.
 * The reply depends on the request: ALLOC_LIST → u32 count + u64 ipa[count]; FIXED_LIST → a
 * standard reply (`ipaReserveReplyCodec`).
 */
import {
  rd64,
  Reader,
  Writer,
  expectAtLeast,
  listSize,
  wireFail,
  IPA_LIST_MAX,
  STANDARD_REPLY,
  type Empty,
  type PayloadCodec,
} from './codec.js';
import { IpaAllocType } from './enums.js';

export interface IpaFixedRange {
  readonly base: bigint;
  readonly size: bigint;
}
export interface IpaAllocRange {
  /** The window to allocate in. */
  readonly regionBase: bigint;
  readonly regionSize: bigint;
  readonly size: bigint;
  readonly alignment: bigint;
}
interface IpaReserveCommon {
  readonly genericConstraints: number;
  readonly platformConstraints: number;
}
/** IPA_RESERVE request, discriminated by `allocType`. */
export type IpaReserveReq =
  | (IpaReserveCommon & { readonly allocType: typeof IpaAllocType.FIXED_LIST; readonly entries: readonly IpaFixedRange[] })
  | (IpaReserveCommon & { readonly allocType: typeof IpaAllocType.ALLOC_LIST; readonly entries: readonly IpaAllocRange[] });

const FIXED_SIZE = 16;
const ALLOC_SIZE = 32;

export const IPA_RESERVE_REQ: PayloadCodec<IpaReserveReq> = {
  encode(v) {
    const fixed = v.allocType === IpaAllocType.FIXED_LIST;
    const entrySize = fixed ? FIXED_SIZE : ALLOC_SIZE;
    const w = new Writer(12 + listSize(v.entries.length, entrySize))
      .u8(v.allocType, 'allocType')
      .skip(3)
      .u32(v.genericConstraints, 'genericConstraints')
      .u32(v.platformConstraints, 'platformConstraints');
    if (v.allocType === IpaAllocType.FIXED_LIST) {
      w.list(v.entries, FIXED_SIZE, 'fixed', (x, e) => x.u64(e.base, 'base').u64(e.size, 'size'));
    } else {
      w.list(v.entries, ALLOC_SIZE, 'alloc', (x, e) =>
        x.u64(e.regionBase, 'regionBase').u64(e.regionSize, 'regionSize').u64(e.size, 'size').u64(e.alignment, 'alignment'),
      );
    }
    return w.done();
  },
  decode(b) {
    expectAtLeast(b, 12, 'IPA_RESERVE');
    const r = new Reader(b, 'IPA_RESERVE');
    const allocType = r.u8('alloc_type');
    r.skip(3);
    const genericConstraints = r.u32();
    const platformConstraints = r.u32();
    if (allocType === IpaAllocType.FIXED_LIST) {
      const entries = r.list(FIXED_SIZE, IPA_LIST_MAX, 'fixed', (b, o) => ({
        base: rd64(b, o),
        size: rd64(b, o + 8),
      }));
      r.end();
      return { allocType, genericConstraints, platformConstraints, entries };
    }
    if (allocType === IpaAllocType.ALLOC_LIST) {
      const entries = r.list(ALLOC_SIZE, IPA_LIST_MAX, 'alloc', (b, o) => ({
        regionBase: rd64(b, o),
        regionSize: rd64(b, o + 8),
        size: rd64(b, o + 16),
        alignment: rd64(b, o + 24),
      }));
      r.end();
      return { allocType, genericConstraints, platformConstraints, entries };
    }
    return wireFail('bad-value', `IPA_RESERVE: alloc_type ${allocType}`, 0, 'MSG_INVALID');
  },
};

/** IPA_RESERVE reply for ALLOC_LIST: u32 count, u64 ipa × count. */
export interface IpaReserveAllocReply {
  readonly ipas: readonly bigint[];
}
export const IPA_RESERVE_ALLOC_REPLY: PayloadCodec<IpaReserveAllocReply> = {
  encode(v) {
    const w = new Writer(4 + 8 * v.ipas.length).u32(v.ipas.length, 'count');
    for (const x of v.ipas) w.u64(x, 'ipa');
    return w.done();
  },
  decode(b) {
    return { ipas: new Reader(b, 'IPA_RESERVE reply').countedU32(8, 'ipa', (b, o) => rd64(b, o)) };
  },
};
/** IPA_RESERVE reply for FIXED_LIST: a standard reply. */
export const IPA_RESERVE_FIXED_REPLY: PayloadCodec<Empty> = STANDARD_REPLY;
/** The IPA_RESERVE reply codec that matches a request. */
export function ipaReserveReplyCodec(req: Pick<IpaReserveReq, 'allocType'>): PayloadCodec<IpaReserveAllocReply> | PayloadCodec<Empty> {
  return req.allocType === IpaAllocType.ALLOC_LIST ? IPA_RESERVE_ALLOC_REPLY : IPA_RESERVE_FIXED_REPLY;
}
