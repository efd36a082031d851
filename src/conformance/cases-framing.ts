/**
 * Conformance cases: the wire header, message types and the RM's handling of malformed, stray
 * and unknown messages.
 *
 * Reference: rm-rpc.md §2 (header; examples), §3 (types), §6 (seq: no state, duplicates
 * accepted), §8.1 (what the RM drops, UNIMPLEMENTED for unknown IDs), §11 (IDs that are always
 * UNIMPLEMENTED; VM_HOST_GET_TYPE), §12.1 (VM_HOST_GET_TYPE value). Memparcel messages are not
 * asserted here.
 */
import { RpcMsgType } from '../rm-rpc/wire/header.js';
import { RmMsgId, RmNotifId } from '../rm-rpc/wire/msg-ids.js';
import type { ConformanceCase } from './case.js';
import { check, expectBytes, expectEqual, fail, hexPreview, hx } from './assert.js';
import { rawFrame, type RmSession } from './session.js';
import { EMPTY, Vmid, u32At, vmStatusBytes } from './payloads.js';

const GROUP = 'framing';

/** Receive the next whole message and require it to be a reply (no notification expected here). */
async function nextReply(s: RmSession, what: string) {
  for (;;) {
    const m = await s.receive();
    if (m === undefined) return fail(`${s.label}: no reply to ${what}`);
    if (m.kind === 'reply') return m;
    s.pending.push(m);
  }
}

/** VM_GET_VMID request header for seq `seq` (a complete zero-length request). */
const getVmid = (seq: number) => rawFrame({ type: RpcMsgType.REQUEST, fragments: 0, seq, msgId: RmMsgId.VM_GET_VMID });

export const FRAMING_CASES: readonly ConformanceCase[] = [
  {
    id: 'framing.short-frame',
    group: GROUP,
    title: 'a frame shorter than 8 bytes is dropped without a reply',
    async run({ hlos }) {
      const whole = getVmid(hlos.nextSeq());
      for (const len of [1, 4, 7]) await hlos.sendFrame(whole.subarray(0, len));
      await hlos.probe('frames of 1, 4 and 7 bytes (prefixes of a VM_GET_VMID request)');
    },
  },
  {
    id: 'framing.bad-api-byte',
    group: GROUP,
    title: 'a frame whose byte 0 is not 0x21 (api version 1, 2 header words) is dropped',
    async run({ hlos }) {
      for (const api of [0x11, 0x22, 0x20, 0x31, 0x01, 0x00, 0xff]) {
        await hlos.sendFrame(rawFrame({ api, type: RpcMsgType.REQUEST, fragments: 0, seq: hlos.nextSeq(), msgId: RmMsgId.VM_GET_VMID }));
        await hlos.probe(`a VM_GET_VMID request with byte 0 = ${hx(api)}`);
      }
    },
  },
  {
    id: 'framing.fragments-over-62',
    group: GROUP,
    title: 'a request whose fragments field is 63 is dropped',
    async run({ hlos }) {
      await hlos.sendFrame(rawFrame({ type: RpcMsgType.REQUEST, fragments: 63, seq: hlos.nextSeq(), msgId: RmMsgId.VM_GET_VMID }));
      await hlos.probe('a VM_GET_VMID request with fragments = 63');
      const payload = Uint8Array.of(Vmid.NEVER, 0, 0, 0);
      await hlos.sendFrame(rawFrame({ type: RpcMsgType.REQUEST, fragments: 63, seq: hlos.nextSeq(), msgId: RmMsgId.VM_START, payload }));
      await hlos.probe('a VM_START request with fragments = 63');
    },
  },
  {
    id: 'framing.reply-to-rm',
    group: GROUP,
    title: 'a REPLY sent to the RM is ignored',
    async run({ hlos }) {
      const seq = hlos.nextSeq();
      await hlos.sendFrame(rawFrame({ type: RpcMsgType.REPLY, fragments: 0, seq, msgId: RmMsgId.VM_GET_VMID, payload: new Uint8Array(4) }));
      await hlos.probe('a REPLY frame (VM_GET_VMID, err OK)');
      await hlos.sendFrame(rawFrame({ type: RpcMsgType.REPLY, fragments: 0, seq: hlos.nextSeq(), msgId: RmMsgId.VM_START, payload: Uint8Array.of(0, 0, 0, 0, 3, 0, 0, 0) }));
      await hlos.probe('a REPLY frame (VM_START, err OK, 4 data bytes)');
    },
  },
  {
    id: 'framing.notification-to-rm',
    group: GROUP,
    title: 'a NOTIFICATION from a VM other than the hypervisor gets no reply',
    async run({ hlos }) {
      await hlos.sendFrame(rawFrame({ type: RpcMsgType.NOTIFICATION, fragments: 0, seq: hlos.nextSeq(), msgId: RmMsgId.VM_GET_VMID }));
      await hlos.probe('a NOTIFICATION frame with msg_id VM_GET_VMID');
      await hlos.sendFrame(
        rawFrame({ type: RpcMsgType.NOTIFICATION, fragments: 0, seq: hlos.nextSeq(), msgId: RmNotifId.NOTIFY_VM_STATUS, payload: vmStatusBytes(Vmid.HLOS, 3) }),
      );
      await hlos.probe('a NOTIFICATION frame NOTIFY_VM_STATUS');
    },
  },
  {
    id: 'framing.unknown-msg-id',
    group: GROUP,
    title: 'an unknown msg_id gets UNIMPLEMENTED (0xFFFFFFFF) echoing seq and msg_id, byte for byte',
    async run({ hlos }) {
      for (const msgId of [0x1234_5678, 0x5600_0003, 0x5600_00ff, 0x0000_0000, 0xffff_ffff]) {
        const seq = hlos.nextSeq();
        await hlos.sendFrame(rawFrame({ type: RpcMsgType.REQUEST, fragments: 0, seq, msgId }));
        const r = await nextReply(hlos, `unknown msg_id ${hx(msgId)}`);
        check(r.frames.length === 1, `reply to ${hx(msgId)}: expected one frame, got ${r.frames.length}`);
        // 21 | type 2, fragments 0 | seq (le16) | msg_id (le32) | err_code 0xFFFFFFFF (le32)
        const expected = [0x21, 0x02, seq & 0xff, seq >> 8, msgId & 0xff, (msgId >>> 8) & 0xff, (msgId >>> 16) & 0xff, msgId >>> 24, 0xff, 0xff, 0xff, 0xff];
        expectBytes(r.frames[0]!, expected, `reply to unknown msg_id ${hx(msgId)} seq ${hx(seq)}`);
      }
      await hlos.probe('the unknown-ID requests (one reply each)');
    },
  },
  {
    id: 'framing.reply-header-layout',
    group: GROUP,
    title: 'the reply header is 0x21, type 2, seq, msg_id, err_code, then data (VM_GET_VMID byte for byte)',
    async run({ hlos }) {
      const seq = 0x1234;
      await hlos.sendFrame(getVmid(seq));
      const r = await nextReply(hlos, 'VM_GET_VMID seq 0x1234');
      check(r.frames.length === 1, `expected a single-frame reply, got ${r.frames.length} frames`);
      expectBytes(
        r.frames[0]!,
        [0x21, 0x02, 0x34, 0x12, 0x24, 0x00, 0x00, 0x56, 0x00, 0x00, 0x00, 0x00, 0x03, 0x00, 0x00, 0x00],
        'reply frame to VM_GET_VMID seq 0x1234 from HLOS',
      );
    },
  },
  {
    id: 'framing.zero-length-request',
    group: GROUP,
    title: 'a zero-length request (header only) is dispatched: VM_GET_VMID answers 3 for HLOS',
    async run({ hlos }) {
      const seq = hlos.nextSeq();
      await hlos.sendFrame(getVmid(seq));
      const r = await hlos.reply(seq, RmMsgId.VM_GET_VMID);
      expectEqual(r.errCode, 0, 'VM_GET_VMID err_code');
      expectBytes(r.data, [3, 0, 0, 0], 'VM_GET_VMID data (u32 caller vmid)');
    },
  },
  {
    id: 'framing.seq-values',
    group: GROUP,
    title: 'seq 0xFFFF, seq 0 and duplicate seqs are accepted and echoed (the RM keeps no seq state)',
    async run({ hlos }) {
      for (const seq of [0xffff, 0x0000, 0x8000]) {
        const r = await hlos.call(RmMsgId.VM_GET_VMID, EMPTY, { seq });
        expectEqual(r.seq, seq, 'reply seq');
        expectEqual(u32At(r.data, 0, 'VM_GET_VMID'), Vmid.HLOS, `VM_GET_VMID seq ${hx(seq)}`);
      }
      // Two requests with one seq, sent before reading: two replies, both with that seq, in order.
      const dup = 0x4242;
      await hlos.sendRequest(RmMsgId.VM_GET_VMID, EMPTY, { seq: dup });
      await hlos.sendRequest(RmMsgId.VM_HOST_GET_TYPE, EMPTY, { seq: dup });
      const a = await hlos.reply(dup, RmMsgId.VM_GET_VMID, 'the first request with seq 0x4242 (VM_GET_VMID)');
      expectEqual(a.errCode, 0, 'first duplicate-seq reply err_code');
      const b = await hlos.reply(dup, RmMsgId.VM_HOST_GET_TYPE, 'the second request with seq 0x4242 (VM_HOST_GET_TYPE)');
      expectEqual(b.errCode, 0, 'second duplicate-seq reply err_code');
      await hlos.probe('the duplicate-seq pair (exactly two replies)');
    },
  },
  {
    id: 'framing.host-get-type',
    group: GROUP,
    title: 'VM_HOST_GET_TYPE answers 0x01000164 (AArch64, Gunyah + RM, version 1)',
    async run({ hlos }) {
      const data = await hlos.ok(RmMsgId.VM_HOST_GET_TYPE, EMPTY, '', 4);
      expectEqual(u32At(data, 0, 'VM_HOST_GET_TYPE'), 0x0100_0164, 'VM_HOST_GET_TYPE value');
    },
  },
  {
    id: 'framing.always-unimplemented',
    group: GROUP,
    title: 'VM_GET_HYP_CAPIDS, VM_GET_HYP_IRQS, VM_IRQ_UNMAP and IPA_UNRESERVE answer UNIMPLEMENTED',
    async run({ hlos }) {
      // A 4-byte payload: an empty VM_IRQ_* request aborts the real RM (rm-rpc.md §17 #2).
      const payload = Uint8Array.of(Vmid.HLOS, 0, 0, 0);
      for (const id of [RmMsgId.VM_GET_HYP_CAPIDS, RmMsgId.VM_GET_HYP_IRQS, RmMsgId.VM_IRQ_UNMAP, RmMsgId.IPA_UNRESERVE]) {
        const r = await hlos.expect(id, payload, 'UNIMPLEMENTED', '', 0);
        check(r.frames[0]!.byteLength === 12, `reply to ${hx(id)}: expected a 12-byte standard reply, got ${hexPreview(r.frames[0]!)}`);
      }
    },
  },
];
