/**
 * `npm run bench`: run every benchmark file in bench/ (each exports `suite`, see
 * bench/lib/suite.ts) and print one table: case, ops/s, baseline ops/s, ratio, PASS/FAIL.
 * Always exits 0 when the benchmarks ran; FAIL is a figure, not an error.
 *
 * Options: `--quick` (short rounds, a smoke test), `--rounds N`, `--round-ms N`,
 * `--warmup-ms N`, `--json FILE` (write every round's figures), and positional filters that
 * select suites whose name contains them. Not part of the emulator.
 */
import { readdir, writeFile } from 'node:fs/promises';
import { availableParallelism, cpus } from 'node:os';
import { basename, dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import Table from 'cli-table3';
import { missedGoals, rowPasses, type BenchRow, type BenchSuite } from './lib/suite.js';
import { DEFAULT_TIMING, type TimingConfig } from './lib/timing.js';

const QUICK: TimingConfig = { warmupMs: 200, roundMs: 300, rounds: 3 };

function positiveInt(v: string | undefined, what: string): number | undefined {
  if (v === undefined) return undefined;
  const n = Number(v);
  if (!Number.isInteger(n) || n <= 0) throw new Error(`${what} must be a positive integer, got ${v}`);
  return n;
}

async function findSuites(dir: string, filters: readonly string[]): Promise<BenchSuite[]> {
  const files = (await readdir(dir))
    .filter((f) => f.endsWith('.ts') && f !== basename(fileURLToPath(import.meta.url)))
    .sort();
  const suites: BenchSuite[] = [];
  for (const f of files) {
    const mod = (await import(pathToFileURL(join(dir, f)).href)) as { suite?: BenchSuite };
    if (!mod.suite) throw new Error(`bench/${f} exports no suite`);
    if (filters.length === 0 || filters.some((x) => mod.suite!.name.includes(x))) suites.push(mod.suite);
  }
  return suites;
}

const fmtRate = (n: number): string => Math.round(n).toLocaleString('en-US');

function machine(): string {
  const c = cpus();
  return `node ${process.version}, ${process.platform}/${process.arch}, ${availableParallelism()} cores (${c[0]?.model.trim() ?? 'unknown CPU'})`;
}

async function main(): Promise<void> {
  const { values, positionals } = parseArgs({
    allowPositionals: true,
    options: {
      quick: { type: 'boolean', default: false },
      rounds: { type: 'string' },
      'round-ms': { type: 'string' },
      'warmup-ms': { type: 'string' },
      json: { type: 'string' },
    },
  });
  const base = values.quick ? QUICK : DEFAULT_TIMING;
  const timing: TimingConfig = {
    rounds: positiveInt(values.rounds, '--rounds') ?? base.rounds,
    roundMs: positiveInt(values['round-ms'], '--round-ms') ?? base.roundMs,
    warmupMs: positiveInt(values['warmup-ms'], '--warmup-ms') ?? base.warmupMs,
    quick: values.quick,
  };
  const log = (line: string): void => void process.stderr.write(`${line}\n`);
  log(`# ${machine()}`);
  log(`# warm-up ${timing.warmupMs} ms, then ${timing.rounds} rounds × ${timing.roundMs} ms per side, median reported`);

  const suites = await findSuites(dirname(fileURLToPath(import.meta.url)), positionals);
  const results: Array<{ suite: string; rows: BenchRow[] }> = [];
  for (const s of suites) {
    log(`${s.name}: ${s.description}`);
    results.push({ suite: s.name, rows: await s.run(timing, log) });
  }

  const table = new Table({
    head: ['case', 'ops/s', 'baseline ops/s', 'ratio', 'goal', 'result', 'rounds min–max (subject | base)'],
    colAligns: ['left', 'right', 'right', 'right', 'right', 'left', 'right'],
    style: { head: [], border: [] },
  });
  for (const { suite, rows } of results) {
    for (const r of rows) {
      const spread = (xs: readonly { opsPerSec: number }[]): string => {
        if (xs.length === 0) return '—';
        const v = xs.map((x) => x.opsPerSec);
        return `${fmtRate(Math.min(...v))}–${fmtRate(Math.max(...v))}`;
      };
      const goals = [...(r.goal !== undefined ? [`≥ ${r.goal}`] : []), ...(r.checks ?? []).map((c) => c.text)];
      table.push([
        `${suite} / ${r.name}`,
        fmtRate(r.opsPerSec),
        r.baselineOpsPerSec !== undefined ? fmtRate(r.baselineOpsPerSec) : '—',
        r.ratio !== undefined ? r.ratio.toFixed(3) : '—',
        goals.join(', '),
        rowPasses(r) ? 'PASS' : `FAIL (${missedGoals(r).join('; ')})`,
        `${spread(r.rounds.subject)} | ${spread(r.rounds.baseline)}`,
      ]);
    }
  }
  process.stdout.write(`${table.toString()}\n`);

  // A round whose process CPU time is well under its wall time was starved by other load.
  for (const { suite, rows } of results) {
    for (const r of rows) {
      const starved = [...r.rounds.subject, ...r.rounds.baseline].filter((x) => x.cpuMs < 0.8 * x.ms).length;
      if (starved > 0) log(`# warning: ${suite} / ${r.name}: ${starved} round(s) got under 80% of a CPU (machine busy); figures are noisy`);
    }
  }

  if (values.json) {
    const out = { machine: machine(), nproc: availableParallelism(), node: process.version, timing, date: new Date().toISOString(), results };
    await writeFile(values.json, `${JSON.stringify(out, null, 2)}\n`);
    log(`# wrote ${values.json}`);
  }
}

main().catch((err: unknown) => {
  process.stderr.write(`bench failed: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
  process.exitCode = 1;
});
