/**
 * Test support: boot a holding-cell VM the way quic/gunyah-test-vmm does (vmm-flows.md §2),
 * through the typed layer over the raw HostProcess contract, and check that nothing is left
 * behind afterwards.
 */
import { expect } from 'vitest';
import { createEmulator, type Emulator, type EmulatorOptions } from '../../../src/emulator.js';
import { GunyahDevice, GuestMemFd, VmFd, VcpuFd, buildVmDtb, type HostLike, type VmDtbDoorbell } from '../../../src/vmm/index.js';
import { holdingCellImage } from '../../../src/guest/index.js';
import { GUNYAH_MEM_ALLOW_RWX, GUNYAH_MEM_FORCE_LEND } from '../../../src/vm-mgr/uapi/index.js';

export const GUEST_BASE = 0x8000_0000n;
export const PAGE = 4096;

export interface BootedVm {
  readonly emu: Emulator;
  readonly dev: GunyahDevice;
  readonly vm: VmFd;
  readonly mem: GuestMemFd;
  readonly vcpus: VcpuFd[];
  readonly dtbStart: bigint;
  readonly image: Uint8Array;
}

export interface BootOptions {
  readonly vcpus?: number;
  readonly doorbells?: readonly VmDtbDoorbell[];
  readonly image?: Uint8Array;
  readonly emulator?: EmulatorOptions;
  /** Extra bytes of guest memory after the stacks. */
  readonly extraPages?: number;
  /** Skip START (default false). */
  readonly noStart?: boolean;
}

const pageAlign = (n: number): number => Math.ceil(n / PAGE) * PAGE;

/** What `bootVia` sets up through a HostLike. */
export type BootedVia = Omit<BootedVm, 'emu'>;

/** Steps 1–12 of vmm-flows.md §2 through any HostLike (the emulator's process, a bridge client); START left out with `noStart`. */
export async function bootVia(host: HostLike, o: Omit<BootOptions, 'emulator'> = {}): Promise<BootedVia> {
  const n = o.vcpus ?? 1;
  const image = o.image ?? holdingCellImage();
  const dev = GunyahDevice.open(host);
  const vm = await dev.createVm();
  const binSize = pageAlign(image.length);
  const size = binSize + (1 + n + (o.extraPages ?? 0)) * PAGE;
  const mem = await dev.createGuestMem(size);
  await vm.mapMem({ guestAddr: GUEST_BASE, flags: GUNYAH_MEM_FORCE_LEND | GUNYAH_MEM_ALLOW_RWX, mem, size: BigInt(size) });
  const vcpus: VcpuFd[] = [];
  for (let id = 0; id < n; id++) vcpus.push(await vm.addVcpu(id));
  const dtbStart = GUEST_BASE + BigInt(binSize);
  const dtb = buildVmDtb({ vcpus: n, memory: [{ base: GUEST_BASE, size: BigInt(size) }], doorbells: o.doorbells ?? [] });
  await mem.writeAt(binSize, dtb);
  await vm.setDtbConfig(dtbStart, BigInt(pageAlign(dtb.length)));
  await mem.writeAt(0, image);
  await vm.setBootContext(0x100, GUEST_BASE);
  await vm.setBootContext(0x201, dtbStart + 8192n);
  if (!o.noStart) await vm.start();
  return { dev, vm, mem, vcpus, dtbStart, image };
}

/** Steps 1–12 of vmm-flows.md §2 on the emulator's own process; START is left to the caller when `noStart`. */
export async function bootHoldingCell(o: BootOptions = {}, emu: Emulator = createEmulator(o.emulator)): Promise<BootedVm> {
  return { emu, ...(await bootVia(emu.host, o)) };
}

/** Close every fd of the process and check the RM and memory are back to boot state. */
export async function expectCleanShutdown(emu: Emulator): Promise<void> {
  await emu.host.closeAll();
  const rm = await emu.rm.control.inspect();
  expect(rm.vms.map((v) => v.vmid).filter((v) => v !== 3)).toEqual([]);
  expect(rm.parcels).toEqual([]);
  expect([...emu.hyp.memory.ownership().keys()]).toEqual([3]);
  expect(emu.checkInvariants()).toEqual([]);
  expect(emu.kernel.liveVms).toBe(0);
  emu.close();
}
