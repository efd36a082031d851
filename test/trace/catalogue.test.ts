/**
 * The trace event catalogue: one workload on one emulator produces every kind of
 * TRACE_EVENT_KINDS at least once, every record is stamped in order and is plain JSON, and the
 * records that matter for exit-reason bugs carry the decoded fields docs/tracing.md lists.
 * Without a sink nothing is traced: no tracer exists, no listener is installed, and every emit
 * site in src/ is written so that no record is built without one.
 *
 * The workload: raw RM frames on the host's link (a short frame the RM drops, a VM_IRQ_LEND
 * without payload, which is an RM assertion); an SCMI VM that probes and makes one call, after
 * which the test breaks its ring; the host's SCMI vote on a clock; a guest program whose MMIO
 * read the VMM answers with resume action FAULT (a data abort the program does not catch: the
 * vCPU crashes, the VM exits), with an ioeventfd added and removed; a fault plan that forces one vcpu_run answer; teardown of all.
 *
 * Reference: docs/tracing.md (catalogue); rm-rpc.md §8.1 (short frames), §17 #2 (assertion);
 * uapi.md §8.7 (resume FAULT), §8.10 (STATUS exit); scmi-virtio.md §4 (rings).
 */
import { readFileSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { createEmulator } from '../../src/emulator.js';
import { guestProgram } from '../../src/guest/index.js';
import { RmMsgId } from '../../src/rm-rpc/wire/msg-ids.js';
import { ScmiProtocolId, buildRequest } from '../../src/scmi/index.js';
import { createMemoryTraceSink, type TraceEvent } from '../../src/shared/trace.js';
import { TRACE_EVENT_KINDS } from '../../src/shared/trace-events.js';
import { GUNYAH_VCPU_RESUME_FAULT } from '../../src/vm-mgr/uapi/index.js';
import { RawRm } from '../support/raw-rm.js';
import { bootHoldingCell } from '../vm-mgr/support/boot.js';
import { MARK, expectWrite, runMmio, runStatus, u64le } from '../vm-mgr/support/programs.js';
import { MMIO_BASE, Proto, RING_BASE, VmmScmi, bootScmiVm, expectCleanScmiShutdown, protoBit } from '../functions/scmi/support/vmm-scmi.js';
import { multiVmWorkload } from './support.js';

/** The ring layout of the SCMI test guest (Q = 16): avail ring at +0x100. */
const AVAIL = 0x100;
const DEV = 0x6100n;

async function everyKindWorkload(events: TraceEvent[]): Promise<void> {
  const trace = { emit: (e: TraceEvent) => void events.push(e) };
  const emu = createEmulator({ trace, faults: { vcpuRun: [{ state: 6, occurrence: 1 }] } });

  // RM link: a frame too short for a header (dropped) and an assertion (VM_IRQ_LEND, no payload).
  const raw = new RawRm(emu);
  raw.sendFrame(Uint8Array.of(0x21, 0x01));
  await raw.reply(raw.send(RmMsgId.VM_IRQ_LEND));
  raw.close();

  // An SCMI VM: probe, one BASE call, then a head index out of range on its ring.
  const prog = guestProgram()
    .virtioScmiProbe(MMIO_BASE, RING_BASE, { queueSize: 16 })
    .scmiCall(Proto.BASE, 0x0, [], { expectStatus: 0, wait: 'poll' })
    .mmioWrite(MARK, 8, 1)
    .spin();
  const s = await bootScmiVm({ program: prog, emu });
  const d = new VmmScmi(s, { agentId: 10, name: 'vm-t', deviceMask: 1n << 3n, protocolMask: protoBit(Proto.CLOCK) });
  await d.runToWrite(s.vcpus[0]!, MARK, 1n);
  const ring = s.ring.mmap();
  const idx = ring.read(AVAIL + 2, 2);
  const i = idx[0]! | (idx[1]! << 8);
  ring.write(AVAIL + 4 + 2 * (i % 16), Uint8Array.of(16, 0));
  ring.write(AVAIL + 2, Uint8Array.of((i + 1) & 0xff, (i + 1) >> 8));
  emu.host.write(d.kickFd!, u64le(1n));
  expect(d.instance()?.broken?.kind).toBe('head-out-of-range');

  // The host votes on clock 3 through its trusted agent.
  const enable = new Uint8Array(12);
  new DataView(enable.buffer).setUint32(0, 3, true);
  new DataView(enable.buffer).setUint32(4, 1, true);
  emu.scmi.dispatch(emu.scmi.host, buildRequest({ protocolId: ScmiProtocolId.CLOCK, messageId: 0x7, messageType: 0, token: 5 }, enable));

  // A program whose MMIO read the VMM fails: a data abort the program does not catch.
  const p = await bootHoldingCell({ image: guestProgram().mmioWrite(MARK, 8, 1).mmioRead(DEV, 4).mmioWrite(MARK, 8, 2).build() }, emu);
  const v = p.vcpus[0]!;
  const efd = emu.host.eventfd(0, 0);
  await p.vm.addIoeventfd({ addr: 0x7000n, len: 4, fd: efd });
  await p.vm.removeIoeventfd({ addr: 0x7000n, len: 4, fd: efd });
  await expectWrite(v, MARK, 1n);
  expect(await runMmio(v)).toMatchObject({ physAddr: DEV, isWrite: false, len: 4 });
  v.setResumeAction(GUNYAH_VCPU_RESUME_FAULT);
  expect(await runStatus(v)).toMatchObject({ exitType: 5 }); // SOFTWARE_ERROR: the vCPU crashed
  await expectCleanScmiShutdown(emu);
}

describe('the catalogue', () => {
  it('one workload produces every kind; records are stamped in order and are plain JSON', async () => {
    const events: TraceEvent[] = [];
    await everyKindWorkload(events);
    const kinds = new Set(events.map((e) => e.kind));
    expect(TRACE_EVENT_KINDS.filter((k) => !kinds.has(k))).toEqual([]);
    expect([...kinds].filter((k) => !(TRACE_EVENT_KINDS as readonly string[]).includes(k))).toEqual([]);
    events.forEach((e, i) => {
      expect(e['seq']).toBe(i + 1);
      expect(JSON.parse(JSON.stringify(e))).toEqual(e);
    });
  });

  it('records carry the decoded fields of docs/tracing.md', async () => {
    const events: TraceEvent[] = [];
    await everyKindWorkload(events);
    const first = (kind: string, where: (e: TraceEvent) => boolean = () => true): TraceEvent | undefined => events.find((e) => e.kind === kind && where(e));
    expect(first('rm.drop')).toMatchObject({ side: 'rm', vmid: 3, reason: 'short-frame' });
    expect(first('rm.assertion')).toMatchObject({ mode: 'reply' });
    expect(first('rm.frame', (e) => e['name'] === 'VM_IRQ_LEND')).toMatchObject({ side: 'rm', vmid: 3, dir: 'rx', type: 'request', msgId: RmMsgId.VM_IRQ_LEND, fragments: 0 });
    expect(first('rm.reply', (e) => e['name'] === 'VM_IRQ_LEND')).toMatchObject({ side: 'rm', err: 'MSG_INVALID' });
    expect(first('ioctl', (e) => e['name'] === 'GUNYAH_VM_MAP_MEM')).toMatchObject({
      file: 'gunyah-vm',
      request: '0x40204709',
      args: { guestAddr: '0x80000000', flagNames: 'FORCE_LEND|ALLOW_READ|ALLOW_WRITE|ALLOW_EXEC', offset: '0x0' },
      result: 0,
    });
    expect(first('ioctl', (e) => e['name'] === 'GUNYAH_VM_ADD_FUNCTION' && (e['args'] as { type?: number }).type === 0x100)).toMatchObject({
      args: { typeName: 'GUNYAH_FN_SCMI', argSize: 128, fn: { agentId: 10, name: 'vm-t' } },
    });
    expect(first('vcpu.state', (e) => e['forced'] === true)).toMatchObject({ state: 6, stateName: 'FAULT', error: 0, errorName: 'OK' });
    expect(first('fault.injected')).toMatchObject({ layer: 'vcpu_run', occurrence: 1 });
    expect(first('vcpu.exit', (e) => e['addr'] === '0x6100')).toMatchObject({ reason: 'MMIO', len: 4, write: false });
    expect(first('guest.exception')).toMatchObject({ esr: '0x92000010', far: '0x6100' });
    expect(first('vcpu.exit', (e) => e['reason'] === 'STATUS')).toMatchObject({ status: 2, statusName: 'EXITED', exitType: 5, reasonSize: 4 });
    expect(first('kernel.scmi-queue-broken')).toMatchObject({ agent: 10, reason: 'head-out-of-range' });
    expect(first('scmi.msg', (e) => e['agent'] === 1 && e['phase'] === 'end')).toMatchObject({ protocol: 0x14, message: 0x7, token: 5, status: 0, statusName: 'SUCCESS' });
    expect(first('scmi.vote')).toMatchObject({ resource: 'clock', id: 3, voters: [1] });
    expect(first('mem.lent', (e) => e['lent'] as number > 0)).toMatchObject({ shared: 0 });
    expect(first('mem.lent', (e) => e['shared'] as number > 0)).toBeDefined();
    expect(first('hyp.call', (e) => e['call'] === 'memextent_donate')).toMatchObject({ error: 0, errorName: 'OK', args: { options: '0x3' } });
    // Every lent and shared byte is back at the end: the last record of each VM says 0.
    const lastByVm = new Map<number, TraceEvent>();
    for (const e of events) if (e.kind === 'mem.lent') lastByVm.set(e['vmid'] as number, e);
    for (const e of lastByVm.values()) expect(e).toMatchObject({ lent: 0, shared: 0 });
  });
});

describe('no sink, no trace', () => {
  it('an emulator without a sink has no tracer and installs no listener for one', async () => {
    const emu = createEmulator();
    expect(emu.trace).toBeUndefined();
    expect(emu.hyp.events.listenerCount('memory-changed')).toBe(0);
    expect(emu.rm.events.listenerCount('reply')).toBe(0);
    await multiVmWorkload(emu);
  });

  it('with a sink, the same workload is traced (the check above is not vacuous)', async () => {
    const sink = createMemoryTraceSink();
    const emu = createEmulator({ trace: sink });
    expect(emu.trace).toBeDefined();
    expect(emu.hyp.events.listenerCount('memory-changed')).toBe(1);
    await multiVmWorkload(emu);
    expect(sink.events.length).toBe(emu.trace!.count);
  });

  it('every emit site in the layers builds its record only when a tracer is attached', () => {
    // `x?.emit({...})` evaluates nothing without a tracer; any other emit must be inside a
    // function that only runs with one (files listed below take a Tracer they always have).
    const alwaysTraced = new Set(['src/shared/trace.ts', 'src/hyp/guest-trace.ts', 'src/trace/counters.ts', 'src/host/process.ts', 'src/hyp/host-hypercalls.ts', 'src/scmi/backend.ts']);
    const offenders: string[] = [];
    const walk = (dir: string): void => {
      for (const name of readdirSync(dir)) {
        const path = join(dir, name);
        if (statSync(path).isDirectory()) walk(path);
        else if (path.endsWith('.ts') && !alwaysTraced.has(path)) {
          readFileSync(path, 'utf8')
            .split('\n')
            .forEach((line, i) => {
              if (/\btrace\w*\.emit\(/i.test(line) && !/\?\.emit\(/.test(line)) offenders.push(`${path}:${i + 1}: ${line.trim()}`);
            });
        }
      }
    };
    // The machine's layers (drivers such as the CLI emit only after checking for a tracer).
    for (const layer of ['host', 'hyp', 'vm-mgr', 'vcpu', 'functions', 'rm-rpc', 'scmi', 'shared', 'mem-parcel', 'msgq', 'guest', 'virtio', 'vmm', 'trace']) {
      walk(join('src', layer));
    }
    expect(offenders).toEqual([]);
  });
});
