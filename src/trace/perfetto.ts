/**
 * `gunyah-emu trace export --format perfetto`: a trace (docs/tracing.md) as Chrome trace-event
 * JSON, the format ui.perfetto.dev and chrome://tracing open. The layout is the timeline of
 * src/trace/perfetto-model.ts: a process per VM (a track per vCPU with a complete slice per
 * GUNYAH_VCPU_RUN and nested slices for the hypervisor's vcpu_run, instants for exits, guest
 * operations and ioctl returns), one for the Resource Manager (a slice per request handled, flow
 * arrows from each call to its handling and from the reply back), one for the host kernel, one
 * for the SCMI platform; counters (ph 'C') for each VM's lent and shared memory and each SCMI
 * resource's aggregate and voter count.
 *
 * Timestamps are the trace's virtual `t` (ns) in µs, as the format wants; nothing in the output
 * depends on the machine or the wall clock, so one trace always gives the same bytes.
 * src/trace/perfetto-check.ts checks the format's rules on the result.
 *
 * Reference: the Chrome trace-event format (phases B/E/X/i/s/t/f/C/M, flow binding to the
 * enclosing slice, `bp: "e"`); docs/tracing.md; docs/reproducing-an-exit-reason-bug.md.
 */
import type { TraceEvent } from '../shared/trace.js';
import type { TraceHeaderEvent } from '../shared/trace-events.js';
import { buildTimeline, type Timeline } from './perfetto-model.js';

/** One event of the Chrome trace-event format (the fields this export writes). */
export interface ChromeTraceEvent {
  readonly ph: string;
  readonly name: string;
  readonly cat?: string;
  /** µs. */
  readonly ts: number;
  readonly dur?: number;
  readonly pid: number;
  readonly tid: number;
  readonly id?: number | string;
  /** Instants: scope (t = thread). */
  readonly s?: string;
  /** Flow ends: `e` binds to the enclosing slice. */
  readonly bp?: string;
  readonly args?: Readonly<Record<string, unknown>>;
}

/** The JSON object form of a trace (`traceEvents` plus metadata). */
export interface ChromeTrace {
  readonly traceEvents: readonly ChromeTraceEvent[];
  readonly displayTimeUnit: 'ns' | 'ms';
  readonly otherData: Readonly<Record<string, unknown>>;
}

/** ns → µs (the trace's times are whole ns; µs keep three decimals at most). */
const us = (ns: number): number => Math.round(ns) / 1000;

/** The Chrome trace of a timeline. */
export function timelineToChromeTrace(tl: Timeline): ChromeTrace {
  const ev: ChromeTraceEvent[] = [];
  const meta: ChromeTraceEvent[] = [];
  const procSort = new Map(tl.processes.map((p, i) => [p.pid, i] as const));
  for (const p of tl.processes) {
    meta.push({ ph: 'M', name: 'process_name', ts: 0, pid: p.pid, tid: 0, args: { name: p.name } });
    meta.push({ ph: 'M', name: 'process_sort_index', ts: 0, pid: p.pid, tid: 0, args: { sort_index: procSort.get(p.pid) ?? 0 } });
  }
  tl.tracks.forEach((tr, i) => {
    meta.push({ ph: 'M', name: 'thread_name', ts: 0, pid: tr.pid, tid: tr.tid, args: { name: tr.name } });
    meta.push({ ph: 'M', name: 'thread_sort_index', ts: 0, pid: tr.pid, tid: tr.tid, args: { sort_index: i } });
  });
  const pidOf = new Map(tl.tracks.map((tr) => [tr.tid, tr.pid] as const));
  for (const s of tl.slices) {
    ev.push({ ph: 'X', name: s.name, cat: s.cat, ts: us(s.start), dur: us(s.end - s.start), pid: pidOf.get(s.tid) ?? 0, tid: s.tid, args: s.args });
  }
  for (const i of tl.instants) {
    ev.push({ ph: 'i', name: i.name, cat: i.cat, ts: us(i.t), s: 't', pid: pidOf.get(i.tid) ?? 0, tid: i.tid, args: i.args });
  }
  for (const f of tl.flows) {
    ev.push({ ph: 's', name: f.name, cat: 'rm', id: f.id, ts: us(f.from.t), pid: pidOf.get(f.from.tid) ?? 0, tid: f.from.tid });
    ev.push({ ph: 'f', name: f.name, cat: 'rm', id: f.id, bp: 'e', ts: us(f.to.t), pid: pidOf.get(f.to.tid) ?? 0, tid: f.to.tid });
  }
  for (const c of tl.counters) {
    ev.push({ ph: 'C', name: c.name, cat: 'counter', ts: us(c.t), pid: c.pid, tid: 0, args: c.values });
  }
  // Time order; at one time, outer slices before inner ones, so readers that stream see them nest.
  const order = (e: ChromeTraceEvent): number => (e.ph === 'X' ? 0 : e.ph === 'f' ? 1 : e.ph === 's' ? 3 : 2);
  const indexed = ev.map((e, i) => ({ e, i }));
  indexed.sort((a, b) => a.e.ts - b.e.ts || order(a.e) - order(b.e) || (b.e.dur ?? 0) - (a.e.dur ?? 0) || a.i - b.i);
  const h = tl.header;
  const scenario = h?.scenario;
  const description =
    typeof scenario === 'object' && scenario !== null && typeof (scenario as Record<string, unknown>)['description'] === 'string'
      ? ((scenario as Record<string, unknown>)['description'] as string)
      : typeof scenario === 'string'
        ? scenario
        : undefined;
  return {
    traceEvents: [...meta, ...indexed.map((x) => x.e)],
    displayTimeUnit: 'ns',
    otherData: {
      source: 'gunyah-emu trace export --format perfetto',
      ...(h ? { emulator: h.emulator, seed: h.seed, traceVersion: h.version } : {}),
      ...(description !== undefined ? { scenario: description } : {}),
      timeUnit: 'virtual ns of the trace, written as µs',
    },
  };
}

/** The Chrome trace of a parsed trace (`parseJsonLines`) or of a memory sink's records. */
export function exportPerfetto(trace: { readonly header?: TraceHeaderEvent | undefined; readonly events: readonly TraceEvent[] }): ChromeTrace {
  return timelineToChromeTrace(buildTimeline(trace));
}

/** The JSON text of a Chrome trace: one event per line (diffs stay readable), newline at the end. */
export function chromeTraceJson(trace: ChromeTrace): string {
  const lines = trace.traceEvents.map((e) => JSON.stringify(e));
  return `{"displayTimeUnit":${JSON.stringify(trace.displayTimeUnit)},"otherData":${JSON.stringify(trace.otherData)},"traceEvents":[\n${lines.join(',\n')}\n]}\n`;
}
