/**
 * The MMIO exit loop of a VMM through the raw contract: `GUNYAH_VCPU_RUN` → an MMIO read exit
 * (decoded from the run page, read through the vCPU fd's mmap) → the VMM writes mmio.data →
 * RUN again, which hands the value to the guest and runs it to its next read. Exits per second
 * on one vCPU and on eight vCPUs of one VM (eight concurrent async loops, aggregate), each
 * against a bare async loop doing the same byte copies.
 *
 * Reference: uapi.md §5 (run page), §8.4 (RUN), §8.6 (MMIO exit), §8.7 (resume HANDLED: the
 * first `len` bytes of mmio.data); vmm-flows.md §2 (boot), §7 (the VMM's exit loop);
 * hypervisor.md §6–§7 (vcpu_run, VMMIO). Not part of the emulator.
 *
 * Cases:
 *   typed  VcpuFd.run() (the ioctl, then the run page read through the mapping and decoded
 *          into an exit object) and VcpuFd.setMmioData() (8 bytes written through the mapping)
 *   raw    host.ioctl(fd, GUNYAH_VCPU_RUN), mapping.read(0, 40) decoded by hand (exit_reason,
 *          phys_addr, len, is_write), mapping.write(24, 8 bytes)
 * Every exit is checked (MMIO, read, 0x6000, len 8), and the guest checks every value it reads
 * (bench/lib/vm-boot.ts), so a lost or wrong answer stops the benchmark.
 *
 * Baseline ("bare"): an async function awaited per iteration that copies 8 bytes into a
 * 256-byte buffer at mmio.data's offset and reads them back: the data movement of one exit with
 * none of the VM. For eight vCPUs, eight such loops at once.
 */
import { GUNYAH_VCPU_RUN, RUN_PAGE_SIZE, MMIO_DATA, GUNYAH_VCPU_EXIT_MMIO } from '../src/vm-mgr/uapi/index.js';
import type { VcpuFd } from '../src/vmm/index.js';
import type { HostLike } from '../src/vmm/host-like.js';
import { bootVm, mmioLoopImage, MMIO_REG, MMIO_VALUE, withHost } from './lib/vm-boot.js';
import type { BenchRow, BenchSuite } from './lib/suite.js';
import { compareLoops, type Op, type TimingConfig } from './lib/timing.js';

/** Goal: exits/s ≥ 0.3 × the bare loop's iterations/s. */
export const MMIO_RATIO_GOAL = 0.3;
/** Goal: at least this many exits per second on one vCPU. */
export const MMIO_RATE_GOAL = 500_000;

const describeExit = (e: unknown): string => JSON.stringify(e, (_, v: unknown) => (typeof v === 'bigint' ? `0x${v.toString(16)}` : v));

/** One exit through the typed layer. */
export function typedOp(v: VcpuFd): Op {
  return async () => {
    const e = await v.run();
    if (e.kind !== 'mmio' || e.mmio.isWrite || e.mmio.physAddr !== MMIO_REG || e.mmio.len !== 8) {
      throw new Error(`vCPU ${v.id}: expected an 8-byte MMIO read of 0x6000, got ${describeExit(e)}`);
    }
    v.setMmioData(MMIO_VALUE);
  };
}

/** One exit through HostProcess directly: ioctl, then the mapping read and written by hand. */
export function rawOp(host: HostLike, v: VcpuFd): Op {
  const m = v.page;
  const value = new Uint8Array(8);
  new DataView(value.buffer).setBigUint64(0, MMIO_VALUE, true);
  const u32 = (b: Uint8Array, o: number): number => (b[o]! | (b[o + 1]! << 8) | (b[o + 2]! << 16) | (b[o + 3]! << 24)) >>> 0;
  const reg = Number(MMIO_REG);
  return async () => {
    await host.ioctl(v.fd, GUNYAH_VCPU_RUN);
    const p = m.read(0, RUN_PAGE_SIZE);
    // exit_reason @8, mmio.phys_addr @16 (u64: low and high words), len @32, is_write @36.
    if (u32(p, 8) !== GUNYAH_VCPU_EXIT_MMIO || u32(p, 16) !== reg || u32(p, 20) !== 0 || u32(p, 32) !== 8 || p[36] !== 0) {
      throw new Error(`vCPU ${v.id}: expected an 8-byte MMIO read of 0x6000, run page ${Buffer.from(p).toString('hex')}`);
    }
    m.write(MMIO_DATA, value);
  };
}

/** The baseline: copy 8 bytes into a run-page-sized buffer and back out, one await per iteration. */
export function bareOp(): Op {
  const page = new Uint8Array(256);
  const value = new Uint8Array(8);
  const out = new Uint8Array(8);
  new DataView(value.buffer).setBigUint64(0, MMIO_VALUE, true);
  return async () => {
    page.set(value, MMIO_DATA);
    for (let i = 0; i < 8; i++) out[i] = page[MMIO_DATA + i]!;
    if (out[0] !== value[0]) throw new Error('bare loop: copy lost');
  };
}

interface Case {
  readonly name: string;
  readonly vcpus: number;
  readonly layer: 'typed' | 'raw';
  readonly rateGoal?: number;
}

const CASES: readonly Case[] = [
  { name: '1 vCPU, typed layer (VcpuFd.run + setMmioData)', vcpus: 1, layer: 'typed', rateGoal: MMIO_RATE_GOAL },
  { name: '1 vCPU, raw (host.ioctl + mapping read/write)', vcpus: 1, layer: 'raw', rateGoal: MMIO_RATE_GOAL },
  { name: '8 vCPUs of one VM, typed layer, 8 loops (aggregate)', vcpus: 8, layer: 'typed' },
];

const fmt = (n: number): string => Math.round(n).toLocaleString('en-US');

export const suite: BenchSuite = {
  name: 'vm-mmio-loop',
  description: 'GUNYAH_VCPU_RUN → MMIO read exit (run page via mmap) → mmio.data → RUN, exits/s vs a bare async loop doing the same byte copies',
  async run(timing: TimingConfig, log: (line: string) => void): Promise<BenchRow[]> {
    const rows: BenchRow[] = [];
    for (const c of CASES) {
      const row = await withHost(async (h): Promise<BenchRow> => {
        const vm = await bootVm(h.dev, { vcpus: c.vcpus, image: mmioLoopImage(c.vcpus) });
        const subject = vm.vcpus.map((v) => (c.layer === 'typed' ? typedOp(v) : rawOp(h.emu.host, v)));
        const baseline = vm.vcpus.map(() => bareOp());
        const r = await compareLoops(subject, baseline, timing);
        const exits = r.subject.reduce((a, x) => a + x.ops, 0);
        log(`  ${c.name}: ${fmt(r.subjectMedian)} exits/s (${(1e9 / r.subjectMedian).toFixed(0)} ns/exit), bare ${fmt(r.baselineMedian)}/s (${(1e9 / r.baselineMedian).toFixed(0)} ns), ratio ${r.ratio.toFixed(3)}; ${fmt(exits)} exits timed`);
        const errs = h.emu.checkInvariants();
        if (errs.length > 0) throw new Error(`invariants after the loop: ${errs.slice(0, 3).join('; ')}`);
        await vm.close();
        return {
          name: c.name,
          opsPerSec: r.subjectMedian,
          baselineOpsPerSec: r.baselineMedian,
          ratio: r.ratio,
          goal: MMIO_RATIO_GOAL,
          ...(c.rateGoal !== undefined ? { checks: [{ text: `≥ ${fmt(c.rateGoal)} exits/s`, pass: r.subjectMedian >= c.rateGoal }] } : {}),
          rounds: { subject: r.subject, baseline: r.baseline },
          detail: `${(1e9 / r.subjectMedian).toFixed(0)} ns per exit, ${(1e9 / r.baselineMedian).toFixed(0)} ns per bare iteration`,
        };
      });
      rows.push(row);
    }
    return rows;
  },
};
