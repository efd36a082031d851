/**
 * Logger type used across layers. Objects take a logger and make child loggers from it; none
 * creates a root logger itself. `silentLogger()` is the default when the caller gives none.
 */
import { pino, type Logger as PinoLogger } from 'pino';

export type Logger = PinoLogger;

/** A logger that drops everything (level `silent`). */
export function silentLogger(): Logger {
  return pino({ level: 'silent' });
}
