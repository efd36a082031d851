/**
 * The /dev/gunyah ioctl describer of the trace: names a v17 request number and decodes its
 * argument with the uapi codecs, reading the struct from user memory as the kernel's
 * copy_from_user would at entry. Function descriptors are decoded with their argument struct
 * (vCPU, irqfd, ioeventfd, and the emulator's SCMI function). A pointer that cannot be read, or
 * an `arg_size` that does not fit the type, leaves the raw values; nothing here throws.
 *
 * `describeGhIoctl` does the same for the gh_ dialect (README.md §Dialects): the gh_ names of the
 * shared numbers, nr 0x1 and the Android 'A' requests, with the user-memory region and firmware
 * config structs decoded.
 *
 * Reference: uapi.md §2 (request numbers), §3 (struct layouts), §4 (flags, boot-context
 * register encoding); src/vm-mgr/uapi/scmi-arg.ts (gunyah_fn_scmi_arg); docs/tracing.md (`ioctl`).
 */
import type { IoctlDescriber, IoctlDescription } from '../host/process.js';
import type { UserMemory } from '../host/kernel-file.js';
import { toHex } from '../shared/bytes.js';
import { hx } from '../shared/trace-events.js';
import {
  GUNYAH_FN_IOEVENTFD,
  GUNYAH_FN_IRQFD,
  GUNYAH_FN_VCPU,
  GUNYAH_VM_BOOT_CONTEXT_REG_SHIFT,
  GunyahMapFlags,
  GUNYAH_MEM_ACCESS_MASK,
} from '../vm-mgr/uapi/constants.js';
import {
  GUNYAH_CREATE_GUEST_MEM,
  GUNYAH_CREATE_VM,
  GUNYAH_VM_ADD_FUNCTION,
  GUNYAH_VM_MAP_MEM,
  GUNYAH_VM_REMOVE_FUNCTION,
  GUNYAH_VM_SET_BOOT_CONTEXT,
  GUNYAH_VM_SET_DTB_CONFIG,
  gunyahIoctlName,
} from '../vm-mgr/uapi/ioctls.js';
import { GUNYAH_FN_SCMI, SIZEOF_FN_SCMI_ARG, decodeFnScmiArg } from '../vm-mgr/uapi/scmi-arg.js';
import {
  SIZEOF,
  decodeCreateMemArgs,
  decodeFnDesc,
  decodeFnIoeventfdArg,
  decodeFnIrqfdArg,
  decodeFnVcpuArg,
  decodeMapMemArgs,
  decodeVmBootContext,
  decodeVmDtbConfig,
} from '../vm-mgr/uapi/structs.js';

import {
  GH_SIZEOF,
  GH_VM_ANDROID_LEND_USER_MEM,
  GH_VM_ANDROID_SET_FW_CONFIG,
  GH_VM_CHECK_EXTENSION,
  GH_VM_SET_USER_MEM_REGION,
  decodeGhFwConfig,
  decodeGhUserMemRegion,
  ghIoctlName,
} from '../vm-mgr/gh/gh-uapi.js';

type Args = Record<string, unknown>;

/** Read `len` bytes at user pointer `ptr`, or undefined when the process cannot. */
function read(user: UserMemory, ptr: bigint, len: number): Uint8Array | undefined {
  try {
    return user.copyFromUser(ptr, len);
  } catch {
    return undefined;
  }
}

const FN_NAMES: Readonly<Record<number, string>> = {
  [GUNYAH_FN_VCPU]: 'GUNYAH_FN_VCPU',
  [GUNYAH_FN_IRQFD]: 'GUNYAH_FN_IRQFD',
  [GUNYAH_FN_IOEVENTFD]: 'GUNYAH_FN_IOEVENTFD',
  [GUNYAH_FN_SCMI]: 'GUNYAH_FN_SCMI',
};

/** The function argument struct of `type`, decoded when `bytes` has its exact size. */
function fnArg(type: number, bytes: Uint8Array): Args | undefined {
  try {
    switch (type) {
      case GUNYAH_FN_VCPU:
        if (bytes.byteLength !== SIZEOF.gunyah_fn_vcpu_arg) return undefined;
        return { ...decodeFnVcpuArg(bytes) };
      case GUNYAH_FN_IRQFD:
        if (bytes.byteLength !== SIZEOF.gunyah_fn_irqfd_arg) return undefined;
        return { ...decodeFnIrqfdArg(bytes) };
      case GUNYAH_FN_IOEVENTFD: {
        if (bytes.byteLength !== SIZEOF.gunyah_fn_ioeventfd_arg) return undefined;
        const a = decodeFnIoeventfdArg(bytes);
        return { datamatch: hx(a.datamatch), addr: hx(a.addr), len: a.len, fd: a.fd, flags: a.flags, padding: a.padding };
      }
      case GUNYAH_FN_SCMI: {
        if (bytes.byteLength !== SIZEOF_FN_SCMI_ARG) return undefined;
        const a = decodeFnScmiArg(bytes);
        const q = (x: typeof a.cmdq) => ({ size: x.size, desc: hx(x.desc), driver: hx(x.driver), device: hx(x.device) });
        const nul = a.name.indexOf(0);
        const name = String.fromCharCode(...a.name.subarray(0, nul < 0 ? a.name.length : nul));
        return {
          agentId: a.agentId,
          flags: a.flags,
          features: hx(a.features),
          kickFd: a.kickFd,
          callFd: a.callFd,
          name,
          deviceMask: hx(a.deviceMask),
          controlMask: hx(a.controlMask),
          protocolMask: hx(a.protocolMask),
          cmdq: q(a.cmdq),
          eventq: q(a.eventq),
        };
      }
      default:
        return undefined;
    }
  } catch {
    return undefined;
  }
}

/** MAP_MEM flags as names: the access field (FORCE_LEND, …) and the bits (ALLOW_READ, …, UNMAP). */
function mapFlagNames(flags: number): string {
  const names: string[] = [];
  const entries = Object.entries(GunyahMapFlags) as Array<[string, number]>;
  const access = flags & GUNYAH_MEM_ACCESS_MASK;
  const accessName = entries.find(([k, v]) => v === access && k !== 'GUNYAH_MEM_ACCESS_MASK');
  if (accessName) names.push(accessName[0].replace(/^GUNYAH_MEM_/, ''));
  else names.push(hx(access));
  let rest = flags & ~GUNYAH_MEM_ACCESS_MASK;
  for (const [k, v] of entries) {
    if ((v & GUNYAH_MEM_ACCESS_MASK) === 0 && v !== 0 && (rest & v) === v && k !== 'GUNYAH_MEM_ALLOW_RWX') {
      names.push(k.replace(/^GUNYAH_MEM_/, ''));
      rest &= ~v;
    }
  }
  if (rest !== 0) names.push(hx(rest >>> 0));
  return names.join('|');
}

function describeArgs(request: number, arg: bigint, user: UserMemory): Args | undefined {
  const struct = (size: number): Uint8Array | undefined => read(user, arg, size);
  switch (request) {
    case GUNYAH_CREATE_VM:
      return { type: hx(arg) };
    case GUNYAH_CREATE_GUEST_MEM: {
      const b = struct(SIZEOF.gunyah_create_mem_args);
      if (!b) return undefined;
      const a = decodeCreateMemArgs(b);
      return { flags: hx(a.flags), size: hx(a.size) };
    }
    case GUNYAH_VM_SET_DTB_CONFIG: {
      const b = struct(SIZEOF.gunyah_vm_dtb_config);
      if (!b) return undefined;
      const a = decodeVmDtbConfig(b);
      return { guestPhysAddr: hx(a.guestPhysAddr), size: hx(a.size) };
    }
    case GUNYAH_VM_MAP_MEM: {
      const b = struct(SIZEOF.gunyah_map_mem_args);
      if (!b) return undefined;
      const a = decodeMapMemArgs(b);
      return { guestAddr: hx(a.guestAddr), flags: hx(a.flags), flagNames: mapFlagNames(a.flags), guestMemFd: a.guestMemFd, offset: hx(a.offset), size: hx(a.size) };
    }
    case GUNYAH_VM_SET_BOOT_CONTEXT: {
      const b = struct(SIZEOF.gunyah_vm_boot_context);
      if (!b) return undefined;
      const a = decodeVmBootContext(b);
      return { reg: hx(a.reg), regSet: a.reg >>> GUNYAH_VM_BOOT_CONTEXT_REG_SHIFT, regIndex: a.reg & 0xff, reserved: a.reserved, value: hx(a.value) };
    }
    case GUNYAH_VM_ADD_FUNCTION:
    case GUNYAH_VM_REMOVE_FUNCTION: {
      const b = struct(SIZEOF.gunyah_fn_desc);
      if (!b) return undefined;
      const d = decodeFnDesc(b);
      const out: Args = { type: d.type, typeName: FN_NAMES[d.type] ?? hx(d.type), argSize: d.argSize, arg: hx(d.arg) };
      if (d.argSize > 0 && d.argSize <= 256) {
        const raw = read(user, d.arg, d.argSize);
        if (raw) out['fn'] = fnArg(d.type, raw) ?? { hex: toHex(raw, '') };
      }
      return out;
    }
    default:
      return arg === 0n ? undefined : { arg: hx(arg) };
  }
}

/** The /dev/gunyah describer (HostProcessOptions.describeIoctl). */
export const describeGunyahIoctl: IoctlDescriber = (request, arg, user): IoctlDescription => {
  const name = gunyahIoctlName(request);
  let args: Args | undefined;
  try {
    args = describeArgs(request, arg, user);
    if (args === undefined && name !== undefined && request !== GUNYAH_CREATE_VM && (request >>> 16) !== 0) args = { arg: hx(arg), unreadable: true };
  } catch {
    args = { arg: hx(arg), unreadable: true };
  }
  return { ...(name !== undefined ? { name } : {}), ...(args !== undefined ? { args } : {}) };
};

/** The gh_ argument structs (README.md §Dialects); undefined for a request gh_ shares with v17. */
function describeGhArgs(request: number, arg: bigint, user: UserMemory): Args | undefined {
  switch (request) {
    case GH_VM_SET_USER_MEM_REGION:
    case GH_VM_ANDROID_LEND_USER_MEM: {
      const b = read(user, arg, GH_SIZEOF.gh_userspace_memory_region);
      if (!b) return { arg: hx(arg), unreadable: true };
      const a = decodeGhUserMemRegion(b);
      return { label: a.label, flags: hx(a.flags), guestPhysAddr: hx(a.guestPhysAddr), memorySize: hx(a.memorySize), userspaceAddr: hx(a.userspaceAddr) };
    }
    case GH_VM_ANDROID_SET_FW_CONFIG: {
      const b = read(user, arg, GH_SIZEOF.gh_vm_firmware_config);
      if (!b) return { arg: hx(arg), unreadable: true };
      const a = decodeGhFwConfig(b);
      return { guestPhysAddr: hx(a.guestPhysAddr), size: hx(a.size) };
    }
    case GH_VM_CHECK_EXTENSION:
      return { capability: hx(arg) };
    default:
      return undefined;
  }
}

/** The gh_ /dev/gunyah describer: gh_ names; gh_-only structs here, shared ones as v17. */
export const describeGhIoctl: IoctlDescriber = (request, arg, user): IoctlDescription => {
  const name = ghIoctlName(request);
  let args: Args | undefined;
  try {
    args = describeGhArgs(request >>> 0, arg, user);
  } catch {
    args = { arg: hx(arg), unreadable: true };
  }
  if (args === undefined) {
    const shared = describeGunyahIoctl(request, arg, user);
    // A v17-only request (MAP_MEM, SET_BOOT_CONTEXT, CREATE_GUEST_MEM) has no gh_ name.
    args = shared.args;
  }
  return { ...(name !== undefined ? { name } : {}), ...(args !== undefined ? { args } : {}) };
};
