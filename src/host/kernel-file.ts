/**
 * The contract between the host process model (fd table, user memory, syscalls) and the kernel
 * objects behind its fds (/dev/gunyah, VM, vCPU, guest-memory and eventfd files).
 *
 * Reference: DESIGN.md "Public contracts" (HostProcess); uapi.md §6 (which fd answers what),
 * §7 (object lifetime: a file's release runs when its last reference is closed).
 */

/** Pages pinned by `pinUserPages` (pin_user_pages with FOLL_LONGTERM). */
export interface PinnedPages {
  /** Physical address of each 4 KiB page, in user-address order. */
  readonly pas: readonly number[];
  /** unpin_user_pages: a page whose mapping and file are gone is freed at its last unpin. Idempotent. */
  unpin(): void;
}

/** The process's user memory as the kernel sees it (copy_from_user / copy_to_user). */
export interface UserMemory {
  /** @throws ErrnoError EFAULT when any byte of `[ptr, ptr+len)` is not allocated. */
  copyFromUser(ptr: bigint, len: number): Uint8Array;
  /** @throws ErrnoError EFAULT */
  copyToUser(ptr: bigint, bytes: Uint8Array): void;
  /**
   * pin_user_pages_fast over `pages` pages at page-aligned `addr`: the pages behind a mapping
   * whose backend can be pinned (anonymous shared memory), faulted in first. A user memory
   * without mappings lacks it (the kernel then answers EFAULT).
   * @throws ErrnoError EFAULT when any page is not in one pinnable mapping
   */
  pinUserPages?(addr: bigint, pages: number, write: boolean): PinnedPages;
}

/** What a file's ioctl may do besides reading its argument. */
export interface IoctlContext {
  readonly user: UserMemory;
  /** The open file behind `fd`, or undefined when `fd` is not open (fdget). */
  fget(fd: number): KernelFile | undefined;
  /** Install `file` in the process's fd table; returns the new fd (anon_inode_getfd). */
  installFd(file: KernelFile, flags?: { cloexec?: boolean }): number;
}

/** The backing of one mmap of a file. Offsets are bytes from the start of the mapping. */
export interface MappingBackend {
  /** @throws SigbusError when a byte is not accessible to the host. */
  read(offset: number, length: number): Uint8Array;
  /** @throws SigbusError */
  write(offset: number, bytes: Uint8Array): void;
  /** munmap / process exit. */
  unmap(): void;
  /**
   * Pin `pages` pages from byte `offset` of the mapping (page aligned), allocating them.
   * Absent: the mapping cannot be pinned (EFAULT).
   * @throws ErrnoError ENOMEM when a page cannot be allocated
   */
  pin?(offset: number, pages: number, write: boolean): PinnedPages;
}

/** A kernel file object. Methods a file type lacks make the syscall fail as Linux does. */
export interface KernelFile {
  /** 'gunyah', 'gunyah-vm', 'gh-vcpu:<id>', '[gh-gmem]', '[eventfd]'. */
  readonly name: string;
  /** `arg` is the raw ioctl argument (an integer or a user pointer). No handler → ENOTTY. */
  ioctl?(request: number, arg: bigint, ctx: IoctlContext): number | Promise<number>;
  /**
   * mmap with MAP_SHARED. `addr` is the mapping's user address (for SigbusError).
   * No handler → ENODEV.
   */
  mmap?(length: number, offset: number, addr: bigint): MappingBackend;
  /** No handler → EINVAL. */
  read?(length: number): Promise<Uint8Array>;
  /** No handler → EINVAL. */
  write?(bytes: Uint8Array): number;
  /** No handler → ENODEV (Linux: fallocate of a file that is neither regular nor a block device). */
  fallocate?(mode: number, offset: number, length: number): void | Promise<void>;
  /** The last reference went away (close of the last fd and of every mapping). */
  release(): void | Promise<void>;
}
