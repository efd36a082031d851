/**
 * The tracing options of `gunyah-emu run`: `--trace FILE` writes the trace as JSON lines (a
 * `trace.header` record with the seed and scenario first), `--log` prints the human log
 * (tracepoint-style lines) on stdout. Both may be given; neither means no tracing at all.
 *
 * Reference: docs/tracing.md (file format, log lines).
 */
import type { TraceSink } from '../shared/trace.js';
import { createJsonLinesSink, createLogSink, teeTraceSinks, traceHeader, type ClosableTraceSink } from '../trace/sinks.js';

export interface TraceCliOptions {
  /** `--trace FILE`. */
  readonly trace?: string;
  /** `--log`. */
  readonly log?: boolean;
}

/** The sinks the options ask for, as one (undefined: none), and how to close them. */
export interface TraceOutputs {
  readonly sink: TraceSink | undefined;
  /** Flush and close the trace file. */
  close(): void;
}

/** Text to stdout; once the reader went away (EPIPE, e.g. `| head`), the rest is dropped. */
function stdoutUntilClosed(): (chunk: string) => void {
  let open = true;
  process.stdout.on('error', (err: NodeJS.ErrnoException) => {
    if (err.code !== 'EPIPE') throw err;
    open = false;
  });
  return (chunk) => {
    if (open) process.stdout.write(chunk);
  };
}

/**
 * Open what `opts` asks for. `scenario` is recorded in the trace header: the whole scenario
 * (parsed JSON) or "default".
 * @throws Error when the trace file cannot be created
 */
export function openTraceOutputs(opts: TraceCliOptions, seed: number, scenario: unknown = 'default'): TraceOutputs {
  const sinks: TraceSink[] = [];
  let file: ClosableTraceSink | undefined;
  if (opts.trace !== undefined) sinks.push((file = createJsonLinesSink(opts.trace, traceHeader(seed, scenario))));
  if (opts.log === true) sinks.push(createLogSink(stdoutUntilClosed()));
  const sink = sinks.length === 0 ? undefined : sinks.length === 1 ? sinks[0] : teeTraceSinks(...sinks);
  return { sink, close: () => file?.close() };
}
