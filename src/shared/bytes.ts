/**
 * Byte helpers shared by every codec: views over Uint8Array slices, hex formatting, and
 * range guards for encoders. Little-endian everywhere (reference README, "Byte order").
 */

/** A DataView over exactly the bytes of `u8` (never `u8.buffer` alone). */
export function view(u8: Uint8Array): DataView {
  return new DataView(u8.buffer, u8.byteOffset, u8.byteLength);
}

/** Hex string of `bytes`, two lowercase digits a byte, separated by `sep`. */
export function toHex(bytes: ArrayLike<number>, sep = ' '): string {
  let s = '';
  for (let i = 0; i < bytes.length; i++) {
    if (i > 0) s += sep;
    s += (bytes[i]! & 0xff).toString(16).padStart(2, '0');
  }
  return s;
}

/** Parse a hex string (whitespace ignored) into bytes. */
export function fromHex(hex: string): Uint8Array {
  const clean = hex.replace(/\s+/g, '');
  if (clean.length % 2 !== 0 || /[^0-9a-fA-F]/.test(clean)) throw new TypeError(`bad hex string: ${hex}`);
  const out = new Uint8Array(clean.length / 2);
  for (let i = 0; i < out.length; i++) out[i] = parseInt(clean.slice(i * 2, i * 2 + 2), 16);
  return out;
}

/** `0x` + uppercase hex, for log and trace text. */
export function hex(n: number | bigint, width = 0): string {
  return `0x${n.toString(16).toUpperCase().padStart(width, '0')}`;
}

/** Round up to a multiple of 4. */
export function align4(n: number): number {
  return (n + 3) & ~3;
}

/** Concatenate byte arrays. */
export function concatBytes(parts: readonly Uint8Array[]): Uint8Array {
  let total = 0;
  for (const p of parts) total += p.byteLength;
  const out = new Uint8Array(total);
  let off = 0;
  for (const p of parts) {
    out.set(p, off);
    off += p.byteLength;
  }
  return out;
}

function checkInt(v: number, bits: number, what: string): void {
  if (!Number.isInteger(v) || v < 0 || v > 2 ** bits - 1) throw new RangeError(`${what} must be a u${bits}, got ${v}`);
}
/** Encoder guard: `v` fits an unsigned 8-bit field. */
export const assertU8 = (v: number, what = 'value'): void => checkInt(v, 8, what);
/** Encoder guard: `v` fits an unsigned 16-bit field. */
export const assertU16 = (v: number, what = 'value'): void => checkInt(v, 16, what);
/** Encoder guard: `v` fits an unsigned 32-bit field. */
export const assertU32 = (v: number, what = 'value'): void => checkInt(v, 32, what);
/** Encoder guard: `v` fits an unsigned 64-bit field. */
export function assertU64(v: bigint, what = 'value'): void {
  if (v < 0n || v > 0xffff_ffff_ffff_ffffn) throw new RangeError(`${what} must be a u64, got ${v}`);
}
