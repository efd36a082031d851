/**
 * MMAP_ANON (host bridge protocol version 2, docs/host-bridge-protocol.md "MMAP_ANON"): anonymous
 * shared user memory of the client's emulated process, with a backing file of its own, synced at
 * request boundaries and reported with ACCESS_REVOKED / RESTORED. Through the TypeScript client:
 * the record's answers and refusals on any daemon, then a gh_ VM whose RAM is such a mapping
 * (README.md §Dialects: SET_USER_MEM_REGION shares user memory, LEND_USER_MEM lends it; a lent
 * page is SIGBUS for the host, vmm-flows.md Q12), and malformed records.
 */
import { existsSync, readFileSync, readdirSync, statSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { BridgeError, connectBridge, type BridgeAnonMapping, type BridgeClient } from '../../src/bridge/bridge-client.js';
import * as net from 'node:net';
import { RecordReader, decodeRecord, encodeHello, encodeRecord, type BridgeRecord } from '../../src/bridge/bridge-wire.js';
import type { EmulatorOptions } from '../../src/emulator.js';
import { HoldingCellCmd, holdingCellImage } from '../../src/guest/index.js';
import { SigbusError } from '../../src/shared/sigbus-error.js';
import { GunyahDevice, buildVmDtb, ioctlWith, type VcpuFd, type VmFd } from '../../src/vmm/index.js';
import { holdingCellCommand, runToMmio } from '../vm-mgr/support/holding-cell-driver.js';
import { GUEST_BASE, PAGE, eventually, finish, startDaemon, type Daemon } from './support.js';

const GH_OPTIONS: EmulatorOptions = { dialect: 'gh' };
/** README.md §Dialects. */
const GH_VM_SET_USER_MEM_REGION = 0x4020_4701;
const GH_VM_ANDROID_LEND_USER_MEM = 0x4020_4111;
const GH_MEM_RWX = 0x7;

function le64(v: bigint): Uint8Array {
  const b = new Uint8Array(8);
  new DataView(b.buffer).setBigUint64(0, v, true);
  return b;
}
function u64(b: Uint8Array, at = 0): bigint {
  return new DataView(b.buffer, b.byteOffset, b.byteLength).getBigUint64(at, true);
}

/** The 32-byte gh_userspace_memory_region, typed from README.md §Dialects. */
function region(label: number, flags: number, gpa: bigint, size: bigint, uaddr: bigint): Uint8Array {
  const b = new Uint8Array(32);
  const dv = new DataView(b.buffer);
  dv.setUint32(0, label, true);
  dv.setUint32(4, flags, true);
  dv.setBigUint64(8, gpa, true);
  dv.setBigUint64(16, size, true);
  dv.setBigUint64(24, uaddr, true);
  return b;
}

/** A bare version-2 v17 connection: records in, records out, no client logic. */
async function rawSession(path: string): Promise<{ send(r: BridgeRecord): void; next(): Promise<BridgeRecord>; close(): void }> {
  const sock = net.createConnection({ path });
  await new Promise<void>((resolve) => sock.once('connect', () => resolve()));
  const reader = new RecordReader();
  const got: BridgeRecord[] = [];
  let wake: (() => void) | undefined;
  let welcome = 0;
  sock.on('data', (chunk: Buffer) => {
    let b = new Uint8Array(chunk);
    if (welcome < 16) {
      const take = Math.min(16 - welcome, b.length);
      welcome += take;
      b = b.subarray(take);
    }
    reader.push(b);
    for (let raw = reader.next(); raw !== undefined; raw = reader.next()) got.push(decodeRecord(raw));
    wake?.();
  });
  sock.write(encodeHello({ version: 2, dialect: 1, pid: 1 }));
  return {
    send: (r) => void sock.write(encodeRecord(r)),
    next: async () => {
      while (got.length === 0) await new Promise<void>((resolve) => (wake = resolve));
      return got.shift()!;
    },
    close: () => void sock.end(),
  };
}

describe('MMAP_ANON: the record on any daemon', () => {
  it('gives whole pages at an emulated address, with a backing file of that size in the daemon\'s directory; MUNMAP removes it', async () => {
    const d = await startDaemon();
    const c = await d.connect();
    const m = await c.mmapAnonymous(PAGE + 1);
    expect(m.length).toBe(2 * PAGE);
    expect(m.addr % BigInt(PAGE)).toBe(0n);
    expect(m.path.startsWith(`${d.server.shmDir}/`)).toBe(true);
    expect(statSync(m.path).size).toBe(2 * PAGE);
    expect(readFileSync(m.path)).toEqual(Buffer.alloc(2 * PAGE)); // zero-filled, as mmap gives it
    m.write(PAGE, le64(0x1122n));
    expect(u64(m.read(PAGE, 8))).toBe(0x1122n);
    const n = await c.mmapAnonymous(PAGE);
    expect(n.addr).not.toBe(m.addr);
    expect(n.path).not.toBe(m.path);
    await m.unmap();
    expect(existsSync(m.path)).toBe(false);
    expect(existsSync(n.path)).toBe(true);
    expect(() => m.read(0, 1)).toThrow(expect.objectContaining({ code: 'EFAULT' }));
    await finish(d, [c]); // n is still mapped: the client's teardown removes its file
  });

  it('length 0 is EINVAL and over 4 GiB is ENOMEM; the connection stays up', async () => {
    const d = await startDaemon();
    const c = await d.connect();
    await expect(c.mmapAnonymous(0)).rejects.toMatchObject({ code: 'EINVAL' });
    await expect(c.mmapAnonymous(4n * 2n ** 30n + 1n)).rejects.toMatchObject({ code: 'ENOMEM' });
    const m = await c.mmapAnonymous(PAGE);
    expect(m.length).toBe(PAGE);
    expect(readdirSync(d.server.shmDir)).toHaveLength(1);
    await finish(d, [c]);
  });

  it('raw records: MMAP_ANON_R carries id, kind 3, length, address and path; MUNMAP of the id twice is EINVAL the second time', async () => {
    const d = await startDaemon();
    const s = await rawSession(d.path);
    s.send({ type: 'MMAP_ANON', tag: 5, length: 0x1800n, prot: 3 });
    const r = await s.next();
    expect(r).toMatchObject({ type: 'MMAP_ANON_R', tag: 5, errno: 0, kind: 3, length: 0x2000n });
    if (r.type !== 'MMAP_ANON_R') throw new Error('unreachable');
    expect(r.id).toBeGreaterThan(0);
    expect(r.addr).toBeGreaterThan(0n);
    expect(statSync(r.path).size).toBe(0x2000);
    s.send({ type: 'MUNMAP', tag: 6, id: r.id });
    expect(await s.next()).toEqual({ type: 'MUNMAP_R', tag: 6, errno: 0 });
    expect(existsSync(r.path)).toBe(false);
    s.send({ type: 'MUNMAP', tag: 7, id: r.id });
    expect(await s.next()).toEqual({ type: 'MUNMAP_R', tag: 7, errno: 22 });
    s.send({ type: 'MMAP_ANON', tag: 8, length: 0n, prot: 3 });
    expect(await s.next()).toEqual({ type: 'MMAP_ANON_R', tag: 8, errno: 22, id: 0, kind: 0, length: 0n, addr: 0n, path: '' });
    s.close();
    await eventually(() => d.server.connectionCount === 0);
    await finish(d, []);
  });

  it('a client killed with anonymous mappings live leaves no backing file', async () => {
    const d = await startDaemon();
    const c = await d.connect();
    await c.mmapAnonymous(3 * PAGE);
    await c.mmapAnonymous(PAGE);
    expect(readdirSync(d.server.shmDir)).toHaveLength(2);
    c.destroy();
    await eventually(() => d.server.connectionCount === 0);
    await finish(d, []);
  });
});

describe('MMAP_ANON: malformed and out-of-version records', () => {
  async function expectClosedWith(c: BridgeClient, message: RegExp): Promise<void> {
    await eventually(() => c.closed);
    expect(c.lastError).toMatch(message);
  }

  it('on a version-1 connection MMAP_ANON is an unknown record: ERROR, close', async () => {
    const d = await startDaemon();
    const c = await connectBridge(d.path, { version: 1 });
    await expect(c.mmapAnonymous(PAGE)).rejects.toBeInstanceOf(BridgeError);
    await expectClosedWith(c, /^malformed record: bad-type: MMAP_ANON needs protocol version 2 \(this connection speaks 1\)/);
    await finish(d, []);
  });

  it.each([
    // len 24: MMAP_ANON tag 1, length 0x1000, prot 3, rsvd 1.
    ['a non-zero reserved word', '18 00 00 00  0d  00 00 00  01 00 00 00  00 10 00 00 00 00 00 00  03 00 00 00  01 00 00 00', /^malformed record: reserved: mmap_anon rsvd at byte 24/],
    ['a short body', '14 00 00 00  0d  00 00 00  01 00 00 00  00 10 00 00 00 00 00 00  03 00 00 00', /^malformed record: short: mmap_anon rsvd/],
    ['trailing bytes', '19 00 00 00  0d  00 00 00  01 00 00 00  00 10 00 00 00 00 00 00  03 00 00 00  00 00 00 00  00', /^malformed record: long: 1 bytes after MMAP_ANON/],
    ['its reply type sent by a client', '28 00 00 00  8d  00 00 00  01 00 00 00  00 00 00 00  01 00 00 00  03 00 00 00  00 10 00 00 00 00 00 00  00 00 01 00 00 00 00 00  00 00 00 00', /^malformed record: bad-type: MMAP_ANON_R record sent by a client/],
  ])('%s: ERROR, close; the daemon keeps serving', async (_, hex, message) => {
    const d = await startDaemon();
    const c = await d.connect();
    await c.mmapAnonymous(PAGE);
    c.writeRaw(Uint8Array.from(hex.replace(/\s+/g, '').match(/../g)!.map((x) => parseInt(x, 16))));
    await expectClosedWith(c, message);
    await eventually(() => d.server.connectionCount === 0);
    const ok = await d.connect();
    expect((await ok.mmapAnonymous(PAGE)).length).toBe(PAGE);
    await finish(d, [ok]);
  });
});

/** A gh_ holding-cell VM whose RAM is one anonymous mapping of the client (vmm-flows.md §3). */
async function bootGh(
  d: Daemon,
  how: 'share' | 'lend',
  onAccess?: BridgeClient['onAccess'],
): Promise<{ c: BridgeClient; vm: VmFd; vcpu: VcpuFd; ram: BridgeAnonMapping; size: number }> {
  const c = await connectBridge(d.path, { dialect: 'gh' });
  c.onAccess = onAccess;
  const dev = GunyahDevice.open(c);
  const vm = await dev.createVm();
  const size = 4 * PAGE;
  const ram = await c.mmapAnonymous(size);
  ram.write(0, holdingCellImage());
  await ioctlWith(c, vm.fd, how === 'share' ? GH_VM_SET_USER_MEM_REGION : GH_VM_ANDROID_LEND_USER_MEM, region(0, GH_MEM_RWX, GUEST_BASE, BigInt(size), ram.addr));
  const vcpu = await vm.addVcpu(0);
  ram.write(PAGE, buildVmDtb({ vcpus: 1, memory: [{ base: GUEST_BASE, size: BigInt(size) }], doorbells: [] }));
  await vm.setDtbConfig(GUEST_BASE + BigInt(PAGE), BigInt(PAGE));
  await vm.start();
  return { c, vm, vcpu, ram, size };
}

describe('MMAP_ANON as gh_ guest RAM', () => {
  it('shared: the guest runs the image the client wrote; values cross both ways at request boundaries', async () => {
    const d = await startDaemon(GH_OPTIONS);
    const { c, vcpu, ram, size } = await bootGh(d, 'share');
    expect(await runToMmio(vcpu)).toMatchObject({ physAddr: 0x6000n, isWrite: false, len: 8 });
    // read_addr of the RAM base: the image's first 8 bytes ("GEMUHOLD", docs/guest-images.md).
    vcpu.setMmioData(BigInt(HoldingCellCmd.READ_ADDR) | (1n << 8n));
    expect(await runToMmio(vcpu)).toMatchObject({ physAddr: 0x6000n, isWrite: false });
    vcpu.setMmioData(GUEST_BASE);
    expect((await runToMmio(vcpu)).data).toBe(0x444c_4f48_554d_4547n);
    const spare = size - PAGE;
    ram.write(spare, le64(0xabcd_0123n));
    expect(await holdingCellCommand(vcpu, HoldingCellCmd.READ_ADDR, [GUEST_BASE + BigInt(spare)])).toBe(0xabcd_0123n);
    expect(await holdingCellCommand(vcpu, HoldingCellCmd.WRITE_ADDR, [GUEST_BASE + BigInt(spare + 8), 0x5566n])).toBe(0n);
    expect(u64(ram.read(spare + 8, 8))).toBe(0x5566n);
    expect(u64(readFileSync(ram.path), spare + 8)).toBe(0x5566n); // it is the file the shim maps
    await finish(d, [c]);
  });

  it('lent: ACCESS_REVOKED for every page at START, a client touch is a SigbusError; the VM\'s end gives them back (RESTORED)', async () => {
    const d = await startDaemon(GH_OPTIONS);
    const notices: string[] = [];
    const { c, vm, vcpu, ram, size } = await bootGh(d, 'lend', (n) => notices.push(`${n.type} ${n.ranges.map((r) => `${r.offset}+${r.length}`).join(',')}`));
    expect(notices).toEqual([`ACCESS_REVOKED 0+${size}`]);
    expect(() => ram.read(0, 8)).toThrow(SigbusError);
    expect(() => ram.write(size - 8, le64(1n))).toThrow(SigbusError);
    expect(await holdingCellCommand(vcpu, HoldingCellCmd.LOOPBACK, [0x42n])).toBe(0x42n);
    expect(readdirSync(d.server.shmDir)).toHaveLength(1);
    await vm.removeVcpu(0);
    await vcpu.close();
    await vm.close();
    await eventually(() => d.emu.kernel.liveVms === 0);
    expect(notices).toEqual([`ACCESS_REVOKED 0+${size}`, `ACCESS_RESTORED 0+${size}`]);
    expect(ram.read(0, 8)).toHaveLength(8); // the host's memory again
    await ram.unmap();
    await finish(d, [c]);
  });
});
