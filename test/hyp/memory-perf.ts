/**
 * Performance figures of the hypervisor memory model (hypervisor.md §8), not a test: run with
 * `npx tsx test/hyp/memory-perf.ts`. It prints, for a 64 GiB extent:
 *   1. donating 100,000 scattered 4–64 KiB runs to another extent and back (random and PA order),
 *   2. the cost of one 64 GiB donate against one 4 KiB donate (time, runs, heap),
 *   3. one-byte and 8-byte checked accesses and translations with 200,000 runs in the memdb.
 * Target (task brief): (1) well under 200 ms in total; (2) about equal; (3) O(log n).
 */
import { createMemoryModel, Access, PAGE_SIZE, type MemoryModel } from '../../src/hyp/memory/index.js';

const GiB = 2 ** 30;
const RAM = 64 * GiB;
const RUNS = 100_000;

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

/** RUNS non-overlapping runs of 1..16 pages, one per equal slot of the RAM, in PA order. */
function scatteredRuns(rand: () => number): Array<{ pa: number; size: number }> {
  const slotPages = Math.floor(RAM / PAGE_SIZE / RUNS);
  const out: Array<{ pa: number; size: number }> = [];
  for (let i = 0; i < RUNS; i++) {
    const pages = 1 + Math.floor(rand() * 16);
    const off = Math.floor(rand() * (slotPages - pages));
    out.push({ pa: (i * slotPages + off) * PAGE_SIZE, size: pages * PAGE_SIZE });
  }
  return out;
}

function shuffle<T>(a: T[], rand: () => number): T[] {
  for (let i = a.length - 1; i > 0; i--) {
    const j = Math.floor(rand() * (i + 1));
    [a[i], a[j]] = [a[j]!, a[i]!];
  }
  return a;
}

function setup(): { mm: MemoryModel; hlos: number; parcel: number } {
  const mm = createMemoryModel();
  const hlos = mm.createExtent(3, 'hlos');
  const parcel = mm.createExtent(3, 'parcel');
  mm.addRam(hlos, 0, RAM);
  mm.map(3, hlos, 0, 0, RAM, Access.RWX);
  return { mm, hlos, parcel };
}

/** JS heap plus typed-array memory, in MiB (run with --expose-gc for stable figures). */
function heapMiB(): number {
  globalThis.gc?.();
  const m = process.memoryUsage();
  return (m.heapUsed + m.arrayBuffers) / 2 ** 20;
}

/** One round trip; returns [out ms, back ms]. The runs are in flat arrays so the loop itself costs nothing. */
function roundTrip(pas: Float64Array, sizes: Float64Array, verbose: boolean, memory = false): [number, number] {
  const { mm, hlos, parcel } = setup();
  const h0 = heapMiB();
  const t0 = performance.now();
  for (let k = 0; k < pas.length; k++) mm.donate(hlos, parcel, pas[k]!, sizes[k]!);
  const t1 = performance.now();
  const mid = mm.stats().runs;
  const h1 = memory ? heapMiB() : 0;
  const t1b = performance.now();
  for (let k = 0; k < pas.length; k++) mm.donate(parcel, hlos, pas[k]!, sizes[k]!);
  const t2 = performance.now();
  if (verbose) {
    const bad = mm.checkInvariants();
    console.log(
      `  first (cold) round: out ${(t1 - t0).toFixed(1)} ms, back ${(t2 - t1b).toFixed(1)} ms; ` +
        `runs ${mid} → ${mm.stats().runs}` +
        (memory ? `; memory +${(h1 - h0).toFixed(2)} MiB (${(((h1 - h0) * 2 ** 20) / mid).toFixed(0)} B a run)` : '') +
        (bad.length ? `; INVARIANTS BROKEN: ${bad[0]}` : '; invariants hold'),
    );
  }
  return [t1 - t0, t2 - t1b];
}

function report(label: string, list: Array<{ pa: number; size: number }>, memory: boolean): void {
  const pas = Float64Array.from(list, (r) => r.pa);
  const sizes = Float64Array.from(list, (r) => r.size);
  roundTrip(pas, sizes, true, memory);
  const totals: number[] = [];
  let best: [number, number] = [Infinity, Infinity];
  for (let i = 0; i < 7; i++) {
    const t = roundTrip(pas, sizes, false);
    totals.push(t[0] + t[1]);
    if (t[0] + t[1] < best[0] + best[1]) best = t;
  }
  totals.sort((a, b) => a - b);
  console.log(
    `  ${label}: total median ${totals[3]!.toFixed(1)} ms, best ${totals[0]!.toFixed(1)} ms ` +
      `(out ${best[0].toFixed(1)} + back ${best[1].toFixed(1)}), worst ${totals[6]!.toFixed(1)} ms`,
  );
}

function main(): void {
  const rand = rng(1);
  const inPa = scatteredRuns(rand);
  const random = shuffle([...inPa], rand);

  console.log(`1. ${RUNS} scattered 4–64 KiB runs out of a 64 GiB extent and back (8 rounds, first one reported apart)`);
  // Memory is measured on the first round only: later rounds free earlier garbage, and V8
  // releases typed-array memory lazily, which would blur the figure.
  report('random order', random, true);
  report('PA order    ', inPa, false);

  console.log('2. one donate of 64 GiB against one of 4 KiB (1000 fresh models each)');
  for (const size of [PAGE_SIZE, RAM]) {
    const models = Array.from({ length: 1000 }, setup);
    const t0 = performance.now();
    const pa = size === RAM ? 0 : 16 * PAGE_SIZE;
    for (const { mm, hlos, parcel } of models) mm.donate(hlos, parcel, pa, size);
    const t = performance.now() - t0;
    console.log(
      `  ${size === RAM ? '64 GiB' : '4 KiB '}: ${t.toFixed(2)} µs per donate, ${models[0]!.mm.stats().runs} runs after`,
    );
  }

  console.log('3. checked accesses with 200,000 runs in the memdb (every other one lent away)');
  const { mm, hlos, parcel } = setup();
  for (const r of inPa) mm.donate(hlos, parcel, r.pa, r.size);
  const n = 1_000_000;
  const probes = Array.from({ length: 4096 }, (_, i) => {
    const r = inPa[(i * 7919) % RUNS]!;
    return r.pa + r.size + 8 * (i % 64); // just after a lent run: still the owner's
  });
  const eight = new Uint8Array([1, 2, 3, 4, 5, 6, 7, 8]);
  for (let rep = 0; rep < 2; rep++) {
    let t0 = performance.now();
    for (let i = 0; i < n; i++) mm.write(3, probes[i & 4095]!, eight);
    let t1 = performance.now();
    let sum = 0;
    for (let i = 0; i < n; i++) sum += mm.read(3, probes[i & 4095]!, 1)[0]!;
    let t2 = performance.now();
    for (let i = 0; i < n; i++) sum += mm.translate(3, probes[i & 4095]!, 1).length;
    let t3 = performance.now();
    console.log(
      `  write 8 B ${(((t1 - t0) / n) * 1e6).toFixed(0)} ns, read 1 B ${(((t2 - t1) / n) * 1e6).toFixed(0)} ns, ` +
        `translate 1 B ${(((t3 - t2) / n) * 1e6).toFixed(0)} ns (checksum ${sum})`,
    );
    t0 = performance.now();
    let faults = 0;
    for (let i = 0; i < n; i++) if (mm.check(3, inPa[i % RUNS]!.pa, 1, 'read')) faults++;
    t1 = performance.now();
    console.log(`  check of a lent byte (a fault) ${(((t1 - t0) / n) * 1e6).toFixed(0)} ns (${faults} faults)`);
  }
  {
    const base = inPa[RUNS >> 1]!.pa + inPa[RUNS >> 1]!.size; // an owned page after a lent run
    const t0 = performance.now();
    let sum = 0;
    for (let i = 0; i < n; i++) {
      mm.write(3, base + ((i * 8) & 4095), eight);
      sum += mm.read(3, base + ((i * 8) & 4095), 1)[0]!;
    }
    const t1 = performance.now();
    console.log(`  local accesses (one page): write 8 B + read 1 B ${(((t1 - t0) / n) * 1e6).toFixed(0)} ns a pair (checksum ${sum})`);
  }
  console.log(`  stats ${JSON.stringify(mm.stats())}, invariants ${mm.checkInvariants().length === 0 ? 'hold' : 'BROKEN'}`);
}

main();
