/**
 * crosvm's boot sequence (vmm-flows.md §3) carried over to the v17 dialect, through the raw
 * `/dev/gunyah` contract: the ioctl order is crosvm's; each `gh_` call is replaced by its v17
 * counterpart.
 *
 *   crosvm (`gh_`)                               here (v17)
 *   open + GH_CREATE_VM(0)                       open + CREATE_VM(0)
 *   per region: SET_USER_MEM_REGION (R|W|X)      CREATE_GUEST_MEM + MAP_MEM, access DEFAULT (v17: lend) | RWX = 0x70;
 *     protected: MAP_CMA_MEM FORCE_LEND            protected: FORCE_LEND | RWX = 0x71
 *   payload written into guest memory            written through a temporary mapping of the guest-memory file
 *   per device IRQ: ADD_FUNCTION IRQFD           same {fd, label = irq, LEVEL or 0}
 *   per MMIO ioevent: ADD_FUNCTION IOEVENTFD     same, non-datamatch {len 0, flags 0} (Q4)
 *   per vCPU: ADD_FUNCTION VCPU, MMAP_SIZE, mmap same
 *   GH_VM_CHECK_EXTENSION(0) → DT               'A' ioctl 0x4117 → ENOTTY on v17 → `no-timer-wakeups`
 *   SET_DTB_CONFIG, SET_BOOT_CONTEXT(PC), START  same; the DTB is written near the top of RAM
 *   RUN                                          first exit: the holding cell's read of 0x6000 (no SP is set)
 *
 * Layout (ours, scaled down): RAM 1 MiB at 0x8000_0000 (crosvm's AArch64 RAM base), the payload
 * at its start (payload offset 0), the FDT in the last 8 KiB, two vCPUs, irqfds 4 (level) and
 * 5 (edge), an ioeventfd at 0x6_0000 (any length). Close: crosvm's device drop removes the
 * irqfds by label only and the ioeventfd by address only (Q18), then every fd is closed.
 */
import { describe, expect, it } from 'vitest';
import { expectCleanShutdown } from './support/boot.js';
import {
  args,
  buildFlowDtb,
  eventfdCount,
  expectNothingOpen,
  FN,
  GH_IOCTL,
  IOCTL,
  MEM,
  PAGE,
  pageAlign,
  RawVmm,
  rawHoldingCellCommand,
  readRunPage,
  REG,
  startRmCalls,
  tracedEmulator,
  type RmReply,
} from './support/flows.js';
import { holdingCellImage, holdingCellWord, HoldingCellCmd } from '../../src/guest/index.js';

const RAM_BASE = 0x8000_0000n;
const RAM_SIZE = 0x10_0000;
const FDT_SIZE = 0x2000;
const FDT_GPA = RAM_BASE + BigInt(RAM_SIZE - FDT_SIZE);
const NVCPUS = 2;
const IRQS = [
  { label: 4, line: 4, level: true },
  { label: 5, line: 5, level: false },
] as const;
const IOEVENT_ADDR = 0x6_0000n;

const ok = (name: string): RmReply => ({ name, err: 'OK' });

async function crosvmBoot(protectedVm: boolean) {
  const t = tracedEmulator();
  const v = new RawVmm(t.emu);
  // 1.
  const dev = v.open();
  const vm = await v.ioctl(dev, 'CREATE_VM', IOCTL.CREATE_VM, 0);
  // 2. One RAM region.
  const mem = await v.ioctl(dev, 'CREATE_GUEST_MEM', IOCTL.CREATE_GUEST_MEM, args.createMem(0n, BigInt(pageAlign(RAM_SIZE))));
  const memFlags = (protectedVm ? MEM.FORCE_LEND : MEM.DEFAULT) | MEM.RWX;
  await v.ioctl(vm, 'MAP_MEM', IOCTL.MAP_MEM, args.mapMem({ guestAddr: RAM_BASE, flags: memFlags, fd: mem, offset: 0n, size: BigInt(RAM_SIZE) }));
  const image = holdingCellImage();
  await v.writeGuestMem(mem, 0, image);
  // 3. Device interrupts.
  const irqfds: number[] = [];
  for (const irq of IRQS) {
    const efd = v.eventfd();
    irqfds.push(efd);
    await v.fn(vm, 'ADD_FUNCTION irqfd', IOCTL.ADD_FUNCTION, FN.IRQFD, args.irqfd(efd, irq.label, irq.level ? 1 : 0));
  }
  // 4. An MMIO ioevent, any length (crosvm registers no datamatch ioeventfds).
  const ioefd = v.eventfd();
  await v.fn(vm, 'ADD_FUNCTION ioeventfd', IOCTL.ADD_FUNCTION, FN.IOEVENTFD, args.ioeventfd({ addr: IOEVENT_ADDR, len: 0, fd: ioefd, flags: 0 }));
  // 5. vCPUs.
  const vcpus: Array<{ fd: number; page: ReturnType<RawVmm['mmap']> }> = [];
  for (let id = 0; id < NVCPUS; id++) {
    const fd = await v.fn(vm, 'ADD_FUNCTION vcpu', IOCTL.ADD_FUNCTION, FN.VCPU, args.vcpu(id));
    const size = await v.ioctl(fd, 'VCPU_MMAP_SIZE', IOCTL.VCPU_MMAP_SIZE);
    vcpus.push({ fd, page: v.mmap(fd, 'mmap run page', size) });
  }
  // 6. The timer-wakeup capability: the 'A' ioctl does not exist in v17, so crosvm sees the
  // capability as absent and asks for no-timer-wakeups.
  const capErr = await v.ioctlErrno(vm, 'CHECK_EXTENSION', GH_IOCTL.CHECK_EXTENSION, 0);
  const timerWakeup = false;
  const dtb = buildFlowDtb({
    imageName: 'crosvm-vm',
    vcpus: NVCPUS,
    memory: [{ base: RAM_BASE, size: BigInt(RAM_SIZE) }],
    sizeMax: 0x7_8000_0000n,
    noTimerWakeups: !timerWakeup,
    doorbells: IRQS,
    sourceCanClear: 'source-can-clear',
    size: FDT_SIZE,
  });
  await v.writeGuestMem(mem, RAM_SIZE - FDT_SIZE, dtb);
  // 8.–10.
  await v.ioctl(vm, 'SET_DTB_CONFIG', IOCTL.SET_DTB_CONFIG, args.dtbConfig(FDT_GPA, BigInt(FDT_SIZE)));
  await v.ioctl(vm, 'SET_BOOT_CONTEXT', IOCTL.SET_BOOT_CONTEXT, args.bootContext(REG.PC, RAM_BASE));
  const m = t.mark();
  await v.ioctl(vm, 'START', IOCTL.START);
  return { t, v, dev, vm, mem, irqfds, ioefd, vcpus, capErr, startCalls: t.hostRmCallsSince(m), image };
}

describe('crosvm boot sequence in the v17 dialect (vmm-flows.md §3)', () => {
  it.each([
    ['a regular VM (SET_USER_MEM_REGION → MAP_MEM DEFAULT | RWX)', false],
    ['a protected VM (MAP_CMA_MEM FORCE_LEND → MAP_MEM FORCE_LEND | RWX)', true],
  ] as const)('%s: reaches the first MMIO exit, a read of 0x6000, len 8; closes clean', async (_n, protectedVm) => {
    const b = await crosvmBoot(protectedVm);
    const { v, t } = b;
    // The ioctl order is crosvm's.
    expect(v.sequence()).toEqual([
      'open /dev/gunyah',
      'CREATE_VM',
      'CREATE_GUEST_MEM',
      'MAP_MEM',
      'write guest memory @0',
      'eventfd',
      'ADD_FUNCTION irqfd',
      'eventfd',
      'ADD_FUNCTION irqfd',
      'eventfd',
      'ADD_FUNCTION ioeventfd',
      'ADD_FUNCTION vcpu',
      'VCPU_MMAP_SIZE',
      'mmap run page',
      'ADD_FUNCTION vcpu',
      'VCPU_MMAP_SIZE',
      'mmap run page',
      'CHECK_EXTENSION',
      `write guest memory @${(RAM_SIZE - FDT_SIZE).toString(16)}`,
      'SET_DTB_CONFIG',
      'SET_BOOT_CONTEXT',
      'START',
    ]);
    expect(v.calls.find((c) => c.call === 'VCPU_MMAP_SIZE')?.ret).toBe(PAGE);
    expect(b.capErr).toBe('ENOTTY');
    // START made the v17 RM calls of uapi.md §8.2, one boot-context entry (PC).
    expect(b.startCalls).toEqual(startRmCalls(1));

    // vCPU 0: no SP was set, so the holding cell goes straight to its command loop.
    const [cpu0] = b.vcpus;
    expect(await v.ioctl(cpu0!.fd, 'VCPU_RUN', IOCTL.VCPU_RUN)).toBe(0);
    const first = readRunPage(cpu0!.page);
    expect(first.exitReason).toBe(1);
    expect(first.mmio).toMatchObject({ physAddr: 0x6000n, len: 8, isWrite: false, resumeAction: 0 });

    // The DTB is where crosvm put it, with the RM's overlay in place: the guest reads its magic.
    const magic = await rawHoldingCellCommand(v, cpu0!.fd, cpu0!.page, holdingCellWord(HoldingCellCmd.READ_ADDR, 1), [FDT_GPA], true);
    expect(magic & 0xffff_ffffn).toBe(0xedfe_0dd0n); // d0 0d fe ed, read little-endian
    // The payload is at the RAM base: the first 8 bytes of the image.
    const first8 = new DataView(b.image.buffer, b.image.byteOffset).getBigUint64(0, true);
    expect(await rawHoldingCellCommand(v, cpu0!.fd, cpu0!.page, holdingCellWord(HoldingCellCmd.READ_ADDR, 1), [RAM_BASE])).toBe(first8);
    // A store to the ioevent address is absorbed: no exit, the eventfd counts 1.
    expect(await rawHoldingCellCommand(v, cpu0!.fd, cpu0!.page, holdingCellWord(HoldingCellCmd.WRITE_IO, 2), [IOEVENT_ADDR, 0x1234n])).toBe(0n);
    expect(await eventfdCount(t.emu, b.ioefd)).toBe(1n);

    // Device drop: irqfds removed by label only, the ioeventfd by address only (Q18: it matches
    // here because it was registered with len 0 and no flags).
    for (const irq of IRQS) {
      expect(await v.fn(b.vm, 'REMOVE_FUNCTION irqfd', IOCTL.REMOVE_FUNCTION, FN.IRQFD, args.irqfd(0, irq.label, 0))).toBe(0);
    }
    expect(await v.fn(b.vm, 'REMOVE_FUNCTION ioeventfd', IOCTL.REMOVE_FUNCTION, FN.IOEVENTFD, args.ioeventfd({ addr: IOEVENT_ADDR, len: 0, fd: 0, flags: 0 }))).toBe(0);
    const m = t.mark();
    for (const c of b.vcpus) {
      await c.page.unmap();
      await v.close(c.fd, 'vcpu');
    }
    for (const fd of [...b.irqfds, b.ioefd]) await v.close(fd, 'eventfd');
    await v.close(b.vm, 'vm');
    await v.close(b.mem, 'guest memory');
    await v.close(b.dev, '/dev/gunyah');
    expectNothingOpen(t.emu);
    // Teardown (uapi.md §8.3) of a running VM: force stop, reset, deallocate.
    expect(t.hostRmCallsSince(m)).toEqual([ok('VM_STOP'), ok('VM_RESET'), ok('VM_DEALLOCATE')]);
    await expectCleanShutdown(t.emu);
  });

  it("crosvm's gh_ calls do not exist in v17: SET_USER_MEM_REGION (nr 0x1) and CHECK_EXTENSION are ENOTTY", async () => {
    const t = tracedEmulator();
    const v = new RawVmm(t.emu);
    const dev = v.open();
    const vm = await v.ioctl(dev, 'CREATE_VM', IOCTL.CREATE_VM, 0);
    const hva = t.emu.host.malloc(PAGE);
    expect(
      await v.ioctlErrno(vm, 'SET_USER_MEM_REGION', GH_IOCTL.SET_USER_MEM_REGION, args.ghUserMemRegion({ label: 0, flags: 0x7, gpa: RAM_BASE, size: BigInt(PAGE), hva })),
    ).toBe('ENOTTY');
    expect(await v.ioctlErrno(vm, 'CHECK_EXTENSION', GH_IOCTL.CHECK_EXTENSION, 0)).toBe('ENOTTY');
    t.emu.host.free(hva);
    expect(t.hostRmCalls()).toEqual([]);
    await expectCleanShutdown(t.emu);
  });

  it("Q4: crosvm's DATAMATCH encoding (flags 1 << 1 = 2) is refused with EINVAL", async () => {
    const t = tracedEmulator();
    const v = new RawVmm(t.emu);
    const dev = v.open();
    const vm = await v.ioctl(dev, 'CREATE_VM', IOCTL.CREATE_VM, 0);
    const efd = v.eventfd();
    expect(await v.fnErrno(vm, 'ADD_FUNCTION ioeventfd', IOCTL.ADD_FUNCTION, FN.IOEVENTFD, args.ioeventfd({ datamatch: 1n, addr: IOEVENT_ADDR, len: 4, fd: efd, flags: 2 }))).toBe('EINVAL');
    await expectCleanShutdown(t.emu);
  });
});
