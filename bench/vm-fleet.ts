/**
 * A fleet of VMs on one emulator: 1,000 VMs of 2 vCPUs each created, started, run for 1,000 MMIO
 * exits on every vCPU and closed. Wall time per phase, and the JS heap before and after (after
 * full collections): the heap after must be within 5% of the heap before, or something the VMs
 * used was not freed.
 *
 * The RM hands out dynamic VMIDs 0x80..0xBE only (63 at a time, rm-rpc.md §3 "VMID_DYNAMIC_BASE
 * .. END", §12.1 VM_ALLOCATE), so 1,000 VMs cannot be alive at once: they run in waves of 50
 * (50 VMs booted, their 100 vCPU loops run concurrently, the 50 closed, the next wave).
 *
 * Reference: vmm-flows.md §2 (boot), uapi.md §7 (objects and references), §8.3 (teardown on the
 * last close: the RM stops, resets and frees the VM, the memory goes back to the host).
 * Not part of the emulator.
 *
 * The guest is the MMIO-read loop of bench/lib/vm-boot.ts (vCPU 0 starts vCPU 1 with PSCI
 * CPU_ON). Before the measured heap, the same number of VMs is booted, run (100 exits per vCPU)
 * and closed, so that optimised code and lazily created tables exist in both measurements. The
 * emulator and /dev/gunyah stay open across both, so any table that keeps an entry per VM after
 * its close shows up as growth.
 */
import { getHeapSpaceStatistics } from 'node:v8';
import { bootVm, mmioLoopImage, MMIO_REG, MMIO_VALUE, withHost, type BenchVm } from './lib/vm-boot.js';
import { fmtBytes, gcExposed, getGc, heapAfterGc } from './lib/heap.js';
import type { BenchRow, BenchSuite } from './lib/suite.js';
import type { TimingConfig } from './lib/timing.js';
import type { VcpuFd } from '../src/vmm/index.js';
import type { GunyahDevice } from '../src/vmm/index.js';

/** Goal: heap after the fleet within 5% of the heap before it. */
export const HEAP_GROWTH_GOAL = 0.05;
const FULL = { vms: 1000, exits: 1000 };
const QUICK = { vms: 100, exits: 100 };
const VCPUS = 2;
/** VMs alive at once (the RM's dynamic VMID range holds 63). */
const WAVE = 50;

/** Bytes used in V8's code space (optimised code). */
function codeSpace(): number {
  return getHeapSpaceStatistics().find((x) => x.space_name === 'code_space')?.space_used_size ?? 0;
}

/** `exits` MMIO read exits on `v`, each answered with MMIO_VALUE. */
async function exitLoop(v: VcpuFd, exits: number): Promise<void> {
  for (let i = 0; i < exits; i++) {
    const e = await v.run();
    if (e.kind !== 'mmio' || e.mmio.isWrite || e.mmio.physAddr !== MMIO_REG) throw new Error(`vCPU ${v.id}: expected an MMIO read of 0x6000, got ${e.kind}`);
    v.setMmioData(MMIO_VALUE);
  }
}

/** Phase times of a fleet, in ms, summed over its waves. */
interface FleetTimes {
  boot: number;
  run: number;
  close: number;
}

/**
 * One fleet: `vms` VMs in waves of WAVE; per wave boot them, run every vCPU for `exits` exits
 * (all loops at once), close them all.
 */
async function fleet(dev: GunyahDevice, image: Uint8Array, vms: number, exits: number): Promise<FleetTimes> {
  const t: FleetTimes = { boot: 0, run: 0, close: 0 };
  for (let done = 0; done < vms; done += WAVE) {
    const n = Math.min(WAVE, vms - done);
    const t0 = performance.now();
    const booted: BenchVm[] = [];
    for (let i = 0; i < n; i++) booted.push(await bootVm(dev, { vcpus: VCPUS, image }));
    const t1 = performance.now();
    await Promise.all(booted.flatMap((vm) => vm.vcpus.map((v) => exitLoop(v, exits))));
    const t2 = performance.now();
    for (const vm of booted) await vm.close();
    const t3 = performance.now();
    t.boot += t1 - t0;
    t.run += t2 - t1;
    t.close += t3 - t2;
  }
  return t;
}

export const suite: BenchSuite = {
  name: 'vm-fleet',
  description: `1,000 VMs × ${VCPUS} vCPUs (waves of ${WAVE}) created, started, 1,000 MMIO exits per vCPU, closed: wall time, heap before vs after`,
  async run(timing: TimingConfig, log: (line: string) => void): Promise<BenchRow[]> {
    const { vms, exits } = timing.quick === true ? QUICK : FULL;
    const gc = getGc();
    if (!gcExposed()) log('  (node runs without --expose-gc: gc taken from V8 at run time)');
    const image = mmioLoopImage(VCPUS);
    return withHost(async (h) => {
      // Warm-up: as many VMs with fewer exits, so that JIT code and lazily made tables exist
      // before "before". Optimised code and its deoptimisation data live in the heap too, and
      // the boot and close paths run once per VM: V8 still optimises some of them after several
      // hundred VMs (measured: about +1.6 MiB over the first 1,000 VMs after a 100-VM warm-up,
      // all of it code, none of it JS objects).
      await fleet(h.dev, image, vms, Math.min(exits, 100));
      const before = heapAfterGc(gc);
      const codeBefore = codeSpace();
      const c0 = process.cpuUsage();
      const t = await fleet(h.dev, image, vms, exits);
      const cu = process.cpuUsage(c0);
      const after = heapAfterGc(gc);
      const codeAfter = codeSpace();
      const wall = t.boot + t.run + t.close;
      const totalExits = vms * VCPUS * exits;
      const growth = (after - before) / before;
      if (h.emu.kernel.liveVms !== 0) throw new Error(`${h.emu.kernel.liveVms} VMs still live after closing them all`);
      log(
        `  ${vms} VMs × ${VCPUS} vCPUs × ${exits} exits, waves of ${WAVE}: wall ${(wall / 1000).toFixed(2)} s (create+start ${t.boot.toFixed(0)} ms = ${(t.boot / vms).toFixed(3)} ms/VM, ` +
          `${totalExits.toLocaleString('en-US')} exits ${t.run.toFixed(0)} ms = ${Math.round(totalExits / (t.run / 1000)).toLocaleString('en-US')} exits/s, close ${t.close.toFixed(0)} ms = ${(t.close / vms).toFixed(3)} ms/VM)`,
      );
      log(`  heap (heapUsed after 2 × gc): before ${fmtBytes(before)}, after ${fmtBytes(after)}, ${after >= before ? '+' : ''}${fmtBytes(after - before)} (${(growth * 100).toFixed(2)}%; ${((after - before) / vms).toFixed(0)} B per VM); of which code space ${codeAfter >= codeBefore ? '+' : ''}${fmtBytes(codeAfter - codeBefore)}`);
      return [
        {
          name: `${vms} VMs × ${VCPUS} vCPUs × ${exits} exits (ops/s = VMs per second of wall time)`,
          opsPerSec: vms / (wall / 1000),
          checks: [{ text: `heap after within ${HEAP_GROWTH_GOAL * 100}% of before (${growth >= 0 ? '+' : ''}${(growth * 100).toFixed(2)}%)`, pass: Math.abs(growth) <= HEAP_GROWTH_GOAL }],
          rounds: { subject: [{ ops: vms, ms: wall, opsPerSec: vms / (wall / 1000), cpuMs: (cu.user + cu.system) / 1000 }], baseline: [] },
          detail: `wall ${(wall / 1000).toFixed(2)} s; heap ${fmtBytes(before)} → ${fmtBytes(after)}`,
        },
      ];
    });
  },
};
