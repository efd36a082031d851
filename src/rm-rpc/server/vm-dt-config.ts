/**
 * The RM's reading of a VM's device tree at VM_INIT: which vCPUs, doorbells, message queues
 * and shared-memory regions the VMM asked for, and whether the real RM would refuse the DT.
 *
 * References: vmm-flows.md §5 (the `/gunyah-vm-config` node and the rest of the DT that
 * VMMs build), uapi.md §8.12–8.13 (DTB parcel, irqfd doorbells), rm-rpc.md §1 (queue
 * defaults) and §12.2 (VM_INIT failure → INIT_FAILED). Behaviour checked against the public
 * RM, quic/gunyah-resource-manager @ bf31a9a (the snapshot rm-rpc.md describes):
 *   - src/vm_config/vm_config_parser.c  listeners and per-node parsing;
 *   - src/vm_config/dtb_parser.c        the tree walk, #address-cells/#size-cells context,
 *                                       fdt_getprop_u32/_num/_u64 length rules;
 *   - src/vm_config/vm_config.c         vm_config_update_parsed(), vm_config_create_vdevices(),
 *                                       handle_vcpu() (what is refused after parsing).
 * Our code re-expresses that behaviour; nothing is copied.
 *
 * How the RM walks the DT (and so do we): every node in document order, root first. Each node
 * goes to the FIRST listener that matches, in this order:
 *   1. `device_type` contains "memory"        → allowed only for the node named exactly /memory
 *   2. path ^/(qcom,|gunyah-)vm-config$        → image-name, os-type, vm-attrs, ranges
 *   3. path …vm-config/memory                  → base-address, size-min/-max, firmware-*
 *   4. path …vm-config/vcpus                   → affinity, affinity-map, then the cpu nodes
 *   5. `vdevice-type` contains rm-rpc, shm-doorbell, shm, doorbell-source, doorbell,
 *      message-queue, message-queue-pair, virtio-mmio, iomem, vsmmu-v2, vrtc-pl031
 *      (anywhere in the tree, not only under vdevices/)
 *   6. `compatible` contains arm,psci-0.2 or arm,psci-1.0 → PSCI on
 * Numbers are read with the node's context: #address-cells/#size-cells of its PARENT,
 * defaulting to 2/1. A u32 or u64 property of the wrong size counts as absent, as in the RM.
 *
 * Decisions (where the brief or the fact sheets are silent or differ from the RM):
 *   D1 No cpus → refused. The RM only collects vCPUs in the /gunyah-vm-config/vcpus listener
 *      (from the node its `config` names, default "/cpus"); with no vcpus node, or no enabled
 *      cpu, handle_vcpu() sees 0 vCPUs and fails with ERROR_DENIED. There is no implicit
 *      single vCPU. A missing vm-config node is refused with its own message for clarity.
 *   D2 `source-can-clean` (TVMM's spelling, vmm-flows.md Q19): the RM at bf31a9a reads only
 *      `source-can-clear`, so on that RM a TVMM doorbell's flag is silently ignored. Per the
 *      brief we accept both spellings by default and report which one was seen
 *      (`sourceCanClearSpelling`); `acceptSourceCanClean: false` gives the RM's behaviour.
 *   D3 A doorbell or message queue without `label`/`qcom,label` is NOT refused: the RM
 *      ignores the lookup result and leaves label 0. Only the `memory` child of shm,
 *      virtio-mmio and iomem vdevices must carry a label (refused otherwise).
 *   D4 A vdevice `interrupts` property that is not exactly 3 cells per interrupt, has an
 *      unknown GIC class, a line past the class limit or a trigger other than 1 (edge) / 4
 *      (level) is ignored (the RM allocates a vIRQ), not refused. `interrupt` is then absent.
 *   D5 message-size / queue-depth default to 240 / 8 (rm-rpc.md §1) and are truncated to
 *      16 bits, as the RM stores them (uint16_t).
 *   D6 vCPU `mpidr` is the cpu node's `reg` read with the cpus node's #address-cells (default
 *      2); if unreadable, the vCPU's index. (The RM does not read it: it programs a linear
 *      MPIDR mapping.) `affinityIndex` is the index for proxy scheduling, else affinity-map[i].
 *   D7 Untrusted configs are refused for crash-fatal, memory is-direct, iomemory-ranges,
 *      gic-irq-ranges, and, for non-proxy vCPUs, a sched-priority ≥ 0 (the RM requires a
 *      lower priority than the owner's). Non-proxy vCPUs also need sched-timeslice × 1000 ns
 *      within 100 µs..100 ms (SCHEDULER_MIN/MAX_TIMESLICE; the minimum differs between
 *      hypervisor builds, unverified). Platform limits we cannot know (max cores, IPA size, owner priority) are
 *      not checked, except `maxVcpus` when given. Untrusted is our default because a Linux
 *      VMM's DT is not platform-authenticated (auth_type 0); where the RM sets trusted_config
 *      is not in the public snapshot (platform code), so this default is unverified.
 *   D8 Walker limits of the RM: a node 16 deep (root = 0) trips an assert in the RM; a path of
 *      256+ bytes (128+ for a cpu node) fails fdt_get_path. Both are refused here.
 *   D9 VDEVICE_MAX_PUSH_COMPATIBLES is 6 in the newest RM headers (4 in older ones): a
 *      `push-compatible` list longer than 6 (3 for rm-rpc, which adds three) is refused.
 *  D10 Which RM error a refusal becomes (VM_INIT, src/vm_creation/vm_creation.c
 *      vm_creation_init): a malformed DTB or a listener that refuses its node fails the RM's
 *      dtb_parser_parse_dtb → MEM_INVALID, so those WireErrors carry no `rmError`; the checks
 *      of vm_config_update_parsed() → ARGUMENT_INVALID (`rmError: 'ARGUMENT_INVALID'`); the
 *      vCPU checks of vm_config_create_vdevices()/handle_vcpu() (no vm-config or vcpus node,
 *      no vCPU, more vCPUs than `maxVcpus`) → NORESOURCE (`rmError: 'NORESOURCE'`).
 */
import { WireError, type WireRmError } from '../../shared/wire-error.js';
import { parseFdt } from '../../fdt/reader.js';
import { decodeUtf8, lookupPath, readCellsBE } from '../../fdt/query.js';
import type { FdtNode } from '../../fdt/format.js';

/** Message-queue defaults when `message-size` / `queue-depth` are absent (rm-rpc.md §1). */
export const VM_DT_DEFAULT_MESSAGE_SIZE = 240;
export const VM_DT_DEFAULT_QUEUE_DEPTH = 8;

/** GIC interrupt classes in a 3-cell `interrupts` specifier: INTID = line + offset < limit. */
export const GicIrqClass = {
  SPI: { type: 0, offset: 32, limit: 1020 },
  PPI: { type: 1, offset: 16, limit: 32 },
  ESPI: { type: 2, offset: 4096, limit: 5120 },
  EPPI: { type: 3, offset: 1056, limit: 1120 },
} as const;
/** Trigger values (low 4 bits of the third cell) the RM accepts. */
export const GicIrqTrigger = { EDGE_RISING: 1, LEVEL_HIGH: 4 } as const;

/** vCPU scheduling affinity (`/gunyah-vm-config/vcpus` `affinity`). */
export type VcpuAffinity = 'static' | 'sticky' | 'pinned' | 'proxy';

const RM_PAGE_SIZE = 0x1000n;
const MEM_BASE_ALIGN = 0x20_0000n; // the RM rounds base-address up to 2 MiB
const U64_MAX = 0xffff_ffff_ffff_ffffn;
const U64_MOD = 0x1_0000_0000_0000_0000n;
const VM_MAX_NAME_LEN = 80;
const VDEVICE_MAX_PUSH_COMPATIBLES = 6;
const RM_RPC_EXTRA_COMPATIBLES = 3;
const DTB_PARSER_MAX_DEPTH = 16;
const DTB_PARSER_MAX_PATH = 256;
const VCPU_PATH_MAX = 128;
const IOMEM_RANGE_ACCESS_MAX = 7; // RW, R, RWX, W, X, RX, NONE
const SCHED_MIN_TIMESLICE_NS = 100_000n;
const SCHED_MAX_TIMESLICE_NS = 100_000_000n;
const VM_CONFIG_PATH = /^\/(qcom,|gunyah-)vm-config$/;
const VM_MEMORY_PATH = /^\/(qcom,|gunyah-)vm-config\/memory$/;
const VM_VCPUS_PATH = /^\/(qcom,|gunyah-)vm-config\/vcpus$/;

/** A vdevice interrupt as written in the DT, plus the INTID it denotes. */
export interface VmDtInterrupt {
  readonly type: number;
  readonly line: number;
  readonly flags: number;
  /** GIC INTID: line + the class offset (32 for SPI). */
  readonly intid: number;
  readonly edge: boolean;
}

export interface VmDtVcpu {
  /** Proxy scheduling: the vCPU's index; otherwise its affinity-map entry (physical CPU). */
  readonly affinityIndex: number;
  /** The cpu node's `reg` (D6). */
  readonly mpidr: bigint;
  readonly path: string;
  /** Enabled at boot (status "okay", or the first cpu without a status). */
  readonly bootCpu: boolean;
}

export interface VmDtDoorbell {
  readonly label: number;
  /** Node name, e.g. "bell-1". */
  readonly name: string;
  readonly path: string;
  /** vdevice-type "doorbell-source" (the VM rings it) rather than "doorbell" (the VM receives). */
  readonly source: boolean;
  readonly peerDefault: boolean;
  /** `peer` VM id string when not peer-default. */
  readonly peer?: string;
  readonly sourceCanClear: boolean;
  /** Which spelling set sourceCanClear (D2). */
  readonly sourceCanClearSpelling?: 'source-can-clear' | 'source-can-clean';
  readonly generate?: string;
  /** `push-compatible` strings, when the node has any (appended to the overlay's compatible). */
  readonly pushCompatible?: readonly string[];
  /** Receiving doorbells only, when valid (D4). */
  readonly interrupt?: VmDtInterrupt;
}

export interface VmDtMsgQueue {
  readonly kind: 'message-queue' | 'message-queue-pair';
  readonly label: number;
  readonly name: string;
  readonly path: string;
  readonly peerDefault: boolean;
  readonly peer?: string;
  /** message-queue only: `is-sender` (else `is-receiver`). */
  readonly isSender?: boolean;
  readonly messageSize: number;
  readonly queueDepth: number;
  readonly generate?: string;
  /** `push-compatible` strings, when the node has any. */
  readonly pushCompatible?: readonly string[];
  /** Valid `interrupts` (1 for a queue, tx + rx for a pair), else empty (D4). */
  readonly interrupts: readonly VmDtInterrupt[];
}

export interface VmDtShm {
  /** The `memory` child's label, overridden by a label on the shm node itself. */
  readonly label: number;
  readonly name: string;
  readonly path: string;
  /** vdevice-type "shm" (true) or "shm-doorbell" (false: the RM adds two doorbells). */
  readonly plain: boolean;
  /** `memory/base`, absent with `allocate-base`. */
  readonly base?: bigint;
  readonly allocateBase: boolean;
  readonly optional: boolean;
  /** `dma_base` (8 bytes); the RM uses all-ones when absent. */
  readonly dmaBase?: bigint;
  readonly generate?: string;
  /** `push-compatible` strings, when the node has any. */
  readonly pushCompatible?: readonly string[];
}

/** vdevice types the RM parses but this emulator does not model in detail. */
export interface VmDtOtherVdevice {
  readonly type: 'rm-rpc' | 'virtio-mmio' | 'iomem' | 'vsmmu-v2' | 'vrtc-pl031';
  readonly label: number;
  readonly name: string;
  readonly path: string;
  /** `generate`: where the RM's overlay puts the vdevice's node (absent: not exported to the DT). */
  readonly generate?: string;
  /** `push-compatible` strings, when the node has any. */
  readonly pushCompatible?: readonly string[];
  /** rm-rpc: the link carries the VM's console (`console-dev`). */
  readonly consoleDev?: boolean;
  /** rm-rpc: `message-size` and `queue-depth` (defaults 240 / 8, D5). */
  readonly messageSize?: number;
  readonly queueDepth?: number;
}

export interface VmDtMemory {
  /** base-address, rounded up to 2 MiB as the RM does. */
  readonly baseAddress: bigint;
  readonly sizeMin?: bigint;
  /** size-max, or the RM's default (2^64 − base) when only base-address is given. */
  readonly sizeMax?: bigint;
  readonly firmwareAddress?: bigint;
  readonly firmwareSizeMax?: bigint;
  readonly isDirect: boolean;
}

export interface VmDtConfig {
  readonly imageName?: string;
  /** `vm-uri`: what VM_GET_ID and VM_LOOKUP_URI report. */
  readonly uri?: string;
  /** `vm-guid` as 16 bytes: the hex digits in order, each 16-bit group big-endian (RM parse_vm_info). */
  readonly guid?: Uint8Array;
  readonly osType?: string;
  readonly vmType?: string;
  readonly vmAttrs: readonly string[];
  /** Present when /gunyah-vm-config/memory gave a readable base-address. */
  readonly memory?: VmDtMemory;
  readonly vcpus: ReadonlyArray<VmDtVcpu>;
  readonly affinity: VcpuAffinity;
  /** /gunyah-vm-config/vcpus affinity = "proxy". */
  readonly proxyScheduled: boolean;
  readonly doorbells: ReadonlyArray<VmDtDoorbell>;
  /** vdevice-type "message-queue" and "message-queue-pair". */
  readonly msgQueues: ReadonlyArray<VmDtMsgQueue>;
  readonly shms: ReadonlyArray<VmDtShm>;
  readonly otherVdevices: ReadonlyArray<VmDtOtherVdevice>;
  /** The RM sets up a PSCI (vPM) group: a psci node, or cpus with psci / idle states. */
  readonly psci: boolean;
}

export interface VmDtConfigOptions {
  /** Treat `source-can-clean` as `source-can-clear` (default true; D2). */
  readonly acceptSourceCanClean?: boolean;
  /** The config is platform-trusted (default false; D7). */
  readonly trusted?: boolean;
  /** Refuse more vCPUs than this (the platform's core count; default: no limit). */
  readonly maxVcpus?: number;
}

// ---------------------------------------------------------------------------------------
// libfdt-style lenient property reads (what the RM's helpers accept).

/** Refuse the DT. `rmError` says which RM error the refusal is (D10); none = MEM_INVALID. */
function reject(path: string, what: string, rmError?: WireRmError): never {
  throw new WireError('bad-fdt', rmError === undefined ? { what: `${path}: ${what}` } : { what: `${path}: ${what}`, rmError });
}

function cellAt(b: Uint8Array, i: number): number {
  return new DataView(b.buffer, b.byteOffset, b.byteLength).getUint32(i * 4, false);
}

/** fdt_getprop_u32: exactly 4 bytes, else undefined. */
function u32Of(node: FdtNode, prop: string): number | undefined {
  const b = node.props.get(prop);
  return b?.byteLength === 4 ? cellAt(b, 0) : undefined;
}

/** fdt_getprop_u64: exactly 8 bytes, else undefined. */
function u64Of(node: FdtNode, prop: string): bigint | undefined {
  const b = node.props.get(prop);
  return b?.byteLength === 8 ? readCellsBE(b, 0, 2) : undefined;
}

/** fdt_getprop_num: `cells` must be 1 or 2 and the value exactly that many cells. */
function numOf(node: FdtNode, prop: string, cells: number): bigint | undefined {
  const b = node.props.get(prop);
  if (b === undefined || (cells !== 1 && cells !== 2) || b.byteLength !== cells * 4) return undefined;
  return readCellsBE(b, 0, cells);
}

/** The NUL-terminated strings of a value, stopping at a malformed tail (libfdt iteration). */
function stringsOf(b: Uint8Array): { list: Uint8Array[]; malformed: boolean } {
  const list: Uint8Array[] = [];
  let s = 0;
  while (s < b.byteLength) {
    const nul = b.indexOf(0, s);
    if (nul < 0) return { list, malformed: true };
    list.push(b.subarray(s, nul));
    s = nul + 1;
  }
  return { list, malformed: false };
}

function bytesEq(a: Uint8Array, s: string): boolean {
  if (a.byteLength !== s.length) return false;
  for (let i = 0; i < s.length; i++) if (a[i] !== s.charCodeAt(i)) return false;
  return true;
}

/** fdt_stringlist_get(…, 0): the first string and its byte length. */
function firstStr(node: FdtNode, prop: string): { text: string; bytes: number } | undefined {
  const b = node.props.get(prop);
  if (b === undefined) return undefined;
  const first = stringsOf(b).list[0];
  return first === undefined ? undefined : { text: decodeUtf8(first), bytes: first.byteLength };
}

/** fdt_stringlist_search ≥ 0 (also fdt_node_check_compatible for `compatible`). */
function listHas(node: FdtNode, prop: string, want: string): boolean {
  const b = node.props.get(prop);
  return b !== undefined && stringsOf(b).list.some((s) => bytesEq(s, want));
}

/** fdt_stringlist_count: the count, 'bad' for a malformed list, undefined when absent. */
function listCount(node: FdtNode, prop: string): number | 'bad' | undefined {
  const b = node.props.get(prop);
  if (b === undefined) return undefined;
  const { list, malformed } = stringsOf(b);
  return malformed ? 'bad' : list.length;
}

function listOf(node: FdtNode, prop: string): string[] {
  const b = node.props.get(prop);
  return b === undefined ? [] : stringsOf(b).list.map(decodeUtf8);
}

const has = (node: FdtNode, prop: string): boolean => node.props.has(prop);

/** parse_device_label: `qcom,label`, else `label` (each a 4-byte u32). */
function deviceLabel(node: FdtNode): number | undefined {
  return u32Of(node, 'qcom,label') ?? u32Of(node, 'label');
}

const aligned = (n: bigint, a: bigint): boolean => n % a === 0n;

/** read_interrupts_config: `count` 3-cell GIC specifiers, all valid, or undefined (D4). */
function readInterrupts(node: FdtNode, count: number): VmDtInterrupt[] | undefined {
  const b = node.props.get('interrupts');
  if (b === undefined || b.byteLength !== 12 * count) return undefined;
  const classes = Object.values(GicIrqClass);
  const out: VmDtInterrupt[] = [];
  for (let i = 0; i < count; i++) {
    const type = cellAt(b, 3 * i);
    const line = cellAt(b, 3 * i + 1);
    const flags = cellAt(b, 3 * i + 2);
    const cls = classes.find((c) => c.type === type);
    if (cls === undefined) return undefined;
    const intid = (line + cls.offset) >>> 0; // virq_t arithmetic wraps at 32 bits
    if (intid >= cls.limit) return undefined;
    const trigger = flags & 0xf;
    if (trigger !== GicIrqTrigger.EDGE_RISING && trigger !== GicIrqTrigger.LEVEL_HIGH) return undefined;
    out.push({ type, line, flags, intid, edge: trigger === GicIrqTrigger.EDGE_RISING });
  }
  return out;
}

/** sscanf(s, "%04x%04x-%04x-%04x-%04x-%04x%04x%04x") == 8 (sign and 0x prefixes not modelled). */
function guidScans(s: string): boolean {
  let i = 0;
  for (const f of 'xx-x-x-x-xxx') {
    if (f === '-') {
      if (s[i] !== '-') return false;
      i++;
      continue;
    }
    while (/\s/.test(s[i] ?? '')) i++;
    let k = 0;
    while (k < 4 && /[0-9a-fA-F]/.test(s[i] ?? '')) {
      i++;
      k++;
    }
    if (k === 0) return false;
  }
  return true;
}

// ---------------------------------------------------------------------------------------
// The walk.

/** dtb_parser ctx: this node's cells come from its parent; children's from this node. */
interface Ctx {
  readonly addrCells: number;
  readonly sizeCells: number;
  readonly childAddrCells: number;
  readonly childSizeCells: number;
}

function childCtx(node: FdtNode, parent: Ctx | undefined): Ctx {
  return {
    addrCells: parent?.childAddrCells ?? 2,
    sizeCells: parent?.childSizeCells ?? 1,
    childAddrCells: u32Of(node, '#address-cells') ?? 2,
    childSizeCells: u32Of(node, '#size-cells') ?? 1,
  };
}

interface PendingVcpu {
  readonly node: FdtNode;
  readonly path: string;
  readonly bootCpu: boolean;
  readonly regCells: number;
}

/** Mutable parse state, local to one parseVmDtConfig call (the RM's vm_config_parser_data_t). */
interface State {
  readonly opts: Required<Pick<VmDtConfigOptions, 'acceptSourceCanClean' | 'trusted'>> & VmDtConfigOptions;
  readonly root: FdtNode;
  vmConfigSeen: boolean;
  imageName?: string;
  uri?: string;
  guid?: Uint8Array;
  osType?: string;
  vmType?: string;
  vmAttrs: string[];
  iomemRanges: number;
  irqRanges: number;
  memBase?: bigint;
  memSizeMin?: bigint;
  memSizeMax?: bigint;
  fwBase?: bigint;
  fwSizeMax?: bigint;
  memDirect: boolean;
  vcpusSeen: boolean;
  affinity: VcpuAffinity;
  schedTimeslice: number;
  schedPriority: number;
  affinityMap?: number[];
  vcpus: PendingVcpu[];
  psci: boolean;
  doorbells: VmDtDoorbell[];
  msgQueues: VmDtMsgQueue[];
  shms: VmDtShm[];
  others: VmDtOtherVdevice[];
}

/** parse_general_vdevice_props: label override, generate, push-compatible limit. */
function generalProps(
  node: FdtNode,
  path: string,
  label: number,
  maxCompat = VDEVICE_MAX_PUSH_COMPATIBLES,
): { label: number; generate?: string; pushCompatible?: readonly string[] } {
  const n = listCount(node, 'push-compatible');
  if (typeof n === 'number' && n > maxCompat) reject(path, `push-compatible has ${n} entries, at most ${maxCompat}`);
  const generate = firstStr(node, 'generate')?.text;
  const push = listOf(node, 'push-compatible');
  return {
    label: deviceLabel(node) ?? label,
    ...(generate !== undefined ? { generate } : {}),
    ...(push.length > 0 ? { pushCompatible: push } : {}),
  };
}

/** `peer-default`, else a `peer` id string; neither is refused. */
function peerOf(node: FdtNode, path: string, kind: string): { peerDefault: boolean; peer?: string } {
  if (has(node, 'peer-default')) return { peerDefault: true };
  const peer = firstStr(node, 'peer')?.text;
  if (peer === undefined) reject(path, `${kind} needs peer-default or peer`);
  return { peerDefault: false, peer };
}

function requirePeerDefault(node: FdtNode, path: string, kind: string): void {
  if (!has(node, 'peer-default')) reject(path, `${kind} needs peer-default`);
}

function msgParams(node: FdtNode): { messageSize: number; queueDepth: number } {
  // The RM keeps these as uint16_t (D5).
  return {
    messageSize: (u32Of(node, 'message-size') ?? VM_DT_DEFAULT_MESSAGE_SIZE) & 0xffff,
    queueDepth: (u32Of(node, 'queue-depth') ?? VM_DT_DEFAULT_QUEUE_DEPTH) & 0xffff,
  };
}

/** parse_memory_node: exactly one child, named "memory", with a label and base xor allocate-base. */
function memoryChild(node: FdtNode, path: string, ctx: Ctx) {
  let mem: FdtNode | undefined;
  for (const c of node.children) {
    if (c.name !== 'memory') reject(path, `unexpected child "${c.name}", only "memory" is allowed`);
    if (mem !== undefined) reject(path, 'more than one "memory" child');
    mem = c;
  }
  if (mem === undefined) reject(path, 'missing "memory" child');
  const memPath = `${path}/memory`;
  const label = deviceLabel(mem);
  if (label === undefined) reject(memPath, 'no label (or qcom,label) u32');
  const base = numOf(mem, 'base', ctx.childAddrCells);
  if (base !== undefined && !aligned(base, RM_PAGE_SIZE)) reject(memPath, `base ${base.toString(16)} not page aligned`);
  const allocateBase = has(mem, 'allocate-base');
  if (allocateBase && base !== undefined) reject(memPath, 'both base and allocate-base');
  if (!allocateBase && base === undefined) reject(memPath, `neither allocate-base nor a ${ctx.childAddrCells}-cell base`);
  return { label, allocateBase, optional: has(mem, 'optional'), ...(base !== undefined ? { base } : {}) };
}

/** The 16 bytes of an 8-4-4-4-12 GUID string (checked by guidScans first). */
function guidToBytes(text: string): Uint8Array {
  const digits = text.replace(/-/g, '').replace(/^0x/i, '').padStart(32, '0').slice(0, 32);
  const out = new Uint8Array(16);
  for (let i = 0; i < 16; i++) out[i] = parseInt(digits.slice(2 * i, 2 * i + 2), 16) || 0;
  return out;
}

function parseVmConfig(st: State, node: FdtNode, path: string, ctx: Ctx): void {
  st.vmConfigSeen = true;
  const vmType = firstStr(node, 'vm-type')?.text;
  if (vmType !== undefined) st.vmType = vmType;
  const osType = firstStr(node, 'os-type')?.text;
  if (osType !== undefined) st.osType = osType;
  if (listCount(node, 'vm-attrs') === 'bad') reject(path, 'vm-attrs is a malformed string list');
  st.vmAttrs = listOf(node, 'vm-attrs');
  const name = firstStr(node, 'image-name');
  if (name === undefined || name.bytes >= VM_MAX_NAME_LEN) reject(path, `image-name missing or ${VM_MAX_NAME_LEN}+ bytes`);
  st.imageName = name.text;
  const guid = firstStr(node, 'vm-guid');
  if (guid !== undefined && !guidScans(guid.text)) reject(path, `invalid vm-guid "${guid.text}"`);
  if (guid !== undefined) st.guid = guidToBytes(guid.text);
  const uri = firstStr(node, 'vm-uri');
  if (uri !== undefined) st.uri = uri.text;

  const iomem = node.props.get('iomemory-ranges');
  if (iomem !== undefined) {
    const { addrCells: a, sizeCells: s } = ctx;
    const words = Math.floor(iomem.byteLength / 4);
    const rangeWords = a * 2 + s + 1;
    if (words === 0 || words % rangeWords !== 0) reject(path, `iomemory-ranges of ${words} cells is not a multiple of ${rangeWords}`);
    if (a > 2 || s > 2) reject(path, 'iomemory-ranges with more than 2 address or size cells');
    for (let i = 0; i < words; i += rangeWords) {
      const phys = readCellsBE(iomem, i * 4, a);
      const ipa = readCellsBE(iomem, (i + a) * 4, a);
      const size = readCellsBE(iomem, (i + 2 * a) * 4, s);
      if (!aligned(phys, RM_PAGE_SIZE) || !aligned(ipa, RM_PAGE_SIZE) || !aligned(size, RM_PAGE_SIZE)) {
        reject(path, 'iomemory-ranges entry not page aligned');
      }
      if ((cellAt(iomem, i + 2 * a + s) & 0xffff) >= IOMEM_RANGE_ACCESS_MAX) reject(path, 'iomemory-ranges access code out of range');
    }
    st.iomemRanges += words / rangeWords;
  }
  const irqs = node.props.get('gic-irq-ranges');
  if (irqs !== undefined) st.irqRanges += Math.floor(irqs.byteLength / 8);
}

function parseVmMemory(st: State, node: FdtNode, path: string, ctx: Ctx): void {
  if (has(node, 'is-direct')) {
    st.memDirect = true;
    st.memSizeMax = U64_MAX;
  }
  let base = numOf(node, 'base-address', ctx.addrCells);
  if (base !== undefined) {
    if (!aligned(base, RM_PAGE_SIZE)) reject(path, `base-address 0x${base.toString(16)} not page aligned`);
    if (!aligned(base, MEM_BASE_ALIGN)) base = (((base + MEM_BASE_ALIGN - 1n) / MEM_BASE_ALIGN) * MEM_BASE_ALIGN) % U64_MOD;
    st.memBase = base;
    st.memSizeMax = (U64_MOD - base) % U64_MOD; // the whole space above base (0 - base, 64-bit)
  }
  const sizeMin = numOf(node, 'size-min', ctx.sizeCells);
  if (sizeMin !== undefined) {
    if (!aligned(sizeMin, RM_PAGE_SIZE)) reject(path, 'size-min not page aligned');
    st.memSizeMin = sizeMin;
  }
  const sizeMax = numOf(node, 'size-max', ctx.sizeCells);
  if (sizeMax !== undefined) {
    if (!aligned(sizeMax, RM_PAGE_SIZE)) reject(path, 'size-max not page aligned');
    if (st.memBase !== undefined && st.memBase + sizeMax > U64_MAX) reject(path, 'size-max too large for base-address');
    st.memSizeMax = sizeMax;
  }
  const fw = numOf(node, 'firmware-address', ctx.addrCells);
  if (fw !== undefined) {
    if (!aligned(fw, RM_PAGE_SIZE)) reject(path, 'firmware-address not page aligned');
    st.fwBase = fw;
  }
  const fwMax = numOf(node, 'firmware-size-max', ctx.sizeCells);
  if (fwMax !== undefined) {
    if (!aligned(fwMax, RM_PAGE_SIZE)) reject(path, 'firmware-size-max not page aligned');
    // Without firmware-address the RM's base is INVALID_ADDRESS (all ones): any size overflows.
    if ((st.fwBase ?? U64_MAX) + fwMax > U64_MAX) reject(path, 'firmware-size-max too large for firmware-address');
    st.fwSizeMax = fwMax;
  }
  const constraints = node.props.get('base-mem-constraints');
  if (constraints !== undefined && (constraints.byteLength > 8 || constraints.byteLength % 4 !== 0)) {
    reject(path, `base-mem-constraints of ${constraints.byteLength} bytes (at most two u32)`);
  }
}

function parseVcpus(st: State, node: FdtNode, path: string): void {
  st.vcpusSeen = true;
  const affinity = firstStr(node, 'affinity')?.text;
  st.affinity = affinity === 'sticky' || affinity === 'pinned' || affinity === 'proxy' ? affinity : 'static';
  if (st.affinity !== 'proxy') {
    st.schedTimeslice = u32Of(node, 'sched-timeslice') ?? st.schedTimeslice;
    const prio = u32Of(node, 'sched-priority');
    if (prio !== undefined) st.schedPriority = prio | 0;
    const map = node.props.get('affinity-map');
    if (map === undefined) reject(path, 'affinity-map missing (required unless affinity is "proxy")');
    st.affinityMap = Array.from({ length: Math.floor(map.byteLength / 4) }, (_, i) => cellAt(map, i));
  }
  const configPath = firstStr(node, 'config')?.text ?? '/cpus';
  const cpus = lookupPath(st.root, configPath);
  if (cpus === undefined) reject(path, `config path "${configPath}" not found`);
  const defaultMethod = firstStr(cpus.node, 'enable-method')?.text;
  const regCells = u32Of(cpus.node, '#address-cells') ?? 2;

  let enabled = 0;
  let idleStates = 0;
  let psciMethod = 0;
  for (const cpu of cpus.node.children) {
    if (firstStr(cpu, 'device_type')?.text !== 'cpu') continue;
    const cpuPath = `${cpus.path === '/' ? '' : cpus.path}/${cpu.name}`;
    const status = firstStr(cpu, 'status')?.text;
    let boot: boolean;
    if (status === undefined) boot = enabled === 0; // first cpu without status is the boot cpu
    else if (status === 'okay') boot = true;
    else if (status === 'disabled') boot = false;
    else if (status === 'fail' || status.startsWith('fail-')) continue;
    else reject(cpuPath, `unexpected status "${status}"`);
    const method = firstStr(cpu, 'enable-method')?.text ?? defaultMethod;
    if (has(cpu, 'cpu-idle-states')) idleStates++;
    if (boot) enabled++;
    else if (method === undefined) reject(cpuPath, 'secondary vCPU without enable-method');
    else if (method === 'psci') psciMethod++;
    else if (method !== 'qcom,gunyah-hvc') reject(cpuPath, `unknown enable-method "${method}"`);
    if (cpuPath.length >= VCPU_PATH_MAX) reject(cpuPath, `path of ${VCPU_PATH_MAX}+ bytes`);
    st.vcpus.push({ node: cpu, path: cpuPath, bootCpu: boot, regCells });
  }
  if (enabled === 0) reject(path, 'no vCPU enabled at boot');
  if (st.affinity !== 'proxy' && st.vcpus.length !== (st.affinityMap?.length ?? 0)) {
    reject(path, `${st.vcpus.length} cpu node(s) but ${st.affinityMap?.length ?? 0} affinity-map entries`);
  }
  if (psciMethod !== 0 || idleStates !== 0) st.psci = true;
  // Uses the PSCI flag as set so far: a psci node AFTER this one is not yet counted (RM order).
  if (st.psci && st.affinity !== 'proxy' && idleStates !== st.vcpus.length) {
    reject(path, 'PSCI on for a non-proxy VM but not every cpu has cpu-idle-states');
  }
}

function parseDoorbell(st: State, node: FdtNode, path: string, source: boolean): void {
  const interrupt = source ? undefined : readInterrupts(node, 1)?.[0];
  const peer = peerOf(node, path, source ? 'doorbell-source' : 'doorbell');
  let spelling: VmDtDoorbell['sourceCanClearSpelling'];
  if (has(node, 'source-can-clear')) spelling = 'source-can-clear';
  else if (st.opts.acceptSourceCanClean && has(node, 'source-can-clean')) spelling = 'source-can-clean';
  const general = generalProps(node, path, 0);
  st.doorbells.push({
    ...general,
    name: node.name,
    path,
    source,
    ...peer,
    sourceCanClear: spelling !== undefined,
    ...(spelling !== undefined ? { sourceCanClearSpelling: spelling } : {}),
    ...(interrupt !== undefined ? { interrupt } : {}),
  });
}

function parseMsgQueue(st: State, node: FdtNode, path: string): void {
  const interrupts = readInterrupts(node, 1) ?? [];
  const isSender = has(node, 'is-sender');
  if (isSender === has(node, 'is-receiver')) reject(path, 'message-queue needs exactly one of is-sender, is-receiver');
  requirePeerDefault(node, path, 'message-queue');
  const general = generalProps(node, path, 0);
  st.msgQueues.push({ kind: 'message-queue', ...general, name: node.name, path, peerDefault: true, isSender, ...msgParams(node), interrupts });
}

function parseMsgQueuePair(st: State, node: FdtNode, path: string): void {
  const peer = peerOf(node, path, 'message-queue-pair');
  const interrupts = readInterrupts(node, 2) ?? [];
  const general = generalProps(node, path, 0);
  st.msgQueues.push({ kind: 'message-queue-pair', ...general, name: node.name, path, ...peer, ...msgParams(node), interrupts });
}

function parseShm(st: State, node: FdtNode, path: string, ctx: Ctx): void {
  const type = firstStr(node, 'vdevice-type');
  if (type === undefined) reject(path, 'vdevice-type unreadable');
  const mem = memoryChild(node, path, ctx);
  requirePeerDefault(node, path, 'shm');
  const dmaBase = u64Of(node, 'dma_base');
  const general = generalProps(node, path, mem.label);
  st.shms.push({
    ...general,
    name: node.name,
    path,
    plain: type.text === 'shm',
    ...(mem.base !== undefined ? { base: mem.base } : {}),
    allocateBase: mem.allocateBase,
    optional: mem.optional,
    ...(dmaBase !== undefined ? { dmaBase } : {}),
  });
}

function parseOther(st: State, node: FdtNode, path: string, ctx: Ctx, type: VmDtOtherVdevice['type']): void {
  let label = 0;
  let extra: Partial<Pick<VmDtOtherVdevice, 'generate' | 'pushCompatible' | 'consoleDev' | 'messageSize' | 'queueDepth'>> = {};
  switch (type) {
    case 'rm-rpc': {
      const general = generalProps(node, path, 0, VDEVICE_MAX_PUSH_COMPATIBLES - RM_RPC_EXTRA_COMPATIBLES);
      label = general.label;
      extra = {
        ...(general.generate !== undefined ? { generate: general.generate } : {}),
        ...(general.pushCompatible !== undefined ? { pushCompatible: general.pushCompatible } : {}),
        consoleDev: has(node, 'console-dev'),
        ...msgParams(node),
      };
      break;
    }
    case 'virtio-mmio':
      requirePeerDefault(node, path, 'virtio-mmio');
      label = memoryChild(node, path, ctx).label;
      label = generalProps(node, path, label).label;
      break;
    case 'iomem': {
      label = generalProps(node, path, 0).label;
      requirePeerDefault(node, path, 'iomem');
      // The RM matches the child with strncmp(name, "memory", strlen(name)): any prefix of "memory".
      const mems = node.children.filter((c) => c.name !== '' && 'memory'.startsWith(c.name));
      if (mems.length !== 1) reject(path, mems.length === 0 ? 'missing "memory" child' : 'more than one "memory" child');
      const memLabel = deviceLabel(mems[0]!);
      if (memLabel === undefined) reject(`${path}/${mems[0]!.name}`, 'no label (or qcom,label) u32');
      label = memLabel;
      const sgl = node.props.get('qcom,rm_sglist');
      if (sgl !== undefined && sgl.byteLength % 16 !== 0) reject(path, 'qcom,rm_sglist is not a list of (u64, u64)');
      break;
    }
    case 'vsmmu-v2': {
      const cbs = u32Of(node, 'num-cbs');
      const smrs = u32Of(node, 'num-smrs');
      if (u32Of(node, 'smmu-handle') === undefined) reject(path, 'vsmmu-v2 without smmu-handle');
      if (firstStr(node, 'patch') === undefined) reject(path, 'vsmmu-v2 without patch');
      if (cbs === undefined || cbs > 255) reject(path, 'vsmmu-v2 num-cbs missing or over 255');
      if (smrs === undefined || smrs > 255) reject(path, 'vsmmu-v2 num-smrs missing or over 255');
      break;
    }
    case 'vrtc-pl031':
      break;
  }
  if (type !== 'rm-rpc') {
    const generate = firstStr(node, 'generate')?.text;
    if (generate !== undefined) extra = { generate };
  }
  st.others.push({ type, label, name: node.name, path, ...extra });
}

/** vdevice-type listeners in the RM's order (first match wins). */
const VDEVICE_LISTENERS: ReadonlyArray<readonly [string, (st: State, node: FdtNode, path: string, ctx: Ctx) => void]> = [
  ['rm-rpc', (st, n, p, c) => parseOther(st, n, p, c, 'rm-rpc')],
  ['shm-doorbell', parseShm],
  ['shm', parseShm],
  ['doorbell-source', (st, n, p) => parseDoorbell(st, n, p, true)],
  ['doorbell', (st, n, p) => parseDoorbell(st, n, p, false)],
  ['message-queue', parseMsgQueue],
  ['message-queue-pair', parseMsgQueuePair],
  ['virtio-mmio', (st, n, p, c) => parseOther(st, n, p, c, 'virtio-mmio')],
  ['iomem', (st, n, p, c) => parseOther(st, n, p, c, 'iomem')],
  ['vsmmu-v2', (st, n, p, c) => parseOther(st, n, p, c, 'vsmmu-v2')],
  ['vrtc-pl031', (st, n, p, c) => parseOther(st, n, p, c, 'vrtc-pl031')],
];

/** check_listeners: hand the node to the first listener that matches. */
function dispatch(st: State, node: FdtNode, path: string, ctx: Ctx): void {
  if (listHas(node, 'device_type', 'memory')) {
    if (path !== '/memory') reject(path, 'device_type "memory" is only allowed on /memory');
    return;
  }
  if (VM_CONFIG_PATH.test(path)) return parseVmConfig(st, node, path, ctx);
  if (VM_MEMORY_PATH.test(path)) return parseVmMemory(st, node, path, ctx);
  if (VM_VCPUS_PATH.test(path)) return parseVcpus(st, node, path);
  for (const [type, parse] of VDEVICE_LISTENERS) {
    if (listHas(node, 'vdevice-type', type)) return parse(st, node, path, ctx);
  }
  if (listHas(node, 'compatible', 'arm,psci-0.2') || listHas(node, 'compatible', 'arm,psci-1.0')) st.psci = true;
}

function walk(st: State, node: FdtNode, path: string, depth: number, parent: Ctx | undefined): void {
  if (depth >= DTB_PARSER_MAX_DEPTH) reject(path, `node nested ${depth} deep (the RM's walker stops at ${DTB_PARSER_MAX_DEPTH})`);
  if (path.length >= DTB_PARSER_MAX_PATH) reject(path.slice(0, 64) + '…', `path of ${DTB_PARSER_MAX_PATH}+ bytes`);
  const ctx = childCtx(node, parent);
  dispatch(st, node, path, ctx);
  for (const c of node.children) walk(st, c, path === '/' ? `/${c.name}` : `${path}/${c.name}`, depth + 1, ctx);
}

/** vm_config_update_parsed() and vm_config_create_vdevices(): what is refused after the walk. */
function finalChecks(st: State): void {
  const cfg = '/gunyah-vm-config';
  if (!st.vmConfigSeen) reject('/', 'missing /gunyah-vm-config node (the RM creates no vCPUs and refuses the VM)', 'NORESOURCE');
  if (st.memSizeMin !== undefined && st.memSizeMax !== undefined && st.memSizeMin > st.memSizeMax) {
    reject(`${cfg}/memory`, 'size-min larger than size-max', 'ARGUMENT_INVALID');
  }
  const trusted = st.opts.trusted;
  const ARG: WireRmError = 'ARGUMENT_INVALID';
  if (!trusted && st.vmAttrs.includes('crash-fatal')) reject(cfg, 'vm-attrs crash-fatal needs a trusted config', ARG);
  if (!trusted && st.memDirect) reject(`${cfg}/memory`, 'is-direct needs a trusted config', ARG);
  if (!trusted && st.irqRanges > 0) reject(cfg, 'gic-irq-ranges needs a trusted config', ARG);
  if (!trusted && st.iomemRanges > 0) reject(cfg, 'iomemory-ranges needs a trusted config', ARG);
  if (!st.vcpusSeen) reject(cfg, 'missing vcpus node (the RM creates no vCPUs and refuses the VM)', 'NORESOURCE');
  if (st.affinity !== 'proxy') {
    const ns = BigInt(st.schedTimeslice) * 1000n;
    if (ns < SCHED_MIN_TIMESLICE_NS || ns > SCHED_MAX_TIMESLICE_NS) reject(`${cfg}/vcpus`, `sched-timeslice ${st.schedTimeslice} µs out of range`, ARG);
    if (!trusted && st.schedPriority >= 0) reject(`${cfg}/vcpus`, 'an untrusted VM needs sched-priority < 0 (below its owner)', ARG);
  }
  if (st.vcpus.length === 0) reject(cfg, 'no vCPUs', 'NORESOURCE');
  if (st.opts.maxVcpus !== undefined && st.vcpus.length > st.opts.maxVcpus) {
    reject(cfg, `${st.vcpus.length} vCPUs, the platform has ${st.opts.maxVcpus} cores`, 'NORESOURCE');
  }
}

/**
 * Parse a VM's DTB as the RM does at VM_INIT.
 * @param dtb the DTB bytes (trailing free space after totalsize is fine).
 * @returns the configuration the RM would build vdevices from.
 * @throws WireError 'bad-fdt' for a malformed DTB, or for a DT the RM refuses; `what` names
 *   the node path and the reason, `detail.rmError` the RM error when it is not MEM_INVALID
 *   (D10). Nothing else is thrown.
 */
export function parseVmDtConfig(dtb: Uint8Array, opts: VmDtConfigOptions = {}): VmDtConfig {
  const tree = parseFdt(dtb);
  const st: State = {
    opts: { ...opts, acceptSourceCanClean: opts.acceptSourceCanClean ?? true, trusted: opts.trusted ?? false },
    root: tree.root,
    vmConfigSeen: false,
    vmAttrs: [],
    iomemRanges: 0,
    irqRanges: 0,
    memDirect: false,
    vcpusSeen: false,
    affinity: 'static',
    schedTimeslice: 0,
    schedPriority: 0,
    vcpus: [],
    psci: false,
    doorbells: [],
    msgQueues: [],
    shms: [],
    others: [],
  };
  walk(st, tree.root, '/', 0, undefined);
  finalChecks(st);

  const proxy = st.affinity === 'proxy';
  const vcpus: VmDtVcpu[] = st.vcpus.map((v, i) => ({
    affinityIndex: proxy ? i : st.affinityMap![i]!,
    mpidr: numOf(v.node, 'reg', v.regCells) ?? BigInt(i),
    path: v.path,
    bootCpu: v.bootCpu,
  }));
  const memory: VmDtMemory | undefined =
    st.memBase === undefined
      ? undefined
      : {
          baseAddress: st.memBase,
          isDirect: st.memDirect,
          ...(st.memSizeMin !== undefined ? { sizeMin: st.memSizeMin } : {}),
          ...(st.memSizeMax !== undefined ? { sizeMax: st.memSizeMax } : {}),
          ...(st.fwBase !== undefined ? { firmwareAddress: st.fwBase } : {}),
          ...(st.fwSizeMax !== undefined ? { firmwareSizeMax: st.fwSizeMax } : {}),
        };
  return {
    ...(st.imageName !== undefined ? { imageName: st.imageName } : {}),
    ...(st.uri !== undefined ? { uri: st.uri } : {}),
    ...(st.guid !== undefined ? { guid: st.guid } : {}),
    ...(st.osType !== undefined ? { osType: st.osType } : {}),
    ...(st.vmType !== undefined ? { vmType: st.vmType } : {}),
    vmAttrs: st.vmAttrs,
    ...(memory !== undefined ? { memory } : {}),
    vcpus,
    affinity: st.affinity,
    proxyScheduled: proxy,
    doorbells: st.doorbells,
    msgQueues: st.msgQueues,
    shms: st.shms,
    otherVdevices: st.others,
    psci: st.psci,
  };
}
