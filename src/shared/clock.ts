/**
 * Clocks. The emulator runs on a virtual clock by default, so that traces are deterministic;
 * a real clock is offered for timeouts that tests want to see fire in wall time.
 */

/** Time source and timer service. Times are in nanoseconds as bigint. */
export interface Clock {
  /** Current time, ns. */
  now(): bigint;
  /** Run `fn` after `ms` milliseconds of this clock's time; returns a cancel function. */
  setTimeout(fn: () => void, ms: number): () => void;
}

/** Wall-clock time and Node timers. */
export function createRealClock(): Clock {
  const t0 = process.hrtime.bigint();
  return {
    now: () => process.hrtime.bigint() - t0,
    setTimeout(fn, ms) {
      const t = setTimeout(fn, ms);
      return () => clearTimeout(t);
    },
  };
}

/**
 * A virtual clock: time moves only when `advance()` is called (or `tick()` per event for
 * ordering). Timers fire in deadline order, ties in creation order.
 */
export interface VirtualClock extends Clock {
  /** Move time forward by `ns`, firing due timers in order. */
  advance(ns: bigint): void;
  /** Number of timers not yet fired or cancelled. */
  readonly pendingTimers: number;
}

export function createVirtualClock(startNs = 0n): VirtualClock {
  let now = startNs;
  let nextId = 0;
  const timers = new Map<number, { at: bigint; fn: () => void }>();
  return {
    now: () => now,
    setTimeout(fn, ms) {
      const id = nextId++;
      timers.set(id, { at: now + BigInt(Math.round(ms * 1e6)), fn });
      return () => void timers.delete(id);
    },
    advance(ns) {
      const end = now + ns;
      for (;;) {
        let best: [number, { at: bigint; fn: () => void }] | undefined;
        for (const e of timers) if (e[1].at <= end && (!best || e[1].at < best[1].at)) best = e;
        if (!best) break;
        timers.delete(best[0]);
        now = best[1].at;
        best[1].fn();
      }
      now = end;
    },
    get pendingTimers() {
      return timers.size;
    },
  };
}
