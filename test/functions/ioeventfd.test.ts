// ioeventfd: ADD_FUNCTION ioeventfd rows (uapi.md §6.2) in the kernel's order, QUIRK K2, the
// handler fields and EEXIST of §8.14, firing, REMOVE_FUNCTION matching (§8.1) and unbind.
import { describe, expect, it } from 'vitest';
import { ioeventfdFunction } from '../../src/functions/index.js';
import { GUNYAH_FN_IOEVENTFD, GUNYAH_IOEVENTFD_FLAGS_DATAMATCH, encodeFnIoeventfdArg } from '../../src/vm-mgr/uapi/index.js';
import { DEFAULT_QUIRKS } from '../../src/vm-mgr/vm-api.js';
import { Harness, eventfdFile, outcome } from './support/index.js';

const DM = GUNYAH_IOEVENTFD_FLAGS_DATAMATCH;

interface ArgInit {
  datamatch?: bigint;
  addr?: bigint;
  len?: number;
  fd: number;
  flags?: number;
  padding?: number;
}
const ioArg = (a: ArgInit): Uint8Array =>
  encodeFnIoeventfdArg({ datamatch: a.datamatch ?? 0n, addr: a.addr ?? 0x6000n, len: a.len ?? 4, fd: a.fd, flags: a.flags ?? 0, padding: a.padding ?? 0 });

describe('ADD_FUNCTION ioeventfd validation (§6.2, in order)', () => {
  it('describes itself: type GUNYAH_FN_IOEVENTFD (3), arg size 32', () => {
    expect(ioeventfdFunction.type).toBe(GUNYAH_FN_IOEVENTFD);
    expect(ioeventfdFunction.type).toBe(3);
    expect(ioeventfdFunction.argSize).toBe(32);
  });

  it.each([0, 16, 31, 33, 64])('arg_size %i ≠ 32 gives EINVAL', async (size) => {
    const h = new Harness();
    expect(await outcome(h.bind(ioeventfdFunction, new Uint8Array(size)))).toBe('EINVAL');
  });

  it.each([0x2, 0x3, 0x8000_0000])('flags 0x%s beyond bit 0 give EINVAL', async (flags) => {
    const h = new Harness();
    expect(await outcome(h.bind(ioeventfdFunction, ioArg({ fd: h.proc.eventfd(), flags })))).toBe('EINVAL');
  });

  it.each([3, 5, 6, 7, 9, 16, 0xffff_ffff])('len %i gives EINVAL', async (len) => {
    const h = new Harness();
    expect(await outcome(h.bind(ioeventfdFunction, ioArg({ fd: h.proc.eventfd(), len })))).toBe('EINVAL');
  });

  it.each([0, 1, 2, 4, 8])('len %i is accepted', async (len) => {
    const h = new Harness();
    expect((await h.bind(ioeventfdFunction, ioArg({ fd: h.proc.eventfd(), len }))).result).toBe(0);
  });

  it('QUIRK K2: addr + len overflowing u64 is accepted', async () => {
    const h = new Harness();
    const inst = await h.bind(ioeventfdFunction, ioArg({ fd: h.proc.eventfd(), addr: 0xffff_ffff_ffff_fffcn, len: 8 }));
    expect(inst.result).toBe(0);
  });

  it.each([
    [0xffff_ffff_ffff_fffcn, 8],
    [0xffff_ffff_ffff_fff8n, 8],
    [0xffff_ffff_ffff_ffffn, 1],
  ])('QUIRK K2 off: addr 0x%s + len %i overflowing gives EINVAL', async (addr, len) => {
    const h = new Harness();
    h.vm.quirks = { ...DEFAULT_QUIRKS, k2IoeventfdOverflowUnchecked: false };
    expect(await outcome(h.bind(ioeventfdFunction, ioArg({ fd: h.proc.eventfd(), addr, len })))).toBe('EINVAL');
    // The last address that does not overflow is fine.
    expect((await h.bind(ioeventfdFunction, ioArg({ fd: h.proc.eventfd(), addr: 0xffff_ffff_ffff_fff7n, len: 8 }))).result).toBe(0);
  });

  it('len 0 with DATAMATCH gives EINVAL', async () => {
    const h = new Harness();
    expect(await outcome(h.bind(ioeventfdFunction, ioArg({ fd: h.proc.eventfd(), len: 0, flags: DM })))).toBe('EINVAL');
  });

  it('the argument is checked before the fd', async () => {
    const h = new Harness();
    expect(await outcome(h.bind(ioeventfdFunction, ioArg({ fd: 99, len: 3 })))).toBe('EINVAL');
    expect(await outcome(h.bind(ioeventfdFunction, ioArg({ fd: 99, len: 0, flags: DM })))).toBe('EINVAL');
  });

  it.each([99, -1, -2147483648])('fd %i that is not open gives EBADF', async (fd) => {
    const h = new Harness();
    expect(await outcome(h.bind(ioeventfdFunction, ioArg({ fd })))).toBe('EBADF');
  });

  it('an fd that is not an eventfd gives EINVAL', async () => {
    const h = new Harness();
    expect(await outcome(h.bind(ioeventfdFunction, ioArg({ fd: h.vmFd })))).toBe('EINVAL');
  });

  it('padding is not checked', async () => {
    const h = new Harness();
    expect((await h.bind(ioeventfdFunction, ioArg({ fd: h.proc.eventfd(), padding: 0xffff_ffff }))).result).toBe(0);
  });
});

describe('handlers and EEXIST (§8.14)', () => {
  it('without DATAMATCH the handler has len 0 and data 0; with it, len and data from the arg', async () => {
    const h = new Harness();
    await h.bind(ioeventfdFunction, ioArg({ fd: h.proc.eventfd(), addr: 0x6000n, len: 4, datamatch: 5n }));
    await h.bind(ioeventfdFunction, ioArg({ fd: h.proc.eventfd(), addr: 0x7000n, len: 2, datamatch: 0xabcdn, flags: DM }));
    expect(h.vm.ioeventfds.map(({ addr, len, datamatch, data }) => ({ addr, len, datamatch, data }))).toEqual([
      { addr: 0x6000n, len: 0, datamatch: false, data: 0n },
      { addr: 0x7000n, len: 2, datamatch: true, data: 0xabcdn },
    ]);
  });

  it.each([
    ['two plain handlers, different len in the arg', { len: 4 }, { len: 8 }, 'EEXIST'],
    ['plain then DATAMATCH', { len: 4 }, { len: 4, flags: DM, datamatch: 1n }, 'EEXIST'],
    ['DATAMATCH then plain', { len: 4, flags: DM, datamatch: 1n }, { len: 2 }, 'EEXIST'],
    ['DATAMATCH, same len and value', { len: 4, flags: DM, datamatch: 1n }, { len: 4, flags: DM, datamatch: 1n }, 'EEXIST'],
    ['DATAMATCH, different values', { len: 4, flags: DM, datamatch: 1n }, { len: 4, flags: DM, datamatch: 2n }, 'ok'],
    ['DATAMATCH, different lengths', { len: 4, flags: DM, datamatch: 1n }, { len: 8, flags: DM, datamatch: 1n }, 'ok'],
    ['plain, different addresses', { len: 4 }, { len: 4, addr: 0x6004n }, 'ok'],
  ] as const)('%s: %s', async (_name, first, second, expected) => {
    const h = new Harness();
    await h.bind(ioeventfdFunction, ioArg({ fd: h.proc.eventfd(), ...first }));
    expect(await outcome(h.bind(ioeventfdFunction, ioArg({ fd: h.proc.eventfd(), ...second })))).toBe(expected);
  });

  it('a matching guest write adds 1 to the eventfd counter', async () => {
    const h = new Harness();
    const efd = h.proc.eventfd();
    await h.bind(ioeventfdFunction, ioArg({ fd: efd, addr: 0x6000n, len: 4, flags: DM, datamatch: 0x55n }));
    expect(h.vm.ioeventfdWrite(0x6000n, 4, 0x55n)).toBe(true);
    expect(h.vm.ioeventfdWrite(0x6000n, 4, 0x55n)).toBe(true);
    expect(eventfdFile(h, efd).counter).toBe(2n);
    expect(await h.proc.read(efd, 8)).toEqual(new Uint8Array([2, 0, 0, 0, 0, 0, 0, 0]));
  });

  it('datamatch mismatch, other length or other address: no match, no signal', async () => {
    const h = new Harness();
    const efd = h.proc.eventfd();
    await h.bind(ioeventfdFunction, ioArg({ fd: efd, addr: 0x6000n, len: 4, flags: DM, datamatch: 0x55n }));
    expect(h.vm.ioeventfdWrite(0x6000n, 4, 0x56n)).toBe(false);
    expect(h.vm.ioeventfdWrite(0x6000n, 2, 0x55n)).toBe(false);
    expect(h.vm.ioeventfdWrite(0x6004n, 4, 0x55n)).toBe(false);
    expect(eventfdFile(h, efd).counter).toBe(0n);
  });

  it('a plain handler takes writes of any length and value at its address', async () => {
    const h = new Harness();
    const efd = h.proc.eventfd();
    await h.bind(ioeventfdFunction, ioArg({ fd: efd, addr: 0x6000n, len: 4 }));
    expect(h.vm.ioeventfdWrite(0x6000n, 1, 0n)).toBe(true);
    expect(h.vm.ioeventfdWrite(0x6000n, 8, 0xffff_ffff_ffff_ffffn)).toBe(true);
    expect(h.vm.ioeventfdWrite(0x6001n, 1, 0n)).toBe(false);
    expect(eventfdFile(h, efd).counter).toBe(2n);
  });
});

describe('REMOVE_FUNCTION ioeventfd (§8.1) and unbind', () => {
  it('matches addr, len and flags; datamatch only with DATAMATCH; exactly 32 bytes', async () => {
    const h = new Harness();
    const plain = await h.bind(ioeventfdFunction, ioArg({ fd: h.proc.eventfd(), addr: 0x6000n, len: 4, datamatch: 9n }));
    expect(plain.matches(ioArg({ fd: 0, addr: 0x6000n, len: 4, datamatch: 1234n }))).toBe(true); // fd and datamatch ignored
    expect(plain.matches(ioArg({ fd: 0, addr: 0x6000n, len: 8 }))).toBe(false);
    expect(plain.matches(ioArg({ fd: 0, addr: 0x6004n, len: 4 }))).toBe(false);
    expect(plain.matches(ioArg({ fd: 0, addr: 0x6000n, len: 4, flags: DM, datamatch: 9n }))).toBe(false);
    expect(plain.matches(ioArg({ fd: 0, addr: 0x6000n, len: 4 }).subarray(0, 31))).toBe(false);

    const dm = await h.bind(ioeventfdFunction, ioArg({ fd: h.proc.eventfd(), addr: 0x7000n, len: 2, flags: DM, datamatch: 7n }));
    expect(dm.matches(ioArg({ fd: 5, addr: 0x7000n, len: 2, flags: DM, datamatch: 7n }))).toBe(true);
    expect(dm.matches(ioArg({ fd: 5, addr: 0x7000n, len: 2, flags: DM, datamatch: 8n }))).toBe(false);
    expect(dm.matches(ioArg({ fd: 5, addr: 0x7000n, len: 2, flags: 0, datamatch: 7n }))).toBe(false);
  });

  it('unbind removes the handler: writes exit to userspace again, and the slot is free', async () => {
    const h = new Harness();
    const efd = h.proc.eventfd();
    const inst = await h.bind(ioeventfdFunction, ioArg({ fd: efd, addr: 0x6000n }));
    await inst.unbind();
    await inst.unbind(); // idempotent
    expect(h.vm.ioeventfds).toHaveLength(0);
    expect(h.vm.ioeventfdWrite(0x6000n, 4, 1n)).toBe(false);
    await h.bind(ioeventfdFunction, ioArg({ fd: efd, addr: 0x6000n }));
  });

  it('after the eventfd fd is closed, a match still adds to the (unreachable) counter', async () => {
    const h = new Harness();
    const efd = h.proc.eventfd();
    const file = eventfdFile(h, efd);
    await h.bind(ioeventfdFunction, ioArg({ fd: efd, addr: 0x6000n }));
    await h.proc.close(efd);
    expect(h.vm.ioeventfdWrite(0x6000n, 4, 1n)).toBe(true);
    expect(file.counter).toBe(1n);
  });
});
