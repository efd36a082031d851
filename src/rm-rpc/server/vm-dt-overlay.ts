/**
 * The overlay the RM applies to a VM's DTB (built at VM_INIT, written at VM_START): a
 * `/hypervisor` node describing the VM (its VMID, owner, name, URI, GUID) and one node per
 * vdevice the RM created for it, each named by the vdevice's `generate` path plus
 * `@<capid in hex>`, carrying the capabilities and vIRQs the guest's drivers need. The result is
 * written back into the DTB region in place, so the region must have room for it (VM_INIT
 * checks; vmm-flows.md §5.1, quirk Q8; uapi.md §3 `gunyah_vm_dtb_config`).
 *
 * Reference: vmm-flows.md §5.1 (`vdevices { generate = "/hypervisor"; }`, `bell-<label>`
 * doorbells with `generate = "/hypervisor/bell-<label>"`), hypervisor.md §9.4 (GIC INTIDs).
 * Node and property names were checked against the public RM, quic/gunyah-resource-manager
 * (src/vm_creation/vm_creation.c create_dtbo / create_dt_nodes / process_dtb, and
 * src/vm_creation/dto_construct.c dto_create_doorbell / _msg_queue / _msg_queue_pair,
 * src/vm_config/vm_config_parser.c parse_rm_rpc); our code re-expresses that behaviour:
 *
 *   /hypervisor                 #address-cells <2>, #size-cells <0>, compatible
 *   │                           "qcom,gunyah-hypervisor-1.0", "qcom,gunyah-hypervisor", "simple-bus"
 *   ├ qcom,gunyah-vm            compatible "qcom,gunyah-vm-id-1.0", "qcom,gunyah-vm-id";
 *   │                           qcom,vmid, qcom,owner-vmid, qcom,vendor, qcom,image-name,
 *   │                           [qcom,vm-uri], [qcom,vm-guid], [qcom,peers]
 *   ├ bell-1@<cap>              doorbell: compatible "qcom,gunyah-doorbell" (or
 *   │                           "-doorbell-source"), "qcom,gunyah-capability", push-compatibles;
 *   │                           reg <u64 cap>; interrupts <0 line 1> (receiver only);
 *   │                           qcom,label, label
 *   ├ <mq>@<cap>                message-queue: compatible "qcom,gunyah-message-queue",
 *   │                           "qcom,gunyah-capability"; reg; is-sender|is-receiver;
 *   │                           tx_message_size, tx_queue_depth; interrupts; qcom,label, label
 *   └ qcom,resource-mgr@<rxcap> rm-rpc and message-queue-pair: reg <tx rx>; two interrupts;
 *                               qcom,free-irq-start <0>, qcom,is-full-duplex, qcom,tx-/rx-
 *                               message-size, qcom,tx-/rx-queue-depth, qcom,vdevice-handle;
 *                               rm-rpc adds "qcom,resource-manager", "qcom,resource-manager-1-0"
 *
 * Like the RM: a base DTB that already has `/hypervisor` (or `/soc/hypervisor`) is a static
 * configuration and gets none of these nodes; the interrupt flags are always 1 (edge rising);
 * the merged tree is packed (totalsize = what it uses). Not modelled (docs/decisions.md, "VM
 * boot (RM side)"): `/memory@…`, `/reserved-memory`, `/chosen` kaslr-seed and the cpu nodes'
 * `qcom,gunyah-capability` (the guest holds no vCPU capabilities here).
 */
import { parseFdt } from '../../fdt/reader.js';
import { serializeFdt } from '../../fdt/writer.js';
import { fdtNode, type FdtNode } from '../../fdt/format.js';
import { lookupPath } from '../../fdt/query.js';

/** The RM refuses a base DTB larger than this (process_dtb's sanity check). */
export const DT_OVERLAY_MAX_BASE_SIZE = 256 * 1024;
/** `qcom,vendor` of the qcom,gunyah-vm node. */
export const DT_OVERLAY_VENDOR = 'Qualcomm';
/** The API version the RM appends to the rm-rpc compatible ("qcom,resource-manager-1-0"). */
export const DT_OVERLAY_RM_API_VERSION = '1-0';

/** The VM the overlay describes. */
export interface OverlayVm {
  readonly vmid: number;
  readonly owner: number;
  /** image-name (VM_GET_ID NAME). */
  readonly name: string;
  /** vm-uri, when set. */
  readonly uri?: string;
  /** 16 GUID bytes, when the DT gave one. */
  readonly guid?: Uint8Array;
  /** Peer id strings of message-queue pairs that name a peer (`qcom,peers`, deduplicated in order). */
  readonly peers?: readonly string[];
}

interface OverlayVdeviceBase {
  /** The `generate` path: the node goes there, named `<last component>@<capid hex>`. */
  readonly generate: string;
  readonly pushCompatible?: readonly string[];
  readonly label: number;
}

/** A doorbell: `capId` is the VM's capability (receive for a doorbell, send for a source). */
export interface OverlayDoorbell extends OverlayVdeviceBase {
  readonly kind: 'doorbell';
  readonly source: boolean;
  readonly capId: bigint;
  /** The VM's vIRQ (GIC INTID) for a receiving doorbell; ignored for a source. */
  readonly virq: number;
}

/** A one-way message queue: the VM's end (`isSender`: its send capability). */
export interface OverlayMsgQueue extends OverlayVdeviceBase {
  readonly kind: 'message-queue';
  readonly isSender: boolean;
  readonly capId: bigint;
  readonly virq: number;
  readonly messageSize: number;
  readonly queueDepth: number;
}

/** A full-duplex pair (message-queue-pair, or the VM's RPC link to the RM). */
export interface OverlayMsgQueuePair extends OverlayVdeviceBase {
  readonly kind: 'message-queue-pair' | 'rm-rpc';
  readonly txCapId: bigint;
  readonly rxCapId: bigint;
  readonly txVirq: number;
  readonly rxVirq: number;
  readonly messageSize: number;
  readonly queueDepth: number;
  /** `qcom,vdevice-handle`. */
  readonly handle: number;
  /** message-queue-pair naming a peer: the `peer` string. */
  readonly peer?: string;
}

export type OverlayVdevice = OverlayDoorbell | OverlayMsgQueue | OverlayMsgQueuePair;

/** Why the overlay could not be applied. */
export class DtOverlayError extends Error {
  override readonly name = 'DtOverlayError';
}

// ── property values (big-endian, as every DTB integer) ─────────────────────────────────

function u32(v: number): Uint8Array {
  const b = new Uint8Array(4);
  new DataView(b.buffer).setUint32(0, v >>> 0, false);
  return b;
}

function u32s(vs: readonly number[]): Uint8Array {
  const b = new Uint8Array(4 * vs.length);
  const d = new DataView(b.buffer);
  vs.forEach((v, i) => d.setUint32(4 * i, v >>> 0, false));
  return b;
}

function u64s(vs: readonly bigint[]): Uint8Array {
  const b = new Uint8Array(8 * vs.length);
  const d = new DataView(b.buffer);
  vs.forEach((v, i) => d.setBigUint64(8 * i, BigInt.asUintN(64, v), false));
  return b;
}

function strings(vs: readonly string[]): Uint8Array {
  const enc = new TextEncoder();
  const parts = vs.map((s) => enc.encode(s));
  const out = new Uint8Array(parts.reduce((n, p) => n + p.byteLength + 1, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.byteLength + 1;
  }
  return out;
}

const EMPTY = new Uint8Array(0);

/**
 * A 3-cell GIC specifier for INTID `virq`, edge rising as the RM writes it: SPI (class 0,
 * INTID − 32) or ESPI (class 2, INTID − 4096). Undefined for anything else (no property).
 */
function gicCells(virq: number): number[] | undefined {
  if (virq >= 32 && virq < 1020) return [0, virq - 32, 1];
  if (virq >= 4096 && virq < 5120) return [2, virq - 4096, 1];
  return undefined;
}

/** The 8-4-4-4-12 text of 16 GUID bytes, lower-case hex (dto_guid_to_string). */
export function guidText(g: Uint8Array): string {
  const h = Array.from(g, (b) => b.toString(16).padStart(2, '0')).join('');
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20, 32)}`;
}

// ── the tree edit ──────────────────────────────────────────────────────────────────────

/** The child of `node` named exactly `name`, created (last) if absent: an overlay fragment's node. */
function childOf(node: FdtNode, name: string): FdtNode {
  let c = node.children.find((x) => x.name === name);
  if (c === undefined) {
    c = fdtNode(name);
    node.children.push(c);
  }
  return c;
}

/** The node the overlay writes for a vdevice: `generate` with `@<cap hex>` on its last component. */
function vdeviceNode(root: FdtNode, generate: string, capId: bigint): FdtNode {
  const parts = generate.split('/').filter((p) => p !== '');
  if (!generate.startsWith('/') || parts.length === 0) throw new DtOverlayError(`generate path "${generate}" is not an absolute node path`);
  let node = root;
  for (const p of parts.slice(0, -1)) node = childOf(node, p);
  return childOf(node, `${parts[parts.length - 1]}@${BigInt.asUintN(64, capId).toString(16)}`);
}

function setCompatible(node: FdtNode, base: readonly string[], push: readonly string[] | undefined, extra: readonly string[] = []): void {
  node.props.set('compatible', strings([...base, ...(push ?? []), ...extra]));
}

function setInterrupts(node: FdtNode, virqs: readonly number[]): void {
  const cells: number[] = [];
  for (const v of virqs) {
    const c = gicCells(v);
    if (c === undefined) return; // the RM would write a nonsense line; we leave the property out
    cells.push(...c);
  }
  node.props.set('interrupts', u32s(cells));
}

function setLabels(node: FdtNode, label: number): void {
  node.props.set('qcom,label', u32(label));
  node.props.set('label', u32(label));
}

function addVmNode(hyp: FdtNode, vm: OverlayVm): void {
  const n = childOf(hyp, 'qcom,gunyah-vm');
  n.props.set('compatible', strings(['qcom,gunyah-vm-id-1.0', 'qcom,gunyah-vm-id']));
  n.props.set('qcom,vmid', u32(vm.vmid));
  n.props.set('qcom,owner-vmid', u32(vm.owner));
  n.props.set('qcom,vendor', strings([DT_OVERLAY_VENDOR]));
  n.props.set('qcom,image-name', strings([vm.name]));
  if (vm.uri !== undefined && vm.uri !== '') n.props.set('qcom,vm-uri', strings([vm.uri]));
  if (vm.guid !== undefined) n.props.set('qcom,vm-guid', strings([guidText(vm.guid)]));
  const peers = [...new Set(vm.peers ?? [])];
  if (peers.length > 0) n.props.set('qcom,peers', strings(peers));
}

function addVdevice(root: FdtNode, d: OverlayVdevice): void {
  switch (d.kind) {
    case 'doorbell': {
      const n = vdeviceNode(root, d.generate, d.capId);
      setCompatible(n, [d.source ? 'qcom,gunyah-doorbell-source' : 'qcom,gunyah-doorbell', 'qcom,gunyah-capability'], d.pushCompatible);
      n.props.set('reg', u64s([d.capId]));
      if (!d.source) setInterrupts(n, [d.virq]);
      setLabels(n, d.label);
      return;
    }
    case 'message-queue': {
      const n = vdeviceNode(root, d.generate, d.capId);
      setCompatible(n, ['qcom,gunyah-message-queue', 'qcom,gunyah-capability'], d.pushCompatible);
      n.props.set('reg', u64s([d.capId]));
      n.props.set(d.isSender ? 'is-sender' : 'is-receiver', EMPTY);
      n.props.set('tx_message_size', u32(d.messageSize));
      n.props.set('tx_queue_depth', u32(d.queueDepth));
      setInterrupts(n, [d.virq]);
      setLabels(n, d.label);
      return;
    }
    case 'message-queue-pair':
    case 'rm-rpc': {
      const n = vdeviceNode(root, d.generate, d.rxCapId);
      const rm = d.kind === 'rm-rpc' ? ['qcom,resource-manager', `qcom,resource-manager-${DT_OVERLAY_RM_API_VERSION}`] : [];
      setCompatible(n, ['qcom,gunyah-message-queue', 'qcom,gunyah-capability'], d.pushCompatible, rm);
      n.props.set('reg', u64s([d.txCapId, d.rxCapId]));
      setInterrupts(n, [d.txVirq, d.rxVirq]);
      n.props.set('qcom,free-irq-start', u32(0));
      n.props.set('qcom,is-full-duplex', EMPTY);
      n.props.set('qcom,tx-message-size', u32(d.messageSize));
      n.props.set('qcom,rx-message-size', u32(d.messageSize));
      n.props.set('qcom,tx-queue-depth', u32(d.queueDepth));
      n.props.set('qcom,rx-queue-depth', u32(d.queueDepth));
      n.props.set('qcom,vdevice-handle', u32(d.handle));
      if (d.kind === 'message-queue-pair') {
        if (d.peer !== undefined) n.props.set('peer', strings([d.peer]));
        setLabels(n, d.label);
      }
      return;
    }
  }
}

/** Whether the base tree carries a static `/hypervisor` (or `/soc/hypervisor`) node. */
export function hasStaticHypervisorNode(root: FdtNode): boolean {
  return lookupPath(root, '/hypervisor') !== undefined || lookupPath(root, '/soc/hypervisor') !== undefined;
}

/** Add the overlay's nodes to `root` (in place). Nothing is added under a static configuration. */
export function applyDtOverlay(root: FdtNode, vm: OverlayVm, vdevices: readonly OverlayVdevice[]): void {
  if (hasStaticHypervisorNode(root)) return;
  const hyp = childOf(root, 'hypervisor');
  hyp.props.set('#address-cells', u32(2));
  hyp.props.set('#size-cells', u32(0));
  hyp.props.set('compatible', strings(['qcom,gunyah-hypervisor-1.0', 'qcom,gunyah-hypervisor', 'simple-bus']));
  addVmNode(hyp, vm);
  for (const d of vdevices) addVdevice(root, d);
}

/**
 * The DTB after the overlay, packed, ready to be written over the old one.
 * @param dtb the VM's DTB (already checked by the caller; bytes after totalsize are ignored).
 * @param regionSize the DTB region (VM_CONFIG_IMAGE dt_size): the result must fit in it.
 * @throws DtOverlayError when the base DTB is over 256 KiB, a `generate` path is unusable, or
 *   the merged DTB does not fit in `regionSize`; WireError('bad-fdt') for an unreadable DTB.
 */
export function overlayDtb(dtb: Uint8Array, regionSize: number, vm: OverlayVm, vdevices: readonly OverlayVdevice[]): Uint8Array {
  const tree = parseFdt(dtb);
  if (tree.totalsize > DT_OVERLAY_MAX_BASE_SIZE) throw new DtOverlayError(`DTB of ${tree.totalsize} bytes (the RM takes at most ${DT_OVERLAY_MAX_BASE_SIZE})`);
  applyDtOverlay(tree.root, vm, vdevices);
  let out: Uint8Array;
  try {
    out = serializeFdt(tree);
  } catch (err) {
    throw new DtOverlayError(`the merged tree cannot be written: ${err instanceof Error ? err.message : String(err)}`);
  }
  if (out.byteLength > regionSize) {
    throw new DtOverlayError(`the DTB with the overlay needs ${out.byteLength} bytes, the DTB region has ${regionSize}`);
  }
  return out;
}
