// irqfd: ADD_FUNCTION irqfd rows (uapi.md §6.2) in the kernel's order, REMOVE_FUNCTION matching
// (§8.1), and the doorbell behaviour of §8.13 (LEVEL masks, rings per write, premature
// injection, unbind).
import { describe, expect, it } from 'vitest';
import { irqfdFunction } from '../../src/functions/index.js';
import { ResourceType } from '../../src/rm-rpc/wire/enums.js';
import { HypErrorCode } from '../../src/shared/hyp-errors.js';
import { GUNYAH_FN_IRQFD, GUNYAH_IRQFD_FLAGS_LEVEL, encodeFnIrqfdArg } from '../../src/vm-mgr/uapi/index.js';
import { Harness, bytes, eventfdFile, outcome, resource, writeU64 } from './support/index.js';

const WARN = 40;
const ERROR = 50;

const irqfdArg = (fd: number, label: number, flags = 0, padding = 0): Uint8Array => encodeFnIrqfdArg({ fd, label, flags, padding });

describe('ADD_FUNCTION irqfd validation (§6.2, in order)', () => {
  it('describes itself: type GUNYAH_FN_IRQFD (2), arg size 16', () => {
    expect(irqfdFunction.type).toBe(GUNYAH_FN_IRQFD);
    expect(irqfdFunction.type).toBe(2);
    expect(irqfdFunction.argSize).toBe(16);
  });

  it.each([0, 4, 15, 17, 32])('arg_size %i ≠ 16 gives EINVAL', async (size) => {
    const h = new Harness();
    expect(await outcome(h.bind(irqfdFunction, new Uint8Array(size)))).toBe('EINVAL');
  });

  it.each([0x2, 0x3, 0x8000_0000, 0xffff_ffff])('flags 0x%s beyond bit 0 give EINVAL', async (flags) => {
    const h = new Harness();
    const efd = h.proc.eventfd();
    expect(await outcome(h.bind(irqfdFunction, irqfdArg(efd, 1, flags)))).toBe('EINVAL');
    expect(h.vm.tickets.size).toBe(0);
  });

  it('reserved flags are checked before the fd', async () => {
    const h = new Harness();
    expect(await outcome(h.bind(irqfdFunction, irqfdArg(99, 1, 2)))).toBe('EINVAL');
  });

  it.each([99, 0, 0xffff_ffff])('fd %i that is not open gives EBADF', async (fd) => {
    const h = new Harness();
    expect(await outcome(h.bind(irqfdFunction, irqfdArg(fd, 1)))).toBe('EBADF');
  });

  it('a closed eventfd gives EBADF', async () => {
    const h = new Harness();
    const efd = h.proc.eventfd();
    await h.proc.close(efd);
    expect(await outcome(h.bind(irqfdFunction, irqfdArg(efd, 1)))).toBe('EBADF');
  });

  it('an fd that is not an eventfd gives EINVAL', async () => {
    const h = new Harness();
    expect(await outcome(h.bind(irqfdFunction, irqfdArg(h.vmFd, 1)))).toBe('EINVAL');
  });

  it('a second irqfd with the same label gives EEXIST, whatever its fd and flags', async () => {
    const h = new Harness();
    const a = h.proc.eventfd();
    const b = h.proc.eventfd();
    await h.bind(irqfdFunction, irqfdArg(a, 7));
    expect(await outcome(h.bind(irqfdFunction, irqfdArg(b, 7, GUNYAH_IRQFD_FLAGS_LEVEL)))).toBe('EEXIST');
    expect(eventfdFile(h, b).waiterCount).toBe(0);
    await h.bind(irqfdFunction, irqfdArg(b, 8));
  });

  it('the fd is checked before the ticket', async () => {
    const h = new Harness();
    await h.bind(irqfdFunction, irqfdArg(h.proc.eventfd(), 7));
    expect(await outcome(h.bind(irqfdFunction, irqfdArg(99, 7)))).toBe('EBADF');
  });

  it('padding is not checked', async () => {
    const h = new Harness();
    const inst = await h.bind(irqfdFunction, irqfdArg(h.proc.eventfd(), 1, 0, 0xdead_beef));
    expect(inst.result).toBe(0);
  });

  it('takes a BELL_TX ticket with the label and returns 0', async () => {
    const h = new Harness();
    const inst = await h.bind(irqfdFunction, irqfdArg(h.proc.eventfd(), 0x1234));
    expect(inst.result).toBe(0);
    expect(inst.type).toBe(GUNYAH_FN_IRQFD);
    expect([...h.vm.tickets.keys()]).toEqual([`${ResourceType.BELL_TX}:${0x1234}`]);
  });

  it('an eventfd already readable at bind: still 0, a warning, and no doorbell ring', async () => {
    const h = new Harness();
    const efd = h.proc.eventfd(3);
    h.vm.unowned.push(resource(ResourceType.BELL_TX, 1, 0x50n));
    const inst = await h.bind(irqfdFunction, irqfdArg(efd, 1));
    expect(inst.result).toBe(0);
    expect(h.vm.logged(WARN, 'already readable')).toHaveLength(1);
    expect(h.hyp.doorbellSends).toHaveLength(0);
  });
});

describe('doorbell behaviour (§8.13)', () => {
  it('before the resource: writes are dropped with a rate-limited "premature injection" message', async () => {
    const h = new Harness();
    const efd = h.proc.eventfd();
    await h.bind(irqfdFunction, irqfdArg(efd, 1));
    for (let i = 0; i < 25; i++) writeU64(h, efd);
    expect(h.hyp.doorbellSends).toHaveLength(0);
    const logged = h.vm.logged(ERROR, 'premature injection');
    expect(logged.length).toBe(10); // the burst; the rest are suppressed
  });

  it('each write rings the doorbell with flag 1; the counter is never read', async () => {
    const h = new Harness();
    const efd = h.proc.eventfd();
    await h.bind(irqfdFunction, irqfdArg(efd, 3));
    expect(h.vm.offer(resource(ResourceType.BELL_TX, 3, 0x99n))).toBe(true);
    writeU64(h, efd, 1n);
    writeU64(h, efd, 5n);
    writeU64(h, efd, 0n); // Linux wakes the wait queue for every write
    expect(h.hyp.doorbellSends).toEqual([
      { capid: 0x99n, flags: 1n },
      { capid: 0x99n, flags: 1n },
      { capid: 0x99n, flags: 1n },
    ]);
    expect(eventfdFile(h, efd).counter).toBe(6n);
  });

  it('an edge irqfd leaves the doorbell masks alone', async () => {
    const h = new Harness();
    await h.bind(irqfdFunction, irqfdArg(h.proc.eventfd(), 3));
    h.vm.offer(resource(ResourceType.BELL_TX, 3, 0x99n));
    expect(h.hyp.doorbellMasks).toHaveLength(0);
  });

  it('LEVEL: when the resource arrives, masks are set to enable 1, ack 1', async () => {
    const h = new Harness();
    await h.bind(irqfdFunction, irqfdArg(h.proc.eventfd(), 3, GUNYAH_IRQFD_FLAGS_LEVEL));
    expect(h.hyp.doorbellMasks).toHaveLength(0);
    h.vm.offer(resource(ResourceType.BELL_TX, 3, 0x99n));
    expect(h.hyp.doorbellMasks).toEqual([{ capid: 0x99n, enable: 1n, ack: 1n }]);
  });

  it('LEVEL with the resource already known: masked at bind', async () => {
    const h = new Harness();
    h.vm.unowned.push(resource(ResourceType.BELL_TX, 3, 0x99n));
    await h.bind(irqfdFunction, irqfdArg(h.proc.eventfd(), 3, GUNYAH_IRQFD_FLAGS_LEVEL));
    expect(h.hyp.doorbellMasks).toEqual([{ capid: 0x99n, enable: 1n, ack: 1n }]);
  });

  it('LEVEL: a mask failure only warns; the doorbell still rings', async () => {
    const h = new Harness();
    h.hyp.doorbellMaskError = HypErrorCode.ERROR_CSPACE_INSUFFICIENT_RIGHTS;
    const efd = h.proc.eventfd();
    await h.bind(irqfdFunction, irqfdArg(efd, 3, GUNYAH_IRQFD_FLAGS_LEVEL));
    expect(h.vm.offer(resource(ResourceType.BELL_TX, 3, 0x99n))).toBe(true);
    expect(h.vm.logged(WARN, 'level triggered')).toHaveLength(1);
    writeU64(h, efd);
    expect(h.hyp.doorbellSends).toHaveLength(1);
  });

  it('a second resource with the same label is refused', async () => {
    const h = new Harness();
    const efd = h.proc.eventfd();
    await h.bind(irqfdFunction, irqfdArg(efd, 3));
    expect(h.vm.offer(resource(ResourceType.BELL_TX, 3, 0x99n))).toBe(true);
    expect(h.vm.offer(resource(ResourceType.BELL_TX, 3, 0x9an))).toBe(false);
    writeU64(h, efd);
    expect(h.hyp.doorbellSends).toEqual([{ capid: 0x99n, flags: 1n }]);
  });

  it('a failing doorbell_send is logged (rate-limited) and the write still succeeds', async () => {
    const h = new Harness();
    h.hyp.doorbellSendError = HypErrorCode.ERROR_CSPACE_CAP_REVOKED;
    const efd = h.proc.eventfd();
    await h.bind(irqfdFunction, irqfdArg(efd, 3));
    h.vm.offer(resource(ResourceType.BELL_TX, 3, 0x99n));
    writeU64(h, efd);
    expect(h.vm.logged(ERROR, 'failed to inject interrupt')).toHaveLength(1);
  });
});

describe('REMOVE_FUNCTION irqfd (§8.1) and unbind (§8.13)', () => {
  it('matches by label only, with exactly 16 bytes', async () => {
    const h = new Harness();
    const efd = h.proc.eventfd();
    const inst = await h.bind(irqfdFunction, irqfdArg(efd, 3, GUNYAH_IRQFD_FLAGS_LEVEL));
    expect(inst.matches(irqfdArg(77, 3, 0))).toBe(true);
    expect(inst.matches(irqfdArg(efd, 4, GUNYAH_IRQFD_FLAGS_LEVEL))).toBe(false);
    expect(inst.matches(bytes('00000000 03000000 00000000'))).toBe(false);
    expect(inst.matches(new Uint8Array(32))).toBe(false);
  });

  it('unbind removes the wait-queue entry and the ticket; the doorbell goes back to the unowned list', async () => {
    const h = new Harness();
    const efd = h.proc.eventfd();
    const inst = await h.bind(irqfdFunction, irqfdArg(efd, 3));
    h.vm.offer(resource(ResourceType.BELL_TX, 3, 0x99n));
    expect(eventfdFile(h, efd).waiterCount).toBe(1);
    await inst.unbind();
    await inst.unbind(); // idempotent
    expect(eventfdFile(h, efd).waiterCount).toBe(0);
    expect(h.vm.tickets.size).toBe(0);
    expect(h.vm.unowned.map((r) => r.capId)).toEqual([0x99n]);
    writeU64(h, efd);
    expect(h.hyp.doorbellSends).toHaveLength(0);
    // The label can be bound again, and takes the doorbell at once.
    await h.bind(irqfdFunction, irqfdArg(efd, 3));
    writeU64(h, efd);
    expect(h.hyp.doorbellSends).toEqual([{ capid: 0x99n, flags: 1n }]);
  });
});
