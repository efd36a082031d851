/**
 * Golden vectors: IRQ lending requests and replies: VM_IRQ_LEND, VM_IRQ_ACCEPT,
 * VM_IRQ_RELEASE, VM_IRQ_RECLAIM, VM_IRQ_NOTIFY, VM_IRQ_UNMAP (always UNIMPLEMENTED).
 *
 * Provenance: /work/shared/reference/rm-rpc.md §2 (header), §11 (IDs, lengths: ACCEPT 8,
 * LEND 12, RELEASE/RECLAIM 4, NOTIFY 8 or 12 + 4n), §12.6 (layouts from RM irq_message.h),
 * §14.1 (errors). Every byte typed by hand.
 */
import { reply, replyWith, request, type GoldenVector } from './golden-types.js';
import { STANDARD_REPLY } from '../../src/rm-rpc/wire/codec.js';

export const IRQ_VECTORS: readonly GoldenVector[] = [
  // ── VM_IRQ_LEND 0x56000051 (12) ───────────────────────────────────────────────────────────
  request('VM_IRQ_LEND', {
    name: 'VM_IRQ_LEND request: IRQ 45 to vmid 0x80, label 0x11',
    ref: 'rm-rpc.md §12.6',
    seq: 0x0051,
    msgId: 0x5600_0051,
    record: { borrower: 0x80, virqNum: 45, label: 0x11 },
    bytes: [
      0x21, 0x01, 0x51, 0x00, 0x51, 0x00, 0x00, 0x56, // REQUEST, seq 0x51, VM_IRQ_LEND
      0x80, 0x00, //                                     borrower vmid 0x80
      0x00, 0x00, //                                     pad
      0x2d, 0x00, 0x00, 0x00, //                         virq_num 45 (the owner's IRQ)
      0x11, 0x00, 0x00, 0x00, //                         label 0x11
    ],
  }),
  reply('VM_IRQ_LEND', {
    name: 'VM_IRQ_LEND reply: handle 0x5A00002D (per-boot base + IRQ number)',
    ref: 'rm-rpc.md §12.6',
    seq: 0x0051,
    msgId: 0x5600_0051,
    record: { handle: 0x5a00_002d },
    bytes: [
      0x21, 0x02, 0x51, 0x00, 0x51, 0x00, 0x00, 0x56, // REPLY, seq 0x51, VM_IRQ_LEND
      0x00, 0x00, 0x00, 0x00, //                         err_code OK
      0x2d, 0x00, 0x00, 0x5a, //                         handle 0x5A00002D
    ],
  }),
  replyWith('VM_IRQ_LEND', STANDARD_REPLY, {
    name: 'VM_IRQ_LEND error reply IRQ_INUSE (0x10)',
    ref: 'rm-rpc.md §12.6, §14.1',
    seq: 0x0052,
    msgId: 0x5600_0051,
    err: 0x10,
    record: {},
    bytes: [
      0x21, 0x02, 0x52, 0x00, 0x51, 0x00, 0x00, 0x56, // REPLY, seq 0x52, VM_IRQ_LEND
      0x10, 0x00, 0x00, 0x00, //                         err_code 0x10 IRQ_INUSE
    ],
  }),

  // ── VM_IRQ_ACCEPT 0x56000050 (8) ──────────────────────────────────────────────────────────
  request('VM_IRQ_ACCEPT', {
    name: 'VM_IRQ_ACCEPT request: virq_num 0xFFFFFFFF (the RM chooses)',
    ref: 'rm-rpc.md §12.6',
    seq: 0x0050,
    msgId: 0x5600_0050,
    record: { handle: 0x5a00_002d, virqNum: 0xffff_ffff },
    bytes: [
      0x21, 0x01, 0x50, 0x00, 0x50, 0x00, 0x00, 0x56, // REQUEST, seq 0x50, VM_IRQ_ACCEPT
      0x2d, 0x00, 0x00, 0x5a, //                         handle 0x5A00002D
      0xff, 0xff, 0xff, 0xff, //                         virq_num 0xFFFFFFFF = let the RM choose
    ],
  }),
  reply('VM_IRQ_ACCEPT', {
    name: 'VM_IRQ_ACCEPT reply: virq_num 45',
    ref: 'rm-rpc.md §12.6',
    seq: 0x0050,
    msgId: 0x5600_0050,
    record: { virqNum: 45 },
    bytes: [
      0x21, 0x02, 0x50, 0x00, 0x50, 0x00, 0x00, 0x56, // REPLY, seq 0x50, VM_IRQ_ACCEPT
      0x00, 0x00, 0x00, 0x00, //                         err_code OK
      0x2d, 0x00, 0x00, 0x00, //                         virq_num 45 (the hardware IRQ number)
    ],
  }),
  request('VM_IRQ_ACCEPT', {
    name: 'VM_IRQ_ACCEPT request: explicit virq_num 0x1F4',
    ref: 'rm-rpc.md §12.6',
    seq: 0x0053,
    msgId: 0x5600_0050,
    record: { handle: 0x0000_0102, virqNum: 0x1f4 },
    bytes: [
      0x21, 0x01, 0x53, 0x00, 0x50, 0x00, 0x00, 0x56, // REQUEST, seq 0x53, VM_IRQ_ACCEPT
      0x02, 0x01, 0x00, 0x00, //                         handle 0x102
      0xf4, 0x01, 0x00, 0x00, //                         virq_num 500
    ],
  }),

  // ── VM_IRQ_RELEASE 0x56000052, VM_IRQ_RECLAIM 0x56000053 (4) ──────────────────────────────
  request('VM_IRQ_RELEASE', {
    name: 'VM_IRQ_RELEASE request',
    ref: 'rm-rpc.md §12.6',
    seq: 0x0054,
    msgId: 0x5600_0052,
    record: { handle: 0x5a00_002d },
    bytes: [
      0x21, 0x01, 0x54, 0x00, 0x52, 0x00, 0x00, 0x56, // REQUEST, seq 0x54, VM_IRQ_RELEASE
      0x2d, 0x00, 0x00, 0x5a, //                         handle 0x5A00002D
    ],
  }),
  request('VM_IRQ_RECLAIM', {
    name: 'VM_IRQ_RECLAIM request',
    ref: 'rm-rpc.md §12.6',
    seq: 0x0055,
    msgId: 0x5600_0053,
    record: { handle: 0x5a00_002d },
    bytes: [
      0x21, 0x01, 0x55, 0x00, 0x53, 0x00, 0x00, 0x56, // REQUEST, seq 0x55, VM_IRQ_RECLAIM
      0x2d, 0x00, 0x00, 0x5a, //                         handle 0x5A00002D
    ],
  }),
  replyWith('VM_IRQ_RECLAIM', STANDARD_REPLY, {
    name: 'VM_IRQ_RECLAIM error reply IN_USE (0x12)',
    ref: 'rm-rpc.md §12.6, §14.1',
    seq: 0x0055,
    msgId: 0x5600_0053,
    err: 0x12,
    record: {},
    bytes: [
      0x21, 0x02, 0x55, 0x00, 0x53, 0x00, 0x00, 0x56, // REPLY, seq 0x55, VM_IRQ_RECLAIM
      0x12, 0x00, 0x00, 0x00, //                         err_code 0x12 IN_USE
    ],
  }),

  // ── VM_IRQ_NOTIFY 0x56000054 (8, or 12 + 4n for LENT) ─────────────────────────────────────
  request('VM_IRQ_NOTIFY', {
    name: 'VM_IRQ_NOTIFY LENT request with the optional list: 1 vmid',
    ref: 'rm-rpc.md §12.6',
    seq: 0x0056,
    msgId: 0x5600_0054,
    record: { handle: 0x5a00_002d, flags: 1, vmids: [0x80] },
    bytes: [
      0x21, 0x01, 0x56, 0x00, 0x54, 0x00, 0x00, 0x56, // REQUEST, seq 0x56, VM_IRQ_NOTIFY
      0x2d, 0x00, 0x00, 0x5a, //                         handle 0x5A00002D
      0x01, 0x00, 0x00, 0x00, //                         flags LENT 1 (u32)
      0x01, 0x00, //                                     n 1
      0x00, 0x00, //                                     pad
      0x80, 0x00, 0x00, 0x00, //                         vmid 0x80, pad
    ],
  }),
  request('VM_IRQ_NOTIFY', {
    name: 'VM_IRQ_NOTIFY LENT request without the list (8 bytes)',
    ref: 'rm-rpc.md §12.6',
    seq: 0x0057,
    msgId: 0x5600_0054,
    record: { handle: 0x5a00_002d, flags: 1, vmids: [] },
    bytes: [
      0x21, 0x01, 0x57, 0x00, 0x54, 0x00, 0x00, 0x56, // REQUEST, seq 0x57, VM_IRQ_NOTIFY
      0x2d, 0x00, 0x00, 0x5a, //                         handle 0x5A00002D
      0x01, 0x00, 0x00, 0x00, //                         flags LENT 1
    ],
  }),
  request('VM_IRQ_NOTIFY', {
    name: 'VM_IRQ_NOTIFY RELEASED request (8 bytes)',
    ref: 'rm-rpc.md §12.6',
    seq: 0x0058,
    msgId: 0x5600_0054,
    record: { handle: 0x5a00_002d, flags: 2, vmids: [] },
    bytes: [
      0x21, 0x01, 0x58, 0x00, 0x54, 0x00, 0x00, 0x56, // REQUEST, seq 0x58, VM_IRQ_NOTIFY
      0x2d, 0x00, 0x00, 0x5a, //                         handle 0x5A00002D
      0x02, 0x00, 0x00, 0x00, //                         flags RELEASED 2
    ],
  }),
  request('VM_IRQ_NOTIFY', {
    name: 'VM_IRQ_NOTIFY ACCEPTED request (8 bytes)',
    ref: 'rm-rpc.md §12.6',
    seq: 0x0059,
    msgId: 0x5600_0054,
    record: { handle: 0x5a00_002d, flags: 4, vmids: [] },
    bytes: [
      0x21, 0x01, 0x59, 0x00, 0x54, 0x00, 0x00, 0x56, // REQUEST, seq 0x59, VM_IRQ_NOTIFY
      0x2d, 0x00, 0x00, 0x5a, //                         handle 0x5A00002D
      0x04, 0x00, 0x00, 0x00, //                         flags ACCEPTED 4
    ],
  }),

  // ── VM_IRQ_UNMAP 0x56000055: always UNIMPLEMENTED, payload passed through raw ────────────
  request('VM_IRQ_UNMAP', {
    name: 'VM_IRQ_UNMAP request (layout unknown: raw)',
    ref: 'rm-rpc.md §11',
    seq: 0x005a,
    msgId: 0x5600_0055,
    record: { bytes: Uint8Array.of(0x2d, 0x00, 0x00, 0x5a) },
    bytes: [
      0x21, 0x01, 0x5a, 0x00, 0x55, 0x00, 0x00, 0x56, // REQUEST, seq 0x5A, VM_IRQ_UNMAP
      0x2d, 0x00, 0x00, 0x5a, //                         raw bytes
    ],
  }),
  replyWith('VM_IRQ_UNMAP', STANDARD_REPLY, {
    name: 'VM_IRQ_UNMAP reply UNIMPLEMENTED',
    ref: 'rm-rpc.md §11, §14.1',
    seq: 0x005a,
    msgId: 0x5600_0055,
    err: 0xffff_ffff,
    record: {},
    bytes: [
      0x21, 0x02, 0x5a, 0x00, 0x55, 0x00, 0x00, 0x56, // REPLY, seq 0x5A, VM_IRQ_UNMAP
      0xff, 0xff, 0xff, 0xff, //                         err_code UNIMPLEMENTED
    ],
  }),
];
