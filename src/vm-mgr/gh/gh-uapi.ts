/**
 * The `gh_` (v14 / Android Common Kernel) dialect of `/dev/gunyah`: its request numbers, the
 * memory flags of its user-memory regions, its capability and auth-type numbers, and codecs for
 * the two argument structs v17 does not have (`gh_userspace_memory_region`, 32 bytes, and the
 * Android firmware config, 16 bytes). Everything the two dialects share (the 'G' numbers 0x0 and
 * 0x2–0x7, `gunyah_fn_desc`, the function argument structs, `gunyah_vm_dtb_config`) comes from
 * ../uapi and is only renamed here.
 *
 * Reference: README.md §Dialects (numbers, struct layouts, `GH_MEM_ALLOW_*` 0x1/0x2/0x4, the 'A'
 * ioctls); uapi.md §1 (the `_IOC` encoding); rm-rpc.md §12.2 (auth types: 2 is the one
 * Linux calls QCOM_ANDROID_PVM). Names are the upstream `GH_*` ones.
 *
 *   'G' (0x47): nr 0x0 CREATE_VM … 0x7 REMOVE_FUNCTION, with nr 0x1 = SET_USER_MEM_REGION
 *   'A' (0x41): 0x10 TENTATIVE_UAPI, 0x11 LEND_USER_MEM, 0x12 SET_FW_CONFIG, 0x13 RECLAIM_REGION,
 *               0x15 MAP_CMA_MEM, 0x16 SET_AUTH_TYPE, 0x17 CHECK_EXTENSION
 */
import { assertU32, assertU64, view } from '../../shared/bytes.js';
import { WireError } from '../../shared/wire-error.js';
import { _IO, _IOW, GunyahIoctl } from '../uapi/ioctls.js';
import { SIZEOF } from '../uapi/structs.js';

/** The ioctl type byte of linux/gunyah.h (shared with v17): `'G'`. */
export const GH_IOCTL_TYPE = 0x47;
/** The Android-only ioctl type byte of the ACK header: `'A'`. */
export const GH_ANDROID_IOCTL_TYPE = 0x41;

/** sizeof of the gh-only structs, in bytes (README.md §Dialects). */
export const GH_SIZEOF = {
  /** `struct gh_userspace_memory_region` (SET_USER_MEM_REGION and ANDROID_LEND_USER_MEM). */
  gh_userspace_memory_region: 32,
  /** The firmware config of GH_VM_ANDROID_SET_FW_CONFIG: guest_phys_addr, size. */
  gh_vm_firmware_config: 16,
  /** GH_VM_RECLAIM_REGION's argument: guest_phys_addr, size. */
  gh_vm_reclaim_region: 16,
  /** GH_VM_ANDROID_MAP_CMA_MEM's argument (layout not needed: the ioctl is not covered). */
  gh_map_cma_mem_args: 40,
  /** GH_VM_ANDROID_SET_AUTH_TYPE's argument (layout not needed: the ioctl is not covered). */
  gh_auth_vm_mgr_arg: 16,
} as const;

const G = GH_IOCTL_TYPE;
const A = GH_ANDROID_IOCTL_TYPE;

// ── 'G' requests: the shared numbers under their gh_ names, and nr 0x1 ─────────────────────

/** `/dev/gunyah`: create a VM (integer argument 0). Same number as GUNYAH_CREATE_VM. */
export const GH_CREATE_VM = GunyahIoctl.GUNYAH_CREATE_VM;
/** VM fd: share host user memory with the guest (`gh_userspace_memory_region`). */
export const GH_VM_SET_USER_MEM_REGION = _IOW(G, 0x1, GH_SIZEOF.gh_userspace_memory_region);
/** VM fd: where the DTB is (`gh_vm_dtb_config`, the v17 layout). */
export const GH_VM_SET_DTB_CONFIG = GunyahIoctl.GUNYAH_VM_SET_DTB_CONFIG;
/** VM fd: start the VM. */
export const GH_VM_START = GunyahIoctl.GUNYAH_VM_START;
/** VM fd: add a function (`gh_fn_desc`, the v17 layout). */
export const GH_VM_ADD_FUNCTION = GunyahIoctl.GUNYAH_VM_ADD_FUNCTION;
/** vCPU fd: run. */
export const GH_VCPU_RUN = GunyahIoctl.GUNYAH_VCPU_RUN;
/** vCPU fd: run-page size. */
export const GH_VCPU_MMAP_SIZE = GunyahIoctl.GUNYAH_VCPU_MMAP_SIZE;
/** VM fd: remove functions (`gh_fn_desc`). */
export const GH_VM_REMOVE_FUNCTION = GunyahIoctl.GUNYAH_VM_REMOVE_FUNCTION;

// ── 'A' requests (Android Common Kernel) ───────────────────────────────────────────────────

/** The first number of the ACK's tentative Android range. */
export const GH_ANDROID_TENTATIVE_UAPI = _IO(A, 0x10);
/** VM fd: lend host user memory to the guest (`gh_userspace_memory_region`). */
export const GH_VM_ANDROID_LEND_USER_MEM = _IOW(A, 0x11, GH_SIZEOF.gh_userspace_memory_region);
/** VM fd: where the protected VM's firmware is; auth becomes QCOM_ANDROID_PVM. */
export const GH_VM_ANDROID_SET_FW_CONFIG = _IOW(A, 0x12, GH_SIZEOF.gh_vm_firmware_config);
/** VM fd: take a guest range back (balloon inflate). */
export const GH_VM_RECLAIM_REGION = _IOW(A, 0x13, GH_SIZEOF.gh_vm_reclaim_region);
/** VM fd: lend or share a memfd-backed (CMA) region. */
export const GH_VM_ANDROID_MAP_CMA_MEM = _IOW(A, 0x15, GH_SIZEOF.gh_map_cma_mem_args);
/** VM fd: choose the VM's authentication type. */
export const GH_VM_ANDROID_SET_AUTH_TYPE = _IOW(A, 0x16, GH_SIZEOF.gh_auth_vm_mgr_arg);
/** VM fd: ask for an optional capability (integer argument = capability id). */
export const GH_VM_CHECK_EXTENSION = _IO(A, 0x17);

/** Every gh_ request number by upstream name, 'G' then 'A', in nr order. */
export const GhIoctl = {
  GH_CREATE_VM,
  GH_VM_SET_USER_MEM_REGION,
  GH_VM_SET_DTB_CONFIG,
  GH_VM_START,
  GH_VM_ADD_FUNCTION,
  GH_VCPU_RUN,
  GH_VCPU_MMAP_SIZE,
  GH_VM_REMOVE_FUNCTION,
  GH_ANDROID_TENTATIVE_UAPI,
  GH_VM_ANDROID_LEND_USER_MEM,
  GH_VM_ANDROID_SET_FW_CONFIG,
  GH_VM_RECLAIM_REGION,
  GH_VM_ANDROID_MAP_CMA_MEM,
  GH_VM_ANDROID_SET_AUTH_TYPE,
  GH_VM_CHECK_EXTENSION,
} as const;
export type GhIoctlName = keyof typeof GhIoctl;

const GH_NAMES: ReadonlyMap<number, GhIoctlName> = new Map(
  (Object.entries(GhIoctl) as Array<[GhIoctlName, number]>).map(([name, value]) => [value, name]),
);

/** The upstream gh_ name of a request number, or undefined (for logs and traces). */
export function ghIoctlName(request: number): GhIoctlName | undefined {
  return GH_NAMES.get(request >>> 0);
}

// ── flags and enums ────────────────────────────────────────────────────────────────────────

/** Guest may read the region. */
export const GH_MEM_ALLOW_READ = 0x1;
/** Guest may write the region (the pages are pinned for writing). */
export const GH_MEM_ALLOW_WRITE = 0x2;
/** Guest may execute from the region. */
export const GH_MEM_ALLOW_EXEC = 0x4;
/** Every flag bit the region ioctls accept. */
export const GH_MEM_VALID_FLAGS = GH_MEM_ALLOW_READ | GH_MEM_ALLOW_WRITE | GH_MEM_ALLOW_EXEC;

/** GH_VM_CHECK_EXTENSION capability: the hypervisor wakes a proxy-scheduled vCPU on its timer. */
export const GH_CAP_VCPU_TIMER_WAKEUP = 0;

/** VM_CONFIG_IMAGE auth types as Linux names them (rm-rpc.md §12.2). */
export const GhVmAuth = {
  GH_RM_VM_AUTH_NONE: 0,
  GH_RM_VM_AUTH_QCOM_PIL_ELF: 1,
  GH_RM_VM_AUTH_QCOM_ANDROID_PVM: 2,
} as const;
export type GhVmAuth = (typeof GhVmAuth)[keyof typeof GhVmAuth];

// ── struct codecs ──────────────────────────────────────────────────────────────────────────

function exact(b: Uint8Array, size: number, name: string): DataView {
  if (b.byteLength < size) throw new WireError('short', { what: `${name} needs ${size} bytes, got ${b.byteLength}` });
  if (b.byteLength > size) throw new WireError('long', { what: `${name} is ${size} bytes, got ${b.byteLength}` });
  return view(b);
}

/**
 * `struct gh_userspace_memory_region`: label @0 u32, flags @4 u32, guest_phys_addr @8 u64,
 * memory_size @16 u64, userspace_addr @24 u64.
 */
export type GhUserMemRegion = Readonly<{ label: number; flags: number; guestPhysAddr: bigint; memorySize: bigint; userspaceAddr: bigint }>;

export function decodeGhUserMemRegion(b: Uint8Array): GhUserMemRegion {
  const v = exact(b, GH_SIZEOF.gh_userspace_memory_region, 'gh_userspace_memory_region');
  return {
    label: v.getUint32(0, true),
    flags: v.getUint32(4, true),
    guestPhysAddr: v.getBigUint64(8, true),
    memorySize: v.getBigUint64(16, true),
    userspaceAddr: v.getBigUint64(24, true),
  };
}

export function encodeGhUserMemRegion(a: GhUserMemRegion): Uint8Array {
  const out = new Uint8Array(GH_SIZEOF.gh_userspace_memory_region);
  const v = view(out);
  assertU32(a.label, 'label');
  assertU32(a.flags, 'flags');
  assertU64(a.guestPhysAddr, 'guestPhysAddr');
  assertU64(a.memorySize, 'memorySize');
  assertU64(a.userspaceAddr, 'userspaceAddr');
  v.setUint32(0, a.label, true);
  v.setUint32(4, a.flags, true);
  v.setBigUint64(8, a.guestPhysAddr, true);
  v.setBigUint64(16, a.memorySize, true);
  v.setBigUint64(24, a.userspaceAddr, true);
  return out;
}

/** GH_VM_ANDROID_SET_FW_CONFIG's argument: guest_phys_addr @0 u64, size @8 u64. */
export type GhFwConfig = Readonly<{ guestPhysAddr: bigint; size: bigint }>;

export function decodeGhFwConfig(b: Uint8Array): GhFwConfig {
  const v = exact(b, GH_SIZEOF.gh_vm_firmware_config, 'gh_vm_firmware_config');
  return { guestPhysAddr: v.getBigUint64(0, true), size: v.getBigUint64(8, true) };
}

export function encodeGhFwConfig(a: GhFwConfig): Uint8Array {
  const out = new Uint8Array(GH_SIZEOF.gh_vm_firmware_config);
  const v = view(out);
  assertU64(a.guestPhysAddr, 'guestPhysAddr');
  assertU64(a.size, 'size');
  v.setBigUint64(0, a.guestPhysAddr, true);
  v.setBigUint64(8, a.size, true);
  return out;
}

/** `gh_vm_dtb_config` has the v17 size (README.md §Dialects: same struct). */
export const GH_SIZEOF_DTB_CONFIG = SIZEOF.gunyah_vm_dtb_config;
