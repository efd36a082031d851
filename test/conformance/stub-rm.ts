/**
 * A deliberately tiny RM for testing the conformance suite's own machinery: framing and
 * reassembly exactly as rm-rpc.md §8.1 states them, and just enough messages to answer the
 * framing and fragmentation cases (VM_GET_VMID, VM_HOST_GET_TYPE, VM_START's length and VMID
 * checks, VM_LOOKUP_NAME of unknown names). Everything else is UNIMPLEMENTED. Its HLOS queue
 * has depth 8 and answers ERROR_MSGQUEUE_FULL, so the suite's send retry is exercised.
 *
 * It is a test double, written from the fact sheet only; it has nothing to do with the real
 * emulated RM in src/rm-rpc/server.
 */
import { HypError } from '../../src/shared/hyp-errors.js';
import { view } from '../../src/shared/bytes.js';
import { fragmentMessage } from '../../src/rm-rpc/wire/message.js';
import { RmMsgId } from '../../src/rm-rpc/wire/msg-ids.js';
import type { RawRmChannel, RmTarget } from '../../src/conformance/target.js';

const DEPTH = 8;

interface Partial {
  seq: number;
  msgId: number;
  fragments: number;
  remaining: number;
  parts: Uint8Array[];
}

/** Options to make the stub misbehave, to check that the suite notices. */
export interface StubRmOptions {
  /** Answer frames with a bad api byte instead of dropping them. */
  answerBadApi?: boolean;
  /** Append mismatched continuations instead of dropping them. */
  acceptMismatchedContinuations?: boolean;
}

export function createStubRm(opts: StubRmOptions = {}): RmTarget & { frameCount(): number } {
  const toRm: Uint8Array[] = [];
  const toVm: Uint8Array[] = [];
  let waiter: (() => void) | undefined;
  let partial: Partial | undefined;
  let scheduled = false;
  let frames = 0;

  const reply = (seq: number, msgId: number, errCode: number, payload: Uint8Array = new Uint8Array(0)): void => {
    for (const f of fragmentMessage({ kind: 'reply', seq, msgId, errCode, payload }, 'rm')) toVm.push(f);
    waiter?.();
  };
  const u32 = (n: number): Uint8Array => {
    const b = new Uint8Array(4);
    view(b).setUint32(0, n, true);
    return b;
  };

  const dispatch = (seq: number, msgId: number, p: Uint8Array): void => {
    switch (msgId) {
      case RmMsgId.VM_GET_VMID:
        return p.byteLength === 0 ? reply(seq, msgId, 0, u32(3)) : reply(seq, msgId, 4);
      case RmMsgId.VM_HOST_GET_TYPE:
        return p.byteLength === 0 ? reply(seq, msgId, 0, u32(0x0100_0164)) : reply(seq, msgId, 4);
      case RmMsgId.VM_START:
        return p.byteLength !== 4 ? reply(seq, msgId, 4) : reply(seq, msgId, 0xd);
      case RmMsgId.VM_LOOKUP_NAME: {
        if (p.byteLength < 4) return reply(seq, msgId, 4);
        const len = view(p).getUint16(0, true);
        if (len > 79) return reply(seq, msgId, 6);
        const aligned = (len + 3) & ~3;
        if (aligned + 4 !== p.byteLength || p.subarray(4 + len).some((b) => b !== 0)) return reply(seq, msgId, 4);
        return reply(seq, msgId, 0, u32(0));
      }
      default:
        return reply(seq, msgId, 0xffff_ffff);
    }
  };

  const handle = (b: Uint8Array): void => {
    if (b.byteLength < 8) return;
    const type = b[1]! & 3;
    const fragments = b[1]! >> 2;
    const seq = b[2]! | (b[3]! << 8);
    const msgId = view(b).getUint32(4, true);
    if (b[0] !== 0x21) {
      if (opts.answerBadApi && type === 1) reply(seq, msgId, 4);
      return;
    }
    if (fragments > 62) return;
    const payload = b.slice(8);
    if (type !== 0) {
      partial = undefined;
      if (fragments === 0) {
        if (type === 1) dispatch(seq, msgId, payload);
        return;
      }
      partial = { seq, msgId, fragments, remaining: fragments, parts: [payload] };
      if (type !== 1) partial = undefined; // only requests matter here
      return;
    }
    if (!partial) return;
    if (!opts.acceptMismatchedContinuations && (seq !== partial.seq || msgId !== partial.msgId || fragments !== partial.fragments)) return;
    partial.parts.push(payload);
    if (--partial.remaining > 0) return;
    const whole = new Uint8Array(partial.parts.reduce((n, x) => n + x.byteLength, 0));
    let off = 0;
    for (const x of partial.parts) {
      whole.set(x, off);
      off += x.byteLength;
    }
    const done = partial;
    partial = undefined;
    dispatch(done.seq, done.msgId, whole);
  };

  const pump = (): void => {
    scheduled = false;
    while (toRm.length > 0) handle(toRm.shift()!);
  };

  const channel: RawRmChannel = {
    async send(frame) {
      if (toRm.length >= DEPTH) throw new HypError('ERROR_MSGQUEUE_FULL');
      toRm.push(frame.slice());
      frames++;
      if (!scheduled) {
        scheduled = true;
        setTimeout(pump, 0);
      }
      return { ready: toRm.length < DEPTH };
    },
    async recv(o) {
      const deadline = Date.now() + (o?.timeoutMs ?? 2000);
      while (toVm.length === 0) {
        const left = deadline - Date.now();
        if (left <= 0) return undefined;
        await new Promise<void>((resolve) => {
          const t = setTimeout(resolve, left);
          waiter = () => {
            clearTimeout(t);
            resolve();
          };
        });
        waiter = undefined;
      }
      const bytes = toVm.shift()!;
      return { bytes, ready: toVm.length > 0 };
    },
    async close() {},
  };

  return {
    name: 'stub-rm',
    async open(vmid) {
      if (vmid !== 3) throw new Error(`stub RM: VM ${vmid} has no RM link`);
      return channel;
    },
    async close() {},
    frameCount: () => frames,
  };
}
