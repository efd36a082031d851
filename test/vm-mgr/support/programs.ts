/**
 * Test support for the runtime tests: boot a VM that runs a scripted guest program
 * (docs/guest-images.md "Guest-program image") with the test-vmm layout of vmm-flows.md §2, and
 * small helpers to drive RUN and look at the VM from the host's side.
 *
 * The guest programs report through MMIO writes at addresses outside RAM (vmm-flows.md §6.2 and
 * uapi.md §10: quic/gunyah-test-vmm relies on unbacked addresses such as 0x6000 and 0x7000
 * trapping as MMIO), so a test sees "the guest got here" as an MMIO write exit with a value.
 */
import { expect } from 'vitest';
import type { Emulator } from '../../../src/emulator.js';
import { holdingCellWord, type GuestProgramBuilder } from '../../../src/guest/index.js';
import type { VcpuFd } from '../../../src/vmm/index.js';
import type { RunPageMmio, RunPageStatus, RunPagePageFault } from '../../../src/vm-mgr/uapi/index.js';
import type { GunyahVm } from '../../../src/vm-mgr/vm.js';
import { VmFile } from '../../../src/vm-mgr/vm-file.js';
import { bootHoldingCell, GUEST_BASE, PAGE, type BootedVm, type BootOptions } from './boot.js';

/** Where programs report progress: an MMIO write of a step number (outside RAM, traps). */
export const MARK = 0x6000n;
/** A second report register, for values the test checks. */
export const REPORT = 0x6008n;

/** Boot a VM whose image is a guest program (or raw image bytes), otherwise as `bootHoldingCell`. */
export function bootProgram(p: GuestProgramBuilder | Uint8Array, o: Omit<BootOptions, 'image'> = {}): Promise<BootedVm> {
  return bootHoldingCell({ ...o, image: p instanceof Uint8Array ? p : p.build() });
}

/** Guest address of extra page `k` (after the image, the DTB page and one stack page per vCPU). */
export function extraPage(b: BootedVm, k: number): bigint {
  return b.dtbStart + BigInt((1 + b.vcpus.length + k) * PAGE);
}

/** File offset of extra page `k` in the boot binding's guest-memory file. */
export function extraPageOffset(b: BootedVm, k: number): number {
  return Number(extraPage(b, k) - GUEST_BASE);
}

/** RUN and expect an MMIO exit. */
export async function runMmio(v: VcpuFd): Promise<RunPageMmio> {
  const exit = await v.run();
  if (exit.kind !== 'mmio') throw new Error(`expected an MMIO exit, got ${describe(exit)}`);
  return exit.mmio;
}

/** RUN and expect an MMIO write of `value` (compared on its first `len` bytes) at `addr`. */
export async function expectWrite(v: VcpuFd, addr: bigint, value: bigint, len = 8): Promise<void> {
  const m = await runMmio(v);
  expect({ addr: m.physAddr, write: m.isWrite, len: m.len, data: lowBytes(m.data, m.len) }).toEqual({
    addr,
    write: true,
    len,
    data: lowBytes(value, len),
  });
}

/** RUN and expect a STATUS exit. */
export async function runStatus(v: VcpuFd): Promise<RunPageStatus> {
  const exit = await v.run();
  if (exit.kind !== 'status') throw new Error(`expected a STATUS exit, got ${describe(exit)}`);
  return exit.status;
}

/** RUN and expect a PAGE_FAULT exit. */
export async function runPageFault(v: VcpuFd): Promise<RunPagePageFault> {
  const exit = await v.run();
  if (exit.kind !== 'page-fault') throw new Error(`expected a PAGE_FAULT exit, got ${describe(exit)}`);
  return exit.pageFault;
}

/** The first `len` bytes of `v` as an unsigned value. */
export function lowBytes(v: bigint, len: number): bigint {
  return BigInt.asUintN(8 * len, v);
}

/** The guest VM's VMID (the one VM besides HLOS the RM knows). */
export async function guestVmid(emu: Emulator): Promise<number> {
  const vms = (await emu.rm.control.inspect()).vms.filter((v) => v.vmid !== 3);
  expect(vms).toHaveLength(1);
  return vms[0]!.vmid;
}

/** The kernel's record of the VM behind a VM fd (for looking at pages given to the guest). */
export function kernelVm(emu: Emulator, vmFd: number): GunyahVm {
  const f = emu.host.openFiles().find((x) => x.fd === vmFd);
  if (!(f?.file instanceof VmFile)) throw new Error(`fd ${vmFd} is not a VM fd`);
  return f.file.vm;
}

/** True when `p` has not settled after a few event-loop turns (a RUN that sleeps). */
export async function stillPending(p: Promise<unknown>, turns = 20): Promise<boolean> {
  let settled = false;
  p.then(
    () => (settled = true),
    () => (settled = true),
  );
  for (let i = 0; i < turns; i++) await new Promise<void>((r) => setImmediate(r));
  return !settled;
}

/** An 8-byte little-endian eventfd value. */
export function u64le(v: bigint): Uint8Array {
  const b = new Uint8Array(8);
  new DataView(b.buffer).setBigUint64(0, v, true);
  return b;
}

/** Read an 8-byte eventfd value (the counter; the read resets it). */
export async function readEventfd(emu: Emulator, fd: number): Promise<bigint> {
  const b = await emu.host.read(fd, 8);
  return new DataView(b.buffer, b.byteOffset, 8).getBigUint64(0, true);
}

function describe(exit: unknown): string {
  return JSON.stringify(exit, (_, v) => (typeof v === 'bigint' ? `0x${v.toString(16)}` : v instanceof Uint8Array ? [...v] : v));
}

/**
 * The first half of a holding-cell command (vmm-flows.md §6.5 steps 1–4): answer the command
 * read and each argument read, without running the guest on. The next RUN shows what the
 * command does (a memory access that faults, an HVC, the result write).
 */
export async function startCommand(v: VcpuFd, id: number, args: readonly bigint[] = []): Promise<void> {
  let m = await runMmio(v);
  expect({ addr: m.physAddr, write: m.isWrite, len: m.len }).toEqual({ addr: MARK, write: false, len: 8 });
  v.setMmioData(holdingCellWord(id, args.length));
  for (const a of args) {
    m = await runMmio(v);
    expect({ addr: m.physAddr, write: m.isWrite }).toEqual({ addr: MARK, write: false });
    v.setMmioData(a);
  }
}
