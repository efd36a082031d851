/**
 * The contract between bench/run.ts and each benchmark file: a file exports `suite`, whose
 * `run()` returns one row per case, each with its own figure and the figure of its baseline
 * measured in the same process and run.
 *
 * Not part of the emulator; used only by bench/*.ts.
 */
import type { RoundResult, TimingConfig } from './timing.js';

/** One measured case: the subject, its baseline, and the goal on their ratio. */
export interface BenchRow {
  /** Case name as printed, e.g. `rpc small (VM_GET_STATE)`. */
  readonly name: string;
  /** Median ops/s of the subject over the timed rounds. */
  readonly opsPerSec: number;
  /** Median ops/s of the baseline over the timed rounds (absent for a case with no baseline). */
  readonly baselineOpsPerSec?: number;
  /** opsPerSec / baselineOpsPerSec. */
  readonly ratio?: number;
  /** The ratio must be at least this for PASS. */
  readonly goal?: number;
  /**
   * Goals that are not a ratio (an absolute rate, a latency, a heap bound): the text for the goal
   * column and whether it was met. The case is PASS when these and the ratio goal all hold.
   */
  readonly checks?: readonly BenchCheck[];
  /** Per-round figures, for the spread column and the JSON output (`baseline` empty without one). */
  readonly rounds: { readonly subject: readonly RoundResult[]; readonly baseline: readonly RoundResult[] };
  /** What the case exchanges (frames, bytes), for the report. */
  readonly detail: string;
}

/** A goal other than the ratio, e.g. `{ text: 'median ≤ 1 ms', pass: true }`. */
export interface BenchCheck {
  readonly text: string;
  readonly pass: boolean;
}

/** The goals of `r` that were missed, as their goal-column texts (empty: PASS). */
export function missedGoals(r: BenchRow): string[] {
  const out: string[] = [];
  if (r.goal !== undefined && !(r.ratio !== undefined && r.ratio >= r.goal)) out.push(`ratio ≥ ${r.goal}`);
  for (const c of r.checks ?? []) if (!c.pass) out.push(c.text);
  return out;
}

/** PASS when the ratio goal (if any) and every check hold. */
export function rowPasses(r: BenchRow): boolean {
  return missedGoals(r).length === 0;
}

/** What each bench/*.ts file exports as `suite`. */
export interface BenchSuite {
  readonly name: string;
  /** One line on what the suite measures. */
  readonly description: string;
  run(timing: TimingConfig, log: (line: string) => void): Promise<BenchRow[]>;
}
