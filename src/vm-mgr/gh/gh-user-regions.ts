/**
 * GH_VM_SET_USER_MEM_REGION (share) and GH_VM_ANDROID_LEND_USER_MEM (lend): a range of the
 * VMM's own memory becomes a region of the VM. The checks run in the driver's order; then the
 * pages are pinned (FOLL_LONGTERM, FOLL_WRITE when the guest may write) and the parcel the RM
 * will get at start is built: ACL, SGL with physically contiguous pages merged, label. Nothing
 * is sent to the RM here; a region added after start is kept (and unpinned at teardown) but
 * never sent.
 *
 * Reference: README.md §Dialects (the 32-byte `gh_userspace_memory_region`, GH_MEM_ALLOW_* bits),
 * rm-rpc.md §12.5 (ACL rights X 1, W 2, R 4; SGL entries {IPA, size}; mem_type NORMAL),
 * §16.1 (one ACL entry → MEM_LEND, the owner not in it; SHARE → the owner in it), §11
 * (VM_GET_VMID, cached by Linux). Check order and errnos: docs/gh-dialect.md, from the public
 * v14 series / Android common kernel android14-6.1 `vm_mgr_mm.c`.
 *
 *   copy (EFAULT) → flags ⊆ RWX (EINVAL) → size ≠ 0, size/uaddr/gpa page aligned (EINVAL)
 *   → gpa + size fits a u64 (EOVERFLOW) → label unused (EEXIST) → no guest overlap (EEXIST)
 *   → pin every page (EFAULT) → share: host VMID (VM_GET_VMID; its errno, pages unpinned)
 */
import type { IoctlContext, PinnedPages } from '../../host/kernel-file.js';
import { MemType } from '../../rm-rpc/wire/enums.js';
import { ErrnoError } from '../../shared/errno.js';
import { asErrno } from '../rm-errors.js';
import { endBeyondU64, pageAligned } from '../u64-range.js';
import { PAGE_SIZE } from '../page-allocator.js';
import type { GhRegion, GhVm } from './gh-vm.js';
import {
  GH_MEM_ALLOW_EXEC,
  GH_MEM_ALLOW_READ,
  GH_MEM_ALLOW_WRITE,
  GH_MEM_VALID_FLAGS,
  GH_SIZEOF,
  decodeGhUserMemRegion,
} from './gh-uapi.js';

/** More pages than this cannot be pinned in one call (pin_user_pages takes an int count). */
const MAX_PIN_PAGES = 0x7fff_ffff;

/** RM ACL rights of a region's flags: R 4, W 2, X 1 (rm-rpc.md §12.5). */
function aclRights(flags: number): number {
  return (flags & GH_MEM_ALLOW_READ ? 4 : 0) | (flags & GH_MEM_ALLOW_WRITE ? 2 : 0) | (flags & GH_MEM_ALLOW_EXEC ? 1 : 0);
}

/** SGL of `pas` (4 KiB pages in order): each run of physically contiguous pages is one entry. */
function mergeSgl(pas: readonly number[]): Array<{ address: bigint; size: bigint }> {
  const out: Array<{ address: bigint; size: bigint }> = [];
  let start = -1;
  let len = 0;
  for (const pa of pas) {
    if (start >= 0 && pa === start + len) {
      len += PAGE_SIZE;
      continue;
    }
    if (start >= 0) out.push({ address: BigInt(start), size: BigInt(len) });
    start = pa;
    len = PAGE_SIZE;
  }
  if (start >= 0) out.push({ address: BigInt(start), size: BigInt(len) });
  return out;
}

/**
 * The region ioctl: copy and check the argument, pin its pages, build its parcel and put it at
 * the head of the VM's region list.
 * @returns 0
 * @throws ErrnoError EFAULT, EINVAL, EOVERFLOW, EEXIST, or VM_GET_VMID's errno
 */
export async function addUserRegion(vm: GhVm, arg: bigint, ctx: IoctlContext, lend: boolean): Promise<number> {
  const r = decodeGhUserMemRegion(ctx.user.copyFromUser(arg, GH_SIZEOF.gh_userspace_memory_region));
  if ((r.flags & ~GH_MEM_VALID_FLAGS) !== 0) throw new ErrnoError('EINVAL', `region flags 0x${(r.flags >>> 0).toString(16)}`);
  if (r.memorySize === 0n || !pageAligned(r.memorySize)) throw new ErrnoError('EINVAL', `memory_size 0x${r.memorySize.toString(16)} is 0 or not page aligned`);
  if (!pageAligned(r.userspaceAddr)) throw new ErrnoError('EINVAL', 'userspace_addr not page aligned');
  if (!pageAligned(r.guestPhysAddr)) throw new ErrnoError('EINVAL', 'guest_phys_addr not page aligned');
  if (endBeyondU64(r.guestPhysAddr, r.memorySize)) throw new ErrnoError('EOVERFLOW', 'guest_phys_addr + memory_size overflows');
  return vm.memLock.add(async () => {
    if (vm.regions.some((x) => x.label === r.label)) throw new ErrnoError('EEXIST', `a region with label ${r.label} exists`);
    const end = r.guestPhysAddr + r.memorySize;
    const clash = vm.regions.find((x) => r.guestPhysAddr < x.gpa + x.size && x.gpa < end);
    if (clash) throw new ErrnoError('EEXIST', `the guest range overlaps region ${clash.label}`);
    const pages = r.memorySize / BigInt(PAGE_SIZE);
    if (pages > BigInt(MAX_PIN_PAGES)) throw new ErrnoError('EFAULT', `cannot pin ${pages} pages`);
    const pinned = pin(ctx, r.userspaceAddr, Number(pages), (r.flags & GH_MEM_ALLOW_WRITE) !== 0);
    let acl: Array<{ vmid: number; rights: number }>;
    try {
      acl = [{ vmid: vm.vmid, rights: aclRights(r.flags) }];
      if (!lend) acl.push({ vmid: await vm.k.hostVmid(), rights: 7 });
    } catch (err) {
      pinned.unpin();
      throw asErrno(err);
    }
    const region: GhRegion = {
      label: r.label,
      flags: r.flags,
      gpa: r.guestPhysAddr,
      size: r.memorySize,
      lend,
      pinned,
      request: { memType: MemType.NORMAL, flags: 0, label: r.label, acl, sgl: mergeSgl(pinned.pas) },
      handle: undefined,
    };
    vm.regions.unshift(region);
    return 0;
  });
}

/** pin_user_pages with FOLL_LONGTERM: every page or EFAULT (a user memory that cannot pin, too). */
function pin(ctx: IoctlContext, addr: bigint, pages: number, write: boolean): PinnedPages {
  const fn = ctx.user.pinUserPages;
  if (fn === undefined) throw new ErrnoError('EFAULT', 'this process memory cannot be pinned');
  const p = fn.call(ctx.user, addr, pages, write);
  if (p.pas.length !== pages) {
    p.unpin();
    throw new ErrnoError('EFAULT', `pinned ${p.pas.length} of ${pages} pages`);
  }
  return p;
}
