/**
 * Progress of long runs: on a stream that is not a terminal one plain line per finished item,
 * `[i/N] label: outcome` (golden lines typed by hand); on a terminal (a fake stream with
 * isTTY = true and columns) a cli-progress bar, with notable lines printed above it. Applied to
 * `gunyah-emu run FILE|DIR …` (several scenario files in turn, a summary table, exit codes) and
 * to `gunyah-emu rm conformance` (its case lines stay the plain progress; a bar on a terminal).
 *
 * Reference: docs/scenarios.md ("Running many scenarios"); src/cli/progress.ts.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { createProgress, formatProgressLine, type ProgressStream } from '../../src/cli/progress.js';
import { expandScenarioPaths, runScenarioFiles } from '../../src/cli/progress-scenarios.js';
import { runConformanceWithProgress } from '../../src/cli/progress-conformance.js';
import { openTarget } from '../../src/conformance/targets.js';
import { runCli, scratchDir } from '../trace/replay-support.js';

/** A stream that keeps what is written; a terminal of `columns` when `tty`. */
function fakeStream(tty: boolean, columns = 100): ProgressStream & { text: string } {
  const s = {
    text: '',
    isTTY: tty,
    columns,
    write(chunk: string) {
      s.text += chunk;
      return true;
    },
  };
  return s;
}

/** Terminal output without its control sequences (every state the bar went through). */
const plain = (s: string): string => s.replace(/\u001b(\[[0-9;?]*[A-Za-z]|[78])/g, '');

/**
 * What a terminal shows at the end: each line as last drawn (the text after the last move to
 * column 1, whose sequence is ESC [ 1 G), without control sequences.
 */
const screen = (s: string): string[] =>
  s
    .split('\n')
    .map((l) => plain(l.split('\u001b[1G').at(-1)!))
    .filter((l, i, all) => l !== '' || i < all.length - 1);

const EX = 'examples/scenarios';

describe('createProgress', () => {
  it('not a terminal: one plain line per item, logs as they are', () => {
    const s = fakeStream(false);
    const p = createProgress({ total: 3, stream: s, title: 'scenarios' });
    expect(p.bar).toBe(false);
    p.begin('a.json');
    p.done('a.json', '6/6 passed');
    p.log('a.json: not a valid scenario (1 error)');
    p.done('b.json', 'invalid scenario (1 error)', { notable: true });
    p.done('c.json', '5/6 passed, 1 failed');
    p.stop();
    expect(s.text).toBe(
      [
        '[1/3] a.json: 6/6 passed',
        'a.json: not a valid scenario (1 error)',
        '[2/3] b.json: invalid scenario (1 error)',
        '[3/3] c.json: 5/6 passed, 1 failed',
        '',
      ].join('\n'),
    );
    expect(formatProgressLine(3, 15, 'examples/scenarios/mmio-lengths.json', '6/6 passed')).toBe('[3/15] examples/scenarios/mmio-lengths.json: 6/6 passed');
  });

  it('not a terminal, plainLines false: only the logged lines', () => {
    const s = fakeStream(false);
    const p = createProgress({ total: 2, stream: s, plainLines: false });
    p.done('x', 'PASS');
    p.log('PASS x: title');
    p.stop();
    expect(s.text).toBe('PASS x: title\n');
  });

  it('a terminal: a bar that moves to N/N, notable lines above it, no plain lines', () => {
    const s = fakeStream(true, 100);
    const p = createProgress({ total: 4, stream: s, title: 'scenarios' });
    expect(p.bar).toBe(true);
    p.begin('one.json');
    p.done('one.json', '6/6 passed');
    p.begin('two.json');
    p.done('two.json', '5/6 passed, 1 failed', { notable: true });
    p.done('three.json', '1/1 passed');
    p.done('four.json', '2/2 passed');
    p.stop();
    p.stop();
    // Cursor movement and line clearing: the bar is redrawn in place.
    expect(s.text).toMatch(/\u001b\[\d*G/);
    const text = plain(s.text);
    expect(text).toContain('scenarios [');
    expect(text).toMatch(/scenarios \[█{30}\] 4\/4 100% \| four\.json: 2\/2 passed/);
    expect(text).toMatch(/scenarios \[█{8}░{22}\]\s+1\/4\s+25% \| one\.json: 6\/6 passed/);
    expect(text).not.toContain('[1/4]');
    // The screen at the end: the notable line above the final bar.
    expect(screen(s.text)).toEqual(['[2/4] two.json: 5/6 passed, 1 failed', `scenarios [${'█'.repeat(30)}] 4/4 100% | four.json: 2/2 passed`]);
    expect(s.text.endsWith('\n')).toBe(true);
  });

  it('a narrow terminal: the bar line is cut to its width', () => {
    const s = fakeStream(true, 40);
    const p = createProgress({ total: 2, stream: s, title: 'scenarios' });
    p.done('examples/scenarios/ioeventfd-datamatch.json', '12/12 passed');
    p.stop();
    expect(screen(s.text)).toEqual([`scenarios [${'█'.repeat(15)}${'░'.repeat(14)}`]);
  });
});

describe('runScenarioFiles: several scenarios in turn', () => {
  /** mmio-lengths, resume-invalid, a copy of mmio-lengths with one expectation changed, and a file that is not a scenario. */
  function files(): string[] {
    const dir = scratchDir();
    const broken = JSON.parse(readFileSync(join(EX, 'mmio-lengths.json'), 'utf8')) as { expect: Array<{ exit?: Record<string, unknown> }> };
    broken.expect[0]!.exit!['len'] = 2;
    writeFileSync(join(dir, 'changed.json'), JSON.stringify(broken));
    const bad = JSON.parse(readFileSync(join(EX, 'mmio-lengths.json'), 'utf8')) as { vms: Array<Record<string, unknown>> };
    bad.vms[0]!['vcpus'] = 'two';
    writeFileSync(join(dir, 'bad.json'), JSON.stringify(bad));
    return [join(EX, 'mmio-lengths.json'), join(EX, 'resume-invalid.json'), join(dir, 'changed.json'), join(dir, 'bad.json')];
  }

  it('not a terminal: golden progress lines, the summary table, then the report of the failed one; exit 2 for the invalid file', async () => {
    const [mmio, invalid, changed, bad] = files() as [string, string, string, string];
    const progress = fakeStream(false);
    let out = '';
    const code = await runScenarioFiles([mmio, invalid, changed, bad], { progress, out: (s) => void (out += s) });
    expect(code).toBe(2);
    const lines = progress.text.split('\n');
    expect(lines.filter((l) => l.startsWith('['))).toEqual([
      '[1/4] examples/scenarios/mmio-lengths.json: 10/10 passed',
      '[2/4] examples/scenarios/resume-invalid.json: 9/9 passed',
      `[3/4] ${changed}: 9/10 passed, 1 failed`,
      `[4/4] ${bad}: invalid scenario (1 error)`,
    ]);
    // The invalid file's errors come before its line.
    expect(lines.slice(3, 5)).toEqual([`${bad}: not a valid scenario (1 error)`, '  vms[0].vcpus: expected an integer 1..64, found "two"']);

    const cells = (l: string): string[] => l.split('│').slice(1, -1).map((c) => c.trim());
    const rows = out.split('\n').filter((l) => l.startsWith('│')).map(cells);
    expect(rows.slice(0, 5)).toEqual([
      ['#', 'file', 'passed', 'failed', 'result'],
      ['1', 'examples/scenarios/mmio-lengths.json', '10', '0', 'PASS'],
      ['2', 'examples/scenarios/resume-invalid.json', '9', '0', 'PASS'],
      ['3', changed, '9', '1', 'FAIL'],
      ['4', bad, '-', '-', 'INVALID'],
    ]);
    expect(out).toContain('\n4 scenarios: 2 passed, 2 failed\n');
    // The failed scenario's own report follows, with its FAIL row.
    expect(out).toContain(`Scenario ${changed} (seed 1,`);
    expect(out).toMatch(/10 expectations: 9 passed, 1 failed\n$/);
  });

  it('exit 1 when an expectation failed and every file is valid; 0 when all passed', async () => {
    const [mmio, , changed] = files() as [string, string, string];
    const quiet = { progress: fakeStream(false), out: () => {} };
    expect(await runScenarioFiles([mmio, changed], quiet)).toBe(1);
    expect(await runScenarioFiles([mmio], quiet)).toBe(0);
  });

  it('a terminal: the bar, the failure above it, no plain line for the others', async () => {
    const [mmio, invalid, changed] = files() as [string, string, string];
    const progress = fakeStream(true, 120);
    const code = await runScenarioFiles([mmio, invalid, changed], { progress, out: () => {} });
    expect(code).toBe(1);
    const shown = screen(progress.text);
    expect(shown).toHaveLength(2);
    expect(shown[0]).toBe(`[3/3] ${changed}: 9/10 passed, 1 failed`);
    expect(shown[1]).toMatch(/^scenarios \[█{30}\] 3\/3 100% \| .*changed\.json: 9\/10 passed, 1 failed$/);
    expect(plain(progress.text)).not.toContain('[1/3]');
  });

  it('a directory stands for its scenario files, in name order, without the schema', async () => {
    const files = await expandScenarioPaths([EX, join(EX, 'mmio-lengths.json')]);
    expect(files.at(-1)).toBe(join(EX, 'mmio-lengths.json'));
    expect(files.slice(0, -1)).toEqual(
      [
        'forced-vcpu-run',
        'gh-crosvm-boot',
        'gh-ioeventfd-by-addr',
        'gh-page-fault-spin',
        'gh-start-faults',
        'immediate-exit',
        'ioeventfd-datamatch',
        'irqfd-premature',
        'mmio-lengths',
        'page-faults',
        'punch-hole',
        'resume-fault-retry',
        'resume-invalid',
        'rm-exit-types',
        'runs-after-exit',
        'scmi-crash-votes',
        'start-faults',
        'vm-exited-rewrite',
        'vm-status',
      ].map((n) => join(EX, `${n}.json`)),
    );
  });
});

describe('gunyah-emu run DIR|FILE…', () => {
  it('runs every example with a plain line each (stderr is not a terminal) and the summary on stdout', async () => {
    const r = await runCli(['run', EX]);
    expect(r.code).toBe(0);
    const progress = r.err.split('\n').filter((l) => l.startsWith('['));
    expect(progress).toHaveLength(19);
    expect(progress[8]).toBe('[9/19] examples/scenarios/mmio-lengths.json: 10/10 passed');
    progress.forEach((l, i) => expect(l).toMatch(new RegExp(`^\\[${i + 1}/19\\] examples/scenarios/[a-z-]+\\.json: (\\d+)/\\1 passed$`)));
    expect(r.out).toMatch(/\n19 scenarios: 19 passed, 0 failed\n$/);
    // The examples' deliberate warnings stay out of it unless --log-level asks.
    expect(r.err.split('\n').filter((l) => l !== '' && !l.startsWith('['))).toEqual([]);
  });

  it('two files run in turn; --trace with several files is refused', async () => {
    const two = await runCli(['run', join(EX, 'mmio-lengths.json'), join(EX, 'resume-invalid.json'), '--seed', '2']);
    expect(two.code).toBe(0);
    expect(two.err).toBe('[1/2] examples/scenarios/mmio-lengths.json: 10/10 passed\n[2/2] examples/scenarios/resume-invalid.json: 9/9 passed\n');
    const traced = await runCli(['run', EX, '--trace', join(scratchDir(), 't.jsonl')]);
    expect(traced.code).toBe(2);
    expect(traced.err).toBe('gunyah-emu run: --trace and --log record one scenario; give one file with them\n');
  });
});

describe('rm conformance with progress', () => {
  it('not a terminal: the case lines are the progress, unchanged, and the closing count', async () => {
    const target = await openTarget('builtin');
    const progress = fakeStream(false);
    let out = '';
    try {
      const s = await runConformanceWithProgress(target, { filter: /^framing\./, progress, out: (x) => void (out += x) });
      expect(s.failed).toBe(0);
    } finally {
      await target.close();
    }
    expect(progress.text).toBe('');
    const lines = out.trimEnd().split('\n');
    expect(lines.slice(0, -1).every((l) => l.startsWith('PASS framing.'))).toBe(true);
    expect(lines.at(-1)).toBe(`${lines.length - 1} passed, 0 failed`);
  });

  it('a terminal: a bar; with stdout on the same terminal the case lines go above it', async () => {
    const target = await openTarget('builtin');
    const progress = fakeStream(true, 200);
    let out = '';
    let n = 0;
    try {
      const s = await runConformanceWithProgress(target, { filter: /^framing\./, progress, outIsTerminal: true, out: (x) => void (out += x) });
      n = s.passed;
    } finally {
      await target.close();
    }
    expect(n).toBeGreaterThan(3);
    expect(out).toBe(`${n} passed, 0 failed\n`);
    const shown = screen(progress.text);
    expect(shown).toHaveLength(n + 1);
    expect(shown.slice(0, n).every((l) => l.startsWith('PASS framing.'))).toBe(true);
    expect(shown[n]).toMatch(new RegExp(`^conformance \\[█{30}\\] ${n}/${n} 100% \\| framing\\.[a-z-]+: PASS$`));
  });
});
