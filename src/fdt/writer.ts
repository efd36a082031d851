/**
 * DTB writer: the builder a TypeScript VMM uses to produce the device tree it hands to the
 * RM, and `serializeFdt` for writing back a tree from the reader.
 *
 * Reference: Devicetree Specification v0.4, chapter 5 (layout as dtc emits it: header,
 * memory reservation map, structure block, strings block, then optional free space).
 * All integers are BIG-endian. Output is version 17, last_comp_version 16.
 *
 * Free space matters for Gunyah: the RM applies its overlay to the DTB *in place*, so a VMM
 * must pass a DTB region larger than the blob (vmm-flows.md §5.1 and quirk Q8). `minSize`
 * pads totalsize with zeroed free space for that purpose.
 *
 * Property names are deduplicated in the strings block, and a name that is the tail of an
 * earlier one reuses its bytes (as libfdt's fdt_find_string does).
 */
import { assertU32, assertU64 } from '../shared/bytes.js';
import {
  FDT_HEADER_SIZE,
  FDT_LAST_COMP_VERSION,
  FDT_MAGIC,
  FDT_MAX_DEPTH,
  FDT_RESERVE_ENTRY_SIZE,
  FDT_VERSION,
  FdtHeaderOffset as H,
  FdtToken,
} from './format.js';
import type { FdtNode, FdtReserveEntry, FdtTree } from './format.js';

/** Options of FdtBuilder.finish and serializeFdt. */
export interface FdtFinishOptions {
  /** Pad totalsize up to this many bytes with zeroed free space (room for the RM overlay). */
  readonly minSize?: number;
  /** header.boot_cpuid_phys; default 0. */
  readonly bootCpuidPhys?: number;
  /** Memory reservation entries (the (0, 0) terminator is added). */
  readonly reserve?: readonly FdtReserveEntry[];
}

/** A growable big-endian byte buffer. */
class ByteSink {
  #buf = new Uint8Array(256);
  #len = 0;

  get length(): number {
    return this.#len;
  }

  #room(n: number): void {
    if (this.#len + n <= this.#buf.byteLength) return;
    let cap = this.#buf.byteLength * 2;
    while (cap < this.#len + n) cap *= 2;
    const next = new Uint8Array(cap);
    next.set(this.#buf.subarray(0, this.#len));
    this.#buf = next;
  }

  u32(v: number): void {
    this.#room(4);
    new DataView(this.#buf.buffer).setUint32(this.#len, v, false);
    this.#len += 4;
  }

  bytes(b: ArrayLike<number>): void {
    this.#room(b.length);
    this.#buf.set(b, this.#len);
    this.#len += b.length;
  }

  /** Zero bytes up to the next multiple of 4. */
  pad4(): void {
    const n = (4 - (this.#len % 4)) % 4;
    this.#room(n);
    this.#buf.fill(0, this.#len, this.#len + n);
    this.#len += n;
  }

  view(): Uint8Array {
    return this.#buf.subarray(0, this.#len);
  }
}

/** Bytes of a node or property name: one byte per char (Latin-1), no NUL. */
function nameBytes(name: string, what: string): Uint8Array {
  const out = new Uint8Array(name.length);
  for (let i = 0; i < name.length; i++) {
    const c = name.charCodeAt(i);
    if (c === 0 || c > 0xff) throw new RangeError(`${what} "${name}" has a character outside 0x01..0xff`);
    out[i] = c;
  }
  return out;
}

function cellsValue(cells: readonly number[], what: string): Uint8Array {
  const out = new Uint8Array(cells.length * 4);
  const v = new DataView(out.buffer);
  cells.forEach((c, i) => {
    assertU32(c, `${what}[${i}]`);
    v.setUint32(i * 4, c, false);
  });
  return out;
}

/**
 * Builds a DTB node by node, in document order:
 *
 *   const w = new FdtBuilder();
 *   w.beginNode('');                       // the root
 *   w.propU32('#address-cells', 2);
 *   w.beginNode('gunyah-vm-config'); w.propString('image-name', 'vm'); w.endNode();
 *   w.endNode();
 *   const dtb = w.finish({ minSize: 4096 });
 *
 * Rules (checked; misuse throws Error, out-of-range values RangeError): the first node is the
 * root, named ""; there is exactly one root; a node's properties come before its sub-nodes
 * (the order libfdt expects); property names are unique within a node; child names are
 * non-empty without '/'; nesting is at most FDT_MAX_DEPTH; finish() is called once, with
 * every node closed.
 */
export class FdtBuilder {
  readonly #struct = new ByteSink();
  #strings = '';
  readonly #stringOffsets = new Map<string, number>();
  /** Per open node: property names used so far and whether a child has started. */
  readonly #open: Array<{ names: Set<string>; childStarted: boolean }> = [];
  #rootDone = false;
  #finished = false;

  #assertUsable(): void {
    if (this.#finished) throw new Error('FdtBuilder: already finished');
  }

  /** Open a node. The first call opens the root and must pass ''. */
  beginNode(name: string): this {
    this.#assertUsable();
    const parent = this.#open[this.#open.length - 1];
    if (parent === undefined) {
      if (this.#rootDone) throw new Error('FdtBuilder: the root node is already closed');
      if (name !== '') throw new Error(`FdtBuilder: the root node must be named "", got "${name}"`);
    } else {
      if (name === '' || name.includes('/')) throw new Error(`FdtBuilder: bad node name "${name}"`);
      parent.childStarted = true;
    }
    if (this.#open.length >= FDT_MAX_DEPTH) throw new Error(`FdtBuilder: nesting deeper than ${FDT_MAX_DEPTH}`);
    const nb = nameBytes(name, 'node name');
    this.#struct.u32(FdtToken.FDT_BEGIN_NODE);
    this.#struct.bytes(nb);
    this.#struct.bytes([0]);
    this.#struct.pad4();
    this.#open.push({ names: new Set(), childStarted: false });
    return this;
  }

  /** Close the innermost open node. */
  endNode(): this {
    this.#assertUsable();
    if (this.#open.pop() === undefined) throw new Error('FdtBuilder: endNode without an open node');
    this.#struct.u32(FdtToken.FDT_END_NODE);
    if (this.#open.length === 0) this.#rootDone = true;
    return this;
  }

  #stringOffset(name: string): number {
    const known = this.#stringOffsets.get(name);
    if (known !== undefined) return known;
    // Reuse any existing "…name\0" tail, else append.
    let off = this.#strings.indexOf(`${name}\0`);
    if (off < 0) {
      off = this.#strings.length;
      this.#strings += `${name}\0`;
    }
    this.#stringOffsets.set(name, off);
    return off;
  }

  /** A property with raw bytes as its value. */
  propBytes(name: string, value: ArrayLike<number>): this {
    this.#assertUsable();
    const node = this.#open[this.#open.length - 1];
    if (node === undefined) throw new Error(`FdtBuilder: property "${name}" outside any node`);
    if (node.childStarted) throw new Error(`FdtBuilder: property "${name}" after a sub-node`);
    if (name === '') throw new Error('FdtBuilder: empty property name');
    if (node.names.has(name)) throw new Error(`FdtBuilder: duplicate property "${name}"`);
    nameBytes(name, 'property name');
    for (let i = 0; i < value.length; i++) {
      const b = value[i]!;
      if (!Number.isInteger(b) || b < 0 || b > 0xff) throw new RangeError(`FdtBuilder: "${name}" byte ${i} is ${b}`);
    }
    node.names.add(name);
    this.#struct.u32(FdtToken.FDT_PROP);
    this.#struct.u32(value.length);
    this.#struct.u32(this.#stringOffset(name));
    this.#struct.bytes(value);
    this.#struct.pad4();
    return this;
  }

  /** An empty (boolean) property such as `peer-default`. */
  propEmpty(name: string): this {
    return this.propBytes(name, []);
  }

  /** A <u32> property. */
  propU32(name: string, value: number): this {
    assertU32(value, name);
    return this.propBytes(name, cellsValue([value], name));
  }

  /** A <u64> property (two cells, high first). */
  propU64(name: string, value: bigint): this {
    return this.propU64s(name, [value]);
  }

  /** An array of <u64> values (e.g. `reg` with 2 address and 2 size cells). */
  propU64s(name: string, values: readonly bigint[]): this {
    const out = new Uint8Array(values.length * 8);
    const v = new DataView(out.buffer);
    values.forEach((x, i) => {
      assertU64(x, `${name}[${i}]`);
      v.setBigUint64(i * 8, x, false);
    });
    return this.propBytes(name, out);
  }

  /** A <prop-encoded-array> of u32 cells. */
  propCells(name: string, cells: readonly number[]): this {
    return this.propBytes(name, cellsValue(cells, name));
  }

  /** A <string> (UTF-8, NUL-terminated). */
  propString(name: string, value: string): this {
    return this.propStrings(name, [value]);
  }

  /** A <stringlist>: each string UTF-8 and NUL-terminated. */
  propStrings(name: string, values: readonly string[]): this {
    const enc = new TextEncoder();
    const parts = values.map((s) => {
      if (s.includes('\0')) throw new RangeError(`FdtBuilder: "${name}" string contains NUL`);
      return enc.encode(s);
    });
    const out = new Uint8Array(parts.reduce((n, p) => n + p.byteLength + 1, 0));
    let off = 0;
    for (const p of parts) {
      out.set(p, off);
      off += p.byteLength + 1; // the NUL is already 0
    }
    return this.propBytes(name, out);
  }

  /** A phandle (or phandle reference): a u32 other than 0 and 0xffffffff. */
  propPhandle(name: string, phandle: number): this {
    assertU32(phandle, name);
    if (phandle === 0 || phandle === 0xffff_ffff) throw new RangeError(`FdtBuilder: "${name}" phandle ${phandle} is reserved`);
    return this.propU32(name, phandle);
  }

  /**
   * Close the structure block and lay out the blob:
   * header (40) | reserve map | structure | strings | zeroed free space up to `minSize`.
   * @returns a new Uint8Array of exactly header.totalsize bytes.
   */
  finish(opts: FdtFinishOptions = {}): Uint8Array {
    this.#assertUsable();
    if (!this.#rootDone) throw new Error(this.#open.length ? 'FdtBuilder: nodes still open' : 'FdtBuilder: no root node');
    const bootCpuidPhys = opts.bootCpuidPhys ?? 0;
    assertU32(bootCpuidPhys, 'bootCpuidPhys');
    const minSize = opts.minSize ?? 0;
    if (!Number.isSafeInteger(minSize) || minSize < 0) throw new RangeError(`minSize must be a non-negative integer, got ${minSize}`);
    const reserve = opts.reserve ?? [];
    reserve.forEach((r, i) => {
      assertU64(r.address, `reserve[${i}].address`);
      assertU64(r.size, `reserve[${i}].size`);
    });
    this.#finished = true;
    this.#struct.u32(FdtToken.FDT_END);

    const structBytes = this.#struct.view();
    // INVARIANT: #strings holds only names checked by nameBytes (0x01..0xff) and NULs.
    const stringsBytes = new Uint8Array(this.#strings.length);
    for (let i = 0; i < this.#strings.length; i++) stringsBytes[i] = this.#strings.charCodeAt(i);
    const offRsv = FDT_HEADER_SIZE; // 40, already 8-aligned
    const offStruct = offRsv + (reserve.length + 1) * FDT_RESERVE_ENTRY_SIZE;
    const offStrings = offStruct + structBytes.byteLength;
    const used = offStrings + stringsBytes.byteLength;
    const totalsize = Math.max(used, minSize);
    if (totalsize > 0xffff_ffff) throw new RangeError(`DTB of ${totalsize} bytes exceeds the u32 totalsize`);

    const out = new Uint8Array(totalsize);
    const v = new DataView(out.buffer);
    v.setUint32(H.magic, FDT_MAGIC, false);
    v.setUint32(H.totalsize, totalsize, false);
    v.setUint32(H.off_dt_struct, offStruct, false);
    v.setUint32(H.off_dt_strings, offStrings, false);
    v.setUint32(H.off_mem_rsvmap, offRsv, false);
    v.setUint32(H.version, FDT_VERSION, false);
    v.setUint32(H.last_comp_version, FDT_LAST_COMP_VERSION, false);
    v.setUint32(H.boot_cpuid_phys, bootCpuidPhys, false);
    v.setUint32(H.size_dt_strings, stringsBytes.byteLength, false);
    v.setUint32(H.size_dt_struct, structBytes.byteLength, false);
    reserve.forEach((r, i) => {
      v.setBigUint64(offRsv + i * FDT_RESERVE_ENTRY_SIZE, r.address, false);
      v.setBigUint64(offRsv + i * FDT_RESERVE_ENTRY_SIZE + 8, r.size, false);
    }); // the terminator is the zeroed entry that follows
    out.set(structBytes, offStruct);
    out.set(stringsBytes, offStrings);
    return out;
  }
}

function emitNode(w: FdtBuilder, node: FdtNode): void {
  w.beginNode(node.name);
  for (const [name, value] of node.props) w.propBytes(name, value);
  for (const c of node.children) emitNode(w, c);
  w.endNode();
}

/**
 * Write a tree back to DTB bytes. `tree` may be a parsed FdtTree (its reserve map and
 * boot_cpuid_phys are kept unless `opts` overrides them) or just a root node.
 * parseFdt(serializeFdt(t)) gives back t's root, reserve map and boot CPU.
 * @throws Error / RangeError if the tree breaks a builder rule (see FdtBuilder).
 */
export function serializeFdt(tree: FdtTree | FdtNode, opts: FdtFinishOptions = {}): Uint8Array {
  const isTree = 'root' in tree;
  const w = new FdtBuilder();
  emitNode(w, isTree ? tree.root : tree);
  const reserve = opts.reserve ?? (isTree ? tree.reserve : undefined);
  const bootCpuidPhys = opts.bootCpuidPhys ?? (isTree ? tree.bootCpuidPhys : undefined);
  return w.finish({
    ...(opts.minSize !== undefined ? { minSize: opts.minSize } : {}),
    ...(reserve !== undefined ? { reserve } : {}),
    ...(bootCpuidPhys !== undefined ? { bootCpuidPhys } : {}),
  });
}
