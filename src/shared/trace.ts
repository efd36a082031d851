/**
 * Trace events: what every layer reports about what it did, in order, for replay and for
 * viewers. A sink receives plain JSON-serialisable records; the emulator stamps them with a
 * sequence number and its clock.
 */

/** One trace record. `kind` names the event family; the rest is event data. */
export interface TraceEvent {
  readonly kind: string;
  readonly [field: string]: unknown;
}

/** Where trace records go. */
export interface TraceSink {
  emit(ev: TraceEvent): void;
}

/** A sink that keeps every record in memory (for tests and the CLI's tables). */
export interface MemoryTraceSink extends TraceSink {
  readonly events: TraceEvent[];
}

export function createMemoryTraceSink(): MemoryTraceSink {
  const events: TraceEvent[] = [];
  return { events, emit: (ev) => void events.push(ev) };
}

/** A sink that drops everything. */
export const nullTraceSink = (): TraceSink => ({ emit: () => {} });
