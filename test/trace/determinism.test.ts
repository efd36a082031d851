/**
 * Determinism of traces: the same workload and seed give a byte-identical JSON-lines trace,
 * with several VMs and vCPUs running at once (Promise.all over four vCPUs of two VMs), and for
 * the embedded default scenario of `gunyah-emu run`. Stamps are 1, 2, 3, … and the virtual time
 * moves by the fixed step per record.
 *
 * Reference: docs/tracing.md ("Determinism"); issue "Reproducing exit-reason bugs" (the same
 * scenario and seed give a byte-identical trace).
 */
import { describe, expect, it } from 'vitest';
import { runDefaultScenario } from '../../src/cli/default-scenario.js';
import { createJsonLinesSink, parseJsonLines, traceHeader } from '../../src/trace/index.js';
import { TRACE_STEP_NS } from '../../src/shared/trace.js';
import { multiVmWorkload, traceText } from './support.js';

/** The first line where two texts differ, for a readable failure. */
function firstDifference(a: string, b: string): string | undefined {
  const la = a.split('\n');
  const lb = b.split('\n');
  for (let i = 0; i < Math.max(la.length, lb.length); i++) if (la[i] !== lb[i]) return `line ${i + 1}:\n  ${la[i]}\n  ${lb[i]}`;
  return undefined;
}

describe('the same workload and seed give the same trace, byte for byte', () => {
  it('two VMs × two vCPUs running holding-cell commands concurrently', async () => {
    const first = await traceText(multiVmWorkload);
    const second = await traceText(multiVmWorkload);
    expect(firstDifference(first, second)).toBeUndefined();
    expect(first).toBe(second);

    const { header, events } = parseJsonLines(first);
    expect(header).toMatchObject({ kind: 'trace.header', version: 1, seed: 1, scenario: 'test' });
    expect(events.length).toBeGreaterThan(500);
    events.forEach((e, i) => expect({ seq: e['seq'], t: e['t'] }).toEqual({ seq: i + 1, t: (i + 1) * Number(TRACE_STEP_NS) }));
    // Both VMs and all four vCPUs are in it, interleaved.
    const exits = events.filter((e) => e.kind === 'vcpu.exit').map((e) => `${String(e['vmid'])}/${String(e['vcpu'])}`);
    expect(new Set(exits).size).toBe(4);
    const switches = exits.filter((x, i) => i > 0 && x !== exits[i - 1]).length;
    expect(switches).toBeGreaterThan(12);
  });

  it('the default scenario (holding cell, then the SCMI VM) run twice with seed 7', async () => {
    const run = async (): Promise<string> => {
      let text = '';
      const sink = createJsonLinesSink((s) => void (text += s), traceHeader(7));
      const r = await runDefaultScenario(7, { trace: sink });
      sink.close();
      expect(r.problems).toEqual([]);
      return text;
    };
    const a = await run();
    const b = await run();
    expect(firstDifference(a, b)).toBeUndefined();
    expect(parseJsonLines(a).header).toMatchObject({ seed: 7, scenario: 'default' });
  });
});
