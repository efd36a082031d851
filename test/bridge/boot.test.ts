/**
 * The host bridge end to end: a holding-cell VM booted through the bridge client with the typed
 * layer (vmm-flows.md §2, §6), guest memory shared through the daemon's backing file (the sync
 * rule of docs/host-bridge-protocol.md), irqfd and ioeventfd through EVENTFD_REGISTER / SIGNAL /
 * FIRE (uapi.md §8.13, §8.14), ACCESS_REVOKED for lent pages (uapi.md §6.4).
 */
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { HoldingCellCmd, guestProgram, holdingCellWord } from '../../src/guest/index.js';
import { GUNYAH_MEM_ALLOW_RWX, GUNYAH_MEM_FORCE_SHARE } from '../../src/vm-mgr/uapi/index.js';
import { SigbusError } from '../../src/shared/sigbus-error.js';
import { CMD_REG, holdingCellCommand, runToMmio } from '../vm-mgr/support/holding-cell-driver.js';
import { PAGE, bootVia, finish, startDaemon } from './support.js';

const SHARE_BASE = 0xb000_0000n;
const LABEL = 0x2a;
const LINE = 10;
const INTID = 32 + LINE;
const MARK = 0x6000n;
const IOE = 0x6_0000n;

function le64(v: bigint): Uint8Array {
  const b = new Uint8Array(8);
  new DataView(b.buffer).setBigUint64(0, v, true);
  return b;
}
function u64(b: Uint8Array, at = 0): bigint {
  return new DataView(b.buffer, b.byteOffset, b.byteLength).getBigUint64(at, true);
}

describe('holding-cell VM through the bridge', () => {
  it('boots with the typed layer, reaches the 0x6000 MMIO exit and runs commands', async () => {
    const d = await startDaemon();
    const c = await d.connect();
    const b = await bootVia(c);
    const v = b.vcpus[0]!;
    const m = await runToMmio(v);
    expect(m).toMatchObject({ physAddr: CMD_REG, isWrite: false, len: 8 });
    v.setMmioData(holdingCellWord(HoldingCellCmd.LOOPBACK, 1));
    const a = await runToMmio(v);
    expect(a).toMatchObject({ physAddr: CMD_REG, isWrite: false });
    v.setMmioData(0x1234_5678n);
    expect(await runToMmio(v)).toMatchObject({ physAddr: CMD_REG, isWrite: true, len: 8, data: 0x1234_5678n });
    expect(await holdingCellCommand(v, HoldingCellCmd.LOOPBACK, [0xabcdn])).toBe(0xabcdn);
    expect(await holdingCellCommand(v, HoldingCellCmd.OK)).toBe(0n);
    // The VM lives in the daemon's kernel, in the client's own process (not emu.host).
    expect(d.emu.kernel.liveVms).toBe(1);
    expect(d.emu.host.openFiles()).toEqual([]);
    await finish(d, [c]);
  });

  it('guest memory: the client writes the shared file and the guest reads it; the guest writes and the file shows it', async () => {
    const d = await startDaemon();
    const c = await d.connect();
    const b = await bootVia(c, { noStart: true });
    const shm = await b.dev.createGuestMem(2 * PAGE);
    await b.vm.mapMem({ guestAddr: SHARE_BASE, flags: GUNYAH_MEM_FORCE_SHARE | GUNYAH_MEM_ALLOW_RWX, mem: shm, size: BigInt(2 * PAGE) });
    await b.vm.start();
    const v = b.vcpus[0]!;
    const map = shm.mmap();
    map.write(0, le64(0xaaaa_bbbb_cccc_ddddn));
    expect(await holdingCellCommand(v, HoldingCellCmd.READ_ADDR, [SHARE_BASE])).toBe(0xaaaa_bbbb_cccc_ddddn);
    expect(await holdingCellCommand(v, HoldingCellCmd.WRITE_ADDR, [SHARE_BASE + 8n, 0x0102_0304_0506_0708n])).toBe(0n);
    expect(u64(map.read(8, 8))).toBe(0x0102_0304_0506_0708n);
    map.write(0, le64(0x1234n));
    expect(await holdingCellCommand(v, HoldingCellCmd.READ_ADDR, [SHARE_BASE])).toBe(0x1234n);
    expect(await holdingCellCommand(v, HoldingCellCmd.WRITE_ADDR, [SHARE_BASE + BigInt(PAGE), 0x55n])).toBe(0n);
    expect(u64(map.read(PAGE, 8))).toBe(0x55n);
    // It is a real file in the daemon's directory: another reader sees the same bytes.
    const files = (await import('node:fs')).readdirSync(d.server.shmDir);
    expect(files).toHaveLength(2);
    const both = files.map((f) => readFileSync(`${d.server.shmDir}/${f}`)).find((x) => x.length === 2 * PAGE)!;
    expect(u64(both, 8)).toBe(0x0102_0304_0506_0708n);
    expect(u64(both, PAGE)).toBe(0x55n);
    await map.unmap();
    await finish(d, [c]);
  });

  it('ACCESS_REVOKED: pages of a live mapping the guest owns after START; the client touch is a SIGBUS', async () => {
    const d = await startDaemon();
    const c = await d.connect();
    const b = await bootVia(c, { noStart: true, extraPages: 1 });
    const map = b.mem.mmap(); // the whole boot binding, untouched by the host
    const notices: unknown[] = [];
    c.onAccess = (n) => notices.push(n);
    await b.vm.start();
    const v = b.vcpus[0]!;
    // The guest takes the image page it runs from (and the others it touches).
    expect(await holdingCellCommand(v, HoldingCellCmd.OK)).toBe(0n);
    const e = (() => {
      try {
        map.read(0, 8);
      } catch (err) {
        return err;
      }
      return undefined;
    })();
    expect(e).toBeInstanceOf(SigbusError);
    expect((e as SigbusError).address).toBe(map.addr);
    // REVOKED notices (the DTB page is taken at START, the image page when the guest runs it).
    const pages = (type: string): Set<number> => {
      const out = new Set<number>();
      for (const n of notices as Array<{ type: string; ranges: Array<{ offset: bigint; length: bigint }> }>) {
        if (n.type !== type) continue;
        for (const r of n.ranges) for (let o = r.offset; o < r.offset + r.length; o += 4096n) out.add(Number(o / 4096n));
      }
      return out;
    };
    expect(notices.every((n) => (n as { type: string }).type === 'ACCESS_REVOKED')).toBe(true);
    expect(pages('ACCESS_REVOKED').has(0)).toBe(true);
    // The VM goes away while the mapping lives: its pages come back to the host (RESTORED).
    for (const vc of b.vcpus) await vc.close();
    await b.vm.close();
    await c.close(b.dev.fd);
    expect(notices.at(-1)).toMatchObject({ type: 'ACCESS_RESTORED' });
    expect(pages('ACCESS_RESTORED')).toEqual(pages('ACCESS_REVOKED'));
    expect(map.read(0, 4)).toEqual(b.image.subarray(0, 4));
    await map.unmap();
    await finish(d, [c]);
  });
});

describe('eventfds through the bridge', () => {
  it('irqfd: a write to the client eventfd becomes EVENTFD_SIGNAL and wakes the guest waiting for the SPI', async () => {
    const d = await startDaemon();
    const c = await d.connect();
    const prog = guestProgram().mmioWrite(MARK, 8, 1).wfi().expect(INTID).mmioWrite(MARK, 8, 2).spin();
    const b = await bootVia(c, { image: prog.build(), noStart: true, doorbells: [{ label: LABEL, line: LINE }] });
    const efd = c.eventfd();
    expect(await b.vm.addIrqfd(efd, LABEL)).toBe(0);
    await b.vm.start();
    const v = b.vcpus[0]!;
    expect(await runToMmio(v)).toMatchObject({ physAddr: MARK, isWrite: true, data: 1n });
    const run = v.run();
    const early = await Promise.race([run.then(() => 'ran'), new Promise((r) => setTimeout(() => r('pending'), 50))]);
    expect(early).toBe('pending'); // the guest sleeps in wfi
    expect(c.write(efd, le64(1n))).toBe(8);
    expect(await run).toMatchObject({ kind: 'mmio', mmio: { physAddr: MARK, isWrite: true, data: 2n } });
    await finish(d, [c]);
  });

  it('ioeventfd: a matching guest write fires EVENTFD_FIRE and the client eventfd becomes readable', async () => {
    const d = await startDaemon();
    const c = await d.connect();
    const b = await bootVia(c);
    const efd = c.eventfd();
    expect(await b.vm.addIoeventfd({ addr: IOE, len: 8, fd: efd, datamatch: 0xabcdn })).toBe(0);
    const v = b.vcpus[0]!;
    expect(await holdingCellCommand(v, HoldingCellCmd.WRITE_IO, [IOE, 0xabcdn])).toBe(0n);
    expect(u64(await c.read(efd, 8))).toBe(1n);
    expect(await b.vm.removeIoeventfd({ addr: IOE, len: 8, fd: efd, datamatch: 0xabcdn })).toBe(0);
    await c.close(efd);
    await finish(d, [c]);
  });
});
