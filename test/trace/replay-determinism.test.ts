/**
 * Determinism for replay: every example scenario (examples/scenarios/*.json, several of them
 * with several VMs or vCPUs) and a two-VM × two-vCPU round-robin scenario, run twice with the
 * same seed, give byte-identical JSON-lines traces; and a recorded trace, replayed from its
 * header alone (scenario and seed), gives the same records again. Each run passes its
 * expectations and ends with the runner's shutdown check clean (no VM or parcel in the RM, all
 * memory back, invariants hold), except where the scenario expects the real kernel's leak.
 *
 * Reference: docs/tracing.md ("Records, stamps and determinism", "Replay"); docs/scenarios.md
 * ("run: stepping").
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { rerunTraceScenario } from '../../src/cli/replay-command.js';
import { ScenarioLoader, runScenario, type Scenario } from '../../src/scenario/index.js';
import { createJsonLinesSink, traceHeader } from '../../src/trace/index.js';
import { compareTraces, readReplayableTrace } from '../../src/trace/replay.js';
import { MULTI_VM_SCENARIO } from './replay-support.js';

const DIR = join(import.meta.dirname, '../../examples/scenarios');
const loader = new ScenarioLoader();
const FILES = readdirSync(DIR)
  .filter((f) => f.endsWith('.json') && !f.endsWith('.schema.json'))
  .sort();

/** Run `scenario` with a JSON-lines sink as `gunyah-emu run FILE --trace` does; the text. */
async function record(scenario: unknown): Promise<string> {
  const loaded = loader.validate(scenario);
  if (!loaded.ok) throw new Error(loaded.errors.map((e) => e.message).join('; '));
  let text = '';
  const sink = createJsonLinesSink((s) => void (text += s), traceHeader(loaded.plan.seed, scenario));
  const report = await runScenario(loaded, { trace: sink });
  sink.close();
  expect(report.failed).toBe(0);
  // Teardown ran; it left nothing behind unless the scenario shows a leak of the real kernel
  // (vm-status.json, start-faults.json expect `clean: false` and the VMIDs the RM keeps).
  const shutdown = report.observations.filter((o) => o.kind === 'shutdown');
  expect(shutdown).toHaveLength(1);
  const expectsLeak = (scenario as Scenario).expect.some((e) => e.shutdown?.clean === false);
  if (!expectsLeak) expect(shutdown).toMatchObject([{ clean: true, rmVms: 0, parcels: 0, problems: [] }]);
  return text;
}

/** The first line where two texts differ, for a readable failure. */
function firstDifference(a: string, b: string): string | undefined {
  const la = a.split('\n');
  const lb = b.split('\n');
  for (let i = 0; i < Math.max(la.length, lb.length); i++) if (la[i] !== lb[i]) return `line ${i + 1}:\n  ${la[i]}\n  ${lb[i]}`;
  return undefined;
}

const CASES: Array<[string, () => unknown]> = [
  ...FILES.map((f): [string, () => unknown] => [f, () => JSON.parse(readFileSync(join(DIR, f), 'utf8')) as Scenario]),
  ['two VMs × two vCPUs, round-robin', () => MULTI_VM_SCENARIO],
];

describe.each(CASES)('%s', (_name, scenario) => {
  it('run twice: byte-identical traces; replayed from the header: the same records', async () => {
    const first = await record(scenario());
    const second = await record(scenario());
    expect(firstDifference(first, second)).toBeUndefined();
    expect(first).toBe(second);

    const trace = readReplayableTrace(first);
    expect(trace.events.length).toBeGreaterThan(100);
    const replayed = await rerunTraceScenario(trace.header, 'silent');
    expect(compareTraces(trace.events, replayed)).toEqual({ identical: true, events: trace.events.length });
  });
});

it('the examples include runs with several VMs and with several vCPUs', () => {
  const shapes = FILES.map((f) => (JSON.parse(readFileSync(join(DIR, f), 'utf8')) as Scenario).vms.map((v) => v.vcpus));
  expect(shapes.some((vcpus) => vcpus.length > 1)).toBe(true);
  expect(shapes.some((vcpus) => vcpus.some((n) => n > 1))).toBe(true);
  expect(FILES.length).toBeGreaterThanOrEqual(10);
});
