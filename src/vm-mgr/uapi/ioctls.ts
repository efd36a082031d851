/**
 * The v17 `/dev/gunyah` ioctl request numbers, built with the asm-generic `_IOC` encoding that
 * arm64 uses, and a decoder for any request number.
 *
 * Reference: uapi.md §1 (encoding: nr bits 7:0, type 15:8, size 29:16, direction 31:30),
 * §2 (the table; the sizes come from structs.ts `SIZEOF`). Names are the upstream ones.
 *
 *    31 30 29                          16 15            8 7             0
 *   ┌─────┬──────────────────────────────┬───────────────┬───────────────┐
 *   │ dir │ size (14 bits)               │ type ('G')    │ nr            │
 *   └─────┴──────────────────────────────┴───────────────┴───────────────┘
 */
import { SIZEOF } from './structs.js';

/** `_IOC` direction: no argument transfer. */
export const _IOC_NONE = 0;
/** `_IOC` direction: userspace writes, the kernel reads (`_IOW`). */
export const _IOC_WRITE = 1;
/** `_IOC` direction: the kernel writes, userspace reads (`_IOR`). */
export const _IOC_READ = 2;

const NR_BITS = 8;
const TYPE_BITS = 8;
const SIZE_BITS = 14;
const DIR_BITS = 2;
const NR_SHIFT = 0;
const TYPE_SHIFT = NR_SHIFT + NR_BITS;
const SIZE_SHIFT = TYPE_SHIFT + TYPE_BITS;
const DIR_SHIFT = SIZE_SHIFT + SIZE_BITS;

/** The ioctl type byte of linux/gunyah.h: `'G'`. */
export const GUNYAH_IOCTL_TYPE = 0x47;

function field(v: number, bits: number, what: string): number {
  if (!Number.isInteger(v) || v < 0 || v >= 2 ** bits) throw new RangeError(`ioctl ${what} ${v} does not fit ${bits} bits`);
  return v;
}

/** `_IOC(dir, type, nr, size)` as an unsigned 32-bit number. */
export function _IOC(dir: number, type: number, nr: number, size: number): number {
  return (
    ((field(dir, DIR_BITS, 'dir') << DIR_SHIFT) |
      (field(size, SIZE_BITS, 'size') << SIZE_SHIFT) |
      (field(type, TYPE_BITS, 'type') << TYPE_SHIFT) |
      (field(nr, NR_BITS, 'nr') << NR_SHIFT)) >>>
    0
  );
}
/** `_IO(type, nr)`: no argument struct. */
export const _IO = (type: number, nr: number): number => _IOC(_IOC_NONE, type, nr, 0);
/** `_IOW(type, nr, size)`: the argument struct is copied from userspace. */
export const _IOW = (type: number, nr: number, size: number): number => _IOC(_IOC_WRITE, type, nr, size);
/** `_IOR(type, nr, size)`: the argument struct is copied to userspace (unused by v17 Gunyah). */
export const _IOR = (type: number, nr: number, size: number): number => _IOC(_IOC_READ, type, nr, size);
/** `_IOWR(type, nr, size)`: both directions (unused by v17 Gunyah). */
export const _IOWR = (type: number, nr: number, size: number): number => _IOC(_IOC_READ | _IOC_WRITE, type, nr, size);

const G = GUNYAH_IOCTL_TYPE;

/** `/dev/gunyah`: create a VM; the integer argument must be 0. Returns the VM fd. */
export const GUNYAH_CREATE_VM = _IO(G, 0x0);
/** VM fd: where the DTB goes (`gunyah_vm_dtb_config`). */
export const GUNYAH_VM_SET_DTB_CONFIG = _IOW(G, 0x2, SIZEOF.gunyah_vm_dtb_config);
/** VM fd: start the VM. */
export const GUNYAH_VM_START = _IO(G, 0x3);
/** VM fd: add a function (`gunyah_fn_desc`). Returns a vCPU fd or 0. */
export const GUNYAH_VM_ADD_FUNCTION = _IOW(G, 0x4, SIZEOF.gunyah_fn_desc);
/** vCPU fd: run until an exit; the result is in the run page. */
export const GUNYAH_VCPU_RUN = _IO(G, 0x5);
/** vCPU fd: size of the run-page mapping (PAGE_SIZE). */
export const GUNYAH_VCPU_MMAP_SIZE = _IO(G, 0x6);
/** VM fd: remove every function instance that compares equal (`gunyah_fn_desc`). */
export const GUNYAH_VM_REMOVE_FUNCTION = _IOW(G, 0x7, SIZEOF.gunyah_fn_desc);
/** `/dev/gunyah`: create a guest-memory file (`gunyah_create_mem_args`). Returns its fd. */
export const GUNYAH_CREATE_GUEST_MEM = _IOW(G, 0x8, SIZEOF.gunyah_create_mem_args);
/** VM fd: bind (or with GUNYAH_MEM_UNMAP unbind) guest memory (`gunyah_map_mem_args`). */
export const GUNYAH_VM_MAP_MEM = _IOW(G, 0x9, SIZEOF.gunyah_map_mem_args);
/** VM fd: set an initial register (`gunyah_vm_boot_context`). */
export const GUNYAH_VM_SET_BOOT_CONTEXT = _IOW(G, 0xa, SIZEOF.gunyah_vm_boot_context);

/** Every v17 request number by upstream name (uapi.md §2), in nr order. */
export const GunyahIoctl = {
  GUNYAH_CREATE_VM,
  GUNYAH_VM_SET_DTB_CONFIG,
  GUNYAH_VM_START,
  GUNYAH_VM_ADD_FUNCTION,
  GUNYAH_VCPU_RUN,
  GUNYAH_VCPU_MMAP_SIZE,
  GUNYAH_VM_REMOVE_FUNCTION,
  GUNYAH_CREATE_GUEST_MEM,
  GUNYAH_VM_MAP_MEM,
  GUNYAH_VM_SET_BOOT_CONTEXT,
} as const;
export type GunyahIoctlName = keyof typeof GunyahIoctl;

const IOCTL_NAMES: ReadonlyMap<number, GunyahIoctlName> = new Map(
  (Object.entries(GunyahIoctl) as Array<[GunyahIoctlName, number]>).map(([name, value]) => [value, name]),
);

/** The upstream name of a v17 request number, or undefined (for logs and traces). */
export function gunyahIoctlName(request: number): GunyahIoctlName | undefined {
  return IOCTL_NAMES.get(request >>> 0);
}

/** The fields of an ioctl request number. */
export type DecodedIoctl = Readonly<{
  /** `_IOC_NONE` 0, `_IOC_WRITE` 1, `_IOC_READ` 2, both 3. */
  dir: number;
  /** Argument struct size in bytes (0 for `_IO`). */
  size: number;
  /** Type byte (0x47 `'G'` for Gunyah). */
  type: number;
  /** Number within the type. */
  nr: number;
}>;

/** Split any request number (taken as an unsigned 32-bit value) into its `_IOC` fields. */
export function decodeIoctl(request: number): DecodedIoctl {
  const r = request >>> 0;
  return {
    dir: (r >>> DIR_SHIFT) & ((1 << DIR_BITS) - 1),
    size: (r >>> SIZE_SHIFT) & ((1 << SIZE_BITS) - 1),
    type: (r >>> TYPE_SHIFT) & ((1 << TYPE_BITS) - 1),
    nr: (r >>> NR_SHIFT) & ((1 << NR_BITS) - 1),
  };
}
