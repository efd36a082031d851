// Golden tests of the ioctl argument structs (uapi.md §3): decode, encode and mirror of the
// hand-typed vectors in structs.vectors.ts, exact-size checks, encoder range checks.
import { describe, it, expect } from 'vitest';
import { test as ftest, fc } from '@fast-check/vitest';
import { toHex } from '../../../src/shared/bytes.js';
import { isWireError } from '../../../src/shared/wire-error.js';
import {
  SIZEOF,
  decodeCreateMemArgs,
  decodeFnDesc,
  decodeFnIoeventfdArg,
  decodeFnIrqfdArg,
  decodeFnVcpuArg,
  decodeMapMemArgs,
  decodeVmBootContext,
  decodeVmDtbConfig,
  decodeVmExitInfo,
  encodeCreateMemArgs,
  encodeFnDesc,
  encodeFnIoeventfdArg,
  encodeFnIrqfdArg,
  encodeFnVcpuArg,
  encodeMapMemArgs,
  encodeVmBootContext,
  encodeVmDtbConfig,
  encodeVmExitInfo,
  type UapiStructName,
} from '../../../src/vm-mgr/uapi/index.js';
import * as V from './structs.vectors.js';

interface Codec {
  struct: UapiStructName;
  vector: V.StructVector;
  decode(b: Uint8Array): unknown;
  encode(v: never): Uint8Array;
}

const CODECS: Codec[] = [
  { struct: 'gunyah_create_mem_args', vector: V.CREATE_MEM_ARGS, decode: decodeCreateMemArgs, encode: encodeCreateMemArgs },
  { struct: 'gunyah_vm_dtb_config', vector: V.VM_DTB_CONFIG, decode: decodeVmDtbConfig, encode: encodeVmDtbConfig },
  { struct: 'gunyah_fn_desc', vector: V.FN_DESC, decode: decodeFnDesc, encode: encodeFnDesc },
  { struct: 'gunyah_fn_vcpu_arg', vector: V.FN_VCPU_ARG, decode: decodeFnVcpuArg, encode: encodeFnVcpuArg },
  { struct: 'gunyah_fn_irqfd_arg', vector: V.FN_IRQFD_ARG, decode: decodeFnIrqfdArg, encode: encodeFnIrqfdArg },
  { struct: 'gunyah_fn_ioeventfd_arg', vector: V.FN_IOEVENTFD_ARG, decode: decodeFnIoeventfdArg, encode: encodeFnIoeventfdArg },
  { struct: 'gunyah_map_mem_args', vector: V.MAP_MEM_ARGS, decode: decodeMapMemArgs, encode: encodeMapMemArgs },
  { struct: 'gunyah_vm_boot_context', vector: V.VM_BOOT_CONTEXT, decode: decodeVmBootContext, encode: encodeVmBootContext },
  { struct: 'gunyah_vm_exit_info', vector: V.VM_EXIT_INFO, decode: decodeVmExitInfo, encode: encodeVmExitInfo },
];

const u8 = (b: readonly number[]): Uint8Array => Uint8Array.from(b);

describe('SIZEOF (uapi.md §3, §5)', () => {
  it('matches the sheet', () => {
    expect(SIZEOF).toEqual({
      gunyah_create_mem_args: 64,
      gunyah_vm_dtb_config: 16,
      gunyah_fn_desc: 16,
      gunyah_fn_vcpu_arg: 4,
      gunyah_fn_irqfd_arg: 16,
      gunyah_fn_ioeventfd_arg: 32,
      gunyah_map_mem_args: 32,
      gunyah_vm_boot_context: 16,
      gunyah_vm_exit_info: 16,
      gunyah_vcpu_run: 40,
    });
  });
});

describe.each(CODECS.map((c) => [c.vector.name, c] as const))('%s', (_name, c) => {
  it('vector length is sizeof', () => expect(c.vector.bytes).toHaveLength(SIZEOF[c.struct]));
  it('decode', () => expect(c.decode(u8(c.vector.bytes))).toEqual(c.vector.value));
  it('encode', () => expect(toHex(c.encode(c.vector.value as never))).toBe(toHex(c.vector.bytes)));
  it('mirror', () => expect(c.decode(c.encode(c.decode(u8(c.vector.bytes)) as never))).toEqual(c.vector.value));
  it('decode from a view into a larger buffer', () => {
    const big = new Uint8Array(c.vector.bytes.length + 7).fill(0xee);
    big.set(c.vector.bytes, 3);
    expect(c.decode(big.subarray(3, 3 + c.vector.bytes.length))).toEqual(c.vector.value);
  });
  it('one byte short or long is a WireError', () => {
    const n = SIZEOF[c.struct];
    for (const [len, reason] of [[n - 1, 'short'], [n + 1, 'long'], [0, 'short']] as const) {
      let err: unknown;
      try {
        c.decode(new Uint8Array(len));
      } catch (e) {
        err = e;
      }
      expect(isWireError(err) && err.reason).toBe(reason);
    }
  });
});

describe('encoder defaults and range checks', () => {
  it('padding and reserved default to zero', () => {
    expect(toHex(encodeFnIrqfdArg({ fd: 1, label: 2, flags: 0 }))).toBe(toHex([1, 0, 0, 0, 2, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0]));
    expect(encodeCreateMemArgs({ flags: 0n, size: 0n })).toEqual(new Uint8Array(64));
    expect(toHex(encodeVmBootContext({ reg: 0x100, value: 1n }))).toBe(toHex([0, 1, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0]));
  });

  it('decoders do not validate meaning (reserved bits and flags pass through)', () => {
    const b = new Uint8Array(16).fill(0xff);
    expect(decodeFnIrqfdArg(b)).toEqual({ fd: 0xffff_ffff, label: 0xffff_ffff, flags: 0xffff_ffff, padding: 0xffff_ffff });
    expect(decodeVmBootContext(b)).toEqual({ reg: 0xffff_ffff, reserved: 0xffff_ffff, value: 0xffff_ffff_ffff_ffffn });
  });

  it('out-of-range values are RangeErrors', () => {
    expect(() => encodeFnVcpuArg({ id: -1 })).toThrow(RangeError);
    expect(() => encodeFnVcpuArg({ id: 2 ** 32 })).toThrow(RangeError);
    expect(() => encodeVmDtbConfig({ guestPhysAddr: 1n << 64n, size: 0n })).toThrow(RangeError);
    expect(() => encodeFnIoeventfdArg({ datamatch: 0n, addr: 0n, len: 0, fd: 2 ** 31, flags: 0 })).toThrow(RangeError);
    expect(() => encodeCreateMemArgs({ flags: 0n, size: 0n, reserved: [0n, 0n, 0n, 0n, 0n, 0n, 0n] })).toThrow(RangeError);
    expect(() => encodeVmExitInfo({ type: 0x1_0000, padding: 0, reasonSize: 0, reason: new Uint8Array() })).toThrow(RangeError);
  });

  ftest.prop([
    fc.bigInt({ min: 0n, max: (1n << 64n) - 1n }),
    fc.bigInt({ min: 0n, max: (1n << 64n) - 1n }),
    fc.nat({ max: 0xffff_ffff }),
    fc.integer({ min: -0x8000_0000, max: 0x7fff_ffff }),
    fc.nat({ max: 0xffff_ffff }),
    fc.nat({ max: 0xffff_ffff }),
  ])('ioeventfd arg round-trips', (datamatch, addr, len, fd, flags, padding) => {
    const v = { datamatch, addr, len, fd, flags, padding };
    expect(decodeFnIoeventfdArg(encodeFnIoeventfdArg(v))).toEqual(v);
  });

  ftest.prop([fc.uint8Array({ minLength: 32, maxLength: 32 })])('map_mem args: decode then encode is the identity', (b) => {
    expect(toHex(encodeMapMemArgs(decodeMapMemArgs(b)))).toBe(toHex(b));
  });
});
