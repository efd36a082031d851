/**
 * Boot a holding-cell VM with `n` vCPUs through the raw /dev/gunyah contract, in
 * quic/gunyah-test-vmm's order: open, CREATE_VM, open again + CREATE_GUEST_MEM, MAP_MEM (lend,
 * RWX at 0x8000_0000), ADD_FUNCTION vCPU + VCPU_MMAP_SIZE + mmap per vCPU, the DTB written
 * through a temporary guest-memory mapping, SET_DTB_CONFIG, the image written the same way,
 * SET_BOOT_CONTEXT PC and SP_EL1, START.
 *
 * Reference: vmm-flows.md §2 (steps 1–12), §5.2 (the DT; built by src/vmm buildVmDtb), §6.1
 * (layout [binary][DTB page][one stack page per vCPU], PC, SP = dtb_start + 8 KiB); uapi.md §3
 * (struct layouts), §4 (flags, boot-context registers).
 */
import { holdingCellImage } from '../guest/holding-cell.js';
import { buildVmDtb } from '../vmm/vm-dtb.js';
import {
  GUNYAH_CREATE_GUEST_MEM,
  GUNYAH_CREATE_VM,
  GUNYAH_VM_MAP_MEM,
  GUNYAH_VM_SET_BOOT_CONTEXT,
  GUNYAH_VM_SET_DTB_CONFIG,
  GUNYAH_VM_START,
} from '../vm-mgr/uapi/ioctls.js';
import {
  GUNYAH_FN_VCPU,
  GUNYAH_MEM_ALLOW_RWX,
  GUNYAH_MEM_FORCE_LEND,
  GUNYAH_VM_BOOT_CONTEXT_REG,
  PAGE_SIZE,
  REG_SET_PC,
  REG_SET_SP,
} from '../vm-mgr/uapi/constants.js';
import { encodeCreateMemArgs, encodeFnVcpuArg, encodeMapMemArgs, encodeVmBootContext, encodeVmDtbConfig } from '../vm-mgr/uapi/structs.js';
import { addFunction, ioctlImm, ioctlStruct, type RawHost } from './raw-ioctl.js';
import { RawVcpu } from './raw-vcpu.js';

/** Where the TVMM loads the holding cell, and its entry point. */
export const GUEST_BASE = 0x8000_0000n;

export interface BootedHoldingCell {
  /** The two /dev/gunyah fds (the TVMM opens the device once for the VM, once for guest memory). */
  readonly devFds: readonly number[];
  readonly vmFd: number;
  readonly memFd: number;
  readonly vcpus: readonly RawVcpu[];
  readonly memSize: number;
  readonly dtbStart: bigint;
  readonly image: Uint8Array;
}

const pageAlign = (n: number): number => Math.ceil(n / PAGE_SIZE) * PAGE_SIZE;

/** Write `bytes` at `offset` of the guest-memory file through a mapping dropped again at once. */
async function writeGuestMem(raw: RawHost, memFd: number, offset: number, bytes: Uint8Array, what: string): Promise<void> {
  const base = offset - (offset % PAGE_SIZE);
  const m = raw.host.mmap(memFd, offset - base + bytes.byteLength, base);
  try {
    m.write(offset - base, bytes);
  } finally {
    await m.unmap();
  }
  raw.log.push({ name: 'mmap', call: `mmap(${memFd}, ${m.length}, ${base}) + write + munmap`, detail: `${what}: ${bytes.byteLength} bytes at file offset 0x${offset.toString(16)}`, result: '0' });
}

/** vmm-flows.md §2 steps 1–12 for a VM with `n` vCPUs. */
export async function bootHoldingCell(raw: RawHost, n: number): Promise<BootedHoldingCell> {
  const { host } = raw;
  const devFd = host.open('/dev/gunyah');
  raw.log.push({ name: 'open', call: "open('/dev/gunyah')", detail: '', result: String(devFd) });
  const vmFd = await ioctlImm(raw, devFd, GUNYAH_CREATE_VM, 'arg 0');

  const image = holdingCellImage();
  const binSize = pageAlign(image.byteLength);
  const memSize = binSize + (1 + n) * PAGE_SIZE; // binary, DTB page, a stack page per vCPU
  const memDev = host.open('/dev/gunyah');
  raw.log.push({ name: 'open', call: "open('/dev/gunyah')", detail: 'for guest memory', result: String(memDev) });
  const memFd = await ioctlStruct(raw, memDev, GUNYAH_CREATE_GUEST_MEM, encodeCreateMemArgs({ flags: 0n, size: BigInt(memSize) }), `size ${memSize}`);

  const mapFlags = GUNYAH_MEM_FORCE_LEND | GUNYAH_MEM_ALLOW_RWX;
  await ioctlStruct(
    raw,
    vmFd,
    GUNYAH_VM_MAP_MEM,
    encodeMapMemArgs({ guestAddr: GUEST_BASE, flags: mapFlags, guestMemFd: memFd, offset: 0n, size: BigInt(memSize) }),
    `0x${GUEST_BASE.toString(16)} flags 0x${mapFlags.toString(16)} size ${memSize}`,
  );

  const vcpus: RawVcpu[] = [];
  for (let id = 0; id < n; id++) {
    const fd = await addFunction(raw, vmFd, GUNYAH_FN_VCPU, encodeFnVcpuArg({ id }), `GUNYAH_FN_VCPU id ${id}`);
    vcpus.push(await RawVcpu.map(raw, id, fd));
  }

  const dtbStart = GUEST_BASE + BigInt(binSize);
  const dtb = buildVmDtb({ vcpus: n, memory: [{ base: GUEST_BASE, size: BigInt(memSize) }] });
  await writeGuestMem(raw, memFd, binSize, dtb, 'DTB');
  const dtbSize = BigInt(pageAlign(dtb.byteLength));
  await ioctlStruct(raw, vmFd, GUNYAH_VM_SET_DTB_CONFIG, encodeVmDtbConfig({ guestPhysAddr: dtbStart, size: dtbSize }), `0x${dtbStart.toString(16)} size ${dtbSize}`);
  await writeGuestMem(raw, memFd, 0, image, 'holding-cell image');

  const pc = GUNYAH_VM_BOOT_CONTEXT_REG(REG_SET_PC, 0);
  const sp = GUNYAH_VM_BOOT_CONTEXT_REG(REG_SET_SP, 1);
  const spValue = dtbStart + BigInt(2 * PAGE_SIZE);
  await ioctlStruct(raw, vmFd, GUNYAH_VM_SET_BOOT_CONTEXT, encodeVmBootContext({ reg: pc, value: GUEST_BASE }), `PC (0x${pc.toString(16)}) = 0x${GUEST_BASE.toString(16)}`);
  await ioctlStruct(raw, vmFd, GUNYAH_VM_SET_BOOT_CONTEXT, encodeVmBootContext({ reg: sp, value: spValue }), `SP_EL1 (0x${sp.toString(16)}) = 0x${spValue.toString(16)}`);
  await ioctlImm(raw, vmFd, GUNYAH_VM_START);
  return { devFds: [devFd, memDev], vmFd, memFd, vcpus, memSize, dtbStart, image };
}
