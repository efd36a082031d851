/**
 * The DTB parcel of VM start step 5: the pages of the binding that holds the DTB, lent (or
 * shared) to the new VM so the RM can read the DTB and apply its overlay.
 *
 * Reference: uapi.md §8.12: the binding must contain the whole DTB page range (ENOENT); every
 * page is allocated and becomes one SGL entry {host physical address, 4 KiB}; lend: a page
 * mapped by userspace → EPERM, ACL {guest, R 4 | W 2 | X 1 from the binding}, MEM_LEND; share:
 * QUIRK K6, the ACL count is never set, so v17 fails with ENOMEM (switchable: then the ACL is
 * {guest, rights} + {host, RWX} and it goes out as MEM_SHARE); mem_type 0, label 0, flags 0.
 */
import { ErrnoError } from '../shared/errno.js';
import type { MemShareParams } from '../rm-rpc/client/rm-calls.js';
import { isLend } from './guest-mem.js';
import { PAGE_SIZE } from './page-allocator.js';
import type { DtbParcel, GunyahVm } from './vm.js';
import { GUNYAH_MEM_ALLOW_EXEC as ALLOW_EXEC, GUNYAH_MEM_ALLOW_READ as ALLOW_READ, GUNYAH_MEM_ALLOW_WRITE as ALLOW_WRITE } from './uapi/constants.js';


export async function buildDtbParcel(vm: GunyahVm, startGfn: number, pages: number): Promise<{ record: DtbParcel; request: MemShareParams }> {
  const b = vm.bindingAt(startGfn);
  if (!b || startGfn + pages > b.gfn + b.pages) throw new ErrnoError('ENOENT', 'no binding contains the whole DTB range');
  const lend = isLend(b.flags);
  const rights = (b.flags & ALLOW_READ ? 4 : 0) | (b.flags & ALLOW_WRITE ? 2 : 0) | (b.flags & ALLOW_EXEC ? 1 : 0);
  const list: Array<readonly [number, number]> = [];
  for (let i = 0; i < pages; i++) {
    const index = b.fileIndex + (startGfn + i - b.gfn);
    const pa = b.file.page(index, true)!;
    if (lend && b.file.hostMapped(index)) throw new ErrnoError('EPERM', `DTB page ${i} is mapped by userspace`);
    list.push([startGfn + i, pa]);
  }
  const sgl = list.map(([, pa]) => ({ address: BigInt(pa), size: BigInt(PAGE_SIZE) }));
  if (lend) {
    return {
      record: { handle: undefined, pages: list, share: false, write: (rights & 2) !== 0 },
      request: { acl: [{ vmid: vm.vmid, rights }], sgl },
    };
  }
  if (vm.quirks.k6ShareDtbAclCount) throw new ErrnoError('ENOMEM', 'QUIRK K6: the shared DTB parcel has no ACL entries');
  const host = await vm.k.hostVmid();
  return {
    record: { handle: undefined, pages: list, share: true, write: (rights & 2) !== 0 },
    request: { acl: [{ vmid: vm.vmid, rights }, { vmid: host, rights: 7 }], sgl },
  };
}
