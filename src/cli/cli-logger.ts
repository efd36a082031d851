/**
 * The command line's root logger (the structured log, apart from the trace): pino's JSON lines,
 * or pino-pretty's coloured lines when the output is a terminal. It writes to stderr so that
 * stdout carries only the command's report and the `--log` trace lines.
 *
 * Reference: docs/tracing.md ("Logs and traces"); docs/decisions.md T-rows.
 */
import { pino, type Level } from 'pino';
import PinoPretty from 'pino-pretty';
import type { Logger } from '../shared/log.js';

export interface CliLoggerOptions {
  /** Lowest level written (default 'warn'). */
  readonly level?: Level | 'silent';
  /** Where lines go (default: stderr). */
  readonly stream?: NodeJS.WriteStream;
}

/** Pretty (pino-pretty, synchronous, coloured) when `stream` is a TTY, JSON lines otherwise. */
export function createCliLogger(opts: CliLoggerOptions = {}): Logger {
  const stream = opts.stream ?? process.stderr;
  const level = opts.level ?? 'warn';
  if (stream.isTTY === true) return pino({ level }, PinoPretty({ destination: stream, sync: true, colorize: true }));
  return pino({ level }, stream);
}
