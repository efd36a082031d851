/**
 * Server side of the msgq socket transport: serves in-process message-queue endpoints (the
 * RM's end of a VM's link, or any MsgqEndpoint) to other processes over a Unix socket or
 * loopback TCP, as "remote hypercalls". Every send/receive runs here, on the real queue, so
 * FULL/EMPTY, `ready`, PUSH and the vIRQ edges are exactly those of the in-process queue;
 * the edges travel to the client as IRQ_RX / IRQ_TX records.
 *
 * Reference: hypervisor.md §4 (queue semantics being carried), rm-rpc.md §1 (the RM also has
 * a socket transport; ours is a byte stream, see docs/socket-transport.md for the layout and
 * the reasons). Byte layout: socket-wire.ts.
 *
 * Connection lifecycle (one per accepted socket):
 *
 *   hello ──HELLO ok, role endpoint──▶ opening ──openEndpoint() resolves──▶ endpoint ──┐
 *     │   └─HELLO ok, role control───────────────────────────────────────▶ control ───┤
 *     └─bad HELLO / refused─▶ (WELCOME refused) ─────────────────────────────────────▶ closed
 *   malformed record, or a non-HypError thrown by the endpoint ─▶ (ERROR record) ─────▶ closed
 *
 * A connection never outlives its socket: on close it removes exactly the 'rx'/'tx' listeners
 * it added to the endpoint. Nothing a client sends can throw out of a socket callback.
 */
import * as net from 'node:net';
import { lstat, unlink } from 'node:fs/promises';
import { match } from 'ts-pattern';
import { HypError } from '../shared/hyp-errors.js';
import { silentLogger, type Logger } from '../shared/log.js';
import { concatBytes } from '../shared/bytes.js';
import { WireError } from '../shared/wire-error.js';
import { QueueEndpoint, type MsgqEndpoint } from './endpoint.js';
import { formatTarget, MsgqSocketError, type MsgqTarget } from './socket-target.js';
import {
  HELLO_SIZE,
  MAX_CONTROL_RECORD_LEN,
  MAX_ENDPOINT_RECORD_LEN,
  MAX_WIRE_MSG,
  MSGQ_SOCKET_VERSION,
  OVERSIZE_STANDIN,
  RecordReader,
  decodeHello,
  decodeRecord,
  encodeRecord,
  encodeWelcome,
  magicPrefixOk,
  type Hello,
  type MsgqRecord,
} from './socket-wire.js';

/**
 * An endpoint handed to the server, optionally with a `release` hook (a resource ticket): the
 * server calls it exactly once when the connection that opened the endpoint ends, however it
 * ends (client close, protocol error, server close, or the client leaving before the open
 * finished). A throw or rejection from it is logged, never propagated.
 */
export type ServedEndpoint = MsgqEndpoint & { release?(): void | Promise<void> };

/** What the server serves. */
export interface MsgqServerHandlers {
  /**
   * The server-side endpoint for a client asking for `vmid` (called once per endpoint
   * connection). Throwing (or rejecting) refuses the handshake; the error's message is sent
   * to the client as the refusal reason.
   */
  openEndpoint(vmid: number): ServedEndpoint | Promise<ServedEndpoint>;
  /**
   * Answer one JSON control request (control role). Requests on one connection are handled
   * one at a time, in order. A throw becomes an error reply carrying its message.
   * Without this handler, control handshakes are refused.
   */
  onControl?(request: unknown): Promise<unknown>;
}

/** Where to listen: a Unix socket path, or TCP (host default 127.0.0.1; port 0 = any free port). */
export type MsgqListenOptions = { readonly path: string } | { readonly host?: string; readonly port: number };

/** Where a server listens: the socket path, or the bound TCP host and (real) port. */
export type MsgqServerAddress = string | { readonly host: string; readonly port: number };

export interface MsgqSocketServer {
  /** The socket path, or `{ host, port }` with the port actually bound (never 0). */
  readonly address: MsgqServerAddress;
  /** The same as a connect target: `unix:PATH` or `tcp:HOST:PORT`. */
  readonly target: string;
  /** Connections currently open (in any state). */
  readonly connectionCount: number;
  /** Stop listening, close every connection, remove the Unix socket file. Idempotent. */
  close(): Promise<void>;
}

/** Grace period for a closing socket to flush its last record before it is destroyed. */
const CLOSE_GRACE_MS = 1000;
/** Bytes a client may send after its HELLO before the answer comes (pipelined requests). */
const MAX_EARLY_BYTES = 64 * 1024;

/**
 * Listen for msgq socket clients.
 *
 * For a Unix socket, a stale socket file at `path` (nothing answers on it) is removed first;
 * a live one, or a path that is not a socket, makes listening fail.
 * @throws MsgqSocketError 'listen' when the address cannot be bound
 */
export async function listenMsgq(
  opts: MsgqListenOptions,
  handlers: MsgqServerHandlers,
  log: Logger = silentLogger(),
): Promise<MsgqSocketServer> {
  const slog = log.child({ layer: 'msgq-socket' });
  const conns = new Set<ServerConnection>();
  let nextConnId = 1;
  const server = net.createServer({ allowHalfOpen: false }, (sock) => {
    const conn: ServerConnection = new ServerConnection(sock, handlers, slog.child({ conn: nextConnId++ }), () => conns.delete(conn));
    conns.add(conn);
  });

  if (!('path' in opts) && !(Number.isInteger(opts.port) && opts.port >= 0 && opts.port <= 0xffff)) {
    throw new MsgqSocketError('listen', `bad TCP port ${opts.port}`);
  }
  const unixPath = 'path' in opts ? opts.path : undefined;
  if (unixPath !== undefined) await removeStaleSocket(unixPath);
  const listenArgs: net.ListenOptions = 'path' in opts ? { path: opts.path } : { host: opts.host ?? '127.0.0.1', port: opts.port };
  await new Promise<void>((resolve, reject) => {
    const onError = (err: Error): void => reject(new MsgqSocketError('listen', `cannot listen on ${describe(opts)}: ${err.message}`, { cause: err }));
    server.once('error', onError);
    server.listen(listenArgs, () => {
      server.off('error', onError);
      resolve();
    });
  });
  server.on('error', (err) => slog.error({ err }, 'msgq socket server error'));

  // Remember which socket file is ours, so close() never removes a successor's file.
  const ourIno = unixPath !== undefined ? (await lstat(unixPath)).ino : undefined;
  let address: MsgqServerAddress;
  let target: MsgqTarget;
  if (unixPath !== undefined) {
    address = unixPath;
    target = { kind: 'unix', path: unixPath };
  } else {
    const a = server.address() as net.AddressInfo;
    address = { host: a.address, port: a.port };
    target = { kind: 'tcp', host: a.address, port: a.port };
  }
  slog.info({ target: formatTarget(target) }, 'msgq socket server listening');

  let closing: Promise<void> | undefined;
  return {
    address,
    target: formatTarget(target),
    get connectionCount() {
      return conns.size;
    },
    close() {
      closing ??= (async () => {
        const stopped = new Promise<void>((resolve) => server.close(() => resolve()));
        for (const c of [...conns]) c.shutdown('server shutting down');
        await stopped;
        if (unixPath !== undefined) await removeOwnSocket(unixPath, ourIno);
        slog.info('msgq socket server closed');
      })();
      return closing;
    },
  };
}

function describe(opts: MsgqListenOptions): string {
  return 'path' in opts ? `unix:${opts.path}` : `tcp:${opts.host ?? '127.0.0.1'}:${opts.port}`;
}

function errText(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}

function isErrnoException(e: unknown, code: string): boolean {
  return e instanceof Error && (e as NodeJS.ErrnoException).code === code;
}

/** Remove a socket file nobody answers on; refuse to touch a live socket or a non-socket. */
async function removeStaleSocket(path: string): Promise<void> {
  let st;
  try {
    st = await lstat(path);
  } catch (e) {
    if (isErrnoException(e, 'ENOENT')) return;
    throw new MsgqSocketError('listen', `cannot inspect ${path}: ${errText(e)}`, { cause: e });
  }
  if (!st.isSocket()) throw new MsgqSocketError('listen', `${path} exists and is not a socket; not removing it`);
  const live = await new Promise<boolean>((resolve) => {
    const probe = net.createConnection({ path });
    probe.once('connect', () => {
      probe.destroy();
      resolve(true);
    });
    probe.once('error', () => resolve(false));
  });
  if (live) throw new MsgqSocketError('listen', `${path}: a server is already listening there (address in use)`);
  await unlink(path).catch((e: unknown) => {
    if (!isErrnoException(e, 'ENOENT')) throw new MsgqSocketError('listen', `cannot remove stale socket ${path}: ${errText(e)}`, { cause: e });
  });
}

/** Remove our socket file on close (Node may already have), but only if it is still ours. */
async function removeOwnSocket(path: string, ino: number | undefined): Promise<void> {
  try {
    const st = await lstat(path);
    if (st.isSocket() && st.ino === ino) await unlink(path);
  } catch {
    // ENOENT (already removed) or a race with a successor: nothing of ours to remove.
  }
}

/** The depth of the queue a client's SEND lands in, when the endpoint can tell; else 0. */
function endpointDepth(ep: MsgqEndpoint): number {
  if (ep instanceof QueueEndpoint) return ep.tx.depth;
  const d = (ep as { readonly depth?: unknown }).depth;
  return typeof d === 'number' && Number.isInteger(d) && d > 0 && d <= 0xffff ? d : 0;
}

/** A throw from the served endpoint that is not a HypError: a server bug, not a queue result. */
class EndpointFault extends Error {
  override readonly name = 'EndpointFault';
}

/** A record that parses but does not belong here (wrong direction or role). */
function misplaced(r: MsgqRecord, where: string): WireError {
  const what = r.type === 'unknown' ? `unknown record type 0x${r.raw.toString(16)}` : `${r.type} record ${where}`;
  return new WireError('bad-type', { what, offset: 4 });
}

type ConnState =
  | { readonly kind: 'hello' }
  | { readonly kind: 'opening'; readonly vmid: number }
  | { readonly kind: 'endpoint'; readonly ep: ServedEndpoint; readonly onRx: () => void; readonly onTx: () => void }
  | { readonly kind: 'control'; readonly onControl: (request: unknown) => Promise<unknown>; chain: Promise<void> }
  | { readonly kind: 'closed' };

/** One accepted socket. */
class ServerConnection {
  #state: ConnState = { kind: 'hello' };
  #hello: Uint8Array = new Uint8Array(0);
  #reader: RecordReader | undefined;

  constructor(
    readonly sock: net.Socket,
    readonly handlers: MsgqServerHandlers,
    readonly log: Logger,
    readonly onClosed: () => void,
  ) {
    sock.setNoDelay(true); // small request/answer records: never wait for Nagle
    sock.on('data', (chunk: Buffer) => this.#guard(() => this.#onData(chunk)));
    sock.on('error', (err) => log.debug({ err }, 'msgq socket error'));
    sock.on('close', () => this.#release());
    log.debug({ remote: sock.remoteAddress ?? 'unix' }, 'msgq socket connection');
  }

  /** Close from the server side, telling an established client why. */
  shutdown(reason: string): void {
    const k = this.#state.kind;
    if (k === 'closed') return;
    if (k === 'endpoint' || k === 'control') this.#closeWith(encodeRecord({ type: 'ERROR', message: reason }));
    else this.#closeWith(encodeWelcome({ status: 'refused', version: MSGQ_SOCKET_VERSION, reason }));
  }

  /** Run `f`; anything it throws ends this connection, never the process. */
  #guard(f: () => void): void {
    try {
      f();
    } catch (e) {
      this.#fail(e);
    }
  }

  #onData(chunk: Uint8Array): void {
    match(this.#state)
      .with({ kind: 'closed' }, () => {})
      .with({ kind: 'hello' }, () => this.#onHelloBytes(chunk))
      .with({ kind: 'opening' }, () => {
        // Held until the endpoint is open; a client has no business sending much before the answer.
        this.#reader!.push(chunk);
        if (this.#reader!.buffered > MAX_EARLY_BYTES) throw new WireError('too-big', { what: 'records sent before the handshake answer' });
      })
      .with({ kind: 'endpoint' }, { kind: 'control' }, () => {
        this.#reader!.push(chunk);
        this.#pump();
      })
      .exhaustive();
  }

  #onHelloBytes(chunk: Uint8Array): void {
    this.#hello = concatBytes([this.#hello, chunk]);
    // Refuse a stranger at its first wrong byte, without waiting for 12 bytes that may never come.
    if (!magicPrefixOk(this.#hello)) return this.#refuse('not a msgq socket client (bad magic)');
    if (this.#hello.byteLength < HELLO_SIZE) return;
    let hello: Hello;
    try {
      hello = decodeHello(this.#hello.subarray(0, HELLO_SIZE));
    } catch (e) {
      return this.#refuse(`malformed handshake: ${errText(e)}`);
    }
    if (hello.version !== MSGQ_SOCKET_VERSION) {
      return this.#refuse(`protocol version ${hello.version} not supported (this server speaks ${MSGQ_SOCKET_VERSION})`);
    }
    const leftover = this.#hello.subarray(HELLO_SIZE);
    this.#hello = new Uint8Array(0);
    if (hello.role === 'control') {
      const onControl = this.handlers.onControl;
      if (!onControl) return this.#refuse('this server has no control role');
      this.#reader = new RecordReader(MAX_CONTROL_RECORD_LEN);
      this.#reader.push(leftover);
      this.#state = { kind: 'control', onControl: onControl.bind(this.handlers), chain: Promise.resolve() };
      this.#write(encodeWelcome({ status: 'accepted', version: MSGQ_SOCKET_VERSION, role: 'control', depth: 0, maxMsgSize: 0 }));
      this.log.debug('control connection accepted');
      this.#pump();
      return;
    }
    this.#reader = new RecordReader(MAX_ENDPOINT_RECORD_LEN);
    this.#reader.push(leftover);
    this.#state = { kind: 'opening', vmid: hello.vmid };
    void this.#open(hello.vmid);
  }

  async #open(vmid: number): Promise<void> {
    let ep: ServedEndpoint;
    try {
      ep = await this.handlers.openEndpoint(vmid);
    } catch (e) {
      if (this.#state.kind === 'opening') this.#refuse(`cannot open the endpoint of VMID ${vmid}: ${errText(e)}`);
      return;
    }
    if (this.#state.kind !== 'opening') return this.#releaseEndpoint(ep); // the client left meanwhile
    this.#guard(() => {
      const size = ep.maxMsgSize;
      if (!Number.isInteger(size) || size < 1 || size > MAX_WIRE_MSG) {
        this.#releaseEndpoint(ep);
        return this.#refuse(`the endpoint of VMID ${vmid} has max message size ${size}, outside 1..${MAX_WIRE_MSG}`);
      }
      this.#write(encodeWelcome({ status: 'accepted', version: MSGQ_SOCKET_VERSION, role: 'endpoint', depth: endpointDepth(ep), maxMsgSize: size }));
      // One listener pair per connection, removed with the same functions on close.
      const onRx = (): void => this.#write(encodeRecord({ type: 'IRQ_RX' }));
      const onTx = (): void => this.#write(encodeRecord({ type: 'IRQ_TX' }));
      ep.events.on('rx', onRx);
      ep.events.on('tx', onTx);
      this.#state = { kind: 'endpoint', ep, onRx, onTx };
      this.log.debug({ vmid }, 'endpoint connection accepted');
      this.#pump();
    });
  }

  /** Handle every complete record buffered so far, in order. */
  #pump(): void {
    for (;;) {
      const k = this.#state.kind;
      if (k !== 'endpoint' && k !== 'control') return;
      const rec = this.#reader!.next();
      if (rec === undefined) return;
      this.#dispatch(decodeRecord(rec));
    }
  }

  #dispatch(r: MsgqRecord): void {
    const st = this.#state;
    match(r)
      .with({ type: 'SEND' }, (r) => {
        if (st.kind !== 'endpoint') throw misplaced(r, 'on a control connection');
        // An OVERSIZE send hands the queue a stand-in longer than any valid max size, so the queue
        // answers FULL / ARGUMENT_SIZE / silent OK exactly as it would for the caller's bytes.
        const bytes = r.oversize ? new Uint8Array(OVERSIZE_STANDIN) : r.bytes;
        const out = this.#call('send', () => st.ep.send(bytes, r.push));
        this.#write(encodeRecord(out.ok
          ? { type: 'SEND_RESULT', error: 0, ready: out.value.ready, detail: '' }
          : { type: 'SEND_RESULT', error: out.error.value, ready: false, detail: hypDetail(out.error) }));
      })
      .with({ type: 'RECV' }, (r) => {
        if (st.kind !== 'endpoint') throw misplaced(r, 'on a control connection');
        const out = this.#call('receive', () => st.ep.receive(r.bufSize));
        if (out.ok && out.value.bytes.byteLength > MAX_WIRE_MSG) {
          throw new EndpointFault(`receive returned ${out.value.bytes.byteLength} bytes, more than the wire carries`);
        }
        this.#write(encodeRecord(out.ok
          ? { type: 'RECV_RESULT', error: 0, ready: out.value.ready, bytes: out.value.bytes, detail: '' }
          : { type: 'RECV_RESULT', error: out.error.value, ready: false, bytes: new Uint8Array(0), detail: hypDetail(out.error) }));
      })
      .with({ type: 'CONTROL_REQ' }, (r) => {
        if (st.kind !== 'control') throw misplaced(r, 'on an endpoint connection');
        const request: unknown = JSON.parse(r.json); // INVARIANT: decodeRecord checked it parses
        st.chain = st.chain.then(() => this.#answerControl(st.onControl, request)).catch((e: unknown) => this.#fail(e));
      })
      .with(
        { type: 'SEND_RESULT' },
        { type: 'RECV_RESULT' },
        { type: 'IRQ_RX' },
        { type: 'IRQ_TX' },
        { type: 'CONTROL_RES' },
        { type: 'ERROR' },
        { type: 'unknown' },
        (r) => {
          throw misplaced(r, 'sent by a client');
        },
      )
      .exhaustive();
  }

  /** Run an endpoint call: HypError is a result; anything else is a fault that ends the link. */
  #call<T>(what: string, f: () => T): { ok: true; value: T } | { ok: false; error: HypError } {
    try {
      return { ok: true, value: f() };
    } catch (e) {
      if (e instanceof HypError) return { ok: false, error: e };
      throw new EndpointFault(`server-side ${what} failed: ${errText(e)}`, { cause: e });
    }
  }

  async #answerControl(onControl: (request: unknown) => Promise<unknown>, request: unknown): Promise<void> {
    let rec: MsgqRecord & { type: 'CONTROL_RES' };
    try {
      const result = await onControl(request);
      rec = { type: 'CONTROL_RES', ok: true, json: JSON.stringify(result) ?? 'null' };
    } catch (e) {
      this.log.debug({ err: e }, 'control request failed');
      rec = { type: 'CONTROL_RES', ok: false, message: errText(e) };
    }
    let bytes: Uint8Array;
    try {
      bytes = encodeRecord(rec);
    } catch (e) {
      bytes = encodeRecord({ type: 'CONTROL_RES', ok: false, message: `reply cannot be sent: ${errText(e)}` });
    }
    this.#write(bytes);
  }

  #write(bytes: Uint8Array): void {
    if (this.#state.kind !== 'closed' && !this.sock.destroyed && this.sock.writable) this.sock.write(bytes);
  }

  #refuse(reason: string): void {
    this.log.info({ reason }, 'msgq socket handshake refused');
    this.#closeWith(encodeWelcome({ status: 'refused', version: MSGQ_SOCKET_VERSION, reason }));
  }

  #fail(e: unknown): void {
    if (this.#state.kind === 'closed') return;
    if (this.#state.kind === 'hello' || this.#state.kind === 'opening') return this.#refuse(`handshake failed: ${errText(e)}`);
    let message: string;
    if (e instanceof EndpointFault) {
      this.log.error({ err: e }, 'served endpoint threw; closing the connection');
      message = e.message;
    } else if (e instanceof WireError) {
      this.log.warn({ err: e }, 'malformed record from client; closing the connection');
      message = `malformed record: ${e.message}`;
    } else {
      this.log.error({ err: e }, 'msgq socket connection failed');
      message = `server error: ${errText(e)}`;
    }
    this.#closeWith(encodeRecord({ type: 'ERROR', message }));
  }

  /** Write a last record, then end the socket; destroy it if it does not finish in time. */
  #closeWith(last: Uint8Array): void {
    if (this.#state.kind === 'closed') return;
    const sock = this.sock;
    if (!sock.destroyed && sock.writable) sock.write(last);
    this.#release();
    sock.end(() => sock.destroy());
    setTimeout(() => sock.destroy(), CLOSE_GRACE_MS).unref();
  }

  /** Enter `closed`: detach from the endpoint (same functions as attached) and forget the socket. */
  #release(): void {
    const st = this.#state;
    if (st.kind === 'closed') return;
    this.#state = { kind: 'closed' };
    this.#reader = undefined;
    if (st.kind === 'endpoint') {
      st.ep.events.off('rx', st.onRx);
      st.ep.events.off('tx', st.onTx);
      this.#releaseEndpoint(st.ep);
    }
    this.onClosed();
  }

  /** Call the endpoint's release hook, if any; its failures are logged, never thrown. */
  #releaseEndpoint(ep: ServedEndpoint): void {
    if (typeof ep.release !== 'function') return;
    const warn = (err: unknown): void => this.log.warn({ err }, 'endpoint release failed');
    try {
      void Promise.resolve(ep.release()).catch(warn);
    } catch (e) {
      warn(e);
    }
  }
}

/** The detail part of a HypError's message (its message is `CODE` or `CODE: detail`). */
function hypDetail(e: HypError): string {
  if (e.message === e.code) return '';
  return e.message.startsWith(`${e.code}: `) ? e.message.slice(e.code.length + 2) : e.message;
}
