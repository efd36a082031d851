/**
 * Test support for the C side of the host bridge: whether a C compiler is there, building the
 * preload library (native/gunyah-preload.c) and the sample VMM (examples/c/sample-vmm.c), running
 * the VMM with the library against a daemon and watching its output, and the DTB / guest images
 * the sample VMM boots (vmm-flows.md §5, docs/guest-images.md).
 */
import { execFileSync, spawn } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { buildVmDtb } from '../../src/vmm/index.js';
import { guestProgram } from '../../src/guest/index.js';
import { GUEST_BASE, PAGE, type Daemon } from './support.js';

export const ROOT = join(import.meta.dirname, '..', '..');

export function haveCc(): boolean {
  try {
    execFileSync('cc', ['--version'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

export interface NativeBuild {
  readonly preload: string;
  readonly vmm: string;
  /** The directory holding both, when the build made one of its own (remove it after). */
  readonly dir?: string;
}

/** The two `cc` lines of `npm run build:native`, plus -Werror, into a fresh directory of its own (test files run in parallel). */
export function buildNativeInto(dir = mkdtempSync(join(tmpdir(), 'gh-native-'))): NativeBuild {
  const preload = join(dir, 'libgunyah-emu-preload.so');
  const vmm = join(dir, 'sample-vmm');
  const flags = ['-std=c11', '-O2', '-Wall', '-Wextra', '-Werror'];
  execFileSync('cc', [...flags, '-shared', '-fPIC', '-o', preload, join(ROOT, 'native', 'gunyah-preload.c'), '-ldl', '-lpthread'], { stdio: 'pipe' });
  execFileSync('cc', [...flags, '-o', vmm, join(ROOT, 'examples', 'c', 'sample-vmm.c'), '-lpthread'], { stdio: 'pipe' });
  return { preload, vmm, dir };
}

export interface VmmResult {
  readonly code: number | null;
  readonly signal: string | null;
  readonly stdout: string;
  readonly stderr: string;
}

export interface VmmRun {
  readonly child: ReturnType<typeof spawn>;
  readonly done: Promise<VmmResult>;
  /** Resolves once stdout contains `text`. */
  saw(text: string): Promise<void>;
}

/**
 * Start the sample VMM (or another program, `build.vmm`) with the preload library against the
 * daemon listening at `d.path` (killed after 20 s). `build.preload` is the LD_PRELOAD value.
 */
export function startVmm(d: Pick<Daemon, 'path'>, build: NativeBuild, args: string[], env: Record<string, string> = {}): VmmRun {
  const child = spawn(build.vmm, args, {
    env: { ...process.env, LD_PRELOAD: build.preload, GUNYAH_EMU_SOCKET: d.path, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  const watchers: Array<{ text: string; resolve(): void }> = [];
  child.stdout.on('data', (b: Buffer) => {
    stdout += b.toString();
    for (const w of watchers) if (stdout.includes(w.text)) w.resolve();
  });
  child.stderr.on('data', (b: Buffer) => (stderr += b.toString()));
  const timer = setTimeout(() => child.kill('SIGKILL'), 20_000);
  const done = new Promise<VmmResult>((resolve, reject) => {
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

/** The sample VMM's DTB: one vCPU, 4 pages at 0x8000_0000 (image, DTB, stack, spare). */
export function writeDtb(d: Daemon): string {
  const p = join(d.dir, 'vm.dtb');
  writeFileSync(p, buildVmDtb({ vcpus: 1, memory: [{ base: GUEST_BASE, size: BigInt(4 * PAGE) }], doorbells: [] }));
  return p;
}

export const IRQ_LABEL = 0x2a;
export const IRQ_LINE = 10;

/** A guest program that stores 1 at 0x6000, sleeps until the doorbell's SPI, stores 2; its DTB. */
export function writeIrqGuest(d: Daemon): { dtb: string; img: string } {
  const image = guestProgram().mmioWrite(0x6000n, 8, 1).wfi().expect(32 + IRQ_LINE).mmioWrite(0x6000n, 8, 2).spin().build();
  const pages = Math.ceil(image.length / PAGE) + 3;
  const dtb = join(d.dir, 'irq.dtb');
  const img = join(d.dir, 'irq.img');
  writeFileSync(dtb, buildVmDtb({ vcpus: 1, memory: [{ base: GUEST_BASE, size: BigInt(pages * PAGE) }], doorbells: [{ label: IRQ_LABEL, line: IRQ_LINE }] }));
  writeFileSync(img, image);
  return { dtb, img };
}
