/**
 * The C side of the host bridge: native/gunyah-preload.c loaded with LD_PRELOAD into the sample
 * VMM of examples/c/sample-vmm.c, which boots a holding-cell VM through the v17 UAPI
 * (vmm-flows.md §2, §6) against a daemon served in this process (docs/host-bridge-protocol.md),
 * and kicks a sleeping vCPU with a signal as crosvm and QEMU do (vmm-flows.md §7, uapi.md §8.9).
 * Skipped when no C compiler (`cc`) is installed.
 */
import { execFileSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { finish, startDaemon, type Daemon } from './support.js';
import { IRQ_LABEL, ROOT, haveCc, startVmm as startWith, writeDtb, writeIrqGuest, type NativeBuild, type VmmRun } from './native-support.js';

/** What `npm run build:native` makes (the first test builds it). */
const BUILD: NativeBuild = {
  preload: join(ROOT, 'native', 'build', 'libgunyah-emu-preload.so'),
  vmm: join(ROOT, 'examples', 'c', 'build', 'sample-vmm'),
};

const CC = haveCc();
if (!CC) console.warn('test/bridge/native.test.ts: skipped, no C compiler (cc) on PATH');

function startVmm(d: Daemon, args: string[]): VmmRun {
  return startWith(d, BUILD, args);
}

function runVmm(d: Daemon, args: string[]): VmmRun['done'] {
  return startVmm(d, args).done;
}

describe.skipIf(!CC)('sample VMM in C through the LD_PRELOAD shim', () => {
  it('builds with npm run build:native', () => {
    execFileSync('npm', ['run', '--silent', 'build:native'], { cwd: ROOT, stdio: 'pipe' });
  }, 60_000);

  it('boots the holding cell, answers OK / LOOPBACK / MAGIC, tears down; the daemon holds no VM after', async () => {
    const d = await startDaemon();
    const r = await runVmm(d, [writeDtb(d)]);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(r.stdout.split('\n')).toEqual([
      'started',
      'first exit: mmio read 0x6000 len 8',
      'ok -> 0',
      'loopback 0x12345678abcd -> 0x12345678abcd',
      'magic 0xdeadf00d -> 1',
      'magic 0x1 -> 0',
      'teardown ok',
      '',
    ]);
    expect(d.emu.kernel.liveVms).toBe(0);
    const rm = await d.emu.rm.control.inspect();
    expect(rm.vms.map((v) => v.vmid).filter((v) => v !== 3)).toEqual([]);
    await finish(d, []);
  }, 30_000);

  it('a DTB file over 64 KiB is refused by name, not cut short (exit 1 before /dev/gunyah is opened)', async () => {
    const d = await startDaemon();
    const big = join(d.dir, 'big.dtb');
    writeFileSync(big, Buffer.concat([readFileSync(writeDtb(d)), Buffer.alloc(65536)]));
    const r = await runVmm(d, [big]);
    expect(r.code).toBe(1);
    expect(r.stderr.startsWith(`sample-vmm: ${big} is larger than 65536 bytes (errno `)).toBe(true);
    expect(r.stdout).toBe('');
    await finish(d, []);
  }, 30_000);

  it('a lent page touched after START kills a forked child with a real SIGBUS', async () => {
    const d = await startDaemon();
    const r = await runVmm(d, [writeDtb(d), '--sigbus-child']);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(r.stdout).toContain('child touching a lent page: killed by signal 7 (SIGBUS)');
    expect(r.stdout).toContain('teardown ok');
    await finish(d, []);
  }, 30_000);

  it('ioeventfd: a matching guest write makes the VMM\'s real eventfd readable, with no exit', async () => {
    const d = await startDaemon();
    const r = await runVmm(d, [writeDtb(d), '--ioeventfd']);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(r.stdout).toContain('write_io 0x60000 0x77 -> 0\nioeventfd counter 1\n');
    expect(r.stdout).toContain('teardown ok');
    await finish(d, []);
  }, 30_000);

  it('irqfd: a write to the VMM\'s real eventfd from another thread wakes the guest sleeping in wfi', async () => {
    const d = await startDaemon();
    const { dtb, img } = writeIrqGuest(d);
    const r = await runVmm(d, [dtb, '--irqfd', img, String(IRQ_LABEL)]);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(r.stdout.split('\n')).toEqual([
      'started',
      'irqfd guest: store 1',
      'irqfd guest: store 2 after the eventfd write (the RUN slept >= 100 ms)',
      'teardown ok',
      '',
    ]);
    await finish(d, []);
  }, 30_000);

  it('kick: SIGUSR1 to the vCPU thread whose RUN sleeps in wfi sets immediate_exit; the RUN ends with EINTR, the VMM clears the flag and runs on', async () => {
    const d = await startDaemon();
    const { dtb, img } = writeIrqGuest(d);
    const r = await runVmm(d, [dtb, '--irqfd', img, String(IRQ_LABEL), '--kick']);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(r.stdout.split('\n')).toEqual([
      'started',
      'irqfd guest: store 1',
      // The RUN slept in the daemon until the kick (200 ms later), which ended it.
      'kick: RUN returned EINTR after >= 100 ms (immediate_exit 1)',
      // Flag cleared, RUN again: the vCPU sleeps in wfi once more until the doorbell rings.
      'irqfd guest: store 2 after the eventfd write (the RUN slept >= 100 ms)',
      'teardown ok',
      '',
    ]);
    await finish(d, []);
  }, 30_000);

  it('two VMM processes at once, each with its own VM', async () => {
    const d = await startDaemon();
    const dtb = writeDtb(d);
    const a = startVmm(d, [dtb, '--pause']);
    const b = startVmm(d, [dtb, '--pause']);
    await Promise.all([a.saw('paused'), b.saw('paused')]);
    expect(d.emu.kernel.liveVms).toBe(2);
    expect(d.server.connectionCount).toBe(2);
    a.child.kill('SIGKILL');
    b.child.kill('SIGKILL');
    const [ra, rb] = await Promise.all([a.done, b.done]);
    expect(ra.signal).toBe('SIGKILL');
    expect(rb.signal).toBe('SIGKILL');
    expect(ra.stdout).toContain('magic 0xdeadf00d -> 1');
    expect(rb.stdout).toContain('magic 0xdeadf00d -> 1');
    await finish(d, []);
  }, 30_000);

  it('a VMM killed mid-run (vCPU mapped, VM running) leaves no state in the daemon', async () => {
    const d = await startDaemon();
    const v = startVmm(d, [writeDtb(d), '--pause']);
    await v.saw('paused');
    expect(d.emu.kernel.liveVms).toBe(1);
    v.child.kill('SIGKILL');
    expect((await v.done).signal).toBe('SIGKILL');
    await finish(d, []); // no VM, no parcel, memory back with the host, no backing file
  }, 30_000);

  it('a VMM killed while its vCPU sleeps in GUNYAH_VCPU_RUN leaves no state in the daemon', async () => {
    const d = await startDaemon();
    const { dtb, img } = writeIrqGuest(d);
    const v = startVmm(d, [dtb, '--irqfd', img, String(IRQ_LABEL), '--no-ring']);
    await v.saw('sleeping');
    await new Promise((r) => setTimeout(r, 100)); // the RUN is in the kernel now
    expect(d.emu.kernel.liveVms).toBe(1);
    v.child.kill('SIGKILL');
    expect((await v.done).signal).toBe('SIGKILL');
    await finish(d, []);
  }, 30_000);
});
