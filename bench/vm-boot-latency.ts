/**
 * Boot latency of a VM through /dev/gunyah: from `GUNYAH_CREATE_VM` to the first MMIO exit, the
 * quic/gunyah-test-vmm sequence with the holding-cell guest (create VM, guest memory, MAP_MEM,
 * one vCPU with its run page mapped, DTB written and SET_DTB_CONFIG, image written, two
 * SET_BOOT_CONTEXT, START, first RUN → the command read at 0x6000). Median and p99 over 1,000
 * boots on one emulator; each VM is closed (all its fds) after its boot, outside the timing, and
 * the emulator must be back to its boot state at the end.
 *
 * Reference: vmm-flows.md §2 (the sequence), §6.1/§6.5 (holding cell: the first exit is the
 * command read); uapi.md §8.2 (START), §8.3 (teardown on the last close). Not part of the
 * emulator.
 */
import { holdingCellImage } from '../src/guest/index.js';
import { bootVm, MMIO_REG, withHost } from './lib/vm-boot.js';
import type { BenchRow, BenchSuite } from './lib/suite.js';
import type { RoundResult, TimingConfig } from './lib/timing.js';
import { median } from './lib/timing.js';

/** Goal: median boot (CREATE_VM → first MMIO exit) within 1 ms. */
export const BOOT_MEDIAN_GOAL_MS = 1;
/** Boots timed, and untimed warm-up boots before them. */
export const BOOTS = 1000;
const WARMUP_BOOTS = 100;
const QUICK_BOOTS = 100;
const QUICK_WARMUP = 20;

/** The p-th percentile (0..100) of a non-empty list, nearest rank. */
function percentile(xs: readonly number[], p: number): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.max(0, Math.ceil((p / 100) * s.length) - 1))]!;
}

const fmtMs = (ms: number): string => ms.toFixed(3);

export const suite: BenchSuite = {
  name: 'vm-boot-latency',
  description: 'GUNYAH_CREATE_VM → first MMIO exit (holding cell, 1 vCPU: guest mem, map, vCPU, DTB, boot context, START, RUN), median and p99',
  async run(timing: TimingConfig, log: (line: string) => void): Promise<BenchRow[]> {
    const quick = timing.quick === true;
    const boots = quick ? QUICK_BOOTS : BOOTS;
    const warm = quick ? QUICK_WARMUP : WARMUP_BOOTS;
    const image = holdingCellImage();
    return withHost(async (h) => {
      const times: number[] = [];
      const closes: number[] = [];
      const rounds: RoundResult[] = [];
      for (let i = 0; i < warm + boots; i++) {
        const c0 = process.cpuUsage();
        const t0 = performance.now();
        const vm = await bootVm(h.dev, { vcpus: 1, image });
        const e = await vm.vcpus[0]!.run();
        const t1 = performance.now();
        const cu = process.cpuUsage(c0);
        if (e.kind !== 'mmio' || e.mmio.physAddr !== MMIO_REG || e.mmio.isWrite) throw new Error(`boot ${i}: the first exit is not the command read: ${e.kind}`);
        await vm.close();
        const t2 = performance.now();
        if (i < warm) continue;
        times.push(t1 - t0);
        closes.push(t2 - t1);
        rounds.push({ ops: 1, ms: t1 - t0, opsPerSec: 1000 / (t1 - t0), cpuMs: (cu.user + cu.system) / 1000 });
      }
      if (h.emu.kernel.liveVms !== 0) throw new Error(`${h.emu.kernel.liveVms} VMs still live after closing them all`);
      const med = median(times);
      const p99 = percentile(times, 99);
      log(`  ${boots} boots (after ${warm} untimed): median ${fmtMs(med)} ms, p99 ${fmtMs(p99)} ms, min ${fmtMs(Math.min(...times))}, max ${fmtMs(Math.max(...times))}; close (all fds, teardown) median ${fmtMs(median(closes))} ms`);
      return [
        {
          name: `CREATE_VM → first MMIO exit, ${boots} boots (boots/s = 1 / median)`,
          opsPerSec: 1000 / med,
          checks: [{ text: `median ≤ ${BOOT_MEDIAN_GOAL_MS} ms (${fmtMs(med)}; p99 ${fmtMs(p99)})`, pass: med <= BOOT_MEDIAN_GOAL_MS }],
          rounds: { subject: rounds, baseline: [] },
          detail: `median ${fmtMs(med)} ms, p99 ${fmtMs(p99)} ms, close median ${fmtMs(median(closes))} ms`,
        },
      ];
    });
  },
};
