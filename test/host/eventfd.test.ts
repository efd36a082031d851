// eventfd semantics (eventfd(2); DESIGN.md "Public contracts"), through HostProcess and through
// the kernel-side EventFdFile API that irqfd/ioeventfd use (uapi.md §8.13, §8.14).
import { describe, it, expect } from 'vitest';
import { test as ftest, fc } from '@fast-check/vitest';
import { HostProcess } from '../../src/host/process.js';
import { EFD_CLOEXEC, EFD_NONBLOCK, EFD_SEMAPHORE, EventFdFile, isEventFd } from '../../src/host/eventfd.js';
import { isErrnoError } from '../../src/shared/errno.js';

const u64 = (v: bigint): Uint8Array => {
  const b = new Uint8Array(8);
  new DataView(b.buffer).setBigUint64(0, v, true);
  return b;
};
const val = (b: Uint8Array): bigint => new DataView(b.buffer, b.byteOffset, b.byteLength).getBigUint64(0, true);
const proc = (): HostProcess => new HostProcess({ devices: new Map() });
const code = (f: () => unknown): string | undefined => {
  try {
    f();
  } catch (e) {
    return isErrnoError(e) ? e.code : `not errno: ${String(e)}`;
  }
  return undefined;
};

describe('eventfd through HostProcess', () => {
  it('initval is readable at once and the read resets the counter', async () => {
    const p = proc();
    const fd = p.eventfd(5, EFD_NONBLOCK);
    const got = await p.read(fd, 8);
    expect(got.byteLength).toBe(8);
    expect(val(got)).toBe(5n);
    await expect(p.read(fd, 8)).rejects.toMatchObject({ code: 'EAGAIN' });
  });

  it('writes add up; one read returns the sum; write returns 8', async () => {
    const p = proc();
    const fd = p.eventfd(0, EFD_NONBLOCK);
    expect(p.write(fd, u64(3n))).toBe(8);
    expect(p.write(fd, u64(4n))).toBe(8);
    expect(val(await p.read(fd, 8))).toBe(7n);
  });

  it('a read of more than 8 bytes returns 8 bytes; a write of more than 8 uses the first 8', async () => {
    const p = proc();
    const fd = p.eventfd(0, EFD_NONBLOCK);
    const long = new Uint8Array(16);
    long.set(u64(9n));
    long.fill(0xff, 8);
    expect(p.write(fd, long)).toBe(8);
    const got = await p.read(fd, 64);
    expect(got.byteLength).toBe(8);
    expect(val(got)).toBe(9n);
  });

  it('a blocking read waits for a later write', async () => {
    const p = proc();
    const fd = p.eventfd();
    let done = false;
    const pending = p.read(fd, 8).then((b) => {
      done = true;
      return val(b);
    });
    await Promise.resolve();
    await new Promise((r) => setTimeout(r, 5));
    expect(done).toBe(false);
    p.write(fd, u64(2n));
    await expect(pending).resolves.toBe(2n);
  });

  it('blocked readers are served in FIFO order; a write of 0 wakes nobody', async () => {
    const p = proc();
    const fd = p.eventfd(0, EFD_SEMAPHORE);
    const order: string[] = [];
    const a = p.read(fd, 8).then((b) => order.push(`a${val(b)}`));
    const b = p.read(fd, 8).then((x) => order.push(`b${val(x)}`));
    p.write(fd, u64(0n));
    await new Promise((r) => setTimeout(r, 5));
    expect(order).toEqual([]);
    p.write(fd, u64(2n));
    await Promise.all([a, b]);
    expect(order).toEqual(['a1', 'b1']);
  });

  it('semaphore mode returns 1 per read and decrements', async () => {
    const p = proc();
    const fd = p.eventfd(3, EFD_SEMAPHORE | EFD_NONBLOCK);
    for (let i = 0; i < 3; i++) expect(val(await p.read(fd, 8))).toBe(1n);
    await expect(p.read(fd, 8)).rejects.toMatchObject({ code: 'EAGAIN' });
  });

  it('short reads and writes are EINVAL', async () => {
    const p = proc();
    const fd = p.eventfd(1);
    await expect(p.read(fd, 7)).rejects.toMatchObject({ code: 'EINVAL' });
    expect(code(() => p.write(fd, new Uint8Array(7)))).toBe('EINVAL');
    expect(code(() => p.write(fd, new Uint8Array(0)))).toBe('EINVAL');
  });

  it('writing 0xffffffffffffffff is EINVAL; overflow past 0xfffffffffffffffe is EAGAIN', async () => {
    const p = proc();
    const fd = p.eventfd(0, EFD_NONBLOCK);
    expect(code(() => p.write(fd, u64(0xffff_ffff_ffff_ffffn)))).toBe('EINVAL');
    expect(p.write(fd, u64(0xffff_ffff_ffff_fffen))).toBe(8);
    expect(code(() => p.write(fd, u64(1n)))).toBe('EAGAIN');
    expect(p.write(fd, u64(0n))).toBe(8); // adding 0 never overflows
    expect(val(await p.read(fd, 8))).toBe(0xffff_ffff_ffff_fffen);
    // A blocking eventfd answers EAGAIN too (write is synchronous; see eventfd.ts).
    const bfd = p.eventfd(0xffff_ffff);
    expect(code(() => p.write(bfd, u64(0xffff_ffff_ffff_fffen - 0xffff_ffffn + 1n)))).toBe('EAGAIN');
    expect(p.write(bfd, u64(0xffff_ffff_ffff_fffen - 0xffff_ffffn))).toBe(8);
  });

  it('flags other than SEMAPHORE|NONBLOCK|CLOEXEC are EINVAL; initval must be a u32', () => {
    const p = proc();
    expect(code(() => p.eventfd(0, 0x2))).toBe('EINVAL');
    expect(code(() => p.eventfd(0, 0x4000))).toBe('EINVAL');
    expect(code(() => p.eventfd(-1))).toBe('EINVAL');
    expect(code(() => p.eventfd(2 ** 32))).toBe('EINVAL');
    expect(p.eventfd(2 ** 32 - 1, EFD_SEMAPHORE | EFD_NONBLOCK | EFD_CLOEXEC)).toBe(3);
  });

  it('EFD_CLOEXEC marks the fd close-on-exec', () => {
    const p = proc();
    const a = p.eventfd(0, EFD_CLOEXEC);
    const b = p.eventfd(0);
    expect(p.openFiles().map((f) => [f.fd, f.cloexec, f.name])).toEqual([
      [a, true, '[eventfd]'],
      [b, false, '[eventfd]'],
    ]);
  });

  it('process exit interrupts a blocked read with EINTR and the file is released', async () => {
    const p = proc();
    const fd = p.eventfd();
    const file = p.openFiles()[0]!.file as EventFdFile;
    const pending = p.read(fd, 8);
    await p.closeAll();
    await expect(pending).rejects.toMatchObject({ code: 'EINTR' });
    expect(p.openFiles()).toEqual([]);
    expect(() => file.write(u64(1n))).toThrow(/EBADF/);
  });

  it('close while a read is blocked keeps the file until the read completes', async () => {
    const p = proc();
    const fd = p.eventfd();
    const file = p.openFiles()[0]!.file as EventFdFile;
    const pending = p.read(fd, 8);
    await p.close(fd);
    // The read still holds its reference: a kernel-side signal satisfies it.
    file.signal(4n);
    expect(val(await pending)).toBe(4n);
    await expect(p.read(fd, 8)).rejects.toMatchObject({ code: 'EBADF' });
  });
});

describe('EventFdFile kernel-side API', () => {
  it('signal adds, makes it readable, and wakes blocked readers', async () => {
    const e = new EventFdFile();
    expect(e.readable).toBe(false);
    const pending = e.read(8);
    expect(e.pendingReads).toBe(1);
    expect(e.signal()).toBe(1n);
    expect(val(await pending)).toBe(1n);
    e.signal(5n);
    expect(e.counter).toBe(5n);
    expect(e.readable).toBe(true);
  });

  it('signal saturates at 2^64-1 and returns what it added', () => {
    const e = new EventFdFile();
    e.write(u64(0xffff_ffff_ffff_fffen));
    expect(e.signal(10n)).toBe(1n);
    expect(e.counter).toBe(0xffff_ffff_ffff_ffffn);
    expect(e.signal()).toBe(0n);
  });

  it('waiters run after every successful write (even of 0) and every signal, not after failures', () => {
    const e = new EventFdFile(0, EFD_NONBLOCK);
    const seen: bigint[] = [];
    const remove = e.addWaiter(() => seen.push(e.counter));
    e.write(u64(2n));
    e.write(u64(0n));
    e.signal();
    expect(() => e.write(u64(0xffff_ffff_ffff_ffffn))).toThrow(/EINVAL/);
    expect(() => e.write(new Uint8Array(4))).toThrow(/EINVAL/);
    expect(seen).toEqual([2n, 2n, 3n]);
    remove();
    remove(); // idempotent
    e.signal();
    expect(seen).toHaveLength(3);
    expect(e.waiterCount).toBe(0);
  });

  it('waiters run before blocked readers consume the count, in registration order', async () => {
    const e = new EventFdFile();
    const log: string[] = [];
    e.addWaiter(() => log.push(`w1:${e.counter}`));
    e.addWaiter(() => log.push(`w2:${e.counter}`));
    const pending = e.read(8).then((b) => log.push(`r:${val(b)}`));
    e.write(u64(7n));
    await pending;
    expect(log).toEqual(['w1:7', 'w2:7', 'r:7']);
    expect(e.counter).toBe(0n);
  });

  it('a throwing waiter does not stop the others; the error surfaces after the write took effect', () => {
    const e = new EventFdFile();
    let second = 0;
    e.addWaiter(() => {
      throw new Error('boom');
    });
    e.addWaiter(() => second++);
    expect(() => e.signal()).toThrow('boom');
    expect(second).toBe(1);
    expect(e.counter).toBe(1n);
  });

  it('an aborted read consumes nothing', async () => {
    const e = new EventFdFile();
    const ac = new AbortController();
    const pending = e.read(8, ac.signal);
    ac.abort();
    await expect(pending).rejects.toMatchObject({ code: 'EINTR' });
    expect(e.pendingReads).toBe(0);
    e.signal();
    expect(e.counter).toBe(1n);
  });

  it('isEventFd tells eventfds from other files', () => {
    expect(isEventFd(new EventFdFile())).toBe(true);
    expect(isEventFd({ name: '[eventfd]', release: () => undefined })).toBe(false);
    expect(isEventFd(undefined)).toBe(false);
  });

  // Model: the counter after any sequence of writes and non-blocking reads.
  ftest.prop([
    fc.boolean(),
    fc.array(fc.oneof(fc.record({ w: fc.bigInt({ min: 0n, max: 1n << 62n }) }), fc.constant({ r: true as const })), {
      maxLength: 40,
    }),
  ])('counter follows the model', async (semaphore, ops) => {
    const e = new EventFdFile(0, EFD_NONBLOCK | (semaphore ? EFD_SEMAPHORE : 0));
    let model = 0n;
    for (const op of ops) {
      if ('w' in op) {
        if (0xffff_ffff_ffff_ffffn - model <= op.w) {
          expect(() => e.write(u64(op.w))).toThrow(/EAGAIN/);
        } else {
          e.write(u64(op.w));
          model += op.w;
        }
      } else if (model === 0n) {
        await expect(e.read(8)).rejects.toMatchObject({ code: 'EAGAIN' });
      } else {
        const got = val(await e.read(8));
        expect(got).toBe(semaphore ? 1n : model);
        model = semaphore ? model - 1n : 0n;
      }
      expect(e.counter).toBe(model);
    }
  });
});
