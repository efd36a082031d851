/**
 * `gunyah-emu run FILE`: load and validate a scenario file (exit code 2 with the errors when it
 * is not valid), run it with the trace outputs and log the options ask for, print the table of
 * expectations, and give exit code 1 when one failed.
 *
 * Reference: docs/scenarios.md "Running"; docs/tracing.md (trace outputs).
 */
import type { Level } from 'pino';
import { formatScenarioErrors, formatScenarioReport, loadScenarioFile, runScenario } from '../scenario/index.js';
import { createCliLogger } from './cli-logger.js';
import { openTraceOutputs, type TraceCliOptions } from './trace-options.js';

export interface ScenarioFileOptions extends TraceCliOptions {
  /** Replaces the file's machine seed when given. */
  readonly seed?: number;
  readonly logLevel?: Level | 'silent';
  /** Also list every observation. */
  readonly observations?: boolean;
  readonly styled?: boolean;
}

/** Run scenario `file`; resolves to the exit code (0 all passed, 1 a failure, 2 an invalid file). */
export async function runScenarioFile(file: string, o: ScenarioFileOptions): Promise<number> {
  const loaded = await loadScenarioFile(file);
  if (!loaded.ok) {
    process.stderr.write(formatScenarioErrors(loaded.errors, file));
    return 2;
  }
  const seed = o.seed ?? loaded.plan.seed;
  const tracing = openTraceOutputs(o, seed, loaded.scenario);
  try {
    const log = createCliLogger({ level: o.logLevel ?? 'warn' });
    const report = await runScenario(loaded, { seed, log, ...(tracing.sink ? { trace: tracing.sink } : {}) });
    process.stdout.write(formatScenarioReport(report, { file, styled: o.styled === true, observations: o.observations === true }));
    return report.failed > 0 ? 1 : 0;
  } finally {
    tracing.close();
  }
}
