/**
 * `gunyah-emu replay TRACE`: read a trace written by `gunyah-emu run … --trace TRACE`, run the
 * scenario its `trace.header` records (the whole scenario JSON, or "default" for the embedded
 * default scenario) again with the recorded seed into a memory sink, and compare the two traces
 * record by record. Exit code 0: identical; 1: the first record that differs is shown, both
 * versions side by side; 2: the trace cannot be replayed (no header, another format version, no
 * scenario or seed, an invalid scenario, not JSON, unreadable).
 *
 * Reference: docs/tracing.md ("Replay"); docs/scenarios.md (the scenario runner).
 */
import { readFile } from 'node:fs/promises';
import type { Level } from 'pino';
import { ScenarioLoader, runScenario } from '../scenario/index.js';
import { createMemoryTraceSink, type TraceEvent } from '../shared/trace.js';
import type { TraceHeaderEvent } from '../shared/trace-events.js';
import { formatTraceComparison, replayTrace, TraceReplayError } from '../trace/replay.js';
import { emulatorVersion } from '../trace/sinks.js';
import { createCliLogger } from './cli-logger.js';
import { runDefaultScenario } from './default-scenario.js';

export interface ReplayCommandOptions {
  /** Records of context around the first difference (default 3). */
  readonly context?: number;
  /** The structured log of the replayed run (default 'error'). */
  readonly logLevel?: Level | 'silent';
  /** Colours for a terminal. */
  readonly styled?: boolean;
  /** Width of the report in columns (default: the terminal's, else 120). */
  readonly width?: number;
  /** Where the report goes (default stdout) and the errors (default stderr). */
  readonly out?: (s: string) => void;
  readonly err?: (s: string) => void;
}

/** Run the scenario `header` records, with its seed, and return every trace record of the run. */
export async function rerunTraceScenario(header: TraceHeaderEvent, logLevel: Level | 'silent' = 'error'): Promise<readonly TraceEvent[]> {
  const mem = createMemoryTraceSink();
  const log = createCliLogger({ level: logLevel });
  if (header.scenario === 'default') {
    await runDefaultScenario(header.seed, { trace: mem, log });
    return mem.events;
  }
  const loaded = new ScenarioLoader().validate(header.scenario);
  if (!loaded.ok) {
    throw new TraceReplayError(`the scenario in the trace.header is not a valid scenario:\n${loaded.errors.map((e) => `  ${e.message}`).join('\n')}`);
  }
  await runScenario(loaded, { seed: header.seed, trace: mem, log });
  return mem.events;
}

/** What the header says was run, for the heading line. */
function describeHeader(h: TraceHeaderEvent): string {
  if (h.scenario === 'default') return `the default scenario, seed ${h.seed}`;
  const d = (h.scenario as { description?: unknown }).description;
  const text = typeof d === 'string' ? d : '(no description)';
  return `scenario "${text.length > 72 ? `${text.slice(0, 71)}…` : text}", seed ${h.seed}`;
}

/** `gunyah-emu replay FILE`; resolves to the exit code (0 identical, 1 a difference, 2 not replayable). */
export async function runReplayCommand(file: string, o: ReplayCommandOptions = {}): Promise<number> {
  const out = o.out ?? ((s: string) => void process.stdout.write(s));
  const err = o.err ?? ((s: string) => void process.stderr.write(s));
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (e) {
    err(`gunyah-emu replay: cannot read ${file}: ${e instanceof Error ? e.message : String(e)}\n`);
    return 2;
  }
  try {
    const { trace, comparison } = await replayTrace(text, (h) => rerunTraceScenario(h, o.logLevel));
    const lines = [`${file}: replaying ${describeHeader(trace.header)}`];
    const now = emulatorVersion();
    if (trace.header.emulator !== now) lines.push(`note: recorded by gunyah-emu ${String(trace.header.emulator)}, replayed with ${now}`);
    out(`${lines.join('\n')}\n`);
    out(
      formatTraceComparison(comparison, {
        ...(o.context !== undefined ? { context: o.context } : {}),
        width: o.width ?? (process.stdout.isTTY === true ? process.stdout.columns : 120),
        styled: o.styled === true,
      }),
    );
    return comparison.identical ? 0 : 1;
  } catch (e) {
    if (!(e instanceof TraceReplayError)) throw e;
    err(`gunyah-emu replay: ${file}: ${e.message}\n`);
    return 2;
  }
}
