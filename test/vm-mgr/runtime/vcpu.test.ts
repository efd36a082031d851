/**
 * vCPUs of a running VM, end to end through the raw contract and the typed layer: MMIO exits
 * and the VMM's answers, resume actions, STATUS exits, immediate_exit, RUN before START, PSCI
 * CPU_ON of secondaries, vCPUs running concurrently, and START with more vCPUs than cores.
 *
 * Reference: uapi.md §5 (run page), §6.3 (vCPU fd rows), §8.4 (RUN phases), §8.5 (POWERED_OFF:
 * sleep until CPU_ON), §8.6 (MMIO exit), §8.7 (resume actions), §8.9 (immediate_exit, QUIRK
 * K23), §8.10 (STATUS exits repeat and the page is not rewritten), §9 K12, K14, K15, K24;
 * hypervisor.md §6 (vcpu_poweron: context in X0); rm-rpc.md §15.1, §15.5 (exit types and reason
 * words); vmm-flows.md §6 (holding-cell protocol, exception report at 0x7000), §6.6, Q10;
 * docs/guest-images.md (programs, ESR values); docs/decisions.md K3 (a guest crash is EXITED
 * with exit type SOFTWARE_ERROR 5), B6/R9 (more vCPUs than cores: VM_INIT NORESOURCE).
 *
 * Choices where the sheets say nothing (ours, stated here):
 * - The bytes of mmio.data past `len` at a write exit keep what they held before (§8.6 3b copies
 *   `len` bytes only), and a read exit leaves all 8 bytes as they were (§8.6 3a, derived).
 * - LOAD_FAILED is not reachable in v17 as modelled: INIT_FAILED is set at start step 9, before
 *   the vCPU resources arrive (step 11), so a vCPU of such a VM has no resource and RUN gives
 *   ENODEV (§8.4 entry checks). The test below shows that path.
 */
import { describe, expect, it } from 'vitest';
import { Esr, HoldingCellCmd, HoldingCellReg, guestProgram } from '../../../src/guest/index.js';
import { isErrnoError } from '../../../src/shared/errno.js';
import {
  GUNYAH_MEM_ALLOW_RWX,
  GUNYAH_MEM_FORCE_SHARE,
  GUNYAH_VCPU_RESUME_FAULT,
  GUNYAH_VCPU_RESUME_HANDLED,
  GUNYAH_VCPU_RESUME_RETRY,
  GUNYAH_VM_STATUS_CRASHED,
  GUNYAH_VM_STATUS_EXITED,
  RUN_IMMEDIATE_EXIT,
  STATUS_STATUS,
} from '../../../src/vm-mgr/uapi/index.js';
import type { VcpuFd } from '../../../src/vmm/index.js';
import { bootHoldingCell, expectCleanShutdown, GUEST_BASE, PAGE } from '../support/boot.js';
import { CMD_REG, holdingCellCommand, runToMmio } from '../support/holding-cell-driver.js';
import {
  MARK,
  REPORT,
  bootProgram,
  expectWrite,
  extraPage,
  lowBytes,
  runMmio,
  runStatus,
  startCommand,
  stillPending,
} from '../support/programs.js';

const DEV = 0x6100n;
const VALUE = 0x8877_6655_4433_2211n;
const CPU_ON_64 = 0xc400_0003n;
const PSCI_ALREADY_ON = BigInt.asUintN(64, -4n);
/** NOTIFY_VM_EXITED exit types (rm-rpc.md §15.1). */
const EXIT_PLATFORM_OFF = 1;
const EXIT_PLATFORM_RESET = 2;
const EXIT_PSCI_SYSTEM_RESET2 = 3;
const EXIT_SOFTWARE_ERROR = 5;

const errno = (code: string) => expect.objectContaining({ code });

describe('RUN before START (uapi.md §6.3, vmm-flows.md Q1)', () => {
  it('gives ENODEV: the vCPU has no resource yet; after START the first exit is the command read', async () => {
    const b = await bootHoldingCell({ noStart: true });
    const v = b.vcpus[0]!;
    await expect(v.run()).rejects.toEqual(errno('ENODEV'));
    await expect(v.run()).rejects.toEqual(errno('ENODEV'));
    await b.vm.start();
    expect(await runToMmio(v)).toMatchObject({ physAddr: CMD_REG, isWrite: false, len: 8 });
    await expectCleanShutdown(b.emu);
  });
});

describe('MMIO exits (uapi.md §8.6, §8.7 HANDLED)', () => {
  it('reads of 1, 2, 4 and 8 bytes: the VMM fills mmio.data and the guest gets its first len bytes', async () => {
    const p = guestProgram();
    for (const len of [1, 2, 4, 8]) p.mmioRead(DEV, len).expect(lowBytes(VALUE, len));
    const b = await bootProgram(p.mmioWrite(MARK, 8, 1).spin());
    const v = b.vcpus[0]!;
    for (const len of [1, 2, 4, 8]) {
      const m = await runMmio(v);
      expect(m).toMatchObject({ physAddr: DEV, len, isWrite: false, resumeAction: GUNYAH_VCPU_RESUME_HANDLED });
      v.setMmioData(VALUE); // all 8 bytes; the kernel takes the first len
    }
    await expectWrite(v, MARK, 1n);
    await expectCleanShutdown(b.emu);
  });

  it('writes of 1, 2, 4 and 8 bytes: address, len, is_write and the value in the first len bytes', async () => {
    const values = [0x8877_6655_4433_2211n, 0xa1a2_a3a4n, 0xb1b2n, 0xc1n];
    const lens = [8, 4, 2, 1];
    const p = guestProgram();
    lens.forEach((len, i) => p.mmioWrite(DEV + BigInt(i * 8), len, values[i]!));
    const b = await bootProgram(p.spin());
    const v = b.vcpus[0]!;
    let previous = 0n;
    for (const [i, len] of lens.entries()) {
      const m = await runMmio(v);
      expect(m).toMatchObject({ physAddr: DEV + BigInt(i * 8), len, isWrite: true, resumeAction: GUNYAH_VCPU_RESUME_HANDLED });
      expect(lowBytes(m.data, len)).toBe(values[i]);
      // The bytes past len are not rewritten (ours; §8.6 copies len bytes).
      if (len < 8) expect(m.data >> BigInt(8 * len)).toBe(previous >> BigInt(8 * len));
      previous = m.data;
    }
    await expectCleanShutdown(b.emu);
  });

  it('a read exit does not clear mmio.data: it still holds the previous write', async () => {
    const b = await bootProgram(guestProgram().mmioWrite(DEV, 8, VALUE).mmioRead(DEV, 4).spin());
    const v = b.vcpus[0]!;
    await expectWrite(v, DEV, VALUE);
    const m = await runMmio(v);
    expect(m).toMatchObject({ isWrite: false, len: 4, data: VALUE });
    await expectCleanShutdown(b.emu);
  });
});

describe('resume actions (uapi.md §8.7)', () => {
  it('FAULT on a read: the guest takes a synchronous external abort and reports ESR, then FAR, at 0x7000', async () => {
    const b = await bootHoldingCell();
    const v = b.vcpus[0]!;
    expect(await runToMmio(v)).toMatchObject({ physAddr: CMD_REG, isWrite: false });
    v.setResumeAction(GUNYAH_VCPU_RESUME_FAULT);
    await expectWrite(v, BigInt(HoldingCellReg.EXCEPTION), Esr.DATA_ABORT_EXTERNAL);
    await expectWrite(v, BigInt(HoldingCellReg.EXCEPTION), CMD_REG);
    await expectCleanShutdown(b.emu);
  });

  it('FAULT on a write: the abort has WnR set', async () => {
    const b = await bootHoldingCell();
    const v = b.vcpus[0]!;
    await startCommand(v, HoldingCellCmd.LOOPBACK, [5n]);
    expect(await runToMmio(v)).toMatchObject({ physAddr: CMD_REG, isWrite: true, data: 5n });
    v.setResumeAction(GUNYAH_VCPU_RESUME_FAULT);
    await expectWrite(v, BigInt(HoldingCellReg.EXCEPTION), Esr.DATA_ABORT_EXTERNAL | Esr.WNR);
    await expectWrite(v, BigInt(HoldingCellReg.EXCEPTION), CMD_REG);
    await expectCleanShutdown(b.emu);
  });

  it('RETRY re-executes the access: the same MMIO read exit comes again; HANDLED then goes on', async () => {
    const b = await bootHoldingCell();
    const v = b.vcpus[0]!;
    const first = await runToMmio(v);
    for (let i = 0; i < 3; i++) {
      v.setResumeAction(GUNYAH_VCPU_RESUME_RETRY);
      expect(await runToMmio(v)).toEqual({ ...first, resumeAction: GUNYAH_VCPU_RESUME_HANDLED });
    }
    v.setMmioData(BigInt(HoldingCellCmd.NOK));
    expect(await runToMmio(v)).toMatchObject({ physAddr: CMD_REG, isWrite: true, data: 0xffff_ffff_ffff_ffffn });
    await expectCleanShutdown(b.emu);
  });

  it('RETRY after the VMM mapped memory at the address: the access now reads memory', async () => {
    const at = 0xb000_0000n;
    const b = await bootProgram(guestProgram().load(at, 8).expect(0x4242).mmioWrite(MARK, 8, 1).spin());
    const v = b.vcpus[0]!;
    expect(await runMmio(v)).toMatchObject({ physAddr: at, isWrite: false, len: 8 });
    const mem = await b.dev.createGuestMem(PAGE);
    const init = new Uint8Array(8);
    new DataView(init.buffer).setBigUint64(0, 0x4242n, true);
    await mem.writeAt(0, init);
    await b.vm.mapMem({ guestAddr: at, flags: GUNYAH_MEM_FORCE_SHARE | GUNYAH_MEM_ALLOW_RWX, mem, size: BigInt(PAGE) });
    v.setResumeAction(GUNYAH_VCPU_RESUME_RETRY);
    await expectWrite(v, MARK, 1n);
    await expectCleanShutdown(b.emu);
  });

  it('an action outside 0..2 gives EINVAL and keeps the exit; fixing the byte lets RUN go on', async () => {
    const b = await bootHoldingCell();
    const v = b.vcpus[0]!;
    await runToMmio(v);
    v.setMmioData(BigInt(HoldingCellCmd.NOK));
    v.setResumeAction(3);
    await expect(v.run()).rejects.toEqual(errno('EINVAL'));
    await expect(v.run()).rejects.toEqual(errno('EINVAL'));
    v.setResumeAction(GUNYAH_VCPU_RESUME_HANDLED);
    expect(await runToMmio(v)).toMatchObject({ physAddr: CMD_REG, isWrite: true, data: 0xffff_ffff_ffff_ffffn });
    await expectCleanShutdown(b.emu);
  });
});

describe('STATUS exits (uapi.md §8.10)', () => {
  /** RUN three more times: the same exit each time, and a scribbled page is left as it is. */
  async function expectRepeats(v: VcpuFd, first: Awaited<ReturnType<typeof runStatus>>): Promise<void> {
    expect(await runStatus(v)).toEqual(first);
    expect(await runStatus(v)).toEqual(first);
    v.page.write(STATUS_STATUS, Uint8Array.of(0x55, 0, 0, 0));
    expect(await runStatus(v)).toEqual({ ...first, status: 0x55 });
  }

  it('an unrecognised image crashes the vCPU as hardware would: EXITED, exit type SOFTWARE_ERROR, on every later RUN', async () => {
    const junk = new TextEncoder().encode('NOTANIMAGE, just some bytes at the boot PC.......................');
    const b = await bootProgram(junk);
    const v = b.vcpus[0]!;
    const s = await runStatus(v);
    expect(s).toEqual({ status: GUNYAH_VM_STATUS_EXITED, exitType: EXIT_SOFTWARE_ERROR, reasonSize: 4, reason: new Uint8Array(8) });
    await expectRepeats(v, s);
    await expectCleanShutdown(b.emu);
  });

  it('PSCI SYSTEM_OFF: EXITED, exit type PLATFORM_OFF, reason word 0 = 0; every vCPU sees it', async () => {
    const b = await bootProgram(guestProgram().onCpu(0, (p) => p.mmioWrite(MARK, 8, 1).systemOff()), { vcpus: 2 });
    const [v0, v1] = b.vcpus as [VcpuFd, VcpuFd];
    const pending1 = v1.run(); // a secondary that was never powered on sleeps (§8.5 POWERED_OFF)
    await expectWrite(v0, MARK, 1n);
    const s = await runStatus(v0);
    expect(s).toEqual({ status: GUNYAH_VM_STATUS_EXITED, exitType: EXIT_PLATFORM_OFF, reasonSize: 4, reason: new Uint8Array(8) });
    await expectRepeats(v0, s);
    const e1 = await pending1;
    expect(e1).toMatchObject({ kind: 'status', status: s });
    expect(await runStatus(v1)).toEqual(s);
    await expectCleanShutdown(b.emu);
  });

  it('PSCI SYSTEM_RESET: EXITED, exit type PLATFORM_RESET', async () => {
    const b = await bootProgram(guestProgram().systemReset());
    const v = b.vcpus[0]!;
    const s = await runStatus(v);
    expect(s).toEqual({ status: GUNYAH_VM_STATUS_EXITED, exitType: EXIT_PLATFORM_RESET, reasonSize: 4, reason: new Uint8Array(8) });
    await expectRepeats(v, s);
    await expectCleanShutdown(b.emu);
  });

  it('PSCI SYSTEM_RESET2 (SMC64, vendor type, cookie): exit type 3, reason_size 16 not clamped (K15), first 8 reason bytes', async () => {
    const b = await bootProgram(guestProgram().hvc(0xc400_0012, 0x8000_0001, 0x1_2345_6789));
    const v = b.vcpus[0]!;
    const s = await runStatus(v);
    // Word 0: exit_flags bit 15 (SMC64) | exit_code 0 << 16; word 1: the reset type.
    expect(s).toEqual({
      status: GUNYAH_VM_STATUS_EXITED,
      exitType: EXIT_PSCI_SYSTEM_RESET2,
      reasonSize: 16,
      reason: Uint8Array.of(0x00, 0x80, 0x00, 0x00, 0x01, 0x00, 0x00, 0x80),
    });
    await expectRepeats(v, s);
    await expectCleanShutdown(b.emu);
  });

  it('CRASHED (K24): the VM_START RPC failed after the resources arrived; RUN gives CRASHED for good', async () => {
    const b = await bootHoldingCell({ noStart: true, emulator: { faults: { rm: [{ msgId: 0x5600_0004, error: 'NOMEM' }] } } });
    await expect(b.vm.start()).rejects.toEqual(errno('ENOMEM'));
    await expect(b.vm.start()).rejects.toEqual(errno('ENODEV')); // K12
    const v = b.vcpus[0]!;
    const s = await runStatus(v);
    expect(s).toEqual({ status: GUNYAH_VM_STATUS_CRASHED, exitType: 0, reasonSize: 0, reason: new Uint8Array(8) });
    await expectRepeats(v, s);
    // Teardown from READY reclaims the DTB parcel: the RM accepts it for the VM only in its
    // VM_START handler (docs/decisions.md B3), which the fault skipped. Nothing is left.
    await expectCleanShutdown(b.emu);
  });
});

describe('immediate_exit (uapi.md §8.9)', () => {
  it('set before RUN: EINTR before any guest step, the kernel never clears it; cleared, RUN goes on', async () => {
    const b = await bootHoldingCell();
    const v = b.vcpus[0]!;
    v.setImmediateExit(true);
    await expect(v.run()).rejects.toEqual(errno('EINTR'));
    expect(v.page.read(RUN_IMMEDIATE_EXIT, 1)[0]).toBe(1);
    await expect(v.run()).rejects.toEqual(errno('EINTR'));
    expect(v.exit().kind).toBe('unknown'); // no exit was ever written
    v.setImmediateExit(false);
    expect(await runToMmio(v)).toMatchObject({ physAddr: CMD_REG, isWrite: false });
    await expectCleanShutdown(b.emu);
  });

  it('K23: a read value supplied before the EINTR is lost; the guest continues with 0', async () => {
    const b = await bootHoldingCell();
    const v = b.vcpus[0]!;
    await runToMmio(v);
    v.setMmioData(BigInt(HoldingCellCmd.NOK)); // would make the guest answer -1
    v.setImmediateExit(true);
    await expect(v.run()).rejects.toEqual(errno('EINTR'));
    v.setImmediateExit(false);
    // The guest read 0: command "ok", whose result is 0.
    expect(await runToMmio(v)).toMatchObject({ physAddr: CMD_REG, isWrite: true, data: 0n });
    await expectCleanShutdown(b.emu);
  });

  it('K23 off: the supplied value survives the EINTR', async () => {
    const b = await bootHoldingCell({ emulator: { quirks: { k23ResumeLostOnEintr: false } } });
    const v = b.vcpus[0]!;
    await runToMmio(v);
    v.setMmioData(BigInt(HoldingCellCmd.NOK));
    v.setImmediateExit(true);
    await expect(v.run()).rejects.toEqual(errno('EINTR'));
    v.setImmediateExit(false);
    expect(await runToMmio(v)).toMatchObject({ physAddr: CMD_REG, isWrite: true, data: 0xffff_ffff_ffff_ffffn });
    await expectCleanShutdown(b.emu);
  });
});

describe('PSCI CPU_ON of secondaries (uapi.md §8.5 POWERED_OFF; hypervisor.md §6; vmm-flows.md §6.6)', () => {
  it('a secondary RUN sleeps until CPU_ON, then polls 0x6000 like the boot vCPU', async () => {
    const b = await bootHoldingCell({ vcpus: 2 });
    const [v0, v1] = b.vcpus as [VcpuFd, VcpuFd];
    const first1 = v1.run();
    expect(await stillPending(first1)).toBe(true);
    expect(await holdingCellCommand(v0, HoldingCellCmd.SMCCC_HVC, [CPU_ON_64, 1n, GUEST_BASE, 0n, 0n])).toBe(0n);
    expect(await first1).toMatchObject({ kind: 'mmio', mmio: { physAddr: CMD_REG, isWrite: false, len: 8 } });
    v1.setMmioData(BigInt(HoldingCellCmd.LOOPBACK) | (1n << 8n));
    expect(await runToMmio(v1)).toMatchObject({ physAddr: CMD_REG, isWrite: false });
    v1.setMmioData(0x1111n);
    expect(await runToMmio(v1)).toMatchObject({ physAddr: CMD_REG, isWrite: true, data: 0x1111n });
    // It is on now: a second CPU_ON answers ALREADY_ON.
    expect(await holdingCellCommand(v0, HoldingCellCmd.SMCCC_HVC, [CPU_ON_64, 1n, GUEST_BASE, 0n, 0n])).toBe(PSCI_ALREADY_ON);
    await expectCleanShutdown(b.emu);
  });

  it('the secondary starts at the entry with the context id in X0', async () => {
    const prog = guestProgram()
      .onCpu(0, (p) => p.expect(0).psciCpuOn(1, GUEST_BASE, 0xc0ffee).expect(0).mmioWrite(MARK, 8, 0xa0))
      .onCpu(1, (p) => p.expect(0xc0ffee).mmioWrite(REPORT, 8, 0xb1))
      .spin();
    const b = await bootProgram(prog, { vcpus: 2 });
    const [v0, v1] = b.vcpus as [VcpuFd, VcpuFd];
    const first1 = v1.run();
    expect(await stillPending(first1)).toBe(true);
    await expectWrite(v0, MARK, 0xa0n);
    expect(await first1).toMatchObject({ kind: 'mmio', mmio: { physAddr: REPORT, isWrite: true, data: 0xb1n } });
    await expectCleanShutdown(b.emu);
  });

  it('immediate_exit ends a secondary RUN that sleeps before CPU_ON with EINTR', async () => {
    const b = await bootHoldingCell({ vcpus: 2 });
    const v1 = b.vcpus[1]!;
    const first1 = v1.run();
    expect(await stillPending(first1)).toBe(true);
    v1.setImmediateExit(true);
    await expect(first1).rejects.toEqual(errno('EINTR'));
    await expectCleanShutdown(b.emu);
  });
});

describe('several vCPUs at once', () => {
  it('four vCPUs run holding-cell commands concurrently (Promise.all of RUN loops)', async () => {
    const n = 4;
    const b = await bootHoldingCell({ vcpus: n, extraPages: n });
    const vs = b.vcpus;
    const loop = async (i: number): Promise<void> => {
      const v = vs[i]!;
      const page = extraPage(b, i);
      for (let k = 0n; k < 8n; k++) {
        const tag = (BigInt(i) << 32n) | k;
        expect(await holdingCellCommand(v, HoldingCellCmd.LOOPBACK, [tag])).toBe(tag);
        expect(await holdingCellCommand(v, HoldingCellCmd.WRITE_ADDR, [page + 8n * k, tag ^ 0xffffn])).toBe(0n);
        expect(await holdingCellCommand(v, HoldingCellCmd.READ_ADDR, [page + 8n * k])).toBe(tag ^ 0xffffn);
      }
    };
    // The secondaries' loops start first: their first RUN sleeps until vCPU 0 powers them on.
    const secondaries = [1, 2, 3].map((i) => loop(i));
    for (let i = 1; i < n; i++) {
      expect(await holdingCellCommand(vs[0]!, HoldingCellCmd.SMCCC_HVC, [CPU_ON_64, BigInt(i), GUEST_BASE, 0n, 0n])).toBe(0n);
    }
    await Promise.all([loop(0), ...secondaries]);
    await expectCleanShutdown(b.emu);
  });
});

describe('more vCPUs than physical cores (vmm-flows.md Q10; docs/decisions.md B6)', () => {
  // This is also why LOAD_FAILED cannot be seen: INIT_FAILED comes before the vCPU resources.
  it('START fails with ENODEV (VM_INIT NORESOURCE), then ENODEV for good (K12); RUN gives ENODEV, not LOAD_FAILED', async () => {
    const b = await bootHoldingCell({ vcpus: 3, noStart: true, emulator: { cpus: 2 } });
    const e = await b.vm.start().catch((err: unknown) => err);
    expect(isErrnoError(e, 'ENODEV')).toBe(true);
    await expect(b.vm.start()).rejects.toEqual(errno('ENODEV'));
    for (const v of b.vcpus) await expect(v.run()).rejects.toEqual(errno('ENODEV'));
    await expectCleanShutdown(b.emu);
  });

  it('as many vCPUs as cores starts', async () => {
    const b = await bootHoldingCell({ vcpus: 2, emulator: { cpus: 2 } });
    expect(await runToMmio(b.vcpus[0]!)).toMatchObject({ physAddr: CMD_REG });
    await expectCleanShutdown(b.emu);
  });
});
