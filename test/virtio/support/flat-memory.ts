/**
 * Test support: a GuestMemoryAccess over one flat byte array at a guest base address, with
 * optional "lent" holes, so split-queue tests can lay rings out byte by byte. Anything outside
 * the array is refused as unmapped, a hole as lent, as the VM's accessor would.
 */
import { GuestMemoryError, type GuestMemoryAccess } from '../../../src/virtio/guest-memory.js';

export class FlatMemory implements GuestMemoryAccess {
  readonly bytes: Uint8Array;
  /** [start, end) guest ranges refused as lent. */
  readonly lent: Array<[bigint, bigint]> = [];
  reads = 0;
  writes = 0;

  constructor(
    readonly base: bigint,
    size: number,
  ) {
    this.bytes = new Uint8Array(size);
  }

  probe(gpa: bigint, len: number): void {
    this.#check(gpa, len);
  }

  /** The same memory without `probe`, so that devices fall back to `read`. */
  withoutProbe(): GuestMemoryAccess {
    return { read: (gpa, len) => this.read(gpa, len), write: (gpa, bytes) => this.write(gpa, bytes) };
  }

  #check(gpa: bigint, len: number): number {
    if (len < 0 || gpa < this.base || gpa + BigInt(len) > this.base + BigInt(this.bytes.length)) {
      throw new GuestMemoryError('unmapped', gpa, len, 'outside the flat test memory');
    }
    for (const [s, e] of this.lent) if (gpa < e && s < gpa + BigInt(len)) throw new GuestMemoryError('lent', gpa, len, 'a lent hole');
    return Number(gpa - this.base);
  }

  read(gpa: bigint, len: number): Uint8Array {
    const at = this.#check(gpa, len);
    this.reads++;
    return this.bytes.slice(at, at + len);
  }

  write(gpa: bigint, bytes: Uint8Array): void {
    const at = this.#check(gpa, bytes.length);
    this.writes++;
    this.bytes.set(bytes, at);
  }

  /** Put hand-typed bytes at `gpa`. */
  put(gpa: bigint, bytes: readonly number[] | Uint8Array): void {
    this.bytes.set(bytes, Number(gpa - this.base));
  }

  /** The bytes at [gpa, gpa + len). */
  at(gpa: bigint, len: number): number[] {
    const o = Number(gpa - this.base);
    return [...this.bytes.subarray(o, o + len)];
  }
}
