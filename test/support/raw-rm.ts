// Test helper: talk to an emulator's RM with raw frames on a VM's own RM link.
import type { Emulator, RmChannel } from '../../src/emulator.js';
import { decodeRpcFrame, encodeRpcFrame, RpcMsgType, type RpcFrame } from '../../src/rm-rpc/wire/header.js';
import { fragmentMessage } from '../../src/rm-rpc/wire/message.js';
import { view } from '../../src/shared/bytes.js';

export interface RawReply {
  readonly err: number;
  readonly data: Uint8Array;
  readonly frames: RpcFrame[];
}

/** A raw RM session on `vmid`'s link: send requests, collect replies and notifications. */
export class RawRm {
  readonly ch: RmChannel;
  readonly notifications: Array<{ msgId: number; payload: Uint8Array }> = [];
  #seq = 0x100;

  constructor(emu: Emulator, vmid = 3) {
    this.ch = emu.rmChannel(vmid);
  }

  sendFrame(bytes: Uint8Array, push = true): void {
    this.ch.send(bytes, { push });
  }

  /** Send a whole request (fragmented as Linux would) and return its seq. */
  send(msgId: number, payload: Uint8Array = new Uint8Array(0)): number {
    const seq = this.#seq++ & 0xffff;
    const frames = fragmentMessage({ kind: 'request', seq, msgId, payload }, 'rm');
    frames.forEach((f, i) => this.ch.send(f, { push: i === frames.length - 1 }));
    return seq;
  }

  /** Receive frames until the reply to `seq` is complete; notifications are collected on the side. */
  async reply(seq: number): Promise<RawReply> {
    for (;;) {
      const f = decodeRpcFrame((await this.ch.recv()).bytes);
      if (f.msgType === RpcMsgType.NOTIFICATION) {
        this.notifications.push({ msgId: f.msgId, payload: f.payload.slice() });
        continue;
      }
      if (f.msgType !== RpcMsgType.REPLY || f.seq !== seq) continue;
      const frames: RpcFrame[] = [f];
      for (let i = 0; i < f.fragments; i++) frames.push(decodeRpcFrame((await this.ch.recv()).bytes));
      const body = new Uint8Array(frames.reduce((n, x) => n + x.payload.byteLength, 0));
      let off = 0;
      for (const x of frames) {
        body.set(x.payload, off);
        off += x.payload.byteLength;
      }
      return { err: f.errCode, data: body, frames };
    }
  }

  async call(msgId: number, payload?: Uint8Array): Promise<RawReply> {
    return this.reply(this.send(msgId, payload));
  }

  close(): void {
    this.ch.close();
  }
}

/** A 4-byte {u16 vmid, u16 pad} payload. */
export function vmidPayload(vmid: number): Uint8Array {
  const b = new Uint8Array(4);
  view(b).setUint16(0, vmid, true);
  return b;
}

export { encodeRpcFrame };
