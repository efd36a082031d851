/**
 * Replay of a recorded trace: read a JSON-lines trace file and check its `trace.header` (it must
 * say which scenario and seed made it, in a format version this emulator reads), run the same
 * scenario with the same seed again (the caller's runner: the scenario runner, or the embedded
 * default scenario of the command line), and compare the two traces record by record. The
 * answer is "identical", or the first record that differs with both versions field by field
 * and a few records of context around it.
 *
 * Records are compared in their JSON form, as the file holds them (`traceJson`: absent fields
 * are left out, key order as built), so "identical" means the replay would write the same bytes.
 *
 * Reference: docs/tracing.md ("Replay", "Records, stamps and determinism", the header record).
 */
import Table from 'cli-table3';
import type { TraceEvent } from '../shared/trace.js';
import type { TraceHeaderEvent } from '../shared/trace-events.js';
import { formatTraceLine } from './log-format.js';
import { TRACE_FORMAT_VERSION, traceJson } from './sinks.js';

/** A trace that cannot be replayed: no header, another format version, no scenario or seed, not JSON. */
export class TraceReplayError extends Error {
  override readonly name = 'TraceReplayError';
}

/** A trace file read for replay: its header (checked) and its records. */
export interface ReplayableTrace {
  readonly header: TraceHeaderEvent;
  readonly events: readonly TraceEvent[];
}

const kindOf = (v: unknown): string | undefined =>
  v !== null && typeof v === 'object' && typeof (v as { kind?: unknown }).kind === 'string' ? (v as { kind: string }).kind : undefined;

/**
 * Read trace text for replay. The first line must be a `trace.header` record of format version
 * 1 with an integer `seed` and a `scenario` (an object, or "default").
 * @throws TraceReplayError saying what is wrong, in words a person can act on
 */
export function readReplayableTrace(text: string): ReplayableTrace {
  const lines = text.split('\n');
  while (lines.length > 0 && lines[lines.length - 1]!.trim() === '') lines.pop();
  if (lines.length === 0) throw new TraceReplayError('the file is empty: a trace starts with a trace.header record');
  const parse = (i: number): unknown => {
    try {
      return JSON.parse(lines[i]!) as unknown;
    } catch (err) {
      const why = err instanceof Error ? err.message : String(err);
      throw new TraceReplayError(
        i === 0
          ? `line 1 is not JSON (${why}): not a gunyah-emu trace (written by --trace FILE, a trace.header record first)`
          : `line ${i + 1} is not JSON (${why})`,
      );
    }
  };
  const head = parse(0);
  const kind = kindOf(head);
  if (kind !== 'trace.header') {
    throw new TraceReplayError(
      `line 1 is ${kind !== undefined ? `a record of kind "${kind}"` : 'not a trace record'}, not a trace.header record: the trace does not say which scenario and seed made it (was the start of the file cut off?)`,
    );
  }
  const h = head as Record<string, unknown>;
  if (h['version'] !== TRACE_FORMAT_VERSION) {
    throw new TraceReplayError(`trace.header version ${JSON.stringify(h['version'])}: this gunyah-emu reads trace format version ${TRACE_FORMAT_VERSION} only`);
  }
  if (typeof h['seed'] !== 'number' || !Number.isSafeInteger(h['seed'])) {
    throw new TraceReplayError(`trace.header has no integer seed (found ${JSON.stringify(h['seed']) ?? 'nothing'}): the run cannot be repeated`);
  }
  const scenario = h['scenario'];
  if (scenario !== 'default' && (scenario === null || typeof scenario !== 'object' || Array.isArray(scenario))) {
    throw new TraceReplayError(`trace.header has no scenario (expected the scenario JSON or "default", found ${JSON.stringify(scenario) ?? 'nothing'}): the run cannot be repeated`);
  }
  const events: TraceEvent[] = [];
  for (let i = 1; i < lines.length; i++) {
    const ev = parse(i);
    if (kindOf(ev) === undefined) throw new TraceReplayError(`line ${i + 1} is not a trace record (no "kind")`);
    events.push(ev as TraceEvent);
  }
  return { header: head as TraceHeaderEvent, events };
}

/** One field that differs: its path (`args.fn.id`, `resume[1]`) and both values (undefined: absent). */
export interface FieldDifference {
  readonly field: string;
  readonly recorded: unknown;
  readonly replayed: unknown;
}

/** The outcome of comparing a recorded trace with its replay. */
export type TraceComparison =
  | { readonly identical: true; readonly events: number }
  | {
      readonly identical: false;
      /** 0-based position of the first record that differs (= the shorter length when one ends early). */
      readonly index: number;
      /** Both traces, as the file holds them (JSON form). */
      readonly recorded: readonly TraceEvent[];
      readonly replayed: readonly TraceEvent[];
      /** The fields of record `index` that differ (empty when one trace has no record there). */
      readonly fields: readonly FieldDifference[];
    };

/** A record in its JSON form, as a file would hold it. */
function jsonForm(ev: TraceEvent): TraceEvent {
  return JSON.parse(traceJson(ev)) as TraceEvent;
}

/** Leaves of a record: nested objects as `a.b`, array items as `a[i]`, in record order. */
export function flattenRecord(ev: unknown): Map<string, unknown> {
  const out = new Map<string, unknown>();
  const walk = (path: string, v: unknown): void => {
    if (Array.isArray(v) && v.length > 0) v.forEach((x, i) => walk(`${path}[${i}]`, x));
    else if (v !== null && typeof v === 'object' && !Array.isArray(v) && Object.keys(v).length > 0) {
      for (const [k, x] of Object.entries(v)) walk(path ? `${path}.${k}` : k, x);
    } else out.set(path, v);
  };
  if (ev !== null && typeof ev === 'object' && !Array.isArray(ev)) for (const [k, x] of Object.entries(ev)) walk(k, x);
  else walk('', ev);
  return out;
}

/** Every field whose value differs between two records (recorded's order, then fields only the replay has). */
export function diffRecords(recorded: TraceEvent | undefined, replayed: TraceEvent | undefined): FieldDifference[] {
  const a = flattenRecord(recorded ?? {});
  const b = flattenRecord(replayed ?? {});
  const out: FieldDifference[] = [];
  for (const k of new Set([...a.keys(), ...b.keys()])) {
    const x = a.get(k);
    const y = b.get(k);
    if (JSON.stringify(x) !== JSON.stringify(y)) out.push({ field: k, recorded: x, replayed: y });
  }
  return out;
}

/** Compare a recorded trace with a replay, record by record, in JSON form. */
export function compareTraces(recorded: readonly TraceEvent[], replayed: readonly TraceEvent[]): TraceComparison {
  const rec = recorded.map(jsonForm);
  const rep = replayed.map(jsonForm);
  const n = Math.min(rec.length, rep.length);
  let index = 0;
  while (index < n && traceJson(rec[index]) === traceJson(rep[index])) index++;
  if (index === n && rec.length === rep.length) return { identical: true, events: rec.length };
  return { identical: false, index, recorded: rec, replayed: rep, fields: diffRecords(rec[index], rep[index]) };
}

/** What runs a trace's scenario again: resolves to every record of the new run, in order. */
export type TraceReplayRunner = (header: TraceHeaderEvent) => Promise<readonly TraceEvent[]>;

/**
 * Replay trace text: read and check it, run its scenario again with `run`, compare.
 * @throws TraceReplayError when the trace cannot be replayed
 */
export async function replayTrace(text: string, run: TraceReplayRunner): Promise<{ trace: ReplayableTrace; comparison: TraceComparison }> {
  const trace = readReplayableTrace(text);
  const replayed = await run(trace.header);
  return { trace, comparison: compareTraces(trace.events, replayed) };
}

export interface ComparisonFormat {
  /** Records of context shown before and after the one that differs (default 3). */
  readonly context?: number;
  /** Width of the text, in columns (default 120, at least 60). */
  readonly width?: number;
  /** Colours for a terminal. */
  readonly styled?: boolean;
}

const show = (v: unknown): string => (v === undefined ? '(absent)' : typeof v === 'string' ? v : JSON.stringify(v));
const where = (ev: TraceEvent | undefined, i: number): string => `#${i + 1}${ev && typeof ev['seq'] === 'number' ? ` seq ${ev['seq']}` : ''}`;
const clip = (s: string, n: number): string => (s.length <= n ? s : `${s.slice(0, Math.max(0, n - 1))}…`);
/** The human-log line of a record without its time column (the seq stands beside it). */
const logLine = (ev: TraceEvent): string => formatTraceLine(ev).replace(/^\s*\d+\.\d+: /, '');

/**
 * The comparison as text (ends with a newline): `identical (N events)`, or the first record that
 * differs — its position and seq, the records before it (the same in both), a table of its
 * fields with the recorded and the replayed value side by side (differing fields marked `≠`),
 * and the next records of both traces side by side.
 */
export function formatTraceComparison(c: TraceComparison, o: ComparisonFormat = {}): string {
  if (c.identical) return `identical (${c.events} events)\n`;
  const ctx = Math.max(0, o.context ?? 3);
  const width = Math.max(60, o.width ?? 120);
  const styled = o.styled === true;
  const paint = (s: string, code: number): string => (styled ? `\u001b[${code}m${s}\u001b[0m` : s);
  const tableStyle = { head: styled ? ['cyan'] : [], border: styled ? ['grey'] : [], compact: true };
  const { index: i, recorded: rec, replayed: rep } = c;
  const a = rec[i];
  const b = rep[i];
  const out: string[] = [];

  const what = a !== undefined && b !== undefined ? `the records differ` : a === undefined ? `the recorded trace ends (${rec.length} events) and the replay goes on` : `the replay ends (${rep.length} events) and the recorded trace goes on`;
  out.push(paint(`first difference at event ${where(a ?? b, i)}: ${what}`, 31));
  out.push(`recorded: ${rec.length} events; replayed: ${rep.length} events; the first ${i} are identical`);

  if (i > 0 && ctx > 0) {
    out.push('', 'before it (the same in both):');
    for (let k = Math.max(0, i - ctx); k < i; k++) out.push(`  ${where(rec[k], k).padEnd(14)} ${clip(logLine(rec[k]!), width - 17)}`);
  }

  const half = Math.max(20, Math.floor((width - 16 - 14) / 2));
  const fieldTable = new Table({
    head: ['', 'field', `recorded ${where(a, i)}`, `replayed ${where(b, i)}`],
    style: tableStyle,
    colWidths: [3, 16, half, half],
    wordWrap: true,
    wrapOnWordBoundary: false,
  });
  const fa = flattenRecord(a ?? {});
  const fb = flattenRecord(b ?? {});
  const differs = new Set(c.fields.map((f) => f.field));
  for (const k of new Set([...fa.keys(), ...fb.keys()])) {
    const mark = differs.has(k);
    fieldTable.push([mark ? paint('≠', 31) : '', k, show(fa.get(k)), show(fb.get(k))]);
  }
  out.push('', `event ${where(a ?? b, i)}, field by field:`, fieldTable.toString());
  if (a !== undefined && b !== undefined && c.fields.length === 0) out.push('(the same fields and values, in another order)');

  const after = Math.max(rec.length, rep.length) - i - 1;
  if (after > 0 && ctx > 0) {
    const t = new Table({ head: ['#', 'recorded', 'replayed'], style: tableStyle, colWidths: [7, half + 7, half + 7], wordWrap: true });
    for (let k = i + 1; k < Math.min(i + 1 + ctx, Math.max(rec.length, rep.length)); k++) {
      const line = (ev: TraceEvent | undefined): string => (ev === undefined ? '(none)' : `seq ${String(ev['seq'])} ${logLine(ev)}`);
      t.push([k + 1, line(rec[k]), line(rep[k])]);
    }
    out.push('', 'after it:', t.toString());
  }
  return `${out.join('\n')}\n`;
}
