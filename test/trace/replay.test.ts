/**
 * Replay (`gunyah-emu replay TRACE`): a trace records its scenario and seed in the
 * `trace.header`; replaying runs them again and reports "identical (N events)" with exit 0, or
 * the first record that differs, field by field with both versions side by side and context,
 * with exit 1; a trace without a usable header gives exit 2 and says why. Covers the header
 * checks, the comparison (nested fields, a trace that ends early, the JSON form), the text of a
 * difference (typed by hand), and end to end: a recorded scenario trace and the default
 * scenario replay identically, a trace with one event tampered with is reported at exactly that
 * event, a cut trace where it ends.
 *
 * Reference: docs/tracing.md ("Replay", the header record, determinism rule).
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import type { TraceEvent } from '../../src/shared/trace.js';
import { compareTraces, diffRecords, flattenRecord, formatTraceComparison, readReplayableTrace, TraceReplayError } from '../../src/trace/replay.js';
import { MULTI_VM_SCENARIO, runCli, scratchDir } from './replay-support.js';

const HEADER = '{"kind":"trace.header","version":1,"seed":5,"scenario":"default","emulator":"0.1.0"}';
const EXAMPLE = 'examples/scenarios/mmio-lengths.json';

describe('readReplayableTrace: the header must say what to run', () => {
  it('reads the header and the records', () => {
    const t = readReplayableTrace(`${HEADER}\n{"seq":1,"t":1000,"kind":"kernel.vm-created","vm":1}\n\n`);
    expect(t.header).toEqual({ kind: 'trace.header', version: 1, seed: 5, scenario: 'default', emulator: '0.1.0' });
    expect(t.events).toEqual([{ seq: 1, t: 1000, kind: 'kernel.vm-created', vm: 1 }]);
  });

  it.each([
    ['an empty file', '', /the file is empty/],
    ['a first line that is not JSON', 'hello\n', /line 1 is not JSON .*not a gunyah-emu trace/],
    ['no header (the first record is an event)', '{"seq":1,"t":1000,"kind":"kernel.vm-created","vm":1}\n', /line 1 is a record of kind "kernel.vm-created", not a trace.header record/],
    ['another format version', '{"kind":"trace.header","version":2,"seed":1,"scenario":"default"}\n', /trace.header version 2: this gunyah-emu reads trace format version 1 only/],
    ['a header without a version', '{"kind":"trace.header","seed":1,"scenario":"default"}\n', /trace.header version undefined/],
    ['no seed', '{"kind":"trace.header","version":1,"scenario":"default"}\n', /no integer seed/],
    ['a seed that is not an integer', '{"kind":"trace.header","version":1,"seed":"7","scenario":"default"}\n', /no integer seed \(found "7"\)/],
    ['no scenario', '{"kind":"trace.header","version":1,"seed":1}\n', /has no scenario/],
    ['a scenario that is neither JSON nor "default"', '{"kind":"trace.header","version":1,"seed":1,"scenario":"other"}\n', /has no scenario .*found "other"/],
    ['a later line that is not JSON', `${HEADER}\n{"seq":1,\n`, /line 2 is not JSON/],
    ['a later line without kind', `${HEADER}\n{"seq":1}\n`, /line 2 is not a trace record/],
  ])('refuses %s', (_what, text, message) => {
    expect(() => readReplayableTrace(text)).toThrow(TraceReplayError);
    expect(() => readReplayableTrace(text)).toThrow(message);
  });
});

describe('compareTraces: record by record, in JSON form', () => {
  const ev = (seq: number, extra: Record<string, unknown> = {}): TraceEvent => ({ seq, t: seq * 1000, kind: 'vcpu.exit', vm: 1, vmid: 0x80, vcpu: 0, reason: 'MMIO', ...extra });

  it('identical traces', () => {
    expect(compareTraces([ev(1), ev(2)], [ev(1), ev(2)])).toEqual({ identical: true, events: 2 });
    expect(compareTraces([], [])).toEqual({ identical: true, events: 0 });
  });

  it('compares what a file holds: an absent field and an undefined one are the same', () => {
    expect(compareTraces([ev(1)], [ev(1, { addr: undefined })]).identical).toBe(true);
  });

  it('finds the first record that differs and its fields, nested ones by path', () => {
    const a = [ev(1), ev(2, { args: { fn: { id: 0 }, flags: ['R', 'W'] } }), ev(3)];
    const b = [ev(1), ev(2, { args: { fn: { id: 1 }, flags: ['R', 'X'] }, data: '0x1' }), ev(4)];
    const c = compareTraces(a, b);
    expect(c.identical).toBe(false);
    if (c.identical) return;
    expect(c.index).toBe(1);
    expect(c.fields).toEqual([
      { field: 'args.fn.id', recorded: 0, replayed: 1 },
      { field: 'args.flags[1]', recorded: 'W', replayed: 'X' },
      { field: 'data', recorded: undefined, replayed: '0x1' },
    ]);
  });

  it('a trace that ends early differs at its end', () => {
    const c = compareTraces([ev(1), ev(2)], [ev(1)]);
    expect(c).toMatchObject({ identical: false, index: 1 });
    if (c.identical) return;
    expect(c.fields.map((f) => f.field)).toEqual(['seq', 't', 'kind', 'vm', 'vmid', 'vcpu', 'reason']);
    expect(c.fields[0]).toEqual({ field: 'seq', recorded: 2, replayed: undefined });
  });

  it('flattenRecord and diffRecords', () => {
    expect([...flattenRecord({ a: 1, b: { c: [1, 2], d: {} }, e: [] })]).toEqual([
      ['a', 1],
      ['b.c[0]', 1],
      ['b.c[1]', 2],
      ['b.d', {}],
      ['e', []],
    ]);
    expect(diffRecords({ kind: 'x', a: 1 }, { kind: 'x', a: 1 })).toEqual([]);
  });
});

describe('formatTraceComparison: the first difference, side by side', () => {
  it('identical', () => {
    expect(formatTraceComparison({ identical: true, events: 834 })).toBe('identical (834 events)\n');
  });

  it('one field differs: position and seq, context before, the field table, the records after', () => {
    const exit = (seq: number, addr: string): TraceEvent => ({ seq, t: seq * 1000, kind: 'vcpu.exit', vm: 1, vmid: 0x80, vcpu: 0, reason: 'MMIO', addr, len: 8, write: false });
    const rec = [exit(1, '0x6000'), exit(2, '0x6008'), exit(3, '0x6010'), exit(4, '0x6018')];
    const rep = [exit(1, '0x6000'), exit(2, '0x6008'), exit(3, '0x6110'), exit(4, '0x6018')];
    const text = formatTraceComparison(compareTraces(rec, rep), { context: 2, width: 100 });
    const lines = text.split('\n');
    expect(lines.slice(0, 6)).toEqual([
      'first difference at event #3 seq 3: the records differ',
      'recorded: 4 events; replayed: 4 events; the first 2 are identical',
      '',
      'before it (the same in both):',
      '  #1 seq 1       gunyah_vcpu_exit: vm=0x80 vcpu=0 reason=MMIO addr=0x6000 len=8 write=0',
      '  #2 seq 2       gunyah_vcpu_exit: vm=0x80 vcpu=0 reason=MMIO addr=0x6008 len=8 write=0',
    ]);
    expect(lines).toContain('event #3 seq 3, field by field:');
    const rows = lines.filter((l) => l.startsWith('│'));
    const cells = (l: string): string[] => l.split('│').slice(1, -1).map((c) => c.trim());
    expect(cells(rows[0]!)).toEqual(['', 'field', 'recorded #3 seq 3', 'replayed #3 seq 3']);
    expect(rows.map(cells).filter((r) => r[0] === '≠')).toEqual([['≠', 'addr', '0x6010', '0x6110']]);
    expect(rows.map(cells).find((r) => r[1] === 'seq')).toEqual(['', 'seq', '3', '3']);
    expect(lines).toContain('after it:');
    expect(rows.map(cells).find((r) => r[0] === '4')?.[1]).toMatch(/^seq 4 gunyah_vcpu_exit: vm=0x80/);
  });

  it('a replay that goes on past the recorded trace', () => {
    const e = (seq: number): TraceEvent => ({ seq, t: seq * 1000, kind: 'kernel.vm-created', vm: seq });
    const text = formatTraceComparison(compareTraces([e(1)], [e(1), e(2)]));
    expect(text.split('\n')[0]).toBe('first difference at event #2 seq 2: the recorded trace ends (1 events) and the replay goes on');
    expect(text).toMatch(/│\s+≠\s+│ seq\s+│ \(absent\)\s+│ 2\s+│/);
  });
});

describe('gunyah-emu replay TRACE', () => {
  it('a recorded scenario replays identically: exit 0, "identical (N events)"', async () => {
    const dir = scratchDir();
    const trace = join(dir, 'mmio.jsonl');
    expect((await runCli(['run', EXAMPLE, '--trace', trace])).code).toBe(0);
    const text = readFileSync(trace, 'utf8');
    const n = text.trimEnd().split('\n').length - 1;
    expect(n).toBeGreaterThan(100);
    const header = JSON.parse(text.split('\n')[0]!) as Record<string, unknown>;
    expect(header).toMatchObject({ kind: 'trace.header', version: 1, seed: 1, scenario: JSON.parse(readFileSync(EXAMPLE, 'utf8')) as unknown });

    const r = await runCli(['replay', trace]);
    expect(r.err).toBe('');
    expect(r.code).toBe(0);
    expect(r.out).toBe(`${trace}: replaying scenario "MMIO reads and writes of every length (1, 2, 4, 8 bytes) at an address …", seed 1\nidentical (${n} events)\n`);
  });

  it('the seed given with --seed is the one recorded and replayed', async () => {
    const dir = scratchDir();
    const trace = join(dir, 'seed.jsonl');
    expect((await runCli(['run', EXAMPLE, '--seed', '9', '--trace', trace])).code).toBe(0);
    expect(JSON.parse(readFileSync(trace, 'utf8').split('\n')[0]!)).toMatchObject({ seed: 9 });
    const r = await runCli(['replay', trace]);
    expect(r.code).toBe(0);
    expect(r.out).toMatch(/seed 9\nidentical \(\d+ events\)\n$/);
  });

  it('the default scenario replays identically', async () => {
    const dir = scratchDir();
    const trace = join(dir, 'default.jsonl');
    expect((await runCli(['run', '--seed', '4', '--trace', trace])).code).toBe(0);
    expect(JSON.parse(readFileSync(trace, 'utf8').split('\n')[0]!)).toMatchObject({ seed: 4, scenario: 'default' });
    const r = await runCli(['replay', trace]);
    expect(r.code).toBe(0);
    expect(r.out).toMatch(/^.*: replaying the default scenario, seed 4\nidentical \(\d+ events\)\n$/);
  });

  it('two VMs × two vCPUs stepped round-robin replay identically', async () => {
    const dir = scratchDir();
    const file = join(dir, 'multi.json');
    const trace = join(dir, 'multi.jsonl');
    writeFileSync(file, JSON.stringify(MULTI_VM_SCENARIO));
    const run = await runCli(['run', file, '--trace', trace]);
    expect(run.out).toMatch(/3 expectations: 3 passed, 0 failed/);
    const events = readFileSync(trace, 'utf8').trimEnd().split('\n').slice(1).map((l) => JSON.parse(l) as TraceEvent);
    // All four vCPUs ran, interleaved.
    const exits = events.filter((e) => e.kind === 'vcpu.exit').map((e) => `${String(e['vmid'])}/${String(e['vcpu'])}`);
    expect(new Set(exits).size).toBe(4);
    expect(exits.filter((x, i) => i > 0 && x !== exits[i - 1]).length).toBeGreaterThan(20);
    const r = await runCli(['replay', trace]);
    expect(r.code).toBe(0);
    expect(r.out).toContain(`identical (${events.length} events)`);
  });

  it('one event tampered with: exit 1, that event reported field by field', async () => {
    const dir = scratchDir();
    const trace = join(dir, 'tamper.jsonl');
    await runCli(['run', EXAMPLE, '--trace', trace]);
    const lines = readFileSync(trace, 'utf8').trimEnd().split('\n');
    // The third MMIO exit: the 4-byte read at 0x6100 (mmio-lengths.json).
    const at = lines.map((l, i) => [l, i] as const).filter(([l]) => l.includes('"kind":"vcpu.exit"') && l.includes('"reason":"MMIO"'))[2]![1];
    const original = JSON.parse(lines[at]!) as Record<string, unknown>;
    expect(original).toMatchObject({ addr: '0x6100', len: 4, write: false });
    lines[at] = JSON.stringify({ ...original, len: 2 });
    writeFileSync(trace, `${lines.join('\n')}\n`);

    const r = await runCli(['replay', trace, '--context', '2']);
    expect(r.code).toBe(1);
    const seq = original['seq'] as number;
    expect(at).toBe(seq); // line 0 is the header, so record #k is on line k
    const out = r.out.split('\n');
    expect(out[1]).toBe(`first difference at event #${seq} seq ${seq}: the records differ`);
    expect(out[2]).toBe(`recorded: ${lines.length - 1} events; replayed: ${lines.length - 1} events; the first ${seq - 1} are identical`);
    const cells = (l: string): string[] => l.split('│').slice(1, -1).map((c) => c.trim());
    const marked = out.filter((l) => l.startsWith('│')).map(cells).filter((c) => c[0] === '≠');
    expect(marked).toEqual([['≠', 'len', '2', '4']]);
    // Two records of context before it.
    expect(out.filter((l) => /^ {2}#\d+ seq \d+ /.test(l)).map((l) => l.trim().split(' ')[0])).toEqual([`#${seq - 2}`, `#${seq - 1}`]);
  });

  it('a trace cut short: the first missing record is the difference', async () => {
    const dir = scratchDir();
    const trace = join(dir, 'cut.jsonl');
    await runCli(['run', EXAMPLE, '--trace', trace]);
    const lines = readFileSync(trace, 'utf8').trimEnd().split('\n');
    writeFileSync(trace, `${lines.slice(0, 51).join('\n')}\n`);
    const r = await runCli(['replay', trace]);
    expect(r.code).toBe(1);
    expect(r.out.split('\n')[1]).toBe('first difference at event #51 seq 51: the recorded trace ends (50 events) and the replay goes on');
  });

  it.each([
    ['without a header', (lines: string[]) => lines.slice(1), /line 1 is a record of kind "ioctl.enter", not a trace.header record/],
    ['of another version', (lines: string[]) => [lines[0]!.replace('"version":1', '"version":2'), ...lines.slice(1)], /trace.header version 2: this gunyah-emu reads trace format version 1 only/],
    ['whose scenario is not valid', (lines: string[]) => [lines[0]!.replace('"vcpus":1', '"vcpus":"one"'), ...lines.slice(1)], /not a valid scenario:\n {2}vms\[0\]\.vcpus: expected an integer 1\.\.64, found "one"/],
  ])('a trace %s: exit 2 and why', async (_what, edit, message) => {
    const dir = scratchDir();
    const trace = join(dir, 'bad.jsonl');
    await runCli(['run', EXAMPLE, '--trace', trace]);
    writeFileSync(trace, `${edit(readFileSync(trace, 'utf8').trimEnd().split('\n')).join('\n')}\n`);
    const r = await runCli(['replay', trace]);
    expect(r.code).toBe(2);
    expect(r.out).toBe('');
    expect(r.err).toMatch(new RegExp(`^gunyah-emu replay: ${trace.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}: `));
    expect(r.err).toMatch(message);
  });

  it('--context must be a whole number: exit 2', async () => {
    const r = await runCli(['replay', join(scratchDir(), 'any.jsonl'), '--context', 'some']);
    expect(r.code).toBe(2);
    expect(r.err).toBe('gunyah-emu replay: --context takes a whole number of events, not "some"\n');
  });

  it('a file that cannot be read: exit 2', async () => {
    const r = await runCli(['replay', join(scratchDir(), 'missing.jsonl')]);
    expect(r.code).toBe(2);
    expect(r.err).toMatch(/^gunyah-emu replay: cannot read .*missing\.jsonl: ENOENT/);
  });
});
