/**
 * The VMM's kick through the bridge (docs/host-bridge-protocol.md KICK, version 2): a VMM sets
 * `immediate_exit` in its run page while a RUN of that vCPU sleeps in the daemon (a guest in wfi),
 * as crosvm's and QEMU's signal handlers do (vmm-flows.md §7 "Kick another vCPU"); the RUN must
 * end with EINTR as in process (uapi.md §8.9), the flag stays set (the kernel never clears it),
 * and once the VMM clears it a RUN sleeps again until the guest's interrupt. Also: KICKs the
 * daemon cannot apply are dropped without harm, a version-1 connection has no KICK, and a KICK
 * of the wrong length is a malformed record.
 */
import { pino } from 'pino';
import { describe, expect, it } from 'vitest';
import { BridgeError } from '../../src/bridge/bridge-client.js';
import { encodeRecord } from '../../src/bridge/bridge-wire.js';
import { HoldingCellCmd, guestProgram } from '../../src/guest/index.js';
import { GUNYAH_VCPU_RUN } from '../../src/vm-mgr/uapi/ioctls.js';
import type { VcpuFd } from '../../src/vmm/index.js';
import { holdingCellCommand, runToMmio } from '../vm-mgr/support/holding-cell-driver.js';
import { bootVia, eventually, finish, startDaemon } from './support.js';

const LABEL = 0x2a;
const LINE = 10;
const INTID = 32 + LINE;
const MARK = 0x6000n;

function le64(v: bigint): Uint8Array {
  const b = new Uint8Array(8);
  new DataView(b.buffer).setBigUint64(0, v, true);
  return b;
}

/** 'pending' when `p` has not settled within `ms`. */
function settledWithin(p: Promise<unknown>, ms: number): Promise<'settled' | 'pending'> {
  return Promise.race([
    p.then(
      () => 'settled' as const,
      () => 'settled' as const,
    ),
    new Promise<'pending'>((r) => setTimeout(() => r('pending'), ms)),
  ]);
}

/** A daemon whose debug log is kept (the KICK lines). */
async function loggedDaemon(): Promise<{ d: Awaited<ReturnType<typeof startDaemon>>; kicks: () => Array<{ msg: string; fd: number; why?: string }> }> {
  const records: Array<{ msg: string; fd: number; why?: string }> = [];
  const log = pino({ level: 'debug' }, { write: (s: string) => void records.push(JSON.parse(s) as { msg: string; fd: number; why?: string }) });
  const d = await startDaemon({}, log);
  return { d, kicks: () => records.filter((r) => r.msg.startsWith('KICK')).map(({ msg, fd, why }) => ({ msg, fd, ...(why ? { why } : {}) })) };
}

/** Boot a guest that stores 1 at 0x6000, sleeps in wfi until the doorbell's SPI, stores 2; run it to the first store. */
async function bootWfiGuest(c: Parameters<typeof bootVia>[0]): Promise<{ v: VcpuFd; efd: number; b: Awaited<ReturnType<typeof bootVia>> }> {
  const prog = guestProgram().mmioWrite(MARK, 8, 1).wfi().expect(INTID).mmioWrite(MARK, 8, 2).spin();
  const b = await bootVia(c, { image: prog.build(), noStart: true, doorbells: [{ label: LABEL, line: LINE }] });
  const efd = c.eventfd();
  expect(await b.vm.addIrqfd(efd, LABEL)).toBe(0);
  await b.vm.start();
  const v = b.vcpus[0]!;
  expect(await runToMmio(v)).toMatchObject({ physAddr: MARK, isWrite: true, data: 1n });
  return { v, efd, b };
}

describe('kicking a vCPU whose RUN sleeps in the daemon', () => {
  it('immediate_exit set through the run-page mapping ends the sleeping RUN with EINTR; cleared, RUN sleeps again until the irqfd wakes it', async () => {
    const { d, kicks } = await loggedDaemon();
    const c = await d.connect();
    const { v, efd } = await bootWfiGuest(c);
    const run = v.run();
    expect(await settledWithin(run, 50)).toBe('pending'); // the guest sleeps in wfi
    v.setImmediateExit(true);
    v.setImmediateExit(true); // a second store while the same RUN is away: no second KICK
    expect(await settledWithin(run, 2000)).toBe('settled');
    await expect(run).rejects.toMatchObject({ code: 'EINTR' });
    expect(v.exit().immediateExit).toBe(1); // the kernel never clears it
    expect(kicks()).toEqual([{ msg: 'KICK: immediate_exit set in the run page', fd: await c.remoteFd(v.fd) }]);
    // The VMM clears the flag and runs again: the vCPU sleeps in wfi once more.
    v.setImmediateExit(false);
    const again = v.run();
    expect(await settledWithin(again, 50)).toBe('pending');
    expect(c.write(efd, le64(1n))).toBe(8);
    expect(await again).toMatchObject({ kind: 'mmio', mmio: { physAddr: MARK, isWrite: true, data: 2n } });
    expect(kicks()).toHaveLength(1);
    await finish(d, [c]);
  });

  it('a flag set before the RUN goes with its page: EINTR at once, no KICK', async () => {
    const { d, kicks } = await loggedDaemon();
    const c = await d.connect();
    const { v } = await bootWfiGuest(c);
    v.setImmediateExit(true);
    await expect(v.run()).rejects.toMatchObject({ code: 'EINTR' });
    expect(kicks()).toEqual([]);
    await finish(d, [c]);
  });

  it('KICKs the daemon cannot apply (fd not open, not a vCPU, no RUN in flight) are dropped; the connection goes on', async () => {
    const { d, kicks } = await loggedDaemon();
    const c = await d.connect();
    const b = await bootVia(c);
    const v = b.vcpus[0]!;
    expect(await holdingCellCommand(v, HoldingCellCmd.LOOPBACK, [1n])).toBe(1n);
    const vcpuRfd = await c.remoteFd(v.fd);
    const vmRfd = await c.remoteFd(b.vm.fd);
    c.writeRaw(encodeRecord({ type: 'KICK', tag: 0, fd: 99 }));
    c.writeRaw(encodeRecord({ type: 'KICK', tag: 0, fd: vmRfd }));
    c.writeRaw(encodeRecord({ type: 'KICK', tag: 7, fd: vcpuRfd })); // no RUN of it in flight; any tag
    await eventually(() => kicks().length === 3);
    expect(kicks()).toEqual([
      { msg: 'KICK dropped', fd: 99, why: 'fd not open' },
      { msg: 'KICK dropped', fd: vmRfd, why: 'not a vCPU fd' },
      { msg: 'KICK dropped', fd: vcpuRfd, why: 'no RUN in flight' },
    ]);
    // No reply came (the client would have closed on an unknown tag) and RUN goes on as before.
    expect(await holdingCellCommand(v, HoldingCellCmd.LOOPBACK, [2n])).toBe(2n);
    expect(c.closed).toBe(false);
    await finish(d, [c]);
  });

  it('a KICK for a vCPU whose run page the client has not mapped is dropped: the RUN sleeps on until its interrupt', async () => {
    const { d, kicks } = await loggedDaemon();
    const c = await d.connect();
    const { v, efd } = await bootWfiGuest(c);
    await v.page.unmap(); // no PRIVATE mapping left: RUN carries no page (n = 0)
    const run = c.ioctl(v.fd, GUNYAH_VCPU_RUN);
    expect(await settledWithin(run, 50)).toBe('pending');
    const rfd = await c.remoteFd(v.fd);
    c.writeRaw(encodeRecord({ type: 'KICK', tag: 0, fd: rfd }));
    await eventually(() => kicks().length === 1);
    expect(kicks()).toEqual([{ msg: 'KICK dropped', fd: rfd, why: 'run page not mapped' }]);
    expect(await settledWithin(run, 50)).toBe('pending');
    expect(c.write(efd, le64(1n))).toBe(8);
    expect(await run).toBe(0);
    await finish(d, [c]);
  });

  it('version 1 has no KICK: the sleeping RUN is not ended, and the flag set while it was away is still set when it returns', async () => {
    const { d, kicks } = await loggedDaemon();
    const c = await d.connect({ version: 1 });
    expect(c.version).toBe(1);
    const { v, efd } = await bootWfiGuest(c);
    const run = v.run();
    expect(await settledWithin(run, 50)).toBe('pending');
    v.setImmediateExit(true);
    expect(await settledWithin(run, 100)).toBe('pending');
    expect(c.write(efd, le64(1n))).toBe(8);
    expect(await run).toMatchObject({ kind: 'mmio', mmio: { physAddr: MARK, isWrite: true, data: 2n } });
    // The reply's page had immediate_exit 0 (the daemon never saw the flag); the VMM's flag stays.
    expect(v.exit().immediateExit).toBe(1);
    await expect(v.run()).rejects.toMatchObject({ code: 'EINTR' });
    expect(kicks()).toEqual([]);
    expect(c.closed).toBe(false);
    await finish(d, [c]);
  });
});

describe('malformed KICK records', () => {
  it.each([
    ['3-byte body', Uint8Array.of(0x0b, 0, 0, 0, 0x0e, 0, 0, 0, 0, 0, 0, 0, 5, 0, 0), /^malformed record: short/],
    ['5-byte body', Uint8Array.of(0x0d, 0, 0, 0, 0x0e, 0, 0, 0, 0, 0, 0, 0, 5, 0, 0, 0, 0), /^malformed record: long/],
    ['a KICK_R (0x8E) sent by a client', Uint8Array.of(0x0c, 0, 0, 0, 0x8e, 0, 0, 0, 0, 0, 0, 0, 5, 0, 0, 0), /^malformed record: bad-type/],
  ])('%s: ERROR, the connection closes; the daemon serves the next client', async (_what, bytes, error) => {
    const d = await startDaemon();
    const bad = await d.connect();
    bad.writeRaw(bytes);
    await eventually(() => bad.closed);
    expect(bad.lastError).toMatch(error);
    const good = await d.connect();
    const b = await bootVia(good);
    expect(await holdingCellCommand(b.vcpus[0]!, HoldingCellCmd.LOOPBACK, [5n])).toBe(5n);
    await finish(d, [good]);
  });

  it('a KICK on a version-1 connection is an unknown record: ERROR and close', async () => {
    const d = await startDaemon();
    const c = await d.connect({ version: 1 });
    c.writeRaw(encodeRecord({ type: 'KICK', tag: 0, fd: 3 }));
    await eventually(() => c.closed);
    expect(c.lastError).toBe('malformed record: bad-type: KICK needs protocol version 2 (this connection speaks 1) at byte 4');
    const fd = c.open('/dev/gunyah');
    await expect(c.ioctl(fd, 0x4700)).rejects.toBeInstanceOf(BridgeError);
    await finish(d, []);
  });
});
