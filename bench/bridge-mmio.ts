/**
 * MMIO exits per second through the host bridge: the sample VMM in C (examples/c/sample-vmm.c,
 * `--mmio-loop N IMAGE`) loaded with the preload library (native/gunyah-preload.c), each
 * GUNYAH_VCPU_RUN a RUN request over the Unix socket to a daemon served in this process
 * (`listenBridge`, docs/host-bridge-protocol.md); against the same loop in this process through
 * the TypeScript contract (the raw case of bench/vm-mmio-loop.ts: host.ioctl(RUN), the run page
 * read and written through the vCPU fd's mapping). The ratio bridge / in-process is printed; it
 * has no goal.
 *
 * Reference: uapi.md §5 (run page), §8.4 (RUN), §8.6–§8.7 (MMIO exit and resume); vmm-flows.md
 * §2 (boot), §7 (the VMM's exit loop); docs/running-your-vmm.md. Not part of the emulator.
 *
 * Both sides boot the same guest (`mmioLoopImage(1)` of bench/lib/vm-boot.ts: a 64-bit read of
 * 0x6000 and a check of the value, forever) on one vCPU, and both check every exit (an 8-byte
 * read of 0x6000); the guest checks every value. A bridge round is one VMM process: it boots the
 * VM, answers N reads timed by the process itself (CLOCK_MONOTONIC around the N exits, so the
 * process start, boot and teardown are not counted), prints the figure and tears down; N is
 * sized from the warm-up to last about one round. An in-process round is `runFor` of the raw
 * loop on a VM booted once. Rounds alternate (B I, I B, …) as in bench/lib/timing.ts.
 *
 * Two dialects, each with its own daemon (an emulator of that dialect) and its own in-process
 * emulator, measured one after the other with the same method:
 *   v17  the VMM's RAM is a guest-memory fd (GUNYAH_CREATE_GUEST_MEM + MAP_MEM, lent), the
 *        in-process VM is booted by bench/lib/vm-boot.ts `bootVm`
 *   gh_  the VMM runs `--dialect gh` (GUNYAH_EMU_DIALECT=gh for the preload library): its RAM is
 *        its own MAP_SHARED|MAP_ANONYMOUS memory lent with GH_VM_ANDROID_LEND_USER_MEM, which the
 *        shim turns into a bridged anonymous mapping (MMAP_ANON, docs/host-bridge-protocol.md v2)
 *        synced at every request boundary; in process, the same set-up through HostProcess
 *        (`mmapAnonymous`, LEND_USER_MEM, no boot context: the RM enters at the RAM base with X0 =
 *        the DTB), then the same raw loop (README.md §Dialects: MMIO completion is implicit, so
 *        the loop only writes mmio.data, as the v17 raw loop does)
 *
 * Skipped (one log line, no row) when no C compiler (`cc`) is on PATH.
 */
import { execFileSync, spawn } from 'node:child_process';
import { mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createEmulator, type Emulator } from '../src/emulator.js';
import { listenBridge, type BridgeServer } from '../src/bridge/bridge-server.js';
import { GH_MEM_VALID_FLAGS, GH_VM_ANDROID_LEND_USER_MEM, encodeGhUserMemRegion } from '../src/vm-mgr/gh/gh-uapi.js';
import { buildVmDtb, ioctlWith, type VcpuFd } from '../src/vmm/index.js';
import { bootVm, GUEST_BASE, mmioLoopImage, withHost, type BenchHost } from './lib/vm-boot.js';
import { rawOp } from './vm-mmio-loop.js';
import type { BenchRow, BenchSuite } from './lib/suite.js';
import { batchFor, median, runFor, type Op, type RoundResult, type TimingConfig } from './lib/timing.js';

const ROOT = join(import.meta.dirname, '..');
const PRELOAD = join(ROOT, 'native', 'build', 'libgunyah-emu-preload.so');
const VMM = join(ROOT, 'examples', 'c', 'build', 'sample-vmm');
const PAGE = 4096;

function haveCc(): boolean {
  try {
    execFileSync('cc', ['--version'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

interface Daemon {
  readonly emu: Emulator;
  readonly server: BridgeServer;
  readonly dir: string;
  readonly path: string;
}

/** The daemon's state after every VMM process has gone: anything left is listed. */
async function leftOver(d: Daemon): Promise<string[]> {
  await d.server.settled();
  const left: string[] = [];
  if (d.server.connectionCount !== 0) left.push(`${d.server.connectionCount} connections`);
  if (d.emu.kernel.liveVms !== 0) left.push(`${d.emu.kernel.liveVms} live VMs in the kernel`);
  const rm = await d.emu.rm.control.inspect();
  const vms = rm.vms.filter((v) => v.vmid !== d.emu.hyp.hostVmid);
  if (vms.length > 0) left.push(`${vms.length} VMs in the RM`);
  if (rm.parcels.length > 0) left.push(`${rm.parcels.length} parcels in the RM`);
  const owners = [...d.emu.hyp.memory.ownership().keys()];
  if (owners.length !== 1 || owners[0] !== d.emu.hyp.hostVmid) left.push(`memory owned by VMs ${owners.join(', ')}`);
  const errs = d.emu.checkInvariants();
  if (errs.length > 0) left.push(`invariants: ${errs.slice(0, 3).join('; ')}`);
  const files = readdirSync(d.server.shmDir);
  if (files.length > 0) left.push(`backing files ${files.join(', ')}`);
  return left;
}

/** Wait until the daemon has dropped every connection (it tears a client down asynchronously). */
async function disconnected(d: Daemon): Promise<void> {
  const end = Date.now() + 5000;
  while (d.server.connectionCount !== 0) {
    if (Date.now() > end) throw new Error('the daemon still holds a connection 5 s after the VMM exited');
    await new Promise((r) => setTimeout(r, 2));
  }
}

/** How the sample VMM is started for one dialect. */
interface VmmInvocation {
  readonly dtb: string;
  readonly image: string;
  /** Arguments before `--mmio-loop` (the dialect). */
  readonly extraArgs: readonly string[];
  /** Environment added for the preload library. */
  readonly env: Readonly<Record<string, string>>;
}

/** The in-process side of a case: the loop's operation on a booted VM, and how to tear it down. */
interface InProcessVm {
  readonly op: Op;
  close(): Promise<void>;
}

const pageAlign = (n: number): number => Math.ceil(n / PAGE) * PAGE;

/**
 * The gh_ boot of the C VMM's `--dialect gh --mmio-loop` path, in process: RAM = image pages +
 * one DTB page + a stack page + a spare page of anonymous shared memory, the image written at 0
 * before GH_VM_ANDROID_LEND_USER_MEM (label 0, RWX, at GUEST_BASE), the vCPU added with its run
 * page mapped, the DTB written after the image and SET_DTB_CONFIG, START. No boot context.
 */
async function bootGhVm(h: BenchHost, image: Uint8Array, dtb: Uint8Array): Promise<InProcessVm> {
  const host = h.emu.host;
  const binSize = pageAlign(image.length);
  const dtbSize = pageAlign(dtb.length);
  const size = binSize + dtbSize + 2 * PAGE;
  const vm = await h.dev.createVm();
  const ram = host.mmapAnonymous(size);
  let vcpu: VcpuFd | undefined;
  const close = async (): Promise<void> => {
    await vcpu?.close();
    await vm.close();
    await ram.unmap();
  };
  try {
    ram.write(0, image);
    const region = encodeGhUserMemRegion({ label: 0, flags: GH_MEM_VALID_FLAGS, guestPhysAddr: GUEST_BASE, memorySize: BigInt(size), userspaceAddr: ram.addr });
    await ioctlWith(host, vm.fd, GH_VM_ANDROID_LEND_USER_MEM, region);
    vcpu = await vm.addVcpu(0);
    ram.write(binSize, dtb);
    await vm.setDtbConfig(GUEST_BASE + BigInt(binSize), BigInt(dtbSize));
    await vm.start();
  } catch (err) {
    await close().catch(() => undefined);
    throw err;
  }
  return { op: rawOp(host, vcpu), close };
}

/** One dialect's case. */
interface DialectCase {
  readonly dialect: 'v17' | 'gh';
  /** The log line's prefix. */
  readonly label: string;
  /** The row's name. */
  readonly rowName: string;
  readonly extraArgs: readonly string[];
  readonly env: Readonly<Record<string, string>>;
  bootInProcess(h: BenchHost, image: Uint8Array, dtb: Uint8Array): Promise<InProcessVm>;
}

const CASES: readonly DialectCase[] = [
  {
    dialect: 'v17',
    label: 'bridge (C VMM + LD_PRELOAD ↔ socket ↔ daemon)',
    rowName: '1 vCPU, C VMM through the bridge (baseline: in-process raw)',
    extraArgs: [],
    env: {},
    async bootInProcess(h, image) {
      const vm = await bootVm(h.dev, { vcpus: 1, image });
      return { op: rawOp(h.emu.host, vm.vcpus[0]!), close: () => vm.close() };
    },
  },
  {
    dialect: 'gh',
    label: 'gh_ bridge (C VMM --dialect gh + LD_PRELOAD ↔ socket ↔ daemon, RAM a bridged MMAP_ANON mapping)',
    rowName: '1 vCPU, gh_, C VMM through the bridge (baseline: in-process raw, gh_)',
    extraArgs: ['--dialect', 'gh'],
    env: { GUNYAH_EMU_DIALECT: 'gh' },
    bootInProcess: bootGhVm,
  },
];

const LINE = /^mmio-loop: (\d+) exits in (\d+) ns \(cpu (\d+) ns\)$/m;

/**
 * One VMM process answering `n` reads. `ms` is the VMM's timed loop; `cpuMs` is the VMM's CPU
 * time in that loop plus this process's (the daemon's) CPU time over the process's life, scaled
 * to the loop's share of it.
 */
async function bridgeRound(d: Daemon, v: VmmInvocation, n: number): Promise<RoundResult & { readonly vmmCpuMs: number }> {
  const c0 = process.cpuUsage();
  const t0 = performance.now();
  const child = spawn(VMM, [v.dtb, ...v.extraArgs, '--mmio-loop', String(n), v.image], {
    env: { ...process.env, LD_PRELOAD: PRELOAD, GUNYAH_EMU_SOCKET: d.path, ...v.env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (b: Buffer) => (stdout += b.toString()));
  child.stderr.on('data', (b: Buffer) => (stderr += b.toString()));
  const timer = setTimeout(() => child.kill('SIGKILL'), 120_000);
  const { code, signal } = await new Promise<{ code: number | null; signal: string | null }>((resolve, reject) => {
    child.on('error', reject);
    child.on('close', (c, s) => {
      clearTimeout(timer);
      resolve({ code: c, signal: s });
    });
  });
  const wall = performance.now() - t0;
  const c = process.cpuUsage(c0);
  const m = LINE.exec(stdout);
  if (code !== 0 || !m || !stdout.includes('teardown ok')) {
    throw new Error(`sample-vmm --mmio-loop ${n} ended ${code ?? signal}: ${stdout}${stderr}`);
  }
  await disconnected(d);
  const ops = Number(m[1]);
  const ms = Number(m[2]) / 1e6;
  const daemonCpu = ((c.user + c.system) / 1000) * Math.min(1, ms / wall);
  const vmmCpuMs = Number(m[3]) / 1e6;
  return { ops, ms, opsPerSec: ops / (ms / 1000), cpuMs: vmmCpuMs + daemonCpu, vmmCpuMs };
}

const fmt = (n: number): string => Math.round(n).toLocaleString('en-US');

/** One dialect: a daemon of that dialect, its bridge rounds against in-process rounds. */
async function measure(
  c: DialectCase,
  dir: string,
  vmm: VmmInvocation,
  image: Uint8Array,
  dtb: Uint8Array,
  timing: TimingConfig,
  log: (line: string) => void,
): Promise<BenchRow> {
  const emu = createEmulator({ dialect: c.dialect });
  let server: BridgeServer | undefined;
  try {
    const path = join(dir, `bridge-${c.dialect}.sock`);
    server = await listenBridge(emu, { path, shmDir: dir });
    const d: Daemon = { emu, server, dir, path };
    return await withHost(
      async (h): Promise<BenchRow> => {
        const vm = await c.bootInProcess(h, image, dtb);
        const inProc = vm.op;

        // Warm-up: the daemon's JIT (a first short process sizes the second), then the loop here.
        const probe = await bridgeRound(d, vmm, 2000);
        const warm = await bridgeRound(d, vmm, Math.max(2000, Math.round((probe.opsPerSec * timing.warmupMs) / 1000)));
        const perRound = Math.max(1000, Math.round((warm.opsPerSec * timing.roundMs) / 1000));
        const warmI = await runFor(inProc, timing.warmupMs);
        const batchI = batchFor(warmI.opsPerSec);

        const bridge: Array<RoundResult & { readonly vmmCpuMs: number }> = [];
        const local: RoundResult[] = [];
        const gc = (globalThis as { gc?: () => void }).gc;
        for (let r = 0; r < timing.rounds; r++) {
          const order = r % 2 === 0 ? (['b', 'i'] as const) : (['i', 'b'] as const);
          for (const side of order) {
            if (typeof gc === 'function') gc();
            if (side === 'b') bridge.push(await bridgeRound(d, vmm, perRound));
            else local.push(await runFor(inProc, timing.roundMs, batchI));
          }
        }
        const bMed = median(bridge.map((x) => x.opsPerSec));
        const iMed = median(local.map((x) => x.opsPerSec));
        const ratio = bMed / iMed;
        const exits = bridge.reduce((a, x) => a + x.ops, 0);
        // CPU per bridged exit, split between the VMM process (its threads) and this process.
        const vmmUs = median(bridge.map((x) => (x.vmmCpuMs * 1000) / x.ops));
        const daemonUs = median(bridge.map((x) => ((x.cpuMs - x.vmmCpuMs) * 1000) / x.ops));
        log(
          `  ${c.label}: ${fmt(bMed)} exits/s (${(1e9 / bMed).toFixed(0)} ns/exit), ` +
            `in-process raw: ${fmt(iMed)} exits/s (${(1e9 / iMed).toFixed(0)} ns/exit), ratio bridge/in-process ${ratio.toFixed(3)}; ` +
            `${fmt(exits)} bridge exits timed in ${bridge.length} processes of ${fmt(perRound)}; CPU per bridged exit: VMM ${vmmUs.toFixed(1)} µs, daemon ${daemonUs.toFixed(1)} µs`,
        );
        const errs = h.emu.checkInvariants();
        if (errs.length > 0) throw new Error(`${c.dialect}: invariants after the in-process loop: ${errs.slice(0, 3).join('; ')}`);
        await vm.close();
        const left = await leftOver(d);
        if (left.length > 0) throw new Error(`${c.dialect}: the daemon after every VMM exited: ${left.join(', ')}`);
        return {
          name: c.rowName,
          opsPerSec: bMed,
          baselineOpsPerSec: iMed,
          ratio,
          rounds: { subject: bridge, baseline: local },
          detail: `${(1e9 / bMed).toFixed(0)} ns per bridged exit, ${(1e9 / iMed).toFixed(0)} ns per in-process exit`,
        };
      },
      { dialect: c.dialect },
    );
  } finally {
    await server?.close();
    emu.close();
  }
}

export const suite: BenchSuite = {
  name: 'bridge-mmio',
  description:
    'MMIO read exits/s of the C sample VMM (v17, then gh_ with its RAM a bridged anonymous mapping) through the LD_PRELOAD library and the Unix socket to an in-process daemon, vs the same loop in-process in the same dialect (raw ioctl + run-page mapping)',
  async run(timing: TimingConfig, log: (line: string) => void): Promise<BenchRow[]> {
    if (!haveCc()) {
      log('  bridge-mmio: skipped, no C compiler (cc) on PATH (the preload library and the sample VMM are C)');
      return [];
    }
    execFileSync('npm', ['run', '--silent', 'build:native'], { cwd: ROOT, stdio: 'pipe' });

    const dir = mkdtempSync(join(tmpdir(), 'gh-bench-bridge-'));
    try {
      // The image and the DTB the VMM loads: memory = image pages + DTB + stack + spare, as the
      // VMM sizes it (examples/c/sample-vmm.c), in both dialects.
      const image = mmioLoopImage(1);
      const pages = Math.ceil(image.length / PAGE) + 3;
      const dtb = buildVmDtb({ vcpus: 1, memory: [{ base: GUEST_BASE, size: BigInt(pages * PAGE) }], doorbells: [] });
      const imgPath = join(dir, 'mmio-loop.img');
      const dtbPath = join(dir, 'mmio-loop.dtb');
      writeFileSync(imgPath, image);
      writeFileSync(dtbPath, dtb);
      const rows: BenchRow[] = [];
      for (const c of CASES) rows.push(await measure(c, dir, { dtb: dtbPath, image: imgPath, extraArgs: c.extraArgs, env: c.env }, image, dtb, timing, log));
      return rows;
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  },
};
