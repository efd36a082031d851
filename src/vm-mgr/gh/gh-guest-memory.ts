/**
 * A gh_ VM's guest memory as a device in the VMM reaches it (VmHandle.guestMemory, used by the
 * SCMI virtio device): a guest physical address goes through the VM's user-memory region to the
 * pinned host page behind it, which is read or written through the host's own stage 2, as the
 * VMM's own mapping of that memory would be. Only shared regions (SET_USER_MEM_REGION) may be
 * touched: a lent region (ANDROID_LEND_USER_MEM) is refused whether or not the RM has taken the
 * pages yet, so that a device never depends on timing, and an address no region covers is
 * refused as unmapped.
 *
 * Reference: README.md §Dialects (gh_ memory model: host user memory, shared or lent),
 * vmm-flows.md §6.7 (a shared page is coherent between host and guest; a lent one is not the
 * host's), scmi-virtio.md §11 (ring memory must be shared). The v17 counterpart is
 * ../guest-memory-access.ts. Every access checks the whole range before touching any byte.
 */
import type { HostHypercalls } from '../../hyp/host-api.js';
import { GuestMemoryError, type GuestMemoryAccess } from '../../virtio/guest-memory.js';
import { PAGE_SIZE } from '../page-allocator.js';

/** Guest physical addresses end below 2^52 (the hypervisor's IPA limit). */
const GPA_LIMIT = 2 ** 52;

/** What the accessor needs of a region. */
export interface GhMemoryRegion {
  readonly gpa: bigint;
  readonly size: bigint;
  readonly lend: boolean;
  readonly pinned: { readonly pas: readonly number[] };
}

/** What the accessor needs of the VM. */
export interface GhGuestMemoryVm {
  readonly hyp: HostHypercalls;
  regionAt(gpa: bigint): GhMemoryRegion | undefined;
}

const hex = (a: number): string => `0x${a.toString(16)}`;

export class GhGuestMemory implements GuestMemoryAccess {
  readonly #vm: GhGuestMemoryVm;

  constructor(vm: GhGuestMemoryVm) {
    this.#vm = vm;
  }

  read(gpa: bigint, len: number): Uint8Array {
    const pieces = this.#pieces(gpa, len, 'read');
    const out = new Uint8Array(len);
    for (const p of pieces) out.set(this.#do(p, 'read', () => this.#vm.hyp.readMemory(p.pa, p.len)), p.at);
    return out;
  }

  write(gpa: bigint, bytes: Uint8Array): void {
    for (const p of this.#pieces(gpa, bytes.length, 'write')) {
      this.#do(p, 'write', () => this.#vm.hyp.writeMemory(p.pa, bytes.subarray(p.at, p.at + p.len)));
    }
  }

  probe(gpa: bigint, len: number, kind: 'read' | 'write'): void {
    this.#pieces(gpa, len, kind);
  }

  /** One host access; a refusal of the host's stage 2 becomes GuestMemoryError 'lent'. */
  #do<T>(p: Piece, kind: 'read' | 'write', op: () => T): T {
    try {
      return op();
    } catch (err) {
      if (this.#vm.hyp.probeMemory(p.pa, p.len, kind) !== undefined) throw held(p.gpa, p.len);
      throw err;
    }
  }

  /** Split `[gpa, gpa + len)` into per-page pieces, checking every one before any is touched. */
  #pieces(gpa: bigint, len: number, kind: 'read' | 'write'): Piece[] {
    if (!Number.isSafeInteger(len) || len < 0) throw new GuestMemoryError('bounds', gpa, 0, `length ${len} is not a byte count`);
    const start = Number(gpa);
    if (gpa < 0n || start >= GPA_LIMIT || start + len > GPA_LIMIT) {
      throw new GuestMemoryError('bounds', gpa, len, 'the range is outside the guest physical address space (below 2^52)');
    }
    const out: Piece[] = [];
    let at = 0;
    while (at < len) {
      const addr = start + at;
      const inPage = addr % PAGE_SIZE;
      const n = Math.min(PAGE_SIZE - inPage, len - at);
      const r = this.#vm.regionAt(BigInt(addr));
      if (r === undefined) throw new GuestMemoryError('unmapped', BigInt(addr), n, 'no user-memory region covers this address');
      if (r.lend) {
        throw new GuestMemoryError('lent', BigInt(addr), n, `the region at ${hex(Number(r.gpa))} is lent to the guest (ANDROID_LEND_USER_MEM); a device may only use shared regions`);
      }
      const pa = r.pinned.pas[Math.floor((addr - Number(r.gpa)) / PAGE_SIZE)]!;
      if (this.#vm.hyp.probeMemory(pa + inPage, n, kind) !== undefined) throw held(BigInt(addr), n);
      out.push({ gpa: BigInt(addr), pa: pa + inPage, len: n, at });
      at += n;
    }
    return out;
  }
}

interface Piece {
  readonly gpa: bigint;
  readonly pa: number;
  readonly len: number;
  /** Offset in the caller's buffer. */
  readonly at: number;
}

function held(gpa: bigint, len: number): GuestMemoryError {
  return new GuestMemoryError('lent', gpa, len, "the page is held by the guest exclusively: the host's stage 2 refuses the access");
}
