/**
 * A fake of the hypervisor's host memory interface for kernel-memory tests: byte pages behind
 * `readMemory`/`writeMemory`, a `probeMemory` that refuses the pages put in `revoked` (as if lent
 * to a VM: hypervisor.md §8, vmm-flows.md Q12), a count of probes, and a page allocator over it.
 */
import type { HostHypercalls } from '../../src/hyp/host-api.js';
import { PageAllocator } from '../../src/vm-mgr/page-allocator.js';

const PAGE = 4096;

export function fakeHostMemory(opts: { base?: number; pages?: number } = {}) {
  const mem = new Map<number, Uint8Array>();
  const revoked = new Set<number>();
  const calls = { probe: 0 };
  const pageOf = (pa: number): Uint8Array => {
    const base = pa - (pa % PAGE);
    let p = mem.get(base);
    if (!p) mem.set(base, (p = new Uint8Array(PAGE)));
    return p;
  };
  const hyp = {
    readMemory: (pa: number, len: number) => pageOf(pa).slice(pa % PAGE, (pa % PAGE) + len),
    writeMemory: (pa: number, bytes: Uint8Array) => pageOf(pa).set(bytes, pa % PAGE),
    probeMemory: (pa: number) => {
      calls.probe++;
      return revoked.has(pa - (pa % PAGE)) ? 'unmapped' : undefined;
    },
  } as unknown as HostHypercalls;
  const pages = new PageAllocator({ base: opts.base ?? 0x10_0000, size: (opts.pages ?? 64) * PAGE, discard: (pa) => mem.delete(pa) });
  return { hyp, pages, revoked, calls, mem };
}
