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
import type { Logger } from '../../src/shared/log.js';
import { bootVia, type BootedVia } from '../vm-mgr/support/boot.js';

export { GUEST_BASE, PAGE } from '../vm-mgr/support/boot.js';

export interface Daemon {
  readonly emu: Emulator;
  readonly server: BridgeServer;
  readonly path: string;
  readonly dir: string;
  connect(opts?: { pid?: number; version?: number }): Promise<BridgeClient>;
}

/** A daemon on a fresh socket; `log` is the daemon's logger (default: silent). */
export async function startDaemon(o: EmulatorOptions = {}, log?: Logger): Promise<Daemon> {
  const dir = mkdtempSync(join(tmpdir(), 'gh-bridge-test-'));
  const path = join(dir, 'bridge.sock');
  const emu = createEmulator(o);
  const server = await listenBridge(emu, { path, shmDir: dir, ...(log ? { log } : {}) });
  return { emu, server, path, dir, connect: (opts) => connectBridge(path, opts) };
}

/** What a boot through the bridge sets up (test/vm-mgr/support/boot.ts `bootVia`). */
export type BridgeBoot = BootedVia;
export { bootVia };

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
