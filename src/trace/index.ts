/**
 * Tracing: the event catalogue (src/shared/trace-events.ts), the stamping tracer, the sinks
 * (JSON lines, human log, memory) and the helpers around them. docs/tracing.md describes all.
 */
export { createMemoryTraceSink, createStampingTracer, nullTraceSink, TRACE_STEP_NS } from '../shared/trace.js';
export type { MemoryTraceSink, StampingTracer, TraceEvent, TraceSink } from '../shared/trace.js';
export { TRACE_EVENT_KINDS, hx } from '../shared/trace-events.js';
export type * from '../shared/trace-events.js';
export {
  TRACE_FORMAT_VERSION,
  createJsonLinesSink,
  createLogSink,
  emulatorVersion,
  parseJsonLines,
  teeTraceSinks,
  traceHeader,
  traceJson,
  type ClosableTraceSink,
  type TextOut,
} from './sinks.js';
export { formatTraceLine } from './log-format.js';
export { describeGunyahIoctl } from './ioctl-describe.js';
