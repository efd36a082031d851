// End-to-end tests of the msgq socket transport (src/msgq/socket*.ts) over a Unix socket in
// os.tmpdir() and TCP on 127.0.0.1 port 0: exact queue semantics (hypervisor.md §4) through
// remote hypercalls, split delivery, bad peers, listener hygiene, and the control role.
import { describe, test, expect, afterEach, vi } from 'vitest';
import * as net from 'node:net';
import { once } from 'node:events';
import { existsSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createMsgqPair, QueueEndpoint, type MsgqEndpoint } from '../../src/msgq/endpoint.js';
import { MsgQueue, RM_MSGQ_CONFIG } from '../../src/msgq/msgqueue.js';
import {
  connectControl,
  connectMsgq,
  isMsgqSocketError,
  listenMsgq,
  parseTarget,
  formatTarget,
  type MsgqListenOptions,
  type MsgqServerHandlers,
  type MsgqSocketServer,
  type SocketMsgqEndpoint,
} from '../../src/msgq/socket.js';
import * as msgqIndex from '../../src/msgq/index.js';
import { decodeRecord, decodeWelcome, encodeHello, encodeRecord, RecordReader, welcomeSize } from '../../src/msgq/socket-wire.js';
import { concatBytes, fromHex } from '../../src/shared/bytes.js';
import { ErrnoError } from '../../src/shared/errno.js';
import { HypError, isHypError } from '../../src/shared/hyp-errors.js';

const cleanup: Array<() => Promise<unknown> | unknown> = [];
afterEach(async () => {
  for (const f of cleanup.splice(0).reverse()) await f();
});

let unixSeq = 0;
const unixPath = (): string => join(tmpdir(), `gunyah-emu-msgq-${process.pid}-${Date.now()}-${unixSeq++}.sock`);

const TRANSPORTS: Array<[string, () => MsgqListenOptions]> = [
  ['unix', () => ({ path: unixPath() })],
  ['tcp', () => ({ host: '127.0.0.1', port: 0 })],
];

async function serve(opts: MsgqListenOptions, handlers: MsgqServerHandlers): Promise<MsgqSocketServer> {
  const srv = await listenMsgq(opts, handlers);
  cleanup.push(() => srv.close());
  return srv;
}

async function connect(srv: MsgqSocketServer, vmid = 3): Promise<SocketMsgqEndpoint> {
  const ep = await connectMsgq(srv.target, vmid);
  cleanup.push(() => ep.close());
  return ep;
}

/** A link whose far end (B) is served remotely; A stays in process. */
async function servedPair(opts: MsgqListenOptions, vmid = 3) {
  const [a, b] = createMsgqPair(RM_MSGQ_CONFIG);
  const srv = await serve(opts, {
    openEndpoint: (v) => {
      if (v !== vmid) throw new Error(`no VM with VMID ${v}`);
      return b;
    },
  });
  const remote = await connect(srv, vmid);
  return { a, b, srv, remote };
}

/** The HypError code a promise rejects with. */
async function rejectsHyp(p: Promise<unknown>): Promise<string> {
  try {
    await p;
  } catch (e) {
    if (isHypError(e)) return e.code;
    throw e;
  }
  throw new Error('expected a HypError rejection');
}

/** A bare TCP/Unix client that speaks bytes, for split delivery and hostile input. */
async function rawClient(srv: MsgqSocketServer) {
  const t = parseTarget(srv.target);
  const sock = t.kind === 'unix' ? net.createConnection({ path: t.path }) : net.createConnection({ host: t.host, port: t.port });
  sock.on('error', () => {});
  let got: Uint8Array = new Uint8Array(0);
  sock.on('data', (c: Buffer) => (got = concatBytes([got, c])));
  const closed = new Promise<void>((r) => sock.once('close', () => r()));
  await once(sock, 'connect');
  sock.setNoDelay(true);
  cleanup.push(() => sock.destroy());
  return {
    sock,
    closed,
    get bytes() {
      return got;
    },
    write: (b: Uint8Array) => new Promise<void>((r) => sock.write(b, () => r())),
    async byteByByte(b: Uint8Array) {
      for (const x of b) {
        await new Promise<void>((r) => sock.write(Uint8Array.of(x), () => r()));
        await new Promise((r) => setTimeout(r, 1));
      }
    },
    async until(n: number) {
      await vi.waitFor(() => expect(got.byteLength).toBeGreaterThanOrEqual(n), { timeout: 3000 });
    },
  };
}

/** Split a server's answer into its WELCOME and the records after it. */
function parseAnswer(bytes: Uint8Array) {
  const size = welcomeSize(bytes)!;
  const welcome = decodeWelcome(bytes.subarray(0, size));
  const reader = new RecordReader(1 << 20);
  reader.push(bytes.subarray(size));
  const records = [];
  for (let r = reader.next(); r; r = reader.next()) records.push(decodeRecord(r));
  return { welcome, records, rest: reader.buffered };
}

const HELLO_EP3 = encodeHello({ version: 1, role: 'endpoint', vmid: 3 });
const nextEvent = (ep: { events: SocketMsgqEndpoint['events'] }, ev: 'rx' | 'tx') => new Promise<void>((r) => ep.events.once(ev, () => r()));

describe.each(TRANSPORTS)('msgq socket over %s', (_name, listenOpts) => {
  test('handshake announces the queue geometry; address and target agree', async () => {
    const { srv, remote } = await servedPair(listenOpts());
    expect(remote.maxMsgSize).toBe(240);
    expect(remote.depth).toBe(8);
    expect(remote.vmid).toBe(3);
    if (typeof srv.address === 'string') {
      expect(srv.target).toBe(`unix:${srv.address}`);
      expect(existsSync(srv.address)).toBe(true);
    } else {
      expect(srv.address.port).toBeGreaterThan(0);
      expect(srv.target).toBe(`tcp:127.0.0.1:${srv.address.port}`);
    }
  });

  test('send until ERROR_MSGQUEUE_FULL (depth 8) with the ready flags', async () => {
    const { a, remote } = await servedPair(listenOpts());
    for (let i = 1; i <= 7; i++) expect(await remote.send(Uint8Array.of(i))).toEqual({ ready: true });
    expect(await remote.send(Uint8Array.of(8))).toEqual({ ready: false });
    const err = await remote.send(Uint8Array.of(9)).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(HypError);
    expect(err).toMatchObject({ name: 'HypError', code: 'ERROR_MSGQUEUE_FULL', value: 61, message: 'ERROR_MSGQUEUE_FULL' });
    // In process, A sees exactly the eight, in order.
    for (let i = 1; i <= 8; i++) expect(a.receive()).toEqual({ bytes: Uint8Array.of(i), ready: i < 8 });
  });

  test('receive: EMPTY, ready flags, and data both ways', async () => {
    const { a, remote } = await servedPair(listenOpts());
    expect(await rejectsHyp(remote.receive())).toBe('ERROR_MSGQUEUE_EMPTY');
    a.send(Uint8Array.of(1, 2, 3));
    a.send(new Uint8Array(240).fill(9));
    expect(await remote.receive()).toEqual({ bytes: Uint8Array.of(1, 2, 3), ready: true });
    expect(await remote.receive()).toEqual({ bytes: new Uint8Array(240).fill(9), ready: false });
    expect(await rejectsHyp(remote.receive())).toBe('ERROR_MSGQUEUE_EMPTY');
  });

  test('PUSH raises RX at the in-process end; the empty → 1 edge and PUSH raise RX at the remote end', async () => {
    const { a, remote } = await servedPair(listenOpts());
    const aRx: number[] = [];
    a.events.on('rx', () => aRx.push(a.rx.count));
    await remote.send(Uint8Array.of(1)); // 0 → 1 edge
    await remote.send(Uint8Array.of(2)); // no edge
    await remote.send(Uint8Array.of(3), true); // PUSH
    expect(aRx).toEqual([1, 3]);

    const remoteRx: string[] = [];
    remote.events.on('rx', () => remoteRx.push('rx'));
    let rx = nextEvent(remote, 'rx');
    a.send(Uint8Array.of(10)); // 0 → 1 on B's RX queue
    await rx;
    rx = nextEvent(remote, 'rx');
    a.send(Uint8Array.of(11)); // no edge
    a.send(Uint8Array.of(12), true); // PUSH
    await rx;
    // A round trip after the sends orders every edge record before its result.
    expect(await remote.receive()).toEqual({ bytes: Uint8Array.of(10), ready: true });
    expect(remoteRx).toEqual(['rx', 'rx']);
  });

  test('TX vIRQ reaches the remote end when the in-process end drains its full queue', async () => {
    const { a, remote } = await servedPair(listenOpts());
    const tx: string[] = [];
    remote.events.on('tx', () => tx.push('tx'));
    for (let i = 0; i < 8; i++) await remote.send(Uint8Array.of(i));
    const edge = nextEvent(remote, 'tx');
    a.receive(); // 8 → 7 = not-full threshold
    await edge;
    a.receive(); // 7 → 6: no edge
    expect(await remote.send(Uint8Array.of(99))).toEqual({ ready: true });
    expect(tx).toEqual(['tx']);
  });

  test('edges raised during a call arrive before its result (as in process)', async () => {
    // One queue as both TX and RX: a send raises this very endpoint's RX edge.
    const q = new MsgQueue(RM_MSGQ_CONFIG);
    const loop = new QueueEndpoint(q, q);
    const srv = await serve(listenOpts(), { openEndpoint: () => loop });
    const remote = await connect(srv);
    const order: string[] = [];
    remote.events.on('rx', () => order.push('rx'));
    remote.events.on('tx', () => order.push('tx'));
    await remote.send(Uint8Array.of(1), true).then(() => order.push('send resolved')); // PUSH: RX edge inside
    for (let i = 0; i < 7; i++) await remote.send(Uint8Array.of(i)); // 2..8: no edges
    await remote.receive().then(() => order.push('receive resolved')); // 8 → 7: TX edge inside
    expect(order).toEqual(['rx', 'send resolved', 'tx', 'receive resolved']);
  });

  test('bad sizes give the server-side queue’s own answers', async () => {
    const { a, remote } = await servedPair(listenOpts());
    expect(await rejectsHyp(remote.send(new Uint8Array(241)))).toBe('ERROR_ARGUMENT_SIZE');
    expect(await rejectsHyp(remote.send(new Uint8Array(0)))).toBe('ERROR_ARGUMENT_SIZE');
    expect(await rejectsHyp(remote.send(new Uint8Array(5000)))).toBe('ERROR_ARGUMENT_SIZE'); // OVERSIZE path
    const e = await remote.send(new Uint8Array(241)).catch((x: unknown) => x);
    expect((e as Error).message).toBe('ERROR_ARGUMENT_SIZE: 241 bytes, max 240'); // detail carried
    a.send(new Uint8Array(100));
    expect(await rejectsHyp(remote.receive(99))).toBe('ERROR_ADDR_OVERFLOW');
    expect(await rejectsHyp(remote.receive(-5))).toBe('ERROR_ADDR_OVERFLOW');
    expect((await remote.receive(100)).bytes.byteLength).toBe(100);
    // Fill B's TX queue: FULL wins over a bad size, also for an oversize message.
    for (let i = 0; i < 8; i++) await remote.send(Uint8Array.of(i));
    expect(await rejectsHyp(remote.send(new Uint8Array(5000)))).toBe('ERROR_MSGQUEUE_FULL');
  });

  test('12/2023 bad-size mode is carried too (silent OK, nothing queued)', async () => {
    const cfg = { depth: 2, maxMsgSize: 64, badSize: 'code-12-2023' as const };
    const [a, b] = createMsgqPair(cfg);
    const srv = await serve(listenOpts(), { openEndpoint: () => b });
    const remote = await connect(srv);
    expect(await remote.send(new Uint8Array(65))).toEqual({ ready: true });
    expect(await remote.send(new Uint8Array(4000))).toEqual({ ready: true });
    expect(a.rxPending).toBe(false);
    a.send(new Uint8Array(64));
    expect(await remote.receive(10)).toEqual({ bytes: new Uint8Array(0), ready: true });
    expect(b.rxPending).toBe(true);
  });

  test('pipelined calls are answered in order', async () => {
    const { a, remote } = await servedPair(listenOpts());
    const sends = Array.from({ length: 10 }, (_, i) => remote.send(Uint8Array.of(i)).then(
      (r) => `ok ${r.ready}`,
      (e: HypError) => e.code,
    ));
    expect(await Promise.all(sends)).toEqual([...Array(7).fill('ok true'), 'ok false', 'ERROR_MSGQUEUE_FULL', 'ERROR_MSGQUEUE_FULL']);
    expect(a.rx.count).toBe(8);
  });

  test('a handshake and a record split byte by byte, then two records in one chunk', async () => {
    const { a, srv } = await servedPair(listenOpts());
    const raw = await rawClient(srv);
    await raw.byteByByte(HELLO_EP3);
    await raw.byteByByte(encodeRecord({ type: 'SEND', push: true, oversize: false, bytes: Uint8Array.of(0xde, 0xad) }));
    await raw.until(16 + 10);
    expect(a.receive()).toEqual({ bytes: Uint8Array.of(0xde, 0xad), ready: false });
    // Two records in one write: SEND + RECV.
    a.send(Uint8Array.of(7)); // B's RX queue 0 → 1: an IRQ_RX record
    await raw.until(16 + 10 + 5);
    await raw.write(concatBytes([
      encodeRecord({ type: 'SEND', push: false, oversize: false, bytes: Uint8Array.of(1) }),
      encodeRecord({ type: 'RECV', bufSize: undefined }),
    ]));
    await raw.until(16 + 10 + 5 + 10 + 11);
    const { welcome, records, rest } = parseAnswer(raw.bytes);
    expect(welcome).toEqual({ status: 'accepted', version: 1, role: 'endpoint', depth: 8, maxMsgSize: 240 });
    expect(records).toEqual([
      { type: 'SEND_RESULT', error: 0, ready: true, detail: '' },
      { type: 'IRQ_RX' },
      { type: 'SEND_RESULT', error: 0, ready: true, detail: '' },
      { type: 'RECV_RESULT', error: 0, ready: false, bytes: Uint8Array.of(7), detail: '' },
    ]);
    expect(rest).toBe(0);
  });

  test('handshake and first record in one chunk, before the (async) endpoint is open', async () => {
    const [a, b] = createMsgqPair();
    const srv = await serve(listenOpts(), { openEndpoint: async () => new Promise<MsgqEndpoint>((r) => setTimeout(() => r(b), 20)) });
    const raw = await rawClient(srv);
    await raw.write(concatBytes([HELLO_EP3, encodeRecord({ type: 'SEND', push: false, oversize: false, bytes: Uint8Array.of(5) })]));
    await raw.until(16 + 10);
    expect(parseAnswer(raw.bytes).records).toEqual([{ type: 'SEND_RESULT', error: 0, ready: true, detail: '' }]);
    expect(a.receive().bytes).toEqual(Uint8Array.of(5));
  });

  test('a garbage handshake is refused with a reason; the server keeps serving', async () => {
    const { srv } = await servedPair(listenOpts());
    const raw = await rawClient(srv);
    await raw.write(new TextEncoder().encode('GET / HTTP/1.1\r\nHost: x\r\n\r\n'));
    await raw.closed;
    const w = decodeWelcome(raw.bytes);
    expect(w).toMatchObject({ status: 'refused', reason: expect.stringMatching(/bad magic/) });
    // A wrong version and a bad role are refused too, with their own reasons.
    const v2 = await rawClient(srv);
    await v2.write(fromHex('47 4d 51 53 02 00 01 00 03 00 00 00'));
    await v2.closed;
    expect(decodeWelcome(v2.bytes)).toMatchObject({ status: 'refused', reason: expect.stringMatching(/version 2 not supported/) });
    const role = await rawClient(srv);
    await role.write(fromHex('47 4d 51 53 01 00 09 00 03 00 00 00'));
    await role.closed;
    expect(decodeWelcome(role.bytes)).toMatchObject({ status: 'refused', reason: expect.stringMatching(/role 9/) });
    // Still alive.
    const ep = await connect(srv);
    expect(await ep.send(Uint8Array.of(1))).toEqual({ ready: true });
    await vi.waitFor(() => expect(srv.connectionCount).toBe(2)); // servedPair's client + this one
  });

  test('an openEndpoint that throws gives a refusal with its text', async () => {
    const srv = await serve(listenOpts(), {
      openEndpoint: (vmid) => {
        if (vmid === 7) throw new ErrnoError('ENOENT', 'no VM 7');
        if (vmid === 8) return Promise.reject(new Error('VM 8 is being torn down'));
        throw new Error(`unknown VMID ${vmid}`);
      },
    });
    for (const [vmid, text] of [
      [7, /ENOENT: no VM 7/],
      [8, /VM 8 is being torn down/],
      [9, /unknown VMID 9/],
    ] as const) {
      const e = await connectMsgq(srv.target, vmid).catch((x: unknown) => x);
      expect(isMsgqSocketError(e, 'refused')).toBe(true);
      expect((e as Error).message).toMatch(text);
    }
    await vi.waitFor(() => expect(srv.connectionCount).toBe(0));
  });

  test('a client disconnect removes exactly its listeners from the endpoint', async () => {
    const [, b] = createMsgqPair();
    const mine = (): void => {};
    b.events.on('rx', mine);
    const srv = await serve(listenOpts(), { openEndpoint: () => b });
    const c1 = await connect(srv);
    const c2 = await connect(srv);
    await vi.waitFor(() => expect(b.events.listenerCount('rx')).toBe(3));
    expect(b.events.listenerCount('tx')).toBe(2);
    await c1.close();
    await vi.waitFor(() => expect(b.events.listenerCount('rx')).toBe(2));
    expect(b.events.listenerCount('tx')).toBe(1);
    c2.close(); // a hard drop on the client side
    await vi.waitFor(() => expect(b.events.listenerCount('rx')).toBe(1));
    expect(b.events.listenerCount('tx')).toBe(0);
    expect(b.events.listeners('rx')).toEqual([mine]);
    await vi.waitFor(() => expect(srv.connectionCount).toBe(0));
  });

  test('a client that leaves while its endpoint is being opened leaves no listeners', async () => {
    const [, b] = createMsgqPair();
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    let opened = false;
    const srv = await serve(listenOpts(), {
      openEndpoint: async () => {
        await gate;
        opened = true;
        return b;
      },
    });
    const raw = await rawClient(srv);
    await raw.write(HELLO_EP3);
    await vi.waitFor(() => expect(srv.connectionCount).toBe(1));
    raw.sock.destroy();
    await vi.waitFor(() => expect(srv.connectionCount).toBe(0));
    release();
    await vi.waitFor(() => expect(opened).toBe(true));
    await new Promise((r) => setTimeout(r, 10));
    expect(b.events.listenerCount('rx')).toBe(0);
    expect(b.events.listenerCount('tx')).toBe(0);
  });

  test('an endpoint release hook runs exactly once per connection, however it ends', async () => {
    const released: string[] = [];
    let gate: Promise<void> = Promise.resolve();
    const srv = await serve(listenOpts(), {
      openEndpoint: async (vmid) => {
        await gate;
        const [, b] = createMsgqPair();
        return Object.assign(Object.create(b) as typeof b, { release: () => void released.push(`vm${vmid}`) });
      },
    });
    const c1 = await connectMsgq(srv.target, 1);
    expect(await c1.send(Uint8Array.of(1))).toEqual({ ready: true }); // works through the prototype
    await c1.close();
    await vi.waitFor(() => expect(released).toEqual(['vm1']));
    // A protocol error ends the connection: released.
    const raw = await rawClient(srv);
    await raw.write(encodeHello({ version: 1, role: 'endpoint', vmid: 2 }));
    await raw.write(fromHex('00 00 00 00'));
    await raw.closed;
    await vi.waitFor(() => expect(released).toEqual(['vm1', 'vm2']));
    // The client leaves while the open is pending: released as soon as the open completes.
    let open!: () => void;
    gate = new Promise<void>((r) => (open = r));
    const early = await rawClient(srv);
    await early.write(encodeHello({ version: 1, role: 'endpoint', vmid: 3 }));
    await vi.waitFor(() => expect(srv.connectionCount).toBe(1));
    early.sock.destroy();
    await vi.waitFor(() => expect(srv.connectionCount).toBe(0));
    open();
    await vi.waitFor(() => expect(released).toEqual(['vm1', 'vm2', 'vm3']));
    // Server close releases what is still open.
    gate = Promise.resolve();
    await connectMsgq(srv.target, 4);
    await srv.close();
    expect(released).toEqual(['vm1', 'vm2', 'vm3', 'vm4']);
  });

  test('server close drops listeners and connections; the client sees it', async () => {
    const [, b] = createMsgqPair();
    const srv = await listenMsgq(listenOpts(), { openEndpoint: () => b });
    const ep = await connectMsgq(srv.target, 3);
    await vi.waitFor(() => expect(b.events.listenerCount('rx')).toBe(1));
    await srv.close();
    await srv.close(); // idempotent
    expect(b.events.listenerCount('rx')).toBe(0);
    expect(srv.connectionCount).toBe(0);
    await vi.waitFor(() => expect(ep.closed).toBe(true));
    const e = await ep.send(Uint8Array.of(1)).catch((x: unknown) => x);
    expect(isMsgqSocketError(e)).toBe(true);
    expect((e as Error).message).toMatch(/server shutting down|closed/);
    if (typeof srv.address === 'string') expect(existsSync(srv.address)).toBe(false);
    await ep.close();
  });

  test('oversized and malformed records close the connection with a reason; the server survives', async () => {
    const { srv } = await servedPair(listenOpts());
    const cases: Array<[string, Uint8Array, RegExp]> = [
      // len 1 + 1 + 1024: a SEND payload over 1023 bytes
      ['SEND of 1024 bytes', concatBytes([fromHex('02 04 00 00 01 00'), new Uint8Array(1024)]), /SEND body of 1025 bytes/],
      ['huge length', fromHex('ff ff ff 7f 01'), /too-big/],
      ['zero length', fromHex('00 00 00 00'), /length 0/],
      ['unknown type', fromHex('01 00 00 00 42'), /unknown record type 0x42/],
      ['server-to-client record', encodeRecord({ type: 'IRQ_RX' }), /IRQ_RX record sent by a client/],
      ['control on an endpoint link', encodeRecord({ type: 'CONTROL_REQ', json: '{}' }), /CONTROL_REQ record on an endpoint/],
      ['reserved SEND flag', fromHex('03 00 00 00 01 80 01'), /reserved/],
    ];
    for (const [, bytes, why] of cases) {
      const raw = await rawClient(srv);
      await raw.write(HELLO_EP3);
      await raw.write(bytes);
      await raw.closed;
      const { welcome, records } = parseAnswer(raw.bytes);
      expect(welcome.status).toBe('accepted');
      expect(records.at(-1)).toMatchObject({ type: 'ERROR', message: expect.stringMatching(why) });
    }
    const ep = await connect(srv);
    expect(await ep.send(Uint8Array.of(1))).toEqual({ ready: true });
  });

  test('a non-HypError from the served endpoint closes the connection with an error', async () => {
    const [, b] = createMsgqPair();
    const broken: MsgqEndpoint = {
      maxMsgSize: b.maxMsgSize,
      events: b.events,
      send: () => {
        throw new TypeError('boom in send');
      },
      receive: (n) => b.receive(n),
      get rxPending() {
        return b.rxPending;
      },
      get txReady() {
        return b.txReady;
      },
    };
    const srv = await serve(listenOpts(), { openEndpoint: () => broken });
    const ep = await connect(srv);
    expect(ep.depth).toBe(0); // not a QueueEndpoint, no depth property: unknown
    expect(await rejectsHyp(ep.receive())).toBe('ERROR_MSGQUEUE_EMPTY'); // HypErrors still flow
    const e = await ep.send(Uint8Array.of(1)).catch((x: unknown) => x);
    expect(isMsgqSocketError(e, 'remote')).toBe(true);
    expect((e as Error).message).toMatch(/server-side send failed: boom in send/);
    expect(ep.closed).toBe(true);
    await expect(ep.receive()).rejects.toMatchObject({ name: 'MsgqSocketError' });
    await vi.waitFor(() => expect(b.events.listenerCount('rx')).toBe(0));
  });

  test('close() rejects pending calls and later calls', async () => {
    const { remote } = await servedPair(listenOpts());
    const pending = remote.receive();
    const closing = remote.close();
    await expect(pending).rejects.toMatchObject({ name: 'MsgqSocketError', reason: 'closed' });
    await closing;
    await remote.close();
    await expect(remote.send(Uint8Array.of(1))).rejects.toMatchObject({ reason: 'closed' });
  });

  test('control role: round trip, in order, and errors', async () => {
    const seen: unknown[] = [];
    const srv = await serve(listenOpts(), {
      openEndpoint: () => createMsgqPair()[1],
      onControl: async (req) => {
        seen.push(req);
        const r = req as { op: string; delay?: number; n?: number };
        if (r.delay) await new Promise((ok) => setTimeout(ok, r.delay));
        if (r.op === 'fail') throw new ErrnoError('EINVAL', 'no such parcel');
        if (r.op === 'bigint') return { x: 1n };
        if (r.op === 'void') return undefined;
        return { echo: r, n: r.n };
      },
    });
    const ctl = await connectControl(srv.target);
    cleanup.push(() => ctl.close());
    expect(await ctl.call({ op: 'inspect', nested: [1, 'two', null] })).toEqual({ echo: { op: 'inspect', nested: [1, 'two', null] } });
    // A slow first request still answers first.
    const answers = await Promise.all([ctl.call({ op: 'x', delay: 30, n: 1 }), ctl.call({ op: 'x', n: 2 })]);
    expect(answers.map((a) => (a as { n: number }).n)).toEqual([1, 2]);
    const err = await ctl.call({ op: 'fail' }).catch((x: unknown) => x);
    expect(isMsgqSocketError(err, 'control')).toBe(true);
    expect((err as Error).message).toBe('EINVAL: no such parcel');
    await expect(ctl.call({ op: 'bigint' })).rejects.toMatchObject({ reason: 'control', message: /BigInt/ });
    expect(await ctl.call({ op: 'void' })).toBeNull();
    await expect(ctl.call(undefined)).rejects.toThrow(TypeError);
    // The connection survives handler errors.
    expect(await ctl.call({ op: 'again', n: 3 })).toMatchObject({ n: 3 });
    expect(seen).toHaveLength(7);
  });

  test('control role without an onControl handler is refused; endpoint records on it close it', async () => {
    const bare = await serve(listenOpts(), { openEndpoint: () => createMsgqPair()[1] });
    await expect(connectControl(bare.target)).rejects.toMatchObject({ reason: 'refused', message: /no control role/ });
    const srv = await serve(listenOpts(), { openEndpoint: () => createMsgqPair()[1], onControl: async () => 1 });
    const raw = await rawClient(srv);
    await raw.write(encodeHello({ version: 1, role: 'control', vmid: 0 }));
    await raw.write(encodeRecord({ type: 'RECV', bufSize: undefined }));
    await raw.closed;
    expect(parseAnswer(raw.bytes).records).toEqual([{ type: 'ERROR', message: expect.stringMatching(/RECV record on a control/) }]);
  });
});

describe('Unix socket files', () => {
  test('a live socket on the path is not taken over', async () => {
    const path = unixPath();
    const holder = net.createServer();
    await new Promise<void>((r) => holder.listen(path, () => r()));
    cleanup.push(() => new Promise<void>((r) => holder.close(() => r())));
    await expect(listenMsgq({ path }, { openEndpoint: () => createMsgqPair()[1] })).rejects.toMatchObject({
      name: 'MsgqSocketError',
      reason: 'listen',
      message: /already listening/,
    });
    expect(existsSync(path)).toBe(true);
  });

  test('a socket file nobody listens on is removed before listening', async () => {
    const path = unixPath();
    // A child process binds the path and exits without unlinking: a true stale socket file.
    const { spawnSync } = await import('node:child_process');
    const r = spawnSync(process.execPath, ['-e', `require('net').createServer().listen(${JSON.stringify(path)}, () => process.exit(0))`]);
    expect(r.status).toBe(0);
    expect(existsSync(path)).toBe(true);
    const srv = await listenMsgq({ path }, { openEndpoint: () => createMsgqPair()[1] });
    const ep = await connectMsgq(`unix:${path}`, 1);
    expect(await ep.send(Uint8Array.of(1))).toEqual({ ready: true });
    await ep.close();
    await srv.close();
    expect(existsSync(path)).toBe(false);
  });

  test('a path that is not a socket is left alone and listening fails', async () => {
    const path = unixPath();
    writeFileSync(path, 'precious');
    try {
      await expect(listenMsgq({ path }, { openEndpoint: () => createMsgqPair()[1] })).rejects.toMatchObject({
        name: 'MsgqSocketError',
        reason: 'listen',
        message: /not a socket/,
      });
      expect(existsSync(path)).toBe(true);
    } finally {
      rmSync(path, { force: true });
    }
  });
});

describe('connect errors', () => {
  test('nothing listening: connect error', async () => {
    await expect(connectMsgq(`unix:${unixPath()}`, 3)).rejects.toMatchObject({ name: 'MsgqSocketError', reason: 'connect' });
    const probe = net.createServer();
    await new Promise<void>((r) => probe.listen(0, '127.0.0.1', () => r()));
    const port = (probe.address() as net.AddressInfo).port;
    await new Promise<void>((r) => probe.close(() => r()));
    await expect(connectMsgq(`tcp:127.0.0.1:${port}`, 3)).rejects.toMatchObject({ reason: 'connect' });
  });

  test('a server that is not a msgq server: protocol error', async () => {
    const http = net.createServer((s) => {
      s.on('error', () => {});
      s.resume(); // read, so that the client's close is seen and http.close() can finish
      s.end('HTTP/1.1 400 Bad Request\r\n\r\n');
    });
    await new Promise<void>((r) => http.listen(0, '127.0.0.1', () => r()));
    cleanup.push(() => new Promise<void>((r) => http.close(() => r())));
    const port = (http.address() as net.AddressInfo).port;
    await expect(connectMsgq(`tcp:127.0.0.1:${port}`, 3)).rejects.toMatchObject({ reason: 'protocol', message: /not a msgq socket server/ });
  });

  test('bad vmid and bad target', async () => {
    await expect(connectMsgq('tcp:127.0.0.1:1', 70000)).rejects.toThrow(RangeError);
    await expect(connectMsgq('udp:x', 3)).rejects.toMatchObject({ reason: 'bad-target' });
  });
});

describe('parseTarget', () => {
  test.each([
    ['unix:/tmp/rm.sock', { kind: 'unix', path: '/tmp/rm.sock' }],
    ['unix:relative/rm.sock', { kind: 'unix', path: 'relative/rm.sock' }],
    ['tcp:127.0.0.1:4000', { kind: 'tcp', host: '127.0.0.1', port: 4000 }],
    ['tcp:localhost:0', { kind: 'tcp', host: 'localhost', port: 0 }],
    ['tcp:[::1]:65535', { kind: 'tcp', host: '::1', port: 65535 }],
  ])('%s', (s, want) => {
    expect(parseTarget(s)).toEqual(want);
    expect(formatTarget(parseTarget(s))).toBe(s);
  });

  test.each([
    ['', /unknown scheme/],
    ['/tmp/rm.sock', /unknown scheme/],
    ['unix:', /empty socket path/],
    ['tcp:127.0.0.1', /missing port/],
    ['tcp::4000', /empty host/],
    ['tcp:host:', /not a decimal number/],
    ['tcp:host:12ab', /not a decimal number/],
    ['tcp:host:-1', /not a decimal number/],
    ['tcp:host:65536', /over 65535/],
    ['tcp:::1:4000', /IPv6 host must be in brackets/],
    ['tcp:[::1:4000', /brackets/],
  ])('%j is refused', (s, why) => {
    expect(() => parseTarget(s)).toThrow(why);
    expect(() => parseTarget(s)).toThrow(/expected unix:PATH or tcp:HOST:PORT/);
  });
});

test('the msgq index exports the transport', () => {
  for (const name of ['listenMsgq', 'connectMsgq', 'connectControl', 'parseTarget', 'MsgqSocketError']) {
    expect(msgqIndex).toHaveProperty(name);
  }
});
