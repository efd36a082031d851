/**
 * Golden vectors: every RM notification (RM → VM): NOTIFY_VM_EXITED, _SHUTDOWN, _STATUS,
 * _IRQ_LENT, _IRQ_RELEASED, _IRQ_ACCEPTED, _CONSOLE_CHARS, and MEM_SHARED, MEM_RELEASED,
 * MEM_ACCEPTED, MEM_RECALL.
 *
 * Provenance: /work/shared/reference/rm-rpc.md §2–§3 (header, type 3), §7 (seq from one global
 * counter; IDs have bit 20 set), §13 (payload layouts; MEM_SHARED's "SGL" list carries one u64
 * size per region and no addresses), §15.1 and §15.5 (exit types, codes, flags, reason words).
 * Every byte typed by hand.
 */
import { ascii, notification, type GoldenVector } from './golden-types.js';

export const NOTIFICATIONS_VECTORS: readonly GoldenVector[] = [
  // ── NOTIFY_VM_EXITED 0x56100001 ───────────────────────────────────────────────────────────
  notification('NOTIFY_VM_EXITED', {
    name: 'NOTIFY_VM_EXITED, type VM_EXIT, one reason word: RESTART | SOFTWARE_ERROR << 16',
    ref: 'rm-rpc.md §13, §15.1',
    seq: 0x0700,
    msgId: 0x5610_0001,
    record: { vmid: 0x80, exitType: 0, exitReason: Uint8Array.of(0x01, 0x00, 0x01, 0x00) },
    bytes: [
      0x21, 0x03, 0x00, 0x07, 0x01, 0x00, 0x10, 0x56, // NOTIFICATION, seq 0x700, NOTIFY_VM_EXITED
      0x80, 0x00, //                                     vmid 0x80
      0x00, 0x00, //                                     exit_type 0 VM_EXIT
      0x04, 0x00, 0x00, 0x00, //                         exit_reason_size 4 (one word)
      0x01, 0x00, //                                     word 0 bits 15:0  exit_flags RESTART
      0x01, 0x00, //                                     word 0 bits 31:16 exit_code 1 SOFTWARE_ERROR
    ],
  }),
  notification('NOTIFY_VM_EXITED', {
    name: 'NOTIFY_VM_EXITED, type PSCI_SYSTEM_RESET2, SMC64: 4 reason words (16 bytes)',
    ref: 'rm-rpc.md §13, §15.5',
    seq: 0x0701,
    msgId: 0x5610_0001,
    record: {
      vmid: 0x80,
      exitType: 3,
      exitReason: Uint8Array.of(0x00, 0x80, 0x00, 0x00, 0x01, 0x00, 0x00, 0x80, 0x78, 0x56, 0x34, 0x12, 0xf0, 0xde, 0xbc, 0x9a),
    },
    bytes: [
      0x21, 0x03, 0x01, 0x07, 0x01, 0x00, 0x10, 0x56, // NOTIFICATION, seq 0x701, NOTIFY_VM_EXITED
      0x80, 0x00, //                                     vmid 0x80
      0x03, 0x00, //                                     exit_type 3 PSCI_SYSTEM_RESET2
      0x10, 0x00, 0x00, 0x00, //                         exit_reason_size 16
      0x00, 0x80, 0x00, 0x00, //                         word 0: exit_flags bit 15 (SMC64), exit_code 0 NORMAL
      0x01, 0x00, 0x00, 0x80, //                         reset_type 0x80000001
      0x78, 0x56, 0x34, 0x12, //                         cookie_lo 0x12345678
      0xf0, 0xde, 0xbc, 0x9a, //                         cookie_hi 0x9ABCDEF0
    ],
  }),
  notification('NOTIFY_VM_EXITED', {
    name: 'NOTIFY_VM_EXITED, type VM_STOP_FORCED: a single reason word of 0',
    ref: 'rm-rpc.md §13, §15.5',
    seq: 0x0702,
    msgId: 0x5610_0001,
    record: { vmid: 0x81, exitType: 7, exitReason: new Uint8Array(4) },
    bytes: [
      0x21, 0x03, 0x02, 0x07, 0x01, 0x00, 0x10, 0x56, // NOTIFICATION, seq 0x702, NOTIFY_VM_EXITED
      0x81, 0x00, //                                     vmid 0x81
      0x07, 0x00, //                                     exit_type 7 VM_STOP_FORCED
      0x04, 0x00, 0x00, 0x00, //                         exit_reason_size 4
      0x00, 0x00, 0x00, 0x00, //                         word 0: flags 0, code NORMAL
    ],
  }),

  // ── NOTIFY_VM_SHUTDOWN 0x56100002 ─────────────────────────────────────────────────────────
  notification('NOTIFY_VM_SHUTDOWN', {
    name: 'NOTIFY_VM_SHUTDOWN, stop_reason 0x2A',
    ref: 'rm-rpc.md §13',
    seq: 0x0703,
    msgId: 0x5610_0002,
    record: { stopReason: 0x2a },
    bytes: [
      0x21, 0x03, 0x03, 0x07, 0x02, 0x00, 0x10, 0x56, // NOTIFICATION, seq 0x703, NOTIFY_VM_SHUTDOWN
      0x2a, 0x00, 0x00, 0x00, //                         stop_reason 0x2A (u32)
    ],
  }),

  // ── NOTIFY_VM_STATUS 0x56100008 (8) ───────────────────────────────────────────────────────
  notification('NOTIFY_VM_STATUS', {
    name: 'NOTIFY_VM_STATUS: EXITED, os HALTED, app_status 0xBEEF',
    ref: 'rm-rpc.md §13, §15.1',
    seq: 0x0704,
    msgId: 0x5610_0008,
    record: { vmid: 0x80, vmStatus: 9, osStatus: 6, appStatus: 0xbeef },
    bytes: [
      0x21, 0x03, 0x04, 0x07, 0x08, 0x00, 0x10, 0x56, // NOTIFICATION, seq 0x704, NOTIFY_VM_STATUS
      0x80, 0x00, //                                     vmid 0x80
      0x00, 0x00, //                                     reserved
      0x09, //                                           vm_status 9 EXITED
      0x06, //                                           os_status 6 HALTED
      0xef, 0xbe, //                                     app_status 0xBEEF
    ],
  }),
  notification('NOTIFY_VM_STATUS', {
    name: 'NOTIFY_VM_STATUS: RESET (after VM_RESET cleanup)',
    ref: 'rm-rpc.md §13, §15.4',
    seq: 0xffff,
    msgId: 0x5610_0008,
    record: { vmid: 0x80, vmStatus: 11, osStatus: 0, appStatus: 0 },
    bytes: [
      0x21, 0x03, 0xff, 0xff, 0x08, 0x00, 0x10, 0x56, // NOTIFICATION, seq 0xFFFF, NOTIFY_VM_STATUS
      0x80, 0x00, 0x00, 0x00, //                         vmid 0x80, reserved
      0x0b, //                                           vm_status 11 RESET
      0x00, //                                           os_status 0 NONE
      0x00, 0x00, //                                     app_status 0
    ],
  }),

  // ── NOTIFY_VM_IRQ_LENT 0x56100011 (12), _RELEASED 0x56100012, _ACCEPTED 0x56100013 (4) ───
  notification('NOTIFY_VM_IRQ_LENT', {
    name: 'NOTIFY_VM_IRQ_LENT from owner 3, handle 0x5A00002D, label 0x11',
    ref: 'rm-rpc.md §13',
    seq: 0x0705,
    msgId: 0x5610_0011,
    record: { owner: 3, virqHandle: 0x5a00_002d, virqLabel: 0x11 },
    bytes: [
      0x21, 0x03, 0x05, 0x07, 0x11, 0x00, 0x10, 0x56, // NOTIFICATION, seq 0x705, NOTIFY_VM_IRQ_LENT
      0x03, 0x00, //                                     owner vmid 3
      0x00, 0x00, //                                     pad
      0x2d, 0x00, 0x00, 0x5a, //                         virq_handle 0x5A00002D
      0x11, 0x00, 0x00, 0x00, //                         virq_label 0x11
    ],
  }),
  notification('NOTIFY_VM_IRQ_RELEASED', {
    name: 'NOTIFY_VM_IRQ_RELEASED, handle 0x5A00002D',
    ref: 'rm-rpc.md §13',
    seq: 0x0706,
    msgId: 0x5610_0012,
    record: { virqHandle: 0x5a00_002d },
    bytes: [
      0x21, 0x03, 0x06, 0x07, 0x12, 0x00, 0x10, 0x56, // NOTIFICATION, seq 0x706, NOTIFY_VM_IRQ_RELEASED
      0x2d, 0x00, 0x00, 0x5a, //                         virq_handle 0x5A00002D
    ],
  }),
  notification('NOTIFY_VM_IRQ_ACCEPTED', {
    name: 'NOTIFY_VM_IRQ_ACCEPTED, handle 0x5A00002D',
    ref: 'rm-rpc.md §13',
    seq: 0x0707,
    msgId: 0x5610_0013,
    record: { virqHandle: 0x5a00_002d },
    bytes: [
      0x21, 0x03, 0x07, 0x07, 0x13, 0x00, 0x10, 0x56, // NOTIFICATION, seq 0x707, NOTIFY_VM_IRQ_ACCEPTED
      0x2d, 0x00, 0x00, 0x5a, //                         virq_handle 0x5A00002D
    ],
  }),

  // ── NOTIFY_VM_CONSOLE_CHARS 0x56100080 ────────────────────────────────────────────────────
  notification('NOTIFY_VM_CONSOLE_CHARS', {
    name: 'NOTIFY_VM_CONSOLE_CHARS from vmid 0x80, "ok\\n" (3 bytes, no padding)',
    ref: 'rm-rpc.md §13',
    seq: 0x0708,
    msgId: 0x5610_0080,
    record: { from: 0x80, data: ascii('ok\n') },
    bytes: [
      0x21, 0x03, 0x08, 0x07, 0x80, 0x00, 0x10, 0x56, // NOTIFICATION, seq 0x708, NOTIFY_VM_CONSOLE_CHARS
      0x80, 0x00, //                                     from 0x80 (the VM wrote to its own console)
      0x03, 0x00, //                                     num_bytes 3
      0x6f, 0x6b, 0x0a, //                               "ok\n"
    ],
  }),
  notification('NOTIFY_VM_CONSOLE_CHARS', {
    name: 'NOTIFY_VM_CONSOLE_CHARS from 0 (the owner wrote), "$ "',
    ref: 'rm-rpc.md §13',
    seq: 0x0709,
    msgId: 0x5610_0080,
    record: { from: 0, data: ascii('$ ') },
    bytes: [
      0x21, 0x03, 0x09, 0x07, 0x80, 0x00, 0x10, 0x56, // NOTIFICATION, seq 0x709, NOTIFY_VM_CONSOLE_CHARS
      0x00, 0x00, //                                     from 0 = the owner
      0x02, 0x00, //                                     num_bytes 2
      0x24, 0x20, //                                     "$ "
    ],
  }),

  // ── MEM_SHARED 0x51100011 ─────────────────────────────────────────────────────────────────
  notification('MEM_SHARED', {
    name: 'MEM_SHARED: SHARE parcel 1 from owner 3, SANITIZED, 2 ACL, 2 region sizes, 1 attr',
    ref: 'rm-rpc.md §13',
    seq: 0x070a,
    msgId: 0x5110_0011,
    record: {
      handle: 1,
      memType: 0,
      transType: 2,
      flags: 1,
      owner: 3,
      label: 0x1234,
      memInfoTag: 0xcafe_f00d,
      acl: [
        { vmid: 3, rights: 6 },
        { vmid: 0x80, rights: 4 },
      ],
      sizes: [0x1000n, 0x3000n],
      attrs: [{ attr: 3, vmid: 0x80 }],
    },
    bytes: [
      0x21, 0x03, 0x0a, 0x07, 0x11, 0x00, 0x10, 0x51, // NOTIFICATION, seq 0x70A, MEM_SHARED
      0x01, 0x00, 0x00, 0x00, //                         @0  handle 1
      0x00, //                                           @4  mem_type 0 NORMAL
      0x02, //                                           @5  trans_type 2 SHARE
      0x01, //                                           @6  flags: bit 0 created with SANITIZE
      0x00, //                                           @7  reserved
      0x03, 0x00, //                                     @8  owner vmid 3
      0x00, 0x00, //                                     @10 reserved
      0x34, 0x12, 0x00, 0x00, //                         @12 label 0x1234
      0x0d, 0xf0, 0xfe, 0xca, //                         @16 mem_info_tag 0xCAFEF00D
      0x02, 0x00, 0x00, 0x00, //                         @20 ACL list: n 2
      0x03, 0x00, 0x06, 0x00, //                               vmid 3, RW
      0x80, 0x00, 0x04, 0x00, //                               vmid 0x80, R
      0x02, 0x00, 0x00, 0x00, //                         @32 "SGL" list: n 2 (QUIRK: sizes only)
      0x00, 0x10, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, //       size 0x1000
      0x00, 0x30, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, //       size 0x3000
      0x01, 0x00, 0x00, 0x00, //                         @52 attr list: n 1
      0x03, 0x00, 0x80, 0x00, //                               attr 3 CACHED, vmid 0x80
    ],
  }),

  // ── MEM_RELEASED 0x51100012, MEM_ACCEPTED 0x51100013 (12), MEM_RECALL 0x51100014 (8) ─────
  notification('MEM_RELEASED', {
    name: 'MEM_RELEASED: parcel 1 released by 0x80',
    ref: 'rm-rpc.md §13',
    seq: 0x070b,
    msgId: 0x5110_0012,
    record: { handle: 1, vmid: 0x80, memInfoTag: 0xcafe_f00d },
    bytes: [
      0x21, 0x03, 0x0b, 0x07, 0x12, 0x00, 0x10, 0x51, // NOTIFICATION, seq 0x70B, MEM_RELEASED
      0x01, 0x00, 0x00, 0x00, //                         handle 1
      0x80, 0x00, //                                     vmid 0x80 (the borrower)
      0x00, 0x00, //                                     reserved
      0x0d, 0xf0, 0xfe, 0xca, //                         mem_info_tag 0xCAFEF00D
    ],
  }),
  notification('MEM_ACCEPTED', {
    name: 'MEM_ACCEPTED: parcel 0x10000 accepted by 0x81, tag 0',
    ref: 'rm-rpc.md §13',
    seq: 0x070c,
    msgId: 0x5110_0013,
    record: { handle: 0x1_0000, vmid: 0x81, memInfoTag: 0 },
    bytes: [
      0x21, 0x03, 0x0c, 0x07, 0x13, 0x00, 0x10, 0x51, // NOTIFICATION, seq 0x70C, MEM_ACCEPTED
      0x00, 0x00, 0x01, 0x00, //                         handle 0x10000
      0x81, 0x00, 0x00, 0x00, //                         vmid 0x81, reserved
      0x00, 0x00, 0x00, 0x00, //                         mem_info_tag 0
    ],
  }),
  notification('MEM_RECALL', {
    name: 'MEM_RECALL: parcel 1, tag 0xCAFEF00D',
    ref: 'rm-rpc.md §13',
    seq: 0x070d,
    msgId: 0x5110_0014,
    record: { handle: 1, memInfoTag: 0xcafe_f00d },
    bytes: [
      0x21, 0x03, 0x0d, 0x07, 0x14, 0x00, 0x10, 0x51, // NOTIFICATION, seq 0x70D, MEM_RECALL
      0x01, 0x00, 0x00, 0x00, //                         handle 1
      0x0d, 0xf0, 0xfe, 0xca, //                         mem_info_tag 0xCAFEF00D
    ],
  }),
];
