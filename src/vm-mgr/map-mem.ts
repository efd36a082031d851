/**
 * GUNYAH_VM_MAP_MEM: binding a range of a guest-memory file to guest frames, and removing
 * (UNMAP) a whole binding, a prefix or a suffix.
 *
 * Reference: uapi.md §6.2 MAP_MEM rows, in the kernel's order: closed fd → EINVAL (QUIRK K16),
 * not a guest-memory fd → EINVAL, unknown flag bits → EINVAL, no access right → EINVAL, access
 * field 3..7 → EINVAL, misaligned → EINVAL, hugepage file not 2 MiB aligned → EINVAL; add: the
 * file range overlaps any binding of the file → EEXIST, the frames overlap a binding of this
 * VM → EEXIST, size 0 → EINVAL except at guest address 0 (QUIRK K18), offset + size is not
 * checked against the file size (QUIRK K19); remove: a binding with identical flags that
 * contains the range with the same offset delta, else ENOENT; middle part → EINVAL; the range
 * is reclaimed from the guest first; a successful UNMAP leaks a file reference (QUIRK K17).
 */
import { ErrnoError, errnoNameOf } from '../shared/errno.js';
import type { KernelFile } from '../host/kernel-file.js';
import { GuestMemFile, type Binding } from './guest-mem.js';
import { GHMF_ALLOW_HUGEPAGE, GUNYAH_MEM_ACCESS_MASK, GUNYAH_MEM_ALLOW_RWX, GUNYAH_MEM_UNMAP } from './uapi/constants.js';
import type { MapMemArgs } from './uapi/structs.js';
import { reclaimRange } from './demand-paging.js';
import { PAGE_SIZE } from './page-allocator.js';
import type { GunyahVm } from './vm.js';

const HUGE = 2 * 1024 * 1024;
/** Frames a K18 binding covers: the whole guest address space (2^52 bytes). */
const WHOLE_SPACE_FRAMES = 2 ** 40;

export function mapMem(vm: GunyahVm, a: MapMemArgs, fget: (fd: number) => KernelFile | undefined): number {
  const file = fget(a.guestMemFd);
  if (!file) throw new ErrnoError(vm.quirks.k16MapMemBadFdEinval ? 'EINVAL' : 'EBADF', `fd ${a.guestMemFd} is not open`);
  if (!(file instanceof GuestMemFile)) throw new ErrnoError('EINVAL', `fd ${a.guestMemFd} is not a guest-memory fd`);
  if (a.flags & ~(GUNYAH_MEM_ALLOW_RWX | GUNYAH_MEM_UNMAP | GUNYAH_MEM_ACCESS_MASK)) throw new ErrnoError('EINVAL', `flags 0x${a.flags.toString(16)}`);
  if (!(a.flags & GUNYAH_MEM_ALLOW_RWX)) throw new ErrnoError('EINVAL', 'none of READ, WRITE, EXEC');
  if ((a.flags & GUNYAH_MEM_ACCESS_MASK) > 2) throw new ErrnoError('EINVAL', `access field ${a.flags & GUNYAH_MEM_ACCESS_MASK}`);
  const page = BigInt(PAGE_SIZE);
  if (a.guestAddr % page || a.offset % page || a.size % page) throw new ErrnoError('EINVAL', 'guest_addr, offset or size not page aligned');
  const huge = BigInt(HUGE);
  if (file.flags & GHMF_ALLOW_HUGEPAGE && (a.guestAddr % huge || a.offset % huge || a.size % huge)) {
    throw new ErrnoError('EINVAL', 'a hugepage file needs 2 MiB alignment');
  }
  const gfn = Number(a.guestAddr / page);
  const pages = Number(a.size / page);
  const fileIndex = Number(a.offset / page);
  return a.flags & GUNYAH_MEM_UNMAP ? unmap(vm, file, a.flags & ~GUNYAH_MEM_UNMAP, gfn, pages, fileIndex) : add(vm, file, a.flags, gfn, pages, fileIndex);
}

function add(vm: GunyahVm, file: GuestMemFile, flags: number, gfn: number, pages: number, fileIndex: number): number {
  let count = pages;
  if (pages === 0) {
    if (gfn !== 0 || !vm.quirks.k18ZeroSizeAtZero) throw new ErrnoError('EINVAL', 'size 0');
    count = WHOLE_SPACE_FRAMES; // QUIRK K18: the end frame wraps
  }
  if (pages > 0 && file.overlapsBinding(fileIndex, pages)) throw new ErrnoError('EEXIST', 'the file range is already bound');
  for (const b of vm.bindings) {
    if (gfn < b.gfn + b.pages && b.gfn < gfn + count) throw new ErrnoError('EEXIST', 'the guest range overlaps another binding');
  }
  const b: Binding = { owner: vm, file, gfn, pages: count, fileIndex, flags };
  const at = vm.bindings.findIndex((x) => x.gfn > gfn);
  vm.bindings.splice(at < 0 ? vm.bindings.length : at, 0, b);
  file.bindings.add(b);
  return 0;
}

function unmap(vm: GunyahVm, file: GuestMemFile, flags: number, gfn: number, pages: number, fileIndex: number): number {
  const b = vm.bindings.find(
    (x) => x.file === file && x.flags === flags && gfn >= x.gfn && gfn + pages <= x.gfn + x.pages && fileIndex - gfn === x.fileIndex - x.gfn,
  );
  if (!b) throw new ErrnoError('ENOENT', 'no binding with these flags contains the range');
  const prefix = gfn === b.gfn;
  const suffix = gfn + pages === b.gfn + b.pages;
  if (!prefix && !suffix) throw new ErrnoError('EINVAL', 'removing the middle of a binding is not supported');
  const r = reclaimRange(vm, gfn, pages);
  if (r < 0) throw new ErrnoError(errnoNameOf(-r) ?? 'EINVAL', 'reclaiming the range from the guest failed');
  // QUIRK K17: every successful UNMAP (whole, prefix or suffix) leaks the file reference the
  // call itself took on guest_mem_fd, so the file and its pages are never freed.
  if (vm.quirks.k17UnmapLeaksFileRef) file.leakReference();
  if (prefix && suffix) {
    vm.bindings.splice(vm.bindings.indexOf(b), 1);
    file.unbind(b);
  } else if (prefix) {
    b.gfn += pages;
    b.fileIndex += pages;
    b.pages -= pages;
  } else {
    b.pages -= pages;
  }
  return 0;
}
