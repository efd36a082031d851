/**
 * `gunyah-emu serve` (src/cli/serve-command.ts): the daemon the CLI starts serves the host
 * bridge protocol on the given socket, and stops cleanly (socket and backing directory gone).
 */
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { runServe } from '../../src/cli/serve-command.js';
import { connectBridge } from '../../src/bridge/bridge-client.js';
import { HoldingCellCmd } from '../../src/guest/index.js';
import { holdingCellCommand } from '../vm-mgr/support/holding-cell-driver.js';
import { bootVia } from './support.js';

describe('gunyah-emu serve', () => {
  it('listens, serves a holding-cell boot, and on stop removes socket and backing files', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'gh-serve-test-'));
    const socket = join(dir, 's.sock');
    let stop!: () => void;
    const stopped = new Promise<void>((r) => (stop = r));
    const lines: string[] = [];
    let listening!: () => void;
    const up = new Promise<void>((r) => (listening = r));
    const done = runServe({ socket, seed: 3, dialect: 'v17', shmDir: dir, logLevel: 'silent' }, stopped, (s) => {
      lines.push(s);
      listening();
    });
    await up;
    expect(lines[0]).toMatch(/^gunyah-emu host bridge \(protocol 2, dialect v17\) listening on .*s\.sock; backing files in /);
    const c = await connectBridge(socket);
    const b = await bootVia(c);
    expect(await holdingCellCommand(b.vcpus[0]!, HoldingCellCmd.LOOPBACK, [5n])).toBe(5n);
    stop(); // with the client still connected: it is ended and its VM torn down
    expect(await done).toBe(0);
    expect(existsSync(socket)).toBe(false);
    expect(c.lastError ?? 'server shutting down').toBe('server shutting down');
    rmSync(dir, { recursive: true, force: true });
  });

  it('--dialect gh: the emulator speaks gh_, and only gh clients are accepted', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'gh-serve-test-'));
    const socket = join(dir, 's.sock');
    let stop!: () => void;
    const stopped = new Promise<void>((r) => (stop = r));
    let listening!: (line: string) => void;
    const up = new Promise<string>((r) => (listening = r));
    const done = runServe({ socket, seed: 3, dialect: 'gh', shmDir: dir, logLevel: 'silent' }, stopped, (s) => listening(s));
    expect(await up).toMatch(/^gunyah-emu host bridge \(protocol 2, dialect gh\) listening on /);
    await expect(connectBridge(socket)).rejects.toMatchObject({ reason: 'refused', message: expect.stringContaining('dialect v17 is not served here') });
    const c = await connectBridge(socket, { dialect: 'gh' });
    // GH_CREATE_VM, then nr 0x8 (v17's CREATE_GUEST_MEM): ENOTTY in gh_ (README.md §Dialects).
    const dev = c.open('/dev/gunyah');
    const vm = await c.ioctl(dev, 0x4700, 0);
    expect(vm).toBeGreaterThan(dev);
    const args = c.malloc(64);
    await expect(c.ioctl(dev, 0x4040_4708, args)).rejects.toMatchObject({ code: 'ENOTTY' });
    stop();
    expect(await done).toBe(0);
    expect(existsSync(socket)).toBe(false);
    rmSync(dir, { recursive: true, force: true });
  });

  it('a busy socket path: exit code 1 with the reason', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'gh-serve-test-'));
    const socket = join(dir, 'not-a-socket');
    (await import('node:fs')).writeFileSync(socket, 'x');
    expect(await runServe({ socket, seed: 1, dialect: 'v17', shmDir: dir, logLevel: 'silent' }, Promise.resolve(), () => {})).toBe(1);
    rmSync(dir, { recursive: true, force: true });
  });
});
