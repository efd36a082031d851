/**
 * Test support: the host's own SCMI requests (the trusted agent 1 of `emu.scmi`), with request
 * bytes built by hand at the SCMI header's bit positions (scmi-virtio.md §6: message_id 7:0,
 * message_type 9:8, protocol_id 17:10, token 27:18) and the reply split at §5's offsets (header,
 * s32 status, u32 return values).
 */
import type { Emulator } from '../../../../src/emulator.js';

export interface HostReply {
  readonly header: number;
  readonly status: number;
  readonly words: number[];
}

/** One request from the host agent: protocol, message, u32 parameters. */
export function hostCall(emu: Emulator, protocolId: number, messageId: number, params: readonly number[] = []): HostReply {
  const req = new Uint8Array(4 + 4 * params.length);
  const v = new DataView(req.buffer);
  v.setUint32(0, (messageId | (protocolId << 10)) >>> 0, true);
  params.forEach((p, i) => v.setUint32(4 + 4 * i, p >>> 0, true));
  const r = emu.scmi.dispatch(emu.scmi.host, req);
  const rv = new DataView(r.buffer, r.byteOffset, r.byteLength);
  const words: number[] = [];
  for (let off = 8; off + 4 <= r.length; off += 4) words.push(rv.getUint32(off, true));
  return { header: rv.getUint32(0, true), status: rv.getInt32(4, true), words };
}

/** A host request that must succeed; returns the return-value words. */
export function hostOk(emu: Emulator, protocolId: number, messageId: number, params: readonly number[] = []): number[] {
  const r = hostCall(emu, protocolId, messageId, params);
  if (r.status !== 0) throw new Error(`host SCMI 0x${protocolId.toString(16)}/0x${messageId.toString(16)} failed with status ${r.status}`);
  return r.words;
}
