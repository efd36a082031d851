/**
 * `gunyah-emu trace`: tools for trace files written by `run --trace FILE` (JSON lines,
 * docs/tracing.md).
 * - `trace export --format perfetto IN.jsonl [-o OUT.json]`: Chrome trace-event JSON for
 *   ui.perfetto.dev or chrome://tracing (src/trace/perfetto.ts); to stdout without `-o`.
 * - `trace view IN.jsonl [-o OUT.html]`: a self-contained HTML timeline (src/trace/html-view.ts);
 *   without `-o`, next to the input (`IN.html`).
 * Exit code 2 when the input is not a trace file (the reason goes to stderr).
 *
 * Reference: docs/reproducing-an-exit-reason-bug.md.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { basename } from 'node:path';
import { Option, type Command } from 'commander';
import { parseJsonLines } from '../trace/sinks.js';
import { chromeTraceJson, exportPerfetto } from '../trace/perfetto.js';
import { traceToHtml } from '../trace/html-view.js';
import type { TraceEvent } from '../shared/trace.js';
import type { TraceHeaderEvent } from '../shared/trace-events.js';

/** Read and parse a trace file (`-` = stdin); undefined after writing why to stderr. */
function readTrace(cmd: string, file: string): { header: TraceHeaderEvent; events: TraceEvent[] } | undefined {
  try {
    const text = readFileSync(file === '-' ? 0 : file, 'utf8');
    return parseJsonLines(text);
  } catch (err) {
    process.stderr.write(`gunyah-emu trace ${cmd}: ${file}: ${err instanceof Error ? err.message : String(err)}\n`);
    return undefined;
  }
}

/** Where `view` writes without `-o`: the input's name with `.html` for `.jsonl`/`.json`. */
export function defaultHtmlPath(input: string): string {
  if (input === '-') return 'trace.html';
  return input.replace(/\.(jsonl|json|ndjson)$/i, '') + '.html';
}

/** Register the `trace` command group on `program`; `setCode` receives each action's exit code. */
export function registerTraceCommand(program: Command, setCode: (code: number) => void): void {
  const trace = program.command('trace').description('look at trace files written by run --trace');
  trace
    .command('export')
    .description('convert a trace to Chrome trace-event JSON (open it in ui.perfetto.dev or chrome://tracing)')
    .argument('<trace>', 'trace file (JSON lines from run --trace; - for stdin)')
    .addOption(new Option('--format <format>', 'output format').choices(['perfetto']).default('perfetto'))
    .option('-o, --output <file>', 'write to FILE instead of stdout')
    .action((file: string, opts: { format: 'perfetto'; output?: string }) => {
      const tr = readTrace('export', file);
      if (!tr) return setCode(2);
      const json = chromeTraceJson(exportPerfetto(tr));
      if (opts.output === undefined || opts.output === '-') process.stdout.write(json);
      else {
        writeFileSync(opts.output, json);
        process.stderr.write(`wrote ${opts.output} (${tr.events.length} records): open it in ui.perfetto.dev or chrome://tracing\n`);
      }
      setCode(0);
    });
  trace
    .command('view')
    .description('write a self-contained HTML timeline of a trace (opens in any browser, no network)')
    .argument('<trace>', 'trace file (JSON lines from run --trace; - for stdin)')
    .option('-o, --output <file>', 'HTML file to write (default: the trace file with .html; - for stdout)')
    .action((file: string, opts: { output?: string }) => {
      const tr = readTrace('view', file);
      if (!tr) return setCode(2);
      const html = traceToHtml(tr, `gunyah-emu trace: ${file === '-' ? 'stdin' : basename(file)}`);
      const out = opts.output ?? defaultHtmlPath(file);
      if (out === '-') process.stdout.write(html);
      else {
        writeFileSync(out, html);
        process.stderr.write(`wrote ${out} (${tr.events.length} records)\n`);
      }
      setCode(0);
    });
}
