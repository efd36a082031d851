/**
 * Demand paging: giving one page of a binding to the guest (lend or share) and taking pages
 * back, with the hypercalls the Linux v17 driver makes.
 *
 * Reference: uapi.md §8.11 (find the binding, write needs ALLOW_WRITE, allocate, provide with
 * the ADDR_SPACE label 0 resource and an extent pair: share host_shared 1 → guest_shared 3,
 * lend host_private 2 → guest_private 0; missing → ENODEV; already provided → EAGAIN; a lend
 * page that is host-mapped → EPERM; guest access share+W RW, share R, lend+W RWX, lend RX;
 * donate TO_SIBLING / TO_PROTECTED then addrspace_map NORMAL_WB with PARTIAL|PRIVATE (lend) or
 * PARTIAL|VMMIO (share); reclaim = unmap, donate back (TO_SIBLING / FROM_PROTECTED), and a
 * failing hypercall keeps the page with the guest), hypervisor.md §8 (attrs layout).
 */
import { Errno } from '../shared/errno.js';
import { hypErrorToErrno } from '../shared/hyp-errors.js';
import { DonateType, MapFlag, type HostHypercalls } from '../hyp/host-api.js';
import { isLend, type Binding } from './guest-mem.js';
import { PAGE_SIZE } from './page-allocator.js';
import type { VmResource } from './vm-api.js';
import { GUNYAH_MEM_ALLOW_WRITE as MEM_ALLOW_WRITE } from './uapi/constants.js';

const NORMAL_WB = 0xf;

/** A page the guest was given. */
export interface PagedPage {
  readonly pa: number;
  readonly write: boolean;
  readonly share: boolean;
}

/** What demand paging needs of the VM. */
export interface PagingVm {
  readonly hyp: HostHypercalls;
  readonly paged: Map<number, PagedPage>;
  readonly addrSpace: VmResource | undefined;
  readonly extents: ReadonlyArray<VmResource | undefined>;
  bindingAt(gfn: number): Binding | undefined;
}

/** addrspace_map attrs: user and kernel access, memtype NORMAL_WB (e.g. RWX → 0x000F0077). */
export function mapAttrs(access: number): number {
  return access | (access << 4) | (NORMAL_WB << 16);
}

function negErrno(hypError: number): number {
  const name = hypErrorToErrno(hypError) ?? 'EINVAL';
  return -Errno[name];
}

/** Demand paging at guest frame `gfn`. 0 when provided, else a negative errno. */
export function providePage(vm: PagingVm, gfn: number, write: boolean): number {
  const b = vm.bindingAt(gfn);
  if (!b) return -Errno.ENOENT;
  const canWrite = (b.flags & MEM_ALLOW_WRITE) !== 0;
  if (write && !canWrite) return -Errno.EPERM;
  const index = b.fileIndex + (gfn - b.gfn);
  let pa: number;
  try {
    pa = b.file.page(index, true)!;
  } catch {
    return -Errno.ENOMEM;
  }
  const share = !isLend(b.flags);
  const as = vm.addrSpace;
  const from = vm.extents[share ? 1 : 2];
  const to = vm.extents[share ? 3 : 0];
  if (!as || !from || !to) return -Errno.ENODEV;
  if (vm.paged.has(gfn)) return -Errno.EAGAIN;
  if (!share && b.file.hostMapped(index)) return -Errno.EPERM;
  const access = share ? (canWrite ? 6 : 4) : canWrite ? 7 : 5;
  let err = vm.hyp.memextentDonate(share ? DonateType.TO_SIBLING : DonateType.TO_PROTECTED, from.capId, to.capId, pa, PAGE_SIZE);
  if (err !== 0) return negErrno(err);
  const flags = MapFlag.PARTIAL | (share ? MapFlag.VMMIO : MapFlag.PRIVATE);
  err = vm.hyp.addrspaceMap(as.capId, to.capId, gfn * PAGE_SIZE, mapAttrs(access), flags, pa, PAGE_SIZE);
  if (err !== 0) {
    vm.hyp.memextentDonate(share ? DonateType.TO_SIBLING : DonateType.FROM_PROTECTED, to.capId, from.capId, pa, PAGE_SIZE);
    return negErrno(err);
  }
  vm.paged.set(gfn, { pa, write: canWrite, share });
  return 0;
}

/** Take guest frame `gfn` back. 0, or a negative errno with the page left with the guest. */
export function reclaimPage(vm: PagingVm, gfn: number): number {
  const p = vm.paged.get(gfn);
  if (!p) return 0;
  const as = vm.addrSpace;
  const guestExt = vm.extents[p.share ? 3 : 0];
  const hostExt = vm.extents[p.share ? 1 : 2];
  if (!as || !guestExt || !hostExt) return -Errno.ENODEV;
  const ipa = gfn * PAGE_SIZE;
  const flags = MapFlag.PARTIAL | (p.share ? MapFlag.VMMIO : MapFlag.PRIVATE);
  let err = vm.hyp.addrspaceUnmap(as.capId, guestExt.capId, ipa, flags, p.pa, PAGE_SIZE);
  if (err !== 0) return negErrno(err);
  err = vm.hyp.memextentDonate(p.share ? DonateType.TO_SIBLING : DonateType.FROM_PROTECTED, guestExt.capId, hostExt.capId, p.pa, PAGE_SIZE);
  if (err !== 0) {
    // The page stays with the guest: map it back so the guest keeps its view.
    const access = p.share ? (p.write ? 6 : 4) : p.write ? 7 : 5;
    vm.hyp.addrspaceMap(as.capId, guestExt.capId, ipa, mapAttrs(access), flags, p.pa, PAGE_SIZE);
    return negErrno(err);
  }
  vm.paged.delete(gfn);
  return 0;
}

/** Reclaim every paged frame in [gfn, gfn + count). 0, or the first failure's negative errno. */
export function reclaimRange(vm: PagingVm, gfn: number, count: number): number {
  let result = 0;
  const frames: number[] = [];
  if (count > vm.paged.size) {
    for (const g of vm.paged.keys()) if (g >= gfn && g < gfn + count) frames.push(g);
  } else {
    for (let g = gfn; g < gfn + count; g++) if (vm.paged.has(g)) frames.push(g);
  }
  for (const g of frames) {
    const r = reclaimPage(vm, g);
    if (r < 0 && result === 0) result = r;
  }
  return result;
}
