/**
 * `gunyah-emu rm conformance` with progress: the suite's cases (58 with no filter) run in turn;
 * each case's `PASS|FAIL|SKIP id: title` line is the plain progress line on a stream that is not
 * a terminal (unchanged, on stdout), and the closing `N passed, N failed` line ends it. When
 * stderr is a terminal a progress bar runs there as well; when stdout is the same terminal the
 * case lines are printed above the bar so the two do not overwrite each other.
 *
 * Reference: src/conformance/index.ts (the suite, its lines); src/cli/progress.ts.
 */
import { RM_CONFORMANCE_CASES, formatResultLine, formatSummary, runConformance, type ConformanceSummary, type RmTarget } from '../conformance/index.js';
import { createProgress, type ProgressStream } from './progress.js';

export interface ConformanceProgressOptions {
  readonly filter?: RegExp;
  /** The case lines and the summary (default stdout). */
  readonly out?: (s: string) => void;
  /** Whether `out` is a terminal (default: stdout's isTTY). */
  readonly outIsTerminal?: boolean;
  /** Where the bar goes when it is a terminal (default stderr). */
  readonly progress?: ProgressStream;
}

/** Run the suite against `target` with progress; resolves to its summary (already printed). */
export async function runConformanceWithProgress(target: RmTarget, o: ConformanceProgressOptions = {}): Promise<ConformanceSummary> {
  const out = o.out ?? ((s: string) => void process.stdout.write(s));
  const total = RM_CONFORMANCE_CASES.filter((c) => !o.filter || o.filter.test(c.id)).length;
  const progress = createProgress({ total, title: 'conformance', plainLines: false, ...(o.progress ? { stream: o.progress } : {}) });
  const aboveBar = progress.bar && (o.outIsTerminal ?? process.stdout.isTTY === true);
  let s: ConformanceSummary;
  try {
    s = await runConformance(target, {
      ...(o.filter ? { filter: o.filter } : {}),
      onResult: (res) => {
        const line = formatResultLine(res);
        if (aboveBar) progress.log(line);
        else out(`${line}\n`);
        progress.done(res.id, res.status.toUpperCase());
      },
    });
  } finally {
    progress.stop();
  }
  out(`${formatSummary(s)}\n`);
  return s;
}
