/**
 * The QUIRKs of the real v17 driver that a VMM can observe, end to end through the raw
 * HostProcess contract: each test asserts the default (real-kernel) behaviour and, where
 * `createEmulator({ quirks })` has a switch for it, the fixed behaviour with the switch off.
 *
 * Reference: uapi.md §9 (QUIRK table K1–K24), with the rows and sections each quirk touches:
 * §6.2 (SET_DTB_CONFIG, ioeventfd, SET_BOOT_CONTEXT, MAP_MEM, START), §6.4 (PUNCH_HOLE, mmap),
 * §8.2 (start steps), §8.6–§8.10 (RUN), §8.12 (DTB parcel); rm-rpc.md §12.3 (VM_SET_BOOT_CONTEXT
 * payload), §13 (VM_EXITED reason words); hypervisor.md §6 (vcpu_run states 6 FAULT and 0x100
 * PSCI_SYSTEM_RESET). Not observable through this contract, and so not here: K9 (both resume
 * words are 0; its observable equivalent is tested), K13, K20, K21, K22.
 */
import { describe, expect, it } from 'vitest';
import type { KernelQuirks } from '../../../src/vm-mgr/vm-api.js';
import { createMemoryTraceSink, type MemoryTraceSink } from '../../../src/shared/trace.js';
import { guestProgram } from '../../../src/guest/index.js';
import { createEmulator } from '../../../src/emulator.js';
import {
  EXIT_MMIO,
  EXIT_PAGE_FAULT,
  EXIT_STATUS,
  FALLOC_KEEP_SIZE,
  FALLOC_PUNCH_HOLE,
  FN_IOEVENTFD,
  GUEST_BASE,
  HC,
  HC_CMD,
  MEM_LEND,
  MEM_R,
  MEM_RWX,
  MEM_SHARE,
  MEM_UNMAP,
  MEM_W,
  PAGE,
  REG_PC,
  REG_X0,
  RESUME_HANDLED,
  RESUME_RETRY,
  RUN,
  Raw,
  RunView,
  VM_STATUS_CRASHED,
  VM_STATUS_EXITED,
  errnoOf,
  expectErrno,
  finish,
  guestMapped,
  guestVmid,
  hcWord,
  ioeventfdArg,
  rawBoot,
  rmCallsOf,
  u64,
} from '../support/raw.js';

const EXTRA = 0x9000_0000n;
const RELINQUISH = 0xc600_8069;

/** Emulator options that turn one quirk off. */
type Q = { quirks?: Partial<KernelQuirks> };

function off(q: keyof KernelQuirks): Q {
  return { quirks: { [q]: false } };
}

async function bare(quirks: Partial<KernelQuirks> = {}, trace?: MemoryTraceSink) {
  const emu = createEmulator({ quirks, ...(trace ? { trace } : {}) });
  const raw = new Raw(emu.host);
  const dev = raw.openDevice();
  const vm = await raw.createVm(dev);
  return { emu, raw, dev, vm };
}

function le64(b: Uint8Array): bigint {
  return new DataView(b.buffer, b.byteOffset, 8).getBigUint64(0, true);
}

/** (set, index, value) of every VM_SET_BOOT_CONTEXT call (rm-rpc.md §12.3). */
function bootContextCalls(trace: MemoryTraceSink): Array<[number, number, bigint]> {
  return rmCallsOf(trace.events, 0x5600_0031).map((p) => {
    const v = new DataView(p.buffer, p.byteOffset, p.byteLength);
    return [v.getUint8(2), v.getUint8(3), v.getBigUint64(8, true)];
  });
}

describe('uapi.md §9 QUIRKs', () => {
  it.each([
    ['default: 0', {}, 'OK'],
    ['off: EOVERFLOW', off('k1DtbConfigOverflowUnchecked'), 'EOVERFLOW'],
  ])('QUIRK K1: SET_DTB_CONFIG with gpa + size overflowing u64 → %s', async (_what, o, code) => {
    const s = await bare((o as Q).quirks);
    expect(await errnoOf(s.raw.setDtbConfig(s.vm, 0xffff_ffff_ffff_f000n, 0x2000))).toBe(code);
    // No overflow: accepted either way.
    await expect(s.raw.setDtbConfig(s.vm, 0xffff_ffff_ffff_d000n, 0x2000)).resolves.toBe(0);
    await finish(s.emu);
  });

  it.each([
    ['default: 0', {}, 'OK'],
    ['off: EINVAL', off('k2IoeventfdOverflowUnchecked'), 'EINVAL'],
  ])('QUIRK K2: ioeventfd with addr + len overflowing → %s', async (_what, o, code) => {
    const s = await bare((o as Q).quirks);
    const efd = s.emu.host.eventfd();
    expect(await errnoOf(s.raw.addFunction(s.vm, FN_IOEVENTFD, ioeventfdArg({ addr: 0xffff_ffff_ffff_fffcn, len: 8, fd: efd })))).toBe(code);
    await expect(s.raw.addFunction(s.vm, FN_IOEVENTFD, ioeventfdArg({ addr: 0xffff_ffff_ffff_fff0n, len: 8, fd: efd }))).resolves.toBe(0);
    await finish(s.emu);
  });

  it('QUIRK K3: boot-context keys are the whole 32-bit reg; two keys that decode to PC are both sent; reserved is not checked', async () => {
    const trace = createMemoryTraceSink();
    const b = await rawBoot({ noStart: true, noBootRegs: true, emulator: { trace } });
    await expect(b.raw.setBootContext(b.vm, 0x0001_0100, 0xdead_0000n, 0xffff_ffff)).resolves.toBe(0);
    await expect(b.raw.setBootContext(b.vm, REG_PC, GUEST_BASE, 0x1234)).resolves.toBe(0);
    await expect(b.raw.start(b.vm)).resolves.toBe(0);
    // Ascending key order: 0x100 first, then 0x10100; both say set 1 (PC) index 0.
    expect(bootContextCalls(trace)).toEqual([
      [1, 0, GUEST_BASE],
      [1, 0, 0xdead_0000n],
    ]);
    await finish(b.emu);
  });

  it.each([
    ['default: the entry is erased and nothing is sent', {}, false],
    ['off: 0 is stored and sent', off('k4ZeroErasesBootReg'), true],
  ])('QUIRK K4: boot-context value 0 → %s', async (_what, o, sent) => {
    const trace = createMemoryTraceSink();
    const b = await rawBoot({ noStart: true, emulator: { trace, ...o } });
    await b.raw.setBootContext(b.vm, REG_X0, 0x77);
    await expect(b.raw.setBootContext(b.vm, REG_X0, 0)).resolves.toBe(0);
    await b.raw.start(b.vm);
    const calls = bootContextCalls(trace);
    expect(calls.filter(([set, index]) => set === 0 && index === 0)).toEqual(sent ? [[0, 0, 0n]] : []);
    expect(calls.length).toBe(sent ? 3 : 2);
    await finish(b.emu);
  });

  it.each([
    ['default: EINVAL', {}, 'EINVAL'],
    ['off: accepted', off('k5XarrayValueReject'), 'OK'],
  ])('QUIRK K5: boot-context values with low bits 0b10 and ≤ 1026 → %s', async (_what, o, code) => {
    const trace = createMemoryTraceSink();
    const b = await rawBoot({ noStart: true, emulator: { trace, ...o } });
    for (const v of [2n, 6n, 1026n]) expect(await errnoOf(b.raw.setBootContext(b.vm, 0x005, v))).toBe(code);
    // Other low bits are always fine.
    await expect(b.raw.setBootContext(b.vm, 0x006, 1n)).resolves.toBe(0);
    await expect(b.raw.setBootContext(b.vm, 0x007, 3n)).resolves.toBe(0);
    await b.raw.start(b.vm);
    expect(bootContextCalls(trace).filter(([s, i]) => s === 0 && i === 5)).toEqual(code === 'OK' ? [[0, 5, 1026n]] : []);
    await finish(b.emu);
  });

  it('QUIRK K6 (default): a DTB in a FORCE_SHARE binding → VM_START ENOMEM (the ACL count is never set)', async () => {
    const trace = createMemoryTraceSink();
    const b = await rawBoot({ noStart: true, memFlags: MEM_SHARE | MEM_RWX, emulator: { trace } });
    await expectErrno(b.raw.start(b.vm), 'ENOMEM');
    expect(rmCallsOf(trace.events, 0x5100_0013)).toEqual([]);
    await finish(b.emu);
  });

  it('QUIRK K6 (off): a DTB in a FORCE_SHARE binding → VM_START 0; MEM_SHARE carries the guest and the host in the ACL', async () => {
    const trace = createMemoryTraceSink();
    const b = await rawBoot({ noStart: true, memFlags: MEM_SHARE | MEM_RWX, emulator: { trace, ...off('k6ShareDtbAclCount') } });
    await expect(b.raw.start(b.vm)).resolves.toBe(0);
    const share = rmCallsOf(trace.events, 0x5100_0013);
    expect(share.length).toBe(1);
    await finish(b.emu);
  });

  it.each([
    ['HANDLED (0)', RESUME_HANDLED],
    ['RETRY (2)', RESUME_RETRY],
  ])('QUIRK K7: after a page-fault exit, page_fault.resume_action %s is ignored; the guest faults again', async (_what, action) => {
    const b = await rawBoot({ noStart: true, image: guestProgram().store(EXTRA + 8n, 8, 1).spin().build() });
    const extra = await b.raw.createGuestMem(b.dev, PAGE);
    await b.raw.mapMem(b.vm, { guestAddr: EXTRA, flags: MEM_LEND | MEM_R, fd: extra, size: PAGE });
    await b.raw.start(b.vm);
    const v = await RunView.of(b.raw, b.vcpus[0]!);
    const first = await v.run();
    expect(first.exitReason).toBe(EXIT_PAGE_FAULT);
    v.setByte(RUN.PF_RESUME_ACTION, action);
    const again = await v.run();
    expect(again.exitReason).toBe(EXIT_PAGE_FAULT);
    expect(again.pageFault).toEqual(first.pageFault);
    await finish(b.emu);
  });

  /** The exits of a VM whose guest runs `image`, with a 1-page R-only share binding at EXTRA holding 0x1234. */
  async function k8Exits(image: Uint8Array, o: object): Promise<string[]> {
    const b = await rawBoot({ noStart: true, image, emulator: o });
    const extra = await b.raw.createGuestMem(b.dev, PAGE);
    await b.raw.writeMem(extra, 0, u64(0x1234));
    await b.raw.mapMem(b.vm, { guestAddr: EXTRA, flags: MEM_SHARE | MEM_R, fd: extra, size: PAGE });
    await b.raw.start(b.vm);
    const v = await RunView.of(b.raw, b.vcpus[0]!);
    const exits: string[] = [];
    for (let i = 0; i < 3; i++) {
      const p = await v.run();
      if (p.exitReason === EXIT_MMIO) {
        exits.push(`${p.mmio.isWrite ? 'W' : 'R'} 0x${p.mmio.physAddr.toString(16)}`);
        if (p.mmio.physAddr === 0x6008n) break; // the program's last access; it spins after it
        if (!p.mmio.isWrite) v.setMmioData(0x1234);
      } else {
        exits.push(`status ${p.status.status} type ${p.status.type}`);
        break;
      }
    }
    await finish(b.emu);
    return exits;
  }

  it.each([
    ['default: treated as a write, EPERM, so the read exits to userspace', {}, ['W 0x6000', 'R 0x90000000', 'W 0x6008']],
    ['off: the access\'s own direction, the page is provided', off('k8StaleIsWrite'), ['W 0x6000', 'W 0x6008']],
  ])('QUIRK K8: a read of an unprovided R-only share page after an MMIO write exit → %s', async (_what, o, exits) => {
    const image = guestProgram().mmioWrite(0x6000, 8, 1).load(EXTRA).expect(0x1234).mmioWrite(0x6008, 8, 2).spin().build();
    expect(await k8Exits(image, o)).toEqual(exits);
  });

  it.each([
    ['default: treated as a read, mapped R, and the retried write aborts the guest', {}, ['status 2 type 5']],
    ['off: EPERM, so the write exits to userspace', off('k8StaleIsWrite'), ['W 0x90000000', 'W 0x6008']],
  ])('QUIRK K8: a first write to an unprovided R-only share page (stale is_write 0) → %s', async (_what, o, exits) => {
    const image = guestProgram().store(EXTRA, 8, 5).mmioWrite(0x6008, 8, 2).spin().build();
    expect(await k8Exits(image, o)).toEqual(exits);
  });

  it('QUIRK K9 (unobservable: both resume words are 0): a write absorbed by an ioeventfd continues the guest as emulated, with no exit', async () => {
    const image = guestProgram().mmioWrite(0x6000, 8, 1).mmioWrite(0x6008, 8, 2).spin().build();
    const b = await rawBoot({ image });
    const efd = b.host.eventfd();
    await b.raw.addFunction(b.vm, FN_IOEVENTFD, ioeventfdArg({ addr: 0x6000, len: 8, fd: efd }));
    const v = await RunView.of(b.raw, b.vcpus[0]!);
    expect((await v.mmio(0x6008n, true)).data).toBe(2n);
    expect(le64(await b.host.read(efd, 8))).toBe(1n);
    await finish(b.emu);
  });

  /** A 4-page file with markers 1..4 in its pages; returns what each page holds after `punch`. */
  async function k10(o: object, offset: number, length: number): Promise<bigint[]> {
    const s = await bare((o as Q).quirks ?? {});
    const mem = await s.raw.createGuestMem(s.dev, 4 * PAGE);
    for (let i = 0; i < 4; i++) await s.raw.writeMem(mem, i * PAGE, u64(i + 1));
    await s.emu.host.fallocate(mem, FALLOC_KEEP_SIZE | FALLOC_PUNCH_HOLE, offset, length);
    const out: bigint[] = [];
    for (let i = 0; i < 4; i++) out.push(le64(await s.raw.readMem(mem, i * PAGE, 8)));
    await finish(s.emu);
    return out;
  }

  it.each([
    ['default: page indices 4096..8191, beyond the file: nothing is punched', {}, [1n, 2n, 3n, 4n]],
    ['off: page 1 is punched', off('k10PunchHoleUnits'), [1n, 0n, 3n, 4n]],
  ])('QUIRK K10: PUNCH_HOLE of bytes [4096, 8192) → %s', async (_what, o, pages) => {
    expect(await k10(o, PAGE, PAGE)).toEqual(pages);
  });

  it.each([
    ['default: page indices 0..4095: the whole file is punched', {}, [0n, 0n, 0n, 0n]],
    ['off: page 0 only', off('k10PunchHoleUnits'), [0n, 2n, 3n, 4n]],
  ])('QUIRK K10: PUNCH_HOLE of bytes [0, 4096) → %s', async (_what, o, pages) => {
    expect(await k10(o, 0, PAGE)).toEqual(pages);
  });

  it.each([
    ['default: to the end of the binding (max)', {}, [false, false, false, false]],
    ['off: the mapped page only (min)', off('k11MmapReclaimMax'), [false, true, true, true]],
  ])('QUIRK K11: mmap of page 0 of a 4-page lend binding reclaims %s', async (_what, o, mapped) => {
    const b = await rawBoot({ emulator: o });
    const extra = await b.raw.createGuestMem(b.dev, 4 * PAGE);
    await b.raw.mapMem(b.vm, { guestAddr: EXTRA, flags: MEM_LEND | MEM_R | MEM_W, fd: extra, size: 4 * PAGE });
    const v = await RunView.of(b.raw, b.vcpus[0]!);
    expect(await v.command(HC.ACCESS_PAGE_RANGE, [EXTRA, 4 * PAGE])).toBe(0n);
    // The guest gives the pages up, so a reclaim may take them while the VM runs.
    expect(await v.command(HC.SMCCC_HVC, [RELINQUISH, 0, EXTRA, 4 * PAGE, 1])).toBe(0n);
    const vmid = await guestVmid(b.emu);
    const m = b.host.mmap(extra, PAGE);
    expect([0n, 1n, 2n, 3n].map((i) => guestMapped(b.emu, vmid, EXTRA + i * 0x1000n))).toEqual(mapped);
    await m.unmap();
    await finish(b.emu);
  });

  it('QUIRK K12: a failed VM_START is never retried → ENODEV on every later START', async () => {
    const b = await rawBoot({ noStart: true });
    await b.raw.setDtbConfig(b.vm, b.dtbStart, 0);
    await expectErrno(b.raw.start(b.vm), 'EINVAL');
    await b.raw.setDtbConfig(b.vm, b.dtbStart, PAGE); // fixing the cause does not help
    await expectErrno(b.raw.start(b.vm), 'ENODEV');
    await expectErrno(b.raw.start(b.vm), 'ENODEV');
    await finish(b.emu);
  });

  it.each([
    ['FAULT (6, a crashed guest)', guestProgram().udf().build(), 5],
    ['PSCI_SYSTEM_RESET (0x100)', guestProgram().systemReset().build(), 2],
  ])('QUIRK K14 (default): vcpu_run state %s is not an error: RUN keeps looping until the state changes (here: a STATUS exit)', async (_what, image, type) => {
    const b = await rawBoot({ image });
    const v = await RunView.of(b.raw, b.vcpus[0]!);
    const p = await v.run();
    expect(p.exitReason).toBe(EXIT_STATUS);
    expect({ status: p.status.status, type: p.status.type }).toEqual({ status: VM_STATUS_EXITED, type });
    await finish(b.emu);
  });

  it.each([
    ['FAULT (6, a crashed guest)', guestProgram().udf().build()],
    ['PSCI_SYSTEM_RESET (0x100)', guestProgram().systemReset().build()],
  ])('QUIRK K14 (off): vcpu_run state %s → RUN fails with EINVAL', async (_what, image) => {
    const b = await rawBoot({ image, emulator: off('k14SpinOnUnknownState') });
    await expectErrno(b.raw.run(b.vcpus[0]!), 'EINVAL');
    await finish(b.emu);
  });

  it('QUIRK K15: exit_info.reason_size is not clamped: SYSTEM_RESET2 (16 reason bytes) shows 16, with the first 8 bytes kept', async () => {
    // SYSTEM_RESET2 (SMC64) with vendor reset type 0x80000001 and cookie 0x55: reason words
    // [SMC64 flag, type, cookie low, cookie high] (rm-rpc.md §13).
    const image = guestProgram().hvc(0xc400_0012, 0x8000_0001, 0x55).build();
    const b = await rawBoot({ image });
    const v = await RunView.of(b.raw, b.vcpus[0]!);
    const p = await v.run();
    expect(p.exitReason).toBe(EXIT_STATUS);
    expect(p.status.reasonSize).toBe(16);
    expect(p.status.reason >> 32n).toBe(0x8000_0001n);
    expect(p.status.type).toBe(3);
    await finish(b.emu);
  });

  it.each([
    ['default: EINVAL', {}, 'EINVAL'],
    ['off: EBADF', off('k16MapMemBadFdEinval'), 'EBADF'],
  ])('QUIRK K16: MAP_MEM with a closed guest_mem_fd → %s', async (_what, o, code) => {
    const s = await bare((o as Q).quirks);
    const mem = await s.raw.createGuestMem(s.dev, PAGE);
    await s.emu.host.close(mem);
    await expectErrno(s.raw.mapMem(s.vm, { guestAddr: GUEST_BASE, flags: MEM_LEND | MEM_RWX, fd: mem, size: PAGE }), code);
    await finish(s.emu);
  });

  it.each([
    ['default: one file reference leaks; the file and its pages stay for good', {}, 2],
    ['off: nothing leaks; the pages are freed at close', off('k17UnmapLeaksFileRef'), 0],
  ])('QUIRK K17: a successful MAP_MEM UNMAP → %s', async (_what, o, left) => {
    const s = await bare((o as Q).quirks);
    const mem = await s.raw.createGuestMem(s.dev, 2 * PAGE);
    await s.raw.writeMem(mem, 0, u64(1));
    await s.raw.writeMem(mem, PAGE, u64(2));
    const a = { guestAddr: GUEST_BASE, flags: MEM_LEND | MEM_RWX, fd: mem, size: 2 * PAGE };
    await s.raw.mapMem(s.vm, a);
    await expect(s.raw.mapMem(s.vm, { ...a, flags: a.flags | MEM_UNMAP })).resolves.toBe(0);
    await s.emu.host.close(mem);
    expect(s.emu.kernel.pages.inUse).toBe(left);
    await finish(s.emu, { pages: left });
  });

  it('QUIRK K17 (default): a prefix UNMAP leaks the reference too', async () => {
    const s = await bare();
    const mem = await s.raw.createGuestMem(s.dev, 2 * PAGE);
    await s.raw.writeMem(mem, 0, u64(1));
    const a = { guestAddr: GUEST_BASE, flags: MEM_LEND | MEM_RWX, fd: mem, size: 2 * PAGE };
    await s.raw.mapMem(s.vm, a);
    await expect(s.raw.mapMem(s.vm, { ...a, flags: a.flags | MEM_UNMAP, size: PAGE })).resolves.toBe(0);
    await finish(s.emu, { pages: 1 });
  });

  it.each([
    ['default: 0, and the whole-space binding makes later bindings fail with EEXIST', {}, 'OK', 'EEXIST'],
    ['off: EINVAL, and later bindings work', off('k18ZeroSizeAtZero'), 'EINVAL', 'OK'],
  ])('QUIRK K18: MAP_MEM of size 0 at guest address 0 → %s', async (_what, o, first, later) => {
    const s = await bare((o as Q).quirks);
    const mem = await s.raw.createGuestMem(s.dev, 4 * PAGE);
    expect(await errnoOf(s.raw.mapMem(s.vm, { guestAddr: 0, flags: MEM_LEND | MEM_RWX, fd: mem, size: 0 }))).toBe(first);
    expect(await errnoOf(s.raw.mapMem(s.vm, { guestAddr: GUEST_BASE, flags: MEM_LEND | MEM_RWX, fd: mem, offset: PAGE, size: PAGE }))).toBe(later);
    expect(await errnoOf(s.raw.mapMem(s.vm, { guestAddr: 0xffff_0000_0000n, flags: MEM_LEND | MEM_RWX, fd: mem, offset: 2 * PAGE, size: PAGE }))).toBe(later);
    await finish(s.emu);
  });

  it('QUIRK K19: MAP_MEM does not check offset + size against the file size → 0; the host cannot reach past the end (SIGBUS)', async () => {
    const s = await bare();
    const mem = await s.raw.createGuestMem(s.dev, PAGE);
    await expect(s.raw.mapMem(s.vm, { guestAddr: GUEST_BASE, flags: MEM_LEND | MEM_RWX, fd: mem, offset: 0, size: 16 * PAGE })).resolves.toBe(0);
    const m = s.emu.host.mmap(mem, 2 * PAGE);
    expect(() => m.read(PAGE, 8)).toThrow(/beyond the end/);
    await m.unmap();
    await finish(s.emu);
  });

  it.each([
    ['default: the read value is lost; the guest continues with resume words 0 (command 0, "ok")', {}, 'W 0x6000 data 0x0'],
    ['off: the resume is kept for the next RUN (the LOOPBACK word arrives)', off('k23ResumeLostOnEintr'), 'R 0x6000'],
  ])('QUIRK K23: immediate_exit set with an MMIO read pending → EINTR; after clearing it → %s', async (_what, o, next) => {
    const b = await rawBoot({ emulator: o });
    const v = await RunView.of(b.raw, b.vcpus[0]!);
    await v.mmio(HC_CMD, false);
    v.setMmioData(hcWord(HC.LOOPBACK, 1));
    v.setByte(RUN.IMMEDIATE_EXIT, 1);
    await expectErrno(b.raw.run(v.vcpu), 'EINTR');
    v.setByte(RUN.IMMEDIATE_EXIT, 0);
    const p = await v.run();
    expect(p.exitReason).toBe(EXIT_MMIO);
    const got = p.mmio.isWrite ? `W 0x${p.mmio.physAddr.toString(16)} data 0x${p.mmio.data.toString(16)}` : `R 0x${p.mmio.physAddr.toString(16)}`;
    expect(got).toBe(next);
    await finish(b.emu);
  });

  it('QUIRK K24: VM_START RPC failed after the resources were handed out → RUN gives a STATUS exit CRASHED (3), not ENODEV', async () => {
    const b = await rawBoot({ noStart: true, emulator: { faults: { rm: [{ msgId: 0x5600_0004, error: 'NORESOURCE' }] } } });
    await expectErrno(b.raw.start(b.vm), 'ENODEV');
    const v = await RunView.of(b.raw, b.vcpus[0]!);
    const p = await v.run();
    expect(p.exitReason).toBe(EXIT_STATUS);
    expect(p.status.status).toBe(VM_STATUS_CRASHED);
    // The RM accepts the DTB parcel only in its VM_START handler (docs/decisions.md B3), which
    // the fault skipped: teardown's MEM_RECLAIM succeeds and nothing is left.
    await finish(b.emu);
  });
});
