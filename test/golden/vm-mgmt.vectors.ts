/**
 * Golden vectors: VM management (0x5600_00xx) requests and their replies: allocation,
 * start/stop/reset, queries, lookups, time base, firmware memory, status, exit, crash messages.
 *
 * Provenance: /work/shared/reference/rm-rpc.md §2 (header), §10 (reply = u32 error + data),
 * §11 (IDs, request lengths), §12.1 (layouts), §12.4 + hypervisor.md §9.1 (resource entry),
 * §14 (error codes). The sheet derives from RM quic/gunyah-resource-manager @ bf31a9a
 * (vm_mgnt_message.h, vm_mgnt.c) and Linux v17 rsc_mgr_rpc.c. Every byte typed by hand.
 */
import { ascii, reply, replyWith, request, type GoldenVector } from './golden-types.js';
import { STANDARD_REPLY } from '../../src/rm-rpc/wire/codec.js';
import { HYP_ERROR_TAIL, VM_ALLOCATE_STATIC_REPLY } from '../../src/rm-rpc/wire/vm-mgmt.js';

/** The GUID used by VM_GET_ID and VM_LOOKUP_GUID below: bytes 0x10..0x1F. */
const GUID = Uint8Array.from({ length: 16 }, (_, i) => 0x10 + i);

export const VM_MGMT_VECTORS: readonly GoldenVector[] = [
  // ── VM_ALLOCATE 0x56000001 (dynamic form: rm-header.vectors.ts, the §2 example) ──────────
  request('VM_ALLOCATE', {
    name: 'VM_ALLOCATE request, static secondary vmid 5',
    ref: 'rm-rpc.md §12.1',
    seq: 0x0001,
    msgId: 0x5600_0001,
    record: { vmid: 5 },
    bytes: [
      0x21, 0x01, 0x01, 0x00, 0x01, 0x00, 0x00, 0x56, // REQUEST, seq 1, VM_ALLOCATE
      0x05, 0x00, //                                     vmid 5 (< 64: reserve that secondary VMID)
      0x00, 0x00, //                                     pad
    ],
  }),
  replyWith('VM_ALLOCATE', VM_ALLOCATE_STATIC_REPLY, {
    name: 'VM_ALLOCATE reply to a static request: no data',
    ref: 'rm-rpc.md §12.1, §18',
    seq: 0x0001,
    msgId: 0x5600_0001,
    err: 0,
    record: {},
    bytes: [
      0x21, 0x02, 0x01, 0x00, 0x01, 0x00, 0x00, 0x56, // REPLY, seq 1, VM_ALLOCATE
      0x00, 0x00, 0x00, 0x00, //                         err_code OK; no vmid for a non-zero request
    ],
  }),
  replyWith('VM_ALLOCATE', STANDARD_REPLY, {
    name: 'VM_ALLOCATE error reply NORESOURCE (0x2)',
    ref: 'rm-rpc.md §12.1, §14.1',
    seq: 0x0002,
    msgId: 0x5600_0001,
    err: 0x2,
    record: {},
    bytes: [
      0x21, 0x02, 0x02, 0x00, 0x01, 0x00, 0x00, 0x56, // REPLY, seq 2, VM_ALLOCATE
      0x02, 0x00, 0x00, 0x00, //                         err_code 0x2 NORESOURCE
    ],
  }),

  // ── VM_DEALLOCATE 0x56000002, VM_START 0x56000004, VM_RESET 0x56000006 (vmid + pad) ──────
  request('VM_DEALLOCATE', {
    name: 'VM_DEALLOCATE request, vmid 0x80',
    ref: 'rm-rpc.md §12.1',
    seq: 0x0010,
    msgId: 0x5600_0002,
    record: { vmid: 0x80 },
    bytes: [
      0x21, 0x01, 0x10, 0x00, 0x02, 0x00, 0x00, 0x56, // REQUEST, seq 0x10, VM_DEALLOCATE
      0x80, 0x00, //                                     vmid 0x80
      0x00, 0x00, //                                     pad
    ],
  }),
  request('VM_START', {
    name: 'VM_START request, seq 0x1234, vmid 0x81',
    ref: 'rm-rpc.md §12.1',
    seq: 0x1234,
    msgId: 0x5600_0004,
    record: { vmid: 0x81 },
    bytes: [
      0x21, 0x01, 0x34, 0x12, 0x04, 0x00, 0x00, 0x56, // REQUEST, seq 0x1234, VM_START
      0x81, 0x00, //                                     vmid 0x81
      0x00, 0x00, //                                     pad
    ],
  }),
  request('VM_START', {
    name: 'VM_START request with non-zero pad bytes (ignored: no check is stated)',
    ref: 'rm-rpc.md §10, §12.1',
    seq: 0x1235,
    msgId: 0x5600_0004,
    record: { vmid: 0x81 },
    decodeOnly: 'padding fields are ignored unless a check is stated (§10)',
    bytes: [
      0x21, 0x01, 0x35, 0x12, 0x04, 0x00, 0x00, 0x56, // REQUEST, seq 0x1235, VM_START
      0x81, 0x00, //                                     vmid 0x81
      0xff, 0xff, //                                     pad (ignored)
    ],
  }),
  replyWith('VM_START', STANDARD_REPLY, {
    name: 'VM_START error reply VM_STATE (0x14)',
    ref: 'rm-rpc.md §12.1, §14.1',
    seq: 0x1234,
    msgId: 0x5600_0004,
    err: 0x14,
    record: {},
    bytes: [
      0x21, 0x02, 0x34, 0x12, 0x04, 0x00, 0x00, 0x56, // REPLY, seq 0x1234, VM_START
      0x14, 0x00, 0x00, 0x00, //                         err_code 0x14 VM_STATE
    ],
  }),
  request('VM_RESET', {
    name: 'VM_RESET request, vmid 0x80',
    ref: 'rm-rpc.md §12.1',
    seq: 0x0011,
    msgId: 0x5600_0006,
    record: { vmid: 0x80 },
    bytes: [
      0x21, 0x01, 0x11, 0x00, 0x06, 0x00, 0x00, 0x56, // REQUEST, seq 0x11, VM_RESET
      0x80, 0x00, 0x00, 0x00, //                         vmid 0x80, pad
    ],
  }),
  replyWith('VM_RESET', STANDARD_REPLY, {
    name: 'VM_RESET reply OK (standard reply: 4 bytes of error only)',
    ref: 'rm-rpc.md §10, §12.1',
    seq: 0x0011,
    msgId: 0x5600_0006,
    err: 0,
    record: {},
    bytes: [
      0x21, 0x02, 0x11, 0x00, 0x06, 0x00, 0x00, 0x56, // REPLY, seq 0x11, VM_RESET
      0x00, 0x00, 0x00, 0x00, //                         err_code OK
    ],
  }),

  // ── VM_STOP 0x56000005 (8) ────────────────────────────────────────────────────────────────
  request('VM_STOP', {
    name: 'VM_STOP request as Linux sends it: FORCE, stop_reason 3',
    ref: 'rm-rpc.md §12.1',
    seq: 0x0012,
    msgId: 0x5600_0005,
    record: { vmid: 0x80, flags: 1, stopReason: 3 },
    bytes: [
      0x21, 0x01, 0x12, 0x00, 0x05, 0x00, 0x00, 0x56, // REQUEST, seq 0x12, VM_STOP
      0x80, 0x00, //                                     vmid 0x80
      0x01, //                                           flags: bit 0 FORCE
      0x00, //                                           reserved
      0x03, 0x00, 0x00, 0x00, //                         stop_reason 3
    ],
  }),

  request('VM_STOP', {
    name: 'VM_STOP request with a non-zero reserved byte (ignored)',
    ref: 'rm-rpc.md §10, §12.1',
    seq: 0x0013,
    msgId: 0x5600_0005,
    record: { vmid: 0x80, flags: 0, stopReason: 0x1234_5678 },
    decodeOnly: 'padding fields are ignored unless a check is stated (§10)',
    bytes: [
      0x21, 0x01, 0x13, 0x00, 0x05, 0x00, 0x00, 0x56, // REQUEST, seq 0x13, VM_STOP
      0x80, 0x00, //                                     vmid 0x80
      0x00, //                                           flags 0 (no FORCE)
      0x5a, //                                           reserved (ignored)
      0x78, 0x56, 0x34, 0x12, //                         stop_reason 0x12345678
    ],
  }),

  // ── VM_GET_ID 0x56000010 ──────────────────────────────────────────────────────────────────
  request('VM_GET_ID', {
    name: 'VM_GET_ID request, vmid 0 (the caller itself)',
    ref: 'rm-rpc.md §12.1',
    seq: 0x0020,
    msgId: 0x5600_0010,
    record: { vmid: 0 },
    bytes: [
      0x21, 0x01, 0x20, 0x00, 0x10, 0x00, 0x00, 0x56, // REQUEST, seq 0x20, VM_GET_ID
      0x00, 0x00, 0x00, 0x00, //                         vmid 0 = self, pad
    ],
  }),
  reply('VM_GET_ID', {
    name: 'VM_GET_ID reply: GUID, NAME "vm1", SIGN_AUTH "N/A"',
    ref: 'rm-rpc.md §12.1',
    seq: 0x0020,
    msgId: 0x5600_0010,
    record: {
      entries: [
        { idType: 0, id: GUID },
        { idType: 2, id: ascii('vm1') },
        { idType: 3, id: ascii('N/A') },
      ],
    },
    bytes: [
      0x21, 0x02, 0x20, 0x00, 0x10, 0x00, 0x00, 0x56, // REPLY, seq 0x20, VM_GET_ID
      0x00, 0x00, 0x00, 0x00, //                         err_code OK
      0x03, 0x00, 0x00, 0x00, //                         n_entries 3
      0x00, 0x00, 0x10, 0x00, //                         id_type 0 GUID, pad, id_len 16
      0x10, 0x11, 0x12, 0x13, 0x14, 0x15, 0x16, 0x17, // guid bytes 0..7
      0x18, 0x19, 0x1a, 0x1b, 0x1c, 0x1d, 0x1e, 0x1f, // guid bytes 8..15 (16: no padding)
      0x02, 0x00, 0x03, 0x00, //                         id_type 2 NAME, pad, id_len 3
      0x76, 0x6d, 0x31, 0x00, //                         "vm1" + 1 byte padding to 4
      0x03, 0x00, 0x03, 0x00, //                         id_type 3 SIGN_AUTH, pad, id_len 3
      0x4e, 0x2f, 0x41, 0x00, //                         "N/A" + 1 byte padding
    ],
  }),

  // ── VM_LOOKUP_URI 0x56000011, VM_LOOKUP_GUID 0x56000012, VM_LOOKUP_NAME 0x56000013 ─────────
  request('VM_LOOKUP_URI', {
    name: 'VM_LOOKUP_URI request, "vm-01" (len 5, 3 zero padding bytes)',
    ref: 'rm-rpc.md §12.1',
    seq: 0x0021,
    msgId: 0x5600_0011,
    record: { uri: ascii('vm-01') },
    bytes: [
      0x21, 0x01, 0x21, 0x00, 0x11, 0x00, 0x00, 0x56, // REQUEST, seq 0x21, VM_LOOKUP_URI
      0x05, 0x00, //                                     len 5
      0x00, 0x00, //                                     pad
      0x76, 0x6d, 0x2d, 0x30, 0x31, //                   "vm-01"
      0x00, 0x00, 0x00, //                               padding to align4(5) = 8, must be 0
    ],
  }),
  reply('VM_LOOKUP_URI', {
    name: 'VM_LOOKUP_URI reply: two vmids',
    ref: 'rm-rpc.md §12.1',
    seq: 0x0021,
    msgId: 0x5600_0011,
    record: { vmids: [0x80, 0x81] },
    bytes: [
      0x21, 0x02, 0x21, 0x00, 0x11, 0x00, 0x00, 0x56, // REPLY, seq 0x21, VM_LOOKUP_URI
      0x00, 0x00, 0x00, 0x00, //                         err_code OK
      0x02, 0x00, 0x00, 0x00, //                         count 2 (u32)
      0x80, 0x00, 0x00, 0x00, //                         vmid 0x80, pad
      0x81, 0x00, 0x00, 0x00, //                         vmid 0x81, pad
    ],
  }),
  request('VM_LOOKUP_GUID', {
    name: 'VM_LOOKUP_GUID request (16 bytes)',
    ref: 'rm-rpc.md §12.1',
    seq: 0x0022,
    msgId: 0x5600_0012,
    record: { guid: GUID },
    bytes: [
      0x21, 0x01, 0x22, 0x00, 0x12, 0x00, 0x00, 0x56, // REQUEST, seq 0x22, VM_LOOKUP_GUID
      0x10, 0x11, 0x12, 0x13, 0x14, 0x15, 0x16, 0x17, // guid bytes 0..7
      0x18, 0x19, 0x1a, 0x1b, 0x1c, 0x1d, 0x1e, 0x1f, // guid bytes 8..15
    ],
  }),
  reply('VM_LOOKUP_GUID', {
    name: 'VM_LOOKUP_GUID reply: one vmid',
    ref: 'rm-rpc.md §12.1',
    seq: 0x0022,
    msgId: 0x5600_0012,
    record: { vmids: [0x80] },
    bytes: [
      0x21, 0x02, 0x22, 0x00, 0x12, 0x00, 0x00, 0x56, // REPLY, seq 0x22, VM_LOOKUP_GUID
      0x00, 0x00, 0x00, 0x00, //                         err_code OK
      0x01, 0x00, 0x00, 0x00, //                         count 1
      0x80, 0x00, 0x00, 0x00, //                         vmid 0x80, pad
    ],
  }),
  request('VM_LOOKUP_NAME', {
    name: 'VM_LOOKUP_NAME request, "svm1" (len 4, no padding)',
    ref: 'rm-rpc.md §12.1',
    seq: 0x0023,
    msgId: 0x5600_0013,
    record: { name: ascii('svm1') },
    bytes: [
      0x21, 0x01, 0x23, 0x00, 0x13, 0x00, 0x00, 0x56, // REQUEST, seq 0x23, VM_LOOKUP_NAME
      0x04, 0x00, 0x00, 0x00, //                         len 4, pad
      0x73, 0x76, 0x6d, 0x31, //                         "svm1" (align4(4) = 4)
    ],
  }),
  request('VM_LOOKUP_NAME', {
    name: 'VM_LOOKUP_NAME request, longest name: len 79 + 1 zero padding byte',
    ref: 'rm-rpc.md §12.1',
    seq: 0x0024,
    msgId: 0x5600_0013,
    record: { name: ascii('n'.repeat(79)) },
    bytes: [
      0x21, 0x01, 0x24, 0x00, 0x13, 0x00, 0x00, 0x56, // REQUEST, seq 0x24, VM_LOOKUP_NAME
      0x4f, 0x00, 0x00, 0x00, //                         len 79 (the maximum), pad
      ...new Array<number>(79).fill(0x6e), //            79 × "n"
      0x00, //                                           padding to align4(79) = 80
    ],
  }),
  reply('VM_LOOKUP_NAME', {
    name: 'VM_LOOKUP_NAME reply: no match (count 0)',
    ref: 'rm-rpc.md §12.1',
    seq: 0x0023,
    msgId: 0x5600_0013,
    record: { vmids: [] },
    bytes: [
      0x21, 0x02, 0x23, 0x00, 0x13, 0x00, 0x00, 0x56, // REPLY, seq 0x23, VM_LOOKUP_NAME
      0x00, 0x00, 0x00, 0x00, //                         err_code OK
      0x00, 0x00, 0x00, 0x00, //                         count 0
    ],
  }),

  // ── VM_GET_OWNER 0x56000015, VM_GET_VMID 0x56000024, VM_GET_PEERS 0x56000025 (0-byte reqs) ─
  request('VM_GET_OWNER', {
    name: 'VM_GET_OWNER request (zero-length)',
    ref: 'rm-rpc.md §11, §12.1',
    seq: 0x0025,
    msgId: 0x5600_0015,
    record: {},
    bytes: [0x21, 0x01, 0x25, 0x00, 0x15, 0x00, 0x00, 0x56], // REQUEST, seq 0x25, VM_GET_OWNER; no payload
  }),
  reply('VM_GET_OWNER', {
    name: 'VM_GET_OWNER reply: owner 3 (HLOS)',
    ref: 'rm-rpc.md §12.1',
    seq: 0x0025,
    msgId: 0x5600_0015,
    record: { owner: 3 },
    bytes: [
      0x21, 0x02, 0x25, 0x00, 0x15, 0x00, 0x00, 0x56, // REPLY, seq 0x25, VM_GET_OWNER
      0x00, 0x00, 0x00, 0x00, //                         err_code OK
      0x03, 0x00, 0x00, 0x00, //                         owner vmid 3
    ],
  }),
  reply('VM_GET_VMID', {
    name: 'VM_GET_VMID reply: caller vmid 3',
    ref: 'rm-rpc.md §12.1',
    seq: 3,
    msgId: 0x5600_0024,
    record: { vmid: 3 },
    bytes: [
      0x21, 0x02, 0x03, 0x00, 0x24, 0x00, 0x00, 0x56, // REPLY, seq 3, VM_GET_VMID
      0x00, 0x00, 0x00, 0x00, //                         err_code OK
      0x03, 0x00, 0x00, 0x00, //                         caller vmid 3 (u32)
    ],
  }),
  request('VM_GET_PEERS', {
    name: 'VM_GET_PEERS request (zero-length)',
    ref: 'rm-rpc.md §11',
    seq: 0x0026,
    msgId: 0x5600_0025,
    record: {},
    bytes: [0x21, 0x01, 0x26, 0x00, 0x25, 0x00, 0x00, 0x56], // REQUEST, seq 0x26, VM_GET_PEERS; no payload
  }),
  reply('VM_GET_PEERS', {
    name: 'VM_GET_PEERS reply: peers 3 and 0x80 (u32 each)',
    ref: 'rm-rpc.md §12.1',
    seq: 0x0026,
    msgId: 0x5600_0025,
    record: { vmids: [3, 0x80] },
    bytes: [
      0x21, 0x02, 0x26, 0x00, 0x25, 0x00, 0x00, 0x56, // REPLY, seq 0x26, VM_GET_PEERS
      0x00, 0x00, 0x00, 0x00, //                         err_code OK
      0x02, 0x00, 0x00, 0x00, //                         count 2
      0x03, 0x00, 0x00, 0x00, //                         vmid 3 (u32)
      0x80, 0x00, 0x00, 0x00, //                         vmid 0x80 (u32)
    ],
  }),

  // ── VM_GET_STATE 0x56000017 ───────────────────────────────────────────────────────────────
  request('VM_GET_STATE', {
    name: 'VM_GET_STATE request, vmid 0x80',
    ref: 'rm-rpc.md §12.1',
    seq: 0x0027,
    msgId: 0x5600_0017,
    record: { vmid: 0x80 },
    bytes: [
      0x21, 0x01, 0x27, 0x00, 0x17, 0x00, 0x00, 0x56, // REQUEST, seq 0x27, VM_GET_STATE
      0x80, 0x00, 0x00, 0x00, //                         vmid 0x80, pad
    ],
  }),
  reply('VM_GET_STATE', {
    name: 'VM_GET_STATE reply: RUNNING, os RUN, app_status 0x1234',
    ref: 'rm-rpc.md §12.1, §15.1',
    seq: 0x0027,
    msgId: 0x5600_0017,
    record: { vmStatus: 3, osStatus: 4, appStatus: 0x1234 },
    bytes: [
      0x21, 0x02, 0x27, 0x00, 0x17, 0x00, 0x00, 0x56, // REPLY, seq 0x27, VM_GET_STATE
      0x00, 0x00, 0x00, 0x00, //                         err_code OK
      0x03, //                                           state bits 7:0   vm_state 3 RUNNING
      0x04, //                                           state bits 15:8  os_state 4 RUN
      0x34, 0x12, //                                     state bits 31:16 app_status 0x1234
    ],
  }),

  // ── VM_GET_CRASH_MSG 0x56000019 ───────────────────────────────────────────────────────────
  request('VM_GET_CRASH_MSG', {
    name: 'VM_GET_CRASH_MSG request, vmid 0x80',
    ref: 'rm-rpc.md §12.1',
    seq: 0x0028,
    msgId: 0x5600_0019,
    record: { vmid: 0x80 },
    bytes: [
      0x21, 0x01, 0x28, 0x00, 0x19, 0x00, 0x00, 0x56, // REQUEST, seq 0x28, VM_GET_CRASH_MSG
      0x80, 0x00, 0x00, 0x00, //                         vmid 0x80, pad
    ],
  }),
  reply('VM_GET_CRASH_MSG', {
    name: 'VM_GET_CRASH_MSG reply: "panic" (len 5, padded to 8)',
    ref: 'rm-rpc.md §12.1',
    seq: 0x0028,
    msgId: 0x5600_0019,
    record: { message: ascii('panic') },
    bytes: [
      0x21, 0x02, 0x28, 0x00, 0x19, 0x00, 0x00, 0x56, // REPLY, seq 0x28, VM_GET_CRASH_MSG
      0x00, 0x00, 0x00, 0x00, //                         err_code OK
      0x05, 0x00, //                                     len 5
      0x00, 0x00, //                                     u16 0
      0x70, 0x61, 0x6e, 0x69, 0x63, //                   "panic"
      0x00, 0x00, 0x00, //                               padding to 4
    ],
  }),

  // ── VM_GET_HYP_RESOURCES 0x56000020 (a 2-frame reply is in rm-header.vectors.ts) ─────────
  request('VM_GET_HYP_RESOURCES', {
    name: 'VM_GET_HYP_RESOURCES request, vmid 0x80',
    ref: 'rm-rpc.md §12.1',
    seq: 0x0029,
    msgId: 0x5600_0020,
    record: { vmid: 0x80 },
    bytes: [
      0x21, 0x01, 0x29, 0x00, 0x20, 0x00, 0x00, 0x56, // REQUEST, seq 0x29, VM_GET_HYP_RESOURCES
      0x80, 0x00, 0x00, 0x00, //                         vmid 0x80, pad
    ],
  }),
  reply('VM_GET_HYP_RESOURCES', {
    name: 'VM_GET_HYP_RESOURCES reply, 1 entry (4 + 44 bytes)',
    ref: 'rm-rpc.md §12.4; hypervisor.md §9.1',
    seq: 0x0029,
    msgId: 0x5600_0020,
    record: {
      entries: [
        {
          type: 1,
          partnerVmid: 0x80,
          resourceHandle: 0,
          resourceLabel: 0x0102_0304,
          capId: 0xa1a2_a3a4_b1b2_b3b4n,
          virqHandle: 0,
          virq: 1019,
          base: 0x1_0000_2000n,
          size: 0x3000n,
        },
      ],
    },
    bytes: [
      0x21, 0x02, 0x29, 0x00, 0x20, 0x00, 0x00, 0x56, // REPLY, seq 0x29, VM_GET_HYP_RESOURCES
      0x00, 0x00, 0x00, 0x00, //                         err_code OK
      0x01, 0x00, 0x00, 0x00, //                         n_entries 1
      0x01, //                                           @0  type 1 BELL_RX
      0x00, //                                           @1  reserved
      0x80, 0x00, //                                     @2  partner_vmid 0x80
      0x00, 0x00, 0x00, 0x00, //                         @4  resource_handle 0
      0x04, 0x03, 0x02, 0x01, //                         @8  resource_label 0x01020304
      0xb4, 0xb3, 0xb2, 0xb1, //                         @12 cap_id low u32 0xB1B2B3B4
      0xa4, 0xa3, 0xa2, 0xa1, //                         @16 cap_id high u32 0xA1A2A3A4
      0x00, 0x00, 0x00, 0x00, //                         @20 virq_handle 0
      0xfb, 0x03, 0x00, 0x00, //                         @24 virq 1019 (last SPI)
      0x00, 0x20, 0x00, 0x00, //                         @28 base low u32 0x00002000
      0x01, 0x00, 0x00, 0x00, //                         @32 base high u32 0x1
      0x00, 0x30, 0x00, 0x00, //                         @36 size low u32 0x3000
      0x00, 0x00, 0x00, 0x00, //                         @40 size high u32 0
    ],
  }),
  reply('VM_GET_HYP_RESOURCES', {
    name: 'VM_GET_HYP_RESOURCES reply, 0 entries (exactly 4 bytes)',
    ref: 'rm-rpc.md §12.4',
    seq: 0x002a,
    msgId: 0x5600_0020,
    record: { entries: [] },
    bytes: [
      0x21, 0x02, 0x2a, 0x00, 0x20, 0x00, 0x00, 0x56, // REPLY, seq 0x2A, VM_GET_HYP_RESOURCES
      0x00, 0x00, 0x00, 0x00, //                         err_code OK
      0x00, 0x00, 0x00, 0x00, //                         n_entries 0
    ],
  }),

  // ── VM_GET_HYP_CAPIDS 0x56000021, VM_GET_HYP_IRQS 0x56000022: always UNIMPLEMENTED ───────
  request('VM_GET_HYP_CAPIDS', {
    name: 'VM_GET_HYP_CAPIDS request (layout unknown: payload passed through raw)',
    ref: 'rm-rpc.md §11',
    seq: 0x002b,
    msgId: 0x5600_0021,
    record: { bytes: Uint8Array.of(0x80, 0x00, 0x00, 0x00) },
    bytes: [
      0x21, 0x01, 0x2b, 0x00, 0x21, 0x00, 0x00, 0x56, // REQUEST, seq 0x2B, VM_GET_HYP_CAPIDS
      0x80, 0x00, 0x00, 0x00, //                         raw bytes (a vmid as a client might send)
    ],
  }),
  replyWith('VM_GET_HYP_CAPIDS', STANDARD_REPLY, {
    name: 'VM_GET_HYP_CAPIDS reply UNIMPLEMENTED (0xFFFFFFFF)',
    ref: 'rm-rpc.md §11, §14.1',
    seq: 0x002b,
    msgId: 0x5600_0021,
    err: 0xffff_ffff,
    record: {},
    bytes: [
      0x21, 0x02, 0x2b, 0x00, 0x21, 0x00, 0x00, 0x56, // REPLY, seq 0x2B, VM_GET_HYP_CAPIDS
      0xff, 0xff, 0xff, 0xff, //                         err_code 0xFFFFFFFF UNIMPLEMENTED
    ],
  }),
  request('VM_GET_HYP_IRQS', {
    name: 'VM_GET_HYP_IRQS request (empty, raw)',
    ref: 'rm-rpc.md §11',
    seq: 0x002c,
    msgId: 0x5600_0022,
    record: { bytes: new Uint8Array(0) },
    bytes: [0x21, 0x01, 0x2c, 0x00, 0x22, 0x00, 0x00, 0x56], // REQUEST, seq 0x2C, VM_GET_HYP_IRQS; no payload
  }),

  // ── VM_SET_TIME_BASE 0x56000030 (20) ──────────────────────────────────────────────────────
  request('VM_SET_TIME_BASE', {
    name: 'VM_SET_TIME_BASE request, vmid 0 (self)',
    ref: 'rm-rpc.md §12.1',
    seq: 0x0030,
    msgId: 0x5600_0030,
    record: { vmid: 0, timeBase: 0x0123_4567_89ab_cdefn, sysTimerRef: 0x3b9a_ca00n },
    bytes: [
      0x21, 0x01, 0x30, 0x00, 0x30, 0x00, 0x00, 0x56, // REQUEST, seq 0x30, VM_SET_TIME_BASE
      0x00, 0x00, //                                     vmid 0 = self
      0x00, 0x00, //                                     pad
      0xef, 0xcd, 0xab, 0x89, 0x67, 0x45, 0x23, 0x01, // time_base 0x0123456789ABCDEF
      0x00, 0xca, 0x9a, 0x3b, 0x00, 0x00, 0x00, 0x00, // sys_timer_ref 1 000 000 000
    ],
  }),
  replyWith('VM_SET_TIME_BASE', HYP_ERROR_TAIL, {
    name: 'VM_SET_TIME_BASE error reply DENIED + hypervisor error 30 (DENIED)',
    ref: 'rm-rpc.md §10, §12.1, §14.2',
    seq: 0x0030,
    msgId: 0x5600_0030,
    err: 0x3,
    record: { hypError: 30 },
    bytes: [
      0x21, 0x02, 0x30, 0x00, 0x30, 0x00, 0x00, 0x56, // REPLY, seq 0x30, VM_SET_TIME_BASE
      0x03, 0x00, 0x00, 0x00, //                         err_code 0x3 DENIED
      0x1e, 0x00, 0x00, 0x00, //                         u32 hypervisor error 30 DENIED
    ],
  }),
  replyWith('VM_SET_TIME_BASE', HYP_ERROR_TAIL, {
    name: 'VM_SET_TIME_BASE error reply UNIMPLEMENTED + hypervisor error -1 (UNIMPLEMENTED)',
    ref: 'rm-rpc.md §10, §12.1, §14.2, §14.3',
    seq: 0x0031,
    msgId: 0x5600_0030,
    err: 0xffff_ffff,
    record: { hypError: -1 },
    bytes: [
      0x21, 0x02, 0x31, 0x00, 0x30, 0x00, 0x00, 0x56, // REPLY, seq 0x31, VM_SET_TIME_BASE
      0xff, 0xff, 0xff, 0xff, //                         err_code UNIMPLEMENTED
      0xff, 0xff, 0xff, 0xff, //                         hypervisor error -1 UNIMPLEMENTED
    ],
  }),

  // ── VM_SET_FIRMWARE_MEM 0x56000032 (24) ───────────────────────────────────────────────────
  request('VM_SET_FIRMWARE_MEM', {
    name: 'VM_SET_FIRMWARE_MEM request',
    ref: 'rm-rpc.md §12.1',
    seq: 0x0032,
    msgId: 0x5600_0032,
    record: { vmid: 0x80, fwHandle: 7, fwOffset: 0x1000n, fwSize: 0x20_0000n },
    bytes: [
      0x21, 0x01, 0x32, 0x00, 0x32, 0x00, 0x00, 0x56, // REQUEST, seq 0x32, VM_SET_FIRMWARE_MEM
      0x80, 0x00, //                                     vmid 0x80
      0x00, 0x00, //                                     res0 (must be 0)
      0x07, 0x00, 0x00, 0x00, //                         fw parcel handle 7
      0x00, 0x10, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, // fw_offset 0x1000
      0x00, 0x00, 0x20, 0x00, 0x00, 0x00, 0x00, 0x00, // fw_size 0x200000 (2 MiB)
    ],
  }),
  replyWith('VM_SET_FIRMWARE_MEM', HYP_ERROR_TAIL, {
    name: 'VM_SET_FIRMWARE_MEM error reply VM_STATE + hypervisor error 1',
    ref: 'rm-rpc.md §10, §12.1',
    seq: 0x0032,
    msgId: 0x5600_0032,
    err: 0x14,
    record: { hypError: 1 },
    bytes: [
      0x21, 0x02, 0x32, 0x00, 0x32, 0x00, 0x00, 0x56, // REPLY, seq 0x32, VM_SET_FIRMWARE_MEM
      0x14, 0x00, 0x00, 0x00, //                         err_code 0x14 VM_STATE
      0x01, 0x00, 0x00, 0x00, //                         hypervisor error: always 1 in this code
    ],
  }),

  // ── VM_SET_STATUS 0x56000080 (4) ──────────────────────────────────────────────────────────
  request('VM_SET_STATUS', {
    name: 'VM_SET_STATUS request: os_state RUN, app_status 0x0102',
    ref: 'rm-rpc.md §12.1',
    seq: 0x0080,
    msgId: 0x5600_0080,
    record: { osStatus: 4, appStatus: 0x0102 },
    bytes: [
      0x21, 0x01, 0x80, 0x00, 0x80, 0x00, 0x00, 0x56, // REQUEST, seq 0x80, VM_SET_STATUS
      0x00, //                                           ignored
      0x04, //                                           os_state 4 RUN
      0x02, 0x01, //                                     app_status 0x0102
    ],
  }),

  request('VM_SET_STATUS', {
    name: 'VM_SET_STATUS request with a non-zero byte 0 (ignored)',
    ref: 'rm-rpc.md §12.1',
    seq: 0x0081,
    msgId: 0x5600_0080,
    record: { osStatus: 0, appStatus: 0xffff },
    decodeOnly: 'byte 0 is "ignored" (§12.1)',
    bytes: [
      0x21, 0x01, 0x81, 0x00, 0x80, 0x00, 0x00, 0x56, // REQUEST, seq 0x81, VM_SET_STATUS
      0xa5, //                                           ignored
      0x00, //                                           os_state 0 = unchanged
      0xff, 0xff, //                                     app_status 0xFFFF
    ],
  }),
  request('VM_LOOKUP_URI', {
    name: 'VM_LOOKUP_URI request with non-zero bytes in the u16 pad after len (ignored; only the string padding is checked)',
    ref: 'rm-rpc.md §10, §12.1',
    seq: 0x0088,
    msgId: 0x5600_0011,
    record: { uri: ascii('abcd') },
    decodeOnly: 'padding fields are ignored unless a check is stated (§10)',
    bytes: [
      0x21, 0x01, 0x88, 0x00, 0x11, 0x00, 0x00, 0x56, // REQUEST, seq 0x88, VM_LOOKUP_URI
      0x04, 0x00, //                                     len 4
      0x99, 0x99, //                                     pad (ignored)
      0x61, 0x62, 0x63, 0x64, //                         "abcd"
    ],
  }),

  // ── VM_EXIT 0x56000085 (4) ────────────────────────────────────────────────────────────────
  request('VM_EXIT', {
    name: 'VM_EXIT request: RESTART flag, exit_code SOFTWARE_ERROR (1)',
    ref: 'rm-rpc.md §12.1, §15.1',
    seq: 0x0085,
    msgId: 0x5600_0085,
    record: { exitFlags: 0x0001, exitCode: 1 },
    bytes: [
      0x21, 0x01, 0x85, 0x00, 0x85, 0x00, 0x00, 0x56, // REQUEST, seq 0x85, VM_EXIT
      0x01, 0x00, //                                     exit_flags: bit 0 RESTART
      0x01, //                                           exit_code 1 SOFTWARE_ERROR
      0x00, //                                           res0
    ],
  }),
  request('VM_EXIT', {
    name: 'VM_EXIT request: exit_code DEVICE_ERROR (4), the largest accepted',
    ref: 'rm-rpc.md §12.1, §15.1',
    seq: 0x0086,
    msgId: 0x5600_0085,
    record: { exitFlags: 0, exitCode: 4 },
    bytes: [
      0x21, 0x01, 0x86, 0x00, 0x85, 0x00, 0x00, 0x56, // REQUEST, seq 0x86, VM_EXIT
      0x00, 0x00, //                                     exit_flags 0
      0x04, //                                           exit_code 4 DEVICE_ERROR
      0x00, //                                           res0
    ],
  }),

  // ── VM_SET_CRASH_MSG 0x56000086 ───────────────────────────────────────────────────────────
  request('VM_SET_CRASH_MSG', {
    name: 'VM_SET_CRASH_MSG request, "oops!\\n" (len 6, 2 zero padding bytes)',
    ref: 'rm-rpc.md §12.1',
    seq: 0x0087,
    msgId: 0x5600_0086,
    record: { message: ascii('oops!\n') },
    bytes: [
      0x21, 0x01, 0x87, 0x00, 0x86, 0x00, 0x00, 0x56, // REQUEST, seq 0x87, VM_SET_CRASH_MSG
      0x06, 0x00, //                                     len 6
      0x00, 0x00, //                                     pad
      0x6f, 0x6f, 0x70, 0x73, 0x21, 0x0a, //             "oops!\n"
      0x00, 0x00, //                                     zero padding to align4(6) = 8
    ],
  }),

  // ── VM_HOST_GET_TYPE 0x560000A0 ───────────────────────────────────────────────────────────
  request('VM_HOST_GET_TYPE', {
    name: 'VM_HOST_GET_TYPE request (zero-length)',
    ref: 'rm-rpc.md §11',
    seq: 0x00a0,
    msgId: 0x5600_00a0,
    record: {},
    bytes: [0x21, 0x01, 0xa0, 0x00, 0xa0, 0x00, 0x00, 0x56], // REQUEST, seq 0xA0, VM_HOST_GET_TYPE; no payload
  }),
  reply('VM_HOST_GET_TYPE', {
    name: 'VM_HOST_GET_TYPE reply 0x01000164 (Gunyah + RM v1, AArch64)',
    ref: 'rm-rpc.md §12.1',
    seq: 0x00a0,
    msgId: 0x5600_00a0,
    record: { hostType: 0x0100_0164 },
    bytes: [
      0x21, 0x02, 0xa0, 0x00, 0xa0, 0x00, 0x00, 0x56, // REPLY, seq 0xA0, VM_HOST_GET_TYPE
      0x00, 0x00, 0x00, 0x00, //                         err_code OK
      0x64, 0x01, 0x00, 0x01, //                         le32 0x01000164 (0x64 = AArch64, 0x01 = Gunyah + RM, version 1)
    ],
  }),
];
