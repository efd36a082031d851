/**
 * Payload codec kit for RM RPC messages: the `PayloadCodec` interface, a bounds-checked reader
 * that throws the `WireError` the real RM would answer with, a fixed-size writer, and the list
 * helpers of rm-rpc.md §10.
 *
 * Layer: rm-rpc/wire (pure; no I/O, no state). Everything here works on the payload only: the
 * bytes after the 8-byte RPC header for requests and notifications, and the bytes after the
 * u32 err_code for replies (header.ts and message.ts deal with framing).
 *
 * List encoding (§10), the same for every "u16 count + u16 reserved" list:
 *
 *   +0        +2          +4                       +4+count*size   (next list at align4)
 *   ┌─────────┬───────────┬────────────────────────┬──────┐
 *   │ count   │ reserved  │ count × entry          │ pad  │ next list header …
 *   └─────────┴───────────┴────────────────────────┴──────┘
 *
 * Reading a list where `left` bytes remain (the RM's `rm_rpc_read_list`, in this order):
 *   left == 0                     → the list is absent: empty (OK)
 *   1 ≤ left ≤ 3                  → MSG_INVALID ('list-header')
 *   count > max                   → NORESOURCE  ('list-count'; max 512 memparcel, 30 IPA)
 *   count × size > left − 4       → MSG_INVALID ('list-overrun')
 * Memparcel messages also reject bytes left after their last list (MSG_INVALID, 'long').
 *
 * Cursors are local: a `Reader`/`Writer` is created inside one decode/encode call and never
 * escapes it (STYLE.md rule 2).
 */
import { WireError, type WireErrorReason, type WireRmError } from '../../shared/wire-error.js';
import { align4, assertU8, assertU16, assertU32, assertU64 } from '../../shared/bytes.js';

/** A pure codec for one payload shape. `decode` throws only `WireError`; `encode` throws only `RangeError`. */
export interface PayloadCodec<T> {
  encode(v: T): Uint8Array;
  decode(b: Uint8Array): T;
}

/** The record of a zero-length payload. */
export type Empty = Record<string, never>;

/** A payload kept as raw bytes (messages the RM always answers UNIMPLEMENTED). */
export interface RawBytes {
  readonly bytes: Uint8Array;
}

/** Largest entry count of a memparcel list (`MAX_LIST_ENTRIES`, rm-rpc.md §16.2). */
export const MEMPARCEL_LIST_MAX = 512;
/** Largest entry count of an IPA_RESERVE list (rm-rpc.md §12.8). */
export const IPA_LIST_MAX = 30;
/** "No maximum": lists in replies and notifications, which the client reads without a cap. */
export const NO_LIST_MAX = Number.POSITIVE_INFINITY;

/**
 * Throw the WireError for a malformed payload. `rmError` is what the real RM answers with;
 * it is always set explicitly so that handlers can forward `e.detail.rmError` unchanged.
 */
export function wireFail(reason: WireErrorReason, what: string, offset: number | undefined, rmError: WireRmError): never {
  throw new WireError(reason, offset === undefined ? { what, rmError } : { what, offset, rmError });
}

/** Exact-length rule: any other length → MSG_INVALID ('short' or 'long'). */
export function expectLength(b: Uint8Array, n: number, what: string): void {
  if (b.byteLength !== n) {
    wireFail(b.byteLength < n ? 'short' : 'long', `${what}: ${b.byteLength} bytes, expected ${n}`, Math.min(b.byteLength, n), 'MSG_INVALID');
  }
}

/** Minimum-length rule: fewer bytes → MSG_INVALID ('short'). */
export function expectAtLeast(b: Uint8Array, n: number, what: string): void {
  if (b.byteLength < n) wireFail('short', `${what}: ${b.byteLength} bytes, need at least ${n}`, b.byteLength, 'MSG_INVALID');
}

/** Bytes a list of `n` entries of `entrySize` bytes occupies, header and padding included. */
export function listSize(n: number, entrySize: number): number {
  return 4 + align4(n * entrySize);
}

// ---- little-endian byte access -------------------------------------------------------------
// Plain index arithmetic instead of DataView: creating a DataView over a small, freshly
// allocated Uint8Array forces V8 to move it off-heap, which costs ~0.3–0.7 µs per message
// (10–25× the cost of the field accesses themselves). Callers check bounds first.

/** u8 at `o`. */
export const rd8 = (b: Uint8Array, o: number): number => b[o]!;
/** Little-endian u16 at `o`. */
export const rd16 = (b: Uint8Array, o: number): number => b[o]! | (b[o + 1]! << 8);
/** Little-endian u32 at `o`. */
export const rd32 = (b: Uint8Array, o: number): number => (b[o]! | (b[o + 1]! << 8) | (b[o + 2]! << 16) | (b[o + 3]! << 24)) >>> 0;
/** Little-endian s32 at `o`. */
export const rdI32 = (b: Uint8Array, o: number): number => b[o]! | (b[o + 1]! << 8) | (b[o + 2]! << 16) | (b[o + 3]! << 24);
/** Little-endian u64 at `o`. One BigInt allocation when the value fits 53 bits (addresses, sizes). */
export function rd64(b: Uint8Array, o: number): bigint {
  const lo = rd32(b, o);
  const hi = rd32(b, o + 4);
  return hi < 0x20_0000 ? BigInt(hi * 0x1_0000_0000 + lo) : (BigInt(hi) << 32n) | BigInt(lo);
}

function wr32(b: Uint8Array, o: number, x: number): void {
  b[o] = x;
  b[o + 1] = x >>> 8;
  b[o + 2] = x >>> 16;
  b[o + 3] = x >>> 24;
}

/**
 * Bounds-checked little-endian reader over one payload. Every short read throws
 * WireError('short', MSG_INVALID). Create one per decode call.
 */
export class Reader {
  /** Current offset. May pass the end after a list whose entries are not 4-byte multiples. */
  off: number;

  constructor(
    readonly b: Uint8Array,
    /** Message name for error text. */
    readonly what: string,
    off = 0,
  ) {
    this.off = off;
  }

  /** Bytes left after the cursor (negative if the cursor passed the end). */
  get left(): number {
    return this.b.byteLength - this.off;
  }

  /** Throw MSG_INVALID unless `n` more bytes are present. */
  need(n: number, field: string): void {
    if (this.left < n) wireFail('short', `${this.what}: ${field} needs ${n} bytes, ${Math.max(this.left, 0)} left`, this.off, 'MSG_INVALID');
  }

  u8(field = 'u8'): number {
    this.need(1, field);
    return this.b[this.off++]!;
  }
  u16(field = 'u16'): number {
    this.need(2, field);
    const x = rd16(this.b, this.off);
    this.off += 2;
    return x;
  }
  u32(field = 'u32'): number {
    this.need(4, field);
    const x = rd32(this.b, this.off);
    this.off += 4;
    return x;
  }
  i32(field = 'i32'): number {
    this.need(4, field);
    const x = rdI32(this.b, this.off);
    this.off += 4;
    return x;
  }
  u64(field = 'u64'): bigint {
    this.need(8, field);
    const x = rd64(this.b, this.off);
    this.off += 8;
    return x;
  }
  /** A copy of the next `n` bytes (records never alias the caller's buffer). */
  bytes(n: number, field = 'bytes'): Uint8Array {
    this.need(n, field);
    const x = this.b.slice(this.off, this.off + n);
    this.off += n;
    return x;
  }
  /** Skip `n` bytes that the RM ignores (padding without a check). */
  skip(n: number, field = 'padding'): void {
    this.need(n, field);
    this.off += n;
  }
  /** `n` bytes that must be zero (a stated check) → else `rmError` ('reserved'). */
  zeros(n: number, field: string, rmError: WireRmError = 'MSG_INVALID'): void {
    this.need(n, field);
    for (let i = 0; i < n; i++) {
      if (this.b[this.off + i] !== 0) wireFail('reserved', `${this.what}: ${field} must be zero`, this.off + i, rmError);
    }
    this.off += n;
  }

  /**
   * Read one "u16 count, u16 reserved, entries" list by the rules of §10 (see the file header)
   * and move the cursor to the next 4-byte boundary after it.
   * @param max  NORESOURCE above this count (`NO_LIST_MAX` for client-side decoders)
   * @param read decodes one entry at a byte offset into `this.b`; bounds are already checked
   */
  list<T>(entrySize: number, max: number, field: string, read: (b: Uint8Array, off: number) => T): T[] {
    const left = this.left;
    if (left === 0) return []; // the buffer ends exactly where the header belongs: empty list
    if (left < 4) wireFail('list-header', `${this.what}: ${field} list header with ${Math.max(left, 0)} bytes`, this.off, 'MSG_INVALID');
    const count = rd16(this.b, this.off);
    if (count > max) wireFail('list-count', `${this.what}: ${field} list of ${count} entries, max ${max}`, this.off, 'NORESOURCE');
    const start = this.off + 4;
    const size = count * entrySize;
    // INVARIANT: after this check every entry read stays inside the buffer.
    if (size > left - 4) wireFail('list-overrun', `${this.what}: ${field} list of ${count} entries runs past the end`, start, 'MSG_INVALID');
    const items = new Array<T>(count);
    for (let i = 0; i < count; i++) items[i] = read(this.b, start + i * entrySize);
    this.off = start + align4(size);
    return items;
  }

  /**
   * Read a "u32 count, entries" array (reply layouts such as VM_GET_PEERS). No maximum: the
   * count is only bounded by the bytes present (overrun → MSG_INVALID).
   */
  countedU32<T>(entrySize: number, field: string, read: (b: Uint8Array, off: number) => T): T[] {
    const count = this.u32(`${field} count`);
    const size = count * entrySize;
    // INVARIANT: checked before allocating, so a hostile count cannot allocate a huge array.
    if (size > this.left) wireFail('list-overrun', `${this.what}: ${field} array of ${count} entries runs past the end`, this.off, 'MSG_INVALID');
    const items = new Array<T>(count);
    for (let i = 0; i < count; i++) items[i] = read(this.b, this.off + i * entrySize);
    this.off += size;
    return items;
  }

  /** Exact end: bytes left over (or a cursor past the end) → MSG_INVALID ('long'). */
  end(): void {
    if (this.left !== 0) wireFail(this.left > 0 ? 'long' : 'short', `${this.what}: ${this.left} bytes left after the last field`, this.off, 'MSG_INVALID');
  }
}

/**
 * Fixed-size little-endian writer. The caller computes the exact size first; padding and
 * reserved fields stay 0 because the buffer starts zeroed. Range guards throw RangeError.
 */
export class Writer {
  readonly out: Uint8Array;
  off = 0;

  constructor(size: number) {
    this.out = new Uint8Array(size);
  }

  u8(x: number, what = 'u8'): this {
    assertU8(x, what);
    this.out[this.off++] = x;
    return this;
  }
  u16(x: number, what = 'u16'): this {
    assertU16(x, what);
    this.out[this.off] = x;
    this.out[this.off + 1] = x >>> 8;
    this.off += 2;
    return this;
  }
  u32(x: number, what = 'u32'): this {
    assertU32(x, what);
    wr32(this.out, this.off, x);
    this.off += 4;
    return this;
  }
  i32(x: number, what = 'i32'): this {
    if (!Number.isInteger(x) || x < -0x8000_0000 || x > 0x7fff_ffff) throw new RangeError(`${what} must be an s32, got ${x}`);
    wr32(this.out, this.off, x);
    this.off += 4;
    return this;
  }
  u64(x: bigint, what = 'u64'): this {
    assertU64(x, what);
    if (x <= 0x1f_ffff_ffff_ffffn) {
      // Fits a double exactly: one conversion, no intermediate BigInts.
      const n = Number(x);
      wr32(this.out, this.off, n >>> 0);
      wr32(this.out, this.off + 4, Math.floor(n / 0x1_0000_0000));
    } else {
      wr32(this.out, this.off, Number(x & 0xffff_ffffn));
      wr32(this.out, this.off + 4, Number(x >> 32n));
    }
    this.off += 8;
    return this;
  }
  bytes(b: Uint8Array): this {
    this.out.set(b, this.off);
    this.off += b.byteLength;
    return this;
  }
  /** Leave `n` zero bytes (padding, reserved). */
  skip(n: number): this {
    this.off += n;
    return this;
  }
  /** Move to the next 4-byte boundary (zero padding). */
  align(): this {
    this.off = align4(this.off);
    return this;
  }

  /** Write a "u16 count, u16 reserved, entries" list, padded to 4 bytes. */
  list<T>(items: readonly T[], entrySize: number, field: string, write: (w: Writer, item: T) => void, reserved = 0): this {
    this.u16(items.length, `${field} count`);
    this.u16(reserved, `${field} reserved`);
    const start = this.off;
    for (const item of items) write(this, item);
    if (this.off !== start + items.length * entrySize) throw new Error(`internal: ${field} entry size mismatch`);
    return this.align();
  }

  /** The finished payload. */
  done(): Uint8Array {
    if (this.off !== this.out.byteLength) throw new Error(`internal: wrote ${this.off} of ${this.out.byteLength} bytes`);
    return this.out;
  }
}

/** The single frozen empty record. */
export const EMPTY_RECORD: Empty = Object.freeze({}) as Empty;

/**
 * Zero-length request payload, **strict**: any byte → MSG_INVALID ('long'). The RM checks
 * `len != 0` for every zero-length request it handles (VM_GET_VMID, VM_GET_OWNER,
 * VM_GET_PEERS, VM_HOST_GET_TYPE, FW_MILESTONE).
 */
export const EMPTY: PayloadCodec<Empty> = {
  encode: () => new Uint8Array(0),
  decode(b) {
    if (b.byteLength !== 0) wireFail('long', `empty payload with ${b.byteLength} bytes`, 0, 'MSG_INVALID');
    return EMPTY_RECORD;
  },
};

/**
 * Standard reply (no data after err_code), **lenient**: extra bytes are ignored, as Linux
 * ignores the data of every reply it does not parse (rm-rpc.md §18).
 */
export const STANDARD_REPLY: PayloadCodec<Empty> = {
  encode: () => new Uint8Array(0),
  decode: () => EMPTY_RECORD,
};

/** Raw passthrough for messages whose layout is unknown or irrelevant (always UNIMPLEMENTED). */
export const RAW: PayloadCodec<RawBytes> = {
  encode: (v) => v.bytes.slice(),
  decode: (b) => ({ bytes: b.slice() }),
};

/**
 * A codec for a record that is exactly one little-endian u32 (`{ [key]: number }`).
 * `exact` false: at least 4 bytes, the rest ignored (client-side reply readers).
 */
export function u32Codec<K extends string>(key: K, what: string, exact: boolean): PayloadCodec<{ readonly [P in K]: number }> {
  return {
    encode(v) {
      const x = v[key];
      assertU32(x, key);
      const out = new Uint8Array(4);
      wr32(out, 0, x);
      return out;
    },
    decode(b) {
      if (exact) expectLength(b, 4, what);
      else expectAtLeast(b, 4, what);
      return { [key]: rd32(b, 0) } as { readonly [P in K]: number };
    },
  };
}

/**
 * A codec for "u16 field + u16 padding", 4 bytes exactly (console OPEN/CLOSE/FLUSH). One
 * 4-byte allocation, two byte stores.
 */
export function u16PadCodec<K extends string>(key: K, what: string): PayloadCodec<{ readonly [P in K]: number }> {
  return {
    encode(v) {
      const x = v[key];
      assertU16(x, key);
      const out = new Uint8Array(4);
      out[0] = x;
      out[1] = x >>> 8;
      return out;
    },
    decode(b) {
      if (b.byteLength !== 4) expectLength(b, 4, what);
      return { [key]: b[0]! | (b[1]! << 8) } as { readonly [P in K]: number };
    },
  };
}
