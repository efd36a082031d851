/**
 * The SCMI part of `gunyah-emu run`'s default scenario: a TypeScript VMM boots a guest-program
 * VM whose virtqueues live in a shared ring region, puts a virtio-scmi device (ScmiVirtioDevice)
 * behind its MMIO exits, and lets the guest's virtio-scmi driver probe it. At DRIVER_OK the VMM
 * wires the hot path (ioeventfd on QueueNotify, irqfd, GUNYAH_FN_SCMI). The guest enables the
 * UART clock and sets its rate, the host votes on the same clock through its trusted agent, the
 * aggregate is shown; then the guest crashes (udf) and the VM's vote disappears: the aggregate
 * is the host's again. Everything is closed and checked as in the holding-cell part.
 *
 * Reference: scmi-virtio.md §5 (device), §9.2/§9.5 (Base, Clock messages), §11 (Gunyah
 * mapping), §12.2 (votes released when the VM goes away); docs/scmi.md (the function);
 * docs/guest-images.md (the guest's driver); uapi.md §8.10 (the crash as a STATUS exit).
 */
import type { Emulator } from '../emulator.js';
import { DefaultDevice, ScmiProtocolId, ScmiStatus, buildRequest, parseResponse } from '../scmi/index.js';
import { guestProgram } from '../guest/index.js';
import { GUNYAH_VM_STATUS_EXITED } from '../vm-mgr/uapi/constants.js';
import type { RunPage, RunPageStatus } from '../vm-mgr/uapi/run-page.js';
import { describeExit } from './holding-cell-driver.js';
import { SCMI_VM_DOORBELL, SCMI_VM_MARK, SCMI_VM_MMIO, SCMI_VM_RING, bootScmiVm, type ScmiVm } from './scmi-vm.js';
import { inspectShutdown, type ShutdownReport } from './shutdown-check.js';

/** The VM's agent: the UART device only (agent clock 0 = platform clock 3 "uart"). */
const AGENT = { agentId: 2, name: 'scmi-guest', deviceMask: 1n << BigInt(DefaultDevice.UART) } as const;
const CLOCK = 3;
const GUEST_RATE = 14_745_600;
const HOST_RATE = 3_686_400;
const ClockMsg = { RATE_SET: 0x5, RATE_GET: 0x6, CONFIG_SET: 0x7 } as const;
const BASE_VERSION = 0x2_0000;

/** A clock's state: a vote (enabled, rate asked) or the aggregate. */
export interface ClockState {
  readonly enabled: boolean;
  readonly rate: number | undefined;
}

/** One line of the SCMI part's table. */
export interface ScmiStep {
  readonly who: 'VMM' | 'guest' | 'host' | 'backend';
  readonly what: string;
  readonly result: string;
}

export interface ScmiScenarioResult {
  readonly agentId: number;
  readonly agentName: string;
  readonly clock: { readonly id: number; readonly name: string };
  readonly steps: readonly ScmiStep[];
  /** The VM's own vote, the host's, and the aggregate, before the crash. */
  readonly before: { readonly guest: ClockState; readonly host: ClockState; readonly aggregate: ClockState };
  /** After the crash: the VM's vote (gone), whether its agent is still connected, the host's vote, the aggregate. */
  readonly after: { readonly guest: ClockState; readonly agentConnected: boolean; readonly host: ClockState; readonly aggregate: ClockState };
  /** The STATUS exit the crash gave, if it came. */
  readonly crash: RunPageStatus | undefined;
  /** Exits the device handled (register window), and of those, QueueNotify stores. */
  readonly deviceExits: number;
  readonly notifyExits: number;
  readonly shutdown: ShutdownReport;
}

/**
 * The guest: probe (queue size 16), BASE PROTOCOL_VERSION (0x20000), CLOCK_CONFIG_SET(0, enable),
 * CLOCK_RATE_SET(0, 14.7456 MHz), CLOCK_RATE_GET(0) → that rate; every call's status and payload
 * checked by the program (a mismatch crashes it early). MARK 1, then udf.
 */
export function scmiScenarioImage(): Uint8Array {
  return guestProgram()
    .virtioScmiProbe(SCMI_VM_MMIO, SCMI_VM_RING, { queueSize: 16 })
    .scmiCall(ScmiProtocolId.BASE, 0x0, [], { expectStatus: 0, expectPayload: [BASE_VERSION] })
    .scmiCall(ScmiProtocolId.CLOCK, ClockMsg.CONFIG_SET, [0, 1, 0], { expectStatus: 0 })
    .scmiCall(ScmiProtocolId.CLOCK, ClockMsg.RATE_SET, [0, 0, GUEST_RATE, 0], { expectStatus: 0 })
    .scmiCall(ScmiProtocolId.CLOCK, ClockMsg.RATE_GET, [0], { expectStatus: 0, expectPayload: [GUEST_RATE, 0] })
    .mmioWrite(SCMI_VM_MARK, 8, 1)
    .udf()
    .build();
}

const mhz = (hz: number | undefined): string => (hz === undefined ? '-' : `${(hz / 1e6).toFixed(4)} MHz`);
export const formatClockState = (c: ClockState): string => (c.enabled ? `enabled, ${mhz(c.rate)}` : c.rate === undefined ? 'no vote' : `disabled (${mhz(c.rate)})`);

function u32s(...words: number[]): Uint8Array {
  const b = new Uint8Array(4 * words.length);
  const v = new DataView(b.buffer);
  words.forEach((w, i) => v.setUint32(4 * i, w >>> 0, true));
  return b;
}

/**
 * Run the SCMI part on `emu` (after the holding-cell part, which has closed everything it
 * opened). Mismatches go to `problems`.
 */
export async function runScmiScenario(emu: Emulator, problems: string[]): Promise<ScmiScenarioResult> {
  const steps: ScmiStep[] = [];
  const platform = emu.scmi.platform;
  const clockName = platform.desc.clocks[CLOCK]?.name ?? '?';
  const vote = (voter: number): ClockState => {
    const v = platform.clockVote(voter, CLOCK);
    return { enabled: v.enabled, rate: v.enabled ? v.rate : undefined };
  };
  const aggregate = (): ClockState => platform.clockAggregate(CLOCK);
  const noVote: ClockState = { enabled: false, rate: undefined };
  let before = { guest: noVote, host: noVote, aggregate: aggregate() };
  let after = { guest: noVote, agentConnected: false, host: noVote, aggregate: aggregate() };
  let crash: RunPageStatus | undefined;
  const counts = { device: 0, notify: 0 };
  let vm: ScmiVm | undefined;
  try {
    vm = await bootScmiVm(emu.host, { image: scmiScenarioImage(), agent: AGENT });
    for (const s of vm.steps) steps.push({ who: 'VMM', what: s, result: 'ok' });
    vm.device.events.on('bound', (a) => {
      steps.push({
        who: 'guest',
        what: `virtio-scmi probe: magic, version 2, device ID 32; features VERSION_1; cmdq ${a.cmdq.size} entries at 0x${a.cmdq.desc.toString(16)}; DRIVER_OK`,
        result: 'ok',
      });
      steps.push({
        who: 'VMM',
        what: `on DRIVER_OK: ioeventfd 0x${(SCMI_VM_MMIO + 0x50n).toString(16)} (kick fd ${a.kickFd}), irqfd label 0x${SCMI_VM_DOORBELL.label.toString(16)} (call fd ${a.callFd}), ADD_FUNCTION(GUNYAH_FN_SCMI) agent ${a.agentId} "${String(a.name)}"`,
        result: 'bound',
      });
    });
    vm.device.events.on('bind-failed', (e) => {
      steps.push({ who: 'VMM', what: 'DRIVER_OK: wiring the device', result: 'FAILED' });
      problems.push(`SCMI: the device could not be bound at DRIVER_OK: ${e instanceof Error ? e.message : String(e)}`);
    });
    vm.device.events.on('unbound', (why) => steps.push({ who: 'VMM', what: `device ${why}: REMOVE_FUNCTION(GUNYAH_FN_SCMI), ioeventfd, irqfd; eventfds closed`, result: 'ok' }));
    const first = await run(vm, counts);
    const marked = first.kind === 'mmio' && first.mmio.isWrite && first.mmio.physAddr === SCMI_VM_MARK && first.mmio.data === 1n;
    steps.push({
      who: 'guest',
      what: `BASE PROTOCOL_VERSION; CLOCK_CONFIG_SET(0, enable); CLOCK_RATE_SET(0, ${mhz(GUEST_RATE)}); CLOCK_RATE_GET(0)`,
      result: marked ? 'all SUCCESS (checked by the guest)' : `stopped: ${describeExit(first)}`,
    });
    if (!marked) problems.push(`SCMI: the guest did not finish its requests: ${describeExit(first)}`);

    hostVote(emu, steps, problems);
    before = { guest: vote(AGENT.agentId), host: vote(emu.scmi.host.agentId), aggregate: aggregate() };
    steps.push({ who: 'backend', what: `clock ${CLOCK} "${clockName}" aggregate`, result: formatClockState(before.aggregate) });
    expectState(problems, 'the VM\'s vote before the crash', before.guest, { enabled: true, rate: GUEST_RATE });
    expectState(problems, 'the aggregate before the crash', before.aggregate, { enabled: true, rate: GUEST_RATE });

    const end = await run(vm, counts);
    if (end.kind === 'status') crash = end.status;
    const crashed = end.kind === 'status' && end.status.status === GUNYAH_VM_STATUS_EXITED;
    steps.push({ who: 'guest', what: 'udf (undefined instruction)', result: crashed ? 'VM crashed: STATUS exit EXITED' : `unexpected: ${describeExit(end)}` });
    if (!crashed) problems.push(`SCMI: expected the guest's crash as a STATUS exit EXITED, got ${describeExit(end)}`);
    after = { guest: vote(AGENT.agentId), agentConnected: emu.scmi.agent(AGENT.agentId) !== undefined, host: vote(emu.scmi.host.agentId), aggregate: aggregate() };
    steps.push({ who: 'backend', what: `agent ${AGENT.agentId} after the crash`, result: after.agentConnected ? 'still connected' : 'disconnected, votes released' });
    steps.push({ who: 'backend', what: `clock ${CLOCK} "${clockName}" aggregate`, result: `${formatClockState(after.aggregate)} (the host's vote)` });
    expectState(problems, 'the VM\'s vote after the crash', after.guest, noVote);
    expectState(problems, 'the aggregate after the crash', after.aggregate, { enabled: true, rate: HOST_RATE });
    if (after.agentConnected) problems.push(`SCMI: agent ${AGENT.agentId} is still connected after the VM crashed`);
    if (counts.notify !== 0) problems.push(`SCMI: ${counts.notify} QueueNotify stores exited to the VMM (the ioeventfd should take them)`);
  } catch (err) {
    problems.push(`SCMI: ${err instanceof Error ? err.message : String(err)}`);
  }

  // Shut down: the device (REMOVE_FUNCTION …), then every fd; anything left over goes as at exit.
  const open0 = emu.host.openFiles().length;
  try {
    await vm?.close();
    if (vm && vm.device.lastError !== undefined) problems.push(`SCMI: closing the device: ${String(vm.device.lastError)}`);
  } catch (err) {
    problems.push(`SCMI close: ${err instanceof Error ? err.message : String(err)}`);
  }
  let fdsClosed = open0 - emu.host.openFiles().length;
  fdsClosed += emu.host.openFiles().length;
  await emu.host.closeAll();
  const shutdown = await inspectShutdown(emu, fdsClosed, problems);
  return {
    agentId: AGENT.agentId,
    agentName: AGENT.name,
    clock: { id: CLOCK, name: clockName },
    steps,
    before,
    after,
    crash,
    deviceExits: counts.device,
    notifyExits: counts.notify,
    shutdown,
  };
}

/** RUN vCPU 0 past the device's exits; counts them (and QueueNotify stores among them). */
async function run(vm: ScmiVm, counts: { device: number; notify: number }): Promise<RunPage> {
  const v = vm.vcpus[0]!;
  for (;;) {
    const e = await v.run();
    if (e.kind === 'mmio' && (await vm.device.handleMmio(v, e))) {
      counts.device++;
      if (e.mmio.isWrite && e.mmio.physAddr === SCMI_VM_MMIO + 0x50n) counts.notify++;
      continue;
    }
    return e;
  }
}

/** The host's vote through its trusted agent: CLOCK_CONFIG_SET(3, enable), CLOCK_RATE_SET(3, 3.6864 MHz). */
function hostVote(emu: Emulator, steps: ScmiStep[], problems: string[]): void {
  const send = (messageId: number, params: Uint8Array, token: number): number => {
    const r = parseResponse(emu.scmi.dispatch(emu.scmi.host, buildRequest({ protocolId: ScmiProtocolId.CLOCK, messageId, messageType: 0, token }, params)));
    return r?.status ?? ScmiStatus.PROTOCOL_ERROR;
  };
  const s1 = send(ClockMsg.CONFIG_SET, u32s(CLOCK, 1, 0), 1);
  const s2 = send(ClockMsg.RATE_SET, u32s(0, CLOCK, HOST_RATE, 0), 2);
  const ok = s1 === ScmiStatus.SUCCESS && s2 === ScmiStatus.SUCCESS;
  steps.push({ who: 'host', what: `CLOCK_CONFIG_SET(${CLOCK}, enable); CLOCK_RATE_SET(${CLOCK}, ${mhz(HOST_RATE)})`, result: ok ? 'SUCCESS' : `status ${s1}, ${s2}` });
  if (!ok) problems.push(`SCMI: the host's votes failed (status ${s1}, ${s2})`);
}

function expectState(problems: string[], what: string, got: ClockState, want: ClockState): void {
  if (got.enabled !== want.enabled || got.rate !== want.rate) {
    problems.push(`SCMI: ${what}: ${formatClockState(got)}, expected ${formatClockState(want)}`);
  }
}
