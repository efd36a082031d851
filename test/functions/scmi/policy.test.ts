/**
 * Policy through the SCMI function end to end: the argument's device, control and protocol masks
 * become the agent's policy; a guest asking for what it was not given gets NOT_FOUND (a resource
 * beyond its own IDs), DENIED (a resource it sees read-only, or a trusted-only Base message) or
 * NOT_SUPPORTED (a protocol it was not given), and the host (trusted agent) changes the policy of
 * a running VM with BASE_SET_DEVICE_PERMISSIONS, which also drops the votes the VM can no longer
 * withdraw.
 *
 * Reference: scmi-virtio.md §9.2 (Base 0x6, 0x9), §9.5 (Clock), §12.3 (per-agent filtering);
 * docs/decisions.md S7–S9 (policy, agent-local IDs recomputed after a change), S20 (check order:
 * NOT_FOUND before DENIED), docs/scmi.md ("Policy"). The default platform: device 2 (gpu) holds
 * clock 2, device 3 (uart) clock 3; the agent's clock k is the k-th of those in platform order.
 */
import { describe, expect, it } from 'vitest';
import { guestProgram } from '../../../src/guest/index.js';
import { MARK } from '../../vm-mgr/support/programs.js';
import { hostOk } from './support/host-scmi.js';
import { MMIO_BASE, Proto, RING_BASE, VmmScmi, bootScmiVm, expectCleanScmiShutdown, protoBit, vmVoters } from './support/vmm-scmi.js';

const NOT_SUPPORTED = -1;
const DENIED = -3;
const NOT_FOUND = -4;

describe('a guest asking outside its permissions (S7–S9, S20)', () => {
  it('NOT_FOUND beyond its IDs, DENIED on a read-only clock and for Base 0x9, NOT_SUPPORTED for protocols it lacks', async () => {
    const prog = guestProgram()
      .virtioScmiProbe(MMIO_BASE, RING_BASE, { queueSize: 16 })
      .mmioWrite(MARK, 8, 1)
      // Base: one protocol listed (clock 0x14).
      .scmiCall(Proto.BASE, 0x6, [0], { expectStatus: 0, expectPayload: [1, 0x14] })
      // Clock PROTOCOL_ATTRIBUTES: 2 clocks (gpu-core as 0, uart as 1).
      .scmiCall(Proto.CLOCK, 0x1, [], { expectStatus: 0, expectPayload: [2] })
      // CLOCK_ATTRIBUTES(2): there is no third clock for this agent.
      .scmiCall(Proto.CLOCK, 0x3, [2], { expectStatus: NOT_FOUND })
      // CLOCK_CONFIG_SET(0, enable): gpu-core is read-only for it.
      .scmiCall(Proto.CLOCK, 0x7, [0, 1, 0], { expectStatus: DENIED })
      // ...but it may read it: CLOCK_RATE_GET(0) = the aggregate (the host's 200 MHz).
      .scmiCall(Proto.CLOCK, 0x6, [0], { expectStatus: 0, expectPayload: [200_000_000, 0] })
      // CLOCK_CONFIG_SET(1, enable): the uart clock is its to control.
      .scmiCall(Proto.CLOCK, 0x7, [1, 1, 0], { expectStatus: 0 })
      // Voltage and Power were not given: NOT_SUPPORTED, even PROTOCOL_VERSION.
      .scmiCall(Proto.VOLTAGE, 0x0, [], { expectStatus: NOT_SUPPORTED })
      .scmiCall(Proto.POWER, 0x0, [], { expectStatus: NOT_SUPPORTED })
      // An unimplemented protocol (0x12, system power): NOT_SUPPORTED.
      .scmiCall(0x12, 0x0, [], { expectStatus: NOT_SUPPORTED })
      // BASE_SET_DEVICE_PERMISSIONS(itself, uart, give) from a VM: DENIED.
      .scmiCall(Proto.BASE, 0x9, [4, 3, 1], { expectStatus: DENIED })
      .mmioWrite(MARK, 8, 2)
      // After the host took the uart away: one clock left (gpu-core), ID 1 is gone.
      .scmiCall(Proto.CLOCK, 0x1, [], { expectStatus: 0, expectPayload: [1] })
      .scmiCall(Proto.CLOCK, 0x3, [1], { expectStatus: NOT_FOUND })
      .mmioWrite(MARK, 8, 3)
      .spin();
    const b = await bootScmiVm({ program: prog });
    const emu = b.emu;
    // Devices gpu (2, read-only) and uart (3, controlled); the clock protocol only.
    const d = new VmmScmi(b, { agentId: 4, name: 'vm-p', deviceMask: 0b1100n, controlMask: 0b1000n, protocolMask: protoBit(Proto.CLOCK) });
    const v = b.vcpus[0]!;
    await d.runToWrite(v, MARK, 1n);
    expect(emu.scmi.agent(4)?.resources('clock')).toEqual([2, 3]);
    await d.runToWrite(v, MARK, 2n);
    expect(vmVoters(emu)).toEqual(['clock 3: 4']);
    expect(emu.scmi.platform.clockAggregate(3).enabled).toBe(true);
    // The host takes device 3 away (SET_DEVICE_PERMISSIONS flags 0): the VM's vote on it goes.
    hostOk(emu, Proto.BASE, 0x9, [4, 3, 0]);
    expect(vmVoters(emu)).toEqual([]);
    expect(emu.scmi.platform.clockAggregate(3).enabled).toBe(false);
    await d.runToWrite(v, MARK, 3n);
    expect(d.instance()!.served).toBe(12);
    await expectCleanScmiShutdown(emu);
  });

  it('an agent given no device and no protocol still has Base: PROTOCOL_ATTRIBUTES 0 protocols, 1 agent', async () => {
    const prog = guestProgram()
      .virtioScmiProbe(MMIO_BASE, RING_BASE, { queueSize: 2 })
      .scmiCall(Proto.BASE, 0x1, [], { expectStatus: 0, expectPayload: [0x0000_0100] })
      .scmiCall(Proto.CLOCK, 0x1, [], { expectStatus: NOT_SUPPORTED })
      .mmioWrite(MARK, 8, 1)
      .spin();
    const b = await bootScmiVm({ program: prog });
    const d = new VmmScmi(b, { agentId: 0xffff_fffe, name: 'bare', deviceMask: 0n, protocolMask: 0 });
    await d.runToWrite(b.vcpus[0]!, MARK, 1n);
    expect(d.queue?.size).toBe(2);
    expect(b.emu.scmi.agent(0xffff_fffe)?.protocols()).toEqual([]);
    await expectCleanScmiShutdown(b.emu);
  });
});
