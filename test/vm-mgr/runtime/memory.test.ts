/**
 * Guest memory of a running VM, end to end through the raw contract and the typed layer: what
 * the host sees of lent and shared pages through its mmap of the guest-memory fd, punching
 * holes, demand paging, page-fault exits and taking memory back while the VM runs.
 *
 * Reference: uapi.md §6.2 (MAP_MEM remove), §6.4 (guest-memory fd: mmap reclaims first, host
 * page fault on a lent page → reclaim or SIGBUS, PUNCH_HOLE → EBUSY when a page cannot be
 * reclaimed, QUIRK K10), §8.6 step 2 (demand paging on the MMIO path), §8.8 (page-fault exits,
 * QUIRK K7), §8.11 (lend vs share, demand paging, host visibility), §9 K17; vmm-flows.md §6.6
 * (page relinquish), §6.7 (lend/share observations of quic/gunyah-test-vmm), Q12;
 * docs/decisions.md K1 (a lent page the guest was given stays with it while the VM runs unless
 * the guest relinquished it).
 *
 * A page counts as "mapped by userspace" once the host has touched it through a live mapping
 * (Linux's folio_mapped), not merely because a mapping covers it: a mapping made before the
 * guest touched a page therefore lets the page be lent, and the host's later access faults.
 */
import { describe, expect, it } from 'vitest';
import { HoldingCellCmd, guestProgram } from '../../../src/guest/index.js';
import { Errno, isErrnoError } from '../../../src/shared/errno.js';
import { SigbusError } from '../../../src/shared/sigbus-error.js';
import { createEmulator } from '../../../src/emulator.js';
import {
  GUNYAH_MEM_ALLOW_EXEC,
  GUNYAH_MEM_ALLOW_READ,
  GUNYAH_MEM_ALLOW_RWX,
  GUNYAH_MEM_FORCE_LEND,
  GUNYAH_MEM_FORCE_SHARE,
  GUNYAH_VCPU_RESUME_FAULT,
  PF_RESUME_ACTION,
} from '../../../src/vm-mgr/uapi/index.js';
import { GunyahDevice } from '../../../src/vmm/index.js';
import { bootHoldingCell, expectCleanShutdown, PAGE } from '../support/boot.js';
import { CMD_REG, holdingCellCommand, runToMmio } from '../support/holding-cell-driver.js';
import {
  MARK,
  bootProgram,
  expectWrite,
  extraPage,
  extraPageOffset,
  guestVmid,
  kernelVm,
  runPageFault,
  startCommand,
} from '../support/programs.js';

const LEND_RWX = GUNYAH_MEM_FORCE_LEND | GUNYAH_MEM_ALLOW_RWX;
const SHARE_RWX = GUNYAH_MEM_FORCE_SHARE | GUNYAH_MEM_ALLOW_RWX;
/** A second region, outside the boot binding (vmm-flows.md §2 adds extra regions at 0xA000_0000). */
const EXTRA_BASE = 0xa000_0000n;
const SHARE_BASE = 0xb000_0000n;

function catchSync(fn: () => unknown): unknown {
  try {
    fn();
  } catch (err) {
    return err;
  }
  throw new Error('expected a throw');
}

function u64(bytes: Uint8Array): bigint {
  return new DataView(bytes.buffer, bytes.byteOffset, 8).getBigUint64(0, true);
}

function le64(v: bigint): Uint8Array {
  const b = new Uint8Array(8);
  new DataView(b.buffer).setBigUint64(0, v, true);
  return b;
}

describe('host access to lent memory of a running VM (uapi.md §6.4, §8.11; vmm-flows.md Q12)', () => {
  it('a page the guest was lent and wrote: host peek/poke through its mapping raise SigbusError at the faulting address', async () => {
    const b = await bootHoldingCell({ extraPages: 2 });
    const v = b.vcpus[0]!;
    // Mapped before the guest touches the page, and not touched by the host: still lendable.
    const map = b.mem.mmap(2 * PAGE, extraPageOffset(b, 0));
    expect(await holdingCellCommand(v, HoldingCellCmd.WRITE_ADDR, [extraPage(b, 0) + 0x10n, 0x1122_3344_5566_7788n])).toBe(0n);

    const r = catchSync(() => map.read(0x10, 8));
    expect(r).toBeInstanceOf(SigbusError);
    expect((r as SigbusError).address).toBe(map.addr + 0x10n);
    const w = catchSync(() => map.write(0x18, Uint8Array.of(1, 2, 3)));
    expect(w).toBeInstanceOf(SigbusError);
    expect((w as SigbusError).address).toBe(map.addr + 0x18n);
    // The next page was never given to the guest: the host reads it (zero-filled on first touch).
    expect(map.read(PAGE, 8)).toEqual(new Uint8Array(8));

    // The guest still has its value (vmm-flows.md §6.7).
    expect(await holdingCellCommand(v, HoldingCellCmd.READ_ADDR, [extraPage(b, 0) + 0x10n])).toBe(0x1122_3344_5566_7788n);
    await expectCleanShutdown(b.emu);
  });

  it('SIGBUS is raised at the first byte that lies in the lent page when an access straddles into it', async () => {
    const b = await bootHoldingCell({ extraPages: 2 });
    const v = b.vcpus[0]!;
    const map = b.mem.mmap(2 * PAGE, extraPageOffset(b, 0));
    // The guest takes page 1 of the mapping; page 0 stays the host's.
    expect(await holdingCellCommand(v, HoldingCellCmd.WRITE_ADDR, [extraPage(b, 1), 5n])).toBe(0n);
    const e = catchSync(() => map.read(PAGE - 4, 8));
    expect(e).toBeInstanceOf(SigbusError);
    expect((e as SigbusError).address).toBe(map.addr + BigInt(PAGE));
    await expectCleanShutdown(b.emu);
  });

  it('a new mmap over a lent page the guest holds fails: the reclaim it starts with fails (EBUSY)', async () => {
    const b = await bootHoldingCell({ extraPages: 1 });
    const v = b.vcpus[0]!;
    expect(await holdingCellCommand(v, HoldingCellCmd.WRITE_ADDR, [extraPage(b, 0), 7n])).toBe(0n);
    const e = catchSync(() => b.mem.mmap(PAGE, extraPageOffset(b, 0)));
    expect(isErrnoError(e, 'EBUSY')).toBe(true);
    expect(b.emu.host.liveMappings().filter((m) => m.name === '[gh-gmem]')).toEqual([]);
    expect(await holdingCellCommand(v, HoldingCellCmd.READ_ADDR, [extraPage(b, 0)])).toBe(7n);
    await expectCleanShutdown(b.emu);
  });
});

describe('shared memory stays coherent (uapi.md §8.11; vmm-flows.md §6.7)', () => {
  it('host writes, guest reads; guest writes, host reads; and again after the guest has the page', async () => {
    const b = await bootHoldingCell({ noStart: true });
    const shm = await b.dev.createGuestMem(2 * PAGE);
    await b.vm.mapMem({ guestAddr: SHARE_BASE, flags: SHARE_RWX, mem: shm, size: BigInt(2 * PAGE) });
    await b.vm.start();
    const v = b.vcpus[0]!;
    const map = shm.mmap();
    map.write(0, le64(0xaaaa_bbbb_cccc_ddddn));
    expect(await holdingCellCommand(v, HoldingCellCmd.READ_ADDR, [SHARE_BASE])).toBe(0xaaaa_bbbb_cccc_ddddn);
    expect(await holdingCellCommand(v, HoldingCellCmd.WRITE_ADDR, [SHARE_BASE + 8n, 0x0102_0304_0506_0708n])).toBe(0n);
    expect(u64(map.read(8, 8))).toBe(0x0102_0304_0506_0708n);
    map.write(0, le64(0x1234n));
    expect(await holdingCellCommand(v, HoldingCellCmd.READ_ADDR, [SHARE_BASE])).toBe(0x1234n);
    // The second page, written by the guest first (demand paging on the MMIO path, §8.6 step 2).
    expect(await holdingCellCommand(v, HoldingCellCmd.WRITE_ADDR, [SHARE_BASE + BigInt(PAGE), 0x55n])).toBe(0n);
    expect(u64(map.read(PAGE, 8))).toBe(0x55n);
    const vm = kernelVm(b.emu, b.vm.fd);
    const gfn = Number(SHARE_BASE) / PAGE;
    expect(vm.paged.get(gfn)).toMatchObject({ share: true, write: true });
    expect(vm.paged.get(gfn + 1)).toMatchObject({ share: true, write: true });
    await expectCleanShutdown(b.emu);
  });

  it('a guest program storing and loading 1-, 2- and 4-byte values sees the host and is seen by it', async () => {
    const prog = guestProgram()
      .store(SHARE_BASE, 4, 0xdead_beef)
      .store(SHARE_BASE + 4n, 2, 0x1234)
      .store(SHARE_BASE + 6n, 1, 0x56)
      .mmioWrite(MARK, 8, 1)
      .load(SHARE_BASE + 8n, 2)
      .expect(0x5a5a)
      .load(SHARE_BASE + 10n, 1)
      .expect(0xa5)
      .load(SHARE_BASE + 12n, 4)
      .expect(0xfeed_f00d)
      .mmioWrite(MARK, 8, 2)
      .spin();
    const b = await bootProgram(prog, { noStart: true });
    const shm = await b.dev.createGuestMem(PAGE);
    await b.vm.mapMem({ guestAddr: SHARE_BASE, flags: SHARE_RWX, mem: shm, size: BigInt(PAGE) });
    await b.vm.start();
    const v = b.vcpus[0]!;
    const map = shm.mmap();
    await expectWrite(v, MARK, 1n);
    expect([...map.read(0, 8)]).toEqual([0xef, 0xbe, 0xad, 0xde, 0x34, 0x12, 0x56, 0x00]);
    map.write(8, Uint8Array.of(0x5a, 0x5a, 0xa5, 0x00, 0x0d, 0xf0, 0xed, 0xfe));
    await expectWrite(v, MARK, 2n);
    await expectCleanShutdown(b.emu);
  });
});

describe('PUNCH_HOLE (uapi.md §6.4, QUIRK K10)', () => {
  it('on lent memory of a running VM that the guest holds: EBUSY, and the guest keeps its data', async () => {
    const b = await bootHoldingCell({ extraPages: 1 });
    const v = b.vcpus[0]!;
    expect(await holdingCellCommand(v, HoldingCellCmd.WRITE_ADDR, [extraPage(b, 0), 0x77n])).toBe(0n);
    // K10 (the real v17): offset 0, length 4096 is taken as page indices 0..4095: every page of
    // the file, starting with the image page the guest runs from.
    await expect(b.mem.punchHole(0, PAGE)).rejects.toMatchObject({ code: 'EBUSY' });
    expect(await holdingCellCommand(v, HoldingCellCmd.READ_ADDR, [extraPage(b, 0)])).toBe(0x77n);
    await expectCleanShutdown(b.emu);
  });

  it('K10 off: exactly the page the guest holds is refused with EBUSY', async () => {
    const b = await bootHoldingCell({ extraPages: 2, emulator: { quirks: { k10PunchHoleUnits: false } } });
    const v = b.vcpus[0]!;
    expect(await holdingCellCommand(v, HoldingCellCmd.WRITE_ADDR, [extraPage(b, 0), 0x77n])).toBe(0n);
    await expect(b.mem.punchHole(extraPageOffset(b, 0), PAGE)).rejects.toMatchObject({ code: 'EBUSY' });
    // A page of the same binding the guest never had: punched, and it reads back as zeros.
    await b.mem.writeAt(extraPageOffset(b, 1), le64(0x99n));
    await b.mem.punchHole(extraPageOffset(b, 1), PAGE);
    const map = b.mem.mmap(PAGE, extraPageOffset(b, 1));
    expect(map.read(0, 8)).toEqual(new Uint8Array(8));
    await map.unmap();
    expect(await holdingCellCommand(v, HoldingCellCmd.READ_ADDR, [extraPage(b, 0)])).toBe(0x77n);
    await expectCleanShutdown(b.emu);
  });

  it('on memory no VM has bound: succeeds and the range reads back as zeros', async () => {
    const emu = createEmulator();
    const dev = GunyahDevice.open(emu.host);
    const mem = await dev.createGuestMem(2 * PAGE);
    const map = mem.mmap();
    map.write(0, le64(0x1111n));
    map.write(PAGE, le64(0x2222n));
    // K10: offset 0 / length 4096 are used as page indices 0..4095, so both pages go.
    await mem.punchHole(0, PAGE);
    expect(map.read(0, 8)).toEqual(new Uint8Array(8));
    expect(map.read(PAGE, 8)).toEqual(new Uint8Array(8));
    // K10: offset 4096 is page index 4096, past the end of a 2-page file: nothing is punched.
    map.write(PAGE, le64(0x3333n));
    await mem.punchHole(PAGE, PAGE);
    expect(u64(map.read(PAGE, 8))).toBe(0x3333n);
    await expectCleanShutdown(emu);
  });

  it('K10 off: the byte range is punched, and only it', async () => {
    const emu = createEmulator({ quirks: { k10PunchHoleUnits: false } });
    const dev = GunyahDevice.open(emu.host);
    const mem = await dev.createGuestMem(2 * PAGE);
    const map = mem.mmap();
    map.write(0, le64(0x1111n));
    map.write(PAGE, le64(0x2222n));
    await mem.punchHole(PAGE, PAGE);
    expect(u64(map.read(0, 8))).toBe(0x1111n);
    expect(map.read(PAGE, 8)).toEqual(new Uint8Array(8));
    await expectCleanShutdown(emu);
  });
});

describe('demand paging (uapi.md §8.11, §8.6 step 2)', () => {
  it('the guest touches bound pages it was never given: the kernel provides them, no exit reaches the VMM', async () => {
    const b = await bootHoldingCell({ extraPages: 4 });
    const v = b.vcpus[0]!;
    const vm = kernelVm(b.emu, b.vm.fd);
    const gfn0 = Number(extraPage(b, 0)) / PAGE;
    expect(vm.paged.has(gfn0)).toBe(false);
    // A read of a never-touched page: zero-filled.
    expect(await holdingCellCommand(v, HoldingCellCmd.READ_ADDR, [extraPage(b, 0)])).toBe(0n);
    expect(vm.paged.get(gfn0)).toMatchObject({ share: false, write: true });
    // access_page_range over three more pages: each is provided on its first store.
    expect(await holdingCellCommand(v, HoldingCellCmd.ACCESS_PAGE_RANGE, [extraPage(b, 1), BigInt(3 * PAGE)])).toBe(0n);
    for (let k = 1; k <= 3; k++) {
      expect(vm.paged.has(gfn0 + k)).toBe(true);
      expect(await holdingCellCommand(v, HoldingCellCmd.READ_ADDR, [extraPage(b, k)])).toBe(0xa5a5_a5a5n);
    }
    // The guest's stage 2 maps each provided page (guest_private extent, lend: RWX).
    const vmid = await guestVmid(b.emu);
    const pieces = b.emu.hyp.memory.translate(vmid, Number(extraPage(b, 0)), 4 * PAGE);
    expect(pieces.reduce((n, p) => n + p.size, 0)).toBe(4 * PAGE);
    await expectCleanShutdown(b.emu);
  });

  it('a binding added while the VM runs is paged in on the MMIO path (no demand-paging range for it)', async () => {
    const b = await bootHoldingCell();
    const v = b.vcpus[0]!;
    const more = await b.dev.createGuestMem(PAGE);
    await more.writeAt(0, le64(0x4242n));
    await b.vm.mapMem({ guestAddr: EXTRA_BASE, flags: LEND_RWX, mem: more, size: BigInt(PAGE) });
    expect(await holdingCellCommand(v, HoldingCellCmd.READ_ADDR, [EXTRA_BASE])).toBe(0x4242n);
    expect(kernelVm(b.emu, b.vm.fd).paged.get(Number(EXTRA_BASE) / PAGE)).toMatchObject({ share: false });
    await expectCleanShutdown(b.emu);
  });
});

describe('page-fault exits (uapi.md §8.8, QUIRK K7)', () => {
  it('a write to a lend binding without ALLOW_WRITE: PAGE_FAULT with attempt -EPERM, repeated on every RUN', async () => {
    const b = await bootHoldingCell({ noStart: true });
    const ro = await b.dev.createGuestMem(PAGE);
    const flags = GUNYAH_MEM_FORCE_LEND | GUNYAH_MEM_ALLOW_READ | GUNYAH_MEM_ALLOW_EXEC;
    await b.vm.mapMem({ guestAddr: EXTRA_BASE, flags, mem: ro, size: BigInt(PAGE) });
    await b.vm.start();
    const v = b.vcpus[0]!;
    // Reads are fine (the page is provided RX).
    expect(await holdingCellCommand(v, HoldingCellCmd.READ_ADDR, [EXTRA_BASE + 8n])).toBe(0n);
    await startCommand(v, HoldingCellCmd.WRITE_ADDR, [EXTRA_BASE + 8n, 1n]);
    const pf = await runPageFault(v);
    expect(pf).toEqual({ physAddr: EXTRA_BASE + 8n, attempt: -Errno.EPERM, resumeAction: GUNYAH_VCPU_RESUME_FAULT });
    // K7: what the VMM writes into page_fault.resume_action is ignored; the guest faults again.
    v.page.write(PF_RESUME_ACTION, Uint8Array.of(0));
    expect(await runPageFault(v)).toEqual(pf);
    expect(await runPageFault(v)).toEqual(pf);
    await expectCleanShutdown(b.emu);
  });

  it('a lent page the host has touched through a live mapping: -EPERM until the VMM unmaps it, then the guest goes on', async () => {
    const b = await bootHoldingCell({ extraPages: 1 });
    const v = b.vcpus[0]!;
    const map = b.mem.mmap(PAGE, extraPageOffset(b, 0));
    map.write(0, le64(0xfeedn)); // the host faults the page in
    await startCommand(v, HoldingCellCmd.READ_ADDR, [extraPage(b, 0)]);
    const pf = await runPageFault(v);
    expect(pf).toMatchObject({ physAddr: extraPage(b, 0), attempt: -Errno.EPERM });
    expect(await runPageFault(v)).toEqual(pf);
    await map.unmap();
    const m = await runToMmio(v);
    expect(m).toMatchObject({ physAddr: CMD_REG, isWrite: true, len: 8, data: 0xfeedn });
    await expectCleanShutdown(b.emu);
  });

  it('no binding any more (UNMAP while running): -ENOENT until the VMM maps memory there again', async () => {
    const b = await bootHoldingCell({ noStart: true });
    const more = await b.dev.createGuestMem(PAGE);
    const opts = { guestAddr: EXTRA_BASE, flags: LEND_RWX, mem: more, size: BigInt(PAGE) };
    await b.vm.mapMem(opts);
    await b.vm.start(); // the range is a demand-paging range for the hypervisor from now on
    const v = b.vcpus[0]!;
    // Nothing was given to the guest yet: the reclaim has nothing to do.
    expect(await b.vm.unmapMem(opts)).toBe(0);
    await startCommand(v, HoldingCellCmd.READ_ADDR, [EXTRA_BASE]);
    const pf = await runPageFault(v);
    expect(pf).toEqual({ physAddr: EXTRA_BASE, attempt: -Errno.ENOENT, resumeAction: GUNYAH_VCPU_RESUME_FAULT });
    expect(await runPageFault(v)).toEqual(pf);
    const again = await b.dev.createGuestMem(PAGE);
    await again.writeAt(0, le64(0xabcn));
    await b.vm.mapMem({ ...opts, mem: again });
    const m = await runToMmio(v);
    expect(m).toMatchObject({ physAddr: CMD_REG, isWrite: true, data: 0xabcn });
    await expectCleanShutdown(b.emu);
  });
});

describe('reclaim while the VM runs (uapi.md §6.2 MAP_MEM remove, §8.11 reclaim; decisions K1)', () => {
  it('UNMAP of a shared binding the guest used: 0; the address then traps as MMIO', async () => {
    const b = await bootHoldingCell();
    const v = b.vcpus[0]!;
    const shm = await b.dev.createGuestMem(PAGE);
    const opts = { guestAddr: SHARE_BASE, flags: SHARE_RWX, mem: shm, size: BigInt(PAGE) };
    await b.vm.mapMem(opts);
    expect(await holdingCellCommand(v, HoldingCellCmd.WRITE_ADDR, [SHARE_BASE, 0x66n])).toBe(0n);
    expect(await b.vm.unmapMem(opts)).toBe(0);
    expect(kernelVm(b.emu, b.vm.fd).paged.has(Number(SHARE_BASE) / PAGE)).toBe(false);
    await startCommand(v, HoldingCellCmd.READ_ADDR, [SHARE_BASE]);
    const m = await runToMmio(v);
    expect(m).toMatchObject({ physAddr: SHARE_BASE, isWrite: false, len: 8 });
    v.setMmioData(0x9999n);
    expect(await runToMmio(v)).toMatchObject({ physAddr: CMD_REG, isWrite: true, data: 0x9999n });
    await expectCleanShutdown(b.emu);
  });

  it('UNMAP of a lent binding the guest used: EBUSY, and the binding and the guest data stay', async () => {
    const b = await bootHoldingCell();
    const v = b.vcpus[0]!;
    const more = await b.dev.createGuestMem(PAGE);
    const opts = { guestAddr: EXTRA_BASE, flags: LEND_RWX, mem: more, size: BigInt(PAGE) };
    await b.vm.mapMem(opts);
    expect(await holdingCellCommand(v, HoldingCellCmd.WRITE_ADDR, [EXTRA_BASE, 0x66n])).toBe(0n);
    await expect(b.vm.unmapMem(opts)).rejects.toMatchObject({ code: 'EBUSY' });
    expect(kernelVm(b.emu, b.vm.fd).bindingAt(Number(EXTRA_BASE) / PAGE)).toBeDefined();
    expect(await holdingCellCommand(v, HoldingCellCmd.READ_ADDR, [EXTRA_BASE])).toBe(0x66n);
    await expectCleanShutdown(b.emu);
  });

  it('a punched hole in a shared page the guest uses: the guest reads zeros afterwards (vmm-flows.md §6.7)', async () => {
    const b = await bootHoldingCell();
    const v = b.vcpus[0]!;
    const shm = await b.dev.createGuestMem(PAGE);
    await b.vm.mapMem({ guestAddr: SHARE_BASE, flags: SHARE_RWX, mem: shm, size: BigInt(PAGE) });
    expect(await holdingCellCommand(v, HoldingCellCmd.WRITE_ADDR, [SHARE_BASE, 0x66n])).toBe(0n);
    await shm.punchHole(0, PAGE);
    expect(await holdingCellCommand(v, HoldingCellCmd.READ_ADDR, [SHARE_BASE])).toBe(0n);
    await expectCleanShutdown(b.emu);
  });

  it('a page the guest relinquished (sanitized): the host maps and reads it (zeros) and may punch it', async () => {
    const b = await bootHoldingCell();
    const v = b.vcpus[0]!;
    const more = await b.dev.createGuestMem(PAGE);
    await b.vm.mapMem({ guestAddr: EXTRA_BASE, flags: LEND_RWX, mem: more, size: BigInt(PAGE) });
    expect(await holdingCellCommand(v, HoldingCellCmd.WRITE_ADDR, [EXTRA_BASE, 0x66n])).toBe(0n);
    expect(() => more.mmap()).toThrow(expect.objectContaining({ code: 'EBUSY' }));
    // page_relinquish(addr, 1 page, sanitize, flush after): hvc 0xC6008069 (0, addr, 4096, flags).
    const relinquish = [0xc600_8069n, 0n, EXTRA_BASE, BigInt(PAGE), 0b011n];
    expect(await holdingCellCommand(v, HoldingCellCmd.SMCCC_HVC, relinquish)).toBe(0n);
    expect(await holdingCellCommand(v, HoldingCellCmd.SMCCC_HVC, [0xc600_8069n, 0n, 0n, 0n, 0b100n])).toBe(0n);
    // The mmap's reclaim now succeeds: the page is the host's again.
    const map = more.mmap();
    expect(kernelVm(b.emu, b.vm.fd).paged.has(Number(EXTRA_BASE) / PAGE)).toBe(false);
    expect(map.read(0, 8)).toEqual(new Uint8Array(8));
    await more.punchHole(0, PAGE);
    await map.unmap();
    // The guest touching it again is given a fresh page.
    expect(await holdingCellCommand(v, HoldingCellCmd.READ_ADDR, [EXTRA_BASE])).toBe(0n);
    await expectCleanShutdown(b.emu);
  });
});
