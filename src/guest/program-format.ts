/**
 * The guest-program image format: a 32-byte header and fixed-size 48-byte little-endian
 * instructions. Pure codec: `encodeGuestProgram` / `decodeGuestProgram` between bytes and a
 * flat list of tagged instructions, with every field checked on decode (rule 4: reserved bytes
 * zero, unused operands zero, jump targets in range). The builder is program-builder.ts and
 * the engine that runs a program is program-engine.ts.
 *
 * Header (32 bytes):
 *   0   8  magic "GEMUPROG"
 *   8   4  version = 1
 *   12  4  image length = 32 + 48 × count
 *   16  4  instruction count
 *   20  4  instruction size = 48
 *   24  8  reserved, 0
 * Instruction (48 bytes):
 *   0   1  opcode (ProgramOp)
 *   1   1  len: access size 1/2/4/8 (loads, stores, touch = 8), argument count 0..5 (hvc), else 0
 *   2   2  reserved, 0
 *   4   4  imm: hvc function id; control ops: an instruction index (see GuestInstruction)
 *   8   8  a0 \
 *   16  8  a1  |
 *   24  8  a2  | operands (u64); unused ones are 0
 *   32  8  a3  |
 *   40  8  a4 /
 *
 * Reference: DESIGN.md "Guest images"; docs/guest-images.md "Guest programs" (per-opcode table).
 */

import type { AccessLen } from './api.js';
import { hex, view } from '../shared/bytes.js';
import { WireError } from '../shared/wire-error.js';
import { decodeGuestImageHeader, encodeGuestImageHeader, GUEST_IMAGE_MAX_LENGTH } from './image-header.js';

/** Version of the program format we write and accept. */
export const GUEST_PROGRAM_VERSION = 1;
/** Size of the program header in bytes. */
export const GUEST_PROGRAM_HEADER_SIZE = 32;
/** Size of one instruction in bytes. */
export const GUEST_INSN_SIZE = 48;
/** Most arguments (X1..X5) an `hvc` instruction carries. */
export const GUEST_HVC_MAX_ARGS = 5;
/** Most instructions an image may hold (the image length cap of image-header.ts). */
export const GUEST_PROGRAM_MAX_INSNS = Math.floor((GUEST_IMAGE_MAX_LENGTH - GUEST_PROGRAM_HEADER_SIZE) / GUEST_INSN_SIZE);

/** Opcodes (instruction byte 0). */
export const ProgramOp = {
  /** Memory load: a0 = address, len. Result = the value. */
  LOAD: 0x01,
  /** Memory store: a0 = address, a1 = value, len. */
  STORE: 0x02,
  /** Load meant to trap as MMIO: a0 = address, len. Result = the value. */
  MMIO_READ: 0x03,
  /** Store meant to trap as MMIO: a0 = address, a1 = value, len. */
  MMIO_WRITE: 0x04,
  /** Read one 64-bit word at a0 (fault a page in without changing it); len = 8. Result = the value. */
  TOUCH: 0x05,
  /** HVC #0: imm = function id (W0), len = argc, a0.. = X1... Result = X0. */
  HVC: 0x06,
  /** WFI. Result = the waking INTID (0 spurious). */
  WFI: 0x07,
  /** Spin forever. */
  SPIN: 0x08,
  /** Undefined instruction: the vCPU crashes (ESR UNDEFINED). */
  UDF: 0x09,
  /** Compare the last result with a0; a mismatch crashes the vCPU (ProgramEsr.EXPECT_FAILED). */
  EXPECT: 0x0a,
  /** Loop head: a0 = count, imm = index of the matching END_REPEAT. */
  REPEAT: 0x10,
  /** Loop tail: imm = index of the matching REPEAT. */
  END_REPEAT: 0x11,
  /** Unconditional jump: imm = target index (the tail of `forever`). */
  JUMP: 0x12,
  /** Run the block only on vCPU a0: imm = index of the first instruction after the block. */
  IF_CPU: 0x13,
} as const;
export type ProgramOp = (typeof ProgramOp)[keyof typeof ProgramOp];

/** One decoded instruction. Addresses and values are u64 (bigint); indexes are instruction numbers. */
export type GuestInstruction =
  | Readonly<{ op: 'load' | 'mmio-read'; addr: bigint; len: AccessLen }>
  | Readonly<{ op: 'store' | 'mmio-write'; addr: bigint; len: AccessLen; value: bigint }>
  | Readonly<{ op: 'touch'; addr: bigint }>
  | Readonly<{ op: 'hvc'; fn: number; args: readonly bigint[] }>
  | Readonly<{ op: 'wfi' | 'spin' | 'udf' }>
  | Readonly<{ op: 'expect'; value: bigint }>
  /** `end` = index of the matching end-repeat. */
  | Readonly<{ op: 'repeat'; count: bigint; end: number }>
  /** `start` = index of the matching repeat. */
  | Readonly<{ op: 'end-repeat'; start: number }>
  | Readonly<{ op: 'jump'; target: number }>
  /** `skip` = index of the first instruction after the block (may equal the count: end of program). */
  | Readonly<{ op: 'if-cpu'; cpu: number; skip: number }>;

/** A decoded program image. */
export type GuestProgram = Readonly<{ version: number; instructions: readonly GuestInstruction[] }>;

const MAX_U64 = 0xffff_ffff_ffff_ffffn;

function assertU64(v: bigint, what: string): void {
  if (v < 0n || v > MAX_U64) throw new RangeError(`${what} must be a u64, got ${v}`);
}
function assertU32(v: number, what: string): void {
  if (!Number.isInteger(v) || v < 0 || v > 0xffff_ffff) throw new RangeError(`${what} must be a u32, got ${v}`);
}
function assertLen(v: number): asserts v is AccessLen {
  if (v !== 1 && v !== 2 && v !== 4 && v !== 8) throw new RangeError(`access length must be 1, 2, 4 or 8, got ${v}`);
}

/**
 * Encode instructions as a program image.
 * @throws RangeError when a field does not fit or a control index is out of range
 */
export function encodeGuestProgram(instructions: readonly GuestInstruction[]): Uint8Array {
  const n = instructions.length;
  if (n > GUEST_PROGRAM_MAX_INSNS) throw new RangeError(`program has ${n} instructions, at most ${GUEST_PROGRAM_MAX_INSNS}`);
  const length = GUEST_PROGRAM_HEADER_SIZE + n * GUEST_INSN_SIZE;
  const out = new Uint8Array(length);
  encodeGuestImageHeader(out, 'program', GUEST_PROGRAM_VERSION, length);
  const v = view(out);
  v.setUint32(16, n, true);
  v.setUint32(20, GUEST_INSN_SIZE, true);
  const index = (i: number, what: string): number => {
    if (!Number.isInteger(i) || i < 0 || i > n) throw new RangeError(`${what} ${i} out of range 0..${n}`);
    return i;
  };
  for (let i = 0; i < n; i++) {
    const ins = instructions[i]!;
    const o = GUEST_PROGRAM_HEADER_SIZE + i * GUEST_INSN_SIZE;
    let op: ProgramOp;
    let len = 0, imm = 0;
    const a = [0n, 0n, 0n, 0n, 0n];
    switch (ins.op) {
      case 'load':
      case 'mmio-read':
        op = ins.op === 'load' ? ProgramOp.LOAD : ProgramOp.MMIO_READ;
        assertLen(ins.len);
        len = ins.len;
        a[0] = ins.addr;
        break;
      case 'store':
      case 'mmio-write':
        op = ins.op === 'store' ? ProgramOp.STORE : ProgramOp.MMIO_WRITE;
        assertLen(ins.len);
        len = ins.len;
        a[0] = ins.addr;
        a[1] = ins.value;
        break;
      case 'touch':
        op = ProgramOp.TOUCH;
        len = 8;
        a[0] = ins.addr;
        break;
      case 'hvc':
        op = ProgramOp.HVC;
        assertU32(ins.fn, 'hvc function id');
        if (ins.args.length > GUEST_HVC_MAX_ARGS) throw new RangeError(`hvc takes at most ${GUEST_HVC_MAX_ARGS} arguments`);
        len = ins.args.length;
        imm = ins.fn;
        ins.args.forEach((x, k) => (a[k] = x));
        break;
      case 'wfi':
        op = ProgramOp.WFI;
        break;
      case 'spin':
        op = ProgramOp.SPIN;
        break;
      case 'udf':
        op = ProgramOp.UDF;
        break;
      case 'expect':
        op = ProgramOp.EXPECT;
        a[0] = ins.value;
        break;
      case 'repeat':
        op = ProgramOp.REPEAT;
        imm = index(ins.end, 'repeat end');
        a[0] = ins.count;
        break;
      case 'end-repeat':
        op = ProgramOp.END_REPEAT;
        imm = index(ins.start, 'end-repeat start');
        break;
      case 'jump':
        op = ProgramOp.JUMP;
        imm = index(ins.target, 'jump target');
        break;
      case 'if-cpu':
        op = ProgramOp.IF_CPU;
        imm = index(ins.skip, 'if-cpu skip');
        assertU32(ins.cpu, 'if-cpu vCPU index');
        a[0] = BigInt(ins.cpu);
        break;
    }
    out[o] = op;
    out[o + 1] = len;
    v.setUint32(o + 4, imm, true);
    for (let k = 0; k < 5; k++) {
      assertU64(a[k]!, `instruction ${i} operand ${k}`);
      v.setBigUint64(o + 8 + k * 8, a[k]!, true);
    }
  }
  return out;
}

/**
 * Decode a program image. Bytes past the declared image length are ignored (an image sits in
 * guest memory with other data after it).
 * @throws WireError when the header or any instruction is malformed (reason and byte offset)
 */
export function decodeGuestProgram(bytes: Uint8Array): GuestProgram {
  const h = decodeGuestImageHeader(bytes);
  if (h?.kind !== 'program') throw new WireError('bad-value', { what: 'not a guest program image', offset: 0 });
  if (h.version !== GUEST_PROGRAM_VERSION) throw new WireError('bad-value', { what: `guest program version ${h.version}`, offset: 8 });
  if (bytes.byteLength < GUEST_PROGRAM_HEADER_SIZE) throw new WireError('short', { what: 'guest program header', offset: bytes.byteLength });
  const v = view(bytes);
  const n = v.getUint32(16, true);
  if (v.getUint32(20, true) !== GUEST_INSN_SIZE) throw new WireError('bad-value', { what: 'instruction size', offset: 20 });
  if (v.getBigUint64(24, true) !== 0n) throw new WireError('reserved', { what: 'program header', offset: 24 });
  if (h.length !== GUEST_PROGRAM_HEADER_SIZE + n * GUEST_INSN_SIZE) {
    throw new WireError('bad-value', { what: `image length ${h.length} does not match ${n} instructions`, offset: 12 });
  }
  if (bytes.byteLength < h.length) throw new WireError('short', { what: 'guest program', offset: bytes.byteLength });

  const out: GuestInstruction[] = [];
  for (let i = 0; i < n; i++) out.push(decodeInstruction(v, i, n));
  checkControlFlow(out);
  return { version: h.version, instructions: out };
}

function decodeInstruction(v: DataView, i: number, n: number): GuestInstruction {
  const o = GUEST_PROGRAM_HEADER_SIZE + i * GUEST_INSN_SIZE;
  const op = v.getUint8(o);
  const len = v.getUint8(o + 1);
  const imm = v.getUint32(o + 4, true);
  const a = (k: number): bigint => v.getBigUint64(o + 8 + k * 8, true);
  const bad = (what: string, off = 0): WireError => new WireError('bad-value', { what: `instruction ${i}: ${what}`, offset: o + off });
  if (v.getUint16(o + 2, true) !== 0) throw new WireError('reserved', { what: `instruction ${i}`, offset: o + 2 });
  // Operands [used, 5) must be zero; so must len and imm where the opcode does not use them.
  const unused = (used: number, usesLen: boolean, usesImm: boolean): void => {
    if (!usesLen && len !== 0) throw new WireError('reserved', { what: `instruction ${i} len`, offset: o + 1 });
    if (!usesImm && imm !== 0) throw new WireError('reserved', { what: `instruction ${i} imm`, offset: o + 4 });
    for (let k = used; k < 5; k++) if (a(k) !== 0n) throw new WireError('reserved', { what: `instruction ${i} operand ${k}`, offset: o + 8 + k * 8 });
  };
  const accessLen = (): AccessLen => {
    if (len !== 1 && len !== 2 && len !== 4 && len !== 8) throw bad(`access length ${len}`, 1);
    return len;
  };
  const target = (what: string, max: number): number => {
    if (imm > max) throw bad(`${what} ${imm} out of range`, 4);
    return imm;
  };
  switch (op) {
    case ProgramOp.LOAD:
    case ProgramOp.MMIO_READ:
      unused(1, true, false);
      return { op: op === ProgramOp.LOAD ? 'load' : 'mmio-read', addr: a(0), len: accessLen() };
    case ProgramOp.STORE:
    case ProgramOp.MMIO_WRITE:
      unused(2, true, false);
      return { op: op === ProgramOp.STORE ? 'store' : 'mmio-write', addr: a(0), len: accessLen(), value: a(1) };
    case ProgramOp.TOUCH:
      unused(1, true, false);
      if (len !== 8) throw bad(`touch length ${len}`, 1);
      return { op: 'touch', addr: a(0) };
    case ProgramOp.HVC: {
      if (len > GUEST_HVC_MAX_ARGS) throw bad(`hvc argument count ${len}`, 1);
      unused(len, true, true);
      const args: bigint[] = [];
      for (let k = 0; k < len; k++) args.push(a(k));
      return { op: 'hvc', fn: imm, args };
    }
    case ProgramOp.WFI:
      unused(0, false, false);
      return { op: 'wfi' };
    case ProgramOp.SPIN:
      unused(0, false, false);
      return { op: 'spin' };
    case ProgramOp.UDF:
      unused(0, false, false);
      return { op: 'udf' };
    case ProgramOp.EXPECT:
      unused(1, false, false);
      return { op: 'expect', value: a(0) };
    case ProgramOp.REPEAT:
      unused(1, false, true);
      return { op: 'repeat', count: a(0), end: target('repeat end', n - 1) };
    case ProgramOp.END_REPEAT:
      unused(0, false, true);
      return { op: 'end-repeat', start: target('end-repeat start', n - 1) };
    case ProgramOp.JUMP:
      unused(0, false, true);
      return { op: 'jump', target: target('jump target', n - 1) };
    case ProgramOp.IF_CPU: {
      unused(1, false, true);
      const cpu = a(0);
      if (cpu > 0xffff_ffffn) throw bad(`vCPU index ${cpu}`, 8);
      return { op: 'if-cpu', cpu: Number(cpu), skip: target('if-cpu skip', n) };
    }
    default:
      throw bad(`unknown opcode 0x${op.toString(16)}`);
  }
}

/** Loop heads and tails must name each other; blocks only skip forward. */
function checkControlFlow(insns: readonly GuestInstruction[]): void {
  const at = (i: number): number => GUEST_PROGRAM_HEADER_SIZE + i * GUEST_INSN_SIZE + 4;
  insns.forEach((ins, i) => {
    if (ins.op === 'repeat') {
      const tail = insns[ins.end];
      if (ins.end <= i || tail?.op !== 'end-repeat' || tail.start !== i) {
        throw new WireError('bad-value', { what: `instruction ${i}: repeat end ${ins.end} is not its end-repeat`, offset: at(i) });
      }
    } else if (ins.op === 'end-repeat') {
      const head = insns[ins.start];
      if (ins.start >= i || head?.op !== 'repeat' || head.end !== i) {
        throw new WireError('bad-value', { what: `instruction ${i}: end-repeat start ${ins.start} is not its repeat`, offset: at(i) });
      }
    } else if (ins.op === 'if-cpu' && ins.skip <= i) {
      throw new WireError('bad-value', { what: `instruction ${i}: if-cpu skips backwards`, offset: at(i) });
    }
  });
}

/** One instruction as text, for traces and test failure messages. */
export function formatGuestInstruction(ins: GuestInstruction): string {
  switch (ins.op) {
    case 'load':
    case 'mmio-read':
      return `${ins.op} ${hex(ins.addr)} len ${ins.len}`;
    case 'store':
    case 'mmio-write':
      return `${ins.op} ${hex(ins.addr)} len ${ins.len} value ${hex(ins.value)}`;
    case 'touch':
      return `touch ${hex(ins.addr)}`;
    case 'hvc':
      return `hvc ${hex(ins.fn, 8)}(${ins.args.map((x) => hex(x)).join(', ')})`;
    case 'wfi':
    case 'spin':
    case 'udf':
      return ins.op;
    case 'expect':
      return `expect ${hex(ins.value)}`;
    case 'repeat':
      return `repeat ${ins.count} (end @${ins.end})`;
    case 'end-repeat':
      return `end-repeat (start @${ins.start})`;
    case 'jump':
      return `jump @${ins.target}`;
    case 'if-cpu':
      return `if-cpu ${ins.cpu} (else @${ins.skip})`;
  }
}
