/**
 * Test support for the host bridge: a daemon on a temporary Unix socket serving a fresh
 * emulator, the holding-cell boot of vmm-flows.md §2 run through any HostLike (the bridge
 * client here), and the end-of-test check that nothing is left behind.
 */
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expect } from 'vitest';
import { createEmulator, type Emulator, type EmulatorOptions } from '../../src/emulator.js';
import { listenBridge, type BridgeServer } from '../../src/bridge/bridge-server.js';
import { connectBridge, type BridgeClient } from '../../src/bridge/bridge-client.js';
import { GunyahDevice, buildVmDtb, type GuestMemFd, type VcpuFd, type VmDtbDoorbell, type VmFd } from '../../src/vmm/index.js';
import type { HostLike } from '../../src/vmm/host-like.js';
import { holdingCellImage } from '../../src/guest/index.js';
import { GUNYAH_MEM_ALLOW_RWX, GUNYAH_MEM_FORCE_LEND } from '../../src/vm-mgr/uapi/index.js';

export const GUEST_BASE = 0x8000_0000n;
export const PAGE = 4096;

export interface Daemon {
  readonly emu: Emulator;
  readonly server: BridgeServer;
  readonly path: string;
  readonly dir: string;
  connect(opts?: { pid?: number }): Promise<BridgeClient>;
}

export async function startDaemon(o: EmulatorOptions = {}): Promise<Daemon> {
  const dir = mkdtempSync(join(tmpdir(), 'gh-bridge-test-'));
  const path = join(dir, 'bridge.sock');
  const emu = createEmulator(o);
  const server = await listenBridge(emu, { path, shmDir: dir });
  return { emu, server, path, dir, connect: (opts) => connectBridge(path, opts) };
}

export interface BridgeBoot {
  readonly dev: GunyahDevice;
  readonly vm: VmFd;
  readonly mem: GuestMemFd;
  readonly vcpus: VcpuFd[];
  readonly dtbStart: bigint;
  readonly image: Uint8Array;
}

const pageAlign = (n: number): number => Math.ceil(n / PAGE) * PAGE;

/** Steps 1–12 of vmm-flows.md §2 through `host`; START left out with `noStart`. */
export async function bootVia(
  host: HostLike,
  o: { vcpus?: number; image?: Uint8Array; extraPages?: number; noStart?: boolean; doorbells?: readonly VmDtbDoorbell[] } = {},
): Promise<BridgeBoot> {
  const n = o.vcpus ?? 1;
  const image = o.image ?? holdingCellImage();
  const dev = GunyahDevice.open(host);
  const vm = await dev.createVm();
  const binSize = pageAlign(image.length);
  const size = binSize + (1 + n + (o.extraPages ?? 0)) * PAGE;
  const mem = await dev.createGuestMem(size);
  await vm.mapMem({ guestAddr: GUEST_BASE, flags: GUNYAH_MEM_FORCE_LEND | GUNYAH_MEM_ALLOW_RWX, mem, size: BigInt(size) });
  const vcpus: VcpuFd[] = [];
  for (let id = 0; id < n; id++) vcpus.push(await vm.addVcpu(id));
  const dtbStart = GUEST_BASE + BigInt(binSize);
  const dtb = buildVmDtb({ vcpus: n, memory: [{ base: GUEST_BASE, size: BigInt(size) }], doorbells: o.doorbells ?? [] });
  await mem.writeAt(binSize, dtb);
  await vm.setDtbConfig(dtbStart, BigInt(pageAlign(dtb.length)));
  await mem.writeAt(0, image);
  await vm.setBootContext(0x100, GUEST_BASE);
  await vm.setBootContext(0x201, dtbStart + 8192n);
  if (!o.noStart) await vm.start();
  return { dev, vm, mem, vcpus, dtbStart, image };
}

/** Wait until `f()` holds (the daemon tears a client down asynchronously). */
export async function eventually(f: () => boolean | Promise<boolean>, ms = 3000): Promise<void> {
  const end = Date.now() + ms;
  while (!(await f())) {
    if (Date.now() > end) throw new Error('condition not reached in time');
    await new Promise((r) => setTimeout(r, 5));
  }
}

/** No VM, no parcel, memory back with the host, invariants clean, no backing file left. */
export async function expectNothingLeft(d: Daemon): Promise<void> {
  await d.server.settled();
  const rm = await d.emu.rm.control.inspect();
  expect(rm.vms.map((v) => v.vmid).filter((v) => v !== 3)).toEqual([]);
  expect(rm.parcels).toEqual([]);
  expect([...d.emu.hyp.memory.ownership().keys()]).toEqual([3]);
  expect(d.emu.checkInvariants()).toEqual([]);
  expect(d.emu.kernel.liveVms).toBe(0);
  expect(readdirSync(d.server.shmDir)).toEqual([]);
}

/** Disconnect every client, check nothing is left, stop the daemon and the emulator. */
export async function finish(d: Daemon, clients: readonly BridgeClient[]): Promise<void> {
  for (const c of clients) await c.disconnect();
  await eventually(() => d.server.connectionCount === 0);
  await expectNothingLeft(d);
  await d.server.close();
  d.emu.close();
  rmSync(d.dir, { recursive: true, force: true });
}
