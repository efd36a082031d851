// Anonymous shared memory of a host process (HostProcess.mmapAnonymous) and the kernel's
// pin_user_pages over it (UserMemory.pinUserPages), backed by src/vm-mgr/anon-memory.ts: the
// host user memory the gh_ dialect hands to VMs (README.md §Dialects; vmm-flows.md §3, §4, Q12).
import { describe, it, expect } from 'vitest';
import { HostProcess } from '../../src/host/process.js';
import type { KernelFile, PinnedPages } from '../../src/host/kernel-file.js';
import { AnonMemFile } from '../../src/vm-mgr/anon-memory.js';
import { fakeHostMemory } from '../support/fake-host-memory.js';
import { isSigbusError } from '../../src/shared/sigbus-error.js';

const PAGE = 4096;
const PIN_REQUEST = 0x1234;


/** A process whose one device pins `arg` (addr) for `pinPages` pages on ioctl, keeping the pins. */
function setup() {
  const m = fakeHostMemory();
  const pins: PinnedPages[] = [];
  let pinPages = 1;
  let write = false;
  const device = (): KernelFile => ({
    name: 'pinner',
    ioctl: (req, arg, ctx) => {
      if (req !== PIN_REQUEST) throw new Error('unexpected request');
      pins.push(ctx.user.pinUserPages!(arg, pinPages, write));
      return 0;
    },
    release: () => {},
  });
  /** A mappable file whose mappings cannot be pinned (no `pin`), like a vCPU run page. */
  const plain = (): KernelFile => ({ name: 'plain', mmap: () => ({ read: (_o, l) => new Uint8Array(l), write: () => {}, unmap: () => {} }), release: () => {} });
  const proc = new HostProcess({
    devices: new Map([
      ['/dev/pinner', device],
      ['/dev/plain', plain],
    ]),
    anonymousMemory: (length) => new AnonMemFile({ pages: m.pages, hyp: m.hyp }, length),
  });
  const fd = proc.open('/dev/pinner');
  return {
    ...m,
    proc,
    pins,
    pin: (addr: bigint, count: number, w = false) => {
      pinPages = count;
      write = w;
      return proc.ioctl(fd, PIN_REQUEST, addr);
    },
  };
}

describe('mmapAnonymous', () => {
  it('gives zero-filled memory of whole pages that keeps what is written', () => {
    const { proc } = setup();
    const m = proc.mmapAnonymous(PAGE + 1);
    expect(m.length).toBe(2 * PAGE);
    expect(m.addr % BigInt(PAGE)).toBe(0n);
    expect([...m.read(PAGE - 2, 4)]).toEqual([0, 0, 0, 0]);
    m.write(PAGE - 2, Uint8Array.of(1, 2, 3, 4));
    expect([...m.read(PAGE - 3, 6)]).toEqual([0, 1, 2, 3, 4, 0]);
    expect(proc.liveMappings().map((x) => x.name)).toEqual(['[anon_shmem]']);
  });

  it('refuses a bad length (EINVAL) and a process without shmem (ENOMEM); access outside is EFAULT', () => {
    const { proc } = setup();
    expect(() => proc.mmapAnonymous(0)).toThrow(expect.objectContaining({ code: 'EINVAL' }));
    const bare = new HostProcess({ devices: new Map() });
    expect(() => bare.mmapAnonymous(PAGE)).toThrow(expect.objectContaining({ code: 'ENOMEM' }));
    const m = proc.mmapAnonymous(PAGE);
    expect(() => m.read(PAGE - 1, 2)).toThrow(expect.objectContaining({ code: 'EFAULT' }));
  });

  it('frees its pages at munmap', async () => {
    const { proc, pages } = setup();
    const m = proc.mmapAnonymous(4 * PAGE);
    m.write(0, new Uint8Array(3 * PAGE).fill(7));
    expect(pages.inUse).toBe(3);
    await m.unmap();
    expect(pages.inUse).toBe(0);
    expect(proc.liveMappings()).toEqual([]);
  });

  it('a touch of a page the host no longer holds is SIGBUS at the faulting address', () => {
    const { proc, revoked, pins, pin } = setup();
    const m = proc.mmapAnonymous(2 * PAGE);
    return pin(m.addr, 2).then(() => {
      revoked.add(pins[0]!.pas[1]!);
      expect([...m.read(PAGE - 1, 1)]).toEqual([0]);
      let err: unknown;
      try {
        m.read(PAGE - 1, 3);
      } catch (e) {
        err = e;
      }
      expect(isSigbusError(err)).toBe(true);
      expect((err as { address: bigint }).address).toBe(m.addr + BigInt(PAGE));
      expect(() => m.write(PAGE + 8, Uint8Array.of(1))).toThrow(/SIGBUS/);
    });
  });
});

describe('pinUserPages (pin_user_pages over anonymous mappings)', () => {
  it('returns one physical page per user page, in order, faulting them in, and shares contents', async () => {
    const { proc, pins, pin, hyp } = setup();
    const m = proc.mmapAnonymous(4 * PAGE);
    m.write(PAGE, Uint8Array.of(0xaa));
    await pin(m.addr + BigInt(PAGE), 3, true);
    const { pas } = pins[0]!;
    expect(pas).toHaveLength(3);
    expect(new Set(pas).size).toBe(3);
    expect([...hyp.readMemory(pas[0]!, 1)]).toEqual([0xaa]);
    hyp.writeMemory(pas[2]! + 5, Uint8Array.of(0x55));
    expect([...m.read(3 * PAGE + 5, 1)]).toEqual([0x55]);
  });

  it('is EFAULT for a range that leaves the mapping, a heap pointer, an unaligned address or a non-pinnable mapping', async () => {
    const { proc, pin } = setup();
    const m = proc.mmapAnonymous(2 * PAGE);
    await expect(pin(m.addr + BigInt(PAGE), 2)).rejects.toMatchObject({ code: 'EFAULT' });
    await expect(pin(proc.malloc(PAGE), 1)).rejects.toMatchObject({ code: 'EFAULT' });
    await expect(pin(m.addr + 8n, 1)).rejects.toMatchObject({ code: 'EFAULT' });
    await expect(pin(0n, 1)).rejects.toMatchObject({ code: 'EFAULT' });
    // A mapping whose backend cannot be pinned (no `pin`).
    const m2 = proc.mmap(proc.open('/dev/plain'), PAGE);
    await expect(pin(m2.addr, 1)).rejects.toMatchObject({ code: 'EFAULT' });
    await m2.unmap();
  });

  it('pinned pages outlive munmap and are freed at their last unpin', async () => {
    const { proc, pins, pin, pages } = setup();
    const m = proc.mmapAnonymous(3 * PAGE);
    await pin(m.addr, 2);
    await pin(m.addr + BigInt(PAGE), 1);
    m.write(2 * PAGE, Uint8Array.of(1)); // the third page, never pinned
    expect(pages.inUse).toBe(3);
    await m.unmap();
    expect(pages.inUse).toBe(2); // the unpinned page went with the file
    pins[0]!.unpin();
    expect(pages.inUse).toBe(1); // page 1 still has the second pin
    pins[0]!.unpin(); // idempotent
    expect(pages.inUse).toBe(1);
    pins[1]!.unpin();
    expect(pages.inUse).toBe(0);
  });

  it('closeAll unmaps anonymous mappings like the others', async () => {
    const { proc, pages } = setup();
    proc.mmapAnonymous(PAGE).write(0, Uint8Array.of(9));
    expect(pages.inUse).toBe(1);
    await proc.closeAll();
    expect(pages.inUse).toBe(0);
    expect(proc.liveMappings()).toEqual([]);
  });
});
