/**
 * Votes through the SCMI function end to end: two guest VMs and the host vote on the same clock
 * and regulator (the default platform's GPU clock and GPU regulator, both held by the host at
 * start), with the aggregates checked at each step and after each VM's teardown (the close of
 * its fds); a guest that crashes after enabling a clock loses its vote as soon as its VM exits;
 * REMOVE_FUNCTION (matched on agent_id only) releases the votes too, and the agent ID is free
 * again afterwards.
 *
 * Reference: scmi-virtio.md §9.5 (CLOCK_RATE_SET flags/clock/rate, CLOCK_CONFIG_SET v2.1+),
 * §9.8 (VOLTAGE_CONFIG_SET 7 = on, VOLTAGE_LEVEL_SET domain/flags/level), §12.2 (votes are
 * released when the VM goes away), docs/decisions.md S16 (aggregation: enabled while any voter
 * holds it; the highest rate/level among the voters holding it on; else the lowest), S19
 * (default platform), S40–S49 (the function's rules), docs/scmi.md.
 */
import pino from 'pino';
import { describe, expect, it } from 'vitest';
import { createEmulator } from '../../../src/emulator.js';
import { guestProgram, type GuestProgramBuilder } from '../../../src/guest/index.js';
import { isEventFd } from '../../../src/host/eventfd.js';
import { errnoOf } from '../../vm-mgr/support/raw.js';
import { MARK, u64le } from '../../vm-mgr/support/programs.js';
import { hostOk } from './support/host-scmi.js';
import {
  MMIO_BASE,
  Proto,
  RING_BASE,
  VmmScmi,
  bootScmiVm,
  expectCleanScmiShutdown,
  protoBit,
  until,
  vmVoters,
} from './support/vmm-scmi.js';

/** Platform IDs in the default platform (docs/decisions.md S19). */
const GPU_CLOCK = 2;
const UART_CLOCK = 3;
const GPU_VDD = 1;
const DEV_GPU = 1n << 2n;
const DEV_UART = 1n << 3n;
const CLOCK_VOLTAGE = protoBit(Proto.CLOCK) | protoBit(Proto.VOLTAGE);
const MHZ = 1_000_000;

/** CLOCK_RATE_SET (0x5): flags 0 (round down), the agent's clock 0, rate as u32 low/high. */
const rateSet = (p: GuestProgramBuilder, rate: number): GuestProgramBuilder => p.scmiCall(Proto.CLOCK, 0x5, [0, 0, rate, 0], { expectStatus: 0 });
/** CLOCK_CONFIG_SET (0x7): the agent's clock `id`, attributes bits 1:0 = 1 (enable), oem 0. */
const enable = (p: GuestProgramBuilder, id = 0): GuestProgramBuilder => p.scmiCall(Proto.CLOCK, 0x7, [id, 1, 0], { expectStatus: 0 });
/** VOLTAGE_LEVEL_SET (0x7) then VOLTAGE_CONFIG_SET (0x5) 7 = on, on the agent's domain 0. */
const voltOn = (p: GuestProgramBuilder, uv: number): GuestProgramBuilder =>
  p.scmiCall(Proto.VOLTAGE, 0x7, [0, 0, uv], { expectStatus: 0 }).scmiCall(Proto.VOLTAGE, 0x5, [0, 7], { expectStatus: 0 });

/** probe, MARK 1; clock rate + enable, MARK 2; regulator level + on, MARK 3; spin. */
function voter(rate: number, uv: number): GuestProgramBuilder {
  const p = guestProgram().virtioScmiProbe(MMIO_BASE, RING_BASE, { queueSize: 16 }).mmioWrite(MARK, 8, 1);
  enable(rateSet(p, rate)).mmioWrite(MARK, 8, 2);
  return voltOn(p, uv).mmioWrite(MARK, 8, 3).spin();
}

describe('votes of two guests and the host aggregate (S16)', () => {
  it('clock and regulator aggregates at each step and after each VM teardown', async () => {
    const emu = createEmulator();
    const a = await bootScmiVm({ program: voter(400 * MHZ, 900_000), emu });
    const b = await bootScmiVm({ program: voter(500 * MHZ, 850_000), emu });
    const da = new VmmScmi(a, { agentId: 2, name: 'vm-a', deviceMask: DEV_GPU, protocolMask: CLOCK_VOLTAGE });
    const db = new VmmScmi(b, { agentId: 3, name: 'vm-b', deviceMask: DEV_GPU, protocolMask: CLOCK_VOLTAGE });
    const clock = (): unknown => emu.scmi.platform.clockAggregate(GPU_CLOCK);
    const vdd = (): unknown => emu.scmi.platform.voltageAggregate(GPU_VDD);
    const va = a.vcpus[0]!;
    const vb = b.vcpus[0]!;

    await da.runToWrite(va, MARK, 1n);
    await db.runToWrite(vb, MARK, 1n);
    expect(emu.scmi.agents().map((x) => [x.agentId, x.name])).toEqual([
      [1, 'host'],
      [2, 'vm-a'],
      [3, 'vm-b'],
    ]);
    // The host's own votes from the platform description: 200 MHz, 800 mV.
    expect(clock()).toEqual({ enabled: true, rate: 200 * MHZ });
    expect(vdd()).toEqual({ on: true, microvolts: 800_000 });

    // Host: CLOCK_RATE_SET 300 MHz on platform clock 2.
    hostOk(emu, Proto.CLOCK, 0x5, [0, GPU_CLOCK, 300 * MHZ, 0]);
    expect(clock()).toEqual({ enabled: true, rate: 300 * MHZ });
    await da.runToWrite(va, MARK, 2n); // A: 400 MHz, enabled
    expect(clock()).toEqual({ enabled: true, rate: 400 * MHZ });
    await db.runToWrite(vb, MARK, 2n); // B: 500 MHz, enabled
    expect(clock()).toEqual({ enabled: true, rate: 500 * MHZ });
    hostOk(emu, Proto.CLOCK, 0x5, [0, GPU_CLOCK, 600 * MHZ, 0]);
    expect(clock()).toEqual({ enabled: true, rate: 600 * MHZ });
    hostOk(emu, Proto.CLOCK, 0x5, [0, GPU_CLOCK, 250 * MHZ, 0]);
    expect(clock()).toEqual({ enabled: true, rate: 500 * MHZ });

    await da.runToWrite(va, MARK, 3n); // A: 900 mV, on
    expect(vdd()).toEqual({ on: true, microvolts: 900_000 });
    await db.runToWrite(vb, MARK, 3n); // B: 850 mV, on: below A
    expect(vdd()).toEqual({ on: true, microvolts: 900_000 });
    // Host: VOLTAGE_LEVEL_SET 1.0 V on platform domain 1.
    hostOk(emu, Proto.VOLTAGE, 0x7, [GPU_VDD, 0, 1_000_000]);
    expect(vdd()).toEqual({ on: true, microvolts: 1_000_000 });
    expect(emu.scmi.platform.voters('clock', GPU_CLOCK)).toEqual(expect.arrayContaining([1, 2, 3]));

    // VM B goes away (its fds closed): its votes with it.
    await db.closeVm();
    expect(emu.scmi.agents().map((x) => x.agentId)).toEqual([1, 2]);
    expect(clock()).toEqual({ enabled: true, rate: 400 * MHZ });
    expect(vdd()).toEqual({ on: true, microvolts: 1_000_000 });
    expect(vmVoters(emu)).toEqual([`clock ${GPU_CLOCK}: 2`, `voltage ${GPU_VDD}: 2`]);
    hostOk(emu, Proto.VOLTAGE, 0x7, [GPU_VDD, 0, 800_000]);
    expect(vdd()).toEqual({ on: true, microvolts: 900_000 });

    // VM A goes away: the host's votes are all that is left.
    await da.closeVm();
    expect(emu.scmi.agents().map((x) => x.agentId)).toEqual([1]);
    expect(clock()).toEqual({ enabled: true, rate: 250 * MHZ });
    expect(vdd()).toEqual({ on: true, microvolts: 800_000 });
    expect(vmVoters(emu)).toEqual([]);

    // The host lets go too: off, back at the lowest rate / level.
    hostOk(emu, Proto.CLOCK, 0x7, [GPU_CLOCK, 0, 0]);
    hostOk(emu, Proto.VOLTAGE, 0x5, [GPU_VDD, 0]);
    expect(clock()).toEqual({ enabled: false, rate: 100 * MHZ });
    expect(vdd()).toEqual({ on: false, microvolts: 600_000 });
    await expectCleanScmiShutdown(emu);
  });

  it('a VM torn down while the host holds the same clock: the host vote stays', async () => {
    const emu = createEmulator();
    const a = await bootScmiVm({ program: voter(700 * MHZ, 1_100_000), emu });
    const da = new VmmScmi(a, { agentId: 5, name: 'vm-a', deviceMask: DEV_GPU, protocolMask: CLOCK_VOLTAGE });
    for (const m of [1n, 2n, 3n]) await da.runToWrite(a.vcpus[0]!, MARK, m);
    expect(emu.scmi.platform.clockAggregate(GPU_CLOCK)).toEqual({ enabled: true, rate: 700 * MHZ });
    expect(emu.scmi.platform.voltageAggregate(GPU_VDD)).toEqual({ on: true, microvolts: 1_100_000 });
    await expectCleanScmiShutdown(emu);
    expect(emu.scmi.platform.clockAggregate(GPU_CLOCK)).toEqual({ enabled: true, rate: 200 * MHZ });
    expect(emu.scmi.platform.voltageAggregate(GPU_VDD)).toEqual({ on: true, microvolts: 800_000 });
  });
});

describe('a guest that crashes (S45)', () => {
  it('enables a clock, then udf: the VM exits and the vote disappears; later kicks are ignored', async () => {
    const records: Array<{ level: number; msg: string }> = [];
    const log = pino({ level: 'info' }, { write: (s: string) => void records.push(JSON.parse(s) as { level: number; msg: string }) });
    const prog = guestProgram().virtioScmiProbe(MMIO_BASE, RING_BASE, { queueSize: 16 }).mmioWrite(MARK, 8, 1);
    enable(rateSet(prog, 450 * MHZ)).mmioWrite(MARK, 8, 2).udf();
    const b = await bootScmiVm({ program: prog, emulator: { log } });
    const emu = b.emu;
    const d = new VmmScmi(b, { agentId: 6, name: 'crasher', deviceMask: DEV_GPU, protocolMask: protoBit(Proto.CLOCK) });
    const v = b.vcpus[0]!;
    await d.runToWrite(v, MARK, 1n);
    await d.runToWrite(v, MARK, 2n);
    expect(emu.scmi.platform.clockAggregate(GPU_CLOCK)).toEqual({ enabled: true, rate: 450 * MHZ });
    const inst = d.instance()!;
    const exit = await d.run(v);
    expect(exit.kind).toBe('status');
    expect(await until(() => emu.scmi.agent(6) === undefined)).toBe(true);
    expect(inst.state).toBe('vm-gone');
    expect(emu.scmi.platform.clockAggregate(GPU_CLOCK)).toEqual({ enabled: true, rate: 200 * MHZ });
    expect(vmVoters(emu)).toEqual([]);
    expect(records.some((r) => /the VM is gone: SCMI agent closed/.test(r.msg))).toBe(true);
    // A kick now (the VMM writing the kick eventfd) finds no wait-queue entry: nothing is served.
    const kick = emu.host.openFiles().find((f) => f.fd === d.kickFd)!.file;
    expect(isEventFd(kick) ? kick.waiterCount : -1).toBe(0);
    const served = inst.served;
    emu.host.write(d.kickFd!, u64le(1n));
    expect(inst.served).toBe(served);
    // The function stays bound until teardown; REMOVE still finds it by agent_id.
    expect(await d.removeFunction()).toBe(0);
    await expectCleanScmiShutdown(emu);
  });
});

describe('REMOVE_FUNCTION (S41)', () => {
  it('matches on agent_id only, releases the votes, frees the agent ID; a second REMOVE is ENOENT', async () => {
    const prog = guestProgram().virtioScmiProbe(MMIO_BASE, RING_BASE, { queueSize: 16 }).mmioWrite(MARK, 8, 1);
    enable(prog).mmioWrite(MARK, 8, 2).spin();
    const b = await bootScmiVm({ program: prog });
    const emu = b.emu;
    const d = new VmmScmi(b, { agentId: 8, name: 'vm-r', deviceMask: DEV_UART, protocolMask: protoBit(Proto.CLOCK) });
    await d.runToWrite(b.vcpus[0]!, MARK, 1n);
    await d.runToWrite(b.vcpus[0]!, MARK, 2n);
    expect(emu.scmi.platform.clockAggregate(UART_CLOCK)).toEqual({ enabled: true, rate: 1_843_200 });
    expect(vmVoters(emu)).toEqual([`clock ${UART_CLOCK}: 8`]);

    // Another agent_id: no match.
    const other = d.arg().slice();
    new DataView(other.buffer).setUint32(0, 9, true);
    expect(await errnoOf(b.vm.removeFunction(0x100, other))).toBe('ENOENT');
    // The same agent_id with every other field different (fds, name, masks, queue): a match.
    const same = new Uint8Array(128).fill(0xee);
    new DataView(same.buffer).setUint32(0, 8, true);
    expect(await b.vm.removeFunction(0x100, same)).toBe(0);
    expect(emu.scmi.agent(8)).toBeUndefined();
    expect(emu.scmi.platform.clockAggregate(UART_CLOCK)).toEqual({ enabled: false, rate: 1_843_200 });
    expect(vmVoters(emu)).toEqual([]);
    const kick = emu.host.openFiles().find((f) => f.fd === d.kickFd)!.file;
    expect(isEventFd(kick) ? kick.waiterCount : -1).toBe(0);
    expect(await errnoOf(b.vm.removeFunction(0x100, same))).toBe('ENOENT');
    // A 127-byte argument never matches (the type's size is compared first).
    expect(await errnoOf(b.vm.removeFunction(0x100, same.subarray(0, 127)))).toBe('ENOENT');

    // The agent ID is free again: the same function can be added anew, without the old votes.
    await d.addFunction();
    expect(d.addError).toBeUndefined();
    expect(emu.scmi.agent(8)).toMatchObject({ name: 'vm-r' });
    // It resumes at the used ring's idx: the request the first instance answered is not run again.
    expect(d.instance()!.served).toBe(0);
    expect(vmVoters(emu)).toEqual([]);
    await expectCleanScmiShutdown(emu);
  });
});
