/**
 * Boot a guest VM for the VM-manager benchmarks the way quic/gunyah-test-vmm does
 * (vmm-flows.md §2: CREATE_VM, guest memory, MAP_MEM, vCPUs, DTB, boot context, START), through
 * the typed layer over the raw HostProcess contract, and close it again (uapi.md §7, §8.3: the
 * last fd's release tears the VM down).
 *
 * The guest is a guest program (docs/guest-images.md "Guest-program image"): vCPU 0 powers the
 * other vCPUs on with PSCI CPU_ON at the image start, then every vCPU loops on a 64-bit MMIO
 * read of 0x6000 (outside guest RAM, so each read is an MMIO exit to the VMM) and checks the
 * value the VMM answered. The holding-cell image (`holdingCellImage()`) boots the same way.
 *
 * Not part of the emulator; used only by bench/*.ts.
 */
import { createEmulator, type Emulator, type EmulatorOptions } from '../../src/emulator.js';
import { guestProgram } from '../../src/guest/index.js';
import { GUNYAH_MEM_ALLOW_RWX, GUNYAH_MEM_FORCE_LEND } from '../../src/vm-mgr/uapi/index.js';
import { GunyahDevice, GuestMemFd, VmFd, VcpuFd, buildVmDtb } from '../../src/vmm/index.js';

/** Guest RAM starts here (the TVMM layout). */
export const GUEST_BASE = 0x8000_0000n;
/** The register the guest reads in its loop: outside RAM, so every read traps to the VMM. */
export const MMIO_REG = 0x6000n;
const PAGE = 4096;
const pageAlign = (n: number): number => Math.ceil(n / PAGE) * PAGE;

/** The value the VMM answers every read with, and the guest checks. */
export const MMIO_VALUE = 0x1122_3344_5566_7788n;

/**
 * PSCI CPU_ON of vCPUs 1..n−1 at the image start on vCPU 0; then, on every vCPU, forever: a
 * 64-bit read of 0x6000 and an `expect` that it returned MMIO_VALUE (a wrong value crashes the
 * vCPU, and the VM's next RUN is a STATUS exit, so a benchmark cannot miss it).
 */
export function mmioLoopImage(vcpus: number): Uint8Array {
  return guestProgram()
    .onCpu(0, (p) => {
      for (let i = 1; i < vcpus; i++) p.psciCpuOn(i, GUEST_BASE, 0).expect(0);
    })
    .forever((p) => p.mmioRead(MMIO_REG, 8).expect(MMIO_VALUE))
    .build();
}

/** A booted VM: its fds, typed. */
export interface BenchVm {
  readonly vm: VmFd;
  readonly mem: GuestMemFd;
  readonly vcpus: readonly VcpuFd[];
  /** Close every fd of this VM (run pages unmapped first); resolves when the VM is torn down. */
  close(): Promise<void>;
}

export interface BootOptions {
  readonly vcpus: number;
  readonly image: Uint8Array;
  /** Skip START. */
  readonly noStart?: boolean;
}

/**
 * CREATE_VM, CREATE_GUEST_MEM (image + DTB page + one stack page per vCPU), MAP_MEM (lend, RWX),
 * ADD_FUNCTION(vCPU) × n with the run pages mapped, DTB written and SET_DTB_CONFIG, image
 * written, SET_BOOT_CONTEXT (PC, SP_EL1), START.
 */
export async function bootVm(dev: GunyahDevice, o: BootOptions): Promise<BenchVm> {
  const n = o.vcpus;
  const vm = await dev.createVm();
  const binSize = pageAlign(o.image.length);
  const size = binSize + (1 + n) * PAGE;
  const mem = await dev.createGuestMem(size);
  await vm.mapMem({ guestAddr: GUEST_BASE, flags: GUNYAH_MEM_FORCE_LEND | GUNYAH_MEM_ALLOW_RWX, mem, size: BigInt(size) });
  const vcpus: VcpuFd[] = [];
  for (let id = 0; id < n; id++) vcpus.push(await vm.addVcpu(id));
  const dtbStart = GUEST_BASE + BigInt(binSize);
  const dtb = buildVmDtb({ vcpus: n, memory: [{ base: GUEST_BASE, size: BigInt(size) }] });
  await mem.writeAt(binSize, dtb);
  await vm.setDtbConfig(dtbStart, BigInt(pageAlign(dtb.length)));
  await mem.writeAt(0, o.image);
  await vm.setBootContext(0x100, GUEST_BASE);
  await vm.setBootContext(0x201, dtbStart + 8192n);
  if (!o.noStart) await vm.start();
  return {
    vm,
    mem,
    vcpus,
    async close() {
      for (const v of vcpus) await v.close();
      await mem.close();
      await vm.close();
    },
  };
}

/** An emulator and its open `/dev/gunyah`. */
export interface BenchHost {
  readonly emu: Emulator;
  readonly dev: GunyahDevice;
  /**
   * Close /dev/gunyah and check that nothing is left: no fd, no mapping, no user allocation, no
   * VM in the kernel or the RM, no parcel, all RAM the host's, invariants clean. Then close the
   * emulator. @throws Error naming what was left
   */
  close(): Promise<void>;
}

/**
 * Run `body` with a fresh emulator; on success check that it left nothing behind. On failure,
 * close every fd of the process and the emulator, and rethrow the failure.
 */
export async function withHost<T>(body: (h: BenchHost) => Promise<T>, opts?: EmulatorOptions): Promise<T> {
  const h = openHost(opts);
  let out: T;
  try {
    out = await body(h);
  } catch (err) {
    await h.emu.host.closeAll().catch(() => undefined);
    h.emu.close();
    throw err;
  }
  await h.close();
  return out;
}

export function openHost(opts?: EmulatorOptions): BenchHost {
  const emu = createEmulator(opts);
  const dev = GunyahDevice.open(emu.host);
  return {
    emu,
    dev,
    async close() {
      await dev.close();
      const left: string[] = [];
      const fds = emu.host.openFiles();
      if (fds.length > 0) left.push(`${fds.length} open fds`);
      if (emu.host.liveMappings().length > 0) left.push('live mappings');
      if (emu.host.allocations().length > 0) left.push('user allocations');
      if (emu.kernel.liveVms !== 0) left.push(`${emu.kernel.liveVms} live VMs in the kernel`);
      const rm = await emu.rm.control.inspect();
      const vms = rm.vms.filter((v) => v.vmid !== emu.hyp.hostVmid);
      if (vms.length > 0) left.push(`${vms.length} VMs in the RM`);
      if (rm.parcels.length > 0) left.push(`${rm.parcels.length} parcels in the RM`);
      const owners = [...emu.hyp.memory.ownership().keys()];
      if (owners.length !== 1 || owners[0] !== emu.hyp.hostVmid) left.push(`memory owned by VMs ${owners.join(', ')}`);
      const errs = emu.checkInvariants();
      if (errs.length > 0) left.push(`invariants: ${errs.slice(0, 3).join('; ')}`);
      emu.close();
      if (left.length > 0) throw new Error(`after closing every VM: ${left.join(', ')}`);
    },
  };
}
