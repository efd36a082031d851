/**
 * The typed layer's small `gh_` (v14 / Android) part: a VM fd with the calls only that dialect
 * has, each one real ioctl with its struct bytes in user memory. RAM is the VMM's own anonymous
 * memory, registered whole with GH_VM_SET_USER_MEM_REGION (share) or GH_VM_ANDROID_LEND_USER_MEM
 * (lend); GH_VM_CHECK_EXTENSION asks for a capability; an ioeventfd is removed by its address
 * alone, as crosvm does. Everything the dialects share (CREATE_VM, SET_DTB_CONFIG, START,
 * ADD/REMOVE_FUNCTION, the vCPU fd) is VmFd's, unchanged: the numbers and structs are the same.
 *
 * Reference: shared/reference/README.md §Dialects (request numbers, `gh_userspace_memory_region`
 * {label u32 @0, flags u32 @4, guest_phys_addr u64 @8, memory_size u64 @16, userspace_addr u64
 * @24}, GH_MEM_ALLOW_READ 0x1 / WRITE 0x2 / EXEC 0x4); vmm-flows.md §3 (crosvm's order), Q18
 * (REMOVE_FUNCTION of an ioeventfd with only addr set); docs/gh-dialect.md.
 */
import { GUNYAH_CREATE_VM } from '../vm-mgr/uapi/ioctls.js';
import { _IO, _IOW } from '../vm-mgr/uapi/ioctls.js';
import { GUNYAH_FN_IOEVENTFD } from '../vm-mgr/uapi/constants.js';
import { encodeFnIoeventfdArg } from '../vm-mgr/uapi/structs.js';
import { ioctlWith, type HostLike } from './host-like.js';
import { VmFd, type GunyahDevice } from './vm-fd.js';

/** sizeof(struct gh_userspace_memory_region). */
export const GH_USER_MEM_REGION_SIZE = 32;
/** 'G' nr 0x1: share host user memory with the VM. */
export const GH_VM_SET_USER_MEM_REGION = _IOW(0x47, 0x1, GH_USER_MEM_REGION_SIZE);
/** Android 'A' nr 0x11: lend host user memory to the VM. */
export const GH_VM_ANDROID_LEND_USER_MEM = _IOW(0x41, 0x11, GH_USER_MEM_REGION_SIZE);
/** Android 'A' nr 0x17: ask for a capability (integer argument). */
export const GH_VM_CHECK_EXTENSION = _IO(0x41, 0x17);

/** GH_MEM_ALLOW_* bits of a region's flags. */
export const GhMemAllow = { READ: 0x1, WRITE: 0x2, EXEC: 0x4 } as const;

/** One user-memory region. */
export interface GhUserMemRegion {
  readonly label: number;
  /** GH_MEM_ALLOW_* bits. */
  readonly flags: number;
  readonly guestPhysAddr: bigint;
  readonly size: bigint;
  /** The VMM's address of the memory (e.g. `host.mmapAnonymous(size).addr`). */
  readonly userspaceAddr: bigint;
}

/** `struct gh_userspace_memory_region`, little-endian. */
export function encodeGhUserMemRegion(r: GhUserMemRegion): Uint8Array {
  const b = new Uint8Array(GH_USER_MEM_REGION_SIZE);
  const d = new DataView(b.buffer);
  d.setUint32(0, r.label >>> 0, true);
  d.setUint32(4, r.flags >>> 0, true);
  d.setBigUint64(8, BigInt.asUintN(64, r.guestPhysAddr), true);
  d.setBigUint64(16, BigInt.asUintN(64, r.size), true);
  d.setBigUint64(24, BigInt.asUintN(64, r.userspaceAddr), true);
  return b;
}

/** A gh_ VM fd: VmFd's shared calls plus the gh_ ones. */
export class GhVmFd extends VmFd {
  constructor(host: HostLike, fd: number) {
    super(host, fd);
  }

  /** GH_CREATE_VM on `/dev/gunyah` (the same number as v17's; the VMID is allocated here). */
  static async create(dev: GunyahDevice): Promise<GhVmFd> {
    return new GhVmFd(dev.host, await dev.host.ioctl(dev.fd, GUNYAH_CREATE_VM, 0));
  }

  /** GH_VM_SET_USER_MEM_REGION: the region is shared with the VM at START. */
  setUserMemRegion(r: GhUserMemRegion): Promise<number> {
    return ioctlWith(this.host, this.fd, GH_VM_SET_USER_MEM_REGION, encodeGhUserMemRegion(r));
  }

  /** GH_VM_ANDROID_LEND_USER_MEM: the region is lent to the VM at START (the host loses access). */
  lendUserMem(r: GhUserMemRegion): Promise<number> {
    return ioctlWith(this.host, this.fd, GH_VM_ANDROID_LEND_USER_MEM, encodeGhUserMemRegion(r));
  }

  /** GH_VM_CHECK_EXTENSION(cap): 0 when the capability is absent. */
  checkExtension(cap: number | bigint): Promise<number> {
    return this.host.ioctl(this.fd, GH_VM_CHECK_EXTENSION, cap);
  }

  /** REMOVE_FUNCTION of ioeventfds keyed by `addr` only (every other field 0), as crosvm sends it. */
  removeIoeventfdByAddr(addr: bigint): Promise<number> {
    return this.removeFunction(GUNYAH_FN_IOEVENTFD, encodeFnIoeventfdArg({ datamatch: 0n, addr, len: 0, fd: 0, flags: 0 }));
  }
}
