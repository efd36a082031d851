/**
 * The example scenarios (examples/scenarios/*.json): each is a real exit-reason reproduction
 * whose expectations all pass; each expectation set is real (changing one value of the first
 * and of the last expectation makes that expectation fail); a run is deterministic (the same
 * observations and the same trace events twice); and the examples together cover the
 * situations docs/scenarios.md lists.
 *
 * Reference: docs/scenarios.md; uapi.md §8.2–§8.14 (what each example reproduces).
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ScenarioLoader, runScenario, type Scenario } from '../../src/scenario/index.js';
import { createMemoryTraceSink } from '../../src/shared/trace.js';

const DIR = join(import.meta.dirname, '../../examples/scenarios');
/** One compiled schema for the whole file. */
const loader = new ScenarioLoader();
const FILES = readdirSync(DIR)
  .filter((f) => f.endsWith('.json') && f !== 'scenario.schema.json')
  .sort();

function load(file: string): Scenario {
  const r = loader.parse(readFileSync(join(DIR, file), 'utf8'));
  if (!r.ok) throw new Error(`${file}: ${r.errors.map((e) => e.message).join('; ')}`);
  return r.scenario;
}

type Spec = Record<string, unknown>;

/** Change one field of an expectation to a value the run cannot have seen; returns the field. */
function mutate(e: Record<string, unknown>): string {
  const key = Object.keys(e).find((k) => k !== 'note')!;
  const spec = e[key] as Spec;
  const bump = (v: unknown, by: bigint): string => `0x${(BigInt(v as string | number) + by).toString(16)}`;
  const order: Array<[string, (v: unknown) => unknown]> = [
    ['data', (v) => bump(v, 0x5a5a_0000n)],
    ['supplied', (v) => bump(v, 0x5a5a_0000n)],
    ['value', (v) => bump(v, 1000n)],
    ['errno', () => 'E2BIG'],
    ['result', (v) => Number(v) + 1000],
    ['exitType', () => 'WATCHDOG_BITE'],
    ['status', () => (key === 'scmi' ? 'HARDWARE_ERROR' : 'LOAD_FAILED')],
    ['attempt', () => 'ENOMEM'],
    ['rate', (v) => Number(v) + 1],
    ['occurrence', (v) => Number(v) + 1000],
    ['rmVms', (v) => Number(v) + 1],
    ['clean', (v) => !v],
    ['addr', (v) => bump(v, 0x10_0000n)],
    ['reasonSize', (v) => Number(v) + 100],
    ['connected', (v) => !v],
    ['enabled', (v) => !v],
    ['name', () => 'NOTIFY_VM_IRQ_LENT'],
    ['len', (v) => (v === 8 ? 2 : 8)],
  ];
  for (const [field, change] of order) {
    if (spec[field] === undefined) continue;
    spec[field] = change(spec[field]);
    return field;
  }
  if (key === 'shutdown') {
    spec['rmVms'] = 99;
    return 'rmVms';
  }
  throw new Error(`no field to change in ${JSON.stringify(e)}`);
}

describe.each(FILES)('example %s', (file) => {
  it('has a description and passes every expectation', async () => {
    const s = load(file);
    expect(s.description.length).toBeGreaterThan(40);
    const r = await runScenario(s, { loader });
    const failures = r.results.filter((x) => !x.pass).map((x) => `${x.index + 1} ${x.text}: ${x.seen}`);
    expect(failures).toEqual([]);
    expect(r.failed).toBe(0);
    expect(r.passed).toBe(s.expect.length);
    // Nothing went wrong in the runner itself.
    expect(r.observations.filter((o) => o.kind === 'error' || o.kind === 'limit')).toEqual([]);
  });

  it.each(['first', 'last'])('its expectations are real: changing the %s one makes it fail', async (which) => {
    const s = structuredClone(load(file)) as Scenario & { expect: Array<Record<string, unknown>> };
    // A pending expectation has no value to change; take the first (last) one that has.
    const withValue = s.expect.flatMap((e, i) => ('pending' in e ? [] : [i]));
    const index = which === 'first' ? withValue[0]! : withValue[withValue.length - 1]!;
    const field = mutate(s.expect[index]!);
    const r = await runScenario(s, { loader });
    const result = r.results[index]!;
    expect(result.pass, `${file}: changed ${field} of expectation ${index + 1}: ${result.text}`).toBe(false);
    expect(result.seen).toBeTruthy();
    expect(r.failed).toBeGreaterThanOrEqual(1);
  });

  it('is deterministic: two runs see the same observations and emit the same trace', async () => {
    const s = load(file);
    const t1 = createMemoryTraceSink();
    const t2 = createMemoryTraceSink();
    const a = await runScenario(s, { trace: t1, loader });
    const b = await runScenario(s, { trace: t2, loader });
    expect(b.observations).toEqual(a.observations);
    expect(JSON.stringify(t2.events, big)).toBe(JSON.stringify(t1.events, big));
    expect(t1.events.length).toBeGreaterThan(0);
  });
});

const big = (_: string, v: unknown): unknown => (typeof v === 'bigint' ? `${v}n` : v instanceof Uint8Array ? [...v] : v);

describe('the examples together', () => {
  const all = FILES.map((f) => load(f));
  const exits = all.flatMap((s) => s.expect.map((e) => e.exit).filter((x) => x !== undefined));

  it('are at least ten', () => {
    expect(FILES.length).toBeGreaterThanOrEqual(10);
  });

  it('cover MMIO reads and writes of every length', () => {
    for (const write of [false, true]) {
      for (const len of [1, 2, 4, 8]) expect(exits.some((x) => x.kind === 'mmio' && x.write === write && x.len === len)).toBe(true);
    }
  });

  it('cover every reachable STATUS-exit status and each RM exit type', () => {
    for (const status of ['EXITED', 'CRASHED']) expect(exits.some((x) => x.status === status)).toBe(true);
    const types = new Set([
      ...exits.map((x) => x.exitType),
      ...all.flatMap((s) => s.expect.map((e) => e.notification?.exitType)),
    ]);
    for (const t of ['PLATFORM_OFF', 'PLATFORM_RESET', 'PSCI_SYSTEM_RESET2', 'SOFTWARE_ERROR', 'VM_STOP_FORCED']) expect(types.has(t)).toBe(true);
  });

  it('cover resume actions FAULT, RETRY and an invalid one, immediate_exit, page faults, premature irqfds, DATAMATCH, start faults and SCMI votes', () => {
    const text = all.map((s) => JSON.stringify(s)).join('\n');
    for (const needle of [
      '"resume":"FAULT"',
      '"resume":"RETRY"',
      '"resume":3',
      '"immediateExit":true',
      '"kind":"page-fault"',
      '"premature"',
      '"datamatch"',
      '"runsAfterExit"',
      '"msgId":"VM_ALLOCATE"',
      '"msgId":"VM_START"',
      '"scmiVotes"',
      '"vcpuRun"',
      '"vmExited"',
      '"punchHole"',
      '"holdingCell"',
    ]) {
      expect(text, needle).toContain(needle);
    }
  });
});
