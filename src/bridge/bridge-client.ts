/**
 * A TypeScript client of the host bridge (protocol versions 1 and 2): the HostLike contract of
 * src/vmm/host-like.ts over the daemon's socket, so the typed layer (src/vmm) runs through the
 * bridge exactly as it runs in process. It does what the LD_PRELOAD shim does for a C VMM: a
 * local fd table mapped onto the daemon's fds (translating the fd fields of the v17 structs),
 * the user memory and the eventfds of the process itself, guest memory read and written in the
 * daemon's backing file, a private copy of each vCPU run page carried by RUN, and the
 * followed `gunyah_fn_desc.arg` pointer sent as a blob. Setting `immediate_exit` through a run-page
 * mapping while a RUN of that vCPU is away sends a KICK (version 2), so a RUN sleeping in the
 * daemon ends with EINTR as it would in process. `mmapAnonymous` (version 2, MMAP_ANON)
 * gives the anonymous shared user memory a `gh_` VMM registers; having no memory of its own to
 * convert, the client hands out the daemon's address, which goes into `userspace_addr` as is.
 *
 * Reference: docs/host-bridge-protocol.md (the client's duties: "What a client does"; RUN and
 * KICK); uapi.md §1 (sizes from the request number), §3 (struct layouts), §5 (run page), §8.9
 * (immediate_exit).
 *
 * Calls the contract makes synchronous (open, mmap, write) send their record at once and do not
 * wait: requests leave in call order, and a later call that needs an earlier answer (the daemon
 * fd of an `open`) waits for it before its own record is sent. An `open` that fails therefore
 * reports its errno on the first use of the fd, not from `open` itself.
 */
import * as fs from 'node:fs';
import * as net from 'node:net';
import { EventFdFile, isEventFd } from '../host/eventfd.js';
import { ProcessMemory } from '../host/user-memory.js';
import { ErrnoError, errnoNameOf } from '../shared/errno.js';
import { SigbusError } from '../shared/sigbus-error.js';
import {
  GUNYAH_VCPU_RUN,
  GUNYAH_VM_ADD_FUNCTION,
  GUNYAH_VM_MAP_MEM,
  GUNYAH_VM_REMOVE_FUNCTION,
  _IOC_READ,
  decodeIoctl,
} from '../vm-mgr/uapi/ioctls.js';
import { GUNYAH_FN_IOEVENTFD, GUNYAH_FN_IRQFD } from '../vm-mgr/uapi/constants.js';
import { RUN_IMMEDIATE_EXIT, RUN_PAGE_SIZE } from '../vm-mgr/uapi/run-page.js';
import {
  BRIDGE_VERSION,
  BridgeDialect,
  type BridgeDialectName,
  EVENTFD_ROLE_SINK,
  EVENTFD_ROLE_SOURCE,
  MapKind,
  NewFdKind,
  RecordReader,
  decodeRecord,
  decodeWelcome,
  encodeHello,
  encodeRecord,
  welcomeSize,
  type Blob,
  type BridgeNotice,
  type BridgeRecord,
  type BridgeRequest,
} from './bridge-wire.js';

const PAGE = 4096;
const O_RDWR = 2;

/** Why a bridge call failed other than with an errno. */
export class BridgeError extends Error {
  override readonly name = 'BridgeError';
  constructor(
    readonly reason: 'connect' | 'refused' | 'closed' | 'protocol' | 'remote',
    message: string,
  ) {
    super(message);
  }
}

/** A daemon fd as the client holds it. */
interface RemoteFile {
  readonly kind: 'remote';
  readonly rfd: Promise<number>;
  known?: number;
  newFdKind: number;
  gmemPath?: string;
  gmemSize?: number;
  /** vCPU: RUN requests of this fd sent and not answered yet. */
  runsAway?: number;
  /** vCPU: a KICK went (or is not needed) for the RUNs now away. */
  kickDone?: boolean;
}

interface LocalEventfd {
  readonly kind: 'eventfd';
  readonly file: EventFdFile;
  reg?: Promise<{ id: number; rfd: number; roles: number }>;
}

type LocalFile = RemoteFile | LocalEventfd;

/** A live mapping as the client holds it. */
interface ClientMapping {
  readonly id: Promise<number>;
  knownId?: number;
  readonly addr: bigint;
  readonly length: number;
  readonly revoked: Set<number>;
  /** Private run page copy (vCPU), or undefined for a file mapping. */
  readonly page?: Uint8Array;
  /** The mapped fd's file; undefined for an anonymous mapping. */
  readonly file: RemoteFile | undefined;
}

/** An anonymous shared mapping (MMAP_ANON) as the client holds it. */
export interface BridgeAnonMapping {
  /** The mapping's address in the client's emulated process: what `userspace_addr` names. */
  readonly addr: bigint;
  readonly length: number;
  /** The daemon's backing file. */
  readonly path: string;
  /** @throws SigbusError on a page the host lost (ACCESS_REVOKED); ErrnoError EFAULT outside */
  read(offset: number, length: number): Uint8Array;
  write(offset: number, bytes: Uint8Array): void;
  unmap(): Promise<void>;
}

type Reply = Extract<BridgeRecord, { type: `${string}_R` }>;

function errnoError(n: number, what: string): ErrnoError {
  return new ErrnoError(errnoNameOf(n) ?? 'EIO', `${what} (errno ${n})`);
}

/** Connect to a daemon at `path` and shake hands. @throws BridgeError 'connect' | 'refused' | 'protocol' */
export async function connectBridge(path: string, opts: { pid?: number; dialect?: BridgeDialectName; version?: number } = {}): Promise<BridgeClient> {
  const s = net.createConnection({ path });
  await new Promise<void>((resolve, reject) => {
    s.once('connect', resolve);
    s.once('error', (e) => reject(new BridgeError('connect', `cannot connect to ${path}: ${e.message}`)));
  });
  s.setNoDelay(true);
  s.write(encodeHello({ version: opts.version ?? BRIDGE_VERSION, dialect: BridgeDialect[opts.dialect ?? 'v17'], pid: opts.pid ?? process.pid }));
  const { welcome, rest } = await new Promise<{ welcome: Uint8Array; rest: Uint8Array }>((resolve, reject) => {
    let buf = new Uint8Array(0);
    const onData = (chunk: Buffer): void => {
      const nb = new Uint8Array(buf.length + chunk.length);
      nb.set(buf);
      nb.set(chunk, buf.length);
      buf = nb;
      const need = welcomeSize(buf);
      if (need === undefined || buf.length < need) return;
      s.off('data', onData);
      s.off('close', onClose);
      resolve({ welcome: buf.subarray(0, need), rest: buf.subarray(need) });
    };
    const onClose = (): void => reject(new BridgeError('closed', 'the daemon closed the connection during the handshake'));
    s.on('data', onData);
    s.once('close', onClose);
  });
  let w;
  try {
    w = decodeWelcome(welcome);
  } catch (e) {
    s.destroy();
    throw new BridgeError('protocol', `bad WELCOME: ${e instanceof Error ? e.message : String(e)}`);
  }
  if (w.status === 'refused') {
    s.destroy();
    throw new BridgeError('refused', w.reason);
  }
  return new BridgeClient(s, w.clientId, rest, opts.dialect ?? 'v17', w.version);
}

/** The HostLike contract over a bridge connection. */
export class BridgeClient {
  readonly #sock: net.Socket;
  readonly #reader = new RecordReader();
  readonly #mem = new ProcessMemory();
  readonly #fds = new Map<number, LocalFile>();
  readonly #maps = new Set<ClientMapping>();
  readonly #pending = new Map<number, { resolve(r: Reply): void; reject(e: Error): void }>();
  readonly #sinks = new Map<number, EventFdFile>();
  /** Access notices for a mapping id whose MMAP_R is not taken in yet. */
  readonly #early = new Map<number, Array<BridgeNotice & { type: 'ACCESS_REVOKED' | 'ACCESS_RESTORED' }>>();
  /** Sends in call order: each link resolves once its record is written. */
  #chain: Promise<void> = Promise.resolve();
  #nextTag = 1;
  #closedWith: Error | undefined;
  /** The last ERROR record's text, if the daemon sent one. */
  lastError: string | undefined;
  /** Called with each ACCESS_REVOKED / ACCESS_RESTORED notice after the mapping took it in. */
  onAccess: ((n: BridgeNotice & { type: 'ACCESS_REVOKED' | 'ACCESS_RESTORED' }) => void) | undefined;

  constructor(
    sock: net.Socket,
    readonly clientId: number,
    early: Uint8Array,
    /** The dialect the daemon accepted. */
    readonly dialect: BridgeDialectName = 'v17',
    /** The protocol version of the connection. */
    readonly version: number = BRIDGE_VERSION,
  ) {
    this.#sock = sock;
    sock.on('data', (c: Buffer) => this.#onData(c));
    sock.on('close', () => this.#closed(new BridgeError('closed', this.lastError ? `closed by the daemon: ${this.lastError}` : 'connection closed')));
    sock.on('error', () => {});
    if (early.length > 0) queueMicrotask(() => this.#onData(early));
  }

  get closed(): boolean {
    return this.#closedWith !== undefined;
  }

  /** End the connection (the daemon tears this client's process down). */
  disconnect(): Promise<void> {
    return new Promise((resolve) => {
      if (this.#sock.destroyed) return resolve();
      this.#sock.once('close', () => resolve());
      this.#sock.end();
    });
  }

  /** Drop the connection at once, as a killed process would. */
  destroy(): void {
    this.#sock.destroy();
  }

  /** Write raw bytes on the socket (tests of malformed input). */
  writeRaw(bytes: Uint8Array): void {
    this.#sock.write(bytes);
  }

  // ── transport ───────────────────────────────────────────────────────────────────────────────

  #onData(chunk: Uint8Array): void {
    try {
      this.#reader.push(chunk);
      for (;;) {
        const raw = this.#reader.next();
        if (raw === undefined) return;
        this.#onRecord(decodeRecord(raw));
      }
    } catch (e) {
      this.#closed(new BridgeError('protocol', `malformed record from the daemon: ${e instanceof Error ? e.message : String(e)}`));
      this.#sock.destroy();
    }
  }

  #onRecord(r: BridgeRecord): void {
    switch (r.type) {
      case 'EVENTFD_FIRE':
        this.#sinks.get(r.id)?.signal(r.value);
        return;
      case 'ACCESS_REVOKED':
      case 'ACCESS_RESTORED': {
        const m = [...this.#maps].find((x) => x.knownId === r.id);
        if (m === undefined) {
          // The MMAP_R of this id arrived in the same chunk and its id is not taken in yet.
          const q = this.#early.get(r.id) ?? [];
          q.push(r);
          this.#early.set(r.id, q);
          return;
        }
        this.#applyAccess(m, r);
        return;
      }
      case 'ERROR':
        this.lastError = r.message;
        return;
      default:
        if (!r.type.endsWith('_R')) throw new Error(`${r.type} sent by the daemon`);
        {
          const p = this.#pending.get(r.tag);
          if (p === undefined) throw new Error(`reply with unknown tag ${r.tag}`);
          this.#pending.delete(r.tag);
          p.resolve(r as Reply);
        }
    }
  }

  #applyAccess(m: ClientMapping, r: BridgeNotice & { type: 'ACCESS_REVOKED' | 'ACCESS_RESTORED' }): void {
    for (const range of r.ranges) {
      for (let off = range.offset; off < range.offset + range.length; off += BigInt(PAGE)) {
        const p = Number(off) / PAGE;
        if (r.type === 'ACCESS_REVOKED') m.revoked.add(p);
        else m.revoked.delete(p);
      }
    }
    this.onAccess?.(r);
  }

  #closed(e: Error): void {
    if (this.#closedWith !== undefined) return;
    this.#closedWith = e;
    for (const p of this.#pending.values()) p.reject(e);
    this.#pending.clear();
  }

  /**
   * Queue a request: `build` runs when every earlier request has been written (it may await
   * answers those requests will bring); resolves to the reply (undefined for EVENTFD_SIGNAL).
   */
  #call<R extends Reply>(build: (tag: number) => Promise<BridgeRequest | undefined> | BridgeRequest | undefined): Promise<R> {
    let reply!: Promise<R>;
    const sent = this.#chain.then(async () => {
      if (this.#closedWith) throw this.#closedWith;
      const tag = this.#nextTag++;
      const req = await build(tag);
      if (this.#closedWith) throw this.#closedWith;
      reply = req === undefined ? (Promise.resolve(undefined) as unknown as Promise<R>) : this.#sendNow<R>(req);
    });
    this.#chain = sent.catch(() => {});
    return sent.then(() => reply);
  }

  /** Write `req` now (only from inside a `#call` build, which holds the send order). */
  #sendNow<R extends Reply>(req: BridgeRequest): Promise<R> {
    if (this.#closedWith) return Promise.reject(this.#closedWith);
    const reply = req.type === 'EVENTFD_SIGNAL' || req.type === 'KICK'
      ? (Promise.resolve(undefined) as unknown as Promise<R>)
      : new Promise<R>((resolve, reject) => this.#pending.set(req.tag, { resolve: resolve as (r: Reply) => void, reject }));
    this.#sock.write(encodeRecord(req));
    return reply;
  }

  #install(f: LocalFile): number {
    let fd = 3;
    while (this.#fds.has(fd)) fd++;
    this.#fds.set(fd, f);
    return fd;
  }

  #get(fd: number): LocalFile {
    const f = this.#fds.get(fd);
    if (f === undefined) throw new ErrnoError('EBADF', `fd ${fd} is not open`);
    return f;
  }

  async #rfd(fd: number): Promise<number> {
    const f = this.#get(fd);
    if (f.kind !== 'remote') throw new ErrnoError('EINVAL', `fd ${fd} is a local eventfd`);
    return f.rfd;
  }

  #remote(rfd: Promise<number>, newFdKind = 0): RemoteFile {
    const f: RemoteFile = { kind: 'remote', rfd, newFdKind };
    void rfd.then((n) => (f.known = n), () => {});
    return f;
  }

  /**
   * The daemon fd standing for a local eventfd (registered on first use, with `roles`). Called
   * from inside a `#call` build: the EVENTFD_REGISTER goes out before the request being built.
   */
  async #eventfdRfd(f: LocalEventfd, localFd: number, roles: number): Promise<number> {
    f.reg ??= this.#sendNow<Reply & { type: 'EVENTFD_REGISTER_R' }>({ type: 'EVENTFD_REGISTER', tag: this.#nextTag++, localFd, roles }).then((r) => {
      if (r.errno !== 0) throw errnoError(r.errno, 'EVENTFD_REGISTER');
      if ((roles & EVENTFD_ROLE_SINK) !== 0) this.#sinks.set(r.id, f.file);
      return { id: r.id, rfd: r.fd, roles };
    });
    return (await f.reg).rfd;
  }

  /** The wire value of an fd field: a bridged fd's daemon number, else -1. */
  async #fdField(fd: number, roles: number): Promise<number> {
    const f = this.#fds.get(fd);
    if (f === undefined) return -1;
    if (f.kind === 'remote') return f.rfd;
    return this.#eventfdRfd(f, fd, roles);
  }

  // ── the HostLike contract ───────────────────────────────────────────────────────────────────

  open(path: string, flags = O_RDWR): number {
    const rfd = this.#call<Reply & { type: 'OPEN_R' }>((tag) => ({ type: 'OPEN', tag, flags, path })).then((r) => {
      if (r.errno !== 0) throw errnoError(r.errno, `open ${path}`);
      return r.fd;
    });
    rfd.catch(() => {}); // reported on use
    return this.#install(this.#remote(rfd));
  }

  async ioctl(fd: number, request: number, arg: number | bigint = 0): Promise<number> {
    const f = this.#get(fd);
    if (f.kind !== 'remote') throw new ErrnoError('ENOTTY', `fd ${fd} is an eventfd`);
    const req = request >>> 0;
    if (req === GUNYAH_VCPU_RUN) return this.#run(fd, f);
    const { dir, size } = decodeIoctl(req);
    const argv = BigInt.asUintN(64, BigInt(arg));
    // Read the argument now, as the syscall would at entry.
    const struct = size > 0 ? this.peek(argv, size) : undefined;
    const r = await this.#call<Reply & { type: 'IOCTL_R' }>(async (tag) => {
      const rfd = await f.rfd;
      const blobs: Blob[] = [];
      if (struct !== undefined) await this.#translate(req, struct, blobs);
      return { type: 'IOCTL', tag, fd: rfd, request: req, arg: argv, struct, blobs };
    });
    if (r.errno !== 0) throw errnoError(r.errno, `ioctl 0x${req.toString(16)}`);
    if (struct !== undefined && (dir & _IOC_READ) !== 0 && r.out.length === size) this.poke(argv, r.out);
    if (r.newFdKind !== NewFdKind.none) {
      const nf = this.#remote(Promise.resolve(r.result), r.newFdKind);
      nf.known = r.result;
      if (r.newFdKind === NewFdKind.guestMem) {
        nf.gmemPath = r.path;
        nf.gmemSize = Number(r.gmemSize);
      }
      return this.#install(nf);
    }
    return r.result;
  }

  /** The fd fields and followed pointers of the v17 structs (docs: "What a client does"). */
  async #translate(req: number, st: Uint8Array, blobs: Blob[]): Promise<void> {
    const dv = new DataView(st.buffer, st.byteOffset, st.byteLength);
    if (req === GUNYAH_VM_MAP_MEM && this.dialect === 'v17') {
      dv.setInt32(12, await this.#fdField(dv.getUint32(12, true), 0), true);
      return;
    }
    if (req !== GUNYAH_VM_ADD_FUNCTION && req !== GUNYAH_VM_REMOVE_FUNCTION) return;
    const type = dv.getUint32(0, true);
    const argSize = dv.getUint32(4, true);
    const ptr = dv.getBigUint64(8, true);
    if (argSize === 0 || ptr === 0n) return;
    const blob = this.peek(ptr, argSize);
    const bv = new DataView(blob.buffer, blob.byteOffset, blob.byteLength);
    if (type === GUNYAH_FN_IRQFD && argSize >= 4) bv.setInt32(0, await this.#fdField(bv.getUint32(0, true), EVENTFD_ROLE_SOURCE), true);
    if (type === GUNYAH_FN_IOEVENTFD && argSize >= 24) bv.setInt32(20, await this.#fdField(bv.getInt32(20, true), EVENTFD_ROLE_SINK), true);
    blobs.push({ addr: ptr, bytes: blob });
  }

  async #run(fd: number, f: RemoteFile): Promise<number> {
    const m = [...this.#maps].find((x) => x.file === f && x.page !== undefined);
    const page = m?.page;
    let sent = false;
    let r: Reply & { type: 'RUN_R' };
    try {
      r = await this.#call<Reply & { type: 'RUN_R' }>(async (tag) => {
        const req: BridgeRequest = { type: 'RUN', tag, fd: await f.rfd, page: page ? page.slice(0, RUN_PAGE_SIZE) : new Uint8Array(0) };
        // Away from here: a flag set now must follow as a KICK. One set already goes with the page.
        f.runsAway = (f.runsAway ?? 0) + 1;
        f.kickDone = page === undefined || page[RUN_IMMEDIATE_EXIT] !== 0;
        sent = true;
        return req;
      });
    } finally {
      if (sent) f.runsAway = (f.runsAway ?? 1) - 1;
    }
    if (page && r.page.length > 0) {
      // immediate_exit is the VMM's: a reply never clears it. A zero there with a flag in the
      // copy means the VMM set it while the RUN was away (its KICK came too late, or the
      // connection has none); on the kernel's shared page it would still be set.
      const mine = page[RUN_IMMEDIATE_EXIT]!;
      page.set(r.page.subarray(0, Math.min(r.page.length, page.length)));
      if (page[RUN_IMMEDIATE_EXIT] === 0) page[RUN_IMMEDIATE_EXIT] = mine;
    }
    if (r.errno !== 0) throw errnoError(r.errno, `RUN on fd ${fd}`);
    return r.result;
  }

  /**
   * The run page of vCPU `f` was written: if that set `immediate_exit` while a RUN of it is away,
   * send one KICK (docs/host-bridge-protocol.md, KICK) so the daemon's copy gets the flag now.
   */
  #afterRunPageWrite(f: RemoteFile, page: Uint8Array, off: number, len: number): void {
    if ((f.runsAway ?? 0) === 0 || f.kickDone === true || this.version < 2) return;
    if (off > RUN_IMMEDIATE_EXIT || off + len <= RUN_IMMEDIATE_EXIT || page[RUN_IMMEDIATE_EXIT] === 0) return;
    f.kickDone = true;
    void this.#call(async () => ({ type: 'KICK', tag: 0, fd: await f.rfd })).catch(() => {});
  }

  malloc(size: number): bigint {
    return this.#mem.malloc(size);
  }

  free(ptr: bigint): void {
    this.#mem.free(ptr);
  }

  peek(ptr: bigint, len: number): Uint8Array {
    return this.#mem.peek(ptr, len);
  }

  poke(ptr: bigint, bytes: Uint8Array): void {
    this.#mem.poke(ptr, bytes);
  }

  mmap(fd: number, length: number, offset = 0): { addr: bigint; length: number; read(o: number, n: number): Uint8Array; write(o: number, b: Uint8Array): void; unmap(): Promise<void> } {
    const f = this.#get(fd);
    if (f.kind !== 'remote') throw new ErrnoError('ENODEV', `fd ${fd} cannot be mapped`);
    if (!Number.isSafeInteger(length) || length <= 0) throw new ErrnoError('EINVAL', `mmap length ${length}`);
    if (!Number.isSafeInteger(offset) || offset < 0 || offset % PAGE !== 0) throw new ErrnoError('EINVAL', `mmap offset ${offset}`);
    const mapped = Math.ceil(length / PAGE) * PAGE;
    const isFile = f.newFdKind === NewFdKind.guestMem;
    const osFd = isFile ? fs.openSync(f.gmemPath!, 'r+') : undefined;
    const addr = this.#mem.reserve(mapped);
    const page = isFile ? undefined : new Uint8Array(mapped);
    const idP = this.#call<Reply & { type: 'MMAP_R' }>(async (tag) => ({ type: 'MMAP', tag, fd: await f.rfd, prot: 3, offset: BigInt(offset), length: BigInt(length) })).then((r) => {
      if (r.errno !== 0) throw errnoError(r.errno, 'mmap');
      if (r.kind === MapKind.private && page) page.set(r.data.subarray(0, Math.min(r.data.length, page.length)));
      m.knownId = r.id;
      for (const n of this.#early.get(r.id) ?? []) this.#applyAccess(m, n);
      this.#early.delete(r.id);
      return r.id;
    });
    idP.catch(() => {});
    const m: ClientMapping = { id: idP, addr, length: mapped, revoked: new Set(), file: f, ...(page ? { page } : {}) };
    this.#maps.add(m);
    let unmapped: Promise<void> | undefined;
    const check = (off: number, len: number): void => {
      if (unmapped !== undefined || off < 0 || len < 0 || off + len > mapped) throw new ErrnoError('EFAULT', `[${off}, +${len}) outside the mapping`);
      for (let p = Math.floor(off / PAGE); p * PAGE < off + len; p++) {
        if (m.revoked.has(p)) throw new SigbusError(addr + BigInt(Math.max(off, p * PAGE)), 'the host lost access to the page');
      }
    };
    return {
      addr,
      length: mapped,
      read: (off, len) => {
        check(off, len);
        if (page) return page.slice(off, off + len);
        const out = new Uint8Array(len);
        fs.readSync(osFd!, out, 0, len, offset + off);
        return out;
      },
      write: (off, bytes) => {
        check(off, bytes.length);
        if (page) {
          page.set(bytes, off);
          if (offset === 0) this.#afterRunPageWrite(f, page, off, bytes.length);
        } else fs.writeSync(osFd!, bytes, 0, bytes.length, offset + off);
      },
      unmap: () => {
        unmapped ??= (async () => {
          this.#maps.delete(m);
          if (osFd !== undefined) fs.closeSync(osFd);
          const r = await this.#call<Reply & { type: 'MUNMAP_R' }>(async (tag) => ({ type: 'MUNMAP', tag, id: await idP }));
          if (r.errno !== 0) throw errnoError(r.errno, 'munmap');
        })();
        return unmapped;
      },
    };
  }

  /**
   * Anonymous shared memory in the client's emulated process (MMAP_ANON, protocol version 2):
   * `mmap(NULL, length, PROT_READ|PROT_WRITE, MAP_SHARED|MAP_ANONYMOUS, -1, 0)`. Reads and
   * writes go to the daemon's backing file; a page the host lost (ACCESS_REVOKED) is a
   * SigbusError.
   * @rejects ErrnoError with the daemon's errno; BridgeError when the connection is gone
   */
  async mmapAnonymous(length: number | bigint): Promise<BridgeAnonMapping> {
    const r = await this.#call<Reply & { type: 'MMAP_ANON_R' }>((tag) => ({ type: 'MMAP_ANON', tag, length: BigInt(length), prot: 3 }));
    if (r.errno !== 0) throw errnoError(r.errno, 'mmap anonymous');
    const mapped = Number(r.length);
    const m: ClientMapping = { id: Promise.resolve(r.id), knownId: r.id, addr: r.addr, length: mapped, revoked: new Set(), file: undefined };
    this.#maps.add(m);
    for (const n of this.#early.get(r.id) ?? []) this.#applyAccess(m, n);
    this.#early.delete(r.id);
    const osFd = fs.openSync(r.path, 'r+');
    let unmapped: Promise<void> | undefined;
    const check = (off: number, len: number): void => {
      if (unmapped !== undefined || off < 0 || len < 0 || off + len > mapped) throw new ErrnoError('EFAULT', `[${off}, +${len}) outside the mapping`);
      for (let p = Math.floor(off / PAGE); p * PAGE < off + len; p++) {
        if (m.revoked.has(p)) throw new SigbusError(r.addr + BigInt(Math.max(off, p * PAGE)), 'the host lost access to the page');
      }
    };
    return {
      addr: r.addr,
      length: mapped,
      path: r.path,
      read: (off, len) => {
        check(off, len);
        const out = new Uint8Array(len);
        fs.readSync(osFd, out, 0, len, off);
        return out;
      },
      write: (off, bytes) => {
        check(off, bytes.length);
        fs.writeSync(osFd, bytes, 0, bytes.length, off);
      },
      unmap: () => {
        unmapped ??= (async () => {
          this.#maps.delete(m);
          fs.closeSync(osFd);
          const u = await this.#call<Reply & { type: 'MUNMAP_R' }>((tag) => ({ type: 'MUNMAP', tag, id: r.id }));
          if (u.errno !== 0) throw errnoError(u.errno, 'munmap');
        })();
        return unmapped;
      },
    };
  }

  eventfd(initval = 0, flags = 0): number {
    return this.#install({ kind: 'eventfd', file: new EventFdFile(initval, flags) });
  }

  async read(fd: number, length: number): Promise<Uint8Array> {
    const f = this.#get(fd);
    if (f.kind !== 'eventfd') throw new ErrnoError('EINVAL', `fd ${fd} cannot be read`);
    return f.file.read(length);
  }

  write(fd: number, bytes: Uint8Array): number {
    const f = this.#get(fd);
    if (f.kind !== 'eventfd' || !isEventFd(f.file)) throw new ErrnoError('EINVAL', `fd ${fd} cannot be written`);
    const n = f.file.write(bytes);
    const reg = f.reg;
    if (reg !== undefined) {
      const value = new DataView(bytes.buffer, bytes.byteOffset, 8).getBigUint64(0, true);
      void this.#call(async (tag) => {
        const { id, roles } = await reg;
        if ((roles & EVENTFD_ROLE_SOURCE) === 0) return undefined; // the daemon never reads a sink
        return { type: 'EVENTFD_SIGNAL', tag: 0, id, value };
      }).catch(() => {});
    }
    return n;
  }

  async fallocate(fd: number, mode: number, offset: number, length: number): Promise<void> {
    const r = await this.#call<Reply & { type: 'FALLOCATE_R' }>(async (tag) => ({ type: 'FALLOCATE', tag, fd: await this.#rfd(fd), mode, offset: BigInt(offset), length: BigInt(length) }));
    if (r.errno !== 0) throw errnoError(r.errno, 'fallocate');
  }

  async close(fd: number): Promise<void> {
    const f = this.#get(fd);
    this.#fds.delete(fd);
    if (f.kind === 'eventfd') {
      f.file.release();
      const reg = f.reg;
      if (reg === undefined) return;
      const r = await this.#call<Reply & { type: 'EVENTFD_UNREGISTER_R' }>(async (tag) => {
        const { id } = await reg;
        this.#sinks.delete(id);
        return { type: 'EVENTFD_UNREGISTER', tag, id };
      });
      if (r.errno !== 0) throw errnoError(r.errno, 'EVENTFD_UNREGISTER');
      return;
    }
    const r = await this.#call<Reply & { type: 'CLOSE_R' }>(async (tag) => ({ type: 'CLOSE', tag, fd: await f.rfd }));
    if (r.errno !== 0) throw errnoError(r.errno, `close ${fd}`);
  }

  dup(fd: number): Promise<number> {
    const f = this.#get(fd);
    if (f.kind !== 'remote') throw new ErrnoError('EINVAL', 'dup of a local eventfd is not bridged');
    const rfd = this.#call<Reply & { type: 'DUP_R' }>(async (tag) => ({ type: 'DUP', tag, fd: await f.rfd })).then((r) => {
      if (r.errno !== 0) throw errnoError(r.errno, 'dup');
      return r.fd;
    });
    const nf = this.#remote(rfd, f.newFdKind);
    if (f.gmemPath !== undefined) nf.gmemPath = f.gmemPath;
    if (f.gmemSize !== undefined) nf.gmemSize = f.gmemSize;
    return rfd.then(() => this.#install(nf));
  }

  async fcntl(fd: number, cmd: number, arg: number | bigint = 0): Promise<number> {
    const r = await this.#call<Reply & { type: 'FCNTL_R' }>(async (tag) => ({ type: 'FCNTL', tag, fd: await this.#rfd(fd), cmd, arg: BigInt(arg) }));
    if (r.errno !== 0) throw errnoError(r.errno, 'fcntl');
    return r.result;
  }

  /** The daemon fd behind a local fd (for tests and diagnostics). */
  remoteFd(fd: number): Promise<number> {
    return this.#rfd(fd);
  }

  /** Local fds in use. */
  openFds(): number[] {
    return [...this.#fds.keys()].sort((a, b) => a - b);
  }
}
