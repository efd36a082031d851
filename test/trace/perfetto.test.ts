/**
 * The Perfetto export (src/trace/perfetto.ts) and the trace-event checker
 * (src/trace/perfetto-check.ts): every example scenario (examples/scenarios/*.json) is run with
 * a memory trace sink, exported, and checked against the Chrome trace-event format's rules
 * (matching B/E, X slices nesting per thread, flow ids pairing s with f and binding to slices,
 * numeric counters, required fields); the layout is checked against the records (a process per
 * VM, a RUN slice per GUNYAH_VCPU_RUN on its vCPU's thread with the hypervisor's vcpu_run slices
 * nested inside it, an instant per exit at t/1000 µs, request/reply flows per RM call, counters
 * per mem.lent and scmi.vote). The checker itself is tested on hand-written traces that break
 * each rule. `gunyah-emu trace export` is run as the command line runs it.
 *
 * Reference: docs/tracing.md (records); docs/reproducing-an-exit-reason-bug.md; the Chrome
 * trace-event format (phases, nesting, flow binding).
 */
import { mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it, vi } from 'vitest';
import { main } from '../../src/cli/main.js';
import { ScenarioLoader, runScenario } from '../../src/scenario/index.js';
import { createMemoryTraceSink, type TraceEvent } from '../../src/shared/trace.js';
import { checkChromeTrace } from '../../src/trace/perfetto-check.js';
import { buildTimeline } from '../../src/trace/perfetto-model.js';
import { chromeTraceJson, exportPerfetto, type ChromeTraceEvent } from '../../src/trace/perfetto.js';
import { createJsonLinesSink, parseJsonLines, traceHeader } from '../../src/trace/sinks.js';
import { multiVmWorkload, traceText } from './support.js';

const DIR = join(import.meta.dirname, '../../examples/scenarios');
const FILES = readdirSync(DIR)
  .filter((f) => f.endsWith('.json') && f !== 'scenario.schema.json')
  .sort();
const loader = new ScenarioLoader();
const tmp = mkdtempSync(join(tmpdir(), 'gunyah-perfetto-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

/** Run an example with a memory sink; its records and scenario. */
async function traced(file: string): Promise<{ events: TraceEvent[]; scenario: unknown }> {
  const loaded = loader.parse(readFileSync(join(DIR, file), 'utf8'));
  if (!loaded.ok) throw new Error(`${file}: ${loaded.errors.map((e) => e.message).join('; ')}`);
  const sink = createMemoryTraceSink();
  const r = await runScenario(loaded, { trace: sink });
  expect(r.failed).toBe(0);
  return { events: sink.events, scenario: loaded.scenario };
}

const of = (events: readonly TraceEvent[], kind: string): TraceEvent[] => events.filter((e) => e.kind === kind);

describe.each(FILES)('the Perfetto export of %s', (file) => {
  it('keeps the trace-event rules and lays out every RUN, vcpu_run, exit, RM call and counter', async () => {
    const { events } = await traced(file);
    const text = chromeTraceJson(exportPerfetto({ events }));
    const trace = JSON.parse(text) as { traceEvents: ChromeTraceEvent[]; displayTimeUnit: string };
    const check = checkChromeTrace(trace);
    expect(check.problems).toEqual([]);

    const evs = trace.traceEvents;
    const meta = (name: string) => evs.filter((e) => e.ph === 'M' && e.name === name);
    const procName = new Map(meta('process_name').map((e) => [e.pid, (e.args as { name: string }).name]));
    const threadName = new Map(meta('thread_name').map((e) => [e.tid, (e.args as { name: string }).name]));

    // One process per kernel VM, plus the RM's and the kernel's.
    const vmProcs = [...procName.values()].filter((n) => /^VM \d+/.test(n));
    expect(vmProcs.length).toBe(of(events, 'kernel.vm-created').length);
    expect([...procName.values()]).toContain('Resource Manager');
    expect([...procName.values()]).toContain('host kernel');

    // A RUN slice per GUNYAH_VCPU_RUN, on a vCPU thread of a VM process.
    const runs = evs.filter((e) => e.ph === 'X' && e.cat === 'run');
    const runRecords = of(events, 'ioctl').filter((e) => e['name'] === 'GUNYAH_VCPU_RUN' || e['name'] === 'GH_VCPU_RUN');
    expect(runs.length).toBe(runRecords.length);
    for (const r of runs) {
      expect(threadName.get(r.tid)).toMatch(/^vCPU \d+/);
      // A VM whose start failed before VM_ALLOCATE has no vmid.
      expect(procName.get(r.pid)).toMatch(/^VM \d+( \(vmid 0x[0-9a-f]+\))?$/);
    }
    // RUN slices span ioctl.enter to the ioctl return (ns → µs).
    const enters = new Map(of(events, 'ioctl.enter').map((e) => [e['call'], e['t'] as number]));
    const runSpans = runRecords.map((e) => [(enters.get(e['call']) as number) / 1000, (e['t'] as number) / 1000]);
    expect(runs.map((r) => [r.ts, r.ts + r.dur!]).sort((a, b) => a[0]! - b[0]!)).toEqual(runSpans.sort((a, b) => a[0]! - b[0]!));

    // A vcpu_run slice per vcpu.state; each inside a RUN slice of the same thread.
    const vcpuRuns = evs.filter((e) => e.ph === 'X' && e.cat === 'vcpu_run');
    expect(vcpuRuns.length).toBe(of(events, 'vcpu.state').length);
    for (const v of vcpuRuns) {
      const outer = runs.find((r) => r.tid === v.tid && r.ts <= v.ts && v.ts + v.dur! <= r.ts + r.dur!);
      expect(outer, `vcpu_run at ${v.ts} µs inside a RUN`).toBeDefined();
    }

    // An instant per exit, at t/1000 on the vCPU's thread, inside its RUN.
    const exits = evs.filter((e) => e.ph === 'i' && e.cat === 'exit');
    const exitRecords = of(events, 'vcpu.exit');
    expect(exits.map((e) => e.ts)).toEqual(exitRecords.map((e) => (e['t'] as number) / 1000));
    for (const x of exits) {
      expect(threadName.get(x.tid)).toMatch(/^vCPU \d+/);
      expect(runs.some((r) => r.tid === x.tid && r.ts <= x.ts && x.ts <= r.ts + r.dur!)).toBe(true);
    }
    // An instant per ioctl return.
    expect(evs.filter((e) => e.ph === 'i' && e.cat === 'ioctl').length).toBe(of(events, 'ioctl').length);

    // Flows: a request and a reply per RM call the client got an answer to, a flow per notification delivered.
    const clientReplies = of(events, 'rm.reply').filter((e) => e['side'] === 'client').length;
    const flowNames = evs.filter((e) => e.ph === 's').map((e) => e.name);
    expect(flowNames.filter((n) => n === 'request').length).toBe(clientReplies);
    expect(flowNames.filter((n) => n === 'reply').length).toBe(clientReplies);
    expect(flowNames.filter((n) => n === 'notify').length).toBe(of(events, 'rm.notification').filter((e) => e['side'] === 'client').length);
    expect(check.flows).toBe(flowNames.length);
    // The RM's own track carries the handling slices the flows point at.
    const rmPid = [...procName].find(([, n]) => n === 'Resource Manager')![0];
    const requestEnds = evs.filter((e) => e.ph === 'f' && e.name === 'request');
    for (const f of requestEnds) expect(f.pid).toBe(rmPid);

    // Counters: memory per mem.lent record (in the VM's process), SCMI value and voters per vote.
    const counters = evs.filter((e) => e.ph === 'C');
    const mem = counters.filter((c) => c.name === 'memory');
    expect(mem.length).toBe(of(events, 'mem.lent').length);
    for (const c of mem) expect(procName.get(c.pid)).toMatch(/^VM \d+/);
    const votes = of(events, 'scmi.vote');
    expect(counters.length - mem.length).toBe(2 * votes.length);
    if (votes.length > 0) {
      const v = votes[0]!;
      const c = counters.find((x) => x.name === `${String(v['resource'])} ${String(v['id'])}`)!;
      expect(c.args).toEqual({ value: v['value'] });
      expect(procName.get(c.pid)).toBe('SCMI platform');
    }
  });
});

describe('the Perfetto export', () => {
  it('is the same bytes for two runs of one scenario (multi-VM, multi-vCPU)', async () => {
    const a = await traced('immediate-exit.json');
    const b = await traced('immediate-exit.json');
    expect(chromeTraceJson(exportPerfetto(b))).toBe(chromeTraceJson(exportPerfetto(a)));
  });

  it('lays out two VMs × two vCPUs running at once: a thread per vCPU, every slice nested', async () => {
    const trace = parseJsonLines(await traceText(multiVmWorkload));
    const out = exportPerfetto(trace);
    expect(checkChromeTrace(out).problems).toEqual([]);
    const tl = buildTimeline(trace);
    const vcpuTracks = tl.tracks.filter((t) => t.kind === 'vcpu');
    expect(vcpuTracks.map((t) => `${tl.processes.find((p) => p.pid === t.pid)!.name}/${t.name}`)).toEqual([
      'VM 1 (vmid 0x80)/vCPU 0',
      'VM 1 (vmid 0x80)/vCPU 1',
      'VM 2 (vmid 0x81)/vCPU 0',
      'VM 2 (vmid 0x81)/vCPU 1',
    ]);
    // Every vCPU ran, and its RUNs and vcpu_runs are on its own thread.
    for (const t of vcpuTracks) {
      expect(tl.slices.some((s) => s.tid === t.tid && s.cat === 'run')).toBe(true);
      expect(tl.slices.some((s) => s.tid === t.tid && s.cat === 'vcpu_run' && s.depth === 1)).toBe(true);
    }
    expect(tl.slices.filter((s) => s.cat === 'run').length).toBe(trace.events.filter((e) => e.kind === 'ioctl' && e['name'] === 'GUNYAH_VCPU_RUN').length);
  });

  it('puts a second RUN in flight on one vCPU in a lane of its own, so slices still nest', () => {
    // Hand-made records: vCPU fd 7 of VM 1; RUN call 3 is entered, then RUN call 4 before 3 returns, and 3 returns first.
    let t = 0;
    const rec = (kind: string, f: Record<string, unknown>): TraceEvent => ({ seq: ++t, t: t * 1000, kind, ...f });
    const vcpuFile = { fd: 7, file: 'gh-vcpu:0', request: '0x4705', name: 'GUNYAH_VCPU_RUN' };
    const events = [
      rec('ioctl.enter', { call: 1, fd: 3, file: 'gunyah', request: '0x4700', name: 'GUNYAH_CREATE_VM' }),
      rec('kernel.vm-created', { vm: 1 }),
      rec('ioctl', { call: 1, fd: 3, file: 'gunyah', request: '0x4700', name: 'GUNYAH_CREATE_VM', result: 4 }),
      rec('ioctl.enter', { call: 2, fd: 4, file: 'gunyah-vm', request: '0x40104704', name: 'GUNYAH_VM_ADD_FUNCTION' }),
      rec('ioctl', { call: 2, fd: 4, file: 'gunyah-vm', request: '0x40104704', name: 'GUNYAH_VM_ADD_FUNCTION', args: { type: 1, typeName: 'GUNYAH_FN_VCPU', fn: { id: 0 } }, result: 7 }),
      rec('vm.status', { vm: 1, vmid: 0x80, status: 3, statusName: 'RUNNING' }),
      rec('ioctl.enter', { call: 3, ...vcpuFile }),
      rec('ioctl.enter', { call: 4, ...vcpuFile }),
      rec('guest.op', { vmid: 0x80, vcpu: 0, op: 'load', addr: '0x6000', len: 8 }),
      rec('vcpu.state', { vmid: 0x80, vcpu: 0, capid: '0x100', resume: ['0x0', '0x0', '0x0'], error: 0, errorName: 'OK', state: 4, stateName: 'ADDRSPACE_VMMIO_READ', data: ['0x6000', '0x8', '0x0'] }),
      rec('vcpu.exit', { vm: 1, vmid: 0x80, vcpu: 0, reason: 'MMIO', addr: '0x6000', len: 8, write: false }),
      rec('ioctl', { call: 3, ...vcpuFile, result: 0 }),
      rec('ioctl', { call: 4, ...vcpuFile, errno: 'EBUSY' }),
    ];
    const tl = buildTimeline({ events });
    const vcpuTracks = tl.tracks.filter((tr) => tr.kind === 'vcpu');
    expect(vcpuTracks.map((tr) => [tr.name, tr.lane])).toEqual([
      ['vCPU 0', 0],
      ['vCPU 0 (2)', 1],
    ]);
    expect(tl.processes.map((p) => p.name)).toContain('VM 1 (vmid 0x80)');
    const runs = tl.slices.filter((s) => s.cat === 'run');
    expect(runs.map((s) => s.name).sort()).toEqual(['RUN → EBUSY', 'RUN → MMIO R 0x6000/8']);
    expect(new Set(runs.map((s) => s.tid)).size).toBe(2);
    expect(checkChromeTrace(exportPerfetto({ events })).problems).toEqual([]);
  });

  it('closes what the trace left open at its end and marks it unfinished', () => {
    const events: TraceEvent[] = [
      { seq: 1, t: 1000, kind: 'ioctl.enter', call: 1, fd: 3, file: 'gunyah', request: '0x4700', name: 'GUNYAH_CREATE_VM' },
      { seq: 2, t: 2000, kind: 'rm.call', side: 'client', msgId: 0x56000001, name: 'VM_ALLOCATE', rmSeq: 0, hex: '00000000' },
    ];
    const tl = buildTimeline({ events });
    expect(tl.slices.map((s) => [s.name, s.args['unfinished']])).toEqual([
      ['CREATE_VM (no return)', true],
      ['VM_ALLOCATE (no reply)', true],
    ]);
    expect(checkChromeTrace(exportPerfetto({ events })).problems).toEqual([]);
  });
});

describe('the trace-event checker', () => {
  const base = { pid: 1, tid: 2 };
  const meta = [{ ph: 'M', name: 'thread_name', ts: 0, pid: 1, tid: 2, args: { name: 't' } }];
  const check = (evs: unknown[]) => checkChromeTrace({ traceEvents: [...meta, ...evs] }).problems;

  it('accepts a trace that keeps every rule (array form too)', () => {
    const good = [
      { ph: 'B', name: 'outer', ts: 1, ...base },
      { ph: 'X', name: 'inner', ts: 2, dur: 1, ...base },
      { ph: 's', name: 'fl', cat: 'c', id: 1, ts: 2.5, ...base },
      { ph: 'E', name: 'outer', ts: 5, ...base },
      { ph: 'X', name: 'later', ts: 6, dur: 2, pid: 1, tid: 3 },
      { ph: 'f', name: 'fl', cat: 'c', id: 1, bp: 'e', ts: 7, pid: 1, tid: 3 },
      { ph: 'i', name: 'mark', ts: 3, s: 't', ...base },
      { ph: 'C', name: 'mem', ts: 3, pid: 1, tid: 0, args: { lent: 4096, shared: 0 } },
    ];
    expect(check(good)).toEqual([]);
    expect(checkChromeTrace(good).problems).toEqual([]);
    expect(checkChromeTrace({ traceEvents: good }).flows).toBe(1);
  });

  it('finds a B without its E, an E without a B, and an E that is not LIFO', () => {
    expect(check([{ ph: 'B', name: 'a', ts: 1, ...base }])).toEqual([expect.stringMatching(/B a.*no matching E/)]);
    expect(check([{ ph: 'E', name: 'a', ts: 1, ...base }])).toEqual([expect.stringMatching(/E a.*no B open/)]);
    const notLifo = check([
      { ph: 'B', name: 'a', ts: 1, ...base },
      { ph: 'B', name: 'b', ts: 2, ...base },
      { ph: 'E', name: 'a', ts: 3, ...base },
      { ph: 'E', name: 'b', ts: 4, ...base },
    ]);
    expect(notLifo.some((p) => /not LIFO/.test(p))).toBe(true);
    // B and E on different threads do not pair.
    expect(check([{ ph: 'B', name: 'a', ts: 1, ...base }, { ph: 'E', name: 'a', ts: 2, pid: 1, tid: 9 }]).length).toBe(2);
  });

  it('finds slices that overlap without nesting, X with X and X with B/E', () => {
    expect(check([{ ph: 'X', name: 'a', ts: 1, dur: 3, ...base }, { ph: 'X', name: 'b', ts: 2, dur: 3, ...base }])).toEqual([
      expect.stringMatching(/"b".*overlaps "a".*without nesting/),
    ]);
    expect(
      check([
        { ph: 'B', name: 'a', ts: 1, ...base },
        { ph: 'X', name: 'b', ts: 3, dur: 3, ...base },
        { ph: 'E', name: 'a', ts: 4, ...base },
      ]),
    ).toEqual([expect.stringMatching(/overlaps/)]);
    // Touching slices and slices on other threads are fine.
    expect(check([{ ph: 'X', name: 'a', ts: 1, dur: 1, ...base }, { ph: 'X', name: 'b', ts: 2, dur: 1, ...base }, { ph: 'X', name: 'c', ts: 1.5, dur: 3, pid: 1, tid: 4 }])).toEqual([]);
    expect(check([{ ph: 'X', name: 'a', ts: 1, ...base }])).toEqual([expect.stringMatching(/dur/)]);
  });

  it('finds unpaired flows, flows ending before they start and flows with no slice to bind to', () => {
    const slice = { ph: 'X', name: 'host', ts: 0, dur: 10, ...base };
    expect(check([slice, { ph: 's', name: 'f', cat: 'c', id: 1, ts: 1, ...base }])).toEqual([expect.stringMatching(/flow c#1: 1 s and 0 f/)]);
    expect(check([slice, { ph: 'f', name: 'f', cat: 'c', id: 1, bp: 'e', ts: 1, ...base }])).toEqual([expect.stringMatching(/0 s and 1 f/)]);
    expect(
      check([slice, { ph: 's', name: 'f', cat: 'c', id: 2, ts: 1, ...base }, { ph: 's', name: 'f', cat: 'c', id: 2, ts: 2, ...base }, { ph: 'f', name: 'f', cat: 'c', id: 2, bp: 'e', ts: 3, ...base }]),
    ).toEqual([expect.stringMatching(/2 s and 1 f/)]);
    expect(check([slice, { ph: 's', name: 'f', cat: 'c', id: 3, ts: 5, ...base }, { ph: 'f', name: 'f', cat: 'c', id: 3, bp: 'e', ts: 4, ...base }])).toEqual([expect.stringMatching(/f .* before its s/)]);
    expect(check([slice, { ph: 's', name: 'f', cat: 'c', id: 4, ts: 20, ...base }, { ph: 'f', name: 'f', cat: 'c', id: 4, bp: 'e', ts: 21, ...base }])).toEqual([
      expect.stringMatching(/s f, id 4.*no slice to bind to/),
      expect.stringMatching(/f f, id 4.*no slice to bind to/),
    ]);
    // An f without bp binds to the next slice: one must start at or after it.
    expect(check([slice, { ph: 's', name: 'f', cat: 'c', id: 5, ts: 1, ...base }, { ph: 'f', name: 'f', cat: 'c', id: 5, ts: 2, ...base }])).toEqual([expect.stringMatching(/no slice to bind to/)]);
    expect(check([slice, { ph: 's', name: 'f', cat: 'c', id: 6, ts: 1, ...base }])).toHaveLength(1);
    expect(check([slice, { ph: 's', name: 'f', cat: 'c', ts: 1, ...base }])).toEqual([expect.stringMatching(/flow without an id/)]);
  });

  it('finds counters whose args are not numbers, bad instants and metadata, missing fields', () => {
    expect(check([{ ph: 'C', name: 'c', ts: 1, pid: 1, tid: 0, args: { v: '12' } }])).toEqual([expect.stringMatching(/args.v = "12" is not a number/)]);
    expect(check([{ ph: 'C', name: 'c', ts: 1, pid: 1, tid: 0 }])).toEqual([expect.stringMatching(/counter without args/)]);
    expect(check([{ ph: 'i', name: 'i', ts: 1, s: 'x', ...base }])).toEqual([expect.stringMatching(/scope "x"/)]);
    expect(check([{ ph: 'M', name: 'thread_name', ts: 0, ...base, args: {} }])).toEqual([expect.stringMatching(/args.name/)]);
    expect(check([{ ph: 'M', name: 'bogus', ts: 0, ...base }])).toEqual([expect.stringMatching(/unknown metadata/)]);
    expect(check([{ ph: 'X', name: 'x', dur: 1, pid: 1 }])).toEqual([expect.stringMatching(/missing ts, tid/)]);
    expect(check([{ ph: 'Q', name: 'x', ts: 1, ...base }])).toEqual([expect.stringMatching(/unknown phase "Q"/)]);
    expect(check([{ ph: 'X', name: 'x', ts: -1, dur: 1, ...base }])).toEqual([expect.stringMatching(/ts -1/)]);
    expect(check([{ ph: 'X', name: 'x', ts: 1, dur: 1, pid: 1.5, tid: 2 }])).toEqual([expect.stringMatching(/integers/)]);
    expect(checkChromeTrace({ nothing: true }).problems).toEqual([expect.stringMatching(/not a trace/)]);
  });
});

describe('gunyah-emu trace export', () => {
  async function runMain(argv: string[]): Promise<{ code: number; out: string; err: string }> {
    let out = '';
    let err = '';
    const o = vi.spyOn(process.stdout, 'write').mockImplementation((s) => ((out += String(s)), true));
    const e = vi.spyOn(process.stderr, 'write').mockImplementation((s) => ((err += String(s)), true));
    try {
      return { code: await main(argv), out, err };
    } finally {
      o.mockRestore();
      e.mockRestore();
    }
  }

  it('writes the Chrome trace of a trace file to -o FILE or to stdout', async () => {
    const { events, scenario } = await traced('mmio-lengths.json');
    let text = '';
    const sink = createJsonLinesSink((s) => void (text += s), traceHeader(1, scenario));
    events.forEach((e) => sink.emit(e));
    sink.close();
    const input = join(tmp, 'mmio.jsonl');
    writeFileSync(input, text);
    const out = join(tmp, 'mmio.json');
    const r = await runMain(['trace', 'export', '--format', 'perfetto', input, '-o', out]);
    expect(r.code).toBe(0);
    expect(r.err).toContain('ui.perfetto.dev');
    const written = readFileSync(out, 'utf8');
    expect(checkChromeTrace(JSON.parse(written)).problems).toEqual([]);
    const parsed = JSON.parse(written) as { otherData: Record<string, unknown> };
    expect(parsed.otherData['seed']).toBe(1);
    expect(String(parsed.otherData['scenario'])).toMatch(/MMIO/);
    const toStdout = await runMain(['trace', 'export', input]);
    expect(toStdout.code).toBe(0);
    expect(toStdout.out).toBe(written);
  });

  it('refuses a file that is not a trace (exit code 2) and an unknown format', async () => {
    const bad = join(tmp, 'bad.jsonl');
    writeFileSync(bad, '{"kind":"ioctl"}\n');
    const r = await runMain(['trace', 'export', bad]);
    expect(r.code).toBe(2);
    expect(r.err).toMatch(/not a trace.header/);
    const missing = await runMain(['trace', 'export', join(tmp, 'nope.jsonl')]);
    expect(missing.code).toBe(2);
    expect(missing.err).toMatch(/ENOENT/);
    const fmt = await runMain(['trace', 'export', '--format', 'svg', bad]);
    expect(fmt.code).not.toBe(0);
    expect(fmt.err).toMatch(/Allowed choices are perfetto/);
  });
});
