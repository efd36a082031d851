/**
 * Golden vectors: IPA reservation (IPA_RESERVE, IPA_UNRESERVE) and firmware (FW_MILESTONE,
 * FW_SET_VM_FIRMWARE) requests and replies.
 *
 * Provenance: /work/shared/reference/rm-rpc.md §2 (header), §10 (list encoding), §11 (IDs,
 * lengths), §12.8 (RM vm_ipa_message.h: FIXED entry 16 bytes, ALLOC entry 32 bytes; ALLOC
 * reply u32 count + u64 ipa[count]), §12.9 (RM vm_firmware_message.h). Typed by hand.
 */
import { reply, replyWith, request, type GoldenVector } from './golden-types.js';
import { STANDARD_REPLY } from '../../src/rm-rpc/wire/codec.js';
import { IPA_RESERVE_FIXED_REPLY } from '../../src/rm-rpc/wire/ipa.js';

export const IPA_FIRMWARE_VECTORS: readonly GoldenVector[] = [
  // ── IPA_RESERVE 0x560000B0 ────────────────────────────────────────────────────────────────
  request('IPA_RESERVE', {
    name: 'IPA_RESERVE FIXED_LIST request, 1 range, constraint NORMAL',
    ref: 'rm-rpc.md §12.8',
    seq: 0x00b0,
    msgId: 0x5600_00b0,
    record: {
      allocType: 0,
      genericConstraints: 0x4,
      platformConstraints: 0,
      entries: [{ base: 0x9000_0000n, size: 0x10_0000n }],
    },
    bytes: [
      0x21, 0x01, 0xb0, 0x00, 0xb0, 0x00, 0x00, 0x56, // REQUEST, seq 0xB0, IPA_RESERVE
      0x00, //                                           alloc_type 0 FIXED_LIST
      0x00, //                                           u8 res
      0x00, 0x00, //                                     u16 res
      0x04, 0x00, 0x00, 0x00, //                         generic_constraints NORMAL 0x4
      0x00, 0x00, 0x00, 0x00, //                         platform_constraints 0
      0x01, 0x00, 0x00, 0x00, //                         list: n 1, res
      0x00, 0x00, 0x00, 0x90, 0x00, 0x00, 0x00, 0x00, //   base 0x90000000
      0x00, 0x00, 0x10, 0x00, 0x00, 0x00, 0x00, 0x00, //   size 0x100000
    ],
  }),
  replyWith('IPA_RESERVE', IPA_RESERVE_FIXED_REPLY, {
    name: 'IPA_RESERVE reply to FIXED_LIST: standard reply',
    ref: 'rm-rpc.md §12.8',
    seq: 0x00b0,
    msgId: 0x5600_00b0,
    err: 0,
    record: {},
    bytes: [
      0x21, 0x02, 0xb0, 0x00, 0xb0, 0x00, 0x00, 0x56, // REPLY, seq 0xB0, IPA_RESERVE
      0x00, 0x00, 0x00, 0x00, //                         err_code OK, no data
    ],
  }),
  request('IPA_RESERVE', {
    name: 'IPA_RESERVE ALLOC_LIST request, 2 allocations',
    ref: 'rm-rpc.md §12.8',
    seq: 0x00b1,
    msgId: 0x5600_00b0,
    record: {
      allocType: 1,
      genericConstraints: 0x14,
      platformConstraints: 0x8000_0001,
      entries: [
        { regionBase: 0x1_0000_0000n, regionSize: 0x1_0000_0000n, size: 0x20_0000n, alignment: 0x20_0000n },
        { regionBase: 0x8000_0000n, regionSize: 0x4000_0000n, size: 0x1000n, alignment: 0x1000n },
      ],
    },
    bytes: [
      0x21, 0x01, 0xb1, 0x00, 0xb0, 0x00, 0x00, 0x56, // REQUEST, seq 0xB1, IPA_RESERVE
      0x01, //                                           alloc_type 1 ALLOC_LIST
      0x00, 0x00, 0x00, //                               res
      0x14, 0x00, 0x00, 0x00, //                         generic_constraints NORMAL 0x4 | OWNER_VM_VISIBLE 0x10
      0x01, 0x00, 0x00, 0x80, //                         platform_constraints 0x80000001
      0x02, 0x00, 0x00, 0x00, //                         list: n 2, res
      0x00, 0x00, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00, //   [0] region_base 0x1_0000_0000
      0x00, 0x00, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00, //   [0] region_size 0x1_0000_0000
      0x00, 0x00, 0x20, 0x00, 0x00, 0x00, 0x00, 0x00, //   [0] size 0x200000
      0x00, 0x00, 0x20, 0x00, 0x00, 0x00, 0x00, 0x00, //   [0] alignment 0x200000
      0x00, 0x00, 0x00, 0x80, 0x00, 0x00, 0x00, 0x00, //   [1] region_base 0x80000000
      0x00, 0x00, 0x00, 0x40, 0x00, 0x00, 0x00, 0x00, //   [1] region_size 0x40000000
      0x00, 0x10, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, //   [1] size 0x1000
      0x00, 0x10, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, //   [1] alignment 0x1000
    ],
  }),
  reply('IPA_RESERVE', {
    name: 'IPA_RESERVE reply to ALLOC_LIST: u32 count 2, u64 IPAs at offset 4 (no alignment gap)',
    ref: 'rm-rpc.md §12.8',
    seq: 0x00b1,
    msgId: 0x5600_00b0,
    record: { ipas: [0x1_0020_0000n, 0x8000_1000n] },
    bytes: [
      0x21, 0x02, 0xb1, 0x00, 0xb0, 0x00, 0x00, 0x56, // REPLY, seq 0xB1, IPA_RESERVE
      0x00, 0x00, 0x00, 0x00, //                         err_code OK
      0x02, 0x00, 0x00, 0x00, //                         count 2
      0x00, 0x00, 0x20, 0x00, 0x01, 0x00, 0x00, 0x00, // ipa[0] 0x1_0020_0000
      0x00, 0x10, 0x00, 0x80, 0x00, 0x00, 0x00, 0x00, // ipa[1] 0x80001000
    ],
  }),
  replyWith('IPA_RESERVE', STANDARD_REPLY, {
    name: 'IPA_RESERVE error reply NORESOURCE (0x2)',
    ref: 'rm-rpc.md §12.8, §14.1',
    seq: 0x00b2,
    msgId: 0x5600_00b0,
    err: 0x2,
    record: {},
    bytes: [
      0x21, 0x02, 0xb2, 0x00, 0xb0, 0x00, 0x00, 0x56, // REPLY, seq 0xB2, IPA_RESERVE
      0x02, 0x00, 0x00, 0x00, //                         err_code 0x2 NORESOURCE
    ],
  }),

  // ── IPA_UNRESERVE 0x560000B1: always UNIMPLEMENTED ───────────────────────────────────────
  request('IPA_UNRESERVE', {
    name: 'IPA_UNRESERVE request (layout unknown: raw, here empty)',
    ref: 'rm-rpc.md §11',
    seq: 0x00b3,
    msgId: 0x5600_00b1,
    record: { bytes: new Uint8Array(0) },
    bytes: [0x21, 0x01, 0xb3, 0x00, 0xb1, 0x00, 0x00, 0x56], // REQUEST, seq 0xB3, IPA_UNRESERVE; no payload
  }),
  replyWith('IPA_UNRESERVE', STANDARD_REPLY, {
    name: 'IPA_UNRESERVE reply UNIMPLEMENTED',
    ref: 'rm-rpc.md §11, §14.1',
    seq: 0x00b3,
    msgId: 0x5600_00b1,
    err: 0xffff_ffff,
    record: {},
    bytes: [
      0x21, 0x02, 0xb3, 0x00, 0xb1, 0x00, 0x00, 0x56, // REPLY, seq 0xB3, IPA_UNRESERVE
      0xff, 0xff, 0xff, 0xff, //                         err_code UNIMPLEMENTED
    ],
  }),

  // ── FW_MILESTONE 0x51000020 (0), FW_SET_VM_FIRMWARE 0x51000021 (24) ──────────────────────
  request('FW_MILESTONE', {
    name: 'FW_MILESTONE request (zero-length)',
    ref: 'rm-rpc.md §12.9',
    seq: 0x0020,
    msgId: 0x5100_0020,
    record: {},
    bytes: [0x21, 0x01, 0x20, 0x00, 0x20, 0x00, 0x00, 0x51], // REQUEST, seq 0x20, FW_MILESTONE; no payload
  }),
  replyWith('FW_MILESTONE', STANDARD_REPLY, {
    name: 'FW_MILESTONE reply OK',
    ref: 'rm-rpc.md §12.9',
    seq: 0x0020,
    msgId: 0x5100_0020,
    err: 0,
    record: {},
    bytes: [
      0x21, 0x02, 0x20, 0x00, 0x20, 0x00, 0x00, 0x51, // REPLY, seq 0x20, FW_MILESTONE
      0x00, 0x00, 0x00, 0x00, //                         err_code OK
    ],
  }),
  request('FW_SET_VM_FIRMWARE', {
    name: 'FW_SET_VM_FIRMWARE request: auth ANDROID, parcel 9, 1 MiB image',
    ref: 'rm-rpc.md §12.9',
    seq: 0x0021,
    msgId: 0x5100_0021,
    record: { authType: 2, imageHandle: 9, imageOffset: 0n, imageSize: 0x10_0000n },
    bytes: [
      0x21, 0x01, 0x21, 0x00, 0x21, 0x00, 0x00, 0x51, // REQUEST, seq 0x21, FW_SET_VM_FIRMWARE
      0x02, 0x00, //                                     @0  auth_type 2 ANDROID
      0x00, 0x00, //                                     @2  res0 (≠ 0 → UNIMPLEMENTED)
      0x09, 0x00, 0x00, 0x00, //                         @4  parcel handle 9
      0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, // @8  image_offset 0
      0x00, 0x00, 0x10, 0x00, 0x00, 0x00, 0x00, 0x00, // @16 image_size 0x100000
    ],
  }),
  replyWith('FW_SET_VM_FIRMWARE', STANDARD_REPLY, {
    name: 'FW_SET_VM_FIRMWARE error reply BUSY (0x5): slot already set',
    ref: 'rm-rpc.md §12.9, §14.1',
    seq: 0x0021,
    msgId: 0x5100_0021,
    err: 0x5,
    record: {},
    bytes: [
      0x21, 0x02, 0x21, 0x00, 0x21, 0x00, 0x00, 0x51, // REPLY, seq 0x21, FW_SET_VM_FIRMWARE
      0x05, 0x00, 0x00, 0x00, //                         err_code 0x5 BUSY
    ],
  }),
];
