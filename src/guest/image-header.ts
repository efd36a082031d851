/**
 * The 16-byte header every emulator guest image starts with, and the two magics that tell a
 * holding-cell image from a guest program. Pure codec over bytes, little-endian.
 *
 *   offset  size  field
 *   0       8     magic: "GEMUHOLD" (holding cell) or "GEMUPROG" (guest program), ASCII
 *   8       4     version (u32 LE); both formats are at version 1
 *   12      4     image length in bytes, header included (u32 LE)
 *
 * Reference: DESIGN.md "Guest images"; the byte-by-byte layouts are in docs/guest-images.md.
 */

import { view } from '../shared/bytes.js';
import { WireError } from '../shared/wire-error.js';

/** Bytes the boot code fetches first: enough for magic, version and length. */
export const GUEST_IMAGE_HEADER_SIZE = 16;

/** Largest image length a header may declare (16 MiB); longer ones are not an image. */
export const GUEST_IMAGE_MAX_LENGTH = 16 * 1024 * 1024;

/** "GEMUHOLD": a holding-cell-compatible guest image. */
export const HOLDING_CELL_MAGIC: readonly number[] = Object.freeze([0x47, 0x45, 0x4d, 0x55, 0x48, 0x4f, 0x4c, 0x44]);
/** "GEMUPROG": a scripted guest program image. */
export const GUEST_PROGRAM_MAGIC: readonly number[] = Object.freeze([0x47, 0x45, 0x4d, 0x55, 0x50, 0x52, 0x4f, 0x47]);

/** Which format the magic names. */
export type GuestImageKind = 'holding-cell' | 'program';

/** A decoded common header. */
export type GuestImageHeader = Readonly<{ kind: GuestImageKind; version: number; length: number }>;

function magicIs(bytes: Uint8Array, magic: readonly number[]): boolean {
  for (let i = 0; i < magic.length; i++) if (bytes[i] !== magic[i]) return false;
  return true;
}

/**
 * Decode the common header at the start of `bytes`.
 * @returns the header, or `undefined` when the magic is neither of ours (not an image)
 * @throws WireError 'short' with fewer than 16 bytes, 'bad-value' when the declared length is
 * below 16 or above GUEST_IMAGE_MAX_LENGTH
 */
export function decodeGuestImageHeader(bytes: Uint8Array): GuestImageHeader | undefined {
  if (bytes.byteLength < GUEST_IMAGE_HEADER_SIZE) throw new WireError('short', { what: 'guest image header', offset: bytes.byteLength });
  const kind: GuestImageKind | undefined = magicIs(bytes, HOLDING_CELL_MAGIC)
    ? 'holding-cell'
    : magicIs(bytes, GUEST_PROGRAM_MAGIC)
      ? 'program'
      : undefined;
  if (kind === undefined) return undefined;
  const v = view(bytes);
  const length = v.getUint32(12, true);
  if (length < GUEST_IMAGE_HEADER_SIZE || length > GUEST_IMAGE_MAX_LENGTH) {
    throw new WireError('bad-value', { what: `guest image length ${length}`, offset: 12 });
  }
  return { kind, version: v.getUint32(8, true), length };
}

/** Write the common header into the first 16 bytes of `out`. */
export function encodeGuestImageHeader(out: Uint8Array, kind: GuestImageKind, version: number, length: number): void {
  out.set(kind === 'holding-cell' ? HOLDING_CELL_MAGIC : GUEST_PROGRAM_MAGIC, 0);
  const v = view(out);
  v.setUint32(8, version, true);
  v.setUint32(12, length, true);
}
