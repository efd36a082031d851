/**
 * DTB reader: validates a flattened device tree blob and decodes it into an FdtTree.
 *
 * Reference: Devicetree Specification v0.4, §5.2 (header), §5.3 (memory reservation block),
 * §5.4 (structure block), §5.5 (strings block). All integers are BIG-endian.
 *
 * Contract: `parseFdt` either returns a tree or throws `WireError('bad-fdt', { what, offset })`;
 * nothing else, whatever the bytes (property-tested). Every loop advances by at least four
 * bytes and is bounded by totalsize, so it cannot hang. The checks are stricter than libfdt's
 * `fdt_check_header` (which the real RM asserts before walking the tree): we also reject a
 * malformed token stream up front instead of failing half-way through a walk.
 *
 * What is rejected, beyond the header fields:
 *   - blocks outside the header..totalsize window, totalsize past the buffer, misalignment
 *     (reserve map 8, structure block 4);
 *   - a reserve map without its (0, 0) terminator before totalsize;
 *   - tokens: unknown values, truncated FDT_PROP, names or values running past the block,
 *     NOP is skipped anywhere;
 *   - node names: not NUL-terminated, empty (except the root), containing '/'; the root's
 *     name must be "";
 *   - properties: outside a node, after a sub-node of the same node (libfdt would not see
 *     them), empty or duplicated names, nameoff outside the strings block or not
 *     NUL-terminated inside it;
 *   - nesting deeper than FDT_MAX_DEPTH, END_NODE without an open node, a second root,
 *     FDT_END with open nodes, and (v17) bytes of the structure block after FDT_END.
 * Bytes after totalsize are ignored: a VMM's DTB region is usually larger than the blob.
 */
import { WireError } from '../shared/wire-error.js';
import { align4, hex, view } from '../shared/bytes.js';
import {
  FDT_HEADER_SIZE,
  FDT_MAGIC,
  FDT_MAX_DEPTH,
  FDT_MAX_LAST_COMP_VERSION,
  FDT_MIN_READ_VERSION,
  FDT_RESERVE_ENTRY_SIZE,
  FDT_V16_HEADER_SIZE,
  FdtHeaderOffset as H,
  FdtToken,
  fdtNode,
  nameFromBytes,
} from './format.js';
import type { FdtHeader, FdtNode, FdtReserveEntry, FdtTree } from './format.js';

function bad(what: string, offset?: number): never {
  throw new WireError('bad-fdt', offset === undefined ? { what } : { what, offset });
}

/**
 * Decode and validate the header. Returns the header and the header size in use (36 for
 * version 16, 40 from version 17).
 */
function readHeader(bytes: Uint8Array): { header: FdtHeader; headerSize: number } {
  const len = bytes.byteLength;
  if (len < FDT_V16_HEADER_SIZE) bad(`${len} bytes: shorter than a DTB header`, 0);
  const v = view(bytes);
  const u32 = (off: number): number => v.getUint32(off, false);

  const magic = u32(H.magic);
  if (magic !== FDT_MAGIC) bad(`magic ${hex(magic, 8)}, expected ${hex(FDT_MAGIC, 8)}`, H.magic);
  const version = u32(H.version);
  if (version < FDT_MIN_READ_VERSION) bad(`version ${version} < ${FDT_MIN_READ_VERSION}`, H.version);
  const lastCompVersion = u32(H.last_comp_version);
  if (lastCompVersion > FDT_MAX_LAST_COMP_VERSION) {
    bad(`last_comp_version ${lastCompVersion} > ${FDT_MAX_LAST_COMP_VERSION}`, H.last_comp_version);
  }
  const headerSize = version >= 17 ? FDT_HEADER_SIZE : FDT_V16_HEADER_SIZE;
  if (len < headerSize) bad(`${len} bytes: shorter than a version ${version} header`, 0);

  const totalsize = u32(H.totalsize);
  if (totalsize < headerSize) bad(`totalsize ${totalsize} smaller than the header`, H.totalsize);
  if (totalsize > len) bad(`totalsize ${totalsize} exceeds the ${len}-byte buffer`, H.totalsize);

  const header: FdtHeader = {
    magic,
    totalsize,
    offDtStruct: u32(H.off_dt_struct),
    offDtStrings: u32(H.off_dt_strings),
    offMemRsvmap: u32(H.off_mem_rsvmap),
    version,
    lastCompVersion,
    bootCpuidPhys: u32(H.boot_cpuid_phys),
    sizeDtStrings: u32(H.size_dt_strings),
    sizeDtStruct: version >= 17 ? u32(H.size_dt_struct) : undefined,
  };

  // Memory reservation block: 8-aligned, room for at least the terminator.
  const rsv = header.offMemRsvmap;
  if (rsv % 8 !== 0) bad(`off_mem_rsvmap ${rsv} not 8-byte aligned`, H.off_mem_rsvmap);
  if (rsv < headerSize || rsv > totalsize - FDT_RESERVE_ENTRY_SIZE) {
    bad(`off_mem_rsvmap ${rsv} outside ${headerSize}..${totalsize}`, H.off_mem_rsvmap);
  }

  // Structure block: 4-aligned; v17 also bounds its size.
  const st = header.offDtStruct;
  if (st % 4 !== 0) bad(`off_dt_struct ${st} not 4-byte aligned`, H.off_dt_struct);
  if (st < headerSize || st > totalsize) bad(`off_dt_struct ${st} outside ${headerSize}..${totalsize}`, H.off_dt_struct);
  if (header.sizeDtStruct !== undefined && header.sizeDtStruct > totalsize - st) {
    bad(`structure block ${st}+${header.sizeDtStruct} past totalsize ${totalsize}`, H.size_dt_struct);
  }

  // Strings block: any alignment.
  const ss = header.offDtStrings;
  if (ss < headerSize || ss > totalsize) bad(`off_dt_strings ${ss} outside ${headerSize}..${totalsize}`, H.off_dt_strings);
  if (header.sizeDtStrings > totalsize - ss) {
    bad(`strings block ${ss}+${header.sizeDtStrings} past totalsize ${totalsize}`, H.size_dt_strings);
  }
  return { header, headerSize };
}

function readReserveMap(bytes: Uint8Array, header: FdtHeader): FdtReserveEntry[] {
  const v = view(bytes);
  const out: FdtReserveEntry[] = [];
  // INVARIANT: each pass advances 16 bytes and the bound is totalsize, so the loop ends.
  for (let off = header.offMemRsvmap; ; off += FDT_RESERVE_ENTRY_SIZE) {
    if (off + FDT_RESERVE_ENTRY_SIZE > header.totalsize) bad('memory reservation map has no (0, 0) terminator', off);
    const address = v.getBigUint64(off, false);
    const size = v.getBigUint64(off + 8, false);
    if (address === 0n && size === 0n) return out;
    out.push({ address, size });
  }
}

/** Walk the structure block token by token (no recursion) and build the node tree. */
function readStructure(bytes: Uint8Array, header: FdtHeader): FdtNode {
  const v = view(bytes);
  const start = header.offDtStruct;
  // A v16 header has no size_dt_struct: the block may run up to totalsize.
  const end = header.sizeDtStruct === undefined ? header.totalsize : start + header.sizeDtStruct;
  const strStart = header.offDtStrings;
  const strEnd = strStart + header.sizeDtStrings;
  const nameCache = new Map<number, string>();

  const stack: FdtNode[] = [];
  const sawChild: boolean[] = []; // per open node: a sub-node has started (no more properties)
  let root: FdtNode | undefined;

  const propName = (nameoff: number, at: number): string => {
    const cached = nameCache.get(nameoff);
    if (cached !== undefined) return cached;
    if (nameoff >= header.sizeDtStrings) bad(`nameoff ${nameoff} outside the ${header.sizeDtStrings}-byte strings block`, at);
    const s = strStart + nameoff;
    const nul = bytes.indexOf(0, s);
    if (nul < 0 || nul >= strEnd) bad(`property name at strings+${nameoff} not NUL-terminated`, at);
    if (nul === s) bad('empty property name', at);
    const name = nameFromBytes(bytes, s, nul);
    nameCache.set(nameoff, name);
    return name;
  };

  let p = start;
  for (;;) {
    // INVARIANT: every branch below advances p by ≥ 4, and p is checked against end here.
    if (p + 4 > end) bad('structure block ends without FDT_END', p);
    const at = p;
    const tok = v.getUint32(p, false);
    p += 4;
    switch (tok) {
      case FdtToken.FDT_BEGIN_NODE: {
        const nul = bytes.indexOf(0, p);
        if (nul < 0 || nul >= end) bad('node name not NUL-terminated inside the structure block', at);
        const name = nameFromBytes(bytes, p, nul);
        p = align4(nul + 1);
        if (stack.length === 0) {
          if (root !== undefined) bad('a second root node', at);
          if (name !== '') bad(`root node named "${name}", expected ""`, at);
        } else {
          if (name === '') bad('empty node name', at);
          if (name.includes('/')) bad(`node name "${name}" contains '/'`, at);
        }
        if (stack.length >= FDT_MAX_DEPTH) bad(`nodes nested deeper than ${FDT_MAX_DEPTH}`, at);
        const node = fdtNode(name);
        const parent = stack[stack.length - 1];
        if (parent === undefined) root = node;
        else {
          parent.children.push(node);
          sawChild[sawChild.length - 1] = true;
        }
        stack.push(node);
        sawChild.push(false);
        break;
      }
      case FdtToken.FDT_END_NODE:
        if (stack.length === 0) bad('FDT_END_NODE without an open node', at);
        stack.pop();
        sawChild.pop();
        break;
      case FdtToken.FDT_PROP: {
        if (end - p < 8) bad('truncated FDT_PROP header', at);
        const len = v.getUint32(p, false);
        const nameoff = v.getUint32(p + 4, false);
        p += 8;
        const node = stack[stack.length - 1];
        if (node === undefined) bad('property outside any node', at);
        if (sawChild[sawChild.length - 1]) bad('property after a sub-node', at);
        if (len > end - p) bad(`property value of ${len} bytes runs past the structure block`, at);
        const name = propName(nameoff, at);
        if (node.props.has(name)) bad(`duplicate property "${name}"`, at);
        node.props.set(name, bytes.slice(p, p + len));
        p = align4(p + len);
        break;
      }
      case FdtToken.FDT_NOP:
        break;
      case FdtToken.FDT_END:
        if (stack.length !== 0) bad(`FDT_END with ${stack.length} open node(s)`, at);
        if (root === undefined) bad('no root node', at);
        if (header.sizeDtStruct !== undefined && p !== end) bad(`${end - p} byte(s) after FDT_END`, p);
        return root;
      default:
        bad(`unknown token ${hex(tok, 8)}`, at);
    }
  }
}

/**
 * Parse and validate a DTB.
 * @param bytes the blob; bytes beyond header.totalsize are ignored.
 * @returns the header, the reserve map and the node tree (property values are copies).
 * @throws WireError 'bad-fdt' with `what` and the byte `offset` of the fault; nothing else.
 */
export function parseFdt(bytes: Uint8Array): FdtTree {
  const { header } = readHeader(bytes);
  const reserve = readReserveMap(bytes, header);
  const root = readStructure(bytes, header);
  return { header, totalsize: header.totalsize, bootCpuidPhys: header.bootCpuidPhys, reserve, root };
}
