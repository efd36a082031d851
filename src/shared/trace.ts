/**
 * Trace events: what every layer reports about what it did, in order, for replay and for
 * viewers. A sink receives plain JSON-serialisable records; the emulator stamps them with a
 * sequence number and its clock (`createStampingTracer`). The catalogue of kinds and fields is
 * src/shared/trace-events.ts; docs/tracing.md describes both.
 */
import { createVirtualClock, type VirtualClock } from './clock.js';
import type { StampedTraceEvent, TraceEventData, Tracer } from './trace-events.js';

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

/** Virtual nanoseconds the emulator's clock moves per trace event. */
export const TRACE_STEP_NS = 1000n;

/** The emulator's tracer: stamps each event and hands it to the user's sink. */
export interface StampingTracer extends Tracer {
  /** Events stamped so far (the last `seq`). */
  readonly count: number;
}

/**
 * Wrap `sink`: every event gets `seq` (1, 2, … in emit order) and `t`, the virtual time after
 * `clock` (default: a clock of the tracer's own, starting at 0) moved forward by `stepNs`.
 * Nothing here reads a wall clock, so the same run gives the same records. The record is a new
 * object `{ seq, t, kind, …fields }` (field order as built).
 */
export function createStampingTracer(sink: TraceSink, clock: VirtualClock = createVirtualClock(), stepNs: bigint = TRACE_STEP_NS): StampingTracer {
  let seq = 0;
  return {
    emit(ev: TraceEventData): void {
      seq++;
      clock.advance(stepNs);
      const stamped: StampedTraceEvent = { seq, t: Number(clock.now()), ...ev };
      sink.emit(stamped);
    },
    get count() {
      return seq;
    },
  };
}
