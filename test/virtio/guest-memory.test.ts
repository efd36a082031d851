/**
 * The VM's guest-memory accessor for devices (VmHandle.guestMemory, src/vm-mgr/guest-memory-
 * access.ts) end to end through a booted holding-cell VM: device writes are seen by the host's
 * mmap of the guest-memory fd and by guest loads, guest stores and host writes are seen by the
 * device, lent memory (FORCE_LEND and DEFAULT, which v17 treats as lend) is refused with a clear
 * error whether the guest touched it or not, unbound addresses are 'unmapped', ranges outside the
 * address space or the backing file are 'bounds', and a split virtqueue laid out by guest stores
 * in shared memory is served by the device.
 *
 * Reference: uapi.md §8.11 (lend vs share; host visibility: shared pages stay coherent), §4
 * (access field: DEFAULT 0 → lend), §6.2 MAP_MEM (QUIRK K19: offset + size not checked against
 * the file size), scmi-virtio.md §4 (ring layout), §11 (ring memory must be shared).
 */
import { describe, expect, it } from 'vitest';
import { HoldingCellCmd } from '../../src/guest/index.js';
import { GUNYAH_MEM_ALLOW_RWX, GUNYAH_MEM_FORCE_LEND, GUNYAH_MEM_FORCE_SHARE } from '../../src/vm-mgr/uapi/index.js';
import { GuestMemoryError } from '../../src/virtio/guest-memory.js';
import { SplitQueue } from '../../src/virtio/split-queue.js';
import { GUEST_BASE, PAGE, bootHoldingCell, expectCleanShutdown, type BootedVm } from '../vm-mgr/support/boot.js';
import { holdingCellCommand } from '../vm-mgr/support/holding-cell-driver.js';
import { extraPage, kernelVm } from '../vm-mgr/support/programs.js';
import type { GuestMemFd } from '../../src/vmm/index.js';

const SHARE_RWX = GUNYAH_MEM_FORCE_SHARE | GUNYAH_MEM_ALLOW_RWX;
const SHARE_BASE = 0xb000_0000n;
const OTHER_BASE = 0xc000_0000n;

function le64(v: bigint): Uint8Array {
  const b = new Uint8Array(8);
  new DataView(b.buffer).setBigUint64(0, v, true);
  return b;
}

function u64(b: Uint8Array): bigint {
  return new DataView(b.buffer, b.byteOffset, 8).getBigUint64(0, true);
}

function refusal(fn: () => unknown): GuestMemoryError {
  try {
    fn();
  } catch (e) {
    if (e instanceof GuestMemoryError) return e;
    throw e;
  }
  throw new Error('expected a GuestMemoryError');
}

/** Boot with a FORCE_SHARE region of `pages` pages at SHARE_BASE. */
async function bootShared(pages = 2): Promise<BootedVm & { shm: GuestMemFd }> {
  const b = await bootHoldingCell({ noStart: true, extraPages: 1 });
  const shm = await b.dev.createGuestMem(pages * PAGE);
  await b.vm.mapMem({ guestAddr: SHARE_BASE, flags: SHARE_RWX, mem: shm, size: BigInt(pages * PAGE) });
  await b.vm.start();
  return { ...b, shm };
}

describe('shared memory: one set of bytes for the guest, the host mmap and the device', () => {
  it('a device write is seen by the host mmap and by a guest load', async () => {
    const b = await bootShared();
    const gm = kernelVm(b.emu, b.vm.fd).guestMemory;
    const map = b.shm.mmap();
    gm.write(SHARE_BASE + 0x10n, le64(0x1122_3344_5566_7788n));
    expect([...map.read(0x10, 8)]).toEqual([0x88, 0x77, 0x66, 0x55, 0x44, 0x33, 0x22, 0x11]);
    expect(await holdingCellCommand(b.vcpus[0]!, HoldingCellCmd.READ_ADDR, [SHARE_BASE + 0x10n])).toBe(0x1122_3344_5566_7788n);
    // Rewritten after the guest has the page: the guest sees the new value.
    gm.write(SHARE_BASE + 0x10n, le64(0xabcdn));
    expect(await holdingCellCommand(b.vcpus[0]!, HoldingCellCmd.READ_ADDR, [SHARE_BASE + 0x10n])).toBe(0xabcdn);
    await expectCleanShutdown(b.emu);
  });

  it('a guest store and a host mmap write are read by the device', async () => {
    const b = await bootShared();
    const gm = kernelVm(b.emu, b.vm.fd).guestMemory;
    expect(await holdingCellCommand(b.vcpus[0]!, HoldingCellCmd.WRITE_ADDR, [SHARE_BASE + 0x40n, 0x0102_0304_0506_0708n])).toBe(0n);
    expect([...gm.read(SHARE_BASE + 0x40n, 8)]).toEqual([8, 7, 6, 5, 4, 3, 2, 1]);
    b.shm.mmap(PAGE, PAGE).write(0x20, Uint8Array.of(0xaa, 0xbb));
    expect([...gm.read(SHARE_BASE + BigInt(PAGE) + 0x20n, 2)]).toEqual([0xaa, 0xbb]);
    await expectCleanShutdown(b.emu);
  });

  it('an access across a page boundary; a page nobody touched reads as zeros', async () => {
    const b = await bootShared(3);
    const gm = kernelVm(b.emu, b.vm.fd).guestMemory;
    expect([...gm.read(SHARE_BASE + BigInt(2 * PAGE), 16)]).toEqual(new Array(16).fill(0));
    const bytes = Uint8Array.from({ length: 16 }, (_, i) => 0xf0 + i);
    gm.write(SHARE_BASE + BigInt(PAGE) - 8n, bytes);
    const v = b.vcpus[0]!;
    expect(await holdingCellCommand(v, HoldingCellCmd.READ_ADDR, [SHARE_BASE + BigInt(PAGE) - 8n])).toBe(u64(bytes));
    expect(await holdingCellCommand(v, HoldingCellCmd.READ_ADDR, [SHARE_BASE + BigInt(PAGE)])).toBe(u64(bytes.subarray(8)));
    expect([...gm.read(SHARE_BASE + BigInt(PAGE) - 8n, 16)]).toEqual([...bytes]);
    await expectCleanShutdown(b.emu);
  });
});

describe('refused accesses', () => {
  it('lent memory (the FORCE_LEND boot binding): refused, touched by the guest or not, nothing written', async () => {
    const b = await bootShared();
    const gm = kernelVm(b.emu, b.vm.fd).guestMemory;
    const v = b.vcpus[0]!;
    expect(await holdingCellCommand(v, HoldingCellCmd.WRITE_ADDR, [extraPage(b, 0), 0x77n])).toBe(0n);
    const r = refusal(() => gm.read(extraPage(b, 0), 8));
    expect(r.reason).toBe('lent');
    expect(r.gpa).toBe(extraPage(b, 0));
    expect(r.message).toMatch(/lends its memory to the guest/);
    expect(r.message).toMatch(/FORCE_SHARE/);
    expect(refusal(() => gm.write(extraPage(b, 0), le64(0x99n))).reason).toBe('lent');
    expect(await holdingCellCommand(v, HoldingCellCmd.READ_ADDR, [extraPage(b, 0)])).toBe(0x77n);
    // The image page the guest has not written: refused as well.
    expect(refusal(() => gm.read(GUEST_BASE, 4)).reason).toBe('lent');
    expect(refusal(() => gm.probe!(GUEST_BASE, 4, 'write')).reason).toBe('lent');
    await expectCleanShutdown(b.emu);
  });

  it('DEFAULT access (0) is lend in v17: refused', async () => {
    const b = await bootShared();
    const more = await b.dev.createGuestMem(PAGE);
    await b.vm.mapMem({ guestAddr: OTHER_BASE, flags: GUNYAH_MEM_ALLOW_RWX, mem: more, size: BigInt(PAGE) });
    const gm = kernelVm(b.emu, b.vm.fd).guestMemory;
    expect(refusal(() => gm.read(OTHER_BASE, 8)).reason).toBe('lent');
    await expectCleanShutdown(b.emu);
  });

  it('unbound addresses are unmapped; a range running off a shared binding writes nothing', async () => {
    const b = await bootShared(1);
    const gm = kernelVm(b.emu, b.vm.fd).guestMemory;
    expect(refusal(() => gm.read(0x1_0000_0000n, 4))).toMatchObject({ reason: 'unmapped', gpa: 0x1_0000_0000n });
    const r = refusal(() => gm.write(SHARE_BASE + BigInt(PAGE) - 4n, Uint8Array.of(1, 2, 3, 4, 5, 6, 7, 8)));
    expect(r).toMatchObject({ reason: 'unmapped', gpa: SHARE_BASE + BigInt(PAGE) });
    expect([...b.shm.mmap().read(PAGE - 4, 4)]).toEqual([0, 0, 0, 0]);
    // A range that starts in shared memory and runs into the lent boot binding's neighbourhood.
    expect(refusal(() => gm.read(SHARE_BASE - 4n, 8)).reason).toBe('unmapped');
    await expectCleanShutdown(b.emu);
  });

  it('bounds: negative or fractional lengths, addresses beyond 2^52, a binding beyond its file (QUIRK K19)', async () => {
    const b = await bootHoldingCell({ noStart: true });
    const small = await b.dev.createGuestMem(PAGE);
    // K19: offset + size is not checked against the file size, so this binding reaches page 1 of a 1-page file.
    await b.vm.mapMem({ guestAddr: SHARE_BASE, flags: SHARE_RWX, mem: small, size: BigInt(2 * PAGE) });
    await b.vm.start();
    const gm = kernelVm(b.emu, b.vm.fd).guestMemory;
    expect(refusal(() => gm.read(SHARE_BASE, -1)).reason).toBe('bounds');
    expect(refusal(() => gm.read(SHARE_BASE, 1.5)).reason).toBe('bounds');
    expect(refusal(() => gm.read(-8n, 4)).reason).toBe('bounds');
    expect(refusal(() => gm.read(2n ** 52n - 2n, 4)).reason).toBe('bounds');
    expect(refusal(() => gm.read(0xffff_ffff_ffff_fff0n, 4)).reason).toBe('bounds');
    expect(gm.read(SHARE_BASE + BigInt(PAGE) - 4n, 4)).toEqual(new Uint8Array(4));
    const r = refusal(() => gm.write(SHARE_BASE + BigInt(PAGE), Uint8Array.of(1)));
    expect(r.reason).toBe('bounds');
    expect(r.message).toMatch(/beyond the end of its guest-memory file/);
    expect(gm.read(SHARE_BASE, 0)).toEqual(new Uint8Array(0));
    await expectCleanShutdown(b.emu);
  });

  it('after UNMAP, and after the VM is gone, the range is unmapped', async () => {
    const b = await bootShared(1);
    const vm = kernelVm(b.emu, b.vm.fd);
    vm.guestMemory.write(SHARE_BASE, Uint8Array.of(1));
    await b.vm.unmapMem({ guestAddr: SHARE_BASE, flags: SHARE_RWX, mem: b.shm, size: BigInt(PAGE) });
    expect(refusal(() => vm.guestMemory.read(SHARE_BASE, 1)).reason).toBe('unmapped');
    const b2 = await bootShared(1);
    const vm2 = kernelVm(b2.emu, b2.vm.fd);
    await expectCleanShutdown(b.emu);
    await expectCleanShutdown(b2.emu);
    expect(refusal(() => vm2.guestMemory.read(SHARE_BASE, 1)).reason).toBe('unmapped');
  });
});

describe('a split virtqueue in shared memory, laid out by guest stores', () => {
  it('the guest writes descriptors, request and avail ring; the device answers; the guest reads the used ring and reply', async () => {
    const b = await bootShared(2);
    const v = b.vcpus[0]!;
    const store = async (addr: bigint, value: bigint): Promise<void> => {
      expect(await holdingCellCommand(v, HoldingCellCmd.WRITE_ADDR, [addr, value])).toBe(0n);
    };
    const load = (addr: bigint): Promise<bigint> => holdingCellCommand(v, HoldingCellCmd.READ_ADDR, [addr]);
    const DESC = SHARE_BASE;
    const AVAIL = SHARE_BASE + 0x100n;
    const USED = SHARE_BASE + 0x200n;
    const REQ = SHARE_BASE + 0x1000n;
    const RESP = SHARE_BASE + 0x1100n;
    // desc[0] = {REQ, 8, NEXT, next 1}; desc[1] = {RESP, 16, WRITE, 0}.
    await store(DESC, REQ);
    await store(DESC + 8n, 8n | (1n << 32n) | (1n << 48n));
    await store(DESC + 16n, RESP);
    await store(DESC + 24n, 16n | (2n << 32n));
    await store(REQ, 0x0000_0000_0001_0010n); // an SCMI header word and a parameter word
    // avail: flags 0, idx 1, ring[0] = 0.
    await store(AVAIL, 1n << 16n);

    const vq = new SplitQueue(kernelVm(b.emu, b.vm.fd).guestMemory, { size: 4, descAddr: DESC, availAddr: AVAIL, usedAddr: USED, eventIdx: false });
    const c = vq.pop()!;
    expect(c.head).toBe(0);
    expect([...c.readable]).toEqual([0x10, 0x00, 0x01, 0x00, 0x00, 0x00, 0x00, 0x00]);
    expect(vq.push(0, Uint8Array.of(0x10, 0x00, 0x01, 0x00, 0, 0, 0, 0, 0x2a, 0, 0, 0))).toBe(12);
    expect(vq.needsInterrupt()).toBe(true);

    // used: flags 0, idx 1, ring[0] = {id 0, len 12}.
    expect(await load(USED)).toBe(1n << 16n);
    expect(await load(USED + 8n)).toBe(12n);
    expect(await load(RESP)).toBe(0x0000_0000_0001_0010n);
    expect(await load(RESP + 8n)).toBe(0x2an);
    expect(vq.broken).toBeUndefined();
    await expectCleanShutdown(b.emu);
  });

  it('rings placed in lent memory: the queue is broken with a "lent" reason, nothing throws', async () => {
    const b = await bootShared(1);
    const gm = kernelVm(b.emu, b.vm.fd).guestMemory;
    const base = extraPage(b, 0);
    const vq = new SplitQueue(gm, { size: 4, descAddr: base, availAddr: base + 0x100n, usedAddr: base + 0x200n, eventIdx: false });
    expect(vq.pop()).toBeUndefined();
    expect(vq.broken?.kind).toBe('ring-inaccessible');
    expect(vq.broken?.detail).toMatch(/lent/);
    // A shared ring whose buffer points into lent memory.
    const vq2 = new SplitQueue(gm, { size: 4, descAddr: SHARE_BASE, availAddr: SHARE_BASE + 0x100n, usedAddr: SHARE_BASE + 0x200n, eventIdx: false });
    const d = new Uint8Array(16);
    new DataView(d.buffer).setBigUint64(0, base, true);
    new DataView(d.buffer).setUint32(8, 8, true);
    gm.write(SHARE_BASE, d);
    gm.write(SHARE_BASE + 0x100n, Uint8Array.of(0, 0, 1, 0, 0, 0));
    expect(vq2.pop()).toBeUndefined();
    expect(vq2.broken).toMatchObject({ kind: 'address-refused', head: 0 });
    await expectCleanShutdown(b.emu);
  });
});
