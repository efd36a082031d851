/**
 * The HostProcess contract as a structural type, so the convenience layer runs against any
 * implementation of it (the in-process emulator, or a bridge to a daemon).
 *
 * Reference: DESIGN.md "Public contracts" (HostProcess).
 */
export interface HostMapping {
  readonly addr: bigint;
  readonly length: number;
  read(offset: number, length: number): Uint8Array;
  write(offset: number, bytes: Uint8Array): void;
  unmap(): Promise<void> | void;
}

export interface HostLike {
  open(path: string): number;
  ioctl(fd: number, request: number, arg?: number | bigint): Promise<number>;
  malloc(size: number): bigint;
  free(ptr: bigint): void;
  peek(ptr: bigint, len: number): Uint8Array;
  poke(ptr: bigint, bytes: Uint8Array): void;
  mmap(fd: number, length: number, offset?: number): HostMapping;
  eventfd(initval?: number, flags?: number): number;
  read(fd: number, length: number): Promise<Uint8Array>;
  write(fd: number, bytes: Uint8Array): number;
  fallocate(fd: number, mode: number, offset: number, length: number): Promise<void> | void;
  close(fd: number): Promise<void> | void;
}

/** ioctl with an argument struct placed in user memory for the call. */
export async function ioctlWith(host: HostLike, fd: number, request: number, arg: Uint8Array): Promise<number> {
  const ptr = host.malloc(arg.length);
  try {
    host.poke(ptr, arg);
    return await host.ioctl(fd, request, ptr);
  } finally {
    host.free(ptr);
  }
}
