/**
 * A rate limit for kernel warnings, the model's `pr_warn_ratelimited`: a burst of messages goes
 * through, after which only every `every`-th occurrence is logged, carrying the number that was
 * dropped since the last one.
 *
 * Reference: uapi.md §8.5 (unknown vCPU states: "a rate-limited warning"), §8.8 (page-fault
 * warnings), §8.13 (premature irqfd injection). Linux limits by time (10 messages per 5 s per
 * call site); this model has no clock in the VM handle and must stay deterministic, so it limits
 * by count instead. Each owner keeps its own limiter per call site (no module-level state).
 */
import type { Logger } from './log.js';

/** Messages logged before limiting starts (Linux DEFAULT_RATELIMIT_BURST). */
export const RATELIMIT_BURST = 10;
/** After the burst, one message per this many occurrences. */
export const RATELIMIT_EVERY = 10_000;

/** One call site's limiter. */
export class RateLimitedLog {
  #seen = 0;
  #dropped = 0;

  constructor(
    readonly log: Logger,
    readonly level: 'warn' | 'error' = 'warn',
    readonly burst = RATELIMIT_BURST,
    readonly every = RATELIMIT_EVERY,
  ) {}

  /** Occurrences seen so far (logged or not). */
  get seen(): number {
    return this.#seen;
  }

  /** Occurrences dropped since the last logged one. */
  get dropped(): number {
    return this.#dropped;
  }

  /** Log `msg` with `fields` unless the limit says to drop it; returns whether it was logged. */
  emit(fields: Record<string, unknown>, msg: string): boolean {
    const n = this.#seen++;
    if (n >= this.burst && (n - this.burst + 1) % this.every !== 0) {
      this.#dropped++;
      return false;
    }
    const suppressed = this.#dropped;
    this.#dropped = 0;
    this.log[this.level](suppressed > 0 ? { ...fields, suppressed } : fields, msg);
    return true;
  }
}
