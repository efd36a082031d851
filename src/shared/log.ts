/**
 * Logger type used across layers. Objects take a logger and make child loggers from it; none
 * creates a root logger itself. `silentLogger()` is the default when the caller gives none; the
 * command line's root logger (pretty on a terminal) is src/cli/cli-logger.ts.
 */
import { pino, type Logger as PinoLogger } from 'pino';

export type Logger = PinoLogger;

/** A logger that drops everything (level `silent`). */
export function silentLogger(): Logger {
  return pino({ level: 'silent' });
}
