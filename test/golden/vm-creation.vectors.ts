/**
 * Golden vectors: VM creation requests (VM_CONFIG_IMAGE, VM_AUTH_IMAGE, VM_INIT) and the three
 * calls Linux v17 sends to newer firmware (VM_SET_CONTEXT = Linux VM_SET_BOOT_CONTEXT,
 * VM_SET_DEMAND_PAGING, VM_SET_ADDRESS_LAYOUT). All have standard replies.
 *
 * Provenance: /work/shared/reference/rm-rpc.md §2 (header), §11 (IDs, lengths), §12.2 (RM
 * vm_creation_message.h layouts), §12.3 (Linux v17 layouts, [newer firmware]). Typed by hand.
 */
import { replyWith, request, type GoldenVector } from './golden-types.js';
import { STANDARD_REPLY } from '../../src/rm-rpc/wire/codec.js';

export const VM_CREATION_VECTORS: readonly GoldenVector[] = [
  // ── VM_CONFIG_IMAGE 0x56000009 (40) ───────────────────────────────────────────────────────
  request('VM_CONFIG_IMAGE', {
    name: 'VM_CONFIG_IMAGE request as Linux v17 sends it: auth NONE, image 0/0, DTB at 0x800 size 0x1234',
    ref: 'rm-rpc.md §12.2',
    seq: 0x0009,
    msgId: 0x5600_0009,
    record: { vmid: 0x80, authType: 0, imageHandle: 2, imageOffset: 0n, imageSize: 0n, dtOffset: 0x800n, dtSize: 0x1234n },
    bytes: [
      0x21, 0x01, 0x09, 0x00, 0x09, 0x00, 0x00, 0x56, // REQUEST, seq 9, VM_CONFIG_IMAGE
      0x80, 0x00, //                                     vmid 0x80
      0x00, 0x00, //                                     auth_type 0 NONE
      0x02, 0x00, 0x00, 0x00, //                         image parcel handle 2 (the DTB parcel)
      0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, // image_offset 0
      0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, // image_size 0
      0x00, 0x08, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, // dt_offset 0x800
      0x34, 0x12, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, // dt_size 0x1234
    ],
  }),
  request('VM_CONFIG_IMAGE', {
    name: 'VM_CONFIG_IMAGE request, auth PLATFORM, every field distinct',
    ref: 'rm-rpc.md §12.2',
    seq: 0x000a,
    msgId: 0x5600_0009,
    record: {
      vmid: 0x0d,
      authType: 1,
      imageHandle: 0x1122_3344,
      imageOffset: 0x1000n,
      imageSize: 0x20_0000n,
      dtOffset: 0x20_1000n,
      dtSize: 0x1_0000_3000n,
    },
    bytes: [
      0x21, 0x01, 0x0a, 0x00, 0x09, 0x00, 0x00, 0x56, // REQUEST, seq 0x0A, VM_CONFIG_IMAGE
      0x0d, 0x00, //                                     @0  vmid 0x0D
      0x01, 0x00, //                                     @2  auth_type 1 PLATFORM (Linux QCOM_PIL_ELF)
      0x44, 0x33, 0x22, 0x11, //                         @4  image parcel handle 0x11223344
      0x00, 0x10, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, // @8  image_offset 0x1000
      0x00, 0x00, 0x20, 0x00, 0x00, 0x00, 0x00, 0x00, // @16 image_size 0x200000
      0x00, 0x10, 0x20, 0x00, 0x00, 0x00, 0x00, 0x00, // @24 dt_offset 0x201000
      0x00, 0x30, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00, // @32 dt_size 0x1_0000_3000
    ],
  }),
  replyWith('VM_CONFIG_IMAGE', STANDARD_REPLY, {
    name: 'VM_CONFIG_IMAGE error reply MEM_INVALID (0xA)',
    ref: 'rm-rpc.md §12.2, §14.1',
    seq: 0x0009,
    msgId: 0x5600_0009,
    err: 0xa,
    record: {},
    bytes: [
      0x21, 0x02, 0x09, 0x00, 0x09, 0x00, 0x00, 0x56, // REPLY, seq 9, VM_CONFIG_IMAGE
      0x0a, 0x00, 0x00, 0x00, //                         err_code 0xA MEM_INVALID
    ],
  }),

  // ── VM_AUTH_IMAGE 0x5600000A (4 + 8n) ─────────────────────────────────────────────────────
  request('VM_AUTH_IMAGE', {
    name: 'VM_AUTH_IMAGE request with 2 params',
    ref: 'rm-rpc.md §12.2',
    seq: 0x000b,
    msgId: 0x5600_000a,
    record: {
      vmid: 0x0d,
      params: [
        { type: 1, value: 0x1234 },
        { type: 2, value: 0xdead_beef },
      ],
    },
    bytes: [
      0x21, 0x01, 0x0b, 0x00, 0x0a, 0x00, 0x00, 0x56, // REQUEST, seq 0x0B, VM_AUTH_IMAGE
      0x0d, 0x00, //                                     vmid 0x0D
      0x02, 0x00, //                                     n_params 2
      0x01, 0x00, 0x00, 0x00, //                         param[0] type 1
      0x34, 0x12, 0x00, 0x00, //                         param[0] value 0x1234
      0x02, 0x00, 0x00, 0x00, //                         param[1] type 2
      0xef, 0xbe, 0xad, 0xde, //                         param[1] value 0xDEADBEEF
    ],
  }),
  request('VM_AUTH_IMAGE', {
    name: 'VM_AUTH_IMAGE request with no params (4 bytes)',
    ref: 'rm-rpc.md §12.2',
    seq: 0x000c,
    msgId: 0x5600_000a,
    record: { vmid: 0x0d, params: [] },
    bytes: [
      0x21, 0x01, 0x0c, 0x00, 0x0a, 0x00, 0x00, 0x56, // REQUEST, seq 0x0C, VM_AUTH_IMAGE
      0x0d, 0x00, //                                     vmid 0x0D
      0x00, 0x00, //                                     n_params 0
    ],
  }),

  // ── VM_INIT 0x5600000B (4) ────────────────────────────────────────────────────────────────
  request('VM_INIT', {
    name: 'VM_INIT request, vmid 0x80',
    ref: 'rm-rpc.md §12.2',
    seq: 0x000d,
    msgId: 0x5600_000b,
    record: { vmid: 0x80 },
    bytes: [
      0x21, 0x01, 0x0d, 0x00, 0x0b, 0x00, 0x00, 0x56, // REQUEST, seq 0x0D, VM_INIT
      0x80, 0x00, //                                     vmid 0x80
      0x00, 0x00, //                                     res0 (must be 0)
    ],
  }),
  replyWith('VM_INIT', STANDARD_REPLY, {
    name: 'VM_INIT reply OK',
    ref: 'rm-rpc.md §12.2',
    seq: 0x000d,
    msgId: 0x5600_000b,
    err: 0,
    record: {},
    bytes: [
      0x21, 0x02, 0x0d, 0x00, 0x0b, 0x00, 0x00, 0x56, // REPLY, seq 0x0D, VM_INIT
      0x00, 0x00, 0x00, 0x00, //                         err_code OK
    ],
  }),

  // ── VM_SET_CONTEXT / VM_SET_BOOT_CONTEXT 0x56000031 (16) ──────────────────────────────────
  request('VM_SET_CONTEXT', {
    name: 'VM_SET_BOOT_CONTEXT request: PC = 0x8000_0000',
    ref: 'rm-rpc.md §12.3',
    seq: 0x0031,
    msgId: 0x5600_0031,
    record: { vmid: 0x80, regSet: 1, regIndex: 0, value: 0x8000_0000n },
    bytes: [
      0x21, 0x01, 0x31, 0x00, 0x31, 0x00, 0x00, 0x56, // REQUEST, seq 0x31, VM_SET_BOOT_CONTEXT
      0x80, 0x00, //                                     vmid 0x80
      0x01, //                                           reg_set 1 PC
      0x00, //                                           reg_index 0
      0x00, 0x00, 0x00, 0x00, //                         pad
      0x00, 0x00, 0x00, 0x80, 0x00, 0x00, 0x00, 0x00, // value 0x80000000
    ],
  }),
  request('VM_SET_CONTEXT', {
    name: 'VM_SET_BOOT_CONTEXT request: SP 1 = 0xFFFF_0000_1234_5678',
    ref: 'rm-rpc.md §12.3',
    seq: 0x0032,
    msgId: 0x5600_0031,
    record: { vmid: 0x80, regSet: 2, regIndex: 1, value: 0xffff_0000_1234_5678n },
    bytes: [
      0x21, 0x01, 0x32, 0x00, 0x31, 0x00, 0x00, 0x56, // REQUEST, seq 0x32, VM_SET_BOOT_CONTEXT
      0x80, 0x00, //                                     vmid 0x80
      0x02, //                                           reg_set 2 SP
      0x01, //                                           reg_index 1
      0x00, 0x00, 0x00, 0x00, //                         pad
      0x78, 0x56, 0x34, 0x12, 0x00, 0x00, 0xff, 0xff, // value 0xFFFF000012345678
    ],
  }),
  replyWith('VM_SET_CONTEXT', STANDARD_REPLY, {
    name: 'VM_SET_CONTEXT reply from the public RM: UNIMPLEMENTED',
    ref: 'rm-rpc.md §11, §12.3',
    seq: 0x0031,
    msgId: 0x5600_0031,
    err: 0xffff_ffff,
    record: {},
    bytes: [
      0x21, 0x02, 0x31, 0x00, 0x31, 0x00, 0x00, 0x56, // REPLY, seq 0x31, VM_SET_CONTEXT
      0xff, 0xff, 0xff, 0xff, //                         err_code UNIMPLEMENTED
    ],
  }),

  // ── VM_SET_DEMAND_PAGING 0x56000033 (8 + 16n) ─────────────────────────────────────────────
  request('VM_SET_DEMAND_PAGING', {
    name: 'VM_SET_DEMAND_PAGING request with 2 ranges',
    ref: 'rm-rpc.md §12.3',
    seq: 0x0033,
    msgId: 0x5600_0033,
    record: {
      vmid: 0x80,
      ranges: [
        { address: 0x8000_0000n, size: 0x100_0000n },
        { address: 0x1_0000_0000n, size: 0x20_0000n },
      ],
    },
    bytes: [
      0x21, 0x01, 0x33, 0x00, 0x33, 0x00, 0x00, 0x56, // REQUEST, seq 0x33, VM_SET_DEMAND_PAGING
      0x80, 0x00, //                                     vmid 0x80
      0x00, 0x00, //                                     pad
      0x02, 0x00, 0x00, 0x00, //                         range_count 2
      0x00, 0x00, 0x00, 0x80, 0x00, 0x00, 0x00, 0x00, // range[0] guest address 0x80000000
      0x00, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00, 0x00, // range[0] size 0x1000000 (16 MiB)
      0x00, 0x00, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00, // range[1] guest address 0x1_0000_0000
      0x00, 0x00, 0x20, 0x00, 0x00, 0x00, 0x00, 0x00, // range[1] size 0x200000
    ],
  }),
  request('VM_SET_DEMAND_PAGING', {
    name: 'VM_SET_DEMAND_PAGING request with no ranges (8 bytes)',
    ref: 'rm-rpc.md §12.3',
    seq: 0x0034,
    msgId: 0x5600_0033,
    record: { vmid: 0x80, ranges: [] },
    bytes: [
      0x21, 0x01, 0x34, 0x00, 0x33, 0x00, 0x00, 0x56, // REQUEST, seq 0x34, VM_SET_DEMAND_PAGING
      0x80, 0x00, 0x00, 0x00, //                         vmid 0x80, pad
      0x00, 0x00, 0x00, 0x00, //                         range_count 0
    ],
  }),

  // ── VM_SET_ADDRESS_LAYOUT 0x56000034 (24) ─────────────────────────────────────────────────
  request('VM_SET_ADDRESS_LAYOUT', {
    name: 'VM_SET_ADDRESS_LAYOUT request: IMAGE range of the DTB parcel',
    ref: 'rm-rpc.md §12.3',
    seq: 0x0035,
    msgId: 0x5600_0034,
    record: { vmid: 0x80, rangeId: 0, base: 0x8_0000_0000n, size: 0x20_0000n },
    bytes: [
      0x21, 0x01, 0x35, 0x00, 0x34, 0x00, 0x00, 0x56, // REQUEST, seq 0x35, VM_SET_ADDRESS_LAYOUT
      0x80, 0x00, //                                     vmid 0x80
      0x00, 0x00, //                                     pad
      0x00, 0x00, 0x00, 0x00, //                         range_id 0 IMAGE
      0x00, 0x00, 0x00, 0x00, 0x08, 0x00, 0x00, 0x00, // base 0x8_0000_0000
      0x00, 0x00, 0x20, 0x00, 0x00, 0x00, 0x00, 0x00, // size 0x200000
    ],
  }),
  request('VM_SET_ADDRESS_LAYOUT', {
    name: 'VM_SET_ADDRESS_LAYOUT request: FIRMWARE range',
    ref: 'rm-rpc.md §12.3',
    seq: 0x0036,
    msgId: 0x5600_0034,
    record: { vmid: 0x80, rangeId: 1, base: 0x4000_0000n, size: 0x1000n },
    bytes: [
      0x21, 0x01, 0x36, 0x00, 0x34, 0x00, 0x00, 0x56, // REQUEST, seq 0x36, VM_SET_ADDRESS_LAYOUT
      0x80, 0x00, 0x00, 0x00, //                         vmid 0x80, pad
      0x01, 0x00, 0x00, 0x00, //                         range_id 1 FIRMWARE
      0x00, 0x00, 0x00, 0x40, 0x00, 0x00, 0x00, 0x00, // base 0x40000000
      0x00, 0x10, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, // size 0x1000
    ],
  }),
];
