/**
 * Memory parcels at scale: a 64 GiB guest described as 16 Mi pages in scattered runs, lent by
 * the host through the RM, accepted by the guest, released and reclaimed — timed per phase and
 * as a whole cycle against a bare loop over the same extent list, with the heap the parcel
 * holds; and one 64 GiB extent against one 4 KiB extent, to show that the cost follows extents,
 * not pages.
 *
 * Reference: rm-rpc.md §12.5 (layouts; ACCEPT reply INCOMPLETE), §16.1 (Linux: LEND for one ACL
 * entry, MEM_APPEND chunks of ≤ 512), §16.5 (ACCEPT with RM-chosen IPAs, RELEASE, RECLAIM);
 * hypervisor.md §8 (donate and map are per extent). Not part of the emulator.
 *
 * The cycle, all through the real RPC path (message queues both ways):
 *   LEND     host: RmCalls.memShare (MEM_LEND with APPEND + ⌈n/512⌉−1 MEM_APPEND, END on the last)
 *   ACCEPT   guest: MEM_ACCEPT with n_sgl 0 (the RM chooses the IPAs, one per region, 512 per
 *            reply) repeated without DONE while the reply says INCOMPLETE, then once with DONE
 *            (nothing left to allocate: the RM maps every region)
 *   RELEASE  guest: MEM_RELEASE
 *   RECLAIM  host: RmCalls.memReclaim
 * The guest talks through its own RmClient on its own RM link (the rm-rpc vdevice of its DT).
 *
 * Baseline ("bare"): one loop over the same extent list that sums the sizes and writes each
 * entry into a preallocated Float64Array: the least any implementation must do per extent.
 */
import { runInNewContext } from 'node:vm';
import { setFlagsFromString } from 'node:v8';
import { createEmulator, type Emulator } from '../src/emulator.js';
import { RmCalls, createRmClient, type RmClient } from '../src/rm-rpc/client/index.js';
import { buildTestDtb } from '../src/conformance/dtb.js';
import { toHex } from '../src/shared/bytes.js';
import { RmMsgId } from '../src/rm-rpc/wire/msg-ids.js';
import { MEM_ACCEPT_REQ, MEM_ACCEPT_SGL_REPLY, MEM_RELEASE_REQ, type SglEntry } from '../src/rm-rpc/wire/mem.js';
import { MemAcceptFlag, MemAcceptReplyFlag, MemRights, MemType, TransType, VmStatus } from '../src/rm-rpc/wire/enums.js';
import type { MsgqEndpoint } from '../src/msgq/endpoint.js';
import type { BenchRow, BenchSuite } from './lib/suite.js';
import type { RoundResult, TimingConfig } from './lib/timing.js';
import { median } from './lib/timing.js';

const PAGE = 4096;
const GiB = 2 ** 30;
/** The guest: 64 GiB = 16 Mi pages. */
export const GUEST_PAGES = (64 * GiB) / PAGE;
/** Run sizes 1..256 pages (4 KiB..1 MiB), gaps 1..1024 pages (4 KiB..4 MiB): ~130,000 runs over ~320 GiB. */
const RUN_PAGES_MAX = 256;
const GAP_PAGES_MAX = 1024;
/** Where the runs start: host RAM begins at 2 GiB (the platform takes image parcels from its top). */
const RAM_BASE = 0x8000_0000;
/** Goal: the whole cycle within 10× the bare loop (as a ratio of rates: ≥ 0.1). */
export const CYCLE_RATIO_GOAL = 0.1;
/** Goal: a 64 GiB one-extent cycle costs about what a 4 KiB one does (rate ratio ≥ 0.5). */
export const EXTENT_RATIO_GOAL = 0.5;

/** The extent list: PAs and sizes (bytes), in PA order. */
export interface ExtentList {
  readonly pa: Float64Array;
  readonly size: Float64Array;
  readonly count: number;
}

/** A deterministic PRNG (mulberry32), so that every run measures the same layout. */
function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** 16 Mi pages in runs of 1..256 pages separated by gaps of 1..1024 pages, from RAM_BASE up. */
export function scatteredExtents(seed = 1): ExtentList {
  const rand = rng(seed);
  const pa: number[] = [];
  const size: number[] = [];
  let left = GUEST_PAGES;
  let at = RAM_BASE / PAGE;
  while (left > 0) {
    at += 1 + Math.floor(rand() * GAP_PAGES_MAX);
    const n = Math.min(left, 1 + Math.floor(rand() * RUN_PAGES_MAX));
    pa.push(at * PAGE);
    size.push(n * PAGE);
    at += n;
    left -= n;
  }
  return { pa: Float64Array.from(pa), size: Float64Array.from(size), count: pa.length };
}

/** The floor: sum the sizes and copy every entry into `out` (2 slots per entry). Returns the sum. */
export function bareLoop(x: ExtentList, out: Float64Array): number {
  let total = 0;
  for (let i = 0; i < x.count; i++) {
    const s = x.size[i]!;
    total += s;
    out[2 * i] = x.pa[i]!;
    out[2 * i + 1] = s;
  }
  return total;
}

/**
 * `global.gc`: the one node exposes with --expose-gc, or else one obtained by setting V8's flag
 * at run time and taking `gc` from a fresh context (the flag applies to contexts created after it).
 */
function getGc(): () => void {
  const g = (globalThis as { gc?: () => void }).gc;
  if (typeof g === 'function') return g;
  setFlagsFromString('--expose-gc');
  return runInNewContext('gc') as () => void;
}

/** Heap in use after two full collections. */
function heapAfterGc(gc: () => void): number {
  gc();
  gc();
  return process.memoryUsage().heapUsed;
}

/**
 * An emulator with one running guest that talks to the RM through its own RmClient.
 * `renewGuest()` resets the guest and brings it up again, outside any timed phase, so that every
 * cycle starts from the same state (an empty guest address space and IPA reservations).
 */
export interface Rig {
  readonly emu: Emulator;
  readonly host: RmCalls;
  readonly guestVmid: number;
  readonly guest: RmClient;
  renewGuest(): Promise<void>;
  close(): void;
}

export async function createRig(): Promise<Rig> {
  // 'keep': the image parcel stays a parcel the guest accepted, released by each reset, so
  // renewGuest() can configure the guest from the same handle again (decisions B12).
  const emu = createEmulator({ rm: { imageParcelAtStart: 'keep' } });
  const host = new RmCalls(emu.rmClient);
  const vmid = await host.allocVmid();
  const dtb = buildTestDtb({ cpus: 1 });
  const imageHandle = await emu.rm.control.seedParcel({ acl: [{ vmid, rights: MemRights.RW }], contentsHex: toHex(dtb, '') });
  const cfg = { vmid, authType: 0, imageHandle, imageOffset: 0n, imageSize: 0n, dtOffset: 0n, dtSize: BigInt(dtb.byteLength) };
  let link: { endpoint: MsgqEndpoint; release: () => void } | undefined;
  let guest: RmClient | undefined;
  const up = async (): Promise<void> => {
    await host.vmConfigure(cfg);
    await host.vmInit(vmid);
    await host.vmStart(vmid);
    link = emu.acquireRmEndpoint(vmid);
    guest = createRmClient({ transport: link.endpoint });
  };
  const down = (): void => {
    guest?.close();
    link?.release();
    guest = undefined;
    link = undefined;
  };
  await up();
  return {
    emu,
    host,
    guestVmid: vmid,
    get guest(): RmClient {
      return guest!;
    },
    async renewGuest() {
      down();
      await host.vmStop(vmid);
      await host.vmReset(vmid);
      for (let i = 0; i < 1000 && (await host.vmGetState(vmid)).vmStatus !== VmStatus.RESET; i++);
      await up();
    },
    close() {
      down();
      emu.close();
    },
  };
}

/** Phase times of one cycle, in ms, and what the accept took. */
export interface CycleTimes {
  readonly lend: number;
  /** ACCEPT calls without DONE (RM-chosen IPAs, 512 per reply); 0 with MAP_CONTIGUOUS. */
  readonly acceptIpas: number;
  /** The final ACCEPT with DONE (maps every region); with MAP_CONTIGUOUS, the one ACCEPT. */
  readonly acceptDone: number;
  readonly release: number;
  readonly reclaim: number;
  readonly total: number;
  readonly acceptCalls: number;
  /** heapUsed deltas (bytes) from before LEND, when measured: after LEND, after ACCEPT, after RECLAIM. */
  readonly heap?: { readonly lent: number; readonly accepted: number; readonly after: number };
  /** When measured: what the memory model holds more while the parcel is mapped (memdb runs, mappings). */
  readonly books?: string;
}

const acceptReq = (handle: number, flags: number): Uint8Array =>
  MEM_ACCEPT_REQ.encode({ handle, memType: MemType.NORMAL, transType: TransType.LEND, flags, label: 0, acl: [], mapVmid: 0, sgl: [], attrs: [] });

/**
 * One LEND → ACCEPT → RELEASE → RECLAIM cycle of `sgl`, on a freshly reset guest. With `gc`, the
 * heap is measured between phases (those collections are outside the phase times).
 */
export async function cycle(rig: Rig, sgl: readonly SglEntry[], gc?: () => void, contiguous = false): Promise<CycleTimes> {
  await rig.renewGuest();
  let bytes = 0n;
  for (const e of sgl) bytes += e.size;
  const h0 = gc ? heapAfterGc(gc) : 0;
  const s0 = rig.emu.hyp.memory.stats();
  let t = performance.now();
  const handle = await rig.host.memShare({ acl: [{ vmid: rig.guestVmid, rights: MemRights.RW }], sgl });
  const lend = performance.now() - t;
  const hLent = gc ? heapAfterGc(gc) : 0;

  t = performance.now();
  let calls = 0;
  let acceptIpas = 0;
  if (contiguous) {
    // One call: the RM chooses one IPA range for the whole parcel and maps it.
    const r = MEM_ACCEPT_SGL_REPLY.decode(await rig.guest.call(RmMsgId.MEM_ACCEPT, acceptReq(handle, MemAcceptFlag.DONE | MemAcceptFlag.MAP_CONTIGUOUS)));
    if (r.sgl.length !== 1 || r.sgl[0]!.size !== bytes) throw new Error('the MAP_CONTIGUOUS reply is not one range for the whole parcel');
  } else {
    let mapped = 0;
    for (;;) {
      const r = MEM_ACCEPT_SGL_REPLY.decode(await rig.guest.call(RmMsgId.MEM_ACCEPT, acceptReq(handle, 0)));
      calls++;
      mapped += r.sgl.length;
      if (!(r.flags & MemAcceptReplyFlag.INCOMPLETE)) break;
    }
    if (mapped !== sgl.length) throw new Error(`the RM chose ${mapped} IPAs for ${sgl.length} regions`);
    acceptIpas = performance.now() - t;
    t = performance.now();
    await rig.guest.call(RmMsgId.MEM_ACCEPT, acceptReq(handle, MemAcceptFlag.DONE));
  }
  const acceptDone = performance.now() - t;
  const hAccepted = gc ? heapAfterGc(gc) : 0;
  const s1 = rig.emu.hyp.memory.stats();

  t = performance.now();
  await rig.guest.call(RmMsgId.MEM_RELEASE, MEM_RELEASE_REQ.encode({ handle, flags: 0 }));
  const release = performance.now() - t;
  t = performance.now();
  await rig.host.memReclaim(handle);
  const reclaim = performance.now() - t;
  const hAfter = gc ? heapAfterGc(gc) : 0;
  return {
    lend,
    acceptIpas,
    acceptDone,
    release,
    reclaim,
    total: lend + acceptIpas + acceptDone + release + reclaim,
    acceptCalls: calls + 1,
    ...(gc ? { heap: { lent: hLent - h0, accepted: hAccepted - h0, after: hAfter - h0 }, books: `memdb runs +${s1.runs - s0.runs}, mappings +${s1.mappings - s0.mappings}` } : {}),
  };
}

/** Check that the cycle left nothing behind: no parcel, RAM all the host's, invariants hold. */
function checkClean(rig: Rig, hostBytes: number): void {
  const errs = rig.emu.checkInvariants();
  if (errs.length > 0) throw new Error(`invariants after a cycle: ${errs.slice(0, 3).join('; ')}`);
  const parcels = rig.emu.rm.inspect().parcels.length;
  if (parcels !== 1) throw new Error(`${parcels} parcels after a cycle (expected only the image)`);
  const own = rig.emu.hyp.memory.ownership().get(3);
  if (own !== hostBytes) throw new Error(`the host owns ${own} bytes after a cycle, ${hostBytes} before`);
}

const fmtMs = (ms: number): string => (ms >= 100 ? ms.toFixed(0) : ms >= 1 ? ms.toFixed(1) : ms.toFixed(3));
const fmtMiB = (b: number): string => (Math.abs(b) >= 2 ** 20 ? `${(b / 2 ** 20).toFixed(1)} MiB` : `${(b / 1024).toFixed(1)} KiB`);
const asRound = (ms: number, cpuMs: number): RoundResult => ({ ops: 1, ms, opsPerSec: 1000 / ms, cpuMs });

/** Time `n` back-to-back bare loops; the per-loop ms. */
function timeBare(x: ExtentList, out: Float64Array, n: number): { ms: number; cpuMs: number; sink: number } {
  const c0 = process.cpuUsage();
  const t0 = performance.now();
  let sink = 0;
  for (let i = 0; i < n; i++) sink += bareLoop(x, out);
  const ms = (performance.now() - t0) / n;
  const c = process.cpuUsage(c0);
  return { ms, cpuMs: (c.user + c.system) / 1000 / n, sink };
}

/**
 * A second reference, not the goal's baseline: the hypervisor memory model's own work for the
 * cycle, called directly (no RPC, no parcel store): donate every run to a scratch extent, map each
 * into a scratch address space at consecutive IPAs, unmap them, donate them back. What the cycle
 * costs above this is the RM's and the transport's.
 */
export function modelFloor(rig: Rig, x: ExtentList): number {
  const mem = rig.emu.hyp.memory;
  const host = rig.emu.hyp.hostExtent;
  const scratchVm = 0xfffe;
  const ipaBase = 0x100_0000_0000;
  const t0 = performance.now();
  const e = mem.createExtent(3, 'bench-floor');
  for (let i = 0; i < x.count; i++) mem.donate(host, e, x.pa[i]!, x.size[i]!);
  let ipa = ipaBase;
  for (let i = 0; i < x.count; i++) {
    mem.map(scratchVm, e, ipa, x.pa[i]!, x.size[i]!, 6);
    ipa += x.size[i]!;
  }
  mem.unmap(scratchVm, e, ipaBase, ipa - ipaBase);
  for (let i = 0; i < x.count; i++) mem.donate(e, host, x.pa[i]!, x.size[i]!);
  mem.destroyExtent(e);
  return performance.now() - t0;
}

export const suite: BenchSuite = {
  name: 'mem-parcel',
  description: '64 GiB in ~130,000 scattered runs: LEND (memShare + MEM_APPEND) → ACCEPT (RM-chosen IPAs, INCOMPLETE loop, DONE) → RELEASE → RECLAIM vs a bare loop over the extent list',
  async run(timing: TimingConfig, log: (line: string) => void): Promise<BenchRow[]> {
    const gc = getGc();
    const x = scatteredExtents(1);
    let total = 0;
    for (let i = 0; i < x.count; i++) total += x.size[i]!;
    if (total !== 64 * GiB) throw new Error(`the extent list covers ${total} bytes`);
    const sgl: SglEntry[] = Array.from({ length: x.count }, (_, i) => ({ address: BigInt(x.pa[i]!), size: BigInt(x.size[i]!) }));
    const last = x.pa[x.count - 1]! + x.size[x.count - 1]!;
    log(`  ${x.count.toLocaleString('en-US')} runs of 4 KiB..1 MiB (${GUEST_PAGES.toLocaleString('en-US')} pages, 64 GiB) over host PA 0x${RAM_BASE.toString(16)}..0x${last.toString(16)} (${((last - RAM_BASE) / GiB).toFixed(0)} GiB)`);
    log(`  SGL: 1 MEM_LEND (APPEND) + ${Math.ceil(x.count / 512) - 1} MEM_APPEND; ACCEPT: ${Math.ceil(x.count / 512)} calls without DONE + 1 with DONE`);

    const rig = await createRig();
    const rows: BenchRow[] = [];
    try {
      const hostBytes = rig.emu.hyp.memory.ownership().get(3)!;
      // Warm-up cycle, with the heap measured between phases.
      const warm = await cycle(rig, sgl, gc);
      checkClean(rig, hostBytes);
      const h = warm.heap!;
      log(`  heap (heapUsed after gc, vs before LEND): lent ${fmtMiB(h.lent)}, accepted+mapped ${fmtMiB(h.accepted)}, after reclaim ${fmtMiB(h.after)}; ${(h.accepted / x.count).toFixed(0)} B per run while mapped (${warm.books})`);

      // Timed rounds: one cycle, then the bare loop (as many times as fit in ~50 ms), alternating.
      const out = new Float64Array(2 * x.count);
      const warmBare = timeBare(x, out, 20);
      const nBare = Math.max(20, Math.round(50 / Math.max(warmBare.ms, 1e-3)));
      const cycles: CycleTimes[] = [];
      const subject: RoundResult[] = [];
      const baseline: RoundResult[] = [];
      let sink = warmBare.sink;
      for (let r = 0; r < timing.rounds; r++) {
        gc();
        const c0 = process.cpuUsage();
        const c = await cycle(rig, sgl);
        const cu = process.cpuUsage(c0);
        checkClean(rig, hostBytes);
        cycles.push(c);
        subject.push(asRound(c.total, (cu.user + cu.system) / 1000));
        const b = timeBare(x, out, nBare);
        sink += b.sink;
        baseline.push(asRound(b.ms, b.cpuMs));
      }
      const med = (f: (c: CycleTimes) => number): number => median(cycles.map(f));
      const cycleMs = med((c) => c.total);
      const bareMs = median(baseline.map((b) => b.ms));
      log(
        `  phases (median of ${cycles.length}, ms): LEND ${fmtMs(med((c) => c.lend))}, ACCEPT IPAs ${fmtMs(med((c) => c.acceptIpas))} (${cycles[0]!.acceptCalls - 1} calls), ACCEPT DONE ${fmtMs(med((c) => c.acceptDone))}, RELEASE ${fmtMs(med((c) => c.release))}, RECLAIM ${fmtMs(med((c) => c.reclaim))}; cycle ${fmtMs(cycleMs)}`,
      );
      log(`  bare loop over the ${x.count.toLocaleString('en-US')} extents: ${fmtMs(bareMs)} ms (checksum ${sink > 0 ? 'ok' : '0'}); cycle/bare = ${(cycleMs / bareMs).toFixed(0)}× (goal ≤ ${1 / CYCLE_RATIO_GOAL}×)`);
      const floors: number[] = [];
      for (let r = 0; r < Math.max(3, timing.rounds); r++) {
        gc();
        floors.push(modelFloor(rig, x));
        checkClean(rig, hostBytes);
      }
      const floorMs = median(floors);
      log(`  memory model alone (donate, map, unmap, donate back; no RPC, no store): ${fmtMs(floorMs)} ms = ${(floorMs / bareMs).toFixed(0)}× bare; the cycle is ${(cycleMs / floorMs).toFixed(1)}× that`);
      rows.push({
        name: `64 GiB in ${x.count.toLocaleString('en-US')} runs: cycle vs bare loop`,
        opsPerSec: 1000 / cycleMs,
        baselineOpsPerSec: 1000 / bareMs,
        ratio: bareMs / cycleMs,
        goal: CYCLE_RATIO_GOAL,
        rounds: { subject, baseline },
        detail: `cycle ${fmtMs(cycleMs)} ms, bare ${fmtMs(bareMs)} ms, cycle/bare ${(cycleMs / bareMs).toFixed(0)}×`,
      });

      // The same extents accepted with MAP_CONTIGUOUS: one ACCEPT, one IPA range.
      const contig: CycleTimes[] = [];
      for (let r = 0; r < Math.max(3, Math.ceil(timing.rounds / 2)); r++) {
        gc();
        contig.push(await cycle(rig, sgl, undefined, true));
        checkClean(rig, hostBytes);
      }
      const cm = (f: (c: CycleTimes) => number): number => median(contig.map(f));
      log(
        `  MAP_CONTIGUOUS instead (median of ${contig.length}, ms): LEND ${fmtMs(cm((c) => c.lend))}, ACCEPT (one call, DONE) ${fmtMs(cm((c) => c.acceptDone))}, RELEASE ${fmtMs(cm((c) => c.release))}, RECLAIM ${fmtMs(cm((c) => c.reclaim))}; cycle ${fmtMs(cm((c) => c.total))}`,
      );

      // One extent: 64 GiB against 4 KiB (a fresh region of host RAM above the scattered runs).
      const at = Math.ceil(last / GiB) * GiB;
      const big: SglEntry[] = [{ address: BigInt(at), size: BigInt(64 * GiB) }];
      const small: SglEntry[] = [{ address: BigInt(at), size: BigInt(PAGE) }];
      const one = async (s: readonly SglEntry[]): Promise<{ ms: number; heap: number; books: string; rounds: RoundResult[] }> => {
        const w = await cycle(rig, s, gc);
        checkClean(rig, hostBytes);
        const times: number[] = [];
        for (let i = 0; i < Math.max(5, timing.rounds * 4); i++) {
          times.push((await cycle(rig, s)).total);
          checkClean(rig, hostBytes);
        }
        return { ms: median(times), heap: w.heap!.accepted, books: w.books!, rounds: times.map((ms) => asRound(ms, ms)) };
      };
      const bigR = await one(big);
      const smallR = await one(small);
      const bigRounds = bigR.rounds;
      const smallRounds = smallR.rounds;
      log(`  one extent: 64 GiB cycle ${fmtMs(bigR.ms)} ms, heap while mapped ${fmtMiB(bigR.heap)}, ${bigR.books}; 4 KiB cycle ${fmtMs(smallR.ms)} ms, heap ${fmtMiB(smallR.heap)}, ${smallR.books}`);
      rows.push({
        name: 'one extent: 64 GiB vs 4 KiB cycle',
        opsPerSec: 1000 / bigR.ms,
        baselineOpsPerSec: 1000 / smallR.ms,
        ratio: smallR.ms / bigR.ms,
        goal: EXTENT_RATIO_GOAL,
        rounds: { subject: bigRounds, baseline: smallRounds },
        detail: `64 GiB ${fmtMs(bigR.ms)} ms / ${fmtMiB(bigR.heap)}, 4 KiB ${fmtMs(smallR.ms)} ms / ${fmtMiB(smallR.heap)}`,
      });
    } finally {
      rig.close();
    }
    return rows;
  },
};
