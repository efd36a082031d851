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
  /** Median ops/s of the baseline over the timed rounds. */
  readonly baselineOpsPerSec: number;
  /** opsPerSec / baselineOpsPerSec. */
  readonly ratio: number;
  /** The ratio must be at least this for PASS. */
  readonly goal: number;
  /** Per-round figures, for the spread column and the JSON output. */
  readonly rounds: { readonly subject: readonly RoundResult[]; readonly baseline: readonly RoundResult[] };
  /** What the case exchanges (frames, bytes), for the report. */
  readonly detail: string;
}

/** What each bench/*.ts file exports as `suite`. */
export interface BenchSuite {
  readonly name: string;
  /** One line on what the suite measures. */
  readonly description: string;
  run(timing: TimingConfig, log: (line: string) => void): Promise<BenchRow[]>;
}
