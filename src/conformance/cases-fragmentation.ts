/**
 * Conformance cases: request reassembly by the RM and fragmentation of the RM's replies.
 *
 * Reference: rm-rpc.md §4 (limits: 232 bytes per fragment, at most 62 continuations, so up to
 * 63 × 232 = 14616 bytes), §5 (fragmentation rules, PUSH), §8.1 (continuation rules). The
 * probe message is VM_START, whose handler checks the length before anything else: any length
 * but 4 is MSG_INVALID, and 4 bytes naming a VMID that is no VM (0x7F) is VMID_INVALID. So
 * each reassembled request gets exactly one reply, and the error tells whether the RM put
 * together exactly the 4 bytes it should have (quic/gunyah-resource-manager
 * src/vm_mgnt/vm_mgnt.c, vm_mgnt_handle_start: `len != 4` → MSG_INVALID first).
 *
 *   first frame (type 1, fragments = n)  + n continuations (type 0, same seq/msg_id/fragments)
 *   payloads appended back to back, whatever their sizes
 */
import { RPC_MAX_FRAGMENT_PAYLOAD, RPC_MAX_FRAME, RpcMsgType } from '../rm-rpc/wire/header.js';
import { RmMsgId } from '../rm-rpc/wire/msg-ids.js';
import type { ConformanceCase } from './case.js';
import { check, errLabel, expectEqual, fail, hx, msgLabel } from './assert.js';
import { rawFrame, type PushMode, type RmSession } from './session.js';
import { ResourceType, Vmid, ascii, decodeHypResources, decodeVmidList16, lenStringReq, vmidReq } from './payloads.js';
import { readyVm } from './vm-helpers.js';

const GROUP = 'fragmentation';
const FRAG = RPC_MAX_FRAGMENT_PAYLOAD; // 232

/** VM_START for VMID 0x7F: 4 bytes that are a valid-length request for no VM. */
const START_NEVER = vmidReq(Vmid.NEVER);

/** Frames of one request with an explicit split of its payload. */
function splitFrames(msgId: number, seq: number, payload: Uint8Array, sizes: readonly number[], fragments = sizes.length - 1): Uint8Array[] {
  const total = sizes.reduce((a, b) => a + b, 0);
  if (total !== payload.byteLength) throw new RangeError(`split sizes sum to ${total}, payload is ${payload.byteLength}`);
  const out: Uint8Array[] = [];
  let off = 0;
  sizes.forEach((n, i) => {
    out.push(rawFrame({ type: i === 0 ? RpcMsgType.REQUEST : RpcMsgType.CONTINUATION, fragments, seq, msgId, payload: payload.subarray(off, off + n) }));
    off += n;
  });
  return out;
}

/** Wait for the reply to (seq, msgId) and require `err`. */
async function expectReply(s: RmSession, seq: number, msgId: number, err: number, what: string): Promise<void> {
  const r = await s.reply(seq, msgId, what);
  if (r.errCode !== err) fail(`${s.label}: ${what} seq ${hx(seq)}: expected ${errLabel(err)}, got ${errLabel(r.errCode)}`);
}

const MSG_INVALID = 0x4;
const VMID_INVALID = 0xd;

export const FRAGMENTATION_CASES: readonly ConformanceCase[] = [
  {
    id: 'fragmentation.request-sizes',
    group: GROUP,
    title: 'requests of 0, 1, 231, 232, 233, 62×232 and 63×232 bytes are reassembled and answered once each',
    async run({ hlos }) {
      for (const len of [0, 1, 231, 232, 233, 62 * FRAG, 63 * FRAG]) {
        const seq = await hlos.sendRequest(RmMsgId.VM_START, new Uint8Array(len));
        await expectReply(hlos, seq, RmMsgId.VM_START, MSG_INVALID, `VM_START with a ${len}-byte payload`);
      }
      await hlos.probe('the seven fragmented VM_START requests (one reply each)');
    },
  },
  {
    id: 'fragmentation.over-limit',
    group: GROUP,
    title: 'one byte past 63×232 cannot be expressed: 64 frames with fragments = 63 are all dropped',
    async run({ hlos }) {
      const seq = hlos.nextSeq();
      const frames: Uint8Array[] = [];
      for (let i = 0; i < 64; i++) {
        const type = i === 0 ? RpcMsgType.REQUEST : RpcMsgType.CONTINUATION;
        frames.push(rawFrame({ type, fragments: 63, seq, msgId: RmMsgId.VM_START, payload: new Uint8Array(i === 63 ? 1 : FRAG) }));
      }
      await hlos.sendFrames(frames);
      await hlos.probe('a 64-frame VM_START (fragments = 63)');
    },
  },
  {
    id: 'fragmentation.continuation-without-partial',
    group: GROUP,
    title: 'a continuation with nothing in progress, or after the message completed, is dropped',
    async run({ hlos }) {
      await hlos.sendFrame(rawFrame({ type: RpcMsgType.CONTINUATION, fragments: 0, seq: hlos.nextSeq(), msgId: RmMsgId.VM_GET_VMID }));
      await hlos.sendFrame(rawFrame({ type: RpcMsgType.CONTINUATION, fragments: 1, seq: hlos.nextSeq(), msgId: RmMsgId.VM_START, payload: START_NEVER }));
      await hlos.probe('two lone continuations');
      // A complete two-frame request, then one continuation too many.
      const seq = hlos.nextSeq();
      const frames = splitFrames(RmMsgId.VM_START, seq, START_NEVER, [2, 2]);
      await hlos.sendFrames(frames);
      await hlos.sendFrame(rawFrame({ type: RpcMsgType.CONTINUATION, fragments: 1, seq, msgId: RmMsgId.VM_START, payload: Uint8Array.of(0) }));
      await expectReply(hlos, seq, RmMsgId.VM_START, VMID_INVALID, 'VM_START(0x7F) split 2+2');
      await hlos.probe('a continuation sent after its message completed');
    },
  },
  {
    id: 'fragmentation.mismatched-continuation',
    group: GROUP,
    title: 'a continuation with another seq, msg_id or fragments is dropped; the partial message is kept and completed',
    async run({ hlos }) {
      const seq = hlos.nextSeq();
      const [f0, f1, f2] = splitFrames(RmMsgId.VM_START, seq, START_NEVER, [1, 1, 2]);
      const junk = Uint8Array.of(0xaa);
      await hlos.sendFrame(f0!);
      await hlos.sendFrame(rawFrame({ type: RpcMsgType.CONTINUATION, fragments: 2, seq: (seq + 1) & 0xffff, msgId: RmMsgId.VM_START, payload: junk }));
      await hlos.sendFrame(rawFrame({ type: RpcMsgType.CONTINUATION, fragments: 2, seq, msgId: RmMsgId.VM_STOP, payload: junk }));
      await hlos.sendFrame(f1!);
      await hlos.sendFrame(rawFrame({ type: RpcMsgType.CONTINUATION, fragments: 3, seq, msgId: RmMsgId.VM_START, payload: junk }));
      await hlos.sendFrame(f2!);
      // Exactly the 4 good bytes: VMID_INVALID. A junk byte appended: MSG_INVALID. Partial lost: no reply.
      await expectReply(hlos, seq, RmMsgId.VM_START, VMID_INVALID, 'VM_START(0x7F) split 1+1+2 with mismatched continuations in between');
      await hlos.probe('the mismatched continuations');
    },
  },
  {
    id: 'fragmentation.new-request-discards-partial',
    group: GROUP,
    title: 'a new request while one is partly reassembled discards the partial one',
    async run({ hlos }) {
      const partialSeq = hlos.nextSeq();
      const [p0, p1] = splitFrames(RmMsgId.VM_START, partialSeq, START_NEVER, [1, 3]);
      await hlos.sendFrame(p0!);
      const seq = await hlos.sendRequest(RmMsgId.VM_GET_VMID);
      await hlos.sendFrame(p1!); // nothing in progress any more: dropped
      const r = await hlos.reply(seq, RmMsgId.VM_GET_VMID, 'the VM_GET_VMID sent in the middle of a partial VM_START');
      expectEqual(r.errCode, 0, 'VM_GET_VMID err_code');
      await hlos.probe('the rest of the discarded partial VM_START');
    },
  },
  {
    id: 'fragmentation.odd-continuation-sizes',
    group: GROUP,
    title: 'continuations of any size are appended back to back',
    async run({ hlos }) {
      let seq = hlos.nextSeq();
      await hlos.sendFrames(splitFrames(RmMsgId.VM_START, seq, START_NEVER, [1, 1, 1, 1]));
      await expectReply(hlos, seq, RmMsgId.VM_START, VMID_INVALID, 'VM_START(0x7F) in four 1-byte frames');
      // VM_LOOKUP_NAME checks its u16 length against the total and its padding against zero, so a
      // misplaced byte anywhere turns OK into MSG_INVALID. The length field itself is split.
      const req = lenStringReq(ascii('no-such-conformance-vm')); // 4 + 24 bytes
      seq = hlos.nextSeq();
      await hlos.sendFrames(splitFrames(RmMsgId.VM_LOOKUP_NAME, seq, req, [1, 3, 7, 9, 8]));
      const r = await hlos.reply(seq, RmMsgId.VM_LOOKUP_NAME, 'VM_LOOKUP_NAME split 1+3+7+9+8');
      if (r.errCode !== 0) fail(`VM_LOOKUP_NAME split 1+3+7+9+8: expected OK, got ${errLabel(r.errCode)}`);
      expectEqual(decodeVmidList16(r.data, 'VM_LOOKUP_NAME').length, 0, 'VM_LOOKUP_NAME match count for an unknown name');
      // A full first fragment followed by a short one and a 1-byte one (233 + 1 bytes).
      seq = hlos.nextSeq();
      await hlos.sendFrames(splitFrames(RmMsgId.VM_START, seq, new Uint8Array(FRAG + 2), [FRAG, 1, 1]));
      await expectReply(hlos, seq, RmMsgId.VM_START, MSG_INVALID, 'VM_START of 234 bytes split 232+1+1');
      await hlos.probe('the odd-size requests (one reply each)');
    },
  },
  {
    id: 'fragmentation.push-not-required',
    group: GROUP,
    title: 'PUSH on the last frame only, on every frame or on none: the RM reassembles all three',
    async run({ hlos }) {
      for (const push of ['last', 'all', 'none'] as PushMode[]) {
        const seq = await hlos.sendRequest(RmMsgId.VM_START, new Uint8Array(FRAG + 1), { push });
        await expectReply(hlos, seq, RmMsgId.VM_START, MSG_INVALID, `233-byte VM_START with PUSH on ${push}`);
        const seq2 = hlos.nextSeq();
        await hlos.sendFrames(splitFrames(RmMsgId.VM_START, seq2, START_NEVER, [3, 1]), push);
        await expectReply(hlos, seq2, RmMsgId.VM_START, VMID_INVALID, `VM_START(0x7F) split 3+1 with PUSH on ${push}`);
      }
      await hlos.probe('the PUSH variants');
    },
  },
  {
    id: 'fragmentation.fragmented-reply',
    group: GROUP,
    title: 'a reply longer than 228 data bytes comes in full frames with type-0 continuations repeating seq, msg_id, fragments',
    needs: ['control'],
    async run(ctx) {
      // Six vCPUs: 4 + 6 × 44 = 268 data bytes, 272 with err_code → 2 frames.
      const { vmid } = await readyVm(ctx, { dtb: { cpus: 6 } });
      const r = await ctx.hlos.call(RmMsgId.VM_GET_HYP_RESOURCES, vmidReq(vmid));
      if (r.errCode !== 0) fail(`VM_GET_HYP_RESOURCES of ${hx(vmid)}: expected OK, got ${errLabel(r.errCode)}`);
      const entries = decodeHypResources(r.data);
      const body = 4 + r.data.byteLength;
      check(body > FRAG, `VM_GET_HYP_RESOURCES of a 6-vCPU VM: only ${body} bytes, too short to need fragments`);
      const fragments = Math.ceil(body / FRAG) - 1;
      expectEqual(r.frames.length, fragments + 1, 'frames in the reply');
      r.frames.forEach((f, i) => {
        const type = i === 0 ? RpcMsgType.REPLY : RpcMsgType.CONTINUATION;
        expectEqual(f[0]!, 0x21, `frame ${i} byte 0`);
        expectEqual(f[1]!, (fragments << 2) | type, `frame ${i} byte 1 (fragments << 2 | type)`);
        expectEqual(f[2]! | (f[3]! << 8), r.seq, `frame ${i} seq`);
        expectEqual((f[4]! | (f[5]! << 8) | (f[6]! << 16) | (f[7]! << 24)) >>> 0, RmMsgId.VM_GET_HYP_RESOURCES, `frame ${i} msg_id`);
        if (i < fragments) expectEqual(f.byteLength, RPC_MAX_FRAME, `frame ${i} length (all but the last are full)`);
      });
      const vcpus = entries.filter((e) => e.type === ResourceType.VCPU).map((e) => e.label).sort((a, b) => a - b);
      check(
        vcpus.length === 6 && vcpus.every((l, i) => l === i),
        `${msgLabel(RmMsgId.VM_GET_HYP_RESOURCES)}: expected VCPU entries labelled 0..5, got labels [${vcpus.join(', ')}]`,
      );
    },
  },
];
