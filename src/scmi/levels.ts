/**
 * Rate and level sets (a range with a step, or a discrete ascending list) as the platform
 * description gives them for clocks (Hz) and voltage domains (µV): membership, bounds and
 * rounding. Reference: scmi-virtio.md §9.5 CLOCK_DESCRIBE_RATES / CLOCK_RATE_SET (ROUND_UP,
 * ROUND_AUTO) and §9.8 VOLTAGE_DESCRIBE_LEVELS.
 *
 * A range's max is on its step grid (platform-check enforces (max − min) % step = 0).
 */
import type { LevelSet } from './api.js';

/** How a value between two members is rounded. */
export type RoundMode = 'down' | 'up' | 'nearest';

export function setMin(set: LevelSet): number {
  return set.kind === 'range' ? set.min : set.values[0]!;
}

export function setMax(set: LevelSet): number {
  return set.kind === 'range' ? set.max : set.values[set.values.length - 1]!;
}

export function setCount(set: LevelSet): number {
  return set.kind === 'range' ? Math.floor((set.max - set.min) / set.step) + 1 : set.values.length;
}

export function setContains(set: LevelSet, v: number): boolean {
  if (!Number.isInteger(v)) return false;
  if (set.kind === 'range') return v >= set.min && v <= set.max && (v - set.min) % set.step === 0;
  return indexOf(set.values, v) >= 0;
}

/**
 * The member `v` rounds to, or undefined when `v` is below the lowest or above the highest
 * member (→ OUT_OF_RANGE). 'nearest' breaks a tie upwards.
 */
export function roundInSet(set: LevelSet, v: number, mode: RoundMode): number | undefined {
  if (!Number.isFinite(v) || v < setMin(set) || v > setMax(set)) return undefined;
  let down: number;
  let up: number;
  if (set.kind === 'range') {
    down = set.min + Math.floor((v - set.min) / set.step) * set.step;
    up = down === v ? v : Math.min(down + set.step, set.max);
  } else {
    // Largest member ≤ v (exists since v ≥ min), and the next one.
    let lo = 0;
    let hi = set.values.length - 1;
    while (lo < hi) {
      const mid = (lo + hi + 1) >> 1;
      if (set.values[mid]! <= v) lo = mid;
      else hi = mid - 1;
    }
    down = set.values[lo]!;
    up = down === v ? v : set.values[lo + 1]!;
  }
  if (mode === 'down') return down;
  if (mode === 'up') return up;
  return v - down < up - v ? down : up;
}

function indexOf(values: readonly number[], v: number): number {
  let lo = 0;
  let hi = values.length - 1;
  while (lo <= hi) {
    const mid = (lo + hi) >> 1;
    const m = values[mid]!;
    if (m === v) return mid;
    if (m < v) lo = mid + 1;
    else hi = mid - 1;
  }
  return -1;
}
