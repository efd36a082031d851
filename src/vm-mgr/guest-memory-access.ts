/**
 * The VM's guest memory as a device in the VMM reaches it (VmHandle.guestMemory): a guest
 * physical address goes through the VM's MAP_MEM binding to the guest-memory file's page and is
 * read or written through the host's own stage 2, exactly as the VMM's mmap of that file would.
 * Only memory shared with the host may be touched: a binding mapped with FORCE_SHARE. A lent
 * binding (FORCE_LEND, or DEFAULT, which v17 treats as lend) is refused even where the guest has
 * not touched the page yet, so that a device never depends on the guest's access pattern, and it
 * never reclaims anything from the guest (the VMM's mmap would).
 *
 * Reference: uapi.md §8.11 (lend vs share; "Host visibility": shared pages stay coherent between
 * host and guest), §6.2 MAP_MEM (bindings; QUIRK K18/K19 ranges beyond the file), §4 (access
 * field), scmi-virtio.md §11 (ring memory must be shared).
 *
 * Choices: a read of a file page that was never allocated returns zeros without allocating it
 * (the guest gets a zero-filled page on first touch too); a write allocates it. The binding's
 * ALLOW_READ/WRITE/EXEC bits are the guest's rights and are not checked here: the host keeps
 * read-write access to what it shares. Page allocation failure propagates as ErrnoError ENOMEM.
 *
 * Speed (the virtqueue's hot path): an access within one page checks the binding, then lets the
 * host's stage-2 access check itself (it reads or writes nothing when it faults; the refusal is
 * then classified with a probe), so the common case makes one stage-2 look-up, not two. Accesses
 * spanning pages check every page before touching any.
 */
import type { HostHypercalls } from '../hyp/host-api.js';
import { GuestMemoryError, type GuestMemoryAccess } from '../virtio/guest-memory.js';
import { isLend, type Binding } from './guest-mem.js';
import { PAGE_SIZE } from './page-allocator.js';

/** Guest physical addresses end below 2^52 (the hypervisor's IPA limit). */
const GPA_LIMIT = 2 ** 52;

/** What the accessor needs of the VM. */
export interface GuestMemoryVm {
  readonly hyp: HostHypercalls;
  bindingAt(gfn: number): Binding | undefined;
}

/** One page of an access, checked: its binding and file page, allocated or not. */
interface PageRef {
  readonly binding: Binding;
  readonly index: number;
  /** Physical address of the page when the file has it, else undefined (never touched). */
  readonly pa: number | undefined;
}

/** `a % PAGE_SIZE` for an address below 2^52, without a floating-point remainder (addresses above 2^31 are not small integers). */
function pageOffset(a: number): number {
  return a - Math.floor(a / PAGE_SIZE) * PAGE_SIZE;
}

function hexAddr(a: number): string {
  return `0x${a.toString(16)}`;
}

export class VmGuestMemory implements GuestMemoryAccess {
  readonly #vm: GuestMemoryVm;

  constructor(vm: GuestMemoryVm) {
    this.#vm = vm;
  }

  read(gpa: bigint, len: number): Uint8Array {
    const start = this.#range(gpa, len);
    const hyp = this.#vm.hyp;
    const inPage = pageOffset(start);
    if (inPage + len <= PAGE_SIZE) {
      // The common case: one page. The binding is checked here; the host's stage 2 is checked
      // by the access itself, which reads nothing when it faults.
      if (len === 0) return new Uint8Array(0);
      const pa = this.#pageOf(start, len);
      if (pa === undefined) return new Uint8Array(len);
      try {
        return hyp.readMemory(pa + inPage, len);
      } catch (err) {
        throw this.#refused(pa + inPage, start, len, 'read', err);
      }
    }
    const pages = this.#pages(start, len, 'read');
    const out = new Uint8Array(len);
    let at = 0;
    for (const p of pages) {
      const off = (start + at) % PAGE_SIZE;
      const n = Math.min(PAGE_SIZE - off, len - at);
      if (p.pa !== undefined) out.set(hyp.readMemory(p.pa + off, n), at);
      at += n;
    }
    return out;
  }

  write(gpa: bigint, bytes: Uint8Array): void {
    const len = bytes.length;
    const start = this.#range(gpa, len);
    const hyp = this.#vm.hyp;
    const inPage = pageOffset(start);
    if (len > 0 && inPage + len <= PAGE_SIZE) {
      // One page already in the file: as `read`, the store checks the host's stage 2 itself.
      const pa = this.#pageOf(start, len);
      if (pa !== undefined) {
        try {
          hyp.writeMemory(pa + inPage, bytes);
        } catch (err) {
          throw this.#refused(pa + inPage, start, len, 'write', err);
        }
        return;
      }
    }
    const pages = this.#pages(start, len, 'write');
    let at = 0;
    for (const p of pages) {
      const off = (start + at) % PAGE_SIZE;
      const n = Math.min(PAGE_SIZE - off, len - at);
      let pa = p.pa;
      if (pa === undefined) {
        // First touch: a fresh host page, as the VMM's mmap would fault one in.
        pa = p.binding.file.page(p.index, true)!;
        if (hyp.probeMemory(pa + off, n, 'write') !== undefined) throw this.#held(start + at, len - at);
      }
      hyp.writeMemory(pa + off, at === 0 && n === len ? bytes : bytes.subarray(at, at + n));
      at += n;
    }
  }

  probe(gpa: bigint, len: number, kind: 'read' | 'write'): void {
    this.#pages(this.#range(gpa, len), len, kind);
  }

  /** The range's start as a number. @throws GuestMemoryError 'bounds' */
  #range(gpa: bigint, len: number): number {
    if (!Number.isSafeInteger(len) || len < 0) throw new GuestMemoryError('bounds', gpa, 0, `length ${len} is not a byte count`);
    // Number(gpa) is exact below 2^53; anything at or above the limit (or negative) is refused.
    const start = Number(gpa);
    if (start < 0 || start >= GPA_LIMIT || start + len > GPA_LIMIT) {
      throw new GuestMemoryError('bounds', gpa, len, 'the range is outside the guest physical address space (below 2^52)');
    }
    return start;
  }

  /**
   * The binding checks of `#page` for `n` bytes at `addr` within one page, without the host
   * stage-2 probe: the file page's physical address, or undefined when it was never allocated.
   */
  #pageOf(addr: number, n: number): number | undefined {
    const gfn = Math.floor(addr / PAGE_SIZE);
    const b = this.#vm.bindingAt(gfn);
    if (b === undefined || isLend(b.flags)) return this.#page(addr, n, 'read').pa; // throws the refusal
    const index = b.fileIndex + (gfn - b.gfn);
    if (index >= b.file.pageCount) return this.#page(addr, n, 'read').pa; // throws 'bounds'
    return b.file.page(index, false);
  }

  /** The error for an access the host's stage 2 refused (nothing was read or written). */
  #refused(pa: number, addr: number, len: number, kind: 'read' | 'write', err: unknown): unknown {
    return this.#vm.hyp.probeMemory(pa, len, kind) !== undefined ? this.#held(addr, len) : err;
  }

  /** Check every page of [start, start + len); nothing is allocated or touched. */
  #pages(start: number, len: number, kind: 'read' | 'write'): PageRef[] {
    const out: PageRef[] = [];
    let at = 0;
    while (at < len) {
      const addr = start + at;
      const n = Math.min(PAGE_SIZE - (addr % PAGE_SIZE), len - at);
      out.push(this.#page(addr, n, kind));
      at += n;
    }
    return out;
  }

  /** Check the `n` bytes at `addr`, all within one page. */
  #page(addr: number, n: number, kind: 'read' | 'write'): PageRef {
    const gfn = Math.floor(addr / PAGE_SIZE);
    const b = this.#vm.bindingAt(gfn);
    if (b === undefined) throw new GuestMemoryError('unmapped', BigInt(addr), n, 'no MAP_MEM binding covers this address');
    if (isLend(b.flags)) {
      throw new GuestMemoryError(
        'lent',
        BigInt(addr),
        n,
        `the binding at ${hexAddr(b.gfn * PAGE_SIZE)} lends its memory to the guest; a device may only use memory mapped with GUNYAH_MEM_FORCE_SHARE`,
      );
    }
    const index = b.fileIndex + (gfn - b.gfn);
    if (index >= b.file.pageCount) {
      throw new GuestMemoryError('bounds', BigInt(addr), n, `the binding reaches page ${index}, beyond the end of its guest-memory file (${b.file.pageCount} pages)`);
    }
    const pa = b.file.page(index, false);
    if (pa !== undefined && this.#vm.hyp.probeMemory(pa + (addr % PAGE_SIZE), n, kind) !== undefined) throw this.#held(addr, n);
    return { binding: b, index, pa };
  }

  #held(addr: number, len: number): GuestMemoryError {
    return new GuestMemoryError('lent', BigInt(addr), len, "the page is held by the guest exclusively: the host's stage 2 refuses the access");
  }
}
