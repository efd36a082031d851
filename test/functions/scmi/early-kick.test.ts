/**
 * Kicks that come before the device is there: a QueueNotify store before the queue is ready is
 * refused by the register window (not passed on); a VM that kicks after DRIVER_OK but before the
 * VMM added the SCMI function is answered as soon as the function is added (the function serves
 * what is available at bind), whether the kick went to the ioeventfd's eventfd (nobody waiting
 * yet) or reached the VMM as an MMIO exit.
 *
 * Reference: scmi-virtio.md §2 (DRIVER_OK), §11 (ioeventfd on QueueNotify: a kick without an
 * exit; without it, a QueueNotify exit), uapi.md §8.14 (an ioeventfd signals its eventfd, nobody
 * needs to wait), docs/decisions.md V8 (QueueNotify before DRIVER_OK is not passed on), S43
 * (the function serves what is available at bind); docs/scmi.md.
 */
import { describe, expect, it } from 'vitest';
import { guestProgram } from '../../../src/guest/index.js';
import { isEventFd } from '../../../src/host/eventfd.js';
import { MARK, stillPending } from '../../vm-mgr/support/programs.js';
import { MMIO_BASE, Proto, RING_BASE, VmmScmi, bootScmiVm, expectCleanScmiShutdown } from './support/vmm-scmi.js';

const QUEUE_NOTIFY = 0x50n;

function counter(d: VmmScmi): bigint {
  const f = d.host.openFiles().find((x) => x.fd === d.kickFd)!.file;
  if (!isEventFd(f)) throw new Error('kick fd is not an eventfd');
  return f.counter;
}

describe('kicks before the function exists (S43)', () => {
  it.each(['irq', 'poll'] as const)(
    'through the ioeventfd before ADD_FUNCTION (%s): the request waits in the ring and is answered at bind',
    async (wait) => {
      const prog = guestProgram()
        .virtioScmiProbe(MMIO_BASE, RING_BASE, { queueSize: 16 })
        .mmioWrite(MARK, 8, 1)
        .scmiCall(Proto.BASE, 0x0, [], { expectStatus: 0, expectPayload: [0x0002_0000], wait })
        .mmioWrite(MARK, 8, 2)
        .spin();
      const b = await bootScmiVm({ program: prog });
      const d = new VmmScmi(b, { agentId: 12, name: 'vm-e', deviceMask: 0n, protocolMask: 0, deferFunction: true });
      const v = b.vcpus[0]!;
      await d.runToWrite(v, MARK, 1n);
      expect(d.functionAdded).toBe(false);
      const run = d.run(v);
      // The guest kicked (the ioeventfd took it: counter 1, no exit) and waits for the reply.
      expect(await stillPending(run)).toBe(true);
      expect(counter(d)).toBe(1n);
      expect(d.notifyExits).toBe(0);
      await d.addFunction();
      expect(d.functionAdded).toBe(true);
      expect(await run).toMatchObject({ kind: 'mmio', mmio: { physAddr: MARK, data: 2n } });
      expect(d.instance()!.served).toBe(1);
      // The function never reads the kick counter (as irqfd never reads its eventfd).
      expect(counter(d)).toBe(1n);
      await expectCleanScmiShutdown(b.emu);
    },
  );

  it('as a QueueNotify exit before the ioeventfd and the function exist: the VMM forwards it, answered at bind', async () => {
    const prog = guestProgram()
      .virtioScmiProbe(MMIO_BASE, RING_BASE, { queueSize: 16 })
      .mmioWrite(MARK, 8, 1)
      .scmiCall(Proto.BASE, 0x5, [], { expectStatus: 0, expectPayload: [0x0001_0000] })
      .mmioWrite(MARK, 8, 2)
      .spin();
    const b = await bootScmiVm({ program: prog });
    const d = new VmmScmi(b, { agentId: 13, name: 'vm-x', deviceMask: 0n, protocolMask: 0, deferFunction: true, noIoeventfd: true });
    const v = b.vcpus[0]!;
    await d.runToWrite(v, MARK, 1n);
    const run = d.run(v);
    expect(await stillPending(run)).toBe(true); // in WFI
    expect(d.notifyExits).toBe(1);
    expect(counter(d)).toBe(1n);
    await d.addFunction();
    expect(await run).toMatchObject({ kind: 'mmio', mmio: { physAddr: MARK, data: 2n } });
    expect(d.instance()!).toMatchObject({ served: 1, interrupts: 1 });
    await expectCleanScmiShutdown(b.emu);
  });

  it('QueueNotify before the queues are ready is not passed on; the device then works normally', async () => {
    const prog = guestProgram()
      .mmioWrite(MMIO_BASE + QUEUE_NOTIFY, 4, 0)
      .virtioScmiProbe(MMIO_BASE, RING_BASE, { queueSize: 16 })
      .mmioWrite(MARK, 8, 1)
      .scmiCall(Proto.BASE, 0x0, [], { expectStatus: 0 })
      .mmioWrite(MARK, 8, 2)
      .spin();
    const b = await bootScmiVm({ program: prog });
    const d = new VmmScmi(b, { agentId: 14, name: 'vm-n', deviceMask: 0n, protocolMask: 0 });
    const v = b.vcpus[0]!;
    await d.runToWrite(v, MARK, 1n);
    expect(d.regs.warnings.get('notify-not-ready')).toBe(1);
    expect(d.notifyExits).toBe(0);
    await d.runToWrite(v, MARK, 2n);
    expect(d.instance()!.served).toBe(1);
    await expectCleanScmiShutdown(b.emu);
  });

  it('a driver that resets the device after DRIVER_OK: the VMM removes the function (votes released) and adds it again at the next DRIVER_OK', async () => {
    const prog = guestProgram()
      .virtioScmiProbe(MMIO_BASE, RING_BASE, { queueSize: 16 })
      .scmiCall(Proto.CLOCK, 0x7, [0, 1, 0], { expectStatus: 0 })
      .mmioWrite(MARK, 8, 1)
      .virtioScmiProbe(MMIO_BASE, RING_BASE, { queueSize: 16 })
      .mmioWrite(MARK, 8, 2)
      .scmiCall(Proto.CLOCK, 0x3, [0], { expectStatus: 0 })
      .mmioWrite(MARK, 8, 3)
      .spin();
    const b = await bootScmiVm({ program: prog });
    const d = new VmmScmi(b, { agentId: 15, name: 'vm-r', deviceMask: 1n << 3n, protocolMask: 1 << 3 });
    const v = b.vcpus[0]!;
    await d.runToWrite(v, MARK, 1n);
    expect(b.emu.scmi.platform.voters('clock', 3)).toEqual([15]);
    await d.runToWrite(v, MARK, 2n);
    expect(b.emu.scmi.platform.voters('clock', 3)).toEqual([]);
    expect(d.functionAdded).toBe(true);
    await d.runToWrite(v, MARK, 3n);
    expect(d.instance()!.served).toBe(1);
    await expectCleanScmiShutdown(b.emu);
  });
});
