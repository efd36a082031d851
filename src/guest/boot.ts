/**
 * The entry every vCPU of a guest VM runs: fetch the image header at the boot PC, recognise a
 * holding-cell image or a guest program by its magic, fetch the rest of the image, and run
 * the matching engine. Bytes that are not one of our images (or a malformed image) are an
 * undefined instruction: the exception escapes the generator and the vCPU crashes, as real
 * hardware jumping into garbage would report it.
 *
 * Reference: DESIGN.md "Guest images"; api.ts `BootGuest`; image-header.ts (the 16-byte header).
 */

import { Esr, GuestException, type BootGuest, type GuestCpu, type GuestImage, type GuestThread } from './api.js';
import { decodeHoldingCellImage } from './holding-cell.js';
import { decodeGuestImageHeader, GUEST_IMAGE_HEADER_SIZE } from './image-header.js';
import { loadGuestProgram } from './program-engine.js';
import { isWireError } from '../shared/wire-error.js';

/**
 * Recognise a complete image (bytes from its first byte, at least its declared length).
 * @returns the image, or `undefined` when the magic is not one of ours
 * @throws WireError when the magic is ours but the rest is malformed
 */
export function loadGuestImage(bytes: Uint8Array): GuestImage | undefined {
  const h = decodeGuestImageHeader(bytes);
  if (h === undefined) return undefined;
  return h.kind === 'holding-cell' ? decodeHoldingCellImage(bytes) : loadGuestProgram(bytes);
}

function undefinedInstruction(cpu: GuestCpu, why: string): GuestException {
  return new GuestException(Esr.UNDEFINED, 0n, `vCPU ${cpu.index} at PC 0x${cpu.entry.toString(16)}: ${why}`);
}

/**
 * Run the image at `cpu.entry` on this vCPU.
 * Ops: `fetch` of 16 bytes at the entry; when the header declares a longer image, one `fetch`
 * of the whole image (either may page-fault; the driver resolves that and resumes us); then
 * the engine's own ops.
 * @throws GuestException Esr.UNDEFINED (FAR 0) out of the generator when the bytes are not a
 * valid image; any exception the driver throws into a fetch also escapes (crash)
 */
export const bootGuest: BootGuest = function* boot(cpu: GuestCpu): GuestThread {
  yield { kind: 'fetch', addr: cpu.entry, len: GUEST_IMAGE_HEADER_SIZE };
  let image: GuestImage | undefined;
  try {
    const header = decodeGuestImageHeader(cpu.fetched);
    if (header === undefined) throw undefinedInstruction(cpu, 'no guest image (unknown magic)');
    if (header.length > GUEST_IMAGE_HEADER_SIZE) yield { kind: 'fetch', addr: cpu.entry, len: header.length };
    image = loadGuestImage(cpu.fetched);
  } catch (e) {
    if (isWireError(e)) throw undefinedInstruction(cpu, `malformed guest image: ${e.message}`);
    throw e;
  }
  if (image === undefined) throw undefinedInstruction(cpu, 'no guest image (unknown magic)');
  yield* image.start(cpu);
};
