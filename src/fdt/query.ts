/**
 * Lookups and typed property reads over an FdtNode tree.
 *
 * Reference: Devicetree Specification v0.4, §2.2.1 (node names, unit addresses),
 * §2.2.3 (path names), §2.2.4 (property value types: <u32>, <u64>, <prop-encoded-array>,
 * <string>, <stringlist>), §3.3 (/aliases). Values are BIG-endian.
 *
 * The typed getters are strict: an absent property gives `undefined`; a present one of the
 * wrong shape throws `WireError('bad-fdt')` naming the property. Code that must mimic a
 * lenient consumer (the RM treats a wrong-sized u32 as absent) reads `node.props` itself.
 */
import { WireError } from '../shared/wire-error.js';
import type { FdtNode } from './format.js';

/** UTF-8 text of a byte string (invalid sequences become U+FFFD; a BOM is kept). */
export function decodeUtf8(b: Uint8Array): string {
  return new TextDecoder('utf-8', { ignoreBOM: true }).decode(b);
}

function badProp(node: FdtNode, prop: string, what: string): never {
  throw new WireError('bad-fdt', { what: `${node.name || '/'}: property "${prop}" ${what}` });
}

/**
 * libfdt's node-name match: exact, or `component` has no unit address and equals the part of
 * `name` before '@' ("cpus" finds "cpus", "memory" finds "memory@80000000").
 */
export function nodeNameMatches(name: string, component: string): boolean {
  if (name === component) return true;
  return !component.includes('@') && name.length > component.length && name.startsWith(component) && name[component.length] === '@';
}

/** First child of `node` matching `component` (see nodeNameMatches). */
export function findChild(node: FdtNode, component: string): FdtNode | undefined {
  return node.children.find((c) => nodeNameMatches(c.name, component));
}

/**
 * Resolve a path such as '/cpus/cpu@1' to the node and its real path. A path that does not
 * start with '/' begins with an /aliases entry, as in libfdt's fdt_path_offset. Empty
 * components are skipped, so '/' and '' name the root. Returns undefined when nothing matches.
 */
export function lookupPath(root: FdtNode, path: string): { node: FdtNode; path: string } | undefined {
  let p = path;
  if (p !== '' && !p.startsWith('/')) {
    const slash = p.indexOf('/');
    const alias = slash < 0 ? p : p.slice(0, slash);
    const aliases = findChild(root, 'aliases');
    const target = aliases === undefined ? undefined : firstString(aliases.props.get(alias));
    if (target === undefined || !target.startsWith('/')) return undefined;
    p = target + (slash < 0 ? '' : p.slice(slash));
  }
  let node = root;
  let real = '';
  for (const component of p.split('/')) {
    if (component === '') continue;
    const next = findChild(node, component);
    if (next === undefined) return undefined;
    node = next;
    real += `/${next.name}`;
  }
  return { node, path: real === '' ? '/' : real };
}

/** The node at `path` (see lookupPath), or undefined. */
export function findNode(root: FdtNode, path: string): FdtNode | undefined {
  return lookupPath(root, path)?.node;
}

/** Visit every node in document (pre-)order with its path; `visit` returning false prunes. */
export function walkFdt(root: FdtNode, visit: (node: FdtNode, path: string, depth: number) => boolean | void): void {
  const rec = (node: FdtNode, path: string, depth: number): void => {
    if (visit(node, path, depth) === false) return;
    for (const c of node.children) rec(c, path === '/' ? `/${c.name}` : `${path}/${c.name}`, depth + 1);
  };
  rec(root, '/', 0);
}

/** True if the property exists (whatever its value, including empty). */
export function hasProp(node: FdtNode, prop: string): boolean {
  return node.props.has(prop);
}

/** A <u32> property. @throws WireError 'bad-fdt' if present but not 4 bytes. */
export function getU32(node: FdtNode, prop: string): number | undefined {
  const b = node.props.get(prop);
  if (b === undefined) return undefined;
  if (b.byteLength !== 4) badProp(node, prop, `is ${b.byteLength} bytes, expected a 4-byte u32`);
  return new DataView(b.buffer, b.byteOffset, 4).getUint32(0, false);
}

/** A <u64> property (two cells, high first). @throws WireError 'bad-fdt' if not 8 bytes. */
export function getU64(node: FdtNode, prop: string): bigint | undefined {
  const b = node.props.get(prop);
  if (b === undefined) return undefined;
  if (b.byteLength !== 8) badProp(node, prop, `is ${b.byteLength} bytes, expected an 8-byte u64`);
  return new DataView(b.buffer, b.byteOffset, 8).getBigUint64(0, false);
}

/** A <prop-encoded-array> of u32 cells. @throws WireError 'bad-fdt' if the length is not a multiple of 4. */
export function getCells(node: FdtNode, prop: string): number[] | undefined {
  const b = node.props.get(prop);
  if (b === undefined) return undefined;
  if (b.byteLength % 4 !== 0) badProp(node, prop, `is ${b.byteLength} bytes, not a whole number of cells`);
  const v = new DataView(b.buffer, b.byteOffset, b.byteLength);
  const out: number[] = [];
  for (let i = 0; i < b.byteLength; i += 4) out.push(v.getUint32(i, false));
  return out;
}

/**
 * A number of exactly `cells` cells (1 or 2; e.g. an address read with the parent's
 * #address-cells). @throws WireError 'bad-fdt' if the length is not 4 × cells.
 */
export function getNumber(node: FdtNode, prop: string, cells: 1 | 2): bigint | undefined {
  const b = node.props.get(prop);
  if (b === undefined) return undefined;
  if (b.byteLength !== cells * 4) badProp(node, prop, `is ${b.byteLength} bytes, expected ${cells} cell(s)`);
  return readCellsBE(b, 0, cells);
}

/** Big-endian number of `cells` u32 cells starting at byte `off` of `b`. */
export function readCellsBE(b: Uint8Array, off: number, cells: number): bigint {
  const v = new DataView(b.buffer, b.byteOffset, b.byteLength);
  let n = 0n;
  for (let i = 0; i < cells; i++) n = (n << 32n) | BigInt(v.getUint32(off + i * 4, false));
  return n;
}

/** First NUL-terminated string of a value (libfdt stringlist index 0), or undefined. */
function firstString(b: Uint8Array | undefined): string | undefined {
  if (b === undefined) return undefined;
  const nul = b.indexOf(0);
  return nul < 0 ? undefined : decodeUtf8(b.subarray(0, nul));
}

/**
 * A <string> property: its first NUL-terminated string (UTF-8). A <stringlist> gives its first
 * entry, as libfdt's fdt_stringlist_get(…, 0) does.
 * @throws WireError 'bad-fdt' if present without a NUL terminator.
 */
export function getString(node: FdtNode, prop: string): string | undefined {
  const b = node.props.get(prop);
  if (b === undefined) return undefined;
  const s = firstString(b);
  if (s === undefined) badProp(node, prop, 'is not a NUL-terminated string');
  return s;
}

/**
 * A <stringlist> property. An empty value is an empty list.
 * @throws WireError 'bad-fdt' if the value does not end with NUL.
 */
export function getStringList(node: FdtNode, prop: string): string[] | undefined {
  const b = node.props.get(prop);
  if (b === undefined) return undefined;
  if (b.byteLength === 0) return [];
  if (b[b.byteLength - 1] !== 0) badProp(node, prop, 'is not a NUL-terminated string list');
  const out: string[] = [];
  let s = 0;
  for (let i = 0; i < b.byteLength; i++) {
    if (b[i] === 0) {
      out.push(decodeUtf8(b.subarray(s, i)));
      s = i + 1;
    }
  }
  return out;
}
