// The conformance runner and the suite's wire machinery, against a tiny stub RM written from
// rm-rpc.md §8.1 (test/conformance/stub-rm.ts): the framing and fragmentation cases pass on a
// conforming stub and fail, with a one-line hex reason, on a misbehaving one.
import { describe, test, expect } from 'vitest';
import {
  RM_CONFORMANCE_CASES,
  runConformance,
  formatSummary,
  type CaseResult,
  type ConformanceCase,
} from '../../src/conformance/index.js';
import { createStubRm } from './stub-rm.js';

const noControlIds = RM_CONFORMANCE_CASES.filter(
  (c) => (c.group === 'framing' || c.group === 'fragmentation') && !c.needs?.includes('control'),
).map((c) => c.id);

describe('runConformance against the stub RM', () => {
  test('every framing and fragmentation case without control passes', async () => {
    const target = createStubRm();
    const seen: CaseResult[] = [];
    const s = await runConformance(target, { filter: /^(framing|fragmentation)\./, onResult: (r) => seen.push(r) });
    const failed = s.results.filter((r) => r.status === 'fail').map((r) => `${r.id}: ${r.reason}`);
    expect(failed).toEqual([]);
    expect(s.results.filter((r) => r.status === 'pass').map((r) => r.id)).toEqual(noControlIds);
    // fragmentation.fragmented-reply needs control: skipped, not failed.
    expect(s.skipped).toBe(1);
    expect(seen).toEqual(s.results);
    expect(formatSummary(s)).toBe(`${noControlIds.length} passed, 0 failed, 1 skipped`);
    // The 63 × 232 request went through a depth-8 queue.
    expect(target.frameCount()).toBeGreaterThan(63);
  }, 60_000);

  test('an RM that answers a bad api byte fails framing.bad-api-byte with a one-line reason', async () => {
    const s = await runConformance(createStubRm({ answerBadApi: true }), { filter: /^framing\.bad-api-byte$/ });
    expect(s.failed).toBe(1);
    const reason = s.results[0]!.reason ?? '';
    expect(reason).toMatch(/must get no reply/);
    expect(reason).toMatch(/0x11/);
    expect(reason).not.toMatch(/\n/);
  });

  test('an RM that appends mismatched continuations fails the continuation case', async () => {
    const s = await runConformance(createStubRm({ acceptMismatchedContinuations: true }), {
      filter: /^fragmentation\.mismatched-continuation$/,
    });
    expect(s.failed).toBe(1);
    expect(s.results[0]!.reason).toMatch(/expected VMID_INVALID \(0xd\), got/);
  });

  test('control cases are skipped without control; failures, skips and passes are counted', async () => {
    const cases: ConformanceCase[] = [
      { id: 't.pass', group: 't', title: 'passes trivially', run: async () => undefined },
      { id: 't.needs', group: 't', title: 'needs control', needs: ['control'], run: async () => undefined },
      { id: 't.skip', group: 't', title: 'skips itself', run: async (ctx) => ctx.skip('not today') },
      { id: 't.fail', group: 't', title: 'fails', run: async ({ hlos }) => { await hlos.expect(0x5600_0024, new Uint8Array(4), 'OK'); } },
      { id: 't.throw', group: 't', title: 'throws', run: async () => { throw new Error('boom'); } },
    ];
    const s = await runConformance(createStubRm(), { cases });
    expect(s.results.map((r) => r.status)).toEqual(['pass', 'skip', 'skip', 'fail', 'fail']);
    expect(s.results[1]!.reason).toMatch(/control/);
    expect(s.results[3]!.reason).toMatch(/VM_GET_VMID \(0x56000024\).*expected OK \(0x0\), got MSG_INVALID \(0x4\)/);
    expect(s.results[4]!.reason).toBe('unexpected error: boom');
    expect([s.passed, s.failed, s.skipped]).toEqual([1, 2, 2]);
  });

  test('a target whose HLOS link cannot be opened fails each case instead of throwing', async () => {
    const target = { name: 'dead', open: async () => { throw new Error('no link'); }, close: async () => undefined };
    const s = await runConformance(target, { filter: /^framing\.short-frame$/ });
    expect(s.failed).toBe(1);
    expect(s.results[0]!.reason).toMatch(/could not open the RM link of HLOS: no link/);
  });
});
