/**
 * The gunyah-emu command line: `run`, `replay`, `trace export`, `trace view`, `rm serve`, `rm conformance`, `serve`. Argument parsing is
 * commander's; each subcommand's work lives in its own module.
 */
import { Command, Option } from 'commander';
import Table from 'cli-table3';
import { createEmulator } from '../emulator.js';
import { runDefaultScenario } from './default-scenario.js';
import { formatDefaultScenario } from './default-scenario-report.js';
import { runRmLifecycleScenario } from './rm-lifecycle-scenario.js';
import { serveRm } from './rm-serve.js';
import { runScenarioFile } from './scenario-file.js';
import { openTraceOutputs, type TraceCliOptions } from './trace-options.js';
import { createCliLogger } from './cli-logger.js';
import type { Level } from 'pino';
import { openTarget } from '../conformance/targets.js';
import { runConformanceWithProgress } from './progress-conformance.js';
import { namesManyScenarios, expandScenarioPaths, runScenarioFiles } from './progress-scenarios.js';
import { runReplayCommand } from './replay-command.js';
import { registerTraceCommand } from './trace-command.js';
import { registerServeCommand } from './serve-command.js';

/** Run the CLI with `argv` (without node and script); resolves to the exit code. */
export async function main(argv: readonly string[]): Promise<number> {
  let code = 0;
  const program = new Command('gunyah-emu')
    .description('Emulator of the Gunyah Resource Manager and the Linux /dev/gunyah VM manager')
    .exitOverride()
    .configureOutput({ writeErr: (s) => process.stderr.write(s) });

  program
    .command('run')
    .argument('[scenarios...]', 'scenario files or directories (default: the embedded default scenario); several run in turn with progress')
    .option('--seed <n>', 'seed for every deterministic choice', '1')
    .option('--rm-only', 'instead: one VM through the RM lifecycle alone, with a table of every RPC and notification')
    .option('--trace <file>', 'write every emulator event to FILE as JSON lines (docs/tracing.md)')
    .option('--log', 'print every emulator event as a tracepoint-style line')
    .option('--observations', 'with a scenario file: also list everything the run saw')
    .addOption(new Option('--log-level <level>', 'structured log (stderr; pretty on a terminal)').choices(['trace', 'debug', 'info', 'warn', 'error', 'fatal', 'silent']).default('warn'))
    .description('run a scenario (or several in turn, with progress) and report what happened')
    .action(async (scenarios: string[], opts: { seed: string; rmOnly?: boolean; observations?: boolean; logLevel: Level | 'silent' } & TraceCliOptions, cmd: Command) => {
      const styled = process.stdout.isTTY === true;
      if (scenarios.length > 0 && !opts.rmOnly && (await namesManyScenarios(scenarios))) {
        if (opts.trace !== undefined || opts.log === true) {
          process.stderr.write('gunyah-emu run: --trace and --log record one scenario; give one file with them\n');
          code = 2;
          return;
        }
        const files = await expandScenarioPaths(scenarios);
        if (files.length === 0) {
          process.stderr.write(`gunyah-emu run: no scenario files in ${scenarios.join(', ')}\n`);
          code = 2;
          return;
        }
        const seed = cmd.getOptionValueSource('seed') === 'cli' ? Number(opts.seed) : undefined;
        code = await runScenarioFiles(files, {
          ...(seed !== undefined ? { seed } : {}),
          ...(opts.observations !== undefined ? { observations: opts.observations } : {}),
          // The examples provoke warnings on purpose; with many files the log is off unless asked for.
          logLevel: cmd.getOptionValueSource('logLevel') === 'cli' ? opts.logLevel : 'fatal',
          styled,
        });
        return;
      }
      const scenario = scenarios[0];
      if (scenario !== undefined) {
        if (opts.rmOnly) {
          process.stderr.write('gunyah-emu run: --rm-only runs its own scenario; give no scenario file with it\n');
          code = 2;
          return;
        }
        const seed = cmd.getOptionValueSource('seed') === 'cli' ? Number(opts.seed) : undefined;
        code = await runScenarioFile(scenario, {
          ...(seed !== undefined ? { seed } : {}),
          ...(opts.trace !== undefined ? { trace: opts.trace } : {}),
          ...(opts.log !== undefined ? { log: opts.log } : {}),
          ...(opts.observations !== undefined ? { observations: opts.observations } : {}),
          logLevel: opts.logLevel,
          styled,
        });
        return;
      }
      if (opts.rmOnly) {
        code = await printRmLifecycle(Number(opts.seed), styled);
        return;
      }
      const tracing = openTraceOutputs(opts, Number(opts.seed));
      try {
        const log = createCliLogger({ level: opts.logLevel });
        const r = await runDefaultScenario(Number(opts.seed), { log, ...(tracing.sink ? { trace: tracing.sink } : {}) });
        process.stdout.write(formatDefaultScenario(r, styled));
        if (r.problems.length > 0 || r.invariantViolations.length > 0) code = 1;
      } finally {
        tracing.close();
      }
    });

  const rm = program.command('rm').description('the Resource Manager on its own');
  rm.command('serve')
    .description('serve the emulated RM over the msgq socket transport')
    .addOption(new Option('--socket <path>', 'listen on a Unix socket').conflicts('tcp'))
    .addOption(new Option('--tcp <host:port>', 'listen on TCP (loopback)'))
    .addOption(new Option('--on-assert <mode>', 'what an RM assertion does').choices(['reply', 'crash']).default('reply'))
    .addOption(new Option('--firmware <gen>', 'which RM to be').choices(['v17', 'public-12-2023']).default('v17'))
    .action(async (opts: { socket?: string; tcp?: string; onAssert: 'reply' | 'crash'; firmware: 'v17' | 'public-12-2023' }) => {
      const emu = createEmulator({ rm: { onAssert: opts.onAssert, firmware: opts.firmware } });
      let where;
      if (opts.socket) where = { path: opts.socket };
      else {
        const [host, port] = (opts.tcp ?? '127.0.0.1:0').split(':');
        where = { host: host ?? '127.0.0.1', port: Number(port ?? 0) };
      }
      const server = await serveRm(emu, where);
      process.stdout.write(`gunyah-emu RM listening on ${server.target}\n`);
      await new Promise<void>((resolve) => {
        const stop = () => resolve();
        process.once('SIGINT', stop);
        process.once('SIGTERM', stop);
      });
      await server.close();
      emu.close();
    });
  rm.command('conformance')
    .description('run the RM conformance suite against an RM')
    .option('--target <target>', 'builtin, unix:PATH or tcp:HOST:PORT', 'builtin')
    .option('--filter <regex>', 'only cases whose id matches')
    .action(async (opts: { target: string; filter?: string }) => {
      const target = await openTarget(opts.target);
      try {
        const s = await runConformanceWithProgress(target, opts.filter ? { filter: new RegExp(opts.filter) } : {});
        if (s.failed > 0) code = 1;
      } finally {
        await target.close();
      }
    });

  program
    .command('replay')
    .argument('<trace>', 'a trace file written by run --trace')
    .description('run the scenario and seed a trace records again and compare the new trace with it, event by event')
    .option('--context <n>', 'events of context around the first difference', '3')
    .addOption(new Option('--log-level <level>', 'structured log of the replayed run (stderr)').choices(['trace', 'debug', 'info', 'warn', 'error', 'fatal', 'silent']).default('error'))
    .action(async (trace: string, opts: { context: string; logLevel: Level | 'silent' }) => {
      const context = Number(opts.context);
      if (!Number.isSafeInteger(context) || context < 0) {
        process.stderr.write(`gunyah-emu replay: --context takes a whole number of events, not "${opts.context}"\n`);
        code = 2;
        return;
      }
      code = await runReplayCommand(trace, { context, logLevel: opts.logLevel, styled: process.stdout.isTTY === true });
    });

  registerTraceCommand(program, (c) => (code = c));
  registerServeCommand(program, (c) => (code = c));

  try {
    await program.parseAsync([...argv], { from: 'user' });
  } catch (err) {
    const e = err as { code?: string; exitCode?: number };
    if (typeof e.code === 'string' && e.code.startsWith('commander.')) return e.exitCode ?? 1;
    process.stderr.write(`gunyah-emu: ${err instanceof Error ? err.message : String(err)}\n`);
    return 1;
  }
  return code;
}

/** `run --rm-only`: the RM lifecycle table; resolves to the exit code. */
async function printRmLifecycle(seed: number, styled: boolean): Promise<number> {
  const r = await runRmLifecycleScenario(seed);
  const t = new Table({
    head: ['#', 'kind', 'message', 'seq', 'detail'],
    style: { head: styled ? ['cyan'] : [], border: styled ? ['grey'] : [], compact: true },
  });
  for (const row of r.rows) t.push([row.step, row.kind, row.name, row.seq, row.detail]);
  process.stdout.write(`RM lifecycle: VM 0x${r.vmid.toString(16)} through the RM lifecycle\n${t.toString()}\n`);
  if (r.invariantViolations.length > 0) {
    process.stdout.write(`invariant violations:\n  ${r.invariantViolations.join('\n  ')}\n`);
    return 1;
  }
  process.stdout.write('all invariants hold; no VM and no hypervisor object left behind\n');
  return 0;
}
