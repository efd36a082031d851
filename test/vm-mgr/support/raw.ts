/**
 * Test support: the raw `/dev/gunyah` contract, as a C VMM would use it. Request numbers,
 * flag values and struct layouts are typed by hand from the reference sheet, not taken from
 * src/vm-mgr/uapi: every argument struct is built byte by byte with a DataView at the sheet's
 * offsets, copied into user memory with `malloc` + `poke`, and its pointer handed to `ioctl`.
 * The run page is read at the sheet's offsets too. Only the guest's contents (the DTB from
 * buildVmDtb, the holding-cell image, guest programs) come from the library: they are data
 * the VMM writes into guest memory, not part of the ioctl ABI.
 *
 * Reference: uapi.md §1 (ioctl encoding), §2 (request numbers), §3 (argument structs and their
 * offsets), §4 (flags and enums), §5 (run-page layout); vmm-flows.md §2 (the boot sequence
 * `rawBoot` follows, as quic/gunyah-test-vmm does); docs/guest-images.md (holding cell and
 * guest programs).
 */
import { expect } from 'vitest';
import { createEmulator, type Emulator, type EmulatorOptions } from '../../../src/emulator.js';
import type { HostProcess, Mapping } from '../../../src/host/process.js';
import { isErrnoError } from '../../../src/shared/errno.js';
import { holdingCellImage } from '../../../src/guest/index.js';
import { buildVmDtb, type VmDtbDoorbell } from '../../../src/vmm/index.js';
import { expectCleanShutdown } from './boot.js';

// ── uapi.md §2: request numbers, typed from the sheet's "value" column ─────────────────────

export const REQ = {
  CREATE_VM: 0x0000_4700,
  VM_SET_DTB_CONFIG: 0x4010_4702,
  VM_START: 0x0000_4703,
  VM_ADD_FUNCTION: 0x4010_4704,
  VCPU_RUN: 0x0000_4705,
  VCPU_MMAP_SIZE: 0x0000_4706,
  VM_REMOVE_FUNCTION: 0x4010_4707,
  CREATE_GUEST_MEM: 0x4040_4708,
  VM_MAP_MEM: 0x4020_4709,
  VM_SET_BOOT_CONTEXT: 0x4010_470a,
} as const;

/** uapi.md §1: `_IOC(dir, 'G', nr, size)` by hand, for requests the driver does not know. */
export function ioc(dir: number, nr: number, size: number, type = 0x47): number {
  return ((dir << 30) | (size << 16) | (type << 8) | nr) >>> 0;
}

// ── uapi.md §4: flags and enums ────────────────────────────────────────────────────────────

export const GHMF_CLOEXEC = 0x1;
export const GHMF_ALLOW_HUGEPAGE = 0x2;
export const FN_VCPU = 1;
export const FN_IRQFD = 2;
export const FN_IOEVENTFD = 3;
export const IRQFD_LEVEL = 0x1;
export const IOEVENTFD_DATAMATCH = 0x1;
export const MEM_DEFAULT = 0x0;
export const MEM_LEND = 0x1;
export const MEM_SHARE = 0x2;
export const MEM_R = 0x10;
export const MEM_W = 0x20;
export const MEM_X = 0x40;
export const MEM_RWX = 0x70;
export const MEM_UNMAP = 0x100;
/** fallocate(2) modes. */
export const FALLOC_KEEP_SIZE = 0x1;
export const FALLOC_PUNCH_HOLE = 0x2;
export const FALLOC_ZERO_RANGE = 0x10;
/** Boot-context `reg` words: (set << 8) | index. */
export const REG_X0 = 0x000;
export const REG_PC = 0x100;
export const REG_SP_EL1 = 0x201;
export const EXIT_MMIO = 1;
export const EXIT_STATUS = 2;
export const EXIT_PAGE_FAULT = 3;
export const VM_STATUS_LOAD_FAILED = 1;
export const VM_STATUS_EXITED = 2;
export const VM_STATUS_CRASHED = 3;
export const RESUME_HANDLED = 0;
export const RESUME_FAULT = 1;
export const RESUME_RETRY = 2;

// ── uapi.md §5: run-page offsets ───────────────────────────────────────────────────────────

export const RUN = {
  IMMEDIATE_EXIT: 0,
  EXIT_REASON: 8,
  MMIO_PHYS_ADDR: 16,
  MMIO_DATA: 24,
  MMIO_LEN: 32,
  MMIO_IS_WRITE: 36,
  MMIO_RESUME_ACTION: 37,
  STATUS_STATUS: 16,
  STATUS_TYPE: 20,
  STATUS_REASON_SIZE: 24,
  STATUS_REASON: 28,
  PF_PHYS_ADDR: 16,
  PF_ATTEMPT: 24,
  PF_RESUME_ACTION: 28,
} as const;

export const PAGE = 4096;
export const GUEST_BASE = 0x8000_0000n;

// ── uapi.md §3: argument structs, byte by byte ─────────────────────────────────────────────

const big = (v: bigint | number): bigint => BigInt.asUintN(64, BigInt(v));

function struct(size: number, fill: (v: DataView) => void): Uint8Array {
  const b = new Uint8Array(size);
  fill(new DataView(b.buffer));
  return b;
}

/** `gunyah_create_mem_args` (64): flags @0 u64, size @8 u64, reserved[6] @16. */
export function createMemArgs(o: { size: bigint | number; flags?: bigint | number; reserved?: ReadonlyArray<bigint | number> }): Uint8Array {
  return struct(64, (v) => {
    v.setBigUint64(0, big(o.flags ?? 0), true);
    v.setBigUint64(8, big(o.size), true);
    (o.reserved ?? []).forEach((r, i) => v.setBigUint64(16 + 8 * i, big(r), true));
  });
}

/** `gunyah_vm_dtb_config` (16): guest_phys_addr @0 u64, size @8 u64. */
export function dtbConfig(gpa: bigint | number, size: bigint | number): Uint8Array {
  return struct(16, (v) => {
    v.setBigUint64(0, big(gpa), true);
    v.setBigUint64(8, big(size), true);
  });
}

/** `gunyah_fn_desc` (16): type @0 u32, arg_size @4 u32, arg @8 u64. */
export function fnDesc(type: number, argSize: number, arg: bigint): Uint8Array {
  return struct(16, (v) => {
    v.setUint32(0, type >>> 0, true);
    v.setUint32(4, argSize >>> 0, true);
    v.setBigUint64(8, big(arg), true);
  });
}

/** `gunyah_fn_vcpu_arg` (4): id @0 u32. */
export function vcpuArg(id: number): Uint8Array {
  return struct(4, (v) => v.setUint32(0, id >>> 0, true));
}

/** `gunyah_fn_irqfd_arg` (16): fd @0 u32, label @4 u32, flags @8 u32, padding @12 u32. */
export function irqfdArg(o: { fd: number; label: number; flags?: number; padding?: number }): Uint8Array {
  return struct(16, (v) => {
    v.setUint32(0, o.fd >>> 0, true);
    v.setUint32(4, o.label >>> 0, true);
    v.setUint32(8, (o.flags ?? 0) >>> 0, true);
    v.setUint32(12, (o.padding ?? 0) >>> 0, true);
  });
}

/**
 * `gunyah_fn_ioeventfd_arg` (32): datamatch @0 u64, addr @8 u64, len @16 u32, fd @20 s32,
 * flags @24 u32, padding @28 u32.
 */
export function ioeventfdArg(o: { addr: bigint | number; len: number; fd: number; datamatch?: bigint | number; flags?: number; padding?: number }): Uint8Array {
  return struct(32, (v) => {
    v.setBigUint64(0, big(o.datamatch ?? 0), true);
    v.setBigUint64(8, big(o.addr), true);
    v.setUint32(16, o.len >>> 0, true);
    v.setInt32(20, o.fd | 0, true);
    v.setUint32(24, (o.flags ?? 0) >>> 0, true);
    v.setUint32(28, (o.padding ?? 0) >>> 0, true);
  });
}

/** `gunyah_map_mem_args` (32): guest_addr @0 u64, flags @8 u32, guest_mem_fd @12 u32, offset @16 u64, size @24 u64. */
export function mapMemArgs(o: { guestAddr: bigint | number; flags: number; fd: number; offset?: bigint | number; size: bigint | number }): Uint8Array {
  return struct(32, (v) => {
    v.setBigUint64(0, big(o.guestAddr), true);
    v.setUint32(8, o.flags >>> 0, true);
    v.setUint32(12, o.fd >>> 0, true);
    v.setBigUint64(16, big(o.offset ?? 0), true);
    v.setBigUint64(24, big(o.size), true);
  });
}

/** `gunyah_vm_boot_context` (16): reg @0 u32, reserved @4 u32, value @8 u64. */
export function bootContext(reg: number, value: bigint | number, reserved = 0): Uint8Array {
  return struct(16, (v) => {
    v.setUint32(0, reg >>> 0, true);
    v.setUint32(4, reserved >>> 0, true);
    v.setBigUint64(8, big(value), true);
  });
}

/** A little-endian u64 (eventfd writes, MMIO data). */
export function u64(v: bigint | number): Uint8Array {
  return struct(8, (d) => d.setBigUint64(0, big(v), true));
}

// ── the run page, read at the sheet's offsets ──────────────────────────────────────────────

export interface RawRunPage {
  readonly immediateExit: number;
  readonly exitReason: number;
  readonly mmio: { physAddr: bigint; data: bigint; len: number; isWrite: number; resumeAction: number };
  readonly status: { status: number; type: number; reasonSize: number; reason: bigint };
  readonly pageFault: { physAddr: bigint; attempt: number; resumeAction: number };
}

export function readRunPage(m: Mapping): RawRunPage {
  const b = m.read(0, 40);
  const v = new DataView(b.buffer, b.byteOffset, b.byteLength);
  return {
    immediateExit: v.getUint8(RUN.IMMEDIATE_EXIT),
    exitReason: v.getUint32(RUN.EXIT_REASON, true),
    mmio: {
      physAddr: v.getBigUint64(RUN.MMIO_PHYS_ADDR, true),
      data: v.getBigUint64(RUN.MMIO_DATA, true),
      len: v.getUint32(RUN.MMIO_LEN, true),
      isWrite: v.getUint8(RUN.MMIO_IS_WRITE),
      resumeAction: v.getUint8(RUN.MMIO_RESUME_ACTION),
    },
    status: {
      status: v.getUint32(RUN.STATUS_STATUS, true),
      type: v.getUint16(RUN.STATUS_TYPE, true),
      reasonSize: v.getUint32(RUN.STATUS_REASON_SIZE, true),
      reason: v.getBigUint64(RUN.STATUS_REASON, true),
    },
    pageFault: {
      physAddr: v.getBigUint64(RUN.PF_PHYS_ADDR, true),
      attempt: v.getInt32(RUN.PF_ATTEMPT, true),
      resumeAction: v.getUint8(RUN.PF_RESUME_ACTION),
    },
  };
}

// ── errno assertions ───────────────────────────────────────────────────────────────────────

/** The errno name a call fails with, or 'OK'. Anything that is not an ErrnoError is rethrown. */
export async function errnoOf(call: Promise<unknown> | (() => unknown)): Promise<string> {
  try {
    await (typeof call === 'function' ? call() : call);
    return 'OK';
  } catch (err) {
    if (isErrnoError(err)) return err.code;
    throw err;
  }
}

/** Expect `call` to fail with `code`. */
export async function expectErrno(call: Promise<unknown> | (() => unknown), code: string): Promise<void> {
  expect(await errnoOf(call)).toBe(code);
}

// ── the raw syscalls ───────────────────────────────────────────────────────────────────────

/** One VMM's raw view of the process: argument structs go through user memory. */
export class Raw {
  constructor(readonly host: HostProcess) {}

  /** malloc + poke: a user pointer to a copy of `bytes`. */
  put(bytes: Uint8Array): bigint {
    const p = this.host.malloc(bytes.byteLength);
    this.host.poke(p, bytes);
    return p;
  }

  /** ioctl with an argument struct copied into user memory, or an immediate integer/pointer. */
  ioctl(fd: number, request: number, arg: Uint8Array | bigint | number = 0): Promise<number> {
    return this.host.ioctl(fd, request, arg instanceof Uint8Array ? this.put(arg) : arg);
  }

  openDevice(): number {
    return this.host.open('/dev/gunyah');
  }

  createVm(dev: number): Promise<number> {
    return this.ioctl(dev, REQ.CREATE_VM, 0);
  }

  createGuestMem(dev: number, size: bigint | number, flags: bigint | number = 0): Promise<number> {
    return this.ioctl(dev, REQ.CREATE_GUEST_MEM, createMemArgs({ size, flags }));
  }

  mapMem(vm: number, o: { guestAddr: bigint | number; flags: number; fd: number; offset?: bigint | number; size: bigint | number }): Promise<number> {
    return this.ioctl(vm, REQ.VM_MAP_MEM, mapMemArgs(o));
  }

  setDtbConfig(vm: number, gpa: bigint | number, size: bigint | number): Promise<number> {
    return this.ioctl(vm, REQ.VM_SET_DTB_CONFIG, dtbConfig(gpa, size));
  }

  setBootContext(vm: number, reg: number, value: bigint | number, reserved = 0): Promise<number> {
    return this.ioctl(vm, REQ.VM_SET_BOOT_CONTEXT, bootContext(reg, value, reserved));
  }

  start(vm: number): Promise<number> {
    return this.ioctl(vm, REQ.VM_START, 0);
  }

  /** ADD_FUNCTION with `arg` in user memory; `argSize` defaults to its length. */
  addFunction(vm: number, type: number, arg: Uint8Array, argSize = arg.byteLength): Promise<number> {
    return this.ioctl(vm, REQ.VM_ADD_FUNCTION, fnDesc(type, argSize, this.put(arg)));
  }

  removeFunction(vm: number, type: number, arg: Uint8Array, argSize = arg.byteLength): Promise<number> {
    return this.ioctl(vm, REQ.VM_REMOVE_FUNCTION, fnDesc(type, argSize, this.put(arg)));
  }

  addVcpu(vm: number, id: number): Promise<number> {
    return this.addFunction(vm, FN_VCPU, vcpuArg(id));
  }

  run(vcpu: number): Promise<number> {
    return this.ioctl(vcpu, REQ.VCPU_RUN, 0);
  }

  /** mmap the run page (length from VCPU_MMAP_SIZE). */
  async mapRun(vcpu: number): Promise<Mapping> {
    const size = await this.ioctl(vcpu, REQ.VCPU_MMAP_SIZE, 0);
    return this.host.mmap(vcpu, size, 0);
  }

  /** Write through a temporary host mapping of the guest-memory file (unmapped afterwards). */
  async writeMem(mem: number, offset: number, bytes: Uint8Array): Promise<void> {
    const base = offset - (offset % PAGE);
    const m = this.host.mmap(mem, offset - base + bytes.byteLength, base);
    try {
      m.write(offset - base, bytes);
    } finally {
      await m.unmap();
    }
  }

  /** Read through a temporary host mapping. */
  async readMem(mem: number, offset: number, length: number): Promise<Uint8Array> {
    const base = offset - (offset % PAGE);
    const m = this.host.mmap(mem, offset - base + length, base);
    try {
      return m.read(offset - base, length);
    } finally {
      await m.unmap();
    }
  }

  /** write(2) of a u64 to an eventfd. */
  signal(efd: number, value: bigint | number = 1): void {
    this.host.write(efd, u64(value));
  }
}

// ── a raw boot (vmm-flows.md §2), for rows that need a started VM ──────────────────────────

export interface RawBootOptions {
  readonly vcpus?: number;
  /** How many vCPU functions (ids 0..n-1) to add before start (default: all of `vcpus`). */
  readonly addVcpus?: number;
  /** Guest image at GUEST_BASE (default: the holding cell). */
  readonly image?: Uint8Array;
  readonly emulator?: EmulatorOptions;
  /** MAP_MEM flags of the RAM binding (default FORCE_LEND | RWX). */
  readonly memFlags?: number;
  readonly extraPages?: number;
  readonly doorbells?: readonly VmDtbDoorbell[];
  /** Skip VM_START. */
  readonly noStart?: boolean;
  /** Skip the PC and SP boot-context entries. */
  readonly noBootRegs?: boolean;
}

export interface RawVm {
  readonly emu: Emulator;
  readonly raw: Raw;
  readonly host: HostProcess;
  readonly dev: number;
  readonly vm: number;
  readonly mem: number;
  readonly memSize: number;
  readonly vcpus: number[];
  /** Guest address of the DTB (right after the image). */
  readonly dtbStart: bigint;
  /** File offset of the first page after the image, DTB and stacks (`extraPages` start here). */
  readonly extraOffset: number;
}

const pageAlign = (n: number): number => Math.ceil(n / PAGE) * PAGE;

/**
 * Create a VM the way quic/gunyah-test-vmm does, through raw ioctls: one guest-memory file
 * bound at GUEST_BASE (image, DTB, one stack page per vCPU, extra pages), the vCPUs, the DTB
 * config, PC and SP_EL1, then START (unless `noStart`).
 */
export async function rawBoot(o: RawBootOptions = {}, emu: Emulator = createEmulator(o.emulator)): Promise<RawVm> {
  const n = o.vcpus ?? 1;
  const image = o.image ?? holdingCellImage();
  const host = emu.host;
  const raw = new Raw(host);
  const dev = raw.openDevice();
  const vm = await raw.createVm(dev);
  const binSize = pageAlign(image.length);
  const memSize = binSize + (1 + n + (o.extraPages ?? 0)) * PAGE;
  const mem = await raw.createGuestMem(dev, memSize);
  await raw.mapMem(vm, { guestAddr: GUEST_BASE, flags: o.memFlags ?? MEM_LEND | MEM_RWX, fd: mem, size: memSize });
  const vcpus: number[] = [];
  for (let id = 0; id < (o.addVcpus ?? n); id++) vcpus.push(await raw.addVcpu(vm, id));
  const dtbStart = GUEST_BASE + BigInt(binSize);
  const dtb = buildVmDtb({ vcpus: n, memory: [{ base: GUEST_BASE, size: BigInt(memSize) }], doorbells: o.doorbells ?? [] });
  await raw.writeMem(mem, binSize, dtb);
  await raw.setDtbConfig(vm, dtbStart, pageAlign(dtb.length));
  await raw.writeMem(mem, 0, image);
  if (!o.noBootRegs) {
    await raw.setBootContext(vm, REG_PC, GUEST_BASE);
    await raw.setBootContext(vm, REG_SP_EL1, dtbStart + 8192n);
  }
  if (!o.noStart) await raw.start(vm);
  return { emu, raw, host, dev, vm, mem, memSize, vcpus, dtbStart, extraOffset: binSize + (1 + n) * PAGE };
}

/** What a test expects to stay behind after every fd is closed, because real v17 leaves it. */
export interface Leftovers {
  /** Kernel pool pages that stay allocated (QUIRK K17's leaked file, a lent DTB page whose MEM_RECLAIM failed). */
  readonly pages?: number;
  /** RM VMs (other than the host) that stay allocated, by state name (rm-rpc.md §18 cross-effect). */
  readonly rmVms?: readonly string[];
  /** RM parcels that stay, by state (uapi.md §8.3 step 2: the DTB parcel when its MEM_RECLAIM failed; only logged). */
  readonly rmParcels?: readonly string[];
}

/**
 * After a test: close every fd and mapping, then check what expectCleanShutdown checks (the RM
 * holds no VM and no parcel, all memory is back with the host, invariants clean, no VM left in
 * the kernel) and that the kernel's page pool is empty again. Where the real kernel leaves
 * something behind on purpose, `leftovers` names exactly that, and everything else is checked
 * the same way.
 */
export async function finish(emu: Emulator, leftovers: Leftovers = {}): Promise<void> {
  const { pages = 0, rmVms = [], rmParcels = [] } = leftovers;
  if (rmVms.length === 0 && rmParcels.length === 0) {
    await expectCleanShutdown(emu);
  } else {
    await emu.host.closeAll();
    const rm = await emu.rm.control.inspect();
    expect(rm.vms.filter((v) => v.vmid !== 3).map((v) => v.stateName)).toEqual(rmVms);
    expect(rm.parcels.map((p) => p.state)).toEqual(rmParcels);
    expect([...emu.hyp.memory.ownership().keys()]).toEqual([3]);
    expect(emu.checkInvariants()).toEqual([]);
    expect(emu.kernel.liveVms).toBe(0);
    emu.close();
  }
  expect(emu.host.openFiles()).toEqual([]);
  expect(emu.host.liveMappings()).toEqual([]);
  expect(emu.kernel.pages.inUse).toBe(pages);
}

/** A memory trace sink for RM calls: the payloads the kernel sent with `msgId`, as bytes. */
export function rmCallsOf(events: ReadonlyArray<{ kind: string; [k: string]: unknown }>, msgId: number): Uint8Array[] {
  return events
    .filter((e) => e.kind === 'rm.call' && e.msgId === msgId)
    .map((e) => Uint8Array.from(((e.hex as string).match(/../g) ?? []).map((h) => parseInt(h, 16))));
}

/** Wait `n` event-loop turns (lets queued RM traffic and vCPU yields proceed). */
export async function turns(n = 20): Promise<void> {
  for (let i = 0; i < n; i++) await new Promise<void>((r) => setImmediate(r));
}

// ── the holding cell over the raw run page (vmm-flows.md §6.5) ─────────────────────────────

/** Holding-cell registers and command ids (vmm-flows.md §6.2, §6.4). */
export const HC_CMD = 0x6000n;
export const HC_EXCEPTION = 0x7000n;
export const HC = { OK: 0, NOK: 1, READ_ADDR: 2, WRITE_ADDR: 3, LOOPBACK: 4, MAGIC: 5, SMCCC_HVC: 6, ACCESS_PAGE_RANGE: 7 } as const;

/** The command word: id in bits 7:0, nargs in bits 11:8. */
export function hcWord(id: number, nargs: number): bigint {
  return BigInt(id) | (BigInt(nargs) << 8n);
}

/** A run page mapped once per vCPU fd. */
export class RunView {
  constructor(
    readonly raw: Raw,
    readonly vcpu: number,
    readonly map: Mapping,
  ) {}

  static async of(raw: Raw, vcpu: number): Promise<RunView> {
    return new RunView(raw, vcpu, await raw.mapRun(vcpu));
  }

  page(): RawRunPage {
    return readRunPage(this.map);
  }

  /** RUN, then the page. */
  async run(): Promise<RawRunPage> {
    await this.raw.run(this.vcpu);
    return this.page();
  }

  /** RUN and require an MMIO exit at `addr` in direction `write`. */
  async mmio(addr: bigint, write: boolean): Promise<RawRunPage['mmio']> {
    const p = await this.run();
    const got = { reason: p.exitReason, addr: p.mmio.physAddr, write: p.mmio.isWrite };
    if (got.reason !== EXIT_MMIO || got.addr !== addr || got.write !== (write ? 1 : 0)) {
      throw new Error(`expected an MMIO ${write ? 'write' : 'read'} at 0x${addr.toString(16)}, got ${describeExit(p)}`);
    }
    return p.mmio;
  }

  setMmioData(v: bigint | number): void {
    this.map.write(RUN.MMIO_DATA, u64(v));
  }

  setByte(offset: number, v: number): void {
    this.map.write(offset, Uint8Array.of(v));
  }

  /** One holding-cell command: the word, its arguments, then the result write. */
  async command(id: number, args: ReadonlyArray<bigint | number> = []): Promise<bigint> {
    await this.mmio(HC_CMD, false);
    this.setMmioData(hcWord(id, args.length));
    for (const a of args) {
      await this.mmio(HC_CMD, false);
      this.setMmioData(a);
    }
    return (await this.mmio(HC_CMD, true)).data;
  }
}

export function describeExit(p: RawRunPage): string {
  const h = (v: bigint): string => `0x${v.toString(16)}`;
  if (p.exitReason === EXIT_MMIO) return `MMIO ${p.mmio.isWrite ? 'write' : 'read'} ${h(p.mmio.physAddr)} len ${p.mmio.len} data ${h(p.mmio.data)}`;
  if (p.exitReason === EXIT_STATUS) return `STATUS ${p.status.status} type ${p.status.type} size ${p.status.reasonSize}`;
  if (p.exitReason === EXIT_PAGE_FAULT) return `PAGE_FAULT ${h(p.pageFault.physAddr)} attempt ${p.pageFault.attempt}`;
  return `exit_reason ${p.exitReason}`;
}

/** The RM VMID of the (only) guest VM. */
export async function guestVmid(emu: Emulator): Promise<number> {
  const vms = (await emu.rm.control.inspect()).vms.filter((v) => v.vmid !== 3);
  if (vms.length !== 1) throw new Error(`expected one guest VM, found ${vms.length}`);
  return vms[0]!.vmid;
}

/** True when the guest's stage 2 maps the page at `ipa`. */
export function guestMapped(emu: Emulator, vmid: number, ipa: bigint): boolean {
  return emu.hyp.memory.translate(vmid, Number(ipa), PAGE).length > 0;
}
