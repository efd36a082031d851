/**
 * Client side of the msgq socket transport: an AsyncMsgqEndpoint whose every send/receive is a
 * round trip to the process that owns the queue (a "remote hypercall"), and a JSON control
 * client. The server's vIRQ edges arrive as IRQ_RX / IRQ_TX records and are re-emitted as
 * 'rx' / 'tx' on `events`, in stream order relative to the call results.
 *
 * Reference: hypervisor.md §4 (results and errors of send/receive), async-endpoint.ts (the
 * interface implemented), docs/socket-transport.md (layout; socket-wire.ts is the codec).
 *
 * Ordering: the server answers the requests of one connection in order, so a FIFO of pending
 * calls matches each result record to its call; a result of the wrong type is a protocol error.
 * Edges raised while the server runs a call are written before that call's result, so 'rx'/'tx'
 * listeners run before the call's promise settles, as they run inside the call in process.
 */
import * as net from 'node:net';
import { EventEmitter } from 'eventemitter3';
import { match } from 'ts-pattern';
import { assertU16, concatBytes } from '../shared/bytes.js';
import { HypError, hypErrorName } from '../shared/hyp-errors.js';
import { silentLogger, type Logger } from '../shared/log.js';
import type { AsyncMsgqEndpoint } from './async-endpoint.js';
import type { EndpointEvents } from './endpoint.js';
import type { ReceiveResult, SendResult } from './msgqueue.js';
import { formatTarget, MsgqSocketError, parseTarget, type MsgqTarget } from './socket-target.js';
import {
  MAX_CONTROL_RECORD_LEN,
  MAX_ENDPOINT_RECORD_LEN,
  MAX_WIRE_MSG,
  MSGQ_SOCKET_VERSION,
  RecordReader,
  decodeRecord,
  decodeWelcome,
  encodeHello,
  encodeRecord,
  welcomeSize,
  type Hello,
  type MsgqRecord,
  type MsgqSocketRoleName,
  type Welcome,
} from './socket-wire.js';

/** Options of the connect functions. */
export interface MsgqConnectOptions {
  /** Parent logger (default: silent). */
  readonly log?: Logger;
}

/** The control role's client: one JSON request, one JSON reply, in order. */
export interface MsgqControlClient {
  /** The target string this client is connected to. */
  readonly target: string;
  /**
   * Send `request` (JSON-serialisable) to the server's `onControl` and resolve with its reply.
   * @rejects MsgqSocketError 'control' (the handler threw; its message), 'closed', 'remote', 'protocol';
   *   TypeError when `request` is not JSON-serialisable; RangeError over 4 MiB
   */
  call(request: unknown): Promise<unknown>;
  /** Close the connection; pending calls reject with 'closed'. Idempotent. */
  close(): Promise<void>;
}

type ResultType = 'SEND_RESULT' | 'RECV_RESULT' | 'CONTROL_RES';
type ResultOf<T extends ResultType> = Extract<MsgqRecord, { type: T }>;

interface Pending {
  readonly expect: ResultType;
  readonly resolve: (r: MsgqRecord) => void;
  readonly reject: (e: Error) => void;
}

/**
 * One established connection after the handshake: request FIFO, record splitting, edges,
 * and the terminal error every later call rejects with.
 */
class ClientLink {
  readonly #sock: net.Socket;
  readonly #reader: RecordReader;
  readonly #pending: Pending[] = [];
  readonly #closed: Promise<void>;
  #error: MsgqSocketError | undefined;

  constructor(
    sock: net.Socket,
    leftover: Uint8Array,
    readonly role: MsgqSocketRoleName,
    readonly log: Logger,
    readonly onIrq: (edge: 'rx' | 'tx') => void,
  ) {
    this.#sock = sock;
    this.#reader = new RecordReader(role === 'endpoint' ? MAX_ENDPOINT_RECORD_LEN : MAX_CONTROL_RECORD_LEN);
    this.#closed = new Promise<void>((resolve) => sock.once('close', () => resolve()));
    sock.on('data', (chunk: Buffer) => {
      this.#reader.push(chunk);
      this.#pump();
    });
    sock.on('error', (err) => {
      log.debug({ err }, 'msgq socket error');
      this.#terminate(new MsgqSocketError('closed', `connection failed: ${err.message}`, { cause: err }));
    });
    sock.on('close', () => this.#terminate(new MsgqSocketError('closed', 'connection closed by the server')));
    // Records that came in with the handshake answer are handled on a later turn, after the
    // caller of connect*() has had the chance to attach its 'rx'/'tx' listeners.
    if (leftover.byteLength > 0) {
      this.#reader.push(leftover);
      setImmediate(() => this.#pump());
    }
    sock.resume();
  }

  get closed(): boolean {
    return this.#error !== undefined;
  }

  /** Send one request record and wait for the result record of type `expect`. */
  request<T extends ResultType>(bytes: Uint8Array, expect: T): Promise<ResultOf<T>> {
    if (this.#error) return Promise.reject(this.#error);
    return new Promise<ResultOf<T>>((resolve, reject) => {
      this.#pending.push({ expect, resolve: resolve as (r: MsgqRecord) => void, reject });
      this.#sock.write(bytes);
    });
  }

  close(): Promise<void> {
    this.#terminate(new MsgqSocketError('closed', 'connection closed by the client'));
    return this.#closed;
  }

  #pump(): void {
    try {
      for (;;) {
        if (this.#error) return;
        const rec = this.#reader.next();
        if (rec === undefined) return;
        this.#dispatch(decodeRecord(rec));
      }
    } catch (e) {
      this.log.warn({ err: e }, 'malformed record from the msgq socket server');
      const what = e instanceof Error ? e.message : String(e);
      this.#terminate(new MsgqSocketError('protocol', `bad record from the server: ${what}`, { cause: e }));
    }
  }

  #dispatch(r: MsgqRecord): void {
    match(r)
      .with({ type: 'IRQ_RX' }, { type: 'IRQ_TX' }, (r) => {
        if (this.role !== 'endpoint') throw new Error(`${r.type} on a control connection`);
        this.onIrq(r.type === 'IRQ_RX' ? 'rx' : 'tx');
      })
      .with({ type: 'SEND_RESULT' }, { type: 'RECV_RESULT' }, { type: 'CONTROL_RES' }, (r) => {
        const head = this.#pending[0];
        if (head?.expect !== r.type) throw new Error(`unexpected ${r.type} (waiting for ${head?.expect ?? 'nothing'})`);
        this.#pending.shift();
        head.resolve(r);
      })
      .with({ type: 'ERROR' }, (r) => {
        this.#terminate(new MsgqSocketError('remote', `server closed the connection: ${r.message}`));
      })
      .with({ type: 'SEND' }, { type: 'RECV' }, { type: 'CONTROL_REQ' }, (r) => {
        throw new Error(`${r.type} is a client-to-server record`);
      })
      .with({ type: 'unknown' }, (r) => {
        throw new Error(`unknown record type 0x${r.raw.toString(16)}`);
      })
      .exhaustive();
  }

  /** Enter the terminal state once: reject what is pending, drop the socket. */
  #terminate(err: MsgqSocketError): void {
    if (this.#error) return;
    this.#error = err;
    for (const p of this.#pending.splice(0)) p.reject(err);
    this.#sock.destroy();
  }
}

function socketFor(t: MsgqTarget): net.Socket {
  return t.kind === 'unix' ? net.createConnection({ path: t.path }) : net.createConnection({ host: t.host, port: t.port });
}

type Accepted = Extract<Welcome, { status: 'accepted' }>;

/**
 * Connect, send the HELLO, and wait for the answer.
 * @rejects MsgqSocketError 'connect' | 'refused' | 'closed' | 'protocol'
 */
function handshake(t: MsgqTarget, hello: Hello): Promise<{ sock: net.Socket; welcome: Accepted; leftover: Uint8Array }> {
  const where = formatTarget(t);
  return new Promise((resolve, reject) => {
    const sock = socketFor(t);
    let connected = false;
    let buf: Uint8Array = new Uint8Array(0);
    const detach = (): void => {
      sock.off('connect', onConnect);
      sock.off('data', onData);
      sock.off('error', onError);
      sock.off('close', onClose);
    };
    const fail = (e: MsgqSocketError): void => {
      detach();
      sock.on('error', () => {}); // a late error on a socket we are dropping is of no interest
      sock.destroy();
      reject(e);
    };
    const onConnect = (): void => {
      connected = true;
      sock.setNoDelay(true);
      sock.write(encodeHello(hello));
    };
    const onData = (chunk: Buffer): void => {
      buf = concatBytes([buf, chunk]);
      let w: Welcome;
      let size: number | undefined;
      try {
        size = welcomeSize(buf);
        if (size === undefined || buf.byteLength < size) return;
        w = decodeWelcome(buf.subarray(0, size));
      } catch (e) {
        return fail(new MsgqSocketError('protocol', `${where}: not a msgq socket server (${(e as Error).message})`, { cause: e }));
      }
      if (w.status === 'refused') return fail(new MsgqSocketError('refused', `${where} refused the connection: ${w.reason}`));
      if (w.version !== MSGQ_SOCKET_VERSION) {
        return fail(new MsgqSocketError('protocol', `${where} answered with protocol version ${w.version}, expected ${MSGQ_SOCKET_VERSION}`));
      }
      if (w.role !== hello.role) return fail(new MsgqSocketError('protocol', `${where} accepted role ${w.role}, asked for ${hello.role}`));
      if (w.role === 'endpoint' && (w.maxMsgSize < 1 || w.maxMsgSize > MAX_WIRE_MSG)) {
        return fail(new MsgqSocketError('protocol', `${where} announced max message size ${w.maxMsgSize}`));
      }
      detach();
      sock.pause(); // no 'data' listener until the ClientLink attaches its own (it resumes)
      resolve({ sock, welcome: w, leftover: buf.subarray(size) });
    };
    const onError = (err: Error): void => {
      const reason = connected ? 'closed' : 'connect';
      fail(new MsgqSocketError(reason, `${where}: ${err.message}`, { cause: err }));
    };
    const onClose = (): void => fail(new MsgqSocketError('closed', `${where} closed the connection during the handshake`));
    sock.on('connect', onConnect);
    sock.on('data', onData);
    sock.on('error', onError);
    sock.on('close', onClose);
  });
}

function toTarget(target: string | MsgqTarget): MsgqTarget {
  return typeof target === 'string' ? parseTarget(target) : target;
}

/**
 * The buffer size carried by RECV (u32) for a caller's `bufSize`, with the same outcome on the
 * queue: a message overflows iff its length > bufSize, lengths are integers in 1..1023, so
 * floor() keeps the outcome, ≤ 0 behaves as 0, and NaN / ≥ 2^32 behave as "anything fits".
 */
function wireBufSize(n: number): number {
  if (Number.isNaN(n) || n >= 0xffff_ffff) return 0xffff_ffff;
  if (n <= 0) return 0;
  return Math.floor(n);
}

function hypErrorFrom(value: number, detail: string): HypError {
  // INVARIANT: decodeRecord only lets named, non-zero error values through here.
  return new HypError(hypErrorName(value)!, detail === '' ? undefined : detail);
}

/**
 * A message-queue endpoint in another process. `send`/`receive` resolve or reject exactly as
 * the server-side endpoint's calls returned or threw (HypError by name, same detail text).
 */
export class SocketMsgqEndpoint implements AsyncMsgqEndpoint {
  readonly events = new EventEmitter<EndpointEvents>();
  readonly #link: ClientLink;

  /** @internal use connectMsgq() */
  constructor(
    link: (onIrq: (edge: 'rx' | 'tx') => void) => ClientLink,
    /** The target string this endpoint is connected to. */
    readonly target: string,
    readonly vmid: number,
    /** Max message size of the server-side endpoint. */
    readonly maxMsgSize: number,
    /** Depth of the server-side TX queue (where FULL is decided); 0 when the server cannot tell. */
    readonly depth: number,
  ) {
    this.#link = link((edge) => this.events.emit(edge));
  }

  /** True once the connection is closed (by close(), the server, or a protocol error). */
  get closed(): boolean {
    return this.#link.closed;
  }

  /**
   * msgqueue_send on the server-side endpoint.
   * @rejects HypError ERROR_MSGQUEUE_FULL, ERROR_ARGUMENT_SIZE (as the server-side queue decides);
   *   MsgqSocketError 'closed' | 'remote' | 'protocol'
   */
  async send(bytes: Uint8Array, push = false): Promise<SendResult> {
    // Longer than any queue accepts: send the fact, not the bytes (see OVERSIZE in the doc).
    const oversize = bytes.byteLength > MAX_WIRE_MSG;
    const rec = encodeRecord({ type: 'SEND', push: Boolean(push), oversize, bytes: oversize ? new Uint8Array(0) : bytes });
    const r = await this.#link.request(rec, 'SEND_RESULT');
    if (r.error !== 0) throw hypErrorFrom(r.error, r.detail);
    return { ready: r.ready };
  }

  /**
   * msgqueue_receive on the server-side endpoint; `bufSize` defaults to the server-side default.
   * @rejects HypError ERROR_MSGQUEUE_EMPTY, ERROR_ADDR_OVERFLOW; MsgqSocketError as for send
   */
  async receive(bufSize?: number): Promise<ReceiveResult> {
    const rec = encodeRecord({ type: 'RECV', bufSize: bufSize === undefined ? undefined : wireBufSize(bufSize) });
    const r = await this.#link.request(rec, 'RECV_RESULT');
    if (r.error !== 0) throw hypErrorFrom(r.error, r.detail);
    return { bytes: r.bytes, ready: r.ready };
  }

  /** Close the connection (the server drops its listeners). Pending calls reject 'closed'. Idempotent. */
  close(): Promise<void> {
    return this.#link.close();
  }
}

/**
 * Connect to the endpoint a msgq socket server serves for `vmid`.
 * @param target `unix:PATH` or `tcp:HOST:PORT` (or a parsed target)
 * @rejects MsgqSocketError 'bad-target' | 'connect' | 'refused' (with the server's reason) | 'closed' | 'protocol';
 *   RangeError when vmid is not a u16
 */
export async function connectMsgq(target: string | MsgqTarget, vmid: number, opts: MsgqConnectOptions = {}): Promise<SocketMsgqEndpoint> {
  const t = toTarget(target);
  assertU16(vmid, 'vmid');
  const where = formatTarget(t);
  const log = (opts.log ?? silentLogger()).child({ layer: 'msgq-socket', target: where, vmid });
  const { sock, welcome, leftover } = await handshake(t, { version: MSGQ_SOCKET_VERSION, role: 'endpoint', vmid });
  log.debug({ depth: welcome.depth, maxMsgSize: welcome.maxMsgSize }, 'msgq endpoint connected');
  return new SocketMsgqEndpoint(
    (onIrq) => new ClientLink(sock, leftover, 'endpoint', log, onIrq),
    where,
    vmid,
    welcome.maxMsgSize,
    welcome.depth,
  );
}

/**
 * Connect to a msgq socket server's control role.
 * @rejects MsgqSocketError 'bad-target' | 'connect' | 'refused' | 'closed' | 'protocol'
 */
export async function connectControl(target: string | MsgqTarget, opts: MsgqConnectOptions = {}): Promise<MsgqControlClient> {
  const t = toTarget(target);
  const where = formatTarget(t);
  const log = (opts.log ?? silentLogger()).child({ layer: 'msgq-socket', target: where, role: 'control' });
  const { sock, leftover } = await handshake(t, { version: MSGQ_SOCKET_VERSION, role: 'control', vmid: 0 });
  const link = new ClientLink(sock, leftover, 'control', log, () => {});
  return {
    target: where,
    async call(request: unknown): Promise<unknown> {
      const json = JSON.stringify(request) as string | undefined;
      if (json === undefined) throw new TypeError('control request is not JSON-serialisable');
      const r = await link.request(encodeRecord({ type: 'CONTROL_REQ', json }), 'CONTROL_RES');
      if (!r.ok) throw new MsgqSocketError('control', r.message);
      return JSON.parse(r.json) as unknown;
    },
    close: () => link.close(),
  };
}
