/**
 * Conformance cases: calls a started guest makes on its own RM link — status, exit, crash
 * message, identity queries, lookups, console — and what its owner sees of them.
 *
 * Reference: rm-rpc.md §11 (callers), §12.1 (layouts and errors), §12.7 (console), §13
 * (notifications), §15.1 (enumerations). Decisions where the sheet is silent, from
 * quic/gunyah-resource-manager (12/2023):
 *  - VM_SET_STATUS byte 0 is ignored, the reply follows NOTIFY_VM_STATUS to the peers, and a
 *    caller that is not a secondary VMID is DENIED before the length is looked at
 *    (src/vm_mgnt/vm_mgnt.c vm_mgnt_handle_set_state);
 *  - VM_EXIT: exit codes outside {0, 1, 3, 4} and res0 ≠ 0 are MSG_INVALID; word 0 of the exit
 *    reason is exit_flags | exit_code << 16 (vm_mgnt_handle_exit, vm_mgnt_send_exited);
 *  - VM_GET_CRASH_MSG data: u16 len, u16 0, the message padded to 4 (vm_mgnt_handle_get_crash_msg);
 *    VM_SET_CRASH_MSG with non-zero padding or a length that disagrees with the payload is
 *    MSG_INVALID and keeps the old message (vm_mgnt_handle_set_crash_msg); VM_RESET clears it
 *    (src/vm_creation/vm_creation.c vm_reset_handle_cleanup);
 *  - VM_GET_OWNER of HLOS is the RM (0xFF): HLOS is created with owner VMID_RM (vm_mgnt_init);
 *  - peers are registered both ways at VM_ALLOCATE (vm_register_peers), so the owner's
 *    VM_GET_PEERS lists the guest and the guest's lists the owner;
 *  - VM_GET_ID entries come in the order GUID, NAME, URI, SIGN_AUTH (vm_mgnt_handle_get_id),
 *    and the GUID bytes are the `vm-guid` hex digits in order (parse_vm_info in
 *    src/vm_config/vm_config_parser.c stores each 16-bit group big-endian);
 *  - the console is allowed (console_init sets console_allowed on the debug build the public
 *    RM describes), so a write with both sides open produces NOTIFY_VM_CONSOLE_CHARS
 *    (src/vm_console/vm_console_simple.c).
 */
import { RmMsgId, RmNotifId } from '../rm-rpc/wire/msg-ids.js';
import type { ConformanceCase } from './case.js';
import { check, expectBytes, expectEqual, fail, hexPreview, hx } from './assert.js';
import {
  ExitCode,
  ExitType,
  MAX_CRASH_MSG,
  OsStatus,
  VmIdType,
  VmStatus,
  Vmid,
  ascii,
  consoleWriteReq,
  decodeVmIds,
  decodeVmidList16,
  decodeVmidList32,
  exitReq,
  lenStringReq,
  setStatusReq,
  u32At,
  vmExitedBytes,
  vmStatusBytes,
  vmidReq,
} from './payloads.js';
import { bootGuest, expectExitNotifications, expectStatus, forceStop, getState, isVmStatus, resetAndWait } from './vm-helpers.js';
import { CONFORMANCE_IMAGE_NAME, guidBytes } from './dtb.js';
import type { RmNotification } from './session.js';

const GROUP = 'guest';

const isConsoleChars = (n: RmNotification): boolean => n.msgId === RmNotifId.NOTIFY_VM_CONSOLE_CHARS;

/** The exact NOTIFY_VM_CONSOLE_CHARS payload: u16 from, u16 num_bytes, bytes. */
function consoleCharsBytes(from: number, text: Uint8Array): Uint8Array {
  const out = new Uint8Array(4 + text.byteLength);
  out[0] = from & 0xff;
  out[1] = from >> 8;
  out[2] = text.byteLength & 0xff;
  out[3] = text.byteLength >> 8;
  out.set(text, 4);
  return out;
}

/** Distinct printable bytes, so truncation shows where it cut. */
function pattern(len: number): Uint8Array {
  return Uint8Array.from({ length: len }, (_, i) => 0x41 + (i % 26));
}

const TEST_URI = 'vm://gunyah-conformance/identity';
const TEST_GUID = '6c1d0e4f-2a3b-4c5d-8e9f-0a1b2c3d4e5f';

export const GUEST_CASES: readonly ConformanceCase[] = [
  {
    id: 'guest.set-status',
    group: GROUP,
    title: 'VM_SET_STATUS from a secondary VM updates os_state / app_status, notifies the owner and shows in VM_GET_STATE',
    needs: ['control'],
    async run(ctx) {
      const { hlos } = ctx;
      const { vmid, guest } = await bootGuest(ctx, { secondary: true });
      hlos.discard(isVmStatus(vmid));
      await guest.ok(RmMsgId.VM_SET_STATUS, setStatusReq(OsStatus.RUN, 0x1234), '(os RUN, app 0x1234)', 0);
      let n = await hlos.notification(isVmStatus(vmid), `NOTIFY_VM_STATUS(${hx(vmid)}) after VM_SET_STATUS`);
      expectBytes(n.data, vmStatusBytes(vmid, VmStatus.RUNNING, OsStatus.RUN, 0x1234), 'NOTIFY_VM_STATUS after VM_SET_STATUS');
      expectEqual(await getState(hlos, vmid), 0x1234_0403, `VM_GET_STATE of ${hx(vmid)} (RUNNING | RUN << 8 | 0x1234 << 16)`);
      expectEqual(await getState(guest, 0), 0x1234_0403, 'VM_GET_STATE(0) from the guest itself');

      // os_state 0 keeps the old one; byte 0 is ignored.
      await guest.ok(RmMsgId.VM_SET_STATUS, setStatusReq(OsStatus.NONE, 0xbeef, 0x5a), '(os unchanged, app 0xbeef, byte 0 = 0x5a)', 0);
      n = await hlos.notification(isVmStatus(vmid), `NOTIFY_VM_STATUS(${hx(vmid)}) after the second VM_SET_STATUS`);
      expectBytes(n.data, vmStatusBytes(vmid, VmStatus.RUNNING, OsStatus.RUN, 0xbeef), 'NOTIFY_VM_STATUS after VM_SET_STATUS with os_state 0');
      expectEqual(await getState(hlos, vmid), 0xbeef_0403, `VM_GET_STATE of ${hx(vmid)} after os_state 0`);

      // Invalid os_state and length leave everything as it was.
      await guest.expect(RmMsgId.VM_SET_STATUS, setStatusReq(8, 1), 'ARGUMENT_INVALID', '(os_state 8)', 0);
      await guest.expect(RmMsgId.VM_SET_STATUS, setStatusReq(0xff, 1), 'ARGUMENT_INVALID', '(os_state 0xff)', 0);
      await guest.expect(RmMsgId.VM_SET_STATUS, new Uint8Array(2), 'MSG_INVALID', '(2 bytes)', 0);
      expectEqual(await getState(hlos, vmid), 0xbeef_0403, `VM_GET_STATE of ${hx(vmid)} after refused VM_SET_STATUS`);
    },
  },
  {
    id: 'guest.exit',
    group: GROUP,
    title: 'VM_EXIT: bad exit_code or res0 is MSG_INVALID; success sends VM_STATUS(EXITED) then VM_EXITED(type 0) to the owner',
    needs: ['control'],
    async run(ctx) {
      const { hlos } = ctx;
      const { vmid, guest } = await bootGuest(ctx);
      await guest.expect(RmMsgId.VM_EXIT, exitReq(0, ExitCode.UNKNOWN_ERROR), 'MSG_INVALID', '(exit_code 2)', 0);
      await guest.expect(RmMsgId.VM_EXIT, exitReq(0, 5), 'MSG_INVALID', '(exit_code 5)', 0);
      await guest.expect(RmMsgId.VM_EXIT, exitReq(0, ExitCode.NORMAL, 1), 'MSG_INVALID', '(res0 = 1)', 0);
      await guest.expect(RmMsgId.VM_EXIT, new Uint8Array(2), 'MSG_INVALID', '(2 bytes)', 0);
      await expectStatus(hlos, vmid, VmStatus.RUNNING, 'after the refused VM_EXITs');
      hlos.discard(isVmStatus(vmid));
      // Only one good VM_EXIT: a second one aborts the real RM (rm-rpc.md §17 #4).
      await guest.ok(RmMsgId.VM_EXIT, exitReq(0x0001, ExitCode.SOFTWARE_ERROR), '(flags 0x1, SOFTWARE_ERROR)', 0);
      await expectExitNotifications(
        hlos,
        vmid,
        vmStatusBytes(vmid, VmStatus.EXITED),
        vmExitedBytes(vmid, ExitType.VM_EXIT, [0x0001 | (ExitCode.SOFTWARE_ERROR << 16)]),
        'after the guest VM_EXIT',
      );
      await expectStatus(hlos, vmid, VmStatus.EXITED, 'after VM_EXIT');
    },
  },
  {
    id: 'guest.crash-msg',
    group: GROUP,
    title: 'VM_SET_CRASH_MSG by the guest, VM_GET_CRASH_MSG by the owner: exact layout, 192-byte truncation, cleared by reset',
    needs: ['control'],
    async run(ctx) {
      const { hlos } = ctx;
      const { vmid, guest } = await bootGuest(ctx);
      const of = `of ${hx(vmid)}`;
      await guest.ok(RmMsgId.VM_SET_CRASH_MSG, lenStringReq(ascii('boom!')), '("boom!")', 0);
      const short = [5, 0, 0, 0, 0x62, 0x6f, 0x6f, 0x6d, 0x21, 0, 0, 0];
      expectBytes(await hlos.ok(RmMsgId.VM_GET_CRASH_MSG, vmidReq(vmid), of), short, 'VM_GET_CRASH_MSG data after "boom!"');

      await guest.expect(RmMsgId.VM_SET_CRASH_MSG, lenStringReq(ascii('abc'), 0x20), 'MSG_INVALID', '(non-zero padding)', 0);
      const mismatch = lenStringReq(ascii('abcdefgh')).subarray(0, 10);
      await guest.expect(RmMsgId.VM_SET_CRASH_MSG, mismatch, 'MSG_INVALID', '(len 8 with 6 bytes)', 0);
      expectBytes(await hlos.ok(RmMsgId.VM_GET_CRASH_MSG, vmidReq(vmid), of), short, 'VM_GET_CRASH_MSG after refused VM_SET_CRASH_MSGs');

      const long = pattern(200);
      await guest.ok(RmMsgId.VM_SET_CRASH_MSG, lenStringReq(long), '(200 bytes)', 0);
      const data = await hlos.ok(RmMsgId.VM_GET_CRASH_MSG, vmidReq(vmid), of);
      const expected = new Uint8Array(4 + MAX_CRASH_MSG);
      expected[0] = MAX_CRASH_MSG;
      expected.set(long.subarray(0, MAX_CRASH_MSG), 4);
      expectBytes(data, expected, 'VM_GET_CRASH_MSG data after a 200-byte message (truncated to 192)');

      await forceStop(hlos, vmid);
      await resetAndWait(hlos, vmid);
      expectBytes(await hlos.ok(RmMsgId.VM_GET_CRASH_MSG, vmidReq(vmid), `${of} after VM_RESET`), [0, 0, 0, 0], 'VM_GET_CRASH_MSG after the reset');
    },
  },
  {
    id: 'guest.identity',
    group: GROUP,
    title: 'VM_GET_VMID, VM_GET_OWNER, VM_GET_PEERS and VM_GET_ID from the guest and its owner; VM_SET_STATUS from a dynamic VM is DENIED',
    needs: ['control'],
    async run(ctx) {
      const { hlos } = ctx;
      const { vmid, guest } = await bootGuest(ctx, { dtb: { uri: TEST_URI, guid: TEST_GUID } });
      expectEqual(u32At(await guest.ok(RmMsgId.VM_GET_VMID, new Uint8Array(0), '', 4), 0, 'VM_GET_VMID'), vmid, 'VM_GET_VMID from the guest');
      expectEqual(u32At(await guest.ok(RmMsgId.VM_GET_OWNER, new Uint8Array(0), '', 4), 0, 'VM_GET_OWNER'), Vmid.HLOS, 'VM_GET_OWNER from the guest');
      expectEqual(u32At(await hlos.ok(RmMsgId.VM_GET_OWNER, new Uint8Array(0), '', 4), 0, 'VM_GET_OWNER'), Vmid.RM, 'VM_GET_OWNER from HLOS');
      const gp = decodeVmidList32(await guest.ok(RmMsgId.VM_GET_PEERS), 'VM_GET_PEERS from the guest');
      check(gp.includes(Vmid.HLOS), `VM_GET_PEERS from ${hx(vmid)}: expected HLOS among [${gp.map(hx).join(', ')}]`);
      const hp = decodeVmidList32(await hlos.ok(RmMsgId.VM_GET_PEERS), 'VM_GET_PEERS from HLOS');
      check(hp.includes(vmid), `VM_GET_PEERS from HLOS: expected ${hx(vmid)} among [${hp.map(hx).join(', ')}]`);

      await guest.expect(RmMsgId.VM_SET_STATUS, setStatusReq(OsStatus.RUN, 1), 'DENIED', `from the dynamic VMID ${hx(vmid)}`, 0);

      const own = await guest.ok(RmMsgId.VM_GET_ID, vmidReq(0), '(0 = self)');
      const byOwner = await hlos.ok(RmMsgId.VM_GET_ID, vmidReq(vmid), `of ${hx(vmid)}`);
      expectBytes(byOwner, own, `VM_GET_ID of ${hx(vmid)} by HLOS vs VM_GET_ID(0) by the guest`);
      const ids = decodeVmIds(own);
      const types = ids.map((e) => e.idType);
      const want = [VmIdType.GUID, VmIdType.NAME, VmIdType.URI, VmIdType.SIGN_AUTH];
      check(types.length === want.length && types.every((t, i) => t === want[i]), `VM_GET_ID id types: expected [0, 2, 1, 3] (GUID, NAME, URI, SIGN_AUTH), got [${types.join(', ')}]`);
      expectBytes(ids[0]!.bytes, guidBytes(TEST_GUID), 'VM_GET_ID GUID entry');
      expectBytes(ids[1]!.bytes, ascii(CONFORMANCE_IMAGE_NAME), 'VM_GET_ID NAME entry');
      expectBytes(ids[2]!.bytes, ascii(TEST_URI), 'VM_GET_ID URI entry');
    },
  },
  {
    id: 'guest.lookup',
    group: GROUP,
    title: 'VM_LOOKUP_NAME / _URI / _GUID find the guest for its owner; bad lengths and padding are refused',
    needs: ['control'],
    async run(ctx) {
      const { hlos } = ctx;
      const { vmid, guest } = await bootGuest(ctx, { dtb: { uri: `${TEST_URI}/lookup`, guid: TEST_GUID.replace('6c1d', '7d2e') } });
      const byName = decodeVmidList16(await hlos.ok(RmMsgId.VM_LOOKUP_NAME, lenStringReq(ascii(CONFORMANCE_IMAGE_NAME))), 'VM_LOOKUP_NAME');
      check(byName.includes(vmid), `VM_LOOKUP_NAME("${CONFORMANCE_IMAGE_NAME}") from HLOS: expected ${hx(vmid)} among [${byName.map(hx).join(', ')}]`);
      const byUri = decodeVmidList16(await hlos.ok(RmMsgId.VM_LOOKUP_URI, lenStringReq(ascii(`${TEST_URI}/lookup`))), 'VM_LOOKUP_URI');
      check(byUri.length === 1 && byUri[0] === vmid, `VM_LOOKUP_URI from HLOS: expected [${hx(vmid)}], got [${byUri.map(hx).join(', ')}]`);
      const byGuid = decodeVmidList16(await hlos.ok(RmMsgId.VM_LOOKUP_GUID, guidBytes(TEST_GUID.replace('6c1d', '7d2e'))), 'VM_LOOKUP_GUID');
      check(byGuid.length === 1 && byGuid[0] === vmid, `VM_LOOKUP_GUID from HLOS: expected [${hx(vmid)}], got [${byGuid.map(hx).join(', ')}]`);
      const self = decodeVmidList16(await guest.ok(RmMsgId.VM_LOOKUP_URI, lenStringReq(ascii(`${TEST_URI}/lookup`))), 'VM_LOOKUP_URI from the guest');
      check(self.length === 1 && self[0] === vmid, `VM_LOOKUP_URI from the guest itself: expected [${hx(vmid)}], got [${self.map(hx).join(', ')}]`);
      const none = decodeVmidList16(await hlos.ok(RmMsgId.VM_LOOKUP_URI, lenStringReq(ascii('vm://no-such-vm')), '', 4), 'VM_LOOKUP_URI');
      expectEqual(none.length, 0, 'VM_LOOKUP_URI of an unknown URI: count');

      await hlos.expect(RmMsgId.VM_LOOKUP_NAME, lenStringReq(pattern(80)), 'ARGUMENT_INVALID', '(80 bytes, limit 79)', 0);
      await hlos.expect(RmMsgId.VM_LOOKUP_URI, lenStringReq(pattern(80)), 'ARGUMENT_INVALID', '(80 bytes, limit 79)', 0);
      await hlos.expect(RmMsgId.VM_LOOKUP_URI, lenStringReq(ascii('vm://x'), 0x01), 'MSG_INVALID', '(non-zero padding)', 0);
      await hlos.expect(RmMsgId.VM_LOOKUP_GUID, new Uint8Array(20), 'MSG_INVALID', '(20 bytes)', 0);
    },
  },
  {
    id: 'guest.console',
    group: GROUP,
    title: 'console open / write / flush / close between a guest and its owner, with NOTIFY_VM_CONSOLE_CHARS both ways',
    needs: ['control'],
    async run(ctx) {
      const { hlos } = ctx;
      const { vmid, guest } = await bootGuest(ctx);
      await guest.ok(RmMsgId.VM_CONSOLE_OPEN, vmidReq(0), '(own console)', 0);
      await hlos.ok(RmMsgId.VM_CONSOLE_OPEN, vmidReq(vmid), `(console of ${hx(vmid)})`, 0);

      const hello = ascii('hello');
      await guest.ok(RmMsgId.VM_CONSOLE_WRITE, consoleWriteReq(0, hello), '("hello" to its own console)', 0);
      const toOwner = await hlos.notification(isConsoleChars, 'NOTIFY_VM_CONSOLE_CHARS after the guest wrote');
      expectBytes(toOwner.data, consoleCharsBytes(vmid, hello), 'NOTIFY_VM_CONSOLE_CHARS to the owner (from = the VM)');

      const hi = ascii('hi');
      await hlos.ok(RmMsgId.VM_CONSOLE_WRITE, consoleWriteReq(vmid, hi), `("hi" to ${hx(vmid)})`, 0);
      const toGuest = await guest.notification(isConsoleChars, 'NOTIFY_VM_CONSOLE_CHARS after the owner wrote');
      expectBytes(toGuest.data, consoleCharsBytes(0, hi), 'NOTIFY_VM_CONSOLE_CHARS to the VM (from = 0 for the owner)');

      await guest.ok(RmMsgId.VM_CONSOLE_FLUSH, vmidReq(0), '', 0);
      await hlos.ok(RmMsgId.VM_CONSOLE_FLUSH, vmidReq(vmid), '', 0);
      await guest.expect(RmMsgId.VM_CONSOLE_WRITE, consoleWriteReq(0, ascii('abc'), 5), 'MSG_INVALID', '(num_bytes 5, 3 bytes)', 0);

      // The owner closes: the guest's writes are accepted and dropped.
      await hlos.ok(RmMsgId.VM_CONSOLE_CLOSE, vmidReq(vmid), '', 0);
      await guest.ok(RmMsgId.VM_CONSOLE_WRITE, consoleWriteReq(0, ascii('dropped')), '(owner side closed)', 0);
      await hlos.probe('a console write while the owner side is closed');
      const stray = hlos.pending.find(isConsoleChars);
      if (stray) fail(`NOTIFY_VM_CONSOLE_CHARS reached the owner after it closed the console: ${hexPreview(stray.data)}`);

      // The guest closes its side: its writes and flushes are DENIED.
      await guest.ok(RmMsgId.VM_CONSOLE_CLOSE, vmidReq(0), '', 0);
      await guest.expect(RmMsgId.VM_CONSOLE_WRITE, consoleWriteReq(0, ascii('x')), 'DENIED', '(own side closed)', 0);
      await guest.expect(RmMsgId.VM_CONSOLE_FLUSH, vmidReq(0), 'DENIED', '(own side closed)', 0);
    },
  },
];
