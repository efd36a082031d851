/**
 * The host bridge daemon's connections (docs/host-bridge-protocol.md "Connection lifecycle",
 * "Teardown", "Errors and limits"): refused handshakes with their reason, malformed records
 * ending one connection while the daemon serves others, two clients at once as two processes,
 * a client that dies mid-run leaving no VM, fd or parcel, and the fd calls (OPEN, DUP, FCNTL).
 */
import * as net from 'node:net';
import { describe, expect, it } from 'vitest';
import { BridgeError, connectBridge } from '../../src/bridge/bridge-client.js';
import { encodeHello, encodeRecord } from '../../src/bridge/bridge-wire.js';
import { guestProgram, HoldingCellCmd } from '../../src/guest/index.js';
import { holdingCellCommand, runToMmio } from '../vm-mgr/support/holding-cell-driver.js';
import { bootVia, eventually, expectNothingLeft, finish, startDaemon } from './support.js';

/** Send raw bytes on a fresh connection; collect everything until the daemon closes. */
async function rawExchange(path: string, bytes: Uint8Array): Promise<Uint8Array> {
  const s = net.createConnection({ path });
  const chunks: Buffer[] = [];
  s.on('data', (c: Buffer) => chunks.push(c));
  await new Promise<void>((resolve) => s.once('connect', () => resolve()));
  s.write(bytes);
  await new Promise<void>((resolve) => s.once('close', () => resolve()));
  return new Uint8Array(Buffer.concat(chunks));
}

function reasonOf(welcome: Uint8Array): { status: number; reason: string } {
  const n = welcome[12]! | (welcome[13]! << 8);
  return { status: welcome[6]!, reason: new TextDecoder().decode(welcome.subarray(16, 16 + n)) };
}

describe('handshake', () => {
  it('bad magic: refused at the first wrong byte, with the reason', async () => {
    const d = await startDaemon();
    const got = await rawExchange(d.path, new TextEncoder().encode('GET / HTTP/1.1\r\n\r\n'));
    expect([...got.subarray(0, 4)]).toEqual([0x47, 0x48, 0x42, 0x52]);
    expect(reasonOf(got)).toEqual({ status: 1, reason: 'not a host bridge client (bad magic)' });
    await finish(d, []);
  });

  it('unsupported version: refused naming the versions spoken', async () => {
    const d = await startDaemon();
    for (const version of [0, 3]) {
      const got = await rawExchange(d.path, encodeHello({ version, dialect: 1, pid: 1 }));
      expect(reasonOf(got)).toEqual({ status: 1, reason: `protocol version ${version} not supported (this server speaks 1 to 2)` });
      expect(got[4]).toBe(2); // a refused WELCOME carries the newest version the daemon speaks
    }
    const c = await d.connect(); // the daemon still serves
    await finish(d, [c]);
  });

  it('a version-1 client is still served: WELCOME echoes version 1', async () => {
    const d = await startDaemon();
    const c = await connectBridge(d.path, { version: 1 });
    expect(c.version).toBe(1);
    const b = await bootVia(c);
    expect(await holdingCellCommand(b.vcpus[0]!, HoldingCellCmd.LOOPBACK, [3n])).toBe(3n);
    await finish(d, [c]);
  });

  it('dialect gh against a v17 daemon: refused with the reason; the client sees BridgeError refused', async () => {
    const d = await startDaemon();
    const e = await connectBridge(d.path, { dialect: 'gh' }).catch((x: unknown) => x);
    expect(e).toBeInstanceOf(BridgeError);
    expect(e).toMatchObject({ reason: 'refused', message: 'dialect gh is not served here (this server serves v17; start it with --dialect gh)' });
    expect(reasonOf(await rawExchange(d.path, encodeHello({ version: 2, dialect: 9, pid: 1 }))).reason).toBe('unknown dialect 9');
    await finish(d, []);
  });

  it('a gh_ daemon: a v17 client is refused, a gh client on version 1 is refused, a gh client on version 2 is accepted', async () => {
    const d = await startDaemon({ dialect: 'gh' });
    expect(d.server.dialect).toBe('gh');
    const e = await connectBridge(d.path).catch((x: unknown) => x);
    expect(e).toMatchObject({ reason: 'refused', message: 'dialect v17 is not served here (this server serves gh; start it with --dialect v17)' });
    const got = await rawExchange(d.path, encodeHello({ version: 1, dialect: 2, pid: 1 }));
    expect(reasonOf(got)).toEqual({ status: 1, reason: 'dialect gh needs protocol version 2 (the client speaks 1)' });
    const c = await connectBridge(d.path, { dialect: 'gh' });
    expect([c.version, c.dialect]).toEqual([2, 'gh']);
    await finish(d, [c]);
  });

  it('listenBridge refuses to serve a dialect its emulator does not speak', async () => {
    const { createEmulator } = await import('../../src/emulator.js');
    const { listenBridge } = await import('../../src/bridge/bridge-server.js');
    const emu = createEmulator({ dialect: 'gh' });
    await expect(listenBridge(emu, { path: '/nonexistent/never-bound.sock', dialect: 'v17' })).rejects.toThrow(
      new TypeError("the emulator's kernel speaks gh; a bridge on it cannot serve dialect v17"),
    );
    emu.close();
  });

  it('a reserved HELLO byte: refused as a malformed handshake', async () => {
    const d = await startDaemon();
    const h = encodeHello({ version: 1, dialect: 1, pid: 1 });
    h[7] = 1;
    expect(reasonOf(await rawExchange(d.path, h)).reason).toMatch(/^malformed handshake: reserved/);
    await finish(d, []);
  });
});

describe('fd calls', () => {
  it('OPEN of an unknown path is ENOENT on first use; DUP and FCNTL follow the fd table', async () => {
    const d = await startDaemon();
    const c = await d.connect();
    const bad = c.open('/dev/nothing');
    await expect(c.ioctl(bad, 0x4700, 0)).rejects.toMatchObject({ code: 'ENOENT' });
    const fd = c.open('/dev/gunyah', 0x80002);
    expect(await c.fcntl(fd, 1)).toBe(1); // F_GETFD: FD_CLOEXEC from O_CLOEXEC
    expect(await c.fcntl(fd, 3)).toBe(2); // F_GETFL: O_RDWR
    expect(await c.fcntl(fd, 2, 0)).toBe(0);
    expect(await c.fcntl(fd, 1)).toBe(0);
    await expect(c.fcntl(fd, 0)).rejects.toMatchObject({ code: 'EINVAL' }); // F_DUPFD is the shim's
    const fd2 = await c.dup(fd);
    const vm = await c.ioctl(fd2, 0x4700, 0); // GUNYAH_CREATE_VM through the dup
    expect(d.emu.kernel.liveVms).toBe(1);
    await c.close(fd);
    await c.close(fd2);
    await c.close(vm);
    await eventually(() => d.emu.kernel.liveVms === 0);
    await expect(c.close(fd)).rejects.toMatchObject({ code: 'EBADF' });
    await finish(d, [c]);
  });
});

describe('clients', () => {
  it('two clients at once are two processes: each boots its own VM and runs commands', async () => {
    const d = await startDaemon();
    const c1 = await d.connect({ pid: 101 });
    const c2 = await d.connect({ pid: 102 });
    const [b1, b2] = await Promise.all([bootVia(c1), bootVia(c2)]);
    expect(d.emu.kernel.liveVms).toBe(2);
    // The same fd numbers in both processes name different VMs.
    expect(await c1.remoteFd(b1.vm.fd)).toBe(await c2.remoteFd(b2.vm.fd));
    const [r1, r2] = await Promise.all([
      holdingCellCommand(b1.vcpus[0]!, HoldingCellCmd.LOOPBACK, [0x111n]),
      holdingCellCommand(b2.vcpus[0]!, HoldingCellCmd.LOOPBACK, [0x222n]),
    ]);
    expect([r1, r2]).toEqual([0x111n, 0x222n]);
    await c1.disconnect();
    await eventually(() => d.emu.kernel.liveVms === 1);
    expect(await holdingCellCommand(b2.vcpus[0]!, HoldingCellCmd.LOOPBACK, [0x333n])).toBe(0x333n);
    await finish(d, [c2]);
  });

  it('a client killed mid-run (a RUN sleeping in the kernel) leaves no VM, no fd, no parcel', async () => {
    const d = await startDaemon();
    const c = await d.connect();
    const prog = guestProgram().mmioWrite(0x6000n, 8, 1).wfi().spin();
    const b = await bootVia(c, { image: prog.build() });
    const v = b.vcpus[0]!;
    expect(await runToMmio(v)).toMatchObject({ physAddr: 0x6000n, isWrite: true });
    const run = v.run();
    run.catch(() => {});
    await new Promise((r) => setTimeout(r, 30));
    expect((await d.emu.rm.control.inspect()).vms.filter((x) => x.vmid !== 3)).toHaveLength(1);
    c.destroy(); // as a SIGKILL would
    await expect(run).rejects.toBeInstanceOf(BridgeError);
    await eventually(() => d.server.connectionCount === 0);
    await d.server.settled();
    await eventually(() => d.emu.kernel.liveVms === 0);
    await expectNothingLeft(d);
    await finish(d, []);
  });

  it('a malformed record: ERROR then close for that client; the daemon keeps serving the other', async () => {
    const d = await startDaemon();
    const good = await d.connect();
    const bad = await d.connect();
    const b = await bootVia(good);
    const bb = await bootVia(bad);
    bad.writeRaw(encodeRecord({ type: 'RUN_R', tag: 1, errno: 0, result: 0, page: new Uint8Array(0) })); // a reply type from a client
    await eventually(() => bad.closed);
    expect(bad.lastError).toMatch(/^malformed record: bad-type: RUN_R record sent by a client/);
    await expect(bb.vcpus[0]!.run()).rejects.toBeInstanceOf(BridgeError);
    await eventually(() => d.emu.kernel.liveVms === 1);
    // Garbage length from a third client.
    const third = await d.connect();
    third.writeRaw(Uint8Array.of(0xff, 0xff, 0xff, 0x7f));
    await eventually(() => third.closed);
    expect(third.lastError).toMatch(/^malformed record: too-big/);
    expect(await holdingCellCommand(b.vcpus[0]!, HoldingCellCmd.LOOPBACK, [7n])).toBe(7n);
    await finish(d, [good]);
  });

  it('random records (valid framing, arbitrary types and bodies): the daemon answers or closes, never falls over', async () => {
    const d = await startDaemon();
    let seed = 12345;
    const rnd = (n: number): number => {
      seed = (seed * 1103515245 + 12345) & 0x7fff_ffff;
      return seed % n;
    };
    for (let k = 0; k < 40; k++) {
      const c = await d.connect();
      for (let i = 0; i < 20 && !c.closed; i++) {
        const body = Uint8Array.from({ length: rnd(48) }, () => rnd(256));
        const type = [0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07, 0x08, 0x09, 0x0a, 0x0b, 0x0c, 0x0e, 0x40, 0x85, rnd(256)][rnd(16)]!;
        const rec = new Uint8Array(12 + body.length);
        const dv = new DataView(rec.buffer);
        dv.setUint32(0, 8 + body.length, true);
        rec[4] = type;
        dv.setUint32(8, 1000 + i, true);
        rec.set(body, 12);
        c.writeRaw(rec);
      }
      await new Promise((r) => setTimeout(r, 2));
      await c.disconnect();
    }
    await eventually(() => d.server.connectionCount === 0);
    const ok = await d.connect();
    const b = await bootVia(ok);
    expect(await holdingCellCommand(b.vcpus[0]!, HoldingCellCmd.LOOPBACK, [9n])).toBe(9n);
    await finish(d, [ok]);
  });
});
