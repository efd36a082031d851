/**
 * Tests of the DTB reader and writer (src/fdt).
 *
 * Provenance of the golden bytes: typed by hand from the Devicetree Specification v0.4,
 * chapter 5 (header field order §5.2, reserve entry §5.3, tokens and padding §5.4, strings
 * §5.5). They were NOT produced by our writer; the writer is checked against them.
 */
import { describe, expect, test } from 'vitest';
import { fc, test as fcTest } from '@fast-check/vitest';
import { WireError } from '../../src/shared/wire-error.js';
import { fromHex, toHex } from '../../src/shared/bytes.js';
import {
  FdtBuilder,
  fdtNode,
  findNode,
  getCells,
  getNumber,
  getString,
  getStringList,
  getU32,
  getU64,
  hasProp,
  lookupPath,
  parseFdt,
  serializeFdt,
} from '../../src/fdt/index.js';
import type { FdtNode } from '../../src/fdt/index.js';

// / { model = "t"; n@1 { reg = <1>; e; }; };  reserve (0x1000, 0x2000); boot cpu 0
const TINY_DTB = fromHex(`
  d0 0d fe ed   00 00 00 9c   00 00 00 48   00 00 00 90
  00 00 00 28   00 00 00 11   00 00 00 10   00 00 00 00
  00 00 00 0c   00 00 00 48
  00 00 00 00 00 00 10 00   00 00 00 00 00 00 20 00
  00 00 00 00 00 00 00 00   00 00 00 00 00 00 00 00
  00 00 00 01   00 00 00 00
  00 00 00 03   00 00 00 02   00 00 00 00   74 00 00 00
  00 00 00 01   6e 40 31 00
  00 00 00 03   00 00 00 04   00 00 00 06   00 00 00 01
  00 00 00 03   00 00 00 00   00 00 00 0a
  00 00 00 02
  00 00 00 02
  00 00 00 09
  6d 6f 64 65 6c 00   72 65 67 00   65 00
`);
// header: magic, totalsize 0x9c, off_dt_struct 0x48, off_dt_strings 0x90, off_mem_rsvmap 0x28,
//   version 17, last_comp 16, boot_cpuid 0, size_dt_strings 12, size_dt_struct 0x48
// reserve map at 0x28: (0x1000, 0x2000), (0, 0)
// struct at 0x48: BEGIN_NODE "" | PROP len 2 "model" "t\0" | BEGIN_NODE "n@1" | PROP len 4 "reg" <1>
//   | PROP len 0 "e" | END_NODE | END_NODE | END
// strings at 0x90: "model\0reg\0e\0"

function expectBadFdt(bytes: Uint8Array, what?: RegExp): WireError {
  let caught: unknown;
  try {
    parseFdt(bytes);
  } catch (e) {
    caught = e;
  }
  expect(caught).toBeInstanceOf(WireError);
  const err = caught as WireError;
  expect(err.reason).toBe('bad-fdt');
  if (what) expect(err.detail.what).toMatch(what);
  return err;
}

/** Only WireError may escape; anything else fails the property. */
function parseOrWireError(bytes: Uint8Array): void {
  try {
    parseFdt(bytes);
  } catch (e) {
    if (!(e instanceof WireError) || e.reason !== 'bad-fdt') throw e;
  }
}

describe('reader: hand-typed golden DTB', () => {
  test('decodes header, reserve map and tree', () => {
    const t = parseFdt(TINY_DTB);
    expect(t.header).toEqual({
      magic: 0xd00dfeed,
      totalsize: 0x9c,
      offDtStruct: 0x48,
      offDtStrings: 0x90,
      offMemRsvmap: 0x28,
      version: 17,
      lastCompVersion: 16,
      bootCpuidPhys: 0,
      sizeDtStrings: 12,
      sizeDtStruct: 0x48,
    });
    expect(t.totalsize).toBe(0x9c);
    expect(t.reserve).toEqual([{ address: 0x1000n, size: 0x2000n }]);
    expect(t.root.name).toBe('');
    expect([...t.root.props.keys()]).toEqual(['model']);
    expect(getString(t.root, 'model')).toBe('t');
    expect(t.root.children.map((c) => c.name)).toEqual(['n@1']);
    const n = findNode(t.root, '/n@1')!;
    expect(getU32(n, 'reg')).toBe(1);
    expect(hasProp(n, 'e')).toBe(true);
    expect(n.props.get('e')!.byteLength).toBe(0);
    expect(n.children).toEqual([]);
  });

  test('the writer emits the same bytes for the same tree', () => {
    const w = new FdtBuilder();
    w.beginNode('').propString('model', 't');
    w.beginNode('n@1').propU32('reg', 1).propEmpty('e').endNode();
    w.endNode();
    const out = w.finish({ reserve: [{ address: 0x1000n, size: 0x2000n }] });
    expect(toHex(out)).toBe(toHex(TINY_DTB));
  });

  test('serializeFdt of the parsed tree gives the golden bytes back', () => {
    expect(toHex(serializeFdt(parseFdt(TINY_DTB)))).toBe(toHex(TINY_DTB));
  });

  test('bytes after totalsize are ignored', () => {
    const padded = new Uint8Array(TINY_DTB.byteLength + 100).fill(0xee);
    padded.set(TINY_DTB);
    expect(parseFdt(padded).root).toEqual(parseFdt(TINY_DTB).root);
  });

  test('a version-16 header (no size_dt_struct) is accepted', () => {
    const v16 = TINY_DTB.slice();
    v16.set([0, 0, 0, 0x10], 20); // version 16
    v16.set([0, 0, 0, 0], 36); // size_dt_struct means nothing in v16
    const t = parseFdt(v16);
    expect(t.header.version).toBe(16);
    expect(t.header.sizeDtStruct).toBeUndefined();
    expect(t.root).toEqual(parseFdt(TINY_DTB).root);
  });

  test('NOP tokens are skipped', () => {
    const w = new FdtBuilder();
    w.beginNode('').endNode();
    const base = w.finish();
    // base struct: BEGIN "" (8) END_NODE (4) END (4); insert a NOP after BEGIN.
    const t = parseFdt(base);
    const struct = base.subarray(t.header.offDtStruct, t.header.offDtStruct + t.header.sizeDtStruct!);
    const withNop = rawDtb([...struct.subarray(0, 8), 0, 0, 0, 4, ...struct.subarray(8)], []);
    expect(parseFdt(withNop).root).toEqual(fdtNode(''));
  });
});

/**
 * A raw DTB from a hand-written structure block and string table (for malformed cases).
 * Layout: header 40 | empty reserve map 16 | struct | strings.
 */
function rawDtb(struct: number[], strings: number[], patch: (v: DataView) => void = () => {}): Uint8Array {
  const offStruct = 56;
  const offStrings = offStruct + struct.length;
  const total = offStrings + strings.length;
  const out = new Uint8Array(total);
  const v = new DataView(out.buffer);
  [0xd00dfeed, total, offStruct, offStrings, 40, 17, 16, 0, strings.length, struct.length].forEach((x, i) => v.setUint32(i * 4, x));
  out.set(struct, offStruct);
  out.set(strings, offStrings);
  patch(v);
  return out;
}
const be = (x: number): number[] => [(x >>> 24) & 0xff, (x >>> 16) & 0xff, (x >>> 8) & 0xff, x & 0xff];
const BEGIN_ROOT = [...be(1), 0, 0, 0, 0];
const END_NODE = be(2);
const END = be(9);
const beginNode = (name: string): number[] => {
  const b = [...be(1), ...[...name].map((c) => c.charCodeAt(0)), 0];
  while (b.length % 4) b.push(0);
  return b;
};
const prop = (len: number, nameoff: number, value: number[] = []): number[] => {
  const b = [...be(3), ...be(len), ...be(nameoff), ...value];
  while (b.length % 4) b.push(0);
  return b;
};
const STR_A = [0x61, 0]; // "a\0"

describe('reader: rejections', () => {
  const minimal = (): Uint8Array => rawDtb([...BEGIN_ROOT, ...END_NODE, ...END], []);

  test('the minimal raw tree parses', () => {
    expect(parseFdt(minimal()).root).toEqual(fdtNode(''));
  });

  const cases: Array<[string, () => Uint8Array, RegExp]> = [
    ['empty buffer', () => new Uint8Array(0), /shorter than a DTB header/],
    ['35 bytes', () => TINY_DTB.slice(0, 35), /shorter/],
    ['bad magic', () => rawDtb([...BEGIN_ROOT, ...END_NODE, ...END], [], (v) => v.setUint32(0, 0xd00dfeee)), /magic/],
    ['version 15', () => rawDtb([...BEGIN_ROOT, ...END_NODE, ...END], [], (v) => v.setUint32(20, 15)), /version 15/],
    ['last_comp_version 18', () => rawDtb([...BEGIN_ROOT, ...END_NODE, ...END], [], (v) => v.setUint32(24, 18)), /last_comp_version/],
    ['totalsize past the buffer', () => rawDtb([...BEGIN_ROOT, ...END_NODE, ...END], [], (v) => v.setUint32(4, 1000)), /exceeds/],
    ['totalsize below the header', () => rawDtb([...BEGIN_ROOT, ...END_NODE, ...END], [], (v) => v.setUint32(4, 20)), /smaller than the header/],
    ['reserve map misaligned', () => rawDtb([...BEGIN_ROOT, ...END_NODE, ...END], [], (v) => v.setUint32(16, 44)), /8-byte aligned/],
    ['reserve map inside the header', () => rawDtb([...BEGIN_ROOT, ...END_NODE, ...END], [], (v) => v.setUint32(16, 8)), /off_mem_rsvmap/],
    ['structure misaligned', () => rawDtb([...BEGIN_ROOT, ...END_NODE, ...END], [], (v) => v.setUint32(8, 58)), /4-byte aligned/],
    ['structure past totalsize', () => rawDtb([...BEGIN_ROOT, ...END_NODE, ...END], [], (v) => v.setUint32(36, 64)), /past totalsize/],
    ['strings past totalsize', () => rawDtb([...BEGIN_ROOT, ...END_NODE, ...END], [], (v) => v.setUint32(32, 4)), /strings block/],
    [
      'reserve map without terminator',
      () => {
        const b = rawDtb([...BEGIN_ROOT, ...END_NODE, ...END], []);
        // point the reserve map at the structure block, whose words are never a (0,0) pair until the end
        new DataView(b.buffer).setUint32(16, 56);
        return b.slice(0, 72); // and cut totalsize short
      },
      /./,
    ],
    ['unknown token', () => rawDtb([...BEGIN_ROOT, ...be(5), ...END_NODE, ...END], []), /unknown token 0x00000005/],
    ['no FDT_END', () => rawDtb([...BEGIN_ROOT, ...END_NODE], []), /without FDT_END/],
    ['FDT_END with an open node', () => rawDtb([...BEGIN_ROOT, ...END], []), /open node/],
    ['END_NODE without a node', () => rawDtb([...END_NODE, ...END], []), /without an open node/],
    ['no root', () => rawDtb([...END], []), /no root/],
    ['two roots', () => rawDtb([...BEGIN_ROOT, ...END_NODE, ...BEGIN_ROOT, ...END_NODE, ...END], []), /second root/],
    ['root with a name', () => rawDtb([...beginNode('x'), ...END_NODE, ...END], []), /root node named "x"/],
    ['empty child name', () => rawDtb([...BEGIN_ROOT, ...beginNode(''), ...END_NODE, ...END_NODE, ...END], []), /empty node name/],
    ['child name with a slash', () => rawDtb([...BEGIN_ROOT, ...beginNode('a/b'), ...END_NODE, ...END_NODE, ...END], []), /contains '\/'/],
    ['node name not terminated', () => rawDtb([...be(1), 0x61, 0x61, 0x61, 0x61], []), /NUL-terminated/],
    ['property outside a node', () => rawDtb([...prop(0, 0), ...BEGIN_ROOT, ...END_NODE, ...END], STR_A), /outside any node/],
    ['property after a sub-node', () => rawDtb([...BEGIN_ROOT, ...beginNode('c'), ...END_NODE, ...prop(0, 0), ...END_NODE, ...END], STR_A), /after a sub-node/],
    ['duplicate property', () => rawDtb([...BEGIN_ROOT, ...prop(0, 0), ...prop(0, 0), ...END_NODE, ...END], STR_A), /duplicate property "a"/],
    ['nameoff outside strings', () => rawDtb([...BEGIN_ROOT, ...prop(0, 2), ...END_NODE, ...END], STR_A), /nameoff 2 outside/],
    ['property name not terminated', () => rawDtb([...BEGIN_ROOT, ...prop(0, 0), ...END_NODE, ...END], [0x61]), /not NUL-terminated/],
    ['empty property name', () => rawDtb([...BEGIN_ROOT, ...prop(0, 1), ...END_NODE, ...END], STR_A), /empty property name/],
    ['value past the block', () => rawDtb([...BEGIN_ROOT, ...prop(100, 0), ...END_NODE, ...END], STR_A), /runs past/],
    ['truncated FDT_PROP', () => rawDtb([...BEGIN_ROOT, ...be(3), ...be(0)], STR_A), /truncated FDT_PROP/],
    ['bytes after FDT_END', () => rawDtb([...BEGIN_ROOT, ...END_NODE, ...END, ...be(4)], []), /after FDT_END/],
    [
      'nesting deeper than 64',
      () => rawDtb([...BEGIN_ROOT, ...Array.from({ length: 64 }, () => beginNode('n')).flat(), ...Array(65).fill(END_NODE).flat(), ...END], []),
      /deeper than 64/,
    ],
  ];
  test.each(cases)('%s', (_name, make, what) => {
    expectBadFdt(make(), what);
  });

  test('nesting of exactly 64 levels parses', () => {
    const b = rawDtb([...BEGIN_ROOT, ...Array.from({ length: 63 }, () => beginNode('n')).flat(), ...Array(64).fill(END_NODE).flat(), ...END], []);
    expect(findNode(parseFdt(b).root, '/n'.repeat(63))).toBeDefined();
  });

  test('errors carry the byte offset of the fault', () => {
    const err = expectBadFdt(rawDtb([...BEGIN_ROOT, ...be(5), ...END_NODE, ...END], []));
    expect(err.detail.offset).toBe(56 + 8);
  });
});

describe('reader: truncation and corruption only ever throw WireError', () => {
  const valid = (() => {
    const w = new FdtBuilder();
    w.beginNode('').propU32('#address-cells', 2).propU32('#size-cells', 2);
    w.beginNode('cpus').propU32('#address-cells', 1);
    w.beginNode('cpu@0').propString('device_type', 'cpu').propU32('reg', 0).endNode();
    w.endNode();
    w.beginNode('chosen').propStrings('list', ['a', 'bc']).propU64('x', 0x1234_5678_9abc_def0n).endNode();
    w.endNode();
    return w.finish({ reserve: [{ address: 0x8000_0000n, size: 0x1000n }] });
  })();

  test('every prefix is rejected', () => {
    for (let n = 0; n < valid.byteLength; n++) expectBadFdt(valid.slice(0, n));
  });

  test('every prefix with totalsize patched to its length only throws WireError', () => {
    for (let n = 40; n < valid.byteLength; n++) {
      const b = valid.slice(0, n);
      new DataView(b.buffer).setUint32(4, n);
      parseOrWireError(b);
    }
  });

  test('every single-byte flip only throws WireError', () => {
    for (let i = 0; i < valid.byteLength; i++) {
      for (const x of [0x00, 0x01, 0x04, 0x09, 0x80, 0xff]) {
        const b = valid.slice();
        b[i] = x;
        parseOrWireError(b);
      }
    }
  });

  fcTest.prop([fc.uint8Array({ maxLength: 512 })])('random bytes', (b) => {
    parseOrWireError(b);
  });

  fcTest.prop([fc.uint8Array({ maxLength: 400 })])('random bytes behind a valid-looking header', (tail) => {
    const b = new Uint8Array(40 + tail.byteLength);
    const v = new DataView(b.buffer);
    [0xd00dfeed, b.byteLength, 56, 40 + Math.floor(tail.byteLength / 2), 40, 17, 16, 0, 0, 0].forEach((x, i) => v.setUint32(i * 4, x));
    v.setUint32(32, b.byteLength - v.getUint32(12)); // strings to the end
    v.setUint32(36, Math.max(0, v.getUint32(12) - 56) & ~3);
    b.set(tail, 40);
    parseOrWireError(b);
  });

  fcTest.prop([fc.nat(), fc.integer({ min: 0, max: 255 }), fc.nat(), fc.nat({ max: 0xffff_ffff })])(
    'random single-byte corruption and u32 overwrite of a valid DTB',
    (pos, byte, wordPos, word) => {
      const a = valid.slice();
      a[pos % a.byteLength] = byte;
      parseOrWireError(a);
      const b = valid.slice();
      new DataView(b.buffer).setUint32((wordPos % Math.floor(b.byteLength / 4)) * 4, word);
      parseOrWireError(b);
    },
  );
});

// ----- random trees for the round trip -----
const nameArb = fc.stringMatching(/^[a-z][a-z0-9,._+-]{0,10}(@[0-9a-f]{1,4})?$/);
const propNameArb = fc.stringMatching(/^[#a-z][a-z0-9,._+?#-]{0,12}$/);
/** Random nodes nested at most `depth` levels below this one. */
function nodeArb(depth: number): fc.Arbitrary<FdtNode> {
  return fc
    .record({
      name: nameArb,
      props: fc.uniqueArray(fc.tuple(propNameArb, fc.uint8Array({ maxLength: 24 })), { maxLength: 5, selector: (p) => p[0] }),
      children: depth === 0 ? fc.constant<FdtNode[]>([]) : fc.array(nodeArb(depth - 1), { maxLength: 3 }),
    })
    .map(({ name, props, children }) => ({ name, props: new Map(props), children }));
}
const rootArb = nodeArb(3).map((n) => ({ ...n, name: '' }));

describe('writer → reader round trip', () => {
  fcTest.prop([
    rootArb,
    fc.array(fc.record({ address: fc.bigInt({ min: 0n, max: 2n ** 64n - 1n }), size: fc.bigInt({ min: 0n, max: 2n ** 64n - 1n }) }), { maxLength: 3 }),
    fc.nat({ max: 0xffff_ffff }),
    fc.nat({ max: 8192 }),
  ])('parse(serialize(tree)) == tree', (root, reserve, bootCpuidPhys, minSize) => {
    // (0, 0) would terminate the map early; the writer is not asked to encode it.
    const rsv = reserve.filter((r) => r.address !== 0n || r.size !== 0n);
    const bytes = serializeFdt(root, { reserve: rsv, bootCpuidPhys, minSize });
    const t = parseFdt(bytes);
    expect(t.root).toEqual(root);
    expect(t.reserve).toEqual(rsv);
    expect(t.bootCpuidPhys).toBe(bootCpuidPhys);
    expect(t.totalsize).toBe(Math.max(bytes.byteLength, minSize));
    expect(bytes.byteLength).toBeGreaterThanOrEqual(minSize);
    // and serializing the parsed tree is byte-identical (free space kept via minSize)
    expect(toHex(serializeFdt(t, { minSize: t.totalsize }))).toBe(toHex(bytes));
  });
});

describe('writer', () => {
  function holdingCellLike(): Uint8Array {
    const w = new FdtBuilder();
    w.beginNode('').propU32('#address-cells', 2).propU32('#size-cells', 2).propPhandle('interrupt-parent', 1);
    w.beginNode('memory').propString('device_type', 'memory').propU64s('reg', [0x8000_0000n, 0x10_0000n]).endNode();
    w.beginNode('intc').propCells('reg', [0, 0x3fff0000, 0, 0x10000]).propEmpty('interrupt-controller').propU32('phandle', 1).endNode();
    w.beginNode('chosen').propStrings('compatible', ['arm,psci-1.0', 'arm,psci-0.2']).endNode();
    w.endNode();
    return w.finish({ minSize: 4096, bootCpuidPhys: 0 });
  }

  test('typed properties encode big-endian', () => {
    const t = parseFdt(holdingCellLike());
    expect(toHex(t.root.props.get('#address-cells')!)).toBe('00 00 00 02');
    expect(toHex(findNode(t.root, '/memory')!.props.get('reg')!)).toBe('00 00 00 00 80 00 00 00 00 00 00 00 00 10 00 00');
    expect(getCells(findNode(t.root, '/intc')!, 'reg')).toEqual([0, 0x3fff0000, 0, 0x10000]);
    expect(toHex(findNode(t.root, '/chosen')!.props.get('compatible')!)).toBe(
      toHex(new TextEncoder().encode('arm,psci-1.0\0arm,psci-0.2\0')),
    );
  });

  test('minSize pads totalsize with zeroed free space', () => {
    const b = holdingCellLike();
    expect(b.byteLength).toBe(4096);
    const t = parseFdt(b);
    expect(t.totalsize).toBe(4096);
    const used = t.header.offDtStrings + t.header.sizeDtStrings;
    expect(used).toBeLessThan(4096);
    expect(b.subarray(used).every((x) => x === 0)).toBe(true);
  });

  test('layout: header, reserve map at 40, structure, strings', () => {
    const t = parseFdt(holdingCellLike());
    expect(t.header.offMemRsvmap).toBe(40);
    expect(t.header.offDtStruct).toBe(56);
    expect(t.header.offDtStrings).toBe(56 + t.header.sizeDtStruct!);
    expect(t.header.version).toBe(17);
    expect(t.header.lastCompVersion).toBe(16);
  });

  test('property names are deduplicated, and a tail of an earlier name is reused', () => {
    const w = new FdtBuilder();
    w.beginNode('').propU32('#address-cells', 2).propU32('#size-cells', 2);
    w.beginNode('a').propU32('#address-cells', 1).propU32('cells', 1).endNode();
    w.endNode();
    const b = w.finish();
    const t = parseFdt(b);
    const strings = new TextDecoder().decode(b.subarray(t.header.offDtStrings, t.header.offDtStrings + t.header.sizeDtStrings));
    expect(strings).toBe('#address-cells\0#size-cells\0');
    expect(getU32(findNode(t.root, '/a')!, 'cells')).toBe(1);
  });

  test('misuse is refused', () => {
    expect(() => new FdtBuilder().propU32('x', 1)).toThrow(/outside any node/);
    expect(() => new FdtBuilder().beginNode('root')).toThrow(/must be named ""/);
    expect(() => new FdtBuilder().beginNode('').beginNode('a/b')).toThrow(/bad node name/);
    expect(() => new FdtBuilder().beginNode('').beginNode('')).toThrow(/bad node name/);
    expect(() => new FdtBuilder().beginNode('').propEmpty('x').propEmpty('x')).toThrow(/duplicate/);
    expect(() => new FdtBuilder().beginNode('').beginNode('a').endNode().propEmpty('x')).toThrow(/after a sub-node/);
    expect(() => new FdtBuilder().beginNode('').finish()).toThrow(/still open/);
    expect(() => new FdtBuilder().finish()).toThrow(/no root/);
    expect(() => new FdtBuilder().endNode()).toThrow(/without an open node/);
    expect(() => new FdtBuilder().beginNode('').endNode().beginNode('')).toThrow(/already closed/);
    const w = new FdtBuilder().beginNode('').endNode();
    w.finish();
    expect(() => w.finish()).toThrow(/already finished/);
    expect(() => new FdtBuilder().beginNode('').propPhandle('p', 0)).toThrow(RangeError);
    expect(() => new FdtBuilder().beginNode('').propPhandle('p', 0xffffffff)).toThrow(RangeError);
    expect(() => new FdtBuilder().beginNode('').propU32('p', 2 ** 32)).toThrow(RangeError);
    expect(() => new FdtBuilder().beginNode('').propU64('p', -1n)).toThrow(RangeError);
    expect(() => new FdtBuilder().beginNode('').propString('p', 'a\0b')).toThrow(RangeError);
    expect(() => new FdtBuilder().beginNode('').propEmpty('\u0100')).toThrow(RangeError);
    expect(() => new FdtBuilder().beginNode('').endNode().finish({ minSize: -1 })).toThrow(RangeError);
  });
});

describe('queries', () => {
  const t = (() => {
    const w = new FdtBuilder();
    w.beginNode('');
    w.beginNode('aliases').propString('serial0', '/soc/uart@1000').propString('bad', 'soc').endNode();
    w.beginNode('cpus');
    w.beginNode('cpu@0').propU32('reg', 0).endNode();
    w.beginNode('cpu@1').propU32('reg', 1).endNode();
    w.endNode();
    w.beginNode('soc');
    w.beginNode('uart@1000').propU64('reg64', 0x1_0000_1000n).propCells('pair', [1, 2]).propBytes('odd', [1, 2, 3]);
    w.propStrings('sl', ['x', '', 'yz']).propBytes('unterminated', [0x61, 0x62]).endNode();
    w.endNode();
    w.endNode();
    return parseFdt(w.finish());
  })();

  test('findNode: exact names, unit-address-less names, root, misses', () => {
    expect(findNode(t.root, '/')).toBe(t.root);
    expect(findNode(t.root, '')).toBe(t.root);
    expect(findNode(t.root, '/cpus/cpu@1')!.name).toBe('cpu@1');
    expect(findNode(t.root, '/cpus/cpu')!.name).toBe('cpu@0'); // first match without unit address
    expect(findNode(t.root, '/cpus//cpu@1/')!.name).toBe('cpu@1');
    expect(findNode(t.root, '/cpus/cpu@2')).toBeUndefined();
    expect(findNode(t.root, '/cpu')).toBeUndefined();
    expect(findNode(t.root, '/cpus/cp')).toBeUndefined();
  });

  test('findNode / lookupPath resolve /aliases', () => {
    expect(lookupPath(t.root, 'serial0')).toEqual({ node: findNode(t.root, '/soc/uart@1000'), path: '/soc/uart@1000' });
    expect(lookupPath(t.root, '/soc/uart')!.path).toBe('/soc/uart@1000');
    expect(findNode(t.root, 'nosuch')).toBeUndefined();
    expect(findNode(t.root, 'bad')).toBeUndefined(); // alias value must be an absolute path
  });

  test('typed getters', () => {
    const uart = findNode(t.root, '/soc/uart@1000')!;
    expect(getU64(uart, 'reg64')).toBe(0x1_0000_1000n);
    expect(getNumber(uart, 'reg64', 2)).toBe(0x1_0000_1000n);
    expect(getNumber(uart, 'pair', 2)).toBe(0x1_0000_0002n);
    expect(getCells(uart, 'pair')).toEqual([1, 2]);
    expect(getStringList(uart, 'sl')).toEqual(['x', '', 'yz']);
    expect(getString(uart, 'sl')).toBe('x');
    expect(getU32(uart, 'missing')).toBeUndefined();
    expect(getString(uart, 'missing')).toBeUndefined();
    expect(hasProp(uart, 'missing')).toBe(false);
  });

  test('typed getters refuse a wrong shape with WireError', () => {
    const uart = findNode(t.root, '/soc/uart@1000')!;
    expect(() => getU32(uart, 'reg64')).toThrow(WireError);
    expect(() => getU64(uart, 'odd')).toThrow(/expected an 8-byte u64/);
    expect(() => getCells(uart, 'odd')).toThrow(/whole number of cells/);
    expect(() => getNumber(uart, 'odd', 1)).toThrow(WireError);
    expect(() => getString(uart, 'unterminated')).toThrow(/NUL-terminated/);
    expect(() => getStringList(uart, 'unterminated')).toThrow(/NUL-terminated/);
  });
});
