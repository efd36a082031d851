/**
 * The SCMI function end to end through /dev/gunyah with a real guest: the guest's virtio-scmi
 * driver probes the VMM's virtio-mmio window (MMIO exits), the VMM adds the ioeventfd, the irqfd
 * and GUNYAH_FN_SCMI at DRIVER_OK, and the guest runs the Base discovery sequence Linux runs at
 * probe, waiting by interrupt (doorbell vIRQ, InterruptStatus/ACK exits) or by polling.
 *
 * Reference: scmi-virtio.md §1–§5 (transport), §9.2 (Base messages), §11 (Gunyah mapping), §12
 * (the VM is an agent that learns only of the platform and itself); docs/scmi.md (sequence);
 * docs/decisions.md S7 (DISCOVER_AGENT), S10 (LIST_PROTOCOLS packing). Payload words are typed
 * by hand from those rules and the default platform (vendor "gunyah-emu", version 0x10000).
 */
import { describe, expect, it } from 'vitest';
import { guestProgram } from '../../../src/guest/index.js';
import { GUNYAH_FN_SCMI } from '../../../src/vm-mgr/uapi/index.js';
import { MARK, guestVmid } from '../../vm-mgr/support/programs.js';
import { MMIO_BASE, Proto, RING_BASE, VmmScmi, bootScmiVm, expectCleanScmiShutdown, protoBit } from './support/vmm-scmi.js';

const VERSION_1 = 0x1_0000_0000;
const CLOCK_AND_VOLTAGE = protoBit(Proto.CLOCK) | protoBit(Proto.VOLTAGE);

describe('Base discovery from a guest (scmi-virtio.md §9.2)', () => {
  it.each(['irq', 'poll'] as const)('wait by %s: version, attributes, vendor, implementation, protocols, own agent', async (wait) => {
    const o = { expectStatus: 0, wait };
    const prog = guestProgram()
      .virtioScmiProbe(MMIO_BASE, RING_BASE, { queueSize: 16 })
      .expect(VERSION_1)
      .mmioWrite(MARK, 8, 1)
      .scmiCall(Proto.BASE, 0x0, [], { ...o, expectPayload: [0x0002_0000] })
      // 2 protocols (bits 7:0), 1 agent known (bits 15:8: itself; the platform is not counted).
      .scmiCall(Proto.BASE, 0x1, [], { ...o, expectPayload: [0x0000_0102] })
      // "gunyah-emu" NUL-padded: "guny" "ah-e" "mu\0\0" 0.
      .scmiCall(Proto.BASE, 0x3, [], { ...o, expectPayload: [0x796e_7567, 0x652d_6861, 0x0000_756d, 0] })
      .scmiCall(Proto.BASE, 0x5, [], { ...o, expectPayload: [0x0001_0000] })
      // Two protocols after skip 0, packed 0x14 then 0x17 from the lowest byte.
      .scmiCall(Proto.BASE, 0x6, [0], { ...o, expectPayload: [2, 0x0000_1714] })
      // DISCOVER_AGENT(0xFFFFFFFF): agent 7, "vm-a".
      .scmiCall(Proto.BASE, 0x7, [0xffff_ffff], { ...o, expectPayload: [7, 0x612d_6d76, 0, 0, 0] })
      // DISCOVER_AGENT(0): the platform.
      .scmiCall(Proto.BASE, 0x7, [0], { ...o, expectPayload: [0, 0x7461_6c70, 0x6d72_6f66, 0, 0] })
      // Another agent (the host, 1) is unknown to a VM: NOT_FOUND.
      .scmiCall(Proto.BASE, 0x7, [1], { wait, expectStatus: -4 })
      .mmioWrite(MARK, 8, 2)
      .spin();
    const b = await bootScmiVm({ program: prog });
    const d = new VmmScmi(b, { agentId: 7, name: 'vm-a', deviceMask: 1n << 2n, protocolMask: CLOCK_AND_VOLTAGE });
    const v = b.vcpus[0]!;
    await d.runToWrite(v, MARK, 1n);
    expect(d.functionAdded).toBe(true);
    expect(d.queue).toMatchObject({ index: 0, size: 16, descAddr: RING_BASE, availAddr: RING_BASE + 0x100n, usedAddr: RING_BASE + 0x128n });
    expect(b.emu.scmi.agent(7)).toMatchObject({ agentId: 7, name: 'vm-a', vmid: await guestVmid(b.emu), trusted: false });
    await d.runToWrite(v, MARK, 2n);
    const inst = d.instance()!;
    expect({ type: inst.type, state: inst.state, served: inst.served, dropped: inst.dropped, broken: inst.broken }).toEqual({
      type: GUNYAH_FN_SCMI,
      state: 'live',
      served: 8,
      dropped: 0,
      broken: undefined,
    });
    // irq: one interrupt per reply (avail.flags 0); poll: NO_INTERRUPT suppresses every one.
    expect(inst.interrupts).toBe(wait === 'irq' ? 8 : 0);
    // Every kick went through the ioeventfd: no QueueNotify exit; nothing the window refused.
    expect(d.notifyExits).toBe(0);
    expect(d.regs.warningCount).toBe(0);
    await expectCleanScmiShutdown(b.emu);
  });
});
