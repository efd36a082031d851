/**
 * The host bridge daemon: serves one emulator's HostProcess contract to foreign VMM processes
 * over a Unix socket (protocol versions 1 and 2, docs/host-bridge-protocol.md). Each client is
 * its own HostProcess on the one kernel (`emu.newProcess()`); guest memory is shared through a
 * backing file per guest-memory fd (v17) or per anonymous user mapping (MMAP_ANON, the `gh_`
 * dialect's host user memory) in a directory the daemon owns, synced with the emulator's memory
 * at request boundaries; the vCPU run page travels with RUN, and a KICK (version 2) stores the
 * client's `immediate_exit` into it while a RUN is here; the client's eventfds are stood in
 * for by daemon-side eventfds (EVENTFD_REGISTER / SIGNAL / FIRE). The daemon serves the dialect
 * its emulator's kernel speaks (`emu.dialect`), and refuses clients of the other one.
 *
 * Reference: docs/host-bridge-protocol.md (every rule implemented here); uapi.md §6.4 (host
 * access to guest memory, SIGBUS), §8.13 (irqfd), §8.14 (ioeventfd), §5 (run page), §8.9
 * (immediate_exit and EINTR: KICK);
 * DESIGN.md "Public contracts" (HostProcess).
 *
 * Connection lifecycle:
 *
 *   hello ──HELLO ok──▶ open ──client closes / dies / malformed record / server close──▶ closing
 *     └─bad HELLO─▶ (WELCOME refused) ─▶ closed             closing: kick every vCPU (immediate_exit),
 *                                                                    closeAll(), remove backing files
 *
 * Nothing a client sends can throw out of a socket callback: a malformed record ends that
 * connection with an ERROR record; an exception that is not an ErrnoError (a model bug) does too.
 */
import * as fs from 'node:fs';
import * as net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Emulator } from '../emulator.js';
import type { HostProcess, Mapping } from '../host/process.js';
import { isEventFd, type EventFdFile } from '../host/eventfd.js';
import type { KernelFile } from '../host/kernel-file.js';
import { GuestMemFile } from '../vm-mgr/guest-mem.js';
import { AnonMemFile } from '../vm-mgr/anon-memory.js';
import { isErrnoError, Errno } from '../shared/errno.js';
import { SigbusError } from '../shared/sigbus-error.js';
import { silentLogger, type Logger } from '../shared/log.js';
import { WireError } from '../shared/wire-error.js';
import {
  GUNYAH_CREATE_GUEST_MEM,
  GUNYAH_CREATE_VM,
  GUNYAH_VCPU_RUN,
  GUNYAH_VM_ADD_FUNCTION,
  GUNYAH_VM_REMOVE_FUNCTION,
  _IOC_READ,
  decodeIoctl,
} from '../vm-mgr/uapi/ioctls.js';
import { GUNYAH_FN_VCPU } from '../vm-mgr/uapi/constants.js';
import { RUN_PAGE_SIZE } from '../vm-mgr/uapi/run-page.js';
import {
  BRIDGE_MIN_VERSION,
  BRIDGE_VERSION,
  BridgeDialect,
  EVENTFD_ROLE_SINK,
  HELLO_SIZE,
  MAX_ANON_LENGTH,
  MapKind,
  NewFdKind,
  RecordReader,
  decodeHello,
  decodeRecord,
  encodeRecord,
  encodeWelcome,
  magicPrefixOk,
  type BridgeDialectName,
  type BridgeRecord,
  type NewFdKindName,
  type BridgeRequest,
  type Range,
} from './bridge-wire.js';

const PAGE = 4096;
/** Pages of a backing file read with one read(2) in a pull (256 KiB). */
const PULL_CHUNK_PAGES = 64;
/** fcntl commands and flags (asm-generic, arm64). */
const F_GETFD = 1;
const F_SETFD = 2;
const F_GETFL = 3;
const F_SETFL = 4;
const FD_CLOEXEC = 1;
const O_ACCMODE = 3;
const O_NONBLOCK = 0x800;
const O_CLOEXEC = 0x8_0000;
/** Grace period for a closing socket to flush its last record. */
const CLOSE_GRACE_MS = 1000;

export interface BridgeListenOptions {
  /** Unix socket path. A stale socket file there is removed; a live one or a non-socket is refused. */
  readonly path: string;
  /** Where the per-server directory of backing files is made (default /dev/shm, else the tmpdir). */
  readonly shmDir?: string;
  /**
   * Dialect served. It is always the emulator's (`emu.dialect`); given and different, listening
   * fails with a TypeError (a v17 kernel cannot serve gh_ clients, nor the reverse).
   */
  readonly dialect?: BridgeDialectName;
  readonly log?: Logger;
}

export interface BridgeServer {
  readonly path: string;
  /** The dialect this daemon serves (its emulator's). */
  readonly dialect: BridgeDialectName;
  /** The directory holding the backing files. */
  readonly shmDir: string;
  readonly connectionCount: number;
  /** Resolves when every connection that has ended finished its teardown. */
  settled(): Promise<void>;
  /** Stop listening, end every connection (ERROR "server shutting down"), remove socket and directory. */
  close(): Promise<void>;
}

/** Listen for bridge clients on `opts.path`, serving `emu`. @throws Error when the path cannot be bound */
export async function listenBridge(emu: Emulator, opts: BridgeListenOptions): Promise<BridgeServer> {
  const dialect = emu.dialect;
  if (opts.dialect !== undefined && opts.dialect !== dialect) {
    throw new TypeError(`the emulator's kernel speaks ${dialect}; a bridge on it cannot serve dialect ${opts.dialect}`);
  }
  const log = (opts.log ?? silentLogger()).child({ layer: 'bridge' });
  const base = opts.shmDir ?? (fs.existsSync('/dev/shm') ? '/dev/shm' : tmpdir());
  const dir = fs.mkdtempSync(join(base, 'gunyah-emu-'));
  const conns = new Set<Connection>();
  const teardowns = new Set<Promise<void>>();
  let nextId = 1;
  const server = net.createServer({ allowHalfOpen: false }, (s) => {
    const id = nextId++;
    const c: Connection = new Connection(emu, dialect, s, id, dir, log.child({ client: id }), (done) => {
      conns.delete(c);
      teardowns.add(done);
      void done.finally(() => teardowns.delete(done));
    });
    conns.add(c);
  });
  await removeStaleSocket(opts.path);
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen({ path: opts.path }, () => {
      server.off('error', reject);
      resolve();
    });
  });
  server.on('error', (err) => log.error({ err }, 'bridge server error'));
  log.info({ path: opts.path, dir, dialect }, 'host bridge listening');
  let closing: Promise<void> | undefined;
  return {
    path: opts.path,
    dialect,
    shmDir: dir,
    get connectionCount() {
      return conns.size;
    },
    async settled() {
      while (teardowns.size > 0) await Promise.allSettled([...teardowns]);
    },
    close() {
      closing ??= (async () => {
        const stopped = new Promise<void>((resolve) => server.close(() => resolve()));
        for (const c of [...conns]) c.shutdown('server shutting down');
        await stopped;
        while (teardowns.size > 0) await Promise.allSettled([...teardowns]);
        fs.rmSync(dir, { recursive: true, force: true });
      })();
      return closing;
    },
  };
}

async function removeStaleSocket(path: string): Promise<void> {
  let st;
  try {
    st = fs.lstatSync(path);
  } catch {
    return;
  }
  if (!st.isSocket()) throw new Error(`${path} exists and is not a socket; not removing it`);
  const live = await new Promise<boolean>((resolve) => {
    const probe = net.createConnection({ path });
    probe.once('connect', () => {
      probe.destroy();
      resolve(true);
    });
    probe.once('error', () => resolve(false));
  });
  if (live) throw new Error(`${path}: a server is already listening there`);
  fs.unlinkSync(path);
}

function errText(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}

/** A model bug (not an errno): ends the connection. */
class ServerFault extends Error {
  override readonly name = 'ServerFault';
}

/**
 * A backing file, and what the daemon last synced through it: of one guest-memory file (v17,
 * shared by every mapping of it), or of one anonymous mapping (MMAP_ANON, its own file).
 */
interface Backing {
  /**
   * The kernel file it stands for: a guest-memory file, or the shmem file behind an anonymous
   * mapping (the mapping's page i is the file's page i). Both give `page(i, false)`: the page's
   * physical address without faulting it in.
   */
  readonly file: GuestMemFile | AnonMemFile;
  readonly path: string;
  readonly osFd: number;
  readonly pageCount: number;
  /** Page index → the bytes both sides last agreed on (absent: zeros). */
  readonly shadow: Map<number, Uint8Array>;
}

interface MapRec {
  readonly id: number;
  /** The mapped file (undefined for an anonymous mapping, which has no fd). */
  readonly file: KernelFile | undefined;
  readonly mapping: Mapping;
  readonly kind: 'file' | 'private' | 'anon';
  readonly backing?: Backing;
  /** Byte offset in the file. */
  readonly offset: number;
  readonly pages: number;
  /** Pages (relative to the mapping) last reported revoked. */
  readonly revoked: Set<number>;
  /**
   * Anonymous mappings: the pages the push just found unreadable, for the access report that
   * follows it (one probe per page per boundary, not two). Taken by that report.
   */
  unreadable?: Set<number> | undefined;
}

interface EfdRec {
  readonly id: number;
  readonly fd: number;
  readonly file: EventFdFile;
  readonly unwait: () => void;
}

const ZERO_PAGE = new Uint8Array(PAGE);
/** What a KICK stores at byte 0 of a run page (`immediate_exit`, uapi.md §5). Never written to. */
const KICK_BYTE = Uint8Array.of(1);

/** Byte-equal pages (memcmp through Buffer: a JS byte loop costs ~4 µs a page at every boundary). */
function samePage(a: Uint8Array, b: Uint8Array): boolean {
  return a.length === b.length && Buffer.from(a.buffer, a.byteOffset, a.byteLength).equals(b);
}

/** Page indices → merged byte ranges relative to a mapping. */
function toRanges(pages: readonly number[]): Range[] {
  const sorted = [...pages].sort((a, b) => a - b);
  const out: Array<{ offset: bigint; length: bigint }> = [];
  for (const p of sorted) {
    const last = out[out.length - 1];
    if (last && last.offset + last.length === BigInt(p * PAGE)) last.length += BigInt(PAGE);
    else out.push({ offset: BigInt(p * PAGE), length: BigInt(PAGE) });
  }
  return out;
}

function u64le(v: bigint): Uint8Array {
  const b = new Uint8Array(8);
  new DataView(b.buffer).setBigUint64(0, BigInt.asUintN(64, v), true);
  return b;
}

class Connection {
  #state: 'hello' | 'open' | 'closed' = 'hello';
  #hello = new Uint8Array(0);
  readonly #reader = new RecordReader();
  readonly #proc: HostProcess;
  readonly #backings = new Map<KernelFile, Backing>();
  readonly #maps = new Map<number, MapRec>();
  readonly #efds = new Map<number, EfdRec>();
  readonly #fdFlags = new Map<number, { cloexec: boolean; status: number }>();
  readonly #inflight = new Set<Promise<void>>();
  /** vCPU files made by this client's ADD_FUNCTION (kicked at teardown). */
  readonly #vcpuFiles = new Set<KernelFile>();
  /** vCPU file → RUN requests of it dispatched and not answered yet (what a KICK may end). */
  readonly #runsInFlight = new Map<KernelFile, number>();
  #nextMap = 1;
  #nextBacking = 1;
  /** Where a pull reads backing-file pages (PULL_CHUNK_PAGES pages, made on first use). */
  #pullBuf: Uint8Array | undefined;
  /** The protocol version of this connection (the client's, once accepted). */
  #version = BRIDGE_VERSION;
  pid = 0;

  constructor(
    readonly emu: Emulator,
    readonly dialect: BridgeDialectName,
    readonly sock: net.Socket,
    readonly id: number,
    readonly dir: string,
    readonly log: Logger,
    readonly onEnded: (teardown: Promise<void>) => void,
  ) {
    this.#proc = emu.newProcess();
    sock.setNoDelay(true);
    sock.on('data', (chunk: Buffer) => this.#guard(() => this.#onData(chunk)));
    sock.on('error', (err) => log.debug({ err }, 'bridge socket error'));
    sock.on('close', () => this.#end());
  }

  shutdown(reason: string): void {
    if (this.#state === 'open') this.#closeWith(encodeRecord({ type: 'ERROR', tag: 0, message: reason }));
    else if (this.#state === 'hello') this.#closeWith(encodeWelcome({ status: 'refused', version: BRIDGE_VERSION, reason }));
  }

  #guard(f: () => void): void {
    try {
      f();
    } catch (e) {
      this.#fail(e);
    }
  }

  #fail(e: unknown): void {
    if (this.#state === 'closed') return;
    if (this.#state === 'hello') return this.#refuse(`malformed handshake: ${errText(e)}`);
    let message: string;
    if (e instanceof WireError) {
      this.log.warn({ err: e }, 'malformed record; closing the connection');
      message = `malformed record: ${e.message}`;
    } else {
      this.log.error({ err: e }, 'bridge request failed in the model; closing the connection');
      message = `server error: ${errText(e)}`;
    }
    this.#closeWith(encodeRecord({ type: 'ERROR', tag: 0, message }));
  }

  #onData(chunk: Uint8Array): void {
    if (this.#state === 'closed') return;
    if (this.#state === 'hello') {
      const nb = new Uint8Array(this.#hello.length + chunk.length);
      nb.set(this.#hello);
      nb.set(chunk, this.#hello.length);
      this.#hello = nb;
      if (!magicPrefixOk(this.#hello)) return this.#refuse('not a host bridge client (bad magic)');
      if (this.#hello.length < HELLO_SIZE) return;
      const h = decodeHello(this.#hello.subarray(0, HELLO_SIZE));
      if (h.version < BRIDGE_MIN_VERSION || h.version > BRIDGE_VERSION) {
        return this.#refuse(`protocol version ${h.version} not supported (this server speaks ${BRIDGE_MIN_VERSION} to ${BRIDGE_VERSION})`);
      }
      const asked = h.dialect === BridgeDialect.v17 ? 'v17' : h.dialect === BridgeDialect.gh ? 'gh' : undefined;
      if (asked === undefined) return this.#refuse(`unknown dialect ${h.dialect}`);
      if (asked !== this.dialect) {
        return this.#refuse(`dialect ${asked} is not served here (this server serves ${this.dialect}; start it with --dialect ${asked})`);
      }
      if (asked === 'gh' && h.version < 2) return this.#refuse(`dialect gh needs protocol version 2 (the client speaks ${h.version})`);
      this.pid = h.pid;
      this.#version = h.version;
      this.#state = 'open';
      this.#write(encodeWelcome({ status: 'accepted', version: h.version, dialect: h.dialect, clientId: this.id }));
      this.log.info({ pid: h.pid, version: h.version, dialect: asked }, 'bridge client connected');
      chunk = this.#hello.subarray(HELLO_SIZE);
      this.#hello = new Uint8Array(0);
    }
    this.#reader.push(chunk);
    for (;;) {
      if (this.#state !== 'open') return;
      const raw = this.#reader.next();
      if (raw === undefined) return;
      this.#dispatch(decodeRecord(raw));
    }
  }

  #dispatch(rec: BridgeRecord): void {
    if (rec.type.endsWith('_R') || ['EVENTFD_FIRE', 'ACCESS_REVOKED', 'ACCESS_RESTORED', 'ERROR'].includes(rec.type)) {
      throw new WireError('bad-type', { what: `${rec.type} record sent by a client`, offset: 4 });
    }
    const req = rec as BridgeRequest;
    if ((req.type === 'MMAP_ANON' || req.type === 'KICK') && this.#version < 2) {
      throw new WireError('bad-type', { what: `${req.type} needs protocol version 2 (this connection speaks 1)`, offset: 4 });
    }
    if (req.type === 'EVENTFD_SIGNAL') return this.#signal(req.id, req.value);
    // KICK has no reply and is no sync boundary: it only touches the run page.
    if (req.type === 'KICK') return this.#kick(req.fd);
    // Every other request is a sync boundary: pull before it starts, push after it ends.
    this.#pullAll();
    const p = this.#handle(req).then(
      (reply) => {
        // A new mapping's access is reported after its reply (the client must know the id first).
        const newMap = (reply.type === 'MMAP_R' || reply.type === 'MMAP_ANON_R') && reply.errno === 0 ? reply.id : undefined;
        this.#pushAll(newMap);
        this.#write(encodeRecord(reply));
        if (newMap !== undefined) this.#reportAccess(this.#maps.get(newMap));
      },
      (e: unknown) => this.#fail(e),
    ).catch((e: unknown) => this.#fail(e)); // a sync or write fault after the request: same end
    this.#inflight.add(p);
    void p.finally(() => this.#inflight.delete(p));
  }

  /** Run a request; ErrnoError → errno reply; anything else rejects (ends the connection). */
  async #handle(req: Exclude<BridgeRequest, { type: 'EVENTFD_SIGNAL' | 'KICK' }>): Promise<BridgeRecord> {
    const tag = req.tag;
    const errno = (e: unknown): number => {
      if (isErrnoError(e)) return e.errno;
      throw new ServerFault(`${req.type}: ${errText(e)}`, { cause: e });
    };
    const proc = this.#proc;
    switch (req.type) {
      case 'OPEN':
        try {
          const fd = proc.open(req.path);
          this.#fdFlags.set(fd, { cloexec: (req.flags & O_CLOEXEC) !== 0, status: req.flags & (O_ACCMODE | O_NONBLOCK) });
          return { type: 'OPEN_R', tag, errno: 0, fd };
        } catch (e) {
          return { type: 'OPEN_R', tag, errno: errno(e), fd: -1 };
        }
      case 'CLOSE':
        try {
          const had = proc.openFiles().some((f) => f.fd === req.fd);
          if (!had) return { type: 'CLOSE_R', tag, errno: Errno.EBADF };
          for (const e of this.#efds.values()) if (e.fd === req.fd) this.#dropEfd(e);
          this.#fdFlags.delete(req.fd);
          await proc.close(req.fd);
          this.#gcBackings();
          return { type: 'CLOSE_R', tag, errno: 0 };
        } catch (e) {
          return { type: 'CLOSE_R', tag, errno: errno(e) };
        }
      case 'DUP':
        try {
          const fd = proc.dup(req.fd);
          this.#fdFlags.set(fd, { cloexec: false, status: this.#flags(req.fd).status });
          return { type: 'DUP_R', tag, errno: 0, fd };
        } catch (e) {
          return { type: 'DUP_R', tag, errno: errno(e), fd: -1 };
        }
      case 'FCNTL':
        return this.#fcntl(req);
      case 'IOCTL':
        return this.#ioctl(req);
      case 'RUN':
        return this.#run(req);
      case 'MMAP':
        return this.#mmap(req);
      case 'MMAP_ANON':
        return this.#mmapAnon(req);
      case 'MUNMAP': {
        const m = this.#maps.get(req.id);
        if (m === undefined) return { type: 'MUNMAP_R', tag, errno: Errno.EINVAL };
        this.#pullMap(m);
        this.#maps.delete(req.id);
        // An anonymous mapping's file goes with it (pages a VM pinned stay with the VM).
        if (m.kind === 'anon' && m.backing !== undefined) this.#removeBacking(m.backing);
        try {
          await m.mapping.unmap();
        } catch (e) {
          return { type: 'MUNMAP_R', tag, errno: errno(e) };
        }
        this.#gcBackings();
        return { type: 'MUNMAP_R', tag, errno: 0 };
      }
      case 'FALLOCATE':
        try {
          await proc.fallocate(req.fd, req.mode, Number(req.offset), Number(req.length));
          return { type: 'FALLOCATE_R', tag, errno: 0 };
        } catch (e) {
          return { type: 'FALLOCATE_R', tag, errno: errno(e) };
        }
      case 'EVENTFD_REGISTER':
        return this.#register(req.tag, req.roles);
      case 'EVENTFD_UNREGISTER': {
        const e = this.#efds.get(req.id);
        if (e === undefined) return { type: 'EVENTFD_UNREGISTER_R', tag, errno: Errno.EINVAL };
        this.#dropEfd(e);
        this.#fdFlags.delete(e.fd);
        await proc.close(e.fd).catch(() => {});
        return { type: 'EVENTFD_UNREGISTER_R', tag, errno: 0 };
      }
    }
  }

  #flags(fd: number): { cloexec: boolean; status: number } {
    return this.#fdFlags.get(fd) ?? { cloexec: false, status: 2 };
  }

  #fcntl(req: BridgeRequest & { type: 'FCNTL' }): BridgeRecord {
    const tag = req.tag;
    if (!this.#proc.openFiles().some((f) => f.fd === req.fd)) return { type: 'FCNTL_R', tag, errno: Errno.EBADF, result: -1 };
    const fl = this.#flags(req.fd);
    switch (req.cmd) {
      case F_GETFD:
        return { type: 'FCNTL_R', tag, errno: 0, result: fl.cloexec ? FD_CLOEXEC : 0 };
      case F_SETFD:
        this.#fdFlags.set(req.fd, { ...fl, cloexec: (req.arg & BigInt(FD_CLOEXEC)) !== 0n });
        return { type: 'FCNTL_R', tag, errno: 0, result: 0 };
      case F_GETFL:
        return { type: 'FCNTL_R', tag, errno: 0, result: fl.status };
      case F_SETFL:
        this.#fdFlags.set(req.fd, { ...fl, status: (fl.status & O_ACCMODE) | (Number(req.arg & 0xffff_ffffn) & O_NONBLOCK) });
        return { type: 'FCNTL_R', tag, errno: 0, result: 0 };
      default:
        return { type: 'FCNTL_R', tag, errno: Errno.EINVAL, result: -1 };
    }
  }

  async #ioctl(req: BridgeRequest & { type: 'IOCTL' }): Promise<BridgeRecord> {
    const proc = this.#proc;
    const tag = req.tag;
    const fail = (n: number): BridgeRecord => ({ type: 'IOCTL_R', tag, errno: n, result: -1, newFdKind: 0, out: new Uint8Array(0), gmemSize: 0n, path: '' });
    const ptrs: bigint[] = [];
    try {
      let arg = req.arg;
      let structPtr = 0n;
      if (req.struct !== undefined) {
        const st = req.struct.slice();
        const blobAt = new Map<bigint, bigint>();
        for (const b of req.blobs) {
          const p = proc.malloc(Math.max(b.bytes.length, 1));
          ptrs.push(p);
          proc.poke(p, b.bytes);
          blobAt.set(b.addr, p);
        }
        // v17 followed pointer: gunyah_fn_desc.arg @8 (uapi.md §3).
        if ((req.request === GUNYAH_VM_ADD_FUNCTION || req.request === GUNYAH_VM_REMOVE_FUNCTION) && st.length >= 16) {
          const dv = new DataView(st.buffer, st.byteOffset, st.byteLength);
          const local = blobAt.get(dv.getBigUint64(8, true));
          if (local !== undefined) dv.setBigUint64(8, local, true);
        }
        structPtr = proc.malloc(st.length);
        ptrs.push(structPtr);
        proc.poke(structPtr, st);
        arg = structPtr;
      }
      let result: number;
      try {
        result = await proc.ioctl(req.fd, req.request, arg);
      } catch (e) {
        if (isErrnoError(e)) return fail(e.errno);
        throw new ServerFault(`IOCTL 0x${req.request.toString(16)}: ${errText(e)}`, { cause: e });
      }
      const { dir, size } = decodeIoctl(req.request);
      const out = req.struct !== undefined && (dir & _IOC_READ) !== 0 ? proc.peek(structPtr, size) : new Uint8Array(0);
      let newFdKind: number = NewFdKind.none;
      let gmemSize = 0n;
      let path = '';
      const makes = this.#createsFd(req);
      if (makes !== undefined && result >= 0) {
        const f = proc.openFiles().find((x) => x.fd === result)?.file;
        if (f instanceof GuestMemFile) {
          newFdKind = NewFdKind.guestMem;
          const b = this.#backing(f);
          gmemSize = BigInt(f.size);
          path = b.path;
        } else if (f !== undefined && makes !== 'guestMem') {
          newFdKind = NewFdKind[makes];
          if (makes === 'vcpu') this.#vcpuFiles.add(f);
        }
        this.#fdFlags.set(result, { cloexec: false, status: 2 });
      }
      return { type: 'IOCTL_R', tag, errno: 0, result, newFdKind, out, gmemSize, path };
    } catch (e) {
      if (e instanceof ServerFault) throw e;
      if (isErrnoError(e)) return fail(e.errno);
      throw new ServerFault(`IOCTL: ${errText(e)}`, { cause: e });
    } finally {
      for (const p of ptrs) proc.free(p);
    }
  }

  /**
   * What kind of new fd the request's non-negative result is, if it makes one. The numbers are
   * the same in both dialects (README.md §Dialects: nr 0x0 and 0x4 are shared; nr 0x8 is ENOTTY
   * in gh_, so it never makes an fd there).
   */
  #createsFd(req: BridgeRequest & { type: 'IOCTL' }): Exclude<NewFdKindName, 'none'> | undefined {
    if (req.request === GUNYAH_CREATE_VM) return 'vm';
    if (req.request === GUNYAH_CREATE_GUEST_MEM) return 'guestMem';
    if (req.request === GUNYAH_VM_ADD_FUNCTION && req.struct !== undefined) {
      if (new DataView(req.struct.buffer, req.struct.byteOffset, req.struct.byteLength).getUint32(0, true) === GUNYAH_FN_VCPU) return 'vcpu';
    }
    return undefined;
  }

  /** The backing file of a guest-memory file, made on first sight. */
  #backing(f: GuestMemFile): Backing {
    let b = this.#backings.get(f);
    if (b === undefined) {
      const path = join(this.dir, `c${this.id}-g${this.#nextBacking++}`);
      const osFd = fs.openSync(path, 'w+', 0o600);
      fs.ftruncateSync(osFd, f.size);
      b = { file: f, path, osFd, pageCount: f.pageCount, shadow: new Map() };
      this.#backings.set(f, b);
    }
    return b;
  }

  /** Remove backing files whose guest-memory file has no fd and no mapping left in this process. */
  #gcBackings(): void {
    const open = new Set(this.#proc.openFiles().map((f) => f.file));
    const mapped = new Set([...this.#maps.values()].map((m) => m.file));
    for (const [f, b] of this.#backings) {
      if (open.has(f) || mapped.has(f)) continue;
      this.#backings.delete(f);
      this.#removeBacking(b);
    }
  }

  #removeBacking(b: Backing): void {
    try {
      fs.closeSync(b.osFd);
    } catch {
      // already closed
    }
    try {
      fs.unlinkSync(b.path);
    } catch (err) {
      this.log.warn({ err, path: b.path }, 'cannot remove a backing file');
    }
  }

  /** The live private mapping (run page) of vCPU file `file` in this client, if any. */
  #runPageOf(file: KernelFile): MapRec | undefined {
    for (const m of this.#maps.values()) if (m.kind === 'private' && m.file === file) return m;
    return undefined;
  }

  async #run(req: BridgeRequest & { type: 'RUN' }): Promise<BridgeRecord> {
    const tag = req.tag;
    const file = this.#proc.openFiles().find((f) => f.fd === req.fd)?.file;
    const page = file === undefined ? undefined : this.#runPageOf(file);
    // In flight from here (this runs as the record is dispatched) until the reply is made: a
    // KICK that arrives meanwhile may end it.
    if (file !== undefined) this.#runsInFlight.set(file, (this.#runsInFlight.get(file) ?? 0) + 1);
    try {
      if (page !== undefined && req.page.length > 0) page.mapping.write(0, req.page);
      const result = await this.#proc.ioctl(req.fd, GUNYAH_VCPU_RUN, 0);
      return { type: 'RUN_R', tag, errno: 0, result, page: page ? page.mapping.read(0, RUN_PAGE_SIZE) : new Uint8Array(0) };
    } catch (e) {
      if (!isErrnoError(e)) throw new ServerFault(`RUN: ${errText(e)}`, { cause: e });
      return { type: 'RUN_R', tag, errno: e.errno, result: -1, page: page ? page.mapping.read(0, RUN_PAGE_SIZE) : new Uint8Array(0) };
    } finally {
      if (file !== undefined) {
        const n = (this.#runsInFlight.get(file) ?? 1) - 1;
        if (n > 0) this.#runsInFlight.set(file, n);
        else this.#runsInFlight.delete(file);
      }
    }
  }

  /**
   * KICK (docs/host-bridge-protocol.md): the client set `immediate_exit` in its copy of the run
   * page while a RUN of that vCPU is here. The daemon stores 1 at byte 0 of the real run page
   * through the client's mapping, as the VMM's store would in process: a RUN sleeping for a
   * wakeup ends with EINTR (the mapping's kick), a RUN in the loop ends with EINTR at its next
   * iteration (uapi.md §8.9). A KICK for an fd that is not a vCPU of this client, for a vCPU
   * whose run page the client has not mapped, or with no RUN of it in flight (it ended before
   * the KICK came; the client's page goes with its next RUN anyway) changes nothing: it is
   * logged and dropped, as an unknown EVENTFD_SIGNAL is.
   */
  #kick(fd: number): void {
    const file = this.#proc.openFiles().find((f) => f.fd === fd)?.file;
    const drop = (why: string): void => this.log.debug({ fd, why }, 'KICK dropped');
    if (file === undefined) return drop('fd not open');
    if (!this.#vcpuFiles.has(file)) return drop('not a vCPU fd');
    const page = this.#runPageOf(file);
    if (page === undefined) return drop('run page not mapped');
    if (!this.#runsInFlight.has(file)) return drop('no RUN in flight');
    this.log.debug({ fd }, 'KICK: immediate_exit set in the run page');
    page.mapping.write(0, KICK_BYTE);
  }

  #mmap(req: BridgeRequest & { type: 'MMAP' }): BridgeRecord {
    const tag = req.tag;
    const fail = (n: number): BridgeRecord => ({ type: 'MMAP_R', tag, errno: n, id: 0, kind: 0, length: 0n, fileOffset: 0n, data: new Uint8Array(0) });
    if (req.length > BigInt(Number.MAX_SAFE_INTEGER) || req.offset > BigInt(Number.MAX_SAFE_INTEGER)) return fail(Errno.EINVAL);
    const file = this.#proc.openFiles().find((f) => f.fd === req.fd)?.file;
    let mapping: Mapping;
    try {
      mapping = this.#proc.mmap(req.fd, Number(req.length), Number(req.offset));
    } catch (e) {
      if (isErrnoError(e)) return fail(e.errno);
      throw new ServerFault(`MMAP: ${errText(e)}`, { cause: e });
    }
    const id = this.#nextMap++;
    const offset = Number(req.offset);
    if (file instanceof GuestMemFile) {
      const backing = this.#backing(file);
      const m: MapRec = { id, file, mapping, kind: 'file', backing, offset, pages: mapping.length / PAGE, revoked: new Set() };
      this.#maps.set(id, m);
      // Writes the client made to the file before this mapping existed, then the guest's view.
      this.#pullMap(m);
      this.#pushMap(m);
      return { type: 'MMAP_R', tag, errno: 0, id, kind: MapKind.file, length: BigInt(mapping.length), fileOffset: req.offset, data: new TextEncoder().encode(backing.path) };
    }
    const m: MapRec = { id, file: file!, mapping, kind: 'private', offset, pages: mapping.length / PAGE, revoked: new Set() };
    this.#maps.set(id, m);
    let data: Uint8Array;
    try {
      data = mapping.read(0, Math.min(RUN_PAGE_SIZE, mapping.length));
    } catch {
      data = new Uint8Array(0);
    }
    return { type: 'MMAP_R', tag, errno: 0, id, kind: MapKind.private, length: BigInt(mapping.length), fileOffset: req.offset, data };
  }

  /**
   * MMAP_ANON: `mmap(NULL, length, PROT_READ|PROT_WRITE, MAP_SHARED|MAP_ANONYMOUS, -1, 0)` in the
   * client's process, with a backing file of its own for the client to map over its memory.
   */
  #mmapAnon(req: BridgeRequest & { type: 'MMAP_ANON' }): BridgeRecord {
    const tag = req.tag;
    const fail = (n: number): BridgeRecord => ({ type: 'MMAP_ANON_R', tag, errno: n, id: 0, kind: 0, length: 0n, addr: 0n, path: '' });
    if (req.length === 0n) return fail(Errno.EINVAL);
    if (req.length > BigInt(MAX_ANON_LENGTH)) return fail(Errno.ENOMEM);
    let mapping: Mapping;
    try {
      mapping = this.#proc.mmapAnonymous(Number(req.length));
    } catch (e) {
      if (isErrnoError(e)) return fail(e.errno);
      throw new ServerFault(`MMAP_ANON: ${errText(e)}`, { cause: e });
    }
    // The shmem file behind the mapping (HostProcess.mmapAnonymous: the kernel's anonymousMemory).
    const shmem = this.#proc.liveMappings().find((x) => x.addr === mapping.addr)?.file;
    if (!(shmem instanceof AnonMemFile)) {
      void mapping.unmap();
      throw new ServerFault('MMAP_ANON: the mapping is not backed by the kernel\'s shmem');
    }
    const path = join(this.dir, `c${this.id}-a${this.#nextBacking++}`);
    let osFd: number;
    try {
      osFd = fs.openSync(path, 'w+', 0o600);
      fs.ftruncateSync(osFd, mapping.length);
    } catch (e) {
      void mapping.unmap();
      this.log.error({ err: e, path }, 'cannot make the backing file of an anonymous mapping');
      return fail(Errno.ENOMEM);
    }
    const id = this.#nextMap++;
    const pages = mapping.length / PAGE;
    const backing: Backing = { file: shmem, path, osFd, pageCount: pages, shadow: new Map() };
    const m: MapRec = { id, file: undefined, mapping, kind: 'anon', backing, offset: 0, pages, revoked: new Set() };
    this.#maps.set(id, m);
    return { type: 'MMAP_ANON_R', tag, errno: 0, id, kind: MapKind.anon, length: BigInt(mapping.length), addr: mapping.addr, path };
  }

  // ── guest memory sync (docs/host-bridge-protocol.md "Guest memory") ──────────────────────────

  /**
   * Backing-file pages [index, index + count) (count ≤ PULL_CHUNK_PAGES), read with one read(2)
   * into the pull buffer; valid until the next call. Bytes past the end of the file read as zeros.
   */
  #readFilePages(b: Backing, index: number, count: number): Uint8Array {
    this.#pullBuf ??= new Uint8Array(PULL_CHUNK_PAGES * PAGE);
    const buf = this.#pullBuf.subarray(0, count * PAGE);
    const got = fs.readSync(b.osFd, buf, 0, buf.length, index * PAGE);
    if (got < buf.length) buf.fill(0, got);
    return buf;
  }

  /** Client-dirty pages (file ≠ shadow) go into the emulator through the mapping. */
  #pullMap(m: MapRec): void {
    const b = m.backing;
    if (b === undefined) return;
    const first = m.offset / PAGE;
    const pages = Math.max(0, Math.min(m.pages, b.pageCount - first));
    for (let c = 0; c < pages; c += PULL_CHUNK_PAGES) {
      const count = Math.min(PULL_CHUNK_PAGES, pages - c);
      const chunk = this.#readFilePages(b, first + c, count);
      for (let k = 0; k < count; k++) {
        const p = c + k;
        const gi = first + p;
        const now = chunk.subarray(k * PAGE, (k + 1) * PAGE);
        const was = b.shadow.get(gi) ?? ZERO_PAGE;
        if (samePage(now, was)) continue;
        this.#pullPage(m, b, p, gi, now.slice(), was);
      }
    }
  }

  /** Client-dirty page `p` of `m` (`now`, its own copy) into the emulator, or the file reverted. */
  #pullPage(m: MapRec, b: Backing, p: number, gi: number, now: Uint8Array, was: Uint8Array): void {
    // A page of host user memory lent to a VM is known without touching it (no SIGBUS to catch).
    if (b.file instanceof AnonMemFile && !this.#hostMay(b, gi, 'write')) {
      fs.writeSync(b.osFd, was, 0, PAGE, gi * PAGE);
      return;
    }
    try {
      m.mapping.write(p * PAGE, now);
      b.shadow.set(gi, now);
    } catch (e) {
      if (!(e instanceof SigbusError)) throw e;
      // The host may not touch the page: the client's write is dropped, the file reverts.
      fs.writeSync(b.osFd, was, 0, PAGE, gi * PAGE);
    }
  }

  /** True when the host may `kind` page `gi` of `b`'s file now (a page never touched: yes). */
  #hostMay(b: Backing, gi: number, kind: 'read' | 'write'): boolean {
    const pa = b.file.page(gi, false);
    return pa === undefined || this.emu.hyp.host.probeMemory(pa, PAGE, kind) === undefined;
  }

  /**
   * Page `gi` of `b`'s file as the host sees it now, or undefined when the host cannot read it.
   * Physical memory is read without faulting anything in (a sync is not a host touch): a page
   * never touched reads as zeros; a page the host lost (lent to a guest) is found by asking the
   * hypervisor, with no SIGBUS taken. The same for guest-memory files and for the shmem file
   * behind an anonymous mapping.
   */
  #hostPage(b: Backing, gi: number): Uint8Array | undefined {
    const host = this.emu.hyp.host;
    const pa = b.file.page(gi, false);
    if (pa === undefined) return ZERO_PAGE;
    if (host.probeMemory(pa, PAGE, 'read') !== undefined) return undefined;
    return host.readMemory(pa, PAGE);
  }

  /** Pages the host can read whose contents differ from the shadow go to the file. */
  #pushMap(m: MapRec): void {
    const b = m.backing;
    if (b === undefined) return;
    const first = m.offset / PAGE;
    const unreadable = m.kind === 'anon' ? new Set<number>() : undefined;
    m.unreadable = unreadable;
    for (let p = 0; p < m.pages; p++) {
      const gi = first + p;
      if (gi >= b.pageCount) break;
      const now = this.#hostPage(b, gi);
      if (now === undefined) {
        unreadable?.add(p);
        continue;
      }
      const was = b.shadow.get(gi) ?? ZERO_PAGE;
      if (samePage(now, was)) continue;
      fs.writeSync(b.osFd, now, 0, PAGE, gi * PAGE);
      if (now === ZERO_PAGE) b.shadow.delete(gi);
      else b.shadow.set(gi, now.slice());
    }
  }

  /** Pages of `m` the host cannot read now (allocated and not readable on its stage 2). */
  #revokedNow(m: MapRec): Set<number> {
    const cached = m.unreadable;
    m.unreadable = undefined;
    if (cached !== undefined) return cached;
    const out = new Set<number>();
    const b = m.backing;
    if (b === undefined) return out;
    const first = m.offset / PAGE;
    for (let p = 0; p < m.pages; p++) {
      const gi = first + p;
      if (gi >= b.pageCount) break;
      if (!this.#hostMay(b, gi, 'read')) out.add(p);
    }
    return out;
  }

  /** ACCESS_REVOKED / ACCESS_RESTORED for the pages of `m` whose access changed. */
  #reportAccess(m: MapRec | undefined): void {
    if (m === undefined || m.kind === 'private' || !this.#maps.has(m.id)) return;
    const now = this.#revokedNow(m);
    const lost = [...now].filter((p) => !m.revoked.has(p));
    const back = [...m.revoked].filter((p) => !now.has(p));
    for (const p of lost) m.revoked.add(p);
    for (const p of back) m.revoked.delete(p);
    if (lost.length > 0) this.#write(encodeRecord({ type: 'ACCESS_REVOKED', tag: 0, id: m.id, ranges: toRanges(lost) }));
    if (back.length > 0) this.#write(encodeRecord({ type: 'ACCESS_RESTORED', tag: 0, id: m.id, ranges: toRanges(back) }));
  }

  #pullAll(): void {
    for (const m of this.#maps.values()) this.#pullMap(m);
  }

  #pushAll(skipReport?: number): void {
    for (const m of [...this.#maps.values()]) {
      this.#pushMap(m);
      if (m.id !== skipReport) this.#reportAccess(m);
    }
  }

  // ── eventfds ────────────────────────────────────────────────────────────────────────────────

  #register(tag: number, roles: number): BridgeRecord {
    const fd = this.#proc.eventfd(0, 0);
    const file = this.#proc.openFiles().find((f) => f.fd === fd)?.file;
    if (!isEventFd(file)) throw new ServerFault('eventfd() did not make an eventfd');
    const id = fd;
    let unwait = (): void => {};
    if ((roles & EVENTFD_ROLE_SINK) !== 0) {
      unwait = file.addWaiter(() => {
        const v = file.counter;
        if (v === 0n) return;
        void file.read(8).catch(() => {}); // consumes the whole count (not a semaphore)
        this.#write(encodeRecord({ type: 'EVENTFD_FIRE', tag: 0, id, value: v }));
      });
    }
    this.#efds.set(id, { id, fd, file, unwait });
    this.#fdFlags.set(fd, { cloexec: false, status: 2 });
    return { type: 'EVENTFD_REGISTER_R', tag, errno: 0, id, fd };
  }

  #dropEfd(e: EfdRec): void {
    e.unwait();
    this.#efds.delete(e.id);
  }

  #signal(id: number, value: bigint): void {
    const e = this.#efds.get(id);
    if (e === undefined) return void this.log.debug({ id }, 'EVENTFD_SIGNAL for an unknown id; ignored');
    try {
      this.#proc.write(e.fd, u64le(value));
    } catch (err) {
      if (!isErrnoError(err)) throw err;
      this.log.debug({ err, id }, 'EVENTFD_SIGNAL write failed; ignored');
    }
  }

  // ── lifetime ────────────────────────────────────────────────────────────────────────────────

  #write(bytes: Uint8Array): void {
    if (this.#state !== 'closed' && !this.sock.destroyed && this.sock.writable) this.sock.write(bytes);
  }

  #refuse(reason: string): void {
    this.log.info({ reason }, 'bridge handshake refused');
    this.#closeWith(encodeWelcome({ status: 'refused', version: BRIDGE_VERSION, reason }));
  }

  #closeWith(last: Uint8Array): void {
    if (this.#state === 'closed') return;
    const s = this.sock;
    if (!s.destroyed && s.writable) s.write(last);
    this.#end();
    s.end(() => s.destroy());
    setTimeout(() => s.destroy(), CLOSE_GRACE_MS).unref();
  }

  /** The client is gone: tear its process down (once). */
  #end(): void {
    if (this.#state === 'closed') return;
    const wasOpen = this.#state === 'open';
    this.#state = 'closed';
    this.onEnded(wasOpen ? this.#teardown() : Promise.resolve(this.#proc.closeAll().catch(() => {})));
  }

  async #teardown(): Promise<void> {
    const proc = this.#proc;
    for (const e of [...this.#efds.values()]) this.#dropEfd(e);
    // Process death: a RUN sleeping in the kernel is woken as a signal would (immediate_exit).
    const kicked = new Set<KernelFile>();
    for (const f of proc.openFiles()) {
      if (!this.#vcpuFiles.has(f.file) || kicked.has(f.file)) continue;
      kicked.add(f.file);
      try {
        const m = proc.mmap(f.fd, PAGE, 0);
        m.write(0, Uint8Array.of(1));
        await m.unmap();
      } catch (err) {
        this.log.debug({ err }, 'cannot kick a vCPU at teardown');
      }
    }
    const anon = [...this.#maps.values()].flatMap((m) => (m.kind === 'anon' && m.backing !== undefined ? [m.backing] : []));
    this.#maps.clear();
    for (const b of anon) this.#removeBacking(b);
    this.#vcpuFiles.clear();
    try {
      await proc.closeAll();
    } catch (err) {
      this.log.error({ err }, 'releases failed at client teardown');
    }
    while (this.#inflight.size > 0) await Promise.allSettled([...this.#inflight]);
    for (const b of this.#backings.values()) this.#removeBacking(b);
    this.#backings.clear();
    this.log.info({ pid: this.pid }, 'bridge client gone; its process is torn down');
  }
}
