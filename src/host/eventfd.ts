/**
 * eventfd: a kernel file holding a 64-bit counter, as Linux `fs/eventfd.c` behaves, with the
 * kernel-side hooks irqfd and ioeventfd use (eventfd_signal and a wait-queue entry).
 *
 * Reference: DESIGN.md "Public contracts" (eventfd semantics); eventfd(2); uapi.md §8.13
 * (irqfd: every write rings the doorbell; the kernel never reads the counter), §8.14
 * (ioeventfd: a matching guest write adds 1).
 *
 * Userspace view (all values little-endian u64, the host's byte order):
 * - read(len < 8) → EINVAL. Otherwise it returns 8 bytes: the counter, which is reset to 0,
 *   or with EFD_SEMAPHORE the value 1, the counter being decremented by 1. A zero counter
 *   makes the read wait for a write, or fail with EAGAIN under EFD_NONBLOCK.
 * - write(len < 8) → EINVAL; only the first 8 bytes are used and 8 is returned. The value
 *   0xFFFF_FFFF_FFFF_FFFF → EINVAL. A write that would take the counter past
 *   0xFFFF_FFFF_FFFF_FFFE → EAGAIN. (Linux blocks a blocking writer there until a read makes
 *   room; the public `write` is synchronous, so this model answers EAGAIN in both modes.)
 * - A successful write wakes the wait queue even when it adds 0, as Linux does: every
 *   wait-queue entry (`addWaiter`) is called, then blocked readers are served in FIFO order.
 */
import { ErrnoError } from '../shared/errno.js';
import type { KernelFile } from './kernel-file.js';

/** eventfd flag: reads return 1 and decrement (eventfd(2)). */
export const EFD_SEMAPHORE = 0x1;
/** eventfd flag: O_NONBLOCK on arm64. */
export const EFD_NONBLOCK = 0x800;
/** eventfd flag: O_CLOEXEC on arm64 (a property of the fd, not of the file). */
export const EFD_CLOEXEC = 0x8_0000;
/** Largest counter value (ULLONG_MAX); writes may only reach one less. */
const COUNTER_MAX = 0xffff_ffff_ffff_ffffn;
const EVENTFD_VALUE_SIZE = 8;

interface PendingRead {
  resolve(bytes: Uint8Array): void;
  reject(err: Error): void;
  /** Detach from the abort signal, if any. */
  cleanup(): void;
}

/**
 * The counter as 8 fresh little-endian bytes. Byte stores, no DataView: a typed array this small
 * lives on the JS heap until its `.buffer` is asked for, which would allocate one per read.
 */
function u64le(v: bigint): Uint8Array {
  const out = new Uint8Array(EVENTFD_VALUE_SIZE);
  let lo = Number(BigInt.asUintN(32, v));
  let hi = Number(BigInt.asUintN(32, v >> 32n));
  for (let i = 0; i < 4; i++) {
    out[i] = lo & 0xff;
    out[i + 4] = hi & 0xff;
    lo >>>= 8;
    hi >>>= 8;
  }
  return out;
}

/** An eventfd file. One instance is one `struct eventfd_ctx` plus its file. */
export class EventFdFile implements KernelFile {
  readonly name = '[eventfd]';
  /** EFD_SEMAPHORE was given. */
  readonly semaphore: boolean;
  /** EFD_NONBLOCK was given (O_NONBLOCK of the file). */
  readonly nonblock: boolean;
  #count: bigint;
  #released = false;
  readonly #readers: PendingRead[] = [];
  /** Wait-queue entries, in registration order. Entry objects, so one fn may be added twice. */
  readonly #waiters: Array<{ fn: () => void }> = [];

  /**
   * @param initval initial counter, an unsigned 32-bit integer (eventfd(2) takes `unsigned int`)
   * @param flags   EFD_SEMAPHORE | EFD_NONBLOCK | EFD_CLOEXEC
   * @throws ErrnoError EINVAL for other flag bits or an initval outside u32
   */
  constructor(initval = 0, flags = 0) {
    if (!Number.isInteger(flags) || (flags & ~(EFD_SEMAPHORE | EFD_NONBLOCK | EFD_CLOEXEC)) !== 0 || flags < 0) {
      throw new ErrnoError('EINVAL', `eventfd flags 0x${flags.toString(16)}`);
    }
    if (!Number.isInteger(initval) || initval < 0 || initval > 0xffff_ffff) {
      throw new ErrnoError('EINVAL', `eventfd initval ${initval}`);
    }
    this.#count = BigInt(initval);
    this.semaphore = (flags & EFD_SEMAPHORE) !== 0;
    this.nonblock = (flags & EFD_NONBLOCK) !== 0;
  }

  /** The current counter value. */
  get counter(): bigint {
    return this.#count;
  }

  /** True when a read would not block (counter > 0). */
  get readable(): boolean {
    return this.#count > 0n;
  }

  /** Number of reads currently waiting for the counter to become non-zero. */
  get pendingReads(): number {
    return this.#readers.length;
  }

  /**
   * read(2). `signal` lets the process model abandon a blocked read (process exit): the read
   * then rejects with the signal's reason if it is an ErrnoError, else EINTR, and consumes nothing.
   * @throws ErrnoError EINVAL (length < 8), EAGAIN (counter 0 and EFD_NONBLOCK), EBADF (released)
   */
  read(length: number, signal?: AbortSignal): Promise<Uint8Array> {
    if (this.#released) return Promise.reject(new ErrnoError('EBADF', 'eventfd released'));
    if (!Number.isInteger(length) || length < EVENTFD_VALUE_SIZE) {
      return Promise.reject(new ErrnoError('EINVAL', `eventfd read of ${length} bytes`));
    }
    if (this.#count > 0n) return Promise.resolve(this.#take());
    if (this.nonblock) return Promise.reject(new ErrnoError('EAGAIN', 'eventfd counter is 0'));
    if (signal?.aborted) return Promise.reject(abortReason(signal));
    return new Promise<Uint8Array>((resolve, reject) => {
      const onAbort = (): void => {
        const i = this.#readers.indexOf(entry);
        if (i >= 0) this.#readers.splice(i, 1);
        reject(abortReason(signal!));
      };
      const entry: PendingRead = { resolve, reject, cleanup: () => signal?.removeEventListener('abort', onAbort) };
      signal?.addEventListener('abort', onAbort, { once: true });
      this.#readers.push(entry);
    });
  }

  /**
   * write(2): add the little-endian u64 in the first 8 bytes of `bytes`. Returns 8.
   * @throws ErrnoError EINVAL (fewer than 8 bytes, or the value 2^64-1), EAGAIN (overflow),
   *   EBADF (released)
   */
  write(bytes: Uint8Array): number {
    if (this.#released) throw new ErrnoError('EBADF', 'eventfd released');
    if (bytes.byteLength < EVENTFD_VALUE_SIZE) throw new ErrnoError('EINVAL', `eventfd write of ${bytes.byteLength} bytes`);
    const value = new DataView(bytes.buffer, bytes.byteOffset, EVENTFD_VALUE_SIZE).getBigUint64(0, true);
    if (value === COUNTER_MAX) throw new ErrnoError('EINVAL', 'eventfd write of 0xffffffffffffffff');
    if (COUNTER_MAX - this.#count <= value) throw new ErrnoError('EAGAIN', 'eventfd counter would overflow');
    this.#count += value;
    this.#wake();
    return EVENTFD_VALUE_SIZE;
  }

  /**
   * eventfd_signal (kernel side, e.g. an ioeventfd match): add `n`, saturating at 2^64-1 as
   * the kernel does, and wake the wait queue. Returns the amount actually added.
   */
  signal(n = 1n): bigint {
    if (n < 0n) throw new RangeError(`eventfd signal of ${n}`);
    const added = COUNTER_MAX - this.#count < n ? COUNTER_MAX - this.#count : n;
    this.#count += added;
    this.#wake();
    return added;
  }

  /**
   * Add a wait-queue entry (kernel side, e.g. irqfd). `fn` is called synchronously after
   * every successful write and every signal, whether or not a blocked reader then consumes
   * the count. Returns the function that removes the entry (idempotent).
   */
  addWaiter(fn: () => void): () => void {
    const entry = { fn };
    this.#waiters.push(entry);
    return () => {
      const i = this.#waiters.indexOf(entry);
      if (i >= 0) this.#waiters.splice(i, 1);
    };
  }

  /** Number of wait-queue entries (for inspection). */
  get waiterCount(): number {
    return this.#waiters.length;
  }

  /**
   * The last reference went. Blocked reads hold a reference in the process model, so none is
   * normally left; any that are get EBADF. Kernel-side waiters are left to their owners,
   * which drop them on unbind (uapi.md §8.13).
   */
  release(): void {
    this.#released = true;
    for (const r of this.#readers.splice(0)) {
      r.cleanup();
      r.reject(new ErrnoError('EBADF', 'eventfd released'));
    }
  }

  /** Consume per the mode; the counter is > 0. */
  #take(): Uint8Array {
    if (this.semaphore) {
      this.#count -= 1n;
      return u64le(1n);
    }
    const v = this.#count;
    this.#count = 0n;
    return u64le(v);
  }

  /**
   * wake_up: call every wait-queue entry, then serve blocked readers while the counter is
   * non-zero. A throwing entry is a kernel-model bug: the others still run, then the first
   * error is rethrown.
   */
  #wake(): void {
    let firstError: unknown;
    let failed = false;
    // A copy: an entry may remove itself (or another) while the queue is walked.
    const waiters = this.#waiters.slice();
    for (let i = 0; i < waiters.length; i++) {
      try {
        waiters[i]!.fn();
      } catch (err) {
        if (!failed) firstError = err;
        failed = true;
      }
    }
    while (this.#count > 0n && this.#readers.length > 0) {
      const r = this.#readers.shift()!;
      r.cleanup();
      r.resolve(this.#take());
    }
    if (failed) throw firstError;
  }
}

/** The error an interrupted read rejects with: the signal's ErrnoError reason, else EINTR. */
function abortReason(signal: AbortSignal): Error {
  return signal.reason instanceof ErrnoError ? signal.reason : new ErrnoError('EINTR', 'read interrupted', { cause: signal.reason });
}

/** True when `file` is an eventfd (what irqfd/ioeventfd check before binding; else EINVAL). */
export function isEventFd(file: KernelFile | undefined): file is EventFdFile {
  return file instanceof EventFdFile;
}
