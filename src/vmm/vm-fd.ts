/**
 * Typed wrappers for TypeScript VMMs over the raw HostProcess contract: `/dev/gunyah`, the VM
 * fd and the guest-memory fd. Every method is one real ioctl with the real struct bytes placed
 * in user memory, so a VMM written with these behaves exactly as one that issues the ioctls.
 *
 * Reference: uapi.md §2–§4 (requests, structs, flags), vmm-flows.md §2 (the order a VMM uses).
 */
import {
  GUNYAH_CREATE_GUEST_MEM,
  GUNYAH_CREATE_VM,
  GUNYAH_VM_ADD_FUNCTION,
  GUNYAH_VM_MAP_MEM,
  GUNYAH_VM_REMOVE_FUNCTION,
  GUNYAH_VM_SET_BOOT_CONTEXT,
  GUNYAH_VM_SET_DTB_CONFIG,
  GUNYAH_VM_START,
} from '../vm-mgr/uapi/ioctls.js';
import {
  FALLOC_FL_KEEP_SIZE,
  FALLOC_FL_PUNCH_HOLE,
  GUNYAH_FN_IOEVENTFD,
  GUNYAH_FN_IRQFD,
  GUNYAH_FN_VCPU,
  GUNYAH_IOEVENTFD_FLAGS_DATAMATCH,
  GUNYAH_IRQFD_FLAGS_LEVEL,
  GUNYAH_MEM_UNMAP,
} from '../vm-mgr/uapi/constants.js';
import {
  encodeCreateMemArgs,
  encodeFnDesc,
  encodeFnIoeventfdArg,
  encodeFnIrqfdArg,
  encodeFnVcpuArg,
  encodeMapMemArgs,
  encodeVmBootContext,
  encodeVmDtbConfig,
} from '../vm-mgr/uapi/structs.js';
import { ioctlWith, type HostLike, type HostMapping } from './host-like.js';
import { VcpuFd } from './vcpu-fd.js';

/** A guest-memory file. */
export class GuestMemFd {
  constructor(
    readonly host: HostLike,
    readonly fd: number,
    readonly size: number,
  ) {}

  /** mmap (MAP_SHARED) of `[offset, offset + length)`. */
  mmap(length = this.size, offset = 0): HostMapping {
    return this.host.mmap(this.fd, length, offset);
  }

  /** Write bytes at a file offset through a temporary mapping (dropped again at once). */
  async writeAt(offset: number, bytes: Uint8Array): Promise<void> {
    const base = offset - (offset % 4096);
    const m = this.host.mmap(this.fd, offset - base + bytes.length, base);
    try {
      m.write(offset - base, bytes);
    } finally {
      await m.unmap();
    }
  }

  /** fallocate(PUNCH_HOLE | KEEP_SIZE). */
  punchHole(offset: number, length: number): Promise<void> | void {
    return this.host.fallocate(this.fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, offset, length);
  }

  close(): Promise<void> | void {
    return this.host.close(this.fd);
  }
}

export interface MapMemOptions {
  readonly guestAddr: bigint;
  /** GUNYAH_MEM_* access and ALLOW bits. */
  readonly flags: number;
  readonly mem: GuestMemFd;
  readonly offset?: bigint;
  readonly size: bigint;
}

export interface IoeventfdOptions {
  readonly addr: bigint;
  readonly len: number;
  readonly fd: number;
  readonly datamatch?: bigint;
}

/** A VM fd. */
export class VmFd {
  constructor(
    readonly host: HostLike,
    readonly fd: number,
  ) {}

  setDtbConfig(guestPhysAddr: bigint, size: bigint): Promise<number> {
    return ioctlWith(this.host, this.fd, GUNYAH_VM_SET_DTB_CONFIG, encodeVmDtbConfig({ guestPhysAddr, size }));
  }

  mapMem(o: MapMemOptions): Promise<number> {
    return ioctlWith(
      this.host,
      this.fd,
      GUNYAH_VM_MAP_MEM,
      encodeMapMemArgs({ guestAddr: o.guestAddr, flags: o.flags, guestMemFd: o.mem.fd, offset: o.offset ?? 0n, size: o.size }),
    );
  }

  /** MAP_MEM with UNMAP: `flags` must repeat the binding's access and ALLOW bits. */
  unmapMem(o: MapMemOptions): Promise<number> {
    return this.mapMem({ ...o, flags: o.flags | GUNYAH_MEM_UNMAP });
  }

  /** SET_BOOT_CONTEXT with `reg` = set << 8 | index. */
  setBootContext(reg: number, value: bigint): Promise<number> {
    return ioctlWith(this.host, this.fd, GUNYAH_VM_SET_BOOT_CONTEXT, encodeVmBootContext({ reg, value }));
  }

  start(): Promise<number> {
    return this.host.ioctl(this.fd, GUNYAH_VM_START);
  }

  /** ADD_FUNCTION with an argument struct. */
  async addFunction(type: number, arg: Uint8Array): Promise<number> {
    return this.#function(GUNYAH_VM_ADD_FUNCTION, type, arg);
  }

  removeFunction(type: number, arg: Uint8Array): Promise<number> {
    return this.#function(GUNYAH_VM_REMOVE_FUNCTION, type, arg);
  }

  async #function(request: number, type: number, arg: Uint8Array): Promise<number> {
    const argPtr = this.host.malloc(Math.max(arg.length, 1));
    try {
      this.host.poke(argPtr, arg);
      return await ioctlWith(this.host, this.fd, request, encodeFnDesc({ type, argSize: arg.length, arg: argPtr }));
    } finally {
      this.host.free(argPtr);
    }
  }

  /** A vCPU function: the vCPU fd with its run page mapped. */
  async addVcpu(id: number): Promise<VcpuFd> {
    const fd = await this.addFunction(GUNYAH_FN_VCPU, encodeFnVcpuArg({ id }));
    return VcpuFd.open(this.host, fd, id);
  }

  removeVcpu(id: number): Promise<number> {
    return this.removeFunction(GUNYAH_FN_VCPU, encodeFnVcpuArg({ id }));
  }

  addIrqfd(fd: number, label: number, level = false): Promise<number> {
    return this.addFunction(GUNYAH_FN_IRQFD, encodeFnIrqfdArg({ fd, label, flags: level ? GUNYAH_IRQFD_FLAGS_LEVEL : 0 }));
  }

  removeIrqfd(label: number): Promise<number> {
    return this.removeFunction(GUNYAH_FN_IRQFD, encodeFnIrqfdArg({ fd: 0, label, flags: 0 }));
  }

  addIoeventfd(o: IoeventfdOptions): Promise<number> {
    return this.addFunction(GUNYAH_FN_IOEVENTFD, ioeventfdArg(o));
  }

  removeIoeventfd(o: IoeventfdOptions): Promise<number> {
    return this.removeFunction(GUNYAH_FN_IOEVENTFD, ioeventfdArg(o));
  }

  close(): Promise<void> | void {
    return this.host.close(this.fd);
  }
}

function ioeventfdArg(o: IoeventfdOptions): Uint8Array {
  return encodeFnIoeventfdArg({
    datamatch: o.datamatch ?? 0n,
    addr: o.addr,
    len: o.len,
    fd: o.fd,
    flags: o.datamatch !== undefined ? GUNYAH_IOEVENTFD_FLAGS_DATAMATCH : 0,
  });
}

/** `/dev/gunyah`. */
export class GunyahDevice {
  constructor(
    readonly host: HostLike,
    readonly fd: number,
  ) {}

  static open(host: HostLike): GunyahDevice {
    return new GunyahDevice(host, host.open('/dev/gunyah'));
  }

  async createVm(): Promise<VmFd> {
    return new VmFd(this.host, await this.host.ioctl(this.fd, GUNYAH_CREATE_VM, 0));
  }

  async createGuestMem(size: number, flags = 0n): Promise<GuestMemFd> {
    const fd = await ioctlWith(this.host, this.fd, GUNYAH_CREATE_GUEST_MEM, encodeCreateMemArgs({ flags, size: BigInt(size) }));
    return new GuestMemFd(this.host, fd, size);
  }

  close(): Promise<void> | void {
    return this.host.close(this.fd);
  }
}
