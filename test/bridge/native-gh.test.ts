/**
 * The C side of the host bridge in the `gh_` dialect: native/gunyah-preload.c with
 * GUNYAH_EMU_DIALECT=gh loaded into examples/c/sample-vmm.c `--dialect gh`, against a daemon
 * whose emulator speaks gh_ (README.md §Dialects; vmm-flows.md §3, §4, §6; Q1 implicit start;
 * Q12 a lent page is SIGBUS). The VMM's guest RAM is its own anonymous shared memory: the shim
 * converts it into a bridged anonymous mapping (MMAP_ANON) at GH_VM_SET_USER_MEM_REGION /
 * GH_VM_ANDROID_LEND_USER_MEM (docs/running-your-vmm.md "Running a gh_ VMM"). A kick of a vCPU
 * sleeping in wfi (vmm-flows.md §7; docs/running-your-vmm.md "Kicks"). Skipped when no C
 * compiler (`cc`) is installed.
 */
import { readdirSync, rmSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { EmulatorOptions } from '../../src/emulator.js';
import { createMemoryTraceSink } from '../../src/shared/trace.js';
import type { IoctlEvent } from '../../src/shared/trace-events.js';
import { finish, startDaemon, type Daemon } from './support.js';
import { IRQ_LABEL, buildNativeInto, haveCc, startVmm, writeDtb, writeIrqGuest, type NativeBuild, type VmmRun } from './native-support.js';

const CC = haveCc();
if (!CC) console.warn('test/bridge/native-gh.test.ts: skipped, no C compiler (cc) on PATH');

const GH_OPTIONS: EmulatorOptions = { dialect: 'gh' };

let build: NativeBuild;

function startGh(d: Daemon, args: string[], env: Record<string, string> = {}): VmmRun {
  return startVmm(d, build, [...args, '--dialect', 'gh'], { GUNYAH_EMU_DIALECT: 'gh', ...env });
}

/** The first two lines of every gh_ run: where its RAM is (4 pages), and CHECK_EXTENSION(0) (no capability is offered). */
const PREAMBLE = [/^ram: 0x4000 bytes at 0x[0-9a-f]+$/, /^check-extension 0x0 -> 0$/];
function expectPreamble(lines: readonly string[], ram = PREAMBLE[0]!): void {
  expect(lines[0]).toMatch(ram);
  expect(lines[1]).toMatch(PREAMBLE[1]!);
}

/** The lines every holding-cell run prints after its first exit. */
const COMMANDS = ['first exit: mmio read 0x6000 len 8', 'ok -> 0', 'loopback 0x12345678abcd -> 0x12345678abcd', 'magic 0xdeadf00d -> 1', 'magic 0x1 -> 0'];

describe.skipIf(!CC)('sample VMM in C, gh_ dialect, through the LD_PRELOAD shim', () => {
  beforeAll(() => {
    build = buildNativeInto();
  }, 60_000);
  afterAll(() => {
    if (build?.dir !== undefined) rmSync(build.dir, { recursive: true, force: true });
  });

  it('lent RAM: boots the holding cell at the RAM base, answers OK / LOOPBACK / MAGIC, tears down; the daemon holds nothing after', async () => {
    const d = await startDaemon(GH_OPTIONS);
    const r = await startGh(d, [writeDtb(d)]).done;
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    const lines = r.stdout.split('\n');
    expectPreamble(lines);
    expect(lines.slice(2)).toEqual(['started', ...COMMANDS, 'ram readable again', 'teardown ok', '']);
    await finish(d, []); // no VM, no parcel, memory back with the host, no backing file
  }, 30_000);

  it('what the kernel is given: userspace_addr rewritten to the emulated mapping, CHECK_EXTENSION\'s capability as an integer', async () => {
    const sink = createMemoryTraceSink();
    const d = await startDaemon({ ...GH_OPTIONS, trace: sink });
    const r = await startGh(d, [writeDtb(d), '--check-extension', '0x1234']).done;
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(r.stdout).toContain('check-extension 0x1234 -> 0\n');
    const vmmRam = BigInt(/^ram: 0x4000 bytes at (0x[0-9a-f]+)$/m.exec(r.stdout)![1]!);
    const ioctls = sink.events.filter((e): e is IoctlEvent => e.kind === 'ioctl');
    const lend = ioctls.filter((e) => e.name === 'GH_VM_ANDROID_LEND_USER_MEM');
    expect(lend).toHaveLength(1);
    expect(lend[0]).toMatchObject({ result: 0, args: { label: 0, flags: '0x7', guestPhysAddr: '0x80000000', memorySize: '0x4000' } });
    const emuAddr = BigInt(lend[0]!.args!['userspaceAddr'] as string);
    expect(emuAddr % 4096n).toBe(0n);
    expect(emuAddr).not.toBe(vmmRam); // the daemon's address of the MMAP_ANON mapping, not the VMM's
    const ext = ioctls.filter((e) => e.name === 'GH_VM_CHECK_EXTENSION');
    expect(ext).toEqual([expect.objectContaining({ args: { capability: '0x1234' }, result: 0 })]);
    await finish(d, []);
  }, 30_000);

  it('registrations of converted memory: the same range and a range inside it reuse the conversion; a partial overlap and an unmapped range are refused by the shim', async () => {
    const sink = createMemoryTraceSink();
    const d = await startDaemon({ ...GH_OPTIONS, trace: sink });
    const r = await startGh(d, [writeDtb(d), '--register-twice']).done;
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(r.stdout.split('\n').slice(1)).toEqual([
      'same region again: errno 17', // the kernel's EEXIST (label 0 is taken): the ioctl reached it
      'second page as region 1: ok',
      'overlapping range: errno 22', // the shim's EINVAL: never sent
      'unmapped range: errno 14', // the shim's EFAULT (mincore): never sent
      'teardown ok',
      '',
    ]);
    const lends = sink.events.filter((e): e is IoctlEvent => e.kind === 'ioctl' && e.name === 'GH_VM_ANDROID_LEND_USER_MEM');
    expect(lends.map((e) => [e.result ?? e.errno, e.args!['label'], e.args!['memorySize']])).toEqual([
      [0, 0, '0x4000'],
      ['EEXIST', 0, '0x4000'],
      [0, 1, '0x1000'],
    ]);
    const at = lends.map((e) => BigInt(e.args!['userspaceAddr'] as string));
    expect(at[1]).toBe(at[0]);
    expect(at[2]).toBe(at[0]! + 0x1000n);
    await finish(d, []);
  }, 30_000);

  it('while it runs, the VM lives in the daemon and its RAM is one anonymous mapping with a backing file; killed mid-run (RAM lent, vCPU mapped) it leaves no VM, parcel, fd or backing file', async () => {
    const d = await startDaemon(GH_OPTIONS);
    const v = startGh(d, [writeDtb(d), '--pause']);
    await v.saw('paused');
    expect(d.emu.kernel.liveVms).toBe(1);
    expect(readdirSync(d.server.shmDir)).toEqual([expect.stringMatching(/^c1-a\d+$/)]);
    v.child.kill('SIGKILL');
    expect((await v.done).signal).toBe('SIGKILL');
    await finish(d, []);
  }, 30_000);

  it('shared RAM (SET_USER_MEM_REGION): a value the VMM stores the guest loads, and the guest\'s store the VMM sees; a forked child may touch it', async () => {
    const d = await startDaemon(GH_OPTIONS);
    const r = await startGh(d, [writeDtb(d), '--share', '--sigbus-child']).done;
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(r.stdout).toContain('shared: guest read_addr -> 0x123456789abcdef\n');
    expect(r.stdout).toContain('shared: host load after the guest\'s write_addr -> 0xfedcba9876543210\n');
    expect(r.stdout).toContain('child touching a shared page: exited 0\n');
    expect(r.stdout).toContain('ram readable again\nteardown ok\n');
    await finish(d, []);
  }, 30_000);

  it('a lent page touched after START kills a forked child with a real SIGBUS', async () => {
    const d = await startDaemon(GH_OPTIONS);
    const r = await startGh(d, [writeDtb(d), '--sigbus-child']).done;
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(r.stdout).toContain('child touching a lent page: killed by signal 7 (SIGBUS)\n');
    expect(r.stdout).toContain('ram readable again\nteardown ok\n');
    await finish(d, []);
  }, 30_000);

  it('implicit start: with no GH_VM_START the first GH_VCPU_RUN starts the VM (Q1)', async () => {
    const d = await startDaemon(GH_OPTIONS);
    const r = await startGh(d, [writeDtb(d), '--implicit-start', '--sigbus-child']).done;
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    const lines = r.stdout.split('\n');
    expectPreamble(lines);
    expect(lines.slice(2, 3 + COMMANDS.length)).toEqual(['start: by the first GH_VCPU_RUN', ...COMMANDS]);
    // The lend happened at that RUN: the RAM is the guest's from then on.
    expect(r.stdout).toContain('child touching a lent page: killed by signal 7 (SIGBUS)\n');
    await finish(d, []);
  }, 30_000);

  it('irqfd: a write to the VMM\'s real eventfd from another thread wakes the guest sleeping in wfi', async () => {
    const d = await startDaemon(GH_OPTIONS);
    const { dtb, img } = writeIrqGuest(d);
    const r = await startGh(d, [dtb, '--irqfd', img, String(IRQ_LABEL)]).done;
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    const lines = r.stdout.split('\n');
    expectPreamble(lines, /^ram: 0x[0-9a-f]+ bytes at 0x[0-9a-f]+$/);
    expect(lines.slice(2)).toEqual([
      'started',
      'irqfd guest: store 1',
      'irqfd guest: store 2 after the eventfd write (the RUN slept >= 100 ms)',
      'ram readable again',
      'teardown ok',
      '',
    ]);
    await finish(d, []);
  }, 30_000);

  it('kick: the signal handler\'s immediate_exit ends GH_VCPU_RUN sleeping in wfi with EINTR; cleared, the VMM runs on (same library path as v17, the gh_ vCPU in the daemon)', async () => {
    const d = await startDaemon(GH_OPTIONS);
    const { dtb, img } = writeIrqGuest(d);
    const r = await startGh(d, [dtb, '--irqfd', img, String(IRQ_LABEL), '--kick']).done;
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    const lines = r.stdout.split('\n');
    expectPreamble(lines, /^ram: 0x[0-9a-f]+ bytes at 0x[0-9a-f]+$/);
    expect(lines.slice(2)).toEqual([
      'started',
      'irqfd guest: store 1',
      'kick: RUN returned EINTR after >= 100 ms (immediate_exit 1)',
      'irqfd guest: store 2 after the eventfd write (the RUN slept >= 100 ms)',
      'ram readable again',
      'teardown ok',
      '',
    ]);
    await finish(d, []);
  }, 30_000);

  it('ioeventfd: a matching guest write makes the VMM\'s real eventfd readable, with no exit; its REMOVE_FUNCTION succeeds', async () => {
    const d = await startDaemon(GH_OPTIONS);
    const r = await startGh(d, [writeDtb(d), '--ioeventfd']).done;
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(r.stdout).toContain('write_io 0x60000 0x77 -> 0\nioeventfd counter 1\n');
    expect(r.stdout).toContain('ram readable again\nteardown ok\n');
    await finish(d, []);
  }, 30_000);

  it('a VMM killed while its vCPU sleeps in GH_VCPU_RUN leaves nothing either', async () => {
    const d = await startDaemon(GH_OPTIONS);
    const { dtb, img } = writeIrqGuest(d);
    const v = startGh(d, [dtb, '--irqfd', img, String(IRQ_LABEL), '--no-ring']);
    await v.saw('sleeping');
    await new Promise((r) => setTimeout(r, 100)); // the RUN is in the kernel now
    expect(d.emu.kernel.liveVms).toBe(1);
    v.child.kill('SIGKILL');
    expect((await v.done).signal).toBe('SIGKILL');
    await finish(d, []);
  }, 30_000);

  it('dialects must agree: a gh_ VMM against a v17 daemon and a v17 VMM against a gh_ daemon are refused with the reason', async () => {
    const v17 = await startDaemon();
    const a = await startGh(v17, [writeDtb(v17)]).done;
    expect(a.code).toBe(1);
    expect(a.stderr).toContain('gunyah-preload: the daemon refused the connection: dialect gh is not served here (this server serves v17; start it with --dialect gh)');
    expect(a.stderr).toContain('sample-vmm: open /dev/gunyah');
    await finish(v17, []);
    const gh = await startDaemon(GH_OPTIONS);
    const b = await startVmm(gh, build, [writeDtb(gh)]).done;
    expect(b.code).toBe(1);
    expect(b.stderr).toContain('gunyah-preload: the daemon refused the connection: dialect v17 is not served here (this server serves gh; start it with --dialect v17)');
    await finish(gh, []);
  }, 30_000);

  it('GUNYAH_EMU_DIALECT with an unknown value: the shim says so and /dev/gunyah does not open', async () => {
    const d = await startDaemon(GH_OPTIONS);
    const r = await startGh(d, [writeDtb(d)], { GUNYAH_EMU_DIALECT: 'gh14' }).done;
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('gunyah-preload: GUNYAH_EMU_DIALECT=gh14 is not a dialect (v17 or gh)');
    expect(d.server.connectionCount).toBe(0);
    await finish(d, []);
  }, 30_000);
});
