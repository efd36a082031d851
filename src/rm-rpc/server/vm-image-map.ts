/**
 * The VM's image parcel: at VM_INIT, which parcel it is, whether the RM can use it and reading
 * the DTB out of it through the RM's own (physical) view, without accepting anything; at
 * VM_START, mapping it into the VM's stage 2 (an accept the RM makes on the VM's behalf),
 * writing the DTB with the overlay back in place, and handing the memory to the VM for good.
 *
 * Reference: rm-rpc.md §12.1 (VM_START: "resource set-up fails → NORESOURCE and state
 * INIT_FAILED"), §12.2 (VM_CONFIG_IMAGE names the image parcel and the DT range in it; VM_INIT
 * fails on "DTB map, DTB parse, vdevice creation" → INIT_FAILED), §12.3 (Linux's
 * VM_SET_ADDRESS_LAYOUT range IMAGE = the DTB parcel's guest pages), §16.4–§16.5 (accept and
 * release; a reset releases what the VM accepted and tells the owner MEM_RELEASED), uapi.md
 * §8.2 steps 4–13 and §8.12 (the DTB parcel Linux lends), §8.3 step 2 (Linux reclaims that
 * parcel when START failed, before any reset). The public RM
 * (src/vm_creation/vm_creation.c) reads the DTB at VM_INIT and accepts, maps and overlays it in
 * vm_creation_process_resource at VM_START; map_dtb and vm_creation_init answer MEM_INVALID for
 * a DTB they cannot map or whose header is bad, and a failure at VM_START is NORESOURCE;
 * docs/decisions.md "VM boot (RM side)" B1–B4 and B12 list them.
 */
import { FDT_HEADER_SIZE, FDT_MAGIC, FdtHeaderOffset } from '../../fdt/format.js';
import { ParcelError, type Parcel } from '../../mem-parcel/index.js';
import { AddressRangeId, MemType, TransType } from '../wire/enums.js';
import type { RmContext } from './context.js';
import type { RmVm, VmBootImage, VmImageConfig } from './vm-record.js';
import { require, RmRefusal } from './handlers/refusal.js';

/**
 * The image parcel, if the RM can map the DT from it: it exists, is NORMAL memory (the RM maps a
 * DTB as normal memory), is a LEND or SHARE (a DONATE would be gone after the accept and could
 * not be released at reset), and its ACL names the VM (checked at VM_CONFIG_IMAGE already).
 * @throws RmRefusal MEM_INVALID otherwise.
 */
export function imageParcel(ctx: RmContext, vm: RmVm, image: VmImageConfig): Parcel {
  const p = ctx.parcels.get(image.parcelHandle);
  require(p !== undefined, 'MEM_INVALID', `image parcel ${image.parcelHandle} is gone`);
  require(p.memType === MemType.NORMAL, 'MEM_INVALID', 'the image parcel is IO memory');
  require(p.transType !== TransType.DONATE, 'MEM_INVALID', 'the image parcel is a DONATE');
  const slot = p.acl.find((a) => a.vmid === vm.vmid);
  require(slot !== undefined, 'MEM_INVALID', `the image parcel's ACL lacks VM ${vm.vmid}`);
  return p;
}

/**
 * Read the DTB from the image parcel as the RM's map_dtb does, through physical memory (the RM
 * maps the parcel into its own address space; nothing is accepted for the VM): the region
 * (dt_offset, dt_size) must be non-empty and inside the parcel, and hold a DTB header whose
 * totalsize fits in it. Returns the `totalsize` bytes of the DTB.
 * @throws RmRefusal MEM_INVALID otherwise.
 */
export function readVmDtb(ctx: RmContext, p: Parcel, image: VmImageConfig): Uint8Array {
  const size = BigInt(p.size);
  require(image.dtSize > 0n, 'MEM_INVALID', 'no DTB: dt_size is 0');
  require(image.dtOffset <= size && image.dtSize <= size - image.dtOffset, 'MEM_INVALID', 'the DT range is outside the image parcel');
  const offset = Number(image.dtOffset);
  const region = Number(image.dtSize);
  const head = ctx.parcels.readContents(p, offset, Math.min(region, FDT_HEADER_SIZE));
  const v = new DataView(head.buffer, head.byteOffset, head.byteLength);
  require(head.byteLength >= 8 && v.getUint32(FdtHeaderOffset.magic, false) === FDT_MAGIC, 'MEM_INVALID', 'no DTB header (bad magic)');
  const totalsize = v.getUint32(FdtHeaderOffset.totalsize, false);
  require(totalsize >= FDT_HEADER_SIZE && totalsize <= region, 'MEM_INVALID', `DTB totalsize ${totalsize} does not fit the ${region}-byte DT region`);
  return ctx.parcels.readContents(p, offset, totalsize);
}

/**
 * Where the image parcel goes in the VM's IPA space: the VM_SET_ADDRESS_LAYOUT IMAGE range when
 * Linux set one (its base is the parcel's guest address), else the DT's
 * `/gunyah-vm-config/memory` `base-address`.
 * @throws RmRefusal ARGUMENT_INVALID when neither says.
 */
export function imageIpa(vm: RmVm): number {
  const base = vm.addressLayout.get(AddressRangeId.IMAGE)?.base ?? vm.dt?.memory?.baseAddress;
  require(base !== undefined, 'ARGUMENT_INVALID', 'no IMAGE address layout and no memory base-address: nowhere to map the image');
  require(base <= BigInt(Number.MAX_SAFE_INTEGER), 'ARGUMENT_INVALID', `image IPA 0x${base.toString(16)} out of range`);
  return Number(base);
}

/**
 * Map the image parcel into the VM at `ipa` (one block, with the rights of the VM's ACL entry):
 * an accept the RM makes for the VM. It then counts as accepted by the VM: MEM_RECLAIM by the
 * owner is MEM_INUSE until the VM's reset releases it (or VM_START absorbs it, B12).
 * @throws RmRefusal NORESOURCE when the accept fails (parcel gone, IPA in use, mapping refused,
 *   already mapped).
 */
export function mapVmImage(ctx: RmContext, vm: RmVm, p: Parcel, ipa: number): void {
  try {
    ctx.parcels.acceptAt(vm.vmid, p.handle, ipa);
  } catch (err) {
    if (err instanceof ParcelError) throw new RmRefusal('NORESOURCE', `mapping the image parcel at 0x${ipa.toString(16)}: ${err.message}`);
    throw err;
  }
}

/** Undo `mapVmImage` (a VM_START that fails after mapping): release, no notification. */
export function unmapVmImage(ctx: RmContext, vm: RmVm, p: Parcel): void {
  if (ctx.parcels.get(p.handle) !== p) return;
  if (p.acl.some((a) => a.vmid === vm.vmid && a.shared)) ctx.parcels.release(vm.vmid, p.handle, false);
}

/**
 * Write the DTB with the overlay over the old one, in place, through physical memory, and
 * zero what is left of the old DTB's length.
 */
export function writeVmDtb(ctx: RmContext, p: Parcel, image: VmImageConfig, merged: Uint8Array, oldLength: number): void {
  const offset = Number(image.dtOffset);
  ctx.parcels.writeContents(p, offset, merged);
  if (oldLength > merged.byteLength) ctx.parcels.writeContents(p, offset + merged.byteLength, new Uint8Array(oldLength - merged.byteLength));
}

/**
 * VM_START's part of the boot (B3): accept the image parcel for the VM at the IPA VM_INIT chose
 * and write the DTB VM_INIT prepared over the old one. Nothing to do for a VM without a
 * prepared image. On failure nothing is left accepted or written.
 * @throws RmRefusal NORESOURCE when the parcel is gone or the accept is refused.
 */
export function placeVmImage(ctx: RmContext, vm: RmVm): void {
  const boot: VmBootImage | undefined = vm.bootImage;
  const image = vm.image;
  if (boot === undefined || image === undefined) return;
  const p = ctx.parcels.get(image.parcelHandle);
  require(p !== undefined, 'NORESOURCE', `image parcel ${image.parcelHandle} is gone`);
  mapVmImage(ctx, vm, p, boot.ipa);
  try {
    writeVmDtb(ctx, p, image, boot.dtb, boot.oldLength);
  } catch (err) {
    unmapVmImage(ctx, vm, p);
    throw err;
  }
  vm.bootImage = undefined;
}

/**
 * After `placeVmImage`, the image parcel becomes the VM's own memory: in its guest_private
 * extent (label 0), mapped where it was, the parcel gone; Linux reclaims those pages with
 * FROM_PROTECTED at teardown (B12). With `imageParcelAtStart: 'keep'` it stays a parcel the VM
 * accepted, released at reset.
 */
export function absorbVmImage(ctx: RmContext, vm: RmVm): void {
  const handle = vm.image?.parcelHandle;
  const parcel = handle === undefined ? undefined : ctx.parcels.get(handle);
  if (handle === undefined || !parcel || ctx.options.imageParcelAtStart === 'keep') return;
  if (!parcel.acl.some((a) => a.vmid === vm.vmid && a.mapped)) return;
  const ext = vm.objects.find((o) => o.type === 'memextent' && o.attrs['label'] === 0)?.attrs['extent'];
  const to = typeof ext === 'number' ? ext : ctx.hyp.ownExtent(vm.vmid);
  ctx.parcels.absorbInto(vm.vmid, handle, to);
}
