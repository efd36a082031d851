// Doorbell semantics (hypervisor.md §5), vIRQ delivery to a guest sleeping in wfi and the host
// wakeup vIRQ (§6), and a guest ringing a doorbell the host receives.
import { describe, expect, test } from 'vitest';
import { Doorbell, type DoorbellLine } from '../../src/hyp/doorbell.js';
import type { GuestThread } from '../../src/guest/api.js';
import { VcpuRunState as S } from '../../src/hyp/host-api.js';
import { HypErrorCode as E, HypError } from '../../src/shared/hyp-errors.js';
import { GUEST, HOST, makeRig, spinner, st } from './vcpu-support.js';

const ALL = (1n << 64n) - 1n;

/** A doorbell with a recording line. */
function bell() {
  const events: string[] = [];
  const line: DoorbellLine = { assert: (edgeOnly) => void events.push(edgeOnly ? 'edge' : 'level'), clear: () => void events.push('clear') };
  const db = new Doorbell();
  db.line = line;
  return { db, events };
}

describe('doorbell state machine (§5)', () => {
  test('initial state: flags 0, enable all-ones, ack 0', () => {
    const { db } = bell();
    expect([db.flags, db.enableMask, db.ackMask]).toEqual([0n, ALL, 0n]);
  });

  // Each row: masks, then a send; expected old flags, flags after, and the line events.
  test.each([
    { name: 'enabled flag: level assert, no ack', enable: ALL, ack: 0n, pre: 0n, send: 1n, old: 0n, after: 1n, ev: ['level'] },
    { name: 'enabled flag with auto-ack: flags cleared before the assert', enable: 1n, ack: 1n, pre: 0n, send: 1n, old: 0n, after: 0n, ev: ['level'] },
    { name: 'disabled flag: edge-only assert, flag kept', enable: 2n, ack: 2n, pre: 0n, send: 1n, old: 0n, after: 1n, ev: ['edge'] },
    { name: 'OR with flags already set; old flags returned', enable: 0n, ack: 0n, pre: 4n, send: 1n, old: 4n, after: 5n, ev: ['edge'] },
    { name: 'ack applies to every set flag, not only the new one', enable: 1n, ack: 6n, pre: 6n, send: 1n, old: 6n, after: 1n, ev: ['level'] },
  ])('send: $name', ({ enable, ack, pre, send, old, after, ev }) => {
    const { db, events } = bell();
    db.mask(0n, 0n);
    db.flags = pre;
    db.mask(enable, ack);
    events.length = 0;
    expect(db.send(send)).toBe(old);
    expect(db.flags).toBe(after);
    expect(events).toEqual(ev);
  });

  test('receive clears the given flags and returns the old ones; 0 → ERROR_ARGUMENT_INVALID; no de-assert', () => {
    const { db, events } = bell();
    db.send(0b1011n);
    events.length = 0;
    expect(db.receive(0b0011n)).toBe(0b1011n);
    expect(db.flags).toBe(0b1000n);
    expect(() => db.receive(0n)).toThrow(HypError);
    expect(events).toEqual([]);
  });

  test.each([
    { name: 'was asserted, new mask disables every set flag → de-assert', flags: 1n, from: [1n, 0n], to: [2n, 0n], ev: ['clear'], after: 1n },
    { name: 'was not asserted, new mask enables a set flag → ack, then assert', flags: 3n, from: [4n, 0n], to: [1n, 1n], ev: ['level'], after: 2n },
    { name: 'asserted before and after → ack only', flags: 3n, from: [1n, 0n], to: [3n, 2n], ev: [], after: 1n },
    { name: 'neither → nothing', flags: 4n, from: [1n, 0n], to: [2n, 4n], ev: [], after: 4n },
  ])('mask: $name', ({ flags, from, to, ev, after }) => {
    const { db, events } = bell();
    db.mask(from[0]!, from[1]!);
    db.flags = flags;
    events.length = 0;
    db.mask(to[0]!, to[1]!);
    expect(events).toEqual(ev);
    expect(db.flags).toBe(after);
    expect([db.enableMask, db.ackMask]).toEqual(to);
  });

  test('reset: back to the initial state and de-asserted', () => {
    const { db, events } = bell();
    db.mask(1n, 1n);
    db.send(6n);
    events.length = 0;
    db.reset();
    expect([db.flags, db.enableMask, db.ackMask]).toEqual([0n, ALL, 0n]);
    expect(events).toEqual(['clear']);
  });

  test('an unbound doorbell keeps its flags and raises nothing', () => {
    const db = new Doorbell();
    expect(db.send(1n)).toBe(0n);
    expect(db.send(2n)).toBe(1n);
  });
});

describe('doorbells wake guests', () => {
  /** A guest VM whose vCPU 0 records the INTIDs its wfi returns; a doorbell bound to guest SPI 40. */
  function rigWithBell(trigger: 'level' | 'edge' = 'level') {
    const intids: bigint[] = [];
    const rig = makeRig({
      guest: function* (cpu): GuestThread {
        if (cpu.index !== 0) return yield* spinner();
        for (;;) intids.push(yield { kind: 'wfi' });
      },
    });
    const o = rig.hyp.createObject('doorbell', GUEST, { label: 0 });
    const tx = rig.hyp.grantCap(HOST, o, 0x1);
    rig.hyp.bindDoorbellVirq(o, GUEST, 40, trigger);
    return { rig, intids, o, tx };
  }

  test('wfi with nothing pending → EXPECTS_WAKEUP (WFI, from WFI); a doorbell send wakes it via the host vIRQ', () => {
    const { rig, intids, tx } = rigWithBell();
    expect(rig.run(0)).toEqual(st(S.EXPECTS_WAKEUP, 0n, 1n));
    expect(rig.run(0)).toEqual(st(S.EXPECTS_WAKEUP, 0n, 1n)); // a spurious run changes nothing
    rig.woken.length = 0;
    expect(rig.hyp.host.doorbellSend(tx, 1n)).toEqual({ error: 0, oldFlags: 0n });
    expect(rig.woken).toEqual([0]);
    expect(rig.run(0)).toEqual(st(S.EXPECTS_WAKEUP, 0n, 1n));
    expect(intids).toEqual([40n]);
  });

  test('an interrupt pending before wfi is taken at once; pending is once per INTID', () => {
    const { rig, intids, tx } = rigWithBell();
    rig.hyp.host.doorbellSend(tx, 1n);
    rig.hyp.host.doorbellSend(tx, 2n);
    expect(rig.hyp.vm(GUEST).pendingInterrupts).toEqual([40]);
    expect(rig.run(0)).toEqual(st(S.EXPECTS_WAKEUP, 0n, 1n));
    expect(intids).toEqual([40n]);
  });

  test('two vCPUs in wfi are both woken; the first to run takes the interrupt, the other sleeps again', () => {
    const got: Array<[number, bigint]> = [];
    const rig = makeRig({
      guest: function* (cpu): GuestThread {
        if (cpu.index === 0) yield { kind: 'hvc', fn: 0xc400_0003, args: [1n, 0n, 0n] };
        for (;;) got.push([cpu.index, yield { kind: 'wfi' }]);
      },
    });
    const o = rig.hyp.createObject('doorbell', GUEST, {});
    const tx = rig.hyp.grantCap(HOST, o, 0x1);
    rig.hyp.bindDoorbellVirq(o, GUEST, 41);
    rig.run(0);
    rig.run(1);
    rig.woken.length = 0;
    rig.hyp.host.doorbellSend(tx, 1n);
    expect(rig.woken).toEqual([0, 1]);
    expect(rig.run(1)).toEqual(st(S.EXPECTS_WAKEUP, 0n, 1n));
    expect(rig.run(0)).toEqual(st(S.EXPECTS_WAKEUP, 0n, 1n));
    expect(got).toEqual([[1, 41n]]);
  });

  test('a level-bound vIRQ ignores edge-only assertions; an edge-bound one takes them', () => {
    for (const trigger of ['level', 'edge'] as const) {
      const { rig, o } = rigWithBell(trigger);
      rig.hyp.doorbell(o).mask(2n, 0n);
      rig.hyp.doorbell(o).send(1n);
      expect(rig.hyp.vm(GUEST).pendingInterrupts).toEqual(trigger === 'edge' ? [40] : []);
    }
  });

  test('masking every set flag withdraws an undelivered interrupt', () => {
    const { rig, o } = rigWithBell();
    rig.hyp.doorbell(o).send(1n);
    expect(rig.hyp.vm(GUEST).pendingInterrupts).toEqual([40]);
    rig.hyp.doorbell(o).mask(2n, 0n);
    expect(rig.hyp.vm(GUEST).pendingInterrupts).toEqual([]);
  });

  test('a guest rings a doorbell the host receives (hvc doorbell_send with its own capid)', () => {
    const calls: number[] = [];
    const log: bigint[] = [];
    let guestCap = 0n;
    const rig = makeRig({
      guest: function* () {
        log.push(yield { kind: 'hvc', fn: 0xc600_8012, args: [guestCap, 1n] });
        log.push(yield { kind: 'hvc', fn: 0xc600_8012, args: [0xdeadn, 1n] });
        yield* spinner();
      },
    });
    const o = rig.hyp.createObject('doorbell', GUEST, { label: 2 });
    guestCap = rig.hyp.grantCap(GUEST, o, 0x1);
    const hostVirq = rig.hyp.allocVirq(HOST);
    rig.hyp.bindDoorbellVirq(o, HOST, hostVirq);
    rig.hyp.host.onVirq(hostVirq, () => calls.push(hostVirq));
    rig.run(0);
    expect(log).toEqual([0n, BigInt(E.ERROR_CSPACE_CAP_NULL)]);
    expect(calls).toEqual([hostVirq]);
    expect(rig.hyp.doorbell(o).flags).toBe(1n);
  });
});
