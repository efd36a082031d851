/**
 * The C side of the host bridge: native/gunyah-preload.c loaded with LD_PRELOAD into the sample
 * VMM of examples/c/sample-vmm.c, which boots a holding-cell VM through the v17 UAPI
 * (vmm-flows.md §2, §6) against a daemon served in this process (docs/host-bridge-protocol.md).
 * Skipped when no C compiler (`cc`) is installed.
 */
import { execFileSync, spawn } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { buildVmDtb } from '../../src/vmm/index.js';
import { guestProgram } from '../../src/guest/index.js';
import { GUEST_BASE, PAGE, finish, startDaemon, type Daemon } from './support.js';

const ROOT = join(import.meta.dirname, '..', '..');
const PRELOAD = join(ROOT, 'native', 'build', 'libgunyah-emu-preload.so');
const VMM = join(ROOT, 'examples', 'c', 'build', 'sample-vmm');

function haveCc(): boolean {
  try {
    execFileSync('cc', ['--version'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}
const CC = haveCc();
if (!CC) console.warn('test/bridge/native.test.ts: skipped, no C compiler (cc) on PATH');

/** The sample VMM's DTB: one vCPU, 4 pages at 0x8000_0000 (image, DTB, stack, spare). */
function writeDtb(d: Daemon): string {
  const p = join(d.dir, 'vm.dtb');
  writeFileSync(p, buildVmDtb({ vcpus: 1, memory: [{ base: GUEST_BASE, size: BigInt(4 * PAGE) }], doorbells: [] }));
  return p;
}

interface VmmRun {
  readonly child: ReturnType<typeof spawn>;
  readonly done: Promise<{ code: number | null; signal: string | null; stdout: string; stderr: string }>;
  /** Resolves once stdout contains `text`. */
  saw(text: string): Promise<void>;
}

function startVmm(d: Daemon, args: string[]): VmmRun {
  const child = spawn(VMM, args, { env: { ...process.env, LD_PRELOAD: PRELOAD, GUNYAH_EMU_SOCKET: d.path }, stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  const watchers: Array<{ text: string; resolve(): void }> = [];
  child.stdout.on('data', (b: Buffer) => {
    stdout += b.toString();
    for (const w of watchers) if (stdout.includes(w.text)) w.resolve();
  });
  child.stderr.on('data', (b: Buffer) => (stderr += b.toString()));
  const timer = setTimeout(() => child.kill('SIGKILL'), 20_000);
  const done = new Promise<{ code: number | null; signal: string | null; stdout: string; stderr: string }>((resolve, reject) => {
    child.on('error', reject);
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      resolve({ code, signal, stdout, stderr });
    });
  });
  return {
    child,
    done,
    saw: (text) =>
      new Promise<void>((resolve, reject) => {
        if (stdout.includes(text)) return resolve();
        watchers.push({ text, resolve });
        void done.then((r) => reject(new Error(`the VMM ended (${r.code ?? r.signal}) before printing "${text}": ${r.stdout}${r.stderr}`)));
      }),
  };
}

function runVmm(d: Daemon, args: string[]): VmmRun['done'] {
  return startVmm(d, args).done;
}

const IRQ_LABEL = 0x2a;
const IRQ_LINE = 10;

/** A guest program that stores 1 at 0x6000, sleeps until the doorbell's SPI, stores 2; its DTB. */
function writeIrqGuest(d: Daemon): { dtb: string; img: string } {
  const image = guestProgram().mmioWrite(0x6000n, 8, 1).wfi().expect(32 + IRQ_LINE).mmioWrite(0x6000n, 8, 2).spin().build();
  const pages = Math.ceil(image.length / PAGE) + 3;
  const dtb = join(d.dir, 'irq.dtb');
  const img = join(d.dir, 'irq.img');
  writeFileSync(dtb, buildVmDtb({ vcpus: 1, memory: [{ base: GUEST_BASE, size: BigInt(pages * PAGE) }], doorbells: [{ label: IRQ_LABEL, line: IRQ_LINE }] }));
  writeFileSync(img, image);
  return { dtb, img };
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
