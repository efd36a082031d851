/**
 * Test support for the gh_ (v14 / Android Common Kernel) dialect: the request numbers and the
 * gh-only argument structs typed by hand from the reference (README.md §Dialects), not taken
 * from src/vm-mgr/gh; a traced gh_ emulator; the kernel-sample set-up (vmm-flows.md §4 end:
 * CREATE_VM, anonymous memory holding a guest image and its DTB, SET_USER_MEM_REGION label 0
 * RWX, SET_DTB_CONFIG); and the clean-shutdown check with the kernel's page pool.
 *
 * The v17-shared structs (fn_desc, vCPU / irqfd / ioeventfd args, dtb config) and the raw VMM
 * come from ../support/flows.ts, which types them from uapi.md §3 the same way.
 */
import { expect } from 'vitest';
import type { EmulatorOptions } from '../../../src/emulator.js';
import type { Mapping } from '../../../src/host/process.js';
import { guestProgram, type GuestProgramBuilder } from '../../../src/guest/index.js';
import { args, buildFlowDtb, FN, IOCTL, RawVmm, tracedEmulator, type FlowDtbOptions, type TracedEmulator } from '../support/flows.js';

export const PAGE = 4096;
export const BASE = 0x8000_0000n;

/**
 * gh_ request numbers: the 'G' numbers v17 shares (README.md §Dialects: nr 0x0, 0x2–0x7 are the
 * same; the v17-only 0x8–0xa are kept to show they are absent), nr 0x1, and the Android 'A' ones,
 * typed from the table.
 */
export const GH = {
  ...IOCTL,
  SET_USER_MEM_REGION: 0x4020_4701,
  /** Android 'A' (0x41) requests. */
  ANDROID_TENTATIVE_UAPI: 0x0000_4110,
  ANDROID_LEND_USER_MEM: 0x4020_4111,
  ANDROID_SET_FW_CONFIG: 0x4010_4112,
  RECLAIM_REGION: 0x4010_4113,
  ANDROID_MAP_CMA_MEM: 0x4028_4115,
  ANDROID_SET_AUTH_TYPE: 0x4010_4116,
  CHECK_EXTENSION: 0x0000_4117,
} as const;

/** GH_MEM_ALLOW_* (README.md §Dialects). */
export const GMEM = { R: 0x1, W: 0x2, X: 0x4, RWX: 0x7 } as const;
export { FN };

function struct(size: number, fill: (d: DataView) => void): Uint8Array {
  const b = new Uint8Array(size);
  fill(new DataView(b.buffer));
  return b;
}

/** `gh_userspace_memory_region` (32): label u32 @0, flags u32 @4, guest_phys_addr u64 @8, memory_size u64 @16, userspace_addr u64 @24. */
export function region(o: { label: number; flags: number; gpa: bigint; size: bigint | number; hva: bigint }): Uint8Array {
  return struct(32, (d) => {
    d.setUint32(0, o.label >>> 0, true);
    d.setUint32(4, o.flags >>> 0, true);
    d.setBigUint64(8, BigInt.asUintN(64, o.gpa), true);
    d.setBigUint64(16, BigInt.asUintN(64, BigInt(o.size)), true);
    d.setBigUint64(24, BigInt.asUintN(64, o.hva), true);
  });
}

/** GH_VM_ANDROID_SET_FW_CONFIG's argument (16): guest_phys_addr u64 @0, size u64 @8. */
export function fwConfig(gpa: bigint, size: bigint): Uint8Array {
  return struct(16, (d) => {
    d.setBigUint64(0, gpa, true);
    d.setBigUint64(8, size, true);
  });
}

export { args };

/** A traced emulator speaking gh_. */
export function ghEmulator(opts: EmulatorOptions = {}): TracedEmulator {
  return tracedEmulator({ dialect: 'gh', ...opts });
}

/** A guest program that reports it ran: an MMIO write of `mark` at 0x6000 (outside RAM, traps). */
export function markProgram(mark = 1n, before?: (p: GuestProgramBuilder) => void): Uint8Array {
  const p = guestProgram();
  before?.(p);
  return p.mmioWrite(0x6000n, 8, mark).spin().build();
}

export interface GhVmSetUp {
  readonly t: TracedEmulator;
  readonly v: RawVmm;
  readonly dev: number;
  readonly vm: number;
  /** The VMM's anonymous memory behind region 0 (the image region). */
  readonly mem: Mapping;
  /** Its size in bytes. */
  readonly size: number;
  /** Guest address of the DTB. */
  readonly dtbGpa: bigint;
}

export interface GhSetUpOptions {
  readonly emulator?: EmulatorOptions;
  /** Pages of region 0 (default 16). */
  readonly pages?: number;
  /** Flags of region 0 (default RWX). */
  readonly flags?: number;
  /** Region 0 lent (ANDROID_LEND_USER_MEM) instead of shared. */
  readonly lend?: boolean;
  /** Guest image at offset 0 (default: markProgram()). */
  readonly image?: Uint8Array;
  /** Byte offset of the DTB in region 0 (default 0x2000). */
  readonly dtbOffset?: number;
  /** Extra DT options. */
  readonly dt?: Partial<FlowDtbOptions>;
  /** Skip SET_DTB_CONFIG. */
  readonly noDtbConfig?: boolean;
}

/**
 * The kernel-sample set-up short of START: CREATE_VM, an anonymous mapping with the image at 0
 * and a DTB (one page) at `dtbOffset`, region 0 at BASE (share, RWX by default) and
 * SET_DTB_CONFIG.
 */
export async function ghSetUp(o: GhSetUpOptions = {}): Promise<GhVmSetUp> {
  const t = ghEmulator(o.emulator);
  const v = new RawVmm(t.emu);
  const pages = o.pages ?? 16;
  const size = pages * PAGE;
  const dtbOffset = o.dtbOffset ?? 0x2000;
  const dev = v.open();
  const vm = await v.ioctl(dev, 'CREATE_VM', GH.CREATE_VM, 0);
  const mem = t.emu.host.mmapAnonymous(size);
  mem.write(0, o.image ?? markProgram());
  const dtb = buildFlowDtb({ imageName: 'linux_vm_0', vcpus: 1, memory: [{ base: BASE, size: BigInt(size) }], size: PAGE, ...o.dt });
  mem.write(dtbOffset, dtb);
  await v.ioctl(vm, o.lend ? 'ANDROID_LEND_USER_MEM' : 'SET_USER_MEM_REGION', o.lend ? GH.ANDROID_LEND_USER_MEM : GH.SET_USER_MEM_REGION, region({ label: 0, flags: o.flags ?? GMEM.RWX, gpa: BASE, size, hva: mem.addr }));
  const dtbGpa = BASE + BigInt(dtbOffset);
  if (!o.noDtbConfig) await v.ioctl(vm, 'SET_DTB_CONFIG', GH.SET_DTB_CONFIG, args.dtbConfig(dtbGpa, BigInt(PAGE)));
  return { t, v, dev, vm, mem, size, dtbGpa };
}

/** ADD_FUNCTION vCPU `id`, and its run page mapped. */
export async function addVcpu(s: GhVmSetUp, id = 0): Promise<{ fd: number; page: Mapping }> {
  const fd = await s.v.fn(s.vm, 'ADD_FUNCTION vcpu', GH.ADD_FUNCTION, FN.VCPU, args.vcpu(id));
  const size = await s.v.ioctl(fd, 'VCPU_MMAP_SIZE', GH.VCPU_MMAP_SIZE, 0);
  return { fd, page: s.v.mmap(fd, 'mmap run page', size) };
}

/** The RM VMs other than the host: vmid and RM state. */
export async function rmVms(t: TracedEmulator): Promise<Array<{ vmid: number; state: number }>> {
  return (await t.emu.rm.control.inspect()).vms.filter((x) => x.vmid !== 3).map((x) => ({ vmid: x.vmid, state: x.state }));
}

/** The last Linux status the kernel recorded (trace `vm.status`). */
export function linuxStatus(t: TracedEmulator): number | undefined {
  const s = t.trace.events.filter((e) => e.kind === 'vm.status');
  return s.length === 0 ? undefined : Number(s[s.length - 1]!['status']);
}

/** Notifications the RM sent to the host since `mark`. */
export function rmNotifications(t: TracedEmulator, mark: number): string[] {
  return t.trace.events
    .slice(mark)
    .filter((e) => e.kind === 'rm.notification' && e['side'] === 'rm' && e['vmid'] === 3)
    .map((e) => String(e['name']));
}

/** The payloads the host sent with RM message `msgId`, as bytes (trace `rm.call`, client side). */
export function rmPayloads(t: TracedEmulator, msgId: number): Uint8Array[] {
  return t.trace.events
    .filter((e) => e.kind === 'rm.call' && e['side'] === 'client' && e['msgId'] === msgId)
    .map((e) => Uint8Array.from((String(e['hex']).match(/../g) ?? []).map((h) => parseInt(h, 16))));
}

/**
 * Close every fd and mapping, then: the RM holds no guest VM and no parcel, all memory is the
 * host's, invariants hold, no VM is left in the kernel, and the kernel's page pool is back to
 * `pagesBefore` (0 for a fresh emulator). Closes the emulator.
 */
export async function expectGhClean(t: TracedEmulator, pagesBefore = 0): Promise<void> {
  const emu = t.emu;
  await emu.host.closeAll();
  const insp = await emu.rm.control.inspect();
  expect(insp.vms.map((x) => x.vmid).filter((x) => x !== 3)).toEqual([]);
  expect(insp.parcels).toEqual([]);
  expect(insp.assertions).toEqual([]);
  expect([...emu.hyp.memory.ownership().keys()]).toEqual([3]);
  expect(emu.checkInvariants()).toEqual([]);
  expect(emu.kernel.liveVms).toBe(0);
  expect(emu.kernel.pages.inUse).toBe(pagesBefore);
  expect(emu.kernel.leakedPinnedPages).toBe(0);
  expect(emu.host.openFiles()).toEqual([]);
  expect(emu.host.liveMappings()).toEqual([]);
  emu.close();
}

/** Wait `n` event-loop turns. */
export async function turns(n = 50): Promise<void> {
  for (let i = 0; i < n; i++) await new Promise<void>((r) => setImmediate(r));
}
