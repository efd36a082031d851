/**
 * The QEMU RFC v2 boot sequence (vmm-flows.md §4) carried over to the v17 dialect, through the
 * raw `/dev/gunyah` contract, in QEMU's phase order:
 *
 *   phase               QEMU RFC v2 (`gh_`)                          here (v17)
 *   accel init          open, GH_CREATE_VM(0)                        open, CREATE_VM(0)
 *   memory region add   RAM at 2 GiB (sections below 1 GiB skipped); CREATE_GUEST_MEM for RAM; MAP_MEM of the lent part
 *                       protected VM: LEND_USER_MEM for RAM minus    (FORCE_LEND | RWX) and of the trailing part
 *                       preshmem_size, SET_USER_MEM_REGION (share)   (FORCE_SHARE | RWX) of the same file;
 *                       for the trailing part; regular VM: all share regular VM: one FORCE_SHARE | RWX binding
 *   GIC realize         per SPI i: eventfd, IRQFD {fd, label i, LEVEL} same
 *   ioeventfd listener  IOEVENTFD {addr, len, datamatch, DATAMATCH}  same
 *   vCPU thread         VCPU {cpu_index} → fd; mmap(fd, 4096)        same; VCPU_MMAP_SIZE is not asked (Q16)
 *   machine done        DT with /gunyah-vm-config; SET_DTB_CONFIG    same; then SET_BOOT_CONTEXT PC = the slot's start
 *                       {dtb, end of its slot − dtb} (Q8)            (see below)
 *   setup post          GH_VM_START                                  START
 *   vCPU loop           GH_VCPU_RUN                                  VCPU_RUN
 *
 * QEMU sets no boot registers: its `gh_` RM entered the guest at the start of the memory slot
 * that holds the DTB (QEMU's own comment in target/arm/gunyah.c). v17 takes the entry from the
 * boot context only, so the port sets PC to that address (the one addition to QEMU's calls).
 *
 * Layout (ours, scaled down): RAM 68 pages at 0x8000_0000, of which the last 4 pages are the
 * shared part (preshmem_size) and get a `shm-1` vdevice; the image at the RAM base, the DTB
 * right after it; 256 SPIs (virt's GIC), each with a level irqfd and a `bell-<i>` doorbell;
 * a virtio-mmio QueueNotify ioeventfd at 0x0a00_0050 (len 4, datamatch queue 0). The guest is
 * a program: it writes queue 0 to QueueNotify (absorbed by the ioeventfd) and then 'Q' to the
 * PL011 data register at 0x0900_0000, which is the first MMIO exit.
 */
import { describe, expect, it } from 'vitest';
import { expectCleanShutdown } from './support/boot.js';
import {
  args,
  buildFlowDtb,
  eventfdCount,
  FN,
  IOCTL,
  MEM,
  PAGE,
  RawVmm,
  readRunPage,
  REG,
  tracedEmulator,
  type RmReply,
} from './support/flows.js';
import { guestProgram } from '../../src/guest/index.js';
import type { EmulatorOptions } from '../../src/emulator.js';

const RAM_BASE = 0x8000_0000n;
const RAM_PAGES = 68;
const PRESHMEM_PAGES = 4;
const NUM_SPIS = 256;
const VIRTIO_NOTIFY = 0x0a00_0050n;
const UART_DR = 0x0900_0000n;

const ok = (name: string): RmReply => ({ name, err: 'OK' });

/** The guest: a virtio kick (absorbed), then one UART write (the first exit). */
const image = guestProgram().mmioWrite(VIRTIO_NOTIFY, 4, 0).mmioWrite(UART_DR, 4, 0x51).spin().build();

interface QemuOptions {
  readonly protectedVm: boolean;
  readonly emulator?: EmulatorOptions;
}

async function qemuBoot(o: QemuOptions) {
  const t = tracedEmulator(o.emulator);
  const v = new RawVmm(t.emu);
  // accel init.
  const dev = v.open();
  const vm = await v.ioctl(dev, 'CREATE_VM', IOCTL.CREATE_VM, 0);
  // memory region add: RAM only (flash and devices below 1 GiB are skipped).
  const ramSize = RAM_PAGES * PAGE;
  const mem = await v.ioctl(dev, 'CREATE_GUEST_MEM', IOCTL.CREATE_GUEST_MEM, args.createMem(0n, BigInt(ramSize)));
  const slots = o.protectedVm
    ? [
        { start: 0, size: (RAM_PAGES - PRESHMEM_PAGES) * PAGE, flags: MEM.FORCE_LEND | MEM.RWX },
        { start: (RAM_PAGES - PRESHMEM_PAGES) * PAGE, size: PRESHMEM_PAGES * PAGE, flags: MEM.FORCE_SHARE | MEM.RWX },
      ]
    : [{ start: 0, size: ramSize, flags: MEM.FORCE_SHARE | MEM.RWX }];
  for (const s of slots) {
    await v.ioctl(vm, 'MAP_MEM', IOCTL.MAP_MEM, args.mapMem({ guestAddr: RAM_BASE + BigInt(s.start), flags: s.flags, fd: mem, offset: BigInt(s.start), size: BigInt(s.size) }));
  }
  await v.writeGuestMem(mem, 0, image);
  // GIC realize: one level irqfd per SPI, label = SPI number.
  const irqfds: number[] = [];
  for (let i = 0; i < NUM_SPIS; i++) {
    const efd = v.eventfd();
    irqfds.push(efd);
    await v.fn(vm, 'ADD_FUNCTION irqfd', IOCTL.ADD_FUNCTION, FN.IRQFD, args.irqfd(efd, i, 1));
  }
  // ioeventfd listener: virtio-mmio QueueNotify, queue 0.
  const ioefd = v.eventfd();
  await v.fn(vm, 'ADD_FUNCTION ioeventfd', IOCTL.ADD_FUNCTION, FN.IOEVENTFD, args.ioeventfd({ datamatch: 0n, addr: VIRTIO_NOTIFY, len: 4, fd: ioefd, flags: 1 }));
  // vCPU thread: the run page is mapped with a hard-coded 4096 bytes (Q16).
  const vcpu = await v.fn(vm, 'ADD_FUNCTION vcpu', IOCTL.ADD_FUNCTION, FN.VCPU, args.vcpu(0));
  const page = v.mmap(vcpu, 'mmap run page', 4096);
  // machine done: the DT after the image, in the slot that starts at the RAM base.
  const dtbOffset = PAGE;
  const dtbStart = RAM_BASE + BigInt(dtbOffset);
  const slot = slots[0]!;
  const dtbSize = BigInt(slot.start + slot.size - dtbOffset); // Q8: up to the end of the slot
  const dtb = buildFlowDtb({
    imageName: 'qemu-vm',
    vcpus: 1,
    memory: [{ base: RAM_BASE, size: BigInt(ramSize) }],
    doorbells: Array.from({ length: NUM_SPIS }, (_, i) => ({ label: i, line: i, level: true })),
    ...(o.protectedVm ? { shm: [{ label: 1, base: RAM_BASE + BigInt(slots[1]!.start) }] } : {}),
    size: 0,
  });
  expect(BigInt(dtb.length)).toBeLessThan(dtbSize / 2n); // room for the RM's overlay
  await v.writeGuestMem(mem, dtbOffset, dtb);
  await v.ioctl(vm, 'SET_DTB_CONFIG', IOCTL.SET_DTB_CONFIG, args.dtbConfig(dtbStart, dtbSize));
  await v.ioctl(vm, 'SET_BOOT_CONTEXT', IOCTL.SET_BOOT_CONTEXT, args.bootContext(REG.PC, RAM_BASE + BigInt(slot.start)));
  return { t, v, dev, vm, mem, irqfds, ioefd, vcpu, page, dtbStart, dtbSize };
}

const expectedSequence = (slots: number): string[] => [
  'open /dev/gunyah',
  'CREATE_VM',
  'CREATE_GUEST_MEM',
  ...Array.from({ length: slots }, () => 'MAP_MEM'),
  'write guest memory @0',
  ...Array.from({ length: NUM_SPIS }, () => ['eventfd', 'ADD_FUNCTION irqfd']).flat(),
  'eventfd',
  'ADD_FUNCTION ioeventfd',
  'ADD_FUNCTION vcpu',
  'mmap run page',
  'write guest memory @1000',
  'SET_DTB_CONFIG',
  'SET_BOOT_CONTEXT',
];

describe('QEMU RFC v2 boot sequence in the v17 dialect (vmm-flows.md §4)', () => {
  it('protected VM (lent RAM + shared preshmem tail): reaches the first MMIO exit, the UART write; exit closes clean', async () => {
    const b = await qemuBoot({ protectedVm: true });
    const { t, v } = b;
    const m = t.mark();
    expect(await v.ioctl(b.vm, 'START', IOCTL.START)).toBe(0);
    expect(v.sequence()).toEqual([...expectedSequence(2), 'START']);
    expect(v.calls.some((c) => c.call === 'VCPU_MMAP_SIZE')).toBe(false);
    // The DTB parcel is lent (its slot is the lent one) and covers the DTB to the slot's end.
    expect(t.hostRmCallsSince(m).map((c) => c.name)).toEqual([
      'VM_ALLOCATE',
      'MEM_LEND',
      'VM_CONFIG_IMAGE',
      'VM_SET_DEMAND_PAGING',
      'VM_SET_ADDRESS_LAYOUT',
      'VM_INIT',
      'VM_SET_CONTEXT',
      'VM_GET_HYP_RESOURCES',
      'VM_START',
    ]);
    expect(t.hostRmCallsSince(m).every((c) => c.err === 'OK')).toBe(true);

    // vCPU loop: the virtio kick is absorbed by the ioeventfd; the UART write exits.
    expect(await v.ioctl(b.vcpu, 'VCPU_RUN', IOCTL.VCPU_RUN)).toBe(0);
    const p = readRunPage(b.page);
    expect(p.exitReason).toBe(1);
    expect(p.mmio).toMatchObject({ physAddr: UART_DR, len: 4, isWrite: true, data: 0x51n });
    expect(await eventfdCount(t.emu, b.ioefd)).toBe(1n);

    // QEMU exits: the process's fds all close.
    const m2 = t.mark();
    await t.emu.host.closeAll();
    expect(t.hostRmCallsSince(m2)).toEqual([ok('VM_STOP'), ok('VM_RESET'), ok('VM_DEALLOCATE')]);
    await expectCleanShutdown(t.emu);
  });

  it('regular VM (all RAM shared): START fails with ENOMEM (QUIRK K6: the shared DTB parcel has no ACL entries)', async () => {
    const b = await qemuBoot({ protectedVm: false });
    const { t, v } = b;
    const m = t.mark();
    expect(await v.ioctlErrno(b.vm, 'START', IOCTL.START)).toBe('ENOMEM');
    // The parcel is never sent: only the VMID was allocated.
    expect(t.hostRmCallsSince(m)).toEqual([ok('VM_ALLOCATE')]);
    expect(await v.ioctlErrno(b.vm, 'START', IOCTL.START)).toBe('ENODEV');
    const m2 = t.mark();
    await t.emu.host.closeAll();
    expect(t.hostRmCallsSince(m2)).toEqual([ok('VM_DEALLOCATE')]);
    await expectCleanShutdown(t.emu);
  });

  it('regular VM with K6 switched off: the DTB parcel goes out as MEM_SHARE (guest + host) and START succeeds, but the image in shared RAM cannot run', async () => {
    const b = await qemuBoot({ protectedVm: false, emulator: { quirks: { k6ShareDtbAclCount: false } } });
    const { t, v } = b;
    const m = t.mark();
    expect(await v.ioctl(b.vm, 'START', IOCTL.START)).toBe(0);
    const calls = t.hostRmCallsSince(m);
    expect(calls.map((c) => c.name)).toEqual([
      'VM_ALLOCATE',
      'VM_GET_VMID',
      'MEM_SHARE',
      'VM_CONFIG_IMAGE',
      'VM_SET_ADDRESS_LAYOUT',
      'VM_INIT',
      'VM_SET_CONTEXT',
      'VM_GET_HYP_RESOURCES',
      'VM_START',
    ]);
    expect(await v.ioctl(b.vcpu, 'VCPU_RUN', IOCTL.VCPU_RUN)).toBe(0);
    // Shared guest memory is never executable (uapi.md §8.11: share gives RW or R) and a fetch
    // is no MMIO access that could page it in: the guest faults on its first instruction and
    // the VM exits with SOFTWARE_ERROR (5) (docs/decisions.md K3).
    expect(readRunPage(b.page)).toMatchObject({ exitReason: 2, status: { status: 2, exitType: 5 } });
    const m2 = t.mark();
    await t.emu.host.closeAll();
    expect(t.hostRmCallsSince(m2)).toEqual([ok('VM_RESET'), ok('VM_DEALLOCATE')]);
    await expectCleanShutdown(t.emu);
  });
});
