// The count-based warning limiter standing in for pr_warn_ratelimited.
import { describe, expect, it } from 'vitest';
import { RateLimitedLog } from '../../src/shared/rate-limit.js';
import { recordingLogger } from '../functions/support/index.js';

describe('RateLimitedLog', () => {
  it('logs a burst, then one in `every` with the number suppressed since the last one', () => {
    const { log, records } = recordingLogger();
    const rl = new RateLimitedLog(log, 'warn', 3, 5);
    const logged = Array.from({ length: 14 }, (_, i) => rl.emit({ i }, 'm'));
    expect(logged).toEqual([true, true, true, false, false, false, false, true, false, false, false, false, true, false]);
    expect(records.map((r) => [r.level, r.i, r.suppressed])).toEqual([
      [40, 0, undefined],
      [40, 1, undefined],
      [40, 2, undefined],
      [40, 7, 4],
      [40, 12, 4],
    ]);
    expect(rl.seen).toBe(14);
    expect(rl.dropped).toBe(1);
  });

  it('logs at the error level when asked', () => {
    const { log, records } = recordingLogger();
    new RateLimitedLog(log, 'error').emit({}, 'x');
    expect(records[0]!.level).toBe(50);
  });
});
