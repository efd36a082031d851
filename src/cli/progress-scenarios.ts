/**
 * `gunyah-emu run FILE|DIR …` with more than one scenario: the files (a directory gives its
 * `*.json` files but the schema, sorted) are validated and run in turn on fresh emulators, with
 * progress (a bar on a terminal, a `[i/N] file: 6/6 passed` line otherwise, src/cli/progress.ts),
 * then a summary table (file, expectations passed and failed) and the full report of every
 * scenario that failed. Exit code: 2 when a file is not a valid scenario, else 1 when an
 * expectation failed or a run broke, else 0.
 *
 * Reference: docs/scenarios.md ("Running many scenarios").
 */
import { readdir, stat } from 'node:fs/promises';
import { join } from 'node:path';
import Table from 'cli-table3';
import type { Level } from 'pino';
import { formatScenarioErrors, formatScenarioReport, ScenarioLoader, runScenario, type ScenarioReport } from '../scenario/index.js';
import { createCliLogger } from './cli-logger.js';
import { createProgress, type ProgressStream } from './progress.js';

/** The outcome of one file. */
export type ScenarioFileOutcome =
  | { readonly file: string; readonly kind: 'ran'; readonly report: ScenarioReport }
  | { readonly file: string; readonly kind: 'invalid'; readonly errors: number }
  | { readonly file: string; readonly kind: 'error'; readonly message: string };

export interface ScenarioFilesOptions {
  /** Replaces every file's machine seed when given. */
  readonly seed?: number;
  readonly logLevel?: Level | 'silent';
  /** Also list every observation in the reports of failed scenarios. */
  readonly observations?: boolean;
  /** Colours in the report. */
  readonly styled?: boolean;
  /** The report (default stdout). */
  readonly out?: (s: string) => void;
  /** Progress and file errors (default stderr): a bar when it is a terminal. */
  readonly progress?: ProgressStream;
}

/**
 * The scenario files named by `args`: a directory stands for its `*.json` files (not
 * `*.schema.json`) in name order; anything else is taken as a file.
 */
export async function expandScenarioPaths(args: readonly string[]): Promise<string[]> {
  const files: string[] = [];
  for (const a of args) {
    const st = await stat(a).catch(() => undefined);
    if (st?.isDirectory()) {
      const names = (await readdir(a)).filter((n) => n.endsWith('.json') && !n.endsWith('.schema.json')).sort();
      files.push(...names.map((n) => join(a, n)));
    } else files.push(a);
  }
  return files;
}

/** Whether `args` needs the many-scenario run (several paths, or a directory). */
export async function namesManyScenarios(args: readonly string[]): Promise<boolean> {
  if (args.length !== 1) return args.length > 1;
  return (await stat(args[0]!).catch(() => undefined))?.isDirectory() === true;
}

/** The outcome text of a file: `6/6 passed`, `5/6 passed, 1 failed`, `invalid (2 errors)`, `error: …`. */
export function outcomeText(o: ScenarioFileOutcome): string {
  if (o.kind === 'invalid') return `invalid scenario (${o.errors} ${o.errors === 1 ? 'error' : 'errors'})`;
  if (o.kind === 'error') return `error: ${o.message}`;
  const r = o.report;
  const total = r.passed + r.failed;
  return r.failed === 0 ? `${r.passed}/${total} passed` : `${r.passed}/${total} passed, ${r.failed} failed`;
}

const failedOutcome = (o: ScenarioFileOutcome): boolean => o.kind !== 'ran' || o.report.failed > 0;

/** The summary table and closing line (ends with a newline). */
export function formatScenarioSummary(outcomes: readonly ScenarioFileOutcome[], styled = false): string {
  const paint = (s: string, code: number): string => (styled ? `\u001b[${code}m${s}\u001b[0m` : s);
  const t = new Table({
    head: ['#', 'file', 'passed', 'failed', 'result'],
    style: { head: styled ? ['cyan'] : [], border: styled ? ['grey'] : [], compact: true },
  });
  outcomes.forEach((o, i) => {
    const ran = o.kind === 'ran';
    const result = !ran ? paint(o.kind === 'invalid' ? 'INVALID' : 'ERROR', 31) : o.report.failed > 0 ? paint('FAIL', 31) : paint('PASS', 32);
    t.push([i + 1, o.file, ran ? o.report.passed : '-', ran ? o.report.failed : '-', result]);
  });
  const bad = outcomes.filter(failedOutcome).length;
  return `${t.toString()}\n${outcomes.length} scenarios: ${outcomes.length - bad} passed, ${bad} failed\n`;
}

/** Run every scenario file in turn with progress; resolves to the exit code. */
export async function runScenarioFiles(files: readonly string[], o: ScenarioFilesOptions = {}): Promise<number> {
  const out = o.out ?? ((s: string) => void process.stdout.write(s));
  const loader = new ScenarioLoader();
  const log = createCliLogger({ level: o.logLevel ?? 'warn' });
  const outcomes: ScenarioFileOutcome[] = [];
  const progress = createProgress({ total: files.length, title: 'scenarios', ...(o.progress ? { stream: o.progress } : {}) });
  try {
    for (const file of files) {
      progress.begin(file);
      let outcome: ScenarioFileOutcome;
      const loaded = await loader.load(file);
      if (!loaded.ok) {
        for (const line of formatScenarioErrors(loaded.errors, file).trimEnd().split('\n')) progress.log(line);
        outcome = { file, kind: 'invalid', errors: loaded.errors.length };
      } else {
        try {
          const report = await runScenario(loaded, { log, ...(o.seed !== undefined ? { seed: o.seed } : {}) });
          outcome = { file, kind: 'ran', report };
        } catch (err) {
          outcome = { file, kind: 'error', message: err instanceof Error ? err.message : String(err) };
        }
      }
      outcomes.push(outcome);
      progress.done(file, outcomeText(outcome), { notable: failedOutcome(outcome) });
    }
  } finally {
    progress.stop();
  }
  const styled = o.styled === true;
  const parts = [formatScenarioSummary(outcomes, styled)];
  for (const x of outcomes) {
    if (x.kind === 'ran' && x.report.failed > 0) parts.push(`\n${formatScenarioReport(x.report, { file: x.file, styled, observations: o.observations === true })}`);
  }
  out(parts.join(''));
  if (outcomes.some((x) => x.kind === 'invalid')) return 2;
  return outcomes.some(failedOutcome) ? 1 : 0;
}
