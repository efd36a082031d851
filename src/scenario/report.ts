/**
 * Text output of `gunyah-emu run FILE`: the expectations with PASS/FAIL and what matched or
 * what was seen instead, a summary line, optionally every observation; and the list of errors
 * of an invalid file.
 *
 * Reference: docs/scenarios.md "Running".
 */
import Table from 'cli-table3';
import type { ExpectationResult } from './match.js';
import { formatObservation, type Observation } from './observations.js';
import type { ScenarioError } from './validate.js';

/** What one run of a scenario gave. */
export interface ScenarioReport {
  readonly description: string;
  readonly seed: number;
  readonly results: readonly ExpectationResult[];
  readonly passed: number;
  readonly failed: number;
  readonly observations: readonly Observation[];
  /** RUNs issued. */
  readonly steps: number;
}

export interface ReportOptions {
  /** Colours for a terminal. */
  readonly styled?: boolean;
  /** Also list every observation. */
  readonly observations?: boolean;
  /** The file the scenario came from, for the heading. */
  readonly file?: string;
}

/** The report as text (ends with a newline). */
export function formatScenarioReport(r: ScenarioReport, o: ReportOptions = {}): string {
  const styled = o.styled === true;
  const paint = (s: string, code: number): string => (styled ? `\u001b[${code}m${s}\u001b[0m` : s);
  const out: string[] = [];
  out.push(`Scenario${o.file ? ` ${o.file}` : ''} (seed ${r.seed}, ${r.steps} RUNs, ${r.observations.length} observations)`);
  out.push(`  ${r.description}`);
  const t = new Table({
    head: ['#', 'expectation', 'result', 'seen'],
    style: { head: styled ? ['cyan'] : [], border: styled ? ['grey'] : [], compact: true },
    colWidths: [4, 46, 8, 64],
    wordWrap: true,
    wrapOnWordBoundary: true,
  });
  for (const x of r.results) {
    const seen = x.pass ? `#${x.matched} ${formatObservation(r.observations[x.matched!]!)}` : (x.seen ?? '');
    const text = x.expectation.note ? `${x.text}\n(${x.expectation.note})` : x.text;
    t.push([x.index + 1, text, x.pass ? paint('PASS', 32) : paint('FAIL', 31), seen]);
  }
  out.push(t.toString());
  out.push(`${r.results.length} expectations: ${r.passed} passed, ${r.failed} failed`);
  if (o.observations) {
    out.push('', 'Observations:');
    for (const ob of r.observations) out.push(`  #${ob.i} ${formatObservation(ob)}`);
  }
  return `${out.join('\n')}\n`;
}

/** The errors of an invalid file, one per line. */
export function formatScenarioErrors(errors: readonly ScenarioError[], file?: string): string {
  const head = `${file ?? 'scenario'}: not a valid scenario (${errors.length} ${errors.length === 1 ? 'error' : 'errors'})`;
  return `${[head, ...errors.map((e) => `  ${e.message}`)].join('\n')}\n`;
}
