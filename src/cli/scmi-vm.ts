/**
 * A VM with an SCMI-over-virtio device, booted by a TypeScript VMM through the typed layer
 * (src/vmm) in quic/gunyah-test-vmm's order, plus what such a VMM adds for the device: a second
 * guest-memory file mapped with FORCE_SHARE for the virtqueues (the ring region), a doorbell
 * vdevice for the device's irqfd, the virtio-mmio and `/firmware/scmi` DT nodes, and the
 * `ScmiVirtioDevice` behind the vCPUs' MMIO exits.
 *
 *   0x1000_0000  virtio-mmio window (0x200; not RAM, so every access exits)
 *   0x6000       progress register of guest programs (MMIO writes)
 *   0x8000_0000  RAM, lent: [image][DTB page][one stack page per vCPU]
 *   0x9000_0000  ring region, shared (FORCE_SHARE | ALLOW_RW): the driver's virtqueue area
 *
 * Used by the default scenario, the SCMI benchmark and tests.
 *
 * Reference: vmm-flows.md §2 (boot order), §5.1 (bell-<label> vdevice); scmi-virtio.md §11
 * (MMIO exits, ioeventfd, irqfd, shared rings); uapi.md §8.11 (share vs lend);
 * docs/guest-images.md (guest programs, the virtio-scmi driver's ring layout).
 */
import { virtioScmiLayout } from '../guest/virtio-scmi-driver.js';
import {
  GUNYAH_MEM_ALLOW_READ,
  GUNYAH_MEM_ALLOW_RWX,
  GUNYAH_MEM_ALLOW_WRITE,
  GUNYAH_MEM_FORCE_LEND,
  GUNYAH_MEM_FORCE_SHARE,
  GUNYAH_VM_BOOT_CONTEXT_REG,
  PAGE_SIZE,
  REG_SET_PC,
  REG_SET_SP,
} from '../vm-mgr/uapi/constants.js';
import type { RunPage } from '../vm-mgr/uapi/run-page.js';
import { GunyahDevice, type GuestMemFd, type VmFd } from '../vmm/vm-fd.js';
import { buildVmDtb } from '../vmm/vm-dtb.js';
import type { VcpuFd } from '../vmm/vcpu-fd.js';
import { ScmiVirtioDevice, type ScmiAgentSpec } from '../vmm/scmi-device.js';
import type { HostLike } from '../vmm/host-like.js';

/** Where the image is loaded and entered. */
export const SCMI_VM_RAM = 0x8000_0000n;
/** The shared ring region. */
export const SCMI_VM_RING = 0x9000_0000n;
/** The virtio-mmio register window. */
export const SCMI_VM_MMIO = 0x1000_0000n;
/** The progress register guest programs write (outside RAM). */
export const SCMI_VM_MARK = 0x6000n;
/** The device's doorbell: label and SPI line (INTID 32 + line). */
export const SCMI_VM_DOORBELL = { label: 0x5c, line: 12 } as const;
/** Protocols described in the DT's `/firmware/scmi` node. */
const DT_PROTOCOLS = [0x11, 0x13, 0x14, 0x15, 0x16, 0x17];

const pageAlign = (n: number): number => Math.ceil(n / PAGE_SIZE) * PAGE_SIZE;

export interface ScmiVmOptions {
  readonly image: Uint8Array;
  readonly agent: ScmiAgentSpec;
  readonly vcpus?: number;
  /** The queue size the guest program probes with (sizes the ring region; default 16). */
  readonly queueSize?: number;
  /** Ring region size in bytes (default: the driver's layout for `queueSize`, page-aligned). */
  readonly ringBytes?: number;
  /** Ring region binding flags (default FORCE_SHARE | ALLOW_READ | ALLOW_WRITE). */
  readonly ringFlags?: number;
  /** Passed to ScmiVirtioDevice. */
  readonly ioeventfd?: boolean;
  readonly level?: boolean;
  /** Skip START. */
  readonly noStart?: boolean;
}

export interface ScmiVm {
  readonly dev: GunyahDevice;
  readonly vm: VmFd;
  readonly ram: GuestMemFd;
  readonly ring: GuestMemFd;
  readonly ringBytes: number;
  readonly vcpus: readonly VcpuFd[];
  readonly device: ScmiVirtioDevice;
  /** Syscall-level steps of the boot, for a report. */
  readonly steps: readonly string[];
  /**
   * The device first (REMOVE_FUNCTION etc.), then run pages, vCPU fds, guest memory, the VM fd
   * and /dev/gunyah; resolves when all are closed (the last close tears the VM down).
   */
  close(): Promise<void>;
}

/** Boot a VM whose image runs with an SCMI device at SCMI_VM_MMIO and rings at SCMI_VM_RING. */
export async function bootScmiVm(host: HostLike, o: ScmiVmOptions): Promise<ScmiVm> {
  const n = o.vcpus ?? 1;
  const steps: string[] = [];
  const dev = GunyahDevice.open(host);
  const vm = await dev.createVm();
  const binSize = pageAlign(o.image.length);
  const ramSize = binSize + (1 + n) * PAGE_SIZE;
  const ram = await dev.createGuestMem(ramSize);
  const lend = GUNYAH_MEM_FORCE_LEND | GUNYAH_MEM_ALLOW_RWX;
  await vm.mapMem({ guestAddr: SCMI_VM_RAM, flags: lend, mem: ram, size: BigInt(ramSize) });
  steps.push(`MAP_MEM 0x${SCMI_VM_RAM.toString(16)} ${ramSize} bytes, lent (image, DTB, stacks)`);
  const ringBytes = o.ringBytes ?? pageAlign(virtioScmiLayout(Number(SCMI_VM_RING), o.queueSize ?? 16, false).size);
  const ring = await dev.createGuestMem(ringBytes);
  const share = o.ringFlags ?? GUNYAH_MEM_FORCE_SHARE | GUNYAH_MEM_ALLOW_READ | GUNYAH_MEM_ALLOW_WRITE;
  await vm.mapMem({ guestAddr: SCMI_VM_RING, flags: share, mem: ring, size: BigInt(ringBytes) });
  steps.push(`MAP_MEM 0x${SCMI_VM_RING.toString(16)} ${ringBytes} bytes, shared (virtqueue area)`);
  const vcpus: VcpuFd[] = [];
  for (let id = 0; id < n; id++) vcpus.push(await vm.addVcpu(id));
  const device = new ScmiVirtioDevice(vm, {
    mmioBase: SCMI_VM_MMIO,
    doorbellLabel: SCMI_VM_DOORBELL.label,
    line: SCMI_VM_DOORBELL.line,
    agent: o.agent,
    ringRegion: { base: SCMI_VM_RING, size: BigInt(ringBytes) },
    ...(o.ioeventfd !== undefined ? { ioeventfd: o.ioeventfd } : {}),
    ...(o.level !== undefined ? { level: o.level } : {}),
  });
  const dtbStart = SCMI_VM_RAM + BigInt(binSize);
  const dtb = buildVmDtb({
    vcpus: n,
    memory: [{ base: SCMI_VM_RAM, size: BigInt(ramSize) }],
    doorbells: [device.dtbDoorbell],
    virtioMmio: [device.dtbNode],
    scmi: { protocols: DT_PROTOCOLS },
  });
  await ram.writeAt(binSize, dtb);
  await vm.setDtbConfig(dtbStart, BigInt(pageAlign(dtb.length)));
  steps.push(`DTB: bell-${SCMI_VM_DOORBELL.label.toString(16)} (SPI ${SCMI_VM_DOORBELL.line}), virtio@${SCMI_VM_MMIO.toString(16)}, /firmware/scmi`);
  await ram.writeAt(0, o.image);
  await vm.setBootContext(GUNYAH_VM_BOOT_CONTEXT_REG(REG_SET_PC, 0), SCMI_VM_RAM);
  await vm.setBootContext(GUNYAH_VM_BOOT_CONTEXT_REG(REG_SET_SP, 1), dtbStart + BigInt(2 * PAGE_SIZE));
  if (!o.noStart) {
    await vm.start();
    steps.push('START');
  }
  let closed = false;
  return {
    dev,
    vm,
    ram,
    ring,
    ringBytes,
    vcpus,
    device,
    steps,
    async close() {
      if (closed) return;
      closed = true;
      await device.close();
      for (const v of vcpus) await v.close();
      await ring.close();
      await ram.close();
      await vm.close();
      await dev.close();
    },
  };
}

/**
 * RUN `vcpu` until an exit the device does not take: MMIO accesses in its window are handled
 * (and counted in `counts.device`) and the vCPU runs on. Returns that exit.
 */
export async function runPastDevice(vcpu: VcpuFd, device: ScmiVirtioDevice, counts?: { device: number }): Promise<RunPage> {
  for (;;) {
    const e = await vcpu.run();
    if (e.kind === 'mmio') {
      // A plain boolean when the device had nothing to wait for (no await, no microtask).
      const h = device.handleMmio(vcpu, e);
      if (h === true || (h !== false && (await h))) {
        if (counts) counts.device++;
        continue;
      }
    }
    return e;
  }
}
