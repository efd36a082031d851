/**
 * Benchmark timing: run an async operation back to back for a fixed wall-clock time and count
 * how many completed; compare a subject with its baseline over interleaved rounds.
 *
 * Not part of the emulator; used only by bench/*.ts (DESIGN.md "Benchmarks", STYLE.md tree:
 * "each printing its figures and its baseline in the same run").
 *
 * Why hand-rolled and not tinybench: tinybench times every iteration separately and reports
 * per-iteration statistics for one task at a time. What we need is a throughput figure per
 * round, the subject and its baseline alternated round by round (A B B A …) so that CPU
 * frequency and GC drift hit both alike, and the median over rounds. That is about sixty lines
 * here, with no extra dependency and no per-iteration clock read (we read the clock once per
 * batch, sized to about 1 ms of work).
 *
 *   warm-up(subject) warm-up(baseline) │ S B │ B S │ S B │ B S │ S B │ → median per side
 */

/** One asynchronous operation to measure (one RPC round trip, say). It must settle once done. */
export type Op = () => Promise<unknown>;

/** Throughput of one timed round. */
export interface RoundResult {
  /** Operations completed. */
  readonly ops: number;
  /** Elapsed wall-clock time in milliseconds. */
  readonly ms: number;
  /** ops / (ms / 1000). */
  readonly opsPerSec: number;
  /**
   * CPU time the whole process used meanwhile (user + system, all threads, so V8's GC helper
   * threads count too), in ms. Well under `ms` means the round was starved by other load.
   */
  readonly cpuMs: number;
}

/** How long and how often to measure. */
export interface TimingConfig {
  /** Warm-up time per operation before any timed round, in ms. */
  readonly warmupMs: number;
  /** Length of one timed round, in ms. */
  readonly roundMs: number;
  /** Timed rounds per operation (the median is reported). */
  readonly rounds: number;
  /** `--quick`: suites that count work rather than time it (boots, VMs) do less of it. */
  readonly quick?: boolean;
}

/** The default: 1.5 s warm-up, then 5 rounds of 2 s per operation. */
export const DEFAULT_TIMING: TimingConfig = { warmupMs: 1500, roundMs: 2000, rounds: 5 };

/** Median of a non-empty list (mean of the two middle values for an even count). */
export function median(xs: readonly number[]): number {
  if (xs.length === 0) throw new RangeError('median of an empty list');
  const s = [...xs].sort((a, b) => a - b);
  const mid = s.length >> 1;
  return s.length % 2 === 1 ? s[mid]! : (s[mid - 1]! + s[mid]!) / 2;
}

/**
 * Run `op` sequentially (each awaited before the next starts) for at least `ms` ms. The clock
 * is read once every `batch` operations, so the overshoot is at most one batch.
 */
export async function runFor(op: Op, ms: number, batch = 1): Promise<RoundResult> {
  const n = Math.max(1, Math.floor(batch));
  const c0 = process.cpuUsage();
  const t0 = performance.now();
  const end = t0 + ms;
  let ops = 0;
  let now = t0;
  do {
    for (let i = 0; i < n; i++) await op();
    ops += n;
    now = performance.now();
  } while (now < end);
  const elapsed = now - t0;
  const c = process.cpuUsage(c0);
  return { ops, ms: elapsed, opsPerSec: ops / (elapsed / 1000), cpuMs: (c.user + c.system) / 1000 };
}

/** Operations per batch so that one batch takes about 1 ms at `opsPerSec`. */
export function batchFor(opsPerSec: number): number {
  return Math.max(1, Math.round(opsPerSec / 1000));
}

/** Collect garbage between rounds when node runs with --expose-gc; otherwise do nothing. */
function collectGarbage(): void {
  const gc = (globalThis as { gc?: () => void }).gc;
  if (typeof gc === 'function') gc();
}

/** The per-round figures of a subject and of its baseline, and their medians. */
export interface PairResult {
  readonly subject: readonly RoundResult[];
  readonly baseline: readonly RoundResult[];
  readonly subjectMedian: number;
  readonly baselineMedian: number;
  /** subjectMedian / baselineMedian. */
  readonly ratio: number;
}

/**
 * Warm both operations up, then time `cfg.rounds` rounds of each, alternating which goes
 * first (S B, B S, S B, …) so slow drift affects both sides equally.
 */
export async function comparePair(subject: Op, baseline: Op, cfg: TimingConfig = DEFAULT_TIMING): Promise<PairResult> {
  const warmS = await runFor(subject, cfg.warmupMs);
  const warmB = await runFor(baseline, cfg.warmupMs);
  const batchS = batchFor(warmS.opsPerSec);
  const batchB = batchFor(warmB.opsPerSec);
  const s: RoundResult[] = [];
  const b: RoundResult[] = [];
  for (let r = 0; r < cfg.rounds; r++) {
    const order = r % 2 === 0 ? (['s', 'b'] as const) : (['b', 's'] as const);
    for (const side of order) {
      collectGarbage();
      if (side === 's') s.push(await runFor(subject, cfg.roundMs, batchS));
      else b.push(await runFor(baseline, cfg.roundMs, batchB));
    }
  }
  const subjectMedian = median(s.map((x) => x.opsPerSec));
  const baselineMedian = median(b.map((x) => x.opsPerSec));
  return { subject: s, baseline: b, subjectMedian, baselineMedian, ratio: subjectMedian / baselineMedian };
}

/**
 * Run `ops.length` loops at once, loop i doing `await ops[i]()` back to back, each for at least
 * `ms` ms (each loop reads the clock once per `batch` of its own operations). The figure is the
 * sum of the operations over the time until the last loop stopped.
 */
export async function runLoopsFor(ops: readonly Op[], ms: number, batch = 1): Promise<RoundResult> {
  if (ops.length === 1) return runFor(ops[0]!, ms, batch);
  const n = Math.max(1, Math.floor(batch));
  const c0 = process.cpuUsage();
  const t0 = performance.now();
  const end = t0 + ms;
  let total = 0;
  const loop = async (op: Op): Promise<void> => {
    let now = t0;
    do {
      for (let i = 0; i < n; i++) await op();
      total += n;
      now = performance.now();
    } while (now < end);
  };
  await Promise.all(ops.map(loop));
  const elapsed = performance.now() - t0;
  const c = process.cpuUsage(c0);
  return { ops: total, ms: elapsed, opsPerSec: total / (elapsed / 1000), cpuMs: (c.user + c.system) / 1000 };
}

/**
 * `comparePair` for concurrent loops: the subject is `subject.length` loops running together,
 * the baseline `baseline.length` loops; warm-up, then interleaved rounds, medians.
 */
export async function compareLoops(subject: readonly Op[], baseline: readonly Op[], cfg: TimingConfig = DEFAULT_TIMING): Promise<PairResult> {
  const warmS = await runLoopsFor(subject, cfg.warmupMs);
  const warmB = await runLoopsFor(baseline, cfg.warmupMs);
  // Batches of about 1 ms of each loop's own work.
  const batchS = batchFor(warmS.opsPerSec / subject.length);
  const batchB = batchFor(warmB.opsPerSec / baseline.length);
  const s: RoundResult[] = [];
  const b: RoundResult[] = [];
  for (let r = 0; r < cfg.rounds; r++) {
    const order = r % 2 === 0 ? (['s', 'b'] as const) : (['b', 's'] as const);
    for (const side of order) {
      collectGarbage();
      if (side === 's') s.push(await runLoopsFor(subject, cfg.roundMs, batchS));
      else b.push(await runLoopsFor(baseline, cfg.roundMs, batchB));
    }
  }
  const subjectMedian = median(s.map((x) => x.opsPerSec));
  const baselineMedian = median(b.map((x) => x.opsPerSec));
  return { subject: s, baseline: b, subjectMedian, baselineMedian, ratio: subjectMedian / baselineMedian };
}
