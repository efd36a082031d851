/**
 * The trace sinks and the CLI options: the human log's tracepoint lines (golden lines typed by
 * hand from docs/tracing.md), the JSON-lines file (header record first, one record per line,
 * read back with parseJsonLines), `gunyah-emu run --trace FILE` and `--log`.
 *
 * Reference: docs/tracing.md (log lines, file format, header).
 */
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it, vi } from 'vitest';
import { main } from '../../src/cli/main.js';
import { createEmulator } from '../../src/emulator.js';
import { createJsonLinesSink, createLogSink, formatTraceLine, parseJsonLines, traceHeader } from '../../src/trace/index.js';
import type { TraceEvent } from '../../src/shared/trace.js';

const VERSION = (JSON.parse(readFileSync('package.json', 'utf8')) as { version: string }).version;

describe('the human log: one tracepoint-style line per record', () => {
  const cases: Array<[string, TraceEvent, string]> = [
    [
      'an MMIO read exit',
      { seq: 131, t: 131_000, kind: 'vcpu.exit', vm: 1, vmid: 0x80, vcpu: 0, reason: 'MMIO', addr: '0x6000', len: 8, write: false },
      '     0.000131: gunyah_vcpu_exit: vm=0x80 vcpu=0 reason=MMIO addr=0x6000 len=8 write=0',
    ],
    [
      'an MMIO write exit',
      { seq: 2, t: 1_500_002_000, kind: 'vcpu.exit', vm: 1, vmid: 0x81, vcpu: 1, reason: 'MMIO', addr: '0x6000', len: 4, write: true, data: '0x1' },
      '     1.500002: gunyah_vcpu_exit: vm=0x81 vcpu=1 reason=MMIO addr=0x6000 len=4 write=1 data=0x1',
    ],
    [
      'a STATUS exit',
      { seq: 3, t: 3000, kind: 'vcpu.exit', vm: 1, vmid: 0x80, vcpu: 0, reason: 'STATUS', status: 2, statusName: 'EXITED', exitType: 1, reasonSize: 4, reasonHex: '0000000000000000' },
      '     0.000003: gunyah_vcpu_exit: vm=0x80 vcpu=0 reason=STATUS status=EXITED(2) exit_type=1 reason_size=4 exit_reason=0000000000000000',
    ],
    [
      'a PAGE_FAULT exit',
      { seq: 4, t: 4000, kind: 'vcpu.exit', vm: 1, vmid: 0x80, vcpu: 0, reason: 'PAGE_FAULT', addr: '0x40000000', attempt: -2 },
      '     0.000004: gunyah_vcpu_exit: vm=0x80 vcpu=0 reason=PAGE_FAULT addr=0x40000000 attempt=-2',
    ],
    [
      'an SCMI command, begin and end',
      { seq: 5, t: 5000, kind: 'scmi.msg', phase: 'begin', agent: 2, protocol: 0x14, message: 5, token: 3 },
      '     0.000005: scmi_xfer_begin: agent=2 protocol=0x14 msg_id=0x5 seq=3',
    ],
    [
      'the end of an SCMI command',
      { seq: 6, t: 6000, kind: 'scmi.msg', phase: 'end', agent: 2, protocol: 0x14, message: 5, token: 3, status: -3, statusName: 'DENIED' },
      '     0.000006: scmi_xfer_end: agent=2 protocol=0x14 msg_id=0x5 seq=3 status=-3',
    ],
    ['an RM call (unstamped)', { kind: 'rm.call', side: 'client', msgId: 0x5600_0004, name: 'VM_START', rmSeq: 7, hex: '80000000' }, 'gh_rm_call: msg=VM_START(0x56000004) seq=7 len=4'],
    [
      'an RM reply at the RM',
      { seq: 8, t: 8000, kind: 'rm.reply', side: 'rm', vmid: 3, msgId: 0x5600_0004, name: 'VM_START', rmSeq: 7, err: 'VM_STATE', code: 0xd },
      '     0.000008: gh_rm_reply: side=rm vm=0x3 msg=VM_START(0x56000004) seq=7 err=VM_STATE(13)',
    ],
    [
      'an RM frame',
      { seq: 9, t: 9000, kind: 'rm.frame', side: 'rm', vmid: 3, dir: 'rx', hex: '2101070004000056', type: 'request', fragments: 0, rmSeq: 7, msgId: 0x5600_0004, name: 'VM_START' },
      '     0.000009: gh_rm_frame: side=rm vm=0x3 dir=rx type=request msg=VM_START(0x56000004) seq=7 frags=0 len=8 data=2101070004000056',
    ],
    [
      'an ioctl that failed',
      { seq: 10, t: 10_000, kind: 'ioctl', call: 4, fd: 5, file: 'gunyah-vm', request: '0x40204709', name: 'GUNYAH_VM_MAP_MEM', args: { guestAddr: '0x80000000', guestMemFd: 6 }, errno: 'EINVAL' },
      '     0.000010: gunyah_ioctl: call=4 fd=5 file=gunyah-vm cmd=GUNYAH_VM_MAP_MEM(0x40204709) guest_addr=0x80000000 guest_mem_fd=6 ret=-EINVAL',
    ],
    [
      'a forced vcpu_run answer',
      { seq: 11, t: 11_000, kind: 'vcpu.state', vmid: 0x80, vcpu: 1, capid: '0x101', resume: ['0x0', '0x0', '0x0'], error: 0, errorName: 'OK', state: 0x55, stateName: '0x55', data: ['0x0', '0x0', '0x0'], forced: true },
      '     0.000011: gunyah_vcpu_run: vm=0x80 vcpu=1 ret=OK(0) state=0x55(85) data=0x0,0x0,0x0 resume=0x0,0x0,0x0 forced=1',
    ],
    [
      'a hypercall',
      { seq: 12, t: 12_000, kind: 'hyp.call', call: 'doorbell_send', args: { capid: '0x108', newFlags: '0x1' }, error: 0, errorName: 'OK', out: { oldFlags: '0x0' } },
      '     0.000012: gunyah_hypercall: call=doorbell_send capid=0x108 new_flags=0x1 old_flags=0x0 ret=OK(0)',
    ],
    [
      'a guest HVC',
      { seq: 13, t: 13_000, kind: 'guest.op', vmid: 0x80, vcpu: 0, op: 'hvc', fn: '0x84000008', args: ['0x0'] },
      '     0.000013: gunyah_guest_op: vm=0x80 vcpu=0 op=hvc fn=0x84000008 args=0x0',
    ],
    [
      'a fault that fired',
      { seq: 14, t: 14_000, kind: 'fault.injected', layer: 'rm', what: '0x56000004', occurrence: 1, error: 'NOMEM' },
      '     0.000014: gunyah_fault_injected: layer=rm what=0x56000004 occurrence=1 error=NOMEM',
    ],
    [
      'text with spaces is quoted',
      { seq: 15, t: 15_000, kind: 'rm.assertion', what: 'VM_EXIT from HLOS', mode: 'reply' },
      '     0.000015: gh_rm_assertion: mode=reply what="VM_EXIT from HLOS"',
    ],
    ['a kind outside the catalogue', { seq: 16, t: 16_000, kind: 'my.thing', someValue: 3 }, '     0.000016: my_thing: some_value=3'],
  ];
  it.each(cases)('%s', (_what, ev, line) => {
    expect(formatTraceLine(ev)).toBe(line);
  });

  it('the log sink writes each line with a newline', () => {
    const out: string[] = [];
    const sink = createLogSink((s) => void out.push(s));
    sink.emit(cases[0]![1]);
    expect(out).toEqual([`${cases[0]![2]}\n`]);
  });
});

describe('JSON lines', () => {
  it('the header first, then one record per line, in emit order', () => {
    let text = '';
    const sink = createJsonLinesSink((s) => void (text += s), traceHeader(5));
    sink.emit({ seq: 1, t: 1000, kind: 'kernel.vm-created', vm: 1 });
    sink.emit({ seq: 2, t: 2000, kind: 'mem.lent', vmid: 128, lent: 4096, shared: 0 });
    sink.close();
    sink.emit({ seq: 3, t: 3000, kind: 'kernel.vm-created', vm: 2 }); // after close: dropped
    expect(text).toBe(
      `{"kind":"trace.header","version":1,"seed":5,"scenario":"default","emulator":"${VERSION}"}\n` +
        '{"seq":1,"t":1000,"kind":"kernel.vm-created","vm":1}\n' +
        '{"seq":2,"t":2000,"kind":"mem.lent","vmid":128,"lent":4096,"shared":0}\n',
    );
  });

  it('a scenario object is kept whole in the header; a file is written and read back', async () => {
    const file = join(mkdtempSync(join(tmpdir(), 'gunyah-trace-')), 't.jsonl');
    const scenario = { machine: { cpus: 2 }, vms: [{ name: 'a' }] };
    const sink = createJsonLinesSink(file, traceHeader(3, scenario));
    const emu = createEmulator({ seed: 3, trace: sink });
    emu.host.open('/dev/gunyah');
    await emu.shutdown();
    sink.close();
    const { header, events } = parseJsonLines(readFileSync(file, 'utf8'));
    expect(header).toEqual({ kind: 'trace.header', version: 1, seed: 3, scenario, emulator: VERSION });
    expect(events).toEqual([]); // open(2) is not an ioctl; nothing else happened
  });

  it('parseJsonLines: a file without a header, a bad line', () => {
    expect(() => parseJsonLines('{"seq":1,"kind":"ioctl"}\n')).toThrow(/first line is not a trace.header/);
    expect(() => parseJsonLines(`${JSON.stringify(traceHeader(1))}\n{oops\n`)).toThrow(/trace line 2/);
    expect(() => parseJsonLines('{"kind":"trace.header","version":2}\n')).toThrow(/version 2/);
  });
});

describe('gunyah-emu run --trace FILE / --log', () => {
  async function runMain(argv: string[]): Promise<{ code: number; out: string }> {
    let out = '';
    const o = vi.spyOn(process.stdout, 'write').mockImplementation((s) => ((out += String(s)), true));
    const e = vi.spyOn(process.stderr, 'write').mockImplementation(() => true);
    try {
      return { code: await main(argv), out };
    } finally {
      o.mockRestore();
      e.mockRestore();
    }
  }

  it('--trace writes the header and the run, byte-identical for the same seed', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'gunyah-trace-'));
    const a = join(dir, 'a.jsonl');
    const b = join(dir, 'b.jsonl');
    expect((await runMain(['run', '--seed', '4', '--trace', a])).code).toBe(0);
    expect((await runMain(['run', '--seed', '4', '--trace', b])).code).toBe(0);
    const text = readFileSync(a, 'utf8');
    expect(readFileSync(b, 'utf8')).toBe(text);
    const { header, events } = parseJsonLines(text);
    expect(header).toEqual({ kind: 'trace.header', version: 1, seed: 4, scenario: 'default', emulator: VERSION });
    expect(events[0]).toMatchObject({ seq: 1, kind: 'ioctl.enter', name: 'GUNYAH_CREATE_VM' });
    expect(events.some((e) => e.kind === 'vcpu.exit')).toBe(true);
  });

  it('--log prints tracepoint lines before the report', async () => {
    const { code, out } = await runMain(['run', '--log']);
    expect(code).toBe(0);
    const lines = out.split('\n');
    expect(lines[0]).toBe('     0.000001: gunyah_ioctl_enter: call=1 fd=3 file=gunyah cmd=GUNYAH_CREATE_VM(0x4700)');
    expect(lines.some((l) => /^ +0\.\d{6}: gunyah_vcpu_exit: vm=0x80 vcpu=0 reason=MMIO addr=0x6000 len=8 write=0$/.test(l))).toBe(true);
    expect(lines.some((l) => /^ +\d+\.\d{6}: scmi_xfer_begin: agent=2 protocol=0x10 msg_id=0x0 seq=0$/.test(l))).toBe(true);
  });
});
