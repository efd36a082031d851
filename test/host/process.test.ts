// HostProcess: fd table, ioctl plumbing, mappings and file lifetime (DESIGN.md "Public
// contracts"; uapi.md §7: a file is released when its last reference goes). Tiny fake
// KernelFiles stand in for the Gunyah files.
import { describe, it, expect } from 'vitest';
import { HostProcess } from '../../src/host/process.js';
import type { IoctlContext, KernelFile, MappingBackend } from '../../src/host/kernel-file.js';
import { HOST_PAGE_SIZE } from '../../src/host/user-memory.js';
import { ErrnoError, isErrnoError } from '../../src/shared/errno.js';
import { SigbusError, isSigbusError } from '../../src/shared/sigbus-error.js';

/** A fake file that records what happened to it. */
class FakeFile implements KernelFile {
  readonly events: string[] = [];
  released = 0;
  releaseDelay?: Promise<void>;
  constructor(readonly name = 'fake') {}
  async release(): Promise<void> {
    this.events.push('release-start');
    if (this.releaseDelay) await this.releaseDelay;
    this.released++;
    this.events.push('release-end');
  }
}

/** A bare file: release only; no ioctl, mmap, read, write, fallocate. */
const bare = (name = 'bare'): KernelFile & { released: number } => {
  const f = {
    name,
    released: 0,
    release() {
      f.released++;
    },
  };
  return f;
};

/** A file whose mmap gives a 2-page backing store; page 1 raises SIGBUS. */
class MappableFile extends FakeFile {
  lastMmap?: { length: number; offset: number; addr: bigint };
  unmapped = 0;
  mmap(length: number, offset: number, addr: bigint): MappingBackend {
    this.lastMmap = { length, offset, addr };
    const store = new Uint8Array(length);
    const guard = (off: number, len: number): void => {
      if (off + len > HOST_PAGE_SIZE) throw new SigbusError(addr + BigInt(Math.max(off, HOST_PAGE_SIZE)), 'not backed');
    };
    return {
      read: (off, len) => {
        guard(off, len);
        return store.slice(off, off + len);
      },
      write: (off, bytes) => {
        guard(off, bytes.byteLength);
        store.set(bytes, off);
      },
      unmap: () => {
        this.unmapped++;
      },
    };
  }
}

/** A file whose ioctl echoes its input and can create new files through the context. */
class IoctlFile extends FakeFile {
  lastCtx?: IoctlContext;
  calls: Array<{ request: number; arg: bigint }> = [];
  gate?: Promise<void>;
  ioctl(request: number, arg: bigint, ctx: IoctlContext): number | Promise<number> {
    this.calls.push({ request, arg });
    this.lastCtx = ctx;
    switch (request) {
      case 1: // read a u32 from *arg, add 1, write it back; return the old value
      {
        const b = ctx.user.copyFromUser(arg, 4);
        const v = new DataView(b.buffer).getUint32(0, true);
        const out = new Uint8Array(4);
        new DataView(out.buffer).setUint32(0, v + 1, true);
        ctx.user.copyToUser(arg, out);
        return v;
      }
      case 2: // create a child file and return its fd
        return ctx.installFd(new FakeFile('child'), { cloexec: true });
      case 3: // async, waits on the gate
        return (async () => {
          await this.gate;
          return 42;
        })();
      case 4:
        throw new ErrnoError('EBUSY', 'fake');
      default:
        throw new ErrnoError('ENOTTY');
    }
  }
}

function setup(extra: Record<string, () => KernelFile> = {}) {
  const files: FakeFile[] = [];
  const devices = new Map<string, () => KernelFile>([
    [
      '/dev/fake',
      () => {
        const f = new IoctlFile('fake');
        files.push(f);
        return f;
      },
    ],
    ...Object.entries(extra),
  ]);
  return { p: new HostProcess({ devices }), files };
}

const errCode = (f: () => unknown): string | undefined => {
  try {
    f();
  } catch (e) {
    return isErrnoError(e) ? e.code : `not errno: ${String(e)}`;
  }
  return undefined;
};

describe('fd table', () => {
  it('allocates the lowest free fd from 3 up, as Linux does', async () => {
    const { p } = setup();
    expect(p.open('/dev/fake')).toBe(3);
    expect(p.open('/dev/fake')).toBe(4);
    expect(p.eventfd()).toBe(5);
    await p.close(4);
    expect(p.open('/dev/fake')).toBe(4);
    expect(p.open('/dev/fake')).toBe(6);
    await p.close(3);
    expect(p.eventfd()).toBe(3);
  });

  it('open of an unknown path is ENOENT; each open is a new file', () => {
    const { p, files } = setup();
    expect(errCode(() => p.open('/dev/kvm'))).toBe('ENOENT');
    p.open('/dev/fake');
    p.open('/dev/fake');
    expect(files).toHaveLength(2);
    expect(files[0]).not.toBe(files[1]);
  });

  it('stdio fds 0..2 and never-opened fds are EBADF', async () => {
    const { p } = setup();
    for (const fd of [0, 1, 2, 3, 99, -1]) {
      await expect(p.ioctl(fd, 1)).rejects.toMatchObject({ code: 'EBADF' });
      expect(errCode(() => p.write(fd, new Uint8Array(8)))).toBe('EBADF');
      await expect(p.close(fd)).rejects.toMatchObject({ code: 'EBADF' });
    }
  });

  it('after close every call is EBADF (faulty fd)', async () => {
    const { p } = setup();
    const fd = p.open('/dev/fake');
    await p.close(fd);
    await expect(p.ioctl(fd, 1)).rejects.toMatchObject({ code: 'EBADF' });
    await expect(p.read(fd, 8)).rejects.toMatchObject({ code: 'EBADF' });
    expect(errCode(() => p.write(fd, new Uint8Array(8)))).toBe('EBADF');
    expect(errCode(() => p.mmap(fd, 4096))).toBe('EBADF');
    await expect(p.fallocate(fd, 3, 0, 4096)).rejects.toMatchObject({ code: 'EBADF' });
    expect(errCode(() => p.dup(fd))).toBe('EBADF');
  });

  it('close is idempotent per fd and releases once', async () => {
    const { p, files } = setup();
    const fd = p.open('/dev/fake');
    const first = p.close(fd);
    const second = p.close(fd);
    expect(second).toBe(first);
    await first;
    await expect(p.close(fd)).resolves.toBeUndefined();
    expect(files[0]!.released).toBe(1);
  });

  it('a reused fd number closes the new file, not the old one again', async () => {
    const { p, files } = setup();
    const fd = p.open('/dev/fake');
    await p.close(fd);
    expect(p.open('/dev/fake')).toBe(fd);
    await p.close(fd);
    expect(files.map((f) => f.released)).toEqual([1, 1]);
    await expect(p.close(fd)).resolves.toBeUndefined();
  });

  it('close resolves only after an async release finished', async () => {
    let open!: () => void;
    const f = new FakeFile('slow');
    f.releaseDelay = new Promise((r) => (open = r));
    const { p } = setup({ '/dev/slow': () => f });
    const fd = p.open('/dev/slow');
    let closed = false;
    const c = p.close(fd).then(() => (closed = true));
    await new Promise((r) => setTimeout(r, 5));
    expect(closed).toBe(false);
    expect(f.events).toEqual(['release-start']);
    open();
    await c;
    expect(f.events).toEqual(['release-start', 'release-end']);
  });

  it('a throwing release rejects the close that triggered it; the fd is gone anyway', async () => {
    const bad: KernelFile = {
      name: 'bad',
      release() {
        throw new Error('release bug');
      },
    };
    const { p } = setup({ '/dev/bad': () => bad });
    const fd = p.open('/dev/bad');
    await expect(p.close(fd)).rejects.toThrow('release bug');
    expect(p.openFiles()).toEqual([]);
  });

  it('dup shares the file: the release waits for the last fd', async () => {
    const { p, files } = setup();
    const fd = p.open('/dev/fake');
    const fd2 = p.dup(fd);
    expect(fd2).toBe(fd + 1);
    expect(p.openFiles().map((o) => o.refs)).toEqual([2, 2]);
    await p.close(fd);
    expect(files[0]!.released).toBe(0);
    await expect(p.ioctl(fd2, 2)).resolves.toBeGreaterThan(0);
    await p.close(fd2);
    expect(files[0]!.released).toBe(1);
  });

  it('dup clears close-on-exec', () => {
    const { p } = setup();
    const fd = p.eventfd(0, 0x8_0000);
    const fd2 = p.dup(fd);
    expect(p.openFiles().map((o) => [o.fd, o.cloexec])).toEqual([
      [fd, true],
      [fd2, false],
    ]);
  });

  it('closeAll closes every fd and mapping and awaits every release', async () => {
    const m = new MappableFile('mappable');
    const b = bare();
    const { p, files } = setup({ '/dev/m': () => m, '/dev/b': () => b });
    p.open('/dev/fake');
    const mfd = p.open('/dev/m');
    p.open('/dev/b');
    p.eventfd();
    const mapping = p.mmap(mfd, 100);
    await p.close(mfd);
    expect(m.released).toBe(0);
    await p.closeAll();
    expect(files[0]!.released).toBe(1);
    expect(m.released).toBe(1);
    expect(m.unmapped).toBe(1);
    expect(b.released).toBe(1);
    expect(p.openFiles()).toEqual([]);
    expect(p.liveMappings()).toEqual([]);
    expect(errCode(() => mapping.read(0, 1))).toBe('EFAULT');
    // The process is usable again with an empty table.
    expect(p.open('/dev/fake')).toBe(3);
  });

  it('closeAll unmaps before closing fds (exit_mm before exit_files) and releases in order', async () => {
    const order: string[] = [];
    const mk = (name: string): KernelFile => ({
      name,
      mmap: () => ({ read: () => new Uint8Array(), write: () => undefined, unmap: () => order.push(`unmap ${name}`) }),
      release: () => {
        order.push(`release ${name}`);
      },
    });
    const { p } = setup({ '/dev/a': () => mk('a'), '/dev/b': () => mk('b') });
    const a = p.open('/dev/a');
    const b = p.open('/dev/b');
    p.mmap(b, 1);
    p.mmap(a, 1);
    await p.closeAll();
    expect(order).toEqual(['unmap b', 'unmap a', 'release a', 'release b']);
  });

  it('closeAll reports a failing release after closing the rest', async () => {
    const bad: KernelFile = {
      name: 'bad',
      release: () => Promise.reject(new Error('bug')),
    };
    const good = bare('good');
    const { p } = setup({ '/dev/bad': () => bad, '/dev/good': () => good });
    p.open('/dev/bad');
    p.open('/dev/good');
    await expect(p.closeAll()).rejects.toThrow('bug');
    expect(good.released).toBe(1);
    expect(p.openFiles()).toEqual([]);
  });
});

describe('ioctl', () => {
  it('passes the request and a u64 arg; the file sees user memory through the context', async () => {
    const { p, files } = setup();
    const fd = p.open('/dev/fake');
    const ptr = p.malloc(4);
    p.poke(ptr, new Uint8Array([41, 0, 0, 0]));
    await expect(p.ioctl(fd, 1, ptr)).resolves.toBe(41);
    expect([...p.peek(ptr, 4)]).toEqual([42, 0, 0, 0]);
    const f = files[0] as IoctlFile;
    expect(f.calls[0]).toEqual({ request: 1, arg: ptr });
  });

  it('arg defaults to 0n; numbers and negative values become u64', async () => {
    const { p, files } = setup();
    const fd = p.open('/dev/fake');
    const f = files[0] as IoctlFile;
    await expect(p.ioctl(fd, 9)).rejects.toMatchObject({ code: 'ENOTTY' });
    await expect(p.ioctl(fd, 9, 7)).rejects.toMatchObject({ code: 'ENOTTY' });
    await expect(p.ioctl(fd, 9, -1)).rejects.toMatchObject({ code: 'ENOTTY' });
    await expect(p.ioctl(fd, 9, -2n)).rejects.toMatchObject({ code: 'ENOTTY' });
    expect(f.calls.map((c) => c.arg)).toEqual([0n, 7n, 0xffff_ffff_ffff_ffffn, 0xffff_ffff_ffff_fffen]);
    await expect(p.ioctl(fd, 9, 1.5)).rejects.toMatchObject({ code: 'EINVAL' });
  });

  it('request numbers with bit 31 set arrive unsigned', async () => {
    const { p, files } = setup();
    const fd = p.open('/dev/fake');
    await expect(p.ioctl(fd, 0xc0104702 | 0, 0)).rejects.toMatchObject({ code: 'ENOTTY' });
    expect((files[0] as IoctlFile).calls[0]!.request).toBe(0xc0104702);
  });

  it('a file without ioctl answers ENOTTY; a file error is passed through', async () => {
    const { p } = setup({ '/dev/b': () => bare() });
    const b = p.open('/dev/b');
    await expect(p.ioctl(b, 1)).rejects.toMatchObject({ code: 'ENOTTY', errno: 25 });
    const fd = p.open('/dev/fake');
    await expect(p.ioctl(fd, 4)).rejects.toMatchObject({ code: 'EBUSY' });
  });

  it('a bad user pointer inside the ioctl is EFAULT', async () => {
    const { p } = setup();
    const fd = p.open('/dev/fake');
    await expect(p.ioctl(fd, 1, 0)).rejects.toMatchObject({ code: 'EFAULT' });
    const ptr = p.malloc(3);
    await expect(p.ioctl(fd, 1, ptr)).rejects.toMatchObject({ code: 'EFAULT' });
  });

  it('installFd gives the lowest free fd; fget sees open fds only', async () => {
    const { p, files } = setup();
    const fd = p.open('/dev/fake');
    const child = await p.ioctl(fd, 2);
    expect(child).toBe(fd + 1);
    expect(p.openFiles().find((o) => o.fd === child)).toMatchObject({ name: 'child', cloexec: true, refs: 1 });
    const ctx = (files[0] as IoctlFile).lastCtx!;
    expect(ctx.fget(fd)).toBe(files[0]);
    expect(ctx.fget(child)?.name).toBe('child');
    expect(ctx.fget(77)).toBeUndefined();
    await p.close(child);
    expect(ctx.fget(child)).toBeUndefined();
  });

  it('an ioctl in flight holds the file: close returns at once, release follows the ioctl', async () => {
    const { p, files } = setup();
    const fd = p.open('/dev/fake');
    const f = files[0] as IoctlFile;
    let open!: () => void;
    f.gate = new Promise((r) => (open = r));
    const call = p.ioctl(fd, 3);
    await p.close(fd);
    expect(f.released).toBe(0);
    expect(p.openFiles()).toEqual([]);
    open();
    await expect(call).resolves.toBe(42);
    expect(f.released).toBe(1);
  });
});

describe('read, write, fallocate on files without handlers', () => {
  it('read and write are EINVAL, fallocate ENODEV (not a regular file)', async () => {
    const { p } = setup({ '/dev/b': () => bare() });
    const fd = p.open('/dev/b');
    await expect(p.read(fd, 8)).rejects.toMatchObject({ code: 'EINVAL' });
    expect(errCode(() => p.write(fd, new Uint8Array(8)))).toBe('EINVAL');
    await expect(p.fallocate(fd, 3, 0, 4096)).rejects.toMatchObject({ code: 'ENODEV' });
    const efd = p.eventfd();
    await expect(p.fallocate(efd, 3, 0, 4096)).rejects.toMatchObject({ code: 'ENODEV' });
  });

  it('fallocate checks offset and length before the file, then forwards', async () => {
    const seen: number[][] = [];
    const f: KernelFile = {
      name: '[gh-gmem]',
      fallocate: (mode, offset, length) => {
        seen.push([mode, offset, length]);
      },
      release: () => undefined,
    };
    const { p } = setup({ '/dev/g': () => f });
    const fd = p.open('/dev/g');
    await expect(p.fallocate(fd, 3, -1, 4096)).rejects.toMatchObject({ code: 'EINVAL' });
    await expect(p.fallocate(fd, 3, 0, 0)).rejects.toMatchObject({ code: 'EINVAL' });
    await p.fallocate(fd, 3, 4096, 8192);
    expect(seen).toEqual([[3, 4096, 8192]]);
  });
});

describe('mmap', () => {
  it('rounds the length to pages, hands the backend (length, offset, addr), and holds the file', async () => {
    const m = new MappableFile();
    const { p } = setup({ '/dev/m': () => m });
    const fd = p.open('/dev/m');
    const map = p.mmap(fd, 40, 0);
    expect(map.length).toBe(HOST_PAGE_SIZE);
    expect(map.addr % BigInt(HOST_PAGE_SIZE)).toBe(0n);
    expect(m.lastMmap).toEqual({ length: HOST_PAGE_SIZE, offset: 0, addr: map.addr });
    map.write(4, new Uint8Array([1, 2, 3]));
    expect([...map.read(3, 5)]).toEqual([0, 1, 2, 3, 0]);
    // The mapping keeps the file alive after close(fd), until unmap.
    await p.close(fd);
    expect(m.released).toBe(0);
    expect(map.read(4, 1)[0]).toBe(1);
    expect(p.liveMappings()).toMatchObject([{ addr: map.addr, length: HOST_PAGE_SIZE, name: 'fake' }]);
    await map.unmap();
    expect(m.unmapped).toBe(1);
    expect(m.released).toBe(1);
    await map.unmap(); // idempotent
    expect(m.unmapped).toBe(1);
  });

  it('an access outside the mapping or after unmap is EFAULT; inside, the backend may raise SIGBUS', async () => {
    const m = new MappableFile();
    const { p } = setup({ '/dev/m': () => m });
    const fd = p.open('/dev/m');
    const map = p.mmap(fd, 2 * HOST_PAGE_SIZE);
    expect(errCode(() => map.read(2 * HOST_PAGE_SIZE - 1, 2))).toBe('EFAULT');
    expect(errCode(() => map.read(-1, 1))).toBe('EFAULT');
    expect(errCode(() => map.write(2 * HOST_PAGE_SIZE, new Uint8Array(1)))).toBe('EFAULT');
    let caught: unknown;
    try {
      map.read(HOST_PAGE_SIZE - 2, 4);
    } catch (e) {
      caught = e;
    }
    expect(isSigbusError(caught)).toBe(true);
    expect((caught as SigbusError).address).toBe(map.addr + BigInt(HOST_PAGE_SIZE));
    await map.unmap();
    expect(errCode(() => map.read(0, 1))).toBe('EFAULT');
  });

  it('length 0, unaligned offsets and files without mmap are refused', () => {
    const m = new MappableFile();
    const { p } = setup({ '/dev/m': () => m, '/dev/b': () => bare() });
    const fd = p.open('/dev/m');
    expect(errCode(() => p.mmap(fd, 0))).toBe('EINVAL');
    expect(errCode(() => p.mmap(fd, 4096, 100))).toBe('EINVAL');
    expect(errCode(() => p.mmap(fd, 4096, -4096))).toBe('EINVAL');
    expect(p.mmap(fd, 4096, 8192)).toBeDefined();
    expect(m.lastMmap?.offset).toBe(8192);
    expect(errCode(() => p.mmap(p.open('/dev/b'), 4096))).toBe('ENODEV');
    expect(errCode(() => p.mmap(p.eventfd(), 4096))).toBe('ENODEV');
  });

  it('mappings and allocations never overlap; mapping addresses are not user memory', () => {
    const m = new MappableFile();
    const { p } = setup({ '/dev/m': () => m });
    const fd = p.open('/dev/m');
    const a = p.malloc(10);
    const map = p.mmap(fd, 3 * HOST_PAGE_SIZE);
    const b = p.malloc(10);
    expect(map.addr).toBeGreaterThan(a);
    expect(b).toBeGreaterThanOrEqual(map.addr + BigInt(map.length) + BigInt(HOST_PAGE_SIZE));
    expect(errCode(() => p.peek(map.addr, 1))).toBe('EFAULT');
  });

  it('two processes are independent', () => {
    const a = setup().p;
    const b = setup().p;
    a.open('/dev/fake');
    expect(b.open('/dev/fake')).toBe(3);
    const pa = a.malloc(8);
    const pb = b.malloc(8);
    a.poke(pa, new Uint8Array(8).fill(1));
    expect([...b.peek(pb, 8)]).toEqual(new Array(8).fill(0));
  });
});
