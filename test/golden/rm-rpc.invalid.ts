/**
 * Byte strings the RM RPC codecs must reject, each with the WireError reason and the RM error
 * the real RM answers with (mqtt-packet testParseError; STYLE.md rule 12).
 *
 * Provenance: /work/shared/reference/rm-rpc.md §2 (header: byte 0 = 0x21, reply header 12
 * bytes), §8 (what receivers drop), §10 (list rules: 1–3 header bytes → MSG_INVALID, count over
 * the maximum → NORESOURCE, entries past the end → MSG_INVALID, memparcel leftovers →
 * MSG_INVALID), §11 (required lengths, exact unless marked ≥), §12 (per-message checks), §14.1
 * (codes). Every frame here is typed by hand, or derived from a hand-typed golden frame by
 * dropping its last byte or appending one zero byte (EXACT_LENGTH table).
 *
 * `reason` uses our WireError vocabulary (src/shared/wire-error.ts); the sheet fixes only the
 * RM error. Where the sheet says "must be 0" without naming the error, `note` says so and the
 * expectation is MSG_INVALID, the sheet's usual answer for a malformed payload (§8.1).
 */
import type { InvalidVector } from './golden-types.js';
import type { PayloadCodec } from '../../src/rm-rpc/wire/codec.js';
import { RM_CATALOGUE } from '../../src/rm-rpc/wire/catalogue.js';
import type { RmMsgName } from '../../src/rm-rpc/wire/msg-ids.js';
import { goldenByName } from './all-vectors.js';

const req = (name: RmMsgName): PayloadCodec<unknown> => RM_CATALOGUE[name].req as PayloadCodec<unknown>;
const rep = (name: RmMsgName): PayloadCodec<unknown> => RM_CATALOGUE[name].reply as PayloadCodec<unknown>;

// ---------------------------------------------------------------------------------------------
// Frame level: decodeRpcFrame throws. The RM drops such frames without a reply (§8.1), so the
// WireError names no RM error.
// ---------------------------------------------------------------------------------------------

export const FRAME_INVALID: readonly InvalidVector[] = [
  { name: 'empty frame', ref: 'rm-rpc.md §8.1', stage: 'frame', bytes: [], reason: 'short', rmError: null },
  {
    name: 'short header: 7 bytes',
    ref: 'rm-rpc.md §2, §8.1',
    stage: 'frame',
    bytes: [0x21, 0x01, 0x00, 0x00, 0x01, 0x00, 0x00], // header without the top byte of msg_id
    reason: 'short',
    rmError: null,
  },
  {
    name: 'short header: 1 byte',
    ref: 'rm-rpc.md §2, §8.1',
    stage: 'frame',
    bytes: [0x21],
    reason: 'short',
    rmError: null,
  },
  {
    name: 'api byte 0x20: api_version 0',
    ref: 'rm-rpc.md §2, §8.1',
    stage: 'frame',
    bytes: [0x20, 0x01, 0x00, 0x00, 0x01, 0x00, 0x00, 0x56, 0x00, 0x00, 0x00, 0x00], // VM_ALLOCATE otherwise valid
    reason: 'bad-api',
    rmError: null,
  },
  {
    name: 'api byte 0x31: header_words 3',
    ref: 'rm-rpc.md §2, §8.1',
    stage: 'frame',
    bytes: [0x31, 0x01, 0x00, 0x00, 0x01, 0x00, 0x00, 0x56, 0x00, 0x00, 0x00, 0x00],
    reason: 'bad-api',
    rmError: null,
  },
  {
    name: 'api byte 0x12: nibbles swapped',
    ref: 'rm-rpc.md §2, §8.1',
    stage: 'frame',
    bytes: [0x12, 0x01, 0x00, 0x00, 0x01, 0x00, 0x00, 0x56, 0x00, 0x00, 0x00, 0x00],
    reason: 'bad-api',
    rmError: null,
  },
  {
    name: 'reply of 8 bytes: no err_code',
    ref: 'rm-rpc.md §2, §8.2',
    stage: 'frame',
    bytes: [0x21, 0x02, 0x00, 0x00, 0x01, 0x00, 0x00, 0x56], // REPLY header only
    reason: 'short',
    rmError: null,
  },
  {
    name: 'reply of 11 bytes: err_code cut short',
    ref: 'rm-rpc.md §2, §8.2',
    stage: 'frame',
    bytes: [0x21, 0x02, 0x00, 0x00, 0x01, 0x00, 0x00, 0x56, 0x00, 0x00, 0x00],
    reason: 'short',
    rmError: null,
  },
];

// ---------------------------------------------------------------------------------------------
// Exact-length requests: one byte short and one byte long, derived from hand-typed frames.
// `length` is the sheet's required payload length for that very frame (§11 "Req").
// ---------------------------------------------------------------------------------------------

interface ExactLength {
  readonly msg: RmMsgName;
  /** The valid golden frame (by name) the short/long variants are made from. */
  readonly from: string;
  /** The sheet's required length of that frame's payload. */
  readonly length: number;
  readonly ref: string;
  /** Reason when one byte short, when not 'short' (a length field now points past the end). */
  readonly shortReason?: string;
  /** Reason when one byte long, when not 'long'. */
  readonly longReason?: string;
  readonly note?: string;
}

const NEWER_FW = 'RM side unknown (§12.3): the exact length is Linux\'s layout; MSG_INVALID is the §8.1 usual answer';

/** Every exact-length request, at the length the sheet gives (§11, §12). */
export const EXACT_LENGTH: readonly ExactLength[] = [
  { msg: 'VM_ALLOCATE', from: '§2 example: VM_ALLOC_VMID request, seq 0, vmid 0 (12 bytes)', length: 4, ref: 'rm-rpc.md §11, §12.1' },
  { msg: 'VM_DEALLOCATE', from: 'VM_DEALLOCATE request, vmid 0x80', length: 4, ref: 'rm-rpc.md §11, §12.1' },
  { msg: 'VM_START', from: 'VM_START request, seq 0x1234, vmid 0x81', length: 4, ref: 'rm-rpc.md §11, §12.1' },
  { msg: 'VM_STOP', from: 'VM_STOP request as Linux sends it: FORCE, stop_reason 3', length: 8, ref: 'rm-rpc.md §11, §12.1' },
  { msg: 'VM_RESET', from: 'VM_RESET request, vmid 0x80', length: 4, ref: 'rm-rpc.md §11, §12.1' },
  {
    msg: 'VM_CONFIG_IMAGE',
    from: 'VM_CONFIG_IMAGE request as Linux v17 sends it: auth NONE, image 0/0, DTB at 0x800 size 0x1234',
    length: 40,
    ref: 'rm-rpc.md §11, §12.2',
  },
  { msg: 'VM_AUTH_IMAGE', from: 'VM_AUTH_IMAGE request with 2 params', length: 4 + 8 * 2, ref: 'rm-rpc.md §11, §12.2' },
  { msg: 'VM_AUTH_IMAGE', from: 'VM_AUTH_IMAGE request with no params (4 bytes)', length: 4, ref: 'rm-rpc.md §11, §12.2' },
  { msg: 'VM_INIT', from: 'VM_INIT request, vmid 0x80', length: 4, ref: 'rm-rpc.md §11, §12.2' },
  { msg: 'VM_GET_ID', from: 'VM_GET_ID request, vmid 0 (the caller itself)', length: 4, ref: 'rm-rpc.md §11, §12.1' },
  { msg: 'VM_LOOKUP_URI', from: 'VM_LOOKUP_URI request, "vm-01" (len 5, 3 zero padding bytes)', length: 4 + 8, ref: 'rm-rpc.md §11, §12.1' },
  { msg: 'VM_LOOKUP_GUID', from: 'VM_LOOKUP_GUID request (16 bytes)', length: 16, ref: 'rm-rpc.md §11, §12.1' },
  { msg: 'VM_LOOKUP_NAME', from: 'VM_LOOKUP_NAME request, "svm1" (len 4, no padding)', length: 4 + 4, ref: 'rm-rpc.md §11, §12.1' },
  { msg: 'VM_GET_OWNER', from: 'VM_GET_OWNER request (zero-length)', length: 0, ref: 'rm-rpc.md §11' },
  { msg: 'VM_GET_STATE', from: 'VM_GET_STATE request, vmid 0x80', length: 4, ref: 'rm-rpc.md §11, §12.1' },
  { msg: 'VM_GET_CRASH_MSG', from: 'VM_GET_CRASH_MSG request, vmid 0x80', length: 4, ref: 'rm-rpc.md §11, §12.1' },
  { msg: 'VM_GET_HYP_RESOURCES', from: 'VM_GET_HYP_RESOURCES request, vmid 0x80', length: 4, ref: 'rm-rpc.md §11, §12.1' },
  { msg: 'VM_GET_VMID', from: '§2 example: zero-length request VM_GET_VMID (the 8-byte header only)', length: 0, ref: 'rm-rpc.md §11' },
  { msg: 'VM_GET_PEERS', from: 'VM_GET_PEERS request (zero-length)', length: 0, ref: 'rm-rpc.md §11' },
  { msg: 'VM_SET_TIME_BASE', from: 'VM_SET_TIME_BASE request, vmid 0 (self)', length: 20, ref: 'rm-rpc.md §11, §12.1' },
  { msg: 'VM_SET_CONTEXT', from: 'VM_SET_BOOT_CONTEXT request: PC = 0x8000_0000', length: 16, ref: 'rm-rpc.md §11, §12.3', note: NEWER_FW },
  { msg: 'VM_SET_FIRMWARE_MEM', from: 'VM_SET_FIRMWARE_MEM request', length: 24, ref: 'rm-rpc.md §11, §12.1' },
  {
    msg: 'VM_SET_DEMAND_PAGING',
    from: 'VM_SET_DEMAND_PAGING request with 2 ranges',
    length: 8 + 16 * 2,
    ref: 'rm-rpc.md §11, §12.3',
    note: NEWER_FW,
  },
  {
    msg: 'VM_SET_DEMAND_PAGING',
    from: 'VM_SET_DEMAND_PAGING request with no ranges (8 bytes)',
    length: 8,
    ref: 'rm-rpc.md §11, §12.3',
    note: NEWER_FW,
  },
  {
    msg: 'VM_SET_ADDRESS_LAYOUT',
    from: 'VM_SET_ADDRESS_LAYOUT request: IMAGE range of the DTB parcel',
    length: 24,
    ref: 'rm-rpc.md §11, §12.3',
    note: NEWER_FW,
  },
  { msg: 'VM_IRQ_ACCEPT', from: 'VM_IRQ_ACCEPT request: virq_num 0xFFFFFFFF (the RM chooses)', length: 8, ref: 'rm-rpc.md §11, §12.6' },
  { msg: 'VM_IRQ_LEND', from: 'VM_IRQ_LEND request: IRQ 45 to vmid 0x80, label 0x11', length: 12, ref: 'rm-rpc.md §11, §12.6' },
  { msg: 'VM_IRQ_RELEASE', from: 'VM_IRQ_RELEASE request', length: 4, ref: 'rm-rpc.md §11, §12.6' },
  { msg: 'VM_IRQ_RECLAIM', from: 'VM_IRQ_RECLAIM request', length: 4, ref: 'rm-rpc.md §11, §12.6' },
  { msg: 'VM_IRQ_NOTIFY', from: 'VM_IRQ_NOTIFY RELEASED request (8 bytes)', length: 8, ref: 'rm-rpc.md §11, §12.6' },
  {
    msg: 'VM_IRQ_NOTIFY',
    from: 'VM_IRQ_NOTIFY LENT request without the list (8 bytes)',
    length: 8,
    ref: 'rm-rpc.md §11, §12.6',
    longReason: 'short', // 9 bytes of LENT: the optional list needs at least 12
  },
  {
    msg: 'VM_IRQ_NOTIFY',
    from: 'VM_IRQ_NOTIFY LENT request with the optional list: 1 vmid',
    length: 12 + 4,
    ref: 'rm-rpc.md §11, §12.6',
    shortReason: 'list-overrun', // n = 1 but only 3 bytes of its entry
  },
  { msg: 'VM_SET_STATUS', from: 'VM_SET_STATUS request: os_state RUN, app_status 0x0102', length: 4, ref: 'rm-rpc.md §11, §12.1' },
  { msg: 'VM_CONSOLE_OPEN', from: 'VM_CONSOLE_OPEN request, target 0 (self)', length: 4, ref: 'rm-rpc.md §11, §12.7' },
  { msg: 'VM_CONSOLE_CLOSE', from: "VM_CONSOLE_CLOSE request, target 0x80 (the owner closes its VM's console)", length: 4, ref: 'rm-rpc.md §11, §12.7' },
  { msg: 'VM_CONSOLE_WRITE', from: 'VM_CONSOLE_WRITE request, "hello\\n" (6 bytes, no padding: 10 in all)', length: 4 + 6, ref: 'rm-rpc.md §11, §12.7' },
  { msg: 'VM_CONSOLE_FLUSH', from: 'VM_CONSOLE_FLUSH request, target 0', length: 4, ref: 'rm-rpc.md §11, §12.7' },
  { msg: 'VM_EXIT', from: 'VM_EXIT request: RESTART flag, exit_code SOFTWARE_ERROR (1)', length: 4, ref: 'rm-rpc.md §11, §12.1' },
  {
    msg: 'VM_SET_CRASH_MSG',
    from: 'VM_SET_CRASH_MSG request, "oops!\\n" (len 6, 2 zero padding bytes)',
    length: 4 + 8,
    ref: 'rm-rpc.md §11, §12.1',
  },
  { msg: 'VM_HOST_GET_TYPE', from: 'VM_HOST_GET_TYPE request (zero-length)', length: 0, ref: 'rm-rpc.md §11' },
  {
    msg: 'IPA_RESERVE',
    from: 'IPA_RESERVE FIXED_LIST request, 1 range, constraint NORMAL',
    length: 12 + 4 + 16,
    ref: 'rm-rpc.md §11, §12.8',
    shortReason: 'list-overrun', // the one 16-byte entry has 15 bytes
  },
  {
    msg: 'IPA_RESERVE',
    from: 'IPA_RESERVE ALLOC_LIST request, 2 allocations',
    length: 12 + 4 + 64,
    ref: 'rm-rpc.md §11, §12.8',
    shortReason: 'list-overrun',
  },
  { msg: 'FW_MILESTONE', from: 'FW_MILESTONE request (zero-length)', length: 0, ref: 'rm-rpc.md §11, §12.9' },
  { msg: 'FW_SET_VM_FIRMWARE', from: 'FW_SET_VM_FIRMWARE request: auth ANDROID, parcel 9, 1 MiB image', length: 24, ref: 'rm-rpc.md §11, §12.9' },
];

/** The short and long frames of the EXACT_LENGTH table. */
export const EXACT_LENGTH_INVALID: readonly InvalidVector[] = EXACT_LENGTH.flatMap((e): InvalidVector[] => {
  const base = goldenByName(e.from).bytes;
  const note = e.note === undefined ? {} : { note: e.note };
  const long: InvalidVector = {
    name: `${e.msg} one byte long (${e.length + 1}, required ${e.length}) [from "${e.from}"]`,
    ref: e.ref,
    stage: 'payload',
    codec: req(e.msg),
    bytes: [...base, 0x00],
    reason: e.longReason ?? 'long',
    rmError: 'MSG_INVALID',
    ...note,
  };
  if (e.length === 0) return [long];
  const short: InvalidVector = {
    name: `${e.msg} one byte short (${e.length - 1}, required ${e.length}) [from "${e.from}"]`,
    ref: e.ref,
    stage: 'payload',
    codec: req(e.msg),
    bytes: base.slice(0, -1),
    reason: e.shortReason ?? 'short',
    rmError: 'MSG_INVALID',
    ...note,
  };
  return [short, long];
});

// ---------------------------------------------------------------------------------------------
// Hand-typed payload errors
// ---------------------------------------------------------------------------------------------

/** MEM_LEND frame header (REQUEST, seq 0x200, msg_id 0x51000012). */
const LEND_HDR = [0x21, 0x01, 0x00, 0x02, 0x12, 0x00, 0x00, 0x51];
/** MEM_SHARE frame header (REQUEST, seq 0x201, msg_id 0x51000013). */
const SHARE_HDR = [0x21, 0x01, 0x01, 0x02, 0x13, 0x00, 0x00, 0x51];

export const PAYLOAD_INVALID: readonly InvalidVector[] = [
  // ── minimum lengths (§12.5: create 20, APPEND 12, ACCEPT 24, RELEASE/RECLAIM 8, NOTIFY 12, LOOKUP 16)
  {
    name: 'MEM_LEND of 19 bytes (minimum 20)',
    ref: 'rm-rpc.md §12.5',
    stage: 'payload',
    codec: req('MEM_LEND'),
    bytes: [
      ...LEND_HDR,
      0x00, 0x00, 0x00, 0x00, //                         mem_type, res, flags, res
      0x00, 0x00, 0x00, 0x00, //                         label
      0x01, 0x00, 0x00, 0x00, //                         n_acl 1
      0x80, 0x00, 0x07, 0x00, //                         vmid 0x80 RWX
      0x00, 0x00, 0x00, //                               3 bytes: 19 in all
    ],
    reason: 'short',
    rmError: 'MSG_INVALID',
  },
  {
    name: 'MEM_APPEND of 11 bytes (minimum 12)',
    ref: 'rm-rpc.md §12.5',
    stage: 'payload',
    codec: req('MEM_APPEND'),
    bytes: [0x21, 0x01, 0x02, 0x02, 0x18, 0x00, 0x00, 0x51, 0x02, 0x00, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00],
    reason: 'short',
    rmError: 'MSG_INVALID',
  },
  {
    name: 'MEM_ACCEPT of 23 bytes (minimum 24)',
    ref: 'rm-rpc.md §12.5',
    stage: 'payload',
    codec: req('MEM_ACCEPT'),
    bytes: goldenByName('MEM_ACCEPT request of the minimum length 24: three empty lists').bytes.slice(0, -1),
    reason: 'short',
    rmError: 'MSG_INVALID',
  },
  {
    name: 'MEM_RELEASE of 7 bytes (minimum 8)',
    ref: 'rm-rpc.md §12.5',
    stage: 'payload',
    codec: req('MEM_RELEASE'),
    bytes: [0x21, 0x01, 0x03, 0x02, 0x14, 0x00, 0x00, 0x51, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00],
    reason: 'short',
    rmError: 'MSG_INVALID',
  },
  {
    name: 'MEM_RECLAIM of 7 bytes (minimum 8)',
    ref: 'rm-rpc.md §12.5',
    stage: 'payload',
    codec: req('MEM_RECLAIM'),
    bytes: [0x21, 0x01, 0x04, 0x02, 0x15, 0x00, 0x00, 0x51, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00],
    reason: 'short',
    rmError: 'MSG_INVALID',
  },
  {
    name: 'MEM_NOTIFY of 11 bytes (minimum 12)',
    ref: 'rm-rpc.md §12.5',
    stage: 'payload',
    codec: req('MEM_NOTIFY'),
    bytes: [0x21, 0x01, 0x05, 0x02, 0x17, 0x00, 0x00, 0x51, 0x01, 0x00, 0x00, 0x00, 0x04, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00],
    reason: 'short',
    rmError: 'MSG_INVALID',
  },
  {
    name: 'MEM_QCOM_LOOKUP_SGL of 15 bytes (minimum 16)',
    ref: 'rm-rpc.md §12.5',
    stage: 'payload',
    codec: req('MEM_QCOM_LOOKUP_SGL'),
    bytes: [
      0x21, 0x01, 0x06, 0x02, 0x1a, 0x00, 0x00, 0x51,
      0x00, 0x00, 0x00, 0x00, 0x09, 0x00, 0x00, 0x00, // mem_type, res, label 9
      0x00, 0x00, 0x00, 0x00, //                         n_acl 0
      0x00, 0x00, 0x00, //                               3 bytes of the SGL header: 15 in all
    ],
    reason: 'short',
    rmError: 'MSG_INVALID',
  },

  // ── list header of 1–3 bytes (§10)
  ...[1, 2, 3].map(
    (n): InvalidVector => ({
      name: `MEM_SHARE with ${n} byte(s) where the SGL list header belongs`,
      ref: 'rm-rpc.md §10',
      stage: 'payload',
      codec: req('MEM_SHARE'),
      bytes: [
        ...SHARE_HDR,
        0x00, 0x00, 0x00, 0x00, //                       mem_type, res, flags, res
        0x00, 0x00, 0x00, 0x00, //                       label
        0x02, 0x00, 0x00, 0x00, //                       n_acl 2
        0x03, 0x00, 0x06, 0x00, //                         vmid 3 RW
        0x80, 0x00, 0x04, 0x00, //                         vmid 0x80 R
        ...[0x01, 0x00, 0x00].slice(0, n), //            1..3 bytes of an SGL header
      ],
      reason: 'list-header',
      rmError: 'MSG_INVALID',
    }),
  ),
  {
    name: 'MEM_LEND with 2 bytes where the attr list header belongs',
    ref: 'rm-rpc.md §10',
    stage: 'payload',
    codec: req('MEM_LEND'),
    bytes: [
      ...LEND_HDR,
      0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, // mem_type .. label
      0x01, 0x00, 0x00, 0x00, 0x80, 0x00, 0x07, 0x00, // n_acl 1: vmid 0x80 RWX
      0x01, 0x00, 0x00, 0x00, //                         n_sgl 1
      0x00, 0x00, 0x00, 0x80, 0x08, 0x00, 0x00, 0x00, //   address 0x8_8000_0000
      0x00, 0x10, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, //   size 0x1000
      0x00, 0x00, //                                     2 bytes of an attr header
    ],
    reason: 'list-header',
    rmError: 'MSG_INVALID',
  },
  {
    name: 'IPA_RESERVE with 2 bytes where the list header belongs',
    ref: 'rm-rpc.md §10, §12.8',
    stage: 'payload',
    codec: req('IPA_RESERVE'),
    bytes: [
      0x21, 0x01, 0xb4, 0x00, 0xb0, 0x00, 0x00, 0x56, // REQUEST, seq 0xB4, IPA_RESERVE
      0x00, 0x00, 0x00, 0x00, //                         FIXED_LIST, res
      0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, // constraints 0, 0
      0x01, 0x00, //                                     2 bytes of a list header
    ],
    reason: 'list-header',
    rmError: 'MSG_INVALID',
  },

  // ── count over the maximum → NORESOURCE, before any entry is looked at (§10, §16.2, §12.8)
  {
    name: 'MEM_SHARE ACL count 513 (max 512) → NORESOURCE',
    ref: 'rm-rpc.md §10, §16.2',
    stage: 'payload',
    codec: req('MEM_SHARE'),
    bytes: [
      ...SHARE_HDR,
      0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, // mem_type .. label
      0x01, 0x02, 0x00, 0x00, //                         n_acl 0x0201 = 513
      0x03, 0x00, 0x06, 0x00, //                         two entries (20 bytes: the minimum; the
      0x80, 0x00, 0x04, 0x00, //                         count is refused before the entries are read)
    ],
    reason: 'list-count',
    rmError: 'NORESOURCE',
  },
  {
    name: 'MEM_LEND SGL count 513 → NORESOURCE',
    ref: 'rm-rpc.md §10, §16.2',
    stage: 'payload',
    codec: req('MEM_LEND'),
    bytes: [
      ...LEND_HDR,
      0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, // mem_type .. label
      0x01, 0x00, 0x00, 0x00, 0x80, 0x00, 0x07, 0x00, // n_acl 1: vmid 0x80 RWX
      0x01, 0x02, 0x00, 0x00, //                         n_sgl 513
    ],
    reason: 'list-count',
    rmError: 'NORESOURCE',
  },
  {
    name: 'MEM_LEND SGL count 512 with no entries → entries past the end (MSG_INVALID, not NORESOURCE)',
    ref: 'rm-rpc.md §10, §16.2',
    stage: 'payload',
    codec: req('MEM_LEND'),
    bytes: [
      ...LEND_HDR,
      0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, // mem_type .. label
      0x01, 0x00, 0x00, 0x00, 0x80, 0x00, 0x07, 0x00, // n_acl 1
      0x00, 0x02, 0x00, 0x00, //                         n_sgl 512 (allowed count)
    ],
    reason: 'list-overrun',
    rmError: 'MSG_INVALID',
  },
  {
    name: 'MEM_APPEND SGL count 513 → NORESOURCE',
    ref: 'rm-rpc.md §10, §12.5',
    stage: 'payload',
    codec: req('MEM_APPEND'),
    bytes: [
      0x21, 0x01, 0x07, 0x02, 0x18, 0x00, 0x00, 0x51, // REQUEST, seq 0x207, MEM_APPEND
      0x02, 0x00, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00, // handle 2, DONE
      0x01, 0x02, 0x00, 0x00, //                         n_sgl 513
    ],
    reason: 'list-count',
    rmError: 'NORESOURCE',
  },
  {
    name: 'MEM_ACCEPT attr count 513 → NORESOURCE',
    ref: 'rm-rpc.md §10',
    stage: 'payload',
    codec: req('MEM_ACCEPT'),
    bytes: [
      0x21, 0x01, 0x08, 0x02, 0x11, 0x00, 0x00, 0x51, // REQUEST, seq 0x208, MEM_ACCEPT
      0x00, 0x00, 0x00, 0x00, 0x00, 0x01, 0x80, 0x00, // handle 0, NORMAL, LEND, DONE
      0x00, 0x00, 0x00, 0x00, //                         label
      0x00, 0x00, 0x00, 0x00, //                         n_acl 0
      0x00, 0x00, 0x00, 0x00, //                         n_sgl 0, map_vmid 0
      0x01, 0x02, 0x00, 0x00, //                         n_attr 513
    ],
    reason: 'list-count',
    rmError: 'NORESOURCE',
  },
  {
    name: 'IPA_RESERVE list count 31 (max 30) → NORESOURCE',
    ref: 'rm-rpc.md §12.8',
    stage: 'payload',
    codec: req('IPA_RESERVE'),
    bytes: [
      0x21, 0x01, 0xb5, 0x00, 0xb0, 0x00, 0x00, 0x56, // REQUEST, seq 0xB5, IPA_RESERVE
      0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, // FIXED_LIST, constraints 0, 0
      0x1f, 0x00, 0x00, 0x00, //                         n 31
    ],
    reason: 'list-count',
    rmError: 'NORESOURCE',
  },

  // ── entries past the end (§10)
  {
    name: 'MEM_SHARE ACL count 3 with 2 entries present',
    ref: 'rm-rpc.md §10',
    stage: 'payload',
    codec: req('MEM_SHARE'),
    bytes: [
      ...SHARE_HDR,
      0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, // mem_type .. label
      0x03, 0x00, 0x00, 0x00, //                         n_acl 3
      0x03, 0x00, 0x06, 0x00, //                         entry 0
      0x80, 0x00, 0x04, 0x00, //                         entry 1; entry 2 missing
    ],
    reason: 'list-overrun',
    rmError: 'MSG_INVALID',
  },
  {
    name: 'MEM_LEND SGL count 2 with 1.5 entries present',
    ref: 'rm-rpc.md §10',
    stage: 'payload',
    codec: req('MEM_LEND'),
    bytes: [
      ...LEND_HDR,
      0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, // mem_type .. label
      0x01, 0x00, 0x00, 0x00, 0x80, 0x00, 0x07, 0x00, // n_acl 1
      0x02, 0x00, 0x00, 0x00, //                         n_sgl 2
      0x00, 0x00, 0x00, 0x80, 0x08, 0x00, 0x00, 0x00, 0x00, 0x10, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, // entry 0
      0x00, 0x10, 0x00, 0x80, 0x08, 0x00, 0x00, 0x00, //                                                 half of entry 1
    ],
    reason: 'list-overrun',
    rmError: 'MSG_INVALID',
  },
  {
    name: 'MEM_NOTIFY SHARED n_vmid 2 with 1 entry present',
    ref: 'rm-rpc.md §12.5',
    stage: 'payload',
    codec: req('MEM_NOTIFY'),
    bytes: [
      0x21, 0x01, 0x09, 0x02, 0x17, 0x00, 0x00, 0x51, // REQUEST, seq 0x209, MEM_NOTIFY
      0x01, 0x00, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00, // handle 1, SHARED
      0x00, 0x00, 0x00, 0x00, //                         tag 0
      0x02, 0x00, 0x00, 0x00, //                         n_vmid 2
      0x80, 0x00, 0x00, 0x00, //                         vmid 0x80; the second is missing (length < 16 + 4n)
    ],
    reason: 'list-overrun',
    rmError: 'MSG_INVALID',
  },
  {
    name: 'MEM_NOTIFY SHARED of 12 bytes: no vmid list (SHARED needs ≥ 16)',
    ref: 'rm-rpc.md §12.5',
    stage: 'payload',
    codec: req('MEM_NOTIFY'),
    bytes: [
      0x21, 0x01, 0x0a, 0x02, 0x17, 0x00, 0x00, 0x51, // REQUEST, seq 0x20A, MEM_NOTIFY
      0x01, 0x00, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00, // handle 1, SHARED
      0x00, 0x00, 0x00, 0x00, //                         tag 0; n_vmid missing
    ],
    reason: 'short',
    rmError: 'MSG_INVALID',
  },
  {
    name: 'VM_IRQ_NOTIFY LENT n 2 with 1 entry present',
    ref: 'rm-rpc.md §12.6',
    stage: 'payload',
    codec: req('VM_IRQ_NOTIFY'),
    bytes: [
      0x21, 0x01, 0x5b, 0x00, 0x54, 0x00, 0x00, 0x56, // REQUEST, seq 0x5B, VM_IRQ_NOTIFY
      0x2d, 0x00, 0x00, 0x5a, 0x01, 0x00, 0x00, 0x00, // handle, LENT
      0x02, 0x00, 0x00, 0x00, //                         n 2
      0x80, 0x00, 0x00, 0x00, //                         one vmid (length ≠ 12 + 4n)
    ],
    reason: 'list-overrun',
    rmError: 'MSG_INVALID',
  },
  {
    name: 'VM_IRQ_NOTIFY of 7 bytes (len < 8)',
    ref: 'rm-rpc.md §12.6',
    stage: 'payload',
    codec: req('VM_IRQ_NOTIFY'),
    bytes: [0x21, 0x01, 0x5c, 0x00, 0x54, 0x00, 0x00, 0x56, 0x2d, 0x00, 0x00, 0x5a, 0x02, 0x00, 0x00],
    reason: 'short',
    rmError: 'MSG_INVALID',
  },
  {
    name: 'VM_IRQ_NOTIFY ACCEPTED of 12 bytes (only LENT may be longer than 8)',
    ref: 'rm-rpc.md §12.6',
    stage: 'payload',
    codec: req('VM_IRQ_NOTIFY'),
    bytes: [
      0x21, 0x01, 0x5d, 0x00, 0x54, 0x00, 0x00, 0x56, // REQUEST, seq 0x5D, VM_IRQ_NOTIFY
      0x2d, 0x00, 0x00, 0x5a, 0x04, 0x00, 0x00, 0x00, // handle, ACCEPTED
      0x00, 0x00, 0x00, 0x00, //                         4 extra bytes
    ],
    reason: 'long',
    rmError: 'MSG_INVALID',
  },

  // ── memparcel leftovers after the last list (§10)
  {
    name: 'MEM_LEND with 4 bytes after the attr list',
    ref: 'rm-rpc.md §10',
    stage: 'payload',
    codec: req('MEM_LEND'),
    bytes: [...goldenByName('MEM_LEND request as Linux v17 sends it: one ACL entry, one SGL entry, empty attr list').bytes, 0x00, 0x00, 0x00, 0x00],
    reason: 'long',
    rmError: 'MSG_INVALID',
  },
  {
    name: 'MEM_SHARE with 1 byte after the attr list',
    ref: 'rm-rpc.md §10',
    stage: 'payload',
    codec: req('MEM_SHARE'),
    bytes: [...goldenByName('MEM_SHARE request: SANITIZE, label 0x1234, 2 ACL, 2 SGL, 1 attr entry').bytes, 0x00],
    reason: 'long',
    rmError: 'MSG_INVALID',
  },
  {
    name: 'MEM_APPEND with 4 bytes after the SGL list',
    ref: 'rm-rpc.md §10',
    stage: 'payload',
    codec: req('MEM_APPEND'),
    bytes: [...goldenByName('MEM_APPEND request: DONE, one SGL entry').bytes, 0x00, 0x00, 0x00, 0x00],
    reason: 'long',
    rmError: 'MSG_INVALID',
  },
  {
    name: 'MEM_ACCEPT with 4 bytes after the attr list',
    ref: 'rm-rpc.md §10',
    stage: 'payload',
    codec: req('MEM_ACCEPT'),
    bytes: [...goldenByName('MEM_ACCEPT request of the minimum length 24: three empty lists').bytes, 0x00, 0x00, 0x00, 0x00],
    reason: 'long',
    rmError: 'MSG_INVALID',
  },
  {
    name: 'MEM_QCOM_LOOKUP_SGL with 4 bytes after the attr list',
    ref: 'rm-rpc.md §10',
    stage: 'payload',
    codec: req('MEM_QCOM_LOOKUP_SGL'),
    bytes: [...goldenByName('MEM_QCOM_LOOKUP_SGL request, label 9').bytes, 0x00, 0x00, 0x00, 0x00],
    reason: 'long',
    rmError: 'MSG_INVALID',
  },

  // ── VM_EXIT (§12.1: exit_code 0, 1, 3 or 4; res0 0; else MSG_INVALID)
  {
    name: 'VM_EXIT exit_code 2 (UNKNOWN_ERROR is rejected)',
    ref: 'rm-rpc.md §12.1',
    stage: 'payload',
    codec: req('VM_EXIT'),
    bytes: [0x21, 0x01, 0x90, 0x00, 0x85, 0x00, 0x00, 0x56, 0x00, 0x00, 0x02, 0x00], // flags 0, exit_code 2, res0 0
    reason: 'bad-value',
    rmError: 'MSG_INVALID',
  },
  {
    name: 'VM_EXIT exit_code 5 (out of range)',
    ref: 'rm-rpc.md §12.1',
    stage: 'payload',
    codec: req('VM_EXIT'),
    bytes: [0x21, 0x01, 0x91, 0x00, 0x85, 0x00, 0x00, 0x56, 0x00, 0x00, 0x05, 0x00], // exit_code 5
    reason: 'bad-value',
    rmError: 'MSG_INVALID',
  },
  {
    name: 'VM_EXIT res0 ≠ 0',
    ref: 'rm-rpc.md §12.1',
    stage: 'payload',
    codec: req('VM_EXIT'),
    bytes: [0x21, 0x01, 0x92, 0x00, 0x85, 0x00, 0x00, 0x56, 0x00, 0x00, 0x00, 0x01], // exit_code 0, res0 1
    reason: 'reserved',
    rmError: 'MSG_INVALID',
  },

  // ── VM_LOOKUP_* (§12.1: len ≤ 79 else ARGUMENT_INVALID; string padding must be 0 else MSG_INVALID)
  {
    name: 'VM_LOOKUP_NAME len 80 (max 79) → ARGUMENT_INVALID',
    ref: 'rm-rpc.md §12.1',
    stage: 'payload',
    codec: req('VM_LOOKUP_NAME'),
    bytes: [
      0x21, 0x01, 0x93, 0x00, 0x13, 0x00, 0x00, 0x56, // REQUEST, seq 0x93, VM_LOOKUP_NAME
      0x50, 0x00, 0x00, 0x00, //                         len 80, pad
      ...new Array<number>(80).fill(0x6e), //            80 × "n" (align4(80) = 80: total consistent)
    ],
    reason: 'bad-value',
    rmError: 'ARGUMENT_INVALID',
  },
  {
    name: 'VM_LOOKUP_URI non-zero string padding',
    ref: 'rm-rpc.md §12.1',
    stage: 'payload',
    codec: req('VM_LOOKUP_URI'),
    bytes: [
      0x21, 0x01, 0x95, 0x00, 0x11, 0x00, 0x00, 0x56, // REQUEST, seq 0x95, VM_LOOKUP_URI
      0x05, 0x00, 0x00, 0x00, //                         len 5, pad
      0x76, 0x6d, 0x2d, 0x30, 0x31, //                   "vm-01"
      0x00, 0x20, 0x00, //                               padding with a non-zero byte
    ],
    reason: 'reserved',
    rmError: 'MSG_INVALID',
  },
  {
    name: 'VM_LOOKUP_NAME non-zero string padding (last byte)',
    ref: 'rm-rpc.md §12.1',
    stage: 'payload',
    codec: req('VM_LOOKUP_NAME'),
    bytes: [
      0x21, 0x01, 0x96, 0x00, 0x13, 0x00, 0x00, 0x56, // REQUEST, seq 0x96, VM_LOOKUP_NAME
      0x01, 0x00, 0x00, 0x00, //                         len 1, pad
      0x78, 0x00, 0x00, 0xff, //                         "x" + padding with 0xFF last
    ],
    reason: 'reserved',
    rmError: 'MSG_INVALID',
  },

  // ── res0 fields with a stated check
  {
    name: 'FW_SET_VM_FIRMWARE res0 ≠ 0 → UNIMPLEMENTED',
    ref: 'rm-rpc.md §12.9',
    stage: 'payload',
    codec: req('FW_SET_VM_FIRMWARE'),
    bytes: [
      0x21, 0x01, 0x22, 0x00, 0x21, 0x00, 0x00, 0x51, // REQUEST, seq 0x22, FW_SET_VM_FIRMWARE
      0x02, 0x00, 0x01, 0x00, //                         auth_type 2, res0 1
      0x09, 0x00, 0x00, 0x00, //                         handle 9
      0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, // image_offset 0
      0x00, 0x00, 0x10, 0x00, 0x00, 0x00, 0x00, 0x00, // image_size 0x100000
    ],
    reason: 'reserved',
    rmError: 'UNIMPLEMENTED',
  },
  {
    name: 'VM_SET_FIRMWARE_MEM res0 ≠ 0',
    ref: 'rm-rpc.md §12.1',
    stage: 'payload',
    codec: req('VM_SET_FIRMWARE_MEM'),
    bytes: [
      0x21, 0x01, 0x33, 0x00, 0x32, 0x00, 0x00, 0x56, // REQUEST, seq 0x33, VM_SET_FIRMWARE_MEM
      0x80, 0x00, 0x00, 0x01, //                         vmid 0x80, res0 0x0100
      0x07, 0x00, 0x00, 0x00, //                         handle 7
      0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, // fw_offset 0
      0x00, 0x10, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, // fw_size 0x1000
    ],
    reason: 'reserved',
    rmError: 'MSG_INVALID',
    note: 'the sheet says "must be 0" without naming the error',
  },
  {
    name: 'VM_INIT res0 ≠ 0',
    ref: 'rm-rpc.md §12.2',
    stage: 'payload',
    codec: req('VM_INIT'),
    bytes: [0x21, 0x01, 0x0e, 0x00, 0x0b, 0x00, 0x00, 0x56, 0x80, 0x00, 0x01, 0x00], // vmid 0x80, res0 1
    reason: 'reserved',
    rmError: 'MSG_INVALID',
    note: 'the sheet says "must be 0" without naming the error',
  },

  // ── IPA_RESERVE alloc_type (§12.8: bad alloc_type → MSG_INVALID)
  {
    name: 'IPA_RESERVE alloc_type 2',
    ref: 'rm-rpc.md §12.8',
    stage: 'payload',
    codec: req('IPA_RESERVE'),
    bytes: [
      0x21, 0x01, 0xb6, 0x00, 0xb0, 0x00, 0x00, 0x56, // REQUEST, seq 0xB6, IPA_RESERVE
      0x02, 0x00, 0x00, 0x00, //                         alloc_type 2 (neither FIXED_LIST nor ALLOC_LIST)
      0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, // constraints 0, 0
      0x00, 0x00, 0x00, 0x00, //                         n 0
    ],
    reason: 'bad-value',
    rmError: 'MSG_INVALID',
  },

  // ── replies Linux checks (§12.4, §18: VM_GET_HYP_RESOURCES must be exactly 4 + 44·n, -EBADMSG)
  {
    name: 'VM_GET_HYP_RESOURCES reply with no data (Linux: -EBADMSG)',
    ref: 'rm-rpc.md §12.4, §18',
    stage: 'payload',
    codec: rep('VM_GET_HYP_RESOURCES'),
    bytes: [0x21, 0x02, 0x29, 0x00, 0x20, 0x00, 0x00, 0x56, 0x00, 0x00, 0x00, 0x00], // OK, no data
    reason: 'short',
    rmError: 'MSG_INVALID',
    note: 'client side: the RM error is the codec convention; Linux returns -EBADMSG',
  },
  {
    name: 'VM_GET_HYP_RESOURCES reply n 1 with 43 entry bytes (Linux: -EBADMSG)',
    ref: 'rm-rpc.md §12.4, §18',
    stage: 'payload',
    codec: rep('VM_GET_HYP_RESOURCES'),
    bytes: goldenByName('VM_GET_HYP_RESOURCES reply, 1 entry (4 + 44 bytes)').bytes.slice(0, -1),
    reason: 'short',
    rmError: 'MSG_INVALID',
    note: 'client side: the RM error is the codec convention; Linux returns -EBADMSG',
  },
  {
    name: 'VM_GET_HYP_RESOURCES reply n 0 with 4 extra bytes (Linux: -EBADMSG)',
    ref: 'rm-rpc.md §12.4, §18',
    stage: 'payload',
    codec: rep('VM_GET_HYP_RESOURCES'),
    bytes: [...goldenByName('VM_GET_HYP_RESOURCES reply, 0 entries (exactly 4 bytes)').bytes, 0x00, 0x00, 0x00, 0x00],
    reason: 'long',
    rmError: 'MSG_INVALID',
    note: 'client side: the RM error is the codec convention; Linux returns -EBADMSG',
  },
];

/** Everything that must be rejected. */
export const INVALID_VECTORS: readonly InvalidVector[] = [...FRAME_INVALID, ...EXACT_LENGTH_INVALID, ...PAYLOAD_INVALID];
