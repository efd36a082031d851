/**
 * The entry every vCPU of a guest VM runs: fetch the image header at the boot PC, recognise a
 * holding-cell image or a guest program by its magic, fetch the rest of the image, and run
 * the matching engine. Bytes that are not one of our images (or a malformed image) are an
 * undefined instruction: the exception escapes the generator and the vCPU crashes, as real
 * hardware jumping into garbage would report it.
 *
 * Reference: DESIGN.md "Guest images"; api.ts `BootGuest`; image-header.ts (the 16-byte header).
 */

import { Esr, GuestException, type BootGuest, type GuestCpu, type GuestImage, type GuestOp, type GuestThread } from './api.js';
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
export const bootGuest: BootGuest = (cpu: GuestCpu): GuestThread => new BootThread(cpu);

/** The fetches and the recognition of the image: what runs before its engine. */
function* loadImage(cpu: GuestCpu): Generator<GuestOp, GuestImage, bigint> {
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
  return image;
}

/**
 * `loadImage`, then `yield* image.start(cpu)`, as one engine: the loader's operations, then
 * the image engine's, each call handed to whichever runs (the engine's first `next` takes no
 * value, as `yield*` starts it). A hand-written iterator rather than a generator delegating
 * with `yield*`: every operation of a guest would otherwise resume one more generator.
 */
class BootThread implements GuestThread {
  readonly #cpu: GuestCpu;
  #loader: Generator<GuestOp, GuestImage, bigint> | undefined;
  #engine: GuestThread | undefined;

  constructor(cpu: GuestCpu) {
    this.#cpu = cpu;
    this.#loader = loadImage(cpu);
  }

  next(value?: bigint): IteratorResult<GuestOp, void> {
    const engine = this.#engine;
    if (engine !== undefined) return engine.next(value as bigint);
    const loader = this.#loader;
    if (loader === undefined) return DONE;
    return this.#loaded(() => loader.next(value as bigint));
  }

  throw(e: unknown): IteratorResult<GuestOp, void> {
    const engine = this.#engine;
    if (engine !== undefined) return engine.throw(e);
    const loader = this.#loader;
    if (loader === undefined) throw e;
    return this.#loaded(() => loader.throw(e));
  }

  return(value: void): IteratorResult<GuestOp, void> {
    const engine = this.#engine;
    if (engine !== undefined) return engine.return(value);
    const loader = this.#loader;
    this.#loader = undefined;
    loader?.return(undefined as unknown as GuestImage);
    return DONE;
  }

  [Symbol.iterator](): GuestThread {
    return this;
  }

  /** Resume the loader; once it has the image, start the image's engine. */
  #loaded(resume: () => IteratorResult<GuestOp, GuestImage>): IteratorResult<GuestOp, void> {
    let r: IteratorResult<GuestOp, GuestImage>;
    try {
      r = resume();
    } catch (e) {
      this.#loader = undefined;
      throw e;
    }
    if (r.done !== true) return r;
    this.#loader = undefined;
    const engine = r.value.start(this.#cpu);
    this.#engine = engine;
    return engine.next();
  }
}

const DONE: IteratorResult<GuestOp, void> = { done: true, value: undefined };
