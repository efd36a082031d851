/**
 * A host access through a mapping of a page-backed kernel file (a guest-memory file, a shmem
 * file), as the host's page-fault path sees it: the range is taken page by page; each page is
 * faulted in (allocated, zeroed, on first touch); the hypervisor is asked whether the host still
 * holds it (`probeMemory`); a page the host may not touch is SIGBUS at the first byte of it that
 * could not be accessed, as on hardware after a lend. What a file does about a refused page
 * before the SIGBUS (guest memory tries to reclaim it from its guests) and what it records about
 * a touched page (guest memory's per-mapping page-table entries) are its own hooks.
 *
 * Reference: uapi.md §6.4 (guest-memory host faults: reclaim or SIGBUS; pages zero-filled on
 * first touch), §8.11 (host visibility of lent pages); README.md §Dialects and vmm-flows.md §6.7,
 * Q12 (a page of host user memory lent to a guest is SIGBUS to the host).
 *
 *   for each page of [fileOff, fileOff + len):
 *     beyond the file ─▶ SIGBUS            allocation fails ─▶ SIGBUS
 *     probe refused ─▶ reclaim? ─▶ probe again ─▶ still refused ─▶ SIGBUS
 *     touched(index); op(pa + inPage, at, n)
 */
import { SigbusError } from '../shared/sigbus-error.js';
import type { HostHypercalls } from '../hyp/host-api.js';
import { PAGE_SIZE } from './page-allocator.js';

/** What a file gives the walk. */
export interface HostPageFile {
  /** What the file is called in SIGBUS details ("the guest-memory file", "the anonymous mapping"). */
  readonly noun: string;
  /** Pages in the file; a page at or beyond it is SIGBUS. */
  readonly pageCount: number;
  /** Page `index`'s physical address, allocated (zeroed) if it was never touched. @throws on no memory */
  faultIn(index: number): number;
  /** Why page `index` is SIGBUS when the host may not touch it (the SigbusError's detail). */
  deniedDetail(index: number): string;
  /** The host may not touch page `index` now: a last chance to get it back; the walk probes again after it. */
  reclaim?(index: number): void;
  /** Page `index` is about to be accessed through the mapping. */
  touched?(index: number): void;
}

/**
 * Host access to bytes [fileOff, fileOff + len) of `file` through a mapping at user address
 * `userAddr` (of byte `fileOff`). `op(pa, at, n)` copies `n` bytes at physical address `pa`,
 * `at` bytes into the access; it runs once per page, in order, after that page was checked.
 * @throws SigbusError at the first page the host cannot touch (earlier pages were copied)
 */
export function walkHostAccess(
  file: HostPageFile,
  hyp: Pick<HostHypercalls, 'probeMemory'>,
  fileOff: number,
  len: number,
  kind: 'read' | 'write',
  userAddr: bigint,
  op: (pa: number, at: number, n: number) => void,
): void {
  let at = 0;
  while (at < len) {
    const pos = fileOff + at;
    const index = Math.floor(pos / PAGE_SIZE);
    const inPage = pos % PAGE_SIZE;
    const n = Math.min(PAGE_SIZE - inPage, len - at);
    if (index >= file.pageCount) throw new SigbusError(userAddr + BigInt(at), `beyond the end of ${file.noun}`);
    let pa: number;
    try {
      pa = file.faultIn(index);
    } catch {
      throw new SigbusError(userAddr + BigInt(at), 'no memory for the page');
    }
    if (hyp.probeMemory(pa + inPage, n, kind) !== undefined) {
      file.reclaim?.(index);
      if (file.reclaim === undefined || hyp.probeMemory(pa + inPage, n, kind) !== undefined) {
        throw new SigbusError(userAddr + BigInt(at), file.deniedDetail(index));
      }
    }
    file.touched?.(index);
    op(pa + inPage, at, n);
    at += n;
  }
}
