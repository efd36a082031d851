/**
 * The v17 `/dev/gunyah` ioctl argument structs as pure codecs: fixed little-endian layouts,
 * 64-bit fields as bigint, one readonly record per struct.
 *
 * Reference: uapi.md §3 (field offsets and sizes), §5 (gunyah_vcpu_run size). Record field names
 * are the upstream C names in camelCase (`guest_phys_addr` → `guestPhysAddr`).
 *
 * Decoders take exactly `sizeof(struct)` bytes (what the kernel's copy_from_user reads) and throw
 * WireError('short' | 'long') otherwise. They do not validate meaning: reserved bits, padding,
 * alignment and flag checks belong to the kernel model (uapi.md §6), so padding and reserved
 * fields are decoded as they are and can be set by encoders, to exercise "not checked" rows.
 * Encoders throw RangeError for values that do not fit their field.
 */
import { assertU16, assertU32, assertU64, view } from '../../shared/bytes.js';
import { WireError } from '../../shared/wire-error.js';

/** sizeof of each UAPI struct, in bytes (uapi.md §3, §5). */
export const SIZEOF = {
  gunyah_create_mem_args: 64,
  gunyah_vm_dtb_config: 16,
  gunyah_fn_desc: 16,
  gunyah_fn_vcpu_arg: 4,
  gunyah_fn_irqfd_arg: 16,
  gunyah_fn_ioeventfd_arg: 32,
  gunyah_map_mem_args: 32,
  gunyah_vm_boot_context: 16,
  gunyah_vm_exit_info: 16,
  gunyah_vcpu_run: 40,
} as const;
export type UapiStructName = keyof typeof SIZEOF;

/** Number of `reserved` u64 words in gunyah_create_mem_args. */
const CREATE_MEM_RESERVED_WORDS = 6;

/** A DataView over `b` after checking it is exactly `sizeof(name)` bytes. */
function exact(b: Uint8Array, name: UapiStructName): DataView {
  const want = SIZEOF[name];
  if (b.byteLength < want) throw new WireError('short', { what: `${name} needs ${want} bytes, got ${b.byteLength}` });
  if (b.byteLength > want) throw new WireError('long', { what: `${name} is ${want} bytes, got ${b.byteLength}` });
  return view(b);
}

/** A zeroed buffer of `sizeof(name)` bytes and a view over it. */
function blank(name: UapiStructName): [Uint8Array, DataView] {
  const out = new Uint8Array(SIZEOF[name]);
  return [out, view(out)];
}

function assertS32(v: number, what: string): void {
  if (!Number.isInteger(v) || v < -0x8000_0000 || v > 0x7fff_ffff) throw new RangeError(`${what} must be an s32, got ${v}`);
}

// ── gunyah_create_mem_args (64) ────────────────────────────────────────────────────────────

/** `struct gunyah_create_mem_args`: flags @0 u64, size @8 u64, reserved[6] @16 u64×6. */
export type CreateMemArgs = Readonly<{ flags: bigint; size: bigint; reserved: readonly bigint[] }>;
/** Encoder input: `reserved` defaults to zeros. */
export type CreateMemArgsInit = Readonly<{ flags: bigint; size: bigint; reserved?: readonly bigint[] }>;

export function decodeCreateMemArgs(b: Uint8Array): CreateMemArgs {
  const v = exact(b, 'gunyah_create_mem_args');
  const reserved: bigint[] = [];
  for (let i = 0; i < CREATE_MEM_RESERVED_WORDS; i++) reserved.push(v.getBigUint64(16 + 8 * i, true));
  return { flags: v.getBigUint64(0, true), size: v.getBigUint64(8, true), reserved };
}

export function encodeCreateMemArgs(a: CreateMemArgsInit): Uint8Array {
  const [out, v] = blank('gunyah_create_mem_args');
  assertU64(a.flags, 'flags');
  assertU64(a.size, 'size');
  const reserved = a.reserved ?? [];
  if (reserved.length > CREATE_MEM_RESERVED_WORDS) throw new RangeError(`reserved has ${reserved.length} words, at most 6`);
  v.setBigUint64(0, a.flags, true);
  v.setBigUint64(8, a.size, true);
  reserved.forEach((w, i) => {
    assertU64(w, `reserved[${i}]`);
    v.setBigUint64(16 + 8 * i, w, true);
  });
  return out;
}

// ── gunyah_vm_dtb_config (16) ──────────────────────────────────────────────────────────────

/** `struct gunyah_vm_dtb_config`: guest_phys_addr @0 u64, size @8 u64. */
export type VmDtbConfig = Readonly<{ guestPhysAddr: bigint; size: bigint }>;

export function decodeVmDtbConfig(b: Uint8Array): VmDtbConfig {
  const v = exact(b, 'gunyah_vm_dtb_config');
  return { guestPhysAddr: v.getBigUint64(0, true), size: v.getBigUint64(8, true) };
}

export function encodeVmDtbConfig(a: VmDtbConfig): Uint8Array {
  const [out, v] = blank('gunyah_vm_dtb_config');
  assertU64(a.guestPhysAddr, 'guestPhysAddr');
  assertU64(a.size, 'size');
  v.setBigUint64(0, a.guestPhysAddr, true);
  v.setBigUint64(8, a.size, true);
  return out;
}

// ── gunyah_fn_desc (16) ────────────────────────────────────────────────────────────────────

/** `struct gunyah_fn_desc`: type @0 u32, arg_size @4 u32, arg @8 u64 (a user pointer). */
export type FnDesc = Readonly<{ type: number; argSize: number; arg: bigint }>;

export function decodeFnDesc(b: Uint8Array): FnDesc {
  const v = exact(b, 'gunyah_fn_desc');
  return { type: v.getUint32(0, true), argSize: v.getUint32(4, true), arg: v.getBigUint64(8, true) };
}

export function encodeFnDesc(a: FnDesc): Uint8Array {
  const [out, v] = blank('gunyah_fn_desc');
  assertU32(a.type, 'type');
  assertU32(a.argSize, 'argSize');
  assertU64(a.arg, 'arg');
  v.setUint32(0, a.type, true);
  v.setUint32(4, a.argSize, true);
  v.setBigUint64(8, a.arg, true);
  return out;
}

// ── gunyah_fn_vcpu_arg (4) ─────────────────────────────────────────────────────────────────

/** `struct gunyah_fn_vcpu_arg`: id @0 u32. */
export type FnVcpuArg = Readonly<{ id: number }>;

export function decodeFnVcpuArg(b: Uint8Array): FnVcpuArg {
  const v = exact(b, 'gunyah_fn_vcpu_arg');
  return { id: v.getUint32(0, true) };
}

export function encodeFnVcpuArg(a: FnVcpuArg): Uint8Array {
  const [out, v] = blank('gunyah_fn_vcpu_arg');
  assertU32(a.id, 'id');
  v.setUint32(0, a.id, true);
  return out;
}

// ── gunyah_fn_irqfd_arg (16) ───────────────────────────────────────────────────────────────

/** `struct gunyah_fn_irqfd_arg`: fd @0 u32, label @4 u32, flags @8 u32, padding @12 u32. */
export type FnIrqfdArg = Readonly<{ fd: number; label: number; flags: number; padding: number }>;
/** Encoder input: `padding` defaults to 0. */
export type FnIrqfdArgInit = Readonly<{ fd: number; label: number; flags: number; padding?: number }>;

export function decodeFnIrqfdArg(b: Uint8Array): FnIrqfdArg {
  const v = exact(b, 'gunyah_fn_irqfd_arg');
  return { fd: v.getUint32(0, true), label: v.getUint32(4, true), flags: v.getUint32(8, true), padding: v.getUint32(12, true) };
}

export function encodeFnIrqfdArg(a: FnIrqfdArgInit): Uint8Array {
  const [out, v] = blank('gunyah_fn_irqfd_arg');
  const padding = a.padding ?? 0;
  assertU32(a.fd, 'fd');
  assertU32(a.label, 'label');
  assertU32(a.flags, 'flags');
  assertU32(padding, 'padding');
  v.setUint32(0, a.fd, true);
  v.setUint32(4, a.label, true);
  v.setUint32(8, a.flags, true);
  v.setUint32(12, padding, true);
  return out;
}

// ── gunyah_fn_ioeventfd_arg (32) ───────────────────────────────────────────────────────────

/**
 * `struct gunyah_fn_ioeventfd_arg`: datamatch @0 u64, addr @8 u64, len @16 u32, fd @20 s32,
 * flags @24 u32, padding @28 u32.
 */
export type FnIoeventfdArg = Readonly<{
  datamatch: bigint;
  addr: bigint;
  len: number;
  fd: number;
  flags: number;
  padding: number;
}>;
/** Encoder input: `padding` defaults to 0. */
export type FnIoeventfdArgInit = Readonly<{
  datamatch: bigint;
  addr: bigint;
  len: number;
  fd: number;
  flags: number;
  padding?: number;
}>;

export function decodeFnIoeventfdArg(b: Uint8Array): FnIoeventfdArg {
  const v = exact(b, 'gunyah_fn_ioeventfd_arg');
  return {
    datamatch: v.getBigUint64(0, true),
    addr: v.getBigUint64(8, true),
    len: v.getUint32(16, true),
    fd: v.getInt32(20, true),
    flags: v.getUint32(24, true),
    padding: v.getUint32(28, true),
  };
}

export function encodeFnIoeventfdArg(a: FnIoeventfdArgInit): Uint8Array {
  const [out, v] = blank('gunyah_fn_ioeventfd_arg');
  const padding = a.padding ?? 0;
  assertU64(a.datamatch, 'datamatch');
  assertU64(a.addr, 'addr');
  assertU32(a.len, 'len');
  assertS32(a.fd, 'fd');
  assertU32(a.flags, 'flags');
  assertU32(padding, 'padding');
  v.setBigUint64(0, a.datamatch, true);
  v.setBigUint64(8, a.addr, true);
  v.setUint32(16, a.len, true);
  v.setInt32(20, a.fd, true);
  v.setUint32(24, a.flags, true);
  v.setUint32(28, padding, true);
  return out;
}

// ── gunyah_map_mem_args (32) ───────────────────────────────────────────────────────────────

/**
 * `struct gunyah_map_mem_args`: guest_addr @0 u64, flags @8 u32, guest_mem_fd @12 u32,
 * offset @16 u64, size @24 u64.
 */
export type MapMemArgs = Readonly<{ guestAddr: bigint; flags: number; guestMemFd: number; offset: bigint; size: bigint }>;

export function decodeMapMemArgs(b: Uint8Array): MapMemArgs {
  const v = exact(b, 'gunyah_map_mem_args');
  return {
    guestAddr: v.getBigUint64(0, true),
    flags: v.getUint32(8, true),
    guestMemFd: v.getUint32(12, true),
    offset: v.getBigUint64(16, true),
    size: v.getBigUint64(24, true),
  };
}

export function encodeMapMemArgs(a: MapMemArgs): Uint8Array {
  const [out, v] = blank('gunyah_map_mem_args');
  assertU64(a.guestAddr, 'guestAddr');
  assertU32(a.flags, 'flags');
  assertU32(a.guestMemFd, 'guestMemFd');
  assertU64(a.offset, 'offset');
  assertU64(a.size, 'size');
  v.setBigUint64(0, a.guestAddr, true);
  v.setUint32(8, a.flags, true);
  v.setUint32(12, a.guestMemFd, true);
  v.setBigUint64(16, a.offset, true);
  v.setBigUint64(24, a.size, true);
  return out;
}

// ── gunyah_vm_boot_context (16) ────────────────────────────────────────────────────────────

/** `struct gunyah_vm_boot_context`: reg @0 u32, reserved @4 u32, value @8 u64. */
export type VmBootContext = Readonly<{ reg: number; reserved: number; value: bigint }>;
/** Encoder input: `reserved` defaults to 0. */
export type VmBootContextInit = Readonly<{ reg: number; reserved?: number; value: bigint }>;

export function decodeVmBootContext(b: Uint8Array): VmBootContext {
  const v = exact(b, 'gunyah_vm_boot_context');
  return { reg: v.getUint32(0, true), reserved: v.getUint32(4, true), value: v.getBigUint64(8, true) };
}

export function encodeVmBootContext(a: VmBootContextInit): Uint8Array {
  const [out, v] = blank('gunyah_vm_boot_context');
  const reserved = a.reserved ?? 0;
  assertU32(a.reg, 'reg');
  assertU32(reserved, 'reserved');
  assertU64(a.value, 'value');
  v.setUint32(0, a.reg, true);
  v.setUint32(4, reserved, true);
  v.setBigUint64(8, a.value, true);
  return out;
}

// ── gunyah_vm_exit_info (16; inside the run page) ──────────────────────────────────────────

/**
 * `struct gunyah_vm_exit_info`: type @0 u16, padding @2 u16, reason_size @4 u32, reason[8] @8.
 * `reason` is the 8 raw bytes; only the first min(8, reasonSize) carry data (QUIRK K15).
 */
export type VmExitInfo = Readonly<{ type: number; padding: number; reasonSize: number; reason: Uint8Array }>;

export function decodeVmExitInfo(b: Uint8Array): VmExitInfo {
  const v = exact(b, 'gunyah_vm_exit_info');
  return { type: v.getUint16(0, true), padding: v.getUint16(2, true), reasonSize: v.getUint32(4, true), reason: b.slice(8, 16) };
}

export function encodeVmExitInfo(a: VmExitInfo): Uint8Array {
  const [out, v] = blank('gunyah_vm_exit_info');
  assertU16(a.type, 'type');
  assertU16(a.padding, 'padding');
  assertU32(a.reasonSize, 'reasonSize');
  if (a.reason.byteLength > 8) throw new RangeError(`reason has ${a.reason.byteLength} bytes, at most 8`);
  v.setUint16(0, a.type, true);
  v.setUint16(2, a.padding, true);
  v.setUint32(4, a.reasonSize, true);
  out.set(a.reason, 8);
  return out;
}
