/**
 * HostProcess: the syscall surface of the userspace VMM's process (fd table, user memory,
 * mappings, eventfds) on top of the kernel files of src/host/kernel-file.ts.
 *
 * Reference: DESIGN.md "Public contracts" (HostProcess table); uapi.md §1–§2 (the ioctl ABI this
 * forwards untouched), §6 (which fd answers what), §7 (a file's release runs when its last
 * reference goes). This layer knows nothing of Gunyah: the device registry passed in says what
 * `open` can reach, and the files decide everything else.
 *
 * References on a file (Linux struct file refcount):
 *
 *   fd 3 ─┐                      each fd (open, installFd, dup) ....... 1
 *   fd 5 ─┼─▶ OpenFile{refs} ─▶ KernelFile      each live mapping ........... 1
 *   map  ─┤                      each syscall in flight (ioctl, read,
 *   ioctl ┘                        fallocate), as fdget does ........ 1 for its duration
 *
 * When the count reaches 0 the file's `release()` runs once. The syscall that dropped the last
 * reference awaits it before it resolves, as Linux runs the deferred fput before returning to
 * userspace: `close()` resolves when the release finished.
 *
 * Choices where the contract left room:
 * - fds are the lowest free number from 3 up; 0..2 are stdio, which this process does not
 *   model: every call on them gives EBADF.
 * - `close(fd)` returns a Promise. A second close of the same fd number (not reopened in
 *   between) returns the first close's promise instead of failing; a number that was never
 *   open gives EBADF. Every other call on a closed fd gives EBADF.
 * - A release that throws is a kernel-model bug: it is logged, and `close`, `unmap` and
 *   `closeAll` reject with it; a release triggered at the end of a syscall is only logged.
 * - mmap: `length` is rounded up to whole pages (the kernel maps whole pages); an access outside
 *   `[0, length)` of the mapping, or after `unmap`, is EFAULT (a SIGSEGV in a real process).
 *   Inside it, the backend decides (it may throw SigbusError).
 * - fallocate on a file without the handler is ENODEV, not the EOPNOTSUPP of kernel-file.ts's
 *   comment: Linux's VFS answers ENODEV for any file that is neither a regular file nor a block
 *   device before it looks for a handler (fallocate(2)), and every file here except guest
 *   memory is such a file (anon inodes, the misc device). `offset < 0` or `length <= 0` is
 *   EINVAL before that, as in the VFS. The mode is left entirely to the file.
 * - `closeAll()` is process exit: mappings are unmapped, then fds closed in ascending order,
 *   each release awaited in turn (exit_mm before exit_files). Blocked eventfd reads are
 *   interrupted (EINTR). Ioctls still in flight keep their file until they return; closeAll
 *   does not wait for those.
 */
import { ErrnoError, isErrnoError } from '../shared/errno.js';
import { silentLogger, type Logger } from '../shared/log.js';
import type { IoctlEvent, Tracer } from '../shared/trace-events.js';
import { EFD_CLOEXEC, EventFdFile, isEventFd } from './eventfd.js';
import type { IoctlContext, KernelFile, MappingBackend, PinnedPages, UserMemory } from './kernel-file.js';
import { HOST_PAGE_SIZE, ProcessMemory } from './user-memory.js';

/** First fd handed out (0, 1, 2 are stdin, stdout, stderr). */
export const FIRST_FD = 3;

/** What a describer makes of an ioctl: the request's name and its decoded argument. */
export interface IoctlDescription {
  readonly name?: string;
  readonly args?: Readonly<Record<string, unknown>>;
}

/**
 * Decodes an ioctl for the trace, reading the argument struct from user memory at entry
 * (the emulator gives the /dev/gunyah one, src/trace/ioctl-describe.ts). Must not throw.
 */
export type IoctlDescriber = (request: number, arg: bigint, user: UserMemory) => IoctlDescription;

/** Options of a HostProcess. */
export interface HostProcessOptions {
  /** Path → factory of a fresh open file (one factory call per `open`). */
  readonly devices: ReadonlyMap<string, () => KernelFile>;
  readonly log?: Logger;
  /** Where `ioctl.enter` / `ioctl` records go (none: ioctls are not traced, at no cost). */
  readonly trace?: Tracer;
  /** How traced ioctls are named and their arguments decoded. */
  readonly describeIoctl?: IoctlDescriber;
  /**
   * The kernel's anonymous shared memory (shmem): a fresh file of `length` bytes (whole pages,
   * zero-filled) behind each `mmapAnonymous`. Absent: `mmapAnonymous` gives ENOMEM.
   */
  readonly anonymousMemory?: (length: number) => KernelFile;
}

/** The fields `ioctl.enter` and `ioctl` share (plus the decoded args for `ioctl`). */
type IoctlEventBase = Omit<IoctlEvent, 'kind' | 'result' | 'errno'>;

/** The `ioctl` record: `rec` with the result, or with the errno name of `err`. */
function traceExit(trace: Tracer, rec: IoctlEventBase, result: number | undefined, err?: unknown): void {
  if (result !== undefined) {
    trace.emit({ kind: 'ioctl', ...rec, result });
    return;
  }
  const errno = isErrnoError(err) ? err.code : err instanceof Error ? err.name : 'unknown';
  trace.emit({ kind: 'ioctl', ...rec, errno });
}

/** One mmap of a file, as the process sees it. */
export interface Mapping {
  /** The mapping's user address (page aligned). */
  readonly addr: bigint;
  /** Bytes mapped: the requested length rounded up to whole pages. */
  readonly length: number;
  /**
   * Read `length` bytes at `offset` from the start of the mapping.
   * @throws ErrnoError EFAULT outside `[0, this.length)` or after unmap; SigbusError from the backend
   */
  read(offset: number, length: number): Uint8Array;
  /** Write `bytes` at `offset`. @throws ErrnoError EFAULT; SigbusError */
  write(offset: number, bytes: Uint8Array): void;
  /** munmap. Resolves when the file's release (if this was its last reference) finished. Idempotent. */
  unmap(): Promise<void>;
}

/** An entry of `openFiles()`. */
export interface OpenFdInfo {
  readonly fd: number;
  readonly name: string;
  readonly file: KernelFile;
  readonly cloexec: boolean;
  /** References on the file: fds, mappings and syscalls in flight. */
  readonly refs: number;
}

/** An entry of `liveMappings()`. */
export interface MappingInfo {
  readonly addr: bigint;
  readonly length: number;
  readonly name: string;
  readonly file: KernelFile;
}

/** A struct file: the kernel file plus its reference count. */
interface OpenFile {
  readonly file: KernelFile;
  refs: number;
}

interface FdEntry {
  readonly of: OpenFile;
  readonly cloexec: boolean;
}

interface MappingRecord {
  readonly of: OpenFile;
  readonly backend: MappingBackend;
  readonly mapping: Mapping;
  unmapped?: Promise<void>;
}

/** Convert an ioctl argument (unsigned long) to its 64-bit value. */
function ioctlArg(arg: number | bigint | undefined): bigint {
  if (arg === undefined) return 0n;
  if (typeof arg === 'bigint') return BigInt.asUintN(64, arg);
  if (!Number.isSafeInteger(arg)) throw new ErrnoError('EINVAL', `ioctl arg ${arg} is not an integer`);
  return BigInt.asUintN(64, BigInt(arg));
}

/** The process a VMM runs in. Everything is per instance. */
export class HostProcess {
  readonly #devices: ReadonlyMap<string, () => KernelFile>;
  readonly #log: Logger;
  readonly #mem = new ProcessMemory();
  readonly #fds = new Map<number, FdEntry>();
  /** fd number → the promise of its close, until the number is reused. */
  readonly #closed = new Map<number, Promise<void>>();
  /** KernelFile → its struct file, so a file installed twice shares one count. */
  readonly #files = new Map<KernelFile, OpenFile>();
  readonly #mappings = new Map<bigint, MappingRecord>();
  /** Aborted at process exit, to interrupt blocked eventfd reads. */
  #exit = new AbortController();
  /** The context a file's ioctl gets: user memory, fget and fd installation (made once). */
  readonly #ctx: IoctlContext;
  readonly #trace: Tracer | undefined;
  readonly #describeIoctl: IoctlDescriber | undefined;
  readonly #anonymousMemory: ((length: number) => KernelFile) | undefined;
  /** Traced ioctls so far (the `call` number of the records). */
  #ioctlCalls = 0;

  constructor(opts: HostProcessOptions) {
    this.#devices = opts.devices;
    this.#trace = opts.trace;
    this.#describeIoctl = opts.describeIoctl;
    this.#anonymousMemory = opts.anonymousMemory;
    this.#log = (opts.log ?? silentLogger()).child({ layer: 'host' });
    const mem = this.#mem;
    const user: UserMemory = {
      copyFromUser: (ptr, len) => mem.copyFromUser(ptr, len),
      copyToUser: (ptr, bytes) => mem.copyToUser(ptr, bytes),
      pinUserPages: (addr, pages, write) => this.#pinUserPages(addr, pages, write),
    };
    this.#ctx = {
      user,
      fget: (fd) => this.#fds.get(fd)?.of.file,
      installFd: (file, flags) => this.#install(file, flags?.cloexec ?? false),
    };
  }

  // ── files ────────────────────────────────────────────────────────────────────────────────

  /**
   * open(2) of a device path (O_RDWR). Returns the new fd.
   * @throws ErrnoError ENOENT when `path` is not in the device registry
   */
  open(path: string): number {
    const factory = this.#devices.get(path);
    if (factory === undefined) throw new ErrnoError('ENOENT', path);
    return this.#install(factory(), false);
  }

  /**
   * ioctl(2). `request` is the real ioctl number (truncated to 32 bits, as the syscall's
   * `unsigned int cmd`); `arg` an immediate integer or a user pointer (made a u64).
   * Resolves to the file's non-negative return.
   * @throws ErrnoError EBADF (fd not open), ENOTTY (file has no ioctl), EINVAL (non-integer
   *   request or arg), or whatever the file answers
   */
  ioctl(fd: number, request: number, arg?: number | bigint): Promise<number> {
    // The untraced call is the async body itself (no wrapper promise, no extra turns).
    if (this.#trace !== undefined) return this.#tracedIoctl(this.#trace, fd, request, arg);
    return this.#ioctl(fd, request, arg);
  }

  async #ioctl(fd: number, request: number, arg?: number | bigint): Promise<number> {
    const of = this.#fdget(fd);
    if (!Number.isSafeInteger(request)) throw new ErrnoError('EINVAL', `ioctl request ${request}`);
    const value = ioctlArg(arg);
    const { file } = of;
    if (file.ioctl === undefined) throw new ErrnoError('ENOTTY', `${file.name} has no ioctl`);
    // The file's ioctl may answer synchronously (a number: the MMIO fast path of RUN) or with a
    // promise. The syscall's reference is dropped afterwards either way, as in #during, but
    // without a closure per call (tsx wraps each named closure at creation) or extra turns.
    of.refs++;
    let answer: number | Promise<number>;
    try {
      answer = file.ioctl(request >>> 0, value, this.#ctx);
    } catch (err) {
      const release = this.#putQuiet(of);
      if (release === undefined) throw err;
      await release;
      throw err;
    }
    if (typeof answer !== 'number') return this.#awaitThenPut(of, answer);
    const release = this.#putQuiet(of);
    if (release !== undefined) await release;
    return answer;
  }

  /**
   * `#ioctl` with an `ioctl.enter` record before and an `ioctl` record when the answer is known
   * (before the syscall's file reference is dropped). Same turns as `#ioctl`.
   */
  async #tracedIoctl(trace: Tracer, fd: number, request: number, arg?: number | bigint): Promise<number> {
    const rec = this.#traceEnter(trace, fd, request, arg);
    let of: OpenFile;
    let value: bigint;
    try {
      of = this.#fdget(fd);
      if (!Number.isSafeInteger(request)) throw new ErrnoError('EINVAL', `ioctl request ${request}`);
      value = ioctlArg(arg);
      if (of.file.ioctl === undefined) throw new ErrnoError('ENOTTY', `${of.file.name} has no ioctl`);
    } catch (err) {
      traceExit(trace, rec, undefined, err);
      throw err;
    }
    const { file } = of;
    of.refs++;
    let answer: number | Promise<number>;
    try {
      answer = file.ioctl!(request >>> 0, value, this.#ctx);
    } catch (err) {
      traceExit(trace, rec, undefined, err);
      const release = this.#putQuiet(of);
      if (release === undefined) throw err;
      await release;
      throw err;
    }
    if (typeof answer !== 'number') return this.#awaitTracedThenPut(trace, rec, of, answer);
    traceExit(trace, rec, answer);
    const release = this.#putQuiet(of);
    if (release !== undefined) await release;
    return answer;
  }

  /** The `ioctl.enter` record; returns what the `ioctl` record repeats. */
  #traceEnter(trace: Tracer, fd: number, request: number, arg: number | bigint | undefined): IoctlEventBase {
    const call = ++this.#ioctlCalls;
    const req = Number.isSafeInteger(request) ? request >>> 0 : 0;
    let value = 0n;
    try {
      value = ioctlArg(arg);
    } catch {
      // EINVAL follows in the call itself.
    }
    const d = this.#describeIoctl?.(req, value, this.#mem) ?? {};
    const base: IoctlEventBase = {
      call,
      fd,
      file: this.#fds.get(fd)?.of.file.name ?? '',
      request: `0x${req.toString(16)}`,
      ...(d.name !== undefined ? { name: d.name } : {}),
    };
    trace.emit({ kind: 'ioctl.enter', ...base });
    return d.args !== undefined ? { ...base, args: d.args } : base;
  }

  async #awaitTracedThenPut(trace: Tracer, rec: IoctlEventBase, of: OpenFile, answer: Promise<number>): Promise<number> {
    try {
      const r = await answer;
      traceExit(trace, rec, r);
      return r;
    } catch (err) {
      traceExit(trace, rec, undefined, err);
      throw err;
    } finally {
      const release = this.#putQuiet(of);
      if (release !== undefined) await release;
    }
  }

  /**
   * read(2). Resolves to the bytes read.
   * @throws ErrnoError EBADF, EINVAL (no read handler, bad length), or the file's error;
   *   EINTR when a blocked eventfd read is interrupted by process exit
   */
  async read(fd: number, length: number): Promise<Uint8Array> {
    const of = this.#fdget(fd);
    const { file } = of;
    if (file.read === undefined) throw new ErrnoError('EINVAL', `${file.name} cannot be read`);
    if (!Number.isSafeInteger(length) || length < 0) throw new ErrnoError('EINVAL', `read length ${length}`);
    const signal = this.#exit.signal;
    // As #during, without a closure and with one await (an eventfd read is on the VMM's path of
    // every interrupt): the syscall's reference is held while the read is pending.
    of.refs++;
    let answer: Uint8Array | Promise<Uint8Array>;
    try {
      answer = isEventFd(file) ? file.read(length, signal) : file.read(length);
    } catch (err) {
      const release = this.#putQuiet(of);
      if (release !== undefined) await release;
      throw err;
    }
    try {
      return await answer;
    } finally {
      const release = this.#putQuiet(of);
      if (release !== undefined) await release;
    }
  }

  /**
   * write(2). Returns the number of bytes written.
   * @throws ErrnoError EBADF, EINVAL (no write handler), or the file's error
   */
  write(fd: number, bytes: Uint8Array): number {
    const { file } = this.#fdget(fd);
    if (file.write === undefined) throw new ErrnoError('EINVAL', `${file.name} cannot be written`);
    return file.write(bytes);
  }

  /**
   * fallocate(2).
   * @throws ErrnoError EBADF; EINVAL (`offset < 0`, `length <= 0`, non-integers); ENODEV (the
   *   file has no fallocate); or the file's error (guest memory: uapi.md §6.4)
   */
  async fallocate(fd: number, mode: number, offset: number, length: number): Promise<void> {
    const of = this.#fdget(fd);
    if (![mode, offset, length].every(Number.isSafeInteger) || offset < 0 || length <= 0) {
      throw new ErrnoError('EINVAL', `fallocate offset ${offset} length ${length}`);
    }
    const { file } = of;
    if (file.fallocate === undefined) throw new ErrnoError('ENODEV', `${file.name} is not a regular file`);
    await this.#during(of, () => file.fallocate!(mode >>> 0, offset, length));
  }

  /**
   * close(2). Resolves when the file's release (if this was its last reference) finished.
   * Closing an fd that is already closed returns the first close's promise.
   * @throws ErrnoError EBADF when `fd` was never open; the release's error if it throws
   */
  close(fd: number): Promise<void> {
    const entry = this.#fds.get(fd);
    if (entry === undefined) {
      return this.#closed.get(fd) ?? Promise.reject(new ErrnoError('EBADF', `fd ${fd} is not open`));
    }
    this.#fds.delete(fd);
    const done = this.#put(entry.of);
    this.#closed.set(fd, done);
    return done;
  }

  /**
   * dup(2): a new fd (lowest free) for the same file; it does not inherit close-on-exec.
   * @throws ErrnoError EBADF
   */
  dup(fd: number): number {
    const of = this.#fdget(fd);
    return this.#installOpen(of, false);
  }

  /**
   * eventfd(2). Returns the new fd.
   * @throws ErrnoError EINVAL for unknown flags or an initval outside u32
   */
  eventfd(initval = 0, flags = 0): number {
    const file = new EventFdFile(initval, flags);
    return this.#install(file, (flags & EFD_CLOEXEC) !== 0);
  }

  // ── mappings ─────────────────────────────────────────────────────────────────────────────

  /**
   * mmap(2) with MAP_SHARED, PROT_READ|PROT_WRITE.
   * @throws ErrnoError EBADF; EINVAL (length 0 or not a positive integer, offset negative or not
   *   page aligned); ENODEV (the file cannot be mapped); or the file's error
   */
  mmap(fd: number, length: number, offset = 0): Mapping {
    const of = this.#fdget(fd);
    if (!Number.isSafeInteger(length) || length <= 0) throw new ErrnoError('EINVAL', `mmap length ${length}`);
    if (!Number.isSafeInteger(offset) || offset < 0 || offset % HOST_PAGE_SIZE !== 0) {
      throw new ErrnoError('EINVAL', `mmap offset ${offset} is not page aligned`);
    }
    if (of.file.mmap === undefined) throw new ErrnoError('ENODEV', `${of.file.name} cannot be mapped`);
    return this.#mapFile(of, length, offset);
  }

  /**
   * mmap(NULL, length, PROT_READ|PROT_WRITE, MAP_SHARED|MAP_ANONYMOUS, -1, 0): zero-filled
   * memory of the kernel's shmem, with no fd. This is the host user memory the `gh_` dialect's
   * SET_USER_MEM_REGION and LEND_USER_MEM pin and give to a VM; `munmap` drops the mapping, and
   * pages a VM still holds pinned stay allocated until it unpins them.
   * @throws ErrnoError EINVAL for a bad length; ENOMEM when the process has no shmem source
   */
  mmapAnonymous(length: number): Mapping {
    if (!Number.isSafeInteger(length) || length <= 0) throw new ErrnoError('EINVAL', `mmap length ${length}`);
    if (this.#anonymousMemory === undefined) throw new ErrnoError('ENOMEM', 'this process has no anonymous shared memory');
    const mapped = Math.ceil(length / HOST_PAGE_SIZE) * HOST_PAGE_SIZE;
    const file = this.#anonymousMemory(mapped);
    const of: OpenFile = { file, refs: 0 };
    this.#files.set(file, of);
    return this.#mapFile(of, mapped, 0);
  }

  /** Map `of` (its file has `mmap`): reserve the range, take the mapping's reference. */
  #mapFile(of: OpenFile, length: number, offset: number): Mapping {
    const { file } = of;
    const mapped = Math.ceil(length / HOST_PAGE_SIZE) * HOST_PAGE_SIZE;
    const addr = this.#mem.reserve(mapped);
    const backend = file.mmap!(mapped, offset, addr);
    of.refs++;
    const check = (off: number, len: number): void => {
      if (rec.unmapped !== undefined) throw new ErrnoError('EFAULT', `mapping at 0x${addr.toString(16)} was unmapped`);
      if (!Number.isSafeInteger(off) || !Number.isSafeInteger(len) || off < 0 || len < 0 || off + len > mapped) {
        throw new ErrnoError('EFAULT', `[${off}, ${off}+${len}) is outside the ${mapped}-byte mapping`);
      }
    };
    const mapping: Mapping = {
      addr,
      length: mapped,
      read: (off, len) => {
        check(off, len);
        return backend.read(off, len);
      },
      write: (off, bytes) => {
        check(off, bytes.byteLength);
        backend.write(off, bytes);
      },
      unmap: () => this.#unmap(rec),
    };
    const rec: MappingRecord = { of, backend, mapping };
    this.#mappings.set(addr, rec);
    return mapping;
  }

  /**
   * pin_user_pages_fast for the kernel: every page of `[addr, addr + pages × 4 KiB)` must lie in
   * one live mapping whose backend can be pinned (there are guard pages between mappings, so a
   * range never spans two).
   */
  #pinUserPages(addr: bigint, pages: number, write: boolean): PinnedPages {
    const page = BigInt(HOST_PAGE_SIZE);
    if (!Number.isSafeInteger(pages) || pages <= 0 || addr % page !== 0n) throw new ErrnoError('EFAULT', `pin of ${pages} pages at 0x${addr.toString(16)}`);
    const end = addr + BigInt(pages) * page;
    for (const rec of this.#mappings.values()) {
      const start = rec.mapping.addr;
      if (addr < start || end > start + BigInt(rec.mapping.length) || rec.unmapped !== undefined) continue;
      if (rec.backend.pin === undefined) throw new ErrnoError('EFAULT', `${rec.of.file.name} mapping at 0x${start.toString(16)} cannot be pinned`);
      return rec.backend.pin(Number(addr - start), pages, write);
    }
    throw new ErrnoError('EFAULT', `[0x${addr.toString(16)}, 0x${end.toString(16)}) is not inside one mapping`);
  }

  // ── user memory ──────────────────────────────────────────────────────────────────────────

  /** Allocate `size` zeroed bytes of user memory. @throws ErrnoError EINVAL, ENOMEM */
  malloc(size: number): bigint {
    return this.#mem.malloc(size);
  }

  /** Free an allocation. @throws ErrnoError EFAULT when `ptr` is not one */
  free(ptr: bigint): void {
    this.#mem.free(ptr);
  }

  /** Copy `len` bytes out of user memory. @throws ErrnoError EFAULT */
  peek(ptr: bigint, len: number): Uint8Array {
    return this.#mem.peek(ptr, len);
  }

  /** Copy `bytes` into user memory. @throws ErrnoError EFAULT */
  poke(ptr: bigint, bytes: Uint8Array): void {
    this.#mem.poke(ptr, bytes);
  }

  // ── process lifetime and inspection ──────────────────────────────────────────────────────

  /**
   * Process exit: interrupt blocked eventfd reads, unmap every mapping, close every fd, each
   * release awaited in turn. If releases threw, rejects with an AggregateError of them after
   * everything was closed. The process can be used again afterwards (an empty fd table).
   */
  async closeAll(): Promise<void> {
    this.#exit.abort(new ErrnoError('EINTR', 'process exit'));
    this.#exit = new AbortController();
    const errors: unknown[] = [];
    const settle = async (p: Promise<void>): Promise<void> => {
      try {
        await p;
      } catch (err) {
        errors.push(err);
      }
    };
    for (const addr of [...this.#mappings.keys()].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0))) {
      await settle(this.#unmap(this.#mappings.get(addr)!));
    }
    for (const fd of [...this.#fds.keys()].sort((a, b) => a - b)) await settle(this.close(fd));
    if (errors.length === 1) throw errors[0];
    if (errors.length > 1) throw new AggregateError(errors, 'releases failed at process exit');
  }

  /** The open fds in ascending order. */
  openFiles(): OpenFdInfo[] {
    return [...this.#fds.entries()]
      .sort(([a], [b]) => a - b)
      .map(([fd, { of, cloexec }]) => ({ fd, name: of.file.name, file: of.file, cloexec, refs: of.refs }));
  }

  /** The live mappings in ascending address order. */
  liveMappings(): MappingInfo[] {
    return [...this.#mappings.values()]
      .sort((a, b) => (a.mapping.addr < b.mapping.addr ? -1 : 1))
      .map(({ of, mapping }) => ({ addr: mapping.addr, length: mapping.length, name: of.file.name, file: of.file }));
  }

  /** Live heap allocations (address and size), for leak checks. */
  allocations(): Array<{ ptr: bigint; size: number }> {
    return this.#mem.allocations();
  }

  // ── internals ────────────────────────────────────────────────────────────────────────────

  /** fdget: the open file behind `fd`. @throws ErrnoError EBADF */
  #fdget(fd: number): OpenFile {
    const entry = this.#fds.get(fd);
    if (entry === undefined) throw new ErrnoError('EBADF', `fd ${fd} is not open`);
    return entry.of;
  }

  /** Install a (possibly already open) KernelFile under a new fd. */
  #install(file: KernelFile, cloexec: boolean): number {
    let of = this.#files.get(file);
    if (of === undefined) {
      of = { file, refs: 0 };
      this.#files.set(file, of);
    }
    return this.#installOpen(of, cloexec);
  }

  /** fd_install at the lowest free number; takes one reference. */
  #installOpen(of: OpenFile, cloexec: boolean): number {
    let fd = FIRST_FD;
    while (this.#fds.has(fd)) fd++;
    of.refs++;
    this.#fds.set(fd, { of, cloexec });
    this.#closed.delete(fd);
    return fd;
  }

  /** Run a syscall body holding a reference on `of`; drop it afterwards (maybe releasing). */
  async #during<T>(of: OpenFile, body: () => T | Promise<T>): Promise<T> {
    of.refs++;
    try {
      return await body();
    } finally {
      try {
        await this.#put(of);
      } catch {
        // Already logged by #put; the syscall's own result stands.
      }
    }
  }

  /** The rest of a syscall whose body answered with a promise: settle it, then drop the reference. */
  async #awaitThenPut<T>(of: OpenFile, answer: Promise<T>): Promise<T> {
    try {
      return await answer;
    } finally {
      const release = this.#putQuiet(of);
      if (release !== undefined) await release;
    }
  }

  /**
   * Drop a syscall's reference: undefined when it was not the last, else the release's
   * completion with its error swallowed (#put logged it; the syscall's own result stands).
   */
  #putQuiet(of: OpenFile): Promise<void> | undefined {
    if (of.refs > 1) {
      of.refs--;
      return undefined;
    }
    return this.#put(of).catch(ignore);
  }

  /** Drop one reference; on the last, run the release once and return its completion. */
  #put(of: OpenFile): Promise<void> {
    of.refs--;
    if (of.refs > 0) return Promise.resolve();
    this.#files.delete(of.file);
    const { file } = of;
    return (async () => {
      try {
        await file.release();
      } catch (err) {
        this.#log.error({ err, file: file.name }, 'release failed');
        throw err;
      }
    })();
  }

  #unmap(rec: MappingRecord): Promise<void> {
    if (rec.unmapped !== undefined) return rec.unmapped;
    this.#mappings.delete(rec.mapping.addr);
    let backendError: unknown;
    try {
      rec.backend.unmap();
    } catch (err) {
      backendError = err;
      this.#log.error({ err, file: rec.of.file.name }, 'mapping backend unmap failed');
    }
    const put = this.#put(rec.of);
    rec.unmapped = backendError === undefined ? put : put.then(() => Promise.reject(backendError));
    return rec.unmapped;
  }

}

/** Swallow a rejection (one function for all: no closure per call). */
function ignore(): void {}
