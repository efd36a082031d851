/**
 * The raw HostProcess contract as a C VMM uses it: an ioctl argument struct is laid out by hand
 * in user memory (malloc + poke) and the ioctl gets its address; a struct that points at another
 * struct (gunyah_fn_desc.arg) gets the address of a second allocation. Every call is recorded
 * so the CLI can print the sequence it issued.
 *
 * Reference: DESIGN.md "Public contracts" (HostProcess); uapi.md §1–§3 (request numbers, struct
 * layouts; the kernel copies `arg_size` bytes from `fn_desc.arg`, §6.2 ADD_FUNCTION rows).
 */
import type { HostProcess } from '../host/process.js';
import { GUNYAH_VM_ADD_FUNCTION, gunyahIoctlName } from '../vm-mgr/uapi/ioctls.js';
import { encodeFnDesc } from '../vm-mgr/uapi/structs.js';

/** One syscall the scenario issued, for the report. */
export interface SyscallRecord {
  /** The syscall, or for ioctl the request's upstream name ('open', 'GUNYAH_VM_START', 'mmap'). */
  readonly name: string;
  /** The call as written in C, with fds and user pointers. */
  readonly call: string;
  readonly detail: string;
  readonly result: string;
}

/** A HostProcess plus the log of what was asked of it. */
export interface RawHost {
  readonly host: HostProcess;
  readonly log: SyscallRecord[];
}

const hex = (v: number | bigint): string => `0x${v.toString(16)}`;
const requestName = (request: number): string => gunyahIoctlName(request) ?? hex(request);

/** Copy `bytes` into a fresh user allocation; the caller frees it. */
function place(host: HostProcess, bytes: Uint8Array): bigint {
  const ptr = host.malloc(Math.max(bytes.byteLength, 1));
  host.poke(ptr, bytes);
  return ptr;
}

/** ioctl(fd, request, 0) or with an immediate integer argument. */
export async function ioctlImm(raw: RawHost, fd: number, request: number, detail = '', arg = 0): Promise<number> {
  const r = await raw.host.ioctl(fd, request, arg);
  raw.log.push({ name: requestName(request), call: `ioctl(${fd}, ${requestName(request)})`, detail, result: String(r) });
  return r;
}

/** ioctl(fd, request, &struct): `struct` is placed in user memory for the call, then freed. */
export async function ioctlStruct(raw: RawHost, fd: number, request: number, struct: Uint8Array, detail = ''): Promise<number> {
  const ptr = place(raw.host, struct);
  try {
    const r = await raw.host.ioctl(fd, request, ptr);
    raw.log.push({ name: requestName(request), call: `ioctl(${fd}, ${requestName(request)}, ${hex(ptr)})`, detail, result: String(r) });
    return r;
  } finally {
    raw.host.free(ptr);
  }
}

/**
 * GUNYAH_VM_ADD_FUNCTION: the type-specific argument goes into its own allocation, and
 * gunyah_fn_desc carries its address and size; the kernel follows the pointer (uapi.md §3).
 */
export async function addFunction(raw: RawHost, vmFd: number, type: number, arg: Uint8Array, detail = ''): Promise<number> {
  const argPtr = place(raw.host, arg);
  try {
    return await ioctlStruct(raw, vmFd, GUNYAH_VM_ADD_FUNCTION, encodeFnDesc({ type, argSize: arg.byteLength, arg: argPtr }), detail);
  } finally {
    raw.host.free(argPtr);
  }
}
