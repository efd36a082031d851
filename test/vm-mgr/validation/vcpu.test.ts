/**
 * vCPU fd validation rows, end to end through the raw HostProcess contract: VCPU_MMAP_SIZE,
 * the run-page mmap, every VCPU_RUN row, unknown requests, close (teardown on the last VM
 * reference) and EBADF after close. The run page is read at the sheet's offsets.
 *
 * Reference: uapi.md §5 (run page; zero-filled at creation), §6.3 (vCPU fd rows), §8.4 (RUN
 * entry checks and states), §8.6–§8.10 (MMIO, page-fault and STATUS exits, immediate_exit),
 * hypervisor.md §3 (hypervisor error → errno); docs/decisions.md K3 (a guest crash is a STATUS
 * exit EXITED with exit type SOFTWARE_ERROR 5).
 */
import { describe, expect, it } from 'vitest';
import { guestProgram } from '../../../src/guest/index.js';
import { SigbusError } from '../../../src/shared/sigbus-error.js';
import {
  EXIT_MMIO,
  EXIT_PAGE_FAULT,
  EXIT_STATUS,
  FN_VCPU,
  GUEST_BASE,
  HC,
  HC_CMD,
  MEM_LEND,
  MEM_R,
  MEM_RWX,
  MEM_UNMAP,
  PAGE,
  REQ,
  RESUME_FAULT,
  RUN,
  RunView,
  VM_STATUS_EXITED,
  errnoOf,
  expectErrno,
  finish,
  hcWord,
  ioc,
  rawBoot,
  readRunPage,
  turns,
  u64,
  vcpuArg,
} from '../support/raw.js';

const EXTRA = 0x9000_0000n;

describe('uapi.md §6.3 VCPU_MMAP_SIZE and mmap', () => {
  it('VCPU_MMAP_SIZE: always → PAGE_SIZE (4096): before start, after start, after the function was removed', async () => {
    const b = await rawBoot({ noStart: true });
    const fd = b.vcpus[0]!;
    expect(await b.raw.ioctl(fd, REQ.VCPU_MMAP_SIZE, 0)).toBe(4096);
    await b.raw.start(b.vm);
    expect(await b.raw.ioctl(fd, REQ.VCPU_MMAP_SIZE, 0)).toBe(4096);
    await b.raw.removeFunction(b.vm, FN_VCPU, vcpuArg(0));
    expect(await b.raw.ioctl(fd, REQ.VCPU_MMAP_SIZE, 0x1234)).toBe(4096);
    await finish(b.emu);
  });

  it('mmap: the run page is zero-filled when the vCPU function is created', async () => {
    const b = await rawBoot({ noStart: true });
    const m = b.host.mmap(b.vcpus[0]!, PAGE);
    expect(m.read(0, PAGE)).toEqual(new Uint8Array(PAGE));
    await finish(b.emu);
  });

  it.each([1, 100, 4096, 3 * 4096])('mmap: any length (%d) → ok; only page offset 0 is backed, elsewhere SIGBUS', async (len) => {
    const b = await rawBoot({ noStart: true });
    const m = b.host.mmap(b.vcpus[0]!, len);
    m.write(RUN.MMIO_DATA, u64(0x42));
    expect(m.read(RUN.MMIO_DATA, 8)).toEqual(u64(0x42));
    if (m.length > PAGE) {
      let err: unknown;
      try {
        m.read(PAGE + 8, 1);
      } catch (e) {
        err = e;
      }
      expect(err).toBeInstanceOf(SigbusError);
      expect((err as SigbusError).address).toBe(m.addr + BigInt(PAGE + 8));
    }
    await finish(b.emu);
  });

  it('mmap: at page offset 1 → ok, but every access raises SIGBUS', async () => {
    const b = await rawBoot({ noStart: true });
    const m = b.host.mmap(b.vcpus[0]!, PAGE, PAGE);
    expect(() => m.read(0, 1)).toThrow(SigbusError);
    expect(() => m.write(0, Uint8Array.of(1))).toThrow(SigbusError);
    await finish(b.emu);
  });
});

describe('uapi.md §6.3 VCPU_RUN', () => {
  it('VCPU_RUN: the vCPU function was removed (before start) → ENODEV; the fd stays open and every later RUN says the same', async () => {
    const b = await rawBoot({ noStart: true });
    const fd = b.vcpus[0]!;
    await b.raw.removeFunction(b.vm, FN_VCPU, vcpuArg(0));
    await expectErrno(b.raw.run(fd), 'ENODEV');
    await b.raw.start(b.vm);
    await expectErrno(b.raw.run(fd), 'ENODEV');
    expect(b.host.openFiles().some((f) => f.fd === fd)).toBe(true);
    await finish(b.emu);
  });

  it('VCPU_RUN: the vCPU function was removed (after an exit) → ENODEV, for good', async () => {
    const b = await rawBoot();
    const v = await RunView.of(b.raw, b.vcpus[0]!);
    await v.mmio(HC_CMD, false);
    await b.raw.removeFunction(b.vm, FN_VCPU, vcpuArg(0));
    await expectErrno(b.raw.run(v.vcpu), 'ENODEV');
    await expectErrno(b.raw.run(v.vcpu), 'ENODEV');
    await finish(b.emu);
  });

  it('VCPU_RUN: no vCPU resource yet (VM not started) → ENODEV', async () => {
    const b = await rawBoot({ noStart: true });
    await expectErrno(b.raw.run(b.vcpus[0]!), 'ENODEV');
    // After start the same fd runs.
    await b.raw.start(b.vm);
    const v = await RunView.of(b.raw, b.vcpus[0]!);
    await v.mmio(HC_CMD, false);
    await finish(b.emu);
  });

  it('VCPU_RUN: no RM resource with label = id (started VM, vCPU id 5 of a 1-vCPU DT) → ENODEV', async () => {
    const b = await rawBoot();
    const fd = await b.raw.addVcpu(b.vm, 5);
    await expectErrno(b.raw.run(fd), 'ENODEV');
    await finish(b.emu);
  });

  it.each([3, 4, 0x80, 0xff])('VCPU_RUN: previous exit MMIO and resume_action %d ∉ {0,1,2} → EINVAL; the state is unchanged, so fixing the byte resumes', async (action) => {
    const b = await rawBoot();
    const v = await RunView.of(b.raw, b.vcpus[0]!);
    await v.mmio(HC_CMD, false);
    v.setMmioData(hcWord(HC.LOOPBACK, 1));
    v.setByte(RUN.MMIO_RESUME_ACTION, action);
    await expectErrno(b.raw.run(v.vcpu), 'EINVAL');
    await expectErrno(b.raw.run(v.vcpu), 'EINVAL');
    v.setByte(RUN.MMIO_RESUME_ACTION, 0);
    // The read is completed with the word: the guest now reads its argument.
    await v.mmio(HC_CMD, false);
    v.setMmioData(0x7777);
    expect((await v.mmio(HC_CMD, true)).data).toBe(0x7777n);
    await finish(b.emu);
  });

  it('VCPU_RUN: immediate_exit ≠ 0 at the hypervisor entry → EINTR; the kernel never clears it', async () => {
    const b = await rawBoot();
    const v = await RunView.of(b.raw, b.vcpus[0]!);
    v.setByte(RUN.IMMEDIATE_EXIT, 1);
    await expectErrno(b.raw.run(v.vcpu), 'EINTR');
    await expectErrno(b.raw.run(v.vcpu), 'EINTR');
    expect(v.page().immediateExit).toBe(1);
    expect(v.page().exitReason).toBe(0);
    v.setByte(RUN.IMMEDIATE_EXIT, 0);
    await v.mmio(HC_CMD, false);
    await finish(b.emu);
  });

  it('VCPU_RUN: immediate_exit set while the vCPU is in the loop → EINTR at the next iteration', async () => {
    const b = await rawBoot({ image: guestProgram().spin().build() });
    const v = await RunView.of(b.raw, b.vcpus[0]!);
    let settled = false;
    const run = errnoOf(b.raw.run(v.vcpu)).finally(() => (settled = true));
    await turns(10);
    expect(settled).toBe(false); // the spinning guest keeps RUN in its loop
    v.setByte(RUN.IMMEDIATE_EXIT, 1);
    expect(await run).toBe('EINTR');
    await finish(b.emu);
  });

  it.each([
    ['guest SYSTEM_OFF', guestProgram().systemOff().build(), 1, 4],
    ['guest crash (undefined instruction)', guestProgram().udf().build(), 5, 4],
  ])('VCPU_RUN: VM not RUNNING (%s) → 0 with a STATUS exit; every later call → 0 with the page untouched', async (_what, image, type, size) => {
    const b = await rawBoot({ image });
    const v = await RunView.of(b.raw, b.vcpus[0]!);
    const p = await v.run();
    expect(p.exitReason).toBe(EXIT_STATUS);
    expect({ status: p.status.status, type: p.status.type, reasonSize: p.status.reasonSize }).toEqual({ status: VM_STATUS_EXITED, type, reasonSize: size });
    const scribble = Uint8Array.from({ length: 40 }, (_, i) => 0xa0 + i);
    v.map.write(0, scribble);
    await expect(b.raw.run(v.vcpu)).resolves.toBe(0);
    expect(v.map.read(0, 40)).toEqual(scribble);
    await expect(b.raw.run(v.vcpu)).resolves.toBe(0);
    expect(v.map.read(0, 40)).toEqual(scribble);
    await finish(b.emu);
  });

  it.each([
    ['ERROR_BUSY', 'EBUSY'],
    ['ERROR_DENIED', 'EACCES'],
    ['ERROR_ARGUMENT_INVALID', 'EINVAL'],
    ['ERROR_NOMEM', 'ENOMEM'],
    ['ERROR_CSPACE_CAP_NULL', 'EACCES'],
    ['ERROR_UNIMPLEMENTED', 'EOPNOTSUPP'],
    ['ERROR_MSGQUEUE_FULL', 'EIO'],
  ])('VCPU_RUN: the hypervisor returns %s → %s', async (error, code) => {
    const b = await rawBoot({ emulator: { faults: { hypercalls: [{ call: 'vcpu_run', error }] } } });
    const v = await RunView.of(b.raw, b.vcpus[0]!);
    await expectErrno(b.raw.run(v.vcpu), code);
    await v.mmio(HC_CMD, false); // the next entry works
    await finish(b.emu);
  });

  it('VCPU_RUN: the hypervisor returns ERROR_RETRY → no error: the kernel yields and enters again', async () => {
    const b = await rawBoot({ emulator: { faults: { hypercalls: [{ call: 'vcpu_run', error: 'ERROR_RETRY', occurrence: 1 }, { call: 'vcpu_run', error: 'ERROR_RETRY', occurrence: 2 }] } } });
    const v = await RunView.of(b.raw, b.vcpus[0]!);
    await v.mmio(HC_CMD, false);
    expect(b.emu.faults.fired.length).toBe(2);
    await finish(b.emu);
  });

  it('VCPU_RUN: an MMIO read is needed → 0 with the MMIO exit (resume_action preset to 0)', async () => {
    const b = await rawBoot();
    const v = await RunView.of(b.raw, b.vcpus[0]!);
    v.setByte(RUN.MMIO_RESUME_ACTION, 2);
    const p = await v.run();
    expect(p.exitReason).toBe(EXIT_MMIO);
    expect(p.mmio).toEqual({ physAddr: 0x6000n, data: 0n, len: 8, isWrite: 0, resumeAction: 0 });
    await finish(b.emu);
  });

  it('VCPU_RUN: an MMIO write is needed → 0 with the MMIO exit carrying the value', async () => {
    const b = await rawBoot({ image: guestProgram().mmioWrite(0x6010, 2, 0xbeef).spin().build() });
    const v = await RunView.of(b.raw, b.vcpus[0]!);
    const p = await v.run();
    expect(p.exitReason).toBe(EXIT_MMIO);
    expect(p.mmio).toEqual({ physAddr: 0x6010n, data: 0xbeefn, len: 2, isWrite: 1, resumeAction: 0 });
    await finish(b.emu);
  });

  it('VCPU_RUN: a page-fault exit is needed (write to a lend binding without ALLOW_WRITE) → 0 with attempt -EPERM, resume_action preset to 1', async () => {
    const b = await rawBoot({ noStart: true });
    const extra = await b.raw.createGuestMem(b.dev, PAGE);
    await b.raw.mapMem(b.vm, { guestAddr: EXTRA, flags: MEM_LEND | MEM_R, fd: extra, size: PAGE });
    await b.raw.start(b.vm);
    const v = await RunView.of(b.raw, b.vcpus[0]!);
    await v.mmio(HC_CMD, false);
    v.setMmioData(hcWord(HC.WRITE_ADDR, 2));
    await v.mmio(HC_CMD, false);
    v.setMmioData(EXTRA + 8n);
    await v.mmio(HC_CMD, false);
    v.setMmioData(1);
    const p = await v.run();
    expect(p.exitReason).toBe(EXIT_PAGE_FAULT);
    expect(p.pageFault).toEqual({ physAddr: EXTRA + 8n, attempt: -1, resumeAction: RESUME_FAULT });
    await finish(b.emu);
  });

  it('VCPU_RUN: a page-fault exit is needed (no binding any more) → 0 with attempt -ENOENT', async () => {
    const b = await rawBoot({ noStart: true });
    const extra = await b.raw.createGuestMem(b.dev, PAGE);
    const a = { guestAddr: EXTRA, flags: MEM_LEND | MEM_RWX, fd: extra, size: PAGE };
    await b.raw.mapMem(b.vm, a);
    await b.raw.start(b.vm);
    await b.raw.mapMem(b.vm, { ...a, flags: a.flags | MEM_UNMAP });
    const v = await RunView.of(b.raw, b.vcpus[0]!);
    await v.mmio(HC_CMD, false);
    v.setMmioData(hcWord(HC.READ_ADDR, 1));
    await v.mmio(HC_CMD, false);
    v.setMmioData(EXTRA);
    const p = await v.run();
    expect(p.exitReason).toBe(EXIT_PAGE_FAULT);
    expect(p.pageFault).toEqual({ physAddr: EXTRA, attempt: -2, resumeAction: RESUME_FAULT });
    await finish(b.emu, { pages: 0 });
  });
});

describe('uapi.md §6.3 any other nr, close, EBADF', () => {
  it.each([
    ['CREATE_VM', REQ.CREATE_VM],
    ['VM_START', REQ.VM_START],
    ['VM_ADD_FUNCTION', REQ.VM_ADD_FUNCTION],
    ['VM_MAP_MEM', REQ.VM_MAP_MEM],
    ['VCPU_RUN as _IOW 8', ioc(1, 0x5, 8)],
    ['nr 0x1', ioc(0, 0x1, 0)],
    ['nr 0xb', ioc(0, 0xb, 0)],
    ['KVM_RUN (0xae80)', 0xae80],
  ])('vCPU fd: %s → ENOTTY', async (_what, req) => {
    const b = await rawBoot({ noStart: true });
    await expectErrno(b.host.ioctl(b.vcpus[0]!, req, b.raw.put(new Uint8Array(64))), 'ENOTTY');
    await finish(b.emu);
  });

  it('vCPU fd: close of the last reference to the VM → teardown (§8.3)', async () => {
    const b = await rawBoot();
    const v = await RunView.of(b.raw, b.vcpus[0]!);
    await v.mmio(HC_CMD, false);
    await b.host.close(b.vm);
    expect(b.emu.kernel.liveVms).toBe(1);
    expect((await b.emu.rm.control.inspect()).vms.filter((x) => x.vmid !== 3).map((x) => x.stateName)).toEqual(['RUNNING']);
    await v.map.unmap();
    await b.host.close(b.vcpus[0]!);
    expect(b.emu.kernel.liveVms).toBe(0);
    expect((await b.emu.rm.control.inspect()).vms.filter((x) => x.vmid !== 3)).toEqual([]);
    await finish(b.emu);
  });

  it('vCPU fd: ioctl and mmap after close → EBADF', async () => {
    const b = await rawBoot();
    const fd = b.vcpus[0]!;
    await b.host.close(fd);
    await expectErrno(b.raw.run(fd), 'EBADF');
    await expectErrno(b.raw.ioctl(fd, REQ.VCPU_MMAP_SIZE, 0), 'EBADF');
    await expectErrno(() => b.host.mmap(fd, PAGE), 'EBADF');
    // The vCPU function itself stays until REMOVE_FUNCTION or teardown.
    await expectErrno(b.raw.addVcpu(b.vm, 0), 'EEXIST');
    await finish(b.emu);
  });
});

describe('uapi.md §5 run page, GUEST_BASE sanity', () => {
  it('the holding cell reads its own image through the run page protocol', async () => {
    const b = await rawBoot();
    const v = await RunView.of(b.raw, b.vcpus[0]!);
    expect(await v.command(HC.READ_ADDR, [GUEST_BASE])).toBe(0x444c_4f48_554d_4547n);
    expect(readRunPage(v.map).mmio.resumeAction).toBe(0);
    await finish(b.emu);
  });
});
