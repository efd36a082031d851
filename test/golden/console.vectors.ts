/**
 * Golden vectors: VM console requests: VM_CONSOLE_OPEN, VM_CONSOLE_CLOSE, VM_CONSOLE_WRITE,
 * VM_CONSOLE_FLUSH (standard replies). NOTIFY_VM_CONSOLE_CHARS is in notifications.vectors.ts.
 *
 * Provenance: /work/shared/reference/rm-rpc.md §2 (header), §11 (IDs; WRITE is exactly
 * 4 + n), §12.7 (RM vm_console_message.h layouts: @0 u16 target, @2 u16 res0 / num_bytes,
 * data with no padding). Every byte typed by hand.
 */
import { ascii, replyWith, request, type GoldenVector } from './golden-types.js';
import { STANDARD_REPLY } from '../../src/rm-rpc/wire/codec.js';

export const CONSOLE_VECTORS: readonly GoldenVector[] = [
  request('VM_CONSOLE_OPEN', {
    name: 'VM_CONSOLE_OPEN request, target 0 (self)',
    ref: 'rm-rpc.md §12.7',
    seq: 0x0081,
    msgId: 0x5600_0081,
    record: { target: 0 },
    bytes: [
      0x21, 0x01, 0x81, 0x00, 0x81, 0x00, 0x00, 0x56, // REQUEST, seq 0x81, VM_CONSOLE_OPEN
      0x00, 0x00, //                                     target 0 = self
      0x00, 0x00, //                                     res0
    ],
  }),
  replyWith('VM_CONSOLE_OPEN', STANDARD_REPLY, {
    name: 'VM_CONSOLE_OPEN error reply ARGUMENT_INVALID (0x6): no console',
    ref: 'rm-rpc.md §12.7, §14.1',
    seq: 0x0081,
    msgId: 0x5600_0081,
    err: 0x6,
    record: {},
    bytes: [
      0x21, 0x02, 0x81, 0x00, 0x81, 0x00, 0x00, 0x56, // REPLY, seq 0x81, VM_CONSOLE_OPEN
      0x06, 0x00, 0x00, 0x00, //                         err_code 0x6 ARGUMENT_INVALID
    ],
  }),
  request('VM_CONSOLE_OPEN', {
    name: 'VM_CONSOLE_OPEN request with non-zero res0 (no check is stated: ignored)',
    ref: 'rm-rpc.md §10, §12.7',
    seq: 0x0087,
    msgId: 0x5600_0081,
    record: { target: 0 },
    decodeOnly: 'padding fields are ignored unless a check is stated (§10)',
    bytes: [
      0x21, 0x01, 0x87, 0x00, 0x81, 0x00, 0x00, 0x56, // REQUEST, seq 0x87, VM_CONSOLE_OPEN
      0x00, 0x00, //                                     target 0
      0x01, 0x00, //                                     res0 (ignored)
    ],
  }),
  request('VM_CONSOLE_CLOSE', {
    name: 'VM_CONSOLE_CLOSE request, target 0x80 (the owner closes its VM\'s console)',
    ref: 'rm-rpc.md §12.7',
    seq: 0x0082,
    msgId: 0x5600_0082,
    record: { target: 0x80 },
    bytes: [
      0x21, 0x01, 0x82, 0x00, 0x82, 0x00, 0x00, 0x56, // REQUEST, seq 0x82, VM_CONSOLE_CLOSE
      0x80, 0x00, //                                     target 0x80
      0x00, 0x00, //                                     res0
    ],
  }),
  request('VM_CONSOLE_WRITE', {
    name: 'VM_CONSOLE_WRITE request, "hello\\n" (6 bytes, no padding: 10 in all)',
    ref: 'rm-rpc.md §12.7',
    seq: 0x0083,
    msgId: 0x5600_0083,
    record: { target: 0, data: ascii('hello\n') },
    bytes: [
      0x21, 0x01, 0x83, 0x00, 0x83, 0x00, 0x00, 0x56, // REQUEST, seq 0x83, VM_CONSOLE_WRITE
      0x00, 0x00, //                                     target 0 = self
      0x06, 0x00, //                                     num_bytes 6
      0x68, 0x65, 0x6c, 0x6c, 0x6f, 0x0a, //             "hello\n" (exactly 4 + 6, no padding)
    ],
  }),
  request('VM_CONSOLE_WRITE', {
    name: 'VM_CONSOLE_WRITE request by the owner to vmid 0x80, 1 byte',
    ref: 'rm-rpc.md §12.7',
    seq: 0x0084,
    msgId: 0x5600_0083,
    record: { target: 0x80, data: ascii('x') },
    bytes: [
      0x21, 0x01, 0x84, 0x00, 0x83, 0x00, 0x00, 0x56, // REQUEST, seq 0x84, VM_CONSOLE_WRITE
      0x80, 0x00, //                                     target 0x80
      0x01, 0x00, //                                     num_bytes 1
      0x78, //                                           "x"
    ],
  }),
  request('VM_CONSOLE_WRITE', {
    name: 'VM_CONSOLE_WRITE request with no data (4 bytes)',
    ref: 'rm-rpc.md §12.7',
    seq: 0x0085,
    msgId: 0x5600_0083,
    record: { target: 0, data: new Uint8Array(0) },
    bytes: [
      0x21, 0x01, 0x85, 0x00, 0x83, 0x00, 0x00, 0x56, // REQUEST, seq 0x85, VM_CONSOLE_WRITE
      0x00, 0x00, 0x00, 0x00, //                         target 0, num_bytes 0
    ],
  }),
  replyWith('VM_CONSOLE_WRITE', STANDARD_REPLY, {
    name: 'VM_CONSOLE_WRITE error reply DENIED (0x3): the caller\'s side is not open',
    ref: 'rm-rpc.md §12.7, §14.1',
    seq: 0x0083,
    msgId: 0x5600_0083,
    err: 0x3,
    record: {},
    bytes: [
      0x21, 0x02, 0x83, 0x00, 0x83, 0x00, 0x00, 0x56, // REPLY, seq 0x83, VM_CONSOLE_WRITE
      0x03, 0x00, 0x00, 0x00, //                         err_code 0x3 DENIED
    ],
  }),
  request('VM_CONSOLE_FLUSH', {
    name: 'VM_CONSOLE_FLUSH request, target 0',
    ref: 'rm-rpc.md §12.7',
    seq: 0x0086,
    msgId: 0x5600_0084,
    record: { target: 0 },
    bytes: [
      0x21, 0x01, 0x86, 0x00, 0x84, 0x00, 0x00, 0x56, // REQUEST, seq 0x86, VM_CONSOLE_FLUSH
      0x00, 0x00, 0x00, 0x00, //                         target 0, res0
    ],
  }),
];
