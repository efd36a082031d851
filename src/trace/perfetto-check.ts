/**
 * A checker of the Chrome trace-event format's rules, for the output of the Perfetto export
 * (src/trace/perfetto.ts) and any other trace in that format:
 * - every event is an object with `ph` (a phase this checker knows), `name` (string), `ts`
 *   (finite number, µs), `pid` and `tid` (integers);
 * - `X` has a finite `dur` ≥ 0; every `B` has its `E` on the same pid/tid, in LIFO order (an
 *   `E` with a name closes a `B` of that name), and no `E` comes without a `B`;
 * - on each pid/tid the slices (`X`, and `B`…`E` pairs) nest: two slices are disjoint or one
 *   holds the other, never a partial overlap;
 * - flows: each `id` (with its `cat`) has exactly one `s` and one `f`, the `f` not before the
 *   `s`, any `t` between them; an `s` or `t`, and an `f` with `bp: "e"`, lies inside a slice of
 *   its own pid/tid (the slice it binds to); an `f` without `bp` has a slice starting at or
 *   after it on its pid/tid (the next slice it binds to);
 * - counters (`C`) have an `args` object of one or more finite numbers;
 * - instants (`i`, `I`) have a scope `s` of g, p or t when they give one;
 * - metadata (`M`) names one of the known records and carries its argument.
 *
 * Times are compared in whole nanoseconds (µs × 1000, rounded), so µs with three decimals
 * compare exactly.
 *
 * Reference: the Chrome trace-event format ("Duration events", "Complete events", "Instant
 * events", "Counter events", "Flow events", "Metadata events").
 */

/** What a check found: `problems` is empty for a trace that keeps every rule. */
export interface ChromeTraceCheck {
  readonly problems: readonly string[];
  /** Counts by phase, and of flows paired. */
  readonly counts: Readonly<Record<string, number>>;
  readonly flows: number;
}

const PHASES = new Set(['B', 'E', 'X', 'i', 'I', 's', 't', 'f', 'C', 'M']);
const METADATA = new Set(['process_name', 'process_labels', 'process_sort_index', 'thread_name', 'thread_sort_index']);
/** At most this many problems are listed (then a count of the rest). */
const MAX_PROBLEMS = 50;

type Ev = Readonly<Record<string, unknown>>;

interface Interval {
  readonly start: number;
  readonly end: number;
  readonly name: string;
  readonly at: number;
}

const ns = (us: number): number => Math.round(us * 1000);
const isInt = (v: unknown): v is number => typeof v === 'number' && Number.isInteger(v);
const isFiniteNum = (v: unknown): v is number => typeof v === 'number' && Number.isFinite(v);

/** Check a Chrome trace: the JSON object form `{ traceEvents: [...] }` or the array form. */
export function checkChromeTrace(trace: unknown): ChromeTraceCheck {
  const problems: string[] = [];
  let dropped = 0;
  const problem = (msg: string): void => {
    if (problems.length < MAX_PROBLEMS) problems.push(msg);
    else dropped++;
  };
  const counts: Record<string, number> = {};
  const list: unknown = Array.isArray(trace) ? trace : typeof trace === 'object' && trace !== null ? (trace as Ev)['traceEvents'] : undefined;
  if (!Array.isArray(list)) return { problems: ['not a trace: expected an array of events or an object with a traceEvents array'], counts, flows: 0 };

  const valid: Array<{ e: Ev; at: number }> = [];
  list.forEach((raw: unknown, at) => {
    const where = `event #${at}`;
    if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) return problem(`${where}: not an object`);
    const e = raw as Ev;
    const missing = ['ph', 'name', 'ts', 'pid', 'tid'].filter((k) => e[k] === undefined);
    if (missing.length) return problem(`${where}: missing ${missing.join(', ')}`);
    if (typeof e['ph'] !== 'string' || !PHASES.has(e['ph'])) return problem(`${where}: unknown phase ${JSON.stringify(e['ph'])}`);
    if (typeof e['name'] !== 'string') return problem(`${where}: name is not a string`);
    if (!isFiniteNum(e['ts']) || e['ts'] < 0) return problem(`${where} (${e['name']}): ts ${JSON.stringify(e['ts'])} is not a finite number ≥ 0`);
    if (!isInt(e['pid']) || !isInt(e['tid'])) return problem(`${where} (${e['name']}): pid and tid must be integers`);
    counts[e['ph']] = (counts[e['ph']] ?? 0) + 1;
    valid.push({ e, at });
  });

  // Slices per pid/tid: X directly, B/E paired LIFO in time order.
  const slices = new Map<string, Interval[]>();
  const trackOf = (e: Ev): string => `${String(e['pid'])}/${String(e['tid'])}`;
  const addSlice = (track: string, iv: Interval): void => {
    let l = slices.get(track);
    if (!l) slices.set(track, (l = []));
    l.push(iv);
  };
  const byTime = [...valid].sort((a, b) => ns(a.e['ts'] as number) - ns(b.e['ts'] as number) || a.at - b.at);
  const open = new Map<string, Array<{ e: Ev; at: number }>>();
  for (const { e, at } of byTime) {
    const ph = e['ph'] as string;
    const name = e['name'] as string;
    const ts = ns(e['ts'] as number);
    if (ph === 'X') {
      if (!isFiniteNum(e['dur']) || e['dur'] < 0) {
        problem(`event #${at} (X ${name}): dur ${JSON.stringify(e['dur'])} is not a finite number ≥ 0`);
        continue;
      }
      addSlice(trackOf(e), { start: ts, end: ts + ns(e['dur']), name, at });
    } else if (ph === 'B') {
      const k = trackOf(e);
      let st = open.get(k);
      if (!st) open.set(k, (st = []));
      st.push({ e, at });
    } else if (ph === 'E') {
      const k = trackOf(e);
      const st = open.get(k);
      const top = st?.pop();
      if (!top) {
        problem(`event #${at} (E ${name}) on ${k}: no B open`);
        continue;
      }
      const bName = top.e['name'] as string;
      if (name !== '' && name !== bName) problem(`event #${at} (E ${name}) on ${k}: closes B "${bName}" (#${top.at}) — not LIFO`);
      addSlice(k, { start: ns(top.e['ts'] as number), end: ts, name: bName, at: top.at });
    }
  }
  for (const [k, st] of open) for (const b of st) problem(`event #${b.at} (B ${String(b.e['name'])}) on ${k}: no matching E`);

  // Nesting per track.
  for (const [k, ivs] of slices) {
    ivs.sort((a, b) => a.start - b.start || b.end - a.end || a.at - b.at);
    const stack: Interval[] = [];
    for (const s of ivs) {
      while (stack.length > 0 && stack[stack.length - 1]!.end <= s.start) stack.pop();
      const top = stack[stack.length - 1];
      if (top !== undefined && s.end > top.end) {
        problem(`${k}: slice "${s.name}" (#${s.at}, ${s.start / 1000}–${s.end / 1000} µs) overlaps "${top.name}" (#${top.at}, ${top.start / 1000}–${top.end / 1000} µs) without nesting`);
        continue;
      }
      stack.push(s);
    }
  }

  const enclosed = (e: Ev): boolean => {
    const ts = ns(e['ts'] as number);
    return (slices.get(trackOf(e)) ?? []).some((s) => s.start <= ts && ts <= s.end);
  };
  const sliceAfter = (e: Ev): boolean => {
    const ts = ns(e['ts'] as number);
    return (slices.get(trackOf(e)) ?? []).some((s) => s.start >= ts);
  };

  // Flows, counters, instants, metadata.
  const flows = new Map<string, { s: Array<{ e: Ev; at: number }>; t: Array<{ e: Ev; at: number }>; f: Array<{ e: Ev; at: number }> }>();
  for (const { e, at } of valid) {
    const ph = e['ph'] as string;
    const name = e['name'] as string;
    if (ph === 's' || ph === 't' || ph === 'f') {
      const id = e['id'];
      if (typeof id !== 'number' && typeof id !== 'string') {
        problem(`event #${at} (${ph} ${name}): flow without an id`);
        continue;
      }
      const key = `${typeof e['cat'] === 'string' ? e['cat'] : ''}#${String(id)}`;
      let fl = flows.get(key);
      if (!fl) flows.set(key, (fl = { s: [], t: [], f: [] }));
      fl[ph].push({ e, at });
      if (ph === 'f' && e['bp'] !== undefined && e['bp'] !== 'e') problem(`event #${at} (f ${name}): bp ${JSON.stringify(e['bp'])}, expected "e" or none`);
      const binds = ph === 'f' && e['bp'] !== 'e' ? sliceAfter(e) : enclosed(e);
      if (!binds) problem(`event #${at} (${ph} ${name}, id ${String(id)}) at ${String(e['ts'])} µs on ${trackOf(e)}: no slice to bind to`);
    } else if (ph === 'C') {
      const args = e['args'];
      if (typeof args !== 'object' || args === null || Array.isArray(args) || Object.keys(args).length === 0) {
        problem(`event #${at} (C ${name}): counter without args`);
        continue;
      }
      for (const [k, v] of Object.entries(args as Ev)) if (!isFiniteNum(v)) problem(`event #${at} (C ${name}): args.${k} = ${JSON.stringify(v)} is not a number`);
    } else if (ph === 'i' || ph === 'I') {
      if (e['s'] !== undefined && e['s'] !== 'g' && e['s'] !== 'p' && e['s'] !== 't') problem(`event #${at} (${ph} ${name}): scope ${JSON.stringify(e['s'])}, expected g, p or t`);
    } else if (ph === 'M') {
      if (!METADATA.has(name)) {
        problem(`event #${at}: unknown metadata record "${name}"`);
        continue;
      }
      const args = e['args'] as Ev | undefined;
      if (name.endsWith('_name') && typeof args?.['name'] !== 'string') problem(`event #${at} (M ${name}): args.name is not a string`);
      if (name.endsWith('_sort_index') && !isInt(args?.['sort_index'])) problem(`event #${at} (M ${name}): args.sort_index is not an integer`);
    }
  }
  let paired = 0;
  for (const [key, fl] of flows) {
    if (fl.s.length !== 1 || fl.f.length !== 1) {
      problem(`flow ${key}: ${fl.s.length} s and ${fl.f.length} f events (expected one of each)`);
      continue;
    }
    const s = ns(fl.s[0]!.e['ts'] as number);
    const f = ns(fl.f[0]!.e['ts'] as number);
    if (f < s) problem(`flow ${key}: f (#${fl.f[0]!.at}) before its s (#${fl.s[0]!.at})`);
    for (const t of fl.t) {
      const ts = ns(t.e['ts'] as number);
      if (ts < s || ts > f) problem(`flow ${key}: t (#${t.at}) outside its s…f`);
    }
    paired++;
  }
  if (dropped > 0) problems.push(`… and ${dropped} more problems`);
  return { problems, counts, flows: paired };
}
