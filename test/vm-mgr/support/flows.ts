/**
 * Test support for the VMM-flow tests (crosvm, QEMU, start faults): a raw VMM that issues the
 * `/dev/gunyah` ioctls with the request numbers and struct bytes typed from the reference (not
 * taken from our encoders) and logs them in order; a run-page reader; a trace of the RM calls
 * the host makes; and a device-tree builder covering the `/gunyah-vm-config` variants of the
 * three VMMs.
 *
 * Reference: uapi.md §1–§3 (ioctl numbers, argument structs), §5 (run page), README.md
 * §Dialects (`gh_`/'A' numbers v17 does not know), vmm-flows.md §5 (the DT node VMMs hand to
 * the RM), rm-rpc.md §11 (message names).
 */
import { expect } from 'vitest';
import { createEmulator, type Emulator, type EmulatorOptions } from '../../../src/emulator.js';
import type { Mapping } from '../../../src/host/process.js';
import { isErrnoError } from '../../../src/shared/errno.js';
import { createMemoryTraceSink, type MemoryTraceSink } from '../../../src/shared/trace.js';
import { FdtBuilder } from '../../../src/fdt/writer.js';
import { beginVmPlatformDtb } from '../../../src/vmm/vm-dtb.js';

export const PAGE = 4096;
export const pageAlign = (n: number): number => Math.ceil(n / PAGE) * PAGE;

/** v17 ioctl numbers (uapi.md §2), typed from the table. */
export const IOCTL = {
  CREATE_VM: 0x0000_4700,
  SET_DTB_CONFIG: 0x4010_4702,
  START: 0x0000_4703,
  ADD_FUNCTION: 0x4010_4704,
  VCPU_RUN: 0x0000_4705,
  VCPU_MMAP_SIZE: 0x0000_4706,
  REMOVE_FUNCTION: 0x4010_4707,
  CREATE_GUEST_MEM: 0x4040_4708,
  MAP_MEM: 0x4020_4709,
  SET_BOOT_CONTEXT: 0x4010_470a,
} as const;

/** `gh_`/Android ioctls that v17 does not have (README.md §Dialects). */
export const GH_IOCTL = {
  SET_USER_MEM_REGION: 0x4020_4701,
  CHECK_EXTENSION: 0x0000_4117,
} as const;

/** Function types and flags (uapi.md §4). */
export const FN = { VCPU: 1, IRQFD: 2, IOEVENTFD: 3 } as const;
export const MEM = { DEFAULT: 0x0, FORCE_LEND: 0x1, FORCE_SHARE: 0x2, R: 0x10, W: 0x20, X: 0x40, RWX: 0x70, UNMAP: 0x100 } as const;
export const REG = { PC: 0x100, SP_EL1: 0x201, X0: 0x000 } as const;

// ── argument structs (uapi.md §3), little-endian ─────────────────────────────────────────────

function struct(size: number, fill: (d: DataView) => void): Uint8Array {
  const b = new Uint8Array(size);
  fill(new DataView(b.buffer));
  return b;
}

export const args = {
  /** gunyah_create_mem_args (64): flags u64 @0, size u64 @8, reserved. */
  createMem: (flags: bigint, size: bigint) => struct(64, (d) => (d.setBigUint64(0, flags, true), d.setBigUint64(8, size, true))),
  /** gunyah_vm_dtb_config (16): guest_phys_addr u64 @0, size u64 @8. */
  dtbConfig: (gpa: bigint, size: bigint) => struct(16, (d) => (d.setBigUint64(0, gpa, true), d.setBigUint64(8, size, true))),
  /** gunyah_fn_desc (16): type u32 @0, arg_size u32 @4, arg u64 @8. */
  fnDesc: (type: number, argSize: number, arg: bigint) =>
    struct(16, (d) => (d.setUint32(0, type, true), d.setUint32(4, argSize, true), d.setBigUint64(8, arg, true))),
  /** gunyah_fn_vcpu_arg (4): id u32. */
  vcpu: (id: number) => struct(4, (d) => d.setUint32(0, id, true)),
  /** gunyah_fn_irqfd_arg (16): fd u32 @0, label u32 @4, flags u32 @8. */
  irqfd: (fd: number, label: number, flags: number) =>
    struct(16, (d) => (d.setUint32(0, fd, true), d.setUint32(4, label, true), d.setUint32(8, flags, true))),
  /** gunyah_fn_ioeventfd_arg (32): datamatch u64 @0, addr u64 @8, len u32 @16, fd s32 @20, flags u32 @24. */
  ioeventfd: (o: { datamatch?: bigint; addr: bigint; len: number; fd: number; flags: number }) =>
    struct(32, (d) => {
      d.setBigUint64(0, o.datamatch ?? 0n, true);
      d.setBigUint64(8, o.addr, true);
      d.setUint32(16, o.len, true);
      d.setInt32(20, o.fd, true);
      d.setUint32(24, o.flags, true);
    }),
  /** gunyah_map_mem_args (32): guest_addr u64 @0, flags u32 @8, guest_mem_fd u32 @12, offset u64 @16, size u64 @24. */
  mapMem: (o: { guestAddr: bigint; flags: number; fd: number; offset: bigint; size: bigint }) =>
    struct(32, (d) => {
      d.setBigUint64(0, o.guestAddr, true);
      d.setUint32(8, o.flags, true);
      d.setUint32(12, o.fd, true);
      d.setBigUint64(16, o.offset, true);
      d.setBigUint64(24, o.size, true);
    }),
  /** gunyah_vm_boot_context (16): reg u32 @0, reserved u32 @4, value u64 @8. */
  bootContext: (reg: number, value: bigint) => struct(16, (d) => (d.setUint32(0, reg, true), d.setBigUint64(8, value, true))),
  /** gh_userspace_memory_region (32, README.md §Dialects): label, flags, gpa, size, userspace_addr. */
  ghUserMemRegion: (o: { label: number; flags: number; gpa: bigint; size: bigint; hva: bigint }) =>
    struct(32, (d) => {
      d.setUint32(0, o.label, true);
      d.setUint32(4, o.flags, true);
      d.setBigUint64(8, o.gpa, true);
      d.setBigUint64(16, o.size, true);
      d.setBigUint64(24, o.hva, true);
    }),
};

// ── the raw VMM ──────────────────────────────────────────────────────────────────────────────

/** One syscall the VMM made: what, and what it returned (a number or an errno name). */
export interface CallRecord {
  readonly call: string;
  readonly ret: number | string;
}

/**
 * A VMM speaking the raw HostProcess contract: every ioctl argument is placed in user memory
 * as the struct bytes, the request number is the literal one, and each call is logged.
 */
export class RawVmm {
  readonly calls: CallRecord[] = [];
  constructor(readonly emu: Emulator) {}

  get host(): Emulator['host'] {
    return this.emu.host;
  }

  open(path = '/dev/gunyah'): number {
    const fd = this.host.open(path);
    this.calls.push({ call: `open ${path}`, ret: fd });
    return fd;
  }

  eventfd(): number {
    const fd = this.host.eventfd(0, 0);
    this.calls.push({ call: 'eventfd', ret: fd });
    return fd;
  }

  /** ioctl with a struct (copied into user memory for the call) or an integer argument. */
  async ioctl(fd: number, name: string, request: number, arg?: Uint8Array | bigint | number): Promise<number> {
    let ptr: bigint | undefined;
    try {
      let a: bigint | number | undefined;
      if (arg instanceof Uint8Array) {
        ptr = this.host.malloc(arg.length);
        this.host.poke(ptr, arg);
        a = ptr;
      } else {
        a = arg;
      }
      const r = await this.host.ioctl(fd, request, a);
      this.calls.push({ call: name, ret: r });
      return r;
    } catch (err) {
      if (isErrnoError(err)) this.calls.push({ call: name, ret: err.code });
      throw err;
    } finally {
      if (ptr !== undefined) this.host.free(ptr);
    }
  }

  /** An ioctl that must fail; returns its errno name. */
  async ioctlErrno(fd: number, name: string, request: number, arg?: Uint8Array | bigint | number): Promise<string> {
    try {
      const r = await this.ioctl(fd, name, request, arg);
      throw new Error(`${name} returned ${r}, expected an error`);
    } catch (err) {
      if (isErrnoError(err)) return err.code;
      throw err;
    }
  }

  /** GUNYAH_VM_ADD_FUNCTION / REMOVE_FUNCTION with `fnArg` placed in user memory. */
  async fn(vmFd: number, name: string, request: number, type: number, fnArg: Uint8Array): Promise<number> {
    const p = this.host.malloc(fnArg.length);
    try {
      this.host.poke(p, fnArg);
      return await this.ioctl(vmFd, name, request, args.fnDesc(type, fnArg.length, p));
    } finally {
      this.host.free(p);
    }
  }

  async fnErrno(vmFd: number, name: string, request: number, type: number, fnArg: Uint8Array): Promise<string> {
    try {
      const r = await this.fn(vmFd, name, request, type, fnArg);
      throw new Error(`${name} returned ${r}, expected an error`);
    } catch (err) {
      if (isErrnoError(err)) return err.code;
      throw err;
    }
  }

  mmap(fd: number, name: string, length: number, offset = 0): Mapping {
    const m = this.host.mmap(fd, length, offset);
    this.calls.push({ call: name, ret: 0 });
    return m;
  }

  /** Write guest memory through a temporary MAP_SHARED mapping of the file (dropped again). */
  async writeGuestMem(memFd: number, offset: number, bytes: Uint8Array): Promise<void> {
    const base = offset - (offset % PAGE);
    const m = this.host.mmap(memFd, offset - base + bytes.length, base);
    try {
      m.write(offset - base, bytes);
    } finally {
      await m.unmap();
    }
    this.calls.push({ call: `write guest memory @${offset.toString(16)}`, ret: 0 });
  }

  async close(fd: number, name: string): Promise<void> {
    await this.host.close(fd);
    this.calls.push({ call: `close ${name}`, ret: 0 });
  }

  /** The call names, in order (for comparing against a VMM's documented sequence). */
  sequence(): string[] {
    return this.calls.map((c) => c.call);
  }
}

// ── the run page (uapi.md §5) ────────────────────────────────────────────────────────────────

export interface RunPageView {
  readonly exitReason: number;
  readonly mmio: { readonly physAddr: bigint; readonly data: bigint; readonly len: number; readonly isWrite: boolean; readonly resumeAction: number };
  readonly status: { readonly status: number; readonly exitType: number; readonly reasonSize: number };
}

/** Decode the 40-byte run page from its offsets (exit_reason @8, union @16). */
export function readRunPage(page: Mapping): RunPageView {
  const b = page.read(0, 40);
  const d = new DataView(b.buffer, b.byteOffset, b.byteLength);
  return {
    exitReason: d.getUint32(8, true),
    mmio: { physAddr: d.getBigUint64(16, true), data: d.getBigUint64(24, true), len: d.getUint32(32, true), isWrite: b[36] === 1, resumeAction: b[37]! },
    status: { status: d.getUint32(16, true), exitType: d.getUint16(20, true), reasonSize: d.getUint32(24, true) },
  };
}

/** Put a value for an MMIO read into mmio.data (the first `len` bytes, little-endian). */
export function supplyMmioRead(page: Mapping, value: bigint, len = 8): void {
  const b = new Uint8Array(8);
  new DataView(b.buffer).setBigUint64(0, BigInt.asUintN(64, value), true);
  page.write(24, b.subarray(0, len));
}

/** The eventfd counter (an 8-byte read; resets it). */
export async function eventfdCount(emu: Emulator, fd: number): Promise<bigint> {
  const b = await emu.host.read(fd, 8);
  return new DataView(b.buffer, b.byteOffset).getBigUint64(0, true);
}

// ── the RM calls the host made ───────────────────────────────────────────────────────────────

export interface RmReply {
  readonly name: string;
  readonly err: string;
}

export interface TracedEmulator {
  readonly emu: Emulator;
  readonly trace: MemoryTraceSink;
  /** Every RM request from the host (VMID 3) with the RM's answer, in order. */
  hostRmCalls(): RmReply[];
  /** A position in the trace, for `hostRmCallsSince`. */
  mark(): number;
  hostRmCallsSince(mark: number): RmReply[];
}

const HOST_VMID = 3;

export function tracedEmulator(opts: EmulatorOptions = {}): TracedEmulator {
  const trace = createMemoryTraceSink();
  const emu = createEmulator({ ...opts, trace });
  const since = (at: number): RmReply[] =>
    trace.events
      .slice(at)
      .filter((e) => e.kind === 'rm.reply' && e['side'] === 'rm' && e['vmid'] === HOST_VMID)
      .map((e) => ({ name: String(e['name']), err: String(e['err']) }));
  return { emu, trace, hostRmCalls: () => since(0), mark: () => trace.events.length, hostRmCallsSince: since };
}

/** The RM calls of a successful v17 start (uapi.md §8.2 steps 3–13), one boot-context entry per `contexts`. */
export function startRmCalls(contexts: number): RmReply[] {
  return [
    { name: 'VM_ALLOCATE', err: 'OK' },
    { name: 'MEM_LEND', err: 'OK' },
    { name: 'VM_CONFIG_IMAGE', err: 'OK' },
    { name: 'VM_SET_DEMAND_PAGING', err: 'OK' },
    { name: 'VM_SET_ADDRESS_LAYOUT', err: 'OK' },
    { name: 'VM_INIT', err: 'OK' },
    ...Array.from({ length: contexts }, () => ({ name: 'VM_SET_CONTEXT', err: 'OK' })),
    { name: 'VM_GET_HYP_RESOURCES', err: 'OK' },
    { name: 'VM_START', err: 'OK' },
  ];
}

/** Close nothing, but check the process holds no fd and no mapping any more. */
export function expectNothingOpen(emu: Emulator): void {
  expect(emu.host.openFiles()).toEqual([]);
  expect(emu.host.liveMappings()).toEqual([]);
}

// ── device trees (vmm-flows.md §5) ───────────────────────────────────────────────────────────

export interface FlowDtbDoorbell {
  readonly label: number;
  readonly line: number;
  readonly level: boolean;
}

export interface FlowDtbOptions {
  readonly imageName: string;
  readonly vcpus: number;
  /** `/memory` reg: the lend ("regular") regions; the first is `base-address`. */
  readonly memory: ReadonlyArray<{ readonly base: bigint; readonly size: bigint }>;
  /** `/gunyah-vm-config/memory` size-max (crosvm). */
  readonly sizeMax?: bigint;
  /** `vcpus` no-timer-wakeups (crosvm, when the timer-wakeup capability is not reported). */
  readonly noTimerWakeups?: boolean;
  readonly doorbells?: readonly FlowDtbDoorbell[];
  /** Flag spelling of the doorbell nodes (Q19). */
  readonly sourceCanClear?: 'source-can-clear' | 'source-can-clean';
  /** `shm-<idx>` vdevices, one per shared region (crosvm, QEMU). */
  readonly shm?: ReadonlyArray<{ readonly label: number; readonly base: bigint }>;
  /** An `rm-rpc` vdevice: the VM gets an RM link (and can send VM_EXIT itself). */
  readonly rmRpc?: boolean;
  /** Total size, with free space for the RM's overlay. */
  readonly size: number;
}

const GIC_PHANDLE = 1;

/** The DT a VMM builds: memory, cpus + PSCI, GICv3, timer, and /gunyah-vm-config. */
export function buildFlowDtb(o: FlowDtbOptions): Uint8Array {
  const b = new FdtBuilder();
  beginVmPlatformDtb(b, o);

  b.beginNode('gunyah-vm-config');
  b.propString('image-name', o.imageName);
  b.propString('os-type', 'linux');
  b.beginNode('memory');
  b.propU32('#address-cells', 2);
  b.propU32('#size-cells', 2);
  b.propU64('base-address', o.memory[0]?.base ?? 0n);
  if (o.sizeMax !== undefined) b.propU64('size-max', o.sizeMax);
  b.endNode();
  b.beginNode('interrupts');
  b.propU32('config', GIC_PHANDLE);
  b.endNode();
  b.beginNode('vcpus');
  b.propString('affinity', 'proxy');
  if (o.noTimerWakeups) b.propEmpty('no-timer-wakeups');
  b.endNode();
  b.beginNode('vdevices');
  b.propString('generate', '/hypervisor');
  if (o.rmRpc) {
    b.beginNode('rm-rpc');
    b.propString('vdevice-type', 'rm-rpc');
    b.propString('generate', '/hypervisor/qcom,resource-mgr');
    b.propEmpty('console-dev');
    b.propU32('message-size', 240);
    b.propU32('queue-depth', 8);
    b.endNode();
  }
  for (const d of o.doorbells ?? []) {
    const hex = d.label.toString(16);
    b.beginNode(`bell-${hex}`);
    b.propString('vdevice-type', 'doorbell');
    b.propString('generate', `/hypervisor/bell-${hex}`);
    b.propU32('label', d.label);
    b.propEmpty('peer-default');
    b.propEmpty(o.sourceCanClear ?? 'source-can-clear');
    b.propCells('interrupts', [0, d.line, d.level ? 4 : 1]);
    b.endNode();
  }
  for (const s of o.shm ?? []) {
    b.beginNode(`shm-${s.label.toString(16)}`);
    b.propString('vdevice-type', 'shm');
    b.propString('push-compatible', 'dma');
    b.propEmpty('peer-default');
    b.propU64('dma_base', 0n);
    b.beginNode('memory');
    b.propEmpty('optional');
    b.propU32('label', s.label);
    b.propU32('#address-cells', 2);
    b.propU64('base', s.base);
    b.endNode();
    b.endNode();
  }
  b.endNode(); // vdevices
  b.endNode(); // gunyah-vm-config
  b.endNode(); // root
  return b.finish({ minSize: o.size });
}

/** What stays behind after every fd is closed, where real v17 leaves something on purpose. */
export interface Leftovers {
  /** RM VMs other than the host: {state} by RM vm_status. */
  readonly rmVms?: ReadonlyArray<{ readonly vmid: number; readonly state: number }>;
  /** RM parcels: owner, size, state. */
  readonly parcels?: ReadonlyArray<{ readonly owner: number; readonly size: number; readonly state: string }>;
  /** Pages of the kernel's guest-memory pool that stay allocated. */
  readonly kernelPages?: number;
}

/**
 * After the fds are closed: the RM holds exactly `rmVms` and `parcels`, the kernel pool exactly
 * `kernelPages`, every page is with the host again in the hypervisor's memory model, the kernel
 * has no VM left and every invariant holds. With no leftovers this is what
 * `expectCleanShutdown` checks. Closes the emulator.
 */
export async function expectLeftovers(emu: Emulator, l: Leftovers): Promise<void> {
  await emu.host.closeAll();
  const insp = await emu.rm.control.inspect();
  expect(insp.vms.filter((v) => v.vmid !== HOST_VMID).map((v) => ({ vmid: v.vmid, state: v.state }))).toEqual(l.rmVms ?? []);
  expect(insp.parcels.map((p) => ({ owner: p.owner, size: p.size, state: p.state }))).toEqual(l.parcels ?? []);
  expect(insp.assertions).toEqual([]);
  expect(emu.kernel.pages.inUse).toBe(l.kernelPages ?? 0);
  expect([...emu.hyp.memory.ownership().keys()]).toEqual([HOST_VMID]);
  expect(emu.kernel.liveVms).toBe(0);
  expect(emu.checkInvariants()).toEqual([]);
  emu.close();
}

// ── the holding-cell protocol over the raw run page (vmm-flows.md §6.5) ──────────────────────

/** VCPU_RUN, then the MMIO exit it must have produced. */
export async function rawRunToMmio(v: RawVmm, vcpuFd: number, page: Mapping): Promise<RunPageView['mmio']> {
  expect(await v.ioctl(vcpuFd, 'VCPU_RUN', IOCTL.VCPU_RUN)).toBe(0);
  const p = readRunPage(page);
  expect(p.exitReason).toBe(1); // GUNYAH_VCPU_EXIT_MMIO
  return p.mmio;
}

/**
 * One holding-cell command, TVMM style: RUN → the read of 0x6000 → the word; one RUN and
 * supply per argument; RUN → the result write at 0x6000. `word` is the command word
 * (id | nargs << 8). Returns the result. With `pending`, the command read is the exit already in
 * the run page (no first RUN).
 */
export async function rawHoldingCellCommand(v: RawVmm, vcpuFd: number, page: Mapping, word: bigint, cmdArgs: readonly bigint[], pending = false): Promise<bigint> {
  let m = pending ? readRunPage(page).mmio : await rawRunToMmio(v, vcpuFd, page);
  expect(m).toMatchObject({ physAddr: 0x6000n, len: 8, isWrite: false });
  supplyMmioRead(page, word);
  for (const a of cmdArgs) {
    m = await rawRunToMmio(v, vcpuFd, page);
    expect(m).toMatchObject({ physAddr: 0x6000n, len: 8, isWrite: false });
    supplyMmioRead(page, a);
  }
  m = await rawRunToMmio(v, vcpuFd, page);
  expect(m).toMatchObject({ physAddr: 0x6000n, len: 8, isWrite: true });
  return m.data;
}
