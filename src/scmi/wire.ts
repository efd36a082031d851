/**
 * Little-endian parameter reading and return-value writing for SCMI handlers
 * (scmi-virtio.md §5 "Request buffer", §9 message tables).
 *
 * Length rule (docs/decisions.md S4): parameters shorter than a message needs → PROTOCOL_ERROR;
 * bytes beyond what a message needs are ignored. A handler reads through `ParamReader`, whose
 * reads throw `ScmiParamError` past the end; the backend turns that into PROTOCOL_ERROR.
 *
 * Names: `u8 name[16]` (attributes replies) and `u8 name[64]` (NAME_GET) are written NUL-padded,
 * truncated to leave at least one NUL (15 or 63 characters).
 */
import type { ScmiReply, ScmiStatusCode } from './api.js';
import { ScmiStatus } from './api.js';

/** Parameters too short for the message (→ PROTOCOL_ERROR). */
export class ScmiParamError extends Error {
  override readonly name = 'ScmiParamError';
  readonly status: ScmiStatusCode = ScmiStatus.PROTOCOL_ERROR;
}

/** Sequential little-endian reader over a request's parameters. */
export class ParamReader {
  private off = 0;

  // Byte loads, not a DataView: see PayloadWriter.
  constructor(private readonly params: Uint8Array) {}

  /** Parameter bytes in the request. */
  get length(): number {
    return this.params.length;
  }

  private take(n: number): number {
    const at = this.off;
    if (at + n > this.params.length) {
      throw new ScmiParamError(`parameters: need ${at + n} bytes, have ${this.params.length}`);
    }
    this.off = at + n;
    return at;
  }

  u32(): number {
    return this.s32() >>> 0;
  }

  s32(): number {
    const at = this.take(4);
    const p = this.params;
    return p[at]! | (p[at + 1]! << 8) | (p[at + 2]! << 16) | (p[at + 3]! << 24);
  }

  /** A u64 sent as u32 low, u32 high (rates), as a bigint. */
  u64(): bigint {
    const lo = this.u32();
    const hi = this.u32();
    return (BigInt(hi) << 32n) | BigInt(lo);
  }
}

/** Names fields: u8 name[16] and the extended u8 name[64]. */
export const SHORT_NAME_BYTES = 16;
export const LONG_NAME_BYTES = 64;

/** Little-endian writer for a reply payload of a known size. */
export class PayloadWriter {
  readonly bytes: Uint8Array;
  private off = 0;

  // Byte stores, not a DataView: a small typed array lives on the JS heap until its `.buffer`
  // is asked for, which costs an ArrayBuffer allocation per reply. Writing past the end throws
  // RangeError, as a DataView store would.
  constructor(size: number) {
    this.bytes = new Uint8Array(size);
  }

  private room(n: number): number {
    const at = this.off;
    if (at + n > this.bytes.length) throw new RangeError(`PayloadWriter: ${at + n} bytes do not fit in ${this.bytes.length}`);
    this.off = at + n;
    return at;
  }

  u8(v: number): this {
    this.bytes[this.room(1)] = v;
    return this;
  }

  u16(v: number): this {
    const at = this.room(2);
    const x = v >>> 0;
    this.bytes[at] = x;
    this.bytes[at + 1] = x >>> 8;
    return this;
  }

  u32(v: number): this {
    const at = this.room(4);
    const x = v >>> 0;
    const b = this.bytes;
    b[at] = x;
    b[at + 1] = x >>> 8;
    b[at + 2] = x >>> 16;
    b[at + 3] = x >>> 24;
    return this;
  }

  s32(v: number): this {
    return this.u32(v | 0);
  }

  /** A u64 as u32 low, u32 high (`v` is a non-negative safe integer or bigint). */
  u64(v: number | bigint): this {
    const b = BigInt(v);
    this.u32(Number(b & 0xffff_ffffn));
    this.u32(Number((b >> 32n) & 0xffff_ffffn));
    return this;
  }

  /** A NUL-padded name field of `size` bytes; at most size − 1 characters are kept. */
  name(s: string, size: number): this {
    const n = Math.min(s.length, size - 1);
    for (let i = 0; i < n; i++) this.bytes[this.off + i] = s.charCodeAt(i) & 0xff;
    this.off += size;
    return this;
  }

  /** Bytes written so far (a writer is expected to be filled exactly). */
  get written(): number {
    return this.off;
  }
}

/** A SUCCESS reply with the given payload (or none). */
export function ok(payload?: Uint8Array): ScmiReply {
  return payload ? { status: ScmiStatus.SUCCESS, payload } : { status: ScmiStatus.SUCCESS };
}

/** An error reply (header and status only on the wire). */
export function fail(status: ScmiStatusCode): ScmiReply {
  return { status };
}

/** A SUCCESS reply carrying one u32. */
export function okU32(v: number): ScmiReply {
  return ok(new PayloadWriter(4).u32(v).bytes);
}
