/**
 * VM functions of a running VM, end to end through the raw contract and the typed layer: irqfds
 * (edge and LEVEL, the guest's own masking of its doorbell, premature injection, removal by
 * label) and ioeventfds (any-length and DATAMATCH handlers, access lengths, EEXIST, removal).
 *
 * Reference: uapi.md §3 (irqfd and ioeventfd args), §6.2 (ADD/REMOVE_FUNCTION rows), §8.1
 * (REMOVE match keys: irqfd label only; ioeventfd addr, len, flags (+ datamatch); a new ticket
 * takes an unowned resource at once), §8.6 3b (only writes are offered to ioeventfds), §8.13
 * (irqfd: LEVEL masks enable 1 / ack 1, a ring per write, the counter is never read, triggers
 * before the doorbell exists are dropped), §8.14 (ioeventfd ordering and equality);
 * hypervisor.md §5 (doorbell send / mask / receive, capability rights), §9.3, §10;
 * vmm-flows.md §5.1 (the `bell-<label>` vdevice and its source-can-clear flag), §6.7 (ioeventfd
 * at 0x6_0000 with write_io), Q18.
 *
 * The guest sees a doorbell as the SPI of its `bell-<label>` node: INTID 32 + line, delivered to
 * a guest program's `wfi` (docs/guest-images.md); the holding cell has no interrupt command.
 *
 * Choices where the sheets say nothing (ours, stated here):
 * - The guest's capability for its BELL_RX end is capid 0x100: the first capability of the VM's
 *   capability space (docs/decisions.md R11), as a VM without an `rm-rpc` vdevice gets no other
 *   capability before its first doorbell (vm-resources.ts order). The test checks it.
 * - The host's BELL_TX capability carries RECEIVE as well as SEND when the doorbell's DT node has
 *   `source-can-clear` (as every VMM writes it, vmm-flows.md §5.1), as the RM does for a
 *   source that may clear; doorbell_mask needs RECEIVE (the hypervisor's doorbell_mask
 *   hypercall). So a LEVEL irqfd's one mask call succeeds, as uapi.md §8.13 describes.
 */
import pino from 'pino';
import { describe, expect, it } from 'vitest';
import { HoldingCellCmd, guestProgram, type GuestProgramBuilder } from '../../../src/guest/index.js';
import type { HypObject } from '../../../src/hyp/objects.js';
import { isEventFd } from '../../../src/host/eventfd.js';
import type { Emulator } from '../../../src/emulator.js';
import type { VmFd } from '../../../src/vmm/index.js';
import { bootHoldingCell, expectCleanShutdown } from '../support/boot.js';
import { CMD_REG, holdingCellCommand, runToMmio } from '../support/holding-cell-driver.js';
import {
  MARK,
  bootProgram,
  expectWrite,
  guestVmid,
  readEventfd,
  runMmio,
  startCommand,
  stillPending,
  u64le,
} from '../support/programs.js';

const LABEL = 0x2a;
const LINE = 10;
const INTID = 32 + LINE;
const GUEST_BELL_CAP = 0x100n;
const DOORBELL_MASK = 0xc600_8015;
const DOORBELL_SEND_RIGHT = 0x1;
const DOORBELL_RECEIVE_RIGHT = 0x2;
const IOE = 0x6_0000n;

const errno = (code: string) => expect.objectContaining({ code });

/** The doorbell object of the guest VM (one doorbell per test). */
async function doorbellOf(emu: Emulator): Promise<HypObject> {
  const vmid = await guestVmid(emu);
  const bells = emu.hyp.objectsOf(vmid).filter((o) => o.type === 'doorbell');
  expect(bells).toHaveLength(1);
  return bells[0]!;
}

async function pendingInterrupts(emu: Emulator): Promise<number[]> {
  return emu.hyp.findVm(await guestVmid(emu))!.pendingInterrupts;
}

/** Boot `prog` with one doorbell (label LABEL, SPI LINE) and an irqfd bound before START. */
async function bootWithIrqfd(prog: GuestProgramBuilder, level: boolean, emulator = {}): Promise<{ b: Awaited<ReturnType<typeof bootProgram>>; efd: number }> {
  const b = await bootProgram(prog, { doorbells: [{ label: LABEL, line: LINE, level }], noStart: true, emulator });
  const efd = b.emu.host.eventfd();
  expect(await b.vm.addIrqfd(efd, LABEL, level)).toBe(0);
  await b.vm.start();
  return { b, efd };
}

/** MARK 1, then `n` times: wait for the doorbell's interrupt and report MARK 2, 3, … */
function waitForInterrupts(n: number): GuestProgramBuilder {
  const p = guestProgram().mmioWrite(MARK, 8, 1);
  for (let i = 0; i < n; i++) p.wfi().expect(INTID).mmioWrite(MARK, 8, 2 + i);
  return p.spin();
}

function ring(emu: Emulator, efd: number): void {
  expect(emu.host.write(efd, u64le(1n))).toBe(8);
}

describe('irqfd (uapi.md §8.13)', () => {
  it('edge: each eventfd write rings the doorbell and the waiting guest takes the SPI; masks untouched, counter never read', async () => {
    const { b, efd } = await bootWithIrqfd(waitForInterrupts(2), false);
    const v = b.vcpus[0]!;
    await expectWrite(v, MARK, 1n);
    const run = v.run();
    expect(await stillPending(run)).toBe(true); // the guest sleeps in wfi
    ring(b.emu, efd);
    expect(await run).toMatchObject({ kind: 'mmio', mmio: { physAddr: MARK, isWrite: true, data: 2n } });
    const db = b.emu.hyp.doorbell(await doorbellOf(b.emu));
    expect({ flags: db.flags, enable: db.enableMask, ack: db.ackMask }).toEqual({ flags: 1n, enable: (1n << 64n) - 1n, ack: 0n });
    ring(b.emu, efd);
    await expectWrite(v, MARK, 3n);
    expect(await readEventfd(b.emu, efd)).toBe(2n);
    await expectCleanShutdown(b.emu);
  });

  it('LEVEL: the host masks its doorbell enable 1 / ack 1 without a warning; each ring is auto-acked', async () => {
    const records: Array<{ level: number; msg: string }> = [];
    const log = pino({ level: 'warn' }, { write: (s: string) => void records.push(JSON.parse(s) as { level: number; msg: string }) });
    const { b, efd } = await bootWithIrqfd(waitForInterrupts(2), true, { log });
    const v = b.vcpus[0]!;
    const db = b.emu.hyp.doorbell(await doorbellOf(b.emu));
    expect({ enable: db.enableMask, ack: db.ackMask }).toEqual({ enable: 1n, ack: 1n });
    expect(records.filter((r) => /level/i.test(r.msg))).toEqual([]);
    await expectWrite(v, MARK, 1n);
    const run = v.run();
    expect(await stillPending(run)).toBe(true);
    ring(b.emu, efd);
    expect(await run).toMatchObject({ kind: 'mmio', mmio: { physAddr: MARK, data: 2n } });
    expect(db.flags).toBe(0n); // acked when the vIRQ was asserted
    ring(b.emu, efd);
    await expectWrite(v, MARK, 3n);
    expect(db.flags).toBe(0n);
    expect(await readEventfd(b.emu, efd)).toBe(2n);
    await expectCleanShutdown(b.emu);
  });

  it('the host BELL_TX capability carries SEND and RECEIVE (source-can-clear), the guest BELL_RX RECEIVE', async () => {
    const { b } = await bootWithIrqfd(waitForInterrupts(0), true);
    const bell = await doorbellOf(b.emu);
    const vmid = await guestVmid(b.emu);
    expect(b.emu.hyp.lookupCap(vmid, GUEST_BELL_CAP, 'doorbell', DOORBELL_RECEIVE_RIGHT)).toBe(bell);
    // The host's capabilities to this doorbell (capids count up from 0x100 per cspace, R11).
    const hostCaps: bigint[] = [];
    for (let c = 0x100n; c < 0x200n; c++) {
      try {
        if (b.emu.hyp.lookupCap(3, c, 'doorbell') === bell) hostCaps.push(c);
      } catch {
        // not a capability to this doorbell
      }
    }
    expect(hostCaps).toHaveLength(1);
    expect(b.emu.hyp.lookupCap(3, hostCaps[0]!, 'doorbell', DOORBELL_SEND_RIGHT | DOORBELL_RECEIVE_RIGHT)).toBe(bell);
    await expectCleanShutdown(b.emu);
  });

  it.each([
    ['edge', false],
    ['LEVEL', true],
  ])('%s: while the guest masks its doorbell a ring raises nothing; unmasking delivers it (hypervisor.md §5)', async (_, level) => {
    const prog = guestProgram()
      .hvc(DOORBELL_MASK, GUEST_BELL_CAP, 0, 0)
      .expect(0)
      .mmioWrite(MARK, 8, 1)
      .hvc(DOORBELL_MASK, GUEST_BELL_CAP, 1, level ? 1 : 0)
      .expect(0)
      .wfi()
      .expect(INTID)
      .mmioWrite(MARK, 8, 2)
      .spin();
    const { b, efd } = await bootWithIrqfd(prog, level);
    const v = b.vcpus[0]!;
    const vmid = await guestVmid(b.emu);
    expect(b.emu.hyp.lookupCap(vmid, GUEST_BELL_CAP, 'doorbell', DOORBELL_RECEIVE_RIGHT)).toBe(await doorbellOf(b.emu));
    await expectWrite(v, MARK, 1n);
    const db = b.emu.hyp.doorbell(await doorbellOf(b.emu));
    ring(b.emu, efd);
    expect(db.flags).toBe(1n); // set, but not enabled: nothing asserted
    expect(await pendingInterrupts(b.emu)).toEqual([]);
    await expectWrite(v, MARK, 2n);
    expect(db.flags).toBe(level ? 0n : 1n);
    await expectCleanShutdown(b.emu);
  });

  it('premature injection: writes before the bind and before START are dropped; the counter keeps them', async () => {
    const b = await bootProgram(waitForInterrupts(1), { doorbells: [{ label: LABEL, line: LINE }], noStart: true });
    const efd = b.emu.host.eventfd();
    ring(b.emu, efd); // readable at bind time: still 0, no ring
    expect(await b.vm.addIrqfd(efd, LABEL)).toBe(0);
    ring(b.emu, efd); // no doorbell resource yet: dropped
    await b.vm.start();
    const v = b.vcpus[0]!;
    const db = b.emu.hyp.doorbell(await doorbellOf(b.emu));
    expect(db.flags).toBe(0n);
    expect(await pendingInterrupts(b.emu)).toEqual([]);
    await expectWrite(v, MARK, 1n);
    const run = v.run();
    expect(await stillPending(run)).toBe(true);
    ring(b.emu, efd);
    expect(await run).toMatchObject({ kind: 'mmio', mmio: { physAddr: MARK, data: 2n } });
    expect(await readEventfd(b.emu, efd)).toBe(3n);
    await expectCleanShutdown(b.emu);
  });

  it('removed by label (fd ignored): rings stop; a second REMOVE is ENOENT; a new irqfd with the label takes the doorbell at once', async () => {
    const { b, efd } = await bootWithIrqfd(waitForInterrupts(1), false);
    const v = b.vcpus[0]!;
    await expectWrite(v, MARK, 1n);
    const run = v.run();
    expect(await b.vm.removeIrqfd(LABEL)).toBe(0);
    await expect(b.vm.removeIrqfd(LABEL)).rejects.toEqual(errno('ENOENT'));
    ring(b.emu, efd);
    const db = b.emu.hyp.doorbell(await doorbellOf(b.emu));
    expect(db.flags).toBe(0n);
    expect(await stillPending(run)).toBe(true);
    const efd2 = b.emu.host.eventfd();
    expect(await b.vm.addIrqfd(efd2, LABEL)).toBe(0);
    ring(b.emu, efd2);
    expect(await run).toMatchObject({ kind: 'mmio', mmio: { physAddr: MARK, data: 2n } });
    await expectCleanShutdown(b.emu);
  });
});

/** Add an ioeventfd; returns its eventfd. */
async function ioeventfd(emu: Emulator, vm: VmFd, addr: bigint, len: number, datamatch?: bigint): Promise<number> {
  const fd = emu.host.eventfd();
  const opts = datamatch === undefined ? { addr, len, fd } : { addr, len, fd, datamatch };
  expect(await vm.addIoeventfd(opts)).toBe(0);
  return fd;
}

/** The eventfd's counter without blocking (0 when unsignalled). */
function counter(emu: Emulator, fd: number): bigint {
  const f = emu.host.openFiles().find((x) => x.fd === fd)?.file;
  if (!isEventFd(f)) throw new Error(`fd ${fd} is not an eventfd`);
  return f.counter;
}

describe('ioeventfd (uapi.md §8.14)', () => {
  it('without DATAMATCH: absorbs a write of any length and value at addr, no exit; reads still exit', async () => {
    const prog = guestProgram()
      .mmioWrite(IOE, 1, 0x11)
      .mmioWrite(IOE, 2, 0x2222)
      .mmioWrite(IOE, 4, 0x3333_3333)
      .mmioWrite(IOE, 8, 0x4444_4444_4444_4444n)
      .mmioWrite(MARK, 8, 1)
      .mmioRead(IOE, 8)
      .mmioWrite(IOE + 8n, 8, 5)
      .spin();
    const b = await bootProgram(prog);
    const fd = await ioeventfd(b.emu, b.vm, IOE, 0);
    const v = b.vcpus[0]!;
    await expectWrite(v, MARK, 1n);
    expect(counter(b.emu, fd)).toBe(4n);
    expect(await runMmio(v)).toMatchObject({ physAddr: IOE, isWrite: false, len: 8 });
    await expectWrite(v, IOE + 8n, 5n); // another address: an ordinary exit
    expect(await readEventfd(b.emu, fd)).toBe(4n);
    await expectCleanShutdown(b.emu);
  });

  it('DATAMATCH at 0x6_0000 len 8 with write_io: the matching value is absorbed, another is an MMIO write exit with its data (vmm-flows.md §6.7)', async () => {
    const b = await bootHoldingCell();
    const fd = await ioeventfd(b.emu, b.vm, IOE, 8, 0xabcdn);
    const v = b.vcpus[0]!;
    expect(await holdingCellCommand(v, HoldingCellCmd.WRITE_IO, [IOE, 0xabcdn])).toBe(0n);
    expect(counter(b.emu, fd)).toBe(1n);
    await startCommand(v, HoldingCellCmd.WRITE_IO, [IOE, 0x1234n]);
    expect(await runToMmio(v)).toMatchObject({ physAddr: IOE, isWrite: true, len: 8, data: 0x1234n });
    expect(await runToMmio(v)).toMatchObject({ physAddr: CMD_REG, isWrite: true, data: 0n });
    expect(counter(b.emu, fd)).toBe(1n);
    await expectCleanShutdown(b.emu);
  });

  it('DATAMATCH with len 1, 2, 4, 8: a write of that length and value is absorbed; another length or value exits', async () => {
    const lens = [1, 2, 4, 8] as const;
    const data = [0x5an, 0x5a5an, 0x5a5a_5a5an, 0x5a5a_5a5a_5a5a_5a5an];
    const at = (i: number): bigint => IOE + 0x100n * BigInt(i);
    const prog = guestProgram();
    lens.forEach((len, i) => prog.mmioWrite(at(i), len, data[i]!));
    prog.mmioWrite(MARK, 8, 1);
    prog.mmioWrite(at(3), 4, data[2]!); // the len-8 handler's address, length 4
    prog.mmioWrite(at(2), 4, 0x1234); // the len-4 handler, another value
    prog.spin();
    const b = await bootProgram(prog);
    const fds: number[] = [];
    for (const [i, len] of lens.entries()) fds.push(await ioeventfd(b.emu, b.vm, at(i), len, data[i]!));
    const v = b.vcpus[0]!;
    await expectWrite(v, MARK, 1n);
    expect(fds.map((fd) => counter(b.emu, fd))).toEqual([1n, 1n, 1n, 1n]);
    await expectWrite(v, at(3), data[2]!, 4);
    await expectWrite(v, at(2), 0x1234n, 4);
    expect(fds.map((fd) => counter(b.emu, fd))).toEqual([1n, 1n, 1n, 1n]);
    await expectCleanShutdown(b.emu);
  });

  it('EEXIST for an equal handler (§8.14 ordering); DATAMATCH handlers with other values coexist', async () => {
    const prog = guestProgram().mmioWrite(IOE, 8, 1).mmioWrite(IOE, 8, 2).mmioWrite(IOE, 8, 3).mmioWrite(MARK, 8, 1).spin();
    const b = await bootProgram(prog);
    const fd1 = await ioeventfd(b.emu, b.vm, IOE, 8, 1n);
    const fd2 = await ioeventfd(b.emu, b.vm, IOE, 8, 2n);
    const other = b.emu.host.eventfd();
    // The same value again; a handler without DATAMATCH at the address (len 0 matches any len).
    await expect(b.vm.addIoeventfd({ addr: IOE, len: 8, fd: other, datamatch: 1n })).rejects.toEqual(errno('EEXIST'));
    await expect(b.vm.addIoeventfd({ addr: IOE, len: 8, fd: other })).rejects.toEqual(errno('EEXIST'));
    await expect(b.vm.addIoeventfd({ addr: IOE, len: 0, fd: other })).rejects.toEqual(errno('EEXIST'));
    // Another length with the same value is not equal.
    const fd3 = await ioeventfd(b.emu, b.vm, IOE, 4, 3n);
    const v = b.vcpus[0]!;
    await expectWrite(v, IOE, 3n); // len 8 value 3: no len-8 handler has 3
    await expectWrite(v, MARK, 1n);
    expect([counter(b.emu, fd1), counter(b.emu, fd2), counter(b.emu, fd3)]).toEqual([1n, 1n, 0n]);
    await expectCleanShutdown(b.emu);
  });

  it('EEXIST: a DATAMATCH handler where an any-length one is installed', async () => {
    const b = await bootProgram(guestProgram().mmioWrite(IOE, 2, 9).mmioWrite(MARK, 8, 1).spin());
    const fd = await ioeventfd(b.emu, b.vm, IOE, 0);
    await expect(b.vm.addIoeventfd({ addr: IOE, len: 2, fd: b.emu.host.eventfd(), datamatch: 9n })).rejects.toEqual(errno('EEXIST'));
    await expect(b.vm.addIoeventfd({ addr: IOE, len: 0, fd: b.emu.host.eventfd() })).rejects.toEqual(errno('EEXIST'));
    await expectWrite(b.vcpus[0]!, MARK, 1n);
    expect(counter(b.emu, fd)).toBe(1n);
    await expectCleanShutdown(b.emu);
  });

  it('removal by address repeats addr, len, flags (and datamatch): the handler goes and writes exit again; crosvm-style addr-only is ENOENT (Q18)', async () => {
    const prog = guestProgram()
      .mmioWrite(IOE, 8, 7)
      .mmioWrite(IOE + 8n, 4, 1)
      .mmioWrite(MARK, 8, 1)
      .mmioWrite(IOE, 8, 7)
      .mmioWrite(IOE + 8n, 4, 1)
      .spin();
    const b = await bootProgram(prog);
    const fdA = await ioeventfd(b.emu, b.vm, IOE, 8, 7n);
    const fdB = b.emu.host.eventfd();
    expect(await b.vm.addIoeventfd({ addr: IOE + 8n, len: 4, fd: fdB })).toBe(0); // no DATAMATCH: handler len 0
    const v = b.vcpus[0]!;
    await expectWrite(v, MARK, 1n);
    expect([counter(b.emu, fdA), counter(b.emu, fdB)]).toEqual([1n, 1n]);
    // crosvm removes with only addr set: no match for v17 (len and flags differ).
    await expect(b.vm.removeIoeventfd({ addr: IOE, len: 0, fd: 0 })).rejects.toEqual(errno('ENOENT'));
    await expect(b.vm.removeIoeventfd({ addr: IOE, len: 8, fd: 0, datamatch: 8n })).rejects.toEqual(errno('ENOENT'));
    await expect(b.vm.removeIoeventfd({ addr: IOE + 8n, len: 0, fd: 0 })).rejects.toEqual(errno('ENOENT'));
    expect(await b.vm.removeIoeventfd({ addr: IOE, len: 8, fd: 0, datamatch: 7n })).toBe(0);
    expect(await b.vm.removeIoeventfd({ addr: IOE + 8n, len: 4, fd: 0 })).toBe(0);
    await expect(b.vm.removeIoeventfd({ addr: IOE, len: 8, fd: 0, datamatch: 7n })).rejects.toEqual(errno('ENOENT'));
    await expectWrite(v, IOE, 7n);
    await expectWrite(v, IOE + 8n, 1n, 4);
    expect([counter(b.emu, fdA), counter(b.emu, fdB)]).toEqual([1n, 1n]);
    await expectCleanShutdown(b.emu);
  });
});
