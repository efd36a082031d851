/**
 * Trace sinks: JSON lines (the trace file of `gunyah-emu run --trace FILE`: a `trace.header`
 * record first, then one stamped record per line), and the human log (`--log`: one
 * tracepoint-style line per record, src/trace/log-format.ts). Both write synchronously, so what
 * is in the file or on the terminal follows the emulator step by step and nothing is lost when
 * the process ends; the file sink buffers up to 64 KiB between writes.
 *
 * Reference: docs/tracing.md (file format, header, determinism rule).
 */
import { closeSync, openSync, writeSync } from 'node:fs';
import { createRequire } from 'node:module';
import type { TraceEvent, TraceSink } from '../shared/trace.js';
import type { TraceHeaderEvent } from '../shared/trace-events.js';
import { formatTraceLine } from './log-format.js';

/** A sink that holds a resource until closed. */
export interface ClosableTraceSink extends TraceSink {
  /** Flush and release; later records are dropped. Idempotent. */
  close(): void;
}

/** Where text goes: a function given whole chunks (each ends with a newline). */
export type TextOut = (chunk: string) => void;

/** The trace format version of `trace.header`. */
export const TRACE_FORMAT_VERSION = 1;

/** gunyah-emu's version (package.json). */
export function emulatorVersion(): string {
  const pkg = createRequire(import.meta.url)('../../package.json') as { version?: string };
  return pkg.version ?? 'unknown';
}

/** The header record of a trace of `scenario` (the whole scenario JSON, or "default") run with `seed`. */
export function traceHeader(seed: number, scenario: unknown = 'default'): TraceHeaderEvent {
  return { kind: 'trace.header', version: TRACE_FORMAT_VERSION, seed, scenario, emulator: emulatorVersion() };
}

/** JSON of a record; a bigint (none should reach a sink) becomes `0x…` rather than throwing. */
export function traceJson(ev: unknown): string {
  return JSON.stringify(ev, (_k, v: unknown) => (typeof v === 'bigint' ? `0x${BigInt.asUintN(64, v).toString(16)}` : v));
}

const FLUSH_BYTES = 64 * 1024;

/** Chunks to a file opened for writing (truncated), buffered; `close` flushes and closes. */
function fileOut(path: string): { out: TextOut; close(): void } {
  const fd = openSync(path, 'w');
  let buf: string[] = [];
  let size = 0;
  const flush = (): void => {
    if (buf.length === 0) return;
    writeSync(fd, buf.join(''));
    buf = [];
    size = 0;
  };
  return {
    out: (chunk) => {
      buf.push(chunk);
      size += chunk.length;
      if (size >= FLUSH_BYTES) flush();
    },
    close: () => {
      flush();
      closeSync(fd);
    },
  };
}

/**
 * JSON lines: `header` first, then each record as given (the emulator's stamped records). `to`
 * is a file path (created or truncated) or a text function.
 */
export function createJsonLinesSink(to: string | TextOut, header: TraceHeaderEvent): ClosableTraceSink {
  const file = typeof to === 'string' ? fileOut(to) : undefined;
  const out = file?.out ?? (to as TextOut);
  let closed = false;
  out(`${traceJson(header)}\n`);
  return {
    emit(ev: TraceEvent) {
      if (!closed) out(`${traceJson(ev)}\n`);
    },
    close() {
      if (closed) return;
      closed = true;
      file?.close();
    },
  };
}

/** The human log: one tracepoint-style line per record (default: to stdout). */
export function createLogSink(to: TextOut = (s) => void process.stdout.write(s)): TraceSink {
  return { emit: (ev) => to(`${formatTraceLine(ev)}\n`) };
}

/** Several sinks as one (each record to each, in order). */
export function teeTraceSinks(...sinks: readonly TraceSink[]): TraceSink {
  return { emit: (ev) => sinks.forEach((s) => s.emit(ev)) };
}

/** A parsed trace file: its header and records. @throws SyntaxError / TypeError on a bad file */
export function parseJsonLines(text: string): { header: TraceHeaderEvent; events: TraceEvent[] } {
  const lines = text.split('\n').filter((l) => l.length > 0);
  const [first, ...rest] = lines.map((l, i) => {
    try {
      return JSON.parse(l) as TraceEvent;
    } catch (err) {
      throw new SyntaxError(`trace line ${i + 1}: ${err instanceof Error ? err.message : String(err)}`);
    }
  });
  if (first?.kind !== 'trace.header') throw new TypeError('trace: the first line is not a trace.header record');
  if (first['version'] !== TRACE_FORMAT_VERSION) throw new TypeError(`trace: version ${String(first['version'])}, expected ${TRACE_FORMAT_VERSION}`);
  return { header: first as unknown as TraceHeaderEvent, events: rest };
}
