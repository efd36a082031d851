/**
 * How the daemon syncs an anonymous mapping's backing file (MMAP_ANON) with the emulator: it looks
 * at the shmem file's pages without a host touch (AnonMemFile.page(i, false) and the hypervisor's
 * probe), as it does for guest-memory files. A sync faults nothing in; a page lent to a VM is
 * found revoked without a SIGBUS; a client write that reached a lent page's backing file anyway is
 * dropped and the file page put back.
 *
 * Reference: docs/host-bridge-protocol.md "Guest memory" (the pull / push / access rule: "a sync
 * is not a host touch"; a write the host may not make is dropped and the file reverts), "MMAP_ANON";
 * README.md §Dialects and vmm-flows.md Q12 (a lent page is SIGBUS to the host).
 */
import { closeSync, openSync, readFileSync, writeSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { connectBridge, type BridgeAnonMapping, type BridgeClient } from '../../src/bridge/bridge-client.js';
import { HoldingCellCmd, holdingCellImage } from '../../src/guest/index.js';
import { GunyahDevice, buildVmDtb, ioctlWith, type VcpuFd, type VmFd } from '../../src/vmm/index.js';
import { holdingCellCommand } from '../vm-mgr/support/holding-cell-driver.js';
import { GUEST_BASE, PAGE, eventually, finish, startDaemon, type Daemon } from './support.js';

/** README.md §Dialects. */
const GH_VM_ANDROID_LEND_USER_MEM = 0x4020_4111;
const GH_MEM_RWX = 0x7;
/** The holding cell's first 8 bytes, "GEMUHOLD" little-endian (docs/guest-images.md). */
const HOLD_MAGIC = 0x444c_4f48_554d_4547n;

/** The 32-byte gh_userspace_memory_region, typed from README.md §Dialects. */
function region(label: number, flags: number, gpa: bigint, size: bigint, uaddr: bigint): Uint8Array {
  const b = new Uint8Array(32);
  const dv = new DataView(b.buffer);
  dv.setUint32(0, label, true);
  dv.setUint32(4, flags, true);
  dv.setBigUint64(8, gpa, true);
  dv.setBigUint64(16, size, true);
  dv.setBigUint64(24, uaddr, true);
  return b;
}

/** A gh_ holding-cell VM whose RAM (4 pages) is one anonymous mapping of the client, lent (vmm-flows.md §3). */
async function bootLent(d: Daemon): Promise<{ c: BridgeClient; vm: VmFd; vcpu: VcpuFd; ram: BridgeAnonMapping; size: number }> {
  const c = await connectBridge(d.path, { dialect: 'gh' });
  const dev = GunyahDevice.open(c);
  const vm = await dev.createVm();
  const size = 4 * PAGE;
  const ram = await c.mmapAnonymous(size);
  ram.write(0, holdingCellImage());
  await ioctlWith(c, vm.fd, GH_VM_ANDROID_LEND_USER_MEM, region(0, GH_MEM_RWX, GUEST_BASE, BigInt(size), ram.addr));
  const vcpu = await vm.addVcpu(0);
  ram.write(PAGE, buildVmDtb({ vcpus: 1, memory: [{ base: GUEST_BASE, size: BigInt(size) }], doorbells: [] }));
  await vm.setDtbConfig(GUEST_BASE + BigInt(PAGE), BigInt(PAGE));
  await vm.start();
  return { c, vm, vcpu, ram, size };
}

describe('MMAP_ANON sync: no host touch', () => {
  it('pages the client never wrote are not faulted in by the syncs at request boundaries; a client write faults in that page only', async () => {
    const d = await startDaemon({ dialect: 'gh' });
    const c = await connectBridge(d.path, { dialect: 'gh' });
    const before = d.emu.kernel.pages.inUse;
    const ram = await c.mmapAnonymous(8 * PAGE);
    // Boundaries: the MMAP_ANON itself, then requests that have nothing to do with the mapping.
    const other = await c.mmapAnonymous(PAGE);
    await other.unmap();
    expect(d.emu.kernel.pages.inUse).toBe(before);
    ram.write(3 * PAGE + 5, Uint8Array.of(0x5a));
    // The next boundary pulls the client's write: a host store, which faults that page in.
    const next = await c.mmapAnonymous(PAGE);
    expect(d.emu.kernel.pages.inUse).toBe(before + 1);
    await next.unmap();
    await ram.unmap();
    expect(d.emu.kernel.pages.inUse).toBe(before);
    await finish(d, [c]);
  });
});

describe('MMAP_ANON sync: lent pages', () => {
  it('a client write that reached a lent page\'s backing file is dropped at the next boundary: the file page reverts and the guest still reads its image', async () => {
    const d = await startDaemon({ dialect: 'gh' });
    const { c, vm, vcpu, ram } = await bootLent(d);
    const page0 = readFileSync(ram.path).subarray(0, PAGE);
    // Behind the client's back (its mapping of the page is revoked): straight into the file.
    const f = openSync(ram.path, 'r+');
    writeSync(f, new Uint8Array(16).fill(0xee), 0, 16, 0);
    closeSync(f);
    expect(readFileSync(ram.path).subarray(0, 16).every((b) => b === 0xee)).toBe(true);
    // READ_ADDR of the RAM base: the requests are boundaries; the guest's own memory is untouched.
    expect(await holdingCellCommand(vcpu, HoldingCellCmd.READ_ADDR, [GUEST_BASE])).toBe(HOLD_MAGIC);
    expect(Buffer.from(readFileSync(ram.path).subarray(0, PAGE)).equals(page0)).toBe(true);
    await vm.removeVcpu(0);
    await vcpu.close();
    await vm.close();
    await eventually(() => d.emu.kernel.liveVms === 0);
    await ram.unmap();
    await finish(d, [c]);
  });
});
