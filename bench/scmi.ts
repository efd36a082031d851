/**
 * SCMI requests per second from a guest through the whole virtio path, against the SCMI
 * backend's dispatch called directly with the same request bytes, in the same run.
 *
 * Subject: a guest program VM (src/cli/scmi-vm.ts: rings in a FORCE_SHARE region, a
 * virtio-scmi device behind the MMIO exits, wired at DRIVER_OK by ScmiVirtioDevice) whose
 * virtio-scmi driver loops on CLOCK_RATE_GET(0):
 *
 *   guest: request + descriptors + avail ring into shared memory ─▶ QueueNotify store
 *     ─▶ ioeventfd ─▶ kick eventfd ─▶ SCMI function: SplitQueue pop ─▶ backend.dispatch
 *     ─▶ SplitQueue push ─▶ call eventfd ─▶ irqfd ─▶ doorbell ─▶ vIRQ
 *   irq:  guest WFI (the vIRQ is pending) ─▶ InterruptStatus load (MMIO exit: the VMM reads the
 *         call eventfd) ─▶ InterruptACK store (MMIO exit) ─▶ used ring, reply read and checked
 *   poll: guest reads used.idx (avail.flags NO_INTERRUPT: no call eventfd, no exit at all)
 *
 * The program runs `repeat(256) { scmi-call CLOCK_RATE_GET(0), status checked }` then one
 * MMIO write to 0x6000 and starts again; the VMM loop (one `await` per exit) runs the vCPU to
 * that write, handing the device its exits on the way. One timed operation = 256 requests.
 * A wrong status crashes the guest, and the next RUN is a STATUS exit that stops the benchmark.
 *
 * Baseline: `backend.dispatch(handle, bytes)` 256 times per operation, with the same request
 * bytes (header CLOCK_RATE_GET, token 0, clock 0) from an agent with the same policy, awaited as
 * one async operation like the subject's.
 *
 * Goal: ≥ 100,000 requests/s end to end (each case). The ratio is printed, with no goal.
 *
 * Reference: scmi-virtio.md §4 (split ring), §5 (two-descriptor chains), §11 (Gunyah: MMIO
 * exits, ioeventfd, irqfd, shared rings); docs/scmi.md; docs/guest-images.md. Not part of the
 * emulator.
 */
import { bootScmiVm, runPastDevice, SCMI_VM_MARK, SCMI_VM_MMIO, SCMI_VM_RING } from '../src/cli/scmi-vm.js';
import { guestProgram } from '../src/guest/index.js';
import { buildRequest, DefaultDevice, ScmiProtocolId } from '../src/scmi/index.js';
import { withHost } from './lib/vm-boot.js';
import type { BenchRow, BenchSuite } from './lib/suite.js';
import { comparePair, type Op, type RoundResult, type TimingConfig } from './lib/timing.js';

/** Goal: requests per second through the whole path. */
export const SCMI_RATE_GOAL = 100_000;
/** Requests per timed operation (one MMIO write exit between batches). */
export const SCMI_BATCH = 256;
const CLOCK_RATE_GET = 0x6;
/** The UART device: the agent's clock 0. */
const AGENT = { agentId: 2, name: 'bench', deviceMask: 1n << BigInt(DefaultDevice.UART) } as const;
/** The baseline's agent: the same policy under another ID. */
const BASELINE_AGENT = 3;
/** The rate the UART clock reports (its lowest, nobody votes). */
const UART_MIN_RATE = 1_843_200;

/** probe, then forever: 256 × CLOCK_RATE_GET(0) (status and payload checked), MMIO write. */
export function scmiLoopImage(wait: 'irq' | 'poll', queueSize = 16): Uint8Array {
  return guestProgram()
    .virtioScmiProbe(SCMI_VM_MMIO, SCMI_VM_RING, { queueSize })
    .forever((p) =>
      p
        .repeat(SCMI_BATCH, (q) => q.scmiCall(ScmiProtocolId.CLOCK, CLOCK_RATE_GET, [0], { expectStatus: 0, expectPayload: [UART_MIN_RATE, 0], wait }))
        .mmioWrite(SCMI_VM_MARK, 8, 1),
    )
    .build();
}

/** The request bytes the guest sends (token aside): CLOCK_RATE_GET, clock 0. */
export function rateGetRequest(): Uint8Array {
  return buildRequest({ protocolId: ScmiProtocolId.CLOCK, messageId: CLOCK_RATE_GET, messageType: 0, token: 0 }, new Uint8Array(4));
}

const describe = (e: unknown): string => JSON.stringify(e, (_, v: unknown) => (typeof v === 'bigint' ? `0x${v.toString(16)}` : v));
const fmt = (n: number): string => Math.round(n).toLocaleString('en-US');
const perRequest = (xs: readonly RoundResult[]): RoundResult[] =>
  xs.map((x) => ({ ops: x.ops * SCMI_BATCH, ms: x.ms, opsPerSec: x.opsPerSec * SCMI_BATCH, cpuMs: x.cpuMs }));

interface Case {
  readonly name: string;
  readonly wait: 'irq' | 'poll';
}

/**
 * Poll first: each case runs on its own emulator but in the same process, and whichever runs
 * second inherits the JIT's type feedback of the first (the irq case's exits make the shared
 * VMM, kernel and driver paths polymorphic): poll measured after irq loses ~20%, irq after poll
 * ~10% (docs/benchmarks.md).
 */
const CASES: readonly Case[] = [
  { name: 'CLOCK_RATE_GET, poll (used ring only, no exit)', wait: 'poll' },
  { name: 'CLOCK_RATE_GET, irq (WFI, InterruptStatus + ACK exits)', wait: 'irq' },
];

export const suite: BenchSuite = {
  name: 'scmi',
  description: `SCMI requests/s from a guest (virtqueue, ioeventfd, backend, irqfd) vs backend.dispatch with the same bytes; ${SCMI_BATCH} requests per operation`,
  async run(timing: TimingConfig, log: (line: string) => void): Promise<BenchRow[]> {
    const rows: BenchRow[] = [];
    for (const c of CASES) {
      const row = await withHost(async (h): Promise<BenchRow> => {
        const s = await bootScmiVm(h.emu.host, { image: scmiLoopImage(c.wait), agent: AGENT });
        const v = s.vcpus[0]!;
        const counts = { device: 0 };
        const subject: Op = async () => {
          const e = await runPastDevice(v, s.device, counts);
          if (e.kind !== 'mmio' || !e.mmio.isWrite || e.mmio.physAddr !== SCMI_VM_MARK) throw new Error(`expected the guest's batch mark, got ${describe(e)}`);
        };
        await subject(); // probe and the first batch: the device must be bound
        if (!s.device.bound) throw new Error(`the device did not bind: ${String(s.device.lastError)}`);
        const backend = h.emu.scmi;
        const handle = backend.openAgent({ agentId: BASELINE_AGENT, name: 'baseline', devices: [DefaultDevice.UART], protocols: [ScmiProtocolId.CLOCK] });
        const bytes = rateGetRequest();
        const check = backend.dispatch(handle, bytes);
        if (check.length !== 16 || new DataView(check.buffer, check.byteOffset).getInt32(4, true) !== 0) throw new Error('baseline: CLOCK_RATE_GET did not succeed');
        const baseline: Op = async () => {
          for (let i = 0; i < SCMI_BATCH; i++) backend.dispatch(handle, bytes);
        };
        const r = await comparePair(subject, baseline, timing);
        // One more batch, counted alone: the device's exits per request.
        const exits0 = counts.device;
        await subject();
        const exitsPerRequest = (counts.device - exits0) / SCMI_BATCH;
        const rate = r.subjectMedian * SCMI_BATCH;
        const base = r.baselineMedian * SCMI_BATCH;
        log(
          `  ${c.name}: ${fmt(rate)} requests/s (${(1e9 / rate).toFixed(0)} ns each, ${exitsPerRequest.toFixed(2)} device exits per request), dispatch alone ${fmt(base)}/s (${(1e9 / base).toFixed(0)} ns), ratio ${r.ratio.toFixed(3)}`,
        );
        backend.closeAgent(handle);
        const errs = h.emu.checkInvariants();
        if (errs.length > 0) throw new Error(`invariants after the loop: ${errs.slice(0, 3).join('; ')}`);
        await s.close();
        return {
          name: c.name,
          opsPerSec: rate,
          baselineOpsPerSec: base,
          ratio: r.ratio,
          checks: [{ text: `≥ ${fmt(SCMI_RATE_GOAL)} requests/s`, pass: rate >= SCMI_RATE_GOAL }],
          rounds: { subject: perRequest(r.subject), baseline: perRequest(r.baseline) },
          detail: `${(1e9 / rate).toFixed(0)} ns per request end to end, ${(1e9 / base).toFixed(0)} ns per direct dispatch; ${exitsPerRequest.toFixed(2)} device exits per request`,
        };
      });
      rows.push(row);
    }
    return rows;
  },
};
