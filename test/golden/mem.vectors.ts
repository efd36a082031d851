/**
 * Golden vectors: memory-parcel requests (0x5100_00xx) and their replies: MEM_LEND, MEM_SHARE,
 * MEM_DONATE, MEM_APPEND, MEM_ACCEPT, MEM_RELEASE, MEM_RECLAIM, MEM_NOTIFY, MEM_QCOM_LOOKUP_SGL.
 *
 * Provenance: /work/shared/reference/rm-rpc.md §2 (header), §10 (list encoding: u16 count,
 * u16 reserved, entries, next list at a 4-byte boundary; an absent trailing list is empty),
 * §11 (IDs, minimum lengths), §12.5 (layouts; the attr entry is **u16 attr first, then u16
 * vmid**; MEM_ACCEPT's map_vmid is the upper half of the SGL header), §16.2 (rights, attrs,
 * handles). The sheet derives from RM memparcel_msg.h / memparcel.c and Linux v17
 * rsc_mgr_rpc.c. Every byte typed by hand.
 */
import { reply, replyWith, request, type GoldenVector } from './golden-types.js';
import { STANDARD_REPLY } from '../../src/rm-rpc/wire/codec.js';
import { MEM_ACCEPT_STANDARD_REPLY } from '../../src/rm-rpc/wire/mem.js';

/** The MEM_LEND record of the first vector; two decode-only variants reuse it. */
const LEND_RECORD = {
  memType: 0,
  flags: 0,
  label: 0,
  acl: [{ vmid: 0x80, rights: 7 }],
  sgl: [{ address: 0x8_8000_0000n, size: 0x20_0000n }],
  attrs: [],
};

export const MEM_VECTORS: readonly GoldenVector[] = [
  // ── MEM_LEND 0x51000012 (≥ 20) ────────────────────────────────────────────────────────────
  request('MEM_LEND', {
    name: 'MEM_LEND request as Linux v17 sends it: one ACL entry, one SGL entry, empty attr list',
    ref: 'rm-rpc.md §12.5, §16.1',
    seq: 0x0100,
    msgId: 0x5100_0012,
    record: LEND_RECORD,
    bytes: [
      0x21, 0x01, 0x00, 0x01, 0x12, 0x00, 0x00, 0x51, // REQUEST, seq 0x100, MEM_LEND
      0x00, //                                           mem_type 0 NORMAL
      0x00, //                                           reserved
      0x00, //                                           flags 0
      0x00, //                                           reserved
      0x00, 0x00, 0x00, 0x00, //                         label 0 (Linux v17)
      0x01, 0x00, 0x00, 0x00, //                         ACL list: n_acl 1, reserved
      0x80, 0x00, 0x07, 0x00, //                           vmid 0x80, rights RWX 7, reserved
      0x01, 0x00, 0x00, 0x00, //                         SGL list: n_sgl 1, reserved
      0x00, 0x00, 0x00, 0x80, 0x08, 0x00, 0x00, 0x00, //   address 0x8_8000_0000 (owner IPA)
      0x00, 0x00, 0x20, 0x00, 0x00, 0x00, 0x00, 0x00, //   size 0x200000
      0x00, 0x00, 0x00, 0x00, //                         attr list: n_attr 0 (Linux sends u32 0)
    ],
  }),
  request('MEM_LEND', {
    name: 'MEM_LEND request without the attr list: a list the buffer ends before is empty',
    ref: 'rm-rpc.md §10',
    seq: 0x0100,
    msgId: 0x5100_0012,
    record: LEND_RECORD,
    decodeOnly: 'missing trailing list = empty list (§10); encoders always write the header',
    bytes: [
      0x21, 0x01, 0x00, 0x01, 0x12, 0x00, 0x00, 0x51, // REQUEST, seq 0x100, MEM_LEND
      0x00, 0x00, 0x00, 0x00, //                         mem_type 0, res, flags 0, res
      0x00, 0x00, 0x00, 0x00, //                         label 0
      0x01, 0x00, 0x00, 0x00, //                         n_acl 1
      0x80, 0x00, 0x07, 0x00, //                           vmid 0x80, RWX
      0x01, 0x00, 0x00, 0x00, //                         n_sgl 1
      0x00, 0x00, 0x00, 0x80, 0x08, 0x00, 0x00, 0x00, //   address 0x8_8000_0000
      0x00, 0x00, 0x20, 0x00, 0x00, 0x00, 0x00, 0x00, //   size 0x200000
      //                                                 (end of buffer where the attr header would be)
    ],
  }),
  request('MEM_LEND', {
    name: 'MEM_LEND request with non-zero reserved bytes (ignored: no check is stated)',
    ref: 'rm-rpc.md §10, §12.5',
    seq: 0x0100,
    msgId: 0x5100_0012,
    record: LEND_RECORD,
    decodeOnly: 'padding fields are ignored unless a check is stated (§10)',
    bytes: [
      0x21, 0x01, 0x00, 0x01, 0x12, 0x00, 0x00, 0x51, // REQUEST, seq 0x100, MEM_LEND
      0x00, //                                           mem_type 0
      0xee, //                                           reserved (ignored)
      0x00, //                                           flags 0
      0xee, //                                           reserved (ignored)
      0x00, 0x00, 0x00, 0x00, //                         label 0
      0x01, 0x00, 0xee, 0xee, //                         n_acl 1, reserved (ignored)
      0x80, 0x00, 0x07, 0xee, //                           vmid 0x80, RWX, reserved (ignored)
      0x01, 0x00, 0xee, 0xee, //                         n_sgl 1, reserved (ignored)
      0x00, 0x00, 0x00, 0x80, 0x08, 0x00, 0x00, 0x00, //   address 0x8_8000_0000
      0x00, 0x00, 0x20, 0x00, 0x00, 0x00, 0x00, 0x00, //   size 0x200000
      0x00, 0x00, 0xee, 0xee, //                         n_attr 0, reserved (ignored)
    ],
  }),
  request('MEM_LEND', {
    name: 'MEM_LEND request of 20 bytes ending after the ACL list: SGL and attr lists empty',
    ref: 'rm-rpc.md §10, §12.5',
    seq: 0x010f,
    msgId: 0x5100_0012,
    record: {
      memType: 0,
      flags: 0,
      label: 0,
      acl: [
        { vmid: 0x80, rights: 7 },
        { vmid: 0x81, rights: 5 },
      ],
      sgl: [],
      attrs: [],
    },
    decodeOnly: 'missing trailing lists = empty lists (§10); n_sgl == 0 is the handler\'s ARGUMENT_INVALID (§16.3)',
    bytes: [
      0x21, 0x01, 0x0f, 0x01, 0x12, 0x00, 0x00, 0x51, // REQUEST, seq 0x10F, MEM_LEND
      0x00, 0x00, 0x00, 0x00, //                         mem_type 0, res, flags 0, res
      0x00, 0x00, 0x00, 0x00, //                         label 0
      0x02, 0x00, 0x00, 0x00, //                         n_acl 2
      0x80, 0x00, 0x07, 0x00, //                           vmid 0x80, RWX
      0x81, 0x00, 0x05, 0x00, //                           vmid 0x81, RX
      //                                                 (end: exactly the minimum 20 bytes)
    ],
  }),
  reply('MEM_LEND', {
    name: 'MEM_LEND reply: handle 0 (the first create after boot)',
    ref: 'rm-rpc.md §12.5, §16.2',
    seq: 0x0100,
    msgId: 0x5100_0012,
    record: { handle: 0 },
    bytes: [
      0x21, 0x02, 0x00, 0x01, 0x12, 0x00, 0x00, 0x51, // REPLY, seq 0x100, MEM_LEND
      0x00, 0x00, 0x00, 0x00, //                         err_code OK
      0x00, 0x00, 0x00, 0x00, //                         handle 0
    ],
  }),

  // ── MEM_SHARE 0x51000013 ──────────────────────────────────────────────────────────────────
  request('MEM_SHARE', {
    name: 'MEM_SHARE request: SANITIZE, label 0x1234, 2 ACL, 2 SGL, 1 attr entry',
    ref: 'rm-rpc.md §12.5',
    seq: 0x0101,
    msgId: 0x5100_0013,
    record: {
      memType: 0,
      flags: 1,
      label: 0x1234,
      acl: [
        { vmid: 3, rights: 6 },
        { vmid: 0x80, rights: 4 },
      ],
      sgl: [
        { address: 0x8_8000_0000n, size: 0x1000n },
        { address: 0x8_8010_0000n, size: 0x3000n },
      ],
      attrs: [{ attr: 3, vmid: 0x80 }],
    },
    bytes: [
      0x21, 0x01, 0x01, 0x01, 0x13, 0x00, 0x00, 0x51, // REQUEST, seq 0x101, MEM_SHARE
      0x00, //                                           mem_type 0 NORMAL
      0x00, //                                           reserved
      0x01, //                                           flags: bit 0 SANITIZE
      0x00, //                                           reserved
      0x34, 0x12, 0x00, 0x00, //                         label 0x1234
      0x02, 0x00, 0x00, 0x00, //                         n_acl 2
      0x03, 0x00, 0x06, 0x00, //                           vmid 3 (HLOS, the owner), rights RW 6
      0x80, 0x00, 0x04, 0x00, //                           vmid 0x80, rights R 4
      0x02, 0x00, 0x00, 0x00, //                         n_sgl 2
      0x00, 0x00, 0x00, 0x80, 0x08, 0x00, 0x00, 0x00, //   [0] address 0x8_8000_0000
      0x00, 0x10, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, //   [0] size 0x1000
      0x00, 0x00, 0x10, 0x80, 0x08, 0x00, 0x00, 0x00, //   [1] address 0x8_8010_0000
      0x00, 0x30, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, //   [1] size 0x3000
      0x01, 0x00, 0x00, 0x00, //                         n_attr 1
      0x03, 0x00, //                                       attr 3 CACHED (u16 attr FIRST)
      0x80, 0x00, //                                       vmid 0x80
    ],
  }),
  reply('MEM_SHARE', {
    name: 'MEM_SHARE reply: handle 1',
    ref: 'rm-rpc.md §12.5',
    seq: 0x0101,
    msgId: 0x5100_0013,
    record: { handle: 1 },
    bytes: [
      0x21, 0x02, 0x01, 0x01, 0x13, 0x00, 0x00, 0x51, // REPLY, seq 0x101, MEM_SHARE
      0x00, 0x00, 0x00, 0x00, //                         err_code OK
      0x01, 0x00, 0x00, 0x00, //                         handle 1
    ],
  }),

  // ── MEM_DONATE 0x51000010 ─────────────────────────────────────────────────────────────────
  request('MEM_DONATE', {
    name: 'MEM_DONATE request: IO memory, APPEND, DEVICE attr',
    ref: 'rm-rpc.md §12.5, §16.2',
    seq: 0x0102,
    msgId: 0x5100_0010,
    record: {
      memType: 1,
      flags: 2,
      label: 0xa5a5_0001,
      acl: [{ vmid: 0x80, rights: 6 }],
      sgl: [{ address: 0xf000_0000n, size: 0x1000n }],
      attrs: [{ attr: 1, vmid: 0x80 }],
    },
    bytes: [
      0x21, 0x01, 0x02, 0x01, 0x10, 0x00, 0x00, 0x51, // REQUEST, seq 0x102, MEM_DONATE
      0x01, //                                           mem_type 1 IO
      0x00, //                                           reserved
      0x02, //                                           flags: bit 1 APPEND
      0x00, //                                           reserved
      0x01, 0x00, 0xa5, 0xa5, //                         label 0xA5A50001
      0x01, 0x00, 0x00, 0x00, //                         n_acl 1
      0x80, 0x00, 0x06, 0x00, //                           vmid 0x80, rights RW 6 (the IO maximum)
      0x01, 0x00, 0x00, 0x00, //                         n_sgl 1
      0x00, 0x00, 0x00, 0xf0, 0x00, 0x00, 0x00, 0x00, //   address 0xF0000000
      0x00, 0x10, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, //   size 0x1000
      0x01, 0x00, 0x00, 0x00, //                         n_attr 1
      0x01, 0x00, 0x80, 0x00, //                           attr 1 DEVICE, vmid 0x80
    ],
  }),
  reply('MEM_DONATE', {
    name: 'MEM_DONATE reply: handle 2',
    ref: 'rm-rpc.md §11, §12.5',
    seq: 0x0102,
    msgId: 0x5100_0010,
    record: { handle: 2 },
    bytes: [
      0x21, 0x02, 0x02, 0x01, 0x10, 0x00, 0x00, 0x51, // REPLY, seq 0x102, MEM_DONATE
      0x00, 0x00, 0x00, 0x00, //                         err_code OK
      0x02, 0x00, 0x00, 0x00, //                         handle 2
    ],
  }),

  // ── MEM_APPEND 0x51000018 (≥ 12) ──────────────────────────────────────────────────────────
  request('MEM_APPEND', {
    name: 'MEM_APPEND request: DONE, one SGL entry',
    ref: 'rm-rpc.md §12.5',
    seq: 0x0103,
    msgId: 0x5100_0018,
    record: { handle: 2, flags: 1, sgl: [{ address: 0xf000_1000n, size: 0x1000n }] },
    bytes: [
      0x21, 0x01, 0x03, 0x01, 0x18, 0x00, 0x00, 0x51, // REQUEST, seq 0x103, MEM_APPEND
      0x02, 0x00, 0x00, 0x00, //                         handle 2
      0x01, //                                           flags: bit 0 DONE (Linux: END)
      0x00, 0x00, 0x00, //                               reserved
      0x01, 0x00, 0x00, 0x00, //                         n_sgl 1
      0x00, 0x10, 0x00, 0xf0, 0x00, 0x00, 0x00, 0x00, //   address 0xF0001000
      0x00, 0x10, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, //   size 0x1000
    ],
  }),

  // ── MEM_ACCEPT 0x51000011 (≥ 24) ──────────────────────────────────────────────────────────
  request('MEM_ACCEPT', {
    name: 'MEM_ACCEPT request: the RM chooses the IPAs (n_sgl 0), validate ACL and label, DONE',
    ref: 'rm-rpc.md §12.5',
    seq: 0x0104,
    msgId: 0x5100_0011,
    record: { handle: 0, memType: 0, transType: 1, flags: 0x86, label: 0, acl: [{ vmid: 0x80, rights: 7 }], mapVmid: 0, sgl: [], attrs: [] },
    bytes: [
      0x21, 0x01, 0x04, 0x01, 0x11, 0x00, 0x00, 0x51, // REQUEST, seq 0x104, MEM_ACCEPT
      0x00, 0x00, 0x00, 0x00, //                         handle 0
      0x00, //                                           mem_type 0 NORMAL
      0x01, //                                           trans_type 1 LEND
      0x86, //                                           flags VALIDATE_ACL_ATTR 0x2 | VALIDATE_LABEL 0x4 | DONE 0x80
      0x00, //                                           reserved
      0x00, 0x00, 0x00, 0x00, //                         label 0
      0x01, 0x00, 0x00, 0x00, //                         n_acl 1
      0x80, 0x00, 0x07, 0x00, //                           vmid 0x80, RWX
      0x00, 0x00, //                                     n_sgl 0 = the RM chooses
      0x00, 0x00, //                                     map_vmid 0 (@18 + 4·1 = 22)
      0x00, 0x00, 0x00, 0x00, //                         n_attr 0
    ],
  }),
  reply('MEM_ACCEPT', {
    name: 'MEM_ACCEPT reply (request n_sgl 0): 2 mappings',
    ref: 'rm-rpc.md §12.5',
    seq: 0x0104,
    msgId: 0x5100_0011,
    record: {
      flags: 0,
      sgl: [
        { address: 0x4000_0000n, size: 0x10_0000n },
        { address: 0x4020_0000n, size: 0x1000n },
      ],
    },
    bytes: [
      0x21, 0x02, 0x04, 0x01, 0x11, 0x00, 0x00, 0x51, // REPLY, seq 0x104, MEM_ACCEPT
      0x00, 0x00, 0x00, 0x00, //                         err_code OK
      0x02, 0x00, //                                     sgl_entries 2
      0x00, //                                           flags 0
      0x00, //                                           reserved
      0x00, 0x00, 0x00, 0x40, 0x00, 0x00, 0x00, 0x00, // [0] IPA 0x40000000
      0x00, 0x00, 0x10, 0x00, 0x00, 0x00, 0x00, 0x00, // [0] size 0x100000
      0x00, 0x00, 0x20, 0x40, 0x00, 0x00, 0x00, 0x00, // [1] IPA 0x40200000
      0x00, 0x10, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, // [1] size 0x1000
    ],
  }),
  reply('MEM_ACCEPT', {
    name: 'MEM_ACCEPT reply (request n_sgl 0): INCOMPLETE, one contiguous mapping',
    ref: 'rm-rpc.md §12.5',
    seq: 0x0106,
    msgId: 0x5100_0011,
    record: { flags: 1, sgl: [{ address: 0x1_0000_0000n, size: 0x20_0000n }] },
    bytes: [
      0x21, 0x02, 0x06, 0x01, 0x11, 0x00, 0x00, 0x51, // REPLY, seq 0x106, MEM_ACCEPT
      0x00, 0x00, 0x00, 0x00, //                         err_code OK
      0x01, 0x00, //                                     sgl_entries 1
      0x01, //                                           flags: bit 0 INCOMPLETE
      0x00, //                                           reserved
      0x00, 0x00, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00, // IPA 0x1_0000_0000
      0x00, 0x00, 0x20, 0x00, 0x00, 0x00, 0x00, 0x00, // size 0x200000
    ],
  }),
  request('MEM_ACCEPT', {
    name: 'MEM_ACCEPT request with caller IPAs: 2 ACL entries, map_vmid 0x81 at offset 26, 1 attr',
    ref: 'rm-rpc.md §12.5',
    seq: 0x0105,
    msgId: 0x5100_0011,
    record: {
      handle: 1,
      memType: 0,
      transType: 2,
      flags: 0x98,
      label: 0x1234,
      acl: [
        { vmid: 3, rights: 6 },
        { vmid: 0x80, rights: 4 },
      ],
      mapVmid: 0x81,
      sgl: [{ address: 0x6000_0000n, size: 0x4000n }],
      attrs: [{ attr: 3, vmid: 0x80 }],
    },
    bytes: [
      0x21, 0x01, 0x05, 0x01, 0x11, 0x00, 0x00, 0x51, // REQUEST, seq 0x105, MEM_ACCEPT
      0x01, 0x00, 0x00, 0x00, //                         @0  handle 1
      0x00, //                                           @4  mem_type 0
      0x02, //                                           @5  trans_type 2 SHARE
      0x98, //                                           @6  flags MAP_OTHER 0x8 | MAP_CONTIGUOUS 0x10 | DONE 0x80
      0x00, //                                           @7  reserved
      0x34, 0x12, 0x00, 0x00, //                         @8  label 0x1234
      0x02, 0x00, 0x00, 0x00, //                         @12 n_acl 2
      0x03, 0x00, 0x06, 0x00, //                         @16   vmid 3, RW
      0x80, 0x00, 0x04, 0x00, //                         @20   vmid 0x80, R
      0x01, 0x00, //                                     @24 n_sgl 1
      0x81, 0x00, //                                     @26 map_vmid 0x81 (18 + 4·2)
      0x00, 0x00, 0x00, 0x60, 0x00, 0x00, 0x00, 0x00, // @28   IPA 0x60000000
      0x00, 0x40, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, // @36   size 0x4000
      0x01, 0x00, 0x00, 0x00, //                         @44 n_attr 1
      0x03, 0x00, 0x80, 0x00, //                         @48   attr 3 CACHED, vmid 0x80
    ],
  }),
  replyWith('MEM_ACCEPT', MEM_ACCEPT_STANDARD_REPLY, {
    name: 'MEM_ACCEPT reply (request n_sgl > 0): standard reply',
    ref: 'rm-rpc.md §12.5',
    seq: 0x0105,
    msgId: 0x5100_0011,
    err: 0,
    record: {},
    bytes: [
      0x21, 0x02, 0x05, 0x01, 0x11, 0x00, 0x00, 0x51, // REPLY, seq 0x105, MEM_ACCEPT
      0x00, 0x00, 0x00, 0x00, //                         err_code OK, no data
    ],
  }),
  request('MEM_ACCEPT', {
    name: 'MEM_ACCEPT request of the minimum length 24: three empty lists',
    ref: 'rm-rpc.md §12.5',
    seq: 0x0106,
    msgId: 0x5100_0011,
    record: { handle: 7, memType: 1, transType: 0, flags: 0x80, label: 0, acl: [], mapVmid: 0, sgl: [], attrs: [] },
    bytes: [
      0x21, 0x01, 0x06, 0x01, 0x11, 0x00, 0x00, 0x51, // REQUEST, seq 0x106, MEM_ACCEPT
      0x07, 0x00, 0x00, 0x00, //                         handle 7
      0x01, 0x00, 0x80, 0x00, //                         mem_type 1 IO, trans_type 0 DONATE, flags DONE, res
      0x00, 0x00, 0x00, 0x00, //                         label 0
      0x00, 0x00, 0x00, 0x00, //                         n_acl 0
      0x00, 0x00, 0x00, 0x00, //                         n_sgl 0, map_vmid 0
      0x00, 0x00, 0x00, 0x00, //                         n_attr 0
    ],
  }),

  // ── MEM_RELEASE 0x51000014, MEM_RECLAIM 0x51000015 (≥ 8) ──────────────────────────────────
  request('MEM_RELEASE', {
    name: 'MEM_RELEASE request, handle 0',
    ref: 'rm-rpc.md §12.5',
    seq: 0x0107,
    msgId: 0x5100_0014,
    record: { handle: 0, flags: 0 },
    bytes: [
      0x21, 0x01, 0x07, 0x01, 0x14, 0x00, 0x00, 0x51, // REQUEST, seq 0x107, MEM_RELEASE
      0x00, 0x00, 0x00, 0x00, //                         handle 0
      0x00, //                                           flags 0
      0x00, 0x00, 0x00, //                               reserved
    ],
  }),
  request('MEM_RELEASE', {
    name: 'MEM_RELEASE request of 12 bytes: bytes after the eighth are accepted (length ≥ 8)',
    ref: 'rm-rpc.md §11, §12.5',
    seq: 0x0107,
    msgId: 0x5100_0014,
    record: { handle: 0, flags: 0 },
    decodeOnly: 'minimum length only (≥ 8, §11)',
    bytes: [
      0x21, 0x01, 0x07, 0x01, 0x14, 0x00, 0x00, 0x51, // REQUEST, seq 0x107, MEM_RELEASE
      0x00, 0x00, 0x00, 0x00, //                         handle 0
      0x00, 0x00, 0x00, 0x00, //                         flags 0, reserved
      0x99, 0x99, 0x99, 0x99, //                         extra bytes (ignored)
    ],
  }),
  request('MEM_RECLAIM', {
    name: 'MEM_RECLAIM request, handle 0x10000, SANITIZE',
    ref: 'rm-rpc.md §12.5',
    seq: 0x0108,
    msgId: 0x5100_0015,
    record: { handle: 0x1_0000, flags: 1 },
    bytes: [
      0x21, 0x01, 0x08, 0x01, 0x15, 0x00, 0x00, 0x51, // REQUEST, seq 0x108, MEM_RECLAIM
      0x00, 0x00, 0x01, 0x00, //                         handle 0x10000
      0x01, //                                           flags: bit 0 SANITIZE
      0x00, 0x00, 0x00, //                               reserved
    ],
  }),
  replyWith('MEM_RECLAIM', STANDARD_REPLY, {
    name: 'MEM_RECLAIM error reply MEM_INUSE (0xB)',
    ref: 'rm-rpc.md §14.1, §16.5',
    seq: 0x0108,
    msgId: 0x5100_0015,
    err: 0xb,
    record: {},
    bytes: [
      0x21, 0x02, 0x08, 0x01, 0x15, 0x00, 0x00, 0x51, // REPLY, seq 0x108, MEM_RECLAIM
      0x0b, 0x00, 0x00, 0x00, //                         err_code 0xB MEM_INUSE
    ],
  }),

  // ── MEM_NOTIFY 0x51000017 (≥ 12) ──────────────────────────────────────────────────────────
  request('MEM_NOTIFY', {
    name: 'MEM_NOTIFY SHARED request to vmid 0x80',
    ref: 'rm-rpc.md §12.5',
    seq: 0x0109,
    msgId: 0x5100_0017,
    record: { handle: 1, flags: 1, memInfoTag: 0xcafe_f00d, vmids: [0x80] },
    bytes: [
      0x21, 0x01, 0x09, 0x01, 0x17, 0x00, 0x00, 0x51, // REQUEST, seq 0x109, MEM_NOTIFY
      0x01, 0x00, 0x00, 0x00, //                         handle 1
      0x01, //                                           flags SHARED 0x1
      0x00, 0x00, 0x00, //                               reserved
      0x0d, 0xf0, 0xfe, 0xca, //                         mem_info_tag 0xCAFEF00D
      0x01, 0x00, //                                     n_vmid 1
      0x00, 0x00, //                                     reserved
      0x80, 0x00, 0x00, 0x00, //                         vmid 0x80, reserved
    ],
  }),
  request('MEM_NOTIFY', {
    name: 'MEM_NOTIFY SHARED request with bytes after the vmid list (length ≥ 16 + 4n)',
    ref: 'rm-rpc.md §12.5',
    seq: 0x0109,
    msgId: 0x5100_0017,
    record: { handle: 1, flags: 1, memInfoTag: 0xcafe_f00d, vmids: [0x80] },
    decodeOnly: 'the vmid list needs length ≥ 16 + 4n only (§12.5)',
    bytes: [
      0x21, 0x01, 0x09, 0x01, 0x17, 0x00, 0x00, 0x51, // REQUEST, seq 0x109, MEM_NOTIFY
      0x01, 0x00, 0x00, 0x00, //                         handle 1
      0x01, 0x00, 0x00, 0x00, //                         flags SHARED, reserved
      0x0d, 0xf0, 0xfe, 0xca, //                         mem_info_tag 0xCAFEF00D
      0x01, 0x00, 0x00, 0x00, //                         n_vmid 1, reserved
      0x80, 0x00, 0x00, 0x00, //                         vmid 0x80
      0x77, 0x77, 0x77, 0x77, //                         trailing bytes (allowed)
    ],
  }),
  request('MEM_NOTIFY', {
    name: 'MEM_NOTIFY ACCEPTED request (12 bytes, no vmid list)',
    ref: 'rm-rpc.md §12.5',
    seq: 0x010a,
    msgId: 0x5100_0017,
    record: { handle: 1, flags: 4, memInfoTag: 0xcafe_f00d, vmids: [] },
    bytes: [
      0x21, 0x01, 0x0a, 0x01, 0x17, 0x00, 0x00, 0x51, // REQUEST, seq 0x10A, MEM_NOTIFY
      0x01, 0x00, 0x00, 0x00, //                         handle 1
      0x04, 0x00, 0x00, 0x00, //                         flags ACCEPTED 0x4, reserved
      0x0d, 0xf0, 0xfe, 0xca, //                         mem_info_tag 0xCAFEF00D
    ],
  }),
  request('MEM_NOTIFY', {
    name: 'MEM_NOTIFY RELEASED request (12 bytes)',
    ref: 'rm-rpc.md §12.5',
    seq: 0x010b,
    msgId: 0x5100_0017,
    record: { handle: 1, flags: 2, memInfoTag: 0, vmids: [] },
    bytes: [
      0x21, 0x01, 0x0b, 0x01, 0x17, 0x00, 0x00, 0x51, // REQUEST, seq 0x10B, MEM_NOTIFY
      0x01, 0x00, 0x00, 0x00, //                         handle 1
      0x02, 0x00, 0x00, 0x00, //                         flags RELEASED 0x2, reserved
      0x00, 0x00, 0x00, 0x00, //                         mem_info_tag 0
    ],
  }),
  request('MEM_NOTIFY', {
    name: 'MEM_NOTIFY RECALL request to vmids 0x80 and 0x81',
    ref: 'rm-rpc.md §12.5',
    seq: 0x010c,
    msgId: 0x5100_0017,
    record: { handle: 1, flags: 8, memInfoTag: 0xcafe_f00d, vmids: [0x80, 0x81] },
    bytes: [
      0x21, 0x01, 0x0c, 0x01, 0x17, 0x00, 0x00, 0x51, // REQUEST, seq 0x10C, MEM_NOTIFY
      0x01, 0x00, 0x00, 0x00, //                         handle 1
      0x08, 0x00, 0x00, 0x00, //                         flags RECALL 0x8, reserved
      0x0d, 0xf0, 0xfe, 0xca, //                         mem_info_tag 0xCAFEF00D
      0x02, 0x00, 0x00, 0x00, //                         n_vmid 2, reserved
      0x80, 0x00, 0x00, 0x00, //                         vmid 0x80, reserved
      0x81, 0x00, 0x00, 0x00, //                         vmid 0x81, reserved
    ],
  }),

  // ── MEM_QCOM_LOOKUP_SGL 0x5100001A (≥ 16) ─────────────────────────────────────────────────
  request('MEM_QCOM_LOOKUP_SGL', {
    name: 'MEM_QCOM_LOOKUP_SGL request, label 9',
    ref: 'rm-rpc.md §12.5',
    seq: 0x010d,
    msgId: 0x5100_001a,
    record: {
      memType: 0,
      label: 9,
      acl: [{ vmid: 0x80, rights: 7 }],
      sgl: [{ address: 0x8_8000_0000n, size: 0x20_0000n }],
      attrs: [],
    },
    bytes: [
      0x21, 0x01, 0x0d, 0x01, 0x1a, 0x00, 0x00, 0x51, // REQUEST, seq 0x10D, MEM_QCOM_LOOKUP_SGL
      0x00, //                                           mem_type 0
      0x00, 0x00, 0x00, //                               reserved
      0x09, 0x00, 0x00, 0x00, //                         label 9
      0x01, 0x00, 0x00, 0x00, //                         n_acl 1
      0x80, 0x00, 0x07, 0x00, //                           vmid 0x80, RWX
      0x01, 0x00, 0x00, 0x00, //                         n_sgl 1
      0x00, 0x00, 0x00, 0x80, 0x08, 0x00, 0x00, 0x00, //   address 0x8_8000_0000
      0x00, 0x00, 0x20, 0x00, 0x00, 0x00, 0x00, 0x00, //   size 0x200000
      0x00, 0x00, 0x00, 0x00, //                         n_attr 0
    ],
  }),
  reply('MEM_QCOM_LOOKUP_SGL', {
    name: 'MEM_QCOM_LOOKUP_SGL reply: handle 0xFFFFFFFE',
    ref: 'rm-rpc.md §12.5',
    seq: 0x010d,
    msgId: 0x5100_001a,
    record: { handle: 0xffff_fffe },
    bytes: [
      0x21, 0x02, 0x0d, 0x01, 0x1a, 0x00, 0x00, 0x51, // REPLY, seq 0x10D, MEM_QCOM_LOOKUP_SGL
      0x00, 0x00, 0x00, 0x00, //                         err_code OK
      0xfe, 0xff, 0xff, 0xff, //                         handle 0xFFFFFFFE (the largest usable)
    ],
  }),
  replyWith('MEM_QCOM_LOOKUP_SGL', STANDARD_REPLY, {
    name: 'MEM_QCOM_LOOKUP_SGL error reply LOOKUP_FAILED (0xE)',
    ref: 'rm-rpc.md §12.5, §14.1',
    seq: 0x010e,
    msgId: 0x5100_001a,
    err: 0xe,
    record: {},
    bytes: [
      0x21, 0x02, 0x0e, 0x01, 0x1a, 0x00, 0x00, 0x51, // REPLY, seq 0x10E, MEM_QCOM_LOOKUP_SGL
      0x0e, 0x00, 0x00, 0x00, //                         err_code 0xE LOOKUP_FAILED
    ],
  }),
];
