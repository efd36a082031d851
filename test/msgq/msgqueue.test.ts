// Tests of the in-memory message queue and endpoint pair against hypervisor.md §4
// (4.1 limits and defaults, 4.2 send, 4.3 receive, 4.4 flush / configure_send / configure_receive).
import { describe, test, expect } from 'vitest';
import { test as fcTest, fc } from '@fast-check/vitest';
import { MsgQueue, RM_MSGQ_CONFIG, checkMsgQueueConfig, type MsgQueueConfig } from '../../src/msgq/msgqueue.js';
import { createMsgqPair } from '../../src/msgq/endpoint.js';
import { HypError, isHypError, type HypErrorName } from '../../src/shared/hyp-errors.js';

/** Record every edge a queue raises, in order. */
function edges(q: { events: MsgQueue['events'] }): string[] {
  const log: string[] = [];
  q.events.on('rx', () => log.push('rx'));
  q.events.on('tx', () => log.push('tx'));
  return log;
}

/** The HypError code `f` throws (the test fails if it throws anything else or returns). */
function hypCode(f: () => unknown): HypErrorName {
  try {
    f();
  } catch (e) {
    if (isHypError(e)) return e.code;
    throw e;
  }
  throw new Error('expected a HypError, call returned');
}

const msg = (n: number, fill = n & 0xff): Uint8Array => new Uint8Array(n).fill(fill);

describe('§4.1 configuration limits', () => {
  test.each<[number, number]>([
    [1, 1],
    [255, 1023],
    [8, 240],
  ])('depth %i, size %i is accepted', (depth, maxMsgSize) => {
    expect(() => checkMsgQueueConfig({ depth, maxMsgSize })).not.toThrow();
    const q = new MsgQueue({ depth, maxMsgSize });
    expect(q.depth).toBe(depth);
    expect(q.maxMsgSize).toBe(maxMsgSize);
  });

  test.each<[number, number]>([
    [0, 240], // depth must be > 0
    [256, 240], // depth must be < 256
    [8, 0], // size must be > 0
    [8, 1024], // size must be < 1024
    [-1, 240],
    [8.5, 240],
    [8, 240.5],
  ])('depth %d, size %d is ERROR_ARGUMENT_INVALID', (depth, maxMsgSize) => {
    expect(hypCode(() => checkMsgQueueConfig({ depth, maxMsgSize }))).toBe('ERROR_ARGUMENT_INVALID');
    expect(hypCode(() => new MsgQueue({ depth, maxMsgSize }))).toBe('ERROR_ARGUMENT_INVALID');
  });

  test('the RM link is depth 8, 240-byte messages', () => {
    expect(RM_MSGQ_CONFIG).toMatchObject({ depth: 8, maxMsgSize: 240 });
  });

  test('thresholds after activation: not-full = depth − 1, not-empty = 1', () => {
    const q = new MsgQueue({ depth: 5, maxMsgSize: 16 });
    expect(q.notFullThreshold).toBe(4);
    expect(q.notEmptyThreshold).toBe(1);
    expect(q.count).toBe(0);
  });
});

describe('§4.2 send', () => {
  test('fills to depth, ready false on the last, then ERROR_MSGQUEUE_FULL with nothing queued', () => {
    const q = new MsgQueue(RM_MSGQ_CONFIG);
    for (let i = 1; i <= 7; i++) expect(q.send(msg(4, i))).toEqual({ ready: true });
    expect(q.send(msg(4, 8))).toEqual({ ready: false });
    expect(q.count).toBe(8);
    const e = (() => {
      try {
        q.send(msg(4, 9));
      } catch (err) {
        return err;
      }
      return undefined;
    })();
    expect(e).toBeInstanceOf(HypError);
    expect(e).toMatchObject({ code: 'ERROR_MSGQUEUE_FULL', value: 61 });
    expect(q.count).toBe(8);
    // FIFO order and the 9th never got in
    for (let i = 1; i <= 8; i++) expect(q.receive().bytes[0]).toBe(i);
    expect(hypCode(() => q.receive())).toBe('ERROR_MSGQUEUE_EMPTY');
  });

  test('message boundaries and lengths are kept (datagram semantics)', () => {
    const q = new MsgQueue(RM_MSGQ_CONFIG);
    q.send(msg(1));
    q.send(msg(240));
    q.send(msg(17));
    expect(q.receive().bytes.byteLength).toBe(1);
    expect(q.receive().bytes.byteLength).toBe(240);
    expect(q.receive().bytes.byteLength).toBe(17);
  });

  test('the message is copied in at send time', () => {
    const q = new MsgQueue(RM_MSGQ_CONFIG);
    const b = Uint8Array.of(1, 2, 3);
    q.send(b);
    b[0] = 99;
    expect([...q.receive().bytes]).toEqual([1, 2, 3]);
  });

  test('RX edge on the empty → 1 transition only (not-empty threshold 1)', () => {
    const q = new MsgQueue(RM_MSGQ_CONFIG);
    const log = edges(q);
    q.send(msg(1));
    expect(log).toEqual(['rx']);
    q.send(msg(1));
    q.send(msg(1));
    expect(log).toEqual(['rx']);
  });

  test('PUSH raises RX on every send, whatever the count', () => {
    const q = new MsgQueue(RM_MSGQ_CONFIG);
    const log = edges(q);
    q.send(msg(1)); // 0 → 1: edge
    q.send(msg(1), true); // push
    q.send(msg(1), false);
    q.send(msg(1), true); // push
    expect(log).toEqual(['rx', 'rx', 'rx']);
  });

  test('the RX edge is raised inside the call, before it returns', () => {
    const q = new MsgQueue(RM_MSGQ_CONFIG);
    let countSeen = -1;
    q.events.on('rx', () => (countSeen = q.count));
    q.send(msg(1));
    expect(countSeen).toBe(1);
  });

  test('documented bad size: 0 bytes and > max are ERROR_ARGUMENT_SIZE, nothing queued, no edge', () => {
    const q = new MsgQueue({ depth: 4, maxMsgSize: 16 });
    const log = edges(q);
    expect(hypCode(() => q.send(new Uint8Array(0)))).toBe('ERROR_ARGUMENT_SIZE');
    expect(hypCode(() => q.send(msg(17), true))).toBe('ERROR_ARGUMENT_SIZE');
    expect(q.count).toBe(0);
    expect(log).toEqual([]);
    expect(q.send(msg(16))).toEqual({ ready: true }); // exactly max is fine
  });

  test("12/2023 code bad size: OK, ready = true, nothing queued, no edge", () => {
    const q = new MsgQueue({ depth: 2, maxMsgSize: 16, badSize: 'code-12-2023' });
    const log = edges(q);
    expect(q.send(new Uint8Array(0))).toEqual({ ready: true });
    expect(q.send(msg(17), true)).toEqual({ ready: true });
    expect(q.count).toBe(0);
    expect(log).toEqual([]);
  });

  test('FULL is reported before a bad size in both modes', () => {
    for (const badSize of ['documented', 'code-12-2023'] as const) {
      const q = new MsgQueue({ depth: 1, maxMsgSize: 16, badSize });
      q.send(msg(1));
      expect(hypCode(() => q.send(msg(17)))).toBe('ERROR_MSGQUEUE_FULL');
    }
  });
});

describe('§4.3 receive', () => {
  test('empty queue: ERROR_MSGQUEUE_EMPTY', () => {
    const q = new MsgQueue(RM_MSGQ_CONFIG);
    expect(hypCode(() => q.receive())).toBe('ERROR_MSGQUEUE_EMPTY');
  });

  test('ready is true while more messages remain', () => {
    const q = new MsgQueue(RM_MSGQ_CONFIG);
    q.send(msg(1, 1));
    q.send(msg(1, 2));
    expect(q.receive()).toEqual({ bytes: Uint8Array.of(1), ready: true });
    expect(q.receive()).toEqual({ bytes: Uint8Array.of(2), ready: false });
  });

  test('TX edge only when the count drops to the not-full threshold (full → not-full)', () => {
    const q = new MsgQueue(RM_MSGQ_CONFIG);
    const log = edges(q);
    for (let i = 0; i < 8; i++) q.send(msg(1));
    log.length = 0;
    q.receive(); // 8 → 7 = depth − 1: edge
    expect(log).toEqual(['tx']);
    for (let i = 0; i < 7; i++) q.receive(); // 7 → 0: no more edges
    expect(log).toEqual(['tx']);
  });

  test('no TX edge when the queue never was full', () => {
    const q = new MsgQueue(RM_MSGQ_CONFIG);
    for (let i = 0; i < 3; i++) q.send(msg(1));
    const log = edges(q);
    while (q.count > 0) q.receive();
    expect(log).toEqual([]);
  });

  test('documented small buffer: ERROR_ADDR_OVERFLOW, message stays at the head', () => {
    const q = new MsgQueue(RM_MSGQ_CONFIG);
    q.send(msg(100, 7));
    expect(hypCode(() => q.receive(99))).toBe('ERROR_ADDR_OVERFLOW');
    expect(q.count).toBe(1);
    expect(q.receive(100)).toEqual({ bytes: msg(100, 7), ready: false }); // exactly fits
  });

  test('12/2023 code small buffer: OK, size 0, ready true, nothing dequeued, no edge', () => {
    const q = new MsgQueue({ ...RM_MSGQ_CONFIG, badSize: 'code-12-2023' });
    for (let i = 0; i < 8; i++) q.send(msg(100));
    const log = edges(q);
    expect(q.receive(10)).toEqual({ bytes: new Uint8Array(0), ready: true });
    expect(q.count).toBe(8);
    expect(log).toEqual([]);
  });

  test('default buffer size is max_msg_size', () => {
    const q = new MsgQueue({ depth: 2, maxMsgSize: 16 });
    q.send(msg(16));
    expect(q.receive().bytes.byteLength).toBe(16);
  });

  test('a ring wrapped many times keeps FIFO order', () => {
    const q = new MsgQueue({ depth: 3, maxMsgSize: 4 });
    let next = 0;
    let expected = 0;
    for (let round = 0; round < 50; round++) {
      while (q.count < 3) q.send(Uint8Array.of(next++ & 0xff));
      const take = (round % 3) + 1;
      for (let i = 0; i < take; i++) expect(q.receive().bytes[0]).toBe(expected++ & 0xff);
    }
  });
});

describe('§4.4 flush', () => {
  test('empties the queue and asserts TX, even when it was empty', () => {
    const q = new MsgQueue(RM_MSGQ_CONFIG);
    q.send(msg(1));
    q.send(msg(1));
    const log = edges(q);
    q.flush();
    expect(q.count).toBe(0);
    expect(log).toEqual(['tx']);
    expect(hypCode(() => q.receive())).toBe('ERROR_MSGQUEUE_EMPTY');
    q.flush();
    expect(log).toEqual(['tx', 'tx']);
  });

  test('after a flush the queue works from a clean ring', () => {
    const q = new MsgQueue({ depth: 2, maxMsgSize: 4 });
    q.send(Uint8Array.of(1));
    q.send(Uint8Array.of(2));
    q.receive();
    q.flush();
    const log = edges(q);
    q.send(Uint8Array.of(3));
    expect(log).toEqual(['rx']); // the empty → 1 edge again
    expect(q.receive()).toEqual({ bytes: Uint8Array.of(3), ready: false });
  });
});

describe('§4.4 configure_send (not-full threshold)', () => {
  test('−1 leaves the threshold and raises nothing', () => {
    const q = new MsgQueue(RM_MSGQ_CONFIG);
    const log = edges(q);
    q.configureSend(-1);
    expect(q.notFullThreshold).toBe(7);
    expect(log).toEqual([]);
  });

  test('must be < depth (and ≥ 0)', () => {
    const q = new MsgQueue(RM_MSGQ_CONFIG);
    expect(hypCode(() => q.configureSend(8))).toBe('ERROR_ARGUMENT_INVALID');
    expect(hypCode(() => q.configureSend(-3))).toBe('ERROR_ARGUMENT_INVALID');
    expect(hypCode(() => q.configureSend(2.5))).toBe('ERROR_ARGUMENT_INVALID');
    expect(q.notFullThreshold).toBe(7);
    q.configureSend(0);
    expect(q.notFullThreshold).toBe(0);
  });

  test('a delay other than −1 is ERROR_UNIMPLEMENTED', () => {
    const q = new MsgQueue(RM_MSGQ_CONFIG);
    expect(hypCode(() => q.configureSend(3, 0))).toBe('ERROR_UNIMPLEMENTED');
    expect(q.notFullThreshold).toBe(7);
  });

  test('a threshold already met asserts TX at once; one not met does not', () => {
    const q = new MsgQueue(RM_MSGQ_CONFIG);
    for (let i = 0; i < 4; i++) q.send(msg(1));
    const log = edges(q);
    q.configureSend(3); // count 4 > 3: not met
    expect(log).toEqual([]);
    q.configureSend(4); // count 4 ≤ 4: met
    expect(log).toEqual(['tx']);
  });

  test('the TX edge then comes when the count drops to the new threshold', () => {
    const q = new MsgQueue(RM_MSGQ_CONFIG);
    for (let i = 0; i < 8; i++) q.send(msg(1));
    q.configureSend(2);
    const log = edges(q);
    for (let i = 0; i < 5; i++) q.receive(); // 8 → 3
    expect(log).toEqual([]);
    q.receive(); // 3 → 2
    expect(log).toEqual(['tx']);
    q.receive(); // 2 → 1
    expect(log).toEqual(['tx']);
  });
});

describe('§4.4 configure_receive (not-empty threshold)', () => {
  test('−1 leaves it; −2 means depth', () => {
    const q = new MsgQueue(RM_MSGQ_CONFIG);
    q.configureReceive(-1);
    expect(q.notEmptyThreshold).toBe(1);
    q.configureReceive(-2);
    expect(q.notEmptyThreshold).toBe(8);
  });

  test('must be 1..depth', () => {
    const q = new MsgQueue(RM_MSGQ_CONFIG);
    expect(hypCode(() => q.configureReceive(0))).toBe('ERROR_ARGUMENT_INVALID');
    expect(hypCode(() => q.configureReceive(9))).toBe('ERROR_ARGUMENT_INVALID');
    expect(hypCode(() => q.configureReceive(-3))).toBe('ERROR_ARGUMENT_INVALID');
    expect(q.notEmptyThreshold).toBe(1);
    q.configureReceive(8);
    expect(q.notEmptyThreshold).toBe(8);
  });

  test('a delay other than −1 is ERROR_UNIMPLEMENTED', () => {
    const q = new MsgQueue(RM_MSGQ_CONFIG);
    expect(hypCode(() => q.configureReceive(2, 5))).toBe('ERROR_UNIMPLEMENTED');
  });

  test('RX edge when the count reaches the new threshold only', () => {
    const q = new MsgQueue(RM_MSGQ_CONFIG);
    q.configureReceive(3);
    const log = edges(q);
    q.send(msg(1));
    q.send(msg(1));
    expect(log).toEqual([]);
    q.send(msg(1)); // count 3 = threshold
    expect(log).toEqual(['rx']);
    q.send(msg(1)); // 4: past it
    expect(log).toEqual(['rx']);
    q.send(msg(1), true); // PUSH still raises it
    expect(log).toEqual(['rx', 'rx']);
  });

  test('a threshold already met asserts RX at once; one not met does not', () => {
    const q = new MsgQueue(RM_MSGQ_CONFIG);
    q.send(msg(1));
    q.send(msg(1));
    const log = edges(q);
    q.configureReceive(3); // count 2 < 3
    expect(log).toEqual([]);
    q.configureReceive(2); // count 2 ≥ 2
    expect(log).toEqual(['rx']);
  });
});

describe('endpoint pair (§4.1: full duplex = two queues)', () => {
  test('A.send lands in B.receive and raises B rx; draining a full queue raises A tx', () => {
    const [a, b] = createMsgqPair();
    const ea: string[] = [];
    const eb: string[] = [];
    a.events.on('rx', () => ea.push('rx'));
    a.events.on('tx', () => ea.push('tx'));
    b.events.on('rx', () => eb.push('rx'));
    b.events.on('tx', () => eb.push('tx'));
    expect(a.txReady).toBe(true);
    expect(b.rxPending).toBe(false);
    a.send(Uint8Array.of(1));
    expect(eb).toEqual(['rx']);
    expect(b.rxPending).toBe(true);
    for (let i = 2; i <= 8; i++) a.send(Uint8Array.of(i));
    expect(a.txReady).toBe(false);
    expect(hypCode(() => a.send(Uint8Array.of(9)))).toBe('ERROR_MSGQUEUE_FULL');
    expect(b.receive()).toEqual({ bytes: Uint8Array.of(1), ready: true });
    expect(ea).toEqual(['tx']);
    expect(a.txReady).toBe(true);
    expect(eb).toEqual(['rx']); // nothing raised on B for A's queue draining
  });

  test('the two directions are independent', () => {
    const [a, b] = createMsgqPair({ depth: 2, maxMsgSize: 8 });
    a.send(Uint8Array.of(1));
    b.send(Uint8Array.of(2));
    expect(a.receive().bytes).toEqual(Uint8Array.of(2));
    expect(b.receive().bytes).toEqual(Uint8Array.of(1));
    expect(a.maxMsgSize).toBe(8);
  });
});

describe('model check', () => {
  // A reference model in a few lines: a list, thresholds, and the §4.2–§4.4 edge rules.
  type Op = { op: 'send'; len: number; push: boolean } | { op: 'recv'; buf: number } | { op: 'flush' };
  const cfg: MsgQueueConfig = { depth: 4, maxMsgSize: 8 };
  const opArb: fc.Arbitrary<Op> = fc.oneof(
    fc.record({ op: fc.constant('send' as const), len: fc.integer({ min: 0, max: 10 }), push: fc.boolean() }),
    fc.record({ op: fc.constant('recv' as const), buf: fc.integer({ min: 0, max: 10 }) }),
    fc.record({ op: fc.constant('flush' as const) }),
  );

  fcTest.prop([fc.array(opArb, { maxLength: 60 })])('MsgQueue agrees with a list model', (ops) => {
    const q = new MsgQueue(cfg);
    const log = edges(q);
    const model: number[] = [];
    const mlog: string[] = [];
    let tag = 0;
    for (const o of ops) {
      let got: unknown;
      let want: unknown;
      try {
        got = o.op === 'send' ? q.send(msg(o.len, ++tag & 0xff), o.push) : o.op === 'recv' ? q.receive(o.buf) : q.flush();
      } catch (e) {
        got = isHypError(e) ? e.code : e;
      }
      if (o.op === 'send') {
        if (model.length === cfg.depth) want = 'ERROR_MSGQUEUE_FULL';
        else if (o.len === 0 || o.len > cfg.maxMsgSize) want = 'ERROR_ARGUMENT_SIZE';
        else {
          model.push(o.len);
          if (o.push || model.length === 1) mlog.push('rx');
          want = { ready: model.length < cfg.depth };
        }
      } else if (o.op === 'recv') {
        if (model.length === 0) want = 'ERROR_MSGQUEUE_EMPTY';
        else if (model[0]! > o.buf) want = 'ERROR_ADDR_OVERFLOW';
        else {
          const len = model.shift()!;
          if (model.length === cfg.depth - 1) mlog.push('tx');
          want = { bytes: expect.any(Uint8Array), ready: model.length > 0 };
          expect((got as { bytes: Uint8Array }).bytes.byteLength).toBe(len);
        }
      } else {
        model.length = 0;
        mlog.push('tx');
        want = undefined;
      }
      expect(got).toEqual(want);
      expect(q.count).toBe(model.length);
    }
    expect(log).toEqual(mlog);
  });
});
